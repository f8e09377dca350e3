//! The sans-IO RADIUS client engine: asks the configured servers for a
//! mobile node's security association and caches what they answer.
//!
//! Like the protocol engines of `pmip-engine`, it is fed events with the
//! time passed in ([`RadiusClient::request`], [`RadiusClient::receive`],
//! [`RadiusClient::handle_timeout`]) and pushes [`Action`]s: datagrams to
//! send and finished lookups. It never reads a clock, never touches a
//! socket and takes its randomness as a seed, so tests run it with
//! simulated time and a simulated server (`tests/engine.rs`).
//!
//! Retransmission and failover follow IOS's `radius-server timeout` and
//! `radius-server retransmit`: a request is sent, resent every `timeout`
//! up to `retransmit` times (the same packet, same Identifier and Request
//! Authenticator, RFC 2865 3 and RFC 5080 2.2.1), and after the last wait
//! the next server in order gets a new packet (its own Identifier,
//! authenticator and secret). Identifiers are unique per server among
//! outstanding requests; when all 256 are taken, lookups wait in a queue.
//! Concurrent lookups of one home address share one request.
//!
//! Every answer is checked before anything in it is believed: it must come
//! from the server (address and port) the request went to, carry the
//! Identifier of a request outstanding there, and its Response
//! Authenticator must verify (RFC 2865 3); a Message-Authenticator, when
//! present, must verify too (RFC 3579 3.2). What fails is dropped and
//! counted, never accepted, and the request carries on (retransmits, then
//! fails over). An authentic Access-Reject (or Access-Challenge, which
//! this client cannot answer: RFC 2865 4.4 says treat it as a reject)
//! ends the lookup at once, with no failover.

use crate::auth;
use crate::packet::{
    AUTH_LEN, Attribute, CISCO_AVPAIR, Code, HEADER_LEN, MAX_LEN, Packet, VENDOR_CISCO,
    VendorAttrIter, attr,
};
use crate::sa::{AvPairError, Sa, SpiRadix, parse_av_pair};
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::time::Duration;
use hmac::{Hmac, Mac};
use md5::Md5;
use pmip_engine::time::Instant;
use std::collections::{BTreeSet, HashMap, VecDeque};
use tracing::debug;

/// The password IOS puts in the Access-Request when it fetches a mobile
/// node's SA (`ip mobile host ... aaa`); see the crate docs for what we
/// could and could not confirm about it.
pub const DEFAULT_PASSWORD: &[u8] = b"cisco";
/// How long a fetched SA is used before the server is asked again.
pub const DEFAULT_CACHE_LIFETIME: Duration = Duration::from_secs(600);

/// One RADIUS server.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub addr: SocketAddrV4,
    /// The shared secret (RFC 2865 3).
    pub secret: Vec<u8>,
    /// Overrides [`ClientConfig::timeout`] (`radius-server host ... timeout`).
    pub timeout: Option<Duration>,
    /// Overrides [`ClientConfig::retransmit`].
    pub retransmit: Option<u32>,
}

impl ServerConfig {
    pub fn new(addr: SocketAddrV4, secret: impl Into<Vec<u8>>) -> ServerConfig {
        ServerConfig {
            addr,
            secret: secret.into(),
            timeout: None,
            retransmit: None,
        }
    }
}

impl core::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("addr", &self.addr)
            .field("secret", &"<hidden>")
            .field("timeout", &self.timeout)
            .field("retransmit", &self.retransmit)
            .finish()
    }
}

/// What the client needs to know.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Tried in order.
    pub servers: Vec<ServerConfig>,
    /// Wait for an answer before resending (`radius-server timeout`).
    pub timeout: Duration,
    /// Resends per server before the next one (`radius-server retransmit`).
    pub retransmit: u32,
    /// NAS-IP-Address of our requests (RFC 2865 5.4).
    pub nas_ip: Ipv4Addr,
    /// User-Password of our requests, hidden per RFC 2865 5.2.
    pub password: Vec<u8>,
    /// How long a fetched SA is used without asking again.
    pub cache_lifetime: Duration,
    /// How the SPI in the AV pair is read.
    pub spi_radix: SpiRadix,
    /// Send a Message-Authenticator in requests (RFC 3579 3.2; servers
    /// hardened against BlastRADIUS require it).
    pub message_authenticator: bool,
    /// Drop answers that have no Message-Authenticator.
    pub require_message_authenticator: bool,
}

impl core::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("servers", &self.servers)
            .field("timeout", &self.timeout)
            .field("retransmit", &self.retransmit)
            .field("nas_ip", &self.nas_ip)
            .field("password", &"<hidden>")
            .field("cache_lifetime", &self.cache_lifetime)
            .field("spi_radix", &self.spi_radix)
            .field("message_authenticator", &self.message_authenticator)
            .field(
                "require_message_authenticator",
                &self.require_message_authenticator,
            )
            .finish()
    }
}

impl ClientConfig {
    /// IOS's defaults: timeout 5 s, 3 retransmissions, password `cisco`.
    pub fn new(servers: Vec<ServerConfig>, nas_ip: Ipv4Addr) -> ClientConfig {
        ClientConfig {
            servers,
            timeout: Duration::from_secs(pmip_config::DEFAULT_RADIUS_TIMEOUT.into()),
            retransmit: pmip_config::DEFAULT_RADIUS_RETRANSMIT,
            nas_ip,
            password: DEFAULT_PASSWORD.to_vec(),
            cache_lifetime: DEFAULT_CACHE_LIFETIME,
            spi_radix: SpiRadix::default(),
            message_authenticator: true,
            require_message_authenticator: false,
        }
    }

    /// From the device's `aaa` / `radius-server` lines: every
    /// `radius-server host` in order with its key (or `radius-server
    /// key`), auth port, timeout and retransmit.
    pub fn from_aaa(aaa: &pmip_config::Aaa, nas_ip: Ipv4Addr) -> Result<ClientConfig, ConfigError> {
        let servers = aaa
            .radius_servers
            .iter()
            .map(|s| {
                let addr = SocketAddrV4::new(s.address, s.auth_port);
                let key = aaa.key_for(s).ok_or(ConfigError::NoSecret(addr))?;
                Ok(ServerConfig {
                    addr,
                    secret: key.as_bytes().to_vec(),
                    timeout: s.timeout.map(|t| Duration::from_secs(t.into())),
                    retransmit: s.retransmit,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let mut c = ClientConfig::new(servers, nas_ip);
        c.timeout = Duration::from_secs(aaa.radius_timeout().into());
        c.retransmit = aaa.radius_retransmit();
        c.validate()?;
        Ok(c)
    }

    /// What [`RadiusClient::new`] refuses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.servers.is_empty() {
            return Err(ConfigError::NoServers);
        }
        for (i, s) in self.servers.iter().enumerate() {
            // Answers are told apart by their source address and port.
            if self.servers[..i].iter().any(|o| o.addr == s.addr) {
                return Err(ConfigError::DuplicateServer(s.addr));
            }
            // RFC 2865 3: "The secret (password) MUST NOT be empty".
            if s.secret.is_empty() {
                return Err(ConfigError::NoSecret(s.addr));
            }
            if s.timeout.is_some_and(|t| t.is_zero()) {
                return Err(ConfigError::ZeroTimeout);
            }
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        if self.password.len() > auth::MAX_PASSWORD_LEN {
            return Err(ConfigError::PasswordTooLong);
        }
        Ok(())
    }
}

/// A configuration the client cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("no RADIUS server configured")]
    NoServers,
    #[error("RADIUS server {0} has no shared secret (radius-server key)")]
    NoSecret(SocketAddrV4),
    #[error("RADIUS server {0} is configured twice")]
    DuplicateServer(SocketAddrV4),
    #[error("a RADIUS timeout must not be zero")]
    ZeroTimeout,
    #[error("the RADIUS user password is longer than 128 octets (RFC 2865 5.2)")]
    PasswordTooLong,
}

/// Why an authentic answer could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedAnswer {
    #[error("attributes: {0}")]
    Attributes(pmip_wire::Error),
    #[error("Cisco-AVPair: {0}")]
    AvPair(AvPairError),
}

/// How a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RadiusError {
    /// No server gave an acceptable answer in time.
    #[error("no answer from any RADIUS server")]
    Timeout,
    /// Access-Reject (or Access-Challenge, which we cannot answer).
    #[error("the RADIUS server rejected the request")]
    Reject,
    /// Access-Accept whose SA could not be understood.
    #[error("the RADIUS answer is malformed: {0}")]
    Malformed(MalformedAnswer),
    /// Access-Accept without a `mobileip:spi#N` Cisco-AVPair.
    #[error(
        "the RADIUS server sent no mobility security association (Cisco-AVPair mobileip:spi#N)"
    )]
    NoSa,
    /// The driver has stopped (only the tokio driver says this).
    #[error("the RADIUS client is not running")]
    Stopped,
}

/// Names one lookup, from [`RadiusClient::request`] to its [`Action::Done`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// The immediate outcome of [`RadiusClient::request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// From the cache: no request needed.
    Cached(Sa),
    /// Asked (or already being asked); an [`Action::Done`] with this id
    /// will follow.
    Pending(RequestId),
}

/// What the engine asks the caller to do.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// Send `datagram` over UDP to `to`.
    Send { to: SocketAddrV4, datagram: Vec<u8> },
    /// A lookup finished.
    Done {
        id: RequestId,
        home_address: Ipv4Addr,
        result: Result<Sa, RadiusError>,
    },
}

impl core::fmt::Debug for Action {
    /// Datagrams carry the hidden password: only their length is shown.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Action::Send { to, datagram } => f
                .debug_struct("Send")
                .field("to", to)
                .field("datagram", &format_args!("<{} octets>", datagram.len()))
                .finish(),
            Action::Done {
                id,
                home_address,
                result,
            } => f
                .debug_struct("Done")
                .field("id", id)
                .field("home_address", home_address)
                .field("result", result)
                .finish(),
        }
    }
}

/// Counters for `show` and the tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Lookups answered from the cache.
    pub cache_hits: u64,
    /// Lookups that needed a server.
    pub requests: u64,
    /// Lookups that joined one already under way for the same address.
    pub coalesced: u64,
    /// Packets sent, first tries (one per server tried).
    pub transmissions: u64,
    pub retransmissions: u64,
    /// Moves to the next server after the last wait.
    pub failovers: u64,
    /// Lookups that waited for a free Identifier.
    pub queued: u64,
    pub accepts: u64,
    pub rejects: u64,
    pub challenges: u64,
    pub timeouts: u64,
    /// Authentic Access-Accepts whose SA was malformed.
    pub malformed_answers: u64,
    /// Authentic Access-Accepts without an SA.
    pub no_sa: u64,
    /// Answers dropped unread: not from a server's address and port.
    pub dropped_wrong_source: u64,
    /// Dropped: shorter than the header, bad Length or unexpected code.
    pub dropped_malformed: u64,
    /// Dropped: no request outstanding with that Identifier at that
    /// server (late, duplicate or forged).
    pub dropped_unknown_id: u64,
    /// Dropped: the Response Authenticator does not verify (wrong shared
    /// secret, or forged).
    pub dropped_bad_authenticator: u64,
    /// Dropped: the Message-Authenticator does not verify, is malformed,
    /// or is missing where required.
    pub dropped_bad_message_authenticator: u64,
}

impl Counters {
    /// Every answer dropped, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_wrong_source
            + self.dropped_malformed
            + self.dropped_unknown_id
            + self.dropped_bad_authenticator
            + self.dropped_bad_message_authenticator
    }
}

/// A cached SA and where it came from.
#[derive(Debug, Clone)]
struct CacheEntry {
    sa: Sa,
    server: SocketAddrV4,
    fetched: Instant,
    expires: Instant,
}

/// A cache entry as `show` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedSa<'a> {
    pub home_address: Ipv4Addr,
    pub sa: &'a Sa,
    /// The server that sent it.
    pub server: SocketAddrV4,
    /// Time since it arrived.
    pub age: Duration,
    /// Time until it is fetched again.
    pub expires_in: Duration,
}

/// Where a lookup stands.
#[derive(Debug, Clone)]
enum State {
    /// Waiting for a free Identifier at `server`.
    Queued { server: usize },
    /// Sent to `server` with `identifier`.
    Sent {
        server: usize,
        identifier: u8,
        request_auth: [u8; AUTH_LEN],
        datagram: Vec<u8>,
        resends_left: u32,
        next: Instant,
    },
}

#[derive(Debug, Clone)]
struct Request {
    home: Ipv4Addr,
    state: State,
}

/// The RADIUS client engine. See the module docs.
pub struct RadiusClient {
    config: ClientConfig,
    seed: [u8; 32],
    draws: u64,
    requests: HashMap<RequestId, Request>,
    by_home: HashMap<Ipv4Addr, RequestId>,
    /// (server index, Identifier) of every request on the wire.
    in_flight: HashMap<(usize, u8), RequestId>,
    /// Identifiers in use, per server (256 means none is free).
    busy: Vec<usize>,
    /// Next Identifier to try, per server.
    next_identifier: Vec<u8>,
    /// Lookups waiting for an Identifier, per server, oldest first.
    queues: Vec<VecDeque<RequestId>>,
    /// When each request on the wire is due (resend or fail over), so
    /// the next deadline is found without scanning every request.
    timers: BTreeSet<(Instant, RequestId)>,
    next_request: u64,
    cache: HashMap<Ipv4Addr, CacheEntry>,
    /// Expiry order of the cache (the lifetime is fixed, so insertion
    /// order is expiry order); stale pairs are skipped.
    expiry: VecDeque<(Instant, Ipv4Addr)>,
    counters: Counters,
}

impl core::fmt::Debug for RadiusClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RadiusClient")
            .field("config", &self.config)
            .field("outstanding", &self.requests.len())
            .field("cached", &self.cache.len())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl RadiusClient {
    /// A client for `config`. `seed` makes every Request Authenticator
    /// and first Identifier: it must be secret and random (the tokio
    /// driver takes it from the OS), since RFC 2865 3 wants Request
    /// Authenticators unpredictable. Tests pass a fixed one.
    pub fn new(config: ClientConfig, seed: [u8; 32]) -> Result<RadiusClient, ConfigError> {
        config.validate()?;
        let mut c = RadiusClient {
            seed,
            draws: 0,
            requests: HashMap::new(),
            by_home: HashMap::new(),
            in_flight: HashMap::new(),
            busy: vec![0; config.servers.len()],
            next_identifier: Vec::new(),
            queues: vec![VecDeque::new(); config.servers.len()],
            timers: BTreeSet::new(),
            next_request: 0,
            cache: HashMap::new(),
            expiry: VecDeque::new(),
            counters: Counters::default(),
            config,
        };
        c.next_identifier = (0..c.config.servers.len()).map(|_| c.random()[0]).collect();
        Ok(c)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Lookups under way.
    pub fn outstanding(&self) -> usize {
        self.requests.len()
    }

    /// 16 fresh octets: HMAC-MD5 keyed with the seed over a counter, a
    /// PRF whose outputs cannot be predicted without the seed.
    fn random(&mut self) -> [u8; AUTH_LEN] {
        self.draws += 1;
        let mut m =
            <Hmac<Md5> as Mac>::new_from_slice(&self.seed).expect("HMAC takes any key length");
        m.update(&self.draws.to_be_bytes());
        m.finalize().into_bytes().into()
    }

    fn timeout_of(&self, server: usize) -> Duration {
        self.config.servers[server]
            .timeout
            .unwrap_or(self.config.timeout)
    }

    fn retransmit_of(&self, server: usize) -> u32 {
        self.config.servers[server]
            .retransmit
            .unwrap_or(self.config.retransmit)
    }

    /// Asks for `home`'s SA: from the cache when it holds a live one,
    /// else from the servers (joining a lookup already under way for the
    /// same address).
    pub fn request(&mut self, now: Instant, home: Ipv4Addr, out: &mut Vec<Action>) -> Lookup {
        self.purge(now);
        if let Some(e) = self.cache.get(&home)
            && now < e.expires
        {
            self.counters.cache_hits += 1;
            return Lookup::Cached(e.sa.clone());
        }
        if let Some(&id) = self.by_home.get(&home) {
            self.counters.coalesced += 1;
            return Lookup::Pending(id);
        }
        self.counters.requests += 1;
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.requests.insert(
            id,
            Request {
                home,
                state: State::Queued { server: 0 },
            },
        );
        self.by_home.insert(home, id);
        self.start(id, 0, now, out);
        Lookup::Pending(id)
    }

    /// Sends request `id` to `server` (or queues it for an Identifier, or
    /// fails it when no server is left).
    fn start(&mut self, id: RequestId, server: usize, now: Instant, out: &mut Vec<Action>) {
        if server >= self.config.servers.len() {
            self.counters.timeouts += 1;
            self.finish(id, Err(RadiusError::Timeout), out);
            return;
        }
        let Some(identifier) = self.free_identifier(server) else {
            if let Some(r) = self.requests.get_mut(&id) {
                r.state = State::Queued { server };
            }
            self.counters.queued += 1;
            self.queues[server].push_back(id);
            return;
        };
        let Some(home) = self.requests.get(&id).map(|r| r.home) else {
            return;
        };
        let request_auth = self.random();
        let datagram = self.access_request(server, identifier, &request_auth, home);
        let s = &self.config.servers[server];
        out.push(Action::Send {
            to: s.addr,
            datagram: datagram.clone(),
        });
        self.counters.transmissions += 1;
        self.in_flight.insert((server, identifier), id);
        self.busy[server] += 1;
        let next = now + self.timeout_of(server);
        self.timers.insert((next, id));
        let state = State::Sent {
            server,
            identifier,
            request_auth,
            datagram,
            resends_left: self.retransmit_of(server),
            next,
        };
        if let Some(r) = self.requests.get_mut(&id) {
            r.state = state;
        }
    }

    fn free_identifier(&mut self, server: usize) -> Option<u8> {
        if self.busy[server] >= 256 {
            return None;
        }
        let start = self.next_identifier[server];
        for k in 0..=255u8 {
            let id = start.wrapping_add(k);
            if !self.in_flight.contains_key(&(server, id)) {
                self.next_identifier[server] = id.wrapping_add(1);
                return Some(id);
            }
        }
        None
    }

    /// The Access-Request for `home` to `server` (RFC 2865 4.1): User-Name
    /// is the home address in dotted form, as IOS sends it; the password
    /// hidden with this server's secret; NAS-IP-Address; and a
    /// Message-Authenticator (first, as RFC 3579 and the BlastRADIUS
    /// advice suggest).
    fn access_request(
        &self,
        server: usize,
        identifier: u8,
        request_auth: &[u8; AUTH_LEN],
        home: Ipv4Addr,
    ) -> Vec<u8> {
        let secret = &self.config.servers[server].secret;
        let user = home.to_string();
        let mut hidden = [0u8; auth::MAX_PASSWORD_LEN];
        // The password length was validated in `new`, and `hidden` has
        // room for the longest one.
        let n = auth::hide_password(&self.config.password, secret, request_auth, &mut hidden)
            .unwrap_or(0);
        let mut attributes = Vec::with_capacity(4);
        if self.config.message_authenticator {
            attributes.push(Attribute::MessageAuthenticator([0; AUTH_LEN]));
        }
        attributes.push(Attribute::UserName(user.as_bytes()));
        attributes.push(Attribute::UserPassword(&hidden[..n]));
        attributes.push(Attribute::NasIpAddress(self.config.nas_ip));
        let repr = crate::packet::Repr {
            code: Code::AccessRequest,
            identifier,
            authenticator: *request_auth,
            attributes,
        };
        // At most 20 + 18 + 17 + 130 + 6 octets: always fits and emits.
        let mut buf = repr.to_vec().unwrap_or_default();
        let _ = auth::sign_request(&mut buf, secret);
        buf
    }

    /// When [`RadiusClient::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retransmit = self.timers.first().map(|(t, _)| *t);
        let expiry = self.expiry.front().map(|(t, _)| *t);
        match (retransmit, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Resends, fails over and expires what is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.purge(now);
        while let Some(&(due, id)) = self.timers.first() {
            if due > now {
                break;
            }
            self.timers.pop_first();
            let Some(r) = self.requests.get_mut(&id) else {
                continue;
            };
            let State::Sent {
                server,
                identifier,
                ref datagram,
                ref mut resends_left,
                ref mut next,
                ..
            } = r.state
            else {
                continue;
            };
            if *resends_left > 0 {
                // RFC 2865 3 / RFC 5080 2.2.1: a retransmission is the
                // same packet, same Identifier and authenticator.
                *resends_left -= 1;
                let timeout = self.config.servers[server]
                    .timeout
                    .unwrap_or(self.config.timeout);
                *next = now + timeout;
                self.timers.insert((*next, id));
                out.push(Action::Send {
                    to: self.config.servers[server].addr,
                    datagram: datagram.clone(),
                });
                self.counters.retransmissions += 1;
            } else {
                self.release(server, identifier);
                if server + 1 < self.config.servers.len() {
                    self.counters.failovers += 1;
                    debug!(
                        server = %self.config.servers[server].addr,
                        next = %self.config.servers[server + 1].addr,
                        "RADIUS server did not answer; failing over"
                    );
                }
                self.start(id, server + 1, now, out);
            }
        }
        self.drain_queues(now, out);
    }

    /// Frees `server`'s Identifier `identifier`.
    fn release(&mut self, server: usize, identifier: u8) {
        if self.in_flight.remove(&(server, identifier)).is_some() {
            self.busy[server] -= 1;
        }
    }

    /// Starts queued lookups for which an Identifier has come free, oldest
    /// first.
    fn drain_queues(&mut self, now: Instant, out: &mut Vec<Action>) {
        for server in 0..self.queues.len() {
            while self.busy[server] < 256 {
                let Some(id) = self.queues[server].pop_front() else {
                    break;
                };
                if matches!(
                    self.requests.get(&id).map(|r| &r.state),
                    Some(State::Queued { server: s }) if *s == server
                ) {
                    self.start(id, server, now, out);
                }
            }
        }
    }

    fn finish(&mut self, id: RequestId, result: Result<Sa, RadiusError>, out: &mut Vec<Action>) {
        let Some(r) = self.requests.remove(&id) else {
            return;
        };
        if let State::Sent {
            server,
            identifier,
            next,
            ..
        } = r.state
        {
            self.release(server, identifier);
            self.timers.remove(&(next, id));
        }
        self.by_home.remove(&r.home);
        out.push(Action::Done {
            id,
            home_address: r.home,
            result,
        });
    }

    /// A datagram arrived from `from`.
    pub fn receive(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        out: &mut Vec<Action>,
    ) {
        let server = match from {
            SocketAddr::V4(a) => self.config.servers.iter().position(|s| s.addr == a),
            SocketAddr::V6(_) => None,
        };
        let Some(server) = server else {
            self.counters.dropped_wrong_source += 1;
            debug!(%from, "RADIUS answer from an unknown source dropped");
            return;
        };
        let Ok(packet) = Packet::new_checked(datagram) else {
            self.counters.dropped_malformed += 1;
            debug!(%from, "malformed RADIUS answer dropped");
            return;
        };
        let code = packet.code();
        if !matches!(
            code,
            Code::AccessAccept | Code::AccessReject | Code::AccessChallenge
        ) {
            self.counters.dropped_malformed += 1;
            debug!(%from, ?code, "RADIUS packet that is no answer dropped");
            return;
        }
        let Some(&id) = self.in_flight.get(&(server, packet.identifier())) else {
            self.counters.dropped_unknown_id += 1;
            debug!(%from, identifier = packet.identifier(), "RADIUS answer to no outstanding request dropped");
            return;
        };
        let Some(State::Sent { request_auth, .. }) = self.requests.get(&id).map(|r| &r.state)
        else {
            self.counters.dropped_unknown_id += 1;
            return;
        };
        let request_auth = *request_auth;
        let bytes = packet.as_bytes();
        let secret = &self.config.servers[server].secret;
        // RFC 2865 3: the Response Authenticator proves the answer comes
        // from a holder of the secret and answers this very request.
        if !auth::verify_response_authenticator(bytes, &request_auth, secret) {
            self.counters.dropped_bad_authenticator += 1;
            debug!(%from, "RADIUS answer with a bad Response Authenticator dropped (wrong shared secret?)");
            return;
        }
        // RFC 3579 3.2: a Message-Authenticator that is present must verify.
        match auth::verify_message_authenticator(bytes, &request_auth, secret) {
            Ok(auth::MessageAuth::Valid) => {}
            Ok(auth::MessageAuth::Absent) if !self.config.require_message_authenticator => {}
            _ => {
                self.counters.dropped_bad_message_authenticator += 1;
                debug!(%from, "RADIUS answer with a bad or missing Message-Authenticator dropped");
                return;
            }
        }
        let result = match code {
            Code::AccessAccept => {
                self.counters.accepts += 1;
                match sa_from_attributes(packet.attribute_bytes(), self.config.spi_radix) {
                    Ok(Some(sa)) => {
                        self.insert_cache(now, self.requests[&id].home, sa.clone(), server);
                        Ok(sa)
                    }
                    Ok(None) => {
                        self.counters.no_sa += 1;
                        Err(RadiusError::NoSa)
                    }
                    Err(e) => {
                        self.counters.malformed_answers += 1;
                        Err(RadiusError::Malformed(e))
                    }
                }
            }
            Code::AccessChallenge => {
                self.counters.challenges += 1;
                Err(RadiusError::Reject)
            }
            _ => {
                self.counters.rejects += 1;
                Err(RadiusError::Reject)
            }
        };
        self.finish(id, result, out);
        self.drain_queues(now, out);
    }

    fn insert_cache(&mut self, now: Instant, home: Ipv4Addr, sa: Sa, server: usize) {
        let expires = now + self.config.cache_lifetime;
        self.cache.insert(
            home,
            CacheEntry {
                sa,
                server: self.config.servers[server].addr,
                fetched: now,
                expires,
            },
        );
        self.expiry.push_back((expires, home));
    }

    /// Drops cache entries whose lifetime is over.
    fn purge(&mut self, now: Instant) {
        while let Some(&(t, home)) = self.expiry.front() {
            if t > now {
                break;
            }
            self.expiry.pop_front();
            if self.cache.get(&home).is_some_and(|e| e.expires == t) {
                self.cache.remove(&home);
            }
        }
    }

    /// The live cache entries (for `show`), in no particular order.
    pub fn cache(&self, now: Instant) -> impl Iterator<Item = CachedSa<'_>> + '_ {
        self.cache
            .iter()
            .filter(move |(_, e)| now < e.expires)
            .map(move |(home, e)| CachedSa {
                home_address: *home,
                sa: &e.sa,
                server: e.server,
                age: now.saturating_since(e.fetched),
                expires_in: e.expires.saturating_since(now),
            })
    }

    /// The live cache entry of `home`.
    pub fn cached(&self, now: Instant, home: Ipv4Addr) -> Option<CachedSa<'_>> {
        self.cache(now).find(|c| c.home_address == home)
    }

    /// Forgets `home`'s SA (the next lookup asks the server), e.g. after
    /// a registration failed to authenticate with it. True if there was one.
    pub fn forget(&mut self, home: Ipv4Addr) -> bool {
        self.cache.remove(&home).is_some()
    }

    /// Forgets every cached SA (`clear ip mobile secure`).
    pub fn clear_cache(&mut self) {
        self.cache.clear();
        self.expiry.clear();
    }
}

/// The SA in an authentic Access-Accept's attributes: the Cisco-AVPair
/// `mobileip:spi#N` with the lowest N. Unknown attributes and vendors are
/// ignored; a malformed attribute list or SA pair is an error (nothing
/// half-understood becomes a key).
pub fn sa_from_attributes(attrs: &[u8], radix: SpiRadix) -> Result<Option<Sa>, MalformedAnswer> {
    let mut best: Option<(u32, Sa)> = None;
    for a in crate::packet::AttrIter::new(attrs) {
        let a = a.map_err(MalformedAnswer::Attributes)?;
        if a.kind != attr::VENDOR_SPECIFIC {
            continue;
        }
        let Attribute::VendorSpecific { vendor_id, data } =
            Attribute::parse(a).map_err(MalformedAnswer::Attributes)?
        else {
            continue;
        };
        if vendor_id != VENDOR_CISCO {
            continue;
        }
        for v in VendorAttrIter::new(data) {
            let v = v.map_err(MalformedAnswer::Attributes)?;
            if v.vendor_type != CISCO_AVPAIR {
                continue;
            }
            let Some((index, sa)) =
                parse_av_pair(v.value, radix).map_err(MalformedAnswer::AvPair)?
            else {
                continue;
            };
            match &best {
                Some((i, _)) if *i == index => {
                    return Err(MalformedAnswer::AvPair(AvPairError::Duplicate(
                        "spi#N index",
                    )));
                }
                Some((i, _)) if *i < index => {}
                _ => best = Some((index, sa)),
            }
        }
    }
    Ok(best.map(|(_, sa)| sa))
}

/// Builds an answer to `request` as a server would (for tests, the
/// benchmark's simulated server and tools): `code`, the request's
/// Identifier, `attributes`, a Message-Authenticator when `with_ma`, signed
/// with `secret`. `None` if `request` is no valid packet or the answer
/// would not fit.
pub fn build_answer(
    request: &[u8],
    code: Code,
    attributes: &[Attribute<'_>],
    with_ma: bool,
    secret: &[u8],
) -> Option<Vec<u8>> {
    let req = Packet::new_checked(request).ok()?;
    let request_auth = req.authenticator();
    let mut attrs = Vec::with_capacity(attributes.len() + 1);
    if with_ma {
        attrs.push(Attribute::MessageAuthenticator([0; AUTH_LEN]));
    }
    attrs.extend_from_slice(attributes);
    let repr = crate::packet::Repr {
        code,
        identifier: req.identifier(),
        authenticator: request_auth,
        attributes: attrs,
    };
    if repr.buffer_len() > MAX_LEN {
        return None;
    }
    let mut buf = repr.to_vec().ok()?;
    auth::sign_response(&mut buf, &request_auth, secret).ok()?;
    debug_assert!(buf.len() >= HEADER_LEN);
    Some(buf)
}
