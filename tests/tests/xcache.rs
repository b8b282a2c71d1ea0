//! Translations kept on disk between runs (vx-core's `xcache`): a second
//! run takes its blocks from the file and behaves exactly as natively; a
//! damaged, truncated or foreign file is never trusted; another program at
//! the same addresses is not run with the first one's code.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use vxos_tests::*;

/// Run `prog args` under `vxos run --stats` with translations kept in
/// `cache`, without the program snapshots earlier runs left there (so
/// that blocks come from the records); return what it did (the statistics
/// lines taken out of stderr) and the disk cache's (records, used) figures.
fn run(cache: &Path, prog: &Path, args: &[&str]) -> (Outcome, (u64, u64)) {
    for f in files(cache, "prog-") {
        std::fs::remove_file(f).unwrap();
    }
    let (o, counts, _) = run_all(cache, prog, args);
    (o, counts)
}

/// The files in `dir` whose names start with `prefix` and end in `.bin`.
fn files(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    rd.flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(prefix) && n.ends_with(".bin")
        })
        .collect()
}

/// As `run`, keeping program snapshots; also return how many blocks the
/// program's snapshot gave its code cache.
fn run_all(cache: &Path, prog: &Path, args: &[&str]) -> (Outcome, (u64, u64), u64) {
    let mut c = Command::new(vxos());
    c.env_clear().env("PATH", "/usr/bin:/bin").env("LANG", "C").env("HOME", "/").env("VXOS_XCACHE", cache);
    c.arg("run").arg("--stats").arg(prog).args(args).current_dir(bins());
    let mut o = Outcome::from(c.output().unwrap());
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let line =
        err.lines().find(|l| l.contains("disk cache:")).unwrap_or_else(|| panic!("no disk cache figures: {err}"));
    let nums: Vec<u64> = line
        .split("disk cache:")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    o.stderr = err.lines().filter(|l| !l.starts_with("vxos: ")).flat_map(|l| format!("{l}\n").into_bytes()).collect();
    (o, (nums[0], nums[1]), nums[2])
}

fn cache_file(dir: &Path) -> std::path::PathBuf {
    let files = files(dir, "xlate-");
    assert_eq!(files.len(), 1, "one cache file in {}: {files:?}", dir.display());
    files[0].clone()
}

#[test]
fn program_snapshots_start_the_next_run() {
    let dir = fresh("xcache-prog");
    let cache = dir.join("cache");
    // A copy of the program, to change it later.
    let prog = dir.join("prog");
    std::fs::copy(bins().join("sha256"), &prog).unwrap();
    let want = native(&prog, &[], &bins(), None);
    let (first, _, restored) = run_all(&cache, &prog, &[]);
    assert_eq!(first, want, "first run");
    assert_eq!(restored, 0, "nothing to restore yet");
    let snaps = files(&cache, "prog-");
    assert_eq!(snaps.len(), 1, "one program snapshot: {snaps:?}");
    assert_eq!(std::fs::metadata(&snaps[0]).unwrap().permissions().mode() & 0o777, 0o600);
    let (second, _, restored) = run_all(&cache, &prog, &[]);
    assert_eq!(second, want, "second run, from the snapshot");
    assert!(restored > 100, "only {restored} blocks restored");
    let good = std::fs::read(&snaps[0]).unwrap();

    // Damaged, truncated or world-writable: not used, and the program
    // runs as natively.
    let mut bad = good.clone();
    for i in (good.len() / 2..good.len()).step_by(4099) {
        bad[i] ^= 0x40;
    }
    for (what, bytes, mode) in [
        ("damaged", &bad[..], 0o600),
        ("truncated", &good[..good.len() / 3], 0o600),
        ("world-writable", &good[..], 0o666),
    ] {
        std::fs::write(&snaps[0], bytes).unwrap();
        std::fs::set_permissions(&snaps[0], std::fs::Permissions::from_mode(mode)).unwrap();
        let (o, _, restored) = run_all(&cache, &prog, &[]);
        assert_eq!(o, want, "with a {what} snapshot");
        assert_eq!(restored, 0, "a {what} snapshot was used");
        std::fs::remove_file(&snaps[0]).unwrap();
        std::fs::write(&snaps[0], &good).unwrap();
        std::fs::set_permissions(&snaps[0], std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // Another program in the same file: never run with the first one's code.
    std::fs::remove_file(&prog).unwrap();
    std::fs::copy(bins().join("qsort64"), &prog).unwrap();
    let (o, _, restored) = run_all(&cache, &prog, &[]);
    assert_eq!(o, native(&prog, &[], &bins(), None), "a different program in the same file");
    assert_eq!(restored, 0, "the old program's snapshot was used for the new one");
}

#[test]
fn second_run_uses_kept_translations() {
    let dir = fresh("xcache-warm");
    let cache = dir.join("cache");
    let prog = bins().join("sha256");
    let want = native(&prog, &[], &bins(), None);
    let (first, (records, used)) = run(&cache, &prog, &[]);
    assert_eq!(first, want, "first run");
    assert_eq!((records, used), (0, 0), "an empty cache to start with");
    let file = cache_file(&cache);
    assert_eq!(std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let (second, (records, used)) = run(&cache, &prog, &[]);
    assert_eq!(second, want, "second run, from kept translations");
    assert!(records > 100 && used > 100, "kept {records} records, used {used}");
    // Another program loaded at the same addresses: what it shares with the
    // first (libc's start-up) comes from the file, the rest is its own.
    let other = bins().join("qsort64");
    let (o, (_, used_other)) = run(&cache, &other, &[]);
    assert_eq!(o, native(&other, &[], &bins(), None), "a different program after the first");
    assert!(used_other > 0, "nothing shared with the first program");
}

#[test]
fn damaged_files_are_not_trusted() {
    let dir = fresh("xcache-damage");
    let cache = dir.join("cache");
    let prog = bins().join("sha256");
    let want = native(&prog, &[], &bins(), None);
    run(&cache, &prog, &[]);
    let file = cache_file(&cache);
    let good = std::fs::read(&file).unwrap();
    let (_, (_, used_good)) = run(&cache, &prog, &[]);

    // Bits flipped all through the records: each damaged record is refused
    // by its checksum, the program still runs as natively.
    let mut bad = good.clone();
    let start = bad.len() / 3;
    for i in (start..bad.len()).step_by(97) {
        bad[i] ^= 0x10;
    }
    std::fs::write(&file, &bad).unwrap();
    let (o, (_, used)) = run(&cache, &prog, &[]);
    assert_eq!(o, want, "with a damaged cache file");
    assert!(used < used_good, "damaged records were used: {used} of {used_good}");

    // A truncated file is not read at all.
    std::fs::write(&file, &good[..good.len() / 2]).unwrap();
    let (o, (records, used)) = run(&cache, &prog, &[]);
    assert_eq!(o, want, "with a truncated cache file");
    assert_eq!((records, used), (0, 0));

    // Nor a file others may write.
    std::fs::write(&file, &good).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (o, (records, _)) = run(&cache, &prog, &[]);
    assert_eq!(o, want);
    assert_eq!(records, 0, "a world-writable cache file was read");

    // A directory others may write is refused with a message.
    for f in std::fs::read_dir(&cache).unwrap().flatten() {
        std::fs::remove_file(f.path()).unwrap();
    }
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut c = Command::new(vxos());
    c.env_clear().env("VXOS_XCACHE", &cache).arg("run").arg(&prog).current_dir(bins());
    let o = Outcome::from(c.output().unwrap());
    assert_eq!(o.stdout, want.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not keeping translations") && err.contains("others can write"), "{err}");
    assert!(std::fs::read_dir(&cache).unwrap().next().is_none(), "wrote into a world-writable directory");
}

#[test]
fn off_keeps_nothing() {
    let dir = fresh("xcache-off");
    let prog = bins().join("hello");
    let mut c = Command::new(vxos());
    c.env_clear().env("HOME", &dir).env("VXOS_XCACHE", "off").arg("run").arg(&prog).current_dir(bins());
    let o = Outcome::from(c.output().unwrap());
    assert_eq!(o, native(&prog, &[], &bins(), None));
    assert!(std::fs::read_dir(&dir).unwrap().next().is_none(), "VXOS_XCACHE=off wrote a file");
}
