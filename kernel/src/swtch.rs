//! Kernel stacks and the context switch between them.
//!
//! Every task runs its kernel code (the loop that runs its guest and
//! handles its system calls) on a stack of its own. A task that must wait
//! calls `swtch`, which saves the callee-saved registers (and the SSE and
//! x87 control words, which the ABI also keeps across calls) on its stack,
//! stores the stack pointer, and resumes another stack where that one
//! stopped: xv6's swtch for x86-64. A new stack starts in `vxos_task_start`,
//! which calls the task's entry function.
//!
//! With `sched.rs`, `group.rs` and `mm/frame.rs`, one of the four modules
//! that hold the kernel's unsafe code.
#![allow(unsafe_code)]

use std::arch::global_asm;

global_asm!(
    ".globl vxos_swtch",
    "vxos_swtch:",
    "push rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 8",
    "stmxcsr [rsp]",
    "fnstcw [rsp + 4]",
    "mov [rdi], rsp",
    "mov rsp, rsi",
    "ldmxcsr [rsp]",
    "fldcw [rsp + 4]",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".globl vxos_task_start",
    "vxos_task_start:",
    "mov rdi, r15",
    "call r14",
    "ud2",
);

extern "C" {
    fn vxos_swtch(save: *mut u64, to: u64);
    fn vxos_task_start();
}

/// Save the current stack pointer in `*save` and continue on the stack
/// `to` saved earlier (by `swtch` or `KernelStack::new`).
///
/// # Safety
/// `to` must be a stack pointer saved by `swtch` or made by
/// `KernelStack::new` that nothing runs on, and `save` must be valid for
/// a write.
pub unsafe fn swtch(save: *mut u64, to: u64) {
    // SAFETY: the caller guarantees both pointers; the assembly saves and
    // restores exactly the callee-saved state the ABI requires.
    unsafe { vxos_swtch(save, to) }
}

/// Size of a kernel stack: the kernel's own frames (system calls, page
/// faults, the loader) with room to spare. Host signal handlers run on
/// their own alternate stack.
const STACK_SIZE: usize = 512 * 1024;
const GUARD: usize = 4096;

/// A kernel stack: mapped memory with a guard page below it.
pub struct KernelStack {
    base: *mut u8,
    len: usize,
}

impl KernelStack {
    /// Map a stack whose first switch calls `entry(arg)` on it; return the
    /// stack and the stack pointer to switch to.
    pub fn new(entry: extern "C" fn(*mut u8) -> !, arg: *mut u8) -> std::io::Result<(KernelStack, u64)> {
        let len = STACK_SIZE + GUARD;
        let spare = SPARE_STACKS.lock().pop();
        let base = match spare {
            Some(b) => b as *mut u8,
            None => {
                // SAFETY: a fresh anonymous mapping; nothing else refers to it.
                let base = unsafe {
                    rustix::mm::mmap_anonymous(
                        std::ptr::null_mut(),
                        len,
                        rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                        rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::NORESERVE,
                    )?
                } as *mut u8;
                // SAFETY: the guard page is the lowest page of our own mapping.
                let guarded =
                    unsafe { rustix::mm::mprotect(base as *mut _, GUARD, rustix::mm::MprotectFlags::empty()) };
                if let Err(e) = guarded {
                    // SAFETY: the mapping just made, unused.
                    let _ = unsafe { rustix::mm::munmap(base as *mut _, len) };
                    return Err(e.into());
                }
                base
            }
        };
        let top = base as u64 + len as u64;
        // The frame `swtch` pops: control words, r15 (arg), r14 (entry),
        // r13, r12, rbx, rbp, and the return address.
        let frame: [u64; 8] = [
            0x037f_u64 << 32 | 0x1f80,
            arg as u64,
            entry as *const () as usize as u64,
            0,
            0,
            0,
            0,
            vxos_task_start as *const () as usize as u64,
        ];
        let sp = top - 8 * frame.len() as u64;
        // SAFETY: the frame lies in the top of the writable part of the stack.
        unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), sp as *mut u64, frame.len()) };
        Ok((KernelStack { base, len }, sp))
    }
}

// SAFETY: a kernel stack is plain memory owned by one task record; only
// the vCPU running that task uses it.
unsafe impl Send for KernelStack {}

/// Stacks of ended tasks (base addresses), kept for new ones: a fork
/// then makes no host mapping for its task, and finds the stack's pages
/// already there.
static SPARE_STACKS: parking_lot::Mutex<Vec<usize>> = parking_lot::Mutex::new(Vec::new());
/// How many stacks are kept.
const SPARES: usize = 16;

impl Drop for KernelStack {
    fn drop(&mut self) {
        let mut spares = SPARE_STACKS.lock();
        if spares.len() < SPARES {
            spares.push(self.base as usize);
            return;
        }
        drop(spares);
        // SAFETY: our own mapping, which no task runs on any more (the
        // scheduler drops a stack only after switching away for good).
        unsafe {
            let _ = rustix::mm::munmap(self.base as *mut _, self.len);
        }
    }
}
