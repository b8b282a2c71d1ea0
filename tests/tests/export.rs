//! The FUSE export and the cmd device (T7): `vxos run --export DIR` with a
//! long-running guest (busybox sleep), or `vxos boot --export DIR`, and the
//! host working on DIR alone:
//!
//! - its files: `ls` of the root, /proc/N/cmdline, a file written into
//!   /tmp from the host and read back inside the guest, directories,
//!   renames, symbolic links, chmod, truncate and removal, a line written
//!   to /dev/cons that shows on the guest's console;
//! - `vxos exec`: a host-built static program copied into DIR/tmp and run
//!   (output and status), stdin, stdout and stderr kept apart, three at
//!   once, ^C killing the program;
//! - the end: SIGTERM to vxos unmounts DIR;
//! - bad input: writes to read-only files fail with EACCES or EROFS, an
//!   unknown ctl command with EINVAL, a missing program with status 127,
//!   and the server still answers afterwards.
//!
//! Every test skips (passes with a message) only when the host has no
//! /dev/fuse.

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
    /// Start `vxos ARGS` with `--export` to a fresh directory `name`; wait
    /// until the export answers.
    fn start(name: &str, boot: bool) -> Exported {
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
        cmd.current_dir("/");
        if boot {
            cmd.arg("boot").arg("--export").arg(&dir).stdin(Stdio::piped());
        } else {
            cmd.args(["run", "--export"]).arg(&dir).args(["/bin/busybox", "sleep", "120"]).stdin(Stdio::null());
        }
        let child = cmd.stdout(out.try_clone().unwrap()).stderr(out).spawn().expect("start vxos");
        let e = Exported { child, dir, console };
        let t0 = Instant::now();
        while !e.path("dev/cmd/clone").exists() {
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
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let d = self.dir.to_string_lossy().into_owned();
        mounts.lines().any(|l| l.split(' ').nth(4) == Some(d.as_str()))
    }
}

impl Drop for Exported {
    fn drop(&mut self) {
        self.signal(rustix::process::Signal::Term);
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
    const EACCES: i32 = 13;
    const EROFS: i32 = 30;
    const EINVAL: i32 = 22;
    const ENOENT: i32 = 2;
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
    assert_eq!(ctl.write(b"kill").unwrap_err().raw_os_error(), Some(3), "kill before exec: ESRCH");
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
fn sigterm_unmounts() {
    if !fuse_ok() {
        return;
    }
    let mut e = Exported::start("term", false);
    assert!(e.mounted());
    e.signal(rustix::process::Signal::Term);
    let t0 = Instant::now();
    let st = loop {
        if let Some(st) = e.child.try_wait().unwrap() {
            break st;
        }
        assert!(t0.elapsed() < Duration::from_secs(10), "vxos did not end on SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    use std::os::unix::process::ExitStatusExt;
    assert!(st.signal() == Some(15) || st.code() == Some(143), "{st:?}");
    assert!(!e.mounted(), "the export is still mounted after SIGTERM");
    assert!(std::fs::read_dir(&e.dir).unwrap().next().is_none(), "the mount point is an empty directory again");
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
