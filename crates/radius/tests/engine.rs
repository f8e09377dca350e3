//! The client engine with simulated time and simulated servers:
//! retransmission, failover, rejects, malformed and forged answers,
//! Identifiers, coalescing and the SA cache.

use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::time::Duration;
use pmip_engine::time::Instant;
use pmip_radius::auth;
use pmip_radius::client::build_answer;
use pmip_radius::packet::{Attribute, Code, Packet, Repr, emit_vendor_attr};
use pmip_radius::{
    Action, Algorithm, ClientConfig, ConfigError, Lookup, MalformedAnswer, RadiusClient,
    RadiusError, RequestId, Sa, ServerConfig,
};

const S1: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 1812);
const S2: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 1645);
const NAS: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const MN: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);
const AV: &str = "mobileip:spi#0=spi 100 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5 replay timestamp within 7";

fn t(s: u64) -> Instant {
    Instant::from_secs(s)
}

fn config() -> ClientConfig {
    ClientConfig::new(
        vec![
            ServerConfig::new(S1, "secret-one"),
            ServerConfig::new(S2, "secret-two"),
        ],
        NAS,
    )
}

fn client() -> RadiusClient {
    RadiusClient::new(config(), [42; 32]).unwrap()
}

fn sends(out: &[Action]) -> Vec<(SocketAddrV4, Vec<u8>)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Send { to, datagram } => Some((*to, datagram.clone())),
            Action::Done { .. } => None,
        })
        .collect()
}

fn dones(out: &[Action]) -> Vec<(RequestId, Ipv4Addr, Result<Sa, RadiusError>)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Done {
                id,
                home_address,
                result,
            } => Some((*id, *home_address, result.clone())),
            Action::Send { .. } => None,
        })
        .collect()
}

/// A Vendor-Specific value carrying one Cisco-AVPair.
fn cisco_avpair(av: &str) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 9];
    let mut sub = [0u8; 253];
    let n = emit_vendor_attr(1, av.as_bytes(), &mut sub).unwrap();
    v.extend_from_slice(&sub[..n]);
    v
}

/// What a server with `secret` answers to `request`.
fn answer(request: &[u8], code: Code, avpairs: &[&str], secret: &[u8]) -> Vec<u8> {
    let vsas: Vec<Vec<u8>> = avpairs.iter().map(|a| cisco_avpair(a)).collect();
    let attrs: Vec<Attribute> = vsas
        .iter()
        .map(|v| Attribute::Other { kind: 26, value: v })
        .collect();
    build_answer(request, code, &attrs, true, secret).unwrap()
}

fn expected_sa() -> Sa {
    Sa {
        spi: 0x100,
        key: vec![
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ],
        algorithm: Algorithm::HmacMd5,
        replay_within: 7,
    }
}

fn from(a: SocketAddrV4) -> SocketAddr {
    SocketAddr::V4(a)
}

/// Starts a lookup of MN and returns its id and the request sent.
fn start(c: &mut RadiusClient, now: Instant) -> (RequestId, Vec<u8>) {
    let mut out = Vec::new();
    let Lookup::Pending(id) = c.request(now, MN, &mut out) else {
        panic!("expected a request");
    };
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, S1);
    (id, s[0].1.clone())
}

#[test]
fn the_request_is_what_ios_sends() {
    let mut c = client();
    let (_, req) = start(&mut c, t(0));
    let p = Packet::new_checked(&req[..]).unwrap();
    assert_eq!(p.code(), Code::AccessRequest);
    let ra = p.authenticator();
    let repr = Repr::parse(&p).unwrap();
    let mut user = None;
    let mut password = None;
    let mut nas = None;
    for a in &repr.attributes {
        match *a {
            Attribute::UserName(u) => user = Some(u.to_vec()),
            Attribute::UserPassword(h) => {
                password = Some(auth::unhide_password(h, b"secret-one", &ra).unwrap())
            }
            Attribute::NasIpAddress(n) => nas = Some(n),
            _ => {}
        }
    }
    assert_eq!(user.as_deref(), Some(&b"10.1.0.50"[..]));
    assert_eq!(password.as_deref(), Some(&b"cisco"[..]));
    assert_eq!(nas, Some(NAS));
    assert_eq!(
        auth::verify_message_authenticator(&req, &ra, b"secret-one").unwrap(),
        auth::MessageAuth::Valid
    );
}

#[test]
fn accept_gives_the_sa_and_fills_the_cache() {
    let mut c = client();
    let (id, req) = start(&mut c, t(0));
    let mut out = Vec::new();
    let ans = answer(&req, Code::AccessAccept, &[AV], b"secret-one");
    c.receive(t(1), from(S1), &ans, &mut out);
    assert_eq!(dones(&out), vec![(id, MN, Ok(expected_sa()))]);
    assert_eq!(c.outstanding(), 0);
    assert_eq!(c.counters().accepts, 1);

    // A re-registration later does not ask again.
    out.clear();
    assert_eq!(
        c.request(t(100), MN, &mut out),
        Lookup::Cached(expected_sa())
    );
    assert!(out.is_empty());
    assert_eq!(c.counters().cache_hits, 1);
    assert_eq!(c.counters().requests, 1);

    // Where and when it came from.
    let e = c.cached(t(100), MN).unwrap();
    assert_eq!(e.server, S1);
    assert_eq!(e.age, Duration::from_secs(99));
    assert_eq!(e.expires_in, Duration::from_secs(501));
    assert_eq!(c.cache(t(100)).count(), 1);

    // The same answer again (a duplicate) is dropped, and nothing ends twice.
    out.clear();
    c.receive(t(101), from(S1), &ans, &mut out);
    assert!(out.is_empty());
    assert_eq!(c.counters().dropped_unknown_id, 1);
}

#[test]
fn cache_expires_after_its_lifetime() {
    let mut c = client();
    let (_, req) = start(&mut c, t(0));
    let mut out = Vec::new();
    c.receive(
        t(0),
        from(S1),
        &answer(&req, Code::AccessAccept, &[AV], b"secret-one"),
        &mut out,
    );
    // The expiry is a timer too, so the cache is cleaned without lookups.
    assert_eq!(c.poll_timeout(), Some(t(600)));
    out.clear();
    assert!(matches!(c.request(t(599), MN, &mut out), Lookup::Cached(_)));
    c.handle_timeout(t(600), &mut out);
    assert!(out.is_empty());
    assert_eq!(c.cache(t(600)).count(), 0);
    assert_eq!(c.poll_timeout(), None);
    assert!(matches!(
        c.request(t(600), MN, &mut out),
        Lookup::Pending(_)
    ));
    assert_eq!(sends(&out).len(), 1);
    assert_eq!(c.counters().requests, 2);
}

#[test]
fn forget_and_clear_cache() {
    let mut c = client();
    let (_, req) = start(&mut c, t(0));
    let mut out = Vec::new();
    c.receive(
        t(0),
        from(S1),
        &answer(&req, Code::AccessAccept, &[AV], b"secret-one"),
        &mut out,
    );
    assert!(c.forget(MN));
    assert!(!c.forget(MN));
    out.clear();
    assert!(matches!(c.request(t(1), MN, &mut out), Lookup::Pending(_)));
    let req = sends(&out)[0].1.clone();
    out.clear();
    c.receive(
        t(1),
        from(S1),
        &answer(&req, Code::AccessAccept, &[AV], b"secret-one"),
        &mut out,
    );
    c.clear_cache();
    assert_eq!(c.cache(t(1)).count(), 0);
    // A stale expiry entry of the first answer does not remove anything.
    c.handle_timeout(t(600), &mut out);
}

#[test]
fn retransmits_every_timeout_then_fails_over_to_the_second_server() {
    let mut c = client();
    let (id, req) = start(&mut c, t(0));
    let mut out = Vec::new();
    // IOS defaults: timeout 5 s, retransmit 3: the same packet at 5, 10, 15.
    for k in 1..=3u64 {
        assert_eq!(c.poll_timeout(), Some(t(5 * k)));
        c.handle_timeout(t(5 * k - 1), &mut out);
        assert!(out.is_empty(), "nothing before the timer");
        c.handle_timeout(t(5 * k), &mut out);
        assert_eq!(sends(&out), vec![(S1, req.clone())], "retransmission {k}");
        out.clear();
    }
    assert_eq!(c.counters().retransmissions, 3);
    // After the last wait, the next server, with its own packet.
    c.handle_timeout(t(20), &mut out);
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, S2);
    let req2 = s[0].1.clone();
    assert_ne!(req2, req);
    let p = Packet::new_checked(&req2[..]).unwrap();
    assert_eq!(
        auth::verify_message_authenticator(&req2, &p.authenticator(), b"secret-two").unwrap(),
        auth::MessageAuth::Valid
    );
    assert_eq!(c.counters().failovers, 1);
    out.clear();

    // A late answer from the first server is no longer wanted.
    c.receive(
        t(21),
        from(S1),
        &answer(&req, Code::AccessAccept, &[AV], b"secret-one"),
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(c.counters().dropped_unknown_id, 1);

    c.receive(
        t(22),
        from(S2),
        &answer(&req2, Code::AccessAccept, &[AV], b"secret-two"),
        &mut out,
    );
    assert_eq!(dones(&out), vec![(id, MN, Ok(expected_sa()))]);
    assert_eq!(c.cached(t(22), MN).unwrap().server, S2);
    assert_eq!(
        c.poll_timeout(),
        Some(t(622)),
        "only the cache expiry is left"
    );
}

#[test]
fn no_answer_from_anyone_is_a_timeout() {
    let mut cfg = config();
    cfg.timeout = Duration::from_secs(2);
    cfg.retransmit = 1;
    // The second server has its own (IOS per-host) timeout and retransmit.
    cfg.servers[1].timeout = Some(Duration::from_secs(3));
    cfg.servers[1].retransmit = Some(0);
    let mut c = RadiusClient::new(cfg, [1; 32]).unwrap();
    let (id, _) = start(&mut c, t(0));
    let mut out = Vec::new();
    let mut now = t(0);
    let mut log = Vec::new();
    while let Some(next) = c.poll_timeout() {
        now = next;
        c.handle_timeout(now, &mut out);
        for (to, _) in sends(&out) {
            log.push((now, to));
        }
        if !dones(&out).is_empty() {
            break;
        }
        out.clear();
    }
    assert_eq!(log, vec![(t(2), S1), (t(4), S2)]);
    assert_eq!(now, t(7));
    assert_eq!(dones(&out), vec![(id, MN, Err(RadiusError::Timeout))]);
    assert_eq!(c.counters().timeouts, 1);
    assert_eq!(c.outstanding(), 0);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn reject_ends_the_lookup_without_failover_or_cache() {
    let mut c = client();
    let (id, req) = start(&mut c, t(0));
    let mut out = Vec::new();
    c.receive(
        t(0),
        from(S1),
        &answer(&req, Code::AccessReject, &[], b"secret-one"),
        &mut out,
    );
    assert_eq!(dones(&out), vec![(id, MN, Err(RadiusError::Reject))]);
    assert!(sends(&out).is_empty());
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(c.cache(t(0)).count(), 0);
    assert_eq!(c.counters().rejects, 1);

    // An Access-Challenge cannot be answered: a reject too.
    out.clear();
    let Lookup::Pending(id) = c.request(t(1), MN, &mut out) else {
        panic!()
    };
    let req = sends(&out)[0].1.clone();
    out.clear();
    c.receive(
        t(1),
        from(S1),
        &answer(&req, Code::AccessChallenge, &[], b"secret-one"),
        &mut out,
    );
    assert_eq!(dones(&out), vec![(id, MN, Err(RadiusError::Reject))]);
    assert_eq!(c.counters().challenges, 1);
}

#[test]
fn accept_without_sa_and_with_a_malformed_one() {
    let mut c = client();
    let (id, req) = start(&mut c, t(0));
    let mut out = Vec::new();
    // Other Cisco pairs, other vendors and other attributes are ignored.
    let other_vendor = [0u8, 0, 0x01, 0x37, 1, 4, b'x', b'y'];
    let pair = cisco_avpair("shell:priv-lvl=15");
    let ans = build_answer(
        &req,
        Code::AccessAccept,
        &[
            Attribute::ReplyMessage(b"welcome"),
            Attribute::Other {
                kind: 26,
                value: &other_vendor,
            },
            Attribute::Other {
                kind: 26,
                value: &pair,
            },
        ],
        true,
        b"secret-one",
    )
    .unwrap();
    c.receive(t(0), from(S1), &ans, &mut out);
    assert_eq!(dones(&out), vec![(id, MN, Err(RadiusError::NoSa))]);
    assert_eq!(c.counters().no_sa, 1);

    out.clear();
    let Lookup::Pending(id) = c.request(t(1), MN, &mut out) else {
        panic!()
    };
    let req = sends(&out)[0].1.clone();
    out.clear();
    let bad = "mobileip:spi#0=spi 100 key hex 0011zz algorithm hmac-md5";
    c.receive(
        t(1),
        from(S1),
        &answer(&req, Code::AccessAccept, &[bad], b"secret-one"),
        &mut out,
    );
    let d = dones(&out);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].0, id);
    assert!(
        matches!(
            d[0].2,
            Err(RadiusError::Malformed(MalformedAnswer::AvPair(_)))
        ),
        "{:?}",
        d[0].2
    );
    assert_eq!(c.counters().malformed_answers, 1);
    assert_eq!(c.cache(t(1)).count(), 0, "nothing half-understood is kept");
}

#[test]
fn lowest_spi_index_wins_and_a_broken_vendor_attribute_is_malformed() {
    let mut c = client();
    let (id, req) = start(&mut c, t(0));
    let mut out = Vec::new();
    let av1 = "mobileip:spi#1=spi 200 key ascii second";
    c.receive(
        t(0),
        from(S1),
        &answer(&req, Code::AccessAccept, &[av1, AV], b"secret-one"),
        &mut out,
    );
    assert_eq!(dones(&out), vec![(id, MN, Ok(expected_sa()))]);

    c.forget(MN);
    out.clear();
    let Lookup::Pending(id) = c.request(t(1), MN, &mut out) else {
        panic!()
    };
    let req = sends(&out)[0].1.clone();
    out.clear();
    let broken = [0u8, 0, 0, 9, 1, 40, b'm'];
    let ans = build_answer(
        &req,
        Code::AccessAccept,
        &[Attribute::Other {
            kind: 26,
            value: &broken,
        }],
        true,
        b"secret-one",
    )
    .unwrap();
    c.receive(t(1), from(S1), &ans, &mut out);
    assert!(matches!(
        dones(&out)[0],
        (i, _, Err(RadiusError::Malformed(MalformedAnswer::Attributes(_)))) if i == id
    ));
}

#[test]
fn wrong_secret_answers_are_dropped_and_the_lookup_times_out() {
    let mut cfg = config();
    cfg.servers.truncate(1);
    cfg.retransmit = 1;
    let mut c = RadiusClient::new(cfg, [3; 32]).unwrap();
    let (id, req) = start(&mut c, t(0));
    let mut out = Vec::new();
    // The server signs with another secret: every answer fails the
    // Response Authenticator, including the one to the retransmission.
    for now in [0, 5] {
        c.handle_timeout(t(now), &mut out);
        out.clear();
        c.receive(
            t(now),
            from(S1),
            &answer(&req, Code::AccessAccept, &[AV], b"not-the-secret"),
            &mut out,
        );
        assert!(out.is_empty(), "never accepted");
    }
    assert_eq!(c.counters().dropped_bad_authenticator, 2);
    c.handle_timeout(t(10), &mut out);
    assert_eq!(dones(&out), vec![(id, MN, Err(RadiusError::Timeout))]);
    assert_eq!(c.cache(t(10)).count(), 0);
}

#[test]
fn bad_or_missing_message_authenticator_is_dropped() {
    let mut c = client();
    let (_, req) = start(&mut c, t(0));
    let ra = Packet::new_checked(&req[..]).unwrap().authenticator();
    let mut out = Vec::new();
    // Right Response Authenticator, wrong Message-Authenticator: re-sign
    // the Response Authenticator after spoiling the HMAC.
    let mut ans = answer(&req, Code::AccessAccept, &[AV], b"secret-one");
    let at = auth::find_message_authenticator(&ans).unwrap().unwrap();
    ans[at] ^= 1;
    let r = auth::response_authenticator(&ans, &ra, b"secret-one");
    ans[4..20].copy_from_slice(&r);
    c.receive(t(0), from(S1), &ans, &mut out);
    assert!(out.is_empty());
    assert_eq!(c.counters().dropped_bad_message_authenticator, 1);

    // Required but absent.
    let mut cfg = config();
    cfg.require_message_authenticator = true;
    let mut c = RadiusClient::new(cfg, [4; 32]).unwrap();
    let (id, req) = start(&mut c, t(0));
    let vsa = cisco_avpair(AV);
    let attrs = [Attribute::Other {
        kind: 26,
        value: &vsa,
    }];
    let plain = build_answer(&req, Code::AccessAccept, &attrs, false, b"secret-one").unwrap();
    c.receive(t(0), from(S1), &plain, &mut out);
    assert!(out.is_empty());
    assert_eq!(c.counters().dropped_bad_message_authenticator, 1);
    let signed = build_answer(&req, Code::AccessAccept, &attrs, true, b"secret-one").unwrap();
    c.receive(t(0), from(S1), &signed, &mut out);
    assert_eq!(dones(&out), vec![(id, MN, Ok(expected_sa()))]);
}

#[test]
fn answers_from_elsewhere_or_unreadable_are_dropped_and_counted() {
    let mut c = client();
    let (id, req) = start(&mut c, t(0));
    let good = answer(&req, Code::AccessAccept, &[AV], b"secret-one");
    let mut out = Vec::new();
    // Another host, the right host on another port, IPv6, the second
    // server answering a request it never got.
    for src in [
        from(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 99), 1812)),
        from(SocketAddrV4::new(*S1.ip(), 1813)),
        "[2001:db8::1]:1812".parse().unwrap(),
    ] {
        c.receive(t(0), src, &good, &mut out);
    }
    assert_eq!(c.counters().dropped_wrong_source, 3);
    c.receive(t(0), from(S2), &good, &mut out);
    assert_eq!(c.counters().dropped_unknown_id, 1);
    // Short, bad length, a request instead of an answer.
    c.receive(t(0), from(S1), &good[..19], &mut out);
    let mut bad_len = good.clone();
    bad_len[3] = bad_len[3].wrapping_add(1);
    c.receive(t(0), from(S1), &bad_len, &mut out);
    c.receive(t(0), from(S1), &req, &mut out);
    assert_eq!(c.counters().dropped_malformed, 3);
    // Another Identifier.
    let mut other_id = good.clone();
    other_id[1] = other_id[1].wrapping_add(1);
    c.receive(t(0), from(S1), &other_id, &mut out);
    assert_eq!(c.counters().dropped_unknown_id, 2);
    // A forged answer: right Identifier, made-up authenticator.
    let mut forged = good.clone();
    forged[4] ^= 0x80;
    c.receive(t(0), from(S1), &forged, &mut out);
    assert_eq!(c.counters().dropped_bad_authenticator, 1);
    assert!(out.is_empty());
    assert_eq!(c.counters().dropped(), 9);
    // Padding past Length is allowed; the real answer still works.
    let mut padded = good.clone();
    padded.extend_from_slice(&[0; 7]);
    c.receive(t(0), from(S1), &padded, &mut out);
    assert_eq!(dones(&out), vec![(id, MN, Ok(expected_sa()))]);
}

#[test]
fn concurrent_lookups_of_one_address_share_one_request() {
    let mut c = client();
    let (id, req) = start(&mut c, t(0));
    let mut out = Vec::new();
    assert_eq!(c.request(t(1), MN, &mut out), Lookup::Pending(id));
    assert!(out.is_empty());
    assert_eq!(c.counters().coalesced, 1);
    c.receive(
        t(1),
        from(S1),
        &answer(&req, Code::AccessAccept, &[AV], b"secret-one"),
        &mut out,
    );
    assert_eq!(dones(&out).len(), 1);
}

#[test]
fn identifiers_are_unique_and_lookups_queue_when_all_256_are_taken() {
    let mut c = client();
    let mut out = Vec::new();
    let homes: Vec<Ipv4Addr> = (0..300u32)
        .map(|i| Ipv4Addr::from(0x0a01_0000 + i))
        .collect();
    let mut ids = Vec::new();
    for h in &homes {
        let Lookup::Pending(id) = c.request(t(0), *h, &mut out) else {
            panic!()
        };
        ids.push(id);
    }
    let first = sends(&out);
    assert_eq!(first.len(), 256);
    let mut idents: Vec<u8> = first.iter().map(|(_, d)| d[1]).collect();
    idents.sort_unstable();
    idents.dedup();
    assert_eq!(idents.len(), 256, "every Identifier once");
    assert_eq!(c.counters().queued, 44);
    out.clear();

    // One answer frees an Identifier: the first queued lookup goes out.
    let (_, req) = &first[10];
    c.receive(
        t(1),
        from(S1),
        &answer(req, Code::AccessReject, &[], b"secret-one"),
        &mut out,
    );
    let s = sends(&out);
    assert_eq!(dones(&out).len(), 1);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].1[1], req[1], "the freed Identifier is the only one");
    let user = Repr::parse(&Packet::new_checked(&s[0].1[..]).unwrap())
        .unwrap()
        .attributes
        .into_iter()
        .find_map(|a| match a {
            Attribute::UserName(u) => Some(u.to_vec()),
            _ => None,
        })
        .unwrap();
    assert_eq!(user, homes[256].to_string().into_bytes());

    // Nobody answers: every lookup ends, in failover order, with a timeout.
    out.clear();
    let mut done = 1;
    let mut now = t(1);
    while let Some(next) = c.poll_timeout() {
        now = next;
        c.handle_timeout(now, &mut out);
        done += dones(&out).len();
        out.clear();
    }
    assert_eq!(done, 300);
    assert_eq!(c.outstanding(), 0);
    assert!(now <= t(1 + 4 * 20 * 2), "{now:?}");
}

#[test]
fn bad_configurations_are_refused() {
    let mut cfg = config();
    cfg.servers.clear();
    assert_eq!(
        RadiusClient::new(cfg, [0; 32]).unwrap_err(),
        ConfigError::NoServers
    );
    let mut cfg = config();
    cfg.servers[1].secret.clear();
    assert_eq!(
        RadiusClient::new(cfg, [0; 32]).unwrap_err(),
        ConfigError::NoSecret(S2)
    );
    let mut cfg = config();
    cfg.servers[1].addr = S1;
    assert_eq!(
        RadiusClient::new(cfg, [0; 32]).unwrap_err(),
        ConfigError::DuplicateServer(S1)
    );
    let mut cfg = config();
    cfg.timeout = Duration::ZERO;
    assert_eq!(
        RadiusClient::new(cfg, [0; 32]).unwrap_err(),
        ConfigError::ZeroTimeout
    );
    let mut cfg = config();
    cfg.password = vec![b'x'; 129];
    assert_eq!(
        RadiusClient::new(cfg, [0; 32]).unwrap_err(),
        ConfigError::PasswordTooLong
    );
}

#[test]
fn secrets_never_show_in_debug_output() {
    let mut cfg = config();
    cfg.password = b"hunter2-password".to_vec();
    let c = RadiusClient::new(cfg.clone(), [0; 32]).unwrap();
    for s in [format!("{cfg:?}"), format!("{c:?}")] {
        assert!(!s.contains("secret-one") && !s.contains("hunter2"), "{s}");
    }
    let mut c = c;
    let mut out = Vec::new();
    c.request(t(0), MN, &mut out);
    let s = format!("{out:?}");
    assert!(s.contains("octets"), "{s}");
    let sa = format!("{:?}", expected_sa());
    assert!(
        !sa.contains("0, 17, 34") && !sa.contains("00112233"),
        "{sa}"
    );
}

#[test]
fn from_the_ios_configuration() {
    let cfg = pmip_config::Config::parse(
        "aaa new-model\n\
         aaa authorization ipmobile default group radius\n\
         radius-server host 192.0.2.1 auth-port 1812 key one\n\
         radius-server host 192.0.2.2 timeout 2 retransmit 1\n\
         radius-server key shared\n\
         radius-server timeout 4\n\
         radius-server retransmit 2\n",
    )
    .unwrap();
    let c = ClientConfig::from_aaa(&cfg.aaa, NAS).unwrap();
    assert_eq!(c.servers.len(), 2);
    assert_eq!(c.servers[0].addr, S1);
    assert_eq!(c.servers[0].secret, b"one");
    assert_eq!(
        c.servers[1].addr,
        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 1645)
    );
    assert_eq!(c.servers[1].secret, b"shared");
    assert_eq!(c.servers[1].timeout, Some(Duration::from_secs(2)));
    assert_eq!(c.servers[1].retransmit, Some(1));
    assert_eq!(c.timeout, Duration::from_secs(4));
    assert_eq!(c.retransmit, 2);
    assert_eq!(c.password, b"cisco");

    let cfg = pmip_config::Config::parse("radius-server host 192.0.2.1\n").unwrap();
    assert!(matches!(
        ClientConfig::from_aaa(&cfg.aaa, NAS),
        Err(ConfigError::NoSecret(_))
    ));
}

#[test]
fn thirty_thousand_lookups_through_256_identifiers() {
    // Queued lookups and timers cost no scan of everything outstanding:
    // with a quadratic queue this would take minutes, here it takes ~0.5 s.
    let mut c = client();
    let mut out = Vec::new();
    let n = 30_000u32;
    for i in 0..n {
        c.request(t(0), Ipv4Addr::from(0x0a00_0000 + i), &mut out);
    }
    assert_eq!(c.poll_timeout(), Some(t(5)));
    let mut done = 0;
    let mut pending: Vec<Vec<u8>> = sends(&out).into_iter().map(|(_, d)| d).collect();
    out.clear();
    while let Some(req) = pending.pop() {
        let ans = answer(&req, Code::AccessAccept, &[AV], b"secret-one");
        c.receive(t(1), from(S1), &ans, &mut out);
        done += dones(&out).len();
        pending.extend(sends(&out).into_iter().map(|(_, d)| d));
        out.clear();
    }
    assert_eq!(done, n as usize);
    assert_eq!(c.outstanding(), 0);
    assert_eq!(c.cache(t(1)).count(), n as usize);
    assert_eq!(c.poll_timeout(), Some(t(601)));
}
