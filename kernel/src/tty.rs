//! The console as a terminal: the line discipline between the host's
//! terminal and the guest's programs, with job control.
//!
//! Bytes typed on the host come in through a host thread that does nothing
//! but read them (and notice window-size changes); it hands them to the
//! console task, a kernel task like a process's, which runs them through
//! the line discipline (`devices::ldisc`): echo goes back to the host,
//! ^C ^\ ^Z become SIGINT, SIGQUIT and SIGTSTP for the foreground process
//! group, and finished lines (or raw bytes) wake the readers. Programs'
//! writes go out through the discipline's output processing (\n as \r\n).
//! The host terminal itself is in raw mode meanwhile (`HostTerm`), so what
//! the guest sees is this discipline's doing alone.
//!
//! Job control as Linux has it: the terminal belongs to one session (the
//! one whose leader made it its controlling terminal) and has a foreground
//! process group (tcsetpgrp); a process of a background group that reads
//! gets SIGTTIN, or EIO when it ignores or blocks it or its group is
//! orphaned; with TOSTOP, one that writes gets SIGTTOU; so does one that
//! changes the settings or the foreground group from the background.

use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::sched::{self, WaitChan};
use devices::ldisc::{self, Ldisc, Termios};
use parking_lot::Mutex;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::sync::{Arc, OnceLock};

const SIGHUP: u32 = 1;
const SIGCONT: u32 = 18;
const SIGTTIN: u32 = 21;
const SIGTTOU: u32 = 22;
const SIGWINCH: u32 = 28;

/// What the reader thread brings.
#[derive(Default)]
struct Inbox {
    bytes: Vec<u8>,
    /// The host terminal changed size.
    winch: bool,
    /// The host input ended (the terminal hung up).
    eof: bool,
}

/// The terminal's state.
#[derive(Default)]
struct State {
    ld: Ldisc,
    /// rows, columns, x pixels, y pixels.
    winsize: [u16; 4],
    /// The foreground process group (0: none).
    pgrp: u32,
    /// The session it is the controlling terminal of (0: none).
    sid: u32,
    hung_up: bool,
    /// Pseudo-terminals: open slave descriptions, whether one ever was,
    /// whether the master is open, and the lock unlockpt(3) lifts.
    slaves: usize,
    slave_opened: bool,
    master_open: bool,
    locked: bool,
}

/// Where a terminal's output goes.
enum Output {
    /// The host's terminal (the console).
    Host(File),
    /// A pseudo-terminal's master, which reads it.
    Master(Mutex<std::collections::VecDeque<u8>>),
}

/// A terminal: the console, or a pseudo-terminal's slave side.
pub struct Tty {
    st: Mutex<State>,
    inbox: Mutex<Inbox>,
    out: Output,
    /// The pseudo-terminal's number (None for the console).
    index: Option<u32>,
}

/// What readers of the console sleep on (a pty's slave readers: this plus
/// 1 + its number).
pub const READ_CHAN: WaitChan = 0x5454_5952_0000_0000;
/// What readers of a pty's master sleep on (plus its number).
const MASTER_CHAN: WaitChan = 0x5454_594d_0000_0000;
/// What the console task sleeps on.
const INPUT_CHAN: WaitChan = 0x5454_5949_0000_0000;
/// The console task's id (no process has it).
const CONSOLE_TASK: u32 = 0x7fff_0001;

static CONSOLE: OnceLock<Arc<Tty>> = OnceLock::new();

/// The console, once `start` made it.
pub fn console() -> Option<Arc<Tty>> {
    CONSOLE.get().cloned()
}

/// The host's window size on `fd`, or 24x80.
fn host_winsize(fd: &impl AsFd) -> [u16; 4] {
    match rustix::termios::tcgetwinsize(fd) {
        Ok(w) if w.ws_row > 0 && w.ws_col > 0 => [w.ws_row, w.ws_col, w.ws_xpixel, w.ws_ypixel],
        _ => [24, 80, 0, 0],
    }
}

/// Make the console on the host's `input` and `output` and start its
/// reader thread and task.
pub fn start(input: File, output: File) -> std::io::Result<Arc<Tty>> {
    let winsize = host_winsize(&output);
    let tty = Arc::new(Tty {
        st: Mutex::new(State { winsize, ..State::default() }),
        inbox: Mutex::new(Inbox::default()),
        out: Output::Host(output),
        index: None,
    });
    if CONSOLE.set(tty.clone()).is_err() {
        return Err(std::io::Error::other("the console is already started"));
    }
    // Window-size changes come as SIGWINCH to vxos; a host thread waits
    // for them (signal-hook's self-pipe) and tells the console task.
    let mut winch = signal_hook::iterator::Signals::new([signal_hook::consts::SIGWINCH])?;
    let t = tty.clone();
    std::thread::Builder::new().name("winch".into()).spawn(move || {
        for _ in winch.forever() {
            t.inbox.lock().winch = true;
            sched::wakeup(INPUT_CHAN);
        }
    })?;
    let t = tty.clone();
    sched::add_external();
    std::thread::Builder::new().name("console".into()).spawn(move || reader(&t, input))?;
    let t = tty.clone();
    sched::spawn(CONSOLE_TASK, CONSOLE_TASK as u64 | 1 << 40, move || console_task(&t))?;
    Ok(tty)
}

/// The host thread: wait for typed bytes, hand them over, wake the
/// console task.
fn reader(tty: &Tty, input: File) {
    let mut buf = [0u8; 4096];
    loop {
        let ended = match rustix::io::read(&input, &mut buf) {
            Ok(0) => true,
            Ok(n) => {
                tty.inbox.lock().bytes.extend_from_slice(&buf[..n]);
                false
            }
            Err(rustix::io::Errno::INTR) => continue,
            Err(rustix::io::Errno::AGAIN) => {
                let mut fds = [rustix::event::PollFd::new(&input, rustix::event::PollFlags::IN)];
                let _ = rustix::event::poll(&mut fds, -1);
                continue;
            }
            Err(_) => true,
        };
        if ended {
            tty.inbox.lock().eof = true;
        }
        sched::wakeup(INPUT_CHAN);
        if ended {
            return;
        }
    }
}

/// The console task: run what the reader brought through the discipline.
fn console_task(tty: &Tty) {
    loop {
        sched::sleep_if(INPUT_CHAN, || {
            let i = tty.inbox.lock();
            i.bytes.is_empty() && !i.winch && !i.eof
        });
        let Inbox { bytes, winch, eof } = std::mem::take(&mut *tty.inbox.lock());
        let mut signals = Vec::new();
        {
            let mut st = tty.st.lock();
            if let (true, Output::Host(out)) = (winch, &tty.out) {
                let ws = host_winsize(out);
                if ws != st.winsize {
                    st.winsize = ws;
                    signals.push(SIGWINCH);
                }
            }
            if !bytes.is_empty() && !st.hung_up {
                signals.extend(st.ld.input(&bytes).into_iter().map(|s| s.number()));
                // Echo goes out as output does (\n as \r\n).
                let echo = st.ld.take_echo();
                let echo = st.ld.output(&echo);
                tty.put(&echo);
            }
            if eof && !st.hung_up {
                st.hung_up = true;
                signals.push(SIGHUP);
                signals.push(SIGCONT);
            }
        }
        let pgrp = tty.st.lock().pgrp;
        for s in signals {
            signal_group(pgrp, s);
        }
        sched::wakeup(READ_CHAN);
        sched::wakeup(crate::pipe::POLL_CHAN);
    }
}

/// Send `sig` to every process of group `pgrp`.
fn signal_group(pgrp: u32, sig: u32) {
    if pgrp == 0 {
        return;
    }
    for pid in crate::proctab::find(|_, e| e.pgid == pgrp) {
        crate::proctab::signal(pid, sig);
    }
}

impl Tty {
    /// The terminal's file name: /dev/console, or /dev/pts/N.
    pub fn path(&self) -> String {
        match self.index {
            Some(n) => format!("/dev/pts/{n}"),
            None => "/dev/console".into(),
        }
    }

    /// Send output to the terminal: to the host's (all of it: the terminal
    /// waits for no one but its reader), or to the master's reader.
    fn put(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match &self.out {
            Output::Host(f) => {
                let _ = (&*f).write_all(bytes);
            }
            Output::Master(q) => {
                q.lock().extend(bytes.iter().copied());
                sched::wakeup(self.master_chan());
                sched::wakeup(crate::pipe::POLL_CHAN);
            }
        }
    }

    /// What readers of this terminal sleep on.
    fn read_chan(&self) -> WaitChan {
        self.index.map_or(READ_CHAN, |n| READ_CHAN + 1 + n as u64)
    }

    fn master_chan(&self) -> WaitChan {
        MASTER_CHAN + self.index.unwrap_or(0) as u64
    }

    /// Make the session of process `pid` own the terminal, with `pid`'s
    /// group in the foreground (boot gives the console to the shell).
    pub fn give_to(&self, sid: u32, pgrp: u32) {
        let mut st = self.st.lock();
        st.sid = sid;
        st.pgrp = pgrp;
    }

    /// A process opened the terminal: a session leader with no controlling
    /// terminal takes it for its session (unless O_NOCTTY).
    pub fn opened(&self, p: &Process, noctty: bool) -> SysResult<()> {
        let (sid, pgid) = Self::ids(p);
        let mut st = self.st.lock();
        st.slaves += 1;
        st.slave_opened = true;
        if !noctty && st.sid == 0 && sid == p.pid {
            st.sid = sid;
            st.pgrp = pgid;
        }
        Ok(())
    }

    /// The caller's (session, process group).
    fn ids(p: &Process) -> (u32, u32) {
        crate::proctab::get(p.pid).map_or((0, 0), |e| (e.sid, e.pgid))
    }

    /// Job control for a background process of the terminal's session:
    /// `Ok` if it may go on; else it gets `sig` (and the call is restarted
    /// once it continues), or EIO when it cannot be stopped.
    fn job_check(&self, p: &mut Process, sig: u32, eio_if_ignored: bool) -> SysResult<()> {
        let (tsid, tpgrp) = {
            let st = self.st.lock();
            (st.sid, st.pgrp)
        };
        let (sid, pgid) = Self::ids(p);
        if tsid == 0 || sid != tsid || tpgrp == 0 || pgid == tpgrp {
            return Ok(());
        }
        let bit = 1u64 << (sig - 1);
        let ignored = p.sigactions[sig as usize].handler == 1 || p.sigmask & bit != 0;
        if ignored {
            return if eio_if_ignored { Err(Errno::EIO) } else { Ok(()) };
        }
        if crate::proctab::pgrp_orphaned(pgid) {
            return Err(Errno::EIO);
        }
        for pid in crate::proctab::find(|_, e| e.pgid == pgid) {
            if pid == p.pid {
                p.post_signal(sig);
            } else {
                crate::proctab::signal(pid, sig);
            }
        }
        Err(Errno::EINTR)
    }

    /// read(2): wait for a line (canonical mode) or for VMIN bytes within
    /// VTIME tenths of a second (raw mode).
    pub fn read(&self, p: &mut Process, max: usize, nonblock: bool) -> SysResult<Vec<u8>> {
        self.job_check(p, SIGTTIN, true)?;
        let started = std::time::Instant::now();
        loop {
            let deadline = {
                let mut st = self.st.lock();
                let t = st.ld.termios;
                if t.lflag & ldisc::ICANON != 0 {
                    if let Some(d) = st.ld.read(max) {
                        return Ok(d);
                    }
                    None
                } else {
                    let (vmin, vtime) = (t.cc[ldisc::VMIN] as usize, t.cc[ldisc::VTIME] as u64);
                    let avail = st.ld.available();
                    let want = vmin.min(max);
                    let deadline = (vtime > 0).then(|| started + std::time::Duration::from_millis(vtime * 100));
                    let timed_out = deadline.is_some_and(|d| std::time::Instant::now() >= d);
                    if (avail > 0 && avail >= want)
                        || (vmin == 0 && vtime == 0)
                        || (timed_out && (avail > 0 || vmin == 0))
                    {
                        return Ok(st.ld.read(max).unwrap_or_default());
                    }
                    deadline
                }
            };
            if self.st.lock().hung_up {
                return Ok(Vec::new());
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            if p.signal_interrupts() {
                return Err(Errno::EINTR);
            }
            if let Some(d) = deadline {
                crate::timers::wake_at(d, self.read_chan());
            }
            sched::sleep(self.read_chan());
        }
    }

    /// write(2): through the output processing to the host terminal.
    pub fn write(&self, p: &mut Process, data: &[u8]) -> SysResult<usize> {
        if self.st.lock().ld.termios.lflag & TOSTOP != 0 {
            self.job_check(p, SIGTTOU, false)?;
        }
        if self.st.lock().hung_up {
            return Err(Errno::EIO);
        }
        let out = self.st.lock().ld.output(data);
        self.put(&out);
        Ok(data.len())
    }

    /// What poll(2) sees: (readable, hung up).
    pub fn poll(&self) -> (bool, bool) {
        let st = self.st.lock();
        let raw_ready =
            st.ld.termios.lflag & ldisc::ICANON == 0 && (st.ld.available() > 0 || st.ld.termios.cc[ldisc::VMIN] == 0);
        (st.ld.readable() || raw_ready || st.hung_up, st.hung_up)
    }

    /// Bytes a read could take now (FIONREAD).
    pub fn available(&self) -> usize {
        self.st.lock().ld.available()
    }

    /// The terminal ioctls; None for requests that are not a terminal's.
    pub fn ioctl(&self, p: &mut Process, req: u32, arg: u32) -> Option<SysResult> {
        Some(match req {
            TCGETS => {
                let t = self.st.lock().ld.termios;
                p.uwrite(arg, &encode(&t)).map(|_| 0)
            }
            TCSETS | TCSETSW | TCSETSF => (|| {
                let mut b = [0u8; 36];
                p.uread(arg, &mut b)?;
                self.job_check(p, SIGTTOU, false)?;
                let mut st = self.st.lock();
                if req == TCSETSF {
                    st.ld.flush_input();
                }
                st.ld.set(decode(&b));
                drop(st);
                sched::wakeup(self.read_chan());
                Ok(0)
            })(),
            TIOCGWINSZ => {
                let w = self.st.lock().winsize;
                let b: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
                p.uwrite(arg, &b).map(|_| 0)
            }
            TIOCSWINSZ => (|| {
                let mut b = [0u8; 8];
                p.uread(arg, &mut b)?;
                let w = [0, 1, 2, 3].map(|i| u16::from_le_bytes([b[2 * i], b[2 * i + 1]]));
                let pgrp = {
                    let mut st = self.st.lock();
                    let changed = st.winsize != w;
                    st.winsize = w;
                    changed.then_some(st.pgrp)
                };
                if let Some(g) = pgrp {
                    signal_group(g, SIGWINCH);
                }
                Ok(0)
            })(),
            TIOCGPGRP => (|| {
                let (sid, _) = Self::ids(p);
                let st = self.st.lock();
                if st.sid != sid {
                    return Err(Errno::ENOTTY);
                }
                let g = st.pgrp;
                drop(st);
                p.uwrite(arg, &g.to_le_bytes()).map(|_| 0)
            })(),
            TIOCSPGRP => (|| {
                let g = p.read_u32(arg)?;
                let (sid, _) = Self::ids(p);
                if self.st.lock().sid != sid || sid == 0 {
                    return Err(Errno::ENOTTY);
                }
                if (g as i32) < 0 {
                    return Err(Errno::EINVAL);
                }
                if !crate::proctab::group_exists(g, Some(sid)) {
                    return Err(Errno::EPERM);
                }
                self.job_check(p, SIGTTOU, false)?;
                self.st.lock().pgrp = g;
                Ok(0)
            })(),
            TIOCGSID => (|| {
                let s = self.st.lock().sid;
                if s == 0 {
                    return Err(Errno::ENOTTY);
                }
                p.uwrite(arg, &s.to_le_bytes()).map(|_| 0)
            })(),
            TIOCSCTTY => (|| {
                let (sid, pgid) = Self::ids(p);
                let mut st = self.st.lock();
                if sid != p.pid {
                    return Err(Errno::EPERM); // only a session leader
                }
                if st.sid != 0 && st.sid != sid && arg != 1 {
                    return Err(Errno::EPERM);
                }
                st.sid = sid;
                st.pgrp = pgid;
                Ok(0)
            })(),
            TIOCNOTTY => (|| {
                let (sid, _) = Self::ids(p);
                let mut st = self.st.lock();
                if st.sid != sid {
                    return Err(Errno::ENOTTY);
                }
                if sid == p.pid {
                    let g = st.pgrp;
                    st.sid = 0;
                    st.pgrp = 0;
                    drop(st);
                    signal_group(g, SIGHUP);
                    signal_group(g, SIGCONT);
                }
                Ok(0)
            })(),
            TCFLSH => {
                if arg == 0 || arg == 2 {
                    self.st.lock().ld.flush_input();
                }
                Ok(0)
            }
            TCXONC | TCSBRK | TCSBRKP => Ok(0),
            TIOCOUTQ => p.uwrite(arg, &0u32.to_le_bytes()).map(|_| 0),
            _ => return None,
        })
    }
}

const TOSTOP: u32 = 0o400;

const TCGETS: u32 = 0x5401;
const TCSETS: u32 = 0x5402;
const TCSETSW: u32 = 0x5403;
const TCSETSF: u32 = 0x5404;
const TCSBRK: u32 = 0x5409;
const TCXONC: u32 = 0x540a;
const TCFLSH: u32 = 0x540b;
const TIOCSCTTY: u32 = 0x540e;
const TIOCGPGRP: u32 = 0x540f;
const TIOCSPGRP: u32 = 0x5410;
const TIOCOUTQ: u32 = 0x5411;
const TIOCGWINSZ: u32 = 0x5413;
const TIOCSWINSZ: u32 = 0x5414;
const TIOCNOTTY: u32 = 0x5422;
const TCSBRKP: u32 = 0x5425;
const TIOCGSID: u32 = 0x5429;

/// struct termios as i386 Linux lays it out (36 bytes).
fn encode(t: &Termios) -> [u8; 36] {
    let mut b = [0u8; 36];
    b[0..4].copy_from_slice(&t.iflag.to_le_bytes());
    b[4..8].copy_from_slice(&t.oflag.to_le_bytes());
    b[8..12].copy_from_slice(&t.cflag.to_le_bytes());
    b[12..16].copy_from_slice(&t.lflag.to_le_bytes());
    b[16] = 0; // N_TTY
    b[17..17 + ldisc::NCCS].copy_from_slice(&t.cc);
    b
}

fn decode(b: &[u8; 36]) -> Termios {
    let w = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let mut cc = [0u8; ldisc::NCCS];
    cc.copy_from_slice(&b[17..17 + ldisc::NCCS]);
    Termios { iflag: w(0), oflag: w(4), cflag: w(8), lflag: w(12), cc }
}

/// Pseudo-terminals by number: the slave sides (a master holds its pty's
/// `Tty` too).
static PTYS: Mutex<std::collections::BTreeMap<u32, std::sync::Weak<Tty>>> =
    Mutex::new(std::collections::BTreeMap::new());

/// Open /dev/ptmx: a new pseudo-terminal, locked until unlockpt(3).
pub fn open_master() -> SysResult<Arc<Tty>> {
    let mut ptys = PTYS.lock();
    ptys.retain(|_, w| w.strong_count() > 0);
    let n = (0..4096u32).find(|n| !ptys.contains_key(n)).ok_or(Errno::ENOSPC)?;
    let tty = Arc::new(Tty {
        st: Mutex::new(State { winsize: [24, 80, 0, 0], master_open: true, locked: true, ..State::default() }),
        inbox: Mutex::new(Inbox::default()),
        out: Output::Master(Mutex::new(std::collections::VecDeque::new())),
        index: Some(n),
    });
    ptys.insert(n, Arc::downgrade(&tty));
    Ok(tty)
}

/// The slave side of pty `n` (/dev/pts/N), if its master is open and
/// unlocked.
pub fn slave(n: u32) -> SysResult<Arc<Tty>> {
    let t = PTYS.lock().get(&n).and_then(|w| w.upgrade()).ok_or(Errno::ENOENT)?;
    let st = t.st.lock();
    if !st.master_open {
        return Err(Errno::EIO);
    }
    if st.locked {
        return Err(Errno::EIO);
    }
    drop(st);
    Ok(t)
}

/// The numbers of the open pseudo-terminals (what /dev/pts lists).
pub fn ptys() -> Vec<u32> {
    PTYS.lock().iter().filter(|(_, w)| w.upgrade().is_some_and(|t| t.st.lock().master_open)).map(|(&n, _)| n).collect()
}

impl Tty {
    /// The pty's number.
    pub fn index(&self) -> Option<u32> {
        self.index
    }

    /// A slave description closed.
    pub fn slave_closed(&self) {
        let mut st = self.st.lock();
        st.slaves = st.slaves.saturating_sub(1);
        let last = st.slaves == 0;
        drop(st);
        if last && self.index.is_some() {
            // The master's reader sees the end (EIO).
            sched::wakeup(self.master_chan());
            sched::wakeup(crate::pipe::POLL_CHAN);
        }
    }

    /// The master closed: the slave side hangs up.
    pub fn master_closed(&self) {
        let pgrp = {
            let mut st = self.st.lock();
            st.master_open = false;
            st.hung_up = true;
            st.pgrp
        };
        signal_group(pgrp, SIGHUP);
        signal_group(pgrp, SIGCONT);
        sched::wakeup(self.read_chan());
        sched::wakeup(crate::pipe::POLL_CHAN);
    }

    /// read(2) on the master: what the slave side wrote (EIO once every
    /// slave description is closed and nothing is left).
    pub fn master_read(&self, p: &mut Process, max: usize, nonblock: bool) -> SysResult<Vec<u8>> {
        let Output::Master(q) = &self.out else { return Err(Errno::EINVAL) };
        loop {
            {
                let mut q = q.lock();
                if !q.is_empty() {
                    let n = max.min(q.len());
                    return Ok(q.drain(..n).collect());
                }
            }
            {
                let st = self.st.lock();
                if st.slave_opened && st.slaves == 0 {
                    return Err(Errno::EIO);
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            if p.signal_interrupts() {
                return Err(Errno::EINTR);
            }
            sched::sleep(self.master_chan());
        }
    }

    /// write(2) on the master: typed on the slave's terminal.
    pub fn master_write(&self, data: &[u8]) -> SysResult<usize> {
        let (signals, echo, pgrp) = {
            let mut st = self.st.lock();
            let sigs: Vec<u32> = st.ld.input(data).into_iter().map(|s| s.number()).collect();
            let echo = st.ld.take_echo();
            (sigs, st.ld.output(&echo), st.pgrp)
        };
        self.put(&echo);
        for s in signals {
            signal_group(pgrp, s);
        }
        sched::wakeup(self.read_chan());
        sched::wakeup(crate::pipe::POLL_CHAN);
        Ok(data.len())
    }

    /// What poll(2) sees on the master: (readable, hung up).
    pub fn master_poll(&self) -> (bool, bool) {
        let Output::Master(q) = &self.out else { return (false, true) };
        let st = self.st.lock();
        let gone = st.slave_opened && st.slaves == 0;
        (!q.lock().is_empty() || gone, gone)
    }

    /// Bytes the master could read now.
    pub fn master_available(&self) -> usize {
        match &self.out {
            Output::Master(q) => q.lock().len(),
            Output::Host(_) => 0,
        }
    }

    /// The master's ioctls: its pty's number and lock, and the terminal's
    /// settings and window size.
    pub fn master_ioctl(&self, p: &mut Process, req: u32, arg: u32) -> SysResult {
        match req {
            TIOCGPTN => p.uwrite(arg, &self.index.unwrap_or(0).to_le_bytes()).map(|_| 0),
            TIOCSPTLCK => {
                let v = p.read_u32(arg)?;
                self.st.lock().locked = v != 0;
                Ok(0)
            }
            TCGETS | TCSETS | TCSETSW | TCSETSF | TIOCGWINSZ | TIOCSWINSZ | TCFLSH | TCXONC | TCSBRK | TCSBRKP => {
                self.ioctl(p, req, arg).unwrap_or(Err(Errno::ENOTTY))
            }
            FIONREAD_ => p.uwrite(arg, &(self.master_available() as u32).to_le_bytes()).map(|_| 0),
            _ => Err(Errno::ENOTTY),
        }
    }
}

const TIOCGPTN: u32 = 0x8004_5430;
const TIOCSPTLCK: u32 = 0x4004_5431;
const FIONREAD_: u32 = 0x541b;

/// The host terminal in raw mode while vxos runs, put back as it was when
/// vxos ends: normally, on SIGTERM, SIGHUP, SIGINT or SIGQUIT, or on a
/// panic.
pub struct HostTerm;

/// The host terminal and its settings before vxos changed them.
static SAVED: OnceLock<(std::os::fd::OwnedFd, rustix::termios::Termios)> = OnceLock::new();

impl HostTerm {
    /// Put the terminal on `fd` in raw mode, if it is one.
    pub fn raw(fd: &impl AsFd) -> Option<HostTerm> {
        use rustix::termios::{tcgetattr, tcsetattr, OptionalActions, SpecialCodeIndex};
        if !rustix::termios::isatty(fd) {
            return None;
        }
        let saved = tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        raw.special_codes[SpecialCodeIndex::VMIN] = 1;
        raw.special_codes[SpecialCodeIndex::VTIME] = 0;
        let own = fd.as_fd().try_clone_to_owned().ok()?;
        tcsetattr(&own, OptionalActions::Drain, &raw).ok()?;
        let _ = SAVED.set((own, saved));
        // A fatal signal puts the terminal back too (crate::ending).
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            prev(info);
        }));
        Some(HostTerm)
    }
}

/// Put the host terminal back as it was.
pub fn restore() {
    if let Some((fd, t)) = SAVED.get() {
        let _ = rustix::termios::tcsetattr(fd, rustix::termios::OptionalActions::Drain, t);
    }
}

impl Drop for HostTerm {
    fn drop(&mut self) {
        restore();
    }
}
