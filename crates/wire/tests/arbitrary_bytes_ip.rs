//! Arbitrary bytes never panic the IPv4 and UDP parsers, and whatever
//! parses emits back to the same bytes. CI runs a few thousand cases; the
//! ignored test runs a million (`cargo test --release -- --ignored`).

use pmip_wire::{ipv4, udp};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::net::Ipv4Addr;

fn check(bytes: &[u8]) {
    let p = ipv4::Packet::new_unchecked(bytes);
    if let Ok(r) = ipv4::Repr::parse(&p) {
        let mut out = bytes[..r.buffer_len()].to_vec();
        r.emit(&mut ipv4::Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, &bytes[..r.buffer_len()]);
        let _ = udp::Repr::parse(
            &udp::Packet::new_unchecked(p.payload()),
            r.src_addr,
            r.dst_addr,
        );
    }
    let _ = udp::Repr::parse(
        &udp::Packet::new_unchecked(bytes),
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
    );
}

fn run(cases: u32) {
    // Half the cases start from a valid header so the parser gets past the
    // first checks; the rest are plain noise.
    let strategy = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..128),
        (prop::collection::vec(any::<u8>(), 20..128), 0u8..16).prop_map(|(mut b, ihl)| {
            b[0] = 0x40 | ihl;
            let hlen = (usize::from(ihl) * 4).clamp(20, b.len());
            let total = b.len() as u16;
            b[2..4].copy_from_slice(&total.to_be_bytes());
            b[10..12].copy_from_slice(&[0, 0]);
            let c = pmip_wire::checksum::checksum(&b[..hlen]);
            b[10..12].copy_from_slice(&c.to_be_bytes());
            b
        }),
    ];
    TestRunner::new(Config {
        cases,
        ..Config::default()
    })
    .run(&strategy, |b| {
        check(&b);
        Ok(())
    })
    .unwrap();
}

#[test]
fn ten_thousand_cases() {
    run(10_000);
}

#[test]
#[ignore = "long: a million cases"]
fn a_million_cases() {
    run(1_000_000);
}
