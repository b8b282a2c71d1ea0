//! The device interface: every file server in vxos is a `Dev`, the Rust
//! form of Plan 9's Dev table (attach, walk, stat, open, read, write,
//! create, remove, wstat, clunk), plus the few operations a Linux view
//! needs that Plan 9 folds into others (links, symlinks, rename).
//!
//! A device names its files by `Qid`: a 64-bit path unique within the
//! device, a version that changes when the file does, and a type. The
//! kernel holds (device, qid) pairs in channels; namespaces decide which
//! device serves which path. Devices know nothing of processes.
//!
//! Errors are Linux errno values (`Errno`), since that is what guests see.

use std::fmt;

/// A Linux errno, as the i386 ABI numbers them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const EPERM: Errno = Errno(1);
    pub const ENOENT: Errno = Errno(2);
    pub const EIO: Errno = Errno(5);
    pub const EBADF: Errno = Errno(9);
    pub const EAGAIN: Errno = Errno(11);
    pub const ENOMEM: Errno = Errno(12);
    pub const EACCES: Errno = Errno(13);
    pub const EEXIST: Errno = Errno(17);
    pub const EXDEV: Errno = Errno(18);
    pub const ENOTDIR: Errno = Errno(20);
    pub const EISDIR: Errno = Errno(21);
    pub const EINVAL: Errno = Errno(22);
    pub const EFBIG: Errno = Errno(27);
    pub const ENOSPC: Errno = Errno(28);
    pub const EROFS: Errno = Errno(30);
    pub const EMLINK: Errno = Errno(31);
    pub const ENAMETOOLONG: Errno = Errno(36);
    pub const ENOSYS: Errno = Errno(38);
    pub const ENOTEMPTY: Errno = Errno(39);
    pub const ELOOP: Errno = Errno(40);
    pub const ENODATA: Errno = Errno(61);
    pub const EOPNOTSUPP: Errno = Errno(95);
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Errno({})", self.0)
    }
}

impl From<std::io::Error> for Errno {
    fn from(e: std::io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(5))
    }
}

pub type Result<T> = std::result::Result<T, Errno>;

/// The kind of a file, as a Qid records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    File,
    Dir,
    Symlink,
    CharDev,
    BlockDev,
    Fifo,
    Socket,
}

impl FileType {
    /// The S_IFMT bits of a Linux mode.
    pub fn mode_bits(self) -> u32 {
        match self {
            FileType::File => 0o100000,
            FileType::Dir => 0o040000,
            FileType::Symlink => 0o120000,
            FileType::CharDev => 0o020000,
            FileType::BlockDev => 0o060000,
            FileType::Fifo => 0o010000,
            FileType::Socket => 0o140000,
        }
    }

    /// The d_type of a Linux directory entry.
    pub fn dirent_type(self) -> u8 {
        match self {
            FileType::Fifo => 1,
            FileType::CharDev => 2,
            FileType::Dir => 4,
            FileType::BlockDev => 6,
            FileType::File => 8,
            FileType::Symlink => 10,
            FileType::Socket => 12,
        }
    }
}

/// A file's identity within its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Qid {
    /// Unique within the device for the life of the file (the inode).
    pub path: u64,
    /// Changes whenever the file's contents change.
    pub vers: u32,
    pub kind: FileType,
}

impl Qid {
    pub fn is_dir(&self) -> bool {
        self.kind == FileType::Dir
    }
}

/// A point in time, as Linux keeps file times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Time {
    pub sec: i64,
    pub nsec: u32,
}

impl Time {
    /// Return the host's current real time.
    pub fn now() -> Time {
        let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Time { sec: d.as_secs() as i64, nsec: d.subsec_nanos() }
    }
}

/// What `stat` tells about a file (Plan 9's Dir, with Linux's fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    pub qid: Qid,
    /// Permission bits and set-id/sticky bits (not the type).
    pub perm: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// 512-byte blocks allocated (sparse files allocate less than `size`).
    pub blocks: u64,
    pub atime: Time,
    pub mtime: Time,
    pub ctime: Time,
    /// Device number for character and block devices.
    pub rdev: u64,
}

impl Stat {
    /// The Linux st_mode: type and permissions.
    pub fn mode(&self) -> u32 {
        self.qid.kind.mode_bits() | (self.perm & 0o7777)
    }
}

/// A change `wstat` applies; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wstat {
    pub perm: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Truncate or extend (with a hole) to this size.
    pub size: Option<u64>,
    pub atime: Option<Time>,
    pub mtime: Option<Time>,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub qid: Qid,
}

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenMode {
    pub read: bool,
    pub write: bool,
    /// Truncate to zero length on open.
    pub truncate: bool,
    pub append: bool,
}

impl OpenMode {
    pub const READ: OpenMode = OpenMode { read: true, write: false, truncate: false, append: false };
    pub const WRITE: OpenMode = OpenMode { read: false, write: true, truncate: false, append: false };
    pub const RDWR: OpenMode = OpenMode { read: true, write: true, truncate: false, append: false };
}

/// The credentials a request is made with, for permission checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cred {
    pub uid: u32,
    pub gid: u32,
}

impl Cred {
    pub const ROOT: Cred = Cred { uid: 0, gid: 0 };
}

/// A file server. Every method but `attach`, `walk` and `stat` has a
/// default answering as a device that does not support the operation.
pub trait Dev: Send + Sync {
    /// The device's Plan 9-style letter (`#r` has 'r').
    fn dc(&self) -> char;

    /// A short name for messages and /dev/kinfo ("ramfs", "null").
    fn name(&self) -> &'static str;

    /// Return the root of the tree this device serves for `spec`.
    fn attach(&self, spec: &str) -> Result<Qid>;

    /// Walk one path element from directory `from`. ".." from the root of
    /// the device returns the root; the namespace handles mount points.
    fn walk(&self, from: Qid, name: &str) -> Result<Qid>;

    /// Describe a file.
    fn stat(&self, q: Qid) -> Result<Stat>;

    /// Prepare a file for I/O; may return another qid to do I/O on (a
    /// clone file). Permission checks happen here.
    fn open(&self, q: Qid, mode: OpenMode, _cred: Cred) -> Result<Qid> {
        if q.is_dir() && (mode.write || mode.truncate) {
            return Err(Errno::EISDIR);
        }
        Ok(q)
    }

    /// Read from a file at `off`; 0 is the end of the file.
    fn read(&self, q: Qid, _buf: &mut [u8], _off: u64) -> Result<usize> {
        Err(if q.is_dir() { Errno::EISDIR } else { Errno::EINVAL })
    }

    /// Write to a file at `off` (the end with `append` opens, decided by
    /// the caller).
    fn write(&self, q: Qid, _buf: &[u8], _off: u64) -> Result<usize> {
        Err(if q.is_dir() { Errno::EISDIR } else { Errno::EINVAL })
    }

    /// List a directory from entry `start` on (without "." and "..").
    fn readdir(&self, q: Qid, _start: usize) -> Result<Vec<DirEntry>> {
        Err(if q.is_dir() { Errno::EIO } else { Errno::ENOTDIR })
    }

    /// Create `name` in directory `dir`: a file, a directory, or a special
    /// file (`kind`), with permission bits `perm`.
    fn create(&self, _dir: Qid, _name: &str, _kind: FileType, _perm: u32, _cred: Cred) -> Result<Qid> {
        Err(Errno::EROFS)
    }

    /// Remove `name` from directory `dir` (a directory must be empty; `dir_only`
    /// demands one, as rmdir does).
    fn remove(&self, _dir: Qid, _name: &str, _dir_only: bool) -> Result<()> {
        Err(Errno::EROFS)
    }

    /// Change a file's attributes.
    fn wstat(&self, _q: Qid, _w: &Wstat) -> Result<()> {
        Err(Errno::EROFS)
    }

    /// The channel on `q` is closed.
    fn clunk(&self, _q: Qid) {}

    /// Make `name` in `dir` another link to `target`.
    fn link(&self, _dir: Qid, _name: &str, _target: Qid) -> Result<()> {
        Err(Errno::EPERM)
    }

    /// Create symbolic link `name` in `dir` pointing at `target`.
    fn symlink(&self, _dir: Qid, _name: &str, _target: &str, _cred: Cred) -> Result<Qid> {
        Err(Errno::EROFS)
    }

    /// Return a symbolic link's target.
    fn readlink(&self, _q: Qid) -> Result<String> {
        Err(Errno::EINVAL)
    }

    /// Move `old` in `olddir` to `new` in `newdir` (same device), replacing
    /// a compatible existing `new`.
    fn rename(&self, _olddir: Qid, _old: &str, _newdir: Qid, _new: &str) -> Result<()> {
        Err(Errno::EROFS)
    }

    /// Swap `a` in `adir` and `b` in `bdir` atomically (renameat2's
    /// RENAME_EXCHANGE); both must exist.
    fn exchange(&self, _adir: Qid, _a: &str, _bdir: Qid, _b: &str) -> Result<()> {
        Err(Errno::EINVAL)
    }

    /// Wait at most `timeout` for input that a read of `q` would take
    /// without waiting; false if none came. For host threads that must stay
    /// able to give up a read (the FUSE export's): devices whose reads wait
    /// on the host say when they would not; the rest say true at once.
    fn await_input(&self, _q: Qid, _timeout: std::time::Duration) -> bool {
        true
    }

    /// Report whether the device refuses every change (a read-only
    /// mount), for access(2)'s W_OK and statfs's flags.
    fn read_only(&self) -> bool {
        false
    }

    /// A host file holding `q`'s contents, opened for `mode`, for devices
    /// that keep files on the host: the kernel then moves data between it
    /// and guest memory directly instead of through `read` and `write`.
    /// `None` for devices that serve I/O themselves.
    fn host_file(&self, _q: Qid, _mode: OpenMode) -> Option<Result<std::fs::File>> {
        None
    }
}
