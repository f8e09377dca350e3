//! The subnet map exchange format (docs/subnet-map-exchange.md): every
//! message type round-trips (Stations included), arbitrary and mutated
//! bytes never panic the parser and whatever parses re-emits to the same
//! bytes, a table larger than one datagram splits into chunks that
//! reassemble to it, any bit flipped or a wrong key fails authentication,
//! and a station entry that names no station is malformed.

use pmip_wire::Error;
use pmip_wire::subnet_exchange::{
    self as sx, Chunk, Entry, MAX_APS_PER_ENTRY, MAX_DATAGRAM, MAX_JOIN_ENTRIES,
    MAX_STATIONS_PER_MESSAGE, Message, Packet, Repr, Station, Subnet,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::HashSet;
use std::net::Ipv4Addr;

const KEY: &[u8] = b"0987654-subnet-map";

fn addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn entry(max_aps: usize) -> impl Strategy<Value = Entry> {
    (
        addr(),
        0u8..=32,
        any::<bool>(),
        any::<u32>(),
        prop::collection::vec(addr(), 0..=max_aps),
    )
        .prop_map(|(home_agent, prefix_len, deleted, version, aps)| Entry {
            home_agent,
            prefix_len,
            deleted,
            version,
            aps,
        })
}

/// A host address (what a station entry may carry).
fn host() -> impl Strategy<Value = Ipv4Addr> {
    addr().prop_filter("a host's address", |a| {
        !a.is_unspecified() && !a.is_broadcast() && !a.is_multicast()
    })
}

fn station() -> impl Strategy<Value = Station> {
    (any::<[u8; 6]>(), host(), host(), any::<u32>()).prop_map(|(mut mac, address, ap, age)| {
        // An individual address, never all zero.
        mac[0] &= 0xfe;
        mac[5] |= 1;
        Station {
            mac,
            address,
            ap,
            age,
        }
    })
}

fn chunk() -> impl Strategy<Value = Chunk> {
    (1u16..=u16::MAX)
        .prop_flat_map(|count| (0..count, Just(count)))
        .prop_map(|(index, count)| Chunk { index, count })
}

/// Entries whose encoding fits one datagram's body.
fn fitting_entries() -> impl Strategy<Value = Vec<Entry>> {
    prop::collection::vec(entry(40), 0..12).prop_map(|mut v| {
        while v.iter().map(Entry::buffer_len).sum::<usize>() > sx::MAX_BODY {
            v.pop();
        }
        v
    })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            any::<bool>(),
            prop::collection::vec(
                (addr(), 0u8..=32).prop_map(|(home_agent, prefix_len)| Subnet {
                    home_agent,
                    prefix_len
                }),
                0..=MAX_JOIN_ENTRIES
            )
        )
            .prop_map(|(full_table, subnets)| Message::Join {
                full_table,
                subnets
            }),
        (1..=u32::MAX, chunk(), fitting_entries()).prop_map(|(request, chunk, entries)| {
            Message::Table {
                request,
                chunk,
                entries,
            }
        }),
        (1..=u32::MAX, chunk(), fitting_entries()).prop_map(|(group, chunk, entries)| {
            Message::Update {
                group,
                chunk,
                entries,
            }
        }),
        (1..=u32::MAX).prop_map(|acknowledged| Message::Ack { acknowledged }),
        (any::<[u8; 32]>(), any::<u32>())
            .prop_map(|(digest, entries)| Message::Digest { digest, entries }),
        Just(Message::SyncRequest),
        prop::collection::vec(station(), 0..=MAX_STATIONS_PER_MESSAGE)
            .prop_map(|stations| Message::Stations { stations }),
    ]
}

fn repr() -> impl Strategy<Value = Repr> {
    (addr(), any::<u32>(), 1..=u32::MAX, message()).prop_map(
        |(sender, epoch, sequence, message)| Repr {
            sender,
            epoch,
            sequence,
            message,
        },
    )
}

/// A signed datagram with a few bytes changed and re-signed, so the
/// parser gets past authentication and into the body.
fn mutated_signed() -> impl Strategy<Value = Vec<u8>> {
    (
        repr(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        0usize..3,
    )
        .prop_map(|(r, muts, cut)| {
            let mut b = r.to_vec(KEY).unwrap();
            let n = b.len() - sx::MAC_LEN;
            let mut covered = b[..n].to_vec();
            for (i, v) in muts {
                let at = i.index(covered.len());
                covered[at] = v;
            }
            // Sometimes drop a few body bytes, so length checks are hit.
            let keep = covered.len().saturating_sub(cut * 3).max(sx::HEADER_LEN);
            covered.truncate(keep);
            let m = sx::mac(KEY, &covered);
            covered.extend_from_slice(&m);
            b.clear();
            b.extend_from_slice(&covered);
            b
        })
}

/// Nothing panics; whatever parses emits back to the same bytes (all of
/// them when authenticated; all but the trailer otherwise).
fn check(bytes: &[u8]) {
    let _ = sx::verify(KEY, bytes);
    if let Ok(p) = Packet::new_checked(bytes) {
        for e in p.entries() {
            let _ = e;
        }
        for s in p.stations() {
            let _ = s;
        }
    }
    if let Ok(r) = Repr::parse(bytes) {
        let out = r.to_vec(KEY).expect("a parsed message emits");
        assert_eq!(out.len(), bytes.len());
        assert_eq!(
            &out[..out.len() - sx::MAC_LEN],
            &bytes[..bytes.len() - sx::MAC_LEN]
        );
    }
    if let Ok(r) = Repr::parse_authenticated(bytes, KEY) {
        assert_eq!(r.to_vec(KEY).unwrap(), bytes);
    }
}

#[test]
fn arbitrary_and_mutated_bytes() {
    let strategy = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        mutated_signed(),
        // Valid version and type byte, the rest noise.
        (prop::collection::vec(any::<u8>(), 60..300), 1u8..=7).prop_map(|(mut b, t)| {
            b[0] = 1;
            b[1] = t;
            b
        }),
    ];
    TestRunner::new(Config {
        cases: 10_000,
        ..Config::default()
    })
    .run(&strategy, |b| {
        check(&b);
        Ok(())
    })
    .unwrap();
}

#[test]
fn mutated_messages_are_mostly_parsed_deeply() {
    // Guard against a generator that never gets past authentication: a
    // fair share of the mutated, re-signed datagrams must parse.
    let mut runner = TestRunner::deterministic();
    let strategy = mutated_signed();
    let mut parsed = 0;
    for _ in 0..500 {
        let b = strategy
            .new_tree(&mut runner)
            .map(|t| proptest::strategy::ValueTree::current(&t))
            .unwrap();
        if Repr::parse_authenticated(&b, KEY).is_ok() {
            parsed += 1;
        }
        check(&b);
    }
    assert!(parsed > 50, "only {parsed} of 500 parsed");
}

proptest! {
    #![proptest_config(Config { cases: 2000, ..Config::default() })]

    #[test]
    fn round_trip(r in repr()) {
        let b = r.to_vec(KEY).unwrap();
        prop_assert!(b.len() <= MAX_DATAGRAM);
        prop_assert_eq!(b.len(), r.buffer_len());
        prop_assert_eq!(&Repr::parse(&b).unwrap(), &r);
        prop_assert_eq!(&Repr::parse_authenticated(&b, KEY).unwrap(), &r);
        let p = Packet::new_checked(&b[..]).unwrap();
        prop_assert_eq!(p.msg_type(), r.message.kind());
        prop_assert_eq!(p.sender(), r.sender);
        prop_assert_eq!(p.epoch(), r.epoch);
        prop_assert_eq!(p.sequence(), r.sequence);
    }

    #[test]
    fn any_bit_flip_fails_authentication(r in repr(), bit in any::<prop::sample::Index>()) {
        let mut b = r.to_vec(KEY).unwrap();
        let bit = bit.index(b.len() * 8);
        b[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(!sx::verify(KEY, &b));
        prop_assert!(Repr::parse_authenticated(&b, KEY).is_err());
    }

    #[test]
    fn wrong_key_fails(r in repr(), other in prop::collection::vec(any::<u8>(), 0..40)) {
        prop_assume!(other != KEY);
        let b = r.to_vec(&other).unwrap();
        prop_assert!(!sx::verify(KEY, &b));
        prop_assert_eq!(
            Repr::parse_authenticated(&b, KEY),
            Err(Error::BadChecksum { what: "subnet exchange HMAC-SHA256" })
        );
        // Truncated or extended by a byte: no longer authentic either.
        let good = r.to_vec(KEY).unwrap();
        prop_assert!(!sx::verify(KEY, &good[..good.len() - 1]));
        let mut longer = good.clone();
        longer.push(0);
        prop_assert!(!sx::verify(KEY, &longer));
    }

    #[test]
    fn big_tables_split_and_reassemble(
        table in prop::collection::vec(entry(12), 0..400),
        giant in prop::collection::vec(addr(), 0..1500),
        budget in prop_oneof![Just(sx::MAX_BODY), 100usize..400],
    ) {
        // Distinct home agents and distinct APs per entry: a table as an
        // AAP holds it. One entry carries far more APs than fit a datagram.
        let mut seen = HashSet::new();
        let mut table: Vec<Entry> = table.into_iter().filter(|e| seen.insert(e.home_agent)).collect();
        if !seen.contains(&Ipv4Addr::new(10, 99, 0, 1)) {
            table.push(Entry {
                home_agent: Ipv4Addr::new(10, 99, 0, 1),
                prefix_len: 24,
                deleted: false,
                version: 3,
                aps: giant,
            });
        }
        for e in &mut table {
            let mut s = HashSet::new();
            e.aps.retain(|a| s.insert(*a));
        }
        let chunks = sx::split_entries_within(&table, budget).unwrap();
        prop_assert!(!chunks.is_empty());
        let count = u16::try_from(chunks.len()).unwrap();
        let mut received = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            let r = Repr {
                sender: Ipv4Addr::new(10, 1, 0, 2),
                epoch: 1,
                sequence: 100 + i as u32,
                message: Message::Table {
                    request: 9,
                    chunk: Chunk { index: i as u16, count },
                    entries: c.clone(),
                },
            };
            let b = r.to_vec(KEY).unwrap();
            prop_assert!(b.len() <= MAX_DATAGRAM);
            prop_assert!(b.len() - sx::HEADER_LEN - sx::MAC_LEN <= budget.max(16));
            match Repr::parse_authenticated(&b, KEY).unwrap().message {
                Message::Table { entries, .. } => received.extend(entries),
                other => prop_assert!(false, "got {:?}", other),
            }
        }
        prop_assert_eq!(sx::union_pieces(received).unwrap(), table.clone());
        // Entries that fit one chunk are never split.
        let pieces: usize = chunks.iter().map(Vec::len).sum();
        let split: usize = table.iter().filter(|e| e.buffer_len() > budget.max(16)).count();
        if split == 0 {
            prop_assert_eq!(pieces, table.len());
        }
        let total: usize = table.iter().map(Entry::buffer_len).sum();
        if total > budget {
            prop_assert!(chunks.len() > 1);
        }
    }

    #[test]
    fn digest_is_canonical(table in prop::collection::vec(entry(6), 0..30), shuffle in any::<u64>()) {
        let mut shuffled = table.clone();
        // A deterministic shuffle of the entries and of each AP list.
        let mut x = shuffle | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        for e in &mut shuffled {
            e.aps.reverse();
        }
        // Tombstones do not count.
        shuffled.retain(|e| !e.deleted);
        let mut seen = HashSet::new();
        let distinct = table.iter().all(|e| seen.insert(e.home_agent));
        prop_assume!(distinct);
        prop_assert_eq!(sx::table_digest(&table), sx::table_digest(&shuffled));
        if let Some(e) = shuffled.iter_mut().next() {
            e.version = e.version.wrapping_add(1);
            prop_assert_ne!(sx::table_digest(&table), sx::table_digest(&shuffled));
        }
    }
}

fn signed(message: Message) -> Vec<u8> {
    Repr {
        sender: Ipv4Addr::new(10, 1, 0, 2),
        epoch: 5,
        sequence: 1,
        message,
    }
    .to_vec(KEY)
    .unwrap()
}

/// Re-signs `b` after `f` changed it, so only the structure is judged.
fn resigned(mut b: Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    b.truncate(b.len() - sx::MAC_LEN);
    f(&mut b);
    let m = sx::mac(KEY, &b);
    b.extend_from_slice(&m);
    b
}

#[test]
fn structural_errors_are_typed() {
    let ack = signed(Message::Ack { acknowledged: 3 });
    let bad = |f: fn(&mut Vec<u8>)| Repr::parse_authenticated(&resigned(ack.clone(), f), KEY);
    assert!(matches!(
        bad(|b| b[0] = 2),
        Err(Error::Unsupported { value: 2, .. })
    ));
    assert!(matches!(
        bad(|b| b[1] = 8),
        Err(Error::Unsupported { value: 8, .. })
    ));
    assert!(matches!(bad(|b| b[3] = 1), Err(Error::Malformed { .. })));
    assert!(matches!(bad(|b| b[27] = 1), Err(Error::Malformed { .. })));
    assert!(matches!(bad(|b| b[15] = 0), Err(Error::Malformed { .. })));
    assert!(matches!(bad(|b| b[19] = 0), Err(Error::Malformed { .. })));
    assert!(matches!(bad(|b| b[23] = 2), Err(Error::Malformed { .. })));
    assert!(matches!(bad(|b| b.push(0)), Err(Error::BadLength { .. })));
    assert!(matches!(
        Repr::parse_authenticated(&ack[..40], KEY),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        Repr::parse(&vec![0u8; MAX_DATAGRAM + 1]),
        Err(Error::BadLength { .. })
    ));

    let table = signed(Message::Table {
        request: 1,
        chunk: Chunk { index: 0, count: 1 },
        entries: vec![Entry {
            home_agent: Ipv4Addr::new(10, 1, 0, 1),
            prefix_len: 24,
            deleted: false,
            version: 1,
            aps: vec![Ipv4Addr::new(10, 1, 0, 2)],
        }],
    });
    let bad = |f: fn(&mut Vec<u8>)| Repr::parse_authenticated(&resigned(table.clone(), f), KEY);
    // Prefix length 33, an undefined entry flag, an AP count past the end,
    // an entry count past the end, trailing bytes, chunk 1 of 1.
    assert!(matches!(bad(|b| b[32] = 33), Err(Error::Malformed { .. })));
    assert!(matches!(bad(|b| b[33] = 2), Err(Error::Malformed { .. })));
    assert!(matches!(bad(|b| b[35] = 2), Err(Error::Truncated { .. })));
    assert!(matches!(bad(|b| b[25] = 2), Err(Error::Truncated { .. })));
    assert!(matches!(
        bad(|b| b.extend_from_slice(&[0; 4])),
        Err(Error::BadLength { .. })
    ));
    assert!(matches!(bad(|b| b[21] = 1), Err(Error::Malformed { .. })));
    // A Join entry must not carry a version.
    let join = signed(Message::Join {
        full_table: true,
        subnets: vec![Subnet {
            home_agent: Ipv4Addr::new(10, 1, 0, 1),
            prefix_len: 24,
        }],
    });
    assert!(matches!(
        Repr::parse_authenticated(&resigned(join, |b| b[39] = 1), KEY),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn the_largest_entry_fits_and_one_more_ap_does_not() {
    let e = Entry {
        home_agent: Ipv4Addr::new(10, 1, 0, 1),
        prefix_len: 24,
        deleted: false,
        version: 1,
        aps: (0..MAX_APS_PER_ENTRY as u32).map(Ipv4Addr::from).collect(),
    };
    let mut r = Repr {
        sender: Ipv4Addr::new(10, 1, 0, 2),
        epoch: 1,
        sequence: 1,
        message: Message::Update {
            group: 1,
            chunk: Chunk::ONLY,
            entries: vec![e.clone()],
        },
    };
    assert!(r.to_vec(KEY).unwrap().len() <= MAX_DATAGRAM);
    let mut bigger = e;
    bigger.aps.push(Ipv4Addr::BROADCAST);
    r.message = Message::Update {
        group: 1,
        chunk: Chunk::ONLY,
        entries: vec![bigger.clone()],
    };
    assert!(matches!(r.to_vec(KEY), Err(Error::BadLength { .. })));
    let chunks = sx::split_entries(&[bigger.clone()]).unwrap();
    assert_eq!(chunks.len(), 2);
    assert_eq!(
        sx::union_pieces(chunks.into_iter().flatten()).unwrap(),
        vec![bigger]
    );
    // An empty table is one empty chunk.
    assert_eq!(sx::split_entries(&[]).unwrap(), vec![Vec::<Entry>::new()]);
}

#[test]
fn pieces_that_disagree_are_malformed() {
    let a = Entry {
        home_agent: Ipv4Addr::new(10, 1, 0, 1),
        prefix_len: 24,
        deleted: false,
        version: 1,
        aps: vec![Ipv4Addr::new(10, 1, 0, 2)],
    };
    let b = Entry {
        version: 2,
        ..a.clone()
    };
    assert!(matches!(
        sx::union_pieces([a.clone(), b]),
        Err(Error::Malformed { .. })
    ));
    let c = Entry {
        aps: vec![Ipv4Addr::new(10, 1, 0, 3), Ipv4Addr::new(10, 1, 0, 2)],
        ..a.clone()
    };
    let u = sx::union_pieces([a, c]).unwrap();
    assert_eq!(
        u[0].aps,
        vec![Ipv4Addr::new(10, 1, 0, 2), Ipv4Addr::new(10, 1, 0, 3)]
    );
}

#[test]
fn station_entries_that_name_no_station_are_malformed() {
    let stations = signed(Message::Stations {
        stations: vec![
            Station {
                mac: [2, 0, 0, 0x99, 0, 1],
                address: Ipv4Addr::new(10, 1, 0, 50),
                ap: Ipv4Addr::new(10, 3, 0, 2),
                age: 12,
            },
            Station {
                mac: [2, 0, 0, 0x99, 0, 2],
                address: Ipv4Addr::new(10, 1, 0, 51),
                ap: Ipv4Addr::new(10, 1, 0, 2),
                age: 0,
            },
        ],
    });
    let p = Packet::new_checked(&stations[..]).unwrap();
    assert_eq!(p.stations().count(), 2);
    assert!(Repr::parse_authenticated(&stations, KEY).is_ok());
    let bad = |f: fn(&mut Vec<u8>)| Repr::parse_authenticated(&resigned(stations.clone(), f), KEY);
    // The second entry starts at 48: a group MAC, a zero MAC, reserved
    // bits, a broadcast station address, an unspecified AP.
    assert!(matches!(bad(|b| b[48] = 1), Err(Error::Malformed { .. })));
    assert!(matches!(
        bad(|b| b[48..54].copy_from_slice(&[0; 6])),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(bad(|b| b[55] = 1), Err(Error::Malformed { .. })));
    assert!(matches!(
        bad(|b| b[56..60].copy_from_slice(&[255; 4])),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(
        bad(|b| b[60..64].copy_from_slice(&[0; 4])),
        Err(Error::Malformed { .. })
    ));
    // An entry count that disagrees with the body, a half entry, a
    // reference, chunk fields or a flag: what no Stations message has.
    assert!(matches!(bad(|b| b[25] = 3), Err(Error::BadLength { .. })));
    assert!(matches!(bad(|b| b[25] = 1), Err(Error::BadLength { .. })));
    assert!(matches!(
        bad(|b| b.extend_from_slice(&[0; 10])),
        Err(Error::BadLength { .. })
    ));
    assert!(matches!(bad(|b| b[19] = 1), Err(Error::Malformed { .. })));
    assert!(matches!(bad(|b| b[23] = 2), Err(Error::Malformed { .. })));
    assert!(matches!(bad(|b| b[3] = 1), Err(Error::Malformed { .. })));
    // 67 fit one datagram; the 68th does not.
    let full = Repr {
        sender: Ipv4Addr::new(10, 1, 0, 2),
        epoch: 5,
        sequence: 1,
        message: Message::Stations {
            stations: (0..MAX_STATIONS_PER_MESSAGE as u8)
                .map(|i| Station {
                    mac: [2, 0, 0, 0, 1, i],
                    address: Ipv4Addr::new(10, 1, 1, i),
                    ap: Ipv4Addr::new(10, 1, 0, 2),
                    age: u32::from(i),
                })
                .collect(),
        },
    };
    let b = full.to_vec(KEY).unwrap();
    assert!(b.len() <= MAX_DATAGRAM);
    assert_eq!(Repr::parse_authenticated(&b, KEY).unwrap(), full);
}
