//! root (`#/`): the skeleton of the guest's tree, as Plan 9's root device:
//! an unchangeable directory of empty directories that serve as mount
//! points (`dev`, `proc`, `tmp`, …). The boot namespace puts it after the
//! root file system, so the skeleton shows only where that has nothing.

use crate::dev::*;
use crate::dirtab::{self, DirTab};

const fn dir(name: &'static str, path: u64, perm: u32) -> DirTab {
    DirTab { name, path, kind: FileType::Dir, perm, rdev: 0 }
}

static TAB: [DirTab; 12] = [
    dir(".", 0, 0o755),
    dir("bin", 1, 0o755),
    dir("dev", 2, 0o755),
    dir("env", 3, 0o755),
    dir("etc", 4, 0o755),
    dir("home", 5, 0o755),
    dir("lib", 6, 0o755),
    dir("mnt", 7, 0o755),
    dir("proc", 8, 0o555),
    dir("root", 9, 0o700),
    dir("tmp", 10, 0o1777),
    dir("usr", 11, 0o755),
];

/// The root device.
pub struct Root {
    born: Time,
}

impl Default for Root {
    fn default() -> Self {
        Self::new()
    }
}

impl Root {
    pub fn new() -> Root {
        Root { born: Time::now() }
    }
}

impl Dev for Root {
    fn dc(&self) -> char {
        '/'
    }

    fn name(&self) -> &'static str {
        "root"
    }

    fn attach(&self, _spec: &str) -> Result<Qid> {
        Ok(TAB[0].qid())
    }

    /// The root holds the mount points; each of them is empty.
    fn walk(&self, from: Qid, name: &str) -> Result<Qid> {
        match (from.path, name) {
            (_, "..") => Ok(TAB[0].qid()),
            (_, "." | "") => Ok(from),
            (0, _) => dirtab::walk(&TAB, from, name),
            _ => Err(Errno::ENOENT),
        }
    }

    fn stat(&self, q: Qid) -> Result<Stat> {
        dirtab::stat(&TAB, q, self.born)
    }

    fn open(&self, q: Qid, mode: OpenMode, cred: Cred) -> Result<Qid> {
        dirtab::open(&TAB, q, mode, cred)
    }

    fn readdir(&self, q: Qid, start: usize) -> Result<Vec<DirEntry>> {
        if q.path == 0 {
            dirtab::readdir(&TAB, q, start)
        } else {
            Ok(Vec::new())
        }
    }

    fn read_only(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_empty_directories() {
        let r = Root::new();
        let root = r.attach("").unwrap();
        let names: Vec<String> = r.readdir(root, 0).unwrap().into_iter().map(|e| e.name).collect();
        assert!(names.contains(&"proc".to_string()) && names.contains(&"tmp".to_string()));
        let proc = r.walk(root, "proc").unwrap();
        assert!(proc.is_dir());
        assert!(r.readdir(proc, 0).unwrap().is_empty());
        assert_eq!(r.walk(proc, "x").unwrap_err(), Errno::ENOENT);
        assert_eq!(r.walk(proc, "..").unwrap(), root);
        assert_eq!(r.stat(r.walk(root, "tmp").unwrap()).unwrap().perm, 0o1777);
        assert_eq!(r.create(root, "x", FileType::File, 0o644, Cred::ROOT).unwrap_err(), Errno::EROFS);
    }
}
