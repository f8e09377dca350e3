//! Registration Request and Reply (RFC 5944 sections 3.3 and 3.4), the
//! UDP port 434 messages between mobile node (or proxy AP), foreign agent
//! and home agent.
//!
//! Both messages share one shape: Type, a byte that is the flags of a
//! request and the code of a reply, Lifetime, Home Address, Home Agent,
//! (a request's Care-of Address), Identification, then extensions. One
//! generic view, [`Packet`], carries the common accessors; the marker
//! types [`RequestKind`] and [`ReplyKind`] add what differs.
//!
//! ```text
//! Request                               Reply
//!  0  Type (1) | Flags | Lifetime        0  Type (3) | Code | Lifetime
//!  4  Home Address                       4  Home Address
//!  8  Home Agent                         8  Home Agent
//! 12  Care-of Address                   12  Identification (8 bytes)
//! 16  Identification (8 bytes)          20  Extensions ...
//! 24  Extensions ...
//! ```

use crate::error::{Error, Result, need};
use crate::extension::{self, ExtensionList, Extensions};
use crate::identification::Identification;
use crate::ipv4::{addr, be16};
use core::marker::PhantomData;
use core::net::Ipv4Addr;
use core::ops::Range;

pub use crate::reply_code::ReplyCode;

mod field {
    use core::ops::Range;

    pub const TYPE: usize = 0;
    /// The flags of a request (S B D M G r T x).
    pub const FLAGS: usize = 1;
    /// The code of a reply.
    pub const CODE: usize = 1;
    pub const LIFETIME: Range<usize> = 2..4;
    pub const HOME_ADDRESS: Range<usize> = 4..8;
    pub const HOME_AGENT: Range<usize> = 8..12;
    /// Request only.
    pub const CARE_OF_ADDRESS: Range<usize> = 12..16;
    pub const REQUEST_IDENTIFICATION: Range<usize> = 16..24;
    pub const REPLY_IDENTIFICATION: Range<usize> = 12..20;
}

pub const TYPE_REQUEST: u8 = 1;
pub const TYPE_REPLY: u8 = 3;
/// Fixed part of a Registration Request.
pub const REQUEST_LEN: usize = field::REQUEST_IDENTIFICATION.end;
/// Fixed part of a Registration Reply.
pub const REPLY_LEN: usize = field::REPLY_IDENTIFICATION.end;

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

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::RequestKind {}
    impl Sealed for super::ReplyKind {}
}

/// Which of the two registration messages a [`Packet`] holds: the type
/// number, the length of the fixed part and where the Identification
/// lies. Implemented by [`RequestKind`] and [`ReplyKind`] only.
pub trait Kind: sealed::Sealed + Copy + core::fmt::Debug {
    /// The Type field.
    const TYPE: u8;
    /// Length of the fixed part; the extensions follow it.
    const FIXED_LEN: usize;
    /// The Identification field.
    const IDENTIFICATION: Range<usize>;
    /// Names the message in errors.
    const NAME: &'static str;
    /// Names the Type field in errors.
    const TYPE_NAME: &'static str;
}

/// Marker of a Registration Request (RFC 5944 3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestKind;

/// Marker of a Registration Reply (RFC 5944 3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyKind;

impl Kind for RequestKind {
    const TYPE: u8 = TYPE_REQUEST;
    const FIXED_LEN: usize = REQUEST_LEN;
    const IDENTIFICATION: Range<usize> = field::REQUEST_IDENTIFICATION;
    const NAME: &'static str = "Registration Request";
    const TYPE_NAME: &'static str = "Registration Request type";
}

impl Kind for ReplyKind {
    const TYPE: u8 = TYPE_REPLY;
    const FIXED_LEN: usize = REPLY_LEN;
    const IDENTIFICATION: Range<usize> = field::REPLY_IDENTIFICATION;
    const NAME: &'static str = "Registration Reply";
    const TYPE_NAME: &'static str = "Registration Reply type";
}

/// Zero-copy view of a registration message of kind `K`.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>, K: Kind> {
    buffer: T,
    kind: PhantomData<K>,
}

/// Zero-copy view of a Registration Request.
pub type RequestPacket<T> = Packet<T, RequestKind>;
/// Zero-copy view of a Registration Reply.
pub type ReplyPacket<T> = Packet<T, ReplyKind>;

impl<T: AsRef<[u8]>, K: Kind> Packet<T, K> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet {
            buffer,
            kind: PhantomData,
        }
    }
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Checks that the fixed part fits, so every accessor is safe.
    pub fn check_len(&self) -> Result<()> {
        need(K::NAME, self.buffer.as_ref(), K::FIXED_LEN)
    }
    /// Checks that the Type field names this kind of message.
    pub fn check_type(&self) -> Result<()> {
        if self.msg_type() == K::TYPE {
            Ok(())
        } else {
            Err(Error::Unsupported {
                what: K::TYPE_NAME,
                value: self.msg_type().into(),
            })
        }
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    /// The whole message.
    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    pub fn lifetime(&self) -> u16 {
        be16(&self.buffer.as_ref()[field::LIFETIME])
    }
    pub fn home_address(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::HOME_ADDRESS])
    }
    pub fn home_agent(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::HOME_AGENT])
    }
    pub fn identification(&self) -> Identification {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.buffer.as_ref()[K::IDENTIFICATION]);
        Identification(u64::from_be_bytes(b))
    }
    /// The extension area after the fixed part.
    pub fn extensions(&self) -> &[u8] {
        &self.buffer.as_ref()[K::FIXED_LEN..]
    }
    /// The extensions parsed, each with its offset in the message.
    pub fn extension_list(&self) -> Result<ExtensionList<'_>> {
        ExtensionList::parse(self.buffer.as_ref(), K::FIXED_LEN)
    }
}

impl<T: AsRef<[u8]>> Packet<T, RequestKind> {
    pub fn flags(&self) -> RequestFlags {
        RequestFlags::from_byte(self.buffer.as_ref()[field::FLAGS])
    }
    pub fn care_of_address(&self) -> Ipv4Addr {
        addr(&self.buffer.as_ref()[field::CARE_OF_ADDRESS])
    }
}

impl<T: AsRef<[u8]>> Packet<T, ReplyKind> {
    pub fn code(&self) -> ReplyCode {
        self.buffer.as_ref()[field::CODE].into()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>, K: Kind> Packet<T, K> {
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }
    pub fn set_lifetime(&mut self, v: u16) {
        self.buffer.as_mut()[field::LIFETIME].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_home_address(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::HOME_ADDRESS].copy_from_slice(&a.octets());
    }
    pub fn set_home_agent(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::HOME_AGENT].copy_from_slice(&a.octets());
    }
    pub fn set_identification(&mut self, v: Identification) {
        self.buffer.as_mut()[K::IDENTIFICATION].copy_from_slice(&v.0.to_be_bytes());
    }
    pub fn extensions_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[K::FIXED_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T, RequestKind> {
    pub fn set_flags(&mut self, f: RequestFlags) {
        self.buffer.as_mut()[field::FLAGS] = f.to_byte();
    }
    pub fn set_care_of_address(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::CARE_OF_ADDRESS].copy_from_slice(&a.octets());
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T, ReplyKind> {
    pub fn set_code(&mut self, c: ReplyCode) {
        self.buffer.as_mut()[field::CODE] = c.into();
    }
}

/// Checks length and type and parses the extensions once: what both
/// Reprs' `parse_located` start with.
fn parse_common<'a, T: AsRef<[u8]> + ?Sized, K: Kind>(
    packet: &Packet<&'a T, K>,
) -> Result<ExtensionList<'a>> {
    packet.check_len()?;
    packet.check_type()?;
    let buffer: &'a T = packet.buffer;
    ExtensionList::parse(buffer.as_ref(), K::FIXED_LEN)
}

/// Writes the fields both messages have.
fn emit_common<T: AsRef<[u8]> + AsMut<[u8]>, K: Kind>(
    p: &mut Packet<T, K>,
    lifetime: u16,
    home_address: Ipv4Addr,
    home_agent: Ipv4Addr,
    identification: Identification,
) {
    p.set_msg_type(K::TYPE);
    p.set_lifetime(lifetime);
    p.set_home_address(home_address);
    p.set_home_agent(home_agent);
    p.set_identification(identification);
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
        Self::parse_located(packet).map(|(r, _)| r)
    }

    /// Parses the request and, in the same pass, records where each
    /// extension lies (with the span each authenticator covers), so an
    /// agent never scans the extensions again.
    pub fn parse_located<T: AsRef<[u8]> + ?Sized>(
        packet: &RequestPacket<&'a T>,
    ) -> Result<(RequestRepr<'a>, ExtensionList<'a>)> {
        let list = parse_common(packet)?;
        let repr = RequestRepr {
            flags: packet.flags(),
            lifetime: packet.lifetime(),
            home_address: packet.home_address(),
            home_agent: packet.home_agent(),
            care_of_address: packet.care_of_address(),
            identification: packet.identification(),
            extensions: list.to_extensions(),
        };
        Ok((repr, list))
    }

    pub fn buffer_len(&self) -> usize {
        REQUEST_LEN + extension::buffer_len(&self.extensions)
    }

    /// Writes the whole request (at least `buffer_len()` bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = RequestPacket::new_unchecked(buf);
        self.emit_fields(&mut p);
        extension::emit_all(&self.extensions, p.extensions_mut());
    }

    /// Writes only the fixed part.
    pub fn emit_header(&self, buf: &mut [u8]) {
        self.emit_fields(&mut RequestPacket::new_unchecked(buf));
    }

    fn emit_fields<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut RequestPacket<T>) {
        emit_common(
            p,
            self.lifetime,
            self.home_address,
            self.home_agent,
            self.identification,
        );
        p.set_flags(self.flags);
        p.set_care_of_address(self.care_of_address);
    }

    /// The message as bytes (fixed part and extensions).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v);
        v
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
        Self::parse_located(packet).map(|(r, _)| r)
    }

    /// Parses the reply and records where each extension lies, as
    /// [`RequestRepr::parse_located`] does.
    pub fn parse_located<T: AsRef<[u8]> + ?Sized>(
        packet: &ReplyPacket<&'a T>,
    ) -> Result<(ReplyRepr<'a>, ExtensionList<'a>)> {
        let list = parse_common(packet)?;
        let repr = ReplyRepr {
            code: packet.code(),
            lifetime: packet.lifetime(),
            home_address: packet.home_address(),
            home_agent: packet.home_agent(),
            identification: packet.identification(),
            extensions: list.to_extensions(),
        };
        Ok((repr, list))
    }

    pub fn buffer_len(&self) -> usize {
        REPLY_LEN + extension::buffer_len(&self.extensions)
    }

    pub fn emit(&self, buf: &mut [u8]) {
        let mut p = ReplyPacket::new_unchecked(buf);
        self.emit_fields(&mut p);
        extension::emit_all(&self.extensions, p.extensions_mut());
    }

    pub fn emit_header(&self, buf: &mut [u8]) {
        self.emit_fields(&mut ReplyPacket::new_unchecked(buf));
    }

    fn emit_fields<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut ReplyPacket<T>) {
        emit_common(
            p,
            self.lifetime,
            self.home_address,
            self.home_agent,
            self.identification,
        );
        p.set_code(self.code);
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.buffer_len()];
        self.emit(&mut v);
        v
    }
}

/// Offset (from the start of the message) of the first extension of
/// `kind`, for authenticating it. Agents use the list from
/// `parse_located` instead; this is for tools and tests that hold only
/// bytes.
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

    #[test]
    fn located_parse_and_shared_view() {
        let mut m = request().to_vec();
        extension::append_authentication(
            &mut m,
            kind::FOREIGN_HOME_AUTH,
            0x200,
            Algorithm::HmacMd5,
            b"fa",
        );
        let p = RequestPacket::new_checked(&m[..]).unwrap();
        let (repr, list) = RequestRepr::parse_located(&p).unwrap();
        assert_eq!(repr.extensions.len(), 3);
        assert_eq!(repr, RequestRepr::parse(&p).unwrap());
        let mhae = list.auth(kind::MOBILE_HOME_AUTH).unwrap();
        assert_eq!(
            Some(mhae.offset),
            find_extension(&m, REQUEST_LEN, kind::MOBILE_HOME_AUTH)
        );
        assert_eq!(mhae.spi, 0x100);
        assert_eq!(mhae.covered, 0..mhae.offset + 6);
        let fhae = list.auth(kind::FOREIGN_HOME_AUTH).unwrap();
        assert_eq!(fhae.offset, mhae.end());
        assert!(fhae.verify(&m, Algorithm::HmacMd5, b"fa"));
        assert_eq!(p.extension_list().unwrap(), list);

        // One set of accessors serves both kinds.
        let mut b = [0u8; REPLY_LEN];
        let mut reply = ReplyPacket::new_unchecked(&mut b[..]);
        reply.set_msg_type(TYPE_REPLY);
        reply.set_code(ReplyCode::Accepted);
        reply.set_lifetime(p.lifetime());
        reply.set_home_address(p.home_address());
        reply.set_home_agent(p.home_agent());
        reply.set_identification(p.identification());
        assert_eq!(reply.check_type(), Ok(()));
        assert_eq!(
            (reply.lifetime(), reply.home_address(), reply.home_agent()),
            (600, repr.home_address, repr.home_agent)
        );
        assert_eq!(reply.identification(), repr.identification);
        assert!(p.check_type().is_ok());
        assert!(RequestPacket::new_unchecked(&b[..]).check_type().is_err());
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
