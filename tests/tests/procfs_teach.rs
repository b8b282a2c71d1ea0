//! /proc for people and the teaching demos: the files parse, their
//! counters move when the demos run, and `vxos top` renders a live guest.
//!
//! - /proc/self/status: every line is `Name:<tab>value`; the lines it
//!   shares with the host's own /proc/self/status come in Linux's order,
//!   and vxos's lines (context switches, vCPU, faults by kind, resident
//!   pages, translated blocks) are numbers; another process's status has
//!   them too, from the process table;
//! - cow-demo: the child's writes are CoW copies, the parent's later
//!   writes takeovers, and vxmaps shows the pages shared and copy-on-write
//!   after fork and neither after the writes;
//! - fault-demo: demand-zero, file and invalid faults move as it says;
//! - sched-demo with one vCPU: spinners are preempted (nonvoluntary
//!   switches), the sleeper gives the vCPU up (voluntary ones);
//! - signal-demo prints the same natively and under vxos;
//! - /proc/self/ns lists the expected mounts, and ns-demo's binds show
//!   where a shared and a private namespace say;
//! - /dev/kinfo's per-vCPU lines, and `vxos top -n 2` of an exported guest.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use vxos_tests::*;

/// Run `vxos run OPTS PROG ARGS` in a scratch directory.
fn run(opts: &[&str], prog: &Path, args: &[&str]) -> Outcome {
    let o = guest_opts(opts, prog, args, &scratch("procfs_teach"), None);
    assert_eq!(o.status, 0, "{o}");
    o
}

fn stdout(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn bb() -> std::path::PathBuf {
    busybox();
    "/bin/busybox".into()
}

/// Parse status text into (name, value) in order, checking the format.
fn status_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| {
            let (n, v) = l.split_once(":\t").unwrap_or_else(|| panic!("not 'Name:<tab>value': {l:?}"));
            assert!(!n.is_empty() && !n.contains(char::is_whitespace), "bad name in {l:?}");
            (n.to_string(), v.to_string())
        })
        .collect()
}

/// vxos's own lines of status, each a number.
const VX_FIELDS: &[&str] = &[
    "vcpu",
    "faults",
    "faults_demand_zero",
    "faults_file",
    "faults_shared",
    "faults_cow_copy",
    "faults_cow_takeover",
    "faults_remap",
    "faults_invalid",
    "resident_pages",
    "translated_blocks",
    "restored_blocks",
];

fn numbers(lines: &[(String, String)]) -> BTreeMap<String, u64> {
    lines.iter().filter_map(|(n, v)| Some((n.clone(), v.split_whitespace().next()?.parse().ok()?))).collect()
}

#[test]
fn status_parses_in_linux_order_with_counters() {
    let o = run(&[], Path::new("/bin/cat"), &["/proc/self/status"]);
    let ours = status_lines(&stdout(&o));
    let native = std::fs::read_to_string("/proc/self/status").unwrap();
    let linux: Vec<String> = native.lines().filter_map(|l| Some(l.split_once(':')?.0.to_string())).collect();
    // Linux's lines we have come in Linux's order; the rest are vxos's.
    let shared: Vec<&String> = ours.iter().map(|l| &l.0).filter(|n| linux.contains(n)).collect();
    let order: Vec<&String> = linux.iter().filter(|n| shared.contains(n)).collect();
    assert_eq!(shared, order, "Linux's lines out of Linux's order");
    for (n, _) in &ours {
        assert!(linux.contains(n) || VX_FIELDS.contains(&n.as_str()), "{n}: neither Linux's nor vxos's");
    }
    for f in ["voluntary_ctxt_switches", "nonvoluntary_ctxt_switches", "State", "VmRSS"] {
        assert!(ours.iter().any(|l| l.0 == f), "no {f}");
    }
    let n = numbers(&ours);
    for f in VX_FIELDS {
        assert!(n.contains_key(*f), "{f} is not a number");
    }
    for f in ["faults", "faults_demand_zero", "faults_file", "resident_pages", "translated_blocks"] {
        assert!(n[f] > 0, "{f} is 0");
    }
    let kinds: u64 =
        VX_FIELDS[2..9].iter().map(|f| n[*f]).sum::<u64>() - n["faults_cow_copy"] - n["faults_cow_takeover"];
    assert!(kinds <= n["faults"], "kinds {kinds} > faults {}", n["faults"]);
}

#[test]
fn status_of_another_process() {
    let o = run(&[], &bb(), &["sh", "-c", "/bin/busybox sleep 0.5 & /bin/busybox sleep 0.2; cat /proc/$!/status"]);
    let lines = status_lines(&stdout(&o));
    let n = numbers(&lines);
    let state = &lines.iter().find(|l| l.0 == "State").unwrap().1;
    assert_eq!(state, "S (sleeping)", "{lines:?}");
    for f in VX_FIELDS {
        assert!(n.contains_key(*f), "{f} missing: {lines:?}");
    }
    for f in ["faults", "resident_pages", "translated_blocks", "voluntary_ctxt_switches"] {
        assert!(n[f] > 0, "{f} is 0: {lines:?}");
    }
}

/// The numbers after `key ` in `line` (`faults_cow_copy 70 (+65)` -> 70).
fn after(line: &str, key: &str) -> i64 {
    let rest = line.split(&format!("{key} ")).nth(1).unwrap_or_else(|| panic!("no {key} in {line:?}"));
    let w = rest.split([' ', ',', ')']).next().unwrap();
    w.trim_start_matches(['(', '+']).parse().unwrap_or_else(|_| panic!("{key} in {line:?}"))
}

fn line_with<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no line {start:?} in:\n{text}"))
}

#[test]
fn cow_demo_copies_and_takes_over() {
    let out = stdout(&run(&[], &bins().join("cow-demo"), &[]));
    let child = line_with(&out, "child after writing: faults_cow_copy");
    let delta = child.split('(').nth(1).map(|d| after(&format!("x {d}"), "x")).unwrap();
    assert!(delta >= 64, "the child's 64 writes are CoW copies:\n{out}");
    let parent = line_with(&out, "parent after");
    let take = parent.split('(').nth(2).map(|d| after(&format!("x {d}"), "x")).unwrap();
    assert!(take >= 64, "the parent takes its frames over:\n{out}");
    let before = line_with(&out, "child before writing: vxmaps");
    assert_eq!((after(before, "resident"), after(before, "shared"), after(before, "cow")), (64, 64, 64), "{out}");
    let later = line_with(&out, "child after writing: vxmaps");
    assert_eq!((after(later, "shared"), after(later, "cow")), (0, 0), "{out}");
}

#[test]
fn vxmaps_parses_and_matches_maps() {
    let o = run(&[], &bb(), &["sh", "-c", "cat /proc/self/maps; echo ---; cat /proc/self/vxmaps"]);
    let out = stdout(&o);
    let (maps, vx) = out.split_once("---\n").unwrap();
    let ranges = |t: &str| t.lines().map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>();
    assert_eq!(ranges(maps), ranges(vx), "the same VMAs");
    for l in vx.lines() {
        let w: Vec<&str> = l.split(' ').collect();
        assert!(w.len() >= 10, "{l}");
        assert_eq!([w[2], w[4], w[6], w[8]], ["resident", "shared", "cow", "cached"], "{l}");
        let n: Vec<u64> = [3, 5, 7, 9].iter().map(|&i| w[i].parse().unwrap()).collect();
        assert!(n[1] <= n[0] && n[2] <= n[0] && n[3] <= n[0], "{l}");
    }
    // The program's text comes from the page cache, shared with every
    // other process running it (here: none but the cache).
    let text = vx.lines().find(|l| l.contains(" r-xp ") && l.ends_with("/bin/busybox")).expect("busybox's text");
    assert!(after(text, "cached") > 0, "{text}");
}

#[test]
fn fault_demo_counts_by_kind() {
    let out = stdout(&run(&[], &bins().join("fault-demo"), &[]));
    let scattered = line_with(&out, "32 anonymous pages, scattered");
    assert!(after(scattered, "demand_zero") >= 32, "{out}");
    let ordered = line_with(&out, "64 anonymous pages, in order");
    let n = after(ordered, "demand_zero");
    assert!(n > 0 && n < 64, "map-ahead: {out}");
    let file = out.lines().find(|l| l.contains("pages of this program's file")).unwrap();
    assert!(after(file, "file") > 0 && after(file, "demand_zero") == 0, "{out}");
    assert_eq!(after(line_with(&out, "a PROT_NONE page"), "invalid"), 1, "{out}");
}

#[test]
fn sched_demo_preempts_with_one_vcpu() {
    let out = stdout(&run(&["--cpus", "1"], &bins().join("sched-demo"), &["0.3"]));
    for who in ["spinner1", "spinner2"] {
        let l = line_with(&out, who);
        assert!(after(l, "nonvoluntary_ctxt_switches") > 0, "{out}");
        assert_eq!(after(l, "vcpu"), 0, "{out}");
    }
    assert!(after(line_with(&out, "sleeper"), "voluntary_ctxt_switches") >= 10, "{out}");
}

#[test]
fn signal_demo_same_as_linux() {
    let dir = scratch("procfs_teach");
    let o = same(&bins().join("signal-demo"), &[], &dir, None);
    assert!(stdout(&o).contains("pending in /proc/self/status? yes"), "{o}");
}

#[test]
fn ns_lists_mounts_and_demo_binds() {
    let o = run(&[], Path::new("/bin/cat"), &["/proc/self/ns"]);
    let out = stdout(&o);
    for want in ["mount -c #r /", "mount #n /dev", "mount -a #k /dev", "mount #p /proc", "mount -c #r /tmp"] {
        assert!(out.lines().any(|l| l == want), "no {want:?} in:\n{out}");
    }
    assert!(out.lines().all(|l| l.starts_with("mount ") || l.starts_with("bind ")), "{out}");
    let demo = stdout(&run(&[], &bins().join("ns-demo"), &[]));
    assert!(demo.contains("the parent sees /mnt/passwd? yes"), "{demo}");
    assert!(demo.contains("the parent sees /mnt/self? no"), "{demo}");
}

#[test]
fn kinfo_has_each_vcpu() {
    let o = run(&["--cpus", "2"], &bb(), &["sh", "-c", "cat /dev/kinfo"]);
    let out = stdout(&o);
    let get = |n: &str| -> u64 {
        out.lines().find_map(|l| l.strip_prefix(n)?.strip_prefix(' ')?.parse().ok()).unwrap_or_else(|| panic!("{n}"))
    };
    let up = get("uptime_ms");
    for c in 0..2 {
        let (busy, idle) = (get(&format!("vcpu{c}_busy_ms")), get(&format!("vcpu{c}_idle_ms")));
        assert!(busy + idle <= up + 1 && busy + idle + 1 >= up, "{out}");
    }
    assert!(get("vcpu0_task") + get("vcpu1_task") > 0, "the reader runs on one: {out}");
}

#[test]
fn top_of_an_exported_guest() {
    if !Path::new("/dev/fuse").exists() {
        eprintln!("skipping: this host has no /dev/fuse, which the export needs");
        return;
    }
    let dir = fresh("procfs_teach_top");
    let exp = dir.join("export");
    let mut guest = Command::new(vxos())
        .args(["run", "--cpus", "1", "--export"])
        .arg(&exp)
        .arg(bins().join("sched-demo"))
        .arg("1.5")
        .current_dir(&dir)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let o = Command::new(vxos()).args(["top", "-n", "2", "-d", "0.3"]).arg(&exp).output().unwrap();
    let _ = guest.wait();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{}\n{out}", String::from_utf8_lossy(&o.stderr));
    let frames: Vec<&str> = out.split("\n\n").collect();
    assert_eq!(frames.len(), 2, "{out}");
    let last = frames[1];
    assert!(last.starts_with("vxos top: up "), "{last}");
    let bar = line_with(last, "vcpu0 [");
    let inside = bar.split(['[', ']']).nth(1).unwrap();
    assert_eq!(inside.chars().count(), 30, "{bar}");
    assert!(inside.starts_with("##"), "two spinners keep the one vCPU busy: {bar}");
    assert!(!last.contains("vcpu1 ["), "{last}");
    let head = line_with(last, "  PID COMM");
    assert_eq!(head.split_whitespace().count(), 11, "{head}");
    let rows: Vec<Vec<&str>> =
        last.lines().skip_while(|l| !l.starts_with("  PID")).skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert!(rows.len() >= 3, "the demo and its spinners: {last}");
    let spinners = rows.iter().filter(|r| r[1] == "sched-demo" && r[2] == "R").count();
    assert!(spinners >= 1, "{last}");
    for r in &rows {
        assert_eq!(r.len(), 11, "{r:?}");
        for c in [0, 3, 4, 5, 6, 7, 8, 9] {
            assert!(r[c].parse::<u64>().is_ok(), "column {c} of {r:?}");
        }
    }
    assert!(rows.iter().any(|r| r[5].parse::<u64>().unwrap() > 0), "a spinner was preempted: {last}");
}
