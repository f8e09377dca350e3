//! Registration Request and Reply (RFC 5944 sections 3.3 and 3.4), the
//! UDP port 434 messages between mobile node (or proxy AP), foreign agent
//! and home agent.

use crate::error::{Error, Result, need};
use crate::extension::{self, Extensions};
use crate::identification::Identification;
use crate::ipv4::{addr, be16};
use core::net::Ipv4Addr;

pub use crate::reply_code::ReplyCode;

pub const TYPE_REQUEST: u8 = 1;
pub const TYPE_REPLY: u8 = 3;
/// Fixed part of a Registration Request.
pub const REQUEST_LEN: usize = 24;
/// Fixed part of a Registration Reply.
pub const REPLY_LEN: usize = 20;

/// The flags byte of a Registration Request (RFC 5944 3.3): S B D M G r T x.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct RequestFlags {
    /// S: simultaneous bindings.
    pub simultaneous: bool,
    /// B: broadcast datagrams.
    pub broadcast: bool,
    /// D: decapsulation by mobile node (co-located care-of address).
    pub decapsulation_by_mn: bool,
    /// M: minimal encapsulation (RFC 2004).
    pub minimal_encapsulation: bool,
    /// G: GRE encapsulation.
    pub gre: bool,
    /// r: sent as zero, ignored on reception (formerly VJ compression).
    pub r: bool,
    /// T: reverse tunnelling requested (RFC 3024).
    pub reverse_tunnel: bool,
    /// x: sent as zero, ignored on reception.
    pub x: bool,
}

impl RequestFlags {
    pub fn from_byte(b: u8) -> RequestFlags {
        RequestFlags {
            simultaneous: b & 0x80 != 0,
            broadcast: b & 0x40 != 0,
            decapsulation_by_mn: b & 0x20 != 0,
            minimal_encapsulation: b & 0x10 != 0,
            gre: b & 0x08 != 0,
            r: b & 0x04 != 0,
            reverse_tunnel: b & 0x02 != 0,
            x: b & 0x01 != 0,
        }
    }
    pub fn to_byte(self) -> u8 {
        (u8::from(self.simultaneous) << 7)
            | (u8::from(self.broadcast) << 6)
            | (u8::from(self.decapsulation_by_mn) << 5)
            | (u8::from(self.minimal_encapsulation) << 4)
            | (u8::from(self.gre) << 3)
            | (u8::from(self.r) << 2)
            | (u8::from(self.reverse_tunnel) << 1)
            | u8::from(self.x)
    }
}

/// Zero-copy view of a Registration Request.
#[derive(Debug, Clone)]
pub struct RequestPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> RequestPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        RequestPacket { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = RequestPacket { buffer };
        p.check_len()?;
        Ok(p)
    }
    pub fn check_len(&self) -> Result<()> {
        need("Registration Request", self.buffer.as_ref(), REQUEST_LEN)
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    pub fn flags(&self) -> RequestFlags {
        RequestFlags::from_byte(self.buffer.as_ref()[1])
    }
    pub fn lifetime(&self) -> u16 {
        be16(&self.buffer.as_ref()[2..4])
    }
    pub fn home_address(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[4..8])
    }
    pub fn home_agent(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[8..12])
    }
    pub fn care_of_address(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[12..16])
    }
    pub fn identification(&self) -> Identification {
        let b = &self.buffer.as_ref()[16..24];
        Identification(u64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
    /// The extension area after the fixed part.
    pub fn extensions(&self) -> &[u8] {
        &self.buffer.as_ref()[REQUEST_LEN..]
    }
}

/// A parsed Registration Request. Lossless: `emit` of a parsed request
/// gives back the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRepr<'a> {
    pub flags: RequestFlags,
    /// Seconds; 0 asks for deregistration, 0xffff is infinity.
    pub lifetime: u16,
    pub home_address: Ipv4Addr,
    pub home_agent: Ipv4Addr,
    pub care_of_address: Ipv4Addr,
    pub identification: Identification,
    pub extensions: Extensions<'a>,
}

impl<'a> RequestRepr<'a> {
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &RequestPacket<&'a T>,
    ) -> Result<RequestRepr<'a>> {
        packet.check_len()?;
        if packet.msg_type() != TYPE_REQUEST {
            return Err(Error::Unsupported {
                what: "Registration Request type",
                value: packet.msg_type().into(),
            });
        }
        let buffer: &'a T = packet.buffer;
        let ext: &'a [u8] = &buffer.as_ref()[REQUEST_LEN..];
        Ok(RequestRepr {
            flags: packet.flags(),
            lifetime: packet.lifetime(),
            home_address: packet.home_address(),
            home_agent: packet.home_agent(),
            care_of_address: packet.care_of_address(),
            identification: packet.identification(),
            extensions: extension::parse_all(ext)?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        REQUEST_LEN + extension::buffer_len(&self.extensions)
    }

    /// Writes the whole request (at least `buffer_len()` bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        self.emit_header(buf);
        extension::emit_all(&self.extensions, &mut buf[REQUEST_LEN..]);
    }

    /// Writes only the fixed part.
    pub fn emit_header(&self, buf: &mut [u8]) {
        buf[0] = TYPE_REQUEST;
        buf[1] = self.flags.to_byte();
        buf[2..4].copy_from_slice(&self.lifetime.to_be_bytes());
        buf[4..8].copy_from_slice(&self.home_address.octets());
        buf[8..12].copy_from_slice(&self.home_agent.octets());
        buf[12..16].copy_from_slice(&self.care_of_address.octets());
        buf[16..24].copy_from_slice(&self.identification.0.to_be_bytes());
    }

    /// The message as bytes (fixed part and extensions).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v);
        v
    }
}

/// Zero-copy view of a Registration Reply.
#[derive(Debug, Clone)]
pub struct ReplyPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ReplyPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        ReplyPacket { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = ReplyPacket { buffer };
        p.check_len()?;
        Ok(p)
    }
    pub fn check_len(&self) -> Result<()> {
        need("Registration Reply", self.buffer.as_ref(), REPLY_LEN)
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    pub fn code(&self) -> ReplyCode {
        self.buffer.as_ref()[1].into()
    }
    pub fn lifetime(&self) -> u16 {
        be16(&self.buffer.as_ref()[2..4])
    }
    pub fn home_address(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[4..8])
    }
    pub fn home_agent(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[8..12])
    }
    pub fn identification(&self) -> Identification {
        let b = &self.buffer.as_ref()[12..20];
        Identification(u64::from_be_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
    pub fn extensions(&self) -> &[u8] {
        &self.buffer.as_ref()[REPLY_LEN..]
    }
}

/// A parsed Registration Reply. Lossless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyRepr<'a> {
    pub code: ReplyCode,
    pub lifetime: u16,
    pub home_address: Ipv4Addr,
    pub home_agent: Ipv4Addr,
    pub identification: Identification,
    pub extensions: Extensions<'a>,
}

impl<'a> ReplyRepr<'a> {
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &ReplyPacket<&'a T>) -> Result<ReplyRepr<'a>> {
        packet.check_len()?;
        if packet.msg_type() != TYPE_REPLY {
            return Err(Error::Unsupported {
                what: "Registration Reply type",
                value: packet.msg_type().into(),
            });
        }
        let buffer: &'a T = packet.buffer;
        let ext: &'a [u8] = &buffer.as_ref()[REPLY_LEN..];
        Ok(ReplyRepr {
            code: packet.code(),
            lifetime: packet.lifetime(),
            home_address: packet.home_address(),
            home_agent: packet.home_agent(),
            identification: packet.identification(),
            extensions: extension::parse_all(ext)?,
        })
    }

    pub fn buffer_len(&self) -> usize {
        REPLY_LEN + extension::buffer_len(&self.extensions)
    }

    pub fn emit(&self, buf: &mut [u8]) {
        self.emit_header(buf);
        extension::emit_all(&self.extensions, &mut buf[REPLY_LEN..]);
    }

    pub fn emit_header(&self, buf: &mut [u8]) {
        buf[0] = TYPE_REPLY;
        buf[1] = self.code.into();
        buf[2..4].copy_from_slice(&self.lifetime.to_be_bytes());
        buf[4..8].copy_from_slice(&self.home_address.octets());
        buf[8..12].copy_from_slice(&self.home_agent.octets());
        buf[12..20].copy_from_slice(&self.identification.0.to_be_bytes());
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v);
        v
    }
}

/// Offset (from the start of the message) of the first extension of
/// `kind`, for authenticating it.
pub fn find_extension(message: &[u8], fixed_len: usize, kind: u8) -> Option<usize> {
    let ext = message.get(fixed_len..)?;
    extension::RawIter::new(ext)
        .map_while(|r| r.ok())
        .find(|r| r.kind == kind)
        .map(|r| fixed_len + r.offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Algorithm;
    use crate::extension::{Authentication, Extension, kind};
    use proptest::prelude::*;

    fn request() -> RequestRepr<'static> {
        let mut extensions = Extensions::new();
        extensions.push(Extension::Nai(b"mn@example.org"));
        extensions.push(Extension::MobileHomeAuth(Authentication {
            spi: 0x100,
            authenticator: &[7; 16],
        }));
        RequestRepr {
            flags: RequestFlags {
                gre: true,
                reverse_tunnel: true,
                ..Default::default()
            },
            lifetime: 600,
            home_address: Ipv4Addr::new(10, 1, 0, 50),
            home_agent: Ipv4Addr::new(10, 1, 0, 1),
            care_of_address: Ipv4Addr::new(198, 51, 100, 1),
            identification: Identification(0x0102_0304_0506_0708),
            extensions,
        }
    }

    #[test]
    fn request_layout() {
        let bytes = request().to_vec();
        assert_eq!(&bytes[..4], &[1, 0x0a, 0x02, 0x58]);
        assert_eq!(&bytes[16..24], &[1, 2, 3, 4, 5, 6, 7, 8]);
        let p = RequestPacket::new_checked(&bytes[..]).unwrap();
        assert_eq!(RequestRepr::parse(&p).unwrap(), request());
        assert_eq!(
            find_extension(&bytes, REQUEST_LEN, kind::MOBILE_HOME_AUTH),
            Some(REQUEST_LEN + 16)
        );
    }

    #[test]
    fn errors() {
        let bytes = request().to_vec();
        assert!(matches!(
            RequestPacket::new_checked(&bytes[..23]),
            Err(Error::Truncated { .. })
        ));
        let mut wrong = bytes.clone();
        wrong[0] = 3;
        assert!(matches!(
            RequestRepr::parse(&RequestPacket::new_unchecked(&wrong[..])),
            Err(Error::Unsupported { .. })
        ));
        let mut cut = bytes.clone();
        cut.truncate(bytes.len() - 1);
        assert!(matches!(
            RequestRepr::parse(&RequestPacket::new_unchecked(&cut[..])),
            Err(Error::Truncated { .. })
        ));
        let mut unknown = bytes[..REQUEST_LEN].to_vec();
        unknown.extend_from_slice(&[99, 0]);
        assert_eq!(
            RequestRepr::parse(&RequestPacket::new_unchecked(&unknown[..])),
            Err(Error::UnknownExtension { kind: 99 })
        );
    }

    #[test]
    fn signed_reply_verifies() {
        let r = ReplyRepr {
            code: ReplyCode::IdentificationMismatch,
            lifetime: 0,
            home_address: Ipv4Addr::new(10, 1, 0, 50),
            home_agent: Ipv4Addr::new(10, 1, 0, 1),
            identification: Identification(9),
            extensions: Extensions::new(),
        };
        let mut m = r.to_vec();
        extension::append_authentication(
            &mut m,
            kind::MOBILE_HOME_AUTH,
            0x100,
            Algorithm::KeyedMd5PrefixSuffix,
            b"k",
        );
        let at = find_extension(&m, REPLY_LEN, kind::MOBILE_HOME_AUTH).unwrap();
        assert!(extension::verify_authentication(
            &m,
            at,
            Algorithm::KeyedMd5PrefixSuffix,
            b"k"
        ));
        let p = ReplyPacket::new_checked(&m[..]).unwrap();
        let parsed = ReplyRepr::parse(&p).unwrap();
        assert_eq!(parsed.code, ReplyCode::IdentificationMismatch);
        assert_eq!(parsed.to_vec(), m);
    }

    pub(crate) fn arb_flags() -> impl Strategy<Value = RequestFlags> {
        any::<u8>().prop_map(RequestFlags::from_byte)
    }

    proptest! {
        #[test]
        fn request_round_trip(flags in arb_flags(), lifetime in any::<u16>(), h in any::<[u8; 4]>(),
                              ha in any::<[u8; 4]>(), coa in any::<[u8; 4]>(), id in any::<u64>(),
                              nai in prop::collection::vec(any::<u8>(), 1..40), spi in any::<u32>(),
                              auth in any::<[u8; 16]>()) {
            let mut extensions = Extensions::new();
            extensions.push(Extension::Nai(&nai));
            extensions.push(Extension::EncapsulatingDeliveryStyle);
            extensions.push(Extension::MobileHomeAuth(Authentication { spi, authenticator: &auth }));
            let r = RequestRepr { flags, lifetime, home_address: h.into(), home_agent: ha.into(),
                                  care_of_address: coa.into(), identification: Identification(id), extensions };
            let bytes = r.to_vec();
            let p = RequestPacket::new_checked(&bytes[..]).unwrap();
            let parsed = RequestRepr::parse(&p).unwrap();
            prop_assert_eq!(&parsed, &r);
            prop_assert_eq!(&parsed.to_vec(), &bytes);
        }

        #[test]
        fn reply_round_trip(code in any::<u8>(), lifetime in any::<u16>(), h in any::<[u8; 4]>(),
                            ha in any::<[u8; 4]>(), id in any::<u64>(), spi in any::<u32>(), auth in any::<[u8; 16]>()) {
            let mut extensions = Extensions::new();
            extensions.push(Extension::MobileHomeAuth(Authentication { spi, authenticator: &auth }));
            extensions.push(Extension::ForeignHomeAuth(Authentication { spi, authenticator: &auth }));
            let r = ReplyRepr { code: code.into(), lifetime, home_address: h.into(), home_agent: ha.into(),
                                identification: Identification(id), extensions };
            let bytes = r.to_vec();
            let p = ReplyPacket::new_checked(&bytes[..]).unwrap();
            prop_assert_eq!(ReplyRepr::parse(&p).unwrap(), r);
        }

        #[test]
        fn arbitrary_bytes(mut b in prop::collection::vec(any::<u8>(), 0..80), t in prop_oneof![Just(1u8), Just(3u8)]) {
            if let Some(first) = b.first_mut() { *first = t; }
            if let Ok(r) = RequestRepr::parse(&RequestPacket::new_unchecked(&b[..])) {
                prop_assert_eq!(r.to_vec(), b.clone());
            }
            if let Ok(r) = ReplyRepr::parse(&ReplyPacket::new_unchecked(&b[..])) {
                prop_assert_eq!(r.to_vec(), b.clone());
            }
        }
    }
}
