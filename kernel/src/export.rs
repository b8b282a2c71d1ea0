//! The FUSE export: a guest's namespace served on a host directory
//! (`vxos boot|run --export DIR`), through the fuser crate.
//!
//! Host requests become namespace walks and device calls, made on the
//! FUSE session's host thread under the kernel lock (`sched::HostKernel`),
//! so they see the guest's files as a guest process of the exported
//! namespace would, and a wakeup they cause is never lost. Reads and
//! writes that may wait (the cmd device's files, the console) run on a
//! thread of their own, so a waiting reader never stops the server.
//!
//! An inode is a path in the namespace: the host's inode numbers name the
//! names walked from the root, and each request walks them again, so
//! unions, mounts and `..` behave as in the guest. Open files keep the
//! channel the device opened. Every file appears owned by the host user
//! who runs vxos; the devices check permissions with the guest's
//! credentials, which are that user's ids. Files without any write
//! permission refuse writes with EACCES, read-only devices with EROFS.
//! Absolute symbolic links are shown under the mount point, so that the
//! host resolves them inside the guest's tree. Attributes are never
//! cached (TTL 0) and I/O is direct, since device files have no size.
//!
//! The export is unmounted when vxos exits, also on SIGTERM, SIGINT,
//! SIGHUP and SIGQUIT (`unmount`); a stale mount left by a vxos that was
//! killed outright is reported with the command that clears it.

use crate::ns::{Chan, NsRef};
use crate::sched::HostKernel;
use devices::{Cred, Dev, Errno, FileType, OpenMode, Stat, Time, Wstat};
use fuser::{
    FileAttr, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Attributes and entries are looked up afresh each time.
const TTL: Duration = Duration::ZERO;

/// Map a device error to the host's errno (i386 and x86-64 Linux number
/// them alike).
fn fuse_err(e: Errno) -> fuser::Errno {
    fuser::Errno::from_i32(e.0)
}

/// The inode table: paths in the namespace by inode number and back.
#[derive(Default)]
struct Inodes {
    paths: HashMap<u64, Vec<String>>,
    numbers: HashMap<Vec<String>, u64>,
    next: u64,
}

impl Inodes {
    /// The number of `path`, given one if it has none.
    fn intern(&mut self, path: Vec<String>) -> u64 {
        if let Some(&n) = self.numbers.get(&path) {
            return n;
        }
        let n = self.next;
        self.next += 1;
        self.paths.insert(n, path.clone());
        self.numbers.insert(path, n);
        n
    }
}

/// An open file: the channel the device opened, for I/O.
struct Handle {
    chan: Chan,
    /// Clunk the channel when the host closes it.
    opened: bool,
    append: bool,
}

/// The exported namespace and what the server keeps about it.
struct Inner {
    ns: NsRef,
    mountpoint: PathBuf,
    inodes: Mutex<Inodes>,
    handles: Mutex<HashMap<u64, Handle>>,
    next_fh: std::sync::atomic::AtomicU64,
    /// The host user, owner of every file.
    uid: u32,
    gid: u32,
    /// The credentials devices check (the guest's, which are the host user's).
    cred: Cred,
}

type Res<T> = Result<T, Errno>;

impl Inner {
    fn path_of(&self, ino: INodeNo) -> Res<Vec<String>> {
        self.inodes.lock().paths.get(&ino.0).cloned().ok_or(Errno::ENOENT)
    }

    /// Walk to inode `ino` afresh.
    fn chan(&self, ino: INodeNo) -> Res<Chan> {
        let path = self.path_of(ino)?;
        self.ns.walk_from_root(&path)
    }

    fn child_path(&self, parent: INodeNo, name: &OsStr) -> Res<(Chan, String)> {
        let name = name.to_str().ok_or(Errno::EINVAL)?.to_string();
        Ok((self.chan(parent)?, name))
    }

    fn attr(&self, ino: u64, st: &Stat) -> FileAttr {
        let kind = host_kind(st.qid.kind);
        let size = match st.qid.kind {
            FileType::Symlink => self.link_text_len(st),
            _ => st.size,
        };
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: st.blocks,
            atime: systime(st.atime),
            mtime: systime(st.mtime),
            ctime: systime(st.ctime),
            crtime: systime(st.ctime),
            kind,
            perm: (st.perm & 0o7777) as u16,
            nlink: st.nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// A symbolic link's size is its target's length as the host sees it.
    fn link_text_len(&self, st: &Stat) -> u64 {
        if st.size > 0 {
            st.size + self.mountpoint.as_os_str().len() as u64
        } else {
            0
        }
    }

    /// Look `name` up in `parent`: its inode and attributes.
    fn lookup(&self, parent: INodeNo, name: &OsStr) -> Res<FileAttr> {
        let (dir, name) = self.child_path(parent, name)?;
        let c = self.ns.walk1(&dir, &name)?;
        let st = c.dev.stat(c.qid)?;
        let ino = self.inodes.lock().intern(c.path.clone());
        Ok(self.attr(ino, &st))
    }

    fn getattr(&self, ino: INodeNo, fh: Option<FileHandle>) -> Res<FileAttr> {
        let held = fh.and_then(|fh| self.handles.lock().get(&fh.0).map(|h| h.chan.clone()));
        let c = match held {
            Some(c) => c,
            None => self.chan(ino)?,
        };
        let st = c.dev.stat(c.qid)?;
        Ok(self.attr(ino.0, &st))
    }

    /// Open `c` for the host's `flags`; return a file handle.
    fn open_chan(&self, c: Chan, flags: i32) -> Res<u64> {
        let acc = flags & libc::O_ACCMODE;
        let mode = OpenMode {
            read: acc != libc::O_WRONLY,
            write: acc != libc::O_RDONLY,
            truncate: flags & libc::O_TRUNC != 0,
            append: flags & libc::O_APPEND != 0,
        };
        if mode.write || mode.truncate {
            if c.qid.is_dir() {
                return Err(Errno::EISDIR);
            }
            if c.dev.read_only() {
                return Err(Errno::EROFS);
            }
            if c.dev.stat(c.qid)?.perm & 0o222 == 0 {
                return Err(Errno::EACCES);
            }
        }
        let q = c.dev.open(c.qid, mode, self.cred)?;
        if mode.truncate && c.qid.kind == FileType::File {
            let _ = c.dev.wstat(q, &Wstat { size: Some(0), ..Default::default() });
        }
        let fh = self.next_fh.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let chan = Chan { dev: c.dev, qid: q, path: c.path };
        self.handles.lock().insert(fh, Handle { chan, opened: true, append: mode.append });
        Ok(fh)
    }

    fn handle_chan(&self, fh: FileHandle) -> Res<(Chan, bool)> {
        self.handles.lock().get(&fh.0).map(|h| (h.chan.clone(), h.append)).ok_or(Errno::EBADF)
    }

    fn release(&self, fh: FileHandle) {
        if let Some(h) = self.handles.lock().remove(&fh.0) {
            if h.opened {
                h.chan.dev.clunk(h.chan.qid);
            }
        }
    }

    fn read(&self, fh: FileHandle, off: u64, size: u32) -> Res<Vec<u8>> {
        let (c, _) = self.handle_chan(fh)?;
        let mut buf = vec![0u8; size as usize];
        let n = c.dev.read(c.qid, &mut buf, off)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn write(&self, fh: FileHandle, off: u64, data: &[u8]) -> Res<usize> {
        let (c, append) = self.handle_chan(fh)?;
        let off = if append { c.dev.stat(c.qid)?.size } else { off };
        c.dev.write(c.qid, data, off)
    }

    fn readdir(&self, ino: INodeNo) -> Res<Vec<(u64, fuser::FileType, String)>> {
        let c = self.chan(ino)?;
        let entries = self.ns.readdir(&c)?;
        let mut inodes = self.inodes.lock();
        let parent = if c.path.is_empty() { ino.0 } else { inodes.intern(c.path[..c.path.len() - 1].to_vec()) };
        let mut out =
            vec![(ino.0, fuser::FileType::Directory, ".".into()), (parent, fuser::FileType::Directory, "..".into())];
        for e in entries {
            let mut p = c.path.clone();
            p.push(e.name.clone());
            out.push((inodes.intern(p), host_kind(e.qid.kind), e.name));
        }
        Ok(out)
    }

    /// Make `name` in `parent` (a file, directory or symbolic link); return
    /// its channel.
    fn make(&self, parent: INodeNo, name: &OsStr, kind: FileType, perm: u32, target: Option<&str>) -> Res<Chan> {
        let (dir, name) = self.child_path(parent, name)?;
        if self.ns.walk1(&dir, &name).is_ok() {
            return Err(Errno::EEXIST);
        }
        let t = self.ns.create_target(&dir)?;
        match target {
            Some(target) => t.dev.symlink(t.qid, &name, target, self.cred)?,
            None => t.dev.create(t.qid, &name, kind, perm, self.cred)?,
        };
        self.ns.walk1(&dir, &name)
    }

    fn entry_of(&self, c: &Chan) -> Res<FileAttr> {
        let st = c.dev.stat(c.qid)?;
        let ino = self.inodes.lock().intern(c.path.clone());
        Ok(self.attr(ino, &st))
    }

    fn remove(&self, parent: INodeNo, name: &OsStr, dir_only: bool) -> Res<()> {
        let (dir, name) = self.child_path(parent, name)?;
        let (holder, file) = self.ns.walk_in(&dir, &name)?;
        if self.ns.is_mount_point(&file) {
            return Err(Errno(16)); // EBUSY
        }
        if !dir_only && file.qid.is_dir() {
            return Err(Errno::EISDIR);
        }
        holder.dev.remove(holder.qid, &name, dir_only)
    }

    fn rename(
        &self,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
    ) -> Res<()> {
        let (dir, name) = self.child_path(parent, name)?;
        let (newdir, newname) = self.child_path(newparent, newname)?;
        let (holder, _) = self.ns.walk_in(&dir, &name)?;
        let same = |a: &Arc<dyn Dev>, b: &Arc<dyn Dev>| std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b));
        if flags.contains(RenameFlags::RENAME_EXCHANGE) {
            let (other, _) = self.ns.walk_in(&newdir, &newname)?;
            if !same(&holder.dev, &other.dev) {
                return Err(Errno::EXDEV);
            }
            return holder.dev.exchange(holder.qid, &name, other.qid, &newname);
        }
        if flags.contains(RenameFlags::RENAME_NOREPLACE) && self.ns.walk1(&newdir, &newname).is_ok() {
            return Err(Errno::EEXIST);
        }
        let t = self.ns.create_target(&newdir)?;
        if !same(&holder.dev, &t.dev) {
            return Err(Errno::EXDEV);
        }
        holder.dev.rename(holder.qid, &name, t.qid, &newname)
    }

    #[allow(clippy::too_many_arguments)]
    fn setattr(
        &self,
        ino: INodeNo,
        fh: Option<FileHandle>,
        mode: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
    ) -> Res<FileAttr> {
        let c = match fh.and_then(|fh| self.handle_chan(fh).ok()) {
            Some((c, _)) => c,
            None => self.chan(ino)?,
        };
        let time = |t: TimeOrNow| match t {
            TimeOrNow::Now => Time::now(),
            TimeOrNow::SpecificTime(s) => {
                let d = s.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
                Time { sec: d.as_secs() as i64, nsec: d.subsec_nanos() }
            }
        };
        // Owners are not changed: every file shows as the host user's. A
        // size it has already (truncating a device file) is no change.
        let size = size.filter(|&n| c.dev.stat(c.qid).map_or(true, |st| st.size != n));
        let w = Wstat {
            perm: mode.map(|m| m & 0o7777),
            uid: None,
            gid: None,
            size,
            atime: atime.map(time),
            mtime: mtime.map(time),
        };
        if w != Wstat::default() {
            if size.is_some() && c.dev.stat(c.qid)?.perm & 0o222 == 0 {
                return Err(Errno::EACCES);
            }
            c.dev.wstat(c.qid, &w)?;
        }
        let st = c.dev.stat(c.qid)?;
        Ok(self.attr(ino.0, &st))
    }

    fn readlink(&self, ino: INodeNo) -> Res<Vec<u8>> {
        let c = self.chan(ino)?;
        let target = c.dev.readlink(c.qid)?;
        if target.starts_with('/') {
            let mut p = self.mountpoint.as_os_str().as_encoded_bytes().to_vec();
            p.extend_from_slice(target.as_bytes());
            return Ok(p);
        }
        Ok(target.into_bytes())
    }
}

/// The kind of file the host sees: device files, FIFOs and sockets of the
/// guest are files whose reads and writes the device serves (the host
/// would open its own devices, or refuse them on a nodev mount).
fn host_kind(k: FileType) -> fuser::FileType {
    match k {
        FileType::Dir => fuser::FileType::Directory,
        FileType::Symlink => fuser::FileType::Symlink,
        _ => fuser::FileType::RegularFile,
    }
}

fn systime(t: Time) -> SystemTime {
    if t.sec >= 0 {
        SystemTime::UNIX_EPOCH + Duration::new(t.sec as u64, t.nsec)
    } else {
        SystemTime::UNIX_EPOCH
    }
}

/// Whether I/O on `c` may wait (so runs on a thread of its own).
fn may_wait(c: &Chan) -> bool {
    matches!(c.dev.dc(), 'C' | 'c' | 't')
}

/// The FUSE file system: the shared state, each request under the kernel lock.
struct Export(Arc<Inner>);

/// Run `f` under the kernel lock; EIO once vxos is ending.
fn locked<T>(f: impl FnOnce() -> Res<T>) -> Res<T> {
    let Some(_k) = HostKernel::enter() else { return Err(Errno::EIO) };
    f()
}

impl Filesystem for Export {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match locked(|| self.0.lookup(parent, name)) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        match locked(|| self.0.getattr(ino, fh)) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match locked(|| self.0.setattr(ino, fh, mode, size, atime, mtime)) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match locked(|| self.0.readlink(ino)) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn mkdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        let r = locked(|| {
            let c = self.0.make(parent, name, FileType::Dir, mode & !umask & 0o7777, None)?;
            self.0.entry_of(&c)
        });
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match locked(|| self.0.remove(parent, name, false)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match locked(|| self.0.remove(parent, name, true)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn symlink(&self, _req: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        let r = locked(|| {
            let target = target.to_str().ok_or(Errno::EINVAL)?;
            // A link made through the export to a path under it points
            // at the guest's path.
            let mp = self.0.mountpoint.to_string_lossy();
            let target = target.strip_prefix(&*mp).filter(|t| t.starts_with('/')).unwrap_or(target);
            let c = self.0.make(parent, link_name, FileType::Symlink, 0o777, Some(target))?;
            self.0.entry_of(&c)
        });
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        match locked(|| self.0.rename(parent, name, newparent, newname, flags)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match locked(|| self.0.chan(ino).and_then(|c| self.0.open_chan(c, flags.0))) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        let inner = self.0.clone();
        let go = move || match locked(|| inner.read(fh, offset, size)) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(fuse_err(e)),
        };
        if self.0.handle_chan(fh).is_ok_and(|(c, _)| may_wait(&c)) {
            spawn_waiter(go);
        } else {
            go();
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        let inner = self.0.clone();
        let data = data.to_vec();
        let go = move || match locked(|| inner.write(fh, offset, &data)) {
            Ok(n) => reply.written(n as u32),
            Err(e) => reply.error(fuse_err(e)),
        };
        if self.0.handle_chan(fh).is_ok_and(|(c, _)| may_wait(&c)) {
            spawn_waiter(go);
        } else {
            go();
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let _ = locked(|| {
            self.0.release(fh);
            Ok(())
        });
        reply.ok();
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        match locked(|| self.0.readdir(ino)) {
            Ok(list) => {
                for (i, (n, kind, name)) in list.into_iter().enumerate().skip(offset as usize) {
                    if reply.add(INodeNo(n), (i + 1) as u64, kind, name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(1 << 20, 1 << 19, 1 << 19, 1 << 20, 1 << 19, 4096, 255, 4096);
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let r = locked(|| {
            let c = self.0.make(parent, name, FileType::File, mode & !umask & 0o7777, None)?;
            let a = self.0.entry_of(&c)?;
            // Opened as asked even if the new file's mode forbids it, as
            // open(2) with O_CREAT does.
            let q = c.dev.open(c.qid, OpenMode::RDWR, Cred::ROOT)?;
            let fh = self.0.next_fh.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let append = flags & libc::O_APPEND != 0;
            self.0
                .handles
                .lock()
                .insert(fh, Handle { chan: Chan { dev: c.dev, qid: q, path: c.path }, opened: true, append });
            Ok((a, fh))
        });
        match r {
            Ok((a, fh)) => reply.created(&TTL, &a, Generation(0), FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(fuse_err(e)),
        }
    }
}

/// Run a request that may wait on a thread of its own.
fn spawn_waiter(f: impl FnOnce() + Send + 'static) {
    if let Err(e) = std::thread::Builder::new().name("export-io".into()).spawn(f) {
        eprintln!("vxos: export: cannot start a thread: {e}");
    }
}

/// The mount point while mounted, for `unmount`.
static MOUNTED: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Check that `dir` can take the export: an existing directory (made if
/// missing), not a stale mount of an earlier vxos.
pub fn check_dir(dir: &Path) -> Result<PathBuf, String> {
    match std::fs::metadata(dir) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
            return Err(format!(
                "{}: a stale export left by a vxos that ended without unmounting it; clear it with: fusermount3 -u {}",
                dir.display(),
                dir.display()
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        Err(e) => return Err(format!("{}: {e}", dir.display())),
        Ok(m) if !m.is_dir() => return Err(format!("{}: not a directory", dir.display())),
        Ok(_) => {}
    }
    if !Path::new("/dev/fuse").exists() {
        return Err("the export needs /dev/fuse, which this host lacks".into());
    }
    std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

/// Serve namespace `ns` at `dir` (see `check_dir`) until vxos exits.
/// Call before the vCPUs start (the kernel lock is then shared).
pub fn start(ns: NsRef, dir: &Path) -> Result<(), String> {
    crate::sched::share_kernel();
    crate::sched::add_external();
    crate::devcmd::cmd_device().set_host_ns(ns.clone());
    let ids = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
    let inner = Inner {
        ns,
        mountpoint: dir.to_path_buf(),
        inodes: Mutex::new(Inodes::default()),
        handles: Mutex::new(HashMap::new()),
        next_fh: std::sync::atomic::AtomicU64::new(1),
        uid: ids.0,
        gid: ids.1,
        cred: Cred { uid: ids.0, gid: ids.1 },
    };
    inner.inodes.lock().next = 2;
    inner.inodes.lock().paths.insert(1, Vec::new());
    inner.inodes.lock().numbers.insert(Vec::new(), 1);
    let mut cfg = fuser::Config::default();
    cfg.mount_options = vec![fuser::MountOption::FSName("vxos".into()), fuser::MountOption::Subtype("vxos".into())];
    cfg.n_threads = Some(2);
    let session = fuser::spawn_mount(Export(Arc::new(inner)), dir, &cfg)
        .map_err(|e| format!("cannot mount {}: {e}", dir.display()))?;
    // Unmounted by `unmount` (vxos exits without running destructors).
    std::mem::forget(session);
    *MOUNTED.lock() = Some(dir.to_path_buf());
    // A fatal signal unmounts first, then ends vxos as it would have.
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    if let Ok(mut sigs) = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT, SIGQUIT]) {
        let _ = std::thread::Builder::new().name("export-signals".into()).spawn(move || {
            if let Some(sig) = sigs.forever().next() {
                crate::trace::finish();
                unmount();
                crate::tty::restore();
                let _ = signal_hook::low_level::emulate_default_handler(sig);
                std::process::exit(128 + sig);
            }
        });
    }
    Ok(())
}

/// Take the export off its directory (lazily, so busy host processes do
/// not keep it); nothing if there is none. Safe to call more than once.
pub fn unmount() {
    let mut m = MOUNTED.lock();
    let Some(dir) = m.take() else { return };
    let ok = std::process::Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg(&dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok && rustix::mount::unmount(&dir, rustix::mount::UnmountFlags::DETACH).is_err() {
        eprintln!(
            "vxos: cannot unmount the export at {}; clear it with: fusermount3 -u {}",
            dir.display(),
            dir.display()
        );
    }
}
