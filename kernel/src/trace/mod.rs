//! Tracing: strace-like lines for what the kernel does on a program's
//! behalf (`--trace=syscall,signal,fault,sched,exec,translate`), and the
//! timeline (`--timeline FILE`, `timeline.rs`).
//!
//! Each kind is a bit in `KINDS`; every place that can trace asks `on`,
//! one relaxed load, and calls in here only when the bit is set, so a
//! kernel that traces nothing pays a load and a branch (and without the
//! `trace` cargo feature, not even that: `on` is a constant false). The
//! timeline is one more bit, so a call site that feeds both asks once.
//! Lines go to stderr or to `--trace-file`, each written whole under one
//! lock, prefixed with the thread they concern (`[pid N]`, as strace names
//! threads); `--trace-pid` keeps those of one process.
//!
//! The call sites (the dispatcher, signal delivery, the fault trap, the
//! scheduler, exec) decide what happened; this module only spells it.
//! System calls are spelled in `syscall.rs`, the translator's events
//! (which vx-core hands to a watcher) in `translate.rs`.

mod syscall;
pub mod timeline;
mod translate;
pub use translate::for_task;

use crate::errno::{Errno, SysResult};
use crate::mm::Mm;
use crate::process::Process;
use crate::signal::SigInfo;
use crate::syscall::{Args, SysEntry};
use parking_lot::Mutex;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

pub const SYSCALL: u32 = 1;
pub const SIGNAL: u32 = 2;
pub const FAULT: u32 = 4;
pub const SCHED: u32 = 8;
pub const EXEC: u32 = 16;
pub const TRANSLATE: u32 = 32;
/// The timeline is being recorded (`--timeline`; no `--trace` kind).
pub const TIMELINE: u32 = 1 << 16;

/// The kinds `--trace` names, with their bits.
pub const KINDS_BY_NAME: &[(&str, u32)] = &[
    ("syscall", SYSCALL),
    ("signal", SIGNAL),
    ("fault", FAULT),
    ("sched", SCHED),
    ("exec", EXEC),
    ("translate", TRANSLATE),
];

/// What is traced: an OR of the kind bits.
static KINDS: AtomicU32 = AtomicU32::new(0);
/// The only process traced (0: all).
static PID: AtomicU32 = AtomicU32::new(0);

struct Sink {
    out: Box<dyn Write + Send>,
    /// End lines with CR LF (stderr is the raw console under `vxos boot`).
    crlf: bool,
}

static OUT: Mutex<Option<Sink>> = Mutex::new(None);

/// Report whether events of `kind` are traced.
#[inline(always)]
pub fn on(kind: u32) -> bool {
    cfg!(feature = "trace") && KINDS.load(Ordering::Relaxed) & kind != 0
}

/// Parse a `--trace` list ("syscall,fault", "all") into kind bits.
pub fn parse(list: &str) -> Result<u32, String> {
    let mut bits = 0;
    for k in list.split(',') {
        bits |= match k {
            "all" => KINDS_BY_NAME.iter().fold(0, |a, k| a | k.1),
            _ => match KINDS_BY_NAME.iter().find(|x| x.0 == k) {
                Some(x) => x.1,
                None => {
                    let known: Vec<&str> = KINDS_BY_NAME.iter().map(|x| x.0).chain(["all"]).collect();
                    return Err(format!("unknown trace kind {k:?} (known: {})", known.join(", ")));
                }
            },
        };
    }
    Ok(bits)
}

/// Start tracing `kinds` (see `parse`) of process `pid` (all if None) to
/// `file` (stderr if None), before any guest runs.
pub fn start(kinds: u32, pid: Option<u32>, file: Option<&std::path::Path>, crlf: bool) -> std::io::Result<()> {
    let out: Box<dyn Write + Send> = match file {
        Some(f) => Box::new(std::io::BufWriter::new(std::fs::File::create(f)?)),
        None => Box::new(std::io::stderr()),
    };
    *OUT.lock() = Some(Sink { out, crlf: crlf && file.is_none() });
    PID.store(pid.unwrap_or(0), Ordering::Relaxed);
    if kinds & TRANSLATE != 0 {
        vx_core::observe::watch(translate::event);
    }
    KINDS.fetch_or(kinds, Ordering::Relaxed);
    Ok(())
}

/// Start recording the timeline into host file `file`, written at exit
/// (see `timeline.rs`); before any guest runs.
pub fn start_timeline(file: &std::path::Path) -> std::io::Result<()> {
    timeline::start(file)?;
    KINDS.fetch_or(TIMELINE, Ordering::Relaxed);
    Ok(())
}

/// Write what is buffered for the trace file, and the timeline file (at
/// exit, also on a fatal signal: callers racing here wait for the first).
pub fn finish() {
    if let Some(s) = OUT.lock().as_mut() {
        let _ = s.out.flush();
    }
    if on(TIMELINE) {
        timeline::finish();
    }
}

/// Run system call `e` for `p` with `args`, as a trace line and as a
/// slice of the timeline, as asked.
pub fn syscall(p: &mut Process, nr: u32, e: Option<&'static SysEntry>, args: Args) -> SysResult {
    let slice = on(TIMELINE);
    if slice {
        timeline::begin(timeline::What::Syscall(e.map_or("unknown", |e| e.name)));
    }
    let r = if on(SYSCALL) {
        syscall::traced(p, nr, e, args)
    } else {
        match e {
            Some(e) => (e.handler)(p, args),
            None => Err(Errno::ENOSYS),
        }
    };
    if slice {
        timeline::end(match r {
            Ok(v) => v as i32 as i64,
            Err(e) => -(e as i64),
        });
    }
    r
}

/// Report whether process `pid`'s events are traced.
pub(crate) fn wanted(pid: u32) -> bool {
    let only = PID.load(Ordering::Relaxed);
    only == 0 || only == pid
}

/// Write one line about thread `tid`.
fn emit(tid: u32, line: &str) {
    if let Some(s) = OUT.lock().as_mut() {
        let end = if s.crlf { "\r\n" } else { "\n" };
        let _ = write!(s.out, "[pid {tid}] {line}{end}");
    }
}

/// The process thread `tid` belongs to (not to be called with the
/// process table locked).
fn process_of(tid: u32) -> u32 {
    crate::proctab::get(tid).map_or(tid, |e| e.tgid)
}

// ---- spelling values ----

/// A guest address as strace shows it.
fn hex(v: u32) -> String {
    if v == 0 {
        "NULL".into()
    } else {
        format!("{v:#x}")
    }
}

/// Quote bytes as a C string, with at most `max` of them then "...".
fn quote(b: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    let shown = &b[..b.len().min(max)];
    for (i, &c) in shown.iter().enumerate() {
        // An octal escape before a digit takes all three digits.
        let digit_next = shown.get(i + 1).is_some_and(|d| (b'0'..=b'7').contains(d));
        match c {
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ if digit_next => {
                let _ = write!(s, "\\{c:03o}");
            }
            _ => {
                let _ = write!(s, "\\{c:o}");
            }
        }
    }
    s.push('"');
    if b.len() > max {
        s.push_str("...");
    }
    s
}

/// Signal names by number (i386 Linux).
const SIGNALS: [&str; 32] = [
    "0",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// The name of signal `s`.
pub fn signal_name(s: u32) -> String {
    match s {
        0..=31 => SIGNALS[s as usize].into(),
        32..=64 => format!("SIGRT_{}", s - 32),
        _ => s.to_string(),
    }
}

// ---- signals, faults, exec, exits ----

/// si_code as strace names it, for signal `sig`.
fn si_code(sig: u32, code: i32) -> String {
    let named = match (sig, code) {
        (_, 0) => "SI_USER",
        (_, 0x80) => "SI_KERNEL",
        (_, -1) => "SI_QUEUE",
        (_, -2) => "SI_TIMER",
        (_, -6) => "SI_TKILL",
        (17, 1) => "CLD_EXITED",
        (17, 2) => "CLD_KILLED",
        (17, 3) => "CLD_DUMPED",
        (17, 4) => "CLD_TRAPPED",
        (17, 5) => "CLD_STOPPED",
        (17, 6) => "CLD_CONTINUED",
        (11, 1) => "SEGV_MAPERR",
        (11, 2) => "SEGV_ACCERR",
        (7, 1) => "BUS_ADRALN",
        (7, 2) => "BUS_ADRERR",
        (8, 1) => "FPE_INTDIV",
        (8, 2) => "FPE_INTOVF",
        (4, 2) => "ILL_ILLOPN",
        (4, 5) => "ILL_PRVOPC",
        (5, 1) => "TRAP_BRKPT",
        _ => return code.to_string(),
    };
    named.into()
}

/// Trace signal `info` taken by thread `p`: `what` says what became of it
/// ("" for a handler run, else e.g. "ignored", "killed").
pub fn signal(p: &Process, info: &SigInfo, what: &str) {
    if !wanted(p.pid) {
        return;
    }
    let sig = info.signo;
    let mut line =
        format!("--- {} {{si_signo={}, si_code={}", signal_name(sig), signal_name(sig), si_code(sig, info.code));
    match sig {
        4 | 5 | 7 | 8 | 11 if info.code > 0 => {
            let _ = write!(line, ", si_addr={}", hex(info.pid));
        }
        17 => {
            let _ = write!(line, ", si_pid={}, si_uid={}, si_status={}", info.pid, info.uid, info.value);
        }
        _ => {
            let _ = write!(line, ", si_pid={}, si_uid={}", info.pid, info.uid);
        }
    }
    line.push('}');
    if !what.is_empty() {
        let _ = write!(line, " ({what})");
    }
    line.push_str(" ---");
    emit(p.tid, &line);
}

/// Trace signal `info` delivered to thread `p`, whose action is `handler`
/// (0 the default, 1 ignore, else a handler's address).
pub fn delivered(p: &Process, info: &SigInfo, handler: u32) {
    use crate::signal::Default;
    let what = match handler {
        0 => match crate::signal::default_action(info.signo) {
            Default::Terminate => "default action: terminate",
            Default::Stop => "default action: stop",
            Default::Continue => "default action: continue",
            Default::Ignore => "default action: ignore",
        },
        1 => "ignored",
        _ => "",
    };
    signal(p, info, what);
}

/// Trace the end of thread `tid` of process `pid`, as strace's last line.
pub fn exited(tid: u32, pid: u32, st: crate::process::ExitStatus) {
    if !wanted(pid) {
        return;
    }
    match st {
        crate::process::ExitStatus::Code(c) => emit(tid, &format!("+++ exited with {} +++", c & 0xff)),
        crate::process::ExitStatus::Signal(s) => emit(tid, &format!("+++ killed by {} +++", signal_name(s as u32))),
    }
}

/// Note a guest page fault at `addr` about to be resolved: return what it
/// will be (see `fault_kind`), for `fault` after it.
pub fn fault_begin(mm: &Mm, addr: u32, write: bool) -> &'static str {
    let kind = fault_kind(mm, addr, write);
    if on(TIMELINE) {
        timeline::begin(timeline::What::Fault(kind, addr));
    }
    kind
}

/// What a fault at `addr` will be, judged before `Mm::fault` resolves it
/// from the VMA and the page table.
fn fault_kind(mm: &Mm, addr: u32, write: bool) -> &'static str {
    use crate::mm::pagetable::pte;
    use crate::mm::vma::Backing;
    let vma = match mm.vmas.find(addr) {
        Some((_, v)) => v,
        None => match mm.vmas.next_above(addr) {
            Some((_, v)) if v.grows_down => return "stack growth, demand-zero",
            _ => return "invalid",
        },
    };
    match (mm.pt.get(addr >> 12), &vma.backing) {
        (None, Backing::Anon) => "demand-zero",
        (None, Backing::File { .. }) if write => "file, then copy-on-write",
        (None, Backing::File { .. }) => "file",
        (None, Backing::Shared { .. }) => "shared",
        (Some(e), _) if write && e.flags & pte::COW != 0 => {
            if crate::mm::memory().refs(e.frame) > 1 {
                "copy-on-write: copy"
            } else {
                "copy-on-write: last user keeps the frame"
            }
        }
        (Some(e), _) if write && e.flags & pte::WRITABLE == 0 => "first write to a shared page",
        (Some(_), _) => "in the page table already: map it",
    }
}

/// Trace a guest page fault of thread `p` at `addr` from `eip`: `kind`
/// from `fault_kind`, `bad` the signal if it could not be resolved.
pub fn fault(p: &Process, addr: u32, access: &str, eip: u32, kind: &str, bad: Option<(i32, i32)>) {
    if on(TIMELINE) {
        timeline::end(bad.map_or(0, |b| -(b.0 as i64)));
    }
    if !on(FAULT) || !wanted(p.pid) {
        return;
    }
    let mut line = format!("fault {addr:#x} {access} at eip {eip:#x}: {kind}");
    if let Some((sig, code)) = bad {
        let kind = if kind == "invalid" { "" } else { " (invalid)" };
        let _ = write!(line, "{kind} -> {} {}", signal_name(sig as u32), si_code(sig as u32, code));
    }
    emit(p.tid, &line);
}

/// Trace thread `tid` of process `pid` starting program `exe` with `argv`.
pub fn exec(tid: u32, pid: u32, exe: &str, argv: &[Vec<u8>]) {
    if !wanted(pid) {
        return;
    }
    let args: Vec<String> = argv.iter().map(|a| quote(a, usize::MAX)).collect();
    emit(tid, &format!("exec {} [{}]", quote(exe.as_bytes(), usize::MAX), args.join(", ")));
}

// ---- scheduling ----

/// What became of a task that left its vCPU.
pub enum Off {
    Runnable,
    Sleeping(u64),
    Exited,
}

/// The tasks of the `--trace-pid` process seen running, for tracing their
/// wakeups: `wakeup` may be called with the process table locked, so it
/// cannot ask that table whose a task is.
static TRACED_TASKS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Report whether task `tid`'s scheduling is traced, asking the process
/// table (never from under its lock).
fn task_wanted(tid: u32) -> bool {
    if PID.load(Ordering::Relaxed) == 0 {
        return true;
    }
    let yes = wanted(process_of(tid));
    let mut seen = TRACED_TASKS.lock();
    if yes && !seen.contains(&tid) {
        seen.push(tid);
    }
    yes
}

/// Trace task `tid` starting to run on vCPU `cpu`.
pub fn sched_in(tid: u32, cpu: usize) {
    if on(TIMELINE) {
        timeline::run_begin(cpu, tid);
    }
    if on(SCHED) && task_wanted(tid) {
        emit(tid, &format!("sched: runs on vcpu {cpu}"));
    }
}

/// Trace task `tid` leaving vCPU `cpu` after `ran` of CPU time.
pub fn sched_out(tid: u32, cpu: usize, how: Off, ran: std::time::Duration) {
    if on(TIMELINE) {
        timeline::run_end(cpu, &how);
    }
    if !on(SCHED) || !task_wanted(tid) {
        return;
    }
    let how = match how {
        Off::Runnable => "runnable".to_string(),
        Off::Sleeping(chan) => format!("sleeps on {chan:#x}"),
        Off::Exited => "exited".to_string(),
    };
    emit(tid, &format!("sched: leaves vcpu {cpu} after {} µs, {how}", ran.as_micros()));
}

/// Trace task `tid` being woken from a sleep on `chan`.
pub fn wakeup(tid: u32, chan: u64) {
    if PID.load(Ordering::Relaxed) == 0 || TRACED_TASKS.lock().contains(&tid) {
        emit(tid, &format!("sched: woken on {chan:#x}"));
    }
}

/// Trace task `tid` being woken from a sleep on `chan` by a signal.
pub fn interrupted(tid: u32, chan: u64) {
    if PID.load(Ordering::Relaxed) == 0 || TRACED_TASKS.lock().contains(&tid) {
        emit(tid, &format!("sched: woken by a signal from a sleep on {chan:#x}"));
    }
}

/// Trace the tick preempting thread `p`'s guest.
pub fn preempted(p: &Process) {
    if on(TIMELINE) {
        timeline::preempted(p.tid);
    }
    if on(SCHED) && wanted(p.pid) {
        emit(p.tid, "sched: preempted by the tick");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds() {
        assert_eq!(parse("syscall").unwrap(), SYSCALL);
        assert_eq!(parse("fault,exec").unwrap(), FAULT | EXEC);
        assert_eq!(parse("translate").unwrap(), TRANSLATE);
        assert_eq!(parse("all").unwrap(), SYSCALL | SIGNAL | FAULT | SCHED | EXEC | TRANSLATE);
        assert_eq!(parse("all").unwrap() & TIMELINE, 0);
        assert!(parse("syscall,bogus").is_err());
    }

    #[test]
    fn spells_signals_and_strings() {
        assert_eq!(signal_name(17), "SIGCHLD");
        assert_eq!(si_code(17, 1), "CLD_EXITED");
        assert_eq!(quote(b"hi\n", 32), "\"hi\\n\"");
        assert_eq!(quote(b"abcdef", 3), "\"abc\"...");
        assert_eq!(quote(&[0, 200], 32), "\"\\0\\310\"");
    }
}
