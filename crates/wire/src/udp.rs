//! UDP header (RFC 768): registration messages travel in UDP port 434.

use crate::checksum;
use crate::error::{Error, Result, need};
use crate::ipv4::{be16, protocol};
use core::net::Ipv4Addr;

pub const HEADER_LEN: usize = field::CHECKSUM.end;

mod field {
    use core::ops::Range;

    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
}
/// Mobile IP registration port (RFC 5944 section 3.1).
pub const MOBILE_IP_PORT: u16 = 434;

/// Zero-copy view of a UDP datagram.
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
    /// Checks the header fits and the length field is within the buffer.
    pub fn check_len(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        need("UDP header", buf, HEADER_LEN)?;
        let len = usize::from(self.len());
        if len < HEADER_LEN {
            return Err(Error::BadLength {
                what: "UDP length",
                len,
            });
        }
        need("UDP datagram", buf, len)
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn src_port(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::SRC_PORT])
    }
    pub fn dst_port(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::DST_PORT])
    }
    /// The length field: header plus payload.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::LENGTH])
    }
    pub fn checksum(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::CHECKSUM])
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.len())]
    }
    /// True when the checksum verifies or is absent (zero, RFC 768).
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let data = &self.buffer.as_ref()[..usize::from(self.len())];
        let ph = checksum::pseudo_header(src.octets(), dst.octets(), protocol::UDP, self.len());
        checksum::combine(&[ph, checksum::sum(data)]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::SRC_PORT].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_dst_port(&mut self, v: u16) {
        self.buffer.as_mut()[field::DST_PORT].copy_from_slice(&v.to_be_bytes());
    }
    /// Writes the checksum field as is (see [`Packet::fill_checksum`]).
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let len = usize::from(self.len());
        &mut self.buffer.as_mut()[HEADER_LEN..len]
    }
    /// Computes the checksum over header, payload and pseudo-header. A
    /// computed zero is sent as all ones (RFC 768).
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&[0, 0]);
        let len = self.len();
        let ph = checksum::pseudo_header(src.octets(), dst.octets(), protocol::UDP, len);
        let sum =
            checksum::combine(&[ph, checksum::sum(&self.buffer.as_ref()[..usize::from(len)])]);
        let c = match !sum {
            0 => 0xffff,
            c => c,
        };
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }
}

/// A parsed UDP header. `emit` always writes a checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload_len: usize,
}

impl Repr {
    /// Parses and verifies the checksum against the IPv4 pseudo-header.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>, src: Ipv4Addr, dst: Ipv4Addr) -> Result<Repr> {
        packet.check_len()?;
        if !packet.verify_checksum(src, dst) {
            return Err(Error::BadChecksum { what: "UDP" });
        }
        Ok(Repr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            payload_len: packet.payload().len(),
        })
    }
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }
    /// Writes the header; the payload must already be in place, since the
    /// checksum covers it.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut Packet<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) {
        packet.set_src_port(self.src_port);
        packet.set_dst_port(self.dst_port);
        packet.set_len(self.buffer_len() as u16);
        packet.fill_checksum(src, dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 5);
    const D: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 1);

    #[test]
    fn checksum_and_errors() {
        let r = Repr {
            src_port: 434,
            dst_port: 434,
            payload_len: 3,
        };
        let mut b = [0u8; 11];
        b[8..].copy_from_slice(b"abc");
        r.emit(&mut Packet::new_unchecked(&mut b[..]), S, D);
        assert_eq!(Repr::parse(&Packet::new_unchecked(&b[..]), S, D), Ok(r));
        b[9] ^= 1;
        assert_eq!(
            Repr::parse(&Packet::new_unchecked(&b[..]), S, D),
            Err(Error::BadChecksum { what: "UDP" })
        );
        b[6..8].copy_from_slice(&[0, 0]);
        assert!(
            Repr::parse(&Packet::new_unchecked(&b[..]), S, D).is_ok(),
            "zero means no checksum"
        );
        b[5] = 4;
        assert!(matches!(
            Repr::parse(&Packet::new_unchecked(&b[..]), S, D),
            Err(Error::BadLength { .. })
        ));
        b[5] = 40;
        assert!(matches!(
            Repr::parse(&Packet::new_unchecked(&b[..]), S, D),
            Err(Error::Truncated { .. })
        ));
    }

    proptest! {
        #[test]
        fn roundtrip(sp in any::<u16>(), dp in any::<u16>(), payload in prop::collection::vec(any::<u8>(), 0..40)) {
            let r = Repr { src_port: sp, dst_port: dp, payload_len: payload.len() };
            let mut b = vec![0u8; r.buffer_len()];
            b[HEADER_LEN..].copy_from_slice(&payload);
            r.emit(&mut Packet::new_unchecked(&mut b[..]), S, D);
            let p = Packet::new_checked(&b[..]).unwrap();
            prop_assert_eq!(Repr::parse(&p, S, D), Ok(r));
            prop_assert_eq!(p.payload(), &payload[..]);
        }
        #[test]
        fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..40)) {
            let _ = Repr::parse(&Packet::new_unchecked(&b[..]), S, D);
        }
    }
}
