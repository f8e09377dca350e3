//! What a device with checksum and TCP segmentation offload leaves to its
//! driver: a checksum to finish, and a TCP/IPv4 "super-packet" of up to
//! 64 KiB to cut into segments of at most `mss` payload bytes, as
//! `tcp_gso_segment` in the kernel would (the headers of each segment
//! are the first's with the sequence number advanced, the IPv4 total
//! length, identification and checksum redone, FIN and PSH kept for the
//! last segment only and CWR for the first, RFC 3168 6.1.2).
//!
//! The user-space tunnel reads such packets from its TUN device (virtio
//! network headers, docs/architecture.md) so the kernel hands it one
//! packet per 64 KiB instead of one per segment.

use crate::checksum;
use crate::error::{Error, Result, need};
use crate::ipv4::{self, protocol::TCP};
const TCP_FLAG_FIN: u8 = 0x01;
const TCP_FLAG_PSH: u8 = 0x08;
const TCP_FLAG_CWR: u8 = 0x80;

/// Finishes a partial checksum: the one's-complement sum of
/// `packet[start..]` (whose checksum field, at `start + offset`, holds the
/// pseudo-header's sum) written into that field, as a NIC with checksum
/// offload would (virtio `VIRTIO_NET_HDR_F_NEEDS_CSUM`).
pub fn finish_checksum(packet: &mut [u8], start: usize, offset: usize) -> Result<()> {
    let field = start
        .checked_add(offset)
        .filter(|f| f.checked_add(2).is_some_and(|end| end <= packet.len()))
        .ok_or(Error::Malformed {
            what: "partial checksum",
            reason: "checksum field beyond the packet",
        })?;
    let c = checksum::checksum(&packet[start..]);
    // A UDP checksum that comes out zero is sent as all ones (RFC 768).
    let c = if c == 0 && offset == 6 { 0xffff } else { c };
    packet[field..field + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// A TCP/IPv4 packet larger than its segments, to be cut at `mss`.
#[derive(Debug)]
pub struct TcpSegments<'a> {
    packet: &'a [u8],
    /// IPv4 header length.
    ip_len: usize,
    /// IPv4 and TCP header lengths together.
    header_len: usize,
    mss: usize,
    count: usize,
}

impl<'a> TcpSegments<'a> {
    /// Checks `packet` (IPv4 without fragmentation, TCP, the total length
    /// matching the buffer) and `mss` (at least one byte).
    pub fn new(packet: &'a [u8], mss: usize) -> Result<TcpSegments<'a>> {
        const WHAT: &str = "TCP super-packet";
        need(WHAT, packet, ipv4::HEADER_LEN)?;
        let ip = ipv4::Packet::new_unchecked(packet);
        if ip.version() != 4 {
            return Err(Error::Unsupported {
                what: WHAT,
                value: u32::from(ip.version()),
            });
        }
        let ip_len = ip.header_len();
        if ip_len < ipv4::HEADER_LEN {
            return Err(Error::BadLength {
                what: WHAT,
                len: ip_len,
            });
        }
        let total = usize::from(ip.total_len());
        if total != packet.len() {
            return Err(Error::BadLength {
                what: WHAT,
                len: total,
            });
        }
        if ip.protocol() != TCP {
            return Err(Error::Unsupported {
                what: WHAT,
                value: u32::from(ip.protocol()),
            });
        }
        // More fragments, or an offset: not a packet to segment.
        if ip.more_frags() || ip.frag_offset() != 0 {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "a fragment",
            });
        }
        need(WHAT, packet, ip_len + 20)?;
        let header_len = ip_len + usize::from(packet[ip_len + 12] >> 4) * 4;
        if header_len < ip_len + 20 {
            return Err(Error::BadLength {
                what: WHAT,
                len: header_len,
            });
        }
        need(WHAT, packet, header_len)?;
        if mss == 0 {
            return Err(Error::Malformed {
                what: WHAT,
                reason: "segment size 0",
            });
        }
        let payload = packet.len() - header_len;
        Ok(TcpSegments {
            packet,
            ip_len,
            header_len,
            mss,
            count: payload.div_ceil(mss).max(1),
        })
    }

    /// How many segments the packet makes.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The length of segment `i` (headers included).
    pub fn len(&self, i: usize) -> usize {
        let payload = self.packet.len() - self.header_len;
        let start = (i * self.mss).min(payload);
        self.header_len + (payload - start).min(self.mss)
    }

    /// Never empty: a packet makes at least one segment.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes segment `i` at the start of `out` and returns its length;
    /// `out` must hold [`len`](Self::len)`(i)` bytes.
    pub fn write(&self, i: usize, out: &mut [u8]) -> Result<usize> {
        let len = self.len(i);
        need("segment buffer", out, len)?;
        let (h, ip) = (self.header_len, self.ip_len);
        let payload_start = h + (i * self.mss).min(self.packet.len() - h);
        let out = &mut out[..len];
        out[..h].copy_from_slice(&self.packet[..h]);
        out[h..].copy_from_slice(&self.packet[payload_start..payload_start + (len - h)]);
        // IPv4: length, identification (one more per segment, as the
        // kernel's segmentation does), checksum.
        let mut header = ipv4::Packet::new_unchecked(&mut out[..ip]);
        header.set_total_len(len as u16);
        header.set_ident(header.ident().wrapping_add(i as u16));
        header.fill_checksum();
        let pseudo = tcp_pseudo_header(&out[..ip], len - ip);
        // TCP: sequence number, flags, checksum over the pseudo-header.
        let tcp = &mut out[ip..];
        let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]])
            .wrapping_add((i * self.mss) as u32);
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        if i + 1 < self.count {
            tcp[13] &= !(TCP_FLAG_FIN | TCP_FLAG_PSH);
        }
        if i > 0 {
            tcp[13] &= !TCP_FLAG_CWR;
        }
        tcp[16..18].copy_from_slice(&[0, 0]);
        let c = !checksum::combine(&[pseudo, checksum::sum(tcp)]);
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        Ok(len)
    }
}

/// TCP flags that end a run of segments that can be coalesced, or keep a
/// segment out of one: anything but ACK and, on the last, PSH.
const TCP_FLAG_ACK: u8 = 0x10;

/// The parts of a TCP/IPv4 segment that decide whether it joins a run.
struct Segment<'a> {
    packet: &'a [u8],
    header_len: usize,
    seq: u32,
    flags: u8,
}

impl<'a> Segment<'a> {
    /// A segment that may be coalesced: IPv4 without options or
    /// fragmentation, DF set (so its identification does not matter,
    /// RFC 6864 4.1), TCP with data and no flag but ACK and PSH.
    fn new(packet: &'a [u8]) -> Option<Segment<'a>> {
        if packet.len() < 40
            || packet[0] != 0x45
            || packet[9] != TCP
            || usize::from(u16::from_be_bytes([packet[2], packet[3]])) != packet.len()
            || u16::from_be_bytes([packet[6], packet[7]]) != 0x4000
        {
            return None;
        }
        let header_len = 20 + usize::from(packet[32] >> 4) * 4;
        let flags = packet[33];
        if header_len < 40 || header_len >= packet.len() || flags & !TCP_FLAG_PSH != TCP_FLAG_ACK {
            return None;
        }
        let seq = u32::from_be_bytes([packet[24], packet[25], packet[26], packet[27]]);
        Some(Segment {
            packet,
            header_len,
            seq,
            flags,
        })
    }

    fn payload(&self) -> usize {
        self.packet.len() - self.header_len
    }

    /// The headers that must match the run's first segment (the last
    /// segment is compared by [`continued_by`](Self::continued_by)).
    fn continued_by_headers(&self, next: &Segment<'_>) -> bool {
        self.header_len == next.header_len && self.packet[12..24] == next.packet[12..24]
    }

    /// Whether `next` continues this segment's flow where it ends, with
    /// the same headers otherwise (addresses, TOS, TTL; ports,
    /// acknowledgement, window, options), as GRO asks.
    fn continued_by(&self, next: &Segment<'_>) -> bool {
        let (a, b) = (self.packet, next.packet);
        self.flags & TCP_FLAG_PSH == 0
            && self.header_len == next.header_len
            && a[1] == b[1]
            && a[8] == b[8]
            && a[12..20] == b[12..20]
            && a[20..24] == b[20..24]
            && a[28..32] == b[28..32]
            && a[34..36] == b[34..36]
            && a[38..self.header_len] == b[38..self.header_len]
            && next.seq == self.seq.wrapping_add(self.payload() as u32)
    }
}

/// What [`coalesce_tcp`] made of a run of segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coalesced {
    /// How many of the given segments went into it.
    pub segments: usize,
    /// Payload bytes per segment (the last may have fewer): what the
    /// super-packet is cut at again, if ever.
    pub mss: usize,
    /// IPv4 and TCP header length.
    pub header_len: usize,
}

/// Coalesces the longest run of TCP segments at the start of `segments`
/// that continue one another (one flow, consecutive sequence numbers,
/// every segment but the last `mss` long) into one packet, as GRO does
/// (RFC 9293 3.4 allows any resegmentation of the byte stream): the
/// first segment's headers with the total length and IPv4 checksum
/// redone, and the TCP checksum field holding the pseudo-header sum for a
/// device to finish (checksum offload, [`finish_checksum`]). Writes it to
/// `out` (replacing what was there) and returns what it made, or None
/// when the first segment joins nothing (send it as it is).
pub fn coalesce_tcp(segments: &[&[u8]], out: &mut Vec<u8>) -> Option<Coalesced> {
    let first = Segment::new(segments.first()?)?;
    let mss = first.payload();
    let mut last = Segment::new(first.packet)?;
    let mut count = 1;
    let mut total = first.packet.len();
    for next in &segments[1..] {
        let Some(next) = Segment::new(next) else {
            break;
        };
        if last.payload() != mss
            || next.payload() > mss
            || total + next.payload() > usize::from(u16::MAX)
            || !first.continued_by_headers(&next)
            || !last.continued_by(&next)
        {
            break;
        }
        total += next.payload();
        count += 1;
        last = next;
    }
    if count == 1 {
        return None;
    }
    let h = first.header_len;
    out.clear();
    out.extend_from_slice(first.packet);
    for s in &segments[1..count] {
        out.extend_from_slice(&s[h..]);
    }
    // The last segment's PSH, if any, is the run's.
    out[33] |= last.flags & TCP_FLAG_PSH;
    let mut header = ipv4::Packet::new_unchecked(&mut out[..ipv4::HEADER_LEN]);
    header.set_total_len(total as u16);
    header.fill_checksum();
    let pseudo = tcp_pseudo_header(&out[..ipv4::HEADER_LEN], total - ipv4::HEADER_LEN);
    out[36..38].copy_from_slice(&pseudo.to_be_bytes());
    Some(Coalesced {
        segments: count,
        mss,
        header_len: h,
    })
}

/// The sum of the TCP pseudo-header (RFC 9293 3.1) for the addresses of
/// IPv4 header `ip` and `tcp_len` bytes of TCP.
fn tcp_pseudo_header(ip: &[u8], tcp_len: usize) -> u16 {
    let ip = ipv4::Packet::new_unchecked(ip);
    checksum::pseudo_header(
        ip.src_addr().octets(),
        ip.dst_addr().octets(),
        TCP,
        tcp_len as u16,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP/IPv4 packet with `payload` bytes (0, 1, 2, ... mod 251),
    /// the given flags, a 12-byte option block and a partial checksum.
    fn packet(payload: usize, flags: u8) -> Vec<u8> {
        let mut p = vec![0u8; 20 + 32 + payload];
        let total = p.len() as u16;
        p[0] = 0x45;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[4..6].copy_from_slice(&0xfffeu16.to_be_bytes());
        p[6] = 0x40; // DF
        p[8] = 64;
        p[9] = TCP;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 1, 0, 50]);
        p[20..22].copy_from_slice(&5201u16.to_be_bytes());
        p[22..24].copy_from_slice(&40000u16.to_be_bytes());
        p[24..28].copy_from_slice(&0xffff_ff00u32.to_be_bytes());
        p[32] = 8 << 4;
        p[33] = flags;
        p[36..38].copy_from_slice(&0x1234u16.to_be_bytes());
        for (i, b) in p[52..].iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        p
    }

    fn tcp_checksum_ok(seg: &[u8]) -> bool {
        let pseudo = checksum::pseudo_header(
            [seg[12], seg[13], seg[14], seg[15]],
            [seg[16], seg[17], seg[18], seg[19]],
            TCP,
            (seg.len() - 20) as u16,
        );
        checksum::combine(&[pseudo, checksum::sum(&seg[20..])]) == 0xffff
    }

    #[test]
    fn a_super_packet_is_cut_as_the_kernel_would() {
        let p = packet(4000, TCP_FLAG_PSH | TCP_FLAG_FIN | TCP_FLAG_CWR | 0x10);
        let s = TcpSegments::new(&p, 1448).unwrap();
        assert_eq!(s.count(), 3);
        let mut joined = Vec::new();
        for i in 0..3 {
            let mut out = vec![0u8; 2000];
            let n = s.write(i, &mut out).unwrap();
            let seg = &out[..n];
            assert_eq!(n, s.len(i));
            assert_eq!(usize::from(u16::from_be_bytes([seg[2], seg[3]])), n);
            assert!(checksum::verify(&seg[..20]), "IPv4 checksum of {i}");
            assert!(tcp_checksum_ok(seg), "TCP checksum of {i}");
            assert_eq!(
                u16::from_be_bytes([seg[4], seg[5]]),
                0xfffeu16.wrapping_add(i as u16)
            );
            let seq = u32::from_be_bytes([seg[24], seg[25], seg[26], seg[27]]);
            assert_eq!(seq, 0xffff_ff00u32.wrapping_add(1448 * i as u32));
            let flags = seg[33];
            assert_eq!(flags & TCP_FLAG_FIN != 0, i == 2);
            assert_eq!(flags & TCP_FLAG_PSH != 0, i == 2);
            assert_eq!(flags & TCP_FLAG_CWR != 0, i == 0);
            assert_eq!(flags & 0x10, 0x10, "ACK on every segment");
            // Options (the timestamp) are copied to every segment.
            assert_eq!(seg[40..52], p[40..52]);
            joined.extend_from_slice(&seg[52..]);
        }
        assert_eq!(s.len(2), 52 + 4000 - 2 * 1448);
        assert_eq!(joined, p[52..]);
    }

    #[test]
    fn a_packet_within_one_segment_comes_out_whole_with_its_checksums() {
        let p = packet(100, TCP_FLAG_PSH);
        let s = TcpSegments::new(&p, 1448).unwrap();
        assert_eq!(s.count(), 1);
        let mut out = vec![0u8; 200];
        let n = s.write(0, &mut out).unwrap();
        assert_eq!(out[..n][52..], p[52..]);
        assert_eq!(out[33], TCP_FLAG_PSH);
        assert!(tcp_checksum_ok(&out[..n]));
    }

    #[test]
    fn what_cannot_be_segmented_is_refused_not_panicked_on() {
        let p = packet(3000, 0);
        assert!(TcpSegments::new(&p, 0).is_err());
        assert!(TcpSegments::new(&p[..30], 1448).is_err());
        assert!(TcpSegments::new(&p[..p.len() - 1], 1448).is_err());
        let mut udp = p.clone();
        udp[9] = 17;
        assert!(TcpSegments::new(&udp, 1448).is_err());
        let mut fragment = p.clone();
        fragment[6] = 0x20;
        assert!(TcpSegments::new(&fragment, 1448).is_err());
        let mut short_tcp = p.clone();
        short_tcp[32] = 4 << 4;
        assert!(TcpSegments::new(&short_tcp, 1448).is_err());
        let s = TcpSegments::new(&p, 1448).unwrap();
        assert!(s.write(0, &mut [0u8; 100]).is_err());
        // Every byte string either segments or is refused.
        for cut in 0..60 {
            let _ = TcpSegments::new(&p[..cut], 8);
        }
    }

    #[test]
    fn a_partial_checksum_is_finished() {
        // UDP 10.0.0.1:1000 -> 10.0.0.2:2000, 4 bytes, partial sum in
        // the checksum field as the kernel leaves it.
        let mut p = vec![
            0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0x03, 0xe8, 0x07,
            0xd0, 0, 12, 0, 0, 1, 2, 3, 4,
        ];
        let pseudo = checksum::pseudo_header([10, 0, 0, 1], [10, 0, 0, 2], 17, 12);
        p[26..28].copy_from_slice(&pseudo.to_be_bytes());
        finish_checksum(&mut p, 20, 6).unwrap();
        // Pseudo-header and datagram, the field included, now sum to all
        // ones (RFC 768).
        assert_eq!(
            checksum::combine(&[pseudo, checksum::sum(&p[20..])]),
            0xffff
        );
        assert!(finish_checksum(&mut p, 30, 6).is_err());
        assert!(finish_checksum(&mut p, usize::MAX, 6).is_err());
    }

    /// Segment `i` of a flow: `payload` bytes from sequence 1000 + i*1448.
    fn flow_segment(i: u32, payload: usize, flags: u8) -> Vec<u8> {
        let mut p = packet(payload, flags);
        let seq = 1000u32.wrapping_add(i * 1448);
        p[24..28].copy_from_slice(&seq.to_be_bytes());
        let id = u16::from_be_bytes([p[4], p[5]]).wrapping_add(i as u16);
        p[4..6].copy_from_slice(&id.to_be_bytes());
        p
    }

    #[test]
    fn a_run_of_segments_coalesces_and_cuts_back_into_the_same_segments() {
        let segs: Vec<Vec<u8>> = (0..5)
            .map(|i| {
                let flags = if i == 3 { 0x18 } else { 0x10 };
                let len = if i == 3 { 700 } else { 1448 };
                flow_segment(i, len, flags)
            })
            .collect();
        let views: Vec<&[u8]> = segs.iter().map(|s| &s[..]).collect();
        let mut out = Vec::new();
        // The fourth (short, PSH) ends the run; the fifth starts another.
        let c = coalesce_tcp(&views, &mut out).unwrap();
        assert_eq!(
            c,
            Coalesced {
                segments: 4,
                mss: 1448,
                header_len: 52
            }
        );
        assert_eq!(out.len(), 52 + 3 * 1448 + 700);
        assert!(checksum::verify(&out[..20]));
        assert_eq!(out[33], 0x18, "the run ends with PSH");
        // Cut again (the checksum finished per segment), it gives the
        // original segments back, byte for byte but the identification.
        let cut = TcpSegments::new(&out, c.mss).unwrap();
        assert_eq!(cut.count(), 4);
        for (i, orig) in segs[..4].iter().enumerate() {
            let mut seg = vec![0u8; 2000];
            let n = cut.write(i, &mut seg).unwrap();
            let mut want = orig.clone();
            // Fill in the original's checksums to compare.
            want[36..38].copy_from_slice(&[0, 0]);
            let pseudo = checksum::pseudo_header(
                [10, 0, 0, 1],
                [10, 1, 0, 50],
                TCP,
                (want.len() - 20) as u16,
            );
            let c = !checksum::combine(&[pseudo, checksum::sum(&want[20..])]);
            want[36..38].copy_from_slice(&c.to_be_bytes());
            assert_eq!(seg[20..n], want[20..], "segment {i}");
        }
        assert!(
            coalesce_tcp(&views[4..], &mut out).is_none(),
            "one segment alone"
        );
    }

    #[test]
    fn segments_that_do_not_continue_each_other_are_left_alone() {
        let base = |i| flow_segment(i, 1448, 0x10);
        let check = |second: Vec<u8>, why: &str| {
            let first = base(0);
            let views = [&first[..], &second[..]];
            assert!(coalesce_tcp(&views, &mut Vec::new()).is_none(), "{why}");
        };
        check(base(2), "a gap in the sequence");
        check(base(0), "a repeat");
        let mut other_port = base(1);
        other_port[20] ^= 1;
        check(other_port, "another flow");
        let mut other_ack = base(1);
        other_ack[28] ^= 1;
        check(other_ack, "another acknowledgement");
        let mut other_option = base(1);
        other_option[45] ^= 1;
        check(other_option, "other options (a timestamp)");
        let mut fin = base(1);
        fin[33] |= TCP_FLAG_FIN;
        check(fin, "FIN");
        let mut no_df = base(1);
        no_df[6] = 0;
        check(no_df, "no DF");
        let mut ttl = base(1);
        ttl[8] = 3;
        check(ttl, "another TTL");
        check(flow_segment(1, 1500, 0x10), "longer than the first");
        let mut udp = base(1);
        udp[9] = 17;
        check(udp, "not TCP");
        // A short first segment ends its run at once.
        let (a, b) = (flow_segment(0, 100, 0x10), base(1));
        assert!(coalesce_tcp(&[&a[..], &b[..]], &mut Vec::new()).is_none());
        // Garbage of every length is refused, never panicked on.
        let g = base(1);
        for cut in 0..g.len() {
            let _ = coalesce_tcp(&[&g[..cut], &g[..]], &mut Vec::new());
            let _ = coalesce_tcp(&[&g[..], &g[..cut]], &mut Vec::new());
        }
        assert!(coalesce_tcp(&[], &mut Vec::new()).is_none());
    }
}
