//! cmd (`#C`, at /dev/cmd): guest programs started through files, after
//! Inferno's devcmd.
//!
//! Opening `clone` makes a conversation, directory `N`, and opens its
//! `ctl` (reading it gives N). Lines written to `ctl`:
//!
//! ```text
//! dir /path            the working directory of the command to start
//! env NAME=value       add to its environment (PATH, HOME are set)
//! exec prog args...    start it (Plan 9 quoting: 'a b', '' for ')
//! eof                  close its standard input
//! kill                 SIGKILL to its process group
//! signal N             signal N to its process group
//! ```
//!
//! The command is a new guest process in its own session, a child of
//! init, in the namespace of whoever wrote `exec` (a guest process's own,
//! or the exported namespace for the FUSE export's host side). Its 0, 1
//! and 2 are pipes whose other ends the files serve: `data` writes its
//! stdin and reads its stdout, `stderr` reads its stderr, `wait` gives
//! "PID exit N" or "PID signal N" once it has ended. Its stdin closes when
//! the last open of `data` for writing is closed, or on `eof`. The
//! directory goes when every file of it is closed and the command has
//! ended (closing them does not kill it).
//!
//! Reads wait (a task sleeps; the export's host thread lets go of the
//! kernel lock: see `sched::block`); every file is served under the
//! kernel lock, so a wakeup never falls between a check and a sleep.

use crate::ns::{Chan, NsRef};
use crate::pipe::{self, End};
use crate::process::{ExitStatus, Process};
use crate::sched;
use devices::dev::Result;
use devices::{Cred, Dev, DirEntry, Errno, FileType, OpenMode, Qid, Stat, Time};
use parking_lot::Mutex;
use std::collections::BTreeMap;

// Qid paths: the conversation in the high bits, the file in the low byte.
const ROOT: u64 = 0;
const CLONE: u64 = 1;
const DIR: u64 = 2;
const CTL: u64 = 3;
const DATA: u64 = 4;
const STDERR: u64 = 5;
const WAIT: u64 = 6;
/// `data` opened for writing: counted, so the last close ends stdin.
const DATAW: u64 = 7;

/// The files of a conversation: name, file, permissions.
const FILES: &[(&str, u64, u32)] =
    &[("ctl", CTL, 0o660), ("data", DATA, 0o660), ("stderr", STDERR, 0o440), ("wait", WAIT, 0o440)];

fn qid(conv: u32, file: u64) -> Qid {
    let kind = if matches!(file, ROOT | DIR) { FileType::Dir } else { FileType::File };
    Qid { path: (conv as u64) << 8 | file, vers: 0, kind }
}

fn split(q: Qid) -> (u32, u64) {
    ((q.path >> 8) as u32, q.path & 0xff)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// Set up by ctl lines; nothing started yet.
    Idle,
    Starting,
    Running,
    Done(ExitStatus),
}

/// One conversation: a command and its files.
struct Conv {
    /// Opens of its files not yet clunked.
    refs: u32,
    /// Opens of `data` for writing.
    writers: u32,
    owner: Cred,
    dir: Option<String>,
    env: Vec<String>,
    life: Life,
    pid: u32,
    /// Why `exec` failed, for the writer waiting in it.
    failed: Option<Errno>,
    stdin: Option<End>,
    stdout: Option<End>,
    stderr: Option<End>,
}

#[derive(Default)]
struct Table {
    convs: BTreeMap<u32, Conv>,
    next: u32,
}

/// The cmd device.
pub struct Cmd {
    table: Mutex<Table>,
    /// The namespace commands started from host threads run in (the
    /// exported one).
    host_ns: Mutex<Option<NsRef>>,
    made: Time,
}

/// What commands wait on: pipes wake it on every change, and so do
/// commands that start or end.
const CHAN: sched::WaitChan = pipe::POLL_CHAN;

/// The group a command's task starts in, until its guest exists.
const GROUP_BASE: u64 = 0xc0de_0000_0000;

impl Default for Cmd {
    fn default() -> Self {
        Cmd::new()
    }
}

impl Cmd {
    pub fn new() -> Cmd {
        Cmd {
            table: Mutex::new(Table { convs: BTreeMap::new(), next: 1 }),
            host_ns: Mutex::new(None),
            made: Time::now(),
        }
    }

    /// Run commands that host threads start (the export's) in `ns`.
    pub fn set_host_ns(&self, ns: NsRef) {
        *self.host_ns.lock() = Some(ns);
    }

    /// The namespace of the caller: its process's, or the exported one.
    fn namespace(&self) -> Option<NsRef> {
        if sched::in_task() {
            crate::devproc::entry(crate::devproc::current()).and_then(|e| e.ns)
        } else {
            self.host_ns.lock().clone()
        }
    }

    fn with_conv<T>(&self, id: u32, f: impl FnOnce(&mut Conv) -> T) -> Result<T> {
        self.table.lock().convs.get_mut(&id).map(f).ok_or(Errno::ENOENT)
    }

    /// Drop conversation `id` if nothing holds it any more.
    fn maybe_free(&self, id: u32) {
        let mut t = self.table.lock();
        let done = t.convs.get(&id).is_some_and(|c| c.refs == 0 && !matches!(c.life, Life::Starting | Life::Running));
        if done {
            let conv = t.convs.remove(&id);
            drop(t);
            drop(conv); // Its pipe ends wake their other sides.
        }
    }

    /// Wait until `ready` gives an answer (None: not yet).
    fn wait_for<T>(&self, mut ready: impl FnMut(&Cmd) -> Option<Result<T>>) -> Result<T> {
        loop {
            let seen = sched::events();
            if let Some(r) = ready(self) {
                return r;
            }
            // A host reader (the export's) gives up when its host process does.
            if !sched::block(CHAN, seen) || crate::export::abandoned() {
                return Err(Errno(4)); // EINTR
            }
        }
    }

    /// Read from one of the command's output pipes.
    fn read_pipe(&self, id: u32, stderr: bool, buf: &mut [u8]) -> Result<usize> {
        let pipe = self.with_conv(id, |c| if stderr { &c.stderr } else { &c.stdout }.as_ref().map(End::pipe))?;
        let Some(pipe) = pipe else { return Ok(0) };
        self.wait_for(|_| match pipe.read(buf.len(), true, &mut || false) {
            Ok(v) => {
                buf[..v.len()].copy_from_slice(&v);
                Some(Ok(v.len()))
            }
            Err(crate::errno::Errno::EAGAIN) => None,
            Err(e) => Some(Err(Errno(e as i32))),
        })
    }

    /// Write to the command's stdin: all of `data` unless its reader goes.
    fn write_stdin(&self, id: u32, data: &[u8]) -> Result<usize> {
        let pipe = self.with_conv(id, |c| c.stdin.as_ref().map(End::pipe))?.ok_or(Errno(32))?; // EPIPE
        let mut done = 0;
        self.wait_for(|_| {
            match pipe.write(&data[done..], true, &mut || false) {
                Ok(n) => done += n,
                Err(crate::errno::Errno::EAGAIN) => {}
                Err(e) if done == 0 => return Some(Err(Errno(e as i32))),
                Err(_) => return Some(Ok(done)),
            }
            (done == data.len()).then_some(Ok(done))
        })
    }

    /// Carry out one ctl line.
    fn ctl(&self, id: u32, line: &str) -> Result<()> {
        let words = tokenize(line).ok_or(Errno::EINVAL)?;
        let Some((verb, args)) = words.split_first() else { return Ok(()) };
        match (verb.as_str(), args.len()) {
            ("dir", 1) => self.with_conv(id, |c| c.dir = Some(args[0].clone())),
            ("env", 1) if args[0].contains('=') => self.with_conv(id, |c| c.env.push(args[0].clone())),
            ("exec", n) if n >= 1 => self.exec(id, args),
            ("eof", 0) => self.with_conv(id, |c| drop(c.stdin.take())),
            ("kill", 0) => self.signal(id, 9),
            ("signal", 1) => match args[0].parse::<u32>() {
                Ok(sig) if (1..=64).contains(&sig) => self.signal(id, sig),
                _ => Err(Errno::EINVAL),
            },
            _ => Err(Errno::EINVAL),
        }
    }

    /// Send `sig` to the command's process group.
    fn signal(&self, id: u32, sig: u32) -> Result<()> {
        let (life, pid) = self.with_conv(id, |c| (c.life, c.pid))?;
        if life != Life::Running {
            return Err(Errno(3)); // ESRCH
        }
        for p in crate::proctab::find(|p, e| e.pgid == pid && e.tgid == p) {
            crate::proctab::signal(p, sig);
        }
        Ok(())
    }

    /// Start `argv` as a new guest process; return once it runs (or failed).
    fn exec(&self, id: u32, argv: &[String]) -> Result<()> {
        let ns = self.namespace().ok_or(Errno::ENOENT)?;
        let (dir, env, owner) = self.with_conv(id, |c| (c.dir.clone(), c.env.clone(), c.owner))?;
        let r = ns.root();
        let cwd: Chan = ns.namei(&r, dir.as_deref().unwrap_or("/"), true)?;
        if !cwd.qid.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut envp: Vec<String> = vec![
            "PATH=/bin:/sbin:/usr/bin:/usr/sbin".into(),
            format!("HOME={}", if owner.uid == 0 { "/root".to_string() } else { "/".to_string() }),
        ];
        for e in env {
            let name = e.split('=').next().unwrap_or("").to_string();
            envp.retain(|x| x.split('=').next() != Some(&name));
            envp.push(e);
        }
        let (in_r, in_w) = pipe::new();
        let (out_r, out_w) = pipe::new();
        let (err_r, err_w) = pipe::new();
        {
            let mut t = self.table.lock();
            let c = t.convs.get_mut(&id).ok_or(Errno::ENOENT)?;
            if c.life != Life::Idle {
                return Err(Errno(16)); // EBUSY: one command a conversation
            }
            c.life = Life::Starting;
            c.stdin = Some(in_w);
            c.stdout = Some(out_r);
            c.stderr = Some(err_r);
        }
        let Some(pid) = crate::proctab::create(1) else {
            self.with_conv(id, |c| c.life = Life::Idle)?;
            return Err(Errno::EAGAIN);
        };
        // A session of its own, as a daemon's: no terminal signals reach it.
        crate::proctab::update(pid, |e| {
            e.pgid = pid;
            e.sid = pid;
        });
        self.with_conv(id, |c| c.pid = pid)?;
        let path = argv[0].clone();
        let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.clone().into_bytes()).collect();
        let envp: Vec<Vec<u8>> = envp.into_iter().map(String::into_bytes).collect();
        let me = cmd_device();
        let task = move || {
            let p = Process::spawn(ns, cwd, &path, &argv, &envp, pid);
            let mut p = match p {
                Ok(p) => p,
                Err(e) => {
                    let errno = Errno(e.errno() as i32);
                    let _ = me.with_conv(id, |c| {
                        c.failed = Some(errno);
                        c.life = Life::Idle;
                        c.stdin = None;
                        c.stdout = None;
                        c.stderr = None;
                    });
                    crate::proctab::exit(pid, ExitStatus::Code(127));
                    sched::wakeup(CHAN);
                    me.maybe_free(id);
                    return;
                }
            };
            p.files = crate::group::Shared::new(crate::files::FdTable::with_pipes(in_r, out_w, err_w));
            crate::devproc::set_fds(pid, p.files.view());
            sched::set_group(p.guest.id() as u64);
            let _ = me.with_conv(id, |c| c.life = Life::Running);
            sched::wakeup(CHAN);
            let st = p.run();
            p.finish(st);
            let _ = me.with_conv(id, |c| c.life = Life::Done(st));
            sched::wakeup(CHAN);
            me.maybe_free(id);
        };
        if sched::spawn(pid, GROUP_BASE | pid as u64, task).is_err() {
            crate::proctab::exit(pid, ExitStatus::Code(127));
            self.with_conv(id, |c| c.life = Life::Idle)?;
            return Err(Errno::ENOMEM);
        }
        self.wait_for(|me| {
            let r = me.with_conv(id, |c| match (c.life, c.failed.take()) {
                (_, Some(e)) => Some(Err(e)),
                (Life::Starting, None) => None,
                _ => Some(Ok(())),
            });
            r.unwrap_or(Some(Err(Errno::ENOENT)))
        })
    }
}

/// The one cmd device.
pub fn cmd_device() -> std::sync::Arc<Cmd> {
    static CMD: std::sync::OnceLock<std::sync::Arc<Cmd>> = std::sync::OnceLock::new();
    CMD.get_or_init(|| std::sync::Arc::new(Cmd::new())).clone()
}

/// Split a ctl line into words, Plan 9's way: blanks separate them,
/// single quotes quote ('' is a quote inside them). None if a quote is
/// left open.
pub fn tokenize(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            ' ' | '\t' | '\n' | '\r' => {
                if let Some(w) = cur.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = cur.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            w.push('\'');
                        }
                        '\'' => break,
                        c => w.push(c),
                    }
                }
            }
            c => cur.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(cur);
    Some(words)
}

/// Quote `word` so that `tokenize` gives it back.
pub fn quote(word: &str) -> String {
    if !word.is_empty() && !word.contains([' ', '\t', '\n', '\r', '\'']) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "''"))
}

/// Give the part of `text` at `off` to `buf`.
fn read_text(text: &str, buf: &mut [u8], off: u64) -> usize {
    let b = text.as_bytes();
    let start = (off as usize).min(b.len());
    let n = buf.len().min(b.len() - start);
    buf[..n].copy_from_slice(&b[start..start + n]);
    n
}

impl Dev for Cmd {
    fn dc(&self) -> char {
        'C'
    }

    fn name(&self) -> &'static str {
        "cmd"
    }

    fn attach(&self, _spec: &str) -> Result<Qid> {
        Ok(qid(0, ROOT))
    }

    fn walk(&self, from: Qid, name: &str) -> Result<Qid> {
        let (id, file) = split(from);
        match (file, name) {
            (ROOT | DIR, "" | ".") => Ok(from),
            (ROOT | DIR, "..") => Ok(qid(0, ROOT)),
            (ROOT, "clone") => Ok(qid(0, CLONE)),
            (ROOT, n) => {
                let n: u32 = n.parse().map_err(|_| Errno::ENOENT)?;
                if self.table.lock().convs.contains_key(&n) {
                    Ok(qid(n, DIR))
                } else {
                    Err(Errno::ENOENT)
                }
            }
            (DIR, n) => {
                self.with_conv(id, |_| ())?;
                FILES.iter().find(|f| f.0 == n).map(|f| qid(id, f.1)).ok_or(Errno::ENOENT)
            }
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn stat(&self, q: Qid) -> Result<Stat> {
        let (id, file) = split(q);
        let (perm, owner) = match file {
            ROOT => (0o555, Cred::ROOT),
            CLONE => (0o666, Cred::ROOT),
            _ => {
                let owner = self.with_conv(id, |c| c.owner)?;
                let perm = match file {
                    DIR => 0o555,
                    DATAW => 0o660,
                    f => FILES.iter().find(|x| x.1 == f).map_or(0o440, |x| x.2),
                };
                (perm, owner)
            }
        };
        Ok(Stat {
            qid: q,
            perm,
            nlink: if q.is_dir() { 2 } else { 1 },
            uid: owner.uid,
            gid: owner.gid,
            size: 0,
            blocks: 0,
            atime: self.made,
            mtime: self.made,
            ctime: self.made,
            rdev: 0,
        })
    }

    fn open(&self, q: Qid, mode: OpenMode, cred: Cred) -> Result<Qid> {
        let (id, file) = split(q);
        let write = mode.write || mode.truncate;
        match file {
            ROOT | DIR if write => Err(Errno::EISDIR),
            ROOT => Ok(q),
            CLONE => {
                let mut t = self.table.lock();
                let id = t.next;
                t.next += 1;
                let conv = Conv {
                    refs: 1,
                    writers: 0,
                    owner: cred,
                    dir: None,
                    env: Vec::new(),
                    life: Life::Idle,
                    pid: 0,
                    failed: None,
                    stdin: None,
                    stdout: None,
                    stderr: None,
                };
                t.convs.insert(id, conv);
                Ok(qid(id, CTL))
            }
            STDERR | WAIT if write => Err(Errno::EACCES),
            _ => {
                let mut t = self.table.lock();
                let c = t.convs.get_mut(&id).ok_or(Errno::ENOENT)?;
                if cred.uid != 0 && cred.uid != c.owner.uid {
                    return Err(Errno::EACCES);
                }
                c.refs += 1;
                if file == DATA && write {
                    c.writers += 1;
                    return Ok(qid(id, DATAW));
                }
                Ok(q)
            }
        }
    }

    fn clunk(&self, q: Qid) {
        let (id, file) = split(q);
        if matches!(file, ROOT | CLONE) {
            return;
        }
        let _ = self.with_conv(id, |c| {
            c.refs = c.refs.saturating_sub(1);
            if file == DATAW {
                c.writers = c.writers.saturating_sub(1);
                if c.writers == 0 {
                    c.stdin = None;
                }
            }
        });
        self.maybe_free(id);
    }

    fn read(&self, q: Qid, buf: &mut [u8], off: u64) -> Result<usize> {
        let (id, file) = split(q);
        match file {
            ROOT | DIR => Err(Errno::EISDIR),
            CTL => Ok(read_text(&id.to_string(), buf, off)),
            DATA | DATAW => self.read_pipe(id, false, buf),
            STDERR => self.read_pipe(id, true, buf),
            WAIT => {
                let st = self.wait_for(|me| match me.with_conv(id, |c| (c.life, c.pid)) {
                    Err(e) => Some(Err(e)),
                    Ok((Life::Done(st), pid)) => Some(Ok((st, pid))),
                    Ok((Life::Idle, _)) => Some(Err(Errno(10))), // ECHILD: nothing started
                    Ok(_) => None,
                })?;
                let text = match st.0 {
                    ExitStatus::Code(c) => format!("{} exit {}\n", st.1, c & 0xff),
                    ExitStatus::Signal(s) => format!("{} signal {}\n", st.1, s),
                };
                Ok(read_text(&text, buf, off))
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn write(&self, q: Qid, buf: &[u8], _off: u64) -> Result<usize> {
        let (id, file) = split(q);
        match file {
            CTL => {
                let text = std::str::from_utf8(buf).map_err(|_| Errno::EINVAL)?;
                for line in text.lines() {
                    self.ctl(id, line)?;
                }
                Ok(buf.len())
            }
            DATA | DATAW => self.write_stdin(id, buf),
            ROOT | DIR => Err(Errno::EISDIR),
            _ => Err(Errno::EACCES),
        }
    }

    fn readdir(&self, q: Qid, start: usize) -> Result<Vec<DirEntry>> {
        let (id, file) = split(q);
        let all: Vec<DirEntry> = match file {
            ROOT => std::iter::once(DirEntry { name: "clone".into(), qid: qid(0, CLONE) })
                .chain(self.table.lock().convs.keys().map(|&n| DirEntry { name: n.to_string(), qid: qid(n, DIR) }))
                .collect(),
            DIR => {
                self.with_conv(id, |_| ())?;
                FILES.iter().map(|f| DirEntry { name: f.0.into(), qid: qid(id, f.1) }).collect()
            }
            _ => return Err(Errno::ENOTDIR),
        };
        Ok(all.into_iter().skip(start).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenize_and_quote() {
        assert_eq!(tokenize("exec /bin/echo a  b").unwrap(), ["exec", "/bin/echo", "a", "b"]);
        assert_eq!(tokenize("exec 'a b' 'it''s' ''").unwrap(), ["exec", "a b", "it's", ""]);
        assert_eq!(tokenize("exec 'open"), None);
        for w in ["plain", "two words", "it's", "", "tab\there"] {
            assert_eq!(tokenize(&quote(w)).unwrap(), [w]);
        }
    }

    #[test]
    fn walk_and_clone() {
        let c = Cmd::new();
        let root = c.attach("").unwrap();
        let clone = c.walk(root, "clone").unwrap();
        let ctl = c.open(clone, OpenMode::RDWR, Cred::ROOT).unwrap();
        let mut buf = [0u8; 8];
        let n = c.read(ctl, &mut buf, 0).unwrap();
        let id = std::str::from_utf8(&buf[..n]).unwrap();
        let dir = c.walk(root, id).unwrap();
        assert!(dir.is_dir());
        assert!(c.walk(dir, "wait").is_ok());
        assert_eq!(c.write(ctl, b"frobnicate\n", 0), Err(Errno::EINVAL));
        assert_eq!(c.write(ctl, b"dir /tmp\n", 0), Ok(9));
        c.clunk(ctl);
        assert_eq!(c.walk(root, id), Err(Errno::ENOENT), "the conversation went with its last close");
    }
}
