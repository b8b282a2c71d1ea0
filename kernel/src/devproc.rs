//! proc (`#p`): processes as files.
//!
//! For now it serves what namespaces and programs that find themselves
//! need: `/proc/self` (a link to the caller's own directory), and in
//! `/proc/N/`: `ns` (the namespace as bind and mount lines, which a
//! process may also write to reshape its own: see `nsboot::apply`), `exe` (a
//! link to the program) and `cmdline`. T8 adds status, maps and the rest.
//!
//! Devices know nothing of processes, so the kernel keeps a small table of
//! what this device shows (`register`, `unregister`), and
//! the current process (Plan 9's `up`) from the scheduler.

use devices::dev::Result;
use devices::{Cred, Dev, DirEntry, Errno, FileType, OpenMode, Qid, Stat, Time};
use parking_lot::Mutex;
use std::collections::BTreeMap;

/// What /proc shows of one process.
#[derive(Clone, Default)]
pub struct ProcEntry {
    pub exe: String,
    pub cmdline: Vec<u8>,
    pub ns: Option<crate::ns::NsRef>,
    pub uid: u32,
    pub gid: u32,
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

/// Show process `pid`'s new namespace.
pub fn set_ns(pid: u32, ns: crate::ns::NsRef) {
    if let Some(e) = TABLE.lock().get_mut(&pid) {
        e.ns = Some(ns);
    }
}

/// Stop showing process `pid`.
pub fn unregister(pid: u32) {
    TABLE.lock().remove(&pid);
}

// Qid paths: the pid in the high bits, the file in the low byte.
const ROOT: u64 = 0;
const SELF: u64 = 1;
const DIR: u64 = 2;
const NS: u64 = 3;
const EXE: u64 = 4;
const CMDLINE: u64 = 5;

/// The files of a process directory: name, file, kind, permissions.
const FILES: &[(&str, u64, FileType, u32)] = &[
    ("cmdline", CMDLINE, FileType::File, 0o444),
    ("exe", EXE, FileType::Symlink, 0o777),
    ("ns", NS, FileType::File, 0o644),
];

fn qid(pid: u32, file: u64) -> Qid {
    let kind = match file {
        ROOT | DIR => FileType::Dir,
        SELF | EXE => FileType::Symlink,
        _ => FileType::File,
    };
    Qid { path: (pid as u64) << 8 | file, vers: 0, kind }
}

fn split(q: Qid) -> (u32, u64) {
    ((q.path >> 8) as u32, q.path & 0xff)
}

/// The proc device.
pub struct Proc;

/// Report whether `q` of the proc device is a process's `ns` file, and
/// whose.
pub fn ns_file(dev: &dyn Dev, q: Qid) -> Option<u32> {
    let (pid, file) = split(q);
    (dev.dc() == 'p' && file == NS).then_some(pid)
}

impl Proc {
    fn entry(pid: u32) -> Result<ProcEntry> {
        TABLE.lock().get(&pid).cloned().ok_or(Errno::ENOENT)
    }

    fn contents(q: Qid) -> Result<Vec<u8>> {
        let (pid, file) = split(q);
        let e = Self::entry(pid)?;
        Ok(match file {
            NS => e.ns.map(|n| n.describe()).unwrap_or_default().into_bytes(),
            CMDLINE => e.cmdline,
            _ => return Err(Errno::EINVAL),
        })
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
        let (pid, file) = split(from);
        match (file, name) {
            (_, "." | "") => Ok(from),
            (ROOT, "..") | (DIR, "..") => Ok(qid(0, ROOT)),
            (ROOT, "self") => Ok(qid(0, SELF)),
            (ROOT, n) => {
                let pid: u32 = n.parse().map_err(|_| Errno::ENOENT)?;
                Self::entry(pid)?;
                Ok(qid(pid, DIR))
            }
            (DIR, n) => {
                Self::entry(pid)?;
                FILES.iter().find(|f| f.0 == n).map(|f| qid(pid, f.1)).ok_or(Errno::ENOENT)
            }
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn stat(&self, q: Qid) -> Result<Stat> {
        let (pid, file) = split(q);
        let (uid, gid) = match pid {
            0 => (0, 0),
            _ => Self::entry(pid).map(|e| (e.uid, e.gid))?,
        };
        let perm = match file {
            ROOT | DIR => 0o555,
            SELF => 0o777,
            f => FILES.iter().find(|x| x.1 == f).map(|x| x.3).unwrap_or(0o444),
        };
        let size = match file {
            SELF | EXE => self.readlink(q)?.len() as u64,
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
        let (pid, file) = split(q);
        if mode.write || mode.truncate {
            // Only a process's own namespace file is writable, by itself.
            if file != NS || pid != current() || Self::entry(pid)?.uid != cred.uid && cred.uid != 0 {
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
        let (pid, file) = split(q);
        let list: Vec<DirEntry> = match file {
            ROOT => {
                let mut v = vec![DirEntry { name: "self".into(), qid: qid(0, SELF) }];
                v.extend(TABLE.lock().keys().map(|&p| DirEntry { name: p.to_string(), qid: qid(p, DIR) }));
                v
            }
            DIR => FILES.iter().map(|f| DirEntry { name: f.0.to_string(), qid: qid(pid, f.1) }).collect(),
            _ => return Err(Errno::ENOTDIR),
        };
        Ok(list.into_iter().skip(start).collect())
    }

    fn readlink(&self, q: Qid) -> Result<String> {
        let (pid, file) = split(q);
        match file {
            SELF => Ok(current().to_string()),
            EXE => Ok(Self::entry(pid)?.exe),
            _ => Err(Errno::EINVAL),
        }
    }
}
