//! The tshark harness itself: our IPv4 and UDP headers as tshark sees them.
mod common;

use std::net::Ipv4Addr;

#[test]
fn tshark_reads_our_ipv4_and_udp() {
    let f = common::eth_udp(
        Ipv4Addr::new(10, 1, 0, 5),
        Ipv4Addr::new(10, 2, 0, 1),
        4000,
        5000,
        b"hello",
    );
    let m = common::tshark_one(
        f,
        &[
            "ip.src",
            "ip.dst",
            "ip.checksum.status",
            "udp.srcport",
            "udp.dstport",
            "udp.length",
            "udp.checksum.status",
        ],
    );
    assert_eq!(m["ip.src"], "10.1.0.5");
    assert_eq!(m["ip.dst"], "10.2.0.1");
    assert_eq!(m["udp.srcport"], "4000");
    assert_eq!(m["udp.dstport"], "5000");
    assert_eq!(m["udp.length"], "13");
    // tshark verifies both checksums: 1 = good.
    assert_eq!(m["ip.checksum.status"], "1");
    assert_eq!(m["udp.checksum.status"], "1");
}
