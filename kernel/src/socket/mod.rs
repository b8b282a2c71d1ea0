//! Sockets between the guest's processes: Unix domain sockets (AF_UNIX:
//! stream, datagram and sequenced packet), and TCP and UDP over AF_INET
//! and AF_INET6 on a loopback-only network, which are the same machinery
//! with internet addresses for names.
//!
//! A socket is a `Sock` behind a mutex. Its open file description holds
//! it through a `SocketFile` (dropping the last description closes the
//! socket); its peer and, while it has a name, the table of names hold it
//! weakly. A send appends a `Msg` to the receiving socket's queue (the
//! peer's, or a datagram's destination's) and a receive takes from the
//! socket's own queue, so nothing sits between the two ends. Stream
//! sockets read across messages (bytes are bytes) but never past a message
//! carrying files; datagram and sequenced-packet sockets keep each message
//! whole, and cut what does not fit (MSG_TRUNC).
//!
//! connect finds the listener by name, makes the server side's socket at
//! once and queues it on the listener's backlog, where accept takes it:
//! as on Linux, the client is connected from that moment and may write
//! before the server accepts. Names are paths (bind makes a socket node in
//! the namespace; the table's key is the node's device and qid, so a name
//! removed and made again is another name), abstract names (sun_path
//! starting with NUL) or internet addresses and ports (`ports.rs`; a
//! listener on a wildcard address is reached at any loopback address).
//! A TCP connection is made the same way; a UDP datagram nobody is bound
//! to receive is lost, and its sender never waits (`io.rs`).
//!
//! Waiting is pipe.rs's: every change wakes the socket's own wait channel
//! and `POLL_CHAN`; a reader sleeps on its socket, a writer on the one it
//! writes to, accept and a connect waiting for room on the listener.
//! Files in flight (SCM_RIGHTS) ride in messages as open file
//! descriptions; a message dropped unread closes them. Linux's collector
//! of unreachable sockets in flight is not here: a socket sent into its own
//! queue and closed stays until vxos ends.
//!
//! Sending and receiving are in `io.rs`; the guest's side (addresses,
//! iovecs, control messages, options) in `syscall/sys_socket.rs` and
//! `syscall/sys_sockopt.rs`; internet addresses in `inet.rs`.

mod io;
mod ports;

pub use ports::{IPPROTO_IPV6, IPV6_V6ONLY};

use crate::errno::{Errno, SysResult};
use crate::files::OpenFile;
use crate::inet;
use crate::pipe::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM, POLL_CHAN};
use crate::sched::{self, KernelOnly, WaitChan};
use parking_lot::Mutex;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Weak};

pub const POLLWRBAND: u16 = 0x200;
pub const POLLRDHUP: u16 = 0x2000;

/// The receiving half is shut down (shutdown's SHUT_RD, or the peer's SHUT_WR).
const RCV: u8 = 1;
/// The sending half is shut down.
const SEND: u8 = 2;

/// Linux's default SO_SNDBUF and SO_RCVBUF (net.core.wmem_default).
pub const BUF_DEFAULT: u32 = 212_992;
/// Datagrams a receiving socket queues before senders wait
/// (net.unix.max_dgram_qlen as systemd sets it).
const DGRAM_QLEN: usize = 512;
/// The most connections a listener may be asked to queue (somaxconn).
const SOMAXCONN: u32 = 4096;

/// An open file description in flight.
type InFlight = KernelOnly<Rc<RefCell<OpenFile>>>;

/// The address families there are, numbered as AF_ constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Unix = 1,
    Inet = 2,
    Inet6 = 10,
}

/// The kinds of socket, numbered as SOCK_ types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stream = 1,
    Dgram = 2,
    Seqpacket = 5,
}

impl Kind {
    /// The kind a SOCK_ type makes (SOCK_RAW makes a datagram socket, as
    /// on Linux).
    pub fn from_type(t: u32) -> SysResult<Kind> {
        match t {
            1 => Ok(Kind::Stream),
            2 | 3 => Ok(Kind::Dgram),
            5 => Ok(Kind::Seqpacket),
            0..=10 => Err(Errno::ESOCKTNOSUPPORT),
            _ => Err(Errno::EINVAL),
        }
    }
}

/// Who a socket's user is, as SO_PEERCRED and SCM_CREDENTIALS say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ucred {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Ucred {
    /// What Linux reports for a socket without a peer: pid 0, the overflow ids.
    pub const NOBODY: Ucred = Ucred { pid: 0, uid: 65534, gid: 65534 };
}

/// What finds a named socket in the table of names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A socket node: its device number and qid path.
    Node(u64, u64),
    /// An abstract name (with its leading NUL).
    Abstract(Vec<u8>),
    /// An internet address (canonical, see `inet`) and its protocol
    /// (IPPROTO_TCP or IPPROTO_UDP).
    Inet(u8, SocketAddr),
}

/// A socket's name: the sun_path bytes it reports, and its key.
#[derive(Debug, Clone)]
pub struct Name {
    path: Vec<u8>,
    pub key: Key,
}

impl Name {
    /// The name of a socket bound to a path (as given) whose node is `node`.
    pub fn path(path: Vec<u8>, node: (u64, u64)) -> Name {
        Name { path, key: Key::Node(node.0, node.1) }
    }

    /// An abstract name (`bytes` starts with NUL).
    pub fn abstract_name(bytes: Vec<u8>) -> Name {
        Name { path: bytes.clone(), key: Key::Abstract(bytes) }
    }

    /// An internet address for protocol `proto`.
    pub fn inet(proto: u8, addr: SocketAddr) -> Name {
        Name { path: Vec::new(), key: Key::Inet(proto, addr) }
    }

    /// The internet address, if it is one.
    pub fn addr(&self) -> Option<SocketAddr> {
        match self.key {
            Key::Inet(_, a) => Some(a),
            _ => None,
        }
    }

    /// The sun_path bytes getsockname reports (a path with its NUL).
    pub fn sun_path(&self) -> Vec<u8> {
        let mut v = self.path.clone();
        if let Key::Node(..) = self.key {
            v.push(0);
        }
        v
    }
}

/// A message in a receive queue.
struct Msg {
    data: Vec<u8>,
    /// How much of `data` stream readers have taken.
    taken: usize,
    files: Vec<InFlight>,
    /// The sender's credentials, recorded only if the sender or the
    /// receiver had SO_PASSCRED at the time or the receiver was not yet
    /// accepted (as Linux records them).
    cred: Ucred,
    from: Option<Name>,
}

/// Where a socket is in its life.
enum State {
    Unconnected,
    Listening { backlog: usize, queue: VecDeque<Socket> },
    Connected,
    Closed,
}

/// One socket.
struct Sock {
    family: Family,
    kind: Kind,
    /// The IP protocol, 0 for AF_UNIX.
    proto: u8,
    state: State,
    /// The name it reports (for an internet socket bound to a wildcard
    /// and connected, the address it speaks from).
    name: Option<Name>,
    /// The name it holds in the table of names.
    bound: Option<Key>,
    /// The connected peer (a datagram socket's default destination).
    peer: Weak<Mutex<Sock>>,
    peer_name: Option<Name>,
    peer_cred: Option<Ucred>,
    /// Its user's credentials (for a listener: as at listen).
    cred: Ucred,
    rx: VecDeque<Msg>,
    /// Bytes in `rx` not yet taken.
    rx_bytes: usize,
    /// RCV and SEND bits.
    shut: u8,
    /// A pending error (SO_ERROR).
    error: Option<Errno>,
    passcred: bool,
    /// Connected but not yet accepted: messages to it carry credentials.
    embryo: bool,
    sndbuf: u32,
    rcvbuf: u32,
    /// Options set that only getsockopt reads back (or that bind and
    /// connect consult: SO_REUSEADDR, IPV6_V6ONLY), by (level, name).
    opts: BTreeMap<(u32, u32), Vec<u8>>,
    /// A non-blocking connect said EINPROGRESS; the next connect says 0.
    connecting: bool,
    /// A TCP send went to a closed peer (which would answer RST): the
    /// next says EPIPE.
    reset: bool,
}

/// The table of names: bound sockets by key.
type Names = HashMap<Key, Weak<Mutex<Sock>>>;
static NAMES: Mutex<Option<Names>> = Mutex::new(None);

/// Run `f` on the table of names.
fn names<R>(f: impl FnOnce(&mut Names) -> R) -> R {
    f(NAMES.lock().get_or_insert_with(HashMap::new))
}

/// The socket bound to `key`, if it is still open.
fn find(key: &Key) -> Option<Socket> {
    names(|t| t.get(key).and_then(Weak::upgrade)).map(Socket)
}

/// The socket of kind `kind` bound to `key`: ECONNREFUSED if there is
/// none; one of another kind is EPROTOTYPE behind a path and not there
/// at all behind an abstract name (Linux looks those up by kind); an
/// internet address reaches a socket bound to it or to a wildcard.
fn find_kind(key: &Key, kind: Kind) -> SysResult<Socket> {
    if let Key::Inet(proto, dest) = key {
        return ports::receiver(*proto, *dest).ok_or(Errno::ECONNREFUSED);
    }
    let s = find(key).ok_or(Errno::ECONNREFUSED)?;
    match key {
        _ if s.kind() == kind => Ok(s),
        Key::Node(..) => Err(Errno::EPROTOTYPE),
        _ => Err(Errno::ECONNREFUSED),
    }
}

/// A handle on a socket (it does not keep the socket open).
#[derive(Clone)]
pub struct Socket(Arc<Mutex<Sock>>);

/// A socket as its open file description holds it: dropping the last
/// description closes the socket.
pub struct SocketFile(Socket);

impl SocketFile {
    /// The socket.
    pub fn socket(&self) -> Socket {
        self.0.clone()
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        self.0.release(false);
    }
}

/// Make a socket of family `family` and kind `kind` for a user with `cred`.
pub fn new(family: Family, kind: Kind, cred: Ucred) -> SocketFile {
    SocketFile(Socket::make(family, kind, cred))
}

/// Make two sockets connected to each other (socketpair).
pub fn pair(kind: Kind, cred: Ucred) -> (SocketFile, SocketFile) {
    let (a, b) = (Socket::make(Family::Unix, kind, cred), Socket::make(Family::Unix, kind, cred));
    for (x, y) in [(&a, &b), (&b, &a)] {
        let mut s = x.0.lock();
        s.state = State::Connected;
        s.peer = Arc::downgrade(&y.0);
        s.peer_cred = Some(cred);
    }
    (SocketFile(a), SocketFile(b))
}

/// A name no socket has: an abstract name of five hex digits, as
/// Linux's autobind makes.
pub fn unused_name() -> Name {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    loop {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) & 0xfffff;
        let mut b = vec![0u8];
        b.extend(format!("{n:05x}").bytes());
        let name = Name::abstract_name(b);
        if find(&name.key).is_none() {
            return name;
        }
    }
}

/// What a receive asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecvFlags {
    /// MSG_PEEK: leave the data queued.
    pub peek: bool,
    /// MSG_WAITALL: a stream read waits for all it asked.
    pub waitall: bool,
    /// O_NONBLOCK or MSG_DONTWAIT.
    pub nonblock: bool,
}

/// What a receive got.
#[derive(Default)]
pub struct Received {
    pub data: Vec<u8>,
    /// The whole message's length (longer than `data` when truncated).
    pub len: usize,
    pub files: Vec<Rc<RefCell<OpenFile>>>,
    /// The sender's credentials (of the first message read).
    pub cred: Option<Ucred>,
    /// The sender's name.
    pub from: Option<Name>,
}

impl Socket {
    fn make(family: Family, kind: Kind, cred: Ucred) -> Socket {
        let proto = match (family, kind) {
            (Family::Unix, _) => 0,
            (_, Kind::Stream) => 6,
            _ => 17,
        };
        Socket(Arc::new(Mutex::new(Sock {
            family,
            kind,
            proto,
            state: State::Unconnected,
            name: None,
            bound: None,
            peer: Weak::new(),
            peer_name: None,
            peer_cred: None,
            cred,
            rx: VecDeque::new(),
            rx_bytes: 0,
            shut: 0,
            error: None,
            passcred: false,
            embryo: false,
            sndbuf: BUF_DEFAULT,
            rcvbuf: BUF_DEFAULT,
            opts: BTreeMap::new(),
            connecting: false,
            reset: false,
        })))
    }

    /// The channel the socket's waiters sleep on; also its number (fstat).
    pub fn id(&self) -> WaitChan {
        chan(&self.0)
    }

    /// Wake the socket's waiters, and whoever polls.
    fn wake(&self) {
        wake(&self.0);
    }

    pub fn kind(&self) -> Kind {
        self.0.lock().kind
    }

    pub fn family(&self) -> Family {
        self.0.lock().family
    }

    /// The IP protocol (IPPROTO_TCP, IPPROTO_UDP or IPPROTO_UDPLITE; 0
    /// for AF_UNIX).
    pub fn protocol(&self) -> u8 {
        self.0.lock().proto
    }

    /// Make a datagram socket UDP-Lite (a UDP whose checksum coverage,
    /// on loopback, changes nothing); its ports are its own.
    pub fn set_udplite(&self) {
        self.0.lock().proto = 136;
    }

    /// The value an option was last set to.
    pub fn opt(&self, level: u32, name: u32) -> Option<Vec<u8>> {
        self.0.lock().opts.get(&(level, name)).cloned()
    }

    /// Report whether an int option was set to nonzero.
    pub fn flag(&self, level: u32, name: u32) -> bool {
        self.0.lock().opts.get(&(level, name)).is_some_and(|v| v.iter().any(|&b| b != 0))
    }

    /// Remember an option's value.
    pub fn set_opt(&self, level: u32, name: u32, v: Vec<u8>) {
        self.0.lock().opts.insert((level, name), v);
    }

    /// The socket's name, if it has one.
    pub fn name(&self) -> Option<Name> {
        self.0.lock().name.clone()
    }

    /// The name of the socket it is connected to (None for one without a
    /// name), or ENOTCONN.
    pub fn peer_name(&self) -> SysResult<Option<Name>> {
        let s = self.0.lock();
        match s.state {
            State::Connected => Ok(s.peer_name.clone()),
            _ => Err(Errno::ENOTCONN),
        }
    }

    /// The peer's credentials as at connect (SO_PEERCRED).
    pub fn peer_cred(&self) -> Ucred {
        self.0.lock().peer_cred.unwrap_or(Ucred::NOBODY)
    }

    /// Take the pending error (SO_ERROR).
    pub fn take_error(&self) -> Option<Errno> {
        self.0.lock().error.take()
    }

    /// Report whether it listens (SO_ACCEPTCONN).
    pub fn listening(&self) -> bool {
        matches!(self.0.lock().state, State::Listening { .. })
    }

    /// SO_SNDBUF and SO_RCVBUF.
    pub fn buffers(&self) -> (u32, u32) {
        let s = self.0.lock();
        (s.sndbuf, s.rcvbuf)
    }

    /// Set SO_SNDBUF (`send`) or SO_RCVBUF: Linux keeps twice the value
    /// asked, for its bookkeeping, and has a floor.
    pub fn set_buffer(&self, send: bool, v: u32) {
        let mut s = self.0.lock();
        let v = v.min(i32::MAX as u32 / 2) * 2;
        if send {
            s.sndbuf = v.max(4608);
        } else {
            s.rcvbuf = v.max(2304);
        }
        drop(s);
        self.wake();
    }

    /// SO_PASSCRED.
    pub fn passcred(&self) -> bool {
        self.0.lock().passcred
    }

    pub fn set_passcred(&self, on: bool) {
        self.0.lock().passcred = on;
    }

    /// Bytes a read would find (FIONREAD): a stream's queued bytes, the
    /// next datagram's length.
    pub fn available(&self) -> usize {
        let s = self.0.lock();
        match s.kind {
            Kind::Stream => s.rx_bytes,
            _ => s.rx.front().map_or(0, |m| m.data.len()),
        }
    }

    /// Give the socket a name: EINVAL if it has one, EADDRINUSE if
    /// another open socket has this one.
    pub fn bind(&self, name: Name) -> SysResult<()> {
        if self.0.lock().name.is_some() {
            return Err(Errno::EINVAL);
        }
        names(|t| {
            // Internet names were checked by bind_inet, with the sharing rules.
            let inet = matches!(name.key, Key::Inet(..));
            if !inet && t.get(&name.key).is_some_and(|w| w.strong_count() > 0) {
                return Err(Errno::EADDRINUSE);
            }
            t.insert(name.key.clone(), Arc::downgrade(&self.0));
            Ok(())
        })?;
        let mut s = self.0.lock();
        s.bound = Some(name.key.clone());
        s.name = Some(name);
        Ok(())
    }

    /// Report whether the socket has a name.
    pub fn is_bound(&self) -> bool {
        self.0.lock().name.is_some()
    }

    /// Listen for connections, at most `backlog` (+1, as Linux counts)
    /// waiting for accept; `cred` is what connecting peers will see.
    pub fn listen(&self, backlog: i32, cred: Ucred) -> SysResult<()> {
        let mut s = self.0.lock();
        if s.kind == Kind::Dgram {
            return Err(Errno::EOPNOTSUPP);
        }
        if s.name.is_none() {
            return Err(Errno::EINVAL);
        }
        let b = (backlog as u32).min(SOMAXCONN) as usize;
        match &mut s.state {
            State::Unconnected => s.state = State::Listening { backlog: b, queue: VecDeque::new() },
            State::Listening { backlog, .. } => *backlog = b,
            State::Connected | State::Closed => return Err(Errno::EINVAL),
        }
        s.cred = cred;
        drop(s);
        self.wake();
        Ok(())
    }

    /// Connect to the socket named by `key`: a stream or sequenced-packet
    /// socket to a listener (waiting while its backlog is full), a
    /// datagram socket to its default destination. An internet socket
    /// must have a port already; a non-blocking one says EINPROGRESS, as
    /// a TCP handshake would, and the next connect says 0.
    pub fn connect(
        &self,
        key: &Key,
        cred: Ucred,
        nonblock: bool,
        interrupted: &mut dyn FnMut() -> bool,
    ) -> SysResult<()> {
        let kind = {
            let mut s = self.0.lock();
            match s.state {
                State::Listening { .. } if s.kind != Kind::Dgram => return Err(Errno::EINVAL),
                State::Connected if s.connecting => {
                    s.connecting = false;
                    return Ok(());
                }
                State::Connected if s.kind != Kind::Dgram => return Err(Errno::EISCONN),
                _ => s.kind,
            }
        };
        // An internet socket speaks from the address the destination
        // reaches it at, and knows its peer by the address it called.
        let inet = match key {
            Key::Inet(proto, dest) => {
                let bound = self.name().and_then(|n| n.addr()).unwrap_or(inet::any(false, 0));
                Some((Name::inet(*proto, inet::source(bound, *dest)), Name::inet(*proto, *dest)))
            }
            _ => None,
        };
        if let (Kind::Dgram, Some((local, dest))) = (kind, &inet) {
            let mut s = self.0.lock();
            s.peer = Weak::new();
            s.peer_name = Some(dest.clone());
            s.name = Some(local.clone());
            s.state = State::Connected;
            drop(s);
            self.wake();
            return Ok(());
        }
        let in_progress = |e: Errno| {
            if nonblock && inet.is_some() && e == Errno::ECONNREFUSED {
                self.0.lock().error = Some(e);
                Errno::EINPROGRESS
            } else {
                e
            }
        };
        let target = find_kind(key, kind).map_err(in_progress)?;
        if kind == Kind::Dgram {
            let tname = target.name();
            let mut s = self.0.lock();
            s.peer = Arc::downgrade(&target.0);
            s.peer_name = tname;
            s.state = State::Connected;
            drop(s);
            self.wake();
            return Ok(());
        }
        let my_name = match &inet {
            Some((local, _)) => Some(local.clone()),
            None => self.name(),
        };
        loop {
            let server = {
                let mut t = target.0.lock();
                let (tcred, opts, tfamily) = (t.cred, t.opts.clone(), t.family);
                let tname = match &inet {
                    Some((_, dest)) => Some(dest.clone()),
                    None => t.name.clone(),
                };
                let State::Listening { backlog, queue } = &mut t.state else {
                    return Err(in_progress(Errno::ECONNREFUSED));
                };
                if queue.len() <= *backlog {
                    let server = Socket::make(tfamily, kind, tcred);
                    {
                        let mut c = server.0.lock();
                        c.state = State::Connected;
                        c.name = tname.clone();
                        c.peer = Arc::downgrade(&self.0);
                        c.peer_name = my_name.clone();
                        c.peer_cred = inet.is_none().then_some(cred);
                        c.embryo = true;
                        c.opts = opts;
                    }
                    queue.push_back(server.clone());
                    Some((server, tcred, tname))
                } else {
                    None
                }
            };
            if let Some((server, tcred, tname)) = server {
                target.wake();
                let mut s = self.0.lock();
                s.state = State::Connected;
                s.peer = Arc::downgrade(&server.0);
                s.peer_name = tname;
                s.peer_cred = inet.is_none().then_some(tcred);
                if inet.is_some() {
                    s.name = my_name;
                    s.connecting = nonblock;
                }
                drop(s);
                self.wake();
                return if nonblock && inet.is_some() { Err(Errno::EINPROGRESS) } else { Ok(()) };
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            if interrupted() {
                return Err(Errno::EINTR);
            }
            sched::sleep(target.id());
        }
    }

    /// Forget a datagram socket's default destination (connect to AF_UNSPEC).
    pub fn disconnect(&self) {
        let mut s = self.0.lock();
        if s.kind == Kind::Dgram {
            s.peer = Weak::new();
            s.peer_name = None;
            s.state = State::Unconnected;
        }
    }

    /// Take the next connection from a listener's backlog, waiting for one.
    pub fn accept(&self, nonblock: bool, interrupted: &mut dyn FnMut() -> bool) -> SysResult<SocketFile> {
        loop {
            {
                let mut s = self.0.lock();
                if s.kind == Kind::Dgram {
                    return Err(Errno::EOPNOTSUPP);
                }
                let State::Listening { queue, .. } = &mut s.state else { return Err(Errno::EINVAL) };
                if let Some(c) = queue.pop_front() {
                    drop(s);
                    c.0.lock().embryo = false;
                    self.wake();
                    return Ok(SocketFile(c));
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            if interrupted() {
                return Err(Errno::EINTR);
            }
            sched::sleep(self.id());
        }
    }

    /// shutdown(2): close the receiving side (0), the sending side (1) or
    /// both (2); a connected peer's opposite sides close with them.
    pub fn shutdown(&self, how: u32) -> SysResult<()> {
        let mask = match how {
            0 => RCV,
            1 => SEND,
            2 => RCV | SEND,
            _ => return Err(Errno::EINVAL),
        };
        let (kind, family, peer) = {
            let mut s = self.0.lock();
            s.shut |= mask;
            (s.kind, s.family, s.peer.upgrade())
        };
        self.wake();
        if let (true, Some(o)) = (kind != Kind::Dgram, peer) {
            // TCP tells the peer only of the end of what it sends (FIN).
            let unix = family == Family::Unix;
            let mirror = if mask & RCV != 0 && unix { SEND } else { 0 } | if mask & SEND != 0 { RCV } else { 0 };
            o.lock().shut |= mirror;
            wake(&o);
        }
        Ok(())
    }

    /// poll(2)'s answer for the socket.
    pub fn poll(&self) -> u16 {
        let (mut r, kind, peer, sndbuf) = {
            let s = self.0.lock();
            let mut r = 0;
            if s.error.is_some() {
                r |= POLLERR;
            }
            if s.shut == RCV | SEND {
                r |= POLLHUP;
            }
            if s.shut & RCV != 0 {
                r |= POLLRDHUP | POLLIN | POLLRDNORM;
            }
            let pending = matches!(&s.state, State::Listening { queue, .. } if !queue.is_empty());
            if !s.rx.is_empty() || pending {
                r |= POLLIN | POLLRDNORM;
            }
            if s.kind != Kind::Dgram && matches!(s.state, State::Unconnected | State::Closed) {
                r |= POLLHUP;
            }
            if matches!(s.state, State::Listening { .. }) {
                return r;
            }
            let peer = if matches!(s.state, State::Connected) { s.peer.upgrade() } else { None };
            (r, s.kind, peer, s.sndbuf as usize)
        };
        let writable = match peer {
            None => true,
            Some(o) => {
                let o = o.lock();
                match kind {
                    Kind::Stream => o.rx_bytes * 4 <= sndbuf,
                    _ => o.rx.len() < DGRAM_QLEN,
                }
            }
        };
        if writable {
            r |= POLLOUT | POLLWRNORM | POLLWRBAND;
        }
        r
    }

    /// Close the socket: forget its name, tell a connected peer (which
    /// reads end of file, or ECONNRESET if this side left data unread or
    /// was never accepted), close the connections still in its backlog,
    /// and drop what was queued for it.
    fn release(&self, embryo: bool) {
        let (rx, queue, key, peer, kind, family) = {
            let mut s = self.0.lock();
            let queue = match std::mem::replace(&mut s.state, State::Closed) {
                State::Listening { queue, .. } => queue,
                _ => VecDeque::new(),
            };
            let rx = std::mem::take(&mut s.rx);
            s.rx_bytes = 0;
            (rx, queue, s.bound.take(), s.peer.upgrade(), s.kind, s.family)
        };
        if let Some(k) = key {
            names(|t| {
                if t.get(&k).is_some_and(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(&self.0))) {
                    t.remove(&k);
                }
            });
        }
        if let (true, Some(o)) = (kind != Kind::Dgram, peer) {
            {
                let mut o = o.lock();
                // A TCP peer reads end of file (FIN) and may still write
                // (into the void: EPIPE, as after the RST).
                o.shut |= if family == Family::Unix { RCV | SEND } else { RCV };
                if !rx.is_empty() || embryo {
                    o.error = Some(Errno::ECONNRESET);
                }
            }
            wake(&o);
        }
        self.wake();
        for c in queue {
            c.release(true);
        }
        // The files in flight close here, with no socket locked.
        drop(rx);
    }
}

/// The wait channel of a socket.
fn chan(s: &Arc<Mutex<Sock>>) -> WaitChan {
    Arc::as_ptr(s) as u64
}

/// Wake a socket's waiters, and whoever polls.
fn wake(s: &Arc<Mutex<Sock>>) {
    sched::wakeup(chan(s));
    sched::wakeup(POLL_CHAN);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_map_to_kinds() {
        assert_eq!(Kind::from_type(1), Ok(Kind::Stream));
        assert_eq!(Kind::from_type(3), Ok(Kind::Dgram));
        assert_eq!(Kind::from_type(4), Err(Errno::ESOCKTNOSUPPORT));
        assert_eq!(Kind::from_type(11), Err(Errno::EINVAL));
    }

    #[test]
    fn names_report_their_path() {
        assert_eq!(Name::path(b"/tmp/s".to_vec(), (1, 2)).sun_path(), b"/tmp/s\0");
        assert_eq!(Name::abstract_name(b"\0ab".to_vec()).sun_path(), b"\0ab");
    }
}
