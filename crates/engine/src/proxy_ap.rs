//! The proxy Mobile IP access point engine (the Aironet documentation–004), sans-IO: it
//! watches stations associate, decides which are visitors it should
//! proxy for, registers with their home agents through the local foreign
//! agent in their name, re-registers before the lifetime ends, and
//! deregisters them when they come home.

use crate::codec;
use crate::host_range::HostRanges;
use crate::security::SecurityAssociation;
use crate::subnet_map::{SubnetEntry, SubnetMap};
use crate::time::{Instant, Now};
use core::net::Ipv4Addr;
use core::time::Duration;
use pmip_wire::extension::{self, Extensions, kind};
use pmip_wire::icmp::Advertisement;
use pmip_wire::identification::Identification;
use pmip_wire::registration::{ReplyCode, ReplyPacket, ReplyRepr, RequestFlags, RequestRepr};
use std::collections::{BTreeMap, BTreeSet, HashSet};

pub type Mac = [u8; 6];

#[derive(Debug, Clone)]
pub struct ProxyApConfig {
    /// The AP's own address and prefix (BVI1): clients in it are at home.
    pub own_address: Ipv4Addr,
    pub own_prefix_len: u8,
    /// `ip proxy-mobile pause`: keep the configuration, proxy for nobody.
    pub paused: bool,
    /// SSIDs with `ip proxy-mobile` (only looked up, never iterated).
    pub proxy_ssids: HashSet<String>,
    /// `ip proxy-mobile secure node`: SAs by client address range.
    pub nodes: HostRanges<SecurityAssociation>,
    /// Associations not configured locally come from the AAA server
    /// (the Aironet documentation: "specified externally on the RADIUS server").
    pub aaa: bool,
    /// `ip proxy-mobile tunnel gre` / `tunnel reverse`.
    pub tunnel_gre: bool,
    pub tunnel_reverse: bool,
    /// First registration retransmission (RFC 5944 3.6.3: then doubling).
    pub retransmit: Duration,
    pub retries: u8,
    /// Wait after a denial before trying again.
    pub backoff: Duration,
}

impl Default for ProxyApConfig {
    fn default() -> Self {
        ProxyApConfig {
            own_address: Ipv4Addr::UNSPECIFIED,
            own_prefix_len: 24,
            paused: false,
            proxy_ssids: HashSet::new(),
            nodes: HostRanges::new(),
            aaa: false,
            tunnel_gre: false,
            tunnel_reverse: false,
            retransmit: Duration::from_secs(1),
            retries: 4,
            backoff: Duration::from_secs(30),
        }
    }
}

impl ProxyApConfig {
    fn at_home(&self, a: Ipv4Addr) -> bool {
        SubnetEntry {
            home_agent: self.own_address,
            prefix_len: self.own_prefix_len,
        }
        .contains(a)
    }
}

/// What the AP learnt from the foreign agent's advertisements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignAgentInfo {
    /// Where registrations go (the advertisement's router address).
    pub address: Ipv4Addr,
    pub mac: Mac,
    pub care_of_address: Ipv4Addr,
    pub registration_lifetime: u16,
    pub reverse_tunnel: bool,
    pub gre: bool,
    pub expires: Instant,
    /// The sequence number of its last advertisement (RFC 5944 2.1.1).
    pub sequence: u16,
}

/// Why a station is not proxied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotProxied {
    /// It asked DHCP for an address (the Aironet documentation).
    Dhcp,
    /// It runs its own Mobile IP stack (the Aironet documentation).
    MobileIpStack,
    /// Its SSID has no `ip proxy-mobile`.
    SsidNotProxied,
    /// No subnet map entry for its address.
    NoHomeAgent,
    /// No `ip proxy-mobile secure node` covers it.
    NoSecurityAssociation,
    /// Proxy Mobile IP is paused.
    Paused,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Associated; its address is not known yet.
    Learning,
    /// In the AP's own subnet: not a visitor.
    Home,
    NotProxied(NotProxied),
    /// A visitor waiting for a foreign agent to be heard.
    WaitingForAgent,
    /// A visitor whose security association is being fetched from the
    /// AAA server.
    FetchingSa,
    /// Registration sent, no reply yet.
    Registering {
        sent: Instant,
        tries: u8,
    },
    Registered {
        expires: Instant,
        lifetime: u16,
    },
    /// Denied; try again at `until`.
    BackingOff {
        until: Instant,
        code: ReplyCode,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Station {
    pub mac: Mac,
    pub ssid: String,
    pub address: Option<Ipv4Addr>,
    pub home_agent: Option<Ipv4Addr>,
    pub state: State,
    /// Identification of the request in flight.
    ident: u64,
    lifetime_request: Option<u16>,
    dhcp: bool,
    mobile_ip: bool,
    /// Whether traffic interception is on for it.
    intercepting: bool,
    /// When it associated with this AP.
    pub associated_at: Instant,
    /// Round trip of the last accepted registration (request sent to
    /// reply received), for the operator and the lab's timeline.
    pub registration_rtt: Option<Duration>,
    /// From association to the first accepted registration.
    pub registered_after: Option<Duration>,
}

/// What the AP sees a station do (from its frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observation {
    /// An IPv4 packet from this source address.
    Ipv4Source(Ipv4Addr),
    /// An ARP packet whose sender is this address.
    ArpSender(Ipv4Addr),
    /// A DHCP request or discover.
    Dhcp,
    /// An agent solicitation or registration request of its own.
    MobileIp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A Registration Request to the foreign agent in the client's name:
    /// from `home_address:434` and the client's MAC, to `to:434`.
    SendRegistration {
        client_mac: Mac,
        home_address: Ipv4Addr,
        to: Ipv4Addr,
        to_mac: Mac,
        payload: Vec<u8>,
    },
    /// An Agent Solicitation on the wired side.
    Solicit,
    /// Fetch `home`'s security association from the AAA server and hand
    /// it to [`ProxyAp::sa_result`].
    FetchSa { home: Ipv4Addr },
    /// Start handing the client's traffic to the foreign agent: answer
    /// its ARP for any off-link address with `fa_mac`, hold back
    /// registration replies and broadcasts.
    Intercept {
        client_mac: Mac,
        home_address: Ipv4Addr,
        fa_mac: Mac,
    },
    /// Stop intercepting for the client.
    Release {
        client_mac: Mac,
        home_address: Ipv4Addr,
    },
    /// Announce the client at home (gratuitous ARP for its address).
    AnnounceHome { client_mac: Mac, address: Ipv4Addr },
}

/// Upper bounds (ms) of the handoff latency histogram's buckets.
pub const HANDOFF_BUCKETS_MS: [u64; 9] = [5, 10, 20, 50, 100, 200, 500, 1000, 5000];

/// Handoff latency: from a visitor's first frame to its first accepted
/// registration, in the buckets of [`HANDOFF_BUCKETS_MS`] (Prometheus
/// style: counts per bucket, not cumulative; the last slot is above all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    pub counts: [u64; HANDOFF_BUCKETS_MS.len() + 1],
    pub sum_us: u64,
    pub count: u64,
}

impl Histogram {
    pub fn record(&mut self, d: Duration) {
        let ms = d.as_millis() as u64;
        let i = HANDOFF_BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(HANDOFF_BUCKETS_MS.len());
        self.counts[i] += 1;
        self.sum_us += d.as_micros() as u64;
        self.count += 1;
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Visitors' handoff latency (first frame to accepted registration).
    pub handoff_latency: Histogram,
    pub registrations_sent: u64,
    pub reregistrations: u64,
    pub deregistrations: u64,
    pub accepted: u64,
    pub denied: BTreeMap<u8, u64>,
    pub retransmissions: u64,
    pub resyncs: u64,
    pub dropped: BTreeMap<&'static str, u64>,
}

pub struct ProxyAp {
    config: ProxyApConfig,
    subnet_map: SubnetMap,
    foreign_agent: Option<ForeignAgentInfo>,
    /// Our own subnet's home agent, from an advertisement with H set.
    own_home_agent: Option<SubnetEntry>,
    stations: BTreeMap<Mac, Station>,
    /// Seconds the home agent's clock is ahead of ours (code 133 resync,
    /// the Aironet documentation: "the AP adjusts the time stamp in future requests").
    clock_offset: BTreeMap<Ipv4Addr, i64>,
    /// Associations from the AAA server, by client address, and the
    /// fetches under way.
    aaa_sas: BTreeMap<Ipv4Addr, SecurityAssociation>,
    fetching: BTreeSet<Ipv4Addr>,
    /// Stations at home whose deregistration waits for their home agent
    /// to be known (an AP that starts with its stations already home has
    /// heard no advertisement and holds no subnet map yet).
    home_undone: BTreeSet<Mac>,
    pub counters: Counters,
}

impl ProxyAp {
    pub fn new(config: ProxyApConfig) -> ProxyAp {
        ProxyAp {
            config,
            subnet_map: SubnetMap::new(),
            foreign_agent: None,
            own_home_agent: None,
            stations: BTreeMap::new(),
            clock_offset: BTreeMap::new(),
            aaa_sas: BTreeMap::new(),
            fetching: BTreeSet::new(),
            home_undone: BTreeSet::new(),
            counters: Counters::default(),
        }
    }

    pub fn config(&self) -> &ProxyApConfig {
        &self.config
    }
    /// A client's association: configured locally (which wins), else the
    /// one the AAA server gave.
    pub fn node_sa(&self, addr: Ipv4Addr) -> Option<SecurityAssociation> {
        self.config
            .nodes
            .get(addr)
            .map(|(_, _, sa)| sa.clone())
            .or_else(|| self.aaa_sas.get(&addr).cloned())
    }

    /// The AAA server's answer for `home`: stations with that address
    /// register now, or back off and ask again later (a failure is retried
    /// at the next attempt, never cached).
    pub fn sa_result(
        &mut self,
        now: Now,
        home: Ipv4Addr,
        result: Result<SecurityAssociation, String>,
        out: &mut Vec<Action>,
    ) {
        self.fetching.remove(&home);
        let macs: Vec<Mac> = self
            .stations
            .values()
            .filter(|s| s.address == Some(home) && s.state == State::FetchingSa)
            .map(|s| s.mac)
            .collect();
        // Clients back home whose deregistration waited for the SA.
        let home_again: Vec<Mac> = self
            .stations
            .values()
            .filter(|s| s.address == Some(home) && s.state == State::Home)
            .map(|s| s.mac)
            .collect();
        match result {
            Ok(sa) => {
                // Bounded: the AAA client keeps its own cache.
                if self.aaa_sas.len() >= 4096 {
                    self.aaa_sas.clear();
                }
                self.aaa_sas.insert(home, sa);
                for mac in macs {
                    self.decide(now, mac, out);
                }
                for mac in home_again {
                    self.deregister(now, mac, home, out);
                }
            }
            Err(reason) => {
                *self
                    .counters
                    .dropped
                    .entry("no association from the AAA server")
                    .or_default() += 1;
                tracing::warn!(%home, %reason, "no security association from the AAA server; trying again later");
                for mac in macs {
                    self.set_state(
                        mac,
                        State::BackingOff {
                            until: now.instant + self.config.backoff,
                            code: ReplyCode::MobileNodeFailedAuthenticationHa,
                        },
                        out,
                    );
                }
            }
        }
    }

    pub fn subnet_map(&self) -> &SubnetMap {
        &self.subnet_map
    }
    pub fn foreign_agent(&self) -> Option<&ForeignAgentInfo> {
        self.foreign_agent.as_ref()
    }
    pub fn own_home_agent(&self) -> Option<SubnetEntry> {
        self.own_home_agent
    }
    pub fn stations(&self) -> impl Iterator<Item = &Station> {
        self.stations.values()
    }
    pub fn station(&self, mac: &Mac) -> Option<&Station> {
        self.stations.get(mac)
    }

    /// Replaces the subnet map (from configuration, or from the AAP) and
    /// reconsiders stations that had no home agent.
    pub fn set_subnet_map(&mut self, now: Now, map: SubnetMap, out: &mut Vec<Action>) {
        self.subnet_map = map;
        self.deregister_held(now, out);
        let waiting: Vec<Mac> = self
            .stations
            .values()
            .filter(|s| s.state == State::NotProxied(NotProxied::NoHomeAgent))
            .map(|s| s.mac)
            .collect();
        for mac in waiting {
            self.decide(now, mac, out);
        }
    }

    pub fn set_config(&mut self, now: Now, config: ProxyApConfig, out: &mut Vec<Action>) {
        self.config = config;
        let macs: Vec<Mac> = self.stations.keys().copied().collect();
        for mac in macs {
            self.decide(now, mac, out);
        }
    }

    /// Boot: solicit agents rather than wait (the Aironet documentation).
    pub fn start(&mut self, out: &mut Vec<Action>) {
        out.push(Action::Solicit);
    }

    pub fn associate(&mut self, now: Now, mac: Mac, ssid: &str, out: &mut Vec<Action>) {
        self.stations.insert(
            mac,
            Station {
                mac,
                ssid: ssid.to_owned(),
                address: None,
                home_agent: None,
                state: State::Learning,
                ident: 0,
                lifetime_request: None,
                dhcp: false,
                mobile_ip: false,
                intercepting: false,
                associated_at: now.instant,
                registration_rtt: None,
                registered_after: None,
            },
        );
        self.decide(now, mac, out);
    }

    /// The station left: stop intercepting. No deregistration: it may
    /// already be registered through another AP (the home agent tells
    /// the old foreign agent with a Binding Update).
    pub fn disassociate(&mut self, _now: Now, mac: Mac, out: &mut Vec<Action>) {
        self.home_undone.remove(&mac);
        if let Some(s) = self.stations.remove(&mac)
            && s.intercepting
            && let Some(a) = s.address
        {
            out.push(Action::Release {
                client_mac: mac,
                home_address: a,
            });
        }
    }

    pub fn observe(&mut self, now: Now, mac: Mac, what: Observation, out: &mut Vec<Action>) {
        let Some(s) = self.stations.get_mut(&mac) else {
            return;
        };
        match what {
            Observation::Dhcp => s.dhcp = true,
            Observation::MobileIp => s.mobile_ip = true,
            Observation::Ipv4Source(a) | Observation::ArpSender(a) => {
                if a.is_unspecified()
                    || a.is_broadcast()
                    || a.is_multicast()
                    || s.address == Some(a)
                {
                    return;
                }
                s.address = Some(a);
            }
        }
        self.decide(now, mac, out);
    }

    /// An agent advertisement heard on the wired side.
    pub fn advertisement(
        &mut self,
        now: Now,
        src: Ipv4Addr,
        src_mac: Mac,
        adv: &Advertisement<'_>,
        out: &mut Vec<Action>,
    ) {
        let Some(m) = adv.mobility_agent() else {
            return;
        };
        let prefix = adv.prefix_lengths().and_then(|p| p.first().copied());
        if m.flags.home_agent
            && let Some(len) = prefix
        {
            self.own_home_agent = Some(SubnetEntry {
                home_agent: src,
                prefix_len: len,
            });
            self.deregister_held(now, out);
        }
        if m.flags.foreign_agent
            && !m.flags.busy
            && let Some(&coa) = m.care_of_addresses.first()
        {
            let first = self.foreign_agent.is_none();
            // RFC 5944 2.1.1/3.6.1: an agent numbers its advertisements
            // from 0 after it boots, one more each, wrapping to 256; so a
            // number below 256 that does not grow means it rebooted (also
            // a second 0, when it restarted before its next
            // advertisement). Advertisements that stopped for longer than
            // their lifetime mean it was lost. Either way it has forgotten
            // its visitors: register them again at once.
            let restarted = self.foreign_agent.as_ref().is_some_and(|p| {
                p.address == src
                    && ((m.sequence < 256 && m.sequence <= p.sequence) || now.instant > p.expires)
            });
            self.foreign_agent = Some(ForeignAgentInfo {
                address: src,
                mac: src_mac,
                care_of_address: coa,
                registration_lifetime: m.registration_lifetime,
                reverse_tunnel: m.flags.reverse_tunnel,
                gre: m.flags.gre,
                expires: now.instant + Duration::from_secs(u64::from(adv.lifetime)),
                sequence: m.sequence,
            });
            if restarted {
                let registered: Vec<Mac> = self
                    .stations
                    .values()
                    .filter(|s| matches!(s.state, State::Registered { .. }))
                    .map(|s| s.mac)
                    .collect();
                if !registered.is_empty() {
                    tracing::info!(
                        foreign_agent = %src,
                        stations = registered.len(),
                        "the foreign agent restarted; registering its visitors again"
                    );
                }
                for mac in registered {
                    self.send_registration(now, mac, 0, out);
                }
            }
            if first {
                let waiting: Vec<Mac> = self
                    .stations
                    .values()
                    .filter(|s| s.state == State::WaitingForAgent)
                    .map(|s| s.mac)
                    .collect();
                for mac in waiting {
                    self.decide(now, mac, out);
                }
            }
        }
    }

    /// Should we proxy, and if so start registering.
    fn decide(&mut self, now: Now, mac: Mac, out: &mut Vec<Action>) {
        let Some(s) = self.stations.get(&mac) else {
            return;
        };
        let verdict = if self.config.paused {
            Some(State::NotProxied(NotProxied::Paused))
        } else if !self.config.proxy_ssids.contains(&s.ssid) {
            Some(State::NotProxied(NotProxied::SsidNotProxied))
        } else if s.dhcp {
            Some(State::NotProxied(NotProxied::Dhcp))
        } else if s.mobile_ip {
            Some(State::NotProxied(NotProxied::MobileIpStack))
        } else {
            None
        };
        let address = s.address;
        let was_intercepting = s.intercepting;
        let was_registered = matches!(
            s.state,
            State::Registering { .. } | State::Registered { .. }
        );
        if let Some(v) = verdict {
            // Registered at its association, before it showed a DHCP or
            // Mobile IP stack of its own: withdraw that registration so
            // the home agent keeps no binding the AP made for it.
            let own_stack = matches!(
                v,
                State::NotProxied(NotProxied::Dhcp) | State::NotProxied(NotProxied::MobileIpStack)
            );
            if was_registered
                && own_stack
                && let Some(a) = address
            {
                self.withdraw(now, mac, a, out);
            }
            self.set_state(mac, v, out);
            if was_intercepting && let Some(a) = address {
                out.push(Action::Release {
                    client_mac: mac,
                    home_address: a,
                });
                if let Some(s) = self.stations.get_mut(&mac) {
                    s.intercepting = false;
                }
            }
            return;
        }
        let Some(addr) = address else {
            self.set_state(mac, State::Learning, out);
            return;
        };
        if self.config.at_home(addr) {
            self.come_home(now, mac, addr, out);
            return;
        }
        let Some(entry) = self.subnet_map.lookup(addr) else {
            self.set_state(mac, State::NotProxied(NotProxied::NoHomeAgent), out);
            return;
        };
        if self.node_sa(addr).is_none() {
            if self.config.aaa {
                self.set_state(mac, State::FetchingSa, out);
                if self.fetching.insert(addr) {
                    out.push(Action::FetchSa { home: addr });
                }
                return;
            }
            self.set_state(
                mac,
                State::NotProxied(NotProxied::NoSecurityAssociation),
                out,
            );
            return;
        }
        if let Some(s) = self.stations.get_mut(&mac) {
            s.home_agent = Some(entry.home_agent);
        }
        if matches!(
            self.stations.get(&mac).map(|s| &s.state),
            Some(State::Registering { .. }) | Some(State::Registered { .. })
        ) {
            return;
        }
        if self.foreign_agent.is_none() {
            self.set_state(mac, State::WaitingForAgent, out);
            out.push(Action::Solicit);
            return;
        }
        self.send_registration(now, mac, 0, out);
    }

    fn set_state(&mut self, mac: Mac, state: State, _out: &mut [Action]) {
        if let Some(s) = self.stations.get_mut(&mac) {
            s.state = state;
        }
    }

    /// The client is in the AP's own subnet: if we can, deregister it
    /// from its home agent (it may have been away) and announce it.
    fn come_home(&mut self, now: Now, mac: Mac, addr: Ipv4Addr, out: &mut Vec<Action>) {
        self.set_state(mac, State::Home, out);
        out.push(Action::AnnounceHome {
            client_mac: mac,
            address: addr,
        });
        if self.node_sa(addr).is_none() && self.config.aaa {
            // The deregistration must be signed: fetch the SA first
            // (`sa_result` deregisters).
            if self.fetching.insert(addr) {
                out.push(Action::FetchSa { home: addr });
            }
            return;
        }
        self.deregister(now, mac, addr, out);
    }

    /// Deregisters a client that is home from its home agent (RFC 5944
    /// 3.6.1.2: lifetime 0, care-of address = home address).
    fn deregister(&mut self, now: Now, mac: Mac, addr: Ipv4Addr, out: &mut Vec<Action>) {
        let ha = self
            .subnet_map
            .lookup(addr)
            .or(self.own_home_agent)
            .map(|e| e.home_agent);
        let Some(ha) = ha else {
            // Sent once the home agent is known (`deregister_held`): a
            // binding it kept from before (this AP was down when the
            // station came home) would hold the station's traffic away.
            self.home_undone.insert(mac);
            return;
        };
        self.home_undone.remove(&mac);
        let Some(sa) = self.node_sa(addr) else {
            return;
        };
        let ident = self.identification(now, ha);
        // Straight to the home agent on our own link: it is on this subnet.
        self.push_deregistration(
            Deregistration {
                client_mac: mac,
                home_address: addr,
                home_agent: ha,
                care_of_address: addr,
                identification: ident,
                to: ha,
                to_mac: [0xff; 6],
            },
            &sa,
            out,
        );
    }

    /// The deregistrations held for want of a home agent, now that one
    /// may be known; stations that left home meanwhile are dropped.
    fn deregister_held(&mut self, now: Now, out: &mut Vec<Action>) {
        for mac in std::mem::take(&mut self.home_undone) {
            if let Some(s) = self.stations.get(&mac)
                && s.state == State::Home
                && let Some(addr) = s.address
            {
                self.deregister(now, mac, addr, out);
            }
        }
    }

    /// Deregisters a client's care-of address through the foreign agent
    /// it was registered through (RFC 5944 3.6.1.2: lifetime 0, the
    /// care-of address being released).
    fn withdraw(&mut self, now: Now, mac: Mac, addr: Ipv4Addr, out: &mut Vec<Action>) {
        let Some(fa) = self.foreign_agent.clone() else {
            return;
        };
        let Some(ha) = self.stations.get(&mac).and_then(|s| s.home_agent) else {
            return;
        };
        let Some(sa) = self.node_sa(addr) else {
            return;
        };
        let mut ident = self.identification(now, ha);
        if let Some(s) = self.stations.get_mut(&mac) {
            if ident <= s.ident {
                ident = s.ident + 1;
            }
            s.ident = ident;
        }
        self.push_deregistration(
            Deregistration {
                client_mac: mac,
                home_address: addr,
                home_agent: ha,
                care_of_address: fa.care_of_address,
                identification: ident,
                to: fa.address,
                to_mac: fa.mac,
            },
            &sa,
            out,
        );
    }

    /// Sends a deregistration (lifetime 0, RFC 5944 3.6.1.2) signed with
    /// the client's association, in the client's name.
    fn push_deregistration(
        &mut self,
        d: Deregistration,
        sa: &SecurityAssociation,
        out: &mut Vec<Action>,
    ) {
        let msg = signed_request(
            RequestRepr {
                flags: RequestFlags::default(),
                lifetime: 0,
                home_address: d.home_address,
                home_agent: d.home_agent,
                care_of_address: d.care_of_address,
                identification: Identification(d.identification),
                extensions: Extensions::new(),
            },
            sa,
        );
        self.counters.deregistrations += 1;
        out.push(Action::SendRegistration {
            client_mac: d.client_mac,
            home_address: d.home_address,
            to: d.to,
            to_mac: d.to_mac,
            payload: msg,
        });
    }

    fn identification(&self, now: Now, ha: Ipv4Addr) -> u64 {
        let offset = self.clock_offset.get(&ha).copied().unwrap_or(0);
        let t = if offset >= 0 {
            now.unix + Duration::from_secs(offset as u64)
        } else {
            now.unix
                .saturating_sub(Duration::from_secs(offset.unsigned_abs()))
        };
        Identification::from_unix(t).0
    }

    fn send_registration(&mut self, now: Now, mac: Mac, tries: u8, out: &mut Vec<Action>) {
        let Some(fa) = self.foreign_agent.clone() else {
            return;
        };
        let Some(s) = self.stations.get(&mac) else {
            return;
        };
        let (Some(addr), Some(ha)) = (s.address, s.home_agent) else {
            return;
        };
        let Some(sa) = self.node_sa(addr) else {
            return;
        };
        let lifetime = s
            .lifetime_request
            .unwrap_or(fa.registration_lifetime)
            .min(fa.registration_lifetime);
        // The identification must grow even within one second.
        let mut ident = self.identification(now, ha);
        if ident <= s.ident {
            ident = s.ident + 1;
        }
        let reregistration = matches!(s.state, State::Registered { .. });
        let msg = signed_request(
            RequestRepr {
                flags: RequestFlags {
                    gre: self.config.tunnel_gre && fa.gre,
                    reverse_tunnel: self.config.tunnel_reverse && fa.reverse_tunnel,
                    ..Default::default()
                },
                lifetime,
                home_address: addr,
                home_agent: ha,
                care_of_address: fa.care_of_address,
                identification: Identification(ident),
                extensions: Extensions::new(),
            },
            &sa,
        );
        let s = self.stations.get_mut(&mac).expect("checked above");
        s.ident = ident;
        if !reregistration {
            s.state = State::Registering {
                sent: now.instant,
                tries,
            };
        }
        if tries > 0 {
            self.counters.retransmissions += 1;
        } else if reregistration {
            self.counters.reregistrations += 1;
        }
        self.counters.registrations_sent += 1;
        // A re-registration waits in Registered; remember it is in flight.
        if reregistration && let Some(s) = self.stations.get_mut(&mac) {
            s.state = State::Registering {
                sent: now.instant,
                tries,
            };
        }
        out.push(Action::SendRegistration {
            client_mac: mac,
            home_address: addr,
            to: fa.address,
            to_mac: fa.mac,
            payload: msg,
        });
    }

    /// A Registration Reply held back from a client (the platform catches
    /// UDP from port 434 to a proxied client).
    pub fn registration_reply(&mut self, now: Now, payload: &[u8], out: &mut Vec<Action>) {
        let Ok(packet) = ReplyPacket::new_checked(payload) else {
            self.counters
                .dropped
                .entry("unreadable reply")
                .and_modify(|n| *n += 1)
                .or_insert(1);
            return;
        };
        let Ok((reply, list)) = ReplyRepr::parse_located(&packet) else {
            self.counters
                .dropped
                .entry("malformed reply")
                .and_modify(|n| *n += 1)
                .or_insert(1);
            return;
        };
        let Some(mac) = self
            .stations
            .values()
            .find(|s| {
                s.address == Some(reply.home_address)
                    && (s.ident & 0xffff_ffff) == u64::from(reply.identification.low())
            })
            .map(|s| s.mac)
        else {
            self.counters
                .dropped
                .entry("reply for no request of ours")
                .and_modify(|n| *n += 1)
                .or_insert(1);
            return;
        };
        // Home agent replies must carry a valid MHAE (RFC 5944 3.6.2.1);
        // only foreign agent denials (64–127) cannot.
        let authentic = self.node_sa(reply.home_address).is_some_and(|sa| {
            codec::verify_span(payload, list.auth(kind::MOBILE_HOME_AUTH).as_ref(), &sa)
        });
        if !authentic && !reply.code.denied_by_fa() {
            self.counters
                .dropped
                .entry("reply failing authentication")
                .and_modify(|n| *n += 1)
                .or_insert(1);
            tracing::warn!(home = %reply.home_address, code = u8::from(reply.code), "dropped a registration reply that fails authentication");
            return;
        }
        let Some(s) = self.stations.get(&mac).cloned() else {
            return;
        };
        if matches!(s.state, State::Home | State::NotProxied(_)) {
            // Our deregistration from home, or the withdrawal of a
            // station we no longer proxy, was answered.
            return;
        }
        match reply.code {
            ReplyCode::Accepted | ReplyCode::AcceptedNoSimultaneousBindings => {
                self.counters.accepted += 1;
                let fa_mac = self.foreign_agent.as_ref().map_or([0xff; 6], |f| f.mac);
                let st = self.stations.get_mut(&mac).expect("found above");
                if let State::Registering { sent, .. } = st.state {
                    st.registration_rtt = Some(now.instant.saturating_since(sent));
                }
                if st.registered_after.is_none() {
                    let d = now.instant.saturating_since(st.associated_at);
                    st.registered_after = Some(d);
                    self.counters.handoff_latency.record(d);
                }
                st.state = State::Registered {
                    expires: now.instant + Duration::from_secs(u64::from(reply.lifetime)),
                    lifetime: reply.lifetime,
                };
                if !st.intercepting {
                    st.intercepting = true;
                    out.push(Action::Intercept {
                        client_mac: mac,
                        home_address: reply.home_address,
                        fa_mac,
                    });
                }
            }
            code => {
                *self.counters.denied.entry(code.into()).or_default() += 1;
                match code {
                    // Take the home agent's time (the Aironet documentation), try again now.
                    ReplyCode::IdentificationMismatch => {
                        let offset = Identification::resync_offset(
                            reply.identification,
                            Identification(s.ident),
                        );
                        if let Some(ha) = s.home_agent {
                            self.clock_offset.insert(ha, offset);
                        }
                        self.counters.resyncs += 1;
                        self.send_registration(now, mac, 0, out);
                    }
                    // Use the lifetime the foreign agent offers.
                    ReplyCode::LifetimeTooLong if reply.lifetime > 0 => {
                        if let Some(st) = self.stations.get_mut(&mac) {
                            st.lifetime_request = Some(reply.lifetime);
                        }
                        self.send_registration(now, mac, 0, out);
                    }
                    _ => {
                        tracing::info!(home = %reply.home_address, "registration denied: {code}");
                        self.set_state(
                            mac,
                            State::BackingOff {
                                until: now.instant + self.config.backoff,
                                code,
                            },
                            out,
                        );
                    }
                }
            }
        }
    }

    /// Re-registrations, retransmissions, back-off expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.stations
            .values()
            .filter_map(|s| match s.state {
                State::Registering { sent, tries } => {
                    Some(sent + self.config.retransmit * (1u32 << tries.min(6)))
                }
                State::Registered { expires, lifetime } => Some(reregister_at(expires, lifetime)),
                State::BackingOff { until, .. } => Some(until),
                _ => None,
            })
            .min()
    }

    pub fn handle_timeout(&mut self, now: Now, out: &mut Vec<Action>) {
        let due: Vec<(Mac, State)> = self
            .stations
            .values()
            .map(|s| (s.mac, s.state.clone()))
            .collect();
        for (mac, state) in due {
            match state {
                State::Registering { sent, tries }
                    if now.instant >= sent + self.config.retransmit * (1u32 << tries.min(6)) =>
                {
                    if tries + 1 >= self.config.retries {
                        self.set_state(
                            mac,
                            State::BackingOff {
                                until: now.instant + self.config.backoff,
                                code: ReplyCode::RegistrationTimeout,
                            },
                            out,
                        );
                    } else {
                        self.send_registration(now, mac, tries + 1, out);
                    }
                }
                State::Registered { expires, lifetime }
                    if now.instant >= reregister_at(expires, lifetime) =>
                {
                    self.send_registration(now, mac, 0, out);
                }
                State::BackingOff { until, .. } if now.instant >= until => {
                    self.set_state(mac, State::Learning, out);
                    self.decide(now, mac, out);
                }
                _ => {}
            }
        }
    }
}

/// A deregistration to send in a client's name.
struct Deregistration {
    client_mac: Mac,
    home_address: Ipv4Addr,
    home_agent: Ipv4Addr,
    care_of_address: Ipv4Addr,
    identification: u64,
    to: Ipv4Addr,
    to_mac: Mac,
}

/// A Registration Request in the client's name, signed with its SA (the
/// MHAE, RFC 5944 3.5.2).
fn signed_request(request: RequestRepr<'_>, sa: &SecurityAssociation) -> Vec<u8> {
    let mut msg = request.to_vec();
    extension::append_authentication(
        &mut msg,
        kind::MOBILE_HOME_AUTH,
        sa.spi,
        sa.algorithm,
        &sa.key,
    );
    msg
}

/// When to re-register: with a fifth of the lifetime left (at least 2 s
/// before it ends), so a lost request can still be retransmitted.
fn reregister_at(expires: Instant, lifetime: u16) -> Instant {
    let margin = Duration::from_secs(u64::from(lifetime / 5).max(2));
    expires - margin
}
