//! The router roles: home agent and foreign agent, which one process may
//! play together (one port 434, one tunnel device). Sorts port 434
//! traffic between them and turns their actions into outputs.

use crate::packets;
use crate::{Install, Mac, Output, REGISTRATION_PORT, Role, SaLookup, Transmit};
use pmip_config::Config;
use pmip_engine::foreign_agent::{self as fa, ForeignAgent, FromVisitor};
use pmip_engine::home_agent::{self as ha, HomeAgent};
use pmip_engine::time::{Instant, Now};
use pmip_wire::binding_update::TYPE_BINDING_UPDATE;
use pmip_wire::icmp;
use pmip_wire::ipv4::{self, protocol};
use pmip_wire::registration::{ReplyCode, ReplyPacket, RequestPacket, TYPE_REPLY, TYPE_REQUEST};
use pmip_wire::udp;
use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

/// The home agent and what it fetched from the AAA server.
pub(crate) struct HomeAgentRole {
    pub engine: HomeAgent,
    /// Associations fetched from RADIUS: SPI, server, when.
    pub aaa_sas: BTreeMap<Ipv4Addr, (u32, SocketAddrV4, Instant)>,
}

/// The foreign agent and the link-layer addresses of hosts that
/// solicited, to answer them (RFC 1256 3.4: unicast to the solicitor).
pub(crate) struct ForeignAgentRole {
    pub engine: ForeignAgent,
    pub solicitors: BTreeMap<Ipv4Addr, Mac>,
}

pub(crate) struct Mobility {
    pub home_agent: Option<HomeAgentRole>,
    pub foreign_agent: Option<ForeignAgentRole>,
}

impl Mobility {
    pub fn new(config: &Config) -> Mobility {
        Mobility {
            home_agent: config.is_home_agent().then(|| HomeAgentRole {
                engine: HomeAgent::new(crate::config::home_agent(config)),
                aaa_sas: BTreeMap::new(),
            }),
            foreign_agent: config.is_foreign_agent().then(|| ForeignAgentRole {
                engine: ForeignAgent::new(crate::config::foreign_agent(config)),
                solicitors: BTreeMap::new(),
            }),
        }
    }

    pub fn set_config(&mut self, config: &Config) {
        if let Some(h) = &mut self.home_agent {
            h.engine.set_config(crate::config::home_agent(config));
        }
        if let Some(f) = &mut self.foreign_agent {
            f.engine.set_config(crate::config::foreign_agent(config));
        }
    }

    pub fn sockets(&self) -> Vec<SocketAddrV4> {
        let mut unicast: Vec<Ipv4Addr> = Vec::new();
        let mut broadcast = Vec::new();
        if let Some(h) = &self.home_agent {
            unicast.extend(h.engine.config().networks.iter().map(|n| n.address));
            broadcast.extend(h.engine.config().networks.iter().map(|n| n.broadcast()));
        }
        if let Some(f) = &self.foreign_agent {
            let coa = f.engine.config().care_of_address;
            if !coa.is_unspecified() && !unicast.contains(&coa) {
                unicast.push(coa);
            }
        }
        unicast
            .into_iter()
            .chain(broadcast)
            .map(|a| SocketAddrV4::new(a, REGISTRATION_PORT))
            .collect()
    }

    pub fn visited_interfaces(&self) -> Vec<String> {
        self.foreign_agent
            .as_ref()
            .map(|f| {
                f.engine
                    .config()
                    .interfaces
                    .iter()
                    .map(|i| i.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A datagram on port 434. Replies and Binding Updates are for the
    /// foreign agent, requests and Binding Acknowledges for the home
    /// agent. A request to our care-of address that names another home
    /// agent came from a visitor: the foreign agent has it from the
    /// visited link already (RFC 5944 3.7.2 relays what it hears there).
    pub fn datagram(
        &mut self,
        now: Now,
        local: SocketAddrV4,
        remote: SocketAddrV4,
        payload: &[u8],
        out: &mut VecDeque<Output>,
    ) -> Result<(), &'static str> {
        let kind = *payload.first().ok_or("empty datagram on port 434")?;
        let dst = *local.ip();
        if kind == TYPE_REQUEST
            && let Some(f) = &self.foreign_agent
            && f.engine.config().care_of_address == dst
        {
            // An unreadable one goes to the home agent, which counts it.
            let names_us = RequestPacket::new_checked(payload)
                .map(|p| p.home_agent() == dst)
                .unwrap_or(true);
            if !names_us {
                return Ok(());
            }
        }
        let for_fa = kind == TYPE_REPLY || kind == TYPE_BINDING_UPDATE || self.home_agent.is_none();
        if for_fa {
            let f = self
                .foreign_agent
                .as_mut()
                .ok_or("no role for this datagram")?;
            if kind == TYPE_REQUEST {
                return Err("registration request to a foreign agent's network side");
            }
            let mut actions = Vec::new();
            f.engine
                .handle_from_network(now, remote, payload, &mut actions);
            fa_outputs(f, actions, out);
        } else if let Some(h) = &mut self.home_agent {
            let mut actions = Vec::new();
            h.engine
                .handle_datagram(now, remote, dst, payload, &mut actions);
            ha_outputs(actions, out);
        }
        Ok(())
    }

    /// A packet from a visited link: a registration request or an agent
    /// solicitation (the platform's filter lets nothing else up).
    pub fn visited_packet(
        &mut self,
        now: Now,
        interface: &str,
        mac: Mac,
        packet: &[u8],
        out: &mut VecDeque<Output>,
    ) -> Result<(), &'static str> {
        let ours = |a: Ipv4Addr| {
            self.home_agent
                .as_ref()
                .is_some_and(|h| h.engine.config().networks.iter().any(|n| n.address == a))
        };
        let ip = ipv4::Packet::new_checked(packet).map_err(|_| "malformed IPv4 packet")?;
        if ip.protocol() == protocol::UDP
            && let Ok(u) = udp::Packet::new_checked(ip.payload())
            && let Ok(r) = RequestPacket::new_checked(u.payload())
            && ours(r.home_agent())
        {
            // A request to us as its home agent (a node at home, or
            // deregistering): our home agent's socket has it.
            return Ok(());
        }
        let f = self
            .foreign_agent
            .as_mut()
            .ok_or("visited-link packet without a foreign agent")?;
        let src = ip.src_addr();
        if !for_foreign_agent(&f.engine, interface, ip.dst_addr()) {
            // Port 434 traffic that merely crosses the link (a request
            // straight to a home agent, ours included: our own socket
            // has it) is not the foreign agent's to answer.
            return Ok(());
        }
        let mut actions = Vec::new();
        match ip.protocol() {
            protocol::UDP => {
                let u = udp::Packet::new_checked(ip.payload()).map_err(|_| "malformed UDP")?;
                f.engine.handle_from_visitor(
                    now,
                    FromVisitor {
                        interface,
                        mac,
                        src: SocketAddrV4::new(src, u.src_port()),
                        payload: u.payload(),
                    },
                    &mut actions,
                );
            }
            protocol::ICMP if ip.payload().first() == Some(&icmp::TYPE_ROUTER_SOLICITATION) => {
                if !src.is_unspecified() {
                    f.solicitors.insert(src, mac);
                }
                f.engine
                    .handle_solicitation(now, interface, src, &mut actions);
            }
            _ => return Err("visited-link packet that is neither UDP nor a solicitation"),
        }
        fa_outputs(f, actions, out);
        Ok(())
    }

    pub fn sa_result(
        &mut self,
        now: Now,
        home: Ipv4Addr,
        result: SaLookup,
        out: &mut VecDeque<Output>,
    ) {
        let Some(h) = &mut self.home_agent else {
            return;
        };
        let result = result.map(|(sa, server)| {
            h.aaa_sas.insert(home, (sa.spi, server, now.instant));
            sa
        });
        let mut actions = Vec::new();
        h.engine.sa_result(now, home, result, &mut actions);
        ha_outputs(actions, out);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let h = self
            .home_agent
            .as_ref()
            .and_then(|h| h.engine.poll_timeout());
        let f = self
            .foreign_agent
            .as_ref()
            .and_then(|f| f.engine.poll_timeout());
        h.into_iter().chain(f).min()
    }

    pub fn handle_timeout(&mut self, now: Now, out: &mut VecDeque<Output>) {
        if let Some(h) = &mut self.home_agent
            && h.engine.poll_timeout().is_some_and(|t| t <= now.instant)
        {
            let mut actions = Vec::new();
            h.engine.handle_timeout(now, &mut actions);
            ha_outputs(actions, out);
        }
        if let Some(f) = &mut self.foreign_agent
            && f.engine.poll_timeout().is_some_and(|t| t <= now.instant)
        {
            let mut actions = Vec::new();
            f.engine.handle_timeout(now, &mut actions);
            fa_outputs(f, actions, out);
        }
    }

    /// `clear ip mobile traffic`: both agents' counters to zero; false
    /// when neither runs.
    pub fn clear_counters(&mut self) -> bool {
        if let Some(h) = &mut self.home_agent {
            h.engine.clear_counters();
        }
        if let Some(f) = &mut self.foreign_agent {
            f.engine.clear_counters();
        }
        self.home_agent.is_some() || self.foreign_agent.is_some()
    }

    /// `clear ip mobile binding [ADDR]`.
    pub fn clear_bindings(
        &mut self,
        which: Option<Ipv4Addr>,
        out: &mut VecDeque<Output>,
    ) -> Option<usize> {
        let h = self.home_agent.as_mut()?;
        let mut actions = Vec::new();
        let n = h.engine.clear_bindings(which, &mut actions);
        ha_outputs(actions, out);
        Some(n)
    }

    /// `clear ip mobile visitor [ADDR]`.
    pub fn clear_visitors(
        &mut self,
        which: Option<Ipv4Addr>,
        out: &mut VecDeque<Output>,
    ) -> Option<usize> {
        let f = self.foreign_agent.as_mut()?;
        let mut actions = Vec::new();
        let n = f.engine.clear_visitors(which, &mut actions);
        fa_outputs(f, actions, out);
        Some(n)
    }
}

pub(crate) fn ha_outputs(actions: Vec<ha::Action>, out: &mut VecDeque<Output>) {
    for a in actions {
        out.push_back(match a {
            ha::Action::Send { from, to, payload } => Output::Transmit(Transmit::Udp {
                local: SocketAddrV4::new(from, REGISTRATION_PORT),
                remote: to,
                payload,
            }),
            ha::Action::FetchSa { home } => Output::FetchSa {
                role: Role::HomeAgent,
                home,
            },
            ha::Action::BindingUp {
                binding,
                interface,
                first,
            } => Output::Install(Install::BindingUp {
                binding,
                interface,
                first,
            }),
            ha::Action::BindingRenewed { binding } => {
                Output::Install(Install::BindingRenewed { binding })
            }
            ha::Action::BindingDown {
                binding,
                interface,
                last,
            } => Output::Install(Install::BindingDown {
                binding,
                interface,
                last,
            }),
        });
    }
}

pub(crate) fn fa_outputs(
    f: &ForeignAgentRole,
    actions: Vec<fa::Action>,
    out: &mut VecDeque<Output>,
) {
    for a in actions {
        out.push_back(match a {
            fa::Action::SendToVisitor {
                interface,
                mac,
                from,
                to,
                payload,
            } => Output::Transmit(Transmit::Packet {
                interface,
                mac,
                packet: packets::udp_packet(from, to, &payload),
            }),
            fa::Action::SendToNetwork { from, to, payload } => Output::Transmit(Transmit::Udp {
                local: SocketAddrV4::new(from, REGISTRATION_PORT),
                remote: to,
                payload,
            }),
            fa::Action::Advertise {
                interface,
                from,
                to,
                payload,
            } => Output::Transmit(Transmit::Packet {
                interface,
                mac: packets::link_destination(to, &f.solicitors),
                packet: packets::icmp_packet(from, to, &payload),
            }),
            fa::Action::VisitorUp(v) => Output::Install(Install::VisitorUp(v)),
            fa::Action::VisitorDown(v) => Output::Install(Install::VisitorDown(v)),
            fa::Action::VisitorRenewed(v) => Output::Install(Install::VisitorRenewed(v)),
        });
    }
}

/// Whether a packet on visited link `interface` is addressed to the
/// foreign agent: its address on that link, its care-of address, the
/// all-mobility-agents group (RFC 5944 3.6.1.1), or a broadcast.
fn for_foreign_agent(fa: &ForeignAgent, interface: &str, dst: Ipv4Addr) -> bool {
    let cfg = fa.config();
    let Some(intf) = cfg.interfaces.iter().find(|i| i.name == interface) else {
        return false;
    };
    let mask = u32::MAX
        .checked_shl(32 - u32::from(intf.prefix_len))
        .unwrap_or(0);
    let directed = Ipv4Addr::from(u32::from(intf.address) | !mask);
    dst == intf.address
        || dst == cfg.care_of_address
        || dst == Ipv4Addr::new(224, 0, 0, 11)
        || dst == Ipv4Addr::new(224, 0, 0, 2)
        || dst == Ipv4Addr::BROADCAST
        || dst == directed
}

/// `debug ip mobile ...` and `debug ip proxy-mobile`: what is on, and the
/// trace lines waiting for the driver (docs/operator-interface.md).
/// Nothing is looked at while everything is off (one bool per input).
#[derive(Debug, Default)]
pub(crate) struct Debug {
    /// `debug ip mobile`: registrations, bindings, visitors.
    pub mobile: bool,
    /// `debug ip mobile advertise`: advertisements and solicitations.
    pub advertise: bool,
    /// `debug ip mobile host ADDR|ACL`: registrations of these hosts only.
    pub host: Option<HostFilter>,
    /// Accepted as on IOS; nothing here does local-area mobility or
    /// home agent redundancy, so they trace nothing.
    pub local_area: bool,
    pub redundancy: bool,
    /// `debug ip proxy-mobile`: the AP's station decisions and subnet map.
    pub proxy: bool,
    lines: VecDeque<String>,
    /// The second of the rate window, lines in it, lines dropped in it.
    window: u64,
    in_window: u32,
    suppressed: u64,
}

/// The hosts `debug ip mobile host` traces: one address, or those a
/// standard access list permits (looked up again at each `configure`).
#[derive(Debug, Clone)]
pub(crate) enum HostFilter {
    Address(Ipv4Addr),
    Acl {
        name: String,
        /// `None`: no such list, or only remarks; then every host is
        /// traced, as a missing list restricts nothing in IOS.
        list: Option<pmip_config::AccessList>,
    },
}

impl HostFilter {
    pub fn acl(name: &str, config: &Config) -> HostFilter {
        HostFilter::Acl {
            name: name.to_owned(),
            list: config.access_list(name).filter(|l| l.has_rules()).cloned(),
        }
    }

    fn matches(&self, a: Ipv4Addr) -> bool {
        match self {
            HostFilter::Address(x) => *x == a,
            HostFilter::Acl { list: Some(l), .. } => l.permits(a),
            HostFilter::Acl { list: None, .. } => true,
        }
    }
}

impl std::fmt::Display for HostFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostFilter::Address(a) => write!(f, "{a}"),
            HostFilter::Acl { name, list } => write!(
                f,
                "access list {name}{}",
                if list.is_none() {
                    " (not configured: every host)"
                } else {
                    ""
                }
            ),
        }
    }
}

/// Trace lines waiting at most; beyond, they are counted as suppressed.
pub(crate) const DEBUG_QUEUE: usize = 1024;
/// Trace lines a second at most, so a flood cannot stall the daemon or
/// its log.
pub(crate) const DEBUG_LINES_PER_SECOND: u32 = 200;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// IOS's debug timestamp, `Nov 28 12:00:01.123` (UTC).
fn stamp(unix: std::time::Duration) -> String {
    let s = unix.as_secs();
    let (_, m, d) = crate::snapshot::civil(s / 86400);
    format!(
        "{} {d:2} {:02}:{:02}:{:02}.{:03}",
        MONTHS[(m as usize).saturating_sub(1) % 12],
        s / 3600 % 24,
        s / 60 % 60,
        s % 60,
        unix.subsec_millis()
    )
}

/// IOS's `sbdmgvt` letters of a request's flags, upper case when set.
fn request_flags(f: pmip_wire::registration::RequestFlags) -> String {
    let c = |set: bool, l: char| if set { l.to_ascii_uppercase() } else { l };
    [
        c(f.simultaneous, 's'),
        c(f.broadcast, 'b'),
        c(f.decapsulation_by_mn, 'd'),
        c(f.minimal_encapsulation, 'm'),
        c(f.gre, 'g'),
        'v',
        c(f.reverse_tunnel, 't'),
    ]
    .iter()
    .collect()
}

/// A registration request's line, or `None` when it is not one.
fn request_line(role: &str, payload: &[u8], place: &str) -> Option<(Ipv4Addr, String)> {
    let p = RequestPacket::new_checked(payload).ok()?;
    if p.msg_type() != TYPE_REQUEST {
        return None;
    }
    Some((
        p.home_address(),
        format!(
            "MobileIP: {role} received registration for MN {} {place} using COA {} HA {} lifetime {} options {}",
            p.home_address(),
            p.care_of_address(),
            p.home_agent(),
            p.lifetime(),
            request_flags(p.flags())
        ),
    ))
}

fn reply_of(payload: &[u8]) -> Option<(Ipv4Addr, ReplyCode, u16)> {
    let p = ReplyPacket::new_checked(payload).ok()?;
    (p.msg_type() == TYPE_REPLY).then(|| (p.home_address(), p.code(), p.lifetime()))
}

/// The line of an agent advertisement (RFC 5944 2.1) sent out
/// `interface`.
fn advertisement_line(interface: &str, packet: &[u8]) -> Option<String> {
    let ip = ipv4::Packet::new_checked(packet).ok()?;
    let icmp_packet = icmp::Packet::new_checked(ip.payload()).ok()?;
    let icmp::Repr::Advertisement(a) = icmp::Repr::parse(&icmp_packet).ok()? else {
        return None;
    };
    let m = a.mobility_agent()?;
    let f = m.flags;
    let c = |set: bool, l: char| if set { l.to_ascii_uppercase() } else { l };
    let letters: String = [
        c(f.registration_required, 'r'),
        c(f.busy, 'b'),
        c(f.home_agent, 'h'),
        c(f.foreign_agent, 'f'),
        c(f.minimal_encapsulation, 'm'),
        c(f.gre, 'g'),
        c(f.reverse_tunnel, 't'),
    ]
    .iter()
    .collect();
    let coas: Vec<String> = m.care_of_addresses.iter().map(|a| a.to_string()).collect();
    Some(format!(
        "MobileIP: Agent advertisement sent out {interface} to {}: seq={}, lifetime={}, flags=0x{:04x}({letters}), Care-of address: {}{}",
        ip.dst_addr(),
        m.sequence,
        m.registration_lifetime,
        f.bits(),
        coas.join(" "),
        a.prefix_lengths()
            .map_or(String::new(), |p| format!(", Prefix Length ext: {p:?}"))
    ))
}

impl Debug {
    /// Whether any trace is on (the one check made per input).
    pub fn any(&self) -> bool {
        self.mobile || self.advertise || self.host.is_some() || self.proxy
    }

    fn registrations(&self) -> bool {
        self.mobile || self.host.is_some()
    }

    /// After `configure`: the access list of `debug ip mobile host ACL`
    /// as it is now.
    pub fn refresh(&mut self, config: &Config) {
        if let Some(HostFilter::Acl { name, .. }) = &self.host {
            self.host = Some(HostFilter::acl(&name.clone(), config));
        }
    }

    pub fn off(&mut self) {
        let lines = std::mem::take(&mut self.lines);
        *self = Debug::default();
        self.lines = lines;
    }

    /// `show debugging`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let mobile: Vec<String> = [
            (self.mobile, "Mobile IP debugging is on".to_owned()),
            (
                self.advertise,
                "Mobile IP agent advertisement debugging is on".to_owned(),
            ),
            (
                self.host.is_some(),
                format!(
                    "Mobile IP host {} debugging is on",
                    self.host.as_ref().map_or(String::new(), |h| h.to_string())
                ),
            ),
            (
                self.local_area,
                "Mobile IP local area debugging is on".to_owned(),
            ),
            (
                self.redundancy,
                "Mobile IP redundancy debugging is on".to_owned(),
            ),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, l)| l)
        .collect();
        if !mobile.is_empty() {
            s.push_str("IP Mobility:\n");
            for l in mobile {
                s.push_str(&format!("  {l}\n"));
            }
        }
        if self.proxy {
            s.push_str("Proxy Mobile IP:\n  Proxy Mobile IP debugging is on\n");
        }
        s
    }

    /// Queues one line, within the rate and the queue's bound; a line
    /// about a host other than `debug ip mobile host`'s is left out.
    pub fn line(&mut self, now: Now, host: Option<Ipv4Addr>, text: String) {
        if let (Some(only), Some(h)) = (&self.host, host)
            && !only.matches(h)
            && !self.mobile
        {
            return;
        }
        let second = now.instant.since_origin().as_secs();
        if second != self.window {
            self.window = second;
            self.in_window = 0;
            if self.suppressed > 0 && self.lines.len() < DEBUG_QUEUE {
                let n = std::mem::take(&mut self.suppressed);
                self.lines.push_back(format!(
                    "{}: ... {n} debug line{} suppressed",
                    stamp(now.unix),
                    if n == 1 { "" } else { "s" }
                ));
            }
        }
        if self.in_window >= DEBUG_LINES_PER_SECOND || self.lines.len() >= DEBUG_QUEUE {
            self.suppressed += 1;
            return;
        }
        self.in_window += 1;
        self.lines.push_back(format!("{}: {text}", stamp(now.unix)));
    }

    pub fn pop(&mut self) -> Option<String> {
        self.lines.pop_front()
    }

    /// A datagram on port 434 before the agents take it.
    pub fn datagram(&mut self, now: Now, remote: SocketAddrV4, payload: &[u8]) {
        if !self.registrations() {
            return;
        }
        match payload.first() {
            Some(&TYPE_REQUEST) => {
                if let Some((home, l)) =
                    request_line("HA", payload, &format!("from {}", remote.ip()))
                {
                    self.line(now, Some(home), l);
                }
            }
            Some(&TYPE_REPLY) => {
                if let Some((home, code, lifetime)) = reply_of(payload) {
                    self.line(
                        now,
                        Some(home),
                        format!(
                            "MobileIP: FA received reply {code} for MN {home} from HA {}, lifetime {lifetime}",
                            remote.ip()
                        ),
                    );
                }
            }
            Some(&TYPE_BINDING_UPDATE) => self.line(
                now,
                None,
                format!(
                    "MobileIP: FA received a Binding Update from HA {}",
                    remote.ip()
                ),
            ),
            _ => {}
        }
    }

    /// A packet from a visited link before the foreign agent takes it.
    pub fn visited(&mut self, now: Now, interface: &str, packet: &[u8]) {
        let Ok(ip) = ipv4::Packet::new_checked(packet) else {
            return;
        };
        match ip.protocol() {
            protocol::UDP if self.registrations() => {
                if let Ok(u) = udp::Packet::new_checked(ip.payload())
                    && let Some((home, l)) =
                        request_line("FA", u.payload(), &format!("on {interface}"))
                {
                    self.line(now, Some(home), l);
                }
            }
            protocol::ICMP if self.advertise => self.line(
                now,
                None,
                format!(
                    "MobileIP: Agent solicitation received on {interface} from {}",
                    ip.src_addr()
                ),
            ),
            _ => {}
        }
    }

    /// What the agents decided: replies, relays, advertisements, binding
    /// and visitor changes.
    pub fn outputs<'a>(&mut self, now: Now, outputs: impl Iterator<Item = &'a Output>) {
        for o in outputs {
            match o {
                Output::Transmit(Transmit::Udp {
                    local,
                    remote,
                    payload,
                }) if local.port() == REGISTRATION_PORT && self.registrations() => {
                    if let Some((home, code, lifetime)) = reply_of(payload) {
                        let verdict = if code.is_accepted() {
                            "accepts"
                        } else {
                            "denies"
                        };
                        self.line(
                            now,
                            Some(home),
                            format!(
                                "MobileIP: HA {verdict} registration for MN {home}: {code}, lifetime {lifetime}; reply sent to {remote}"
                            ),
                        );
                    } else if payload.first() == Some(&TYPE_BINDING_UPDATE) {
                        self.line(
                            now,
                            None,
                            format!(
                                "MobileIP: HA sent a Binding Update to the previous FA {}",
                                remote.ip()
                            ),
                        );
                    } else if let Ok(p) = RequestPacket::new_checked(&payload[..])
                        && p.msg_type() == TYPE_REQUEST
                    {
                        self.line(
                            now,
                            Some(p.home_address()),
                            format!(
                                "MobileIP: MN {} - FA relayed registration to HA {}",
                                p.home_address(),
                                remote.ip()
                            ),
                        );
                    }
                }
                Output::Transmit(Transmit::Packet {
                    interface, packet, ..
                }) => {
                    let Ok(ip) = ipv4::Packet::new_checked(&packet[..]) else {
                        continue;
                    };
                    if ip.protocol() == protocol::ICMP {
                        if self.advertise
                            && let Some(l) = advertisement_line(interface, packet)
                        {
                            self.line(now, None, l);
                        }
                    } else if self.registrations()
                        && let Ok(u) = udp::Packet::new_checked(ip.payload())
                        && let Some((home, code, lifetime)) = reply_of(u.payload())
                    {
                        self.line(
                            now,
                            Some(home),
                            format!(
                                "MobileIP: MN {home} - FA sent reply {code}, lifetime {lifetime}, to MN on {interface}"
                            ),
                        );
                    }
                }
                Output::Install(i) if self.registrations() => {
                    let (home, l) = match i {
                        Install::BindingUp { binding: b, .. } => (
                            b.home_address,
                            format!(
                                "MobileIP: Mobility binding for MN {} created: care-of {}, lifetime {}",
                                b.home_address, b.care_of_address, b.lifetime
                            ),
                        ),
                        Install::BindingRenewed { binding: b } => (
                            b.home_address,
                            format!(
                                "MobileIP: Mobility binding for MN {} renewed: care-of {}, lifetime {}",
                                b.home_address, b.care_of_address, b.lifetime
                            ),
                        ),
                        Install::BindingDown {
                            binding: b, last, ..
                        } => (
                            b.home_address,
                            format!(
                                "MobileIP: Mobility binding for MN {} deleted: care-of {}{}",
                                b.home_address,
                                b.care_of_address,
                                if *last { ", the host is home" } else { "" }
                            ),
                        ),
                        Install::VisitorUp(v) => (
                            v.home_address,
                            format!(
                                "MobileIP: Visitor for MN {} created on {}: HA {}, lifetime {}",
                                v.home_address, v.interface, v.home_agent, v.lifetime
                            ),
                        ),
                        Install::VisitorRenewed(v) => (
                            v.home_address,
                            format!(
                                "MobileIP: Visitor for MN {} renewed: lifetime {}",
                                v.home_address, v.lifetime
                            ),
                        ),
                        Install::VisitorDown(v) => (
                            v.home_address,
                            format!("MobileIP: Visitor for MN {} deleted", v.home_address),
                        ),
                        _ => continue,
                    };
                    self.line(now, Some(home), l);
                }
                _ => {}
            }
        }
    }
}
