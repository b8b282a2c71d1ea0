//! A process: one guest (address space and CPU), its memory map, file
//! descriptors, signal dispositions and identity, and the loop that runs
//! it: run the guest, handle its system calls and faults, until it exits.
//! (T1 runs one single-threaded process; T4 brings tasks and scheduling.)

use crate::errno::Errno;
use crate::exec::{self, ExecError};
use crate::files::FdTable;
use crate::mm::fault::Access;
use crate::mm::Mm;
use crate::syscall;
use std::path::PathBuf;
use vx_core::state::EAX;
use vx_core::{Guest, Trap};

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

pub struct Process {
    pub guest: Guest,
    pub mm: Mm,
    pub files: FdTable,
    pub cwd: PathBuf,
    pub exe: PathBuf,
    pub pid: u32,
    pub ids: [u32; 4],
    pub umask: u32,
    pub sigactions: [SigAction; 65],
    pub sigmask: u64,
    pub exit: Option<ExitStatus>,
    pub stats: SysStats,
    pub trace: bool,
}

/// VXOS_DEBUG_FAULTS: print every page fault and its outcome (read once).
fn debug_faults() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("VXOS_DEBUG_FAULTS").is_some())
}

/// Signals whose default action is to ignore them.
fn default_ignored(sig: u32) -> bool {
    matches!(sig, 17 | 23 | 28) // SIGCHLD, SIGURG, SIGWINCH
}

impl Process {
    /// Load `path` as a new process with `argv` and `envp`.
    pub fn spawn(path: &std::path::Path, argv: &[Vec<u8>], envp: &[Vec<u8>]) -> Result<Process, ExecError> {
        let mut guest = Guest::new().map_err(ExecError::Memory)?;
        let ids = [
            rustix::process::getuid().as_raw(),
            rustix::process::geteuid().as_raw(),
            rustix::process::getgid().as_raw(),
            rustix::process::getegid().as_raw(),
        ];
        let mut mm = Mm::new(0);
        exec::load(&mut guest, &mut mm, path, argv, envp, ids)?;
        let exe = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(Process {
            guest,
            mm,
            files: FdTable::with_stdio(),
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            exe,
            pid: std::process::id(),
            ids,
            umask: 0o022,
            sigactions: [SigAction::default(); 65],
            sigmask: 0,
            exit: None,
            stats: SysStats::default(),
            trace: false,
        })
    }

    /// Deliver signal `sig` to the process. T1 has no handlers yet: a
    /// signal whose action is the default either is ignored or ends the
    /// process; a caught signal is dropped.
    pub fn post_signal(&mut self, sig: u32) {
        if sig == 0 || sig > 64 {
            return;
        }
        let act = self.sigactions[sig as usize];
        let blocked = self.sigmask & (1u64 << (sig - 1)) != 0;
        if act.handler == 0 && !default_ignored(sig) && (!blocked || sig == 9 || sig == 19) {
            self.exit = Some(ExitStatus::Signal(sig as i32));
        }
    }

    /// End the process by a synchronous fault signal (it cannot be caught
    /// or blocked in T1).
    fn fault(&mut self, sig: i32) {
        self.exit = Some(ExitStatus::Signal(sig));
    }

    /// Run until the process exits.
    pub fn run(&mut self) -> ExitStatus {
        loop {
            match self.guest.run() {
                Trap::Syscall => {
                    let nr = self.guest.cpu().regs[EAX];
                    let r = syscall::dispatch(self, nr);
                    if let Some(st) = self.exit {
                        return st;
                    }
                    self.guest.cpu_mut().regs[EAX] = match r {
                        Ok(v) => v,
                        Err(e) => (-(e as i32)) as u32,
                    };
                }
                Trap::Preempted => {}
                t @ Trap::PageFault { addr, write, exec, .. } => {
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
                    let r = self.mm.fault(&mut self.guest, addr, access);
                    if debug_faults() {
                        eprintln!("vxos:   -> {r:?}, window flags {:#x}", self.guest.window().page_flags(addr));
                    }
                    if let Err(bad) = r {
                        if bad == crate::mm::fault::OOM {
                            let (used, all) = crate::mm::memory().usage();
                            eprintln!("vxos: out of guest memory ({used} of {all} pages in use): killed the process (see --mem)");
                        }
                        self.debug_trap(&t);
                        self.fault(bad.signo);
                    }
                }
                t @ Trap::Signal { signo, .. } => {
                    self.debug_trap(&t);
                    self.fault(signo)
                }
            }
            if let Some(st) = self.exit {
                return st;
            }
        }
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

    /// Resolve a guest path against the working directory (T1: host paths).
    pub fn host_path(&self, p: &[u8]) -> Result<PathBuf, Errno> {
        use std::os::unix::ffi::OsStrExt;
        if p.is_empty() {
            return Err(Errno::ENOENT);
        }
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(p));
        Ok(if path.is_absolute() { path.to_path_buf() } else { self.cwd.join(path) })
    }
}
