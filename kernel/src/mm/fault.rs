//! Page faults: demand paging, copy-on-write, stack growth, and the host
//! mappings of the guest window, which cache the page table like a TLB.
//!
//! A guest access to a page the window has not mapped (or not for that
//! access) traps here. The VMA says whether the access is allowed; the page
//! table says which frame holds the page, and a missing page gets a zero
//! frame, a copy of its file page or its shared frame. Then the frame is
//! mapped into the window. Runs of frames that follow each other in the
//! memory file are mapped with one host mapping; sequential first touches
//! of anonymous memory get frames for the pages ahead too (fault-around).
//! When a window holds more host mappings than `MAP_BUDGET`, it is emptied
//! and refills on demand, which keeps vxos under the host's
//! vm.max_map_count however scattered guest memory is.

use super::frame::FRAME_SIZE;
use super::pagetable::{pte, Pte};
use super::vma::{Backing, Vma};
use super::{memory, pagecache, Mm, STACK_MAX, STACK_TOP};
use vx_core::window::pf;
use vx_core::Guest;

/// Host mappings one window may hold before it is emptied.
pub const MAP_BUDGET: u32 = 30_000;
/// Most pages mapped ahead by one fault.
const AHEAD_MAX: u32 = 512;
/// Most pages of a file read ahead by one fault.
const FILE_AHEAD: u32 = 32;

/// Allocate up to `n` frames in a run (see `Frames::alloc_run`); when guest
/// memory is full, the page cache gives its frames back first.
fn alloc_run(n: u32) -> Result<(super::frame::Frame, u32), BadAccess> {
    let r = memory().alloc_run(n);
    match r {
        Ok(x) => Ok(x),
        Err(_) if super::pagecache::shrink() > 0 => memory().alloc_run(n).map_err(|_| OOM),
        Err(_) => Err(OOM),
    }
}

/// Allocate a frame to copy a page into (see `Frames::alloc_for_copy`).
fn alloc_copy() -> Result<super::frame::Frame, BadAccess> {
    let r = memory().alloc_for_copy(1);
    match r {
        Ok((f, _)) => Ok(f),
        Err(_) if super::pagecache::shrink() > 0 => memory().alloc_for_copy(1).map(|x| x.0).map_err(|_| OOM),
        Err(_) => Err(OOM),
    }
}

/// Why a fault cannot be resolved: the SIGSEGV (or SIGBUS) Linux sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadAccess {
    pub signo: i32,
    pub code: i32,
}

const SEGV_MAPERR: BadAccess = BadAccess { signo: libc::SIGSEGV, code: 1 };
const SEGV_ACCERR: BadAccess = BadAccess { signo: libc::SIGSEGV, code: 2 };
/// Past the end of a shared object: SIGBUS/BUS_ADRERR, as Linux sends.
const PAST_END: BadAccess = BadAccess { signo: libc::SIGBUS, code: 2 };
/// No frame left in guest memory: the process is killed, as Linux's OOM
/// killer would.
pub const OOM: BadAccess = BadAccess { signo: libc::SIGKILL, code: 0 };

/// The kind of access that faulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}

impl Mm {
    /// Find the VMA for `addr`, growing the stack down to it if it is
    /// just below the stack.
    fn vma_for(&mut self, addr: u32) -> Option<(u32, Vma)> {
        if let Some((s, v)) = self.vmas.find(addr) {
            return Some((s, v.clone()));
        }
        let (s, v) = self.vmas.next_above(addr)?;
        if !v.grows_down || (addr as u64) < STACK_TOP as u64 - STACK_MAX as u64 {
            return None;
        }
        // Keep a guard gap above whatever lies below.
        let new_start = addr & !0xfff;
        let below_ok = self.vmas.find(new_start.saturating_sub(4096)).is_none();
        if !below_ok {
            return None;
        }
        let v = v.clone();
        self.vmas.extend_down(s, new_start);
        Some((new_start, v))
    }

    /// Resolve a fault at `addr`; on success the page is mapped in the
    /// window for that access.
    pub fn fault(&mut self, g: &mut Guest, addr: u32, access: Access) -> Result<(), BadAccess> {
        let Some((start, v)) = self.vma_for(addr) else {
            self.stats.invalid += 1;
            return Err(SEGV_MAPERR);
        };
        let ok = match access {
            Access::Read => v.prot & (pf::READ | pf::WRITE | pf::EXEC) != 0,
            Access::Write => v.prot & pf::WRITE != 0,
            Access::Exec => v.prot & pf::EXEC != 0,
        };
        if !ok {
            self.stats.invalid += 1;
            return Err(SEGV_ACCERR);
        }
        self.stats.minor_faults += 1;
        let page = addr >> 12;
        let write = access == Access::Write;
        let e = match self.pt.get(page) {
            None => {
                match v.backing {
                    Backing::Anon => self.stats.demand_zero += 1,
                    Backing::File { .. } => self.stats.file += 1,
                    Backing::Shared { .. } => self.stats.shared += 1,
                }
                let e = self.fill(g, page, start, &v, write)?;
                if write && e.flags & pte::WRITABLE == 0 {
                    self.make_writable(page, e, &v)?
                } else {
                    e
                }
            }
            Some(e) if write && e.flags & pte::WRITABLE == 0 => self.make_writable(page, e, &v)?,
            Some(e) => {
                self.stats.remaps += 1;
                e
            }
        };
        self.map_run(g, page, e, start, &v);
        Ok(())
    }

    /// Give a missing page its frame.
    fn fill(&mut self, g: &mut Guest, page: u32, start: u32, v: &Vma, write: bool) -> Result<Pte, BadAccess> {
        let writable = if v.prot & pf::WRITE != 0 { pte::WRITABLE } else { 0 };
        match &v.backing {
            Backing::Anon => {
                // Sequential first touches map a growing run of pages ahead.
                let vma_end = v.end.div_ceil(4096) as u32;
                let (last, run) = self.last_fault;
                let ahead = if page == last.wrapping_add(run) { (run * 2).clamp(1, AHEAD_MAX) } else { 1 };
                let mut n = 1;
                while n < ahead && page + n < vma_end && self.pt.get(page + n).is_none() {
                    n += 1;
                }
                let (f, got) = alloc_run(n)?;
                for i in 0..got {
                    self.pt.set(page + i, Some(Pte { frame: f + i, flags: writable }));
                }
                self.last_fault = (page, got);
                let _ = g;
                Ok(Pte { frame: f, flags: writable })
            }
            Backing::File { file, offset, file_end } => {
                let fault_page = page;
                let vpage = (start >> 12) as u64;
                let off_of = |p: u32| offset + (p as u64 - vpage) * FRAME_SIZE as u64;
                let off = off_of(page);
                let (size, vers) = file.size_vers().map(|(s, v)| (Some(s), v)).unwrap_or((None, None));
                // A page wholly past the end of the file: SIGBUS, as Linux.
                let pages_end = size.map_or(u64::MAX, |len| len.div_ceil(FRAME_SIZE as u64) * FRAME_SIZE as u64);
                if off >= pages_end {
                    return Err(PAST_END);
                }
                let file_key = file.key();
                let key_of = |o: u64| {
                    vers.map(|vers| pagecache::Key {
                        file: file_key,
                        vers,
                        size: size.unwrap_or(0),
                        page: o / FRAME_SIZE as u64,
                        len: file_end.saturating_sub(o).min(FRAME_SIZE as u64) as u16,
                    })
                };
                // Pages from the page cache are shared: copy-on-write.
                let flags = if vers.is_some() { pte::COW } else { writable };
                // Fault-around: the aligned window of FILE_AHEAD pages around
                // this one when none of it is present (so that every process
                // reads and maps the same runs), else this page and the
                // missing ones after it.
                let vma_end = v.end.div_ceil(4096) as u32;
                let in_file = |p: u32| p < vma_end && off_of(p) < pages_end;
                let w = (page & !(FILE_AHEAD - 1)).max(start >> 12);
                let (page, mut n) =
                    if (w..page).all(|p| self.pt.get(p).is_none()) { (w, page - w + 1) } else { (page, 1) };
                while n < FILE_AHEAD
                    && in_file(page + n)
                    && self.pt.get(page + n).is_none()
                    && (page + n) % FILE_AHEAD != 0
                {
                    n += 1;
                }
                // The pages the cache has, then the rest read from the file.
                let mut i = 0;
                while i < n {
                    let Some(f) = key_of(off_of(page + i)).and_then(|k| pagecache::get(&k)) else { break };
                    self.pt.set(page + i, Some(Pte { frame: f, flags }));
                    i += 1;
                }
                if let Some(e) = self.pt.get(fault_page) {
                    return Ok(e);
                }
                let (page, n) = (page + i, n - i);
                let off = off_of(page);
                let (f, got) = alloc_run(n)?;
                let want = file_end.saturating_sub(off).min(got as u64 * FRAME_SIZE as u64) as usize;
                // Read straight into the new (zeroed) frames; what a short
                // read leaves stays zero.
                let mut run = memory().fresh_run(f, got);
                let buf = &mut run.bytes()[..want];
                let mut have = 0;
                while have < want {
                    match file.read_at(&mut buf[have..], off + have as u64) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => have += k,
                    }
                }
                for i in 0..got {
                    self.pt.set(page + i, Some(Pte { frame: f + i, flags }));
                    if let Some(k) = key_of(off_of(page + i)) {
                        pagecache::put(k, f + i);
                    }
                }
                // A short run (memory nearly full) may end before the page
                // that faulted: it faults again.
                self.pt.get(fault_page).ok_or(OOM)
            }
            Backing::Shared { obj, page: first } => {
                let n = first + (page - (start >> 12));
                // Past the end of the object: SIGBUS, as for a file.
                let f = obj.frame(n).ok_or(PAST_END)?;
                // Pages of a file are written back: map them read-only until
                // the first write marks them dirty.
                let flags = if obj.file.is_some() && !write { 0 } else { writable };
                if obj.file.is_some() && write {
                    obj.mark_dirty(n);
                }
                let e = Pte { frame: f, flags };
                self.pt.set(page, Some(e));
                Ok(e)
            }
        }
    }

    /// A write to a present page the page table keeps read-only.
    fn make_writable(&mut self, page: u32, e: Pte, v: &Vma) -> Result<Pte, BadAccess> {
        let mut n = e;
        if e.flags & pte::COW != 0 {
            let mut mem = memory();
            if mem.refs(e.frame) > 1 {
                drop(mem);
                let f = alloc_copy()?;
                mem = memory();
                mem.copy(e.frame, f);
                mem.put(e.frame);
                n.frame = f;
                self.stats.cow_copies += 1;
            } else {
                self.stats.cow_takeovers += 1;
            }
            self.note_cow_write(page);
            n.flags = (e.flags & !pte::COW) | pte::WRITABLE;
        } else {
            if let Backing::Shared { obj, page: first } = &v.backing {
                let start = self.vmas.find(page << 12).map(|x| x.0).unwrap_or(0);
                obj.mark_dirty(first + (page - (start >> 12)));
            }
            n.flags |= pte::WRITABLE | pte::DIRTY;
        }
        self.pt.set(page, Some(n));
        Ok(n)
    }

    /// Map `page` and the run of pages around it whose frames follow each
    /// other in the memory file with the same permissions, in one host
    /// mapping.
    fn map_run(&mut self, g: &mut Guest, page: u32, e: Pte, start: u32, v: &Vma) {
        let prot_of = |x: &Pte| if x.flags & pte::WRITABLE != 0 { v.prot } else { v.prot & !pf::WRITE };
        let prot = prot_of(&e);
        let vma_end = v.end.div_ceil(4096) as u32;
        let mut n = 1;
        while n < AHEAD_MAX && page + n < vma_end {
            match self.pt.get(page + n) {
                Some(x) if x.frame == e.frame + n && prot_of(&x) == prot => n += 1,
                _ => break,
            }
        }
        let (mut page, mut frame) = (page, e.frame);
        while n < AHEAD_MAX && page > start >> 12 && frame > 0 {
            match self.pt.get(page - 1) {
                Some(x) if x.frame == frame - 1 && prot_of(&x) == prot => {
                    page -= 1;
                    frame -= 1;
                    n += 1;
                }
                _ => break,
            }
        }
        let _ = start;
        if self.live_maps >= super::fault::MAP_BUDGET {
            let _ = g.evict(0, 1 << 32, None);
            self.live_maps = 0;
            self.stats.evictions += 1;
        }
        let r = g.map_fd(page << 12, n as u64 * FRAME_SIZE as u64, memory_fd(), frame as u64 * FRAME_SIZE as u64, prot);
        debug_assert!(r.is_ok(), "map_fd: {r:?}");
        self.live_maps += 1;
        self.stats.host_maps += 1;
    }

    /// Fault in every page of `[addr, addr+len)` for `access` (system call
    /// buffers, MAP_POPULATE).
    pub fn populate(&mut self, g: &mut Guest, addr: u32, len: u64, access: Access) -> Result<(), BadAccess> {
        if len == 0 {
            return Ok(());
        }
        let need = match access {
            Access::Write => pf::WRITE,
            Access::Read => pf::READ,
            Access::Exec => pf::EXEC,
        };
        let last = ((addr as u64 + len - 1) >> 12) as u32;
        for p in (addr >> 12)..=last {
            let f = g.window().page_flags(p << 12);
            if f & pf::MAPPED == 0 || f & need != need {
                self.fault(g, p << 12, access)?;
            }
        }
        Ok(())
    }
}

/// The memory file's descriptor, for mapping frames.
pub(super) fn memory_fd() -> BorrowedFd<'static> {
    use std::sync::OnceLock;
    static FD: OnceLock<OwnedFd> = OnceLock::new();
    FD.get_or_init(|| memory().fd().try_clone_to_owned().expect("dup the memory file")).as_fd()
}

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
