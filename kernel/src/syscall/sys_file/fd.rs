//! Descriptors: dup, fcntl, ioctl and the rest of the descriptor
//! table's calls.

use super::*;

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

pub(super) const F_RDLCK: u16 = 0;
pub(super) const F_WRLCK: u16 = 1;
pub(super) const F_UNLCK: u16 = 2;

/// The file a description's locks are on.
pub(super) fn lock_key(f: &OpenFile) -> SysResult<(u64, u64)> {
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
/// F_OFD_ forms for the open file description; `wide` is struct flock64;
/// `wait` for F_SETLKW and its kin.
pub(super) fn lock(p: &mut Process, fd: u32, arg: u32, get: bool, wide: bool, ofd: bool, wait: bool) -> SysResult {
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
    locks::set_wait(key, want, ty == F_UNLCK, wait, &mut || p.signal_interrupts())?;
    Ok(0)
}

pub(super) fn do_fcntl(p: &mut Process, a: Args, wide_locks: bool) -> SysResult {
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
        5 => lock(p, fd, arg, true, wide_locks, false, false), // F_GETLK
        6 | 7 => lock(p, fd, arg, false, wide_locks, false, cmd == 7),
        12 => lock(p, fd, arg, true, true, false, false), // F_GETLK64
        13 | 14 => lock(p, fd, arg, false, true, false, cmd == 14),
        36 => lock(p, fd, arg, true, true, true, false), // F_OFD_GETLK
        37 | 38 => lock(p, fd, arg, false, true, true, cmd == 38),
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
    drop(f);
    let want = Lock { owner: Owner::Flock(file.as_ptr() as usize), write, start: 0, end: u64::MAX };
    locks::set_wait(key, want, unlock, a[1] & 4 == 0, &mut || p.signal_interrupts())?;
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
pub(super) fn special(t: &rustix::termios::Termios, k: usize) -> u8 {
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
