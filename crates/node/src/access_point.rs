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

/// One port being watched, and what is known of its station.
struct Port {
    station: StationPort,
    mac: Option<Mac>,
    /// Only its control frames come up to us (its address is known).
    narrowed: bool,
}

pub(crate) struct AccessPoint {
    pub engine: ProxyAp,
    bridge_mac: Mac,
    ports: BTreeMap<u32, Port>,
    /// Clients we intercept for: their home agent (gateway) and the MAC
    /// their frames must go to (the foreign agent's).
    intercepting: BTreeMap<Mac, (Ipv4Addr, Mac)>,
    /// Our own subnet's router, from its advertisements (H bit).
    home_router: Option<(Ipv4Addr, Mac)>,
    /// Associations fetched from RADIUS: SPI, server, when.
    pub aaa_sas: BTreeMap<Ipv4Addr, (u32, SocketAddrV4, Instant)>,
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
            LinkEvent::Associated(port) => self.add_port(port, out),
            LinkEvent::Disassociated { ifindex } => self.remove_port(now, ifindex, out),
            LinkEvent::StationPorts(current) => {
                let gone: Vec<u32> = self
                    .ports
                    .keys()
                    .filter(|i| !current.iter().any(|p| p.ifindex == **i))
                    .copied()
                    .collect();
                for i in gone {
                    self.remove_port(now, i, out);
                }
                for p in current {
                    self.add_port(p, out);
                }
            }
        }
    }

    fn remove_port(&mut self, now: Now, ifindex: u32, out: &mut VecDeque<Output>) {
        let Some(p) = self.ports.remove(&ifindex) else {
            return;
        };
        out.push_back(Output::UnwatchPort { ifindex });
        if let Some(mac) = p.mac {
            tracing::info!(port = %p.station.name, "station disassociated");
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
    fn add_port(&mut self, sp: StationPort, out: &mut VecDeque<Output>) {
        if self.ports.contains_key(&sp.ifindex) {
            return;
        }
        tracing::info!(port = %sp.name, radio = %sp.radio, ssid = %sp.ssid, "station port attached");
        let ifindex = sp.ifindex;
        out.push_back(Output::WatchPort {
            ifindex,
            name: sp.name.clone(),
        });
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
                frame: eth_frame([0xff; 6], mac, ethernet::ethertype::ARP, &request),
            }));
        }
        self.ports.insert(
            ifindex,
            Port {
                station: sp,
                mac: None,
                narrowed: false,
            },
        );
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
        let port = self
            .ports
            .get_mut(&ifindex)
            .ok_or("frame from a port that is not a station's")?;
        if port.mac.is_none() {
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
                    if let Some(port) = self.ports.get_mut(&ifindex)
                        && !port.narrowed
                        && known
                    {
                        port.narrowed = true;
                        out.push_back(Output::NarrowPort { ifindex });
                    }
                }
            }
            _ => {}
        }
        Ok(())
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
                    if let Some(name) = self.port_name_of(client_mac) {
                        out.push_back(Output::Install(Install::IsolatePort { name }));
                    }
                    tracing::info!(client = %home_address, "intercepting for visiting client");
                }
                Action::Release { client_mac, .. } => {
                    self.intercepting.remove(&client_mac);
                    if let Some(name) = self.port_name_of(client_mac) {
                        out.push_back(Output::Install(Install::ReleasePort { name }));
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
            .iter()
            .find(|(_, p)| p.mac == Some(client_mac))
            .map(|(i, p)| (*i, p))
    }

    fn port_name_of(&self, client_mac: Mac) -> Option<String> {
        self.port_of(client_mac)
            .map(|(_, p)| p.station.name.clone())
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
