//! Pipes, memfds and mounts.

use super::*;

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

pub(super) const MS_REMOUNT: u32 = 32;
pub(super) const MS_BIND: u32 = 4096;

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
pub(super) fn xattr_file(p: &mut Process, how: u8, target: u32, name: u32) -> SysResult<()> {
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

pub(super) fn getxattr_any(p: &mut Process, how: u8, a: Args) -> SysResult {
    xattr_file(p, how, a[0], a[1])?;
    Err(Errno::ENODATA)
}

pub(super) fn setxattr_any(p: &mut Process, how: u8, a: Args) -> SysResult {
    xattr_file(p, how, a[0], a[1])?;
    Err(Errno::EOPNOTSUPP)
}

pub(super) fn listxattr_any(p: &mut Process, how: u8, a: Args) -> SysResult {
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
pub(super) fn fadvise(p: &mut Process, fd: u32, advice: u32) -> SysResult {
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
