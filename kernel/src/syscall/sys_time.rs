//! Time system calls: clocks, gettimeofday, time, nanosleep.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use rustix::time::{clock_gettime as host_clock, ClockId};

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
        _ => return Err(Errno::EINVAL),
    })
}

/// clock_gettime(2) with the 32-bit `struct timespec`.
pub fn clock_gettime(p: &mut Process, a: Args) -> SysResult {
    let t = host_clock(clock(a[0])?);
    let mut b = [0u8; 8];
    b[0..4].copy_from_slice(&(t.tv_sec as u32).to_le_bytes());
    b[4..8].copy_from_slice(&(t.tv_nsec as u32).to_le_bytes());
    p.uwrite(a[1], &b)?;
    Ok(0)
}

/// clock_gettime64(2) with the 64-bit `struct __kernel_timespec`.
pub fn clock_gettime64(p: &mut Process, a: Args) -> SysResult {
    let t = host_clock(clock(a[0])?);
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&(t.tv_sec as i64).to_le_bytes());
    b[8..16].copy_from_slice(&(t.tv_nsec as i64).to_le_bytes());
    p.uwrite(a[1], &b)?;
    Ok(0)
}

/// clock_getres(2).
pub fn clock_getres(p: &mut Process, a: Args) -> SysResult {
    clock(a[0])?;
    if a[1] != 0 {
        let mut b = [0u8; 8];
        b[4..8].copy_from_slice(&1u32.to_le_bytes());
        p.uwrite(a[1], &b)?;
    }
    Ok(0)
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

/// nanosleep(2): sleeps the whole process (one task in T1).
pub fn nanosleep(p: &mut Process, a: Args) -> SysResult {
    let sec = p.read_u32(a[0])? as i32;
    let nsec = p.read_u32(a[0] + 4)? as i32;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    std::thread::sleep(std::time::Duration::new(sec as u64, nsec as u32));
    Ok(0)
}
