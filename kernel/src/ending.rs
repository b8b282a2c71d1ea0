//! How vxos ends when the host asks it to: on SIGTERM, SIGINT, SIGHUP or
//! SIGQUIT it writes what it records (trace, timeline), puts the host
//! terminal back, unmounts its export and then ends as the signal would
//! have ended it.
//!
//! One thread waits for these signals; the signal handler itself only
//! notes which signal came, so that a guest that ends at the same moment
//! (its console hung up, say) cannot make vxos report the guest's status
//! instead: `exit` ends by the signal once one has come.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

const FATAL: [i32; 4] = [SIGTERM, SIGHUP, SIGINT, SIGQUIT];

/// The fatal signal that came, or 0.
static CAME: std::sync::OnceLock<Arc<AtomicUsize>> = std::sync::OnceLock::new();
static WATCH: Once = Once::new();

/// Watch for the fatal signals (once; later calls do nothing).
pub fn watch() {
    WATCH.call_once(|| {
        let came = CAME.get_or_init(|| Arc::new(AtomicUsize::new(0)));
        for s in FATAL {
            let _ = signal_hook::flag::register_usize(s, came.clone(), s as usize);
        }
        if let Ok(mut sigs) = signal_hook::iterator::Signals::new(FATAL) {
            let _ = std::thread::Builder::new().name("ending".into()).spawn(move || {
                if let Some(sig) = sigs.forever().next() {
                    by_signal(sig);
                }
            });
        }
    });
}

/// Clean up and end as `sig` would.
fn by_signal(sig: i32) -> ! {
    tidy();
    let _ = signal_hook::low_level::emulate_default_handler(sig);
    std::process::exit(128 + sig)
}

/// What is left to do before vxos ends, whichever way (each part does its
/// work once).
fn tidy() {
    crate::trace::finish();
    crate::tty::restore();
    crate::export::unmount();
}

/// The fatal signal that has come, if one has.
fn came() -> Option<i32> {
    CAME.get().map(|c| c.load(Ordering::SeqCst) as i32).filter(|&s| s != 0)
}

/// End vxos with `status`, or by the fatal signal that came first (also
/// one that comes while vxos tidies up).
pub fn exit(status: i32) -> ! {
    if let Some(sig) = came() {
        by_signal(sig);
    }
    tidy();
    if let Some(sig) = came() {
        by_signal(sig);
    }
    std::process::exit(status)
}
