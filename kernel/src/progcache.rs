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

use crate::mm::pagecache;
use crate::mm::vma::{Backing, Pager};
use crate::mm::Mm;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use vx_core::window::pf;
use vx_core::{Guest, Snapshot};

/// One version of one program file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ProgKey {
    file: (u64, u64),
    vers: u32,
    size: u64,
}

/// Programs whose translations are kept at most.
const MAX_PROGRAMS: usize = 64;

static SNAPSHOTS: Mutex<Option<HashMap<ProgKey, Arc<Snapshot>>>> = Mutex::new(None);

/// The key of a program file, if its pages can be cached.
pub fn key_of(prog: &dyn Pager) -> Option<ProgKey> {
    let (size, vers) = prog.size_vers().ok()?;
    Some(ProgKey { file: prog.key(), vers: vers?, size })
}

/// Start a freshly loaded guest from the program's kept translations.
pub fn restore(g: &mut Guest, k: &ProgKey) {
    let snap = SNAPSHOTS.lock().as_ref().and_then(|m| m.get(k).cloned());
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
    if have <= known + known / 4 + 16 || st.flushes > 0 {
        return;
    }
    let mut seen: HashMap<u32, bool> = HashMap::new();
    let snap = g.snapshot(|p| *seen.entry(p).or_insert_with(|| from_file(mm, k, p)));
    if (snap.blocks() as u64) <= known {
        return;
    }
    let mut m = SNAPSHOTS.lock();
    let m = m.get_or_insert_with(HashMap::new);
    if m.len() >= MAX_PROGRAMS && !m.contains_key(k) {
        // Forget one (any): programs run often come back soon.
        if let Some(&old) = m.keys().next() {
            m.remove(&old);
        }
    }
    m.insert(*k, Arc::new(snap));
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
