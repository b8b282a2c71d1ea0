//! Busybox's own test suite (testsuite/ of Debian's busybox source package)
//! against Debian's busybox-static, natively and under vxos, through
//! scripts/busybox-testsuite.sh: fails if fewer of its tests pass under vxos
//! than tests/busybox-suite-baseline.txt records.

use std::process::Command;
use vxos_tests::*;

/// The value of `key` in the baseline or a results file (`KEY N` lines).
fn field(text: &str, key: &str) -> Option<u32> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn busybox_testsuite() {
    let baseline = std::fs::read_to_string(top().join("tests/busybox-suite-baseline.txt")).unwrap();
    let want = field(&baseline, "vxos").expect("the baseline has no `vxos N` line");
    let o = Command::new("bash")
        .arg(top().join("scripts/busybox-testsuite.sh"))
        .env("VXOS", vxos())
        .output()
        .expect("run scripts/busybox-testsuite.sh");
    let report = String::from_utf8_lossy(&o.stdout);
    println!("{report}");
    assert!(
        o.status.success(),
        "scripts/busybox-testsuite.sh failed ({}):\n{report}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let results = std::fs::read_to_string(top().join("build/busybox-suite/vxos.txt")).unwrap();
    let got = field(&results, "PASS").expect("build/busybox-suite/vxos.txt has no PASS line");
    assert!(
        got >= want,
        "{got} busybox tests pass under vxos, fewer than the {want} of tests/busybox-suite-baseline.txt\n{report}"
    );
}
