//! Debian's busybox-static (i386) run natively and under vxos on generated
//! files: outputs and statuses must be identical.

use vxos_tests::*;

fn bb(args: &[&str], stdin: Option<&std::path::Path>) -> Outcome {
    let dir = scratch("data");
    same(&busybox(), args, &dir, stdin)
}

#[test]
fn sha256sum() {
    data_file("mixed-4m", 4 << 20);
    bb(&["sha256sum", "mixed-4m"], None);
}

#[test]
fn md5sum() {
    data_file("mixed-4m", 4 << 20);
    bb(&["md5sum", "mixed-4m"], None);
}

#[test]
fn gzip_round_trip() {
    let f = data_file("mixed-1m", 1 << 20);
    let out = bb(&["gzip", "-9", "-c", "mixed-1m"], None);
    let gz = scratch("data").join("mixed-1m.gz");
    std::fs::write(&gz, &out.stdout).unwrap();
    let back = bb(&["gzip", "-d", "-c"], Some(&gz));
    assert_eq!(back.stdout, std::fs::read(f).unwrap());
}

#[test]
fn bzip2() {
    data_file("mixed-1m", 1 << 20);
    bb(&["bzip2", "-c", "mixed-1m"], None);
}

#[test]
fn sort_and_awk() {
    data_file("mixed-1m", 1 << 20);
    bb(&["sort", "mixed-1m"], None);
    bb(&["sort", "-n", "-r", "mixed-1m"], None);
    bb(&["awk", "{ n[$1] += $5 } END { for (k in n) s += n[k] * k; print s, NR }", "mixed-1m"], None);
}

#[test]
fn small_applets() {
    data_file("mixed-1m", 1 << 20);
    bb(&["wc", "mixed-1m"], None);
    bb(&["head", "-n", "5", "mixed-1m"], None);
    bb(&["echo", "hello", "world"], None);
    bb(&["ls", "-1"], None);
    bb(&["cat", "no-such-file"], None);
    bb(&["false"], None);
    bb(&["sed", "-n", "s/line/LINE/p", "mixed-1m"], None);
}
