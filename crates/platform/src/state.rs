//! The state a device keeps across restarts, clean or after kill -9: the
//! home agent's bindings (with the absolute time each expires) and its
//! replay state (the last accepted identification of each home address).
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

use pmip_engine::binding::Binding;
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

/// What a restart resumes: the bindings still alive and the last
/// accepted identification per home address.
pub type Kept = (Vec<Binding>, Vec<(Ipv4Addr, u64)>);

enum Change {
    Put(u64, Vec<u8>),
    Delete(u64),
    Replay(u32, u64),
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

impl StateStore {
    /// Opens (or creates) the database at `path`; one that cannot be
    /// opened is moved aside (`PATH.corrupt-UNIXTIME`) and replaced.
    pub fn open(path: &Path) -> Result<StateStore, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let db = match Database::create(path) {
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
                std::fs::rename(path, &aside).map_err(|e| format!("{}: {e}", path.display()))?;
                Database::create(path).map_err(|e| format!("{}: {e}", path.display()))?
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

    /// What was kept: the bindings still alive at `now` (on this run's
    /// clock) and the replay state.
    pub fn load(&self, now: Now) -> Result<Kept, String> {
        let e = |e: &dyn std::fmt::Display| format!("{}: {e}", self.path.display());
        let tx = self.db.begin_read().map_err(|x| e(&x))?;
        let mut bindings = Vec::new();
        match tx.open_table(BINDINGS) {
            Ok(t) => {
                for row in t.iter().map_err(|x| e(&x))? {
                    let (_, v) = row.map_err(|x| e(&x))?;
                    bindings.extend(decode(v.value(), now));
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(x) => return Err(e(&x)),
        }
        let mut replay = Vec::new();
        match tx.open_table(REPLAY) {
            Ok(t) => {
                for row in t.iter().map_err(|x| e(&x))? {
                    let (k, v) = row.map_err(|x| e(&x))?;
                    replay.push((Ipv4Addr::from(k.value()), v.value()));
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(x) => return Err(e(&x)),
        }
        Ok((bindings, replay))
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
            for c in self.pending.drain(..) {
                match c {
                    Change::Put(k, v) => {
                        bindings.insert(k, v.as_slice()).map_err(|x| e(&x))?;
                    }
                    Change::Delete(k) => {
                        bindings.remove(k).map_err(|x| e(&x))?;
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
        let (mut bindings, mut replay) = s.load(t1).unwrap();
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
    fn a_corrupt_database_is_moved_aside() {
        let d = dir("corrupt");
        std::fs::create_dir_all(&d).unwrap();
        let path = d.join("r1.state");
        std::fs::write(&path, b"this is not a redb database, just garbage bytes").unwrap();
        let s = StateStore::open(&path).unwrap();
        let now = Now::new(Instant::ZERO, Duration::from_secs(1_800_000_000));
        assert_eq!(s.load(now).unwrap().0.len(), 0, "starts empty");
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
