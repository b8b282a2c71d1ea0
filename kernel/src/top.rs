//! `vxos top DIR`: a live view of a running guest from the host, read
//! from its exported namespace alone (`vxos boot|run --export DIR`):
//! `DIR/dev/kinfo` for the machine (uptime, tasks, memory, each vCPU's
//! task and busy time) and `DIR/proc/N/status` and `stat` for each process
//! (state, vCPU, context switches, faults, resident pages, translated
//! blocks, CPU time).
//!
//! Each refresh prints a header, a bar per vCPU (its busy share since the
//! last refresh, or since vxos started for the first) and a table of
//! processes. On a terminal the screen is cleared between refreshes;
//! otherwise frames follow each other, an empty line apart, so that
//! `vxos top -n 1 DIR` is a snapshot a script can parse. A guest still
//! starting gets a few seconds for its export to appear.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

/// Width of a vCPU's bar, in characters.
const BAR: usize = 30;

/// One reading of the machine: /dev/kinfo's pairs and each process's
/// status fields and CPU ticks.
struct Sample {
    kinfo: BTreeMap<String, u64>,
    procs: Vec<Proc>,
}

struct Proc {
    pid: u32,
    status: BTreeMap<String, String>,
    ticks: u64,
}

impl Proc {
    fn field(&self, name: &str) -> &str {
        self.status.get(name).map_or("-", |s| s.as_str())
    }
}

/// Parse /dev/kinfo's `name value` lines.
fn parse_kinfo(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(' ')?;
            Some((n.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Parse /proc/N/status's `Name:\tvalue` lines.
fn parse_status(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// User plus system ticks from /proc/N/stat (fields 14 and 15, counted
/// after the parenthesised name, which may hold spaces).
fn stat_ticks(text: &str) -> u64 {
    let rest = text.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<u64> = rest.split_whitespace().map(|w| w.parse().unwrap_or(0)).collect();
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

/// Read the machine from export directory `dir`.
fn sample(dir: &Path) -> Result<Sample, String> {
    let kpath = dir.join("dev/kinfo");
    let kinfo = std::fs::read_to_string(&kpath)
        .map_err(|e| format!("{}: {e} (is vxos running with --export {}?)", kpath.display(), dir.display()))?;
    let mut procs = Vec::new();
    let entries = std::fs::read_dir(dir.join("proc")).map_err(|e| format!("{}/proc: {e}", dir.display()))?;
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        // A process may end between the listing and the read.
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else { continue };
        let ticks = std::fs::read_to_string(e.path().join("stat")).map_or(0, |s| stat_ticks(&s));
        procs.push(Proc { pid, status: parse_status(&status), ticks });
    }
    procs.sort_by_key(|p| p.pid);
    Ok(Sample { kinfo: parse_kinfo(&kinfo), procs })
}

/// Render one frame; `before` is the previous reading, for the vCPU bars.
fn render(now: &Sample, before: Option<&Sample>) -> String {
    let k = |s: &Sample, name: &str| s.kinfo.get(name).copied().unwrap_or(0);
    let up = k(now, "uptime_ms");
    let vcpus = k(now, "vcpus");
    let mut out = format!(
        "vxos top: up {}.{:01}s, {} tasks ({} running, {} runnable, {} sleeping), {} vCPUs, {} of {} frames used\n",
        up / 1000,
        up % 1000 / 100,
        k(now, "tasks"),
        k(now, "tasks_running"),
        k(now, "tasks_runnable"),
        k(now, "tasks_sleeping"),
        vcpus,
        k(now, "frames_used"),
        k(now, "frames_total"),
    );
    out.push_str(&format!(
        "context switches {}, preemptions {}, page faults {}, system calls {}\n",
        k(now, "context_switches"),
        k(now, "preemptions"),
        k(now, "page_faults"),
        k(now, "syscalls"),
    ));
    for n in 0..vcpus {
        let busy = format!("vcpu{n}_busy_ms");
        let (db, dt) = match before {
            Some(b) => (k(now, &busy).saturating_sub(k(b, &busy)), up.saturating_sub(k(b, "uptime_ms"))),
            None => (k(now, &busy), up),
        };
        let pct = (db * 100).checked_div(dt).unwrap_or(0).min(100) as usize;
        let fill = pct * BAR / 100;
        let task = k(now, &format!("vcpu{n}_task"));
        let on = if task == 0 { "idle".to_string() } else { format!("pid {task}") };
        out.push_str(&format!("vcpu{n} [{}{}] {pct:3}% {on}\n", "#".repeat(fill), ".".repeat(BAR - fill)));
    }
    out.push_str(&format!(
        "{:>5} {:<15} {:1} {:>4} {:>6} {:>6} {:>7} {:>6} {:>7} {:>7} {:>7}\n",
        "PID", "COMM", "S", "VCPU", "VOLCS", "INVCS", "FAULTS", "COW", "RES_KB", "BLOCKS", "TIME_S"
    ));
    for p in &now.procs {
        let state = p.field("State").chars().next().unwrap_or('?');
        let res_kb = p.field("resident_pages").parse::<u64>().map_or("-".to_string(), |n| (n * 4).to_string());
        out.push_str(&format!(
            "{:>5} {:<15} {:1} {:>4} {:>6} {:>6} {:>7} {:>6} {:>7} {:>7} {:>7}\n",
            p.pid,
            p.field("Name"),
            state,
            p.field("vcpu"),
            p.field("voluntary_ctxt_switches"),
            p.field("nonvoluntary_ctxt_switches"),
            p.field("faults"),
            p.field("faults_cow_copy"),
            res_kb,
            p.field("translated_blocks"),
            format!("{}.{:02}", p.ticks / 100, p.ticks % 100),
        ));
    }
    out
}

/// Show the guest exported at `dir` every `delay`, `count` times (0:
/// until interrupted); return the exit status.
pub fn top(dir: &Path, count: u64, delay: Duration) -> i32 {
    let tty = std::io::stdout().is_terminal();
    let mut before: Option<Sample> = None;
    let mut shown = 0;
    // The guest may still be starting: give its export a few seconds to
    // appear before the first reading.
    let patience = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = match sample(dir) {
            Ok(s) => s,
            Err(_) if shown == 0 && std::time::Instant::now() < patience => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(e) => {
                eprintln!("vxos top: {e}");
                return 1;
            }
        };
        let frame = render(&now, before.as_ref());
        let mut out = std::io::stdout().lock();
        let r = if tty {
            write!(out, "\x1b[H\x1b[2J{frame}")
        } else {
            write!(out, "{}{frame}", if shown > 0 { "\n" } else { "" })
        };
        if r.and_then(|_| out.flush()).is_err() {
            return 0;
        }
        drop(out);
        shown += 1;
        if count != 0 && shown >= count {
            return 0;
        }
        before = Some(now);
        std::thread::sleep(delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_bars_and_rows() {
        let kinfo = "vcpus 2\ntasks 2\ntasks_running 1\ntasks_runnable 0\ntasks_sleeping 1\nvcpu0_task 3\n\
                     vcpu0_busy_ms 500\nvcpu1_task 0\nvcpu1_busy_ms 0\nuptime_ms 1000\n";
        let status = "Name:\tspin\nState:\tR (running)\nvcpu:\t0\nvoluntary_ctxt_switches:\t1\n\
                      nonvoluntary_ctxt_switches:\t7\nfaults:\t20\nfaults_cow_copy:\t2\nresident_pages:\t10\n\
                      translated_blocks:\t30\n";
        let now = Sample {
            kinfo: parse_kinfo(kinfo),
            procs: vec![Proc {
                pid: 3,
                status: parse_status(status),
                ticks: stat_ticks("3 (a b) R 2 2 1 0 -1 4194304 0 0 0 0 150 5 0"),
            }],
        };
        let t = render(&now, None);
        assert!(t.contains(&format!("vcpu0 [{}{}]  50% pid 3", "#".repeat(15), ".".repeat(15))), "{t}");
        assert!(t.contains("vcpu1 [") && t.contains("   0% idle"), "{t}");
        let row = t.lines().last().unwrap();
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols, ["3", "spin", "R", "0", "1", "7", "20", "2", "40", "30", "1.55"], "{t}");
    }
}
