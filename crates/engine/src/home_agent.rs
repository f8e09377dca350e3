//! The home agent engine (RFC 5944 section 3.8, RFC 3024 for reverse
//! tunnels), sans-IO: fed registration requests and timer ticks with the
//! time passed in, it returns the replies to send and the binding changes
//! for the platform to install.

use crate::binding::{Binding, BindingTable, Upsert};
use crate::codec::{self, ReplyParams, Request};
use crate::host_range::HostRanges;
use crate::security::{self, ReplayFault, SecurityAssociation};
use crate::time::{Instant, Now};
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use pmip_wire::identification::Identification;
use pmip_wire::registration::ReplyCode;
use pmip_wire::tunnel::Encapsulation;
use std::collections::{BTreeMap, HashMap};

/// One home network the agent serves: its address on that link is the
/// home agent address for the mobile nodes whose home it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeNetwork {
    pub interface: String,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
}

impl HomeNetwork {
    fn mask(&self) -> u32 {
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len)
        }
    }
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & self.mask() == u32::from(self.address) & self.mask()
    }
    /// The subnet-directed broadcast address (RFC 5944 3.8.3.1 dynamic
    /// home agent discovery sends to it).
    pub fn broadcast(&self) -> Ipv4Addr {
        (u32::from(self.address) | !self.mask()).into()
    }
}

/// `ip mobile host LOW [HIGH] interface IF [lifetime N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobileHost {
    pub interface: String,
    pub lifetime: Option<u16>,
}

/// What the home agent is configured with (built by the device from
/// `ip mobile home-agent`, `ip mobile host`, `ip mobile secure ...`).
#[derive(Debug, Clone)]
pub struct HomeAgentConfig {
    pub networks: Vec<HomeNetwork>,
    /// Longest lifetime granted (IOS `lifetime`, default 36000 s).
    pub max_lifetime: u16,
    pub hosts: HostRanges<MobileHost>,
    /// `ip mobile secure host`: MHAE associations with mobile nodes.
    pub host_sas: HostRanges<SecurityAssociation>,
    /// `ip mobile secure foreign-agent`: FHAE associations (only looked
    /// up, never iterated, so its order cannot reach the actions).
    pub foreign_agent_sas: HashMap<Ipv4Addr, SecurityAssociation>,
    /// Refuse reverse tunnels (code 137) when false.
    pub reverse_tunnel: bool,
    /// Care-of addresses kept per home address when the S bit is set.
    pub max_simultaneous: usize,
    /// `ip mobile bindupdate [ack]`: notify the previous foreign agent.
    pub bind_update: Option<BindUpdatePolicy>,
    /// `ip mobile host ... aaa`: hosts whose association comes from the
    /// AAA server when none is configured locally (local ones win).
    pub aaa_hosts: HostRanges<()>,
    /// How long an association from the AAA server is kept (IOS `aaa
    /// load-sa`); zero asks the server at every registration (`aaa`).
    pub aaa_cache_lifetime: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindUpdatePolicy {
    pub ack: bool,
    pub retry_interval: Duration,
    pub retries: u8,
}

impl Default for HomeAgentConfig {
    fn default() -> Self {
        HomeAgentConfig {
            networks: Vec::new(),
            max_lifetime: 36000,
            hosts: HostRanges::new(),
            host_sas: HostRanges::new(),
            foreign_agent_sas: HashMap::new(),
            reverse_tunnel: true,
            max_simultaneous: 5,
            bind_update: None,
            aaa_hosts: HostRanges::new(),
            aaa_cache_lifetime: Duration::ZERO,
        }
    }
}

/// Registration requests parked per home address while its association
/// is fetched, and in all.
const MAX_PARKED_PER_HOME: usize = 8;
const MAX_PARKED: usize = 1024;

/// A request waiting for its security association from the AAA server.
#[derive(Debug, Clone)]
struct Parked {
    src: SocketAddrV4,
    dst: Ipv4Addr,
    payload: Vec<u8>,
}

/// What the engine asks the platform to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Fetch the mobility security association of `home` from the AAA
    /// server (`ip mobile host ... aaa`) and hand it to
    /// [`HomeAgent::sa_result`]; its requests wait meanwhile.
    FetchSa { home: Ipv4Addr },
    /// Send a UDP datagram from port 434 of `from` to `to`.
    Send {
        from: Ipv4Addr,
        to: SocketAddrV4,
        payload: Vec<u8>,
    },
    /// A binding started: tunnel to its care-of address, route the home
    /// address into the tunnel, proxy-ARP for it on `interface` and send a
    /// gratuitous ARP when `first` (RFC 5944 4.6).
    BindingUp {
        binding: Binding,
        interface: String,
        first: bool,
    },
    /// A binding ended. When `last`, the home address is home again: stop
    /// proxy ARP and route, gratuitous ARP for the mobile node.
    BindingDown {
        binding: Binding,
        interface: String,
        last: bool,
    },
    /// A binding was renewed (new lifetime and identification, nothing to
    /// install): for the state kept across restarts.
    BindingRenewed { binding: Binding },
}

/// Counters for `show ip mobile traffic` (IOS layout: requests, accepted,
/// denied by code, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Associations fetched from the AAA server, and fetches that failed.
    pub aaa_fetched: u64,
    pub aaa_failures: u64,
    pub requests: u64,
    pub accepted: u64,
    pub deregistrations: u64,
    pub denied: BTreeMap<u8, u64>,
    /// Dropped without a reply, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
    pub expired: u64,
    pub bind_updates_sent: u64,
    pub bind_acks_received: u64,
}

impl Counters {
    fn deny(&mut self, code: ReplyCode) {
        *self.denied.entry(code.into()).or_default() += 1;
    }
    /// Counts a drop; true the first time this reason is seen, so the
    /// caller logs each reason once.
    fn drop_reason(&mut self, reason: &'static str) -> bool {
        let n = self.dropped.entry(reason).or_default();
        *n += 1;
        *n == 1
    }
}

/// Why a registration failed its security checks: the reasons of
/// mipSecRecentViolationReason (RFC 2006, MIP-MIB), which `show ip mobile
/// violation` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ViolationReason {
    /// No mobility security association with the sender.
    NoSecurityAssociation,
    BadAuthenticator,
    /// The Identification failed the replay check (RFC 5944 5.7).
    BadIdentification,
    /// The extension names another SPI than the association's.
    BadSpi,
    /// A mandatory authentication extension is missing.
    MissingExtension,
}

impl ViolationReason {
    /// The MIB's number for the reason.
    pub fn number(self) -> u8 {
        match self {
            ViolationReason::NoSecurityAssociation => 1,
            ViolationReason::BadAuthenticator => 2,
            ViolationReason::BadIdentification => 3,
            ViolationReason::BadSpi => 4,
            ViolationReason::MissingExtension => 5,
        }
    }
}

impl core::fmt::Display for ViolationReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ViolationReason::NoSecurityAssociation => "No mobility security association",
            ViolationReason::BadAuthenticator => "Bad authenticator",
            ViolationReason::BadIdentification => "Bad identification",
            ViolationReason::BadSpi => "Bad SPI",
            ViolationReason::MissingExtension => "Missing security extension",
        })
    }
}

/// Who failed the check: a mobile node (by its home address) or a peer
/// agent (by its address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Violator {
    MobileHost,
    ForeignAgent,
    HomeAgent,
}

/// One security violation (mipSecViolationEntry's fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub at: Instant,
    /// Time of day, for the log's timestamps.
    pub unix: Duration,
    /// The datagram's source.
    pub source: Ipv4Addr,
    pub home_address: Ipv4Addr,
    pub violator: Violator,
    /// The SPI of the offending extension (0 when there was none).
    pub spi: u32,
    pub identification: u64,
    pub reason: ViolationReason,
    /// The reply code sent (0 when nothing was answered).
    pub code: u8,
}

/// The security violation log: the most recent violations (a ring of
/// [`ViolationLog::CAPACITY`]) and totals that survive the ring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViolationLog {
    recent: std::collections::VecDeque<Violation>,
    pub total: u64,
    pub by_reason: BTreeMap<ViolationReason, u64>,
}

impl ViolationLog {
    /// Violations kept; older ones are only counted.
    pub const CAPACITY: usize = 64;

    pub fn record(&mut self, v: Violation) {
        self.total += 1;
        *self.by_reason.entry(v.reason).or_default() += 1;
        if self.recent.len() >= Self::CAPACITY {
            self.recent.pop_front();
        }
        self.recent.push_back(v);
    }

    /// Oldest first.
    pub fn recent(&self) -> impl Iterator<Item = &Violation> {
        self.recent.iter()
    }
}

/// Per mobile host (haCounterEntry of RFC 2006): registrations accepted
/// and denied, when, and the last code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCounters {
    pub accepted: u64,
    pub denied: u64,
    pub last_accepted: Option<Instant>,
    pub last_denied: Option<Instant>,
    /// The last reply code and when it was sent.
    pub last_code: Option<(u8, Instant)>,
    pub violations: u64,
}

/// Hosts without a binding kept with counters at most (configured ranges
/// may be large); beyond, those idle longest make room. A host with a
/// binding always keeps its counters (`show ip mobile host`).
pub const MAX_HOST_COUNTERS: usize = 4096;

/// A Binding Update to a previous foreign agent waiting for its
/// acknowledgement (RFC draft-ietf-mobileip-optim, section 5.4).
#[derive(Debug, Clone)]
struct PendingBindUpdate {
    to: SocketAddrV4,
    from: Ipv4Addr,
    payload: Vec<u8>,
    next_try: Instant,
    tries_left: u8,
}

pub struct HomeAgent {
    config: HomeAgentConfig,
    bindings: BindingTable,
    /// Last accepted Identification per home address (RFC 5944 5.7: each
    /// must be greater than the one before).
    last_ident: BTreeMap<Ipv4Addr, u64>,
    pending_bu: BTreeMap<(Ipv4Addr, Ipv4Addr), PendingBindUpdate>,
    /// Requests waiting for an association from the AAA server.
    awaiting_sa: BTreeMap<Ipv4Addr, Vec<Parked>>,
    /// An association from the AAA server, held while its requests are
    /// processed (the AAA client caches; the engine does not keep keys).
    fetched_sa: Option<(Ipv4Addr, SecurityAssociation)>,
    /// Associations kept for `aaa_cache_lifetime` (`aaa load-sa`).
    aaa_cache: BTreeMap<Ipv4Addr, (SecurityAssociation, Instant)>,
    pub counters: Counters,
    /// `show ip mobile host`: configured hosts only, bounded.
    hosts: BTreeMap<Ipv4Addr, HostCounters>,
    /// `show ip mobile violation`.
    pub violations: ViolationLog,
}

impl HomeAgent {
    pub fn new(config: HomeAgentConfig) -> HomeAgent {
        HomeAgent {
            config,
            bindings: BindingTable::new(),
            last_ident: BTreeMap::new(),
            pending_bu: BTreeMap::new(),
            awaiting_sa: BTreeMap::new(),
            fetched_sa: None,
            aaa_cache: BTreeMap::new(),
            counters: Counters::default(),
            hosts: BTreeMap::new(),
            violations: ViolationLog::default(),
        }
    }

    /// The association for `home`: configured locally, else the one just
    /// fetched from the AAA server.
    fn sa_for(&self, now: Instant, home: Ipv4Addr) -> Option<SecurityAssociation> {
        self.config
            .host_sas
            .get(home)
            .map(|(_, _, sa)| sa.clone())
            .or_else(|| {
                self.fetched_sa
                    .as_ref()
                    .filter(|(h, _)| *h == home)
                    .map(|(_, sa)| sa.clone())
            })
            .or_else(|| {
                self.aaa_cache
                    .get(&home)
                    .filter(|(_, expires)| *expires > now)
                    .map(|(sa, _)| sa.clone())
            })
    }

    /// The AAA server's answer for `home`: its parked requests are
    /// processed with the association, or denied with 131 (RFC 5944
    /// 3.8.2.1: the home agent cannot authenticate the mobile node) when
    /// the server failed, rejected or gave nothing usable.
    pub fn sa_result(
        &mut self,
        now: Now,
        home: Ipv4Addr,
        result: Result<SecurityAssociation, String>,
        out: &mut Vec<Action>,
    ) {
        let parked = self.awaiting_sa.remove(&home).unwrap_or_default();
        match result {
            Ok(sa) => {
                self.counters.aaa_fetched += 1;
                if !self.config.aaa_cache_lifetime.is_zero() {
                    // Bounded; expired entries go first.
                    if self.aaa_cache.len() >= 1 << 20 {
                        self.aaa_cache.retain(|_, (_, e)| *e > now.instant);
                    }
                    if self.aaa_cache.len() < 1 << 20 {
                        self.aaa_cache.insert(
                            home,
                            (sa.clone(), now.instant + self.config.aaa_cache_lifetime),
                        );
                    }
                }
                self.fetched_sa = Some((home, sa));
                for p in parked {
                    // Counted once, when it first arrived.
                    self.counters.requests = self.counters.requests.saturating_sub(1);
                    self.handle_request(now, p.src, p.dst, &p.payload, out);
                }
                self.fetched_sa = None;
            }
            Err(reason) => {
                self.counters.aaa_failures += 1;
                tracing::warn!(%home, %reason, "no security association from the AAA server; registration denied (131)");
                for p in parked {
                    if let Ok(req) = codec::parse_request(&p.payload) {
                        self.violation(
                            now,
                            *p.src.ip(),
                            &req,
                            Violator::MobileHost,
                            req.mhae.as_ref().map_or(0, |m| m.spi),
                            ViolationReason::NoSecurityAssociation,
                            ReplyCode::MobileNodeFailedAuthenticationHa,
                        );
                        self.deny(
                            now,
                            p.src,
                            p.dst,
                            &req,
                            ReplyCode::MobileNodeFailedAuthenticationHa,
                            out,
                        );
                    }
                }
            }
        }
    }

    /// The last accepted Identification of `home` (replay protection,
    /// RFC 5944 5.7), for the state kept across restarts.
    pub fn last_identification(&self, home: Ipv4Addr) -> Option<u64> {
        self.last_ident.get(&home).copied()
    }

    /// After a restart: the bindings and replay state kept from before.
    /// Each binding's `expires` is already on this run's clock; expired
    /// ones are dropped. The kernel state of each is installed again
    /// (BindingUp, `first` for the first of its home address).
    pub fn restore(
        &mut self,
        now: Now,
        bindings: Vec<Binding>,
        identifications: Vec<(Ipv4Addr, u64)>,
        out: &mut Vec<Action>,
    ) {
        for (home, ident) in identifications {
            let e = self.last_ident.entry(home).or_insert(ident);
            *e = (*e).max(ident);
        }
        for b in bindings {
            if b.expires <= now.instant || !self.config.hosts.contains(b.home_address) {
                continue;
            }
            let first = self.bindings.get(b.home_address).is_empty();
            let e = self
                .last_ident
                .entry(b.home_address)
                .or_insert(b.identification);
            *e = (*e).max(b.identification);
            let interface = self.interface_for(b.home_address);
            self.bindings
                .upsert(b.clone(), true, self.config.max_simultaneous);
            out.push(Action::BindingUp {
                binding: b,
                interface,
                first,
            });
        }
    }

    pub fn config(&self) -> &HomeAgentConfig {
        &self.config
    }

    /// Replaces the configuration (`configure` at run time); bindings stay.
    pub fn set_config(&mut self, config: HomeAgentConfig) {
        self.config = config;
    }

    pub fn bindings(&self) -> &BindingTable {
        &self.bindings
    }

    /// The per-host counters (`show ip mobile host`).
    pub fn host_counters(&self) -> &BTreeMap<Ipv4Addr, HostCounters> {
        &self.hosts
    }

    /// `clear ip mobile traffic`: every counter back to zero (the
    /// violation log and the per-host counters stay, as on IOS).
    pub fn clear_counters(&mut self) {
        self.counters = Counters::default();
    }

    /// The counters of `home`, made when it is a configured host. Room is
    /// made by dropping the hosts idle longest without a binding, an
    /// eighth of [`MAX_HOST_COUNTERS`] at a time: the scan for them is paid
    /// once per 512 new hosts, never once per host (a home agent with
    /// 100 000 bindings registers new hosts at full speed).
    fn host_entry(&mut self, home: Ipv4Addr) -> Option<&mut HostCounters> {
        if !self.config.hosts.contains(home) {
            return None;
        }
        // Hosts with a binding number at most `homes()`: past this bound
        // at least MAX_HOST_COUNTERS hosts are idle.
        if !self.hosts.contains_key(&home)
            && self.hosts.len() >= MAX_HOST_COUNTERS + self.bindings.homes()
        {
            let mut idle: Vec<(Option<Instant>, Ipv4Addr)> = self
                .hosts
                .iter()
                .filter(|(h, _)| self.bindings.get(**h).is_empty())
                .map(|(h, c)| (c.last_code.map(|(_, at)| at), *h))
                .collect();
            let evict = MAX_HOST_COUNTERS / 8;
            if idle.len() > evict {
                idle.select_nth_unstable(evict - 1);
                idle.truncate(evict);
            }
            for (_, h) in idle {
                self.hosts.remove(&h);
            }
        }
        Some(self.hosts.entry(home).or_default())
    }

    fn count_reply(&mut self, now: Instant, home: Ipv4Addr, code: ReplyCode) {
        if let Some(c) = self.host_entry(home) {
            if code.is_accepted() {
                c.accepted += 1;
                c.last_accepted = Some(now);
            } else {
                c.denied += 1;
                c.last_denied = Some(now);
            }
            c.last_code = Some((code.into(), now));
        }
    }

    /// Records a failed security check (RFC 2006 mipSecViolationTable).
    #[allow(clippy::too_many_arguments)]
    fn violation(
        &mut self,
        now: Now,
        source: Ipv4Addr,
        req: &Request,
        violator: Violator,
        spi: u32,
        reason: ViolationReason,
        code: ReplyCode,
    ) {
        if let Some(c) = self.host_entry(req.home_address) {
            c.violations += 1;
        }
        self.violations.record(Violation {
            at: now.instant,
            unix: now.unix,
            source,
            home_address: req.home_address,
            violator,
            spi,
            identification: req.identification,
            reason,
            code: code.into(),
        });
    }

    /// Why an authentication extension failed against `sa`.
    fn auth_fault(
        span: Option<&pmip_wire::extension::AuthSpan>,
        sa: &SecurityAssociation,
    ) -> (u32, ViolationReason) {
        match span {
            None => (0, ViolationReason::MissingExtension),
            Some(s) if s.spi != sa.spi => (s.spi, ViolationReason::BadSpi),
            Some(s) => (s.spi, ViolationReason::BadAuthenticator),
        }
    }

    /// When `handle_timeout` should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let bu = self.pending_bu.values().map(|p| p.next_try).min();
        match (self.bindings.next_expiry(), bu) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// `clear ip mobile binding [HOME]`: ends the bindings of `home` (every
    /// binding when `None`) as if they had expired: the tunnel, route and
    /// proxy ARP go, and the mobile node must register again. The number
    /// of bindings cleared.
    pub fn clear_bindings(&mut self, home: Option<Ipv4Addr>, out: &mut Vec<Action>) -> usize {
        let homes: Vec<Ipv4Addr> = match home {
            Some(h) => vec![h],
            None => {
                let mut v: Vec<Ipv4Addr> = self.bindings.iter().map(|b| b.home_address).collect();
                v.sort();
                v.dedup();
                v
            }
        };
        let mut n = 0;
        for h in homes {
            let list = self.bindings.remove_all(h);
            let count = list.len();
            let interface = self.interface_for(h);
            for (i, b) in list.into_iter().enumerate() {
                n += 1;
                tracing::info!(home = %b.home_address, coa = %b.care_of_address, "binding cleared by the operator");
                out.push(Action::BindingDown {
                    binding: b,
                    interface: interface.clone(),
                    last: i + 1 == count,
                });
            }
        }
        n
    }

    /// Expires bindings and retries Binding Updates.
    pub fn handle_timeout(&mut self, now: Now, out: &mut Vec<Action>) {
        for b in self.bindings.expire(now.instant) {
            self.counters.expired += 1;
            tracing::info!(home = %b.home_address, coa = %b.care_of_address, "binding expired");
            self.binding_down(b, out);
        }
        let mut done = Vec::new();
        for (key, p) in self.pending_bu.iter_mut() {
            if p.next_try > now.instant {
                continue;
            }
            if p.tries_left == 0 {
                done.push(*key);
                continue;
            }
            p.tries_left -= 1;
            p.next_try = now.instant
                + self
                    .config
                    .bind_update
                    .map_or(Duration::from_secs(1), |b| b.retry_interval);
            self.counters.bind_updates_sent += 1;
            out.push(Action::Send {
                from: p.from,
                to: p.to,
                payload: p.payload.clone(),
            });
        }
        for k in done {
            self.pending_bu.remove(&k);
        }
    }

    fn interface_for(&self, home: Ipv4Addr) -> String {
        self.config
            .hosts
            .get(home)
            .map(|(_, _, h)| h.interface.clone())
            .unwrap_or_default()
    }

    fn binding_down(&mut self, binding: Binding, out: &mut Vec<Action>) {
        let last = self.bindings.get(binding.home_address).is_empty();
        let interface = self.interface_for(binding.home_address);
        out.push(Action::BindingDown {
            binding,
            interface,
            last,
        });
    }

    /// Our home agent address for a request that arrived with destination
    /// `dst` naming `ha` in its Home Agent field: the unicast address of
    /// the home network, and whether it was sent to the broadcast address.
    fn home_network_for(&self, home: Ipv4Addr) -> Option<&HomeNetwork> {
        self.config.networks.iter().find(|n| n.contains(home))
    }

    /// Handles a datagram that arrived on UDP port 434 from `src`, sent to
    /// our address `dst` (a unicast address or a home subnet's broadcast).
    pub fn handle_datagram(
        &mut self,
        now: Now,
        src: SocketAddrV4,
        dst: Ipv4Addr,
        payload: &[u8],
        out: &mut Vec<Action>,
    ) {
        match payload.first() {
            Some(&codec::TYPE_REGISTRATION_REQUEST) => {
                self.handle_request(now, src, dst, payload, out)
            }
            Some(&codec::TYPE_BINDING_ACK) => self.handle_binding_ack(src, payload),
            _ => {
                if self.counters.drop_reason("not a registration request") {
                    tracing::warn!(%src, "dropped datagram on port 434: not a registration request (logged once)");
                }
            }
        }
    }

    fn handle_binding_ack(&mut self, src: SocketAddrV4, payload: &[u8]) {
        match codec::parse_binding_ack(payload) {
            Ok(ack) => {
                if self
                    .pending_bu
                    .remove(&(*src.ip(), ack.home_address))
                    .is_some()
                {
                    self.counters.bind_acks_received += 1;
                }
            }
            Err(_) => {
                if self.counters.drop_reason("malformed binding acknowledge") {
                    tracing::warn!(%src, "dropped malformed Binding Acknowledge (logged once)");
                }
            }
        }
    }

    fn handle_request(
        &mut self,
        now: Now,
        src: SocketAddrV4,
        dst: Ipv4Addr,
        payload: &[u8],
        out: &mut Vec<Action>,
    ) {
        self.counters.requests += 1;
        let req = match codec::parse_request(payload) {
            Ok(r) => r,
            Err(codec::ParseFailure::Unreadable(e)) => {
                // Too broken to answer: no home address to reply about.
                if self.counters.drop_reason("unreadable registration request") {
                    tracing::warn!(%src, error = %e, "dropped unreadable registration request (logged once)");
                }
                return;
            }
            Err(codec::ParseFailure::PoorlyFormed(req, e)) => {
                tracing::debug!(%src, error = %e, "poorly formed registration request");
                return self.deny(now, src, dst, &req, ReplyCode::PoorlyFormedRequest, out);
            }
        };

        // RFC 5944 3.8.2.1: the home address must be one we serve.
        if !self.config.hosts.contains(req.home_address)
            && req.home_address != Ipv4Addr::UNSPECIFIED
        {
            return self.deny(
                now,
                src,
                dst,
                &req,
                ReplyCode::AdministrativelyProhibitedHa,
                out,
            );
        }
        // Mobile-Home authentication is mandatory (RFC 5944 3.5.2, 3.8.2.1).
        // A host of `ip mobile host ... aaa` without a local association
        // waits for the AAA server's.
        let local = self.sa_for(now.instant, req.home_address);
        if local.is_none() && self.config.aaa_hosts.get(req.home_address).is_some() {
            let total: usize = self.awaiting_sa.values().map(Vec::len).sum();
            let waiting = self.awaiting_sa.entry(req.home_address).or_default();
            if waiting.len() >= MAX_PARKED_PER_HOME || total >= MAX_PARKED {
                return self.deny(now, src, dst, &req, ReplyCode::InsufficientResourcesHa, out);
            }
            if waiting.is_empty() {
                out.push(Action::FetchSa {
                    home: req.home_address,
                });
            }
            waiting.push(Parked {
                src,
                dst,
                payload: payload.to_vec(),
            });
            return;
        }
        let Some(sa) = local else {
            self.violation(
                now,
                *src.ip(),
                &req,
                Violator::MobileHost,
                req.mhae.as_ref().map_or(0, |m| m.spi),
                ViolationReason::NoSecurityAssociation,
                ReplyCode::MobileNodeFailedAuthenticationHa,
            );
            return self.deny(
                now,
                src,
                dst,
                &req,
                ReplyCode::MobileNodeFailedAuthenticationHa,
                out,
            );
        };
        if !codec::verify_mhae(payload, &req, &sa) {
            let (spi, reason) = Self::auth_fault(req.mhae.as_ref(), &sa);
            self.violation(
                now,
                *src.ip(),
                &req,
                Violator::MobileHost,
                spi,
                reason,
                ReplyCode::MobileNodeFailedAuthenticationHa,
            );
            return self.deny(
                now,
                src,
                dst,
                &req,
                ReplyCode::MobileNodeFailedAuthenticationHa,
                out,
            );
        }
        // Foreign-Home authentication when we share an SA with the sender
        // (RFC 5944 3.8.2.1 and 3.5.4).
        if let Some(fa_sa) = self.config.foreign_agent_sas.get(src.ip())
            && !codec::verify_fhae(payload, &req, fa_sa)
        {
            let (spi, reason) = Self::auth_fault(req.fhae.as_ref(), fa_sa);
            self.violation(
                now,
                *src.ip(),
                &req,
                Violator::ForeignAgent,
                spi,
                reason,
                ReplyCode::ForeignAgentFailedAuthentication,
            );
            return self.deny(
                now,
                src,
                dst,
                &req,
                ReplyCode::ForeignAgentFailedAuthentication,
                out,
            );
        }
        // Replay protection (RFC 5944 5.7): a fault is answered with 133
        // carrying our time, so the sender can resynchronise.
        match security::check_timestamp(
            req.identification,
            Identification::from_unix(now.unix),
            sa.replay_window,
            self.last_ident.get(&req.home_address).copied(),
        ) {
            Ok(()) => {}
            Err(ReplayFault::OutsideWindow) | Err(ReplayFault::NotIncreasing) => {
                self.violation(
                    now,
                    *src.ip(),
                    &req,
                    Violator::MobileHost,
                    sa.spi,
                    ViolationReason::BadIdentification,
                    ReplyCode::IdentificationMismatch,
                );
                return self.deny(now, src, dst, &req, ReplyCode::IdentificationMismatch, out);
            }
        }
        // Sent to the home subnet's broadcast address (dynamic home agent
        // discovery, RFC 5944 3.8.3.1): reject with 136 and our unicast
        // address, which the sender uses from then on.
        let Some(network) = self.home_network_for(req.home_address).cloned() else {
            return self.deny(now, src, dst, &req, ReplyCode::UnknownHomeAgentAddress, out);
        };
        if dst == network.broadcast() || req.home_agent != network.address {
            return self.deny(now, src, dst, &req, ReplyCode::UnknownHomeAgentAddress, out);
        }
        // Services asked for (RFC 5944 3.8.2.1, RFC 3024 5.2).
        if req.minimal_encapsulation {
            return self.deny(
                now,
                src,
                dst,
                &req,
                ReplyCode::EncapsulationUnavailableHa,
                out,
            );
        }
        if req.reverse_tunnel && !self.config.reverse_tunnel {
            return self.deny(
                now,
                src,
                dst,
                &req,
                ReplyCode::ReverseTunnelUnavailableHa,
                out,
            );
        }

        self.last_ident.insert(req.home_address, req.identification);
        let deregister = req.lifetime == 0 || req.care_of_address == req.home_address;
        if deregister {
            self.counters.deregistrations += 1;
            // Lifetime 0 with the home address as care-of address removes
            // every binding; otherwise only this care-of address (RFC 5944
            // 3.6.1.2, 3.8.3).
            let removed = if req.care_of_address == req.home_address {
                self.bindings.remove_all(req.home_address)
            } else {
                self.bindings
                    .remove(req.home_address, req.care_of_address)
                    .into_iter()
                    .collect()
            };
            for b in removed {
                self.binding_down(b, out);
            }
            self.counters.accepted += 1;
            self.count_reply(now.instant, req.home_address, ReplyCode::Accepted);
            return self.reply(
                src,
                &network,
                &req,
                &sa,
                ReplyCode::Accepted,
                0,
                req.identification,
                out,
            );
        }

        let host_limit = self
            .config
            .hosts
            .get(req.home_address)
            .and_then(|(_, _, h)| h.lifetime);
        let granted = req
            .lifetime
            .min(self.config.max_lifetime)
            .min(host_limit.unwrap_or(u16::MAX));
        let previous: Vec<Binding> = self.bindings.get(req.home_address).to_vec();
        let binding = Binding {
            home_address: req.home_address,
            care_of_address: req.care_of_address,
            home_agent: network.address,
            source: src,
            lifetime: granted,
            registered: now.instant,
            expires: now.instant + Duration::from_secs(u64::from(granted)),
            identification: req.identification,
            simultaneous: req.simultaneous,
            broadcast: req.broadcast,
            decapsulation_by_mn: req.decapsulation_by_mn,
            encapsulation: if req.gre {
                Encapsulation::Gre {
                    key: None,
                    sequence: false,
                }
            } else {
                Encapsulation::IpInIp
            },
            reverse_tunnel: req.reverse_tunnel,
        };
        let first = previous.is_empty();
        let upsert = self.bindings.upsert(
            binding.clone(),
            req.simultaneous,
            self.config.max_simultaneous,
        );
        let interface = self.interface_for(req.home_address);
        if let Upsert::Replaced(old) = &upsert {
            for b in old {
                out.push(Action::BindingDown {
                    binding: b.clone(),
                    interface: interface.clone(),
                    last: false,
                });
                self.bind_update(now, &network, b, &binding, out);
            }
        }
        if upsert != Upsert::Renewed
            || previous.iter().any(|p| {
                p.encapsulation != binding.encapsulation
                    || p.reverse_tunnel != binding.reverse_tunnel
            })
        {
            out.push(Action::BindingUp {
                binding: binding.clone(),
                interface,
                first,
            });
        } else {
            out.push(Action::BindingRenewed {
                binding: binding.clone(),
            });
        }
        self.counters.accepted += 1;
        self.count_reply(now.instant, req.home_address, ReplyCode::Accepted);
        // Not at INFO: one line per registration costs the registration
        // rate (IOS too logs them only under `debug ip mobile`).
        tracing::debug!(home = %req.home_address, coa = %req.care_of_address, lifetime = granted, "registration accepted");
        self.reply(
            src,
            &network,
            &req,
            &sa,
            ReplyCode::Accepted,
            granted,
            req.identification,
            out,
        );
    }

    /// With `ip mobile bindupdate`, tells the previous foreign agent that
    /// the mobile node moved, so it drops its visitor entry (the Aironet documentation's
    /// note; route-optimization draft section 4.3).
    fn bind_update(
        &mut self,
        now: Now,
        network: &HomeNetwork,
        old: &Binding,
        new: &Binding,
        out: &mut Vec<Action>,
    ) {
        let Some(policy) = self.config.bind_update else {
            return;
        };
        if old.care_of_address == new.care_of_address || old.decapsulation_by_mn {
            return;
        }
        let Some(sa) = self.config.foreign_agent_sas.get(old.source.ip()).cloned() else {
            tracing::debug!(fa = %old.source.ip(), "no security association with the previous foreign agent; no Binding Update");
            return;
        };
        let ident = Identification::from_unix(now.unix).0;
        let payload = codec::binding_update(new, policy.ack, ident, &sa);
        let to = SocketAddrV4::new(*old.source.ip(), codec::PORT);
        self.counters.bind_updates_sent += 1;
        out.push(Action::Send {
            from: network.address,
            to,
            payload: payload.clone(),
        });
        if policy.ack {
            self.pending_bu.insert(
                (*old.source.ip(), new.home_address),
                PendingBindUpdate {
                    to,
                    from: network.address,
                    payload,
                    next_try: now.instant + policy.retry_interval,
                    tries_left: policy.retries,
                },
            );
        }
    }

    fn deny(
        &mut self,
        now: Now,
        src: SocketAddrV4,
        dst: Ipv4Addr,
        req: &Request,
        code: ReplyCode,
        out: &mut Vec<Action>,
    ) {
        self.counters.deny(code);
        tracing::debug!(%src, home = %req.home_address, code = u8::from(code), "registration denied: {code}");
        let network = self
            .home_network_for(req.home_address)
            .cloned()
            .or_else(|| {
                self.config
                    .networks
                    .iter()
                    .find(|n| n.address == dst || n.broadcast() == dst)
                    .cloned()
            });
        let Some(network) = network else {
            if self
                .counters
                .drop_reason("request for a network we do not serve")
            {
                tracing::warn!(%src, home = %req.home_address, "dropped request for a home network we do not serve (logged once)");
            }
            return;
        };
        self.count_reply(now.instant, req.home_address, code);
        let ident = if code == ReplyCode::IdentificationMismatch {
            Identification::reply_for(
                Identification(req.identification),
                Identification::from_unix(now.unix),
            )
            .0
        } else {
            req.identification
        };
        // Authenticate the reply when we can: with the mobile node's SA,
        // unless the denial is that SA failing (RFC 5944 3.8.3.1).
        let sa = self.sa_for(now.instant, req.home_address);
        let sa = match code {
            ReplyCode::MobileNodeFailedAuthenticationHa => None,
            _ => sa,
        };
        self.reply_with(src, &network, req, sa.as_ref(), code, 0, ident, out);
    }

    #[allow(clippy::too_many_arguments)]
    fn reply(
        &mut self,
        src: SocketAddrV4,
        network: &HomeNetwork,
        req: &Request,
        sa: &SecurityAssociation,
        code: ReplyCode,
        lifetime: u16,
        ident: u64,
        out: &mut Vec<Action>,
    ) {
        self.reply_with(src, network, req, Some(sa), code, lifetime, ident, out)
    }

    #[allow(clippy::too_many_arguments)]
    fn reply_with(
        &mut self,
        src: SocketAddrV4,
        network: &HomeNetwork,
        req: &Request,
        sa: Option<&SecurityAssociation>,
        code: ReplyCode,
        lifetime: u16,
        ident: u64,
        out: &mut Vec<Action>,
    ) {
        let fa_sa = self.config.foreign_agent_sas.get(src.ip());
        let payload = codec::build_reply(&ReplyParams {
            code,
            lifetime,
            home_address: req.home_address,
            home_agent: network.address,
            identification: ident,
            mhae: sa,
            fhae: fa_sa,
        });
        out.push(Action::Send {
            from: network.address,
            to: src,
            payload,
        });
    }
}
