//! Event descriptors: eventfd, timerfd, signalfd and epoll system calls,
//! and reading and writing the first three.
//!
//! The objects are in evfd.rs and epoll.rs; this file checks arguments in
//! Linux's order, moves structures in and out of guest memory, and waits.
//! A blocking read or write sleeps on its open file description's channel
//! (`chan`), which every change of the object wakes along with poll's;
//! epoll_wait waits as poll does (sys_poll.rs `wait_for`).

use super::sys_poll::{ms_deadline, poll_file, restore_mask, ts_deadline, wait_for, with_mask};
use super::Args;
use crate::epoll::{Epoll, EPOLLERR, EPOLLEXCLUSIVE, EPOLLHUP, EPOLLWAKEUP};
use crate::errno::{Errno, SysResult};
use crate::evfd::{EventFd, SignalFd, TimerFd};
use crate::files::{Object, OpenFile, O_CLOEXEC, O_NONBLOCK, O_RDWR};
use crate::pipe::POLL_CHAN;
use crate::process::Process;
use crate::sched;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

type File = Rc<RefCell<OpenFile>>;

/// What a sleeper on description `f` waits on.
fn chan(f: &File) -> sched::WaitChan {
    Rc::as_ptr(f) as u64
}

/// Wake whoever waits on description `f`, and whoever polls.
fn wake(f: &File) {
    sched::wakeup(chan(f));
    sched::wakeup(POLL_CHAN);
}

/// Install a new description of `obj`, non-blocking and close-on-exec as
/// `flags` (O_NONBLOCK, O_CLOEXEC) say.
fn install(p: &mut Process, obj: Object, flags: u32) -> SysResult {
    let f = OpenFile { obj, flags: O_RDWR | flags & O_NONBLOCK, pos: 0 };
    p.files.install(f, flags & O_CLOEXEC != 0)
}

/// Run `op` on description `file`'s object until it is done (Ok), sleeping
/// between tries; `op` says when it fails (Err) when to try again without
/// a wakeup. A non-blocking description fails with EAGAIN instead, a
/// signal ends the wait with EINTR.
fn wait_on<T>(
    p: &mut Process,
    file: &File,
    mut op: impl FnMut(&mut Process, &mut Object) -> Result<T, Option<Instant>>,
) -> SysResult<T> {
    loop {
        let (step, nb) = {
            let mut f = file.borrow_mut();
            let nb = f.flags & O_NONBLOCK != 0;
            (op(p, &mut f.obj), nb)
        };
        let again = match step {
            Ok(v) => {
                wake(file);
                return Ok(v);
            }
            Err(again) => again,
        };
        if nb {
            return Err(Errno::EAGAIN);
        }
        if p.signal_interrupts() {
            return Err(Errno::EINTR);
        }
        if let Some(t) = again {
            crate::timers::wake_at(t, chan(file));
        }
        sched::sleep(chan(file));
    }
}

/// Report whether `read_into` and `write_from` (sys_file/rw.rs) leave
/// description `f` to this file.
pub(super) fn is_event_file(f: &OpenFile) -> bool {
    f.obj.anon_name().is_some()
}

/// read(2) of an eventfd (the counter), a timerfd (the expirations) or a
/// signalfd (signals as `struct signalfd_siginfo`) into `buf`.
pub(super) fn read(p: &mut Process, file: &File, buf: u32, len: usize) -> SysResult<usize> {
    let (counter, signals) = match &file.borrow().obj {
        Object::EventFd(_) | Object::TimerFd(_) => (true, false),
        Object::SignalFd(_) => (false, true),
        _ => (false, false),
    };
    match (counter, signals) {
        (true, _) => {
            if len < 8 {
                return Err(Errno::EINVAL);
            }
            p.ucheck_write(buf, 8)?;
            let v = wait_on(p, file, |_, obj| match obj {
                Object::EventFd(e) => e.take().ok_or(None),
                Object::TimerFd(t) => {
                    let now = Instant::now();
                    t.take(now).ok_or(t.next())
                }
                _ => unreachable!("an eventfd or a timerfd"),
            })?;
            p.uwrite(buf, &v.to_le_bytes())?;
            Ok(8)
        }
        (_, true) => read_signals(p, file, buf, len),
        _ => Err(Errno::EINVAL),
    }
}

/// write(2) to an eventfd: add the 8-byte value to the counter.
pub(super) fn write(p: &mut Process, file: &File, data: &[u8]) -> SysResult<usize> {
    if !matches!(file.borrow().obj, Object::EventFd(_)) {
        return Err(Errno::EINVAL);
    }
    let Some(v) = data.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap())) else {
        return Err(Errno::EINVAL);
    };
    if v == u64::MAX {
        return Err(Errno::EINVAL);
    }
    wait_on(p, file, |_, obj| match obj {
        Object::EventFd(e) => e.add(v).then_some(8).ok_or(None),
        _ => unreachable!("an eventfd"),
    })
}

// ---------------------------------------------------------------------
// eventfd

const EFD_SEMAPHORE: u32 = 1;

/// eventfd(2): no flags.
pub fn eventfd(p: &mut Process, a: Args) -> SysResult {
    eventfd2(p, [a[0], 0, 0, 0, 0, 0])
}

/// eventfd2(2).
pub fn eventfd2(p: &mut Process, a: Args) -> SysResult {
    let (count, flags) = (a[0], a[1]);
    if flags & !(EFD_SEMAPHORE | O_NONBLOCK | O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    install(p, Object::EventFd(EventFd::new(count as u64, flags & EFD_SEMAPHORE != 0)), flags)
}

// ---------------------------------------------------------------------
// timerfd

const TFD_TIMER_ABSTIME: u32 = 1;
const TFD_TIMER_CANCEL_ON_SET: u32 = 2;

/// timerfd_create(2): CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME and
/// their _ALARM forms (as if the caller may wake the machine).
pub fn timerfd_create(p: &mut Process, a: Args) -> SysResult {
    let (clock, flags) = (a[0], a[1]);
    if flags & !(O_NONBLOCK | O_CLOEXEC) != 0 || !matches!(clock, 0 | 1 | 7 | 8 | 9) {
        return Err(Errno::EINVAL);
    }
    install(p, Object::TimerFd(TimerFd::new(clock)), flags)
}

/// The time on the host clock a timer counts in.
fn clock_now(clock: u32) -> Duration {
    use rustix::time::{clock_gettime, ClockId};
    let id = match clock {
        0 | 8 => ClockId::Realtime,
        7 | 9 => ClockId::Boottime,
        _ => ClockId::Monotonic,
    };
    let t = clock_gettime(id);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The instant an absolute time `when` of a clock that reads `clock` at
/// `now` comes: in the past if it has gone by (an interval timer then
/// counts the expirations it missed).
fn abs_deadline(now: Instant, when: Duration, clock: Duration) -> Instant {
    if when >= clock {
        now + (when - clock)
    } else {
        now.checked_sub(clock - when).unwrap_or(now)
    }
}

/// Read a `struct itimerspec` (32- or 64-bit): (interval, value).
fn get_itimerspec(p: &mut Process, addr: u32, wide: bool) -> SysResult<(Duration, Duration)> {
    let size = if wide { 16 } else { 8 };
    let (is, ins) = super::sys_time::timespec(p, addr, wide)?;
    let (vs, vns) = super::sys_time::timespec(p, addr + size, wide)?;
    let valid = |s: i64, ns: i64| s >= 0 && (0..1_000_000_000).contains(&ns);
    if !valid(is, ins) || !valid(vs, vns) {
        return Err(Errno::EINVAL);
    }
    Ok((Duration::new(is as u64, ins as u32), Duration::new(vs as u64, vns as u32)))
}

/// Write a `struct itimerspec` (32- or 64-bit).
fn put_itimerspec(p: &mut Process, addr: u32, interval: Duration, value: Duration, wide: bool) -> SysResult<()> {
    let mut b = Vec::with_capacity(32);
    for d in [interval, value] {
        if wide {
            b.extend((d.as_secs() as i64).to_le_bytes());
            b.extend((d.subsec_nanos() as i64).to_le_bytes());
        } else {
            b.extend((d.as_secs() as u32).to_le_bytes());
            b.extend(d.subsec_nanos().to_le_bytes());
        }
    }
    p.uwrite(addr, &b)
}

/// The timerfd open as `fd`.
fn timerfd(p: &Process, fd: u32) -> SysResult<File> {
    let f = p.files.file(fd)?;
    if !matches!(f.borrow().obj, Object::TimerFd(_)) {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

fn do_timerfd_settime(p: &mut Process, a: Args, wide: bool) -> SysResult {
    let (fd, flags, new, old) = (a[0], a[1], a[2], a[3]);
    let (interval, value) = get_itimerspec(p, new, wide)?;
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let file = timerfd(p, fd)?;
    let now = Instant::now();
    let (left, every) = {
        let mut f = file.borrow_mut();
        let Object::TimerFd(t) = &mut f.obj else { unreachable!("a timerfd") };
        let was = t.get(now);
        let deadline = match value {
            v if v.is_zero() => None,
            v if flags & TFD_TIMER_ABSTIME != 0 => Some(abs_deadline(now, v, clock_now(t.clock))),
            v => Some(now + v),
        };
        t.set(deadline, interval);
        was
    };
    wake(&file);
    if old != 0 {
        put_itimerspec(p, old, every, left, wide)?;
    }
    Ok(0)
}

/// timerfd_settime(2) with 32-bit times.
pub fn timerfd_settime(p: &mut Process, a: Args) -> SysResult {
    do_timerfd_settime(p, a, false)
}

/// timerfd_settime64(2).
pub fn timerfd_settime64(p: &mut Process, a: Args) -> SysResult {
    do_timerfd_settime(p, a, true)
}

fn do_timerfd_gettime(p: &mut Process, a: Args, wide: bool) -> SysResult {
    let file = timerfd(p, a[0])?;
    let (left, every) = match &mut file.borrow_mut().obj {
        Object::TimerFd(t) => t.get(Instant::now()),
        _ => unreachable!("a timerfd"),
    };
    put_itimerspec(p, a[1], every, left, wide)?;
    Ok(0)
}

/// timerfd_gettime(2) with 32-bit times.
pub fn timerfd_gettime(p: &mut Process, a: Args) -> SysResult {
    do_timerfd_gettime(p, a, false)
}

/// timerfd_gettime64(2).
pub fn timerfd_gettime64(p: &mut Process, a: Args) -> SysResult {
    do_timerfd_gettime(p, a, true)
}

// ---------------------------------------------------------------------
// signalfd

/// The size of `struct signalfd_siginfo`.
const SIGINFO_SIZE: usize = 128;

/// signalfd(2): no flags.
pub fn signalfd(p: &mut Process, a: Args) -> SysResult {
    signalfd4(p, [a[0], a[1], a[2], 0, 0, 0])
}

/// signalfd4(2): make a signalfd for the signals of the mask, or (`fd`
/// not -1) change an existing one's mask.
pub fn signalfd4(p: &mut Process, a: Args) -> SysResult {
    let (fd, set, size, flags) = (a[0] as i32, a[1], a[2], a[3]);
    if flags & !(O_NONBLOCK | O_CLOEXEC) != 0 || size != 8 {
        return Err(Errno::EINVAL);
    }
    let mut b = [0u8; 8];
    p.uread(set, &mut b)?;
    let mask = u64::from_le_bytes(b) & !crate::signal::UNBLOCKABLE;
    if fd == -1 {
        return install(p, Object::SignalFd(SignalFd { mask }), flags);
    }
    let file = p.files.file(fd as u32)?;
    match &mut file.borrow_mut().obj {
        Object::SignalFd(s) => s.mask = mask,
        _ => return Err(Errno::EINVAL),
    }
    wake(&file);
    Ok(fd as u32)
}

/// A signal as `struct signalfd_siginfo`.
fn signalfd_siginfo(si: &crate::signal::SigInfo) -> [u8; SIGINFO_SIZE] {
    let mut b = [0u8; SIGINFO_SIZE];
    let mut put = |o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    put(0, si.signo);
    put(8, si.code as u32);
    put(12, si.pid);
    put(16, si.uid);
    match si.signo {
        // SIGCHLD: ssi_status.
        17 => put(40, si.value),
        // Faults: ssi_addr (SigInfo keeps the address in `pid`).
        4 | 7 | 8 | 11 if si.code > 0 => {
            put(12, 0);
            put(72, si.pid);
        }
        _ => {}
    }
    b
}

/// Read pending signals of a signalfd's mask: wait for the first, then
/// take as many more as fit.
fn read_signals(p: &mut Process, file: &File, buf: u32, len: usize) -> SysResult<usize> {
    let max = len / SIGINFO_SIZE;
    if max == 0 {
        return Err(Errno::EINVAL);
    }
    p.ucheck_write(buf, SIGINFO_SIZE)?;
    let infos = wait_on(p, file, |p, obj| {
        let Object::SignalFd(s) = obj else { unreachable!("a signalfd") };
        p.take_signals();
        p.take_signals_in(s.mask);
        let mut out = Vec::new();
        while out.len() < max && p.pending & s.mask != 0 {
            let sig = (p.pending & s.mask).trailing_zeros() + 1;
            p.pending &= !crate::signal::bit(sig);
            out.push(p.sig_info[sig as usize].take().unwrap_or(crate::signal::SigInfo::user(sig, 0, 0)));
        }
        if out.is_empty() {
            Err(None)
        } else {
            Ok(out)
        }
    })?;
    let bytes: Vec<u8> = infos.iter().flat_map(signalfd_siginfo).collect();
    p.uwrite(buf, &bytes)?;
    Ok(bytes.len())
}

// ---------------------------------------------------------------------
// epoll

const EPOLL_CTL_ADD: u32 = 1;
const EPOLL_CTL_DEL: u32 = 2;
const EPOLL_CTL_MOD: u32 = 3;
/// The size of i386's packed `struct epoll_event`: events, then data.
const EVENT_SIZE: u32 = 12;
/// The most events one wait returns (Linux's EP_MAX_EVENTS).
const MAX_EVENTS: u32 = i32::MAX as u32 / EVENT_SIZE;
/// What may go with EPOLLEXCLUSIVE.
const EXCLUSIVE_OK: u32 = 0x1 | 0x4 | 0x8 | 0x10 | EPOLLWAKEUP | (1 << 31) | EPOLLEXCLUSIVE;

/// epoll_create(2): the size is a hint that must be positive.
pub fn epoll_create(p: &mut Process, a: Args) -> SysResult {
    if a[0] as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    install(p, Object::Epoll(Epoll::default()), 0)
}

/// epoll_create1(2).
pub fn epoll_create1(p: &mut Process, a: Args) -> SysResult {
    if a[0] & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    install(p, Object::Epoll(Epoll::default()), a[0])
}

/// Report whether epoll instance `from` watches `to`, directly or through
/// other instances.
fn watches(from: &File, to: &File) -> bool {
    let targets = match &from.borrow().obj {
        Object::Epoll(ep) => ep.targets(),
        _ => return false,
    };
    targets.iter().any(|t| Rc::ptr_eq(t, to) || watches(t, to))
}

/// Report whether Linux can poll description `f` (not regular files,
/// directories or devices without a poll method).
fn pollable(f: &OpenFile) -> bool {
    match &f.obj {
        Object::Chan { .. } => false,
        Object::Stdio(h) => !h.metadata().is_ok_and(|m| m.is_file() || m.is_dir()),
        _ => true,
    }
}

/// epoll_ctl(2): add, change or remove an entry.
pub fn epoll_ctl(p: &mut Process, a: Args) -> SysResult {
    let (epfd, op, fd, event) = (a[0], a[1], a[2], a[3]);
    let mut ev = (0u32, 0u64);
    if op != EPOLL_CTL_DEL {
        let mut b = [0u8; EVENT_SIZE as usize];
        p.uread(event, &mut b)?;
        ev = (u32::from_le_bytes(b[0..4].try_into().unwrap()), u64::from_le_bytes(b[4..12].try_into().unwrap()));
    }
    let ep = p.files.file(epfd)?;
    let target = p.files.file(fd)?;
    if !pollable(&target.borrow()) {
        return Err(Errno::EPERM);
    }
    if Rc::ptr_eq(&ep, &target) || !matches!(ep.borrow().obj, Object::Epoll(_)) {
        return Err(Errno::EINVAL);
    }
    let (events, data) = (ev.0 | EPOLLERR | EPOLLHUP, ev.1);
    if op != EPOLL_CTL_DEL && ev.0 & EPOLLEXCLUSIVE != 0 {
        let nested = matches!(target.borrow().obj, Object::Epoll(_));
        if op == EPOLL_CTL_MOD || (op == EPOLL_CTL_ADD && (nested || ev.0 & !EXCLUSIVE_OK != 0)) {
            return Err(Errno::EINVAL);
        }
    }
    if op == EPOLL_CTL_ADD && watches(&target, &ep) {
        return Err(Errno::ELOOP);
    }
    let r = match &mut ep.borrow_mut().obj {
        Object::Epoll(set) => match op {
            EPOLL_CTL_ADD => set.add(fd, &target, events, data),
            EPOLL_CTL_MOD => set.modify(fd, &target, events, data),
            EPOLL_CTL_DEL => set.remove(fd, &target),
            _ => Err(Errno::EINVAL),
        },
        _ => unreachable!("an epoll instance"),
    };
    r?;
    // A waiter may now have something to report.
    sched::wakeup(POLL_CHAN);
    Ok(0)
}

/// Wait for events of epoll instance `epfd` until `deadline`; write them
/// to `events`.
fn do_epoll_wait(p: &mut Process, epfd: u32, events: u32, max: u32, deadline: Option<Instant>) -> SysResult {
    if max as i32 <= 0 || max > MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    let ep = p.files.file(epfd)?;
    if !matches!(ep.borrow().obj, Object::Epoll(_)) {
        return Err(Errno::EINVAL);
    }
    let got = wait_for(p, deadline, |p| {
        let mut f = ep.borrow_mut();
        let Object::Epoll(set) = &mut f.obj else { unreachable!("an epoll instance") };
        let (out, again) = set.collect(max as usize, |g, ev| poll_file(p, g, ev));
        ((!out.is_empty()).then_some(out), again)
    })?;
    let out = got.unwrap_or_default();
    let mut b = Vec::with_capacity(out.len() * EVENT_SIZE as usize);
    for (ev, data) in &out {
        b.extend(ev.to_le_bytes());
        b.extend(data.to_le_bytes());
    }
    if !b.is_empty() {
        p.uwrite(events, &b)?;
    }
    Ok(out.len() as u32)
}

/// epoll_wait(2): the timeout in milliseconds, negative for none.
pub fn epoll_wait(p: &mut Process, a: Args) -> SysResult {
    do_epoll_wait(p, a[0], a[1], a[2], ms_deadline(a[3] as i32))
}

/// Run an epoll wait with signal mask `set` (of `size` bytes) in place.
fn with_sigmask(p: &mut Process, set: u32, size: u32, wait: impl FnOnce(&mut Process) -> SysResult) -> SysResult {
    let old = with_mask(p, set, size)?;
    let r = wait(p);
    restore_mask(p, old, &r);
    r
}

/// epoll_pwait(2): epoll_wait with a signal mask.
pub fn epoll_pwait(p: &mut Process, a: Args) -> SysResult {
    let deadline = ms_deadline(a[3] as i32);
    with_sigmask(p, a[4], a[5], |p| do_epoll_wait(p, a[0], a[1], a[2], deadline))
}

/// epoll_pwait2(2): the timeout as a 64-bit timespec (NULL for none).
pub fn epoll_pwait2(p: &mut Process, a: Args) -> SysResult {
    let deadline = ts_deadline(p, a[3], true)?;
    with_sigmask(p, a[4], a[5], |p| do_epoll_wait(p, a[0], a[1], a[2], deadline))
}
