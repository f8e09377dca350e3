//! Known answers for both authenticators over real registration messages,
//! computed independently with Python's hashlib/hmac:
//!
//! ```python
//! import hashlib, hmac, struct
//! msg = bytes([1, 0x02]) + struct.pack('>H', 600) + bytes([10,91,7,160, 10,91,7,1, 198,51,100,1]) \
//!       + struct.pack('>Q', 0xEC8E3A0012345678)
//! covered = msg + bytes([32, 20]) + struct.pack('>I', 0x102)        # MHAE type, length, SPI
//! hashlib.md5(b'0987654' + covered + b'0987654').hexdigest()        # keyed MD5 prefix+suffix
//! hmac.new(bytes.fromhex('00112233445566778899aabbccddeeff'), covered, hashlib.md5).hexdigest()
//! rep = bytes([3, 133]) + struct.pack('>H', 0) + bytes([10,91,7,160, 10,91,7,1]) \
//!       + struct.pack('>Q', 0xEC8E3A1012345678)
//! cov2 = rep + bytes([131, 14]) + b'mn@example.org' + bytes([32, 20]) + struct.pack('>I', 0x102)
//! hashlib.md5(key_hex + cov2 + key_hex).hexdigest(); hmac.new(b'0987654', cov2, hashlib.md5).hexdigest()
//! ```
//!
//! The messages are built with our emitters, so these also check that the
//! authenticator covers exactly the bytes RFC 5944 3.5.1 names.

use pmip_wire::auth::{self, Algorithm};
use pmip_wire::extension::{self, Authentication, Extension, Extensions, kind};
use pmip_wire::identification::Identification;
use pmip_wire::registration::{self, ReplyCode, ReplyRepr, RequestFlags, RequestRepr};
use std::net::Ipv4Addr;

const KEY_ASCII: &[u8] = b"0987654"; // a `key ascii 0987654` as an operator configures it
const KEY_HEX: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn request() -> Vec<u8> {
    RequestRepr {
        flags: RequestFlags {
            reverse_tunnel: true,
            ..Default::default()
        },
        lifetime: 600,
        home_address: Ipv4Addr::new(10, 91, 7, 160),
        home_agent: Ipv4Addr::new(10, 91, 7, 1),
        care_of_address: Ipv4Addr::new(198, 51, 100, 1),
        identification: Identification(0xEC8E_3A00_1234_5678),
        extensions: Extensions::new(),
    }
    .to_vec()
}

#[test]
fn covered_bytes_are_what_python_covered() {
    let mut m = request();
    extension::append_authentication(
        &mut m,
        kind::MOBILE_HOME_AUTH,
        0x102,
        Algorithm::KeyedMd5PrefixSuffix,
        KEY_ASCII,
    );
    assert_eq!(
        &m[..30],
        &hex("010202580a5b07a00a5b0701c6336401ec8e3a0012345678201400000102")[..]
    );
}

#[test]
fn keyed_md5_prefix_suffix_request() {
    let mut m = request();
    extension::append_authentication(
        &mut m,
        kind::MOBILE_HOME_AUTH,
        0x102,
        Algorithm::KeyedMd5PrefixSuffix,
        KEY_ASCII,
    );
    assert_eq!(&m[30..], &hex("42f68d89e3cae0c24956f5a4d99f8302")[..]);
    assert!(extension::verify_authentication(
        &m,
        24,
        Algorithm::KeyedMd5PrefixSuffix,
        KEY_ASCII
    ));
}

#[test]
fn hmac_md5_request() {
    let mut m = request();
    extension::append_authentication(
        &mut m,
        kind::MOBILE_HOME_AUTH,
        0x102,
        Algorithm::HmacMd5,
        &KEY_HEX,
    );
    assert_eq!(&m[30..], &hex("77a64430a651f4104b046423d50c97cd")[..]);
    assert!(extension::verify_authentication(
        &m,
        24,
        Algorithm::HmacMd5,
        &KEY_HEX
    ));
}

#[test]
fn reply_with_nai_before_the_mhae() {
    let mut ext = Extensions::new();
    ext.push(Extension::Nai(b"mn@example.org"));
    let base = ReplyRepr {
        code: ReplyCode::IdentificationMismatch,
        lifetime: 0,
        home_address: Ipv4Addr::new(10, 91, 7, 160),
        home_agent: Ipv4Addr::new(10, 91, 7, 1),
        identification: Identification(0xEC8E_3A10_1234_5678),
        extensions: ext,
    }
    .to_vec();
    let at = base.len();
    for (alg, key, expected) in [
        (
            Algorithm::KeyedMd5PrefixSuffix,
            &KEY_HEX[..],
            "86091ec04e056d452d8a2539114260a2",
        ),
        (
            Algorithm::HmacMd5,
            KEY_ASCII,
            "5054908194cbf5c5e6d455c9c1102c69",
        ),
    ] {
        let mut m = base.clone();
        extension::append_authentication(&mut m, kind::MOBILE_HOME_AUTH, 0x102, alg, key);
        assert_eq!(&m[at + 6..], &hex(expected)[..], "{alg:?}");
        assert_eq!(
            registration::find_extension(&m, registration::REPLY_LEN, kind::MOBILE_HOME_AUTH),
            Some(at)
        );
        assert!(extension::verify_authentication(&m, at, alg, key));
        // The parsed extension carries the same authenticator.
        let p = registration::ReplyPacket::new_checked(&m[..]).unwrap();
        let r = ReplyRepr::parse(&p).unwrap();
        assert_eq!(
            r.extensions[1],
            Extension::MobileHomeAuth(Authentication {
                spi: 0x102,
                authenticator: &hex(expected)
            })
        );
    }
}

#[test]
fn a_single_flipped_bit_fails() {
    let mut m = request();
    extension::append_authentication(
        &mut m,
        kind::MOBILE_HOME_AUTH,
        0x102,
        Algorithm::HmacMd5,
        &KEY_HEX,
    );
    for i in 0..m.len() {
        let mut bad = m.clone();
        bad[i] ^= 0x10;
        assert!(
            !extension::verify_authentication(&bad, 24, Algorithm::HmacMd5, &KEY_HEX),
            "byte {i}"
        );
    }
    assert!(!auth::verify(Algorithm::HmacMd5, &KEY_HEX, b"", &[]));
}
