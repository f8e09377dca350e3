//! The RADIUS packet format (RFC 2865 sections 3 and 5), in the style of
//! `pmip-wire`: a zero-copy view ([`Packet`]) with typed accessors, an
//! attribute iterator, and a plain [`Repr`] with `parse` and `emit`.
//! Every malformed input is a typed [`Error`]; nothing here panics on
//! any input (see `tests/arbitrary_bytes.rs`).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Code      |  Identifier   |            Length             |
//! |                    Authenticator (16 octets)                  |
//! |  Attributes ... (Type, Length, Value)
//! ```

use core::net::Ipv4Addr;
pub use pmip_wire::Error;
use pmip_wire::Result;

/// Code, Identifier, Length and Authenticator.
pub const HEADER_LEN: usize = 20;
/// RFC 2865 3: "The maximum length is 4096".
pub const MAX_LEN: usize = 4096;
/// Request/Response Authenticator and Message-Authenticator length.
pub const AUTH_LEN: usize = 16;
/// An attribute's value is at most 253 octets (its Length field is one
/// octet and counts the 2-octet Type/Length header).
pub const MAX_VALUE_LEN: usize = 253;
/// The RADIUS authentication port IANA assigned (FreeRADIUS's default);
/// IOS defaults to the older 1645.
pub const PORT: u16 = 1812;

const WHAT: &str = "RADIUS packet";
const WHAT_ATTR: &str = "RADIUS attribute";
const WHAT_VSA: &str = "RADIUS Vendor-Specific attribute";

/// Attribute types we name (RFC 2865 5, RFC 3579 3.2).
pub mod attr {
    pub const USER_NAME: u8 = 1;
    pub const USER_PASSWORD: u8 = 2;
    pub const NAS_IP_ADDRESS: u8 = 4;
    pub const REPLY_MESSAGE: u8 = 18;
    pub const VENDOR_SPECIFIC: u8 = 26;
    pub const MESSAGE_AUTHENTICATOR: u8 = 80;
}

/// Cisco's SMI enterprise number (RFC 2865 5.26 Vendor-Id).
pub const VENDOR_CISCO: u32 = 9;
/// Cisco vendor type 1, `Cisco-AVPair` (`protocol:attribute=value`).
pub const CISCO_AVPAIR: u8 = 1;

/// The packet type (RFC 2865 3 "Code").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    AccessRequest,
    AccessAccept,
    AccessReject,
    AccessChallenge,
    /// Any other code (accounting, CoA, ...): carried, never acted on.
    Other(u8),
}

impl From<u8> for Code {
    fn from(v: u8) -> Code {
        match v {
            1 => Code::AccessRequest,
            2 => Code::AccessAccept,
            3 => Code::AccessReject,
            11 => Code::AccessChallenge,
            v => Code::Other(v),
        }
    }
}

impl From<Code> for u8 {
    fn from(c: Code) -> u8 {
        match c {
            Code::AccessRequest => 1,
            Code::AccessAccept => 2,
            Code::AccessReject => 3,
            Code::AccessChallenge => 11,
            Code::Other(v) => v,
        }
    }
}

/// Zero-copy view of a RADIUS packet. Accessors never panic once
/// [`Packet::new_checked`] has accepted the buffer.
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

    /// RFC 2865 3: the Length field lies in 20..=4096 and the buffer holds
    /// at least that much. Octets past Length are padding and ignored.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated {
                what: WHAT,
                need: HEADER_LEN,
                have: b.len(),
            });
        }
        let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if !(HEADER_LEN..=MAX_LEN).contains(&len) {
            return Err(Error::BadLength { what: WHAT, len });
        }
        if b.len() < len {
            return Err(Error::Truncated {
                what: WHAT,
                need: len,
                have: b.len(),
            });
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn code(&self) -> Code {
        Code::from(self.buffer.as_ref()[0])
    }

    pub fn identifier(&self) -> u8 {
        self.buffer.as_ref()[1]
    }

    /// The Length field (the packet proper, without padding).
    pub fn length(&self) -> usize {
        let b = self.buffer.as_ref();
        usize::from(u16::from_be_bytes([b[2], b[3]]))
    }

    pub fn authenticator(&self) -> [u8; AUTH_LEN] {
        let mut a = [0; AUTH_LEN];
        a.copy_from_slice(&self.buffer.as_ref()[4..HEADER_LEN]);
        a
    }

    /// The packet up to Length (what the authenticators cover).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.length()]
    }

    /// The attribute octets, header and padding excluded.
    pub fn attribute_bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.length()]
    }

    /// The attributes in order, each checked as it is reached.
    pub fn attributes(&self) -> AttrIter<'_> {
        AttrIter::new(self.attribute_bytes())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_code(&mut self, code: Code) {
        self.buffer.as_mut()[0] = code.into();
    }
    pub fn set_identifier(&mut self, id: u8) {
        self.buffer.as_mut()[1] = id;
    }
    pub fn set_length(&mut self, len: u16) {
        self.buffer.as_mut()[2..4].copy_from_slice(&len.to_be_bytes());
    }
    pub fn set_authenticator(&mut self, a: &[u8; AUTH_LEN]) {
        self.buffer.as_mut()[4..HEADER_LEN].copy_from_slice(a);
    }
}

/// One attribute as it lies in the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttr<'a> {
    pub kind: u8,
    pub value: &'a [u8],
    /// Offset of the value from the start of the attribute octets.
    pub offset: usize,
}

/// Iterator over the attributes of a packet. After the first malformed
/// attribute it yields that error once and then stops: nothing past a
/// broken length can be trusted.
#[derive(Debug, Clone)]
pub struct AttrIter<'a> {
    bytes: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> AttrIter<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        AttrIter {
            bytes,
            pos: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<RawAttr<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let rest = &self.bytes[self.pos..];
        if rest.len() < 2 {
            self.failed = true;
            return Some(Err(Error::Truncated {
                what: WHAT_ATTR,
                need: 2,
                have: rest.len(),
            }));
        }
        let len = usize::from(rest[1]);
        // RFC 2865 5: Length counts Type and Length, so it is at least 2,
        // and the attribute must end inside the packet.
        if len < 2 || len > rest.len() {
            self.failed = true;
            return Some(Err(Error::BadLength {
                what: WHAT_ATTR,
                len,
            }));
        }
        let a = RawAttr {
            kind: rest[0],
            value: &rest[2..len],
            offset: self.pos + 2,
        };
        self.pos += len;
        Some(Ok(a))
    }
}

/// A parsed attribute. Values stay borrowed from the packet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Attribute<'a> {
    /// RFC 2865 5.1.
    UserName(&'a [u8]),
    /// RFC 2865 5.2: the hidden (encrypted) octets as on the wire.
    UserPassword(&'a [u8]),
    /// RFC 2865 5.4.
    NasIpAddress(Ipv4Addr),
    /// RFC 2865 5.18.
    ReplyMessage(&'a [u8]),
    /// RFC 2865 5.26: Vendor-Id and the vendor's string.
    VendorSpecific { vendor_id: u32, data: &'a [u8] },
    /// RFC 3579 3.2.
    MessageAuthenticator([u8; AUTH_LEN]),
    /// Any other attribute, kept as it was.
    Other { kind: u8, value: &'a [u8] },
}

impl core::fmt::Debug for Attribute<'_> {
    /// Shows no password octets (hidden as they are, they are still
    /// material for an offline attack on the shared secret).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Attribute::UserName(v) => write!(f, "UserName({:?})", String::from_utf8_lossy(v)),
            Attribute::UserPassword(v) => write!(f, "UserPassword(<{} octets>)", v.len()),
            Attribute::NasIpAddress(a) => write!(f, "NasIpAddress({a})"),
            Attribute::ReplyMessage(v) => {
                write!(f, "ReplyMessage({:?})", String::from_utf8_lossy(v))
            }
            Attribute::VendorSpecific { vendor_id, data } => {
                write!(f, "VendorSpecific({vendor_id}, <{} octets>)", data.len())
            }
            Attribute::MessageAuthenticator(_) => write!(f, "MessageAuthenticator"),
            Attribute::Other { kind, value } => write!(f, "Other({kind}, {value:02x?})"),
        }
    }
}

impl<'a> Attribute<'a> {
    /// Types one raw attribute, checking the lengths RFC 2865 fixes.
    pub fn parse(raw: RawAttr<'a>) -> Result<Attribute<'a>> {
        let v = raw.value;
        Ok(match raw.kind {
            attr::USER_NAME => Attribute::UserName(v),
            attr::USER_PASSWORD => {
                // RFC 2865 5.2: 16 to 128 octets, a multiple of 16.
                if v.len() < 16 || v.len() > 128 || v.len() & 0xf != 0 {
                    return Err(Error::BadLength {
                        what: "RADIUS User-Password",
                        len: v.len(),
                    });
                }
                Attribute::UserPassword(v)
            }
            attr::NAS_IP_ADDRESS => {
                let b: [u8; 4] = v.try_into().map_err(|_| Error::BadLength {
                    what: "RADIUS NAS-IP-Address",
                    len: v.len(),
                })?;
                Attribute::NasIpAddress(Ipv4Addr::from(b))
            }
            attr::REPLY_MESSAGE => Attribute::ReplyMessage(v),
            attr::VENDOR_SPECIFIC => {
                // RFC 2865 5.26: Vendor-Id (4 octets, high octet 0) then
                // at least one octet of string.
                if v.len() < 5 {
                    return Err(Error::BadLength {
                        what: WHAT_VSA,
                        len: v.len(),
                    });
                }
                Attribute::VendorSpecific {
                    vendor_id: u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
                    data: &v[4..],
                }
            }
            attr::MESSAGE_AUTHENTICATOR => {
                let b: [u8; AUTH_LEN] = v.try_into().map_err(|_| Error::BadLength {
                    what: "RADIUS Message-Authenticator",
                    len: v.len(),
                })?;
                Attribute::MessageAuthenticator(b)
            }
            kind => Attribute::Other { kind, value: v },
        })
    }

    pub fn kind(&self) -> u8 {
        match self {
            Attribute::UserName(_) => attr::USER_NAME,
            Attribute::UserPassword(_) => attr::USER_PASSWORD,
            Attribute::NasIpAddress(_) => attr::NAS_IP_ADDRESS,
            Attribute::ReplyMessage(_) => attr::REPLY_MESSAGE,
            Attribute::VendorSpecific { .. } => attr::VENDOR_SPECIFIC,
            Attribute::MessageAuthenticator(_) => attr::MESSAGE_AUTHENTICATOR,
            Attribute::Other { kind, .. } => *kind,
        }
    }

    /// Octets of the value.
    pub fn value_len(&self) -> usize {
        match self {
            Attribute::UserName(v)
            | Attribute::UserPassword(v)
            | Attribute::ReplyMessage(v)
            | Attribute::Other { value: v, .. } => v.len(),
            Attribute::NasIpAddress(_) => 4,
            Attribute::VendorSpecific { data, .. } => 4 + data.len(),
            Attribute::MessageAuthenticator(_) => AUTH_LEN,
        }
    }

    /// Octets on the wire, Type and Length included.
    pub fn buffer_len(&self) -> usize {
        2 + self.value_len()
    }

    /// Writes the attribute at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let vlen = self.value_len();
        if vlen > MAX_VALUE_LEN {
            return Err(Error::BadLength {
                what: WHAT_ATTR,
                len: vlen,
            });
        }
        let n = 2 + vlen;
        if buf.len() < n {
            return Err(Error::Truncated {
                what: WHAT_ATTR,
                need: n,
                have: buf.len(),
            });
        }
        buf[0] = self.kind();
        buf[1] = n as u8; // n <= 255, checked above
        let out = &mut buf[2..n];
        match self {
            Attribute::UserName(v)
            | Attribute::UserPassword(v)
            | Attribute::ReplyMessage(v)
            | Attribute::Other { value: v, .. } => out.copy_from_slice(v),
            Attribute::NasIpAddress(a) => out.copy_from_slice(&a.octets()),
            Attribute::VendorSpecific { vendor_id, data } => {
                out[..4].copy_from_slice(&vendor_id.to_be_bytes());
                out[4..].copy_from_slice(data);
            }
            Attribute::MessageAuthenticator(m) => out.copy_from_slice(m),
        }
        Ok(n)
    }
}

/// One sub-attribute of a Vendor-Specific string in the format RFC 2865
/// 5.26 recommends (vendor type, vendor length, value), which Cisco uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorAttr<'a> {
    pub vendor_type: u8,
    pub value: &'a [u8],
}

/// The sub-attributes of a Vendor-Specific string; stops after the first
/// malformed one, as [`AttrIter`] does.
#[derive(Debug, Clone)]
pub struct VendorAttrIter<'a> {
    inner: AttrIter<'a>,
}

impl<'a> VendorAttrIter<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        VendorAttrIter {
            inner: AttrIter::new(data),
        }
    }
}

impl<'a> Iterator for VendorAttrIter<'a> {
    type Item = Result<VendorAttr<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        // Same Type/Length/Value layout as top-level attributes.
        self.inner.next().map(|r| {
            r.map(|a| VendorAttr {
                vendor_type: a.kind,
                value: a.value,
            })
            .map_err(|e| match e {
                Error::BadLength { len, .. } => Error::BadLength {
                    what: WHAT_VSA,
                    len,
                },
                Error::Truncated { need, have, .. } => Error::Truncated {
                    what: WHAT_VSA,
                    need,
                    have,
                },
                e => e,
            })
        })
    }
}

/// Writes one Vendor-Specific value (Vendor-Id + one sub-attribute) into
/// `buf` and returns its length: the `data` of an
/// [`Attribute::VendorSpecific`] is `buf[4..n]`.
pub fn emit_vendor_attr(vendor_type: u8, value: &[u8], buf: &mut [u8]) -> Result<usize> {
    let n = 2 + value.len();
    // Vendor-Id (4) + sub-attribute must fit one attribute's value.
    if n > MAX_VALUE_LEN - 4 {
        return Err(Error::BadLength {
            what: WHAT_VSA,
            len: n,
        });
    }
    if buf.len() < n {
        return Err(Error::Truncated {
            what: WHAT_VSA,
            need: n,
            have: buf.len(),
        });
    }
    buf[0] = vendor_type;
    buf[1] = n as u8;
    buf[2..n].copy_from_slice(value);
    Ok(n)
}

/// A whole packet as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    pub code: Code,
    pub identifier: u8,
    pub authenticator: [u8; AUTH_LEN],
    pub attributes: Vec<Attribute<'a>>,
}

impl<'a> Repr<'a> {
    /// Parses the header and every attribute; any malformed attribute
    /// fails the whole packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        packet.check_len()?;
        let buffer: &'a T = packet.buffer;
        let bytes: &'a [u8] = buffer.as_ref();
        let view = Packet::new_unchecked(bytes);
        let attributes = AttrIter::new(&bytes[HEADER_LEN..view.length()])
            .map(|r| r.and_then(Attribute::parse))
            .collect::<Result<Vec<_>>>()?;
        Ok(Repr {
            code: view.code(),
            identifier: view.identifier(),
            authenticator: view.authenticator(),
            attributes,
        })
    }

    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + self
                .attributes
                .iter()
                .map(Attribute::buffer_len)
                .sum::<usize>()
    }

    /// Writes the packet at the start of `buf`; returns its length. The
    /// authenticator is written as it is in the Repr: signing is
    /// [`crate::auth`]'s job.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        if len > MAX_LEN {
            return Err(Error::BadLength { what: WHAT, len });
        }
        if buf.len() < len {
            return Err(Error::Truncated {
                what: WHAT,
                need: len,
                have: buf.len(),
            });
        }
        let mut p = Packet::new_unchecked(&mut buf[..len]);
        p.set_code(self.code);
        p.set_identifier(self.identifier);
        p.set_length(len as u16); // <= 4096
        p.set_authenticator(&self.authenticator);
        let mut pos = HEADER_LEN;
        for a in &self.attributes {
            pos += a.emit(&mut buf[pos..len])?;
        }
        Ok(len)
    }

    /// Emits into a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut v = vec![0; self.buffer_len().min(MAX_LEN + 1)];
        let n = self.emit(&mut v)?;
        v.truncate(n);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lengths() {
        assert!(matches!(
            Packet::new_checked(&[0u8; 19][..]),
            Err(Error::Truncated { need: 20, .. })
        ));
        let mut b = [0u8; 20];
        b[3] = 19;
        assert!(matches!(
            Packet::new_checked(&b[..]),
            Err(Error::BadLength { len: 19, .. })
        ));
        b[3] = 21;
        assert!(matches!(
            Packet::new_checked(&b[..]),
            Err(Error::Truncated { need: 21, .. })
        ));
        b[2] = 0x10;
        b[3] = 0x01; // 4097
        assert!(matches!(
            Packet::new_checked(&b[..]),
            Err(Error::BadLength { len: 4097, .. })
        ));
        b[2] = 0;
        b[3] = 20;
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.attributes().count(), 0);
    }

    #[test]
    fn padding_is_ignored() {
        let repr = Repr {
            code: Code::AccessAccept,
            identifier: 7,
            authenticator: [1; 16],
            attributes: vec![Attribute::ReplyMessage(b"hi")],
        };
        let mut v = repr.to_vec().unwrap();
        v.extend_from_slice(&[0xff; 5]);
        let p = Packet::new_checked(&v[..]).unwrap();
        assert_eq!(p.as_bytes().len(), 24);
        assert_eq!(Repr::parse(&p).unwrap(), repr);
    }

    #[test]
    fn broken_attribute_lengths() {
        for attrs in [&[1u8][..], &[1, 0], &[1, 1], &[1, 5, b'a']] {
            let mut v = vec![2, 0, 0, 0];
            v.extend_from_slice(&[0; 16]);
            v.extend_from_slice(attrs);
            let len = v.len() as u16;
            v[2..4].copy_from_slice(&len.to_be_bytes());
            let p = Packet::new_checked(&v[..]).unwrap();
            let items: Vec<_> = p.attributes().collect();
            assert_eq!(items.len(), 1, "{attrs:?}");
            assert!(items[0].is_err());
            assert!(Repr::parse(&p).is_err());
        }
    }

    #[test]
    fn typed_attribute_lengths() {
        let bad = [
            RawAttr {
                kind: attr::NAS_IP_ADDRESS,
                value: &[1, 2, 3],
                offset: 2,
            },
            RawAttr {
                kind: attr::MESSAGE_AUTHENTICATOR,
                value: &[0; 15],
                offset: 2,
            },
            RawAttr {
                kind: attr::USER_PASSWORD,
                value: &[0; 17],
                offset: 2,
            },
            RawAttr {
                kind: attr::VENDOR_SPECIFIC,
                value: &[0, 0, 0, 9],
                offset: 2,
            },
        ];
        for raw in bad {
            assert!(Attribute::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn vendor_sub_attributes() {
        let mut data = [0u8; 64];
        let n = emit_vendor_attr(CISCO_AVPAIR, b"mobileip:x=y", &mut data).unwrap();
        let subs: Vec<_> = VendorAttrIter::new(&data[..n]).collect();
        assert_eq!(
            subs,
            vec![Ok(VendorAttr {
                vendor_type: 1,
                value: &b"mobileip:x=y"[..]
            })]
        );
        assert!(VendorAttrIter::new(&[1, 9, 0]).next().unwrap().is_err());
        assert!(emit_vendor_attr(1, &[0; 248], &mut [0; 300]).is_err());
        assert!(emit_vendor_attr(1, &[0; 247], &mut [0; 300]).is_ok());
    }

    #[test]
    fn oversized_values_are_refused() {
        let big = [0u8; 254];
        let a = Attribute::ReplyMessage(&big);
        assert!(a.emit(&mut [0; 300]).is_err());
        let many = Repr {
            code: Code::AccessRequest,
            identifier: 0,
            authenticator: [0; 16],
            attributes: vec![Attribute::ReplyMessage(&big[..253]); 17],
        };
        assert!(many.buffer_len() > MAX_LEN);
        assert!(many.to_vec().is_err());
    }

    #[test]
    fn debug_hides_password_octets() {
        let s = format!("{:?}", Attribute::UserPassword(&[0xab; 16]));
        assert!(!s.contains("ab"), "{s}");
    }
}
