//! Translations shared between guests.
//!
//! A block's translation is a function of the guest bytes it was made
//! from and nothing else: the translator reads guest code only through
//! `fetch` and the get_pc_thunk probe, and the host code it emits is
//! position-independent (every jump is relative inside the block, every
//! state access goes through the state register). So a translation made
//! in one guest serves any guest whose memory holds the same bytes at the
//! same addresses: a forked child running its parent's code, or every
//! process that execs the same program. Before reusing one, `find`
//! compares the bytes the translation was made from with the asking
//! guest's memory, read with the guest's execute permission; the guest's
//! own cache then holds a copy as if it had translated the block itself.
//!
//! The memo is bounded: past `BUDGET` bytes it forgets everything and
//! starts again, which costs only retranslation. It also lists the blocks
//! translated in this run (not taken from the disk cache, `xcache`), for
//! `xcache::save` to keep.

use crate::translate::Block;
use crate::window::Window;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Bytes of host code and guest source the memo may hold.
const BUDGET: usize = 96 << 20;
/// Different translations kept for one guest address (different programs
/// load different code at the same addresses).
const PER_EIP: usize = 4;

#[derive(Default)]
struct Memo {
    blocks: HashMap<u32, Vec<Arc<Block>>, std::hash::BuildHasherDefault<crate::cache::AddrHasher>>,
    bytes: usize,
    /// Statistics: hits, misses (no valid entry), forgets.
    hits: u64,
    misses: u64,
    forgets: u64,
    /// Blocks translated in this run, and their size (at most `BUDGET`).
    fresh: Vec<Arc<Block>>,
    fresh_bytes: usize,
}

static MEMO: Mutex<Option<Memo>> = Mutex::new(None);

fn size_of(b: &Block) -> usize {
    b.code.len() + b.insns.len() * 12 + b.src.iter().map(|(_, v)| v.len() + 16).sum::<usize>() + 128
}

/// Whether `win` holds, with execute permission, the bytes `b` was made from.
pub(crate) fn matches(win: &Window, b: &Block) -> bool {
    let mut buf = [0u8; 1024];
    b.src.iter().all(|(addr, bytes)| {
        bytes.chunks(buf.len()).enumerate().all(|(k, chunk)| {
            let at = addr.wrapping_add((k * buf.len()) as u32);
            let dst = &mut buf[..chunk.len()];
            win.read_exec(at, dst).is_ok() && dst == chunk
        })
    })
}

/// A translation of the block at `eip` valid for `win`'s memory, if some
/// guest made one.
pub(crate) fn find(win: &Window, eip: u32) -> Option<Arc<Block>> {
    let mut g = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    let m = g.get_or_insert_with(Memo::default);
    let found = m.blocks.get(&eip).and_then(|v| v.iter().find(|b| matches(win, b)).cloned());
    if found.is_some() {
        m.hits += 1;
    } else {
        m.misses += 1;
    }
    found
}

/// Keep a fresh translation for other guests (and other runs).
pub(crate) fn add(b: Arc<Block>) {
    add_block(b, true);
}

/// Keep a translation taken from the disk cache for other guests.
pub(crate) fn add_kept(b: Arc<Block>) {
    add_block(b, false);
}

fn add_block(b: Arc<Block>, fresh: bool) {
    if b.fetch_fault {
        return;
    }
    let mut g = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    let m = g.get_or_insert_with(Memo::default);
    let n = size_of(&b);
    if fresh && m.fresh_bytes + n <= BUDGET {
        m.fresh.push(b.clone());
        m.fresh_bytes += n;
    }
    if m.bytes + n > BUDGET {
        m.blocks.clear();
        m.bytes = 0;
        m.forgets += 1;
    }
    let v = m.blocks.entry(b.eip).or_default();
    if v.len() == PER_EIP {
        let old = v.remove(0);
        m.bytes -= size_of(&old);
    }
    v.push(b);
    m.bytes += n;
}

/// Counters of the shared memo: (hits, misses, forgets, bytes held).
pub fn stats() -> (u64, u64, u64, usize) {
    let g = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    g.as_ref().map_or((0, 0, 0, 0), |m| (m.hits, m.misses, m.forgets, m.bytes))
}

/// The blocks translated in this run.
pub(crate) fn fresh() -> Vec<Arc<Block>> {
    let g = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    g.as_ref().map_or(Vec::new(), |m| m.fresh.clone())
}
