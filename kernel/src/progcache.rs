//! Translations of programs kept from one run to the next.
//!
//! When a process that was started by exec of a program file ends (or
//! execs another), the blocks it translated from that file's read-only
//! pages are copied out of its code cache, chains and all; the next exec
//! of the same version of the file starts its code cache from that copy
//! and runs its start-up code without translating or even chaining it.
//! A block is kept only if every page it was made from is, at that moment,
//! a page-cache frame of the program file (so the bytes are the file's,
//! never a private copy the process wrote), and the new process maps the
//! same file pages at the same addresses (exec lays a program out the same
//! way every time). The shared translation memo (vx-core's `memo`) covers
//! everything else.
//!
//! Snapshots of host files also go to disk (vx-core's `snapfile`, beside
//! the translations `xcache` keeps) when vxos ends, named by the file's
//! lasting id and the address exec put it at, and the first exec of the
//! program in a later run of vxos starts from there.

use crate::mm::pagecache;
use crate::mm::vma::{Backing, Pager};
use crate::mm::Mm;
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use vx_core::window::pf;
use vx_core::{Guest, Snapshot};

/// One version of one program file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ProgKey {
    file: (u64, u64),
    vers: u32,
    size: u64,
    /// The file's name across runs of vxos, for snapshots kept on disk.
    lasting: Option<u64>,
}

/// Programs whose translations are kept at most.
const MAX_PROGRAMS: usize = 64;

static SNAPSHOTS: Mutex<Option<HashMap<ProgKey, Arc<Snapshot>>>> = Mutex::new(None);

/// Programs whose snapshot on disk was looked for in this run.
static LOOKED: Mutex<Option<HashSet<ProgKey>>> = Mutex::new(None);
/// Snapshots made in this run and not yet on disk, with where exec put
/// their program.
static UNSAVED: Mutex<Vec<(ProgKey, u32)>> = Mutex::new(Vec::new());

/// The key of a program file, if its pages can be cached.
pub fn key_of(prog: &dyn Pager) -> Option<ProgKey> {
    let (size, vers) = prog.size_vers().ok()?;
    Some(ProgKey { file: prog.key(), vers: vers?, size, lasting: prog.lasting_id() })
}

/// Where exec put program `k` in `mm`: the address of its first page.
fn placed_at(mm: &Mm, k: &ProgKey) -> Option<u32> {
    mm.vmas.iter().find_map(|(start, v)| match &v.backing {
        Backing::File { file, offset: 0, .. } if file.key() == k.file => Some(start),
        _ => None,
    })
}

/// Start a freshly loaded guest from the program's kept translations: this
/// run's, else (the first time) those an earlier run left on disk.
pub fn restore(g: &mut Guest, mm: &Mm, k: &ProgKey) {
    let mut snap = SNAPSHOTS.lock().as_ref().and_then(|m| m.get(k).cloned());
    if snap.is_none() {
        if let (Some(id), Some(at)) = (k.lasting, placed_at(mm, k)) {
            if LOOKED.lock().get_or_insert_with(HashSet::new).insert(*k) {
                if let Some(s) = vx_core::snapfile::load(id, at) {
                    let s = Arc::new(s);
                    remember(k, s.clone());
                    snap = Some(s);
                }
            }
        }
    }
    if let Some(s) = snap {
        g.restore(&s);
    }
}

/// Keep what a guest running program `k` translated, if it is clearly
/// more than what is kept already.
pub fn save(g: &Guest, mm: &Mm, k: &ProgKey) {
    let st = g.stats().cache;
    let have = st.blocks + st.restored;
    let known = SNAPSHOTS.lock().as_ref().and_then(|m| m.get(k).map(|s| s.blocks() as u64)).unwrap_or(0);
    if have <= known + 16 || st.flushes > 0 {
        return;
    }
    // Blocks of libraries do not count: only those a snapshot would keep.
    let mut seen: HashMap<u32, bool> = HashMap::new();
    let mut keep = |p| *seen.entry(p).or_insert_with(|| from_file(mm, k, p));
    if g.count_kept(&mut keep) as u64 <= known + known / 8 + 16 {
        return;
    }
    let snap = g.snapshot(keep);
    if (snap.blocks() as u64) <= known {
        return;
    }
    if let (Some(_), Some(at)) = (k.lasting, placed_at(mm, k)) {
        let mut u = UNSAVED.lock();
        u.retain(|(o, _)| o != k);
        u.push((*k, at));
    }
    remember(k, Arc::new(snap));
}

/// Write the snapshots made in this run to disk (see `snapfile`).
pub fn persist() -> std::io::Result<()> {
    let todo = std::mem::take(&mut *UNSAVED.lock());
    for (k, at) in todo {
        let snap = SNAPSHOTS.lock().as_ref().and_then(|m| m.get(&k).cloned());
        if let (Some(s), Some(id)) = (snap, k.lasting) {
            vx_core::snapfile::save(id, at, &s)?;
        }
    }
    Ok(())
}

fn remember(k: &ProgKey, snap: Arc<Snapshot>) {
    let mut m = SNAPSHOTS.lock();
    let m = m.get_or_insert_with(HashMap::new);
    if m.len() >= MAX_PROGRAMS && !m.contains_key(k) {
        // Forget one (any): programs run often come back soon.
        if let Some(&old) = m.keys().next() {
            m.remove(&old);
        }
    }
    m.insert(*k, snap);
}

/// Whether guest page `p` holds, read-only, the page-cache frame of the
/// program file's page mapped there.
fn from_file(mm: &Mm, k: &ProgKey, p: u32) -> bool {
    let Some((start, v)) = mm.vmas.find(p << 12) else { return false };
    let Backing::File { file, offset, file_end } = &v.backing else { return false };
    if v.prot & pf::WRITE != 0 || file.key() != k.file {
        return false;
    }
    let Some(e) = mm.pt.get(p) else { return false };
    let off = offset + ((p - (start >> 12)) as u64) * 4096;
    let key = pagecache::Key {
        file: k.file,
        vers: k.vers,
        size: k.size,
        page: off / 4096,
        len: file_end.saturating_sub(off).min(4096) as u16,
    };
    pagecache::holds(&key, e.frame)
}
