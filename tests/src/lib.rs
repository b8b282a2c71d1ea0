//! Helpers for the integration tests: find the vxos binary, the guest
//! programs and the rootfs, run a program natively and under `vxos run`
//! with the same environment and input, and compare what they did.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Return the workspace root.
pub fn top() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Return the release vxos binary, building it once if needed.
pub fn vxos() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("VXOS") {
                return PathBuf::from(p);
            }
            let st = Command::new(env!("CARGO"))
                .args(["build", "--release", "-q", "-p", "kernel"])
                .current_dir(top())
                .status()
                .expect("run cargo build");
            assert!(st.success(), "cargo build --release -p kernel failed");
            top().join("target/release/vxos")
        })
        .clone()
}

/// Return the directory of our own guest programs, building them once.
pub fn bins() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let st = Command::new("bash")
                .arg(top().join("userland-bins/build.sh"))
                .status()
                .expect("run userland-bins/build.sh");
            assert!(st.success(), "userland-bins/build.sh failed (is gcc-multilib installed? run scripts/setup.sh)");
            top().join("build/bin")
        })
        .clone()
}

/// Return Debian's busybox-static (i386) unpacked by scripts/setup.sh.
pub fn busybox() -> PathBuf {
    let p = top().join("build/rootfs/bin/busybox");
    assert!(p.exists(), "{} is missing: run scripts/setup.sh", p.display());
    p
}

/// Return a scratch directory for this test binary.
pub fn scratch(name: &str) -> PathBuf {
    let d = top().join("target/test-scratch").join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// What a program did: its output, error output and status as a shell
/// reports it (128+N for signal N).
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: i32,
}

impl Outcome {
    fn from(o: Output) -> Outcome {
        use std::os::unix::process::ExitStatusExt;
        let status = o.status.code().unwrap_or_else(|| 128 + o.status.signal().unwrap_or(0));
        Outcome { stdout: o.stdout, stderr: o.stderr, status }
    }
}

fn prepared(mut c: Command, dir: &Path, stdin: Option<&Path>) -> Command {
    c.env_clear().env("PATH", "/usr/bin:/bin").env("LANG", "C").env("HOME", "/").current_dir(dir);
    c.stdin(match stdin {
        Some(p) => Stdio::from(std::fs::File::open(p).unwrap()),
        None => Stdio::null(),
    });
    c
}

/// Run `prog args` natively.
pub fn native(prog: &Path, args: &[&str], dir: &Path, stdin: Option<&Path>) -> Outcome {
    let mut c = prepared(Command::new(prog), dir, stdin);
    c.args(args);
    Outcome::from(c.output().unwrap_or_else(|e| panic!("run {}: {e}", prog.display())))
}

/// Run `prog args` under `vxos run`.
pub fn guest(prog: &Path, args: &[&str], dir: &Path, stdin: Option<&Path>) -> Outcome {
    let mut c = prepared(Command::new(vxos()), dir, stdin);
    c.arg("run").arg(prog).args(args);
    Outcome::from(c.output().unwrap())
}

/// Run a program natively and under vxos; panic with a readable report if
/// stdout, stderr or the status differ. Returns the native outcome.
pub fn same(prog: &Path, args: &[&str], dir: &Path, stdin: Option<&Path>) -> Outcome {
    let n = native(prog, args, dir, stdin);
    let v = guest(prog, args, dir, stdin);
    if n != v {
        let show = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(2000)]).into_owned();
        panic!(
            "{} {:?} differs\nnative status {} vxos status {}\n--- native stdout\n{}\n--- vxos stdout\n{}\n--- native stderr\n{}\n--- vxos stderr\n{}",
            prog.display(),
            args,
            n.status,
            v.status,
            show(&n.stdout),
            show(&v.stdout),
            show(&n.stderr),
            show(&v.stderr)
        );
    }
    n
}

/// Write a deterministic test file of `size` bytes mixing text lines and
/// pseudo-random bytes, once.
pub fn data_file(name: &str, size: usize) -> PathBuf {
    // Tests run in parallel and share these files: make each one once.
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    let p = scratch("data").join(name);
    if p.metadata().map(|m| m.len() as usize == size).unwrap_or(false) {
        return p;
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ size as u64;
    let mut out = Vec::with_capacity(size);
    let mut line = 0u64;
    while out.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x.is_multiple_of(4) {
            for _ in 0..(x >> 8) % 64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                out.push(x as u8);
            }
        } else {
            line += 1;
            out.extend_from_slice(format!("{} line {} value {}\n", x % 1000, line, x >> 40).as_bytes());
        }
    }
    out.truncate(size);
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, &out).unwrap();
    std::fs::rename(&tmp, &p).unwrap();
    p
}
