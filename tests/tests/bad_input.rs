//! Bad input: programs that are not i386 ELF files, are malformed or
//! missing get a one-line error naming the file and the status a shell
//! uses (126 cannot execute, 127 not found); vxos never crashes.

use std::process::Command;
use vxos_tests::*;

fn run(path: &std::path::Path) -> (i32, String) {
    let o = Command::new(vxos()).arg("run").arg(path).output().unwrap();
    (o.status.code().expect("vxos exited by a signal"), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn missing_program() {
    let (st, err) = run(std::path::Path::new("/no/such/program"));
    assert_eq!(st, 127);
    assert!(err.contains("/no/such/program") && err.lines().count() == 1, "{err}");
}

#[test]
fn not_elf_and_malformed() {
    let d = scratch("bad");
    let hello = std::fs::read(bins().join("hello")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("text", b"just some text\n".to_vec(), "not an ELF"),
        ("empty", Vec::new(), "not an ELF"),
        ("truncated-header", hello[..40].to_vec(), "malformed"),
        ("truncated-body", hello[..hello.len() / 3].to_vec(), "malformed"),
        ("x86-64", std::fs::read("/bin/true").unwrap(), "not an i386"),
    ];
    for (name, bytes, why) in cases {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        // Executable, so the loader, not the permission check, refuses it.
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let (st, err) = run(&p);
        assert_eq!(st, 126, "{name}: {err}");
        assert!(err.contains(name) && err.contains(why) && err.lines().count() == 1, "{name}: {err}");
    }
}

#[test]
fn directory() {
    let (st, err) = run(&scratch("bad"));
    assert_eq!(st, 126, "{err}");
}

#[test]
fn random_garbage_elves_never_crash_vxos() {
    // Flip bytes in the headers of a real program; vxos must exit with a
    // status, never be killed by a host signal.
    let d = scratch("bad");
    let hello = std::fs::read(bins().join("hello")).unwrap();
    let mut x: u32 = 12345;
    for i in 0..40 {
        let mut f = hello.clone();
        for _ in 0..4 {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            let at = (x >> 8) as usize % 200;
            f[at] = (x >> 3) as u8;
        }
        let p = d.join(format!("fuzzed-{i}"));
        std::fs::write(&p, &f).unwrap();
        let o = Command::new(vxos()).arg("run").arg(&p).stdin(std::process::Stdio::null()).output().unwrap();
        assert!(o.status.code().is_some(), "vxos died by a signal on fuzzed-{i}");
    }
}

#[test]
fn not_executable() {
    let d = scratch("bad");
    let p = d.join("no-x-bit");
    std::fs::copy(bins().join("hello"), &p).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let (st, err) = run(&p);
    assert_eq!(st, 126, "{err}");
    assert!(err.contains("Permission denied") && err.lines().count() == 1, "{err}");
}
