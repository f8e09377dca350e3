//! Registration messages as tshark's Mobile IP dissector (`mip`) decodes
//! them: every field we emit must read back the same in an independent
//! decoder. tshark must be installed (the test fails, not skips).

mod common;

use pmip_wire::auth::Algorithm;
use pmip_wire::extension::{self, Extension, Extensions, kind};
use pmip_wire::identification::Identification;
use pmip_wire::registration::{ReplyCode, ReplyRepr, RequestFlags, RequestRepr};
use std::net::Ipv4Addr;

const FIELDS: &[&str] = &[
    "mip.type",
    "mip.s",
    "mip.b",
    "mip.d",
    "mip.m",
    "mip.g",
    "mip.v",
    "mip.t",
    "mip.x",
    "mip.code",
    "mip.life",
    "mip.homeaddr",
    "mip.haaddr",
    "mip.coa",
    "mip.ident",
    "mip.ext.type",
    "mip.ext.len",
    "mip.auth.spi",
    "mip.auth.auth",
    "mip.nai",
];

const MN: Ipv4Addr = Ipv4Addr::new(10, 91, 7, 160);
const HA: Ipv4Addr = Ipv4Addr::new(10, 91, 7, 1);
const COA: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

fn b(x: bool) -> &'static str {
    if x { "1" } else { "0" }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode(payload: &[u8]) -> std::collections::HashMap<String, String> {
    common::tshark_one(common::mip_frame(COA, HA, payload), FIELDS)
}

#[test]
fn every_request_flag_as_tshark_reads_it() {
    // One flag at a time, then all of them. tshark names the bits after
    // RFC 3344 (mip.v for the bit RFC 5944 calls r, mip.x for x).
    for byte in [0x80u8, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01, 0xff, 0x00] {
        let flags = RequestFlags::from_byte(byte);
        let mut m = RequestRepr {
            flags,
            lifetime: 600,
            home_address: MN,
            home_agent: HA,
            care_of_address: COA,
            identification: Identification(0xEC8E_3A00_1234_5678),
            extensions: Extensions::new(),
        }
        .to_vec();
        extension::append_authentication(
            &mut m,
            kind::MOBILE_HOME_AUTH,
            0x102,
            Algorithm::HmacMd5,
            b"k",
        );
        let f = decode(&m);
        assert_eq!(f["mip.type"], "1");
        assert_eq!(f["mip.s"], b(flags.simultaneous), "S {byte:#x}");
        assert_eq!(f["mip.b"], b(flags.broadcast), "B {byte:#x}");
        assert_eq!(f["mip.d"], b(flags.decapsulation_by_mn), "D {byte:#x}");
        assert_eq!(f["mip.m"], b(flags.minimal_encapsulation), "M {byte:#x}");
        assert_eq!(f["mip.g"], b(flags.gre), "G {byte:#x}");
        assert_eq!(f["mip.v"], b(flags.r), "r {byte:#x}");
        assert_eq!(f["mip.t"], b(flags.reverse_tunnel), "T {byte:#x}");
        assert_eq!(f["mip.x"], b(flags.x), "x {byte:#x}");
        assert_eq!(f["mip.life"], "600");
        assert_eq!(f["mip.homeaddr"], MN.to_string());
        assert_eq!(f["mip.haaddr"], HA.to_string());
        assert_eq!(f["mip.coa"], COA.to_string());
    }
}

#[test]
fn request_with_every_extension() {
    let mut ext = Extensions::new();
    ext.push(Extension::Nai(b"mn@example.org"));
    ext.push(Extension::EncapsulatingDeliveryStyle);
    let mut m = RequestRepr {
        flags: RequestFlags {
            reverse_tunnel: true,
            ..Default::default()
        },
        lifetime: 36000,
        home_address: MN,
        home_agent: HA,
        care_of_address: COA,
        identification: Identification(0xEC8E_3A00_1234_5678),
        extensions: ext,
    }
    .to_vec();
    extension::append_authentication(
        &mut m,
        kind::MOBILE_HOME_AUTH,
        0x102,
        Algorithm::KeyedMd5PrefixSuffix,
        b"0987654",
    );
    extension::append_authentication(
        &mut m,
        kind::MOBILE_FOREIGN_AUTH,
        0x200,
        Algorithm::HmacMd5,
        b"mfa",
    );
    extension::append_authentication(
        &mut m,
        kind::FOREIGN_HOME_AUTH,
        0x300,
        Algorithm::HmacMd5,
        b"fha",
    );
    let parsed =
        RequestRepr::parse(&pmip_wire::registration::RequestPacket::new_checked(&m[..]).unwrap())
            .unwrap();
    let f = decode(&m);
    assert_eq!(f["mip.ext.type"], "131,130,32,33,34");
    assert_eq!(f["mip.ext.len"], "14,0,20,20,20");
    assert_eq!(f["mip.nai"], "mn@example.org");
    assert_eq!(f["mip.auth.spi"], "0x00000102,0x00000200,0x00000300");
    let auths: Vec<String> = parsed
        .extensions
        .iter()
        .filter_map(|e| e.authentication().map(|a| hex(a.authenticator)))
        .collect();
    assert_eq!(f["mip.auth.auth"].replace(':', ""), auths.join(","));
    assert_eq!(f["mip.t"], "1");
    assert_eq!(f["mip.life"], "36000");
    // tshark shows the Identification as an NTP time: 0xEC8E3A00 seconds
    // after 1900 is 2025-10-06 12:52:16 UTC, 0x12345678 / 2^32 = .0711111 s.
    assert!(
        f["mip.ident"].starts_with("Oct  6, 2025 12:52:16.0711111"),
        "{}",
        f["mip.ident"]
    );
}

#[test]
fn replies_with_several_codes() {
    for code in [
        ReplyCode::Accepted,
        ReplyCode::AcceptedNoSimultaneousBindings,
        ReplyCode::LifetimeTooLong,
        ReplyCode::ReverseTunnelUnavailableFa,
        ReplyCode::RegistrationTimeout,
        ReplyCode::MobileNodeFailedAuthenticationHa,
        ReplyCode::IdentificationMismatch,
        ReplyCode::UnknownHomeAgentAddress,
        ReplyCode::EncapsulationUnavailableHa,
    ] {
        let mut m = ReplyRepr {
            code,
            lifetime: if code.is_accepted() { 300 } else { 0 },
            home_address: MN,
            home_agent: HA,
            identification: Identification(0xEC8E_3A10_0000_0001),
            extensions: Extensions::new(),
        }
        .to_vec();
        extension::append_authentication(
            &mut m,
            kind::MOBILE_HOME_AUTH,
            0x102,
            Algorithm::HmacMd5,
            b"k",
        );
        let f = common::tshark_one(common::mip_frame(HA, COA, &m), FIELDS);
        assert_eq!(f["mip.type"], "3");
        assert_eq!(f["mip.code"], u8::from(code).to_string(), "{code}");
        assert_eq!(f["mip.life"], if code.is_accepted() { "300" } else { "0" });
        assert_eq!(f["mip.homeaddr"], MN.to_string());
        assert_eq!(f["mip.haaddr"], HA.to_string());
        assert_eq!(f["mip.ext.type"], "32");
        assert_eq!(f["mip.auth.spi"], "0x00000102");
    }
}
