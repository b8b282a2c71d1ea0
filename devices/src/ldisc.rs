//! The terminal line discipline: what stands between a keyboard and a
//! program reading a tty, as Linux's n_tty does it.
//!
//! Input bytes go through the input flags (ICRNL, INLCR, IGNCR, ISTRIP),
//! the signal characters (ISIG: ^C, ^\, ^Z become SIGINT, SIGQUIT, SIGTSTP
//! for the foreground process group) and, in canonical mode (ICANON), line
//! editing: erase, word erase, kill, literal next, end of file; a program's
//! read sees a line only once it ends. Echo (ECHO, ECHOE, ECHOK, ECHONL,
//! ECHOCTL) is produced as bytes for the terminal. Output goes through
//! OPOST/ONLCR. Blocking, timeouts (VMIN/VTIME) and which processes get the
//! signals are the caller's; this is the state machine alone, so it can be
//! tested byte by byte. (T5 plugs it into the console.)

use std::collections::VecDeque;

// c_iflag
pub const ISTRIP: u32 = 0o40;
pub const INLCR: u32 = 0o100;
pub const IGNCR: u32 = 0o200;
pub const ICRNL: u32 = 0o400;
pub const IXON: u32 = 0o2000;
// c_oflag
pub const OPOST: u32 = 0o1;
pub const ONLCR: u32 = 0o4;
// c_lflag
pub const ISIG: u32 = 0o1;
pub const ICANON: u32 = 0o2;
pub const ECHO: u32 = 0o10;
pub const ECHOE: u32 = 0o20;
pub const ECHOK: u32 = 0o40;
pub const ECHONL: u32 = 0o100;
pub const NOFLSH: u32 = 0o200;
pub const ECHOCTL: u32 = 0o1000;
pub const ECHOKE: u32 = 0o4000;
pub const IEXTEN: u32 = 0o100000;
// c_cflag defaults: B38400 | CS8 | CREAD
pub const CFLAG_DEFAULT: u32 = 0o17 | 0o60 | 0o200;

// c_cc indices (Linux)
pub const VINTR: usize = 0;
pub const VQUIT: usize = 1;
pub const VERASE: usize = 2;
pub const VKILL: usize = 3;
pub const VEOF: usize = 4;
pub const VTIME: usize = 5;
pub const VMIN: usize = 6;
pub const VSUSP: usize = 10;
pub const VEOL: usize = 11;
pub const VWERASE: usize = 14;
pub const VLNEXT: usize = 15;
pub const VEOL2: usize = 16;
pub const NCCS: usize = 19;

/// The settings termios(3) describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub cc: [u8; NCCS],
}

impl Default for Termios {
    /// A terminal as Linux sets one up: cooked, echoing, with signals.
    fn default() -> Termios {
        let mut cc = [0u8; NCCS];
        cc[VINTR] = 0x03; // ^C
        cc[VQUIT] = 0x1c; // ^\
        cc[VERASE] = 0x7f; // DEL
        cc[VKILL] = 0x15; // ^U
        cc[VEOF] = 0x04; // ^D
        cc[VMIN] = 1;
        cc[VSUSP] = 0x1a; // ^Z
        cc[VWERASE] = 0x17; // ^W
        cc[VLNEXT] = 0x16; // ^V
        Termios {
            iflag: ICRNL | IXON,
            oflag: OPOST | ONLCR,
            cflag: CFLAG_DEFAULT,
            lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
            cc,
        }
    }
}

/// A signal for the terminal's foreground process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Int,
    Quit,
    Tstp,
}

impl Signal {
    /// The Linux signal number.
    pub fn number(self) -> u32 {
        match self {
            Signal::Int => 2,
            Signal::Quit => 3,
            Signal::Tstp => 20,
        }
    }
}

/// One terminal's line discipline.
#[derive(Debug, Default)]
pub struct Ldisc {
    pub termios: Termios,
    /// The line being edited (canonical mode).
    line: Vec<u8>,
    /// Input a read may take now; `None` entries mark an end of file.
    ready: VecDeque<Option<u8>>,
    /// Echo for the terminal, not yet written.
    echo: Vec<u8>,
    /// The last byte was VLNEXT: take the next one literally.
    literal: bool,
}

impl Ldisc {
    pub fn new() -> Ldisc {
        Ldisc::default()
    }

    fn lflag(&self, f: u32) -> bool {
        self.termios.lflag & f != 0
    }

    fn is(&self, c: u8, idx: usize) -> bool {
        let v = self.termios.cc[idx];
        v != 0 && c == v
    }

    /// Echo `c` as the terminal should show it (ECHOCTL: control
    /// characters as ^X).
    fn echo_char(&mut self, c: u8) {
        if !self.lflag(ECHO) {
            return;
        }
        if self.lflag(ECHOCTL) && (c < 0x20 && c != b'\n' && c != b'\t' || c == 0x7f) {
            self.echo.push(b'^');
            self.echo.push(if c == 0x7f { b'?' } else { c + 0x40 });
        } else {
            self.echo.push(c);
        }
    }

    /// Erase the last character of the line (and its echo).
    fn erase_one(&mut self) -> bool {
        let Some(c) = self.line.pop() else { return false };
        if self.lflag(ECHO) && self.lflag(ECHOE) {
            let width = if self.lflag(ECHOCTL) && (c < 0x20 && c != b'\t' || c == 0x7f) { 2 } else { 1 };
            for _ in 0..width {
                self.echo.extend_from_slice(b"\x08 \x08");
            }
        }
        true
    }

    /// Take bytes typed on the terminal; return the signals they raise.
    pub fn input(&mut self, bytes: &[u8]) -> Vec<Signal> {
        let mut sigs = Vec::new();
        for &b in bytes {
            let mut c = b;
            if self.termios.iflag & ISTRIP != 0 {
                c &= 0x7f;
            }
            if self.literal {
                self.literal = false;
                self.put(c);
                continue;
            }
            if c == b'\r' {
                if self.termios.iflag & IGNCR != 0 {
                    continue;
                }
                if self.termios.iflag & ICRNL != 0 {
                    c = b'\n';
                }
            } else if c == b'\n' && self.termios.iflag & INLCR != 0 {
                c = b'\r';
            }
            if self.lflag(ISIG) {
                let sig = if self.is(c, VINTR) {
                    Some(Signal::Int)
                } else if self.is(c, VQUIT) {
                    Some(Signal::Quit)
                } else if self.is(c, VSUSP) {
                    Some(Signal::Tstp)
                } else {
                    None
                };
                if let Some(s) = sig {
                    if !self.lflag(NOFLSH) {
                        self.line.clear();
                        self.ready.clear();
                    }
                    self.echo_char(c);
                    sigs.push(s);
                    continue;
                }
            }
            if self.lflag(ICANON) {
                if self.lflag(IEXTEN) && self.is(c, VLNEXT) {
                    self.literal = true;
                    continue;
                }
                if self.is(c, VERASE) {
                    self.erase_one();
                    continue;
                }
                if self.lflag(IEXTEN) && self.is(c, VWERASE) {
                    while self.line.last().is_some_and(|&x| x == b' ' || x == b'\t') {
                        self.erase_one();
                    }
                    while self.line.last().is_some_and(|&x| x != b' ' && x != b'\t') {
                        self.erase_one();
                    }
                    continue;
                }
                if self.is(c, VKILL) {
                    if self.lflag(ECHOKE) || !self.lflag(ECHOK) {
                        while self.erase_one() {}
                    } else {
                        self.line.clear();
                        self.echo_char(c);
                        if self.lflag(ECHO) {
                            self.echo.push(b'\n');
                        }
                    }
                    continue;
                }
                if self.is(c, VEOF) {
                    // The line so far goes out without a newline; at the
                    // start of a line, a read sees end of file.
                    let empty = self.line.is_empty();
                    self.ready.extend(self.line.drain(..).map(Some));
                    if empty {
                        self.ready.push_back(None);
                    }
                    continue;
                }
            }
            self.put(c);
        }
        sigs
    }

    /// A plain input byte: into the line (canonical) or straight to readers.
    fn put(&mut self, c: u8) {
        if self.lflag(ICANON) {
            let ends = c == b'\n' || self.is(c, VEOL) || self.is(c, VEOL2);
            if c == b'\n' && !self.lflag(ECHO) && self.lflag(ECHONL) {
                self.echo.push(b'\n');
            } else {
                self.echo_char(c);
            }
            self.line.push(c);
            if ends {
                self.ready.extend(self.line.drain(..).map(Some));
            }
        } else {
            self.echo_char(c);
            self.ready.push_back(Some(c));
        }
    }

    /// Bytes a read may take now (canonical: whole lines).
    pub fn available(&self) -> usize {
        self.ready.iter().take_while(|b| b.is_some()).count()
    }

    /// Report whether a read would return at once (data or end of file).
    pub fn readable(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Take up to `max` bytes for a read: `None` if it must wait; an empty
    /// result is end of file (^D at the start of a line). A canonical read
    /// stops at the end of a line.
    pub fn read(&mut self, max: usize) -> Option<Vec<u8>> {
        match self.ready.front() {
            None => return None,
            Some(None) => {
                self.ready.pop_front();
                return Some(Vec::new());
            }
            Some(Some(_)) => {}
        }
        let canon = self.lflag(ICANON);
        let mut out = Vec::new();
        while out.len() < max {
            match self.ready.front() {
                Some(Some(c)) => {
                    let c = *c;
                    self.ready.pop_front();
                    out.push(c);
                    if canon && (c == b'\n' || self.is(c, VEOL) || self.is(c, VEOL2)) {
                        break;
                    }
                }
                _ => break,
            }
        }
        Some(out)
    }

    /// Echo produced by input, for the terminal.
    pub fn take_echo(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.echo)
    }

    /// What the terminal gets for a program's write (ONLCR: \n as \r\n).
    pub fn output(&self, bytes: &[u8]) -> Vec<u8> {
        let t = &self.termios;
        if t.oflag & OPOST == 0 || t.oflag & ONLCR == 0 {
            return bytes.to_vec();
        }
        let mut out = Vec::with_capacity(bytes.len() + 8);
        for &b in bytes {
            if b == b'\n' {
                out.push(b'\r');
            }
            out.push(b);
        }
        out
    }

    /// Switch settings (TCSETS): leaving canonical mode makes the edited
    /// line readable, as Linux does.
    pub fn set(&mut self, t: Termios) {
        let was_canon = self.lflag(ICANON);
        self.termios = t;
        if was_canon && !self.lflag(ICANON) {
            self.ready.extend(self.line.drain(..).map(Some));
        }
    }

    /// Drop pending input (TCFLSH, and a signal character without NOFLSH).
    pub fn flush_input(&mut self) {
        self.line.clear();
        self.ready.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(l: &mut Ldisc, s: &[u8]) -> Vec<Signal> {
        l.input(s)
    }

    #[test]
    fn a_line_is_read_only_when_it_ends() {
        let mut l = Ldisc::new();
        typed(&mut l, b"ls -l");
        assert_eq!(l.read(100), None);
        assert_eq!(l.take_echo(), b"ls -l");
        typed(&mut l, b"\r"); // Enter sends CR; ICRNL makes it NL
        assert_eq!(l.read(100).unwrap(), b"ls -l\n");
        assert_eq!(l.take_echo(), b"\n");
        assert_eq!(l.read(100), None);
    }

    #[test]
    fn erase_word_erase_and_kill() {
        let mut l = Ldisc::new();
        typed(&mut l, b"echo helo\x7flo wor\x17world\n");
        assert_eq!(l.read(100).unwrap(), b"echo hello world\n");
        let echo = l.take_echo();
        assert!(echo.windows(3).any(|w| w == b"\x08 \x08"), "{echo:?}");
        typed(&mut l, b"rm -rf /\x15true\n");
        assert_eq!(l.read(100).unwrap(), b"true\n");
    }

    #[test]
    fn eof_at_line_start_and_mid_line() {
        let mut l = Ldisc::new();
        typed(&mut l, b"abc\x04");
        assert_eq!(l.read(100).unwrap(), b"abc", "^D mid-line pushes the line out");
        typed(&mut l, b"\x04");
        assert_eq!(l.read(100).unwrap(), b"", "^D at the start of a line is end of file");
        assert_eq!(l.read(100), None);
    }

    #[test]
    fn signal_characters_flush_and_echo() {
        let mut l = Ldisc::new();
        typed(&mut l, b"half a line");
        l.take_echo();
        assert_eq!(typed(&mut l, b"\x03"), vec![Signal::Int]);
        assert_eq!(l.take_echo(), b"^C");
        assert_eq!(l.read(100), None, "the line was dropped");
        assert_eq!(typed(&mut l, b"\x1a\x1c"), vec![Signal::Tstp, Signal::Quit]);
        assert_eq!(Signal::Tstp.number(), 20);
        let mut t = l.termios;
        t.lflag &= !ISIG;
        l.set(t);
        assert!(typed(&mut l, b"\x03\n").is_empty(), "no signals without ISIG");
        assert_eq!(l.read(100).unwrap(), b"\x03\n");
    }

    #[test]
    fn raw_mode_passes_bytes_at_once() {
        let mut l = Ldisc::new();
        typed(&mut l, b"partial");
        assert_eq!(l.take_echo(), b"partial");
        let mut t = l.termios;
        t.lflag &= !(ICANON | ECHO);
        t.iflag &= !ICRNL;
        l.set(t);
        assert_eq!(l.read(100).unwrap(), b"partial", "leaving canonical mode releases the line");
        typed(&mut l, b"q\r\x7f");
        assert_eq!(l.read(2).unwrap(), b"q\r");
        assert_eq!(l.read(10).unwrap(), b"\x7f");
        assert!(l.take_echo().is_empty(), "no echo");
    }

    #[test]
    fn literal_next_and_output_processing() {
        let mut l = Ldisc::new();
        typed(&mut l, b"a\x16\x03b\n");
        assert_eq!(l.read(100).unwrap(), b"a\x03b\n", "^V quotes ^C");
        assert_eq!(l.output(b"one\ntwo\n"), b"one\r\ntwo\r\n");
        let mut t = l.termios;
        t.oflag &= !OPOST;
        l.set(t);
        assert_eq!(l.output(b"x\n"), b"x\n");
    }

    #[test]
    fn a_canonical_read_stops_at_the_line_end() {
        let mut l = Ldisc::new();
        typed(&mut l, b"one\ntwo\n");
        assert_eq!(l.available(), 8);
        assert_eq!(l.read(100).unwrap(), b"one\n");
        assert_eq!(l.read(2).unwrap(), b"tw");
        assert_eq!(l.read(100).unwrap(), b"o\n");
    }
}
