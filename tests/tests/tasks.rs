//! Signals, threads, stop and continue, poll and select, credentials and
//! limits as programs see them (userland-bins/tasks.c): every subtest runs
//! natively and under vxos, and all that differ are reported together.

use vxos_tests::*;

#[test]
fn tasks_subtests_match_native() {
    let b = bins();
    let prog = b.join("tasks");
    let list = native(&prog, &["LIST"], &b, None);
    let names: Vec<String> = String::from_utf8(list.stdout).unwrap().lines().map(str::to_owned).collect();
    assert!(names.len() >= 8, "{names:?}");
    let mut bad = Vec::new();
    for name in &names {
        let n = native(&prog, &[name], &b, None);
        let v = guest(&prog, &[name], &b, None);
        if let Some(d) = differences("native", &n, "vxos", &v) {
            bad.push(format!("===== tasks {name}\n{d}"));
        }
    }
    assert!(bad.is_empty(), "{} of {} subtests differ:\n{}", bad.len(), names.len(), bad.join("\n"));
}

/// A process that spins must not keep its parent from running: the tick
/// preempts it.
#[test]
fn a_spinner_does_not_starve_the_shell() {
    let dir = scratch("tasks");
    // (wait's "Terminated" note is left out: busybox prints it only if the
    // job is still running when `wait` starts, a race with several vCPUs as
    // on a loaded host.)
    let script = "while :; do :; done & sleep 0.2; kill $!; wait $! 2>/dev/null; echo spinner ended with $?";
    let n = same(&busybox(), &["sh", "-c", script], &dir, None);
    assert_eq!(String::from_utf8_lossy(&n.stdout).trim(), "spinner ended with 143");
}

/// A task waiting for the host's input does not hold up the others: a
/// background job prints while `cat` waits for data that comes later.
#[test]
fn waiting_for_host_input_lets_others_run() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = scratch("tasks");
    let mut child = Command::new(vxos())
        .args(["run"])
        .arg(busybox())
        .args(["sh", "-c", "(sleep 0.1; echo background) & cat; wait"])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    input.write_all(b"from the host\n").unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "background\nfrom the host\n");
}

/// Hundreds of processes at once, each with its own address space.
#[test]
fn four_hundred_processes_at_once() {
    let dir = scratch("tasks");
    let script = "i=0; while [ $i -lt 400 ]; do sleep 1 & i=$((i+1)); done; wait; echo all $i ended";
    let n = same(&busybox(), &["sh", "-c", script], &dir, None);
    assert_eq!(String::from_utf8_lossy(&n.stdout).trim(), "all 400 ended");
}

/// The shell's process tools: xargs, timeout, kill, trap, as natively.
#[test]
fn busybox_xargs_timeout_kill_trap() {
    let dir = scratch("tasks");
    let script = "echo a b c | xargs -n1 echo item; \
                  timeout 1 sleep 5; echo timeout=$?; \
                  sleep 5 & p=$!; kill $p; wait $p; echo killed=$?; \
                  trap 'echo trapped USR1' USR1; kill -USR1 $$; echo after the trap; \
                  (exit 7); echo subshell=$?";
    let n = same(&busybox(), &["sh", "-c", script], &dir, None);
    assert!(String::from_utf8_lossy(&n.stdout).contains("trapped USR1"));
}

/// A three-stage pipeline moving 64 MiB.
#[test]
fn a_three_stage_pipeline_moves_64_mib() {
    let dir = scratch("tasks");
    let n = same(&busybox(), &["sh", "-c", "head -c 67108864 /dev/urandom | cat | wc -c"], &dir, None);
    assert_eq!(String::from_utf8_lossy(&n.stdout).trim(), "67108864");
}
