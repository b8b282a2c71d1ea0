//! Namespaces as a guest reshapes them: Plan 9's bind and mount written to
//! /proc/self/ns, Linux's mount(2) and umount(2), unshare(CLONE_NEWNS),
//! sharing with children, and what a guest may not name. There is no
//! native counterpart: the expected listings follow from the semantics.

use vxos_tests::*;

/// Run a busybox sh script under vxos; return its stdout, checking it ended
/// with status 0.
fn sh(script: &str) -> String {
    let dir = scratch("namespaces");
    let o = guest(&busybox(), &["sh", "-c", script], &dir, None);
    assert_eq!(o.status, 0, "{script}\n{o}");
    String::from_utf8(o.stdout).unwrap()
}

const TREES: &str = "cd /tmp && mkdir a b m && echo one > a/x && echo two > b/y";

#[test]
fn bind_and_unmount_through_proc_self_ns() {
    let out = sh(&format!(
        "{TREES}
         echo 'bind -a /tmp/b /tmp/a' > /proc/self/ns
         echo union: $(ls /tmp/a)
         cat /tmp/a/y
         grep -c 'bind -a /tmp/b /tmp/a' /proc/self/ns
         echo 'bind /tmp/b /tmp/a' > /proc/self/ns
         echo replaced: $(ls /tmp/a)
         echo 'unmount /tmp/a' > /proc/self/ns
         echo back: $(ls /tmp/a)
         echo 'mount -c #r /tmp/m' > /proc/self/ns
         echo new > /tmp/m/f && echo fresh ramfs: $(ls /tmp/m)
         ls /tmp/a/y 2>/dev/null || echo no y in a"
    ));
    assert_eq!(
        out, "union: x y\ntwo\n1\nreplaced: y\nback: x\nfresh ramfs: f\nno y in a\n",
        "the namespace file's bind, mount and unmount"
    );
}

/// Whether the tests run as root (mount(2) and unshare need it, as on Linux).
fn root() -> bool {
    let o = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim() == "0"
}

#[test]
fn children_share_the_namespace_unless_unshared() {
    if !root() {
        let out = sh("cd /tmp && mkdir a m && mount --bind /tmp/a /tmp/m 2>/dev/null || echo refused");
        assert_eq!(out, "refused\n", "mount(2) needs root, as on Linux");
        return;
    }
    let out = sh(&format!(
        "{TREES}
         sh -c 'mount --bind /tmp/b /tmp/m'
         echo after a child mounted: $(ls /tmp/m)
         umount /tmp/m
         echo unmounted: $(ls /tmp/m | wc -l)
         unshare -m sh -c 'mount -t tmpfs none /tmp/a; echo inside: $(ls /tmp/a | wc -l)'
         echo outside: $(ls /tmp/a)"
    ));
    assert_eq!(out, "after a child mounted: y\nunmounted: 0\ninside: 0\noutside: x\n");
}

#[test]
fn guests_cannot_name_host_directories() {
    let out = sh("cd /tmp && mkdir m
         echo 'mount #Z/ /tmp/m' > /proc/self/ns 2>/dev/null || echo refused
         echo 'bind #Z/etc /tmp/m' > /proc/self/ns 2>/dev/null || echo refused
         echo 'frobnicate /tmp/m' > /proc/self/ns 2>/dev/null || echo bad command
         echo left empty: $(ls /tmp/m | wc -l)");
    assert_eq!(out, "refused\nrefused\nbad command\nleft empty: 0\n");
}

#[test]
fn the_boot_namespace_is_described() {
    let out = sh("cat /proc/self/ns");
    for want in ["mount -c #r /\n", "mount #n /dev\n", "mount -a #c /dev\n", "mount #p /proc\n", "mount -c #r /tmp\n"] {
        assert!(out.contains(want), "{want:?} missing from\n{out}");
    }
    let listing = sh("ls /dev /proc/self");
    for want in ["null", "zero", "tty", "urandom", "ns", "exe", "cmdline"] {
        assert!(listing.lines().any(|l| l == want), "{want} missing from\n{listing}");
    }
}

/// A program named through a host symbolic link that leads out of the
/// directory the guest sees (here the working directory) runs from its
/// real path, as it would natively.
#[test]
fn programs_through_host_symlinks_run() {
    let dir = fresh("namespaces-symlink");
    std::os::unix::fs::symlink(bins(), dir.join("bins")).unwrap();
    let prog = std::path::Path::new("bins/args");
    let want = native(&dir.join(prog), &["one", "two"], &dir, None);
    assert_eq!(want.status, 0, "{want}");
    // The same but for argv[0], the path as given.
    let got = guest(prog, &["one", "two"], &dir, None);
    let want = String::from_utf8_lossy(&want.stdout).replace(&format!("{:?}", dir.join(prog)), "\"bins/args\"");
    assert_eq!(String::from_utf8_lossy(&got.stdout), want, "{got}");
    assert_eq!(got.status, 0);
    let abs = dir.join(prog);
    let got = guest(&abs, &["one", "two"], &dir, None);
    assert_eq!(got.status, 0, "{got}");
}

/// $HOME takes new files even where the root has it read-only (a ramfs
/// over it, what was there still seen), a missing $HOME is made, and
/// /dev/shm is a ramfs anyone may write (POSIX shared memory).
#[test]
fn home_and_dev_shm_take_files() {
    let dir = scratch("namespaces");
    let script = "echo h > $HOME/f && cat $HOME/f; echo s > /dev/shm/g && cat /dev/shm/g; \
                  stat -c '%a %u' /dev/shm $HOME";
    for (home, mode) in [("/root", "700"), ("/home/someone", "755")] {
        let o = std::process::Command::new(vxos())
            .args(["run"])
            .arg(busybox())
            .args(["sh", "-c", script])
            .current_dir(&dir)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", home)
            .env("VXOS_XCACHE", top().join("target/xcache"))
            .output()
            .unwrap();
        let o = Outcome::from(o);
        assert_eq!(o.status, 0, "HOME={home}: {o}");
        let root_mode = std::fs::metadata(top().join("build/rootfs/root")).map(|m| {
            use std::os::unix::fs::PermissionsExt;
            format!("{:o}", m.permissions().mode() & 0o777)
        });
        let mode = if home == "/root" { root_mode.unwrap_or(mode.into()) } else { mode.into() };
        let me = rustix::process::geteuid().as_raw();
        assert_eq!(String::from_utf8_lossy(&o.stdout), format!("h\ns\n1777 0\n{mode} {me}\n"), "HOME={home}");
    }
}
