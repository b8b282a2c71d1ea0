//! What /proc shows of a process's own state: its memory map (`maps`, and
//! `vxmaps` with each VMA's resident, shared and copy-on-write pages), and
//! `status` and `stat` with its ids, memory sizes, signal sets and
//! counters (vxos's own at the end of `status`: vCPU, faults by kind,
//! resident pages, translated blocks). The kernel makes these when the
//! process opens the file (it alone may touch its memory map), and hands
//! them to the proc device (`devproc::fill`); another process's `status`
//! and `stat` are made from the process table, the scheduler and the
//! counters its address space last published (`mm::Gauge`), without the
//! sizes of its VMAs.

use crate::devproc::LiveFile;
use crate::mm::vma::Backing;
use crate::mm::MmStats;
use crate::process::Process;
use crate::proctab::{self, Life};
use std::fmt::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use vx_core::window::pf;

/// When the kernel started, for uptime and process start times.
fn started() -> Instant {
    static T: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *T.get_or_init(Instant::now)
}

/// Note the kernel's start (called at boot).
pub fn mark_boot() {
    started();
}

/// How long the kernel has run.
pub fn uptime() -> Duration {
    started().elapsed()
}

/// The kernel's start in seconds since the epoch (/proc/stat's btime).
pub fn boot_time() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    now.saturating_sub(uptime()).as_secs()
}

/// Make process `p`'s live file `f` for the proc device.
pub fn fill(p: &Process, pid: u32, f: LiveFile) {
    // Only a process's own memory is at hand: another's shows as the
    // process table knows it.
    if pid != p.pid {
        return;
    }
    let data = match f {
        LiveFile::Maps => maps(p),
        LiveFile::VxMaps => vxmaps(p),
        LiveFile::Status => status(p),
        LiveFile::Stat => stat(p),
    };
    crate::devproc::fill(pid, f, data.into_bytes());
}

/// A VMA as maps shows it: its start, the VMA, its permissions
/// (`rwxp`), file offset and name.
fn vma_rows(mm: &crate::mm::Mm) -> Vec<(u32, &crate::mm::vma::Vma, String, u64, String)> {
    let mut rows = Vec::new();
    for (start, v) in mm.vmas.iter() {
        let perms = format!(
            "{}{}{}{}",
            if v.prot & pf::READ != 0 { 'r' } else { '-' },
            if v.prot & pf::WRITE != 0 { 'w' } else { '-' },
            if v.prot & pf::EXEC != 0 { 'x' } else { '-' },
            if matches!(v.backing, Backing::Shared { .. }) { 's' } else { 'p' },
        );
        let (offset, name) = match &v.backing {
            Backing::File { file, offset, .. } => (*offset, file.name().unwrap_or_default()),
            Backing::Shared { page, .. } => (*page as u64 * 4096, String::new()),
            Backing::Anon => (0, String::new()),
        };
        let name = if !name.is_empty() {
            name
        } else if v.grows_down {
            "[stack]".into()
        } else if start == mm.vdso && start != 0 {
            "[vdso]".into()
        } else if start >= mm.brk_start && (start as u64) < (mm.brk as u64).max(mm.brk_start as u64 + 1) {
            "[heap]".into()
        } else {
            String::new()
        };
        rows.push((start, v, perms, offset, name));
    }
    rows
}

/// /proc/self/maps, as Linux writes it.
fn maps(p: &Process) -> String {
    let mut out = String::new();
    for (start, v, perms, offset, name) in vma_rows(&p.mm) {
        let _ = write!(out, "{start:08x}-{:08x} {perms} {offset:08x} 00:00 0", v.end);
        if name.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{:>width$}{name}", "", width = 25 - 17 + 1);
        }
    }
    out
}

/// /proc/self/vxmaps: per VMA, the pages in the page table (`resident`),
/// those whose frame another address space also holds (`shared`), those
/// marked copy-on-write, whose next write faults (`cow`), and those whose
/// frame the page cache holds (`cached`), then the name as maps gives it:
///
/// `08048000-080e9000 r-xp resident 97 shared 97 cow 97 cached 97 /bin/busybox`
fn vxmaps(p: &Process) -> String {
    use crate::mm::pagetable::pte;
    let cache = crate::mm::pagecache::frames();
    let mem = crate::mm::memory();
    let mut out = String::new();
    for (start, v, perms, _, name) in vma_rows(&p.mm) {
        let (mut resident, mut shared, mut cow, mut cached) = (0, 0, 0, 0);
        for (_, e) in p.mm.pt.range(start >> 12, v.end.div_ceil(4096) as u32) {
            let in_cache = cache.contains(&e.frame) as u32;
            resident += 1;
            shared += (mem.refs(e.frame) > 1 + in_cache) as u32;
            cow += (e.flags & pte::COW != 0) as u32;
            cached += in_cache;
        }
        let _ = write!(
            out,
            "{start:08x}-{:08x} {perms} resident {resident} shared {shared} cow {cow} cached {cached}",
            v.end
        );
        out.push_str(&if name.is_empty() { "\n".to_string() } else { format!(" {name}\n") });
    }
    out
}

/// The memory figures of `status` and `stat`, in KiB: (size, resident,
/// data, stack, exec).
fn sizes(p: &Process) -> (u64, u64, u64, u64, u64) {
    let mm = &*p.mm;
    let (mut size, mut data, mut stack, mut exe) = (0, 0, 0, 0);
    for (start, v) in mm.vmas.iter() {
        let len = (v.end - start as u64) / 1024;
        size += len;
        if v.grows_down {
            stack += len;
        } else if v.prot & pf::EXEC != 0 {
            exe += len;
        } else if v.prot & pf::WRITE != 0 {
            data += len;
        }
    }
    (size, mm.resident() as u64 * 4, data, stack, exe)
}

/// The signal sets a process ignores and catches.
fn handled(p: &Process) -> (u64, u64) {
    let (mut ign, mut cgt) = (0u64, 0u64);
    for (n, a) in p.sigactions.iter().enumerate().skip(1) {
        match a.handler {
            0 => {}
            1 => ign |= 1 << (n - 1),
            _ => cgt |= 1 << (n - 1),
        }
    }
    (ign, cgt)
}

/// One-letter state and its name, from the process table and the
/// scheduler.
fn state(pid: u32, me: bool) -> (char, &'static str) {
    match proctab::get(pid) {
        _ if me => ('R', "running"),
        Some(e) if matches!(e.life, Life::Zombie(_)) => ('Z', "zombie"),
        Some(e) if e.stopped.is_some() => ('T', "stopped"),
        _ if crate::sched::task_info(pid).is_some_and(|t| t.0 == 'R') => ('R', "running"),
        _ => ('S', "sleeping"),
    }
}

/// The lines vxos adds to Linux's status (after Linux's last two, the
/// context switches, which it fills in): the vCPU the process's first
/// thread last ran on, its address space's faults by kind, its resident
/// pages, and the blocks in its guest's code cache: put there by a miss
/// (translated, or copied from the shared memo of translations) or
/// restored from the program's translations at exec (`progcache`).
fn vx_lines(pid: u32, m: &MmStats, resident: u32, blocks: (u64, u64)) -> String {
    let (_, vcpu, vol, nonvol) = crate::sched::task_info(pid).unwrap_or_default();
    format!(
        "voluntary_ctxt_switches:\t{vol}\nnonvoluntary_ctxt_switches:\t{nonvol}\n\
         vcpu:\t{vcpu}\nfaults:\t{}\nfaults_demand_zero:\t{}\nfaults_file:\t{}\nfaults_shared:\t{}\n\
         faults_cow_copy:\t{}\nfaults_cow_takeover:\t{}\nfaults_remap:\t{}\nfaults_invalid:\t{}\n\
         resident_pages:\t{resident}\ntranslated_blocks:\t{}\nrestored_blocks:\t{}\n",
        m.minor_faults + m.invalid,
        m.demand_zero,
        m.file,
        m.shared,
        m.cow_copies,
        m.cow_takeovers,
        m.remaps,
        m.invalid,
        blocks.0,
        blocks.1,
    )
}

/// What another process's address space last published.
fn gauge_of(pid: u32) -> (MmStats, u32, (u64, u64)) {
    use std::sync::atomic::Ordering::Relaxed;
    match proctab::get(pid).and_then(|e| e.gauge) {
        Some(g) => (*g.stats.lock(), g.resident.load(Relaxed), (g.blocks.load(Relaxed), g.restored.load(Relaxed))),
        None => (MmStats::default(), 0, (0, 0)),
    }
}

fn comm(p: &Process) -> String {
    crate::devproc::entry(p.pid).map(|e| e.comm).unwrap_or_default()
}

fn status(p: &Process) -> String {
    let e = proctab::get(p.pid);
    let (ppid, threads) = e.as_ref().map_or((0, 1), |e| (e.ppid, e.threads.max(1)));
    let (size, rss, data, stack, exe) = sizes(p);
    let (ign, cgt) = handled(p);
    let pending = e.as_ref().map_or(0, |e| e.pending);
    let ids = p.ids;
    let groups: Vec<String> = p.groups.iter().map(|g| g.to_string()).collect();
    let cpus = crate::sched::cpus();
    let cache = p.guest.stats().cache;
    format!(
        "Name:\t{}\nUmask:\t{:04o}\nState:\tR (running)\nTgid:\t{pid}\nNgid:\t0\nPid:\t{pid}\nPPid:\t{ppid}\nTracerPid:\t0\n\
         Uid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t{}\nGroups:\t{}\n\
         VmPeak:\t{size:8} kB\nVmSize:\t{size:8} kB\nVmLck:\t       0 kB\nVmPin:\t       0 kB\nVmHWM:\t{rss:8} kB\nVmRSS:\t{rss:8} kB\n\
         VmData:\t{data:8} kB\nVmStk:\t{stack:8} kB\nVmExe:\t{exe:8} kB\nVmLib:\t       0 kB\nVmPTE:\t       0 kB\nVmSwap:\t       0 kB\n\
         Threads:\t{threads}\nSigQ:\t0/{}\nSigPnd:\t{:016x}\nShdPnd:\t{pending:016x}\nSigBlk:\t{:016x}\nSigIgn:\t{ign:016x}\nSigCgt:\t{cgt:016x}\n\
         CapInh:\t0000000000000000\nCapPrm:\t{cap:016x}\nCapEff:\t{cap:016x}\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n\
         NoNewPrivs:\t0\nSeccomp:\t0\nCpus_allowed:\t{:x}\nCpus_allowed_list:\t0-{}\n{}",
        comm(p),
        p.fs.umask,
        ids[0],
        ids[1],
        p.saved_ids[0],
        ids[1],
        ids[2],
        ids[3],
        p.saved_ids[1],
        ids[3],
        crate::files::MAX_FDS,
        groups.join(" "),
        proctab::MAX_PROCS,
        p.pending,
        p.sigmask,
        (1u64 << cpus) - 1,
        cpus - 1,
        vx_lines(p.pid, &p.mm.stats, p.mm.resident(), (cache.blocks, cache.restored)),
        pid = p.pid,
        cap = if ids[1] == 0 { 0x1ff_ffff_ffffu64 } else { 0 },
    )
}

/// /proc/N/stat's 52 fields; `mem` gives size and resident pages,
/// `minflt` the faults resolved.
fn stat_line(pid: u32, comm: &str, me: bool, mem: (u64, u64), minflt: u64, starts: (u32, u32, u32)) -> String {
    let e = proctab::get(pid);
    let (st, _) = state(pid, me);
    let (ppid, pgid, sid, threads) = e.as_ref().map_or((0, 0, 0, 1), |e| (e.ppid, e.pgid, e.sid, e.threads.max(1)));
    let ticks = |d: Duration| d.as_millis() / 10;
    let (cpu, child) = e.as_ref().map_or((Duration::ZERO, Duration::ZERO), |e| (e.cpu, e.child_cpu));
    let vcpu = crate::sched::task_info(pid).map_or(0, |t| t.1);
    let (brk_start, brk, stack) = starts;
    format!(
        "{pid} ({comm}) {st} {ppid} {pgid} {sid} 0 -1 4194304 {minflt} 0 0 0 {} 0 {} 0 20 0 {threads} 0 0 {} {} 18446744073709551615 0 0 {stack} 0 0 0 0 0 0 0 0 0 17 {vcpu} 0 0 0 0 0 0 {brk_start} {brk} 0 0 0 0 0\n",
        ticks(cpu),
        ticks(child),
        mem.0 * 1024,
        mem.1 / 4,
    )
}

fn stat(p: &Process) -> String {
    let (size, rss, ..) = sizes(p);
    let mm = &*p.mm;
    let stack = mm.vmas.iter().find(|(_, v)| v.grows_down).map_or(0, |(_, v)| v.end as u32);
    let starts = (mm.brk_start, mm.brk, stack);
    stat_line(p.pid, &comm(p), true, (size, rss), mm.stats.minor_faults, starts)
}

/// `stat` of another process: its resident pages and faults as last
/// published, no sizes.
pub fn stat_of_other(pid: u32, comm: &str) -> String {
    let (m, resident, _) = gauge_of(pid);
    stat_line(pid, comm, false, (0, resident as u64 * 4), m.minor_faults, (0, 0, 0))
}

/// `status` of another process, from the process table, the scheduler
/// and its address space's published counters.
pub fn status_of_other(pid: u32, comm: &str) -> String {
    let e = proctab::get(pid);
    let (st, name) = state(pid, false);
    let (ppid, threads) = e.as_ref().map_or((0, 1), |e| (e.ppid, e.threads.max(1)));
    let who = crate::devproc::entry(pid).map_or((0, 0), |e| (e.uid, e.gid));
    let (m, resident, blocks) = gauge_of(pid);
    format!(
        "Name:\t{comm}\nState:\t{st} ({name})\nTgid:\t{pid}\nPid:\t{pid}\nPPid:\t{ppid}\nUid:\t{u}\t{u}\t{u}\t{u}\nGid:\t{g}\t{g}\t{g}\t{g}\n\
         VmRSS:\t{rss:8} kB\nThreads:\t{threads}\n{}",
        vx_lines(pid, &m, resident, blocks),
        u = who.0,
        g = who.1,
        rss = resident as u64 * 4,
    )
}
