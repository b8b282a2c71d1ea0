//! The timeline (`--timeline FILE`): which task ran on which vCPU when,
//! with its system calls and page faults, as a Chrome trace-event JSON
//! file (the `{"traceEvents": [...]}` format Perfetto and
//! chrome://tracing open).
//!
//! Each vCPU is a track (a `tid` of one process, "vxos"). Every stretch a
//! task runs on a vCPU, from the switch to its stack to the switch back,
//! is a complete (`X`) event named after the process (`sh 2/3`: name,
//! pid, tid); system calls and page faults are `X` events nested in it,
//! and the tick's preemptions instant (`i`) markers. A system call that
//! sleeps ends its slice where its task leaves the vCPU and goes on in a
//! new slice (`"continued": true`) wherever the task runs next, so slices
//! always nest in the stretch they belong to.
//!
//! Events are kept in memory, per vCPU (each vCPU writes only its own,
//! under a lock no other vCPU takes until the end), and written when vxos
//! ends: normally, or on SIGTERM, SIGINT, SIGHUP or SIGQUIT. A vCPU keeps
//! at most `LIMIT` events; later ones are dropped and counted, and the
//! file's `otherData` says how many (`dropped_events`). A stretch still
//! running at the end is cut there.

use super::Off;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

/// Events kept per vCPU (at most about 40 MB of them; a busy vCPU makes
/// some tens of thousands a second).
pub const LIMIT: usize = 1 << 19;

/// What a slice inside a stretch is.
#[derive(Clone, Copy)]
pub enum What {
    /// A system call, by name.
    Syscall(&'static str),
    /// A guest page fault: its kind (`fault_kind`) and address.
    Fault(&'static str, u32),
}

/// A slice begun and not yet ended.
#[derive(Clone, Copy)]
struct Open {
    start: u64,
    what: What,
    continued: bool,
}

/// The stretch a vCPU runs now.
struct Run {
    start: u64,
    tid: u32,
    pid: u32,
    name: Box<str>,
}

enum Ev {
    Run { start: u64, end: u64, tid: u32, pid: u32, name: Box<str>, then: &'static str },
    Slice { start: u64, end: u64, what: What, ret: Option<i64>, continued: bool },
    Preempt { at: u64, tid: u32 },
}

impl Ev {
    /// Start and end, in ns since the timeline began.
    fn span(&self) -> (u64, u64) {
        match *self {
            Ev::Run { start, end, .. } | Ev::Slice { start, end, .. } => (start, end),
            Ev::Preempt { at, .. } => (at, at),
        }
    }
}

#[derive(Default)]
struct Track {
    events: Vec<Ev>,
    dropped: u64,
    run: Option<Run>,
    /// Slices open in the stretch, innermost last.
    open: Vec<Open>,
}

impl Track {
    fn push(&mut self, e: Ev) {
        if self.events.len() < LIMIT {
            self.events.push(e);
        } else {
            self.dropped += 1;
        }
    }
}

struct Timeline {
    start: Instant,
    tracks: Vec<Mutex<Track>>,
}

static TL: OnceLock<Timeline> = OnceLock::new();
/// The file to write; taken by the first `finish`.
static FILE: Mutex<Option<PathBuf>> = Mutex::new(None);
/// Slices of tasks that left their vCPU inside them (a system call that
/// sleeps), by task: they go on where the task runs next.
static PARKED: Mutex<Option<HashMap<u32, Vec<Open>>>> = Mutex::new(None);

/// Start recording for the vCPUs there are (`sched::cpus`), to be written
/// to `file`, which is created now so a bad path fails before the guest
/// runs. Fatal signals write it too (crate::ending).
pub fn start(file: &Path) -> std::io::Result<()> {
    std::fs::File::create(file)?;
    let tracks = (0..crate::sched::cpus()).map(|_| Mutex::new(Track::default())).collect();
    let _ = TL.set(Timeline { start: Instant::now(), tracks });
    *FILE.lock() = Some(file.to_path_buf());
    Ok(())
}

/// Nanoseconds since the timeline began.
fn now(tl: &Timeline) -> u64 {
    tl.start.elapsed().as_nanos() as u64
}

/// vCPU `c`'s track.
fn track(tl: &Timeline, c: usize) -> &Mutex<Track> {
    &tl.tracks[c.min(tl.tracks.len() - 1)]
}

/// Task `tid` starts a stretch on vCPU `c`.
pub fn run_begin(c: usize, tid: u32) {
    let Some(tl) = TL.get() else { return };
    let pid = super::process_of(tid);
    let comm = crate::devproc::comm_of_pid(pid).unwrap_or_else(|| "task".into());
    let name = if pid == tid { format!("{comm} {pid}") } else { format!("{comm} {pid}/{tid}") };
    let parked = PARKED.lock().as_mut().and_then(|m| m.remove(&tid)).unwrap_or_default();
    let mut t = track(tl, c).lock();
    let start = now(tl);
    t.run = Some(Run { start, tid, pid, name: name.into() });
    t.open = parked.into_iter().map(|o| Open { start, continued: true, ..o }).collect();
}

/// The task on vCPU `c` ends its stretch, leaving `how`.
pub fn run_end(c: usize, how: &Off) {
    let Some(tl) = TL.get() else { return };
    let then = match how {
        Off::Runnable => "runnable",
        Off::Sleeping(_) => "sleeps",
        Off::Exited => "exited",
    };
    let (tid, open) = {
        let mut t = track(tl, c).lock();
        let end = now(tl);
        let (tid, open) = close(&mut t, end, then);
        (tid, if matches!(how, Off::Exited) { Vec::new() } else { open })
    };
    if !open.is_empty() {
        PARKED.lock().get_or_insert_with(HashMap::new).insert(tid, open);
    }
}

/// End track `t`'s stretch and its open slices at `end`; return its task
/// and the slices that were open.
fn close(t: &mut Track, end: u64, then: &'static str) -> (u32, Vec<Open>) {
    let open = std::mem::take(&mut t.open);
    for o in open.iter().rev() {
        t.push(Ev::Slice { start: o.start, end, what: o.what, ret: None, continued: o.continued });
    }
    let Some(r) = t.run.take() else { return (0, open) };
    t.push(Ev::Run { start: r.start, end, tid: r.tid, pid: r.pid, name: r.name, then });
    (r.tid, open)
}

/// A slice begins on this vCPU.
pub fn begin(what: What) {
    let Some(tl) = TL.get() else { return };
    let mut t = track(tl, crate::sched::this_cpu()).lock();
    let start = now(tl);
    t.open.push(Open { start, what, continued: false });
}

/// The innermost slice on this vCPU ends with result `ret` (a system
/// call's, or a fault's: 0, or minus the signal it raised).
pub fn end(ret: i64) {
    let Some(tl) = TL.get() else { return };
    let mut t = track(tl, crate::sched::this_cpu()).lock();
    let end = now(tl);
    if let Some(o) = t.open.pop() {
        t.push(Ev::Slice { start: o.start, end, what: o.what, ret: Some(ret), continued: o.continued });
    }
}

/// The tick stopped task `tid`'s guest on this vCPU.
pub fn preempted(tid: u32) {
    let Some(tl) = TL.get() else { return };
    let mut t = track(tl, crate::sched::this_cpu()).lock();
    let at = now(tl);
    t.push(Ev::Preempt { at, tid });
}

/// Write the timeline file (once; a second caller waits for the first).
pub fn finish() {
    let Some(tl) = TL.get() else { return };
    let mut file = FILE.lock();
    let Some(path) = file.take() else { return };
    let mut tracks = Vec::new();
    for m in &tl.tracks {
        let mut t = m.lock();
        let end = now(tl);
        close(&mut t, end, "running at exit");
        tracks.push((std::mem::take(&mut t.events), t.dropped));
    }
    let text = json(&mut tracks);
    if let Err(e) = std::fs::File::create(&path).and_then(|mut f| f.write_all(text.as_bytes())) {
        eprintln!("vxos: --timeline {}: {e}", path.display());
    }
}

/// Sort each track's events (by start, outer before inner), drop slices
/// left outside any stretch (their stretch was dropped), and spell the
/// file.
fn json(tracks: &mut [(Vec<Ev>, u64)]) -> String {
    let mut s = String::from("{\"traceEvents\":[\n");
    let _ = write!(s, "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{{\"name\":\"vxos\"}}}}");
    for c in 0..tracks.len() {
        let _ = write!(
            s,
            ",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{c},\"args\":{{\"name\":\"vCPU {c}\"}}}}\
             ,\n{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":{c},\"args\":{{\"sort_index\":{c}}}}}"
        );
    }
    let mut dropped = Vec::new();
    for (c, (events, lost)) in tracks.iter_mut().enumerate() {
        events.sort_by_key(|e| {
            let (a, b) = e.span();
            (a, std::cmp::Reverse(b), !matches!(e, Ev::Run { .. }))
        });
        let mut within: Option<(u64, u64)> = None;
        for e in events.iter() {
            let (a, b) = e.span();
            if let Ev::Run { .. } = e {
                within = Some((a, b));
            } else if !within.is_some_and(|(ra, rb)| ra <= a && b <= rb) {
                *lost += 1;
                continue;
            }
            s.push_str(",\n");
            event(&mut s, c, e);
        }
        dropped.push(lost.to_string());
    }
    let total: u64 = tracks.iter().map(|t| t.1).sum();
    let _ = write!(
        s,
        "\n],\n\"displayTimeUnit\":\"ms\",\n\"otherData\":{{\"vcpus\":{},\"events_per_vcpu_limit\":{LIMIT},\"dropped_events\":{total},\"dropped_by_vcpu\":[{}]}}}}\n",
        tracks.len(),
        dropped.join(",")
    );
    s
}

/// A time in ns as trace-event microseconds.
fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

/// Spell event `e` of vCPU `c`.
fn event(s: &mut String, c: usize, e: &Ev) {
    match e {
        Ev::Run { start, end, tid, pid, name, then } => {
            let _ = write!(
                s,
                "{{\"name\":{},\"cat\":\"run\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":1,\"tid\":{c},\"args\":{{\"pid\":{pid},\"tid\":{tid},\"then\":\"{then}\"}}}}",
                quote(name),
                us(*start),
                us(end - start)
            );
        }
        Ev::Slice { start, end, what, ret, continued } => {
            let (name, cat, mut args) = match what {
                What::Syscall(n) => (*n, "syscall", String::new()),
                What::Fault(kind, addr) => {
                    ("page fault", "fault", format!("\"addr\":\"{addr:#x}\",\"kind\":{}", quote(kind)))
                }
            };
            let mut arg = |k: &str, v: &str| {
                if !args.is_empty() {
                    args.push(',');
                }
                let _ = write!(args, "\"{k}\":{v}");
            };
            if let Some(r) = ret {
                arg("ret", &r.to_string());
            }
            if *continued {
                arg("continued", "true");
            }
            let _ = write!(
                s,
                "{{\"name\":{},\"cat\":\"{cat}\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":1,\"tid\":{c},\"args\":{{{args}}}}}",
                quote(name),
                us(*start),
                us(end - start)
            );
        }
        Ev::Preempt { at, tid } => {
            let _ = write!(
                s,
                "{{\"name\":\"preempted\",\"cat\":\"sched\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{},\"pid\":1,\"tid\":{c},\"args\":{{\"tid\":{tid}}}}}",
                us(*at)
            );
        }
    }
}

/// `v` as a JSON string.
fn quote(v: &str) -> String {
    let mut s = String::from("\"");
    for ch in v.chars() {
        match ch {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_sorts_and_drops_orphans() {
        let run = |start, end| Ev::Run { start, end, tid: 2, pid: 2, name: "a \"b\"".into(), then: "exited" };
        let sys = |start, end| Ev::Slice { start, end, what: What::Syscall("write"), ret: Some(3), continued: false };
        // Slices come before their stretch in the buffer (they end first);
        // the last one has no stretch.
        let mut tracks = vec![(vec![sys(1500, 2000), run(1000, 3000), sys(5000, 6000)], 0)];
        let text = json(&mut tracks);
        let run_at = text.find("\"cat\":\"run\"").unwrap();
        let sys_at = text.find("\"cat\":\"syscall\"").unwrap();
        assert!(run_at < sys_at, "{text}");
        assert!(text.contains("\"name\":\"a \\\"b\\\"\""), "{text}");
        assert!(text.contains("\"ts\":1.500,\"dur\":0.500"), "{text}");
        assert!(text.contains("\"dropped_events\":1"), "{text}");
        assert_eq!(text.matches("\"ph\":\"X\"").count(), 2, "{text}");
    }
}
