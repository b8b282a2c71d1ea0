//! vxos: a user-level kernel that runs unmodified i386 Linux programs
//! through the vx-core translator.
//!
//! This file is the command line; the kernel itself is in the modules.
// Unsafe code lives in four modules, each saying why: mm/frame.rs (the view
// of physical memory), swtch.rs and sched.rs (kernel stacks and the switch
// between them), group.rs (state the threads of a process share).
#![deny(unsafe_code)]

mod devcmd;
mod devkinfo;
mod devproc;
mod devpts;
mod ending;
mod epoll;
mod errno;
mod evfd;
mod exec;
mod export;
mod files;
mod futex;
mod group;
mod hostexec;
mod inet;
mod locks;
mod mm;
mod ns;
mod nsboot;
mod pipe;
mod process;
mod proctab;
mod procview;
mod progcache;
mod sched;
mod signal;
mod socket;
mod swtch;
mod syscall;
mod timers;
mod top;
mod trace;
mod tty;

use clap::{Parser, Subcommand};
use process::{ExitStatus, Process};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "vxos", version, about = "Run unmodified i386 Linux programs in a user-level kernel")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// What to trace, and where (`trace/`).
#[derive(clap::Args)]
struct TraceOpts {
    /// Trace what the kernel does, strace-like: a comma-separated list of
    /// syscall, signal, fault, sched, exec, translate (blocks translated,
    /// code dropped, cache flushes), or all.
    #[arg(long, value_name = "KINDS", value_parser = trace::parse)]
    trace: Option<u32>,
    /// Trace only process N (its threads included).
    #[arg(long, value_name = "N")]
    trace_pid: Option<u32>,
    /// Write the trace to host file F instead of stderr.
    #[arg(long, value_name = "F")]
    trace_file: Option<PathBuf>,
    /// Record which task ran on which vCPU when, with system calls, page
    /// faults and preemptions, and write it to host file FILE when vxos
    /// ends (also on SIGTERM, SIGINT, SIGHUP or SIGQUIT) as Chrome
    /// trace-event JSON: open it in ui.perfetto.dev or chrome://tracing.
    /// At most 524288 events per vCPU are kept; the file counts those
    /// dropped (otherData.dropped_events).
    #[arg(long, value_name = "FILE")]
    timeline: Option<PathBuf>,
}

impl TraceOpts {
    /// Start tracing as asked; `console` says stderr is the raw console
    /// (`vxos boot`). Exits if the trace file cannot be made.
    fn start(&self, console: bool) {
        if !cfg!(feature = "trace") && (self.trace.is_some() || self.timeline.is_some()) {
            eprintln!("vxos: this vxos was built without the trace feature: no --trace or --timeline");
            std::process::exit(2);
        }
        if let Some(f) = &self.timeline {
            if let Err(e) = trace::start_timeline(f) {
                eprintln!("vxos: --timeline {}: {e}", f.display());
                std::process::exit(2);
            }
        }
        let Some(kinds) = self.trace else { return };
        if let Err(e) = trace::start(kinds, self.trace_pid, self.trace_file.as_deref(), console) {
            let f = self.trace_file.as_deref().unwrap_or(std::path::Path::new("")).display();
            eprintln!("vxos: --trace-file {f}: {e}");
            std::process::exit(1);
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Run an i386 ELF program (static, or dynamically linked with its loader in the guest root) with the host's stdin, stdout and
    /// stderr; exit with its status (128+N if signal N killed it).
    ///
    /// The guest sees the root file system (read-only, with an in-memory
    /// file system over it taking new files), /dev, /tmp (in memory) and
    /// /proc, and the host's current directory at its own path (read-only,
    /// new files staying in the guest). Nothing the guest writes reaches
    /// the host except through a --bind ...:rw.
    Run {
        /// The host directory that is the guest's root file system
        /// (default: build/rootfs, made by scripts/setup.sh).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Serve host directory HOST at guest path GUEST, read-only, or
        /// writable with :rw (repeatable).
        #[arg(long = "bind", value_name = "HOST:GUEST[:rw]")]
        binds: Vec<nsboot::Bind>,
        /// Scheduler ticks a second: a guest that runs a whole tick gives
        /// the vCPU to the next runnable task.
        #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10000))]
        hz: u32,
        /// vCPUs: host threads that run guest tasks in parallel (default:
        /// the host's cores). Threads of one process take turns.
        #[arg(long, value_name = "N", env = "VXOS_CPUS", value_parser = clap::value_parser!(u32).range(1..=64))]
        cpus: Option<u32>,
        /// Print system call and translator counters to stderr at exit.
        #[arg(long)]
        stats: bool,
        #[command(flatten)]
        trace: TraceOpts,
        /// Guest RAM: the size of the memory file (e.g. 512M, 4G);
        /// default three quarters of the host's.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        mem: Option<u64>,
        /// Serve the program's namespace at host directory DIR through FUSE
        /// while vxos runs (see `vxos exec`). DIR/.vxos/ctl says whose
        /// namespace it is; writing `pid N` to it serves process N's.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
        /// Export the namespace of process N instead (waiting, with only
        /// DIR/.vxos shown, until N exists).
        #[arg(long, value_name = "N", requires = "export")]
        export_pid: Option<u32>,
        /// The program to run.
        program: PathBuf,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Boot the guest system: init builds the namespace (the root file
    /// system, then its /lib/namespace), makes the console a terminal and
    /// starts a login shell (the user's shell in /etc/passwd) on it. `exit`, ^D or `poweroff` in
    /// the shell ends vxos.
    Boot {
        /// The host directory that is the guest's root file system
        /// (default: build/rootfs, made by scripts/setup.sh).
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Serve host directory HOST at guest path GUEST, read-only, or
        /// writable with :rw (repeatable).
        #[arg(long = "bind", value_name = "HOST:GUEST[:rw]")]
        binds: Vec<nsboot::Bind>,
        /// vCPUs (default: the host's cores).
        #[arg(long, value_name = "N", env = "VXOS_CPUS", value_parser = clap::value_parser!(u32).range(1..=64))]
        cpus: Option<u32>,
        /// Guest RAM (e.g. 512M, 4G); default three quarters of the host's.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        mem: Option<u64>,
        /// Scheduler ticks a second.
        #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10000))]
        hz: u32,
        /// Serve init's namespace at host directory DIR through FUSE while
        /// vxos runs (see `vxos exec`). DIR/.vxos/ctl says whose namespace
        /// it is; writing `pid N` to it serves process N's.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
        /// Export the namespace of process N instead (waiting, with only
        /// DIR/.vxos shown, until N exists).
        #[arg(long, value_name = "N", requires = "export")]
        export_pid: Option<u32>,
        #[command(flatten)]
        trace: TraceOpts,
    },
    /// Run PROGRAM in the guest whose namespace is exported at DIR (`vxos
    /// boot|run --export DIR`), through DIR/dev/cmd alone: its stdin,
    /// stdout and stderr are this command's, ^C kills it, and the exit
    /// status is its (128+N if signal N killed it).
    Exec {
        /// Its working directory in the guest (default /).
        #[arg(long, value_name = "PATH")]
        cwd: Option<String>,
        /// Add NAME=value to its environment (repeatable).
        #[arg(long = "env", value_name = "NAME=VALUE")]
        env: Vec<String>,
        /// The export's host directory.
        dir: PathBuf,
        /// The program (a guest path) and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "PROGRAM [ARGS...]")]
        command: Vec<String>,
    },
    /// Show the tasks, their states and counters, and a bar per vCPU of
    /// the guest whose namespace is exported at DIR (`vxos boot|run
    /// --export DIR`), refreshed every few seconds.
    Top {
        /// Refresh this many times, then exit (default: until ^C).
        #[arg(short = 'n', long = "count", value_name = "COUNT", default_value_t = 0)]
        count: u64,
        /// Seconds between refreshes.
        #[arg(short = 'd', long = "delay", value_name = "SECONDS", default_value_t = 2.0, value_parser = parse_delay)]
        delay: f64,
        /// The export's host directory.
        dir: PathBuf,
    },
    /// List the system calls vxos implements and how completely.
    Syscalls,
}

fn main() {
    procview::mark_boot();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run { root, binds, hz, cpus, stats, trace, mem, export, export_pid, program, args } => {
            ending::watch();
            let (root, export) = prepare(mem, root, cpus, export.map(|d| (d, export_pid)));
            trace.start(false);
            let status = run(root, binds, hz, stats, export, program, args);
            save_xcache();
            ending::exit(status)
        }
        Cmd::Boot { root, binds, cpus, mem, hz, export, export_pid, trace } => {
            ending::watch();
            let (root, export) = prepare(mem, root, cpus, export.map(|d| (d, export_pid)));
            trace.start(rustix::termios::isatty(std::io::stderr()));
            let status = boot(root, binds, hz, export);
            save_xcache();
            ending::exit(status)
        }
        Cmd::Exec { cwd, env, dir, command } => std::process::exit(hostexec::exec(&dir, cwd, &env, &command)),
        Cmd::Top { count, delay, dir } => {
            std::process::exit(top::top(&dir, count, std::time::Duration::from_secs_f64(delay)))
        }
        Cmd::Syscalls => {
            for e in syscall::list() {
                let s = match e.support {
                    syscall::Support::Full => "full".to_string(),
                    syscall::Support::Partial(why) => format!("partial: {why}"),
                };
                println!("{:4} {:20} {}", e.nr, e.name, s);
            }
        }
    }
}

/// What to export, and where: --export DIR and --export-pid N.
type ExportOpt = (PathBuf, Option<u32>);

/// What `run` and `boot` set up alike: guest memory, the root directory,
/// the vCPUs and the --export directory; exit with a message if one fails.
fn prepare(
    mem: Option<u64>,
    root: Option<PathBuf>,
    cpus: Option<u32>,
    export: Option<ExportOpt>,
) -> (PathBuf, Option<ExportOpt>) {
    if let Err(e) = mm::init_memory(mem.unwrap_or_else(mm::default_memory)) {
        eprintln!("vxos: cannot create guest memory: {e}");
        std::process::exit(1);
    }
    let root = match root.map(Ok).unwrap_or_else(default_root) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vxos: {e}");
            std::process::exit(1);
        }
    };
    let cpus = cpus.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |n| n as usize);
    sched::set_cpus(cpus);
    open_xcache();
    (root, export_dir(export))
}

/// The directory of translations kept from run to run: $VXOS_XCACHE
/// ("off": none), else $XDG_CACHE_HOME/vxos, else ~/.cache/vxos; and
/// whether the user chose it (then trouble with it is reported).
fn xcache_dir() -> Option<(PathBuf, bool)> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    match var("VXOS_XCACHE") {
        Some(v) if v.as_os_str() == "off" => None,
        Some(v) => Some((v, true)),
        None => var("XDG_CACHE_HOME")
            .map(|x| x.join("vxos"))
            .or_else(|| var("HOME").map(|h| h.join(".cache/vxos")))
            .map(|d| (d, false)),
    }
}

/// Start from the translations earlier runs kept (vx_core::xcache).
fn open_xcache() {
    if let Some((dir, chosen)) = xcache_dir() {
        if let Err(e) = vx_core::xcache::open(&dir) {
            if chosen {
                eprintln!("vxos: VXOS_XCACHE: not keeping translations in {}: {e}", dir.display());
            }
        }
    }
}

/// Keep this run's new translations for the next runs.
fn save_xcache() {
    if let Err(e) = vx_core::xcache::save().and_then(|_| progcache::persist()) {
        if xcache_dir().is_some_and(|d| d.1) {
            eprintln!("vxos: VXOS_XCACHE: cannot save translations: {e}");
        }
    }
}

/// Check an --export directory before anything starts; exit if unusable
/// (status 2 if a mount is in the way).
fn export_dir(export: Option<ExportOpt>) -> Option<ExportOpt> {
    let (dir, pid) = export?;
    match export::check_dir(&dir) {
        Ok(d) => Some((d, pid)),
        Err((e, status)) => {
            eprintln!("vxos: --export {e}");
            std::process::exit(status);
        }
    }
}

/// Start the export of the namespace of process `first` (`ns`), or of
/// the --export-pid process; false (said) if it cannot start.
fn start_export(export: Option<ExportOpt>, first: u32, ns: &ns::NsRef) -> bool {
    let Some((dir, pid)) = export else { return true };
    let (pid, ns) = match pid {
        Some(p) if p != first => (p, devproc::entry(p).and_then(|e| e.ns)),
        _ => (first, Some(ns.clone())),
    };
    match export::start(pid, ns, &dir) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("vxos: --export {e}");
            false
        }
    }
}

/// Parse `top`'s delay: seconds, at least a hundredth.
fn parse_delay(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(d) if (0.01..=86400.0).contains(&d) => Ok(d),
        _ => Err(format!("{s:?} is not a number of seconds from 0.01 to 86400")),
    }
}

/// Parse a size such as 4096, 64K, 512M or 4G.
fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown size suffix {c:?} (use K, M, G or T)")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let bytes = n.checked_mul(mult).ok_or_else(|| format!("size too large: {s}"))?;
    if bytes < 1 << 20 {
        return Err(format!("guest memory must be at least 1M, not {s}"));
    }
    Ok(bytes)
}

/// The root file system scripts/setup.sh builds: build/rootfs of the tree
/// this vxos was built in (or $VXOS_ROOT).
fn default_root() -> Result<PathBuf, String> {
    if let Some(r) = std::env::var_os("VXOS_ROOT") {
        return Ok(PathBuf::from(r));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the vxos binary: {e}"))?;
    let candidates = exe.ancestors().skip(1).take(4).map(|d| d.join("build/rootfs")).collect::<Vec<_>>();
    candidates.iter().find(|d| d.is_dir()).cloned().ok_or_else(|| {
        "no root file system: run scripts/setup.sh to build build/rootfs, or pass --root DIR".to_string()
    })
}

/// The guest is a machine of its own: its name is the root's
/// /etc/hostname (which its /etc/hosts lists), under `run` as under `boot`.
fn take_hostname(ns: &ns::Namespace) {
    if let Ok(name) = nsboot::read_file(ns, "/etc/hostname") {
        let name = name.trim();
        if !name.is_empty() {
            syscall::sys_info::set_nodename(name.as_bytes());
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    root: PathBuf,
    binds: Vec<nsboot::Bind>,
    hz: u32,
    stats: bool,
    export: Option<ExportOpt>,
    program: PathBuf,
    args: Vec<OsString>,
) -> i32 {
    let mut argv = vec![program.as_os_str().as_bytes().to_vec()];
    argv.extend(args.iter().map(|a| a.as_bytes().to_vec()));
    let envp: Vec<Vec<u8>> = std::env::vars_os()
        .map(|(k, v)| {
            let mut s = k.as_bytes().to_vec();
            s.push(b'=');
            s.extend_from_slice(v.as_bytes());
            s
        })
        .collect();
    // The guest's umask alone decides the modes of files it makes, also
    // in host directories bound writable.
    rustix::process::umask(rustix::fs::Mode::empty());
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let opts = nsboot::Options { root, binds, cwd, env: envp.clone() };
    let (mut ns, cwd) = match nsboot::boot(&opts) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("vxos: cannot build the namespace: {e}");
            return 1;
        }
    };
    // $HOME is there and takes new files (in a ramfs), as a home does.
    if let Some(home) = std::env::var("HOME").ok().filter(|h| h.starts_with('/') && h.len() > 1 && !h.contains("/..")) {
        let (uid, gid) = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        if let Err(e) = nsboot::make_home(&mut ns, home.trim_end_matches('/'), uid, gid) {
            eprintln!("vxos: cannot make {home}: {}", nsboot::describe(e));
        }
    }
    let mut path = program.to_string_lossy().into_owned();
    if let Ok(abs) = std::path::absolute(&program) {
        match nsboot::reach_program(&mut ns, &abs) {
            Ok(Some(real)) => path = real.to_string_lossy().into_owned(),
            Ok(None) => {}
            Err(e) => {
                eprintln!("vxos: {e}");
                return 1;
            }
        }
    }
    let pid = proctab::create_first();
    take_hostname(&ns);
    let ns = ns::NsRef::new(ns);
    let mut p = match Process::spawn(ns.clone(), cwd, &path, &argv, &envp, pid) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("vxos: {}: {}", program.display(), e);
            return e.exit_status();
        }
    };
    if !start_export(export, pid, &ns) {
        return 1;
    }
    if trace::on(trace::EXEC) {
        trace::exec(pid, pid, &devproc::entry(pid).map(|e| e.exe).unwrap_or_default(), &argv);
    }
    let group = p.guest.id() as u64;
    let init = move || {
        let status = p.run();
        if let Some(path) = std::env::var_os("VXOS_DUMP_CODE") {
            let (code, blocks) = p.guest.dump_code();
            let _ = std::fs::write(&path, code);
            let list: String = blocks.iter().map(|(h, e)| format!("{h:x} {e:x}\n")).collect();
            let _ = std::fs::write(std::path::Path::new(&path).with_extension("blocks"), list);
        }
        if stats {
            print_stats(&p, status);
        }
        p.finish(status);
    };
    if let Err(e) = sched::spawn(pid, group, init) {
        eprintln!("vxos: cannot start the first process: {e}");
        return 1;
    }
    // The tick: a guest that runs through a whole slice gives the vCPU to
    // the next runnable task.
    let slice = std::time::Duration::from_micros(1_000_000 / hz as u64);
    std::thread::spawn(move || loop {
        std::thread::sleep(slice);
        sched::preempt_current();
    });
    let init_done = || proctab::first_status().is_some();
    // vCPUs 1.. on threads of their own; this thread is vCPU 0.
    for c in 1..sched::cpus() {
        let spawned = std::thread::Builder::new().name(format!("vcpu{c}")).spawn(move || sched::run_cpu(c, init_done));
        if let Err(e) = spawned {
            eprintln!("vxos: cannot start vCPU {c}: {e}");
            return 1;
        }
    }
    if !sched::run(init_done) && !init_done() {
        eprintln!("vxos: every process is waiting and nothing can wake them");
        return 1;
    }
    match proctab::first_status() {
        Some(st) => st.shell_status(),
        None => 1,
    }
}

/// The login shell /etc/passwd gives user `uid`, else root's, else /bin/sh.
fn login_shell(ns: &ns::Namespace, uid: u32) -> String {
    let text = nsboot::read_file(ns, "/etc/passwd").unwrap_or_default();
    let shell_of = |uid: u32| {
        text.lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 7 && f[2].parse() == Ok(uid))
            .map(|f| f[6].to_string())
            .filter(|s| s.starts_with('/') && ns.namei(&ns.root(), s, true).is_ok())
    };
    shell_of(uid).or_else(|| shell_of(0)).unwrap_or_else(|| "/bin/sh".to_string())
}

/// The signals that ask init to shut down, as busybox's poweroff, halt
/// and reboot send them: SIGUSR2, SIGUSR1, SIGTERM.
const SHUTDOWN_SIGNALS: u64 = 1 << (12 - 1) | 1 << (10 - 1) | 1 << (15 - 1);

/// `vxos boot`: init's work. Returns vxos's exit status.
fn boot(root: PathBuf, binds: Vec<nsboot::Bind>, hz: u32, export: Option<ExportOpt>) -> i32 {
    let ids = [
        rustix::process::getuid().as_raw(),
        rustix::process::geteuid().as_raw(),
        rustix::process::getgid().as_raw(),
        rustix::process::getegid().as_raw(),
    ];
    let user = std::env::var("USER").ok().filter(|u| !u.is_empty() && ids[1] != 0).unwrap_or_else(|| "root".into());
    let home = if ids[1] == 0 { "/root".to_string() } else { format!("/home/{user}") };
    let term = std::env::var("TERM").ok().filter(|t| !t.is_empty()).unwrap_or_else(|| "vt100".into());
    let envp: Vec<Vec<u8>> = [
        format!("HOME={home}"),
        "PATH=/bin:/sbin:/usr/bin:/usr/sbin".into(),
        format!("TERM={term}"),
        format!("USER={user}"),
        format!("LOGNAME={user}"),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect();
    let opts = nsboot::Options { root, binds, cwd: PathBuf::from("/"), env: envp.clone() };
    let (mut ns, _) = match nsboot::boot_from_file(&opts) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("vxos: cannot build the boot namespace: {e}");
            return 1;
        }
    };
    if let Err(e) = nsboot::make_home(&mut ns, &home, ids[1], ids[3]) {
        eprintln!("vxos: cannot make {home}: {}", nsboot::describe(e));
    }
    take_hostname(&ns);
    let r = ns.root();
    let cwd = ns.namei(&r, &home, true).unwrap_or(r);
    // The console: the host's terminal, raw, under our line discipline.
    use std::os::fd::AsFd;
    let dup = |fd: std::os::fd::BorrowedFd| fd.try_clone_to_owned().map(std::fs::File::from);
    let (input, output) = match (dup(std::io::stdin().as_fd()), dup(std::io::stdout().as_fd())) {
        (Ok(i), Ok(o)) => (i, o),
        _ => {
            eprintln!("vxos: boot needs a standard input and output");
            return 1;
        }
    };
    let _raw = tty::HostTerm::raw(&std::io::stdin());
    let console = match tty::start(input, output) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("vxos: cannot start the console: {e}");
            return 1;
        }
    };
    // The shell: pid 2, a login shell leading its own session, whose
    // controlling terminal is the console.
    let pid = proctab::create_first();
    proctab::update(pid, |e| {
        e.sid = pid;
        e.pgid = pid;
    });
    // The user's shell from /etc/passwd (busybox's ash for root, with line
    // editing), else /bin/sh; argv[0] "-name" makes it a login shell.
    let shell = login_shell(&ns, ids[1]);
    let name = shell.rsplit('/').next().unwrap_or("sh");
    let argv = vec![format!("-{name}").into_bytes()];
    let mut envp = envp;
    envp.retain(|e| !e.starts_with(b"SHELL="));
    envp.push(format!("SHELL={shell}").into_bytes());
    let ns = ns::NsRef::new(ns);
    let mut p = match Process::spawn(ns.clone(), cwd, &shell, &argv, &envp, pid) {
        Ok(p) => p,
        Err(e) => {
            tty::restore();
            eprintln!("vxos: {shell}: {e}");
            return e.exit_status();
        }
    };
    // The export serves init's namespace, which the shell starts in.
    if !start_export(export, 1, &ns) {
        tty::restore();
        return 1;
    }
    if trace::on(trace::EXEC) {
        trace::exec(pid, pid, &devproc::entry(pid).map(|e| e.exe).unwrap_or_default(), &argv);
    }
    p.files = group::Shared::new(files::FdTable::with_tty(&console));
    devproc::set_fds(p.pid, p.files.view());
    console.give_to(pid, pid);
    let group = p.guest.id() as u64;
    let shell = move || {
        let status = p.run();
        p.finish(status);
    };
    if let Err(e) = sched::spawn(pid, group, shell) {
        eprintln!("vxos: cannot start the shell: {e}");
        return 1;
    }
    // Init ends when the shell does, or when asked to shut down.
    let done =
        || proctab::first_status().is_some() || proctab::get(1).is_some_and(|e| e.pending & SHUTDOWN_SIGNALS != 0);
    let slice = std::time::Duration::from_micros(1_000_000 / hz as u64);
    std::thread::spawn(move || loop {
        std::thread::sleep(slice);
        if done() {
            sched::stop();
        }
        sched::preempt_current();
    });
    for c in 1..sched::cpus() {
        let spawned = std::thread::Builder::new().name(format!("vcpu{c}")).spawn(move || sched::run_cpu(c, done));
        if let Err(e) = spawned {
            eprintln!("vxos: cannot start vCPU {c}: {e}");
            return 1;
        }
    }
    sched::run(done);
    tty::restore();
    match proctab::first_status() {
        Some(st) => st.shell_status(),
        None => 0,
    }
}

fn print_stats(p: &Process, status: ExitStatus) {
    let s = p.guest.stats();
    eprintln!("vxos: exit {status:?}");
    eprintln!(
        "vxos: translator: {} blocks, {} chained, {} entries, {} indirect misses, {} helper exits, {} self-modifying writes, {} invalidated, {} flushes",
        s.cache.blocks, s.cache.chained, s.entries, s.misses, s.helpers, s.smc_faults, s.cache.invalidated, s.cache.flushes
    );
    let (mhits, mmisses, _, _) = vx_core::memo::stats();
    let (records, xhits) = vx_core::xcache::stats();
    eprintln!(
        "vxos: shared translations: {mhits} reused, {mmisses} not found; disk cache: {records} records, {xhits} used, \
         {} blocks of the program restored",
        s.cache.restored
    );
    let m = p.mm.stats;
    eprintln!(
        "vxos: memory: {} resident pages, {} faults, {} copy-on-write copies, {} host mappings, {} evictions",
        p.mm.resident(),
        m.minor_faults,
        m.cow_copies,
        m.host_maps,
        m.evictions
    );
    eprintln!("vxos: system calls: {}", s.syscalls);
    for (nr, &n) in p.stats.counts.iter().enumerate().filter(|c| *c.1 > 0) {
        match syscall::entry(nr as u32) {
            Some(e) => eprintln!("vxos:   {:20} {n}", e.name),
            None => eprintln!("vxos:   unknown #{nr:<11} {n} (ENOSYS)"),
        }
    }
    if p.stats.other > 0 {
        eprintln!("vxos:   numbers >= 512     {} (ENOSYS)", p.stats.other);
    }
}
