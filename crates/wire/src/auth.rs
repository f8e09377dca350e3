//! Authenticators of the Mobile IP authentication extensions.
//!
//! RFC 5944 section 3.5.1: the authenticator is computed over the UDP
//! payload from the start of the registration message up to and including
//! the Type, Length and SPI of the authentication extension itself (all
//! prior extensions included), with the algorithm of the security
//! association. Two algorithms: keyed MD5 in "prefix+suffix" mode
//! (RFC 2002 section 3.5.1, RFC 1828: MD5(key || data || key), the IOS
//! default, what `ip mobile secure ... algorithm md5 mode prefix-suffix`
//! selects) and HMAC-MD5 (RFC 2104, the RFC 5944
//! default).

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// Length of both authenticators (a 128-bit MD5 digest).
pub const AUTHENTICATOR_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// MD5(key || data || key).
    KeyedMd5PrefixSuffix,
    /// HMAC-MD5(key, data).
    HmacMd5,
}

/// The authenticator of `covered` under `key`.
pub fn authenticator(algorithm: Algorithm, key: &[u8], covered: &[u8]) -> [u8; AUTHENTICATOR_LEN] {
    match algorithm {
        Algorithm::KeyedMd5PrefixSuffix => {
            let mut h = Md5::new();
            h.update(key);
            h.update(covered);
            h.update(key);
            h.finalize().into()
        }
        Algorithm::HmacMd5 => {
            // HMAC accepts keys of any length (RFC 2104 section 3).
            let mut m = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(covered);
            m.finalize().into_bytes().into()
        }
    }
}

/// Constant-time check of a received authenticator; a wrong length is a
/// mismatch, not a panic.
pub fn verify(algorithm: Algorithm, key: &[u8], covered: &[u8], received: &[u8]) -> bool {
    let expected = authenticator(algorithm, key, covered);
    received.len() == AUTHENTICATOR_LEN && bool::from(expected.ct_eq(received))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 2202 section 2, HMAC-MD5 test case 2.
    #[test]
    fn hmac_md5_rfc2202() {
        let mac = authenticator(Algorithm::HmacMd5, b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            mac,
            [
                0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0, 0xb5, 0x03, 0xea, 0xa8, 0x6e, 0x31, 0x0a, 0x5d,
                0xb7, 0x38
            ]
        );
    }

    #[test]
    fn verify_is_exact() {
        let a = authenticator(Algorithm::KeyedMd5PrefixSuffix, b"k", b"data");
        assert!(verify(Algorithm::KeyedMd5PrefixSuffix, b"k", b"data", &a));
        assert!(!verify(Algorithm::KeyedMd5PrefixSuffix, b"k", b"datA", &a));
        assert!(!verify(Algorithm::HmacMd5, b"k", b"data", &a));
        assert!(!verify(
            Algorithm::KeyedMd5PrefixSuffix,
            b"k",
            b"data",
            &a[..15]
        ));
    }
}
