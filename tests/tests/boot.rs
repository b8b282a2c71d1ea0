//! `vxos boot` driven through a pseudo-terminal, as a person would use it:
//! type into the booted shell and read the screen. Each test boots its own
//! vxos on a fresh pty (its controlling terminal, through `setsid -c`).
//!
//! busybox's shell asks the terminal where the cursor is (ESC [6n) before
//! each prompt; the harness answers as a terminal would, so the shell's
//! line editing behaves as on a real one.
#![forbid(unsafe_code)]

use rustix::termios::{tcgetattr, tcsetwinsize, Winsize};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use vxos_tests::*;

/// A booted vxos on a pty.
struct Session {
    master: std::fs::File,
    child: Child,
    /// Everything read so far.
    screen: Vec<u8>,
    /// How much of `screen` earlier expectations consumed.
    seen: usize,
    /// The pty's settings before vxos started.
    before: rustix::termios::Termios,
}

const PROMPT: &str = ":~# ";

impl Session {
    fn boot() -> Session {
        let master: OwnedFd = rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY)
            .expect("open a pty master");
        rustix::pty::grantpt(&master).unwrap();
        rustix::pty::unlockpt(&master).unwrap();
        let name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().unwrap())
            .expect("open the pty slave");
        tcsetwinsize(&slave, Winsize { ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0 }).unwrap();
        let before = tcgetattr(&slave).unwrap();
        let child = Command::new("setsid")
            .arg("-c")
            .arg(vxos())
            .arg("boot")
            .env("TERM", "vt100")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave))
            .spawn()
            .expect("start vxos boot");
        let master = std::fs::File::from(master);
        rustix::fs::fcntl_setfl(&master, rustix::fs::OFlags::NONBLOCK).unwrap();
        let mut s = Session { master, child, screen: Vec::new(), seen: 0, before };
        s.expect(PROMPT, "the first prompt");
        s
    }

    /// Read what is there; answer cursor-position queries.
    fn pump(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        let mut got = false;
        loop {
            match self.master.read(&mut buf) {
                Ok(0) => return got,
                Ok(n) => {
                    got = true;
                    let chunk = &buf[..n];
                    for _ in 0..chunk.windows(4).filter(|w| w == b"\x1b[6n").count() {
                        let _ = self.master.write_all(b"\x1b[1;1R");
                    }
                    self.screen.extend_from_slice(chunk);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return got,
                // EIO: the other side closed (vxos ended).
                Err(_) => return got,
            }
        }
    }

    /// Wait until `want` appears after what earlier expectations saw;
    /// return the text up to and including it.
    fn expect(&mut self, want: &str, what: &str) -> String {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            self.pump();
            let text = String::from_utf8_lossy(&self.screen[self.seen..]).into_owned();
            if let Some(i) = text.find(want) {
                let upto = &text[..i + want.len()];
                self.seen += upto.len();
                return upto.to_string();
            }
            if Instant::now() > end {
                panic!("{what}: no {want:?} on the screen after 20 s; the screen since the last match:\n{text}");
            }
            let mut fds = [rustix::event::PollFd::new(&self.master, rustix::event::PollFlags::IN)];
            let _ = rustix::event::poll(&mut fds, 100);
        }
    }

    fn send(&mut self, keys: &[u8]) {
        self.master.write_all(keys).unwrap();
    }

    /// Type a command line and wait for the next prompt; return the output
    /// between the command and the prompt.
    fn run(&mut self, line: &str) -> String {
        self.send(format!("{line}\r").as_bytes());
        let out = self.expect(PROMPT, line);
        let out = out.replace("\r\n", "\n");
        // Drop the echoed command line and the prompt itself.
        let body = out.split_once('\n').map(|x| x.1).unwrap_or("");
        body.rsplit_once('\n').map(|x| x.0).unwrap_or("").to_string()
    }

    /// Wait for vxos to end; return its exit status.
    fn wait(mut self) -> i32 {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            self.pump();
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            assert!(Instant::now() < end, "vxos did not end; screen:\n{}", String::from_utf8_lossy(&self.screen));
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_command_and_its_output() {
    let mut s = Session::boot();
    assert_eq!(s.run("echo hello $((6 * 7))"), "hello 42");
    assert_eq!(s.run("cat /etc/hostname"), "vxos");
    let ls = s.run("ls /");
    for d in ["bin", "dev", "etc", "proc", "tmp"] {
        assert!(ls.split_whitespace().any(|w| w == d), "ls / shows {d}: {ls:?}");
    }
    s.send(b"exit\r");
    assert_eq!(s.wait(), 0);
}

#[test]
fn line_editing_with_backspace() {
    let mut s = Session::boot();
    // Type "echo abc", rub out two characters, type "xy".
    assert_eq!(s.run("echo abc\x7f\x7fxy"), "axy");
    s.send(b"exit\r");
    assert_eq!(s.wait(), 0);
}

#[test]
fn ctrl_c_interrupts_sleep() {
    let mut s = Session::boot();
    let t = Instant::now();
    s.send(b"sleep 100\r");
    s.expect("sleep 100\r\n", "the command's echo");
    std::thread::sleep(Duration::from_millis(300));
    s.send(b"\x03");
    s.expect(PROMPT, "the prompt after ^C");
    assert!(t.elapsed() < Duration::from_secs(10), "^C ended sleep 100 at once");
    assert_eq!(s.run("echo status $?"), "status 130");
    s.send(b"\x04"); // ^D at an empty prompt ends the shell
    assert_eq!(s.wait(), 0);
}

#[test]
fn ctrl_z_jobs_and_fg() {
    let mut s = Session::boot();
    s.send(b"sleep 100\r");
    s.expect("sleep 100\r\n", "the command's echo");
    std::thread::sleep(Duration::from_millis(300));
    s.send(b"\x1a");
    let stopped = s.expect(PROMPT, "the prompt after ^Z");
    assert!(stopped.contains("Stopped"), "^Z stops the job: {stopped:?}");
    let jobs = s.run("jobs");
    assert!(jobs.contains("[1]") && jobs.contains("Stopped") && jobs.contains("sleep 100"), "jobs: {jobs:?}");
    s.send(b"fg\r");
    s.expect("sleep 100", "fg names the job");
    std::thread::sleep(Duration::from_millis(300));
    s.send(b"\x03");
    s.expect(PROMPT, "the prompt after ^C of the job brought back");
    assert_eq!(s.run("jobs"), "");
    s.send(b"exit\r");
    assert_eq!(s.wait(), 0);
}

#[test]
fn vi_edits_a_file() {
    let mut s = Session::boot();
    s.send(b"vi /tmp/note\r");
    s.expect("/tmp/note", "vi's status line");
    s.send(b"ihello from vi\x1b");
    s.expect("[Modified]", "vi sees the change");
    s.send(b":wq\r");
    s.expect(PROMPT, "the prompt after :wq");
    assert_eq!(s.run("cat /tmp/note"), "hello from vi");
    s.send(b"exit\r");
    assert_eq!(s.wait(), 0);
}

#[test]
fn window_size_follows_the_host() {
    let mut s = Session::boot();
    assert_eq!(s.run("stty size"), "24 80");
    tcsetwinsize(&s.master, Winsize { ws_row: 40, ws_col: 132, ws_xpixel: 0, ws_ypixel: 0 }).unwrap();
    // The host kernel sends SIGWINCH to the pty's foreground group: vxos.
    std::thread::sleep(Duration::from_millis(300));
    // (The shell redraws its prompt on SIGWINCH: look for the answer.)
    s.send(b"stty size\r");
    s.expect("\r\n40 132\r\n", "stty size after the resize");
    s.expect(PROMPT, "the prompt after stty size");
    s.send(b"poweroff\r");
    assert_eq!(s.wait(), 0);
}

#[test]
fn exit_restores_the_host_terminal() {
    let mut s = Session::boot();
    // (The master answers for the slave: once vxos, the session leader,
    // has ended, the slave is hung up.)
    let master = s.master.try_clone().unwrap();
    let during = tcgetattr(master.as_fd()).unwrap();
    assert!(
        !during.local_modes.contains(rustix::termios::LocalModes::ICANON),
        "the host terminal is raw while vxos runs"
    );
    let before = s.before.clone();
    s.send(b"exit\r");
    assert_eq!(s.wait(), 0);
    let after = tcgetattr(master.as_fd()).unwrap();
    assert_eq!(after.input_modes, before.input_modes, "input modes as before");
    assert_eq!(after.output_modes, before.output_modes, "output modes as before");
    assert_eq!(after.control_modes, before.control_modes, "control modes as before");
    assert_eq!(after.local_modes, before.local_modes, "local modes as before");
    use rustix::termios::SpecialCodeIndex as I;
    for i in [I::VINTR, I::VQUIT, I::VERASE, I::VKILL, I::VEOF, I::VMIN, I::VTIME, I::VSUSP] {
        assert_eq!(after.special_codes[i], before.special_codes[i], "special character {i:?} as before");
    }
}

#[test]
fn bg_and_a_background_reader_stopped_by_sigttin() {
    let mut s = Session::boot();
    s.send(b"sleep 100\r");
    s.expect("sleep 100\r\n", "the command's echo");
    std::thread::sleep(Duration::from_millis(300));
    s.send(b"\x1a");
    s.expect(PROMPT, "the prompt after ^Z");
    let bg = s.run("bg");
    assert!(bg.contains("sleep 100"), "bg names the job: {bg:?}");
    let jobs = s.run("jobs");
    assert!(jobs.contains("Running") && jobs.contains("sleep 100"), "the job runs in the background: {jobs:?}");
    s.run("kill %1; wait");
    // A background job that reads the terminal stops (SIGTTIN).
    s.run("cat &");
    let jobs = s.run("sleep 0.3; jobs");
    assert!(jobs.contains("Stopped (tty input)") && jobs.contains("cat"), "cat & stops for tty input: {jobs:?}");
    s.run("kill -9 %1");
    let jobs = s.run("sleep 0.3; jobs");
    assert!(jobs.contains("Killed") && jobs.contains("cat"), "the stopped reader is killed: {jobs:?}");
    s.send(b"exit\r");
    assert_eq!(s.wait(), 0);
}

#[test]
fn sigterm_to_vxos_restores_the_host_terminal() {
    let s = Session::boot();
    let master = s.master.try_clone().unwrap();
    let before = s.before.clone();
    let pid = rustix::process::Pid::from_child(&s.child);
    rustix::process::kill_process(pid, rustix::process::Signal::Term).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    let mut s = s;
    let status = loop {
        s.pump();
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < end, "vxos did not end on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(15), "vxos ends as SIGTERM would end it: {status:?}");
    let after = tcgetattr(master.as_fd()).unwrap();
    assert_eq!(after.local_modes, before.local_modes, "local modes as before");
    assert_eq!(after.input_modes, before.input_modes, "input modes as before");
    assert_eq!(after.output_modes, before.output_modes, "output modes as before");
}

/// Debian's own programs run at the prompt (T6): bash, python3, perl,
/// sqlite3 and an interactive bash reading the terminal.
#[test]
fn debian_programs_at_the_prompt() {
    let mut s = Session::boot();
    assert_eq!(s.run("bash -c 'a=(x y z); echo ${#a[@]} ${a[1]}'"), "3 y");
    assert_eq!(s.run("python3 -c 'import json; print(json.dumps({\"k\": 6 * 7}))'"), "{\"k\": 42}");
    assert_eq!(s.run("perl -e 'print join(\",\", map { $_ * 2 } 1..4), \"\\n\"'"), "2,4,6,8");
    assert_eq!(s.run("sqlite3 :memory: 'select 6 * 7'"), "42");
    // (ash runs its own applets first: name the GNU program by its path.)
    assert_eq!(s.run("/bin/ls --version | head -1"), "ls (GNU coreutils) 9.1");
    // An interactive bash on the terminal: a command, then back to ash.
    s.send(b"PS1='\\u@\\h:\\w\\$ ' bash --norc --noprofile\r");
    s.expect(PROMPT, "bash's prompt");
    assert_eq!(s.run("echo in bash $((2 + 3))"), "in bash 5");
    s.send(b"exit\r");
    s.expect(PROMPT, "ash's prompt again");
    assert_eq!(s.run("echo back"), "back");
    s.send(b"exit\r");
    assert_eq!(s.wait(), 0);
}
