//! The subnet map exchange between access points and authoritative access
//! points (seed 004 "Subnet Map Exchange", seed 002, seed 001), sans-IO.
//! The wire format and the rules are in `docs/subnet-map-exchange.md`.
//!
//! One engine per AP. It is an AAP iff its own address is in its
//! `ip proxy-mobile aap` list (seed 004, step 3: up to three).
//!
//! * A plain AP sends a Join (its own home agent entries) to the first AAP,
//!   installs the full table the AAP answers with, acknowledges the
//!   Updates the AAP pushes, sends a keepalive Join every
//!   [`Timers::keepalive`], and fails over to the next AAP in its list when
//!   one does not answer ("if an access point fails to reach the first
//!   AAP, it tries the next configured AAP", seed 004).
//! * An AAP keeps the master table: each home agent entry with the APs
//!   that sit behind it and a version (change counter). It answers Joins
//!   with the table, pushes every change to every AP it knows and to the
//!   other AAPs, retries until acknowledged (seed 001), expires silent
//!   APs, compares digests with the other AAPs and pulls their table on a
//!   mismatch (seed 004: "the AAPs compare their subnet map tables
//!   periodically"), and asks the device to probe a home agent no AP is
//!   left behind, deleting the entry if the probe stays unanswered
//!   (seed 004, seed 002).
//!
//! Tables merge by entry version: the higher version wins, ties broken by
//! (deleted, prefix length, AP list), so every AAP ends with the same
//! table whatever order changes arrive in, and a stale AAP never
//! resurrects a deleted entry (deletion leaves a tombstone one version
//! higher). An AAP is also an AP of its own: its `report_own` entries are
//! in its table like any member's.

use crate::subnet_map::{SubnetEntry, SubnetMap};
use crate::time::{Instant, Now};
use core::net::Ipv4Addr;
use core::time::Duration;
use pmip_wire::subnet_exchange::{
    self as wire, Chunk, Entry, MAX_JOIN_ENTRIES, Message, Packet, Repr, Subnet,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Seed 004: "you can designate up to three AAPs".
pub const MAX_AAPS: usize = 3;
/// Sequences remembered per sender for replay protection: older ones are
/// dropped as replays, seen ones within it are duplicates.
pub const REPLAY_WINDOW: u32 = 1024;
/// Update messages in flight to one destination before further changes
/// wait (and coalesce) for acknowledgements.
pub const MAX_IN_FLIGHT: usize = 32;
/// Largest chunk count accepted from a peer (bounds reassembly memory).
pub const MAX_CHUNKS: u16 = 1024;
/// Partly received chunked messages kept per sender.
const MAX_PARTIALS_PER_SENDER: usize = 8;

/// Timers of the exchange. The defaults are the values of
/// `docs/subnet-map-exchange.md`, "Timers".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timers {
    /// First retransmission of an unacknowledged message, then doubling.
    pub retransmit: Duration,
    /// Transmissions before giving up (a Join series then fails over).
    pub tries: u8,
    /// Period of an AP's keepalive Join.
    pub keepalive: Duration,
    /// An AAP forgets an AP it has not heard from for this long.
    pub ap_expiry: Duration,
    /// Period of the Digest an AAP sends each other AAP.
    pub digest: Duration,
    /// An AAP considers another AAP gone after this long without hearing
    /// from it.
    pub peer_expiry: Duration,
    /// Time between liveness probes of one home agent.
    pub probe_interval: Duration,
    /// Probes sent before an unanswered home agent's entry is deleted.
    pub probe_tries: u8,
    /// A home agent kept by an answered probe is probed again after this
    /// long while still no AP is behind it.
    pub reprobe: Duration,
    /// How long a deleted entry's tombstone is kept.
    pub tombstone: Duration,
    /// How long a starting AAP holds back its answers to Joins while it
    /// recovers the table from the other AAPs.
    pub sync_wait: Duration,
    /// A chunked message not complete after this long is dropped.
    pub reassembly: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            retransmit: Duration::from_secs(1),
            tries: 4,
            keepalive: Duration::from_secs(30),
            ap_expiry: Duration::from_secs(90),
            digest: Duration::from_secs(10),
            peer_expiry: Duration::from_secs(90),
            probe_interval: Duration::from_secs(2),
            probe_tries: 3,
            reprobe: Duration::from_secs(300),
            tombstone: Duration::from_secs(3600),
            sync_wait: Duration::from_secs(3),
            reassembly: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SubnetExchangeConfig {
    /// This AP's address (BVI1): the sender address of its messages.
    pub own_address: Ipv4Addr,
    /// `ip proxy-mobile aap A [B [C]]`, in order. Duplicates and anything
    /// past the third are ignored.
    pub aaps: Vec<Ipv4Addr>,
    /// The HMAC key shared by every AP of the campus.
    pub key: Vec<u8>,
    pub timers: Timers,
    /// Most entries (tombstones included) a table holds.
    pub max_entries: usize,
    /// Most APs an AAP keeps as members.
    pub max_aps: usize,
    /// The boot epoch; None: the Unix time at `start`. It must grow from
    /// one start to the next, so a device with neither a real-time clock
    /// nor NTP before start gives a persisted boot counter here.
    pub epoch: Option<u32>,
}

impl Default for SubnetExchangeConfig {
    fn default() -> Self {
        SubnetExchangeConfig {
            own_address: Ipv4Addr::UNSPECIFIED,
            aaps: Vec::new(),
            key: Vec::new(),
            timers: Timers::default(),
            max_entries: 4096,
            max_aps: 4096,
            epoch: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A UDP datagram from our port [`wire::PORT`] to `to`'s.
    Send { to: Ipv4Addr, datagram: Vec<u8> },
    /// Probe the home agent: an invalid Registration Request (bad SPI) to
    /// the directed broadcast of its subnet (seed 002); any reply, a
    /// denial included, goes to [`SubnetExchange::probe_answered`].
    ProbeHomeAgent {
        home_agent: Ipv4Addr,
        broadcast: Ipv4Addr,
    },
    /// [`SubnetExchange::table`] changed.
    TableChanged,
}

/// Where an entry last changed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// This AP's own report (`report_own`).
    Own,
    /// Learnt from this AAP (a Table, an Update).
    Aap(Ipv4Addr),
    /// Changed by this AAP itself: an AP's Join, an expiry, a probe.
    Local,
}

/// One live entry, for `show ip proxy-mobile subnet-table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    pub home_agent: Ipv4Addr,
    pub prefix_len: u8,
    pub source: Source,
    /// The APs behind the home agent (on an AAP; empty on a plain AP).
    pub aps: Vec<Ipv4Addr>,
    pub version: u32,
    /// When the entry last changed here.
    pub changed: Instant,
}

/// Everything counted; every rejected input lands in one of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub sent: u64,
    pub received: u64,
    /// HMAC did not verify (wrong key, altered in transit).
    pub bad_auth: u64,
    /// From an older epoch, or older than the replay window.
    pub replayed: u64,
    /// Seen before within the window (a retransmission): re-acknowledged
    /// if it is a Table or Update, otherwise ignored.
    pub duplicates: u64,
    /// Authentic but not a valid message.
    pub malformed: u64,
    pub retransmissions: u64,
    /// Reliable messages abandoned after every try.
    pub gave_up: u64,
    pub failovers: u64,
    pub acks_sent: u64,
    pub acks_received: u64,
    /// Full tables installed (AP) or merged after a SyncRequest (AAP).
    pub tables_installed: u64,
    pub updates_applied: u64,
    pub sync_requests: u64,
    pub digest_mismatches: u64,
    pub aps_expired: u64,
    pub peers_lost: u64,
    pub probes_sent: u64,
    pub probes_answered: u64,
    pub deleted_by_probe: u64,
    /// Other drops, by reason.
    pub dropped: HashMap<&'static str, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TableEntry {
    prefix_len: u8,
    deleted: bool,
    version: u32,
    aps: BTreeSet<Ipv4Addr>,
    source: Source,
    changed: Instant,
}

impl TableEntry {
    fn live(&self) -> bool {
        !self.deleted
    }
    fn to_wire(&self, home_agent: Ipv4Addr, with_aps: bool) -> Entry {
        Entry {
            home_agent,
            prefix_len: self.prefix_len,
            deleted: self.deleted,
            version: self.version,
            aps: if with_aps {
                self.aps.iter().copied().collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// Merge order: version, then deleted over live, then prefix length, then
/// the AP list; the greater wins. Deterministic, so AAPs that see the same
/// two versions keep the same one.
fn rank_cmp(
    a: (u32, bool, u8, &mut dyn Iterator<Item = Ipv4Addr>),
    b: (u32, bool, u8, &mut dyn Iterator<Item = Ipv4Addr>),
) -> core::cmp::Ordering {
    (a.0, a.1, a.2)
        .cmp(&(b.0, b.1, b.2))
        .then_with(|| a.3.cmp(b.3))
}

/// Whether APs (who see only home agent and prefix) see a difference.
fn visible_change(old: Option<(bool, u8)>, new: Option<(bool, u8)>) -> bool {
    let o = old.filter(|x| x.0).map(|x| x.1);
    let n = new.filter(|x| x.0).map(|x| x.1);
    o != n
}

/// Per destination: our sequence counter and what awaits an Ack.
#[derive(Debug, Clone)]
struct Link {
    next_seq: u32,
    in_flight: BTreeMap<u32, InFlight>,
    /// Home agents whose change still has to be pushed there (coalesced).
    dirty: BTreeSet<Ipv4Addr>,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            next_seq: 1,
            in_flight: BTreeMap::new(),
            dirty: BTreeSet::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct InFlight {
    datagram: Vec<u8>,
    sent: Instant,
    tries: u8,
    /// Update pushes count against [`MAX_IN_FLIGHT`]; Table chunks do not.
    update: bool,
}

/// Per sender: the newest epoch and a window of sequences seen in it.
#[derive(Debug, Clone)]
struct Window {
    epoch: u32,
    highest: u32,
    seen: [u64; (REPLAY_WINDOW / 64) as usize],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    New,
    Duplicate,
    Replayed,
}

impl Window {
    fn new(epoch: u32, seq: u32) -> Window {
        let mut w = Window {
            epoch,
            highest: seq,
            seen: [0; (REPLAY_WINDOW / 64) as usize],
        };
        w.set(seq);
        w
    }
    fn slot(seq: u32) -> (usize, u64) {
        let i = (seq % REPLAY_WINDOW) as usize;
        (i / 64, 1u64 << (i % 64))
    }
    fn set(&mut self, seq: u32) {
        let (w, b) = Window::slot(seq);
        self.seen[w] |= b;
    }
    fn unset(&mut self, seq: u32) {
        let (w, b) = Window::slot(seq);
        self.seen[w] &= !b;
    }
    fn verdict(&self, epoch: u32, seq: u32) -> Verdict {
        if epoch != self.epoch {
            return if epoch > self.epoch {
                Verdict::New
            } else {
                Verdict::Replayed
            };
        }
        if seq > self.highest {
            Verdict::New
        } else if self.highest - seq >= REPLAY_WINDOW {
            Verdict::Replayed
        } else {
            let (w, b) = Window::slot(seq);
            if self.seen[w] & b != 0 {
                Verdict::Duplicate
            } else {
                Verdict::New
            }
        }
    }
    fn accept(&mut self, epoch: u32, seq: u32) {
        if epoch != self.epoch {
            *self = Window::new(epoch, seq);
            return;
        }
        if seq > self.highest {
            if seq - self.highest >= REPLAY_WINDOW {
                self.seen = [0; (REPLAY_WINDOW / 64) as usize];
            } else {
                for s in self.highest + 1..=seq {
                    self.unset(s);
                }
            }
            self.highest = seq;
        }
        self.set(seq);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PartialKey {
    sender: Ipv4Addr,
    epoch: u32,
    kind: u8,
    reference: u32,
}

#[derive(Debug, Clone)]
struct Partial {
    chunks: Vec<Option<Vec<Entry>>>,
    got: usize,
    started: Instant,
}

/// An AP's Join and its retransmissions (each a new message, so a lost
/// Table is answered again).
#[derive(Debug, Clone)]
struct JoinSeries {
    /// Index in the AAP list.
    aap: usize,
    full: bool,
    seqs: Vec<u32>,
    started: Instant,
    last_sent: Instant,
    tries: u8,
}

/// An AP that joined this AAP (this AAP itself included).
#[derive(Debug, Clone)]
struct Member {
    reported: Vec<Subnet>,
    last_heard: Instant,
    /// Something sent to it was given up: answer its next Join with the
    /// whole table.
    needs_full: bool,
    /// A Join waiting for its Table until this AAP has recovered.
    pending_join: Option<u32>,
}

#[derive(Debug, Clone)]
struct SyncSeries {
    seqs: Vec<u32>,
    last_sent: Instant,
    tries: u8,
}

/// Another AAP, as this AAP sees it.
#[derive(Debug, Clone)]
struct PeerAap {
    last_heard: Instant,
    /// Heard from since we started (probe ownership needs proof of life).
    heard: bool,
    alive: bool,
    sync: Option<SyncSeries>,
    /// Consecutive Digests that disagreed with ours.
    mismatches: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Probing {
        tries: u8,
        next: Instant,
    },
    /// Answered: probe again at `until` if still no AP is behind it.
    Kept {
        until: Instant,
    },
}

impl Probe {
    fn due(&self) -> Instant {
        match *self {
            Probe::Probing { next, .. } => next,
            Probe::Kept { until } => until,
        }
    }
}

pub struct SubnetExchange {
    config: SubnetExchangeConfig,
    /// The AAP list, deduplicated and at most three.
    aaps: Vec<Ipv4Addr>,
    is_aap: bool,
    started: bool,
    epoch: u32,
    start_time: Instant,
    table: BTreeMap<Ipv4Addr, TableEntry>,
    own: Vec<Subnet>,
    links: HashMap<Ipv4Addr, Link>,
    windows: HashMap<Ipv4Addr, Window>,
    partials: HashMap<PartialKey, Partial>,
    // AP role.
    current: usize,
    join: Option<JoinSeries>,
    next_keepalive: Option<Instant>,
    want_full: bool,
    joins_completed: u64,
    // AAP role.
    members: BTreeMap<Ipv4Addr, Member>,
    peers: BTreeMap<Ipv4Addr, PeerAap>,
    synced: bool,
    next_digest: Instant,
    probes: BTreeMap<Ipv4Addr, Probe>,
    view_changed: bool,
    counters: Counters,
}

fn normalize(subnets: impl IntoIterator<Item = Subnet>) -> Vec<Subnet> {
    let mut seen = HashSet::new();
    let mut v: Vec<Subnet> = subnets
        .into_iter()
        .filter(|s| !s.home_agent.is_unspecified() && s.prefix_len <= 32)
        .filter(|s| seen.insert(s.home_agent))
        .collect();
    v.sort();
    v
}

/// SplitMix64's finaliser: a well-spread hash of `x`.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The directed broadcast of the subnet `home_agent/prefix_len`.
pub fn directed_broadcast(home_agent: Ipv4Addr, prefix_len: u8) -> Ipv4Addr {
    let mask = SubnetEntry {
        home_agent,
        prefix_len,
    }
    .mask();
    Ipv4Addr::from(u32::from(home_agent) | !mask)
}

impl SubnetExchange {
    pub fn new(config: SubnetExchangeConfig) -> SubnetExchange {
        let mut aaps = Vec::new();
        for a in &config.aaps {
            if !a.is_unspecified() && !aaps.contains(a) && aaps.len() < MAX_AAPS {
                aaps.push(*a);
            }
        }
        let is_aap = aaps.contains(&config.own_address);
        let peers = if is_aap {
            aaps.iter()
                .filter(|a| **a != config.own_address)
                .map(|a| {
                    (
                        *a,
                        PeerAap {
                            last_heard: Instant::ZERO,
                            heard: false,
                            alive: true,
                            sync: None,
                            mismatches: 0,
                        },
                    )
                })
                .collect()
        } else {
            BTreeMap::new()
        };
        SubnetExchange {
            config,
            aaps,
            is_aap,
            started: false,
            epoch: 0,
            start_time: Instant::ZERO,
            table: BTreeMap::new(),
            own: Vec::new(),
            links: HashMap::new(),
            windows: HashMap::new(),
            partials: HashMap::new(),
            current: 0,
            join: None,
            next_keepalive: None,
            want_full: false,
            joins_completed: 0,
            members: BTreeMap::new(),
            peers,
            synced: false,
            next_digest: Instant::ZERO,
            probes: BTreeMap::new(),
            view_changed: false,
            counters: Counters::default(),
        }
    }

    pub fn config(&self) -> &SubnetExchangeConfig {
        &self.config
    }

    /// Whether this AP is an AAP (its address is in its AAP list).
    pub fn is_aap(&self) -> bool {
        self.is_aap
    }

    /// The AAP this AP talks to now (itself on an AAP; none without an
    /// AAP list).
    pub fn current_aap(&self) -> Option<Ipv4Addr> {
        if self.is_aap {
            Some(self.config.own_address)
        } else {
            self.aaps.get(self.current).copied()
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The subnet map for the proxy AP engine: every live entry (and, on
    /// a plain AP, its own entries the AAP has not confirmed yet).
    pub fn table(&self) -> SubnetMap {
        let mut m = SubnetMap::new();
        for s in &self.own {
            m.insert(SubnetEntry {
                home_agent: s.home_agent,
                prefix_len: s.prefix_len,
            });
        }
        for (ha, e) in self.table.iter().filter(|(_, e)| e.live()) {
            m.insert(SubnetEntry {
                home_agent: *ha,
                prefix_len: e.prefix_len,
            });
        }
        m
    }

    /// Whether [`SubnetExchange::table`] has exactly this entry (cheaper
    /// than building the table).
    pub fn holds(&self, entry: SubnetEntry) -> bool {
        match self.table.get(&entry.home_agent) {
            Some(e) if e.live() => e.prefix_len == entry.prefix_len,
            _ => self
                .own
                .iter()
                .any(|s| s.home_agent == entry.home_agent && s.prefix_len == entry.prefix_len),
        }
    }

    /// Every live entry with where it came from and its age.
    pub fn entries(&self) -> Vec<EntryInfo> {
        let mut v: Vec<EntryInfo> = self
            .table
            .iter()
            .filter(|(_, e)| e.live())
            .map(|(ha, e)| EntryInfo {
                home_agent: *ha,
                prefix_len: e.prefix_len,
                source: e.source,
                aps: e.aps.iter().copied().collect(),
                version: e.version,
                changed: e.changed,
            })
            .collect();
        if !self.is_aap {
            for s in &self.own {
                if !self.table.get(&s.home_agent).is_some_and(|e| e.live()) {
                    v.push(EntryInfo {
                        home_agent: s.home_agent,
                        prefix_len: s.prefix_len,
                        source: Source::Own,
                        aps: Vec::new(),
                        version: 0,
                        changed: self.start_time,
                    });
                }
            }
            v.sort_by_key(|e| e.home_agent);
        }
        v
    }

    /// The APs that joined this AAP (itself excluded).
    pub fn members(&self) -> Vec<Ipv4Addr> {
        self.members
            .keys()
            .copied()
            .filter(|a| *a != self.config.own_address)
            .collect()
    }

    /// The digest AAPs compare ([`wire::table_digest`] of the table).
    pub fn digest(&self) -> [u8; 32] {
        let entries = self.wire_entries(true);
        wire::table_digest(&entries)
    }

    fn wire_entries(&self, with_aps: bool) -> Vec<Entry> {
        self.table
            .iter()
            .map(|(ha, e)| e.to_wire(*ha, with_aps))
            .collect()
    }

    fn drop_reason(&mut self, reason: &'static str) {
        let n = self.counters.dropped.entry(reason).or_default();
        *n += 1;
        if *n == 1 {
            tracing::warn!(reason, "subnet exchange: dropped a message (logged once)");
        }
    }

    fn backoff(&self, tries: u8) -> Duration {
        self.config.timers.retransmit * (1u32 << tries.saturating_sub(1).min(6))
    }

    // ----- inputs -------------------------------------------------------

    /// Starts the engine: an AP joins its first AAP; an AAP asks the other
    /// AAPs for their table (a restarted AAP recovers it from them).
    pub fn start(&mut self, now: Now, out: &mut Vec<Action>) {
        if self.started {
            return;
        }
        self.started = true;
        self.start_time = now.instant;
        // Seconds since the epoch, so a restarted sender's messages are
        // newer than its previous life's (never 0: that reads as unset).
        self.epoch = self
            .config
            .epoch
            .unwrap_or_else(|| u32::try_from(now.unix.as_secs()).unwrap_or(u32::MAX))
            .max(1);
        if self.is_aap {
            for p in self.peers.values_mut() {
                p.last_heard = now.instant;
            }
            self.members.insert(
                self.config.own_address,
                Member {
                    reported: Vec::new(),
                    last_heard: now.instant,
                    needs_full: false,
                    pending_join: None,
                },
            );
            let own = self.own.clone();
            self.apply_report(now, self.config.own_address, own, Source::Own);
            let peers: Vec<Ipv4Addr> = self.peers.keys().copied().collect();
            for p in peers {
                self.start_sync(now, p, out);
            }
            if self.peers.is_empty() {
                self.synced = true;
            }
            self.next_digest = now.instant + self.config.timers.digest;
        } else {
            self.start_join(now, true, out);
        }
        self.finish(now, out);
    }

    /// The home agent entries this AP sits behind (from H-bit
    /// advertisements or its configuration). May come before or after
    /// `start`, and change at any time.
    pub fn report_own(&mut self, now: Now, entries: &[SubnetEntry], out: &mut Vec<Action>) {
        let mut own = normalize(entries.iter().map(|e| Subnet {
            home_agent: e.home_agent,
            prefix_len: e.prefix_len.min(32),
        }));
        if !self.is_aap && own.len() > MAX_JOIN_ENTRIES {
            // One Join carries at most this many (it is never chunked).
            own.truncate(MAX_JOIN_ENTRIES);
            self.drop_reason("own report larger than one Join");
        }
        if own == self.own {
            return;
        }
        self.own = own;
        self.view_changed = true;
        if self.started {
            if self.is_aap {
                let own = self.own.clone();
                self.apply_report(now, self.config.own_address, own, Source::Own);
            } else {
                self.start_join(now, false, out);
            }
        }
        self.finish(now, out);
    }

    /// The operator's `clear ip proxy-mobile subnet-table`: forget what
    /// was learnt and rebuild it (seed 001: "clear the subnet map table
    /// from each one").
    pub fn clear(&mut self, now: Now, out: &mut Vec<Action>) {
        if self.table.values().any(|e| e.live()) {
            self.view_changed = true;
        }
        self.table.clear();
        self.probes.clear();
        self.partials.clear();
        if !self.started {
            return;
        }
        if self.is_aap {
            // Our members' reports come back at once; the rest from the
            // other AAPs.
            self.reconcile(now);
            let peers: Vec<Ipv4Addr> = self.peers.keys().copied().collect();
            for p in peers {
                self.start_sync(now, p, out);
            }
        } else {
            self.start_join(now, true, out);
        }
        self.finish(now, out);
    }

    /// The seeds' Refresh button: ask for the whole table now.
    pub fn refresh(&mut self, now: Now, out: &mut Vec<Action>) {
        if !self.started {
            return;
        }
        if self.is_aap {
            let peers: Vec<Ipv4Addr> = self.peers.keys().copied().collect();
            for p in peers {
                if self.peers.get(&p).is_some_and(|x| x.sync.is_none()) {
                    self.start_sync(now, p, out);
                }
            }
        } else {
            self.start_join(now, true, out);
        }
        self.finish(now, out);
    }

    /// A reply (any, a denial included) came back to the probe of
    /// `home_agent`: keep its entry (seed 004).
    pub fn probe_answered(&mut self, now: Now, home_agent: Ipv4Addr, out: &mut Vec<Action>) {
        match self.probes.get(&home_agent) {
            Some(Probe::Probing { .. }) => {
                self.counters.probes_answered += 1;
                self.probes.insert(
                    home_agent,
                    Probe::Kept {
                        until: now.instant + self.config.timers.reprobe,
                    },
                );
            }
            _ => self.drop_reason("probe answer for no probe"),
        }
        self.finish(now, out);
    }

    /// A datagram that arrived on [`wire::PORT`] from `from`.
    pub fn receive(&mut self, now: Now, from: Ipv4Addr, datagram: &[u8], out: &mut Vec<Action>) {
        self.counters.received += 1;
        if !self.started {
            self.drop_reason("not started");
            return;
        }
        let Ok(packet) = Packet::new_checked(datagram) else {
            self.counters.malformed += 1;
            return;
        };
        // Authenticate before interpreting anything.
        if !packet.verify(&self.config.key) {
            self.counters.bad_auth += 1;
            return;
        }
        let repr = match Repr::parse(datagram) {
            Ok(r) => r,
            Err(e) => {
                self.counters.malformed += 1;
                tracing::debug!(%from, error = %e, "subnet exchange: malformed message");
                return;
            }
        };
        if repr.sender != from {
            self.drop_reason("sender field is not the source address");
            return;
        }
        if from == self.config.own_address {
            self.drop_reason("from our own address");
            return;
        }
        if let Err(reason) = self.admissible(&repr) {
            self.drop_reason(reason);
            return;
        }
        let verdict = match self.windows.get(&from) {
            Some(w) => w.verdict(repr.epoch, repr.sequence),
            None => Verdict::New,
        };
        match verdict {
            Verdict::Replayed => {
                self.counters.replayed += 1;
                return;
            }
            Verdict::Duplicate => {
                // A retransmission whose Ack was lost: acknowledge again,
                // do nothing else.
                self.counters.duplicates += 1;
                if matches!(repr.message, Message::Table { .. } | Message::Update { .. }) {
                    self.send_ack(from, repr.sequence, out);
                }
                return;
            }
            Verdict::New => {}
        }
        let restarted = self
            .windows
            .get(&from)
            .is_some_and(|w| w.epoch != repr.epoch);
        match self.windows.get_mut(&from) {
            Some(w) => w.accept(repr.epoch, repr.sequence),
            None => {
                self.windows
                    .insert(from, Window::new(repr.epoch, repr.sequence));
            }
        }
        if restarted {
            // Its half-received messages died with its previous life.
            self.partials.retain(|k, _| k.sender != from);
        }
        if let Some(p) = self.peers.get_mut(&from) {
            p.last_heard = now.instant;
            p.heard = true;
            p.alive = true;
        }
        if let Some(m) = self.members.get_mut(&from) {
            m.last_heard = now.instant;
        }
        self.on_message(now, repr, out);
        self.finish(now, out);
    }

    /// Who may send what: tables come only from listed AAPs (seed 004:
    /// the AAP keeps the table), Joins only from APs that are not.
    fn admissible(&self, r: &Repr) -> Result<(), &'static str> {
        let from_aap = self.aaps.contains(&r.sender);
        match (&r.message, self.is_aap) {
            (Message::Ack { .. }, _) => Ok(()),
            (Message::Table { .. } | Message::Update { .. }, _) if !from_aap => {
                Err("table from an address not in the AAP list")
            }
            (Message::Table { .. } | Message::Update { .. }, _) => Ok(()),
            (Message::Join { .. }, true) if from_aap => Err("Join from an AAP"),
            (Message::Join { .. }, true) => Ok(()),
            (Message::Digest { .. } | Message::SyncRequest, true) if from_aap => Ok(()),
            (Message::Digest { .. } | Message::SyncRequest, true) => {
                Err("AAP message from an address not in the AAP list")
            }
            (_, false) => Err("message for an AAP sent to a plain AP"),
        }
    }

    fn on_message(&mut self, now: Now, r: Repr, out: &mut Vec<Action>) {
        let from = r.sender;
        match r.message {
            Message::Ack { acknowledged } => self.on_ack(now, from, acknowledged),
            Message::Join {
                full_table,
                subnets,
            } => self.on_join(now, from, r.sequence, full_table, subnets, out),
            Message::Table {
                request,
                chunk,
                entries,
            } => {
                let key = PartialKey {
                    sender: from,
                    epoch: r.epoch,
                    kind: wire::kind::TABLE,
                    reference: request,
                };
                if let Some(entries) = self.on_chunk(now, key, r.sequence, chunk, entries, out) {
                    self.on_table(now, from, request, entries, out);
                }
            }
            Message::Update {
                group,
                chunk,
                entries,
            } => {
                let key = PartialKey {
                    sender: from,
                    epoch: r.epoch,
                    kind: wire::kind::UPDATE,
                    reference: group,
                };
                if let Some(entries) = self.on_chunk(now, key, r.sequence, chunk, entries, out) {
                    self.on_update(now, from, entries);
                }
            }
            Message::Digest { digest, .. } => self.on_digest(now, from, digest, out),
            Message::SyncRequest => self.send_table(now, from, r.sequence, true, out),
        }
    }

    fn on_ack(&mut self, now: Now, from: Ipv4Addr, acked: u32) {
        if self
            .links
            .get_mut(&from)
            .and_then(|l| l.in_flight.remove(&acked))
            .is_some()
        {
            self.counters.acks_received += 1;
            return;
        }
        // A keepalive (not full) Join is answered by an Ack.
        let answers_join = self.join.as_ref().is_some_and(|j| {
            !j.full && self.aaps.get(j.aap) == Some(&from) && j.seqs.contains(&acked)
        });
        if answers_join {
            self.counters.acks_received += 1;
            self.complete_join(now);
        } else {
            self.drop_reason("Ack for nothing outstanding");
        }
    }

    /// Acknowledges the chunk and returns the whole message once every
    /// chunk of it is in.
    fn on_chunk(
        &mut self,
        now: Now,
        key: PartialKey,
        seq: u32,
        chunk: Chunk,
        entries: Vec<Entry>,
        out: &mut Vec<Action>,
    ) -> Option<Vec<Entry>> {
        self.send_ack(key.sender, seq, out);
        if chunk.count > MAX_CHUNKS {
            self.counters.malformed += 1;
            return None;
        }
        let whole = if chunk.count == 1 {
            entries
        } else {
            if !self.partials.contains_key(&key) {
                let mine: Vec<(PartialKey, Instant)> = self
                    .partials
                    .iter()
                    .filter(|(k, _)| k.sender == key.sender)
                    .map(|(k, p)| (*k, p.started))
                    .collect();
                let oldest = mine
                    .iter()
                    .min_by_key(|(_, t)| *t)
                    .map(|(k, _)| *k)
                    .filter(|_| mine.len() >= MAX_PARTIALS_PER_SENDER);
                if let Some(oldest) = oldest {
                    self.partials.remove(&oldest);
                    self.partial_lost(oldest.kind);
                }
                self.partials.insert(
                    key,
                    Partial {
                        chunks: vec![None; usize::from(chunk.count)],
                        got: 0,
                        started: now.instant,
                    },
                );
            }
            let p = self.partials.get_mut(&key)?;
            if p.chunks.len() != usize::from(chunk.count) {
                // Chunks of one message disagree on their count.
                self.partials.remove(&key);
                self.counters.malformed += 1;
                return None;
            }
            let slot = &mut p.chunks[usize::from(chunk.index)];
            if slot.is_none() {
                *slot = Some(entries);
                p.got += 1;
            }
            if p.got < p.chunks.len() {
                return None;
            }
            let p = self.partials.remove(&key)?;
            p.chunks.into_iter().flatten().flatten().collect()
        };
        match wire::union_pieces(whole) {
            Ok(v) => Some(v),
            Err(_) => {
                self.counters.malformed += 1;
                None
            }
        }
    }

    fn partial_lost(&mut self, kind: u8) {
        self.drop_reason("incomplete chunked message");
        if kind == wire::kind::UPDATE && !self.is_aap {
            // We missed changes: take the whole table with the next Join.
            self.want_full = true;
        }
    }

    fn on_table(
        &mut self,
        now: Now,
        from: Ipv4Addr,
        request: u32,
        entries: Vec<Entry>,
        out: &mut Vec<Action>,
    ) {
        if self.is_aap {
            let answers = self
                .peers
                .get(&from)
                .is_some_and(|p| p.sync.as_ref().is_some_and(|s| s.seqs.contains(&request)));
            if !answers {
                self.drop_reason("Table that answers no request");
                return;
            }
            if let Some(p) = self.peers.get_mut(&from) {
                p.sync = None;
                p.mismatches = 0;
            }
            self.counters.tables_installed += 1;
            self.merge_from_peer(now, from, entries);
            self.set_synced(now, out);
            return;
        }
        let Some(j) = self.join.as_ref() else {
            self.drop_reason("Table that answers no request");
            return;
        };
        if self.aaps.get(j.aap) != Some(&from) || !j.seqs.contains(&request) {
            self.drop_reason("Table that answers no request");
            return;
        }
        let since = j.started;
        self.counters.tables_installed += 1;
        let present: HashSet<Ipv4Addr> = entries.iter().map(|e| e.home_agent).collect();
        for e in entries {
            self.merge(now, e, Source::Aap(from));
        }
        // The table is the AAP's whole state: what we learnt before asking
        // and it no longer has is gone. What came after we asked (a pushed
        // Update overtaking the table) stays.
        let stale: Vec<Ipv4Addr> = self
            .table
            .iter()
            .filter(|(ha, e)| !present.contains(ha) && e.changed < since)
            .map(|(ha, _)| *ha)
            .collect();
        for ha in stale {
            if self.table.remove(&ha).is_some_and(|e| e.live()) {
                self.view_changed = true;
            }
        }
        self.complete_join(now);
    }

    fn on_update(&mut self, now: Now, from: Ipv4Addr, entries: Vec<Entry>) {
        self.counters.updates_applied += 1;
        if self.is_aap {
            self.merge_from_peer(now, from, entries);
        } else {
            for e in entries {
                self.merge(now, e, Source::Aap(from));
            }
        }
    }

    fn on_join(
        &mut self,
        now: Now,
        from: Ipv4Addr,
        seq: u32,
        full_table: bool,
        subnets: Vec<Subnet>,
        out: &mut Vec<Action>,
    ) {
        let new_member = !self.members.contains_key(&from);
        // +1: the AAP itself is a member too.
        if new_member && self.members.len() > self.config.max_aps {
            self.drop_reason("Join beyond the AP limit");
            return;
        }
        let m = self.members.entry(from).or_insert(Member {
            reported: Vec::new(),
            last_heard: now.instant,
            needs_full: false,
            pending_join: None,
        });
        m.last_heard = now.instant;
        let full = full_table || new_member || m.needs_full;
        self.apply_report(now, from, normalize(subnets), Source::Local);
        if !full {
            self.send_ack(from, seq, out);
        } else if self.synced {
            self.answer_join(now, from, seq, out);
        } else if let Some(m) = self.members.get_mut(&from) {
            // Still recovering the table from the other AAPs: answer once
            // we have it (or after sync_wait).
            m.pending_join = Some(seq);
        }
    }

    fn answer_join(&mut self, now: Now, to: Ipv4Addr, seq: u32, out: &mut Vec<Action>) {
        if let Some(m) = self.members.get_mut(&to) {
            m.needs_full = false;
            m.pending_join = None;
        }
        self.send_table(now, to, seq, false, out);
    }

    fn on_digest(&mut self, now: Now, from: Ipv4Addr, digest: [u8; 32], out: &mut Vec<Action>) {
        let same = digest == self.digest();
        let Some(p) = self.peers.get_mut(&from) else {
            return;
        };
        if same {
            p.mismatches = 0;
            return;
        }
        self.counters.digest_mismatches += 1;
        p.mismatches = p.mismatches.saturating_add(1);
        // Two in a row: one alone is usually an Update still in flight.
        if p.mismatches >= 2 && p.sync.is_none() {
            p.mismatches = 0;
            self.start_sync(now, from, out);
        }
    }

    // ----- table changes --------------------------------------------------

    /// Merges a received entry by version. Returns whether APs see the
    /// change (None: not taken).
    fn merge(&mut self, now: Now, e: Entry, source: Source) -> Option<bool> {
        let mut aps = e.aps;
        aps.sort();
        aps.dedup();
        let old = self.table.get(&e.home_agent);
        if let Some(l) = old {
            let ord = rank_cmp(
                (
                    l.version,
                    l.deleted,
                    l.prefix_len,
                    &mut l.aps.iter().copied(),
                ),
                (e.version, e.deleted, e.prefix_len, &mut aps.iter().copied()),
            );
            if ord != core::cmp::Ordering::Less {
                return None;
            }
        } else if self.table.len() >= self.config.max_entries {
            self.drop_reason("table full");
            return None;
        }
        let old = old.map(|l| (l.live(), l.prefix_len));
        let visible = visible_change(old, Some((!e.deleted, e.prefix_len)));
        self.table.insert(
            e.home_agent,
            TableEntry {
                prefix_len: e.prefix_len,
                deleted: e.deleted,
                version: e.version,
                aps: aps.into_iter().collect(),
                source,
                changed: now.instant,
            },
        );
        if visible {
            self.view_changed = true;
        }
        Some(visible)
    }

    /// An AAP merges what another AAP sent: changes APs see go to our
    /// members (the sender pushes to the other AAPs itself), then our own
    /// members' reports are asserted again.
    fn merge_from_peer(&mut self, now: Now, from: Ipv4Addr, entries: Vec<Entry>) {
        for e in entries {
            let ha = e.home_agent;
            if let Some(visible) = self.merge(now, e, Source::Aap(from)) {
                self.note_change(ha, visible, false);
            }
        }
        self.reconcile(now);
    }

    /// A local change on an AAP: the entry of `ha` becomes this, one
    /// version above what it was, pushed to members and the other AAPs.
    fn set_entry(
        &mut self,
        now: Now,
        ha: Ipv4Addr,
        prefix_len: u8,
        deleted: bool,
        aps: BTreeSet<Ipv4Addr>,
        source: Source,
    ) {
        let old = self.table.get(&ha);
        if old.is_none() && self.table.len() >= self.config.max_entries {
            self.drop_reason("table full");
            return;
        }
        let version = old.map_or(1, |l| l.version.saturating_add(1));
        let visible = visible_change(
            old.map(|l| (l.live(), l.prefix_len)),
            Some((!deleted, prefix_len)),
        );
        self.table.insert(
            ha,
            TableEntry {
                prefix_len,
                deleted,
                version,
                aps,
                source,
                changed: now.instant,
            },
        );
        if visible {
            self.view_changed = true;
        }
        self.note_change(ha, visible, true);
    }

    /// Queues the change of `ha` for the members (if they see it) and, if
    /// it was made here, for the other AAPs still alive.
    fn note_change(&mut self, ha: Ipv4Addr, visible: bool, local: bool) {
        let own = self.config.own_address;
        if visible {
            let members: Vec<Ipv4Addr> =
                self.members.keys().copied().filter(|m| *m != own).collect();
            for m in members {
                self.links.entry(m).or_default().dirty.insert(ha);
            }
        }
        if local {
            let peers: Vec<Ipv4Addr> = self
                .peers
                .iter()
                .filter(|(_, p)| p.alive)
                .map(|(a, _)| *a)
                .collect();
            for p in peers {
                self.links.entry(p).or_default().dirty.insert(ha);
            }
        }
    }

    /// `ap` sits behind `s`: the entry exists, is live and lists it. The
    /// prefix follows the report only when the report is new or changed,
    /// so two APs that disagree on a mask do not make AAPs flap.
    fn ensure_member(
        &mut self,
        now: Now,
        s: Subnet,
        update_prefix: bool,
        ap: Ipv4Addr,
        source: Source,
    ) {
        match self.table.get(&s.home_agent) {
            Some(l) if l.live() => {
                let prefix = if update_prefix {
                    s.prefix_len
                } else {
                    l.prefix_len
                };
                if prefix == l.prefix_len && l.aps.contains(&ap) {
                    return;
                }
                let mut aps = l.aps.clone();
                aps.insert(ap);
                self.set_entry(now, s.home_agent, prefix, false, aps, source);
            }
            _ => {
                self.set_entry(
                    now,
                    s.home_agent,
                    s.prefix_len,
                    false,
                    BTreeSet::from([ap]),
                    source,
                );
            }
        }
    }

    fn remove_ap(&mut self, now: Now, ha: Ipv4Addr, ap: Ipv4Addr, source: Source) {
        let Some(l) = self.table.get(&ha) else {
            return;
        };
        if !l.live() || !l.aps.contains(&ap) {
            return;
        }
        let mut aps = l.aps.clone();
        aps.remove(&ap);
        let prefix = l.prefix_len;
        self.set_entry(now, ha, prefix, false, aps, source);
    }

    /// Member `m` now reports `new`: it leaves the entries it no longer
    /// reports and joins the ones it does.
    fn apply_report(&mut self, now: Now, m: Ipv4Addr, new: Vec<Subnet>, source: Source) {
        let old = self
            .members
            .get(&m)
            .map(|x| x.reported.clone())
            .unwrap_or_default();
        for o in &old {
            if !new.iter().any(|n| n.home_agent == o.home_agent) {
                self.remove_ap(now, o.home_agent, m, source);
            }
        }
        for n in &new {
            self.ensure_member(now, *n, !old.contains(n), m, source);
        }
        if let Some(x) = self.members.get_mut(&m) {
            x.reported = new;
        }
    }

    /// After merging another AAP's data, our members' reports hold again:
    /// each member is in the entries it reports and in no other. This is
    /// what makes concurrent changes at two AAPs converge.
    fn reconcile(&mut self, now: Now) {
        let own = self.config.own_address;
        let members: Vec<(Ipv4Addr, Vec<Subnet>)> = self
            .members
            .iter()
            .map(|(a, m)| (*a, m.reported.clone()))
            .collect();
        for (m, reported) in &members {
            let source = if *m == own {
                Source::Own
            } else {
                Source::Local
            };
            for s in reported {
                self.ensure_member(now, *s, false, *m, source);
            }
        }
        let strays: Vec<(Ipv4Addr, Ipv4Addr)> = self
            .table
            .iter()
            .filter(|(_, e)| e.live())
            .flat_map(|(ha, e)| e.aps.iter().map(move |ap| (*ha, *ap)))
            .filter(|(ha, ap)| {
                self.members
                    .get(ap)
                    .is_some_and(|m| !m.reported.iter().any(|s| s.home_agent == *ha))
            })
            .collect();
        for (ha, ap) in strays {
            self.remove_ap(now, ha, ap, Source::Local);
        }
    }

    // ----- sending --------------------------------------------------------

    fn next_seq(&mut self, to: Ipv4Addr) -> u32 {
        let l = self.links.entry(to).or_default();
        let s = l.next_seq;
        l.next_seq = l.next_seq.wrapping_add(1).max(1);
        s
    }

    fn emit(&mut self, seq: u32, message: Message) -> Option<Vec<u8>> {
        let r = Repr {
            sender: self.config.own_address,
            epoch: self.epoch,
            sequence: seq,
            message,
        };
        match r.to_vec(&self.config.key) {
            Ok(v) => Some(v),
            Err(_) => {
                self.drop_reason("message too large to send");
                None
            }
        }
    }

    fn send_once(&mut self, to: Ipv4Addr, message: Message, out: &mut Vec<Action>) -> u32 {
        let seq = self.next_seq(to);
        if let Some(datagram) = self.emit(seq, message) {
            self.counters.sent += 1;
            out.push(Action::Send { to, datagram });
        }
        seq
    }

    fn send_reliable(
        &mut self,
        now: Now,
        to: Ipv4Addr,
        seq: u32,
        message: Message,
        update: bool,
        out: &mut Vec<Action>,
    ) {
        let Some(datagram) = self.emit(seq, message) else {
            return;
        };
        self.counters.sent += 1;
        out.push(Action::Send {
            to,
            datagram: datagram.clone(),
        });
        self.links.entry(to).or_default().in_flight.insert(
            seq,
            InFlight {
                datagram,
                sent: now.instant,
                tries: 1,
                update,
            },
        );
    }

    fn send_ack(&mut self, to: Ipv4Addr, seq: u32, out: &mut Vec<Action>) {
        self.counters.acks_sent += 1;
        self.send_once(to, Message::Ack { acknowledged: seq }, out);
    }

    /// The whole table, chunked, answering `request`. Towards plain APs
    /// without AP lists (they only need home agent and mask).
    fn send_table(
        &mut self,
        now: Now,
        to: Ipv4Addr,
        request: u32,
        with_aps: bool,
        out: &mut Vec<Action>,
    ) {
        let entries = self.wire_entries(with_aps);
        let chunks = match wire::split_entries(&entries) {
            Ok(c) => c,
            Err(_) => {
                self.drop_reason("table too large to send");
                return;
            }
        };
        // The table carries every pending change.
        self.links.entry(to).or_default().dirty.clear();
        let count = chunks.len() as u16;
        for (i, entries) in chunks.into_iter().enumerate() {
            let seq = self.next_seq(to);
            let message = Message::Table {
                request,
                chunk: Chunk {
                    index: i as u16,
                    count,
                },
                entries,
            };
            self.send_reliable(now, to, seq, message, false, out);
        }
    }

    /// Pushes queued changes as Updates, coalesced per destination, while
    /// fewer than [`MAX_IN_FLIGHT`] are unacknowledged there.
    fn flush(&mut self, now: Now, out: &mut Vec<Action>) {
        let mut targets: Vec<Ipv4Addr> = self
            .links
            .iter()
            .filter(|(_, l)| {
                !l.dirty.is_empty()
                    && l.in_flight.values().filter(|f| f.update).count() < MAX_IN_FLIGHT
            })
            .map(|(a, _)| *a)
            .collect();
        targets.sort();
        for to in targets {
            let with_aps = self.peers.contains_key(&to);
            let dirty = core::mem::take(&mut self.links.entry(to).or_default().dirty);
            let entries: Vec<Entry> = dirty
                .iter()
                .filter_map(|ha| self.table.get(ha).map(|e| e.to_wire(*ha, with_aps)))
                .collect();
            if entries.is_empty() {
                continue;
            }
            let Ok(chunks) = wire::split_entries(&entries) else {
                self.drop_reason("update too large to send");
                continue;
            };
            let count = chunks.len() as u16;
            let mut group = 0;
            for (i, entries) in chunks.into_iter().enumerate() {
                let seq = self.next_seq(to);
                if i == 0 {
                    group = seq;
                }
                let message = Message::Update {
                    group,
                    chunk: Chunk {
                        index: i as u16,
                        count,
                    },
                    entries,
                };
                self.send_reliable(now, to, seq, message, true, out);
            }
        }
    }

    // ----- AP role ----------------------------------------------------------

    fn start_join(&mut self, now: Now, full: bool, out: &mut Vec<Action>) {
        if self.aaps.is_empty() || self.is_aap {
            return;
        }
        let full = full || self.want_full || self.join.as_ref().is_some_and(|j| j.full);
        self.want_full = false;
        self.join = Some(JoinSeries {
            aap: self.current,
            full,
            seqs: Vec::new(),
            started: now.instant,
            last_sent: now.instant,
            tries: 0,
        });
        self.next_keepalive = None;
        self.join_attempt(now, out);
    }

    fn join_attempt(&mut self, now: Now, out: &mut Vec<Action>) {
        let Some(j) = self.join.as_ref() else {
            return;
        };
        let to = self.aaps[j.aap];
        let message = Message::Join {
            full_table: j.full,
            subnets: self.own.clone(),
        };
        let seq = self.send_once(to, message, out);
        if let Some(j) = self.join.as_mut() {
            if j.tries > 0 {
                self.counters.retransmissions += 1;
            }
            j.seqs.push(seq);
            j.tries += 1;
            j.last_sent = now.instant;
        }
    }

    fn complete_join(&mut self, now: Now) {
        self.join = None;
        self.joins_completed = self.joins_completed.wrapping_add(1);
        // Up to a quarter less than the period, varying by AP and by round,
        // so APs that booted together do not keep sending together.
        let k = self.config.timers.keepalive;
        let spread = u64::from(u32::from(self.config.own_address)) << 32 | self.joins_completed;
        let jitter = k.mul_f64((splitmix(spread) >> 11) as f64 / (1u64 << 53) as f64 / 4.0);
        self.next_keepalive = Some(now.instant + (k - jitter));
    }

    fn join_deadline(&self) -> Option<Instant> {
        self.join
            .as_ref()
            .map(|j| j.last_sent + self.backoff(j.tries))
    }

    // ----- AAP role ---------------------------------------------------------

    fn start_sync(&mut self, now: Now, peer: Ipv4Addr, out: &mut Vec<Action>) {
        self.counters.sync_requests += 1;
        let seq = self.send_once(peer, Message::SyncRequest, out);
        if let Some(p) = self.peers.get_mut(&peer) {
            match p.sync.as_mut() {
                Some(s) => {
                    s.seqs.push(seq);
                    s.tries += 1;
                    s.last_sent = now.instant;
                }
                None => {
                    p.sync = Some(SyncSeries {
                        seqs: vec![seq],
                        last_sent: now.instant,
                        tries: 1,
                    })
                }
            }
        }
    }

    /// We have the table (or gave up waiting for it): answer the Joins
    /// held back meanwhile.
    fn set_synced(&mut self, now: Now, out: &mut Vec<Action>) {
        if self.synced {
            return;
        }
        self.synced = true;
        let pending: Vec<(Ipv4Addr, u32)> = self
            .members
            .iter()
            .filter_map(|(a, m)| m.pending_join.map(|s| (*a, s)))
            .collect();
        for (a, s) in pending {
            self.answer_join(now, a, s, out);
        }
    }

    /// The AAP that probes: the first in the list that is alive, so two
    /// AAPs do not both decide about one home agent.
    fn probe_owner(&self) -> bool {
        for a in &self.aaps {
            if *a == self.config.own_address {
                return true;
            }
            if self.peers.get(a).is_some_and(|p| p.heard && p.alive) {
                return false;
            }
        }
        true
    }

    fn start_probe(&mut self, now: Now, ha: Ipv4Addr, tries: u8, out: &mut Vec<Action>) {
        let Some(e) = self.table.get(&ha) else {
            return;
        };
        out.push(Action::ProbeHomeAgent {
            home_agent: ha,
            broadcast: directed_broadcast(ha, e.prefix_len),
        });
        self.counters.probes_sent += 1;
        self.probes.insert(
            ha,
            Probe::Probing {
                tries,
                next: now.instant + self.config.timers.probe_interval,
            },
        );
    }

    /// Starts probes for entries no AP is behind (seed 004), and forgets
    /// probes of entries that have APs again.
    fn maintain_probes(&mut self, now: Now, out: &mut Vec<Action>) {
        if !self.is_aap {
            return;
        }
        let owner = self.probe_owner();
        let table = &self.table;
        self.probes
            .retain(|ha, _| owner && table.get(ha).is_some_and(|e| e.live() && e.aps.is_empty()));
        if !owner {
            return;
        }
        let orphans: Vec<Ipv4Addr> = self
            .table
            .iter()
            .filter(|(ha, e)| e.live() && e.aps.is_empty() && !self.probes.contains_key(ha))
            .map(|(ha, _)| *ha)
            .collect();
        for ha in orphans {
            self.start_probe(now, ha, 1, out);
        }
    }

    /// Ends every input: probes, pushes, and the TableChanged notice.
    fn finish(&mut self, now: Now, out: &mut Vec<Action>) {
        if self.started {
            self.maintain_probes(now, out);
            self.flush(now, out);
        }
        if self.view_changed {
            self.view_changed = false;
            out.push(Action::TableChanged);
        }
    }

    // ----- timers -----------------------------------------------------------

    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.started {
            return None;
        }
        let t = &self.config.timers;
        let mut next: Option<Instant> = None;
        let mut at = |i: Instant| {
            next = Some(next.map_or(i, |n| n.min(i)));
        };
        for l in self.links.values() {
            for f in l.in_flight.values() {
                at(f.sent + self.backoff(f.tries));
            }
        }
        if let Some(d) = self.join_deadline() {
            at(d);
        }
        if let Some(k) = self.next_keepalive {
            at(k);
        }
        if self.is_aap {
            if !self.synced {
                at(self.start_time + t.sync_wait);
            }
            at(self.next_digest);
            for p in self.peers.values() {
                if let Some(s) = &p.sync {
                    at(s.last_sent + self.backoff(s.tries));
                }
                if p.alive {
                    at(p.last_heard + t.peer_expiry);
                }
            }
            let own = self.config.own_address;
            if let Some(m) = self
                .members
                .iter()
                .filter(|(a, _)| **a != own)
                .map(|(_, m)| m.last_heard)
                .min()
            {
                at(m + t.ap_expiry);
            }
            for p in self.probes.values() {
                at(p.due());
            }
        }
        if let Some(c) = self
            .table
            .values()
            .filter(|e| e.deleted)
            .map(|e| e.changed)
            .min()
        {
            at(c + t.tombstone);
        }
        if let Some(s) = self.partials.values().map(|p| p.started).min() {
            at(s + t.reassembly);
        }
        next
    }

    pub fn handle_timeout(&mut self, now: Now, out: &mut Vec<Action>) {
        if !self.started {
            return;
        }
        let t = self.config.timers.clone();
        self.retransmit(now, out);
        if !self.is_aap {
            if self.join_deadline().is_some_and(|d| now.instant >= d) {
                let exhausted = self.join.as_ref().is_some_and(|j| j.tries >= t.tries);
                if exhausted {
                    // Seed 004: "it tries the next configured AAP" (and,
                    // after the last, the first again).
                    self.counters.failovers += 1;
                    self.current = (self.current + 1) % self.aaps.len().max(1);
                    self.join = None;
                    tracing::info!(aap = ?self.aaps.get(self.current), "subnet exchange: AAP does not answer, trying the next");
                    self.start_join(now, true, out);
                } else {
                    self.join_attempt(now, out);
                }
            }
            if self.next_keepalive.is_some_and(|k| now.instant >= k) {
                self.start_join(now, false, out);
            }
        } else {
            self.aap_timers(now, &t, out);
        }
        self.table
            .retain(|_, e| !(e.deleted && now.instant >= e.changed + t.tombstone));
        let expired: Vec<PartialKey> = self
            .partials
            .iter()
            .filter(|(_, p)| now.instant >= p.started + t.reassembly)
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            self.partials.remove(&k);
            self.partial_lost(k.kind);
        }
        self.finish(now, out);
    }

    fn retransmit(&mut self, now: Now, out: &mut Vec<Action>) {
        let tries = self.config.timers.tries;
        let mut due: Vec<(Ipv4Addr, u32)> = Vec::new();
        for (to, l) in &self.links {
            for (seq, f) in &l.in_flight {
                if now.instant >= f.sent + self.backoff(f.tries) {
                    due.push((*to, *seq));
                }
            }
        }
        due.sort();
        for (to, seq) in due {
            let Some(l) = self.links.get_mut(&to) else {
                continue;
            };
            let Some(f) = l.in_flight.get_mut(&seq) else {
                continue;
            };
            if f.tries >= tries {
                l.in_flight.remove(&seq);
                self.counters.gave_up += 1;
                // Seed 001: "if an AP is unreachable during this update
                // process, the AAP retries"; after the last try it sends
                // that AP the whole table at its next Join.
                if let Some(m) = self.members.get_mut(&to) {
                    m.needs_full = true;
                }
            } else {
                f.tries += 1;
                f.sent = now.instant;
                let datagram = f.datagram.clone();
                self.counters.retransmissions += 1;
                self.counters.sent += 1;
                out.push(Action::Send { to, datagram });
            }
        }
    }

    fn aap_timers(&mut self, now: Now, t: &Timers, out: &mut Vec<Action>) {
        if !self.synced && now.instant >= self.start_time + t.sync_wait {
            self.set_synced(now, out);
        }
        // SyncRequest retransmissions: each a new message.
        let due: Vec<(Ipv4Addr, u8)> = self
            .peers
            .iter()
            .filter_map(|(a, p)| {
                p.sync
                    .as_ref()
                    .filter(|s| now.instant >= s.last_sent + self.backoff(s.tries))
                    .map(|s| (*a, s.tries))
            })
            .collect();
        for (peer, tries) in due {
            if tries >= t.tries {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.sync = None;
                }
                self.counters.gave_up += 1;
                if self.peers.values().all(|p| p.sync.is_none()) {
                    // Nobody answered: we are the first AAP up.
                    self.set_synced(now, out);
                }
            } else {
                self.counters.retransmissions += 1;
                self.start_sync(now, peer, out);
            }
        }
        if now.instant >= self.next_digest {
            self.next_digest = now.instant + t.digest;
            let digest = self.digest();
            let entries = self.table.values().filter(|e| e.live()).count() as u32;
            let peers: Vec<Ipv4Addr> = self.peers.keys().copied().collect();
            for p in peers {
                self.send_once(p, Message::Digest { digest, entries }, out);
            }
        }
        // APs gone silent leave every entry they were in.
        let own = self.config.own_address;
        let silent: Vec<Ipv4Addr> = self
            .members
            .iter()
            .filter(|(a, m)| **a != own && now.instant >= m.last_heard + t.ap_expiry)
            .map(|(a, _)| *a)
            .collect();
        for ap in silent {
            self.members.remove(&ap);
            self.counters.aps_expired += 1;
            // Forget its replay window too: an AP that restarted with an
            // older epoch (its clock went back) is heard again from now.
            self.windows.remove(&ap);
            self.partials.retain(|k, _| k.sender != ap);
            if let Some(l) = self.links.get_mut(&ap) {
                // Keep next_seq: it may come back within our epoch.
                l.in_flight.clear();
                l.dirty.clear();
            }
            let entries: Vec<Ipv4Addr> = self
                .table
                .iter()
                .filter(|(_, e)| e.live() && e.aps.contains(&ap))
                .map(|(ha, _)| *ha)
                .collect();
            for ha in entries {
                self.remove_ap(now, ha, ap, Source::Local);
            }
        }
        // Another AAP gone: the APs it vouched for that did not fail over
        // to us are gone too (a live third AAP asserts its own again).
        let lost: Vec<Ipv4Addr> = self
            .peers
            .iter()
            .filter(|(_, p)| p.alive && now.instant >= p.last_heard + t.peer_expiry)
            .map(|(a, _)| *a)
            .collect();
        for peer in lost {
            tracing::info!(%peer, "subnet exchange: AAP gone silent");
            self.counters.peers_lost += 1;
            if let Some(p) = self.peers.get_mut(&peer) {
                p.alive = false;
                p.sync = None;
            }
            if let Some(l) = self.links.get_mut(&peer) {
                l.in_flight.clear();
                l.dirty.clear();
            }
            let changes: Vec<(Ipv4Addr, u8, BTreeSet<Ipv4Addr>)> = self
                .table
                .iter()
                .filter(|(_, e)| e.live())
                .filter_map(|(ha, e)| {
                    let kept: BTreeSet<Ipv4Addr> = e
                        .aps
                        .iter()
                        .copied()
                        .filter(|a| self.members.contains_key(a))
                        .collect();
                    (kept.len() != e.aps.len()).then_some((*ha, e.prefix_len, kept))
                })
                .collect();
            for (ha, prefix, aps) in changes {
                self.set_entry(now, ha, prefix, false, aps, Source::Local);
            }
        }
        // Probes due: again, or give up and delete (seed 002: "if the home
        // agent does not respond, the AAP deletes the home agent entry").
        let due: Vec<(Ipv4Addr, Probe)> = self
            .probes
            .iter()
            .filter(|(_, p)| now.instant >= p.due())
            .map(|(a, p)| (*a, *p))
            .collect();
        for (ha, p) in due {
            match p {
                Probe::Probing { tries, .. } if tries < t.probe_tries => {
                    self.start_probe(now, ha, tries + 1, out);
                }
                Probe::Probing { .. } => {
                    self.probes.remove(&ha);
                    let orphan = self
                        .table
                        .get(&ha)
                        .filter(|e| e.live() && e.aps.is_empty())
                        .map(|e| e.prefix_len);
                    if let Some(prefix) = orphan {
                        tracing::info!(home_agent = %ha, "subnet exchange: home agent does not answer, entry deleted");
                        self.counters.deleted_by_probe += 1;
                        self.set_entry(now, ha, prefix, true, BTreeSet::new(), Source::Local);
                    }
                }
                Probe::Kept { .. } => self.start_probe(now, ha, 1, out),
            }
        }
    }
}

/// A simulated network of subnet exchange engines with simulated time: a
/// queue of datagrams in flight with a one-way delay, seeded loss, APs
/// that go down and come back, home agents that answer probes or not.
/// Deterministic for a seed. Used by the engine's tests and benchmark.
pub mod sim {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window() {
        let mut w = Window::new(5, 10);
        assert_eq!(w.verdict(5, 10), Verdict::Duplicate);
        assert_eq!(w.verdict(5, 11), Verdict::New);
        assert_eq!(w.verdict(5, 9), Verdict::New);
        w.accept(5, 9);
        assert_eq!(w.verdict(5, 9), Verdict::Duplicate);
        w.accept(5, 2000);
        assert_eq!(w.verdict(5, 10), Verdict::Replayed);
        assert_eq!(w.verdict(5, 2000 - REPLAY_WINDOW + 1), Verdict::New);
        assert_eq!(w.verdict(5, 1999), Verdict::New);
        w.accept(5, 1999);
        w.accept(5, 2001);
        assert_eq!(w.verdict(5, 1999), Verdict::Duplicate);
        // A slot reused after the window moved on is new again.
        w.accept(5, 2001 + REPLAY_WINDOW - 1);
        assert_eq!(w.verdict(5, 2001), Verdict::Duplicate);
        assert_eq!(w.verdict(5, 1999 + REPLAY_WINDOW), Verdict::New);
        assert_eq!(w.verdict(4, 1_000_000), Verdict::Replayed);
        assert_eq!(w.verdict(6, 1), Verdict::New);
        w.accept(6, 1);
        assert_eq!(w.verdict(6, 1), Verdict::Duplicate);
        assert_eq!(w.verdict(5, 5000), Verdict::Replayed);
    }

    #[test]
    fn merge_order_is_total_and_deterministic() {
        use core::cmp::Ordering;
        let a = [Ipv4Addr::new(10, 0, 0, 1)];
        let b = [Ipv4Addr::new(10, 0, 0, 2)];
        let cmp = |x: (u32, bool, u8, &[Ipv4Addr]), y: (u32, bool, u8, &[Ipv4Addr])| {
            rank_cmp(
                (x.0, x.1, x.2, &mut x.3.iter().copied()),
                (y.0, y.1, y.2, &mut y.3.iter().copied()),
            )
        };
        assert_eq!(
            cmp((2, false, 24, &a), (1, true, 32, &b)),
            Ordering::Greater
        );
        assert_eq!(
            cmp((2, true, 24, &[]), (2, false, 24, &a)),
            Ordering::Greater
        );
        assert_eq!(cmp((2, false, 24, &a), (2, false, 24, &b)), Ordering::Less);
        assert_eq!(cmp((2, false, 24, &a), (2, false, 24, &a)), Ordering::Equal);
    }

    #[test]
    fn broadcast_of_subnets() {
        assert_eq!(
            directed_broadcast(Ipv4Addr::new(10, 1, 0, 1), 24),
            Ipv4Addr::new(10, 1, 0, 255)
        );
        assert_eq!(
            directed_broadcast(Ipv4Addr::new(10, 3, 4, 4), 29),
            Ipv4Addr::new(10, 3, 4, 7)
        );
        assert_eq!(
            directed_broadcast(Ipv4Addr::new(10, 3, 4, 4), 32),
            Ipv4Addr::new(10, 3, 4, 4)
        );
        assert_eq!(
            directed_broadcast(Ipv4Addr::new(10, 3, 4, 4), 0),
            Ipv4Addr::BROADCAST
        );
    }
}
