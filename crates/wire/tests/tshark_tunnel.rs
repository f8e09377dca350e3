//! Our IP-in-IP and GRE encapsulation as tshark decodes it.
mod common;

use pmip_wire::ipv4::protocol;
use pmip_wire::tunnel::{Encapsulation, Encapsulator};
use std::net::Ipv4Addr;

const HA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const COA: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 1);

fn tunnelled(enc: Encapsulation) -> Vec<u8> {
    let room = 14 + enc.overhead();
    let inner = common::eth_udp(
        Ipv4Addr::new(10, 9, 0, 9),
        Ipv4Addr::new(10, 1, 0, 50),
        7,
        9,
        b"hi",
    );
    let mut buf = vec![0u8; room];
    buf.extend_from_slice(&inner[14..]);
    let len = buf.len() - room;
    let r = Encapsulator::new(HA, COA, enc)
        .encapsulate(&mut buf, room, len, true)
        .unwrap();
    let outer = buf[r].to_vec();
    let mut frame = inner[..14].to_vec();
    frame.extend_from_slice(&outer);
    frame
}

#[test]
fn ipip_as_tshark_sees_it() {
    let m = common::tshark_one(
        tunnelled(Encapsulation::IpInIp),
        &[
            "ip.src",
            "ip.dst",
            "ip.proto",
            "ip.ttl",
            "ip.checksum.status",
            "udp.dstport",
        ],
    );
    // Two IP headers: outer then inner, joined by ','.
    assert_eq!(m["ip.src"], "10.1.0.1,10.9.0.9");
    assert_eq!(m["ip.dst"], "10.2.0.1,10.1.0.50");
    assert_eq!(
        m["ip.proto"],
        format!("{},{}", protocol::IPIP, protocol::UDP)
    );
    assert_eq!(m["ip.ttl"], "64,63", "outer TTL 64, inner decremented once");
    assert_eq!(m["ip.checksum.status"], "1,1");
    assert_eq!(m["udp.dstport"], "9");
}

#[test]
fn gre_key_and_sequence_as_tshark_sees_them() {
    let m = common::tshark_one(
        tunnelled(Encapsulation::Gre {
            key: Some(0x1234),
            sequence: true,
        }),
        &[
            "ip.proto",
            "gre.flags_and_version",
            "gre.key",
            "gre.sequence_number",
            "gre.proto",
            "ip.dst",
        ],
    );
    assert_eq!(
        m["ip.proto"],
        format!("{},{}", protocol::GRE, protocol::UDP)
    );
    assert_eq!(m["gre.flags_and_version"], "0x3000");
    assert_eq!(m["gre.key"], "0x00001234");
    assert_eq!(m["gre.sequence_number"], "0");
    assert_eq!(m["gre.proto"], "0x0800");
    assert_eq!(m["ip.dst"], "10.2.0.1,10.1.0.50");
}
