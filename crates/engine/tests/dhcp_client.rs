//! The DHCP client engine in simulated time against a scripted server:
//! the full exchange, lost packets and back-off, NAK, renewal at T1,
//! rebinding at T2, expiry, and replies that must be ignored.

use std::net::Ipv4Addr;
use std::time::Duration;

use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Encodable};
use pmip_engine::dhcp_client::{
    Action, ClientConfig, Destination, DhcpClient, Lease, MIN_LEASE, State,
};
use pmip_engine::time::Instant;

const MAC: [u8; 6] = [0x02, 0, 0, 0, 0xaa, 0x01];
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const OFFERED: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 50);

fn client() -> DhcpClient {
    DhcpClient::new(ClientConfig {
        mac: MAC,
        hostname: Some("ap1".into()),
        seed: 7,
    })
}

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// The one datagram sent, decoded.
fn sent(actions: &[Action]) -> (Destination, Message) {
    let sends: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { to, payload } => Some((*to, payload.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(sends.len(), 1, "{actions:?}");
    let (to, payload) = &sends[0];
    assert!(payload.len() >= 300, "BOOTP minimum size");
    (*to, Message::from_bytes(payload).unwrap())
}

fn acquired(actions: &[Action]) -> Option<Lease> {
    actions.iter().find_map(|a| match a {
        Action::Acquired(l) => Some(l.clone()),
        _ => None,
    })
}

fn lost(actions: &[Action]) -> bool {
    actions.iter().any(|a| matches!(a, Action::Lost { .. }))
}

/// A server's reply to `req`.
fn reply(req: &Message, ty: MessageType, lease_secs: u32) -> Vec<u8> {
    let mut m = Message::new_with_id(
        req.xid(),
        Ipv4Addr::UNSPECIFIED,
        if ty == MessageType::Nak {
            Ipv4Addr::UNSPECIFIED
        } else {
            OFFERED
        },
        SERVER,
        Ipv4Addr::UNSPECIFIED,
        &req.chaddr()[..6],
    );
    m.set_opcode(Opcode::BootReply);
    let o = m.opts_mut();
    o.insert(DhcpOption::MessageType(ty));
    o.insert(DhcpOption::ServerIdentifier(SERVER));
    if ty != MessageType::Nak {
        o.insert(DhcpOption::AddressLeaseTime(lease_secs));
        o.insert(DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)));
        o.insert(DhcpOption::Router(vec![SERVER]));
    }
    m.to_vec().unwrap()
}

fn ty(m: &Message) -> MessageType {
    m.opts().msg_type().unwrap()
}

/// DISCOVER, OFFER, REQUEST, ACK at time `at`; returns the lease.
fn acquire(c: &mut DhcpClient, at: u64, lease_secs: u32) -> Lease {
    let (to, discover) = sent(&c.start(t(at)));
    assert_eq!(to, Destination::Broadcast);
    assert_eq!(ty(&discover), MessageType::Discover);
    let (to, request) =
        sent(&c.handle(t(at + 1), &reply(&discover, MessageType::Offer, lease_secs)));
    assert_eq!(to, Destination::Broadcast);
    assert_eq!(c.state(), State::Requesting);
    let a = c.handle(t(at + 2), &reply(&request, MessageType::Ack, lease_secs));
    let lease = acquired(&a).expect("acquired");
    assert_eq!(c.state(), State::Bound);
    lease
}

#[test]
fn full_exchange() {
    let mut c = client();
    let (to, d) = sent(&c.start(t(0)));
    assert_eq!(to, Destination::Broadcast);
    assert_eq!(ty(&d), MessageType::Discover);
    assert_eq!(d.chaddr()[..6], MAC);
    assert!(d.flags().broadcast(), "broadcast replies before an address");
    assert!(matches!(
        d.opts().get(OptionCode::ClientIdentifier),
        Some(DhcpOption::ClientIdentifier(id)) if id[..] == [1, 2, 0, 0, 0, 0xaa, 1]
    ));
    assert!(matches!(
        d.opts().get(OptionCode::Hostname),
        Some(DhcpOption::Hostname(h)) if h == "ap1"
    ));
    let (_, r) = sent(&c.handle(t(10), &reply(&d, MessageType::Offer, 3600)));
    assert_eq!(ty(&r), MessageType::Request);
    assert_eq!(r.xid(), d.xid(), "RFC 2131 4.4.1: same xid in REQUEST");
    assert_eq!(r.ciaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(matches!(
        r.opts().get(OptionCode::ServerIdentifier),
        Some(DhcpOption::ServerIdentifier(s)) if *s == SERVER
    ));
    assert!(matches!(
        r.opts().get(OptionCode::RequestedIpAddress),
        Some(DhcpOption::RequestedIpAddress(a)) if *a == OFFERED
    ));
    let a = c.handle(t(20), &reply(&r, MessageType::Ack, 3600));
    let l = acquired(&a).unwrap();
    assert_eq!(l.address, OFFERED);
    assert_eq!(l.prefix_len, 24);
    assert_eq!(l.router, Some(SERVER));
    assert_eq!(l.server, SERVER);
    assert_eq!(l.lease_time, Some(Duration::from_secs(3600)));
    // The lease counts from the REQUEST (RFC 2131 4.4.1).
    assert_eq!(l.renew_at, Some(t(10) + Duration::from_secs(1800)));
    assert_eq!(l.rebind_at, Some(t(10) + Duration::from_secs(3150)));
    assert_eq!(l.expires_at, Some(t(10) + Duration::from_secs(3600)));
    assert_eq!(c.poll_timeout(), l.renew_at);
    assert_eq!(
        c.lease().unwrap().remaining(t(1_000_010)),
        Some(Duration::from_secs(2600))
    );
    let s = c.stats();
    assert_eq!((s.discovers, s.offers, s.requests, s.acks), (1, 1, 1, 1));
    assert_eq!((s.malformed, s.foreign, s.unexpected), (0, 0, 0));
}

#[test]
fn lost_discovers_back_off_4_8_16_with_jitter_up_to_64() {
    let mut c = client();
    c.start(t(0));
    let mut now = t(0);
    let mut prev = Duration::ZERO;
    for (i, base) in [4u64, 8, 16, 32, 64, 64, 64].into_iter().enumerate() {
        let at = c.poll_timeout().unwrap();
        let gap = at.saturating_since(now);
        let base = Duration::from_secs(base);
        assert!(
            gap + Duration::from_secs(1) >= base && gap <= base + Duration::from_secs(1),
            "retransmission {i}: {gap:?} not {base:?} ± 1 s"
        );
        assert!(gap >= prev || base == Duration::from_secs(64));
        prev = gap;
        // Early: nothing.
        assert!(c.handle_timeout(at - Duration::from_millis(1)).is_empty());
        now = at;
        let (_, d) = sent(&c.handle_timeout(now));
        assert_eq!(ty(&d), MessageType::Discover);
        assert_eq!(
            d.secs() as u64,
            now.since_origin().as_secs(),
            "secs since start"
        );
    }
    assert_eq!(c.stats().discovers, 8);
}

#[test]
fn lost_requests_then_back_to_init() {
    let mut c = client();
    let (_, d) = sent(&c.start(t(0)));
    let (_, r) = sent(&c.handle(t(5), &reply(&d, MessageType::Offer, 600)));
    // Three retransmissions of the REQUEST, then a new DISCOVER with a
    // new xid (RFC 2131 4.4.1).
    for _ in 0..3 {
        let at = c.poll_timeout().unwrap();
        let (_, again) = sent(&c.handle_timeout(at));
        assert_eq!(ty(&again), MessageType::Request);
        assert_eq!(again.xid(), r.xid());
    }
    let at = c.poll_timeout().unwrap();
    let (_, d2) = sent(&c.handle_timeout(at));
    assert_eq!(ty(&d2), MessageType::Discover);
    assert_ne!(d2.xid(), d.xid());
    assert_eq!(c.state(), State::Selecting);
    // A late ACK for the old transaction is foreign now.
    assert!(c.handle(at, &reply(&r, MessageType::Ack, 600)).is_empty());
    assert_eq!(c.stats().foreign, 1);
    assert!(c.lease().is_none());
}

#[test]
fn nak_restarts() {
    let mut c = client();
    let (_, d) = sent(&c.start(t(0)));
    let (_, r) = sent(&c.handle(t(1), &reply(&d, MessageType::Offer, 600)));
    let (_, d2) = sent(&c.handle(t(2), &reply(&r, MessageType::Nak, 0)));
    assert_eq!(ty(&d2), MessageType::Discover);
    assert_eq!(c.state(), State::Selecting);
    assert_eq!(c.stats().naks, 1);
    // A NAK at renewal: the address is lost at once.
    let mut c = client();
    let l = acquire(&mut c, 0, 600);
    let (to, renew) = sent(&c.handle_timeout(l.renew_at.unwrap()));
    assert_eq!(to, Destination::Unicast(SERVER));
    let a = c.handle(l.renew_at.unwrap(), &reply(&renew, MessageType::Nak, 0));
    assert!(lost(&a));
    assert_eq!(ty(&sent(&a).1), MessageType::Discover);
    assert!(c.lease().is_none());
    assert_eq!(c.stats().leases_lost, 1);
}

#[test]
fn renew_at_t1_by_unicast() {
    let mut c = client();
    let l = acquire(&mut c, 0, 600);
    let t1 = l.renew_at.unwrap();
    assert!(c.handle_timeout(t1 - Duration::from_millis(1)).is_empty());
    let (to, r) = sent(&c.handle_timeout(t1));
    assert_eq!(to, Destination::Unicast(SERVER));
    assert_eq!(c.state(), State::Renewing);
    assert_eq!(ty(&r), MessageType::Request);
    assert_eq!(r.ciaddr(), OFFERED);
    assert!(!r.flags().broadcast());
    assert!(r.opts().get(OptionCode::ServerIdentifier).is_none());
    assert!(r.opts().get(OptionCode::RequestedIpAddress).is_none());
    // The same lease renewed: no new `Acquired`, timers moved on.
    let a = c.handle(
        t1 + Duration::from_millis(3),
        &reply(&r, MessageType::Ack, 600),
    );
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(c.state(), State::Bound);
    let renewed = c.lease().unwrap();
    assert_eq!(renewed.expires_at, Some(t1 + Duration::from_secs(600)));
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(300)));
    assert_eq!(c.stats().leases_acquired, 1);
}

#[test]
fn rebind_at_t2_by_broadcast_then_expiry() {
    let mut c = client();
    let l = acquire(&mut c, 0, 3600);
    let (t1, t2, end) = (
        l.renew_at.unwrap(),
        l.rebind_at.unwrap(),
        l.expires_at.unwrap(),
    );
    // RENEWING: unicast REQUESTs at T1, then half the time to T2 (at
    // least 60 s), never past T2.
    let mut now = t1;
    let mut renews = 0;
    while c.state() != State::Rebinding {
        let (to, r) = sent(&c.handle_timeout(now));
        if c.state() == State::Renewing {
            assert_eq!(to, Destination::Unicast(SERVER));
            renews += 1;
        } else {
            assert_eq!(to, Destination::Broadcast);
            assert_eq!(r.ciaddr(), OFFERED);
            assert_eq!(now, t2);
        }
        let next = c.poll_timeout().unwrap();
        assert!(next <= t2 || c.state() == State::Rebinding);
        now = next;
    }
    assert!(renews >= 3, "{renews}");
    // An ACK to a late REBINDING retransmission counts the lease from
    // the first REQUEST of the transaction, T2.
    let mut probe = c.clone();
    let (_, r) = sent(&probe.handle_timeout(now));
    let a = probe.handle(now, &reply(&r, MessageType::Ack, 3600));
    assert!(a.is_empty());
    assert_eq!(
        probe.lease().unwrap().expires_at,
        Some(t2 + Duration::from_secs(3600))
    );
    // REBINDING until the lease ends: then Lost and a DISCOVER.
    let mut rebinds = 1;
    loop {
        let a = c.handle_timeout(now);
        if lost(&a) {
            assert_eq!(now, end);
            assert_eq!(ty(&sent(&a).1), MessageType::Discover);
            break;
        }
        assert_eq!(sent(&a).0, Destination::Broadcast);
        rebinds += 1;
        now = c.poll_timeout().unwrap();
        assert!(now <= end);
    }
    assert!(rebinds >= 2, "{rebinds}");
    assert!(c.lease().is_none());
    assert_eq!(c.state(), State::Selecting);
}

#[test]
fn rebinding_ack_from_another_server_keeps_the_address() {
    let mut c = client();
    let l = acquire(&mut c, 0, 600);
    c.handle_timeout(l.renew_at.unwrap());
    let (to, r) = sent(&c.handle_timeout(l.rebind_at.unwrap()));
    assert_eq!(to, Destination::Broadcast);
    let mut ack = Message::from_bytes(&reply(&r, MessageType::Ack, 600)).unwrap();
    let other = Ipv4Addr::new(10, 9, 0, 2);
    ack.opts_mut().insert(DhcpOption::ServerIdentifier(other));
    let a = c.handle(l.rebind_at.unwrap(), &ack.to_vec().unwrap());
    assert!(a.is_empty(), "same address: nothing to reconfigure");
    assert_eq!(c.lease().unwrap().server, other);
    assert_eq!(c.state(), State::Bound);
}

#[test]
fn malformed_and_foreign_replies_are_counted_and_ignored() {
    let mut c = client();
    let (_, d) = sent(&c.start(t(0)));
    let offer = reply(&d, MessageType::Offer, 600);
    // Garbage and truncation.
    assert!(c.handle(t(1), &[]).is_empty());
    assert!(c.handle(t(1), &[0xff; 7]).is_empty());
    assert!(c.handle(t(1), &offer[..100]).is_empty());
    // Another xid, another MAC.
    let mut m = Message::from_bytes(&offer).unwrap();
    m.set_xid(d.xid().wrapping_add(1));
    assert!(c.handle(t(1), &m.to_vec().unwrap()).is_empty());
    let mut m = Message::from_bytes(&offer).unwrap();
    m.set_chaddr(&[2, 0, 0, 0, 0xbb, 2]);
    assert!(c.handle(t(1), &m.to_vec().unwrap()).is_empty());
    // A request (another client's broadcast).
    let mut m = Message::from_bytes(&offer).unwrap();
    m.set_opcode(Opcode::BootRequest);
    assert!(c.handle(t(1), &m.to_vec().unwrap()).is_empty());
    // No message type; no server identifier; a broadcast address offered.
    let mut m = Message::from_bytes(&offer).unwrap();
    m.opts_mut().remove(OptionCode::MessageType);
    assert!(c.handle(t(1), &m.to_vec().unwrap()).is_empty());
    let mut m = Message::from_bytes(&offer).unwrap();
    m.opts_mut().remove(OptionCode::ServerIdentifier);
    assert!(c.handle(t(1), &m.to_vec().unwrap()).is_empty());
    let mut m = Message::from_bytes(&offer).unwrap();
    m.set_yiaddr(Ipv4Addr::BROADCAST);
    assert!(c.handle(t(1), &m.to_vec().unwrap()).is_empty());
    // An ACK while selecting.
    assert!(c.handle(t(1), &reply(&d, MessageType::Ack, 600)).is_empty());
    assert_eq!(c.state(), State::Selecting);
    let s = *c.stats();
    assert_eq!(s.malformed, 6, "{s:?}");
    assert_eq!(s.foreign, 3, "{s:?}");
    assert_eq!(s.unexpected, 1, "{s:?}");
    // Option lengths are checked before decoding: a subnet mask of 3
    // bytes is malformed; a client FQDN (81) of 1 byte, which the client
    // does not read, is skipped.
    let mut bad_mask = offer.clone();
    let end = bad_mask.iter().rposition(|b| *b == 255).unwrap();
    bad_mask.splice(end..end, [1u8, 3, 255, 255, 255]);
    assert!(c.handle(t(1), &bad_mask).is_empty());
    assert_eq!(c.stats().malformed, 7);
    let mut odd_fqdn = offer.clone();
    odd_fqdn.splice(end..end, [81u8, 1, 0]);
    // Truncated option list (a length past the end): malformed.
    let mut cut = offer.clone();
    cut.truncate(end);
    cut.extend_from_slice(&[3, 8, 10, 9]);
    assert!(c.handle(t(1), &cut).is_empty());
    assert_eq!(c.stats().malformed, 8);
    // The offer with the odd option is taken.
    let (_, r) = sent(&c.handle(t(2), &odd_fqdn));
    // An ACK without a lease time, with a lease under the minimum, with a
    // non-contiguous mask: malformed, still requesting.
    let mut m = Message::from_bytes(&reply(&r, MessageType::Ack, 600)).unwrap();
    m.opts_mut().remove(OptionCode::AddressLeaseTime);
    assert!(c.handle(t(3), &m.to_vec().unwrap()).is_empty());
    let short = (MIN_LEASE.as_secs() - 1) as u32;
    assert!(
        c.handle(t(3), &reply(&r, MessageType::Ack, short))
            .is_empty()
    );
    let mut m = Message::from_bytes(&reply(&r, MessageType::Ack, 600)).unwrap();
    m.opts_mut()
        .insert(DhcpOption::SubnetMask(Ipv4Addr::new(255, 0, 255, 0)));
    assert!(c.handle(t(3), &m.to_vec().unwrap()).is_empty());
    // An ACK from a server we did not select.
    let mut m = Message::from_bytes(&reply(&r, MessageType::Ack, 600)).unwrap();
    m.opts_mut()
        .insert(DhcpOption::ServerIdentifier(Ipv4Addr::new(10, 9, 0, 9)));
    assert!(c.handle(t(3), &m.to_vec().unwrap()).is_empty());
    assert_eq!(c.state(), State::Requesting);
    assert_eq!(c.stats().malformed, 11);
    assert_eq!(c.stats().unexpected, 2);
    assert!(acquired(&c.handle(t(4), &reply(&r, MessageType::Ack, 600))).is_some());
    // Bound: an OFFER is unexpected.
    assert!(c.handle(t(5), &offer).is_empty());
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut c = client();
    let (_, d) = sent(&c.start(t(0)));
    let good = reply(&d, MessageType::Offer, 600);
    let mut x: u64 = 0x1234_5678;
    for i in 0..20_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut b = good.clone();
        // Flip bytes in the options and cut at random lengths.
        for k in 0..(x % 8) {
            let at = 236 + ((x >> (k * 8)) as usize % (b.len() - 236));
            b[at] = (x >> (k * 3)) as u8;
        }
        b.truncate((x as usize >> 5) % (b.len() + 1));
        let _ = c.handle(t(i), &b);
        let _ = c.handle_timeout(t(i));
    }
}

#[test]
fn infinite_lease_has_no_timers() {
    let mut c = client();
    let l = acquire(&mut c, 0, u32::MAX);
    assert_eq!(l.lease_time, None);
    assert_eq!(c.poll_timeout(), None);
    assert_eq!(c.lease().unwrap().remaining(t(1_000_000)), None);
}

#[test]
fn stop_reports_the_lease_lost() {
    let mut c = client();
    acquire(&mut c, 0, 600);
    let a = c.stop();
    assert!(lost(&a));
    assert_eq!(c.poll_timeout(), None);
    assert!(c.stop().is_empty());
}
