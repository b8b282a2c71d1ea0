//! Resource limits: getrlimit, setrlimit, prlimit64 (RLIMIT_NPROC and
//! RLIMIT_AS are enforced where processes and memory are made).

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::proctab;

const RLIM_INFINITY: u64 = u64::MAX;

fn limit_of(p: &Process, res: u32) -> SysResult<(u64, u64)> {
    p.rlimits.get(res as usize).copied().ok_or(Errno::EINVAL)
}

/// Change a limit: the soft one may not pass the hard one, and only root
/// raises a hard limit.
fn set_limit(p: &mut Process, res: u32, soft: u64, hard: u64) -> SysResult {
    let (_, old_hard) = limit_of(p, res)?;
    if soft > hard {
        return Err(Errno::EINVAL);
    }
    if hard > old_hard && p.ids[1] != 0 {
        return Err(Errno::EPERM);
    }
    if res == 7 && hard > crate::files::MAX_FDS as u64 && hard != RLIM_INFINITY {
        // The descriptor table holds 1024: more cannot be granted.
        return Err(Errno::EPERM);
    }
    p.rlimits[res as usize] = (soft, hard);
    Ok(0)
}

/// getrlimit(2) (the old form) and ugetrlimit(2): 32-bit limits.
fn get32(p: &mut Process, a: Args, inf: u32) -> SysResult {
    let (cur, max) = limit_of(p, a[0])?;
    let c = |v: u64| if v >= inf as u64 { inf } else { v as u32 };
    let mut b = [0u8; 8];
    b[0..4].copy_from_slice(&c(cur).to_le_bytes());
    b[4..8].copy_from_slice(&c(max).to_le_bytes());
    p.uwrite(a[1], &b)?;
    Ok(0)
}

/// ugetrlimit(2): infinity as 0xffffffff.
pub fn ugetrlimit(p: &mut Process, a: Args) -> SysResult {
    get32(p, a, u32::MAX)
}

/// getrlimit(2): the old call, infinity as 0x7fffffff.
pub fn old_getrlimit(p: &mut Process, a: Args) -> SysResult {
    get32(p, a, i32::MAX as u32)
}

/// setrlimit(2): 32-bit limits, 0xffffffff for infinity.
pub fn setrlimit(p: &mut Process, a: Args) -> SysResult {
    limit_of(p, a[0])?;
    let mut b = [0u8; 8];
    p.uread(a[1], &mut b)?;
    let w = |o: usize| match u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) {
        u32::MAX => RLIM_INFINITY,
        v => v as u64,
    };
    set_limit(p, a[0], w(0), w(4))
}

/// prlimit64(2) on the caller (or pid 0): read and set 64-bit limits.
pub fn prlimit64(p: &mut Process, a: Args) -> SysResult {
    if a[0] != 0 && a[0] != p.pid {
        return Err(if proctab::get(a[0]).is_some() { Errno::EPERM } else { Errno::ESRCH });
    }
    let (cur, max) = limit_of(p, a[1])?;
    if a[2] != 0 {
        let mut b = [0u8; 16];
        p.uread(a[2], &mut b)?;
        let soft = u64::from_le_bytes(b[0..8].try_into().unwrap());
        let hard = u64::from_le_bytes(b[8..16].try_into().unwrap());
        set_limit(p, a[1], soft, hard)?;
    }
    if a[3] != 0 {
        let mut b = [0u8; 16];
        b[0..8].copy_from_slice(&cur.to_le_bytes());
        b[8..16].copy_from_slice(&max.to_le_bytes());
        p.uwrite(a[3], &b)?;
    }
    Ok(0)
}
