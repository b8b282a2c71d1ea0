//! Signals sent and their dispositions: kill and its thread forms,
//! actions and masks, the alternate stack, sigreturn, waiting for signals.

use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::{Process, SigAction};
use crate::proctab::{self, Life};
use crate::sched;

/// kill(2): to a process, a group (0: the caller's; -N: group N) or
/// every process but init (-1).
pub fn kill(p: &mut Process, a: Args) -> SysResult {
    let (pid, sig) = (a[0] as i32, a[1]);
    if sig > 64 {
        return Err(Errno::EINVAL);
    }
    let me = p.pid;
    let targets: Vec<u32> = match pid {
        x if x > 0 => {
            let alive = proctab::get(x as u32).is_some_and(|e| e.life == Life::Alive);
            if !alive {
                // A zombie can still be signalled (to no effect).
                return if proctab::get(x as u32).is_some() { Ok(0) } else { Err(Errno::ESRCH) };
            }
            vec![x as u32]
        }
        0 => {
            let g = proctab::get(me).map(|e| e.pgid).unwrap_or(me);
            proctab::find(|_, e| e.pgid == g)
        }
        -1 => proctab::find(|q, _| q != 1 || me == 1),
        x => proctab::find(|_, e| e.pgid == x.unsigned_abs()),
    };
    if targets.is_empty() {
        // A group of zombies can still be signalled (to no effect).
        let group = if pid == 0 { proctab::get(me).map(|e| e.pgid) } else { (pid < -1).then(|| pid.unsigned_abs()) };
        return match group {
            Some(g) if proctab::group_exists(g, None) => Ok(0),
            _ => Err(Errno::ESRCH),
        };
    }
    for t in targets {
        if sig == 0 {
            continue;
        }
        // To its own process: this thread takes it unless it blocks it;
        // then the process keeps it for a thread that does not (or for a
        // sigwait), as Linux's choice of thread goes.
        if t == me && p.sigmask & crate::signal::bit(sig) == 0 {
            p.post_signal(sig);
        } else {
            proctab::signal_with(t, sig, crate::signal::Sent { code: 0, pid: p.pid, uid: p.ids[0], status: 0 });
        }
    }
    Ok(0)
}

/// tkill(2): a signal to one thread.
pub fn tkill(p: &mut Process, a: Args) -> SysResult {
    let (tid, sig) = (a[0], a[1]);
    if sig > 64 || (tid as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    if tid == p.tid {
        if sig != 0 {
            let info = crate::signal::SigInfo {
                signo: sig,
                code: crate::signal::SI_TKILL,
                pid: p.pid,
                uid: p.ids[0],
                ..Default::default()
            };
            p.post_signal_info(sig, info);
        }
        return Ok(0);
    }
    match proctab::get(tid) {
        Some(e) if e.life == Life::Alive => {
            if sig != 0 {
                let from = crate::signal::Sent { code: crate::signal::SI_TKILL, pid: p.pid, uid: p.ids[0], status: 0 };
                proctab::signal_with(tid, sig, from);
            }
            Ok(0)
        }
        _ => Err(Errno::ESRCH),
    }
}

/// tgkill(2): a signal to thread `tid` of process `tgid`.
pub fn tgkill(p: &mut Process, a: Args) -> SysResult {
    if (a[0] as i32) <= 0 {
        return Err(Errno::EINVAL);
    }
    if proctab::get(a[1]).is_none_or(|e| e.tgid != a[0]) {
        return Err(Errno::ESRCH);
    }
    tkill(p, [a[1], a[2], 0, 0, 0, 0])
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
        p.set_action(sig, n);
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

/// sigaltstack(2).
pub fn sigaltstack(p: &mut Process, a: Args) -> SysResult {
    use crate::signal::{AltStack, SS_DISABLE, SS_ONSTACK};
    let (new, old) = (a[0], a[1]);
    let esp = p.guest.cpu().regs[vx_core::state::ESP];
    let on = p.altstack.holds(esp);
    let mut next = None;
    if new != 0 {
        let mut b = [0u8; 12];
        p.uread(new, &mut b)?;
        let g = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let (sp, flags, size) = (g(0), g(4), g(8));
        if on {
            return Err(Errno::EPERM);
        }
        // SS_AUTODISARM (1 << 31) is accepted and has no effect here.
        next = Some(match flags & !(1 << 31) {
            SS_DISABLE => AltStack::disabled(),
            0 | SS_ONSTACK => {
                if size < 2048 {
                    return Err(Errno::ENOMEM);
                }
                AltStack { sp, size, flags: 0 }
            }
            _ => return Err(Errno::EINVAL),
        });
    }
    if old != 0 {
        let s = p.altstack;
        let flags = if s.flags & SS_DISABLE != 0 {
            SS_DISABLE
        } else if on {
            SS_ONSTACK
        } else {
            0
        };
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&s.sp.to_le_bytes());
        b[4..8].copy_from_slice(&flags.to_le_bytes());
        b[8..12].copy_from_slice(&s.size.to_le_bytes());
        p.uwrite(old, &b)?;
    }
    if let Some(n) = next {
        p.altstack = n;
    }
    Ok(0)
}

/// sigreturn(2).
pub fn sigreturn(p: &mut Process, _a: Args) -> SysResult {
    p.sigreturn()
}

/// rt_sigreturn(2).
pub fn rt_sigreturn(p: &mut Process, _a: Args) -> SysResult {
    p.rt_sigreturn()
}

/// Wait until a signal not blocked by `mask` arrives; return EINTR with
/// the old mask restored after its handler (sigsuspend, pause).
fn suspend(p: &mut Process, mask: Option<u64>) -> SysResult {
    if let Some(m) = mask {
        p.saved_mask = Some(p.sigmask);
        p.sigmask = m & !crate::signal::UNBLOCKABLE;
    }
    loop {
        p.take_signals();
        if p.pending & !p.sigmask != 0 || proctab::group_exiting(p.pid).is_some() {
            return Err(Errno::EINTR);
        }
        sched::sleep(crate::proctab::signal_chan(p.tid));
    }
}

/// rt_sigsuspend(2).
pub fn rt_sigsuspend(p: &mut Process, a: Args) -> SysResult {
    if a[1] != 8 {
        return Err(Errno::EINVAL);
    }
    let mut b = [0u8; 8];
    p.uread(a[0], &mut b)?;
    suspend(p, Some(u64::from_le_bytes(b)))
}

/// sigsuspend(2): the old form with a 32-bit mask in a register.
pub fn sigsuspend(p: &mut Process, a: Args) -> SysResult {
    let m = (p.sigmask & !0xffff_ffff) | a[2] as u64;
    suspend(p, Some(m))
}

/// pause(2).
pub fn pause(p: &mut Process, _a: Args) -> SysResult {
    suspend(p, None)
}

/// rt_sigpending(2).
pub fn rt_sigpending(p: &mut Process, a: Args) -> SysResult {
    if a[1] > 8 {
        return Err(Errno::EINVAL);
    }
    p.take_signals();
    let table = [p.tid, p.pid].iter().map(|&id| proctab::get(id).map_or(0, |e| e.pending)).fold(0, |a, b| a | b);
    let set = (p.pending | table) & p.sigmask;
    p.uwrite(a[0], &set.to_le_bytes()[..a[1] as usize])?;
    Ok(0)
}

/// rt_sigtimedwait(2): take a pending signal of the set, waiting for one
/// until the timeout (EAGAIN), or for another signal (EINTR).
pub fn rt_sigtimedwait(p: &mut Process, a: Args) -> SysResult {
    do_sigtimedwait(p, a, false)
}

/// rt_sigtimedwait_time64(2).
pub fn rt_sigtimedwait_time64(p: &mut Process, a: Args) -> SysResult {
    do_sigtimedwait(p, a, true)
}

fn do_sigtimedwait(p: &mut Process, a: Args, wide: bool) -> SysResult {
    let (set, info, timeout, size) = (a[0], a[1], a[2], a[3]);
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let mut b = [0u8; 8];
    p.uread(set, &mut b)?;
    let want = u64::from_le_bytes(b) & !crate::signal::UNBLOCKABLE;
    let deadline = if timeout != 0 {
        let (s, ns) = crate::syscall::sys_time::timespec(p, timeout, wide)?;
        if s < 0 || !(0..1_000_000_000).contains(&ns) {
            return Err(Errno::EINVAL);
        }
        Some(std::time::Instant::now() + std::time::Duration::new(s as u64, ns as u32))
    } else {
        None
    };
    loop {
        p.take_signals();
        p.take_signals_in(want);
        let ready = p.pending & want;
        if ready != 0 {
            let sig = ready.trailing_zeros() + 1;
            p.pending &= !crate::signal::bit(sig);
            let si = p.sig_info[sig as usize].take().unwrap_or(crate::signal::SigInfo::user(sig, 0, 0));
            if info != 0 {
                let mut out = [0u8; 128];
                out[0..4].copy_from_slice(&si.signo.to_le_bytes());
                out[8..12].copy_from_slice(&si.code.to_le_bytes());
                out[12..16].copy_from_slice(&si.pid.to_le_bytes());
                out[16..20].copy_from_slice(&si.uid.to_le_bytes());
                p.uwrite(info, &out)?;
            }
            return Ok(sig);
        }
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Err(Errno::EAGAIN);
        }
        if p.pending & !p.sigmask != 0 || proctab::group_exiting(p.pid).is_some() {
            return Err(Errno::EINTR);
        }
        if let Some(d) = deadline {
            crate::timers::wake_at(d, crate::proctab::signal_chan(p.tid));
        }
        sched::sleep(crate::proctab::signal_chan(p.tid));
    }
}

/// sigprocmask(2): the old form with 32-bit masks.
pub fn sigprocmask(p: &mut Process, a: Args) -> SysResult {
    let (how, set, old) = (a[0], a[1], a[2]);
    let prev = p.sigmask;
    if set != 0 {
        let s = p.read_u32(set)? as u64 & !crate::signal::UNBLOCKABLE;
        p.sigmask = match how {
            0 => prev | s,
            1 => prev & !s,
            2 => (prev & !0xffff_ffff) | s,
            _ => return Err(Errno::EINVAL),
        };
    }
    if old != 0 {
        p.write_u32(old, prev as u32)?;
    }
    Ok(0)
}

/// sigaction(2): the old struct (handler, 32-bit mask, flags, restorer).
pub fn sigaction(p: &mut Process, a: Args) -> SysResult {
    let (sig, act, old) = (a[0], a[1], a[2]);
    if sig == 0 || sig > 64 {
        return Err(Errno::EINVAL);
    }
    let mut new = None;
    if act != 0 {
        if sig == 9 || sig == 19 {
            return Err(Errno::EINVAL);
        }
        let mut b = [0u8; 16];
        p.uread(act, &mut b)?;
        let w = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        new = Some(SigAction { handler: w(0), mask: w(4) as u64, flags: w(8), restorer: w(12) });
    }
    if old != 0 {
        let o = p.sigactions[sig as usize];
        let mut b = Vec::with_capacity(16);
        for v in [o.handler, o.mask as u32, o.flags, o.restorer] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        p.uwrite(old, &b)?;
    }
    if let Some(n) = new {
        p.set_action(sig, n);
    }
    Ok(0)
}

/// signal(2): a one-shot handler that does not block itself.
pub fn signal(p: &mut Process, a: Args) -> SysResult {
    let sig = a[0];
    if sig == 0 || sig > 64 || sig == 9 || sig == 19 {
        return Err(Errno::EINVAL);
    }
    let old = p.sigactions[sig as usize].handler;
    let flags = crate::signal::SA_RESETHAND | crate::signal::SA_NODEFER;
    p.set_action(sig, SigAction { handler: a[1], flags, restorer: 0, mask: 0 });
    Ok(old)
}
