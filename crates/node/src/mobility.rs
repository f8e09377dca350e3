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
use pmip_wire::registration::{RequestPacket, TYPE_REPLY, TYPE_REQUEST};
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
