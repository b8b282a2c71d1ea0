//! The timeline (`--timeline FILE`): a Chrome trace-event JSON file.
//!
//! - a shell pipeline (several processes on two vCPUs): the file is valid
//!   JSON, names one track per vCPU, has run stretches of more than one
//!   process, each track's complete events are in order with non-negative
//!   durations, stretches on one track never overlap, and every system
//!   call and page fault slice lies inside a stretch of its track;
//! - one vCPU and a CPU-bound task: preemption markers inside stretches,
//!   and a system call that slept goes on in a `continued` slice;
//! - `vxos boot` ended by SIGTERM still writes the file;
//! - a bad FILE is refused with exit status 2.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use vxos_tests::*;

/// One complete or instant event.
#[derive(Debug)]
struct Ev {
    cat: String,
    name: String,
    ph: String,
    tid: u64,
    ts: f64,
    dur: f64,
    args: Value,
}

/// Read and check the general shape of a timeline file: the vCPU tracks
/// (named by metadata events) and the other events.
fn read(file: &Path) -> (Vec<u64>, Vec<Ev>, Value) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON: {e}\n{text}"));
    let events = v["traceEvents"].as_array().expect("a traceEvents array");
    let mut tracks = Vec::new();
    let mut out = Vec::new();
    for e in events {
        let ph = e["ph"].as_str().expect("ph").to_string();
        let tid = e["tid"].as_u64().expect("tid");
        if ph == "M" {
            if e["name"] == "thread_name" {
                let name = e["args"]["name"].as_str().unwrap();
                assert_eq!(name, format!("vCPU {tid}"), "{e}");
                tracks.push(tid);
            }
            continue;
        }
        assert!(ph == "X" || ph == "i", "unexpected event {e}");
        let ts = e["ts"].as_f64().expect("ts");
        let dur = if ph == "X" { e["dur"].as_f64().expect("dur") } else { 0.0 };
        assert!(ts >= 0.0 && dur >= 0.0, "negative time in {e}");
        out.push(Ev {
            cat: e["cat"].as_str().unwrap_or_default().to_string(),
            name: e["name"].as_str().expect("name").to_string(),
            ph,
            tid,
            ts,
            dur,
            args: e["args"].clone(),
        });
    }
    let vcpus = v["otherData"]["vcpus"].as_u64().expect("otherData.vcpus");
    assert_eq!(tracks.len() as u64, vcpus, "one named track per vCPU");
    for e in &out {
        assert!(tracks.contains(&e.tid), "an event off the vCPU tracks: {e:?}");
    }
    (tracks, out, v["otherData"].clone())
}

/// Check per track: events in order, stretches apart, slices and markers
/// inside a stretch. Return the number of slices checked.
fn check_nesting(tracks: &[u64], events: &[Ev]) -> usize {
    // Trace-event times are microseconds with three decimals.
    const EPS: f64 = 0.0015;
    let mut slices = 0;
    for &t in tracks {
        let mine: Vec<&Ev> = events.iter().filter(|e| e.tid == t).collect();
        for w in mine.windows(2) {
            assert!(w[0].ts <= w[1].ts, "out of order on vCPU {t}: {:?} then {:?}", w[0], w[1]);
        }
        let runs: Vec<&&Ev> = mine.iter().filter(|e| e.cat == "run").collect();
        for w in runs.windows(2) {
            assert!(w[0].ts + w[0].dur <= w[1].ts + EPS, "stretches overlap on vCPU {t}: {:?} {:?}", w[0], w[1]);
        }
        for e in mine.iter().filter(|e| e.cat != "run") {
            let inside = runs.iter().any(|r| r.ts <= e.ts + EPS && e.ts + e.dur <= r.ts + r.dur + EPS);
            assert!(inside, "not inside a stretch of vCPU {t}: {e:?}");
            slices += 1;
        }
    }
    slices
}

#[test]
fn pipeline_on_two_vcpus() {
    let dir = fresh("timeline-pipe");
    let file = dir.join("t.json");
    busybox();
    let script = "/bin/busybox echo hello | /bin/busybox tr a-z A-Z; /bin/busybox true";
    let o = guest_opts(
        &["--cpus", "2", "--timeline", file.to_str().unwrap()],
        Path::new("/bin/busybox"),
        &["sh", "-c", script],
        &dir,
        None,
    );
    assert_eq!(o.status, 0, "{o}");
    assert_eq!(o.stdout, b"HELLO\n", "{o}");
    let (tracks, events, other) = read(&file);
    assert_eq!(tracks, [0, 1], "two vCPUs");
    assert_eq!(other["dropped_events"], 0, "{other}");
    let runs: Vec<&Ev> = events.iter().filter(|e| e.cat == "run").collect();
    let mut pids: Vec<u64> = runs.iter().map(|e| e.args["pid"].as_u64().unwrap()).collect();
    pids.sort_unstable();
    pids.dedup();
    assert!(pids.len() >= 3, "the shell and its children ran: {pids:?}");
    assert!(runs.iter().all(|r| r.ph == "X" && r.name.contains(&r.args["pid"].to_string())), "{runs:?}");
    let has = |cat: &str, name: &str| events.iter().any(|e| e.cat == cat && e.name == name);
    for call in ["execve", "write", "wait4"] {
        assert!(has("syscall", call), "no {call} slice");
    }
    assert!(has("syscall", "pipe") || has("syscall", "pipe2"), "no pipe slice");
    assert!(has("fault", "page fault"), "no page fault slice");
    assert!(check_nesting(&tracks, &events) > 50);
}

#[test]
fn preemption_and_sleeping_calls_with_one_vcpu() {
    let dir = fresh("timeline-preempt");
    let file = dir.join("t.json");
    busybox();
    let o = guest_opts(
        &["--cpus", "1", "--timeline", file.to_str().unwrap()],
        Path::new("/bin/busybox"),
        &["sh", "-c", "yes > /dev/null & sleep 0.2; kill $!; wait"],
        &dir,
        None,
    );
    assert_eq!(o.status, 0, "{o}");
    let (tracks, events, _) = read(&file);
    assert_eq!(tracks, [0]);
    let preempts = events.iter().filter(|e| e.ph == "i" && e.name == "preempted").count();
    assert!(preempts >= 3, "{preempts} preemptions of a CPU-bound task in 0.2 s");
    assert!(
        events.iter().any(|e| e.cat == "syscall" && e.args["continued"] == true),
        "no system call went on after a sleep"
    );
    assert!(events.iter().any(|e| e.cat == "run" && e.args["then"] == "sleeps"));
    check_nesting(&tracks, &events);
}

#[test]
fn boot_ended_by_sigterm_writes_the_file() {
    let dir = fresh("timeline-boot");
    let file = dir.join("t.json");
    let mut child = Command::new(vxos())
        .args(["boot", "--cpus", "2", "--timeline", file.to_str().unwrap()])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The shell is up once it has printed something; then SIGTERM.
    use std::io::Read;
    let mut first = [0u8; 64];
    let n = child.stdout.as_mut().unwrap().read(&mut first).unwrap();
    assert!(n > 0, "vxos boot printed nothing");
    std::thread::sleep(std::time::Duration::from_millis(200));
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::Term,
    )
    .unwrap();
    // Keep the console open while waiting (wait() would close it, and the
    // shell would end by the hang-up as well).
    let _console = child.stdin.take();
    let st = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert!(st.code() == Some(143) || st.signal() == Some(15), "{st:?}");
    let (tracks, events, _) = read(&file);
    assert!(events.iter().any(|e| e.cat == "run"), "no stretch recorded");
    assert!(events.iter().any(|e| e.cat == "syscall"), "no system call recorded");
    check_nesting(&tracks, &events);
}

#[test]
fn bad_file_is_refused() {
    let dir = fresh("timeline-bad");
    for bad in ["/nonexistent/dir/t.json", dir.to_str().unwrap(), ""] {
        let o = guest_opts(&["--timeline", bad], &bins().join("hello"), &[], &dir, None);
        assert_eq!(o.status, 2, "--timeline {bad:?}: {o}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("--timeline"), "--timeline {bad:?}: {o}");
        assert!(o.stdout.is_empty(), "the program did not run: {o}");
    }
}
