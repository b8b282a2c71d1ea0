//! ramfs (`#r`): a file tree kept in memory, one instance shared by every
//! process that mounts it, like Linux's tmpfs.
//!
//! It holds files, directories, symbolic links and special files (device
//! nodes, fifos, sockets, which it only names), with hard links, owners,
//! permission bits and Linux's three times; a file's contents are sparse
//! (`sparse.rs`), so `blocks` counts only pages written. A file stays while
//! a name or an open (until its clunk) holds it. Every change to a file's contents, or to a directory's names, moves
//! its qid's vers. `open`, `create` and `symlink` check permissions against
//! their `Cred`; the other calls carry none, so search permission, the
//! sticky bit and who may chmod, chown or rename are the kernel's, as are
//! umask, symbolic link resolution, mount points, and serving I/O on
//! special files. A size limit (tmpfs's `size=`) bounds host memory.

use crate::dev::*;
use crate::perm::{self, MAY_EXEC, MAY_READ, MAY_WRITE};
use crate::sparse::{Sparse, PAGE};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};

const NAME_MAX: usize = 255;
const PATH_MAX: usize = 4096;
/// The root directory's qid path.
const ROOT: u64 = 1;
/// What a directory's size grows by per name, as tmpfs counts it.
const DIRENT_SIZE: u64 = 20;
const S_ISUID: u32 = 0o4000;
const S_ISGID: u32 = 0o2000;

/// What a node holds besides its attributes.
enum Body {
    File(Sparse),
    /// Names in name order, and the directory's ".." (the root's is itself).
    Dir {
        parent: u64,
        names: BTreeMap<String, u64>,
    },
    Symlink(String),
    /// A device node, fifo or socket: a name only.
    Special,
}

/// A file, directory or link: an inode.
struct Node {
    kind: FileType,
    perm: u32,
    uid: u32,
    gid: u32,
    nlink: u32,
    /// Opens not yet clunked.
    opens: u32,
    vers: u32,
    atime: Time,
    mtime: Time,
    ctime: Time,
    body: Body,
}

impl Node {
    /// Make a node with one name (two for a directory: its own ".").
    fn new(kind: FileType, perm: u32, uid: u32, gid: u32, body: Body, now: Time) -> Node {
        let nlink = if kind == FileType::Dir { 2 } else { 1 };
        Node { kind, perm, uid, gid, nlink, opens: 0, vers: 0, atime: now, mtime: now, ctime: now, body }
    }

    /// Mark contents changed at `now`.
    fn modified(&mut self, now: Time) {
        self.mtime = now;
        self.ctime = now;
        self.vers = self.vers.wrapping_add(1);
    }
}

/// Everything the lock guards.
struct Tree {
    nodes: HashMap<u64, Node>,
    /// The next qid path to hand out.
    next: u64,
    /// Pages held by all files, and the most allowed.
    pages: u64,
    max_pages: u64,
}

/// An in-memory file system.
pub struct Ramfs {
    tree: Mutex<Tree>,
}

/// Return a file's contents, or the error for doing I/O on another kind.
fn contents(n: &mut Node) -> Result<&mut Sparse> {
    match &mut n.body {
        Body::File(f) => Ok(f),
        Body::Dir { .. } => Err(Errno::EISDIR),
        _ => Err(Errno::EINVAL),
    }
}

/// Check `name` can be a directory entry.
fn valid_name(name: &str) -> Result<()> {
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

impl Tree {
    /// Find node `ino`.
    fn node(&self, ino: u64) -> Result<&Node> {
        self.nodes.get(&ino).ok_or(Errno::ENOENT)
    }

    /// Find node `ino` to change it.
    fn node_mut(&mut self, ino: u64) -> Result<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)
    }

    /// Return the names in directory `ino`.
    fn names(&self, ino: u64) -> Result<&BTreeMap<String, u64>> {
        match &self.node(ino)?.body {
            Body::Dir { names, .. } => Ok(names),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Return the names in directory `ino` to change them.
    fn names_mut(&mut self, ino: u64) -> Result<&mut BTreeMap<String, u64>> {
        match &mut self.node_mut(ino)?.body {
            Body::Dir { names, .. } => Ok(names),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Return directory `ino` if it may still gain names (not removed).
    fn live_dir(&self, ino: u64) -> Result<&BTreeMap<String, u64>> {
        let names = self.names(ino)?;
        if self.nodes[&ino].nlink == 0 {
            return Err(Errno::ENOENT);
        }
        Ok(names)
    }

    /// Find `name` in directory `dir`.
    fn lookup(&self, dir: u64, name: &str) -> Result<u64> {
        self.names(dir)?.get(name).copied().ok_or(Errno::ENOENT)
    }

    /// Return node `ino`'s current qid.
    fn qid(&self, ino: u64) -> Result<Qid> {
        let n = self.node(ino)?;
        Ok(Qid { path: ino, vers: n.vers, kind: n.kind })
    }

    /// Describe node `ino`.
    fn stat(&self, ino: u64) -> Result<Stat> {
        let n = self.node(ino)?;
        let (size, blocks) = match &n.body {
            Body::File(f) => (f.size(), f.blocks()),
            Body::Dir { names, .. } => ((names.len() as u64 + 2) * DIRENT_SIZE, 0),
            Body::Symlink(target) => (target.len() as u64, 0),
            Body::Special => (0, 0),
        };
        Ok(Stat {
            qid: Qid { path: ino, vers: n.vers, kind: n.kind },
            perm: n.perm,
            nlink: n.nlink,
            uid: n.uid,
            gid: n.gid,
            size,
            blocks,
            atime: n.atime,
            mtime: n.mtime,
            ctime: n.ctime,
            rdev: 0,
        })
    }

    /// Report whether `ino` is `dir` or lies beneath it.
    fn within(&self, mut ino: u64, dir: u64) -> bool {
        loop {
            if ino == dir {
                return true;
            }
            match self.nodes.get(&ino).map(|n| &n.body) {
                Some(Body::Dir { parent, .. }) if *parent != ino => ino = *parent,
                _ => return false,
            }
        }
    }

    /// Make a new node `name` in `dir` owned by `cred`, if `cred` may.
    fn make(&mut self, dir: u64, name: &str, kind: FileType, perm: u32, body: Body, cred: Cred) -> Result<Qid> {
        valid_name(name)?;
        if self.live_dir(dir)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let dst = self.stat(dir)?;
        perm::check(&dst, cred, MAY_WRITE | MAY_EXEC)?;
        // A set-group-id directory hands down its group, and the bit to subdirectories.
        let setgid = dst.perm & S_ISGID != 0;
        let gid = if setgid { dst.gid } else { cred.gid };
        let perm = if setgid && kind == FileType::Dir { perm | S_ISGID } else { perm };
        let now = Time::now();
        let ino = self.next;
        self.next += 1;
        self.nodes.insert(ino, Node::new(kind, perm, cred.uid, gid, body, now));
        self.names_mut(dir)?.insert(name.to_string(), ino);
        let d = self.node_mut(dir)?;
        d.modified(now);
        if kind == FileType::Dir {
            d.nlink += 1;
        }
        self.qid(ino)
    }

    /// Take away one name of `ino`, which was in directory `dir`.
    fn unlink(&mut self, ino: u64, dir: u64, now: Time) {
        let Some(n) = self.nodes.get_mut(&ino) else { return };
        n.ctime = now;
        if n.kind == FileType::Dir {
            n.nlink = 0;
            if let Some(d) = self.nodes.get_mut(&dir) {
                d.nlink -= 1;
            }
        } else {
            n.nlink -= 1;
        }
        self.release(ino);
    }

    /// Free `ino` once nothing names it and nothing has it open.
    fn release(&mut self, ino: u64) {
        if ino == ROOT || self.nodes.get(&ino).is_none_or(|n| n.nlink > 0 || n.opens > 0) {
            return;
        }
        if let Some(Node { body: Body::File(f), .. }) = self.nodes.remove(&ino) {
            self.pages -= f.pages();
        }
    }

    /// Set file `ino`'s size.
    fn truncate(&mut self, ino: u64, len: u64, now: Time) -> Result<()> {
        let n = self.nodes.get_mut(&ino).ok_or(Errno::ENOENT)?;
        let f = contents(n)?;
        let before = f.pages();
        f.truncate(len)?;
        self.pages -= before - f.pages();
        n.modified(now);
        Ok(())
    }
}

impl Default for Ramfs {
    fn default() -> Self {
        Self::new()
    }
}

impl Ramfs {
    /// Make an empty file system whose root belongs to root, mode 0755.
    pub fn new() -> Ramfs {
        Ramfs::with_root(0, 0, 0o755)
    }

    /// Make an empty file system whose root has owner `uid`:`gid` and
    /// permission bits `perm`.
    pub fn with_root(uid: u32, gid: u32, perm: u32) -> Ramfs {
        let body = Body::Dir { parent: ROOT, names: BTreeMap::new() };
        let root = Node::new(FileType::Dir, perm & 0o7777, uid, gid, body, Time::now());
        let tree = Tree { nodes: HashMap::from([(ROOT, root)]), next: ROOT + 1, pages: 0, max_pages: u64::MAX };
        Ramfs { tree: Mutex::new(tree) }
    }

    /// Limit file contents to `bytes` (rounded up to whole pages); writes
    /// past it fail with ENOSPC.
    pub fn with_size_limit(mut self, bytes: u64) -> Ramfs {
        self.tree.get_mut().max_pages = bytes.div_ceil(PAGE);
        self
    }

    /// Return the bytes of file contents held (whole pages).
    pub fn used(&self) -> u64 {
        self.tree.lock().pages * PAGE
    }
}

impl Dev for Ramfs {
    fn dc(&self) -> char {
        'r'
    }

    fn name(&self) -> &'static str {
        "ramfs"
    }

    fn attach(&self, _spec: &str) -> Result<Qid> {
        self.tree.lock().qid(ROOT)
    }

    fn walk(&self, from: Qid, name: &str) -> Result<Qid> {
        let t = self.tree.lock();
        let Body::Dir { parent, names } = &t.node(from.path)?.body else {
            return Err(Errno::ENOTDIR);
        };
        match name {
            "" | "." => t.qid(from.path),
            ".." => t.qid(*parent),
            _ => {
                valid_name(name)?;
                t.qid(*names.get(name).ok_or(Errno::ENOENT)?)
            }
        }
    }

    fn stat(&self, q: Qid) -> Result<Stat> {
        self.tree.lock().stat(q.path)
    }

    /// Check `cred` may open `q` for `mode`, truncate it if asked, and keep
    /// it alive until the matching `clunk`.
    fn open(&self, q: Qid, mode: OpenMode, cred: Cred) -> Result<Qid> {
        let mut t = self.tree.lock();
        let st = t.stat(q.path)?;
        match st.qid.kind {
            FileType::Symlink => return Err(Errno::ELOOP),
            FileType::Dir if mode.write || mode.truncate => return Err(Errno::EISDIR),
            _ => {}
        }
        let want = if mode.read { MAY_READ } else { 0 } | if mode.write || mode.truncate { MAY_WRITE } else { 0 };
        perm::check(&st, cred, want)?;
        if mode.truncate && st.qid.kind == FileType::File {
            t.truncate(q.path, 0, Time::now())?;
        }
        t.node_mut(q.path)?.opens += 1;
        t.qid(q.path)
    }

    fn read(&self, q: Qid, buf: &mut [u8], off: u64) -> Result<usize> {
        let mut t = self.tree.lock();
        let n = t.node_mut(q.path)?;
        let len = contents(n)?.read(buf, off);
        n.atime = Time::now();
        Ok(len)
    }

    fn write(&self, q: Qid, buf: &[u8], off: u64) -> Result<usize> {
        let mut guard = self.tree.lock();
        let t = &mut *guard;
        let n = t.nodes.get_mut(&q.path).ok_or(Errno::ENOENT)?;
        let f = contents(n)?;
        let before = f.pages();
        let done = f.write(buf, off, t.max_pages.saturating_sub(t.pages))?;
        t.pages += f.pages() - before;
        if done > 0 {
            n.modified(Time::now());
        }
        Ok(done)
    }

    fn readdir(&self, q: Qid, start: usize) -> Result<Vec<DirEntry>> {
        let mut t = self.tree.lock();
        let names = t.names(q.path)?;
        let list = names.iter().skip(start).map(|(name, &ino)| Ok(DirEntry { name: name.clone(), qid: t.qid(ino)? }));
        let list = list.collect::<Result<Vec<_>>>()?;
        t.node_mut(q.path)?.atime = Time::now();
        Ok(list)
    }

    /// Make a file, directory or special file. It is not opened: the kernel
    /// opens it next with `Cred::ROOT`, as O_CREAT skips the mode check.
    fn create(&self, dir: Qid, name: &str, kind: FileType, perm: u32, cred: Cred) -> Result<Qid> {
        let body = match kind {
            FileType::File => Body::File(Sparse::default()),
            FileType::Dir => Body::Dir { parent: dir.path, names: BTreeMap::new() },
            FileType::Symlink => return Err(Errno::EINVAL),
            _ => Body::Special,
        };
        self.tree.lock().make(dir.path, name, kind, perm & 0o7777, body, cred)
    }

    fn remove(&self, dir: Qid, name: &str, dir_only: bool) -> Result<()> {
        valid_name(name)?;
        let mut t = self.tree.lock();
        let ino = t.lookup(dir.path, name)?;
        if let Body::Dir { names, .. } = &t.nodes[&ino].body {
            if !dir_only {
                return Err(Errno::EISDIR);
            }
            if !names.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
        } else if dir_only {
            return Err(Errno::ENOTDIR);
        }
        let now = Time::now();
        t.names_mut(dir.path)?.remove(name);
        t.node_mut(dir.path)?.modified(now);
        t.unlink(ino, dir.path, now);
        Ok(())
    }

    fn wstat(&self, q: Qid, w: &Wstat) -> Result<()> {
        let mut t = self.tree.lock();
        let kind = t.node(q.path)?.kind;
        if *w == Wstat::default() {
            return Ok(());
        }
        let now = Time::now();
        if let Some(size) = w.size {
            t.truncate(q.path, size, now)?;
        }
        let n = t.node_mut(q.path)?;
        if w.uid.is_some() || w.gid.is_some() {
            n.uid = w.uid.unwrap_or(n.uid);
            n.gid = w.gid.unwrap_or(n.gid);
            // As Linux's chown: an executable's set-id bits do not survive a change of owner.
            if kind != FileType::Dir {
                n.perm &= !S_ISUID;
                if n.perm & 0o010 != 0 {
                    n.perm &= !S_ISGID;
                }
            }
        }
        if let Some(p) = w.perm {
            n.perm = p & 0o7777;
        }
        n.atime = w.atime.unwrap_or(n.atime);
        n.mtime = w.mtime.unwrap_or(n.mtime);
        n.ctime = now;
        Ok(())
    }

    /// Drop the hold an `open` took; call it once for each successful open.
    fn clunk(&self, q: Qid) {
        let mut t = self.tree.lock();
        if let Some(n) = t.nodes.get_mut(&q.path) {
            n.opens = n.opens.saturating_sub(1);
            t.release(q.path);
        }
    }

    fn link(&self, dir: Qid, name: &str, target: Qid) -> Result<()> {
        valid_name(name)?;
        let mut t = self.tree.lock();
        if t.live_dir(dir.path)?.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let n = t.node_mut(target.path)?;
        if n.kind == FileType::Dir {
            return Err(Errno::EPERM);
        }
        if n.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        n.nlink = n.nlink.checked_add(1).ok_or(Errno::EMLINK)?;
        let now = Time::now();
        n.ctime = now;
        t.names_mut(dir.path)?.insert(name.to_string(), target.path);
        t.node_mut(dir.path)?.modified(now);
        Ok(())
    }

    fn symlink(&self, dir: Qid, name: &str, target: &str, cred: Cred) -> Result<Qid> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let body = Body::Symlink(target.to_string());
        self.tree.lock().make(dir.path, name, FileType::Symlink, 0o777, body, cred)
    }

    fn readlink(&self, q: Qid) -> Result<String> {
        let mut t = self.tree.lock();
        let n = t.node_mut(q.path)?;
        let Body::Symlink(target) = &n.body else { return Err(Errno::EINVAL) };
        let target = target.clone();
        n.atime = Time::now();
        Ok(target)
    }

    fn rename(&self, olddir: Qid, old: &str, newdir: Qid, new: &str) -> Result<()> {
        valid_name(old)?;
        valid_name(new)?;
        let mut t = self.tree.lock();
        let src = t.lookup(olddir.path, old)?;
        let dst = t.live_dir(newdir.path)?.get(new).copied();
        if dst == Some(src) {
            return Ok(());
        }
        let is_dir = t.nodes[&src].kind == FileType::Dir;
        if is_dir && t.within(newdir.path, src) {
            return Err(Errno::EINVAL);
        }
        if let Some(d) = dst {
            match (&t.nodes[&d].body, is_dir) {
                (Body::Dir { .. }, false) => return Err(Errno::EISDIR),
                (Body::Dir { names, .. }, true) if !names.is_empty() => return Err(Errno::ENOTEMPTY),
                (Body::Dir { .. }, true) => {}
                (_, true) => return Err(Errno::ENOTDIR),
                (_, false) => {}
            }
        }
        let now = Time::now();
        t.names_mut(olddir.path)?.remove(old);
        t.names_mut(newdir.path)?.insert(new.to_string(), src);
        if let Some(d) = dst {
            t.unlink(d, newdir.path, now);
        }
        let n = t.node_mut(src)?;
        n.ctime = now;
        if let Body::Dir { parent, .. } = &mut n.body {
            *parent = newdir.path;
            t.node_mut(olddir.path)?.nlink -= 1;
            t.node_mut(newdir.path)?.nlink += 1;
        }
        t.node_mut(olddir.path)?.modified(now);
        t.node_mut(newdir.path)?.modified(now);
        Ok(())
    }

    fn exchange(&self, adir: Qid, a: &str, bdir: Qid, b: &str) -> Result<()> {
        valid_name(a)?;
        valid_name(b)?;
        let mut t = self.tree.lock();
        let x = t.lookup(adir.path, a)?;
        let y = t.lookup(bdir.path, b)?;
        if x == y {
            return Ok(());
        }
        // A directory may not move beneath itself.
        if (t.nodes[&x].kind == FileType::Dir && t.within(bdir.path, x))
            || (t.nodes[&y].kind == FileType::Dir && t.within(adir.path, y))
        {
            return Err(Errno::EINVAL);
        }
        let now = Time::now();
        t.names_mut(adir.path)?.insert(a.to_string(), y);
        t.names_mut(bdir.path)?.insert(b.to_string(), x);
        for (ino, dir, other) in [(x, bdir.path, adir.path), (y, adir.path, bdir.path)] {
            let n = t.node_mut(ino)?;
            n.ctime = now;
            if let Body::Dir { parent, .. } = &mut n.body {
                *parent = dir;
                if dir != other {
                    t.node_mut(other)?.nlink -= 1;
                    t.node_mut(dir)?.nlink += 1;
                }
            }
        }
        t.node_mut(adir.path)?.modified(now);
        t.node_mut(bdir.path)?.modified(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
