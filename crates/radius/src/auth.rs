//! RADIUS authenticators: User-Password hiding (RFC 2865 5.2), the
//! Response Authenticator (RFC 2865 3) and the Message-Authenticator
//! (RFC 3579 3.2). Comparisons are constant time. Known answers computed
//! independently with Python's hashlib/hmac are in
//! `tests/authenticator_vectors.rs`.

use crate::packet::{AUTH_LEN, AttrIter, HEADER_LEN, Packet, attr};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use pmip_wire::{Error, Result};
use subtle::ConstantTimeEq;

type HmacMd5 = Hmac<Md5>;

/// RFC 2865 5.2: a password is at most 128 octets.
pub const MAX_PASSWORD_LEN: usize = 128;

fn hmac_md5(secret: &[u8]) -> HmacMd5 {
    // HMAC accepts keys of any length (RFC 2104 2): longer ones are hashed
    // and shorter ones padded, so this cannot fail.
    <HmacMd5 as Mac>::new_from_slice(secret).expect("HMAC takes any key length")
}

/// Octets the hidden form of a `len`-octet password takes: padded with
/// NULs to a multiple of 16, at least 16 (RFC 2865 5.2).
pub fn hidden_len(len: usize) -> usize {
    len.max(1).div_ceil(16) * 16
}

/// Hides `password` into `out` as RFC 2865 5.2 says:
/// `c(1) = p(1) xor MD5(S + RA)`, `c(i) = p(i) xor MD5(S + c(i-1))`.
/// Returns the number of octets written.
pub fn hide_password(
    password: &[u8],
    secret: &[u8],
    request_auth: &[u8; AUTH_LEN],
    out: &mut [u8],
) -> Result<usize> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(Error::BadLength {
            what: "RADIUS User-Password",
            len: password.len(),
        });
    }
    let n = hidden_len(password.len());
    if out.len() < n {
        return Err(Error::Truncated {
            what: "RADIUS User-Password",
            need: n,
            have: out.len(),
        });
    }
    let mut prev = *request_auth;
    for (i, chunk) in out[..n].chunks_exact_mut(16).enumerate() {
        let b = Md5::new()
            .chain_update(secret)
            .chain_update(prev)
            .finalize();
        for (j, c) in chunk.iter_mut().enumerate() {
            let p = password.get(i * 16 + j).copied().unwrap_or(0);
            *c = p ^ b[j];
        }
        prev.copy_from_slice(chunk);
    }
    Ok(n)
}

/// Recovers a hidden password (what a server does), trailing NULs removed.
pub fn unhide_password(
    hidden: &[u8],
    secret: &[u8],
    request_auth: &[u8; AUTH_LEN],
) -> Result<Vec<u8>> {
    if hidden.is_empty() || hidden.len() > MAX_PASSWORD_LEN || hidden.len() & 0xf != 0 {
        return Err(Error::BadLength {
            what: "RADIUS User-Password",
            len: hidden.len(),
        });
    }
    let mut out = Vec::with_capacity(hidden.len());
    let mut prev: &[u8] = request_auth;
    for chunk in hidden.chunks_exact(16) {
        let b = Md5::new()
            .chain_update(secret)
            .chain_update(prev)
            .finalize();
        out.extend(chunk.iter().zip(b.iter()).map(|(c, b)| c ^ b));
        prev = chunk;
    }
    while out.last() == Some(&0) {
        out.pop();
    }
    Ok(out)
}

/// The Response Authenticator of `packet` (the answer up to its Length):
/// `MD5(Code + ID + Length + RequestAuth + Attributes + Secret)`
/// (RFC 2865 3). Octets the packet lacks count as absent, so this never
/// panics; a packet shorter than the header never verifies.
pub fn response_authenticator(
    packet: &[u8],
    request_auth: &[u8; AUTH_LEN],
    secret: &[u8],
) -> [u8; AUTH_LEN] {
    let head = packet.get(..4).unwrap_or(packet);
    let attrs = packet.get(HEADER_LEN..).unwrap_or(&[]);
    Md5::new()
        .chain_update(head)
        .chain_update(request_auth)
        .chain_update(attrs)
        .chain_update(secret)
        .finalize()
        .into()
}

/// Whether the answer's Response Authenticator is right for the request
/// whose authenticator was `request_auth` (constant time).
pub fn verify_response_authenticator(
    packet: &[u8],
    request_auth: &[u8; AUTH_LEN],
    secret: &[u8],
) -> bool {
    if packet.len() < HEADER_LEN {
        return false;
    }
    let want = response_authenticator(packet, request_auth, secret);
    want.ct_eq(&packet[4..HEADER_LEN]).into()
}

/// Where the value of the packet's Message-Authenticator lies (offset
/// from the packet start), if it has one. RFC 3579 3.2 allows at most one
/// and fixes its length at 16; anything else is malformed.
pub fn find_message_authenticator(packet: &[u8]) -> Result<Option<usize>> {
    let p = Packet::new_checked(packet)?;
    let mut found = None;
    for a in p.attributes() {
        let a = a?;
        if a.kind == attr::MESSAGE_AUTHENTICATOR {
            if a.value.len() != AUTH_LEN {
                return Err(Error::BadLength {
                    what: "RADIUS Message-Authenticator",
                    len: a.value.len(),
                });
            }
            if found.is_some() {
                return Err(Error::Malformed {
                    what: "RADIUS packet",
                    reason: "more than one Message-Authenticator",
                });
            }
            found = Some(HEADER_LEN + a.offset);
        }
    }
    Ok(found)
}

/// HMAC-MD5 keyed with the secret over the packet with `header_auth` in
/// the Authenticator field and the Message-Authenticator value (at
/// `value_at`) taken as sixteen zero octets (RFC 3579 3.2). For a request
/// `header_auth` is its own Request Authenticator; for an answer, the
/// Request Authenticator of the request it answers.
pub fn message_authenticator(
    packet: &[u8],
    value_at: usize,
    header_auth: &[u8; AUTH_LEN],
    secret: &[u8],
) -> [u8; AUTH_LEN] {
    let mut m = hmac_md5(secret);
    m.update(packet.get(..4).unwrap_or(packet));
    m.update(header_auth);
    m.update(packet.get(HEADER_LEN..value_at).unwrap_or(&[]));
    m.update(&[0; AUTH_LEN]);
    m.update(packet.get(value_at + AUTH_LEN..).unwrap_or(&[]));
    m.finalize().into_bytes().into()
}

/// What a packet's Message-Authenticator says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageAuth {
    Absent,
    Valid,
    Invalid,
}

/// Checks the packet's Message-Authenticator, if any (constant time).
/// `packet` is the packet up to its Length.
pub fn verify_message_authenticator(
    packet: &[u8],
    header_auth: &[u8; AUTH_LEN],
    secret: &[u8],
) -> Result<MessageAuth> {
    let Some(at) = find_message_authenticator(packet)? else {
        return Ok(MessageAuth::Absent);
    };
    let want = message_authenticator(packet, at, header_auth, secret);
    Ok(if bool::from(want.ct_eq(&packet[at..at + AUTH_LEN])) {
        MessageAuth::Valid
    } else {
        MessageAuth::Invalid
    })
}

/// Fills in the Message-Authenticator of the packet in `buf` (exactly the
/// packet), if it has one; returns whether it had one.
pub fn sign_message_authenticator(
    buf: &mut [u8],
    header_auth: &[u8; AUTH_LEN],
    secret: &[u8],
) -> Result<bool> {
    let Some(at) = find_message_authenticator(buf)? else {
        return Ok(false);
    };
    let m = message_authenticator(buf, at, header_auth, secret);
    buf[at..at + AUTH_LEN].copy_from_slice(&m);
    Ok(true)
}

/// Signs an Access-Request in place: its Message-Authenticator (if it has
/// one) over the packet with its own Request Authenticator.
pub fn sign_request(buf: &mut [u8], secret: &[u8]) -> Result<()> {
    let auth = Packet::new_checked(&*buf)?.authenticator();
    sign_message_authenticator(buf, &auth, secret).map(drop)
}

/// Signs an answer in place as a server does: the Message-Authenticator
/// first (computed with the Request Authenticator in the header), then the
/// Response Authenticator over the result (RFC 3579 3.2, RFC 2865 3).
pub fn sign_response(buf: &mut [u8], request_auth: &[u8; AUTH_LEN], secret: &[u8]) -> Result<()> {
    Packet::new_checked(&*buf)?;
    sign_message_authenticator(buf, request_auth, secret)?;
    let r = response_authenticator(buf, request_auth, secret);
    buf[4..HEADER_LEN].copy_from_slice(&r);
    Ok(())
}

/// Whether the attribute octets `attrs` hold a Message-Authenticator
/// (a quick scan that stops at the first malformed attribute).
pub fn has_message_authenticator(attrs: &[u8]) -> bool {
    AttrIter::new(attrs)
        .map_while(|a| a.ok())
        .any(|a| a.kind == attr::MESSAGE_AUTHENTICATOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip_and_lengths() {
        let ra = [7u8; 16];
        for len in [0usize, 1, 15, 16, 17, 31, 32, 100, 128] {
            let pw: Vec<u8> = (1..=len as u8).collect();
            let mut out = [0u8; 128];
            let n = hide_password(&pw, b"s3cret", &ra, &mut out).unwrap();
            assert_eq!(n, hidden_len(len));
            assert_eq!(n % 16, 0);
            assert!(n >= 16);
            assert_eq!(unhide_password(&out[..n], b"s3cret", &ra).unwrap(), pw);
        }
        assert!(hide_password(&[1; 129], b"s", &ra, &mut [0; 256]).is_err());
        assert!(hide_password(&[1; 17], b"s", &ra, &mut [0; 31]).is_err());
        assert!(unhide_password(&[0; 15], b"s", &ra).is_err());
    }

    #[test]
    fn short_packets_never_verify() {
        assert!(!verify_response_authenticator(&[2, 0, 0], &[0; 16], b"s"));
        let _ = response_authenticator(&[], &[0; 16], b"s");
        let _ = message_authenticator(&[1, 2], 50, &[0; 16], b"s");
    }

    #[test]
    fn two_message_authenticators_are_malformed() {
        let mut v = vec![2, 1, 0, 56];
        v.extend_from_slice(&[0; 16]);
        for _ in 0..2 {
            v.push(attr::MESSAGE_AUTHENTICATOR);
            v.push(18);
            v.extend_from_slice(&[0; 16]);
        }
        assert!(find_message_authenticator(&v).is_err());
        v.truncate(38);
        v[3] = 38;
        assert_eq!(find_message_authenticator(&v).unwrap(), Some(22));
        assert!(has_message_authenticator(&v[20..]));
    }
}
