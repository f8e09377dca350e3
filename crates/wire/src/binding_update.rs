//! Binding Update (type 18) and Binding Acknowledge (type 19) from the
//! Mobile IPv4 route-optimization draft (draft-ietf-mobileip-optim-11,
//! sections 4.3 and 4.4). The home agent's `ip mobile bindupdate [ack]`
//! option sends them to the previous foreign agent of a mobile node, so
//! that agent forgets a visitor that moved. They travel on
//! UDP port 434 and carry a Route Optimization Authentication Extension.

use crate::error::{Error, Result, need};
use crate::extension::{self, ExtensionList, Extensions};
use crate::identification::Identification;
use crate::ipv4::{addr, be16};
use core::net::Ipv4Addr;

pub const TYPE_BINDING_UPDATE: u8 = 18;
pub const TYPE_BINDING_ACK: u8 = 19;
pub const UPDATE_LEN: usize = field::UPDATE_IDENTIFICATION.end;
pub const ACK_LEN: usize = field::ACK_IDENTIFICATION.end;

mod field {
    use core::ops::Range;

    pub const TYPE: usize = 0;
    /// Binding Update: A I M G and four reserved bits.
    pub const UPDATE_FLAGS: usize = 1;
    pub const UPDATE_LIFETIME: Range<usize> = 2..4;
    pub const UPDATE_HOME_ADDRESS: Range<usize> = 4..8;
    pub const UPDATE_CARE_OF_ADDRESS: Range<usize> = 8..12;
    pub const UPDATE_IDENTIFICATION: Range<usize> = 12..20;
    /// Binding Acknowledge: N and 23 reserved bits.
    pub const ACK_WORD: Range<usize> = 1..4;
    pub const ACK_HOME_ADDRESS: Range<usize> = 4..8;
    pub const ACK_IDENTIFICATION: Range<usize> = 8..16;
}

const FLAG_A: u8 = 0x80;
const FLAG_I: u8 = 0x40;
const FLAG_M: u8 = 0x20;
const FLAG_G: u8 = 0x10;
const UPDATE_RESERVED: u8 = 0x0f;
const ACK_N: u32 = 0x80_0000;
const ACK_RESERVED: u32 = 0x7f_ffff;

fn ident(b: &[u8]) -> Identification {
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    Identification(u64::from_be_bytes(w))
}

/// Zero-copy view of a Binding Update.
#[derive(Debug, Clone)]
pub struct UpdatePacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UpdatePacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        UpdatePacket { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = UpdatePacket { buffer };
        p.check_len()?;
        Ok(p)
    }
    pub fn check_len(&self) -> Result<()> {
        need("Binding Update", self.buffer.as_ref(), UPDATE_LEN)
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::UPDATE_FLAGS]
    }
    pub fn acknowledge(&self) -> bool {
        self.flags() & FLAG_A != 0
    }
    pub fn identification_present(&self) -> bool {
        self.flags() & FLAG_I != 0
    }
    pub fn minimal_encapsulation(&self) -> bool {
        self.flags() & FLAG_M != 0
    }
    pub fn gre(&self) -> bool {
        self.flags() & FLAG_G != 0
    }
    pub fn reserved(&self) -> u8 {
        self.flags() & UPDATE_RESERVED
    }
    pub fn lifetime(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::UPDATE_LIFETIME])
    }
    pub fn home_address(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::UPDATE_HOME_ADDRESS])
    }
    pub fn care_of_address(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::UPDATE_CARE_OF_ADDRESS])
    }
    pub fn identification(&self) -> Identification {
        ident(&self.buffer.as_ref()[field::UPDATE_IDENTIFICATION])
    }
    pub fn extensions(&self) -> &[u8] {
        &self.buffer.as_ref()[UPDATE_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UpdatePacket<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }
    /// Writes A, I, M, G and the four reserved bits.
    pub fn set_flags(&mut self, a: bool, i: bool, m: bool, g: bool, reserved: u8) {
        self.buffer.as_mut()[field::UPDATE_FLAGS] = (u8::from(a) << 7)
            | (u8::from(i) << 6)
            | (u8::from(m) << 5)
            | (u8::from(g) << 4)
            | (reserved & UPDATE_RESERVED);
    }
    pub fn set_lifetime(&mut self, v: u16) {
        self.buffer.as_mut()[field::UPDATE_LIFETIME].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_home_address(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::UPDATE_HOME_ADDRESS].copy_from_slice(&a.octets());
    }
    pub fn set_care_of_address(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::UPDATE_CARE_OF_ADDRESS].copy_from_slice(&a.octets());
    }
    pub fn set_identification(&mut self, v: Identification) {
        self.buffer.as_mut()[field::UPDATE_IDENTIFICATION].copy_from_slice(&v.0.to_be_bytes());
    }
    pub fn extensions_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[UPDATE_LEN..]
    }
}

/// Zero-copy view of a Binding Acknowledge.
#[derive(Debug, Clone)]
pub struct AckPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> AckPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        AckPacket { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = AckPacket { buffer };
        p.check_len()?;
        Ok(p)
    }
    pub fn check_len(&self) -> Result<()> {
        need("Binding Acknowledge", self.buffer.as_ref(), ACK_LEN)
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    fn word(&self) -> u32 {
        let b = &self.buffer.as_ref()[field::ACK_WORD];
        u32::from_be_bytes([0, b[0], b[1], b[2]])
    }
    pub fn negative(&self) -> bool {
        self.word() & ACK_N != 0
    }
    pub fn reserved(&self) -> u32 {
        self.word() & ACK_RESERVED
    }
    pub fn home_address(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::ACK_HOME_ADDRESS])
    }
    pub fn identification(&self) -> Identification {
        ident(&self.buffer.as_ref()[field::ACK_IDENTIFICATION])
    }
    pub fn extensions(&self) -> &[u8] {
        &self.buffer.as_ref()[ACK_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> AckPacket<T> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }
    /// Writes N and the 23 reserved bits.
    pub fn set_negative_and_reserved(&mut self, negative: bool, reserved: u32) {
        let word = (u32::from(negative) << 23) | (reserved & ACK_RESERVED);
        self.buffer.as_mut()[field::ACK_WORD].copy_from_slice(&word.to_be_bytes()[1..]);
    }
    pub fn set_home_address(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::ACK_HOME_ADDRESS].copy_from_slice(&a.octets());
    }
    pub fn set_identification(&mut self, v: Identification) {
        self.buffer.as_mut()[field::ACK_IDENTIFICATION].copy_from_slice(&v.0.to_be_bytes());
    }
    pub fn extensions_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[ACK_LEN..]
    }
}

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
        Self::parse_located(buf).map(|(r, _)| r)
    }

    /// Parses the update and records where each extension lies (the
    /// Route Optimization Authentication Extension's span among them).
    pub fn parse_located(buf: &'a [u8]) -> Result<(UpdateRepr<'a>, ExtensionList<'a>)> {
        let p = UpdatePacket::new_checked(buf)?;
        if p.msg_type() != TYPE_BINDING_UPDATE {
            return Err(Error::Unsupported {
                what: "Binding Update type",
                value: p.msg_type().into(),
            });
        }
        let list = ExtensionList::parse(buf, UPDATE_LEN)?;
        let repr = UpdateRepr {
            acknowledge: p.acknowledge(),
            identification_present: p.identification_present(),
            minimal_encapsulation: p.minimal_encapsulation(),
            gre: p.gre(),
            reserved: p.reserved(),
            lifetime: p.lifetime(),
            home_address: p.home_address(),
            care_of_address: p.care_of_address(),
            identification: p.identification(),
            extensions: list.to_extensions(),
        };
        Ok((repr, list))
    }

    pub fn buffer_len(&self) -> usize {
        UPDATE_LEN + extension::buffer_len(&self.extensions)
    }

    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = UpdatePacket::new_unchecked(buf);
        p.set_msg_type(TYPE_BINDING_UPDATE);
        p.set_flags(
            self.acknowledge,
            self.identification_present,
            self.minimal_encapsulation,
            self.gre,
            self.reserved,
        );
        p.set_lifetime(self.lifetime);
        p.set_home_address(self.home_address);
        p.set_care_of_address(self.care_of_address);
        p.set_identification(self.identification);
        extension::emit_all(&self.extensions, p.extensions_mut());
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
        Self::parse_located(buf).map(|(r, _)| r)
    }

    /// Parses the acknowledge and records where each extension lies.
    pub fn parse_located(buf: &'a [u8]) -> Result<(AckRepr<'a>, ExtensionList<'a>)> {
        let p = AckPacket::new_checked(buf)?;
        if p.msg_type() != TYPE_BINDING_ACK {
            return Err(Error::Unsupported {
                what: "Binding Acknowledge type",
                value: p.msg_type().into(),
            });
        }
        let list = ExtensionList::parse(buf, ACK_LEN)?;
        let repr = AckRepr {
            negative: p.negative(),
            reserved: p.reserved(),
            home_address: p.home_address(),
            identification: p.identification(),
            extensions: list.to_extensions(),
        };
        Ok((repr, list))
    }

    pub fn buffer_len(&self) -> usize {
        ACK_LEN + extension::buffer_len(&self.extensions)
    }

    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = AckPacket::new_unchecked(buf);
        p.set_msg_type(TYPE_BINDING_ACK);
        p.set_negative_and_reserved(self.negative, self.reserved);
        p.set_home_address(self.home_address);
        p.set_identification(self.identification);
        extension::emit_all(&self.extensions, p.extensions_mut());
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
