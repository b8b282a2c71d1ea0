//! pts (`#t`): the slave sides of the pseudo-terminals, one file per open
//! pty named by its number, as Linux's devpts shows them at /dev/pts. The
//! device only names and describes them; opening one gives the terminal
//! (`tty.rs`), which the kernel serves.

use devices::dirtab::makedev;
use devices::{Cred, Dev, DirEntry, Errno, FileType, OpenMode, Qid, Stat, Time};

type Result<T> = std::result::Result<T, Errno>;

const ROOT: u64 = 0;

/// The qid path of pty `n`.
fn path_of(n: u32) -> u64 {
    n as u64 + 1
}

/// The pty number a qid names.
pub fn number(q: Qid) -> Option<u32> {
    (q.path != ROOT).then(|| (q.path - 1) as u32)
}

pub struct Pts;

impl Dev for Pts {
    fn dc(&self) -> char {
        't'
    }

    fn name(&self) -> &'static str {
        "pts"
    }

    fn attach(&self, _spec: &str) -> Result<Qid> {
        Ok(Qid { path: ROOT, vers: 0, kind: FileType::Dir })
    }

    fn walk(&self, from: Qid, name: &str) -> Result<Qid> {
        if from.path != ROOT {
            return Err(Errno::ENOTDIR);
        }
        if name == ".." || name == "." {
            return Ok(from);
        }
        let n: u32 = name.parse().map_err(|_| Errno::ENOENT)?;
        if name != n.to_string() || !crate::tty::ptys().contains(&n) {
            return Err(Errno::ENOENT);
        }
        Ok(Qid { path: path_of(n), vers: 0, kind: FileType::CharDev })
    }

    fn stat(&self, q: Qid) -> Result<Stat> {
        let now = Time::now();
        let (perm, rdev) = match number(q) {
            None => (0o755, 0),
            Some(n) => (0o620, makedev(136, n)),
        };
        Ok(Stat {
            qid: q,
            perm,
            nlink: if q.is_dir() { 2 } else { 1 },
            uid: 0,
            gid: 0,
            size: 0,
            blocks: 0,
            atime: now,
            mtime: now,
            ctime: now,
            rdev,
        })
    }

    fn open(&self, q: Qid, mode: OpenMode, _cred: Cred) -> Result<Qid> {
        if q.is_dir() && (mode.write || mode.truncate) {
            return Err(Errno::EISDIR);
        }
        if let Some(n) = number(q) {
            if !crate::tty::ptys().contains(&n) {
                return Err(Errno::EIO);
            }
        }
        Ok(q)
    }

    fn readdir(&self, q: Qid, start: usize) -> Result<Vec<DirEntry>> {
        if q.path != ROOT {
            return Err(Errno::ENOTDIR);
        }
        Ok(crate::tty::ptys()
            .into_iter()
            .skip(start)
            .map(|n| DirEntry { name: n.to_string(), qid: Qid { path: path_of(n), vers: 0, kind: FileType::CharDev } })
            .collect())
    }
}
