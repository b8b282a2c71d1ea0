//! fork's copy of an address space.
//!
//! The child shares every frame copy-on-write, except the pages the last
//! forks saw written soon after: those (`ForkHints`) are copied at once and
//! mapped writable in the child's window, and the parent keeps its own
//! writable, host mappings included. A fork loop or a shell thus pays no
//! copy-on-write fault (a host SIGSEGV, a copy and a host mapping each) for
//! the stack and data pages both sides write right away, and the parent's
//! window keeps what it had mapped: only pages it had mapped writable that
//! become shared lose their host mappings.

use super::fault::memory_fd;
use super::frame::FRAME_SIZE;
use super::pagetable::{pte, Pte};
use super::vma::Backing;
use super::{memory, Mm};
use std::sync::Arc;
use vx_core::window::{pf, Window};
use vx_core::Guest;

/// Windows of ended forked processes, with the key of their parent's
/// hints and their host mapping counts, for the parent's next children.
static WINDOWS: parking_lot::Mutex<Vec<(usize, Window, u32)>> = parking_lot::Mutex::new(Vec::new());
/// How many windows are kept.
const WINDOWS_MAX: usize = 4;
/// Windows with more host mappings than this are not kept.
const KEEP_MAPS_MAX: u32 = 1024;

/// The key of an address space's hints, naming it in `WINDOWS`.
fn key(h: &Arc<ForkHints>) -> usize {
    Arc::as_ptr(h) as usize
}

/// Keep the window of the ended image `mm` of a forked process, whose
/// `guest` goes (it must not be used afterwards), for its parent's next
/// child.
pub fn keep_window(mm: &Mm, guest: &mut Guest) {
    let Some(h) = &mm.parent_hints else { return };
    if mm.live_maps > KEEP_MAPS_MAX {
        return;
    }
    let mut ws = WINDOWS.lock();
    let old = if ws.len() >= WINDOWS_MAX { Some(ws.remove(0)) } else { None };
    ws.push((key(h), guest.take_window(), mm.live_maps));
    drop(ws);
    drop(old);
}

/// A guest for a child of `mm`: on the window its last child left, if
/// any (with that window's host mapping count, for `clone_cow`), else new.
pub fn child_guest(mm: &Mm) -> std::io::Result<(Guest, Option<u32>)> {
    let mut ws = WINDOWS.lock();
    let Some(i) = ws.iter().rposition(|w| w.0 == key(&mm.hints)) else {
        drop(ws);
        return Ok((Guest::new()?, None));
    };
    let (_, w, maps) = ws.remove(i);
    drop(ws);
    Ok((Guest::with_window(w)?, Some(maps)))
}

/// Pages between two runs to flush that make them one.
const FLUSH_GAP: u32 = 64;
/// Most pages remembered (and copied by one fork).
const HINTS_MAX: usize = 32;
/// Copy-on-write faults an address space notes after a fork (its own) or
/// after its birth (for its parent): the writes that follow a fork.
pub const NOTE_MAX: u32 = 16;

/// Pages written through copy-on-write soon after the last forks, by the
/// parent or by its children, oldest first.
#[derive(Default)]
pub struct ForkHints(parking_lot::Mutex<Vec<u32>>);

impl ForkHints {
    /// Note that `page` was written after a fork.
    pub fn note(&self, page: u32) {
        let mut v = self.0.lock();
        if let Some(i) = v.iter().position(|&p| p == page) {
            v.remove(i);
        } else if v.len() >= HINTS_MAX {
            v.remove(0);
        }
        v.push(page);
    }

    /// The pages noted, in address order.
    fn pages(&self) -> Vec<u32> {
        let mut v = self.0.lock().clone();
        v.sort_unstable();
        v
    }
}

impl Mm {
    /// Note a write to a copy-on-write page: for this address space's next
    /// fork, and for its parent's, if it is soon after either.
    pub(super) fn note_cow_write(&mut self, page: u32) {
        if self.notes < NOTE_MAX {
            self.notes += 1;
            self.hints.note(page);
            if let Some(h) = &self.parent_hints {
                h.note(page);
            }
        }
    }

    /// Make a copy-on-write clone of this address space for `fork`, whose
    /// window is `cg`: the child shares every frame except the hinted
    /// pages, which it gets copies of, mapped; other private writable
    /// pages become read-only in both until one of them writes. `cg` is
    /// new and empty, or (`reused` gives its host mapping count) the window
    /// an ended child left: its mappings that show what the new child
    /// holds stay, the others go.
    pub fn clone_cow(&mut self, g: &mut Guest, cg: &mut Guest, reused: Option<u32>) -> Mm {
        for p in std::mem::take(&mut self.image_pages) {
            let _ = self.populate(g, p << 12, 1, super::fault::Access::Read);
        }
        let mut child = Mm::new(self.brk_start);
        child.brk = self.brk;
        child.vdso = self.vdso;
        child.vmas = self.vmas.clone();
        child.parent_hints = Some(self.hints.clone());
        child.notes = 0;
        self.notes = 0;
        let hints = self.hints.pages();
        let mut hint = hints.iter().copied().peekable();
        // The pages to copy: (page, entry, protection).
        let mut copy: Vec<(u32, Pte, u8)> = Vec::new();
        // Runs of pages whose host mappings lose write permission.
        let mut flush: Vec<(u32, u32)> = Vec::new();
        let mut mem = memory();
        for (start, v) in self.vmas.iter() {
            let private = !matches!(v.backing, Backing::Shared { .. });
            let may_write = v.prot & pf::WRITE != 0;
            let cpt = &mut child.pt;
            self.pt.visit_mut(start >> 12, v.end.div_ceil(4096) as u32, |p, e| {
                while hint.next_if(|&h| h < p).is_some() {}
                if private && may_write && hint.next_if_eq(&p).is_some() {
                    copy.push((p, *e, v.prot));
                    return;
                }
                mem.get(e.frame);
                if private && e.flags & pte::WRITABLE != 0 {
                    e.flags = (e.flags & !pte::WRITABLE) | pte::COW;
                    if g.window().page_flags(p << 12) & (pf::MAPPED | pf::WRITE) == pf::MAPPED | pf::WRITE {
                        // Runs a few pages apart are flushed as one (the
                        // pages between fault back in): few host calls
                        // however scattered the written pages are.
                        match flush.last_mut() {
                            Some((_, end)) if p - *end <= FLUSH_GAP => *end = p + 1,
                            _ => flush.push((p, p + 1)),
                        }
                    }
                } else if private && e.flags & pte::COW == 0 && !may_write {
                    // A private page not writable now may become writable
                    // through mprotect: share it copy-on-write too.
                    e.flags |= pte::COW;
                }
                cpt.set(p, Some(*e));
            });
        }
        // The copies, in runs of frames that follow each other where the
        // pages do, each run mapped in the child's window at once.
        let mut maps: Vec<(u32, u32, u32, u8)> = Vec::new();
        let mut i = 0;
        while i < copy.len() {
            let (p0, _, prot) = copy[i];
            let mut n = 1;
            while i + n < copy.len() && copy[i + n].0 == p0 + n as u32 && copy[i + n].2 == prot {
                n += 1;
            }
            let got = match mem.alloc_for_copy(n as u32) {
                Ok((f, got)) => {
                    for (k, &(p, e, _)) in copy[i..i + got as usize].iter().enumerate() {
                        mem.copy(e.frame, f + k as u32);
                        child.pt.set(p, Some(Pte { frame: f + k as u32, flags: pte::WRITABLE }));
                    }
                    maps.push((p0, f, got, prot));
                    child.stats.fork_copies += got as u64;
                    got as usize
                }
                Err(_) => {
                    // No frame left: share the rest copy-on-write.
                    for &(p, mut e, _) in &copy[i..] {
                        mem.get(e.frame);
                        if e.flags & pte::WRITABLE != 0 {
                            e.flags = (e.flags & !pte::WRITABLE) | pte::COW;
                            self.pt.set_flags(p, e.flags);
                            flush.push((p, p + 1));
                        }
                        child.pt.set(p, Some(e));
                    }
                    break;
                }
            };
            i += got;
        }
        drop(mem);
        // The parent's host mappings of pages now shared that were
        // writable: flush them, in runs (the rest stay as they are).
        for (first, end) in flush {
            let _ = g.evict(first << 12, (end - first) as u64 * FRAME_SIZE as u64, None);
        }
        child.live_maps = reused.unwrap_or(0);
        for (first, f, n, prot) in maps {
            if (0..n).all(|i| cg.window().maps(first + i, f + i, prot)) {
                continue;
            }
            let r =
                cg.map_fd(first << 12, n as u64 * FRAME_SIZE as u64, memory_fd(), f as u64 * FRAME_SIZE as u64, prot);
            debug_assert!(r.is_ok(), "map_fd: {r:?}");
            child.live_maps += 1;
            child.stats.host_maps += 1;
        }
        if reused.is_some() {
            child.drop_stale_maps(cg);
        }
        child
    }

    /// Evict the host mappings of window `g` that do not show what this
    /// address space holds: the wrong frame, or another protection than a
    /// fault would map it with.
    fn drop_stale_maps(&self, g: &mut Guest) {
        let mut stale: Vec<(u32, u32)> = Vec::new();
        g.window().for_each_mapped(|p, flags, src| {
            let want = self.pt.get(p).zip(self.vmas.find(p << 12)).map(|(e, (_, v))| {
                let prot = if e.flags & pte::WRITABLE != 0 { v.prot } else { v.prot & !pf::WRITE };
                (e.frame, prot)
            });
            if src.is_none() || want != src.map(|f| (f, flags & pf::PROT_MASK)) {
                match stale.last_mut() {
                    Some((_, end)) if *end == p => *end += 1,
                    _ => stale.push((p, p + 1)),
                }
            }
        });
        for (first, end) in stale {
            let _ = g.evict(first << 12, (end - first) as u64 * FRAME_SIZE as u64, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fault::Access;
    use super::super::vma::Vma;
    use super::*;

    #[test]
    fn hinted_pages_are_copied_at_fork() {
        let mut g = Guest::new().unwrap();
        let mut mm = Mm::new(0);
        let rw = pf::READ | pf::WRITE;
        mm.map(&mut g, 0x10000, Vma { end: 0x14000, prot: rw, backing: Backing::Anon, grows_down: false });
        mm.populate(&mut g, 0x10000, 0x4000, Access::Write).unwrap();
        g.write(0x10000, b"parent").unwrap();
        let f = mm.pt.get(0x10).unwrap().frame;
        // A first child writes the page: a copy-on-write fault, noted.
        let mut g1 = Guest::new().unwrap();
        let mut c1 = mm.clone_cow(&mut g, &mut g1, None);
        c1.populate(&mut g1, 0x10000, 1, Access::Write).unwrap();
        assert_eq!(c1.stats.cow_copies, 1);
        drop(c1);
        // The next child gets its own copy at once, mapped writable; the
        // parent keeps its frame, writable.
        let mut g2 = Guest::new().unwrap();
        let c2 = mm.clone_cow(&mut g, &mut g2, None);
        assert_eq!(c2.stats.fork_copies, 1);
        let e = c2.pt.get(0x10).unwrap();
        assert_ne!(e.frame, f);
        assert_eq!(e.flags, pte::WRITABLE);
        assert!(g2.window().page_flags(0x10000) & pf::WRITE != 0);
        let mut b = [0u8; 6];
        g2.read(0x10000, &mut b).unwrap();
        assert_eq!(&b, b"parent");
        assert_eq!(mm.pt.get(0x10).unwrap().frame, f);
        assert_eq!(memory().refs(f), 1);
        // The other pages are shared copy-on-write.
        assert_eq!(c2.pt.get(0x11).unwrap().frame, mm.pt.get(0x11).unwrap().frame);
        assert!(mm.pt.get(0x11).unwrap().flags & pte::COW != 0);
    }

    #[test]
    fn a_kept_window_shows_the_new_child_its_own_memory() {
        let mut g = Guest::new().unwrap();
        let mut mm = Mm::new(0);
        let rw = pf::READ | pf::WRITE;
        mm.map(&mut g, 0x20000, Vma { end: 0x22000, prot: rw, backing: Backing::Anon, grows_down: false });
        mm.populate(&mut g, 0x20000, 0x2000, Access::Write).unwrap();
        g.write(0x21000, b"old").unwrap();
        // A child reads the page (its window maps the shared frame) and ends.
        let (mut g1, reused) = child_guest(&mm).unwrap();
        assert!(reused.is_none());
        let mut c1 = mm.clone_cow(&mut g, &mut g1, reused);
        c1.populate(&mut g1, 0x21000, 1, Access::Read).unwrap();
        assert!(g1.window().page_flags(0x21000) & pf::MAPPED != 0);
        keep_window(&c1, &mut g1);
        // The parent writes the page: a copy (not noted for the next
        // fork, which thus shares it).
        mm.notes = NOTE_MAX;
        mm.populate(&mut g, 0x21000, 1, Access::Write).unwrap();
        g.write(0x21000, b"new").unwrap();
        assert_eq!(mm.stats.cow_copies, 1);
        drop(c1);
        // The next child gets that window, without the stale mapping.
        let (mut g2, reused) = child_guest(&mm).unwrap();
        assert!(reused.is_some());
        let c2 = mm.clone_cow(&mut g, &mut g2, reused);
        assert_eq!(g2.window().page_flags(0x21000) & pf::MAPPED, 0);
        let mut c2 = c2;
        c2.populate(&mut g2, 0x21000, 1, Access::Read).unwrap();
        let mut b = [0u8; 3];
        g2.read(0x21000, &mut b).unwrap();
        assert_eq!(&b, b"new");
    }
}
