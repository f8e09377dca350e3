//! Binding Update (type 18) and Binding Acknowledge (type 19) from the
//! Mobile IPv4 route-optimization draft (draft-ietf-mobileip-optim-11,
//! sections 4.3 and 4.4). IOS's hidden `ip mobile bindupdate [ack]`
//! (seed 004's note) uses them from home agent to previous foreign agent,
//! so the old foreign agent forgets a visitor that moved. They travel on
//! UDP port 434 and carry a Route Optimization Authentication Extension.

use crate::error::{Error, Result, need};
use crate::extension::{self, Extensions};
use crate::identification::Identification;
use crate::ipv4::{addr, be16};
use core::net::Ipv4Addr;

pub const TYPE_BINDING_UPDATE: u8 = 18;
pub const TYPE_BINDING_ACK: u8 = 19;
pub const UPDATE_LEN: usize = 20;
pub const ACK_LEN: usize = 16;

/// A Binding Update: "the mobile node `home_address` is now at
/// `care_of_address` for `lifetime` seconds" (0: forget it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRepr<'a> {
    /// A: the receiver must answer with a Binding Acknowledge.
    pub acknowledge: bool,
    /// I: the Identification field is present (always, here: the draft
    /// keeps the field and uses the bit to say it is meaningful).
    pub identification_present: bool,
    /// M: minimal encapsulation to the care-of address.
    pub minimal_encapsulation: bool,
    /// G: GRE to the care-of address.
    pub gre: bool,
    /// The four reserved bits, kept so parsing is lossless.
    pub reserved: u8,
    pub lifetime: u16,
    pub home_address: Ipv4Addr,
    pub care_of_address: Ipv4Addr,
    pub identification: Identification,
    pub extensions: Extensions<'a>,
}

impl<'a> UpdateRepr<'a> {
    pub fn parse(buf: &'a [u8]) -> Result<UpdateRepr<'a>> {
        need("Binding Update", buf, UPDATE_LEN)?;
        if buf[0] != TYPE_BINDING_UPDATE {
            return Err(Error::Unsupported {
                what: "Binding Update type",
                value: buf[0].into(),
            });
        }
        let f = buf[1];
        Ok(UpdateRepr {
            acknowledge: f & 0x80 != 0,
            identification_present: f & 0x40 != 0,
            minimal_encapsulation: f & 0x20 != 0,
            gre: f & 0x10 != 0,
            reserved: f & 0x0f,
            lifetime: be16(&buf[2..4]),
            home_address: addr(&buf[4..8]),
            care_of_address: addr(&buf[8..12]),
            identification: Identification(u64::from_be_bytes(
                buf[12..20].try_into().unwrap_or([0; 8]),
            )),
            extensions: extension::parse_all(&buf[UPDATE_LEN..])?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        UPDATE_LEN + extension::buffer_len(&self.extensions)
    }

    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = TYPE_BINDING_UPDATE;
        buf[1] = (u8::from(self.acknowledge) << 7)
            | (u8::from(self.identification_present) << 6)
            | (u8::from(self.minimal_encapsulation) << 5)
            | (u8::from(self.gre) << 4)
            | (self.reserved & 0x0f);
        buf[2..4].copy_from_slice(&self.lifetime.to_be_bytes());
        buf[4..8].copy_from_slice(&self.home_address.octets());
        buf[8..12].copy_from_slice(&self.care_of_address.octets());
        buf[12..20].copy_from_slice(&self.identification.0.to_be_bytes());
        extension::emit_all(&self.extensions, &mut buf[UPDATE_LEN..]);
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v);
        v
    }
}

/// A Binding Acknowledge of the update for `home_address` with
/// `identification`; N set means the update was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckRepr<'a> {
    pub negative: bool,
    /// The 23 reserved bits, kept so parsing is lossless.
    pub reserved: u32,
    pub home_address: Ipv4Addr,
    pub identification: Identification,
    pub extensions: Extensions<'a>,
}

impl<'a> AckRepr<'a> {
    pub fn parse(buf: &'a [u8]) -> Result<AckRepr<'a>> {
        need("Binding Acknowledge", buf, ACK_LEN)?;
        if buf[0] != TYPE_BINDING_ACK {
            return Err(Error::Unsupported {
                what: "Binding Acknowledge type",
                value: buf[0].into(),
            });
        }
        let word = u32::from_be_bytes([0, buf[1], buf[2], buf[3]]);
        Ok(AckRepr {
            negative: word & 0x80_0000 != 0,
            reserved: word & 0x7f_ffff,
            home_address: addr(&buf[4..8]),
            identification: Identification(u64::from_be_bytes(
                buf[8..16].try_into().unwrap_or([0; 8]),
            )),
            extensions: extension::parse_all(&buf[ACK_LEN..])?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        ACK_LEN + extension::buffer_len(&self.extensions)
    }

    pub fn emit(&self, buf: &mut [u8]) {
        let word = (u32::from(self.negative) << 23) | (self.reserved & 0x7f_ffff);
        buf[0] = TYPE_BINDING_ACK;
        buf[1..4].copy_from_slice(&word.to_be_bytes()[1..]);
        buf[4..8].copy_from_slice(&self.home_address.octets());
        buf[8..16].copy_from_slice(&self.identification.0.to_be_bytes());
        extension::emit_all(&self.extensions, &mut buf[ACK_LEN..]);
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::{Authentication, Extension};
    use proptest::prelude::*;

    #[test]
    fn layout_and_errors() {
        let mut ext = Extensions::new();
        ext.push(Extension::RouteOptimizationAuth(Authentication {
            spi: 0x100,
            authenticator: &[1; 16],
        }));
        let u = UpdateRepr {
            acknowledge: true,
            identification_present: true,
            minimal_encapsulation: false,
            gre: false,
            reserved: 0,
            lifetime: 0,
            home_address: Ipv4Addr::new(10, 1, 0, 50),
            care_of_address: Ipv4Addr::new(198, 51, 100, 1),
            identification: Identification(5),
            extensions: ext,
        };
        let b = u.to_vec();
        assert_eq!(&b[..2], &[18, 0xc0]);
        assert_eq!(b.len(), 20 + 22);
        assert_eq!(UpdateRepr::parse(&b).unwrap(), u);
        assert!(matches!(
            UpdateRepr::parse(&b[..19]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(AckRepr::parse(&b), Err(Error::Unsupported { .. })));
    }

    proptest! {
        #[test]
        fn update_round_trip(f in any::<u8>(), l in any::<u16>(), h in any::<[u8; 4]>(), c in any::<[u8; 4]>(), id in any::<u64>()) {
            let mut b = vec![18, f];
            b.extend_from_slice(&l.to_be_bytes());
            b.extend_from_slice(&h);
            b.extend_from_slice(&c);
            b.extend_from_slice(&id.to_be_bytes());
            let u = UpdateRepr::parse(&b).unwrap();
            prop_assert_eq!(&u.to_vec(), &b);
        }

        #[test]
        fn ack_round_trip(w in any::<[u8; 3]>(), h in any::<[u8; 4]>(), id in any::<u64>()) {
            let mut b = vec![19];
            b.extend_from_slice(&w);
            b.extend_from_slice(&h);
            b.extend_from_slice(&id.to_be_bytes());
            let a = AckRepr::parse(&b).unwrap();
            prop_assert_eq!(&a.to_vec(), &b);
        }

        #[test]
        fn arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..60)) {
            if let Ok(u) = UpdateRepr::parse(&b) { prop_assert_eq!(&u.to_vec(), &b); }
            if let Ok(a) = AckRepr::parse(&b) { prop_assert_eq!(&a.to_vec(), &b); }
        }
    }
}
