//! Advisory file locks, as Linux keeps them: POSIX record locks (owned by
//! a process, dropped when it closes any descriptor of the file), open
//! file description locks (F_OFD_*, owned by the description) and flock
//! locks (whole-file, owned by the description, separate from the other
//! two). Locks only conflict between different owners, when their ranges
//! overlap and one of them is a write lock.

use parking_lot::Mutex;
use std::collections::HashMap;

/// Who holds a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A process (POSIX record locks).
    Process(u32),
    /// An open file description (OFD locks), by address.
    Description(usize),
    /// An open file description's flock lock.
    Flock(usize),
}

/// One lock on `[start, end)` of a file.
#[derive(Debug, Clone, Copy)]
pub struct Lock {
    pub owner: Owner,
    pub write: bool,
    pub start: u64,
    pub end: u64,
}

impl Lock {
    fn family(o: Owner) -> bool {
        matches!(o, Owner::Flock(_))
    }

    fn conflicts(&self, other: &Lock) -> bool {
        self.owner != other.owner
            && Self::family(self.owner) == Self::family(other.owner)
            && (self.write || other.write)
            && self.start < other.end
            && other.start < self.end
    }
}

/// Locks by file (device number, qid path).
type Table = HashMap<(u64, u64), Vec<Lock>>;
static LOCKS: Mutex<Option<Table>> = Mutex::new(None);

/// Return a lock of another owner that `want` conflicts with.
pub fn conflict(file: (u64, u64), want: &Lock) -> Option<Lock> {
    let mut t = LOCKS.lock();
    let t = t.get_or_insert_with(HashMap::new);
    t.get(&file)?.iter().find(|l| l.conflicts(want)).copied()
}

/// Take `want` (or, with `unlock`, release its range) for its owner,
/// unless another owner's lock is in the way: then return that one.
pub fn set(file: (u64, u64), want: Lock, unlock: bool) -> Result<(), Lock> {
    let mut t = LOCKS.lock();
    let t = t.get_or_insert_with(HashMap::new);
    let list = t.entry(file).or_default();
    if !unlock {
        if let Some(l) = list.iter().find(|l| l.conflicts(&want)) {
            return Err(*l);
        }
    }
    // Cut the owner's own locks out of the range, keeping what lies outside.
    let mut kept = Vec::with_capacity(list.len() + 1);
    for l in list.drain(..) {
        if l.owner != want.owner || l.end <= want.start || want.end <= l.start {
            kept.push(l);
            continue;
        }
        if l.start < want.start {
            kept.push(Lock { end: want.start, ..l });
        }
        if want.end < l.end {
            kept.push(Lock { start: want.end, ..l });
        }
    }
    if !unlock {
        kept.push(want);
    }
    *list = kept;
    if list.is_empty() {
        t.remove(&file);
    }
    Ok(())
}

/// Drop every lock `owner` holds on `file` (or on every file).
pub fn release(file: Option<(u64, u64)>, owner: Owner) {
    let mut t = LOCKS.lock();
    let Some(t) = t.as_mut() else { return };
    t.retain(|k, list| {
        if file.is_none_or(|f| f == *k) {
            list.retain(|l| l.owner != owner);
        }
        !list.is_empty()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(owner: Owner, write: bool, start: u64, end: u64) -> Lock {
        Lock { owner, write, start, end }
    }

    #[test]
    fn owners_ranges_and_kinds() {
        let f = (99, 1);
        let (a, b) = (Owner::Description(1), Owner::Description(2));
        assert!(set(f, lock(a, true, 0, 10), false).is_ok());
        // Another owner: a read lock overlapping a write lock conflicts.
        assert!(set(f, lock(b, false, 5, 6), false).is_err());
        assert!(set(f, lock(b, false, 10, 20), false).is_ok());
        // The same owner may change its own lock.
        assert!(set(f, lock(a, false, 0, 10), false).is_ok());
        assert!(set(f, lock(b, false, 5, 6), false).is_ok());
        // flock locks are a separate family.
        assert!(set(f, lock(Owner::Flock(1), true, 0, u64::MAX), false).is_ok());
        // Unlocking the middle of a range splits it.
        assert!(set(f, lock(a, false, 3, 4), true).is_ok());
        assert!(conflict(f, &lock(b, true, 3, 4)).is_none());
        assert!(conflict(f, &lock(b, true, 2, 3)).is_some());
        release(None, a);
        release(None, b);
        release(Some(f), Owner::Flock(1));
        assert!(LOCKS.lock().as_ref().unwrap().get(&f).is_none());
    }
}
