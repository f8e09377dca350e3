//! Arbitrary bytes never panic any parser, and whatever parses emits
//! back to the same bytes. CI runs ten thousand cases; the ignored test
//! runs a million (`cargo test --release -p pmip-wire -- --ignored`).

use pmip_wire::{arp, binding_update, ethernet, gre, icmp, ipv4, registration, tunnel, udp};
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
    let _ = tunnel::decapsulate(bytes);
    if let Ok(r) = gre::Repr::parse(&gre::Packet::new_unchecked(bytes)) {
        let mut out = bytes.to_vec();
        r.emit(&mut out);
        if !r.checksum {
            assert_eq!(&out[..r.header_len()], &bytes[..r.header_len()]);
        }
    }
    if let Ok(r) = ethernet::Repr::parse(&ethernet::Frame::new_unchecked(bytes)) {
        let mut out = bytes.to_vec();
        r.emit(&mut out);
        assert_eq!(out, bytes);
    }
    if let Ok(r) = arp::Repr::parse(&arp::Packet::new_unchecked(bytes)) {
        assert_eq!(&r.to_bytes()[..], &bytes[..arp::PACKET_LEN]);
    }
    if let Ok(r) = icmp::Repr::parse(&icmp::Packet::new_unchecked(bytes)) {
        assert_eq!(r.to_vec(), bytes);
    }
    if let Ok(r) =
        registration::RequestRepr::parse(&registration::RequestPacket::new_unchecked(bytes))
    {
        assert_eq!(r.to_vec(), bytes);
    }
    if let Ok(r) = registration::ReplyRepr::parse(&registration::ReplyPacket::new_unchecked(bytes))
    {
        assert_eq!(r.to_vec(), bytes);
    }
    if let Ok(r) = binding_update::UpdateRepr::parse(bytes) {
        assert_eq!(r.to_vec(), bytes);
    }
    if let Ok(r) = binding_update::AckRepr::parse(bytes) {
        assert_eq!(r.to_vec(), bytes);
    }
}

/// A valid registration message, with its type byte set to one of the
/// message types and some bytes of its extensions mutated, so parsing
/// gets deep into the extension area.
fn mutated_message() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just(1u8),
            Just(3u8),
            Just(18u8),
            Just(19u8),
            Just(9u8),
            Just(10u8)
        ],
        prop::collection::vec(any::<u8>(), 20..24),
        prop::collection::vec(
            (
                prop_oneof![
                    Just(32u8),
                    Just(33),
                    Just(34),
                    Just(35),
                    Just(130),
                    Just(131),
                    Just(16),
                    Just(19),
                    Just(0),
                    any::<u8>()
                ],
                prop::collection::vec(any::<u8>(), 0..24),
            ),
            0..5,
        ),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    )
        .prop_map(|(t, mut fixed, exts, muts)| {
            fixed[0] = t;
            let mut m = fixed;
            for (kind, data) in exts {
                m.push(kind);
                m.push(data.len() as u8);
                m.extend_from_slice(&data);
            }
            for (i, v) in muts {
                let at = i.index(m.len());
                m[at] = v;
            }
            if t == 9 || t == 10 {
                // Router discovery: make the ICMP checksum right.
                m[2..4].copy_from_slice(&[0, 0]);
                let c = pmip_wire::checksum::checksum(&m);
                m[2..4].copy_from_slice(&c.to_be_bytes());
            }
            m
        })
}

fn run(cases: u32) {
    // Half the cases start from a valid header so the parser gets past the
    // first checks; the rest are plain noise.
    let strategy = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..128),
        mutated_message(),
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
