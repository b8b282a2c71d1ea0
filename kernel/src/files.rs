//! Open files and the file descriptor table of a process.
//!
//! An open file is either a channel on a device, reached through the
//! process's namespace (`Object::Chan`), a host stream (the host's stdin,
//! stdout and stderr), or a kernel object: a pipe end, a terminal, a socket
//! (socket.rs), or one of the anonymous-inode files (eventfd, timerfd,
//! signalfd: evfd.rs; epoll: epoll.rs).
//! host file too, so reads and writes move data between it and guest
//! memory directly. Descriptors share open file descriptions (offset,
//! status flags) as Linux's dup and fork do.

use crate::errno::{Errno, SysResult};
use crate::mm::vma::Pager;
use crate::ns::Chan;
use devices::{DirEntry, Qid};
use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::Arc;

/// A file opened on its device, clunked when the last holder (a
/// descriptor or a memory mapping) lets go.
pub struct Open {
    pub chan: Chan,
    /// The host file behind it, for devices that have one.
    pub host: Option<File>,
    /// Opened on the device (not an O_PATH handle), so clunked at the end.
    pub opened: bool,
}

impl Drop for Open {
    fn drop(&mut self) {
        if self.opened {
            self.chan.dev.clunk(self.chan.qid);
        }
    }
}

impl Open {
    /// Read at `off` through the host file or the device.
    pub fn read_at(&self, buf: &mut [u8], off: u64) -> SysResult<usize> {
        match &self.host {
            Some(h) => Ok(FileExt::read_at(h, buf, off)?),
            None => Ok(self.chan.dev.read(self.chan.qid, buf, off).map_err(dev_err)?),
        }
    }

    /// Write at `off` through the host file or the device.
    pub fn write_at(&self, buf: &[u8], off: u64) -> SysResult<usize> {
        match &self.host {
            Some(h) => Ok(FileExt::write_at(h, buf, off)?),
            None => Ok(self.chan.dev.write(self.chan.qid, buf, off).map_err(dev_err)?),
        }
    }

    /// Describe the file.
    pub fn stat(&self) -> SysResult<devices::Stat> {
        self.chan.dev.stat(self.chan.qid).map_err(dev_err)
    }
}

impl Pager for Open {
    fn name(&self) -> Option<String> {
        Some(self.chan.path_string())
    }
    fn read_at(&self, buf: &mut [u8], off: u64) -> std::io::Result<usize> {
        Open::read_at(self, buf, off).map_err(|e| std::io::Error::from_raw_os_error(e as i32))
    }
    fn write_all_at(&self, mut buf: &[u8], mut off: u64) -> std::io::Result<()> {
        while !buf.is_empty() {
            let n = Open::write_at(self, buf, off).map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
            if n == 0 {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
            buf = &buf[n..];
            off += n as u64;
        }
        Ok(())
    }
    fn size(&self) -> std::io::Result<u64> {
        match &self.host {
            Some(h) => Ok(h.metadata()?.len()),
            None => self.stat().map(|s| s.size).map_err(|e| std::io::Error::from_raw_os_error(e as i32)),
        }
    }
    fn key(&self) -> (u64, u64) {
        (devno(&self.chan), self.chan.qid.path)
    }
    fn lasting_id(&self) -> Option<u64> {
        let m = self.host.as_ref()?.metadata().ok()?;
        Some(crate::mm::vma::host_lasting_id(&m))
    }
    fn size_vers(&self) -> std::io::Result<(u64, Option<u32>)> {
        match &self.host {
            // The version as hostfs makes it: from the modification time.
            Some(h) => {
                use std::os::unix::fs::MetadataExt;
                let m = h.metadata()?;
                Ok((m.len(), Some((m.mtime() as u32) ^ (m.mtime_nsec() as u32))))
            }
            None => {
                let st = self.stat().map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
                Ok((st.size, Some(st.qid.vers)))
            }
        }
    }
}

/// Map a device error to the guest's errno.
pub fn dev_err(e: devices::Errno) -> Errno {
    Errno::from_host(e.0)
}

/// The device number a channel's file system reports (st_dev): one per
/// device instance, numbered as they are first seen.
pub fn devno(c: &Chan) -> u64 {
    use std::collections::HashMap;
    static NUMBERS: parking_lot::Mutex<Option<HashMap<usize, u64>>> = parking_lot::Mutex::new(None);
    let key = Arc::as_ptr(&c.dev) as *const () as usize;
    let mut m = NUMBERS.lock();
    let m = m.get_or_insert_with(HashMap::new);
    let next = m.len() as u64;
    // Anonymous devices are major 0 on Linux: 0:N, starting at 0:40.
    *m.entry(key).or_insert(40 + next)
}

/// One directory entry as getdents reports it.
pub struct Dirent {
    pub name: Vec<u8>,
    pub ino: u64,
    pub dtype: u8,
}

/// What a descriptor refers to.
pub enum Object {
    /// A file of a device. `dir` is a directory's listing, taken at the
    /// first getdents (and again after a rewind).
    Chan { open: Arc<Open>, dir: Option<Vec<Dirent>> },
    /// A host stream: stdin, stdout or stderr as vxos got them.
    Stdio(File),
    /// One end of a pipe.
    Pipe(crate::pipe::End),
    /// A terminal: the console (`vxos boot`) or a pseudo-terminal's slave.
    Tty(Arc<crate::tty::Tty>),
    /// A pseudo-terminal's master (/dev/ptmx).
    PtyMaster(Arc<crate::tty::Tty>),
    /// A socket (socket.rs).
    Socket(crate::socket::SocketFile),
    /// An eventfd's counter.
    EventFd(crate::evfd::EventFd),
    /// A timerfd.
    TimerFd(crate::evfd::TimerFd),
    /// A signalfd's mask.
    SignalFd(crate::evfd::SignalFd),
    /// An epoll instance.
    Epoll(crate::epoll::Epoll),
}

impl Object {
    /// The name of an anonymous-inode file as /proc shows it
    /// (`anon_inode:[eventfd]`); None for other files.
    pub fn anon_name(&self) -> Option<&'static str> {
        match self {
            Object::EventFd(_) => Some("[eventfd]"),
            Object::TimerFd(_) => Some("[timerfd]"),
            Object::SignalFd(_) => Some("[signalfd]"),
            Object::Epoll(_) => Some("[eventpoll]"),
            Object::Chan { .. }
            | Object::Stdio(_)
            | Object::Pipe(_)
            | Object::Tty(_)
            | Object::PtyMaster(_)
            | Object::Socket(_) => None,
        }
    }
}

/// An open file description: what is open, its status flags and offset.
pub struct OpenFile {
    pub obj: Object,
    pub flags: u32,
    pub pos: u64,
}

impl OpenFile {
    /// A description of an opened channel.
    pub fn chan(open: Open, flags: u32) -> OpenFile {
        OpenFile { obj: Object::Chan { open: Arc::new(open), dir: None }, flags, pos: 0 }
    }

    /// The open channel (None for host streams).
    pub fn open(&self) -> Option<&Arc<Open>> {
        match &self.obj {
            Object::Chan { open, .. } => Some(open),
            _ => None,
        }
    }

    /// Report whether the description was opened for reading.
    pub fn readable(&self) -> bool {
        matches!(self.flags & O_ACCMODE, 0 | O_RDWR) && self.flags & O_PATH == 0
    }

    /// Report whether the description was opened for writing.
    pub fn writable(&self) -> bool {
        matches!(self.flags & O_ACCMODE, O_WRONLY | O_RDWR) && self.flags & O_PATH == 0
    }
}

impl Drop for OpenFile {
    /// The description's own locks go with it.
    fn drop(&mut self) {
        match &self.obj {
            Object::Tty(t) => t.slave_closed(),
            Object::PtyMaster(t) => t.master_closed(),
            _ => {}
        }
        let me = self as *const OpenFile as usize;
        crate::locks::release(None, crate::locks::Owner::Description(me));
        crate::locks::release(None, crate::locks::Owner::Flock(me));
    }
}

pub struct Fd {
    pub file: Rc<RefCell<OpenFile>>,
    pub cloexec: bool,
}

/// The most descriptors a process may have (RLIMIT_NOFILE).
pub const MAX_FDS: usize = 1024;

/// A process's descriptors, lowest free number first.
#[derive(Default)]
pub struct FdTable {
    fds: Vec<Option<Fd>>,
    view: FdView,
}

/// What /proc/N/fd shows of a descriptor table: each descriptor's link
/// text, kept up to date as the table changes (the proc device cannot
/// reach into a process's own state, so the table tells it).
pub type FdView = Arc<parking_lot::Mutex<std::collections::BTreeMap<u32, String>>>;

impl OpenFile {
    /// The text of the descriptor's /proc/N/fd link, as Linux writes it.
    pub fn link_text(&self) -> String {
        match &self.obj {
            Object::Chan { open, .. } => open.chan.path_string(),
            Object::Stdio(h) => {
                use std::os::fd::AsRawFd;
                std::fs::read_link(format!("/proc/self/fd/{}", h.as_raw_fd()))
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| "host:[stdio]".into())
            }
            Object::Pipe(e) => format!("pipe:[{}]", e.pipe().id() & 0xffff_ffff),
            Object::Tty(t) => t.path(),
            Object::PtyMaster(_) => "/dev/ptmx".into(),
            Object::Socket(so) => format!("socket:[{}]", so.socket().id() & 0xffff_ffff),
            o => format!("anon_inode:{}", o.anon_name().unwrap_or("[unknown]")),
        }
    }
}

pub const O_ACCMODE: u32 = 3;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_NOCTTY: u32 = 0o400;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;

pub const O_DIRECT: u32 = 0o40000;
pub const O_LARGEFILE: u32 = 0o100000;
pub const O_DIRECTORY: u32 = 0o200000;
pub const O_NOFOLLOW: u32 = 0o400000;
pub const O_NOATIME: u32 = 0o1000000;
pub const O_CLOEXEC: u32 = 0o2000000;

pub const O_PATH: u32 = 0o10000000;
pub const O_TMPFILE: u32 = 0o20200000;

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
                    let access = rustix::fs::fcntl_getfl(&f).map(|fl| fl.bits() & O_ACCMODE).unwrap_or(flags);
                    t.install_at(n as usize, OpenFile { obj: Object::Stdio(f), flags: access, pos: 0 }, false);
                }
                Err(_) => t.fds.push(None),
            }
        }
        t
    }

    /// A table whose 0, 1 and 2 are the console terminal (`vxos boot`).
    pub fn with_tty(tty: &Arc<crate::tty::Tty>) -> FdTable {
        let mut t = FdTable::default();
        for n in 0..3 {
            t.install_at(n, OpenFile { obj: Object::Tty(tty.clone()), flags: O_RDWR, pos: 0 }, false);
        }
        t
    }

    /// A table whose 0, 1 and 2 are pipe ends (a command the cmd device
    /// started): stdin to read, stdout and stderr to write.
    pub fn with_pipes(stdin: crate::pipe::End, stdout: crate::pipe::End, stderr: crate::pipe::End) -> FdTable {
        let mut t = FdTable::default();
        t.install_at(0, OpenFile { obj: Object::Pipe(stdin), flags: 0, pos: 0 }, false);
        t.install_at(1, OpenFile { obj: Object::Pipe(stdout), flags: O_WRONLY, pos: 0 }, false);
        t.install_at(2, OpenFile { obj: Object::Pipe(stderr), flags: O_WRONLY, pos: 0 }, false);
        t
    }

    fn install_at(&mut self, n: usize, f: OpenFile, cloexec: bool) {
        if self.fds.len() <= n {
            self.fds.resize_with(n + 1, || None);
        }
        self.view.lock().insert(n as u32, f.link_text());
        self.fds[n] = Some(Fd { file: Rc::new(RefCell::new(f)), cloexec });
    }

    /// The table as /proc shows it.
    pub fn view(&self) -> FdView {
        self.view.clone()
    }

    /// Install an open file at the lowest free descriptor.
    pub fn install(&mut self, f: OpenFile, cloexec: bool) -> SysResult<u32> {
        let n = self.lowest_free(0);
        if n >= MAX_FDS {
            return Err(Errno::EMFILE);
        }
        self.install_at(n, f, cloexec);
        Ok(n as u32)
    }

    /// Install an open file description another descriptor may share (one
    /// passed in a socket message) at the lowest free descriptor.
    pub fn install_shared(&mut self, file: Rc<RefCell<OpenFile>>, cloexec: bool) -> SysResult<u32> {
        let n = self.lowest_free(0);
        if n >= MAX_FDS {
            return Err(Errno::EMFILE);
        }
        if self.fds.len() <= n {
            self.fds.resize_with(n + 1, || None);
        }
        self.fds[n] = Some(Fd { file, cloexec });
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

    /// The open file description of `fd`.
    pub fn file(&self, fd: u32) -> SysResult<Rc<RefCell<OpenFile>>> {
        Ok(self.get(fd)?.file.clone())
    }

    pub fn close(&mut self, fd: u32) -> SysResult<u32> {
        let slot = self.fds.get_mut(fd as usize).ok_or(Errno::EBADF)?;
        slot.take().ok_or(Errno::EBADF)?;
        self.view.lock().remove(&fd);
        Ok(0)
    }

    /// A copy for a forked child: the same open file descriptions.
    pub fn fork_copy(&self) -> FdTable {
        let fds =
            self.fds.iter().map(|f| f.as_ref().map(|f| Fd { file: f.file.clone(), cloexec: f.cloexec })).collect();
        let view = Arc::new(parking_lot::Mutex::new(self.view.lock().clone()));
        FdTable { fds, view }
    }

    /// Close the descriptors marked close-on-exec.
    pub fn close_on_exec(&mut self) {
        let mut view = self.view.lock();
        for (n, f) in self.fds.iter_mut().enumerate() {
            if f.as_ref().is_some_and(|f| f.cloexec) {
                *f = None;
                view.remove(&(n as u32));
            }
        }
    }

    /// Duplicate `fd` to the lowest free descriptor >= `min`.
    pub fn dup_min(&mut self, fd: u32, min: u32, cloexec: bool) -> SysResult<u32> {
        let file = self.get(fd)?.file.clone();
        if min as usize >= MAX_FDS {
            return Err(Errno::EINVAL);
        }
        let n = self.lowest_free(min as usize);
        if n >= MAX_FDS {
            return Err(Errno::EMFILE);
        }
        if self.fds.len() <= n {
            self.fds.resize_with(n + 1, || None);
        }
        self.view.lock().insert(n as u32, file.borrow().link_text());
        self.fds[n] = Some(Fd { file, cloexec });
        Ok(n as u32)
    }

    /// Make `new` refer to what `old` refers to.
    pub fn dup_to(&mut self, old: u32, new: u32, cloexec: bool) -> SysResult<u32> {
        let file = self.get(old)?.file.clone();
        if new as usize >= MAX_FDS {
            return Err(Errno::EBADF);
        }
        let n = new as usize;
        if self.fds.len() <= n {
            self.fds.resize_with(n + 1, || None);
        }
        self.view.lock().insert(new, file.borrow().link_text());
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

/// Return entries for a directory listing: "." and ".." first, then the
/// union's names.
pub fn listing(dot: Qid, dotdot: Qid, entries: Vec<DirEntry>) -> Vec<Dirent> {
    let mut v = vec![
        Dirent { name: b".".to_vec(), ino: dot.path, dtype: 4 },
        Dirent { name: b"..".to_vec(), ino: dotdot.path, dtype: 4 },
    ];
    v.extend(entries.into_iter().map(|e| Dirent {
        name: devices::names::encode(&e.name).into_owned(),
        ino: e.qid.path,
        dtype: e.qid.kind.dirent_type(),
    }));
    v
}
