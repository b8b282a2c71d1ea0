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
    pub fn from(o: Output) -> Outcome {
        use std::os::unix::process::ExitStatusExt;
        let status = o.status.code().unwrap_or_else(|| 128 + o.status.signal().unwrap_or(0));
        Outcome { stdout: o.stdout, stderr: o.stderr, status }
    }
}

impl std::fmt::Display for Outcome {
    /// "status N, stdout "...", stderr "..."", each stream cut at 2000 bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let show = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(2000)]).into_owned();
        write!(f, "status {}, stdout {:?}, stderr {:?}", self.status, show(&self.stdout), show(&self.stderr))
    }
}

fn prepared(mut c: Command, dir: &Path, stdin: Option<&Path>) -> Command {
    // Translations kept between runs go to one directory of the build
    // tree (HOME=/ would put them in /.cache).
    c.env_clear().env("PATH", "/usr/bin:/bin").env("LANG", "C").env("HOME", "/").current_dir(dir);
    c.env("VXOS_XCACHE", top().join("target/xcache"));
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
    guest_opts(&[], prog, args, dir, stdin)
}

/// Run `prog args` under `vxos run OPTS` (options such as `--bind`
/// between `run` and the program).
pub fn guest_opts(opts: &[&str], prog: &Path, args: &[&str], dir: &Path, stdin: Option<&Path>) -> Outcome {
    let mut c = prepared(Command::new(vxos()), dir, stdin);
    c.arg("run").args(opts).arg(prog).args(args);
    Outcome::from(c.output().unwrap())
}

/// The command `native` runs (stdin from /dev/null), for callers that
/// connect its streams themselves (a pipe between two programs).
pub fn native_command(prog: &Path, args: &[&str], dir: &Path) -> Command {
    let mut c = prepared(Command::new(prog), dir, None);
    c.args(args);
    c
}

/// The command `guest_opts` runs (stdin from /dev/null), for callers that
/// connect its streams themselves.
pub fn guest_command(opts: &[&str], prog: &Path, args: &[&str], dir: &Path) -> Command {
    let mut c = prepared(Command::new(vxos()), dir, None);
    c.arg("run").args(opts).arg(prog).args(args);
    c
}

/// Wait for a child started from `native_command` or `guest_command` with
/// piped streams and return what it did.
pub fn outcome(child: std::process::Child) -> Outcome {
    Outcome::from(child.wait_with_output().unwrap())
}

/// Return a fresh, empty scratch directory `name` (a path under this test
/// binary's scratch area; anything left there by an earlier run is removed).
pub fn fresh(name: &str) -> PathBuf {
    let d = top().join("target/test-scratch").join(name);
    if d.symlink_metadata().is_ok() {
        std::fs::remove_dir_all(&d).unwrap_or_else(|e| panic!("remove {}: {e}", d.display()));
    }
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Describe how two outcomes differ (None when they are equal): statuses,
/// then a line diff of stdout and of stderr, `-` for `a`'s lines and `+`
/// for `b`'s, with two lines of context.
pub fn differences(a_name: &str, a: &Outcome, b_name: &str, b: &Outcome) -> Option<String> {
    if a == b {
        return None;
    }
    let mut r = String::new();
    if a.status != b.status {
        r += &format!("status: {a_name} {} {b_name} {}\n", a.status, b.status);
    }
    for (what, x, y) in [("stdout", &a.stdout, &b.stdout), ("stderr", &a.stderr, &b.stderr)] {
        if x != y {
            r += &format!("--- {what} (-{a_name} +{b_name})\n{}", line_diff(x, y));
        }
    }
    Some(r)
}

/// A line diff of two texts: `-` lines only in `a`, `+` lines only in `b`,
/// two lines of context around each change, `@@ N` giving the line number in
/// `a`; at most 200 lines.
pub fn line_diff(a: &[u8], b: &[u8]) -> String {
    let a: Vec<String> = String::from_utf8_lossy(a).lines().map(str::to_owned).collect();
    let b: Vec<String> = String::from_utf8_lossy(b).lines().map(str::to_owned).collect();
    // Longest common subsequence table from the ends (small inputs only:
    // fall back to comparing line by line beyond 4000 lines).
    let (n, m) = (a.len(), b.len());
    let mut ops: Vec<(char, &str, usize)> = Vec::new();
    if n * m <= 16_000_000 {
        let mut l = vec![0u32; (n + 1) * (m + 1)];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                l[i * (m + 1) + j] = if a[i] == b[j] {
                    l[(i + 1) * (m + 1) + j + 1] + 1
                } else {
                    l[(i + 1) * (m + 1) + j].max(l[i * (m + 1) + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && a[i] == b[j] {
                ops.push((' ', &a[i], i));
                i += 1;
                j += 1;
            } else if i < n && (j == m || l[(i + 1) * (m + 1) + j] >= l[i * (m + 1) + j + 1]) {
                ops.push(('-', &a[i], i));
                i += 1;
            } else {
                ops.push(('+', &b[j], i));
                j += 1;
            }
        }
    } else {
        for k in 0..n.max(m) {
            match (a.get(k), b.get(k)) {
                (Some(x), Some(y)) if x == y => ops.push((' ', x, k)),
                (x, y) => {
                    if let Some(x) = x {
                        ops.push(('-', x, k));
                    }
                    if let Some(y) = y {
                        ops.push(('+', y, k));
                    }
                }
            }
        }
    }
    let near = |k: usize| ops[k.saturating_sub(2)..(k + 3).min(ops.len())].iter().any(|o| o.0 != ' ');
    let mut out = Vec::new();
    let mut last_shown = None;
    for (k, (op, line, at)) in ops.iter().enumerate() {
        if !near(k) {
            continue;
        }
        if last_shown.is_none_or(|p| p + 1 != k) {
            out.push(format!("@@ {}", at + 1));
        }
        out.push(format!("{op}{line}"));
        last_shown = Some(k);
    }
    if out.len() > 200 {
        let more = out.len() - 200;
        out.truncate(200);
        out.push(format!("... {more} more diff lines"));
    }
    out.iter().map(|l| l.clone() + "\n").collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_diff_shows_changes_with_context() {
        let a = b"1\n2\n3\n4\n5\n6\n7\n8\n9\n";
        let b = b"1\n2\n3\n4\nfive\n6\n7\n8\n9\nten\n";
        assert_eq!(line_diff(a, b), "@@ 3\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n 9\n+ten\n");
        let c = b"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
        let d = b"one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n";
        assert_eq!(line_diff(c, d), "@@ 1\n-1\n+one\n 2\n 3\n@@ 10\n 10\n 11\n-12\n");
        assert_eq!(line_diff(a, a), "");
        let o = |s: &[u8]| Outcome { stdout: s.to_vec(), stderr: Vec::new(), status: 0 };
        assert_eq!(differences("n", &o(a), "v", &o(a)), None);
        assert!(differences("n", &o(a), "v", &o(b)).unwrap().starts_with("--- stdout (-n +v)\n@@ 3\n"));
    }
}
