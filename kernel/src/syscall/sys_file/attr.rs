//! Permissions and attributes: access, chmod, chown, times, truncate,
//! extended attributes.

use super::*;

pub(super) fn do_access(p: &mut Process, dirfd: u32, path: u32, mode: u32, flags: u32) -> SysResult {
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
pub(super) fn wstat(c: &Chan, w: &Wstat) -> SysResult {
    if c.dev.read_only() {
        return Err(Errno::EROFS);
    }
    Ok(c.dev.wstat(c.qid, w).map(|_| 0)?)
}

pub(super) fn do_chmod(p: &mut Process, c: &Chan, mode: u32) -> SysResult {
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

pub(super) fn do_chown(p: &mut Process, c: &Chan, uid: Option<u32>, gid: Option<u32>) -> SysResult {
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

pub(super) fn ids32(u: u32, g: u32) -> (Option<u32>, Option<u32>) {
    ((u != u32::MAX).then_some(u), (g != u32::MAX).then_some(g))
}

pub(super) fn ids16(u: u32, g: u32) -> (Option<u32>, Option<u32>) {
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

pub(super) const UTIME_NOW: i64 = (1 << 30) - 1;
pub(super) const UTIME_OMIT: i64 = (1 << 30) - 2;

/// Set a file's access and modification times: `None` is now for both;
/// a time may be UTIME_NOW or UTIME_OMIT as nsec.
pub(super) fn set_times(p: &mut Process, c: &Chan, times: Option<[(i64, i64); 2]>) -> SysResult {
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

pub(super) fn do_utimensat(p: &mut Process, a: Args, wide: bool) -> SysResult {
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
pub(super) fn timevals(p: &mut Process, tv: u32) -> SysResult<Option<[(i64, i64); 2]>> {
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

pub(super) fn truncate_chan(c: &Chan, len: i64) -> SysResult {
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

pub(super) fn do_truncate(p: &mut Process, path: u32, len: i64) -> SysResult {
    let name = path_arg(p, path)?;
    let c = lookup(p, AT_FDCWD, &name, true)?;
    if c.qid.is_dir() {
        return Err(Errno::EISDIR);
    }
    let st = stat_of(&c)?;
    perm::check(&st, p.cred(), MAY_WRITE)?;
    truncate_chan(&c, len)
}

pub(super) fn do_ftruncate(p: &mut Process, fd: u32, len: i64) -> SysResult {
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

/// fallocate(2), the offset and length each in two registers. The file
/// systems vxos serves allocate as data is written, so there is nothing to
/// reserve: mode 0 makes the file at least offset + len long,
/// FALLOC_FL_KEEP_SIZE leaves it as it is, FALLOC_FL_PUNCH_HOLE (with
/// KEEP_SIZE) writes zeros over the range; other modes are EOPNOTSUPP.
pub fn fallocate(p: &mut Process, a: Args) -> SysResult {
    const KEEP_SIZE: u32 = 1;
    const PUNCH_HOLE: u32 = 2;
    let mode = a[1];
    let off = (a[2] as u64 | (a[3] as u64) << 32) as i64;
    let len = (a[4] as u64 | (a[5] as u64) << 32) as i64;
    let f = p.files.file(a[0])?;
    let fb = f.borrow();
    if fb.flags & O_PATH != 0 || !fb.writable() {
        return Err(Errno::EBADF);
    }
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    let end = off.checked_add(len).ok_or(Errno::EFBIG)? as u64;
    let size = match &fb.obj {
        Object::Pipe(_) | Object::Socket(_) => return Err(Errno::ESPIPE),
        Object::Chan { open, .. } if open.chan.qid.kind == FileType::File => open.stat()?.size,
        Object::Stdio(h) if h.metadata().is_ok_and(|m| m.is_file()) => h.metadata()?.len(),
        _ => return Err(Errno::ENODEV),
    };
    match mode {
        0 if end > size => match &fb.obj {
            Object::Chan { open, .. } => {
                let c = open.chan.clone();
                drop(fb);
                truncate_chan(&c, end as i64)
            }
            Object::Stdio(h) => {
                h.set_len(end)?;
                Ok(0)
            }
            _ => Err(Errno::ENODEV),
        },
        0 | KEEP_SIZE => Ok(0),
        m if m == PUNCH_HOLE | KEEP_SIZE => {
            let zeros = vec![0u8; 64 << 10];
            let mut at = off as u64;
            while at < end.min(size) {
                let n = (end.min(size) - at).min(zeros.len() as u64) as usize;
                let w = match &fb.obj {
                    Object::Chan { open, .. } => open.write_at(&zeros[..n], at)?,
                    Object::Stdio(h) => std::os::unix::fs::FileExt::write_at(h, &zeros[..n], at)?,
                    _ => return Err(Errno::ENODEV),
                };
                if w == 0 {
                    return Err(Errno::EIO);
                }
                at += w as u64;
            }
            Ok(0)
        }
        _ => Err(Errno::EOPNOTSUPP),
    }
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
