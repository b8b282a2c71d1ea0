//! Waiting for descriptors: poll, ppoll, select, _newselect, pselect6.
//!
//! Each descriptor says what it is ready for (`poll_file`, which epoll
//! asks too): a pipe end from its buffer and the other end's count, a
//! socket from its queues and its peer's, a file
//! of a device always (reads and writes of device files do not wait,
//! except the console's), a host stream as the host's poll says, an
//! eventfd, timerfd or signalfd from its counter, clock or the process's
//! pending signals, an epoll instance from its entries. A waiting task
//! sleeps on the shared poll channel, which their changes wake, with a
//! timer for its timeout and for the next time a descriptor changes by
//! itself (a timerfd's expiration); host streams are looked at again every
//! 10 ms (the console's own event source comes with the tty).

use super::Args;
use crate::epoll::{earliest, Ready};
use crate::errno::{Errno, SysResult};
use crate::files::{Object, OpenFile};
use crate::pipe::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, POLL_CHAN};
use crate::process::Process;
use std::time::{Duration, Instant};

const POLLNVAL: u16 = 0x20;
const POLLPRI: u16 = 2;

/// What description `f` is ready for, of `events` (plus the conditions
/// always reported). poll, select and epoll all ask this.
pub(super) fn poll_file(p: &Process, f: &OpenFile, events: u16) -> Ready {
    let now = Instant::now();
    let (bits, ev, wake) = match &f.obj {
        Object::Pipe(e) => (e.poll(), e.pipe().events(), None),
        Object::Tty(t) | Object::PtyMaster(t) => {
            let (readable, hup) = if matches!(f.obj, Object::PtyMaster(_)) { t.master_poll() } else { t.poll() };
            let r =
                POLLOUT | POLLWRNORM | if readable { POLLIN | POLLRDNORM } else { 0 } | if hup { POLLHUP } else { 0 };
            (r, [0, 0], None)
        }
        Object::Socket(s) => (s.socket().poll(), [0, 0], None),
        Object::Chan { .. } => (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM, [0, 0], None),
        Object::Stdio(h) => {
            let mut fds = [rustix::event::PollFd::new(h, rustix::event::PollFlags::from_bits_truncate(events as _))];
            let r = match rustix::event::poll(&mut fds, 0) {
                Ok(_) => fds[0].revents().bits(),
                Err(_) => POLLERR,
            };
            // Host streams have no wakeup of their own yet: look again soon.
            (r, [0, 0], Some(now + Duration::from_millis(10)))
        }
        Object::EventFd(e) => (e.poll(), e.events, None),
        Object::TimerFd(t) => {
            let (r, ev) = t.poll(now);
            (r, ev, t.next())
        }
        Object::SignalFd(s) => {
            let r = if p.pending_signals() & s.mask != 0 { POLLIN | POLLRDNORM } else { 0 };
            (r, [crate::proctab::signals_sent(), 0], None)
        }
        Object::Epoll(ep) => {
            let r = ep.poll(|g, ev| poll_file(p, g, ev));
            (r.bits, [0, 0], r.wake)
        }
    };
    Ready { bits: bits & (events | POLLERR | POLLHUP | POLLNVAL), events: ev, wake }
}

/// What descriptor `fd` is ready for, of `events` (plus the conditions
/// always reported).
fn ready(p: &Process, fd: i32, events: u16) -> Ready {
    if fd < 0 {
        return Ready::default();
    }
    let Ok(f) = p.files.file(fd as u32) else { return Ready { bits: POLLNVAL, ..Ready::default() } };
    let f = f.borrow();
    poll_file(p, &f, events)
}

/// Wait until `check` finds something ready (returns Some), the deadline
/// passes (None), or a signal comes (EINTR). `check` also says when to
/// look again if no wakeup comes.
pub(super) fn wait_for<T>(
    p: &mut Process,
    deadline: Option<Instant>,
    mut check: impl FnMut(&Process) -> (Option<T>, Option<Instant>),
) -> SysResult<Option<T>> {
    loop {
        let (got, again) = check(p);
        if got.is_some() {
            return Ok(got);
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Ok(None);
        }
        if p.signal_interrupts() {
            return Err(Errno::EINTR);
        }
        if let Some(w) = earliest(deadline, again) {
            crate::timers::wake_at(w, POLL_CHAN);
        }
        crate::sched::sleep(POLL_CHAN);
    }
}

/// Apply a temporary signal mask for ppoll/pselect6.
pub(super) fn with_mask(p: &mut Process, set: u32, size: u32) -> SysResult<Option<u64>> {
    if set == 0 {
        return Ok(None);
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let mut b = [0u8; 8];
    p.uread(set, &mut b)?;
    let old = p.sigmask;
    p.sigmask = u64::from_le_bytes(b) & !crate::signal::UNBLOCKABLE;
    Ok(Some(old))
}

/// Restore the mask after the call; if a signal interrupted it, the old
/// mask comes back only after the handler ran (as sigsuspend).
pub(super) fn restore_mask(p: &mut Process, old: Option<u64>, r: &SysResult) {
    if let Some(m) = old {
        if *r == Err(Errno::EINTR) {
            p.saved_mask = Some(m);
        } else {
            p.sigmask = m;
        }
    }
}

fn do_poll(p: &mut Process, fds: u32, n: u32, deadline: Option<Instant>) -> SysResult {
    if n > crate::files::MAX_FDS as u32 {
        return Err(Errno::EINVAL);
    }
    let mut list = vec![0u8; n as usize * 8];
    p.uread(fds, &mut list)?;
    let entries: Vec<(i32, u16)> = list
        .chunks(8)
        .map(|c| (i32::from_le_bytes(c[0..4].try_into().unwrap()), u16::from_le_bytes([c[4], c[5]])))
        .collect();
    let got = wait_for(p, deadline, |p| {
        let mut again = None;
        let mut count = 0;
        let revents: Vec<u16> = entries
            .iter()
            .map(|&(fd, ev)| {
                let r = ready(p, fd, ev | POLLPRI);
                again = earliest(again, r.wake);
                count += (r.bits != 0) as u32;
                r.bits
            })
            .collect();
        ((count > 0).then_some((count, revents)), again)
    })?;
    let (count, revents) = got.unwrap_or((0, vec![0; entries.len()]));
    for (i, r) in revents.iter().enumerate() {
        list[i * 8 + 6..i * 8 + 8].copy_from_slice(&r.to_le_bytes());
    }
    p.uwrite(fds, &list)?;
    Ok(count)
}

pub(super) fn ms_deadline(ms: i32) -> Option<Instant> {
    (ms >= 0).then(|| Instant::now() + Duration::from_millis(ms as u64))
}

/// Read a timespec (32- or 64-bit) as a deadline; NULL is none.
pub(super) fn ts_deadline(p: &mut Process, addr: u32, wide: bool) -> SysResult<Option<Instant>> {
    if addr == 0 {
        return Ok(None);
    }
    let (s, ns) = super::sys_time::timespec(p, addr, wide)?;
    if s < 0 || !(0..1_000_000_000).contains(&ns) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(Instant::now() + Duration::new(s as u64, ns as u32)))
}

/// poll(2).
pub fn poll(p: &mut Process, a: Args) -> SysResult {
    do_poll(p, a[0], a[1], ms_deadline(a[2] as i32))
}

fn do_ppoll(p: &mut Process, a: Args, wide: bool) -> SysResult {
    let deadline = ts_deadline(p, a[2], wide)?;
    let old = with_mask(p, a[3], a[4])?;
    let r = do_poll(p, a[0], a[1], deadline);
    restore_mask(p, old, &r);
    r
}

/// ppoll(2).
pub fn ppoll(p: &mut Process, a: Args) -> SysResult {
    do_ppoll(p, a, false)
}

/// ppoll_time64(2).
pub fn ppoll_time64(p: &mut Process, a: Args) -> SysResult {
    do_ppoll(p, a, true)
}

/// The three descriptor sets of select.
fn read_set(p: &mut Process, addr: u32, n: u32) -> SysResult<Vec<u32>> {
    let words = n.div_ceil(32) as usize;
    if addr == 0 {
        return Ok(vec![0; words]);
    }
    let mut b = vec![0u8; words * 4];
    p.uread(addr, &mut b)?;
    Ok(b.chunks(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect())
}

fn do_select(p: &mut Process, n: u32, sets: [u32; 3], deadline: Option<Instant>) -> SysResult {
    if n > crate::files::MAX_FDS as u32 {
        return Err(Errno::EINVAL);
    }
    let want = [read_set(p, sets[0], n)?, read_set(p, sets[1], n)?, read_set(p, sets[2], n)?];
    let bit = |s: &Vec<u32>, fd: u32| s[(fd / 32) as usize] & (1 << (fd % 32)) != 0;
    for fd in 0..n {
        if (0..3).any(|k| bit(&want[k], fd)) && p.files.get(fd).is_err() {
            return Err(Errno::EBADF);
        }
    }
    let masks = [POLLIN | POLLRDNORM | POLLHUP | POLLERR, POLLOUT | POLLWRNORM | POLLERR, POLLPRI];
    let got = wait_for(p, deadline, |p| {
        let mut out = [vec![0u32; want[0].len()], vec![0u32; want[0].len()], vec![0u32; want[0].len()]];
        let mut count = 0;
        let mut again = None;
        for fd in 0..n {
            for k in 0..3 {
                if bit(&want[k], fd) {
                    let r = ready(p, fd as i32, masks[k] | POLLPRI);
                    again = earliest(again, r.wake);
                    if r.bits & masks[k] != 0 {
                        out[k][(fd / 32) as usize] |= 1 << (fd % 32);
                        count += 1;
                    }
                }
            }
        }
        ((count > 0).then_some((count, out)), again)
    })?;
    let (count, out) = got.unwrap_or((0, [vec![0; want[0].len()], vec![0; want[0].len()], vec![0; want[0].len()]]));
    for k in 0..3 {
        if sets[k] != 0 {
            let b: Vec<u8> = out[k].iter().flat_map(|w| w.to_le_bytes()).collect();
            p.uwrite(sets[k], &b)?;
        }
    }
    Ok(count)
}

/// Read a timeval as a deadline; NULL is none.
fn tv_deadline(p: &mut Process, addr: u32) -> SysResult<Option<Instant>> {
    if addr == 0 {
        return Ok(None);
    }
    let s = p.read_u32(addr)? as i32;
    let us = p.read_u32(addr + 4)? as i32;
    if s < 0 || !(0..1_000_000).contains(&us) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(Instant::now() + Duration::new(s as u64, us as u32 * 1000)))
}

/// Write what is left of a select timeout back, as Linux does.
fn put_left(p: &mut Process, addr: u32, deadline: Option<Instant>) -> SysResult<()> {
    if let (true, Some(d)) = (addr != 0, deadline) {
        let left = d.saturating_duration_since(Instant::now());
        p.write_u32(addr, left.as_secs() as u32)?;
        p.write_u32(addr + 4, left.subsec_micros())?;
    }
    Ok(())
}

/// _newselect(2).
pub fn newselect(p: &mut Process, a: Args) -> SysResult {
    let deadline = tv_deadline(p, a[4])?;
    let r = do_select(p, a[0], [a[1], a[2], a[3]], deadline);
    put_left(p, a[4], deadline)?;
    r
}

/// select(2): the old form, its five arguments in a block.
pub fn old_select(p: &mut Process, a: Args) -> SysResult {
    let mut b = [0u8; 20];
    p.uread(a[0], &mut b)?;
    let w = |i: usize| u32::from_le_bytes(b[i * 4..i * 4 + 4].try_into().unwrap());
    newselect(p, [w(0), w(1), w(2), w(3), w(4), 0])
}

fn do_pselect(p: &mut Process, a: Args, wide: bool) -> SysResult {
    let deadline = ts_deadline(p, a[4], wide)?;
    let (set, size) = if a[5] != 0 { (p.read_u32(a[5])?, p.read_u32(a[5] + 4)?) } else { (0, 0) };
    let old = with_mask(p, set, size)?;
    let r = do_select(p, a[0], [a[1], a[2], a[3]], deadline);
    restore_mask(p, old, &r);
    r
}

/// pselect6(2).
pub fn pselect6(p: &mut Process, a: Args) -> SysResult {
    do_pselect(p, a, false)
}

/// pselect6_time64(2).
pub fn pselect6_time64(p: &mut Process, a: Args) -> SysResult {
    do_pselect(p, a, true)
}
