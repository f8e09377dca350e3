//! A DHCP client (RFC 2131) for the access point's own address, sans-IO.
//!
//! The client is fed the time and the payloads of UDP datagrams that
//! arrived on port 68, and returns [`Action`]s: datagrams to send from
//! port 68 to port 67 (broadcast or unicast to the server), a lease
//! acquired, a lease lost. Message encoding and decoding is `dhcproto`'s.
//!
//! States as in RFC 2131 4.4 (figure 5): INIT → SELECTING (DISCOVER sent)
//! → REQUESTING (REQUEST for the first OFFER) → BOUND (ACK) → RENEWING
//! at T1 (REQUEST unicast to the server) → REBINDING at T2 (REQUEST
//! broadcast) → lease expiry: the address is lost and the client starts
//! again from INIT. A NAK sends it back to INIT as well.
//!
//! Randomness (the transaction ids and the retransmission jitter) comes
//! from a seed the caller passes in, so a simulation is repeatable.

use core::time::Duration;
use std::net::Ipv4Addr;

pub use dhcproto;
use dhcproto::v4::{DhcpOption, Flags, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Encodable};

use crate::time::Instant;

/// UDP port of DHCP servers (RFC 2131 4.1).
pub const SERVER_PORT: u16 = 67;
/// UDP port of DHCP clients (RFC 2131 4.1).
pub const CLIENT_PORT: u16 = 68;

/// First retransmission delay (RFC 2131 4.1: "a delay of 4 seconds before
/// the first retransmission"), doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(4);
/// RFC 2131 4.1: "doubled ... up to a maximum of 64 seconds".
const MAX_BACKOFF: Duration = Duration::from_secs(64);
/// REQUESTs sent in REQUESTING before going back to INIT (RFC 2131 4.4.1:
/// with neither ACK nor NAK after the retransmissions, restart).
const REQUEST_TRIES: u32 = 4;
/// RFC 2131 4.4.5: retransmissions in RENEWING and REBINDING wait half
/// the time left, "down to a minimum of 60 seconds".
const MIN_RENEW_RETRY: Duration = Duration::from_secs(60);
/// A lease shorter than this could not be renewed before it ends: such an
/// ACK is counted as malformed and dropped.
pub const MIN_LEASE: Duration = Duration::from_secs(4);
/// Smallest message sent: the BOOTP minimum many servers and relays
/// expect (RFC 1542 2.1).
const MIN_MESSAGE: usize = 300;

/// What the client configures the address from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// The interface's MAC address (chaddr, and the client identifier of
    /// RFC 2132 9.14 with hardware type 1).
    pub mac: [u8; 6],
    /// Sent as the host name option (RFC 2132 3.14), so the server can
    /// name the lease.
    pub hostname: Option<String>,
    /// Seeds the transaction ids and the retransmission jitter.
    pub seed: u64,
}

/// Where a datagram goes (always from port 68 to port 67).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// 255.255.255.255 on the interface, from 0.0.0.0 before the client
    /// has an address (RFC 2131 4.1).
    Broadcast,
    /// The server that granted the lease (RENEWING, RFC 2131 4.4.5).
    Unicast(Ipv4Addr),
}

/// A lease in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// The first router option (RFC 2132 3.5), if any.
    pub router: Option<Ipv4Addr>,
    /// The server identifier (RFC 2132 9.7).
    pub server: Ipv4Addr,
    /// The lease time granted; `None` for an infinite lease (0xffffffff).
    pub lease_time: Option<Duration>,
    /// When the lease was granted (the REQUEST that the ACK answers was
    /// sent then: RFC 2131 4.4.1 counts the lease from the request).
    pub granted_at: Instant,
    /// T1 and T2 as times.
    pub renew_at: Option<Instant>,
    pub rebind_at: Option<Instant>,
    pub expires_at: Option<Instant>,
}

impl Lease {
    /// Time left before the lease ends, `None` if infinite.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.expires_at.map(|e| e.saturating_since(now))
    }
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this DHCP message from port 68 to port 67.
    Send { to: Destination, payload: Vec<u8> },
    /// A new lease (or a renewal that changed the address, router or
    /// prefix): configure the address.
    Acquired(Lease),
    /// The address is no longer ours (expired, or NAKed): remove it.
    Lost { address: Ipv4Addr, prefix_len: u8 },
}

/// The client's state (RFC 2131 4.4, figure 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Init,
    Selecting,
    Requesting,
    Bound,
    Renewing,
    Rebinding,
}

/// Counters, as `show` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub discovers: u64,
    pub requests: u64,
    pub offers: u64,
    pub acks: u64,
    pub naks: u64,
    /// Replies that did not parse, or lacked what RFC 2131 4.3.1 says a
    /// server must send (message type, server identifier, lease time).
    pub malformed: u64,
    /// Replies for another transaction or another client (xid or chaddr).
    pub foreign: u64,
    /// Well-formed replies that do not fit the state (an OFFER while
    /// bound, an ACK from another server while requesting, ...).
    pub unexpected: u64,
    pub leases_acquired: u64,
    pub leases_lost: u64,
}

/// The DHCP client of one interface.
#[derive(Debug, Clone)]
pub struct DhcpClient {
    config: ClientConfig,
    rng: u64,
    state: State,
    xid: u32,
    /// When the current exchange started (the `secs` field, RFC 2131 2).
    started: Instant,
    /// When the current REQUEST was first sent (the lease counts from it).
    request_sent: Instant,
    next_timer: Option<Instant>,
    backoff: Duration,
    tries: u32,
    /// The offer being requested: (address, server).
    offer: Option<(Ipv4Addr, Ipv4Addr)>,
    lease: Option<Lease>,
    stats: Stats,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Selecting => "SELECTING",
            State::Requesting => "REQUESTING",
            State::Bound => "BOUND",
            State::Renewing => "RENEWING",
            State::Rebinding => "REBINDING",
        }
    }
}

impl DhcpClient {
    /// A client in INIT; [`DhcpClient::start`] sends the first DISCOVER.
    pub fn new(config: ClientConfig) -> DhcpClient {
        // xorshift needs a non-zero state.
        let rng = config.seed ^ 0x9e37_79b9_7f4a_7c15 | 1;
        DhcpClient {
            config,
            rng,
            state: State::Init,
            xid: 0,
            started: Instant::ZERO,
            request_sent: Instant::ZERO,
            next_timer: None,
            backoff: FIRST_BACKOFF,
            tries: 0,
            offer: None,
            lease: None,
            stats: Stats::default(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    pub fn xid(&self) -> u32 {
        self.xid
    }
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// When [`DhcpClient::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_timer
    }

    fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// `base` ± up to 1 s (RFC 2131 4.1: "randomized by the value of a
    /// uniform random number chosen from the range -1 to +1").
    fn jittered(&mut self, base: Duration) -> Duration {
        let ms = (self.random() % 2001) as i64 - 1000;
        let base = base.as_millis() as i64;
        Duration::from_millis((base + ms).max(0) as u64)
    }

    /// Starts (or restarts) acquisition from INIT: a DISCOVER now. A lease
    /// still held is reported lost first.
    pub fn start(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        self.drop_lease(&mut out);
        self.init(now, &mut out);
        out
    }

    /// Stops: the lease, if any, is reported lost; no more timers.
    pub fn stop(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        self.drop_lease(&mut out);
        self.state = State::Init;
        self.next_timer = None;
        out
    }

    fn drop_lease(&mut self, out: &mut Vec<Action>) {
        if let Some(l) = self.lease.take() {
            self.stats.leases_lost += 1;
            out.push(Action::Lost {
                address: l.address,
                prefix_len: l.prefix_len,
            });
        }
    }

    fn new_xid(&mut self) {
        self.xid = self.random() as u32;
    }

    /// INIT → SELECTING (RFC 2131 4.4.1).
    fn init(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.state = State::Selecting;
        self.offer = None;
        self.new_xid();
        self.started = now;
        self.backoff = FIRST_BACKOFF;
        self.tries = 0;
        self.send_discover(now, out);
    }

    fn secs(&self, now: Instant) -> u16 {
        now.saturating_since(self.started)
            .as_secs()
            .min(u16::MAX as u64) as u16
    }

    /// Arms the next retransmission with the RFC 2131 4.1 back-off.
    fn arm_backoff(&mut self, now: Instant) {
        let d = self.jittered(self.backoff);
        self.next_timer = Some(now + d);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.tries += 1;
    }

    fn base_message(&self, now: Instant, ty: MessageType, ciaddr: Ipv4Addr) -> Message {
        let z = Ipv4Addr::UNSPECIFIED;
        let mut m = Message::new_with_id(self.xid, ciaddr, z, z, z, &self.config.mac);
        m.set_opcode(Opcode::BootRequest);
        m.set_secs(self.secs(now));
        if ciaddr.is_unspecified() {
            // Without an address the kernel does not take unicast for
            // the offered address: ask for broadcast replies (RFC 2131
            // 4.1, the BROADCAST bit).
            m.set_flags(Flags::default().set_broadcast());
        }
        let o = m.opts_mut();
        o.insert(DhcpOption::MessageType(ty));
        let mut id = vec![1u8];
        id.extend_from_slice(&self.config.mac);
        o.insert(DhcpOption::ClientIdentifier(id));
        if let Some(h) = &self.config.hostname {
            o.insert(DhcpOption::Hostname(h.clone()));
        }
        o.insert(DhcpOption::ParameterRequestList(vec![
            OptionCode::SubnetMask,
            OptionCode::Router,
            OptionCode::AddressLeaseTime,
            OptionCode::Renewal,
            OptionCode::Rebinding,
        ]));
        m
    }

    fn push_send(out: &mut Vec<Action>, to: Destination, m: &Message) {
        // Encoding our own well-formed message cannot fail; if it ever
        // did, nothing is sent and the retransmission timer tries again.
        if let Ok(mut payload) = m.to_vec() {
            if payload.len() < MIN_MESSAGE {
                payload.resize(MIN_MESSAGE, 0);
            }
            out.push(Action::Send { to, payload });
        }
    }

    fn send_discover(&mut self, now: Instant, out: &mut Vec<Action>) {
        let m = self.base_message(now, MessageType::Discover, Ipv4Addr::UNSPECIFIED);
        self.stats.discovers += 1;
        Self::push_send(out, Destination::Broadcast, &m);
        self.arm_backoff(now);
    }

    /// The REQUEST of REQUESTING (RFC 2131 4.3.2, selecting: server
    /// identifier and requested address, ciaddr zero, broadcast).
    fn send_select_request(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Some((addr, server)) = self.offer else {
            return;
        };
        let mut m = self.base_message(now, MessageType::Request, Ipv4Addr::UNSPECIFIED);
        m.opts_mut().insert(DhcpOption::ServerIdentifier(server));
        m.opts_mut().insert(DhcpOption::RequestedIpAddress(addr));
        self.stats.requests += 1;
        Self::push_send(out, Destination::Broadcast, &m);
        self.arm_backoff(now);
    }

    /// The REQUEST of RENEWING (unicast) or REBINDING (broadcast): ciaddr
    /// set, no server identifier nor requested address (RFC 2131 4.3.2).
    fn send_renew_request(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Some(lease) = self.lease.clone() else {
            return;
        };
        let m = self.base_message(now, MessageType::Request, lease.address);
        let to = if self.state == State::Renewing {
            Destination::Unicast(lease.server)
        } else {
            Destination::Broadcast
        };
        self.stats.requests += 1;
        Self::push_send(out, to, &m);
        // RFC 2131 4.4.5: wait half the time left until T2 (RENEWING) or
        // the end of the lease (REBINDING), at least 60 s, never past it.
        let limit = match self.state {
            State::Renewing => lease.rebind_at,
            _ => lease.expires_at,
        };
        self.next_timer = limit.map(|limit| {
            let half = limit.saturating_since(now) / 2;
            (now + half.max(MIN_RENEW_RETRY)).min(limit)
        });
    }

    /// A timer fired (or may have): retransmissions, T1, T2, expiry.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(at) = self.next_timer else {
            return out;
        };
        if now < at {
            return out;
        }
        // Expiry first, whatever state (RFC 2131 4.4.5: "If the lease
        // expires before the client receives a DHCPACK, the client moves
        // to INIT state, MUST immediately stop any other network
        // processing and requires network initialization parameters").
        if self
            .lease
            .as_ref()
            .and_then(|l| l.expires_at)
            .is_some_and(|e| now >= e)
        {
            self.drop_lease(&mut out);
            self.init(now, &mut out);
            return out;
        }
        match self.state {
            State::Init => self.init(now, &mut out),
            State::Selecting => self.send_discover(now, &mut out),
            State::Requesting => {
                if self.tries >= REQUEST_TRIES {
                    // RFC 2131 4.4.1: no ACK nor NAK after the
                    // retransmissions: back to INIT.
                    self.init(now, &mut out);
                } else {
                    self.send_select_request(now, &mut out);
                }
            }
            State::Bound | State::Renewing | State::Rebinding => {
                let Some(l) = self.lease.clone() else {
                    self.init(now, &mut out);
                    return out;
                };
                if l.rebind_at.is_some_and(|t2| now >= t2) {
                    if self.state != State::Rebinding {
                        // RFC 2131 4.4.5: at T2, REBINDING: a new xid,
                        // the REQUEST broadcast to any server.
                        self.state = State::Rebinding;
                        self.new_xid();
                        self.started = now;
                        self.request_sent = now;
                    }
                } else if l.renew_at.is_some_and(|t1| now >= t1) && self.state == State::Bound {
                    // At T1, RENEWING: unicast to the server that granted it.
                    self.state = State::Renewing;
                    self.new_xid();
                    self.started = now;
                    // The lease counts from the first REQUEST of the
                    // transaction: an ACK may answer it rather than a
                    // retransmission (RFC 2131 4.4.5, conservatively).
                    self.request_sent = now;
                }
                if self.state == State::Bound {
                    self.next_timer = l.renew_at;
                } else {
                    self.send_renew_request(now, &mut out);
                }
            }
        }
        out
    }

    /// A datagram arrived on port 68.
    pub fn handle(&mut self, now: Instant, payload: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        let m = match sanitize(payload).map(|b| Message::from_bytes(&b)) {
            Some(Ok(m)) => m,
            _ => {
                self.stats.malformed += 1;
                return out;
            }
        };
        if m.opcode() != Opcode::BootReply {
            // Another client's broadcast request (ours too, looped back
            // on some links): not for us, not an error.
            self.stats.foreign += 1;
            return out;
        }
        if m.xid() != self.xid || m.hlen() != 6 || m.chaddr().get(..6) != Some(&self.config.mac[..])
        {
            // RFC 2131 4.4.1: "the client ... MUST match the 'xid' of the
            // reply with the one of its request".
            self.stats.foreign += 1;
            return out;
        }
        let Some(ty) = m.opts().msg_type() else {
            self.stats.malformed += 1;
            return out;
        };
        let server = match m.opts().get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(s)) => Some(*s),
            _ => None,
        };
        match (ty, self.state) {
            (MessageType::Offer, State::Selecting) => {
                let yiaddr = m.yiaddr();
                let Some(server) = server.filter(|_| usable_unicast(yiaddr)) else {
                    // RFC 2131 4.3.1: an OFFER carries the server
                    // identifier and the offered address.
                    self.stats.malformed += 1;
                    return out;
                };
                self.stats.offers += 1;
                // The first acceptable offer is taken (RFC 2131 4.4.1
                // lets the client choose; waiting buys nothing here).
                self.offer = Some((yiaddr, server));
                self.state = State::Requesting;
                self.backoff = FIRST_BACKOFF;
                self.tries = 0;
                self.request_sent = now;
                self.send_select_request(now, &mut out);
            }
            (MessageType::Ack, State::Requesting | State::Renewing | State::Rebinding) => {
                if self.state == State::Requesting
                    && server.is_some_and(|s| Some(s) != self.offer.map(|o| o.1))
                {
                    // RFC 2131 4.3.2: only the selected server commits.
                    self.stats.unexpected += 1;
                    return out;
                }
                let Some(lease) = self.lease_from_ack(&m, server) else {
                    self.stats.malformed += 1;
                    return out;
                };
                self.stats.acks += 1;
                self.bind(lease, &mut out);
            }
            (MessageType::Nak, State::Requesting | State::Renewing | State::Rebinding) => {
                if self.state == State::Requesting
                    && server.is_some_and(|s| Some(s) != self.offer.map(|o| o.1))
                {
                    self.stats.unexpected += 1;
                    return out;
                }
                // RFC 2131 3.1 step 5 / 4.4.5: a NAK restarts the
                // configuration process; the address is not ours anymore.
                self.stats.naks += 1;
                self.drop_lease(&mut out);
                self.init(now, &mut out);
            }
            _ => self.stats.unexpected += 1,
        }
        out
    }

    fn lease_from_ack(&self, m: &Message, server: Option<Ipv4Addr>) -> Option<Lease> {
        let address = m.yiaddr();
        if !usable_unicast(address) {
            return None;
        }
        // In RENEWING the ACK comes from the server we know; a REBINDING
        // ACK may come from any server and must name itself (RFC 2131
        // 4.3.1: the server identifier is a MUST in an ACK).
        let server = server.or_else(|| self.lease.as_ref().map(|l| l.server))?;
        let opts = m.opts();
        let lease_secs = match opts.get(OptionCode::AddressLeaseTime) {
            Some(DhcpOption::AddressLeaseTime(t)) => *t,
            _ => return None,
        };
        let prefix_len = match opts.get(OptionCode::SubnetMask) {
            Some(DhcpOption::SubnetMask(mask)) => {
                let bits = u32::from(*mask);
                let len = bits.leading_ones();
                // Only contiguous masks that leave room for a host.
                if bits.count_ones() != len || !(1..=30).contains(&len) {
                    return None;
                }
                len as u8
            }
            // RFC 2131 leaves the mask optional; the address's natural
            // class mask is what a client without one falls back on.
            _ => match address.octets()[0] {
                0..=127 => 8,
                128..=191 => 16,
                _ => 24,
            },
        };
        let router = match opts.get(OptionCode::Router) {
            Some(DhcpOption::Router(rs)) => rs.iter().copied().find(|r| usable_unicast(*r)),
            _ => None,
        };
        let granted_at = self.request_sent;
        let (lease_time, renew_at, rebind_at, expires_at) = if lease_secs == u32::MAX {
            (None, None, None, None)
        } else {
            let lt = Duration::from_secs(lease_secs.into());
            if lt < MIN_LEASE {
                return None;
            }
            // RFC 2131 4.4.5: T1 defaults to 0.5 and T2 to 0.875 of the
            // lease; the server's own values are taken when they are in
            // order (T1 < T2 < lease).
            let t = |c: OptionCode| match opts.get(c) {
                Some(DhcpOption::Renewal(v)) | Some(DhcpOption::Rebinding(v)) => {
                    Some(Duration::from_secs((*v).into()))
                }
                _ => None,
            };
            let mut t1 = lt / 2;
            let mut t2 = lt * 7 / 8;
            if let (Some(a), Some(b)) = (t(OptionCode::Renewal), t(OptionCode::Rebinding)) {
                if a < b && b < lt && !a.is_zero() {
                    t1 = a;
                    t2 = b;
                }
            } else if let Some(a) = t(OptionCode::Renewal).filter(|a| *a < t2 && !a.is_zero()) {
                t1 = a;
            } else if let Some(b) = t(OptionCode::Rebinding).filter(|b| *b > t1 && *b < lt) {
                t2 = b;
            }
            (
                Some(lt),
                Some(granted_at + t1),
                Some(granted_at + t2),
                Some(granted_at + lt),
            )
        };
        Some(Lease {
            address,
            prefix_len,
            router,
            server,
            lease_time,
            granted_at,
            renew_at,
            rebind_at,
            expires_at,
        })
    }

    /// → BOUND. `Acquired` when the address, prefix or router changed
    /// (a renewal with the same ones only moves the timers).
    fn bind(&mut self, lease: Lease, out: &mut Vec<Action>) {
        let same = self.lease.as_ref().is_some_and(|old| {
            old.address == lease.address
                && old.prefix_len == lease.prefix_len
                && old.router == lease.router
        });
        if !same {
            self.drop_lease(out);
            self.stats.leases_acquired += 1;
            out.push(Action::Acquired(lease.clone()));
        }
        self.state = State::Bound;
        self.next_timer = lease.renew_at;
        self.offer = None;
        self.lease = Some(lease);
    }
}

/// The fixed part of a DHCP message: BOOTP's 236 bytes and the magic
/// cookie (RFC 2131 3).
const FIXED: usize = 240;
const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// The reply with only the options the client reads, each checked for its
/// length (RFC 2132), or `None` if the message or its option list is
/// malformed. `dhcproto`'s decoder asserts on some malformed option
/// lengths; what reaches it here is well-formed.
fn sanitize(payload: &[u8]) -> Option<Vec<u8>> {
    if payload.len() < FIXED || payload[236..FIXED] != MAGIC {
        return None;
    }
    let mut out = payload[..FIXED].to_vec();
    let mut rest = &payload[FIXED..];
    loop {
        match rest {
            // No End option: the list ran to the end of the datagram.
            [] => break,
            [255, ..] => break,
            [0, tail @ ..] => rest = tail,
            [code, len, tail @ ..] => {
                let len = *len as usize;
                let data = tail.get(..len)?;
                let ok = match code {
                    53 => len == 1,
                    1 | 51 | 54 | 58 | 59 => len == 4,
                    3 => len >= 4 && len.is_multiple_of(4),
                    _ => false,
                };
                if ok {
                    out.push(*code);
                    out.push(len as u8);
                    out.extend_from_slice(data);
                } else if matches!(code, 53 | 1 | 51 | 54 | 58 | 59 | 3) {
                    return None;
                }
                rest = &tail[len..];
            }
            [_] => return None,
        }
    }
    out.push(255);
    Some(out)
}

/// An address a host can hold: not zero, broadcast, multicast, loopback
/// or class E.
fn usable_unicast(a: Ipv4Addr) -> bool {
    !(a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_loopback()
        || a.octets()[0] >= 240)
}
