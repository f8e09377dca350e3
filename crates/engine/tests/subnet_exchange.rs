//! The subnet map exchange (the Aironet documentation "Subnet Map Exchange") on a
//! simulated network with simulated time: APs booting with two AAPs
//! converge, also with 20 % loss; AAP[0] down makes the APs fail over and
//! loses no entry; AAP[0] back with an empty table recovers it; a home
//! agent nobody sits behind is probed and deleted everywhere if silent,
//! kept if it answers; forged, replayed and malformed datagrams are
//! dropped, counted, and change no table; a table of 300 home agents
//! travels in several datagrams. The campus station table: a station seen
//! at one AP reaches every AP through the AAP in two batches, follows a
//! roam, is refreshed, ages out; loss is repaired by the refresh; forged,
//! replayed, malformed and unwanted Stations messages are dropped and
//! counted, and the rate and table bounds hold.

use core::net::Ipv4Addr;
use core::time::Duration;
use pmip_engine::subnet_exchange::sim::Network;
use pmip_engine::subnet_exchange::{Action, Source, SubnetExchange, SubnetExchangeConfig};
use pmip_engine::subnet_map::SubnetEntry;
use pmip_wire::subnet_exchange::{self as wire, Chunk, Entry, Message, Repr};
use std::collections::BTreeSet;

const KEY: &[u8] = b"campus-subnet-map-key";
const AAP0: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const AAP1: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 2);

fn ha(subnet: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, subnet, 0, 1)
}

fn entry(subnet: u8) -> SubnetEntry {
    SubnetEntry {
        home_agent: ha(subnet),
        prefix_len: 24,
    }
}

/// The `j`th plain AP of subnet `s` (the AAPs are .2 of subnets 1 and 2).
fn ap(s: u8, j: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, s, 0, 10 + j)
}

fn cfg(own: Ipv4Addr) -> SubnetExchangeConfig {
    SubnetExchangeConfig {
        own_address: own,
        aaps: vec![AAP0, AAP1],
        key: KEY.to_vec(),
        ..Default::default()
    }
}

/// Two AAPs (subnets 1 and 2) and `per_subnet` APs in each of subnets
/// 1..=`subnets`.
fn campus(seed: u64, loss: f64, subnets: u8, per_subnet: u8) -> Network {
    let mut net = Network::new(seed, Duration::from_millis(1), loss);
    net.add(cfg(AAP0), &[entry(1)]);
    net.add(cfg(AAP1), &[entry(2)]);
    for s in 1..=subnets {
        for j in 0..per_subnet {
            net.add(cfg(ap(s, j)), &[entry(s)]);
        }
    }
    net
}

fn table_of(net: &Network, a: Ipv4Addr) -> BTreeSet<SubnetEntry> {
    net.engine(a).table().entries().iter().copied().collect()
}

/// Every node that is up holds exactly `expected`.
fn all_hold(net: &Network, expected: &BTreeSet<SubnetEntry>) -> bool {
    net.nodes
        .iter()
        .filter(|(_, n)| n.up)
        .all(|(a, _)| &table_of(net, *a) == expected)
}

fn expected(subnets: impl IntoIterator<Item = u8>) -> BTreeSet<SubnetEntry> {
    subnets.into_iter().map(entry).collect()
}

fn up_nodes(net: &Network) -> Vec<Ipv4Addr> {
    net.nodes
        .iter()
        .filter(|(_, n)| n.up)
        .map(|(a, _)| *a)
        .collect()
}

/// Nothing was rejected anywhere (a clean run).
fn assert_clean(net: &Network) {
    for (a, n) in &net.nodes {
        let c = n.engine.counters();
        assert_eq!(
            (c.bad_auth, c.malformed, c.replayed),
            (0, 0, 0),
            "{a}: {c:?}"
        );
    }
}

#[test]
fn boot_with_two_aaps_converges() {
    let mut net = campus(1, 0.0, 4, 3);
    let all = expected(1..=4);
    let took = net
        .run_until(Duration::from_secs(10), |n| all_hold(n, &all))
        .expect("converges");
    assert!(took < Duration::from_millis(50), "took {took:?}");
    for a in up_nodes(&net) {
        let e = net.engine(a);
        assert_eq!(e.is_aap(), a == AAP0 || a == AAP1);
        assert_eq!(e.current_aap(), Some(if a == AAP1 { AAP1 } else { AAP0 }));
    }
    // The AAP knows who sits behind each home agent; the APs learnt their
    // entries from it.
    let master = net.engine(AAP0).entries();
    let behind_1: Vec<Ipv4Addr> = master
        .iter()
        .find(|e| e.home_agent == ha(1))
        .unwrap()
        .aps
        .clone();
    assert_eq!(behind_1, vec![AAP0, ap(1, 0), ap(1, 1), ap(1, 2)]);
    let behind_2 = &master.iter().find(|e| e.home_agent == ha(2)).unwrap().aps;
    assert!(behind_2.contains(&AAP1) && behind_2.len() == 4);
    assert_eq!(net.engine(AAP0).members().len(), 12);
    let learnt = net.engine(ap(3, 0)).entries();
    assert!(
        learnt
            .iter()
            .all(|e| e.source == Source::Aap(AAP0) && e.aps.is_empty()),
        "{learnt:?}"
    );
    // After a digest round both AAPs hold the very same table.
    net.run_for(Duration::from_secs(25));
    assert_eq!(net.engine(AAP0).digest(), net.engine(AAP1).digest());
    assert_eq!(net.engine(AAP1).entries(), {
        let mut m = net.engine(AAP0).entries();
        for e in &mut m {
            let theirs = net
                .engine(AAP1)
                .entries()
                .into_iter()
                .find(|x| x.home_agent == e.home_agent)
                .unwrap();
            e.source = theirs.source;
            e.changed = theirs.changed;
        }
        m
    });
    // Keepalives keep everyone; nothing was probed.
    net.run_for(Duration::from_secs(300));
    assert!(all_hold(&net, &all));
    assert_eq!(net.probes, 0);
    assert_eq!(net.engine(AAP0).counters().aps_expired, 0);
    assert_clean(&net);
}

#[test]
fn twenty_percent_loss_still_converges() {
    for seed in [7, 8, 9] {
        let mut net = campus(seed, 0.2, 5, 3);
        let all = expected(1..=5);
        let took = net
            .run_until(Duration::from_secs(120), |n| all_hold(n, &all))
            .unwrap_or_else(|| panic!("seed {seed}: no convergence"));
        let c: u64 = net
            .nodes
            .values()
            .map(|n| n.engine.counters().retransmissions)
            .sum();
        assert!(net.lost > 0 && c > 0, "seed {seed}: loss exercised");
        assert!(took < Duration::from_secs(60), "seed {seed}: took {took:?}");
        // And the AAPs agree in the end, APs behind every entry included.
        net.run_until(Duration::from_secs(120), |n| {
            n.engine(AAP0).digest() == n.engine(AAP1).digest()
        })
        .unwrap_or_else(|| panic!("seed {seed}: AAPs disagree"));
        net.run_for(Duration::from_secs(200));
        assert!(all_hold(&net, &all), "seed {seed}: lost an entry later");
        // A change reaches every AP through retransmitted Updates (tries
        // at 0, 1, 3 and 7 s), well before any keepalive could repair it.
        net.with(ap(4, 0), |e, now, out| {
            e.report_own(now, &[entry(4), entry(6)], out)
        });
        let all6 = expected(1..=6);
        let took = net
            .run_until(Duration::from_secs(60), |n| all_hold(n, &all6))
            .unwrap_or_else(|| panic!("seed {seed}: change not delivered"));
        assert!(took < Duration::from_secs(8), "seed {seed}: took {took:?}");
        assert_eq!(net.probes, 0, "seed {seed}: no AP expired under loss");
        assert_clean(&net);
    }
}

#[test]
fn aap0_down_then_back_empty() {
    let mut net = campus(3, 0.0, 3, 2);
    let all = expected(1..=3);
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &all))
        .expect("boot");
    net.down(AAP0);
    // Keepalive (30 s) plus four unanswered Joins (15 s) later every AP
    // talks to AAP[1].
    net.run_for(Duration::from_secs(60));
    for a in up_nodes(&net) {
        let e = net.engine(a);
        assert_eq!(e.current_aap(), Some(AAP1), "{a}");
        if a != AAP1 {
            assert_eq!(e.counters().failovers, 1, "{a}");
        }
    }
    assert!(all_hold(&net, &all), "no entry lost");
    // A new AP booting now fails over too and gets the whole table; its
    // subnet reaches everyone.
    net.add(cfg(ap(4, 0)), &[entry(4)]);
    let all4 = expected(1..=4);
    let took = net
        .run_until(Duration::from_secs(30), |n| all_hold(n, &all4))
        .expect("new AP served by AAP[1]");
    assert!(took <= Duration::from_secs(16), "took {took:?}");
    assert_eq!(net.engine(ap(4, 0)).current_aap(), Some(AAP1));
    // AAP[1] gives AAP[0] up after peer_expiry; the other APs of subnet 1
    // keep its entry (no probe needed).
    net.run_for(Duration::from_secs(120));
    assert_eq!(net.engine(AAP1).counters().peers_lost, 1);
    assert!(all_hold(&net, &all4));
    assert_eq!(net.probes, 0);
    let behind_1 = net
        .engine(AAP1)
        .entries()
        .into_iter()
        .find(|e| e.home_agent == ha(1))
        .unwrap()
        .aps;
    assert_eq!(behind_1, vec![ap(1, 0), ap(1, 1)], "AAP[0] left subnet 1");

    // AAP[0] comes back as a fresh engine with an empty table: it pulls
    // the table from AAP[1] at start.
    net.add(cfg(AAP0), &[entry(1)]);
    let took = net
        .run_until(Duration::from_secs(10), |n| {
            table_of(n, AAP0) == all4 && n.engine(AAP0).digest() == n.engine(AAP1).digest()
        })
        .expect("AAP[0] recovers the table");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let c = net.engine(AAP0).counters();
    assert!(c.tables_installed >= 1 && c.sync_requests >= 1, "{c:?}");
    // It is back behind its home agent everywhere, and an AP booting with
    // AAP[0] first gets everything from it.
    net.add(cfg(ap(5, 0)), &[entry(5)]);
    let all5 = expected(1..=5);
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &all5))
        .expect("AAP[0] serves a new AP");
    assert_eq!(net.engine(ap(5, 0)).current_aap(), Some(AAP0));
    assert_eq!(net.engine(ap(5, 0)).counters().failovers, 0);
    net.run_for(Duration::from_secs(30));
    assert_eq!(net.engine(AAP0).digest(), net.engine(AAP1).digest());
    let behind_1 = net
        .engine(AAP1)
        .entries()
        .into_iter()
        .find(|e| e.home_agent == ha(1))
        .unwrap()
        .aps;
    assert_eq!(behind_1, vec![AAP0, ap(1, 0), ap(1, 1)]);
    assert_clean(&net);
}

#[test]
fn home_agent_gone_is_deleted_everywhere() {
    let mut net = campus(4, 0.0, 2, 2);
    net.add(cfg(ap(3, 0)), &[entry(3)]);
    let all = expected(1..=3);
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &all))
        .expect("boot");
    let before = net.probes;
    net.down(ap(3, 0));
    // Expiry (90 s), then three probes 2 s apart, then deletion.
    let took = net
        .run_until(Duration::from_secs(200), |n| all_hold(n, &expected(1..=2)))
        .expect("deleted everywhere");
    assert!(
        took > Duration::from_secs(90) && took < Duration::from_secs(110),
        "took {took:?}"
    );
    assert_eq!(net.probes - before, 3);
    let c0 = net.engine(AAP0).counters();
    assert_eq!(
        (c0.aps_expired, c0.probes_sent, c0.deleted_by_probe),
        (1, 3, 1)
    );
    // Only the first AAP probes (the second hears from it).
    assert_eq!(net.engine(AAP1).counters().probes_sent, 0);
    // The tombstone keeps it deleted through keepalives and digests.
    net.run_for(Duration::from_secs(300));
    assert!(all_hold(&net, &expected(1..=2)));
    assert_clean(&net);
}

#[test]
fn home_agent_alive_without_aps_is_kept() {
    let mut net = campus(5, 0.0, 2, 2);
    net.add(cfg(ap(3, 0)), &[entry(3)]);
    net.alive_home_agents.insert(ha(3));
    let all = expected(1..=3);
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &all))
        .expect("boot");
    net.down(ap(3, 0));
    net.run_for(Duration::from_secs(200));
    assert!(all_hold(&net, &all), "kept: its home agent answers");
    let c = net.engine(AAP0).counters();
    assert_eq!(
        (c.aps_expired, c.probes_answered, c.deleted_by_probe),
        (1, 1, 0)
    );
    let e = net
        .engine(AAP0)
        .entries()
        .into_iter()
        .find(|e| e.home_agent == ha(3))
        .unwrap();
    assert!(e.aps.is_empty());
    // Probed again every 5 minutes while nobody is behind it; once the
    // home agent stops answering, the entry goes.
    net.run_for(Duration::from_secs(400));
    assert!(net.engine(AAP0).counters().probes_answered >= 2);
    assert!(all_hold(&net, &all));
    net.alive_home_agents.clear();
    net.run_until(Duration::from_secs(400), |n| all_hold(n, &expected(1..=2)))
        .expect("deleted once silent");
    assert_eq!(net.engine(AAP0).counters().deleted_by_probe, 1);
    // An AP behind it again brings it back.
    net.add(cfg(ap(3, 1)), &[entry(3)]);
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &all))
        .expect("back");
    assert_clean(&net);
}

fn signed(from: Ipv4Addr, epoch: u32, seq: u32, message: Message, key: &[u8]) -> Vec<u8> {
    Repr {
        sender: from,
        epoch,
        sequence: seq,
        message,
    }
    .to_vec(key)
    .unwrap()
}

fn bogus_update(group: u32) -> Message {
    Message::Update {
        group,
        chunk: Chunk::ONLY,
        entries: vec![Entry {
            home_agent: Ipv4Addr::new(10, 99, 0, 1),
            prefix_len: 24,
            deleted: false,
            version: 1_000_000,
            aps: vec![],
        }],
    }
}

#[test]
fn forged_replayed_and_malformed_are_dropped_and_counted() {
    let mut net = campus(6, 0.0, 3, 2);
    net.record = true;
    let all = expected(1..=3);
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &all))
        .expect("boot");
    let victim = ap(3, 1);
    let aap_epoch = u32::try_from(net.now.unix.as_secs()).unwrap();
    let counters = |net: &Network| net.engine(victim).counters().clone();
    let c0 = counters(&net);

    // Forged: the AAP's address, the wrong key.
    net.inject(
        AAP0,
        victim,
        signed(AAP0, aap_epoch, 900, bogus_update(900), b"guess"),
    );
    // Right key, but an AP that is no AAP pushing a table.
    net.inject(
        ap(2, 0),
        victim,
        signed(ap(2, 0), aap_epoch, 901, bogus_update(901), KEY),
    );
    // Right key, sender field not the source address.
    net.inject(
        ap(2, 0),
        victim,
        signed(AAP0, aap_epoch, 902, bogus_update(902), KEY),
    );
    // Authentic but malformed: prefix length 33, and plain garbage.
    let mut bad = signed(AAP0, aap_epoch, 903, bogus_update(903), KEY);
    bad.truncate(bad.len() - wire::MAC_LEN);
    bad[wire::HEADER_LEN + 4] = 33;
    let m = wire::mac(KEY, &bad);
    bad.extend_from_slice(&m);
    net.inject(AAP0, victim, bad);
    net.inject(AAP0, victim, vec![1, 3, 0, 0, 10]);
    // Replayed: the Table the AAP sent this AP at boot, again (same
    // epoch, seen: a duplicate, re-acknowledged but not applied).
    let (_, _, old_table) = net
        .recorded
        .iter()
        .find(|(f, t, d)| {
            *f == AAP0
                && *t == victim
                && matches!(Repr::parse(d).unwrap().message, Message::Table { .. })
        })
        .cloned()
        .unwrap();
    net.inject(AAP0, victim, old_table.clone());
    net.run_for(Duration::from_millis(10));

    let c1 = counters(&net);
    assert_eq!(c1.bad_auth - c0.bad_auth, 1);
    assert_eq!(c1.malformed - c0.malformed, 2);
    assert_eq!(c1.duplicates - c0.duplicates, 1);
    assert_eq!(c1.acks_sent - c0.acks_sent, 1, "the duplicate is re-acked");
    assert_eq!(
        c1.dropped
            .get("table from an address not in the AAP list")
            .copied(),
        Some(1)
    );
    assert_eq!(
        c1.dropped
            .get("sender field is not the source address")
            .copied(),
        Some(1)
    );
    assert!(all_hold(&net, &all), "no table changed");

    // An AAP takes no table from a plain AP either, nor Joins from
    // strangers without the key.
    let ca = net.engine(AAP1).counters().clone();
    net.inject(
        ap(1, 0),
        AAP1,
        signed(ap(1, 0), aap_epoch, 950, bogus_update(950), KEY),
    );
    net.inject(
        Ipv4Addr::new(192, 0, 2, 66),
        AAP1,
        signed(
            Ipv4Addr::new(192, 0, 2, 66),
            aap_epoch,
            1,
            Message::Join {
                full_table: true,
                subnets: vec![wire::Subnet {
                    home_agent: Ipv4Addr::new(10, 98, 0, 1),
                    prefix_len: 24,
                }],
            },
            b"not the key",
        ),
    );
    net.run_for(Duration::from_millis(10));
    let cb = net.engine(AAP1).counters();
    assert_eq!(cb.bad_auth - ca.bad_auth, 1);
    assert_eq!(
        cb.dropped
            .get("table from an address not in the AAP list")
            .copied(),
        Some(1)
    );
    assert!(all_hold(&net, &all));

    // Replayed across a restart: AAP[0] comes back in a newer epoch; its
    // old messages are then from an older epoch and dropped.
    net.down(AAP0);
    net.run_for(Duration::from_secs(2));
    net.add(cfg(AAP0), &[entry(1)]);
    net.run_for(Duration::from_secs(5));
    // The restarted AAP0 now talks to the victim in its new epoch (a
    // keepalive Join answered, or an Update).
    net.with(victim, |e, now, out| e.refresh(now, out));
    net.run_for(Duration::from_secs(20));
    let c2 = counters(&net);
    net.inject(AAP0, victim, old_table);
    net.run_for(Duration::from_millis(10));
    let c3 = counters(&net);
    assert_eq!(c3.replayed - c2.replayed, 1);
    assert!(all_hold(&net, &all));
}

#[test]
fn replayed_update_does_not_resurrect_a_deleted_entry() {
    let mut net = campus(10, 0.0, 2, 1);
    net.record = true;
    net.add(cfg(ap(7, 0)), &[entry(7)]);
    let all = expected([1, 2, 7]);
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &all))
        .expect("boot");
    let victim = ap(2, 0);
    // The Update that told the victim about subnet 7.
    let (_, _, update) = net
        .recorded
        .iter()
        .find(|(f, t, d)| {
            *f == AAP0 && *t == victim && {
                match Repr::parse(d).unwrap().message {
                    Message::Update { entries, .. } => {
                        entries.iter().any(|e| e.home_agent == ha(7) && !e.deleted)
                    }
                    _ => false,
                }
            }
        })
        .cloned()
        .expect("subnet 7 was pushed as an Update");
    net.down(ap(7, 0));
    net.run_until(Duration::from_secs(200), |n| all_hold(n, &expected([1, 2])))
        .expect("deleted");
    let c0 = net.engine(victim).counters().clone();
    net.inject(AAP0, victim, update.clone());
    // Even re-signed with a fresh sequence (an insider replaying content),
    // the tombstone's higher version wins.
    let mut r = Repr::parse(&update).unwrap();
    r.sequence += 10_000;
    if let Message::Update { group, .. } = &mut r.message {
        *group = r.sequence;
    }
    net.inject(AAP0, victim, r.to_vec(KEY).unwrap());
    net.run_for(Duration::from_millis(10));
    let c1 = net.engine(victim).counters();
    assert_eq!(c1.duplicates - c0.duplicates, 1);
    assert_eq!(c1.updates_applied - c0.updates_applied, 1);
    assert!(all_hold(&net, &expected([1, 2])));
}

#[test]
fn a_table_of_300_home_agents_travels_in_chunks() {
    let mut net = campus(11, 0.0, 2, 1);
    net.record = true;
    // Three APs, each behind 100 home agents.
    let mut all = expected(1..=2);
    for k in 0..3u8 {
        let own: Vec<SubnetEntry> = (0..100u8)
            .map(|i| SubnetEntry {
                home_agent: Ipv4Addr::new(172, 16 + k, i, 1),
                prefix_len: 24,
            })
            .collect();
        all.extend(own.iter().copied());
        net.add(cfg(Ipv4Addr::new(10, 50 + k, 0, 10)), &own);
    }
    assert_eq!(all.len(), 302);
    net.run_until(Duration::from_secs(10), |n| all_hold(n, &all))
        .expect("every AP holds 302 entries");
    // A late AP gets it all as one chunked Table.
    let late = ap(1, 5);
    net.add(cfg(late), &[entry(1)]);
    net.run_until(Duration::from_secs(10), |n| table_of(n, late) == all)
        .expect("late AP");
    let chunks: Vec<Chunk> = net
        .recorded
        .iter()
        .filter(|(f, t, _)| *f == AAP0 && *t == late)
        .filter_map(|(_, _, d)| match Repr::parse(d).unwrap().message {
            Message::Table { chunk, .. } => Some(chunk),
            _ => None,
        })
        .collect();
    assert!(chunks.len() >= 3, "{chunks:?}");
    assert!(chunks.iter().all(|c| c.count as usize == chunks.len()));
    assert!(
        net.recorded
            .iter()
            .all(|(_, _, d)| d.len() <= wire::MAX_DATAGRAM)
    );
    // Between the AAPs, with AP lists, too.
    net.run_for(Duration::from_secs(30));
    assert_eq!(net.engine(AAP0).digest(), net.engine(AAP1).digest());
    assert_clean(&net);
}

#[test]
fn report_changes_clear_and_refresh() {
    let mut net = campus(12, 0.0, 3, 2);
    let all = expected(1..=3);
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &all))
        .expect("boot");
    // An AP learns one more home agent behind it (an H-bit advertisement).
    let mover = ap(3, 0);
    net.with(mover, |e, now, out| {
        e.report_own(now, &[entry(3), entry(9)], out)
    });
    let with9 = expected([1, 2, 3, 9]);
    net.run_until(Duration::from_secs(2), |n| all_hold(n, &with9))
        .expect("new home agent everywhere");
    // It moves off home agent 9 again; nobody else is behind it, the home
    // agent does not answer its probe: gone.
    net.with(mover, |e, now, out| e.report_own(now, &[entry(3)], out));
    net.run_until(Duration::from_secs(20), |n| all_hold(n, &all))
        .expect("home agent 9 deleted after probes");
    assert_eq!(net.engine(AAP0).counters().deleted_by_probe, 1);

    // clear: the table is dropped (TableChanged) and rebuilt from the AAP.
    let victim = ap(2, 1);
    let mut saw_change = false;
    net.with(victim, |e, now, out| {
        e.clear(now, out);
        saw_change = out.contains(&Action::TableChanged);
        // Only its own entry is left until the AAP answers.
        assert_eq!(e.table().entries(), &[entry(2)]);
    });
    assert!(saw_change);
    net.run_until(Duration::from_secs(2), |n| table_of(n, victim) == all)
        .expect("rebuilt");
    // refresh: a full Join right away, answered with the table.
    let before = net.engine(victim).counters().tables_installed;
    net.with(victim, |e, now, out| {
        e.refresh(now, out);
        assert!(matches!(out[..], [Action::Send { to: AAP0, .. }]));
    });
    net.run_for(Duration::from_millis(50));
    assert_eq!(net.engine(victim).counters().tables_installed, before + 1);
    assert!(all_hold(&net, &all));
}

#[test]
fn a_plain_ap_alone_and_inputs_before_start() {
    // Never started: inputs are counted, nothing is sent.
    let mut e = SubnetExchange::new(cfg(ap(1, 0)));
    let mut out = Vec::new();
    e.receive(
        pmip_engine::time::Now::new(
            pmip_engine::time::Instant::ZERO,
            Duration::from_secs(1_795_564_800),
        ),
        AAP0,
        &[0; 100],
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(e.poll_timeout(), None);
    assert_eq!(e.counters().dropped.get("not started").copied(), Some(1));

    // An AP whose AAPs never answer keeps trying them in turn and keeps
    // its own entry meanwhile.
    let mut net = Network::new(2, Duration::from_millis(1), 0.0);
    net.add(cfg(ap(1, 0)), &[entry(1)]);
    net.run_for(Duration::from_secs(100));
    let e = net.engine(ap(1, 0));
    assert!(e.counters().failovers >= 5, "{:?}", e.counters());
    assert_eq!(e.table().entries(), &[entry(1)]);
    assert_eq!(
        e.entries().iter().map(|x| x.source).collect::<Vec<_>>(),
        vec![Source::Own]
    );
    // Truncation and probes answered for nothing are counted, not fatal.
    net.with(ap(1, 0), |e, now, out| {
        e.probe_answered(now, ha(1), out);
        e.receive(now, AAP0, &[1, 2, 3], out);
    });
    let c = net.engine(ap(1, 0)).counters();
    assert_eq!(c.malformed, 1);
    assert_eq!(c.dropped.get("probe answer for no probe").copied(), Some(1));
}

mod fuzz {
    use super::*;
    use pmip_engine::time::{Instant, Now};
    use proptest::prelude::*;

    /// A datagram an attacker or a broken peer might send: noise, or a
    /// valid message of any type signed with the campus key and then
    /// mutated and signed again, so it reaches the engine's logic.
    fn datagram() -> impl Strategy<Value = Vec<u8>> {
        let entry = (0u8..4, 0u8..=32, any::<bool>(), 0u32..5, 0usize..3).prop_map(
            |(s, prefix_len, deleted, version, n)| Entry {
                home_agent: ha(s),
                prefix_len,
                deleted,
                version,
                aps: (0..n as u8).map(|j| ap(1, j)).collect(),
            },
        );
        let message = prop_oneof![
            (any::<bool>(), prop::collection::vec(0u8..5, 0..4)).prop_map(|(f, s)| {
                Message::Join {
                    full_table: f,
                    subnets: s
                        .into_iter()
                        .map(|s| wire::Subnet {
                            home_agent: ha(s),
                            prefix_len: 24,
                        })
                        .collect(),
                }
            }),
            (
                1u32..6,
                0u16..3,
                1u16..3,
                prop::collection::vec(entry.clone(), 0..4)
            )
                .prop_map(|(request, index, count, entries)| Message::Table {
                    request,
                    chunk: Chunk {
                        index: index % count,
                        count,
                    },
                    entries,
                }),
            (
                1u32..6,
                0u16..3,
                1u16..3,
                prop::collection::vec(entry, 0..4)
            )
                .prop_map(|(group, index, count, entries)| Message::Update {
                    group,
                    chunk: Chunk {
                        index: index % count,
                        count,
                    },
                    entries,
                }),
            (1u32..6).prop_map(|acknowledged| Message::Ack { acknowledged }),
            any::<[u8; 32]>().prop_map(|digest| Message::Digest { digest, entries: 1 }),
            Just(Message::SyncRequest),
            prop::collection::vec((0u8..4, 0u8..4, 0u32..4000), 0..5).prop_map(|v| {
                Message::Stations {
                    stations: v
                        .into_iter()
                        .map(|(m, s, age)| wire::Station {
                            mac: mac(m),
                            address: Ipv4Addr::new(10, s, 0, 50 + m),
                            ap: ap(s, 0),
                            age,
                        })
                        .collect(),
                }
            }),
        ];
        let sender = prop_oneof![Just(AAP0), Just(AAP1), Just(ap(1, 0)), Just(ap(2, 0))];
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..120),
            (
                sender,
                1u32..4,
                1u32..8,
                message,
                prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..2)
            )
                .prop_map(|(sender, epoch, sequence, message, muts)| {
                    let mut b = Repr {
                        sender,
                        epoch: 1_795_564_800 + epoch,
                        sequence,
                        message,
                    }
                    .to_vec(KEY)
                    .unwrap();
                    if !muts.is_empty() {
                        b.truncate(b.len() - wire::MAC_LEN);
                        for (i, v) in muts {
                            let at = i.index(b.len());
                            b[at] = v;
                        }
                        let m = wire::mac(KEY, &b);
                        b.extend_from_slice(&m);
                    }
                    b
                }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        #[test]
        fn any_input_is_survived_and_timers_move_on(
            inputs in prop::collection::vec(
                (datagram(), prop_oneof![Just(AAP0), Just(AAP1), Just(ap(1, 0)), Just(ap(2, 0))], 0u64..3000),
                0..25,
            ),
        ) {
            for own in [AAP0, ap(3, 0)] {
                let mut e = SubnetExchange::new(cfg(own));
                let mut now = Now::new(Instant::ZERO, Duration::from_secs(1_795_564_810));
                let mut out = Vec::new();
                e.report_own(now, &[entry(3)], &mut out);
                e.start(now, &mut out);
                for (d, from, wait) in &inputs {
                    now = now.advance(Duration::from_millis(*wait));
                    // Timers due by now first, as a daemon would.
                    while e.poll_timeout().is_some_and(|t| t <= now.instant) {
                        e.handle_timeout(now, &mut out);
                        prop_assert!(e.poll_timeout().is_none_or(|t| t > now.instant), "timer did not move on");
                    }
                    let sender = Repr::parse(d).map(|r| r.sender).ok();
                    e.receive(now, sender.unwrap_or(*from), d, &mut out);
                    e.probe_answered(now, ha(1), &mut out);
                    e.station_seen(now, mac(9), Ipv4Addr::new(10, 3, 0, 59), &mut out);
                    prop_assert!(e.stations(now.instant).len() <= 6);
                }
                for a in &out {
                    if let Action::Send { datagram, .. } = a {
                        prop_assert!(datagram.len() <= wire::MAX_DATAGRAM);
                        prop_assert!(wire::verify(KEY, datagram));
                    }
                }
                // A plain AP's entries come only from listed AAPs.
                if !e.is_aap() {
                    for x in e.entries() {
                        prop_assert!(matches!(x.source, Source::Own | Source::Aap(AAP0) | Source::Aap(AAP1)));
                    }
                }
            }
        }
    }
}

#[test]
fn an_ap_whose_clock_went_back_is_heard_again_after_expiry() {
    // One AAP only, so the AP has nowhere else to go.
    let one = |own| SubnetExchangeConfig {
        aaps: vec![AAP0],
        ..cfg(own)
    };
    let mut net = Network::new(13, Duration::from_millis(1), 0.0);
    net.add(one(AAP0), &[entry(1)]);
    let x = ap(2, 0);
    net.add(one(x), &[entry(2)]);
    let all = expected(1..=2);
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &all))
        .expect("boot");
    net.run_for(Duration::from_secs(40));
    // It restarts with an epoch older than the one it booted with (no
    // real-time clock): its Joins look like replays at first.
    net.down(x);
    net.add(
        SubnetExchangeConfig {
            epoch: Some(1000),
            ..one(x)
        },
        &[entry(2)],
    );
    net.run_for(Duration::from_secs(20));
    assert!(net.engine(AAP0).counters().replayed >= 4);
    assert_eq!(table_of(&net, x), expected([2]), "only its own so far");
    // Once the AAP has not heard from it for ap_expiry it forgets its
    // window, and the next Join is taken.
    let took = net
        .run_until(Duration::from_secs(200), |n| all_hold(n, &all))
        .expect("heard again");
    assert!(took < Duration::from_secs(120), "took {took:?}");
    let c = net.engine(AAP0).counters();
    assert_eq!(c.aps_expired, 1);
    // Its expiry left home agent 2 without APs, so the AAP started to
    // probe it; the AP's next Join puts it back behind it.
    assert!(net.probes >= 1);
    assert_eq!(
        net.engine(AAP0)
            .entries()
            .iter()
            .map(|e| e.aps.clone())
            .collect::<Vec<_>>(),
        vec![vec![AAP0], vec![x]]
    );
}

// ----- the campus station table ------------------------------------------

fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0x99, 0, n]
}

/// The address `node` holds for station `m`, and the AP it names.
fn station_at(net: &Network, node: Ipv4Addr, m: [u8; 6]) -> Option<(Ipv4Addr, Ipv4Addr)> {
    net.engine(node)
        .station(&m, net.now.instant)
        .map(|s| (s.address, s.ap))
}

fn everyone_has(net: &Network, m: [u8; 6], want: (Ipv4Addr, Ipv4Addr)) -> bool {
    up_nodes(net)
        .into_iter()
        .all(|a| station_at(net, a, m) == Some(want))
}

fn seen(net: &mut Network, at: Ipv4Addr, m: [u8; 6], address: Ipv4Addr) {
    net.with(at, |e, now, out| e.station_seen(now, m, address, out));
}

/// Stations datagrams recorded from `from`, with their entry counts.
fn stations_sent(net: &Network, from: Ipv4Addr) -> Vec<usize> {
    net.recorded
        .iter()
        .filter(|(f, _, _)| *f == from)
        .filter_map(|(_, _, d)| match Repr::parse(d).unwrap().message {
            Message::Stations { stations } => Some(stations.len()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_station_seen_at_one_ap_reaches_every_ap_follows_a_roam_and_ages_out() {
    let mut net = campus(20, 0.0, 3, 2);
    net.record = true;
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &expected(1..=3)))
        .expect("boot");
    net.run_for(Duration::from_secs(1));
    let plain = ap(3, 0);
    let address = Ipv4Addr::new(10, 3, 0, 50);
    seen(&mut net, plain, mac(1), address);
    // One batch at the AP, one at the AAP, 1 ms hops: every AP and both
    // AAPs know it in about 100 ms.
    let took = net
        .run_until(Duration::from_secs(2), |n| {
            everyone_has(n, mac(1), (address, plain))
        })
        .expect("the station reaches every AP");
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_millis(110),
        "took {took:?}"
    );
    assert_eq!(stations_sent(&net, plain), vec![1]);

    // A hundred stations at once: two datagrams from the AP, within one
    // batch, and the AAP passes them on in as few.
    net.recorded.clear();
    for i in 0..100u8 {
        seen(&mut net, ap(2, 1), mac(100 + i), Ipv4Addr::new(10, 2, 1, i));
    }
    net.run_until(Duration::from_secs(2), |n| {
        (0..100u8).all(|i| everyone_has(n, mac(100 + i), (Ipv4Addr::new(10, 2, 1, i), ap(2, 1))))
    })
    .expect("a hundred stations everywhere");
    assert_eq!(stations_sent(&net, ap(2, 1)), vec![67, 33]);
    let to_one_ap: Vec<usize> = net
        .recorded
        .iter()
        .filter(|(f, t, _)| *f == AAP0 && *t == ap(1, 0))
        .filter_map(|(_, _, d)| match Repr::parse(d).unwrap().message {
            Message::Stations { stations } => Some(stations.len()),
            _ => None,
        })
        .collect();
    assert_eq!(to_one_ap, vec![67, 33]);
    assert!(
        net.recorded
            .iter()
            .all(|(_, _, d)| d.len() <= wire::MAX_DATAGRAM)
    );

    // The station roams to an AP of subnet 1: the newer sighting wins
    // everywhere, and the AP it left stops speaking for it.
    net.run_for(Duration::from_secs(10));
    seen(&mut net, ap(1, 1), mac(1), address);
    net.run_until(Duration::from_secs(2), |n| {
        everyone_has(n, mac(1), (address, ap(1, 1)))
    })
    .expect("the roam reaches every AP");
    // Refreshes (every 60 s) keep it as it is while ages grow.
    net.run_for(Duration::from_secs(600));
    assert!(everyone_has(&net, mac(1), (address, ap(1, 1))));
    let s = net.engine(plain).station(&mac(1), net.now.instant).unwrap();
    assert!(
        s.age >= Duration::from_secs(599) && s.age <= Duration::from_secs(602),
        "{s:?}"
    );
    let c = net.engine(AAP0).counters();
    assert!(c.stations_accepted > 100 && c.stations_sent > 100, "{c:?}");

    // Nobody sees it again: an hour after its last sighting it is gone
    // everywhere, and so are the hundred.
    net.run_for(Duration::from_secs(3600 - 602 - 2));
    assert!(everyone_has(&net, mac(1), (address, ap(1, 1))));
    net.run_for(Duration::from_secs(5));
    for a in up_nodes(&net) {
        assert_eq!(station_at(&net, a, mac(1)), None, "{a}");
        assert!(net.engine(a).stations(net.now.instant).is_empty(), "{a}");
        assert!(net.engine(a).counters().stations_expired >= 100, "{a}");
    }
    assert_clean(&net);
}

#[test]
fn lost_stations_are_repaired_by_the_refresh() {
    for seed in [21, 22] {
        let mut net = campus(seed, 0.0, 3, 2);
        net.run_until(Duration::from_secs(5), |n| all_hold(n, &expected(1..=3)))
            .expect("boot");
        net.loss = 0.3;
        for i in 0..20u8 {
            seen(
                &mut net,
                ap(3, 1),
                mac(i + 1),
                Ipv4Addr::new(10, 3, 0, 50 + i),
            );
        }
        let all = |n: &Network| {
            (0..20u8)
                .all(|i| everyone_has(n, mac(i + 1), (Ipv4Addr::new(10, 3, 0, 50 + i), ap(3, 1))))
        };
        let took = net
            .run_until(Duration::from_secs(600), all)
            .unwrap_or_else(|| panic!("seed {seed}: never everywhere"));
        assert!(net.lost > 0, "seed {seed}: loss exercised");
        assert!(
            took < Duration::from_secs(300),
            "seed {seed}: took {took:?}"
        );
    }
}

#[test]
fn an_ap_that_boots_late_or_fails_over_gets_the_whole_station_table() {
    let mut net = campus(23, 0.0, 2, 2);
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &expected(1..=2)))
        .expect("boot");
    for i in 0..150u8 {
        seen(&mut net, ap(1, 0), mac(i), Ipv4Addr::new(10, 1, 1, i));
    }
    seen(&mut net, AAP1, mac(200), Ipv4Addr::new(10, 2, 0, 60));
    net.run_for(Duration::from_secs(1));
    let late = ap(2, 5);
    net.add(cfg(late), &[entry(2)]);
    net.run_for(Duration::from_millis(200));
    assert_eq!(net.engine(late).stations(net.now.instant).len(), 151);
    // The AP's own stations reach the AAP it fails over to at once.
    seen(&mut net, late, mac(201), Ipv4Addr::new(10, 2, 0, 61));
    net.run_for(Duration::from_secs(1));
    net.down(AAP0);
    net.run_until(Duration::from_secs(90), |n| {
        n.engine(late).current_aap() == Some(AAP1)
    })
    .expect("fails over");
    let c = net.engine(AAP1).counters().clone();
    net.run_for(Duration::from_millis(200));
    assert_eq!(
        station_at(&net, AAP1, mac(201)).map(|x| x.1),
        Some(late),
        "{c:?}"
    );
}

#[test]
fn forged_replayed_malformed_and_unwanted_stations_are_dropped_and_counted() {
    let mut net = campus(24, 0.0, 3, 2);
    net.record = true;
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &expected(1..=3)))
        .expect("boot");
    let victim = ap(3, 1);
    let address = Ipv4Addr::new(10, 3, 0, 50);
    seen(&mut net, ap(3, 0), mac(1), address);
    net.run_for(Duration::from_secs(1));
    assert_eq!(station_at(&net, victim, mac(1)), Some((address, ap(3, 0))));
    // Every node booted at time 0: their epoch.
    let epoch = u32::try_from((net.now.unix - net.now.instant.since_origin()).as_secs()).unwrap();
    let counters = |net: &Network| net.engine(victim).counters().clone();
    let c0 = counters(&net);
    let bogus = |ap_addr: Ipv4Addr| Message::Stations {
        stations: vec![wire::Station {
            mac: mac(66),
            address: Ipv4Addr::new(10, 3, 0, 66),
            ap: ap_addr,
            age: 0,
        }],
    };
    // Forged: the AAP's address, the wrong key.
    net.inject(
        AAP0,
        victim,
        signed(AAP0, epoch, 5000, bogus(ap(1, 0)), b"guess"),
    );
    // Authentic but malformed: a group MAC (re-signed after the change).
    let mut bad = signed(AAP0, epoch, 5001, bogus(ap(1, 0)), KEY);
    bad.truncate(bad.len() - wire::MAC_LEN);
    bad[wire::HEADER_LEN] = 0x01;
    let m = wire::mac(KEY, &bad);
    bad.extend_from_slice(&m);
    net.inject(AAP0, victim, bad);
    // Right key, but from an AP that is no AAP.
    net.inject(
        ap(2, 0),
        victim,
        signed(ap(2, 0), epoch, 5002, bogus(ap(2, 0)), KEY),
    );
    // Replayed: what the AAP told the victim about the station, again.
    let (_, _, told) = net
        .recorded
        .iter()
        .find(|(f, t, d)| {
            *f == AAP0
                && *t == victim
                && matches!(Repr::parse(d).unwrap().message, Message::Stations { .. })
        })
        .cloned()
        .unwrap();
    net.inject(AAP0, victim, told.clone());
    net.run_for(Duration::from_millis(10));
    let c1 = counters(&net);
    assert_eq!(c1.bad_auth - c0.bad_auth, 1);
    assert_eq!(c1.malformed - c0.malformed, 1);
    assert_eq!(c1.duplicates - c0.duplicates, 1);
    assert_eq!(
        c1.acks_sent, c0.acks_sent,
        "Stations are never acknowledged"
    );
    assert_eq!(
        c1.dropped
            .get("Stations from an address not in the AAP list")
            .copied(),
        Some(1)
    );
    assert_eq!(c1.stations_received, c0.stations_received);
    assert_eq!(station_at(&net, victim, mac(66)), None);

    // At an AAP: a member speaks only for itself, a stranger not at all.
    let ca = net.engine(AAP0).counters().clone();
    net.inject(
        ap(2, 0),
        AAP0,
        signed(ap(2, 0), epoch, 5003, bogus(ap(1, 0)), KEY),
    );
    let stranger = Ipv4Addr::new(10, 3, 0, 77);
    net.inject(
        stranger,
        AAP0,
        signed(stranger, epoch, 1, bogus(stranger), KEY),
    );
    net.run_for(Duration::from_millis(10));
    let cb = net.engine(AAP0).counters();
    assert_eq!(
        cb.dropped
            .get("station entry for another AP from a plain AP")
            .copied(),
        Some(1)
    );
    assert_eq!(
        cb.dropped
            .get("Stations from an AP that has not joined")
            .copied(),
        Some(1)
    );
    assert_eq!(cb.stations_received - ca.stations_received, 1);
    assert_eq!(cb.stations_accepted, ca.stations_accepted);
    for a in up_nodes(&net) {
        assert_eq!(station_at(&net, a, mac(66)), None, "{a}");
    }

    // Replayed across a restart: AAP[0] comes back in a newer epoch; the
    // station message from its previous life is then a replay.
    net.down(AAP0);
    net.run_for(Duration::from_secs(2));
    net.add(cfg(AAP0), &[entry(1)]);
    net.run_for(Duration::from_secs(5));
    net.with(victim, |e, now, out| e.refresh(now, out));
    net.run_for(Duration::from_secs(20));
    let c2 = counters(&net);
    net.inject(AAP0, victim, told);
    net.run_for(Duration::from_millis(10));
    let c3 = counters(&net);
    assert_eq!(c3.replayed - c2.replayed, 1);
    assert_eq!(c3.stations_received, c2.stations_received);
}

#[test]
fn station_bounds_hold() {
    let small = |own| SubnetExchangeConfig {
        max_stations: 100,
        max_station_rate: 10,
        ..cfg(own)
    };
    let mut net = Network::new(25, Duration::from_millis(1), 0.0);
    net.record = true;
    net.add(small(AAP0), &[entry(1)]);
    net.add(small(AAP1), &[entry(2)]);
    let member = ap(3, 0);
    net.add(small(member), &[entry(3)]);
    net.run_until(Duration::from_secs(5), |n| all_hold(n, &expected(1..=3)))
        .expect("boot");
    // The member's table holds at most 100: the oldest give way.
    for i in 0..150u8 {
        seen(&mut net, member, mac(i), Ipv4Addr::new(10, 3, 1, i));
        net.run_for(Duration::from_millis(5));
    }
    assert_eq!(net.engine(member).stations(net.now.instant).len(), 100);
    assert_eq!(net.engine(member).counters().stations_evicted, 50);
    assert!(
        net.engine(member)
            .station(&mac(149), net.now.instant)
            .is_some()
    );
    assert!(
        net.engine(member)
            .station(&mac(0), net.now.instant)
            .is_none()
    );
    net.run_for(Duration::from_secs(1));
    let c = net.engine(AAP0).counters();
    assert!(c.stations_received >= 150, "{c:?}");
    assert_eq!(net.engine(AAP0).stations(net.now.instant).len(), 100);

    // A burst beyond the sender's allowance (100 at once, then 10 a
    // second) is not looked at: three full messages at once from the
    // member.
    let before = net.engine(AAP0).counters().clone();
    let epoch = u32::try_from(net.now.unix.as_secs()).unwrap();
    for k in 0..3u32 {
        let stations = (0..wire::MAX_STATIONS_PER_MESSAGE as u8)
            .map(|i| wire::Station {
                mac: [2, 0, 0, 0x98, k as u8, i],
                address: Ipv4Addr::new(10, 3, 2 + k as u8, i),
                ap: member,
                age: 0,
            })
            .collect();
        net.inject(
            member,
            AAP0,
            signed(
                member,
                epoch,
                60_000 + k,
                Message::Stations { stations },
                KEY,
            ),
        );
    }
    net.run_for(Duration::from_millis(10));
    let after = net.engine(AAP0).counters();
    assert_eq!(after.stations_received - before.stations_received, 201);
    assert!(
        after.stations_rate_limited - before.stations_rate_limited >= 100,
        "{after:?}"
    );
    assert_eq!(net.engine(AAP0).stations(net.now.instant).len(), 100);
}
