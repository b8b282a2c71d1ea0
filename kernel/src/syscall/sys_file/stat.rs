//! Stat: the i386 stat, stat64, statx and statfs layouts of what a file
//! is.

use super::*;

/// What the stat family reports, from a device's Stat or a host file.
pub(super) struct Kstat {
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
pub(super) fn fd_kstat(p: &Process, fd: u32) -> SysResult<Kstat> {
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

pub(super) fn path_kstat(p: &mut Process, dirfd: u32, path: u32, flags: u32) -> SysResult<Kstat> {
    let name = path_arg(p, path)?;
    if name.is_empty() && flags & AT_EMPTY_PATH != 0 {
        if dirfd == AT_FDCWD {
            return Kstat::of(&p.fs.cwd);
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
pub(super) fn statfs_of(c: &Chan) -> [u32; 21] {
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

pub(super) fn put_statfs64(p: &mut Process, c: &Chan, size: u32, buf: u32) -> SysResult {
    if size != 84 {
        return Err(Errno::EINVAL);
    }
    let v = statfs_of(c);
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    p.uwrite(buf, &bytes[..84])?;
    Ok(0)
}

pub(super) fn put_statfs(p: &mut Process, c: &Chan, buf: u32) -> SysResult {
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
    let c = fd_chan(p, a[0]).or_else(|e| if e == Errno::ENOTDIR { Ok(p.fs.cwd.clone()) } else { Err(e) })?;
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
    let c = fd_chan(p, a[0]).or_else(|e| if e == Errno::ENOTDIR { Ok(p.fs.cwd.clone()) } else { Err(e) })?;
    put_statfs(p, &c, a[1])
}
