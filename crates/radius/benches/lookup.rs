//! Lookups per second: when every one is a round trip to a stock
//! FreeRADIUS in a network namespace, and when the SA cache answers.
//!
//! `cargo bench -p pmip-radius --bench lookup` (as root: it builds
//! namespaces). Without FreeRADIUS it says so and measures the cache only
//! (filled from a simulated server on the loopback address);
//! `PMIP_RADIUS_CACHE_ONLY=1` does the same where it is installed.

#[path = "../tests/support/mod.rs"]
mod support;

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use pmip_engine::time::Instant as SimInstant;
use pmip_radius::client::build_answer;
use pmip_radius::packet::{Attribute, Code, emit_vendor_attr};
use pmip_radius::{ClientConfig, Lookup, RadiusClient, RadiusHandle, ServerConfig, spawn};
use std::time::Instant;

/// Mobile nodes the benchmark asks for: 10.2.0.0 - 10.2.0.255.
const NODES: u32 = 256;
const AV: &str = "mobileip:spi#0=spi 100 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5 replay timestamp within 7";

fn node(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a02_0000 + (i % NODES))
}

fn bench_users() -> String {
    (0..NODES)
        .map(|i| {
            format!(
                "{} Cleartext-Password := \"cisco\"\n        Cisco-AVPair = \"{AV}\"\n\n",
                node(i)
            )
        })
        .collect()
}

fn rate(n: u64, took: Duration) -> f64 {
    n as f64 / took.as_secs_f64()
}

/// `n` lookups through the driver, `concurrency` at a time.
async fn run_lookups(h: &RadiusHandle, n: u32, concurrency: u32) -> Duration {
    let t0 = Instant::now();
    let per_task = n / concurrency;
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..per_task {
                // Each worker walks its own addresses, so concurrent
                // lookups never share (coalesce) one request.
                let i = w + k * concurrency;
                h.lookup(node(i)).await.expect("lookup");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    t0.elapsed()
}

/// The engine alone answering from its cache: no channel, no task.
fn engine_cache() -> f64 {
    let server = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 1812);
    let cfg = ClientConfig::new(vec![ServerConfig::new(server, "s")], Ipv4Addr::LOCALHOST);
    let mut c = RadiusClient::new(cfg, [5; 32]).unwrap();
    let mut out = Vec::new();
    let mut vsa = vec![0u8, 0, 0, 9];
    let mut sub = [0u8; 253];
    let n = emit_vendor_attr(1, AV.as_bytes(), &mut sub).unwrap();
    vsa.extend_from_slice(&sub[..n]);
    for i in 0..NODES {
        out.clear();
        c.request(SimInstant::ZERO, node(i), &mut out);
        let pmip_radius::Action::Send { datagram, .. } = &out[0] else {
            unreachable!()
        };
        let ans = build_answer(
            datagram,
            Code::AccessAccept,
            &[Attribute::Other {
                kind: 26,
                value: &vsa,
            }],
            false,
            b"s",
        )
        .unwrap();
        out.clear();
        c.receive(SimInstant::ZERO, server.into(), &ans, &mut out);
    }
    let n = 2_000_000u32;
    let t0 = Instant::now();
    for i in 0..n {
        let r = c.request(SimInstant::from_secs(1), node(i), &mut out);
        debug_assert!(matches!(r, Lookup::Cached(_)));
        std::hint::black_box(r);
    }
    rate(n.into(), t0.elapsed())
}

/// A server on the loopback address answering every request with the SA,
/// so the driver's cache can be filled without FreeRADIUS.
async fn loopback_server() -> SocketAddrV4 {
    let s = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = match s.local_addr().unwrap() {
        std::net::SocketAddr::V4(a) => a,
        _ => unreachable!(),
    };
    tokio::spawn(async move {
        let mut vsa = vec![0u8, 0, 0, 9];
        let mut sub = [0u8; 253];
        let n = emit_vendor_attr(1, AV.as_bytes(), &mut sub).unwrap();
        vsa.extend_from_slice(&sub[..n]);
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = s.recv_from(&mut buf).await {
            if let Some(a) = build_answer(
                &buf[..n],
                Code::AccessAccept,
                &[Attribute::Other {
                    kind: 26,
                    value: &vsa,
                }],
                true,
                support::SECRET.as_bytes(),
            ) {
                let _ = s.send_to(&a, from).await;
            }
        }
    });
    addr
}

/// Fills the cache with every node, then measures cache answers through
/// the driver (one at a time, and 32 at a time).
async fn driver_cache(h: &RadiusHandle) -> (f64, f64) {
    run_lookups(h, NODES, 1).await;
    let n = 200_000;
    let one = rate(n.into(), run_lookups(h, n, 1).await);
    let many = rate(n.into(), run_lookups(h, n, 32).await);
    (one, many)
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep it quick
    // there by doing nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!("pmip-radius lookup benchmark ({NODES} mobile nodes)");
    println!(
        "  engine alone, cache hit:                    {:>10.0} lookups/s",
        engine_cache()
    );

    // PMIP_RADIUS_CACHE_ONLY=1 takes the path of a machine without it.
    let forced = std::env::var_os("PMIP_RADIUS_CACHE_ONLY").is_some();
    if !support::installed() || forced {
        if forced {
            println!("  PMIP_RADIUS_CACHE_ONLY is set: measuring the cache only.");
        } else {
            println!(
                "  FreeRADIUS is not installed ({}): no round-trip figure; install it with scripts/deps. Measuring the cache only.",
                support::BINARY
            );
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (one, many) = rt.block_on(async {
            let server = loopback_server().await;
            let mut cfg = ClientConfig::new(
                vec![ServerConfig::new(server, support::SECRET)],
                Ipv4Addr::LOCALHOST,
            );
            cfg.cache_lifetime = Duration::from_secs(3600);
            let h = spawn(cfg, SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
                .await
                .unwrap();
            driver_cache(&h).await
        });
        println!("  driver, cache hit, 1 at a time:             {one:>10.0} lookups/s");
        println!("  driver, cache hit, 32 at a time:            {many:>10.0} lookups/s");
        return;
    }

    let lab = support::Lab::start_with_users(&bench_users());
    let figures = lab.in_client(|| async {
        let mut cfg = ClientConfig::new(
            vec![ServerConfig::new(support::SERVER, support::SECRET)],
            support::CLIENT_IP,
        );
        // Lifetime zero: every lookup is a round trip to the server.
        cfg.cache_lifetime = Duration::ZERO;
        let h = spawn(cfg.clone(), SocketAddrV4::new(support::CLIENT_IP, 0))
            .await
            .unwrap();
        run_lookups(&h, 512, 8).await; // warm up FreeRADIUS's threads
        let n = 5_000;
        let rt_one = rate(n.into(), run_lookups(&h, n, 1).await);
        let n = 20_000;
        let rt_many = rate(n.into(), run_lookups(&h, n, 32).await);
        let snap = h.snapshot().await.unwrap();
        assert_eq!(snap.counters.dropped(), 0);

        cfg.cache_lifetime = Duration::from_secs(3600);
        let h = spawn(cfg, SocketAddrV4::new(support::CLIENT_IP, 0))
            .await
            .unwrap();
        let (c_one, c_many) = driver_cache(&h).await;
        (
            rt_one,
            rt_many,
            c_one,
            c_many,
            snap.counters.retransmissions,
        )
    });
    let (rt_one, rt_many, c_one, c_many, retrans) = figures;
    println!("  round trip to FreeRADIUS, 1 at a time:      {rt_one:>10.0} lookups/s");
    println!(
        "  round trip to FreeRADIUS, 32 at a time:     {rt_many:>10.0} lookups/s ({retrans} retransmissions)"
    );
    println!("  driver, cache hit, 1 at a time:             {c_one:>10.0} lookups/s");
    println!("  driver, cache hit, 32 at a time:            {c_many:>10.0} lookups/s");
    println!(
        "  cache vs round trip (1 at a time):          {:>10.0}x",
        c_one / rt_one
    );
}
