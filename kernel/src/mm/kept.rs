//! Guests of ended programs, kept for the next exec of the same program.
//!
//! A program that ends (exits, or execs another) leaves a window holding
//! host mappings of its file's pages (text, read-only data) and a code
//! cache holding its translations. Starting the next run of the same
//! program on them spares the host calls that build a window (a 12 GiB
//! reservation, then a mapping per run of pages the program touches) and
//! tear it down, and the copy of the program's translations into a new
//! cache (`progcache`). A shell running a loop, `make`, `xargs` and
//! `find -exec` run the same few programs again and again.
//!
//! What is kept must show exactly what the new image holds, so it is
//! checked twice:
//! - when the program ends (`prepare`), every mapping and every page with
//!   translations goes unless the page is, in the ending address space,
//!   a file page in the page cache mapped read-only (writable mappings,
//!   anonymous memory, private copies, shared mappings all go); each page
//!   that stays is recorded with the file page it shows (which file,
//!   which version, which page);
//! - when the program is exec'd again and its address space is laid out
//!   (`Mm::adopt`), a recorded page stays only where the new image maps
//!   the same page of the same version of the same file (executable, for
//!   a page with translations), and a mapping only if the page cache
//!   still holds that frame for it; the page table takes the frame as a
//!   read fault would have. Everything else goes before the guest runs.
//!
//! The record also names the private pages the run wrote; when the next
//! image maps the same thing at those places, they are made at once
//! (`Mm::make_written`: copies of the page-cache frames, or zero frames,
//! one host mapping per run) instead of faulting one by one as the program
//! writes them again.
//!
//! Between the two, nothing runs in the window, so a frame freed and used
//! again meanwhile is never seen through a stale mapping.

use super::pagecache;
use super::pagetable::{pte, Pte};
use super::vma::{Backing, Pager};
use super::{memory, Mm};
use crate::progcache::ImageKey;
use parking_lot::Mutex;
use vx_core::window::pf;
use vx_core::Guest;

/// One version of one program file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ProgKey {
    file: (u64, u64),
    vers: u32,
    size: u64,
}

impl ProgKey {
    /// The key of a program file; None if the file has no version (its
    /// pages are not in the page cache).
    pub fn of(prog: &dyn Pager) -> Option<ProgKey> {
        let (size, vers) = prog.size_vers().ok()?;
        Some(ProgKey { file: prog.key(), vers: vers?, size })
    }
}

/// What `prepare` found worth keeping of an ending program's guest.
pub struct Record {
    key: ProgKey,
    /// The pages kept (mapped, or with translations), in address order,
    /// with the file page each shows.
    pages: Vec<(u32, pagecache::Key)>,
    /// The images of files whose translations its code cache took in.
    images: Vec<ImageKey>,
    /// The pages it had written (private copies of file pages, with the
    /// file page each copied; anonymous pages, None), ascending: the next
    /// run most likely writes them too (`Mm::adopt` makes them at once).
    written: Vec<(u32, Option<pagecache::Key>)>,
}

/// Written pages recorded at most (8 MiB).
const WRITTEN_MAX: usize = 2048;

/// A guest kept for the next exec of its program, with its record.
struct Kept {
    guest: Guest,
    record: Record,
}

static KEPT: Mutex<Vec<Kept>> = Mutex::new(Vec::new());
/// Guests kept at most (the least recently kept goes first).
const KEPT_MAX: usize = 4;
/// Windows with more host mappings than this are not kept.
const KEEP_MAPS_MAX: u32 = 1024;

/// A VMA as the checks see it: its range and, for a private mapping of a
/// file with versions, the file page at its start.
#[derive(Clone, Copy)]
struct View {
    start: u32,
    end: u64,
    prot: u8,
    file: Option<(ProgKey, u64, u64)>,
}

impl View {
    /// The VMA of `mm` holding `addr` (one size_vers call for its file).
    fn of(mm: &Mm, addr: u32) -> Option<View> {
        let (start, v) = mm.vmas.find(addr)?;
        let file = match &v.backing {
            Backing::File { file, offset, file_end } => ProgKey::of(&**file).map(|k| (k, *offset, *file_end)),
            _ => None,
        };
        Some(View { start, end: v.end, prot: v.prot, file })
    }

    fn holds(&self, addr: u32) -> bool {
        self.start <= addr && (addr as u64) < self.end
    }

    /// The page-cache key of page `p` (in this VMA).
    fn page(&self, p: u32) -> Option<pagecache::Key> {
        let (k, offset, file_end) = self.file?;
        let off = offset + ((p - (self.start >> 12)) as u64) * 4096;
        Some(pagecache::Key {
            file: k.file,
            vers: k.vers,
            size: k.size,
            page: off / 4096,
            len: file_end.saturating_sub(off).min(4096) as u16,
        })
    }
}

/// The view of the VMA holding `addr`, looked up again only when `addr`
/// leaves the last one.
fn view_at(mm: &Mm, last: &mut Option<View>, addr: u32) -> Option<View> {
    if !last.is_some_and(|v| v.holds(addr)) {
        *last = View::of(mm, addr);
    }
    *last
}

/// Runs of pages (with a protection, where it matters), for host calls
/// one per run.
#[derive(Default)]
struct Runs(Vec<(u32, u32, u8)>);

impl Runs {
    fn add(&mut self, p: u32) {
        self.add_prot(p, 0)
    }

    fn add_prot(&mut self, p: u32, prot: u8) {
        match self.0.last_mut() {
            Some((_, end, q)) if *end == p && *q == prot => *end += 1,
            _ => self.0.push((p, p + 1, prot)),
        }
    }

    /// Each run as (address, length, protection).
    fn each(&self, mut f: impl FnMut(u32, u64, u8)) {
        for &(first, end, prot) in &self.0 {
            f(first << 12, (end - first) as u64 * 4096, prot);
        }
    }
}

/// Before the address space `mm` of an ending exec'd program goes: drop
/// from its guest `g` every mapping and translation that is not of a
/// file page in the page cache, and record the rest. None if the guest
/// is not worth keeping (not an exec'd program, or too many mappings).
/// The caller makes sure no other thread holds `mm` or `g`.
pub fn prepare(mm: &Mm, g: &mut Guest) -> Option<Record> {
    let key = mm.exe?;
    if mm.parent_hints.is_some() || mm.live_maps > KEEP_MAPS_MAX {
        return None;
    }
    let mut pages = Vec::new();
    let (mut unmap, mut forget) = (Runs::default(), Runs::default());
    let mut last = None;
    let mut pending = mm.pending.iter().peekable();
    g.window().for_each_page(pf::MAPPED | pf::CODE | pf::KEPT, |p, flags, src| {
        // Set aside from an earlier run and still not settled: as it was.
        while pending.next_if(|&&(q, _)| q < p).is_some() {}
        if let Some(&(_, k)) = pending.next_if(|&&(q, _)| q == p) {
            pages.push((p, k));
            return;
        }
        if flags & pf::KEPT != 0 {
            unmap.add(p);
            return;
        }
        let k = view_at(mm, &mut last, p << 12).and_then(|v| v.page(p));
        // In the page table (if there): the page-cache frame, shared.
        let shown = k.filter(|k| match mm.pt.get(p) {
            None => flags & pf::MAPPED == 0,
            Some(e) => {
                e.flags & pte::COW != 0
                    && e.flags & pte::WRITABLE == 0
                    && (flags & pf::MAPPED == 0 || (flags & pf::WRITE == 0 && src == Some(e.frame)))
                    && pagecache::holds(k, e.frame)
            }
        });
        match shown {
            Some(k) => pages.push((p, k)),
            None if flags & pf::MAPPED != 0 => unmap.add(p),
            None => forget.add(p),
        }
    });
    unmap.each(|a, n, _| {
        let _ = g.evict(a, n, Some(vx_core::observe::Why::Unmapped));
    });
    forget.each(|a, n, _| g.forget_code(a, n));
    // Set aside with no mapping left, only translations.
    let mut seen: Vec<u32> = pages.iter().map(|&(p, _)| p).collect();
    seen.sort_unstable();
    for &(p, k) in &mm.pending {
        if seen.binary_search(&p).is_err() && g.has_parked(p) {
            pages.push((p, k));
        }
    }
    pages.sort_unstable_by_key(|&(p, _)| p);
    Some(Record { key, pages, images: mm.images.clone(), written: written_pages(mm) })
}

/// The private pages `mm` has written, in writable private VMAs: copies of
/// file pages (with the file page) and anonymous pages.
fn written_pages(mm: &Mm) -> Vec<(u32, Option<pagecache::Key>)> {
    let mut out = Vec::new();
    for (start, v) in mm.vmas.iter() {
        // (A page written and then made read-only, as the loader does
        // with relocated data, counts: it is written again next time.)
        if matches!(v.backing, Backing::Shared { .. }) {
            continue;
        }
        let view = View::of(mm, start);
        for (p, e) in mm.pt.range(start >> 12, v.end.div_ceil(4096) as u32) {
            if out.len() >= WRITTEN_MAX {
                break;
            }
            if e.flags & pte::WRITABLE != 0 {
                match &v.backing {
                    Backing::File { .. } => {
                        if let Some(k) = view.and_then(|w| w.page(p)) {
                            out.push((p, Some(k)));
                        }
                    }
                    _ => out.push((p, None)),
                }
            }
        }
    }
    out
}

/// Keep `g`, the guest of an ended program `prepare` looked at, for the
/// next exec of that program.
pub fn keep(record: Record, g: Guest) {
    let mut kept = KEPT.lock();
    kept.retain(|k| k.record.key != record.key);
    let old = if kept.len() >= KEPT_MAX { Some(kept.remove(0)) } else { None };
    kept.push(Kept { guest: g, record });
    drop(kept);
    drop(old);
}

/// A guest for an exec of `key`: the one its last run left, started
/// afresh, with what `Mm::adopt` needs; else a new one.
pub fn guest_for(key: Option<ProgKey>) -> std::io::Result<(Guest, Option<Record>)> {
    let found = key.and_then(|key| {
        let mut kept = KEPT.lock();
        let i = kept.iter().position(|k| k.record.key == key)?;
        Some(kept.remove(i))
    });
    if let Some(mut k) = found {
        if k.guest.renew().is_ok() {
            return Ok((k.guest, Some(k.record)));
        }
    }
    Ok((Guest::new()?, None))
}

impl Mm {
    /// Take over what a kept guest `g` (see `guest_for`) holds that shows
    /// this new image of its program, laid out by exec; what shows pages
    /// the image has not mapped yet (its libraries) is set aside for
    /// `settle` to look at when they are mapped; the rest goes.
    pub fn adopt(&mut self, g: &mut Guest, record: Record) {
        self.pending = record.pages;
        self.written = record.written;
        self.settle_pages(g, 0, 1 << 20, true);
        self.make_written(g, 0, 1 << 20);
        // The code cache holds these images' translations (or has them
        // set aside for when their files are mapped again).
        self.images = record.images;
        self.publish();
    }

    /// Make at once, mapped writable, the pages the last run of the
    /// program wrote that this image has in the same place (the same file
    /// page, or anonymous memory): copies of their page-cache frames, or
    /// zero frames, in runs of frames that follow each other, one host
    /// mapping per run, instead of a fault (a host signal, a copy and a
    /// mapping) for each page as the program first writes it.
    fn make_written(&mut self, g: &mut Guest, first: u32, end: u32) {
        let from = self.written.partition_point(|&(p, _)| p < first);
        let to = self.written.partition_point(|&(p, _)| p < end);
        if from == to {
            return;
        }
        // Those of the range mapped now are looked at once: made now, or
        // never; the others wait for their mapping.
        let written: Vec<(u32, Option<pagecache::Key>)> = self.written.drain(from..to).collect();
        let mut wait = Vec::new();
        let mut last = None;
        // The pages to make: (page, page-cache frame to copy or None, protection).
        let mut todo: Vec<(u32, Option<super::frame::Frame>, u8)> = Vec::new();
        for &(p, k) in &written {
            if self.pt.get(p).is_some() {
                continue;
            }
            let Some(v) = view_at(self, &mut last, p << 12) else {
                wait.push((p, k));
                continue;
            };
            let Some((_, vma)) = self.vmas.find(p << 12) else { continue };
            if v.prot & pf::WRITE == 0 {
                continue;
            }
            let src = match (&vma.backing, k) {
                (Backing::Anon, None) => None,
                (Backing::File { .. }, Some(k)) if v.page(p) == Some(k) => match pagecache::get(&k) {
                    Some(f) => Some(f),
                    None => continue,
                },
                _ => continue,
            };
            todo.push((p, src, v.prot));
        }
        if !wait.is_empty() {
            self.written.extend(wait);
            self.written.sort_unstable_by_key(|&(p, _)| p);
        }
        let mut i = 0;
        while i < todo.len() {
            let (p0, _, prot) = todo[i];
            let mut n = 1;
            let anon = todo[i].1.is_none();
            while i + n < todo.len()
                && todo[i + n].0 == p0 + n as u32
                && todo[i + n].2 == prot
                && todo[i + n].1.is_none() == anon
            {
                n += 1;
            }
            let got = {
                let mut mem = memory();
                // Zero frames for anonymous pages, any for copies.
                let r = if anon { mem.alloc_run(n as u32) } else { mem.alloc_for_copy(n as u32) };
                let Ok((f, got)) = r else {
                    // No memory to spare: the rest fault in as they are written.
                    mem.put_many(todo[i..].iter().filter_map(|t| t.1));
                    drop(mem);
                    break;
                };
                for (j, &(p, src, _)) in todo[i..i + got as usize].iter().enumerate() {
                    if let Some(s) = src {
                        mem.copy(s, f + j as u32);
                        mem.put(s);
                    }
                    self.pt.set(p, Some(Pte { frame: f + j as u32, flags: pte::WRITABLE }));
                }
                drop(mem);
                let r = g.map_fd(p0 << 12, got as u64 * 4096, super::fault::memory_fd(), f as u64 * 4096, prot);
                debug_assert!(r.is_ok(), "map_fd: {r:?}");
                self.live_maps += 1;
                self.stats.host_maps += 1;
                got as usize
            };
            i += got;
        }
    }

    /// After `[start, end)` was mapped or its protection changed: settle
    /// the pages there that a kept guest set aside, and make those the
    /// program's last run wrote there (see `adopt`).
    pub fn settle(&mut self, g: &mut Guest, start: u32, end: u64) {
        let (first, end) = (start >> 12, end.div_ceil(4096).min(1 << 20) as u32);
        if !self.pending.is_empty() {
            self.settle_pages(g, first, end, false);
        }
        if !self.written.is_empty() {
            self.make_written(g, first, end);
        }
    }

    /// Settle the set-aside pages in `[first, end)`: a page the image maps
    /// now from the very file page it showed is taken over (its mapping,
    /// if the page cache still holds that frame, as a read fault would
    /// make it; its translations where it is executable); a page that
    /// shows something else now loses what was kept of it; a page the
    /// image has not mapped stays set aside (at exec, `at_exec`, hidden).
    fn settle_pages(&mut self, g: &mut Guest, first: u32, end: u32, at_exec: bool) {
        let from = self.pending.partition_point(|&(p, _)| p < first);
        let to = self.pending.partition_point(|&(p, _)| p < end);
        let here: Vec<(u32, pagecache::Key)> = self.pending.drain(from..to).collect();
        let mut still = Vec::new();
        let (mut hide, mut drop_all) = (Runs::default(), Runs::default());
        let (mut show, mut code) = (Runs::default(), Runs::default());
        let mut last = None;
        for (p, k) in here {
            let flags = g.window().page_flags(p << 12);
            let vma = view_at(self, &mut last, p << 12);
            let Some(v) = vma else {
                // Nothing there yet: a library not mapped yet.
                if at_exec {
                    hide.add(p);
                }
                still.push((p, k));
                continue;
            };
            // The same file page, and in the page table (if there) its
            // page-cache frame, shared.
            let same = v.page(p) == Some(k)
                && self.pt.get(p).is_none_or(|e| {
                    e.flags & pte::COW != 0 && e.flags & pte::WRITABLE == 0 && pagecache::holds(&k, e.frame)
                });
            if !same {
                if self.pt.get(p).is_some() {
                    // The image's own page now (exec wrote it): keep its
                    // mapping, drop what was kept.
                    g.forget_code(p << 12, 4096);
                    g.discard_parked(p);
                } else {
                    drop_all.add(p);
                }
                continue;
            }
            let prot = v.prot & !pf::WRITE;
            if self.pt.get(p).is_none() && flags & (pf::MAPPED | pf::KEPT) != 0 {
                let shown = flags & pf::KEPT != 0 || flags & pf::PROT_MASK == prot;
                match g.window().mapped_from(p).filter(|&f| shown && pagecache::take_if_holds(&k, f)) {
                    Some(f) => {
                        self.pt.set(p, Some(Pte { frame: f, flags: pte::COW }));
                        self.live_maps += 1;
                        if flags & pf::KEPT != 0 {
                            show.add_prot(p, prot);
                        }
                    }
                    None => {
                        let _ = g.evict(p << 12, 4096, None);
                    }
                }
            }
            if g.has_parked(p) {
                if v.prot & pf::EXEC != 0 {
                    code.add(p);
                } else {
                    // Not executable (yet): the translations wait.
                    still.push((p, k));
                }
            } else if flags & pf::CODE != 0 && v.prot & pf::EXEC == 0 {
                g.forget_code(p << 12, 4096);
            }
        }
        hide.each(|a, n, _| g.park(a, n));
        show.each(|a, n, prot| g.unpark(a, n, Some(prot), false));
        code.each(|a, n, _| g.unpark(a, n, None, true));
        drop_all.each(|a, n, _| {
            let _ = g.evict(a, n, Some(vx_core::observe::Why::Unmapped));
            for p in a >> 12..(a >> 12) + (n / 4096) as u32 {
                g.discard_parked(p);
            }
        });
        if !still.is_empty() {
            self.pending.extend(still);
            self.pending.sort_unstable_by_key(|&(p, _)| p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fault::Access;
    use super::super::vma::Vma;
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    /// A program file in memory whose version the test changes.
    struct Prog {
        id: u64,
        bytes: Vec<u8>,
        vers: AtomicU32,
    }

    impl Pager for Prog {
        fn read_at(&self, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
            let from = (off as usize).min(self.bytes.len());
            let n = buf.len().min(self.bytes.len() - from);
            buf[..n].copy_from_slice(&self.bytes[from..from + n]);
            Ok(n)
        }
        fn write_all_at(&self, _: &[u8], _: u64) -> std::io::Result<()> {
            Err(std::io::Error::from_raw_os_error(libc::EROFS))
        }
        fn size(&self) -> std::io::Result<u64> {
            Ok(self.bytes.len() as u64)
        }
        fn key(&self) -> (u64, u64) {
            (u64::MAX - 1, self.id)
        }
        fn size_vers(&self) -> std::io::Result<(u64, Option<u32>)> {
            Ok((self.bytes.len() as u64, Some(self.vers.load(Ordering::Relaxed))))
        }
    }

    const TEXT: u32 = 0x10000;
    const DATA: u32 = 0x12000;
    const BSS: u32 = 0x13000;

    /// An image of `prog` as exec lays it out: two pages of text, a page
    /// of data (from the file, writable) and a page of bss.
    fn image(g: &mut Guest, prog: &Arc<Prog>) -> Mm {
        let mut mm = Mm::new(0);
        mm.exe = ProgKey::of(&**prog);
        let file: Arc<dyn Pager> = prog.clone();
        let text = Backing::File { file: file.clone(), offset: 0, file_end: 0x2000 };
        let data = Backing::File { file, offset: 0x2000, file_end: 0x3000 };
        let (rx, rw) = (pf::READ | pf::EXEC, pf::READ | pf::WRITE);
        mm.map(g, TEXT, Vma { end: DATA as u64, prot: rx, backing: text, grows_down: false });
        mm.map(g, DATA, Vma { end: BSS as u64, prot: rw, backing: data, grows_down: false });
        mm.map(g, BSS, Vma { end: BSS as u64 + 0x1000, prot: rw, backing: Backing::Anon, grows_down: false });
        mm
    }

    /// Run an image: read the text, write the data and bss; then end it,
    /// keeping its guest.
    fn run_and_end(prog: &Arc<Prog>) {
        let (mut g, record) = guest_for(ProgKey::of(&**prog)).unwrap();
        let mut mm = image(&mut g, prog);
        if let Some(r) = record {
            mm.adopt(&mut g, r);
        }
        mm.populate(&mut g, TEXT, 0x2000, Access::Read).unwrap();
        mm.populate(&mut g, DATA, 0x2000, Access::Write).unwrap();
        g.write(DATA, b"written").unwrap();
        g.write(BSS, b"bss").unwrap();
        let record = prepare(&mm, &mut g).expect("an exec'd image is kept");
        drop(mm);
        keep(record, g);
    }

    fn prog(id: u64) -> Arc<Prog> {
        let mut bytes = vec![0u8; 0x3000];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i / 4096) as u8 + 1 + id as u8;
        }
        Arc::new(Prog { id, bytes, vers: AtomicU32::new(1) })
    }

    #[test]
    fn the_next_run_keeps_only_the_file_pages() {
        let p = prog(1);
        run_and_end(&p);
        let (mut g, record) = guest_for(ProgKey::of(&*p)).unwrap();
        let record = record.expect("the ended run's guest");
        let mut mm = image(&mut g, &p);
        mm.adopt(&mut g, record);
        // The text is mapped and in the page table, as after read faults;
        // the private data copy and the bss are gone.
        let w = g.window();
        for page in [TEXT, TEXT + 0x1000] {
            assert_eq!(w.page_flags(page) & (pf::MAPPED | pf::WRITE), pf::MAPPED, "text {page:#x}");
            let f = mm.pt.get(page >> 12).expect("the text page is present").frame;
            assert_eq!(w.mapped_from(page >> 12), Some(f));
        }
        // The pages the last run wrote are made at once, writable: a fresh
        // copy of the file's data page, a zero bss page.
        for page in [DATA, BSS] {
            assert_eq!(w.page_flags(page) & (pf::MAPPED | pf::WRITE), pf::MAPPED | pf::WRITE, "{page:#x}");
            let e = mm.pt.get(page >> 12).expect("made at once");
            assert_eq!(e.flags, pte::WRITABLE);
            assert_eq!(memory().refs(e.frame), 1, "its own frame");
        }
        // What the new image sees: the file's data, zero bss.
        let mut b = [0u8; 3];
        g.read(DATA, &mut b).unwrap();
        assert_eq!(b, [3 + 1; 3]);
        g.read(BSS, &mut b).unwrap();
        assert_eq!(b, [0; 3]);
        g.read(TEXT + 0x1000, &mut b).unwrap();
        assert_eq!(b, [2 + 1; 3]);
    }

    const LIB: u32 = 0x40000;

    fn map_lib(mm: &mut Mm, g: &mut Guest, lib: &Arc<Prog>) {
        let file: Arc<dyn Pager> = lib.clone();
        let backing = Backing::File { file, offset: 0, file_end: 0x2000 };
        let v = Vma { end: LIB as u64 + 0x2000, prot: pf::READ | pf::EXEC, backing, grows_down: false };
        mm.map(g, LIB, v);
    }

    #[test]
    fn a_library_page_waits_for_its_mapping() {
        let (p, lib, other) = (prog(5), prog(6), prog(7));
        // A run that maps a library and reads it.
        let (mut g, _) = guest_for(ProgKey::of(&*p)).unwrap();
        let mut mm = image(&mut g, &p);
        map_lib(&mut mm, &mut g, &lib);
        mm.populate(&mut g, LIB, 0x2000, Access::Read).unwrap();
        let frame = mm.pt.get(LIB >> 12).unwrap().frame;
        keep(prepare(&mm, &mut g).unwrap(), g);
        drop(mm);
        // The next run: until it maps the library, nothing shows there.
        let (mut g, record) = guest_for(ProgKey::of(&*p)).unwrap();
        let mut mm = image(&mut g, &p);
        mm.adopt(&mut g, record.unwrap());
        let mut b = [0u8; 2];
        assert!(g.read(LIB, &mut b).is_err(), "a hidden page reads as unmapped");
        assert!(mm.pt.get(LIB >> 12).is_none());
        assert!(!mm.pending.is_empty());
        // Mapped again: the same page-cache frame, mapped, no fault.
        map_lib(&mut mm, &mut g, &lib);
        assert_eq!(mm.pt.get(LIB >> 12).map(|e| e.frame), Some(frame));
        g.read(LIB, &mut b).unwrap();
        assert_eq!(b, [7; 2]);
        assert!(mm.pending.is_empty());
        keep(prepare(&mm, &mut g).unwrap(), g);
        drop(mm);
        // A run that maps another file there sees that file.
        let (mut g, record) = guest_for(ProgKey::of(&*p)).unwrap();
        let mut mm = image(&mut g, &p);
        mm.adopt(&mut g, record.unwrap());
        map_lib(&mut mm, &mut g, &other);
        assert!(mm.pt.get(LIB >> 12).is_none(), "nothing of the other file kept");
        assert_eq!(g.window().page_flags(LIB) & (pf::MAPPED | pf::KEPT), 0);
        mm.populate(&mut g, LIB, 0x1000, Access::Read).unwrap();
        g.read(LIB, &mut b).unwrap();
        assert_eq!(b, [8; 2]);
    }

    #[test]
    fn a_new_version_of_the_program_keeps_nothing() {
        let p = prog(2);
        run_and_end(&p);
        let old = ProgKey::of(&*p);
        p.vers.store(2, Ordering::Relaxed);
        // Another version of the file is another program...
        let (g, record) = guest_for(ProgKey::of(&*p)).unwrap();
        assert!(record.is_none());
        drop(g);
        // ...and a guest kept for the old one, given to an image of the
        // new (as if the keys matched), keeps none of its pages.
        let (mut g, record) = guest_for(old).unwrap();
        let record = record.expect("the ended run's guest");
        let mut mm = image(&mut g, &p);
        mm.adopt(&mut g, record);
        for page in [TEXT, TEXT + 0x1000, DATA] {
            assert_eq!(g.window().page_flags(page) & pf::MAPPED, 0, "{page:#x}");
            assert!(mm.pt.get(page >> 12).is_none());
        }
        // (The bss is anonymous: a zero page, whatever the file.)
        let mut b = [1u8; 3];
        g.read(BSS, &mut b).unwrap();
        assert_eq!(b, [0; 3]);
    }
}
