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
    let script = "while :; do :; done & sleep 0.2; kill $!; wait $!; echo spinner ended with $?";
    let n = same(&busybox(), &["sh", "-c", script], &dir, None);
    assert_eq!(String::from_utf8_lossy(&n.stdout).trim(), "spinner ended with 143");
}
