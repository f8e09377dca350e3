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
            let mut m = keyed_hmac_md5(key);
            m.update(covered);
            m.finalize().into_bytes().into()
        }
    }
}

/// Keys whose HMAC state (the key padded and hashed with ipad and opad,
/// RFC 2104 section 2) each thread keeps: a home agent answering a
/// registration hashes with the same key twice (the request's
/// authenticator and the reply's), and two of the four MD5 blocks of a
/// registration's HMAC are the key's.
const KEYED_STATES: usize = 8;

thread_local! {
    static KEYED: std::cell::RefCell<Vec<(Vec<u8>, Hmac<Md5>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// HMAC-MD5 keyed with `key`, from the thread's recent keys when there.
fn keyed_hmac_md5(key: &[u8]) -> Hmac<Md5> {
    let fresh = || <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    KEYED
        .try_with(|cache| {
            let mut cache = cache.borrow_mut();
            // Compared in constant time, like the authenticators: which
            // key a request names must not show in how long it takes.
            let hit = cache
                .iter()
                .position(|(k, _)| k.len() == key.len() && bool::from(k.as_slice().ct_eq(key)));
            match hit {
                Some(i) => cache[i].1.clone(),
                None => {
                    let m = fresh();
                    if cache.len() == KEYED_STATES {
                        cache.remove(0);
                    }
                    cache.push((key.to_vec(), m.clone()));
                    m
                }
            }
        })
        .unwrap_or_else(|_| fresh())
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

    #[test]
    fn keys_kept_by_the_thread_give_the_same_authenticators() {
        // More keys than are kept, each twice, interleaved: every
        // authenticator is the one a fresh HMAC gives.
        for round in 0..2 {
            for k in 0..(KEYED_STATES as u8 + 3) {
                let key = [k; 16];
                let mut fresh = <Hmac<Md5> as Mac>::new_from_slice(&key).unwrap();
                fresh.update(b"registration");
                let want: [u8; 16] = fresh.finalize().into_bytes().into();
                assert_eq!(
                    authenticator(Algorithm::HmacMd5, &key, b"registration"),
                    want,
                    "key {k}, round {round}"
                );
            }
        }
        // A key that is a prefix of a kept one is another key.
        let long = authenticator(Algorithm::HmacMd5, b"abcdef", b"x");
        assert_ne!(authenticator(Algorithm::HmacMd5, b"abc", b"x"), long);
    }

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
