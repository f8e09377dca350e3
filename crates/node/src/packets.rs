//! Packets and frames the node writes whole: IPv4 around its UDP and
//! ICMP messages, Ethernet around what the AP sends on its links, ARP
//! answers, and the AAP's home agent liveness probe.

use crate::Mac;
use pmip_engine::time::Now;
use pmip_wire::arp;
use pmip_wire::auth::Algorithm;
use pmip_wire::ethernet::{self, EthernetAddress};
use pmip_wire::extension::{self, Extensions, kind};
use pmip_wire::identification::Identification;
use pmip_wire::ipv4::{self, protocol};
use pmip_wire::registration::{RequestFlags, RequestRepr};
use pmip_wire::udp;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

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
pub fn link_destination(dst: Ipv4Addr, known: &BTreeMap<Ipv4Addr, Mac>) -> Mac {
    if dst.is_multicast() {
        let o = dst.octets();
        [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
    } else {
        known.get(&dst).copied().unwrap_or([0xff; 6])
    }
}

/// The AAP's home agent liveness probe (docs/subnet-map-exchange.md): a
/// deregistration of
/// the subnet's broadcast address, sent to that broadcast, with an MHAE
/// whose SPI no home agent has (SPI 0 is reserved, RFC 5944 1.6). A home
/// agent answers it with a denial (131, or 136 for a request to the
/// broadcast address): any answer shows it alive.
pub fn probe_request(broadcast: Ipv4Addr, now: Now) -> Vec<u8> {
    let mut msg = RequestRepr {
        flags: RequestFlags::default(),
        lifetime: 0,
        home_address: broadcast,
        home_agent: broadcast,
        care_of_address: broadcast,
        identification: Identification::from_unix(now.unix),
        extensions: Extensions::new(),
    }
    .to_vec();
    extension::append_authentication(
        &mut msg,
        kind::MOBILE_HOME_AUTH,
        0,
        Algorithm::HmacMd5,
        &[0; 16],
    );
    msg
}

/// An Ethernet frame from `src` to `dst` around `payload`.
pub fn eth_frame(dst: Mac, src: Mac, ethertype: u16, payload: &[u8]) -> Vec<u8> {
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

/// An ARP message in a frame from `src` to `dst`.
pub fn arp_frame(reply: &arp::Repr, dst: Mac, src: Mac) -> Vec<u8> {
    eth_frame(dst, src, ethernet::ethertype::ARP, &reply.to_bytes())
}
