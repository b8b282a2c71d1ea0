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
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: Cred = Cred { uid: 1000, gid: 100 };
    const BOB: Cred = Cred { uid: 1001, gid: 200 };

    fn file(fs: &Ramfs, dir: Qid, name: &str) -> Qid {
        fs.create(dir, name, FileType::File, 0o644, Cred::ROOT).unwrap()
    }

    fn mkdir(fs: &Ramfs, dir: Qid, name: &str) -> Qid {
        fs.create(dir, name, FileType::Dir, 0o755, Cred::ROOT).unwrap()
    }

    fn names(fs: &Ramfs, dir: Qid) -> Vec<String> {
        fs.readdir(dir, 0).unwrap().into_iter().map(|e| e.name).collect()
    }

    fn read_all(fs: &Ramfs, q: Qid) -> Vec<u8> {
        let mut b = vec![0xaa; fs.stat(q).unwrap().size as usize];
        assert_eq!(fs.read(q, &mut b, 0).unwrap(), b.len());
        b
    }

    /// Wait until the clock has passed `t`, so a change made next is later.
    fn after(t: Time) {
        while Time::now() <= t {}
    }

    #[test]
    fn write_read_stat_and_vers() {
        let fs = Ramfs::with_root(0, 0, 0o1777);
        let root = fs.attach("").unwrap();
        let st = fs.stat(root).unwrap();
        assert_eq!((st.mode(), st.uid, st.gid, st.nlink), (0o041777, 0, 0, 2));
        let f = fs.create(root, "f", FileType::File, 0o640, ALICE).unwrap();
        assert_eq!(fs.walk(root, "f").unwrap(), f);
        assert_eq!(fs.write(f, b"hello, world", 0).unwrap(), 12);
        assert_eq!(fs.write(f, b"W", 7).unwrap(), 1);
        assert_eq!(read_all(&fs, f), b"hello, World");
        let st = fs.stat(f).unwrap();
        assert_eq!((st.mode(), st.uid, st.gid, st.nlink, st.size, st.blocks), (0o100640, 1000, 100, 1, 12, 8));
        assert_eq!(st.qid.vers, 2);
        let mut b = [0u8; 8];
        assert_eq!(fs.read(f, &mut b, 10).unwrap(), 2);
        assert_eq!(fs.read(f, &mut b, 12).unwrap(), 0);
        assert_eq!(fs.read(f, &mut b, 1 << 40).unwrap(), 0);
        assert_eq!(fs.write(f, b"", 100).unwrap(), 0);
        assert_eq!(fs.stat(f).unwrap().qid.vers, 2, "reads and empty writes change nothing");
        fs.wstat(f, &Wstat { size: Some(3), ..Default::default() }).unwrap();
        assert_eq!(fs.stat(f).unwrap().qid.vers, 3);
        // A directory's vers moves with its names.
        let v = fs.stat(root).unwrap().qid.vers;
        fs.remove(root, "f", false).unwrap();
        assert!(fs.stat(root).unwrap().qid.vers > v);
        assert_eq!(fs.stat(f).unwrap_err(), Errno::ENOENT);
        assert_eq!(fs.read(root, &mut b, 0).unwrap_err(), Errno::EISDIR);
        assert_eq!(fs.write(root, b"x", 0).unwrap_err(), Errno::EISDIR);
    }

    #[test]
    fn sparse_files_allocate_only_written_pages() {
        let fs = Ramfs::new();
        let f = file(&fs, fs.attach("").unwrap(), "sparse");
        fs.write(f, b"end", 1 << 20).unwrap();
        let st = fs.stat(f).unwrap();
        assert_eq!((st.size, st.blocks), ((1 << 20) + 3, 8));
        assert_eq!(fs.used(), 4096);
        assert_eq!(read_all(&fs, f)[..1 << 20], [0; 1 << 20], "a hole reads as zeros");
        // A write across a page boundary takes both pages.
        fs.write(f, &[1; 10], 4090).unwrap();
        assert_eq!(fs.stat(f).unwrap().blocks, 24);
        // Extending leaves a hole; shrinking frees pages and zeros the cut.
        fs.wstat(f, &Wstat { size: Some(1 << 30), ..Default::default() }).unwrap();
        assert_eq!(fs.stat(f).unwrap().blocks, 24);
        fs.wstat(f, &Wstat { size: Some(4093), ..Default::default() }).unwrap();
        assert_eq!(fs.stat(f).unwrap().blocks, 8);
        assert_eq!(fs.used(), 4096);
        let big = Wstat { size: Some(crate::sparse::MAX_SIZE + 1), ..Default::default() };
        assert_eq!(fs.wstat(f, &big).unwrap_err(), Errno::EFBIG);
        fs.remove(fs.attach("").unwrap(), "sparse", false).unwrap();
        assert_eq!(fs.used(), 0);
    }

    #[test]
    fn size_limit_gives_enospc() {
        let fs = Ramfs::new().with_size_limit(2 * 4096);
        let f = file(&fs, fs.attach("").unwrap(), "f");
        assert_eq!(fs.write(f, &[1; 3 * 4096], 0).unwrap(), 2 * 4096, "a short write up to the limit");
        assert_eq!(fs.write(f, b"x", 3 * 4096).unwrap_err(), Errno::ENOSPC);
        assert_eq!(fs.write(f, b"rewrite", 0).unwrap(), 7, "written pages need no more room");
        fs.wstat(f, &Wstat { size: Some(0), ..Default::default() }).unwrap();
        assert_eq!(fs.write(f, b"x", 1 << 20).unwrap(), 1);
    }

    #[test]
    fn directories_dotdot_readdir_paging() {
        let fs = Ramfs::new();
        let root = fs.attach("").unwrap();
        let a = mkdir(&fs, root, "a");
        let b = mkdir(&fs, a, "b");
        assert_eq!(fs.walk(b, "..").unwrap(), fs.walk(root, "a").unwrap());
        assert_eq!(fs.walk(a, "..").unwrap(), fs.attach("").unwrap());
        assert_eq!(fs.walk(root, "..").unwrap(), fs.attach("").unwrap());
        assert_eq!(fs.walk(b, ".").unwrap().path, b.path);
        assert_eq!((fs.stat(root).unwrap().nlink, fs.stat(a).unwrap().nlink), (3, 3));
        for n in ["c", "e", "d"] {
            file(&fs, b, n);
        }
        let all = fs.readdir(b, 0).unwrap();
        assert_eq!(names(&fs, b), ["c", "d", "e"]);
        assert_eq!(fs.readdir(b, 1).unwrap(), all[1..]);
        assert!(fs.readdir(b, 3).unwrap().is_empty());
        assert!(fs.readdir(b, 99).unwrap().is_empty());
        assert_eq!(fs.stat(b).unwrap().size, 5 * DIRENT_SIZE);
        let c = fs.walk(b, "c").unwrap();
        assert_eq!(fs.readdir(c, 0).unwrap_err(), Errno::ENOTDIR);
        assert_eq!(fs.walk(c, "x").unwrap_err(), Errno::ENOTDIR);
        assert_eq!(fs.walk(b, "x").unwrap_err(), Errno::ENOENT);
        assert_eq!(fs.open(a, OpenMode::WRITE, Cred::ROOT).unwrap_err(), Errno::EISDIR);
        assert_eq!(fs.open(a, OpenMode::READ, Cred::ROOT).unwrap().path, a.path);
    }

    #[test]
    fn names_are_checked() {
        let fs = Ramfs::new();
        let root = fs.attach("").unwrap();
        let long = "x".repeat(256);
        let create = |n: &str| fs.create(root, n, FileType::File, 0o644, Cred::ROOT).map(|_| ());
        assert_eq!(create(&long), Err(Errno::ENAMETOOLONG));
        assert_eq!(fs.walk(root, &long).unwrap_err(), Errno::ENAMETOOLONG);
        assert_eq!(create(""), Err(Errno::EINVAL));
        assert_eq!(create("a/b"), Err(Errno::EINVAL));
        assert_eq!(create(".."), Err(Errno::EINVAL));
        create(&long[1..]).unwrap();
        assert_eq!(create(&long[1..]), Err(Errno::EEXIST));
        assert_eq!(fs.create(root, &long[1..], FileType::Dir, 0o755, Cred::ROOT).unwrap_err(), Errno::EEXIST);
        assert_eq!(fs.symlink(root, &long[1..], "t", Cred::ROOT).unwrap_err(), Errno::EEXIST);
        assert_eq!(fs.create(root, "s", FileType::Symlink, 0o777, Cred::ROOT).unwrap_err(), Errno::EINVAL);
        let f = fs.walk(root, &long[1..]).unwrap();
        assert_eq!(fs.create(f, "x", FileType::File, 0o644, Cred::ROOT).unwrap_err(), Errno::ENOTDIR);
    }

    #[test]
    fn hard_links_keep_a_file_alive() {
        let fs = Ramfs::new();
        let root = fs.attach("").unwrap();
        let d = mkdir(&fs, root, "d");
        let f = file(&fs, root, "f");
        fs.write(f, b"data", 0).unwrap();
        fs.link(d, "g", f).unwrap();
        assert_eq!(fs.stat(f).unwrap().nlink, 2);
        assert_eq!(fs.walk(d, "g").unwrap().path, f.path);
        assert_eq!(fs.link(d, "g", f).unwrap_err(), Errno::EEXIST);
        assert_eq!(fs.link(root, "dd", d).unwrap_err(), Errno::EPERM);
        fs.remove(root, "f", false).unwrap();
        let g = fs.walk(d, "g").unwrap();
        assert_eq!(read_all(&fs, g), b"data");
        assert_eq!(fs.stat(g).unwrap().nlink, 1);
        fs.remove(d, "g", false).unwrap();
        assert_eq!(fs.stat(g).unwrap_err(), Errno::ENOENT);
        assert_eq!(fs.link(root, "again", g).unwrap_err(), Errno::ENOENT);
        assert_eq!(fs.used(), 0);
    }

    #[test]
    fn an_open_file_outlives_its_last_name_until_clunk() {
        let fs = Ramfs::new();
        let root = fs.attach("").unwrap();
        let f = fs.open(file(&fs, root, "tmp"), OpenMode::RDWR, Cred::ROOT).unwrap();
        fs.remove(root, "tmp", false).unwrap();
        fs.write(f, b"still here", 0).unwrap();
        assert_eq!(read_all(&fs, f), b"still here");
        assert_eq!(fs.stat(f).unwrap().nlink, 0);
        assert_eq!(fs.link(root, "back", f).unwrap_err(), Errno::ENOENT);
        fs.clunk(f);
        assert_eq!(fs.stat(f).unwrap_err(), Errno::ENOENT);
        assert_eq!(fs.used(), 0);
        // A removed directory that is still open takes no new names.
        let d = fs.open(mkdir(&fs, root, "d"), OpenMode::READ, Cred::ROOT).unwrap();
        fs.remove(root, "d", true).unwrap();
        assert!(fs.readdir(d, 0).unwrap().is_empty());
        assert_eq!(fs.create(d, "x", FileType::File, 0o644, Cred::ROOT).unwrap_err(), Errno::ENOENT);
        fs.clunk(d);
        assert_eq!(fs.stat(d).unwrap_err(), Errno::ENOENT);
    }

    #[test]
    fn remove_checks_kind_and_emptiness() {
        let fs = Ramfs::new();
        let root = fs.attach("").unwrap();
        let d = mkdir(&fs, root, "d");
        file(&fs, d, "f");
        file(&fs, root, "g");
        assert_eq!(fs.remove(root, "d", true).unwrap_err(), Errno::ENOTEMPTY);
        assert_eq!(fs.remove(root, "d", false).unwrap_err(), Errno::EISDIR);
        assert_eq!(fs.remove(root, "g", true).unwrap_err(), Errno::ENOTDIR);
        assert_eq!(fs.remove(root, "nope", false).unwrap_err(), Errno::ENOENT);
        assert_eq!(fs.remove(fs.walk(root, "g").unwrap(), "x", false).unwrap_err(), Errno::ENOTDIR);
        fs.remove(d, "f", false).unwrap();
        assert_eq!(fs.stat(root).unwrap().nlink, 3);
        fs.remove(root, "d", true).unwrap();
        assert_eq!(fs.stat(root).unwrap().nlink, 2);
        assert_eq!(names(&fs, root), ["g"]);
    }

    #[test]
    fn rename_follows_linux() {
        let fs = Ramfs::new();
        let root = fs.attach("").unwrap();
        let a = mkdir(&fs, root, "a");
        let b = mkdir(&fs, a, "b");
        let f = file(&fs, root, "f");
        let g = file(&fs, root, "g");
        mkdir(&fs, root, "empty");
        mkdir(&fs, mkdir(&fs, root, "full"), "x");
        let err = |od: Qid, o: &str, nd: Qid, n: &str| fs.rename(od, o, nd, n).unwrap_err();
        assert_eq!(err(root, "a", b, "a2"), Errno::EINVAL, "into its own subtree");
        assert_eq!(err(root, "a", a, "a2"), Errno::EINVAL, "into itself");
        assert_eq!(err(root, "f", root, "a"), Errno::EISDIR);
        assert_eq!(err(root, "a", root, "f"), Errno::ENOTDIR);
        assert_eq!(err(root, "a", root, "full"), Errno::ENOTEMPTY);
        assert_eq!(err(root, "nope", root, "x"), Errno::ENOENT);
        assert_eq!(err(root, "f", f, "x"), Errno::ENOTDIR);
        // A file replaces a file, which goes if that was its last name.
        fs.rename(root, "f", root, "g").unwrap();
        assert_eq!(fs.walk(root, "g").unwrap().path, f.path);
        assert_eq!(fs.stat(g).unwrap_err(), Errno::ENOENT);
        // Two names of one file: nothing happens.
        fs.link(root, "h", f).unwrap();
        fs.rename(root, "g", root, "h").unwrap();
        assert_eq!(names(&fs, root), ["a", "empty", "full", "g", "h"]);
        // A directory replaces an empty one and takes its new parent as "..".
        fs.rename(a, "b", root, "empty").unwrap();
        assert_eq!(fs.walk(root, "empty").unwrap().path, b.path);
        assert_eq!(fs.walk(b, "..").unwrap().path, root.path);
        assert_eq!((fs.stat(root).unwrap().nlink, fs.stat(a).unwrap().nlink), (5, 2));
        // Across directories, and onto a name the file already has elsewhere.
        fs.rename(root, "h", a, "moved").unwrap();
        assert_eq!(names(&fs, a), ["moved"]);
        assert_eq!(fs.stat(f).unwrap().nlink, 2);
        assert_eq!(fs.walk(root, "h").unwrap_err(), Errno::ENOENT);
    }

    #[test]
    fn permissions_follow_owner_group_other() {
        let fs = Ramfs::new();
        let root = fs.attach("").unwrap();
        let err = fs.create(root, "x", FileType::File, 0o644, ALICE).unwrap_err();
        assert_eq!(err, Errno::EACCES, "root's 0755 directory is closed to others");
        assert_eq!(fs.symlink(root, "l", "t", ALICE).unwrap_err(), Errno::EACCES);
        let home = fs.create(root, "home", FileType::Dir, 0o750, Cred::ROOT).unwrap();
        fs.wstat(home, &Wstat { uid: Some(1000), gid: Some(100), ..Default::default() }).unwrap();
        let f = fs.create(home, "f", FileType::File, 0o640, ALICE).unwrap();
        fs.open(f, OpenMode::RDWR, ALICE).unwrap();
        fs.open(f, OpenMode::RDWR, Cred::ROOT).unwrap();
        let carol = Cred { uid: 1002, gid: 100 };
        fs.open(f, OpenMode::READ, carol).unwrap();
        assert_eq!(fs.open(f, OpenMode::WRITE, carol).unwrap_err(), Errno::EACCES);
        let trunc = OpenMode { truncate: true, ..OpenMode::READ };
        assert_eq!(fs.open(f, trunc, carol).unwrap_err(), Errno::EACCES, "truncating needs write");
        assert_eq!(fs.open(f, OpenMode::READ, BOB).unwrap_err(), Errno::EACCES);
        assert_eq!(fs.create(home, "g", FileType::File, 0o644, BOB).unwrap_err(), Errno::EACCES);
        assert_eq!(fs.create(home, "g", FileType::File, 0o644, carol).unwrap_err(), Errno::EACCES);
        fs.write(f, b"abc", 0).unwrap();
        fs.open(f, trunc, ALICE).unwrap();
        assert_eq!(fs.stat(f).unwrap().size, 0);
        // Set-group-id directories hand down their group.
        let shared = fs.create(root, "shared", FileType::Dir, 0o2777, Cred { uid: 0, gid: 50 }).unwrap();
        let s = fs.create(shared, "s", FileType::Dir, 0o755, BOB).unwrap();
        let st = fs.stat(s).unwrap();
        assert_eq!((st.uid, st.gid, st.perm), (1001, 50, 0o2755));
        let l = fs.symlink(home, "l", "f", ALICE).unwrap();
        assert_eq!(fs.open(l, OpenMode::READ, ALICE).unwrap_err(), Errno::ELOOP);
        let other = Ramfs::with_root(1000, 100, 0o700);
        let st = other.stat(other.attach("").unwrap()).unwrap();
        assert_eq!((st.uid, st.gid, st.mode()), (1000, 100, 0o040700));
        other.create(other.attach("").unwrap(), "mine", FileType::File, 0o600, ALICE).unwrap();
    }

    #[test]
    fn timestamps_move() {
        let fs = Ramfs::new();
        let root = fs.attach("").unwrap();
        let t0 = fs.stat(root).unwrap();
        after(t0.mtime);
        let f = file(&fs, root, "f");
        let (r, s) = (fs.stat(root).unwrap(), fs.stat(f).unwrap());
        assert!(r.mtime > t0.mtime && r.ctime > t0.ctime, "create touches the directory");
        assert_eq!((s.atime, s.mtime), (s.ctime, s.ctime));
        after(s.ctime);
        fs.write(f, b"x", 0).unwrap();
        let w = fs.stat(f).unwrap();
        assert!(w.mtime > s.mtime && w.ctime > s.ctime && w.atime == s.atime);
        after(w.mtime);
        fs.read(f, &mut [0; 1], 0).unwrap();
        let rd = fs.stat(f).unwrap();
        assert!(rd.atime > w.atime && rd.mtime == w.mtime && rd.ctime == w.ctime);
        after(rd.atime);
        fs.wstat(f, &Wstat { perm: Some(0o600), ..Default::default() }).unwrap();
        let ws = fs.stat(f).unwrap();
        assert!(ws.ctime > rd.ctime && ws.mtime == rd.mtime);
        after(ws.ctime);
        fs.link(root, "g", f).unwrap();
        let ln = fs.stat(f).unwrap();
        assert!(ln.ctime > ws.ctime && ln.mtime == ws.mtime);
        after(ln.ctime);
        fs.wstat(f, &Wstat { size: Some(100), ..Default::default() }).unwrap();
        let tr = fs.stat(f).unwrap();
        assert!(tr.mtime > ln.mtime && tr.ctime > ln.ctime);
        let before = fs.stat(root).unwrap();
        after(before.mtime);
        fs.remove(root, "g", false).unwrap();
        assert!(fs.stat(root).unwrap().mtime > before.mtime);
        assert!(fs.stat(f).unwrap().ctime > tr.ctime, "losing a name changes the file too");
        let set = Wstat {
            atime: Some(Time { sec: 1, nsec: 2 }),
            mtime: Some(Time { sec: 3, nsec: 4 }),
            ..Default::default()
        };
        fs.wstat(f, &set).unwrap();
        let st = fs.stat(f).unwrap();
        assert_eq!((st.atime, st.mtime), (Time { sec: 1, nsec: 2 }, Time { sec: 3, nsec: 4 }));
    }

    #[test]
    fn wstat_owner_mode_and_kinds() {
        let fs = Ramfs::new();
        let root = fs.attach("").unwrap();
        let f = fs.create(root, "f", FileType::File, 0o6755, Cred::ROOT).unwrap();
        fs.wstat(f, &Wstat { uid: Some(1000), ..Default::default() }).unwrap();
        let st = fs.stat(f).unwrap();
        assert_eq!((st.uid, st.gid, st.perm), (1000, 0, 0o755), "chown drops set-id bits");
        fs.wstat(f, &Wstat { perm: Some(0o104644), ..Default::default() }).unwrap();
        assert_eq!(fs.stat(f).unwrap().perm, 0o4644);
        assert_eq!(fs.wstat(root, &Wstat { size: Some(0), ..Default::default() }).unwrap_err(), Errno::EISDIR);
        let l = fs.symlink(root, "l", "/some/where", Cred::ROOT).unwrap();
        assert_eq!(fs.wstat(l, &Wstat { size: Some(0), ..Default::default() }).unwrap_err(), Errno::EINVAL);
        assert_eq!(fs.readlink(l).unwrap(), "/some/where");
        let st = fs.stat(l).unwrap();
        assert_eq!((st.mode(), st.size), (0o120777, 11));
        assert_eq!(fs.readlink(f).unwrap_err(), Errno::EINVAL);
        assert_eq!(fs.symlink(root, "e", "", Cred::ROOT).unwrap_err(), Errno::ENOENT);
        assert_eq!(fs.symlink(root, "e", &"x".repeat(4096), Cred::ROOT).unwrap_err(), Errno::ENAMETOOLONG);
        let p = fs.create(root, "p", FileType::Fifo, 0o600, Cred::ROOT).unwrap();
        assert_eq!((p.kind, fs.stat(p).unwrap().mode()), (FileType::Fifo, 0o010600));
        assert_eq!(fs.read(p, &mut [0; 1], 0).unwrap_err(), Errno::EINVAL);
        assert_eq!(
            fs.readdir(root, 0).unwrap().iter().map(|e| e.qid.kind).collect::<Vec<_>>(),
            [FileType::File, FileType::Symlink, FileType::Fifo]
        );
    }

    #[test]
    fn shared_between_threads() {
        let fs = std::sync::Arc::new(Ramfs::new());
        let root = fs.attach("").unwrap();
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let fs = fs.clone();
                std::thread::spawn(move || {
                    for j in 0..50 {
                        let f = fs.create(root, &format!("{i}-{j}"), FileType::File, 0o644, Cred::ROOT).unwrap();
                        fs.write(f, &[i as u8; 100], 0).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(fs.readdir(root, 0).unwrap().len(), 200);
        assert_eq!(fs.used(), 200 * 4096);
    }
}
