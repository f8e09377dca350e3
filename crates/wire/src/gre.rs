//! GRE header (RFC 2784) with the key and sequence number extensions of
//! RFC 2890. Mobile IP uses it when the registration sets the G bit
//! (RFC 5944 section 3.3, RFC 3024 for the reverse direction).

use crate::checksum;
use crate::error::{Error, Result, need};
use crate::ipv4::be16;

/// Protocol type of an IPv4 payload (the EtherType, RFC 2784 section 2.4).
pub const PROTOCOL_IPV4: u16 = 0x0800;
pub const BASE_LEN: usize = field::PROTOCOL.end;

mod field {
    use core::ops::Range;

    /// C, R, K, S, Reserved0 and Ver.
    pub const FLAGS: Range<usize> = 0..2;
    pub const PROTOCOL: Range<usize> = 2..4;
    /// The optional words follow, each present when its flag is set, in
    /// this order: checksum and Reserved1, key, sequence number.
    pub const CHECKSUM: Range<usize> = 4..6;
    pub const RESERVED1: Range<usize> = 6..8;
    pub const OPTIONAL: usize = 4;
    pub const WORD: usize = 4;
}

const FLAG_C: u16 = 0x8000;
/// The routing-present bit of RFC 1701; RFC 2784 section 2.3 says a
/// receiver that does not implement RFC 1701 must discard such packets.
const FLAG_R: u16 = 0x4000;
const FLAG_K: u16 = 0x2000;
const FLAG_S: u16 = 0x1000;
/// Reserved0 bits 4..=12 that neither RFC 2784 nor RFC 2890 assign.
const RESERVED0: u16 = 0x0ff8;
const VERSION: u16 = 0x0007;

/// Zero-copy view of a GRE header and its payload.
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
    /// Checks that the fixed part and the optional fields announced by the
    /// flags fit in the buffer.
    pub fn check_len(&self) -> Result<()> {
        need("GRE header", self.buffer.as_ref(), BASE_LEN)?;
        need(
            "GRE header with optional fields",
            self.buffer.as_ref(),
            self.header_len(),
        )
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn flags(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::FLAGS])
    }
    pub fn checksum_present(&self) -> bool {
        self.flags() & FLAG_C != 0
    }
    pub fn key_present(&self) -> bool {
        self.flags() & FLAG_K != 0
    }
    pub fn sequence_present(&self) -> bool {
        self.flags() & FLAG_S != 0
    }
    pub fn version(&self) -> u8 {
        (self.flags() & VERSION) as u8
    }
    pub fn protocol_type(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::PROTOCOL])
    }
    /// Length of the header with its optional fields.
    pub fn header_len(&self) -> usize {
        BASE_LEN
            + 4 * (usize::from(self.checksum_present())
                + usize::from(self.key_present())
                + usize::from(self.sequence_present()))
    }
    /// The optional word at `index` (0 the first after the base header).
    fn word_range(index: usize) -> core::ops::Range<usize> {
        let at = field::OPTIONAL + field::WORD * index;
        at..at + field::WORD
    }
    fn word(&self, index: usize) -> u32 {
        let b = &self.buffer.as_ref()[Self::word_range(index)];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    pub fn checksum(&self) -> Option<u16> {
        self.checksum_present()
            .then(|| be16(&self.buffer.as_ref()[field::CHECKSUM]))
    }
    fn reserved1(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::RESERVED1])
    }
    pub fn key(&self) -> Option<u32> {
        self.key_present()
            .then(|| self.word(usize::from(self.checksum_present())))
    }
    pub fn sequence(&self) -> Option<u32> {
        self.sequence_present().then(|| {
            self.word(usize::from(self.checksum_present()) + usize::from(self.key_present()))
        })
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
    /// True when there is no checksum or it verifies over the whole GRE
    /// packet (RFC 2784 section 2.5).
    pub fn verify_checksum(&self) -> bool {
        !self.checksum_present() || checksum::verify(self.buffer.as_ref())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Writes the C, K and S flags (version 0, the other bits zero); the
    /// optional fields' places follow from them, so set the flags first.
    pub fn set_flags(&mut self, checksum: bool, key: bool, sequence: bool) {
        let mut flags = 0u16;
        if checksum {
            flags |= FLAG_C;
        }
        if key {
            flags |= FLAG_K;
        }
        if sequence {
            flags |= FLAG_S;
        }
        self.buffer.as_mut()[field::FLAGS].copy_from_slice(&flags.to_be_bytes());
    }
    pub fn set_protocol_type(&mut self, v: u16) {
        self.buffer.as_mut()[field::PROTOCOL].copy_from_slice(&v.to_be_bytes());
    }
    /// Writes the checksum and a zero Reserved1 (C must be set).
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
        self.buffer.as_mut()[field::RESERVED1].fill(0);
    }
    /// Writes the key (K must be set).
    pub fn set_key(&mut self, v: u32) {
        let r = Self::word_range(usize::from(self.checksum_present()));
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }
    /// Writes the sequence number (S must be set).
    pub fn set_sequence(&mut self, v: u32) {
        let r = Self::word_range(
            usize::from(self.checksum_present()) + usize::from(self.key_present()),
        );
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }
    /// Computes the checksum over the whole buffer (header and payload,
    /// RFC 2784 section 2.5); C must be set.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let h = self.header_len();
        &mut self.buffer.as_mut()[h..]
    }
}

/// A parsed GRE header. `emit` of a parsed header gives back the same
/// bytes; Reserved1 (after the checksum) is written as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub checksum: bool,
    pub key: Option<u32>,
    pub sequence: Option<u32>,
    pub protocol_type: u16,
}

impl Repr {
    /// Plain GRE carrying IPv4, with the optional key and sequence number.
    pub fn ipv4(key: Option<u32>, sequence: Option<u32>) -> Repr {
        Repr {
            checksum: false,
            key,
            sequence,
            protocol_type: PROTOCOL_IPV4,
        }
    }

    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr> {
        packet.check_len()?;
        if packet.version() != 0 {
            return Err(Error::Unsupported {
                what: "GRE version",
                value: packet.version().into(),
            });
        }
        if packet.flags() & FLAG_R != 0 {
            return Err(Error::Malformed {
                what: "GRE header",
                reason: "routing present bit set (RFC 1701 source routing is not supported)",
            });
        }
        if packet.flags() & RESERVED0 != 0 {
            return Err(Error::Malformed {
                what: "GRE header",
                reason: "reserved0 bits set (RFC 2784 section 2.3)",
            });
        }
        if packet.checksum_present() {
            if packet.reserved1() != 0 {
                return Err(Error::Malformed {
                    what: "GRE header",
                    reason: "reserved1 is not zero",
                });
            }
            if !packet.verify_checksum() {
                return Err(Error::BadChecksum { what: "GRE" });
            }
        }
        Ok(Repr {
            checksum: packet.checksum_present(),
            key: packet.key(),
            sequence: packet.sequence(),
            protocol_type: packet.protocol_type(),
        })
    }

    pub fn header_len(&self) -> usize {
        BASE_LEN
            + 4 * (usize::from(self.checksum)
                + usize::from(self.key.is_some())
                + usize::from(self.sequence.is_some()))
    }

    /// Writes the header into the front of `buffer`. With a checksum, the
    /// payload must already follow the header in `buffer` (and `buffer`
    /// must end where the payload ends), since the checksum covers it.
    pub fn emit(&self, buffer: &mut [u8]) {
        let mut p = Packet::new_unchecked(buffer);
        p.set_flags(self.checksum, self.key.is_some(), self.sequence.is_some());
        p.set_protocol_type(self.protocol_type);
        if let Some(k) = self.key {
            p.set_key(k);
        }
        if let Some(s) = self.sequence {
            p.set_sequence(s);
        }
        if self.checksum {
            p.fill_checksum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn key_and_sequence_layout() {
        // RFC 2890 section 2: flags 0x3000 (K and S), protocol 0x0800,
        // then key, then sequence number.
        let r = Repr::ipv4(Some(0x01020304), Some(7));
        let mut b = [0u8; 12];
        r.emit(&mut b);
        assert_eq!(b, [0x30, 0, 0x08, 0, 1, 2, 3, 4, 0, 0, 0, 7]);
        assert_eq!(Repr::parse(&Packet::new_unchecked(&b[..])), Ok(r));
    }

    #[test]
    fn checksum_covers_payload() {
        let r = Repr {
            checksum: true,
            key: None,
            sequence: None,
            protocol_type: PROTOCOL_IPV4,
        };
        let mut b = [0u8; 11];
        b[8..].copy_from_slice(b"abc");
        r.emit(&mut b);
        assert_eq!(Repr::parse(&Packet::new_unchecked(&b[..])), Ok(r));
        b[10] ^= 1;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..])),
            Err(Error::BadChecksum { what: "GRE" })
        );
    }

    #[test]
    fn refuses_what_rfc_2784_refuses() {
        let cases: [(&[u8], &str); 5] = [
            (&[0x00, 0x01, 0x08, 0x00], "version"),
            (&[0x40, 0x00, 0x08, 0x00], "routing"),
            (&[0x00, 0x80, 0x08, 0x00], "reserved0"),
            (&[0x20, 0x00, 0x08, 0x00, 1, 2], "truncated key"),
            (&[0x80, 0x00, 0x08, 0x00, 0, 0, 0, 1], "reserved1"),
        ];
        for (bytes, why) in cases {
            assert!(Repr::parse(&Packet::new_unchecked(bytes)).is_err(), "{why}");
        }
        assert!(matches!(
            Repr::parse(&Packet::new_unchecked(&[0x20, 0, 8, 0, 1][..])),
            Err(Error::Truncated { .. })
        ));
    }

    proptest! {
        #[test]
        fn roundtrip(c in any::<bool>(), k in any::<Option<u32>>(), s in any::<Option<u32>>(),
                     pt in any::<u16>(), payload in prop::collection::vec(any::<u8>(), 0..32)) {
            let r = Repr { checksum: c, key: k, sequence: s, protocol_type: pt };
            let mut b = vec![0u8; r.header_len() + payload.len()];
            b[r.header_len()..].copy_from_slice(&payload);
            r.emit(&mut b);
            let p = Packet::new_checked(&b[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p), Ok(r));
            prop_assert_eq!(p.payload(), &payload[..]);
        }

        #[test]
        fn arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..24)) {
            if let Ok(r) = Repr::parse(&Packet::new_unchecked(&b[..])) {
                let mut out = b.clone();
                r.emit(&mut out);
                prop_assert_eq!(out, b);
            }
        }
    }
}
