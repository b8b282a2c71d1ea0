//! Internet addresses on the guest's loopback network: reading and
//! writing struct sockaddr_in and sockaddr_in6, which addresses are
//! loopback ones, and which bound addresses a destination reaches.
//!
//! The guest's network is a Linux network namespace with only `lo` up:
//! 127.0.0.0/8 and ::1 are here, every other address is unreachable.
//! Addresses are kept canonical: a v4-mapped IPv6 address
//! (::ffff:127.0.0.1) is the IPv4 address, so an IPv6 socket bound to ::
//! meets IPv4 peers under their own addresses, and only formatting for an
//! IPv6 socket maps them back. The sockets themselves and their table of
//! names are `socket/`'s.

use crate::errno::{Errno, SysResult};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
/// The sizes of struct sockaddr_in and struct sockaddr_in6.
pub const SOCKADDR_IN: usize = 16;
pub const SOCKADDR_IN6: usize = 28;
/// What sin6 addresses an older sockaddr_in6 (without sin6_scope_id) holds.
const SOCKADDR_IN6_RFC2133: usize = 24;
/// The ports bind and connect pick (net.ipv4.ip_local_port_range).
pub const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;

/// Read a socket address for a socket of family `v6` (AF_INET6) or
/// AF_INET: None for AF_UNSPEC; EINVAL if too short, EAFNOSUPPORT for
/// another family. The address comes back canonical.
pub fn parse(v6: bool, b: &[u8]) -> SysResult<Option<SocketAddr>> {
    if b.len() < 2 {
        return Err(Errno::EINVAL);
    }
    let family = u16::from_le_bytes([b[0], b[1]]);
    let need = if v6 { SOCKADDR_IN6_RFC2133 } else { SOCKADDR_IN };
    if b.len() < need {
        return Err(Errno::EINVAL);
    }
    let port = u16::from_be_bytes([b[2], b[3]]);
    match family {
        0 => Ok(None),
        AF_INET if !v6 => {
            let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            Ok(Some(SocketAddr::new(IpAddr::V4(ip), port)))
        }
        AF_INET6 if v6 => {
            let ip: [u8; 16] = b[8..24].try_into().expect("16 bytes");
            Ok(Some(canon(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))))
        }
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// The struct sockaddr_in (or, for an IPv6 socket, sockaddr_in6) bytes of
/// `a`; an IPv4 address reaches an IPv6 socket v4-mapped.
pub fn sockaddr(a: SocketAddr, v6: bool) -> Vec<u8> {
    let mut b = Vec::with_capacity(SOCKADDR_IN6);
    let port = a.port().to_be_bytes();
    if v6 {
        let ip = match a.ip() {
            IpAddr::V4(ip) => ip.to_ipv6_mapped(),
            IpAddr::V6(ip) => ip,
        };
        b.extend(AF_INET6.to_le_bytes());
        b.extend(port);
        b.extend([0; 4]);
        b.extend(ip.octets());
        b.extend([0; 4]);
    } else {
        let ip = match a.ip() {
            IpAddr::V4(ip) => ip,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        b.extend(AF_INET.to_le_bytes());
        b.extend(port);
        b.extend(ip.octets());
        b.extend([0; 8]);
    }
    b
}

/// The address with a v4-mapped IPv6 address made IPv4.
pub fn canon(a: SocketAddr) -> SocketAddr {
    match a.ip() {
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), a.port()),
            None => SocketAddr::new(IpAddr::V6(ip), a.port()),
        },
        IpAddr::V4(_) => a,
    }
}

/// The wildcard address (INADDR_ANY or ::) with port `port`.
pub fn any(v6: bool, port: u16) -> SocketAddr {
    let ip = if v6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
    SocketAddr::new(ip, port)
}

/// Report whether a socket may bind to `ip`: a loopback address or the
/// wildcard (anything else is EADDRNOTAVAIL).
pub fn bindable(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}

/// Where a connection or datagram to `a` goes: the address itself, the
/// wildcard meaning this host (127.0.0.1 or ::1); ENETUNREACH for any
/// address beyond loopback.
pub fn destination(a: SocketAddr) -> SysResult<SocketAddr> {
    let ip = match a.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip if ip.is_loopback() => ip,
        _ => return Err(Errno::ENETUNREACH),
    };
    Ok(SocketAddr::new(ip, a.port()))
}

/// The address a socket bound to `bound` speaks from to `dest`: its own
/// address if it bound a particular one, else the loopback address of
/// the destination's family.
pub fn source(bound: SocketAddr, dest: SocketAddr) -> SocketAddr {
    if !bound.ip().is_unspecified() && bound.is_ipv4() == dest.is_ipv4() {
        return bound;
    }
    let ip = match dest {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    SocketAddr::new(ip, bound.port())
}

/// The bound addresses that receive what is sent to `dest`, best first,
/// each with whether only a dual-stack socket (an IPv6 wildcard without
/// IPV6_V6ONLY) counts.
pub fn candidates(dest: SocketAddr) -> [(SocketAddr, bool); 3] {
    let p = dest.port();
    match dest {
        SocketAddr::V4(_) => [(dest, false), (any(false, p), false), (any(true, p), true)],
        SocketAddr::V6(_) => [(dest, false), (any(true, p), false), (any(true, p), false)],
    }
}

/// Report whether two bindings of one port overlap: one of them would
/// receive the other's traffic. `dual` says whether each, if the IPv6
/// wildcard, takes IPv4 too.
pub fn overlap(a: SocketAddr, a_dual: bool, b: SocketAddr, b_dual: bool) -> bool {
    if a.port() != b.port() {
        return false;
    }
    if a.is_ipv4() == b.is_ipv4() {
        return a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified();
    }
    let (v6, dual) = if a.is_ipv6() { (a, a_dual) } else { (b, b_dual) };
    v6.ip().is_unspecified() && dual
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn sockaddrs_round_trip() {
        let a = sa("127.0.0.1:8080");
        let b = sockaddr(a, false);
        assert_eq!(b, [2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse(false, &b), Ok(Some(a)));
        let m = sockaddr(a, true);
        assert_eq!(m.len(), SOCKADDR_IN6);
        assert_eq!(parse(true, &m), Ok(Some(a)), "v4-mapped reads back as IPv4");
        let six = sa("[::1]:53");
        assert_eq!(parse(true, &sockaddr(six, true)), Ok(Some(six)));
    }

    #[test]
    fn bad_sockaddrs() {
        assert_eq!(parse(false, &[2, 0, 0, 1]), Err(Errno::EINVAL));
        assert_eq!(parse(false, &sockaddr(sa("[::1]:1"), true)), Err(Errno::EAFNOSUPPORT));
        assert_eq!(parse(true, &sockaddr(sa("127.0.0.1:1"), false)), Err(Errno::EINVAL));
        assert_eq!(parse(false, &[0; 16]), Ok(None));
    }

    #[test]
    fn only_loopback_is_reachable() {
        assert_eq!(destination(sa("8.8.8.8:53")), Err(Errno::ENETUNREACH));
        assert_eq!(destination(sa("0.0.0.0:7")), Ok(sa("127.0.0.1:7")));
        assert_eq!(destination(sa("127.3.2.1:7")), Ok(sa("127.3.2.1:7")));
        assert_eq!(destination(sa("[::]:7")), Ok(sa("[::1]:7")));
        assert!(!bindable("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn wildcards_overlap() {
        assert!(overlap(sa("0.0.0.0:5"), false, sa("127.0.0.1:5"), false));
        assert!(!overlap(sa("127.0.0.2:5"), false, sa("127.0.0.1:5"), false));
        assert!(overlap(sa("[::]:5"), true, sa("127.0.0.1:5"), false));
        assert!(!overlap(sa("[::]:5"), false, sa("127.0.0.1:5"), false));
        assert!(!overlap(sa("[::1]:5"), false, sa("0.0.0.0:5"), false));
        assert!(!overlap(sa("0.0.0.0:6"), false, sa("0.0.0.0:5"), false));
    }

    #[test]
    fn sources() {
        assert_eq!(source(sa("0.0.0.0:9"), sa("127.0.0.5:1")), sa("127.0.0.1:9"));
        assert_eq!(source(sa("127.0.0.2:9"), sa("127.0.0.5:1")), sa("127.0.0.2:9"));
        assert_eq!(source(sa("[::]:9"), sa("127.0.0.1:1")), sa("127.0.0.1:9"));
    }
}
