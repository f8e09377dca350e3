//! A campus of nodes in virtual time over a simulated network, in the
//! shape of quinn-proto's test `Pair`: every node's outputs become
//! deliveries 1 ms later, timers fire when the clock reaches them, and a
//! whole roaming scenario runs in milliseconds of wall time.
//!
//! Subnet k (1-based) is 10.k.0.0/24: router `rk` (home agent and foreign
//! agent, 10.k.0.1 on FastEthernet0) and access point `apk` (BVI1
//! 10.k.0.2). APs 1 and 2 are the AAPs. Stations are modelled only by the
//! frames they send and the frames the AP sends them.

#![allow(dead_code)]

use pmip_config::Config;
use pmip_engine::time::{Instant, Now};
use pmip_node::{Input, Install, Link, LinkEvent, Mac, Node, Output, Role, StationPort, Transmit};
use pmip_wire::ethernet::{self, EthernetAddress};
use pmip_wire::ipv4::{self, protocol};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// The Unix time the simulation starts at (identifications, epochs).
pub const UNIX_START: Duration = Duration::from_secs(1_800_000_000);
pub const HOP: Duration = Duration::from_millis(1);
pub const KEY: &str = "campus-secret";
pub const AAP_KEY: &str = "aap-secret";

pub fn router_name(k: u8) -> String {
    format!("r{k}")
}
pub fn ap_name(k: u8) -> String {
    format!("ap{k}")
}
pub fn router_address(k: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, k, 0, 1)
}
pub fn ap_address(k: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, k, 0, 2)
}
pub fn router_mac(k: u8) -> Mac {
    [2, 0, 0, 0, k, 1]
}

/// A router's configuration: home agent for 10.k.0.50–99, foreign agent
/// on FastEthernet0, as the lab writes it.
pub fn router_config(k: u8, subnets: u8) -> String {
    let mut c = format!(
        "hostname r{k}\n!\ninterface FastEthernet0\n ip address 10.{k}.0.1 255.255.255.0\n ip irdp\n ip irdp maxadvertinterval 4\n ip irdp minadvertinterval 3\n ip irdp holdtime 12\n ip mobile foreign-service\n!\ninterface eth0\n ip address 192.0.2.{} 255.255.255.252\n!\nrouter mobile\nip mobile home-agent lifetime 600\nip mobile host 10.{k}.0.50 10.{k}.0.99 interface FastEthernet0\nip mobile secure host 10.{k}.0.50 10.{k}.0.99 spi 100 key ascii {KEY}\nip mobile foreign-agent care-of FastEthernet0\n",
        4 * k + 2
    );
    // Foreign agent–home agent SAs between every pair of routers: relays
    // carry the FHAE and Binding Updates are believed (RFC 5944 3.5.3).
    for n in (1..=subnets).filter(|n| *n != k) {
        c.push_str(&format!(
            "ip mobile secure home-agent 10.{n}.0.1 spi 200 key ascii fa-ha-{}\nip mobile secure foreign-agent 10.{n}.0.1 spi 200 key ascii fa-ha-{}\n",
            k.min(n) * 10 + k.max(n),
            k.min(n) * 10 + k.max(n)
        ));
    }
    c.push_str("ip mobile bindupdate\nip mobile bindupdate ack\n");
    c
}

/// An AP's configuration: the walkthrough's interface lines, AAPs 1 and
/// 2, and the SAs of every subnet's clients.
pub fn ap_config(k: u8, subnets: u8) -> String {
    let mut c = format!(
        "hostname ap{k}\n!\ninterface FastEthernet0\n ip proxy-mobile\ninterface Dot11Radio0\n ip proxy-mobile\n ssid campus\n  ip proxy-mobile\ninterface BVI1\n ip address 10.{k}.0.2 255.255.255.0\n ip proxy-mobile\n!\nip default-gateway 10.{k}.0.1\nip proxy-mobile enable\nip proxy-mobile aap 10.1.0.2 10.2.0.2\nip proxy-mobile aap key ascii {AAP_KEY}\n"
    );
    for n in 1..=subnets {
        c.push_str(&format!(
            "ip proxy-mobile secure node 10.{n}.0.50 10.{n}.0.99 spi 100 key ascii {KEY}\n"
        ));
    }
    c
}

/// An AP configured as the Aironet configuration walkthrough prints it
/// (no `ip proxy-mobile aap key`: that line is ours), with the campus's
/// AAPs, SAs, and the AP's own address and gateway.
pub fn walkthrough_ap_config(k: u8, subnets: u8) -> String {
    let mut c =
        format!("hostname ap{k}\nip proxy-mobile enable\nip proxy-mobile aap 10.1.0.2 10.2.0.2\n");
    for n in 1..=subnets {
        c.push_str(&format!(
            "ip proxy-mobile secure node 10.{n}.0.50 10.{n}.0.99 spi 100 key ascii {KEY}\n"
        ));
    }
    c.push_str(&format!(
        "interface fastethernet 0\nip proxy-mobile\ninterface dot11radio 0\nip proxy-mobile\nssid campus\nip proxy-mobile\nexit\nexit\ninterface bvi1\nip proxy-mobile\nip address 10.{k}.0.2 255.255.255.0\nexit\nip default-gateway 10.{k}.0.1\n"
    ));
    c
}

/// One device of the campus.
pub struct Device {
    pub name: String,
    pub node: Node,
    pub subnet: u8,
    pub mac: Mac,
    /// Cut off from the network (every delivery to and from it is lost).
    pub down: bool,
}

/// Something on the wire.
#[derive(Debug, Clone)]
pub enum Wire {
    Udp {
        from: SocketAddrV4,
        to: SocketAddrV4,
        payload: Vec<u8>,
    },
    /// A station's frame to the AP it is associated with.
    FromStation { ifindex: u32, frame: Vec<u8> },
    /// An Ethernet frame on subnet `subnet`'s LAN, from device `from`.
    Lan {
        subnet: u8,
        from: usize,
        frame: Vec<u8>,
    },
}

/// Decides which deliveries are lost.
pub type LossFilter = Box<dyn FnMut(&Wire) -> bool>;

struct Delivery {
    to: usize,
    wire: Wire,
}

/// A station: its MAC and address, and the frames the APs sent it.
pub struct Station {
    pub mac: Mac,
    pub address: Ipv4Addr,
    pub ifindex: u32,
    /// The AP it is associated with.
    pub at: Option<usize>,
    /// Associated on the AP's shared radio port (hostapd), not a port of
    /// its own.
    pub shared: bool,
    pub received: Vec<Vec<u8>>,
}

/// The interface index of every AP's shared radio port.
pub const RADIO_IFINDEX: u32 = 900;

pub struct Campus {
    pub devices: Vec<Device>,
    pub stations: Vec<Station>,
    pub now: Instant,
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    in_flight: BTreeMap<u64, Delivery>,
    seq: u64,
    /// Deliveries this returns true for are lost.
    pub lose: Option<LossFilter>,
    pub lost: u64,
    /// Every install a node asked for, by device.
    pub installs: Vec<(String, Install)>,
    next_ifindex: u32,
}

impl Campus {
    /// `subnets` subnets, each with its router and AP, booted at time 0.
    pub fn new(subnets: u8) -> Campus {
        Campus::with_aps(subnets, ap_config)
    }

    /// The same with the APs configured by `ap`.
    pub fn with_aps(subnets: u8, ap: fn(u8, u8) -> String) -> Campus {
        let mut c = Campus {
            devices: Vec::new(),
            stations: Vec::new(),
            now: Instant::ZERO,
            queue: BinaryHeap::new(),
            in_flight: BTreeMap::new(),
            seq: 0,
            lose: None,
            lost: 0,
            installs: Vec::new(),
            next_ifindex: 100,
        };
        for k in 1..=subnets {
            c.add_device(
                &router_name(k),
                k,
                router_mac(k),
                &router_config(k, subnets),
            );
            c.add_device(&ap_name(k), k, [2, 0, 0, 0, k, 2], &ap(k, subnets));
        }
        c
    }

    pub fn at(&self) -> Now {
        Now::new(self.now, UNIX_START + self.now.since_origin())
    }

    pub fn add_device(&mut self, name: &str, subnet: u8, mac: Mac, config: &str) -> usize {
        let config = Config::parse(config).expect("campus configuration parses");
        let node = start_node(config, mac, self.at());
        self.devices.push(Device {
            name: name.to_owned(),
            node,
            subnet,
            mac,
            down: false,
        });
        self.devices.len() - 1
    }

    /// Device `name` restarted: a new node from its configuration, with
    /// none of its state (what a daemon keeps across a restart is given
    /// back by the caller). Returns its index.
    pub fn restart(&mut self, name: &str) -> usize {
        let i = self.index(name);
        let config = self.devices[i].node.config().clone();
        self.devices[i].node = start_node(config, self.devices[i].mac, self.at());
        i
    }

    pub fn index(&self, name: &str) -> usize {
        self.devices
            .iter()
            .position(|d| d.name == name)
            .unwrap_or_else(|| panic!("no device {name}"))
    }

    pub fn node(&mut self, name: &str) -> &mut Node {
        let i = self.index(name);
        &mut self.devices[i].node
    }

    /// Runs `words` on device `name` now (its outputs go out on the next
    /// step).
    pub fn exec(&mut self, name: &str, words: &str, json: bool) -> Result<String, String> {
        let now = self.at();
        let w: Vec<String> = words.split_whitespace().map(str::to_owned).collect();
        self.node(name).exec(now, &w, json)
    }

    pub fn json(&mut self, name: &str, words: &str) -> serde_json::Value {
        let text = self.exec(name, words, true).expect(words);
        serde_json::from_str(&text).expect("JSON")
    }

    /// A station with `address`, not associated yet.
    pub fn add_station(&mut self, address: Ipv4Addr) -> usize {
        let [hi, lo] = (self.stations.len() as u16 + 1).to_be_bytes();
        self.stations.push(Station {
            mac: [2, 0, 0, 0x99, hi, lo],
            address,
            ifindex: 0,
            at: None,
            shared: false,
            received: Vec::new(),
        });
        self.stations.len() - 1
    }

    /// The station's port appears on `ap`'s bridge (a new port each
    /// time, as when its veth moves), after leaving the AP it was at.
    pub fn associate(&mut self, station: usize, ap: &str) {
        self.disassociate(station);
        let a = self.index(ap);
        self.next_ifindex += 1;
        let ifindex = self.next_ifindex;
        let s = &mut self.stations[station];
        s.ifindex = ifindex;
        s.at = Some(a);
        s.shared = false;
        let port = StationPort {
            ifindex,
            name: format!("sta{ifindex}"),
            radio: "Dot11Radio0".into(),
            ssid: "campus".into(),
        };
        let now = self.at();
        self.devices[a]
            .node
            .handle(now, Input::Link(LinkEvent::Associated(port)));
    }

    /// The station associates through `ap`'s shared radio port, as
    /// hostapd reports it (`AP-STA-CONNECTED` with its MAC).
    pub fn associate_radio(&mut self, station: usize, ap: &str) {
        self.disassociate(station);
        let a = self.index(ap);
        let s = &mut self.stations[station];
        s.ifindex = RADIO_IFINDEX;
        s.at = Some(a);
        s.shared = true;
        let mac = s.mac;
        let port = StationPort {
            ifindex: RADIO_IFINDEX,
            name: "Dot11Radio0".into(),
            radio: "Dot11Radio0".into(),
            ssid: "campus".into(),
        };
        let now = self.at();
        self.devices[a]
            .node
            .handle(now, Input::Link(LinkEvent::RadioAssociated { port, mac }));
    }

    pub fn disassociate(&mut self, station: usize) {
        let s = &mut self.stations[station];
        if let Some(a) = s.at.take() {
            let (ifindex, mac) = (s.ifindex, s.mac);
            let event = if s.shared {
                LinkEvent::RadioDisassociated { ifindex, mac }
            } else {
                LinkEvent::Disassociated { ifindex }
            };
            let now = self.at();
            self.devices[a].node.handle(now, Input::Link(event));
        }
    }

    /// The station sends one IPv4 packet (a ping to its gateway's
    /// address, say) through its AP's port.
    pub fn station_sends(&mut self, station: usize, to: Ipv4Addr) {
        let from = self.stations[station].address;
        let ip = ipv4::Repr::new(from, to, protocol::ICMP, 64, 8);
        let mut pkt = vec![0u8; ip.buffer_len()];
        ip.emit(&mut ipv4::Packet::new_unchecked(&mut pkt[..]));
        self.station_packet(station, &pkt);
    }

    /// The station sends a frame that says nothing of its IPv4 address
    /// (an IPv6 router solicitation, as a host does when its link comes
    /// up).
    pub fn station_sends_ipv6(&mut self, station: usize) {
        self.station_frame(station, [0x33, 0x33, 0, 0, 0, 2], 0x86dd, &[0x60; 48]);
    }

    /// The station sends an agent solicitation (its own Mobile IP
    /// stack, RFC 5944 2.4) to the broadcast address.
    pub fn station_solicits(&mut self, station: usize) {
        let sol = pmip_wire::icmp::Repr::Solicitation { reserved: 0 }.to_vec();
        let from = self.stations[station].address;
        let pkt = pmip_node::packets::icmp_packet(from, Ipv4Addr::BROADCAST, &sol);
        self.station_packet(station, &pkt);
    }

    /// An IPv4 packet from the station, broadcast on its AP's port.
    fn station_packet(&mut self, station: usize, pkt: &[u8]) {
        self.station_frame(station, [0xff; 6], ethernet::ethertype::IPV4, pkt);
    }

    /// A frame from the station to `dst` on its AP's port.
    fn station_frame(&mut self, station: usize, dst: Mac, ethertype: u16, payload: &[u8]) {
        let s = &self.stations[station];
        let Some(a) = s.at else { return };
        let frame = pmip_node::packets::eth_frame(dst, s.mac, ethertype, payload);
        let (ifindex, now) = (s.ifindex, self.at());
        self.devices[a].node.handle(
            now,
            Input::Frame {
                link: Link::Station(ifindex),
                frame: &frame,
            },
        );
    }

    fn schedule(&mut self, to: usize, wire: Wire) {
        if self.devices[to].down {
            self.lost += 1;
            return;
        }
        if let Some(lose) = &mut self.lose
            && lose(&wire)
        {
            self.lost += 1;
            return;
        }
        self.seq += 1;
        self.queue.push(Reverse((self.now + HOP, self.seq)));
        self.in_flight.insert(self.seq, Delivery { to, wire });
    }

    /// Collects every node's outputs and puts them on the wire.
    fn collect(&mut self) {
        for i in 0..self.devices.len() {
            while let Some(o) = self.devices[i].node.poll_output() {
                if self.devices[i].down {
                    continue;
                }
                self.route(i, o);
            }
        }
    }

    fn route(&mut self, from: usize, o: Output) {
        match o {
            Output::Transmit(Transmit::Udp {
                local,
                remote,
                payload,
            }) => {
                let targets: Vec<usize> = (0..self.devices.len())
                    .filter(|&j| j != from && self.devices[j].node.udp_sockets().contains(&remote))
                    .collect();
                for j in targets {
                    self.schedule(
                        j,
                        Wire::Udp {
                            from: local,
                            to: remote,
                            payload: payload.clone(),
                        },
                    );
                }
            }
            Output::Transmit(Transmit::Packet { mac, packet, .. }) => {
                let src = self.devices[from].mac;
                let frame =
                    pmip_node::packets::eth_frame(mac, src, ethernet::ethertype::IPV4, &packet);
                self.lan(from, frame);
            }
            Output::Transmit(Transmit::Frame { link, frame }) => match link {
                Link::Wired => self.lan(from, frame),
                Link::Station(ifindex) => {
                    // A shared radio port carries frames to every station
                    // on it; each takes those to its MAC or to all.
                    let dst: Mac = frame
                        .get(..6)
                        .and_then(|d| d.try_into().ok())
                        .unwrap_or([0; 6]);
                    let mut answers = Vec::new();
                    for s in self
                        .stations
                        .iter_mut()
                        .filter(|s| s.ifindex == ifindex && s.at == Some(from))
                        .filter(|s| dst == s.mac || dst == [0xff; 6])
                    {
                        // Like any IPv4 host, the station answers ARP
                        // requests (probes included) for its own address.
                        answers.extend(arp_answer(s.mac, s.address, &frame));
                        s.received.push(frame.clone());
                    }
                    for reply in answers {
                        self.schedule(
                            from,
                            Wire::FromStation {
                                ifindex,
                                frame: reply,
                            },
                        );
                    }
                }
            },
            Output::Install(i) => {
                let name = self.devices[from].name.clone();
                self.installs.push((name, i));
            }
            Output::FetchSa { role, home } => {
                // No AAA server in this campus: every lookup fails.
                let now = self.at();
                self.devices[from].node.handle(
                    now,
                    Input::SaResult {
                        role,
                        home,
                        result: Err("no RADIUS server in the simulated campus".into()),
                    },
                );
                let _: Role = role;
            }
            Output::WatchPort { .. }
            | Output::NarrowPort { .. }
            | Output::UnwatchPort { .. }
            | Output::SaveConfig { .. } => {}
        }
    }

    /// A frame onto the sender's LAN: every other device of the subnet
    /// hears it.
    fn lan(&mut self, from: usize, frame: Vec<u8>) {
        let subnet = self.devices[from].subnet;
        let targets: Vec<usize> = (0..self.devices.len())
            .filter(|&j| j != from && self.devices[j].subnet == subnet)
            .collect();
        for j in targets {
            self.schedule(
                j,
                Wire::Lan {
                    subnet,
                    from,
                    frame: frame.clone(),
                },
            );
        }
    }

    fn deliver(&mut self, d: Delivery) {
        if self.devices[d.to].down {
            self.lost += 1;
            return;
        }
        let now = self.at();
        let dev = &mut self.devices[d.to];
        match d.wire {
            Wire::Udp { from, to, payload } => dev.node.handle(
                now,
                Input::Datagram {
                    local: to,
                    remote: from,
                    payload: &payload,
                },
            ),
            Wire::FromStation { ifindex, frame } => dev.node.handle(
                now,
                Input::Frame {
                    link: Link::Station(ifindex),
                    frame: &frame,
                },
            ),
            Wire::Lan { frame, .. } => {
                if dev.node.is_access_point() {
                    dev.node.handle(
                        now,
                        Input::Frame {
                            link: Link::Wired,
                            frame: &frame,
                        },
                    );
                } else if let Ok(eth) = ethernet::Frame::new_checked(&frame[..])
                    && eth.ethertype() == ethernet::ethertype::IPV4
                    && (eth.dst_addr() == EthernetAddress(dev.mac)
                        || eth.dst_addr().is_broadcast()
                        || eth.dst_addr().0[0] & 1 == 1)
                {
                    // The foreign agent's visited link: what its filter
                    // passes (UDP to 434, agent solicitations).
                    let src = eth.src_addr().0;
                    let visited = dev.node.visited_interfaces();
                    if let Some(interface) = visited.first()
                        && visited_filter(eth.payload())
                    {
                        dev.node.handle(
                            now,
                            Input::VisitedPacket {
                                interface,
                                mac: src,
                                packet: eth.payload(),
                            },
                        );
                    }
                    // The kernel also hands a UDP datagram for one of its
                    // sockets to that socket.
                    if let Some((remote, local, payload)) = udp_of(eth.payload())
                        && dev.node.udp_sockets().contains(&local)
                    {
                        dev.node.handle(
                            now,
                            Input::Datagram {
                                local,
                                remote,
                                payload,
                            },
                        );
                    }
                }
            }
        }
    }

    /// Runs until `until`, delivering and firing timers in time order.
    pub fn run_until(&mut self, until: Instant) {
        loop {
            self.collect();
            let next_delivery = self.queue.peek().map(|r| r.0.0);
            let next_timer = self
                .devices
                .iter()
                .filter(|d| !d.down)
                .filter_map(|d| d.node.poll_timeout())
                .min();
            let next = [next_delivery, next_timer].into_iter().flatten().min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    if next_delivery == Some(t) {
                        let Reverse((_, seq)) = self.queue.pop().expect("peeked");
                        let d = self.in_flight.remove(&seq).expect("in flight");
                        self.deliver(d);
                    } else {
                        let now = self.at();
                        for d in self.devices.iter_mut().filter(|d| !d.down) {
                            if d.node.poll_timeout().is_some_and(|t| t <= now.instant) {
                                d.node.handle_timeout(now);
                            }
                        }
                    }
                }
                _ => {
                    self.now = self.now.max(until);
                    return;
                }
            }
        }
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Runs a millisecond at a time until `done` holds, for at most
    /// `limit`: how long it took, or `None` if it never held.
    pub fn run_until_done(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&mut Campus) -> bool,
    ) -> Option<Duration> {
        let start = self.now;
        for _ in 0..limit.as_millis() {
            self.run_for(Duration::from_millis(1));
            if done(self) {
                return Some(self.now.saturating_since(start));
            }
        }
        None
    }

    /// Home agent bindings on router `name`: (home address, care-of).
    pub fn bindings(&mut self, name: &str) -> Vec<(String, String)> {
        let v = self.json(name, "show ip mobile binding");
        v["bindings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|b| {
                        (
                            b["home_address"].as_str().unwrap_or("").to_owned(),
                            b["care_of_address"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn visitors(&mut self, name: &str) -> Vec<String> {
        let v = self.json(name, "show ip mobile visitor");
        v["visitors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|b| b["home_address"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The foreign agent's visited-link filter: UDP to port 434 or an agent
/// solicitation (ICMP type 10).
fn visited_filter(ip: &[u8]) -> bool {
    let Ok(p) = ipv4::Packet::new_checked(ip) else {
        return false;
    };
    match p.protocol() {
        protocol::UDP => {
            pmip_wire::udp::Packet::new_checked(p.payload()).is_ok_and(|u| u.dst_port() == 434)
        }
        protocol::ICMP => p.payload().first() == Some(&10),
        _ => false,
    }
}

/// Source, destination and payload of a UDP datagram in an IPv4 packet.
fn udp_of(ip: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4, &[u8])> {
    let p = ipv4::Packet::new_checked(ip).ok()?;
    if p.protocol() != protocol::UDP {
        return None;
    }
    let (src, dst) = (p.src_addr(), p.dst_addr());
    let payload = p.into_inner();
    let header = usize::from(payload[0] & 0x0f) * 4;
    let u = pmip_wire::udp::Packet::new_checked(payload.get(header..)?).ok()?;
    let (sport, dport) = (u.src_port(), u.dst_port());
    let body = u.into_inner().get(pmip_wire::udp::HEADER_LEN..)?;
    Some((
        SocketAddrV4::new(src, sport),
        SocketAddrV4::new(dst, dport),
        body,
    ))
}

/// A station's ARP reply to `frame`, if it asks for the station's address.
fn arp_answer(mac: Mac, address: Ipv4Addr, frame: &[u8]) -> Option<Vec<u8>> {
    use pmip_wire::arp;
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    if eth.ethertype() != ethernet::ethertype::ARP {
        return None;
    }
    let req = arp::Repr::parse(&arp::Packet::new_unchecked(eth.payload())).ok()?;
    if req.operation != arp::Operation::Request || req.target_protocol_addr != address {
        return None;
    }
    let reply = arp::Repr {
        operation: arp::Operation::Reply,
        sender_hardware_addr: EthernetAddress(mac),
        sender_protocol_addr: address,
        target_hardware_addr: req.sender_hardware_addr,
        target_protocol_addr: req.sender_protocol_addr,
    };
    Some(pmip_node::packets::arp_frame(
        &reply,
        req.sender_hardware_addr.0,
        mac,
    ))
}

/// A node starting from `config`; an AP learns its bridge's MAC first,
/// as the daemon tells it at start.
fn start_node(config: Config, mac: Mac, at: Now) -> Node {
    let mut node = Node::new(config, at);
    if node.is_access_point() {
        node.handle(at, Input::Link(LinkEvent::Bridge { mac }));
    }
    node
}
