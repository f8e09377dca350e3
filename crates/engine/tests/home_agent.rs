//! The home agent engine with simulated time: every step and every
//! denial, driven by a test mobile node that signs its own requests.

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use pmip_engine::home_agent::{
    Action, BindUpdatePolicy, HomeAgent, HomeAgentConfig, HomeNetwork, MobileHost,
};
use pmip_engine::security::SecurityAssociation;
use pmip_engine::time::{Instant, Now};
use pmip_wire::auth::Algorithm;
use pmip_wire::binding_update::{AckRepr, UpdateRepr};
use pmip_wire::extension::{self, Extensions, kind};
use pmip_wire::identification::Identification;
use pmip_wire::registration::{self, ReplyCode, ReplyPacket, ReplyRepr, RequestFlags, RequestRepr};
use pmip_wire::tunnel::Encapsulation;

const HA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const BCAST: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 255);
const MN: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);
const FA1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const FA2: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const KEY: &[u8] = b"0987654";
const SPI: u32 = 0x102;
const FA_KEY: &[u8] = b"fa-secret";

fn sa(spi: u32, key: &[u8], algorithm: Algorithm) -> SecurityAssociation {
    SecurityAssociation {
        spi,
        key: key.to_vec(),
        algorithm,
        replay_window: Duration::from_secs(7),
    }
}

fn config() -> HomeAgentConfig {
    let mut c = HomeAgentConfig {
        networks: vec![HomeNetwork {
            interface: "FastEthernet0".into(),
            address: HA,
            prefix_len: 24,
        }],
        max_lifetime: 600,
        ..Default::default()
    };
    c.hosts
        .insert(
            Ipv4Addr::new(10, 1, 0, 10),
            Ipv4Addr::new(10, 1, 0, 99),
            MobileHost {
                interface: "FastEthernet0".into(),
                lifetime: None,
            },
        )
        .unwrap();
    c.host_sas
        .insert(
            Ipv4Addr::new(10, 1, 0, 10),
            Ipv4Addr::new(10, 1, 0, 99),
            sa(SPI, KEY, Algorithm::KeyedMd5PrefixSuffix),
        )
        .unwrap();
    c
}

/// A simulated clock: 2026-11-25 by the time of day, zero monotonic.
fn t0() -> Now {
    Now::new(Instant::ZERO, Duration::from_secs(1_795_564_800))
}

struct Rrq {
    flags: RequestFlags,
    lifetime: u16,
    home: Ipv4Addr,
    ha: Ipv4Addr,
    coa: Ipv4Addr,
    ident: u64,
    spi: u32,
    key: &'static [u8],
    fhae: Option<(u32, &'static [u8])>,
}

impl Rrq {
    fn new(now: Now, coa: Ipv4Addr) -> Rrq {
        Rrq {
            flags: RequestFlags::default(),
            lifetime: 300,
            home: MN,
            ha: HA,
            coa,
            ident: Identification::from_unix(now.unix).0,
            spi: SPI,
            key: KEY,
            fhae: None,
        }
    }
    fn bytes(&self) -> Vec<u8> {
        let mut m = RequestRepr {
            flags: self.flags,
            lifetime: self.lifetime,
            home_address: self.home,
            home_agent: self.ha,
            care_of_address: self.coa,
            identification: Identification(self.ident),
            extensions: Extensions::new(),
        }
        .to_vec();
        extension::append_authentication(
            &mut m,
            kind::MOBILE_HOME_AUTH,
            self.spi,
            Algorithm::KeyedMd5PrefixSuffix,
            self.key,
        );
        if let Some((spi, key)) = self.fhae {
            extension::append_authentication(
                &mut m,
                kind::FOREIGN_HOME_AUTH,
                spi,
                Algorithm::HmacMd5,
                key,
            );
        }
        m
    }
}

fn send(ha: &mut HomeAgent, now: Now, from: Ipv4Addr, dst: Ipv4Addr, msg: &[u8]) -> Vec<Action> {
    let mut out = Vec::new();
    ha.handle_datagram(now, SocketAddrV4::new(from, 434), dst, msg, &mut out);
    out
}

/// The reply among the actions, parsed, with the raw bytes.
fn reply(actions: &[Action]) -> (ReplyRepr<'static>, Vec<u8>) {
    let bytes = actions
        .iter()
        .find_map(|a| match a {
            Action::Send { payload, .. } if payload[0] == registration::TYPE_REPLY => {
                Some(payload.clone())
            }
            _ => None,
        })
        .expect("a registration reply");
    let leaked: &'static [u8] = Box::leak(bytes.clone().into_boxed_slice());
    let p: &'static ReplyPacket<&'static [u8]> =
        Box::leak(Box::new(ReplyPacket::new_unchecked(leaked)));
    (ReplyRepr::parse(p).unwrap(), bytes)
}

fn reply_mhae_verifies(bytes: &[u8], key: &[u8]) -> bool {
    registration::find_extension(bytes, registration::REPLY_LEN, kind::MOBILE_HOME_AUTH)
        .is_some_and(|at| {
            extension::verify_authentication(bytes, at, Algorithm::KeyedMd5PrefixSuffix, key)
        })
}

fn register(ha: &mut HomeAgent, now: Now, coa: Ipv4Addr) -> Vec<Action> {
    send(ha, now, coa, HA, &Rrq::new(now, coa).bytes())
}

#[test]
fn registration_creates_a_binding_and_a_signed_reply() {
    let mut ha = HomeAgent::new(config());
    let out = register(&mut ha, t0(), FA1);
    let (r, bytes) = reply(&out);
    assert_eq!(r.code, ReplyCode::Accepted);
    assert_eq!(r.lifetime, 300);
    assert_eq!((r.home_address, r.home_agent), (MN, HA));
    assert!(
        reply_mhae_verifies(&bytes, KEY),
        "reply authenticated with the MN's SA"
    );
    let up = out.iter().find_map(|a| match a {
        Action::BindingUp {
            binding,
            interface,
            first,
        } => Some((binding.clone(), interface.clone(), *first)),
        _ => None,
    });
    let (b, intf, first) = up.expect("binding installed");
    assert!(first);
    assert_eq!(intf, "FastEthernet0");
    assert_eq!(
        (b.home_address, b.care_of_address, b.encapsulation),
        (MN, FA1, Encapsulation::IpInIp)
    );
    assert_eq!(ha.bindings().len(), 1);
    assert_eq!(ha.counters.accepted, 1);
    // Replies go back where the request came from, from our address.
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::Send { from, to, .. } if *from == HA && *to.ip() == FA1))
    );
}

#[test]
fn reregistration_renews_and_expiry_removes() {
    let mut ha = HomeAgent::new(config());
    let now = t0();
    register(&mut ha, now, FA1);
    assert_eq!(ha.poll_timeout(), Some(Instant::from_secs(300)));
    let later = now.advance(Duration::from_secs(200));
    let out = register(&mut ha, later, FA1);
    assert_eq!(reply(&out).0.code, ReplyCode::Accepted);
    assert!(
        !out.iter().any(|a| matches!(a, Action::BindingUp { .. })),
        "renewal changes nothing installed"
    );
    assert_eq!(ha.poll_timeout(), Some(Instant::from_secs(500)));
    let mut out = Vec::new();
    ha.handle_timeout(now.advance(Duration::from_secs(499)), &mut out);
    assert!(out.is_empty());
    ha.handle_timeout(now.advance(Duration::from_secs(500)), &mut out);
    assert!(matches!(&out[..], [Action::BindingDown { last: true, .. }]));
    assert!(ha.bindings().is_empty());
    assert_eq!(ha.counters.expired, 1);
}

#[test]
fn lifetime_is_clamped() {
    let mut c = config();
    let mut ha = HomeAgent::new(c.clone());
    let mut r = Rrq::new(t0(), FA1);
    r.lifetime = 0xffff;
    assert_eq!(
        reply(&send(&mut ha, t0(), FA1, HA, &r.bytes())).0.lifetime,
        600
    );
    // A per-host limit wins when lower.
    c.hosts = Default::default();
    c.hosts
        .insert(
            MN,
            MN,
            MobileHost {
                interface: "FastEthernet0".into(),
                lifetime: Some(120),
            },
        )
        .unwrap();
    let mut ha = HomeAgent::new(c);
    assert_eq!(
        reply(&send(&mut ha, t0(), FA1, HA, &r.bytes())).0.lifetime,
        120
    );
}

#[test]
fn replayed_and_stale_identifications_get_133_with_our_time() {
    let mut ha = HomeAgent::new(config());
    let now = t0();
    let r = Rrq::new(now, FA1);
    send(&mut ha, now, FA1, HA, &r.bytes());
    // The same request again: a replay.
    let (rep, bytes) = reply(&send(
        &mut ha,
        now.advance(Duration::from_secs(1)),
        FA1,
        HA,
        &r.bytes(),
    ));
    assert_eq!(rep.code, ReplyCode::IdentificationMismatch);
    assert!(reply_mhae_verifies(&bytes, KEY));
    // A clock 1000 s behind: 133 carries our time, low bits echoed.
    let mut stale = Rrq::new(now, FA1);
    stale.ident = Identification::from_unix(now.unix - Duration::from_secs(1000)).0 | 0xabcd;
    let (rep, _) = reply(&send(&mut ha, now, FA1, HA, &stale.bytes()));
    assert_eq!(rep.code, ReplyCode::IdentificationMismatch);
    assert_eq!(rep.identification.low(), (stale.ident & 0xffff_ffff) as u32);
    assert_eq!(
        rep.identification.seconds(),
        Identification::from_unix(now.unix).seconds()
    );
    // The sender resynchronises from the reply and is accepted.
    let offset = Identification::resync_offset(rep.identification, Identification(stale.ident));
    assert_eq!(offset, 1000);
    let mut fixed = stale;
    fixed.ident = Identification::from_unix(
        now.unix - Duration::from_secs(1000) + Duration::from_secs(offset as u64),
    )
    .0 + 5;
    let (rep, _) = reply(&send(&mut ha, now, FA1, HA, &fixed.bytes()));
    assert_eq!(rep.code, ReplyCode::Accepted);
    assert_eq!(ha.counters.denied.get(&133), Some(&2));
}

#[test]
fn authentication_failures_get_131_unsigned() {
    let mut ha = HomeAgent::new(config());
    let now = t0();
    let mut bad_spi = Rrq::new(now, FA1);
    bad_spi.spi = 0x999;
    let (rep, bytes) = reply(&send(&mut ha, now, FA1, HA, &bad_spi.bytes()));
    assert_eq!(rep.code, ReplyCode::MobileNodeFailedAuthenticationHa);
    assert!(
        registration::find_extension(&bytes, registration::REPLY_LEN, kind::MOBILE_HOME_AUTH)
            .is_none()
    );
    let mut bad_key = Rrq::new(now, FA1);
    bad_key.key = b"wrong";
    assert_eq!(
        reply(&send(&mut ha, now, FA1, HA, &bad_key.bytes())).0.code,
        ReplyCode::MobileNodeFailedAuthenticationHa
    );
    // No MHAE at all.
    let unsigned = RequestRepr {
        flags: RequestFlags::default(),
        lifetime: 300,
        home_address: MN,
        home_agent: HA,
        care_of_address: FA1,
        identification: Identification::from_unix(now.unix),
        extensions: Extensions::new(),
    }
    .to_vec();
    assert_eq!(
        reply(&send(&mut ha, now, FA1, HA, &unsigned)).0.code,
        ReplyCode::MobileNodeFailedAuthenticationHa
    );
    assert!(ha.bindings().is_empty());
    assert_eq!(ha.counters.denied.get(&131), Some(&3));
}

#[test]
fn unknown_home_address_is_prohibited() {
    let mut ha = HomeAgent::new(config());
    let mut r = Rrq::new(t0(), FA1);
    r.home = Ipv4Addr::new(10, 1, 0, 200);
    assert_eq!(
        reply(&send(&mut ha, t0(), FA1, HA, &r.bytes())).0.code,
        ReplyCode::AdministrativelyProhibitedHa
    );
}

#[test]
fn foreign_agent_authentication_when_an_sa_exists() {
    let mut c = config();
    c.foreign_agent_sas
        .insert(FA1, sa(0x300, FA_KEY, Algorithm::HmacMd5));
    let mut ha = HomeAgent::new(c);
    let now = t0();
    let (rep, _) = reply(&register(&mut ha, now, FA1));
    assert_eq!(rep.code, ReplyCode::ForeignAgentFailedAuthentication);
    let mut r = Rrq::new(now, FA1);
    r.fhae = Some((0x300, FA_KEY));
    let (rep, bytes) = reply(&send(&mut ha, now, FA1, HA, &r.bytes()));
    assert_eq!(rep.code, ReplyCode::Accepted);
    let at = registration::find_extension(&bytes, registration::REPLY_LEN, kind::FOREIGN_HOME_AUTH)
        .expect("FHAE in reply");
    assert!(extension::verify_authentication(
        &bytes,
        at,
        Algorithm::HmacMd5,
        FA_KEY
    ));
    let mut wrong = Rrq::new(now, FA1);
    wrong.ident += 10;
    wrong.fhae = Some((0x300, b"nope"));
    assert_eq!(
        reply(&send(&mut ha, now, FA1, HA, &wrong.bytes())).0.code,
        ReplyCode::ForeignAgentFailedAuthentication
    );
}

#[test]
fn broadcast_request_gets_136_with_our_unicast_address() {
    let mut ha = HomeAgent::new(config());
    let now = t0();
    let mut r = Rrq::new(now, FA1);
    r.ha = BCAST;
    let (rep, _) = reply(&send(&mut ha, now, FA1, BCAST, &r.bytes()));
    assert_eq!(rep.code, ReplyCode::UnknownHomeAgentAddress);
    assert_eq!(rep.home_agent, HA);
    // The AAP's liveness probe: a bad SPI to the broadcast address still
    // gets an answer (a denial is a reply).
    let mut probe = Rrq::new(now, FA1);
    probe.ha = BCAST;
    probe.spi = 0xdead;
    let out = send(&mut ha, now, FA1, BCAST, &probe.bytes());
    assert_eq!(
        reply(&out).0.code,
        ReplyCode::MobileNodeFailedAuthenticationHa
    );
    // A Home Agent field that is not ours.
    let mut other = Rrq::new(now, FA1);
    other.ha = Ipv4Addr::new(10, 1, 0, 2);
    other.ident += 1;
    assert_eq!(
        reply(&send(&mut ha, now, FA1, HA, &other.bytes())).0.code,
        ReplyCode::UnknownHomeAgentAddress
    );
    assert!(ha.bindings().is_empty());
}

#[test]
fn encapsulation_and_reverse_tunnel_requests() {
    let now = t0();
    let mut ha = HomeAgent::new(config());
    let mut r = Rrq::new(now, FA1);
    r.flags.minimal_encapsulation = true;
    assert_eq!(
        reply(&send(&mut ha, now, FA1, HA, &r.bytes())).0.code,
        ReplyCode::EncapsulationUnavailableHa
    );

    let mut c = config();
    c.reverse_tunnel = false;
    let mut ha = HomeAgent::new(c);
    let mut r = Rrq::new(now, FA1);
    r.flags.reverse_tunnel = true;
    assert_eq!(
        reply(&send(&mut ha, now, FA1, HA, &r.bytes())).0.code,
        ReplyCode::ReverseTunnelUnavailableHa
    );

    let mut ha = HomeAgent::new(config());
    let mut r = Rrq::new(now, FA1);
    r.flags.reverse_tunnel = true;
    r.flags.gre = true;
    let out = send(&mut ha, now, FA1, HA, &r.bytes());
    assert_eq!(reply(&out).0.code, ReplyCode::Accepted);
    let b = &ha.bindings().get(MN)[0];
    assert!(b.reverse_tunnel);
    assert!(matches!(b.encapsulation, Encapsulation::Gre { .. }));
}

#[test]
fn deregistration_by_lifetime_zero_and_by_home_address() {
    let now = t0();
    let mut ha = HomeAgent::new(config());
    register(&mut ha, now, FA1);
    let mut d = Rrq::new(now, FA1);
    d.lifetime = 0;
    d.ident += 1;
    let out = send(&mut ha, now, FA1, HA, &d.bytes());
    assert_eq!(reply(&out).0.code, ReplyCode::Accepted);
    assert_eq!(reply(&out).0.lifetime, 0);
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::BindingDown { last: true, .. }))
    );
    assert!(ha.bindings().is_empty());

    // Back home: care-of address = home address removes every binding.
    register(&mut ha, now.advance(Duration::from_secs(1)), FA1);
    let mut home = Rrq::new(now.advance(Duration::from_secs(2)), MN);
    home.lifetime = 0;
    let out = send(
        &mut ha,
        now.advance(Duration::from_secs(2)),
        MN,
        HA,
        &home.bytes(),
    );
    assert_eq!(reply(&out).0.code, ReplyCode::Accepted);
    assert!(ha.bindings().is_empty());
    assert_eq!(ha.counters.deregistrations, 2);
}

#[test]
fn care_of_change_sends_a_binding_update_to_the_previous_fa() {
    let mut c = config();
    c.foreign_agent_sas
        .insert(FA1, sa(0x300, FA_KEY, Algorithm::HmacMd5));
    c.bind_update = Some(BindUpdatePolicy {
        ack: true,
        retry_interval: Duration::from_secs(1),
        retries: 2,
    });
    let mut ha = HomeAgent::new(c);
    let now = t0();
    let mut r = Rrq::new(now, FA1);
    r.fhae = Some((0x300, FA_KEY));
    send(&mut ha, now, FA1, HA, &r.bytes());
    // The client roams to FA2.
    let now2 = now.advance(Duration::from_secs(10));
    let out = register(&mut ha, now2, FA2);
    assert_eq!(reply(&out).0.code, ReplyCode::Accepted);
    assert!(out.iter().any(|a| matches!(a, Action::BindingDown { binding, last: false, .. } if binding.care_of_address == FA1)));
    assert!(out.iter().any(|a| matches!(a, Action::BindingUp { binding, first: false, .. } if binding.care_of_address == FA2)));
    let bu = out
        .iter()
        .find_map(|a| match a {
            Action::Send { to, payload, .. } if *to.ip() == FA1 && payload[0] == 18 => {
                Some(payload.clone())
            }
            _ => None,
        })
        .expect("Binding Update to the previous FA");
    let u = UpdateRepr::parse(&bu).unwrap();
    assert!(u.acknowledge);
    assert_eq!((u.home_address, u.care_of_address), (MN, FA2));
    let at = bu.len() - 22;
    assert!(extension::verify_authentication(
        &bu,
        at,
        Algorithm::HmacMd5,
        FA_KEY
    ));

    // No acknowledge: retried, then given up.
    let mut out = Vec::new();
    ha.handle_timeout(now2.advance(Duration::from_secs(1)), &mut out);
    assert_eq!(
        out.iter()
            .filter(|a| matches!(a, Action::Send { .. }))
            .count(),
        1
    );
    // The acknowledge stops the retries.
    let ack = AckRepr {
        negative: false,
        reserved: 0,
        home_address: MN,
        identification: u.identification,
        extensions: Extensions::new(),
    }
    .to_vec();
    send(&mut ha, now2, FA1, HA, &ack);
    assert_eq!(ha.counters.bind_acks_received, 1);
    let mut out = Vec::new();
    ha.handle_timeout(now2.advance(Duration::from_secs(5)), &mut out);
    assert!(out.iter().all(|a| !matches!(a, Action::Send { .. })));
}

#[test]
fn simultaneous_bindings_keep_both_care_of_addresses() {
    let now = t0();
    let mut ha = HomeAgent::new(config());
    let mut a = Rrq::new(now, FA1);
    a.flags.simultaneous = true;
    send(&mut ha, now, FA1, HA, &a.bytes());
    let mut b = Rrq::new(now.advance(Duration::from_secs(1)), FA2);
    b.flags.simultaneous = true;
    let out = send(
        &mut ha,
        now.advance(Duration::from_secs(1)),
        FA2,
        HA,
        &b.bytes(),
    );
    assert_eq!(reply(&out).0.code, ReplyCode::Accepted);
    assert_eq!(ha.bindings().get(MN).len(), 2);
}

#[test]
fn poorly_formed_and_garbage() {
    let now = t0();
    let mut ha = HomeAgent::new(config());
    // A non-skippable unknown extension: 134 about the home address named.
    let mut m = Rrq::new(now, FA1).bytes();
    m.truncate(registration::REQUEST_LEN);
    m.extend_from_slice(&[99, 0]);
    assert_eq!(
        reply(&send(&mut ha, now, FA1, HA, &m)).0.code,
        ReplyCode::PoorlyFormedRequest
    );
    // Too short to answer: dropped and counted.
    assert!(send(&mut ha, now, FA1, HA, &[1, 0, 0]).is_empty());
    assert!(send(&mut ha, now, FA1, HA, &[]).is_empty());
    assert!(send(&mut ha, now, FA1, HA, &[77; 40]).is_empty());
    assert_eq!(ha.counters.dropped.values().sum::<u64>(), 3);
    // Valid registrations are still served.
    assert_eq!(
        reply(&register(&mut ha, now, FA1)).0.code,
        ReplyCode::Accepted
    );
}

mod garbage {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic_nor_bind(b in prop::collection::vec(any::<u8>(), 0..120), first in prop_oneof![Just(1u8), Just(19u8), any::<u8>()]) {
            let mut ha = HomeAgent::new(config());
            let mut b = b;
            if let Some(f) = b.first_mut() { *f = first; }
            let mut out = Vec::new();
            ha.handle_datagram(t0(), SocketAddrV4::new(FA1, 434), HA, &b, &mut out);
            prop_assert!(ha.bindings().is_empty(), "unauthenticated bytes never create a binding");
        }
    }
}

/// `ip mobile host ... aaa`: no local SA; the request waits for the AAA
/// server's association, is accepted with it, and a failure denies with
/// 131. With `aaa load-sa` a re-registration does not ask again.
#[test]
fn associations_from_the_aaa_server() {
    for lifetime in [Duration::ZERO, Duration::from_secs(600)] {
        let mut c = config();
        c.host_sas = Default::default();
        c.aaa_hosts
            .insert(Ipv4Addr::new(10, 1, 0, 10), Ipv4Addr::new(10, 1, 0, 99), ())
            .unwrap();
        c.aaa_cache_lifetime = lifetime;
        let mut ha = HomeAgent::new(c);
        let now = t0();
        let out = send(&mut ha, now, FA1, HA, &Rrq::new(now, FA1).bytes());
        assert_eq!(out, vec![Action::FetchSa { home: MN }], "waits, asks once");
        // A retransmission while waiting does not ask again.
        let later = now.advance(Duration::from_millis(10));
        let mut again = Rrq::new(later, FA1);
        again.ident += 1;
        assert!(send(&mut ha, later, FA1, HA, &again.bytes()).is_empty());
        let mut out = Vec::new();
        ha.sa_result(
            later,
            MN,
            Ok(sa(SPI, KEY, Algorithm::KeyedMd5PrefixSuffix)),
            &mut out,
        );
        let replies: Vec<_> = out
            .iter()
            .filter(|a| matches!(a, Action::Send { .. }))
            .collect();
        assert_eq!(replies.len(), 2, "both waiting requests answered");
        assert_eq!(reply(&out).0.code, ReplyCode::Accepted);
        assert_eq!(ha.bindings().get(MN).len(), 1);
        assert_eq!(ha.counters.requests, 2, "each counted once");

        // Re-registration: cached with `load-sa`, asked again without.
        let t2 = now.advance(Duration::from_secs(2));
        let out = send(&mut ha, t2, FA1, HA, &Rrq::new(t2, FA1).bytes());
        if lifetime.is_zero() {
            assert_eq!(out, vec![Action::FetchSa { home: MN }]);
            // The server fails now: denied with 131, logged, not bound anew.
            let mut out = Vec::new();
            ha.sa_result(
                t2,
                MN,
                Err("no answer from any RADIUS server".into()),
                &mut out,
            );
            assert_eq!(
                reply(&out).0.code,
                ReplyCode::MobileNodeFailedAuthenticationHa
            );
            assert_eq!(ha.counters.aaa_failures, 1);
        } else {
            assert_eq!(reply(&out).0.code, ReplyCode::Accepted, "from the cache");
            assert!(!out.iter().any(|a| matches!(a, Action::FetchSa { .. })));
        }
    }
}

/// Each failed security check is logged with its MIP-MIB reason; the log
/// keeps the last 64, the totals count them all.
#[test]
fn violations_are_logged_with_their_reason_and_bounded() {
    use pmip_engine::home_agent::{ViolationLog, ViolationReason};
    let mut ha = HomeAgent::new(config());
    let now = t0();
    let wrong_key = Rrq {
        key: b"wrong",
        ..Rrq::new(now, FA1)
    };
    let wrong_spi = Rrq {
        spi: 0x999,
        ..Rrq::new(now, FA1)
    };
    let stale = Rrq {
        ident: Identification::from_unix(now.unix - Duration::from_secs(3600)).0,
        ..Rrq::new(now, FA1)
    };
    for (r, code, reason) in [
        (
            &wrong_key,
            ReplyCode::MobileNodeFailedAuthenticationHa,
            ViolationReason::BadAuthenticator,
        ),
        (
            &wrong_spi,
            ReplyCode::MobileNodeFailedAuthenticationHa,
            ViolationReason::BadSpi,
        ),
        (
            &stale,
            ReplyCode::IdentificationMismatch,
            ViolationReason::BadIdentification,
        ),
    ] {
        let out = send(&mut ha, now, FA1, HA, &r.bytes());
        assert_eq!(reply(&out).0.code, code);
        let last = ha.violations.recent().last().unwrap();
        assert_eq!(
            (last.reason, last.source, last.home_address),
            (reason, FA1, MN)
        );
        assert_eq!(last.code, u8::from(code));
    }
    assert_eq!(ha.violations.recent().last().unwrap().spi, SPI);
    for _ in 0..100 {
        send(&mut ha, now, FA1, HA, &wrong_key.bytes());
    }
    assert_eq!(ha.violations.recent().count(), ViolationLog::CAPACITY);
    assert_eq!(ha.violations.total, 103);
    assert_eq!(
        ha.violations.by_reason[&ViolationReason::BadAuthenticator],
        101
    );
    // The host's own counters: denied 103, the last code 131.
    let c = &ha.host_counters()[&MN];
    assert_eq!((c.denied, c.accepted, c.violations), (103, 0, 103));
    assert_eq!(c.last_code.map(|(c, _)| c), Some(131));
    // A good one after: accepted, its code 0.
    let out = send(&mut ha, now, FA1, HA, &Rrq::new(now, FA1).bytes());
    assert!(reply(&out).0.code.is_accepted());
    assert_eq!(ha.host_counters()[&MN].last_code.map(|(c, _)| c), Some(0));
    // clear ip mobile traffic leaves the log and the host counters.
    ha.clear_counters();
    assert_eq!(ha.counters.requests, 0);
    assert_eq!(ha.violations.total, 103);
    assert_eq!(ha.host_counters()[&MN].accepted, 1);
}

/// Per-host counters only for configured hosts, and at most
/// MAX_HOST_COUNTERS of them without a binding however many hosts a range
/// holds; every host with a binding keeps its counters.
#[test]
fn host_counters_are_bounded() {
    use pmip_engine::home_agent::MAX_HOST_COUNTERS;
    let mut c = config();
    c.networks[0].prefix_len = 16;
    c.hosts = Default::default();
    c.hosts
        .insert(
            Ipv4Addr::new(10, 1, 0, 1),
            Ipv4Addr::new(10, 1, 255, 254),
            MobileHost {
                interface: "FastEthernet0".into(),
                lifetime: None,
            },
        )
        .unwrap();
    let mut ha = HomeAgent::new(c);
    let now = t0();
    for i in 0..(MAX_HOST_COUNTERS as u32 + 500) {
        let r = Rrq {
            home: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 1, 0, 2)) + i),
            ..Rrq::new(now, FA1)
        };
        send(&mut ha, now, FA1, HA, &r.bytes());
    }
    // Denied (no SA for them): idle, and bounded; the longest idle are
    // dropped an eighth of the bound at a time.
    let n = ha.host_counters().len();
    assert!(
        n <= MAX_HOST_COUNTERS && n > MAX_HOST_COUNTERS - MAX_HOST_COUNTERS / 8,
        "{n}"
    );
    assert!(
        ha.host_counters().contains_key(&Ipv4Addr::from(
            u32::from(Ipv4Addr::new(10, 1, 0, 2)) + MAX_HOST_COUNTERS as u32 + 499
        )),
        "the latest host has its counters"
    );
    // A host outside every range gets none.
    let r = Rrq {
        home: Ipv4Addr::new(10, 9, 0, 1),
        ..Rrq::new(now, FA1)
    };
    send(&mut ha, now, FA1, HA, &r.bytes());
    assert!(!ha.host_counters().contains_key(&Ipv4Addr::new(10, 9, 0, 1)));
}

/// Hosts with bindings keep their counters past MAX_HOST_COUNTERS (and
/// registering them does not slow down as the table grows).
#[test]
fn bound_hosts_keep_their_counters_past_the_bound() {
    use pmip_engine::home_agent::MAX_HOST_COUNTERS;
    let mut c = config();
    c.networks[0].prefix_len = 16;
    let (lo, hi) = (Ipv4Addr::new(10, 1, 1, 1), Ipv4Addr::new(10, 1, 255, 254));
    c.hosts
        .insert(
            lo,
            hi,
            MobileHost {
                interface: "FastEthernet0".into(),
                lifetime: None,
            },
        )
        .unwrap();
    c.host_sas
        .insert(lo, hi, sa(SPI, KEY, Algorithm::KeyedMd5PrefixSuffix))
        .unwrap();
    let mut ha = HomeAgent::new(c);
    let now = t0();
    let count = MAX_HOST_COUNTERS as u32 * 2;
    let started = std::time::Instant::now();
    for i in 0..count {
        let r = Rrq {
            home: Ipv4Addr::from(u32::from(lo) + i),
            ..Rrq::new(now, FA1)
        };
        let (rep, _) = reply(&send(&mut ha, now, FA1, HA, &r.bytes()));
        assert_eq!(rep.code, ReplyCode::Accepted);
    }
    eprintln!(
        "{count} registrations of distinct hosts in {:?}",
        started.elapsed()
    );
    assert_eq!(ha.bindings().len(), count as usize);
    assert_eq!(ha.host_counters().len(), count as usize);
    assert!(ha.host_counters().values().all(|h| h.accepted == 1));
}
