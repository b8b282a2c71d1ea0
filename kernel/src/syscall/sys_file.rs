//! File system calls on host files (T1): open, read, write, seek, stat,
//! directories, descriptors and a few ioctls. Mostly argument checking and
//! copying between guest memory and host files.

use super::{path_arg, Args};
use crate::errno::{Errno, SysResult};
use crate::files::*;
use crate::process::Process;
use std::os::unix::fs::{DirEntryExt, FileTypeExt, MetadataExt};

const AT_FDCWD: u32 = -100i32 as u32;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_EMPTY_PATH: u32 = 0x1000;

/// Largest single transfer we stage through the host at once.
const CHUNK: usize = 1 << 20;

/// read(2): read from a descriptor into guest memory.
pub fn read(p: &mut Process, a: Args) -> SysResult {
    let (fd, buf, len) = (a[0], a[1], a[2] as usize);
    let file = p.files.get(fd)?.file.clone();
    if file.borrow().flags & O_ACCMODE == O_WRONLY {
        return Err(Errno::EBADF);
    }
    let len = len.min(CHUNK);
    p.ucheck_write(buf, len)?;
    let f = file.borrow();
    let host = match &f.obj {
        Object::File(h) | Object::Stdio(h) => h,
        Object::Dir { .. } => return Err(Errno::EISDIR),
    };
    // Straight from the host file into guest memory.
    Ok(p.guest.read_fd(std::os::fd::AsFd::as_fd(host), buf, len, None)? as u32)
}

/// write(2): write guest memory to a descriptor.
pub fn write(p: &mut Process, a: Args) -> SysResult {
    let (fd, buf, len) = (a[0], a[1], a[2] as usize);
    let file = p.files.get(fd)?.file.clone();
    let len = len.min(CHUNK);
    p.mm.populate(&mut p.guest, buf, len as u64, crate::mm::fault::Access::Read).map_err(|_| Errno::EFAULT)?;
    let r = file.borrow_mut().write_guest(&p.guest, buf, len);
    if r == Err(Errno::EPIPE) {
        p.post_signal(13);
    }
    Ok(r? as u32)
}

fn iovecs(p: &mut Process, iov: u32, cnt: u32) -> SysResult<Vec<(u32, u32)>> {
    if cnt > 1024 {
        return Err(Errno::EINVAL);
    }
    let mut v = Vec::with_capacity(cnt as usize);
    for k in 0..cnt {
        let base = p.read_u32(iov.wrapping_add(8 * k))?;
        let len = p.read_u32(iov.wrapping_add(8 * k + 4))?;
        if len > i32::MAX as u32 {
            return Err(Errno::EINVAL);
        }
        v.push((base, len));
    }
    Ok(v)
}

/// readv(2): scatter read.
pub fn readv(p: &mut Process, a: Args) -> SysResult {
    let mut total = 0u32;
    for (base, len) in iovecs(p, a[1], a[2])? {
        if len == 0 {
            continue;
        }
        let n = read(p, [a[0], base, len, 0, 0, 0])?;
        total += n;
        if n < len {
            break;
        }
    }
    Ok(total)
}

/// writev(2): gather write.
pub fn writev(p: &mut Process, a: Args) -> SysResult {
    let mut data = Vec::new();
    for (base, len) in iovecs(p, a[1], a[2])? {
        let start = data.len();
        data.resize(start + len as usize, 0);
        p.uread(base, &mut data[start..])?;
    }
    let file = p.files.get(a[0])?.file.clone();
    let r = file.borrow_mut().write(&data);
    if r == Err(Errno::EPIPE) {
        p.post_signal(13);
    }
    Ok(r? as u32)
}

/// pread64(2): read at an offset.
pub fn pread64(p: &mut Process, a: Args) -> SysResult {
    let (fd, buf, len) = (a[0], a[1], (a[2] as usize).min(CHUNK));
    let off = a[3] as u64 | (a[4] as u64) << 32;
    let file = p.files.get(fd)?.file.clone();
    let mut tmp = vec![0u8; len];
    let n = file.borrow_mut().pread(&mut tmp, off)?;
    p.uwrite(buf, &tmp[..n])?;
    Ok(n as u32)
}

fn do_open(p: &mut Process, dirfd: u32, path: u32, flags: u32) -> SysResult {
    let name = path_arg(p, path)?;
    if flags & O_ACCMODE != 0 || flags & (O_CREAT | O_TRUNC) != 0 {
        // T1 serves host files read-only.
        let hp = resolve(p, dirfd, &name)?;
        return Err(if !hp.exists() && flags & O_CREAT == 0 { Errno::ENOENT } else { Errno::EROFS });
    }
    let hp = resolve(p, dirfd, &name)?;
    let meta = if flags & O_NOFOLLOW != 0 { std::fs::symlink_metadata(&hp)? } else { std::fs::metadata(&hp)? };
    if flags & O_NOFOLLOW != 0 && meta.file_type().is_symlink() {
        return Err(Errno::ELOOP);
    }
    let file = std::fs::File::open(&hp)?;
    let obj = if meta.is_dir() {
        Object::Dir { path: hp, file, pos: 0 }
    } else {
        if flags & O_DIRECTORY != 0 {
            return Err(Errno::ENOTDIR);
        }
        Object::File(file)
    };
    p.files.install(OpenFile { obj, flags }, flags & O_CLOEXEC != 0)
}

fn resolve(p: &Process, dirfd: u32, name: &[u8]) -> SysResult<std::path::PathBuf> {
    if name.first() == Some(&b'/') || dirfd == AT_FDCWD {
        return p.host_path(name);
    }
    let f = p.files.get(dirfd)?.file.clone();
    let b = f.borrow();
    match &b.obj {
        Object::Dir { path, .. } => {
            use std::os::unix::ffi::OsStrExt;
            Ok(path.join(std::ffi::OsStr::from_bytes(name)))
        }
        _ => Err(Errno::ENOTDIR),
    }
}

/// open(2).
pub fn open(p: &mut Process, a: Args) -> SysResult {
    do_open(p, AT_FDCWD, a[0], a[1])
}

/// openat(2).
pub fn openat(p: &mut Process, a: Args) -> SysResult {
    do_open(p, a[0], a[1], a[2])
}

/// close(2).
pub fn close(p: &mut Process, a: Args) -> SysResult {
    p.files.close(a[0])
}

/// mkdir(2): T1's file system is read-only; errors come in Linux's order.
pub fn mkdir(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let hp = p.host_path(&name)?;
    Err(if std::fs::symlink_metadata(hp).is_ok() { Errno::EEXIST } else { Errno::EROFS })
}

/// unlink(2): T1's file system is read-only; errors come in Linux's order.
pub fn unlink(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let hp = p.host_path(&name)?;
    let m = std::fs::symlink_metadata(hp)?;
    Err(if m.is_dir() { Errno::EISDIR } else { Errno::EROFS })
}

/// chdir(2).
pub fn chdir(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    let hp = p.host_path(&name)?;
    if !std::fs::metadata(&hp)?.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    p.cwd = hp;
    Ok(0)
}

/// getcwd(2).
pub fn getcwd(p: &mut Process, a: Args) -> SysResult {
    use std::os::unix::ffi::OsStrExt;
    let mut s = p.cwd.as_os_str().as_bytes().to_vec();
    s.push(0);
    if (a[1] as usize) < s.len() {
        return Err(Errno::ERANGE);
    }
    p.uwrite(a[0], &s)?;
    Ok(s.len() as u32)
}

/// lseek(2).
pub fn lseek(p: &mut Process, a: Args) -> SysResult {
    let f = p.files.get(a[0])?.file.clone();
    let pos = f.borrow_mut().seek(a[1] as i32 as i64, a[2])?;
    u32::try_from(pos).map_err(|_| Errno::EOVERFLOW)
}

/// _llseek(2): 64-bit seek, result stored through a pointer.
pub fn llseek(p: &mut Process, a: Args) -> SysResult {
    let off = ((a[1] as u64) << 32 | a[2] as u64) as i64;
    let f = p.files.get(a[0])?.file.clone();
    let pos = f.borrow_mut().seek(off, a[4])?;
    p.uwrite(a[3], &pos.to_le_bytes())?;
    Ok(0)
}

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
    if a[0] == a[1] || a[2] & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    p.files.dup_to(a[0], a[1], a[2] & O_CLOEXEC != 0)
}

/// fcntl64(2): descriptor flags, status flags, duplication; locks answer
/// as on an unshared file.
pub fn fcntl64(p: &mut Process, a: Args) -> SysResult {
    let (fd, cmd, arg) = (a[0], a[1], a[2]);
    match cmd {
        0 => p.files.dup_min(fd, arg, false),     // F_DUPFD
        1030 => p.files.dup_min(fd, arg, true),   // F_DUPFD_CLOEXEC
        1 => Ok(p.files.get(fd)?.cloexec as u32), // F_GETFD
        2 => {
            p.files.get_mut(fd)?.cloexec = arg & 1 != 0; // F_SETFD
            Ok(0)
        }
        3 => Ok(p.files.get(fd)?.file.borrow().flags | O_LARGEFILE), // F_GETFL
        4 => {
            let f = p.files.get(fd)?.file.clone();
            let mut f = f.borrow_mut();
            let keep = O_APPEND | O_NONBLOCK;
            f.flags = (f.flags & !keep) | (arg & keep);
            Ok(0)
        }
        5..=7 | 12..=14 => {
            p.files.get(fd)?; // F_GETLK/F_SETLK(W): no other process holds locks
            if cmd == 5 || cmd == 12 {
                // F_GETLK: report the lock as free (l_type = F_UNLCK)
                p.uwrite(arg, &2u16.to_le_bytes())?;
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// ioctl(2): terminal queries on the host's streams, FIONREAD.
pub fn ioctl(p: &mut Process, a: Args) -> SysResult {
    let (fd, req, arg) = (a[0], a[1], a[2]);
    let f = p.files.get(fd)?.file.clone();
    let f = f.borrow();
    let host = f.host_file();
    match req {
        0x5401 => {
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
        0x5413 => {
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
        0x541b => {
            // FIONREAD
            let n = match &f.obj {
                Object::File(h) => {
                    let m = h.metadata()?;
                    let pos = rustix::fs::seek(h, rustix::fs::SeekFrom::Current(0)).unwrap_or(0);
                    m.len().saturating_sub(pos) as u32
                }
                Object::Stdio(h) => rustix::io::ioctl_fionread(h).unwrap_or(0) as u32,
                Object::Dir { .. } => return Err(Errno::ENOTTY),
            };
            drop(f);
            p.uwrite(arg, &n.to_le_bytes())?;
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// Encode a host stat as i386 `struct stat64` (96 bytes).
fn stat64_bytes(m: &std::fs::Metadata) -> [u8; 96] {
    let mut b = [0u8; 96];
    let put32 = |b: &mut [u8; 96], o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    let put64 = |b: &mut [u8; 96], o: usize, v: u64| b[o..o + 8].copy_from_slice(&v.to_le_bytes());
    put64(&mut b, 0, m.dev());
    put32(&mut b, 12, m.ino() as u32);
    put32(&mut b, 16, m.mode());
    put32(&mut b, 20, m.nlink() as u32);
    put32(&mut b, 24, m.uid());
    put32(&mut b, 28, m.gid());
    put64(&mut b, 32, m.rdev());
    put64(&mut b, 44, m.size());
    put32(&mut b, 52, m.blksize() as u32);
    put64(&mut b, 56, m.blocks());
    put32(&mut b, 64, m.atime() as u32);
    put32(&mut b, 68, m.atime_nsec() as u32);
    put32(&mut b, 72, m.mtime() as u32);
    put32(&mut b, 76, m.mtime_nsec() as u32);
    put32(&mut b, 80, m.ctime() as u32);
    put32(&mut b, 84, m.ctime_nsec() as u32);
    put64(&mut b, 88, m.ino());
    b
}

fn stat_path(p: &mut Process, dirfd: u32, path: u32, flags: u32) -> SysResult<std::fs::Metadata> {
    let name = path_arg(p, path)?;
    if name.is_empty() && flags & AT_EMPTY_PATH != 0 {
        return p.files.get(dirfd)?.file.borrow().metadata();
    }
    let hp = resolve(p, dirfd, &name)?;
    Ok(if flags & AT_SYMLINK_NOFOLLOW != 0 { std::fs::symlink_metadata(hp)? } else { std::fs::metadata(hp)? })
}

/// stat64(2).
pub fn stat64(p: &mut Process, a: Args) -> SysResult {
    let m = stat_path(p, AT_FDCWD, a[0], 0)?;
    p.uwrite(a[1], &stat64_bytes(&m))?;
    Ok(0)
}

/// lstat64(2).
pub fn lstat64(p: &mut Process, a: Args) -> SysResult {
    let m = stat_path(p, AT_FDCWD, a[0], AT_SYMLINK_NOFOLLOW)?;
    p.uwrite(a[1], &stat64_bytes(&m))?;
    Ok(0)
}

/// fstat64(2).
pub fn fstat64(p: &mut Process, a: Args) -> SysResult {
    let m = p.files.get(a[0])?.file.borrow().metadata()?;
    p.uwrite(a[1], &stat64_bytes(&m))?;
    Ok(0)
}

/// fstatat64(2).
pub fn fstatat64(p: &mut Process, a: Args) -> SysResult {
    let m = stat_path(p, a[0], a[1], a[3])?;
    p.uwrite(a[2], &stat64_bytes(&m))?;
    Ok(0)
}

/// statx(2).
pub fn statx(p: &mut Process, a: Args) -> SysResult {
    let m = stat_path(p, a[0], a[1], a[2])?;
    let mut b = [0u8; 256];
    let put = |b: &mut [u8; 256], o: usize, v: &[u8]| b[o..o + v.len()].copy_from_slice(v);
    put(&mut b, 0, &0x7ffu32.to_le_bytes()); // STATX_BASIC_STATS
    put(&mut b, 4, &(m.blksize() as u32).to_le_bytes());
    put(&mut b, 16, &(m.nlink() as u32).to_le_bytes());
    put(&mut b, 20, &m.uid().to_le_bytes());
    put(&mut b, 24, &m.gid().to_le_bytes());
    put(&mut b, 28, &(m.mode() as u16).to_le_bytes());
    put(&mut b, 32, &m.ino().to_le_bytes());
    put(&mut b, 40, &m.size().to_le_bytes());
    put(&mut b, 48, &m.blocks().to_le_bytes());
    for (o, s, ns) in
        [(64, m.atime(), m.atime_nsec()), (96, m.ctime(), m.ctime_nsec()), (112, m.mtime(), m.mtime_nsec())]
    {
        put(&mut b, o, &s.to_le_bytes());
        put(&mut b, o + 8, &(ns as u32).to_le_bytes());
    }
    let (rdev, dev) = (m.rdev(), m.dev());
    put(&mut b, 128, &(rustix::fs::major(rdev)).to_le_bytes());
    put(&mut b, 132, &(rustix::fs::minor(rdev)).to_le_bytes());
    put(&mut b, 136, &(rustix::fs::major(dev)).to_le_bytes());
    put(&mut b, 140, &(rustix::fs::minor(dev)).to_le_bytes());
    p.uwrite(a[4], &b)?;
    Ok(0)
}

fn do_access(p: &mut Process, dirfd: u32, path: u32, mode: u32) -> SysResult {
    let name = path_arg(p, path)?;
    let hp = resolve(p, dirfd, &name)?;
    let m = std::fs::metadata(&hp)?;
    if mode & 2 != 0 {
        return Err(Errno::EROFS);
    }
    if mode & 1 != 0 && m.mode() & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    Ok(0)
}

/// access(2).
pub fn access(p: &mut Process, a: Args) -> SysResult {
    do_access(p, AT_FDCWD, a[0], a[1])
}

/// faccessat(2).
pub fn faccessat(p: &mut Process, a: Args) -> SysResult {
    do_access(p, a[0], a[1], a[2])
}

/// faccessat2(2).
pub fn faccessat2(p: &mut Process, a: Args) -> SysResult {
    do_access(p, a[0], a[1], a[2])
}

fn do_readlink(p: &mut Process, dirfd: u32, path: u32, buf: u32, size: u32) -> SysResult {
    use std::os::unix::ffi::OsStrExt;
    let name = path_arg(p, path)?;
    let target = if name == b"/proc/self/exe" {
        p.exe.as_os_str().as_bytes().to_vec()
    } else {
        let hp = resolve(p, dirfd, &name)?;
        std::fs::read_link(hp)?.as_os_str().as_bytes().to_vec()
    };
    if size as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    let n = target.len().min(size as usize);
    p.uwrite(buf, &target[..n])?;
    Ok(n as u32)
}

/// readlink(2).
pub fn readlink(p: &mut Process, a: Args) -> SysResult {
    do_readlink(p, AT_FDCWD, a[0], a[1], a[2])
}

/// readlinkat(2).
pub fn readlinkat(p: &mut Process, a: Args) -> SysResult {
    do_readlink(p, a[0], a[1], a[2], a[3])
}

/// getdents64(2): directory entries as `struct linux_dirent64`.
pub fn getdents64(p: &mut Process, a: Args) -> SysResult {
    use std::os::unix::ffi::OsStrExt;
    let (fd, buf, size) = (a[0], a[1], a[2] as usize);
    let f = p.files.get(fd)?.file.clone();
    let mut f = f.borrow_mut();
    let Object::Dir { path, pos, .. } = &mut f.obj else {
        return Err(Errno::ENOTDIR);
    };
    let mut names: Vec<(Vec<u8>, u64, u8)> = vec![(b".".to_vec(), 0, 4), (b"..".to_vec(), 0, 4)];
    let mut rest: Vec<(Vec<u8>, u64, u8)> = std::fs::read_dir(&*path)?
        .filter_map(|e| e.ok())
        .map(|e| {
            let ft = e.file_type().ok();
            let ty = match ft {
                Some(t) if t.is_dir() => 4,
                Some(t) if t.is_symlink() => 10,
                Some(t) if t.is_file() => 8,
                Some(t) if t.is_char_device() => 2,
                Some(t) if t.is_block_device() => 6,
                Some(t) if t.is_fifo() => 1,
                Some(t) if t.is_socket() => 12,
                _ => 0,
            };
            (e.file_name().as_bytes().to_vec(), e.ino(), ty)
        })
        .collect();
    rest.sort();
    names.extend(rest);
    let mut out = Vec::new();
    while *pos < names.len() {
        let (name, ino, ty) = &names[*pos];
        let reclen = (19 + name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > size {
            break;
        }
        let start = out.len();
        out.extend_from_slice(&ino.max(&1).to_le_bytes());
        out.extend_from_slice(&((*pos + 1) as u64).to_le_bytes());
        out.extend_from_slice(&(reclen as u16).to_le_bytes());
        out.push(*ty);
        out.extend_from_slice(name);
        out.resize(start + reclen, 0);
        *pos += 1;
    }
    if out.is_empty() && *pos < names.len() {
        return Err(Errno::EINVAL);
    }
    drop(f);
    p.uwrite(buf, &out)?;
    Ok(out.len() as u32)
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

/// pipe2(2): a host pipe (T1; T4 brings the kernel's own).
pub fn pipe2(p: &mut Process, a: Args) -> SysResult {
    let flags = a[1];
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    p.ucheck_write(a[0], 8)?;
    let (r, w) = rustix::pipe::pipe().map_err(|e| Errno::from_host(e.raw_os_error()))?;
    let cloexec = flags & O_CLOEXEC != 0;
    let rfd = p.files.install(OpenFile { obj: Object::Stdio(r.into()), flags: flags & O_NONBLOCK }, cloexec)?;
    let wfd = match p
        .files
        .install(OpenFile { obj: Object::Stdio(w.into()), flags: O_WRONLY | (flags & O_NONBLOCK) }, cloexec)
    {
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

/// memfd_create(2): an anonymous file in memory (a host memfd).
pub fn memfd_create(p: &mut Process, a: Args) -> SysResult {
    let name = path_arg(p, a[0])?;
    if name.len() > 249 {
        return Err(Errno::EINVAL);
    }
    if a[1] & !3 != 0 {
        return Err(Errno::EINVAL);
    }
    let fd = rustix::fs::memfd_create("vxos-guest-memfd", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| Errno::from_host(e.raw_os_error()))?;
    let obj = Object::File(std::fs::File::from(fd));
    p.files.install(OpenFile { obj, flags: O_RDWR }, a[1] & 1 != 0)
}

fn do_ftruncate(p: &mut Process, fd: u32, len: i64) -> SysResult {
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let f = p.files.get(fd)?.file.clone();
    let f = f.borrow();
    match &f.obj {
        Object::File(h) if f.flags & O_ACCMODE != 0 => {
            h.set_len(len as u64)?;
            Ok(0)
        }
        Object::Dir { .. } => Err(Errno::EISDIR),
        _ => Err(Errno::EINVAL),
    }
}

/// ftruncate(2).
pub fn ftruncate(p: &mut Process, a: Args) -> SysResult {
    do_ftruncate(p, a[0], a[1] as i32 as i64)
}

/// ftruncate64(2): the length in two registers.
pub fn ftruncate64(p: &mut Process, a: Args) -> SysResult {
    do_ftruncate(p, a[0], (a[1] as u64 | (a[2] as u64) << 32) as i64)
}
