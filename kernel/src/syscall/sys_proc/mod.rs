//! Process system calls: fork, clone, exec, exit and wait; process groups
//! and sessions (here); identity (`cred`), signals sent and their
//! dispositions (`signal`), the calls of threads: TLS, futexes (`thread`),
//! resource limits (`limits`).

use super::{path_arg, Args};
use crate::errno::{Errno, SysResult};
use crate::process::{ExitStatus, Process};
use crate::proctab::{self, Life};
use crate::sched;
use vx_core::state::TlsDesc;

mod cred;
mod limits;
mod signal;
mod thread;

pub use cred::*;
pub use limits::*;
pub use signal::*;
pub use thread::*;

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
/// namespace (root only, as on Linux), CLONE_FS its own working directory
/// and umask, CLONE_FILES its own descriptor table (a thread's were the
/// process's).
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
    if flags & CLONE_FS != 0 {
        p.fs = crate::group::Shared::new(p.fs.copy());
    }
    if flags & CLONE_FILES != 0 && p.files.holders() > 1 {
        p.files = crate::group::Shared::new(p.files.fork_copy());
        if p.tid == p.pid {
            crate::devproc::set_fds(p.pid, p.files.view());
        }
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
    if flags & CLONE_FS == 0 {
        t.fs = crate::group::Shared::new(p.fs.copy());
    }
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
    if pgid != pid && !proctab::group_exists(pgid, Some(me.sid)) {
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
    if proctab::group_exists(me, None) {
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
