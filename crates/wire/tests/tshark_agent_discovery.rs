//! Agent advertisements and solicitations, and ARP, as tshark decodes
//! them (its `icmp` and `arp` dissectors).

mod common;

use arrayvec::ArrayVec;
use pmip_wire::arp;
use pmip_wire::ethernet::{self, EthernetAddress};
use pmip_wire::icmp::{Advertisement, AdvertisementExtension, AgentFlags, MobilityAgent, Repr};
use std::net::Ipv4Addr;

const FA: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const ALL_SYSTEMS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);

fn b(x: bool) -> &'static str {
    if x { "1" } else { "0" }
}

fn advertisement(coas: &[Ipv4Addr], flags: AgentFlags, prefix: bool, pad: bool) -> Vec<u8> {
    let mut routers = ArrayVec::new();
    routers.push((FA, 0));
    let mut extensions = ArrayVec::new();
    extensions.push(AdvertisementExtension::MobilityAgent(MobilityAgent {
        sequence: 257,
        registration_lifetime: 600,
        flags,
        care_of_addresses: coas.iter().copied().collect(),
    }));
    if prefix {
        let mut p = ArrayVec::new();
        p.push(24);
        extensions.push(AdvertisementExtension::PrefixLengths(p));
    }
    if pad {
        extensions.push(AdvertisementExtension::Padding);
    }
    Repr::Advertisement(Advertisement {
        code: 0,
        lifetime: 1800,
        routers,
        extensions,
    })
    .to_vec()
}

const FIELDS: &[&str] = &[
    "icmp.type",
    "icmp.code",
    "icmp.checksum.status",
    "icmp.num_addrs",
    "icmp.addr_entry_size",
    "icmp.lifetime",
    "icmp.router_address",
    "icmp.pref_level",
    "icmp.mip.type",
    "icmp.mip.length",
    "icmp.mip.seq",
    "icmp.mip.life",
    "icmp.mip.r",
    "icmp.mip.b",
    "icmp.mip.h",
    "icmp.mip.f",
    "icmp.mip.m",
    "icmp.mip.g",
    "icmp.mip.v",
    "icmp.mip.rt",
    "icmp.mip.u",
    "icmp.mip.x",
    "icmp.mip.coa",
    "icmp.mip.prefixlength",
];

#[test]
fn agent_advertisements() {
    let c1 = Ipv4Addr::new(198, 51, 100, 1);
    let c2 = Ipv4Addr::new(198, 51, 100, 2);
    let cases: [(&[Ipv4Addr], u16, bool, bool); 4] = [
        (&[], 0x2000, false, false),              // H only, no care-of address
        (&[c1], 0x9500, true, false),             // R F G T
        (&[c1, c2], 0x5800 | 0x00c0, true, true), // B F M U X
        (&[c1], !0x0200, false, true),            // everything but r
    ];
    let frames: Vec<Vec<u8>> = cases
        .iter()
        .map(|(coas, flags, prefix, pad)| {
            common::eth_ipv4(
                FA,
                ALL_SYSTEMS,
                1,
                &advertisement(coas, AgentFlags::from_bits(*flags), *prefix, *pad),
            )
        })
        .collect();
    let rows = common::tshark_fields(&frames, FIELDS);
    for ((coas, bits, prefix, _), row) in cases.iter().zip(rows) {
        let f: std::collections::HashMap<&str, &str> = FIELDS
            .iter()
            .copied()
            .zip(row.iter().map(String::as_str))
            .collect();
        let flags = AgentFlags::from_bits(*bits);
        assert_eq!(f["icmp.type"], "9");
        assert_eq!(f["icmp.code"], "0");
        assert_eq!(
            f["icmp.checksum.status"], "1",
            "tshark verifies our checksum"
        );
        assert_eq!(f["icmp.num_addrs"], "1");
        assert_eq!(f["icmp.addr_entry_size"], "2");
        assert_eq!(f["icmp.lifetime"], "1800");
        assert_eq!(f["icmp.router_address"], FA.to_string());
        assert_eq!(f["icmp.pref_level"], "0");
        let types = if *prefix { "16,19" } else { "16" };
        assert!(
            f["icmp.mip.type"].starts_with(types),
            "{}",
            f["icmp.mip.type"]
        );
        assert!(f["icmp.mip.length"].starts_with(&(6 + 4 * coas.len()).to_string()));
        assert_eq!(f["icmp.mip.seq"], "257");
        assert_eq!(f["icmp.mip.life"], "600");
        assert_eq!(f["icmp.mip.r"], b(flags.registration_required), "{bits:#x}");
        assert_eq!(f["icmp.mip.b"], b(flags.busy), "{bits:#x}");
        assert_eq!(f["icmp.mip.h"], b(flags.home_agent), "{bits:#x}");
        assert_eq!(f["icmp.mip.f"], b(flags.foreign_agent), "{bits:#x}");
        assert_eq!(f["icmp.mip.m"], b(flags.minimal_encapsulation), "{bits:#x}");
        assert_eq!(f["icmp.mip.g"], b(flags.gre), "{bits:#x}");
        assert_eq!(f["icmp.mip.v"], b(flags.r), "{bits:#x}");
        assert_eq!(f["icmp.mip.rt"], b(flags.reverse_tunnel), "{bits:#x}");
        assert_eq!(f["icmp.mip.u"], b(flags.udp_tunnel), "{bits:#x}");
        assert_eq!(f["icmp.mip.x"], b(flags.revocation), "{bits:#x}");
        let want: Vec<String> = coas.iter().map(|c| c.to_string()).collect();
        assert_eq!(f["icmp.mip.coa"], want.join(","));
        if *prefix {
            assert_eq!(f["icmp.mip.prefixlength"], "24");
        }
    }
}

#[test]
fn agent_solicitation() {
    let sol = Repr::Solicitation { reserved: 0 }.to_vec();
    let f = common::tshark_one(
        common::eth_ipv4(
            Ipv4Addr::new(198, 51, 100, 10),
            Ipv4Addr::new(224, 0, 0, 2),
            1,
            &sol,
        ),
        &["icmp.type", "icmp.code", "icmp.checksum.status"],
    );
    assert_eq!(
        (f["icmp.type"].as_str(), f["icmp.code"].as_str()),
        ("10", "0")
    );
    assert_eq!(f["icmp.checksum.status"], "1");
}

#[test]
fn arp_frames() {
    let mac = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
    let home = Ipv4Addr::new(10, 1, 0, 50);
    let mut frames = Vec::new();
    for body in arp::gratuitous(mac, home) {
        let mut f = vec![0u8; ethernet::HEADER_LEN + body.len()];
        ethernet::Repr {
            dst_addr: EthernetAddress::BROADCAST,
            src_addr: mac,
            ethertype: ethernet::ethertype::ARP,
        }
        .emit(&mut f);
        f[ethernet::HEADER_LEN..].copy_from_slice(&body);
        frames.push(f);
    }
    let rows = common::tshark_fields(
        &frames,
        &[
            "eth.src",
            "eth.dst",
            "arp.opcode",
            "arp.src.hw_mac",
            "arp.src.proto_ipv4",
            "arp.dst.proto_ipv4",
            "arp.isgratuitous",
        ],
    );
    for (row, op) in rows.iter().zip(["1", "2"]) {
        assert_eq!(row[0], "02:00:00:00:00:01");
        assert_eq!(row[1], "ff:ff:ff:ff:ff:ff");
        assert_eq!(row[2], op);
        assert_eq!(row[3], "02:00:00:00:00:01");
        assert_eq!(row[4], "10.1.0.50");
        assert_eq!(row[5], "10.1.0.50");
        assert!(
            row[6] == "1" || row[6] == "True",
            "tshark sees it as gratuitous: {row:?}"
        );
    }
}
