//! Socket system calls: socket, socketpair, bind, connect, listen, accept,
//! the send and receive calls, shutdown, and i386's socketcall
//! multiplexer, which reads its arguments from guest memory (the options
//! are `sys_sockopt.rs`'s).
//!
//! AF_UNIX sockets and TCP and UDP over AF_INET and AF_INET6 on a
//! loopback-only network (`socket/`, `inet.rs`); other families answer
//! EAFNOSUPPORT, as a sandbox without a network should. This file moves
//! socket addresses, iovecs and control messages (SCM_RIGHTS,
//! SCM_CREDENTIALS) between guest memory and the socket layer; read,
//! write and their vector forms come here from `sys_file/rw.rs`.

use super::sys_file::{iovecs, make_socket_node, socket_node};
use super::Args;
use crate::errno::{Errno, SysResult};
use crate::files::{Object, OpenFile, O_CLOEXEC, O_NONBLOCK, O_RDWR};
use crate::inet;
use crate::process::Process;
use crate::socket::{self, Family, Key, Kind, Name, Received, RecvFlags, Socket, SocketFile, Ucred};
use std::cell::RefCell;
use std::rc::Rc;

const AF_UNSPEC: u16 = 0;
const AF_UNIX: u32 = 1;
const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;
pub(super) const IPPROTO_TCP: u32 = 6;
pub(super) const IPPROTO_UDP: u32 = 17;
pub(super) const IPPROTO_UDPLITE: u32 = 136;
/// Families are numbered below this (Linux's AF_MAX).
const AF_MAX: u32 = 46;
/// Socket types are numbered below this (SOCK_MAX).
const SOCK_MAX: u32 = 11;

const MSG_OOB: u32 = 1;
const MSG_PEEK: u32 = 2;
const MSG_CTRUNC: u32 = 8;
const MSG_TRUNC: u32 = 0x20;
const MSG_DONTWAIT: u32 = 0x40;
const MSG_WAITALL: u32 = 0x100;
const MSG_NOSIGNAL: u32 = 0x4000;
const MSG_WAITFORONE: u32 = 0x10000;
const MSG_CMSG_CLOEXEC: u32 = 0x4000_0000;

pub(super) const SOL_SOCKET: u32 = 1;
const SCM_RIGHTS: u32 = 1;
const SCM_CREDENTIALS: u32 = 2;
/// The most descriptors one message may carry (SCM_MAX_FD).
const SCM_MAX_FD: usize = 253;
/// The largest control buffer a send takes (net.core.optmem_max).
const OPTMEM_MAX: u32 = 20480;
/// The size of struct cmsghdr on i386.
const CMSG_HDR: usize = 12;
/// The size of struct msghdr and struct mmsghdr on i386.
const MSGHDR: u32 = 28;
const MMSGHDR: u32 = 32;
/// The size of struct sockaddr_un.
const SOCKADDR_UN: u32 = 110;
/// Largest single transfer, as Linux caps read and write.
const MAX_RW: usize = 0x7fff_f000;
/// Largest send staged through a kernel buffer at once (a stream send
/// of more is a short one, as a pipe write of more is).
const CHUNK: usize = 1 << 20;

// ---------------------------------------------------------------------
// Helpers.

/// The caller's credentials as a peer sees them.
fn cred(p: &Process) -> Ucred {
    Ucred { pid: p.pid, uid: p.ids[1], gid: p.ids[3] }
}

/// The socket descriptor `fd` refers to, and whether it is non-blocking.
pub(super) fn sock(p: &Process, fd: u32) -> SysResult<(Socket, bool)> {
    let f = p.files.file(fd)?;
    let f = f.borrow();
    match &f.obj {
        Object::Socket(s) => Ok((s.socket(), f.flags & O_NONBLOCK != 0)),
        _ => Err(Errno::ENOTSOCK),
    }
}

/// Install a socket at the lowest free descriptor, with the SOCK_NONBLOCK
/// and SOCK_CLOEXEC of `flags`.
fn install(p: &mut Process, s: SocketFile, flags: u32) -> SysResult<u32> {
    let f = OpenFile { obj: Object::Socket(s), flags: O_RDWR | (flags & O_NONBLOCK), pos: 0 };
    p.files.install(f, flags & O_CLOEXEC != 0)
}

/// A socket address as the guest gave it.
enum Addr {
    /// AF_UNSPEC (a datagram socket's disconnect).
    Unspec,
    /// AF_UNIX with no path at all.
    Unnamed,
    Path(Vec<u8>),
    /// An abstract name, with its leading NUL.
    Abstract(Vec<u8>),
}

/// Read a struct sockaddr_un of `len` bytes at `addr`.
fn read_addr(p: &mut Process, addr: u32, len: u32) -> SysResult<Addr> {
    if !(2..=SOCKADDR_UN).contains(&len) {
        return Err(Errno::EINVAL);
    }
    let mut b = vec![0u8; len as usize];
    p.uread(addr, &mut b)?;
    let family = u16::from_le_bytes([b[0], b[1]]);
    if family == AF_UNSPEC {
        return Ok(Addr::Unspec);
    }
    if family as u32 != AF_UNIX {
        return Err(Errno::EINVAL);
    }
    let path = &b[2..];
    Ok(match path.first() {
        None => Addr::Unnamed,
        Some(0) => Addr::Abstract(path.to_vec()),
        Some(_) => Addr::Path(path.iter().copied().take_while(|&c| c != 0).collect()),
    })
}

/// The key of the socket an address names: the socket node a path
/// reaches (ENOENT, ECONNREFUSED if no socket), or the abstract name.
fn target(p: &mut Process, addr: u32, len: u32) -> SysResult<Key> {
    match read_addr(p, addr, len)? {
        Addr::Unspec | Addr::Unnamed => Err(Errno::EINVAL),
        Addr::Abstract(b) => Ok(Key::Abstract(b)),
        Addr::Path(path) => {
            let (dev, qid) = socket_node(p, &path)?;
            Ok(Key::Node(dev, qid))
        }
    }
}

/// The socket address bytes for a name as a socket of family `family`
/// reports it: a struct sockaddr_un (the family alone for a socket
/// without a name), or a struct sockaddr_in or sockaddr_in6 (the
/// wildcard and port 0 without one).
fn sockaddr(family: Family, name: Option<&Name>) -> Vec<u8> {
    if family != Family::Unix {
        let v6 = family == Family::Inet6;
        return inet::sockaddr(name.and_then(Name::addr).unwrap_or(inet::any(v6, 0)), v6);
    }
    let mut b = (AF_UNIX as u16).to_le_bytes().to_vec();
    if let Some(n) = name {
        b.extend(n.sun_path());
    }
    b
}

/// The address a receive reports (nothing for a sender without one).
fn from_addr(s: &Socket, got: &Received) -> Vec<u8> {
    got.from.as_ref().map(|n| sockaddr(s.family(), Some(n))).unwrap_or_default()
}

/// Read an internet socket address of `len` bytes at `addr` for `s`
/// (None for AF_UNSPEC).
fn read_inet(p: &mut Process, s: &Socket, addr: u32, len: u32) -> SysResult<Option<std::net::SocketAddr>> {
    if len > 128 {
        return Err(Errno::EINVAL);
    }
    let mut b = vec![0u8; len as usize];
    p.uread(addr, &mut b)?;
    inet::parse(s.family() == Family::Inet6, &b)
}

/// The key of where an internet socket sends to `addr`: a loopback
/// address (ENETUNREACH beyond; an IPv6 socket with IPV6_V6ONLY reaches
/// no IPv4 address).
fn inet_target(s: &Socket, addr: std::net::SocketAddr) -> SysResult<Key> {
    let dest = inet::destination(addr)?;
    if dest.is_ipv4() && s.family() == Family::Inet6 && s.flag(socket::IPPROTO_IPV6, socket::IPV6_V6ONLY) {
        return Err(Errno::ENETUNREACH);
    }
    Ok(Key::Inet(s.protocol(), dest))
}

/// Copy an address out to `addr` (at most *lenp bytes) and its whole
/// length to *lenp, as Linux's move_addr_to_user does.
fn put_addr(p: &mut Process, addr: u32, lenp: u32, b: &[u8]) -> SysResult<()> {
    let room = p.read_u32(lenp)? as i32;
    if room < 0 {
        return Err(Errno::EINVAL);
    }
    let n = (room as usize).min(b.len());
    if n > 0 {
        p.uwrite(addr, &b[..n])?;
    }
    p.write_u32(lenp, b.len() as u32)
}

/// Check a (family, type, protocol) triple; return the family, the kind
/// and the SOCK_NONBLOCK | SOCK_CLOEXEC flags.
fn check_type(p: &Process, family: u32, ty: u32, protocol: u32) -> SysResult<(Family, Kind, u32)> {
    let flags = ty & !0xf;
    if flags & !(O_NONBLOCK | O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if family >= AF_MAX {
        return Err(Errno::EAFNOSUPPORT);
    }
    if ty & 0xf >= SOCK_MAX {
        return Err(Errno::EINVAL);
    }
    let family = match family {
        AF_UNIX => Family::Unix,
        AF_INET => Family::Inet,
        AF_INET6 => Family::Inet6,
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    if family == Family::Unix {
        if protocol != 0 && protocol != AF_UNIX {
            return Err(Errno::EPROTONOSUPPORT);
        }
        return Ok((family, Kind::from_type(ty & 0xf)?, flags));
    }
    // As Linux's inet_create: TCP and UDP, raw sockets for the privileged.
    let kind = match (ty & 0xf, protocol) {
        (1, 0 | IPPROTO_TCP) => Kind::Stream,
        (2, 0 | IPPROTO_UDP | IPPROTO_UDPLITE) => Kind::Dgram,
        (1 | 2, _) => return Err(Errno::EPROTONOSUPPORT),
        (3, _) if p.ids[1] != 0 => return Err(Errno::EPERM),
        (3, _) => return Err(Errno::EPROTONOSUPPORT),
        _ => return Err(Errno::ESOCKTNOSUPPORT),
    };
    Ok((family, kind, flags))
}

// ---------------------------------------------------------------------
// Making and connecting sockets.

/// socket(2).
pub fn socket(p: &mut Process, a: Args) -> SysResult {
    let (family, kind, flags) = check_type(p, a[0], a[1], a[2])?;
    let s = socket::new(family, kind, cred(p));
    if family != Family::Unix && a[2] == IPPROTO_UDPLITE {
        s.socket().set_udplite();
    }
    install(p, s, flags)
}

/// socketpair(2).
pub fn socketpair(p: &mut Process, a: Args) -> SysResult {
    let (family, kind, flags) = check_type(p, a[0], a[1], a[2])?;
    if family != Family::Unix {
        return Err(Errno::EOPNOTSUPP);
    }
    p.ucheck_write(a[3], 8)?;
    let (x, y) = socket::pair(kind, cred(p));
    let fx = install(p, x, flags)?;
    let fy = match install(p, y, flags) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = p.files.close(fx);
            return Err(e);
        }
    };
    p.write_u32(a[3], fx)?;
    p.write_u32(a[3].wrapping_add(4), fy)?;
    Ok(0)
}

/// bind(2): a path makes a socket node (EADDRINUSE if the name exists),
/// an abstract name goes in the table, the family alone picks a name; an
/// internet address takes its port (a free one for port 0).
pub fn bind(p: &mut Process, a: Args) -> SysResult {
    let (s, _) = sock(p, a[0])?;
    if s.family() != Family::Unix {
        let addr = match read_inet(p, &s, a[1], a[2])? {
            Some(addr) => addr,
            // Linux takes AF_UNSPEC for INADDR_ANY, for old programs.
            None if s.family() == Family::Inet && p.read_u32(a[1].wrapping_add(4))? == 0 => {
                let port = p.read_u32(a[1])?.to_le_bytes();
                inet::any(false, u16::from_be_bytes([port[2], port[3]]))
            }
            None => return Err(Errno::EAFNOSUPPORT),
        };
        if addr.port() != 0 && addr.port() < 1024 && p.ids[1] != 0 {
            return Err(Errno::EACCES);
        }
        s.bind_inet(addr)?;
        return Ok(0);
    }
    match read_addr(p, a[1], a[2])? {
        Addr::Unspec => Err(Errno::EINVAL),
        Addr::Unnamed if s.is_bound() => Ok(0),
        Addr::Unnamed => s.bind(socket::unused_name()).map(|_| 0),
        Addr::Abstract(b) => s.bind(Name::abstract_name(b)).map(|_| 0),
        Addr::Path(path) => {
            // An existing name is EADDRINUSE even for a socket with a name.
            let node = make_socket_node(p, &path, &mut || if s.is_bound() { Err(Errno::EINVAL) } else { Ok(()) })?;
            s.bind(Name::path(path, node)).map(|_| 0)
        }
    }
}

/// connect(2): to a listener, or a datagram socket's destination
/// (AF_UNSPEC forgets it).
pub fn connect(p: &mut Process, a: Args) -> SysResult {
    let (s, nb) = sock(p, a[0])?;
    if s.family() != Family::Unix {
        let Some(addr) = read_inet(p, &s, a[1], a[2])? else {
            s.disconnect();
            return Ok(0);
        };
        let key = inet_target(&s, addr)?;
        s.autobind()?;
        let me = &*p;
        s.connect(&key, cred(me), nb, &mut || me.signal_interrupts())?;
        return Ok(0);
    }
    if s.kind() == Kind::Dgram && a[2] >= 2 {
        if let Addr::Unspec = read_addr(p, a[1], a[2])? {
            s.disconnect();
            return Ok(0);
        }
    }
    let key = target(p, a[1], a[2])?;
    let c = cred(p);
    let me = &*p;
    s.connect(&key, c, nb, &mut || me.signal_interrupts())?;
    Ok(0)
}

/// listen(2).
pub fn listen(p: &mut Process, a: Args) -> SysResult {
    let (s, _) = sock(p, a[0])?;
    if s.family() != Family::Unix && s.kind() == Kind::Stream {
        s.autobind()?;
    }
    s.listen(a[1] as i32, cred(p))?;
    Ok(0)
}

/// accept4(2).
pub fn accept4(p: &mut Process, a: Args) -> SysResult {
    let flags = a[3];
    if flags & !(O_NONBLOCK | O_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let (s, nb) = sock(p, a[0])?;
    let c = {
        let me = &*p;
        s.accept(nb, &mut || me.signal_interrupts())?
    };
    let peer = c.socket().peer_name().ok().flatten();
    let fd = install(p, c, flags)?;
    if a[1] != 0 {
        if let Err(e) = put_addr(p, a[1], a[2], &sockaddr(s.family(), peer.as_ref())) {
            let _ = p.files.close(fd);
            return Err(e);
        }
    }
    Ok(fd)
}

/// getsockname(2).
pub fn getsockname(p: &mut Process, a: Args) -> SysResult {
    let (s, _) = sock(p, a[0])?;
    put_addr(p, a[1], a[2], &sockaddr(s.family(), s.name().as_ref()))?;
    Ok(0)
}

/// getpeername(2).
pub fn getpeername(p: &mut Process, a: Args) -> SysResult {
    let (s, _) = sock(p, a[0])?;
    let peer = s.peer_name()?;
    put_addr(p, a[1], a[2], &sockaddr(s.family(), peer.as_ref()))?;
    Ok(0)
}

/// shutdown(2).
pub fn shutdown(p: &mut Process, a: Args) -> SysResult {
    let (s, _) = sock(p, a[0])?;
    s.shutdown(a[1])?;
    Ok(0)
}

// ---------------------------------------------------------------------
// Sending and receiving.

/// Send `data` and `files` on `s` (to `to`, for a datagram socket), with
/// the MSG_ flags; EPIPE raises SIGPIPE unless MSG_NOSIGNAL.
fn send_on(
    p: &mut Process,
    s: &Socket,
    nb: bool,
    data: &[u8],
    files: Vec<Rc<RefCell<OpenFile>>>,
    to: Option<Key>,
    flags: u32,
) -> SysResult<usize> {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if !files.is_empty() && s.family() != Family::Unix {
        return Err(Errno::EINVAL);
    }
    let c = cred(p);
    let r = {
        let me = &*p;
        s.send(data, files, to.as_ref(), c, nb || flags & MSG_DONTWAIT != 0, &mut || me.signal_interrupts())
    };
    if r == Err(Errno::EPIPE) && flags & MSG_NOSIGNAL == 0 {
        p.post_signal(crate::signal::SIGPIPE);
    }
    r
}

/// How much of a send of `len` bytes to take in: a stream's first
/// CHUNK; a message longer than that cannot fit any socket's buffer.
fn send_len(s: &Socket, len: usize) -> SysResult<usize> {
    match s.kind() {
        Kind::Stream => Ok(len.min(CHUNK)),
        _ if len > CHUNK => Err(Errno::EMSGSIZE),
        _ => Ok(len),
    }
}

/// Where a send with address `addr` goes: a datagram socket's named
/// socket; a connected stream refuses an address, a sequenced-packet
/// socket ignores it.
fn destination(p: &mut Process, s: &Socket, addr: u32, len: u32) -> SysResult<Option<Key>> {
    if addr == 0 || len == 0 {
        return Ok(None);
    }
    if s.family() != Family::Unix {
        // TCP ignores an address; UDP sends there, from a port of its own.
        if s.kind() == Kind::Stream {
            return Ok(None);
        }
        let Some(a) = read_inet(p, s, addr, len)? else { return Ok(None) };
        let key = inet_target(s, a)?;
        s.autobind()?;
        return Ok(Some(key));
    }
    match s.kind() {
        Kind::Stream if s.peer_name().is_ok() => Err(Errno::EISCONN),
        Kind::Stream => Err(Errno::EOPNOTSUPP),
        Kind::Seqpacket => Ok(None),
        Kind::Dgram => target(p, addr, len).map(Some),
    }
}

/// Receive up to `max` bytes from `s` with the MSG_ flags.
fn recv_on(p: &mut Process, s: &Socket, nb: bool, max: usize, flags: u32) -> SysResult<Received> {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let f = RecvFlags {
        peek: flags & MSG_PEEK != 0,
        waitall: flags & MSG_WAITALL != 0,
        nonblock: nb || flags & MSG_DONTWAIT != 0,
    };
    let me = &*p;
    s.recv(max.min(MAX_RW), f, &mut || me.signal_interrupts())
}

/// What a receive returns: the bytes copied, or with MSG_TRUNC a
/// message's whole length.
fn received_len(s: &Socket, got: &Received, flags: u32) -> u32 {
    if flags & MSG_TRUNC != 0 && s.kind() != Kind::Stream {
        got.len as u32
    } else {
        got.data.len() as u32
    }
}

/// Spread received bytes over guest buffers.
fn scatter(p: &mut Process, vecs: &[(u32, u32)], data: &[u8]) -> SysResult<()> {
    let mut off = 0;
    for &(base, len) in vecs {
        let n = (len as usize).min(data.len() - off);
        if n > 0 {
            p.uwrite(base, &data[off..off + n])?;
        }
        off += n;
    }
    Ok(())
}

/// read(2) and readv(2) on a socket (from sys_file): a receive without
/// flags.
pub(super) fn read(p: &mut Process, s: &Socket, nb: bool, vecs: &[(u32, u32)]) -> SysResult<usize> {
    let want: usize = vecs.iter().map(|v| v.1 as usize).sum();
    for &(base, len) in vecs {
        p.ucheck_write(base, len as usize)?;
    }
    let got = recv_on(p, s, nb, want, 0)?;
    scatter(p, vecs, &got.data)?;
    Ok(got.data.len())
}

/// write(2) and writev(2) on a socket (from sys_file, which raises
/// SIGPIPE).
pub(super) fn write(p: &mut Process, s: &Socket, nb: bool, data: &[u8]) -> SysResult<usize> {
    send_on(p, s, nb, data, Vec::new(), None, MSG_NOSIGNAL)
}

/// sendto(2).
pub fn sendto(p: &mut Process, a: Args) -> SysResult {
    let (s, nb) = sock(p, a[0])?;
    let mut data = vec![0u8; send_len(&s, a[2] as usize)?];
    p.uread(a[1], &mut data)?;
    let to = destination(p, &s, a[4], a[5])?;
    Ok(send_on(p, &s, nb, &data, Vec::new(), to, a[3])? as u32)
}

/// send(2).
pub fn send(p: &mut Process, a: Args) -> SysResult {
    sendto(p, [a[0], a[1], a[2], a[3], 0, 0])
}

/// recvfrom(2): the sender's address too, if it has one (else a
/// length of 0).
pub fn recvfrom(p: &mut Process, a: Args) -> SysResult {
    let (s, nb) = sock(p, a[0])?;
    let len = (a[2] as usize).min(MAX_RW);
    p.ucheck_write(a[1], len)?;
    let got = recv_on(p, &s, nb, len, a[3])?;
    p.uwrite(a[1], &got.data)?;
    if a[4] != 0 {
        put_addr(p, a[4], a[5], &from_addr(&s, &got))?;
    }
    Ok(received_len(&s, &got, a[3]))
}

/// recv(2).
pub fn recv(p: &mut Process, a: Args) -> SysResult {
    recvfrom(p, [a[0], a[1], a[2], a[3], 0, 0])
}

/// The fields of a struct msghdr.
struct MsgHdr {
    name: u32,
    namelen: u32,
    iov: u32,
    iovlen: u32,
    control: u32,
    controllen: u32,
}

fn read_msghdr(p: &mut Process, msg: u32) -> SysResult<MsgHdr> {
    let mut b = [0u8; MSGHDR as usize];
    p.uread(msg, &mut b)?;
    let w = |i: usize| u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap());
    Ok(MsgHdr { name: w(0), namelen: w(1), iov: w(2), iovlen: w(3), control: w(4), controllen: w(5) })
}

/// The files a send's control messages pass (SCM_RIGHTS); SCM_CREDENTIALS
/// must name the sender (EPERM otherwise).
fn control_in(p: &mut Process, control: u32, len: u32) -> SysResult<Vec<Rc<RefCell<OpenFile>>>> {
    let mut files = Vec::new();
    if len == 0 {
        return Ok(files);
    }
    if len > OPTMEM_MAX {
        return Err(Errno::ENOBUFS);
    }
    let mut b = vec![0u8; len as usize];
    p.uread(control, &mut b)?;
    let word = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let mut off = 0;
    while off + CMSG_HDR <= b.len() {
        let clen = word(off) as usize;
        if clen < CMSG_HDR || off + clen > b.len() {
            return Err(Errno::EINVAL);
        }
        if word(off + 4) == SOL_SOCKET {
            let body = off + CMSG_HDR..off + clen;
            match word(off + 8) {
                SCM_RIGHTS => {
                    let fds: Vec<u32> = body.step_by(4).filter(|o| o + 4 <= off + clen).map(word).collect();
                    if fds.is_empty() || files.len() + fds.len() > SCM_MAX_FD {
                        return Err(Errno::EINVAL);
                    }
                    for fd in fds {
                        files.push(p.files.file(fd)?);
                    }
                }
                SCM_CREDENTIALS => {
                    if clen != CMSG_HDR + 12 {
                        return Err(Errno::EINVAL);
                    }
                    let (pid, uid, gid) = (word(off + 12), word(off + 16), word(off + 20));
                    let me = cred(p);
                    if p.ids[1] != 0
                        && (pid != me.pid || ![p.ids[0], me.uid].contains(&uid) || ![p.ids[2], me.gid].contains(&gid))
                    {
                        return Err(Errno::EPERM);
                    }
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        off += (clen + 3) & !3;
    }
    Ok(files)
}

/// One control message: header and body.
fn cmsg(ty: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(CMSG_HDR + body.len());
    v.extend(((CMSG_HDR + body.len()) as u32).to_le_bytes());
    v.extend(SOL_SOCKET.to_le_bytes());
    v.extend(ty.to_le_bytes());
    v.extend(body);
    v
}

/// The control messages a receive hands over in `room` bytes: the
/// sender's credentials (with SO_PASSCRED), then the files passed,
/// installed as descriptors; what does not fit sets MSG_CTRUNC (and the
/// files left out close).
fn control_out(p: &mut Process, s: &Socket, got: &mut Received, room: usize, flags: u32) -> (Vec<u8>, u32) {
    let mut out = Vec::new();
    let mut trunc = 0;
    if s.passcred() && s.family() == Family::Unix {
        let c = got.cred.unwrap_or(Ucred::NOBODY);
        let body: Vec<u8> = [c.pid, c.uid, c.gid].iter().flat_map(|x| x.to_le_bytes()).collect();
        if room >= CMSG_HDR + body.len() {
            out.extend(cmsg(SCM_CREDENTIALS, &body));
        } else {
            trunc = MSG_CTRUNC;
        }
    }
    let files = std::mem::take(&mut got.files);
    if files.is_empty() {
        return (out, trunc);
    }
    let left = room.saturating_sub(out.len());
    let fit = left.saturating_sub(CMSG_HDR) / 4;
    let mut fds = Vec::new();
    for (i, f) in files.into_iter().enumerate() {
        if i >= fit {
            trunc = MSG_CTRUNC;
            continue;
        }
        match p.files.install_shared(f, flags & MSG_CMSG_CLOEXEC != 0) {
            Ok(fd) => fds.push(fd),
            Err(_) => trunc = MSG_CTRUNC,
        }
    }
    if !fds.is_empty() {
        let body: Vec<u8> = fds.iter().flat_map(|x| x.to_le_bytes()).collect();
        out.extend(cmsg(SCM_RIGHTS, &body));
    }
    (out, trunc)
}

/// sendmsg(2) for one struct msghdr.
fn do_sendmsg(p: &mut Process, fd: u32, msg: u32, flags: u32) -> SysResult<u32> {
    let (s, nb) = sock(p, fd)?;
    let h = read_msghdr(p, msg)?;
    let vecs = iovecs(p, h.iov, h.iovlen)?;
    let mut left = send_len(&s, vecs.iter().map(|v| v.1 as usize).sum())?;
    let mut data = Vec::with_capacity(left);
    for (base, len) in vecs {
        let n = (len as usize).min(left);
        let start = data.len();
        data.resize(start + n, 0);
        p.uread(base, &mut data[start..])?;
        left -= n;
    }
    let to = destination(p, &s, h.name, h.namelen)?;
    let files = control_in(p, h.control, h.controllen)?;
    Ok(send_on(p, &s, nb, &data, files, to, flags)? as u32)
}

/// recvmsg(2) for one struct msghdr.
fn do_recvmsg(p: &mut Process, fd: u32, msg: u32, flags: u32) -> SysResult<u32> {
    let (s, nb) = sock(p, fd)?;
    let h = read_msghdr(p, msg)?;
    let vecs = iovecs(p, h.iov, h.iovlen)?;
    let want: usize = vecs.iter().map(|v| v.1 as usize).sum();
    for &(base, len) in &vecs {
        p.ucheck_write(base, len as usize)?;
    }
    let mut got = recv_on(p, &s, nb, want, flags)?;
    scatter(p, &vecs, &got.data)?;
    let mut out_flags = if got.len > got.data.len() { MSG_TRUNC } else { 0 };
    if h.name != 0 {
        let from = from_addr(&s, &got);
        let n = (h.namelen as usize).min(from.len());
        p.uwrite(h.name, &from[..n])?;
        p.write_u32(msg.wrapping_add(4), from.len() as u32)?;
    }
    let room = if h.control == 0 { 0 } else { h.controllen as usize };
    let (control, trunc) = control_out(p, &s, &mut got, room, flags);
    out_flags |= trunc;
    if !control.is_empty() {
        p.uwrite(h.control, &control)?;
    }
    p.write_u32(msg.wrapping_add(20), control.len() as u32)?;
    p.write_u32(msg.wrapping_add(24), out_flags)?;
    Ok(received_len(&s, &got, flags))
}

/// sendmsg(2).
pub fn sendmsg(p: &mut Process, a: Args) -> SysResult {
    do_sendmsg(p, a[0], a[1], a[2])
}

/// recvmsg(2).
pub fn recvmsg(p: &mut Process, a: Args) -> SysResult {
    do_recvmsg(p, a[0], a[1], a[2])
}

/// sendmmsg(2): sendmsg for each struct mmsghdr, until one fails.
pub fn sendmmsg(p: &mut Process, a: Args) -> SysResult {
    let (fd, vec, vlen, flags) = (a[0], a[1], a[2].min(1024), a[3]);
    let mut sent = 0;
    while sent < vlen {
        let m = vec.wrapping_add(sent * MMSGHDR);
        match do_sendmsg(p, fd, m, flags) {
            Ok(n) => p.write_u32(m.wrapping_add(MSGHDR), n)?,
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
        sent += 1;
    }
    Ok(sent)
}

/// recvmmsg(2): recvmsg for each struct mmsghdr; after the first, only
/// what is already queued (the timeout is not looked at).
pub fn recvmmsg(p: &mut Process, a: Args) -> SysResult {
    let (fd, vec, vlen) = (a[0], a[1], a[2].min(1024));
    let mut flags = a[3] & !MSG_WAITFORONE;
    let mut got = 0;
    while got < vlen {
        let m = vec.wrapping_add(got * MMSGHDR);
        match do_recvmsg(p, fd, m, flags) {
            Ok(n) => p.write_u32(m.wrapping_add(MSGHDR), n)?,
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
        got += 1;
        flags |= MSG_DONTWAIT;
    }
    Ok(got)
}

// ---------------------------------------------------------------------
// socketcall(2).

/// socketcall(2): i386's one entry for all socket calls; `a[1]` points
/// to the call's arguments.
pub fn socketcall(p: &mut Process, a: Args) -> SysResult {
    /// How many arguments each call (SYS_SOCKET = 1 .. SYS_SENDMMSG = 20) takes.
    const NARGS: [u32; 21] = [0, 3, 3, 3, 2, 3, 3, 3, 4, 4, 4, 6, 6, 2, 5, 5, 3, 3, 4, 5, 4];
    let call = a[0];
    if !(1..=20).contains(&call) {
        return Err(Errno::EINVAL);
    }
    let mut args = [0u32; 6];
    for i in 0..NARGS[call as usize] {
        args[i as usize] = p.read_u32(a[1].wrapping_add(4 * i))?;
    }
    let handler: super::Handler = match call {
        1 => socket,
        2 => bind,
        3 => connect,
        4 => listen,
        5 => {
            args[3] = 0;
            accept4
        }
        6 => getsockname,
        7 => getpeername,
        8 => socketpair,
        9 => send,
        10 => recv,
        11 => sendto,
        12 => recvfrom,
        13 => shutdown,
        14 => super::sys_sockopt::setsockopt,
        15 => super::sys_sockopt::getsockopt,
        16 => sendmsg,
        17 => recvmsg,
        18 => accept4,
        19 => recvmmsg,
        _ => sendmmsg,
    };
    handler(p, args)
}
