//! Where things go in a guest's 4 GiB, as a 32-bit process sees it on a
//! 64-bit Linux, and small conversions.

use vx_core::window::pf;

pub const PAGE: u32 = 4096;
/// Top of the initial stack (the 32-bit TASK_SIZE of a 64-bit Linux).
pub const STACK_TOP: u32 = 0xffff_e000;
/// How far the stack may grow down (RLIMIT_STACK's default).
pub const STACK_MAX: u32 = 8 << 20;
/// The stack VMA exec sets up; it grows on faults below it.
pub const STACK_INITIAL: u32 = 128 << 10;
/// Where top-down mmap placement starts: below the stack's reserve.
pub const MMAP_BASE: u32 = STACK_TOP - (128 << 20);
/// Lowest address mmap hands out without a hint.
pub const MMAP_MIN: u32 = 0x0001_0000;

/// Round up to a whole page.
pub fn page_up(v: u64) -> u64 {
    v.div_ceil(PAGE as u64) * PAGE as u64
}

/// Convert PROT_* bits to window page flags.
pub fn prot_flags(prot: u32) -> u8 {
    let mut f = 0;
    if prot & 1 != 0 {
        f |= pf::READ;
    }
    if prot & 2 != 0 {
        f |= pf::WRITE | pf::READ;
    }
    if prot & 4 != 0 {
        f |= pf::EXEC | pf::READ;
    }
    f
}

/// Convert ELF p_flags (X=1, W=2, R=4) to window page flags.
pub fn elf_flags(p_flags: u32) -> u8 {
    prot_flags(((p_flags & 4) >> 2) | (p_flags & 2) | ((p_flags & 1) << 2))
}
