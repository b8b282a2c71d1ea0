//! Memory management as programs see it (userland-bins/mm.c): demand
//! paging of 256 MiB, more than 100,000 scattered pages (beyond the host's
//! mapping limit, so the window must evict), protection and unmapping
//! faults, brk, mremap, MAP_FIXED, stack growth, mincore and madvise,
//! shared anonymous memory. Each subtest runs natively and under vxos.

use vxos_tests::*;

#[test]
fn memory_subtests_match_native() {
    let b = bins();
    let prog = b.join("mm");
    let list = native(&prog, &["LIST"], &b, None);
    let names: Vec<String> = String::from_utf8(list.stdout).unwrap().lines().map(str::to_owned).collect();
    let mut ran = 0;
    for line in &names {
        // Subtests that write a file do it in the working directory: a
        // fresh one, in the guest's ramfs over it and, bound writable,
        // on the host.
        let name = line.trim_end_matches(" FILE");
        if line.ends_with(" FILE") {
            let dir = fresh(&format!("mm-{name}"));
            let n = native(&prog, &[name, "data"], &dir, None);
            assert_eq!(n.status, 0, "{name} natively: {n}");
            let d = dir.to_str().unwrap();
            let bind = format!("{d}:{d}:rw");
            for opts in [vec![], vec!["--bind", bind.as_str()]] {
                let dir = fresh(&format!("mm-{name}"));
                let v = guest_opts(&opts, &prog, &[name, "data"], &dir, None);
                assert_eq!(n, v, "{name} under vxos {opts:?}");
            }
        } else {
            same(&prog, &[name], &b, None);
        }
        ran += 1;
    }
    assert!(ran >= 10, "{names:?}");
}

#[test]
fn running_out_of_guest_memory_kills_the_guest_not_vxos() {
    let b = bins();
    let o = std::process::Command::new(vxos())
        .args(["run", "--mem", "32M"])
        .arg(b.join("mm"))
        .arg("anon256")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(128 + 9), "killed as by the OOM killer");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("out of guest memory"), "{err}");
}

/// With two processes over the limit, the larger one goes, whichever of
/// them was faulting (userland-bins/oomtwo.c).
#[test]
fn the_out_of_memory_killer_takes_the_largest_process() {
    let b = bins();
    let run = |mode: &str| {
        std::process::Command::new(vxos())
            .args(["run", "--mem", "64M"])
            .arg(b.join("oomtwo"))
            .arg(mode)
            .output()
            .unwrap()
    };
    // The child grows past the limit: it is the larger, and it goes.
    let o = run("child");
    let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!((o.status.code(), out.as_ref()), (Some(0), "child: killed 1 by signal 9\n"), "{err}");
    assert!(err.contains("killed process 3, the largest"), "{err}");
    // The parent is the larger while its child faults: the parent goes.
    let o = run("parent");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(128 + 9), "{err}");
    assert!(err.contains("killed process 2, the largest"), "{err}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("parent survived"));
}

#[test]
fn mem_option_is_checked() {
    for bad in ["12Q", "lots", "100"] {
        let o = std::process::Command::new(vxos()).args(["run", "--mem", bad, "/bin/true"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "--mem {bad}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("--mem"), "--mem {bad}");
    }
}
