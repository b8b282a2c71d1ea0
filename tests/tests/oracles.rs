//! Public instruction oracles: QEMU's test-i386 family and valgrind's x86
//! tests, fetched as Debian source packages by tests/oracles/fetch.sh and
//! run natively and under vxos by tests/oracles/run.sh, outputs compared.
//! Skips are listed with reasons in tests/oracles/skip.txt.

use std::process::Command;
use vxos_tests::*;

#[test]
fn public_instruction_oracles() {
    let t = top();
    let st = Command::new("bash").arg(t.join("tests/oracles/fetch.sh")).status().unwrap();
    assert!(st.success(), "tests/oracles/fetch.sh failed");
    let out = Command::new("bash").arg(t.join("tests/oracles/run.sh")).env("VXOS", vxos()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let last = text.lines().rev().find(|l| l.starts_with("oracles:")).expect("run.sh printed no summary");
    assert!(out.status.success() && last.contains(" 0 failed"), "{last}");
}
