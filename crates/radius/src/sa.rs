//! The mobility security association a RADIUS server hands out, as the
//! Cisco-AVPair (vendor 9, type 1) IOS reads for `aaa authorization
//! ipmobile`:
//!
//! ```text
//! Cisco-AVPair = "mobileip:spi#0=spi 100 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5 replay timestamp within 7"
//! ```
//!
//! What Cisco documents (found with the search tool; see the crate docs
//! for the references): the value after `mobileip:spi#N=` "is in the same
//! syntax as the `ip mobile secure host <addr>` configuration command ...
//! the rest of the configuration command that follows that string,
//! verbatim", giving SPI, key, algorithm, mode and replay range; the
//! smallest documented example is `mobileip:spi#0=spi 100 key ascii
//! cisco`. So this parser takes exactly the `ip mobile secure` tail that
//! `pmip-config` takes: `spi N key {hex|ascii} K [algorithm {md5 [mode
//! prefix-suffix] | hmac-md5}] [replay timestamp [[within] S]]`, clauses
//! after the key in any order, keywords in any case. Cisco AV pairs
//! separate attribute and value with `=` (mandatory) or `*` (optional);
//! both are accepted. `N` in `spi#N` is the index of the association
//! (several may be sent); the lowest index wins.
//!
//! The SPI's radix: IOS writes SPIs in hexadecimal in `ip mobile secure`
//! (`spi 100` is SPI 0x100, as `pmip-config` reads them), and the AV pair
//! is documented as that same command tail, so [`SpiRadix::Hex`] is the
//! default. [`SpiRadix::Decimal`] is there for servers provisioned with
//! decimal SPIs; `0x100` is hexadecimal under either.
//!
//! Anything not understood never becomes a key: a malformed pair is an
//! [`AvPairError`], which never carries key material.

use core::time::Duration;
use pmip_engine::security::SecurityAssociation;
pub use pmip_wire::auth::Algorithm;

/// IOS's `replay timestamp` window when none is given (seconds).
pub const DEFAULT_REPLAY_WITHIN: u32 = pmip_config::DEFAULT_REPLAY_WITHIN;
/// The longest key IOS takes in `ip mobile secure` (octets).
pub const MAX_KEY_LEN: usize = 64;

/// How to read the number after `spi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpiRadix {
    /// As IOS writes SPIs in `ip mobile secure` (`spi 100` is 256).
    #[default]
    Hex,
    /// `spi 256` is 256.
    Decimal,
}

/// A mobility security association from RADIUS.
#[derive(Clone, PartialEq, Eq)]
pub struct Sa {
    pub spi: u32,
    pub key: Vec<u8>,
    pub algorithm: Algorithm,
    /// `replay timestamp within S` (RFC 5944 5.7), seconds.
    pub replay_within: u32,
}

impl core::fmt::Debug for Sa {
    /// Never prints the key: Debug output ends up in logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sa")
            .field("spi", &format_args!("{:#x}", self.spi))
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field("algorithm", &self.algorithm)
            .field("replay_within", &self.replay_within)
            .finish()
    }
}

impl Sa {
    pub fn replay_window(&self) -> Duration {
        Duration::from_secs(self.replay_within.into())
    }

    /// The engines' form of this association.
    pub fn to_security_association(&self) -> SecurityAssociation {
        SecurityAssociation {
            spi: self.spi,
            key: self.key.clone(),
            algorithm: self.algorithm,
            replay_window: self.replay_window(),
        }
    }
}

impl From<&Sa> for SecurityAssociation {
    fn from(sa: &Sa) -> SecurityAssociation {
        sa.to_security_association()
    }
}

/// Why a `mobileip:spi#N` AV pair was refused. Never holds key material:
/// a word is quoted only where it stands in a keyword's place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvPairError {
    #[error("the Cisco-AVPair is not UTF-8 text")]
    NotText,
    #[error("bad AV pair attribute `{0}`: expected mobileip:spi#N")]
    BadAttribute(String),
    #[error("expected {what}, found {}", found.as_deref().map_or("end of value".to_string(), |w| format!("`{w}`")))]
    Expected {
        what: &'static str,
        found: Option<String>,
    },
    #[error("SPI {0:#x} is reserved (RFC 5944 reserves 0-255)")]
    SpiReserved(u32),
    #[error("bad key: {0}")]
    BadKey(&'static str),
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    #[error("`{0}` given twice")]
    Duplicate(&'static str),
}

/// Quotes a word for an error, cut short so a long value stays readable.
fn quote(w: &str) -> String {
    w.chars().take(32).collect()
}

fn expected(what: &'static str, found: Option<&str>) -> AvPairError {
    AvPairError::Expected {
        what,
        found: found.map(quote),
    }
}

/// Parses one Cisco-AVPair value. `Ok(None)` when it is not a
/// `mobileip:spi#N` pair (other pairs are none of our business); `Ok(Some((N,
/// sa)))` when it is; an error when it is one and is malformed.
pub fn parse_av_pair(value: &[u8], radix: SpiRadix) -> Result<Option<(u32, Sa)>, AvPairError> {
    const PREFIX: &[u8] = b"mobileip:";
    if value.len() < PREFIX.len() || !value[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return Ok(None);
    }
    let text = core::str::from_utf8(value).map_err(|_| AvPairError::NotText)?;
    let rest = &text[PREFIX.len()..];
    // protocol:attribute=value (mandatory) or protocol:attribute*value
    // (optional): the attribute ends at the first separator.
    let Some(sep) = rest.find(['=', '*']) else {
        return Err(AvPairError::BadAttribute(quote(rest)));
    };
    let (attribute, tail) = (rest[..sep].trim(), &rest[sep + 1..]);
    let Some(index) = attribute
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("spi#"))
        .map(|_| &attribute[4..])
    else {
        // Another mobileip attribute (static-ip-pool, ...): not an SA.
        return Ok(None);
    };
    let index = index
        .parse::<u32>()
        .map_err(|_| AvPairError::BadAttribute(quote(attribute)))?;
    parse_sa(tail, radix).map(|sa| Some((index, sa)))
}

/// Parses the `ip mobile secure` tail: `spi N key {hex|ascii} K
/// [algorithm ...] [replay timestamp [[within] S]]`.
pub fn parse_sa(tail: &str, radix: SpiRadix) -> Result<Sa, AvPairError> {
    let mut words = tail.split_ascii_whitespace().peekable();
    let is = |w: Option<&&str>, k: &str| w.is_some_and(|w| w.eq_ignore_ascii_case(k));

    let first = words.next();
    if is(first.as_ref(), "inbound-spi") || is(first.as_ref(), "outbound-spi") {
        return Err(AvPairError::Unsupported(
            "inbound-spi/outbound-spi; use one bidirectional `spi`",
        ));
    }
    if !is(first.as_ref(), "spi") {
        return Err(expected("`spi`", first));
    }
    let spi = parse_spi(words.next(), radix)?;

    let w = words.next();
    if !is(w.as_ref(), "key") {
        return Err(expected("`key`", w));
    }
    let format = words.next();
    let key = if is(format.as_ref(), "hex") {
        parse_hex_key(words.next())?
    } else if is(format.as_ref(), "ascii") {
        parse_ascii_key(words.next())?
    } else {
        return Err(expected("`hex` or `ascii` after key", format));
    };

    let mut algorithm = None;
    let mut replay = None;
    while let Some(w) = words.next() {
        if w.eq_ignore_ascii_case("algorithm") {
            if algorithm.is_some() {
                return Err(AvPairError::Duplicate("algorithm"));
            }
            let a = words.next();
            if is(a.as_ref(), "md5") {
                if is(words.peek(), "mode") {
                    words.next();
                    let m = words.next();
                    if !is(m.as_ref(), "prefix-suffix") {
                        return Err(expected("`prefix-suffix` after mode", m));
                    }
                }
                algorithm = Some(Algorithm::KeyedMd5PrefixSuffix);
            } else if is(a.as_ref(), "hmac-md5") {
                algorithm = Some(Algorithm::HmacMd5);
            } else {
                return Err(expected(
                    "`md5 [mode prefix-suffix]` or `hmac-md5` after algorithm",
                    a,
                ));
            }
        } else if w.eq_ignore_ascii_case("replay") {
            if replay.is_some() {
                return Err(AvPairError::Duplicate("replay"));
            }
            let t = words.next();
            if !is(t.as_ref(), "timestamp") {
                return Err(expected(
                    "`timestamp` after replay (the only replay protection IOS configures)",
                    t,
                ));
            }
            let mut within = DEFAULT_REPLAY_WITHIN;
            if is(words.peek(), "within") {
                words.next();
                within = parse_within(words.next())?;
            } else if words
                .peek()
                .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
            {
                within = parse_within(words.next())?;
            }
            replay = Some(within);
        } else {
            return Err(expected(
                "`algorithm`, `replay timestamp` or the end of the value",
                Some(w),
            ));
        }
    }
    Ok(Sa {
        spi,
        key,
        // IOS's defaults: `algorithm md5 mode prefix-suffix`, replay
        // timestamps within 7 s (as pmip-config reads `ip mobile secure`).
        algorithm: algorithm.unwrap_or(Algorithm::KeyedMd5PrefixSuffix),
        replay_within: replay.unwrap_or(DEFAULT_REPLAY_WITHIN),
    })
}

fn parse_spi(w: Option<&str>, radix: SpiRadix) -> Result<u32, AvPairError> {
    const WHAT: &str = "the SPI (0x100-0xFFFFFFFF)";
    let Some(w) = w else {
        return Err(expected(WHAT, None));
    };
    let (digits, base) = match w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => match radix {
            SpiRadix::Hex => (w, 16),
            SpiRadix::Decimal => (w, 10),
        },
    };
    // from_str_radix takes a leading '+'; a SPI is digits only.
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| {
            if base == 16 {
                b.is_ascii_hexdigit()
            } else {
                b.is_ascii_digit()
            }
        });
    let spi = ok
        .then(|| u32::from_str_radix(digits, base).ok())
        .flatten()
        .ok_or_else(|| expected(WHAT, Some(w)))?;
    if spi < 0x100 {
        return Err(AvPairError::SpiReserved(spi));
    }
    Ok(spi)
}

fn parse_hex_key(w: Option<&str>) -> Result<Vec<u8>, AvPairError> {
    let k = w.ok_or(AvPairError::BadKey("missing after `key hex`"))?;
    if !k.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AvPairError::BadKey("key hex takes hexadecimal digits only"));
    }
    if k.len() % 2 != 0 {
        return Err(AvPairError::BadKey(
            "key hex takes an even number of digits",
        ));
    }
    if k.len() > 2 * MAX_KEY_LEN {
        return Err(AvPairError::BadKey("longer than 64 bytes"));
    }
    k.as_bytes()
        .chunks_exact(2)
        .map(|p| {
            // Both are hex digits (checked above), so this cannot fail;
            // the error arm is there to stay panic-free anyway.
            core::str::from_utf8(p)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or(AvPairError::BadKey("key hex takes hexadecimal digits only"))
        })
        .collect()
}

fn parse_ascii_key(w: Option<&str>) -> Result<Vec<u8>, AvPairError> {
    let k = w.ok_or(AvPairError::BadKey("missing after `key ascii`"))?;
    if !k.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AvPairError::BadKey(
            "key ascii takes printable ASCII characters only",
        ));
    }
    if k.len() > MAX_KEY_LEN {
        return Err(AvPairError::BadKey("longer than 64 characters"));
    }
    Ok(k.as_bytes().to_vec())
}

fn parse_within(w: Option<&str>) -> Result<u32, AvPairError> {
    const WHAT: &str = "the replay window in seconds (1-65535)";
    w.filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|w| w.parse::<u32>().ok())
        .filter(|n| (1..=65535).contains(n))
        .ok_or_else(|| expected(WHAT, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: [u8; 16] = [
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
        0xff,
    ];

    fn pair(s: &str) -> Result<Option<(u32, Sa)>, AvPairError> {
        parse_av_pair(s.as_bytes(), SpiRadix::Hex)
    }

    #[test]
    fn the_documented_forms() {
        let (i, sa) = pair("mobileip:spi#0=spi 100 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5 replay timestamp within 7")
            .unwrap()
            .unwrap();
        assert_eq!(i, 0);
        assert_eq!(
            sa,
            Sa {
                spi: 0x100,
                key: K.to_vec(),
                algorithm: Algorithm::HmacMd5,
                replay_within: 7
            }
        );
        // Cisco's smallest example: IOS defaults for the rest.
        let (_, sa) = pair("mobileip:spi#0=spi 100 key ascii cisco")
            .unwrap()
            .unwrap();
        assert_eq!(sa.key, b"cisco");
        assert_eq!(sa.algorithm, Algorithm::KeyedMd5PrefixSuffix);
        assert_eq!(sa.replay_within, DEFAULT_REPLAY_WITHIN);
        // Keyed MD5, mode spelled out, clauses swapped, optional separator,
        // keywords in capitals, `replay timestamp N`.
        let (i, sa) = pair("MobileIP:SPI#3*spi 1A2b KEY HEX 00112233445566778899AABBCCDDEEFF replay timestamp 30 algorithm md5 mode prefix-suffix")
            .unwrap()
            .unwrap();
        assert_eq!(i, 3);
        assert_eq!(sa.spi, 0x1a2b);
        assert_eq!(sa.key, K.to_vec());
        assert_eq!(sa.algorithm, Algorithm::KeyedMd5PrefixSuffix);
        assert_eq!(sa.replay_within, 30);
        let (_, sa) = pair("mobileip:spi#0=spi 100 key ascii k algorithm md5")
            .unwrap()
            .unwrap();
        assert_eq!(sa.algorithm, Algorithm::KeyedMd5PrefixSuffix);
        let (_, sa) = pair("mobileip:spi#0=spi 100 key ascii k replay timestamp")
            .unwrap()
            .unwrap();
        assert_eq!(sa.replay_within, DEFAULT_REPLAY_WITHIN);
    }

    #[test]
    fn spi_radix() {
        let v = b"mobileip:spi#0=spi 256 key ascii k";
        assert_eq!(
            parse_av_pair(v, SpiRadix::Hex).unwrap().unwrap().1.spi,
            0x256
        );
        assert_eq!(
            parse_av_pair(v, SpiRadix::Decimal).unwrap().unwrap().1.spi,
            256
        );
        let v = b"mobileip:spi#0=spi 0x100 key ascii k";
        assert_eq!(
            parse_av_pair(v, SpiRadix::Decimal).unwrap().unwrap().1.spi,
            0x100
        );
        assert_eq!(
            parse_av_pair(b"mobileip:spi#0=spi ffffffff key ascii k", SpiRadix::Hex)
                .unwrap()
                .unwrap()
                .1
                .spi,
            u32::MAX
        );
    }

    #[test]
    fn not_ours() {
        for v in [
            "shell:priv-lvl=15",
            "mobileip:static-ip-pool=mypool",
            "mobile",
            "",
            "ip:addr-pool=x",
        ] {
            assert_eq!(pair(v), Ok(None), "{v}");
        }
        assert_eq!(parse_av_pair(&[0xff, 0xfe], SpiRadix::Hex), Ok(None));
    }

    #[test]
    fn malformed_pairs_are_errors() {
        type Check = fn(&AvPairError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("mobileip:spi#0", |e| {
                matches!(e, AvPairError::BadAttribute(_))
            }),
            ("mobileip:spi#x=spi 100 key ascii k", |e| {
                matches!(e, AvPairError::BadAttribute(_))
            }),
            ("mobileip:spi#0=", |e| {
                matches!(e, AvPairError::Expected { .. })
            }),
            ("mobileip:spi#0=spi", |e| {
                matches!(e, AvPairError::Expected { .. })
            }),
            ("mobileip:spi#0=spi 100", |e| {
                matches!(e, AvPairError::Expected { .. })
            }),
            ("mobileip:spi#0=spi ff key ascii k", |e| {
                matches!(e, AvPairError::SpiReserved(0xff))
            }),
            ("mobileip:spi#0=spi 100000000 key ascii k", |e| {
                matches!(e, AvPairError::Expected { .. })
            }),
            ("mobileip:spi#0=spi +100 key ascii k", |e| {
                matches!(e, AvPairError::Expected { .. })
            }),
            ("mobileip:spi#0=spi 100 key hex 0011zz", |e| {
                matches!(e, AvPairError::BadKey(_))
            }),
            ("mobileip:spi#0=spi 100 key hex 001", |e| {
                matches!(e, AvPairError::BadKey(_))
            }),
            ("mobileip:spi#0=spi 100 key hex", |e| {
                matches!(e, AvPairError::BadKey(_))
            }),
            ("mobileip:spi#0=spi 100 key base64 AAAA", |e| {
                matches!(e, AvPairError::Expected { .. })
            }),
            ("mobileip:spi#0=spi 100 key ascii k algorithm sha1", |e| {
                matches!(e, AvPairError::Expected { .. })
            }),
            (
                "mobileip:spi#0=spi 100 key ascii k algorithm md5 mode suffix",
                |e| matches!(e, AvPairError::Expected { .. }),
            ),
            ("mobileip:spi#0=spi 100 key ascii k replay nonce", |e| {
                matches!(e, AvPairError::Expected { .. })
            }),
            (
                "mobileip:spi#0=spi 100 key ascii k replay timestamp within 0",
                |e| matches!(e, AvPairError::Expected { .. }),
            ),
            (
                "mobileip:spi#0=spi 100 key ascii k replay timestamp within 65536",
                |e| matches!(e, AvPairError::Expected { .. }),
            ),
            (
                "mobileip:spi#0=spi 100 key ascii k replay timestamp within",
                |e| matches!(e, AvPairError::Expected { .. }),
            ),
            (
                "mobileip:spi#0=spi 100 key ascii k algorithm md5 algorithm hmac-md5",
                |e| matches!(e, AvPairError::Duplicate("algorithm")),
            ),
            ("mobileip:spi#0=spi 100 key ascii k trailing", |e| {
                matches!(e, AvPairError::Expected { .. })
            }),
            (
                "mobileip:spi#0=inbound-spi 100 outbound-spi 101 key ascii k",
                |e| matches!(e, AvPairError::Unsupported(_)),
            ),
        ];
        for (v, ok) in cases {
            let e = pair(v).expect_err(v);
            assert!(ok(&e), "{v}: {e:?}");
        }
        let long = format!("mobileip:spi#0=spi 100 key hex {}", "00".repeat(65));
        assert!(matches!(pair(&long), Err(AvPairError::BadKey(_))));
        let long = format!("mobileip:spi#0=spi 100 key ascii {}", "a".repeat(65));
        assert!(matches!(pair(&long), Err(AvPairError::BadKey(_))));
        assert_eq!(
            parse_av_pair(b"mobileip:spi#0=spi 100 key ascii \xff", SpiRadix::Hex),
            Err(AvPairError::NotText)
        );
    }

    #[test]
    fn errors_and_debug_never_show_the_key() {
        let e =
            pair("mobileip:spi#0=spi 100 key hex 00112233445566778899aabbccddeefz").unwrap_err();
        assert!(!e.to_string().contains("0011"), "{e}");
        let (_, sa) = pair("mobileip:spi#0=spi 100 key ascii topsecret")
            .unwrap()
            .unwrap();
        let d = format!("{sa:?}");
        assert!(!d.contains("topsecret") && !d.contains("116"), "{d}");
    }

    #[test]
    fn engine_form() {
        let (_, sa) = pair("mobileip:spi#0=spi 100 key ascii k replay timestamp within 9")
            .unwrap()
            .unwrap();
        let e = sa.to_security_association();
        assert_eq!(e.spi, 0x100);
        assert_eq!(e.key, b"k");
        assert_eq!(e.replay_window, Duration::from_secs(9));
    }
}
