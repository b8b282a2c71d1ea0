//! Moving data through sockets: send appends a message to the receiving
//! socket's queue (the peer's, or a datagram's destination's), receive
//! takes from the socket's own. Stream sockets read across messages but
//! never past a message carrying files; datagram and sequenced-packet
//! sockets keep each message whole.

use super::*;

impl Socket {
    /// Send `data` with `files` to the peer, or for a datagram socket to
    /// `to` if given; return how much went (all of it unless a stream
    /// write was interrupted or would block).
    pub fn send(
        &self,
        data: &[u8],
        files: Vec<Rc<RefCell<OpenFile>>>,
        to: Option<&Key>,
        cred: Ucred,
        nonblock: bool,
        interrupted: &mut dyn FnMut() -> bool,
    ) -> SysResult<usize> {
        let files = files.into_iter().map(KernelOnly::new).collect();
        match self.kind() {
            Kind::Stream => {
                if to.is_some() {
                    let connected = matches!(self.0.lock().state, State::Connected);
                    return Err(if connected { Errno::EISCONN } else { Errno::EOPNOTSUPP });
                }
                self.send_stream(data, files, cred, nonblock, interrupted)
            }
            Kind::Dgram if self.family() != Family::Unix => self.send_datagram(data, to),
            kind => {
                let to = if kind == Kind::Seqpacket { None } else { to };
                self.send_message(data, files, to, cred, nonblock, interrupted)
            }
        }
    }

    /// Send on a stream: in pieces as the peer's queue has room.
    fn send_stream(
        &self,
        data: &[u8],
        files: Vec<InFlight>,
        cred: Ucred,
        nonblock: bool,
        interrupted: &mut dyn FnMut() -> bool,
    ) -> SysResult<usize> {
        let mut files = Some(files);
        let mut done = 0;
        let partial = |done: usize, e: Errno| if done > 0 { Ok(done) } else { Err(e) };
        loop {
            let (peer, sndbuf, passcred) = {
                let s = self.0.lock();
                if !matches!(s.state, State::Connected) {
                    // TCP says EPIPE to a send without a connection.
                    return Err(if s.family == Family::Unix { Errno::ENOTCONN } else { Errno::EPIPE });
                }
                if s.shut & SEND != 0 {
                    return partial(done, Errno::EPIPE);
                }
                (s.peer.upgrade(), s.sndbuf as usize, s.passcred)
            };
            // The first TCP send to a closed peer goes (to be answered by
            // RST); the next, like a unix stream's, says EPIPE.
            let gone = |done: usize| {
                let mut s = self.0.lock();
                if s.family != Family::Unix && !s.reset {
                    s.reset = true;
                    return Ok(data.len());
                }
                partial(done, Errno::EPIPE)
            };
            let Some(peer) = peer else { return gone(done) };
            if data.is_empty() {
                return Ok(0);
            }
            {
                let mut o = peer.lock();
                if matches!(o.state, State::Closed) {
                    drop(o);
                    return gone(done);
                }
                if o.shut & RCV != 0 {
                    return partial(done, Errno::EPIPE);
                }
                let room = sndbuf.saturating_sub(o.rx_bytes);
                if room > 0 {
                    let n = room.min(data.len() - done);
                    let files = files.take().unwrap_or_default();
                    let cred = if passcred || o.passcred || o.embryo { cred } else { Ucred::NOBODY };
                    o.rx.push_back(Msg { data: data[done..done + n].to_vec(), taken: 0, files, cred, from: None });
                    o.rx_bytes += n;
                    done += n;
                    drop(o);
                    wake(&peer);
                    if done == data.len() {
                        return Ok(done);
                    }
                    continue;
                }
            }
            if nonblock {
                return partial(done, Errno::EAGAIN);
            }
            if interrupted() {
                return partial(done, Errno::EINTR);
            }
            sched::sleep(chan(&peer));
        }
    }

    /// Send a UDP datagram to `to` (a loopback address) or the connected
    /// peer. As on a network, a datagram nobody takes (no socket bound
    /// there, a full queue, a socket connected elsewhere) is lost, and the
    /// sender never waits; a connected sender learns of a missing peer
    /// from its next call (ECONNREFUSED, as Linux learns it by ICMP).
    fn send_datagram(&self, data: &[u8], to: Option<&Key>) -> SysResult<usize> {
        let (dest, bound, connected) = {
            let mut s = self.0.lock();
            if s.shut & SEND != 0 {
                return Err(Errno::EPIPE);
            }
            let connected = s.peer_name.as_ref().map(|n| n.key.clone());
            if let (Some(e), Some(_)) = (s.error, &connected) {
                s.error = None;
                return Err(e);
            }
            let dest = match (to, &connected) {
                (Some(k), _) => k.clone(),
                (None, Some(k)) => k.clone(),
                (None, None) => return Err(Errno::EDESTADDRREQ),
            };
            (dest, s.name.as_ref().and_then(Name::addr), to.is_none())
        };
        let Key::Inet(proto, dest) = dest else { return Err(Errno::EINVAL) };
        let max = if dest.is_ipv4() { 65507 } else { 65527 };
        if data.len() > max {
            return Err(Errno::EMSGSIZE);
        }
        let from = Name::inet(proto, inet::source(bound.unwrap_or(inet::any(false, 0)), dest));
        let Some(target) = ports::receiver(proto, dest) else {
            if connected {
                self.0.lock().error = Some(Errno::ECONNREFUSED);
            }
            return Ok(data.len());
        };
        {
            let mut o = target.0.lock();
            let elsewhere = o.peer_name.as_ref().is_some_and(|n| n.key != from.key);
            let full = !o.rx.is_empty() && o.rx_bytes + data.len() > o.rcvbuf as usize;
            if elsewhere || full || o.shut & RCV != 0 || matches!(o.state, State::Closed) {
                return Ok(data.len());
            }
            let msg = Msg { data: data.to_vec(), taken: 0, files: Vec::new(), cred: Ucred::NOBODY, from: Some(from) };
            o.rx.push_back(msg);
            o.rx_bytes += data.len();
        }
        target.wake();
        Ok(data.len())
    }

    /// Send one message (datagram or sequenced packet), whole or not at all.
    fn send_message(
        &self,
        data: &[u8],
        files: Vec<InFlight>,
        to: Option<&Key>,
        cred: Ucred,
        nonblock: bool,
        interrupted: &mut dyn FnMut() -> bool,
    ) -> SysResult<usize> {
        let (kind, from, peer, sndbuf, passcred) = {
            let s = self.0.lock();
            if s.kind == Kind::Seqpacket && !matches!(s.state, State::Connected) {
                return Err(Errno::ENOTCONN);
            }
            if s.shut & SEND != 0 {
                return Err(Errno::EPIPE);
            }
            let peer = matches!(s.state, State::Connected).then(|| s.peer.clone());
            (s.kind, s.name.clone(), peer, s.sndbuf as usize, s.passcred)
        };
        if data.len() + 32 > sndbuf {
            return Err(Errno::EMSGSIZE);
        }
        let target = match (to, peer) {
            (Some(k), _) => find_kind(k, kind)?.0,
            (None, Some(w)) => {
                w.upgrade().ok_or(if kind == Kind::Dgram { Errno::ECONNREFUSED } else { Errno::EPIPE })?
            }
            (None, None) => return Err(Errno::ENOTCONN),
        };
        let mut msg = Some(Msg { data: data.to_vec(), taken: 0, files, cred, from });
        loop {
            {
                let mut o = target.lock();
                if o.kind != kind {
                    return Err(Errno::EPROTOTYPE);
                }
                if matches!(o.state, State::Closed) {
                    return Err(if kind == Kind::Dgram { Errno::ECONNREFUSED } else { Errno::EPIPE });
                }
                if o.shut & RCV != 0 {
                    return Err(Errno::EPIPE);
                }
                // A datagram socket connected elsewhere takes only from its peer.
                if kind == Kind::Dgram && o.peer.strong_count() > 0 && !Weak::ptr_eq(&o.peer, &Arc::downgrade(&self.0))
                {
                    return Err(Errno::EPERM);
                }
                if o.rx.len() < DGRAM_QLEN && (o.rx.is_empty() || o.rx_bytes + data.len() <= o.rcvbuf as usize) {
                    let mut m = msg.take().expect("sent once");
                    if !passcred && !o.passcred {
                        m.cred = Ucred::NOBODY;
                    }
                    o.rx.push_back(m);
                    o.rx_bytes += data.len();
                    drop(o);
                    wake(&target);
                    return Ok(data.len());
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            if interrupted() {
                return Err(Errno::EINTR);
            }
            sched::sleep(chan(&target));
        }
    }

    /// Receive up to `max` bytes: a stream's bytes, or one message.
    pub fn recv(&self, max: usize, f: RecvFlags, interrupted: &mut dyn FnMut() -> bool) -> SysResult<Received> {
        let kind = self.kind();
        let mut got = Received::default();
        loop {
            let done = if kind == Kind::Stream {
                self.take_bytes(&mut got, max, f)?
            } else {
                self.take_message(&mut got, max, f)?
            };
            if done {
                return Ok(got);
            }
            let some = !got.data.is_empty();
            if f.nonblock {
                return if some { Ok(got) } else { Err(Errno::EAGAIN) };
            }
            if interrupted() {
                return if some { Ok(got) } else { Err(Errno::EINTR) };
            }
            sched::sleep(self.id());
        }
    }

    /// Take stream bytes into `got`; report whether the read is done.
    fn take_bytes(&self, got: &mut Received, max: usize, f: RecvFlags) -> SysResult<bool> {
        let mut s = self.0.lock();
        if !matches!(s.state, State::Connected) {
            return Err(if s.family == Family::Unix { Errno::EINVAL } else { Errno::ENOTCONN });
        }
        if max == 0 {
            return Ok(true);
        }
        let passcred = s.passcred;
        let before = got.data.len();
        let mut i = 0;
        while got.data.len() < max {
            let Some(m) = s.rx.get_mut(i) else { break };
            // Files end a read; credentials that differ too, when asked for.
            if !got.data.is_empty() && (!m.files.is_empty() || (passcred && got.cred != Some(m.cred))) {
                break;
            }
            if got.data.is_empty() {
                got.cred = Some(m.cred);
                got.from = m.from.clone();
            }
            let n = (m.data.len() - m.taken).min(max - got.data.len());
            got.data.extend_from_slice(&m.data[m.taken..m.taken + n]);
            let had_files = !m.files.is_empty();
            if f.peek {
                got.files.extend(m.files.iter().map(|x| x.get().clone()));
                i += 1;
            } else {
                got.files.extend(std::mem::take(&mut m.files).into_iter().map(KernelOnly::into_inner));
                m.taken += n;
                if m.taken == m.data.len() {
                    s.rx.pop_front();
                }
                s.rx_bytes -= n;
            }
            if had_files {
                break;
            }
        }
        got.len = got.data.len();
        let took = got.data.len() > before && !f.peek;
        let done = if got.data.is_empty() {
            if let Some(e) = s.error.take() {
                return Err(e);
            }
            s.shut & RCV != 0
        } else {
            !f.waitall || f.peek || got.data.len() >= max || s.shut & RCV != 0
        };
        drop(s);
        if took {
            self.wake();
        }
        Ok(done)
    }

    /// Take one message into `got`, cut to `max` bytes; report whether
    /// the read is done.
    fn take_message(&self, got: &mut Received, max: usize, f: RecvFlags) -> SysResult<bool> {
        let mut s = self.0.lock();
        if s.kind == Kind::Seqpacket && !matches!(s.state, State::Connected) {
            return Err(Errno::ENOTCONN);
        }
        let m = if f.peek {
            match s.rx.front() {
                Some(m) => Msg {
                    data: m.data.clone(),
                    taken: 0,
                    files: m.files.iter().map(|x| KernelOnly::new(x.get().clone())).collect(),
                    cred: m.cred,
                    from: m.from.clone(),
                },
                None => return nothing_queued(s, f.nonblock),
            }
        } else {
            match s.rx.pop_front() {
                Some(m) => {
                    s.rx_bytes -= m.data.len();
                    m
                }
                None => return nothing_queued(s, f.nonblock),
            }
        };
        drop(s);
        if !f.peek {
            self.wake();
        }
        got.len = m.data.len();
        got.data = m.data;
        got.data.truncate(max);
        got.files = m.files.into_iter().map(KernelOnly::into_inner).collect();
        got.cred = Some(m.cred);
        got.from = m.from;
        Ok(true)
    }
}

/// A message read found the queue empty: the pending error, end of file
/// once the receiving side is shut (a non-blocking datagram read says
/// EAGAIN even then, as Linux's does), or wait (false).
fn nothing_queued(mut s: parking_lot::MutexGuard<'_, Sock>, nonblock: bool) -> SysResult<bool> {
    if let Some(e) = s.error.take() {
        return Err(e);
    }
    Ok(s.shut & RCV != 0 && !(nonblock && s.kind == Kind::Dgram))
}
