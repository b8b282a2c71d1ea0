//! null (`#n`): the files of Linux's memory driver (character major 1)
//! that need nothing but bytes: null, zero, full, random and urandom.
//!
//! null reads as end of file and swallows writes; zero reads as zeros and
//! swallows writes; full reads as zeros and refuses writes with ENOSPC;
//! random and urandom read bytes from the host's /dev/urandom (so they never
//! block, as Linux's random no longer does once seeded) and swallow writes.
//! The files are a static table; each stat carries its Linux device number
//! (`makedev`), so the kernel can also serve a device node naming 1:3 with
//! this device's "null".

use crate::dev::*;
use crate::dirtab::{self, makedev, DirTab};
use std::fs::File;
use std::io::Read;

const QDIR: u64 = 0;
const QNULL: u64 = 1;
const QZERO: u64 = 2;
const QFULL: u64 = 3;
const QRANDOM: u64 = 4;
const QURANDOM: u64 = 5;

/// A character device file of major 1, readable and writable by all.
const fn chr(name: &'static str, path: u64, minor: u32) -> DirTab {
    DirTab { name, path, kind: FileType::CharDev, perm: 0o666, rdev: makedev(1, minor) }
}

const NULLTAB: [DirTab; 6] = [
    DirTab { name: ".", path: QDIR, kind: FileType::Dir, perm: 0o555, rdev: 0 },
    chr("null", QNULL, 3),
    chr("zero", QZERO, 5),
    chr("full", QFULL, 7),
    chr("random", QRANDOM, 8),
    chr("urandom", QURANDOM, 9),
];

/// The null device.
pub struct Null {
    /// The host's /dev/urandom, if it could be opened.
    urandom: Option<File>,
    /// When the device started: every file's time.
    start: Time,
}

impl Default for Null {
    fn default() -> Self {
        Self::new()
    }
}

impl Null {
    /// Start the device; without a host /dev/urandom, random reads fail EIO.
    pub fn new() -> Null {
        Null { urandom: File::open("/dev/urandom").ok(), start: Time::now() }
    }

    /// Return the qid of file `name` ("null", "zero" ...), for the kernel to
    /// bind one file alone.
    pub fn file(&self, name: &str) -> Result<Qid> {
        dirtab::walk(&NULLTAB, NULLTAB[0].qid(), name)
    }
}

impl Dev for Null {
    fn dc(&self) -> char {
        'n'
    }

    fn name(&self) -> &'static str {
        "null"
    }

    fn attach(&self, _spec: &str) -> Result<Qid> {
        Ok(NULLTAB[0].qid())
    }

    fn walk(&self, from: Qid, name: &str) -> Result<Qid> {
        dirtab::walk(&NULLTAB, from, name)
    }

    fn stat(&self, q: Qid) -> Result<Stat> {
        dirtab::stat(&NULLTAB, q, self.start)
    }

    fn open(&self, q: Qid, mode: OpenMode, cred: Cred) -> Result<Qid> {
        dirtab::open(&NULLTAB, q, mode, cred)
    }

    fn read(&self, q: Qid, buf: &mut [u8], _off: u64) -> Result<usize> {
        match q.path {
            QDIR => Err(Errno::EISDIR),
            QNULL => Ok(0),
            QZERO | QFULL => {
                buf.fill(0);
                Ok(buf.len())
            }
            QRANDOM | QURANDOM => {
                let mut f = self.urandom.as_ref().ok_or(Errno::EIO)?;
                Ok(f.read(buf)?)
            }
            _ => Err(Errno::ENOENT),
        }
    }

    fn write(&self, q: Qid, buf: &[u8], _off: u64) -> Result<usize> {
        match q.path {
            QDIR => Err(Errno::EISDIR),
            QFULL => Err(Errno::ENOSPC),
            QNULL | QZERO | QRANDOM | QURANDOM => Ok(buf.len()),
            _ => Err(Errno::ENOENT),
        }
    }

    fn readdir(&self, q: Qid, start: usize) -> Result<Vec<DirEntry>> {
        dirtab::readdir(&NULLTAB, q, start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(n: &Null, name: &str) -> Qid {
        let q = n.walk(n.attach("").unwrap(), name).unwrap();
        n.open(q, OpenMode::RDWR, Cred { uid: 1000, gid: 1000 }).unwrap()
    }

    #[test]
    fn lists_its_files_with_linux_device_numbers() {
        let n = Null::new();
        let root = n.attach("").unwrap();
        let names: Vec<String> = n.readdir(root, 0).unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["null", "zero", "full", "random", "urandom"]);
        assert_eq!(n.readdir(root, 4).unwrap().len(), 1);
        for (name, minor) in [("null", 3), ("zero", 5), ("full", 7), ("random", 8), ("urandom", 9)] {
            let st = n.stat(n.file(name).unwrap()).unwrap();
            assert_eq!(st.mode(), 0o020666, "{name}");
            assert_eq!(st.rdev, 0x100 | minor, "{name}");
        }
        assert_eq!(n.stat(root).unwrap().mode(), 0o040555);
        assert_eq!(n.walk(n.file("null").unwrap(), "..").unwrap_err(), Errno::ENOTDIR);
        assert_eq!(n.walk(root, "mem").unwrap_err(), Errno::ENOENT);
        assert_eq!(n.read(root, &mut [0; 4], 0).unwrap_err(), Errno::EISDIR);
        assert_eq!(n.create(root, "x", FileType::File, 0o644, Cred::ROOT).unwrap_err(), Errno::EROFS);
    }

    #[test]
    fn null_zero_full() {
        let n = Null::new();
        let mut b = [7u8; 16];
        let null = open(&n, "null");
        assert_eq!(n.read(null, &mut b, 0).unwrap(), 0);
        assert_eq!(n.write(null, b"gone", 0).unwrap(), 4);
        let zero = open(&n, "zero");
        assert_eq!(n.read(zero, &mut b, 100).unwrap(), 16);
        assert_eq!(b, [0; 16]);
        assert_eq!(n.write(zero, b"gone", 0).unwrap(), 4);
        let full = open(&n, "full");
        b.fill(7);
        assert_eq!(n.read(full, &mut b, 0).unwrap(), 16);
        assert_eq!(b, [0; 16]);
        assert_eq!(n.write(full, b"x", 0).unwrap_err(), Errno::ENOSPC);
    }

    #[test]
    fn random_reads_differ() {
        let n = Null::new();
        for name in ["random", "urandom"] {
            let q = open(&n, name);
            let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
            assert_eq!(n.read(q, &mut a, 0).unwrap(), 32);
            assert_eq!(n.read(q, &mut b, 0).unwrap(), 32);
            assert_ne!(a, b);
            assert_ne!(a, [0; 32]);
            assert_eq!(n.write(q, b"seed", 0).unwrap(), 4);
        }
    }
}
