//! Process system calls (T1): exit, identity, signal dispositions, TLS,
//! limits, and the thread calls a single-threaded static program makes.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::{ExitStatus, Process, SigAction};
use vx_core::state::TlsDesc;

/// exit(2) and exit_group(2).
pub fn exit(p: &mut Process, a: Args) -> SysResult {
    p.exit = Some(ExitStatus::Code(a[0] as i32 & 0xff));
    Ok(0)
}

/// For calls listed in the table but not implemented yet.
pub fn enosys(_p: &mut Process, _a: Args) -> SysResult {
    Err(Errno::ENOSYS)
}

/// getpid(2) (and gettid, getpgrp in a single-task process).
pub fn getpid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.pid)
}

/// getppid(2).
pub fn getppid(_p: &mut Process, _a: Args) -> SysResult {
    Ok(std::os::unix::process::parent_id())
}

pub fn getuid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ids[0])
}
pub fn geteuid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ids[1])
}
pub fn getgid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ids[2])
}
pub fn getegid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ids[3])
}

/// umask(2).
pub fn umask(p: &mut Process, a: Args) -> SysResult {
    let old = p.umask;
    p.umask = a[0] & 0o777;
    Ok(old)
}

/// kill(2): T1 has one process, so only signals to itself (or its group).
pub fn kill(p: &mut Process, a: Args) -> SysResult {
    let (pid, sig) = (a[0] as i32, a[1]);
    if sig > 64 {
        return Err(Errno::EINVAL);
    }
    if pid != p.pid as i32 && pid != 0 && pid != -1 && pid != -(p.pid as i32) {
        return Err(Errno::ESRCH);
    }
    p.post_signal(sig);
    Ok(0)
}

/// tkill(2).
pub fn tkill(p: &mut Process, a: Args) -> SysResult {
    kill(p, [a[0], a[1], 0, 0, 0, 0])
}

/// tgkill(2).
pub fn tgkill(p: &mut Process, a: Args) -> SysResult {
    if a[0] != p.pid {
        return Err(Errno::ESRCH);
    }
    kill(p, [a[1], a[2], 0, 0, 0, 0])
}

/// rt_sigaction(2): i386 `struct sigaction` is handler, flags, restorer, mask.
pub fn rt_sigaction(p: &mut Process, a: Args) -> SysResult {
    let (sig, act, old, size) = (a[0], a[1], a[2], a[3]);
    if sig == 0 || sig > 64 || size != 8 {
        return Err(Errno::EINVAL);
    }
    let mut new = None;
    if act != 0 {
        if sig == 9 || sig == 19 {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; 20];
        p.uread(act, &mut b)?;
        let w = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        new = Some(SigAction { handler: w(0), flags: w(4), restorer: w(8), mask: w(12) as u64 | (w(16) as u64) << 32 });
    }
    if old != 0 {
        let o = p.sigactions[sig as usize];
        let mut b = Vec::with_capacity(20);
        for v in [o.handler, o.flags, o.restorer, o.mask as u32, (o.mask >> 32) as u32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        p.uwrite(old, &b)?;
    }
    if let Some(n) = new {
        p.sigactions[sig as usize] = n;
    }
    Ok(0)
}

/// rt_sigprocmask(2).
pub fn rt_sigprocmask(p: &mut Process, a: Args) -> SysResult {
    let (how, set, old, size) = (a[0], a[1], a[2], a[3]);
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let prev = p.sigmask;
    if set != 0 {
        let mut b = [0u8; 8];
        p.uread(set, &mut b)?;
        let s = u64::from_le_bytes(b) & !((1 << 8) | (1 << 18)); // never SIGKILL/SIGSTOP
        p.sigmask = match how {
            0 => prev | s,
            1 => prev & !s,
            2 => s,
            _ => return Err(Errno::EINVAL),
        };
    }
    if old != 0 {
        p.uwrite(old, &prev.to_le_bytes())?;
    }
    Ok(0)
}

/// sigaltstack(2): accepted and reported as disabled until T4.
pub fn sigaltstack(p: &mut Process, a: Args) -> SysResult {
    if a[1] != 0 {
        let mut b = [0u8; 12];
        b[4..8].copy_from_slice(&2u32.to_le_bytes()); // SS_DISABLE
        p.uwrite(a[1], &b)?;
    }
    Ok(0)
}

/// set_thread_area(2): install a TLS descriptor in the guest's GDT.
pub fn set_thread_area(p: &mut Process, a: Args) -> SysResult {
    let mut b = [0u8; 16];
    p.uread(a[0], &mut b)?;
    let w = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let (mut entry, base, limit, flags) = (w(0), w(4), w(8), w(12));
    if entry == u32::MAX {
        let cpu = p.guest.cpu();
        entry = match (0..3).find(|&k| !cpu.tls[k].present) {
            Some(k) => vx_core::state::TLS_ENTRY_MIN + k as u32,
            None => return Err(Errno::ESRCH),
        };
        p.write_u32(a[0], entry)?;
    }
    // flags bit 5 (seg_not_present) with a zero base/limit clears the entry.
    let present = flags & (1 << 5) == 0;
    let d = TlsDesc { base, limit, flags, present };
    if !p.guest.set_tls(entry, d) {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// set_tid_address(2): returns the caller's thread id.
pub fn set_tid_address(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.pid)
}

/// set_robust_list(2): accepted (one thread, nothing to clean up).
pub fn set_robust_list(_p: &mut Process, a: Args) -> SysResult {
    if a[1] != 12 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// futex(2): a single-threaded process can only wait on a value that
/// differs (EAGAIN) or wake nobody.
pub fn futex(p: &mut Process, a: Args) -> SysResult {
    let (uaddr, op, val) = (a[0], a[1] & 0x7f, a[2]);
    match op & 0xf {
        0 | 9 => {
            if p.read_u32(uaddr)? != val {
                Err(Errno::EAGAIN)
            } else {
                Err(Errno::EDEADLK)
            }
        }
        1 | 10 => Ok(0),
        _ => Err(Errno::ENOSYS),
    }
}

/// sched_getaffinity(2): one CPU per host core.
pub fn sched_getaffinity(p: &mut Process, a: Args) -> SysResult {
    let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(32);
    if a[1] < 4 {
        return Err(Errno::EINVAL);
    }
    let mask: u32 = if n == 32 { u32::MAX } else { (1 << n) - 1 };
    p.uwrite(a[2], &mask.to_le_bytes())?;
    Ok(4)
}

fn rlimit(res: u32) -> SysResult<(u64, u64)> {
    const INF: u64 = u64::MAX;
    Ok(match res {
        3 => (8 << 20, INF),      // RLIMIT_STACK
        7 => (1024, 1024 * 1024), // RLIMIT_NOFILE
        0..=15 => (INF, INF),
        _ => return Err(Errno::EINVAL),
    })
}

/// ugetrlimit(2): 32-bit limits, infinity as 0xffffffff.
pub fn ugetrlimit(p: &mut Process, a: Args) -> SysResult {
    let (cur, max) = rlimit(a[0])?;
    let c = |v: u64| v.min(u32::MAX as u64) as u32;
    let mut b = [0u8; 8];
    b[0..4].copy_from_slice(&c(cur).to_le_bytes());
    b[4..8].copy_from_slice(&c(max).to_le_bytes());
    p.uwrite(a[1], &b)?;
    Ok(0)
}

/// prlimit64(2) on the caller: reads limits; setting is accepted.
pub fn prlimit64(p: &mut Process, a: Args) -> SysResult {
    if a[0] != 0 && a[0] != p.pid {
        return Err(Errno::ESRCH);
    }
    let (cur, max) = rlimit(a[1])?;
    if a[3] != 0 {
        let mut b = [0u8; 16];
        b[0..8].copy_from_slice(&cur.to_le_bytes());
        b[8..16].copy_from_slice(&max.to_le_bytes());
        p.uwrite(a[3], &b)?;
    }
    Ok(0)
}
