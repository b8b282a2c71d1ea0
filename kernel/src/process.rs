//! A process: one guest (address space and CPU), its memory map, file
//! descriptors, signal dispositions and identity, and the loop that runs
//! it: run the guest, handle its system calls and faults, until it exits.
//! (T1 runs one single-threaded process; T4 brings tasks and scheduling.)

use crate::devproc;
use crate::errno::Errno;
use crate::exec::{self, ExecError};
use crate::files::{FdTable, Open};
use crate::group::{Cpus, Shared};
use crate::mm::fault::Access;
use crate::mm::Mm;
use crate::ns::{Chan, NsRef};
use crate::progcache;
use crate::signal::{bit, AltStack, SigInfo};
use crate::syscall;
use devices::{Cred, FileType, OpenMode};
use std::rc::Rc;
use std::sync::Arc;
use vx_core::state::EAX;
use vx_core::{Guest, Trap};

mod fork;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    /// The status a shell reports: the code, or 128 + the signal.
    pub fn shell_status(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c & 0xff,
            ExitStatus::Signal(s) => 128 + s,
        }
    }
}

/// A signal disposition as rt_sigaction(2) stores it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SigAction {
    pub handler: u32,
    pub flags: u32,
    pub restorer: u32,
    pub mask: u64,
}

/// Per-process system call counters (for `--stats`).
pub struct SysStats {
    /// Calls by number; numbers without a handler count as unknown.
    pub counts: Box<[u64; 512]>,
    pub other: u64,
}

impl Default for SysStats {
    fn default() -> SysStats {
        SysStats { counts: Box::new([0; 512]), other: 0 }
    }
}

/// A thread of a process: a task with its own CPU state, signal mask and
/// pending signals, sharing the process's address space, descriptors and
/// signal actions with its other threads (`group.rs`). A single-threaded
/// process is one of these.
pub struct Process {
    pub guest: Shared<Guest>,
    pub mm: Shared<Mm>,
    pub files: Shared<FdTable>,
    pub sigactions: Shared<[SigAction; 65]>,
    /// Whose CPU state the shared guest holds.
    pub cpus: Rc<Cpus>,
    /// The thread id (the process id for the first thread).
    pub tid: u32,
    /// Written 0 and woken as a futex when the thread exits
    /// (set_tid_address, CLONE_CHILD_CLEARTID).
    pub clear_tid: u32,
    /// The process's view of the files (Plan 9's namespace).
    pub ns: NsRef,
    /// Working directory and umask, shared by threads cloned with CLONE_FS.
    pub fs: Shared<FsState>,
    pub pid: u32,
    /// Real, effective user and group ids: uid, euid, gid, egid.
    pub ids: [u32; 4],
    /// The saved set-user-id and set-group-id.
    pub saved_ids: [u32; 2],
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// Resource limits (soft, hard) by RLIMIT_ number.
    pub rlimits: [(u64, u64); 16],
    pub sigmask: u64,
    /// Signals waiting for delivery, and what each carries.
    pub pending: u64,
    pub sig_info: [Option<SigInfo>; 65],
    /// The mask to restore after a handler run from sigsuspend.
    pub saved_mask: Option<u64>,
    pub altstack: AltStack,
    /// The system call a signal interrupted, to run again (SA_RESTART).
    pub restart: Option<u32>,
    pub exit: Option<ExitStatus>,
    /// The exit ends this thread only (exit, not exit_group or a signal).
    pub thread_exit_only: bool,
    pub stats: SysStats,
}

/// What Linux's CLONE_FS shares: the working directory and the umask.
pub struct FsState {
    pub cwd: Chan,
    /// The working directory held open, so it lives while it is used,
    /// even once removed (as a Linux cwd does).
    hold: Option<Open>,
    pub umask: u32,
}

impl FsState {
    fn new(cwd: Chan, umask: u32) -> FsState {
        FsState { hold: hold(&cwd), cwd, umask }
    }

    /// A copy of its own (for a new process, or unshare).
    pub fn copy(&self) -> FsState {
        FsState::new(self.cwd.clone(), self.umask)
    }
}

/// VXOS_STATS: each thread reports its translator and memory counters on
/// stderr when it ends.
fn debug_stats() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("VXOS_STATS").is_some())
}

/// VXOS_DEBUG_FAULTS: print every page fault and its outcome (read once).
fn debug_faults() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("VXOS_DEBUG_FAULTS").is_some())
}

/// Signals whose default action is to ignore them.
fn default_ignored(sig: u32) -> bool {
    crate::signal::default_action(sig) == crate::signal::Default::Ignore
}

impl Process {
    /// Load the program at `path` in namespace `ns` as a new process with
    /// `argv` and `envp`, working in `cwd`.
    pub fn spawn(
        ns: NsRef,
        cwd: Chan,
        path: &str,
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
        pid: u32,
    ) -> Result<Process, ExecError> {
        let ids = [
            rustix::process::getuid().as_raw(),
            rustix::process::geteuid().as_raw(),
            rustix::process::getgid().as_raw(),
            rustix::process::getegid().as_raw(),
        ];
        let cred = Cred { uid: ids[1], gid: ids[3] };
        let prog = open_program(&ns, &cwd, path, cred).map_err(|e| ExecError::Io(e.into()))?;
        let exe = prog.chan.path_string();
        let mut guest = Guest::new().map_err(ExecError::Memory)?;
        let mut mm = Mm::new(0);
        let open_interp = |path: &str| -> Result<Arc<dyn crate::mm::vma::Pager>, ExecError> {
            let f = open_program(&ns, &cwd, path, cred).map_err(|e| ExecError::Io(e.into()))?;
            Ok(f)
        };
        exec::load(&mut guest, &mut mm, prog, argv, envp, ids, &open_interp)?;
        crate::trace::for_task(pid, || progcache::attach(&mut guest, &mut mm));
        devproc::register(
            pid,
            devproc::ProcEntry {
                exe: exe.clone(),
                comm: devproc::comm_of(path),
                cmdline: argv.iter().flat_map(|a| a.iter().copied().chain([0])).collect(),
                ns: Some(ns.clone()),
                uid: ids[1],
                gid: ids[3],
                fds: None,
                nice: 0,
                affinity: 0,
            },
        );
        let files = FdTable::with_stdio();
        devproc::set_fds(pid, files.view());
        Ok(Process {
            guest: Shared::new(guest),
            mm: Shared::new(mm),
            files: Shared::new(files),
            sigactions: Shared::new([SigAction::default(); 65]),
            cpus: Rc::new(Cpus::new(pid)),
            tid: pid,
            clear_tid: 0,
            ns,
            fs: Shared::new(FsState::new(cwd, 0o022)),
            pid,
            ids,
            saved_ids: [ids[1], ids[3]],
            groups: Vec::new(),
            rlimits: crate::syscall::default_rlimits(),
            sigmask: 0,
            pending: 0,
            sig_info: [None; 65],
            saved_mask: None,
            altstack: AltStack::disabled(),
            restart: None,
            exit: None,
            thread_exit_only: false,
            stats: SysStats::default(),
        })
    }

    /// A new task like this thread: same identity, limits, namespace,
    /// signal mask, and (shared) memory, files, signal actions, working
    /// directory and umask; `pid` is its process (its own for a new one).
    /// Callers replace what the new task does not share.
    fn sibling(&self, guest: Shared<Guest>, cpus: Rc<Cpus>, tid: u32) -> Process {
        Process {
            guest,
            mm: self.mm.clone(),
            files: self.files.clone(),
            sigactions: self.sigactions.clone(),
            cpus,
            tid,
            clear_tid: 0,
            ns: self.ns.clone(),
            fs: self.fs.clone(),
            pid: tid,
            ids: self.ids,
            saved_ids: self.saved_ids,
            groups: self.groups.clone(),
            rlimits: self.rlimits,
            sigmask: self.sigmask,
            pending: 0,
            sig_info: [None; 65],
            saved_mask: None,
            altstack: AltStack::disabled(),
            restart: None,
            exit: None,
            thread_exit_only: false,
            stats: SysStats::default(),
        }
    }

    /// Make a new thread of this process with id `tid`: it shares the
    /// address space, descriptors, signal actions, working directory and
    /// umask, starts with a copy of this thread's CPU state (its clone
    /// returns 0) and signal mask.
    pub fn thread(&mut self, tid: u32) -> Process {
        let mut cpu = self.guest.save_cpu();
        cpu.regs[EAX] = 0;
        self.cpus.add(tid, cpu);
        let mut t = self.sibling(self.guest.clone(), self.cpus.clone(), tid);
        t.pid = self.pid;
        t
    }

    /// The thread has ended with `st`: clear and wake its exit futex, and
    /// end the process if it was the last thread (or the exit was for all
    /// of them). Consumes the thread, closing what it alone held.
    pub fn finish(mut self, st: ExitStatus) {
        if !self.thread_exit_only {
            crate::proctab::group_exit(self.pid, st);
        }
        if self.clear_tid != 0 && self.mm.holders() > 1 {
            let addr = self.clear_tid;
            if self.write_u32(addr, 0).is_ok() {
                // Linux wakes it as a shared futex (pthread_join waits so).
                if let Ok(key) = crate::futex::key(&mut self, addr, true) {
                    crate::futex::wake(key, 1, u32::MAX);
                }
            }
        }
        if debug_stats() {
            let (pages, hits, misses) = crate::mm::pagecache::stats();
            let (mhits, mmisses, forgets, bytes) = vx_core::memo::stats();
            eprintln!(
                "vxos: pid {} tid {} exits: {:?} {:?}; page cache {pages} pages, {hits} hits, {misses} misses; \
                 shared translations {mhits} hits, {mmisses} misses, {forgets} forgets, {bytes} bytes",
                self.pid,
                self.tid,
                self.guest.stats(),
                self.mm.stats
            );
        }
        if crate::trace::on(crate::trace::SYSCALL | crate::trace::SIGNAL) {
            crate::trace::exited(self.tid, self.pid, st);
        }
        crate::futex::forget(self.tid);
        self.cpus.remove(self.tid);
        let last = self.guest.holders() == 1 && self.mm.holders() == 1;
        if last && crate::proctab::is_first(self.pid) {
            // The first process's end ends vxos: keep its translations for
            // the next run (on disk), and let the host take back its memory
            // and descriptors at once rather than free them one by one.
            progcache::save(&self.guest, &self.mm);
            let (tid, pid) = (self.tid, self.pid);
            std::mem::forget(self);
            crate::proctab::thread_exit(tid, pid, st);
            return;
        }
        let mut kept = None;
        if last {
            self.save_translations();
            crate::mm::fork::keep_window(&self.mm, &mut self.guest);
            kept = self.prepare_to_keep();
        }
        let (tid, pid) = (self.tid, self.pid);
        drop(self);
        keep_guest(kept);
        crate::proctab::thread_exit(tid, pid, st);
    }

    /// Keep the translations of the address space's files for later
    /// guests, if this is its last thread (see `progcache`).
    fn save_translations(&self) {
        if self.guest.holders() == 1 && self.mm.holders() == 1 {
            progcache::save(&self.guest, &self.mm);
        }
    }

    /// If this thread alone holds the image of an exec'd program, which is
    /// ending, make its guest ready to be kept for the program's next run
    /// (see `mm::kept`): what to keep, and a handle on the guest, to be
    /// kept once the address space has gone.
    fn prepare_to_keep(&mut self) -> Option<(crate::mm::kept::Record, Shared<Guest>)> {
        if self.guest.holders() != 1 || self.mm.holders() != 1 {
            return None;
        }
        let record = crate::mm::kept::prepare(&self.mm, &mut self.guest)?;
        Some((record, self.guest.clone()))
    }

    /// Make the shared guest hold this thread's CPU state.
    #[inline]
    pub fn own_cpu(&mut self) {
        self.cpus.take(&mut self.guest, self.tid);
    }

    /// Replace the program: load `path` (an ELF file or a `#!` script)
    /// with `argv` and `envp` into a new address space; on success close
    /// the close-on-exec descriptors and reset caught signals. On failure
    /// the process is unchanged.
    pub fn exec(&mut self, path: &str, argv: Vec<Vec<u8>>, envp: &[Vec<u8>]) -> Result<(), Errno> {
        let (prog, argv) = self.find_program(path, argv, 0)?;
        let exe = prog.chan.path_string();
        let key = crate::mm::kept::ProgKey::of(&*prog);
        let (mut guest, kept) = crate::mm::kept::guest_for(key).map_err(|_| Errno::ENOMEM)?;
        let mut mm = Mm::new(0);
        mm.exe = key;
        let cred = self.cred();
        let open_interp = |path: &str| -> Result<Arc<dyn crate::mm::vma::Pager>, ExecError> {
            let f = open_program(&self.ns, &self.fs.cwd, path, cred).map_err(|e| ExecError::Io(e.into()))?;
            Ok(f)
        };
        exec::load(&mut guest, &mut mm, prog, &argv, envp, self.ids, &open_interp).map_err(|e| e.errno())?;
        if let Some(record) = kept {
            mm.adopt(&mut guest, record);
        }
        progcache::attach(&mut guest, &mut mm);
        self.save_translations();
        let kept = self.prepare_to_keep();
        // The point of no return. The new image is this thread's alone:
        // other threads (told to exit) keep the old one until they do.
        let mut old_mm = std::mem::replace(&mut self.mm, Shared::new(mm));
        let mut old_guest = std::mem::replace(&mut self.guest, Shared::new(guest));
        if old_mm.holders() == 1 {
            old_mm.release();
            if old_guest.holders() == 1 {
                crate::mm::fork::keep_window(&old_mm, &mut old_guest);
            }
        }
        drop(old_guest);
        keep_guest(kept);
        self.cpus.remove(self.tid);
        self.cpus = Rc::new(Cpus::new(self.tid));
        crate::sched::set_group(self.guest.id() as u64);
        crate::sched::set_preempt(Some(self.guest.preempt_handle()));
        self.show_gauge();
        let mut files = self.files.fork_copy();
        files.close_on_exec();
        self.files = Shared::new(files);
        self.altstack = AltStack::disabled();
        let mut acts = *self.sigactions;
        for a in acts.iter_mut() {
            if a.handler > 1 {
                *a = SigAction::default();
            }
        }
        self.sigactions = Shared::new(acts);
        if crate::trace::on(crate::trace::EXEC) {
            crate::trace::exec(self.tid, self.pid, &exe, &argv);
        }
        let kept = devproc::entry(self.pid).unwrap_or_default();
        devproc::register(
            self.pid,
            devproc::ProcEntry {
                exe,
                comm: devproc::comm_of(path),
                cmdline: argv.iter().flat_map(|a| a.iter().copied().chain([0])).collect(),
                ns: Some(self.ns.clone()),
                uid: self.ids[1],
                gid: self.ids[3],
                fds: Some(self.files.view()),
                nice: kept.nice,
                affinity: kept.affinity,
            },
        );
        Ok(())
    }

    /// Open the program `path` names; a `#!` script names its interpreter,
    /// which gets the script's path as an argument (up to 4 levels deep).
    fn find_program(&self, path: &str, argv: Vec<Vec<u8>>, depth: u32) -> Result<(Arc<Open>, Vec<Vec<u8>>), Errno> {
        let prog = open_program(&self.ns, &self.fs.cwd, path, self.cred())?;
        let mut head = [0u8; 256];
        let n = prog.read_at(&mut head, 0)?;
        if n < 2 || &head[..2] != b"#!" {
            return Ok((prog, argv));
        }
        if depth >= 4 {
            return Err(Errno::ELOOP);
        }
        let line = &head[2..n];
        // The line ends at a newline, or with the 256 bytes Linux reads.
        let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
        let line = std::str::from_utf8(&line[..end]).map_err(|_| Errno::ENOEXEC)?.trim();
        let (interp, arg) = match line.split_once([' ', '\t']) {
            Some((i, a)) => (i, Some(a.trim())),
            None => (line, None),
        };
        if interp.is_empty() {
            return Err(Errno::ENOEXEC);
        }
        let mut new = vec![interp.as_bytes().to_vec()];
        if let Some(a) = arg.filter(|a| !a.is_empty()) {
            new.push(a.as_bytes().to_vec());
        }
        new.push(path.as_bytes().to_vec());
        new.extend(argv.into_iter().skip(1));
        self.find_program(interp, new, depth + 1)
    }

    /// Report whether a signal waits that would interrupt a sleeping call
    /// (one not blocked and not ignored).
    pub fn signal_interrupts(&self) -> bool {
        let Some(e) = crate::proctab::get(self.tid) else { return true };
        // Another thread ending the process (or exec'ing) interrupts every wait.
        if crate::proctab::group_exiting(self.pid).is_some() || e.doomed {
            return true;
        }
        let group = if self.tid != self.pid { crate::proctab::get(self.pid).map_or(0, |g| g.pending) } else { 0 };
        let pending = self.pending | e.pending | group;
        (1..=64u32).any(|s| {
            pending & (1u64 << (s - 1)) != 0
                && (self.sigmask & (1u64 << (s - 1)) == 0 || s == 9 || s == 19)
                && !self.ignores(s)
        })
    }

    /// The signals pending for this thread: taken already, or sent to it
    /// or to its process and not yet taken (blocked or not).
    pub fn pending_signals(&self) -> u64 {
        let own = crate::proctab::get(self.tid).map_or(0, |e| e.pending);
        let group = if self.tid != self.pid { crate::proctab::get(self.pid).map_or(0, |g| g.pending) } else { 0 };
        self.pending | own | group
    }

    /// Change the action of signal `sig`; a signal pending with an action
    /// that now ignores it is discarded, as POSIX asks.
    pub fn set_action(&mut self, sig: u32, act: SigAction) {
        self.sigactions[sig as usize] = act;
        if sig == 17 {
            // SIGCHLD ignored or SA_NOCLDWAIT: children leave no zombies;
            // SA_NOCLDSTOP: no SIGCHLD when they stop or continue.
            let no_wait = act.handler == 1 || act.flags & 2 != 0;
            let no_stop = act.flags & 1 != 0;
            crate::proctab::update(self.pid, |e| {
                e.nocldwait = no_wait;
                e.nocldstop = no_stop;
            });
        }
        if self.ignores(sig) {
            self.pending &= !bit(sig);
            self.sig_info[sig as usize] = None;
        }
    }

    /// Report whether signal `s` is ignored (explicitly or by default).
    fn ignores(&self, s: u32) -> bool {
        let h = self.sigactions[s as usize].handler;
        h == 1 || (h == 0 && default_ignored(s))
    }

    /// Take the signals other processes sent.
    pub fn take_signals(&mut self) {
        // (The first thread's entry holds both its own signals and the
        // process's: it leaves those it blocks for another thread.)
        let own = if self.tid == self.pid { self.sigmask } else { 0 };
        self.take_from_table(own, self.sigmask);
    }

    /// Take the signals of `set` sent to this thread or its process,
    /// blocked or not (sigtimedwait).
    pub fn take_signals_in(&mut self, set: u64) {
        self.take_from_table(!set, !set);
    }

    /// Take the signals sent to this thread but those in `own_kept`, and
    /// those sent to its process but those in `group_kept`.
    fn take_from_table(&mut self, own_kept: u64, group_kept: u64) {
        let mut taken = vec![crate::proctab::take_pending(self.tid, own_kept)];
        if self.tid != self.pid {
            taken.push(crate::proctab::take_pending(self.pid, group_kept));
        }
        for (bits, sent) in taken {
            for s in 1..=64u32 {
                if bits & bit(s) != 0 {
                    let x = sent[s as usize - 1];
                    let info = SigInfo {
                        signo: s,
                        code: x.code,
                        pid: x.pid,
                        uid: x.uid,
                        value: x.status,
                        ..Default::default()
                    };
                    self.post_signal_info(s, info);
                }
            }
        }
    }

    /// Send signal `sig` to this process itself (kill, raise, SIGPIPE).
    pub fn post_signal(&mut self, sig: u32) {
        let info = SigInfo::user(sig, self.pid, self.ids[0]);
        self.post_signal_info(sig, info);
    }

    /// Make signal `sig` pending with `info`: an ignored one that is not
    /// blocked is discarded at once, as Linux does.
    pub fn post_signal_info(&mut self, sig: u32, info: SigInfo) {
        if sig == 0 || sig > 64 {
            return;
        }
        let blocked = self.sigmask & bit(sig) != 0 && sig != crate::signal::SIGKILL;
        if !blocked && self.ignores(sig) {
            if crate::trace::on(crate::trace::SIGNAL) {
                crate::trace::signal(self, &info, "ignored");
            }
            return;
        }
        self.pending |= bit(sig);
        if self.sig_info[sig as usize].is_none() {
            self.sig_info[sig as usize] = Some(info);
        }
    }

    /// A synchronous fault: delivered to its handler, or, if the signal is
    /// blocked, ignored or not handled, fatal (Linux's force_sig).
    fn fault(&mut self, sig: i32, code: i32, addr: u32, exception: Option<(u32, u32)>) {
        let s = sig as u32;
        let (trapno, err) = exception.unwrap_or_else(|| {
            let mut b = [0u8; 16];
            let eip = self.guest.cpu().eip.wrapping_sub(2);
            for (i, x) in b.iter_mut().enumerate() {
                let mut one = [0u8; 1];
                if self.guest.read(eip.wrapping_add(i as u32), &mut one).is_ok() {
                    *x = one[0];
                }
            }
            crate::signal::exception_of(s, code, &b)
        });
        let handler = self.sigactions[s as usize].handler;
        if handler <= 1 || self.sigmask & bit(s) != 0 {
            if crate::trace::on(crate::trace::SIGNAL) {
                crate::trace::signal(self, &SigInfo::fault(s, code, addr, trapno, err), "fatal");
            }
            self.exit = Some(ExitStatus::Signal(sig));
            return;
        }
        self.pending |= bit(s);
        self.sig_info[s as usize] = Some(SigInfo::fault(s, code, addr, trapno, err));
    }

    /// Change the working directory.
    pub fn set_cwd(&mut self, c: Chan) {
        self.fs.hold = hold(&c);
        self.fs.cwd = c;
    }

    /// The credentials file access is checked with.
    pub fn cred(&self) -> Cred {
        Cred { uid: self.ids[1], gid: self.ids[3] }
    }

    /// Run until the process exits.
    pub fn run(&mut self) -> ExitStatus {
        crate::sched::set_preempt(Some(self.guest.preempt_handle()));
        self.show_gauge();
        let mut seen = u64::MAX;
        let mut mask = self.sigmask;
        loop {
            self.own_cpu();
            // Look at the table only when some process was sent a signal,
            // or the mask changed (blocked signals wait there).
            let sent = crate::proctab::signals_sent();
            if sent != seen || mask != self.sigmask {
                seen = sent;
                mask = self.sigmask;
                if let Some(st) = crate::proctab::group_exiting(self.pid) {
                    // Another thread ended the process.
                    self.thread_exit_only = true;
                    return st;
                }
                if crate::proctab::doomed(self.tid) {
                    // Another thread exec'd a new program.
                    self.thread_exit_only = true;
                    return ExitStatus::Code(0);
                }
                // Another thread stopped the process.
                self.wait_while_stopped();
                self.take_signals();
            }
            while self.pending & !self.sigmask != 0 && self.exit.is_none() {
                self.deliver_signal();
            }
            if let Some(nr) = self.restart.take() {
                // Interrupted by a signal that was not handled after all.
                self.guest.cpu_mut().regs[EAX] = nr;
                self.guest.cpu_mut().eip = self.guest.cpu().eip.wrapping_sub(2);
            }
            if let Some(m) = self.saved_mask.take() {
                self.sigmask = m;
            }
            if let Some(st) = self.exit {
                return st;
            }
            let guest = &mut *self.guest;
            // Other vCPUs run kernel code while this guest runs.
            match crate::sched::guest_unlocked(|| guest.run()) {
                Trap::Syscall => {
                    let nr = self.guest.cpu().regs[EAX];
                    let r = syscall::dispatch(self, nr);
                    if let Some(st) = self.exit {
                        return st;
                    }
                    // The call may have slept while other threads ran.
                    self.own_cpu();
                    if r == Err(Errno::EINTR) && syscall::restartable(nr) {
                        self.restart = Some(nr);
                    }
                    self.guest.cpu_mut().regs[EAX] = match r {
                        Ok(v) => v,
                        Err(e) => (-(e as i32)) as u32,
                    };
                }
                Trap::Preempted => {
                    crate::devkinfo::count_preemption();
                    self.publish_gauge();
                    if crate::trace::on(crate::trace::SCHED | crate::trace::TIMELINE) {
                        crate::trace::preempted(self);
                    }
                    crate::sched::yield_now()
                }
                t @ Trap::PageFault { addr, write, exec, .. } => {
                    crate::devkinfo::count_fault();
                    let access = if write {
                        Access::Write
                    } else if exec {
                        Access::Exec
                    } else {
                        Access::Read
                    };
                    if debug_faults() {
                        eprintln!("vxos: fault {addr:#x} {access:?} at eip {:#x}", self.guest.cpu().eip);
                    }
                    let kind = crate::trace::on(crate::trace::FAULT | crate::trace::TIMELINE)
                        .then(|| crate::trace::fault_begin(&self.mm, addr, write));
                    let r = self.mm.fault(&mut self.guest, addr, access);
                    if let Some(kind) = kind {
                        let eip = self.guest.cpu().eip;
                        let bad = r.err().map(|b| (b.signo, b.code));
                        crate::trace::fault(self, addr, &format!("{access:?}").to_lowercase(), eip, kind, bad);
                    }
                    if debug_faults() {
                        eprintln!("vxos:   -> {r:?}, window flags {:#x}", self.guest.window().page_flags(addr));
                    }
                    self.publish_gauge();
                    if r == Err(crate::mm::fault::OOM) && self.oom_kill_other() {
                        // Another process goes to free memory; try again.
                        continue;
                    }
                    if let Err(bad) = r {
                        if bad == crate::mm::fault::OOM && !self.sigkilled() {
                            let (used, all) = crate::mm::memory().usage();
                            eprintln!("vxos: out of guest memory ({used} of {all} pages in use): killed process {}, the largest (see --mem)", self.pid);
                        }
                        self.debug_trap(&t);
                        // A page fault's error code: user mode, write, present, fetch.
                        let err = 4 | (write as u32) << 1 | (bad.code == 2) as u32 | (exec as u32) << 4;
                        self.fault(bad.signo, bad.code, addr, Some((14, err)));
                    }
                }
                t @ Trap::Signal { signo, code, addr } => {
                    self.debug_trap(&t);
                    self.fault(signo, code, addr, None)
                }
            }
            if let Some(st) = self.exit {
                return st;
            }
        }
    }

    /// Publish the address space's counters and the blocks its guest has
    /// translated, for other processes' view of it (/proc/N/status).
    fn publish_gauge(&self) {
        self.mm.publish();
        let cache = self.guest.stats().cache;
        self.mm.gauge.blocks.store(cache.blocks, std::sync::atomic::Ordering::Relaxed);
        self.mm.gauge.restored.store(cache.restored, std::sync::atomic::Ordering::Relaxed);
    }

    /// Let the OOM killer see this process's resident pages.
    fn show_gauge(&self) {
        if self.tid == self.pid {
            let g = self.mm.gauge.clone();
            crate::proctab::update(self.pid, |e| e.gauge = Some(g));
        }
    }

    /// Out of guest memory: kill the process with the most resident pages,
    /// as Linux's OOM killer does. Returns true if that is another process
    /// (then this one waits for it to go and tries again), false if it is
    /// this one.
    fn oom_kill_other(&mut self) -> bool {
        self.mm.publish();
        let Some((victim, pages)) = crate::proctab::largest() else { return false };
        if victim == self.pid {
            return false;
        }
        let (used, all) = crate::mm::memory().usage();
        eprintln!(
            "vxos: out of guest memory ({used} of {all} pages in use): killed process {victim}, the largest ({pages} pages; see --mem)"
        );
        crate::proctab::signal(victim, crate::signal::SIGKILL);
        // Let it run to its end; the fault is tried again. Two processes
        // faulting at once may each have chosen the other: one killed
        // while it waits stops waiting and goes.
        while crate::proctab::get(victim).is_some_and(|e| e.life == crate::proctab::Life::Alive) {
            if self.sigkilled() || crate::proctab::group_exiting(self.pid).is_some() {
                return false;
            }
            crate::sched::yield_now();
        }
        true
    }

    /// Whether a SIGKILL waits for this thread.
    fn sigkilled(&self) -> bool {
        self.pending_signals() & crate::signal::bit(crate::signal::SIGKILL) != 0
    }

    /// With VXOS_DEBUG set, describe a fatal trap on stderr.
    fn debug_trap(&self, t: &Trap) {
        if std::env::var_os("VXOS_DEBUG").is_some() {
            let c = self.guest.cpu();
            eprintln!("vxos: {t:?} at eip {:#x} regs {:x?} eflags {:#x}", c.eip, c.regs, c.eflags);
        }
    }

    /// Copy guest memory out, faulting pages in as the guest would.
    pub fn uread(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), Errno> {
        self.mm.populate(&mut self.guest, addr, buf.len() as u64, Access::Read).map_err(|_| Errno::EFAULT)?;
        self.guest.read(addr, buf).map_err(|_| Errno::EFAULT)
    }

    /// Copy into guest memory, faulting pages in (and copying shared
    /// copy-on-write pages) as a guest write would.
    pub fn uwrite(&mut self, addr: u32, data: &[u8]) -> Result<(), Errno> {
        self.ucheck_write(addr, data.len())?;
        self.guest.write(addr, data).map_err(|_| Errno::EFAULT)
    }

    /// Make sure the guest could write `[addr, addr+len)`.
    pub fn ucheck_write(&mut self, addr: u32, len: usize) -> Result<(), Errno> {
        self.mm.populate(&mut self.guest, addr, len as u64, Access::Write).map_err(|_| Errno::EFAULT)
    }

    /// Read a u32 from guest memory.
    pub fn read_u32(&mut self, addr: u32) -> Result<u32, Errno> {
        let mut b = [0u8; 4];
        self.uread(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Write a u32 to guest memory.
    pub fn write_u32(&mut self, addr: u32, v: u32) -> Result<(), Errno> {
        self.uwrite(addr, &v.to_le_bytes())
    }

    /// Read a NUL-terminated string of at most `max` bytes.
    pub fn read_cstr(&mut self, addr: u32, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut a = addr;
        loop {
            let chunk_len = (4096 - (a % 4096)) as usize;
            let mut chunk = vec![0u8; chunk_len];
            self.uread(a, &mut chunk)?;
            if let Some(n) = chunk.iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..n]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            a = a.wrapping_add(chunk_len as u32);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.save_translations();
        // /proc/N goes with the process's last thread (and at the latest
        // when it is reaped: see proctab::reap).
        if crate::proctab::get(self.pid).is_none_or(|e| e.threads <= 1) {
            devproc::unregister(self.pid);
        }
    }
}

/// Keep the guest `Process::prepare_to_keep` made ready, once its address
/// space has gone and this is its last handle.
fn keep_guest(kept: Option<(crate::mm::kept::Record, Shared<Guest>)>) {
    if let Some((record, guest)) = kept {
        if let Some(g) = guest.into_inner() {
            crate::mm::kept::keep(record, g);
        }
    }
}

/// Open a directory to keep it alive while it is the working directory.
fn hold(c: &Chan) -> Option<Open> {
    let q = c.dev.open(c.qid, OpenMode::READ, Cred::ROOT).ok()?;
    Some(Open { chan: Chan { qid: q, ..c.clone() }, host: None, opened: true })
}

/// Find and open a program file for execution: a regular file `cred`
/// may execute.
fn open_program(ns: &NsRef, cwd: &Chan, path: &str, cred: Cred) -> Result<Arc<Open>, Errno> {
    let dev_err = crate::files::dev_err;
    let chan = ns.namei(cwd, path, true).map_err(dev_err)?;
    let st = chan.dev.stat(chan.qid).map_err(dev_err)?;
    if st.qid.kind != FileType::File || !devices::perm::permitted(&st, cred, devices::perm::MAY_EXEC) {
        return Err(Errno::EACCES);
    }
    // Execute-only programs can be run: the kernel reads them as root.
    let q = chan.dev.open(chan.qid, OpenMode::READ, Cred::ROOT).map_err(dev_err)?;
    let chan = Chan { qid: q, ..chan };
    let host = match chan.dev.host_file(q, OpenMode::READ) {
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            chan.dev.clunk(q);
            return Err(dev_err(e));
        }
        None => None,
    };
    Ok(Arc::new(Open { chan, host, opened: true }))
}
