//! Tracing: strace-like lines for what the kernel does on a program's
//! behalf (`--trace=syscall,signal,fault,sched,exec`).
//!
//! Each kind is a bit in `KINDS`; every place that can trace asks `on`,
//! one relaxed load, and calls in here only when the bit is set, so a
//! kernel that traces nothing pays a load and a branch. Lines go to stderr
//! or to `--trace-file`, each written whole under one lock, prefixed with
//! the thread they concern (`[pid N]`, as strace names threads);
//! `--trace-pid` keeps those of one process.
//!
//! System calls are decoded from a table of argument kinds by call name
//! (`ARGS`): paths and short strings are read from guest memory (before
//! the call for what it reads, after it for what it wrote), flags are
//! spelled out, failures carry their errno's name, and each line ends with
//! the call's duration. The call sites (the dispatcher, signal delivery,
//! the fault trap, the scheduler, exec) decide what happened; this module
//! only spells it.

use crate::errno::{Errno, SysResult};
use crate::mm::Mm;
use crate::process::Process;
use crate::signal::SigInfo;
use crate::syscall::{Args, SysEntry};
use parking_lot::Mutex;
use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

pub const SYSCALL: u32 = 1;
pub const SIGNAL: u32 = 2;
pub const FAULT: u32 = 4;
pub const SCHED: u32 = 8;
pub const EXEC: u32 = 16;

/// The kinds `--trace` names, with their bits.
pub const KINDS_BY_NAME: &[(&str, u32)] =
    &[("syscall", SYSCALL), ("signal", SIGNAL), ("fault", FAULT), ("sched", SCHED), ("exec", EXEC)];

/// What is traced: an OR of the kind bits.
static KINDS: AtomicU32 = AtomicU32::new(0);
/// The only process traced (0: all).
static PID: AtomicU32 = AtomicU32::new(0);

struct Sink {
    out: Box<dyn Write + Send>,
    /// End lines with CR LF (stderr is the raw console under `vxos boot`).
    crlf: bool,
}

static OUT: Mutex<Option<Sink>> = Mutex::new(None);

/// Report whether events of `kind` are traced.
#[inline(always)]
pub fn on(kind: u32) -> bool {
    KINDS.load(Ordering::Relaxed) & kind != 0
}

/// Parse a `--trace` list ("syscall,fault", "all") into kind bits.
pub fn parse(list: &str) -> Result<u32, String> {
    let mut bits = 0;
    for k in list.split(',') {
        bits |= match k {
            "all" => KINDS_BY_NAME.iter().fold(0, |a, k| a | k.1),
            _ => match KINDS_BY_NAME.iter().find(|x| x.0 == k) {
                Some(x) => x.1,
                None => {
                    let known: Vec<&str> = KINDS_BY_NAME.iter().map(|x| x.0).chain(["all"]).collect();
                    return Err(format!("unknown trace kind {k:?} (known: {})", known.join(", ")));
                }
            },
        };
    }
    Ok(bits)
}

/// Start tracing `kinds` (see `parse`) of process `pid` (all if None) to
/// `file` (stderr if None), before any guest runs.
pub fn start(kinds: u32, pid: Option<u32>, file: Option<&std::path::Path>, crlf: bool) -> std::io::Result<()> {
    let out: Box<dyn Write + Send> = match file {
        Some(f) => Box::new(std::io::BufWriter::new(std::fs::File::create(f)?)),
        None => Box::new(std::io::stderr()),
    };
    *OUT.lock() = Some(Sink { out, crlf: crlf && file.is_none() });
    PID.store(pid.unwrap_or(0), Ordering::Relaxed);
    KINDS.store(kinds, Ordering::Relaxed);
    Ok(())
}

/// Write what is buffered for the trace file (at exit).
pub fn flush() {
    if let Some(s) = OUT.lock().as_mut() {
        let _ = s.out.flush();
    }
}

/// Report whether process `pid`'s events are traced.
fn wanted(pid: u32) -> bool {
    let only = PID.load(Ordering::Relaxed);
    only == 0 || only == pid
}

/// Write one line about thread `tid`.
fn emit(tid: u32, line: &str) {
    if let Some(s) = OUT.lock().as_mut() {
        let end = if s.crlf { "\r\n" } else { "\n" };
        let _ = write!(s.out, "[pid {tid}] {line}{end}");
    }
}

/// The process thread `tid` belongs to (not to be called with the
/// process table locked).
fn process_of(tid: u32) -> u32 {
    crate::proctab::get(tid).map_or(tid, |e| e.tgid)
}

// ---- system calls ----

/// How to show one system call argument.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    /// A number, in decimal.
    Int,
    /// An address or a value best read in hex.
    Hex,
    /// A descriptor, or AT_FDCWD.
    Fd,
    /// A NUL-terminated path.
    Path,
    /// A buffer the call reads, as long as the next argument.
    InBuf,
    /// A buffer the call fills, as long as its result.
    OutBuf,
    /// Permission bits, in octal.
    Mode,
    OpenFlags,
    Prot,
    MapFlags,
    CloneFlags,
    Signal,
    /// A NULL-terminated array of strings (execve's argv).
    Argv,
    /// execve's envp: only counted.
    Envp,
    Whence,
    /// An int[2] the call fills (pipe).
    FdPair,
    /// socketcall's first argument: which socket call.
    SockCall,
}

use Arg::*;

/// Argument kinds of the calls traced with decoded arguments; the others
/// show three arguments in hex.
static ARGS: &[(&str, &[Arg])] = &[
    ("exit", &[Int]),
    ("exit_group", &[Int]),
    ("fork", &[]),
    ("vfork", &[]),
    ("read", &[Fd, OutBuf, Int]),
    ("write", &[Fd, InBuf, Int]),
    ("pread64", &[Fd, OutBuf, Int, Int]),
    ("pwrite64", &[Fd, InBuf, Int, Int]),
    ("open", &[Path, OpenFlags, Mode]),
    ("openat", &[Fd, Path, OpenFlags, Mode]),
    ("creat", &[Path, Mode]),
    ("close", &[Fd]),
    ("waitpid", &[Int, Hex, Int]),
    ("wait4", &[Int, Hex, Int, Hex]),
    ("link", &[Path, Path]),
    ("unlink", &[Path]),
    ("unlinkat", &[Fd, Path, Hex]),
    ("execve", &[Path, Argv, Envp]),
    ("chdir", &[Path]),
    ("fchdir", &[Fd]),
    ("chmod", &[Path, Mode]),
    ("fchmod", &[Fd, Mode]),
    ("lseek", &[Fd, Int, Whence]),
    ("_llseek", &[Fd, Int, Int, Hex, Whence]),
    ("getpid", &[]),
    ("getppid", &[]),
    ("gettid", &[]),
    ("getuid32", &[]),
    ("geteuid32", &[]),
    ("getgid32", &[]),
    ("getegid32", &[]),
    ("access", &[Path, Int]),
    ("faccessat", &[Fd, Path, Int]),
    ("faccessat2", &[Fd, Path, Int, Hex]),
    ("kill", &[Int, Signal]),
    ("tkill", &[Int, Signal]),
    ("tgkill", &[Int, Int, Signal]),
    ("rename", &[Path, Path]),
    ("mkdir", &[Path, Mode]),
    ("mkdirat", &[Fd, Path, Mode]),
    ("rmdir", &[Path]),
    ("dup", &[Fd]),
    ("dup2", &[Fd, Fd]),
    ("dup3", &[Fd, Fd, OpenFlags]),
    ("pipe", &[FdPair]),
    ("pipe2", &[FdPair, OpenFlags]),
    ("brk", &[Hex]),
    ("ioctl", &[Fd, Hex, Hex]),
    ("fcntl", &[Fd, Int, Hex]),
    ("fcntl64", &[Fd, Int, Hex]),
    ("setpgid", &[Int, Int]),
    ("umask", &[Mode]),
    ("symlink", &[Path, Path]),
    ("readlink", &[Path, Hex, Int]),
    ("readlinkat", &[Fd, Path, Hex, Int]),
    ("munmap", &[Hex, Int]),
    ("mmap2", &[Hex, Int, Prot, MapFlags, Fd, Hex]),
    ("mprotect", &[Hex, Int, Prot]),
    ("clone", &[CloneFlags, Hex, Hex, Hex, Hex]),
    ("stat", &[Path, Hex]),
    ("lstat", &[Path, Hex]),
    ("fstat", &[Fd, Hex]),
    ("stat64", &[Path, Hex]),
    ("lstat64", &[Path, Hex]),
    ("fstat64", &[Fd, Hex]),
    ("fstatat64", &[Fd, Path, Hex, Hex]),
    ("statx", &[Fd, Path, Hex, Hex, Hex]),
    ("getdents", &[Fd, Hex, Int]),
    ("getdents64", &[Fd, Hex, Int]),
    ("readv", &[Fd, Hex, Int]),
    ("writev", &[Fd, Hex, Int]),
    ("getcwd", &[Hex, Int]),
    ("uname", &[Hex]),
    ("rt_sigaction", &[Signal, Hex, Hex, Int]),
    ("rt_sigprocmask", &[Int, Hex, Hex, Int]),
    ("rt_sigreturn", &[]),
    ("sigreturn", &[]),
    ("set_thread_area", &[Hex]),
    ("set_tid_address", &[Hex]),
    ("set_robust_list", &[Hex, Int]),
    ("nanosleep", &[Hex, Hex]),
    ("futex", &[Hex, Int, Int, Hex]),
    ("getrandom", &[Hex, Int, Hex]),
    ("sched_yield", &[]),
    ("setsid", &[]),
    ("getpgrp", &[]),
    ("pause", &[]),
    ("socketcall", &[SockCall, Hex]),
];

/// The argument kinds of call `name`.
fn arg_kinds(name: &str) -> &'static [Arg] {
    static DEFAULT: [Arg; 3] = [Hex, Hex, Hex];
    ARGS.iter().find(|x| x.0 == name).map_or(&DEFAULT, |x| x.1)
}

/// Calls whose result is an address, shown in hex.
fn hex_result(name: &str) -> bool {
    matches!(name, "brk" | "mmap" | "mmap2" | "mremap" | "shmat")
}

/// The longest string shown; longer ones end with "...", as strace's.
const STRLEN: usize = 32;

/// Run system call `e` for `p` with `args` and trace it.
pub fn syscall(p: &mut Process, nr: u32, e: Option<&'static SysEntry>, args: Args) -> SysResult {
    let run = |p: &mut Process| match e {
        Some(e) => (e.handler)(p, args),
        None => Err(Errno::ENOSYS),
    };
    if !wanted(p.pid) {
        return run(p);
    }
    let name = e.map_or_else(|| format!("syscall_{nr}"), |e| e.name.to_string());
    let kinds = arg_kinds(&name);
    // What the call reads is shown as it was before the call.
    let mut shown: Vec<Option<String>> = Vec::with_capacity(kinds.len());
    for (i, &k) in kinds.iter().enumerate() {
        let next = args.get(i + 1).copied().unwrap_or(0);
        shown.push(before(p, k, args[i], next));
    }
    let t0 = std::time::Instant::now();
    let res = run(p);
    let took = t0.elapsed();
    let mut line = format!("{name}(");
    for (i, &k) in kinds.iter().enumerate() {
        // Open's mode means something only with O_CREAT (or O_TMPFILE).
        if k == Mode && i > 0 && kinds[i - 1] == OpenFlags && args[i - 1] & 0o100 == 0 {
            break;
        }
        if i > 0 {
            line.push_str(", ");
        }
        let s = shown[i].take().unwrap_or_else(|| after(p, k, args[i], &res));
        line.push_str(&s);
    }
    line.push_str(") = ");
    match (&res, p.exit) {
        (_, Some(_)) if matches!(name.as_str(), "exit" | "exit_group") => line.push('?'),
        (Ok(v), _) if hex_result(&name) => {
            let _ = write!(line, "{v:#x}");
        }
        (Ok(v), _) => {
            let _ = write!(line, "{}", *v as i32);
        }
        (Err(e), _) => {
            let _ = write!(line, "-1 {} ({})", e.name(), describe(*e));
        }
    }
    let _ = write!(line, " <{} µs>", took.as_micros());
    emit(p.tid, &line);
    res
}

/// Show argument `v` of kind `k` before the call, if the call cannot
/// change what it shows; `next` is the following argument.
fn before(p: &mut Process, k: Arg, v: u32, next: u32) -> Option<String> {
    Some(match k {
        Int => (v as i32).to_string(),
        Hex => hex(v),
        Fd if v as i32 == -100 => "AT_FDCWD".into(),
        Fd => (v as i32).to_string(),
        Path => match p.read_cstr(v, 4096) {
            Ok(s) => quote(&s, usize::MAX),
            Err(_) => hex(v),
        },
        InBuf => buffer(p, v, next as usize),
        Mode => format!("{v:#o}"),
        OpenFlags => open_flags(v),
        Prot => prot(v),
        MapFlags => map_flags(v),
        CloneFlags => clone_flags(v),
        Signal => signal_name(v),
        Argv => argv(p, v),
        Envp => {
            let n = (0..4096).take_while(|i| p.read_u32(v.wrapping_add(i * 4)).is_ok_and(|x| x != 0)).count();
            format!("{} /* {n} vars */", hex(v))
        }
        Whence => match v {
            0 => "SEEK_SET".into(),
            1 => "SEEK_CUR".into(),
            2 => "SEEK_END".into(),
            _ => v.to_string(),
        },
        SockCall => {
            const CALLS: [&str; 21] = [
                "0",
                "SYS_SOCKET",
                "SYS_BIND",
                "SYS_CONNECT",
                "SYS_LISTEN",
                "SYS_ACCEPT",
                "SYS_GETSOCKNAME",
                "SYS_GETPEERNAME",
                "SYS_SOCKETPAIR",
                "SYS_SEND",
                "SYS_RECV",
                "SYS_SENDTO",
                "SYS_RECVFROM",
                "SYS_SHUTDOWN",
                "SYS_SETSOCKOPT",
                "SYS_GETSOCKOPT",
                "SYS_SENDMSG",
                "SYS_RECVMSG",
                "SYS_ACCEPT4",
                "SYS_RECVMMSG",
                "SYS_SENDMMSG",
            ];
            CALLS.get(v as usize).map_or_else(|| v.to_string(), |c| c.to_string())
        }
        OutBuf | FdPair => return None,
    })
}

/// Show argument `v` of kind `k` after the call returned `res`.
fn after(p: &mut Process, k: Arg, v: u32, res: &SysResult) -> String {
    match (k, res) {
        (OutBuf, Ok(n)) => buffer(p, v, *n as usize),
        (FdPair, Ok(_)) => match (p.read_u32(v), p.read_u32(v.wrapping_add(4))) {
            (Ok(a), Ok(b)) => format!("[{a}, {b}]"),
            _ => hex(v),
        },
        _ => hex(v),
    }
}

/// A guest address as strace shows it.
fn hex(v: u32) -> String {
    if v == 0 {
        "NULL".into()
    } else {
        format!("{v:#x}")
    }
}

/// `len` bytes at `addr`, quoted and cut at STRLEN.
fn buffer(p: &mut Process, addr: u32, len: usize) -> String {
    let mut b = vec![0u8; len.min(STRLEN + 1)];
    if p.uread(addr, &mut b).is_err() {
        return hex(addr);
    }
    quote(&b, STRLEN)
}

/// Quote bytes as a C string, with at most `max` of them then "...".
fn quote(b: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    let shown = &b[..b.len().min(max)];
    for (i, &c) in shown.iter().enumerate() {
        // An octal escape before a digit takes all three digits.
        let digit_next = shown.get(i + 1).is_some_and(|d| (b'0'..=b'7').contains(d));
        match c {
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ if digit_next => {
                let _ = write!(s, "\\{c:03o}");
            }
            _ => {
                let _ = write!(s, "\\{c:o}");
            }
        }
    }
    s.push('"');
    if b.len() > max {
        s.push_str("...");
    }
    s
}

/// execve's argv: the strings, quoted.
fn argv(p: &mut Process, addr: u32) -> String {
    let mut items = Vec::new();
    for i in 0..64u32 {
        match p.read_u32(addr.wrapping_add(i * 4)) {
            Ok(0) => break,
            Ok(s) => items.push(p.read_cstr(s, 4096).map_or_else(|_| hex(s), |b| quote(&b, usize::MAX))),
            Err(_) => return hex(addr),
        }
    }
    format!("[{}]", items.join(", "))
}

/// Spell out the set bits of `v` by `names`, the rest in hex.
fn bits(v: u32, names: &[(u32, &str)]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut left = v;
    for &(b, n) in names {
        if b != 0 && v & b == b {
            out.push(n.into());
            left &= !b;
        }
    }
    if left != 0 || out.is_empty() {
        out.push(format!("{left:#x}"));
    }
    out.join("|")
}

/// open(2) flags: the access mode, then the rest.
fn open_flags(v: u32) -> String {
    const NAMES: &[(u32, &str)] = &[
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o400, "O_NOCTTY"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o10000, "O_DSYNC"),
        (0o40000, "O_DIRECT"),
        (0o100000, "O_LARGEFILE"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"),
        (0o10000000, "O_PATH"),
    ];
    let acc = ["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][(v & 3) as usize];
    let rest = v & !3;
    if rest == 0 {
        acc.into()
    } else {
        format!("{acc}|{}", bits(rest, NAMES))
    }
}

/// mmap/mprotect protection.
fn prot(v: u32) -> String {
    if v == 0 {
        return "PROT_NONE".into();
    }
    bits(v, &[(1, "PROT_READ"), (2, "PROT_WRITE"), (4, "PROT_EXEC"), (0x0100_0000, "PROT_GROWSDOWN")])
}

/// mmap flags.
fn map_flags(v: u32) -> String {
    bits(
        v,
        &[
            (1, "MAP_SHARED"),
            (2, "MAP_PRIVATE"),
            (0x10, "MAP_FIXED"),
            (0x20, "MAP_ANONYMOUS"),
            (0x100, "MAP_GROWSDOWN"),
            (0x800, "MAP_DENYWRITE"),
            (0x2000, "MAP_LOCKED"),
            (0x4000, "MAP_NORESERVE"),
            (0x8000, "MAP_POPULATE"),
            (0x10000, "MAP_NONBLOCK"),
            (0x20000, "MAP_STACK"),
            (0x100000, "MAP_FIXED_NOREPLACE"),
        ],
    )
}

/// clone flags: the named bits, then the exit signal.
fn clone_flags(v: u32) -> String {
    const NAMES: &[(u32, &str)] = &[
        (0x100, "CLONE_VM"),
        (0x200, "CLONE_FS"),
        (0x400, "CLONE_FILES"),
        (0x800, "CLONE_SIGHAND"),
        (0x2000, "CLONE_PTRACE"),
        (0x4000, "CLONE_VFORK"),
        (0x8000, "CLONE_PARENT"),
        (0x10000, "CLONE_THREAD"),
        (0x20000, "CLONE_NEWNS"),
        (0x40000, "CLONE_SYSVSEM"),
        (0x80000, "CLONE_SETTLS"),
        (0x100000, "CLONE_PARENT_SETTID"),
        (0x200000, "CLONE_CHILD_CLEARTID"),
        (0x400000, "CLONE_DETACHED"),
        (0x1000000, "CLONE_CHILD_SETTID"),
    ];
    let sig = v & 0xff;
    let rest = v & !0xff;
    match (rest, sig) {
        (0, s) => signal_name(s),
        (r, 0) => bits(r, NAMES),
        (r, s) => format!("{}|{}", bits(r, NAMES), signal_name(s)),
    }
}

/// Signal names by number (i386 Linux).
const SIGNALS: [&str; 32] = [
    "0",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// The name of signal `s`.
pub fn signal_name(s: u32) -> String {
    match s {
        0..=31 => SIGNALS[s as usize].into(),
        32..=64 => format!("SIGRT_{}", s - 32),
        _ => s.to_string(),
    }
}

/// An errno's message, as strerror says it.
fn describe(e: Errno) -> String {
    let s = std::io::Error::from_raw_os_error(e as i32).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

// ---- signals, faults, exec, exits ----

/// si_code as strace names it, for signal `sig`.
fn si_code(sig: u32, code: i32) -> String {
    let named = match (sig, code) {
        (_, 0) => "SI_USER",
        (_, 0x80) => "SI_KERNEL",
        (_, -1) => "SI_QUEUE",
        (_, -2) => "SI_TIMER",
        (_, -6) => "SI_TKILL",
        (17, 1) => "CLD_EXITED",
        (17, 2) => "CLD_KILLED",
        (17, 3) => "CLD_DUMPED",
        (17, 4) => "CLD_TRAPPED",
        (17, 5) => "CLD_STOPPED",
        (17, 6) => "CLD_CONTINUED",
        (11, 1) => "SEGV_MAPERR",
        (11, 2) => "SEGV_ACCERR",
        (7, 1) => "BUS_ADRALN",
        (7, 2) => "BUS_ADRERR",
        (8, 1) => "FPE_INTDIV",
        (8, 2) => "FPE_INTOVF",
        (4, 2) => "ILL_ILLOPN",
        (4, 5) => "ILL_PRVOPC",
        (5, 1) => "TRAP_BRKPT",
        _ => return code.to_string(),
    };
    named.into()
}

/// Trace signal `info` taken by thread `p`: `what` says what became of it
/// ("" for a handler run, else e.g. "ignored", "killed").
pub fn signal(p: &Process, info: &SigInfo, what: &str) {
    if !wanted(p.pid) {
        return;
    }
    let sig = info.signo;
    let mut line =
        format!("--- {} {{si_signo={}, si_code={}", signal_name(sig), signal_name(sig), si_code(sig, info.code));
    match sig {
        4 | 5 | 7 | 8 | 11 if info.code > 0 => {
            let _ = write!(line, ", si_addr={}", hex(info.pid));
        }
        17 => {
            let _ = write!(line, ", si_pid={}, si_uid={}, si_status={}", info.pid, info.uid, info.value);
        }
        _ => {
            let _ = write!(line, ", si_pid={}, si_uid={}", info.pid, info.uid);
        }
    }
    line.push('}');
    if !what.is_empty() {
        let _ = write!(line, " ({what})");
    }
    line.push_str(" ---");
    emit(p.tid, &line);
}

/// Trace signal `info` delivered to thread `p`, whose action is `handler`
/// (0 the default, 1 ignore, else a handler's address).
pub fn delivered(p: &Process, info: &SigInfo, handler: u32) {
    use crate::signal::Default;
    let what = match handler {
        0 => match crate::signal::default_action(info.signo) {
            Default::Terminate => "default action: terminate",
            Default::Stop => "default action: stop",
            Default::Continue => "default action: continue",
            Default::Ignore => "default action: ignore",
        },
        1 => "ignored",
        _ => "",
    };
    signal(p, info, what);
}

/// Trace the end of thread `tid` of process `pid`, as strace's last line.
pub fn exited(tid: u32, pid: u32, st: crate::process::ExitStatus) {
    if !wanted(pid) {
        return;
    }
    match st {
        crate::process::ExitStatus::Code(c) => emit(tid, &format!("+++ exited with {} +++", c & 0xff)),
        crate::process::ExitStatus::Signal(s) => emit(tid, &format!("+++ killed by {} +++", signal_name(s as u32))),
    }
}

/// What a fault at `addr` will be, judged before `Mm::fault` resolves it
/// from the VMA and the page table.
pub fn fault_kind(mm: &Mm, addr: u32, write: bool) -> &'static str {
    use crate::mm::pagetable::pte;
    use crate::mm::vma::Backing;
    let vma = match mm.vmas.find(addr) {
        Some((_, v)) => v,
        None => match mm.vmas.next_above(addr) {
            Some((_, v)) if v.grows_down => return "stack growth, demand-zero",
            _ => return "invalid",
        },
    };
    match (mm.pt.get(addr >> 12), &vma.backing) {
        (None, Backing::Anon) => "demand-zero",
        (None, Backing::File { .. }) if write => "file, then copy-on-write",
        (None, Backing::File { .. }) => "file",
        (None, Backing::Shared { .. }) => "shared",
        (Some(e), _) if write && e.flags & pte::COW != 0 => {
            if crate::mm::memory().refs(e.frame) > 1 {
                "copy-on-write: copy"
            } else {
                "copy-on-write: last user keeps the frame"
            }
        }
        (Some(e), _) if write && e.flags & pte::WRITABLE == 0 => "first write to a shared page",
        (Some(_), _) => "in the page table already: map it",
    }
}

/// Trace a guest page fault of thread `p` at `addr` from `eip`: `kind`
/// from `fault_kind`, `bad` the signal if it could not be resolved.
pub fn fault(p: &Process, addr: u32, access: &str, eip: u32, kind: &str, bad: Option<(i32, i32)>) {
    if !wanted(p.pid) {
        return;
    }
    let mut line = format!("fault {addr:#x} {access} at eip {eip:#x}: {kind}");
    if let Some((sig, code)) = bad {
        let kind = if kind == "invalid" { "" } else { " (invalid)" };
        let _ = write!(line, "{kind} -> {} {}", signal_name(sig as u32), si_code(sig as u32, code));
    }
    emit(p.tid, &line);
}

/// Trace thread `tid` of process `pid` starting program `exe` with `argv`.
pub fn exec(tid: u32, pid: u32, exe: &str, argv: &[Vec<u8>]) {
    if !wanted(pid) {
        return;
    }
    let args: Vec<String> = argv.iter().map(|a| quote(a, usize::MAX)).collect();
    emit(tid, &format!("exec {} [{}]", quote(exe.as_bytes(), usize::MAX), args.join(", ")));
}

// ---- scheduling ----

/// What became of a task that left its vCPU.
pub enum Off {
    Runnable,
    Sleeping(u64),
    Exited,
}

/// The tasks of the `--trace-pid` process seen running, for tracing their
/// wakeups: `wakeup` may be called with the process table locked, so it
/// cannot ask that table whose a task is.
static TRACED_TASKS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Report whether task `tid`'s scheduling is traced, asking the process
/// table (never from under its lock).
fn task_wanted(tid: u32) -> bool {
    if PID.load(Ordering::Relaxed) == 0 {
        return true;
    }
    let yes = wanted(process_of(tid));
    let mut seen = TRACED_TASKS.lock();
    if yes && !seen.contains(&tid) {
        seen.push(tid);
    }
    yes
}

/// Trace task `tid` starting to run on vCPU `cpu`.
pub fn sched_in(tid: u32, cpu: usize) {
    if task_wanted(tid) {
        emit(tid, &format!("sched: runs on vcpu {cpu}"));
    }
}

/// Trace task `tid` leaving vCPU `cpu` after `ran` of CPU time.
pub fn sched_out(tid: u32, cpu: usize, how: Off, ran: std::time::Duration) {
    if !task_wanted(tid) {
        return;
    }
    let how = match how {
        Off::Runnable => "runnable".to_string(),
        Off::Sleeping(chan) => format!("sleeps on {chan:#x}"),
        Off::Exited => "exited".to_string(),
    };
    emit(tid, &format!("sched: leaves vcpu {cpu} after {} µs, {how}", ran.as_micros()));
}

/// Trace task `tid` being woken from a sleep on `chan`.
pub fn wakeup(tid: u32, chan: u64) {
    if PID.load(Ordering::Relaxed) == 0 || TRACED_TASKS.lock().contains(&tid) {
        emit(tid, &format!("sched: woken on {chan:#x}"));
    }
}

/// Trace task `tid` being woken from a sleep on `chan` by a signal.
pub fn interrupted(tid: u32, chan: u64) {
    if PID.load(Ordering::Relaxed) == 0 || TRACED_TASKS.lock().contains(&tid) {
        emit(tid, &format!("sched: woken by a signal from a sleep on {chan:#x}"));
    }
}

/// Trace the tick preempting thread `p`'s guest.
pub fn preempted(p: &Process) {
    if wanted(p.pid) {
        emit(p.tid, "sched: preempted by the tick");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds() {
        assert_eq!(parse("syscall").unwrap(), SYSCALL);
        assert_eq!(parse("fault,exec").unwrap(), FAULT | EXEC);
        assert_eq!(parse("all").unwrap(), SYSCALL | SIGNAL | FAULT | SCHED | EXEC);
        assert!(parse("syscall,bogus").is_err());
    }

    #[test]
    fn spells_flags() {
        assert_eq!(open_flags(0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(open_flags(0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(prot(3), "PROT_READ|PROT_WRITE");
        assert_eq!(prot(0), "PROT_NONE");
        assert_eq!(map_flags(0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(clone_flags(0x01200011), "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD");
        assert_eq!(signal_name(17), "SIGCHLD");
        assert_eq!(si_code(17, 1), "CLD_EXITED");
    }

    #[test]
    fn quotes_like_strace() {
        assert_eq!(quote(b"hi\n", 32), "\"hi\\n\"");
        assert_eq!(quote(b"abcdef", 3), "\"abc\"...");
        assert_eq!(quote(&[0, 200], 32), "\"\\0\\310\"");
    }
}
