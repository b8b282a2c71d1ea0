//! Processes (the process work: fork, vfork, clone, execve, exit, wait4,
//! process groups and sessions, kill with default actions, pipes). Until
//! that work lands these tests fail: vxos refuses the calls.
//!
//! - procs (userland-bins/procs.c), every subtest and `all`, natively and
//!   under vxos, each in a fresh empty directory (the subtests that write
//!   files, #! scripts among them, write them there; under vxos they go to
//!   the ramfs before the read-only host directory and must not reach it).
//!   Outputs and statuses must match; all differing subtests are reported
//!   at once, with diffs. Each run has a time limit: a guest that hangs
//!   (a lost wake-up) is killed and reported, not waited for.
//! - busybox shell scripts on the guest's ramfs: `busybox sh -c SCRIPT`
//!   natively in a fresh directory and under vxos with `cd /tmp` (a ramfs)
//!   first. The scripts build a tree (mkdir, echo, ln -s, ln, truncate),
//!   list it (`ls -lan` with the date columns cut, `find | sort`, `stat`,
//!   `du`), copy it (`cp -r`, `cp -a`), pipe it (`tar c | tar x`), compare
//!   copies (`diff -r`), remove it (`rm -r`), and run shell process
//!   constructs (pipelines, subshells, `$(...)`, `&` and `wait`, `exec`,
//!   deaths by signal). Natively busybox runs with a PATH holding only a
//!   `busybox` link, under vxos with the rootfs's /bin; its shell runs its
//!   applets itself (through /proc/self/exe), so both runs use the same
//!   binary for every command.
//!
//!   The guest's /tmp is a ramfs modelled on tmpfs (directory sizes, no
//!   blocks for directories), so the native run uses a tmpfs directory
//!   (under /dev/shm) when there is one: then sizes, `total` lines and
//!   `du` compare exactly. Elsewhere it uses the scratch directory and
//!   leaves directory sizes, `total` lines and `du` figures out.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vxos_tests::*;

/// How long one run may take (vxos; natively it is well under a second).
const LIMIT: Duration = Duration::from_secs(60);

/// Run `c` (stdin already set) in a process group of its own with piped
/// output; past `limit`, kill the whole group and say so in stderr.
fn run_limited(mut c: Command, limit: Duration) -> Outcome {
    c.stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let mut child = c.spawn().unwrap_or_else(|e| panic!("spawn {c:?}: {e}"));
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()));
    let err = reader(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > limit {
            timed_out = true;
            // The group: vxos and anything it started.
            let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    if !timed_out {
        // Whatever is left of the group (a guest's orphan holding the
        // pipes) must not keep the readers waiting.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).stderr(Stdio::null()).status();
    }
    let stdout = out.join().unwrap();
    let mut stderr = err.join().unwrap();
    if timed_out {
        stderr.extend_from_slice(format!("\n[killed after {} s]\n", limit.as_secs()).as_bytes());
    }
    let status = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Outcome { stdout, stderr, status }
}

/// The names in a directory, sorted.
fn entries(d: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------
// procs

/// procs natively and under vxos, each subtest and `all`: same output and
/// status; nothing written to the host directory under vxos.
#[test]
fn procs_subtests_match_native() {
    let b = bins();
    let prog = b.join("procs");
    let list = native(&prog, &["LIST"], &b, None);
    assert_eq!(list.status, 0, "procs LIST");
    let mut names: Vec<String> = String::from_utf8(list.stdout).unwrap().lines().map(str::to_owned).collect();
    assert!(names.len() >= 15, "procs LIST: {names:?}");
    names.push("all".to_owned());
    let mut bad = Vec::new();
    for n in &names {
        let nd = fresh(&format!("procs/native-{n}"));
        let vd = fresh(&format!("procs/vxos-{n}"));
        let nat = run_limited(native_command(&prog, &[n], &nd), LIMIT);
        assert!(
            nat.status == 0 && entries(&nd).is_empty(),
            "procs {n} natively (a test bug): {nat}, left {:?}",
            entries(&nd)
        );
        let mtime = |d: &Path| d.metadata().map(|m| (m.mtime(), m.mtime_nsec())).ok();
        let before = mtime(&vd);
        let v = run_limited(guest_command(&[], &prog, &[n], &vd), LIMIT);
        let mut why = differences("native", &nat, "vxos", &v).unwrap_or_default();
        let left = entries(&vd);
        if !left.is_empty() || mtime(&vd) != before {
            why += &format!("the host directory was changed (files: {left:?}); the ramfs before it should take them\n");
        }
        if !why.is_empty() {
            bad.push(format!("===== procs {n}\n{why}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} procs subtests differ from native (rerun one by hand: cd to an empty dir, {} run {} NAME):\n{}",
        bad.len(),
        names.len(),
        vxos().display(),
        prog.display(),
        bad.join("\n")
    );
}

// ---------------------------------------------------------------------
// busybox sh on the guest's ramfs

/// A directory holding only a `busybox` link to the rootfs's busybox: the
/// native PATH, so that the shell finds nothing of the host's.
fn busybox_path_dir() -> PathBuf {
    // Tests run in parallel: make the link once, atomically (a link under
    // a private name, renamed into place).
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = scratch("procs/bbpath");
        let l = d.join("busybox");
        if l.read_link().ok().as_deref() != Some(busybox().as_path()) {
            let tmp = d.join(format!("busybox.{}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(busybox(), &tmp).unwrap();
            std::fs::rename(&tmp, &l).unwrap();
        }
        d
    })
    .clone()
}

/// Whether /dev/shm is a tmpfs we can write in.
fn shm_is_tmpfs() -> bool {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts.lines().any(|l| {
        let w: Vec<&str> = l.split(' ').collect();
        w.len() > 3 && w[1] == "/dev/shm" && w[2] == "tmpfs" && w[3].split(',').any(|o| o == "rw")
    })
}

/// A fresh empty directory for a native run: on tmpfs when possible (the
/// guest's /tmp is a ramfs that behaves as tmpfs), else in the scratch
/// area. The bool says whether it is on tmpfs.
fn native_dir(name: &str) -> (PathBuf, bool) {
    if shm_is_tmpfs() {
        // One level, removed after the run: nothing is left in /dev/shm.
        let d = PathBuf::from(format!("/dev/shm/vxos-tests-procs-{name}"));
        if d.symlink_metadata().is_ok() {
            std::fs::remove_dir_all(&d).unwrap();
        }
        if std::fs::create_dir(&d).is_ok() {
            return (d, true);
        }
    }
    (fresh(&format!("procs/sh-native-{name}")), false)
}

/// What the scripts start with: a listing function with the date columns
/// of `ls -l` cut (files are made now; dates and times would differ), and
/// a function making the test tree under `w/src`.
const PRELUDE: &str = r#"
umask 022
lsl() { ls -lan "$@" | awk '/^total/ || NF < 8 { print; next } { $6 = ""; $7 = ""; $8 = ""; print }'; }
mktree() {
    mkdir w && cd w || exit 1
    mkdir -p src/a/b/c src/empty out
    echo hello > src/hello.txt
    echo deep > src/a/b/c/deep.txt
    i=0
    while [ $i -lt 300 ]; do echo "line $i of a longer file"; i=$((i + 1)); done > src/a/long.txt
    printf 'no newline' > src/a/b/nonl
    ln -s hello.txt src/link
    ln -s a/b src/dirlink
    ln -s missing src/dangling
    ln src/hello.txt src/hard
    truncate -s 1000000 src/sparse
    echo middle > src/sparse2 && truncate -s 300000 src/sparse2
    truncate -s 5 src/a/b/five
    chmod 600 src/a/long.txt
    chmod 700 src/a/b
    chmod 755 src/a/b/nonl
}
"#;

/// Make directory sizes, `total` lines and `du` figures (lines starting
/// with "du: ") independent of the file system, for a native run that is
/// not on tmpfs.
fn fs_neutral(b: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(b);
    let mut out = String::new();
    for l in s.lines() {
        let w: Vec<&str> = l.split(' ').collect();
        let line = if l.starts_with("total ") {
            "total -".to_owned()
        } else if let Some(rest) = l.strip_prefix("du: ") {
            format!("du: - {}", rest.split_once('\t').map_or("", |x| x.1))
        } else if l.starts_with('d') && w.len() > 5 && w[0].len() == 10 {
            let mut w = w.clone();
            w[4] = "-";
            w.join(" ")
        } else {
            l.to_owned()
        };
        out += &line;
        out.push('\n');
    }
    out.into_bytes()
}

/// Run `script` (after the prelude) with busybox sh natively in a fresh
/// directory and under vxos in the guest's /tmp; report differences. The
/// native run must end with `status`.
fn sh_both(name: &str, script: &str, status: i32) {
    let bb = busybox();
    let body = format!("{PRELUDE}\n{script}");
    let (nd, tmpfs) = native_dir(name);
    let mut c = native_command(&bb, &["sh", "-c", &body], &nd);
    c.env("PATH", busybox_path_dir());
    let n = run_limited(c, LIMIT);
    let left = entries(&nd);
    assert!(left.is_empty(), "natively the script {name} left {left:?} (a test bug): {n}");
    if tmpfs {
        let _ = std::fs::remove_dir_all(&nd);
    }
    // The guest's /tmp is a fresh ramfs in each vxos run.
    let vd = fresh(&format!("procs/sh-vxos-{name}"));
    let vbody = format!("cd /tmp || exit 99\n{body}");
    let v = run_limited(guest_command(&[], &bb, &["sh", "-c", &vbody], &vd), LIMIT);
    let norm = |o: &Outcome| {
        let f = |b: &[u8]| if tmpfs { b.to_vec() } else { fs_neutral(b) };
        Outcome { stdout: f(&o.stdout), stderr: f(&o.stderr), status: o.status }
    };
    let (n, v) = (norm(&n), norm(&v));
    if let Some(d) = differences("native", &n, "vxos", &v) {
        panic!(
            "busybox sh script {name} differs from native{}:\n{d}\n--- native stdout\n{}",
            if tmpfs { "" } else { " (native not on tmpfs: sizes of directories and du figures left out)" },
            String::from_utf8_lossy(&n.stdout)
        );
    }
    assert_eq!(n.status, status, "the script {name} natively (a test bug): {n}");
}

/// Building a tree on the ramfs and looking at it: ls, find, stat, du,
/// cat through links, wc, md5sum.
#[test]
fn busybox_sh_builds_and_lists_a_tree_in_tmp() {
    sh_both(
        "tree",
        r#"
mktree
echo "== ls -lan src"; lsl src
echo "== ls -laRn src"; lsl -R src
echo "== ls -1"; ls -1
echo "== ls -d"; ls -ld src/empty src/dirlink | awk '{ print $1, $2, $9, $10, $11 }'
echo "== cat"; cat src/link src/dirlink/c/deep.txt src/hard src/a/b/nonl; echo
cat src/dangling; echo "cat dangling: $?"
echo "== readlink"; for l in src/link src/dirlink src/dangling src/hello.txt; do readlink $l; echo "readlink: $?"; done
echo "== wc"; wc -l src/a/long.txt; wc -c src/sparse src/sparse2 src/a/b/five
echo "== md5sum"; md5sum src/a/long.txt src/sparse src/sparse2 src/a/b/five
echo "== find"; find src | sort
echo "== find -type f"; find src -type f | sort
echo "== find -type l"; find src -type l | sort
echo "== find -L -name"; find -L src -name '*.txt' | sort
echo "== stat"; find src ! -type d | sort | xargs stat -c '%n %s %b %h %a %F'
echo "== find -exec"; find src -name '*.txt' -exec wc -c {} \; | sort
echo "== du"; du -s src | sed 's/^/du: /'
du -a src | sort -k2 | sed 's/^/du: /'
du -s src/sparse src/sparse2 src/a/long.txt | sed 's/^/du: /'
echo "== errors"
mkdir src; echo "mkdir existing: $?"
rmdir src; echo "rmdir non-empty: $?"
ls src/nothing; echo "ls missing: $?"
ln -s x src/link; echo "ln -s existing: $?"
cd .. && rm -r w && ls -a w; echo "after rm -r: $?"
"#,
        0,
    );
}

/// Copies: cp -r, cp -a, cp of files into a directory; diff -r.
#[test]
fn busybox_sh_copies_a_tree_in_tmp() {
    sh_both(
        "cp",
        r#"
mktree
cp -r src copy; echo "cp -r: $?"
diff -r src copy; echo "diff -r src copy: $?"
echo "== ls -laRn copy"; lsl -R copy
cp -a src copy-a; echo "cp -a: $?"
diff -r src copy-a; echo "diff -r src copy-a: $?"
find copy-a | sort
cp src/hello.txt src/a/long.txt src/sparse out/; echo "cp files: $?"
echo "== ls -lan out"; lsl out
du -s out copy copy-a | sed 's/^/du: /'
echo changed >> copy/hello.txt
diff -r src copy; echo "diff -r after a change: $?"
mv copy/a copy/moved && ls copy
cp src/empty src/x; echo "cp a directory without -r: $?"
cd .. && rm -r w && echo removed
"#,
        0,
    );
}

/// tar c | tar x through a shell pipeline, tar files, gzip. (Not `tar z`:
/// busybox tar runs gzip through PATH, not as its own applet.)
#[test]
fn busybox_sh_tar_pipeline_in_tmp() {
    sh_both(
        "tar",
        r#"
mktree
tar c src | tar x -C out; echo "tar c | tar x: $?"
diff -r src out/src; echo "diff -r: $?"
echo "== ls -laRn out"; lsl -R out
tar cf t.tar src; echo "tar cf: $?"
tar tf t.tar | sort
mkdir x && tar xf t.tar -C x && diff -r src x/src && echo "tar xf: same"
tar c src | gzip > t.tgz && gzip -dc t.tgz | tar t | sort | head -5
gzip -dc t.tgz | tar x -C out && echo "tar over gzip again: $?"
cat t.tar | gzip | gzip -d | cmp - t.tar && echo "gzip round trip: same"
cd .. && rm -r w && echo removed
"#,
        0,
    );
}

/// du and rm -r, with their errors.
#[test]
fn busybox_sh_du_and_rm_in_tmp() {
    sh_both(
        "rm",
        r#"
mktree
cp -r src out/
du -s src out | sed 's/^/du: /'
du -s -k src/sparse src/a/long.txt src/hello.txt | sed 's/^/du: /'
rm src/a; echo "rm a directory: $?"
rm src/link src/dangling src/hard; echo "rm links: $?"
ls src
rm -r src/a; echo "rm -r: $?"
rmdir src/empty; echo "rmdir: $?"
echo "== ls -lan src"; lsl src
rm -r out/src/a/b
find out | sort
rm -r src out; echo "rm -r src out: $?"
rm -r src; echo "rm -r again: $?"
rm -rf src; echo "rm -rf missing: $?"
ls -a
cd .. && rmdir w && echo removed
"#,
        0,
    );
}

/// A process's name (/proc/N/comm) is the last part of the path it was
/// exec'd by, cut to 15 bytes: for a #! script the script's name (pidof
/// finds scripts by it). The CPU mask taskset sets is the one it reads back,
/// in the process and its children.
#[test]
fn busybox_sh_process_names_and_affinity() {
    sh_both(
        "names",
        r#"
for d in $(echo "$PATH" | tr : ' '); do [ -x "$d/busybox" ] && bb=$d/busybox && break; done
printf '#!%s sh\ncat /proc/$$/comm\n' "$bb" > a-script
cp a-script a-script-with-a-long-name
chmod +x a-script a-script-with-a-long-name
./a-script
./a-script-with-a-long-name
rm a-script a-script-with-a-long-name
taskset 1 sh -c 'taskset -p $$; sh -c "taskset -p \$\$"' | sed 's/.*: //'
"#,
        0,
    );
}

/// The shell's own use of processes: pipelines, subshells, command
/// substitution, background jobs and wait, exec, deaths by signal, a #!
/// script written to the ramfs (its interpreter the busybox found in PATH).
#[test]
fn busybox_sh_processes() {
    sh_both(
        "processes",
        r#"
echo start
true; echo "true: $?"
false; echo "false: $?"
(exit 7); echo "subshell exit: $?"
sh -c 'exit 9'; echo "sh -c exit 9: $?"
x=$(echo captured); echo "command substitution: $x"
echo "nested: $(echo $(echo inner) outer)"
echo one two three | wc -w
seq 1 1000 | sort -rn | head -3
seq 1 2000 | grep 7 | wc -l
seq 1 5 | while read n; do echo "n=$n"; done
yes | head -2
echo abc | tr a-z A-Z
false | true; echo "pipeline status: $?"
true | false; echo "pipeline status: $?"
sleep 0 & wait $!; echo "background: $?"
(exit 3) & wait $!; echo "background exit: $?"
(sleep 0; echo from the background) & wait
sh -c 'kill -9 $$'; echo "sh killed by SIGKILL: $?"
sh -c 'kill -TERM $$'; echo "sh killed by SIGTERM: $?"
sh -c 'kill -USR1 $$'; echo "sh killed by SIGUSR1: $?"
sh -c 'trap "" TERM; kill -TERM $$; echo survived'; echo "trap '' TERM: $?"
cat <<EOF
a here document
with $(echo substitution)
EOF
i=0; while [ $i -lt 20 ]; do (true); i=$((i + 1)); done; echo "20 subshells"
echo $(( $(echo 6) * 7 ))
# (command -v names applets, busybox too, without a path: search PATH)
for d in $(echo "$PATH" | tr : ' '); do [ -x "$d/busybox" ] && bb=$d/busybox && break; done
printf '#!%s sh\necho "script args: $# $*"\nexit 5\n' "$bb" > script.sh
chmod +x script.sh
./script.sh one "two three"; echo "script run by its #! line: $?"
sh ./script.sh four; echo "sh script: $?"
chmod -x script.sh
./script.sh; echo "script without x bits: $?"
rm script.sh
if ls /nonexistent-dir 2>/dev/null; then echo found; else echo "ls missing: $?"; fi
exec sh -c 'echo exec replaced the shell; exit 4'
echo not reached
"#,
        4,
    );
}

/// Programs run again and again, as a shell loop runs them, and a program
/// file rewritten in place between runs (the same file with new contents,
/// or the contents of another program): each run shows the program it was
/// started from, though vxos keeps an ended program's memory and
/// translations for its next run.
#[test]
fn a_program_rewritten_between_runs() {
    let bb = busybox();
    let script = r#"
cp "$D/hello" p && ./p && ./p; echo "hello: $?"
i=0; while [ $i -lt 30 ]; do ./p > /dev/null || echo "run $i: $?"; i=$((i + 1)); done
cat "$D/args" > p; env -i ./p one two | grep -v -e random -e '^envp'; echo "args in place of hello: $?"
env -i ./p three | grep -c argv
cp p q; cat "$D/hello" > p; ./p; ./q > /dev/null; echo "q: $?"
cat "$D/fault_null" > p; ./p; echo "fault_null: $?"
cat "$D/hello" > p; ./p; echo "hello again: $?"
rm -f p q
"#;
    let (nd, tmpfs) = native_dir("rewritten");
    let mut c = native_command(&bb, &["sh", "-c", script], &nd);
    c.env("PATH", busybox_path_dir()).env("D", bins());
    let n = run_limited(c, LIMIT);
    if tmpfs {
        let _ = std::fs::remove_dir_all(&nd);
    }
    // The guest sees its host directory at the same path: copy the
    // programs there.
    let vd = fresh("procs/rewritten-vxos");
    for prog in ["hello", "args", "fault_null"] {
        std::fs::copy(bins().join(prog), vd.join(prog)).unwrap();
    }
    let vbody = format!("D={}; cd /tmp || exit 99\n{script}", vd.display());
    let v = run_limited(guest_command(&[], &bb, &["sh", "-c", &vbody], &vd), LIMIT);
    if let Some(d) = differences("native", &n, "vxos", &v) {
        panic!(
            "the rewritten-program script differs from native:\n{d}\n--- native stdout\n{}",
            String::from_utf8_lossy(&n.stdout)
        );
    }
    assert!(String::from_utf8_lossy(&n.stdout).contains("argv[2] \"two\""), "natively (a test bug): {n}");
}
