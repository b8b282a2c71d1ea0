//! Tracing system calls: each call as one strace-like line.
//!
//! Calls are decoded from a table of argument kinds by call name
//! (`ARGS`): paths and short strings are read from guest memory (before
//! the call for what it reads, after it for what it wrote), flags are
//! spelled out, failures carry their errno's name, and each line ends with
//! the call's duration. Calls not in the table show three arguments in hex.

use super::{emit, hex, quote, signal_name, wanted};
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::syscall::{Args, SysEntry};
use std::fmt::Write as _;

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
pub(super) fn traced(p: &mut Process, nr: u32, e: Option<&'static SysEntry>, args: Args) -> SysResult {
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

/// `len` bytes at `addr`, quoted and cut at STRLEN.
fn buffer(p: &mut Process, addr: u32, len: usize) -> String {
    let mut b = vec![0u8; len.min(STRLEN + 1)];
    if p.uread(addr, &mut b).is_err() {
        return hex(addr);
    }
    quote(&b, STRLEN)
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

/// An errno's message, as strerror says it.
fn describe(e: Errno) -> String {
    let s = std::io::Error::from_raw_os_error(e as i32).to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_flags() {
        assert_eq!(open_flags(0o2000000), "O_RDONLY|O_CLOEXEC");
        assert_eq!(open_flags(0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(prot(3), "PROT_READ|PROT_WRITE");
        assert_eq!(prot(0), "PROT_NONE");
        assert_eq!(map_flags(0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(clone_flags(0x01200011), "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD");
    }
}
