//! What the threads of a process share: its address space (the guest's
//! window, translations and memory map), its descriptors and its signal
//! actions, each held through a `Shared` handle.
//!
//! Threads are tasks. Two rules of the scheduler (`sched.rs`) make the
//! handles safe: kernel code runs under the kernel lock, one vCPU at a
//! time, and tasks of one address space (one group) never run at once, so
//! the guest code that runs outside the lock touches nothing another
//! running task uses. And no reference obtained through a handle is kept
//! across a task switch (`sched::sleep`, `yield_now`), since another
//! thread may change the state meanwhile: the kernel derefs afresh after
//! every call that may sleep. The CPU state in the shared guest belongs to
//! whichever thread ran last: `Cpus` swaps it. (Running threads of one
//! process on several vCPUs at once needs the translator's address space
//! and CPU state apart.)
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

/// State shared by the threads of a process.
pub struct Shared<T>(Rc<UnsafeCell<T>>);

impl<T> Shared<T> {
    pub fn new(v: T) -> Shared<T> {
        Shared(Rc::new(UnsafeCell::new(v)))
    }

    /// A number naming the state (for futex keys).
    pub fn id(&self) -> usize {
        Rc::as_ptr(&self.0) as *const () as usize
    }

    /// How many threads hold it.
    pub fn holders(&self) -> usize {
        Rc::strong_count(&self.0)
    }

    /// The state itself, if this is its last handle.
    pub fn into_inner(self) -> Option<T> {
        Rc::try_unwrap(self.0).ok().map(UnsafeCell::into_inner)
    }
}

impl<T> Clone for Shared<T> {
    /// Another handle on the same state (for a new thread).
    fn clone(&self) -> Shared<T> {
        Shared(self.0.clone())
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: only one running task of the group uses the state, under
        // the kernel lock or alone with its own guest, and no reference
        // lives across a task switch (see the module comment).
        unsafe { &*self.0.get() }
    }
}

impl<T> DerefMut for Shared<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`: one running task of the group at a time,
        // no reference kept across a switch, and the handle is borrowed
        // mutably.
        unsafe { &mut *self.0.get() }
    }
}

/// The owner of a guest CPU state that belongs to no thread any more.
const GONE: u32 = u32::MAX;

/// Which thread's CPU state the shared guest holds, and the others'.
#[derive(Default)]
pub struct Cpus {
    owner: Cell<u32>,
    saved: RefCell<HashMap<u32, vx_core::CpuSnapshot>>,
}

impl Cpus {
    /// A set whose guest holds thread `tid`'s state.
    pub fn new(tid: u32) -> Cpus {
        Cpus { owner: Cell::new(tid), saved: RefCell::new(HashMap::new()) }
    }

    /// Make the guest hold thread `tid`'s CPU state, saving the state of
    /// the thread it held.
    #[inline]
    pub fn take(&self, guest: &mut vx_core::Guest, tid: u32) {
        if self.owner.get() != tid {
            self.switch(guest, tid);
        }
    }

    fn switch(&self, guest: &mut vx_core::Guest, tid: u32) {
        let owner = self.owner.get();
        let mut saved = self.saved.borrow_mut();
        if owner != GONE {
            saved.insert(owner, guest.save_cpu());
        }
        if let Some(s) = saved.remove(&tid) {
            guest.load_cpu(&s);
        }
        self.owner.set(tid);
    }

    /// Add a new thread whose CPU starts as `s`.
    pub fn add(&self, tid: u32, s: vx_core::CpuSnapshot) {
        self.saved.borrow_mut().insert(tid, s);
    }

    /// Forget a thread that left (exited, or exec'd into a space of its
    /// own); the guest's CPU state it held is nobody's now.
    pub fn remove(&self, tid: u32) {
        self.saved.borrow_mut().remove(&tid);
        if self.owner.get() == tid {
            self.owner.set(GONE);
        }
    }
}
