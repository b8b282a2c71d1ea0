//! The file descriptor table of a process, over host files (T1: host
//! files read-only, and the host's stdin, stdout and stderr). T3 replaces
//! host files with channels on devices in a namespace.

use crate::errno::{Errno, SysResult};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

/// What a descriptor refers to.
pub enum Object {
    /// A host file opened read-only.
    File(File),
    /// A host directory; `pos` counts entries already returned.
    Dir { path: PathBuf, file: File, pos: usize },
    /// A host stream: stdin, stdout, stderr or a pipe.
    Stdio(File),
}

/// An open file description.
pub struct OpenFile {
    pub obj: Object,
    pub flags: u32,
}

pub struct Fd {
    pub file: std::rc::Rc<std::cell::RefCell<OpenFile>>,
    pub cloexec: bool,
}

/// A process's descriptors, lowest free number first.
#[derive(Default)]
pub struct FdTable {
    fds: Vec<Option<Fd>>,
}

pub const O_ACCMODE: u32 = 3;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_CREAT: u32 = 0o100;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_DIRECTORY: u32 = 0o200000;
pub const O_NOFOLLOW: u32 = 0o400000;
pub const O_CLOEXEC: u32 = 0o2000000;
pub const O_LARGEFILE: u32 = 0o100000;

impl FdTable {
    /// A table with the host's stdin, stdout and stderr as 0, 1, 2.
    pub fn with_stdio() -> FdTable {
        let mut t = FdTable::default();
        for (n, flags) in [(0, 0), (1, O_WRONLY), (2, O_WRONLY)] {
            let dup = match n {
                0 => std::io::stdin().lock().try_clone_fd(),
                1 => std::io::stdout().lock().try_clone_fd(),
                _ => std::io::stderr().lock().try_clone_fd(),
            };
            match dup {
                Ok(f) => {
                    t.install_at(n as usize, OpenFile { obj: Object::Stdio(f), flags }, false);
                }
                Err(_) => t.fds.push(None),
            }
        }
        t
    }

    fn install_at(&mut self, n: usize, f: OpenFile, cloexec: bool) {
        if self.fds.len() <= n {
            self.fds.resize_with(n + 1, || None);
        }
        self.fds[n] = Some(Fd { file: std::rc::Rc::new(std::cell::RefCell::new(f)), cloexec });
    }

    /// Install an open file at the lowest free descriptor at or above `min`.
    pub fn install(&mut self, f: OpenFile, cloexec: bool) -> SysResult<u32> {
        let n = self.lowest_free(0);
        if n >= 1024 {
            return Err(Errno::EMFILE);
        }
        self.install_at(n, f, cloexec);
        Ok(n as u32)
    }

    fn lowest_free(&self, min: usize) -> usize {
        (min..).find(|&i| self.fds.get(i).is_none_or(|f| f.is_none())).unwrap()
    }

    pub fn get(&self, fd: u32) -> SysResult<&Fd> {
        self.fds.get(fd as usize).and_then(|f| f.as_ref()).ok_or(Errno::EBADF)
    }

    pub fn get_mut(&mut self, fd: u32) -> SysResult<&mut Fd> {
        self.fds.get_mut(fd as usize).and_then(|f| f.as_mut()).ok_or(Errno::EBADF)
    }

    pub fn close(&mut self, fd: u32) -> SysResult<u32> {
        let slot = self.fds.get_mut(fd as usize).ok_or(Errno::EBADF)?;
        slot.take().ok_or(Errno::EBADF)?;
        Ok(0)
    }

    /// Duplicate `fd` to the lowest free descriptor >= `min`.
    pub fn dup_min(&mut self, fd: u32, min: u32, cloexec: bool) -> SysResult<u32> {
        let file = self.get(fd)?.file.clone();
        let n = self.lowest_free(min as usize);
        if n >= 1024 {
            return Err(Errno::EMFILE);
        }
        if self.fds.len() <= n {
            self.fds.resize_with(n + 1, || None);
        }
        self.fds[n] = Some(Fd { file, cloexec });
        Ok(n as u32)
    }

    /// Make `new` refer to what `old` refers to.
    pub fn dup_to(&mut self, old: u32, new: u32, cloexec: bool) -> SysResult<u32> {
        let file = self.get(old)?.file.clone();
        if new >= 1024 {
            return Err(Errno::EBADF);
        }
        let n = new as usize;
        if self.fds.len() <= n {
            self.fds.resize_with(n + 1, || None);
        }
        self.fds[n] = Some(Fd { file, cloexec });
        Ok(new)
    }
}

trait TryCloneFd {
    fn try_clone_fd(&self) -> std::io::Result<File>;
}

impl<T: std::os::fd::AsFd> TryCloneFd for T {
    fn try_clone_fd(&self) -> std::io::Result<File> {
        Ok(File::from(self.as_fd().try_clone_to_owned()?))
    }
}

impl OpenFile {
    pub fn write(&mut self, buf: &[u8]) -> SysResult<usize> {
        if self.flags & O_ACCMODE == 0 {
            return Err(Errno::EBADF);
        }
        match &mut self.obj {
            Object::Stdio(f) => match f.write(buf) {
                Ok(n) => Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Errno::EPIPE),
                Err(e) => Err(e.into()),
            },
            Object::File(f) => Ok(f.write(buf)?),
            Object::Dir { .. } => Err(Errno::EISDIR),
        }
    }

    /// Write `len` bytes of guest memory at `addr` (already faulted in).
    pub fn write_guest(&mut self, g: &vx_core::Guest, addr: u32, len: usize) -> SysResult<usize> {
        use std::os::fd::AsFd;
        if self.flags & O_ACCMODE == 0 {
            return Err(Errno::EBADF);
        }
        match &self.obj {
            Object::Stdio(f) | Object::File(f) => match g.write_fd(f.as_fd(), addr, len) {
                Ok(n) => Ok(n),
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => Err(Errno::EPIPE),
                Err(e) => Err(e.into()),
            },
            Object::Dir { .. } => Err(Errno::EISDIR),
        }
    }

    pub fn pread(&mut self, buf: &mut [u8], off: u64) -> SysResult<usize> {
        match &mut self.obj {
            Object::File(f) => Ok(f.read_at(buf, off)?),
            Object::Stdio(_) => Err(Errno::ESPIPE),
            Object::Dir { .. } => Err(Errno::EISDIR),
        }
    }

    pub fn seek(&mut self, off: i64, whence: u32) -> SysResult<u64> {
        let pos = match whence {
            0 => SeekFrom::Start(u64::try_from(off).map_err(|_| Errno::EINVAL)?),
            1 => SeekFrom::Current(off),
            2 => SeekFrom::End(off),
            _ => return Err(Errno::EINVAL),
        };
        match &mut self.obj {
            Object::File(f) | Object::Stdio(f) => {
                f.seek(pos).map_err(|e| if e.raw_os_error() == Some(libc::EINVAL) { Errno::EINVAL } else { e.into() })
            }
            Object::Dir { pos: p, .. } => {
                if let SeekFrom::Start(0) = pos {
                    *p = 0;
                    Ok(0)
                } else {
                    Err(Errno::EINVAL)
                }
            }
        }
    }

    pub fn metadata(&self) -> SysResult<std::fs::Metadata> {
        match &self.obj {
            Object::File(f) | Object::Stdio(f) | Object::Dir { file: f, .. } => Ok(f.metadata()?),
        }
    }

    pub fn host_file(&self) -> &File {
        match &self.obj {
            Object::File(f) | Object::Stdio(f) | Object::Dir { file: f, .. } => f,
        }
    }
}
