//! Which namespace the export serves, and `DIR/.vxos/ctl`, the file that
//! says it and changes it.
//!
//! The export serves the namespace of one process: init's (`vxos boot`),
//! the program's (`vxos run`), or process N's (`--export-pid N`). It
//! follows that process: if the process takes a namespace of its own
//! (unshare, rfork), the export serves the new one; when the process
//! ends, the export keeps the namespace it last had. A process that does
//! not exist yet is waited for: until it does, the export shows only
//! `.vxos`. Reading ctl gives `pid N` (with ` waiting` until N exists);
//! writing `pid N` serves process N's namespace from then on (ESRCH if
//! there is no such process); any other line is EINVAL. The cmd device's
//! host side (`vxos exec`) starts programs in the namespace served.

use crate::ns::NsRef;
use devices::Errno;

/// The process whose namespace the export serves, and that namespace.
pub(super) struct Target {
    pid: u32,
    ns: Option<NsRef>,
}

impl Target {
    /// Serve `ns`, the namespace of process `pid` (None: wait for it).
    pub(super) fn new(pid: u32, ns: Option<NsRef>) -> Target {
        let mut t = Target { pid, ns: None };
        if let Some(ns) = ns {
            t.take(ns);
        }
        t
    }

    /// The namespace to serve now: the process's, else the one it last had.
    pub(super) fn current(&mut self) -> Option<NsRef> {
        if let Some(ns) = namespace_of(self.pid) {
            if !self.ns.as_ref().is_some_and(|old| old.same(&ns)) {
                self.take(ns);
            }
        }
        self.ns.clone()
    }

    fn take(&mut self, ns: NsRef) {
        crate::devcmd::cmd_device().set_host_ns(ns.clone());
        self.ns = Some(ns);
    }

    /// What reading ctl gives.
    pub(super) fn status(&mut self) -> String {
        match self.current() {
            Some(_) => format!("pid {}\n", self.pid),
            None => format!("pid {} waiting\n", self.pid),
        }
    }

    /// Carry out a line written to ctl.
    pub(super) fn command(&mut self, line: &str) -> Result<(), Errno> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => Ok(()),
            ["pid", n] => {
                let pid: u32 = n.parse().map_err(|_| Errno::EINVAL)?;
                let ns = namespace_of(pid).ok_or(Errno(3))?; // ESRCH
                self.pid = pid;
                self.take(ns);
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        }
    }
}

/// The namespace of process `pid`, if it exists.
fn namespace_of(pid: u32) -> Option<NsRef> {
    crate::devproc::entry(pid).and_then(|e| e.ns)
}
