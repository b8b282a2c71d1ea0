//! The FUSE export: a guest's namespace served on a host directory
//! (`vxos boot|run --export DIR`), through the fuser crate.
//!
//! Host requests become namespace walks and device calls (`fs.rs`), made
//! on the FUSE session's host threads under the kernel lock
//! (`sched::HostKernel`), so they see the guest's files as a guest process
//! of the exported namespace would, and a wakeup they cause is never
//! lost. Which namespace is served, and the `.vxos/ctl` file that changes
//! it, is `ctl.rs`; mounting, unmounting and stale mounts are `mount.rs`.
//!
//! Every file appears owned by the host user who runs vxos; the devices
//! check permissions with the guest's credentials, which are that user's
//! ids. Files without any write permission refuse writes with EACCES,
//! read-only devices with EROFS. Absolute symbolic links are shown under
//! the mount point, so that the host resolves them inside the guest's
//! tree. Attributes are never cached (TTL 0) and I/O is direct, since
//! device files have no size.
//!
//! Reads and writes that may wait (the cmd device's files, the console)
//! run on a thread of their own, so a waiting reader never stops the
//! server; the console's, which wait on the host, run without the kernel
//! lock. fuser answers FUSE interrupts with ENOSYS, so a host process
//! killed while it waits (^C to `cat DIR/dev/cons`) would wait in the
//! host kernel until the read ended: such a read looks at its process now
//! and then and ends with EINTR once a fatal signal is pending for it
//! (`abandoned`).

mod ctl;
mod fs;
mod mount;

pub use mount::{check_dir, unmount};

use crate::ns::NsRef;
use crate::sched::HostKernel;
use devices::{Errno, FileType};
use fs::{fuse_err, Handle, Inner, Res};
use fuser::{
    FileHandle, Filesystem, FopenFlags, Generation, INodeNo, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
};
use std::cell::Cell;
use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Attributes and entries are looked up afresh each time.
const TTL: Duration = Duration::ZERO;

/// How often a waiting request looks whether its process still wants it.
const LOOK_AGAIN: Duration = Duration::from_millis(100);

/// Serve the namespace of process `pid` at `dir` (see `check_dir`) until
/// vxos exits: `ns`, or, if None, the process's once it exists.
/// Call before the vCPUs start (the kernel lock is then shared).
pub fn start(pid: u32, ns: Option<NsRef>, dir: &Path) -> Result<(), String> {
    crate::sched::share_kernel();
    crate::sched::add_external();
    let inner = Inner::new(ctl::Target::new(pid, ns), dir.to_path_buf());
    mount::mount(Export(Arc::new(inner)), dir)?;
    Ok(())
}

/// The FUSE file system: the shared state, each request under the kernel lock.
struct Export(Arc<Inner>);

/// Run `f` under the kernel lock; EIO once vxos is ending.
fn locked<T>(f: impl FnOnce() -> Res<T>) -> Res<T> {
    let Some(_k) = HostKernel::enter() else { return Err(Errno::EIO) };
    f()
}

/// How I/O on an open file is served.
#[derive(PartialEq)]
enum Io {
    /// On the FUSE thread, under the kernel lock.
    Inline,
    /// On a thread of its own, under the kernel lock (it waits in the kernel).
    Waits,
    /// On a thread of its own, without the kernel lock (it waits on the
    /// host: the console).
    WaitsOnHost,
}

fn io_of(h: &Handle) -> Io {
    match h {
        Handle::File { chan, .. } => match chan.dev.dc() {
            'c' => Io::WaitsOnHost,
            'C' | 't' => Io::Waits,
            _ => Io::Inline,
        },
        Handle::Ctl => Io::Inline,
    }
}

thread_local! {
    /// The host process whose request this thread serves (0: none).
    static REQUESTER: Cell<u32> = const { Cell::new(0) };
    /// When `abandoned` last looked at it.
    static LOOKED: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Whether the host process whose request this thread serves waits no
/// more: it has ended or a fatal signal is pending for it (the host
/// kernel turns a fatal signal into a pending SIGKILL). False on threads
/// serving no request. Looks at most every `LOOK_AGAIN`.
pub fn abandoned() -> bool {
    let pid = REQUESTER.with(Cell::get);
    if pid == 0 || LOOKED.with(Cell::get).is_some_and(|t| t.elapsed() < LOOK_AGAIN) {
        return false;
    }
    LOOKED.with(|l| l.set(Some(Instant::now())));
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return true };
    status.lines().any(|l| {
        let (key, value) = l.split_once(':').unwrap_or((l, ""));
        let killed = || u64::from_str_radix(value.trim(), 16).is_ok_and(|m| m & 1 << (libc::SIGKILL - 1) != 0);
        match key {
            "State" => value.trim_start().starts_with(['Z', 'X']),
            "SigPnd" | "ShdPnd" => killed(),
            _ => false,
        }
    })
}

/// Serve `f`, a request from host process `pid` that may wait, on a
/// thread of its own.
fn spawn_waiter(pid: u32, f: impl FnOnce() + Send + 'static) {
    let go = move || {
        REQUESTER.with(|r| r.set(pid));
        f()
    };
    if let Err(e) = std::thread::Builder::new().name("export-io".into()).spawn(go) {
        eprintln!("vxos: export: cannot start a thread: {e}");
    }
}

/// Read from `h` for host process `pid`: the console's input once it has
/// some (EINTR if the process stops waiting), else under the kernel lock.
fn read_handle(inner: &Inner, h: &Handle, offset: u64, size: u32) -> Res<Vec<u8>> {
    if let (Io::WaitsOnHost, Handle::File { chan, .. }) = (io_of(h), h) {
        while !chan.dev.await_input(chan.qid, LOOK_AGAIN) {
            if abandoned() {
                return Err(Errno(4)); // EINTR
            }
        }
        return inner.read(h, offset, size);
    }
    locked(|| inner.read(h, offset, size))
}

fn write_handle(inner: &Inner, h: &Handle, offset: u64, data: &[u8]) -> Res<usize> {
    if io_of(h) == Io::WaitsOnHost {
        return inner.write(h, offset, data);
    }
    locked(|| inner.write(h, offset, data))
}

impl Filesystem for Export {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match locked(|| self.0.lookup(parent, name)) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        match locked(|| self.0.getattr(ino, fh)) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match locked(|| self.0.setattr(ino, fh, mode, size, atime, mtime)) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match locked(|| self.0.readlink(ino)) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        match locked(|| self.0.mknod(parent, name, mode & !umask)) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn mkdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        match locked(|| self.0.make(parent, name, FileType::Dir, mode & !umask & 0o7777, None)) {
            Ok((_, a)) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match locked(|| self.0.remove(parent, name, false)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match locked(|| self.0.remove(parent, name, true)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn symlink(&self, _req: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        let r = locked(|| {
            let target = target.to_str().ok_or(Errno::EINVAL)?;
            // A link made through the export to a path under it points
            // at the guest's path.
            let mp = self.0.mountpoint.to_string_lossy();
            let target = target.strip_prefix(&*mp).filter(|t| t.starts_with('/')).unwrap_or(target);
            self.0.make(parent, link_name, FileType::Symlink, 0o777, Some(target))
        });
        match r {
            Ok((_, a)) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        match locked(|| self.0.rename(parent, name, newparent, newname, flags)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn link(&self, _req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        match locked(|| self.0.link(ino, newparent, newname)) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match locked(|| self.0.open(ino, flags.0)) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn read(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyData,
    ) {
        let h = match self.0.handle(fh) {
            Ok(h) => h,
            Err(e) => return reply.error(fuse_err(e)),
        };
        let inner = self.0.clone();
        let inline = io_of(&h) == Io::Inline;
        let go = move || match read_handle(&inner, &h, offset, size) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(fuse_err(e)),
        };
        if inline {
            go();
        } else {
            spawn_waiter(req.pid(), go);
        }
    }

    fn write(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: ReplyWrite,
    ) {
        let h = match self.0.handle(fh) {
            Ok(h) => h,
            Err(e) => return reply.error(fuse_err(e)),
        };
        let inner = self.0.clone();
        let inline = io_of(&h) == Io::Inline;
        let data = data.to_vec();
        let go = move || match write_handle(&inner, &h, offset, &data) {
            Ok(n) => reply.written(n as u32),
            Err(e) => reply.error(fuse_err(e)),
        };
        if inline {
            go();
        } else {
            spawn_waiter(req.pid(), go);
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let _ = locked(|| {
            self.0.release(fh);
            Ok(())
        });
        reply.ok();
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        match locked(|| self.0.readdir(ino)) {
            Ok(list) => {
                for (i, (n, kind, name)) in list.into_iter().enumerate().skip(offset as usize) {
                    if reply.add(INodeNo(n), (i + 1) as u64, kind, name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(fuse_err(e)),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(1 << 20, 1 << 19, 1 << 19, 1 << 20, 1 << 19, 4096, 255, 4096);
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        match locked(|| self.0.create(parent, name, mode & !umask & 0o7777, flags)) {
            Ok((a, fh)) => reply.created(&TTL, &a, Generation(0), FileHandle(fh), FopenFlags::FOPEN_DIRECT_IO),
            Err(e) => reply.error(fuse_err(e)),
        }
    }
}
