//! IPv4 header (RFC 791) with its checksum.

use crate::checksum;
use crate::error::{Error, Result, need};
use arrayvec::ArrayVec;
use core::net::Ipv4Addr;

/// IP protocol numbers this system carries (IANA "Assigned Internet
/// Protocol Numbers").
pub mod protocol {
    pub const ICMP: u8 = 1;
    /// IP in IP encapsulation, RFC 2003.
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    /// Generic Routing Encapsulation, RFC 2784.
    pub const GRE: u8 = 47;
}

pub const HEADER_LEN: usize = 20;
pub const MAX_OPTIONS_LEN: usize = 40;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: core::ops::Range<usize> = 2..4;
    pub const IDENT: core::ops::Range<usize> = 4..6;
    pub const FLG_OFF: core::ops::Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: core::ops::Range<usize> = 10..12;
    pub const SRC: core::ops::Range<usize> = 12..16;
    pub const DST: core::ops::Range<usize> = 16..20;
}

const FLAG_RESERVED: u16 = 0x8000;
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;

/// Zero-copy view of an IPv4 packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; accessors may panic on a short
    /// buffer, so use [`Packet::new_checked`] for anything from the network.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer after [`Packet::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// Checks that the header and the total length fit in the buffer, so
    /// every accessor is safe to call.
    pub fn check_len(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        need("IPv4 header", buf, HEADER_LEN)?;
        let hlen = self.header_len();
        if hlen < HEADER_LEN {
            return Err(Error::BadLength {
                what: "IPv4 header length (IHL)",
                len: hlen,
            });
        }
        need("IPv4 header with options", buf, hlen)?;
        let total = usize::from(self.total_len());
        if total < hlen {
            return Err(Error::BadLength {
                what: "IPv4 total length",
                len: total,
            });
        }
        need("IPv4 packet", buf, total)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }
    /// Header length in bytes.
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }
    pub fn total_len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::LENGTH])
    }
    pub fn ident(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::IDENT])
    }
    fn flags_offset(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::FLG_OFF])
    }
    pub fn dont_frag(&self) -> bool {
        self.flags_offset() & FLAG_DF != 0
    }
    pub fn more_frags(&self) -> bool {
        self.flags_offset() & FLAG_MF != 0
    }
    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        self.flags_offset() & 0x1fff
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }
    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }
    pub fn src_addr(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::SRC])
    }
    pub fn dst_addr(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::DST])
    }
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.header_len()]
    }
    /// True when the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        checksum::verify(&self.buffer.as_ref()[..self.header_len()])
    }
    /// The payload: from the end of the header to the total length (any
    /// link-layer padding after it is excluded).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }
    pub fn set_tos(&mut self, v: u8) {
        self.buffer.as_mut()[field::TOS] = v;
    }
    pub fn set_total_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_ident(&mut self, v: u16) {
        self.buffer.as_mut()[field::IDENT].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_flags_and_offset(&mut self, dont_frag: bool, more_frags: bool, offset: u16) {
        let mut v = offset & 0x1fff;
        if dont_frag {
            v |= FLAG_DF;
        }
        if more_frags {
            v |= FLAG_MF;
        }
        self.buffer.as_mut()[field::FLG_OFF].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }
    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = v;
    }
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&a.octets());
    }
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&a.octets());
    }
    /// Recomputes the header checksum over the header as it stands.
    pub fn fill_checksum(&mut self) {
        let hlen = self.header_len();
        let buf = self.buffer.as_mut();
        buf[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let c = checksum::checksum(&buf[..hlen]);
        buf[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
    /// Decrements the TTL and patches the checksum incrementally
    /// (RFC 1624), as a router does when forwarding.
    pub fn decrement_ttl(&mut self) {
        let ttl = self.ttl();
        if ttl == 0 {
            return;
        }
        let old = u16::from_be_bytes([ttl, self.protocol()]);
        self.set_ttl(ttl - 1);
        let new = u16::from_be_bytes([ttl - 1, self.protocol()]);
        // HC' = ~(~HC + ~m + m')
        let hc = self.checksum();
        let sum = checksum::combine(&[!hc, !old, new]);
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&(!sum).to_be_bytes());
    }
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hlen = self.header_len();
        &mut self.buffer.as_mut()[HEADER_LEN..hlen]
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (h, t) = (self.header_len(), usize::from(self.total_len()));
        &mut self.buffer.as_mut()[h..t]
    }
}

/// A parsed IPv4 header. Lossless: `emit` of a parsed header gives back
/// the same bytes (options included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr {
    pub tos: u8,
    pub ident: u16,
    pub dont_frag: bool,
    pub more_frags: bool,
    /// In 8-byte units.
    pub frag_offset: u16,
    pub ttl: u8,
    pub protocol: u8,
    pub src_addr: Ipv4Addr,
    pub dst_addr: Ipv4Addr,
    /// Options bytes as they appear, a multiple of 4 long (RFC 791 pads
    /// them); at most 40.
    pub options: ArrayVec<u8, MAX_OPTIONS_LEN>,
    pub payload_len: usize,
}

impl Repr {
    /// A plain header with no options, DF clear, as a host sends it.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, ttl: u8, payload_len: usize) -> Repr {
        Repr {
            tos: 0,
            ident: 0,
            dont_frag: false,
            more_frags: false,
            frag_offset: 0,
            ttl,
            protocol,
            src_addr: src,
            dst_addr: dst,
            options: ArrayVec::new(),
            payload_len,
        }
    }

    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.version() != 4 {
            return Err(Error::Unsupported {
                what: "IP version",
                value: packet.version().into(),
            });
        }
        if !packet.verify_checksum() {
            return Err(Error::BadChecksum {
                what: "IPv4 header",
            });
        }
        if packet.flags_offset() & FLAG_RESERVED != 0 {
            return Err(Error::Malformed {
                what: "IPv4 header",
                reason: "reserved flag bit set (RFC 791: must be zero)",
            });
        }
        let mut options = ArrayVec::new();
        // Cannot fail: IHL is 4 bits, so options are at most 40 bytes.
        let _ = options.try_extend_from_slice(packet.options());
        Ok(Repr {
            tos: packet.tos(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
            ttl: packet.ttl(),
            protocol: packet.protocol(),
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            options,
            payload_len: packet.payload().len(),
        })
    }

    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.len()
    }

    /// Header plus payload.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len
    }

    /// Writes the header (checksum included) into the front of `packet`,
    /// which must hold `buffer_len()` bytes; the payload is left as is.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        debug_assert!(
            self.options.len() % 4 == 0,
            "IPv4 options must be padded to 4"
        );
        packet.set_version_and_header_len(self.header_len());
        packet.set_tos(self.tos);
        packet.set_total_len(self.buffer_len() as u16);
        packet.set_ident(self.ident);
        packet.set_flags_and_offset(self.dont_frag, self.more_frags, self.frag_offset);
        packet.set_ttl(self.ttl);
        packet.set_protocol(self.protocol);
        packet.set_src_addr(self.src_addr);
        packet.set_dst_addr(self.dst_addr);
        packet.options_mut().copy_from_slice(&self.options);
        packet.fill_checksum();
    }
}

pub(crate) fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

pub(crate) fn addr(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // ping 10.0.0.2 from 10.0.0.1; checksum 0x0a99 computed independently
    // (Python, RFC 1071 sum over the header with the field zeroed).
    const ECHO: [u8; 28] = [
        0x45, 0x00, 0x00, 0x1c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0x0a, 0x99, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02, 0x08, 0x00, 0xf7, 0xff, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn parses_real_header() {
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert_eq!(r.src_addr, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(r.dst_addr, Ipv4Addr::new(10, 0, 0, 2));
        assert!(r.dont_frag);
        assert_eq!(r.protocol, protocol::ICMP);
        assert_eq!(r.payload_len, 8);
        let mut out = [0u8; 28];
        out[20..].copy_from_slice(p.payload());
        r.emit(&mut Packet::new_unchecked(&mut out[..]));
        assert_eq!(out, ECHO);
    }

    #[test]
    fn errors_name_the_fault() {
        assert!(matches!(
            Repr::parse(&Packet::new_unchecked(&ECHO[..10])),
            Err(Error::Truncated { .. })
        ));
        let mut bad = ECHO;
        bad[11] ^= 0xff;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&bad[..])),
            Err(Error::BadChecksum {
                what: "IPv4 header"
            })
        );
        let mut v6 = ECHO;
        v6[0] = 0x65;
        assert!(matches!(
            Repr::parse(&Packet::new_unchecked(&v6[..])),
            Err(Error::Unsupported { .. })
        ));
        let mut ihl = ECHO;
        ihl[0] = 0x44;
        assert!(matches!(
            Repr::parse(&Packet::new_unchecked(&ihl[..])),
            Err(Error::BadLength { .. })
        ));
        let mut long = ECHO;
        long[3] = 0xff;
        assert!(matches!(
            Repr::parse(&Packet::new_unchecked(&long[..])),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn ttl_decrement_keeps_checksum_valid() {
        let mut b = ECHO;
        let mut p = Packet::new_unchecked(&mut b[..]);
        for _ in 0..70 {
            p.decrement_ttl();
            assert!(p.verify_checksum());
        }
        assert_eq!(p.ttl(), 0);
    }

    pub(crate) fn arb_repr() -> impl Strategy<Value = Repr> {
        (
            any::<u8>(),
            any::<u16>(),
            any::<(bool, bool)>(),
            0u16..0x2000,
            any::<u8>(),
            any::<u8>(),
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            prop::collection::vec(any::<u8>(), 0..=10),
            0usize..64,
        )
            .prop_map(|(tos, ident, (df, mf), off, ttl, proto, s, d, opt, pl)| {
                let mut options = ArrayVec::new();
                for w in opt {
                    let _ = options.try_extend_from_slice(&[w; 4]);
                }
                Repr {
                    tos,
                    ident,
                    dont_frag: df,
                    more_frags: mf,
                    frag_offset: off,
                    ttl,
                    protocol: proto,
                    src_addr: s.into(),
                    dst_addr: d.into(),
                    options,
                    payload_len: pl,
                }
            })
    }

    proptest! {
        #[test]
        fn repr_roundtrip(r in arb_repr()) {
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut Packet::new_unchecked(&mut buf[..]));
            let parsed = Repr::parse(&Packet::new_checked(&buf[..]).unwrap()).unwrap();
            prop_assert_eq!(&parsed, &r);
            let mut again = vec![0u8; r.buffer_len()];
            parsed.emit(&mut Packet::new_unchecked(&mut again[..]));
            prop_assert_eq!(buf, again);
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..80)) {
            let p = Packet::new_unchecked(&b[..]);
            if let Ok(r) = Repr::parse(&p) {
                let mut out = b[..r.buffer_len()].to_vec();
                r.emit(&mut Packet::new_unchecked(&mut out[..]));
                prop_assert_eq!(&out[..], &b[..r.buffer_len()]);
            }
        }
    }
}
