//! The proxy AP engine against the real foreign agent and home agent
//! engines on a simulated network with simulated time: a visiting client
//! associates, the AP registers in its name through the FA with its HA,
//! re-registers, handles denials (133 resync, lifetime too long, others),
//! leaves DHCP and Mobile IP clients alone, pauses, and deregisters the
//! client when it comes home.

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use pmip_engine::foreign_agent::{
    self as fa, ForeignAgent, ForeignAgentConfig, FromVisitor, ServiceInterface,
};
use pmip_engine::home_agent::{self as ha, HomeAgent, HomeAgentConfig, HomeNetwork, MobileHost};
use pmip_engine::host_range::HostRanges;
use pmip_engine::proxy_ap::{Action, NotProxied, Observation, ProxyAp, ProxyApConfig, State};
use pmip_engine::security::SecurityAssociation;
use pmip_engine::subnet_map::{SubnetEntry, SubnetMap};
use pmip_engine::time::{Instant, Now};
use pmip_wire::auth::Algorithm;
use pmip_wire::icmp;
use pmip_wire::registration::ReplyCode;

const HA_ADDR: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const FA_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const AP_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);
const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x50];
const FA_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x01];
const KEY: &[u8] = b"0987654";

fn sa(algorithm: Algorithm) -> SecurityAssociation {
    SecurityAssociation {
        spi: 0x102,
        key: KEY.to_vec(),
        algorithm,
        replay_window: Duration::from_secs(7),
    }
}

fn t0() -> Now {
    Now::new(Instant::ZERO, Duration::from_secs(1_795_564_800))
}

struct World {
    ap: ProxyAp,
    fa: ForeignAgent,
    ha: HomeAgent,
    /// Offset of the home agent's clock from everyone else's.
    ha_skew: Duration,
    /// Drop this many registration requests before the FA sees them.
    lose: u32,
    intercepts: Vec<Action>,
}

impl World {
    fn new(ap_cfg: ProxyApConfig, ha_lifetime: u16, fa_lifetime: u16) -> World {
        let mut hc = HomeAgentConfig {
            networks: vec![HomeNetwork {
                interface: "FastEthernet0".into(),
                address: HA_ADDR,
                prefix_len: 24,
            }],
            max_lifetime: ha_lifetime,
            ..Default::default()
        };
        hc.hosts
            .insert(
                Ipv4Addr::new(10, 1, 0, 10),
                Ipv4Addr::new(10, 1, 0, 99),
                MobileHost {
                    interface: "FastEthernet0".into(),
                    lifetime: None,
                },
            )
            .unwrap();
        hc.host_sas
            .insert(
                Ipv4Addr::new(10, 1, 0, 10),
                Ipv4Addr::new(10, 1, 0, 99),
                sa(Algorithm::KeyedMd5PrefixSuffix),
            )
            .unwrap();
        let fc = ForeignAgentConfig {
            interfaces: vec![ServiceInterface {
                name: "FastEthernet0".into(),
                address: FA_ADDR,
                prefix_len: 24,
                registration_lifetime: fa_lifetime,
                registration_required: true,
                reverse_tunnel: true,
                reverse_tunnel_mandatory: false,
                advertise: true,
                min_advert_interval: Duration::from_secs(3),
                max_advert_interval: Duration::from_secs(4),
                holdtime: 12,
                home_agent: false,
                visitor_limit: None,
            }],
            care_of_address: FA_ADDR,
            ..Default::default()
        };
        World {
            ap: ProxyAp::new(ap_cfg),
            fa: ForeignAgent::new(fc),
            ha: HomeAgent::new(hc),
            ha_skew: Duration::ZERO,
            lose: 0,
            intercepts: Vec::new(),
        }
    }

    /// Delivers the AP's actions through FA and HA and back, until quiet.
    fn run(&mut self, now: Now, mut actions: Vec<Action>) {
        while let Some(a) = actions.pop() {
            match a {
                Action::SendRegistration {
                    client_mac,
                    home_address,
                    to,
                    payload,
                    ..
                } => {
                    if self.lose > 0 {
                        self.lose -= 1;
                        continue;
                    }
                    let mut fa_out = Vec::new();
                    if to == FA_ADDR {
                        self.fa.handle_from_visitor(
                            now,
                            FromVisitor {
                                interface: "FastEthernet0",
                                mac: client_mac,
                                src: SocketAddrV4::new(home_address, 434),
                                payload: &payload,
                            },
                            &mut fa_out,
                        );
                    } else {
                        // Straight to the home agent (deregistration from home).
                        let mut ha_out = Vec::new();
                        self.ha.handle_datagram(
                            self.ha_now(now),
                            SocketAddrV4::new(home_address, 434),
                            to,
                            &payload,
                            &mut ha_out,
                        );
                        for h in ha_out {
                            if let ha::Action::Send { payload, .. } = h {
                                self.ap.registration_reply(now, &payload, &mut actions);
                            }
                        }
                    }
                    self.fa_actions(now, fa_out, &mut actions);
                }
                Action::Solicit => {
                    let mut fa_out = Vec::new();
                    self.fa
                        .handle_solicitation(now, "FastEthernet0", AP_ADDR, &mut fa_out);
                    self.fa_actions(now, fa_out, &mut actions);
                }
                other => self.intercepts.push(other),
            }
        }
    }

    fn ha_now(&self, now: Now) -> Now {
        Now::new(now.instant, now.unix + self.ha_skew)
    }

    fn fa_actions(&mut self, now: Now, mut fa_out: Vec<fa::Action>, ap_out: &mut Vec<Action>) {
        while let Some(f) = fa_out.pop() {
            match f {
                fa::Action::SendToNetwork { from, to, payload } => {
                    let mut ha_out = Vec::new();
                    self.ha.handle_datagram(
                        self.ha_now(now),
                        SocketAddrV4::new(from, 434),
                        *to.ip(),
                        &payload,
                        &mut ha_out,
                    );
                    for h in ha_out {
                        if let ha::Action::Send { from, payload, .. } = h {
                            self.fa.handle_from_network(
                                now,
                                SocketAddrV4::new(from, 434),
                                &payload,
                                &mut fa_out,
                            );
                        }
                    }
                }
                fa::Action::SendToVisitor { mac, payload, .. } => {
                    assert_eq!(mac, CLIENT_MAC, "the FA answers the client's MAC");
                    self.ap.registration_reply(now, &payload, ap_out);
                }
                fa::Action::Advertise { from, payload, .. } => {
                    if let Ok(icmp::Repr::Advertisement(adv)) =
                        icmp::Repr::parse(&icmp::Packet::new_unchecked(&payload[..]))
                    {
                        self.ap.advertisement(now, from, FA_MAC, &adv, ap_out);
                    }
                }
                fa::Action::VisitorUp(_)
                | fa::Action::VisitorDown(_)
                | fa::Action::VisitorRenewed(_) => {}
            }
        }
    }

    fn tick(&mut self, now: Now) {
        let mut out = Vec::new();
        self.ap.handle_timeout(now, &mut out);
        let mut fa_out = Vec::new();
        self.fa.handle_timeout(now, &mut fa_out);
        self.fa_actions(now, fa_out, &mut out);
        let mut ha_out = Vec::new();
        self.ha.handle_timeout(self.ha_now(now), &mut ha_out);
        self.run(now, out);
    }

    fn associate(&mut self, now: Now, ssid: &str) {
        let mut out = Vec::new();
        self.ap.associate(now, CLIENT_MAC, ssid, &mut out);
        self.ap
            .observe(now, CLIENT_MAC, Observation::ArpSender(CLIENT), &mut out);
        self.run(now, out);
    }

    fn state(&self) -> State {
        self.ap.station(&CLIENT_MAC).unwrap().state.clone()
    }
}

fn ap_config() -> ProxyApConfig {
    let mut nodes = HostRanges::new();
    nodes
        .insert(
            Ipv4Addr::new(10, 1, 0, 10),
            Ipv4Addr::new(10, 1, 0, 99),
            sa(Algorithm::KeyedMd5PrefixSuffix),
        )
        .unwrap();
    ProxyApConfig {
        own_address: AP_ADDR,
        own_prefix_len: 24,
        proxy_ssids: ["tsunami".to_owned()].into(),
        nodes,
        ..Default::default()
    }
}

fn subnet_map() -> SubnetMap {
    let mut m = SubnetMap::new();
    m.insert(SubnetEntry {
        home_agent: HA_ADDR,
        prefix_len: 24,
    });
    m.insert(SubnetEntry {
        home_agent: Ipv4Addr::new(198, 51, 100, 1),
        prefix_len: 24,
    });
    m
}

fn world(ha_lifetime: u16, fa_lifetime: u16) -> World {
    let mut w = World::new(ap_config(), ha_lifetime, fa_lifetime);
    let mut out = Vec::new();
    w.ap.set_subnet_map(t0(), subnet_map(), &mut out);
    w.ap.start(&mut out);
    w.run(t0(), out);
    assert!(
        w.ap.foreign_agent().is_some(),
        "boot solicitation answered by the FA"
    );
    w
}

#[test]
fn visiting_client_registered_reregistered_and_home_again() {
    let mut w = world(600, 600);
    let fa = w.ap.foreign_agent().unwrap().clone();
    assert_eq!(
        (
            fa.care_of_address,
            fa.registration_lifetime,
            fa.reverse_tunnel,
            fa.gre
        ),
        (FA_ADDR, 600, true, true)
    );
    w.associate(t0(), "tsunami");
    assert!(
        matches!(w.state(), State::Registered { lifetime: 600, .. }),
        "{:?}",
        w.state()
    );
    assert_eq!(w.ha.bindings().get(CLIENT)[0].care_of_address, FA_ADDR);
    assert_eq!(w.fa.visitors().count(), 1);
    // Simulated network, no delay: registered at the first frame.
    assert_eq!(w.ap.counters.handoff_latency.count, 1);
    assert_eq!(w.ap.counters.handoff_latency.counts[0], 1, "<= 5 ms");
    assert!(w.intercepts.iter().any(|a| matches!(a, Action::Intercept { client_mac, fa_mac, .. } if *client_mac == CLIENT_MAC && *fa_mac == FA_MAC)));

    // Re-registration before the lifetime ends: at 480 s of 600.
    assert_eq!(w.ap.poll_timeout(), Some(Instant::from_secs(480)));
    let later = t0().advance(Duration::from_secs(480));
    w.tick(later);
    assert!(matches!(w.state(), State::Registered { .. }));
    assert_eq!(w.ap.counters.reregistrations, 1);
    assert_eq!(
        w.ha.bindings().get(CLIENT)[0].remaining(later.instant),
        Duration::from_secs(600)
    );

    // The client comes home a little later: the AP of its home subnet
    // deregisters it.
    let later = later.advance(Duration::from_secs(5));
    let mut home_cfg = ap_config();
    home_cfg.own_address = Ipv4Addr::new(10, 1, 0, 10);
    let mut home_ap = ProxyAp::new(home_cfg);
    let mut out = Vec::new();
    home_ap.set_subnet_map(later, subnet_map(), &mut out);
    home_ap.associate(later, CLIENT_MAC, "tsunami", &mut out);
    home_ap.observe(later, CLIENT_MAC, Observation::Ipv4Source(CLIENT), &mut out);
    assert!(
        out.iter()
            .any(|a| matches!(a, Action::AnnounceHome { address, .. } if *address == CLIENT))
    );
    let dereg = out.iter().find_map(|a| match a {
        Action::SendRegistration { to, payload, .. } if *to == HA_ADDR => Some(payload.clone()),
        _ => None,
    });
    let mut ha_out = Vec::new();
    w.ha.handle_datagram(
        later,
        SocketAddrV4::new(CLIENT, 434),
        HA_ADDR,
        &dereg.expect("deregistration to the HA"),
        &mut ha_out,
    );
    assert!(
        w.ha.bindings().is_empty(),
        "binding removed when the client is home"
    );
    assert_eq!(home_ap.station(&CLIENT_MAC).unwrap().state, State::Home);
}

#[test]
fn resync_after_133() {
    let mut w = world(600, 600);
    w.ha_skew = Duration::from_secs(3600); // the HA's clock is an hour ahead
    w.associate(t0(), "tsunami");
    assert!(
        matches!(w.state(), State::Registered { .. }),
        "{:?}",
        w.state()
    );
    assert_eq!(w.ap.counters.resyncs, 1);
    assert_eq!(w.ap.counters.denied.get(&133), Some(&1));
}

#[test]
fn lifetime_negotiated_down() {
    // The FA advertises 600 but the HA grants at most 120.
    let mut w = world(120, 600);
    w.associate(t0(), "tsunami");
    assert!(
        matches!(w.state(), State::Registered { lifetime: 120, .. }),
        "{:?}",
        w.state()
    );
    assert_eq!(w.ap.poll_timeout(), Some(Instant::from_secs(96)));
}

#[test]
fn lost_requests_are_retransmitted_with_backoff() {
    let mut w = world(600, 600);
    w.lose = 2;
    w.associate(t0(), "tsunami");
    assert!(matches!(w.state(), State::Registering { tries: 0, .. }));
    w.tick(t0().advance(Duration::from_secs(1)));
    assert!(matches!(w.state(), State::Registering { tries: 1, .. }));
    assert_eq!(
        w.ap.poll_timeout(),
        Some(Instant::from_secs(3)),
        "second retransmission after 2 s more"
    );
    w.tick(t0().advance(Duration::from_secs(3)));
    assert!(
        matches!(w.state(), State::Registered { .. }),
        "{:?}",
        w.state()
    );
    assert_eq!(w.ap.counters.retransmissions, 2);
    // The handoff took 3 s from the first frame: the latency histogram
    // and the station record say so, and the round trip is the last try's.
    let st = w.ap.station(&CLIENT_MAC).unwrap();
    assert_eq!(st.registered_after, Some(Duration::from_secs(3)));
    assert_eq!(st.registration_rtt, Some(Duration::ZERO));
    let h = &w.ap.counters.handoff_latency;
    assert_eq!((h.count, h.sum_us), (1, 3_000_000));
    assert_eq!(
        h.counts[pmip_engine::proxy_ap::HANDOFF_BUCKETS_MS.len() - 1],
        1,
        "in the 5000 ms bucket"
    );
}

#[test]
fn denial_backs_off_and_tries_again() {
    let mut w = world(600, 600);
    // The HA has no SA for this client: 131, back off.
    w.ha = HomeAgent::new(HomeAgentConfig {
        networks: vec![HomeNetwork {
            interface: "FastEthernet0".into(),
            address: HA_ADDR,
            prefix_len: 24,
        }],
        ..Default::default()
    });
    w.associate(t0(), "tsunami");
    // 129 (not a host we serve) comes signed? No SA at the HA: unsigned,
    // so the AP does not believe it and keeps retransmitting.
    assert!(
        matches!(w.state(), State::Registering { .. }),
        "{:?}",
        w.state()
    );
    assert!(
        w.ap.counters
            .dropped
            .contains_key("reply failing authentication")
    );
}

#[test]
fn foreign_agent_denial_backs_off() {
    let mut w = world(600, 600);
    let mut cfg = ap_config();
    cfg.tunnel_reverse = true;
    let mut out = Vec::new();
    w.ap.set_config(t0(), cfg, &mut out);
    // The FA stops offering reverse tunnels but still advertises T: 74.
    let mut fc = w.fa.config().clone();
    fc.interfaces[0].reverse_tunnel = false;
    w.fa.set_config(fc);
    w.associate(t0(), "tsunami");
    match w.state() {
        State::BackingOff { code, until } => {
            assert_eq!(code, ReplyCode::ReverseTunnelUnavailableFa);
            assert_eq!(until, Instant::from_secs(30));
        }
        other => panic!("{other:?}"),
    }
    // After the back-off it tries again (and is denied again).
    w.tick(t0().advance(Duration::from_secs(30)));
    assert_eq!(w.ap.counters.denied.get(&74), Some(&2));
}

#[test]
fn dhcp_and_mobile_ip_clients_and_other_ssids_are_left_alone() {
    let mut w = world(600, 600);
    let mut out = Vec::new();
    w.ap.associate(t0(), CLIENT_MAC, "tsunami", &mut out);
    w.ap.observe(t0(), CLIENT_MAC, Observation::Dhcp, &mut out);
    w.ap.observe(t0(), CLIENT_MAC, Observation::Ipv4Source(CLIENT), &mut out);
    assert!(out.is_empty());
    assert_eq!(w.state(), State::NotProxied(NotProxied::Dhcp));

    let mut out = Vec::new();
    w.ap.associate(t0(), CLIENT_MAC, "tsunami", &mut out);
    w.ap.observe(t0(), CLIENT_MAC, Observation::MobileIp, &mut out);
    w.ap.observe(t0(), CLIENT_MAC, Observation::Ipv4Source(CLIENT), &mut out);
    assert_eq!(w.state(), State::NotProxied(NotProxied::MobileIpStack));

    let mut out = Vec::new();
    w.ap.associate(t0(), CLIENT_MAC, "guests", &mut out);
    w.ap.observe(t0(), CLIENT_MAC, Observation::Ipv4Source(CLIENT), &mut out);
    assert_eq!(w.state(), State::NotProxied(NotProxied::SsidNotProxied));

    // No SA, no subnet map entry.
    let mut out = Vec::new();
    w.ap.associate(t0(), CLIENT_MAC, "tsunami", &mut out);
    w.ap.observe(
        t0(),
        CLIENT_MAC,
        Observation::Ipv4Source(Ipv4Addr::new(10, 1, 0, 200)),
        &mut out,
    );
    assert_eq!(
        w.state(),
        State::NotProxied(NotProxied::NoSecurityAssociation)
    );
    w.ap.observe(
        t0(),
        CLIENT_MAC,
        Observation::Ipv4Source(Ipv4Addr::new(172, 16, 0, 5)),
        &mut out,
    );
    assert_eq!(w.state(), State::NotProxied(NotProxied::NoHomeAgent));
    assert!(out.is_empty());
}

#[test]
fn pause_releases_and_resume_registers() {
    let mut w = world(600, 600);
    w.associate(t0(), "tsunami");
    assert!(matches!(w.state(), State::Registered { .. }));
    let mut cfg = ap_config();
    cfg.paused = true;
    let mut out = Vec::new();
    w.ap.set_config(t0(), cfg, &mut out);
    assert_eq!(w.state(), State::NotProxied(NotProxied::Paused));
    assert!(out.iter().any(|a| matches!(a, Action::Release { .. })));
    let mut out = Vec::new();
    w.ap.set_config(t0().advance(Duration::from_secs(1)), ap_config(), &mut out);
    w.run(t0().advance(Duration::from_secs(1)), out);
    assert!(
        matches!(w.state(), State::Registered { .. }),
        "{:?}",
        w.state()
    );
}

#[test]
fn forged_and_malformed_replies_are_not_believed() {
    let mut w = world(600, 600);
    w.lose = 1;
    w.associate(t0(), "tsunami");
    let ident = {
        // The AP's request is in flight; forge an acceptance for it.
        let mut m = pmip_wire::registration::ReplyRepr {
            code: ReplyCode::Accepted,
            lifetime: 600,
            home_address: CLIENT,
            home_agent: HA_ADDR,
            identification: pmip_wire::identification::Identification::from_unix(t0().unix),
            extensions: pmip_wire::extension::Extensions::new(),
        }
        .to_vec();
        pmip_wire::extension::append_authentication(
            &mut m,
            pmip_wire::extension::kind::MOBILE_HOME_AUTH,
            0x102,
            Algorithm::KeyedMd5PrefixSuffix,
            b"guess",
        );
        m
    };
    let mut out = Vec::new();
    w.ap.registration_reply(t0(), &ident, &mut out);
    w.ap.registration_reply(t0(), &[3, 0, 1], &mut out);
    assert!(out.is_empty());
    assert!(
        matches!(w.state(), State::Registering { .. }),
        "not believed: {:?}",
        w.state()
    );
    assert_eq!(w.ap.counters.dropped.values().sum::<u64>(), 2);
}

/// SAs from the AAA server (the Aironet documentation: "specified externally on the RADIUS
/// server"): with no local SA the AP asks for one, registers once it
/// comes, and backs off (to ask again later) when the server fails.
#[test]
fn association_fetched_from_the_aaa_server() {
    let cfg = ProxyApConfig {
        nodes: HostRanges::new(),
        aaa: true,
        ..ap_config()
    };
    for ok in [true, false] {
        let mut w = World::new(cfg.clone(), 600, 600);
        let mut out = Vec::new();
        w.ap.set_subnet_map(t0(), subnet_map(), &mut out);
        w.ap.start(&mut out);
        w.run(t0(), out);
        w.associate(t0(), "tsunami");
        assert_eq!(w.state(), State::FetchingSa);
        assert_eq!(
            w.intercepts
                .iter()
                .filter(|a| matches!(a, Action::FetchSa { home } if *home == CLIENT))
                .count(),
            1,
            "asked once"
        );
        let mut out = Vec::new();
        let result = if ok {
            Ok(sa(Algorithm::KeyedMd5PrefixSuffix))
        } else {
            Err("no answer from any RADIUS server".to_owned())
        };
        w.ap.sa_result(t0(), CLIENT, result, &mut out);
        w.run(t0(), out);
        if ok {
            assert!(
                matches!(w.state(), State::Registered { .. }),
                "{:?}",
                w.state()
            );
            assert_eq!(w.ha.bindings().get(CLIENT).len(), 1);
            assert!(w.ap.node_sa(CLIENT).is_some());
        } else {
            assert!(
                matches!(w.state(), State::BackingOff { .. }),
                "{:?}",
                w.state()
            );
            assert!(w.ap.node_sa(CLIENT).is_none(), "a failure is not cached");
            assert_eq!(w.ha.bindings().get(CLIENT).len(), 0);
        }
    }
}
