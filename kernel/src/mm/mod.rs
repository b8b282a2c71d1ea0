//! Memory management: an address space is VMAs (what the guest mapped),
//! a page table (which frame holds each page) and the host mappings of its
//! window, which are only a cache of the page table (see `fault`).
//!
//! The files: `frame.rs` (the memory file and its frames), `pagetable.rs`,
//! `vma.rs`, `shared.rs` (pages shared between mappings), `fault.rs`
//! (demand paging, copy-on-write, the host-mapping cache), `layout.rs`
//! (where things go in the guest's 4 GiB), `pagecache.rs` (file pages
//! shared between address spaces), `fork.rs` (fork's copy) and `kept.rs`
//! (a program's next run on the guest its last run left). The system calls are in
//! `syscall/sys_mm.rs`.

pub mod fault;
pub mod fork;
pub mod frame;
pub mod kept;
pub mod layout;
pub mod pagecache;
pub mod pagetable;
pub mod shared;
pub mod vma;

use frame::Frames;
use pagetable::PageTable;
use parking_lot::{Mutex, MutexGuard};
use std::sync::OnceLock;
use vma::{Vma, Vmas};
use vx_core::Guest;

pub use layout::*;

static MEMORY: OnceLock<Mutex<Frames>> = OnceLock::new();

/// Create the memory file of `bytes` (once, at start).
pub fn init_memory(bytes: u64) -> std::io::Result<()> {
    let f = Frames::new(bytes)?;
    MEMORY.set(Mutex::new(f)).map_err(|_| std::io::Error::other("memory already set up"))
}

/// The frames of the machine (set up on first use with the default size).
pub fn memory() -> MutexGuard<'static, Frames> {
    MEMORY.get_or_init(|| Mutex::new(Frames::new(default_memory()).expect("cannot create the memory file"))).lock()
}

/// Default guest RAM: three quarters of the host's, at most 64 GiB.
pub fn default_memory() -> u64 {
    let host = rustix::system::sysinfo().totalram;
    (host / 4 * 3).clamp(256 << 20, 64 << 30)
}

/// Counters of one address space.
#[derive(Default, Clone, Copy, Debug)]
pub struct MmStats {
    /// Faults resolved (every kind below but `invalid`).
    pub minor_faults: u64,
    /// By kind: a fresh zero frame for anonymous memory (stack growth
    /// too); a page read from a file or found in the page cache; a page of
    /// a shared mapping; a write to a copy-on-write page that copied the
    /// frame, or that took it over as its last user; a page already in the
    /// page table whose host mapping had gone (an eviction or a flush).
    pub demand_zero: u64,
    pub file: u64,
    pub shared: u64,
    pub cow_copies: u64,
    pub cow_takeovers: u64,
    pub remaps: u64,
    /// Faults that became a signal: no VMA, or the wrong protection.
    pub invalid: u64,
    pub evictions: u64,
    pub host_maps: u64,
    /// Pages fork copied for this address space at its birth.
    pub fork_copies: u64,
}

/// What others may read of an address space: its resident pages (the
/// OOM killer's measure), its counters, and the blocks its guest has
/// translated, as of the last fault, unmap or preemption
/// (`Mm::publish`). /proc/N/status of another process reads it through
/// the process table.
#[derive(Default, Debug)]
pub struct Gauge {
    pub resident: std::sync::atomic::AtomicU32,
    pub stats: Mutex<MmStats>,
    pub blocks: std::sync::atomic::AtomicU64,
    pub restored: std::sync::atomic::AtomicU64,
}

/// One address space.
pub struct Mm {
    pub vmas: Vmas,
    pub pt: PageTable,
    pub brk_start: u32,
    pub brk: u32,
    pub stats: MmStats,
    /// Host mappings made since the window was last emptied.
    pub live_maps: u32,
    /// Last page that took a demand-zero fault and the run it got, to
    /// detect sequential touching and map ahead.
    pub last_fault: (u32, u32),
    /// The resident page count and counters, as other tasks read them
    /// (updated after faults and unmaps).
    pub gauge: std::sync::Arc<Gauge>,
    /// Where exec put the system call entry page (AT_SYSINFO), for maps.
    pub vdso: u32,
    /// Pages written soon after forks, copied for the next child at once
    /// (see `fork.rs`); the parent's, which this one's writes go to too;
    /// how many copy-on-write writes were noted since the last fork.
    pub hints: std::sync::Arc<fork::ForkHints>,
    pub parent_hints: Option<std::sync::Arc<fork::ForkHints>>,
    pub notes: u32,
    /// The executable files whose kept translations the guest has looked
    /// for (see `progcache.rs`).
    pub images: Vec<crate::progcache::ImageKey>,
    /// Pages whose code the guest took in from images without reading
    /// them: a forked child reads them (its code cache starts empty), so
    /// the first fork maps them here first, for every child to share.
    pub image_pages: Vec<u32>,
    /// The program file exec loaded here, for keeping the guest for its
    /// next run when the image ends (see `kept.rs`).
    pub exe: Option<kept::ProgKey>,
    /// Pages a kept guest set aside until this image maps them, with the
    /// file page each showed, ascending (see `kept.rs`).
    pub pending: Vec<(u32, pagecache::Key)>,
    /// Pages the program's last run wrote, not yet mapped in this image,
    /// ascending: made at once when they are (see `kept.rs`).
    pub written: Vec<(u32, Option<pagecache::Key>)>,
}

impl Mm {
    /// An empty address space whose break starts at `brk_start`.
    pub fn new(brk_start: u32) -> Mm {
        Mm {
            vmas: Vmas::default(),
            pt: PageTable::new(),
            brk_start,
            brk: brk_start,
            stats: MmStats::default(),
            live_maps: 0,
            last_fault: (u32::MAX, 0),
            gauge: Default::default(),
            vdso: 0,
            hints: Default::default(),
            parent_hints: None,
            notes: fork::NOTE_MAX,
            images: Vec::new(),
            image_pages: Vec::new(),
            exe: None,
            pending: Vec::new(),
            written: Vec::new(),
        }
    }

    /// Publish the resident page count and the counters.
    pub fn publish(&self) {
        self.gauge.resident.store(self.pt.present(), std::sync::atomic::Ordering::Relaxed);
        *self.gauge.stats.lock() = self.stats;
    }

    /// Return the number of resident pages.
    pub fn resident(&self) -> u32 {
        self.pt.present()
    }

    /// The frame holding the page of `addr`, if it is present.
    pub fn frame_at(&self, addr: u32) -> Option<frame::Frame> {
        self.pt.get(addr >> 12).map(|e| e.frame)
    }

    /// Add a VMA, replacing whatever was mapped in its range.
    pub fn map(&mut self, g: &mut Guest, start: u32, v: Vma) {
        let end = v.end;
        self.unmap(g, start, end);
        self.vmas.insert(start, v);
        self.settle(g, start, end);
    }

    /// Remove `[start, end)`: its pages' frames are released and the
    /// window forgets them.
    pub fn unmap(&mut self, g: &mut Guest, start: u32, end: u64) {
        let pieces = self.vmas.remove(start, end);
        if pieces.is_empty() {
            return;
        }
        self.drop_pages(start >> 12, end.div_ceil(4096) as u32);
        let _ = g.unmap(start, end - start as u64);
    }

    /// Release the frames of pages `[first, end)`.
    pub fn drop_pages(&mut self, first: u32, end: u32) {
        let present = self.pt.drain(first, end);
        if present.is_empty() {
            return;
        }
        self.publish();
        memory().put_many(present.iter().map(|(_, e)| e.frame));
    }

    /// Change the protection of `[start, end)`; false if part is unmapped.
    pub fn protect(&mut self, g: &mut Guest, start: u32, end: u64, prot: u8) -> bool {
        if !self.vmas.protect(start, end, prot) {
            return false;
        }
        // Translations go if the pages may no longer be executed.
        use vx_core::window::pf;
        let exec = prot & pf::EXEC != 0;
        // Made read-only (or inaccessible), as the loader does with data
        // it has relocated: a mapped range only changes its protection on
        // the host (no page needs more rights than it had; translations
        // go, as below). Otherwise host mappings carry the old protection:
        // flush them.
        let len = end - start as u64;
        if prot & (pf::WRITE | pf::EXEC) != 0 || g.protect(start, len, prot).is_err() {
            let _ = g.evict(start, len, (!exec).then_some(vx_core::observe::Why::Protected));
        }
        self.settle(g, start, end);
        true
    }

    /// Release every frame (process exit or exec).
    pub fn release(&mut self) {
        self.drop_pages(0, 1 << 20);
        self.vmas = Vmas::default();
    }
}

impl Drop for Mm {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::fault::Access;
    use super::*;
    use vma::Backing;
    use vx_core::window::pf;

    #[test]
    fn copy_on_write_clone() {
        let mut g = Guest::new().unwrap();
        let mut mm = Mm::new(0);
        mm.map(
            &mut g,
            0x10000,
            Vma { end: 0x14000, prot: pf::READ | pf::WRITE, backing: Backing::Anon, grows_down: false },
        );
        mm.populate(&mut g, 0x10000, 0x4000, Access::Write).unwrap();
        g.write(0x10000, b"parent").unwrap();
        let f = mm.pt.get(0x10).unwrap().frame;
        let mut g2 = Guest::new().unwrap();
        let mut child = mm.clone_cow(&mut g, &mut g2, None);
        assert_eq!(child.pt.get(0x10).unwrap().frame, f, "the child shares the frame");
        assert_eq!(memory().refs(f), 2);
        // The parent writes: its page is copied, the child keeps the original.
        mm.populate(&mut g, 0x10000, 1, Access::Write).unwrap();
        g.write(0x10000, b"PARENT").unwrap();
        let pf2 = mm.pt.get(0x10).unwrap().frame;
        assert_ne!(pf2, f);
        assert_eq!(mm.stats.cow_copies, 1);
        let mut b = [0u8; 6];
        memory().read(f, 0, &mut b);
        assert_eq!(&b, b"parent");
        // The child, now alone with its frame, takes it over without a copy.
        child.populate(&mut g2, 0x10000, 1, Access::Write).unwrap();
        assert_eq!(child.pt.get(0x10).unwrap().frame, f);
        assert_eq!(child.stats.cow_copies, 0);
        assert_eq!(child.stats.cow_takeovers, 1);
        assert_eq!(memory().refs(f), 1);
    }

    #[test]
    fn faults_outside_vmas_and_against_protection() {
        let mut g = Guest::new().unwrap();
        let mut mm = Mm::new(0);
        mm.map(&mut g, 0x20000, Vma { end: 0x21000, prot: pf::READ, backing: Backing::Anon, grows_down: false });
        assert_eq!(mm.fault(&mut g, 0x30000, Access::Read).unwrap_err().code, 1, "SEGV_MAPERR");
        assert_eq!(mm.fault(&mut g, 0x20000, Access::Write).unwrap_err().code, 2, "SEGV_ACCERR");
        assert!(mm.fault(&mut g, 0x20000, Access::Read).is_ok());
        assert_eq!(mm.resident(), 1);
        mm.unmap(&mut g, 0x20000, 0x21000);
        assert_eq!(mm.resident(), 0);
    }
}
