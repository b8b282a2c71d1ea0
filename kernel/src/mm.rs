//! The T1 memory map of a process: the program break and placement of
//! anonymous mappings, kept on vx-core's window page flags. (T2 replaces
//! this with VMAs over page frames.)

use crate::errno::{Errno, SysResult};
use vx_core::window::pf;
use vx_core::Guest;

pub const PAGE: u32 = 4096;
/// Top of the initial stack, as an i386 process sees it on a 64-bit Linux.
pub const STACK_TOP: u32 = 0xffff_e000;
/// Size of the stack mapping (the default RLIMIT_STACK).
pub const STACK_SIZE: u32 = 8 << 20;
/// Where top-down mmap placement starts: below the stack's gap.
pub const MMAP_BASE: u32 = STACK_TOP - (128 << 20);
/// Lowest address mmap hands out without a hint.
pub const MMAP_MIN: u32 = 0x0001_0000;

pub fn page_up(v: u64) -> u64 {
    (v + PAGE as u64 - 1) & !(PAGE as u64 - 1)
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

/// The address-space bookkeeping of one process.
pub struct Mm {
    pub brk_start: u32,
    pub brk: u32,
}

impl Mm {
    pub fn new(brk_start: u32) -> Mm {
        Mm { brk_start, brk: brk_start }
    }

    fn free(g: &Guest, addr: u32, len: u64) -> bool {
        if addr as u64 + len > STACK_TOP as u64 - STACK_SIZE as u64 + 1 && addr < STACK_TOP {
            return false;
        }
        (0..len / PAGE as u64).all(|i| g.window().page_flags(addr + (i as u32) * PAGE) & pf::MAPPED == 0)
    }

    /// Find a free range of `len` bytes, top-down from MMAP_BASE.
    pub fn find_free(&self, g: &Guest, len: u64) -> SysResult<u32> {
        let npages = (len / PAGE as u64) as u32;
        let mut top = MMAP_BASE / PAGE; // exclusive page number
        let low = (self.brk.max(MMAP_MIN) as u64).div_ceil(PAGE as u64) as u32;
        let mut run = 0;
        while top > low {
            let p = top - 1;
            if g.window().page_flags(p * PAGE) & pf::MAPPED == 0 {
                run += 1;
                if run == npages {
                    return Ok(p * PAGE);
                }
            } else {
                run = 0;
            }
            top = p;
        }
        Err(Errno::ENOMEM)
    }

    /// Place a mapping: at `hint` if free (or fixed), else anywhere free.
    pub fn place(&self, g: &Guest, hint: u32, len: u64, fixed: bool) -> SysResult<u32> {
        if fixed {
            if !hint.is_multiple_of(PAGE) || hint as u64 + len > 1 << 32 {
                return Err(Errno::EINVAL);
            }
            return Ok(hint);
        }
        if hint != 0
            && hint.is_multiple_of(PAGE)
            && hint >= MMAP_MIN
            && hint as u64 + len <= STACK_TOP as u64
            && Self::free(g, hint, len)
        {
            return Ok(hint);
        }
        self.find_free(g, len)
    }

    /// Move the program break, as brk(2) does; return the new break.
    pub fn set_brk(&mut self, g: &mut Guest, want: u32) -> u32 {
        if want < self.brk_start {
            return self.brk;
        }
        let old_end = page_up(self.brk as u64);
        let new_end = page_up(want as u64);
        if new_end > old_end {
            let len = new_end - old_end;
            if new_end > MMAP_BASE as u64 || !Self::free(g, old_end as u32, len) {
                return self.brk;
            }
            if g.map_anon(old_end as u32, len, pf::READ | pf::WRITE).is_err() {
                return self.brk;
            }
        } else if new_end < old_end {
            let _ = g.unmap(new_end as u32, old_end - new_end);
        }
        self.brk = want;
        want
    }
}
