//! The vCPU state block: guest registers, exit information and the fast
//! indirect-branch table, laid out for the translated code.
//!
//! Translated code keeps a pointer to this block in host `r15` and reaches
//! every field at a fixed offset, so the layout is `#[repr(C)]` and the
//! offsets are exported as constants for the emitter and the entry glue.
//! The page right before the block is the preemption poll page (see
//! `cpu.rs`).

use core::mem::offset_of;

/// Guest general registers in x86 encoding order.
pub const EAX: usize = 0;
pub const ECX: usize = 1;
pub const EDX: usize = 2;
pub const EBX: usize = 3;
pub const ESP: usize = 4;
pub const EBP: usize = 5;
pub const ESI: usize = 6;
pub const EDI: usize = 7;

/// The indirect-branch table maps every guest address exactly: one 32-bit
/// entry per byte of the 4 GiB guest space (a 16 GiB reservation whose
/// pages the host fills in as they are touched), each the offset of the
/// block's host code from the start of the code cache. Offset 0 is a stub
/// that leaves through `vx_miss_exit`, so an entry never set is a miss. The
/// lookup is one load, a `lea` and a jump, with nothing to compare and no
/// flags touched (see `Emitter::lookup_r13`).
pub const IND_ENTRIES: u64 = 1 << 32;

/// Why translated code returned to the host.
pub mod exit {
    /// A direct branch whose target is not chained yet.
    pub const CHAIN: u32 = 1;
    /// An indirect branch missed the fast table.
    pub const MISS: u32 = 2;
    /// `int 0x80`.
    pub const SYSCALL: u32 = 3;
    /// A host fault in translated code (filled in by the signal handler).
    pub const FAULT: u32 = 4;
    /// A trap translated into the code (`int3`, `ud2`, privileged ...).
    pub const TRAP: u32 = 5;
    /// The preemption poll page was armed.
    pub const PREEMPT: u32 = 6;
    /// An instruction the host runs in Rust (cpuid, segment loads, BCD).
    pub const HELPER: u32 = 7;
    /// Leave to the dispatcher without chaining (one-instruction blocks).
    pub const NOCHAIN: u32 = 8;
}

/// The x87/MMX/SSE state as `fxsave` writes it (the legacy region of an
/// XSAVE area; the XSAVE header follows it in `VcpuState`).
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub struct FxArea(pub [u8; 512]);

impl FxArea {
    /// The state of a freshly reset i386 FPU (`finit`, zeroed registers,
    /// default MXCSR).
    pub const RESET: FxArea = {
        let mut a = [0u8; 512];
        a[0] = 0x7f; // FCW 0x037f
        a[1] = 0x03;
        a[24] = 0x80; // MXCSR 0x1f80
        a[25] = 0x1f;
        a[28] = 0xff; // MXCSR_MASK 0xffff
        a[29] = 0xff;
        FxArea(a)
    };

    /// Return the state of a freshly reset i386 FPU.
    pub fn reset() -> FxArea {
        Self::RESET
    }
}

/// What the fault handler found.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct FaultInfo {
    pub signo: i32,
    pub code: i32,
    pub host_addr: u64,
    pub trapno: u64,
    pub err: u64,
}

/// A TLS descriptor as set_thread_area(2) installs it.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct TlsDesc {
    pub base: u32,
    pub limit: u32,
    pub flags: u32,
    pub present: bool,
}

/// The state block shared between Rust and translated code.
#[repr(C, align(64))]
pub struct VcpuState {
    pub regs: [u32; 8],
    pub eip: u32,
    pub eflags: u32,
    pub exit_reason: u32,
    pub next_eip: u32,
    pub patch_site: u64,
    pub host_rsp: u64,
    pub win_base: u64,
    /// Segment bases and selectors in the order es, cs, ss, ds, fs, gs.
    pub seg_base: [u32; 6],
    pub seg_sel: [u32; 6],
    pub exit_arg: u32,
    pub host_mxcsr: u32,
    pub host_fcw: u32,
    pub use_wrgsbase: u32,
    /// Save x87/SSE state with xsaveopt/xrstor (cheaper when unchanged)
    /// rather than fxsave/fxrstor.
    pub use_xsave: u32,
    /// The guest has used x87 or MMX, so its whole FPU image is saved and
    /// restored around host code; until then only MXCSR and xmm0-7 are.
    /// Set it when changing the x87 part of `fx` from outside.
    pub x87_live: u32,
    /// The host has AVX: clear upper register halves before guest code.
    pub use_vzeroupper: u32,
    pub exit_ptr: u64,
    pub chain_ptr: u64,
    pub miss_ptr: u64,
    /// The code cache whose blocks this vCPU is running (for the fault handler).
    pub cache_ptr: u64,
    /// Where that cache's code starts (r10 in translated code).
    pub code_base: u64,
    /// The indirect-branch table (r9 in translated code; see `IND_ENTRIES`).
    pub ind_table: u64,
    /// The shadow stack of host return points (host rsp in translated
    /// code): its current top, its empty position, and its guard page.
    pub shadow_rsp: u64,
    pub shadow_top: u64,
    pub shadow_guard: u64,
    pub fault: FaultInfo,
    pub tls: [TlsDesc; 3],
    pub fx: FxArea,
    /// XSAVE header after `fx`: XSTATE_BV, XCOMP_BV, reserved.
    pub xsave_hdr: [u64; 8],
}

pub const OFF_REGS: usize = offset_of!(VcpuState, regs);
pub const OFF_EIP: usize = offset_of!(VcpuState, eip);
pub const OFF_EFLAGS: usize = offset_of!(VcpuState, eflags);
pub const OFF_REASON: usize = offset_of!(VcpuState, exit_reason);
pub const OFF_NEXT_EIP: usize = offset_of!(VcpuState, next_eip);
pub const OFF_PATCH: usize = offset_of!(VcpuState, patch_site);
pub const OFF_HOST_RSP: usize = offset_of!(VcpuState, host_rsp);
pub const OFF_WIN_BASE: usize = offset_of!(VcpuState, win_base);
pub const OFF_SEG_BASE: usize = offset_of!(VcpuState, seg_base);
pub const OFF_SEG_SEL: usize = offset_of!(VcpuState, seg_sel);
pub const OFF_EXIT_ARG: usize = offset_of!(VcpuState, exit_arg);
pub const OFF_HOST_MXCSR: usize = offset_of!(VcpuState, host_mxcsr);
pub const OFF_HOST_FCW: usize = offset_of!(VcpuState, host_fcw);
pub const OFF_USE_XSAVE: usize = offset_of!(VcpuState, use_xsave);
pub const OFF_X87_LIVE: usize = offset_of!(VcpuState, x87_live);
pub const OFF_USE_VZEROUPPER: usize = offset_of!(VcpuState, use_vzeroupper);
pub const OFF_USE_WRGSBASE: usize = offset_of!(VcpuState, use_wrgsbase);
pub const OFF_EXIT_PTR: usize = offset_of!(VcpuState, exit_ptr);
pub const OFF_CHAIN_PTR: usize = offset_of!(VcpuState, chain_ptr);
pub const OFF_MISS_PTR: usize = offset_of!(VcpuState, miss_ptr);
pub const OFF_SHADOW_RSP: usize = offset_of!(VcpuState, shadow_rsp);
pub const OFF_FX: usize = offset_of!(VcpuState, fx);
pub const OFF_IND_TABLE: usize = offset_of!(VcpuState, ind_table);
pub const OFF_CODE_BASE: usize = offset_of!(VcpuState, code_base);

/// Segment register numbers in the order x86 encodes them.
pub const SEG_ES: usize = 0;
pub const SEG_CS: usize = 1;
pub const SEG_SS: usize = 2;
pub const SEG_DS: usize = 3;
pub const SEG_FS: usize = 4;
pub const SEG_GS: usize = 5;

/// The selectors an i386 Linux process starts with.
pub const USER_CS: u32 = 0x23;
pub const USER_DS: u32 = 0x2b;
/// First GDT entry set_thread_area hands out, as on Linux.
pub const TLS_ENTRY_MIN: u32 = 12;
