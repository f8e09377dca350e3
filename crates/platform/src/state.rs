//! The state a device keeps across restarts, clean or after kill -9: the
//! home agent's bindings (with the absolute time each expires) and its
//! replay state (the last accepted identification of each home address),
//! the foreign agent's visitors, and the ledger of what the device
//! installed in the kernel (so a run after a crash removes what is stale).
//!
//! It lives in a redb database: an embedded, pure-Rust store whose
//! commits are atomic and durable (copy-on-write pages, a checksummed
//! commit record, fsync), so a crash at any moment leaves the last
//! committed state and no C library is needed. Changes are collected
//! while the node's outputs are carried out and committed in one
//! transaction before the next datagram leaves: a reply is never sent
//! for a binding the database does not hold yet.
//!
//! A database that cannot be opened (corrupted, truncated, not ours) is
//! reported with its path, moved aside, and the device starts empty.

use crate::netlink::Installed;
use pmip_engine::binding::Binding;
use pmip_engine::foreign_agent::Visitor;
#[cfg(test)]
use pmip_engine::time::Instant;
use pmip_engine::time::Now;
use pmip_wire::tunnel::Encapsulation;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bindings by (home address, care-of address).
const BINDINGS: TableDefinition<u64, &[u8]> = TableDefinition::new("bindings");
/// Last accepted identification by home address.
const REPLAY: TableDefinition<u32, u64> = TableDefinition::new("replay");
/// The foreign agent's visitors by home address.
const VISITORS: TableDefinition<u32, &[u8]> = TableDefinition::new("visitors");
/// The stations an AP saw, by MAC: address and when last seen (Unix ms).
const STATIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("stations");
/// The kernel ledger: [`Installed::encode`] of each entry.
const LEDGER: TableDefinition<&[u8], ()> = TableDefinition::new("ledger");

/// What a restart resumes.
#[derive(Debug, Default)]
pub struct Kept {
    /// The home agent's bindings still alive.
    pub bindings: Vec<Binding>,
    /// The last accepted identification per home address.
    pub replay: Vec<(Ipv4Addr, u64)>,
    /// The foreign agent's visitors still alive.
    pub visitors: Vec<Visitor>,
    /// What the previous run had installed in the kernel.
    pub ledger: Vec<Installed>,
    /// The stations an AP saw: MAC, address, how long ago.
    pub stations: Vec<([u8; 6], Ipv4Addr, Duration)>,
}

enum Change {
    Put(u64, Vec<u8>),
    Delete(u64),
    Replay(u32, u64),
    VisitorPut(u32, Vec<u8>),
    VisitorDelete(u32),
    LedgerAdd(Vec<u8>),
    LedgerRemove(Vec<u8>),
    Station([u8; 6], [u8; 12]),
    /// Drop stations last seen before this Unix time (ms).
    StationsBefore(u64),
}

pub struct StateStore {
    db: Database,
    path: PathBuf,
    pending: Vec<Change>,
}

fn key(home: Ipv4Addr, coa: Ipv4Addr) -> u64 {
    (u64::from(u32::from(home)) << 32) | u64::from(u32::from(coa))
}

/// The fixed layout of a stored binding (big-endian):
/// home 4, care-of 4, home agent 4, source 4+2, lifetime 2, expires
/// (Unix ms) 8, identification 8, flags 1, GRE key 4.
const RECORD_LEN: usize = 41;

fn encode(b: &Binding, now: Now) -> Vec<u8> {
    let left = b.expires.saturating_since(now.instant);
    let expires_ms = (now.unix + left).as_millis() as u64;
    let mut v = Vec::with_capacity(RECORD_LEN);
    v.extend(b.home_address.octets());
    v.extend(b.care_of_address.octets());
    v.extend(b.home_agent.octets());
    v.extend(b.source.ip().octets());
    v.extend(b.source.port().to_be_bytes());
    v.extend(b.lifetime.to_be_bytes());
    v.extend(expires_ms.to_be_bytes());
    v.extend(b.identification.to_be_bytes());
    let (gre, key, seq) = match b.encapsulation {
        Encapsulation::IpInIp => (false, None, false),
        Encapsulation::Gre { key, sequence } => (true, key, sequence),
    };
    let flags = u8::from(b.simultaneous)
        | u8::from(b.broadcast) << 1
        | u8::from(b.decapsulation_by_mn) << 2
        | u8::from(b.reverse_tunnel) << 3
        | u8::from(gre) << 4
        | u8::from(key.is_some()) << 5
        | u8::from(seq) << 6;
    v.push(flags);
    v.extend(key.unwrap_or(0).to_be_bytes());
    v
}

fn decode(v: &[u8], now: Now) -> Option<Binding> {
    if v.len() != RECORD_LEN {
        return None;
    }
    let ip = |at: usize| Ipv4Addr::new(v[at], v[at + 1], v[at + 2], v[at + 3]);
    let u16_at = |at: usize| u16::from_be_bytes([v[at], v[at + 1]]);
    let u64_at = |at: usize| u64::from_be_bytes(v[at..at + 8].try_into().expect("8 bytes"));
    let expires_unix = Duration::from_millis(u64_at(20));
    let left = expires_unix.checked_sub(now.unix)?;
    let flags = v[36];
    let bit = |n: u8| flags & (1 << n) != 0;
    Some(Binding {
        home_address: ip(0),
        care_of_address: ip(4),
        home_agent: ip(8),
        source: SocketAddrV4::new(ip(12), u16_at(16)),
        lifetime: u16_at(18),
        registered: now.instant,
        expires: now.instant + left,
        identification: u64_at(28),
        simultaneous: bit(0),
        broadcast: bit(1),
        decapsulation_by_mn: bit(2),
        reverse_tunnel: bit(3),
        encapsulation: if bit(4) {
            Encapsulation::Gre {
                key: bit(5).then(|| u32::from_be_bytes(v[37..41].try_into().expect("4"))),
                sequence: bit(6),
            }
        } else {
            Encapsulation::IpInIp
        },
    })
}

/// Why the state database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process holds it (another daemon for the same device).
    #[error("{}: in use by another running pmip (one state database per device)", .0.display())]
    InUse(PathBuf),
    #[error("{0}")]
    Other(String),
}

/// How long opening waits for a database another process holds.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// A stored visitor (big-endian): home 4, home agent 4, MAC 6, port 2,
/// lifetime 2, expires (Unix ms) 8, identification 8, flags 1, GRE key 4,
/// then the interface name.
const VISITOR_FIXED: usize = 39;

fn encode_visitor(v: &Visitor, now: Now) -> Vec<u8> {
    let left = v.expires.saturating_since(now.instant);
    let expires_ms = (now.unix + left).as_millis() as u64;
    let mut b = Vec::with_capacity(VISITOR_FIXED + v.interface.len());
    b.extend(v.home_address.octets());
    b.extend(v.home_agent.octets());
    b.extend(v.mac);
    b.extend(v.port.to_be_bytes());
    b.extend(v.lifetime.to_be_bytes());
    b.extend(expires_ms.to_be_bytes());
    b.extend(v.identification.to_be_bytes());
    let (gre, key, seq) = match v.encapsulation {
        Encapsulation::IpInIp => (false, None, false),
        Encapsulation::Gre { key, sequence } => (true, key, sequence),
    };
    b.push(
        u8::from(v.reverse_tunnel)
            | u8::from(gre) << 1
            | u8::from(key.is_some()) << 2
            | u8::from(seq) << 3,
    );
    b.extend(key.unwrap_or(0).to_be_bytes());
    b.extend(v.interface.as_bytes());
    b
}

fn decode_visitor(b: &[u8], now: Now) -> Option<Visitor> {
    if b.len() < VISITOR_FIXED {
        return None;
    }
    let ip = |at: usize| Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3]);
    let u16_at = |at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
    let u64_at = |at: usize| u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"));
    let left = Duration::from_millis(u64_at(18)).checked_sub(now.unix)?;
    let flags = b[34];
    let bit = |n: u8| flags & (1 << n) != 0;
    Some(Visitor {
        home_address: ip(0),
        home_agent: ip(4),
        mac: b[8..14].try_into().expect("6 bytes"),
        port: u16_at(14),
        lifetime: u16_at(16),
        registered: now.instant,
        expires: now.instant + left,
        identification: u64_at(26),
        encapsulation: if bit(1) {
            Encapsulation::Gre {
                key: bit(2).then(|| u32::from_be_bytes(b[35..39].try_into().expect("4"))),
                sequence: bit(3),
            }
        } else {
            Encapsulation::IpInIp
        },
        reverse_tunnel: bit(0),
        interface: std::str::from_utf8(&b[VISITOR_FIXED..]).ok()?.to_owned(),
    })
}

/// A stored station: MAC (the key), address 4 and last seen (Unix ms) 8.
fn decode_station(k: &[u8], v: &[u8], now: Now) -> Option<([u8; 6], Ipv4Addr, Duration)> {
    let mac = <[u8; 6]>::try_from(k).ok()?;
    let ip = <[u8; 4]>::try_from(v.get(..4)?).ok()?;
    let seen = u64::from_be_bytes(<[u8; 8]>::try_from(v.get(4..12)?).ok()?);
    Some((
        mac,
        Ipv4Addr::from(ip),
        now.unix.saturating_sub(Duration::from_millis(seen)),
    ))
}

impl StateStore {
    /// Opens (or creates) the database at `path`; one that cannot be
    /// opened is moved aside (`PATH.corrupt-UNIXTIME`) and replaced.
    pub fn open(path: &Path) -> Result<StateStore, OpenError> {
        let other =
            |p: &Path, e: &dyn std::fmt::Display| OpenError::Other(format!("{}: {e}", p.display()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| other(dir, &e))?;
        }
        // A database held by another process is not corrupt: a daemon
        // killed a moment ago may still be closing it (its threads exit
        // after it leaves the process list). Wait for it; if another
        // daemon really runs on this state, refuse to start rather than
        // take its file away.
        let mut waited = Duration::ZERO;
        let created = loop {
            match Database::create(path) {
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if waited < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(20));
                    waited += Duration::from_millis(20);
                }
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                    return Err(OpenError::InUse(path.to_owned()));
                }
                other => break other,
            }
        };
        let db = match created {
            Ok(db) => db,
            Err(e) => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                let mut aside = path.as_os_str().to_owned();
                aside.push(format!(".corrupt-{stamp}"));
                tracing::error!(
                    path = %path.display(),
                    moved_to = %PathBuf::from(&aside).display(),
                    error = %e,
                    "the state database cannot be read; moved aside, starting with no saved state"
                );
                std::fs::rename(path, &aside).map_err(|e| other(path, &e))?;
                Database::create(path).map_err(|e| other(path, &e))?
            }
        };
        Ok(StateStore {
            db,
            path: path.to_owned(),
            pending: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was kept: the bindings and visitors still alive at `now` (on
    /// this run's clock), the replay state and the kernel ledger.
    pub fn load(&self, now: Now) -> Result<Kept, String> {
        let e = |e: &dyn std::fmt::Display| format!("{}: {e}", self.path.display());
        let tx = self.db.begin_read().map_err(|x| e(&x))?;
        let mut kept = Kept::default();
        // A table a run never wrote is simply empty.
        macro_rules! rows {
            ($table:expr, |$k:ident, $v:ident| $body:expr) => {
                match tx.open_table($table) {
                    Ok(t) => {
                        for row in t.iter().map_err(|x| e(&x))? {
                            let ($k, $v) = row.map_err(|x| e(&x))?;
                            $body;
                        }
                    }
                    Err(redb::TableError::TableDoesNotExist(_)) => {}
                    Err(x) => return Err(e(&x)),
                }
            };
        }
        rows!(BINDINGS, |_k, v| kept
            .bindings
            .extend(decode(v.value(), now)));
        rows!(REPLAY, |k, v| kept
            .replay
            .push((Ipv4Addr::from(k.value()), v.value())));
        rows!(VISITORS, |_k, v| kept
            .visitors
            .extend(decode_visitor(v.value(), now)));
        rows!(LEDGER, |k, _v| kept
            .ledger
            .extend(Installed::decode(k.value())));
        rows!(STATIONS, |k, v| kept.stations.extend(decode_station(
            k.value(),
            v.value(),
            now
        )));
        Ok(kept)
    }

    /// A binding started or was renewed.
    pub fn binding_up(&mut self, b: &Binding, now: Now) {
        self.pending.push(Change::Put(
            key(b.home_address, b.care_of_address),
            encode(b, now),
        ));
        self.pending
            .push(Change::Replay(u32::from(b.home_address), b.identification));
    }

    /// A binding ended; `last_ident` is the home address's replay state
    /// now (a deregistration's identification is newer than the
    /// binding's).
    pub fn binding_down(&mut self, b: &Binding, last_ident: Option<u64>) {
        self.pending
            .push(Change::Delete(key(b.home_address, b.care_of_address)));
        self.pending.push(Change::Replay(
            u32::from(b.home_address),
            last_ident.unwrap_or(b.identification).max(b.identification),
        ));
    }

    /// A visitor was accepted or renewed.
    pub fn visitor_up(&mut self, v: &Visitor, now: Now) {
        self.pending.push(Change::VisitorPut(
            u32::from(v.home_address),
            encode_visitor(v, now),
        ));
    }

    /// A visitor ended.
    pub fn visitor_down(&mut self, v: &Visitor) {
        self.pending
            .push(Change::VisitorDelete(u32::from(v.home_address)));
    }

    /// An AP saw station `mac` use `address` now.
    pub fn station_known(&mut self, mac: [u8; 6], address: Ipv4Addr, now: Now) {
        let mut v = [0u8; 12];
        v[..4].copy_from_slice(&address.octets());
        v[4..].copy_from_slice(&(now.unix.as_millis() as u64).to_be_bytes());
        self.pending.push(Change::Station(mac, v));
    }

    /// Forgets the stations last seen more than `age` ago (an AP keeps
    /// them for an hour; the table stays bounded by what an hour brings).
    pub fn forget_stations_older_than(&mut self, age: Duration, now: Now) {
        let cutoff = now.unix.saturating_sub(age).as_millis() as u64;
        self.pending.push(Change::StationsBefore(cutoff));
    }

    /// A change of the kernel ledger ([`crate::netlink::Netlink::take_journal`]).
    pub fn ledger(&mut self, added: bool, item: &Installed) {
        self.pending.push(if added {
            Change::LedgerAdd(item.encode())
        } else {
            Change::LedgerRemove(item.encode())
        });
    }

    pub fn is_dirty(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Commits every change since the last commit in one durable
    /// transaction.
    pub fn commit(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let e = |x: &dyn std::fmt::Display| format!("{}: {x}", self.path.display());
        let tx = self.db.begin_write().map_err(|x| e(&x))?;
        {
            let mut bindings = tx.open_table(BINDINGS).map_err(|x| e(&x))?;
            let mut replay = tx.open_table(REPLAY).map_err(|x| e(&x))?;
            let mut visitors = tx.open_table(VISITORS).map_err(|x| e(&x))?;
            let mut ledger = tx.open_table(LEDGER).map_err(|x| e(&x))?;
            let mut stations = tx.open_table(STATIONS).map_err(|x| e(&x))?;
            for c in self.pending.drain(..) {
                match c {
                    Change::Put(k, v) => {
                        bindings.insert(k, v.as_slice()).map_err(|x| e(&x))?;
                    }
                    Change::Delete(k) => {
                        bindings.remove(k).map_err(|x| e(&x))?;
                    }
                    Change::VisitorPut(k, v) => {
                        visitors.insert(k, v.as_slice()).map_err(|x| e(&x))?;
                    }
                    Change::VisitorDelete(k) => {
                        visitors.remove(k).map_err(|x| e(&x))?;
                    }
                    Change::LedgerAdd(k) => {
                        ledger.insert(k.as_slice(), ()).map_err(|x| e(&x))?;
                    }
                    Change::StationsBefore(cutoff) => {
                        stations
                            .retain(|_, v| {
                                v.get(4..12)
                                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                                    .is_some_and(|b| u64::from_be_bytes(b) >= cutoff)
                            })
                            .map_err(|x| e(&x))?;
                    }
                    Change::Station(mac, v) => {
                        stations
                            .insert(mac.as_slice(), v.as_slice())
                            .map_err(|x| e(&x))?;
                    }
                    Change::LedgerRemove(k) => {
                        ledger.remove(k.as_slice()).map_err(|x| e(&x))?;
                    }
                    Change::Replay(home, ident) => {
                        let old = replay.get(home).map_err(|x| e(&x))?.map(|g| g.value());
                        if old.is_none_or(|o| ident > o) {
                            replay.insert(home, ident).map_err(|x| e(&x))?;
                        }
                    }
                }
            }
        }
        tx.commit().map_err(|x| e(&x))
    }
}

/// The instant a stored binding expires, for tests.
#[cfg(test)]
fn left(b: &Binding, now: Instant) -> Duration {
    b.expires.saturating_since(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(home: [u8; 4], coa: [u8; 4], gre: bool) -> Binding {
        Binding {
            home_address: Ipv4Addr::from(home),
            care_of_address: Ipv4Addr::from(coa),
            home_agent: Ipv4Addr::new(10, 1, 0, 1),
            source: SocketAddrV4::new(Ipv4Addr::from(coa), 434),
            lifetime: 600,
            registered: Instant::from_secs(10),
            expires: Instant::from_secs(610),
            identification: 0xeeb0_fac0_441f_0a1b,
            simultaneous: false,
            broadcast: false,
            decapsulation_by_mn: false,
            encapsulation: if gre {
                Encapsulation::Gre {
                    key: Some(7),
                    sequence: true,
                }
            } else {
                Encapsulation::IpInIp
            },
            reverse_tunnel: gre,
        }
    }

    fn dir(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("pmip-state-{}-{name}", std::process::id()))
    }

    #[test]
    fn bindings_and_replay_state_survive_a_reopen_on_a_new_clock() {
        let d = dir("reopen");
        let path = d.join("r1.state");
        let t0 = Now::new(Instant::from_secs(110), Duration::from_secs(1_800_000_000));
        {
            let mut s = StateStore::open(&path).unwrap();
            s.binding_up(&binding([10, 1, 0, 50], [10, 2, 0, 1], false), t0);
            s.binding_up(&binding([10, 1, 0, 51], [10, 3, 0, 1], true), t0);
            let gone = binding([10, 1, 0, 52], [10, 2, 0, 1], false);
            s.binding_up(&gone, t0);
            s.binding_down(&gone, Some(0xeeb0_fac0_ffff_0000));
            s.commit().unwrap();
        }
        // A restart 100 s later: a new monotonic clock.
        let t1 = Now::new(Instant::from_secs(3), Duration::from_secs(1_800_000_100));
        let s = StateStore::open(&path).unwrap();
        let Kept {
            mut bindings,
            mut replay,
            ..
        } = s.load(t1).unwrap();
        bindings.sort_by_key(|b| b.home_address);
        replay.sort();
        assert_eq!(bindings.len(), 2);
        // 500 s were left at t0; 100 s passed.
        assert_eq!(left(&bindings[0], t1.instant), Duration::from_secs(400));
        assert_eq!(
            bindings[1].encapsulation,
            Encapsulation::Gre {
                key: Some(7),
                sequence: true
            }
        );
        assert!(bindings[1].reverse_tunnel);
        assert_eq!(replay.len(), 3);
        assert_eq!(
            replay[2],
            (Ipv4Addr::new(10, 1, 0, 52), 0xeeb0_fac0_ffff_0000)
        );
        drop(s);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn visitors_and_the_kernel_ledger_survive_a_reopen() {
        let d = dir("visitors");
        let path = d.join("r2.state");
        let t0 = Now::new(Instant::from_secs(50), Duration::from_secs(1_800_000_000));
        let visitor = |last: u8, gre: bool| Visitor {
            home_address: Ipv4Addr::new(10, 1, 0, last),
            home_agent: Ipv4Addr::new(10, 1, 0, 1),
            mac: [2, 0, 0, 0, 0, last],
            interface: "FastEthernet0".into(),
            port: 434,
            lifetime: 600,
            registered: Instant::from_secs(50),
            expires: Instant::from_secs(650),
            identification: 42,
            encapsulation: if gre {
                Encapsulation::Gre {
                    key: Some(9),
                    sequence: false,
                }
            } else {
                Encapsulation::IpInIp
            },
            reverse_tunnel: gre,
        };
        let route = Installed::Route {
            dst: Ipv4Addr::new(10, 1, 0, 50),
            prefix_len: 32,
            gateway: None,
            oif: Some(4),
        };
        let rule = Installed::SourceRule {
            src: Ipv4Addr::new(10, 1, 0, 50),
            table: 4340,
        };
        {
            let mut s = StateStore::open(&path).unwrap();
            s.visitor_up(&visitor(50, true), t0);
            s.visitor_up(&visitor(51, false), t0);
            s.visitor_down(&visitor(51, false));
            s.ledger(true, &route);
            s.ledger(true, &rule);
            s.ledger(false, &route);
            s.station_known([2, 0, 0, 0, 0, 7], Ipv4Addr::new(10, 1, 0, 77), t0);
            let long_ago = Now::new(Instant::ZERO, Duration::from_secs(1_799_990_000));
            s.station_known([2, 0, 0, 0, 0, 8], Ipv4Addr::new(10, 1, 0, 78), long_ago);
            s.forget_stations_older_than(Duration::from_secs(3600), t0);
            s.commit().unwrap();
        }
        let t1 = Now::new(Instant::from_secs(1), Duration::from_secs(1_800_000_060));
        let s = StateStore::open(&path).unwrap();
        let kept = s.load(t1).unwrap();
        assert_eq!(kept.visitors.len(), 1);
        let v = &kept.visitors[0];
        assert_eq!(v.home_address, Ipv4Addr::new(10, 1, 0, 50));
        assert_eq!(v.interface, "FastEthernet0");
        assert_eq!(v.mac, [2, 0, 0, 0, 0, 50]);
        assert!(v.reverse_tunnel);
        assert_eq!(
            v.encapsulation,
            Encapsulation::Gre {
                key: Some(9),
                sequence: false
            }
        );
        assert_eq!(
            v.expires.saturating_since(t1.instant),
            Duration::from_secs(540)
        );
        assert_eq!(kept.ledger, vec![rule]);
        assert_eq!(
            kept.stations,
            vec![(
                [2, 0, 0, 0, 0, 7],
                Ipv4Addr::new(10, 1, 0, 77),
                Duration::from_secs(60)
            )],
            "the station, seen a minute before the restart"
        );
        // Past every expiry, nothing is resumed.
        let late = Now::new(Instant::from_secs(1), Duration::from_secs(1_800_001_000));
        assert!(s.load(late).unwrap().visitors.is_empty());
        drop(s);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_database_in_use_is_refused_not_moved_aside() {
        let d = dir("locked");
        let path = d.join("r1.state");
        let held = StateStore::open(&path).unwrap();
        let t = std::time::Instant::now();
        let e = StateStore::open(&path).err().expect("refused while held");
        assert!(matches!(e, OpenError::InUse(_)), "{e}");
        assert!(t.elapsed() >= LOCK_WAIT, "waited for the holder to go");
        drop(held);
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .filter_map(|e| e.ok())
            .collect();
        assert_eq!(names.len(), 1, "nothing moved aside");
        StateStore::open(&path).unwrap();
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_corrupt_database_is_moved_aside() {
        let d = dir("corrupt");
        std::fs::create_dir_all(&d).unwrap();
        let path = d.join("r1.state");
        std::fs::write(&path, b"this is not a redb database, just garbage bytes").unwrap();
        let s = StateStore::open(&path).unwrap();
        let now = Now::new(Instant::ZERO, Duration::from_secs(1_800_000_000));
        assert_eq!(s.load(now).unwrap().bindings.len(), 0, "starts empty");
        let aside: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
            .collect();
        assert_eq!(aside.len(), 1, "the bad file kept for inspection");
        drop(s);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
