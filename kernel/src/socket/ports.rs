//! Internet sockets' names: binding an address and port (picking an
//! ephemeral port for port 0), and finding the socket that receives what
//! is sent to an address. They share the table of names with AF_UNIX
//! sockets under `Key::Inet`; the address rules are `inet`'s.
//!
//! Two bindings of one port conflict when one would receive the other's
//! traffic (`inet::overlap`), unless both sockets asked for it: both
//! SO_REUSEPORT, or both SO_REUSEADDR and neither listening. A closed
//! socket leaves no TIME_WAIT behind, so its port is free at once.

use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

const SOL_SOCKET: u32 = 1;
const SO_REUSEADDR: u32 = 2;
const SO_REUSEPORT: u32 = 15;
pub const IPPROTO_IPV6: u32 = 41;
pub const IPV6_V6ONLY: u32 = 26;

/// The socket that receives what protocol `proto` sends to `dest` (a
/// loopback address): bound to it, or to a wildcard that covers it.
pub(super) fn receiver(proto: u8, dest: SocketAddr) -> Option<Socket> {
    inet::candidates(dest).into_iter().find_map(|(a, dual_only)| {
        let s = find(&Key::Inet(proto, a))?;
        (!dual_only || s.dual()).then_some(s)
    })
}

impl Socket {
    /// Report whether an IPv6 socket takes IPv4 too (no IPV6_V6ONLY).
    fn dual(&self) -> bool {
        self.family() == Family::Inet6 && !self.flag(IPPROTO_IPV6, IPV6_V6ONLY)
    }

    /// Report whether this socket and `other` may share a port.
    fn may_share(&self, other: &Socket) -> bool {
        let both = |name| self.flag(SOL_SOCKET, name) && other.flag(SOL_SOCKET, name);
        both(SO_REUSEPORT) || (both(SO_REUSEADDR) && !self.listening() && !other.listening())
    }

    /// Report whether binding `addr` would clash with another open socket.
    fn clashes(&self, t: &Names, proto: u8, addr: SocketAddr) -> bool {
        let dual = self.dual();
        t.iter().any(|(k, w)| match k {
            Key::Inet(p, a) if *p == proto && a.port() == addr.port() => {
                w.upgrade().map(Socket).is_some_and(|o| inet::overlap(addr, dual, *a, o.dual()) && !self.may_share(&o))
            }
            _ => false,
        })
    }

    /// Bind an internet socket to `addr` (canonical): EINVAL if it has a
    /// name, EADDRNOTAVAIL for an address not on loopback, EADDRINUSE for
    /// a port taken; port 0 picks a free ephemeral port.
    pub fn bind_inet(&self, addr: SocketAddr) -> SysResult<()> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        if self.is_bound() {
            return Err(Errno::EINVAL);
        }
        if !inet::bindable(addr.ip()) {
            return Err(Errno::EADDRNOTAVAIL);
        }
        let proto = self.protocol();
        let addr = names(|t| {
            if addr.port() != 0 {
                return if self.clashes(t, proto, addr) { Err(Errno::EADDRINUSE) } else { Ok(addr) };
            }
            let (lo, hi) = (*inet::EPHEMERAL.start() as u32, *inet::EPHEMERAL.end() as u32);
            let span = hi - lo + 1;
            for _ in 0..span {
                let port = lo + NEXT.fetch_add(1, Ordering::Relaxed) % span;
                let a = SocketAddr::new(addr.ip(), port as u16);
                if !self.clashes(t, proto, a) {
                    return Ok(a);
                }
            }
            Err(Errno::EADDRINUSE)
        })?;
        self.bind(Name::inet(proto, addr))
    }

    /// Bind an internet socket without a name to a wildcard and an
    /// ephemeral port (as connect, listen and sendto do).
    pub fn autobind(&self) -> SysResult<()> {
        if self.is_bound() {
            return Ok(());
        }
        self.bind_inet(inet::any(self.family() == Family::Inet6, 0))
    }
}
