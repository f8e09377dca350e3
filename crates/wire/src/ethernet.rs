//! Ethernet II framing and link-layer addresses.

use crate::error::{Error, Result, need};
use core::fmt;
use core::str::FromStr;

pub const HEADER_LEN: usize = field::ETHERTYPE.end;

mod field {
    use core::ops::Range;

    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
}

pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
}

/// A 48-bit MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }
    /// The group bit (including broadcast).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }
}

impl EthernetAddress {
    /// From the first six bytes of `b` (which must hold six).
    pub fn from_bytes(b: &[u8]) -> EthernetAddress {
        let mut a = [0u8; 6];
        a.copy_from_slice(&b[..6]);
        EthernetAddress(a)
    }
}

impl From<[u8; 6]> for EthernetAddress {
    fn from(b: [u8; 6]) -> Self {
        EthernetAddress(b)
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl FromStr for EthernetAddress {
    type Err = Error;
    /// `aa:bb:cc:dd:ee:ff` (also with `-`).
    fn from_str(s: &str) -> Result<Self> {
        let bad = Error::Malformed {
            what: "MAC address",
            reason: "expected six hex bytes like 02:00:00:00:00:01",
        };
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for o in &mut out {
            let p = parts.next().ok_or(bad)?;
            if p.is_empty() || p.len() > 2 {
                return Err(bad);
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| bad)?;
        }
        if parts.next().is_some() {
            return Err(bad);
        }
        Ok(EthernetAddress(out))
    }
}

/// Zero-copy view of an Ethernet II frame.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = Frame { buffer };
        f.check_len()?;
        Ok(f)
    }
    pub fn check_len(&self) -> Result<()> {
        need("Ethernet header", self.buffer.as_ref(), HEADER_LEN)
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn dst_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::DESTINATION])
    }
    pub fn src_addr(&self) -> EthernetAddress {
        EthernetAddress::from_bytes(&self.buffer.as_ref()[field::SOURCE])
    }
    pub fn ethertype(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::ETHERTYPE];
        u16::from_be_bytes([b[0], b[1]])
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    pub fn set_dst_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&a.0);
    }
    pub fn set_src_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&a.0);
    }
    pub fn set_ethertype(&mut self, v: u16) {
        self.buffer.as_mut()[field::ETHERTYPE].copy_from_slice(&v.to_be_bytes());
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// A parsed Ethernet II header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    pub dst_addr: EthernetAddress,
    pub src_addr: EthernetAddress,
    pub ethertype: u16,
}

impl Repr {
    pub fn parse<T: AsRef<[u8]>>(frame: &Frame<T>) -> Result<Repr> {
        frame.check_len()?;
        let ethertype = frame.ethertype();
        // Below 0x0600 the field is an 802.3 length, not Ethernet II.
        if ethertype < 0x0600 {
            return Err(Error::Unsupported {
                what: "EtherType (802.3 length field)",
                value: ethertype.into(),
            });
        }
        Ok(Repr {
            dst_addr: frame.dst_addr(),
            src_addr: frame.src_addr(),
            ethertype,
        })
    }
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }
    /// Writes the header into the front of `buf` (at least
    /// [`HEADER_LEN`] bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        let mut f = Frame::new_unchecked(buf);
        f.set_dst_addr(self.dst_addr);
        f.set_src_addr(self.src_addr);
        f.set_ethertype(self.ethertype);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text_form() {
        let a: EthernetAddress = "02:00:5e:10:00:01".parse().unwrap();
        assert_eq!(a.0, [2, 0, 0x5e, 0x10, 0, 1]);
        assert_eq!(a.to_string(), "02:00:5e:10:00:01");
        assert!("02:00:5e:10:00".parse::<EthernetAddress>().is_err());
        assert!("02:00:5e:10:00:01:02".parse::<EthernetAddress>().is_err());
        assert!("zz:00:5e:10:00:01".parse::<EthernetAddress>().is_err());
        assert!(
            EthernetAddress::BROADCAST.is_broadcast() && EthernetAddress::BROADCAST.is_multicast()
        );
        assert!(matches!(
            Repr::parse(&Frame::new_unchecked(&[0u8; 10][..])),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            Repr::parse(&Frame::new_unchecked(&[0u8; 14][..])),
            Err(Error::Unsupported { .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trip(b in prop::collection::vec(any::<u8>(), 0..30)) {
            if let Ok(r) = Repr::parse(&Frame::new_unchecked(&b[..])) {
                let mut out = b.clone();
                r.emit(&mut out);
                prop_assert_eq!(out, b);
            }
        }
    }
}
