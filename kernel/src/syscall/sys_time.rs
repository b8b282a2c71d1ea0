//! Time system calls: clocks, gettimeofday, time, nanosleep.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use rustix::time::{clock_gettime as host_clock, ClockId};
use std::time::{Duration, Instant};

/// The host clock behind guest clock `id` (but the alarm clocks: see
/// `read_clock`).
fn clock(id: u32) -> SysResult<ClockId> {
    Ok(match id {
        0 => ClockId::Realtime,
        1 => ClockId::Monotonic,
        2 => ClockId::ProcessCPUTime,
        3 => ClockId::ThreadCPUTime,
        4 => ClockId::MonotonicRaw,
        5 => ClockId::RealtimeCoarse,
        6 => ClockId::MonotonicCoarse,
        7 => ClockId::Boottime,
        11 => ClockId::Tai,
        _ => return Err(Errno::EINVAL),
    })
}

/// Read guest clock `id`: a named clock, or the CPU clock of a process or
/// thread as clock_getcpuclockid and pthread_getcpuclockid encode them
/// (negative: the complement of the pid shifted left by 3, the kind in the
/// low bits, bit 2 for a thread). Another task's CPU time is the time
/// charged to it so far.
fn read_clock(p: &Process, id: u32) -> SysResult<rustix::time::Timespec> {
    if id == 8 || id == 9 {
        // The alarm clocks work where the host has a clock that can wake
        // it (an RTC): as the host's do.
        use rustix::time::DynamicClockId as D;
        let which = if id == 8 { D::RealtimeAlarm } else { D::BoottimeAlarm };
        return rustix::time::clock_gettime_dynamic(which).map_err(|e| Errno::from_host(e.raw_os_error()));
    }
    if (id as i32) >= 0 {
        return Ok(host_clock(clock(id)?));
    }
    let (pid, thread, kind) = (!((id as i32) >> 3) as u32, id & 4 != 0, id & 3);
    if kind == 3 {
        return Err(Errno::EINVAL);
    }
    let me = if thread { p.tid } else { p.pid };
    if pid == 0 || pid == me {
        return Ok(host_clock(if thread { ClockId::ThreadCPUTime } else { ClockId::ProcessCPUTime }));
    }
    let e = crate::proctab::get(pid).ok_or(Errno::EINVAL)?;
    // A process clock names a process; a thread clock a thread of ours.
    if !thread && e.tgid != pid || thread && e.tgid != p.pid {
        return Err(Errno::EINVAL);
    }
    Ok(rustix::time::Timespec { tv_sec: e.cpu.as_secs() as _, tv_nsec: e.cpu.subsec_nanos() as _ })
}

/// clock_gettime(2) with the 32-bit `struct timespec`.
pub fn clock_gettime(p: &mut Process, a: Args) -> SysResult {
    let t = read_clock(p, a[0])?;
    let mut b = [0u8; 8];
    b[0..4].copy_from_slice(&(t.tv_sec as u32).to_le_bytes());
    b[4..8].copy_from_slice(&(t.tv_nsec as u32).to_le_bytes());
    p.uwrite(a[1], &b)?;
    Ok(0)
}

/// clock_gettime64(2) with the 64-bit `struct __kernel_timespec`.
pub fn clock_gettime64(p: &mut Process, a: Args) -> SysResult {
    let t = read_clock(p, a[0])?;
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&(t.tv_sec as i64).to_le_bytes());
    b[8..16].copy_from_slice(&(t.tv_nsec as i64).to_le_bytes());
    p.uwrite(a[1], &b)?;
    Ok(0)
}

/// clock_getres(2).
pub fn clock_getres(p: &mut Process, a: Args) -> SysResult {
    read_clock(p, a[0])?;
    if a[1] != 0 {
        let mut b = [0u8; 8];
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        p.uwrite(a[1], &b)?;
    }
    Ok(0)
}

/// clock_settime(2) and clock_settime64: the guest's clocks are the
/// host's, which no guest may set: EPERM, as for a process without
/// CAP_SYS_TIME, once the arguments have been checked (EINVAL for a clock
/// that cannot be set or a bad time, EFAULT). settimeofday and stime
/// answer the same way.
fn set_time(p: &mut Process, id: u32, addr: u32, wide: bool) -> SysResult {
    if id != 0 {
        read_clock(p, id)?;
        return Err(Errno::EINVAL);
    }
    let (sec, nsec) = timespec(p, addr, wide)?;
    check(sec, nsec)?;
    Err(Errno::EPERM)
}

pub fn clock_settime(p: &mut Process, a: Args) -> SysResult {
    set_time(p, a[0], a[1], false)
}

pub fn clock_settime64(p: &mut Process, a: Args) -> SysResult {
    set_time(p, a[0], a[1], true)
}

/// settimeofday(2): a null time and zone changes nothing.
pub fn settimeofday(p: &mut Process, a: Args) -> SysResult {
    if a[0] == 0 {
        if a[1] != 0 {
            p.read_u32(a[1])?;
            return Err(Errno::EPERM);
        }
        return Ok(0);
    }
    let (sec, usec) = (p.read_u32(a[0])? as i32 as i64, p.read_u32(a[0] + 4)? as i32 as i64);
    if !(0..1_000_000).contains(&usec) || sec < 0 {
        return Err(Errno::EINVAL);
    }
    Err(Errno::EPERM)
}

pub fn stime(p: &mut Process, a: Args) -> SysResult {
    p.read_u32(a[0])?;
    Err(Errno::EPERM)
}

/// gettimeofday(2).
pub fn gettimeofday(p: &mut Process, a: Args) -> SysResult {
    let t = host_clock(ClockId::Realtime);
    if a[0] != 0 {
        let mut b = [0u8; 8];
        b[0..4].copy_from_slice(&(t.tv_sec as u32).to_le_bytes());
        b[4..8].copy_from_slice(&((t.tv_nsec / 1000) as u32).to_le_bytes());
        p.uwrite(a[0], &b)?;
    }
    if a[1] != 0 {
        p.uwrite(a[1], &[0u8; 8])?;
    }
    Ok(0)
}

/// time(2).
pub fn time(p: &mut Process, a: Args) -> SysResult {
    let t = host_clock(ClockId::Realtime).tv_sec as u32;
    if a[0] != 0 {
        p.write_u32(a[0], t)?;
    }
    Ok(t)
}

/// Read a timespec: 32-bit seconds and nanoseconds, or 64-bit both.
pub(crate) fn timespec(p: &mut Process, addr: u32, wide: bool) -> SysResult<(i64, i64)> {
    if wide {
        let mut b = [0u8; 16];
        p.uread(addr, &mut b)?;
        Ok((i64::from_le_bytes(b[0..8].try_into().unwrap()), i64::from_le_bytes(b[8..16].try_into().unwrap())))
    } else {
        Ok((p.read_u32(addr)? as i32 as i64, p.read_u32(addr + 4)? as i32 as i64))
    }
}

fn put_timespec(p: &mut Process, addr: u32, d: Duration, wide: bool) -> SysResult<()> {
    if wide {
        let mut b = [0u8; 16];
        b[0..8].copy_from_slice(&(d.as_secs() as i64).to_le_bytes());
        b[8..16].copy_from_slice(&(d.subsec_nanos() as i64).to_le_bytes());
        p.uwrite(addr, &b)
    } else {
        p.write_u32(addr, d.as_secs() as u32)?;
        p.write_u32(addr + 4, d.subsec_nanos())
    }
}

/// The channel a thread sleeps on in nanosleep.
fn sleep_chan(pid: u32) -> crate::sched::WaitChan {
    0x534c_4550_0000_0000 | pid as u64
}

/// Sleep the calling task until `deadline`; on a signal, EINTR with what
/// was left written to `rem` (if not 0).
fn sleep_until(p: &mut Process, deadline: Instant, rem: u32, wide: bool) -> SysResult {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(0);
        }
        if p.signal_interrupts() {
            if rem != 0 {
                put_timespec(p, rem, deadline - now, wide)?;
            }
            return Err(Errno::EINTR);
        }
        crate::timers::wake_at(deadline, sleep_chan(p.tid));
        crate::sched::sleep(sleep_chan(p.tid));
    }
}

fn check(sec: i64, nsec: i64) -> SysResult<Duration> {
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(sec as u64, nsec as u32))
}

/// nanosleep(2).
pub fn nanosleep(p: &mut Process, a: Args) -> SysResult {
    let (sec, nsec) = timespec(p, a[0], false)?;
    let d = check(sec, nsec)?;
    sleep_until(p, Instant::now() + d, a[1], false)
}

fn do_clock_nanosleep(p: &mut Process, a: Args, wide: bool) -> SysResult {
    let (id, flags, req, rem) = (a[0], a[1], a[2], a[3]);
    let clk = match id {
        0 | 1 | 7 | 9 => clock(id)?,
        2 | 3 => return Err(Errno::EOPNOTSUPP),
        _ => return Err(Errno::EINVAL),
    };
    let (sec, nsec) = timespec(p, req, wide)?;
    let d = check(sec, nsec)?;
    let deadline = if flags & 1 != 0 {
        // TIMER_ABSTIME: a time on that clock.
        let now = host_clock(clk);
        let now = Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
        Instant::now() + d.saturating_sub(now)
    } else {
        Instant::now() + d
    };
    let rem = if flags & 1 != 0 { 0 } else { rem };
    sleep_until(p, deadline, rem, wide)
}

/// clock_nanosleep(2).
pub fn clock_nanosleep(p: &mut Process, a: Args) -> SysResult {
    do_clock_nanosleep(p, a, false)
}

/// clock_nanosleep_time64(2).
pub fn clock_nanosleep_time64(p: &mut Process, a: Args) -> SysResult {
    do_clock_nanosleep(p, a, true)
}

/// sched_yield(2).
pub fn sched_yield(_p: &mut Process, _a: Args) -> SysResult {
    crate::sched::yield_now();
    Ok(0)
}

/// alarm(2): SIGALRM after `seconds`; returns the seconds left of the
/// previous alarm (rounded up).
pub fn alarm(p: &mut Process, a: Args) -> SysResult {
    let (left, _) = crate::timers::set_itimer(p.pid, 0, Duration::from_secs(a[0] as u64), Duration::ZERO);
    Ok((left.as_secs() + (left.subsec_nanos() >= 500_000_000) as u64) as u32)
}

fn put_itimerval(p: &mut Process, addr: u32, (value, interval): (Duration, Duration)) -> SysResult<()> {
    let mut b = [0u8; 16];
    for (o, d) in [(0, interval), (8, value)] {
        b[o..o + 4].copy_from_slice(&(d.as_secs() as u32).to_le_bytes());
        b[o + 4..o + 8].copy_from_slice(&d.subsec_micros().to_le_bytes());
    }
    p.uwrite(addr, &b)
}

/// setitimer(2): ITIMER_REAL, _VIRTUAL and _PROF (the last two count
/// wall time, not CPU time).
pub fn setitimer(p: &mut Process, a: Args) -> SysResult {
    let (which, new, old) = (a[0], a[1], a[2]);
    if which > 2 {
        return Err(Errno::EINVAL);
    }
    let (value, interval) = if new != 0 {
        let mut b = [0u8; 16];
        p.uread(new, &mut b)?;
        let g = |o: usize| i32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as i64;
        let tv = |s: i64, us: i64| -> SysResult<Duration> {
            if s < 0 || !(0..1_000_000).contains(&us) {
                return Err(Errno::EINVAL);
            }
            Ok(Duration::new(s as u64, us as u32 * 1000))
        };
        (tv(g(8), g(12))?, tv(g(0), g(4))?)
    } else {
        (Duration::ZERO, Duration::ZERO)
    };
    let prev = if new != 0 {
        crate::timers::set_itimer(p.pid, which, value, interval)
    } else {
        crate::timers::get_itimer(p.pid, which)
    };
    if old != 0 {
        put_itimerval(p, old, prev)?;
    }
    Ok(0)
}

/// getitimer(2).
pub fn getitimer(p: &mut Process, a: Args) -> SysResult {
    if a[0] > 2 {
        return Err(Errno::EINVAL);
    }
    let cur = crate::timers::get_itimer(p.pid, a[0]);
    put_itimerval(p, a[1], cur)?;
    Ok(0)
}

/// Clock ticks (USER_HZ) in a duration.
fn ticks(d: Duration) -> u32 {
    (d.as_millis() / 10) as u32
}

/// times(2): the CPU time of the process and its reaped children (all
/// counted as user time); returns ticks since an arbitrary start.
pub fn times(p: &mut Process, a: Args) -> SysResult {
    let e = crate::proctab::get(p.pid).ok_or(Errno::ESRCH)?;
    if a[0] != 0 {
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&ticks(e.cpu).to_le_bytes());
        b[8..12].copy_from_slice(&ticks(e.child_cpu).to_le_bytes());
        p.uwrite(a[0], &b)?;
    }
    let up = host_clock(ClockId::Monotonic);
    Ok(ticks(Duration::new(up.tv_sec as u64, up.tv_nsec as u32)))
}

/// The i386 struct rusage (18 longs) with user time `cpu` and the
/// largest resident set in KiB.
pub fn rusage_bytes(cpu: Duration, maxrss_kb: u32) -> [u8; 72] {
    let mut b = [0u8; 72];
    b[0..4].copy_from_slice(&(cpu.as_secs() as u32).to_le_bytes());
    b[4..8].copy_from_slice(&cpu.subsec_micros().to_le_bytes());
    b[16..20].copy_from_slice(&maxrss_kb.to_le_bytes());
    b
}

/// getrusage(2): RUSAGE_SELF (and RUSAGE_THREAD), RUSAGE_CHILDREN.
pub fn getrusage(p: &mut Process, a: Args) -> SysResult {
    let e = crate::proctab::get(p.pid).ok_or(Errno::ESRCH)?;
    let b = match a[0] as i32 {
        0 | 1 => rusage_bytes(e.cpu, p.mm.resident() * 4),
        -1 => rusage_bytes(e.child_cpu, 0),
        _ => return Err(Errno::EINVAL),
    };
    p.uwrite(a[1], &b)?;
    Ok(0)
}
