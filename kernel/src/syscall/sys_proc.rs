//! Process system calls: fork, exec, exit and wait; process groups and
//! sessions; identity; signals sent and their dispositions; TLS, limits,
//! and the thread calls a single-threaded program makes.

use super::{path_arg, Args};
use crate::errno::{Errno, SysResult};
use crate::process::{ExitStatus, Process, SigAction};
use crate::proctab::{self, Life};
use crate::sched;
use vx_core::state::TlsDesc;

/// exit(2): the calling thread ends (the process with its last thread).
pub fn exit(p: &mut Process, a: Args) -> SysResult {
    p.exit = Some(ExitStatus::Code(a[0] as i32 & 0xff));
    p.thread_exit_only = true;
    Ok(0)
}

/// exit_group(2): every thread of the process ends.
pub fn exit_group(p: &mut Process, a: Args) -> SysResult {
    p.exit = Some(ExitStatus::Code(a[0] as i32 & 0xff));
    Ok(0)
}

/// getpid(2) (and gettid, getpgrp in a single-task process).
pub fn getpid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.pid)
}

/// getppid(2).
pub fn getppid(p: &mut Process, _a: Args) -> SysResult {
    Ok(proctab::get(p.pid).map(|e| e.ppid).unwrap_or(0))
}

const CLONE_VM: u32 = 0x100;
const CLONE_VFORK: u32 = 0x4000;
const CLONE_THREAD: u32 = 0x10000;
const CLONE_SETTLS: u32 = 0x80000;
const CLONE_PARENT_SETTID: u32 = 0x100000;
const CLONE_CHILD_SETTID: u32 = 0x1000000;
const CLONE_SIGHAND: u32 = 0x800;
const CLONE_FS: u32 = 0x200;
const CLONE_FILES: u32 = 0x400;
const CLONE_NEWNS: u32 = 0x20000;
const CLONE_SYSVSEM: u32 = 0x40000;

/// unshare(2): CLONE_NEWNS gives the caller a private copy of its
/// namespace (root only, as on Linux); what vxos does not share yet
/// (files, fs) is already unshared.
pub fn unshare(p: &mut Process, a: Args) -> SysResult {
    let flags = a[0];
    if flags & !(CLONE_NEWNS | CLONE_FS | CLONE_FILES | CLONE_SYSVSEM) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_NEWNS != 0 {
        if p.cred().uid != 0 {
            return Err(Errno::EPERM);
        }
        p.ns = p.ns.copy();
        crate::devproc::set_ns(p.pid, p.ns.clone());
    }
    Ok(0)
}

/// Make a child process; return its pid to the parent (the child's fork
/// returns 0). `stack` replaces the child's stack pointer if not 0.
fn do_fork(p: &mut Process, flags: u32, stack: u32, ptid: u32, tls: u32, ctid: u32) -> SysResult {
    if flags & CLONE_THREAD != 0 {
        return new_thread(p, flags, stack, ptid, tls, ctid);
    }
    if flags & CLONE_SIGHAND != 0 || (flags & CLONE_VM != 0 && flags & CLONE_VFORK == 0) {
        // Processes sharing memory or signal actions without being
        // threads of one process: not kept yet.
        return Err(Errno::EINVAL);
    }
    let mut tls_desc = None;
    if flags & CLONE_SETTLS != 0 {
        let mut b = [0u8; 16];
        p.uread(tls, &mut b)?;
        tls_desc = Some(b);
    }
    // RLIMIT_NPROC: processes of this user (all of the guest's, here).
    if p.ids[1] != 0 && proctab::count() as u64 >= p.rlimits[6].0 {
        return Err(Errno::EAGAIN);
    }
    let pid = proctab::create(p.pid).ok_or(Errno::EAGAIN)?;
    let shares_memory = flags & CLONE_VM != 0;
    let mut child = if shares_memory {
        // vfork: the child runs in this address space while we wait.
        let mine = p.guest.save_cpu();
        if stack != 0 {
            p.guest.cpu_mut().regs[vx_core::state::ESP] = stack;
        }
        if let Some(b) = tls_desc.take() {
            let w = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
            let d = TlsDesc { base: w(4), limit: w(8), flags: w(12), present: w(12) & (1 << 5) == 0 };
            p.guest.set_tls(w(0), d);
        }
        let c = p.vfork_child(pid);
        p.guest.load_cpu(&mine);
        c
    } else {
        match p.fork(pid) {
            Ok(c) => c,
            Err(e) => {
                proctab::exit(pid, ExitStatus::Code(0));
                proctab::reap(pid);
                // No room for another guest: EAGAIN, as a process limit; or
                // the host's memory ran out: ENOMEM.
                return Err(if e.raw_os_error() == Some(libc::EAGAIN) { Errno::EAGAIN } else { Errno::ENOMEM });
            }
        }
    };
    if stack != 0 && !shares_memory {
        child.guest.cpu_mut().regs[vx_core::state::ESP] = stack;
    }
    proctab::update(pid, |e| e.exit_signal = flags & 0xff);
    if flags & CLONE_NEWNS != 0 {
        child.ns = child.ns.copy();
        crate::devproc::set_ns(pid, child.ns.clone());
    }
    if let Some(b) = tls_desc {
        let w = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        let d = TlsDesc { base: w(4), limit: w(8), flags: w(12), present: w(12) & (1 << 5) == 0 };
        if !child.guest.set_tls(w(0), d) {
            return Err(Errno::EINVAL);
        }
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        p.write_u32(ptid, pid)?;
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        child.write_u32(ctid, pid)?;
    }
    let vfork = flags & CLONE_VFORK != 0;
    let group = child.guest.id() as u64;
    let r = sched::spawn(pid, group, move || {
        let st = child.run();
        child.finish(st);
        sched::wakeup(vfork_chan(pid));
    });
    if r.is_err() {
        proctab::exit(pid, ExitStatus::Code(0));
        proctab::reap(pid);
        return Err(Errno::ENOMEM);
    }
    if vfork {
        // The parent waits until the child execs or exits.
        while proctab::get(pid).is_some_and(|e| e.life == Life::Alive && !e.execed) {
            sched::sleep(vfork_chan(pid));
        }
    }
    Ok(pid)
}

/// clone(CLONE_THREAD): a new thread of the calling process.
fn new_thread(p: &mut Process, flags: u32, stack: u32, ptid: u32, tls: u32, ctid: u32) -> SysResult {
    if flags & CLONE_SIGHAND == 0 || flags & CLONE_VM == 0 {
        return Err(Errno::EINVAL);
    }
    let desc = if flags & CLONE_SETTLS != 0 {
        let mut b = [0u8; 16];
        p.uread(tls, &mut b)?;
        let w = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        Some((w(0), TlsDesc { base: w(4), limit: w(8), flags: w(12), present: w(12) & (1 << 5) == 0 }))
    } else {
        None
    };
    let tid = proctab::create_thread(p.pid).ok_or(Errno::EAGAIN)?;
    // The new thread's CPU: this one's, with its own stack and TLS.
    let mine = p.guest.save_cpu();
    if stack != 0 {
        p.guest.cpu_mut().regs[vx_core::state::ESP] = stack;
    }
    let mut ok = true;
    if let Some((mut entry, d)) = desc {
        if entry == u32::MAX {
            entry = vx_core::state::TLS_ENTRY_MIN;
        }
        ok = p.guest.set_tls(entry, d);
    }
    let mut t = p.thread(tid);
    p.guest.load_cpu(&mine);
    if !ok {
        proctab::thread_exit(tid, p.pid, ExitStatus::Code(0));
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        p.write_u32(ptid, tid)?;
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        p.write_u32(ctid, tid)?;
    }
    if flags & CLONE_CHILD_CLEARTID != 0 {
        t.clear_tid = ctid;
    }
    let group = t.guest.id() as u64;
    let r = sched::spawn(tid, group, move || {
        let st = t.run();
        t.finish(st);
    });
    if r.is_err() {
        proctab::thread_exit(tid, p.pid, ExitStatus::Code(0));
        return Err(Errno::ENOMEM);
    }
    Ok(tid)
}

const CLONE_CHILD_CLEARTID: u32 = 0x200000;

/// What a vfork parent sleeps on.
pub fn vfork_chan(pid: u32) -> sched::WaitChan {
    0x5646_4f52_0000_0000 | pid as u64
}

/// fork(2).
pub fn fork(p: &mut Process, _a: Args) -> SysResult {
    do_fork(p, 17, 0, 0, 0, 0)
}

/// vfork(2).
pub fn vfork(p: &mut Process, _a: Args) -> SysResult {
    do_fork(p, CLONE_VM | CLONE_VFORK | 17, 0, 0, 0, 0)
}

/// clone(2): i386 order flags, stack, parent_tid, tls, child_tid.
pub fn clone(p: &mut Process, a: Args) -> SysResult {
    do_fork(p, a[0], a[1], a[2], a[3], a[4])
}

/// Read a NULL-terminated array of string pointers (argv, envp).
fn string_array(p: &mut Process, addr: u32) -> SysResult<Vec<Vec<u8>>> {
    let mut v = Vec::new();
    if addr == 0 {
        return Ok(v);
    }
    let mut total = 0usize;
    for i in 0.. {
        let ptr = p.read_u32(addr.wrapping_add(4 * i))?;
        if ptr == 0 {
            break;
        }
        let s = p.read_cstr(ptr, 128 * 1024).map_err(|e| if e == Errno::ENAMETOOLONG { Errno::E2BIG } else { e })?;
        total += s.len() + 1 + 4;
        if total > 2 << 20 || i > 0x10000 {
            return Err(Errno::E2BIG);
        }
        v.push(s);
    }
    Ok(v)
}

/// execve(2).
pub fn execve(p: &mut Process, a: Args) -> SysResult {
    let path = path_arg(p, a[0])?;
    let argv = string_array(p, a[1])?;
    let envp = string_array(p, a[2])?;
    let path = devices::names::decode(&path).into_owned();
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    p.exec(&path, argv, &envp)?;
    // The other threads end: the new program runs alone.
    proctab::end_other_threads(p.pid, p.tid);
    proctab::update(p.pid, |e| e.execed = true);
    sched::wakeup(vfork_chan(p.pid));
    Ok(0)
}

const WNOHANG: u32 = 1;

/// What wait reports of a child.
#[derive(Debug, Clone, Copy)]
enum Report {
    Ended(ExitStatus),
    Stopped(u32),
    Continued,
}

/// The wait status, as wait4 encodes it.
fn wait_status(r: Report) -> u32 {
    match r {
        Report::Ended(ExitStatus::Code(c)) => ((c & 0xff) as u32) << 8,
        Report::Ended(ExitStatus::Signal(s)) => s as u32 & 0x7f,
        Report::Stopped(sig) => sig << 8 | 0x7f,
        Report::Continued => 0xffff,
    }
}

const WUNTRACED: u32 = 2;
const WCONTINUED: u32 = 8;
const WNOWAIT: u32 = 0x0100_0000;

/// Wait for a child matching `pid` (wait4's forms) to end (or, as asked,
/// to stop or continue); reap an ended one unless WNOWAIT, and return its
/// pid, what happened and its CPU time, or None with WNOHANG.
fn wait_child(p: &mut Process, pid: i32, options: u32) -> SysResult<Option<(u32, Report, std::time::Duration)>> {
    const WALL: u32 = 0x4000_0000;
    const WCLONE: u32 = 0x8000_0000;
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOWAIT | 4 | WALL | WCLONE | 0x2000_0000) != 0 {
        return Err(Errno::EINVAL);
    }
    let me = p.pid;
    let my_pgid = proctab::get(me).map(|e| e.pgid).unwrap_or(me);
    let want = move |cpid: u32, e: &proctab::Entry| {
        // __WCLONE waits for children that signal other than SIGCHLD at
        // exit, the default for those that do; __WALL for all.
        let kind = options & WALL != 0 || ((e.exit_signal != 17) == (options & WCLONE != 0));
        kind && match pid {
            -1 => true,
            0 => e.pgid == my_pgid,
            x if x > 0 => cpid == x as u32,
            x => e.pgid == x.unsigned_abs(),
        }
    };
    let keep = options & WNOWAIT != 0;
    loop {
        let kids = proctab::children(me, want);
        if kids.is_empty() {
            return Err(Errno::ECHILD);
        }
        // WEXITED (4): wait4 always asks for it, waitid when told.
        if options & 4 != 0 {
            if let Some(&(cpid, Life::Zombie(st))) = kids.iter().find(|k| matches!(k.1, Life::Zombie(_))) {
                let cpu = proctab::get(cpid).map(|e| e.cpu + e.child_cpu).unwrap_or_default();
                if !keep {
                    proctab::reap(cpid);
                }
                return Ok(Some((cpid, Report::Ended(st), cpu)));
            }
        }
        for &(cpid, _) in &kids {
            let Some(e) = proctab::get(cpid) else { continue };
            if options & WUNTRACED != 0 {
                if let Some(sig) = e.stop_report {
                    if !keep {
                        proctab::update(cpid, |e| e.stop_report = None);
                    }
                    return Ok(Some((cpid, Report::Stopped(sig), e.cpu)));
                }
            }
            if options & WCONTINUED != 0 && e.cont_report {
                if !keep {
                    proctab::update(cpid, |e| e.cont_report = false);
                }
                return Ok(Some((cpid, Report::Continued, e.cpu)));
            }
        }
        if options & WNOHANG != 0 {
            return Ok(None);
        }
        // A child that ended wins over the SIGCHLD its end sent.
        if p.signal_interrupts() {
            return Err(Errno::EINTR);
        }
        sched::sleep(proctab::child_chan(me));
    }
}

/// wait4(2).
pub fn wait4(p: &mut Process, a: Args) -> SysResult {
    let (pid, status, options, rusage) = (a[0] as i32, a[1], a[2], a[3]);
    if pid == i32::MIN {
        return Err(Errno::ESRCH);
    }
    // The child is reaped even if its status cannot be stored (EFAULT).
    if options & (4 | WNOWAIT) != 0 {
        return Err(Errno::EINVAL);
    }
    match wait_child(p, pid, options | 4)? {
        None => Ok(0),
        Some((cpid, st, cpu)) => {
            if status != 0 {
                p.write_u32(status, wait_status(st))?;
            }
            if rusage != 0 {
                p.uwrite(rusage, &super::sys_time::rusage_bytes(cpu, 0))?;
            }
            Ok(cpid)
        }
    }
}

/// waitpid(2).
pub fn waitpid(p: &mut Process, a: Args) -> SysResult {
    wait4(p, [a[0], a[1], a[2], 0, 0, 0])
}

/// waitid(2): P_ALL, P_PID, P_PGID; WEXITED; fills siginfo.
pub fn waitid(p: &mut Process, a: Args) -> SysResult {
    let (idtype, id, info, options) = (a[0], a[1], a[2], a[3]);
    const WEXITED: u32 = 4;
    if options & (WEXITED | WUNTRACED | WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    let pid = match idtype {
        0 => -1,
        1 => id as i32,
        2 => -(id as i32),
        _ => return Err(Errno::EINVAL),
    };
    let r = wait_child(p, pid, options & (WNOHANG | WUNTRACED | WCONTINUED | WNOWAIT | WEXITED))?;
    if info != 0 {
        let mut b = [0u8; 128];
        if let Some((cpid, st, _)) = r {
            b[0..4].copy_from_slice(&17u32.to_le_bytes()); // SIGCHLD
            let (code, val) = match st {
                Report::Ended(ExitStatus::Code(c)) => (1u32, c as u32 & 0xff), // CLD_EXITED
                Report::Ended(ExitStatus::Signal(s)) => (2, s as u32),         // CLD_KILLED
                Report::Stopped(s) => (5, s),                                  // CLD_STOPPED
                Report::Continued => (6, 18),                                  // CLD_CONTINUED
            };
            b[8..12].copy_from_slice(&code.to_le_bytes());
            b[12..16].copy_from_slice(&cpid.to_le_bytes());
            b[16..20].copy_from_slice(&p.ids[0].to_le_bytes());
            b[20..24].copy_from_slice(&val.to_le_bytes());
        }
        p.uwrite(info, &b)?;
    }
    Ok(0)
}

/// setpgid(2).
pub fn setpgid(p: &mut Process, a: Args) -> SysResult {
    let pid = if a[0] == 0 { p.pid } else { a[0] };
    let pgid = if a[1] == 0 { pid } else { a[1] };
    if (a[1] as i32) < 0 || (a[0] as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    let me = proctab::get(p.pid).ok_or(Errno::ESRCH)?;
    let target = proctab::get(pid).ok_or(Errno::ESRCH)?;
    if pid != p.pid && target.ppid != p.pid {
        return Err(Errno::ESRCH);
    }
    if pid != p.pid && target.execed {
        return Err(Errno::EACCES);
    }
    if target.sid == pid || target.sid != me.sid {
        return Err(Errno::EPERM);
    }
    if pgid != pid && proctab::find(|_, e| e.pgid == pgid && e.sid == me.sid).is_empty() {
        return Err(Errno::EPERM);
    }
    proctab::update(pid, |e| e.pgid = pgid);
    Ok(0)
}

/// getpgid(2).
pub fn getpgid(p: &mut Process, a: Args) -> SysResult {
    let pid = if a[0] == 0 { p.pid } else { a[0] };
    proctab::get(pid).map(|e| e.pgid).ok_or(Errno::ESRCH)
}

/// getpgrp(2).
pub fn getpgrp(p: &mut Process, _a: Args) -> SysResult {
    getpgid(p, [0; 6])
}

/// setsid(2).
pub fn setsid(p: &mut Process, _a: Args) -> SysResult {
    let me = p.pid;
    if !proctab::find(|q, e| e.pgid == me && q != me).is_empty() || proctab::get(me).is_some_and(|e| e.pgid == me) {
        return Err(Errno::EPERM);
    }
    proctab::update(me, |e| {
        e.sid = me;
        e.pgid = me;
    });
    Ok(me)
}

/// getsid(2).
pub fn getsid(p: &mut Process, a: Args) -> SysResult {
    let pid = if a[0] == 0 { p.pid } else { a[0] };
    proctab::get(pid).map(|e| e.sid).ok_or(Errno::ESRCH)
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
        return Err(Errno::ESRCH);
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
        let (s, ns) = super::sys_time::timespec(p, timeout, wide)?;
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
    let (s, ns) = super::sys_time::timespec(p, addr, wide)?;
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

// ---------------------------------------------------------------------
// Credentials.

/// The ids a set*id call may pick from without privilege.
fn may_set(p: &Process, v: u32, user: bool) -> bool {
    let (r, e, s) = if user { (p.ids[0], p.ids[1], p.saved_ids[0]) } else { (p.ids[2], p.ids[3], p.saved_ids[1]) };
    p.ids[1] == 0 || v == r || v == e || v == s
}

/// setresuid/setresgid: each of real, effective, saved (-1 keeps).
fn set_res(p: &mut Process, r: u32, e: u32, s: u32, user: bool) -> SysResult {
    for v in [r, e, s] {
        if v != u32::MAX && !may_set(p, v, user) {
            return Err(Errno::EPERM);
        }
    }
    let (ri, ei, si) = if user { (0, 1, 0) } else { (2, 3, 1) };
    if r != u32::MAX {
        p.ids[ri] = r;
    }
    if e != u32::MAX {
        p.ids[ei] = e;
    }
    if s != u32::MAX {
        p.saved_ids[si] = s;
    }
    Ok(0)
}

/// setuid/setgid: root sets all three; others only the effective id, to
/// the real or saved one.
fn set_one(p: &mut Process, v: u32, user: bool) -> SysResult {
    if v == u32::MAX {
        return Err(Errno::EINVAL);
    }
    if p.ids[1] == 0 {
        set_res(p, v, v, v, user)
    } else if may_set(p, v, user) {
        set_res(p, u32::MAX, v, u32::MAX, user)
    } else {
        Err(Errno::EPERM)
    }
}

/// setreuid/setregid (Linux's rules): the real id may become the real or
/// effective one, the effective id any of the three; the saved id follows
/// the new effective one when the real one is set or the effective one
/// moves away from the old real one. Root may set anything.
fn set_re(p: &mut Process, r: u32, e: u32, user: bool) -> SysResult {
    let (ri, ei, si) = if user { (0, 1, 0) } else { (2, 3, 1) };
    let (old_r, old_e, old_s) = (p.ids[ri], p.ids[ei], p.saved_ids[si]);
    let root = p.ids[1] == 0;
    if r != u32::MAX && !root && r != old_r && r != old_e {
        return Err(Errno::EPERM);
    }
    if e != u32::MAX && !root && e != old_r && e != old_e && e != old_s {
        return Err(Errno::EPERM);
    }
    if r != u32::MAX {
        p.ids[ri] = r;
    }
    if e != u32::MAX {
        p.ids[ei] = e;
    }
    if r != u32::MAX || (e != u32::MAX && e != old_r) {
        p.saved_ids[si] = p.ids[ei];
    }
    Ok(0)
}

fn id16(v: u32) -> u32 {
    if v as u16 == u16::MAX {
        u32::MAX
    } else {
        v & 0xffff
    }
}

pub fn setuid32(p: &mut Process, a: Args) -> SysResult {
    set_one(p, a[0], true)
}
pub fn setgid32(p: &mut Process, a: Args) -> SysResult {
    set_one(p, a[0], false)
}
pub fn setuid16(p: &mut Process, a: Args) -> SysResult {
    set_one(p, id16(a[0]), true)
}
pub fn setgid16(p: &mut Process, a: Args) -> SysResult {
    set_one(p, id16(a[0]), false)
}
pub fn setreuid32(p: &mut Process, a: Args) -> SysResult {
    set_re(p, a[0], a[1], true)
}
pub fn setregid32(p: &mut Process, a: Args) -> SysResult {
    set_re(p, a[0], a[1], false)
}
pub fn setreuid16(p: &mut Process, a: Args) -> SysResult {
    set_re(p, id16(a[0]), id16(a[1]), true)
}
pub fn setregid16(p: &mut Process, a: Args) -> SysResult {
    set_re(p, id16(a[0]), id16(a[1]), false)
}
pub fn setresuid32(p: &mut Process, a: Args) -> SysResult {
    set_res(p, a[0], a[1], a[2], true)
}
pub fn setresgid32(p: &mut Process, a: Args) -> SysResult {
    set_res(p, a[0], a[1], a[2], false)
}
pub fn setresuid16(p: &mut Process, a: Args) -> SysResult {
    set_res(p, id16(a[0]), id16(a[1]), id16(a[2]), true)
}
pub fn setresgid16(p: &mut Process, a: Args) -> SysResult {
    set_res(p, id16(a[0]), id16(a[1]), id16(a[2]), false)
}

fn get_res(p: &mut Process, a: Args, user: bool, wide: bool) -> SysResult {
    let v = if user { [p.ids[0], p.ids[1], p.saved_ids[0]] } else { [p.ids[2], p.ids[3], p.saved_ids[1]] };
    for (addr, id) in a[..3].iter().zip(v) {
        if wide {
            p.write_u32(*addr, id)?;
        } else {
            p.uwrite(*addr, &(id.min(65534) as u16).to_le_bytes())?;
        }
    }
    Ok(0)
}

pub fn getresuid32(p: &mut Process, a: Args) -> SysResult {
    get_res(p, a, true, true)
}
pub fn getresgid32(p: &mut Process, a: Args) -> SysResult {
    get_res(p, a, false, true)
}
pub fn getresuid16(p: &mut Process, a: Args) -> SysResult {
    get_res(p, a, true, false)
}
pub fn getresgid16(p: &mut Process, a: Args) -> SysResult {
    get_res(p, a, false, false)
}

fn get_groups(p: &mut Process, a: Args, wide: bool) -> SysResult {
    let (size, list) = (a[0] as i32, a[1]);
    let n = p.groups.len() as u32;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    if size == 0 {
        return Ok(n);
    }
    if (size as u32) < n {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = if wide {
        p.groups.iter().flat_map(|g| g.to_le_bytes()).collect()
    } else {
        p.groups.iter().flat_map(|g| (*g.min(&65534) as u16).to_le_bytes()).collect()
    };
    p.uwrite(list, &bytes)?;
    Ok(n)
}

fn set_groups(p: &mut Process, a: Args, wide: bool) -> SysResult {
    let n = a[0];
    if n > 65536 {
        return Err(Errno::EINVAL);
    }
    if p.ids[1] != 0 {
        return Err(Errno::EPERM);
    }
    let w = if wide { 4 } else { 2 };
    let mut b = vec![0u8; n as usize * w];
    p.uread(a[1], &mut b)?;
    p.groups = b
        .chunks(w)
        .map(|c| {
            if wide {
                u32::from_le_bytes(c.try_into().unwrap())
            } else {
                u16::from_le_bytes(c.try_into().unwrap()) as u32
            }
        })
        .collect();
    Ok(0)
}

pub fn getgroups32(p: &mut Process, a: Args) -> SysResult {
    get_groups(p, a, true)
}
pub fn setgroups32(p: &mut Process, a: Args) -> SysResult {
    set_groups(p, a, true)
}
pub fn getgroups16(p: &mut Process, a: Args) -> SysResult {
    get_groups(p, a, false)
}
pub fn setgroups16(p: &mut Process, a: Args) -> SysResult {
    set_groups(p, a, false)
}

/// setfsuid/setfsgid: file access uses the effective ids here; the call
/// answers with them and changes nothing.
pub fn setfsuid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ids[1])
}
pub fn setfsgid(p: &mut Process, _a: Args) -> SysResult {
    Ok(p.ids[3])
}
