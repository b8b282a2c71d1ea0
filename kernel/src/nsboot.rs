//! The namespace a guest starts with, the devices guests may name, and the
//! namespace language of /proc/N/ns and Plan 9's namespace files.
//!
//! The boot namespace is a Linux-looking tree assembled from devices:
//!
//! ```text
//! mount #Z<root> /          the root file system (a host directory, read-only)
//! mount -bc #r /            a ramfs before it takes every new file
//! mount -a #/ /             the skeleton of mount points, where the root has none
//! mount #n /dev             null zero full random urandom
//! mount -a #c /dev          cons console tty ptmx
//! mount #t /dev/pts         the pseudo-terminals' slaves
//! mount -c #r /tmp          a fresh ramfs, mode 1777
//! mount -c #r /dev/shm      another (POSIX shared memory, semaphores)
//! mount #p /proc
//! mount #C /dev/cmd         the cmd device: guest programs started through files
//! mount #Z<cwd> <cwd>       the host's working directory at the same path,
//! mount -bc #r <cwd>        read-only, new files going to a ramfs
//! mount -c #Z<dir> <dir>    each --bind HOST:GUEST[:rw]
//! ```
//!
//! Directories a mount needs that the tree lacks are made in a ramfs (one
//! is put before a read-only directory if needed), so nothing is ever
//! written to the host for them.

use crate::devproc::Proc;
use crate::ns::{Chan, MountFlag, Namespace};
use devices::hostfs::Hostfs;
use devices::{Cred, Dev, Errno, FileType, Ramfs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// A host directory bound into the guest.
#[derive(Debug, Clone)]
pub struct Bind {
    pub host: PathBuf,
    pub guest: String,
    pub writable: bool,
}

impl std::str::FromStr for Bind {
    type Err = String;

    /// Parse HOST:GUEST[:rw|:ro] (GUEST defaults to HOST when omitted).
    fn from_str(s: &str) -> Result<Bind, String> {
        let mut parts: Vec<&str> = s.split(':').collect();
        let writable = match parts.last() {
            Some(&"rw") if parts.len() > 1 => {
                parts.pop();
                true
            }
            Some(&"ro") if parts.len() > 1 => {
                parts.pop();
                false
            }
            _ => false,
        };
        let (host, guest) = match parts.as_slice() {
            [h] => (*h, *h),
            [h, g] => (*h, *g),
            _ => return Err(format!("{s:?} is not HOST:GUEST[:rw]")),
        };
        if host.is_empty() || guest.is_empty() {
            return Err(format!("{s:?} is not HOST:GUEST[:rw]"));
        }
        let host = std::fs::canonicalize(host).map_err(|e| format!("{host}: {e}"))?;
        if !host.is_dir() {
            return Err(format!("{}: not a directory", host.display()));
        }
        if !guest.starts_with('/') {
            return Err(format!("{guest}: the guest path must be absolute"));
        }
        Ok(Bind { host, guest: guest.to_string(), writable })
    }
}

/// What the boot namespace is made of.
pub struct Options {
    /// The host directory that is the guest's root.
    pub root: PathBuf,
    pub binds: Vec<Bind>,
    /// The host's working directory, bound at the same path.
    pub cwd: PathBuf,
    /// The environment, for #e.
    pub env: Vec<Vec<u8>>,
}

/// The text of an errno, as strerror gives it.
pub fn describe(e: Errno) -> String {
    let s = std::io::Error::from_raw_os_error(e.0).to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}

fn fail(what: &'static str) -> impl Fn(Errno) -> String {
    move |e| dev_err(what, e)
}

fn dev_err(what: &str, e: Errno) -> String {
    format!("{what}: {}", describe(e))
}

/// The devices that exist once: null, cons, proc, env.
fn singleton(dc: char) -> Option<Arc<dyn Dev>> {
    static NULL: OnceLock<Arc<dyn Dev>> = OnceLock::new();
    static CONS: OnceLock<Arc<dyn Dev>> = OnceLock::new();
    static PROC: OnceLock<Arc<dyn Dev>> = OnceLock::new();
    static ROOT: OnceLock<Arc<dyn Dev>> = OnceLock::new();
    static PTS: OnceLock<Arc<dyn Dev>> = OnceLock::new();
    static KINFO: OnceLock<Arc<dyn Dev>> = OnceLock::new();
    Some(match dc {
        'n' => NULL.get_or_init(|| Arc::new(devices::Null::new())).clone(),
        'c' => CONS
            .get_or_init(|| {
                let dup = |fd: std::os::fd::BorrowedFd| {
                    fd.try_clone_to_owned().map(std::fs::File::from).or_else(|_| std::fs::File::open("/dev/null"))
                };
                use std::os::fd::AsFd;
                let input = dup(std::io::stdin().as_fd()).expect("open the console input");
                let output = dup(std::io::stdout().as_fd()).expect("open the console output");
                Arc::new(devices::cons::Cons::new(input, output))
            })
            .clone(),
        'p' => PROC.get_or_init(|| Arc::new(Proc)).clone(),
        'e' => env_device(),
        '/' => ROOT.get_or_init(|| Arc::new(devices::root::Root::new())).clone(),
        't' => PTS.get_or_init(|| Arc::new(crate::devpts::Pts)).clone(),
        'C' => crate::devcmd::cmd_device(),
        'k' => KINFO.get_or_init(|| Arc::new(crate::devkinfo::Kinfo::default())).clone(),
        _ => return None,
    })
}

/// The environment device (one for now; T4 gives each process group its
/// own, as Plan 9's rfork does).
fn env_device() -> Arc<devices::env::Env> {
    static ENV: OnceLock<Arc<devices::env::Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(devices::env::Env::new())).clone()
}

/// Return the device a guest names as `#X`: `#r` is a fresh ramfs each
/// time; host directories (`#Z`) cannot be named by guests.
pub fn device(dc: char) -> Result<Arc<dyn Dev>, Errno> {
    match dc {
        'r' => Ok(Arc::new(Ramfs::with_root(0, 0, 0o1777))),
        'Z' => Err(Errno::EPERM),
        _ => singleton(dc).ok_or(Errno::ENOENT),
    }
}

/// Walk to directory `path`, making what is missing: in the union's
/// ramfs if it has one, else in a new ramfs put before the directory.
pub fn mount_point(ns: &mut Namespace, path: &str) -> Result<Chan, Errno> {
    let mut c = ns.root();
    for e in path.split('/').filter(|e| !e.is_empty() && *e != ".") {
        if e == ".." {
            c = ns.walk1(&c, e)?;
            continue;
        }
        match ns.walk1(&c, e) {
            Ok(n) if n.qid.is_dir() => {
                c = n;
                continue;
            }
            Ok(_) => return Err(Errno::ENOTDIR),
            Err(err) if err != Errno::ENOENT => return Err(err),
            Err(_) => {}
        }
        let made = ns.create_target(&c).and_then(|t| t.dev.create(t.qid, e, FileType::Dir, 0o755, Cred::ROOT)).is_ok();
        if !made {
            ns.mount(Arc::new(Ramfs::new()), "", &c, MountFlag::Before, true)?;
            c = ns.walk_from_root(&c.path)?;
            let t = ns.create_target(&c)?;
            t.dev.create(t.qid, e, FileType::Dir, 0o755, Cred::ROOT)?;
        }
        c = ns.walk1(&c, e)?;
    }
    Ok(c)
}

/// Serve host directory `host` at guest path `at`, replacing what is
/// there, read-only with a ramfs before it for new files, or writable.
fn bind_host(ns: &mut Namespace, host: &Path, at: &str, writable: bool) -> Result<(), String> {
    let fs = Hostfs::new(host, writable).map_err(|e| format!("{}: {e}", host.display()))?;
    let spec = host.display().to_string();
    let point = mount_point(ns, at).map_err(|e| dev_err(at, e))?;
    ns.mount(Arc::new(fs), &spec, &point, MountFlag::Replace, writable).map_err(|e| dev_err(at, e))?;
    if !writable {
        let point = ns.walk_from_root(&point.path).map_err(|e| dev_err(at, e))?;
        ns.mount(Arc::new(Ramfs::new()), "", &point, MountFlag::Before, true).map_err(|e| dev_err(at, e))?;
    }
    Ok(())
}

/// The root alone: the root file system read-only, a ramfs before it for
/// every change, the mount-point skeleton after it.
fn root_namespace(opts: &Options) -> Result<Namespace, String> {
    let rootfs = Hostfs::new(&opts.root, false).map_err(|e| format!("{}: {e}", opts.root.display()))?;
    let rootfs: Arc<dyn Dev> = Arc::new(rootfs);
    let q = rootfs.attach("").map_err(|e| dev_err("the root", e))?;
    let mut ns = Namespace::new(rootfs, q);
    let r = ns.root();
    ns.mount(Arc::new(Ramfs::new()), "", &r, MountFlag::Before, true).map_err(fail("/"))?;
    let r = ns.root();
    ns.mount(device('/').unwrap(), "", &r, MountFlag::After, false).map_err(fail("/"))?;
    let env = env_device();
    for kv in &opts.env {
        if let Some(i) = kv.iter().position(|&b| b == b'=') {
            if let Ok(name) = std::str::from_utf8(&kv[..i]) {
                env.set(name, &kv[i + 1..]);
            }
        }
    }
    Ok(ns)
}

/// The namespace file `vxos boot` applies: Plan 9's /lib/namespace.
pub const NAMESPACE_FILE: &str = "/lib/namespace";

/// Build the namespace `vxos boot` starts in: the root, then the commands
/// of the root's /lib/namespace (see `apply`), then each --bind. Returns it
/// and its root.
pub fn boot_from_file(opts: &Options) -> Result<(Namespace, Chan), String> {
    let mut ns = root_namespace(opts)?;
    let r = ns.root();
    let text = read_file(&ns, NAMESPACE_FILE).map_err(|e| dev_err(NAMESPACE_FILE, e))?;
    for (n, line) in text.lines().enumerate() {
        let r = ns.root();
        apply(&mut ns, &r, line).map_err(|e| format!("{NAMESPACE_FILE}:{}: {line}: {}", n + 1, describe(e)))?;
    }
    for b in &opts.binds {
        if b.guest == "/" {
            return Err("a bind onto / replaces the root: use --root".into());
        }
        bind_host(&mut ns, &b.host, &b.guest, b.writable)?;
    }
    let _ = r;
    // A /lib/namespace from before the cmd and kinfo devices existed
    // lacks them.
    if ns.namei(&ns.root(), "/dev/cmd/clone", true).is_err() {
        mount_cmd(&mut ns)?;
    }
    if ns.namei(&ns.root(), "/dev/kinfo", true).is_err() {
        mount_kinfo(&mut ns)?;
    }
    let r = ns.root();
    Ok((ns, r))
}

/// Mount the kinfo device after /dev, for /dev/kinfo.
fn mount_kinfo(ns: &mut Namespace) -> Result<(), String> {
    let dev = mount_point(ns, "/dev").map_err(fail("/dev"))?;
    ns.mount(device('k').unwrap(), "", &dev, MountFlag::After, false).map_err(fail("/dev"))
}

/// Mount the cmd device at /dev/cmd.
fn mount_cmd(ns: &mut Namespace) -> Result<(), String> {
    let at = mount_point(ns, "/dev/cmd").map_err(fail("/dev/cmd"))?;
    ns.mount(device('C').unwrap(), "", &at, MountFlag::Replace, false).map_err(fail("/dev/cmd"))
}

/// The contents of a file of the namespace, read as root.
pub fn read_file(ns: &Namespace, path: &str) -> Result<String, Errno> {
    let r = ns.root();
    let c = ns.namei(&r, path, true)?;
    let q = c.dev.open(c.qid, devices::OpenMode::READ, Cred::ROOT)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8192];
    let result = loop {
        match c.dev.read(q, &mut buf, out.len() as u64) {
            Ok(0) => break Ok(()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
        if out.len() > 1 << 20 {
            break Err(Errno::EFBIG);
        }
    };
    c.dev.clunk(q);
    result?;
    String::from_utf8(out).map_err(|_| Errno::EINVAL)
}

/// Make directory `path` (and what leads to it) for user `uid`:`gid`, in
/// the ramfs over the root (a home directory).
pub fn make_dir_for(ns: &mut Namespace, path: &str, uid: u32, gid: u32) -> Result<(), Errno> {
    let (parent, name) = path.rsplit_once('/').ok_or(Errno::EINVAL)?;
    let dir = mount_point(ns, if parent.is_empty() { "/" } else { parent })?;
    if ns.walk1(&dir, name).is_ok() {
        return Ok(());
    }
    let mkdir = |ns: &Namespace, dir: &Chan| -> Result<(), Errno> {
        let t = ns.create_target(dir)?;
        let q = t.dev.create(t.qid, name, FileType::Dir, 0o755, Cred::ROOT)?;
        let owner = devices::Wstat { uid: Some(uid), gid: Some(gid), ..Default::default() };
        t.dev.wstat(q, &owner)
    };
    if mkdir(ns, &dir).is_err() {
        // A directory of the skeleton or the read-only root: a ramfs before it.
        ns.mount(Arc::new(Ramfs::new()), "", &dir, MountFlag::Before, true)?;
        let dir = ns.walk_from_root(&dir.path)?;
        mkdir(ns, &dir)?;
    }
    Ok(())
}

/// Make `path` a home for user `uid`:`gid`, a directory new files can go
/// in: made as `make_dir_for` does where missing, with a ramfs owned by the
/// user put before it where it is read-only (what it holds stays visible).
pub fn make_home(ns: &mut Namespace, path: &str, uid: u32, gid: u32) -> Result<(), Errno> {
    make_dir_for(ns, path, uid, gid)?;
    let dir = mount_point(ns, path)?;
    if ns.create_target(&dir).is_ok_and(|t| !t.dev.read_only()) {
        return Ok(());
    }
    let perm = dir.dev.stat(dir.qid).map_or(0o755, |st| st.perm & 0o777);
    ns.mount(Arc::new(Ramfs::with_root(uid, gid, perm)), "", &dir, MountFlag::Before, true)
}

/// Build the boot namespace; return it and the guest's working directory.
pub fn boot(opts: &Options) -> Result<(Namespace, Chan), String> {
    let mut ns = root_namespace(opts)?;

    let dev = mount_point(&mut ns, "/dev").map_err(fail("/dev"))?;
    ns.mount(device('n').unwrap(), "", &dev, MountFlag::Replace, false).map_err(fail("/dev"))?;
    let dev = ns.walk_from_root(&dev.path).map_err(fail("/dev"))?;
    ns.mount(device('c').unwrap(), "", &dev, MountFlag::After, false).map_err(fail("/dev"))?;
    mount_kinfo(&mut ns)?;
    let pts = mount_point(&mut ns, "/dev/pts").map_err(fail("/dev/pts"))?;
    ns.mount(device('t').unwrap(), "", &pts, MountFlag::Replace, false).map_err(fail("/dev/pts"))?;
    let tmp = mount_point(&mut ns, "/tmp").map_err(fail("/tmp"))?;
    ns.mount(device('r').unwrap(), "", &tmp, MountFlag::Replace, true).map_err(fail("/tmp"))?;
    let shm = mount_point(&mut ns, "/dev/shm").map_err(fail("/dev/shm"))?;
    ns.mount(device('r').unwrap(), "", &shm, MountFlag::Replace, true).map_err(fail("/dev/shm"))?;
    let proc = mount_point(&mut ns, "/proc").map_err(fail("/proc"))?;
    ns.mount(device('p').unwrap(), "", &proc, MountFlag::Replace, false).map_err(fail("/proc"))?;
    let env = env_device();
    let envdir = mount_point(&mut ns, "/env").map_err(fail("/env"))?;
    ns.mount(env, "", &envdir, MountFlag::Replace, true).map_err(fail("/env"))?;
    mount_cmd(&mut ns)?;

    let cwd = opts.cwd.to_string_lossy().into_owned();
    if opts.cwd != Path::new("/") && opts.cwd.is_absolute() {
        bind_host(&mut ns, &opts.cwd, &cwd, false)?;
    }
    for b in &opts.binds {
        if b.guest == "/" {
            return Err("a bind onto / replaces the root: use --root".into());
        }
        bind_host(&mut ns, &b.host, &b.guest, b.writable)?;
    }
    let r = ns.root();
    let cwd = ns.namei(&r, &cwd, true).unwrap_or(r);
    Ok((ns, cwd))
}

/// Make a host program reachable at its own path if it is not already:
/// its directory is added after whatever the guest has there. A path
/// through a host symbolic link the guest cannot follow is replaced by the
/// program's real path: the path the guest should run is returned then.
pub fn reach_program(ns: &mut Namespace, prog: &Path) -> Result<Option<PathBuf>, String> {
    let text = prog.to_string_lossy();
    let r = ns.root();
    if ns.namei(&r, &text, true).is_ok() {
        return Ok(None);
    }
    // A path through a host symbolic link the guest cannot follow (one
    // that leads out of the directory served): the program's real path.
    let real = std::fs::canonicalize(prog).ok().filter(|p| p.as_path() != prog);
    if let Some(p) = &real {
        if ns.namei(&r, &p.to_string_lossy(), true).is_ok() {
            return Ok(real);
        }
    }
    let prog = real.as_deref().unwrap_or(prog);
    let Some(dir) = prog.parent().filter(|d| d.is_dir() && *d != Path::new("/")) else {
        return Ok(None);
    };
    let fs = Hostfs::new(dir, false).map_err(|e| format!("{}: {e}", dir.display()))?;
    let at = dir.to_string_lossy();
    let point = mount_point(ns, &at).map_err(|e| dev_err(&at, e))?;
    ns.mount(Arc::new(fs), &at, &point, MountFlag::After, false).map_err(|e| dev_err(&at, e))?;
    Ok(real)
}

/// Carry out namespace commands, one a line, for process-relative paths
/// from `cwd`:
///
/// ```text
/// bind [-a|-b|-c|-ac|-bc] new old    new: a path, or #X for a device
/// mount [-a|-b|-c|-ac|-bc] #X old
/// unmount [new] old
/// ```
///
/// Blank lines and lines starting with `#` and a space are ignored.
pub fn apply(ns: &mut Namespace, cwd: &Chan, text: &str) -> Result<(), Errno> {
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || words[0] == "#" {
            continue;
        }
        let (flags, args): (Vec<&str>, Vec<&str>) = words[1..].iter().partition(|w| w.starts_with('-'));
        let mut flag = MountFlag::Replace;
        let mut create = false;
        for f in flags {
            for c in f[1..].chars() {
                match c {
                    'a' => flag = MountFlag::After,
                    'b' => flag = MountFlag::Before,
                    'c' => create = true,
                    _ => return Err(Errno::EINVAL),
                }
            }
        }
        let source = |ns: &Namespace, s: &str| -> Result<Chan, Errno> {
            match s.strip_prefix('#') {
                Some(rest) => {
                    let dc = rest.chars().next().ok_or(Errno::EINVAL)?;
                    let dev = device(dc)?;
                    let q = dev.attach(&rest[dc.len_utf8()..])?;
                    Ok(Chan { dev, qid: q, path: Vec::new() })
                }
                None => ns.namei(cwd, s, true),
            }
        };
        match (words[0], args.as_slice()) {
            ("bind" | "mount", [new, old]) => {
                if words[0] == "mount" && !new.starts_with('#') {
                    return Err(Errno::EINVAL);
                }
                let n = source(ns, new)?;
                let at = ns.namei(cwd, old, true)?;
                if new.starts_with('#') {
                    let spec = &new[1 + n.dev.dc().len_utf8()..];
                    ns.mount(n.dev.clone(), spec, &at, flag, create)?;
                } else {
                    ns.bind(&n, &at, flag, create)?;
                }
            }
            ("unmount", [old]) => {
                let at = ns.namei(cwd, old, true)?;
                ns.unmount(None, &at)?;
            }
            ("unmount", [new, old]) => {
                let n = source(ns, new)?;
                let at = ns.namei(cwd, old, true)?;
                ns.unmount(Some(&n), &at)?;
            }
            _ => return Err(Errno::EINVAL),
        }
    }
    Ok(())
}
