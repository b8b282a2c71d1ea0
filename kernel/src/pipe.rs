//! Pipes: a buffer of 64 KiB between a read end and a write end.
//!
//! A read waits while the pipe is empty and a writer remains, and returns
//! 0 (end of file) once none does; a write waits while the pipe is full
//! and a reader remains, and fails with EPIPE (and SIGPIPE) once none
//! does. Ends are counted by open file descriptions: dropping the last
//! description of an end (its last descriptor in any process) closes it
//! and wakes the other side. Writes of at most PIPE_BUF bytes are never
//! interleaved with other writes.
//!
//! A named pipe (a FIFO node in any file system) is a pipe made when its
//! node is first opened and gone once its last end closes; opening it for
//! reading waits for a writer and for writing waits for a reader, as
//! Linux's does (O_NONBLOCK: a reader does not wait, a writer fails with
//! ENXIO; O_RDWR opens both ends at once and never waits).

use crate::errno::{Errno, SysResult};
use crate::sched;
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};

/// What poll, select and their kin sleep on: any pipe's change wakes it.
pub const POLL_CHAN: sched::WaitChan = 0x504f_4c4c_0000_0000;

pub const POLLIN: u16 = 1;
pub const POLLOUT: u16 = 4;
pub const POLLERR: u16 = 8;
pub const POLLHUP: u16 = 0x10;
pub const POLLRDNORM: u16 = 0x40;
pub const POLLWRNORM: u16 = 0x100;

/// The buffer size a pipe starts with (Linux's default pipe capacity).
pub const CAPACITY: usize = 65536;
/// The most F_SETPIPE_SZ gives an unprivileged process
/// (/proc/sys/fs/pipe-max-size).
pub const MAX_CAPACITY: usize = 1 << 20;
/// Writes up to this size are atomic.
pub const PIPE_BUF: usize = 4096;

struct Buf {
    data: VecDeque<u8>,
    readers: u32,
    writers: u32,
    /// Events for epoll's edge-triggered mode: writes and writers gone
    /// (for the read side), reads and readers gone (for the write side).
    events: [u64; 2],
    /// Its size (F_SETPIPE_SZ).
    cap: usize,
    /// Ends opened so far: [read, write] (a FIFO's open waits for one).
    opens: [u64; 2],
}

impl Buf {
    /// An empty pipe with `ends` readers and as many writers.
    fn new(ends: u32) -> Arc<Mutex<Buf>> {
        Arc::new(Mutex::new(Buf {
            data: VecDeque::new(),
            readers: ends,
            writers: ends,
            events: [0, 0],
            cap: CAPACITY,
            opens: [ends as u64; 2],
        }))
    }
}

/// A pipe, for reading and writing (it does not count as an end).
#[derive(Clone)]
pub struct Pipe {
    pipe: Arc<Mutex<Buf>>,
}

/// One end of a pipe, counted while it exists.
pub struct End {
    pipe: Pipe,
    pub write: bool,
    /// Both ends at once (a FIFO opened O_RDWR).
    both: bool,
}

/// Make a pipe: its read end and its write end.
pub fn new() -> (End, End) {
    let pipe = Pipe { pipe: Buf::new(1) };
    (End { pipe: pipe.clone(), write: false, both: false }, End { pipe, write: true, both: false })
}

/// The pipes of the FIFO nodes open now, by (device number, qid path).
type Fifos = HashMap<(u64, u64), Weak<Mutex<Buf>>>;
static FIFOS: Mutex<Option<Fifos>> = Mutex::new(None);

/// Open the FIFO node `key` for reading, writing or (`read` and `write`)
/// both, waiting for the other side unless `nonblock`; `interrupted` says
/// when a signal ends the wait (EINTR).
pub fn open_fifo(
    key: (u64, u64),
    read: bool,
    write: bool,
    nonblock: bool,
    interrupted: &mut dyn FnMut() -> bool,
) -> SysResult<End> {
    let pipe = {
        let mut t = FIFOS.lock();
        let t = t.get_or_insert_with(HashMap::new);
        t.retain(|_, w| w.strong_count() > 0);
        match t.get(&key).and_then(Weak::upgrade) {
            Some(b) => Pipe { pipe: b },
            None => {
                let b = Buf::new(0);
                t.insert(key, Arc::downgrade(&b));
                Pipe { pipe: b }
            }
        }
    };
    if read && write {
        pipe.add_end(true, true);
        return Ok(End { pipe, write: false, both: true });
    }
    if write && nonblock && pipe.pipe.lock().readers == 0 {
        return Err(Errno::ENXIO);
    }
    // The other side's opens so far: wait till it has an end, or one was
    // opened since (and perhaps closed already).
    let other = if write { 0 } else { 1 };
    let seen = pipe.pipe.lock().opens[other];
    let end = End::open(&pipe, write);
    if nonblock {
        return Ok(end);
    }
    loop {
        {
            let b = pipe.pipe.lock();
            let have = if write { b.readers } else { b.writers };
            if have > 0 || b.opens[other] != seen {
                return Ok(end);
            }
        }
        if interrupted() {
            return Err(Errno::EINTR);
        }
        sched::sleep(pipe.chan());
    }
}

impl End {
    /// A new end of `pipe` (opening /proc/N/fd/M of a pipe).
    pub fn open(pipe: &Pipe, write: bool) -> End {
        pipe.add_end(!write, write);
        End { pipe: pipe.clone(), write, both: false }
    }

    /// poll(2)'s answer for this end (both sides' for a FIFO opened O_RDWR).
    pub fn poll(&self) -> u16 {
        if self.both {
            self.pipe.poll(false) | self.pipe.poll(true)
        } else {
            self.pipe.poll(self.write)
        }
    }

    /// The pipe this is an end of.
    pub fn pipe(&self) -> Pipe {
        self.pipe.clone()
    }
}

impl Pipe {
    /// Count a new end that reads, writes or both, and wake whoever waits.
    fn add_end(&self, read: bool, write: bool) {
        {
            let mut b = self.pipe.lock();
            if read {
                b.readers += 1;
                b.opens[0] += 1;
            }
            if write {
                b.writers += 1;
                b.opens[1] += 1;
            }
        }
        self.wake();
    }

    /// Wake both sides, and whoever polls.
    fn wake(&self) {
        sched::wakeup(self.chan());
        sched::wakeup(POLL_CHAN);
    }

    /// A number naming the pipe (for locks and fstat).
    pub fn id(&self) -> u64 {
        self.chan()
    }

    /// The channel both sides sleep on.
    fn chan(&self) -> sched::WaitChan {
        Arc::as_ptr(&self.pipe) as u64
    }

    /// poll(2)'s answer for the read end (`write` false) or the write end.
    pub fn poll(&self, write: bool) -> u16 {
        let b = self.pipe.lock();
        if write {
            if b.readers == 0 {
                POLLERR | POLLOUT | POLLWRNORM
            } else if b.cap - b.data.len() >= PIPE_BUF {
                POLLOUT | POLLWRNORM
            } else {
                0
            }
        } else {
            let mut r = 0;
            if !b.data.is_empty() {
                r |= POLLIN | POLLRDNORM;
            }
            if b.writers == 0 {
                r |= POLLHUP;
            }
            r
        }
    }

    /// How many events each side has seen: [read side, write side].
    pub fn events(&self) -> [u64; 2] {
        self.pipe.lock().events
    }

    /// The pipe's size (F_GETPIPE_SZ).
    pub fn capacity(&self) -> usize {
        self.pipe.lock().cap
    }

    /// Resize the pipe (F_SETPIPE_SZ): to a power of two pages, at least
    /// one, at most MAX_CAPACITY unless `privileged`; EBUSY if what it
    /// holds would not fit.
    pub fn set_capacity(&self, want: usize, privileged: bool) -> SysResult<usize> {
        let size = want.max(4096).checked_next_power_of_two().ok_or(Errno::EINVAL)?;
        if size > MAX_CAPACITY && !privileged || size > 1 << 31 {
            return Err(Errno::EPERM);
        }
        let mut b = self.pipe.lock();
        if b.data.len() > size {
            return Err(Errno::EBUSY);
        }
        b.cap = size;
        drop(b);
        self.wake();
        Ok(size)
    }

    /// Bytes waiting to be read.
    pub fn available(&self) -> usize {
        self.pipe.lock().data.len()
    }

    /// Read up to `max` bytes; `interrupted` says whether a signal came
    /// while waiting (then EINTR).
    pub fn read(&self, max: usize, nonblock: bool, interrupted: &mut dyn FnMut() -> bool) -> SysResult<Vec<u8>> {
        loop {
            {
                let mut b = self.pipe.lock();
                if !b.data.is_empty() {
                    let n = max.min(b.data.len());
                    // Writers are woken (an event for epoll) only if it was full.
                    if b.cap - b.data.len() < PIPE_BUF {
                        b.events[1] += 1;
                    }
                    let out: Vec<u8> = b.data.drain(..n).collect();
                    drop(b);
                    self.wake();
                    return Ok(out);
                }
                if b.writers == 0 || max == 0 {
                    return Ok(Vec::new());
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            // Data that came wins over a signal that came with it.
            if interrupted() {
                return Err(Errno::EINTR);
            }
            sched::sleep(self.chan());
        }
    }

    /// Write `data`; return how much went in (all of it unless
    /// interrupted or non-blocking), or EPIPE when no reader is left.
    pub fn write(&self, data: &[u8], nonblock: bool, interrupted: &mut dyn FnMut() -> bool) -> SysResult<usize> {
        let mut done = 0;
        loop {
            {
                let mut b = self.pipe.lock();
                if b.readers == 0 {
                    return if done > 0 { Ok(done) } else { Err(Errno::EPIPE) };
                }
                let room = b.cap - b.data.len();
                let left = data.len() - done;
                // A small write goes in whole or waits.
                if room > 0 && (left > PIPE_BUF || room >= left) {
                    let n = room.min(left);
                    b.data.extend(&data[done..done + n]);
                    done += n;
                    b.events[0] += 1;
                    drop(b);
                    self.wake();
                    if done == data.len() {
                        return Ok(done);
                    }
                    continue;
                }
            }
            if nonblock {
                return if done > 0 { Ok(done) } else { Err(Errno::EAGAIN) };
            }
            if interrupted() {
                return if done > 0 { Ok(done) } else { Err(Errno::EINTR) };
            }
            sched::sleep(self.chan());
        }
    }
}

impl Drop for End {
    fn drop(&mut self) {
        {
            let mut b = self.pipe.pipe.lock();
            if self.write || self.both {
                b.writers -= 1;
                b.events[0] += 1;
            }
            if !self.write {
                b.readers -= 1;
                b.events[1] += 1;
            }
        }
        self.pipe.wake();
    }
}
