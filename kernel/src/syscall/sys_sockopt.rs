//! Socket options: getsockopt and setsockopt. The SOL_SOCKET options of
//! every socket, and an internet socket's TCP, UDP, IP and IPv6 options,
//! which are kept as set (Linux's defaults until then): on a loopback
//! network only SO_REUSEADDR, SO_REUSEPORT and IPV6_V6ONLY (which bind
//! and connect consult) and the buffer sizes have any effect.

use super::sys_socket::{sock, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, SOL_SOCKET};
use super::Args;
use crate::errno::{Errno, SysResult};
use crate::process::Process;
use crate::socket::{self, Family, Kind, Socket};

const SO_DEBUG: u32 = 1;
const SO_REUSEADDR: u32 = 2;
const SO_TYPE: u32 = 3;
const SO_ERROR: u32 = 4;
const SO_DONTROUTE: u32 = 5;
const SO_BROADCAST: u32 = 6;
const SO_SNDBUF: u32 = 7;
const SO_RCVBUF: u32 = 8;
const SO_KEEPALIVE: u32 = 9;
const SO_OOBINLINE: u32 = 10;
const SO_PRIORITY: u32 = 12;
const SO_LINGER: u32 = 13;
const SO_PASSCRED: u32 = 16;
const SO_PEERCRED: u32 = 17;
const SO_RCVLOWAT: u32 = 18;
const SO_SNDLOWAT: u32 = 19;
const SO_RCVTIMEO: u32 = 20;
const SO_SNDTIMEO: u32 = 21;
const SO_TIMESTAMP: u32 = 29;
const SO_ACCEPTCONN: u32 = 30;
const SO_SNDBUFFORCE: u32 = 32;
const SO_RCVBUFFORCE: u32 = 33;
const SO_PASSSEC: u32 = 34;
const SO_PROTOCOL: u32 = 38;
const SO_DOMAIN: u32 = 39;

const SO_REUSEPORT: u32 = 15;

const IPPROTO_IP: u32 = 0;
const IPPROTO_IPV6: u32 = socket::IPPROTO_IPV6;
const IPV6_V6ONLY: u32 = socket::IPV6_V6ONLY;
const TCP_NODELAY: u32 = 1;
const TCP_MAXSEG: u32 = 2;
const TCP_INFO: u32 = 11;
const TCP_CONGESTION: u32 = 13;

/// The options at `level` that hold a boolean (read back as 0 or 1).
fn boolean(level: u32, name: u32) -> bool {
    match level {
        SOL_SOCKET => matches!(
            name,
            SO_DEBUG
                | SO_REUSEADDR
                | SO_REUSEPORT
                | SO_DONTROUTE
                | SO_BROADCAST
                | SO_KEEPALIVE
                | SO_OOBINLINE
                | SO_TIMESTAMP
                | SO_PASSSEC
        ),
        IPPROTO_TCP => matches!(name, TCP_NODELAY | 3 | 12 | 23),
        IPPROTO_IPV6 => name == IPV6_V6ONLY,
        _ => false,
    }
}

/// Report whether an internet socket has options at `level`.
fn own_level(s: &Socket, level: u32) -> bool {
    match level {
        IPPROTO_IP => true,
        IPPROTO_TCP => s.kind() == Kind::Stream,
        IPPROTO_UDP => s.kind() == Kind::Dgram,
        IPPROTO_UDPLITE => s.protocol() == IPPROTO_UDPLITE as u8,
        IPPROTO_IPV6 => s.family() == Family::Inet6,
        _ => false,
    }
}

/// What an internet socket's option at (`level`, `name`) reads as until
/// set, as Linux's defaults; None for an option it does not have.
fn inet_default(s: &Socket, level: u32, name: u32) -> Option<u32> {
    let tcp = s.kind() == Kind::Stream;
    Some(match (level, name) {
        // TCP_NODELAY, TCP_MAXSEG, TCP_CORK, TCP_KEEPIDLE, TCP_KEEPINTVL,
        // TCP_KEEPCNT, TCP_SYNCNT, TCP_LINGER2, TCP_DEFER_ACCEPT,
        // TCP_WINDOW_CLAMP, TCP_QUICKACK, TCP_USER_TIMEOUT, TCP_FASTOPEN,
        // TCP_NOTSENT_LOWAT.
        (IPPROTO_TCP, _) if !tcp => return None,
        (IPPROTO_TCP, TCP_MAXSEG) => 536,
        (IPPROTO_TCP, 4) => 7200,
        (IPPROTO_TCP, 5) => 75,
        (IPPROTO_TCP, 6) => 9,
        (IPPROTO_TCP, 7) => 6,
        (IPPROTO_TCP, 8) => 60,
        (IPPROTO_TCP, 12) => 1,
        (IPPROTO_TCP, TCP_NODELAY | 3 | 9 | 10 | 18 | 23 | 25) => 0,
        // UDP_CORK, UDP_SEGMENT, UDP_GRO.
        (IPPROTO_UDP, 1 | 103 | 104) if !tcp => 0,
        // UDPLITE_SEND_CSCOV, UDPLITE_RECV_CSCOV.
        (IPPROTO_UDPLITE, 10 | 11) => 0,
        // IP_TTL, IP_MTU_DISCOVER, IP_MULTICAST_TTL and _LOOP; IP_TOS,
        // IP_HDRINCL, IP_PKTINFO, IP_RECVERR, IP_RECVTTL, IP_RECVTOS,
        // IP_FREEBIND, IP_TRANSPARENT, IP_BIND_ADDRESS_NO_PORT,
        // IP_MULTICAST_IF, IP_MULTICAST_ALL.
        (IPPROTO_IP, 2) => 64,
        (IPPROTO_IP, 10) => tcp as u32,
        (IPPROTO_IP, 33 | 34) => 1,
        (IPPROTO_IP, 1 | 3 | 8 | 11 | 12 | 13 | 15 | 19 | 24 | 32 | 49) => 0,
        // IPV6_UNICAST_HOPS, IPV6_MULTICAST_HOPS and _LOOP; IPV6_V6ONLY,
        // IPV6_MULTICAST_IF, IPV6_MTU_DISCOVER, IPV6_RECVERR,
        // IPV6_RECVPKTINFO, IPV6_DONTFRAG, IPV6_RECVTCLASS, IPV6_TCLASS.
        (IPPROTO_IPV6, _) if s.family() != Family::Inet6 => return None,
        (IPPROTO_IPV6, 16) => 64,
        (IPPROTO_IPV6, 18 | 19) => 1,
        (IPPROTO_IPV6, IPV6_V6ONLY | 17 | 23 | 25 | 49 | 62 | 66 | 67) => 0,
        _ => return None,
    })
}

/// getsockopt(2): the SOL_SOCKET options, and an internet socket's TCP,
/// UDP, IP and IPv6 options (what was set, else Linux's default).
pub fn getsockopt(p: &mut Process, a: Args) -> SysResult {
    let (s, _) = sock(p, a[0])?;
    let room = p.read_u32(a[4])? as i32;
    if room < 0 {
        return Err(Errno::EINVAL);
    }
    let int = |v: u32| v.to_le_bytes().to_vec();
    let inet = s.family() != Family::Unix;
    let (level, name) = (a[1], a[2]);
    let v = if level != SOL_SOCKET {
        if !inet {
            return Err(Errno::EOPNOTSUPP);
        }
        if !own_level(&s, level) {
            return Err(Errno::EOPNOTSUPP);
        }
        match (level, name) {
            (IPPROTO_TCP, TCP_CONGESTION) if s.kind() == Kind::Stream => b"cubic\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
            (IPPROTO_TCP, TCP_INFO) if s.kind() == Kind::Stream => {
                // tcpi_state: TCP_ESTABLISHED, TCP_LISTEN or TCP_CLOSE.
                let state = if s.listening() {
                    10
                } else if s.peer_name().is_ok() {
                    1
                } else {
                    7
                };
                let mut v = vec![0u8; 104];
                v[0] = state;
                v
            }
            _ => match s.opt(level, name) {
                Some(v) => v,
                None => int(inet_default(&s, level, name).ok_or(Errno::ENOPROTOOPT)?),
            },
        }
    } else if let Some(v) = s.opt(level, name) {
        v
    } else {
        match name {
            SO_TYPE => int(s.kind() as u32),
            SO_ERROR => int(s.take_error().map_or(0, |e| e as u32)),
            SO_SNDBUF => int(s.buffers().0),
            SO_RCVBUF => int(s.buffers().1),
            SO_PASSCRED => int(s.passcred() as u32),
            SO_ACCEPTCONN => int(s.listening() as u32),
            SO_DOMAIN => int(s.family() as u32),
            SO_PROTOCOL => int(s.protocol() as u32),
            SO_RCVLOWAT | SO_SNDLOWAT => int(1),
            SO_DEBUG | SO_REUSEADDR | SO_REUSEPORT | SO_DONTROUTE | SO_BROADCAST | SO_KEEPALIVE | SO_OOBINLINE
            | SO_PRIORITY | SO_TIMESTAMP | SO_PASSSEC => int(0),
            SO_LINGER | SO_RCVTIMEO | SO_SNDTIMEO => vec![0; 8],
            SO_PEERCRED => {
                let c = s.peer_cred();
                [c.pid, c.uid, c.gid].iter().flat_map(|x| x.to_le_bytes()).collect()
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
    };
    let n = (room as usize).min(v.len());
    p.uwrite(a[3], &v[..n])?;
    p.write_u32(a[4], n as u32)?;
    Ok(0)
}

/// setsockopt(2): buffer sizes and SO_PASSCRED take effect; the other
/// common SOL_SOCKET options, and an internet socket's TCP, UDP, IP and
/// IPv6 options, are kept for getsockopt (bind and connect consult
/// SO_REUSEADDR, SO_REUSEPORT and IPV6_V6ONLY) and change nothing else.
pub fn setsockopt(p: &mut Process, a: Args) -> SysResult {
    let (s, _) = sock(p, a[0])?;
    let (level, name) = (a[1], a[2]);
    if level != SOL_SOCKET && s.family() == Family::Unix {
        return Err(Errno::EOPNOTSUPP);
    }
    if a[4] < 4 {
        return Err(Errno::EINVAL);
    }
    let v = p.read_u32(a[3])?;
    if level != SOL_SOCKET {
        if level == IPPROTO_TCP && name == TCP_CONGESTION {
            return Ok(0);
        }
        inet_default(&s, level, name).ok_or(Errno::ENOPROTOOPT)?;
        if level == IPPROTO_IPV6 && name == IPV6_V6ONLY && s.is_bound() {
            return Err(Errno::EINVAL);
        }
        let v = if boolean(level, name) { (v != 0) as u32 } else { v };
        s.set_opt(level, name, v.to_le_bytes().to_vec());
        return Ok(0);
    }
    match name {
        SO_SNDBUF | SO_SNDBUFFORCE => s.set_buffer(true, (v as i32).max(0) as u32),
        SO_RCVBUF | SO_RCVBUFFORCE => s.set_buffer(false, (v as i32).max(0) as u32),
        SO_PASSCRED if s.family() != Family::Unix => return Err(Errno::EOPNOTSUPP),
        SO_PASSCRED => s.set_passcred(v != 0),
        SO_LINGER | SO_RCVTIMEO | SO_SNDTIMEO if a[4] < 8 => return Err(Errno::EINVAL),
        SO_LINGER | SO_RCVTIMEO | SO_SNDTIMEO => {
            let mut b = vec![0u8; 8];
            p.uread(a[3], &mut b)?;
            s.set_opt(level, name, b);
        }
        SO_REUSEPORT if s.family() == Family::Unix => return Err(Errno::EOPNOTSUPP),
        _ if boolean(level, name) => s.set_opt(level, name, ((v != 0) as u32).to_le_bytes().to_vec()),
        SO_PRIORITY | SO_RCVLOWAT => s.set_opt(level, name, v.to_le_bytes().to_vec()),
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(0)
}
