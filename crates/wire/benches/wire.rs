//! Parse/emit throughput of the registration path: what a home agent does
//! per Registration Request (parse, find the MHAE, verify it) and what it
//! does per reply (emit, sign). `cargo bench -p pmip-wire`; criterion
//! prints messages/s as "elem/s".

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use pmip_wire::auth::Algorithm;
use pmip_wire::extension::{self, Extension, Extensions, kind};
use pmip_wire::identification::Identification;
use pmip_wire::registration::{
    self, ReplyCode, ReplyRepr, RequestFlags, RequestPacket, RequestRepr,
};
use std::net::Ipv4Addr;
use std::time::Duration;

const KEY: [u8; 16] = *b"0123456789abcdef";

fn request(alg: Algorithm) -> Vec<u8> {
    let mut ext = Extensions::new();
    ext.push(Extension::Nai(b"mn@example.org"));
    let mut m = RequestRepr {
        flags: RequestFlags {
            reverse_tunnel: true,
            ..Default::default()
        },
        lifetime: 600,
        home_address: Ipv4Addr::new(10, 1, 0, 50),
        home_agent: Ipv4Addr::new(10, 1, 0, 1),
        care_of_address: Ipv4Addr::new(198, 51, 100, 1),
        identification: Identification(0xEC8E_3A00_1234_5678),
        extensions: ext,
    }
    .to_vec();
    extension::append_authentication(&mut m, kind::MOBILE_HOME_AUTH, 0x100, alg, &KEY);
    m
}

fn parse_and_verify(m: &[u8], alg: Algorithm) -> bool {
    let p = RequestPacket::new_checked(m).unwrap();
    let r = RequestRepr::parse(&p).unwrap();
    let at =
        registration::find_extension(m, registration::REQUEST_LEN, kind::MOBILE_HOME_AUTH).unwrap();
    r.lifetime > 0 && extension::verify_authentication(m, at, alg, &KEY)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("registration");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(500));
    for (name, alg) in [
        ("hmac-md5", Algorithm::HmacMd5),
        ("keyed-md5", Algorithm::KeyedMd5PrefixSuffix),
    ] {
        let m = request(alg);
        assert!(parse_and_verify(&m, alg));
        g.bench_function(format!("rrq parse+verify {name}"), |b| {
            b.iter(|| parse_and_verify(black_box(&m), alg))
        });
    }
    g.bench_function("rrq parse only", |b| {
        let m = request(Algorithm::HmacMd5);
        b.iter(|| {
            let p = RequestPacket::new_checked(black_box(&m[..])).unwrap();
            RequestRepr::parse(&p).unwrap().lifetime
        })
    });
    g.bench_function("reply emit+sign hmac-md5", |b| {
        b.iter(|| {
            let mut m = ReplyRepr {
                code: ReplyCode::Accepted,
                lifetime: 600,
                home_address: Ipv4Addr::new(10, 1, 0, 50),
                home_agent: Ipv4Addr::new(10, 1, 0, 1),
                identification: Identification(black_box(0xEC8E_3A00_1234_5678)),
                extensions: Extensions::new(),
            }
            .to_vec();
            extension::append_authentication(
                &mut m,
                kind::MOBILE_HOME_AUTH,
                0x100,
                Algorithm::HmacMd5,
                &KEY,
            );
            m
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
