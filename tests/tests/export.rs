//! The FUSE export and the cmd device (T7): `vxos run --export DIR` with a
//! long-running guest (busybox sleep), or `vxos boot --export DIR`, and the
//! host working on DIR alone:
//!
//! - its files: `ls` of the root, /proc/N/cmdline, a file written into
//!   /tmp from the host and read back inside the guest, directories,
//!   renames, symbolic links, hard links, chmod, truncate and removal, a
//!   line written to /dev/cons that shows on the guest's console;
//! - `vxos exec`: a host-built static program copied into DIR/tmp and run
//!   (output and status), stdin, stdout and stderr kept apart, three at
//!   once, ^C killing the program (also one waiting for its stdin);
//! - whose namespace: `--export-pid N` for a process that comes later,
//!   `pid N` written to DIR/.vxos/ctl;
//! - the end: SIGTERM, SIGINT or SIGKILL to vxos unmounts DIR; a stale
//!   mount is cleared by the next export, a live one refused;
//! - waiting: a console read that waits stops nothing else, and ends
//!   when its reader is killed;
//! - a normal user (nobody) exporting, with `ls`, a file round trip and
//!   `vxos exec`;
//! - bad input: writes to read-only files fail with EACCES or EROFS, an
//!   unknown ctl command with EINVAL, mkfifo and mknod with EPERM, a
//!   missing program with status 127, and the server still answers
//!   afterwards.
//!
//! Every test skips (passes with a message) only when the host has no
//! /dev/fuse (the normal user's, as root, also without setpriv and
//! unshare).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vxos_tests::*;

/// Whether the export can work here; says why not.
fn fuse_ok() -> bool {
    if Path::new("/dev/fuse").exists() {
        return true;
    }
    eprintln!("skipping: this host has no /dev/fuse, which the export needs");
    false
}

/// A running vxos serving its namespace at `dir`; killed at the end.
struct Exported {
    child: Child,
    dir: PathBuf,
    console: PathBuf,
}

impl Exported {
    /// Start `vxos run` of a long sleep (or `vxos boot`) with `--export`
    /// to a fresh directory `name`; wait until the export answers.
    fn start(name: &str, boot: bool) -> Exported {
        if boot {
            Exported::launch(name, &["boot"], &[], Stdio::piped(), "dev/cmd/clone")
        } else {
            Exported::launch(name, &["run"], &["/bin/busybox", "sleep", "120"], Stdio::null(), "dev/cmd/clone")
        }
    }

    /// Start `vxos OPTS --export DIR GUEST...` with DIR a fresh directory
    /// `name`; wait until DIR/`ready` exists.
    fn launch(name: &str, opts: &[&str], guest: &[&str], stdin: Stdio, ready: &str) -> Exported {
        let base = scratch("export");
        let dir = base.join(name);
        // An earlier run's mount, if one was left: take it off first.
        let _ = Command::new("fusermount3").arg("-u").arg("-z").arg(&dir).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let console = base.join(format!("{name}.console"));
        let out = std::fs::File::create(&console).unwrap();
        let mut cmd = Command::new(vxos());
        // From /, so that no host directory is bound into the guest (one
        // below /tmp would show in the guest's /tmp).
        cmd.current_dir("/").args(opts).arg("--export").arg(&dir).args(guest).stdin(stdin);
        let child = cmd.stdout(out.try_clone().unwrap()).stderr(out).spawn().expect("start vxos");
        let e = Exported { child, dir, console };
        let t0 = Instant::now();
        while !e.path(ready).exists() {
            assert!(t0.elapsed() < Duration::from_secs(20), "the export at {} never came up", e.dir.display());
            std::thread::sleep(Duration::from_millis(20));
        }
        e
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.join(p)
    }

    /// `vxos exec DIR -- ARGS`, with `input` as its stdin.
    fn exec(&self, args: &[&str], input: &[u8]) -> Outcome {
        let mut c = self.exec_command(args).stdin(Stdio::piped()).spawn().unwrap();
        let mut stdin = c.stdin.take().unwrap();
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let o = within(Duration::from_secs(60), c, &format!("vxos exec {args:?}"));
        feeder.join().unwrap();
        o
    }

    fn exec_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(vxos());
        c.arg("exec").arg(&self.dir).arg("--").args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    }

    /// Send `sig` to vxos.
    fn signal(&self, sig: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, sig);
    }

    fn mounted(&self) -> bool {
        mounted_at(&self.dir)
    }

    /// Wait at most `limit` for vxos to end; its status.
    fn wait_end(&mut self, limit: Duration) -> std::process::ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(t0.elapsed() < limit, "vxos did not end within {limit:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether something is mounted at `dir` (as this process sees mounts).
fn mounted_at(dir: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let d = dir.to_string_lossy().into_owned();
    mounts.lines().any(|l| l.split(' ').nth(4) == Some(d.as_str()))
}

/// Wait at most `limit` for `cond`; false if it never held.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while !cond() {
        if t0.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

const EPERM: i32 = 1;
const ESRCH: i32 = 3;
const EACCES: i32 = 13;
const EEXIST: i32 = 17;
const EXDEV: i32 = 18;
const EINVAL: i32 = 22;
const EROFS: i32 = 30;
const EBUSY: i32 = 16;
const ENOENT: i32 = 2;

impl Drop for Exported {
    fn drop(&mut self) {
        // Only a vxos not yet waited for: its pid is still its own.
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal(rustix::process::Signal::Term);
        }
        let _ = self.child.wait();
        let _ = Command::new("fusermount3").arg("-u").arg("-z").arg(&self.dir).stderr(Stdio::null()).status();
    }
}

/// Wait for `c` at most `limit`; kill it and fail past that.
fn within(limit: Duration, mut c: Child, what: &str) -> Outcome {
    let t0 = Instant::now();
    while c.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            let _ = c.kill();
            panic!("{what} hung for {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    outcome(c)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn files_through_the_export() {
    if !fuse_ok() {
        return;
    }
    let e = Exported::start("files", false);
    let names: Vec<String> =
        std::fs::read_dir(&e.dir).unwrap().map(|d| d.unwrap().file_name().to_string_lossy().into_owned()).collect();
    for want in ["bin", "dev", "etc", "proc", "tmp"] {
        assert!(names.iter().any(|n| n == want), "ls of the export lacks {want}: {names:?}");
    }
    // The first process of `vxos run` is pid 2 (pid 1 is init).
    assert_eq!(std::fs::read(e.path("proc/2/cmdline")).unwrap(), b"/bin/busybox\0sleep\x00120\0");
    assert!(std::fs::read_to_string(e.path("proc/2/ns")).unwrap().contains("/dev/cmd"));

    // A file written on the host, read in the guest, and back.
    std::fs::write(e.path("tmp/from-host"), b"written on the host\n").unwrap();
    let o = e.exec(&["/bin/cat", "/tmp/from-host"], b"");
    assert_eq!((text(&o.stdout), o.status), ("written on the host\n".into(), 0), "{o:?}");
    let o = e.exec(&["/bin/busybox", "sh", "-c", "echo made in the guest > /tmp/from-guest"], b"");
    assert_eq!(o.status, 0, "{o:?}");
    assert_eq!(std::fs::read_to_string(e.path("tmp/from-guest")).unwrap(), "made in the guest\n");

    // Directories, renames, links, modes, sizes, removal.
    std::fs::create_dir(e.path("tmp/d")).unwrap();
    std::fs::write(e.path("tmp/d/a"), b"0123456789").unwrap();
    std::fs::rename(e.path("tmp/d/a"), e.path("tmp/d/b")).unwrap();
    assert!(!e.path("tmp/d/a").exists());
    std::os::unix::fs::symlink("/tmp/d/b", e.path("tmp/link")).unwrap();
    assert_eq!(
        std::fs::read_link(e.path("tmp/link")).unwrap(),
        e.path("tmp/d/b"),
        "absolute links point into the export"
    );
    assert_eq!(std::fs::read(e.path("tmp/link")).unwrap(), b"0123456789");
    let o = e.exec(&["/bin/busybox", "readlink", "/tmp/link"], b"");
    assert_eq!(text(&o.stdout), "/tmp/d/b\n", "the guest sees its own path");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(e.path("tmp/d/b"), std::fs::Permissions::from_mode(0o640)).unwrap();
    assert_eq!(std::fs::metadata(e.path("tmp/d/b")).unwrap().permissions().mode() & 0o7777, 0o640);
    std::fs::OpenOptions::new().write(true).open(e.path("tmp/d/b")).unwrap().set_len(4).unwrap();
    let o = e.exec(&["/bin/busybox", "sh", "-c", "cat /tmp/d/b; stat -c ' %s %a' /tmp/d/b"], b"");
    assert_eq!(text(&o.stdout), "0123 4 640\n", "{o:?}");
    let mut f = std::fs::OpenOptions::new().append(true).open(e.path("tmp/d/b")).unwrap();
    f.write_all(b"xy").unwrap();
    drop(f);
    assert_eq!(std::fs::read(e.path("tmp/d/b")).unwrap(), b"0123xy");
    assert_eq!(std::fs::remove_dir(e.path("tmp/d")).unwrap_err().raw_os_error(), Some(39), "ENOTEMPTY");
    std::fs::remove_file(e.path("tmp/d/b")).unwrap();
    std::fs::remove_dir(e.path("tmp/d")).unwrap();
    std::fs::remove_file(e.path("tmp/link")).unwrap();
    let o = e.exec(&["/bin/busybox", "ls", "/tmp"], b"");
    assert_eq!(text(&o.stdout), "from-guest\nfrom-host\n");

    // Hard links where the guest's file system has them; Linux's errors
    // where it has not.
    std::fs::write(e.path("tmp/one"), b"linked").unwrap();
    std::fs::hard_link(e.path("tmp/one"), e.path("tmp/two")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(e.path("tmp/one")).unwrap().nlink(), 2);
    std::fs::write(e.path("tmp/two"), b"changed through the other name").unwrap();
    let o = e.exec(&["/bin/busybox", "sh", "-c", "cat /tmp/one; stat -c ' %h' /tmp/two"], b"");
    assert_eq!(text(&o.stdout), "changed through the other name 2\n", "{o:?}");
    let err = |r: std::io::Result<()>| r.unwrap_err().raw_os_error();
    assert_eq!(err(std::fs::hard_link(e.path("bin/busybox"), e.path("tmp/bb"))), Some(EXDEV), "across devices");
    assert_eq!(err(std::fs::hard_link(e.path("tmp"), e.path("tmp/dir"))), Some(EPERM), "a directory");
    assert_eq!(err(std::fs::hard_link(e.path("tmp/one"), e.path("tmp/two"))), Some(EEXIST));
    for (what, args) in [("mkfifo", vec!["mkfifo"]), ("mknod", vec!["mknod", "c", "1", "3"])] {
        let (prog, rest) = args.split_first().unwrap();
        let o = Command::new(prog).arg(e.path("tmp/special")).args(rest).output().unwrap();
        assert!(!o.status.success() && text(&o.stderr).contains("not permitted"), "{what}: {o:?}");
    }
    assert!(!e.path("tmp/special").exists());
    std::fs::remove_file(e.path("tmp/one")).unwrap();
    std::fs::remove_file(e.path("tmp/two")).unwrap();

    // The console is a file too: what the host writes shows on it.
    std::fs::write(e.path("dev/cons"), b"hello, console\n").unwrap();
    let t0 = Instant::now();
    while !std::fs::read_to_string(&e.console).unwrap().contains("hello, console") {
        assert!(t0.elapsed() < Duration::from_secs(5), "the console line never showed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn exec_runs_a_host_built_program() {
    if !fuse_ok() {
        return;
    }
    let e = Exported::start("exec", false);
    let hello = bins().join("hello");
    std::fs::copy(&hello, e.path("tmp/hello")).unwrap();
    let o = e.exec(&["/tmp/hello"], b"");
    assert_eq!((text(&o.stdout), o.status), ("hello, world\n".into(), 0), "{o:?}");
    // Status, stdout and stderr apart, stdin streamed.
    let o = e.exec(&["/bin/busybox", "sh", "-c", "tr a-z A-Z; echo to-stderr >&2; exit 3"], b"abc\ndef\n");
    assert_eq!((text(&o.stdout), text(&o.stderr), o.status), ("ABC\nDEF\n".into(), "to-stderr\n".into(), 3));
    // A death by signal is 128+N.
    let o = e.exec(&["/bin/busybox", "sh", "-c", "kill -9 $$"], b"");
    assert_eq!(o.status, 137, "{o:?}");
    // --cwd and --env.
    let mut c = Command::new(vxos());
    c.arg("exec").args(["--cwd", "/etc", "--env", "GREETING=hi there"]).arg(&e.dir).arg("--");
    c.args(["/bin/busybox", "sh", "-c", "pwd; echo $GREETING"]).stdout(Stdio::piped()).stderr(Stdio::piped());
    let o = within(Duration::from_secs(60), c.stdin(Stdio::null()).spawn().unwrap(), "exec --cwd");
    assert_eq!(text(&o.stdout), "/etc\nhi there\n", "{o:?}");
}

#[test]
fn three_execs_at_once_and_interrupt() {
    if !fuse_ok() {
        return;
    }
    let e = Exported::start("three", false);
    let t0 = Instant::now();
    let kids: Vec<Child> = (1..=3)
        .map(|i| {
            let script = format!("sleep 1; echo job {i}; cat");
            e.exec_command(&["/bin/busybox", "sh", "-c", &script]).stdin(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for (i, mut k) in kids.into_iter().enumerate() {
        k.stdin.take().unwrap().write_all(format!("input {}\n", i + 1).as_bytes()).unwrap();
        let o = within(Duration::from_secs(30), k, "one of three execs");
        assert_eq!((text(&o.stdout), o.status), (format!("job {}\ninput {}\n", i + 1, i + 1), 0));
    }
    assert!(t0.elapsed() < Duration::from_secs(3), "the three ran one after another: {:?}", t0.elapsed());

    // ^C to vxos exec kills the guest program (SIGKILL: 137).
    let c = e.exec_command(&["/bin/busybox", "sleep", "30"]).stdin(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let pid = rustix::process::Pid::from_raw(c.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::Int).unwrap();
    let o = within(Duration::from_secs(10), c, "an interrupted exec");
    assert_eq!(o.status, 137, "{o:?}");
}

#[test]
fn bad_input_is_refused_and_the_server_goes_on() {
    if !fuse_ok() {
        return;
    }
    let e = Exported::start("bad", false);
    let err = |r: std::io::Result<()>| r.unwrap_err().raw_os_error();
    let ro = err(std::fs::write(e.path("proc/2/cmdline"), b"x"));
    assert!(matches!(ro, Some(EACCES | EROFS)), "write to /proc/2/cmdline: {ro:?}");
    let ro = err(std::fs::write(e.path("bin/busybox"), b"x"));
    assert!(matches!(ro, Some(EACCES | EROFS)), "write to the read-only root: {ro:?}");
    // An unknown ctl command.
    let mut ctl = std::fs::OpenOptions::new().read(true).write(true).open(e.path("dev/cmd/clone")).unwrap();
    let mut n = String::new();
    ctl.read_to_string(&mut n).unwrap();
    assert_eq!(ctl.write(b"frobnicate now").unwrap_err().raw_os_error(), Some(EINVAL));
    assert_eq!(ctl.write(b"exec 'unclosed").unwrap_err().raw_os_error(), Some(EINVAL));
    assert_eq!(ctl.write(b"kill").unwrap_err().raw_os_error(), Some(ESRCH), "kill before exec");
    // Nothing started: data is empty, wait says so at once.
    assert_eq!(std::fs::read(e.path(&format!("dev/cmd/{n}/data"))).unwrap(), b"");
    assert!(std::fs::read(e.path(&format!("dev/cmd/{n}/wait"))).is_err());
    assert_eq!(ctl.write(b"exec /no/such/program").unwrap_err().raw_os_error(), Some(ENOENT));
    drop(ctl);
    assert_eq!(err(std::fs::write(e.path("dev/cmd/999/ctl"), b"kill")), Some(ENOENT));
    let o = e.exec(&["/no/such/program"], b"");
    assert_eq!(o.status, 127, "{o:?}");
    assert!(text(&o.stderr).contains("No such file"), "{o:?}");
    // The server still answers, and programs still run.
    assert!(e.path("proc/2/cmdline").exists());
    let o = e.exec(&["/bin/busybox", "echo", "still here"], b"");
    assert_eq!(text(&o.stdout), "still here\n");
    // A conversation goes when its files are closed and its command ended.
    let t0 = Instant::now();
    loop {
        let left: Vec<_> = std::fs::read_dir(e.path("dev/cmd")).unwrap().map(|d| d.unwrap().file_name()).collect();
        if left.len() == 1 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "conversations left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_and_sigint_unmount() {
    if !fuse_ok() {
        return;
    }
    use rustix::process::Signal;
    for (sig, name) in [(Signal::Term, "term"), (Signal::Int, "int")] {
        let mut e = Exported::start(name, false);
        assert!(e.mounted());
        e.signal(sig);
        let st = e.wait_end(Duration::from_secs(10));
        use std::os::unix::process::ExitStatusExt;
        let n = sig as i32;
        assert!(st.signal() == Some(n) || st.code() == Some(128 + n), "{name}: {st:?}");
        assert!(!e.mounted(), "the export is still mounted after SIG{name}");
        assert!(std::fs::read_dir(&e.dir).unwrap().next().is_none(), "the mount point is an empty directory again");
    }
}

#[test]
fn boot_exports_inits_namespace() {
    if !fuse_ok() {
        return;
    }
    let mut e = Exported::start("boot", true);
    // The login shell is pid 2.
    assert!(std::fs::read(e.path("proc/2/cmdline")).unwrap().starts_with(b"-"), "a login shell");
    let o = e.exec(&["/bin/busybox", "sh", "-c", "echo $PATH; cat /etc/hostname"], b"");
    assert_eq!(o.status, 0, "{o:?}");
    assert!(text(&o.stdout).starts_with("/bin:"), "{o:?}");
    // The console hangs up when its input ends (the shell gets SIGHUP), and
    // vxos ends with the shell: unmounted.
    drop(e.child.stdin.take());
    let o =
        within(Duration::from_secs(10), std::mem::replace(&mut e.child, Command::new("true").spawn().unwrap()), "boot");
    assert!(matches!(o.status, 0 | 129), "{o:?}");
    assert!(!e.mounted(), "the export is still mounted after the shell ended");
}

/// The pid of vxos's fusermount3 (which stays to unmount when vxos ends).
fn fusermount_of(vxos: u32) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|d| {
        let stat = std::fs::read_to_string(d.path().join("stat")).ok()?;
        let (comm, rest) = stat.split_once(") ")?;
        let ppid: u32 = rest.split(' ').nth(1)?.parse().ok()?;
        (comm.ends_with("(fusermount3") && ppid == vxos).then(|| d.file_name().to_str()?.parse().ok())?
    })
}

#[test]
fn sigkill_and_stale_mounts() {
    if !fuse_ok() {
        return;
    }
    use rustix::process::{kill_process, Pid, Signal};
    // SIGKILL: fusermount3 unmounts once vxos's end of their socket closes.
    let mut e = Exported::start("kill", false);
    // A second export to the same directory is refused while the first runs.
    let o = Command::new(vxos()).current_dir("/").args(["run", "--export"]).arg(&e.dir).arg("/bin/true").output();
    let o = o.unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(text(&o.stderr).contains(&format!("fusermount3 -u {}", e.dir.display())), "{o:?}");
    e.signal(Signal::Kill);
    e.wait_end(Duration::from_secs(10));
    assert!(eventually(Duration::from_secs(5), || !e.mounted()), "the export outlived a SIGKILL of vxos");

    // A crash of vxos and its fusermount3 both leaves a stale mount: the
    // next export there clears it and says so.
    let mut e = Exported::start("stale", false);
    let helper = fusermount_of(e.child.id()).expect("vxos's fusermount3");
    kill_process(Pid::from_raw(helper).unwrap(), Signal::Kill).unwrap();
    e.signal(Signal::Kill);
    e.wait_end(Duration::from_secs(10));
    let err = std::fs::metadata(&e.dir).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(107), "ENOTCONN on a stale mount: {err}");
    let mut c = Command::new(vxos());
    c.current_dir("/").args(["run", "--export"]).arg(&e.dir).args(["/bin/busybox", "ls", "/"]);
    let o = within(Duration::from_secs(30), c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap(), "run");
    assert_eq!(o.status, 0, "{o:?}");
    assert!(text(&o.stderr).contains("cleared a stale export"), "{o:?}");
    assert!(!e.mounted(), "unmounted at the end");
    assert!(std::fs::read_dir(&e.dir).unwrap().next().is_none());
}

#[test]
fn export_pid_and_the_ctl_file() {
    if !fuse_ok() {
        return;
    }
    // Pid 2 is the shell, which waits for a line on its stdin (`read` is
    // built in) before going on; 3 its `sleep 0` (in the background, so
    // that it is a process of its own), 4 the unshare that gives itself a
    // namespace of its own with a tmpfs on /mnt (not last, so not exec'd).
    let script = "read go; sleep 0 & wait; busybox unshare -m sh -c 'mount -t tmpfs none /mnt; echo private > /mnt/mark; exec sleep 60'; true";
    let mut e = Exported::launch(
        "pid",
        &["run", "--export-pid", "4"],
        &["/bin/busybox", "sh", "-c", script],
        Stdio::piped(),
        ".vxos/ctl",
    );
    let mut go = e.child.stdin.take().unwrap();
    let ctl = e.path(".vxos/ctl");
    let names = || -> Vec<String> {
        let d = std::fs::read_dir(&e.dir).unwrap();
        d.map(|d| d.unwrap().file_name().to_string_lossy().into_owned()).collect()
    };
    // Until process 4 exists the export waits, showing only .vxos.
    assert_eq!(std::fs::read_to_string(&ctl).unwrap(), "pid 4 waiting\n");
    assert_eq!(names(), [".vxos"]);
    let o = e.exec(&["/bin/true"], b"");
    assert!(o.status == 1 && text(&o.stderr).contains("the export waits for process 4"), "{o:?}");
    go.write_all(b"go\n").unwrap();
    assert!(eventually(Duration::from_secs(20), || e.path("mnt/mark").exists()), "pid 4's namespace never showed");
    assert_eq!(std::fs::read_to_string(&ctl).unwrap(), "pid 4\n");
    assert_eq!(std::fs::read_to_string(e.path("mnt/mark")).unwrap(), "private\n");
    assert!(names().iter().any(|n| n == "bin"), "{:?}", names());
    // vxos exec runs programs in the namespace served.
    let o = e.exec(&["/bin/cat", "/mnt/mark"], b"");
    assert_eq!((text(&o.stdout), o.status), ("private\n".into(), 0), "{o:?}");

    // Choosing another process's namespace through ctl.
    std::fs::write(&ctl, b"pid 2\n").unwrap();
    assert_eq!(std::fs::read_to_string(&ctl).unwrap(), "pid 2\n");
    assert!(!e.path("mnt/mark").exists(), "pid 2's /mnt is the root file system's");
    let o = e.exec(&["/bin/busybox", "ls", "/mnt/mark"], b"");
    assert_ne!(o.status, 0, "{o:?}");
    std::fs::write(&ctl, b"pid 4").unwrap();
    assert!(e.path("mnt/mark").exists());

    // Bad input on ctl and on the export's own directory.
    let err = |r: std::io::Result<()>| r.unwrap_err().raw_os_error();
    assert_eq!(err(std::fs::write(&ctl, b"pid 999\n")), Some(ESRCH));
    assert_eq!(err(std::fs::write(&ctl, b"pid two\n")), Some(EINVAL));
    assert_eq!(err(std::fs::write(&ctl, b"frobnicate\n")), Some(EINVAL));
    assert_eq!(std::fs::read_to_string(&ctl).unwrap(), "pid 4\n", "bad lines change nothing");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(err(std::fs::set_permissions(&ctl, std::fs::Permissions::from_mode(0o600))), Some(EPERM));
    assert_eq!(err(std::fs::create_dir(e.path(".vxos/x"))), Some(EACCES));
    assert_eq!(err(std::fs::remove_file(&ctl).map(|_| ())), Some(EACCES));
    assert_eq!(err(std::fs::remove_dir(e.path(".vxos"))), Some(EBUSY));
    assert_eq!(err(std::fs::create_dir(e.path(".vxos"))), Some(EEXIST));
}

#[test]
fn waiting_reads_never_stop_the_server() {
    if !fuse_ok() {
        return;
    }
    // vxos's stdin, the console's input, stays open with nothing in it.
    let mut e = Exported::launch("wait", &["run"], &["/bin/busybox", "sleep", "120"], Stdio::piped(), "dev/cmd/clone");
    let mut input = e.child.stdin.take().unwrap();
    let reader = || {
        let mut c = Command::new("cat");
        c.arg(e.path("dev/cons")).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap()
    };
    let mut blocked = reader();
    std::thread::sleep(Duration::from_millis(300));
    assert!(blocked.try_wait().unwrap().is_none(), "a read of the console waits for input");
    // Everything else goes on meanwhile.
    let t0 = Instant::now();
    assert!(std::fs::read_dir(e.path("proc")).unwrap().count() > 2);
    assert!(std::fs::read(e.path("proc/2/cmdline")).unwrap().starts_with(b"/bin/busybox"));
    std::fs::write(e.path("tmp/during"), b"x").unwrap();
    let o = e.exec(&["/bin/busybox", "echo", "still served"], b"");
    assert_eq!(text(&o.stdout), "still served\n", "{o:?}");
    assert!(t0.elapsed() < Duration::from_secs(10), "the server was slow: {:?}", t0.elapsed());
    // Input comes: the reader has it.
    input.write_all(b"typed\n").unwrap();
    let mut got = [0u8; 6];
    blocked.stdout.as_mut().unwrap().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"typed\n");
    // A reader killed while it waits (^C) ends at once: no FUSE
    // interrupts, so the server notices the pending SIGKILL.
    let mut next = Some(blocked);
    for sig in [rustix::process::Signal::Int, rustix::process::Signal::Kill] {
        let c = next.take().unwrap_or_else(reader);
        std::thread::sleep(Duration::from_millis(300));
        let pid = rustix::process::Pid::from_raw(c.id() as i32).unwrap();
        rustix::process::kill_process(pid, sig).unwrap();
        let o = within(Duration::from_secs(5), c, "a killed reader of the console");
        assert_eq!(o.status, 128 + sig as i32, "{o:?}");
    }

    // A guest program waiting for its stdin, and ^C to vxos exec.
    let mut c = e.exec_command(&["/bin/cat"]).stdin(Stdio::piped()).spawn().unwrap();
    let mut to_cat = c.stdin.take().unwrap();
    to_cat.write_all(b"some input\n").unwrap();
    let mut got = [0u8; 11];
    c.stdout.as_mut().unwrap().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"some input\n");
    let pid = rustix::process::Pid::from_raw(c.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::Int).unwrap();
    let o = within(Duration::from_secs(10), c, "an interrupted exec of cat");
    assert_eq!(o.status, 137, "{o:?}");
    drop(to_cat);
    // A vxos exec killed outright leaves a conversation whose reads end.
    let c = e.exec_command(&["/bin/busybox", "sleep", "30"]).stdin(Stdio::null()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let pid = rustix::process::Pid::from_raw(c.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::Kill).unwrap();
    let o = within(Duration::from_secs(5), c, "a killed vxos exec");
    assert_eq!(o.status, 137);
    assert!(e.path("proc/2/cmdline").exists(), "the server still answers");
}

/// The script of `a_normal_user_exports`: $1 a directory everyone may
/// enter, $2 vxos, $3 what runs commands as the user ("" for oneself).
const AS_USER: &str = r#"
set -eu
B=$1 V=$2 AS=$3 D=$1/export
# A Debian host's /dev/fuse is open to every user; where it is not (a
# container's), a node that is stands for it in this private mount
# namespace, for fusermount3 opens it as the user.
if ! $AS test -r /dev/fuse -a -w /dev/fuse; then
    mkdir -p $B/devfuse
    mount -t tmpfs -o mode=755 tmpfs $B/devfuse
    mknod -m 666 $B/devfuse/fuse c 10 229
    mount --bind $B/devfuse/fuse /dev/fuse
fi
cd /
$AS $V run --export $D /bin/busybox sleep 120 </dev/null >$B/vxos.log 2>&1 &
echo $! >$B/vxos.pid
i=0
until $AS test -e $D/dev/cmd/clone; do
    i=$((i + 1))
    if [ $i -gt 400 ]; then echo "the export never came up"; cat $B/vxos.log; exit 1; fi
    sleep 0.05
done
grep " $D " /proc/self/mountinfo | sed 's/.* - //'
$AS ls $D | tr '\n' ' '; echo
$AS sh -c "echo from the host >$D/tmp/note"
$AS $V exec $D -- /bin/busybox sh -c 'cat /tmp/note; id -u; echo from the guest >/tmp/reply'
$AS cat $D/tmp/reply
$AS cp $B/hello $D/tmp/hello
$AS $V exec $D -- /tmp/hello
echo "status $?"
P=$(cat $B/vxos.pid)
kill -TERM $P
wait $P || true
rm $B/vxos.pid
echo "mounted $(grep -c " $D " /proc/self/mountinfo || true)"
"#;

/// What `a_normal_user_exports` made: its temporary directory, and the
/// vxos it started if the script did not end it (vxos.pid is left).
struct UserRun(PathBuf);

impl Drop for UserRun {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(self.0.join("vxos.pid")).ok().and_then(|p| p.trim().parse().ok()) {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::Term);
            }
        }
        let _ =
            Command::new("fusermount3").arg("-u").arg("-z").arg(self.0.join("export")).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_normal_user_exports() {
    if !fuse_ok() {
        return;
    }
    let have = |prog: &str| Command::new(prog).arg("--version").output().is_ok_and(|o| o.status.success());
    let root = rustix::process::geteuid().is_root();
    // As root (CI), the user is nobody, in a mount namespace of its own;
    // as a normal user, oneself.
    let (uid, gid) =
        if root { (65534, 65534) } else { (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw()) };
    if root && !(have("setpriv") && have("unshare")) {
        eprintln!("skipping: running as nobody needs setpriv and unshare (util-linux), which this host lacks");
        return;
    }
    if !root && std::fs::OpenOptions::new().read(true).write(true).open("/dev/fuse").is_err() {
        eprintln!("skipping: this user cannot open /dev/fuse, so cannot use FUSE on this host");
        return;
    }
    let base = std::env::temp_dir().join(format!("vxos-export-user-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir(&base).unwrap();
    let run = UserRun(base.clone());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(base.join("export")).unwrap();
    std::os::unix::fs::chown(base.join("export"), Some(uid), Some(gid)).unwrap();
    std::fs::copy(bins().join("hello"), base.join("hello")).unwrap();
    std::fs::set_permissions(base.join("hello"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = if root {
        let mut c = Command::new("unshare");
        c.args(["-m", "--propagation", "private", "--", "sh", "-c", AS_USER, "sh"]);
        c.arg(&base).arg(vxos()).arg("setpriv --reuid=65534 --regid=65534 --clear-groups");
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", AS_USER, "sh"]).arg(&base).arg(vxos()).arg("");
        c
    };
    let o =
        within(Duration::from_secs(90), c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap(), "as a user");
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(o.status, 0, "{o:?}");
    assert!(
        lines[0].starts_with("fuse.vxos ") && lines[0].contains(&format!("user_id={uid}")),
        "the user's mount: {out}"
    );
    for want in ["bin ", "dev ", "proc ", "tmp "] {
        assert!(lines[1].contains(want), "ls of the export lacks {want}: {out}");
    }
    assert_eq!(
        lines[2..].join("\n"),
        format!("from the host\n{uid}\nfrom the guest\nhello, world\nstatus 0\nmounted 0"),
        "{o:?}"
    );
    drop(run);
}
