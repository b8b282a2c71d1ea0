//! Translations of program files kept from one run to the next.
//!
//! When an address space ends (its last thread exits or execs), the blocks
//! its guest translated from each executable file it maps (the program,
//! the dynamic loader, each library) are copied out of its code cache,
//! chains and all, one image per file and place (`Guest::snapshot`). A
//! later guest that maps the same version of the file at the same address
//! takes the image into its code cache (`Guest::restore`) as soon as the
//! file is mapped executable: at exec for the program and its loader, at
//! the loader's mmap or mprotect for a library. Its start-up code then
//! runs without being translated, or even chained, again.
//!
//! A block goes into an image only if every page it was made from is, at
//! that moment, a page-cache frame of the file mapped executable at that
//! place (so the bytes are the file's, never a private copy the process
//! wrote); an image is taken in only if each of its pages is, in the new
//! guest, mapped executable from the same file page and not a private copy.
//! The shared translation memo (vx-core's `memo`) covers everything else.
//!
//! Images of host files also go to disk (vx-core's `snapfile`, beside the
//! translations `xcache` keeps) when vxos ends, named by the file's lasting
//! id and its place, and the first guest to map the file there in a later
//! run of vxos takes its image from the disk.

use crate::mm::pagecache;
use crate::mm::vma::Backing;
use crate::mm::Mm;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use vx_core::window::pf;
use vx_core::{Guest, Snapshot};

/// One version of one file, mapped executable with its start at `base`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ImageKey {
    file: (u64, u64),
    vers: u32,
    size: u64,
    base: u32,
}

/// Images kept in memory at most.
const MAX_IMAGES: usize = 256;
/// New blocks an address space must have made before its end is worth
/// looking at.
const MIN_NEW: u64 = 16;

static IMAGES: Mutex<Option<HashMap<ImageKey, Arc<Snapshot>>>> = Mutex::new(None);
/// Images looked for on disk in this run.
static LOOKED: Mutex<Option<HashSet<ImageKey>>> = Mutex::new(None);
/// Images made in this run and not yet on disk, with their files' lasting
/// ids.
static UNSAVED: Mutex<Vec<(ImageKey, u64)>> = Mutex::new(Vec::new());

/// The files `mm` maps executable, with their lasting ids.
fn code_files(mm: &Mm) -> Vec<(ImageKey, Option<u64>)> {
    let mut out: Vec<(ImageKey, Option<u64>)> = Vec::new();
    for (start, v) in mm.vmas.iter() {
        let Backing::File { file, offset, .. } = &v.backing else { continue };
        if v.prot & pf::EXEC == 0 || *offset > start as u64 {
            continue;
        }
        let base = start - *offset as u32;
        if out.iter().any(|(k, _)| k.base == base && k.file == file.key()) {
            continue;
        }
        if let Ok((size, Some(vers))) = file.size_vers() {
            out.push((ImageKey { file: file.key(), vers, size, base }, file.lasting_id()));
        }
    }
    out
}

/// Whether guest page `p` of `mm` shows, executable, the page of file `k`
/// its place names, and not a private copy of it.
fn shows_file(mm: &Mm, k: &ImageKey, p: u32) -> bool {
    let Some((start, v)) = mm.vmas.find(p << 12) else { return false };
    let Backing::File { file, offset, file_end } = &v.backing else { return false };
    if v.prot & pf::EXEC == 0 || file.key() != k.file || (start as u64).wrapping_sub(*offset) != k.base as u64 {
        return false;
    }
    let off = ((p << 12) - k.base) as u64;
    let key = pagecache::Key {
        file: k.file,
        vers: k.vers,
        size: k.size,
        page: off / 4096,
        len: file_end.saturating_sub(off).min(4096) as u16,
    };
    mm.pt.get(p).is_none_or(|e| pagecache::holds(&key, e.frame))
}

/// Whether guest page `p` holds, now, the page-cache frame of file `k`'s
/// page there (what an image may be made from).
fn holds_file(mm: &Mm, k: &ImageKey, p: u32) -> bool {
    mm.pt.get(p).is_some() && shows_file(mm, k, p)
}

/// The disk name of image `k` of the file with lasting id `lasting`.
fn disk_id(k: &ImageKey, lasting: u64) -> u64 {
    (lasting ^ (k.base as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).rotate_left(23)
}

/// Take into `g` the images of the files `mm` maps executable that it has
/// not looked at yet: this run's, else (the first time) an earlier run's
/// from the disk. Called after exec and after a mapping becomes executable.
pub fn attach(g: &mut Guest, mm: &mut Mm) {
    for (k, lasting) in code_files(mm) {
        if mm.images.contains(&k) {
            continue;
        }
        mm.images.push(k);
        let mut img = IMAGES.lock().as_ref().and_then(|m| m.get(&k).cloned());
        if img.is_none() {
            if let Some(lasting) = lasting {
                if LOOKED.lock().get_or_insert_with(HashSet::new).insert(k) {
                    if let Some(s) = vx_core::snapfile::load(disk_id(&k, lasting), k.base) {
                        let s = Arc::new(s);
                        remember(k, s.clone());
                        img = Some(s);
                    }
                }
            }
        }
        if let Some(s) = img {
            if s.pages().all(|p| shows_file(mm, &k, p)) && g.restore(&s) {
                mm.image_pages.extend(s.pages());
            }
        }
    }
}

/// Keep images of what the guest of an ending address space translated
/// from each executable file, where clearly more than what is kept.
pub fn save(g: &Guest, mm: &Mm) {
    let st = g.stats().cache;
    if st.blocks < MIN_NEW || st.flushes > 0 {
        return;
    }
    for (k, lasting) in code_files(mm) {
        let known = IMAGES.lock().as_ref().and_then(|m| m.get(&k).map(|s| s.blocks())).unwrap_or(0);
        let mut seen: HashMap<u32, bool> = HashMap::new();
        let mut keep = |p| *seen.entry(p).or_insert_with(|| holds_file(mm, &k, p));
        // Only new blocks can make it grow (a quick count first).
        if g.count_kept(&mut keep, true) <= known / 8 + MIN_NEW as usize
            || g.count_kept(&mut keep, false) <= known + known / 8 + MIN_NEW as usize
        {
            continue;
        }
        let snap = g.snapshot(keep);
        if let Some(lasting) = lasting {
            let mut u = UNSAVED.lock();
            u.retain(|(o, _)| *o != k);
            u.push((k, lasting));
        }
        remember(k, Arc::new(snap));
    }
}

/// Write the images made in this run to disk (see `snapfile`).
pub fn persist() -> std::io::Result<()> {
    let todo = std::mem::take(&mut *UNSAVED.lock());
    for (k, lasting) in todo {
        if let Some(s) = IMAGES.lock().as_ref().and_then(|m| m.get(&k).cloned()) {
            vx_core::snapfile::save(disk_id(&k, lasting), k.base, &s)?;
        }
    }
    Ok(())
}

fn remember(k: ImageKey, img: Arc<Snapshot>) {
    let mut m = IMAGES.lock();
    let m = m.get_or_insert_with(HashMap::new);
    if m.len() >= MAX_IMAGES && !m.contains_key(&k) {
        // Forget one (any): files run often come back soon.
        if let Some(&old) = m.keys().next() {
            m.remove(&old);
        }
    }
    m.insert(k, img);
}
