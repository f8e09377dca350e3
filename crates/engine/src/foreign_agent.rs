//! The foreign agent engine (RFC 5944 sections 2 and 3.7, RFC 3024),
//! sans-IO: agent advertisements, relaying registrations between visiting
//! mobile nodes and their home agents (pending list, visitor list), and
//! Binding Updates from home agents (`ip mobile bindupdate`).

use crate::codec;
use crate::home_agent::{Violation, ViolationLog, ViolationReason, Violator};
use crate::host_range::HostRanges;
use crate::security::SecurityAssociation;
use crate::time::{Instant, Now};
use arrayvec::ArrayVec;
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use pmip_wire::binding_update::{AckRepr, UpdateRepr};
use pmip_wire::extension::{self, Extensions, kind};
use pmip_wire::icmp::{self, Advertisement, AdvertisementExtension, AgentFlags, MobilityAgent};
use pmip_wire::identification::Identification;
use pmip_wire::registration::{
    self, ReplyCode, ReplyPacket, ReplyRepr, RequestPacket, RequestRepr,
};
use pmip_wire::tunnel::Encapsulation;
use std::collections::{BTreeMap, HashMap};

/// An interface with `ip mobile foreign-service` (and `ip irdp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInterface {
    pub name: String,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// `ip mobile registration-lifetime` (IOS default 36000 s).
    pub registration_lifetime: u16,
    pub registration_required: bool,
    pub reverse_tunnel: bool,
    /// `reverse-tunnel mandatory`: refuse requests without T (code 75).
    pub reverse_tunnel_mandatory: bool,
    /// `ip irdp`: advertise on this interface.
    pub advertise: bool,
    pub min_advert_interval: Duration,
    pub max_advert_interval: Duration,
    pub holdtime: u16,
    /// Also a home agent on this link (the H bit).
    pub home_agent: bool,
    /// `ip mobile foreign-service limit N`: most visitors at once on this
    /// interface (a new one beyond is denied with 66).
    pub visitor_limit: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct ForeignAgentConfig {
    pub interfaces: Vec<ServiceInterface>,
    /// The care-of address (`ip mobile foreign-agent care-of IF`).
    pub care_of_address: Ipv4Addr,
    /// How long a pending request waits for the home agent (`reg-wait`).
    pub reg_wait: Duration,
    /// `ip mobile secure home-agent`: FHAE associations (only looked up,
    /// never iterated, so its order cannot reach the actions).
    pub home_agent_sas: HashMap<Ipv4Addr, SecurityAssociation>,
    /// `ip mobile secure visitor`: MFAE associations.
    pub visitor_sas: HostRanges<SecurityAssociation>,
    /// Accept Binding Updates from home agents (`ip mobile bindupdate`).
    pub bind_update: bool,
    /// Most pending requests at once (insufficient resources beyond).
    pub max_pending: usize,
    /// The service interfaces' advertisement and access settings, by
    /// interface name; an interface without an entry has
    /// [`ServiceOptions::default`].
    pub options: BTreeMap<String, ServiceOptions>,
}

/// What a service interface advertises and whom it lets visitors
/// register with, beyond [`ServiceInterface`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOptions {
    /// `ip irdp multicast`: advertisements to all systems (224.0.0.1)
    /// rather than IOS's default limited broadcast (RFC 1256 4.1,
    /// AdvertisementAddress).
    pub multicast: bool,
    /// `ip irdp preference N`: the preference level of the router address
    /// advertised (RFC 1256 4.1, PreferenceLevel; default 0).
    pub preference: i32,
    /// The Prefix-Lengths extension (RFC 5944 2.1.2); `no ip mobile
    /// prefix-length` leaves it out. On by default: a proxy AP learns its
    /// subnet from it.
    pub prefix_lengths: bool,
    /// `ip mobile foreign-service home-access ACL`: the home agents a
    /// visitor may register with through this interface; a request naming
    /// another is refused with 65 (administratively prohibited). `None`:
    /// every home agent.
    pub home_access: Option<AccessList>,
}

static DEFAULT_OPTIONS: ServiceOptions = ServiceOptions {
    multicast: false,
    preference: 0,
    prefix_lengths: true,
    home_access: None,
};

impl Default for ServiceOptions {
    fn default() -> Self {
        DEFAULT_OPTIONS.clone()
    }
}

/// A standard IP access list as the foreign agent applies it to home
/// agent addresses: the first entry matching decides, and an address no
/// entry matches is denied (the implicit deny at the end of an IOS list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    pub entries: Vec<AccessEntry>,
}

/// One permit or deny entry: the addresses whose bits outside `wildcard`
/// equal `address`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessEntry {
    pub permit: bool,
    pub address: Ipv4Addr,
    pub wildcard: Ipv4Addr,
}

impl AccessEntry {
    fn matches(&self, addr: Ipv4Addr) -> bool {
        let care = !u32::from(self.wildcard);
        u32::from(addr) & care == u32::from(self.address) & care
    }
}

impl AccessList {
    /// Whether the list permits `addr`.
    pub fn permits(&self, addr: Ipv4Addr) -> bool {
        self.entries
            .iter()
            .find(|e| e.matches(addr))
            .is_some_and(|e| e.permit)
    }
}

impl Default for ForeignAgentConfig {
    fn default() -> Self {
        ForeignAgentConfig {
            interfaces: Vec::new(),
            care_of_address: Ipv4Addr::UNSPECIFIED,
            reg_wait: Duration::from_secs(15),
            home_agent_sas: HashMap::new(),
            visitor_sas: HostRanges::new(),
            bind_update: false,
            max_pending: 4096,
            options: BTreeMap::new(),
        }
    }
}

/// A registered visiting mobile node (RFC 5944 3.7.1 visitor list entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    pub home_address: Ipv4Addr,
    pub home_agent: Ipv4Addr,
    /// Link-layer address learned from the request (RFC 5944 3.7.1).
    pub mac: [u8; 6],
    pub interface: String,
    /// The mobile node's UDP source port.
    pub port: u16,
    pub lifetime: u16,
    pub registered: Instant,
    pub expires: Instant,
    pub identification: u64,
    pub encapsulation: Encapsulation,
    pub reverse_tunnel: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    visitor: Visitor,
    expires: Instant,
}

/// Requests one visitor (link-layer address) may have pending at once
/// for one home address, and in all.
pub const MAX_PENDING_PER_HOME: usize = 4;
pub const MAX_PENDING_PER_MAC: usize = 8;
/// How long a pending request is sure of its place. A home agent answers
/// in milliseconds; past this, when a bound is reached, the oldest
/// request in the way is given up (counted as timed out) to make room
/// for the newer one, so unanswered requests never hold a visitor, or
/// everybody, out for the whole `reg-wait`.
pub const PENDING_GRACE: Duration = Duration::from_secs(1);

/// What the engine asks the platform to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// UDP from port 434 of `from` to a mobile node on its link: to its
    /// link-layer address, since its home address is not on this link.
    SendToVisitor {
        interface: String,
        mac: [u8; 6],
        from: Ipv4Addr,
        to: SocketAddrV4,
        payload: Vec<u8>,
    },
    /// UDP from port 434 of `from` (the care-of address) to a home agent.
    SendToNetwork {
        from: Ipv4Addr,
        to: SocketAddrV4,
        payload: Vec<u8>,
    },
    /// An ICMP message (agent advertisement) out of `interface` to `to`.
    Advertise {
        interface: String,
        from: Ipv4Addr,
        to: Ipv4Addr,
        payload: Vec<u8>,
    },
    VisitorUp(Visitor),
    VisitorDown(Visitor),
    /// A visitor's registration was renewed with nothing to install
    /// again; the state kept across restarts records its new lifetime.
    VisitorRenewed(Visitor),
}

/// Counters for `show ip mobile traffic` (foreign agent part).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub solicitations: u64,
    pub advertisements: u64,
    pub requests: u64,
    pub relayed: u64,
    pub denied: BTreeMap<u8, u64>,
    pub replies: u64,
    pub replies_accepted: u64,
    pub timeouts: u64,
    pub expired: u64,
    pub bind_updates: u64,
    pub bind_acks_sent: u64,
    pub dropped: BTreeMap<&'static str, u64>,
    /// Requests refused because their visitor had too many pending.
    pub over_pending_limit: u64,
}

impl Counters {
    fn drop_reason(&mut self, reason: &'static str) -> bool {
        let n = self.dropped.entry(reason).or_default();
        *n += 1;
        *n == 1
    }
}

/// A datagram from a mobile node, with where it came from on the link.
#[derive(Debug, Clone, Copy)]
pub struct FromVisitor<'a> {
    pub interface: &'a str,
    pub mac: [u8; 6],
    pub src: SocketAddrV4,
    pub payload: &'a [u8],
}

pub struct ForeignAgent {
    config: ForeignAgentConfig,
    pending: BTreeMap<(Ipv4Addr, u32), Pending>,
    visitors: BTreeMap<Ipv4Addr, Visitor>,
    /// RFC 5944 2.1.1: 0 after a reboot, then 256 after wrapping.
    sequence: u16,
    next_advert: BTreeMap<String, Instant>,
    pub counters: Counters,
    /// `show ip mobile violation`.
    pub violations: ViolationLog,
}

const ALL_SYSTEMS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);
const LIMITED_BROADCAST: Ipv4Addr = Ipv4Addr::BROADCAST;

impl ForeignAgent {
    pub fn new(config: ForeignAgentConfig) -> ForeignAgent {
        ForeignAgent {
            config,
            pending: BTreeMap::new(),
            visitors: BTreeMap::new(),
            sequence: 0,
            next_advert: BTreeMap::new(),
            counters: Counters::default(),
            violations: ViolationLog::default(),
        }
    }

    pub fn config(&self) -> &ForeignAgentConfig {
        &self.config
    }

    pub fn set_config(&mut self, config: ForeignAgentConfig) {
        self.config = config;
    }

    /// `clear ip mobile visitor [HOME]`: drops the visitors (all when
    /// `None`); their delivery and reverse tunnel go. The number cleared.
    pub fn clear_visitors(&mut self, home: Option<Ipv4Addr>, out: &mut Vec<Action>) -> usize {
        let homes: Vec<Ipv4Addr> = match home {
            Some(h) => vec![h],
            None => self.visitors.keys().copied().collect(),
        };
        let mut n = 0;
        for h in homes {
            if let Some(v) = self.visitors.remove(&h) {
                n += 1;
                tracing::info!(home = %h, "visitor cleared by the operator");
                out.push(Action::VisitorDown(v));
            }
        }
        n
    }

    /// Takes back the visitors kept across a restart (their `expires`
    /// already on this run's clock): expired ones and ones on an
    /// interface no longer offering service are dropped; each other is
    /// installed again (VisitorUp).
    pub fn restore(&mut self, now: Now, visitors: Vec<Visitor>, out: &mut Vec<Action>) {
        for v in visitors {
            if v.expires <= now.instant || self.interface(&v.interface).is_none() {
                continue;
            }
            self.visitors.insert(v.home_address, v.clone());
            out.push(Action::VisitorUp(v));
        }
    }

    pub fn visitors(&self) -> impl Iterator<Item = &Visitor> {
        self.visitors.values()
    }

    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The pending list (`show ip mobile visitor pending`): each request
    /// relayed and not yet answered, with when it times out.
    pub fn pending(&self) -> impl Iterator<Item = (&Visitor, Instant)> {
        self.pending.values().map(|p| (&p.visitor, p.expires))
    }

    /// `clear ip mobile traffic`: every counter back to zero.
    pub fn clear_counters(&mut self) {
        self.counters = Counters::default();
    }

    fn interface(&self, name: &str) -> Option<&ServiceInterface> {
        self.config.interfaces.iter().find(|i| i.name == name)
    }

    fn options(&self, name: &str) -> &ServiceOptions {
        self.config.options.get(name).unwrap_or(&DEFAULT_OPTIONS)
    }

    /// Where `interface`'s unsolicited advertisements go (RFC 1256 4.1,
    /// AdvertisementAddress): the limited broadcast, as IOS sends them,
    /// or all systems with `ip irdp multicast`.
    fn advertisement_address(&self, interface: &str) -> Ipv4Addr {
        if self.options(interface).multicast {
            ALL_SYSTEMS
        } else {
            LIMITED_BROADCAST
        }
    }

    /// When `handle_timeout` should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        // An advertising interface not yet scheduled is due now (the
        // first advertisement goes out at start).
        let unscheduled = self
            .config
            .interfaces
            .iter()
            .any(|i| i.advertise && !self.next_advert.contains_key(&i.name));
        let adverts = if unscheduled {
            Some(Instant::ZERO)
        } else {
            self.next_advert.values().copied().min()
        };
        let pend = self.pending.values().map(|p| p.expires).min();
        let vis = self.visitors.values().map(|v| v.expires).min();
        [adverts, pend, vis].into_iter().flatten().min()
    }

    fn next_sequence(&mut self) -> u16 {
        let s = self.sequence;
        self.sequence = if s == u16::MAX { 256 } else { s + 1 };
        s
    }

    /// The agent advertisement for `intf` (RFC 5944 2.1).
    fn advertisement(&mut self, intf: &ServiceInterface) -> Vec<u8> {
        let options = self.options(&intf.name);
        let (preference, prefix_lengths) = (options.preference, options.prefix_lengths);
        let mut routers = ArrayVec::new();
        routers.push((intf.address, preference));
        let mut care_of_addresses = ArrayVec::new();
        care_of_addresses.push(self.config.care_of_address);
        let mut extensions = ArrayVec::new();
        extensions.push(AdvertisementExtension::MobilityAgent(MobilityAgent {
            sequence: self.next_sequence(),
            registration_lifetime: intf.registration_lifetime,
            flags: AgentFlags {
                registration_required: intf.registration_required,
                home_agent: intf.home_agent,
                foreign_agent: true,
                gre: true,
                reverse_tunnel: intf.reverse_tunnel,
                ..Default::default()
            },
            care_of_addresses,
        }));
        // The prefix length lets a listener (the proxy AP) learn its
        // subnet (RFC 5944 2.1.2).
        if prefix_lengths {
            let mut p = ArrayVec::new();
            p.push(intf.prefix_len);
            extensions.push(AdvertisementExtension::PrefixLengths(p));
        }
        self.counters.advertisements += 1;
        icmp::Repr::Advertisement(Advertisement {
            code: 0,
            lifetime: intf.holdtime,
            routers,
            extensions,
        })
        .to_vec()
    }

    /// An Agent Solicitation arrived on `interface` from `src`: answer at
    /// once (RFC 5944 2.4), to the soliciting host, or where the
    /// interface's advertisements go when the host has no address yet.
    pub fn handle_solicitation(
        &mut self,
        _now: Now,
        interface: &str,
        src: Ipv4Addr,
        out: &mut Vec<Action>,
    ) {
        self.counters.solicitations += 1;
        let Some(intf) = self.interface(interface).cloned() else {
            return;
        };
        let to = if src.is_unspecified() {
            self.advertisement_address(&intf.name)
        } else {
            src
        };
        let payload = self.advertisement(&intf);
        out.push(Action::Advertise {
            interface: intf.name.clone(),
            from: intf.address,
            to,
            payload,
        });
    }

    /// Timers: periodic advertisements, pending requests that timed out
    /// (code 78 to the mobile node), expired visitors.
    pub fn handle_timeout(&mut self, now: Now, out: &mut Vec<Action>) {
        let intfs: Vec<ServiceInterface> = self
            .config
            .interfaces
            .iter()
            .filter(|i| i.advertise)
            .cloned()
            .collect();
        for intf in intfs {
            let due = *self
                .next_advert
                .entry(intf.name.clone())
                .or_insert(now.instant);
            if due <= now.instant {
                let payload = self.advertisement(&intf);
                out.push(Action::Advertise {
                    interface: intf.name.clone(),
                    from: intf.address,
                    to: self.advertisement_address(&intf.name),
                    payload,
                });
                // RFC 1256: uniformly between min and max interval; a hash
                // of the time stands in for randomness (deterministic in
                // tests, different per interval in practice).
                let span = intf
                    .max_advert_interval
                    .saturating_sub(intf.min_advert_interval);
                let jitter = if span.is_zero() {
                    Duration::ZERO
                } else {
                    let h = (now.unix.as_nanos() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
                    Duration::from_nanos(h % span.as_nanos().max(1) as u64)
                };
                self.next_advert.insert(
                    intf.name.clone(),
                    now.instant + intf.min_advert_interval + jitter,
                );
            }
        }
        let timed_out: Vec<(Ipv4Addr, u32)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.expires <= now.instant)
            .map(|(k, _)| *k)
            .collect();
        for k in timed_out {
            if let Some(p) = self.pending.remove(&k) {
                self.counters.timeouts += 1;
                self.deny_visitor(&p.visitor, ReplyCode::RegistrationTimeout, out);
            }
        }
        let expired: Vec<Ipv4Addr> = self
            .visitors
            .values()
            .filter(|v| v.expires <= now.instant)
            .map(|v| v.home_address)
            .collect();
        for h in expired {
            if let Some(v) = self.visitors.remove(&h) {
                self.counters.expired += 1;
                out.push(Action::VisitorDown(v));
            }
        }
    }

    /// A registration request (or anything else) from a mobile node on a
    /// foreign-service interface.
    pub fn handle_from_visitor(&mut self, now: Now, d: FromVisitor<'_>, out: &mut Vec<Action>) {
        let Some(intf) = self.interface(d.interface).cloned() else {
            self.counters
                .drop_reason("request on an interface without foreign service");
            return;
        };
        self.counters.requests += 1;
        let Ok(packet) = RequestPacket::new_checked(d.payload) else {
            if self.counters.drop_reason("unreadable registration request") {
                tracing::warn!(src = %d.src, "dropped unreadable registration request (logged once)");
            }
            return;
        };
        let visitor = Visitor {
            home_address: packet.home_address(),
            home_agent: packet.home_agent(),
            mac: d.mac,
            interface: intf.name.clone(),
            port: d.src.port(),
            // What it asked for, until the reply grants a lifetime.
            lifetime: packet.lifetime(),
            registered: now.instant,
            expires: now.instant,
            identification: packet.identification().0,
            encapsulation: if packet.flags().gre {
                Encapsulation::Gre {
                    key: None,
                    sequence: false,
                }
            } else {
                Encapsulation::IpInIp
            },
            reverse_tunnel: packet.flags().reverse_tunnel,
        };
        let deny = |fa: &mut ForeignAgent, code, out: &mut Vec<Action>| {
            *fa.counters.denied.entry(u8::from(code)).or_default() += 1;
            fa.deny_visitor_on(&visitor, &intf, code, out);
        };
        if packet.msg_type() != registration::TYPE_REQUEST {
            self.counters.drop_reason("not a registration request");
            return;
        }
        // The extensions are parsed once; the checks below use the list.
        let (repr, list) = match RequestRepr::parse_located(&packet) {
            Ok(parsed) => parsed,
            Err(_) => return deny(self, ReplyCode::PoorlyFormedRequestFa, out),
        };
        // RFC 5944 3.7.2.1 checks, in its order.
        let mhae_end = match list.auth(kind::MOBILE_HOME_AUTH) {
            Some(mhae) => mhae.end(),
            None => return deny(self, ReplyCode::PoorlyFormedRequestFa, out),
        };
        if let Some((_, _, sa)) = self.config.visitor_sas.get(repr.home_address)
            && !codec::verify_span(d.payload, list.auth(kind::MOBILE_FOREIGN_AUTH).as_ref(), sa)
        {
            let (spi, reason) = auth_fault(list.auth(kind::MOBILE_FOREIGN_AUTH).as_ref(), sa);
            self.violations.record(Violation {
                at: now.instant,
                unix: now.unix,
                source: *d.src.ip(),
                home_address: repr.home_address,
                violator: Violator::MobileHost,
                spi,
                identification: repr.identification.0,
                reason,
                code: ReplyCode::MobileNodeFailedAuthenticationFa.into(),
            });
            return deny(self, ReplyCode::MobileNodeFailedAuthenticationFa, out);
        }
        // `home-access`: the home agents visitors may register with
        // through this interface; any other is administratively
        // prohibited (RFC 5944 3.7.2.1 code 65).
        if let Some(acl) = &self.options(&intf.name).home_access
            && !acl.permits(repr.home_agent)
        {
            return deny(self, ReplyCode::AdministrativelyProhibitedFa, out);
        }
        if repr.lifetime > intf.registration_lifetime {
            return deny(self, ReplyCode::LifetimeTooLong, out);
        }
        if repr.flags.minimal_encapsulation {
            return deny(self, ReplyCode::EncapsulationUnavailableFa, out);
        }
        if repr.flags.reverse_tunnel && !intf.reverse_tunnel {
            return deny(self, ReplyCode::ReverseTunnelUnavailableFa, out);
        }
        if !repr.flags.reverse_tunnel && intf.reverse_tunnel_mandatory {
            return deny(self, ReplyCode::ReverseTunnelMandatoryFa, out);
        }
        if !repr.flags.decapsulation_by_mn && repr.care_of_address != self.config.care_of_address {
            return deny(self, ReplyCode::InvalidCareOfAddress, out);
        }
        // Only a unicast address can be a home agent: the request is not
        // sent to a broadcast, multicast, loopback or reserved address,
        // nor back onto the visited link as a broadcast (RFC 5944 3.7.2.1:
        // poorly formed).
        if !relayable_home_agent(repr.home_agent, &intf) {
            if self
                .counters
                .drop_reason("home agent address that cannot be one")
            {
                tracing::warn!(home_agent = %repr.home_agent, src = %d.src, "refused to relay a request to a home agent address that cannot be one (logged once)");
            }
            return deny(self, ReplyCode::PoorlyFormedRequestFa, out);
        }
        // One visitor cannot deny the others: each link-layer address may
        // have only a few requests pending, for one home address and in
        // all; beyond that its own new requests are refused for want of
        // resources (code 66), while everybody else's are relayed. A
        // retransmission of a request still pending takes that request's
        // place; a request another visitor has pending under the same
        // home address and identification is not taken over.
        let key = (repr.home_address, repr.identification.low());
        match self.pending.get(&key) {
            Some(p) if p.visitor.mac != d.mac => {
                return deny(self, ReplyCode::InsufficientResourcesFa, out);
            }
            Some(_) => {
                self.pending.remove(&key);
            }
            None => {}
        }
        let grace_over = now.instant + self.config.reg_wait.saturating_sub(PENDING_GRACE);
        let mine = |k: &(Ipv4Addr, u32), p: &Pending, same_home: bool| {
            p.visitor.mac == d.mac && (!same_home || k.0 == repr.home_address)
        };
        for same_home in [true, false] {
            let limit = if same_home {
                MAX_PENDING_PER_HOME
            } else {
                MAX_PENDING_PER_MAC
            };
            let held: Vec<((Ipv4Addr, u32), Instant)> = if same_home {
                self.pending
                    .range((repr.home_address, 0)..=(repr.home_address, u32::MAX))
                    .filter(|(k, p)| mine(k, p, true))
                    .map(|(k, p)| (*k, p.expires))
                    .collect()
            } else {
                self.pending
                    .iter()
                    .filter(|(k, p)| mine(k, p, false))
                    .map(|(k, p)| (*k, p.expires))
                    .collect()
            };
            if held.len() < limit {
                continue;
            }
            // Its oldest request, once past its grace, gives way.
            let oldest = held.iter().min_by_key(|(_, e)| *e).copied();
            match oldest {
                Some((k, expires)) if expires <= grace_over => {
                    self.pending.remove(&k);
                    self.counters.timeouts += 1;
                }
                _ => {
                    self.counters.over_pending_limit += 1;
                    if self.counters.over_pending_limit == 1 {
                        tracing::warn!(home = %repr.home_address, "a visitor exceeded its pending-request limit; its new requests get 66 (counted from now on)");
                    }
                    return deny(self, ReplyCode::InsufficientResourcesFa, out);
                }
            }
        }
        if self.pending.len() >= self.config.max_pending {
            // Full: the oldest request of all gives way once past its
            // grace; within it, the newcomer is refused.
            match self.pending.iter().min_by_key(|(_, p)| p.expires) {
                Some((k, p)) if p.expires <= grace_over => {
                    let k = *k;
                    self.pending.remove(&k);
                    self.counters.timeouts += 1;
                }
                _ => return deny(self, ReplyCode::InsufficientResourcesFa, out),
            }
        }
        // `limit N`: a new visitor beyond the interface's limit is refused
        // for want of resources (RFC 5944 3.7.2.1 code 66); visitors we
        // serve already may re-register and deregister.
        if let Some(limit) = intf.visitor_limit
            && !self.visitors.contains_key(&repr.home_address)
            && repr.lifetime > 0
        {
            let here = self
                .visitors
                .values()
                .filter(|v| v.interface == intf.name)
                .count();
            if here >= limit {
                return deny(self, ReplyCode::InsufficientResourcesFa, out);
            }
        }
        // Relay: everything up to and including the MHAE, then our FHAE
        // when we share an SA with the home agent (RFC 5944 3.7.2.2).
        let mut relay = d.payload[..mhae_end].to_vec();
        if let Some(sa) = self.config.home_agent_sas.get(&repr.home_agent) {
            extension::append_authentication(
                &mut relay,
                kind::FOREIGN_HOME_AUTH,
                sa.spi,
                sa.algorithm,
                &sa.key,
            );
        }
        self.pending.insert(
            key,
            Pending {
                visitor: visitor.clone(),
                expires: now.instant + self.config.reg_wait,
            },
        );
        self.counters.relayed += 1;
        out.push(Action::SendToNetwork {
            from: self.config.care_of_address,
            to: SocketAddrV4::new(repr.home_agent, registration_port()),
            payload: relay,
        });
    }

    fn deny_visitor(&mut self, v: &Visitor, code: ReplyCode, out: &mut Vec<Action>) {
        let Some(intf) = self.interface(&v.interface).cloned() else {
            return;
        };
        self.deny_visitor_on(v, &intf, code, out);
    }

    /// A reply of ours (a foreign agent denial) to the mobile node.
    fn deny_visitor_on(
        &self,
        v: &Visitor,
        intf: &ServiceInterface,
        code: ReplyCode,
        out: &mut Vec<Action>,
    ) {
        tracing::debug!(home = %v.home_address, code = u8::from(code), "registration denied by foreign agent: {code}");
        let payload = ReplyRepr {
            code,
            lifetime: if code == ReplyCode::LifetimeTooLong {
                intf.registration_lifetime
            } else {
                0
            },
            home_address: v.home_address,
            home_agent: v.home_agent,
            identification: Identification(v.identification),
            extensions: Extensions::new(),
        }
        .to_vec();
        out.push(Action::SendToVisitor {
            interface: v.interface.clone(),
            mac: v.mac,
            from: intf.address,
            to: SocketAddrV4::new(v.home_address, v.port),
            payload,
        });
    }

    /// A datagram on port 434 from the network side: a Registration Reply
    /// from a home agent, or a Binding Update.
    pub fn handle_from_network(
        &mut self,
        now: Now,
        src: SocketAddrV4,
        payload: &[u8],
        out: &mut Vec<Action>,
    ) {
        match payload.first() {
            Some(&registration::TYPE_REPLY) => self.handle_reply(now, src, payload, out),
            Some(&pmip_wire::binding_update::TYPE_BINDING_UPDATE) => {
                self.handle_binding_update(now, src, payload, out)
            }
            _ => {
                if self
                    .counters
                    .drop_reason("unexpected message from the network")
                {
                    tracing::warn!(%src, "dropped an unexpected datagram on port 434 (logged once)");
                }
            }
        }
    }

    fn handle_reply(&mut self, now: Now, src: SocketAddrV4, payload: &[u8], out: &mut Vec<Action>) {
        self.counters.replies += 1;
        let Ok(packet) = ReplyPacket::new_checked(payload) else {
            self.counters.drop_reason("unreadable registration reply");
            return;
        };
        let Ok((reply, list)) = ReplyRepr::parse_located(&packet) else {
            self.counters.drop_reason("malformed registration reply");
            return;
        };
        // RFC 5944 3.7.3.1: the reply must match a pending request (home
        // address and the low 32 bits of the Identification).
        let key = (reply.home_address, reply.identification.low());
        let Some(pending) = self.pending.get(&key).cloned() else {
            if self
                .counters
                .drop_reason("reply matching no pending request")
            {
                tracing::warn!(%src, home = %reply.home_address, "dropped a reply that matches no pending request (logged once)");
            }
            return;
        };
        // It must come from the home agent asked; a 136 to a broadcast
        // request comes from that agent's unicast address instead.
        if *src.ip() != pending.visitor.home_agent
            && reply.code != ReplyCode::UnknownHomeAgentAddress
        {
            self.counters
                .drop_reason("reply from another address than the home agent");
            return;
        }
        self.pending.remove(&key);
        // FHAE when we share an SA with this home agent (RFC 5944 3.7.3.1).
        let fhae = list.auth(kind::FOREIGN_HOME_AUTH);
        if let Some(sa) = self.config.home_agent_sas.get(src.ip())
            && !codec::verify_span(payload, fhae.as_ref(), sa)
        {
            let (spi, reason) = auth_fault(fhae.as_ref(), sa);
            self.violations.record(Violation {
                at: now.instant,
                unix: now.unix,
                source: *src.ip(),
                home_address: reply.home_address,
                violator: Violator::HomeAgent,
                spi,
                identification: reply.identification.0,
                reason,
                code: ReplyCode::HomeAgentFailedAuthentication.into(),
            });
            *self
                .counters
                .denied
                .entry(u8::from(ReplyCode::HomeAgentFailedAuthentication))
                .or_default() += 1;
            return self.deny_visitor(
                &pending.visitor,
                ReplyCode::HomeAgentFailedAuthentication,
                out,
            );
        }
        // Relay to the mobile node without the extensions meant for us.
        let relay_len = fhae.map_or(payload.len(), |f| f.offset);
        let relay = payload[..relay_len].to_vec();
        let Some(intf) = self.interface(&pending.visitor.interface).cloned() else {
            return;
        };
        if reply.code.is_accepted() {
            self.counters.replies_accepted += 1;
            if reply.lifetime == 0 {
                if let Some(v) = self.visitors.remove(&reply.home_address) {
                    out.push(Action::VisitorDown(v));
                }
            } else {
                let mut v = pending.visitor.clone();
                v.lifetime = reply.lifetime;
                v.registered = now.instant;
                v.expires = now.instant + Duration::from_secs(u64::from(reply.lifetime));
                v.identification = reply.identification.0;
                // The home agent's unicast address, from the reply.
                v.home_agent = reply.home_agent;
                let changed = self.visitors.get(&v.home_address).is_none_or(|old| {
                    old.mac != v.mac
                        || old.interface != v.interface
                        || old.encapsulation != v.encapsulation
                        || old.reverse_tunnel != v.reverse_tunnel
                        || old.home_agent != v.home_agent
                });
                self.visitors.insert(v.home_address, v.clone());
                out.push(if changed {
                    Action::VisitorUp(v)
                } else {
                    Action::VisitorRenewed(v)
                });
            }
        }
        out.push(Action::SendToVisitor {
            interface: intf.name.clone(),
            mac: pending.visitor.mac,
            from: intf.address,
            to: SocketAddrV4::new(pending.visitor.home_address, pending.visitor.port),
            payload: relay,
        });
    }

    /// A Binding Update from a home agent: the visitor moved on, so drop
    /// it (or it came back to us: keep it), and acknowledge when asked.
    fn handle_binding_update(
        &mut self,
        now: Now,
        src: SocketAddrV4,
        payload: &[u8],
        out: &mut Vec<Action>,
    ) {
        if !self.config.bind_update {
            self.counters
                .drop_reason("binding update while bindupdate is off");
            return;
        }
        let Ok((u, list)) = UpdateRepr::parse_located(payload) else {
            self.counters.drop_reason("malformed binding update");
            return;
        };
        let Some(sa) = self.config.home_agent_sas.get(src.ip()).cloned() else {
            if self
                .counters
                .drop_reason("binding update from a home agent without an SA")
            {
                tracing::warn!(%src, "dropped a Binding Update from a home agent we share no SA with (logged once)");
            }
            return;
        };
        if !codec::verify_span(
            payload,
            list.auth(kind::ROUTE_OPTIMIZATION_AUTH).as_ref(),
            &sa,
        ) {
            let (spi, reason) = auth_fault(list.auth(kind::ROUTE_OPTIMIZATION_AUTH).as_ref(), &sa);
            self.violations.record(Violation {
                at: now.instant,
                unix: now.unix,
                source: *src.ip(),
                home_address: u.home_address,
                violator: Violator::HomeAgent,
                spi,
                identification: u.identification.0,
                reason,
                code: 0,
            });
            if self.counters.drop_reason("forged binding update") {
                tracing::warn!(%src, "dropped a Binding Update that fails authentication (logged once)");
            }
            return;
        }
        self.counters.bind_updates += 1;
        if u.care_of_address != self.config.care_of_address
            && let Some(v) = self.visitors.get(&u.home_address)
            && v.home_agent == *src.ip()
        {
            let v = self.visitors.remove(&u.home_address).expect("just found");
            tracing::info!(home = %v.home_address, coa = %u.care_of_address, "visitor moved on (Binding Update)");
            out.push(Action::VisitorDown(v));
        }
        if u.acknowledge {
            let mut ack = AckRepr {
                negative: false,
                reserved: 0,
                home_address: u.home_address,
                identification: u.identification,
                extensions: Extensions::new(),
            }
            .to_vec();
            extension::append_authentication(
                &mut ack,
                kind::ROUTE_OPTIMIZATION_AUTH,
                sa.spi,
                sa.algorithm,
                &sa.key,
            );
            self.counters.bind_acks_sent += 1;
            out.push(Action::SendToNetwork {
                from: self.config.care_of_address,
                to: src,
                payload: ack,
            });
        }
    }
}

/// Why an authentication extension failed against `sa` (RFC 2006
/// mipSecRecentViolationReason), and the SPI it named.
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

/// Whether a request may be relayed to `ha` as its home agent: a unicast
/// address, and not the network or broadcast address of the visited link
/// `intf` (the mobile node's home network is elsewhere). Another
/// subnet's directed broadcast stays allowed (dynamic home agent
/// discovery, RFC 5944 3.8.3.1; routers do not forward it by default).
fn relayable_home_agent(ha: Ipv4Addr, intf: &ServiceInterface) -> bool {
    let first = ha.octets()[0];
    if ha.is_unspecified()
        || ha.is_broadcast()
        || ha.is_multicast()
        || ha.is_loopback()
        || first == 0
        || first >= 240
    {
        return false;
    }
    if intf.prefix_len >= 31 {
        return true;
    }
    let mask = u32::MAX
        .checked_shl(32 - u32::from(intf.prefix_len))
        .unwrap_or(0);
    let net = u32::from(intf.address) & mask;
    let a = u32::from(ha);
    !(a & mask == net && (a == net || a == net | !mask))
}

fn registration_port() -> u16 {
    pmip_wire::udp::MOBILE_IP_PORT
}
