//! The campus station table (docs/subnet-map-exchange.md, section 16):
//! every station an AP of the campus saw on its own link, by MAC, with its
//! address, that AP and when it saw it. Each AP reports what it sees to
//! its AAP; an AAP hands what it learns to its members and to the other
//! AAPs. Soft state: nothing is acknowledged, an AP sends what it saw
//! itself again every `station_refresh`, and an entry ages out
//! `station_expiry` after its AP last saw the station.

use super::*;
use core::ops::Bound;
use pmip_wire::subnet_exchange::{MAX_STATIONS_PER_MESSAGE, Station};

/// A station's link-layer address.
pub type Mac = [u8; 6];

/// Stations datagrams sent per flush, every destination together: a whole
/// table for many APs at once (an AAP that restarted) goes out paced.
const MAX_STATION_DATAGRAMS_PER_FLUSH: usize = 64;
/// Ages travel in whole seconds, rounded down: two copies of the same
/// observation may read up to this much apart.
const AGE_SLACK: Duration = Duration::from_secs(1);

/// One entry of the campus station table, as `show` and the AP see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StationInfo {
    pub mac: Mac,
    pub address: Ipv4Addr,
    /// The AP that last saw it on its own link (this AP's own address for
    /// a station it saw itself).
    pub ap: Ipv4Addr,
    /// How long ago that AP saw it.
    pub age: Duration,
    /// When the entry ages out here (the later, the more recent).
    pub expires: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    address: Ipv4Addr,
    ap: Ipv4Addr,
    /// Kept instead of when the station was seen: a time before this
    /// engine's clock began (an hour-old entry at a fresh start) cannot
    /// be written as an `Instant`, its expiry always can.
    expires: Instant,
}

/// A sender's allowance of station entries (a token bucket).
#[derive(Debug, Clone, Copy)]
struct Budget {
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Default)]
pub(super) struct StationTable {
    held: BTreeMap<Mac, Held>,
    /// The same entries by when they age out, oldest first.
    by_expiry: BTreeSet<(Instant, Mac)>,
    /// Entries changed since the device last took them.
    changed: BTreeSet<Mac>,
    /// When queued stations go out.
    flush: Option<Instant>,
    /// When this AP next sends the stations it saw itself.
    next_refresh: Option<Instant>,
    /// The AAP this AP last sent all of them to.
    sent_to: Option<Ipv4Addr>,
    budgets: BTreeMap<Ipv4Addr, Budget>,
}

impl SubnetExchange {
    /// This AP saw `mac` use `address` on its own link just now. A station
    /// that is new, has a new address, or was seen at another AP since,
    /// goes to the AAP (or, on an AAP, to every AP) within
    /// `station_batch`; otherwise the next refresh carries its new age.
    pub fn station_seen(&mut self, now: Now, mac: Mac, address: Ipv4Addr, out: &mut Vec<Action>) {
        let own = self.config.own_address;
        let entry = Station {
            mac,
            address,
            ap: own,
            age: 0,
        };
        if entry.check().is_err() {
            self.drop_reason("own observation that names no station");
            return;
        }
        let news = self
            .stations
            .held
            .get(&mac)
            .is_none_or(|h| h.address != address || h.ap != own);
        let expires = now.instant + self.config.timers.station_expiry;
        if self.put_station(mac, address, own, expires) && news {
            self.distribute_station(now, mac, None);
        }
        self.finish(now, out);
    }

    /// The campus station table, by MAC.
    pub fn stations(&self, now: Instant) -> Vec<StationInfo> {
        self.stations
            .held
            .iter()
            .map(|(m, h)| self.station_info(*m, h, now))
            .collect()
    }

    /// One station's entry.
    pub fn station(&self, mac: &Mac, now: Instant) -> Option<StationInfo> {
        self.stations
            .held
            .get(mac)
            .map(|h| self.station_info(*mac, h, now))
    }

    /// The entries that changed (None: gone) since the last call, for a
    /// device that keeps a copy.
    pub fn take_station_changes(&mut self, now: Instant) -> Vec<(Mac, Option<StationInfo>)> {
        let changed = core::mem::take(&mut self.stations.changed);
        changed
            .into_iter()
            .map(|m| (m, self.station(&m, now)))
            .collect()
    }

    fn station_info(&self, mac: Mac, h: &Held, now: Instant) -> StationInfo {
        let expiry = self.config.timers.station_expiry;
        StationInfo {
            mac,
            address: h.address,
            ap: h.ap,
            age: expiry.saturating_sub(h.expires.saturating_since(now)),
            expires: h.expires,
        }
    }

    /// Holds the entry; at the table's bound the oldest entry makes room,
    /// unless this one is older still (then it is not taken: false).
    fn put_station(&mut self, mac: Mac, address: Ipv4Addr, ap: Ipv4Addr, expires: Instant) -> bool {
        let new = Held {
            address,
            ap,
            expires,
        };
        let t = &mut self.stations;
        match t.held.get(&mac) {
            Some(old) if *old == new => return true,
            Some(old) => {
                t.by_expiry.remove(&(old.expires, mac));
            }
            None if t.held.len() >= self.config.max_stations => match t.by_expiry.first() {
                Some(&(oldest, m)) if oldest < expires => {
                    t.by_expiry.remove(&(oldest, m));
                    t.held.remove(&m);
                    t.changed.insert(m);
                    self.counters.stations_evicted += 1;
                }
                _ => {
                    self.counters.stations_evicted += 1;
                    return false;
                }
            },
            None => {}
        }
        t.held.insert(mac, new);
        t.by_expiry.insert((expires, mac));
        t.changed.insert(mac);
        true
    }

    /// Merges a received entry: a newer observation replaces the held one;
    /// the same observation again (a refresh) is taken too, so that it is
    /// passed on and repairs a loss further down. True when taken.
    fn merge_station(
        &mut self,
        mac: Mac,
        address: Ipv4Addr,
        ap: Ipv4Addr,
        expires: Instant,
    ) -> bool {
        if let Some(h) = self.stations.held.get(&mac).copied() {
            if h.address == address && h.ap == ap {
                if expires + AGE_SLACK < h.expires {
                    // A stale copy of what we hold.
                    return false;
                }
                return self.put_station(mac, address, ap, expires.max(h.expires));
            }
            if expires <= h.expires {
                return false;
            }
        }
        self.put_station(mac, address, ap, expires)
    }

    /// Queues the entry of `mac` for whoever should hear of it: a plain
    /// AP tells its AAP what it saw itself; an AAP tells its members
    /// (not the AP the entry is about, nor the sender) and, when the entry
    /// did not come from another AAP, the other AAPs alive (which tell
    /// their own members).
    fn distribute_station(&mut self, now: Now, mac: Mac, from: Option<Ipv4Addr>) {
        if !self.started {
            return;
        }
        let Some(h) = self.stations.held.get(&mac).copied() else {
            return;
        };
        let own = self.config.own_address;
        let mut to: Vec<Ipv4Addr> = Vec::new();
        if self.is_aap {
            to.extend(
                self.members
                    .keys()
                    .copied()
                    .filter(|m| *m != own && *m != h.ap && Some(*m) != from),
            );
            if !from.is_some_and(|f| self.peers.contains_key(&f)) {
                to.extend(
                    self.peers
                        .iter()
                        .filter(|(a, p)| p.alive && Some(**a) != from)
                        .map(|(a, _)| *a),
                );
            }
        } else if from.is_none() {
            to.extend(self.current_aap());
        }
        for d in to {
            self.links.entry(d).or_default().stations.insert(mac);
        }
        self.arm_station_flush(now);
    }

    fn arm_station_flush(&mut self, now: Now) {
        if self.stations.flush.is_none() {
            self.stations.flush = Some(now.instant + self.config.timers.station_batch);
        }
    }

    /// Every station this AP saw itself goes out again (the refresh; and
    /// at once to an AAP that is new to us or restarted).
    pub(super) fn queue_own_stations(&mut self, now: Now) {
        let own = self.config.own_address;
        let mine: Vec<Mac> = self
            .stations
            .held
            .iter()
            .filter(|(_, h)| h.ap == own)
            .map(|(m, _)| *m)
            .collect();
        for m in mine {
            self.distribute_station(now, m, None);
        }
        if !self.is_aap {
            self.stations.sent_to = self.current_aap();
        }
    }

    /// A Join series ended: an AAP that never had our stations (the first
    /// at boot, the next after a failover) gets them all now.
    pub(super) fn stations_after_join(&mut self, now: Now) {
        if self.stations.sent_to != self.current_aap() {
            self.queue_own_stations(now);
        }
    }

    /// A new member, or another AAP that asks for our table, gets the
    /// whole station table (paced by the flush).
    pub(super) fn send_station_table(&mut self, now: Now, to: Ipv4Addr) {
        self.links.entry(to).or_default().stations_full = Some(None);
        self.arm_station_flush(now);
    }

    pub(super) fn start_station_refresh(&mut self, now: Now) {
        // The first refresh up to a quarter early, varying by AP, so APs
        // that booted together do not keep sending together.
        let k = self.config.timers.station_refresh;
        let spread = splitmix(u64::from(u32::from(self.config.own_address)) ^ 0x5354_4154);
        let jitter = k.mul_f64((spread >> 11) as f64 / (1u64 << 53) as f64 / 4.0);
        self.stations.next_refresh = Some(now.instant + (k - jitter));
    }

    /// Whether `from` may still send a station entry now: a token bucket
    /// of `max_stations` entries (a whole table at once) refilled at
    /// `max_station_rate` a second.
    fn take_station_token(&mut self, now: Instant, from: Ipv4Addr) -> bool {
        let cap = self.config.max_stations as f64;
        let rate = f64::from(self.config.max_station_rate);
        let b = self.stations.budgets.entry(from).or_insert(Budget {
            tokens: cap,
            at: now,
        });
        b.tokens = (b.tokens + now.saturating_since(b.at).as_secs_f64() * rate).min(cap);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// A member is gone: its allowance goes too.
    pub(super) fn forget_station_sender(&mut self, from: Ipv4Addr) {
        self.stations.budgets.remove(&from);
    }

    /// A Stations message that passed authentication, the replay window
    /// and [`SubnetExchange::admissible`].
    pub(super) fn on_stations(&mut self, now: Now, from: Ipv4Addr, stations: Vec<Station>) {
        let from_aap = self.aaps.contains(&from);
        if self.is_aap && !from_aap && !self.members.contains_key(&from) {
            self.drop_reason("Stations from an AP that has not joined");
            return;
        }
        let own = self.config.own_address;
        let expiry = self.config.timers.station_expiry;
        for s in stations {
            self.counters.stations_received += 1;
            if !self.take_station_token(now.instant, from) {
                self.counters.stations_rate_limited += 1;
                continue;
            }
            if !from_aap && s.ap != from {
                // A plain AP speaks only for what it saw itself.
                self.drop_reason("station entry for another AP from a plain AP");
                continue;
            }
            if s.ap == own {
                // What this AP saw itself it knows better.
                continue;
            }
            let age = Duration::from_secs(u64::from(s.age));
            if age >= expiry {
                self.drop_reason("station entry older than the station expiry");
                continue;
            }
            if self.merge_station(s.mac, s.address, s.ap, now.instant + (expiry - age)) {
                self.counters.stations_accepted += 1;
                if self.is_aap {
                    self.distribute_station(now, s.mac, Some(from));
                }
            }
        }
    }

    /// The entry of `mac` as sent to `to` (nothing about `to` itself).
    fn wire_station(&self, now: Instant, mac: Mac, to: Ipv4Addr) -> Option<Station> {
        let h = self.stations.held.get(&mac)?;
        if h.ap == to || h.expires <= now {
            return None;
        }
        let age = self.station_info(mac, h, now).age;
        Some(Station {
            mac,
            address: h.address,
            ap: h.ap,
            age: u32::try_from(age.as_secs()).unwrap_or(u32::MAX),
        })
    }

    fn send_stations(&mut self, to: Ipv4Addr, stations: Vec<Station>, out: &mut Vec<Action>) {
        let n = stations.len() as u64;
        let seq = self.next_seq(to);
        if let Some(datagram) = self.emit(seq, Message::Stations { stations }) {
            self.counters.sent += 1;
            self.counters.stations_sent += n;
            out.push(Action::Send { to, datagram });
        }
    }

    /// Sends what is queued: changes first, then whole tables, in
    /// datagrams of at most [`MAX_STATIONS_PER_MESSAGE`] entries and at
    /// most [`MAX_STATION_DATAGRAMS_PER_FLUSH`] datagrams; the rest waits
    /// for the next flush.
    fn flush_stations(&mut self, now: Now, out: &mut Vec<Action>) {
        self.stations.flush = None;
        let mut budget = MAX_STATION_DATAGRAMS_PER_FLUSH;
        let targets: Vec<Ipv4Addr> = self
            .links
            .iter()
            .filter(|(_, l)| !l.stations.is_empty() || l.stations_full.is_some())
            .map(|(a, _)| *a)
            .collect();
        for to in &targets {
            let Some(l) = self.links.get_mut(to) else {
                continue;
            };
            let queued = core::mem::take(&mut l.stations);
            let entries: Vec<Station> = queued
                .iter()
                .filter_map(|m| self.wire_station(now.instant, *m, *to))
                .collect();
            let mut sent = 0;
            for chunk in entries.chunks(MAX_STATIONS_PER_MESSAGE) {
                if budget == 0 {
                    break;
                }
                budget -= 1;
                sent += chunk.len();
                self.send_stations(*to, chunk.to_vec(), out);
            }
            if let Some(l) = self.links.get_mut(to) {
                l.stations.extend(entries[sent..].iter().map(|s| s.mac));
            }
        }
        for to in &targets {
            while budget > 0 {
                let Some(Some(cursor)) = self.links.get(to).map(|l| l.stations_full) else {
                    break;
                };
                let lower = cursor.map_or(Bound::Unbounded, Bound::Excluded);
                let mut chunk = Vec::new();
                let mut last = None;
                for (m, _) in self.stations.held.range((lower, Bound::Unbounded)) {
                    last = Some(*m);
                    if let Some(s) = self.wire_station(now.instant, *m, *to) {
                        chunk.push(s);
                        if chunk.len() == MAX_STATIONS_PER_MESSAGE {
                            break;
                        }
                    }
                }
                let done = last.is_none_or(|l| {
                    self.stations
                        .held
                        .range((Bound::Excluded(l), Bound::Unbounded))
                        .next()
                        .is_none()
                });
                if let Some(l) = self.links.get_mut(to) {
                    l.stations_full = if done { None } else { Some(last) };
                }
                if !chunk.is_empty() {
                    budget -= 1;
                    self.send_stations(*to, chunk, out);
                }
                if done {
                    break;
                }
            }
        }
        let more = self
            .links
            .values()
            .any(|l| !l.stations.is_empty() || l.stations_full.is_some());
        if more {
            self.arm_station_flush(now);
        }
    }

    pub(super) fn station_deadlines(&self) -> [Option<Instant>; 3] {
        let t = &self.stations;
        [
            t.flush,
            t.next_refresh,
            t.by_expiry.first().map(|(at, _)| *at),
        ]
    }

    /// Ages entries out, refreshes what this AP saw itself, and sends
    /// what is queued, each when due.
    pub(super) fn station_timers(&mut self, now: Now, out: &mut Vec<Action>) {
        while let Some(&(at, m)) = self.stations.by_expiry.first() {
            if at > now.instant {
                break;
            }
            self.stations.by_expiry.remove(&(at, m));
            self.stations.held.remove(&m);
            self.stations.changed.insert(m);
            self.counters.stations_expired += 1;
        }
        if self.stations.next_refresh.is_some_and(|t| t <= now.instant) {
            self.stations.next_refresh = Some(now.instant + self.config.timers.station_refresh);
            self.queue_own_stations(now);
        }
        if self.stations.flush.is_some_and(|t| t <= now.instant) {
            self.flush_stations(now, out);
        }
    }
}
