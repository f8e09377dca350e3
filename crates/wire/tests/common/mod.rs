//! Test support: wrap our messages in frames, write them to a pcap and
//! let tshark, an independent decoder, read them back.
//!
//! The frames are built with our own IPv4 and UDP emitters; Ethernet II
//! is written by hand here so this harness does not depend on the format
//! it might be testing.

#![allow(dead_code)]

use pmip_wire::{ipv4, udp};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

/// An Ethernet II frame carrying an IPv4 packet with `payload`.
pub fn eth_ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: &[u8]) -> Vec<u8> {
    let ip = ipv4::Repr::new(src, dst, protocol, 64, payload.len());
    let mut frame = vec![0u8; 14 + ip.buffer_len()];
    frame[0..6].copy_from_slice(&DST_MAC);
    frame[6..12].copy_from_slice(&SRC_MAC);
    frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let mut p = ipv4::Packet::new_unchecked(&mut frame[14..]);
    ip.emit(&mut p);
    p.payload_mut().copy_from_slice(payload);
    frame
}

/// An Ethernet II frame carrying a UDP datagram with `payload`.
pub fn eth_udp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let u = udp::Repr {
        src_port: sport,
        dst_port: dport,
        payload_len: payload.len(),
    };
    let mut dgram = vec![0u8; u.buffer_len()];
    dgram[udp::HEADER_LEN..].copy_from_slice(payload);
    u.emit(&mut udp::Packet::new_unchecked(&mut dgram[..]), src, dst);
    eth_ipv4(src, dst, ipv4::protocol::UDP, &dgram)
}

/// A registration message (or any UDP 434 payload) from `src` to `dst`.
pub fn mip_frame(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    eth_udp(src, dst, udp::MOBILE_IP_PORT, udp::MOBILE_IP_PORT, payload)
}

/// Writes `frames` as a classic pcap file (link type 1, Ethernet).
pub fn write_pcap(path: &std::path::Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).expect("write pcap");
}

fn temp_pcap() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "pmip-wire-{}-{}.pcap",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Decodes `frames` with tshark and returns, for each frame, the value of
/// each requested field (`-T fields`; repeated occurrences joined by ',';
/// an absent field is the empty string). Panics when tshark is missing:
/// in CI that is a failure, not a skip.
pub fn tshark_fields(frames: &[Vec<u8>], fields: &[&str]) -> Vec<Vec<String>> {
    let path = temp_pcap();
    write_pcap(&path, frames);
    let mut cmd = Command::new("tshark");
    // Absolute times (the NTP Identification) in UTC wherever CI runs.
    cmd.env("TZ", "UTC");
    cmd.args([
        "-n",
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
    ]);
    cmd.arg("-r").arg(&path);
    cmd.args([
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd
        .output()
        .expect("tshark must be installed (apt install tshark; .ci/run does it)");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("tshark output is UTF-8");
    let rows: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), frames.len(), "tshark decoded every frame");
    rows
}

/// The field values of one frame as a map from field name to value.
pub fn tshark_one(frame: Vec<u8>, fields: &[&str]) -> std::collections::HashMap<String, String> {
    let row = tshark_fields(&[frame], fields).remove(0);
    fields
        .iter()
        .map(|f| f.to_string())
        .zip(row.into_iter().chain(std::iter::repeat(String::new())))
        .collect()
}
