//! Namespaces: each process sees its own tree, built by binding directories
//! and mounting devices onto paths, as in Plan 9.
//!
//! A mount point holds a union: an ordered list of directories (device,
//! qid) searched in turn. `bind`/`mount` with `Before` puts the new
//! directory first, `After` last, `Replace` alone; `create` marks the member
//! new files go to. Walking a path looks each element up in every member of
//! the current union, then switches to the union mounted at the result, if
//! any. Channels remember the names they were reached by, so `..` is the
//! parent in the namespace, correct across mount points. Symbolic links are
//! resolved by the caller (`namei`), which sees them as files.

use devices::{Dev, DirEntry, Errno, Qid};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A file reached through a namespace: which device, which file, and the
/// names walked from the namespace root to reach it.
#[derive(Clone)]
pub struct Chan {
    pub dev: Arc<dyn Dev>,
    pub qid: Qid,
    pub path: Vec<String>,
}

impl Chan {
    /// Return the channel's path as text ("/" for the root).
    pub fn path_string(&self) -> String {
        if self.path.is_empty() {
            "/".to_string()
        } else {
            self.path.iter().map(|e| format!("/{e}")).collect()
        }
    }
}

impl std::fmt::Debug for Chan {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "Chan({} {} {:?})", self.dev.name(), self.path_string(), self.qid)
    }
}

/// Where a bind or mount puts the new directory in the union.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountFlag {
    Replace,
    Before,
    After,
}

/// One directory of a union.
#[derive(Clone)]
struct Member {
    dev: Arc<dyn Dev>,
    qid: Qid,
    /// New files are created here.
    create: bool,
    /// Where it came from, for `describe`: a path, or `#` and a device.
    label: String,
}

/// A process's namespace.
#[derive(Clone, Default)]
pub struct Namespace {
    /// Unions by mount-point path (`[]` is the root).
    mounts: BTreeMap<Vec<String>, Vec<Member>>,
}

impl Namespace {
    /// A namespace whose root is the directory `root` of `dev`.
    pub fn new(dev: Arc<dyn Dev>, root: Qid) -> Namespace {
        let mut ns = Namespace::default();
        let label = format!("#{}", dev.dc());
        ns.mounts.insert(Vec::new(), vec![Member { dev, qid: root, create: true, label }]);
        ns
    }

    /// Return the root directory.
    pub fn root(&self) -> Chan {
        let m = &self.mounts[&Vec::new()][0];
        Chan { dev: m.dev.clone(), qid: m.qid, path: Vec::new() }
    }

    /// Put directory `new` onto `at` (a directory this namespace reaches).
    pub fn bind(&mut self, new: &Chan, at: &Chan, flag: MountFlag, create: bool) -> Result<(), Errno> {
        self.put(new, new.path_string(), at, flag, create)
    }

    fn put(&mut self, new: &Chan, label: String, at: &Chan, flag: MountFlag, create: bool) -> Result<(), Errno> {
        if new.qid.is_dir() != at.qid.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let member = Member { dev: new.dev.clone(), qid: new.qid, create, label };
        let current = self.union_at(at);
        let list = match flag {
            MountFlag::Replace => vec![member],
            MountFlag::Before => std::iter::once(member).chain(current).collect(),
            MountFlag::After => current.into_iter().chain(std::iter::once(member)).collect(),
        };
        self.mounts.insert(at.path.clone(), list);
        Ok(())
    }

    /// Mount device `dev` (its tree for `spec`) onto `at`.
    pub fn mount(
        &mut self,
        dev: Arc<dyn Dev>,
        spec: &str,
        at: &Chan,
        flag: MountFlag,
        create: bool,
    ) -> Result<(), Errno> {
        let root = dev.attach(spec)?;
        let label = format!("#{}{spec}", dev.dc());
        let new = Chan { dev, qid: root, path: at.path.clone() };
        self.put(&new, label, at, flag, create)
    }

    /// Undo what is mounted on `at`: everything, or only directory `new`.
    pub fn unmount(&mut self, new: Option<&Chan>, at: &Chan) -> Result<(), Errno> {
        if at.path.is_empty() {
            return Err(Errno::EINVAL);
        }
        let list = self.mounts.get_mut(&at.path).ok_or(Errno::EINVAL)?;
        match new {
            None => {
                self.mounts.remove(&at.path);
            }
            Some(n) => {
                let i = list.iter().position(|m| Arc::ptr_eq(&m.dev, &n.dev) && m.qid.path == n.qid.path);
                list.remove(i.ok_or(Errno::ENOENT)?);
                if list.is_empty() {
                    self.mounts.remove(&at.path);
                }
            }
        }
        Ok(())
    }

    /// Report whether something is mounted on the path of `c`.
    pub fn is_mount_point(&self, c: &Chan) -> bool {
        self.mounts.contains_key(&c.path)
    }

    /// Find `name` in directory `dir`: return the member of the union that
    /// holds it (as a channel on that member's directory) and the file.
    /// Removing, renaming and linking act on the member.
    pub fn walk_in(&self, dir: &Chan, name: &str) -> Result<(Chan, Chan), Errno> {
        if !dir.qid.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut err = Errno::ENOENT;
        for m in self.union_at(dir) {
            match m.dev.walk(m.qid, name) {
                Ok(q) => {
                    let holder = Chan { dev: m.dev.clone(), qid: m.qid, path: dir.path.clone() };
                    let mut path = dir.path.clone();
                    path.push(name.to_string());
                    return Ok((holder, self.enter(m.dev.clone(), q, path)));
                }
                Err(e) if e == Errno::ENOENT => {}
                Err(e) => err = e,
            }
        }
        Err(err)
    }

    /// The union seen at a channel: its mount's members, or the channel alone.
    fn union_at(&self, c: &Chan) -> Vec<Member> {
        match self.mounts.get(&c.path) {
            Some(list) => list.clone(),
            None => vec![Member { dev: c.dev.clone(), qid: c.qid, create: true, label: c.path_string() }],
        }
    }

    /// Return what a path reaches once mounts are applied.
    fn enter(&self, dev: Arc<dyn Dev>, qid: Qid, path: Vec<String>) -> Chan {
        match self.mounts.get(&path) {
            Some(list) => Chan { dev: list[0].dev.clone(), qid: list[0].qid, path },
            None => Chan { dev, qid, path },
        }
    }

    /// Walk one element (not a path) from directory `from`.
    pub fn walk1(&self, from: &Chan, name: &str) -> Result<Chan, Errno> {
        match name {
            "" | "." => return Ok(from.clone()),
            ".." => {
                if from.path.is_empty() {
                    return Ok(self.root());
                }
                let mut up = from.path.clone();
                up.pop();
                return self.walk_from_root(&up);
            }
            _ => {}
        }
        if !from.qid.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if name.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let mut err = Errno::ENOENT;
        for m in self.union_at(from) {
            match m.dev.walk(m.qid, name) {
                Ok(q) => {
                    let mut path = from.path.clone();
                    path.push(name.to_string());
                    return Ok(self.enter(m.dev.clone(), q, path));
                }
                Err(e) if e == Errno::ENOENT => {}
                Err(e) => err = e,
            }
        }
        Err(err)
    }

    /// Walk names from the root (no symbolic links in them).
    pub fn walk_from_root(&self, names: &[String]) -> Result<Chan, Errno> {
        let mut c = self.root();
        for n in names {
            c = self.walk1(&c, n)?;
        }
        Ok(c)
    }

    /// List a directory: the union of its members' entries, the first of
    /// each name winning.
    pub fn readdir(&self, dir: &Chan) -> Result<Vec<DirEntry>, Errno> {
        if !dir.qid.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut out: Vec<DirEntry> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for m in self.union_at(dir) {
            let mut start = 0;
            loop {
                let batch = m.dev.readdir(m.qid, start)?;
                if batch.is_empty() {
                    break;
                }
                start += batch.len();
                for e in batch {
                    if seen.insert(e.name.clone()) {
                        out.push(e);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Return the member of `dir`'s union that new files go to.
    pub fn create_target(&self, dir: &Chan) -> Result<Chan, Errno> {
        let list = self.union_at(dir);
        let m = list.iter().find(|m| m.create).ok_or(Errno::EACCES)?;
        Ok(Chan { dev: m.dev.clone(), qid: m.qid, path: dir.path.clone() })
    }

    /// Describe the namespace as bind/mount lines, as Plan 9's `ns` does:
    /// the first member of each union replaces, the rest are added after.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for (at, list) in &self.mounts {
            let at = if at.is_empty() { "/".to_string() } else { at.iter().map(|e| format!("/{e}")).collect() };
            for (i, m) in list.iter().enumerate() {
                let verb = if m.label.starts_with('#') { "mount" } else { "bind" };
                let flag = match (i, m.create) {
                    (0, false) => "",
                    (0, true) => "-c ",
                    (_, false) => "-a ",
                    (_, true) => "-ac ",
                };
                s.push_str(&format!("{verb} {flag}{} {at}\n", m.label));
            }
        }
        s
    }
}

/// A namespace shared by the processes that use it: forked children share
/// their parent's, as Plan 9's fork does without RFNAMEG and Linux's
/// without CLONE_NEWNS; `copy` makes a private one (unshare, rfork).
#[derive(Clone)]
pub struct NsRef(Arc<parking_lot::RwLock<Namespace>>);

impl NsRef {
    pub fn new(ns: Namespace) -> NsRef {
        NsRef(Arc::new(parking_lot::RwLock::new(ns)))
    }

    /// Whether `other` is this very namespace (not a copy of it).
    pub fn same(&self, other: &NsRef) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A private copy of the namespace as it is now.
    pub fn copy(&self) -> NsRef {
        NsRef::new(self.0.read().clone())
    }

    /// Change the namespace.
    pub fn write(&self) -> parking_lot::RwLockWriteGuard<'_, Namespace> {
        self.0.write()
    }

    pub fn root(&self) -> Chan {
        self.0.read().root()
    }
    pub fn namei(&self, cwd: &Chan, path: &str, follow_last: bool) -> Result<Chan, Errno> {
        self.0.read().namei(cwd, path, follow_last)
    }
    pub fn namei_parent(&self, cwd: &Chan, path: &str) -> Result<(Chan, String), Errno> {
        self.0.read().namei_parent(cwd, path)
    }
    pub fn walk1(&self, from: &Chan, name: &str) -> Result<Chan, Errno> {
        self.0.read().walk1(from, name)
    }
    pub fn walk_in(&self, dir: &Chan, name: &str) -> Result<(Chan, Chan), Errno> {
        self.0.read().walk_in(dir, name)
    }
    pub fn walk_from_root(&self, names: &[String]) -> Result<Chan, Errno> {
        self.0.read().walk_from_root(names)
    }
    pub fn readdir(&self, dir: &Chan) -> Result<Vec<DirEntry>, Errno> {
        self.0.read().readdir(dir)
    }
    pub fn create_target(&self, dir: &Chan) -> Result<Chan, Errno> {
        self.0.read().create_target(dir)
    }
    pub fn is_mount_point(&self, c: &Chan) -> bool {
        self.0.read().is_mount_point(c)
    }
    pub fn describe(&self) -> String {
        self.0.read().describe()
    }
    pub fn bind(&self, new: &Chan, at: &Chan, flag: MountFlag, create: bool) -> Result<(), Errno> {
        self.0.write().bind(new, at, flag, create)
    }
    pub fn mount(&self, dev: Arc<dyn Dev>, spec: &str, at: &Chan, flag: MountFlag, create: bool) -> Result<(), Errno> {
        self.0.write().mount(dev, spec, at, flag, create)
    }
    pub fn unmount(&self, new: Option<&Chan>, at: &Chan) -> Result<(), Errno> {
        self.0.write().unmount(new, at)
    }
}

/// Most symbolic links one path lookup follows (Linux's limit).
pub const MAX_SYMLINKS: u32 = 40;

impl Namespace {
    /// Look a path up from `cwd`, following symbolic links (the last
    /// element's only if `follow_last`), as Linux's namei does.
    pub fn namei(&self, cwd: &Chan, path: &str, follow_last: bool) -> Result<Chan, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let start = if path.starts_with('/') { self.root() } else { cwd.clone() };
        let must_be_dir = path.ends_with('/');
        let mut todo: std::collections::VecDeque<String> =
            path.split('/').filter(|e| !e.is_empty()).map(str::to_owned).collect();
        let mut cur = start;
        let mut links = 0;
        while let Some(name) = todo.pop_front() {
            let next = self.walk1(&cur, &name)?;
            let last = todo.is_empty();
            if next.qid.kind == devices::FileType::Symlink && (!last || follow_last || must_be_dir) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target = next.dev.readlink(next.qid)?;
                if target.is_empty() {
                    return Err(Errno::ENOENT);
                }
                // /proc/N/fd/M naming a pipe, socket or the like is no
                // path: the open that follows it reopens the descriptor's
                // file (see sys_file's do_open).
                if last && !target.starts_with('/') && crate::devproc::fd_link(&*next.dev, next.qid).is_some() {
                    cur = next;
                    continue;
                }
                if target.starts_with('/') {
                    cur = self.root();
                }
                for e in target.split('/').filter(|e| !e.is_empty()).rev() {
                    todo.push_front(e.to_owned());
                }
                continue;
            }
            cur = next;
        }
        if must_be_dir && !cur.qid.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(cur)
    }

    /// Look up the directory that holds a path's last element; return it
    /// and the element (for create, unlink, rename).
    pub fn namei_parent(&self, cwd: &Chan, path: &str) -> Result<(Chan, String), Errno> {
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() {
            return if path.is_empty() { Err(Errno::ENOENT) } else { Err(Errno::EEXIST) };
        }
        let (dir, last) = match trimmed.rsplit_once('/') {
            Some(("", l)) => ("/", l),
            Some((d, l)) => (d, l),
            None => (".", trimmed),
        };
        if last.len() > 255 {
            return Err(Errno::ENAMETOOLONG);
        }
        let d = self.namei(cwd, dir, true)?;
        if !d.qid.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok((d, last.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use devices::{FileType, Stat};

    /// A read-only tree given as paths ("a/", "a/f", "a/l@target"):
    /// directories end in '/', symbolic links carry their target after '@'.
    struct Tree {
        dc: char,
        paths: Vec<String>,
    }

    impl Tree {
        fn make(dc: char, paths: &[&str]) -> Arc<dyn Dev> {
            let mut v = vec![String::new()];
            v.extend(paths.iter().map(|p| p.to_string()));
            Arc::new(Tree { dc, paths: v })
        }
        fn qid(&self, i: usize) -> Qid {
            let p = &self.paths[i];
            let kind = if p.contains('@') {
                FileType::Symlink
            } else if p.is_empty() || p.ends_with('/') {
                FileType::Dir
            } else {
                FileType::File
            };
            Qid { path: i as u64, vers: 0, kind }
        }
        fn name(&self, i: usize) -> String {
            self.paths[i].split('@').next().unwrap().trim_end_matches('/').to_string()
        }
    }

    impl Dev for Tree {
        fn dc(&self) -> char {
            self.dc
        }
        fn name(&self) -> &'static str {
            "tree"
        }
        fn attach(&self, _spec: &str) -> Result<Qid, Errno> {
            Ok(self.qid(0))
        }
        fn walk(&self, from: Qid, name: &str) -> Result<Qid, Errno> {
            let base = self.name(from.path as usize);
            let want = if base.is_empty() { name.to_string() } else { format!("{base}/{name}") };
            (0..self.paths.len()).find(|&i| self.name(i) == want).map(|i| self.qid(i)).ok_or(Errno::ENOENT)
        }
        fn stat(&self, q: Qid) -> Result<Stat, Errno> {
            Ok(Stat {
                qid: q,
                perm: 0o755,
                nlink: 1,
                uid: 0,
                gid: 0,
                size: 0,
                blocks: 0,
                atime: Default::default(),
                mtime: Default::default(),
                ctime: Default::default(),
                rdev: 0,
            })
        }
        fn readlink(&self, q: Qid) -> Result<String, Errno> {
            self.paths[q.path as usize].split_once('@').map(|(_, t)| t.to_string()).ok_or(Errno::EINVAL)
        }
        fn readdir(&self, q: Qid, start: usize) -> Result<Vec<DirEntry>, Errno> {
            let base = self.name(q.path as usize);
            let kids: Vec<DirEntry> = (1..self.paths.len())
                .filter(|&i| {
                    let n = self.name(i);
                    match n.rsplit_once('/') {
                        Some((parent, _)) => parent == base,
                        None => base.is_empty(),
                    }
                })
                .map(|i| DirEntry { name: self.name(i).rsplit('/').next().unwrap().to_string(), qid: self.qid(i) })
                .collect();
            Ok(kids.into_iter().skip(start).collect())
        }
    }

    fn names(ns: &Namespace, c: &Chan) -> Vec<String> {
        ns.readdir(c).unwrap().into_iter().map(|e| e.name).collect()
    }

    fn walk(ns: &Namespace, p: &str) -> Result<Chan, Errno> {
        let mut c = ns.root();
        for e in p.split('/').filter(|e| !e.is_empty()) {
            c = ns.walk1(&c, e)?;
        }
        Ok(c)
    }

    #[test]
    fn walk_and_errors() {
        let root = Tree::make('a', &["bin/", "bin/sh", "etc/", "etc/passwd"]);
        let q = root.attach("").unwrap();
        let ns = Namespace::new(root, q);
        assert_eq!(walk(&ns, "/bin/sh").unwrap().path_string(), "/bin/sh");
        assert_eq!(walk(&ns, "/bin/nope").unwrap_err(), Errno::ENOENT);
        assert_eq!(walk(&ns, "/bin/sh/x").unwrap_err(), Errno::ENOTDIR);
        assert_eq!(walk(&ns, "/bin/../etc/passwd").unwrap().path_string(), "/etc/passwd");
        assert_eq!(walk(&ns, "/../..").unwrap().path_string(), "/");
    }

    #[test]
    fn unions_before_after_and_dotdot_across_mounts() {
        let root = Tree::make('a', &["bin/", "bin/sh", "mnt/", "mnt/old"]);
        let extra = Tree::make('b', &["sh", "cat", "sub/", "sub/x"]);
        let q = root.attach("").unwrap();
        let mut ns = Namespace::new(root, q);
        let bin = walk(&ns, "/bin").unwrap();
        ns.mount(extra.clone(), "", &bin, MountFlag::After, false).unwrap();
        // The first member wins for a name both have.
        assert_eq!(walk(&ns, "/bin/sh").unwrap().dev.dc(), 'a');
        assert_eq!(walk(&ns, "/bin/cat").unwrap().dev.dc(), 'b');
        assert_eq!(names(&ns, &walk(&ns, "/bin").unwrap()), vec!["sh", "cat", "sub"]);
        // Before puts the new one first.
        let mnt = walk(&ns, "/mnt").unwrap();
        ns.mount(extra, "", &mnt, MountFlag::Before, true).unwrap();
        assert_eq!(names(&ns, &walk(&ns, "/mnt").unwrap()), vec!["sh", "cat", "sub", "old"]);
        assert_eq!(ns.create_target(&walk(&ns, "/mnt").unwrap()).unwrap().dev.dc(), 'b');
        // `..` from inside a mounted tree goes back to the mount's parent.
        let x = walk(&ns, "/mnt/sub/x").unwrap();
        assert_eq!(x.dev.dc(), 'b');
        let up = walk(&ns, "/mnt/sub/../..").unwrap();
        assert_eq!((up.path_string(), up.dev.dc()), ("/".to_string(), 'a'));
        assert!(ns.describe().contains("#b /mnt"));
        ns.unmount(None, &walk(&ns, "/mnt").unwrap()).unwrap();
        assert_eq!(names(&ns, &walk(&ns, "/mnt").unwrap()), vec!["old"]);
    }

    #[test]
    fn replace_and_bind_of_a_subtree() {
        let root = Tree::make('a', &["tmp/", "tmp/a", "home/", "home/u/", "home/u/f"]);
        let q = root.attach("").unwrap();
        let mut ns = Namespace::new(root, q);
        let u = walk(&ns, "/home/u").unwrap();
        let tmp = walk(&ns, "/tmp").unwrap();
        ns.bind(&u, &tmp, MountFlag::Replace, true).unwrap();
        assert_eq!(names(&ns, &walk(&ns, "/tmp").unwrap()), vec!["f"]);
        assert_eq!(walk(&ns, "/tmp/f").unwrap().path_string(), "/tmp/f");
        let f = walk(&ns, "/tmp/f").unwrap();
        assert_eq!(ns.bind(&f, &tmp, MountFlag::Replace, false).unwrap_err(), Errno::ENOTDIR);
    }

    #[test]
    fn namei_follows_symlinks() {
        let root =
            Tree::make('a', &["bin/", "bin/sh", "usr/", "usr/bin@/bin", "rel@bin/sh", "loop@loop", "dangling@/nope"]);
        let q = root.attach("").unwrap();
        let ns = Namespace::new(root, q);
        let r = ns.root();
        assert_eq!(ns.namei(&r, "/usr/bin/sh", true).unwrap().path_string(), "/bin/sh");
        assert_eq!(ns.namei(&r, "rel", true).unwrap().path_string(), "/bin/sh");
        assert_eq!(ns.namei(&r, "rel", false).unwrap().qid.kind, FileType::Symlink);
        assert_eq!(ns.namei(&r, "/usr/bin/", false).unwrap().path_string(), "/bin");
        assert_eq!(ns.namei(&r, "/loop", true).unwrap_err(), Errno::ELOOP);
        assert_eq!(ns.namei(&r, "/dangling", true).unwrap_err(), Errno::ENOENT);
        assert_eq!(ns.namei(&r, "/bin/sh/", true).unwrap_err(), Errno::ENOTDIR);
        assert_eq!(ns.namei(&r, "", true).unwrap_err(), Errno::ENOENT);
        let (d, last) = ns.namei_parent(&r, "/usr/bin/newfile").unwrap();
        assert_eq!((d.path_string(), last.as_str()), ("/bin".to_string(), "newfile"));
        let (d, last) = ns.namei_parent(&r, "x").unwrap();
        assert_eq!((d.path_string(), last.as_str()), ("/".to_string(), "x"));
    }

    #[test]
    fn ramfs_over_a_read_only_host_root() {
        // The boot shape of T3: a host tree read-only, a ramfs before it
        // taking every new file, so writes never reach the host.
        let host = std::env::temp_dir().join(format!("vxos-ns-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&host);
        std::fs::create_dir_all(host.join("etc")).unwrap();
        std::fs::write(host.join("etc/motd"), b"host file").unwrap();
        let hostfs: Arc<dyn Dev> = Arc::new(devices::hostfs::Hostfs::new(&host, false).unwrap());
        let ram: Arc<dyn Dev> = Arc::new(devices::Ramfs::new());
        let root = hostfs.attach("").unwrap();
        let mut ns = Namespace::new(hostfs.clone(), root);
        let r = ns.root();
        ns.mount(ram.clone(), "", &r, MountFlag::Before, true).unwrap();
        let r = ns.root();
        let motd = ns.namei(&r, "/etc/motd", true).unwrap();
        assert_eq!(motd.dev.dc(), 'Z');
        let target = ns.create_target(&r).unwrap();
        assert_eq!(target.dev.dc(), 'r');
        let q = target.dev.create(target.qid, "new", FileType::File, 0o644, devices::Cred::ROOT).unwrap();
        target.dev.write(q, b"guest data", 0).unwrap();
        let names: Vec<String> = ns.readdir(&ns.root()).unwrap().into_iter().map(|e| e.name).collect();
        assert!(names.contains(&"new".to_string()) && names.contains(&"etc".to_string()), "{names:?}");
        assert!(!host.join("new").exists(), "the write stayed in the guest");
        assert_eq!(ns.namei(&r, "/new", true).unwrap().dev.dc(), 'r');
    }
}
