//! Futexes: threads wait on a word of memory until another wakes them.
//!
//! A futex is named by its address space and address (private futexes),
//! or by the frame that holds it (shared ones, which may be mapped at
//! different addresses in different processes). Each has a queue of
//! waiting threads with their wait bitsets; a waker takes threads off the
//! queue and marks them woken, which is how a waiter tells a wakeup from
//! a timeout or a signal.

use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::sched;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

/// A futex's name.
pub type Key = (u64, u32);

#[derive(Default)]
struct Table {
    queues: HashMap<Key, VecDeque<(u32, u32)>>,
    woken: HashSet<u32>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Table) -> T) -> T {
    let mut g = TABLE.lock();
    f(g.get_or_insert_with(Table::default))
}

/// The channel thread `tid` sleeps on in a futex wait.
fn chan(tid: u32) -> sched::WaitChan {
    0x4655_5445_0000_0000 | tid as u64
}

/// The key of the futex at `addr` for `p`: shared futexes by frame when
/// the page is present, private ones by address space.
pub fn key(p: &mut Process, addr: u32, shared: bool) -> SysResult<Key> {
    if !addr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    if shared {
        p.read_u32(addr)?;
        if let Some(frame) = p.mm.frame_at(addr) {
            return Ok((1 << 63 | frame as u64, addr & 0xfff));
        }
    }
    Ok((p.mm.id() as u64, addr))
}

/// Wait on `key` while the word at `addr` is `val`, until woken (0), the
/// deadline (ETIMEDOUT) or a signal (EINTR).
pub fn wait(p: &mut Process, addr: u32, key: Key, val: u32, bitset: u32, deadline: Option<Instant>) -> SysResult {
    if bitset == 0 {
        return Err(Errno::EINVAL);
    }
    if p.read_u32(addr)? != val {
        return Err(Errno::EAGAIN);
    }
    let tid = p.tid;
    with(|t| {
        t.woken.remove(&tid);
        t.queues.entry(key).or_default().push_back((tid, bitset));
    });
    loop {
        if let Some(d) = deadline {
            crate::timers::wake_at(d, chan(tid));
        }
        sched::sleep(chan(tid));
        if with(|t| t.woken.remove(&tid)) {
            return Ok(0);
        }
        let timed_out = deadline.is_some_and(|d| Instant::now() >= d);
        if timed_out || p.signal_interrupts() {
            let still = with(|t| {
                let woken = t.woken.remove(&tid);
                for q in t.queues.values_mut() {
                    q.retain(|w| w.0 != tid);
                }
                t.queues.retain(|_, q| !q.is_empty());
                woken
            });
            if still {
                return Ok(0);
            }
            return Err(if timed_out { Errno::ETIMEDOUT } else { Errno::EINTR });
        }
    }
}

/// Wake up to `n` threads waiting on `key` whose bitset meets `bitset`.
pub fn wake(key: Key, n: u32, bitset: u32) -> u32 {
    let woken = with(|t| {
        let mut out = Vec::new();
        if let Some(q) = t.queues.get_mut(&key) {
            let mut i = 0;
            while i < q.len() && (out.len() as u32) < n {
                if q[i].1 & bitset != 0 {
                    out.push(q.remove(i).unwrap().0);
                } else {
                    i += 1;
                }
            }
            if q.is_empty() {
                t.queues.remove(&key);
            }
        }
        for &tid in &out {
            t.woken.insert(tid);
        }
        out
    });
    for &tid in &woken {
        sched::wakeup(chan(tid));
    }
    woken.len() as u32
}

/// Wake up to `n` waiters of `from` and move up to `m` more to `to`.
pub fn requeue(from: Key, to: Key, n: u32, m: u32) -> u32 {
    let woken = wake(from, n, u32::MAX);
    let moved = with(|t| {
        let Some(q) = t.queues.get_mut(&from) else { return 0 };
        let k = (m as usize).min(q.len());
        let taken: Vec<_> = q.drain(..k).collect();
        if q.is_empty() {
            t.queues.remove(&from);
        }
        t.queues.entry(to).or_default().extend(taken);
        k as u32
    });
    woken + moved
}

/// Forget thread `tid` (it exited).
pub fn forget(tid: u32) {
    with(|t| {
        t.woken.remove(&tid);
        for q in t.queues.values_mut() {
            q.retain(|w| w.0 != tid);
        }
        t.queues.retain(|_, q| !q.is_empty());
    });
}
