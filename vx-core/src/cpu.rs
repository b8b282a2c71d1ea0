//! The vCPU: the state block in host memory, the poll page in front of it,
//! and the glue that enters and leaves translated code.
//!
//! `vx_enter` saves the host's callee-saved registers, loads the guest's
//! registers, flags and FPU state and jumps into the code cache. Translated
//! code leaves through `vx_exit` (guest registers live), `vx_chain_exit`
//! (a direct branch to chain) or `vx_miss_exit` (an indirect-branch table
//! miss); the fault handler leaves through `vx_fault_exit` after it saved
//! the registers itself. All of them restore the host state and return from
//! `vx_enter`. Preemption arms the poll page: every block starts by loading
//! from it, so the next block entry faults at a clean instruction boundary.
//!
//! Host register use in translated code: guest eax..edi live in rax..rdi
//! (same encoding numbers), guest esp in r12, the state block in r15, and
//! r10 the start of the code cache and r9 the indirect-branch table, and
//! r11, r13, r14 are scratch. This module is unsafe: it owns the state
//! block's memory and the assembly glue.

use crate::state::*;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

core::arch::global_asm!(
    ".globl vx_enter",
    ".p2align 4",
    "vx_enter:",
    "push rbx",
    "push rbp",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov r15, rdi",
    "mov [r15 + {host_rsp}], rsp",
    "stmxcsr [r15 + {host_mxcsr}]",
    "cmp dword ptr [r15 + {use_wrgsbase}], 0",
    "je 2f",
    "mov rax, [r15 + {win_base}]",
    "wrgsbase rax",
    "2:",
    // FPU: a guest that never used x87/MMX needs only its SSE registers;
    // the x87 unit then holds the initial state, as it always does in
    // host code (see vx_fault_exit).
    "cmp dword ptr [r15 + {x87_live}], 0",
    "jne 7f",
    "ldmxcsr [r15 + {fx} + 24]",
    "movaps xmm0, [r15 + {fx} + 160]",
    "movaps xmm1, [r15 + {fx} + 176]",
    "movaps xmm2, [r15 + {fx} + 192]",
    "movaps xmm3, [r15 + {fx} + 208]",
    "movaps xmm4, [r15 + {fx} + 224]",
    "movaps xmm5, [r15 + {fx} + 240]",
    "movaps xmm6, [r15 + {fx} + 256]",
    "movaps xmm7, [r15 + {fx} + 272]",
    "jmp 4f",
    "7:",
    "cmp dword ptr [r15 + {use_xsave}], 0",
    "je 3f",
    "mov eax, 3",
    "xor edx, edx",
    "xrstor [r15 + {fx}]",
    "jmp 4f",
    "3:",
    "fxrstor [r15 + {fx}]",
    "4:",
    // Host code (libc's memcpy) leaves the upper halves of the ymm/zmm
    // registers dirty; legacy SSE in the guest would then pay a merge on
    // every instruction. The guest only sees the low 128 bits.
    "cmp dword ptr [r15 + {use_vzeroupper}], 0",
    "je 10f",
    "vzeroupper",
    "10:",
    "mov r13, rsi",
    // Translated code runs on the shadow stack of host return points.
    "mov rsp, [r15 + {shadow_rsp}]",
    "mov eax, [r15 + {eflags}]",
    "push rax",
    "popfq",
    "mov eax, [r15 + {regs}]",
    "mov ecx, [r15 + {regs} + 4]",
    "mov edx, [r15 + {regs} + 8]",
    "mov ebx, [r15 + {regs} + 12]",
    "mov r12d, [r15 + {regs} + 16]",
    "mov ebp, [r15 + {regs} + 20]",
    "mov esi, [r15 + {regs} + 24]",
    "mov edi, [r15 + {regs} + 28]",
    "mov r10, [r15 + {code_base}]",
    "mov r9, [r15 + {ind_table}]",
    "jmp r13",
    "",
    ".globl vx_chain_exit",
    ".p2align 4",
    "vx_chain_exit:",
    "mov [r15 + {patch}], r14",
    "mov dword ptr [r15 + {reason}], {chain}",
    "jmp vx_exit",
    "",
    ".globl vx_miss_exit",
    ".p2align 4",
    "vx_miss_exit:",
    "mov [r15 + {next_eip}], r13d",
    "mov dword ptr [r15 + {reason}], {miss}",
    "jmp vx_exit",
    "",
    // Reached by `ret` through the sentinel at the top of an empty shadow
    // stack: put the sentinel back and look the target (r13d) up.
    ".globl vx_sentinel_ret",
    ".p2align 4",
    "vx_sentinel_ret:",
    "lea rsp, [rsp - 8]",
    "jmp qword ptr [r15 + {miss_ptr}]",
    "",
    ".globl vx_exit",
    ".p2align 4",
    "vx_exit:",
    "mov [r15 + {regs}], eax",
    "mov [r15 + {regs} + 4], ecx",
    "mov [r15 + {regs} + 8], edx",
    "mov [r15 + {regs} + 12], ebx",
    "mov [r15 + {regs} + 16], r12d",
    "mov [r15 + {regs} + 20], ebp",
    "mov [r15 + {regs} + 24], esi",
    "mov [r15 + {regs} + 28], edi",
    "pushfq",
    "pop rax",
    "mov [r15 + {eflags}], eax",
    "mov [r15 + {shadow_rsp}], rsp",
    ".globl vx_fault_exit",
    "vx_fault_exit:",
    "cmp dword ptr [r15 + {x87_live}], 0",
    "jne 8f",
    "stmxcsr [r15 + {fx} + 24]",
    "movaps [r15 + {fx} + 160], xmm0",
    "movaps [r15 + {fx} + 176], xmm1",
    "movaps [r15 + {fx} + 192], xmm2",
    "movaps [r15 + {fx} + 208], xmm3",
    "movaps [r15 + {fx} + 224], xmm4",
    "movaps [r15 + {fx} + 240], xmm5",
    "movaps [r15 + {fx} + 256], xmm6",
    "movaps [r15 + {fx} + 272], xmm7",
    "jmp 6f",
    "8:",
    "cmp dword ptr [r15 + {use_xsave}], 0",
    "je 5f",
    "mov eax, 3",
    "xor edx, edx",
    "xsaveopt [r15 + {fx}]",
    // (MXCSR for certain: Vcpu::enter fills in what xsaveopt left out.)
    "stmxcsr [r15 + {fx} + 24]",
    "jmp 9f",
    "5:",
    "fxsave [r15 + {fx}]",
    "9:",
    // Leave the x87 unit in its initial state, registers zeroed as a new
    // process has them, for host code and the next guest that never used it.
    "fxrstor [rip + {fx_reset}]",
    "6:",
    "mov rsp, [r15 + {host_rsp}]",
    "ldmxcsr [r15 + {host_mxcsr}]",
    "push 2",
    "popfq",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbp",
    "pop rbx",
    "ret",
    host_rsp = const OFF_HOST_RSP,
    host_mxcsr = const OFF_HOST_MXCSR,
    use_wrgsbase = const OFF_USE_WRGSBASE,
    use_xsave = const OFF_USE_XSAVE,
    x87_live = const OFF_X87_LIVE,
    fx_reset = sym FX_RESET,
    shadow_rsp = const OFF_SHADOW_RSP,
    miss_ptr = const OFF_MISS_PTR,
    code_base = const OFF_CODE_BASE,
    ind_table = const OFF_IND_TABLE,
    use_vzeroupper = const OFF_USE_VZEROUPPER,
    win_base = const OFF_WIN_BASE,
    fx = const OFF_FX,
    eflags = const OFF_EFLAGS,
    regs = const OFF_REGS,
    patch = const OFF_PATCH,
    reason = const OFF_REASON,
    next_eip = const OFF_NEXT_EIP,
    chain = const exit::CHAIN,
    miss = const exit::MISS,
);

/// The FPU image of a new process, loaded after a guest that used x87.
static FX_RESET: FxArea = FxArea::RESET;

extern "C" {
    fn vx_enter(state: *mut VcpuState, target: u64);
    fn vx_exit();
    fn vx_chain_exit();
    fn vx_miss_exit();
    fn vx_fault_exit();
    fn vx_sentinel_ret();
}

/// Return the address the fault handler resumes at after saving state.
pub(crate) fn fault_exit_addr() -> u64 {
    vx_fault_exit as *const () as usize as u64
}

const POLL_SIZE: usize = 4096;
/// Shadow stack: a guard page, then 4096 entries of 16 bytes.
const SHADOW_GUARD: usize = 4096;
const SHADOW_SIZE: usize = 64 << 10;

/// Arms the poll page of one vCPU; safe to use from a signal handler or
/// another thread.
#[derive(Clone)]
pub struct PreemptHandle {
    poll: Arc<AtomicU64>,
}

impl PreemptHandle {
    /// Ask the vCPU to leave translated code at its next block entry with
    /// `Trap::Preempted`. Async-signal-safe.
    pub fn request(&self) {
        // Counted in REQUESTS before `poll` is read: a vCPU being freed
        // clears `poll`, then waits for requests in flight (see Drop).
        REQUESTS.fetch_add(1, Ordering::SeqCst);
        let p = self.poll.load(Ordering::SeqCst);
        if p != 0 {
            // SAFETY: `p` is the vCPU's own poll page: the vCPU does not unmap
            // it while a request that may have read `p` is in flight.
            unsafe {
                libc::mprotect(p as *mut libc::c_void, POLL_SIZE, libc::PROT_NONE);
            }
        }
        REQUESTS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Preemption requests in flight (see `PreemptHandle::request`).
static REQUESTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The host memory of one vCPU: poll page followed by the state block.
pub(crate) struct Vcpu {
    mem: *mut u8,
    len: usize,
    poll: Arc<AtomicU64>,
    /// The indirect-branch table (see `state::IND_ENTRIES`).
    ind: *mut u32,
    /// Guest addresses whose entries were set since the table was clean
    /// (`ind_all`: too many to list, clear the table whole).
    ind_dirty: Vec<u32>,
    ind_all: bool,
}

/// Dropped vCPUs' memory kept for new ones: a fork or exec then finds its
/// state block, indirect table and shadow stack already paged in.
static SPARE_VCPUS: std::sync::Mutex<Vec<(usize, usize)>> = std::sync::Mutex::new(Vec::new());
const SPARES: usize = 16;
/// Beyond this many entries set, a recycled table is cleared whole.
const IND_DIRTY_MAX: usize = 4096;

/// Bytes of an indirect-branch table.
const IND_BYTES: usize = IND_ENTRIES as usize * 4;

/// Reserve an indirect-branch table: all entries 0 (misses), pages given
/// host memory only as entries are set.
fn map_ind() -> io::Result<*mut u32> {
    // SAFETY: a fresh private anonymous reservation, zero-filled by the host.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            IND_BYTES,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p as *mut u32)
}

// SAFETY: the vCPU owns its memory; the translated code that touches it runs
// on whichever thread owns the Vcpu.
unsafe impl Send for Vcpu {}

fn has_fsgsbase() -> bool {
    // SAFETY: getauxval is always safe to call.
    let hw2 = unsafe { libc::getauxval(libc::AT_HWCAP2) };
    hw2 & 2 != 0
}

fn has_avx() -> bool {
    let l1 = core::arch::x86_64::__cpuid_count(1, 0);
    if l1.ecx & (1 << 27) == 0 || l1.ecx & (1 << 28) == 0 {
        return false;
    }
    // SAFETY: xgetbv(0) is valid when OSXSAVE is set.
    let xcr0 = unsafe { core::arch::x86_64::_xgetbv(0) };
    xcr0 & 6 == 6
}

fn has_xsaveopt() -> bool {
    let l1 = core::arch::x86_64::__cpuid_count(1, 0);
    let osxsave = l1.ecx & (1 << 27) != 0;
    if !osxsave || std::env::var_os("VX_NO_XSAVE").is_some() {
        return false;
    }
    // SAFETY: xgetbv(0) is valid when OSXSAVE is set.
    let xcr0 = unsafe { core::arch::x86_64::_xgetbv(0) };
    let d1 = core::arch::x86_64::__cpuid_count(0xd, 1);
    xcr0 & 3 == 3 && d1.eax & 1 != 0
}

impl Vcpu {
    /// Allocate a state block for a guest window based at `win_base`,
    /// reusing the memory of a dropped vCPU when there is one (its pages
    /// are already there, so the first entries do not fault them in).
    pub(crate) fn new(win_base: u64) -> io::Result<Vcpu> {
        let state_len = std::mem::size_of::<VcpuState>().next_multiple_of(4096);
        let len = POLL_SIZE + state_len + SHADOW_GUARD + SHADOW_SIZE;
        let spare = SPARE_VCPUS.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let (mem, ind) = match spare {
            Some((m, t)) => (m as *mut libc::c_void, t as *mut u32),
            None => {
                let ind = map_ind()?;
                // SAFETY: a fresh anonymous mapping; zero is a valid VcpuState bit pattern.
                let mem = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        len,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    )
                };
                if mem == libc::MAP_FAILED {
                    let e = io::Error::last_os_error();
                    // SAFETY: the table we just reserved; nothing uses it.
                    unsafe { libc::munmap(ind as *mut libc::c_void, IND_BYTES) };
                    return Err(e);
                }
                let guard = mem as usize + POLL_SIZE + state_len;
                // SAFETY: the guard page lies inside the mapping we just made.
                unsafe {
                    libc::mprotect(guard as *mut libc::c_void, SHADOW_GUARD, libc::PROT_NONE);
                }
                (mem, ind)
            }
        };
        let v = Vcpu {
            mem: mem as *mut u8,
            len,
            poll: Arc::new(AtomicU64::new(mem as u64)),
            ind,
            ind_dirty: Vec::new(),
            ind_all: false,
        };
        let s = v.state_mut();
        s.ind_table = ind as u64;
        s.win_base = win_base;
        s.eflags = 0x202;
        s.fx = FxArea::reset();
        s.seg_sel = [USER_DS, USER_CS, USER_DS, USER_DS, 0, 0];
        s.exit_ptr = vx_exit as *const () as usize as u64;
        s.chain_ptr = vx_chain_exit as *const () as usize as u64;
        s.miss_ptr = vx_miss_exit as *const () as usize as u64;
        // The host's features, looked up once (cpuid is slow in a VM).
        static FEATURES: std::sync::OnceLock<(bool, bool, bool)> = std::sync::OnceLock::new();
        let &(gsbase, xsave, avx) = FEATURES.get_or_init(|| (has_fsgsbase(), has_xsaveopt(), has_avx()));
        s.use_wrgsbase = gsbase as u32;
        s.use_xsave = xsave as u32;
        s.use_vzeroupper = avx as u32;
        let guard = mem as u64 + (POLL_SIZE + state_len) as u64;
        s.shadow_guard = guard;
        s.shadow_top = guard + (SHADOW_GUARD + SHADOW_SIZE) as u64 - 16;
        // The sentinel: a return point that never belongs to a call.
        let sentinel = s.shadow_top as *mut u64;
        // SAFETY: the top entry is inside the shadow stack mapping.
        unsafe {
            sentinel.write(vx_sentinel_ret as *const () as usize as u64);
        }
        s.shadow_rsp = s.shadow_top;
        Ok(v)
    }

    /// Set the indirect-branch table entry for `eip` to `host` (code of
    /// the cache at `code_base`), remembering which entries are in use so
    /// that a recycled table starts clean.
    pub(crate) fn set_ind(&mut self, eip: u32, host: u64) {
        let base = self.state().code_base;
        let Some(off) = host.checked_sub(base).and_then(|o| u32::try_from(o).ok()).filter(|&o| o != 0) else {
            return;
        };
        if !self.ind_all {
            if self.ind_dirty.len() < IND_DIRTY_MAX {
                self.ind_dirty.push(eip);
            } else {
                self.ind_all = true;
            }
        }
        // SAFETY: the table has an entry for every 32-bit address;
        // translated code only reads it, on this thread.
        unsafe { *self.ind.add(eip as usize) = off };
    }

    /// Forget the entry for `eip` (its block went away).
    pub(crate) fn clear_ind(&mut self, eip: u32) {
        // SAFETY: as in `set_ind`.
        unsafe { *self.ind.add(eip as usize) = 0 };
    }

    /// Forget every entry (the code cache was flushed, or the table goes
    /// to another vCPU).
    pub(crate) fn clear_all_ind(&mut self) {
        if self.ind_all {
            // SAFETY: our private anonymous table: after DONTNEED it reads
            // as zeros; no translated code runs on it now.
            unsafe { libc::madvise(self.ind as *mut libc::c_void, IND_BYTES, libc::MADV_DONTNEED) };
        } else {
            for &eip in &self.ind_dirty {
                // SAFETY: as in `set_ind`.
                unsafe { *self.ind.add(eip as usize) = 0 };
            }
        }
        self.ind_dirty.clear();
        self.ind_all = false;
    }

    /// Return the state block.
    pub(crate) fn state(&self) -> &VcpuState {
        // SAFETY: the block lives right after the poll page, zero-initialised
        // and aligned (page-aligned mapping), for as long as `self`.
        unsafe { &*(self.mem.add(POLL_SIZE) as *const VcpuState) }
    }

    /// Return the state block for changes.
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn state_mut(&self) -> &mut VcpuState {
        // SAFETY: as in `state`; the Vcpu is used by one thread at a time and
        // callers hold no other reference across this borrow.
        unsafe { &mut *(self.mem.add(POLL_SIZE) as *mut VcpuState) }
    }

    pub(crate) fn state_ptr(&self) -> *mut VcpuState {
        // SAFETY: in bounds of our mapping.
        unsafe { self.mem.add(POLL_SIZE) as *mut VcpuState }
    }

    pub(crate) fn preempt_handle(&self) -> PreemptHandle {
        PreemptHandle { poll: self.poll.clone() }
    }

    /// Forget all predicted return points (after translations went away).
    pub(crate) fn reset_shadow(&self) {
        let s = self.state_mut();
        s.shadow_rsp = s.shadow_top;
    }

    /// Disarm the poll page.
    pub(crate) fn disarm(&self) {
        // SAFETY: our own poll page.
        unsafe {
            libc::mprotect(self.mem as *mut libc::c_void, POLL_SIZE, libc::PROT_READ);
        }
    }

    /// Run translated code at `host` until it exits; return the exit reason.
    pub(crate) fn enter(&self, host: u64) -> u32 {
        let s = self.state_mut();
        if s.use_wrgsbase == 0 {
            // SAFETY: sets this thread's GS base; host code never uses GS.
            unsafe {
                libc::syscall(libc::SYS_arch_prctl, 0x1001 /* ARCH_SET_GS */, s.win_base);
            }
        }
        s.exit_reason = 0;
        // The legacy region is authoritative: Rust may have changed it.
        s.xsave_hdr[0] |= 3;
        // SAFETY: `host` is the entry of a block in a live code cache made
        // for this vCPU's window, and the state block is valid.
        unsafe { vx_enter(self.state_ptr(), host) };
        let s = self.state_mut();
        if s.xsave_hdr[0] & 3 != 3 && s.use_xsave != 0 && s.x87_live != 0 {
            init_untouched(s);
        }
        s.exit_reason
    }
}

/// xsaveopt does not write a component that is in its initial state (its
/// XSTATE_BV bit then reads 0), leaving what an earlier save put there:
/// write the initial state in, since the legacy region is what the guest's
/// state is taken to be (signal frames, snapshots, the next entry).
fn init_untouched(s: &mut VcpuState) {
    let fx = &mut s.fx.0;
    if s.xsave_hdr[0] & 1 == 0 {
        // x87: FCW 0x037f; FSW, tags, FOP, FIP, FDP and the registers zero.
        fx[0..24].fill(0);
        fx[0..2].copy_from_slice(&0x037fu16.to_le_bytes());
        fx[32..160].fill(0);
    }
    if s.xsave_hdr[0] & 2 == 0 {
        // SSE: the xmm registers zero (MXCSR is stored separately).
        fx[160..288].fill(0);
    }
    s.xsave_hdr[0] |= 3;
}

impl Drop for Vcpu {
    fn drop(&mut self) {
        self.poll.store(0, Ordering::SeqCst);
        // A request that read the old address may still be about to arm the
        // poll page: let it finish before the page can go.
        while REQUESTS.load(Ordering::SeqCst) != 0 {
            std::hint::spin_loop();
        }
        self.clear_all_ind();
        let mut spares = SPARE_VCPUS.lock().unwrap_or_else(|e| e.into_inner());
        if spares.len() < SPARES {
            // Clean the state block for the next vCPU (the indirect table
            // is clean already).
            let s = self.state_ptr();
            // SAFETY: `s` is our state block; zero is a valid bit pattern for
            // every field, and no translated code runs on it now.
            unsafe {
                std::ptr::write_bytes(s as *mut u8, 0, std::mem::size_of::<VcpuState>());
                // A preemption request may have armed the poll page.
                libc::mprotect(self.mem as *mut libc::c_void, POLL_SIZE, libc::PROT_READ);
            }
            spares.push((self.mem as usize, self.ind as usize));
            return;
        }
        // SAFETY: our own mappings; no translated code runs on them now.
        unsafe {
            libc::munmap(self.mem as *mut libc::c_void, self.len);
            libc::munmap(self.ind as *mut libc::c_void, IND_BYTES);
        }
    }
}
