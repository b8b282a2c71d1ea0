//! File system calls: Linux's view of the process's namespace.
//!
//! Paths are looked up in the caller's namespace (`ns.rs`); the file found
//! is a channel on a device, and these calls turn Linux's requests into
//! the device's operations: open, read, write, stat, create, remove,
//! wstat. Descriptors and open file descriptions are in `files.rs`; these
//! files are argument checking, Linux's error order, and copying between
//! guest memory and files. This one looks paths up; the calls are grouped
//! by what they do: `open` (opening and closing), `rw` (reading, writing,
//! seeking), `fd` (the descriptor table), `stat`, `attr` (permissions,
//! owners, times, sizes, extended attributes), `names` (creating,
//! removing, renaming and listing names) and `pipes` (pipes, memfds and
//! mounts).

use super::{path_arg, Args};
use crate::errno::{Errno, SysResult};
use crate::files::*;
use crate::ns::{Chan, MountFlag};
use crate::process::Process;
use devices::perm::{self, MAY_EXEC, MAY_READ, MAY_WRITE};
use devices::{Cred, FileType, OpenMode, Stat, Time, Wstat};
use std::sync::Arc;

mod attr;
mod fd;
mod names;
mod open;
mod pipes;
mod rw;
mod stat;

pub use attr::*;
pub use fd::*;
pub use names::*;
pub use open::*;
pub use pipes::*;
pub use rw::*;
pub use stat::*;

pub(super) const AT_FDCWD: u32 = -100i32 as u32;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_REMOVEDIR: u32 = 0x200;
const AT_EACCESS: u32 = 0x200;
const AT_SYMLINK_FOLLOW: u32 = 0x400;
const AT_NO_AUTOMOUNT: u32 = 0x800;
const AT_EMPTY_PATH: u32 = 0x1000;
const AT_STATX_SYNC_TYPE: u32 = 0x6000;

/// The largest file offset for descriptors opened without O_LARGEFILE.
const MAX_NON_LFS: u64 = 0x7fff_ffff;

/// Clip a write of `len` at `pos` to what a descriptor without
/// O_LARGEFILE may write: EFBIG at or past 2 GiB - 1.
fn lfs_clip(flags: u32, pos: u64, len: usize) -> SysResult<usize> {
    if flags & O_LARGEFILE != 0 {
        return Ok(len);
    }
    if pos >= MAX_NON_LFS {
        return Err(Errno::EFBIG);
    }
    Ok(len.min((MAX_NON_LFS - pos) as usize))
}

/// Largest single transfer, as Linux caps read and write.
const MAX_RW: usize = 0x7fff_f000;
/// Largest transfer staged through a kernel buffer at once.
const CHUNK: usize = 1 << 20;

// ---------------------------------------------------------------------
// Looking paths up.

/// A path argument as text (names are UTF-8 in vxos's devices).
/// A path from the guest as the namespace names it (bytes that are not
/// UTF-8 are escaped: see devices::names).
fn text(name: &[u8]) -> SysResult<std::borrow::Cow<'_, str>> {
    Ok(devices::names::decode(name))
}

/// The channel of a descriptor opened for I/O (not O_PATH), for calls
/// that change the file: EBADF otherwise.
fn fd_chan_io(p: &Process, fd: u32) -> SysResult<Chan> {
    let f = p.files.file(fd)?;
    let f = f.borrow();
    match f.open() {
        Some(o) if f.flags & O_PATH == 0 => Ok(o.chan.clone()),
        _ => Err(Errno::EBADF),
    }
}

/// The channel a descriptor holds, for *at calls and f* calls.
fn fd_chan(p: &Process, fd: u32) -> SysResult<Chan> {
    let f = p.files.file(fd)?;
    let f = f.borrow();
    match f.open() {
        Some(o) => Ok(o.chan.clone()),
        None => Err(Errno::ENOTDIR),
    }
}

/// Where a relative path of a *at call starts.
fn start(p: &Process, dirfd: u32, name: &str) -> SysResult<Chan> {
    if name.starts_with('/') {
        return Ok(p.ns.root());
    }
    if dirfd == AT_FDCWD {
        return Ok(p.fs.cwd.clone());
    }
    let c = fd_chan(p, dirfd)?;
    if !c.qid.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(c)
}

/// Look a path up as Linux's namei does.
fn lookup(p: &Process, dirfd: u32, name: &[u8], follow: bool) -> SysResult<Chan> {
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    let s = text(name)?;
    let base = start(p, dirfd, &s)?;
    Ok(p.ns.namei(&base, &s, follow)?)
}

/// Look a path up, or take the descriptor itself for an empty path with
/// AT_EMPTY_PATH.
fn lookup_at(p: &mut Process, dirfd: u32, path: u32, flags: u32, follow: bool) -> SysResult<Chan> {
    let name = path_arg(p, path)?;
    if name.is_empty() && flags & AT_EMPTY_PATH != 0 {
        if dirfd == AT_FDCWD {
            return Ok(p.fs.cwd.clone());
        }
        let f = p.files.file(dirfd)?;
        let f = f.borrow();
        return match f.open() {
            Some(o) => Ok(o.chan.clone()),
            None => Err(Errno::EBADF),
        };
    }
    lookup(p, dirfd, &name, follow)
}

/// Find the directory that holds a path's last element, and the element.
fn parent(p: &Process, dirfd: u32, name: &[u8]) -> SysResult<(Chan, String)> {
    let s = text(name)?;
    if s.is_empty() {
        return Err(Errno::ENOENT);
    }
    let base = start(p, dirfd, &s)?;
    Ok(p.ns.namei_parent(&base, &s)?)
}

/// Describe the file a channel is on.
fn stat_of(c: &Chan) -> SysResult<Stat> {
    Ok(c.dev.stat(c.qid)?)
}

/// Check the caller may change entries of directory `dir` (write and
/// search permission), and, for a sticky directory, entry `victim`.
fn may_change(p: &Process, dir: &Chan, victim: Option<&Chan>) -> SysResult<()> {
    let cred = p.cred();
    if dir.dev.read_only() {
        return Err(Errno::EROFS);
    }
    if cred.uid == 0 {
        return Ok(());
    }
    let ds = stat_of(dir)?;
    perm::check(&ds, cred, MAY_WRITE | MAY_EXEC)?;
    if let Some(v) = victim {
        let vs = stat_of(v)?;
        if ds.perm & 0o1000 != 0 && vs.uid != cred.uid && ds.uid != cred.uid {
            return Err(Errno::EPERM);
        }
    }
    Ok(())
}
