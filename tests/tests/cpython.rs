//! CPython's own regression tests (Debian's libpython3.11-testsuite,
//! unpacked into the rootfs by scripts/setup.sh) run under vxos: every
//! test case of the modules below passes, but those listed with a reason in
//! tests/cpython/known-failures.txt (README says which and why).

use std::process::Command;
use vxos_tests::*;

fn known_failures() -> Vec<String> {
    let text = std::fs::read_to_string(top().join("tests/cpython/known-failures.txt")).unwrap();
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect()
}

fn regrtest(module: &str) -> Result<(), String> {
    let dir = scratch("cpython");
    let mut c = Command::new(vxos());
    c.args(["run", "/bin/sh", "-c", "cd /tmp && exec \"$@\"", "sh", "/usr/bin/python3", "-m", "test", "-v"]);
    for k in known_failures() {
        c.arg("--ignore").arg(k);
    }
    c.arg(module);
    c.current_dir(&dir).env_clear().envs([("PATH", "/usr/bin:/bin"), ("HOME", "/root"), ("LANG", "C.UTF-8")]);
    let o = Outcome::from(c.output().unwrap());
    let out = String::from_utf8_lossy(&o.stdout);
    if o.status == 0 && out.contains("Tests result: SUCCESS") {
        return Ok(());
    }
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL:") || l.starts_with("ERROR:")).collect();
    let tail: Vec<&str> = out.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
    Err(format!(
        "{module}: status {}\n{}\n--- last lines:\n{}\n--- stderr:\n{}",
        o.status,
        failed.join("\n"),
        tail.join("\n"),
        String::from_utf8_lossy(&o.stderr)
    ))
}

/// One test per module, so they run side by side and a failure names its
/// module.
macro_rules! modules {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let suite = top().join("build/rootfs/usr/lib/python3.11/test/regrtest.py");
                assert!(suite.exists(), "{} is missing: run scripts/setup.sh", suite.display());
                if let Err(e) = regrtest(stringify!($name)) {
                    panic!("{e}");
                }
            }
        )*
    };
}

// The modules the issue names.
modules!(
    test_json,
    test_re,
    test_list,
    test_dict,
    test_math,
    test_struct,
    test_os,
    test_subprocess,
    test_threading,
    test_signal,
    test_mmap,
    test_select,
);

// Beyond the list: what the home directory, threads sharing a
// working directory and waiting file locks make work.
modules!(test_site, test_httpservers, test_fcntl);
