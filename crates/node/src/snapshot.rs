//! The node's state as plain, serialisable data: one view per `show`
//! command. The `show` text ([`crate::show`]), `--json` (these structs
//! serialised), the web pages and `/metrics` all render from these views,
//! so they cannot disagree.

use crate::Node;
use pmip_engine::binding::Binding;
use pmip_engine::proxy_ap::{HANDOFF_BUCKETS_MS, State};
use pmip_engine::subnet_exchange::Source;
use pmip_engine::subnet_map::SubnetEntry;
use pmip_engine::time::Instant;
use pmip_wire::tunnel::Encapsulation;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

/// Everything `show` can tell, at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: Version,
    pub bindings: Option<Bindings>,
    pub visitors: Option<Visitors>,
    pub traffic: Option<Traffic>,
    pub secure_hosts: SecureHosts,
    pub proxy: Option<ProxyStatus>,
    pub proxy_visitors: Option<ProxyVisitors>,
    pub proxy_secure: ProxySecure,
    pub subnet_table: Option<SubnetTable>,
}

/// `show version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub version: String,
    pub hostname: String,
    pub uptime_seconds: u64,
    pub roles: Vec<String>,
}

/// `show ip mobile binding`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bindings {
    pub total: usize,
    pub bindings: Vec<BindingView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingView {
    pub home_address: Ipv4Addr,
    pub care_of_address: Ipv4Addr,
    pub source: Ipv4Addr,
    pub home_agent: Ipv4Addr,
    pub lifetime_granted: u16,
    pub lifetime_remaining: u64,
    /// IOS's `SBDMGVT` letters, upper case when set.
    pub flags: String,
    pub identification: String,
    pub encapsulation: String,
    pub reverse_tunnel: bool,
}

/// `show ip mobile visitor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visitors {
    pub total: usize,
    pub care_of_address: Ipv4Addr,
    pub visitors: Vec<VisitorView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorView {
    pub home_address: Ipv4Addr,
    pub interface: String,
    /// IOS style, three dotted groups.
    pub mac: String,
    pub home_agent: Ipv4Addr,
    pub udp_src_port: u16,
    pub identification: String,
    pub lifetime_granted: u16,
    pub lifetime_remaining: u64,
    pub encapsulation: String,
    pub reverse_tunnel: bool,
}

/// `show ip mobile traffic`: each part present when its role runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<TunnelTraffic>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_agent: Option<HomeAgentTraffic>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_agent: Option<ForeignAgentTraffic>,
}

/// The tunnel device's data-plane counters (read by the driver).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelTraffic {
    pub encapsulated_packets: u64,
    pub encapsulated_bytes: u64,
    pub decapsulated_packets: u64,
    pub decapsulated_bytes: u64,
    pub no_tunnel_packets: u64,
    pub bad_tunnel_packets: u64,
    pub refused_source_packets: u64,
    pub ttl_exceeded_packets: u64,
    pub send_errors: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeAgentTraffic {
    pub requests: u64,
    pub accepted: u64,
    pub deregistrations: u64,
    pub denied: u64,
    /// By reply code (RFC 5944 3.4), as decimal text.
    pub denied_by_code: BTreeMap<String, u64>,
    pub ignored: u64,
    pub ignored_by_reason: BTreeMap<String, u64>,
    pub expired: u64,
    pub binding_updates_sent: u64,
    pub binding_acks_received: u64,
}

impl HomeAgentTraffic {
    pub fn denied_with(&self, code: pmip_wire::registration::ReplyCode) -> u64 {
        self.denied_by_code
            .get(&u8::from(code).to_string())
            .copied()
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignAgentTraffic {
    pub solicitations: u64,
    pub advertisements: u64,
    pub requests: u64,
    pub relayed: u64,
    pub replies: u64,
    pub replies_accepted: u64,
    pub timeouts: u64,
    pub expired: u64,
    pub denied_by_code: BTreeMap<String, u64>,
    pub ignored_by_reason: BTreeMap<String, u64>,
    pub binding_updates: u64,
    pub binding_acks_sent: u64,
    /// Requests refused because their visitor had too many pending.
    #[serde(default)]
    pub over_pending_limit: u64,
}

/// `show ip mobile secure`: configured associations (keys masked) and
/// those fetched from the AAA server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecureHosts {
    pub hosts: Vec<SecureHost>,
    pub aaa: Vec<FetchedSa>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecureHost {
    pub low: Ipv4Addr,
    pub high: Ipv4Addr,
    /// Hexadecimal, as IOS writes it.
    pub spi: String,
    pub algorithm: String,
    pub replay: String,
    /// Seconds of timestamp tolerance.
    pub replay_window: u32,
    pub source: String,
}

/// An association fetched from the AAA server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedSa {
    pub home_address: Ipv4Addr,
    pub spi: String,
    /// `radius SERVER:PORT`, or `radius` when it was not cached.
    pub source: String,
    pub age_seconds: u64,
}

/// `show ip proxy-mobile`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyStatus {
    /// `enabled`, `paused` or `disabled`.
    pub state: String,
    /// Enabled but serving nobody, and why (an interface without `ip
    /// proxy-mobile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive: Option<String>,
    pub aaps: Vec<String>,
    pub home_agent: Option<OwnHomeAgent>,
    pub foreign_agent: Option<ForeignAgentHeard>,
    pub subnet_map: Vec<SubnetRow>,
    pub statistics: ProxyStatistics,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetRow {
    pub home_agent: Ipv4Addr,
    pub mask: Ipv4Addr,
}

/// The AP's own subnet's home agent, heard by agent discovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnHomeAgent {
    pub address: Ipv4Addr,
    pub mask: Ipv4Addr,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignAgentHeard {
    pub address: Ipv4Addr,
    pub care_of_address: Ipv4Addr,
    pub registration_lifetime: u16,
    pub reverse_tunnel: bool,
    pub gre: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyStatistics {
    pub registrations_sent: u64,
    pub reregistrations: u64,
    pub deregistrations: u64,
    pub accepted: u64,
    pub retransmissions: u64,
    pub resyncs: u64,
    pub denied_by_code: BTreeMap<String, u64>,
    pub handoff_latency_ms: Histogram,
    /// Stations asked for their address (they had not spoken), and
    /// those that answered.
    #[serde(default)]
    pub stations_queried: u64,
    #[serde(default)]
    pub queries_answered: u64,
}

/// Handoff latency, Prometheus style: counts per bucket (not
/// cumulative), each bucket's upper bound in ms, the last `+Inf`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub buckets: Vec<(Bound, u64)>,
    pub sum_ms: f64,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    Ms(u64),
    Inf(String),
}

/// `show ip proxy-mobile visitor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyVisitors {
    pub total: usize,
    pub visitors: Vec<StationView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationView {
    pub mac: String,
    pub ssid: String,
    pub address: Option<Ipv4Addr>,
    pub home_agent: Option<Ipv4Addr>,
    pub care_of_address: Option<Ipv4Addr>,
    pub state: String,
    pub lifetime_remaining: Option<u64>,
    pub associated_ms_ago: u64,
    pub registration_rtt_ms: Option<f64>,
    pub registered_after_ms: Option<f64>,
}

/// `show ip proxy-mobile secure`: the SA bindings, keys masked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxySecure {
    pub sa_bindings: Vec<SaBinding>,
    pub aaa: Vec<SaBinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaBinding {
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
    pub spi: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    pub key: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_seconds: Option<u64>,
}

/// `show ip proxy-mobile subnet-table`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetTable {
    /// `AAP`, `AP` or `off`.
    pub exchange: String,
    pub off_reason: Option<String>,
    pub current_aap: Option<Ipv4Addr>,
    pub members: Option<Vec<Ipv4Addr>>,
    pub entries: Vec<SubnetTableRow>,
    pub counters: Option<ExchangeCounters>,
    /// Entries of the subnet map the AP looks visitors up in.
    #[serde(default)]
    pub in_use: usize,
    /// The exchange runs without `ip proxy-mobile aap key`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unauthenticated: bool,
    /// Datagrams an unauthenticated exchange refused by their sender.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetTableRow {
    pub home_agent: Ipv4Addr,
    pub mask: Ipv4Addr,
    pub source: String,
    pub age_seconds: Option<u64>,
    pub aps: Vec<Ipv4Addr>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeCounters {
    pub sent: u64,
    pub received: u64,
    pub bad_auth: u64,
    pub replayed: u64,
    pub malformed: u64,
    pub retransmissions: u64,
    pub failovers: u64,
    pub probes_sent: u64,
    /// Entries of the campus station table now.
    #[serde(default)]
    pub stations: u64,
    /// Station entries sent, received, taken (new or newer), over their
    /// sender's rate, aged out, pushed out at the table's bound.
    #[serde(default)]
    pub stations_sent: u64,
    #[serde(default)]
    pub stations_received: u64,
    #[serde(default)]
    pub stations_accepted: u64,
    #[serde(default)]
    pub stations_rate_limited: u64,
    #[serde(default)]
    pub stations_expired: u64,
    #[serde(default)]
    pub stations_evicted: u64,
}

/// `show ip proxy-mobile station-table`: the campus station table
/// (docs/subnet-map-exchange.md, section 16).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationTable {
    /// `AAP`, `AP` or `off`.
    pub exchange: String,
    pub off_reason: Option<String>,
    pub current_aap: Option<Ipv4Addr>,
    /// By MAC.
    pub stations: Vec<StationRow>,
    pub counters: Option<ExchangeCounters>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationRow {
    pub mac: String,
    pub address: Ipv4Addr,
    /// The AP that last saw the station on its own link.
    pub ap: Ipv4Addr,
    /// That AP is this one.
    pub here: bool,
    /// Since that AP last saw it.
    pub age_seconds: u64,
}

/// What a proxied station is in, as `show ip proxy-mobile visitor` and
/// `debug ip proxy-mobile` say it.
pub(crate) fn station_state(state: &State) -> String {
    match state {
        State::Learning => "learning address".into(),
        State::Home => "at home".into(),
        State::NotProxied(r) => format!("not proxied ({r:?})"),
        State::WaitingForAgent => "waiting for an agent".into(),
        State::FetchingSa => "fetching its association from RADIUS".into(),
        State::Registering { tries, .. } => format!("registering (try {})", tries + 1),
        State::Registered { .. } => "registered".into(),
        State::BackingOff { code, .. } => format!("denied {code}, backing off"),
    }
}

/// IOS prints the flags of a binding as `SBDMGVT` letters, upper case when
/// set (`show ip mobile binding`).
fn flags(b: &Binding) -> String {
    let f = |set: bool, c: char| if set { c.to_ascii_uppercase() } else { c };
    let gre = matches!(b.encapsulation, Encapsulation::Gre { .. });
    [
        f(b.simultaneous, 's'),
        f(b.broadcast, 'b'),
        f(b.decapsulation_by_mn, 'd'),
        'm',
        f(gre, 'g'),
        'v',
        f(b.reverse_tunnel, 't'),
    ]
    .iter()
    .collect()
}

fn ident(i: u64) -> String {
    format!("{:08X}.{:08X}", i >> 32, i & 0xffff_ffff)
}

fn encapsulation(e: &Encapsulation) -> String {
    match e {
        Encapsulation::IpInIp => "IP-in-IP",
        Encapsulation::Gre { .. } => "GRE",
    }
    .into()
}

/// IOS writes MAC addresses as three dotted groups.
pub fn mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

fn by_key<'a, K: ToString + 'a>(
    m: impl IntoIterator<Item = (&'a K, &'a u64)>,
) -> BTreeMap<String, u64> {
    m.into_iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn fetched(
    list: &BTreeMap<Ipv4Addr, (u32, SocketAddrV4, Instant)>,
    now: Instant,
) -> Vec<(Ipv4Addr, u32, String, u64)> {
    list.iter()
        .map(|(home, (spi, server, at))| {
            let source = if server.ip().is_unspecified() {
                "radius".to_owned()
            } else {
                format!("radius {server}")
            };
            (*home, *spi, source, now.saturating_since(*at).as_secs())
        })
        .collect()
}

impl Node {
    /// The whole state, for the web pages and `/metrics`.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        Snapshot {
            version: self.version_view(now),
            bindings: self.bindings_view(now),
            visitors: self.visitors_view(now),
            traffic: self.traffic_view(),
            secure_hosts: self.secure_hosts_view(now),
            proxy: self.proxy_view(),
            proxy_visitors: self.proxy_visitors_view(now),
            proxy_secure: self.proxy_secure_view(now),
            subnet_table: self.subnet_table_view(now),
        }
    }

    pub fn version_view(&self, now: Instant) -> Version {
        let mut roles = Vec::new();
        if self.mobility.home_agent.is_some() {
            roles.push("home agent".to_owned());
        }
        if self.mobility.foreign_agent.is_some() {
            roles.push("foreign agent".to_owned());
        }
        if self.ap.is_some() {
            roles.push("proxy Mobile IP access point".to_owned());
        }
        Version {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            hostname: self
                .config
                .hostname
                .clone()
                .unwrap_or_else(|| "Router".into()),
            uptime_seconds: now.saturating_since(self.started).as_secs(),
            roles,
        }
    }

    pub fn bindings_view(&self, now: Instant) -> Option<Bindings> {
        let ha = self.mobility.home_agent.as_ref()?;
        let mut list: Vec<&Binding> = ha.engine.bindings().iter().collect();
        list.sort_by_key(|b| (u32::from(b.home_address), u32::from(b.care_of_address)));
        let bindings: Vec<BindingView> = list
            .iter()
            .map(|b| BindingView {
                home_address: b.home_address,
                care_of_address: b.care_of_address,
                source: *b.source.ip(),
                home_agent: b.home_agent,
                lifetime_granted: b.lifetime,
                lifetime_remaining: b.remaining(now).as_secs(),
                flags: flags(b),
                identification: ident(b.identification),
                encapsulation: encapsulation(&b.encapsulation),
                reverse_tunnel: b.reverse_tunnel,
            })
            .collect();
        Some(Bindings {
            total: bindings.len(),
            bindings,
        })
    }

    pub fn visitors_view(&self, now: Instant) -> Option<Visitors> {
        let fa = self.mobility.foreign_agent.as_ref()?;
        let mut list: Vec<_> = fa.engine.visitors().collect();
        list.sort_by_key(|v| u32::from(v.home_address));
        let visitors: Vec<VisitorView> = list
            .iter()
            .map(|v| VisitorView {
                home_address: v.home_address,
                interface: v.interface.clone(),
                mac: mac(&v.mac),
                home_agent: v.home_agent,
                udp_src_port: v.port,
                identification: ident(v.identification),
                lifetime_granted: v.lifetime,
                lifetime_remaining: v.expires.saturating_since(now).as_secs(),
                encapsulation: encapsulation(&v.encapsulation),
                reverse_tunnel: v.reverse_tunnel,
            })
            .collect();
        Some(Visitors {
            total: visitors.len(),
            care_of_address: fa.engine.config().care_of_address,
            visitors,
        })
    }

    pub fn traffic_view(&self) -> Option<Traffic> {
        let ha = self.mobility.home_agent.as_ref();
        let fa = self.mobility.foreign_agent.as_ref();
        if ha.is_none() && fa.is_none() {
            return None;
        }
        Some(Traffic {
            tunnel: self.tunnel_counters(),
            home_agent: ha.map(|h| {
                let c = &h.engine.counters;
                HomeAgentTraffic {
                    requests: c.requests,
                    accepted: c.accepted,
                    deregistrations: c.deregistrations,
                    denied: c.denied.values().sum(),
                    denied_by_code: by_key(c.denied.iter()),
                    ignored: c.dropped.values().sum(),
                    ignored_by_reason: by_key(c.dropped.iter()),
                    expired: c.expired,
                    binding_updates_sent: c.bind_updates_sent,
                    binding_acks_received: c.bind_acks_received,
                }
            }),
            foreign_agent: fa.map(|f| {
                let c = &f.engine.counters;
                ForeignAgentTraffic {
                    solicitations: c.solicitations,
                    advertisements: c.advertisements,
                    requests: c.requests,
                    relayed: c.relayed,
                    replies: c.replies,
                    replies_accepted: c.replies_accepted,
                    timeouts: c.timeouts,
                    expired: c.expired,
                    denied_by_code: by_key(c.denied.iter()),
                    ignored_by_reason: by_key(c.dropped.iter()),
                    binding_updates: c.bind_updates,
                    binding_acks_sent: c.bind_acks_sent,
                    over_pending_limit: c.over_pending_limit,
                }
            }),
        })
    }

    pub fn secure_hosts_view(&self, now: Instant) -> SecureHosts {
        let hosts = self
            .config
            .mobile
            .secure
            .iter()
            .filter(|e| e.peer == pmip_config::SaPeer::Host)
            .map(|e| {
                let pmip_config::Replay::Timestamp { within } = e.sa.replay;
                SecureHost {
                    low: e.range.low,
                    high: e.range.high,
                    spi: format!("{:X}", e.sa.spi),
                    algorithm: format!("{:?}", e.sa.algorithm),
                    replay: format!("{:?}", e.sa.replay),
                    replay_window: within,
                    source: "local".into(),
                }
            })
            .collect();
        let aaa = self
            .mobility
            .home_agent
            .as_ref()
            .map(|h| {
                fetched(&h.aaa_sas, now)
                    .into_iter()
                    .map(|(home, spi, source, age)| FetchedSa {
                        home_address: home,
                        spi: format!("{spi:X}"),
                        source,
                        age_seconds: age,
                    })
                    .collect()
            })
            .unwrap_or_default();
        SecureHosts { hosts, aaa }
    }

    pub fn proxy_view(&self) -> Option<ProxyStatus> {
        let node_ap = self.ap.as_ref()?;
        let ap = &node_ap.engine;
        let p = &self.config.proxy_mobile;
        let state = if !p.enabled {
            "disabled"
        } else if p.paused {
            "paused"
        } else {
            "enabled"
        };
        let c = &ap.counters;
        let h = &c.handoff_latency;
        let row = |e: &SubnetEntry| SubnetRow {
            home_agent: e.home_agent,
            mask: e.mask_addr(),
        };
        Some(ProxyStatus {
            state: state.into(),
            inactive: (p.enabled && !p.paused)
                .then(|| crate::config::proxy_inactive(&self.config))
                .flatten(),
            aaps: p.aaps.iter().map(|a| a.to_string()).collect(),
            home_agent: ap.own_home_agent().map(|e| OwnHomeAgent {
                address: e.home_agent,
                mask: e.mask_addr(),
            }),
            foreign_agent: ap.foreign_agent().map(|f| ForeignAgentHeard {
                address: f.address,
                care_of_address: f.care_of_address,
                registration_lifetime: f.registration_lifetime,
                reverse_tunnel: f.reverse_tunnel,
                gre: f.gre,
            }),
            subnet_map: ap.subnet_map().entries().iter().map(row).collect(),
            statistics: ProxyStatistics {
                registrations_sent: c.registrations_sent,
                reregistrations: c.reregistrations,
                deregistrations: c.deregistrations,
                accepted: c.accepted,
                retransmissions: c.retransmissions,
                resyncs: c.resyncs,
                denied_by_code: by_key(c.denied.iter()),
                handoff_latency_ms: Histogram {
                    buckets: HANDOFF_BUCKETS_MS
                        .iter()
                        .map(|b| Bound::Ms(*b))
                        .chain([Bound::Inf("+Inf".into())])
                        .zip(h.counts.iter().copied())
                        .collect(),
                    sum_ms: h.sum_us as f64 / 1e3,
                    count: h.count,
                },
                stations_queried: node_ap.queries_sent,
                queries_answered: node_ap.queries_answered,
            },
        })
    }

    pub fn proxy_visitors_view(&self, now: Instant) -> Option<ProxyVisitors> {
        let ap = &self.ap.as_ref()?.engine;
        let mut list: Vec<_> = ap.stations().collect();
        list.sort_by_key(|s| s.mac);
        let coa = ap.foreign_agent().map(|f| f.care_of_address);
        let visitors: Vec<StationView> = list
            .iter()
            .map(|s| {
                let state = station_state(&s.state);
                let left = match &s.state {
                    State::Registered { expires, .. } => {
                        Some(expires.saturating_since(now).as_secs())
                    }
                    _ => None,
                };
                StationView {
                    mac: mac(&s.mac),
                    ssid: s.ssid.clone(),
                    address: s.address,
                    home_agent: s.home_agent,
                    care_of_address: coa,
                    state,
                    lifetime_remaining: left,
                    associated_ms_ago: now.saturating_since(s.associated_at).as_millis() as u64,
                    registration_rtt_ms: s.registration_rtt.map(|d| d.as_secs_f64() * 1e3),
                    registered_after_ms: s.registered_after.map(|d| d.as_secs_f64() * 1e3),
                }
            })
            .collect();
        Some(ProxyVisitors {
            total: visitors.len(),
            visitors,
        })
    }

    pub fn proxy_secure_view(&self, now: Instant) -> ProxySecure {
        let sa_bindings = self
            .config
            .proxy_mobile
            .nodes
            .iter()
            .map(|n| SaBinding {
                start: n.range.low,
                end: n.range.high,
                spi: format!("{:X}", n.sa.spi),
                algorithm: Some(format!("{:?}", n.sa.algorithm)),
                key: pmip_config::KEY_MASK.into(),
                source: "local".into(),
                age_seconds: None,
            })
            .collect();
        let aaa = self
            .ap
            .as_ref()
            .map(|ap| {
                fetched(&ap.aaa_sas, now)
                    .into_iter()
                    .map(|(home, spi, source, age)| SaBinding {
                        start: home,
                        end: home,
                        spi: format!("{spi:X}"),
                        algorithm: None,
                        key: pmip_config::KEY_MASK.into(),
                        source,
                        age_seconds: Some(age),
                    })
                    .collect()
            })
            .unwrap_or_default();
        ProxySecure { sa_bindings, aaa }
    }

    pub fn subnet_table_view(&self, now: Instant) -> Option<SubnetTable> {
        let ap = self.ap.as_ref()?;
        let running = self.exchange.running();
        let mut rows: Vec<SubnetTableRow> = Vec::new();
        if let Some(x) = running {
            for e in x.engine.entries() {
                let entry = SubnetEntry {
                    home_agent: e.home_agent,
                    prefix_len: e.prefix_len,
                };
                rows.push(SubnetTableRow {
                    home_agent: e.home_agent,
                    mask: entry.mask_addr(),
                    source: match e.source {
                        Source::Own => "own (agent discovery)".to_owned(),
                        Source::Aap(a) => format!("AAP {a}"),
                        Source::Local => "this AAP".to_owned(),
                    },
                    age_seconds: Some(now.saturating_since(e.changed).as_secs()),
                    aps: e.aps.clone(),
                });
            }
        }
        for e in crate::config::static_subnet_map(&self.config).entries() {
            rows.retain(|r| r.home_agent != e.home_agent);
            rows.push(SubnetTableRow {
                home_agent: e.home_agent,
                mask: e.mask_addr(),
                source: "static".into(),
                age_seconds: None,
                aps: Vec::new(),
            });
        }
        rows.sort_by_key(|r| u32::from(r.home_agent));
        Some(SubnetTable {
            exchange: match running {
                Some(x) if x.engine.is_aap() => "AAP",
                Some(_) => "AP",
                None => "off",
            }
            .into(),
            off_reason: self.exchange.off_reason().map(str::to_owned),
            current_aap: running.and_then(|x| x.engine.current_aap()),
            members: running.map(|x| x.engine.members().to_vec()),
            entries: rows,
            counters: running.map(|x| exchange_counters(&x.engine, now)),
            in_use: ap.engine.subnet_map().entries().len(),
            unauthenticated: running.is_some_and(|x| x.unauthenticated),
            refused: running.map_or(0, |x| x.refused),
        })
    }
}

fn exchange_counters(
    e: &pmip_engine::subnet_exchange::SubnetExchange,
    now: Instant,
) -> ExchangeCounters {
    let c = e.counters();
    ExchangeCounters {
        sent: c.sent,
        received: c.received,
        bad_auth: c.bad_auth,
        replayed: c.replayed,
        malformed: c.malformed,
        retransmissions: c.retransmissions,
        failovers: c.failovers,
        probes_sent: c.probes_sent,
        stations: e.stations(now).len() as u64,
        stations_sent: c.stations_sent,
        stations_received: c.stations_received,
        stations_accepted: c.stations_accepted,
        stations_rate_limited: c.stations_rate_limited,
        stations_expired: c.stations_expired,
        stations_evicted: c.stations_evicted,
    }
}

impl Node {
    /// The campus station table: every station an AP of the campus saw,
    /// this AP's own sightings included.
    pub fn station_table_view(&self, now: Instant) -> Option<StationTable> {
        self.ap.as_ref()?;
        let running = self.exchange.running();
        let own = self.exchange.own_address();
        let stations = running
            .map(|x| {
                x.engine
                    .stations(now)
                    .into_iter()
                    .map(|s| StationRow {
                        mac: mac(&s.mac),
                        address: s.address,
                        ap: s.ap,
                        here: Some(s.ap) == own,
                        age_seconds: s.age.as_secs(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(StationTable {
            exchange: match running {
                Some(x) if x.engine.is_aap() => "AAP",
                Some(_) => "AP",
                None => "off",
            }
            .into(),
            off_reason: self.exchange.off_reason().map(str::to_owned),
            current_aap: running.and_then(|x| x.engine.current_aap()),
            stations,
            counters: running.map(|x| exchange_counters(&x.engine, now)),
        })
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `show ip mobile globals`: the agents' settings (IOS's own lines, and
/// the CISCO-MOBILE-IP-MIB / MIP-MIB fields where IOS has none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Globals {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_agent: Option<HomeAgentGlobals>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_agent: Option<ForeignAgentGlobals>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeAgentGlobals {
    /// Longest lifetime granted, seconds.
    pub registration_lifetime: u16,
    /// Requests to a home subnet's broadcast address are answered (136,
    /// dynamic home agent discovery).
    pub broadcast: bool,
    /// The largest timestamp tolerance of the hosts' associations.
    pub replay_protection_seconds: Option<u64>,
    pub reverse_tunnel: bool,
    pub simultaneous_bindings: usize,
    /// `ip mobile bindupdate`: off, or with or without acknowledgement.
    pub binding_update: String,
    pub home_networks: Vec<HomeNetworkView>,
    /// Host ranges (`ip mobile host`), their associations, FA peers.
    pub host_ranges: usize,
    pub host_security_associations: usize,
    pub foreign_agent_security_associations: usize,
    pub aaa_host_ranges: usize,
    pub bindings: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeNetworkView {
    pub interface: String,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignAgentGlobals {
    /// How long a pending request waits for its home agent, seconds.
    pub pending_timeout_seconds: u64,
    pub care_of_addresses: Vec<CareOfView>,
    pub interfaces_providing_service: usize,
    pub encapsulations: String,
    pub binding_update: bool,
    pub max_pending: usize,
    pub home_agent_security_associations: usize,
    pub visitor_security_associations: usize,
    pub visitors: usize,
    pub pending: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareOfView {
    pub interface: String,
    pub address: Ipv4Addr,
    pub up: bool,
}

/// `show ip mobile interface`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileInterfaces {
    pub interfaces: Vec<MobileInterface>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileInterface {
    pub name: String,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// `ip irdp`: agent advertisements sent here.
    pub irdp: bool,
    pub min_advert_interval_ms: u64,
    pub max_advert_interval_ms: u64,
    pub holdtime: u16,
    pub prefix_length_advertised: bool,
    pub registration_lifetime: u16,
    pub home_agent: bool,
    pub foreign_agent: bool,
    pub registration_required: bool,
    pub reverse_tunnel: bool,
    pub reverse_tunnel_mandatory: bool,
    pub visitor_limit: Option<usize>,
    pub visitors: usize,
    /// `ip irdp multicast`: advertisements to 224.0.0.1 (else
    /// 255.255.255.255), and `ip irdp preference N`.
    #[serde(default)]
    pub advertise_multicast: bool,
    #[serde(default)]
    pub preference: i32,
    /// `ip mobile foreign-service home-access ACL`: the list it names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_access: Option<String>,
}

/// `show ip mobile host [ADDR]`: the home agent's per-host counters
/// (MIP-MIB haCounterTable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileHosts {
    pub hosts: Vec<MobileHostView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileHostView {
    pub home_address: Ipv4Addr,
    pub interface: String,
    pub allowed_lifetime: u16,
    /// `host` (`ip mobile host ... lifetime N`) or `default`.
    pub lifetime_source: String,
    pub registered: bool,
    pub care_of_addresses: Vec<Ipv4Addr>,
    pub accepted: u64,
    pub last_accepted_seconds_ago: Option<u64>,
    pub denied: u64,
    pub last_denied_seconds_ago: Option<u64>,
    /// The last reply code sent about this host (RFC 5944 3.4).
    pub last_code: Option<u8>,
    pub last_code_seconds_ago: Option<u64>,
    pub violations: u64,
}

/// `show ip mobile tunnel`: the tunnels the bindings and visitors use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileTunnels {
    pub total: usize,
    pub tunnels: Vec<MobileTunnel>,
    /// The tunnel device's counters (all tunnels share it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TunnelTraffic>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MobileTunnel {
    pub device: String,
    pub source: Ipv4Addr,
    pub destination: Ipv4Addr,
    pub encapsulation: String,
    pub reverse_tunnel: bool,
    /// `HA` (to a care-of address) or `FA` (to a home agent).
    pub created_by: String,
    /// The home addresses using it.
    pub users: Vec<Ipv4Addr>,
}

/// `show ip mobile violation`: the security violation log of both
/// agents (MIP-MIB mipSecViolationTable), oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violations {
    pub total: u64,
    pub by_reason: BTreeMap<String, u64>,
    pub recent: Vec<ViolationView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationView {
    /// `home agent` or `foreign agent`: which agent saw it.
    pub agent: String,
    /// `mobile host`, `foreign agent` or `home agent`: who failed.
    pub violator: String,
    pub source: Ipv4Addr,
    pub home_address: Ipv4Addr,
    pub spi: String,
    pub identification: String,
    pub reason: String,
    /// mipSecRecentViolationReason's number.
    pub reason_number: u8,
    /// The reply code sent (0: none).
    pub code: u8,
    pub seconds_ago: u64,
    /// UTC, `MM/DD/YY HH:MM:SS` as IOS writes it.
    pub time: String,
}

/// `show ip mobile binding summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingSummary {
    pub total: usize,
    pub home_addresses: usize,
    pub care_of_addresses: usize,
    pub reverse_tunnel: usize,
    pub gre: usize,
}

/// `show ip mobile visitor pending`: requests relayed and not yet
/// answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingVisitors {
    pub total: usize,
    pub care_of_address: Ipv4Addr,
    pub pending: Vec<PendingView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingView {
    pub home_address: Ipv4Addr,
    pub interface: String,
    pub mac: String,
    pub home_agent: Ipv4Addr,
    pub udp_src_port: u16,
    pub identification: String,
    pub lifetime_requested: u16,
    /// Until the request times out (78).
    pub remaining_seconds: u64,
    pub encapsulation: String,
    pub reverse_tunnel: bool,
}

/// `MM/DD/YY HH:MM:SS` (UTC) of a time of day, as IOS prints times.
pub fn ios_date(unix: std::time::Duration) -> String {
    let secs = unix.as_secs();
    let (y, m, d) = civil(secs / 86400);
    format!(
        "{m:02}/{d:02}/{:02} {:02}:{:02}:{:02}",
        y % 100,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (the civil calendar
/// algorithm of H. Hinnant's date library).
pub(crate) fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

fn violator(v: pmip_engine::home_agent::Violator) -> &'static str {
    use pmip_engine::home_agent::Violator;
    match v {
        Violator::MobileHost => "mobile host",
        Violator::ForeignAgent => "foreign agent",
        Violator::HomeAgent => "home agent",
    }
}

/// The tunnel counters less what `clear ip mobile traffic` set aside.
pub(crate) fn since(now: &TunnelTraffic, base: &TunnelTraffic) -> TunnelTraffic {
    TunnelTraffic {
        encapsulated_packets: now
            .encapsulated_packets
            .saturating_sub(base.encapsulated_packets),
        encapsulated_bytes: now
            .encapsulated_bytes
            .saturating_sub(base.encapsulated_bytes),
        decapsulated_packets: now
            .decapsulated_packets
            .saturating_sub(base.decapsulated_packets),
        decapsulated_bytes: now
            .decapsulated_bytes
            .saturating_sub(base.decapsulated_bytes),
        no_tunnel_packets: now.no_tunnel_packets.saturating_sub(base.no_tunnel_packets),
        bad_tunnel_packets: now
            .bad_tunnel_packets
            .saturating_sub(base.bad_tunnel_packets),
        refused_source_packets: now
            .refused_source_packets
            .saturating_sub(base.refused_source_packets),
        ttl_exceeded_packets: now
            .ttl_exceeded_packets
            .saturating_sub(base.ttl_exceeded_packets),
        send_errors: now.send_errors.saturating_sub(base.send_errors),
    }
}

impl Node {
    /// The tunnel counters as `show` gives them (since the last clear).
    pub(crate) fn tunnel_counters(&self) -> Option<TunnelTraffic> {
        let t = self.tunnel.as_ref()?;
        Some(match &self.tunnel_base {
            Some(b) => since(t, b),
            None => t.clone(),
        })
    }

    pub fn globals_view(&self) -> Option<Globals> {
        let ha = self.mobility.home_agent.as_ref();
        let fa = self.mobility.foreign_agent.as_ref();
        if ha.is_none() && fa.is_none() {
            return None;
        }
        Some(Globals {
            home_agent: ha.map(|h| {
                let c = h.engine.config();
                HomeAgentGlobals {
                    registration_lifetime: c.max_lifetime,
                    broadcast: true,
                    replay_protection_seconds: c
                        .host_sas
                        .iter()
                        .map(|(_, _, sa)| sa.replay_window.as_secs())
                        .max(),
                    reverse_tunnel: c.reverse_tunnel,
                    simultaneous_bindings: c.max_simultaneous,
                    binding_update: match c.bind_update {
                        None => "disabled".into(),
                        Some(b) if b.ack => "enabled, acknowledged".into(),
                        Some(_) => "enabled".into(),
                    },
                    home_networks: c
                        .networks
                        .iter()
                        .map(|n| HomeNetworkView {
                            interface: n.interface.clone(),
                            address: n.address,
                            prefix_len: n.prefix_len,
                        })
                        .collect(),
                    host_ranges: c.hosts.len(),
                    host_security_associations: c.host_sas.len(),
                    foreign_agent_security_associations: c.foreign_agent_sas.len(),
                    aaa_host_ranges: c.aaa_hosts.len(),
                    bindings: h.engine.bindings().len(),
                }
            }),
            foreign_agent: fa.map(|f| {
                let c = f.engine.config();
                let coa_interface = c
                    .interfaces
                    .iter()
                    .find(|i| i.address == c.care_of_address)
                    .map(|i| i.name.clone())
                    .or_else(|| {
                        self.config
                            .interfaces
                            .iter()
                            .find(|i| i.address.map(|a| a.address) == Some(c.care_of_address))
                            .map(|i| i.name.clone())
                    })
                    .unwrap_or_default();
                ForeignAgentGlobals {
                    pending_timeout_seconds: c.reg_wait.as_secs(),
                    care_of_addresses: (!c.care_of_address.is_unspecified())
                        .then_some(CareOfView {
                            interface: coa_interface,
                            address: c.care_of_address,
                            up: true,
                        })
                        .into_iter()
                        .collect(),
                    interfaces_providing_service: c.interfaces.len(),
                    encapsulations: "IPIP and GRE".into(),
                    binding_update: c.bind_update,
                    max_pending: c.max_pending,
                    home_agent_security_associations: c.home_agent_sas.len(),
                    visitor_security_associations: c.visitor_sas.len(),
                    visitors: f.engine.visitors().count(),
                    pending: f.engine.pending_count(),
                }
            }),
        })
    }

    pub fn interfaces_view(&self) -> Option<MobileInterfaces> {
        let ha = self.mobility.home_agent.as_ref();
        let fa = self.mobility.foreign_agent.as_ref();
        if ha.is_none() && fa.is_none() {
            return None;
        }
        let mut list: Vec<MobileInterface> = Vec::new();
        if let Some(f) = fa {
            let c = f.engine.config();
            for i in &c.interfaces {
                let o = c.options.get(&i.name).cloned().unwrap_or_default();
                list.push(MobileInterface {
                    name: i.name.clone(),
                    address: i.address,
                    prefix_len: i.prefix_len,
                    irdp: i.advertise,
                    min_advert_interval_ms: i.min_advert_interval.as_millis() as u64,
                    max_advert_interval_ms: i.max_advert_interval.as_millis() as u64,
                    holdtime: i.holdtime,
                    prefix_length_advertised: i.advertise && o.prefix_lengths,
                    registration_lifetime: i.registration_lifetime,
                    home_agent: i.home_agent,
                    foreign_agent: true,
                    registration_required: i.registration_required,
                    reverse_tunnel: i.reverse_tunnel,
                    reverse_tunnel_mandatory: i.reverse_tunnel_mandatory,
                    visitor_limit: i.visitor_limit,
                    visitors: f
                        .engine
                        .visitors()
                        .filter(|v| v.interface == i.name)
                        .count(),
                    advertise_multicast: o.multicast,
                    preference: o.preference,
                    home_access: self
                        .config
                        .interfaces
                        .iter()
                        .find(|x| x.name == i.name)
                        .and_then(|x| x.foreign_service.as_ref()?.home_access.clone()),
                });
            }
        }
        if let Some(h) = ha {
            let c = h.engine.config();
            for n in &c.networks {
                if let Some(i) = list.iter_mut().find(|i| i.name == n.interface) {
                    i.home_agent = true;
                    continue;
                }
                list.push(MobileInterface {
                    name: n.interface.clone(),
                    address: n.address,
                    prefix_len: n.prefix_len,
                    irdp: false,
                    min_advert_interval_ms: 0,
                    max_advert_interval_ms: 0,
                    holdtime: 0,
                    prefix_length_advertised: false,
                    registration_lifetime: c.max_lifetime,
                    home_agent: true,
                    foreign_agent: false,
                    registration_required: false,
                    reverse_tunnel: c.reverse_tunnel,
                    reverse_tunnel_mandatory: false,
                    visitor_limit: None,
                    visitors: 0,
                    advertise_multicast: false,
                    preference: 0,
                    home_access: None,
                });
            }
        }
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Some(MobileInterfaces { interfaces: list })
    }

    /// `show ip mobile host [ADDR]`: every host with counters or a
    /// binding, or the one asked for (a configured host shows zeroes).
    pub fn hosts_view(&self, now: Instant, which: Option<Ipv4Addr>) -> Option<MobileHosts> {
        let h = self.mobility.home_agent.as_ref()?;
        let c = h.engine.config();
        let counters = h.engine.host_counters();
        let mut homes: Vec<Ipv4Addr> = match which {
            Some(a) => {
                if !c.hosts.contains(a) {
                    return Some(MobileHosts::default());
                }
                vec![a]
            }
            None => counters
                .keys()
                .copied()
                .chain(h.engine.bindings().iter().map(|b| b.home_address))
                .collect(),
        };
        homes.sort_by_key(|a| u32::from(*a));
        homes.dedup();
        let ago = |t: Option<Instant>| t.map(|t| now.saturating_since(t).as_secs());
        let hosts = homes
            .into_iter()
            .map(|home| {
                let host = c.hosts.get(home).map(|(_, _, m)| m);
                let n = counters.get(&home).cloned().unwrap_or_default();
                let bindings = h.engine.bindings().get(home);
                MobileHostView {
                    home_address: home,
                    interface: host.map(|m| m.interface.clone()).unwrap_or_default(),
                    allowed_lifetime: host
                        .and_then(|m| m.lifetime)
                        .map_or(c.max_lifetime, |l| l.min(c.max_lifetime)),
                    lifetime_source: if host.and_then(|m| m.lifetime).is_some() {
                        "host".into()
                    } else {
                        "default".into()
                    },
                    registered: !bindings.is_empty(),
                    care_of_addresses: bindings.iter().map(|b| b.care_of_address).collect(),
                    accepted: n.accepted,
                    last_accepted_seconds_ago: ago(n.last_accepted),
                    denied: n.denied,
                    last_denied_seconds_ago: ago(n.last_denied),
                    last_code: n.last_code.map(|(c, _)| c),
                    last_code_seconds_ago: ago(n.last_code.map(|(_, at)| at)),
                    violations: n.violations,
                }
            })
            .collect();
        Some(MobileHosts { hosts })
    }

    pub fn tunnels_view(&self) -> Option<MobileTunnels> {
        let ha = self.mobility.home_agent.as_ref();
        let fa = self.mobility.foreign_agent.as_ref();
        if ha.is_none() && fa.is_none() {
            return None;
        }
        // One tunnel per (source, destination, encapsulation), as IOS
        // shares a tunnel among the hosts behind one care-of address.
        let mut map: BTreeMap<(u32, u32, String, &'static str), MobileTunnel> = BTreeMap::new();
        let mut add = |src: Ipv4Addr, dst: Ipv4Addr, e: &Encapsulation, rev: bool, by, home| {
            let t = map
                .entry((u32::from(src), u32::from(dst), encapsulation(e), by))
                .or_insert_with(|| MobileTunnel {
                    device: "pmip0".into(),
                    source: src,
                    destination: dst,
                    encapsulation: encapsulation(e),
                    reverse_tunnel: false,
                    created_by: by.into(),
                    users: Vec::new(),
                });
            t.reverse_tunnel |= rev;
            t.users.push(home);
        };
        if let Some(h) = ha {
            for b in h.engine.bindings().iter() {
                if b.decapsulation_by_mn || b.care_of_address != b.home_address {
                    add(
                        b.home_agent,
                        b.care_of_address,
                        &b.encapsulation,
                        b.reverse_tunnel,
                        "HA",
                        b.home_address,
                    );
                }
            }
        }
        if let Some(f) = fa {
            let coa = f.engine.config().care_of_address;
            for v in f.engine.visitors() {
                add(
                    coa,
                    v.home_agent,
                    &v.encapsulation,
                    v.reverse_tunnel,
                    "FA",
                    v.home_address,
                );
            }
        }
        let mut tunnels: Vec<MobileTunnel> = map.into_values().collect();
        for t in &mut tunnels {
            t.users.sort_by_key(|a| u32::from(*a));
        }
        Some(MobileTunnels {
            total: tunnels.len(),
            tunnels,
            traffic: self.tunnel_counters(),
        })
    }

    pub fn violations_view(&self, now: Instant) -> Option<Violations> {
        let ha = self.mobility.home_agent.as_ref();
        let fa = self.mobility.foreign_agent.as_ref();
        if ha.is_none() && fa.is_none() {
            return None;
        }
        let mut v = Violations::default();
        let mut all = Vec::new();
        for (agent, log) in [
            ("home agent", ha.map(|h| &h.engine.violations)),
            ("foreign agent", fa.map(|f| &f.engine.violations)),
        ] {
            let Some(log) = log else { continue };
            v.total += log.total;
            for (r, n) in &log.by_reason {
                *v.by_reason.entry(r.to_string()).or_default() += n;
            }
            all.extend(log.recent().map(|x| (agent, x)));
        }
        all.sort_by_key(|(_, x)| x.at);
        v.recent = all
            .into_iter()
            .map(|(agent, x)| ViolationView {
                agent: agent.into(),
                violator: violator(x.violator).into(),
                source: x.source,
                home_address: x.home_address,
                spi: format!("{:X}", x.spi),
                identification: ident(x.identification),
                reason: x.reason.to_string(),
                reason_number: x.reason.number(),
                code: x.code,
                seconds_ago: now.saturating_since(x.at).as_secs(),
                time: ios_date(x.unix),
            })
            .collect();
        Some(v)
    }

    pub fn binding_summary_view(&self) -> Option<BindingSummary> {
        let h = self.mobility.home_agent.as_ref()?;
        let b = h.engine.bindings();
        let mut homes: Vec<u32> = b.iter().map(|x| u32::from(x.home_address)).collect();
        homes.sort_unstable();
        homes.dedup();
        let mut coas: Vec<u32> = b.iter().map(|x| u32::from(x.care_of_address)).collect();
        coas.sort_unstable();
        coas.dedup();
        Some(BindingSummary {
            total: b.len(),
            home_addresses: homes.len(),
            care_of_addresses: coas.len(),
            reverse_tunnel: b.iter().filter(|x| x.reverse_tunnel).count(),
            gre: b
                .iter()
                .filter(|x| matches!(x.encapsulation, Encapsulation::Gre { .. }))
                .count(),
        })
    }

    pub fn pending_view(&self, now: Instant) -> Option<PendingVisitors> {
        let f = self.mobility.foreign_agent.as_ref()?;
        let mut list: Vec<_> = f.engine.pending().collect();
        list.sort_by_key(|(v, _)| (u32::from(v.home_address), v.identification));
        let pending: Vec<PendingView> = list
            .iter()
            .map(|(v, expires)| PendingView {
                home_address: v.home_address,
                interface: v.interface.clone(),
                mac: mac(&v.mac),
                home_agent: v.home_agent,
                udp_src_port: v.port,
                identification: ident(v.identification),
                lifetime_requested: v.lifetime,
                remaining_seconds: expires.saturating_since(now).as_secs(),
                encapsulation: encapsulation(&v.encapsulation),
                reverse_tunnel: v.reverse_tunnel,
            })
            .collect();
        Some(PendingVisitors {
            total: pending.len(),
            care_of_address: f.engine.config().care_of_address,
            pending,
        })
    }
}

/// `show debugging`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Debugging {
    pub mobile: bool,
    pub advertise: bool,
    /// `debug ip mobile host`: an address, or `access list N`.
    pub host: Option<String>,
    pub local_area: bool,
    pub redundancy: bool,
    pub proxy_mobile: bool,
}
