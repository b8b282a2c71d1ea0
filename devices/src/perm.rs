//! Permission checks as Linux makes them (`generic_permission`): the
//! owner's bits if the caller owns the file, else the group's if it is in
//! the file's group, else the others'; root passes every read and write
//! check, and an execute check on a directory or on a file with some x bit.
//!
//! Devices use this in `open` and `create`; the kernel uses it for search
//! permission while walking and for access(2). It knows only a `Cred`'s one
//! uid and gid: supplementary groups and capabilities are the kernel's.

use crate::dev::{Cred, Errno, FileType, Result, Stat};

/// Execute a file, or search a directory.
pub const MAY_EXEC: u32 = 1;
/// Write a file, or add and remove names in a directory.
pub const MAY_WRITE: u32 = 2;
/// Read a file, or list a directory.
pub const MAY_READ: u32 = 4;

/// Report whether `cred` may access the file `st` describes in every way
/// `want` (MAY_* bits) asks.
pub fn permitted(st: &Stat, cred: Cred, want: u32) -> bool {
    let want = want & 7;
    if cred.uid == 0 {
        return want & MAY_EXEC == 0 || st.qid.kind == FileType::Dir || st.perm & 0o111 != 0;
    }
    let bits = if cred.uid == st.uid {
        st.perm >> 6
    } else if cred.gid == st.gid {
        st.perm >> 3
    } else {
        st.perm
    };
    bits & want == want
}

/// Fail with EACCES unless `permitted`.
pub fn check(st: &Stat, cred: Cred, want: u32) -> Result<()> {
    if permitted(st, cred, want) {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::{Qid, Time};

    fn st(kind: FileType, perm: u32, uid: u32, gid: u32) -> Stat {
        let t = Time::default();
        Stat {
            qid: Qid { path: 1, vers: 0, kind },
            perm,
            nlink: 1,
            uid,
            gid,
            size: 0,
            blocks: 0,
            atime: t,
            mtime: t,
            ctime: t,
            rdev: 0,
        }
    }

    const ALICE: Cred = Cred { uid: 1000, gid: 100 };

    #[test]
    fn owner_then_group_then_other() {
        let f = st(FileType::File, 0o640, 1000, 100);
        assert!(permitted(&f, ALICE, MAY_READ | MAY_WRITE));
        assert!(!permitted(&f, ALICE, MAY_EXEC));
        let bob = Cred { uid: 1001, gid: 100 };
        assert!(permitted(&f, bob, MAY_READ));
        assert!(!permitted(&f, bob, MAY_WRITE));
        let eve = Cred { uid: 1002, gid: 200 };
        assert!(!permitted(&f, eve, MAY_READ));
        assert_eq!(check(&f, eve, MAY_READ), Err(Errno::EACCES));
        assert_eq!(check(&f, eve, 0), Ok(()));
        // The owner's bits decide for the owner even when others may more.
        let odd = st(FileType::File, 0o077, 1000, 100);
        assert!(!permitted(&odd, ALICE, MAY_READ));
        assert!(permitted(&odd, eve, MAY_READ));
    }

    #[test]
    fn root_passes_read_write_but_executes_only_with_an_x_bit() {
        let f = st(FileType::File, 0o000, 1000, 100);
        assert!(permitted(&f, Cred::ROOT, MAY_READ | MAY_WRITE));
        assert!(!permitted(&f, Cred::ROOT, MAY_EXEC));
        assert!(permitted(&st(FileType::File, 0o001, 1000, 100), Cred::ROOT, MAY_EXEC));
        assert!(permitted(&st(FileType::Dir, 0o000, 1000, 100), Cred::ROOT, MAY_EXEC | MAY_WRITE));
    }
}
