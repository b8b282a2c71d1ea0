//! The export's file operations: host requests as walks and device calls
//! in the exported namespace, each made under the kernel lock by the
//! caller (`mod.rs`).
//!
//! An inode is a path in the namespace: the host's inode numbers name the
//! names walked from the root, and each request walks them again, so
//! unions, mounts and `..` behave as in the guest (and a namespace chosen
//! later through the ctl file serves the same paths). Open files keep the
//! channel the device opened. Inode 1 is the root; 2 and 3 are the
//! export's own `.vxos` directory and its `ctl` file (`ctl.rs`).

use super::ctl::Target;
use crate::ns::{Chan, NsRef};
use devices::{Cred, Dev, Errno, FileType, OpenMode, Stat, Time, Wstat};
use fuser::{FileAttr, FileHandle, INodeNo, RenameFlags, TimeOrNow};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub(super) type Res<T> = Result<T, Errno>;

/// The root's inode.
const ROOT: u64 = 1;
/// `.vxos`, the export's own directory at its root.
const CTL_DIR: u64 = 2;
/// `.vxos/ctl`.
const CTL_FILE: u64 = 3;
/// The name of the export's own directory.
pub(super) const CTL_DIR_NAME: &str = ".vxos";

/// The inode table: paths in the namespace by inode number and back.
struct Inodes {
    paths: HashMap<u64, Vec<String>>,
    numbers: HashMap<Vec<String>, u64>,
    next: u64,
}

impl Inodes {
    /// A table that knows the root (1), numbering others after the
    /// export's own files.
    fn new() -> Inodes {
        let mut t = Inodes { paths: HashMap::new(), numbers: HashMap::new(), next: CTL_FILE + 1 };
        t.paths.insert(ROOT, Vec::new());
        t.numbers.insert(Vec::new(), ROOT);
        t
    }

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

/// An open file.
#[derive(Clone)]
pub(super) enum Handle {
    /// A file of the namespace: the channel the device opened.
    File { chan: Chan, append: bool },
    /// The export's ctl file.
    Ctl,
}

/// The exported namespace and what the server keeps about it.
pub(super) struct Inner {
    target: Mutex<Target>,
    pub(super) mountpoint: PathBuf,
    inodes: Mutex<Inodes>,
    handles: Mutex<HashMap<u64, Handle>>,
    next_fh: AtomicU64,
    /// The host user, owner of every file.
    uid: u32,
    gid: u32,
    /// The credentials devices check (the guest's, which are the host user's).
    cred: Cred,
    /// When the export began: the times of its own files.
    born: SystemTime,
}

/// Map a device error to the host's errno (i386 and x86-64 Linux number
/// them alike).
pub(super) fn fuse_err(e: Errno) -> fuser::Errno {
    fuser::Errno::from_i32(e.0)
}

fn same_dev(a: &Arc<dyn Dev>, b: &Arc<dyn Dev>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

impl Inner {
    pub(super) fn new(target: Target, mountpoint: PathBuf) -> Inner {
        let ids = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        Inner {
            target: Mutex::new(target),
            mountpoint,
            inodes: Mutex::new(Inodes::new()),
            handles: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            uid: ids.0,
            gid: ids.1,
            cred: Cred { uid: ids.0, gid: ids.1 },
            born: SystemTime::now(),
        }
    }

    /// The namespace served now; ENOENT while the export waits for its
    /// process.
    fn ns(&self) -> Res<NsRef> {
        self.target.lock().current().ok_or(Errno::ENOENT)
    }

    fn path_of(&self, ino: INodeNo) -> Res<Vec<String>> {
        self.inodes.lock().paths.get(&ino.0).cloned().ok_or(Errno::ENOENT)
    }

    /// Walk to inode `ino` afresh.
    fn chan(&self, ns: &NsRef, ino: INodeNo) -> Res<Chan> {
        ns.walk_from_root(&self.path_of(ino)?)
    }

    /// The directory `parent` and the name `name` in it; EACCES in the
    /// export's own directory, which takes no new names.
    fn child_path(&self, ns: &NsRef, parent: INodeNo, name: &OsStr) -> Res<(Chan, String)> {
        if parent.0 == CTL_DIR {
            return Err(Errno::EACCES);
        }
        let name = name.to_str().ok_or(Errno::EINVAL)?.to_string();
        Ok((self.chan(ns, parent)?, name))
    }

    /// Whether `name` in `parent` is the export's own directory.
    fn is_ctl_dir(parent: INodeNo, name: &OsStr) -> bool {
        parent.0 == ROOT && name == CTL_DIR_NAME
    }

    fn attr(&self, ino: u64, st: &Stat) -> FileAttr {
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
            kind: host_kind(st.qid.kind),
            perm: (st.perm & 0o7777) as u16,
            nlink: st.nlink,
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    /// The attributes of the export's own files (and of the root while
    /// there is no namespace yet).
    fn own_attr(&self, ino: u64) -> FileAttr {
        let dir = ino != CTL_FILE;
        FileAttr {
            ino: INodeNo(ino),
            size: 0,
            blocks: 0,
            atime: self.born,
            mtime: self.born,
            ctime: self.born,
            crtime: self.born,
            kind: if dir { fuser::FileType::Directory } else { fuser::FileType::RegularFile },
            perm: if dir { 0o555 } else { 0o644 },
            nlink: if dir { 2 } else { 1 },
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
    pub(super) fn lookup(&self, parent: INodeNo, name: &OsStr) -> Res<FileAttr> {
        if Self::is_ctl_dir(parent, name) {
            return Ok(self.own_attr(CTL_DIR));
        }
        if parent.0 == CTL_DIR {
            return if name == "ctl" { Ok(self.own_attr(CTL_FILE)) } else { Err(Errno::ENOENT) };
        }
        let ns = self.ns()?;
        let (dir, name) = self.child_path(&ns, parent, name)?;
        let c = ns.walk1(&dir, &name)?;
        self.entry_of(&c)
    }

    pub(super) fn getattr(&self, ino: INodeNo, fh: Option<FileHandle>) -> Res<FileAttr> {
        if ino.0 == CTL_DIR || ino.0 == CTL_FILE {
            return Ok(self.own_attr(ino.0));
        }
        let held = fh.and_then(|fh| match self.handles.lock().get(&fh.0) {
            Some(Handle::File { chan, .. }) => Some(chan.clone()),
            _ => None,
        });
        let c = match held {
            Some(c) => c,
            None => match self.ns() {
                Ok(ns) => self.chan(&ns, ino)?,
                Err(_) if ino.0 == ROOT => return Ok(self.own_attr(ROOT)),
                Err(e) => return Err(e),
            },
        };
        let st = c.dev.stat(c.qid)?;
        Ok(self.attr(ino.0, &st))
    }

    fn add_handle(&self, h: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.handles.lock().insert(fh, h);
        fh
    }

    /// Open inode `ino` for the host's `flags`; return a file handle.
    pub(super) fn open(&self, ino: INodeNo, flags: i32) -> Res<u64> {
        match ino.0 {
            CTL_FILE => return Ok(self.add_handle(Handle::Ctl)),
            CTL_DIR => return Err(Errno::EISDIR),
            _ => {}
        }
        let c = self.chan(&self.ns()?, ino)?;
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
        let chan = Chan { dev: c.dev, qid: q, path: c.path };
        Ok(self.add_handle(Handle::File { chan, append: mode.append }))
    }

    pub(super) fn handle(&self, fh: FileHandle) -> Res<Handle> {
        self.handles.lock().get(&fh.0).cloned().ok_or(Errno::EBADF)
    }

    pub(super) fn release(&self, fh: FileHandle) {
        if let Some(Handle::File { chan, .. }) = self.handles.lock().remove(&fh.0) {
            chan.dev.clunk(chan.qid);
        }
    }

    /// Read from an open file (the device may wait: see `mod.rs`).
    pub(super) fn read(&self, h: &Handle, off: u64, size: u32) -> Res<Vec<u8>> {
        match h {
            Handle::Ctl => {
                let text = self.target.lock().status();
                let b = text.as_bytes();
                let start = (off as usize).min(b.len());
                Ok(b[start..(start + size as usize).min(b.len())].to_vec())
            }
            Handle::File { chan: c, .. } => {
                let mut buf = vec![0u8; size as usize];
                let n = c.dev.read(c.qid, &mut buf, off)?;
                buf.truncate(n);
                Ok(buf)
            }
        }
    }

    pub(super) fn write(&self, h: &Handle, off: u64, data: &[u8]) -> Res<usize> {
        match h {
            Handle::Ctl => {
                let text = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
                let mut t = self.target.lock();
                for line in text.lines() {
                    t.command(line)?;
                }
                Ok(data.len())
            }
            Handle::File { chan: c, append } => {
                let off = if *append { c.dev.stat(c.qid)?.size } else { off };
                c.dev.write(c.qid, data, off)
            }
        }
    }

    pub(super) fn readdir(&self, ino: INodeNo) -> Res<Vec<(u64, fuser::FileType, String)>> {
        let dots = |parent| {
            vec![(ino.0, fuser::FileType::Directory, ".".into()), (parent, fuser::FileType::Directory, "..".into())]
        };
        if ino.0 == CTL_DIR {
            let mut out = dots(ROOT);
            out.push((CTL_FILE, fuser::FileType::RegularFile, "ctl".into()));
            return Ok(out);
        }
        let own = (CTL_DIR, fuser::FileType::Directory, CTL_DIR_NAME.to_string());
        let ns = match self.ns() {
            Ok(ns) => ns,
            Err(_) if ino.0 == ROOT => return Ok([dots(ROOT), vec![own]].concat()),
            Err(e) => return Err(e),
        };
        let c = self.chan(&ns, ino)?;
        let entries = ns.readdir(&c)?;
        let mut inodes = self.inodes.lock();
        let parent = if c.path.is_empty() { ino.0 } else { inodes.intern(c.path[..c.path.len() - 1].to_vec()) };
        let mut out = dots(parent);
        if ino.0 == ROOT {
            out.push(own);
        }
        for e in entries {
            if ino.0 == ROOT && e.name == CTL_DIR_NAME {
                continue;
            }
            let mut p = c.path.clone();
            p.push(e.name.clone());
            out.push((inodes.intern(p), host_kind(e.qid.kind), e.name));
        }
        Ok(out)
    }

    /// Make `name` in `parent` (a file, directory or symbolic link); return
    /// its attributes.
    pub(super) fn make(
        &self,
        parent: INodeNo,
        name: &OsStr,
        kind: FileType,
        perm: u32,
        target: Option<&str>,
    ) -> Res<(Chan, FileAttr)> {
        if Self::is_ctl_dir(parent, name) {
            return Err(Errno::EEXIST);
        }
        let ns = self.ns()?;
        let (dir, name) = self.child_path(&ns, parent, name)?;
        if ns.walk1(&dir, &name).is_ok() {
            return Err(Errno::EEXIST);
        }
        let t = ns.create_target(&dir)?;
        match target {
            Some(target) => t.dev.symlink(t.qid, &name, target, self.cred)?,
            None => t.dev.create(t.qid, &name, kind, perm, self.cred)?,
        };
        let c = ns.walk1(&dir, &name)?;
        let a = self.entry_of(&c)?;
        Ok((c, a))
    }

    /// Make `name` in `parent` and open it for reading and writing, as
    /// open(2) with O_CREAT does even if the new file's mode forbids it.
    pub(super) fn create(&self, parent: INodeNo, name: &OsStr, perm: u32, flags: i32) -> Res<(FileAttr, u64)> {
        let (c, a) = self.make(parent, name, FileType::File, perm, None)?;
        let q = c.dev.open(c.qid, OpenMode::RDWR, Cred::ROOT)?;
        let chan = Chan { dev: c.dev, qid: q, path: c.path };
        Ok((a, self.add_handle(Handle::File { chan, append: flags & libc::O_APPEND != 0 })))
    }

    /// mknod(2): regular files only. The guest's FIFOs, sockets and
    /// device files show on the host as regular files whose I/O the guest
    /// serves; one made here would be the host's own kind, so the guest
    /// makes them (EPERM, as Linux says for a kind a file system cannot
    /// make).
    pub(super) fn mknod(&self, parent: INodeNo, name: &OsStr, mode: u32) -> Res<FileAttr> {
        if mode & libc::S_IFMT != libc::S_IFREG && mode & libc::S_IFMT != 0 {
            return Err(Errno::EPERM);
        }
        Ok(self.make(parent, name, FileType::File, mode & 0o7777, None)?.1)
    }

    /// link(2): `newname` in `newparent` another name of inode `ino`, on
    /// the same device.
    pub(super) fn link(&self, ino: INodeNo, newparent: INodeNo, newname: &OsStr) -> Res<FileAttr> {
        if ino.0 == CTL_FILE || ino.0 == CTL_DIR {
            return Err(Errno::EPERM);
        }
        if Self::is_ctl_dir(newparent, newname) {
            return Err(Errno::EEXIST);
        }
        let ns = self.ns()?;
        let old = self.chan(&ns, ino)?;
        if old.qid.is_dir() {
            return Err(Errno::EPERM);
        }
        let (dir, name) = self.child_path(&ns, newparent, newname)?;
        if ns.walk1(&dir, &name).is_ok() {
            return Err(Errno::EEXIST);
        }
        let t = ns.create_target(&dir)?;
        if !same_dev(&t.dev, &old.dev) {
            return Err(Errno::EXDEV);
        }
        t.dev.link(t.qid, &name, old.qid)?;
        self.entry_of(&ns.walk1(&dir, &name)?)
    }

    fn entry_of(&self, c: &Chan) -> Res<FileAttr> {
        let st = c.dev.stat(c.qid)?;
        let ino = self.inodes.lock().intern(c.path.clone());
        Ok(self.attr(ino, &st))
    }

    pub(super) fn remove(&self, parent: INodeNo, name: &OsStr, dir_only: bool) -> Res<()> {
        if Self::is_ctl_dir(parent, name) {
            return Err(Errno(16)); // EBUSY
        }
        let ns = self.ns()?;
        let (dir, name) = self.child_path(&ns, parent, name)?;
        let (holder, file) = ns.walk_in(&dir, &name)?;
        if ns.is_mount_point(&file) {
            return Err(Errno(16)); // EBUSY
        }
        if !dir_only && file.qid.is_dir() {
            return Err(Errno::EISDIR);
        }
        holder.dev.remove(holder.qid, &name, dir_only)
    }

    pub(super) fn rename(
        &self,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
    ) -> Res<()> {
        if Self::is_ctl_dir(parent, name) || Self::is_ctl_dir(newparent, newname) {
            return Err(Errno(16)); // EBUSY
        }
        let ns = self.ns()?;
        let (dir, name) = self.child_path(&ns, parent, name)?;
        let (newdir, newname) = self.child_path(&ns, newparent, newname)?;
        let (holder, _) = ns.walk_in(&dir, &name)?;
        if flags.contains(RenameFlags::RENAME_EXCHANGE) {
            let (other, _) = ns.walk_in(&newdir, &newname)?;
            if !same_dev(&holder.dev, &other.dev) {
                return Err(Errno::EXDEV);
            }
            return holder.dev.exchange(holder.qid, &name, other.qid, &newname);
        }
        if flags.contains(RenameFlags::RENAME_NOREPLACE) && ns.walk1(&newdir, &newname).is_ok() {
            return Err(Errno::EEXIST);
        }
        let t = ns.create_target(&newdir)?;
        if !same_dev(&holder.dev, &t.dev) {
            return Err(Errno::EXDEV);
        }
        holder.dev.rename(holder.qid, &name, t.qid, &newname)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn setattr(
        &self,
        ino: INodeNo,
        fh: Option<FileHandle>,
        mode: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
    ) -> Res<FileAttr> {
        if ino.0 == CTL_DIR || ino.0 == CTL_FILE {
            // Truncating ctl (a shell's `>`) is no change; modes are fixed.
            return if mode.is_some() { Err(Errno::EPERM) } else { Ok(self.own_attr(ino.0)) };
        }
        let c = match fh.and_then(|fh| self.handle(fh).ok()) {
            Some(Handle::File { chan, .. }) => chan,
            _ => self.chan(&self.ns()?, ino)?,
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

    pub(super) fn readlink(&self, ino: INodeNo) -> Res<Vec<u8>> {
        let c = self.chan(&self.ns()?, ino)?;
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
