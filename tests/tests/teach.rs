//! Teaching tools: the tracer's output for small fixed programs, its
//! filters, /dev/kinfo, and every runnable command of docs/TOUR.md.
//!
//! - `--trace=syscall` of build/bin/hello: the calls in order with their
//!   decoded arguments and results (`write(1, "hello, world\n", 13) = 13`),
//!   a failing open with its errno's name, a long string cut as strace
//!   cuts it;
//! - `--trace=fault`: a demand-zero fault, and the invalid one that kills
//!   build/bin/fault_null with SIGSEGV;
//! - `--trace=exec,signal` of procs' exec subtest and of a shell: the
//!   child's exec line with its argv, the parent's SIGCHLD with CLD_EXITED;
//! - `--trace=sched` with one vCPU: a CPU-bound task is preempted;
//! - `--trace=translate`: the block at build/bin/hello's ELF entry point
//!   translated, a second exec of a program started from its kept
//!   translations, code dropped when smc writes to its own code, changes
//!   its protection and unmaps it;
//! - `--trace-pid` keeps one process's lines, `--trace-file` writes them to
//!   a file and not to stderr; an unknown kind is refused;
//! - /dev/kinfo is `name value` lines whose counters move between two
//!   reads around some work;
//! - docs/TOUR.md: each line of its `sh` blocks starting with
//!   `target/release/vxos` runs from the top of the tree and exits 0.

use std::path::Path;
use std::process::Command;
use vxos_tests::*;

/// Run `vxos run OPTS PROG ARGS` in a scratch directory; return the outcome.
fn traced(opts: &[&str], prog: &Path, args: &[&str]) -> Outcome {
    guest_opts(opts, prog, args, &scratch("teach"), None)
}

/// Busybox as the guest names it (the rootfs's own, `busybox()` on the host).
fn bb() -> std::path::PathBuf {
    busybox();
    "/bin/busybox".into()
}

/// The lines of stderr that are trace lines.
fn trace_lines(o: &Outcome) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr).lines().filter(|l| l.starts_with("[pid ")).map(str::to_string).collect()
}

/// Check that each of `want` is part of some line, in this order; return
/// the lines for messages.
fn in_order(lines: &[String], want: &[&str]) {
    let mut at = 0;
    for w in want {
        match lines[at..].iter().position(|l| l.contains(w)) {
            Some(i) => at += i + 1,
            None => panic!("no line with {w:?} after line {at} in the trace:\n{}", lines.join("\n")),
        }
    }
}

#[test]
fn syscalls_of_hello_in_order() {
    let o = traced(&["--trace=syscall"], &bins().join("hello"), &[]);
    assert_eq!(o.status, 0, "{o}");
    assert_eq!(o.stdout, b"hello, world\n", "the trace goes to stderr: {o}");
    let lines = trace_lines(&o);
    in_order(
        &lines,
        &[
            "[pid 2] brk(NULL) = 0x",
            "set_thread_area(0x",
            "[pid 2] write(1, \"hello, world\\n\", 13) = 13 <",
            "[pid 2] exit_group(0) = ? <",
            "[pid 2] +++ exited with 0 +++",
        ],
    );
    assert!(
        lines.iter().filter(|l| !l.contains("+++")).all(|l| l.ends_with(" µs>")),
        "durations:\n{}",
        lines.join("\n")
    );
}

#[test]
fn errno_names_flags_and_long_strings() {
    let o = traced(&["--trace=syscall"], &bb(), &["cat", "/no/such/file"]);
    assert_eq!(o.status, 1, "{o}");
    let lines = trace_lines(&o);
    in_order(
        &lines,
        &["openat(AT_FDCWD, \"/no/such/file\", O_RDONLY|O_LARGEFILE) = -1 ENOENT (No such file or directory)"],
    );
    let long = "a".repeat(40);
    let o = traced(&["--trace=syscall"], &bb(), &["echo", &long]);
    assert_eq!(o.status, 0, "{o}");
    let cut = format!("write(1, \"{}\"..., 41) = 41", &long[..32]);
    in_order(&trace_lines(&o), &[&cut]);
    let o = traced(&["--trace=syscall"], &bb(), &["true"]);
    in_order(&trace_lines(&o), &["exit_group(0) = ?"]);
}

#[test]
fn faults_demand_zero_and_invalid() {
    let o = traced(&["--trace=fault"], &bins().join("hello"), &[]);
    assert_eq!(o.status, 0, "{o}");
    let lines = trace_lines(&o);
    assert!(
        lines.iter().any(|l| l.starts_with("[pid 2] fault 0x")
            && l.contains(" write at eip 0x")
            && l.ends_with(": demand-zero")),
        "no demand-zero fault:\n{}",
        lines.join("\n")
    );
    assert!(lines.iter().any(|l| l.ends_with(": file")), "no file fault:\n{}", lines.join("\n"));
    let o = traced(&["--trace=fault,signal"], &bins().join("fault_null"), &[]);
    assert_eq!(o.status, 139, "{o}");
    in_order(
        &trace_lines(&o),
        &[
            ": invalid -> SIGSEGV SEGV_MAPERR",
            "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL} (fatal) ---",
            "+++ killed by SIGSEGV +++",
        ],
    );
}

#[test]
fn exec_and_sigchld() {
    let dir = fresh("teach-procs");
    let procs = bins().join("procs");
    let o = guest_opts(&["--trace=exec,signal,syscall"], &procs, &["exec"], &dir, None);
    assert_eq!(o.status, 0, "{o}");
    let prog = procs.display().to_string();
    in_order(
        &trace_lines(&o),
        &[
            &format!("[pid 2] exec \"{prog}\" [\"{prog}\", \"exec\"]"),
            "[pid 2] clone(CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, ",
            &format!("[pid 3] exec \"{prog}\" [\"zeroth\", \"CHILD\", \"args\", \"a\", \"b c\", \"\", \"--\"]"),
            &format!("[pid 3] execve(\"{prog}\", [\"zeroth\", \"CHILD\", \"args\", \"a\", \"b c\", \"\", \"--\"], 0x"),
            "[pid 3] +++ exited with 0 +++",
            "[pid 2] wait4(3, ",
        ],
    );
    // A shell has a SIGCHLD handler: its children's exits reach it.
    let o = traced(&["--trace=signal,exec"], &bb(), &["sh", "-c", "/bin/busybox true & wait"]);
    assert_eq!(o.status, 0, "{o}");
    in_order(
        &trace_lines(&o),
        &[
            "[pid 3] exec \"/bin/busybox\" [\"/bin/busybox\", \"true\"]",
            "[pid 3] +++ exited with 0 +++",
            "[pid 2] --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=3, si_uid=",
        ],
    );
}

/// The entry point of an ELF32 file.
fn elf_entry(path: &Path) -> u32 {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..5], b"\x7fELF\x01", "{} is no ELF32 file", path.display());
    u32::from_le_bytes(b[24..28].try_into().unwrap())
}

#[test]
fn translator_activity() {
    // Without translations kept from earlier runs: every block is made here.
    let hello = bins().join("hello");
    let mut c = guest_command(&["--trace=translate"], &hello, &[], &scratch("teach"));
    c.env("VXOS_XCACHE", "off");
    let o = Outcome::from(c.output().unwrap());
    assert_eq!(o.status, 0, "{o}");
    assert_eq!(o.stdout, b"hello, world\n", "{o}");
    let lines = trace_lines(&o);
    let entry = format!("[pid 2] translate: block {:#x}: ", elf_entry(&hello));
    let first = lines.iter().find(|l| l.starts_with(&entry) && !l.contains("not mapped yet"));
    let first = first.unwrap_or_else(|| panic!("no block at the entry point ({entry}):\n{}", lines.join("\n")));
    // "N instructions, G guest bytes -> H host bytes", all nonzero.
    let nums: Vec<u32> =
        first[entry.len()..].split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    assert!(nums.len() == 3 && nums.iter().all(|&n| n > 0), "{first}");
    assert!(lines.iter().all(|l| l.starts_with("[pid 2] translate: ")), "{}", lines.join("\n"));

    // The second run of a program starts from the first's translations.
    let o = traced(&["--trace=translate"], &bb(), &["sh", "-c", "/bin/busybox true; /bin/busybox true"]);
    assert_eq!(o.status, 0, "{o}");
    in_order(&trace_lines(&o), &["translate: took in kept translations: "]);

    // Self-modifying code drops the translations of the page written, and
    // so do mprotect and munmap of code (smc's JIT-style subtest).
    let o = traced(&["--trace=translate"], &bins().join("smc"), &[]);
    assert_eq!(o.status, 0, "{o}");
    let lines = trace_lines(&o);
    for why in [" written: ", " protection changed: ", " unmapped: "] {
        assert!(
            lines.iter().any(|l| l.contains("translate: code page 0x") && l.contains(why) && l.ends_with(" dropped")),
            "no{why}line:\n{}",
            lines.join("\n")
        );
    }
}

#[test]
fn preemption_with_one_vcpu() {
    let o =
        traced(&["--cpus", "1", "--trace=sched"], &bb(), &["sh", "-c", "yes > /dev/null & sleep 0.2; kill $!; wait"]);
    assert_eq!(o.status, 0, "{o}");
    let lines = trace_lines(&o);
    let has = |s: &str| lines.iter().any(|l| l.contains(s));
    assert!(has("sched: runs on vcpu 0"), "{}", lines.join("\n"));
    assert!(has("sched: preempted by the tick"), "{}", lines.join("\n"));
    assert!(has(", sleeps on 0x"), "{}", lines.join("\n"));
    assert!(!has("vcpu 1"), "one vCPU: {}", lines.join("\n"));
}

#[test]
fn trace_pid_and_trace_file() {
    let script = "/bin/busybox echo one; /bin/busybox echo two";
    let o = traced(&["--trace=all", "--trace-pid", "3"], &bb(), &["sh", "-c", script]);
    assert_eq!(o.status, 0, "{o}");
    let lines = trace_lines(&o);
    assert!(!lines.is_empty(), "{o}");
    assert!(lines.iter().all(|l| l.starts_with("[pid 3] ")), "only pid 3:\n{}", lines.join("\n"));
    in_order(&lines, &["write(1, \"one\\n\", 4) = 4"]);
    assert!(!lines.iter().any(|l| l.contains("\"two\\n\"")), "{}", lines.join("\n"));

    let file = fresh("teach-file").join("trace.txt");
    let f = file.display().to_string();
    let o = traced(&["--trace=syscall,exec", "--trace-file", &f], &bins().join("hello"), &[]);
    assert_eq!(o.status, 0, "{o}");
    assert!(trace_lines(&o).is_empty(), "nothing on stderr: {o}");
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    in_order(&lines, &["[pid 2] exec \"", "write(1, \"hello, world\\n\", 13) = 13", "+++ exited with 0 +++"]);

    let o = traced(&["--trace=syscall,bogus"], &bins().join("hello"), &[]);
    assert_eq!(o.status, 2, "{o}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown trace kind \"bogus\""), "{o}");
}

/// Parse a /dev/kinfo text into (name, value) pairs.
fn kinfo(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .map(|l| {
            let (n, v) = l.split_once(' ').unwrap_or_else(|| panic!("not 'name value': {l:?}"));
            assert!(!n.is_empty() && !n.contains(' ') && !v.contains(' '), "not 'name value': {l:?}");
            (n.to_string(), v.parse().unwrap_or_else(|_| panic!("not a number: {l:?}")))
        })
        .collect()
}

#[test]
fn kinfo_parses_and_moves() {
    let script = "cat /dev/kinfo; echo ---; /bin/busybox true; /bin/busybox true; cat /dev/kinfo";
    let o = traced(&[], &bb(), &["sh", "-c", script]);
    assert_eq!(o.status, 0, "{o}");
    let out = String::from_utf8(o.stdout).unwrap();
    let (a, b) = out.split_once("---\n").unwrap();
    let (a, b) = (kinfo(a), kinfo(b));
    // Per-call counts are listed once nonzero.
    let get = |k: &[(String, u64)], name: &str| match k.iter().find(|x| x.0 == name) {
        Some(x) => x.1,
        None if name.starts_with("syscall_") => 0,
        None => panic!("no {name} in /dev/kinfo"),
    };
    for name in ["vcpus", "tasks", "frames_total", "frames_used", "blocks_translated"] {
        assert!(get(&b, name) > 0, "{name} is 0");
    }
    for name in ["syscalls", "context_switches", "page_faults", "syscall_execve", "syscall_write"] {
        assert!(get(&b, name) > get(&a, name), "{name} did not move: {} then {}", get(&a, name), get(&b, name));
    }
    assert!(get(&b, "blocks_translated") + get(&b, "memo_hits") > get(&a, "blocks_translated") + get(&a, "memo_hits"));
    assert!(get(&b, "frames_used") <= get(&b, "frames_total"));
}

#[test]
fn tour_commands_work() {
    vxos();
    bins();
    let top = top();
    let text = std::fs::read_to_string(top.join("docs/TOUR.md")).unwrap();
    let mut cmds = Vec::new();
    let mut in_sh = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
        } else if in_sh && line.starts_with("target/release/vxos") {
            cmds.push(line.to_string());
        }
    }
    assert!(cmds.len() >= 10, "too few runnable commands in docs/TOUR.md: {cmds:?}");
    let mut failed = Vec::new();
    for c in &cmds {
        let o = Command::new("timeout").arg("120").arg("bash").arg("-c").arg(c).current_dir(&top).output().unwrap();
        if !o.status.success() {
            failed.push(format!("{c}: {:?}\n{}", o.status, String::from_utf8_lossy(&o.stderr)));
        }
    }
    assert!(failed.is_empty(), "TOUR.md commands that failed:\n{}", failed.join("\n"));
}
