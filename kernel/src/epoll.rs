//! epoll: a set of descriptors to wait on, kept by the kernel.
//!
//! An epoll instance is an open file description holding entries, each
//! keyed like Linux's by a descriptor number and the open file description
//! it referred to when added. An entry holds its description weakly: once
//! the description is closed everywhere, the entry is gone (dropped when
//! next looked at), even if the number now names another file.
//!
//! There are no wait queues: `epoll_wait` asks each entry's description
//! what it is ready for, with the same function as poll (syscall/sys_poll.rs),
//! and sleeps on poll's channel, which every change of a pipe, a terminal,
//! an eventfd, a timerfd or a signalfd wakes.
//!
//! Level-triggered entries are reported while they are ready. For
//! edge-triggered ones (EPOLLET), Linux reports a wakeup of the file's
//! wait queue; here an entry is reported when a condition appears that was
//! not there the last time it was looked at, or when the description's
//! event count for a condition it reports changed since then (every write
//! into a pipe, eventfd or timer expiration counts, as every one wakes
//! readers on Linux). Files without event counts (devices, host streams,
//! terminals) report only the rising edges of their conditions: a
//! terminal that gets more input while still readable is not reported
//! again, where Linux would.
//!
//! EPOLLRDHUP is taken and reported by the files that report it: none yet
//! (on Linux only sockets do; pipes report EPOLLHUP).

use crate::errno::{Errno, SysResult};
use crate::files::OpenFile;
use crate::pipe::{POLLOUT, POLLWRNORM};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Instant;

pub const EPOLLERR: u32 = 0x8;
pub const EPOLLHUP: u32 = 0x10;
pub const EPOLLWRBAND: u32 = 0x200;
pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub const EPOLLWAKEUP: u32 = 1 << 29;
pub const EPOLLONESHOT: u32 = 1 << 30;
pub const EPOLLET: u32 = 1 << 31;

/// What a description is ready for, as poll and epoll ask it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    /// The poll bits (POLLIN, POLLOUT, ...).
    pub bits: u16,
    /// Event counts [input side, output side]: see the module comment.
    pub events: [u64; 2],
    /// When to look again even if no wakeup comes (a timer's next
    /// expiration, a host stream's next look).
    pub wake: Option<Instant>,
}

/// The earlier of two optional times.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        _ => a.or(b),
    }
}

/// One watched description.
struct Entry {
    fd: u32,
    file: Weak<RefCell<OpenFile>>,
    events: u32,
    data: u64,
    /// Off after an EPOLLONESHOT entry was reported, until EPOLL_CTL_MOD.
    armed: bool,
    /// What was ready, and the event counts, when last looked at (EPOLLET).
    seen: u16,
    seen_events: [u64; 2],
}

impl Entry {
    /// Report whether the entry is reported, given what its file is ready
    /// for now; remember it for the next time.
    fn fires(&mut self, r: &Ready) -> bool {
        if self.events & EPOLLET == 0 {
            return r.bits != 0;
        }
        let out = POLLOUT | POLLWRNORM | EPOLLWRBAND as u16;
        let rose = r.bits & !self.seen != 0;
        let input = r.bits & !out != 0 && r.events[0] != self.seen_events[0];
        let output = r.bits & out != 0 && r.events[1] != self.seen_events[1];
        self.seen = r.bits;
        self.seen_events = r.events;
        rose || input || output
    }
}

/// An epoll instance.
#[derive(Default)]
pub struct Epoll {
    entries: Vec<Entry>,
    /// Where the next scan starts, so a full batch does not always favour
    /// the first entries.
    next: usize,
}

impl Epoll {
    /// The entry for descriptor `fd` open on `file`.
    fn find(&mut self, fd: u32, file: &Rc<RefCell<OpenFile>>) -> Option<&mut Entry> {
        self.entries.retain(|e| e.file.strong_count() > 0);
        self.entries.iter_mut().find(|e| e.fd == fd && std::ptr::eq(e.file.as_ptr(), Rc::as_ptr(file)))
    }

    /// Watch `fd`, open on `file`, for `events` (EPOLL_CTL_ADD).
    pub fn add(&mut self, fd: u32, file: &Rc<RefCell<OpenFile>>, events: u32, data: u64) -> SysResult<()> {
        if self.find(fd, file).is_some() {
            return Err(Errno::EEXIST);
        }
        let file = Rc::downgrade(file);
        self.entries.push(Entry { fd, file, events, data, armed: true, seen: 0, seen_events: [0, 0] });
        Ok(())
    }

    /// Change what an entry watches for (EPOLL_CTL_MOD): it is armed
    /// again and, if ready, reported again even when edge-triggered.
    pub fn modify(&mut self, fd: u32, file: &Rc<RefCell<OpenFile>>, events: u32, data: u64) -> SysResult<()> {
        let e = self.find(fd, file).ok_or(Errno::ENOENT)?;
        if e.events & EPOLLEXCLUSIVE != 0 {
            return Err(Errno::EINVAL);
        }
        (e.events, e.data, e.armed, e.seen, e.seen_events) = (events, data, true, 0, [0, 0]);
        Ok(())
    }

    /// Stop watching `fd` open on `file` (EPOLL_CTL_DEL).
    pub fn remove(&mut self, fd: u32, file: &Rc<RefCell<OpenFile>>) -> SysResult<()> {
        self.find(fd, file).ok_or(Errno::ENOENT)?;
        self.entries.retain(|e| !(e.fd == fd && std::ptr::eq(e.file.as_ptr(), Rc::as_ptr(file))));
        Ok(())
    }

    /// The descriptions watched (to find loops of epoll instances).
    pub fn targets(&self) -> Vec<Rc<RefCell<OpenFile>>> {
        self.entries.iter().filter_map(|e| e.file.upgrade()).collect()
    }

    /// What the instance itself is ready for, polled or watched by
    /// another instance: readable while an armed entry is ready.
    pub fn poll(&self, mut ready: impl FnMut(&OpenFile, u16) -> Ready) -> Ready {
        let mut out = Ready::default();
        for e in self.entries.iter().filter(|e| e.armed) {
            let Some(f) = e.file.upgrade() else { continue };
            let r = ready(&f.borrow(), e.events as u16);
            out.wake = earliest(out.wake, r.wake);
            if r.bits != 0 {
                out.bits = crate::pipe::POLLIN | crate::pipe::POLLRDNORM;
            }
        }
        out
    }

    /// Take up to `max` events, as (events, data); also say when to look
    /// again if nothing wakes the caller.
    pub fn collect(
        &mut self,
        max: usize,
        mut ready: impl FnMut(&OpenFile, u16) -> Ready,
    ) -> (Vec<(u32, u64)>, Option<Instant>) {
        self.entries.retain(|e| e.file.strong_count() > 0);
        let n = self.entries.len();
        let (mut out, mut wake) = (Vec::new(), None);
        for k in 0..n {
            let i = (self.next + k) % n;
            let e = &mut self.entries[i];
            let Some(f) = e.file.upgrade().filter(|_| e.armed) else { continue };
            let r = ready(&f.borrow(), e.events as u16);
            wake = earliest(wake, r.wake);
            if !e.fires(&r) {
                continue;
            }
            out.push((r.bits as u32, e.data));
            if e.events & EPOLLONESHOT != 0 {
                e.armed = false;
            }
            if out.len() == max {
                self.next = i + 1;
                break;
            }
        }
        (out, wake)
    }
}
