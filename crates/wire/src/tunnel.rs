//! Tunnel encapsulation between home agent and care-of address: IP in IP
//! (RFC 2003) and GRE (RFC 2784, RFC 2890), in place in a buffer with
//! headroom so the data plane copies nothing.

use crate::error::{Error, Result};
use crate::gre;
use crate::ipv4::{self, protocol};
use core::net::Ipv4Addr;
use core::ops::Range;

/// How packets travel in the tunnel, as granted in the registration
/// (RFC 5944 section 3.3: IP in IP by default, GRE when the G bit is set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encapsulation {
    IpInIp,
    /// GRE, with the RFC 2890 key and whether to number packets.
    Gre {
        key: Option<u32>,
        sequence: bool,
    },
}

impl Encapsulation {
    /// Bytes placed in front of the inner packet.
    pub fn overhead(&self) -> usize {
        ipv4::HEADER_LEN
            + match self {
                Encapsulation::IpInIp => 0,
                Encapsulation::Gre { key, sequence } => {
                    gre::BASE_LEN + 4 * (usize::from(key.is_some()) + usize::from(*sequence))
                }
            }
    }
}

/// The sending end of one tunnel: endpoints, encapsulation, and the
/// counters for the outer IPv4 identification and GRE sequence number.
#[derive(Debug, Clone)]
pub struct Encapsulator {
    pub local: Ipv4Addr,
    pub remote: Ipv4Addr,
    pub encapsulation: Encapsulation,
    /// TTL of the outer header: RFC 2003 section 3.1 asks for a value
    /// "sufficient to deliver the encapsulated datagram to the tunnel exit".
    pub ttl: u8,
    next_ident: u16,
    next_sequence: u32,
}

impl Encapsulator {
    pub fn new(local: Ipv4Addr, remote: Ipv4Addr, encapsulation: Encapsulation) -> Encapsulator {
        Encapsulator {
            local,
            remote,
            encapsulation,
            ttl: 64,
            next_ident: 0,
            next_sequence: 0,
        }
    }

    /// Encapsulates the inner IPv4 packet at `buf[start..start + len]`,
    /// writing the outer headers into the headroom in front of it, and
    /// returns the range of the whole tunnel packet.
    ///
    /// RFC 2003 section 3.1: when the tunnel is entered while forwarding,
    /// the inner TTL is decremented first and the packet dropped if it
    /// reaches zero ([`Error::TtlExceeded`]); the outer TOS is copied from
    /// the inner header, and a DF bit set inside is set outside too.
    pub fn encapsulate(
        &mut self,
        buf: &mut [u8],
        start: usize,
        len: usize,
        forwarding: bool,
    ) -> Result<Range<usize>> {
        let overhead = self.encapsulation.overhead();
        if start < overhead {
            return Err(Error::Truncated {
                what: "tunnel headroom",
                need: overhead,
                have: start,
            });
        }
        let end = start
            .checked_add(len)
            .filter(|&e| e <= buf.len())
            .ok_or(Error::Truncated {
                what: "inner packet",
                need: start.saturating_add(len),
                have: buf.len(),
            })?;
        let total = overhead + len;
        if total > usize::from(u16::MAX) {
            return Err(Error::BadLength {
                what: "tunnel packet",
                len: total,
            });
        }
        let mut inner = ipv4::Packet::new_checked(&mut buf[start..end])?;
        if inner.version() != 4 {
            return Err(Error::Unsupported {
                what: "inner IP version",
                value: inner.version().into(),
            });
        }
        if forwarding {
            if inner.ttl() <= 1 {
                return Err(Error::TtlExceeded);
            }
            inner.decrement_ttl();
        }
        let (tos, df) = (inner.tos(), inner.dont_frag());

        let outer_start = start - overhead;
        let proto = match self.encapsulation {
            Encapsulation::IpInIp => protocol::IPIP,
            Encapsulation::Gre { key, sequence } => {
                let seq = sequence.then(|| {
                    let s = self.next_sequence;
                    self.next_sequence = s.wrapping_add(1);
                    s
                });
                gre::Repr::ipv4(key, seq).emit(&mut buf[outer_start + ipv4::HEADER_LEN..start]);
                protocol::GRE
            }
        };
        let mut outer = ipv4::Repr::new(
            self.local,
            self.remote,
            proto,
            self.ttl,
            total - ipv4::HEADER_LEN,
        );
        outer.tos = tos;
        outer.dont_frag = df;
        outer.ident = self.next_ident;
        self.next_ident = self.next_ident.wrapping_add(1);
        outer.emit(&mut ipv4::Packet::new_unchecked(&mut buf[outer_start..end]));
        Ok(outer_start..end)
    }
}

/// What [`decapsulate`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decapsulated {
    /// Tunnel entry point (the home agent, or the foreign agent for a
    /// reverse tunnel).
    pub outer_src: Ipv4Addr,
    pub outer_dst: Ipv4Addr,
    /// The encapsulation; for GRE, the key seen. `sequence` tells whether
    /// a sequence number was present, its value is in `gre_sequence`.
    pub encapsulation: Encapsulation,
    pub gre_sequence: Option<u32>,
    /// Where the inner IPv4 packet lies in the buffer (its own total
    /// length, without any trailing padding).
    pub inner: Range<usize>,
    pub inner_src: Ipv4Addr,
    pub inner_dst: Ipv4Addr,
}

/// Takes apart a tunnel packet (outer IPv4 header first). The inner TTL is
/// left alone, as RFC 2003 section 3.1 says; fragments are refused since
/// the kernel's raw sockets hand us reassembled packets.
pub fn decapsulate(buf: &[u8]) -> Result<Decapsulated> {
    let outer = ipv4::Packet::new_checked(buf)?;
    let outer_repr = ipv4::Repr::parse(&outer)?;
    if outer_repr.more_frags || outer_repr.frag_offset != 0 {
        return Err(Error::Malformed {
            what: "tunnel packet",
            reason: "outer header is a fragment",
        });
    }
    let hlen = outer.header_len();
    let (encapsulation, gre_sequence, inner_off) = match outer_repr.protocol {
        protocol::IPIP => (Encapsulation::IpInIp, None, hlen),
        protocol::GRE => {
            let g = gre::Packet::new_checked(outer.payload())?;
            let r = gre::Repr::parse(&g)?;
            if r.protocol_type != gre::PROTOCOL_IPV4 {
                return Err(Error::Unsupported {
                    what: "GRE protocol type",
                    value: r.protocol_type.into(),
                });
            }
            (
                Encapsulation::Gre {
                    key: r.key,
                    sequence: r.sequence.is_some(),
                },
                r.sequence,
                hlen + g.header_len(),
            )
        }
        other => {
            return Err(Error::Unsupported {
                what: "tunnel protocol",
                value: other.into(),
            });
        }
    };
    let outer_end = usize::from(outer.total_len());
    let inner = ipv4::Packet::new_checked(&buf[inner_off..outer_end])?;
    if inner.version() != 4 {
        return Err(Error::Unsupported {
            what: "inner IP version",
            value: inner.version().into(),
        });
    }
    let inner_len = usize::from(inner.total_len());
    Ok(Decapsulated {
        outer_src: outer_repr.src_addr,
        outer_dst: outer_repr.dst_addr,
        encapsulation,
        gre_sequence,
        inner: inner_off..inner_off + inner_len,
        inner_src: inner.src_addr(),
        inner_dst: inner.dst_addr(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
    const COA: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 1);
    const CN: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 9);
    const MN: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);

    /// A buffer with `headroom` free bytes and then an inner packet.
    fn inner(headroom: usize, ttl: u8, tos: u8, df: bool, payload: &[u8]) -> Vec<u8> {
        let mut r = ipv4::Repr::new(CN, MN, protocol::UDP, ttl, payload.len());
        r.tos = tos;
        r.dont_frag = df;
        let mut b = vec![0u8; headroom + r.buffer_len()];
        let mut p = ipv4::Packet::new_unchecked(&mut b[headroom..]);
        r.emit(&mut p);
        p.payload_mut().copy_from_slice(payload);
        b
    }

    #[test]
    fn ipip_follows_rfc2003() {
        let mut e = Encapsulator::new(HA, COA, Encapsulation::IpInIp);
        let mut b = inner(20, 10, 0xb8, true, b"data");
        let original = b[20..].to_vec();
        let range = e.encapsulate(&mut b, 20, 24, true).unwrap();
        assert_eq!(range, 0..44);
        let outer = ipv4::Repr::parse(&ipv4::Packet::new_unchecked(&b[..])).unwrap();
        assert_eq!(
            (outer.src_addr, outer.dst_addr, outer.protocol),
            (HA, COA, protocol::IPIP)
        );
        assert_eq!(outer.tos, 0xb8, "TOS copied from inner");
        assert!(outer.dont_frag, "DF copied from inner");
        assert_eq!(outer.ttl, 64);
        let inner_p = ipv4::Packet::new_unchecked(&b[20..]);
        assert_eq!(inner_p.ttl(), 9, "inner TTL decremented when forwarding");
        assert!(inner_p.verify_checksum());

        let d = decapsulate(&b).unwrap();
        assert_eq!(d.encapsulation, Encapsulation::IpInIp);
        assert_eq!(
            (d.outer_src, d.outer_dst, d.inner_src, d.inner_dst),
            (HA, COA, CN, MN)
        );
        assert_eq!(d.inner, 20..44);
        assert_eq!(
            ipv4::Packet::new_unchecked(&b[d.inner.clone()]).ttl(),
            9,
            "decapsulation keeps TTL"
        );
        assert_eq!(&b[d.inner.clone()][..8], &original[..8]);
    }

    #[test]
    fn gre_with_key_and_sequence() {
        let enc = Encapsulation::Gre {
            key: Some(42),
            sequence: true,
        };
        assert_eq!(enc.overhead(), 32);
        let mut e = Encapsulator::new(COA, HA, enc);
        for expected_seq in 0..3 {
            let mut b = inner(32, 64, 0, false, b"xyz");
            let range = e.encapsulate(&mut b, 32, 23, false).unwrap();
            let d = decapsulate(&b[range]).unwrap();
            assert_eq!(d.encapsulation, enc);
            assert_eq!(d.gre_sequence, Some(expected_seq));
            assert_eq!(d.inner, 32..55);
            assert_eq!(
                ipv4::Packet::new_unchecked(&b[32..]).ttl(),
                64,
                "not forwarding: TTL kept"
            );
            assert!(!ipv4::Packet::new_unchecked(&b[..]).dont_frag());
        }
    }

    #[test]
    fn refusals() {
        let mut e = Encapsulator::new(HA, COA, Encapsulation::IpInIp);
        let mut b = inner(20, 1, 0, false, b"");
        assert_eq!(e.encapsulate(&mut b, 20, 20, true), Err(Error::TtlExceeded));
        let mut b = inner(10, 64, 0, false, b"");
        assert!(matches!(
            e.encapsulate(&mut b, 10, 20, false),
            Err(Error::Truncated { .. })
        ));
        let mut b = inner(20, 64, 0, false, b"");
        assert!(matches!(
            e.encapsulate(&mut b, 20, 400, false),
            Err(Error::Truncated { .. })
        ));
        b[20] = 0x65;
        assert!(e.encapsulate(&mut b, 20, 20, false).is_err());

        // Not a tunnel protocol: UDP.
        let plain = inner(0, 64, 0, false, b"abcdefgh");
        assert_eq!(
            decapsulate(&plain),
            Err(Error::Unsupported {
                what: "tunnel protocol",
                value: 17
            })
        );
        // IPIP whose inner packet is cut short.
        let mut b = inner(20, 64, 0, false, b"abcdefgh");
        let r = e.encapsulate(&mut b, 20, 28, false).unwrap();
        let mut cut = b[r].to_vec();
        cut.truncate(40);
        let mut p = ipv4::Packet::new_unchecked(&mut cut[..]);
        p.set_total_len(40);
        p.fill_checksum();
        assert!(matches!(decapsulate(&cut), Err(Error::Truncated { .. })));
    }

    proptest! {
        #[test]
        fn encapsulate_then_decapsulate(key in any::<Option<u32>>(), seq in any::<bool>(), gre in any::<bool>(),
                                        ttl in 2u8.., tos in any::<u8>(), df in any::<bool>(),
                                        payload in prop::collection::vec(any::<u8>(), 0..64)) {
            let enc = if gre { Encapsulation::Gre { key, sequence: seq } } else { Encapsulation::IpInIp };
            let room = enc.overhead();
            let mut b = inner(room, ttl, tos, df, &payload);
            let before = b[room..].to_vec();
            let mut e = Encapsulator::new(HA, COA, enc);
            let r = e.encapsulate(&mut b, room, before.len(), false).unwrap();
            let d = decapsulate(&b[r.clone()]).unwrap();
            prop_assert_eq!(d.encapsulation, enc);
            prop_assert_eq!(&b[d.inner.clone()], &before[..]);
            let outer = ipv4::Packet::new_unchecked(&b[..]);
            prop_assert_eq!((outer.tos(), outer.dont_frag()), (tos, df));
        }

        #[test]
        fn decapsulate_never_panics(b in prop::collection::vec(any::<u8>(), 0..96)) {
            let _ = decapsulate(&b);
        }
    }
}
