//! The process table: what other processes may ask about a process —
//! its parent, group and session, whether it has exited and how, and the
//! signals sent to it — kept apart from the process's own state (its
//! memory, files and CPU, in `process.rs`), which only its task touches.
//!
//! Orphans go to init (pid 1), which reaps them: under `vxos run` pid 1 is
//! a placeholder whose children leave no zombies (T5 boots a real init).

use crate::process::ExitStatus;
use crate::sched::{self, WaitChan};
use parking_lot::Mutex;
use std::collections::BTreeMap;

/// Whether a process runs or waits to be reaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    Alive,
    Zombie(ExitStatus),
}

/// One process as others see it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The process a thread belongs to (its own id for the first thread).
    pub tgid: u32,
    /// For a process: its threads not yet ended.
    pub threads: u32,
    /// For a process: every thread is to end with this (exit_group).
    pub group_exit: Option<ExitStatus>,
    /// For a thread: it is to end (another thread of its process exec'd).
    pub doomed: bool,
    pub ppid: u32,
    pub pgid: u32,
    pub sid: u32,
    pub life: Life,
    /// Signals sent and not yet taken (bit n-1 for signal n).
    pub pending: u64,
    /// What each pending signal carries (si_code, si_pid, si_uid,
    /// si_status), by signal number - 1.
    pub sent: [crate::signal::Sent; 64],
    /// It called execve (a vfork parent may go on).
    pub execed: bool,
    /// The signal its parent gets when it ends (SIGCHLD, or clone's choice).
    pub exit_signal: u32,
    /// Its children leave no zombies (SIGCHLD ignored, or SA_NOCLDWAIT).
    pub nocldwait: bool,
    /// Its parent hears no SIGCHLD when it stops or continues
    /// (SA_NOCLDSTOP).
    pub nocldstop: bool,
    /// Stopped by this signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU).
    pub stopped: Option<u32>,
    /// A stop or a continue its parent has not been told of by wait.
    pub stop_report: Option<u32>,
    pub cont_report: bool,
    /// Its resident pages and memory counters (its memory map's gauge),
    /// for the OOM killer and for /proc/N/status read by others.
    pub gauge: Option<std::sync::Arc<crate::mm::Gauge>>,
    /// CPU time it used, and its reaped children used.
    pub cpu: std::time::Duration,
    pub child_cpu: std::time::Duration,
}

struct Table {
    procs: BTreeMap<u32, Entry>,
    next: u32,
}

/// Pid 1 is init: under `vxos run` a placeholder (see `create_first`),
/// the program is pid 2.
static TABLE: Mutex<Table> = Mutex::new(Table { procs: BTreeMap::new(), next: 2 });

/// The first process: vxos reads its status; it is never reaped by others.
static FIRST: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The most processes at once (RLIMIT_NPROC's default here).
pub const MAX_PROCS: usize = 4096;

/// The channel a thread waits on for signals alone (sigsuspend, pause).
pub fn signal_chan(pid: u32) -> WaitChan {
    0x5349_474e_0000_0000 | pid as u64
}

/// The channel a parent waits on for its children.
pub fn child_chan(pid: u32) -> WaitChan {
    0x5741_4954_0000_0000 | pid as u64
}

/// Start the table for `vxos run`: pid 1 stands for init (no task runs
/// it; its children leave no zombies, as init reaps them), and the program
/// is its child, pid 2, leading a process group in init's session. Returns
/// the pid.
pub fn create_first() -> u32 {
    let pid = create(0).expect("an empty table has room");
    let mut t = TABLE.lock();
    let mut init = t.procs[&pid].clone();
    init.tgid = 1;
    init.pgid = 1;
    init.sid = 1;
    init.threads = 0;
    init.nocldwait = true;
    t.procs.insert(1, init);
    // A job of init's session, as a shell starts one: its group is not
    // orphaned, so terminal stop signals stop it.
    let e = t.procs.get_mut(&pid).unwrap();
    e.ppid = 1;
    e.sid = 1;
    pid
}

/// Whether `pid` is the first process (whose end ends vxos).
pub fn is_first(pid: u32) -> bool {
    pid == FIRST.load(std::sync::atomic::Ordering::Acquire)
}

/// How the first process ended, once it has.
static FIRST_STATUS: Mutex<Option<ExitStatus>> = Mutex::new(None);

/// How the first process ended, if it has.
pub fn first_status() -> Option<ExitStatus> {
    *FIRST_STATUS.lock()
}

/// Add a process whose parent is `ppid` (0 for none), in the parent's
/// group and session; return its pid, or None when the table is full.
pub fn create(ppid: u32) -> Option<u32> {
    let mut t = TABLE.lock();
    if t.procs.len() >= MAX_PROCS {
        return None;
    }
    let pid = t.next;
    t.next += 1;
    if ppid == 0 {
        let _ =
            FIRST.compare_exchange(0, pid, std::sync::atomic::Ordering::AcqRel, std::sync::atomic::Ordering::Acquire);
    }
    let (pgid, sid) = t.procs.get(&ppid).map(|p| (p.pgid, p.sid)).unwrap_or((pid, pid));
    t.procs.insert(
        pid,
        Entry {
            tgid: pid,
            threads: 1,
            group_exit: None,
            doomed: false,
            ppid,
            pgid,
            sid,
            life: Life::Alive,
            pending: 0,
            sent: [Default::default(); 64],
            execed: false,
            exit_signal: 17,
            nocldwait: false,
            nocldstop: false,
            stopped: None,
            stop_report: None,
            cont_report: false,
            gauge: None,
            cpu: Default::default(),
            child_cpu: Default::default(),
        },
    );
    Some(pid)
}

/// Add a thread to process `tgid`; return its id.
pub fn create_thread(tgid: u32) -> Option<u32> {
    let mut t = TABLE.lock();
    if t.procs.len() >= MAX_PROCS {
        return None;
    }
    let leader = t.procs.get(&tgid)?.clone();
    let tid = t.next;
    t.next += 1;
    t.procs
        .insert(tid, Entry { tgid, threads: 0, group_exit: None, pending: 0, execed: false, exit_signal: 0, ..leader });
    t.procs.get_mut(&tgid).unwrap().threads += 1;
    Some(tid)
}

/// Tell every thread of process `tgid` to end with `st` (the first
/// such request wins).
pub fn group_exit(tgid: u32, st: ExitStatus) {
    let tids: Vec<u32> = {
        let mut t = TABLE.lock();
        let Some(l) = t.procs.get_mut(&tgid) else { return };
        if l.group_exit.is_some() || l.threads <= 1 {
            l.group_exit.get_or_insert(st);
            return;
        }
        l.group_exit = Some(st);
        t.procs.iter().filter(|(&p, e)| e.tgid == tgid && p != tgid).map(|(&p, _)| p).collect()
    };
    SENT.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    for tid in tids {
        sched::interrupt(tid);
    }
    sched::interrupt(tgid);
}

/// End every thread of process `tgid` but `keep` (execve does this before
/// the new program runs).
pub fn end_other_threads(tgid: u32, keep: u32) {
    let tids: Vec<u32> = {
        let mut t = TABLE.lock();
        let ids: Vec<u32> = t.procs.iter().filter(|(&p, e)| e.tgid == tgid && p != keep).map(|(&p, _)| p).collect();
        for id in &ids {
            t.procs.get_mut(id).unwrap().doomed = true;
        }
        ids
    };
    if tids.is_empty() {
        return;
    }
    SENT.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    for tid in tids {
        sched::interrupt(tid);
    }
}

/// Report whether thread `tid` is to end.
pub fn doomed(tid: u32) -> bool {
    TABLE.lock().procs.get(&tid).is_some_and(|e| e.doomed)
}

/// The status every thread of `tgid` is to end with, if it is ending.
pub fn group_exiting(tgid: u32) -> Option<ExitStatus> {
    TABLE.lock().procs.get(&tgid).and_then(|e| e.group_exit)
}

/// Thread `tid` of process `tgid` ended with `st`; the process ends with
/// its last thread.
pub fn thread_exit(tid: u32, tgid: u32, st: ExitStatus) {
    let last = {
        let mut t = TABLE.lock();
        if tid != tgid {
            t.procs.remove(&tid);
        }
        let Some(l) = t.procs.get_mut(&tgid) else { return };
        l.threads = l.threads.saturating_sub(1);
        (l.threads == 0).then(|| l.group_exit.unwrap_or(st))
    };
    if let Some(st) = last {
        exit(tgid, st);
    }
}

/// How many processes (not threads) exist.
pub fn count() -> usize {
    TABLE.lock().procs.iter().filter(|(&p, e)| e.tgid == p).count()
}

/// The live process with the most resident pages (the OOM killer's
/// choice), and how many.
pub fn largest() -> Option<(u32, u32)> {
    let t = TABLE.lock();
    t.procs
        .iter()
        .filter(|(&p, e)| e.tgid == p && e.life == Life::Alive)
        .filter_map(|(&p, e)| e.gauge.as_ref().map(|g| (p, g.resident.load(std::sync::atomic::Ordering::Relaxed))))
        .max_by_key(|&(p, n)| (n, p))
}

/// Look a process up.
pub fn get(pid: u32) -> Option<Entry> {
    TABLE.lock().procs.get(&pid).cloned()
}

/// Change a process's entry.
pub fn update(pid: u32, f: impl FnOnce(&mut Entry)) -> bool {
    match TABLE.lock().procs.get_mut(&pid) {
        Some(e) => {
            f(e);
            true
        }
        None => false,
    }
}

/// The pids of every live process matching `f`.
pub fn find(f: impl Fn(u32, &Entry) -> bool) -> Vec<u32> {
    TABLE
        .lock()
        .procs
        .iter()
        .filter(|(&p, e)| e.tgid == p && e.life == Life::Alive && f(p, e))
        .map(|(&p, _)| p)
        .collect()
}

/// Whether process group `pgid` exists (in session `sid`, if given): as
/// on Linux, a zombie not yet reaped still belongs to its group.
pub fn group_exists(pgid: u32, sid: Option<u32>) -> bool {
    TABLE.lock().procs.iter().any(|(&p, e)| e.tgid == p && e.pgid == pgid && sid.is_none_or(|s| e.sid == s))
}

/// Counts signals sent, so processes can tell cheaply whether to look.
static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many signals were sent so far.
pub fn signals_sent() -> u64 {
    SENT.load(std::sync::atomic::Ordering::Acquire)
}

/// Send signal `sig` to `pid`: note it and wake the process if it sleeps.
pub fn signal(pid: u32, sig: u32) -> bool {
    signal_with(pid, sig, crate::signal::Sent { code: crate::signal::SI_KERNEL, ..Default::default() })
}

/// Send signal `sig` to `pid` carrying `info` (who sent it, and how).
pub fn signal_with(pid: u32, sig: u32, info: crate::signal::Sent) -> bool {
    SENT.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let mut continued = None;
    let ok = update(pid, |e| {
        if e.life == Life::Alive && sig != 0 {
            if e.pending & 1u64 << (sig - 1) == 0 {
                e.sent[sig as usize - 1] = info;
            }
            e.pending |= 1u64 << (sig - 1);
            const STOPS: u64 = 1 << 18 | 1 << 19 | 1 << 20 | 1 << 21;
            if sig == 18 {
                // SIGCONT discards pending stops and resumes a stopped process.
                e.pending &= !STOPS;
                if e.stopped.take().is_some() {
                    e.stop_report = None;
                    e.cont_report = true;
                    continued = Some(e.ppid);
                }
            } else if STOPS & (1 << (sig - 1)) != 0 {
                e.pending &= !(1 << 17);
            }
        }
    });
    if ok && sig != 0 {
        // Any thread of a process may take a signal sent to it.
        for tid in threads_of(pid) {
            sched::interrupt(tid);
        }
        sched::wakeup(stop_chan(pid));
    }
    if let Some(ppid) = continued {
        notify_parent(pid, ppid);
    }
    ok
}

/// The threads of process `tgid` (just `tgid` for a thread or a process
/// with one thread).
fn threads_of(tgid: u32) -> Vec<u32> {
    let t = TABLE.lock();
    match t.procs.get(&tgid) {
        Some(e) if e.tgid == tgid && e.threads > 1 => {
            t.procs.iter().filter(|(_, e)| e.tgid == tgid).map(|(&p, _)| p).collect()
        }
        _ => vec![tgid],
    }
}

/// What a stopped process sleeps on until SIGCONT.
pub fn stop_chan(pid: u32) -> WaitChan {
    0x5354_4f50_0000_0000 | pid as u64
}

/// Tell the parent that child `pid` stopped or continued: SIGCHLD unless
/// it asked not to, and a wakeup of its waits.
fn notify_parent(pid: u32, ppid: u32) {
    let quiet = get(ppid).is_none_or(|p| p.nocldstop);
    if !quiet {
        signal(ppid, 17);
    }
    let _ = pid;
    sched::wakeup(child_chan(ppid));
}

/// Process `pid` stops for signal `sig`; returns false if it cannot (it
/// is not alive).
pub fn stop(pid: u32, sig: u32) -> bool {
    let mut ppid = None;
    update(pid, |e| {
        if e.life == Life::Alive {
            e.stopped = Some(sig);
            e.stop_report = Some(sig);
            e.cont_report = false;
            ppid = Some(e.ppid);
        }
    });
    SENT.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    match ppid {
        Some(p) => {
            if p != 0 {
                notify_parent(pid, p);
            }
            true
        }
        None => false,
    }
}

/// Report whether process group `pgid` is orphaned: no member has a
/// parent in another group of the same session (then the terminal stop
/// signals do not stop its members, as no job control shell will resume
/// them).
pub fn pgrp_orphaned(pgid: u32) -> bool {
    let t = TABLE.lock();
    !t.procs.iter().any(|(&p, e)| {
        e.tgid == p
            && e.pgid == pgid
            && e.life == Life::Alive
            && t.procs.get(&e.ppid).is_some_and(|parent| parent.pgid != pgid && parent.sid == e.sid)
    })
}

/// Report whether `pid` is stopped.
pub fn is_stopped(pid: u32) -> bool {
    TABLE.lock().procs.get(&pid).is_some_and(|e| e.stopped.is_some())
}

/// Take the signals sent to `pid`, except those in `blocked`, with what
/// each carries.
pub fn take_pending(pid: u32, blocked: u64) -> (u64, [crate::signal::Sent; 64]) {
    let mut t = TABLE.lock();
    let Some(e) = t.procs.get_mut(&pid) else { return (0, [Default::default(); 64]) };
    let take = e.pending & !blocked;
    e.pending &= blocked;
    (take, e.sent)
}

/// Task `tid`'s kernel code failed: its process ends as if by SIGKILL, so
/// that its parent and its other threads do not wait for it forever.
pub fn task_died(tid: u32) {
    crate::futex::forget(tid);
    let Some(tgid) = get(tid).map(|e| e.tgid) else { return };
    let st = ExitStatus::Signal(9);
    group_exit(tgid, st);
    thread_exit(tid, tgid, st);
}

/// Record that `pid` ended with `st`: it becomes a zombie for its parent
/// to reap, its children go to init, and the parent hears SIGCHLD.
pub fn exit(pid: u32, st: ExitStatus) {
    crate::timers::forget(pid);
    if pid == FIRST.load(std::sync::atomic::Ordering::Acquire) {
        *FIRST_STATUS.lock() = Some(st);
        // vxos ends with it: every vCPU leaves its loop.
        sched::stop();
    }
    let (ppid, sig) = {
        let mut t = TABLE.lock();
        let Some(e) = t.procs.get_mut(&pid) else { return };
        e.life = Life::Zombie(st);
        let (ppid, sig) = (e.ppid, e.exit_signal);
        let init_alive = t.procs.get(&1).is_some_and(|e| e.life == Life::Alive) && pid != 1;
        let orphans: Vec<u32> =
            t.procs.iter().filter(|(&p, e)| e.ppid == pid && e.tgid == p).map(|(&p, _)| p).collect();
        for o in orphans {
            if init_alive {
                t.procs.get_mut(&o).unwrap().ppid = 1;
            } else {
                // Nobody will reap them: zombies among them go now.
                let zombie = matches!(t.procs[&o].life, Life::Zombie(_));
                if zombie {
                    t.procs.remove(&o);
                } else {
                    t.procs.get_mut(&o).unwrap().ppid = 0;
                }
            }
        }
        // No one to reap it: gone at once (vxos itself reads the first
        // process's status).
        let unreaped = ppid == 0 && pid != FIRST.load(std::sync::atomic::Ordering::Acquire);
        if unreaped || t.procs.get(&ppid).is_some_and(|p| p.nocldwait) {
            let cpu = t.procs.get(&pid).map(|e| e.cpu + e.child_cpu).unwrap_or_default();
            t.procs.remove(&pid);
            if let Some(p) = t.procs.get_mut(&ppid) {
                p.child_cpu += cpu;
            }
        }
        (ppid, sig)
    };
    if ppid != 0 {
        if sig != 0 {
            let (code, status) = match st {
                ExitStatus::Code(c) => (1, c as u32 & 0xff), // CLD_EXITED
                ExitStatus::Signal(s) => (2, s as u32),      // CLD_KILLED
            };
            signal_with(ppid, sig, crate::signal::Sent { code, pid, uid: 0, status });
        }
        sched::wakeup(child_chan(ppid));
    }
}

/// Remove zombie `pid` (its parent reaped it); its CPU time counts for
/// the parent's children.
pub fn reap(pid: u32) {
    {
        let mut t = TABLE.lock();
        if let Some(e) = t.procs.remove(&pid) {
            if let Some(parent) = t.procs.get_mut(&e.ppid) {
                parent.child_cpu += e.cpu + e.child_cpu;
            }
        }
    }
    crate::devproc::unregister(pid);
}

/// Charge `d` of CPU time to `pid`.
pub fn charge(pid: u32, d: std::time::Duration) {
    if let Some(e) = TABLE.lock().procs.get_mut(&pid) {
        e.cpu += d;
    }
}

/// The children of `ppid` that `want` accepts: (pid, its state).
pub fn children(ppid: u32, want: impl Fn(u32, &Entry) -> bool) -> Vec<(u32, Life)> {
    TABLE
        .lock()
        .procs
        .iter()
        .filter(|(&p, e)| e.tgid == p && e.ppid == ppid && want(p, e))
        .map(|(&p, e)| (p, e.life))
        .collect()
}
