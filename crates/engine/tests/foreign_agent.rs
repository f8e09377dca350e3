//! The foreign agent engine with simulated time: advertisements, every
//! relay step and denial, pending timeout, reply without request, visitor
//! expiry and Binding Updates.

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use pmip_engine::foreign_agent::{
    AccessEntry, AccessList, Action, ForeignAgent, ForeignAgentConfig, FromVisitor,
    ServiceInterface, ServiceOptions, Visitor,
};
use pmip_engine::security::SecurityAssociation;
use pmip_engine::time::{Instant, Now};
use pmip_wire::auth::Algorithm;
use pmip_wire::binding_update::{AckRepr, UpdateRepr};
use pmip_wire::extension::{self, Extensions, kind};
use pmip_wire::icmp;
use pmip_wire::identification::Identification;
use pmip_wire::registration::{
    self, ReplyCode, ReplyPacket, ReplyRepr, RequestFlags, RequestPacket, RequestRepr,
};
use pmip_wire::tunnel::Encapsulation;

const FA: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const HA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const MN: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);
const MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x50];
const MN_KEY: &[u8] = b"mn-ha";
const HA_KEY: &[u8] = b"fa-ha";
const V_KEY: &[u8] = b"mn-fa";

fn sa(spi: u32, key: &[u8]) -> SecurityAssociation {
    SecurityAssociation {
        spi,
        key: key.to_vec(),
        algorithm: Algorithm::HmacMd5,
        replay_window: Duration::from_secs(7),
    }
}

fn intf() -> ServiceInterface {
    ServiceInterface {
        name: "FastEthernet0".into(),
        address: FA,
        prefix_len: 24,
        registration_lifetime: 600,
        registration_required: true,
        reverse_tunnel: true,
        reverse_tunnel_mandatory: false,
        advertise: true,
        min_advert_interval: Duration::from_secs(3),
        max_advert_interval: Duration::from_secs(4),
        holdtime: 12,
        home_agent: false,
        visitor_limit: None,
    }
}

fn config() -> ForeignAgentConfig {
    ForeignAgentConfig {
        interfaces: vec![intf()],
        care_of_address: FA,
        reg_wait: Duration::from_secs(15),
        ..Default::default()
    }
}

fn t0() -> Now {
    Now::new(Instant::ZERO, Duration::from_secs(1_795_564_800))
}

struct Rrq {
    flags: RequestFlags,
    lifetime: u16,
    coa: Ipv4Addr,
    ident: u64,
    mfae: Option<(u32, &'static [u8])>,
}

impl Rrq {
    fn new() -> Rrq {
        Rrq {
            flags: RequestFlags::default(),
            lifetime: 300,
            coa: FA,
            ident: Identification::from_unix(t0().unix).0,
            mfae: None,
        }
    }
    fn bytes(&self) -> Vec<u8> {
        let mut m = RequestRepr {
            flags: self.flags,
            lifetime: self.lifetime,
            home_address: MN,
            home_agent: HA,
            care_of_address: self.coa,
            identification: Identification(self.ident),
            extensions: Extensions::new(),
        }
        .to_vec();
        extension::append_authentication(
            &mut m,
            kind::MOBILE_HOME_AUTH,
            0x100,
            Algorithm::HmacMd5,
            MN_KEY,
        );
        if let Some((spi, key)) = self.mfae {
            extension::append_authentication(
                &mut m,
                kind::MOBILE_FOREIGN_AUTH,
                spi,
                Algorithm::HmacMd5,
                key,
            );
        }
        m
    }
}

fn from_mn(fa: &mut ForeignAgent, now: Now, payload: &[u8]) -> Vec<Action> {
    let mut out = Vec::new();
    fa.handle_from_visitor(
        now,
        FromVisitor {
            interface: "FastEthernet0",
            mac: MAC,
            src: SocketAddrV4::new(MN, 434),
            payload,
        },
        &mut out,
    );
    out
}

fn to_mn(out: &[Action]) -> Option<ReplyRepr<'static>> {
    out.iter().find_map(|a| match a {
        Action::SendToVisitor {
            mac,
            to,
            payload,
            from,
            ..
        } => {
            assert_eq!(*mac, MAC, "sent to the MAC learned from the request");
            assert_eq!(*to, SocketAddrV4::new(MN, 434));
            assert_eq!(*from, FA);
            let b: &'static [u8] = Box::leak(payload.clone().into_boxed_slice());
            Some(ReplyRepr::parse(&ReplyPacket::new_unchecked(b)).unwrap())
        }
        _ => None,
    })
}

fn relayed(out: &[Action]) -> Option<Vec<u8>> {
    out.iter().find_map(|a| match a {
        Action::SendToNetwork { from, to, payload } => {
            assert_eq!(*from, FA);
            assert_eq!(*to, SocketAddrV4::new(HA, 434));
            Some(payload.clone())
        }
        _ => None,
    })
}

fn ha_reply(code: ReplyCode, lifetime: u16, ident: u64, fhae: Option<&[u8]>) -> Vec<u8> {
    let mut m = ReplyRepr {
        code,
        lifetime,
        home_address: MN,
        home_agent: HA,
        identification: Identification(ident),
        extensions: Extensions::new(),
    }
    .to_vec();
    extension::append_authentication(
        &mut m,
        kind::MOBILE_HOME_AUTH,
        0x100,
        Algorithm::HmacMd5,
        MN_KEY,
    );
    if let Some(key) = fhae {
        extension::append_authentication(
            &mut m,
            kind::FOREIGN_HOME_AUTH,
            0x200,
            Algorithm::HmacMd5,
            key,
        );
    }
    m
}

fn from_ha(fa: &mut ForeignAgent, now: Now, payload: &[u8]) -> Vec<Action> {
    let mut out = Vec::new();
    fa.handle_from_network(now, SocketAddrV4::new(HA, 434), payload, &mut out);
    out
}

fn advert(out: &[Action]) -> icmp::Advertisement<'static> {
    let payload = out
        .iter()
        .find_map(|a| match a {
            Action::Advertise { payload, .. } => Some(payload.clone()),
            _ => None,
        })
        .expect("an advertisement");
    let b: &'static [u8] = Box::leak(payload.into_boxed_slice());
    match icmp::Repr::parse(&icmp::Packet::new_checked(b).unwrap()).unwrap() {
        icmp::Repr::Advertisement(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn periodic_advertisements_and_solicitations() {
    let mut fa = ForeignAgent::new(config());
    assert_eq!(
        fa.poll_timeout(),
        Some(Instant::ZERO),
        "the first advertisement is due at start"
    );
    let mut out = Vec::new();
    fa.handle_timeout(t0(), &mut out);
    let a = advert(&out);
    let m = a.mobility_agent().unwrap();
    assert_eq!(m.sequence, 0, "starts at 0 after boot");
    assert_eq!(m.registration_lifetime, 600);
    assert!(
        m.flags.foreign_agent
            && m.flags.registration_required
            && m.flags.reverse_tunnel
            && m.flags.gre
    );
    assert!(!m.flags.home_agent && !m.flags.busy);
    assert_eq!(m.care_of_addresses.as_slice(), &[FA]);
    assert_eq!(a.routers[0], (FA, 0), "preference 0 by default");
    assert_eq!(a.lifetime, 12);
    assert_eq!(a.prefix_lengths(), Some(&[24u8][..]));
    assert!(
        matches!(&out[0], Action::Advertise { to, .. } if *to == Ipv4Addr::BROADCAST),
        "to the limited broadcast, as IOS without `ip irdp multicast`"
    );
    // The next one is due between min and max interval.
    let next = fa.poll_timeout().unwrap();
    assert!(
        next >= Instant::from_secs(3) && next <= Instant::from_secs(4),
        "{next:?}"
    );
    let mut out = Vec::new();
    fa.handle_timeout(t0().advance(Duration::from_secs(2)), &mut out);
    assert!(out.is_empty());
    // A solicitation is answered at once, to the asker.
    let mut out = Vec::new();
    fa.handle_solicitation(
        t0(),
        "FastEthernet0",
        Ipv4Addr::new(198, 51, 100, 20),
        &mut out,
    );
    assert_eq!(advert(&out).mobility_agent().unwrap().sequence, 1);
    assert!(
        matches!(&out[0], Action::Advertise { to, .. } if *to == Ipv4Addr::new(198, 51, 100, 20))
    );
    assert_eq!(fa.counters.solicitations, 1);
}

#[test]
fn sequence_wraps_to_256() {
    let mut fa = ForeignAgent::new(config());
    let mut last = 0;
    for _ in 0..=65536u32 {
        let mut out = Vec::new();
        fa.handle_solicitation(t0(), "FastEthernet0", FA, &mut out);
        last = advert(&out).mobility_agent().unwrap().sequence;
        if last == 256 && fa.counters.advertisements > 300 {
            break;
        }
    }
    assert_eq!(last, 256, "after 0xffff comes 256, not 0 (RFC 5944 2.1.1)");
}

#[test]
fn relay_reply_and_visitor() {
    let mut c = config();
    c.home_agent_sas.insert(HA, sa(0x200, HA_KEY));
    c.visitor_sas.insert(MN, MN, sa(0x300, V_KEY)).unwrap();
    let mut fa = ForeignAgent::new(c);
    let mut r = Rrq::new();
    r.mfae = Some((0x300, V_KEY));
    r.flags.reverse_tunnel = true;
    r.flags.gre = true;
    let out = from_mn(&mut fa, t0(), &r.bytes());
    let relay = relayed(&out).expect("relayed to the home agent");
    // MHAE kept, MFAE removed, FHAE appended and valid.
    let p = RequestPacket::new_checked(&relay[..]).unwrap();
    let kinds: Vec<u8> = RequestRepr::parse(&p)
        .unwrap()
        .extensions
        .iter()
        .map(|e| e.kind())
        .collect();
    assert_eq!(kinds, vec![kind::MOBILE_HOME_AUTH, kind::FOREIGN_HOME_AUTH]);
    let at =
        registration::find_extension(&relay, registration::REQUEST_LEN, kind::FOREIGN_HOME_AUTH)
            .unwrap();
    assert!(extension::verify_authentication(
        &relay,
        at,
        Algorithm::HmacMd5,
        HA_KEY
    ));
    assert!(
        extension::verify_authentication(&relay, 24, Algorithm::HmacMd5, MN_KEY),
        "MHAE untouched"
    );
    assert_eq!(fa.pending_count(), 1);

    let out = from_ha(
        &mut fa,
        t0(),
        &ha_reply(ReplyCode::Accepted, 300, r.ident, Some(HA_KEY)),
    );
    let up = out.iter().find_map(|a| match a {
        Action::VisitorUp(v) => Some(v.clone()),
        _ => None,
    });
    let v: Visitor = up.expect("visitor entry");
    assert_eq!((v.home_address, v.home_agent, v.mac), (MN, HA, MAC));
    assert!(v.reverse_tunnel);
    assert!(matches!(v.encapsulation, Encapsulation::Gre { .. }));
    let rep = to_mn(&out).expect("reply relayed to the MN");
    assert_eq!(rep.code, ReplyCode::Accepted);
    assert_eq!(rep.extensions.len(), 1, "FHAE removed before relaying");
    assert_eq!(fa.pending_count(), 0);
    assert_eq!(fa.visitors().count(), 1);

    // A renewal with nothing new to install says so (the state kept
    // across restarts records its lifetime).
    let mut r2 = Rrq::new();
    r2.mfae = Some((0x300, V_KEY));
    r2.flags = r.flags;
    r2.ident = r.ident + 1;
    let later = t0().advance(Duration::from_secs(100));
    let _ = from_mn(&mut fa, later, &r2.bytes());
    let out = from_ha(
        &mut fa,
        later,
        &ha_reply(ReplyCode::Accepted, 300, r2.ident, Some(HA_KEY)),
    );
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::VisitorRenewed(v) if v.expires == later.instant + Duration::from_secs(300))),
        "{out:?}"
    );
    assert!(!out.iter().any(|a| matches!(a, Action::VisitorUp(_))));

    // A restarted foreign agent takes back what was kept: live visitors
    // on interfaces it serves are installed again; expired ones and ones
    // on an interface no longer served are dropped.
    let kept: Vec<Visitor> = fa.visitors().cloned().collect();
    let mut expired = kept[0].clone();
    expired.home_address = Ipv4Addr::new(10, 1, 0, 51);
    expired.expires = later.instant;
    let mut elsewhere = kept[0].clone();
    elsewhere.home_address = Ipv4Addr::new(10, 1, 0, 52);
    elsewhere.interface = "FastEthernet9".into();
    let mut again = ForeignAgent::new(fa.config().clone());
    let mut out = Vec::new();
    again.restore(
        later.advance(Duration::from_secs(1)),
        vec![kept[0].clone(), expired, elsewhere],
        &mut out,
    );
    assert_eq!(out, vec![Action::VisitorUp(kept[0].clone())]);
    assert_eq!(again.visitors().count(), 1);

    // Visitor expiry, 300 s after the renewal.
    let mut out = Vec::new();
    fa.handle_timeout(later.advance(Duration::from_secs(299)), &mut out);
    assert!(!out.iter().any(|a| matches!(a, Action::VisitorDown(_))));
    fa.handle_timeout(later.advance(Duration::from_secs(300)), &mut out);
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::VisitorDown(v) if v.home_address == MN))
    );
    assert_eq!(fa.visitors().count(), 0);
}

#[test]
fn every_foreign_agent_denial() {
    let mut c = config();
    c.visitor_sas.insert(MN, MN, sa(0x300, V_KEY)).unwrap();
    let case = |c: &ForeignAgentConfig, r: &Rrq| {
        let mut fa = ForeignAgent::new(c.clone());
        let out = from_mn(&mut fa, t0(), &r.bytes());
        assert!(relayed(&out).is_none(), "a denied request is not relayed");
        to_mn(&out).expect("denial sent to the MN").code
    };
    let ok = || {
        let mut r = Rrq::new();
        r.mfae = Some((0x300, V_KEY));
        r
    };
    let mut r = Rrq::new();
    assert_eq!(
        case(&c, &r),
        ReplyCode::MobileNodeFailedAuthenticationFa,
        "no MFAE"
    );
    r.mfae = Some((0x300, b"wrong"));
    assert_eq!(
        case(&c, &r),
        ReplyCode::MobileNodeFailedAuthenticationFa,
        "bad MFAE"
    );
    let mut r = ok();
    r.lifetime = 601;
    assert_eq!(case(&c, &r), ReplyCode::LifetimeTooLong);
    let mut fa = ForeignAgent::new(c.clone());
    let rep = to_mn(&from_mn(&mut fa, t0(), &r.bytes())).unwrap();
    assert_eq!(
        rep.lifetime, 600,
        "69 carries the longest lifetime we accept"
    );
    let mut r = ok();
    r.flags.minimal_encapsulation = true;
    assert_eq!(case(&c, &r), ReplyCode::EncapsulationUnavailableFa);
    let mut r = ok();
    r.coa = Ipv4Addr::new(198, 51, 100, 99);
    assert_eq!(case(&c, &r), ReplyCode::InvalidCareOfAddress);
    let mut no_rt = c.clone();
    no_rt.interfaces[0].reverse_tunnel = false;
    let mut r = ok();
    r.flags.reverse_tunnel = true;
    assert_eq!(case(&no_rt, &r), ReplyCode::ReverseTunnelUnavailableFa);
    let mut mandatory = c.clone();
    mandatory.interfaces[0].reverse_tunnel_mandatory = true;
    assert_eq!(case(&mandatory, &ok()), ReplyCode::ReverseTunnelMandatoryFa);
    // Poorly formed: an unknown non-skippable extension, or no MHAE.
    let mut m = ok().bytes();
    m.truncate(registration::REQUEST_LEN);
    m.extend_from_slice(&[99, 0]);
    let mut fa = ForeignAgent::new(c.clone());
    assert_eq!(
        to_mn(&from_mn(&mut fa, t0(), &m)).unwrap().code,
        ReplyCode::PoorlyFormedRequestFa
    );
    let mut m = ok().bytes();
    m.truncate(registration::REQUEST_LEN);
    let mut fa = ForeignAgent::new(c.clone());
    assert_eq!(
        to_mn(&from_mn(&mut fa, t0(), &m)).unwrap().code,
        ReplyCode::PoorlyFormedRequestFa
    );
    // Too short to answer: dropped, counted.
    let mut fa = ForeignAgent::new(c.clone());
    assert!(from_mn(&mut fa, t0(), &[1, 2, 3]).is_empty());
    assert_eq!(fa.counters.dropped.values().sum::<u64>(), 1);
    // Busy.
    let mut full = c.clone();
    full.max_pending = 0;
    assert_eq!(case(&full, &ok()), ReplyCode::InsufficientResourcesFa);
}

#[test]
fn pending_timeout_and_reply_without_request() {
    let mut fa = ForeignAgent::new(config());
    let r = Rrq::new();
    from_mn(&mut fa, t0(), &r.bytes());
    let mut out = Vec::new();
    fa.handle_timeout(t0().advance(Duration::from_secs(14)), &mut out);
    assert!(to_mn(&out).is_none());
    let mut out = Vec::new();
    fa.handle_timeout(t0().advance(Duration::from_secs(15)), &mut out);
    assert_eq!(to_mn(&out).unwrap().code, ReplyCode::RegistrationTimeout);
    assert_eq!(fa.counters.timeouts, 1);
    // The late reply now matches nothing: dropped and counted.
    let out = from_ha(
        &mut fa,
        t0().advance(Duration::from_secs(16)),
        &ha_reply(ReplyCode::Accepted, 300, r.ident, None),
    );
    assert!(out.is_empty());
    assert_eq!(
        fa.counters.dropped.get("reply matching no pending request"),
        Some(&1)
    );
    assert_eq!(fa.visitors().count(), 0);
}

#[test]
fn bad_fhae_in_reply_is_68_and_denials_are_relayed() {
    let mut c = config();
    c.home_agent_sas.insert(HA, sa(0x200, HA_KEY));
    let mut fa = ForeignAgent::new(c.clone());
    let r = Rrq::new();
    from_mn(&mut fa, t0(), &r.bytes());
    let out = from_ha(
        &mut fa,
        t0(),
        &ha_reply(ReplyCode::Accepted, 300, r.ident, Some(b"forged")),
    );
    assert_eq!(
        to_mn(&out).unwrap().code,
        ReplyCode::HomeAgentFailedAuthentication
    );
    assert_eq!(fa.visitors().count(), 0);
    // A home agent denial goes to the MN as it is, and makes no visitor.
    let mut fa = ForeignAgent::new(c);
    from_mn(&mut fa, t0(), &r.bytes());
    let out = from_ha(
        &mut fa,
        t0(),
        &ha_reply(ReplyCode::IdentificationMismatch, 0, r.ident, Some(HA_KEY)),
    );
    assert_eq!(to_mn(&out).unwrap().code, ReplyCode::IdentificationMismatch);
    assert_eq!(fa.visitors().count(), 0);
}

#[test]
fn deregistration_removes_the_visitor() {
    let mut fa = ForeignAgent::new(config());
    let r = Rrq::new();
    from_mn(&mut fa, t0(), &r.bytes());
    from_ha(
        &mut fa,
        t0(),
        &ha_reply(ReplyCode::Accepted, 300, r.ident, None),
    );
    let mut d = Rrq::new();
    d.lifetime = 0;
    d.ident += 1;
    from_mn(&mut fa, t0(), &d.bytes());
    let out = from_ha(
        &mut fa,
        t0(),
        &ha_reply(ReplyCode::Accepted, 0, d.ident, None),
    );
    assert!(out.iter().any(|a| matches!(a, Action::VisitorDown(_))));
    assert_eq!(fa.visitors().count(), 0);
}

#[test]
fn binding_updates_from_the_home_agent() {
    let mut c = config();
    c.home_agent_sas.insert(HA, sa(0x200, HA_KEY));
    c.bind_update = true;
    let mut fa = ForeignAgent::new(c.clone());
    let r = Rrq::new();
    from_mn(&mut fa, t0(), &r.bytes());
    let mut reply = ha_reply(ReplyCode::Accepted, 300, r.ident, None);
    extension::append_authentication(
        &mut reply,
        kind::FOREIGN_HOME_AUTH,
        0x200,
        Algorithm::HmacMd5,
        HA_KEY,
    );
    from_ha(&mut fa, t0(), &reply);
    assert_eq!(fa.visitors().count(), 1);
    let bu = |key: &[u8]| {
        let mut m = UpdateRepr {
            acknowledge: true,
            identification_present: true,
            minimal_encapsulation: false,
            gre: false,
            reserved: 0,
            lifetime: 300,
            home_address: MN,
            care_of_address: Ipv4Addr::new(203, 0, 113, 1),
            identification: Identification(77),
            extensions: Extensions::new(),
        }
        .to_vec();
        extension::append_authentication(
            &mut m,
            kind::ROUTE_OPTIMIZATION_AUTH,
            0x200,
            Algorithm::HmacMd5,
            key,
        );
        m
    };
    // Forged: dropped, visitor kept.
    assert!(from_ha(&mut fa, t0(), &bu(b"forged")).is_empty());
    assert_eq!(fa.visitors().count(), 1);
    assert_eq!(fa.counters.dropped.get("forged binding update"), Some(&1));
    // Genuine: the visitor goes, and the acknowledge is signed.
    let out = from_ha(&mut fa, t0(), &bu(HA_KEY));
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::VisitorDown(v) if v.home_address == MN))
    );
    let ack = out
        .iter()
        .find_map(|a| match a {
            Action::SendToNetwork { payload, to, .. } if *to.ip() == HA => Some(payload.clone()),
            _ => None,
        })
        .expect("Binding Acknowledge");
    let a = AckRepr::parse(&ack).unwrap();
    assert!(!a.negative);
    assert_eq!((a.home_address, a.identification), (MN, Identification(77)));
    assert!(extension::verify_authentication(
        &ack,
        16,
        Algorithm::HmacMd5,
        HA_KEY
    ));
    // With bindupdate off, updates are ignored.
    c.bind_update = false;
    let mut off = ForeignAgent::new(c);
    assert!(from_ha(&mut off, t0(), &bu(HA_KEY)).is_empty());
}

mod garbage {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(b in prop::collection::vec(any::<u8>(), 0..100), first in prop_oneof![Just(1u8), Just(3u8), Just(18u8), any::<u8>()]) {
            let mut c = config();
            c.bind_update = true;
            c.home_agent_sas.insert(HA, sa(0x200, HA_KEY));
            let mut fa = ForeignAgent::new(c);
            let mut b = b;
            if let Some(f) = b.first_mut() { *f = first; }
            let _ = from_mn(&mut fa, t0(), &b);
            let _ = from_ha(&mut fa, t0(), &b);
            prop_assert_eq!(fa.visitors().count(), 0);
        }
    }
}

/// `ip mobile foreign-service limit N`: a new visitor beyond the limit is
/// refused with 66; a visitor already served may re-register.
#[test]
fn visitor_limit() {
    let mut c = config();
    c.interfaces[0].visitor_limit = Some(0);
    let mut fa = ForeignAgent::new(c);
    let out = from_mn(&mut fa, t0(), &Rrq::new().bytes());
    assert!(relayed(&out).is_none());
    assert_eq!(
        to_mn(&out).unwrap().code,
        ReplyCode::InsufficientResourcesFa
    );

    let mut c = config();
    c.interfaces[0].visitor_limit = Some(1);
    let mut fa = ForeignAgent::new(c);
    let r = Rrq::new();
    assert!(relayed(&from_mn(&mut fa, t0(), &r.bytes())).is_some());
    from_ha(
        &mut fa,
        t0(),
        &ha_reply(ReplyCode::Accepted, 300, r.ident, None),
    );
    assert_eq!(fa.visitors().count(), 1);
    // The one visitor re-registers: within the limit.
    let mut again = Rrq::new();
    again.ident += 1;
    let out = from_mn(&mut fa, t0(), &again.bytes());
    assert!(
        relayed(&out).is_some(),
        "a visitor we serve may re-register"
    );
}

/// A request of the mobile node `home` (same home agent and keys as the
/// others in this file).
fn request_of(home: Ipv4Addr, ident: u64) -> Vec<u8> {
    let mut m = RequestRepr {
        flags: RequestFlags::default(),
        lifetime: 300,
        home_address: home,
        home_agent: HA,
        care_of_address: FA,
        identification: Identification(ident),
        extensions: Extensions::new(),
    }
    .to_vec();
    extension::append_authentication(
        &mut m,
        kind::MOBILE_HOME_AUTH,
        0x100,
        Algorithm::HmacMd5,
        MN_KEY,
    );
    m
}

fn accepted_for(home: Ipv4Addr, ident: u64) -> Vec<u8> {
    ReplyRepr {
        code: ReplyCode::Accepted,
        lifetime: 300,
        home_address: home,
        home_agent: HA,
        identification: Identification(ident),
        extensions: Extensions::new(),
    }
    .to_vec()
}

/// Two engines fed the same inputs return the same actions in the same
/// order, also in the turns that touch many entries at once: pending
/// requests timing out together (code 78), visitors expiring together,
/// and `clear ip mobile visitor` of everyone. The order is by home
/// address, not by arrival or by hash.
#[test]
fn turns_touching_many_entries_are_deterministic() {
    // Arrive in descending order, so ascending output is not arrival order.
    let homes: Vec<Ipv4Addr> = (1..=64u8)
        .rev()
        .map(|i| Ipv4Addr::new(10, 1, 1, i))
        .collect();
    let ident = Identification::from_unix(t0().unix).0;
    let run = || -> Vec<Vec<Action>> {
        let mut fa = ForeignAgent::new(config());
        let mut turns = Vec::new();
        let mut out = Vec::new();
        for h in &homes {
            fa.handle_from_visitor(
                t0(),
                FromVisitor {
                    interface: "FastEthernet0",
                    mac: [2, 0, 0, 0, 1, h.octets()[3]],
                    src: SocketAddrV4::new(*h, 434),
                    payload: &request_of(*h, ident),
                },
                &mut out,
            );
        }
        turns.push(std::mem::take(&mut out));
        // The home agent accepts the even ones; the odd ones time out.
        for h in homes.iter().filter(|h| h.octets()[3] % 2 == 0) {
            fa.handle_from_network(
                t0(),
                SocketAddrV4::new(HA, 434),
                &accepted_for(*h, ident),
                &mut out,
            );
        }
        turns.push(std::mem::take(&mut out));
        fa.handle_timeout(t0().advance(Duration::from_secs(20)), &mut out);
        turns.push(std::mem::take(&mut out));
        let cleared = fa.clear_visitors(None, &mut out);
        assert_eq!(cleared, 32);
        turns.push(std::mem::take(&mut out));
        turns
    };
    let first = run();
    for _ in 0..4 {
        assert_eq!(run(), first);
    }
    let timed_out: Vec<Ipv4Addr> = first[2]
        .iter()
        .filter_map(|a| match a {
            Action::SendToVisitor { to, .. } => Some(*to.ip()),
            _ => None,
        })
        .collect();
    assert_eq!(timed_out.len(), 32);
    assert!(timed_out.is_sorted(), "{timed_out:?}");
    let down: Vec<Ipv4Addr> = first[3]
        .iter()
        .map(|a| match a {
            Action::VisitorDown(v) => v.home_address,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(down.len(), 32);
    assert!(down.is_sorted(), "{down:?}");

    // Expiry of many visitors in one turn is ordered the same way.
    let mut fa = ForeignAgent::new(config());
    let mut out = Vec::new();
    for h in &homes {
        fa.handle_from_visitor(
            t0(),
            FromVisitor {
                interface: "FastEthernet0",
                mac: [2, 0, 0, 0, 1, h.octets()[3]],
                src: SocketAddrV4::new(*h, 434),
                payload: &request_of(*h, ident),
            },
            &mut out,
        );
        fa.handle_from_network(
            t0(),
            SocketAddrV4::new(HA, 434),
            &accepted_for(*h, ident),
            &mut out,
        );
    }
    out.clear();
    fa.handle_timeout(t0().advance(Duration::from_secs(301)), &mut out);
    let expired: Vec<Ipv4Addr> = out
        .iter()
        .filter_map(|a| match a {
            Action::VisitorDown(v) => Some(v.home_address),
            _ => None,
        })
        .collect();
    assert_eq!(expired.len(), 64);
    assert!(expired.is_sorted(), "{expired:?}");
}

/// One visitor flooding requests (bad authenticators the FA cannot check,
/// so each would wait for the home agent) cannot fill the pending list:
/// beyond a few pending, its own requests get 66, and another visitor's
/// request is still relayed.
#[test]
fn one_visitor_cannot_deny_the_others() {
    let mut fa = ForeignAgent::new(config());
    let now = t0();
    let flooder = [2, 0, 0, 0, 0, 0x66];
    let mut relayed = 0;
    let mut refused = 0;
    for i in 0..1000u32 {
        let mut out = Vec::new();
        let payload = request_of(MN, u64::from(i) + 1);
        fa.handle_from_visitor(
            now,
            FromVisitor {
                interface: "FastEthernet0",
                mac: flooder,
                src: SocketAddrV4::new(MN, 434),
                payload: &payload,
            },
            &mut out,
        );
        for a in out {
            match a {
                Action::SendToNetwork { .. } => relayed += 1,
                Action::SendToVisitor { payload, .. } if payload[1] == 66 => refused += 1,
                _ => {}
            }
        }
    }
    assert!(relayed <= 8, "{relayed} relayed");
    assert!(refused >= 990, "{refused} refused");
    assert_eq!(fa.pending_count(), relayed);
    assert!(fa.counters.over_pending_limit >= 990);
    // A real client is served.
    let mut out = Vec::new();
    let other = Ipv4Addr::new(10, 1, 0, 77);
    let payload = request_of(other, 1);
    fa.handle_from_visitor(
        now,
        FromVisitor {
            interface: "FastEthernet0",
            mac: [2, 0, 0, 0, 0, 0x77],
            src: SocketAddrV4::new(other, 434),
            payload: &payload,
        },
        &mut out,
    );
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::SendToNetwork { .. })),
        "{out:?}"
    );
}

/// The advertisement where an operator changed it: `ip irdp multicast`
/// (to 224.0.0.1), `ip irdp preference N` (the router address's
/// preference level), `no ip mobile prefix-length` (no Prefix-Lengths
/// extension); RFC 1256 4.1, RFC 5944 2.1.2.
#[test]
fn advertisement_options() {
    let all_systems = Ipv4Addr::new(224, 0, 0, 1);
    let mut c = config();
    c.options.insert(
        "FastEthernet0".into(),
        ServiceOptions {
            multicast: true,
            preference: -7,
            prefix_lengths: false,
            home_access: None,
        },
    );
    let mut fa = ForeignAgent::new(c);
    let mut out = Vec::new();
    fa.handle_timeout(t0(), &mut out);
    let a = advert(&out);
    assert!(matches!(&out[0], Action::Advertise { to, .. } if *to == all_systems));
    assert_eq!(a.routers.as_slice(), &[(FA, -7)]);
    assert_eq!(a.prefix_lengths(), None, "no Prefix-Lengths extension");
    assert!(a.mobility_agent().is_some(), "the mobility extension stays");
    // A solicitation from a host without an address yet is answered where
    // the advertisements go; one from an address, to that address.
    for (src, to) in [
        (Ipv4Addr::UNSPECIFIED, all_systems),
        (
            Ipv4Addr::new(198, 51, 100, 20),
            Ipv4Addr::new(198, 51, 100, 20),
        ),
    ] {
        let mut out = Vec::new();
        fa.handle_solicitation(t0(), "FastEthernet0", src, &mut out);
        assert!(
            matches!(&out[0], Action::Advertise { to: t, .. } if *t == to),
            "{src}"
        );
        assert_eq!(advert(&out).routers.as_slice(), &[(FA, -7)]);
    }
    // Without options: broadcast, preference 0, prefix lengths.
    let mut fa = ForeignAgent::new(config());
    let mut out = Vec::new();
    fa.handle_solicitation(t0(), "FastEthernet0", Ipv4Addr::UNSPECIFIED, &mut out);
    assert!(matches!(&out[0], Action::Advertise { to, .. } if *to == Ipv4Addr::BROADCAST));
    assert_eq!(advert(&out).prefix_lengths(), Some(&[24u8][..]));
    assert_eq!(ServiceOptions::default().preference, 0);
    assert!(ServiceOptions::default().prefix_lengths);
}

/// A request of the mobile node for home agent `ha`.
fn request_to(ha: Ipv4Addr, ident: u64) -> Vec<u8> {
    let mut m = RequestRepr {
        flags: RequestFlags::default(),
        lifetime: 300,
        home_address: MN,
        home_agent: ha,
        care_of_address: FA,
        identification: Identification(ident),
        extensions: Extensions::new(),
    }
    .to_vec();
    extension::append_authentication(
        &mut m,
        kind::MOBILE_HOME_AUTH,
        0x100,
        Algorithm::HmacMd5,
        MN_KEY,
    );
    m
}

/// `ip mobile foreign-service home-access ACL`: a request whose home
/// agent the list denies is refused with 65 (administratively
/// prohibited, RFC 5944 3.7.2.1) and not relayed; one it permits is
/// relayed to that home agent. First match decides; nothing matching is
/// denied.
#[test]
fn home_access_refuses_other_home_agents_with_65() {
    let entry = |permit, a: [u8; 4], w: [u8; 4]| AccessEntry {
        permit,
        address: Ipv4Addr::from(a),
        wildcard: Ipv4Addr::from(w),
    };
    // access-list 10 deny 10.1.0.9 / permit 10.1.0.0 0.0.255.255
    let acl = AccessList {
        entries: vec![
            entry(false, [10, 1, 0, 9], [0, 0, 0, 0]),
            entry(true, [10, 1, 0, 0], [0, 0, 255, 255]),
        ],
    };
    let mut c = config();
    c.options.insert(
        "FastEthernet0".into(),
        ServiceOptions {
            home_access: Some(acl),
            ..Default::default()
        },
    );
    let mut fa = ForeignAgent::new(c);
    let mut ident = Identification::from_unix(t0().unix).0;
    for (ha, permitted) in [
        (HA, true),
        (Ipv4Addr::new(10, 1, 200, 1), true),
        (Ipv4Addr::new(10, 1, 0, 9), false),
        (Ipv4Addr::new(10, 2, 0, 1), false),
        (Ipv4Addr::new(10, 1, 0, 255), true),
    ] {
        ident += 1;
        let out = from_mn(&mut fa, t0(), &request_to(ha, ident));
        let sent_to = out.iter().find_map(|a| match a {
            Action::SendToNetwork { to, .. } => Some(*to.ip()),
            _ => None,
        });
        if permitted {
            assert_eq!(sent_to, Some(ha), "{ha} is permitted");
            assert!(to_mn(&out).is_none());
        } else {
            assert_eq!(sent_to, None, "{ha} is not relayed");
            let reply = to_mn(&out).expect("a denial to the visitor");
            assert_eq!(reply.code, ReplyCode::AdministrativelyProhibitedFa, "{ha}");
            assert_eq!(u8::from(reply.code), 65);
            assert_eq!(reply.home_agent, ha);
            assert_eq!(reply.lifetime, 0);
        }
    }
    assert_eq!(fa.counters.denied.get(&65), Some(&2));
    assert_eq!(fa.pending_count(), 3);

    // An empty list denies everybody; no list, nobody.
    let mut c = config();
    c.options.insert(
        "FastEthernet0".into(),
        ServiceOptions {
            home_access: Some(AccessList::default()),
            ..Default::default()
        },
    );
    let mut fa = ForeignAgent::new(c);
    let out = from_mn(&mut fa, t0(), &request_to(HA, ident));
    assert_eq!(
        to_mn(&out).unwrap().code,
        ReplyCode::AdministrativelyProhibitedFa
    );
    let mut fa = ForeignAgent::new(config());
    assert!(relayed(&from_mn(&mut fa, t0(), &request_to(HA, ident))).is_some());
}

/// The foreign agent logs a visitor failing its MFAE and a reply failing
/// its FHAE, with their MIP-MIB reasons; `clear_counters` leaves the log.
#[test]
fn foreign_agent_violations_are_logged() {
    use pmip_engine::home_agent::{ViolationReason, Violator};
    let mut c = config();
    c.visitor_sas.insert(MN, MN, sa(0x300, V_KEY)).unwrap();
    c.home_agent_sas.insert(HA, sa(0x200, HA_KEY));
    let mut fa = ForeignAgent::new(c);
    let mut r = Rrq::new();
    from_mn(&mut fa, t0(), &r.bytes());
    r.mfae = Some((0x300, b"wrong"));
    from_mn(&mut fa, t0(), &r.bytes());
    r.mfae = Some((0x301, V_KEY));
    from_mn(&mut fa, t0(), &r.bytes());
    let got: Vec<(ViolationReason, u32, u8)> = fa
        .violations
        .recent()
        .map(|v| (v.reason, v.spi, v.code))
        .collect();
    assert_eq!(
        got,
        [
            (ViolationReason::MissingExtension, 0, 67),
            (ViolationReason::BadAuthenticator, 0x300, 67),
            (ViolationReason::BadSpi, 0x301, 67),
        ]
    );
    // A reply whose FHAE fails: the home agent is the violator.
    r.mfae = Some((0x300, V_KEY));
    from_mn(&mut fa, t0(), &r.bytes());
    from_ha(
        &mut fa,
        t0(),
        &ha_reply(ReplyCode::Accepted, 300, r.ident, Some(b"forged")),
    );
    let last = fa.violations.recent().last().unwrap();
    assert_eq!(
        (last.violator, last.reason, last.source, last.code),
        (
            Violator::HomeAgent,
            ViolationReason::BadAuthenticator,
            HA,
            68
        )
    );
    fa.clear_counters();
    assert_eq!(fa.counters.requests, 0);
    assert_eq!(fa.violations.total, 4);
}

/// A visitor's request from `mac`; the actions it caused.
fn from_mac(fa: &mut ForeignAgent, now: Now, mac: [u8; 6], payload: &[u8]) -> Vec<Action> {
    let mut out = Vec::new();
    fa.handle_from_visitor(
        now,
        FromVisitor {
            interface: "FastEthernet0",
            mac,
            src: SocketAddrV4::new(MN, 434),
            payload,
        },
        &mut out,
    );
    out
}

fn was_relayed(out: &[Action]) -> bool {
    out.iter()
        .any(|a| matches!(a, Action::SendToNetwork { .. }))
}

fn code_to_visitor(out: &[Action]) -> Option<u8> {
    out.iter().find_map(|a| match a {
        Action::SendToVisitor { payload, .. } => Some(payload[1]),
        _ => None,
    })
}

/// The foreign agent relays only to an address that can be a home agent:
/// a request naming the unspecified, limited broadcast, multicast,
/// loopback or reserved address, or the visited link's own network or
/// broadcast address, is refused with 70 and sent nowhere. Another
/// subnet's directed broadcast (dynamic home agent discovery) and a
/// unicast home agent are relayed.
#[test]
fn requests_naming_an_address_that_cannot_be_a_home_agent_are_not_relayed() {
    let mut fa = ForeignAgent::new(config());
    let now = t0();
    let refused = [
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(224, 0, 0, 11),
        Ipv4Addr::new(239, 1, 2, 3),
        Ipv4Addr::new(127, 0, 0, 1),
        Ipv4Addr::new(0, 1, 2, 3),
        Ipv4Addr::new(240, 0, 0, 1),
        // The visited link is 198.51.100.0/24.
        Ipv4Addr::new(198, 51, 100, 255),
        Ipv4Addr::new(198, 51, 100, 0),
    ];
    for (i, ha) in refused.into_iter().enumerate() {
        let out = from_mn(&mut fa, now, &request_to(ha, i as u64 + 1));
        assert!(!was_relayed(&out), "{ha}: relayed {out:?}");
        assert_eq!(
            code_to_visitor(&out),
            Some(u8::from(ReplyCode::PoorlyFormedRequestFa)),
            "{ha}: {out:?}"
        );
    }
    assert_eq!(fa.pending_count(), 0);
    for (i, ha) in [HA, Ipv4Addr::new(10, 1, 0, 255)].into_iter().enumerate() {
        let out = from_mn(&mut fa, now, &request_to(ha, 100 + i as u64));
        assert!(was_relayed(&out), "{ha}: {out:?}");
    }
}

/// A visitor flooding requests in another's home address (with its own
/// link-layer address) fills only its own share: the owner's request
/// for that home address is still relayed, and a request reusing the
/// owner's pending identification does not take its place.
#[test]
fn a_flood_in_another_visitors_home_address_does_not_deny_it() {
    let mut fa = ForeignAgent::new(config());
    let now = t0();
    let flooder = [2, 0, 0, 0, 0, 0x66];
    let owner_ident = 0xeeb0_fac0_0000_0001;
    let out = from_mac(&mut fa, now, MAC, &request_of(MN, owner_ident));
    assert!(was_relayed(&out));
    let mut relayed = 0;
    for i in 0..200u64 {
        if was_relayed(&from_mac(&mut fa, now, flooder, &request_of(MN, i + 2))) {
            relayed += 1;
        }
    }
    assert!(relayed <= 4, "{relayed} of the flood relayed");
    // The same home address and identification from the flooder: refused,
    // the owner's pending request keeps its place (its reply reaches it).
    let out = from_mac(&mut fa, now, flooder, &request_of(MN, owner_ident));
    assert!(!was_relayed(&out), "{out:?}");
    let out = from_ha(&mut fa, now, &accepted_for(MN, owner_ident));
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::SendToVisitor { mac, .. } if *mac == MAC)),
        "the reply goes to the owner: {out:?}"
    );
    // The owner registers again at once (a new identification).
    let out = from_mac(&mut fa, now, MAC, &request_of(MN, owner_ident + 1000));
    assert!(was_relayed(&out), "{out:?}");
}

/// Unanswered requests do not hold a visitor out for the whole reg-wait
/// (15 s here): a retransmission with the same identification takes its
/// own place, and once a visitor's oldest request has waited a second it
/// gives way to the visitor's next (counted as timed out); within that
/// second the visitor's flood still gets 66.
#[test]
fn unanswered_requests_give_way_after_a_second() {
    let mut fa = ForeignAgent::new(config());
    let t = t0();
    for i in 1..=4u64 {
        assert!(was_relayed(&from_mn(&mut fa, t, &request_of(MN, i))));
    }
    // At the per-home bound: a fifth is refused, a retransmission of the
    // fourth is relayed again.
    let out = from_mn(&mut fa, t, &request_of(MN, 5));
    assert_eq!(code_to_visitor(&out), Some(66), "{out:?}");
    assert!(was_relayed(&from_mn(&mut fa, t, &request_of(MN, 4))));
    assert_eq!(fa.pending_count(), 4);
    // Half a second on: still within the grace.
    let out = from_mn(
        &mut fa,
        t.advance(Duration::from_millis(500)),
        &request_of(MN, 6),
    );
    assert_eq!(code_to_visitor(&out), Some(66), "{out:?}");
    // A second on: the oldest gives way, the new one is relayed.
    let t1 = t.advance(Duration::from_millis(1001));
    let before = fa.counters.timeouts;
    assert!(was_relayed(&from_mn(&mut fa, t1, &request_of(MN, 7))));
    assert_eq!(fa.counters.timeouts, before + 1);
    assert_eq!(fa.pending_count(), 4);
    // The newest is pending: its reply reaches the visitor.
    let out = from_ha(&mut fa, t1, &accepted_for(MN, 7));
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::SendToVisitor { .. })),
        "{out:?}"
    );
    // The per-visitor bound (other home addresses from the same MAC)
    // gives way the same way.
    let mut fa = ForeignAgent::new(config());
    for i in 0..8u32 {
        let home = Ipv4Addr::from(u32::from(MN) + 1 + i);
        assert!(was_relayed(&from_mn(&mut fa, t, &request_of(home, 1))));
    }
    let ninth = Ipv4Addr::from(u32::from(MN) + 100);
    assert!(!was_relayed(&from_mn(&mut fa, t, &request_of(ninth, 1))));
    assert!(was_relayed(&from_mn(&mut fa, t1, &request_of(ninth, 1))));
    assert_eq!(fa.pending_count(), 8);
}

/// A full pending list (requests from many link-layer addresses) refuses
/// newcomers only while its oldest request is within its grace; after
/// that the oldest gives way.
#[test]
fn a_full_pending_list_gives_way_after_a_second() {
    let mut fa = ForeignAgent::new(ForeignAgentConfig {
        max_pending: 16,
        ..config()
    });
    let t = t0();
    for i in 0..16u8 {
        let home = Ipv4Addr::new(10, 1, 0, 100 + i);
        assert!(was_relayed(&from_mac(
            &mut fa,
            t,
            [2, 0, 0, 0, 1, i],
            &request_of(home, 1)
        )));
    }
    let newcomer = Ipv4Addr::new(10, 1, 0, 200);
    let out = from_mac(&mut fa, t, [2, 0, 0, 0, 2, 0], &request_of(newcomer, 1));
    assert_eq!(code_to_visitor(&out), Some(66), "{out:?}");
    let t1 = t.advance(Duration::from_millis(1001));
    let out = from_mac(&mut fa, t1, [2, 0, 0, 0, 2, 0], &request_of(newcomer, 1));
    assert!(was_relayed(&out), "{out:?}");
    assert_eq!(fa.pending_count(), 16);
}
