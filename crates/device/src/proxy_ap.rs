//! The proxy Mobile IP access point on Linux (seed 004): the BVI1 bridge
//! with the wired port and one port per station (the emulated radio),
//! stations' frames watched on their ports, agent advertisements and
//! registration replies watched on the wired port, registrations sent in
//! the client's name (its address and MAC) straight out of the wired
//! port, and the client's ARP answered with the foreign agent's MAC.

use crate::home_agent::security_association;
use pmip_config::Config;
use pmip_engine::host_range::HostRanges;
use pmip_engine::proxy_ap::{Action, Mac, Observation, ProxyAp, ProxyApConfig};
use pmip_engine::security::SecurityAssociation;
use pmip_engine::subnet_map::{SubnetEntry, SubnetMap};
use pmip_engine::time::Now;
use pmip_platform::netlink::Netlink;
use pmip_platform::packet::RawLink;
use pmip_platform::radio::StationPort;
use pmip_wire::arp;
use pmip_wire::ethernet::{self, EthernetAddress};
use pmip_wire::icmp;
use pmip_wire::ipv4::{self, protocol};
use pmip_wire::udp;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

pub const BRIDGE: &str = "BVI1";
pub const WIRED: &str = "FastEthernet0";

pub fn engine_config(config: &Config) -> ProxyApConfig {
    let bvi = config.interface(BRIDGE).and_then(|i| i.address);
    let mut nodes = HostRanges::new();
    for n in &config.proxy_mobile.nodes {
        let _ = nodes.insert(n.range.low, n.range.high, security_association(&n.sa));
    }
    let proxy_ssids = config
        .interfaces
        .iter()
        .filter(|i| i.is_radio())
        .flat_map(|i| i.ssids.iter())
        .filter(|s| s.proxy_mobile && s.vlan.is_none())
        .map(|s| s.name.clone())
        .collect();
    ProxyApConfig {
        own_address: bvi.map_or(Ipv4Addr::UNSPECIFIED, |a| a.address),
        own_prefix_len: bvi.map_or(32, |a| a.prefix_len()),
        paused: config.proxy_mobile.paused || !config.proxy_mobile.enabled,
        proxy_ssids,
        nodes,
        tunnel_gre: config.proxy_mobile.tunnel_gre,
        tunnel_reverse: config.proxy_mobile.tunnel_reverse,
        aaa: config.aaa.radius_for_ipmobile(),
        ..Default::default()
    }
}

/// The subnet map from `ip proxy-mobile subnet-map` lines.
pub fn static_subnet_map(config: &Config) -> SubnetMap {
    let mut m = SubnetMap::new();
    for (ha, mask) in &config.proxy_mobile.subnet_map {
        m.insert(SubnetEntry {
            home_agent: *ha,
            prefix_len: u32::from(*mask).leading_ones() as u8,
        });
    }
    m
}

/// One station port being watched.
pub struct Port {
    pub station: StationPort,
    pub link: Arc<RawLink>,
    pub mac: Option<Mac>,
    /// Whether the port's socket sees only control frames yet (once the
    /// station's address is learnt).
    pub narrowed: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Port {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Frames for the AP loop.
pub enum ApEvent {
    Station {
        ifindex: u32,
        frame: Vec<u8>,
    },
    Wired {
        frame: Vec<u8>,
    },
    /// A link changed: look at the bridge's ports now.
    LinksChanged,
    /// The RADIUS server's answer to the engine's `FetchSa`.
    SaResult {
        home: Ipv4Addr,
        result: Result<(SecurityAssociation, std::net::SocketAddrV4), String>,
    },
    /// A link event showing a station port on bridge `controller`.
    PortAttached {
        controller: u32,
        port: StationPort,
    },
}

pub struct ApRuntime {
    pub engine: ProxyAp,
    pub bridge: u32,
    pub bridge_mac: Mac,
    pub wired: Arc<RawLink>,
    pub ports: HashMap<u32, Port>,
    /// Clients we intercept for: their home agent (gateway) and the MAC
    /// their frames must go to.
    pub intercepting: HashMap<Mac, (Ipv4Addr, Mac)>,
    /// Our own subnet's router, from its advertisements (H bit).
    pub home_router_mac: Option<(Ipv4Addr, Mac)>,
    wired_task: tokio::task::JoinHandle<()>,
    /// The RADIUS client when associations come from the AAA server.
    pub radius: Option<pmip_radius::RadiusHandle>,
    /// Associations fetched from RADIUS: SPI, server, when (for `show`).
    pub aaa_sas: HashMap<Ipv4Addr, (u32, std::net::SocketAddrV4, std::time::Instant)>,
    events: tokio::sync::mpsc::Sender<ApEvent>,
}

impl Drop for ApRuntime {
    fn drop(&mut self) {
        self.wired_task.abort();
    }
}

fn spawn_reader(
    link: Arc<RawLink>,
    make: impl Fn(Vec<u8>) -> ApEvent + Send + 'static,
    tx: tokio::sync::mpsc::Sender<ApEvent>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = link.recv(&mut buf).await {
            if tx.send(make(buf[..n].to_vec())).await.is_err() {
                return;
            }
        }
    })
}

impl ApRuntime {
    /// Creates BVI1 with the wired port (before the interfaces are
    /// configured, so BVI1's address lands on the bridge).
    pub async fn create_bridge(nl: &Netlink) -> Result<u32, pmip_platform::netlink::NetlinkError> {
        nl.create_bridge(BRIDGE, Some(WIRED)).await
    }

    pub async fn start(
        config: &Config,
        nl: &Netlink,
        bridge: u32,
        tx: tokio::sync::mpsc::Sender<ApEvent>,
        now: Now,
    ) -> std::io::Result<(ApRuntime, Vec<Action>)> {
        let wired_index = nl.link_index(WIRED).await.map_err(std::io::Error::other)?;
        // Only advertisements and registration replies reach user space;
        // the clients' traffic is bridged by the kernel.
        let wired = Arc::new(RawLink::open_filtered(
            wired_index,
            Some(&pmip_platform::packet::WIRED_CONTROL),
        )?);
        let wired_task = spawn_reader(wired.clone(), |frame| ApEvent::Wired { frame }, tx.clone());
        let bridge_mac = crate::linkaddr::mac_of_index(bridge)?;
        let engine_cfg = engine_config(config);
        let radius = if engine_cfg.aaa {
            match crate::daemon::start_radius(config, engine_cfg.own_address, None) {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!("associations from RADIUS asked for, but {e}");
                    None
                }
            }
        } else {
            None
        };
        let events = tx.clone();
        let mut engine = ProxyAp::new(engine_cfg);
        let mut out = Vec::new();
        engine.set_subnet_map(now, static_subnet_map(config), &mut out);
        engine.start(&mut out);
        Ok((
            ApRuntime {
                engine,
                bridge,
                bridge_mac,
                wired,
                ports: HashMap::new(),
                intercepting: HashMap::new(),
                home_router_mac: None,
                wired_task,
                radius,
                aaa_sas: HashMap::new(),
                events,
            },
            out,
        ))
    }

    /// Brings the watched ports in line with the bridge's station ports:
    /// new ones are watched, gone ones are disassociations. Returns the
    /// new ports (to [`ApRuntime::greet`]).
    pub fn sync_ports(
        &mut self,
        now: Now,
        current: Vec<StationPort>,
        tx: &tokio::sync::mpsc::Sender<ApEvent>,
        out: &mut Vec<Action>,
    ) -> Vec<u32> {
        let mut added = Vec::new();
        let gone: Vec<u32> = self
            .ports
            .keys()
            .filter(|i| !current.iter().any(|p| p.ifindex == **i))
            .copied()
            .collect();
        for i in gone {
            if let Some(p) = self.ports.remove(&i)
                && let Some(mac) = p.mac
            {
                tracing::info!(port = %p.station.name, "station disassociated");
                self.engine.disassociate(now, mac, out);
            }
        }
        for sp in current {
            added.extend(self.add_port(sp, tx));
        }
        added
    }

    /// Starts watching station port `sp` unless it is watched already;
    /// its index when it is new.
    pub fn add_port(
        &mut self,
        sp: StationPort,
        tx: &tokio::sync::mpsc::Sender<ApEvent>,
    ) -> Option<u32> {
        if self.ports.contains_key(&sp.ifindex) {
            return None;
        }
        match RawLink::open(sp.ifindex) {
            Ok(link) => {
                let link = Arc::new(link);
                let ifindex = sp.ifindex;
                let task = spawn_reader(
                    link.clone(),
                    move |frame| ApEvent::Station { ifindex, frame },
                    tx.clone(),
                );
                tracing::info!(port = %sp.name, radio = %sp.radio, ssid = %sp.ssid, "station port attached");
                self.ports.insert(
                    sp.ifindex,
                    Port {
                        station: sp,
                        link,
                        mac: None,
                        narrowed: false,
                        task,
                    },
                );
                Some(ifindex)
            }
            Err(e) => {
                tracing::warn!(port = %sp.name, error = %e, "cannot watch station port");
                None
            }
        }
    }

    /// A station just associated on `ifindex`. A roaming station lost
    /// carrier while its port moved, and Linux then drops its ARP entries
    /// (neigh_carrier_down): its next packet waits in an incomplete entry
    /// for an ARP retry up to a second away, and until it sends, the AP
    /// cannot learn who it is. Gratuitous ARP for each gateway it may be
    /// using fills such an entry at once (and touches no host without
    /// one): our own subnet's router with its real MAC, every other home
    /// agent of the subnet map with the foreign agent's MAC, where its
    /// traffic goes while it visits (seed 001: the AP steers the client's
    /// traffic to the foreign agent).
    pub async fn greet(&self, ifindex: u32) {
        let Some(port) = self.ports.get(&ifindex) else {
            return;
        };
        let mut claims: Vec<(Ipv4Addr, Mac)> = Vec::new();
        if let Some(home) = self.home_router_mac {
            claims.push(home);
        }
        let proxying = !self.engine.config().paused
            && self
                .engine
                .config()
                .proxy_ssids
                .contains(&port.station.ssid);
        if proxying && let Some(fa) = self.engine.foreign_agent() {
            for e in self.engine.subnet_map().entries() {
                if Some(e.home_agent) != self.home_router_mac.map(|h| h.0) {
                    claims.push((e.home_agent, fa.mac));
                }
            }
        }
        for (ip, mac) in claims {
            let [request, _] = arp::gratuitous(EthernetAddress(mac), ip);
            let frame = eth_frame([0xff; 6], mac, ethernet::ethertype::ARP, &request);
            let _ = port.link.send(&frame).await;
        }
    }

    /// A frame from a station: learn who it is and what it does; answer
    /// its ARP with the foreign agent's MAC while we intercept for it.
    pub async fn station_frame(
        &mut self,
        now: Now,
        ifindex: u32,
        frame: &[u8],
        out: &mut Vec<Action>,
    ) {
        let Ok(eth) = ethernet::Frame::new_checked(frame) else {
            return;
        };
        let src = eth.src_addr().0;
        let Some(port) = self.ports.get_mut(&ifindex) else {
            return;
        };
        if port.mac.is_none() {
            port.mac = Some(src);
            let ssid = port.station.ssid.clone();
            tracing::info!(mac = %EthernetAddress(src), %ssid, "station associated");
            self.engine.associate(now, src, &ssid, out);
        }
        let link = port.link.clone();
        match eth.ethertype() {
            ethernet::ethertype::ARP => {
                let Ok(a) = arp::Repr::parse(&arp::Packet::new_unchecked(eth.payload())) else {
                    return;
                };
                self.engine.observe(
                    now,
                    src,
                    Observation::ArpSender(a.sender_protocol_addr),
                    out,
                );
                if a.operation == arp::Operation::Request
                    && a.target_protocol_addr != a.sender_protocol_addr
                    && let Some(&(_, fa_mac)) = self.intercepting.get(&src)
                {
                    let reply = arp::proxy_reply(&a, EthernetAddress(fa_mac));
                    let _ = link.send(&arp_frame(&reply, src, fa_mac)).await;
                }
            }
            ethernet::ethertype::IPV4 => {
                let Ok(ip) = ipv4::Packet::new_checked(eth.payload()) else {
                    return;
                };
                // What the frame says about the station's own software goes
                // first: a station whose first frame is a DHCP request or an
                // agent solicitation must never be registered for (seed 004).
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
                    self.engine.observe(now, src, c, out);
                }
                if !ip.src_addr().is_unspecified() {
                    self.engine
                        .observe(now, src, Observation::Ipv4Source(ip.src_addr()), out);
                    // Its address is known: from now on only its control
                    // frames (ARP, DHCP, Mobile IP) come up to us.
                    if let Some(port) = self.ports.get_mut(&ifindex)
                        && !port.narrowed
                        && self
                            .engine
                            .station(&src)
                            .is_some_and(|s| s.address.is_some())
                    {
                        port.narrowed = true;
                        if let Err(e) = port
                            .link
                            .set_filter(&pmip_platform::packet::STATION_CONTROL)
                        {
                            tracing::warn!(port = %port.station.name, error = %e, "cannot narrow the station port's filter");
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A frame on the wired port: an agent advertisement, or a
    /// registration reply for a client we register for.
    pub fn wired_frame(&mut self, now: Now, frame: &[u8], out: &mut Vec<Action>) {
        let Ok(eth) = ethernet::Frame::new_checked(frame) else {
            return;
        };
        if eth.ethertype() != ethernet::ethertype::IPV4 {
            return;
        }
        let Ok(ip) = ipv4::Packet::new_checked(eth.payload()) else {
            return;
        };
        match ip.protocol() {
            protocol::ICMP if ip.payload().first() == Some(&icmp::TYPE_ROUTER_ADVERTISEMENT) => {
                if let Ok(icmp::Repr::Advertisement(adv)) =
                    icmp::Repr::parse(&icmp::Packet::new_unchecked(ip.payload()))
                {
                    if adv.mobility_agent().is_some_and(|m| m.flags.home_agent) {
                        self.home_router_mac = Some((ip.src_addr(), eth.src_addr().0));
                    }
                    self.engine
                        .advertisement(now, ip.src_addr(), eth.src_addr().0, &adv, out);
                }
            }
            protocol::UDP => {
                let Ok(u) = udp::Packet::new_checked(ip.payload()) else {
                    return;
                };
                let to_client = self
                    .engine
                    .stations()
                    .any(|s| s.address == Some(ip.dst_addr()) && s.mac == eth.dst_addr().0);
                if u.src_port() == udp::MOBILE_IP_PORT && to_client {
                    self.engine.registration_reply(now, u.payload(), out);
                }
            }
            _ => {}
        }
    }

    /// Carries out the engine's actions.
    pub async fn apply(&mut self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::SendRegistration {
                    client_mac,
                    home_address,
                    to,
                    to_mac,
                    payload,
                } => {
                    let pkt = crate::foreign_agent::udp_packet(
                        home_address,
                        SocketAddrV4::new(to, udp::MOBILE_IP_PORT),
                        &payload,
                    );
                    let _ = self
                        .wired
                        .send(&eth_frame(
                            to_mac,
                            client_mac,
                            ethernet::ethertype::IPV4,
                            &pkt,
                        ))
                        .await;
                }
                Action::FetchSa { home } => {
                    let (events, radius) = (self.events.clone(), self.radius.clone());
                    tokio::spawn(async move {
                        let result = crate::daemon::fetch_sa(radius, None, home).await;
                        let _ = events.send(ApEvent::SaResult { home, result }).await;
                    });
                }
                Action::Solicit => {
                    let own = self.engine.config().own_address;
                    let sol = icmp::Repr::Solicitation { reserved: 0 }.to_vec();
                    let pkt =
                        crate::foreign_agent::icmp_packet(own, Ipv4Addr::new(224, 0, 0, 2), &sol);
                    let _ = self
                        .wired
                        .send(&eth_frame(
                            [0x01, 0x00, 0x5e, 0, 0, 2],
                            self.bridge_mac,
                            ethernet::ethertype::IPV4,
                            &pkt,
                        ))
                        .await;
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
                    // Its cache may still map its home gateway to a MAC that
                    // is not on this link: correct it at once, before the
                    // slower filter installation.
                    self.tell_client(client_mac, home_address, gateway, fa_mac)
                        .await;
                    if let Some(port) = self.port_of(client_mac)
                        && let Err(e) = pmip_platform::isolation::isolate(&port)
                    {
                        tracing::warn!(%port, error = %e, "cannot keep broadcasts and registration replies from the visitor");
                    }
                    tracing::info!(client = %home_address, "intercepting for visiting client");
                }
                Action::Release { client_mac, .. } => {
                    self.intercepting.remove(&client_mac);
                    if let Some(port) = self.port_of(client_mac) {
                        let _ = pmip_platform::isolation::release(&port);
                    }
                }
                Action::AnnounceHome {
                    client_mac,
                    address,
                } => {
                    for g in arp::gratuitous(EthernetAddress(client_mac), address) {
                        let _ = self
                            .wired
                            .send(&eth_frame(
                                [0xff; 6],
                                client_mac,
                                ethernet::ethertype::ARP,
                                &g,
                            ))
                            .await;
                    }
                    // Home again: its gateway is the real router.
                    if let Some((router, mac)) = self.home_router_mac {
                        self.tell_client(client_mac, address, router, mac).await;
                    }
                }
            }
        }
    }

    fn port_of(&self, client_mac: Mac) -> Option<String> {
        self.ports
            .values()
            .find(|p| p.mac == Some(client_mac))
            .map(|p| p.station.name.clone())
    }

    /// An unsolicited ARP reply to the client: `ip` is at `mac`.
    async fn tell_client(&self, client_mac: Mac, client_ip: Ipv4Addr, ip: Ipv4Addr, mac: Mac) {
        if ip.is_unspecified() {
            return;
        }
        let Some(port) = self.ports.values().find(|p| p.mac == Some(client_mac)) else {
            return;
        };
        let reply = arp::Repr {
            operation: arp::Operation::Reply,
            sender_hardware_addr: EthernetAddress(mac),
            sender_protocol_addr: ip,
            target_hardware_addr: EthernetAddress(client_mac),
            target_protocol_addr: client_ip,
        };
        let _ = port.link.send(&arp_frame(&reply, client_mac, mac)).await;
    }
}

fn eth_frame(dst: Mac, src: Mac, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; ethernet::HEADER_LEN + payload.len()];
    ethernet::Repr {
        dst_addr: EthernetAddress(dst),
        src_addr: EthernetAddress(src),
        ethertype,
    }
    .emit(&mut f);
    f[ethernet::HEADER_LEN..].copy_from_slice(payload);
    f
}

fn arp_frame(reply: &arp::Repr, dst: Mac, src: Mac) -> Vec<u8> {
    eth_frame(dst, src, ethernet::ethertype::ARP, &reply.to_bytes())
}
