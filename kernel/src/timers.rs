//! Timers: wake a sleeping task at a time (nanosleep, timeouts) or send a
//! process a signal (alarm, setitimer), once or every interval.
//!
//! The vCPU loop fires the timers that are due before it picks a task,
//! and when no task is runnable it waits for the next one.

use crate::sched::{self, WaitChan};
use parking_lot::Mutex;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

/// What a timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Wake(WaitChan),
    /// Process `pid`'s interval timer `which` (ITIMER_REAL, _VIRTUAL,
    /// _PROF), generation `gen`.
    Itimer {
        pid: u32,
        which: u32,
        gen: u64,
    },
}

/// A process's interval timer.
#[derive(Debug, Clone, Copy)]
struct Itimer {
    deadline: Instant,
    interval: Duration,
    gen: u64,
}

#[derive(Default)]
struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Action)>>,
    itimers: HashMap<(u32, u32), Itimer>,
    gen: u64,
}

static TIMERS: Mutex<Option<Timers>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Timers) -> T) -> T {
    let mut g = TIMERS.lock();
    f(g.get_or_insert_with(Timers::default))
}

/// Wake whoever sleeps on `chan` at `when`.
pub fn wake_at(when: Instant, chan: WaitChan) {
    with(|t| t.heap.push(Reverse((when, Action::Wake(chan)))));
    // An idle vCPU may sleep past it: let it look again.
    crate::sched::kick_idle();
}

/// The signal an interval timer sends.
fn itimer_signal(which: u32) -> u32 {
    match which {
        1 => 26, // SIGVTALRM
        2 => 27, // SIGPROF
        _ => 14, // SIGALRM
    }
}

/// Set process `pid`'s interval timer `which` to fire after `value` and
/// then every `interval` (a zero value disarms it); return what was left
/// of the old one (remaining, interval).
pub fn set_itimer(pid: u32, which: u32, value: Duration, interval: Duration) -> (Duration, Duration) {
    let now = Instant::now();
    with(|t| {
        let old = t
            .itimers
            .remove(&(pid, which))
            .map(|i| (i.deadline.saturating_duration_since(now), i.interval))
            .unwrap_or_default();
        if !value.is_zero() {
            t.gen += 1;
            let it = Itimer { deadline: now + value, interval, gen: t.gen };
            t.itimers.insert((pid, which), it);
            t.heap.push(Reverse((it.deadline, Action::Itimer { pid, which, gen: it.gen })));
        }
        old
    })
}

/// What is left of process `pid`'s interval timer `which`.
pub fn get_itimer(pid: u32, which: u32) -> (Duration, Duration) {
    let now = Instant::now();
    with(|t| {
        t.itimers
            .get(&(pid, which))
            .map(|i| (i.deadline.saturating_duration_since(now), i.interval))
            .unwrap_or_default()
    })
}

/// Forget process `pid`'s timers (it exited).
pub fn forget(pid: u32) {
    with(|t| t.itimers.retain(|k, _| k.0 != pid));
}

/// Report whether a timer is due (the running task should let the vCPU
/// loop fire it).
pub fn due() -> bool {
    let now = Instant::now();
    with(|t| t.heap.peek().is_some_and(|r| r.0 .0 <= now))
}

/// Fire the timers that are due; return when the next one is.
pub fn fire() -> Option<Instant> {
    let now = Instant::now();
    let mut due = Vec::new();
    let next = with(|t| {
        while let Some(Reverse((when, a))) = t.heap.peek().copied() {
            if when > now {
                break;
            }
            t.heap.pop();
            match a {
                Action::Wake(_) => due.push(a),
                Action::Itimer { pid, which, gen } => {
                    let Some(it) = t.itimers.get_mut(&(pid, which)) else { continue };
                    if it.gen != gen {
                        continue;
                    }
                    due.push(a);
                    if it.interval.is_zero() {
                        t.itimers.remove(&(pid, which));
                    } else {
                        it.deadline += it.interval;
                        if it.deadline < now {
                            it.deadline = now + it.interval;
                        }
                        t.heap.push(Reverse((it.deadline, Action::Itimer { pid, which, gen })));
                    }
                }
            }
        }
        t.heap.peek().map(|r| r.0 .0)
    });
    for a in due {
        match a {
            Action::Wake(chan) => sched::wakeup(chan),
            Action::Itimer { pid, which, .. } => {
                crate::proctab::signal(pid, itimer_signal(which));
            }
        }
    }
    next
}
