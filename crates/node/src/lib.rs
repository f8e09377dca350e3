//! One sans-IO node per device (docs/architecture.md).
//!
//! A [`Node`] owns every role its configuration enables — home agent,
//! foreign agent, proxy Mobile IP access point, subnet map exchange (AP or
//! AAP) — and every decision they make: which role a datagram is for, what
//! a station's frame says, how an ARP request is answered, what a liveness
//! probe contains, what an operator command means. It is driven in the
//! style of quinn-proto's `Endpoint`:
//!
//! - [`Node::handle`] takes the time and one [`Input`]: a UDP datagram with
//!   its local and remote address, a frame from a station port or the wired
//!   port, an IPv4 packet from a visited link, a link event, or the answer
//!   to a security association lookup;
//! - [`Node::exec`] runs one operator command;
//! - [`Node::poll_output`] hands out what to do, in order: transmit, install
//!   or remove kernel state, watch a port, fetch an association;
//! - [`Node::poll_timeout`] / [`Node::handle_timeout`] drive its timers;
//! - [`Node::snapshot`] is the typed state every `show`, the web pages and
//!   `/metrics` render from.
//!
//! The node never reads a clock or touches a socket, so a whole campus of
//! nodes runs in one test thread with simulated time and network.

mod access_point;
mod cli;
pub mod config;
pub mod dhcp;
mod exchange;
mod exec;
mod mobility;
pub mod packets;
pub mod show;
pub mod snapshot;

use pmip_config::Config;
use pmip_engine::binding::Binding;
use pmip_engine::foreign_agent::Visitor;
use pmip_engine::security::SecurityAssociation;
use pmip_engine::time::{Instant, Now};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

pub use access_point::StationPort;
pub use snapshot::Snapshot;

/// A link-layer (MAC) address.
pub type Mac = [u8; 6];

/// UDP port of Mobile IP registration (RFC 5944 3.3).
pub const REGISTRATION_PORT: u16 = pmip_wire::udp::MOBILE_IP_PORT;
/// UDP port of the subnet map exchange (docs/subnet-map-exchange.md).
pub const EXCHANGE_PORT: u16 = pmip_wire::subnet_exchange::PORT;
/// Local UDP port the AAP sends its home agent liveness probes from: the
/// answers come back to it (RFC 5944 3.4), apart from registrations.
pub const PROBE_PORT: u16 = 4342;

/// One of the AP's links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Link {
    /// The wired port (FastEthernet0).
    Wired,
    /// A station's port, by interface index (docs/radio.md).
    Station(u32),
}

/// The role that asked for a security association.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    HomeAgent,
    AccessPoint,
}

/// What happened to the radio or the links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The AP's bridge exists with this MAC (the source of its own
    /// solicitations).
    Bridge { mac: Mac },
    /// A station associated on this port.
    Associated(StationPort),
    /// The station on this port left (its port went away).
    Disassociated { ifindex: u32 },
    /// The full list of station ports on the bridge now: new ones are
    /// associations, missing ones departures.
    StationPorts(Vec<StationPort>),
    /// A station associated on a radio port many stations share (a
    /// hostapd interface on the bridge, docs/radio.md): its MAC is known
    /// from the association itself.
    RadioAssociated { port: StationPort, mac: Mac },
    /// The station left the shared radio port `ifindex`.
    RadioDisassociated { ifindex: u32, mac: Mac },
    /// Every station on the shared radio `port` now (the radio's list
    /// when it is first followed or followed again): new ones are
    /// associations, missing ones departures.
    RadioStations { port: StationPort, macs: Vec<Mac> },
}

/// A security association fetched from the AAA server and the server
/// that gave it (unspecified when not cached), or why there is none.
pub type SaLookup = Result<(SecurityAssociation, SocketAddrV4), String>;

/// Everything a node can be told.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    /// A UDP datagram that arrived on one of [`Node::udp_sockets`].
    Datagram {
        local: SocketAddrV4,
        remote: SocketAddrV4,
        payload: &'a [u8],
    },
    /// A whole Ethernet frame from one of the AP's links.
    Frame {
        link: Link,
        frame: &'a [u8],
    },
    /// An IPv4 packet from a foreign agent's visited link, with the
    /// link-layer address it came from (RFC 5944 3.7.1: the foreign
    /// agent answers a visitor by its MAC).
    VisitedPacket {
        interface: &'a str,
        mac: Mac,
        packet: &'a [u8],
    },
    Link(LinkEvent),
    /// The answer to an [`Output::FetchSa`].
    SaResult {
        role: Role,
        home: Ipv4Addr,
        result: SaLookup,
    },
}

/// Something to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// A UDP datagram from one of [`Node::udp_sockets`].
    Udp {
        local: SocketAddrV4,
        remote: SocketAddrV4,
        payload: Vec<u8>,
    },
    /// An IPv4 packet to a link-layer address on a visited link.
    Packet {
        interface: String,
        mac: Mac,
        packet: Vec<u8>,
    },
    /// A whole Ethernet frame out of one of the AP's links.
    Frame { link: Link, frame: Vec<u8> },
}

/// Kernel state to add or remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    /// A binding started: tunnel to its care-of address; when `first`,
    /// route the home address into the tunnel, proxy-ARP for it on
    /// `interface` and announce it (RFC 5944 4.6).
    BindingUp {
        binding: Binding,
        interface: String,
        first: bool,
    },
    /// A binding ended; when `last` the home address is home again. The
    /// transmits after it wait until it is done: a reply to a node that
    /// came home must not be tunnelled to where it was.
    BindingDown {
        binding: Binding,
        interface: String,
        last: bool,
    },
    /// A binding was renewed: nothing to install, but the state kept
    /// across restarts records its new lifetime.
    BindingRenewed {
        binding: Binding,
    },
    /// A visitor was accepted: deliver by MAC, reverse tunnel if asked.
    VisitorUp(Visitor),
    VisitorDown(Visitor),
    /// A visitor was renewed: nothing to install, but the state kept
    /// across restarts records its new lifetime.
    VisitorRenewed(Visitor),
    /// The AP saw a station use this address (new, changed, or seen all
    /// along): nothing to install, the state kept across restarts records
    /// it so a restarted AP registers the station at its association.
    StationKnown {
        mac: Mac,
        address: Ipv4Addr,
    },
    /// Keep registration replies from a visiting station, and on its own
    /// `port` broadcasts and multicasts too (proxy Mobile IP does not carry
    /// them; a radio shared by every station cannot hold them back from
    /// one).
    IsolateStation {
        port: String,
        mac: Mac,
        own_port: bool,
    },
    /// The station is home again: everything reaches it.
    ReleaseStation {
        port: String,
        mac: Mac,
    },
}

/// What the node asks its driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Transmit(Transmit),
    Install(Install),
    /// Look `home`'s association up on the AAA server and hand the answer
    /// back as [`Input::SaResult`].
    FetchSa {
        role: Role,
        home: Ipv4Addr,
    },
    /// Read every frame of this station port.
    WatchPort {
        ifindex: u32,
        name: String,
    },
    /// The station's address is known: only its control frames (ARP,
    /// DHCP, Mobile IP) are needed from now on.
    NarrowPort {
        ifindex: u32,
    },
    /// Stop reading the port (the station left).
    UnwatchPort {
        ifindex: u32,
    },
    /// `write memory`: store this configuration (keys included) as the
    /// startup configuration, atomically, keeping the previous one; then
    /// report with [`Node::saved`].
    SaveConfig {
        text: String,
    },
}

/// Inputs the node could not use, by reason (each logged once).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub dropped: std::collections::BTreeMap<&'static str, u64>,
}

/// Every role of one device.
pub struct Node {
    config: Config,
    started: Instant,
    mobility: mobility::Mobility,
    ap: Option<access_point::AccessPoint>,
    exchange: exchange::Exchange,
    out: VecDeque<Output>,
    counters: Counters,
    /// Data-plane counters the driver reads from the platform, for `show
    /// ip mobile traffic` and `/metrics`.
    tunnel: Option<snapshot::TunnelTraffic>,
    /// The data-plane counters when `clear ip mobile traffic` ran: `show`
    /// counts from there (the platform's counters never go back).
    tunnel_base: Option<snapshot::TunnelTraffic>,
    /// The configuration the device starts from (its file), as last read
    /// or saved.
    startup: Option<String>,
    /// `ip address dhcp` on BVI1: the client, and the bridge's MAC it runs with.
    dhcp: Option<dhcp::Dhcp>,
    dhcp_mac: Option<Mac>,
    /// `debug ip mobile`, `debug ip proxy-mobile`: what is on, the trace
    /// lines for [`Node::poll_debug`], and the time of the last input
    /// (the outputs' lines are made as they are polled).
    debug: mobility::Debug,
    debug_now: Option<Now>,
}

impl Node {
    /// A node for `config`, started at `now`. The AP's first agent
    /// solicitation and the exchange's join are in [`Node::poll_output`].
    pub fn new(config: Config, now: Now) -> Node {
        let mobility = mobility::Mobility::new(&config);
        let mut node = Node {
            started: now.instant,
            mobility,
            ap: None,
            exchange: exchange::Exchange::off("not an access point"),
            out: VecDeque::new(),
            counters: Counters::default(),
            tunnel: None,
            tunnel_base: None,
            startup: None,
            dhcp: None,
            dhcp_mac: None,
            debug: Default::default(),
            debug_now: None,
            config,
        };
        if node.config.is_proxy_ap() {
            let mut ap = access_point::AccessPoint::new(&node.config);
            ap.start(now, &node.config, &mut node.out);
            let own = ap.engine.config().own_address;
            node.exchange = if dhcp::configured(&node.config) {
                exchange::Exchange::off(dhcp::WAITING)
            } else {
                exchange::Exchange::start(&node.config, own, now, Some(ap.stations.clone()))
            };
            node.ap = Some(ap);
            node.exchange_turn(now);
        }
        node
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The UDP sockets the driver opens for this node: port 434 on each
    /// home network's unicast and broadcast address and the care-of
    /// address (the broadcast socket tells a request to the broadcast
    /// address apart, RFC 5944 3.8.3.1), the exchange port and the probe
    /// port on the AP's own address.
    pub fn udp_sockets(&self) -> Vec<SocketAddrV4> {
        let mut v = self.mobility.sockets();
        if let Some(own) = self.exchange.own_address() {
            v.push(SocketAddrV4::new(own, EXCHANGE_PORT));
            v.push(SocketAddrV4::new(own, PROBE_PORT));
        }
        v
    }

    /// The foreign agent's visited links (`ip mobile foreign-service`).
    pub fn visited_interfaces(&self) -> Vec<String> {
        self.mobility.visited_interfaces()
    }

    /// Whether the device runs the proxy AP (bridge and radio).
    pub fn is_access_point(&self) -> bool {
        self.ap.is_some()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    fn drop_input(&mut self, reason: &'static str) {
        let n = self.counters.dropped.entry(reason).or_insert(0);
        *n += 1;
        if *n == 1 {
            tracing::warn!(reason, "input dropped (counted from now on)");
        }
    }

    /// Takes one input.
    pub fn handle(&mut self, now: Now, input: Input<'_>) {
        if !self.debug.any() {
            return self.handle_input(now, input);
        }
        self.debug_now = Some(now);
        match &input {
            Input::Datagram {
                local,
                remote,
                payload,
            } if local.port() == REGISTRATION_PORT => self.debug.datagram(now, *remote, payload),
            Input::VisitedPacket {
                interface, packet, ..
            } => self.debug.visited(now, interface, packet),
            _ => {}
        }
        let before = self.station_states();
        self.handle_input(now, input);
        self.trace_stations(now, before);
    }

    /// The next trace line of `debug ...`, if any: at most
    /// [`mobility::DEBUG_LINES_PER_SECOND`] a second and
    /// [`mobility::DEBUG_QUEUE`] waiting (the rest are counted in a
    /// "... N debug lines suppressed" line), none while debugging is off.
    pub fn poll_debug(&mut self) -> Option<String> {
        self.debug.pop()
    }

    /// What each station of the AP is doing, for `debug ip proxy-mobile`.
    fn station_states(
        &self,
    ) -> Option<std::collections::BTreeMap<Mac, (String, Option<Ipv4Addr>)>> {
        if !self.debug.proxy {
            return None;
        }
        let ap = self.ap.as_ref()?;
        Some(
            ap.engine
                .stations()
                .map(|s| (s.mac, (snapshot::station_state(&s.state), s.address)))
                .collect(),
        )
    }

    /// One line per station whose state changed since `before`.
    fn trace_stations(
        &mut self,
        now: Now,
        before: Option<std::collections::BTreeMap<Mac, (String, Option<Ipv4Addr>)>>,
    ) {
        let (Some(before), Some(after)) = (before, self.station_states()) else {
            return;
        };
        let addr = |a: Option<Ipv4Addr>| a.map_or("-".to_owned(), |a| a.to_string());
        for (mac, (state, address)) in &after {
            let line = match before.get(mac) {
                None => format!(
                    "PROXY_MIP: station {} associated, address {}: {state}",
                    snapshot::mac(mac),
                    addr(*address)
                ),
                Some((old, _)) if old != state => format!(
                    "PROXY_MIP: station {} address {}: {old} -> {state}",
                    snapshot::mac(mac),
                    addr(*address)
                ),
                Some(_) => continue,
            };
            self.debug.line(now, *address, line);
        }
        for (mac, (_, address)) in &before {
            if !after.contains_key(mac) {
                self.debug.line(
                    now,
                    *address,
                    format!("PROXY_MIP: station {} gone", snapshot::mac(mac)),
                );
            }
        }
    }

    fn handle_input(&mut self, now: Now, input: Input<'_>) {
        match input {
            Input::Datagram {
                local,
                remote,
                payload,
            } => match local.port() {
                REGISTRATION_PORT => {
                    let handled =
                        self.mobility
                            .datagram(now, local, remote, payload, &mut self.out);
                    if let Err(reason) = handled {
                        self.drop_input(reason);
                    }
                }
                EXCHANGE_PORT => {
                    self.exchange.datagram(now, *remote.ip(), payload);
                    self.exchange_turn(now);
                }
                PROBE_PORT => {
                    self.exchange.probe_reply(now, *remote.ip());
                    self.exchange_turn(now);
                }
                dhcp::CLIENT_PORT => self.dhcp_datagram(now, payload),
                _ => self.drop_input("datagram on a port no role uses"),
            },
            Input::VisitedPacket {
                interface,
                mac,
                packet,
            } => {
                if let Err(reason) =
                    self.mobility
                        .visited_packet(now, interface, mac, packet, &mut self.out)
                {
                    self.drop_input(reason);
                }
            }
            Input::Frame { link, frame } => {
                let Some(ap) = &mut self.ap else {
                    return self.drop_input("frame without an access point");
                };
                let heard_agents = link == Link::Wired;
                if let Err(reason) = ap.frame(now, link, frame, &mut self.out) {
                    self.drop_input(reason);
                }
                if heard_agents {
                    self.report_own_home_agent(now);
                }
            }
            Input::Link(event) => {
                if let LinkEvent::Bridge { mac } = event {
                    self.dhcp_follow(now, Some(mac));
                }
                if let Some(ap) = &mut self.ap {
                    ap.link_event(now, event, &mut self.out);
                }
            }
            Input::SaResult { role, home, result } => match role {
                Role::HomeAgent => self.mobility.sa_result(now, home, result, &mut self.out),
                Role::AccessPoint => {
                    if let Some(ap) = &mut self.ap {
                        ap.sa_result(now, home, result, &mut self.out);
                    }
                }
            },
        }
    }

    /// The next thing to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        let o = self.out.pop_front();
        if let (Some(o), Some(now)) = (&o, self.debug_now)
            && self.debug.any()
        {
            self.debug.outputs(now, std::iter::once(o));
        }
        o
    }

    /// When [`Node::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.mobility.poll_timeout(),
            self.ap.as_ref().and_then(|a| a.poll_timeout()),
            self.exchange.poll_timeout(),
            self.dhcp_poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Now) {
        if !self.debug.any() {
            return self.run_timers(now);
        }
        self.debug_now = Some(now);
        let before = self.station_states();
        self.run_timers(now);
        self.trace_stations(now, before);
    }

    fn run_timers(&mut self, now: Now) {
        self.dhcp_timeout(now);
        self.mobility.handle_timeout(now, &mut self.out);
        if let Some(ap) = &mut self.ap
            && ap.poll_timeout().is_some_and(|t| t <= now.instant)
        {
            ap.handle_timeout(now, &mut self.out);
        }
        if self
            .exchange
            .poll_timeout()
            .is_some_and(|t| t <= now.instant)
        {
            self.exchange.handle_timeout(now);
            self.exchange_turn(now);
        }
    }

    /// After a restart: the home agent's bindings and replay state kept
    /// from before (`expires` on this run's clock). Their kernel state
    /// comes out of [`Node::poll_output`] to be installed again.
    pub fn restore_home_agent(
        &mut self,
        now: Now,
        bindings: Vec<Binding>,
        identifications: Vec<(Ipv4Addr, u64)>,
    ) {
        if let Some(h) = &mut self.mobility.home_agent {
            let mut actions = Vec::new();
            h.engine
                .restore(now, bindings, identifications, &mut actions);
            mobility::ha_outputs(actions, &mut self.out);
        }
    }

    /// Takes back the stations an AP had seen before its restart, with
    /// how long ago each was last seen.
    pub fn restore_access_point(
        &mut self,
        now: Now,
        stations: Vec<(Mac, Ipv4Addr, std::time::Duration)>,
    ) {
        if let Some(ap) = &mut self.ap {
            ap.restore_known(now.instant, stations);
        }
    }

    /// Takes back the foreign agent's visitors kept across a restart
    /// (their delivery installed again).
    pub fn restore_foreign_agent(&mut self, now: Now, visitors: Vec<Visitor>) {
        if let Some(f) = &mut self.mobility.foreign_agent {
            let mut actions = Vec::new();
            f.engine.restore(now, visitors, &mut actions);
            mobility::fa_outputs(f, actions, &mut self.out);
        }
    }

    /// The last accepted identification of a home address at the home
    /// agent, for the state kept across restarts.
    pub fn last_identification(&self, home: Ipv4Addr) -> Option<u64> {
        self.mobility
            .home_agent
            .as_ref()
            .and_then(|h| h.engine.last_identification(home))
    }

    /// The startup configuration's text (the file the device runs from).
    pub fn set_startup_config(&mut self, text: String) {
        self.startup = Some(text);
    }

    /// The answer to a [`Output::SaveConfig`]: the text now is the
    /// startup configuration, or why it could not be written.
    pub fn saved(&mut self, text: String, result: Result<(), String>) -> Result<String, String> {
        match result {
            Ok(()) => {
                self.startup = Some(text);
                Ok("[OK]\n".into())
            }
            Err(e) => Err(format!(
                "% Could not save the configuration: {e}; the startup configuration is unchanged"
            )),
        }
    }

    /// The data plane's counters, as the driver last read them.
    pub fn set_tunnel_traffic(&mut self, t: snapshot::TunnelTraffic) {
        self.tunnel = Some(t);
    }

    /// Carries out the exchange's actions; a changed table goes to the
    /// proxy AP engine, merged with the static `subnet-map` lines.
    fn exchange_turn(&mut self, now: Now) {
        if self.exchange.carry_out(now, &mut self.out)
            && let Some(ap) = &mut self.ap
        {
            let map = config::merged_map(
                self.exchange.table(),
                &config::static_subnet_map(&self.config),
            );
            tracing::info!(entries = map.entries().len(), "subnet map table changed");
            if self.debug.proxy {
                let entries: Vec<String> = map
                    .entries()
                    .iter()
                    .map(|e| format!("{}/{}", e.home_agent, e.prefix_len))
                    .collect();
                self.debug.line(
                    now,
                    None,
                    format!(
                        "PROXY_MIP: subnet map table changed, {} entries: {}",
                        entries.len(),
                        entries.join(" ")
                    ),
                );
            }
            let mut actions = Vec::new();
            ap.engine.set_subnet_map(now, map, &mut actions);
            ap.carry_out(actions, &mut self.out);
        }
    }

    /// After the AP heard agents: its own home agent goes to the exchange
    /// when it is new or changed (the AP learns it by agent discovery,
    /// docs/subnet-map-exchange.md).
    fn report_own_home_agent(&mut self, now: Now) {
        if let Some(ap) = &self.ap {
            let own = ap.engine.own_home_agent();
            if self.exchange.own_home_agent(now, own) {
                self.exchange_turn(now);
            }
        }
    }
}
