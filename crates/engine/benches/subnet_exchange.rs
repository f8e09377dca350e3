//! The subnet map exchange at campus scale, on the simulated network of
//! `pmip_engine::subnet_exchange::sim`: 100 APs behind 25 home agents and
//! 2 AAPs, 1 ms one-way delay, with no loss and with 5 % loss. For each
//! run: the boot until every AP holds the whole table, then one change (an
//! AP reports a new home agent) until all 100 APs hold it, then one
//! deletion (that AP withdraws, the AAP probes the home agent three times
//! unanswered and deletes it) until the AAP deleted it and then until no
//! AP holds it. Printed per phase: simulated time, datagrams sent (and
//! lost), wall-clock time of the simulation.
//!
//! `cargo bench -p pmip-engine --bench subnet_exchange`

use core::net::Ipv4Addr;
use core::time::Duration;
use pmip_engine::subnet_exchange::SubnetExchangeConfig;
use pmip_engine::subnet_exchange::sim::Network;
use pmip_engine::subnet_map::SubnetEntry;
use std::time::Instant as WallClock;

const APS: u8 = 100;
const SUBNETS: u8 = 25;
const AAP0: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const AAP1: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 2);

fn entry(s: u8) -> SubnetEntry {
    SubnetEntry {
        home_agent: Ipv4Addr::new(10, s, 0, 1),
        prefix_len: 24,
    }
}

fn cfg(own: Ipv4Addr) -> SubnetExchangeConfig {
    SubnetExchangeConfig {
        own_address: own,
        aaps: vec![AAP0, AAP1],
        key: b"bench-key".to_vec(),
        ..Default::default()
    }
}

/// The 100 plain APs: four per subnet.
fn plain_aps() -> Vec<(Ipv4Addr, u8)> {
    (0..APS)
        .map(|i| {
            let s = i % SUBNETS + 1;
            (Ipv4Addr::new(10, s, 0, 10 + i / SUBNETS), s)
        })
        .collect()
}

struct Phase {
    name: &'static str,
    sim: Option<Duration>,
    datagrams: u64,
    lost: u64,
    wall: Duration,
}

fn holds(net: &Network, aps: &[(Ipv4Addr, u8)], e: SubnetEntry) -> usize {
    aps.iter().filter(|(a, _)| net.engine(*a).holds(e)).count()
}

fn run(loss: f64, seed: u64) -> Vec<Phase> {
    let aps = plain_aps();
    let mut phases = Vec::new();
    let wall = WallClock::now();
    let mut net = Network::new(seed, Duration::from_millis(1), loss);
    net.add(cfg(AAP0), &[entry(1)]);
    net.add(cfg(AAP1), &[entry(2)]);
    for (a, s) in &aps {
        net.add(cfg(*a), &[entry(*s)]);
    }
    let sim = net.run_until(Duration::from_secs(300), |n| {
        (1..=SUBNETS).all(|s| holds(n, &aps, entry(s)) == aps.len())
    });
    phases.push(Phase {
        name: "boot: 100 APs hold 25 entries",
        sim,
        datagrams: net.datagrams,
        lost: net.lost,
        wall: wall.elapsed(),
    });
    // Let keepalives and digests settle before measuring changes.
    net.run_for(Duration::from_secs(60));

    let new = entry(26);
    let (mover, home) = aps[7];
    let (d0, l0) = (net.datagrams, net.lost);
    let wall = WallClock::now();
    net.with(mover, |e, now, out| {
        e.report_own(now, &[entry(home), new], out)
    });
    let sim = net.run_until(Duration::from_secs(120), |n| {
        holds(n, &aps, new) == aps.len()
    });
    phases.push(Phase {
        name: "new home agent reaches all 100",
        sim,
        datagrams: net.datagrams - d0,
        lost: net.lost - l0,
        wall: wall.elapsed(),
    });
    net.run_for(Duration::from_secs(30));

    let (d0, l0) = (net.datagrams, net.lost);
    let wall = WallClock::now();
    net.with(mover, |e, now, out| e.report_own(now, &[entry(home)], out));
    let sim = net.run_until(Duration::from_secs(120), |n| !n.engine(AAP0).holds(new));
    phases.push(Phase {
        name: "deletion: AAP probes 3x (2 s apart), deletes",
        sim,
        datagrams: net.datagrams - d0,
        lost: net.lost - l0,
        wall: wall.elapsed(),
    });
    let (d0, l0) = (net.datagrams, net.lost);
    let wall = WallClock::now();
    let sim = net.run_until(Duration::from_secs(120), |n| holds(n, &aps, new) == 0);
    phases.push(Phase {
        name: "deletion: then reaches all 100",
        sim,
        datagrams: net.datagrams - d0,
        lost: net.lost - l0,
        wall: wall.elapsed(),
    });
    phases
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: stay quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs: &[(f64, u64)] = if quick {
        &[(0.0, 1)]
    } else {
        &[(0.0, 1), (0.05, 1), (0.05, 2), (0.05, 3)]
    };
    println!(
        "subnet map exchange: {APS} APs + 2 AAPs, {SUBNETS} home agents, 1 ms one-way delay (simulated time)"
    );
    println!(
        "{:<6} {:<5} {:<44} {:>12} {:>10} {:>6} {:>10}",
        "loss", "seed", "phase", "sim time", "datagrams", "lost", "wall"
    );
    for &(loss, seed) in runs {
        for p in run(loss, seed) {
            let sim = p
                .sim
                .map_or_else(|| "not reached".to_string(), |d| format!("{d:.3?}"));
            println!(
                "{:<6} {:<5} {:<44} {:>12} {:>10} {:>6} {:>10}",
                format!("{:.0}%", loss * 100.0),
                seed,
                p.name,
                sim,
                p.datagrams,
                p.lost,
                format!("{:.1?}", p.wall)
            );
            assert!(p.sim.is_some(), "{} did not converge", p.name);
        }
    }
}
