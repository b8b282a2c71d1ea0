//! The scheduler: tasks, the run queue, vCPUs, sleep and wakeup.
//!
//! A task is a kernel stack running a closure (for a process: the loop
//! that runs its guest and handles its traps). A vCPU is a host thread
//! running `run`: it picks the first runnable task from the run queue and
//! switches to its stack; the task runs until it sleeps, yields or exits,
//! which switches back. The policy, in ten lines:
//!
//! - one run queue for all vCPUs, first come first served;
//! - a task that yields, is preempted or wakes up goes to the back;
//! - the tick (`preempt_current`, every 1/hz s) asks each vCPU's task to
//!   stop at its next block if a task waits to run, so a time slice is at
//!   most one tick;
//! - tasks of one address space (threads sharing a guest) never run at once:
//!   a task whose group is on a vCPU is passed over until it leaves, and
//!   the tick asks that vCPU's task to stop for it (timers due fire before
//!   the stopped task is queued again, so a woken sibling goes first);
//! - a vCPU with nothing to run sleeps until a wakeup or the next timer.
//!
//! Kernel code runs under one lock (`KERNEL`, a big kernel lock): a vCPU
//! holds it whenever it runs kernel code, for itself or for a task, and a
//! task lets go of it only while its guest runs (`guest_unlocked`). Guest
//! code runs in parallel on every vCPU; system calls, faults and signals
//! are handled one at a time. That keeps `sleep(chan)` simple, as in xv6
//! and Plan 9: the caller checks its condition and sleeps, and no wakeup
//! can come in between, since wakeups come from kernel code too; the task
//! checks again when it wakes (wakeups may be spurious: a signal also
//! wakes a task). With one vCPU the lock is not even taken.
//!
//! A task may resume on another vCPU, that is another host thread: nothing
//! host-thread-local may be kept across a switch. `current()` reads the
//! vCPU number afresh each time.
//!
//! With `swtch.rs`, this is where the kernel switches stacks: its unsafe
//! blocks hand stack pointers to `swtch`.
#![allow(unsafe_code)]

use crate::swtch::{swtch, KernelStack};
use parking_lot::lock_api::RawMutex as _;
use parking_lot::{Condvar, Mutex, RawMutex};
use std::cell::Cell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};

/// A value that only kernel code touches, kept where any vCPU's kernel
/// code may find it although it is not `Send` (an open file description
/// in flight in a socket's message, which holds `Rc`s).
pub struct KernelOnly<T>(T);

impl<T> KernelOnly<T> {
    pub fn new(v: T) -> KernelOnly<T> {
        KernelOnly(v)
    }

    /// The value itself.
    pub fn get(&self) -> &T {
        &self.0
    }

    /// Take the value out.
    pub fn into_inner(self) -> T {
        self.0
    }
}

// SAFETY: kernel code runs under the kernel lock, one vCPU at a time (see
// the module comment), and only kernel code reaches the value: no two host
// threads ever use it at once. Tasks' own state (their descriptors, which
// hold the same kind of values) moves between vCPUs on the same ground.
unsafe impl<T> Send for KernelOnly<T> {}

/// What a sleeping task waits for: any number both sides agree on
/// (usually the address of the thing waited on).
pub type WaitChan = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Runnable,
    Running,
    Sleeping(WaitChan),
    Exited,
}

struct Task {
    state: State,
    /// In the run queue.
    queued: bool,
    /// The vCPU that queued it, and when.
    home: usize,
    since: std::time::Instant,
    /// Tasks of one group (one address space) never run at once.
    group: u64,
    /// Preempts the guest the task runs.
    preempt: Option<vx_core::PreemptHandle>,
    /// The saved stack pointer while it is not running.
    rsp: u64,
    _stack: KernelStack,
    /// The vCPU it last ran on, and its switches away from it: it slept
    /// (voluntary) or was preempted or yielded (nonvoluntary), as Linux's
    /// nvcsw and nivcsw.
    last_cpu: usize,
    voluntary: u64,
    nonvoluntary: u64,
}

/// One vCPU's part of the scheduler.
struct Cpu {
    /// The task it runs.
    current: Option<u32>,
    /// Its loop's own stack pointer while a task runs.
    rsp: Box<u64>,
    /// Time it has spent running tasks, and since when it runs the
    /// current one (for /dev/kinfo's busy and idle).
    busy: std::time::Duration,
    since: std::time::Instant,
}

struct Sched {
    tasks: HashMap<u32, Box<Task>>,
    queue: VecDeque<u32>,
    cpus: Vec<Cpu>,
    /// Groups with a task on a vCPU.
    busy: HashSet<u64>,
    /// vCPUs waiting for work.
    idle: usize,
    /// Every task sleeps and nothing can wake them.
    stuck: bool,
}

static SCHED: Mutex<Option<Sched>> = Mutex::new(None);
/// Signalled when a task becomes runnable (or the machine is stuck).
static WORK: Condvar = Condvar::new();

/// The big kernel lock, taken only with more than one vCPU.
static KERNEL: RawMutex = RawMutex::INIT;
static SMP: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The vCPU this host thread is (`NO_CPU` for other host threads).
    static CPU: Cell<usize> = const { Cell::new(NO_CPU) };
}

/// What `cpu()` says on a host thread that is no vCPU.
const NO_CPU: usize = usize::MAX;

fn cpu() -> usize {
    CPU.with(|c| c.get())
}

/// The vCPU the caller runs on (0 on a host thread that is none).
pub fn this_cpu() -> usize {
    match cpu() {
        NO_CPU => 0,
        n => n,
    }
}

fn with<T>(f: impl FnOnce(&mut Sched) -> T) -> T {
    let mut g = SCHED.lock();
    f(sched_of(&mut g))
}

fn sched_of(g: &mut Option<Sched>) -> &mut Sched {
    g.get_or_insert_with(|| Sched {
        tasks: HashMap::new(),
        queue: VecDeque::new(),
        cpus: vec![Cpu {
            current: None,
            rsp: Box::new(0),
            busy: std::time::Duration::ZERO,
            since: std::time::Instant::now(),
        }],
        busy: HashSet::new(),
        idle: 0,
        stuck: false,
    })
}

/// Set the number of vCPUs (before any runs).
pub fn set_cpus(n: usize) {
    let n = n.max(1);
    SMP.store(n > 1, Ordering::Release);
    with(|s| {
        while s.cpus.len() < n {
            s.cpus.push(Cpu {
                current: None,
                rsp: Box::new(0),
                busy: std::time::Duration::ZERO,
                since: std::time::Instant::now(),
            });
        }
    });
}

/// The number of vCPUs.
pub fn cpus() -> usize {
    with(|s| s.cpus.len())
}

fn kernel_lock() {
    if SMP.load(Ordering::Acquire) {
        KERNEL.lock();
    }
}

fn kernel_unlock() {
    if SMP.load(Ordering::Acquire) {
        // SAFETY: this host thread took the lock (every vCPU holds it while
        // it runs kernel code; see the module comment).
        unsafe { KERNEL.unlock() };
    }
}

/// Take the kernel lock even with one vCPU: host threads other than the
/// vCPUs (the FUSE export's) will run kernel code too. Call before any
/// vCPU runs.
pub fn share_kernel() {
    SMP.store(true, Ordering::Release);
}

/// The kernel lock, held by a host thread that is no vCPU (the FUSE
/// export's): kernel code it runs is then as safe as a task's. Dropping
/// it lets go of the lock.
pub struct HostKernel(());

impl HostKernel {
    /// Take the kernel lock on this (non-vCPU) host thread; None once vxos
    /// is stopping, since its first vCPU then keeps the lock for good.
    pub fn enter() -> Option<HostKernel> {
        debug_assert!(cpu() == NO_CPU, "a vCPU already holds the kernel lock");
        host_lock().then_some(HostKernel(()))
    }
}

impl Drop for HostKernel {
    fn drop(&mut self) {
        if HOST_HELD.with(|h| h.replace(false)) {
            // SAFETY: HOST_HELD says this thread holds the lock.
            unsafe { KERNEL.unlock() };
        }
    }
}

thread_local! {
    /// This host thread (no vCPU) holds the kernel lock through a HostKernel.
    static HOST_HELD: Cell<bool> = const { Cell::new(false) };
}

/// Take the kernel lock for a host thread; false once vxos is stopping.
fn host_lock() -> bool {
    use parking_lot::lock_api::RawMutexTimed as _;
    loop {
        if STOPPING.load(Ordering::Acquire) {
            return false;
        }
        if KERNEL.try_lock_for(std::time::Duration::from_millis(50)) {
            if STOPPING.load(Ordering::Acquire) {
                // SAFETY: this thread took the lock just now.
                unsafe { KERNEL.unlock() };
                return false;
            }
            HOST_HELD.with(|h| h.set(true));
            return true;
        }
    }
}

/// A count that every `wakeup` moves: read it before checking a
/// condition, then `block` until it moves.
pub fn events() -> u64 {
    HOST_EVENTS.load(Ordering::SeqCst)
}

/// Wait for a wakeup on `chan`, from kernel code that found nothing to
/// do: a task sleeps; a host thread holding the kernel lock (HostKernel)
/// lets go of it until a wakeup after `seen` (see `events`) or a short
/// while. False when the wait must end instead: a signal came for the
/// task, or vxos is stopping (the host thread then no longer holds the
/// lock). Callers check their condition again after it.
pub fn block(chan: WaitChan, seen: u64) -> bool {
    if cpu() != NO_CPU {
        sleep(chan);
        let id = current();
        return crate::proctab::get(id).is_none_or(|e| e.pending == 0);
    }
    if !HOST_HELD.with(|h| h.replace(false)) {
        return false;
    }
    // SAFETY: HOST_HELD said this thread holds the lock.
    unsafe { KERNEL.unlock() };
    HOST_WAITERS.fetch_add(1, Ordering::SeqCst);
    {
        let mut g = HOST_LOCK.lock();
        if HOST_EVENTS.load(Ordering::SeqCst) == seen {
            HOST_EVENT.wait_for(&mut g, std::time::Duration::from_millis(100));
        }
    }
    HOST_WAITERS.fetch_sub(1, Ordering::SeqCst);
    host_lock()
}

/// Host threads waiting in `block`, and the count of wakeups they wait
/// to change.
static HOST_WAITERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static HOST_EVENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static HOST_LOCK: Mutex<()> = Mutex::new(());
static HOST_EVENT: Condvar = Condvar::new();

/// Whether the caller is a task (kernel code that may `sleep`).
pub fn in_task() -> bool {
    let c = cpu();
    c != NO_CPU && with(|s| s.cpus.get(c).is_some_and(|c| c.current.is_some()))
}

/// Run `f` (the guest) without the kernel lock, so that other vCPUs can
/// run kernel code meanwhile; `f` must not touch kernel state shared with
/// other tasks.
pub fn guest_unlocked<T>(f: impl FnOnce() -> T) -> T {
    struct Relock;
    impl Drop for Relock {
        fn drop(&mut self) {
            kernel_lock();
        }
    }
    kernel_unlock();
    let _relock = Relock;
    f()
}

type Entry = Box<dyn FnOnce()>;

extern "C" fn task_main(arg: *mut u8) -> ! {
    // SAFETY: `arg` is the Box that `spawn` leaked for this stack's first
    // and only start.
    let f: Box<Entry> = unsafe { Box::from_raw(arg as *mut Entry) };
    // A panic in a task's kernel code ends that task, not vxos, and never
    // unwinds across the switched stack.
    if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        let what = e
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| e.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let id = current();
        eprintln!("vxos: kernel error in task {id}: {what}; its process is killed");
        crate::proctab::task_died(id);
    }
    exit_current()
}

/// Start a task with id `id` (a pid) in group `group` (tasks of a group
/// never run at once: give threads of one address space the same group)
/// running `f` on a kernel stack of its own; it runs when a vCPU picks it.
pub fn spawn(id: u32, group: u64, f: impl FnOnce() + 'static) -> std::io::Result<()> {
    let arg = Box::into_raw(Box::new(Box::new(f) as Entry)) as *mut u8;
    let (stack, rsp) = KernelStack::new(task_main, arg)?;
    with(|s| {
        let t = Task {
            state: State::Runnable,
            queued: true,
            home: cpu(),
            since: std::time::Instant::now(),
            group,
            preempt: None,
            rsp,
            _stack: stack,
            last_cpu: 0,
            voluntary: 0,
            nonvoluntary: 0,
        };
        s.tasks.insert(id, Box::new(t));
        s.queue.push_back(id);
        notify(s);
    });
    Ok(())
}

/// Wake an idle vCPU for a task that became runnable, if it is one that
/// no running vCPU will come back for (see `STEAL_AFTER`): the tick wakes
/// idle vCPUs for the others when their wait runs out.
fn notify(s: &Sched) {
    if s.idle > 0 && (s.idle == s.cpus.len() || cpu() == NO_CPU) {
        WORK.notify_one();
    }
}

/// How long a runnable task waits for the vCPU that made it runnable
/// before another vCPU may take it. The waker usually sleeps soon (a
/// pipe write then a read, fork then wait): then the task runs where its
/// data is warm, with no host thread to wake. A task that waits longer
/// than this runs in parallel.
const STEAL_AFTER: std::time::Duration = std::time::Duration::from_micros(200);

/// When vCPU `c` may take a task it did not wake: the earliest time a
/// queued task's wait runs out.
fn steal_at(s: &Sched, c: usize) -> Option<std::time::Instant> {
    s.queue
        .iter()
        .filter_map(|id| s.tasks.get(id))
        .filter(|t| t.state == State::Runnable && t.home != c && t.home != NO_CPU && !s.busy.contains(&t.group))
        .map(|t| t.since + STEAL_AFTER)
        .min()
}

/// Put runnable task `id` in the run queue (once).
fn enqueue(s: &mut Sched, id: u32) {
    if let Some(t) = s.tasks.get_mut(&id) {
        if !t.queued {
            t.queued = true;
            t.home = cpu();
            t.since = std::time::Instant::now();
            s.queue.push_back(id);
            notify(s);
        }
    }
}

/// The task running now on this vCPU (0 outside any task).
pub fn current() -> u32 {
    let c = cpu();
    with(|s| s.cpus.get(c).and_then(|c| c.current).unwrap_or(0))
}

/// Move the current task to group `group` (it has a new address space).
pub fn set_group(group: u64) {
    let c = cpu();
    with(|s| {
        let Some(id) = s.cpus[c].current else { return };
        let t = s.tasks.get_mut(&id).expect("current task");
        s.busy.remove(&t.group);
        t.group = group;
        s.busy.insert(group);
    });
}

/// Switch from the current task back to its vCPU's loop, leaving the
/// task in `state`.
fn switch_out(state: State) {
    switch_out_if(state, || true);
}

/// `switch_out` if `still` (asked under the scheduler's lock) says so.
fn switch_out_if(state: State, still: impl FnOnce() -> bool) {
    let c = cpu();
    let Some((save, to)) = with(|s| {
        if !still() {
            return None;
        }
        let id = s.cpus[c].current.expect("switch_out outside a task");
        let t = s.tasks.get_mut(&id).expect("current task");
        t.state = state;
        Some((&mut t.rsp as *mut u64, *s.cpus[c].rsp))
    }) else {
        return;
    };
    // SAFETY: `save` points into the task's boxed record, which lives
    // until the task has exited and been switched away from; `to` is the
    // vCPU loop's stack saved when it switched to us. No other vCPU takes
    // the task before its loop is back (its group stays busy till then).
    unsafe { swtch(save, to) };
}

/// Give the vCPU to the next runnable task; run again later.
pub fn yield_now() {
    switch_out(State::Runnable);
}

/// Wait for `wakeup(chan)` (or a signal).
pub fn sleep(chan: WaitChan) {
    switch_out(State::Sleeping(chan));
}

/// Sleep on `chan` unless `still_wait` (asked under the scheduler's lock)
/// says there is no need: for waits on events from outside the kernel
/// lock (a host thread), whose `wakeup` cannot fall between the caller's
/// check and its sleep.
pub fn sleep_if(chan: WaitChan, still_wait: impl FnOnce() -> bool) {
    switch_out_if(State::Sleeping(chan), still_wait);
}

/// Make idle vCPUs look at the queue and the timers again.
pub fn kick_idle() {
    if SCHED.lock().as_ref().is_some_and(|s| s.idle > 0) {
        WORK.notify_all();
    }
}

/// Set once vxos is to stop: every vCPU leaves its loop.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Stop every vCPU: idle ones wake, running guests are preempted, and each
/// loop returns (vxos is ending).
pub fn stop() {
    STOPPING.store(true, Ordering::Release);
    let hs: Vec<vx_core::PreemptHandle> = with(|s| {
        s.cpus
            .iter()
            .filter_map(|c| c.current.and_then(|id| s.tasks.get(&id)).and_then(|t| t.preempt.clone()))
            .collect()
    });
    for h in hs {
        h.request();
    }
    WORK.notify_all();
}

/// Host threads that may wake tasks (the console's reader): while there
/// are any, tasks that all sleep are not stuck.
static EXTERNAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Count a host thread that may wake tasks from now on.
pub fn add_external() {
    EXTERNAL.fetch_add(1, Ordering::AcqRel);
}

/// Make every task sleeping on `chan` runnable, and let host threads
/// waiting in `host_wait` look again.
pub fn wakeup(chan: WaitChan) {
    HOST_EVENTS.fetch_add(1, Ordering::SeqCst);
    if HOST_WAITERS.load(Ordering::SeqCst) > 0 {
        let _g = HOST_LOCK.lock();
        HOST_EVENT.notify_all();
    }
    let woken = with(|s| {
        let ids: Vec<u32> = s.tasks.iter().filter(|(_, t)| t.state == State::Sleeping(chan)).map(|(&i, _)| i).collect();
        for &id in &ids {
            s.tasks.get_mut(&id).unwrap().state = State::Runnable;
            enqueue(s, id);
        }
        ids
    });
    if crate::trace::on(crate::trace::SCHED) {
        for id in woken {
            crate::trace::wakeup(id, chan);
        }
    }
}

/// Count the tasks: all, running, runnable and sleeping (for /dev/kinfo).
pub fn task_counts() -> [usize; 4] {
    with(|s| {
        let mut n = [s.tasks.len(), 0, 0, 0];
        for t in s.tasks.values() {
            match t.state {
                State::Running => n[1] += 1,
                State::Runnable => n[2] += 1,
                State::Sleeping(_) => n[3] += 1,
                State::Exited => {}
            }
        }
        n
    })
}

/// What /proc shows of a task: its state letter (R running or
/// runnable, S sleeping), the vCPU it last ran on, and its voluntary and
/// nonvoluntary context switches.
pub fn task_info(id: u32) -> Option<(char, usize, u64, u64)> {
    with(|s| {
        let t = s.tasks.get(&id)?;
        let st = if matches!(t.state, State::Sleeping(_)) { 'S' } else { 'R' };
        Some((st, t.last_cpu, t.voluntary, t.nonvoluntary))
    })
}

/// Each vCPU's task (0 when idle) and the time it has spent running
/// tasks.
pub fn cpu_info() -> Vec<(u32, std::time::Duration)> {
    with(|s| {
        s.cpus
            .iter()
            .map(|c| match c.current {
                Some(id) => (id, c.busy + c.since.elapsed()),
                None => (0, c.busy),
            })
            .collect()
    })
}

/// Wake task `id` if it sleeps, whatever it waits for, or make it leave
/// its guest soon if it runs (a signal came).
pub fn interrupt(id: u32) {
    with(|s| {
        let Some(t) = s.tasks.get_mut(&id) else { return };
        match t.state {
            State::Sleeping(chan) => {
                t.state = State::Runnable;
                enqueue(s, id);
                if crate::trace::on(crate::trace::SCHED) {
                    crate::trace::interrupted(id, chan);
                }
            }
            State::Running => {
                if let Some(h) = &t.preempt {
                    h.request();
                }
            }
            _ => {}
        }
    });
}

/// End the current task for good.
pub fn exit_current() -> ! {
    switch_out(State::Exited);
    unreachable!("an exited task was resumed");
}

/// Note the guest the current task runs, for preemption.
pub fn set_preempt(h: Option<vx_core::PreemptHandle>) {
    let c = cpu();
    with(|s| {
        if let Some(t) = s.cpus[c].current.and_then(|id| s.tasks.get_mut(&id)) {
            t.preempt = h;
        }
    });
}

/// Whether vCPU `c` could take a queued task now.
fn ready_for(s: &Sched, c: usize) -> bool {
    let now = std::time::Instant::now();
    s.queue.iter().any(|id| {
        s.tasks.get(id).is_some_and(|t| {
            t.state == State::Runnable
                && !s.busy.contains(&t.group)
                && (t.home == c || t.home == NO_CPU || now >= t.since + STEAL_AFTER)
        })
    })
}

/// Whether a queued task could run now (its group is not on a vCPU).
fn ready(s: &Sched) -> bool {
    s.queue.iter().any(|id| s.tasks.get(id).is_some_and(|t| t.state == State::Runnable && !s.busy.contains(&t.group)))
}

/// The tick: wake idle vCPUs for tasks they may take now; else ask each
/// vCPU's guest to stop at its next block if another task waits to run or
/// a timer is due.
pub fn preempt_current() {
    let timer_due = crate::timers::due();
    let hs: Vec<vx_core::PreemptHandle> = with(|s| {
        let now = std::time::Instant::now();
        let stealable = steal_at(s, NO_CPU).is_some_and(|t| t <= now)
            || s.queue.iter().any(|id| s.tasks.get(id).is_some_and(|t| t.state == State::Runnable && t.home == NO_CPU));
        if s.idle > 0 && (stealable || timer_due) {
            // An idle vCPU takes the waiting task (or fires the timer).
            WORK.notify_all();
            return Vec::new();
        }
        let anyone = timer_due || ready(s);
        // A task waiting for its own group (a thread whose sibling holds
        // the address space) needs that sibling off its vCPU: its group
        // is busy, so `ready` does not count it.
        let waiting: HashSet<u64> = s
            .queue
            .iter()
            .filter_map(|id| s.tasks.get(id))
            .filter(|t| t.state == State::Runnable)
            .map(|t| t.group)
            .collect();
        s.cpus
            .iter()
            .filter_map(|c| c.current.and_then(|id| s.tasks.get(&id)))
            .filter(|t| anyone || waiting.contains(&t.group))
            .filter_map(|t| t.preempt.clone())
            .collect()
    });
    for h in hs {
        h.request();
    }
}

/// CPU time this host thread (the vCPU) has used.
fn thread_cpu() -> std::time::Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Take the first queued task that can run now: it is this vCPU's.
fn pick(s: &mut Sched, c: usize) -> Option<(*mut u64, u64)> {
    let now = std::time::Instant::now();
    let mut k = 0;
    while k < s.queue.len() {
        let id = s.queue[k];
        let Some(t) = s.tasks.get_mut(&id) else {
            s.queue.remove(k);
            continue;
        };
        if t.state != State::Runnable {
            t.queued = false;
            s.queue.remove(k);
            continue;
        }
        if s.busy.contains(&t.group) || (t.home != c && t.home != NO_CPU && now < t.since + STEAL_AFTER) {
            k += 1;
            continue;
        }
        s.queue.remove(k);
        t.queued = false;
        t.state = State::Running;
        t.last_cpu = c;
        s.busy.insert(t.group);
        s.cpus[c].current = Some(id);
        s.cpus[c].since = now;
        return Some((&mut *s.cpus[c].rsp as *mut u64, t.rsp));
    }
    None
}

/// Run vCPU `c` (0 for the first) on this host thread: run tasks until
/// `done` says to stop or none is left. Returns false if tasks remain that
/// all sleep (nothing can wake them).
pub fn run_cpu(c: usize, done: impl Fn() -> bool) -> bool {
    CPU.with(|x| x.set(c));
    kernel_lock();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cpu_loop(c, &done)));
    let Ok(r) = r else {
        // The loop itself failed (not a task's kernel code): the kernel
        // lock may be held with no one to let go of it. End vxos.
        eprintln!("vxos: vCPU {c}: scheduler error; stopping");
        crate::tty::restore();
        std::process::abort();
    };
    // Ending (done, or stuck): every vCPU leaves its loop. The first keeps
    // the kernel lock, so no kernel code runs on while vxos exits.
    stop();
    if c != 0 || !SMP.load(Ordering::Acquire) {
        kernel_unlock();
    }
    r
}

/// Run the first vCPU on this thread (see `run_cpu`).
pub fn run(done: impl Fn() -> bool) -> bool {
    run_cpu(0, done)
}

fn cpu_loop(c: usize, done: &impl Fn() -> bool) -> bool {
    loop {
        if done() || STOPPING.load(Ordering::Acquire) {
            return !sched_of(&mut SCHED.lock()).stuck;
        }
        crate::timers::fire();
        let Some((save, to)) = with(|s| pick(s, c)) else {
            // Nothing to run here: stop if every task is gone, else idle
            // until a wakeup or the next timer (unless a timer that just
            // came due woke one).
            let next_timer = crate::timers::fire();
            let mut g = SCHED.lock();
            let s = sched_of(&mut g);
            if s.tasks.is_empty() {
                return true;
            }
            if s.stuck {
                return false;
            }
            if ready_for(s, c) {
                continue;
            }
            let running = s.cpus.iter().any(|c| c.current.is_some());
            let runnable = s.tasks.values().any(|t| t.state == State::Runnable);
            let external = EXTERNAL.load(Ordering::Acquire) > 0;
            if next_timer.is_none() && !running && !runnable && !external && s.idle + 1 == s.cpus.len() {
                // Every vCPU idles, no task can run and no timer will fire.
                s.stuck = true;
                WORK.notify_all();
                return false;
            }
            s.idle += 1;
            kernel_unlock();
            let limit = std::time::Instant::now() + std::time::Duration::from_millis(100);
            let until = [next_timer, steal_at(s, c)].into_iter().flatten().fold(limit, |a, b| a.min(b));
            WORK.wait_until(&mut g, until);
            sched_of(&mut g).idle -= 1;
            drop(g);
            kernel_lock();
            continue;
        };
        let tracing = crate::trace::on(crate::trace::SCHED | crate::trace::TIMELINE);
        if tracing {
            if let Some(id) = with(|s| s.cpus[c].current) {
                crate::trace::sched_in(id, c);
            }
        }
        crate::devkinfo::count_switch();
        let started = thread_cpu();
        // SAFETY: `to` was saved by the task's last switch_out (or made by
        // KernelStack::new) and nothing runs on it; `save` is this vCPU's
        // boxed slot.
        unsafe { swtch(save, to) };
        let used = thread_cpu().saturating_sub(started);
        // Timers that came due (the likely reason the task was stopped)
        // wake their sleepers first, so they queue ahead of it.
        crate::timers::fire();
        let (id, state) = with(|s| {
            let id = s.cpus[c].current.take().expect("a task ran");
            let ran = s.cpus[c].since.elapsed();
            s.cpus[c].busy += ran;
            let t = s.tasks.get_mut(&id).expect("the task that ran");
            let state = t.state;
            match state {
                State::Sleeping(_) => t.voluntary += 1,
                State::Runnable => t.nonvoluntary += 1,
                _ => {}
            }
            s.busy.remove(&t.group);
            match state {
                State::Runnable => enqueue(s, id),
                // Off its stack for good: free it.
                State::Exited => {
                    s.tasks.remove(&id);
                    if s.tasks.is_empty() {
                        WORK.notify_all();
                    }
                }
                _ => {}
            }
            // Its group's other tasks may run now.
            if ready(s) {
                notify(s);
            }
            (id, state)
        });
        if tracing {
            let how = match state {
                State::Sleeping(chan) => crate::trace::Off::Sleeping(chan),
                State::Exited => crate::trace::Off::Exited,
                _ => crate::trace::Off::Runnable,
            };
            crate::trace::sched_out(id, c, how, used);
        }
        crate::proctab::charge(id, used);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Tasks take turns in order, a sleeper runs again only after its
    /// wakeup, and the loop ends when every task has exited.
    #[test]
    fn round_robin_sleep_and_wakeup() {
        let log = Rc::new(RefCell::new(Vec::new()));
        const CHAN: WaitChan = 0x7e57;
        let l = log.clone();
        spawn(9001, 9001, move || {
            l.borrow_mut().push("a1");
            sleep(CHAN);
            l.borrow_mut().push("a2");
        })
        .unwrap();
        let l = log.clone();
        spawn(9002, 9002, move || {
            l.borrow_mut().push("b1");
            yield_now();
            l.borrow_mut().push("b2");
            wakeup(CHAN);
            l.borrow_mut().push("b3");
        })
        .unwrap();
        let l = log.clone();
        spawn(9003, 9003, move || {
            l.borrow_mut().push("c1");
            // A task's kernel code may panic: the task ends, not the loop.
            panic!("a task's kernel error");
        })
        .unwrap();
        assert!(run(|| false), "every task ended");
        assert_eq!(*log.borrow(), ["a1", "b1", "c1", "b2", "b3", "a2"]);
    }
}
