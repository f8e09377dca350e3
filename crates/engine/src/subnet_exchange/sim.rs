//! A simulated network of subnet exchange engines with simulated time: a
//! queue of datagrams in flight with a one-way delay, seeded loss, APs
//! that go down and come back, home agents that answer probes or not.
//! Deterministic for a seed. Used by the engine's tests and benchmark.

use super::{Action, SubnetExchange, SubnetExchangeConfig};
use crate::subnet_map::SubnetEntry;
use crate::time::{Instant, Now};
use core::cmp::Reverse;
use core::net::Ipv4Addr;
use core::time::Duration;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// xorshift64*: tiny and good enough to decide which datagrams a
/// lossy link eats.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Deliver {
        from: Ipv4Addr,
        to: Ipv4Addr,
        datagram: Vec<u8>,
    },
    ProbeAnswer {
        to: Ipv4Addr,
        home_agent: Ipv4Addr,
    },
}

pub struct Node {
    pub engine: SubnetExchange,
    pub up: bool,
    /// Its `poll_timeout`, cached after every call into it.
    next: Option<Instant>,
}

pub struct Network {
    pub now: Now,
    pub nodes: BTreeMap<Ipv4Addr, Node>,
    queue: BinaryHeap<Reverse<(Instant, u64, Event)>>,
    order: u64,
    /// One-way delay of every datagram.
    pub delay: Duration,
    /// Fraction of datagrams lost.
    pub loss: f64,
    rng: XorShift,
    /// Home agents that answer probes.
    pub alive_home_agents: BTreeSet<Ipv4Addr>,
    /// Datagrams handed to the network (lost ones included).
    pub datagrams: u64,
    pub lost: u64,
    pub probes: u64,
    /// Every datagram sent, if `record` is set (for replays).
    pub record: bool,
    pub recorded: Vec<(Ipv4Addr, Ipv4Addr, Vec<u8>)>,
}

impl Network {
    pub fn new(seed: u64, delay: Duration, loss: f64) -> Network {
        Network {
            now: Now::new(Instant::ZERO, Duration::from_secs(1_795_564_800)),
            nodes: BTreeMap::new(),
            queue: BinaryHeap::new(),
            order: 0,
            delay,
            loss,
            rng: XorShift::new(seed),
            alive_home_agents: BTreeSet::new(),
            datagrams: 0,
            lost: 0,
            probes: 0,
            record: false,
            recorded: Vec::new(),
        }
    }

    /// Adds and starts an AP with its own home agent entries.
    pub fn add(&mut self, config: SubnetExchangeConfig, own: &[SubnetEntry]) {
        let addr = config.own_address;
        let mut e = SubnetExchange::new(config);
        let mut out = Vec::new();
        e.report_own(self.now, own, &mut out);
        e.start(self.now, &mut out);
        self.nodes.insert(
            addr,
            Node {
                engine: e,
                up: true,
                next: None,
            },
        );
        self.after(addr, out);
    }

    /// The node stops: nothing reaches it, its timers stop.
    pub fn down(&mut self, addr: Ipv4Addr) {
        if let Some(n) = self.nodes.get_mut(&addr) {
            n.up = false;
        }
    }

    pub fn engine(&self, addr: Ipv4Addr) -> &SubnetExchange {
        &self.nodes[&addr].engine
    }

    /// Calls `f` on a node's engine and routes what it does.
    pub fn with<F: FnOnce(&mut SubnetExchange, Now, &mut Vec<Action>)>(
        &mut self,
        addr: Ipv4Addr,
        f: F,
    ) {
        let now = self.now;
        let mut out = Vec::new();
        if let Some(n) = self.nodes.get_mut(&addr) {
            f(&mut n.engine, now, &mut out);
        }
        self.after(addr, out);
    }

    /// Puts a datagram on the wire from `from` to `to` (an attacker, a
    /// replay).
    pub fn inject(&mut self, from: Ipv4Addr, to: Ipv4Addr, datagram: Vec<u8>) {
        self.push(
            self.now.instant + self.delay,
            Event::Deliver { from, to, datagram },
        );
    }

    fn push(&mut self, at: Instant, e: Event) {
        self.order += 1;
        self.queue.push(Reverse((at, self.order, e)));
    }

    fn after(&mut self, addr: Ipv4Addr, out: Vec<Action>) {
        for a in out {
            match a {
                Action::Send { to, datagram } => {
                    self.datagrams += 1;
                    if self.record {
                        self.recorded.push((addr, to, datagram.clone()));
                    }
                    if self.rng.chance(self.loss) {
                        self.lost += 1;
                        continue;
                    }
                    self.push(
                        self.now.instant + self.delay,
                        Event::Deliver {
                            from: addr,
                            to,
                            datagram,
                        },
                    );
                }
                Action::ProbeHomeAgent { home_agent, .. } => {
                    self.probes += 1;
                    if self.alive_home_agents.contains(&home_agent) {
                        // A denial comes back after a round trip.
                        self.push(
                            self.now.instant + self.delay * 2,
                            Event::ProbeAnswer {
                                to: addr,
                                home_agent,
                            },
                        );
                    }
                }
                Action::TableChanged => {}
            }
        }
        if let Some(n) = self.nodes.get_mut(&addr) {
            n.next = n.engine.poll_timeout();
        }
    }

    /// Runs one event (a delivery or the earliest timer) no later than
    /// `limit`; false if there is none.
    pub fn step(&mut self, limit: Instant) -> bool {
        let timer = self
            .nodes
            .iter()
            .filter(|(_, n)| n.up)
            .filter_map(|(a, n)| n.next.map(|t| (t, *a)))
            .min();
        let event = self.queue.peek().map(|Reverse((t, _, _))| *t);
        let at = match (timer, event) {
            (None, None) => return false,
            (Some((t, _)), None) => t,
            (None, Some(e)) => e,
            (Some((t, _)), Some(e)) => t.min(e),
        };
        if at > limit {
            return false;
        }
        let d = at.saturating_since(self.now.instant);
        self.now = self.now.advance(d);
        if event == Some(at) {
            let Some(Reverse((_, _, e))) = self.queue.pop() else {
                return false;
            };
            match e {
                Event::Deliver { from, to, datagram } => {
                    if self.nodes.get(&to).is_some_and(|n| n.up) {
                        self.with(to, |e, now, out| e.receive(now, from, &datagram, out));
                    }
                }
                Event::ProbeAnswer { to, home_agent } => {
                    if self.nodes.get(&to).is_some_and(|n| n.up) {
                        self.with(to, |e, now, out| e.probe_answered(now, home_agent, out));
                    }
                }
            }
        } else if let Some((_, a)) = timer {
            self.with(a, |e, now, out| e.handle_timeout(now, out));
        }
        true
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let limit = self.now.instant + d;
        while self.step(limit) {}
        let rest = limit.saturating_since(self.now.instant);
        self.now = self.now.advance(rest);
    }

    /// Runs until `done` holds (checked after every event) or `limit`
    /// of simulated time passed; returns the time it took.
    pub fn run_until<F: FnMut(&Network) -> bool>(
        &mut self,
        limit: Duration,
        mut done: F,
    ) -> Option<Duration> {
        let start = self.now.instant;
        let end = start + limit;
        loop {
            if done(self) {
                return Some(self.now.instant.saturating_since(start));
            }
            if !self.step(end) {
                return done(self).then(|| self.now.instant.saturating_since(start));
            }
        }
    }
}
