//! Advisory file locks, as Linux keeps them: POSIX record locks (owned by
//! a process, dropped when it closes any descriptor of the file), open
//! file description locks (F_OFD_*, owned by the description) and flock
//! locks (whole-file, owned by the description, separate from the other
//! two). Locks only conflict between different owners, when their ranges
//! overlap and one of them is a write lock. A waiting lock request
//! (F_SETLKW, flock without LOCK_NB) sleeps on `CHAN`, which every release
//! wakes; a POSIX one that would close a cycle of waiting processes fails
//! with EDEADLK, as Linux's does.

use crate::errno::{Errno, SysResult};
use parking_lot::Mutex;
use std::collections::HashMap;

/// What waiting lock requests sleep on.
const CHAN: crate::sched::WaitChan = 0x4c4f_434b_0000_0000;

/// Processes waiting for a POSIX lock, and the process whose lock they
/// wait for (for deadlock detection).
static WAITING: Mutex<Option<HashMap<u32, u32>>> = Mutex::new(None);

/// Whether process `me` waiting for a lock `holder` holds would close a
/// cycle of waiting processes.
fn would_deadlock(me: u32, holder: u32) -> bool {
    let w = WAITING.lock();
    let Some(w) = w.as_ref() else { return false };
    let mut at = holder;
    for _ in 0..=w.len() {
        if at == me {
            return true;
        }
        match w.get(&at) {
            Some(&next) => at = next,
            None => return false,
        }
    }
    false
}

/// Note that process `me` waits for `holder`'s lock (None: no longer).
fn note_waiting(me: u32, holder: Option<u32>) {
    let mut w = WAITING.lock();
    let w = w.get_or_insert_with(HashMap::new);
    match holder {
        Some(h) => w.insert(me, h),
        None => w.remove(&me),
    };
}

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
    set_locked(&mut LOCKS.lock(), file, want, unlock)?;
    // What was given up (an unlock, a write lock made a read lock, a
    // range cut) may be what someone waits for.
    wake_waiters();
    Ok(())
}

fn set_locked(t: &mut Option<Table>, file: (u64, u64), want: Lock, unlock: bool) -> Result<(), Lock> {
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
    if let Some(t) = LOCKS.lock().as_mut() {
        t.retain(|k, list| {
            if file.is_none_or(|f| f == *k) {
                list.retain(|l| l.owner != owner);
            }
            !list.is_empty()
        });
    }
    wake_waiters();
}

/// Tasks asleep on `CHAN` (most of the time none: no wakeup then).
static SLEEPERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn wake_waiters() {
    if SLEEPERS.load(std::sync::atomic::Ordering::SeqCst) > 0 {
        crate::sched::wakeup(CHAN);
    }
}

/// Take `want` (or release its range) as `set` does; where another
/// owner's lock is in the way, fail with EAGAIN, or with `wait` sleep
/// until it goes and try again: EINTR once `interrupted` says a signal
/// came, EDEADLK where a POSIX lock's wait would close a cycle.
pub fn set_wait(
    file: (u64, u64),
    want: Lock,
    unlock: bool,
    wait: bool,
    interrupted: &mut dyn FnMut() -> bool,
) -> SysResult<()> {
    loop {
        let holder = match set(file, want, unlock) {
            Ok(()) => return Ok(()),
            Err(l) => l.owner,
        };
        if !wait {
            return Err(Errno::EAGAIN);
        }
        let posix = match (want.owner, holder) {
            (Owner::Process(me), Owner::Process(h)) => {
                if would_deadlock(me, h) {
                    return Err(Errno::EDEADLK);
                }
                Some((me, h))
            }
            _ => None,
        };
        if interrupted() {
            return Err(Errno::EINTR);
        }
        if let Some((me, h)) = posix {
            note_waiting(me, Some(h));
        }
        sleep();
        if let Some((me, _)) = posix {
            note_waiting(me, None);
        }
    }
}

/// Sleep until a lock changes (the caller then tries again).
fn sleep() {
    use std::sync::atomic::Ordering;
    SLEEPERS.fetch_add(1, Ordering::SeqCst);
    crate::sched::sleep(CHAN);
    SLEEPERS.fetch_sub(1, Ordering::SeqCst);
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
