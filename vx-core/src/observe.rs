//! Translator events for an embedder that watches (a tracer, a teaching
//! tool): each block translated or copied from the memo, cache flushes,
//! translations dropped because their guest code changed, and caches
//! started from a snapshot.
//!
//! One watcher for the whole process, a plain function, set once with
//! `watch`. The translator calls it on the thread that runs the guest, so
//! the watcher knows which guest from its own context (the embedder's
//! current task). Every call site first asks `on`, one relaxed load, and
//! none of them is on a path that runs translated code: a guest that
//! translates nothing new never asks. Without the `observe` feature `on`
//! is a constant false and the call sites compile away.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// Why translations of a guest page were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The guest wrote to the page (self-modifying code, a JIT), or the
    /// embedder wrote into it (a read(2) into code).
    Written,
    /// The page was unmapped, or mapped afresh.
    Unmapped,
    /// Its protection changed.
    Protected,
    /// Its contents were thrown away (madvise(MADV_DONTNEED)).
    Discarded,
}

/// Something the translator did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A block at `eip` entered the code cache: `insns` guest instructions
    /// of `guest_bytes` bytes made `host_bytes` of host code. `memo` says
    /// it was copied from another guest's translation of the same bytes,
    /// `kept` from the translations an earlier run kept on disk;
    /// `single` that it is one instruction run alone after a write to its
    /// own page; `fetch_fault` that it stops where the guest's code is not
    /// mapped yet (it is run once, not kept: the embedder maps the page
    /// and the block is translated again).
    Translated {
        eip: u32,
        insns: u32,
        guest_bytes: u32,
        host_bytes: u32,
        memo: bool,
        kept: bool,
        single: bool,
        fetch_fault: bool,
    },
    /// The code cache was full and was emptied: `blocks` went.
    Flushed { blocks: u32 },
    /// `blocks` translations made from guest page `page` (a page number)
    /// were dropped.
    Invalidated { page: u32, blocks: u32, why: Why },
    /// The cache took in a snapshot of `blocks` blocks made from `pages`
    /// guest pages.
    Restored { blocks: u32, pages: u32 },
}

static ON: AtomicBool = AtomicBool::new(false);
static WATCHER: OnceLock<fn(&Event)> = OnceLock::new();

/// Have `f` called with every translator event from now on (once per
/// process; a second watcher is refused with false).
pub fn watch(f: fn(&Event)) -> bool {
    let ok = WATCHER.set(f).is_ok();
    if ok {
        ON.store(true, Ordering::Relaxed);
    }
    ok
}

/// Report whether a watcher wants events.
#[inline(always)]
pub(crate) fn on() -> bool {
    cfg!(feature = "observe") && ON.load(Ordering::Relaxed)
}

/// Hand `e` to the watcher (call only when `on`).
#[cold]
pub(crate) fn emit(e: Event) {
    if let Some(f) = WATCHER.get() {
        f(&e);
    }
}
