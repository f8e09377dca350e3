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

/// TCP's protocol number.
const TCP: u8 = 6;
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
        need(WHAT, packet, 20)?;
        if packet[0] >> 4 != 4 {
            return Err(Error::Unsupported {
                what: WHAT,
                value: u32::from(packet[0] >> 4),
            });
        }
        let ip_len = usize::from(packet[0] & 0x0f) * 4;
        if ip_len < 20 {
            return Err(Error::BadLength {
                what: WHAT,
                len: ip_len,
            });
        }
        let total = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
        if total != packet.len() {
            return Err(Error::BadLength {
                what: WHAT,
                len: total,
            });
        }
        if packet[9] != TCP {
            return Err(Error::Unsupported {
                what: WHAT,
                value: u32::from(packet[9]),
            });
        }
        // More fragments, or an offset: not a packet to segment.
        if u16::from_be_bytes([packet[6], packet[7]]) & 0x3fff != 0 {
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
        out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        let id = u16::from_be_bytes([out[4], out[5]]).wrapping_add(i as u16);
        out[4..6].copy_from_slice(&id.to_be_bytes());
        out[10..12].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&out[..ip]);
        out[10..12].copy_from_slice(&c.to_be_bytes());
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
        let pseudo = checksum::pseudo_header(
            [
                self.packet[12],
                self.packet[13],
                self.packet[14],
                self.packet[15],
            ],
            [
                self.packet[16],
                self.packet[17],
                self.packet[18],
                self.packet[19],
            ],
            TCP,
            (len - ip) as u16,
        );
        let c = !checksum::combine(&[pseudo, checksum::sum(tcp)]);
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        Ok(len)
    }
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
}
