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
//! Between the two, nothing runs in the window, so a frame freed and used
//! again meanwhile is never seen through a stale mapping.

use super::pagecache;
use super::pagetable::{pte, Pte};
use super::vma::{Backing, Pager};
use super::Mm;
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
}

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

/// Runs of pages, for host calls one per run.
#[derive(Default)]
struct Runs(Vec<(u32, u32)>);

impl Runs {
    fn add(&mut self, p: u32) {
        match self.0.last_mut() {
            Some((_, end)) if *end == p => *end += 1,
            _ => self.0.push((p, p + 1)),
        }
    }

    fn each(&self, mut f: impl FnMut(u32, u64)) {
        for &(first, end) in &self.0 {
            f(first << 12, (end - first) as u64 * 4096);
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
    g.window().for_each_page(pf::MAPPED | pf::CODE, |p, flags, src| {
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
    unmap.each(|a, n| {
        let _ = g.evict(a, n, Some(vx_core::observe::Why::Unmapped));
    });
    forget.each(|a, n| g.forget_code(a, n));
    Some(Record { key, pages, images: mm.images.clone() })
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
    /// this new image of its program, laid out by exec; drop the rest.
    pub fn adopt(&mut self, g: &mut Guest, record: Record) {
        let (mut unmap, mut forget) = (Runs::default(), Runs::default());
        let mut adopted = 0;
        let mut last = None;
        for &(p, k) in &record.pages {
            let flags = g.window().page_flags(p << 12);
            // Pages exec wrote (the stack) are the new image's already.
            if self.pt.get(p).is_some() {
                continue;
            }
            let view = view_at(self, &mut last, p << 12).filter(|v| v.page(p) == Some(k));
            let Some(prot) = view.map(|v| v.prot).filter(|prot| flags & pf::CODE == 0 || prot & pf::EXEC != 0) else {
                if flags & pf::MAPPED != 0 {
                    unmap.add(p);
                } else {
                    forget.add(p);
                }
                continue;
            };
            if flags & pf::MAPPED == 0 {
                continue;
            }
            // The mapping shows the page-cache frame, as a read fault maps it.
            let frame = (flags & pf::PROT_MASK == prot & !pf::WRITE)
                .then(|| g.window().mapped_from(p))
                .flatten()
                .filter(|&f| pagecache::take_if_holds(&k, f));
            match frame {
                Some(f) => {
                    self.pt.set(p, Some(Pte { frame: f, flags: pte::COW }));
                    adopted += 1;
                }
                // The file page is the same: its translations stay.
                None => {
                    let _ = g.evict(p << 12, 4096, None);
                }
            }
        }
        unmap.each(|a, n| {
            let _ = g.evict(a, n, Some(vx_core::observe::Why::Unmapped));
        });
        forget.each(|a, n| g.forget_code(a, n));
        self.live_maps += adopted;
        crate::progcache::carry(self, record.images);
        self.publish();
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
        assert_eq!(w.page_flags(DATA) & pf::MAPPED, 0, "the written data page");
        assert_eq!(w.page_flags(BSS) & pf::MAPPED, 0, "the bss page");
        assert!(mm.pt.get(DATA >> 12).is_none() && mm.pt.get(BSS >> 12).is_none());
        // What the new image sees: the file's data, zero bss.
        mm.populate(&mut g, DATA, 0x2000, Access::Read).unwrap();
        let mut b = [0u8; 3];
        g.read(DATA, &mut b).unwrap();
        assert_eq!(b, [3 + 1; 3]);
        g.read(BSS, &mut b).unwrap();
        assert_eq!(b, [0; 3]);
        g.read(TEXT + 0x1000, &mut b).unwrap();
        assert_eq!(b, [2 + 1; 3]);
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
        assert_eq!(g.window().page_flags(TEXT) & pf::MAPPED, 0);
        assert_eq!(mm.resident(), 0);
    }
}
