//! Dynamically linked Debian i386 programs (T6): the rootfs's own programs,
//! run natively through the rootfs's dynamic loader (so both sides use the
//! same libc) and under `vxos run`, which loads the PT_INTERP loader itself.
//! Output and exit status must be identical.

use std::path::{Path, PathBuf};
use std::process::Command;
use vxos_tests::*;

fn rootfs() -> PathBuf {
    top().join("build/rootfs")
}

/// Run `prog args` natively with the rootfs's ld.so and libraries, and
/// under vxos; compare.
fn same_dynamic(prog: &str, args: &[&str]) -> Outcome {
    let r = rootfs();
    let path = r.join(prog.trim_start_matches('/'));
    assert!(path.exists(), "{} is missing: run scripts/setup.sh", path.display());
    let dir = scratch("dynamic");
    let n = {
        let mut c = Command::new(r.join("lib/ld-linux.so.2"));
        c.arg("--library-path").arg(r.join("lib/i386-linux-gnu")).arg(&path).args(args);
        c.current_dir(&dir).env_clear().env("PATH", "/usr/bin:/bin").env("LC_ALL", "C");
        Outcome::from(c.output().unwrap())
    };
    let v = {
        let mut c = Command::new(vxos());
        c.arg("run").arg(&path).args(args);
        c.current_dir(&dir).env_clear().env("PATH", "/usr/bin:/bin").env("LC_ALL", "C");
        Outcome::from(c.output().unwrap())
    };
    if let Some(d) = differences("native", &n, "vxos", &v) {
        panic!("{prog} {args:?} differs from native:\n{d}");
    }
    n
}

fn dash(script: &str) -> String {
    let o = same_dynamic("bin/dash", &["-c", script]);
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn dash_runs() {
    assert_eq!(dash("echo hello $((6 * 7))"), "hello 42\n");
}

#[test]
fn dash_scripts() {
    let out = dash(
        r#"
f() { echo "f got $# args: $*"; return 3; }
f a "b c"; echo "status $?"
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); done; echo "i=$i"
case abc in a*) echo "case a*";; *) echo other;; esac
x=$(echo captured; echo twice); echo "$x" | while read l; do echo "line: $l"; done
set -- one two three; shift; echo "$@ ($#)"
echo ${UNSET:-default} ${#x}
trap 'echo trapped' EXIT
(exit 4); echo "subshell $?"
"#,
    );
    assert!(out.contains("f got 2 args: a b c") && out.contains("trapped"), "{out}");
}

#[test]
fn dash_exit_status_and_stderr() {
    let o = same_dynamic("bin/dash", &["-c", "echo to stderr >&2; nonexistent-command; exit 7"]);
    assert_eq!(o.status, 7);
}

/// A missing interpreter is ENOENT for execve, and vxos says which file.
#[test]
fn missing_interpreter() {
    let dir = scratch("dynamic");
    let prog = Path::new(&top()).join("build/rootfs/bin/dash");
    let o = Command::new(vxos())
        .args(["run", "--root"])
        .arg(&dir)
        .arg(&prog)
        .args(["-c", "true"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/lib/ld-linux.so.2"), "names the interpreter: {err}");
}
