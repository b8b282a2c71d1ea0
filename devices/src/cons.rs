//! cons (`#c`): the simple console of T3. `cons` reads from the host's
//! input and writes to its output, byte for byte; T5 replaces it with a tty
//! that has a line discipline and never blocks a vCPU.

use crate::dev::*;
use crate::dirtab::{self, makedev, DirTab};
use parking_lot::Mutex;
use std::fs::File;
use std::io::{Read, Write};

const QROOT: u64 = 0;
const QCONS: u64 = 1;
const QCONSOLE: u64 = 2;
/// `tty`: the controlling terminal.
pub const QTTY: u64 = 3;
/// The pseudo-terminal multiplexer: opening it makes a new pty (the kernel
/// serves it; this device only names it).
pub const QPTMX: u64 = 4;
const QPTS: u64 = 5;
const QFD: u64 = 6;
const QSTDIN: u64 = 7;
const QSTDOUT: u64 = 8;
const QSTDERR: u64 = 9;
const QCMD: u64 = 10;
const QSHM: u64 = 11;

/// `cons` is Plan 9's name; `console` and `tty` are Linux's names for the
/// same terminal. `ptmx` and the `pts` mount point are for pseudo-terminals.
/// `fd`, `stdin`, `stdout` and `stderr` are Linux's links into /proc/self/fd;
/// `cmd` is the cmd device's mount point, `shm` a ramfs's (POSIX shared
/// memory).
static TAB: [DirTab; 12] = [
    DirTab { name: ".", path: QROOT, kind: FileType::Dir, perm: 0o555, rdev: 0 },
    DirTab { name: "cons", path: QCONS, kind: FileType::CharDev, perm: 0o620, rdev: makedev(5, 1) },
    DirTab { name: "console", path: QCONSOLE, kind: FileType::CharDev, perm: 0o620, rdev: makedev(5, 1) },
    DirTab { name: "tty", path: QTTY, kind: FileType::CharDev, perm: 0o666, rdev: makedev(5, 0) },
    DirTab { name: "ptmx", path: QPTMX, kind: FileType::CharDev, perm: 0o666, rdev: makedev(5, 2) },
    DirTab { name: "pts", path: QPTS, kind: FileType::Dir, perm: 0o755, rdev: 0 },
    DirTab { name: "fd", path: QFD, kind: FileType::Symlink, perm: 0o777, rdev: 0 },
    DirTab { name: "stdin", path: QSTDIN, kind: FileType::Symlink, perm: 0o777, rdev: 0 },
    DirTab { name: "stdout", path: QSTDOUT, kind: FileType::Symlink, perm: 0o777, rdev: 0 },
    DirTab { name: "stderr", path: QSTDERR, kind: FileType::Symlink, perm: 0o777, rdev: 0 },
    DirTab { name: "cmd", path: QCMD, kind: FileType::Dir, perm: 0o755, rdev: 0 },
    DirTab { name: "shm", path: QSHM, kind: FileType::Dir, perm: 0o755, rdev: 0 },
];

/// The console, over two host streams.
pub struct Cons {
    input: Mutex<File>,
    /// The input again, to wait on while a reader holds `input`.
    watch: Option<File>,
    output: Mutex<File>,
    born: Time,
}

impl Cons {
    /// A console reading `input` and writing `output` (the host's stdin
    /// and stdout, or anything else for tests).
    pub fn new(input: File, output: File) -> Cons {
        let watch = input.try_clone().ok();
        Cons { input: Mutex::new(input), watch, output: Mutex::new(output), born: Time::now() }
    }
}

impl Dev for Cons {
    fn dc(&self) -> char {
        'c'
    }

    fn name(&self) -> &'static str {
        "cons"
    }

    fn attach(&self, _spec: &str) -> Result<Qid> {
        Ok(TAB[0].qid())
    }

    fn walk(&self, from: Qid, name: &str) -> Result<Qid> {
        dirtab::walk(&TAB, from, name)
    }

    fn stat(&self, q: Qid) -> Result<Stat> {
        dirtab::stat(&TAB, q, self.born)
    }

    fn open(&self, q: Qid, mode: OpenMode, cred: Cred) -> Result<Qid> {
        dirtab::open(&TAB, q, mode, cred)
    }

    fn read(&self, q: Qid, buf: &mut [u8], _off: u64) -> Result<usize> {
        match q.path {
            QCONS | QCONSOLE | QTTY => Ok(self.input.lock().read(buf)?),
            _ => Err(Errno::EISDIR),
        }
    }

    fn await_input(&self, q: Qid, timeout: std::time::Duration) -> bool {
        if !matches!(q.path, QCONS | QCONSOLE | QTTY) {
            return true;
        }
        let Some(fd) = &self.watch else { return true };
        let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        rustix::event::poll(&mut fds, ms).map_or(true, |n| n > 0)
    }

    fn write(&self, q: Qid, buf: &[u8], _off: u64) -> Result<usize> {
        match q.path {
            QCONS | QCONSOLE | QTTY => {
                let mut out = self.output.lock();
                out.write_all(buf)?;
                out.flush()?;
                Ok(buf.len())
            }
            _ => Err(Errno::EISDIR),
        }
    }

    fn readdir(&self, q: Qid, start: usize) -> Result<Vec<DirEntry>> {
        dirtab::readdir(&TAB, q, start)
    }

    fn readlink(&self, q: Qid) -> Result<String> {
        Ok(match q.path {
            QFD => "/proc/self/fd",
            QSTDIN => "/proc/self/fd/0",
            QSTDOUT => "/proc/self/fd/1",
            QSTDERR => "/proc/self/fd/2",
            _ => return Err(Errno::EINVAL),
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_bytes_through() {
        let dir = std::env::temp_dir().join(format!("vxos-cons-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("in"), b"typed").unwrap();
        let c = Cons::new(File::open(dir.join("in")).unwrap(), File::create(dir.join("out")).unwrap());
        let root = c.attach("").unwrap();
        let q = c.walk(root, "cons").unwrap();
        assert_eq!(c.stat(q).unwrap().rdev, makedev(5, 1));
        let mut b = [0u8; 8];
        assert_eq!(c.read(q, &mut b, 0).unwrap(), 5);
        assert_eq!(&b[..5], b"typed");
        c.write(q, b"shown", 0).unwrap();
        assert_eq!(std::fs::read(dir.join("out")).unwrap(), b"shown");
        assert_eq!(c.walk(root, "nope").unwrap_err(), Errno::ENOENT);
    }
}
