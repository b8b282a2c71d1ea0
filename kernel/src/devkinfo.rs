//! kinfo (`#k`): the kernel's counters as one file, `/dev/kinfo`.
//!
//! One `name value` pair a line, so that `cat /dev/kinfo` reads well and
//! `watch cat /dev/kinfo` shows the numbers move: the scheduler (vCPUs,
//! tasks by state, each vCPU's task and its busy and idle time, context
//! switches, preemptions), memory (frames of the
//! memory file in use), the translator (blocks translated, translations
//! reused from the shared memo) and system calls (in all, then by name).
//!
//! The counters are plain atomics the kernel bumps on its paths (the
//! scheduler's switch, the preemption trap, the page-fault trap, the
//! system call dispatcher); the rest is asked of its owner when the file
//! is opened. An open takes a snapshot, so a reader sees one consistent
//! text however it reads it; it goes with the open (`clunk`).

use devices::dev::Result;
use devices::dirtab::{self, DirTab};
use devices::{Cred, Dev, DirEntry, Errno, FileType, OpenMode, Qid, Stat, Time};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Context switches: a vCPU switching to a task.
static SWITCHES: AtomicU64 = AtomicU64::new(0);
/// Guests stopped by the tick.
static PREEMPTIONS: AtomicU64 = AtomicU64::new(0);
/// Page faults of guests (not those of system call buffers).
static FAULTS: AtomicU64 = AtomicU64::new(0);
/// System calls by number (the last slot for numbers past the table).
static SYSCALLS: [AtomicU64; 513] = [const { AtomicU64::new(0) }; 513];

/// Count a context switch.
#[inline]
pub fn count_switch() {
    SWITCHES.fetch_add(1, Relaxed);
}

/// Count a preemption.
#[inline]
pub fn count_preemption() {
    PREEMPTIONS.fetch_add(1, Relaxed);
}

/// Count a guest page fault.
#[inline]
pub fn count_fault() {
    FAULTS.fetch_add(1, Relaxed);
}

/// Count system call `nr`.
#[inline]
pub fn count_syscall(nr: u32) {
    // System calls run under the kernel lock, one at a time: a load and a
    // store, no locked add.
    let c = &SYSCALLS[(nr as usize).min(512)];
    c.store(c.load(Relaxed) + 1, Relaxed);
}

/// The text of /dev/kinfo now.
pub fn text() -> String {
    let mut s = String::new();
    let mut put = |name: &str, v: u64| {
        let _ = writeln!(s, "{name} {v}");
    };
    let [tasks, running, runnable, sleeping] = crate::sched::task_counts();
    put("vcpus", crate::sched::cpus() as u64);
    put("tasks", tasks as u64);
    put("tasks_running", running as u64);
    put("tasks_runnable", runnable as u64);
    put("tasks_sleeping", sleeping as u64);
    // Each vCPU: the task on it (0: idle), and the milliseconds its
    // tasks have run and it has not, since vxos started.
    let up = crate::procview::uptime();
    for (n, (task, busy)) in crate::sched::cpu_info().into_iter().enumerate() {
        put(&format!("vcpu{n}_task"), task as u64);
        put(&format!("vcpu{n}_busy_ms"), busy.as_millis() as u64);
        put(&format!("vcpu{n}_idle_ms"), up.saturating_sub(busy).as_millis() as u64);
    }
    put("uptime_ms", up.as_millis() as u64);
    put("context_switches", SWITCHES.load(Relaxed));
    put("preemptions", PREEMPTIONS.load(Relaxed));
    let (used, all) = crate::mm::memory().usage();
    put("frames_used", used as u64);
    put("frames_total", all as u64);
    put("page_faults", FAULTS.load(Relaxed));
    let (pc_pages, pc_hits, pc_misses) = crate::mm::pagecache::stats();
    put("pagecache_pages", pc_pages as u64);
    put("pagecache_hits", pc_hits);
    put("pagecache_misses", pc_misses);
    let (hits, misses, _forgets, bytes) = vx_core::memo::stats();
    put("blocks_translated", misses);
    put("memo_hits", hits);
    put("memo_bytes", bytes as u64);
    let counts: Vec<(usize, u64)> =
        SYSCALLS.iter().map(|c| c.load(Relaxed)).enumerate().filter(|&(_, n)| n > 0).collect();
    put("syscalls", counts.iter().map(|c| c.1).sum());
    for (nr, n) in counts {
        match crate::syscall::entry(nr as u32) {
            Some(e) => put(&format!("syscall_{}", e.name), n),
            None => put(&format!("syscall_unknown_{nr}"), n),
        }
    }
    s
}

const QDIR: u64 = 0;
const QKINFO: u64 = 1;

const TAB: [DirTab; 2] = [
    DirTab { name: ".", path: QDIR, kind: FileType::Dir, perm: 0o555, rdev: 0 },
    DirTab { name: "kinfo", path: QKINFO, kind: FileType::File, perm: 0o444, rdev: 0 },
];

/// The kinfo device.
pub struct Kinfo {
    /// Snapshots by open (the qid version an open returned).
    opens: Mutex<HashMap<u32, Vec<u8>>>,
    next: AtomicU64,
    start: Time,
}

impl Default for Kinfo {
    fn default() -> Kinfo {
        Kinfo { opens: Mutex::new(HashMap::new()), next: AtomicU64::new(1), start: Time::now() }
    }
}

impl Dev for Kinfo {
    fn dc(&self) -> char {
        'k'
    }

    fn name(&self) -> &'static str {
        "kinfo"
    }

    fn attach(&self, _spec: &str) -> Result<Qid> {
        Ok(TAB[0].qid())
    }

    fn walk(&self, from: Qid, name: &str) -> Result<Qid> {
        dirtab::walk(&TAB, from, name)
    }

    fn stat(&self, q: Qid) -> Result<Stat> {
        dirtab::stat(&TAB, q, self.start)
    }

    /// Take a snapshot for this open; its qid's version names it.
    fn open(&self, q: Qid, mode: OpenMode, cred: Cred) -> Result<Qid> {
        let q = dirtab::open(&TAB, q, mode, cred)?;
        if q.path != QKINFO {
            return Ok(q);
        }
        let id = self.next.fetch_add(1, Relaxed) as u32;
        self.opens.lock().insert(id, text().into_bytes());
        Ok(Qid { vers: id, ..q })
    }

    fn read(&self, q: Qid, buf: &mut [u8], off: u64) -> Result<usize> {
        if q.path != QKINFO {
            return Err(Errno::EISDIR);
        }
        let fresh;
        let opens = self.opens.lock();
        let data = match opens.get(&q.vers) {
            Some(d) => d,
            None => {
                fresh = text().into_bytes();
                &fresh
            }
        };
        let start = off.min(data.len() as u64) as usize;
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn readdir(&self, q: Qid, start: usize) -> Result<Vec<DirEntry>> {
        dirtab::readdir(&TAB, q, start)
    }

    fn clunk(&self, q: Qid) {
        if q.path == QKINFO {
            self.opens.lock().remove(&q.vers);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_lists() {
        count_syscall(4);
        count_syscall(4);
        count_switch();
        let t = text();
        let get = |name: &str| t.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<u64>().ok());
        assert!(get("syscall_write").unwrap() >= 2, "{t}");
        assert!(get("context_switches").unwrap() >= 1);
        assert!(t.lines().all(|l| l.split(' ').count() == 2), "{t}");
    }
}
