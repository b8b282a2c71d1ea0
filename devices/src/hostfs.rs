//! hostfs (`#Z`): a host directory served as a device, read-only unless
//! asked otherwise.
//!
//! Files are named by their host inode. Every host access goes through
//! openat2(2) relative to the bound directory with RESOLVE_BENEATH and
//! RESOLVE_NO_SYMLINKS, so the host kernel itself refuses any path that
//! would leave the directory or pass through a symbolic link, even if the
//! tree changes underneath (a guest renaming a directory into a link). A
//! link reaches the guest as a link whose target the kernel resolves in the
//! guest's own namespace, so no path, link or `..` leads outside the bound
//! directory (`..` from its root stays there; the namespace moves above it).

use crate::dev::*;
use crate::names;
use parking_lot::Mutex;
use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};
use std::collections::HashMap;
use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A bound host directory.
pub struct Hostfs {
    root: PathBuf,
    /// The bound directory, opened once; every access is beneath it.
    dirfd: OwnedFd,
    writable: bool,
    /// The host device of the bound directory.
    root_dev: u64,
    /// Host-relative path of each file seen, by qid path.
    paths: Mutex<HashMap<u64, PathBuf>>,
    /// Walks answered lately (see `WALK_TTL`): what a name in a directory
    /// (by qid path) was, when, and at which `CHANGES`.
    walks: Mutex<HashMap<(u64, String), Walked>>,
}

/// A walk's answer, kept a moment: the file found (or ENOENT).
struct Walked {
    found: Result<Qid>,
    at: Instant,
    changes: u64,
}

/// How long a walk's answer is taken as still true without asking the
/// host again, as FUSE's default entry timeout (1 s): a program's start
/// looks names up dozens of times (its loader searches every library
/// directory), three host calls each. Changes a hostfs makes itself are
/// seen at once (`CHANGES`); another host program's, within this time.
const WALK_TTL: Duration = Duration::from_secs(1);
/// Answers kept at most (all forgotten past that).
const WALKS_MAX: usize = 8192;
/// Counts changes to host trees made through any hostfs (create, remove,
/// rename, link...): a kept walk answer from before one is not used.
static CHANGES: AtomicU64 = AtomicU64::new(0);

fn kind_of_mode(mode: u32) -> FileType {
    match mode & 0o170000 {
        0o040000 => FileType::Dir,
        0o120000 => FileType::Symlink,
        0o020000 => FileType::CharDev,
        0o060000 => FileType::BlockDev,
        0o010000 => FileType::Fifo,
        0o140000 => FileType::Socket,
        _ => FileType::File,
    }
}

/// The qid of a host file: its inode number, with the device folded into
/// the high bits for files on another host file system than the bound
/// directory's (so most inode numbers stay small, as 32-bit stat needs);
/// the version follows mtime.
fn qid_of(m: &rustix::fs::Stat, root_dev: u64) -> Qid {
    let path = if m.st_dev == root_dev { m.st_ino } else { m.st_ino ^ (m.st_dev << 48) };
    Qid { path, vers: (m.st_mtime as u32) ^ (m.st_mtime_nsec as u32), kind: kind_of_mode(m.st_mode) }
}

fn valid_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Errno::EINVAL);
    }
    if names::encode(name).len() > 255 {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

impl Hostfs {
    /// Serve host directory `root`; writes are refused unless `writable`.
    pub fn new(root: &Path, writable: bool) -> std::io::Result<Hostfs> {
        let root = fs::canonicalize(root)?;
        if !fs::metadata(&root)?.is_dir() {
            return Err(std::io::Error::from_raw_os_error(20));
        }
        let dirfd = rustix::fs::open(&root, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        let root_dev = rustix::fs::fstat(&dirfd)?.st_dev;
        Ok(Hostfs {
            root,
            dirfd,
            writable,
            root_dev,
            paths: Mutex::new(HashMap::new()),
            walks: Mutex::new(HashMap::new()),
        })
    }

    /// Return the host directory served (for namespace descriptions).
    pub fn host_root(&self) -> &Path {
        &self.root
    }

    /// Open `rel` beneath the bound directory, never through a symbolic
    /// link (a final link opens only with O_PATH, as itself).
    fn beneath(&self, rel: &Path, flags: OFlags) -> Result<OwnedFd> {
        let rel = if rel.as_os_str().is_empty() { Path::new(".") } else { rel };
        rustix::fs::openat2(
            &self.dirfd,
            rel,
            flags | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| Errno(e.raw_os_error()))
    }

    /// Open a file this device handed out, as a std File for I/O.
    fn file(&self, q: Qid, flags: OFlags) -> Result<fs::File> {
        if q.kind == FileType::Symlink {
            return Err(Errno::ELOOP);
        }
        Ok(fs::File::from(self.beneath(&self.rel(q)?, flags)?))
    }

    /// Open the directory holding new entry `name` of directory `dir`.
    fn dir_fd(&self, dir: Qid) -> Result<OwnedFd> {
        self.beneath(&self.rel(dir)?, OFlags::PATH | OFlags::DIRECTORY)
    }

    fn remember(&self, rel: PathBuf, m: &rustix::fs::Stat) -> Qid {
        let q = qid_of(m, self.root_dev);
        self.paths.lock().insert(q.path, rel);
        q
    }

    fn rel(&self, q: Qid) -> Result<PathBuf> {
        self.paths.lock().get(&q.path).cloned().ok_or(Errno::ENOENT)
    }

    /// Follow a rename of `from` to `to` in the remembered paths (and of
    /// `to` to `from` for an exchange, `swap`).
    fn moved(&self, from: &Path, to: &Path, swap: Option<&Path>) {
        let mut paths = self.paths.lock();
        for p in paths.values_mut() {
            if let Ok(rest) = p.strip_prefix(from) {
                *p = to.join(rest);
            } else if let Some(Ok(rest)) = swap.map(|s| p.strip_prefix(s)) {
                *p = from.join(rest);
            }
        }
    }

    fn check_writable(&self) -> Result<()> {
        if self.writable {
            Ok(())
        } else {
            Err(Errno::EROFS)
        }
    }

    /// Check that names may be changed, and note that they are about to
    /// be (walk answers kept from before are not used again).
    fn check_renamable(&self) -> Result<()> {
        self.check_writable()?;
        CHANGES.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Walk from directory `from` to `name` on the host.
    fn walk_host(&self, from: Qid, name: &str) -> Result<Qid> {
        let rel = self.rel(from)?;
        let next = match name {
            "." | "" => rel,
            ".." => rel.parent().map(Path::to_path_buf).unwrap_or_default(),
            _ => {
                valid_name(name)?;
                rel.join(names::host(name))
            }
        };
        // A host symlink is a file here, never followed.
        let fd = self.beneath(&next, OFlags::PATH)?;
        let m = rustix::fs::fstat(&fd).map_err(|e| Errno(e.raw_os_error()))?;
        Ok(self.remember(next, &m))
    }
}

impl Dev for Hostfs {
    fn dc(&self) -> char {
        'Z'
    }

    fn name(&self) -> &'static str {
        "hostfs"
    }

    fn attach(&self, _spec: &str) -> Result<Qid> {
        let m = rustix::fs::fstat(&self.dirfd).map_err(|e| Errno(e.raw_os_error()))?;
        Ok(self.remember(PathBuf::new(), &m))
    }

    fn walk(&self, from: Qid, name: &str) -> Result<Qid> {
        if !from.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        // Answers kept a moment (see WALK_TTL). Only names: every access
        // to a file still opens it beneath the bound directory.
        let key = (from.path, name.to_string());
        let now = Instant::now();
        let changes = CHANGES.load(Ordering::Acquire);
        if let Some(w) = self.walks.lock().get(&key) {
            if w.changes == changes && now.duration_since(w.at) < WALK_TTL {
                return w.found;
            }
        }
        let found = self.walk_host(from, name);
        if matches!(found, Ok(_) | Err(Errno::ENOENT)) {
            let mut walks = self.walks.lock();
            if walks.len() >= WALKS_MAX {
                walks.clear();
            }
            walks.insert(key, Walked { found, at: now, changes });
        }
        found
    }

    fn stat(&self, q: Qid) -> Result<Stat> {
        let fd = self.beneath(&self.rel(q)?, OFlags::PATH)?;
        let m = rustix::fs::fstat(&fd).map_err(|e| Errno(e.raw_os_error()))?;
        let t = |s: u64, ns: u64| Time { sec: s as i64, nsec: ns as u32 };
        Ok(Stat {
            qid: qid_of(&m, self.root_dev),
            perm: m.st_mode & 0o7777,
            nlink: m.st_nlink as u32,
            uid: m.st_uid,
            gid: m.st_gid,
            size: m.st_size as u64,
            blocks: m.st_blocks as u64,
            atime: t(m.st_atime, m.st_atime_nsec),
            mtime: t(m.st_mtime, m.st_mtime_nsec),
            ctime: t(m.st_ctime, m.st_ctime_nsec),
            rdev: m.st_rdev,
        })
    }

    fn open(&self, q: Qid, mode: OpenMode, _cred: Cred) -> Result<Qid> {
        if q.kind == FileType::Symlink {
            return Err(Errno::ELOOP);
        }
        if q.is_dir() && (mode.write || mode.truncate) {
            return Err(Errno::EISDIR);
        }
        if mode.write || mode.truncate {
            self.check_writable()?;
        }
        if mode.truncate && q.kind == FileType::File {
            self.file(q, OFlags::WRONLY | OFlags::TRUNC)?;
        }
        Ok(q)
    }

    fn read(&self, q: Qid, buf: &mut [u8], off: u64) -> Result<usize> {
        if q.is_dir() {
            return Err(Errno::EISDIR);
        }
        Ok(self.file(q, OFlags::RDONLY)?.read_at(buf, off)?)
    }

    fn write(&self, q: Qid, buf: &[u8], off: u64) -> Result<usize> {
        self.check_writable()?;
        if q.is_dir() {
            return Err(Errno::EISDIR);
        }
        Ok(self.file(q, OFlags::WRONLY)?.write_at(buf, off)?)
    }

    fn readdir(&self, q: Qid, start: usize) -> Result<Vec<DirEntry>> {
        if !q.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let rel = self.rel(q)?;
        let fd = self.beneath(&rel, OFlags::RDONLY | OFlags::DIRECTORY)?;
        let mut dir = rustix::fs::Dir::read_from(&fd).map_err(|e| Errno(e.raw_os_error()))?;
        // The host's order, as a program on the host would see it; each
        // entry's inode and type as the host's directory gives them (as
        // getdents(2) reports them), stat'ed only where it does not say.
        // Inode numbers of another host file system than the bound
        // directory's are folded as qid_of folds them.
        let dev = rustix::fs::fstat(&fd).map_err(|e| Errno(e.raw_os_error()))?.st_dev;
        let fold = if dev == self.root_dev { 0 } else { dev << 48 };
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(Ok(e)) = dir.read() {
            let raw = e.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            i += 1;
            if i <= start {
                continue;
            }
            use rustix::fs::FileType as H;
            let kind = match e.file_type() {
                H::RegularFile => FileType::File,
                H::Directory => FileType::Dir,
                H::Symlink => FileType::Symlink,
                H::Fifo => FileType::Fifo,
                H::Socket => FileType::Socket,
                H::CharacterDevice => FileType::CharDev,
                H::BlockDevice => FileType::BlockDev,
                H::Unknown => match rustix::fs::statat(&fd, e.file_name(), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(m) => kind_of_mode(m.st_mode),
                    Err(_) => continue,
                },
            };
            let name = names::decode(raw).into_owned();
            let qid = Qid { path: e.ino() ^ fold, vers: 0, kind };
            self.paths.lock().insert(qid.path, rel.join(names::host(&name)));
            out.push(DirEntry { name, qid });
        }
        Ok(out)
    }

    fn create(&self, dir: Qid, name: &str, kind: FileType, perm: u32, _cred: Cred) -> Result<Qid> {
        self.check_renamable()?;
        valid_name(name)?;
        let name = &names::host(name);
        let d = self.dir_fd(dir)?;
        let mode = Mode::from_raw_mode(perm & 0o7777);
        let io = |e: rustix::io::Errno| Errno(e.raw_os_error());
        match kind {
            FileType::Dir => rustix::fs::mkdirat(&d, name, mode).map_err(io)?,
            FileType::File => {
                let f = rustix::fs::openat(
                    &d,
                    name,
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    mode,
                )
                .map_err(io)?;
                drop(f);
            }
            _ => return Err(Errno::EPERM),
        }
        let m = rustix::fs::statat(&d, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io)?;
        Ok(self.remember(self.rel(dir)?.join(name), &m))
    }

    fn remove(&self, dir: Qid, name: &str, dir_only: bool) -> Result<()> {
        self.check_renamable()?;
        valid_name(name)?;
        let name = &names::host(name);
        let d = self.dir_fd(dir)?;
        let io = |e: rustix::io::Errno| Errno(e.raw_os_error());
        let m = rustix::fs::statat(&d, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io)?;
        let is_dir = kind_of_mode(m.st_mode) == FileType::Dir;
        match (is_dir, dir_only) {
            (true, false) => Err(Errno::EISDIR),
            (false, true) => Err(Errno::ENOTDIR),
            (true, true) => rustix::fs::unlinkat(&d, name, AtFlags::REMOVEDIR).map_err(io),
            (false, false) => rustix::fs::unlinkat(&d, name, AtFlags::empty()).map_err(io),
        }
    }

    fn wstat(&self, q: Qid, w: &Wstat) -> Result<()> {
        self.check_renamable()?;
        let io = |e: rustix::io::Errno| Errno(e.raw_os_error());
        // An O_PATH handle on the file itself (a link stays a link).
        let fd = self.beneath(&self.rel(q)?, OFlags::PATH)?;
        if let Some(p) = w.perm {
            if q.kind == FileType::Symlink {
                return Err(Errno::EOPNOTSUPP);
            }
            let ro = if q.is_dir() { OFlags::RDONLY | OFlags::DIRECTORY } else { OFlags::RDONLY };
            self.file(q, ro)?.set_permissions(fs::Permissions::from_mode(p & 0o7777))?;
        }
        if let Some(size) = w.size {
            self.file(q, OFlags::WRONLY)?.set_len(size)?;
        }
        if w.uid.is_some() || w.gid.is_some() {
            // Through /proc/self/fd: a file's own handle, or for a link its
            // directory's handle and its name (never followed).
            use std::os::fd::AsRawFd;
            if q.kind == FileType::Symlink {
                let rel = self.rel(q)?;
                let name = rel.file_name().ok_or(Errno::EINVAL)?.to_owned();
                let dir = self.beneath(rel.parent().unwrap_or(Path::new("")), OFlags::PATH | OFlags::DIRECTORY)?;
                let path = Path::new("/proc/self/fd").join(dir.as_raw_fd().to_string()).join(name);
                std::os::unix::fs::lchown(path, w.uid, w.gid)?;
            } else {
                let path = Path::new("/proc/self/fd").join(fd.as_raw_fd().to_string());
                std::os::unix::fs::chown(path, w.uid, w.gid)?;
            }
        }
        if w.mtime.is_some() || w.atime.is_some() {
            const UTIME_OMIT: i64 = (1 << 30) - 2;
            let ts = |t: Option<Time>| match t {
                Some(t) => rustix::fs::Timespec { tv_sec: t.sec, tv_nsec: t.nsec as _ },
                None => rustix::fs::Timespec { tv_sec: 0, tv_nsec: UTIME_OMIT as _ },
            };
            let times = rustix::fs::Timestamps { last_access: ts(w.atime), last_modification: ts(w.mtime) };
            rustix::fs::utimensat(&fd, "", &times, AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW).map_err(io)?;
        }
        Ok(())
    }

    fn link(&self, dir: Qid, name: &str, target: Qid) -> Result<()> {
        self.check_renamable()?;
        valid_name(name)?;
        let name = &names::host(name);
        let d = self.dir_fd(dir)?;
        let from = self.beneath(&self.rel(target)?, OFlags::PATH)?;
        rustix::fs::linkat(&from, "", &d, name, AtFlags::EMPTY_PATH).map_err(|e| Errno(e.raw_os_error()))
    }

    fn symlink(&self, dir: Qid, name: &str, target: &str, _cred: Cred) -> Result<Qid> {
        self.check_renamable()?;
        valid_name(name)?;
        let name = &names::host(name);
        let target = &names::host(target);
        let d = self.dir_fd(dir)?;
        let io = |e: rustix::io::Errno| Errno(e.raw_os_error());
        rustix::fs::symlinkat(target, &d, name).map_err(io)?;
        let m = rustix::fs::statat(&d, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io)?;
        Ok(self.remember(self.rel(dir)?.join(name), &m))
    }

    fn readlink(&self, q: Qid) -> Result<String> {
        if q.kind != FileType::Symlink {
            return Err(Errno::EINVAL);
        }
        let fd = self.beneath(&self.rel(q)?, OFlags::PATH)?;
        let t = rustix::fs::readlinkat(&fd, "", Vec::new()).map_err(|e| Errno(e.raw_os_error()))?;
        Ok(names::decode(t.as_bytes()).into_owned())
    }

    fn rename(&self, olddir: Qid, old: &str, newdir: Qid, new: &str) -> Result<()> {
        self.check_renamable()?;
        valid_name(old)?;
        valid_name(new)?;
        let (old, new) = (&names::host(old), &names::host(new));
        let (a, b) = (self.dir_fd(olddir)?, self.dir_fd(newdir)?);
        rustix::fs::renameat(&a, old, &b, new).map_err(|e| Errno(e.raw_os_error()))?;
        self.moved(&self.rel(olddir)?.join(old), &self.rel(newdir)?.join(new), None);
        Ok(())
    }

    fn exchange(&self, adir: Qid, a: &str, bdir: Qid, b: &str) -> Result<()> {
        self.check_renamable()?;
        valid_name(a)?;
        valid_name(b)?;
        let (a, b) = (&names::host(a), &names::host(b));
        let (da, db) = (self.dir_fd(adir)?, self.dir_fd(bdir)?);
        rustix::fs::renameat_with(&da, a, &db, b, rustix::fs::RenameFlags::EXCHANGE)
            .map_err(|e| Errno(e.raw_os_error()))?;
        let (pa, pb) = (self.rel(adir)?.join(a), self.rel(bdir)?.join(b));
        self.moved(&pa, &pb, Some(&pb));
        Ok(())
    }

    fn read_only(&self) -> bool {
        !self.writable
    }

    fn host_file(&self, q: Qid, mode: OpenMode) -> Option<Result<fs::File>> {
        if q.kind != FileType::File {
            return None;
        }
        let flags = match (mode.read, mode.write) {
            (_, false) => OFlags::RDONLY,
            (false, true) => OFlags::WRONLY,
            (true, true) => OFlags::RDWR,
        };
        if mode.write && !self.writable {
            return Some(Err(Errno::EROFS));
        }
        Some(self.file(q, flags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vxos-hostfs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn walk(h: &Hostfs, path: &str) -> Result<Qid> {
        let mut q = h.attach("")?;
        for e in path.split('/').filter(|e| !e.is_empty()) {
            q = h.walk(q, e)?;
        }
        Ok(q)
    }

    #[test]
    fn reads_and_lists_a_host_tree() {
        let d = scratch("read");
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(d.join("sub/f"), b"hello").unwrap();
        let h = Hostfs::new(&d, false).unwrap();
        let f = walk(&h, "sub/f").unwrap();
        let mut b = [0u8; 5];
        assert_eq!(h.read(f, &mut b, 0).unwrap(), 5);
        assert_eq!(&b, b"hello");
        assert_eq!(h.stat(f).unwrap().size, 5);
        let names: Vec<String> = h.readdir(walk(&h, "sub").unwrap(), 0).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, vec!["f"]);
        assert_eq!(walk(&h, "nope").unwrap_err(), Errno::ENOENT);
    }

    #[test]
    fn names_changed_through_hostfs_are_seen_at_once() {
        let d = scratch("walks");
        let h = Hostfs::new(&d, true).unwrap();
        let root = h.attach("").unwrap();
        // Not there, asked twice (the second answer may be a kept one).
        assert_eq!(walk(&h, "f").unwrap_err(), Errno::ENOENT);
        assert_eq!(walk(&h, "f").unwrap_err(), Errno::ENOENT);
        let f = h.create(root, "f", FileType::File, 0o644, Cred::ROOT).unwrap();
        assert_eq!(walk(&h, "f").unwrap().path, f.path, "created: found at once");
        h.rename(root, "f", root, "g").unwrap();
        assert_eq!(walk(&h, "f").unwrap_err(), Errno::ENOENT, "renamed away");
        assert_eq!(walk(&h, "g").unwrap().path, f.path);
        // Through another hostfs on the same directory too.
        let other = Hostfs::new(&d, true).unwrap();
        let oroot = other.attach("").unwrap();
        other.remove(oroot, "g", false).unwrap();
        assert_eq!(walk(&h, "g").unwrap_err(), Errno::ENOENT, "removed through another hostfs");
        // A change behind vxos's back is seen once the answer is old.
        assert_eq!(walk(&h, "h").unwrap_err(), Errno::ENOENT);
        fs::write(d.join("h"), b"x").unwrap();
        std::thread::sleep(WALK_TTL);
        assert!(walk(&h, "h").is_ok(), "made on the host: seen within WALK_TTL");
    }

    #[test]
    fn read_only_unless_asked() {
        let d = scratch("ro");
        fs::write(d.join("f"), b"x").unwrap();
        let h = Hostfs::new(&d, false).unwrap();
        let root = h.attach("").unwrap();
        let f = walk(&h, "f").unwrap();
        assert_eq!(h.write(f, b"y", 0).unwrap_err(), Errno::EROFS);
        assert_eq!(h.create(root, "g", FileType::File, 0o644, Cred::ROOT).unwrap_err(), Errno::EROFS);
        assert_eq!(h.remove(root, "f", false).unwrap_err(), Errno::EROFS);
        let w = Hostfs::new(&d, true).unwrap();
        let root = w.attach("").unwrap();
        let g = w.create(root, "g", FileType::File, 0o600, Cred::ROOT).unwrap();
        assert_eq!(w.write(g, b"data", 0).unwrap(), 4);
        assert_eq!(fs::read(d.join("g")).unwrap(), b"data");
        w.rename(root, "g", root, "h").unwrap();
        assert!(d.join("h").exists());
        w.remove(root, "h", false).unwrap();
        assert!(!d.join("h").exists());
    }

    #[test]
    fn a_directory_swapped_for_a_link_is_not_followed() {
        let outside = scratch("swap-out");
        fs::write(outside.join("x"), b"host").unwrap();
        let d = scratch("swap");
        fs::create_dir(d.join("a")).unwrap();
        fs::write(d.join("a/x"), b"jail").unwrap();
        let h = Hostfs::new(&d, true).unwrap();
        let x = walk(&h, "a/x").unwrap();
        // Behind the device's back, `a` becomes a link to the outside.
        fs::rename(d.join("a"), d.join("old")).unwrap();
        std::os::unix::fs::symlink(&outside, d.join("a")).unwrap();
        let mut b = [0u8; 4];
        assert!(h.read(x, &mut b, 0).is_err(), "read through a swapped-in link");
        assert!(h.write(x, b"evil", 0).is_err());
        assert_eq!(fs::read(outside.join("x")).unwrap(), b"host");
    }

    #[test]
    fn symlinks_and_dotdot_never_leave_the_root() {
        let outside = scratch("outside");
        fs::write(outside.join("secret"), b"host secret").unwrap();
        let d = scratch("jail");
        std::os::unix::fs::symlink(outside.join("secret"), d.join("abs")).unwrap();
        std::os::unix::fs::symlink("../outside-rel", d.join("rel")).unwrap();
        std::os::unix::fs::symlink(&outside, d.join("dirlink")).unwrap();
        let h = Hostfs::new(&d, false).unwrap();
        // A link is a link: walking through it is not possible here, and
        // its target is only text for the guest's namespace to resolve.
        let l = walk(&h, "abs").unwrap();
        assert_eq!(l.kind, FileType::Symlink);
        let mut b = [0u8; 4];
        assert_eq!(h.read(l, &mut b, 0).unwrap_err(), Errno::ELOOP);
        assert_eq!(walk(&h, "dirlink/secret").unwrap_err(), Errno::ENOTDIR);
        assert_eq!(h.readlink(walk(&h, "rel").unwrap()).unwrap(), "../outside-rel");
        // `..` from the root stays at the root.
        let up = walk(&h, "../..").unwrap();
        assert_eq!(up, h.attach("").unwrap());
        let names: Vec<String> = h.readdir(up, 0).unwrap().into_iter().map(|e| e.name).collect();
        assert!(!names.contains(&"secret".to_string()));
    }
}
