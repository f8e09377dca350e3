//! Random inputs of every kind to a router node (home agent and foreign
//! agent) and an AP node: nothing the network, the links or a RADIUS
//! answer can bring reaches a panic, and the nodes keep serving.

mod support;

use pmip_config::Config;
use pmip_engine::security::SecurityAssociation;
use pmip_engine::time::{Instant, Now};
use pmip_node::{Input, Link, LinkEvent, Node, Role, StationPort};
use proptest::prelude::*;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;
use support::*;

#[derive(Debug, Clone)]
enum Random {
    Datagram {
        socket: usize,
        from: u32,
        port: u16,
        payload: Vec<u8>,
    },
    Frame {
        station: Option<u32>,
        frame: Vec<u8>,
    },
    Visited {
        mac: [u8; 6],
        packet: Vec<u8>,
    },
    Associate {
        ifindex: u32,
        ssid: String,
    },
    Disassociate {
        ifindex: u32,
    },
    Sa {
        ha: bool,
        home: u32,
        ok: bool,
        spi: u32,
    },
    Wait {
        ms: u64,
    },
    Exec {
        words: Vec<String>,
    },
}

/// Bytes that are sometimes a plausible message and sometimes not: a
/// valid-looking prefix (registration types, Ethernet/IPv4 headers)
/// followed by noise.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80),
        (
            prop_oneof![Just(1u8), Just(3), Just(18), Just(19)],
            proptest::collection::vec(any::<u8>(), 0..120)
        )
            .prop_map(|(t, mut v)| {
                v.insert(0, t);
                v
            }),
        proptest::collection::vec(any::<u8>(), 0..200).prop_map(|mut v| {
            // An Ethernet + IPv4 header start, the rest random.
            let mut f = vec![0xff; 12];
            f.extend([0x08, 0x00, 0x45, 0x00]);
            f.append(&mut v);
            f
        }),
    ]
}

fn random() -> impl Strategy<Value = Random> {
    let word = prop_oneof![
        Just("show".to_owned()),
        Just("ip".to_owned()),
        Just("mobile".to_owned()),
        Just("proxy-mobile".to_owned()),
        Just("binding".to_owned()),
        Just("clear".to_owned()),
        Just("configure".to_owned()),
        Just("all".to_owned()),
        "[a-z0-9 .;-]{0,12}",
    ];
    prop_oneof![
        (0usize..8, any::<u32>(), any::<u16>(), bytes()).prop_map(
            |(socket, from, port, payload)| {
                Random::Datagram {
                    socket,
                    from,
                    port,
                    payload,
                }
            }
        ),
        (proptest::option::of(100u32..104), bytes())
            .prop_map(|(station, frame)| Random::Frame { station, frame }),
        (any::<[u8; 6]>(), bytes()).prop_map(|(mac, packet)| Random::Visited { mac, packet }),
        (
            100u32..104,
            prop_oneof![Just("campus".to_owned()), "[a-z]{0,4}"]
        )
            .prop_map(|(ifindex, ssid)| Random::Associate { ifindex, ssid }),
        (100u32..104).prop_map(|ifindex| Random::Disassociate { ifindex }),
        (any::<bool>(), any::<u32>(), any::<bool>(), any::<u32>())
            .prop_map(|(ha, home, ok, spi)| Random::Sa { ha, home, ok, spi }),
        (0u64..5000).prop_map(|ms| Random::Wait { ms }),
        proptest::collection::vec(word, 0..6).prop_map(|words| Random::Exec { words }),
    ]
}

fn feed(node: &mut Node, now: &mut Instant, input: &Random) {
    let at = |t: Instant| Now::new(t, UNIX_START + t.since_origin());
    let sockets = node.udp_sockets();
    match input {
        Random::Datagram {
            socket,
            from,
            port,
            payload,
        } => {
            let local = sockets
                .get(socket % sockets.len().max(1))
                .copied()
                .unwrap_or(SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, 1), 434));
            node.handle(
                at(*now),
                Input::Datagram {
                    local,
                    remote: SocketAddrV4::new(Ipv4Addr::from(*from), *port),
                    payload,
                },
            );
        }
        Random::Frame { station, frame } => node.handle(
            at(*now),
            Input::Frame {
                link: station.map_or(Link::Wired, Link::Station),
                frame,
            },
        ),
        Random::Visited { mac, packet } => node.handle(
            at(*now),
            Input::VisitedPacket {
                interface: "FastEthernet0",
                mac: *mac,
                packet,
            },
        ),
        Random::Associate { ifindex, ssid } => node.handle(
            at(*now),
            Input::Link(LinkEvent::Associated(StationPort {
                ifindex: *ifindex,
                name: format!("sta{ifindex}"),
                radio: "Dot11Radio0".into(),
                ssid: ssid.clone(),
            })),
        ),
        Random::Disassociate { ifindex } => node.handle(
            at(*now),
            Input::Link(LinkEvent::Disassociated { ifindex: *ifindex }),
        ),
        Random::Sa { ha, home, ok, spi } => node.handle(
            at(*now),
            Input::SaResult {
                role: if *ha {
                    Role::HomeAgent
                } else {
                    Role::AccessPoint
                },
                home: Ipv4Addr::from(*home),
                result: if *ok {
                    Ok((
                        SecurityAssociation {
                            spi: *spi,
                            key: b"k".to_vec(),
                            algorithm: pmip_wire::auth::Algorithm::HmacMd5,
                            replay_window: Duration::from_secs(7),
                        },
                        SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 9), 1812),
                    ))
                } else {
                    Err("timeout".into())
                },
            },
        ),
        Random::Wait { ms } => {
            *now = *now + Duration::from_millis(*ms);
            if node.poll_timeout().is_some_and(|t| t <= *now) {
                node.handle_timeout(at(*now));
            }
        }
        Random::Exec { words } => {
            let _ = node.exec(at(*now), words, false);
        }
    }
    // The node's outputs are bounded by what it was given.
    let mut n = 0;
    while node.poll_output().is_some() {
        n += 1;
        assert!(n < 100_000, "runaway outputs");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_inputs_never_panic(inputs in proptest::collection::vec(random(), 1..60)) {
        for config in [router_config(1, 3), ap_config(2, 3)] {
            let mut now = Instant::ZERO;
            let mut node = Node::new(
                Config::parse(&config).unwrap(),
                Now::new(now, UNIX_START),
            );
            for input in &inputs {
                feed(&mut node, &mut now, input);
            }
            // Still answering its operator.
            let at = Now::new(now, UNIX_START + now.since_origin());
            prop_assert!(node.exec(at, &["show".into(), "version".into()], true).is_ok());
        }
    }
}
