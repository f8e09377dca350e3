//! The state a device keeps across restarts, clean or after kill -9: the
//! home agent's bindings (with the absolute time each expires) and its
//! replay state (the last accepted identification of each home address),
//! the foreign agent's visitors, and the ledger of what the device
//! installed in the kernel (so a run after a crash removes what is stale).
//!
//! It lives in a redb database: an embedded, pure-Rust store whose
//! commits are atomic and durable (copy-on-write pages, a checksummed
//! commit record, fsync), so a crash at any moment leaves the last
//! committed state and no C library is needed.
//!
//! In front of it is a write-ahead log (`PATH.wal.N` segments). Changes
//! are collected while the node's outputs are carried out and written to
//! the log in one `write` before the next datagram leaves: a reply is
//! never sent for a binding the log does not hold, and what the log holds
//! survives the daemon being killed (it is in the kernel's page cache).
//! A thread of the store's own makes it survive a power cut too: it
//! flushes the log to the disk within [`FLUSH_EVERY`] and folds each full
//! segment into the database in one durable transaction, then deletes it.
//! The registration path thus never waits for the disk (a flush costs
//! 2–4 ms on a virtual disk, twice per registration through a foreign
//! agent); `StateStore::set_flush_each_commit` makes every commit wait
//! for its flush instead. Opening replays the segments left by a run that
//! died before folding them. See docs/architecture.md.
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
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// The log is flushed to the disk at most this long after a write.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// A log segment is folded into the database once it holds this many
/// changes or is this old (and a commit comes).
const SEGMENT_CHANGES: usize = 8192;
const SEGMENT_AGE: Duration = Duration::from_secs(1);

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

#[derive(Debug, Clone, PartialEq, Eq)]
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
    db: Arc<Database>,
    path: PathBuf,
    pending: Vec<Change>,
    /// The log segment being written, made at the first commit.
    segment: Option<Segment>,
    /// Its generation next time one is made.
    next_generation: u64,
    flush_each_commit: bool,
    folder: Option<Folder>,
}

/// One log segment: its file and what it holds (to fold into the
/// database without reading it back).
struct Segment {
    path: PathBuf,
    file: Arc<std::fs::File>,
    changes: Vec<Change>,
    started: std::time::Instant,
}

/// The thread that flushes the log and folds segments into the database.
struct Folder {
    tx: mpsc::Sender<Fold>,
    /// The segment being written, for the periodic flush, and whether it
    /// holds writes not flushed yet.
    current: Arc<Mutex<Option<Arc<std::fs::File>>>>,
    dirty: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// A full segment to fold: its changes, then delete its file.
struct Fold {
    changes: Vec<Change>,
    segment: PathBuf,
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
        // redb trusts its pages once the header checks out: a damaged
        // page behind an intact header would stop the reader with a panic
        // at every start, so the whole file is checked first.
        let created = created.and_then(|mut db| {
            if !db.check_integrity()? {
                tracing::warn!(path = %path.display(), "the state database was damaged and has been repaired");
            }
            Ok(db)
        });
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
        let db = Arc::new(db);
        let next_generation = replay_log(&db, path).map_err(|e| other(path, &e))?;
        let folder = Folder::start(db.clone(), path.to_owned()).map_err(|e| other(path, &e))?;
        Ok(StateStore {
            db,
            path: path.to_owned(),
            pending: Vec::new(),
            segment: None,
            next_generation,
            flush_each_commit: false,
            folder: Some(folder),
        })
    }

    /// With `each`, every commit waits until its changes are on the disk
    /// (a power cut then loses nothing replied to, at a flush per
    /// commit); without, the log is flushed within [`FLUSH_EVERY`].
    pub fn set_flush_each_commit(&mut self, each: bool) {
        self.flush_each_commit = each;
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

    /// Writes every change since the last commit to the log, in one
    /// write (see the module documentation for when it reaches the disk).
    /// Where the log cannot be written, the changes go straight into the
    /// database in one durable transaction.
    pub fn commit(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let changes = std::mem::take(&mut self.pending);
        match self.log(&encode_frame(&changes)) {
            Ok(()) => {
                self.keep(changes);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "state log not written; committing to the database directly");
                apply(&self.db, &self.path, changes)
            }
        }
    }

    /// Appends one frame to the current segment, flushing it when asked
    /// to.
    fn log(&mut self, frame: &[u8]) -> std::io::Result<()> {
        if self.segment.is_none() {
            let path = segment_path(&self.path, self.next_generation);
            self.next_generation += 1;
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            let file = Arc::new(file);
            if let Some(f) = &self.folder {
                *f.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(file.clone());
            }
            self.segment = Some(Segment {
                path,
                file,
                changes: Vec::new(),
                started: std::time::Instant::now(),
            });
        }
        let Some(seg) = self.segment.as_mut() else {
            return Err(std::io::Error::other("no log segment"));
        };
        (&*seg.file).write_all(frame)?;
        if self.flush_each_commit {
            seg.file.sync_data()?;
        } else if let Some(f) = &self.folder {
            f.dirty.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Keeps the changes just logged with their segment, for the folder;
    /// hands the segment over when it is full or old.
    fn keep(&mut self, mut changes: Vec<Change>) {
        let Some(seg) = self.segment.as_mut() else {
            return;
        };
        if seg.changes.is_empty() {
            seg.changes = changes;
        } else {
            seg.changes.append(&mut changes);
        }
        if seg.changes.len() >= SEGMENT_CHANGES || seg.started.elapsed() >= SEGMENT_AGE {
            self.hand_over();
        }
    }

    /// Hands the current segment to the folder thread (or folds it here
    /// when there is none).
    fn hand_over(&mut self) {
        let Some(seg) = self.segment.take() else {
            return;
        };
        let fold = Fold {
            changes: seg.changes,
            segment: seg.path,
        };
        match &self.folder {
            Some(f) => {
                *f.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
                if let Err(mpsc::SendError(fold)) = f.tx.send(fold) {
                    fold_segment(&self.db, &self.path, fold);
                }
            }
            None => fold_segment(&self.db, &self.path, fold),
        }
    }
}

/// A clean stop folds everything into the database: no segment is left.
impl Drop for StateStore {
    fn drop(&mut self) {
        self.hand_over();
        if let Some(mut f) = self.folder.take() {
            let thread = f.thread.take();
            drop(f);
            if let Some(t) = thread {
                let _ = t.join();
            }
        }
    }
}

impl Folder {
    fn start(db: Arc<Database>, path: PathBuf) -> std::io::Result<Folder> {
        let (tx, rx) = mpsc::channel::<Fold>();
        let current: Arc<Mutex<Option<Arc<std::fs::File>>>> = Arc::default();
        let dirty = Arc::new(AtomicBool::new(false));
        let (c, d) = (current.clone(), dirty.clone());
        let thread = std::thread::Builder::new()
            .name("pmip-state".into())
            .spawn(move || {
                loop {
                    match rx.recv_timeout(FLUSH_EVERY) {
                        Ok(fold) => fold_segment(&db, &path, fold),
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                    if d.swap(false, Ordering::AcqRel) {
                        let file = c.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        if let Some(file) = file
                            && let Err(e) = file.sync_data()
                        {
                            tracing::warn!(path = %path.display(), error = %e, "state log not flushed");
                        }
                    }
                }
            })?;
        Ok(Folder {
            tx,
            current,
            dirty,
            thread: Some(thread),
        })
    }
}

/// `PATH.wal.N`.
fn segment_path(path: &Path, generation: u64) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(format!(".wal.{generation}"));
    PathBuf::from(p)
}

/// The log segments beside `path`, oldest first.
fn segments(path: &Path) -> Vec<(u64, PathBuf)> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{}.wal.", name.to_string_lossy());
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let g = n.strip_prefix(&prefix)?.parse().ok()?;
            Some((g, e.path()))
        })
        .collect();
    found.sort();
    found
}

/// Folds the segments a previous run left into the database (in order;
/// a torn last frame, from a crash mid-write, ends its segment) and
/// deletes them. Returns the generation to use next.
fn replay_log(db: &Database, path: &Path) -> Result<u64, String> {
    let found = segments(path);
    let next = found.last().map_or(0, |(g, _)| g + 1);
    if found.is_empty() {
        return Ok(next);
    }
    let mut changes = Vec::new();
    for (_, seg) in &found {
        let bytes = std::fs::read(seg).map_err(|e| format!("{}: {e}", seg.display()))?;
        let (mut got, torn) = decode_frames(&bytes);
        if torn {
            tracing::warn!(segment = %seg.display(), "state log ends in a torn write (the daemon died writing it); kept what precedes it");
        }
        changes.append(&mut got);
    }
    let n = changes.len();
    apply(db, path, changes)?;
    for (_, seg) in &found {
        let _ = std::fs::remove_file(seg);
    }
    tracing::info!(
        segments = found.len(),
        changes = n,
        "state log of the last run folded into the database"
    );
    Ok(next)
}

/// Folds one handed-over segment into the database, then deletes it. A
/// failure leaves the segment for the next start to replay.
fn fold_segment(db: &Database, path: &Path, fold: Fold) {
    match apply(db, path, fold.changes) {
        Ok(()) => {
            let _ = std::fs::remove_file(&fold.segment);
        }
        Err(e) => {
            tracing::error!(error = %e, segment = %fold.segment.display(), "state log not folded into the database; kept for the next start");
        }
    }
}

/// Applies `changes` in one durable transaction.
fn apply(db: &Database, path: &Path, changes: Vec<Change>) -> Result<(), String> {
    if changes.is_empty() {
        return Ok(());
    }
    let e = |x: &dyn std::fmt::Display| format!("{}: {x}", path.display());
    let tx = db.begin_write().map_err(|x| e(&x))?;
    {
        let mut bindings = tx.open_table(BINDINGS).map_err(|x| e(&x))?;
        let mut replay = tx.open_table(REPLAY).map_err(|x| e(&x))?;
        let mut visitors = tx.open_table(VISITORS).map_err(|x| e(&x))?;
        let mut ledger = tx.open_table(LEDGER).map_err(|x| e(&x))?;
        let mut stations = tx.open_table(STATIONS).map_err(|x| e(&x))?;
        for c in changes {
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

/// One log frame: length (4, big-endian), a CRC-32 of the payload (4),
/// the payload: the changes, each a tag and its fields.
fn encode_frame(changes: &[Change]) -> Vec<u8> {
    let mut p = Vec::with_capacity(changes.len() * 48);
    for c in changes {
        let bytes = |p: &mut Vec<u8>, b: &[u8]| {
            p.extend((b.len() as u16).to_be_bytes());
            p.extend(b);
        };
        match c {
            Change::Put(k, v) => {
                p.push(1);
                p.extend(k.to_be_bytes());
                bytes(&mut p, v);
            }
            Change::Delete(k) => {
                p.push(2);
                p.extend(k.to_be_bytes());
            }
            Change::Replay(h, i) => {
                p.push(3);
                p.extend(h.to_be_bytes());
                p.extend(i.to_be_bytes());
            }
            Change::VisitorPut(k, v) => {
                p.push(4);
                p.extend(k.to_be_bytes());
                bytes(&mut p, v);
            }
            Change::VisitorDelete(k) => {
                p.push(5);
                p.extend(k.to_be_bytes());
            }
            Change::LedgerAdd(v) => {
                p.push(6);
                bytes(&mut p, v);
            }
            Change::LedgerRemove(v) => {
                p.push(7);
                bytes(&mut p, v);
            }
            Change::Station(mac, v) => {
                p.push(8);
                p.extend(mac);
                p.extend(v);
            }
            Change::StationsBefore(t) => {
                p.push(9);
                p.extend(t.to_be_bytes());
            }
        }
    }
    let mut frame = Vec::with_capacity(8 + p.len());
    frame.extend((p.len() as u32).to_be_bytes());
    frame.extend(crc32fast::hash(&p).to_be_bytes());
    frame.extend(p);
    frame
}

/// The changes of every whole frame, and whether the bytes end in a
/// torn or damaged one (what follows it is not read).
fn decode_frames(mut b: &[u8]) -> (Vec<Change>, bool) {
    let mut out = Vec::new();
    while !b.is_empty() {
        let Some(head) = b.get(..8) else {
            return (out, true);
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let Some(p) = b.get(8..8 + len) else {
            return (out, true);
        };
        if crc32fast::hash(p) != crc {
            return (out, true);
        }
        match decode_changes(p) {
            Some(mut c) => out.append(&mut c),
            None => return (out, true),
        }
        b = &b[8 + len..];
    }
    (out, false)
}

fn decode_changes(mut p: &[u8]) -> Option<Vec<Change>> {
    fn take<'a>(p: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (a, rest) = (p.get(..n)?, p.get(n..)?);
        *p = rest;
        Some(a)
    }
    fn u64_of(p: &mut &[u8]) -> Option<u64> {
        Some(u64::from_be_bytes(take(p, 8)?.try_into().ok()?))
    }
    fn u32_of(p: &mut &[u8]) -> Option<u32> {
        Some(u32::from_be_bytes(take(p, 4)?.try_into().ok()?))
    }
    fn bytes_of(p: &mut &[u8]) -> Option<Vec<u8>> {
        let n = u16::from_be_bytes(take(p, 2)?.try_into().ok()?) as usize;
        Some(take(p, n)?.to_vec())
    }
    let mut out = Vec::new();
    while let Some((&tag, rest)) = p.split_first() {
        p = rest;
        out.push(match tag {
            1 => Change::Put(u64_of(&mut p)?, bytes_of(&mut p)?),
            2 => Change::Delete(u64_of(&mut p)?),
            3 => Change::Replay(u32_of(&mut p)?, u64_of(&mut p)?),
            4 => Change::VisitorPut(u32_of(&mut p)?, bytes_of(&mut p)?),
            5 => Change::VisitorDelete(u32_of(&mut p)?),
            6 => Change::LedgerAdd(bytes_of(&mut p)?),
            7 => Change::LedgerRemove(bytes_of(&mut p)?),
            8 => Change::Station(
                take(&mut p, 6)?.try_into().ok()?,
                take(&mut p, 12)?.try_into().ok()?,
            ),
            9 => Change::StationsBefore(u64_of(&mut p)?),
            _ => return None,
        });
    }
    Some(out)
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
    fn the_log_a_killed_run_left_is_replayed_up_to_a_torn_write() {
        let d = dir("log");
        let path = d.join("r1.state");
        let t0 = Now::new(Instant::from_secs(110), Duration::from_secs(1_800_000_000));
        let kept = binding([10, 1, 0, 50], [10, 2, 0, 1], false);
        let gone = binding([10, 1, 0, 51], [10, 2, 0, 1], true);
        {
            let mut s = StateStore::open(&path).unwrap();
            s.binding_up(&gone, t0);
            s.commit().unwrap();
        }
        // What a run killed mid-write leaves: two segments, the second
        // ending in half a frame.
        let mut first = Vec::new();
        first.extend(encode_frame(&[Change::Put(
            key(kept.home_address, kept.care_of_address),
            encode(&kept, t0),
        )]));
        first.extend(encode_frame(&[
            Change::Delete(key(gone.home_address, gone.care_of_address)),
            Change::Replay(u32::from(gone.home_address), 0xffff_ffff_0000_0000),
            Change::Station(
                [2, 0, 0, 0, 0, 1],
                [10, 1, 0, 50, 0, 0, 1, 0x9a, 0, 0, 0, 0],
            ),
        ]));
        std::fs::write(segment_path(&path, 7), &first).unwrap();
        let torn = encode_frame(&[Change::Delete(key(kept.home_address, kept.care_of_address))]);
        std::fs::write(segment_path(&path, 8), &torn[..torn.len() - 3]).unwrap();

        let mut s = StateStore::open(&path).unwrap();
        assert!(segments(&path).is_empty(), "folded into the database");
        assert_eq!(s.next_generation, 9);
        let k = s.load(t0).unwrap();
        assert_eq!(
            k.bindings
                .iter()
                .map(|b| b.home_address)
                .collect::<Vec<_>>(),
            [kept.home_address],
            "the whole frames, not the torn one"
        );
        assert!(
            k.replay
                .contains(&(gone.home_address, 0xffff_ffff_0000_0000))
        );
        assert_eq!(k.stations.len(), 1);

        // A commit is in the log (a segment) at once, and in the database
        // once the store is closed.
        s.binding_down(&kept, None);
        s.commit().unwrap();
        assert_eq!(segments(&path).len(), 1);
        drop(s);
        assert!(segments(&path).is_empty(), "a clean stop folds the log");
        let s = StateStore::open(&path).unwrap();
        assert!(s.load(t0).unwrap().bindings.is_empty());
        drop(s);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn every_change_survives_the_log_encoding() {
        let changes = vec![
            Change::Put(1 << 40 | 7, vec![1, 2, 3]),
            Change::Delete(9),
            Change::Replay(0x0a01_0032, u64::MAX),
            Change::VisitorPut(3, b"FastEthernet0".to_vec()),
            Change::VisitorDelete(3),
            Change::LedgerAdd(vec![0; 40]),
            Change::LedgerRemove(vec![]),
            Change::Station([1, 2, 3, 4, 5, 6], [7; 12]),
            Change::StationsBefore(1_800_000_000_000),
        ];
        let mut log = encode_frame(&changes);
        log.extend(encode_frame(&changes[..2]));
        let (back, torn) = decode_frames(&log);
        assert!(!torn);
        assert_eq!(back.len(), changes.len() + 2);
        assert_eq!(back[..changes.len()], changes[..]);
        // A flipped bit ends the log there.
        log[12] ^= 1;
        assert_eq!(decode_frames(&log), (Vec::new(), true));
        // Garbage of every length: never a panic.
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 + 5) as u8).collect();
            let _ = decode_frames(&junk);
            let _ = decode_changes(&junk);
        }
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
