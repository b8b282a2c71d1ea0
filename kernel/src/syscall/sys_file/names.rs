//! Names and directories: mkdir, unlink, rename, links, symlinks, getcwd,
//! chdir, getdents.

use super::*;

pub(super) fn do_mkdir(p: &mut Process, dirfd: u32, path: u32, mode: u32) -> SysResult {
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
    t.dev.create(t.qid, &last, FileType::Dir, mode & !p.fs.umask & 0o1777, p.cred())?;
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

pub(super) fn do_mknod(p: &mut Process, dirfd: u32, path: u32, mode: u32, dev: u32) -> SysResult {
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
    t.dev.create(t.qid, &last, kind, mode & !p.fs.umask & 0o7777, p.cred())?;
    Ok(0)
}

/// Make the node of a socket bound to path `name` (bind(2)), once
/// `check` agrees: return its device number and qid path; EADDRINUSE if
/// the name exists.
pub(in crate::syscall) fn make_socket_node(
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
    let q = match t.dev.create(t.qid, &last, FileType::Socket, 0o777 & !p.fs.umask, p.cred()) {
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
pub(in crate::syscall) fn socket_node(p: &mut Process, name: &[u8]) -> SysResult<(u64, u64)> {
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
pub(super) fn do_remove(p: &mut Process, dirfd: u32, path: u32, rmdir: bool) -> SysResult {
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

pub(super) const RENAME_NOREPLACE: u32 = 1;
pub(super) const RENAME_EXCHANGE: u32 = 2;

pub(super) fn do_rename(
    p: &mut Process,
    olddirfd: u32,
    oldpath: u32,
    newdirfd: u32,
    newpath: u32,
    flags: u32,
) -> SysResult {
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

pub(super) fn do_link(
    p: &mut Process,
    olddirfd: u32,
    oldpath: u32,
    newdirfd: u32,
    newpath: u32,
    flags: u32,
) -> SysResult {
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

pub(super) fn do_symlink(p: &mut Process, target: u32, newdirfd: u32, newpath: u32) -> SysResult {
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

pub(super) fn do_readlink(p: &mut Process, dirfd: u32, path: u32, buf: u32, size: u32) -> SysResult {
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
pub(super) fn dirents(
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
    if stat_of(&p.fs.cwd).map(|s| s.nlink == 0).unwrap_or(true) && !p.fs.cwd.path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let mut s = devices::names::encode(&p.fs.cwd.path_string()).into_owned();
    s.push(0);
    if (a[1] as usize) < s.len() {
        return Err(Errno::ERANGE);
    }
    p.uwrite(a[0], &s)?;
    Ok(s.len() as u32)
}

pub(super) fn enter_dir(p: &mut Process, c: Chan) -> SysResult {
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
