//! Extensions that follow a registration message (RFC 5944 section 3.5,
//! RFC 2794, RFC 3024) and the rule for unknown ones (RFC 5944 1.9:
//! types 0–127 must be understood, 128–255 may be skipped).

use crate::auth::{self, Algorithm};
use crate::error::{Error, Result};
use arrayvec::ArrayVec;

/// Extension type numbers.
pub mod kind {
    /// Mobile-Home Authentication Extension, RFC 5944 3.5.2.
    pub const MOBILE_HOME_AUTH: u8 = 32;
    /// Mobile-Foreign Authentication Extension, RFC 5944 3.5.3.
    pub const MOBILE_FOREIGN_AUTH: u8 = 33;
    /// Foreign-Home Authentication Extension, RFC 5944 3.5.4.
    pub const FOREIGN_HOME_AUTH: u8 = 34;
    /// Route Optimization Authentication Extension (route-optimization
    /// draft, section 4.6): authenticates Binding Updates/Acknowledges.
    pub const ROUTE_OPTIMIZATION_AUTH: u8 = 35;
    /// Encapsulating Delivery Style Extension, RFC 3024 section 3.3.
    pub const ENCAPSULATING_DELIVERY_STYLE: u8 = 130;
    /// Mobile Node NAI Extension, RFC 2794 section 2.
    pub const NAI: u8 = 131;
}

/// The layout of one extension (RFC 5944 1.9, 3.5.1): Type, Length,
/// then Length bytes of data; an authentication extension's data is its
/// SPI and then the authenticator.
mod field {
    use core::ops::Range;

    pub const TYPE: usize = 0;
    pub const LENGTH: usize = 1;
    pub const DATA: usize = 2;
    /// Within the data of an authentication extension.
    pub const SPI: Range<usize> = 0..4;
    pub const AUTHENTICATOR: usize = SPI.end;
}

/// Type and Length of an extension.
const HEADER_LEN: usize = field::DATA;
/// Type, Length and SPI: where an authenticator starts, and where the
/// bytes it covers end (RFC 5944 3.5.1).
const AUTH_HEADER_LEN: usize = field::DATA + field::AUTHENTICATOR;

/// Most extensions one message may carry; more is refused.
pub const MAX_EXTENSIONS: usize = 16;

/// SPI and authenticator of an authentication extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authentication<'a> {
    pub spi: u32,
    pub authenticator: &'a [u8],
}

/// One parsed extension; data borrows from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extension<'a> {
    MobileHomeAuth(Authentication<'a>),
    MobileForeignAuth(Authentication<'a>),
    ForeignHomeAuth(Authentication<'a>),
    RouteOptimizationAuth(Authentication<'a>),
    /// The mobile node's Network Access Identifier (RFC 2794).
    Nai(&'a [u8]),
    /// Ask for the Encapsulating Delivery Style of reverse tunnelling
    /// (RFC 3024 3.3); no data.
    EncapsulatingDeliveryStyle,
    /// An unknown skippable extension (type 128–255), kept so that
    /// emitting the message gives back the same bytes.
    Skipped {
        kind: u8,
        data: &'a [u8],
    },
}

impl<'a> Extension<'a> {
    pub fn kind(&self) -> u8 {
        match self {
            Extension::MobileHomeAuth(_) => kind::MOBILE_HOME_AUTH,
            Extension::MobileForeignAuth(_) => kind::MOBILE_FOREIGN_AUTH,
            Extension::ForeignHomeAuth(_) => kind::FOREIGN_HOME_AUTH,
            Extension::RouteOptimizationAuth(_) => kind::ROUTE_OPTIMIZATION_AUTH,
            Extension::Nai(_) => kind::NAI,
            Extension::EncapsulatingDeliveryStyle => kind::ENCAPSULATING_DELIVERY_STYLE,
            Extension::Skipped { kind, .. } => *kind,
        }
    }

    /// The authentication data, for the four authentication extensions.
    pub fn authentication(&self) -> Option<&Authentication<'a>> {
        match self {
            Extension::MobileHomeAuth(a)
            | Extension::MobileForeignAuth(a)
            | Extension::ForeignHomeAuth(a)
            | Extension::RouteOptimizationAuth(a) => Some(a),
            _ => None,
        }
    }

    fn data_len(&self) -> usize {
        match self {
            Extension::MobileHomeAuth(a)
            | Extension::MobileForeignAuth(a)
            | Extension::ForeignHomeAuth(a)
            | Extension::RouteOptimizationAuth(a) => field::AUTHENTICATOR + a.authenticator.len(),
            Extension::Nai(n) => n.len(),
            Extension::EncapsulatingDeliveryStyle => 0,
            Extension::Skipped { data, .. } => data.len(),
        }
    }

    /// Type, Length and data.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.data_len()
    }

    /// Decodes one extension from its type and data.
    pub fn parse(kind: u8, data: &'a [u8]) -> Result<Extension<'a>> {
        let auth = || -> Result<Authentication<'a>> {
            if data.len() < field::AUTHENTICATOR {
                return Err(Error::BadLength {
                    what: "authentication extension",
                    len: data.len(),
                });
            }
            let spi = &data[field::SPI];
            Ok(Authentication {
                spi: u32::from_be_bytes([spi[0], spi[1], spi[2], spi[3]]),
                authenticator: &data[field::AUTHENTICATOR..],
            })
        };
        Ok(match kind {
            kind::MOBILE_HOME_AUTH => Extension::MobileHomeAuth(auth()?),
            kind::MOBILE_FOREIGN_AUTH => Extension::MobileForeignAuth(auth()?),
            kind::FOREIGN_HOME_AUTH => Extension::ForeignHomeAuth(auth()?),
            kind::ROUTE_OPTIMIZATION_AUTH => Extension::RouteOptimizationAuth(auth()?),
            kind::NAI => {
                if data.is_empty() {
                    return Err(Error::BadLength {
                        what: "NAI extension",
                        len: 0,
                    });
                }
                Extension::Nai(data)
            }
            kind::ENCAPSULATING_DELIVERY_STYLE => {
                if !data.is_empty() {
                    return Err(Error::BadLength {
                        what: "Encapsulating Delivery Style extension",
                        len: data.len(),
                    });
                }
                Extension::EncapsulatingDeliveryStyle
            }
            0..=127 => return Err(Error::UnknownExtension { kind }),
            _ => Extension::Skipped { kind, data },
        })
    }

    /// Writes the extension into the front of `buf` (at least
    /// `buffer_len()` bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[field::TYPE] = self.kind();
        buf[field::LENGTH] = self.data_len() as u8;
        let body = &mut buf[field::DATA..self.buffer_len()];
        match self {
            Extension::MobileHomeAuth(a)
            | Extension::MobileForeignAuth(a)
            | Extension::ForeignHomeAuth(a)
            | Extension::RouteOptimizationAuth(a) => {
                body[field::SPI].copy_from_slice(&a.spi.to_be_bytes());
                body[field::AUTHENTICATOR..].copy_from_slice(a.authenticator);
            }
            Extension::Nai(n) => body.copy_from_slice(n),
            Extension::EncapsulatingDeliveryStyle => {}
            Extension::Skipped { data, .. } => body.copy_from_slice(data),
        }
    }
}

/// An extension as it lies in the buffer: its offset from the start of
/// the extension area, type and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawExtension<'a> {
    pub offset: usize,
    pub kind: u8,
    pub data: &'a [u8],
}

/// Iterates over the raw extensions of an extension area; stops after the
/// first error.
#[derive(Debug, Clone)]
pub struct RawIter<'a> {
    bytes: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> RawIter<'a> {
    pub fn new(bytes: &'a [u8]) -> RawIter<'a> {
        RawIter {
            bytes,
            pos: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for RawIter<'a> {
    type Item = Result<RawExtension<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let rest = &self.bytes[self.pos..];
        if rest.len() < HEADER_LEN {
            self.failed = true;
            return Some(Err(Error::Truncated {
                what: "extension header",
                need: HEADER_LEN,
                have: rest.len(),
            }));
        }
        let end = HEADER_LEN + usize::from(rest[field::LENGTH]);
        if rest.len() < end {
            self.failed = true;
            return Some(Err(Error::Truncated {
                what: "extension",
                need: end,
                have: rest.len(),
            }));
        }
        let raw = RawExtension {
            offset: self.pos,
            kind: rest[field::TYPE],
            data: &rest[field::DATA..end],
        };
        self.pos += end;
        Some(Ok(raw))
    }
}

/// The extensions of one message, in order.
pub type Extensions<'a> = ArrayVec<Extension<'a>, MAX_EXTENSIONS>;

/// Where an authentication extension lies in its message and what its
/// authenticator covers. Offsets count from the first byte of the
/// message (not of the extension area), so the span can be checked
/// against the message without scanning it again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthSpan {
    /// The extension type (32 MHAE, 33 MFAE, 34 FHAE, 35 route
    /// optimization).
    pub kind: u8,
    pub spi: u32,
    /// Offset of the extension's Type byte.
    pub offset: usize,
    /// The bytes the authenticator covers (RFC 5944 3.5.1): from the
    /// start of the message up to and including this extension's SPI.
    pub covered: core::ops::Range<usize>,
    /// Where the authenticator itself lies.
    pub authenticator: core::ops::Range<usize>,
}

impl AuthSpan {
    /// The offset just past this extension: a relay that keeps
    /// everything up to and including it copies `message[..end()]`.
    pub fn end(&self) -> usize {
        self.authenticator.end
    }

    /// Checks the recorded authenticator against `message` (the bytes
    /// the span was parsed from) under `key`, in constant time. False,
    /// never a panic, when `message` is not long enough for the span.
    pub fn verify(&self, message: &[u8], algorithm: Algorithm, key: &[u8]) -> bool {
        match (
            message.get(self.covered.clone()),
            message.get(self.authenticator.clone()),
        ) {
            (Some(covered), Some(received)) => auth::verify(algorithm, key, covered, received),
            _ => false,
        }
    }
}

/// One parsed extension and its offset from the start of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located<'a> {
    pub offset: usize,
    pub extension: Extension<'a>,
}

impl Located<'_> {
    /// The offset just past the extension.
    pub fn end(&self) -> usize {
        self.offset + self.extension.buffer_len()
    }

    /// SPI, offset and covered span, for the authentication extensions.
    pub fn auth_span(&self) -> Option<AuthSpan> {
        let a = self.extension.authentication()?;
        let spi_end = self.offset + AUTH_HEADER_LEN;
        Some(AuthSpan {
            kind: self.extension.kind(),
            spi: a.spi,
            offset: self.offset,
            covered: 0..spi_end,
            authenticator: spi_end..spi_end + a.authenticator.len(),
        })
    }
}

/// The extensions of one message, parsed once, each with its offset in
/// the message: what the agents decide on (which extensions are present,
/// in which order, and the span each authenticator covers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtensionList<'a> {
    items: ArrayVec<Located<'a>, MAX_EXTENSIONS>,
}

impl<'a> ExtensionList<'a> {
    /// Parses the extension area of `message`, which starts at
    /// `fixed_len` (the length of the message's fixed part). Fails as
    /// [`parse_all`] does: a truncated or badly sized extension, an
    /// unknown one that must be understood (RFC 5944 1.9), too many.
    pub fn parse(message: &'a [u8], fixed_len: usize) -> Result<ExtensionList<'a>> {
        let area = message.get(fixed_len..).ok_or(Error::Truncated {
            what: "registration message",
            need: fixed_len,
            have: message.len(),
        })?;
        let mut items = ArrayVec::new();
        for raw in RawIter::new(area) {
            let raw = raw?;
            let extension = Extension::parse(raw.kind, raw.data)?;
            items
                .try_push(Located {
                    offset: fixed_len + raw.offset,
                    extension,
                })
                .map_err(|_| Error::Malformed {
                    what: "registration message",
                    reason: "too many extensions",
                })?;
        }
        Ok(ExtensionList { items })
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> core::slice::Iter<'_, Located<'a>> {
        self.items.iter()
    }

    pub fn as_slice(&self) -> &[Located<'a>] {
        &self.items
    }

    /// The first extension of `kind`.
    pub fn first(&self, kind: u8) -> Option<&Located<'a>> {
        self.items.iter().find(|l| l.extension.kind() == kind)
    }

    /// Position in the list of the first extension of `kind`.
    pub fn position(&self, kind: u8) -> Option<usize> {
        self.items.iter().position(|l| l.extension.kind() == kind)
    }

    /// The span of the first authentication extension of `kind`.
    pub fn auth(&self, kind: u8) -> Option<AuthSpan> {
        self.first(kind).and_then(Located::auth_span)
    }

    /// Every authentication extension, in message order.
    pub fn auths(&self) -> impl Iterator<Item = AuthSpan> + '_ {
        self.items.iter().filter_map(Located::auth_span)
    }

    /// The extensions without their offsets, as the Repr structs hold
    /// them.
    pub fn to_extensions(&self) -> Extensions<'a> {
        self.items.iter().map(|l| l.extension).collect()
    }
}

impl<'l, 'a> IntoIterator for &'l ExtensionList<'a> {
    type Item = &'l Located<'a>;
    type IntoIter = core::slice::Iter<'l, Located<'a>>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

/// Parses an extension area.
pub fn parse_all(bytes: &[u8]) -> Result<Extensions<'_>> {
    ExtensionList::parse(bytes, 0).map(|l| l.to_extensions())
}

/// Total length of `exts` on the wire.
pub fn buffer_len(exts: &[Extension<'_>]) -> usize {
    exts.iter().map(Extension::buffer_len).sum()
}

/// Writes `exts` one after another into `buf`.
pub fn emit_all(exts: &[Extension<'_>], buf: &mut [u8]) {
    let mut at = 0;
    for e in exts {
        e.emit(&mut buf[at..]);
        at += e.buffer_len();
    }
}

/// Appends an authentication extension of `kind` to `message` (the
/// message and every extension before this one), computing its
/// authenticator over exactly the bytes RFC 5944 3.5.1 names: all of
/// `message`, then this extension's Type, Length and SPI.
pub fn append_authentication(
    message: &mut Vec<u8>,
    kind: u8,
    spi: u32,
    algorithm: Algorithm,
    key: &[u8],
) {
    message.push(kind);
    message.push((field::AUTHENTICATOR + auth::AUTHENTICATOR_LEN) as u8);
    message.extend_from_slice(&spi.to_be_bytes());
    let a = auth::authenticator(algorithm, key, message);
    message.extend_from_slice(&a);
}

/// Verifies the authentication extension whose Type byte is at
/// `offset` in `message` (offsets from the start of the message).
/// False, never a panic, when the offset does not hold one.
pub fn verify_authentication(
    message: &[u8],
    offset: usize,
    algorithm: Algorithm,
    key: &[u8],
) -> bool {
    let Some(header) = message.get(offset..offset + AUTH_HEADER_LEN) else {
        return false;
    };
    let len = usize::from(header[field::LENGTH]);
    if len < field::AUTHENTICATOR {
        return false;
    }
    let Some(received) = message.get(offset + AUTH_HEADER_LEN..offset + HEADER_LEN + len) else {
        return false;
    };
    auth::verify(
        algorithm,
        key,
        &message[..offset + AUTH_HEADER_LEN],
        received,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn skippable_and_not() {
        assert_eq!(
            parse_all(&[20, 0]),
            Err(Error::UnknownExtension { kind: 20 })
        );
        let ok = parse_all(&[200, 2, 1, 2, 130, 0]).unwrap();
        assert_eq!(
            ok.as_slice(),
            &[
                Extension::Skipped {
                    kind: 200,
                    data: &[1, 2]
                },
                Extension::EncapsulatingDeliveryStyle
            ]
        );
        assert!(matches!(
            parse_all(&[32, 3, 0, 0, 1]),
            Err(Error::BadLength { .. })
        ));
        assert!(matches!(parse_all(&[131, 0]), Err(Error::BadLength { .. })));
        assert!(matches!(
            parse_all(&[130, 1, 0]),
            Err(Error::BadLength { .. })
        ));
        assert!(matches!(
            parse_all(&[131, 5, 1]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(parse_all(&[131]), Err(Error::Truncated { .. })));
        let many: Vec<u8> = [130u8, 0].repeat(MAX_EXTENSIONS + 1);
        assert!(matches!(parse_all(&many), Err(Error::Malformed { .. })));
    }

    #[test]
    fn sign_and_verify() {
        let mut m = vec![1, 2, 3, 4];
        append_authentication(
            &mut m,
            kind::MOBILE_HOME_AUTH,
            0x100,
            Algorithm::HmacMd5,
            b"key",
        );
        assert_eq!(m.len(), 4 + 22);
        assert!(verify_authentication(&m, 4, Algorithm::HmacMd5, b"key"));
        assert!(!verify_authentication(&m, 4, Algorithm::HmacMd5, b"kez"));
        assert!(!verify_authentication(&m, 5, Algorithm::HmacMd5, b"key"));
        assert!(!verify_authentication(&m, 400, Algorithm::HmacMd5, b"key"));
        m[0] ^= 1;
        assert!(!verify_authentication(&m, 4, Algorithm::HmacMd5, b"key"));
    }

    #[test]
    fn list_records_offsets_and_spans() {
        let mut m = vec![9u8; 24];
        m.extend_from_slice(&[131, 2, b'm', b'n']);
        append_authentication(
            &mut m,
            kind::MOBILE_HOME_AUTH,
            0x100,
            Algorithm::HmacMd5,
            b"key",
        );
        append_authentication(
            &mut m,
            kind::FOREIGN_HOME_AUTH,
            0x200,
            Algorithm::HmacMd5,
            b"fa",
        );
        let list = ExtensionList::parse(&m, 24).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list.as_slice()[0].offset, 24);
        let mhae = list.auth(kind::MOBILE_HOME_AUTH).unwrap();
        assert_eq!((mhae.offset, mhae.spi), (28, 0x100));
        assert_eq!(mhae.covered, 0..34);
        assert_eq!(mhae.authenticator, 34..50);
        assert_eq!(mhae.end(), 50);
        assert!(mhae.verify(&m, Algorithm::HmacMd5, b"key"));
        assert!(!mhae.verify(&m, Algorithm::HmacMd5, b"kez"));
        assert!(!mhae.verify(&m[..40], Algorithm::HmacMd5, b"key"));
        let fhae = list.auth(kind::FOREIGN_HOME_AUTH).unwrap();
        assert_eq!(fhae.covered, 0..56);
        assert!(fhae.verify(&m, Algorithm::HmacMd5, b"fa"));
        assert_eq!(list.auths().count(), 2);
        assert_eq!(list.position(kind::FOREIGN_HOME_AUTH), Some(2));
        assert!(list.auth(kind::MOBILE_FOREIGN_AUTH).is_none());
        assert_eq!(list.to_extensions(), parse_all(&m[24..]).unwrap());
        assert!(matches!(
            ExtensionList::parse(&m[..10], 24),
            Err(Error::Truncated { .. })
        ));
    }

    proptest! {
        #[test]
        fn list_agrees_with_the_scanner(b in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(list) = ExtensionList::parse(&b, 0) {
                for k in [kind::MOBILE_HOME_AUTH, kind::MOBILE_FOREIGN_AUTH, kind::FOREIGN_HOME_AUTH] {
                    let scanned = RawIter::new(&b).map_while(|r| r.ok()).find(|r| r.kind == k);
                    prop_assert_eq!(scanned.map(|r| r.offset), list.auth(k).map(|a| a.offset));
                }
            }
        }

        #[test]
        fn arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(exts) = parse_all(&b) {
                let mut out = vec![0u8; buffer_len(&exts)];
                emit_all(&exts, &mut out);
                prop_assert_eq!(&out, &b);
            }
        }
    }
}
