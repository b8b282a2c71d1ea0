//! proc (`#p`): processes as files.
//!
//! It serves what programs read of themselves and of the system:
//! `/proc/self` (a link to the caller's own directory); in `/proc/N/`:
//! `ns` (the namespace as bind and mount lines, which a process may also
//! write to reshape its own: see `nsboot::apply`), `exe` (a link to the
//! program), `cmdline`, `comm`, `fd/` (a link per descriptor), `maps`,
//! `vxmaps` (maps with each VMA's resident, shared and copy-on-write
//! pages), `status` (Linux's, then vxos's counters), `stat` and `mounts`; and at the top `meminfo`, `cpuinfo`,
//! `stat`, `uptime`, `loadavg`, `version`, `filesystems` and `mounts`.
//!
//! Devices know nothing of processes, so the kernel keeps a small table of
//! what this device shows (`register`, `unregister`, the descriptor table's
//! published view), and the current process (Plan 9's `up`) from the
//! scheduler. What only a process's own state knows (its memory map, its
//! counters) the kernel writes here when the file is opened (`fill`), as
//! Linux's seq files are made at the first read.

use devices::dev::Result;
use devices::{Cred, Dev, DirEntry, Errno, FileType, OpenMode, Qid, Stat, Time};
use parking_lot::Mutex;
use std::collections::BTreeMap;

/// What /proc shows of one process.
#[derive(Clone, Default)]
pub struct ProcEntry {
    pub exe: String,
    /// Its name (/proc/N/comm): the last part of the path execve was
    /// given, at most 15 bytes, as on Linux. For a `#!` script that is the
    /// script's name, and for a link the link's, where `exe` is the file
    /// that runs.
    pub comm: String,
    pub cmdline: Vec<u8>,
    pub ns: Option<crate::ns::NsRef>,
    pub uid: u32,
    pub gid: u32,
    /// Its descriptors (see `files::FdView`).
    pub fds: Option<crate::files::FdView>,
    /// Its nice value (setpriority), inherited by its children.
    pub nice: i32,
    /// The CPUs sched_setaffinity allowed it (bit N for CPU N; 0 for
    /// all), inherited by its children and kept across exec. Only
    /// reported: the scheduler runs every task on any vCPU.
    pub affinity: u32,
}

static TABLE: Mutex<BTreeMap<u32, ProcEntry>> = Mutex::new(BTreeMap::new());

/// The process whose task is running (Plan 9's `up`): the process of the
/// scheduler's current task.
pub fn current() -> u32 {
    let tid = crate::sched::current();
    crate::proctab::get(tid).map_or(tid, |e| e.tgid)
}

/// Show process `pid`.
pub fn register(pid: u32, e: ProcEntry) {
    TABLE.lock().insert(pid, e);
}

/// What /proc shows of `pid`.
pub fn entry(pid: u32) -> Option<ProcEntry> {
    TABLE.lock().get(&pid).cloned()
}

/// Process `pid`'s name (/proc/N/comm).
pub fn comm_of_pid(pid: u32) -> Option<String> {
    TABLE.lock().get(&pid).map(|e| e.comm.clone())
}

/// Show process `pid`'s new namespace.
pub fn set_ns(pid: u32, ns: crate::ns::NsRef) {
    if let Some(e) = TABLE.lock().get_mut(&pid) {
        e.ns = Some(ns);
    }
}

/// Show process `pid`'s descriptor table.
pub fn set_fds(pid: u32, fds: crate::files::FdView) {
    if let Some(e) = TABLE.lock().get_mut(&pid) {
        e.fds = Some(fds);
    }
}

/// Change what /proc shows of `pid`; false if it is not shown.
pub fn update(pid: u32, f: impl FnOnce(&mut ProcEntry)) -> bool {
    TABLE.lock().get_mut(&pid).map(f).is_some()
}

/// Stop showing process `pid`.
pub fn unregister(pid: u32) {
    TABLE.lock().remove(&pid);
    LIVE.lock().retain(|k, _| k.0 != pid);
}

/// Contents the kernel made for a process's file when it was opened.
static LIVE: Mutex<BTreeMap<(u32, u64), Vec<u8>>> = Mutex::new(BTreeMap::new());

/// The files whose contents come from the process's own state: the
/// kernel makes them (`procview`) when they are opened.
pub fn live_file(dev: &dyn Dev, q: Qid) -> Option<(u32, LiveFile)> {
    if dev.dc() != 'p' {
        return None;
    }
    let (pid, _, file) = split(q);
    let kind = match file {
        MAPS => LiveFile::Maps,
        VXMAPS => LiveFile::VxMaps,
        STATUS => LiveFile::Status,
        STAT => LiveFile::Stat,
        _ => return None,
    };
    Some((pid, kind))
}

/// A file the kernel writes for the proc device.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LiveFile {
    Maps,
    VxMaps,
    Status,
    Stat,
}

/// Set what process `pid`'s live file says (until it is opened again).
pub fn fill(pid: u32, f: LiveFile, data: Vec<u8>) {
    let file = match f {
        LiveFile::Maps => MAPS,
        LiveFile::VxMaps => VXMAPS,
        LiveFile::Status => STATUS,
        LiveFile::Stat => STAT,
    };
    LIVE.lock().insert((pid, file), data);
}

/// Report whether `q` is one of /proc/N/fd's links; return N and the
/// descriptor, for the open that follows it to the file itself.
pub fn fd_link(dev: &dyn Dev, q: Qid) -> Option<(u32, u32)> {
    let (pid, fd, file) = split(q);
    (dev.dc() == 'p' && file == FDLINK).then_some((pid, fd))
}

// Qid paths: the pid in the high 32 bits, a descriptor number in the
// next 16 (for fd links), the file in the low byte.
const ROOT: u64 = 0;
const SELF: u64 = 1;
const DIR: u64 = 2;
const NS: u64 = 3;
const EXE: u64 = 4;
const CMDLINE: u64 = 5;
const FDDIR: u64 = 6;
const FDLINK: u64 = 7;
const MAPS: u64 = 8;
const STATUS: u64 = 9;
const STAT: u64 = 10;
const COMM: u64 = 11;
const PMOUNTS: u64 = 12;
const VXMAPS: u64 = 13;
// System-wide files (pid 0).
const MEMINFO: u64 = 32;
const CPUINFO: u64 = 33;
const SYSSTAT: u64 = 34;
const UPTIME: u64 = 35;
const LOADAVG: u64 = 36;
const VERSION: u64 = 37;
const FILESYSTEMS: u64 = 38;
const MOUNTS: u64 = 39;

/// The files of a process directory: name, file, kind, permissions.
const FILES: &[(&str, u64, FileType, u32)] = &[
    ("cmdline", CMDLINE, FileType::File, 0o444),
    ("comm", COMM, FileType::File, 0o644),
    ("exe", EXE, FileType::Symlink, 0o777),
    ("fd", FDDIR, FileType::Dir, 0o500),
    ("maps", MAPS, FileType::File, 0o444),
    ("mounts", PMOUNTS, FileType::File, 0o444),
    ("ns", NS, FileType::File, 0o644),
    ("stat", STAT, FileType::File, 0o444),
    ("status", STATUS, FileType::File, 0o444),
    ("vxmaps", VXMAPS, FileType::File, 0o444),
];

/// The files at the top, beside the process directories.
const TOP: &[(&str, u64, FileType)] = &[
    ("cpuinfo", CPUINFO, FileType::File),
    ("filesystems", FILESYSTEMS, FileType::File),
    ("loadavg", LOADAVG, FileType::File),
    ("meminfo", MEMINFO, FileType::File),
    ("mounts", MOUNTS, FileType::Symlink),
    ("stat", SYSSTAT, FileType::File),
    ("uptime", UPTIME, FileType::File),
    ("version", VERSION, FileType::File),
];

fn qid(pid: u32, file: u64) -> Qid {
    qid_fd(pid, 0, file)
}

fn qid_fd(pid: u32, fd: u32, file: u64) -> Qid {
    let kind = match file {
        ROOT | DIR | FDDIR => FileType::Dir,
        SELF | EXE | FDLINK | MOUNTS => FileType::Symlink,
        _ => FileType::File,
    };
    // Inode numbers fit 32 bits, as Linux's /proc's do (programs built
    // without 64-bit file offsets stat them with the old calls): the pid
    // above the file's number; only descriptor links, which need the
    // descriptor too, take bit 63 and the high half.
    let path = if file == FDLINK {
        1 << 63 | (pid as u64) << 32 | ((fd as u64) & 0xffff) << 8 | file
    } else {
        (pid as u64) << 8 | file
    };
    Qid { path, vers: 0, kind }
}

fn split(q: Qid) -> (u32, u32, u64) {
    if q.path >> 63 != 0 {
        (((q.path >> 32) & 0x7fff_ffff) as u32, ((q.path >> 8) & 0xffff) as u32, q.path & 0xff)
    } else {
        ((q.path >> 8) as u32, 0, q.path & 0xff)
    }
}

/// The proc device.
pub struct Proc;

/// Report whether `q` of the proc device is a process's `ns` file, and
/// whose.
pub fn ns_file(dev: &dyn Dev, q: Qid) -> Option<u32> {
    let (pid, _, file) = split(q);
    (dev.dc() == 'p' && file == NS).then_some(pid)
}

impl Proc {
    fn entry(pid: u32) -> Result<ProcEntry> {
        TABLE.lock().get(&pid).cloned().ok_or(Errno::ENOENT)
    }

    fn contents(q: Qid) -> Result<Vec<u8>> {
        let (pid, _, file) = split(q);
        if pid == 0 {
            return Ok(system_file(file).into_bytes());
        }
        let e = Self::entry(pid)?;
        Ok(match file {
            NS => e.ns.map(|n| n.describe()).unwrap_or_default().into_bytes(),
            CMDLINE => e.cmdline,
            COMM => format!("{}\n", comm(&e)).into_bytes(),
            PMOUNTS => mounts(&e).into_bytes(),
            MAPS | VXMAPS | STATUS | STAT => match LIVE.lock().get(&(pid, file)) {
                Some(d) => d.clone(),
                None => match file {
                    STATUS => crate::procview::status_of_other(pid, &comm(&e)).into_bytes(),
                    STAT => crate::procview::stat_of_other(pid, &comm(&e)).into_bytes(),
                    _ => Vec::new(),
                },
            },
            _ => return Err(Errno::EINVAL),
        })
    }

    fn fds(pid: u32) -> Result<Vec<(u32, String)>> {
        let e = Self::entry(pid)?;
        Ok(e.fds.map(|v| v.lock().iter().map(|(k, t)| (*k, t.clone())).collect()).unwrap_or_default())
    }
}

impl Dev for Proc {
    fn dc(&self) -> char {
        'p'
    }

    fn name(&self) -> &'static str {
        "proc"
    }

    fn attach(&self, _spec: &str) -> Result<Qid> {
        Ok(qid(0, ROOT))
    }

    fn walk(&self, from: Qid, name: &str) -> Result<Qid> {
        let (pid, _, file) = split(from);
        match (file, name) {
            (_, "." | "") => Ok(from),
            (ROOT, "..") | (DIR, "..") => Ok(qid(0, ROOT)),
            (FDDIR, "..") => Ok(qid(pid, DIR)),
            (ROOT, "self") => Ok(qid(0, SELF)),
            (ROOT, n) => {
                if let Some(t) = TOP.iter().find(|t| t.0 == n) {
                    return Ok(qid(0, t.1));
                }
                let pid: u32 = n.parse().map_err(|_| Errno::ENOENT)?;
                Self::entry(pid)?;
                Ok(qid(pid, DIR))
            }
            (DIR, n) => {
                Self::entry(pid)?;
                FILES.iter().find(|f| f.0 == n).map(|f| qid(pid, f.1)).ok_or(Errno::ENOENT)
            }
            (FDDIR, n) => {
                let fd: u32 = n.parse().map_err(|_| Errno::ENOENT)?;
                if n != fd.to_string() || !Self::fds(pid)?.iter().any(|f| f.0 == fd) {
                    return Err(Errno::ENOENT);
                }
                Ok(qid_fd(pid, fd, FDLINK))
            }
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn stat(&self, q: Qid) -> Result<Stat> {
        let (pid, _, file) = split(q);
        let (uid, gid) = match pid {
            0 => (0, 0),
            _ => Self::entry(pid).map(|e| (e.uid, e.gid))?,
        };
        let perm = match file {
            ROOT | DIR => 0o555,
            SELF | MOUNTS => 0o777,
            FDLINK => 0o700,
            f => FILES.iter().find(|x| x.1 == f).map(|x| x.3).unwrap_or(0o444),
        };
        let size = match file {
            SELF | EXE | MOUNTS => self.readlink(q)?.len() as u64,
            _ => 0,
        };
        let now = Time::now();
        Ok(Stat {
            qid: q,
            perm,
            nlink: if q.is_dir() { 2 } else { 1 },
            uid,
            gid,
            size,
            blocks: 0,
            atime: now,
            mtime: now,
            ctime: now,
            rdev: 0,
        })
    }

    fn open(&self, q: Qid, mode: OpenMode, cred: Cred) -> Result<Qid> {
        if q.kind == FileType::Symlink {
            return Err(Errno::ELOOP);
        }
        if q.is_dir() && (mode.write || mode.truncate) {
            return Err(Errno::EISDIR);
        }
        let (pid, _, file) = split(q);
        if mode.write || mode.truncate {
            // Only a process's own namespace file is writable, by itself.
            if file != NS && file != COMM || pid != current() || Self::entry(pid)?.uid != cred.uid && cred.uid != 0 {
                return Err(Errno::EACCES);
            }
        }
        Ok(q)
    }

    fn read(&self, q: Qid, buf: &mut [u8], off: u64) -> Result<usize> {
        if q.is_dir() {
            return Err(Errno::EISDIR);
        }
        let data = Self::contents(q)?;
        let start = (off.min(data.len() as u64)) as usize;
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    /// Writes to `ns` are the kernel's (they change the writer); any that
    /// reach the device are refused.
    fn write(&self, _q: Qid, _buf: &[u8], _off: u64) -> Result<usize> {
        Err(Errno::EACCES)
    }

    fn readdir(&self, q: Qid, start: usize) -> Result<Vec<DirEntry>> {
        let (pid, _, file) = split(q);
        let list: Vec<DirEntry> = match file {
            ROOT => {
                let mut v = vec![DirEntry { name: "self".into(), qid: qid(0, SELF) }];
                v.extend(TOP.iter().map(|t| DirEntry { name: t.0.into(), qid: qid(0, t.1) }));
                v.extend(TABLE.lock().keys().map(|&p| DirEntry { name: p.to_string(), qid: qid(p, DIR) }));
                v
            }
            DIR => FILES.iter().map(|f| DirEntry { name: f.0.to_string(), qid: qid(pid, f.1) }).collect(),
            FDDIR => Self::fds(pid)?
                .into_iter()
                .map(|(fd, _)| DirEntry { name: fd.to_string(), qid: qid_fd(pid, fd, FDLINK) })
                .collect(),
            _ => return Err(Errno::ENOTDIR),
        };
        Ok(list.into_iter().skip(start).collect())
    }

    /// A live file's contents go with the open that made them: a later
    /// reader that did not go through the kernel's open (the FUSE export)
    /// gets the process table's view, never a stale copy.
    fn clunk(&self, q: Qid) {
        let (pid, _, file) = split(q);
        if matches!(file, MAPS | VXMAPS | STATUS | STAT) {
            LIVE.lock().remove(&(pid, file));
        }
    }

    fn readlink(&self, q: Qid) -> Result<String> {
        let (pid, fd, file) = split(q);
        match file {
            SELF => Ok(current().to_string()),
            MOUNTS => Ok("self/mounts".into()),
            EXE => Ok(Self::entry(pid)?.exe),
            FDLINK => Self::fds(pid)?.into_iter().find(|f| f.0 == fd).map(|f| f.1).ok_or(Errno::ENOENT),
            _ => Err(Errno::EINVAL),
        }
    }
}

/// A process's name as /proc shows it.
fn comm(e: &ProcEntry) -> String {
    e.comm.clone()
}

/// The name a process gets from exec'ing `path`: its last part, cut to
/// Linux's 15 bytes (TASK_COMM_LEN less the NUL).
pub fn comm_of(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or("").as_bytes();
    String::from_utf8_lossy(&base[..base.len().min(15)]).into_owned()
}

/// /proc/N/mounts: the namespace's mounts as Linux lists them, from its
/// `mount [-flags] SPEC ON` and `bind [-flags] FROM ON` lines.
fn mounts(e: &ProcEntry) -> String {
    let mut out = String::new();
    let Some(ns) = &e.ns else { return out };
    for line in ns.describe().lines() {
        let words: Vec<&str> = line.split_whitespace().filter(|w| !w.starts_with('-')).collect();
        let [_, what, on] = words[..] else { continue };
        let (source, fstype) = match what.get(..2) {
            Some("#r") => ("tmpfs", "tmpfs"),
            Some("#p") => ("proc", "proc"),
            Some("#t") => ("devpts", "devpts"),
            Some("#n" | "#c") => ("dev", "devtmpfs"),
            Some("#Z") => ("host", "hostfs"),
            Some("#e") => ("env", "envfs"),
            _ => (what, "none"),
        };
        out.push_str(&format!("{source} {on} {fstype} rw 0 0\n"));
    }
    out
}

/// The contents of a system-wide file.
fn system_file(file: u64) -> String {
    match file {
        MEMINFO => {
            let (used, all) = crate::mm::memory().usage();
            let kb = |frames: u32| frames as u64 * 4;
            let free = kb(all - used);
            format!(
                "MemTotal:       {:8} kB\nMemFree:        {:8} kB\nMemAvailable:   {:8} kB\nBuffers:               0 kB\nCached:                0 kB\nSwapCached:            0 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\nShmem:                 0 kB\n",
                kb(all),
                free,
                free
            )
        }
        CPUINFO => {
            let host = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
            let first = host.split("\n\n").next().unwrap_or("");
            let mut out = String::new();
            for n in 0..crate::sched::cpus() {
                for line in first.lines() {
                    let line =
                        if line.starts_with("processor") { format!("processor\t: {n}") } else { line.to_string() };
                    out.push_str(&line);
                    out.push('\n');
                }
                out.push('\n');
            }
            out
        }
        SYSSTAT => {
            let ticks = (crate::procview::uptime().as_millis() / 10) as u64;
            let mut out = format!("cpu  {ticks} 0 0 0 0 0 0 0 0 0\n");
            for n in 0..crate::sched::cpus() {
                out.push_str(&format!("cpu{n} {ticks} 0 0 0 0 0 0 0 0 0\n"));
            }
            out.push_str(&format!(
                "intr 0\nctxt 0\nbtime {}\nprocesses {}\nprocs_running 1\nprocs_blocked 0\n",
                crate::procview::boot_time(),
                crate::proctab::count()
            ));
            out
        }
        UPTIME => {
            let u = crate::procview::uptime().as_secs_f64();
            format!("{u:.2} {:.2}\n", u * crate::sched::cpus() as f64)
        }
        LOADAVG => format!("0.00 0.00 0.00 1/{} {}\n", crate::proctab::count(), crate::proctab::count()),
        VERSION => {
            let u = rustix::system::uname();
            format!(
                "Linux version {} (vxos {}) {}\n",
                u.release().to_string_lossy(),
                env!("CARGO_PKG_VERSION"),
                u.version().to_string_lossy()
            )
        }
        FILESYSTEMS => "nodev\ttmpfs\nnodev\tproc\nnodev\tdevpts\n".into(),
        _ => String::new(),
    }
}
