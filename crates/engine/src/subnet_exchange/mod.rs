//! The subnet map exchange between access points and authoritative access
//! points (the Aironet documentation "Subnet Map Exchange", the Aironet documentation, the Aironet documentation), sans-IO.
//! The wire format and the rules are in `docs/subnet-map-exchange.md`.
//!
//! One engine per AP. It is an AAP iff its own address is in its
//! `ip proxy-mobile aap` list (the Aironet documentation, step 3: up to three).
//!
//! * A plain AP sends a Join (its own home agent entries) to the first AAP,
//!   installs the full table the AAP answers with, acknowledges the
//!   Updates the AAP pushes, sends a keepalive Join every
//!   [`Timers::keepalive`], and fails over to the next AAP in its list when
//!   one does not answer ("if an access point fails to reach the first
//!   AAP, it tries the next configured AAP", the Aironet documentation).
//! * An AAP keeps the master table: each home agent entry with the APs
//!   that sit behind it and a version (change counter). It answers Joins
//!   with the table, pushes every change to every AP it knows and to the
//!   other AAPs, retries until acknowledged (the Aironet documentation), expires silent
//!   APs, compares digests with the other AAPs and pulls their table on a
//!   mismatch (the Aironet documentation: "the AAPs compare their subnet map tables
//!   periodically"), and asks the device to probe a home agent no AP is
//!   left behind, deleting the entry if the probe stays unanswered
//!   (the Aironet documentation, the Aironet documentation).
//!
//! Tables merge by entry version: the higher version wins, ties broken by
//! (deleted, prefix length, AP list), so every AAP ends with the same
//! table whatever order changes arrive in, and a stale AAP never
//! resurrects a deleted entry (deletion leaves a tombstone one version
//! higher). An AAP is also an AP of its own: its `report_own` entries are
//! in its table like any member's.
//!
//! The same exchange carries the campus station table (`stations.rs`):
//! each AP reports the stations it sees on its own link to its AAP, the
//! AAPs hand them to every AP, so an AP knows a station's address before
//! the station arrives. Soft state, refreshed, aged out after an hour.

use crate::subnet_map::{SubnetEntry, SubnetMap};
use crate::time::{Instant, Now};
use core::net::Ipv4Addr;
use core::time::Duration;
use pmip_wire::subnet_exchange::{
    self as wire, Chunk, Entry, MAX_JOIN_ENTRIES, Message, Packet, Repr, Subnet,
};
pub use stations::{Mac, StationInfo};
use std::collections::{BTreeMap, BTreeSet};

/// The Aironet documentation: "you can designate up to three AAPs".
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
    /// Station entries learnt or changed within this long go out in one
    /// Stations message (per destination).
    pub station_batch: Duration,
    /// An AP sends the stations it saw itself again this often (soft
    /// state: a lost message is repaired by the next refresh).
    pub station_refresh: Duration,
    /// A station entry ages out this long after its AP last saw it.
    pub station_expiry: Duration,
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
            station_batch: Duration::from_millis(50),
            station_refresh: Duration::from_secs(60),
            station_expiry: Duration::from_secs(3600),
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
    /// Most entries of the campus station table (the oldest go first).
    pub max_stations: usize,
    /// Station entries taken from one sender per second, after a burst of
    /// `max_stations` (a whole table at once).
    pub max_station_rate: u32,
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
            max_stations: 8192,
            max_station_rate: 1024,
            epoch: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A UDP datagram from our port [`wire::PORT`] to `to`'s.
    Send { to: Ipv4Addr, datagram: Vec<u8> },
    /// Probe the home agent: an invalid Registration Request (bad SPI) to
    /// the directed broadcast of its subnet (the Aironet documentation); any reply, a
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
    /// Station entries sent (in `sent` Stations datagrams).
    pub stations_sent: u64,
    /// Station entries in authentic, admitted Stations messages.
    pub stations_received: u64,
    /// Of those, the ones that were new or newer than what was held.
    pub stations_accepted: u64,
    /// Station entries over their sender's rate, not looked at.
    pub stations_rate_limited: u64,
    /// Station entries aged out.
    pub stations_expired: u64,
    /// Station entries pushed out (or not taken) at the table's bound.
    pub stations_evicted: u64,
    /// Other drops, by reason.
    pub dropped: BTreeMap<&'static str, u64>,
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
    /// Stations to send there at the next station flush (coalesced).
    stations: BTreeSet<Mac>,
    /// The whole station table is on its way there: the MAC it goes on
    /// after (None: from the start).
    stations_full: Option<Option<Mac>>,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            next_seq: 1,
            in_flight: BTreeMap::new(),
            dirty: BTreeSet::new(),
            stations: BTreeSet::new(),
            stations_full: None,
        }
    }
}

impl Link {
    /// Nothing more is sent there (the destination is gone); the sequence
    /// counter stays, it may come back within our epoch.
    fn forget_queued(&mut self) {
        self.in_flight.clear();
        self.dirty.clear();
        self.stations.clear();
        self.stations_full = None;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    links: BTreeMap<Ipv4Addr, Link>,
    windows: BTreeMap<Ipv4Addr, Window>,
    partials: BTreeMap<PartialKey, Partial>,
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
    stations: stations::StationTable,
}

fn normalize(subnets: impl IntoIterator<Item = Subnet>) -> Vec<Subnet> {
    let mut seen = BTreeSet::new();
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
            links: BTreeMap::new(),
            windows: BTreeMap::new(),
            partials: BTreeMap::new(),
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
            stations: stations::StationTable::default(),
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
        self.start_station_refresh(now);
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
    /// was learnt and rebuild it (the Aironet documentation: "clear the subnet map table
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

    /// The Aironet documentation's Refresh button: ask for the whole table now.
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
    /// `home_agent`: keep its entry (the Aironet documentation).
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
            // So did the stations we reported to it: report them again.
            if !self.is_aap && self.current_aap() == Some(from) {
                self.queue_own_stations(now);
            }
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
}

mod messages;
mod sending;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
mod stations;
mod timers;

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
