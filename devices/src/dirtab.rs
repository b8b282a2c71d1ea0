//! Static directory tables (Plan 9's Dirtab) and the walk, stat, readdir
//! and open every table-driven device shares (Plan 9's devwalk, devstat,
//! devdirread and devopen).
//!
//! A device whose files never change lists them as data: entry 0 is its
//! root directory ("."), the others the files in it, one level deep. The
//! device still writes its own `read` and `write`, a `match` on the qid
//! path. Files belong to root and carry the time the caller passes (the
//! device's start); they have no size.

use crate::dev::{Cred, DirEntry, Errno, FileType, OpenMode, Qid, Result, Stat, Time};
use crate::perm::{self, MAY_READ, MAY_WRITE};

/// One file of a static directory.
#[derive(Debug, Clone, Copy)]
pub struct DirTab {
    pub name: &'static str,
    /// The qid path, unique in the table.
    pub path: u64,
    pub kind: FileType,
    /// Permission bits.
    pub perm: u32,
    /// Device number (see `makedev`) for device files, else 0.
    pub rdev: u64,
}

impl DirTab {
    /// Return the entry's qid (tables never change, so vers is 0).
    pub const fn qid(&self) -> Qid {
        Qid { path: self.path, vers: 0, kind: self.kind }
    }
}

/// Encode a device number as Linux's new_encode_dev does: minor's low 8
/// bits, then 12 bits of major, then minor's high bits. This is the st_rdev
/// i386 stat64 returns and what glibc's makedev gives for such numbers.
pub const fn makedev(major: u32, minor: u32) -> u64 {
    ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)) as u64
}

/// Find the entry for `q` in `tab`.
fn entry(tab: &[DirTab], q: Qid) -> Result<&DirTab> {
    tab.iter().find(|d| d.path == q.path).ok_or(Errno::ENOENT)
}

/// Walk one element from `from`; only the root (entry 0) has names in it.
pub fn walk(tab: &[DirTab], from: Qid, name: &str) -> Result<Qid> {
    let root = &tab[0];
    if entry(tab, from)?.kind != FileType::Dir {
        return Err(Errno::ENOTDIR);
    }
    match name {
        "" | "." | ".." => Ok(root.qid()),
        _ => tab[1..].iter().find(|d| d.name == name).map(DirTab::qid).ok_or(Errno::ENOENT),
    }
}

/// Describe file `q`, dated `t`.
pub fn stat(tab: &[DirTab], q: Qid, t: Time) -> Result<Stat> {
    let d = entry(tab, q)?;
    Ok(Stat {
        qid: d.qid(),
        perm: d.perm,
        nlink: if d.kind == FileType::Dir { 2 } else { 1 },
        uid: 0,
        gid: 0,
        size: 0,
        blocks: 0,
        atime: t,
        mtime: t,
        ctime: t,
        rdev: d.rdev,
    })
}

/// List the root from entry `start` on.
pub fn readdir(tab: &[DirTab], q: Qid, start: usize) -> Result<Vec<DirEntry>> {
    if entry(tab, q)?.kind != FileType::Dir {
        return Err(Errno::ENOTDIR);
    }
    Ok(tab[1..].iter().skip(start).map(|d| DirEntry { name: d.name.to_string(), qid: d.qid() }).collect())
}

/// Check an open of `q` against its permission bits.
pub fn open(tab: &[DirTab], q: Qid, mode: OpenMode, cred: Cred) -> Result<Qid> {
    let st = stat(tab, q, Time::default())?;
    if st.qid.is_dir() && (mode.write || mode.truncate) {
        return Err(Errno::EISDIR);
    }
    let want = if mode.read { MAY_READ } else { 0 } | if mode.write || mode.truncate { MAY_WRITE } else { 0 };
    perm::check(&st, cred, want)?;
    Ok(st.qid)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAB: [DirTab; 3] = [
        DirTab { name: ".", path: 0, kind: FileType::Dir, perm: 0o555, rdev: 0 },
        DirTab { name: "a", path: 1, kind: FileType::File, perm: 0o644, rdev: 0 },
        DirTab { name: "b", path: 2, kind: FileType::CharDev, perm: 0o600, rdev: 0x103 },
    ];

    #[test]
    fn makedev_matches_linux() {
        assert_eq!(makedev(1, 3), 0x103);
        assert_eq!(makedev(8, 1), 0x801);
        // A minor past 255 puts its high bits above the major.
        assert_eq!(makedev(1, 0x1234), 0x120_0134);
    }

    #[test]
    fn walk_stat_readdir_open() {
        let root = TAB[0].qid();
        assert_eq!(walk(&TAB, root, "a").unwrap(), TAB[1].qid());
        assert_eq!(walk(&TAB, root, "..").unwrap(), root);
        assert_eq!(walk(&TAB, root, "c").unwrap_err(), Errno::ENOENT);
        assert_eq!(walk(&TAB, TAB[1].qid(), "a").unwrap_err(), Errno::ENOTDIR);
        let names: Vec<String> = readdir(&TAB, root, 0).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(readdir(&TAB, root, 1).unwrap()[0].name, "b");
        assert!(readdir(&TAB, root, 5).unwrap().is_empty());
        assert_eq!(readdir(&TAB, TAB[1].qid(), 0).unwrap_err(), Errno::ENOTDIR);
        let st = stat(&TAB, TAB[2].qid(), Time { sec: 7, nsec: 0 }).unwrap();
        assert_eq!((st.mode(), st.rdev, st.mtime.sec), (0o020600, 0x103, 7));
        let user = Cred { uid: 1000, gid: 1000 };
        assert_eq!(open(&TAB, TAB[2].qid(), OpenMode::READ, user).unwrap_err(), Errno::EACCES);
        assert_eq!(open(&TAB, TAB[1].qid(), OpenMode::READ, user).unwrap(), TAB[1].qid());
        assert_eq!(open(&TAB, TAB[1].qid(), OpenMode::WRITE, user).unwrap_err(), Errno::EACCES);
        assert_eq!(open(&TAB, root, OpenMode::WRITE, Cred::ROOT).unwrap_err(), Errno::EISDIR);
    }
}
