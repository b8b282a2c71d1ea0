//! Tracing the translator (`--trace=translate`): a line for each block
//! that enters a task's code cache, each cache flush, each page whose
//! translations are dropped, and each image of a file's translations a
//! cache takes in (`progcache.rs`).
//!
//! vx-core knows nothing of tasks: it hands its events to `event` (see
//! `vx_core::observe`) on the host thread running the guest, which is the
//! vCPU running the task that translated, or the task whose system call
//! changed its memory.

use super::{emit, on, process_of, wanted, PID, TRANSLATE};
use std::sync::atomic::Ordering;
use vx_core::observe::{Event, Why};

thread_local! {
    /// The task this host thread works for outside any task (0: none).
    static FOR_TASK: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Run `f`, whose translator events are task `tid`'s though no task runs
/// (a process being set up before its first task starts).
pub fn for_task<T>(tid: u32, f: impl FnOnce() -> T) -> T {
    let old = FOR_TASK.with(|c| c.replace(tid));
    let r = f();
    FOR_TASK.with(|c| c.set(old));
    r
}

/// Trace translator event `e` of the current task.
pub(super) fn event(e: &Event) {
    if !on(TRANSLATE) {
        return;
    }
    let tid = match FOR_TASK.with(|c| c.get()) {
        0 => crate::sched::current(),
        t => t,
    };
    if PID.load(Ordering::Relaxed) != 0 && !wanted(process_of(tid)) {
        return;
    }
    emit(tid, &line(e));
}

/// The trace line of event `e`.
fn line(e: &Event) -> String {
    match *e {
        Event::Translated { eip, insns, guest_bytes, host_bytes, memo, kept, single, fetch_fault } => {
            let how = match (memo || kept, single, fetch_fault) {
                (true, _, _) if kept => " (from the translations kept on disk)",
                (true, _, _) => " (copied from the memo)",
                (_, true, _) => " (alone, after a write to its page)",
                (_, _, true) => " (stops at code not mapped yet: translated again once it is)",
                _ => "",
            };
            let s = plural(insns);
            format!("translate: block {eip:#x}: {insns} instruction{s}, {guest_bytes} guest bytes -> {host_bytes} host bytes{how}")
        }
        Event::Flushed { blocks } => {
            format!("translate: code cache full: flushed, {blocks} block{} dropped", plural(blocks))
        }
        Event::Invalidated { page, blocks, why } => {
            let why = match why {
                Why::Written => "written",
                Why::Unmapped => "unmapped",
                Why::Protected => "protection changed",
                Why::Discarded => "discarded",
            };
            format!("translate: code page {:#x} {why}: {blocks} block{} dropped", page << 12, plural(blocks))
        }
        Event::Restored { blocks, pages } => {
            format!("translate: took in kept translations: {blocks} blocks from {pages} pages")
        }
    }
}

/// "s" unless `n` is 1.
fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_events() {
        let t = Event::Translated {
            eip: 0x8049000,
            insns: 3,
            guest_bytes: 9,
            host_bytes: 40,
            memo: false,
            kept: false,
            single: false,
            fetch_fault: false,
        };
        assert_eq!(line(&t), "translate: block 0x8049000: 3 instructions, 9 guest bytes -> 40 host bytes");
        let k = Event::Translated {
            eip: 0x8049000,
            insns: 1,
            guest_bytes: 2,
            host_bytes: 30,
            memo: false,
            kept: true,
            single: false,
            fetch_fault: false,
        };
        assert!(line(&k).ends_with("(from the translations kept on disk)"), "{}", line(&k));
        let i = Event::Invalidated { page: 0x8049, blocks: 2, why: Why::Written };
        assert_eq!(line(&i), "translate: code page 0x8049000 written: 2 blocks dropped");
    }
}
