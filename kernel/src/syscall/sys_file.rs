//! File system calls: Linux's view of the process's namespace.
//!
//! Paths are looked up in the caller's namespace (`ns.rs`); the file found
//! is a channel on a device, and these calls turn Linux's requests into
//! the device's operations: open, read, write, stat, create, remove,
//! wstat. Descriptors and open file descriptions are in `files.rs`; this
//! file is argument checking, Linux's error order, and copying between
//! guest memory and files.

use super::{path_arg, Args};
use crate::errno::{Errno, SysResult};
use crate::files::*;
use crate::ns::{Chan, MountFlag};
use crate::process::Process;
use devices::perm::{self, MAY_EXEC, MAY_READ, MAY_WRITE};
use devices::{Cred, FileType, OpenMode, Stat, Time, Wstat};
use std::sync::Arc;

pub(super) const AT_FDCWD: u32 = -100i32 as u32;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_REMOVEDIR: u32 = 0x200;
const AT_EACCESS: u32 = 0x200;
const AT_SYMLINK_FOLLOW: u32 = 0x400;
const AT_NO_AUTOMOUNT: u32 = 0x800;
const AT_EMPTY_PATH: u32 = 0x1000;
const AT_STATX_SYNC_TYPE: u32 = 0x6000;

/// The largest file offset for descriptors opened without O_LARGEFILE.
const MAX_NON_LFS: u64 = 0x7fff_ffff;

/// Clip a write of `len` at `pos` to what a descriptor without
/// O_LARGEFILE may write: EFBIG at or past 2 GiB - 1.
fn lfs_clip(flags: u32, pos: u64, len: usize) -> SysResult<usize> {
    if flags & O_LARGEFILE != 0 {
        return Ok(len);
    }
    if pos >= MAX_NON_LFS {
        return Err(Errno::EFBIG);
    }
    Ok(len.min((MAX_NON_LFS - pos) as usize))
}

/// Largest single transfer, as Linux caps read and write.
const MAX_RW: usize = 0x7fff_f000;
/// Largest transfer staged through a kernel buffer at once.
const CHUNK: usize = 1 << 20;

// ---------------------------------------------------------------------
// Looking paths up.

/// A path argument as text (names are UTF-8 in vxos's devices).
/// A path from the guest as the namespace names it (bytes that are not
/// UTF-8 are escaped: see devices::names).
fn text(name: &[u8]) -> SysResult<std::borrow::Cow<'_, str>> {
    Ok(devices::names::decode(name))
}

/// The channel of a descriptor opened for I/O (not O_PATH), for calls
/// that change the file: EBADF otherwise.
fn fd_chan_io(p: &Process, fd: u32) -> SysResult<Chan> {
    let f = p.files.file(fd)?;
    let f = f.borrow();
    match f.open() {
        Some(o) if f.flags & O_PATH == 0 => Ok(o.chan.clone()),
        _ => Err(Errno::EBADF),
    }
}

/// The channel a descriptor holds, for *at calls and f* calls.
fn fd_chan(p: &Process, fd: u32) -> SysResult<Chan> {
    let f = p.files.file(fd)?;
    let f = f.borrow();
    match f.open() {
        Some(o) => Ok(o.chan.clone()),
        None => Err(Errno::ENOTDIR),
    }
}

/// Where a relative path of a *at call starts.
fn start(p: &Process, dirfd: u32, name: &str) -> SysResult<Chan> {
    if name.starts_with('/') {
        return Ok(p.ns.root());
    }
    if dirfd == AT_FDCWD {
        return Ok(p.cwd.clone());
    }
    let c = fd_chan(p, dirfd)?;
    if !c.qid.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(c)
}

/// Look a path up as Linux's namei does.
fn lookup(p: &Process, dirfd: u32, name: &[u8], follow: bool) -> SysResult<Chan> {
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    let s = text(name)?;
    let base = start(p, dirfd, &s)?;
    Ok(p.ns.namei(&base, &s, follow)?)
}

/// Look a path up, or take the descriptor itself for an empty path with
/// AT_EMPTY_PATH.
fn lookup_at(p: &mut Process, dirfd: u32, path: u32, flags: u32, follow: bool) -> SysResult<Chan> {
    let name = path_arg(p, path)?;
    if name.is_empty() && flags & AT_EMPTY_PATH != 0 {
        if dirfd == AT_FDCWD {
            return Ok(p.cwd.clone());
        }
        let f = p.files.file(dirfd)?;
        let f = f.borrow();
        return match f.open() {
            Some(o) => Ok(o.chan.clone()),
            None => Err(Errno::EBADF),
        };
    }
    lookup(p, dirfd, &name, follow)
}

/// Find the directory that holds a path's last element, and the element.
fn parent(p: &Process, dirfd: u32, name: &[u8]) -> SysResult<(Chan, String)> {
    let s = text(name)?;
    if s.is_empty() {
        return Err(Errno::ENOENT);
    }
    let base = start(p, dirfd, &s)?;
    Ok(p.ns.namei_parent(&base, &s)?)
}

/// Describe the file a channel is on.
fn stat_of(c: &Chan) -> SysResult<Stat> {
    Ok(c.dev.stat(c.qid)?)
}

/// Check the caller may change entries of directory `dir` (write and
/// search permission), and, for a sticky directory, entry `victim`.
fn may_change(p: &Process, dir: &Chan, victim: Option<&Chan>) -> SysResult<()> {
    let cred = p.cred();
    if dir.dev.read_only() {
        return Err(Errno::EROFS);
    }
    if cred.uid == 0 {
        return Ok(());
    }
    let ds = stat_of(dir)?;
    perm::check(&ds, cred, MAY_WRITE | MAY_EXEC)?;
    if let Some(v) = victim {
        let vs = stat_of(v)?;
        if ds.perm & 0o1000 != 0 && vs.uid != cred.uid && ds.uid != cred.uid {
            return Err(Errno::EPERM);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------
// Opening and closing.

/// Open a channel for `flags` (an O_ access mode and O_TRUNC).
pub fn open_chan(chan: Chan, flags: u32, cred: Cred) -> SysResult<Open> {
    let acc = flags & O_ACCMODE;
    // Access mode 3 is Linux's "neither": no I/O, but both permissions.
    let mode = OpenMode {
        read: acc != O_WRONLY,
        write: acc != 0,
        truncate: flags & O_TRUNC != 0 && chan.qid.kind == FileType::File,
        append: flags & O_APPEND != 0,
    };
    if (mode.write || mode.truncate) && chan.dev.read_only() && chan.qid.kind != FileType::CharDev {
        return Err(Errno::EROFS);
    }
    let q = chan.dev.open(chan.qid, mode, cred)?;
    let chan = Chan { qid: q, ..chan };
    let host = match chan.dev.host_file(q, mode) {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            chan.dev.clunk(q);
            return Err(e.into());
        }
        None => None,
    };
    Ok(Open { chan, host, opened: true })
}

fn do_open(p: &mut Process, dirfd: u32, path: u32, flags: u32, mode: u32) -> SysResult {
    let name = path_arg(p, path)?;
    if flags & O_TMPFILE == O_TMPFILE {
        return Err(Errno::EOPNOTSUPP);
    }
    let cred = p.cred();
    let creat = flags & O_CREAT != 0 && flags & O_PATH == 0;
    let follow = flags & O_NOFOLLOW == 0 && !(creat && flags & O_EXCL != 0);
    let (chan, created) = match lookup(p, dirfd, &name, follow) {
        Ok(c) if creat && flags & O_EXCL != 0 => {
            let _ = c;
            return Err(Errno::EEXIST);
        }
        Ok(c) => (c, false),
        Err(Errno::ENOENT) if creat => {
            let (mut dir, mut last) = parent(p, dirfd, &name)?;
            if name.ends_with(b"/") {
                return Err(Errno::EISDIR);
            }
            // A dangling link names the file to make (unless O_NOFOLLOW).
            let mut hops = 0;
            while let Ok(l) = p.ns.walk1(&dir, &last) {
                if l.qid.kind != FileType::Symlink || !follow {
                    return Err(if l.qid.kind == FileType::Symlink { Errno::ELOOP } else { Errno::ENOENT });
                }
                hops += 1;
                if hops > crate::ns::MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = l.dev.readlink(l.qid)?;
                let (d, n) = p.ns.namei_parent(&dir, &target)?;
                (dir, last) = (d, n);
            }
            may_change(p, &dir, None)?;
            let target = p.ns.create_target(&dir)?;
            let q = target.dev.create(target.qid, &last, FileType::File, mode & !p.umask & 0o7777, cred)?;
            let mut path = dir.path.clone();
            path.push(last);
            (Chan { dev: target.dev, qid: q, path }, true)
        }
        Err(e) => return Err(e),
    };
    if flags & O_DIRECTORY != 0 && !chan.qid.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if let (Some((pid, fd)), true) = (crate::devproc::fd_link(&*chan.dev, chan.qid), follow && flags & O_PATH == 0) {
        return reopen(p, pid, fd, flags);
    }
    if chan.qid.kind == FileType::Symlink && flags & O_PATH == 0 {
        return Err(Errno::ELOOP);
    }
    if chan.qid.is_dir() && creat {
        return Err(Errno::EISDIR);
    }
    let keep = flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);
    let open = if flags & O_PATH != 0 {
        Open { chan, host: None, opened: false }
    } else {
        // A file just made is opened whatever its mode says, as O_CREAT does.
        let who = if created { Cred::ROOT } else { cred };
        if (chan.qid.kind == FileType::Fifo || chan.qid.kind == FileType::Socket) && !created {
            return Err(Errno::ENXIO);
        }
        let open = open_chan(chan, flags, who)?;
        // Without O_LARGEFILE a file must fit a 32-bit off_t.
        if flags & O_LARGEFILE == 0 && open.chan.qid.kind == FileType::File && open.stat()?.size > MAX_NON_LFS {
            return Err(Errno::EOVERFLOW);
        }
        open
    };
    if open.opened && open.chan.dev.dc() == 'c' && open.chan.qid.path == devices::cons::QPTMX {
        // /dev/ptmx: a new pseudo-terminal, its master.
        let tty = crate::tty::open_master()?;
        return p.files.install(OpenFile { obj: Object::PtyMaster(tty), flags: keep, pos: 0 }, flags & O_CLOEXEC != 0);
    }
    if open.opened && open.chan.dev.dc() == 't' {
        if let Some(n) = crate::devpts::number(open.chan.qid) {
            // /dev/pts/N: the pty's slave.
            let tty = crate::tty::slave(n)?;
            tty.opened(p, flags & O_NOCTTY != 0)?;
            return p.files.install(OpenFile { obj: Object::Tty(tty), flags: keep, pos: 0 }, flags & O_CLOEXEC != 0);
        }
    }
    if open.opened && open.chan.dev.dc() == 'c' {
        if let Some(tty) = crate::tty::console() {
            // The console device's files are the terminal (`vxos boot`).
            let noctty = flags & O_NOCTTY != 0;
            tty.opened(p, noctty)?;
            return p.files.install(OpenFile { obj: Object::Tty(tty), flags: keep, pos: 0 }, flags & O_CLOEXEC != 0);
        }
    }
    if let Some((pid, kind)) = crate::devproc::live_file(&*open.chan.dev, open.chan.qid) {
        crate::procview::fill(p, pid, kind);
    }
    p.files.install(OpenFile::chan(open, keep), flags & O_CLOEXEC != 0)
}

/// Open /proc/N/fd/M of a pipe or another file that has no path: a new
/// description of the same object, as Linux's open of that link makes
/// (only a process's own descriptors, or those of processes sharing its
/// table, are at hand).
fn reopen(p: &mut Process, pid: u32, fd: u32, flags: u32) -> SysResult {
    let same = pid == p.pid
        || crate::devproc::entry(pid).and_then(|e| e.fds).is_some_and(|v| Arc::ptr_eq(&v, &p.files.view()));
    if !same {
        return Err(Errno::EACCES);
    }
    let file = p.files.file(fd).map_err(|_| Errno::ENOENT)?;
    let keep = flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);
    let obj = match &file.clone().borrow().obj {
        Object::Pipe(e) => {
            let write = match flags & O_ACCMODE {
                0 => false,
                O_WRONLY => true,
                _ => return Err(Errno::EINVAL),
            };
            Object::Pipe(crate::pipe::End::open(&e.pipe(), write))
        }
        Object::Tty(t) => Object::Tty(t.clone()),
        _ => {
            // Anything else shares the description, as a dup would.
            return p.files.dup_min(fd, 0, flags & O_CLOEXEC != 0);
        }
    };
    p.files.install(OpenFile { obj, flags: keep, pos: 0 }, flags & O_CLOEXEC != 0)
}

/// open(2).
pub fn open(p: &mut Process, a: Args) -> SysResult {
    do_open(p, AT_FDCWD, a[0], a[1], a[2])
}

/// openat(2).
pub fn openat(p: &mut Process, a: Args) -> SysResult {
    do_open(p, a[0], a[1], a[2], a[3])
}

/// creat(2).
pub fn creat(p: &mut Process, a: Args) -> SysResult {
    do_open(p, AT_FDCWD, a[0], O_CREAT | O_WRONLY | O_TRUNC, a[1])
}

/// close(2): also drops the process's record locks on the file, as
/// closing any descriptor of a file does on Linux.
pub fn close(p: &mut Process, a: Args) -> SysResult {
    let key = lock_key(&p.files.file(a[0])?.borrow());
    p.files.close(a[0])?;
    if let Ok(k) = key {
        crate::locks::release(Some(k), crate::locks::Owner::Process(p.pid));
    }
    Ok(0)
}

// ---------------------------------------------------------------------
// Reading and writing.

/// Read up to `len` bytes at the description's offset (or `at`) into
/// guest memory at `buf`.
fn read_into(p: &mut Process, fd: u32, buf: u32, len: usize, at: Option<u64>) -> SysResult<usize> {
    let file = p.files.file(fd)?;
    if !file.borrow().readable() {
        return Err(Errno::EBADF);
    }
    let len = len.min(MAX_RW);
    if let Object::Chan { open, .. } = &file.borrow().obj {
        if open.chan.qid.is_dir() {
            return Err(Errno::EISDIR);
        }
    }
    if super::sys_evfd::is_event_file(&file.borrow()) {
        if at.is_some() {
            return Err(Errno::ESPIPE);
        }
        return super::sys_evfd::read(p, &file, buf, len);
    }
    if let Some((tty, nb, master)) = tty_of(&file.borrow()) {
        if at.is_some() {
            return Err(Errno::ESPIPE);
        }
        p.ucheck_write(buf, len.min(CHUNK))?;
        let data = if master { tty.master_read(p, len.min(CHUNK), nb)? } else { tty.read(p, len.min(CHUNK), nb)? };
        p.uwrite(buf, &data)?;
        return Ok(data.len());
    }
    let piped = pipe_of(&file.borrow());
    if let Some((pipe, nb)) = piped {
        if at.is_some() {
            return Err(Errno::ESPIPE);
        }
        return pipe_read(p, &pipe, nb, buf, len);
    }
    let sock = socket_of(&file.borrow());
    if let Some((s, nb)) = sock {
        if at.is_some() {
            return Err(Errno::ESPIPE);
        }
        return super::sys_socket::read(p, &s, nb, &[(buf, len.min(CHUNK) as u32)]);
    }
    if len == 0 {
        return Ok(0);
    }
    let len = len.min(CHUNK);
    wait_for_host_input(p, &file)?;
    p.ucheck_write(buf, len)?;
    let f = file.borrow();
    let pos = at.unwrap_or(f.pos);
    let n = match &f.obj {
        Object::Pipe(_)
        | Object::Tty(_)
        | Object::PtyMaster(_)
        | Object::EventFd(_)
        | Object::TimerFd(_)
        | Object::SignalFd(_)
        | Object::Epoll(_)
        | Object::Socket(_) => unreachable!("pipes, terminals and event files and sockets are read above"),
        Object::Stdio(h) => {
            use std::os::fd::AsFd;
            p.guest.read_fd(h.as_fd(), buf, len, at)?
        }
        Object::Chan { open, .. } => match &open.host {
            Some(h) => {
                use std::os::fd::AsFd;
                p.guest.read_fd(h.as_fd(), buf, len, Some(pos))?
            }
            None => {
                let mut tmp = vec![0u8; len];
                let n = open.read_at(&mut tmp, pos)?;
                p.guest.write(buf, &tmp[..n])?;
                n
            }
        },
    };
    drop(f);
    if at.is_none() {
        let mut f = file.borrow_mut();
        if let Object::Chan { .. } = f.obj {
            f.pos = pos + n as u64;
        }
    }
    Ok(n)
}

/// Until a host stream (a terminal or pipe vxos was given) has input, let
/// other tasks run: look again every 10 ms, as the vCPU must never block
/// in a host read while guest tasks could run. (T5's console brings an
/// event source.) Non-blocking descriptors and regular files go straight
/// to the read.
fn wait_for_host_input(p: &mut Process, file: &std::rc::Rc<std::cell::RefCell<OpenFile>>) -> SysResult<()> {
    use rustix::event::{poll, PollFd, PollFlags};
    loop {
        {
            let f = file.borrow();
            let Object::Stdio(h) = &f.obj else { return Ok(()) };
            if f.flags & O_NONBLOCK != 0 || h.metadata().is_ok_and(|m| m.is_file()) {
                return Ok(());
            }
            let mut fds = [PollFd::new(h, PollFlags::IN)];
            if poll(&mut fds, 0).map_or(true, |n| n > 0) {
                return Ok(());
            }
        }
        if p.signal_interrupts() {
            return Err(Errno::EINTR);
        }
        let chan = 0x5354_4449_0000_0000 | p.tid as u64;
        crate::timers::wake_at(std::time::Instant::now() + std::time::Duration::from_millis(10), chan);
        crate::sched::sleep(chan);
    }
}

/// Write `len` bytes from guest memory to a pipe or a stream socket a
/// CHUNK at a time: a blocking write goes on until all is written, as
/// Linux's does; a short chunk (non-blocking, a signal, the reader gone)
/// ends it with what was written, and an error after some data is that
/// count.
fn in_chunks(
    p: &mut Process,
    buf: u32,
    len: usize,
    mut put: impl FnMut(&mut Process, &[u8]) -> SysResult<usize>,
) -> SysResult<usize> {
    let mut done = 0;
    while done < len {
        let n = (len - done).min(CHUNK);
        let at = buf.wrapping_add(done as u32);
        let mut data = vec![0u8; n];
        let r =
            p.mm.populate(&mut p.guest, at, n as u64, crate::mm::fault::Access::Read)
                .map_err(|_| Errno::EFAULT)
                .and_then(|_| Ok(p.guest.read(at, &mut data)?))
                .and_then(|_| put(p, &data));
        match r {
            Ok(k) => {
                done += k;
                if k < n {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// Write `len` bytes of guest memory at `buf` at the description's offset
/// (its end with O_APPEND, or `at`).
fn write_from(p: &mut Process, fd: u32, buf: u32, len: usize, at: Option<u64>) -> SysResult<usize> {
    let file = p.files.file(fd)?;
    if !file.borrow().writable() {
        return Err(Errno::EBADF);
    }
    if let Object::Chan { open, .. } = &file.borrow().obj {
        if open.chan.qid.is_dir() {
            return Err(Errno::EISDIR);
        }
    }
    let full = len.min(MAX_RW);
    let len = len.min(CHUNK);
    if len == 0 {
        return Ok(0);
    }
    p.mm.populate(&mut p.guest, buf, len as u64, crate::mm::fault::Access::Read).map_err(|_| Errno::EFAULT)?;
    if let Some((tty, _, master)) = tty_of(&file.borrow()) {
        let mut data = vec![0u8; len];
        p.guest.read(buf, &mut data)?;
        return if master { tty.master_write(&data) } else { tty.write(p, &data) };
    }
    if super::sys_evfd::is_event_file(&file.borrow()) {
        if at.is_some() {
            return Err(Errno::ESPIPE);
        }
        let mut data = vec![0u8; len];
        p.guest.read(buf, &mut data)?;
        return super::sys_evfd::write(p, &file, &data);
    }
    let piped = pipe_of(&file.borrow());
    if let Some((pipe, nb)) = piped {
        if at.is_some() {
            return Err(Errno::ESPIPE);
        }
        return in_chunks(p, buf, full, |p, data| pipe_write(p, &pipe, nb, data));
    }
    let sock = socket_of(&file.borrow());
    if let Some((s, nb)) = sock {
        if at.is_some() {
            return Err(Errno::ESPIPE);
        }
        if s.kind() != crate::socket::Kind::Stream {
            let mut data = vec![0u8; len];
            p.guest.read(buf, &mut data)?;
            let r = super::sys_socket::write(p, &s, nb, &data);
            return finish_write(p, r);
        }
        return in_chunks(p, buf, full, |p, data| {
            let r = super::sys_socket::write(p, &s, nb, data);
            finish_write(p, r)
        });
    }
    if let Some(open) = file.borrow().open() {
        if let Some(pid) = crate::devproc::ns_file(&*open.chan.dev, open.chan.qid) {
            let mut text = vec![0u8; len];
            p.guest.read(buf, &mut text)?;
            return ns_ctl(p, pid, &text).map(|_| len);
        }
    }
    let f = file.borrow();
    let append = f.flags & O_APPEND != 0;
    let r = match &f.obj {
        Object::Pipe(_)
        | Object::Tty(_)
        | Object::PtyMaster(_)
        | Object::EventFd(_)
        | Object::TimerFd(_)
        | Object::SignalFd(_)
        | Object::Epoll(_)
        | Object::Socket(_) => unreachable!("pipes, terminals and event files and sockets are written above"),
        Object::Stdio(h) => {
            use std::os::fd::AsFd;
            p.guest.write_fd(h.as_fd(), buf, len, at).map_err(Errno::from)
        }
        Object::Chan { open, .. } => {
            // Linux appends even pwrite's data to an O_APPEND file.
            let pos = match at {
                _ if append => open.stat()?.size,
                Some(o) => o,
                None => f.pos,
            };
            let len = lfs_clip(f.flags, pos, len)?;
            let r = match &open.host {
                Some(h) => {
                    use std::os::fd::AsFd;
                    p.guest.write_fd(h.as_fd(), buf, len, Some(pos)).map_err(Errno::from)
                }
                None => {
                    let mut tmp = vec![0u8; len];
                    p.guest.read(buf, &mut tmp)?;
                    open.write_at(&tmp, pos)
                }
            };
            if let (Ok(n), None) = (&r, at) {
                let end = pos + *n as u64;
                drop(f);
                file.borrow_mut().pos = end;
                return finish_write(p, r);
            }
            r
        }
    };
    drop(f);
    finish_write(p, r)
}

/// The terminal a description is open on, whether it is non-blocking, and
/// whether it is a pseudo-terminal's master.
fn tty_of(f: &OpenFile) -> Option<(std::sync::Arc<crate::tty::Tty>, bool, bool)> {
    let nb = f.flags & O_NONBLOCK != 0;
    match &f.obj {
        Object::Tty(t) => Some((t.clone(), nb, false)),
        Object::PtyMaster(t) => Some((t.clone(), nb, true)),
        _ => None,
    }
}

/// The socket a description is open on, and whether it is non-blocking.
fn socket_of(f: &OpenFile) -> Option<(crate::socket::Socket, bool)> {
    match &f.obj {
        Object::Socket(s) => Some((s.socket(), f.flags & O_NONBLOCK != 0)),
        _ => None,
    }
}

/// The pipe a description is an end of, and whether it is non-blocking.
fn pipe_of(f: &OpenFile) -> Option<(crate::pipe::Pipe, bool)> {
    match &f.obj {
        Object::Pipe(e) => Some((e.pipe(), f.flags & O_NONBLOCK != 0)),
        _ => None,
    }
}

/// Read from a pipe into guest memory.
fn pipe_read(p: &mut Process, pipe: &crate::pipe::Pipe, nb: bool, buf: u32, len: usize) -> SysResult<usize> {
    let len = len.min(CHUNK);
    if len > 0 {
        p.ucheck_write(buf, len)?;
    }
    let data = {
        let me = &*p;
        pipe.read(len, nb, &mut || me.signal_interrupts())?
    };
    // The wait may have let another thread change the mappings: fault the
    // pages in again as the copy goes.
    p.uwrite(buf, &data)?;
    Ok(data.len())
}

/// Write to a pipe (EPIPE raises SIGPIPE).
fn pipe_write(p: &mut Process, pipe: &crate::pipe::Pipe, nb: bool, data: &[u8]) -> SysResult<usize> {
    let r = {
        let me = &*p;
        pipe.write(data, nb, &mut || me.signal_interrupts())
    };
    finish_write(p, r)
}

/// A write to /proc/N/ns: namespace commands for the writer's own
/// namespace (see `nsboot::apply`).
fn ns_ctl(p: &mut Process, pid: u32, text: &[u8]) -> SysResult<()> {
    if pid != p.pid {
        return Err(Errno::EACCES);
    }
    let text = std::str::from_utf8(text).map_err(|_| Errno::EINVAL)?;
    let cwd = p.cwd.clone();
    let r = crate::nsboot::apply(&mut p.ns.write(), &cwd, text);
    // The working directory keeps its path, now seen through the new namespace.
    if let Ok(c) = p.ns.walk_from_root(&p.cwd.path) {
        p.set_cwd(c);
    }
    Ok(r?)
}

/// A write to a pipe nobody reads raises SIGPIPE, as well as EPIPE.
fn finish_write(p: &mut Process, r: SysResult<usize>) -> SysResult<usize> {
    if r == Err(Errno::EPIPE) {
        p.post_signal(13);
    }
    r
}

/// read(2).
pub fn read(p: &mut Process, a: Args) -> SysResult {
    Ok(read_into(p, a[0], a[1], a[2] as usize, None)? as u32)
}

/// write(2).
pub fn write(p: &mut Process, a: Args) -> SysResult {
    Ok(write_from(p, a[0], a[1], a[2] as usize, None)? as u32)
}

fn offset64(lo: u32, hi: u32) -> SysResult<u64> {
    let off = (lo as u64 | (hi as u64) << 32) as i64;
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(off as u64)
}

/// Check a descriptor supports positioned I/O (not a pipe).
fn seekable(p: &Process, fd: u32) -> SysResult<()> {
    let f = p.files.file(fd)?;
    let f = f.borrow();
    if let Object::Stdio(h) = &f.obj {
        if rustix::fs::seek(h, rustix::fs::SeekFrom::Current(0)).is_err() {
            return Err(Errno::ESPIPE);
        }
    }
    Ok(())
}

/// pread64(2).
pub fn pread64(p: &mut Process, a: Args) -> SysResult {
    let off = offset64(a[3], a[4])?;
    p.files.file(a[0])?;
    seekable(p, a[0])?;
    Ok(read_into(p, a[0], a[1], a[2] as usize, Some(off))? as u32)
}

/// pwrite64(2).
pub fn pwrite64(p: &mut Process, a: Args) -> SysResult {
    let off = offset64(a[3], a[4])?;
    p.files.file(a[0])?;
    seekable(p, a[0])?;
    Ok(write_from(p, a[0], a[1], a[2] as usize, Some(off))? as u32)
}

pub(super) fn iovecs(p: &mut Process, iov: u32, cnt: u32) -> SysResult<Vec<(u32, u32)>> {
    if cnt > 1024 {
        return Err(Errno::EINVAL);
    }
    let mut v = Vec::with_capacity(cnt as usize);
    let mut total = 0u64;
    for k in 0..cnt {
        let base = p.read_u32(iov.wrapping_add(8 * k))?;
        let len = p.read_u32(iov.wrapping_add(8 * k + 4))?;
        total += len as u64;
        if len > i32::MAX as u32 || total > i32::MAX as u64 {
            return Err(Errno::EINVAL);
        }
        v.push((base, len));
    }
    Ok(v)
}

fn do_readv(p: &mut Process, fd: u32, iov: u32, cnt: u32, mut at: Option<u64>) -> SysResult {
    let file = p.files.file(fd)?;
    if !file.borrow().readable() {
        return Err(Errno::EBADF);
    }
    let vecs = iovecs(p, iov, cnt)?;
    let sock = socket_of(&file.borrow());
    if let Some((s, nb)) = sock {
        if at.is_some() {
            return Err(Errno::ESPIPE);
        }
        return Ok(super::sys_socket::read(p, &s, nb, &vecs)? as u32);
    }
    let piped = pipe_of(&file.borrow());
    if let Some((pipe, nb)) = piped {
        // One read, spread over the buffers: a pipe never waits for more.
        let want: usize = vecs.iter().map(|v| v.1 as usize).sum();
        for &(base, len) in &vecs {
            p.ucheck_write(base, len as usize)?;
        }
        let data = {
            let me = &*p;
            pipe.read(want.min(CHUNK), nb, &mut || me.signal_interrupts())?
        };
        let mut off = 0;
        for (base, len) in vecs {
            let n = (len as usize).min(data.len() - off);
            p.uwrite(base, &data[off..off + n])?;
            off += n;
        }
        return Ok(data.len() as u32);
    }
    let mut total = 0u32;
    for (base, len) in vecs {
        if len == 0 {
            continue;
        }
        let n = match read_into(p, fd, base, len as usize, at) {
            Ok(n) => n as u32,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        total += n;
        at = at.map(|o| o + n as u64);
        if n < len {
            break;
        }
    }
    Ok(total)
}

fn do_writev(p: &mut Process, fd: u32, iov: u32, cnt: u32, at: Option<u64>) -> SysResult {
    let file = p.files.file(fd)?;
    if !file.borrow().writable() {
        return Err(Errno::EBADF);
    }
    // Gather first, so the write is one (atomic for pipes and O_APPEND).
    let mut data = Vec::new();
    for (base, len) in iovecs(p, iov, cnt)? {
        let start = data.len();
        data.resize(start + len as usize, 0);
        p.uread(base, &mut data[start..])?;
    }
    if data.is_empty() {
        return Ok(0);
    }
    if let Some((tty, _, master)) = tty_of(&file.borrow()) {
        let n = if master { tty.master_write(&data)? } else { tty.write(p, &data)? };
        return Ok(n as u32);
    }
    if super::sys_evfd::is_event_file(&file.borrow()) {
        return Ok(super::sys_evfd::write(p, &file, &data)? as u32);
    }
    let piped = pipe_of(&file.borrow());
    if let Some((pipe, nb)) = piped {
        return Ok(pipe_write(p, &pipe, nb, &data)? as u32);
    }
    let sock = socket_of(&file.borrow());
    if let Some((s, nb)) = sock {
        if at.is_some() {
            return Err(Errno::ESPIPE);
        }
        let r = super::sys_socket::write(p, &s, nb, &data);
        return Ok(finish_write(p, r)? as u32);
    }
    let mut f = file.borrow_mut();
    let append = f.flags & O_APPEND != 0;
    let r = match &f.obj {
        Object::Pipe(_)
        | Object::Tty(_)
        | Object::PtyMaster(_)
        | Object::EventFd(_)
        | Object::TimerFd(_)
        | Object::SignalFd(_)
        | Object::Epoll(_)
        | Object::Socket(_) => unreachable!("pipes, terminals and event files and sockets are written above"),
        Object::Stdio(h) => {
            use std::io::Write;
            let mut h: &std::fs::File = h;
            match at {
                Some(o) => std::os::unix::fs::FileExt::write_at(h, &data, o).map_err(Errno::from),
                None => h.write(&data).map_err(Errno::from),
            }
        }
        Object::Chan { open, .. } => {
            let pos = match at {
                _ if append => open.stat()?.size,
                Some(o) => o,
                None => f.pos,
            };
            let n = lfs_clip(f.flags, pos, data.len())?;
            let r = open.write_at(&data[..n], pos);
            if let (Ok(n), None) = (&r, at) {
                let end = pos + *n as u64;
                f.pos = end;
            }
            r
        }
    };
    drop(f);
    Ok(finish_write(p, r)? as u32)
}

/// readv(2).
pub fn readv(p: &mut Process, a: Args) -> SysResult {
    do_readv(p, a[0], a[1], a[2], None)
}

/// writev(2).
pub fn writev(p: &mut Process, a: Args) -> SysResult {
    do_writev(p, a[0], a[1], a[2], None)
}

/// preadv(2): the offset in two registers.
pub fn preadv(p: &mut Process, a: Args) -> SysResult {
    let off = offset64(a[3], a[4])?;
    seekable(p, a[0])?;
    do_readv(p, a[0], a[1], a[2], Some(off))
}

/// pwritev(2).
pub fn pwritev(p: &mut Process, a: Args) -> SysResult {
    let off = offset64(a[3], a[4])?;
    seekable(p, a[0])?;
    do_writev(p, a[0], a[1], a[2], Some(off))
}

/// sendfile64(2): copy between descriptors through a kernel buffer; with
/// an offset pointer, read the source there and leave its offset alone.
pub fn sendfile64(p: &mut Process, a: Args) -> SysResult {
    let offp = a[2];
    let off = if offp != 0 {
        let mut b = [0u8; 8];
        p.uread(offp, &mut b)?;
        Some(u64::try_from(i64::from_le_bytes(b)).map_err(|_| Errno::EINVAL)?)
    } else {
        None
    };
    let (n, end) = do_sendfile(p, a[0], a[1], off, a[3] as usize)?;
    if let Some(end) = end {
        p.uwrite(offp, &(end as i64).to_le_bytes())?;
    }
    Ok(n)
}

/// sendfile(2): the offset pointer is to 32 bits.
pub fn sendfile(p: &mut Process, a: Args) -> SysResult {
    let offp = a[2];
    let off = if offp != 0 {
        let o = p.read_u32(offp)? as i32;
        Some(u64::try_from(o).map_err(|_| Errno::EINVAL)?)
    } else {
        None
    };
    let (n, end) = do_sendfile(p, a[0], a[1], off, a[3] as usize)?;
    if let Some(end) = end {
        p.write_u32(offp, end as u32)?;
    }
    Ok(n)
}

/// Copy up to `count` bytes from `inp` (at `off`, or its offset) to `out`;
/// return how many and, with `off`, the offset after them.
fn do_sendfile(p: &mut Process, out: u32, inp: u32, off: Option<u64>, count: usize) -> SysResult<(u32, Option<u64>)> {
    let src = p.files.file(inp)?;
    let dst = p.files.file(out)?;
    if !src.borrow().readable() || !dst.borrow().writable() {
        return Err(Errno::EBADF);
    }
    let count = count.min(CHUNK);
    wait_for_host_input(p, &src)?;
    let mut buf = vec![0u8; count];
    // Pipes may sleep: no description is borrowed while they do (another
    // task may share it).
    let src_pipe = pipe_of(&src.borrow());
    let dst_pipe = pipe_of(&dst.borrow());
    let n = if let Some((pipe, nb)) = src_pipe {
        if off.is_some() {
            return Err(Errno::ESPIPE);
        }
        let me = &*p;
        let data = pipe.read(count, nb, &mut || me.signal_interrupts())?;
        buf[..data.len()].copy_from_slice(&data);
        data.len()
    } else {
        let mut s = src.borrow_mut();
        let pos = off.unwrap_or(s.pos);
        let n = match &s.obj {
            Object::Pipe(_) => unreachable!("pipes are read above"),
            Object::Tty(_)
            | Object::PtyMaster(_)
            | Object::EventFd(_)
            | Object::TimerFd(_)
            | Object::SignalFd(_)
            | Object::Epoll(_)
            | Object::Socket(_) => return Err(Errno::EINVAL),
            Object::Chan { open, .. } => open.read_at(&mut buf, pos)?,
            Object::Stdio(h) => {
                use std::io::Read;
                let mut h: &std::fs::File = h;
                h.read(&mut buf)?
            }
        };
        if off.is_none() {
            if let Object::Chan { .. } = s.obj {
                s.pos = pos + n as u64;
            }
        }
        n
    };
    let written = if let Some((pipe, nb)) = dst_pipe {
        let me = &*p;
        pipe.write(&buf[..n], nb, &mut || me.signal_interrupts())
    } else {
        let mut d = dst.borrow_mut();
        let append = d.flags & O_APPEND != 0;
        match &d.obj {
            Object::Pipe(_) => unreachable!("pipes are written above"),
            Object::EventFd(_) | Object::TimerFd(_) | Object::SignalFd(_) | Object::Epoll(_) => Err(Errno::EINVAL),
            Object::Tty(t) => {
                let t = t.clone();
                drop(d);
                t.write(p, &buf[..n])
            }
            Object::PtyMaster(t) => {
                let t = t.clone();
                drop(d);
                t.master_write(&buf[..n])
            }
            Object::Socket(s) => {
                let (s, nb) = (s.socket(), d.flags & O_NONBLOCK != 0);
                drop(d);
                super::sys_socket::write(p, &s, nb, &buf[..n])
            }
            Object::Stdio(h) => {
                use std::io::Write;
                let mut h: &std::fs::File = h;
                h.write_all(&buf[..n]).map(|_| n).map_err(Errno::from)
            }
            Object::Chan { open, .. } => {
                let pos = if append { open.stat()?.size } else { d.pos };
                let r = open.write_at(&buf[..n], pos);
                if let Ok(k) = r {
                    d.pos = pos + k as u64;
                }
                r
            }
        }
    };
    let written = finish_write(p, written)?;
    Ok((written as u32, off.map(|o| o + written as u64)))
}

// ---------------------------------------------------------------------
// Seeking.

const SEEK_SET: u32 = 0;
const SEEK_CUR: u32 = 1;
const SEEK_END: u32 = 2;
const SEEK_DATA: u32 = 3;
const SEEK_HOLE: u32 = 4;

fn do_seek(p: &mut Process, fd: u32, off: i64, whence: u32) -> SysResult<u64> {
    let file = p.files.file(fd)?;
    let mut f = file.borrow_mut();
    let (size, is_dir) = match &f.obj {
        Object::Pipe(_) | Object::Tty(_) | Object::PtyMaster(_) | Object::Socket(_) => return Err(Errno::ESPIPE),
        // Linux's noop_llseek: the offset stays where it is.
        Object::EventFd(_) | Object::TimerFd(_) | Object::SignalFd(_) | Object::Epoll(_) => return Ok(f.pos),
        Object::Stdio(h) => {
            let w = match whence {
                SEEK_SET => rustix::fs::SeekFrom::Start(u64::try_from(off).map_err(|_| Errno::EINVAL)?),
                SEEK_CUR => rustix::fs::SeekFrom::Current(off),
                SEEK_END => rustix::fs::SeekFrom::End(off),
                SEEK_DATA => rustix::fs::SeekFrom::Data(off),
                SEEK_HOLE => rustix::fs::SeekFrom::Hole(off),
                _ => return Err(Errno::EINVAL),
            };
            return rustix::fs::seek(h, w).map_err(|e| Errno::from_host(e.raw_os_error()));
        }
        Object::Chan { open, .. } => {
            if open.chan.qid.kind == FileType::Fifo {
                return Err(Errno::ESPIPE);
            }
            let size = match &open.host {
                Some(h) => h.metadata()?.len(),
                None => open.stat()?.size,
            };
            (size, open.chan.qid.is_dir())
        }
    };
    let new = match whence {
        SEEK_SET => off,
        SEEK_CUR => (f.pos as i64).checked_add(off).ok_or(Errno::EOVERFLOW)?,
        SEEK_END if !is_dir => (size as i64).checked_add(off).ok_or(Errno::EOVERFLOW)?,
        SEEK_DATA | SEEK_HOLE if !is_dir => {
            if off < 0 || off as u64 >= size {
                return Err(Errno::ENXIO);
            }
            // Every byte is data here (as Linux answers for file systems
            // that do not track holes), and the end is the only hole.
            if whence == SEEK_DATA {
                off
            } else {
                size as i64
            }
        }
        _ => return Err(Errno::EINVAL),
    };
    if new < 0 {
        return Err(Errno::EINVAL);
    }
    if is_dir {
        // A directory offset is an entry number; 0 lists afresh.
        if let Object::Chan { dir, .. } = &mut f.obj {
            if new == 0 {
                *dir = None;
            }
        }
    }
    f.pos = new as u64;
    Ok(new as u64)
}

/// lseek(2): a 32-bit offset. An offset past 2 GiB comes back cut to 32
/// bits, as x86-64 Linux answers i386 programs (an i386 kernel would say
/// EOVERFLOW); the differential tests compare with the host.
pub fn lseek(p: &mut Process, a: Args) -> SysResult {
    let pos = do_seek(p, a[0], a[1] as i32 as i64, a[2])?;
    Ok(pos as u32)
}

/// _llseek(2): 64-bit seek, result stored through a pointer.
pub fn llseek(p: &mut Process, a: Args) -> SysResult {
    let off = ((a[1] as u64) << 32 | a[2] as u64) as i64;
    let pos = do_seek(p, a[0], off, a[4])?;
    p.uwrite(a[3], &pos.to_le_bytes())?;
    Ok(0)
}

// ---------------------------------------------------------------------
// Descriptors.

/// dup(2).
pub fn dup(p: &mut Process, a: Args) -> SysResult {
    p.files.dup_min(a[0], 0, false)
}

/// dup2(2).
pub fn dup2(p: &mut Process, a: Args) -> SysResult {
    if a[0] == a[1] {
        p.files.get(a[0])?;
        return Ok(a[1]);
    }
    p.files.dup_to(a[0], a[1], false)
}

/// dup3(2).
pub fn dup3(p: &mut Process, a: Args) -> SysResult {
    if a[2] & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    if a[0] == a[1] {
        p.files.get(a[0])?;
        return Err(Errno::EINVAL);
    }
    p.files.dup_to(a[0], a[1], a[2] & O_CLOEXEC != 0)
}

const F_RDLCK: u16 = 0;
const F_WRLCK: u16 = 1;
const F_UNLCK: u16 = 2;

/// The file a description's locks are on.
fn lock_key(f: &OpenFile) -> SysResult<(u64, u64)> {
    match &f.obj {
        Object::Chan { open, .. } => Ok((devno(&open.chan), open.chan.qid.path)),
        Object::Pipe(e) => Ok((u64::MAX, e.pipe().id())),
        Object::Tty(t) | Object::PtyMaster(t) => Ok((u64::MAX - 1, t.index().map_or(0, |n| n as u64 + 1))),
        // Anonymous-inode files all share one inode on Linux.
        Object::EventFd(_) | Object::TimerFd(_) | Object::SignalFd(_) | Object::Epoll(_) => Ok((u64::MAX - 2, 0)),
        Object::Socket(s) => Ok((u64::MAX - 2, s.socket().id())),
        Object::Stdio(h) => {
            use std::os::unix::fs::MetadataExt;
            let m = h.metadata()?;
            Ok((m.dev() | 1 << 63, m.ino()))
        }
    }
}

/// fcntl's record locks: F_GETLK, F_SETLK(W) for the process, and the
/// F_OFD_ forms for the open file description; `wide` is struct flock64.
fn lock(p: &mut Process, fd: u32, arg: u32, get: bool, wide: bool, ofd: bool) -> SysResult {
    use crate::locks::{self, Lock, Owner};
    let file = p.files.file(fd)?;
    let mut b = vec![0u8; if wide { 24 } else { 16 }];
    p.uread(arg, &mut b)?;
    let i16at = |o: usize| i16::from_le_bytes([b[o], b[o + 1]]);
    let (ty, whence) = (i16at(0) as u16, i16at(2));
    let (start, len, pid) = if wide {
        let g = |o: usize| i64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        (g(4), g(12), i32::from_le_bytes(b[20..24].try_into().unwrap()))
    } else {
        let g = |o: usize| i32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as i64;
        (g(4), g(8), g(12) as i32)
    };
    if ofd && pid != 0 {
        return Err(Errno::EINVAL);
    }
    let f = file.borrow();
    if f.flags & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    match ty {
        F_RDLCK if !get && !f.readable() => return Err(Errno::EBADF),
        F_WRLCK if !get && !f.writable() => return Err(Errno::EBADF),
        F_RDLCK | F_WRLCK => {}
        F_UNLCK if !get => {}
        _ => return Err(Errno::EINVAL),
    }
    let base = match whence {
        0 => 0,
        1 => f.pos as i64,
        2 => match &f.obj {
            Object::Chan { open, .. } => open.stat()?.size as i64,
            Object::Stdio(h) => h.metadata()?.len() as i64,
            _ => 0,
        },
        _ => return Err(Errno::EINVAL),
    };
    let from = base.checked_add(start).ok_or(Errno::EOVERFLOW)?;
    let (lo, hi) = match len {
        0 => (from, i64::MAX),
        l if l > 0 => (from, from.checked_add(l).ok_or(Errno::EOVERFLOW)?),
        l => (from + l, from),
    };
    if lo < 0 {
        return Err(Errno::EINVAL);
    }
    let owner = if ofd { Owner::Description(file.as_ptr() as usize) } else { Owner::Process(p.pid) };
    let want = Lock { owner, write: ty == F_WRLCK, start: lo as u64, end: if len == 0 { u64::MAX } else { hi as u64 } };
    let key = lock_key(&f)?;
    drop(f);
    if get {
        let mut out = b.clone();
        match locks::conflict(key, &want) {
            None => out[0..2].copy_from_slice(&F_UNLCK.to_le_bytes()),
            Some(l) => {
                let ty = if l.write { F_WRLCK } else { F_RDLCK };
                let len = if l.end == u64::MAX { 0 } else { l.end - l.start };
                let pid = match l.owner {
                    Owner::Process(p) => p as i32,
                    _ => -1,
                };
                out[0..2].copy_from_slice(&ty.to_le_bytes());
                out[2..4].copy_from_slice(&0u16.to_le_bytes());
                if wide {
                    out[4..12].copy_from_slice(&(l.start as i64).to_le_bytes());
                    out[12..20].copy_from_slice(&(len as i64).to_le_bytes());
                    out[20..24].copy_from_slice(&pid.to_le_bytes());
                } else {
                    out[4..8].copy_from_slice(&(l.start as i32).to_le_bytes());
                    out[8..12].copy_from_slice(&(len as i32).to_le_bytes());
                    out[12..16].copy_from_slice(&pid.to_le_bytes());
                }
            }
        }
        p.uwrite(arg, &out)?;
        return Ok(0);
    }
    match locks::set(key, want, ty == F_UNLCK) {
        Ok(()) => Ok(0),
        // F_SETLKW would wait for a lock this very process holds through
        // another description: it would wait forever.
        Err(_) => Err(Errno::EAGAIN),
    }
}

fn do_fcntl(p: &mut Process, a: Args, wide_locks: bool) -> SysResult {
    let (fd, cmd, arg) = (a[0], a[1], a[2]);
    match cmd {
        0 => p.files.dup_min(fd, arg, false),     // F_DUPFD
        1030 => p.files.dup_min(fd, arg, true),   // F_DUPFD_CLOEXEC
        1 => Ok(p.files.get(fd)?.cloexec as u32), // F_GETFD
        2 => {
            p.files.get_mut(fd)?.cloexec = arg & 1 != 0; // F_SETFD
            Ok(0)
        }
        3 => Ok(p.files.file(fd)?.borrow().flags), // F_GETFL
        4 => {
            let f = p.files.file(fd)?;
            let mut f = f.borrow_mut();
            let keep = O_APPEND | O_NONBLOCK | O_NOATIME | O_DIRECT | 0o20000; // and O_ASYNC
            f.flags = (f.flags & !keep) | (arg & keep);
            Ok(0)
        }
        5 => lock(p, fd, arg, true, wide_locks, false), // F_GETLK
        6 | 7 => lock(p, fd, arg, false, wide_locks, false),
        12 => lock(p, fd, arg, true, true, false), // F_GETLK64
        13 | 14 => lock(p, fd, arg, false, true, false),
        36 => lock(p, fd, arg, true, true, true), // F_OFD_GETLK
        37 | 38 => lock(p, fd, arg, false, true, true),
        8 | 9 | 15 | 16 => {
            p.files.get(fd)?; // F_SETOWN, F_GETOWN, F_SETOWN_EX, F_GETOWN_EX
            Ok(0)
        }
        1031 | 1032 => {
            // F_SETPIPE_SZ, F_GETPIPE_SZ
            let f = p.files.file(fd)?;
            let Object::Pipe(e) = &f.borrow().obj else { return Err(Errno::EBADF) };
            let size =
                if cmd == 1031 { e.pipe().set_capacity(arg as usize, p.ids[1] == 0)? } else { e.pipe().capacity() };
            Ok(size as u32)
        }
        1024 | 1025 => {
            p.files.get(fd)?; // F_SETLEASE / F_GETLEASE
            Ok(if cmd == 1025 { F_UNLCK as u32 } else { 0 })
        }
        _ => {
            p.files.get(fd)?;
            Err(Errno::EINVAL)
        }
    }
}

/// fcntl(2): locks with 32-bit offsets.
pub fn fcntl(p: &mut Process, a: Args) -> SysResult {
    do_fcntl(p, a, false)
}

/// fcntl64(2): F_GETLK/F_SETLK take struct flock (32-bit offsets);
/// F_GETLK64/F_SETLK64 and the OFD locks take struct flock64.
pub fn fcntl64(p: &mut Process, a: Args) -> SysResult {
    do_fcntl(p, a, false)
}

/// flock(2): whole-file locks owned by the open file description.
pub fn flock(p: &mut Process, a: Args) -> SysResult {
    use crate::locks::{self, Lock, Owner};
    let file = p.files.file(a[0])?;
    let f = file.borrow();
    if f.flags & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    let (write, unlock) = match a[1] & !4 {
        1 => (false, false),
        2 => (true, false),
        8 => (false, true),
        _ => return Err(Errno::EINVAL),
    };
    let key = lock_key(&f)?;
    let want = Lock { owner: Owner::Flock(file.as_ptr() as usize), write, start: 0, end: u64::MAX };
    locks::set(key, want, unlock).map_err(|_| Errno::EAGAIN)?;
    Ok(0)
}

/// ioctl(2): terminal queries on the host's streams, FIONREAD, FIOCLEX,
/// FIONCLEX, FIONBIO.
pub fn ioctl(p: &mut Process, a: Args) -> SysResult {
    let (fd, req, arg) = (a[0], a[1], a[2]);
    let file = p.files.file(fd)?;
    match req {
        0x5451 => {
            p.files.get_mut(fd)?.cloexec = true; // FIOCLEX
            return Ok(0);
        }
        0x5450 => {
            p.files.get_mut(fd)?.cloexec = false; // FIONCLEX
            return Ok(0);
        }
        0x5452 => {
            p.read_u32(arg)?; // FIOASYNC: no signal-driven I/O yet
            return Ok(0);
        }
        0x5421 => {
            // FIONBIO
            let on = p.read_u32(arg)? != 0;
            let mut f = file.borrow_mut();
            f.flags = if on { f.flags | O_NONBLOCK } else { f.flags & !O_NONBLOCK };
            return Ok(0);
        }
        _ => {}
    }
    let tty = tty_of(&file.borrow());
    if let Some((t, _, master)) = tty {
        if master {
            return t.master_ioctl(p, req, arg);
        }
        if let Some(r) = t.ioctl(p, req, arg) {
            return r;
        }
    }
    let f = file.borrow();
    match (&f.obj, req) {
        (Object::Stdio(host), 0x5401) => {
            // TCGETS
            let t = rustix::termios::tcgetattr(host).map_err(|e| Errno::from_host(e.raw_os_error()))?;
            let mut b = [0u8; 36];
            b[0..4].copy_from_slice(&(t.input_modes.bits() as u32).to_le_bytes());
            b[4..8].copy_from_slice(&(t.output_modes.bits() as u32).to_le_bytes());
            b[8..12].copy_from_slice(&(t.control_modes.bits() as u32).to_le_bytes());
            b[12..16].copy_from_slice(&(t.local_modes.bits() as u32).to_le_bytes());
            b[16] = t.line_discipline as u8;
            for k in 0..19 {
                b[17 + k] = special(&t, k);
            }
            drop(f);
            p.uwrite(arg, &b)?;
            Ok(0)
        }
        (Object::Stdio(host), 0x5413) => {
            // TIOCGWINSZ
            let w = rustix::termios::tcgetwinsize(host).map_err(|e| Errno::from_host(e.raw_os_error()))?;
            let mut b = [0u8; 8];
            b[0..2].copy_from_slice(&w.ws_row.to_le_bytes());
            b[2..4].copy_from_slice(&w.ws_col.to_le_bytes());
            b[4..6].copy_from_slice(&w.ws_xpixel.to_le_bytes());
            b[6..8].copy_from_slice(&w.ws_ypixel.to_le_bytes());
            drop(f);
            p.uwrite(arg, &b)?;
            Ok(0)
        }
        (obj, 0x541b) => {
            // FIONREAD
            let n = match obj {
                Object::Pipe(e) => e.pipe().available() as u32,
                Object::Tty(t) => t.available() as u32,
                Object::PtyMaster(t) => t.master_available() as u32,
                Object::Socket(s) => s.socket().available() as u32,
                Object::Stdio(h) => rustix::io::ioctl_fionread(h).unwrap_or(0) as u32,
                Object::EventFd(_) | Object::TimerFd(_) | Object::SignalFd(_) | Object::Epoll(_) => {
                    return Err(Errno::ENOTTY)
                }
                Object::Chan { open, .. } => match open.chan.qid.kind {
                    // Negative past the end, as Linux computes it.
                    FileType::File => (open.stat()?.size as i64 - f.pos as i64) as i32 as u32,
                    FileType::Dir => return Err(Errno::ENOTTY),
                    _ => 0,
                },
            };
            drop(f);
            p.uwrite(arg, &n.to_le_bytes())?;
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// Return the host terminal's control character at Linux c_cc index `k`.
fn special(t: &rustix::termios::Termios, k: usize) -> u8 {
    use rustix::termios::SpecialCodeIndex as I;
    let idx = match k {
        0 => I::VINTR,
        1 => I::VQUIT,
        2 => I::VERASE,
        3 => I::VKILL,
        4 => I::VEOF,
        5 => I::VTIME,
        6 => I::VMIN,
        8 => I::VSTART,
        9 => I::VSTOP,
        10 => I::VSUSP,
        11 => I::VEOL,
        12 => I::VREPRINT,
        13 => I::VDISCARD,
        14 => I::VWERASE,
        15 => I::VLNEXT,
        16 => I::VEOL2,
        _ => return 0,
    };
    t.special_codes[idx]
}

// ---------------------------------------------------------------------
// Stat.

/// What the stat family reports, from a device's Stat or a host file.
struct Kstat {
    dev: u64,
    ino: u64,
    mode: u32,
    nlink: u32,
    uid: u32,
    gid: u32,
    rdev: u64,
    size: u64,
    blocks: u64,
    atime: Time,
    mtime: Time,
    ctime: Time,
}

impl Kstat {
    /// A kernel object with no file behind it (pipe, socket, terminal,
    /// anonymous inode): no size, no blocks, no times.
    fn object(dev: u64, ino: u64, mode: u32, uid: u32, gid: u32) -> Kstat {
        let t = Time::default();
        Kstat { dev, ino, mode, nlink: 1, uid, gid, rdev: 0, size: 0, blocks: 0, atime: t, mtime: t, ctime: t }
    }

    fn of(c: &Chan) -> SysResult<Kstat> {
        let s = stat_of(c)?;
        Ok(Kstat {
            dev: devno(c),
            ino: s.qid.path,
            mode: s.mode(),
            nlink: s.nlink,
            uid: s.uid,
            gid: s.gid,
            rdev: s.rdev,
            size: s.size,
            blocks: s.blocks,
            atime: s.atime,
            mtime: s.mtime,
            ctime: s.ctime,
        })
    }

    fn of_host(m: &std::fs::Metadata) -> Kstat {
        use std::os::unix::fs::MetadataExt;
        let t = |s: i64, ns: i64| Time { sec: s, nsec: ns as u32 };
        Kstat {
            dev: m.dev(),
            ino: m.ino(),
            mode: m.mode(),
            nlink: m.nlink() as u32,
            uid: m.uid(),
            gid: m.gid(),
            rdev: m.rdev(),
            size: m.size(),
            blocks: m.blocks(),
            atime: t(m.atime(), m.atime_nsec()),
            mtime: t(m.mtime(), m.mtime_nsec()),
            ctime: t(m.ctime(), m.ctime_nsec()),
        }
    }

    /// Linux's 32-bit encoding of a device number (new_encode_dev).
    fn encode(dev: u64) -> u32 {
        let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
        (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
    }

    /// i386 `struct stat64` (96 bytes).
    fn stat64(&self) -> [u8; 96] {
        let mut b = [0u8; 96];
        let put32 = |b: &mut [u8; 96], o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
        let put64 = |b: &mut [u8; 96], o: usize, v: u64| b[o..o + 8].copy_from_slice(&v.to_le_bytes());
        put64(&mut b, 0, Self::encode(self.dev) as u64);
        put32(&mut b, 12, self.ino as u32);
        put32(&mut b, 16, self.mode);
        put32(&mut b, 20, self.nlink);
        put32(&mut b, 24, self.uid);
        put32(&mut b, 28, self.gid);
        put64(&mut b, 32, Self::encode(self.rdev) as u64);
        put64(&mut b, 44, self.size);
        put32(&mut b, 52, 4096);
        put64(&mut b, 56, self.blocks);
        for (o, t) in [(64, self.atime), (72, self.mtime), (80, self.ctime)] {
            put32(&mut b, o, t.sec as u32);
            put32(&mut b, o + 4, t.nsec);
        }
        put64(&mut b, 88, self.ino);
        b
    }

    /// i386 `struct stat` (64 bytes), for the old calls: EOVERFLOW when
    /// the inode number or size does not fit.
    fn stat32(&self) -> SysResult<[u8; 64]> {
        if self.ino > u32::MAX as u64 || self.size > i32::MAX as u64 {
            return Err(Errno::EOVERFLOW);
        }
        let mut b = [0u8; 64];
        let put32 = |b: &mut [u8; 64], o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
        let put16 = |b: &mut [u8; 64], o: usize, v: u16| b[o..o + 2].copy_from_slice(&v.to_le_bytes());
        let dev = Self::encode(self.dev);
        if dev > u16::MAX as u32 || Self::encode(self.rdev) > u16::MAX as u32 {
            return Err(Errno::EOVERFLOW);
        }
        put32(&mut b, 0, dev);
        put32(&mut b, 4, self.ino as u32);
        put16(&mut b, 8, self.mode as u16);
        put16(&mut b, 10, self.nlink.min(u16::MAX as u32) as u16);
        put16(&mut b, 12, self.uid.min(65534) as u16);
        put16(&mut b, 14, self.gid.min(65534) as u16);
        put32(&mut b, 16, Self::encode(self.rdev));
        put32(&mut b, 20, self.size as u32);
        put32(&mut b, 24, 4096);
        put32(&mut b, 28, self.blocks as u32);
        for (o, t) in [(32, self.atime), (40, self.mtime), (48, self.ctime)] {
            put32(&mut b, o, t.sec as u32);
            put32(&mut b, o + 4, t.nsec);
        }
        Ok(b)
    }

    /// `struct statx` (256 bytes).
    fn statx(&self, mask: u32) -> [u8; 256] {
        let mut b = [0u8; 256];
        let put = |b: &mut [u8; 256], o: usize, v: &[u8]| b[o..o + v.len()].copy_from_slice(v);
        let _ = mask;
        put(&mut b, 0, &0x7ffu32.to_le_bytes()); // STATX_BASIC_STATS
        put(&mut b, 4, &4096u32.to_le_bytes());
        put(&mut b, 16, &self.nlink.to_le_bytes());
        put(&mut b, 20, &self.uid.to_le_bytes());
        put(&mut b, 24, &self.gid.to_le_bytes());
        put(&mut b, 28, &(self.mode as u16).to_le_bytes());
        put(&mut b, 32, &self.ino.to_le_bytes());
        put(&mut b, 40, &self.size.to_le_bytes());
        put(&mut b, 48, &self.blocks.to_le_bytes());
        for (o, t) in [(64, self.atime), (96, self.ctime), (112, self.mtime)] {
            put(&mut b, o, &t.sec.to_le_bytes());
            put(&mut b, o + 8, &t.nsec.to_le_bytes());
        }
        put(&mut b, 128, &rustix::fs::major(self.rdev).to_le_bytes());
        put(&mut b, 132, &rustix::fs::minor(self.rdev).to_le_bytes());
        put(&mut b, 136, &rustix::fs::major(self.dev).to_le_bytes());
        put(&mut b, 140, &rustix::fs::minor(self.dev).to_le_bytes());
        b
    }
}

/// Describe what descriptor `fd` refers to.
fn fd_kstat(p: &Process, fd: u32) -> SysResult<Kstat> {
    let f = p.files.file(fd)?;
    let f = f.borrow();
    match &f.obj {
        Object::Stdio(h) => Ok(Kstat::of_host(&h.metadata()?)),
        // /dev/console (5:1), /dev/pts/N (136:N), /dev/ptmx (5:2).
        Object::Tty(t) | Object::PtyMaster(t) => {
            let rdev = match (&f.obj, t.index()) {
                (Object::PtyMaster(_), _) => 5 << 8 | 2,
                (_, Some(n)) => (136 << 8 | (n as u64 & 0xff) | ((n as u64 & !0xff) << 12)) as _,
                _ => 5 << 8 | 1,
            };
            Ok(Kstat { rdev, ..Kstat::object(5, 1, 0o020620, p.ids[1], p.ids[3]) })
        }
        // Linux's anonymous inode: no file type, only rw-------.
        Object::EventFd(_) | Object::TimerFd(_) | Object::SignalFd(_) | Object::Epoll(_) => {
            Ok(Kstat::object(14, 1, 0o600, 0, 0))
        }
        Object::Socket(s) => Ok(Kstat::object(8, s.socket().id() & 0xffff_ffff, 0o140777, p.ids[1], p.ids[3])),
        Object::Pipe(e) => Ok(Kstat::object(12, e.pipe().id() & 0xffff_ffff, 0o010600, p.ids[1], p.ids[3])),
        Object::Chan { open, .. } => match &open.host {
            // The host file answers even once unlinked.
            Some(h) => {
                let mut k = Kstat::of_host(&h.metadata()?);
                k.dev = devno(&open.chan);
                k.ino = open.chan.qid.path;
                Ok(k)
            }
            None => Kstat::of(&open.chan),
        },
    }
}

fn path_kstat(p: &mut Process, dirfd: u32, path: u32, flags: u32) -> SysResult<Kstat> {
    let name = path_arg(p, path)?;
    if name.is_empty() && flags & AT_EMPTY_PATH != 0 {
        if dirfd == AT_FDCWD {
            return Kstat::of(&p.cwd);
        }
        return fd_kstat(p, dirfd);
    }
    let c = lookup(p, dirfd, &name, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    Kstat::of(&c)
}

/// stat64(2).
pub fn stat64(p: &mut Process, a: Args) -> SysResult {
    let k = path_kstat(p, AT_FDCWD, a[0], 0)?;
    p.uwrite(a[1], &k.stat64())?;
    Ok(0)
}

/// lstat64(2).
pub fn lstat64(p: &mut Process, a: Args) -> SysResult {
    let k = path_kstat(p, AT_FDCWD, a[0], AT_SYMLINK_NOFOLLOW)?;
    p.uwrite(a[1], &k.stat64())?;
    Ok(0)
}

/// fstat64(2).
pub fn fstat64(p: &mut Process, a: Args) -> SysResult {
    let k = fd_kstat(p, a[0])?;
    p.uwrite(a[1], &k.stat64())?;
    Ok(0)
}

/// fstatat64(2).
pub fn fstatat64(p: &mut Process, a: Args) -> SysResult {
    if a[3] & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let k = path_kstat(p, a[0], a[1], a[3])?;
    p.uwrite(a[2], &k.stat64())?;
    Ok(0)
}

/// stat(2): the old 32-bit structure.
pub fn stat(p: &mut Process, a: Args) -> SysResult {
    let k = path_kstat(p, AT_FDCWD, a[0], 0)?;
    p.uwrite(a[1], &k.stat32()?)?;
    Ok(0)
}

/// lstat(2).
pub fn lstat(p: &mut Process, a: Args) -> SysResult {
    let k = path_kstat(p, AT_FDCWD, a[0], AT_SYMLINK_NOFOLLOW)?;
    p.uwrite(a[1], &k.stat32()?)?;
    Ok(0)
}

/// fstat(2).
pub fn fstat(p: &mut Process, a: Args) -> SysResult {
    let k = fd_kstat(p, a[0])?;
    p.uwrite(a[1], &k.stat32()?)?;
    Ok(0)
}

/// statx(2).
pub fn statx(p: &mut Process, a: Args) -> SysResult {
    let flags = a[2];
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
        || a[3] & 0x8000_0000 != 0
    {
        return Err(Errno::EINVAL);
    }
    let k = path_kstat(p, a[0], a[1], flags)?;
    p.uwrite(a[4], &k.statx(a[3]))?;
    Ok(0)
}

/// The statfs answer for the file system of a channel.
fn statfs_of(c: &Chan) -> [u32; 21] {
    // f_type, f_bsize, then 64-bit counts as pairs, fsid, namelen, frsize, flags.
    let (magic, blocks, free) = match c.dev.dc() {
        'r' => (0x0102_1994u32, 1u64 << 20, 1u64 << 20), // TMPFS_MAGIC
        'p' => (0x9fa0, 0, 0),                           // PROC_SUPER_MAGIC
        'Z' => (0xef53, 1 << 24, 1 << 23),               // a host file system
        _ => (0x0102_1994, 0, 0),
    };
    let mut v = [0u32; 21];
    v[0] = magic;
    v[1] = 4096;
    let mut put64 = |i: usize, x: u64| {
        v[i] = x as u32;
        v[i + 1] = (x >> 32) as u32;
    };
    put64(2, blocks);
    put64(4, free);
    put64(6, free);
    put64(8, 1 << 20);
    put64(10, 1 << 19);
    let dev = devno(c);
    v[12] = dev as u32;
    v[13] = (dev >> 32) as u32;
    v[14] = 255;
    v[15] = 4096;
    v[16] = if c.dev.read_only() { 1 } else { 0 } | 0x20; // ST_RDONLY, ST_RELATIME-ish
    v
}

fn put_statfs64(p: &mut Process, c: &Chan, size: u32, buf: u32) -> SysResult {
    if size != 84 {
        return Err(Errno::EINVAL);
    }
    let v = statfs_of(c);
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    p.uwrite(buf, &bytes[..84])?;
    Ok(0)
}

fn put_statfs(p: &mut Process, c: &Chan, buf: u32) -> SysResult {
    let v = statfs_of(c);
    // struct statfs: 32-bit counts.
    let w = [v[0], v[1], v[2], v[4], v[6], v[8], v[10], v[12], v[13], v[14], v[15], v[16], 0, 0, 0, 0];
    let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    p.uwrite(buf, &bytes)?;
    Ok(0)
}

/// statfs64(2).
pub fn statfs64(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let c = lookup(p, AT_FDCWD, &name, true)?;
    put_statfs64(p, &c, a[1], a[2])
}

/// fstatfs64(2).
pub fn fstatfs64(p: &mut Process, a: Args) -> SysResult {
    let c = fd_chan(p, a[0]).or_else(|e| if e == Errno::ENOTDIR { Ok(p.cwd.clone()) } else { Err(e) })?;
    put_statfs64(p, &c, a[1], a[2])
}

/// statfs(2).
pub fn statfs(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let c = lookup(p, AT_FDCWD, &name, true)?;
    put_statfs(p, &c, a[1])
}

/// fstatfs(2).
pub fn fstatfs(p: &mut Process, a: Args) -> SysResult {
    let c = fd_chan(p, a[0]).or_else(|e| if e == Errno::ENOTDIR { Ok(p.cwd.clone()) } else { Err(e) })?;
    put_statfs(p, &c, a[1])
}

// ---------------------------------------------------------------------
// Permissions and attributes.

fn do_access(p: &mut Process, dirfd: u32, path: u32, mode: u32, flags: u32) -> SysResult {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let c = lookup_at(p, dirfd, path, flags, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    if mode == 0 {
        return Ok(0);
    }
    let st = stat_of(&c)?;
    // access checks with the real ids, AT_EACCESS with the effective ones.
    let cred = if flags & AT_EACCESS != 0 { p.cred() } else { Cred { uid: p.ids[0], gid: p.ids[2] } };
    let want = if mode & 4 != 0 { MAY_READ } else { 0 }
        | if mode & 2 != 0 { MAY_WRITE } else { 0 }
        | if mode & 1 != 0 { MAY_EXEC } else { 0 };
    perm::check(&st, cred, want)?;
    if mode & 2 != 0 && c.dev.read_only() && st.qid.kind != FileType::CharDev {
        return Err(Errno::EROFS);
    }
    Ok(0)
}

/// access(2).
pub fn access(p: &mut Process, a: Args) -> SysResult {
    do_access(p, AT_FDCWD, a[0], a[1], 0)
}

/// faccessat(2).
pub fn faccessat(p: &mut Process, a: Args) -> SysResult {
    do_access(p, a[0], a[1], a[2], 0)
}

/// faccessat2(2).
pub fn faccessat2(p: &mut Process, a: Args) -> SysResult {
    do_access(p, a[0], a[1], a[2], a[3])
}

/// Apply a change of attributes to a file, with Linux's ownership rules.
fn wstat(c: &Chan, w: &Wstat) -> SysResult {
    if c.dev.read_only() {
        return Err(Errno::EROFS);
    }
    Ok(c.dev.wstat(c.qid, w).map(|_| 0)?)
}

fn do_chmod(p: &mut Process, c: &Chan, mode: u32) -> SysResult {
    let st = stat_of(c)?;
    let cred = p.cred();
    if cred.uid != 0 && cred.uid != st.uid {
        return Err(Errno::EPERM);
    }
    let mut m = mode & 0o7777;
    // Only a member of the file's group may set its set-group-id bit.
    if cred.uid != 0 && st.gid != cred.gid && st.qid.kind != FileType::Dir {
        m &= !0o2000;
    }
    wstat(c, &Wstat { perm: Some(m), ..Default::default() })
}

/// chmod(2).
pub fn chmod(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let c = lookup(p, AT_FDCWD, &name, true)?;
    do_chmod(p, &c, a[1])
}

/// fchmod(2).
pub fn fchmod(p: &mut Process, a: Args) -> SysResult {
    let c = fd_chan_io(p, a[0])?;
    do_chmod(p, &c, a[1])
}

/// fchmodat(2).
pub fn fchmodat(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[1])?;
    let c = lookup(p, a[0], &name, true)?;
    do_chmod(p, &c, a[2])
}

fn do_chown(p: &mut Process, c: &Chan, uid: Option<u32>, gid: Option<u32>) -> SysResult {
    let st = stat_of(c)?;
    let cred = p.cred();
    if cred.uid != 0 {
        let uid_ok = uid.is_none_or(|u| u == st.uid);
        let gid_ok = gid.is_none_or(|g| g == st.gid || (st.uid == cred.uid && g == cred.gid));
        if !uid_ok || !gid_ok || (st.uid != cred.uid && (uid.is_some() || gid.is_some())) {
            return Err(Errno::EPERM);
        }
    }
    // Even a chown to -1, -1 is a change of owner: it clears the set-id
    // bits of a file, as Linux's does.
    let gid = if uid.is_none() && gid.is_none() { Some(st.gid) } else { gid };
    wstat(c, &Wstat { uid, gid, ..Default::default() })
}

fn ids32(u: u32, g: u32) -> (Option<u32>, Option<u32>) {
    ((u != u32::MAX).then_some(u), (g != u32::MAX).then_some(g))
}

fn ids16(u: u32, g: u32) -> (Option<u32>, Option<u32>) {
    ((u as u16 != u16::MAX).then_some(u & 0xffff), (g as u16 != u16::MAX).then_some(g & 0xffff))
}

/// chown32(2).
pub fn chown32(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let c = lookup(p, AT_FDCWD, &name, true)?;
    let (u, g) = ids32(a[1], a[2]);
    do_chown(p, &c, u, g)
}

/// lchown32(2).
pub fn lchown32(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let c = lookup(p, AT_FDCWD, &name, false)?;
    let (u, g) = ids32(a[1], a[2]);
    do_chown(p, &c, u, g)
}

/// fchown32(2).
pub fn fchown32(p: &mut Process, a: Args) -> SysResult {
    let c = fd_chan_io(p, a[0])?;
    let (u, g) = ids32(a[1], a[2]);
    do_chown(p, &c, u, g)
}

/// fchownat(2).
pub fn fchownat(p: &mut Process, a: Args) -> SysResult {
    if a[4] & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let c = lookup_at(p, a[0], a[1], a[4], a[4] & AT_SYMLINK_NOFOLLOW == 0)?;
    let (u, g) = ids32(a[2], a[3]);
    do_chown(p, &c, u, g)
}

/// chown(2) with 16-bit ids.
pub fn chown16(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let c = lookup(p, AT_FDCWD, &name, true)?;
    let (u, g) = ids16(a[1], a[2]);
    do_chown(p, &c, u, g)
}

/// lchown(2) with 16-bit ids.
pub fn lchown16(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let c = lookup(p, AT_FDCWD, &name, false)?;
    let (u, g) = ids16(a[1], a[2]);
    do_chown(p, &c, u, g)
}

/// fchown(2) with 16-bit ids.
pub fn fchown16(p: &mut Process, a: Args) -> SysResult {
    let c = fd_chan_io(p, a[0])?;
    let (u, g) = ids16(a[1], a[2]);
    do_chown(p, &c, u, g)
}

const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

/// Set a file's access and modification times: `None` is now for both;
/// a time may be UTIME_NOW or UTIME_OMIT as nsec.
fn set_times(p: &mut Process, c: &Chan, times: Option<[(i64, i64); 2]>) -> SysResult {
    let st = stat_of(c)?;
    let cred = p.cred();
    let now = Time::now();
    let owner = cred.uid == 0 || cred.uid == st.uid;
    let mut w = Wstat::default();
    match times {
        None => {
            if !owner && !perm::permitted(&st, cred, MAY_WRITE) {
                return Err(Errno::EACCES);
            }
            w.atime = Some(now);
            w.mtime = Some(now);
        }
        Some(ts) => {
            let mut explicit = false;
            let mut all_now = true;
            for (i, (sec, nsec)) in ts.iter().enumerate() {
                let t = match *nsec {
                    UTIME_OMIT => {
                        all_now = false;
                        None
                    }
                    UTIME_NOW => Some(now),
                    n if (0..1_000_000_000).contains(&n) => {
                        explicit = true;
                        all_now = false;
                        Some(Time { sec: *sec, nsec: n as u32 })
                    }
                    _ => return Err(Errno::EINVAL),
                };
                if i == 0 {
                    w.atime = t;
                } else {
                    w.mtime = t;
                }
            }
            if w.atime.is_none() && w.mtime.is_none() {
                return Ok(0);
            }
            if explicit && !owner {
                return Err(Errno::EPERM);
            }
            if all_now && !owner && !perm::permitted(&st, cred, MAY_WRITE) {
                return Err(Errno::EACCES);
            }
            if !explicit && !all_now && !owner {
                return Err(Errno::EPERM);
            }
        }
    }
    wstat(c, &w)
}

fn do_utimensat(p: &mut Process, a: Args, wide: bool) -> SysResult {
    let (dirfd, path, tp, flags) = (a[0], a[1], a[2], a[3]);
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let times = if tp == 0 {
        None
    } else if wide {
        let mut b = [0u8; 32];
        p.uread(tp, &mut b)?;
        let g = |o: usize| i64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        Some([(g(0), g(8)), (g(16), g(24))])
    } else {
        let mut b = [0u8; 16];
        p.uread(tp, &mut b)?;
        let g = |o: usize| i32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as i64;
        Some([(g(0), g(4)), (g(8), g(12))])
    };
    let c = if path == 0 {
        if dirfd == AT_FDCWD {
            return Err(Errno::EFAULT);
        }
        fd_chan_io(p, dirfd)?
    } else {
        lookup_at(p, dirfd, path, flags, flags & AT_SYMLINK_NOFOLLOW == 0)?
    };
    set_times(p, &c, times)
}

/// utimensat(2): 32-bit timespecs.
pub fn utimensat(p: &mut Process, a: Args) -> SysResult {
    do_utimensat(p, a, false)
}

/// utimensat_time64(2): 64-bit timespecs.
pub fn utimensat_time64(p: &mut Process, a: Args) -> SysResult {
    do_utimensat(p, a, true)
}

/// Times from a pair of timevals at `tv` (NULL: now).
fn timevals(p: &mut Process, tv: u32) -> SysResult<Option<[(i64, i64); 2]>> {
    if tv == 0 {
        return Ok(None);
    }
    let mut b = [0u8; 16];
    p.uread(tv, &mut b)?;
    let g = |o: usize| i32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as i64;
    let (au, mu) = (g(4), g(12));
    if !(0..1_000_000).contains(&au) || !(0..1_000_000).contains(&mu) {
        return Err(Errno::EINVAL);
    }
    Ok(Some([(g(0), au * 1000), (g(8), mu * 1000)]))
}

/// utimes(2).
pub fn utimes(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let times = timevals(p, a[1])?;
    let c = lookup(p, AT_FDCWD, &name, true)?;
    set_times(p, &c, times)
}

/// futimesat(2).
pub fn futimesat(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[1])?;
    let times = timevals(p, a[2])?;
    let c = lookup(p, a[0], &name, true)?;
    set_times(p, &c, times)
}

/// utime(2): whole seconds.
pub fn utime(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let times = if a[1] == 0 {
        None
    } else {
        let at = p.read_u32(a[1])? as i32 as i64;
        let mt = p.read_u32(a[1] + 4)? as i32 as i64;
        Some([(at, 0), (mt, 0)])
    };
    let c = lookup(p, AT_FDCWD, &name, true)?;
    set_times(p, &c, times)
}

fn truncate_chan(c: &Chan, len: i64) -> SysResult {
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    match c.qid.kind {
        FileType::Dir => return Err(Errno::EISDIR),
        FileType::File => {}
        _ => return Err(Errno::EINVAL),
    }
    wstat(c, &Wstat { size: Some(len as u64), ..Default::default() })
}

fn do_truncate(p: &mut Process, path: u32, len: i64) -> SysResult {
    let name = path_arg(p, path)?;
    let c = lookup(p, AT_FDCWD, &name, true)?;
    if c.qid.is_dir() {
        return Err(Errno::EISDIR);
    }
    let st = stat_of(&c)?;
    perm::check(&st, p.cred(), MAY_WRITE)?;
    truncate_chan(&c, len)
}

fn do_ftruncate(p: &mut Process, fd: u32, len: i64) -> SysResult {
    let f = p.files.file(fd)?;
    let f = f.borrow();
    if len < 0 || (f.flags & O_LARGEFILE == 0 && len as u64 > MAX_NON_LFS) {
        return Err(Errno::EINVAL);
    }
    match &f.obj {
        Object::Chan { open, .. } if f.writable() && open.chan.qid.kind == FileType::File => {
            let c = open.chan.clone();
            drop(f);
            truncate_chan(&c, len)
        }
        Object::Stdio(h) if f.writable() && h.metadata().map(|m| m.is_file()).unwrap_or(false) => {
            h.set_len(len as u64)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// truncate(2).
pub fn truncate(p: &mut Process, a: Args) -> SysResult {
    do_truncate(p, a[0], a[1] as i32 as i64)
}

/// truncate64(2): the length in two registers.
pub fn truncate64(p: &mut Process, a: Args) -> SysResult {
    do_truncate(p, a[0], (a[1] as u64 | (a[2] as u64) << 32) as i64)
}

/// ftruncate(2).
pub fn ftruncate(p: &mut Process, a: Args) -> SysResult {
    do_ftruncate(p, a[0], a[1] as i32 as i64)
}

/// ftruncate64(2): the length in two registers.
pub fn ftruncate64(p: &mut Process, a: Args) -> SysResult {
    do_ftruncate(p, a[0], (a[1] as u64 | (a[2] as u64) << 32) as i64)
}

/// fsync(2), fdatasync(2): files are written through; pipes cannot sync.
pub fn fsync(p: &mut Process, a: Args) -> SysResult {
    let f = p.files.file(a[0])?;
    let f = f.borrow();
    if f.flags & O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    match &f.obj {
        Object::Pipe(_)
        | Object::Tty(_)
        | Object::PtyMaster(_)
        | Object::EventFd(_)
        | Object::TimerFd(_)
        | Object::SignalFd(_)
        | Object::Epoll(_)
        | Object::Socket(_) => Err(Errno::EINVAL),
        Object::Stdio(h) => {
            let m = h.metadata()?;
            if m.is_file() {
                Ok(0)
            } else {
                Err(Errno::EINVAL)
            }
        }
        Object::Chan { open, .. } => {
            if let Some(h) = &open.host {
                h.sync_data()?;
            }
            Ok(0)
        }
    }
}

/// sync(2).
pub fn sync(_p: &mut Process, _a: Args) -> SysResult {
    Ok(0)
}

/// syncfs(2).
pub fn syncfs(p: &mut Process, a: Args) -> SysResult {
    p.files.get(a[0])?;
    Ok(0)
}

// ---------------------------------------------------------------------
// Names: directories, links, renames.

fn do_mkdir(p: &mut Process, dirfd: u32, path: u32, mode: u32) -> SysResult {
    let name = path_arg(p, path)?;
    let (dir, last) = parent(p, dirfd, &name)?;
    if last == "." || last == ".." {
        return Err(Errno::EEXIST);
    }
    match p.ns.walk1(&dir, &last) {
        Ok(_) => return Err(Errno::EEXIST),
        Err(devices::Errno::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    may_change(p, &dir, None)?;
    let t = p.ns.create_target(&dir)?;
    t.dev.create(t.qid, &last, FileType::Dir, mode & !p.umask & 0o1777, p.cred())?;
    Ok(0)
}

/// mkdir(2).
pub fn mkdir(p: &mut Process, a: Args) -> SysResult {
    do_mkdir(p, AT_FDCWD, a[0], a[1])
}

/// mkdirat(2).
pub fn mkdirat(p: &mut Process, a: Args) -> SysResult {
    do_mkdir(p, a[0], a[1], a[2])
}

fn do_mknod(p: &mut Process, dirfd: u32, path: u32, mode: u32, dev: u32) -> SysResult {
    let name = path_arg(p, path)?;
    let kind = match mode & 0o170000 {
        0 | 0o100000 => FileType::File,
        0o010000 => FileType::Fifo,
        0o140000 => FileType::Socket,
        0o020000 => FileType::CharDev,
        0o060000 => FileType::BlockDev,
        0o040000 => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    };
    if matches!(kind, FileType::CharDev | FileType::BlockDev) && p.cred().uid != 0 {
        return Err(Errno::EPERM);
    }
    let _ = dev;
    let (dir, last) = parent(p, dirfd, &name)?;
    if p.ns.walk1(&dir, &last).is_ok() {
        return Err(Errno::EEXIST);
    }
    may_change(p, &dir, None)?;
    let t = p.ns.create_target(&dir)?;
    t.dev.create(t.qid, &last, kind, mode & !p.umask & 0o7777, p.cred())?;
    Ok(0)
}

/// Make the node of a socket bound to path `name` (bind(2)), once
/// `check` agrees: return its device number and qid path; EADDRINUSE if
/// the name exists.
pub(super) fn make_socket_node(
    p: &mut Process,
    name: &[u8],
    check: &mut dyn FnMut() -> SysResult<()>,
) -> SysResult<(u64, u64)> {
    let (dir, last) = parent(p, AT_FDCWD, name)?;
    if p.ns.walk1(&dir, &last).is_ok() {
        return Err(Errno::EADDRINUSE);
    }
    may_change(p, &dir, None)?;
    check()?;
    let t = p.ns.create_target(&dir)?;
    let q = match t.dev.create(t.qid, &last, FileType::Socket, 0o777 & !p.umask, p.cred()) {
        Err(e) if Errno::from(e) == Errno::EEXIST => return Err(Errno::EADDRINUSE),
        r => r?,
    };
    let mut path = dir.path.clone();
    path.push(last);
    Ok((devno(&Chan { dev: t.dev, qid: q, path }), q.path))
}

/// Find the socket node path `name` reaches (connect(2), sendto(2)):
/// return its device number and qid path; ECONNREFUSED if it is no
/// socket, EACCES if the caller may not write to it.
pub(super) fn socket_node(p: &mut Process, name: &[u8]) -> SysResult<(u64, u64)> {
    let c = lookup(p, AT_FDCWD, name, true)?;
    if c.qid.kind != FileType::Socket {
        return Err(Errno::ECONNREFUSED);
    }
    perm::check(&stat_of(&c)?, p.cred(), MAY_WRITE)?;
    Ok((devno(&c), c.qid.path))
}

/// mknod(2).
pub fn mknod(p: &mut Process, a: Args) -> SysResult {
    do_mknod(p, AT_FDCWD, a[0], a[1], a[2])
}

/// mknodat(2).
pub fn mknodat(p: &mut Process, a: Args) -> SysResult {
    do_mknod(p, a[0], a[1], a[2], a[3])
}

/// Remove a name: a directory (`rmdir`) or anything else.
fn do_remove(p: &mut Process, dirfd: u32, path: u32, rmdir: bool) -> SysResult {
    let name = path_arg(p, path)?;
    let s = text(&name)?;
    let (dir, last) = parent(p, dirfd, &name)?;
    if rmdir {
        match last.as_str() {
            "." => return Err(Errno::EINVAL),
            ".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
    } else if s.ends_with('/') || last == "." || last == ".." {
        // "name/" must be a directory, which unlink refuses; a link is not
        // followed to find one.
        let c = p.ns.walk1(&dir, &last)?;
        return Err(if c.qid.is_dir() { Errno::EISDIR } else { Errno::ENOTDIR });
    }
    let (holder, victim) = p.ns.walk_in(&dir, &last)?;
    if rmdir && !victim.qid.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if !rmdir && victim.qid.is_dir() {
        return Err(Errno::EISDIR);
    }
    if p.ns.is_mount_point(&victim) || victim.path.is_empty() {
        return Err(Errno::EBUSY);
    }
    may_change(p, &holder, Some(&victim))?;
    holder.dev.remove(holder.qid, &last, rmdir)?;
    Ok(0)
}

/// unlink(2).
pub fn unlink(p: &mut Process, a: Args) -> SysResult {
    do_remove(p, AT_FDCWD, a[0], false)
}

/// rmdir(2).
pub fn rmdir(p: &mut Process, a: Args) -> SysResult {
    do_remove(p, AT_FDCWD, a[0], true)
}

/// unlinkat(2).
pub fn unlinkat(p: &mut Process, a: Args) -> SysResult {
    if a[2] & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    do_remove(p, a[0], a[1], a[2] & AT_REMOVEDIR != 0)
}

const RENAME_NOREPLACE: u32 = 1;
const RENAME_EXCHANGE: u32 = 2;

fn do_rename(p: &mut Process, olddirfd: u32, oldpath: u32, newdirfd: u32, newpath: u32, flags: u32) -> SysResult {
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0
        || flags & RENAME_NOREPLACE != 0 && flags & RENAME_EXCHANGE != 0
    {
        return Err(Errno::EINVAL);
    }
    let oldname = path_arg(p, oldpath)?;
    let newname = path_arg(p, newpath)?;
    let (od, on) = parent(p, olddirfd, &oldname)?;
    let (nd, nn) = parent(p, newdirfd, &newname)?;
    if on == "." || on == ".." || nn == "." || nn == ".." {
        return Err(Errno::EBUSY);
    }
    let (oh, victim) = p.ns.walk_in(&od, &on)?;
    let target = match p.ns.walk_in(&nd, &nn) {
        Ok(t) => Some(t),
        Err(devices::Errno::ENOENT) => None,
        Err(e) => return Err(e.into()),
    };
    // Trailing slashes demand directories.
    if (oldname.ends_with(b"/") || newname.ends_with(b"/")) && !victim.qid.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if p.ns.is_mount_point(&victim) || target.as_ref().is_some_and(|(_, t)| p.ns.is_mount_point(t)) {
        return Err(Errno::EBUSY);
    }
    let nh = match &target {
        Some((h, _)) => h.clone(),
        None => p.ns.create_target(&nd)?,
    };
    if !Arc::ptr_eq(&oh.dev, &nh.dev) {
        return Err(Errno::EXDEV);
    }
    if flags & RENAME_EXCHANGE != 0 {
        let Some((_, t)) = &target else { return Err(Errno::ENOENT) };
        may_change(p, &oh, Some(&victim))?;
        may_change(p, &nh, Some(t))?;
        oh.dev.exchange(oh.qid, &on, nh.qid, &nn)?;
        return Ok(0);
    }
    if let Some((_, t)) = &target {
        if flags & RENAME_NOREPLACE != 0 {
            return Err(Errno::EEXIST);
        }
        if t.qid.path == victim.qid.path && t.qid.kind == victim.qid.kind {
            return Ok(0);
        }
        if victim.qid.is_dir() && !t.qid.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if !victim.qid.is_dir() && t.qid.is_dir() {
            return Err(Errno::EISDIR);
        }
    }
    // A directory may not move beneath itself.
    if victim.qid.is_dir() && nd.path.len() > victim.path.len() && nd.path.starts_with(&victim.path) {
        return Err(Errno::EINVAL);
    }
    may_change(p, &oh, Some(&victim))?;
    if let Some((_, t)) = &target {
        may_change(p, &nh, Some(t))?;
    } else {
        may_change(p, &nh, None)?;
    }
    oh.dev.rename(oh.qid, &on, nh.qid, &nn)?;
    Ok(0)
}

/// rename(2).
pub fn rename(p: &mut Process, a: Args) -> SysResult {
    do_rename(p, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}

/// renameat(2).
pub fn renameat(p: &mut Process, a: Args) -> SysResult {
    do_rename(p, a[0], a[1], a[2], a[3], 0)
}

/// renameat2(2).
pub fn renameat2(p: &mut Process, a: Args) -> SysResult {
    do_rename(p, a[0], a[1], a[2], a[3], a[4])
}

fn do_link(p: &mut Process, olddirfd: u32, oldpath: u32, newdirfd: u32, newpath: u32, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let old = lookup_at(p, olddirfd, oldpath, flags, flags & AT_SYMLINK_FOLLOW != 0)?;
    let newname = path_arg(p, newpath)?;
    let (nd, nn) = parent(p, newdirfd, &newname)?;
    if old.qid.is_dir() {
        return Err(Errno::EPERM);
    }
    if nn == "." || nn == ".." || p.ns.walk1(&nd, &nn).is_ok() {
        return Err(Errno::EEXIST);
    }
    if newname.ends_with(b"/") {
        return Err(Errno::ENOENT);
    }
    let t = p.ns.create_target(&nd)?;
    if !Arc::ptr_eq(&t.dev, &old.dev) {
        return Err(Errno::EXDEV);
    }
    may_change(p, &t, None)?;
    t.dev.link(t.qid, &nn, old.qid)?;
    Ok(0)
}

/// link(2).
pub fn link(p: &mut Process, a: Args) -> SysResult {
    do_link(p, AT_FDCWD, a[0], AT_FDCWD, a[1], 0)
}

/// linkat(2).
pub fn linkat(p: &mut Process, a: Args) -> SysResult {
    do_link(p, a[0], a[1], a[2], a[3], a[4])
}

fn do_symlink(p: &mut Process, target: u32, newdirfd: u32, newpath: u32) -> SysResult {
    let target = path_arg(p, target)?;
    let newname = path_arg(p, newpath)?;
    let target = text(&target)?.to_string();
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let (nd, nn) = parent(p, newdirfd, &newname)?;
    if nn == "." || nn == ".." || p.ns.walk1(&nd, &nn).is_ok() {
        return Err(Errno::EEXIST);
    }
    if newname.ends_with(b"/") {
        return Err(Errno::ENOENT);
    }
    may_change(p, &nd, None)?;
    let t = p.ns.create_target(&nd)?;
    t.dev.symlink(t.qid, &nn, &target, p.cred())?;
    Ok(0)
}

/// symlink(2).
pub fn symlink(p: &mut Process, a: Args) -> SysResult {
    do_symlink(p, a[0], AT_FDCWD, a[1])
}

/// symlinkat(2).
pub fn symlinkat(p: &mut Process, a: Args) -> SysResult {
    do_symlink(p, a[0], a[1], a[2])
}

fn do_readlink(p: &mut Process, dirfd: u32, path: u32, buf: u32, size: u32) -> SysResult {
    if size as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    let empty = path_arg(p, path)?.is_empty();
    let c = lookup_at(p, dirfd, path, AT_EMPTY_PATH, false)?;
    if c.qid.kind != FileType::Symlink {
        return Err(if empty { Errno::ENOENT } else { Errno::EINVAL });
    }
    let target = devices::names::encode(&c.dev.readlink(c.qid)?).into_owned();
    let n = target.len().min(size as usize);
    p.uwrite(buf, &target[..n])?;
    Ok(n as u32)
}

/// readlink(2).
pub fn readlink(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    do_readlink(p, AT_FDCWD, a[0], a[1], a[2])
}

/// readlinkat(2).
pub fn readlinkat(p: &mut Process, a: Args) -> SysResult {
    do_readlink(p, a[0], a[1], a[2], a[3])
}

// ---------------------------------------------------------------------
// Directories.

/// Fill `out` with entries of `fd`'s directory from its offset, each
/// encoded by `enc` (which returns None when the entry does not fit).
fn dirents(
    p: &mut Process,
    fd: u32,
    buf: u32,
    size: usize,
    enc: impl Fn(&Dirent, u64, usize) -> Option<Vec<u8>>,
) -> SysResult {
    let file = p.files.file(fd)?;
    let mut f = file.borrow_mut();
    let pos = f.pos;
    let Object::Chan { open, dir } = &mut f.obj else { return Err(Errno::ENOTDIR) };
    if !open.chan.qid.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if dir.is_none() {
        // A removed directory lists nothing, not even "." and "..".
        if stat_of(&open.chan)?.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        let entries = p.ns.readdir(&open.chan)?;
        let dotdot = p.ns.walk1(&open.chan, "..").map(|c| c.qid).unwrap_or(open.chan.qid);
        *dir = Some(listing(open.chan.qid, dotdot, entries));
    }
    let list = dir.as_ref().unwrap();
    let mut out = Vec::new();
    let mut i = pos as usize;
    while i < list.len() {
        match enc(&list[i], i as u64 + 1, size - out.len()) {
            Some(b) => out.extend_from_slice(&b),
            None => break,
        }
        i += 1;
    }
    if out.is_empty() && i < list.len() {
        return Err(Errno::EINVAL);
    }
    f.pos = i as u64;
    drop(f);
    p.uwrite(buf, &out)?;
    Ok(out.len() as u32)
}

/// getdents64(2): `struct linux_dirent64`.
pub fn getdents64(p: &mut Process, a: Args) -> SysResult {
    let (fd, buf, size) = (a[0], a[1], a[2] as usize);
    p.files.file(fd)?;
    dirents(p, fd, buf, size, |e, off, room| {
        let reclen = (19 + e.name.len() + 1).next_multiple_of(8);
        if reclen > room {
            return None;
        }
        let mut b = Vec::with_capacity(reclen);
        b.extend_from_slice(&e.ino.max(1).to_le_bytes());
        b.extend_from_slice(&off.to_le_bytes());
        b.extend_from_slice(&(reclen as u16).to_le_bytes());
        b.push(e.dtype);
        b.extend_from_slice(&e.name);
        b.resize(reclen, 0);
        Some(b)
    })
}

/// getdents(2): `struct linux_dirent` (32-bit inode numbers: EOVERFLOW
/// for larger ones).
pub fn getdents(p: &mut Process, a: Args) -> SysResult {
    let (fd, buf, size) = (a[0], a[1], a[2] as usize);
    p.files.file(fd)?;
    let overflow = std::cell::Cell::new(false);
    let r = dirents(p, fd, buf, size, |e, off, room| {
        let reclen = (10 + e.name.len() + 2).next_multiple_of(4);
        if reclen > room {
            return None;
        }
        if e.ino > u32::MAX as u64 {
            overflow.set(true);
            return None;
        }
        let mut b = Vec::with_capacity(reclen);
        b.extend_from_slice(&(e.ino.max(1) as u32).to_le_bytes());
        b.extend_from_slice(&(off as u32).to_le_bytes());
        b.extend_from_slice(&(reclen as u16).to_le_bytes());
        b.extend_from_slice(&e.name);
        b.resize(reclen - 1, 0);
        b.push(e.dtype);
        Some(b)
    });
    if overflow.get() && r == Err(Errno::EINVAL) {
        return Err(Errno::EOVERFLOW);
    }
    r
}

/// getcwd(2).
pub fn getcwd(p: &mut Process, a: Args) -> SysResult {
    // A removed working directory has no name.
    if stat_of(&p.cwd).map(|s| s.nlink == 0).unwrap_or(true) && !p.cwd.path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let mut s = devices::names::encode(&p.cwd.path_string()).into_owned();
    s.push(0);
    if (a[1] as usize) < s.len() {
        return Err(Errno::ERANGE);
    }
    p.uwrite(a[0], &s)?;
    Ok(s.len() as u32)
}

fn enter_dir(p: &mut Process, c: Chan) -> SysResult {
    if !c.qid.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let st = stat_of(&c)?;
    perm::check(&st, p.cred(), MAY_EXEC)?;
    p.set_cwd(c);
    Ok(0)
}

/// chdir(2).
pub fn chdir(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let c = lookup(p, AT_FDCWD, &name, true)?;
    enter_dir(p, c)
}

/// fchdir(2).
pub fn fchdir(p: &mut Process, a: Args) -> SysResult {
    let c = fd_chan(p, a[0])?;
    enter_dir(p, c)
}

// ---------------------------------------------------------------------
// Pipes, memfds and mounts.

/// pipe2(2).
pub fn pipe2(p: &mut Process, a: Args) -> SysResult {
    let flags = a[1];
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT) != 0 {
        return Err(Errno::EINVAL);
    }
    p.ucheck_write(a[0], 8)?;
    let (r, w) = crate::pipe::new();
    let cloexec = flags & O_CLOEXEC != 0;
    let nb = flags & O_NONBLOCK;
    let rfd = p.files.install(OpenFile { obj: Object::Pipe(r), flags: nb, pos: 0 }, cloexec)?;
    let wfd = match p.files.install(OpenFile { obj: Object::Pipe(w), flags: O_WRONLY | nb, pos: 0 }, cloexec) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = p.files.close(rfd);
            return Err(e);
        }
    };
    let mut b = [0u8; 8];
    b[0..4].copy_from_slice(&rfd.to_le_bytes());
    b[4..8].copy_from_slice(&wfd.to_le_bytes());
    p.uwrite(a[0], &b)?;
    Ok(0)
}

/// pipe(2).
pub fn pipe(p: &mut Process, a: Args) -> SysResult {
    pipe2(p, [a[0], 0, 0, 0, 0, 0])
}

/// memfd_create(2): an anonymous file in a ramfs no path reaches.
pub fn memfd_create(p: &mut Process, a: Args) -> SysResult {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static FS: std::sync::OnceLock<Arc<dyn devices::Dev>> = std::sync::OnceLock::new();
    let name = path_arg(p, a[0])?;
    if name.len() > 249 || a[1] & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    let fs = FS.get_or_init(|| Arc::new(devices::Ramfs::new())).clone();
    let root = fs.attach("")?;
    let tmp = format!("memfd{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let q = fs.create(root, &tmp, FileType::File, 0o777, p.cred())?;
    let chan = Chan { dev: fs.clone(), qid: q, path: vec![format!("memfd:{}", String::from_utf8_lossy(&name))] };
    let open = open_chan(chan, O_RDWR, Cred::ROOT);
    // The name goes at once: the file lives while it is open or mapped.
    let _ = fs.remove(root, &tmp, false);
    p.files.install(OpenFile::chan(open?, O_RDWR | O_LARGEFILE), a[1] & 1 != 0)
}

const MS_REMOUNT: u32 = 32;
const MS_BIND: u32 = 4096;

/// mount(2): bind mounts (MS_BIND) and new file systems by type
/// (tmpfs/ramfs, proc); as on Linux only root may mount.
pub fn mount(p: &mut Process, a: Args) -> SysResult {
    let (source, target, fstype, flags) = (a[0], a[1], a[2], a[3]);
    if p.cred().uid != 0 {
        return Err(Errno::EPERM);
    }
    let tname = path_arg(p, target)?;
    let at = lookup(p, AT_FDCWD, &tname, true)?;
    // Remounts and propagation changes (MS_PRIVATE, MS_SLAVE, MS_SHARED,
    // MS_UNBINDABLE) have nothing to change here: mounts never propagate.
    if flags & MS_REMOUNT != 0 || flags & (0xf << 17) != 0 {
        return Ok(0);
    }
    if flags & MS_BIND != 0 {
        let sname = path_arg(p, source)?;
        let src = lookup(p, AT_FDCWD, &sname, true)?;
        p.ns.bind(&src, &at, MountFlag::Replace, true)?;
    } else {
        let ty = path_arg(p, fstype)?;
        let dev = match ty.as_slice() {
            b"tmpfs" | b"ramfs" => crate::nsboot::device('r')?,
            b"proc" => crate::nsboot::device('p')?,
            _ => return Err(Errno::ENODEV),
        };
        if !at.qid.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        p.ns.mount(dev, "", &at, MountFlag::Replace, true)?;
    }
    Ok(0)
}

/// umount2(2).
pub fn umount2(p: &mut Process, a: Args) -> SysResult {
    if p.cred().uid != 0 {
        return Err(Errno::EPERM);
    }
    if a[1] & !0xf != 0 {
        return Err(Errno::EINVAL);
    }
    let name = path_arg(p, a[0])?;
    let at = lookup(p, AT_FDCWD, &name, true)?;
    p.ns.unmount(None, &at)?;
    Ok(0)
}

/// umount(2).
pub fn umount(p: &mut Process, a: Args) -> SysResult {
    umount2(p, [a[0], 0, 0, 0, 0, 0])
}

// Extended attributes: no file system of vxos keeps any. Reading one is
// ENODATA and a listing is empty, as on a Linux file system without
// them; setting one is EOPNOTSUPP. The file must exist all the same.

/// The file an xattr call names: a path (following links or not) or a
/// descriptor; then the attribute name is checked.
fn xattr_file(p: &mut Process, how: u8, target: u32, name: u32) -> SysResult<()> {
    let _exists = match how {
        b'p' => path_kstat(p, AT_FDCWD, target, 0)?,
        b'l' => path_kstat(p, AT_FDCWD, target, AT_SYMLINK_NOFOLLOW)?,
        _ => fd_kstat(p, target)?,
    };
    if name != 0 {
        let n = p.read_cstr(name, 256)?;
        if n.is_empty() || n.len() > 255 {
            return Err(Errno::ERANGE);
        }
    }
    Ok(())
}

fn getxattr_any(p: &mut Process, how: u8, a: Args) -> SysResult {
    xattr_file(p, how, a[0], a[1])?;
    Err(Errno::ENODATA)
}

fn setxattr_any(p: &mut Process, how: u8, a: Args) -> SysResult {
    xattr_file(p, how, a[0], a[1])?;
    Err(Errno::EOPNOTSUPP)
}

fn listxattr_any(p: &mut Process, how: u8, a: Args) -> SysResult {
    xattr_file(p, how, a[0], 0)?;
    Ok(0)
}

/// getxattr(2).
pub fn getxattr(p: &mut Process, a: Args) -> SysResult {
    getxattr_any(p, b'p', a)
}
/// lgetxattr(2).
pub fn lgetxattr(p: &mut Process, a: Args) -> SysResult {
    getxattr_any(p, b'l', a)
}
/// fgetxattr(2).
pub fn fgetxattr(p: &mut Process, a: Args) -> SysResult {
    getxattr_any(p, b'f', a)
}
/// setxattr(2).
pub fn setxattr(p: &mut Process, a: Args) -> SysResult {
    setxattr_any(p, b'p', a)
}
/// lsetxattr(2).
pub fn lsetxattr(p: &mut Process, a: Args) -> SysResult {
    setxattr_any(p, b'l', a)
}
/// fsetxattr(2).
pub fn fsetxattr(p: &mut Process, a: Args) -> SysResult {
    setxattr_any(p, b'f', a)
}
/// listxattr(2).
pub fn listxattr(p: &mut Process, a: Args) -> SysResult {
    listxattr_any(p, b'p', a)
}
/// llistxattr(2).
pub fn llistxattr(p: &mut Process, a: Args) -> SysResult {
    listxattr_any(p, b'l', a)
}
/// flistxattr(2).
pub fn flistxattr(p: &mut Process, a: Args) -> SysResult {
    listxattr_any(p, b'f', a)
}
/// removexattr(2), lremovexattr(2), fremovexattr(2).
pub fn removexattr(p: &mut Process, a: Args) -> SysResult {
    getxattr_any(p, b'p', a)
}
/// lremovexattr(2).
pub fn lremovexattr(p: &mut Process, a: Args) -> SysResult {
    getxattr_any(p, b'l', a)
}
/// fremovexattr(2).
pub fn fremovexattr(p: &mut Process, a: Args) -> SysResult {
    getxattr_any(p, b'f', a)
}

/// fadvise64(2) and fadvise64_64(2): advice is taken and ignored, after
/// the checks Linux makes.
fn fadvise(p: &mut Process, fd: u32, advice: u32) -> SysResult {
    let f = p.files.file(fd)?;
    if matches!(f.borrow().obj, Object::Pipe(_) | Object::Socket(_)) {
        return Err(Errno::ESPIPE);
    }
    if advice > 5 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// fadvise64(2): fd, offset (64-bit in two words), len, advice.
pub fn fadvise64(p: &mut Process, a: Args) -> SysResult {
    fadvise(p, a[0], a[4])
}

/// fadvise64_64(2): fd, offset (two words), len (two words), advice.
pub fn fadvise64_64(p: &mut Process, a: Args) -> SysResult {
    fadvise(p, a[0], a[5])
}
