//! The calls of threads: TLS descriptors, the tid address, the robust
//! list, futexes, CPU affinity.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use vx_core::state::TlsDesc;

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

/// set_tid_address(2): where to clear and wake at thread exit; returns
/// the caller's thread id.
pub fn set_tid_address(p: &mut Process, a: Args) -> SysResult {
    p.clear_tid = a[0];
    Ok(p.tid)
}

/// gettid(2).
pub fn gettid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.tid)
}

/// set_robust_list(2): accepted (one thread, nothing to clean up).
pub fn set_robust_list(_p: &mut Process, a: Args) -> SysResult {
    if a[1] != 12 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// futex(2): a single-threaded process can only wait on a value that
/// Read a futex timeout: relative for FUTEX_WAIT, absolute (on the
/// monotonic or, with FUTEX_CLOCK_REALTIME, the real-time clock) for
/// FUTEX_WAIT_BITSET.
fn futex_deadline(
    p: &mut Process,
    addr: u32,
    absolute: bool,
    realtime: bool,
    wide: bool,
) -> SysResult<Option<std::time::Instant>> {
    use std::time::{Duration, Instant};
    if addr == 0 {
        return Ok(None);
    }
    let (s, ns) = crate::syscall::sys_time::timespec(p, addr, wide)?;
    if s < 0 || !(0..1_000_000_000).contains(&ns) {
        return Err(Errno::EINVAL);
    }
    let d = Duration::new(s as u64, ns as u32);
    if !absolute {
        return Ok(Some(Instant::now() + d));
    }
    let clk = if realtime { rustix::time::ClockId::Realtime } else { rustix::time::ClockId::Monotonic };
    let now = rustix::time::clock_gettime(clk);
    let now = Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
    Ok(Some(Instant::now() + d.saturating_sub(now)))
}

fn do_futex(p: &mut Process, a: Args, wide: bool) -> SysResult {
    use crate::futex;
    let (uaddr, op, val, utime, uaddr2, val3) = (a[0], a[1], a[2], a[3], a[4], a[5]);
    let shared = op & 128 == 0;
    let realtime = op & 256 != 0;
    let cmd = op & !(128 | 256);
    if realtime && cmd != 9 && cmd != 0 {
        return Err(Errno::ENOSYS);
    }
    match cmd {
        0 | 9 => {
            let bitset = if cmd == 9 { val3 } else { u32::MAX };
            let deadline = futex_deadline(p, utime, cmd == 9, realtime, wide)?;
            let key = futex::key(p, uaddr, shared)?;
            futex::wait(p, uaddr, key, val, bitset, deadline)
        }
        1 | 10 => {
            let bitset = if cmd == 10 { val3 } else { u32::MAX };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            let key = futex::key(p, uaddr, shared)?;
            Ok(futex::wake(key, val, bitset))
        }
        3 | 4 => {
            if cmd == 4 && p.read_u32(uaddr)? != val3 {
                return Err(Errno::EAGAIN);
            }
            let (from, to) = (futex::key(p, uaddr, shared)?, futex::key(p, uaddr2, shared)?);
            Ok(futex::requeue(from, to, val, utime))
        }
        5 => {
            // FUTEX_WAKE_OP: change the word at uaddr2, wake uaddr's
            // waiters, and uaddr2's too if the old value passes a test.
            let sext = |v: u32| ((v << 20) as i32 >> 20) as u32;
            let (opn, cmp) = ((val3 >> 28) & 0xf, (val3 >> 24) & 0xf);
            let mut oparg = sext((val3 >> 12) & 0xfff);
            let cmparg = sext(val3 & 0xfff) as i32;
            if opn & 8 != 0 {
                oparg = 1u32.checked_shl(oparg).unwrap_or(0);
            }
            let old = p.read_u32(uaddr2)?;
            let new = match opn & 7 {
                0 => oparg,
                1 => old.wrapping_add(oparg),
                2 => old | oparg,
                3 => old & !oparg,
                4 => old ^ oparg,
                _ => return Err(Errno::ENOSYS),
            };
            p.write_u32(uaddr2, new)?;
            let o = old as i32;
            let pass = match cmp {
                0 => o == cmparg,
                1 => o != cmparg,
                2 => o < cmparg,
                3 => o <= cmparg,
                4 => o > cmparg,
                5 => o >= cmparg,
                _ => return Err(Errno::ENOSYS),
            };
            let (k1, k2) = (futex::key(p, uaddr, shared)?, futex::key(p, uaddr2, shared)?);
            let mut n = futex::wake(k1, val, u32::MAX);
            if pass {
                n += futex::wake(k2, utime, u32::MAX);
            }
            Ok(n)
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// futex(2): WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_BITSET,
/// WAKE_BITSET, private and shared (no priority-inheritance locks).
pub fn futex(p: &mut Process, a: Args) -> SysResult {
    do_futex(p, a, false)
}

/// futex_time64(2).
pub fn futex_time64(p: &mut Process, a: Args) -> SysResult {
    do_futex(p, a, true)
}

/// sched_getaffinity(2): one CPU per host core, less those
/// sched_setaffinity took away.
pub fn sched_getaffinity(p: &mut Process, a: Args) -> SysResult {
    // A thread's affinity is its process's here; init (pid 1 under
    // `vxos run`) has no entry and all CPUs.
    let pid = if a[0] == 0 { p.pid } else { crate::proctab::get(a[0]).ok_or(Errno::ESRCH)?.tgid };
    let e = crate::devproc::entry(pid).unwrap_or_default();
    let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(32);
    if a[1] < 4 {
        return Err(Errno::EINVAL);
    }
    let all: u32 = if n == 32 { u32::MAX } else { (1 << n) - 1 };
    let mask = match all & e.affinity {
        0 => all,
        m => m,
    };
    p.uwrite(a[2], &mask.to_le_bytes())?;
    Ok(4)
}
