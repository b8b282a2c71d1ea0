//! The scheduler: tasks, the run queue, sleep and wakeup.
//!
//! A task is a kernel stack running a closure (for a process: the loop
//! that runs its guest and handles its traps). The vCPU loop (`run`) picks
//! the first runnable task from the run queue and switches to its stack;
//! the task runs until it sleeps, yields or exits, which switches back.
//! The policy is round robin: a task that yields or is preempted goes to
//! the back of the queue; one that wakes up too.
//!
//! `sleep(chan)` waits for `wakeup(chan)`, as in xv6 and Plan 9: the
//! caller checks its condition, sleeps, and checks again when it wakes
//! (wakeups may be spurious: a signal also wakes a task). One vCPU runs
//! tasks for now, so nothing else changes the world between a check and
//! the sleep.
//!
//! With `swtch.rs`, this is where the kernel switches stacks: its unsafe
//! blocks hand stack pointers to `swtch`.
#![allow(unsafe_code)]

use crate::swtch::{swtch, KernelStack};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};

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
    /// Preempts the guest the task runs.
    preempt: Option<vx_core::PreemptHandle>,
    /// The saved stack pointer while it is not running.
    rsp: u64,
    _stack: KernelStack,
}

struct Sched {
    tasks: HashMap<u32, Box<Task>>,
    queue: VecDeque<u32>,
    current: Option<u32>,
    /// The vCPU loop's own stack pointer while a task runs.
    vcpu_rsp: Box<u64>,
}

static SCHED: Mutex<Option<Sched>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut Sched) -> T) -> T {
    let mut g = SCHED.lock();
    let s = g.get_or_insert_with(|| Sched {
        tasks: HashMap::new(),
        queue: VecDeque::new(),
        current: None,
        vcpu_rsp: Box::new(0),
    });
    f(s)
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

/// Start a task with id `id` (a pid) running `f` on a kernel stack of its
/// own; it runs when the vCPU loop picks it.
pub fn spawn(id: u32, f: impl FnOnce() + 'static) -> std::io::Result<()> {
    let arg = Box::into_raw(Box::new(Box::new(f) as Entry)) as *mut u8;
    let (stack, rsp) = KernelStack::new(task_main, arg)?;
    with(|s| {
        s.tasks.insert(id, Box::new(Task { state: State::Runnable, preempt: None, rsp, _stack: stack }));
        s.queue.push_back(id);
    });
    Ok(())
}

/// The task running now (0 outside any task).
pub fn current() -> u32 {
    with(|s| s.current.unwrap_or(0))
}

/// Switch from the current task back to the vCPU loop, leaving the task
/// in `state`.
fn switch_out(state: State) {
    let (save, to) = with(|s| {
        let id = s.current.expect("switch_out outside a task");
        let t = s.tasks.get_mut(&id).expect("current task");
        t.state = state;
        (&mut t.rsp as *mut u64, *s.vcpu_rsp)
    });
    // SAFETY: `save` points into the task's boxed record, which lives
    // until the task has exited and been switched away from; `to` is the
    // vCPU loop's stack saved when it switched to us.
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

/// Make every task sleeping on `chan` runnable.
pub fn wakeup(chan: WaitChan) {
    with(|s| {
        let ids: Vec<u32> = s.tasks.iter().filter(|(_, t)| t.state == State::Sleeping(chan)).map(|(&i, _)| i).collect();
        for id in ids {
            s.tasks.get_mut(&id).unwrap().state = State::Runnable;
            s.queue.push_back(id);
        }
    });
}

/// Wake task `id` if it sleeps, whatever it waits for (a signal came).
pub fn interrupt(id: u32) {
    with(|s| {
        if let Some(t) = s.tasks.get_mut(&id) {
            if let State::Sleeping(_) = t.state {
                t.state = State::Runnable;
                s.queue.push_back(id);
            }
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
    with(|s| {
        if let Some(t) = s.current.and_then(|id| s.tasks.get_mut(&id)) {
            t.preempt = h;
        }
    });
}

/// Ask the running guest to stop at its next block if another task waits
/// to run or a timer is due (from the tick).
pub fn preempt_current() {
    let timer_due = crate::timers::due();
    let h = with(|s| {
        if s.queue.is_empty() && !timer_due {
            return None;
        }
        s.current.and_then(|id| s.tasks.get(&id)).and_then(|t| t.preempt.clone())
    });
    if let Some(h) = h {
        h.request();
    }
}

/// CPU time this host thread (the vCPU) has used.
fn thread_cpu() -> std::time::Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    std::time::Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The vCPU loop: run tasks until `done` says to stop or none is left.
/// Returns false if tasks remain that all sleep (nothing can wake them).
pub fn run(done: impl Fn() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        crate::timers::fire();
        let next = with(|s| {
            while let Some(id) = s.queue.pop_front() {
                let Some(t) = s.tasks.get_mut(&id) else { continue };
                if t.state != State::Runnable {
                    continue;
                }
                t.state = State::Running;
                s.current = Some(id);
                return Some((&mut *s.vcpu_rsp as *mut u64, t.rsp));
            }
            None
        });
        let Some((save, to)) = next else {
            if with(|s| s.tasks.is_empty()) {
                return true;
            }
            // Every task sleeps: idle until the next timer, if any (unless
            // a timer that just came due woke one).
            let next_timer = crate::timers::fire();
            if with(|s| !s.queue.is_empty()) {
                continue;
            }
            match next_timer {
                Some(when) => {
                    std::thread::sleep(when.saturating_duration_since(std::time::Instant::now()));
                    continue;
                }
                None => return false,
            }
        };
        let started = thread_cpu();
        // SAFETY: `to` was saved by the task's last switch_out (or made by
        // KernelStack::new) and nothing runs on it; `save` is the vCPU
        // loop's boxed slot.
        unsafe { swtch(save, to) };
        let used = thread_cpu().saturating_sub(started);
        with(|s| {
            let id = s.current.take().expect("a task ran");
            crate::proctab::charge(id, used);
            let t = s.tasks.get(&id).expect("the task that ran");
            match t.state {
                State::Runnable => s.queue.push_back(id),
                // Off its stack for good: free it.
                State::Exited => {
                    s.tasks.remove(&id);
                }
                _ => {}
            }
        });
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
        spawn(9001, move || {
            l.borrow_mut().push("a1");
            sleep(CHAN);
            l.borrow_mut().push("a2");
        })
        .unwrap();
        let l = log.clone();
        spawn(9002, move || {
            l.borrow_mut().push("b1");
            yield_now();
            l.borrow_mut().push("b2");
            wakeup(CHAN);
            l.borrow_mut().push("b3");
        })
        .unwrap();
        let l = log.clone();
        spawn(9003, move || {
            l.borrow_mut().push("c1");
            // A task's kernel code may panic: the task ends, not the loop.
            panic!("a task's kernel error");
        })
        .unwrap();
        assert!(run(|| false), "every task ended");
        assert_eq!(*log.borrow(), ["a1", "b1", "c1", "b2", "b3", "a2"]);
    }
}
