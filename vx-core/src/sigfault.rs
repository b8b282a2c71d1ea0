//! Host fault handlers: turn a SIGSEGV, SIGBUS, SIGFPE or SIGILL raised by
//! translated code into a precise guest trap.
//!
//! The handler runs on the alternate signal stack. If the faulting host
//! address is not in a code cache, the fault is the host's own and goes to
//! the handler that was installed before ours (Rust's stack-overflow
//! handler, or the default action). Otherwise `r15` holds the vCPU state
//! block: the handler stores the guest registers (the low halves of the host
//! registers that hold them), the guest eip of the faulting instruction
//! (from the block index) and the fault details there, then resumes at
//! `vx_fault_exit`, which returns from `vx_enter`. No allocation, no locks.

use crate::cache::{in_any_cache, BlockIndex};
use crate::cpu::fault_exit_addr;
use crate::state::*;
use std::sync::Once;

static INSTALL: Once = Once::new();
static mut OLD: [libc::sigaction; 4] = [const { unsafe_zeroed_sigaction() }; 4];
const SIGNALS: [libc::c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL];

const fn unsafe_zeroed_sigaction() -> libc::sigaction {
    // SAFETY: sigaction is plain data; all-zero is SIG_DFL with no flags.
    unsafe { std::mem::zeroed() }
}

/// Install the fault handlers once per process, and an alternate signal
/// stack for the calling thread.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: installing a handler with a correct signature; the old
            // action is saved before anything can read it.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_fault as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
                libc::sigemptyset(&mut sa.sa_mask);
                let old = std::ptr::addr_of_mut!(OLD[i]);
                libc::sigaction(sig, &sa, old);
            }
        }
    });
    ensure_altstack();
}

thread_local! {
    static ALTSTACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Give this thread an alternate signal stack if it has none.
pub(crate) fn ensure_altstack() {
    ALTSTACK.with(|done| {
        if done.get() {
            return;
        }
        // SAFETY: querying and setting this thread's sigaltstack with a
        // stack we allocate and leak for the thread's lifetime.
        unsafe {
            let mut cur: libc::stack_t = std::mem::zeroed();
            libc::sigaltstack(std::ptr::null(), &mut cur);
            if cur.ss_flags & libc::SS_DISABLE != 0 || cur.ss_size < 64 * 1024 {
                let size = 256 * 1024;
                let p = libc::mmap(
                    std::ptr::null_mut(),
                    size,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                if p != libc::MAP_FAILED {
                    let st = libc::stack_t { ss_sp: p, ss_flags: 0, ss_size: size };
                    libc::sigaltstack(&st, std::ptr::null_mut());
                }
            }
        }
        done.set(true);
    });
}

/// Pass a fault that is not the guest's to the handler installed before.
///
/// # Safety
/// Called from our signal handler with its arguments.
unsafe fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let i = SIGNALS.iter().position(|&s| s == sig).unwrap_or(0);
    // SAFETY: OLD was written once in `install` before the handler existed.
    let old = unsafe { *std::ptr::addr_of!(OLD[i]) };
    let h = old.sa_sigaction;
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        // Restore the default action and return: the fault repeats and
        // kills the process as it would have without us.
        // SAFETY: resetting a signal to its default action.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
        }
    } else if old.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: calling the previous three-argument handler as it expects.
        unsafe {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = std::mem::transmute(h);
            f(sig, info, ctx);
        }
    } else {
        // SAFETY: calling the previous one-argument handler as it expects.
        unsafe {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(h);
            f(sig);
        }
    }
}

extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext and siginfo to SA_SIGINFO
    // handlers; we only touch the general register array.
    unsafe {
        let uc = &mut *(ctx as *mut libc::ucontext_t);
        let g = &mut uc.uc_mcontext.gregs;
        let rip = g[libc::REG_RIP as usize] as u64;
        if !in_any_cache(rip) {
            chain(sig, info, ctx);
            return;
        }
        // In translated code r15 is the state block of the running vCPU.
        let st = &mut *(g[libc::REG_R15 as usize] as u64 as *mut VcpuState);
        let addr = (*info).si_addr() as u64;
        if sig == libc::SIGSEGV && addr >= st.shadow_guard && addr < st.shadow_guard + 4096 {
            // The shadow stack is full (deep recursion, or calls whose
            // returns never came): empty it and retry the push.
            g[libc::REG_RSP as usize] = st.shadow_top as i64;
            return;
        }
        st.shadow_rsp = g[libc::REG_RSP as usize] as u64;
        let index = &*(st.cache_ptr as *const BlockIndex);
        let mut regs = [
            g[libc::REG_RAX as usize],
            g[libc::REG_RCX as usize],
            g[libc::REG_RDX as usize],
            g[libc::REG_RBX as usize],
            g[libc::REG_R12 as usize],
            g[libc::REG_RBP as usize],
            g[libc::REG_RSI as usize],
            g[libc::REG_RDI as usize],
        ];
        let pos = index.find(rip);
        if let Some(p) = &pos {
            // Undo register swaps made around this instruction.
            for pair in [p.swap & 0xff, p.swap >> 8] {
                if pair == 0xff {
                    continue;
                }
                let (hi, lo) = ((pair >> 4) as usize, (pair & 0xf) as usize);
                if hi == 15 {
                    // Inside a run of pushes (lo 1..7: that many done) or
                    // pops (lo 8..14: lo - 7 done) that moves esp once at
                    // its end (`Tx::emit_stack_run`).
                    let done = if lo <= 7 { -(lo as i64) } else { lo as i64 - 7 };
                    regs[ESP] = regs[ESP].wrapping_add(4 * done);
                    continue;
                }
                let host_of = |n: usize| -> i64 {
                    match n {
                        12 => g[libc::REG_R12 as usize],
                        13 => g[libc::REG_R13 as usize],
                        14 => g[libc::REG_R14 as usize],
                        _ => 0,
                    }
                };
                let lo_slot = lo;
                let hi_val = host_of(hi);
                let lo_val = regs[lo_slot];
                regs[lo_slot] = hi_val;
                if hi == 12 {
                    regs[ESP] = lo_val;
                }
            }
        }
        for (i, r) in regs.iter().enumerate() {
            st.regs[i] = *r as u32;
        }
        st.eflags = g[libc::REG_EFL as usize] as u32;
        st.eip = pos.as_ref().map(|p| p.eip).unwrap_or(0);
        st.fault = FaultInfo {
            signo: sig,
            code: (*info).si_code,
            host_addr: addr,
            trapno: g[libc::REG_TRAPNO as usize] as u64,
            err: g[libc::REG_ERR as usize] as u64,
        };
        let poll = g[libc::REG_R15 as usize] as u64 - 4096;
        st.exit_reason =
            if sig == libc::SIGSEGV && addr >= poll && addr < poll + 4096 { exit::PREEMPT } else { exit::FAULT };
        if pos.is_none() {
            // A fault in a stub or lookup sequence: a translator bug. Make it
            // a guest SIGSEGV at an unknown eip rather than crash the host.
            st.fault.signo = libc::SIGSEGV;
            st.fault.code = 0x80;
        }
        g[libc::REG_RIP as usize] = fault_exit_addr() as i64;
        g[libc::REG_RSP as usize] = st.host_rsp as i64;
    }
}
