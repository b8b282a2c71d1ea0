//! Putting the export on its host directory and taking it off.
//!
//! The mount is made by fusermount3 (Debian's fuse3), as libfuse makes
//! it: setuid root, so a normal user can mount, and with `auto_unmount`,
//! so that fusermount3 stays behind and unmounts the directory when
//! vxos's end of their socket closes, however vxos ends (SIGKILL too).
//! Without fusermount3, root mounts directly (fuser's own mount). On a
//! normal exit or a fatal signal vxos unmounts at once (`unmount`), so
//! the directory is free when vxos's status is seen.
//!
//! A stale mount (its server gone, stat fails with ENOTCONN) is certainly
//! dead: the next `--export` to the directory clears it and says so, or,
//! if it cannot, names the command that does and exits with status 2, as
//! it does for a directory another running vxos exports.

use fuser::Filesystem;
use parking_lot::Mutex;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The mount point while mounted, for `unmount`.
static MOUNTED: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The fusermount3 that made the mount and our end of its socket: closing
/// it has fusermount3 unmount and exit.
static HELPER: Mutex<Option<(OwnedFd, Child)>> = Mutex::new(None);

/// Threads that read FUSE requests: one may wait on the kernel lock while
/// the other serves.
const THREADS: usize = 2;

/// Why a directory cannot take the export: the message and vxos's exit
/// status.
pub type DirError = (String, i32);

/// Check that `dir` can take the export: an existing directory (made if
/// missing), not exported by a running vxos; a stale mount of an earlier
/// vxos is cleared. Return its absolute path.
pub fn check_dir(dir: &Path) -> Result<PathBuf, DirError> {
    let d = dir.display();
    let clear = format!("fusermount3 -u {d}");
    match std::fs::metadata(dir) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
            if !detach(dir) || std::fs::metadata(dir).is_err() {
                let msg = format!(
                    "{d}: a stale export left by a vxos that ended without unmounting it; clear it with: {clear}"
                );
                return Err((msg, 2));
            }
            eprintln!("vxos: --export {d}: cleared a stale export there (its vxos ended without unmounting it)");
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| (format!("{d}: {e}"), 1))?;
        }
        Err(e) => return Err((format!("{d}: {e}"), 1)),
        Ok(m) if !m.is_dir() => return Err((format!("{d}: not a directory"), 1)),
        Ok(_) => {}
    }
    if !Path::new("/dev/fuse").exists() {
        return Err(("the export needs /dev/fuse, which this host lacks".into(), 1));
    }
    let abs = std::path::absolute(dir).map_err(|e| (format!("{d}: {e}"), 1))?;
    if vxos_mounted_at(&abs) {
        let msg = format!("{d}: a running vxos exports its guest there; end it, or clear the mount with: {clear}");
        return Err((msg, 2));
    }
    Ok(abs)
}

/// Whether a vxos export is mounted at `dir` (a live one: a stale one
/// fails stat first).
fn vxos_mounted_at(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else { return false };
    let want = dir.to_string_lossy();
    text.lines().any(|l| {
        let (left, right) = l.split_once(" - ").unwrap_or((l, ""));
        left.split(' ').nth(4).map(unescape).as_deref() == Some(&*want) && right.starts_with("fuse.vxos ")
    })
}

/// Undo mountinfo's octal escapes (`\040` for a blank).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct =
            b.get(i + 1..i + 4).and_then(|d| std::str::from_utf8(d).ok()).and_then(|d| u8::from_str_radix(d, 8).ok());
        match (b[i], oct) {
            (b'\\', Some(c)) => {
                out.push(c);
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The fusermount3 to mount with, if the host has one.
fn fusermount3() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join("fusermount3"))
        .find(|p| p.is_file())
}

/// Serve `fs` at `dir` from threads of its own until vxos exits.
pub(super) fn mount<FS: Filesystem + Send + Sync + 'static>(fs: FS, dir: &Path) -> Result<(), String> {
    let d = dir.display();
    let mut cfg = fuser::Config::default();
    cfg.n_threads = Some(THREADS);
    let session = match fusermount3() {
        Some(bin) => {
            let fd = through_fusermount(&bin, dir)?;
            let s = fuser::Session::from_fd(fs, fd, fuser::SessionACL::Owner, cfg)
                .map_err(|e| format!("cannot serve {d}: {e}"))?;
            s.spawn().map_err(|e| format!("cannot serve {d}: {e}"))?
        }
        None if rustix::process::geteuid().is_root() => {
            cfg.mount_options =
                vec![fuser::MountOption::FSName("vxos".into()), fuser::MountOption::Subtype("vxos".into())];
            fuser::spawn_mount(fs, dir, &cfg).map_err(|e| format!("cannot mount {d}: {e}"))?
        }
        None => return Err("the export needs fusermount3 (Debian's fuse3: scripts/setup.sh installs it)".into()),
    };
    // Unmounted by `unmount` (vxos exits without running destructors).
    std::mem::forget(session);
    *MOUNTED.lock() = Some(dir.to_path_buf());
    Ok(())
}

/// Have fusermount3 mount /dev/fuse at `dir` (libfuse's protocol: it
/// sends the open device back over the socket named by _FUSE_COMMFD);
/// return the device. fusermount3 keeps our end of the socket to unmount
/// when it closes.
fn through_fusermount(bin: &Path, dir: &Path) -> Result<OwnedFd, String> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let fail = |e: std::io::Error| format!("cannot mount {}: {e}", dir.display());
    // Ours is close-on-exec; fusermount3's is not, so that it inherits it.
    let (ours, theirs) = rustix::net::socketpair(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None)
        .map_err(|e| fail(e.into()))?;
    rustix::io::fcntl_setfd(&theirs, rustix::io::FdFlags::empty()).map_err(|e| fail(e.into()))?;
    use std::os::fd::AsRawFd;
    let child = Command::new(bin)
        .arg("-o")
        .arg("auto_unmount,fsname=vxos,subtype=vxos")
        .arg("--")
        .arg(dir)
        .env("_FUSE_COMMFD", theirs.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(fail)?;
    drop(theirs);
    match receive_fd(&ours) {
        Some(fd) => {
            // fusermount3 lives on until `ours` closes, when vxos ends.
            let mut child = child;
            drop(child.stderr.take());
            *HELPER.lock() = Some((ours, child));
            Ok(fd)
        }
        None => {
            drop(ours);
            let out = child.wait_with_output().map_err(fail)?;
            let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
            Err(format!("cannot mount {}: {}", dir.display(), if why.is_empty() { "fusermount3 failed" } else { &why }))
        }
    }
}

/// The file descriptor fusermount3 sends, if it sends one.
fn receive_fd(sock: &OwnedFd) -> Option<OwnedFd> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    let mut space = [0u8; rustix::cmsg_space!(ScmRights(1))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    let r = rustix::net::recvmsg(sock, &mut [std::io::IoSliceMut::new(&mut byte)], &mut cmsg, RecvFlags::CMSG_CLOEXEC)
        .ok()?;
    if r.bytes == 0 {
        return None;
    }
    let fd = cmsg.drain().find_map(|m| match m {
        RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
        _ => None,
    });
    fd
}

/// Take a mount off `dir` at once, even if host processes still use it:
/// through fusermount3 (any user's own mounts), else directly (root).
fn detach(dir: &Path) -> bool {
    let ok = Command::new("fusermount3")
        .args(["-u", "-z", "-q", "--"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok || rustix::mount::unmount(dir, rustix::mount::UnmountFlags::DETACH).is_ok()
}

/// Take the export off its directory (lazily, so busy host processes do
/// not keep it); nothing if there is none. Safe to call more than once.
pub fn unmount() {
    let mut m = MOUNTED.lock();
    let Some(dir) = m.take() else { return };
    if let Some((sock, mut child)) = HELPER.lock().take() {
        // fusermount3 unmounts once its socket closes; wait for it a while
        // (it then leaves no zombie behind).
        drop(sock);
        let t0 = Instant::now();
        while child.try_wait().is_ok_and(|st| st.is_none()) && t0.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(5));
        }
        if !vxos_mounted_at(&dir) {
            return;
        }
    }
    if !detach(&dir) {
        eprintln!(
            "vxos: cannot unmount the export at {}; clear it with: fusermount3 -u {}",
            dir.display(),
            dir.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape(r"/tmp/tab\011x\134y"), "/tmp/tab\tx\\y");
        assert_eq!(unescape(r"/plain\04"), r"/plain\04", "a short escape stays");
    }
}
