//! Opening and closing: open, openat, creat, close, and reopening
//! /proc/N/fd links.

use super::*;

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

pub(super) fn do_open(p: &mut Process, dirfd: u32, path: u32, flags: u32, mode: u32) -> SysResult {
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
            let q = target.dev.create(target.qid, &last, FileType::File, mode & !p.fs.umask & 0o7777, cred)?;
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
        if chan.qid.kind == FileType::Fifo {
            return open_fifo(p, chan, flags, keep, who);
        }
        if chan.qid.kind == FileType::Socket && !created {
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
    if open.opened
        && open.chan.dev.dc() == 'c'
        && open.chan.qid.path == devices::cons::QTTY
        && crate::tty::console().is_none()
    {
        // /dev/tty under `vxos run`: the guest's controlling terminal is
        // vxos's; without one it is ENXIO, as on Linux.
        use std::os::unix::fs::OpenOptionsExt;
        let acc = flags & O_ACCMODE;
        let host = std::fs::OpenOptions::new()
            .read(acc != O_WRONLY)
            .write(acc != 0)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open("/dev/tty")
            .map_err(|_| Errno::ENXIO)?;
        return p.files.install(OpenFile { obj: Object::Stdio(host), flags: keep, pos: 0 }, flags & O_CLOEXEC != 0);
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

/// Open a FIFO node: its pipe (pipe.rs), after the permission check.
fn open_fifo(p: &mut Process, chan: Chan, flags: u32, keep: u32, cred: Cred) -> SysResult {
    let acc = flags & O_ACCMODE;
    if acc == 3 {
        return Err(Errno::EINVAL);
    }
    let (read, write) = (acc != O_WRONLY, acc != 0);
    let st = chan.dev.stat(chan.qid)?;
    devices::perm::check(&st, cred, if read { 4 } else { 0 } | if write { 2 } else { 0 })?;
    let key = (crate::files::devno(&chan), chan.qid.path);
    let nonblock = flags & O_NONBLOCK != 0;
    let end = crate::pipe::open_fifo(key, read, write, nonblock, &mut || p.signal_interrupts())?;
    p.files.install(OpenFile { obj: Object::Pipe(end), flags: keep, pos: 0 }, flags & O_CLOEXEC != 0)
}

/// Open /proc/N/fd/M of a pipe or another file that has no path: a new
/// description of the same object, as Linux's open of that link makes
/// (only a process's own descriptors, or those of processes sharing its
/// table, are at hand).
pub(super) fn reopen(p: &mut Process, pid: u32, fd: u32, flags: u32) -> SysResult {
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
