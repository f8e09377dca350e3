//! Authenticator known answers, computed independently of this crate with
//! Python's hashlib/hmac (and, for the first, taken from RFC 2865 section
//! 7.1 itself). The script below, run with `python3`, prints every value
//! these tests compare with.

// import hashlib, hmac, struct
//
// def md5(b): return hashlib.md5(b).digest()
//
// def hide(pw, secret, ra):
//     pw = pw + b"\0" * ((-len(pw)) % 16 or (16 if not pw else 0))
//     out, prev = b"", ra
//     for i in range(0, len(pw), 16):
//         b = md5(secret + prev)
//         c = bytes(x ^ y for x, y in zip(pw[i:i+16], b))
//         out += c; prev = c
//     return out
//
// def attr(t, v): return bytes([t, len(v) + 2]) + v
//
// def packet(code, ident, auth, attrs):
//     return bytes([code, ident]) + struct.pack(">H", 20 + len(attrs)) + auth + attrs
//
// def with_ma(pkt, header_auth, secret):
//     # Message-Authenticator is the first attribute: value at offset 22.
//     z = pkt[:4] + header_auth + pkt[20:22] + b"\0" * 16 + pkt[38:]
//     m = hmac.new(secret, z, hashlib.md5).digest()
//     return pkt[:22] + m + pkt[38:]
//
// # RFC 2865 7.1: check the RFC's own example.
// secret = b"xyzzy5461"
// req = bytes.fromhex("010000380f403f9473978057bd83d5cb98f4227a01066e656d6f02120dbe708d93d413ce3196e43f782a0aee0406c0a80110050600000003")
// resp = bytes.fromhex("0200002686fe220e7624ba2a1005f6bf9b55e0b20606000000010f06000000000e06c0a80103")
// ra = req[4:20]
// print("rfc hidden ok:", hide(b"arctangent", secret, ra) == req[28:44])
// print("rfc response auth:", md5(resp[:4] + ra + resp[20:] + secret).hex(), "packet has", resp[4:20].hex())
//
// # Our Access-Request: id 0x2a, RA 00..0f, secret testing123, User-Name
// # 10.1.0.50, password cisco, NAS-IP 10.1.0.1, Message-Authenticator first.
// secret = b"testing123"
// ra = bytes(range(16))
// attrs = attr(80, b"\0" * 16) + attr(1, b"10.1.0.50") + attr(2, hide(b"cisco", secret, ra)) + attr(4, bytes([10, 1, 0, 1]))
// req = with_ma(packet(1, 0x2a, ra, attrs), ra, secret)
// print("request:", req.hex())
//
// # The Access-Accept: MA first, then Cisco-AVPair (vendor 9, type 1).
// av = b"mobileip:spi#0=spi 256 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5 replay timestamp within 7"
// vsa = struct.pack(">I", 9) + bytes([1, len(av) + 2]) + av
// attrs = attr(80, b"\0" * 16) + attr(26, vsa)
// acc = with_ma(packet(2, 0x2a, ra, attrs), ra, secret)
// acc = acc[:4] + md5(acc[:4] + ra + acc[20:] + secret) + acc[20:]
// print("accept:", acc.hex())
//
// # A reject without Message-Authenticator.
// rej = packet(3, 0x2a, ra, attr(18, b"denied"))
// rej = rej[:4] + md5(rej[:4] + ra + rej[20:] + secret) + rej[20:]
// print("reject:", rej.hex())
//
// # A 40-octet password (three blocks chained).
// print("hidden40:", hide(bytes(range(1, 41)), secret, ra).hex())

use core::net::{Ipv4Addr, SocketAddrV4};
use pmip_engine::time::Instant;
use pmip_radius::auth::{self, MessageAuth};
use pmip_radius::packet::{AUTH_LEN, Attribute, Code, Packet, Repr};
use pmip_radius::{Action, Algorithm, ClientConfig, RadiusClient, ServerConfig};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const RFC_REQUEST: &str = "010000380f403f9473978057bd83d5cb98f4227a01066e656d6f02120dbe708d93d413ce3196e43f782a0aee0406c0a80110050600000003";
const RFC_RESPONSE: &str =
    "0200002686fe220e7624ba2a1005f6bf9b55e0b20606000000010f06000000000e06c0a80103";

const REQUEST: &str = "012a0049000102030405060708090a0b0c0d0e0f5012b14e263e1af4d1d0e51bc432a56819ff010b31302e312e302e35300212f5877aa91bfd7a1a104607240014828b04060a010001";
const ACCEPT: &str = "022a009a59b263ed404340c907763594aaab06be50128645e80711ac9451f6e48fb2d8a049f71a7400000009016e6d6f62696c6569703a73706923303d73706920323536206b65792068657820303031313232333334343535363637373838393961616262636364646565666620616c676f726974686d20686d61632d6d6435207265706c61792074696d657374616d702077697468696e2037";
const REJECT: &str = "032a001c254b4a5abc5dde666e8e04bf75c41597120864656e696564";
const HIDDEN40: &str = "97ec0ace71fb7d12194c0c280d1a8d9b9c70a7d91508ab70b6189c558cedfc34ad1ddea5e29282538245f641bc82010e";

const RA: [u8; AUTH_LEN] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const SECRET: &[u8] = b"testing123";

#[test]
fn rfc2865_example_hidden_password_and_response_authenticator() {
    let req = hex(RFC_REQUEST);
    let p = Packet::new_checked(&req[..]).unwrap();
    let ra = p.authenticator();
    let repr = Repr::parse(&p).unwrap();
    let Attribute::UserPassword(hidden) = repr.attributes[1] else {
        panic!("{repr:?}");
    };
    assert_eq!(
        auth::unhide_password(hidden, b"xyzzy5461", &ra).unwrap(),
        b"arctangent"
    );
    let mut mine = [0u8; 16];
    auth::hide_password(b"arctangent", b"xyzzy5461", &ra, &mut mine).unwrap();
    assert_eq!(&mine[..], hidden);

    let resp = hex(RFC_RESPONSE);
    assert!(auth::verify_response_authenticator(
        &resp,
        &ra,
        b"xyzzy5461"
    ));
    assert!(!auth::verify_response_authenticator(
        &resp,
        &ra,
        b"xyzzy5462"
    ));
    assert_eq!(
        auth::response_authenticator(&resp, &ra, b"xyzzy5461")[..],
        resp[4..20]
    );
}

#[test]
fn access_request_as_we_build_it() {
    let mut hidden = [0u8; 16];
    auth::hide_password(b"cisco", SECRET, &RA, &mut hidden).unwrap();
    let repr = Repr {
        code: Code::AccessRequest,
        identifier: 0x2a,
        authenticator: RA,
        attributes: vec![
            Attribute::MessageAuthenticator([0; 16]),
            Attribute::UserName(b"10.1.0.50"),
            Attribute::UserPassword(&hidden),
            Attribute::NasIpAddress(Ipv4Addr::new(10, 1, 0, 1)),
        ],
    };
    let mut buf = repr.to_vec().unwrap();
    auth::sign_request(&mut buf, SECRET).unwrap();
    assert_eq!(buf, hex(REQUEST));
    assert_eq!(
        auth::verify_message_authenticator(&buf, &RA, SECRET).unwrap(),
        MessageAuth::Valid
    );
}

#[test]
fn the_engine_sends_exactly_that_request() {
    // The engine draws its Request Authenticator from its seed, so put the
    // Python one into the packet it sends and re-sign: everything else
    // (layout, hiding, Message-Authenticator) must then match.
    let server = SocketAddrV4::new(Ipv4Addr::new(10, 1, 0, 9), 1812);
    let cfg = ClientConfig::new(
        vec![ServerConfig::new(server, SECRET)],
        Ipv4Addr::new(10, 1, 0, 1),
    );
    let mut c = RadiusClient::new(cfg, [7; 32]).unwrap();
    let mut out = Vec::new();
    c.request(Instant::ZERO, Ipv4Addr::new(10, 1, 0, 50), &mut out);
    let Action::Send { datagram, .. } = &out[0] else {
        panic!("{out:?}");
    };
    let p = Packet::new_checked(&datagram[..]).unwrap();
    let ra = p.authenticator();
    // What it sent verifies and hides "cisco" under its own authenticator.
    assert_eq!(
        auth::verify_message_authenticator(datagram, &ra, SECRET).unwrap(),
        MessageAuth::Valid
    );
    let repr = Repr::parse(&p).unwrap();
    let Attribute::UserPassword(h) = repr.attributes[2] else {
        panic!("{repr:?}");
    };
    assert_eq!(auth::unhide_password(h, SECRET, &ra).unwrap(), b"cisco");
    // Rebuilt with the vector's Identifier and authenticator it is the
    // vector, octet for octet.
    let mut hidden = [0u8; 16];
    auth::hide_password(b"cisco", SECRET, &RA, &mut hidden).unwrap();
    let mut attrs = repr.attributes.clone();
    attrs[0] = Attribute::MessageAuthenticator([0; 16]);
    attrs[2] = Attribute::UserPassword(&hidden);
    let again = Repr {
        identifier: 0x2a,
        authenticator: RA,
        attributes: attrs,
        ..repr
    };
    let mut buf = again.to_vec().unwrap();
    auth::sign_request(&mut buf, SECRET).unwrap();
    assert_eq!(buf, hex(REQUEST));
}

#[test]
fn accept_and_reject_known_answers() {
    let av = b"mobileip:spi#0=spi 256 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5 replay timestamp within 7";
    let mut vsa = vec![0, 0, 0, 9, 1, (av.len() + 2) as u8];
    vsa.extend_from_slice(av);
    let accept = pmip_radius::client::build_answer(
        &hex(REQUEST),
        Code::AccessAccept,
        &[Attribute::Other {
            kind: 26,
            value: &vsa,
        }],
        true,
        SECRET,
    )
    .unwrap();
    assert_eq!(accept, hex(ACCEPT));
    assert!(auth::verify_response_authenticator(&accept, &RA, SECRET));
    assert_eq!(
        auth::verify_message_authenticator(&accept, &RA, SECRET).unwrap(),
        MessageAuth::Valid
    );
    assert_eq!(
        auth::verify_message_authenticator(&accept, &RA, b"testing124").unwrap(),
        MessageAuth::Invalid
    );
    let reject = pmip_radius::client::build_answer(
        &hex(REQUEST),
        Code::AccessReject,
        &[Attribute::ReplyMessage(b"denied")],
        false,
        SECRET,
    )
    .unwrap();
    assert_eq!(reject, hex(REJECT));
    assert_eq!(
        auth::verify_message_authenticator(&reject, &RA, SECRET).unwrap(),
        MessageAuth::Absent
    );
}

#[test]
fn the_python_accept_yields_the_sa() {
    // Hexadecimal SPI by default: `spi 256` is 0x256 (see the sa module).
    let accept = hex(ACCEPT);
    let p = Packet::new_checked(&accept[..]).unwrap();
    let sa = pmip_radius::client::sa_from_attributes(p.attribute_bytes(), Default::default())
        .unwrap()
        .unwrap();
    assert_eq!(sa.spi, 0x256);
    assert_eq!(sa.algorithm, Algorithm::HmacMd5);
    assert_eq!(sa.replay_within, 7);
    assert_eq!(sa.key, hex("00112233445566778899aabbccddeeff"));
}

#[test]
fn forty_octet_password_chains_blocks() {
    let pw: Vec<u8> = (1..=40).collect();
    let mut out = [0u8; 48];
    assert_eq!(auth::hide_password(&pw, SECRET, &RA, &mut out).unwrap(), 48);
    assert_eq!(out.to_vec(), hex(HIDDEN40));
    assert_eq!(auth::unhide_password(&out, SECRET, &RA).unwrap(), pw);
}
