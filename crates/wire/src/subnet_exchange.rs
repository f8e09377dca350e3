//! The subnet map exchange between access points and authoritative
//! access points (AAPs), which keeps every AP's subnet map (home agents
//! and the subnets they serve) the same.
//!
//! The original protocol was never published; this one is ours and
//! `docs/subnet-map-exchange.md` is its specification. In short: UDP port
//! [`PORT`], a 28-byte header, a body of subnet map entries (or a table
//! digest), and an HMAC-SHA256 trailer keyed with the shared key every AP
//! is configured with. A datagram never exceeds [`MAX_DATAGRAM`] bytes; a
//! table that does not fit is carried in chunks ([`split_entries`]) that
//! the receiver reassembles ([`union_pieces`]). Unlike the per-packet
//! formats, [`Repr`] holds `Vec`s: this is control traffic between APs,
//! not the forwarding path.
//!
//! A Stations message (type 7) carries the campus station table instead:
//! [`Station`] entries (a station's MAC and address, the AP that last saw
//! it and how long ago), soft state that is never chunked or acknowledged.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |    Version    |     Type      |             Flags             |
//! |                        Sender address                         |
//! |                          Boot epoch                           |
//! |                           Sequence                            |
//! |                           Reference                           |
//! |          Chunk index          |          Chunk count          |
//! |          Entry count          |           Reserved            |
//! |              Body (entries, stations or digest) ...           |
//! |                   HMAC-SHA256 (32 bytes) ...                  |
//! ```

use crate::error::{Error, Result, need};
use crate::ipv4::{addr, be16};
use core::net::Ipv4Addr;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

/// The UDP port of the exchange (both ends).
pub const PORT: u16 = 4341;
/// The only version this module speaks.
pub const VERSION: u8 = 1;
pub const HEADER_LEN: usize = field::RESERVED.end;

mod field {
    use core::ops::Range;

    pub const VERSION: usize = 0;
    pub const TYPE: usize = 1;
    pub const FLAGS: Range<usize> = 2..4;
    pub const SENDER: Range<usize> = 4..8;
    pub const EPOCH: Range<usize> = 8..12;
    pub const SEQUENCE: Range<usize> = 12..16;
    pub const REFERENCE: Range<usize> = 16..20;
    pub const CHUNK_INDEX: Range<usize> = 20..22;
    pub const CHUNK_COUNT: Range<usize> = 22..24;
    pub const ENTRY_COUNT: Range<usize> = 24..26;
    pub const RESERVED: Range<usize> = 26..28;

    /// Within an entry of the body.
    pub const ENTRY_HOME_AGENT: Range<usize> = 0..4;
    pub const ENTRY_PREFIX_LEN: usize = 4;
    pub const ENTRY_FLAGS: usize = 5;
    pub const ENTRY_AP_COUNT: Range<usize> = 6..8;
    pub const ENTRY_VERSION: Range<usize> = 8..12;

    /// Within a Digest body.
    pub const DIGEST: Range<usize> = 0..32;
    pub const DIGEST_ENTRIES: Range<usize> = 32..36;

    /// Within a station entry of a Stations body.
    pub const STATION_MAC: Range<usize> = 0..6;
    pub const STATION_RESERVED: Range<usize> = 6..8;
    pub const STATION_ADDRESS: Range<usize> = 8..12;
    pub const STATION_AP: Range<usize> = 12..16;
    pub const STATION_AGE: Range<usize> = 16..20;
}
/// HMAC-SHA256 trailer.
pub const MAC_LEN: usize = 32;
/// No datagram (UDP payload) is larger, so it fits any path MTU we meet
/// with IPv4 and UDP headers and an outer tunnel header.
pub const MAX_DATAGRAM: usize = 1400;
/// Room for entries (or a digest) in one datagram.
pub const MAX_BODY: usize = MAX_DATAGRAM - HEADER_LEN - MAC_LEN;
/// Fixed part of an entry, before its AP addresses.
pub const ENTRY_LEN: usize = field::ENTRY_VERSION.end;
/// The most AP addresses one entry can carry in one datagram; a larger
/// set is carried as several pieces of the entry in several chunks.
pub const MAX_APS_PER_ENTRY: usize = (MAX_BODY - ENTRY_LEN) / 4;
/// The most subnets one Join can announce (a Join is never chunked).
pub const MAX_JOIN_ENTRIES: usize = MAX_BODY / ENTRY_LEN;
/// Body of a Digest: SHA-256 and the number of live entries.
pub const DIGEST_BODY_LEN: usize = field::DIGEST_ENTRIES.end;
/// One station entry of a Stations body.
pub const STATION_LEN: usize = field::STATION_AGE.end;
/// The most station entries one Stations message carries (67).
pub const MAX_STATIONS_PER_MESSAGE: usize = MAX_BODY / STATION_LEN;

/// The one header flag (on a Join): send me the whole table.
pub const FLAG_FULL_TABLE: u16 = 0x0001;
/// Entry flag: the entry is deleted (a tombstone).
pub const ENTRY_DELETED: u8 = 0x01;

/// Message types.
pub mod kind {
    pub const JOIN: u8 = 1;
    pub const TABLE: u8 = 2;
    pub const UPDATE: u8 = 3;
    pub const ACK: u8 = 4;
    pub const DIGEST: u8 = 5;
    pub const SYNC_REQUEST: u8 = 6;
    pub const STATIONS: u8 = 7;
}

const WHAT: &str = "subnet exchange";

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Zero-copy view of a datagram. Accessors never panic once
/// [`Packet::new_checked`] has accepted the buffer.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet { buffer };
        p.check_len()?;
        Ok(p)
    }
    /// Room for the header and the trailer, and no more than
    /// [`MAX_DATAGRAM`].
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        need(WHAT, b, HEADER_LEN + MAC_LEN)?;
        if b.len() > MAX_DATAGRAM {
            return Err(Error::BadLength {
                what: WHAT,
                len: b.len(),
            });
        }
        Ok(())
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    pub fn flags(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::FLAGS])
    }
    pub fn sender(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::SENDER])
    }
    pub fn epoch(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::EPOCH])
    }
    pub fn sequence(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::SEQUENCE])
    }
    /// Per type: the acknowledged sequence (Ack), the request answered
    /// (Table), the sequence of chunk 0 (Update); zero otherwise.
    pub fn reference(&self) -> u32 {
        be32(&self.buffer.as_ref()[field::REFERENCE])
    }
    pub fn chunk_index(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHUNK_INDEX])
    }
    pub fn chunk_count(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHUNK_COUNT])
    }
    pub fn entry_count(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::ENTRY_COUNT])
    }
    pub fn reserved(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::RESERVED])
    }
    /// Between header and trailer.
    pub fn body(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[HEADER_LEN..b.len() - MAC_LEN]
    }
    /// Every byte the HMAC covers.
    pub fn covered(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[..b.len() - MAC_LEN]
    }
    pub fn mac(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[b.len() - MAC_LEN..]
    }
    /// Constant-time check of the trailer under `key`.
    pub fn verify(&self, key: &[u8]) -> bool {
        let mut m = hmac_with(key);
        m.update(self.covered());
        m.verify_slice(self.mac()).is_ok()
    }
    /// The entries of the body, each parsed as it is reached.
    pub fn entries(&self) -> EntryIter<'_> {
        EntryIter {
            body: self.body(),
            left: self.entry_count(),
        }
    }
    /// The station entries of a Stations body, each parsed as it is
    /// reached.
    pub fn stations(&self) -> StationIter<'_> {
        StationIter {
            body: self.body(),
            left: self.entry_count(),
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_version(&mut self, v: u8) {
        self.buffer.as_mut()[field::VERSION] = v;
    }
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }
    pub fn set_flags(&mut self, v: u16) {
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_sender(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SENDER].copy_from_slice(&a.octets());
    }
    pub fn set_epoch(&mut self, v: u32) {
        self.buffer.as_mut()[field::EPOCH].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_sequence(&mut self, v: u32) {
        self.buffer.as_mut()[field::SEQUENCE].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_reference(&mut self, v: u32) {
        self.buffer.as_mut()[field::REFERENCE].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_chunk_index(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHUNK_INDEX].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_chunk_count(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHUNK_COUNT].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_entry_count(&mut self, v: u16) {
        self.buffer.as_mut()[field::ENTRY_COUNT].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_reserved(&mut self, v: u16) {
        self.buffer.as_mut()[field::RESERVED].copy_from_slice(&v.to_be_bytes());
    }
    /// Between header and trailer.
    pub fn body_mut(&mut self) -> &mut [u8] {
        let b = self.buffer.as_mut();
        let end = b.len() - MAC_LEN;
        &mut b[HEADER_LEN..end]
    }
    /// Computes the HMAC-SHA256 trailer under `key` over everything
    /// before it.
    pub fn fill_mac(&mut self, key: &[u8]) {
        let m = mac(key, self.covered());
        let b = self.buffer.as_mut();
        let at = b.len() - MAC_LEN;
        b[at..].copy_from_slice(&m);
    }
}

fn hmac_with(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length (RFC 2104 section 3): longer ones are
    // hashed, shorter ones padded, so this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length")
}

/// HMAC-SHA256 of `covered` under `key`.
pub fn mac(key: &[u8], covered: &[u8]) -> [u8; MAC_LEN] {
    let mut m = hmac_with(key);
    m.update(covered);
    m.finalize().into_bytes().into()
}

/// Whether `datagram` is long enough and its trailer verifies under `key`
/// (constant time). Nothing else of the datagram is looked at.
pub fn verify(key: &[u8], datagram: &[u8]) -> bool {
    Packet::new_checked(datagram).is_ok_and(|p| p.verify(key))
}

/// A subnet a Join announces: a home agent and the prefix length of the
/// subnet it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subnet {
    pub home_agent: Ipv4Addr,
    pub prefix_len: u8,
}

/// One subnet map entry as carried in Table and Update bodies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    pub home_agent: Ipv4Addr,
    pub prefix_len: u8,
    /// A tombstone: the entry was deleted at `version`.
    pub deleted: bool,
    /// Change counter of the entry, compared to merge tables.
    pub version: u32,
    /// The APs behind this home agent (only between AAPs; empty towards
    /// plain APs).
    pub aps: Vec<Ipv4Addr>,
}

impl Entry {
    pub fn buffer_len(&self) -> usize {
        ENTRY_LEN + 4 * self.aps.len()
    }

    /// Writes the entry at the start of `buf` (at least `buffer_len()`).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::ENTRY_HOME_AGENT].copy_from_slice(&self.home_agent.octets());
        buf[field::ENTRY_PREFIX_LEN] = self.prefix_len;
        buf[field::ENTRY_FLAGS] = if self.deleted { ENTRY_DELETED } else { 0 };
        buf[field::ENTRY_AP_COUNT].copy_from_slice(&(self.aps.len() as u16).to_be_bytes());
        buf[field::ENTRY_VERSION].copy_from_slice(&self.version.to_be_bytes());
        for (i, ap) in self.aps.iter().enumerate() {
            buf[ENTRY_LEN + 4 * i..ENTRY_LEN + 4 * i + 4].copy_from_slice(&ap.octets());
        }
    }

    /// Parses one entry at the start of `buf`; returns it and its length.
    pub fn parse(buf: &[u8]) -> Result<(Entry, usize)> {
        need("subnet exchange entry", buf, ENTRY_LEN)?;
        let prefix_len = buf[field::ENTRY_PREFIX_LEN];
        if prefix_len > 32 {
            return Err(Error::Malformed {
                what: "subnet exchange entry",
                reason: "prefix length above 32",
            });
        }
        let flags = buf[field::ENTRY_FLAGS];
        if flags & !ENTRY_DELETED != 0 {
            return Err(Error::Malformed {
                what: "subnet exchange entry",
                reason: "reserved entry flag set",
            });
        }
        let count = usize::from(be16(&buf[field::ENTRY_AP_COUNT]));
        let len = ENTRY_LEN + 4 * count;
        need("subnet exchange entry", buf, len)?;
        let aps = buf[ENTRY_LEN..len].chunks_exact(4).map(addr).collect();
        Ok((
            Entry {
                home_agent: addr(&buf[field::ENTRY_HOME_AGENT]),
                prefix_len,
                deleted: flags & ENTRY_DELETED != 0,
                version: be32(&buf[field::ENTRY_VERSION]),
                aps,
            },
            len,
        ))
    }
}

/// Parses the `left` entries of a body one at a time.
#[derive(Debug, Clone)]
pub struct EntryIter<'a> {
    body: &'a [u8],
    left: u16,
}

impl Iterator for EntryIter<'_> {
    type Item = Result<Entry>;
    fn next(&mut self) -> Option<Result<Entry>> {
        if self.left == 0 {
            return None;
        }
        match Entry::parse(self.body) {
            Ok((e, len)) => {
                self.left -= 1;
                self.body = &self.body[len..];
                Some(Ok(e))
            }
            Err(e) => {
                // Stop after the first error: what follows is unframed.
                self.left = 0;
                Some(Err(e))
            }
        }
    }
}

/// One entry of a Stations body: a station, its IPv4 address, the AP
/// that last saw it on its own link, and how long ago.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// |                      Station MAC Address                      |
/// |          (48 bits)            |           Reserved            |
/// |                    Station IPv4 Address                       |
/// |                          AP Address                           |
/// |                          Age (seconds)                        |
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Station {
    pub mac: [u8; 6],
    pub address: Ipv4Addr,
    /// The AP that last saw the station on its own link.
    pub ap: Ipv4Addr,
    /// Whole seconds since that AP last saw it, when this was sent.
    pub age: u32,
}

/// A host's own unicast address: not 0.0.0.0, the broadcast or a group.
fn unicast(a: Ipv4Addr) -> bool {
    !a.is_unspecified() && !a.is_broadcast() && !a.is_multicast()
}

impl Station {
    /// Writes the entry at the start of `buf` (at least [`STATION_LEN`]).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::STATION_MAC].copy_from_slice(&self.mac);
        buf[field::STATION_RESERVED].copy_from_slice(&[0, 0]);
        buf[field::STATION_ADDRESS].copy_from_slice(&self.address.octets());
        buf[field::STATION_AP].copy_from_slice(&self.ap.octets());
        buf[field::STATION_AGE].copy_from_slice(&self.age.to_be_bytes());
    }

    /// Whether the entry names a station at all: a station's MAC is an
    /// individual, non-zero address (IEEE 802 group bit clear) and both
    /// addresses are a host's (docs/subnet-map-exchange.md, 4.2).
    pub fn check(&self) -> Result<()> {
        if self.mac[0] & 1 != 0 || self.mac == [0; 6] {
            return Err(Error::Malformed {
                what: "subnet exchange station entry",
                reason: "a group or zero MAC address",
            });
        }
        if !unicast(self.address) || !unicast(self.ap) {
            return Err(Error::Malformed {
                what: "subnet exchange station entry",
                reason: "an address that is not a host's",
            });
        }
        Ok(())
    }

    /// Parses the entry at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Station> {
        need("subnet exchange station entry", buf, STATION_LEN)?;
        if buf[field::STATION_RESERVED] != [0, 0] {
            return Err(Error::Malformed {
                what: "subnet exchange station entry",
                reason: "reserved field not zero",
            });
        }
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&buf[field::STATION_MAC]);
        let s = Station {
            mac,
            address: addr(&buf[field::STATION_ADDRESS]),
            ap: addr(&buf[field::STATION_AP]),
            age: be32(&buf[field::STATION_AGE]),
        };
        s.check()?;
        Ok(s)
    }
}

/// Parses the `left` station entries of a Stations body one at a time.
#[derive(Debug, Clone)]
pub struct StationIter<'a> {
    body: &'a [u8],
    left: u16,
}

impl Iterator for StationIter<'_> {
    type Item = Result<Station>;
    fn next(&mut self) -> Option<Result<Station>> {
        if self.left == 0 {
            return None;
        }
        match Station::parse(self.body) {
            Ok(s) => {
                self.left -= 1;
                self.body = &self.body[STATION_LEN..];
                Some(Ok(s))
            }
            Err(e) => {
                self.left = 0;
                Some(Err(e))
            }
        }
    }
}

/// Position of a chunk in a chunked message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chunk {
    pub index: u16,
    pub count: u16,
}

impl Chunk {
    /// The one chunk of an unchunked message.
    pub const ONLY: Chunk = Chunk { index: 0, count: 1 };
}

/// The message types and what each carries besides the common header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// An AP announces itself and the subnets it sits behind; the AAP
    /// answers with a Table if `full_table` (or if it does not know the
    /// AP yet), with an Ack otherwise. Also the periodic keepalive.
    Join {
        full_table: bool,
        subnets: Vec<Subnet>,
    },
    /// A chunk of the whole table, answering the Join or SyncRequest whose
    /// sequence is `request`.
    Table {
        request: u32,
        chunk: Chunk,
        entries: Vec<Entry>,
    },
    /// A chunk of pushed changes; `group` is the sequence of chunk 0.
    Update {
        group: u32,
        chunk: Chunk,
        entries: Vec<Entry>,
    },
    /// Acknowledges the Table or Update chunk (or the keepalive Join)
    /// whose sequence is `acknowledged`.
    Ack { acknowledged: u32 },
    /// Between AAPs: SHA-256 of the canonical table ([`table_digest`]) and
    /// the number of live entries in it.
    Digest { digest: [u8; 32], entries: u32 },
    /// Asks for the whole table (between AAPs).
    SyncRequest,
    /// Entries of the campus station table: from an AP, the stations it
    /// saw itself; from an AAP, what it distributes. Soft state: never
    /// chunked nor acknowledged, at most [`MAX_STATIONS_PER_MESSAGE`].
    Stations { stations: Vec<Station> },
}

impl Message {
    pub fn kind(&self) -> u8 {
        match self {
            Message::Join { .. } => kind::JOIN,
            Message::Table { .. } => kind::TABLE,
            Message::Update { .. } => kind::UPDATE,
            Message::Ack { .. } => kind::ACK,
            Message::Digest { .. } => kind::DIGEST,
            Message::SyncRequest => kind::SYNC_REQUEST,
            Message::Stations { .. } => kind::STATIONS,
        }
    }
}

/// A whole datagram: the common header fields and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    /// The sender's own address (must be the datagram's source address).
    pub sender: Ipv4Addr,
    /// The sender's start time, Unix seconds: a restarted sender's
    /// sequence numbers count again from 1 in a newer epoch.
    pub epoch: u32,
    /// Counted per destination from 1; never 0.
    pub sequence: u32,
    pub message: Message,
}

fn malformed(reason: &'static str) -> Error {
    Error::Malformed { what: WHAT, reason }
}

impl Repr {
    /// Checks the trailer under `key` first, and only then parses: nothing
    /// unauthenticated is interpreted. A bad trailer is
    /// `Error::BadChecksum`.
    pub fn parse_authenticated(datagram: &[u8], key: &[u8]) -> Result<Repr> {
        let p = Packet::new_checked(datagram)?;
        if !p.verify(key) {
            return Err(Error::BadChecksum {
                what: "subnet exchange HMAC-SHA256",
            });
        }
        Repr::parse(datagram)
    }

    /// Parses the structure without looking at the trailer (for tools and
    /// tests; receivers use [`Repr::parse_authenticated`]).
    pub fn parse(datagram: &[u8]) -> Result<Repr> {
        let p = Packet::new_checked(datagram)?;
        if p.version() != VERSION {
            return Err(Error::Unsupported {
                what: "subnet exchange version",
                value: p.version().into(),
            });
        }
        let t = p.msg_type();
        if !(kind::JOIN..=kind::STATIONS).contains(&t) {
            return Err(Error::Unsupported {
                what: "subnet exchange message type",
                value: t.into(),
            });
        }
        if p.reserved() != 0 {
            return Err(malformed("reserved field not zero"));
        }
        let flags = p.flags();
        let allowed = if t == kind::JOIN { FLAG_FULL_TABLE } else { 0 };
        if flags & !allowed != 0 {
            return Err(malformed("undefined flag set"));
        }
        if p.sequence() == 0 {
            return Err(malformed("sequence 0"));
        }
        let chunk = Chunk {
            index: p.chunk_index(),
            count: p.chunk_count(),
        };
        let chunked = t == kind::TABLE || t == kind::UPDATE;
        if chunked {
            if chunk.count == 0 || chunk.index >= chunk.count {
                return Err(malformed("chunk index outside chunk count"));
            }
        } else if chunk != Chunk::ONLY {
            return Err(malformed("unchunked message with chunk fields"));
        }
        let reference = p.reference();
        let referencing = matches!(t, kind::TABLE | kind::UPDATE | kind::ACK);
        if referencing == (reference == 0) {
            return Err(malformed("reference field"));
        }
        let body = p.body();
        let message = match t {
            kind::JOIN | kind::TABLE | kind::UPDATE => {
                let mut entries = Vec::with_capacity(usize::from(p.entry_count()));
                let mut used = 0;
                for e in p.entries() {
                    let e = e?;
                    used += e.buffer_len();
                    entries.push(e);
                }
                if used != body.len() {
                    return Err(Error::BadLength {
                        what: "subnet exchange body",
                        len: body.len(),
                    });
                }
                match t {
                    kind::JOIN => {
                        if entries
                            .iter()
                            .any(|e| e.deleted || e.version != 0 || !e.aps.is_empty())
                        {
                            return Err(malformed("Join entry with flags, version or APs"));
                        }
                        Message::Join {
                            full_table: flags & FLAG_FULL_TABLE != 0,
                            subnets: entries
                                .iter()
                                .map(|e| Subnet {
                                    home_agent: e.home_agent,
                                    prefix_len: e.prefix_len,
                                })
                                .collect(),
                        }
                    }
                    kind::TABLE => Message::Table {
                        request: reference,
                        chunk,
                        entries,
                    },
                    _ => Message::Update {
                        group: reference,
                        chunk,
                        entries,
                    },
                }
            }
            kind::DIGEST => {
                if p.entry_count() != 0 || body.len() != DIGEST_BODY_LEN {
                    return Err(Error::BadLength {
                        what: "subnet exchange Digest",
                        len: body.len(),
                    });
                }
                let mut digest = [0u8; 32];
                digest.copy_from_slice(&body[field::DIGEST]);
                Message::Digest {
                    digest,
                    entries: be32(&body[field::DIGEST_ENTRIES]),
                }
            }
            kind::STATIONS => {
                if usize::from(p.entry_count()) * STATION_LEN != body.len() {
                    return Err(Error::BadLength {
                        what: "subnet exchange Stations body",
                        len: body.len(),
                    });
                }
                Message::Stations {
                    stations: p.stations().collect::<Result<Vec<Station>>>()?,
                }
            }
            _ => {
                if p.entry_count() != 0 || !body.is_empty() {
                    return Err(Error::BadLength {
                        what: "subnet exchange body",
                        len: body.len(),
                    });
                }
                if t == kind::ACK {
                    Message::Ack {
                        acknowledged: reference,
                    }
                } else {
                    Message::SyncRequest
                }
            }
        };
        Ok(Repr {
            sender: p.sender(),
            epoch: p.epoch(),
            sequence: p.sequence(),
            message,
        })
    }

    fn body_len(&self) -> usize {
        match &self.message {
            Message::Join { subnets, .. } => ENTRY_LEN * subnets.len(),
            Message::Table { entries, .. } | Message::Update { entries, .. } => {
                entries.iter().map(Entry::buffer_len).sum()
            }
            Message::Digest { .. } => DIGEST_BODY_LEN,
            Message::Ack { .. } | Message::SyncRequest => 0,
            Message::Stations { stations } => STATION_LEN * stations.len(),
        }
    }

    /// Length of the whole datagram, trailer included.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body_len() + MAC_LEN
    }

    /// Whether this message can be emitted: it fits [`MAX_DATAGRAM`], its
    /// counts fit their fields, and its fields hold what [`Repr::parse`]
    /// accepts.
    pub fn check(&self) -> Result<()> {
        if self.buffer_len() > MAX_DATAGRAM {
            return Err(Error::BadLength {
                what: WHAT,
                len: self.buffer_len(),
            });
        }
        if self.sequence == 0 {
            return Err(malformed("sequence 0"));
        }
        let (reference, chunk) = self.reference_and_chunk();
        let referencing = matches!(
            self.message,
            Message::Table { .. } | Message::Update { .. } | Message::Ack { .. }
        );
        if referencing == (reference == 0) {
            return Err(malformed("reference field"));
        }
        if chunk.count == 0 || chunk.index >= chunk.count {
            return Err(malformed("chunk index outside chunk count"));
        }
        let prefixes_ok = match &self.message {
            Message::Join { subnets, .. } => subnets.iter().all(|s| s.prefix_len <= 32),
            Message::Table { entries, .. } | Message::Update { entries, .. } => {
                entries.iter().all(|e| e.prefix_len <= 32)
            }
            _ => true,
        };
        if !prefixes_ok {
            return Err(malformed("prefix length above 32"));
        }
        if let Message::Stations { stations } = &self.message {
            for s in stations {
                s.check()?;
            }
        }
        Ok(())
    }

    fn reference_and_chunk(&self) -> (u32, Chunk) {
        match &self.message {
            Message::Table { request, chunk, .. } => (*request, *chunk),
            Message::Update { group, chunk, .. } => (*group, *chunk),
            Message::Ack { acknowledged } => (*acknowledged, Chunk::ONLY),
            _ => (0, Chunk::ONLY),
        }
    }

    /// Writes the datagram with its HMAC under `key` into `buf` (at least
    /// `buffer_len()` bytes; only those are written). Fails, writing
    /// nothing, if [`Repr::check`] fails or `buf` is too short.
    pub fn emit(&self, key: &[u8], buf: &mut [u8]) -> Result<()> {
        self.check()?;
        let len = self.buffer_len();
        need(WHAT, buf, len)?;
        let buf = &mut buf[..len];
        let (reference, chunk) = self.reference_and_chunk();
        let (flags, entry_count) = match &self.message {
            Message::Join {
                full_table,
                subnets,
            } => (if *full_table { FLAG_FULL_TABLE } else { 0 }, subnets.len()),
            Message::Table { entries, .. } | Message::Update { entries, .. } => (0, entries.len()),
            Message::Stations { stations } => (0, stations.len()),
            _ => (0, 0),
        };
        let mut p = Packet::new_unchecked(buf);
        p.set_version(VERSION);
        p.set_msg_type(self.message.kind());
        p.set_flags(flags);
        p.set_sender(self.sender);
        p.set_epoch(self.epoch);
        p.set_sequence(self.sequence);
        p.set_reference(reference);
        p.set_chunk_index(chunk.index);
        p.set_chunk_count(chunk.count);
        // Fits: check() bounded the datagram to 1400 bytes.
        p.set_entry_count(entry_count as u16);
        p.set_reserved(0);
        let body = p.body_mut();
        let mut at = 0;
        match &self.message {
            Message::Join { subnets, .. } => {
                for s in subnets {
                    Entry {
                        home_agent: s.home_agent,
                        prefix_len: s.prefix_len,
                        deleted: false,
                        version: 0,
                        aps: Vec::new(),
                    }
                    .emit(&mut body[at..]);
                    at += ENTRY_LEN;
                }
            }
            Message::Table { entries, .. } | Message::Update { entries, .. } => {
                for e in entries {
                    e.emit(&mut body[at..]);
                    at += e.buffer_len();
                }
            }
            Message::Digest { digest, entries } => {
                body[field::DIGEST].copy_from_slice(digest);
                body[field::DIGEST_ENTRIES].copy_from_slice(&entries.to_be_bytes());
            }
            Message::Stations { stations } => {
                for s in stations {
                    s.emit(&mut body[at..]);
                    at += STATION_LEN;
                }
            }
            Message::Ack { .. } | Message::SyncRequest => {}
        }
        p.fill_mac(key);
        Ok(())
    }

    /// The datagram as bytes, signed with `key`.
    pub fn to_vec(&self, key: &[u8]) -> Result<Vec<u8>> {
        self.check()?;
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(key, &mut v)?;
        Ok(v)
    }
}

/// Splits `entries` into chunk bodies that each fit one datagram
/// ([`MAX_BODY`] bytes). An entry that fits an empty chunk is never split;
/// one with more than [`MAX_APS_PER_ENTRY`] APs is carried as pieces (the
/// same entry with disjoint AP sets, filling the chunks in turn) that
/// [`union_pieces`] puts together again. Always at least one chunk (an
/// empty table is one empty chunk). Fails if more than 65535 chunks would
/// be needed (the chunk count field).
pub fn split_entries(entries: &[Entry]) -> Result<Vec<Vec<Entry>>> {
    split_entries_within(entries, MAX_BODY)
}

/// [`split_entries`] with a smaller body budget (`budget` at least one
/// entry with one AP; at most [`MAX_BODY`]).
pub fn split_entries_within(entries: &[Entry], budget: usize) -> Result<Vec<Vec<Entry>>> {
    let budget = budget.clamp(ENTRY_LEN + 4, MAX_BODY);
    let mut chunks: Vec<Vec<Entry>> = vec![Vec::new()];
    let mut room = budget;
    for e in entries {
        if e.buffer_len() <= room {
            room -= e.buffer_len();
            push_last(&mut chunks, e.clone());
            continue;
        }
        if e.buffer_len() <= budget {
            chunks.push(vec![e.clone()]);
            room = budget - e.buffer_len();
            continue;
        }
        // Too big for any one chunk: pieces, filling what is left first.
        let mut rest = &e.aps[..];
        while !rest.is_empty() {
            if room < ENTRY_LEN + 4 {
                chunks.push(Vec::new());
                room = budget;
            }
            let take = ((room - ENTRY_LEN) / 4).min(rest.len());
            let piece = Entry {
                aps: rest[..take].to_vec(),
                ..e.clone()
            };
            room -= piece.buffer_len();
            push_last(&mut chunks, piece);
            rest = &rest[take..];
        }
    }
    if chunks.len() > usize::from(u16::MAX) {
        return Err(Error::BadLength {
            what: "subnet exchange chunk count",
            len: chunks.len(),
        });
    }
    Ok(chunks)
}

fn push_last(chunks: &mut Vec<Vec<Entry>>, e: Entry) {
    match chunks.last_mut() {
        Some(c) => c.push(e),
        None => chunks.push(vec![e]),
    }
}

/// Puts the chunks of one message back together: entries of the same
/// home agent are pieces of one entry and their AP sets are united (in
/// order, duplicates dropped). Pieces must agree on prefix length, flags
/// and version; otherwise the message is malformed. Entries keep the
/// order of their first piece.
pub fn union_pieces<I: IntoIterator<Item = Entry>>(pieces: I) -> Result<Vec<Entry>> {
    let mut out: Vec<Entry> = Vec::new();
    let mut at: std::collections::HashMap<Ipv4Addr, usize> = std::collections::HashMap::new();
    for p in pieces {
        match at.get(&p.home_agent) {
            Some(&i) => {
                let e = &mut out[i];
                if e.prefix_len != p.prefix_len || e.deleted != p.deleted || e.version != p.version
                {
                    return Err(malformed("pieces of one entry disagree"));
                }
                for ap in p.aps {
                    if !e.aps.contains(&ap) {
                        e.aps.push(ap);
                    }
                }
            }
            None => {
                at.insert(p.home_agent, out.len());
                let mut p = p;
                let mut seen = std::collections::HashSet::new();
                p.aps.retain(|a| seen.insert(*a));
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// SHA-256 of the canonical form of a table, what AAPs compare: the live
/// (not deleted) entries sorted by home agent, each as home agent (4),
/// prefix length (1), version (4), AP count (2) and its APs sorted and
/// without duplicates (4 each). Tombstones are left out, so AAPs that
/// purged them at different times still agree.
pub fn table_digest<'a, I: IntoIterator<Item = &'a Entry>>(entries: I) -> [u8; 32] {
    let mut live: Vec<&Entry> = entries.into_iter().filter(|e| !e.deleted).collect();
    live.sort_by_key(|e| e.home_agent);
    let mut h = Sha256::new();
    for e in live {
        let mut aps = e.aps.clone();
        aps.sort();
        aps.dedup();
        h.update(e.home_agent.octets());
        h.update([e.prefix_len]);
        h.update(e.version.to_be_bytes());
        h.update((aps.len() as u32).to_be_bytes()[2..].as_ref());
        for a in aps {
            h.update(a.octets());
        }
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"subnet-map-key";

    #[test]
    fn layout() {
        let r = Repr {
            sender: Ipv4Addr::new(10, 1, 0, 2),
            epoch: 0x0102_0304,
            sequence: 7,
            message: Message::Update {
                group: 7,
                chunk: Chunk::ONLY,
                entries: vec![Entry {
                    home_agent: Ipv4Addr::new(10, 1, 0, 1),
                    prefix_len: 24,
                    deleted: true,
                    version: 9,
                    aps: vec![Ipv4Addr::new(10, 1, 0, 2)],
                }],
            },
        };
        let b = r.to_vec(KEY).unwrap();
        assert_eq!(b.len(), 28 + 16 + 32);
        assert_eq!(
            &b[..28],
            &[
                1, 3, 0, 0, 10, 1, 0, 2, 1, 2, 3, 4, 0, 0, 0, 7, 0, 0, 0, 7, 0, 0, 0, 1, 0, 1, 0, 0
            ]
        );
        assert_eq!(
            &b[28..44],
            &[10, 1, 0, 1, 24, 1, 0, 1, 0, 0, 0, 9, 10, 1, 0, 2]
        );
        assert_eq!(&b[44..], &mac(KEY, &b[..44]));
        assert_eq!(Repr::parse_authenticated(&b, KEY).unwrap(), r);
        assert_eq!(MAX_APS_PER_ENTRY, 332);
        assert_eq!(MAX_JOIN_ENTRIES, 111);
    }

    #[test]
    fn stations_layout() {
        let r = Repr {
            sender: Ipv4Addr::new(10, 1, 0, 2),
            epoch: 0x0102_0304,
            sequence: 9,
            message: Message::Stations {
                stations: vec![Station {
                    mac: [2, 0, 0, 0x99, 0, 1],
                    address: Ipv4Addr::new(10, 1, 0, 50),
                    ap: Ipv4Addr::new(10, 3, 0, 2),
                    age: 61,
                }],
            },
        };
        let b = r.to_vec(KEY).unwrap();
        assert_eq!(b.len(), 28 + 20 + 32);
        // Type 7, no flags, no reference, chunk 0 of 1, one entry.
        assert_eq!(
            &b[..28],
            &[
                1, 7, 0, 0, 10, 1, 0, 2, 1, 2, 3, 4, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0
            ]
        );
        assert_eq!(
            &b[28..48],
            &[
                2, 0, 0, 0x99, 0, 1, 0, 0, 10, 1, 0, 50, 10, 3, 0, 2, 0, 0, 0, 61
            ]
        );
        assert_eq!(Repr::parse_authenticated(&b, KEY).unwrap(), r);
        assert_eq!(MAX_STATIONS_PER_MESSAGE, 67);
        // The most that fit, and one more does not.
        let many = |n: usize| Repr {
            message: Message::Stations {
                stations: vec![
                    Station {
                        mac: [2, 0, 0, 0, 0, 1],
                        address: Ipv4Addr::new(10, 1, 0, 50),
                        ap: Ipv4Addr::new(10, 1, 0, 2),
                        age: 0,
                    };
                    n
                ],
            },
            ..r.clone()
        };
        assert!(many(MAX_STATIONS_PER_MESSAGE).to_vec(KEY).unwrap().len() <= MAX_DATAGRAM);
        assert!(many(MAX_STATIONS_PER_MESSAGE + 1).to_vec(KEY).is_err());
    }

    #[test]
    fn checks_refuse_what_parse_refuses() {
        let r = Repr {
            sender: Ipv4Addr::new(10, 1, 0, 2),
            epoch: 1,
            sequence: 0,
            message: Message::SyncRequest,
        };
        assert!(r.to_vec(KEY).is_err());
        let r = Repr {
            sequence: 1,
            message: Message::Ack { acknowledged: 0 },
            ..r
        };
        assert!(r.to_vec(KEY).is_err());
        let big = Repr {
            sequence: 1,
            message: Message::Join {
                full_table: true,
                subnets: vec![
                    Subnet {
                        home_agent: Ipv4Addr::LOCALHOST,
                        prefix_len: 8
                    };
                    MAX_JOIN_ENTRIES + 1
                ],
            },
            ..r
        };
        assert!(matches!(big.to_vec(KEY), Err(Error::BadLength { .. })));
        let mut short = [0u8; 10];
        assert!(r.emit(KEY, &mut short).is_err());
        // A station entry parse would refuse is not emitted either.
        let station = Station {
            mac: [2, 0, 0, 0, 0, 1],
            address: Ipv4Addr::new(10, 1, 0, 50),
            ap: Ipv4Addr::new(10, 1, 0, 2),
            age: 0,
        };
        for bad in [
            Station {
                mac: [1, 0, 0x5e, 0, 0, 1],
                ..station
            },
            Station {
                mac: [0; 6],
                ..station
            },
            Station {
                address: Ipv4Addr::BROADCAST,
                ..station
            },
            Station {
                address: Ipv4Addr::new(224, 0, 0, 1),
                ..station
            },
            Station {
                ap: Ipv4Addr::UNSPECIFIED,
                ..station
            },
        ] {
            let r = Repr {
                sequence: 1,
                message: Message::Stations {
                    stations: vec![station, bad],
                },
                ..r.clone()
            };
            assert!(matches!(r.to_vec(KEY), Err(Error::Malformed { .. })));
        }
    }
}
