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
            | Extension::RouteOptimizationAuth(a) => 4 + a.authenticator.len(),
            Extension::Nai(n) => n.len(),
            Extension::EncapsulatingDeliveryStyle => 0,
            Extension::Skipped { data, .. } => data.len(),
        }
    }

    /// Type, Length and data.
    pub fn buffer_len(&self) -> usize {
        2 + self.data_len()
    }

    /// Decodes one extension from its type and data.
    pub fn parse(kind: u8, data: &'a [u8]) -> Result<Extension<'a>> {
        let auth = || -> Result<Authentication<'a>> {
            if data.len() < 4 {
                return Err(Error::BadLength {
                    what: "authentication extension",
                    len: data.len(),
                });
            }
            Ok(Authentication {
                spi: u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
                authenticator: &data[4..],
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
        buf[0] = self.kind();
        buf[1] = self.data_len() as u8;
        let body = &mut buf[2..self.buffer_len()];
        match self {
            Extension::MobileHomeAuth(a)
            | Extension::MobileForeignAuth(a)
            | Extension::ForeignHomeAuth(a)
            | Extension::RouteOptimizationAuth(a) => {
                body[..4].copy_from_slice(&a.spi.to_be_bytes());
                body[4..].copy_from_slice(a.authenticator);
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
        if rest.len() < 2 {
            self.failed = true;
            return Some(Err(Error::Truncated {
                what: "extension header",
                need: 2,
                have: rest.len(),
            }));
        }
        let len = usize::from(rest[1]);
        if rest.len() < 2 + len {
            self.failed = true;
            return Some(Err(Error::Truncated {
                what: "extension",
                need: 2 + len,
                have: rest.len(),
            }));
        }
        let raw = RawExtension {
            offset: self.pos,
            kind: rest[0],
            data: &rest[2..2 + len],
        };
        self.pos += 2 + len;
        Some(Ok(raw))
    }
}

/// The extensions of one message, in order.
pub type Extensions<'a> = ArrayVec<Extension<'a>, MAX_EXTENSIONS>;

/// Parses an extension area.
pub fn parse_all(bytes: &[u8]) -> Result<Extensions<'_>> {
    let mut out = Extensions::new();
    for raw in RawIter::new(bytes) {
        let raw = raw?;
        let ext = Extension::parse(raw.kind, raw.data)?;
        out.try_push(ext).map_err(|_| Error::Malformed {
            what: "registration message",
            reason: "too many extensions",
        })?;
    }
    Ok(out)
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
    message.push((4 + auth::AUTHENTICATOR_LEN) as u8);
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
    let Some(header) = message.get(offset..offset + 6) else {
        return false;
    };
    let len = usize::from(header[1]);
    if len < 4 {
        return false;
    }
    let Some(received) = message.get(offset + 6..offset + 2 + len) else {
        return false;
    };
    auth::verify(algorithm, key, &message[..offset + 6], received)
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

    proptest! {
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
