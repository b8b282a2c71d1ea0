//! Reading, writing and seeking: read and write with their vector,
//! positioned and sendfile forms, pipes and host streams, lseek.

use super::*;

/// Read up to `len` bytes at the description's offset (or `at`) into
/// guest memory at `buf`.
pub(super) fn read_into(p: &mut Process, fd: u32, buf: u32, len: usize, at: Option<u64>) -> SysResult<usize> {
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
    if crate::syscall::sys_evfd::is_event_file(&file.borrow()) {
        if at.is_some() {
            return Err(Errno::ESPIPE);
        }
        return crate::syscall::sys_evfd::read(p, &file, buf, len);
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
        return crate::syscall::sys_socket::read(p, &s, nb, &[(buf, len.min(CHUNK) as u32)]);
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
pub(super) fn wait_for_host_input(p: &mut Process, file: &std::rc::Rc<std::cell::RefCell<OpenFile>>) -> SysResult<()> {
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
pub(super) fn in_chunks(
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
pub(super) fn write_from(p: &mut Process, fd: u32, buf: u32, len: usize, at: Option<u64>) -> SysResult<usize> {
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
    if crate::syscall::sys_evfd::is_event_file(&file.borrow()) {
        if at.is_some() {
            return Err(Errno::ESPIPE);
        }
        let mut data = vec![0u8; len];
        p.guest.read(buf, &mut data)?;
        return crate::syscall::sys_evfd::write(p, &file, &data);
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
            let r = crate::syscall::sys_socket::write(p, &s, nb, &data);
            return finish_write(p, r);
        }
        return in_chunks(p, buf, full, |p, data| {
            let r = crate::syscall::sys_socket::write(p, &s, nb, data);
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
pub(super) fn tty_of(f: &OpenFile) -> Option<(std::sync::Arc<crate::tty::Tty>, bool, bool)> {
    let nb = f.flags & O_NONBLOCK != 0;
    match &f.obj {
        Object::Tty(t) => Some((t.clone(), nb, false)),
        Object::PtyMaster(t) => Some((t.clone(), nb, true)),
        _ => None,
    }
}

/// The socket a description is open on, and whether it is non-blocking.
pub(super) fn socket_of(f: &OpenFile) -> Option<(crate::socket::Socket, bool)> {
    match &f.obj {
        Object::Socket(s) => Some((s.socket(), f.flags & O_NONBLOCK != 0)),
        _ => None,
    }
}

/// The pipe a description is an end of, and whether it is non-blocking.
pub(super) fn pipe_of(f: &OpenFile) -> Option<(crate::pipe::Pipe, bool)> {
    match &f.obj {
        Object::Pipe(e) => Some((e.pipe(), f.flags & O_NONBLOCK != 0)),
        _ => None,
    }
}

/// Read from a pipe into guest memory.
pub(super) fn pipe_read(p: &mut Process, pipe: &crate::pipe::Pipe, nb: bool, buf: u32, len: usize) -> SysResult<usize> {
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
pub(super) fn pipe_write(p: &mut Process, pipe: &crate::pipe::Pipe, nb: bool, data: &[u8]) -> SysResult<usize> {
    let r = {
        let me = &*p;
        pipe.write(data, nb, &mut || me.signal_interrupts())
    };
    finish_write(p, r)
}

/// A write to /proc/N/ns: namespace commands for the writer's own
/// namespace (see `nsboot::apply`).
pub(super) fn ns_ctl(p: &mut Process, pid: u32, text: &[u8]) -> SysResult<()> {
    if pid != p.pid {
        return Err(Errno::EACCES);
    }
    let text = std::str::from_utf8(text).map_err(|_| Errno::EINVAL)?;
    let cwd = p.fs.cwd.clone();
    let r = crate::nsboot::apply(&mut p.ns.write(), &cwd, text);
    // The working directory keeps its path, now seen through the new namespace.
    if let Ok(c) = p.ns.walk_from_root(&p.fs.cwd.path) {
        p.set_cwd(c);
    }
    Ok(r?)
}

/// A write to a pipe nobody reads raises SIGPIPE, as well as EPIPE.
pub(super) fn finish_write(p: &mut Process, r: SysResult<usize>) -> SysResult<usize> {
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

pub(super) fn offset64(lo: u32, hi: u32) -> SysResult<u64> {
    let off = (lo as u64 | (hi as u64) << 32) as i64;
    if off < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(off as u64)
}

/// Check a descriptor supports positioned I/O (not a pipe).
pub(super) fn seekable(p: &Process, fd: u32) -> SysResult<()> {
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

pub(in crate::syscall) fn iovecs(p: &mut Process, iov: u32, cnt: u32) -> SysResult<Vec<(u32, u32)>> {
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

pub(super) fn do_readv(p: &mut Process, fd: u32, iov: u32, cnt: u32, mut at: Option<u64>) -> SysResult {
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
        return Ok(crate::syscall::sys_socket::read(p, &s, nb, &vecs)? as u32);
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

pub(super) fn do_writev(p: &mut Process, fd: u32, iov: u32, cnt: u32, at: Option<u64>) -> SysResult {
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
    if crate::syscall::sys_evfd::is_event_file(&file.borrow()) {
        return Ok(crate::syscall::sys_evfd::write(p, &file, &data)? as u32);
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
        let r = crate::syscall::sys_socket::write(p, &s, nb, &data);
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
pub(super) fn do_sendfile(
    p: &mut Process,
    out: u32,
    inp: u32,
    off: Option<u64>,
    count: usize,
) -> SysResult<(u32, Option<u64>)> {
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
                crate::syscall::sys_socket::write(p, &s, nb, &buf[..n])
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

pub(super) const SEEK_SET: u32 = 0;
pub(super) const SEEK_CUR: u32 = 1;
pub(super) const SEEK_END: u32 = 2;
pub(super) const SEEK_DATA: u32 = 3;
pub(super) const SEEK_HOLE: u32 = 4;

pub(super) fn do_seek(p: &mut Process, fd: u32, off: i64, whence: u32) -> SysResult<u64> {
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
