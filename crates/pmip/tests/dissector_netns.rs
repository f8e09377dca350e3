//! The Wireshark dissector `tools/wireshark/pmip-exchange.lua` against
//! the subnet map exchange: real traffic captured between the lab's APs
//! and AAPs, and crafted datagrams (every message type, tombstones and AP
//! lists, malformed ones, the home agent liveness probe and its answer).
//! Each field tshark shows must be what `pmip-wire` parses from the same
//! bytes. tshark and dumpcap must be installed (scripts/deps): the tests
//! fail, not skip, without them.

mod common;

use common::PMIP;
use pmip_wire::subnet_exchange::{self as sx, Chunk, Entry, Message, Repr, Subnet};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tools/wireshark/pmip-exchange.lua"
);

/// What the test asks tshark for, one column each.
const FIELDS: &[&str] = &[
    "frame.number",
    "ip.src",
    "udp.srcport",
    "udp.dstport",
    "udp.payload",
    "pmip.version",
    "pmip.type",
    "pmip.flags.full_table",
    "pmip.sender",
    "pmip.epoch",
    "pmip.seq",
    "pmip.reference",
    "pmip.chunk_index",
    "pmip.chunk_count",
    "pmip.entry_count",
    "pmip.entry.home_agent",
    "pmip.entry.prefix_len",
    "pmip.entry.mask",
    "pmip.entry.subnet",
    "pmip.entry.deleted",
    "pmip.entry.version",
    "pmip.entry.ap_count",
    "pmip.entry.ap",
    "pmip.station.mac",
    "pmip.station.address",
    "pmip.station.ap",
    "pmip.station.age",
    "pmip.digest",
    "pmip.digest_entries",
    "pmip.hmac",
    "pmip.hmac.valid",
    "pmip.malformed",
    "pmip.sender.mismatch",
    "pmip_probe.kind",
    "pmip_probe.broadcast",
    "pmip_probe.spi",
    "pmip_probe.code",
    "pmip_probe.home_agent",
    "_ws.col.Info",
];

/// One frame as tshark decoded it.
struct Row(Vec<String>);

impl Row {
    fn get(&self, field: &str) -> &str {
        let i = FIELDS
            .iter()
            .position(|f| *f == field)
            .expect("a field asked for");
        self.0.get(i).map_or("", String::as_str)
    }
    fn info(&self) -> &str {
        self.get("_ws.col.Info")
    }
}

/// tshark prints booleans as 1/0 (4.0) or True/False (later versions).
fn truth(s: &str) -> Option<bool> {
    match s {
        "1" | "True" | "true" => Some(true),
        "0" | "False" | "false" => Some(false),
        _ => None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn joined<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn mask(prefix_len: u8) -> Ipv4Addr {
    Ipv4Addr::from(
        u32::MAX
            .checked_shl(32 - u32::from(prefix_len))
            .unwrap_or(0),
    )
}

fn subnet(ha: Ipv4Addr, prefix_len: u8) -> String {
    let net = Ipv4Addr::from(u32::from(ha) & u32::from(mask(prefix_len)));
    format!("{net}/{prefix_len}")
}

/// Runs the dissector over `capture` with the campus key `key` (None: the
/// key devices use without `ip proxy-mobile aap key`); one row a frame.
fn decode(capture: &Path, key: Option<&str>, filter: Option<&str>) -> Vec<Row> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-X")
        .arg(format!("lua_script:{SCRIPT}"))
        .arg("-n")
        .arg("-r")
        .arg(capture);
    if let Some(k) = key {
        cmd.arg("-o").arg(format!("pmip.key:ascii {k}"));
    }
    if let Some(f) = filter {
        cmd.arg("-Y").arg(f);
    }
    cmd.args(["-T", "fields", "-E", "separator=/t", "-E", "aggregator=,"]);
    for f in FIELDS {
        cmd.arg("-e").arg(f);
    }
    let out = cmd.output().expect("tshark (scripts/deps installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Lua: Error") && !stderr.contains("lua_script"),
        "the script loads: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| Row(l.split('\t').map(str::to_owned).collect()))
        .collect()
}

/// The whole tree of one frame (`tshark -V`), for failure messages and
/// for the reader of `--nocapture`.
fn verbose(capture: &Path, key: Option<&str>, frame: &str) -> String {
    let mut cmd = Command::new("tshark");
    cmd.arg("-X")
        .arg(format!("lua_script:{SCRIPT}"))
        .arg("-n")
        .arg("-r")
        .arg(capture)
        .args(["-V", "-O", "pmip,pmip_probe", "-Y"])
        .arg(format!("frame.number == {frame}"));
    if let Some(k) = key {
        cmd.arg("-o").arg(format!("pmip.key:ascii {k}"));
    }
    String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
}

/// Checks that tshark's decoding of an exchange datagram says exactly
/// what `pmip-wire` parses from its bytes; returns the message type.
fn check_exchange(row: &Row, key: &[u8], tree: impl Fn() -> String) -> u8 {
    let payload = unhex(row.get("udp.payload"));
    let ctx = || format!("frame {}:\n{}", row.get("frame.number"), tree());
    if payload.get(1) == Some(&STATIONS) {
        check_stations(row, &payload, key, ctx);
        return STATIONS;
    }
    let repr = Repr::parse_authenticated(&payload, key)
        .unwrap_or_else(|e| panic!("frame {}: {e}", row.get("frame.number")));
    // Not one exhaustive match: a message type added to pmip-wire still
    // goes through the header checks here.
    let (reference, chunk, entries, full_table): (u32, Chunk, Vec<Entry>, bool) =
        if let Message::Join {
            full_table,
            subnets,
        } = &repr.message
        {
            let entries = subnets
                .iter()
                .map(|s| Entry {
                    home_agent: s.home_agent,
                    prefix_len: s.prefix_len,
                    deleted: false,
                    version: 0,
                    aps: Vec::new(),
                })
                .collect();
            (0, Chunk::ONLY, entries, *full_table)
        } else if let Message::Table {
            request,
            chunk,
            entries,
        } = &repr.message
        {
            (*request, *chunk, entries.clone(), false)
        } else if let Message::Update {
            group,
            chunk,
            entries,
        } = &repr.message
        {
            (*group, *chunk, entries.clone(), false)
        } else if let Message::Ack { acknowledged } = &repr.message {
            (*acknowledged, Chunk::ONLY, Vec::new(), false)
        } else {
            (0, Chunk::ONLY, Vec::new(), false)
        };
    let expect = [
        ("pmip.version", "1".to_owned()),
        ("pmip.type", repr.message.kind().to_string()),
        ("pmip.sender", repr.sender.to_string()),
        ("ip.src", repr.sender.to_string()),
        ("pmip.epoch", repr.epoch.to_string()),
        ("pmip.seq", repr.sequence.to_string()),
        ("pmip.reference", reference.to_string()),
        ("pmip.chunk_index", chunk.index.to_string()),
        ("pmip.chunk_count", chunk.count.to_string()),
        ("pmip.entry_count", entries.len().to_string()),
        (
            "pmip.entry.home_agent",
            joined(entries.iter().map(|e| e.home_agent)),
        ),
        (
            "pmip.entry.prefix_len",
            joined(entries.iter().map(|e| e.prefix_len)),
        ),
        (
            "pmip.entry.mask",
            joined(entries.iter().map(|e| mask(e.prefix_len))),
        ),
        (
            "pmip.entry.subnet",
            joined(entries.iter().map(|e| subnet(e.home_agent, e.prefix_len))),
        ),
        (
            "pmip.entry.version",
            joined(entries.iter().map(|e| e.version)),
        ),
        (
            "pmip.entry.ap_count",
            joined(entries.iter().map(|e| e.aps.len())),
        ),
        (
            "pmip.entry.ap",
            joined(entries.iter().flat_map(|e| e.aps.iter())),
        ),
        ("pmip.hmac", hex(&payload[payload.len() - sx::MAC_LEN..])),
        ("pmip.malformed", String::new()),
        ("pmip.sender.mismatch", String::new()),
    ];
    for (field, want) in expect {
        assert_eq!(row.get(field), want, "{field} of {}", ctx());
    }
    let deleted: Vec<Option<bool>> = row
        .get("pmip.entry.deleted")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(truth)
        .collect();
    assert_eq!(
        deleted,
        entries.iter().map(|e| Some(e.deleted)).collect::<Vec<_>>(),
        "pmip.entry.deleted of {}",
        ctx()
    );
    assert_eq!(
        truth(row.get("pmip.flags.full_table")),
        Some(full_table),
        "full table flag of {}",
        ctx()
    );
    assert_eq!(
        truth(row.get("pmip.hmac.valid")),
        Some(true),
        "HMAC of {}",
        ctx()
    );
    if let Message::Digest { digest, entries } = &repr.message {
        assert_eq!(row.get("pmip.digest"), hex(digest), "{}", ctx());
        assert_eq!(
            row.get("pmip.digest_entries"),
            entries.to_string(),
            "{}",
            ctx()
        );
    } else {
        assert_eq!(row.get("pmip.digest"), "", "{}", ctx());
    }
    let name = match repr.message.kind() {
        sx::kind::JOIN => "Join",
        sx::kind::TABLE => "Table",
        sx::kind::UPDATE => "Update",
        sx::kind::ACK => "Ack",
        sx::kind::DIGEST => "Digest",
        _ => "SyncRequest",
    };
    assert!(
        row.info().starts_with(name),
        "Info column of {}: {}",
        ctx(),
        row.info()
    );
    repr.message.kind()
}

/// Message type 7, Stations: the campus station table (a station's MAC
/// and address, the AP that last saw it, how long ago), 20 bytes an
/// entry. Checked from the bytes themselves.
const STATIONS: u8 = 7;

/// A station entry: MAC, address, the AP that saw it, age.
type StationEntry = ([u8; 6], [u8; 4], [u8; 4], u32);

/// A Stations datagram, the reserved field of each entry set to
/// `reserved`.
fn stations_datagram(
    key: &[u8],
    sender: Ipv4Addr,
    sequence: u32,
    stations: &[StationEntry],
    reserved: u16,
) -> Vec<u8> {
    let mut d = vec![1, STATIONS, 0, 0];
    d.extend(sender.octets());
    d.extend(1_700_000_000u32.to_be_bytes());
    d.extend(sequence.to_be_bytes());
    d.extend([0, 0, 0, 0, 0, 0, 0, 1]);
    d.extend((stations.len() as u16).to_be_bytes());
    d.extend([0, 0]);
    for (mac, addr, ap, age) in stations {
        d.extend(mac);
        d.extend(reserved.to_be_bytes());
        d.extend(addr);
        d.extend(ap);
        d.extend(age.to_be_bytes());
    }
    let m = sx::mac(key, &d);
    d.extend(m);
    d
}

fn check_stations(row: &Row, payload: &[u8], key: &[u8], ctx: impl Fn() -> String) {
    assert!(sx::verify(key, payload), "{}", ctx());
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let count = usize::from(u16::from_be_bytes([payload[24], payload[25]]));
    let body = &payload[sx::HEADER_LEN..payload.len() - sx::MAC_LEN];
    assert_eq!(body.len(), 20 * count, "{}", ctx());
    let entries: Vec<&[u8]> = body.chunks(20).collect();
    let ip = |b: &[u8]| Ipv4Addr::new(b[0], b[1], b[2], b[3]);
    let mac = |b: &[u8]| {
        b[..6]
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    let expect = [
        ("pmip.type", STATIONS.to_string()),
        ("pmip.sender", ip(&payload[4..8]).to_string()),
        ("pmip.seq", be32(&payload[12..16]).to_string()),
        ("pmip.entry_count", count.to_string()),
        ("pmip.station.mac", joined(entries.iter().map(|e| mac(e)))),
        (
            "pmip.station.address",
            joined(entries.iter().map(|e| ip(&e[8..12]))),
        ),
        (
            "pmip.station.ap",
            joined(entries.iter().map(|e| ip(&e[12..16]))),
        ),
        (
            "pmip.station.age",
            joined(entries.iter().map(|e| be32(&e[16..20]))),
        ),
        ("pmip.entry.home_agent", String::new()),
        ("pmip.malformed", String::new()),
    ];
    for (field, want) in expect {
        assert_eq!(row.get(field), want, "{field} of {}", ctx());
    }
    assert_eq!(truth(row.get("pmip.hmac.valid")), Some(true), "{}", ctx());
    assert!(row.info().starts_with("Stations"), "{}", ctx());
}

/// A classic pcap file of raw IPv4 packets (LINKTYPE_IPV4), each a UDP
/// datagram `(source, destination, source port, destination port,
/// payload)`.
fn write_pcap(path: &Path, datagrams: &[(Ipv4Addr, Ipv4Addr, u16, u16, Vec<u8>)]) {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0i32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&228u32.to_le_bytes());
    for (i, (src, dst, sport, dport, payload)) in datagrams.iter().enumerate() {
        let udp_len = 8 + payload.len();
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&((20 + udp_len) as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 1, 0x40, 0, 64, 17, 0, 0]);
        ip.extend_from_slice(&src.octets());
        ip.extend_from_slice(&dst.octets());
        let mut sum: u32 = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        ip.extend_from_slice(&sport.to_be_bytes());
        ip.extend_from_slice(&dport.to_be_bytes());
        ip.extend_from_slice(&(udp_len as u16).to_be_bytes());
        // No UDP checksum (allowed over IPv4): the test is about the payload.
        ip.extend_from_slice(&[0, 0]);
        ip.extend_from_slice(payload);
        f.extend_from_slice(&(1_700_000_000 + i as u32).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        f.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        f.extend_from_slice(&ip);
    }
    std::fs::write(path, f).unwrap();
}

const AP: Ipv4Addr = Ipv4Addr::new(10, 3, 0, 2);
const AAP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 2);

fn entry(ha: [u8; 4], prefix_len: u8, version: u32, deleted: bool, aps: &[[u8; 4]]) -> Entry {
    Entry {
        home_agent: ha.into(),
        prefix_len,
        deleted,
        version,
        aps: aps.iter().map(|a| Ipv4Addr::from(*a)).collect(),
    }
}

fn msg(sender: Ipv4Addr, sequence: u32, message: Message) -> Repr {
    Repr {
        sender,
        epoch: 1_700_000_000,
        sequence,
        message,
    }
}

/// Every message type, emitted by `pmip-wire`, and datagrams a device
/// drops: each decoded field by field, each malformed one flagged with
/// its reason; the liveness probe as the AAP builds it and a home
/// agent's answer; the key preference.
#[test]
fn crafted_messages_decode_field_by_field() {
    let key = b"crafted-key";
    let dir = common::temp("dissector-crafted");
    std::fs::create_dir_all(&dir).unwrap();
    let capture = dir.join("crafted.pcap");

    // A table big enough to be chunked, with AP lists and a tombstone.
    let big: Vec<Entry> = (0..120u8)
        .map(|i| {
            entry(
                [10, i, 0, 1],
                16 + i % 17,
                u32::from(i) + 1,
                i % 7 == 0,
                &[[10, i, 0, 2]],
            )
        })
        .collect();
    let chunks = sx::split_entries(&big).unwrap();
    assert!(chunks.len() > 1, "the table is chunked");
    let mut good = vec![
        msg(
            AP,
            1,
            Message::Join {
                full_table: true,
                subnets: vec![Subnet {
                    home_agent: Ipv4Addr::new(10, 3, 0, 1),
                    prefix_len: 24,
                }],
            },
        ),
        msg(
            AP,
            2,
            Message::Join {
                full_table: false,
                subnets: vec![],
            },
        ),
        msg(
            AAP,
            1,
            Message::Update {
                group: 1,
                chunk: Chunk::ONLY,
                entries: vec![
                    entry([10, 1, 0, 1], 24, 3, false, &[]),
                    entry([10, 9, 0, 1], 20, 7, true, &[[10, 9, 0, 2], [10, 9, 0, 3]]),
                    entry([192, 0, 2, 1], 0, 1, false, &[]),
                    entry([192, 0, 2, 9], 32, 2, false, &[]),
                ],
            },
        ),
        msg(AAP, 9, Message::Ack { acknowledged: 5 }),
        msg(
            AAP,
            10,
            Message::Digest {
                digest: sx::table_digest(&big),
                entries: 103,
            },
        ),
        msg(AAP, 11, Message::SyncRequest),
    ];
    for (i, c) in chunks.iter().enumerate() {
        good.push(msg(
            PEER,
            20 + i as u32,
            Message::Table {
                request: 11,
                chunk: Chunk {
                    index: i as u16,
                    count: chunks.len() as u16,
                },
                entries: c.clone(),
            },
        ));
    }
    let mut datagrams: Vec<(Ipv4Addr, Ipv4Addr, u16, u16, Vec<u8>)> = good
        .iter()
        .map(|r| {
            let to = if r.sender == AP { AAP } else { AP };
            (r.sender, to, sx::PORT, sx::PORT, r.to_vec(key).unwrap())
        })
        .collect();
    let station = ([0x02, 0, 0, 0, 0, 0x50], [10, 1, 0, 50], [10, 3, 0, 2], 3);
    let other = (
        [0xb6, 0xf1, 0xd6, 2, 0x76, 0x93],
        [10, 2, 0, 51],
        [10, 2, 0, 2],
        0,
    );
    datagrams.push((
        AAP,
        AP,
        sx::PORT,
        sx::PORT,
        stations_datagram(key, AAP, 12, &[station, other], 0),
    ));
    let n_good = datagrams.len();

    // Datagrams a receiver drops, each with what the Info column names.
    let valid = good[2].to_vec(key).unwrap();
    let resign = |mut d: Vec<u8>| {
        let at = d.len() - sx::MAC_LEN;
        let m = sx::mac(key, &d[..at]);
        d[at..].copy_from_slice(&m);
        d
    };
    let mut bad: Vec<(Vec<u8>, &str)> = Vec::new();
    bad.push((valid[..20].to_vec(), "shorter than the 28-byte header"));
    bad.push((valid[..50].to_vec(), "shorter than header and trailer"));
    let mut v = valid.clone();
    v[0] = 2;
    bad.push((resign(v), "Unsupported version 2"));
    let mut v = valid.clone();
    v[1] = 9;
    bad.push((resign(v), "Unknown message type 9"));
    let mut v = valid.clone();
    v[3] = 0x01;
    bad.push((resign(v), "Undefined flag set"));
    let mut v = valid.clone();
    v[27] = 1;
    bad.push((resign(v), "Reserved field not zero"));
    let mut v = valid.clone();
    v[12..16].copy_from_slice(&[0; 4]);
    bad.push((resign(v), "Sequence 0"));
    let mut v = valid.clone();
    v[20..22].copy_from_slice(&[0, 1]);
    bad.push((resign(v), "Chunk Index outside Chunk Count"));
    let mut v = valid.clone();
    v[28 + 4] = 33;
    bad.push((resign(v), "prefix length above 32"));
    let mut v = valid.clone();
    v[28 + 5] = 0x80;
    bad.push((resign(v), "reserved entry flag set"));
    let mut v = valid.clone();
    v[25] = 5;
    bad.push((resign(v), "truncated entry"));
    let mut v = valid.clone();
    v[25] = 3;
    bad.push((resign(v), "take"));
    let ack = good[3].to_vec(key).unwrap();
    let mut v = ack.clone();
    v[16..20].copy_from_slice(&[0; 4]);
    bad.push((resign(v), "Reference 0 on Ack"));
    let join = good[1].to_vec(key).unwrap();
    let mut v = join[..28].to_vec();
    v.extend_from_slice(&[10, 3, 0, 1, 24, 0, 0, 0, 0, 0, 0, 4]);
    v[25] = 1;
    v.extend_from_slice(&[0; 32]);
    bad.push((resign(v), "Join entry with flags, version or APs"));
    let mut v = ack.clone();
    v.splice(28..28, [0u8; 4]);
    bad.push((resign(v), "has no body"));
    let mut oversized = vec![0u8; 1401];
    oversized[..28].copy_from_slice(&ack[..28]);
    bad.push((resign(oversized), "longer than 1400"));
    for (d, _) in &bad {
        assert!(
            Repr::parse_authenticated(d, key).is_err(),
            "pmip-wire refuses it too"
        );
    }
    let group = ([0x01, 0, 0x5e, 0, 0, 1], [10, 1, 0, 50], [10, 3, 0, 2], 3);
    let to_all = (
        [0x02, 0, 0, 0, 0, 1],
        [255, 255, 255, 255],
        [10, 3, 0, 2],
        3,
    );
    bad.push((
        stations_datagram(key, AAP, 13, &[station], 1),
        "reserved field not zero",
    ));
    bad.push((
        stations_datagram(key, AAP, 14, &[group], 0),
        "a group or zero MAC address",
    ));
    bad.push((
        stations_datagram(key, AAP, 15, &[to_all], 0),
        "an address that is not a host's",
    ));
    let mut v = stations_datagram(key, AAP, 16, &[station], 0);
    v[25] = 2;
    bad.push((resign(v), "the 2 stations take 40"));
    for (d, _) in &bad {
        datagrams.push((AAP, AP, sx::PORT, sx::PORT, d.clone()));
    }
    // Authentic under another key: the HMAC does not verify.
    datagrams.push((
        AAP,
        AP,
        sx::PORT,
        sx::PORT,
        good[3].to_vec(b"other").unwrap(),
    ));
    // The Sender Address is not the source address.
    datagrams.push((PEER, AP, sx::PORT, sx::PORT, good[3].to_vec(key).unwrap()));

    // The liveness probe exactly as an AAP sends it, and a home agent's
    // denial coming back to the probe port.
    let broadcast = Ipv4Addr::new(10, 3, 0, 255);
    let now = pmip_engine::time::Now::new(
        pmip_engine::time::Instant::ZERO,
        Duration::from_secs(1_700_000_000),
    );
    let probe = pmip_node::packets::probe_request(broadcast, now);
    datagrams.push((AAP, broadcast, pmip_node::PROBE_PORT, 434, probe));
    let answer = pmip_wire::registration::ReplyRepr {
        code: pmip_wire::registration::ReplyCode::MobileNodeFailedAuthenticationHa,
        lifetime: 0,
        home_address: broadcast,
        home_agent: broadcast,
        identification: pmip_wire::identification::Identification::from_unix(now.unix),
        extensions: pmip_wire::extension::Extensions::new(),
    }
    .to_vec();
    let ha = Ipv4Addr::new(10, 3, 0, 1);
    datagrams.push((ha, AAP, 434, pmip_node::PROBE_PORT, answer));
    write_pcap(&capture, &datagrams);

    let rows = decode(&capture, Some("crafted-key"), None);
    assert_eq!(rows.len(), datagrams.len(), "one row a frame");
    let tree = |n: usize| {
        let c = capture.clone();
        move || verbose(&c, Some("crafted-key"), &n.to_string())
    };
    let mut kinds = BTreeSet::new();
    for (i, row) in rows[..n_good].iter().enumerate() {
        kinds.insert(check_exchange(row, key, tree(i + 1)));
    }
    assert_eq!(kinds, (1..=7).collect::<BTreeSet<u8>>(), "every type");
    for (row, (_, reason)) in rows[n_good..].iter().zip(&bad) {
        assert!(
            !row.get("pmip.malformed").is_empty(),
            "flagged malformed ({reason}): {}\n{}",
            row.info(),
            verbose(&capture, Some("crafted-key"), row.get("frame.number"))
        );
        assert!(
            row.info().contains("Malformed"),
            "Info says so ({reason}): {}",
            row.info()
        );
        let tree = verbose(&capture, Some("crafted-key"), row.get("frame.number"));
        assert!(
            tree.to_lowercase().contains(&reason.to_lowercase()),
            "the tree names `{reason}`:\n{tree}"
        );
    }
    let at = n_good + bad.len();
    let other_key = &rows[at];
    assert_eq!(truth(other_key.get("pmip.hmac.valid")), Some(false));
    assert!(
        other_key.info().contains("[bad HMAC]"),
        "{}",
        other_key.info()
    );
    assert_eq!(other_key.get("pmip.malformed"), "");
    let spoofed = &rows[at + 1];
    assert!(
        !spoofed.get("pmip.sender.mismatch").is_empty(),
        "{}",
        verbose(&capture, Some("crafted-key"), spoofed.get("frame.number"))
    );
    let probe = &rows[at + 2];
    assert!(
        probe.get("pmip_probe.kind").starts_with("probe"),
        "{}",
        probe.info()
    );
    assert_eq!(probe.get("pmip_probe.broadcast"), "10.3.0.255");
    assert_eq!(probe.get("pmip_probe.spi"), "0x00000000");
    assert!(
        probe
            .info()
            .starts_with("pmip liveness probe of 10.3.0.255"),
        "{}",
        probe.info()
    );
    let answer = &rows[at + 3];
    assert!(answer.get("pmip_probe.kind").starts_with("answer"));
    assert_eq!(answer.get("pmip_probe.code"), "131");
    assert_eq!(answer.get("pmip_probe.home_agent"), "10.3.0.1");
    assert!(
        answer
            .info()
            .starts_with("pmip liveness probe answered by 10.3.0.1"),
        "{}",
        answer.info()
    );

    // Without the key preference the same datagrams decode, and the HMAC
    // is reported as not verifying under the well-known key.
    let rows = decode(&capture, None, Some("pmip.type == 4 && !pmip.malformed"));
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(truth(r.get("pmip.hmac.valid")), Some(false), "{}", r.info());
    }
    print!("{}", verbose(&capture, Some("crafted-key"), "3"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn lab(args: &[&str]) -> Output {
    Command::new(PMIP).arg("lab").args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A lab of its own, `pmip lab down` on drop (also when the test fails).
struct LabGuard {
    name: String,
    dir: PathBuf,
}

impl LabGuard {
    fn new(tag: &str) -> LabGuard {
        let name = format!("{tag}{}", std::process::id() % 1_000_000);
        let dir = common::temp(&format!("lab-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        LabGuard { name, dir }
    }
    fn dir(&self) -> &str {
        self.dir.to_str().unwrap()
    }
    fn ns(&self, device: &str) -> String {
        format!("pmiplab-{}-{device}", self.name)
    }
    fn run(&self, args: &[&str]) {
        let mut all = args.to_vec();
        all.extend(["--dir", self.dir()]);
        let o = lab(&all);
        assert!(
            o.status.success(),
            "pmip lab {}: {}",
            args.join(" "),
            text(&o)
        );
    }
    fn home_agents(&self, ap: &str) -> Vec<String> {
        let o = Command::new(PMIP)
            .arg("exec")
            .arg("--control")
            .arg(self.dir.join(format!("{ap}.sock")))
            .args(["--json", "show", "ip", "proxy-mobile", "subnet-table"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        let mut h: Vec<String> = v["entries"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["home_agent"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        h.sort();
        h
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        let _ = lab(&["down", "--dir", self.dir()]);
    }
}

/// dumpcap in a lab namespace; stopped (and its file completed) on drop.
struct Capture {
    child: Child,
}

impl Capture {
    fn start(ns: &str, interface: &str, file: &Path) -> Capture {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "dumpcap", "-q", "-i", interface])
            .args(["-f", "udp port 4341 or udp port 434 or udp port 4342", "-w"])
            .arg(file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dumpcap (scripts/deps installs it with tshark)");
        // dumpcap names its file once the interface is open and capturing
        // ("Capturing on" comes before that); what is sent before is lost.
        use std::io::BufRead;
        let stderr = child.stderr.take().unwrap();
        let mut lines = std::io::BufReader::new(stderr).lines();
        let mut said = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap_or_default();
            said.push_str(&line);
            said.push('\n');
            if line.starts_with("File:") {
                break;
            }
        }
        assert!(said.contains("File:"), "dumpcap: {said}");
        // Keep reading what it says so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Capture { child }
    }

    /// SIGINT: dumpcap finishes the file and exits.
    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: signals the dumpcap this guard started (`ip netns
            // exec` runs it in its own process).
            unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Real traffic: a campus of three subnets with two AAPs and a plain AP;
/// the APs are restarted with a capture running at the first AAP, which
/// then sees the whole boot of the exchange (SyncRequests and Tables
/// between the AAPs, the plain AP's Join and its Table, the Updates when
/// each AP learns its home agent, the Acks, the Digests between the
/// AAPs every 10 s, and the Stations of the campus station table).
/// Every datagram is decoded exactly as `pmip-wire` parses it, its HMAC
/// verifies under the campus key, and nothing is flagged malformed.
#[test]
fn real_exchange_traffic_decodes() {
    const KEY: &str = "dissector-campus";
    let l = LabGuard::new("ws");
    let topo = l.dir.join("input.topology");
    std::fs::write(
        &topo,
        format!(
            "name {}\nsubnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24 aap\nsubnet 3 10.3.0.0/24\nclient c1 home 1 10.1.0.50\naap-key {KEY}\nsubnet-map aap\n",
            l.name
        ),
    )
    .unwrap();
    l.run(&["up", topo.to_str().unwrap()]);
    let all = ["10.1.0.1", "10.2.0.1", "10.3.0.1"];
    let wait_tables = |what: &str| {
        let start = Instant::now();
        for ap in ["ap1", "ap2", "ap3"] {
            while l.home_agents(ap) != all {
                assert!(
                    start.elapsed() < Duration::from_secs(40),
                    "{what}: {ap} holds {:?}",
                    l.home_agents(ap)
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    };
    wait_tables("first boot");

    for ap in ["ap1", "ap2", "ap3"] {
        l.run(&["stop", ap]);
    }
    let capture_file = l.dir.join("exchange.pcapng");
    let mut capture = Capture::start(&l.ns("ap1"), "BVI1", &capture_file);
    for ap in ["ap1", "ap2", "ap3"] {
        l.run(&["start", ap]);
    }
    wait_tables("after the restart");
    // Until the AAPs' Digests (every 10 s) are in too.
    let start = Instant::now();
    // Every message type: the table's six, and Stations (ap1 saw c1 at
    // home before the restart, keeps it, and reports it).
    let wanted: BTreeSet<u8> = (1..=7).collect();
    loop {
        let seen: BTreeSet<u8> = decode(&capture_file, Some(KEY), Some("pmip"))
            .iter()
            .filter_map(|r| r.get("pmip.type").parse().ok())
            .collect();
        if wanted.is_subset(&seen) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "message types seen at the AAP: {seen:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    capture.stop();

    let rows = decode(&capture_file, Some(KEY), Some("udp.port == 4341"));
    let mut counts = std::collections::BTreeMap::new();
    for row in &rows {
        let c = capture_file.clone();
        let frame = row.get("frame.number").to_owned();
        let kind = check_exchange(row, KEY.as_bytes(), move || verbose(&c, Some(KEY), &frame));
        *counts.entry(kind).or_insert(0usize) += 1;
    }
    assert!(wanted.is_subset(&counts.keys().copied().collect()));
    let malformed = decode(
        &capture_file,
        Some(KEY),
        Some("pmip.malformed || pmip.hmac.bad"),
    );
    assert!(malformed.is_empty(), "nothing flagged in real traffic");
    println!(
        "{} exchange datagrams at ap1, by type: {counts:?}",
        rows.len()
    );
    for row in rows.iter().take(12) {
        println!("  {}", row.info());
    }
    drop(capture);
    drop(l);
}

/// The liveness probe for real: built as an AAP builds it, sent from the
/// probe port to a subnet's broadcast address where a `pmip` home agent
/// runs; the home agent's answer comes back to the probe port. Both are
/// marked as the probe and its answer, with the code the AAP received.
#[test]
fn real_liveness_probe_and_answer_decode() {
    let mut ha = pmip_netns::Netns::new(&pmip_netns::unique_name("pmipt-wh")).unwrap();
    let aap = pmip_netns::Netns::new(&pmip_netns::unique_name("pmipt-wa")).unwrap();
    ha.veth_to("FastEthernet0", &aap, "c0").unwrap();
    aap.addr("c0", "10.1.0.2/24").unwrap();
    common::start(
        &mut ha,
        "wh",
        "hostname wh
interface FastEthernet0
 ip address 10.1.0.1 255.255.255.0
router mobile
ip mobile home-agent lifetime 600
ip mobile host 10.1.0.10 10.1.0.99 interface FastEthernet0
ip mobile secure host 10.1.0.10 10.1.0.99 spi 100 key ascii 0987654
",
    );
    let file = common::temp("probe.pcapng");
    let mut capture = Capture::start(aap.name(), "c0", &file);
    let code = aap
        .run(|| {
            let s = std::net::UdpSocket::bind((Ipv4Addr::new(10, 1, 0, 2), pmip_node::PROBE_PORT))
                .unwrap();
            s.set_broadcast(true).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let now = pmip_engine::time::Now::new(
                pmip_engine::time::Instant::ZERO,
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap(),
            );
            let broadcast = Ipv4Addr::new(10, 1, 0, 255);
            let probe = pmip_node::packets::probe_request(broadcast, now);
            s.send_to(&probe, (broadcast, 434)).unwrap();
            let mut buf = [0u8; 256];
            let (n, from) = s.recv_from(&mut buf).expect("the home agent answers");
            assert_eq!(from.ip(), std::net::IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)));
            assert!(n >= 20 && buf[0] == 3, "a Registration Reply");
            buf[1]
        })
        .unwrap();
    // The answer is in the file once dumpcap has seen it.
    let start = Instant::now();
    while decode(&file, None, Some("pmip_probe")).len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "both in the capture: {:?}",
            decode(&file, None, None)
                .iter()
                .map(|r| format!("{} {}", r.get("ip.src"), r.info()))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    capture.stop();
    let rows = decode(&file, None, Some("pmip_probe"));
    assert_eq!(rows.len(), 2, "the probe and its answer");
    let tree = |r: &Row| verbose(&file, None, r.get("frame.number"));
    let (probe, answer) = (&rows[0], &rows[1]);
    assert!(
        probe.get("pmip_probe.kind").starts_with("probe"),
        "{}",
        tree(probe)
    );
    assert_eq!(probe.get("pmip_probe.broadcast"), "10.1.0.255");
    assert_eq!(probe.get("pmip_probe.spi"), "0x00000000");
    assert!(
        !tree(probe).contains("Not shaped like") && !tree(probe).contains("A probe "),
        "the real probe is what the dissector expects:\n{}",
        tree(probe)
    );
    assert!(
        answer.get("pmip_probe.kind").starts_with("answer"),
        "{}",
        tree(answer)
    );
    assert_eq!(answer.get("pmip_probe.code"), code.to_string());
    assert_eq!(answer.get("pmip_probe.home_agent"), "10.1.0.1");
    println!("  {}\n  {}", probe.info(), answer.info());
}
