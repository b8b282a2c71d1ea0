//! Dynamically linked Debian i386 programs (T6): the rootfs's own programs,
//! run natively chrooted into the rootfs (so both sides use the same
//! loader, libc, modules and helper programs at the same paths) and under
//! `vxos run`, which loads the PT_INTERP loader itself. Output and exit
//! status must be identical.

use std::path::{Path, PathBuf};
use std::process::Command;
use vxos_tests::*;

fn rootfs() -> PathBuf {
    top().join("build/rootfs")
}

/// The environment both sides get.
const ENV: &[(&str, &str)] = &[("PATH", "/usr/bin:/bin"), ("LC_ALL", "C"), ("HOME", "/root"), ("TERM", "dumb")];

/// Run `prog args` in /tmp/work of the guest root natively (not /tmp itself:
/// under vxos the host directory the test runs in may be a mount point
/// there), chrooted into the
/// rootfs inside a user and mount namespace (no privileges needed), with
/// the host's /dev, a fresh /proc and an empty /tmp, so the program finds
/// its libraries, modules and helpers at the same paths as under vxos.
fn native_chroot(prog: &str, args: &[&str], stdin: &[u8]) -> Outcome {
    let r = rootfs();
    let mut c = Command::new("/usr/bin/unshare");
    c.args(["-rmpf", "sh", "-c"]);
    c.arg(concat!(
        "/bin/mount -t proc proc \"$0/proc\" && /bin/mount --rbind /dev \"$0/dev\" && /bin/mount -t tmpfs tmpfs \"$0/tmp\" && ",
        "exec /usr/sbin/chroot \"$0\" /bin/sh -c 'mkdir -p /tmp/work && cd /tmp/work && exec \"$@\"' sh \"$@\""
    ));
    c.arg(&r).arg(prog).args(args);
    run_with(c, stdin)
}

/// Run `prog args` under vxos, in the guest's /tmp/work.
fn under_vxos(prog: &str, args: &[&str], stdin: &[u8]) -> Outcome {
    let mut c = Command::new(vxos());
    c.args(["run", "/bin/sh", "-c", "mkdir -p /tmp/work && cd /tmp/work && exec \"$@\"", "sh", prog]).args(args);
    c.current_dir(scratch("dynamic"));
    run_with(c, stdin)
}

fn run_with(mut c: Command, stdin: &[u8]) -> Outcome {
    use std::io::Write;
    use std::process::Stdio;
    c.env_clear().envs(ENV.iter().copied());
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("start");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let o = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    Outcome::from(o)
}

/// Run `prog args` (a path in the guest root) natively and under vxos and
/// require the same output and status; return the native outcome.
fn same_dynamic(prog: &str, args: &[&str]) -> Outcome {
    same_input(prog, args, b"")
}

fn same_input(prog: &str, args: &[&str], stdin: &[u8]) -> Outcome {
    let path = rootfs().join(prog.trim_start_matches('/'));
    assert!(path.exists(), "{} is missing: run scripts/setup.sh", path.display());
    let n = native_chroot(prog, args, stdin);
    let v = under_vxos(prog, args, stdin);
    if let Some(d) = differences("native", &n, "vxos", &v) {
        panic!("{prog} {args:?} differs from native:\n{d}");
    }
    n
}

fn text(o: &Outcome) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn dash(script: &str) -> String {
    text(&same_dynamic("/bin/dash", &["-c", script]))
}

fn bash(script: &str) -> String {
    text(&same_dynamic("/bin/bash", &["-c", script]))
}

#[test]
fn dash_runs() {
    assert_eq!(dash("echo hello $((6 * 7))"), "hello 42\n");
}

#[test]
fn dash_scripts() {
    let out = dash(
        r#"
f() { echo "f got $# args: $*"; return 3; }
f a "b c"; echo "status $?"
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); done; echo "i=$i"
case abc in a*) echo "case a*";; *) echo other;; esac
x=$(echo captured; echo twice); echo "$x" | while read l; do echo "line: $l"; done
set -- one two three; shift; echo "$@ ($#)"
echo ${UNSET:-default} ${#x}
trap 'echo trapped' EXIT
(exit 4); echo "subshell $?"
"#,
    );
    assert!(out.contains("f got 2 args: a b c") && out.contains("trapped"), "{out}");
}

#[test]
fn dash_exit_status_and_stderr() {
    let o = same_dynamic("/bin/dash", &["-c", "echo to stderr >&2; nonexistent-command; exit 7"]);
    assert_eq!(o.status, 7);
}

/// A missing interpreter is ENOENT for execve, and vxos says which file.
#[test]
fn missing_interpreter() {
    let dir = scratch("dynamic");
    let prog = Path::new(&top()).join("build/rootfs/bin/dash");
    let o = Command::new(vxos())
        .args(["run", "--root"])
        .arg(&dir)
        .arg(&prog)
        .args(["-c", "true"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/lib/ld-linux.so.2"), "names the interpreter: {err}");
}

#[test]
fn bash_scripts() {
    let out = bash(
        r#"
set -o pipefail
declare -a arr=(zero one "two words" three)
declare -A map=([apple]=1 [pear]=2)
map[plum]=3
echo "${#arr[@]} ${arr[2]} ${arr[@]:1:2}"
for k in $(printf '%s\n' "${!map[@]}" | sort); do echo "$k=${map[$k]}"; done
fib() { local n=$1; if (( n < 2 )); then echo $n; else echo $(( $(fib $((n-1))) + $(fib $((n-2))) )); fi; }
echo "fib 12 = $(fib 12)"
cat <<END | tr a-z A-Z
here-doc with ${arr[1]} and $((3 ** 4))
END
read -r a b <<< "left right"; echo "$b $a"
s="Hello, World"; echo "${s/World/vxos} ${s,,} ${s^^} ${s:7}"
[[ $s =~ ^Hel(lo) ]] && echo "match ${BASH_REMATCH[1]}"
seq 1 20 | grep 1 | paste -sd+ | bc 2>/dev/null || seq 1 20 | grep 1 | awk '{s+=$1} END {print s}'
false | true; echo "pipefail status $?"
out=$( { echo out; echo err >&2; } 2>&1 ); echo "[$out]"
printf '%05d|%-6s|%x\n' 42 ab 255
coproc { read x; echo "co: $x"; }; echo ping >&"${COPROC[1]}"; read -r y <&"${COPROC[0]}"; echo "$y"; wait
trap 'echo bye' EXIT
"#,
    );
    assert!(out.contains("fib 12 = 144") && out.contains("HERE-DOC WITH ONE AND 81"), "{out}");
    assert!(out.contains("co: ping") && out.ends_with("bye\n"), "{out}");
}

#[test]
fn bash_jobs_and_subshells() {
    let out = bash(
        r#"
sleep 0.05 & p=$!; wait $p; echo "waited $?"
( exit 3 ); echo "sub $?"
{ sleep 0.02; echo one; } & { echo two; } ; wait
x=0; while read -r l; do x=$((x + l)); done < <(seq 1 100); echo "sum $x"
mapfile -t lines < <(printf 'a\nb\nc\n'); echo "${#lines[@]} ${lines[2]}"
kill -0 $$ && echo alive
"#,
    );
    assert!(out.contains("sum 5050") && out.contains("3 c"), "{out}");
}

/// Generated data through coreutils.
#[test]
fn coreutils_on_generated_data() {
    let out = bash(
        r#"
seq 1 20000 | awk '{ print ($1 * 7919) % 10007, ($1 * 31) % 97 }' > data
wc -l < data; wc -c data | cut -d' ' -f1
sort -n -k1,1 data | head -3
sort -k2,2n -k1,1nr data | uniq -c -f1 | sort -rn | head -3
cut -d' ' -f2 data | sort -n | uniq | wc -l
tr '0-9' 'a-j' < data | head -2
od -An -tx1 -N16 data
sha256sum data | cut -c1-64
md5sum < data
head -c 1000 data | base64 | tail -1
split -l 5000 data part_ && ls part_* && cat part_* | cmp - data && echo same
sort -u data | wc -l; sort data | tac | head -1; nl -ba data | tail -1
paste -d, <(seq 3) <(seq 4 6); join <(printf '1 a\n2 b\n') <(printf '1 x\n2 y\n')
expr 7 \* 6; factor 360; numfmt --to=iec 1048576; date -u -d @0 +%F
stat -c '%s %F' data; du -b data | cut -f1; mkdir -p d/e && touch d/e/f && ls -R d
ln -s data link && readlink link && rm -r d link && ls
"#,
    );
    assert!(out.contains("20000\n") && out.contains("same\n"), "{out}");
}

#[test]
fn find_xargs_grep_sed_diff() {
    let out = bash(
        r#"
mkdir -p tree/a/b tree/c
for i in $(seq 1 30); do echo "line $i of file $i" > tree/$((i % 3 == 0 ? 1 : 0))_$i.txt; done
mv tree/1_* tree/a/b/ ; echo needle > tree/c/hay.txt
find tree -type f -name '*.txt' | sort | head -5
find tree -type f | xargs grep -l 'of file 1' | sort
find tree -name '*.txt' -print0 | xargs -0 cat | grep -c line
grep -rn needle tree; grep -E -o '[0-9]+ of' tree/a/b/1_3.txt
sed -n 's/line \([0-9]*\) of.*/n=\1/p' tree/0_1.txt; sed -i 's/needle/pin/' tree/c/hay.txt; cat tree/c/hay.txt
printf 'a\nb\nc\n' > x; printf 'a\nB\nc\nd\n' > y; diff x y; echo "diff $?"; diff -u x y | tail -n +3; cmp x y; echo "cmp $?"
gawk 'BEGIN { for (i = 1; i <= 5; i++) s = s i; printf "%s %d %s\n", s, length(s), toupper("gawk") }'
gawk -F: '{ n[$NF]++ } END { for (k in n) print k, n[k] | "sort" }' /etc/passwd
"#,
    );
    assert!(out.contains("needle") || out.contains("pin"), "{out}");
}

#[test]
fn perl_regexes_and_hashes() {
    let o = same_dynamic(
        "/usr/bin/perl",
        &[
            "-e",
            r#"
use strict; use warnings;
my %h; $h{$_ % 7} += $_ for 1..1000;
print join(",", map { "$_=$h{$_}" } sort { $a <=> $b } keys %h), "\n";
my $s = "The quick brown fox jumps over the lazy dog";
my @w = ($s =~ /\b(\w{5})\b/g); print "@w\n";
(my $t = $s) =~ s/(\w+)/\u\L$1/g; print "$t\n";
print scalar(reverse "stressed"), " ", join("|", split /\s*,\s*/, "a , b,c ,d"), "\n";
my @sorted = sort { length($a) <=> length($b) or $a cmp $b } split ' ', $s; print "@sorted\n";
printf "%.3f %e %s\n", atan2(1,1)*4, 12345.678, sprintf("%08b", 37);
my $ref = { list => [1,2,3], nested => { k => 'v' } }; print scalar(@{$ref->{list}}), " $ref->{nested}{k}\n";
local $/; open(my $fh, '<', '/etc/passwd') or die; my $all = <$fh>; print scalar(() = $all =~ /:/g) > 0 ? "passwd ok\n" : "no\n";
"#,
        ],
    );
    assert!(text(&o).contains("quick brown jumps"), "{}", text(&o));
}

#[test]
fn python_modules() {
    let o = same_dynamic(
        "/usr/bin/python3",
        &[
            "-c",
            r#"
import json, re, hashlib, itertools, collections, math, struct, os, sys
from concurrent.futures import ThreadPoolExecutor
d = {"a": [1, 2, {"b": None}], "c": "text", "d": 1.5}
s = json.dumps(d, sort_keys=True); print(s, json.loads(s) == d)
print(re.findall(r"(\w)(\d+)", "a1 b22 c333"), re.sub(r"\s+", "-", "x  y \t z"))
print(hashlib.sha256(b"vxos" * 1000).hexdigest(), hashlib.md5(b"").hexdigest())
def gen(n):
    for i in range(n):
        if i % 3 == 0:
            yield i * i
print(sum(x for x in gen(10000) if x % 2), list(itertools.islice(gen(100), 5)))
with ThreadPoolExecutor(max_workers=4) as ex:
    print(sorted(ex.map(lambda n: hashlib.sha1(str(n).encode()).hexdigest()[:6], range(20))))
print(collections.Counter("mississippi").most_common(3), math.factorial(30), struct.pack("<iHd", -2, 7, 0.5).hex())
print(sorted(os.listdir("/etc"))[:3], os.getcwd(), sys.maxsize, sys.byteorder)
"#,
        ],
    );
    assert!(text(&o).contains("True"), "{}", text(&o));
}

#[test]
fn python_subprocess_and_files() {
    let o = same_dynamic(
        "/usr/bin/python3",
        &[
            "-c",
            r#"
import subprocess, os, tempfile, mmap, signal, select, time
r = subprocess.run(["sh", "-c", "echo from child; exit 5"], capture_output=True, text=True)
print(r.returncode, r.stdout.strip())
p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print(p.communicate(b"round trip")[0], p.wait())
with tempfile.NamedTemporaryFile(dir="/tmp") as f:
    f.write(b"x" * 8192); f.flush()
    m = mmap.mmap(f.fileno(), 0); print(len(m), m[:3], m.find(b"y")); m.close()
rd, wr = os.pipe(); os.write(wr, b"hi"); print(select.select([rd], [], [], 1)[0] == [rd], os.read(rd, 10))
signal.signal(signal.SIGALRM, lambda s, f: print("alarm", s)); signal.setitimer(signal.ITIMER_REAL, 0.01); time.sleep(0.2)
print(os.waitstatus_to_exitcode(os.system("exit 3")))
"#,
        ],
    );
    assert!(text(&o).contains("5 from child"), "{}", text(&o));
}

#[test]
fn lua_runs() {
    let o = same_dynamic(
        "/usr/bin/lua5.4",
        &[
            "-e",
            r#"
local t = {} for i = 1, 100 do t[#t + 1] = i * i end
print(#t, t[10], table.concat({1, 2, 3}, "-"), string.format("%5.2f", math.pi))
local words = {} for w in ("the lua language"):gmatch("%a+") do words[#words + 1] = w:upper() end
print(table.concat(words, " "), ("abc"):rep(3), utf8.char(72, 105))
local co = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
print(co(), co(), co(), 7 // 2, 7 % 3, 2^10, math.maxinteger)
"#,
        ],
    );
    assert!(text(&o).contains("THE LUA LANGUAGE"), "{}", text(&o));
}

#[test]
fn sqlite_hundred_thousand_rows() {
    let sql = r#"
create table t(id integer primary key, grp integer, name text, val real);
begin;
with recursive c(x) as (select 1 union all select x + 1 from c where x < 100000)
insert into t(grp, name, val) select x % 13, 'n' || x, x * 0.5 from c;
commit;
select count(*), sum(val), min(name), max(id) from t;
select grp, count(*), avg(val) from t group by grp order by grp limit 4;
create index ig on t(grp);
select count(*) from t where grp = 7 and val > 1000;
"#;
    let o = same_input("/usr/bin/sqlite3", &["/tmp/db.sqlite"], sql.as_bytes());
    assert!(text(&o).starts_with("100000|"), "{}", text(&o));
}
