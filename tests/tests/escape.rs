//! Escape tests: guest code that tries what an i386 user process may not
//! (syscall/sysenter, host system call numbers, far transfers, segment
//! loads, int N, privileged instructions, accesses across 4 GiB or into
//! unmapped pages, jumps into instructions, rewriting executed branches).
//! Each subtest must end exactly as natively; none may change host state.

use vxos_tests::*;

#[test]
fn escapes_end_as_on_linux() {
    let b = bins();
    let prog = b.join("escape");
    let list = native(&prog, &["LIST"], &b, None);
    let names: Vec<String> = String::from_utf8(list.stdout).unwrap().lines().map(str::to_owned).collect();
    assert!(names.len() >= 20, "escape LIST: {names:?}");
    let dir = scratch("escape");
    for n in &names {
        let before: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        if n == "gate64" {
            // Natively a far jump to selector 0x33 runs 64-bit code; vxos
            // must refuse it with SIGSEGV before anything else happens.
            let v = guest(&prog, &[n], &dir, None);
            assert_eq!(v.status, 128 + 11, "gate64 under vxos");
            assert_eq!(v.stdout, b"far jmp to the 64-bit code segment\n");
        } else {
            same(&prog, &[n], &dir, None);
        }
        let after: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(before, after, "{n} changed the host directory");
    }
}
