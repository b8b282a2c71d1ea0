//! Event descriptors as programs see them (userland-bins/evfds.c): eventfd,
//! timerfd, signalfd and epoll. Every subtest runs natively and under vxos,
//! and all that differ are reported together.

use vxos_tests::*;

#[test]
fn evfds_subtests_match_native() {
    let b = bins();
    let prog = b.join("evfds");
    let list = native(&prog, &["LIST"], &b, None);
    let names: Vec<String> = String::from_utf8(list.stdout).unwrap().lines().map(str::to_owned).collect();
    assert!(names.len() >= 15, "{names:?}");
    let mut bad = Vec::new();
    for name in &names {
        let n = native(&prog, &[name], &b, None);
        let v = guest(&prog, &[name], &b, None);
        if let Some(d) = differences("native", &n, "vxos", &v) {
            bad.push(format!("===== evfds {name}\n{d}"));
        }
    }
    assert!(bad.is_empty(), "{} of {} subtests differ:\n{}", bad.len(), names.len(), bad.join("\n"));
}
