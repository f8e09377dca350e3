//! The proxy Mobile IP access point's share of the node: its station
//! ports (docs/radio.md), what each frame from a station or the wired
//! port says, the ARP answers that steer a visitor's traffic to the
//! foreign agent, and the frames that carry the engine's registrations.

use crate::packets::{self, arp_frame, eth_frame};
use crate::{Install, Link, LinkEvent, Mac, Output, REGISTRATION_PORT, Role, SaLookup, Transmit};
use pmip_config::Config;
use pmip_engine::proxy_ap::{Action, Observation, ProxyAp};
use pmip_engine::time::{Instant, Now};
use pmip_wire::arp;
use pmip_wire::ethernet::{self, EthernetAddress};
use pmip_wire::icmp;
use pmip_wire::ipv4::{self, protocol};
use pmip_wire::udp;
use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

/// A station's port on the bridge: its interface, the radio and SSID it
/// associated on (from the port's alias, docs/radio.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StationPort {
    pub ifindex: u32,
    pub name: String,
    pub radio: String,
    pub ssid: String,
}

/// Where a station is attached: a port of its own (the emulated radio,
/// one port per association), or a radio port it shares with other
/// stations and is told apart on by its MAC (hostapd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Attach {
    Port(u32),
    Shared(u32, Mac),
}

/// One port being watched, and what is known of its station.
struct Port {
    station: StationPort,
    mac: Option<Mac>,
    /// Only its control frames come up to us (its address is known).
    narrowed: bool,
    /// While the station's address is unknown: the next query round.
    query: Option<Query>,
    /// Whether it was queried at all (a station waits for a free query
    /// slot once, and is not queried again after its last round).
    queried: bool,
}

/// Querying a station for its address: ARP probes for every address it
/// may have, in rounds, until it answers (a station that only receives
/// never speaks first; the AP must ask, not wait).
#[derive(Debug, Clone, Copy)]
struct Query {
    round: usize,
    /// When the round is due.
    at: Instant,
    /// When querying started (the association).
    since: Instant,
}

/// When each query round goes out, after the association (ms), and
/// whether it asks for every address the station may have or only the
/// likely ones (of stations seen before, here or in the campus). The
/// first round asks only for the likely ones, so a known station's
/// answer is read before the long list goes out; the full list follows
/// 2 ms later. The likely ones are asked again every few milliseconds
/// meanwhile: a port that just appeared may drop what is sent to it until
/// its link is up (a moved veth, some milliseconds), and a few probes cost
/// less than a station waiting for the 20 ms round.
const QUERY_ROUNDS: [(u64, bool); 12] = [
    (0, false),
    (1, false),
    (2, true),
    (4, false),
    (6, false),
    (9, false),
    (13, false),
    (20, true),
    (100, true),
    (400, true),
    (1500, true),
    (5000, true),
];
/// Most likely addresses asked for again between the full rounds.
const LIKELY_AGAIN: usize = 16;
/// Most addresses asked for in one round.
const MAX_QUERY_ADDRESSES: usize = 512;
/// Most addresses of known stations asked for a station that waits for a
/// query slot.
const KNOWN_ROUND: usize = 64;
/// Most stations queried at once; later ones wait for a free slot.
const MAX_QUERIES: usize = 32;
/// Most stations attached at once (a flood of associations is bounded;
/// far above what one radio serves).
const MAX_STATIONS: usize = 1024;
/// Stations remembered after they leave (MAC -> address), and how long.
const MAX_KNOWN: usize = 4096;
const KNOWN_FOR: std::time::Duration = std::time::Duration::from_secs(3600);
/// A station seen all along is recorded again this often, so that what a
/// restart finds is never older than it should be.
const KEEP_AGAIN: std::time::Duration = std::time::Duration::from_secs(600);

pub(crate) struct AccessPoint {
    pub engine: ProxyAp,
    bridge_mac: Mac,
    ports: BTreeMap<Attach, Port>,
    /// Clients we intercept for: their home agent (gateway) and the MAC
    /// their frames must go to (the foreign agent's).
    intercepting: BTreeMap<Mac, (Ipv4Addr, Mac)>,
    /// Our own subnet's router, from its advertisements (H bit).
    home_router: Option<(Ipv4Addr, Mac)>,
    /// Associations fetched from RADIUS: SPI, server, when.
    pub aaa_sas: BTreeMap<Ipv4Addr, (u32, SocketAddrV4, Instant)>,
    /// Stations this AP has seen, by MAC: their address and when last
    /// seen. Their addresses are asked for first when a station arrives.
    known: BTreeMap<Mac, (Ipv4Addr, Instant)>,
    /// When each known station was last handed to the state kept across
    /// restarts.
    kept_at: BTreeMap<Mac, Instant>,
    /// The campus station table: stations other APs saw, and where this
    /// AP's own sightings go (docs/subnet-map-exchange.md, section 16).
    pub(crate) stations: crate::exchange::StationShare,
    /// Stations queried for their address, and answers that came back.
    pub queries_sent: u64,
    pub queries_answered: u64,
    /// Associations beyond [`MAX_STATIONS`], not served.
    pub refused_associations: u64,
}

impl AccessPoint {
    pub fn new(config: &Config) -> AccessPoint {
        AccessPoint {
            engine: ProxyAp::new(crate::config::proxy_ap(config)),
            bridge_mac: [0; 6],
            ports: BTreeMap::new(),
            intercepting: BTreeMap::new(),
            home_router: None,
            aaa_sas: BTreeMap::new(),
            known: BTreeMap::new(),
            kept_at: BTreeMap::new(),
            stations: crate::exchange::StationShare::default(),
            queries_sent: 0,
            queries_answered: 0,
            refused_associations: 0,
        }
    }

    pub fn start(&mut self, now: Now, config: &Config, out: &mut VecDeque<Output>) {
        let mut actions = Vec::new();
        self.engine
            .set_subnet_map(now, crate::config::static_subnet_map(config), &mut actions);
        self.engine.start(&mut actions);
        self.carry_out(actions, out);
    }

    pub fn link_event(&mut self, now: Now, event: LinkEvent, out: &mut VecDeque<Output>) {
        match event {
            LinkEvent::Bridge { mac } => self.bridge_mac = mac,
            LinkEvent::Associated(port) => self.add_port(now, port, None, out),
            LinkEvent::Disassociated { ifindex } => {
                self.remove_port(now, Attach::Port(ifindex), out)
            }
            LinkEvent::StationPorts(current) => {
                let gone: Vec<Attach> = self
                    .ports
                    .keys()
                    .filter(|a| match a {
                        Attach::Port(i) => !current.iter().any(|p| p.ifindex == *i),
                        Attach::Shared(..) => false,
                    })
                    .copied()
                    .collect();
                for a in gone {
                    self.remove_port(now, a, out);
                }
                for p in current {
                    self.add_port(now, p, None, out);
                }
            }
            LinkEvent::RadioAssociated { port, mac } => self.add_port(now, port, Some(mac), out),
            LinkEvent::RadioDisassociated { ifindex, mac } => {
                self.remove_port(now, Attach::Shared(ifindex, mac), out)
            }
            LinkEvent::RadioStations { port, macs } => {
                let gone: Vec<Attach> = self
                    .ports
                    .keys()
                    .filter(|a| matches!(a, Attach::Shared(i, m) if *i == port.ifindex && !macs.contains(m)))
                    .copied()
                    .collect();
                for a in gone {
                    self.remove_port(now, a, out);
                }
                for mac in macs {
                    self.add_port(now, port.clone(), Some(mac), out);
                }
            }
        }
    }

    fn remove_port(&mut self, now: Now, at: Attach, out: &mut VecDeque<Output>) {
        let Some(p) = self.ports.remove(&at) else {
            return;
        };
        match at {
            Attach::Port(ifindex) => out.push_back(Output::UnwatchPort { ifindex }),
            // The shared radio port is watched while a station is on it.
            Attach::Shared(ifindex, _) => {
                if !self
                    .ports
                    .keys()
                    .any(|a| matches!(a, Attach::Shared(i, _) if *i == ifindex))
                {
                    out.push_back(Output::UnwatchPort { ifindex });
                }
            }
        }
        if let Some(mac) = p.mac {
            tracing::info!(port = %p.station.name, "station disassociated");
            // Its isolation is keyed by MAC and outlives the port.
            if self.intercepting.contains_key(&mac) {
                out.push_back(Output::Install(Install::ReleaseStation {
                    port: p.station.name.clone(),
                    mac,
                }));
            }
            let mut actions = Vec::new();
            self.engine.disassociate(now, mac, &mut actions);
            self.carry_out(actions, out);
        }
    }

    /// A new station port: watch it and greet the station. A roaming
    /// station lost carrier while its port moved, and Linux then drops
    /// its ARP entries: its next packet waits in an incomplete entry for
    /// an ARP retry up to a second away, and until it sends, the AP
    /// cannot learn who it is. Gratuitous ARP for each gateway it may be
    /// using fills such an entry at once (and touches no host without
    /// one): our own subnet's router with its real MAC, every other home
    /// agent of the subnet map with the foreign agent's MAC, where its
    /// traffic goes while it visits.
    ///
    /// On a shared radio port (`mac` given) the association names the
    /// station: it is associated at once, greeted by unicast, and when
    /// its address is already known (it was seen before) registered at
    /// once and asked to confirm its address; only an unknown station is
    /// queried.
    fn add_port(
        &mut self,
        now: Now,
        sp: StationPort,
        mac: Option<Mac>,
        out: &mut VecDeque<Output>,
    ) {
        let at = match mac {
            None => Attach::Port(sp.ifindex),
            Some(m) => Attach::Shared(sp.ifindex, m),
        };
        if self.ports.contains_key(&at) {
            return;
        }
        if self.ports.len() >= MAX_STATIONS {
            // A flood of associations: the ones beyond the bound are not
            // served (bridged, never proxied) until others leave.
            self.refused_associations += 1;
            if self.refused_associations == 1 {
                tracing::warn!(
                    limit = MAX_STATIONS,
                    "too many stations; later ones are not proxied"
                );
            }
            return;
        }
        tracing::info!(port = %sp.name, radio = %sp.radio, ssid = %sp.ssid, mac = ?mac.map(EthernetAddress), "station attached");
        let ifindex = sp.ifindex;
        let watched = self.ports.keys().any(|a| match a {
            Attach::Port(i) | Attach::Shared(i, _) => *i == ifindex,
        });
        if !watched {
            out.push_back(Output::WatchPort {
                ifindex,
                name: sp.name.clone(),
            });
        }
        let greet_to = mac.unwrap_or([0xff; 6]);
        let mut claims: Vec<(Ipv4Addr, Mac)> = self.home_router.into_iter().collect();
        let cfg = self.engine.config();
        let proxying = !cfg.paused && cfg.proxy_ssids.contains(&sp.ssid);
        if proxying && let Some(fa) = self.engine.foreign_agent() {
            for e in self.engine.subnet_map().entries() {
                if Some(e.home_agent) != self.home_router.map(|h| h.0) {
                    claims.push((e.home_agent, fa.mac));
                }
            }
        }
        for (ip, mac) in claims {
            let [request, _] = arp::gratuitous(EthernetAddress(mac), ip);
            out.push_back(Output::Transmit(Transmit::Frame {
                link: Link::Station(ifindex),
                frame: eth_frame(greet_to, mac, ethernet::ethertype::ARP, &request),
            }));
        }
        let ssid = sp.ssid.clone();
        // Seen here before, or else at another AP of the campus.
        let local = mac.and_then(|m| self.known.get(&m).map(|(a, _)| *a));
        let known = mac.and_then(|m| self.seen_address(&m));
        let querying = self.ports.values().filter(|p| p.query.is_some()).count();
        // A station whose address is known here needs only one confirming
        // probe (the first round); an unknown one, or one only the campus
        // knows (another AP's sighting may be stale), the full rounds.
        let slot = querying < MAX_QUERIES || local.is_some();
        self.ports.insert(
            at,
            Port {
                station: sp,
                mac,
                narrowed: false,
                query: slot.then_some(Query {
                    round: 0,
                    at: now.instant,
                    since: now.instant,
                }),
                queried: slot,
            },
        );
        if let Some(m) = mac {
            let mut actions = Vec::new();
            self.engine.associate(now, m, &ssid, &mut actions);
            if let Some(address) = known {
                // Registered before the station sends anything; its answer
                // to the probe (or its traffic) corrects a stale address.
                self.engine
                    .observe(now, m, Observation::ArpSender(address), &mut actions);
            }
            self.carry_out(actions, out);
        }
        if !slot && mac.is_none() {
            // Every query slot is taken (a flood of associations): this
            // station still gets one round for the addresses of stations
            // seen before, so a known station that only receives is not
            // held up behind the flood.
            let targets: Vec<Ipv4Addr> = self
                .query_addresses()
                .0
                .into_iter()
                .take(self.known.len().min(KNOWN_ROUND))
                .collect();
            self.probe(ifindex, None, &targets, out);
        }
        self.run_queries(now, out);
    }

    /// ARP probes (RFC 5227: sender address zero, so no cache learns from
    /// them) for `targets` out of station port `ifindex`, to `dst` or to
    /// all.
    fn probe(
        &self,
        ifindex: u32,
        dst: Option<Mac>,
        targets: &[Ipv4Addr],
        out: &mut VecDeque<Output>,
    ) {
        for target in targets {
            let probe = arp::Repr {
                operation: arp::Operation::Request,
                sender_hardware_addr: EthernetAddress(self.bridge_mac),
                sender_protocol_addr: Ipv4Addr::UNSPECIFIED,
                target_hardware_addr: EthernetAddress([0; 6]),
                target_protocol_addr: *target,
            };
            out.push_back(Output::Transmit(Transmit::Frame {
                link: Link::Station(ifindex),
                frame: arp_frame(&probe, dst.unwrap_or([0xff; 6]), self.bridge_mac),
            }));
        }
    }

    /// The addresses a station may have, most likely first: those of
    /// stations this AP has seen (latest first), then those of stations
    /// other APs of the campus saw lately (latest first: a station that
    /// roams here comes from one of them), then every address the AP
    /// could register for (its SA ranges) and its own subnet, where a
    /// station is at home. With it, how many at its head are addresses
    /// of stations seen (here or in the campus table).
    fn query_addresses(&self) -> (Vec<Ipv4Addr>, usize) {
        let mut seen: Vec<(Instant, Ipv4Addr)> =
            self.known.values().map(|(a, t)| (*t, *a)).collect();
        seen.sort_by(|a, b| b.cmp(a));
        let mut v: Vec<Ipv4Addr> = seen.into_iter().map(|(_, a)| a).collect();
        for (mac, a) in self
            .stations
            .recent(crate::exchange::CAMPUS_QUERY_ADDRESSES)
        {
            if !self.known.contains_key(&mac) && !v.contains(&a) {
                v.push(a);
            }
        }
        let likely = v.len();
        let cfg = self.engine.config();
        let own = (cfg.own_prefix_len >= 22 && !cfg.own_address.is_unspecified()).then(|| {
            let mask = u32::MAX << (32 - u32::from(cfg.own_prefix_len));
            let net = u32::from(cfg.own_address) & mask;
            (Ipv4Addr::from(net + 1), Ipv4Addr::from((net | !mask) - 1))
        });
        let ranges = cfg.nodes.iter().map(|(lo, hi, _)| (lo, hi)).chain(own);
        for (lo, hi) in ranges {
            for a in u32::from(lo)..=u32::from(hi) {
                if v.len() >= MAX_QUERY_ADDRESSES {
                    return (v, likely);
                }
                let a = Ipv4Addr::from(a);
                if a != cfg.own_address && !v.contains(&a) {
                    v.push(a);
                }
            }
        }
        (v, likely)
    }

    /// Sends the query rounds that are due: an ARP probe (RFC 5227: the
    /// sender address zero, so no cache learns from it) for each address
    /// the station may have, out of its port only. The station answers
    /// for its own address, and its answer is a frame like any other.
    fn run_queries(&mut self, now: Now, out: &mut VecDeque<Output>) {
        let due: Vec<Attach> = self
            .ports
            .iter()
            .filter(|(_, p)| p.query.is_some_and(|q| q.at <= now.instant))
            .map(|(a, _)| *a)
            .collect();
        if due.is_empty() {
            return;
        }
        // The head of the list: stations this AP saw, and those the campus
        // saw lately.
        let (addresses, likely) = self.query_addresses();
        let likely = &addresses[..likely];
        for at in due {
            let known = match at {
                Attach::Shared(_, m) => self.known.get(&m).map(|(a, _)| *a),
                Attach::Port(_) => None,
            };
            let Some(port) = self.ports.get_mut(&at) else {
                continue;
            };
            let Some(q) = port.query else { continue };
            let ifindex = port.station.ifindex;
            // On a shared radio the probe goes to the station's MAC only,
            // for its known address alone when there is one.
            let dst = port.mac.filter(|_| matches!(at, Attach::Shared(..)));
            port.query = QUERY_ROUNDS.get(q.round + 1).map(|(ms, _)| Query {
                round: q.round + 1,
                at: q.since + std::time::Duration::from_millis(*ms),
                since: q.since,
            });
            if q.round == 0 {
                self.queries_sent += 1;
            }
            let full = QUERY_ROUNDS.get(q.round).is_some_and(|(_, full)| *full);
            let targets: &[Ipv4Addr] = match &known {
                Some(a) => std::slice::from_ref(a),
                None if q.round == 0 && !likely.is_empty() => likely,
                // Nothing likely: the full list at once.
                None if q.round == 0 => &addresses,
                // ... and not again 2 ms later.
                None if q.round == 2 && likely.is_empty() => &[],
                None if full => &addresses,
                None => &likely[..likely.len().min(LIKELY_AGAIN)],
            };
            self.probe(ifindex, dst, targets, out);
        }
    }

    /// When the AP's own timers (queries, the engine's) are next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let q = self
            .ports
            .values()
            .filter_map(|p| p.query.map(|q| q.at))
            .min();
        [q, self.engine.poll_timeout()].into_iter().flatten().min()
    }

    pub fn handle_timeout(&mut self, now: Now, out: &mut VecDeque<Output>) {
        self.run_queries(now, out);
        // A free query slot goes to a station still waiting for one.
        let querying = self.ports.values().filter(|p| p.query.is_some()).count();
        if querying < MAX_QUERIES {
            let waiting: Vec<Attach> = self
                .ports
                .iter()
                .filter(|(a, p)| {
                    !p.queried
                        && match a {
                            Attach::Port(_) => p.mac.is_none(),
                            Attach::Shared(_, m) => {
                                self.engine.station(m).is_none_or(|s| s.address.is_none())
                            }
                        }
                })
                .map(|(a, _)| *a)
                .take(MAX_QUERIES - querying)
                .collect();
            for a in waiting {
                if let Some(p) = self.ports.get_mut(&a) {
                    p.queried = true;
                    p.query = Some(Query {
                        round: 0,
                        at: now.instant,
                        since: now.instant,
                    });
                }
            }
            self.run_queries(now, out);
        }
        if self.engine.poll_timeout().is_some_and(|t| t <= now.instant) {
            let mut actions = Vec::new();
            self.engine.handle_timeout(now, &mut actions);
            self.carry_out(actions, out);
        }
    }

    pub fn sa_result(
        &mut self,
        now: Now,
        home: Ipv4Addr,
        result: SaLookup,
        out: &mut VecDeque<Output>,
    ) {
        let result = result.map(|(sa, server)| {
            self.aaa_sas.insert(home, (sa.spi, server, now.instant));
            sa
        });
        let mut actions = Vec::new();
        self.engine.sa_result(now, home, result, &mut actions);
        self.carry_out(actions, out);
    }

    pub fn frame(
        &mut self,
        now: Now,
        link: Link,
        frame: &[u8],
        out: &mut VecDeque<Output>,
    ) -> Result<(), &'static str> {
        let eth = ethernet::Frame::new_checked(frame).map_err(|_| "malformed Ethernet frame")?;
        let mut actions = Vec::new();
        let result = match link {
            Link::Wired => self.wired_frame(now, &eth, &mut actions),
            Link::Station(ifindex) => self.station_frame(now, ifindex, &eth, &mut actions, out),
        };
        self.carry_out(actions, out);
        result
    }

    /// A frame from a station: learn who it is and what it does; answer
    /// its ARP with the foreign agent's MAC while we intercept for it.
    fn station_frame(
        &mut self,
        now: Now,
        ifindex: u32,
        eth: &ethernet::Frame<&[u8]>,
        actions: &mut Vec<Action>,
        out: &mut VecDeque<Output>,
    ) -> Result<(), &'static str> {
        let src = eth.src_addr().0;
        let at = if self.ports.contains_key(&Attach::Port(ifindex)) {
            Attach::Port(ifindex)
        } else {
            Attach::Shared(ifindex, src)
        };
        // On a shared radio, frames of stations not (yet) associated are
        // ordinary (802.1X before AP-STA-CONNECTED): not ours to read.
        if !self.ports.contains_key(&at)
            && self
                .ports
                .keys()
                .any(|a| matches!(a, Attach::Shared(i, _) if *i == ifindex))
        {
            return Ok(());
        }
        let port = self
            .ports
            .get_mut(&at)
            .ok_or("frame from a station that is not associated")?;
        let first_frame = port.mac.is_none();
        if first_frame {
            port.mac = Some(src);
            let ssid = port.station.ssid.clone();
            tracing::info!(mac = %EthernetAddress(src), %ssid, "station associated");
            self.engine.associate(now, src, &ssid, actions);
        }
        match eth.ethertype() {
            ethernet::ethertype::ARP => {
                let a = arp::Repr::parse(&arp::Packet::new_unchecked(eth.payload()))
                    .map_err(|_| "malformed ARP from a station")?;
                self.engine.observe(
                    now,
                    src,
                    Observation::ArpSender(a.sender_protocol_addr),
                    actions,
                );
                if a.operation == arp::Operation::Request
                    && a.target_protocol_addr != a.sender_protocol_addr
                    && let Some(&(_, fa_mac)) = self.intercepting.get(&src)
                {
                    let reply = arp::proxy_reply(&a, EthernetAddress(fa_mac));
                    out.push_back(Output::Transmit(Transmit::Frame {
                        link: Link::Station(ifindex),
                        frame: arp_frame(&reply, src, fa_mac),
                    }));
                }
            }
            ethernet::ethertype::IPV4 => {
                let ip = ipv4::Packet::new_checked(eth.payload())
                    .map_err(|_| "malformed IPv4 from a station")?;
                // What the frame says about the station's own software
                // goes first: a station whose first frame is a DHCP request
                // or an agent solicitation is never registered for (it
                // takes a new address, or does Mobile IP itself).
                let control = match ip.protocol() {
                    protocol::UDP => udp::Packet::new_checked(ip.payload()).ok().and_then(|u| {
                        match u.dst_port() {
                            67 => Some(Observation::Dhcp),
                            udp::MOBILE_IP_PORT => Some(Observation::MobileIp),
                            _ => None,
                        }
                    }),
                    protocol::ICMP
                        if ip.payload().first() == Some(&icmp::TYPE_ROUTER_SOLICITATION) =>
                    {
                        Some(Observation::MobileIp)
                    }
                    _ => None,
                };
                if let Some(c) = control {
                    self.engine.observe(now, src, c, actions);
                }
                if !ip.src_addr().is_unspecified() {
                    self.engine
                        .observe(now, src, Observation::Ipv4Source(ip.src_addr()), actions);
                    let known = self
                        .engine
                        .station(&src)
                        .is_some_and(|s| s.address.is_some());
                    if let Some(port) = self.ports.get_mut(&at)
                        && !port.narrowed
                        && known
                        && matches!(at, Attach::Port(_))
                    {
                        port.narrowed = true;
                        out.push_back(Output::NarrowPort { ifindex });
                    }
                }
            }
            _ => {}
        }
        if first_frame
            && self
                .engine
                .station(&src)
                .is_some_and(|s| s.address.is_none())
        {
            self.first_frame_of_unknown(now, at, src, actions, out);
        }
        if let Some(address) = self.engine.station(&src).and_then(|s| s.address) {
            if self.remember(now.instant, src, address) {
                out.push_back(Output::Install(Install::StationKnown { mac: src, address }));
            }
            if let Some(p) = self.ports.get_mut(&at)
                && p.query.take().is_some()
            {
                self.queries_answered += 1;
            }
        }
        Ok(())
    }

    /// The first frame from a station on a port of its own names it (its
    /// MAC) without saying its address. Seen before, here or by another
    /// AP of the campus: it is registered at once, as at a shared radio's
    /// association, and asked by unicast to confirm. Otherwise the query
    /// rounds start again now: those sent while its link was still coming
    /// up were lost (a moved port drops frames for some milliseconds), and
    /// its own frame says it can hear them now.
    fn first_frame_of_unknown(
        &mut self,
        now: Now,
        at: Attach,
        mac: Mac,
        actions: &mut Vec<Action>,
        out: &mut VecDeque<Output>,
    ) {
        let Attach::Port(ifindex) = at else { return };
        if let Some(address) = self.seen_address(&mac) {
            self.engine
                .observe(now, mac, Observation::ArpSender(address), actions);
            self.probe(ifindex, Some(mac), &[address], out);
            return;
        }
        if let Some(q) = self.ports.get_mut(&at).and_then(|p| p.query.as_mut()) {
            *q = Query {
                round: 0,
                at: now.instant,
                since: now.instant,
            };
            self.run_queries(now, out);
        }
    }

    /// The address of station `mac` as this AP saw it, or else as the
    /// campus station table has it.
    fn seen_address(&self, mac: &Mac) -> Option<Ipv4Addr> {
        self.known
            .get(mac)
            .map(|(a, _)| *a)
            .or_else(|| self.campus_address(mac))
    }

    /// The address the campus station table has for a station another
    /// AP saw (docs/subnet-map-exchange.md, section 16), for an
    /// association that names the station's MAC; None when this AP saw
    /// the station itself (its own sighting wins) or nobody did.
    pub fn campus_address(&self, mac: &Mac) -> Option<Ipv4Addr> {
        if self.known.contains_key(mac) {
            return None;
        }
        self.stations.campus_address(mac)
    }

    /// Remembers where a station is, for the next time it arrives, and
    /// tells the campus (through the exchange).
    /// Whether the state kept across restarts should record it (a new
    /// station or address, or one last recorded long ago).
    fn remember(&mut self, now: Instant, mac: Mac, address: Ipv4Addr) -> bool {
        let changed = self
            .known
            .insert(mac, (address, now))
            .is_none_or(|(a, _)| a != address);
        self.stations.seen(now, mac, address);
        let keep = changed
            || self
                .kept_at
                .get(&mac)
                .is_none_or(|t| now.saturating_since(*t) >= KEEP_AGAIN);
        if keep {
            self.kept_at.insert(mac, now);
        }
        if self.known.len() > MAX_KNOWN {
            self.known
                .retain(|_, (_, seen)| now.saturating_since(*seen) < KNOWN_FOR);
            while self.known.len() > MAX_KNOWN {
                let oldest = self
                    .known
                    .iter()
                    .min_by_key(|(_, (_, seen))| *seen)
                    .map(|(m, _)| *m);
                match oldest {
                    Some(m) => self.known.remove(&m),
                    None => break,
                };
            }
            self.kept_at.retain(|m, _| self.known.contains_key(m));
        }
        keep
    }

    /// Takes back the stations a restarted AP had seen (from the state
    /// kept across restarts): `age` is how long ago each was last seen.
    pub fn restore_known(
        &mut self,
        now: Instant,
        stations: Vec<(Mac, Ipv4Addr, std::time::Duration)>,
    ) {
        for (mac, address, age) in stations {
            if age >= KNOWN_FOR || self.known.len() >= MAX_KNOWN {
                continue;
            }
            let seen = Instant::from_duration(now.since_origin().saturating_sub(age));
            self.known.insert(mac, (address, seen));
            self.kept_at.insert(mac, seen);
        }
    }

    /// A frame on the wired port: an agent advertisement, or a
    /// registration reply for a client we register for.
    fn wired_frame(
        &mut self,
        now: Now,
        eth: &ethernet::Frame<&[u8]>,
        actions: &mut Vec<Action>,
    ) -> Result<(), &'static str> {
        if eth.ethertype() != ethernet::ethertype::IPV4 {
            return Ok(());
        }
        let ip = ipv4::Packet::new_checked(eth.payload())
            .map_err(|_| "malformed IPv4 on the wired port")?;
        match ip.protocol() {
            protocol::ICMP if ip.payload().first() == Some(&icmp::TYPE_ROUTER_ADVERTISEMENT) => {
                let Ok(icmp::Repr::Advertisement(adv)) =
                    icmp::Repr::parse(&icmp::Packet::new_unchecked(ip.payload()))
                else {
                    return Err("malformed agent advertisement");
                };
                if adv.mobility_agent().is_some_and(|m| m.flags.home_agent) {
                    self.home_router = Some((ip.src_addr(), eth.src_addr().0));
                }
                self.engine
                    .advertisement(now, ip.src_addr(), eth.src_addr().0, &adv, actions);
            }
            protocol::UDP => {
                let u = udp::Packet::new_checked(ip.payload())
                    .map_err(|_| "malformed UDP on the wired port")?;
                let to_client = self
                    .engine
                    .stations()
                    .any(|s| s.address == Some(ip.dst_addr()) && s.mac == eth.dst_addr().0);
                if u.src_port() == udp::MOBILE_IP_PORT && to_client {
                    self.engine.registration_reply(now, u.payload(), actions);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The engine's actions as outputs.
    pub fn carry_out(&mut self, actions: Vec<Action>, out: &mut VecDeque<Output>) {
        for a in actions {
            match a {
                Action::SendRegistration {
                    client_mac,
                    home_address,
                    to,
                    to_mac,
                    payload,
                } => {
                    let pkt = packets::udp_packet(
                        home_address,
                        SocketAddrV4::new(to, REGISTRATION_PORT),
                        &payload,
                    );
                    out.push_back(Output::Transmit(Transmit::Frame {
                        link: Link::Wired,
                        frame: eth_frame(to_mac, client_mac, ethernet::ethertype::IPV4, &pkt),
                    }));
                }
                Action::FetchSa { home } => out.push_back(Output::FetchSa {
                    role: Role::AccessPoint,
                    home,
                }),
                Action::Solicit => {
                    let own = self.engine.config().own_address;
                    let sol = icmp::Repr::Solicitation { reserved: 0 }.to_vec();
                    // RFC 1256 5.1: solicitations go to the all-routers group.
                    let pkt = packets::icmp_packet(own, Ipv4Addr::new(224, 0, 0, 2), &sol);
                    out.push_back(Output::Transmit(Transmit::Frame {
                        link: Link::Wired,
                        frame: eth_frame(
                            [0x01, 0x00, 0x5e, 0, 0, 2],
                            self.bridge_mac,
                            ethernet::ethertype::IPV4,
                            &pkt,
                        ),
                    }));
                }
                Action::Intercept {
                    client_mac,
                    home_address,
                    fa_mac,
                } => {
                    let gateway = self
                        .engine
                        .station(&client_mac)
                        .and_then(|s| s.home_agent)
                        .unwrap_or(Ipv4Addr::UNSPECIFIED);
                    self.intercepting.insert(client_mac, (gateway, fa_mac));
                    // Its cache may still map its home gateway to a MAC
                    // that is not on this link: correct it at once, before
                    // the slower port isolation.
                    self.tell_client(client_mac, home_address, gateway, fa_mac, out);
                    if let Some((port, own_port)) = self.port_name_of(client_mac) {
                        out.push_back(Output::Install(Install::IsolateStation {
                            port,
                            mac: client_mac,
                            own_port,
                        }));
                    }
                    tracing::info!(client = %home_address, "intercepting for visiting client");
                }
                Action::Release { client_mac, .. } => {
                    self.intercepting.remove(&client_mac);
                    if let Some((port, _)) = self.port_name_of(client_mac) {
                        out.push_back(Output::Install(Install::ReleaseStation {
                            port,
                            mac: client_mac,
                        }));
                    }
                }
                Action::AnnounceHome {
                    client_mac,
                    address,
                } => {
                    for g in arp::gratuitous(EthernetAddress(client_mac), address) {
                        out.push_back(Output::Transmit(Transmit::Frame {
                            link: Link::Wired,
                            frame: eth_frame([0xff; 6], client_mac, ethernet::ethertype::ARP, &g),
                        }));
                    }
                    // Home again: its gateway is the real router.
                    if let Some((router, mac)) = self.home_router {
                        self.tell_client(client_mac, address, router, mac, out);
                    }
                }
            }
        }
    }

    fn port_of(&self, client_mac: Mac) -> Option<(u32, &Port)> {
        self.ports
            .values()
            .find(|p| p.mac == Some(client_mac))
            .map(|p| (p.station.ifindex, p))
    }

    /// The interface `client_mac` is reached through, and whether it is
    /// the station's own port (an emulated radio's) rather than a radio
    /// shared by every station (hostapd's).
    fn port_name_of(&self, client_mac: Mac) -> Option<(String, bool)> {
        self.ports
            .iter()
            .find(|(_, p)| p.mac == Some(client_mac))
            .map(|(a, p)| (p.station.name.clone(), matches!(a, Attach::Port(_))))
    }

    /// An unsolicited ARP reply to the client: `ip` is at `mac`.
    fn tell_client(
        &self,
        client_mac: Mac,
        client_ip: Ipv4Addr,
        ip: Ipv4Addr,
        mac: Mac,
        out: &mut VecDeque<Output>,
    ) {
        if ip.is_unspecified() {
            return;
        }
        let Some((ifindex, _)) = self.port_of(client_mac) else {
            return;
        };
        let reply = arp::Repr {
            operation: arp::Operation::Reply,
            sender_hardware_addr: EthernetAddress(mac),
            sender_protocol_addr: ip,
            target_hardware_addr: EthernetAddress(client_mac),
            target_protocol_addr: client_ip,
        };
        out.push_back(Output::Transmit(Transmit::Frame {
            link: Link::Station(ifindex),
            frame: arp_frame(&reply, client_mac, mac),
        }));
    }

    /// Applies a changed configuration: pause, SSIDs, SAs and tunnel
    /// options take effect at once and stations are decided again (pause
    /// keeps the configuration and stops proxying); the subnet map is the
    /// learnt table with the static lines over it.
    pub fn set_config(
        &mut self,
        now: Now,
        config: &Config,
        learnt: pmip_engine::subnet_map::SubnetMap,
        out: &mut VecDeque<Output>,
    ) {
        let mut actions = Vec::new();
        self.engine
            .set_config(now, crate::config::proxy_ap(config), &mut actions);
        let map = crate::config::merged_map(learnt, &crate::config::static_subnet_map(config));
        if self.engine.subnet_map() != &map {
            self.engine.set_subnet_map(now, map, &mut actions);
        }
        self.carry_out(actions, out);
    }
}
