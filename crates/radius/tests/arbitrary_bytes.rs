//! Property tests: packets and SAs round-trip, and no input of any shape
//! makes a parser or the engine panic (10 000 cases here; a million with
//! `cargo test --release -p pmip-radius --test arbitrary_bytes -- --ignored`).

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use pmip_engine::time::Instant;
use pmip_radius::auth;
use pmip_radius::client::{build_answer, sa_from_attributes};
use pmip_radius::packet::{Attribute, Code, MAX_LEN, Packet, Repr, VendorAttrIter};
use pmip_radius::sa::{parse_av_pair, parse_sa};
use pmip_radius::{Action, Algorithm, ClientConfig, RadiusClient, Sa, ServerConfig, SpiRadix};
use proptest::prelude::*;

const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 1812);

fn code() -> impl Strategy<Value = Code> {
    any::<u8>().prop_map(Code::from)
}

/// Owned attribute values, turned into borrowed `Attribute`s per case.
#[derive(Debug, Clone)]
enum OwnedAttr {
    UserName(Vec<u8>),
    UserPassword(Vec<u8>),
    Nas(Ipv4Addr),
    Reply(Vec<u8>),
    Vsa(u32, Vec<u8>),
    Ma([u8; 16]),
    Other(u8, Vec<u8>),
}

impl OwnedAttr {
    fn as_attr(&self) -> Attribute<'_> {
        match self {
            OwnedAttr::UserName(v) => Attribute::UserName(v),
            OwnedAttr::UserPassword(v) => Attribute::UserPassword(v),
            OwnedAttr::Nas(a) => Attribute::NasIpAddress(*a),
            OwnedAttr::Reply(v) => Attribute::ReplyMessage(v),
            OwnedAttr::Vsa(id, d) => Attribute::VendorSpecific {
                vendor_id: *id,
                data: d,
            },
            OwnedAttr::Ma(m) => Attribute::MessageAuthenticator(*m),
            OwnedAttr::Other(k, v) => Attribute::Other { kind: *k, value: v },
        }
    }
}

fn owned_attr() -> impl Strategy<Value = OwnedAttr> {
    let named = [1u8, 2, 4, 18, 26, 80];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..=253).prop_map(OwnedAttr::UserName),
        (1usize..=8)
            .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n * 16))
            .prop_map(OwnedAttr::UserPassword),
        any::<[u8; 4]>().prop_map(|b| OwnedAttr::Nas(Ipv4Addr::from(b))),
        prop::collection::vec(any::<u8>(), 0..=253).prop_map(OwnedAttr::Reply),
        (any::<u32>(), prop::collection::vec(any::<u8>(), 1..=249))
            .prop_map(|(i, d)| OwnedAttr::Vsa(i, d)),
        any::<[u8; 16]>().prop_map(OwnedAttr::Ma),
        (
            any::<u8>().prop_filter("unnamed", move |k| !named.contains(k)),
            prop::collection::vec(any::<u8>(), 0..=253)
        )
            .prop_map(|(k, v)| OwnedAttr::Other(k, v)),
    ]
}

fn sa() -> impl Strategy<Value = Sa> {
    (
        0x100u32..=u32::MAX,
        prop::collection::vec(any::<u8>(), 1..=64),
        prop_oneof![
            Just(Algorithm::HmacMd5),
            Just(Algorithm::KeyedMd5PrefixSuffix)
        ],
        1u32..=65535,
    )
        .prop_map(|(spi, key, algorithm, replay_within)| Sa {
            spi,
            key,
            algorithm,
            replay_within,
        })
}

fn av_text(sa: &Sa) -> String {
    let key: String = sa.key.iter().map(|b| format!("{b:02x}")).collect();
    let alg = match sa.algorithm {
        Algorithm::HmacMd5 => "hmac-md5",
        Algorithm::KeyedMd5PrefixSuffix => "md5 mode prefix-suffix",
    };
    format!(
        "mobileip:spi#0=spi {:x} key hex {key} algorithm {alg} replay timestamp within {}",
        sa.spi, sa.replay_within
    )
}

/// Everything a receiver might do with bytes, none of which may panic.
fn poke(bytes: &[u8]) {
    if let Ok(p) = Packet::new_checked(bytes) {
        let _ = (p.code(), p.identifier(), p.length(), p.authenticator());
        for a in p.attributes().flatten() {
            if let Ok(Attribute::VendorSpecific { data, .. }) = Attribute::parse(a) {
                for _ in VendorAttrIter::new(data) {}
            }
        }
        if let Ok(repr) = Repr::parse(&p) {
            // Lossless re-emit of the packet proper.
            assert_eq!(repr.to_vec().unwrap(), p.as_bytes());
        }
        let _ = sa_from_attributes(p.attribute_bytes(), SpiRadix::Hex);
        let _ = auth::find_message_authenticator(p.as_bytes());
        let _ = auth::verify_message_authenticator(p.as_bytes(), &[0; 16], b"s");
    }
    let _ = auth::verify_response_authenticator(bytes, &[0; 16], b"s");
    let _ = auth::unhide_password(bytes, b"s", &[0; 16]);
    let _ = parse_av_pair(bytes, SpiRadix::Hex);
    let _ = parse_av_pair(bytes, SpiRadix::Decimal);
}

/// A client with one lookup outstanding at SERVER, and its request.
fn waiting_client() -> (RadiusClient, Vec<u8>) {
    let cfg = ClientConfig::new(
        vec![ServerConfig::new(SERVER, "s")],
        Ipv4Addr::new(10, 0, 0, 1),
    );
    let mut c = RadiusClient::new(cfg, [9; 32]).unwrap();
    let mut out = Vec::new();
    c.request(Instant::ZERO, Ipv4Addr::new(10, 0, 0, 2), &mut out);
    let Some(Action::Send { datagram, .. }) = out.pop() else {
        panic!()
    };
    (c, datagram)
}

fn check_repr_round_trip(
    code: Code,
    identifier: u8,
    authenticator: [u8; 16],
    attrs: &[OwnedAttr],
) -> Result<(), TestCaseError> {
    let repr = Repr {
        code,
        identifier,
        authenticator,
        attributes: attrs.iter().map(OwnedAttr::as_attr).collect(),
    };
    if repr.buffer_len() > MAX_LEN {
        prop_assert!(repr.to_vec().is_err());
        return Ok(());
    }
    let bytes = repr.to_vec().unwrap();
    let p = Packet::new_checked(&bytes[..]).unwrap();
    prop_assert_eq!(Repr::parse(&p).unwrap(), repr);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn packets_round_trip(
        code in code(),
        identifier in any::<u8>(),
        authenticator in any::<[u8; 16]>(),
        attrs in prop::collection::vec(owned_attr(), 0..24),
    ) {
        check_repr_round_trip(code, identifier, authenticator, &attrs)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        poke(&bytes);
    }

    #[test]
    fn arbitrary_attribute_octets_never_panic(
        head in any::<[u8; 20]>(),
        attrs in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        // A valid header over arbitrary attributes reaches the attribute
        // parsers far more often than fully random bytes.
        let mut v = head.to_vec();
        v.extend_from_slice(&attrs);
        let len = v.len() as u16;
        v[2..4].copy_from_slice(&len.to_be_bytes());
        poke(&v);
    }

    #[test]
    fn the_engine_never_accepts_or_panics_on_junk(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        keep_id in any::<bool>(),
    ) {
        let (mut c, req) = waiting_client();
        let mut v = bytes;
        if keep_id && v.len() >= 2 {
            v[0] = 2; // Access-Accept
            v[1] = req[1];
        }
        let mut out = Vec::new();
        c.receive(Instant::ZERO, SocketAddr::V4(SERVER), &v, &mut out);
        prop_assert!(out.is_empty(), "{:?}", out);
        prop_assert_eq!(c.outstanding(), 1);
        prop_assert_eq!(c.counters().dropped(), 1);
    }

    #[test]
    fn the_engine_survives_any_authentic_answer(
        code in code(),
        attrs in prop::collection::vec(owned_attr(), 0..8),
        with_ma in any::<bool>(),
    ) {
        // Authentic but arbitrary: whatever it says, the engine ends the
        // lookup or drops the answer, and never panics.
        let (mut c, req) = waiting_client();
        let attrs: Vec<Attribute> = attrs.iter().map(OwnedAttr::as_attr).collect();
        if let Some(ans) = build_answer(&req, code, &attrs, with_ma, b"s") {
            let mut out = Vec::new();
            c.receive(Instant::ZERO, SocketAddr::V4(SERVER), &ans, &mut out);
            prop_assert!(out.len() <= 1);
        }
    }

    #[test]
    fn sas_round_trip_through_the_av_pair(sa in sa()) {
        let text = av_text(&sa);
        let (index, parsed) = parse_av_pair(text.as_bytes(), SpiRadix::Hex).unwrap().unwrap();
        prop_assert_eq!(index, 0);
        prop_assert_eq!(parsed, sa);
    }

    #[test]
    fn av_pair_text_never_panics(tail in ".{0,120}", words in prop::collection::vec(
        prop_oneof![
            Just("spi".to_string()), Just("key".to_string()), Just("hex".to_string()),
            Just("ascii".to_string()), Just("algorithm".to_string()), Just("md5".to_string()),
            Just("hmac-md5".to_string()), Just("mode".to_string()),
            Just("prefix-suffix".to_string()), Just("replay".to_string()),
            Just("timestamp".to_string()), Just("within".to_string()),
            "[0-9a-fA-F]{0,12}", "[ -~]{0,8}",
        ], 0..12)) {
        let _ = parse_sa(&tail, SpiRadix::Hex);
        let joined = words.join(" ");
        let _ = parse_sa(&joined, SpiRadix::Decimal);
        let _ = parse_av_pair(format!("mobileip:spi#0={joined}").as_bytes(), SpiRadix::Hex);
    }

    #[test]
    fn passwords_round_trip(
        pw in prop::collection::vec(1u8..=255, 0..=128),
        secret in prop::collection::vec(any::<u8>(), 1..40),
        ra in any::<[u8; 16]>(),
    ) {
        let mut out = [0u8; 128];
        let n = auth::hide_password(&pw, &secret, &ra, &mut out).unwrap();
        prop_assert_eq!(auth::unhide_password(&out[..n], &secret, &ra).unwrap(), pw);
    }
}

#[test]
#[ignore = "a million cases: run with --release -- --ignored"]
fn a_million_arbitrary_packets() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(1_000_000));
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..600), |bytes| {
            poke(&bytes);
            Ok(())
        })
        .unwrap();
}
