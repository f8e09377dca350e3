//! The foreign agent role on Linux: packet sockets on each visited link
//! (requests and solicitations with the sender's MAC), advertisements and
//! replies sent straight to link-layer addresses, visitors installed in
//! the data plane (delivery by MAC, reverse tunnel by source rule).

use crate::home_agent::security_association;
use pmip_config::{Config, SaPeer};
use pmip_engine::foreign_agent::{ForeignAgentConfig, ServiceInterface, Visitor};
use pmip_engine::host_range::HostRanges;
use pmip_platform::dataplane::{DataPlane, Delivery};
use pmip_platform::netlink::Netlink;
use pmip_wire::ipv4::{self, protocol};
use pmip_wire::udp;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

/// Routing table whose default route is the TUN device: source rules put
/// reverse-tunnelled visitors' packets there (RFC 3024).
pub const REVERSE_TUNNEL_TABLE: u32 = 4340;

pub fn engine_config(config: &Config) -> ForeignAgentConfig {
    let fa = config.mobile.foreign_agent.clone().unwrap_or_default();
    let ha = crate::home_agent::engine_config(config);
    let care_of_address = fa
        .care_of
        .iter()
        .find_map(|n| {
            config
                .interface(n)
                .and_then(|i| i.address.as_ref())
                .map(|a| a.address)
        })
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let interfaces = config
        .interfaces
        .iter()
        .filter_map(|i| {
            let fs = i.foreign_service.as_ref()?;
            let a = i.address.as_ref()?;
            let irdp = &i.irdp;
            Some(ServiceInterface {
                name: i.name.clone(),
                address: a.address,
                prefix_len: a.prefix_len(),
                registration_lifetime: i.registration_lifetime().min(u32::from(u16::MAX)) as u16,
                registration_required: fs.registration_required,
                reverse_tunnel: fs.reverse_tunnel,
                reverse_tunnel_mandatory: fs.reverse_tunnel_mandatory,
                advertise: irdp.enabled,
                min_advert_interval: Duration::from_secs(u64::from(irdp.min_advert_interval())),
                max_advert_interval: Duration::from_secs(u64::from(irdp.max_advert_interval())),
                holdtime: irdp.holdtime().min(u32::from(u16::MAX)) as u16,
                home_agent: config.is_home_agent()
                    && ha.networks.iter().any(|n| n.interface == i.name),
                visitor_limit: fs.limit.map(|l| l as usize),
            })
        })
        .collect();
    let mut home_agent_sas = HashMap::new();
    let mut visitor_sas = HostRanges::new();
    for e in &config.mobile.secure {
        match e.peer {
            SaPeer::HomeAgent => {
                let (lo, hi) = (u32::from(e.range.low), u32::from(e.range.high));
                for a in lo..=hi.min(lo.saturating_add(1023)) {
                    home_agent_sas.insert(Ipv4Addr::from(a), security_association(&e.sa));
                }
            }
            SaPeer::Visitor => {
                let _ = visitor_sas.insert(e.range.low, e.range.high, security_association(&e.sa));
            }
            _ => {}
        }
    }
    ForeignAgentConfig {
        interfaces,
        care_of_address,
        reg_wait: Duration::from_secs(u64::from(fa.reg_wait)),
        home_agent_sas,
        visitor_sas,
        bind_update: config.mobile.bindupdate,
        max_pending: 4096,
    }
}

/// An IPv4 packet carrying `payload` in UDP from `src:434` to `dst`.
pub fn udp_packet(src: Ipv4Addr, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let u = udp::Repr {
        src_port: udp::MOBILE_IP_PORT,
        dst_port: dst.port(),
        payload_len: payload.len(),
    };
    let ip = ipv4::Repr::new(src, *dst.ip(), protocol::UDP, 64, u.buffer_len());
    let mut pkt = vec![0u8; ip.buffer_len()];
    let mut p = ipv4::Packet::new_unchecked(&mut pkt[..]);
    ip.emit(&mut p);
    let body = p.payload_mut();
    body[udp::HEADER_LEN..].copy_from_slice(payload);
    u.emit(&mut udp::Packet::new_unchecked(body), src, *dst.ip());
    pkt
}

/// An IPv4 packet carrying an ICMP message, TTL 1 (RFC 1256: router
/// discovery messages stay on the link).
pub fn icmp_packet(src: Ipv4Addr, dst: Ipv4Addr, icmp: &[u8]) -> Vec<u8> {
    let ip = ipv4::Repr::new(src, dst, protocol::ICMP, 1, icmp.len());
    let mut pkt = vec![0u8; ip.buffer_len()];
    let mut p = ipv4::Packet::new_unchecked(&mut pkt[..]);
    ip.emit(&mut p);
    p.payload_mut().copy_from_slice(icmp);
    pkt
}

/// The link-layer destination for an IPv4 destination on the link.
pub fn link_destination(dst: Ipv4Addr, known: &HashMap<Ipv4Addr, [u8; 6]>) -> [u8; 6] {
    if dst.is_multicast() {
        let o = dst.octets();
        [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
    } else {
        known.get(&dst).copied().unwrap_or([0xff; 6])
    }
}

/// Installs and removes visitors in the data plane and the kernel.
pub struct VisitorInstaller {
    pub netlink: Arc<Netlink>,
    pub dataplane: DataPlane,
    pub care_of_address: Ipv4Addr,
    pub ifindex: HashMap<String, u32>,
}

impl VisitorInstaller {
    pub async fn up(&self, v: &Visitor) {
        let Some(&ifindex) = self.ifindex.get(&v.interface) else {
            return;
        };
        self.dataplane.add_visitor(
            v.home_address,
            self.care_of_address,
            v.home_agent,
            Delivery::Link {
                ifindex,
                mac: v.mac,
            },
            v.reverse_tunnel.then_some(v.encapsulation),
        );
        if v.reverse_tunnel {
            if let Err(e) = self
                .netlink
                .add_source_rule(v.home_address, REVERSE_TUNNEL_TABLE)
                .await
            {
                tracing::error!(home = %v.home_address, error = %e, "could not route the visitor into the reverse tunnel");
            }
        } else {
            let _ = self
                .netlink
                .del_source_rule(v.home_address, REVERSE_TUNNEL_TABLE)
                .await;
        }
        tracing::info!(home = %v.home_address, ha = %v.home_agent, "visitor registered");
    }

    pub async fn down(&self, v: &Visitor) {
        self.dataplane.remove_visitor(v.home_address);
        if v.reverse_tunnel {
            let _ = self
                .netlink
                .del_source_rule(v.home_address, REVERSE_TUNNEL_TABLE)
                .await;
        }
        tracing::info!(home = %v.home_address, "visitor removed");
    }
}
