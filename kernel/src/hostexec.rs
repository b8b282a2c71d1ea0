//! `vxos exec DIR -- PROGRAM [ARGS...]`: run a guest program from the
//! host through an export's cmd device, using nothing but the files under
//! DIR (see devcmd.rs for the protocol).
//!
//! It clones a conversation, opens its data (twice: one to read the
//! program's stdout, one to write its stdin), stderr and wait, writes
//! `exec`, and copies: the host's stdin into the program's (closing it at
//! the end of input), its stdout and stderr out. ^C (SIGINT) and SIGTERM
//! write `kill` to ctl (SIGKILL to the program's process group). It exits with the program's status from `wait`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

/// Run `command` in the guest exported at `dir`; return the exit status.
pub fn exec(dir: &Path, cwd: Option<String>, env: &[String], command: &[String]) -> i32 {
    match run(dir, cwd, env, command) {
        Ok(st) => st,
        Err((msg, st)) => {
            eprintln!("vxos exec: {msg}");
            st
        }
    }
}

type Failure = (String, i32);

fn fail(what: impl std::fmt::Display, st: i32) -> impl FnOnce(std::io::Error) -> Failure {
    move |e| (format!("{what}: {}", describe(&e)), st)
}

/// An error's message without Rust's "(os error N)".
fn describe(e: &std::io::Error) -> String {
    let s = e.to_string();
    s.split(" (os error").next().unwrap_or(&s).to_string()
}

fn run(dir: &Path, cwd: Option<String>, env: &[String], command: &[String]) -> Result<i32, Failure> {
    let cmd = dir.join("dev/cmd");
    let clone = OpenOptions::new().read(true).write(true).open(cmd.join("clone"));
    let mut ctl = match clone {
        Ok(f) => f,
        Err(e) => {
            // An export waiting for its process (--export-pid) has no files yet.
            let state = std::fs::read_to_string(dir.join(".vxos/ctl")).unwrap_or_default();
            let why = match state.trim().strip_suffix(" waiting") {
                Some(pid) => format!("the export waits for process {}", pid.trim_start_matches("pid ")),
                None => format!("is vxos running with --export {}?", dir.display()),
            };
            return Err((format!("{}: {} ({why})", cmd.join("clone").display(), describe(&e)), 1));
        }
    };
    let mut id = String::new();
    ctl.read_to_string(&mut id).map_err(fail("reading the conversation's number", 1))?;
    let conv = cmd.join(id.trim());
    let open = |name: &str, write: bool| {
        let p = conv.join(name);
        OpenOptions::new().read(!write).write(write).open(&p).map_err(fail(p.display(), 1))
    };
    let stdout = open("data", false)?;
    let stdin = open("data", true)?;
    let stderr = open("stderr", false)?;
    let mut wait = open("wait", false)?;
    let mut lines = Vec::new();
    if let Some(d) = cwd {
        lines.push(format!("dir {}", crate::devcmd::quote(&d)));
    }
    for e in env {
        lines.push(format!("env {}", crate::devcmd::quote(e)));
    }
    for l in lines {
        ctl.write_all(l.as_bytes()).map_err(fail(&l, 1))?;
    }
    let line =
        std::iter::once("exec".to_string()).chain(command.iter().map(|a| crate::devcmd::quote(a))).collect::<Vec<_>>();
    if let Err(e) = ctl.write_all(line.join(" ").as_bytes()) {
        let st = if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
        return Err((format!("{}: {}", command[0], describe(&e)), st));
    }
    // ^C and SIGTERM end the program (and so this command, with its
    // status). They are blocked in every thread and taken by one with
    // sigwait: a thread waiting in a FUSE read would not run a handler
    // until its read ends.
    let killer = ctl.try_clone().map_err(fail("ctl", 1))?;
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.thread_block().map_err(|e| (format!("blocking signals: {e}"), 1))?;
    std::thread::spawn(move || {
        let mut killer = killer;
        while set.wait().is_ok() {
            let _ = killer.write_all(b"kill");
        }
    });
    std::thread::spawn(move || {
        let mut stdin = stdin;
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut stdin);
        // Dropping it closes the program's stdin.
    });
    let out = std::thread::spawn(move || copy_out(stdout, std::io::stdout()));
    let err = std::thread::spawn(move || copy_out(stderr, std::io::stderr()));
    let mut status = String::new();
    wait.read_to_string(&mut status).map_err(fail("wait", 1))?;
    let _ = out.join();
    let _ = err.join();
    drop(ctl);
    // "PID exit N" or "PID signal N".
    let f: Vec<&str> = status.split_whitespace().collect();
    match (f.get(1), f.get(2).and_then(|n| n.parse::<i32>().ok())) {
        (Some(&"exit"), Some(n)) => Ok(n),
        (Some(&"signal"), Some(n)) => Ok(128 + n),
        _ => Err((format!("unexpected wait status {status:?}"), 1)),
    }
}

/// Copy a program's output to ours until its end.
fn copy_out(mut from: File, mut to: impl Write) {
    let mut buf = vec![0u8; 65536];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
                let _ = to.flush();
            }
        }
    }
}
