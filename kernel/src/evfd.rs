//! eventfd, timerfd and signalfd: descriptors that make a counter, a timer
//! or a process's pending signals something to read and to poll.
//!
//! Each object lives in its open file description (`files::Object`), so
//! every descriptor and process sharing the description shares it, as on
//! Linux. The objects here are plain state with no waiting of their own:
//! the system calls (syscall/sys_evfd.rs) sleep on the description's
//! channel and wake it, and poll's channel, when the state changes.
//!
//! - An eventfd is a 64-bit counter: a write adds to it (never past
//!   `EVENTFD_MAX`), a read takes all of it, or one in semaphore mode.
//! - A timerfd holds its next expiration and its interval. Expirations are
//!   counted lazily, from the clock, when someone looks: nothing fires
//!   it, so a timer nobody reads costs nothing. Whoever waits for one asks
//!   the timer wheel (`timers::wake_at`) to be woken at `next()`.
//! - A signalfd is only a mask: the signals it reads are the reading
//!   process's own pending signals.
//!
//! Each keeps event counts, [input side, output side], bumped whenever it
//! would wake a waiter on Linux: epoll's edge-triggered mode reports an
//! entry again when they change.

use std::time::{Duration, Instant};

/// The largest value an eventfd counter holds.
pub const EVENTFD_MAX: u64 = 0xffff_ffff_ffff_fffe;

use crate::pipe::{POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};

/// An eventfd's counter.
pub struct EventFd {
    count: u64,
    semaphore: bool,
    pub events: [u64; 2],
}

impl EventFd {
    /// A counter starting at `count`, in semaphore mode or not.
    pub fn new(count: u64, semaphore: bool) -> EventFd {
        EventFd { count, semaphore, events: [0, 0] }
    }

    /// Take the counter (or one, in semaphore mode); None while it is 0.
    pub fn take(&mut self) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let v = if self.semaphore { 1 } else { self.count };
        self.count -= v;
        self.events[1] += 1;
        Some(v)
    }

    /// Add `v` to the counter; false if it would pass `EVENTFD_MAX` (the
    /// writer waits).
    pub fn add(&mut self, v: u64) -> bool {
        if EVENTFD_MAX - self.count < v {
            return false;
        }
        self.count += v;
        self.events[0] += 1;
        true
    }

    /// poll(2)'s answer: readable above 0, writable below the maximum.
    pub fn poll(&self) -> u16 {
        let mut r = 0;
        if self.count > 0 {
            r |= POLLIN | POLLRDNORM;
        }
        if self.count < EVENTFD_MAX {
            r |= POLLOUT | POLLWRNORM;
        }
        r
    }
}

/// A timerfd: which clock, when it next expires, and how many
/// expirations wait to be read.
pub struct TimerFd {
    pub clock: u32,
    /// The next expiration not yet counted in `ticks` (None: disarmed).
    deadline: Option<Instant>,
    interval: Duration,
    ticks: u64,
    /// Expirations ever counted, for epoll's edge-triggered mode.
    counted: u64,
}

impl TimerFd {
    /// A disarmed timer on `clock`.
    pub fn new(clock: u32) -> TimerFd {
        TimerFd { clock, deadline: None, interval: Duration::ZERO, ticks: 0, counted: 0 }
    }

    /// How many expirations are due at `now` and not yet counted.
    fn due(&self, now: Instant) -> u64 {
        match self.deadline {
            Some(d) if now >= d => {
                // A one-shot timer (no interval) expires once.
                let late = (now - d).as_nanos();
                1 + late.checked_div(self.interval.as_nanos()).unwrap_or(0) as u64
            }
            _ => 0,
        }
    }

    /// Count the expirations due at `now`; move the deadline past it.
    fn advance(&mut self, now: Instant) {
        let n = self.due(now);
        if n == 0 {
            return;
        }
        self.ticks += n;
        self.counted += n;
        self.deadline = match self.deadline {
            Some(d) if !self.interval.is_zero() => {
                let step = self.interval.as_nanos() * n as u128;
                Some(d + Duration::new((step / 1_000_000_000) as u64, (step % 1_000_000_000) as u32))
            }
            _ => None,
        };
    }

    /// Arm the timer to expire at `deadline` and then every `interval`
    /// (None disarms it); expirations not read are forgotten.
    pub fn set(&mut self, deadline: Option<Instant>, interval: Duration) {
        self.deadline = deadline;
        self.interval = if deadline.is_some() { interval } else { Duration::ZERO };
        self.ticks = 0;
    }

    /// The time to the next expiration (zero if disarmed) and the interval.
    pub fn get(&mut self, now: Instant) -> (Duration, Duration) {
        self.advance(now);
        (self.deadline.map_or(Duration::ZERO, |d| d - now), self.interval)
    }

    /// Take the expirations counted so far; None if there are none.
    pub fn take(&mut self, now: Instant) -> Option<u64> {
        self.advance(now);
        let n = std::mem::take(&mut self.ticks);
        (n > 0).then_some(n)
    }

    /// When the state next changes by itself: the next expiration.
    pub fn next(&self) -> Option<Instant> {
        self.deadline
    }

    /// poll(2)'s answer at `now`, and the event counts.
    pub fn poll(&self, now: Instant) -> (u16, [u64; 2]) {
        let due = self.due(now);
        let r = if self.ticks + due > 0 { POLLIN | POLLRDNORM } else { 0 };
        (r, [self.counted + due, 0])
    }
}

/// A signalfd: the signals it takes.
pub struct SignalFd {
    pub mask: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventfd_counts_and_saturates() {
        let mut e = EventFd::new(0, false);
        assert_eq!(e.take(), None);
        assert!(e.add(3) && e.add(4));
        assert_eq!(e.take(), Some(7));
        assert!(e.add(EVENTFD_MAX));
        assert!(!e.add(1));
        assert_eq!(e.poll(), POLLIN | POLLRDNORM);
        let mut s = EventFd::new(2, true);
        assert_eq!((s.take(), s.take(), s.take()), (Some(1), Some(1), None));
    }

    #[test]
    fn timer_counts_missed_intervals() {
        let t0 = Instant::now();
        let mut t = TimerFd::new(1);
        t.set(Some(t0 + Duration::from_millis(10)), Duration::from_millis(10));
        assert_eq!(t.take(t0), None);
        assert_eq!(t.poll(t0 + Duration::from_millis(35)).0, POLLIN | POLLRDNORM);
        assert_eq!(t.take(t0 + Duration::from_millis(35)), Some(3));
        assert_eq!(t.next(), Some(t0 + Duration::from_millis(40)));
        let (left, every) = t.get(t0 + Duration::from_millis(36));
        assert_eq!((left, every), (Duration::from_millis(4), Duration::from_millis(10)));
        t.set(Some(t0), Duration::ZERO);
        assert_eq!(t.take(t0 + Duration::from_secs(1)), Some(1));
        assert_eq!(t.next(), None);
    }
}
