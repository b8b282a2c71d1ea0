//! Files and namespaces (T3). These tests need the T3 kernel work (the
//! file system calls on namespaces, `vxos run --bind HOST:GUEST[:rw]`,
//! landed in 96bd37e): without it they fail, vxos rejecting `--bind` or the
//! guest being unable to write files.
//!
//! - fscalls (userland-bins/fscalls.c), every subtest and `all`, natively
//!   and under vxos in a fresh empty directory: with the default namespace
//!   (the cwd is the host directory read-only with a ramfs before it:
//!   nothing may reach the host, not even the directory's times) and with
//!   the directory bound read-write (hostfs). Outputs and statuses must
//!   match; all differing subtests are reported at once, with diffs.
//! - busybox's file tools (ls, find, du, cat, md5sum, cp, tar, rm, mv, ln,
//!   mkdir) on a bound host tree: each command runs natively in one copy of
//!   the tree and under vxos in an identical copy, outputs and resulting
//!   trees compared; also with the tree bound at another guest path.
//! - Escapes: symbolic links, `..` and absolute host paths from a bound
//!   directory must not read or write anything outside it; each trick is
//!   first checked to reach outside natively.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use vxos_tests::*;

/// `--bind D:D:rw`: the host directory `d` at the same path, writable.
fn bind_rw(d: &Path) -> Vec<String> {
    // Canonical, as the guest's working directory (the host's) will be.
    let d = d.canonicalize().unwrap();
    let s = d.to_str().unwrap();
    assert!(!s.contains(':'), "a path with ':' cannot be given to --bind: {s}");
    vec!["--bind".to_owned(), format!("{s}:{s}:rw")]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The names in a directory, sorted.
fn entries(d: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------
// fscalls

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    /// Default options: the cwd is read-only host with a ramfs before it.
    Ramfs,
    /// `--bind D:D:rw`: the cwd is the host directory through hostfs.
    Hostfs,
}

fn fscalls_differential(ns: Ns) {
    let b = bins();
    let prog = b.join("fscalls");
    let list = native(&prog, &["LIST"], &b, None);
    assert_eq!(list.status, 0, "fscalls LIST");
    let mut names: Vec<String> = String::from_utf8(list.stdout).unwrap().lines().map(str::to_owned).collect();
    assert!(names.len() >= 20, "fscalls LIST: {names:?}");
    // And all of them in a row, each in a subdirectory made and removed.
    names.push("all".to_owned());
    let kind = if ns == Ns::Ramfs { "ramfs" } else { "hostfs" };
    let mut bad = Vec::new();
    for n in &names {
        let nd = fresh(&format!("files/fscalls-{kind}/native-{n}"));
        let vd = fresh(&format!("files/fscalls-{kind}/vxos-{n}"));
        let nat = native(&prog, &[n], &nd, None);
        let host_dir = |d: &Path| {
            let m = d.metadata().unwrap();
            format!(
                "mode {:o} nlink {} mtime {}.{} ctime {}.{}",
                m.mode(),
                m.nlink(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec()
            )
        };
        let vd_before = host_dir(&vd);
        assert!(nat.status == 0 && entries(&nd).is_empty(), "fscalls {n} natively: status {}", nat.status);
        let opts = if ns == Ns::Hostfs { bind_rw(&vd) } else { Vec::new() };
        let v = guest_opts(&strs(&opts), &prog, &[n], &vd, None);
        let mut why = differences("native", &nat, "vxos", &v).unwrap_or_default();
        let left = entries(&vd);
        if ns == Ns::Ramfs && host_dir(&vd) != vd_before {
            why += &format!("the host directory was changed: {vd_before} before, {} after\n", host_dir(&vd));
        }
        if !left.is_empty() {
            why += &match ns {
                Ns::Ramfs => format!("files reached the host directory (the ramfs should take them): {left:?}\n"),
                Ns::Hostfs => format!("files left in the host directory: {left:?}\n"),
            };
        }
        if !why.is_empty() {
            bad.push(format!("===== fscalls {n} ({kind})\n{why}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} fscalls subtests differ from native ({kind}; rerun one by hand: cd to an empty dir, vxos run{} build/bin/fscalls NAME):\n{}",
        bad.len(),
        names.len(),
        if ns == Ns::Hostfs { " --bind $PWD:$PWD:rw" } else { "" },
        bad.join("\n")
    );
}

/// T3: fscalls in the default namespace; new files go to the ramfs layered
/// before the read-only cwd and never reach the host.
#[test]
fn fscalls_ramfs_over_cwd_matches_native() {
    fscalls_differential(Ns::Ramfs);
}

/// T3: fscalls in a host directory bound read-write (hostfs).
#[test]
fn fscalls_hostfs_bound_rw_matches_native() {
    fscalls_differential(Ns::Hostfs);
}

// ---------------------------------------------------------------------
// Trees: making them, describing them

/// Fixed modification times, at noon UTC so that dates print the same in
/// any time zone within 11 hours of UTC (`ls -l` shows the year and no time
/// for dates more than six months old).
const NOON: i64 = 1_234_612_800; // 2009-02-14 12:00:00 UTC
const DAY: i64 = 86_400;

/// Make the test tree in `d`: `d/src` with files of several sizes and
/// modes, nested directories, an empty directory, symbolic links (to a
/// file, to a directory, dangling), a hard link, sparse files, a name with
/// spaces; `d/out` empty; fixed mtimes everywhere, `d` included.
fn make_tree(d: &Path) {
    let src = d.join("src");
    for dir in ["src", "src/a", "src/a/b", "src/a/b/c", "src/emptydir", "out"] {
        std::fs::create_dir(d.join(dir)).unwrap();
    }
    let mixed = std::fs::read(data_file("mixed-1m", 1 << 20)).unwrap();
    let files: [(&str, &[u8], u32); 8] = [
        ("small.txt", b"hello, world\n", 0o644),
        ("empty", b"", 0o600),
        ("text-100k", &mixed[..100_000], 0o640),
        ("bin-1m", &mixed, 0o755),
        ("name with spaces", b"spaces\n", 0o444),
        ("a/a1.txt", b"a1\n", 0o644),
        ("a/b/b1", &mixed[..5000], 0o600),
        ("a/b/c/deep.txt", b"deep\n", 0o664),
    ];
    for (name, data, mode) in files {
        let p = src.join(name);
        std::fs::write(&p, data).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    // Sparse: all hole, and a hole, 6 bytes at 3 MiB, a hole to 8 MiB.
    std::fs::File::create(src.join("sparse")).unwrap().set_len(10 << 20).unwrap();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(src.join("sparse-middle")).unwrap();
        f.write_all_at(b"middle", 3 << 20).unwrap();
        f.set_len(8 << 20).unwrap();
    }
    std::fs::hard_link(src.join("small.txt"), src.join("hard")).unwrap();
    std::os::unix::fs::symlink("small.txt", src.join("link")).unwrap();
    std::os::unix::fs::symlink("a/b", src.join("dirlink")).unwrap();
    std::os::unix::fs::symlink("no-such-file", src.join("dangling")).unwrap();
    std::fs::set_permissions(src.join("a/b"), std::fs::Permissions::from_mode(0o700)).unwrap();
    // Times: deepest first, so that no later change touches a parent.
    let mut all = Vec::new();
    walk(d, Path::new(""), &mut all);
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    all.push(PathBuf::from("."));
    for (i, p) in all.iter().enumerate() {
        let t = format!("@{}", NOON - (i as i64 % 7) * 40 * DAY);
        let st = Command::new("touch").args(["-h", "-d", &t]).arg(d.join(p)).status().unwrap();
        assert!(st.success(), "touch -h -d {t} {}", p.display());
    }
}

/// Every path under `root` (relative, not following links), parents first.
fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let mut names = entries(&root.join(rel));
    names.sort();
    for n in names {
        let r = rel.join(&n);
        out.push(r.clone());
        if root.join(&r).symlink_metadata().unwrap().is_dir() {
            walk(root, &r, out);
        }
    }
}

/// What a snapshot records besides type, mode, owner, size, link target,
/// contents and hard links: the mtimes of files, directories and symbolic
/// links, and allocated blocks.
#[derive(Clone, Copy)]
struct Snap {
    file_times: bool,
    dir_times: bool,
    link_times: bool,
    blocks: bool,
}

/// Everything.
const ALL: Snap = Snap { file_times: true, dir_times: true, link_times: true, blocks: true };
/// No times: for new copies, whose times are the time they were made.
const NO_TIMES: Snap = Snap { file_times: false, dir_times: false, link_times: false, blocks: true };
/// Times of files only: busybox tar sets no times on the directories and
/// symbolic links it extracts.
const FILE_TIMES: Snap = Snap { file_times: true, dir_times: false, link_times: false, blocks: true };
/// Times of files and directories, not of links (`cp -a` sets none on
/// links).
const NOT_LINK_TIMES: Snap = Snap { file_times: true, dir_times: true, link_times: false, blocks: true };

/// Describe every file under `root` (not `root` itself), by relative path:
/// type, permissions, owner, link count, size, contents (a hash), symbolic
/// link target, which other names are the same file; mtimes and allocated
/// blocks if asked. Two trees with equal snapshots have the same shape and
/// contents.
fn snapshot(root: &Path, s: Snap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if !root.is_dir() {
        out.insert(".".to_owned(), "missing".to_owned());
        return out;
    }
    let mut paths = Vec::new();
    walk(root, Path::new(""), &mut paths);
    let mut by_inode: HashMap<(u64, u64), String> = HashMap::new();
    for rel in paths {
        let p = root.join(&rel);
        let m = p.symlink_metadata().unwrap();
        let name = rel.to_string_lossy().into_owned();
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else {
            "other"
        };
        let mut d = format!("{kind} {:o} uid {} gid {} nlink {}", m.mode() & 0o7777, m.uid(), m.gid(), m.nlink());
        if !ft.is_dir() {
            d += &format!(" size {}", m.len());
        }
        if s.blocks && !ft.is_symlink() {
            d += &format!(" blocks {}", m.blocks());
        }
        let times = if ft.is_dir() {
            s.dir_times
        } else if ft.is_symlink() {
            s.link_times
        } else {
            s.file_times
        };
        if times {
            d += &format!(" mtime {}.{:09}", m.mtime(), m.mtime_nsec());
        }
        if ft.is_symlink() {
            d += &format!(" -> {}", std::fs::read_link(&p).unwrap().display());
        }
        if ft.is_file() {
            d += &format!(" fnv {:016x}", fnv(&std::fs::read(&p).unwrap()));
            if m.nlink() > 1 {
                // Paths are visited in order: name the first of the group.
                let first = by_inode.entry((m.dev(), m.ino())).or_insert_with(|| name.clone());
                d += &format!(" same file as {first}");
            }
        }
        out.insert(name, d);
    }
    out
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| (h ^ x as u64).wrapping_mul(0x100_0000_01b3))
}

/// How two snapshots differ, one line per path; empty when equal.
fn snap_diff(a_name: &str, a: &BTreeMap<String, String>, b_name: &str, b: &BTreeMap<String, String>) -> String {
    let mut r = String::new();
    for (k, v) in a {
        match b.get(k) {
            None => r += &format!("  {k}: only {a_name}: {v}\n"),
            Some(w) if w != v => r += &format!("  {k}:\n    {a_name}: {v}\n    {b_name}: {w}\n"),
            _ => {}
        }
    }
    for (k, v) in b {
        if !a.contains_key(k) {
            r += &format!("  {k}: only {b_name}: {v}\n");
        }
    }
    r
}

/// Two identical copies of the test tree, `files/NAME/native` and
/// `files/NAME/vxos`, checked identical.
fn tree_pair(name: &str) -> (PathBuf, PathBuf) {
    let base = fresh(&format!("files/{name}"));
    let (a, b) = (base.join("native"), base.join("vxos"));
    for d in [&a, &b] {
        std::fs::create_dir(d).unwrap();
        make_tree(d);
    }
    let diff = snap_diff("native", &snapshot(&a, ALL), "vxos", &snapshot(&b, ALL));
    assert!(diff.is_empty(), "the two copies of the test tree differ (a test bug):\n{diff}");
    (a, b)
}

/// Differences found by one test, reported together at its end.
#[derive(Default)]
struct Report(Vec<String>);

impl Report {
    fn add(&mut self, what: &str, why: String) {
        if !why.is_empty() {
            self.0.push(format!("===== {what}\n{why}"));
        }
    }

    /// Compare outcomes, after `norm` on both stdouts.
    fn outcomes(&mut self, what: &str, n: &Outcome, v: &Outcome, norm: impl Fn(&[u8]) -> Vec<u8>) {
        let n = Outcome { stdout: norm(&n.stdout), stderr: n.stderr.clone(), status: n.status };
        let v = Outcome { stdout: norm(&v.stdout), stderr: v.stderr.clone(), status: v.status };
        self.add(what, differences("native", &n, "vxos", &v).unwrap_or_default());
    }

    fn trees(&mut self, what: &str, a: &Path, b: &Path, s: Snap) {
        self.add(what, snap_diff("native", &snapshot(a, s), "vxos", &snapshot(b, s)));
    }

    fn check(self) {
        assert!(self.0.is_empty(), "{} differences from native:\n{}", self.0.len(), self.0.join("\n"));
    }
}

/// Run `busybox ARGS` natively in `a` and under vxos with `b` bound
/// read-write in `b`.
fn bb_both(a: &Path, b: &Path, args: &[&str]) -> (Outcome, Outcome) {
    let bb = busybox();
    (native(&bb, args, a, None), guest_opts(&strs(&bind_rw(b)), &bb, args, b, None))
}

fn as_is(b: &[u8]) -> Vec<u8> {
    b.to_vec()
}

/// The lines sorted: for listings in directory order, which is the file
/// system's own (ext4 hashes names, a ramfs or a union may list in another
/// order) and not something a program may rely on.
fn sorted(b: &[u8]) -> Vec<u8> {
    let mut l: Vec<&[u8]> = b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).collect();
    l.sort();
    l.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect()
}

/// `du -a` output sorted, with every name of the hard-linked file shown as
/// `src/small.txt`: du counts a file once, under the first name it meets,
/// which depends on directory order.
fn du_sorted(b: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(b).replace("\tsrc/hard\n", "\tsrc/small.txt\n");
    sorted(s.as_bytes())
}

/// Times of day (HH:MM:SS) left out: busybox prints them in local time,
/// the host's zone natively and UTC under vxos (build/rootfs has no
/// etc/localtime). Dates stay: the tree's times are at noon UTC.
fn no_clock_times(b: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(b);
    let clock = |w: &str| w.len() == 8 && w.as_bytes()[2] == b':' && w.as_bytes()[5] == b':';
    let lines: Vec<String> =
        s.lines().map(|l| l.split(' ').filter(|w| !clock(w)).collect::<Vec<_>>().join(" ") + "\n").collect();
    lines.concat().into_bytes()
}

// ---------------------------------------------------------------------
// busybox file tools on a bound host directory

/// T3: listings of a bound host tree.
#[test]
fn busybox_listings_of_a_bound_tree() {
    let (a, b) = tree_pair("listings");
    let mut r = Report::default();
    // Numeric owners: busybox maps ids to names through /etc/passwd and
    // /etc/group, the host's natively but build/rootfs/etc's under vxos,
    // which name only root and a few system users. The files belong to
    // whoever runs the tests: names are compared too only for root.
    for args in [&["ls", "-laRn", "src"][..], &["ls", "-lan", "src/a/b", "src/link", "src/dirlink"], &["ls", "-1"]] {
        let (n, v) = bb_both(&a, &b, args);
        r.outcomes(&args.join(" "), &n, &v, as_is);
    }
    if std::fs::metadata(&a).unwrap().uid() == 0 {
        let (n, v) = bb_both(&a, &b, &["ls", "-laR", "src"]);
        r.outcomes("ls -laR src", &n, &v, as_is);
    }
    for args in [
        &["find"][..],
        &["find", "-type", "f"],
        &["find", "src", "-type", "l"],
        &["find", "-L", "src", "-name", "*.txt"],
    ] {
        let (n, v) = bb_both(&a, &b, args);
        r.outcomes(&args.join(" "), &n, &v, sorted);
    }
    let (n, v) = bb_both(&a, &b, &["du", "-a", "src"]);
    r.outcomes("du -a src", &n, &v, du_sorted);
    for args in [&["du", "-s", "src"][..], &["du", "-s", "-k", "src/sparse", "src/sparse-middle", "src/bin-1m"]] {
        let (n, v) = bb_both(&a, &b, args);
        r.outcomes(&args.join(" "), &n, &v, as_is);
    }
    for args in [&["cat", "src/link", "src/dirlink/c/deep.txt", "src/hard"][..], &["cat", "src/dangling"]] {
        let (n, v) = bb_both(&a, &b, args);
        r.outcomes(&args.join(" "), &n, &v, as_is);
    }
    let (n, v) = bb_both(&a, &b, &["md5sum", "src/bin-1m", "src/sparse", "src/sparse-middle", "src/text-100k"]);
    r.outcomes("md5sum", &n, &v, as_is);
    r.check();
}

/// T3: `cp -r` and `cp -a` into a bound host directory: the trees they
/// make must be the same as natively.
#[test]
fn busybox_cp_into_a_bound_tree() {
    let (a, b) = tree_pair("cp");
    let mut r = Report::default();
    let (n, v) = bb_both(&a, &b, &["cp", "-r", "src", "dst"]);
    r.outcomes("cp -r src dst", &n, &v, as_is);
    // Fresh copies have fresh times; compare everything else.
    r.trees("tree made by cp -r src dst", &a.join("dst"), &b.join("dst"), NO_TIMES);
    let (n, v) = bb_both(&a, &b, &["cp", "-a", "src", "dst-a"]);
    r.outcomes("cp -a src dst-a", &n, &v, as_is);
    r.trees("tree made by cp -a src dst-a", &a.join("dst-a"), &b.join("dst-a"), NOT_LINK_TIMES);
    let (n, v) = bb_both(&a, &b, &["cp", "src/bin-1m", "src/sparse-middle", "out"]);
    r.outcomes("cp two files into out", &n, &v, as_is);
    r.trees("out after cp", &a.join("out"), &b.join("out"), NO_TIMES);
    r.trees("the source tree after cp", &a.join("src"), &b.join("src"), ALL);
    let (n, v) = bb_both(&a, &b, &["rm", "-r", "dst"]);
    r.outcomes("rm -r dst", &n, &v, as_is);
    r.trees("what is left after rm -r dst", &a, &b, NO_TIMES);
    r.check();
}

/// T3: a host directory bound at another guest path (`--bind
/// HOST/src:/data:rw`), worked on by absolute guest paths; natively the
/// same commands on `src/...`.
#[test]
fn busybox_in_a_directory_bound_elsewhere() {
    let (a, b) = tree_pair("elsewhere");
    let bb = busybox();
    let src = b.join("src").canonicalize().unwrap();
    let opts = ["--bind".to_owned(), format!("{}:/data:rw", src.to_str().unwrap())];
    let mut r = Report::default();
    for cmd in [
        "cat DIR/link DIR/dirlink/c/deep.txt",
        "ls -lan DIR/a DIR/a/b",
        "cp DIR/bin-1m DIR/a/copy",
        "mkdir DIR/newdir",
        "mv DIR/small.txt DIR/newdir/",
        "ln -s ../hard DIR/newdir/l",
        "cat DIR/newdir/l",
        "rm -r DIR/emptydir DIR/a/b/c",
        "rmdir DIR/a",
    ] {
        let args = |dir: &str| cmd.replace("DIR", dir);
        let (na, va) = (args("src"), args("/data"));
        let n = native(&bb, &na.split(' ').collect::<Vec<_>>(), &a, None);
        let v = guest_opts(&strs(&opts), &bb, &va.split(' ').collect::<Vec<_>>(), &b, None);
        // Listings and error messages name the paths given.
        let unpath = |b: &[u8]| String::from_utf8_lossy(b).replace("/data", "src").into_bytes();
        let v = Outcome { stdout: unpath(&v.stdout), stderr: unpath(&v.stderr), status: v.status };
        r.outcomes(&na, &n, &v, as_is);
    }
    r.trees("the bound tree", &a, &b, NO_TIMES);
    r.check();
}

/// Run host tar with `args` in `dir`; panic unless it succeeds.
fn host_tar(dir: &Path, args: &[&str]) -> Vec<u8> {
    let o = Command::new("tar").args(args).current_dir(dir).output().unwrap();
    assert!(o.status.success(), "host tar {args:?} in {}: {}", dir.display(), String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// T3: `tar cf` on a bound host tree: the archives, extracted by the
/// host's tar, give the same trees (their bytes may differ: members follow
/// directory order, and user names come from different passwd files).
#[test]
fn busybox_tar_create_in_a_bound_tree() {
    let (a, b) = tree_pair("tar");
    let mut r = Report::default();
    let (n, v) = bb_both(&a, &b, &["tar", "cf", "t.tar", "src"]);
    r.outcomes("tar cf t.tar src", &n, &v, as_is);
    if n.status == 0 && v.status == 0 {
        // The members, in any order (archives follow directory order).
        let (ln, lv) = (host_tar(&a, &["tf", "t.tar"]), host_tar(&b, &["tf", "t.tar"]));
        let same = |s: Vec<u8>| Outcome { stdout: sorted(&s), stderr: Vec::new(), status: 0 };
        r.add("members (tar tf)", differences("native", &same(ln), "vxos", &same(lv)).unwrap_or_default());
        for d in [&a, &b] {
            std::fs::create_dir(d.join("xt")).unwrap();
            host_tar(d, &["xf", "t.tar", "-C", "xt"]);
        }
        r.trees("t.tar extracted by the host's tar", &a.join("xt"), &b.join("xt"), ALL);
    }
    // Listing and extracting with busybox under vxos, from the native archive.
    std::fs::copy(a.join("t.tar"), b.join("native.tar")).unwrap();
    std::fs::copy(a.join("t.tar"), a.join("native.tar")).unwrap();
    let (n, v) = bb_both(&a, &b, &["tar", "tvf", "native.tar"]);
    r.outcomes("tar tvf native.tar", &n, &v, no_clock_times);
    let (n, v) = bb_both(&a, &b, &["tar", "xf", "native.tar", "-C", "out"]);
    r.outcomes("tar xf native.tar -C out", &n, &v, as_is);
    r.trees("native.tar extracted by busybox tar", &a.join("out"), &b.join("out"), FILE_TIMES);
    r.check();
}

/// T3: `tar c src | tar x -C out` as two programs joined by a host pipe,
/// both natively and as two `vxos run`s.
#[test]
fn busybox_tar_pipe_between_two_guests() {
    let (a, b) = tree_pair("tar-pipe");
    let bb = busybox();
    let pipe = |first: Command, second: Command| -> (Outcome, Outcome) {
        let (mut first, mut second) = (first, second);
        let mut c1 = first.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let out = c1.stdout.take().unwrap();
        let c2 = second.stdin(Stdio::from(out)).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let t = std::thread::spawn(move || outcome(c1));
        let o2 = outcome(c2);
        (t.join().unwrap(), o2)
    };
    let c = ["tar", "c", "src"];
    let x = ["tar", "x", "-C", "out"];
    let (n1, n2) = pipe(native_command(&bb, &c, &a), native_command(&bb, &x, &a));
    let opts = bind_rw(&b);
    let (v1, v2) = pipe(guest_command(&strs(&opts), &bb, &c, &b), guest_command(&strs(&opts), &bb, &x, &b));
    let mut r = Report::default();
    // The archive itself goes through the pipe: compare what came out.
    r.outcomes("tar c src (stdout to the pipe)", &n1, &v1, |_| Vec::new());
    r.outcomes("tar x -C out (stdin from the pipe)", &n2, &v2, as_is);
    r.trees("out", &a.join("out"), &b.join("out"), FILE_TIMES);
    r.check();
}

/// T3: `rm -r` in a bound host tree.
#[test]
fn busybox_rm_in_a_bound_tree() {
    let (a, b) = tree_pair("rm");
    let mut r = Report::default();
    for args in [
        &["rm", "src/a"][..],
        &["rmdir", "src/a"],
        &["rm", "src/link", "src/dangling", "src/hard"],
        &["rmdir", "src/emptydir"],
        &["rm", "-r", "src/a"],
        &["rm", "-r", "src"],
        &["rm", "-r", "src"],
        &["rm", "-rf", "src"],
    ] {
        let (n, v) = bb_both(&a, &b, args);
        r.outcomes(&args.join(" "), &n, &v, as_is);
    }
    r.trees("what is left", &a, &b, NO_TIMES);
    r.check();
}

// ---------------------------------------------------------------------
// Escapes from a bound directory

const SECRET: &str = "TOP SECRET, never to be read through vxos\n";
const SECRET2: &str = "SECRET TWO, outside the bound directory\n";

/// An escape test layout in a fresh `files/NAME`: `secret` and
/// `outside/secret2` next to the directory `jail` that the guest gets,
/// which holds links pointing out of it. Returns (base, jail).
fn escape_layout(name: &str) -> (PathBuf, PathBuf) {
    let e = fresh(&format!("files/{name}"));
    let jail = e.join("jail");
    std::fs::create_dir_all(e.join("outside")).unwrap();
    std::fs::create_dir_all(jail.join("sub")).unwrap();
    std::fs::write(e.join("secret"), SECRET).unwrap();
    std::fs::set_permissions(e.join("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(e.join("outside/secret2"), SECRET2).unwrap();
    std::fs::write(jail.join("payload"), "PWNED\n").unwrap();
    // Standard input for the tricks (the host redirects it: not a way out).
    std::fs::write(e.join("stdin"), "PWNED FROM STDIN\n").unwrap();
    std::fs::write(jail.join("inside"), "inside the bound directory\n").unwrap();
    let es = e.to_str().unwrap();
    let ups = "../".repeat(e.components().count() + 3);
    for (target, link) in [
        ("../secret".to_owned(), "up"),
        (format!("{es}/secret"), "abs"),
        ("/etc/passwd".to_owned(), "passwd"),
        ("../outside".to_owned(), "outdir"),
        (format!("{es}/outside"), "absdir"),
        ("../../outside".to_owned(), "sub/deep"),
        (ups.trim_end_matches('/').to_owned(), "rootdots"),
        ("/".to_owned(), "root"),
    ] {
        std::os::unix::fs::symlink(target, jail.join(link)).unwrap();
    }
    for p in [e.join("secret"), e.join("stdin"), e.join("outside/secret2"), e.join("outside"), e.clone()] {
        let st = Command::new("touch").args(["-h", "-d", &format!("@{NOON}")]).arg(&p).status().unwrap();
        assert!(st.success());
    }
    (e, jail)
}

/// The host state outside the jail: every file's description (contents,
/// mode, owner, links, times, inode), and which jail files share an inode
/// with an outside file (a hard link made from the guest).
fn outside_state(e: &Path) -> String {
    let mut s = String::new();
    let mut inodes = HashMap::new();
    for (rel, d) in snapshot(e, ALL) {
        if rel == "jail" || rel.starts_with("jail/") {
            continue;
        }
        let m = e.join(&rel).symlink_metadata().unwrap();
        inodes.insert(m.ino(), rel.clone());
        s += &format!("{rel}: {d} ino {}\n", m.ino());
    }
    let mut jail = Vec::new();
    walk(&e.join("jail"), Path::new(""), &mut jail);
    for rel in jail {
        let m = e.join("jail").join(&rel).symlink_metadata().unwrap();
        if let Some(o) = inodes.get(&m.ino()) {
            s += &format!("jail/{} is the same file as {o}\n", rel.display());
        }
    }
    s
}

/// Paths that reach outside the jail natively (relative to the jail, or
/// absolute host paths; `{E}` is the layout's base), each read with cat.
fn read_tricks(e: &Path) -> Vec<String> {
    let es = e.to_str().unwrap();
    let rel = es.trim_start_matches('/');
    [
        "up",
        "abs",
        "outdir/secret2",
        "absdir/secret2",
        "sub/deep/secret2",
        "../secret",
        "sub/../../secret",
        "./sub/../../outside/secret2",
        "{E}/secret",
        "{E}/outside/secret2",
        "{E}/jail/../secret",
        "rootdots/{R}/secret",
        "root/{R}/secret",
        "/proc/self/cwd/../secret",
        "/proc/self/root/{R}/secret",
    ]
    .iter()
    .map(|t| t.replace("{E}", es).replace("{R}", rel))
    .collect()
}

/// T3: reading through links, `..` and absolute host paths from a bound
/// directory (read-write, and the default read-only cwd with a ramfs) finds
/// only what the guest's namespace holds.
#[test]
fn escape_by_reading_through_links_and_dots() {
    let bb = busybox();
    // Natively each trick does reach the secret: the test is meaningful.
    let (ne, njail) = escape_layout("escape-read-native");
    for t in read_tricks(&ne) {
        let o = native(&bb, &["cat", &t], &njail, None);
        assert!(String::from_utf8_lossy(&o.stdout).contains("SECRET"), "natively cat {t} should reach the secret: {o}");
    }
    let (e, jail) = escape_layout("escape-read-vxos");
    let before = outside_state(&e);
    let host_passwd = std::fs::read("/etc/passwd").unwrap();
    let guest_passwd = std::fs::read(top().join("build/rootfs/etc/passwd")).ok();
    let mut bad = Vec::new();
    let rw = bind_rw(&jail);
    for (ns, opts) in [("--bind rw", strs(&rw)), ("default namespace", Vec::new())] {
        // The control: what is inside the jail can be read.
        let o = guest_opts(&opts, &bb, &["cat", "inside"], &jail, None);
        if o.stdout != b"inside the bound directory\n" {
            bad.push(format!("{ns}: cat inside (in the bound directory) should work: {o}"));
        }
        for t in read_tricks(&e) {
            let o = guest_opts(&opts, &bb, &["cat", &t], &jail, None);
            if String::from_utf8_lossy(&o.stdout).contains("SECRET") {
                bad.push(format!("{ns}: cat {t} printed the host secret: {o}"));
            }
        }
        for t in ["passwd", "/etc/passwd", "../../../../../../../../../../../../etc/passwd", "root/etc/passwd"] {
            let o = guest_opts(&opts, &bb, &["cat", t], &jail, None);
            let ok = match &guest_passwd {
                Some(g) => o.stdout == *g,
                None => o.status != 0 && o.stdout.is_empty(),
            };
            if !ok || (o.stdout == host_passwd && guest_passwd.as_ref() != Some(&host_passwd)) {
                let what = if guest_passwd.is_some() { "build/rootfs/etc/passwd" } else { "nothing (ENOENT)" };
                bad.push(format!("{ns}: cat {t} should give {what}, the guest's: {o}"));
            }
        }
    }
    let after = outside_state(&e);
    if before != after {
        bad.push(format!("the host outside the jail changed:\n--- before\n{before}--- after\n{after}"));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Write tricks: each a sequence of busybox commands run in the jail
/// (stdin: the payload), that natively change something outside it.
fn write_tricks(e: &Path) -> Vec<Vec<String>> {
    let es = e.to_str().unwrap();
    let rel = es.trim_start_matches('/');
    let tricks: &[&[&str]] = &[
        &["cp payload up"],
        &["cp payload abs"],
        &["cp payload outdir/new"],
        &["cp payload absdir/new"],
        &["cp payload sub/deep/new"],
        &["cp payload ../new"],
        &["cp payload {E}/new"],
        &["cp payload rootdots/{R}/new"],
        &["cp payload root/{R}/outside/new"],
        &["tee -a up"],
        &["tee sub/../../outside/secret2"],
        &["truncate -s 0 abs"],
        &["chmod 777 up"],
        &["touch up"],
        &["mkdir outdir/newdir"],
        &["ln -s payload ../evil"],
        &["ln -s ../secret newlink", "cp payload newlink"],
        &["ln ../secret hl", "cp payload hl"],
        &["ln {E}/secret hl"],
        &["mv payload ../moved"],
        &["mv outdir/secret2 stolen"],
        &["mv sub ../sub2"],
        &["rm -f sub/deep/secret2"],
        &["rm -f {E}/secret"],
        &["rm -r sub", "ln -s .. sub", "cp payload sub/new"],
        &["rm -r sub", "ln -s {E} sub", "mv payload sub/"],
        &["ln -s / r", "cp payload r/{R}/new"],
    ];
    tricks.iter().map(|t| t.iter().map(|c| c.replace("{E}", es).replace("{R}", rel)).collect()).collect()
}

/// Run a trick's commands in `jail`: natively, or under vxos with `opts`.
fn run_trick(cmds: &[String], jail: &Path, opts: Option<&[&str]>) -> Vec<Outcome> {
    let bb = busybox();
    let stdin = jail.parent().unwrap().join("stdin");
    cmds.iter()
        .map(|c| {
            let args: Vec<&str> = c.split(' ').collect();
            match opts {
                None => native(&bb, &args, jail, Some(&stdin)),
                Some(o) => guest_opts(o, &bb, &args, jail, Some(&stdin)),
            }
        })
        .collect()
}

/// The whole layout: outside the jail and the jail itself (for the default
/// namespace, where the jail is read-only on the host).
fn whole_state(e: &Path) -> String {
    snapshot(e, ALL).iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

/// T3: writing through links, `..` and absolute host paths from a
/// directory bound read-write changes nothing outside it: not the secret's
/// contents, mode, times or links, and no new files next to it. In the
/// default namespace (the cwd read-only with a ramfs before it) nothing on
/// the host changes at all.
#[test]
fn escape_by_writing_through_links_and_dots() {
    let mut bad = Vec::new();
    let n_tricks = write_tricks(Path::new("/x")).len();
    for i in 0..n_tricks {
        // Natively each trick does change something outside the jail.
        let (ne, njail) = escape_layout("escape-write-native");
        let trick = &write_tricks(&ne)[i];
        let before = outside_state(&ne);
        run_trick(trick, &njail, None);
        assert_ne!(before, outside_state(&ne), "natively {trick:?} should change the host outside the jail");
        for rw in [true, false] {
            let (e, jail) = escape_layout("escape-write-vxos");
            let trick = &write_tricks(&e)[i];
            let state = if rw { outside_state } else { whole_state };
            let opts = if rw { bind_rw(&jail) } else { Vec::new() };
            let before = state(&e);
            let outs = run_trick(trick, &jail, Some(&strs(&opts)));
            let after = state(&e);
            if before != after {
                bad.push(format!(
                    "{trick:?} ({}) changed the host:\n--- before\n{before}--- after\n{after}--- vxos said\n{}",
                    if rw { "--bind rw: outside the bound directory" } else { "default namespace" },
                    outs.iter().map(|o| format!("{o}\n")).collect::<String>()
                ));
            }
        }
    }
    // The controls: writing in the bound directory reaches the host; in the
    // default namespace it works but stays in the ramfs.
    let (_, jail) = escape_layout("escape-write-vxos");
    let o = guest_opts(&strs(&bind_rw(&jail)), &busybox(), &["cp", "payload", "copied"], &jail, None);
    if std::fs::read(jail.join("copied")).ok().as_deref() != Some(b"PWNED\n") {
        bad.push(format!("--bind rw: cp payload copied (inside the bound directory) should reach the host: {o}"));
    }
    let (_, jail) = escape_layout("escape-write-vxos");
    let o = guest_opts(&[], &busybox(), &["cp", "payload", "copied"], &jail, None);
    if o.status != 0 || jail.join("copied").symlink_metadata().is_ok() {
        bad.push(format!("default namespace: cp payload copied should work and not reach the host: {o}"));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
