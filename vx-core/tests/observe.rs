//! The translator's events (`vx_core::observe`): a block translated with
//! its size, translations dropped when the guest's code is written or
//! unmapped. Its own test binary: the watcher is one per process.

use parking_lot::Mutex;
use vx_core::observe::{self, Event, Why};
use vx_core::state::*;
use vx_core::window::pf;
use vx_core::{Guest, Trap};

const CODE: u32 = 0x0804_8000;

static SEEN: Mutex<Vec<Event>> = Mutex::new(Vec::new());

fn watcher(e: &Event) {
    SEEN.lock().push(*e);
}

#[test]
fn translations_and_invalidations() {
    assert!(observe::watch(watcher));
    assert!(!observe::watch(watcher), "one watcher per process");
    let mut g = Guest::new().unwrap();
    g.map_anon(CODE, 0x1000, pf::READ | pf::WRITE | pf::EXEC).unwrap();
    // mov eax, 20 ; nop ; int 0x80
    g.write(CODE, &[0xb8, 20, 0, 0, 0, 0x90, 0xcd, 0x80]).unwrap();
    g.cpu_mut().eip = CODE;
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.cpu().regs[EAX], 20);
    let seen = std::mem::take(&mut *SEEN.lock());
    let first = seen.iter().find_map(|e| match *e {
        Event::Translated { eip: CODE, insns, guest_bytes, host_bytes, fetch_fault: false, .. } => {
            Some((insns, guest_bytes, host_bytes))
        }
        _ => None,
    });
    let (insns, guest_bytes, host_bytes) = first.unwrap_or_else(|| panic!("no block at {CODE:#x}: {seen:?}"));
    assert_eq!((insns, guest_bytes), (3, 8), "{seen:?}");
    assert!(host_bytes > 0);

    // The embedder writing into translated code drops its translation.
    g.write(CODE + 1, &[21]).unwrap();
    let seen = std::mem::take(&mut *SEEN.lock());
    assert!(seen.contains(&Event::Invalidated { page: CODE >> 12, blocks: 1, why: Why::Written }), "{seen:?}");
    g.cpu_mut().eip = CODE;
    assert_eq!(g.run(), Trap::Syscall);
    assert_eq!(g.cpu().regs[EAX], 21);
    g.unmap(CODE, 0x1000).unwrap();
    let seen = std::mem::take(&mut *SEEN.lock());
    assert!(seen.iter().any(|e| matches!(e, Event::Invalidated { why: Why::Unmapped, .. })), "{seen:?}");
}
