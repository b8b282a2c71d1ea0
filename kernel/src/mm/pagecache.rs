//! The page cache of private file mappings: frames holding pages of files
//! as they were read, shared by every address space that maps the same
//! page of the same version of a file.
//!
//! A program's text and read-only data are read from its file once; every
//! later process that maps them (each exec of the same program, every user
//! of a library) gets the same frames, copy-on-write like a forked page, so
//! a write makes a private copy. A page is named by its file (device and
//! qid path), the file's version and size when it was read (a write to the
//! file changes the version: the next fault reads afresh) and how many
//! bytes of it come from the file (the rest of an ELF segment's last page
//! is zeros). The cache holds one reference on each frame; it forgets its
//! oldest pages past `MAX_PAGES`, and everything when guest memory runs out.

use super::frame::Frame;
use super::memory;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};

/// Pages the cache keeps at most.
const MAX_PAGES: usize = 32 << 10;

/// One page of one version of a file.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Key {
    /// The file: device number and qid path (`Pager::key`).
    pub file: (u64, u64),
    pub vers: u32,
    pub size: u64,
    /// File offset of the page, in pages.
    pub page: u64,
    /// Bytes of the page read from the file.
    pub len: u16,
}

#[derive(Default)]
struct Cache {
    frames: HashMap<Key, Frame>,
    /// Insertion order, for forgetting the oldest.
    order: VecDeque<Key>,
    hits: u64,
    misses: u64,
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// The frame holding page `k`, with a new reference for the caller.
pub fn get(k: &Key) -> Option<Frame> {
    let mut g = CACHE.lock();
    let c = g.get_or_insert_with(Cache::default);
    match c.frames.get(k) {
        Some(&f) => {
            c.hits += 1;
            memory().get(f);
            Some(f)
        }
        None => {
            c.misses += 1;
            None
        }
    }
}

/// Whether the cache holds page `k` in frame `f`.
pub fn holds(k: &Key, f: Frame) -> bool {
    CACHE.lock().as_ref().and_then(|c| c.frames.get(k)) == Some(&f)
}

/// Whether the cache holds page `k` in frame `f`; if so, a new reference
/// for the caller.
pub fn take_if_holds(k: &Key, f: Frame) -> bool {
    let g = CACHE.lock();
    let held = g.as_ref().and_then(|c| c.frames.get(k)) == Some(&f);
    if held {
        memory().get(f);
    }
    held
}

/// Keep frame `f` (which holds page `k`) for later faults; the cache takes
/// a reference of its own.
pub fn put(k: Key, f: Frame) {
    let mut g = CACHE.lock();
    let c = g.get_or_insert_with(Cache::default);
    if c.frames.contains_key(&k) {
        return;
    }
    let mut old = Vec::new();
    while c.frames.len() >= MAX_PAGES {
        let Some(o) = c.order.pop_front() else { break };
        if let Some(of) = c.frames.remove(&o) {
            old.push(of);
        }
    }
    c.frames.insert(k, f);
    c.order.push_back(k);
    let mut mem = memory();
    mem.get(f);
    mem.put_many(old.into_iter());
}

/// Forget every page (guest memory ran out); return how many frames the
/// cache let go of.
pub fn shrink() -> usize {
    let mut g = CACHE.lock();
    let Some(c) = g.as_mut() else { return 0 };
    let n = c.frames.len();
    c.order.clear();
    let frames: Vec<Frame> = c.frames.drain().map(|(_, f)| f).collect();
    memory().put_many(frames.into_iter());
    n
}

/// The frames the cache holds (for /proc/N/vxmaps).
pub fn frames() -> std::collections::HashSet<Frame> {
    CACHE.lock().as_ref().map_or_else(Default::default, |c| c.frames.values().copied().collect())
}

/// Counters: (pages held, hits, misses).
pub fn stats() -> (usize, u64, u64) {
    let g = CACHE.lock();
    g.as_ref().map_or((0, 0, 0), |c| (c.frames.len(), c.hits, c.misses))
}
