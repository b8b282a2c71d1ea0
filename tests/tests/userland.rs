//! Our own guest programs (userland-bins) run natively and under vxos:
//! stdout, stderr and exit status must be identical.

use vxos_tests::*;

fn check(name: &str, args: &[&str]) {
    let b = bins();
    same(&b.join(name), args, &b, None);
}

#[test]
fn hello() {
    check("hello", &[]);
}

#[test]
fn fork_loop_keeps_copies_apart() {
    check("forkloop", &[]);
}

#[test]
fn args_env_auxv() {
    check("args", &["one", "two words", "", "-x"]);
}

#[test]
fn sha256() {
    check("sha256", &[]);
}

#[test]
fn qsort64() {
    check("qsort64", &[]);
}

#[test]
fn fp_x87() {
    check("fp_x87", &[]);
}

#[test]
fn fp_sse() {
    check("fp_sse", &[]);
}

#[test]
fn div64() {
    check("div64", &[]);
}

#[test]
fn setjmp() {
    check("setjmp", &[]);
}

#[test]
fn strings() {
    check("strings", &[]);
}

#[test]
fn tls_and_stack_protector() {
    check("tls", &[]);
}

#[test]
fn self_modifying_code() {
    check("smc", &[]);
}

/// A program that patches its own text, exec'd five times in a row by
/// itself: kept and shared translations never outlive the text they were
/// made from.
#[test]
fn text_patched_across_execs() {
    check("textsmc", &[]);
}

/// Pseudo-terminals: /dev/ptmx and /dev/pts/N, echo, ^C, SIGWINCH, raw
/// mode and the master's EIO, as Linux's ptys do them.
#[test]
fn pseudo_terminals() {
    check("ptys", &[]);
}

#[test]
fn system_calls() {
    // Run from the top of the tree: the guest sees the host's working
    // directory, not the rest of the host.
    let top = top();
    same(&bins().join("syscalls"), &["userland-bins/README.md", "userland-bins"], &top, None);
}

#[test]
fn null_system_calls() {
    check("nullsys", &["2000"]);
    check("nullsys", &["2000", "vsyscall"]);
}

#[test]
fn faults_die_by_the_right_signal() {
    let b = bins();
    for (p, sig) in [("fault_null", 11), ("fault_div0", 8), ("fault_ud2", 4), ("fault_int3", 5), ("fault_hlt", 11)] {
        let out = same(&b.join(p), &[], &b, None);
        assert_eq!(out.status, 128 + sig, "{p}");
    }
}
