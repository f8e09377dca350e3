//! The tokio driver against a stock FreeRADIUS (Debian's `freeradius`)
//! running in a network namespace, queried from a second namespace over a
//! veth. These tests fail, not skip, when FreeRADIUS is not installed.
//!
//! The server's configuration is written by `support/mod.rs`: a minimal
//! `radiusd.conf` (one auth listener, `files` + `pap`), `clients.conf`
//! with the shared secret, and a users file giving each mobile node the
//! password `cisco` and a `Cisco-AVPair = "mobileip:spi#0=..."` reply.

mod support;

use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use pmip_radius::{
    Algorithm, ClientConfig, MalformedAnswer, RadiusError, ServerConfig, SpiRadix, spawn,
};
use support::*;

const KEY: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];

fn config(servers: &[(SocketAddrV4, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new(
        servers
            .iter()
            .map(|(a, s)| ServerConfig::new(*a, *s))
            .collect(),
        CLIENT_IP,
    );
    // Short timers: the server answers in well under a millisecond.
    c.timeout = Duration::from_millis(300);
    c.retransmit = 1;
    c
}

fn bind() -> SocketAddrV4 {
    SocketAddrV4::new(CLIENT_IP, 0)
}

#[test]
fn accepted_mobile_nodes_get_their_sa_and_the_second_lookup_is_cached() {
    let lab = Lab::start();
    let cfg = config(&[(SERVER, SECRET)]);
    let (hmac, keyed, snap, again) = lab.in_client(move || async move {
        let h = spawn(cfg, bind()).await.unwrap();
        let hmac = h.lookup(MN_HMAC).await;
        let keyed = h.lookup(MN_KEYED_MD5).await;
        let again = h.lookup(MN_HMAC).await;
        (hmac, keyed, h.snapshot().await.unwrap(), again)
    });
    let sa = hmac.unwrap_or_else(|e| panic!("{e}\n{}", lab.log()));
    // `spi 256` read as IOS reads SPIs: hexadecimal.
    assert_eq!(sa.spi, 0x256);
    assert_eq!(sa.key, KEY);
    assert_eq!(sa.algorithm, Algorithm::HmacMd5);
    assert_eq!(sa.replay_within, 7);
    let keyed = keyed.unwrap();
    assert_eq!(keyed.spi, 0x100);
    assert_eq!(keyed.key, b"mn-key-51");
    assert_eq!(keyed.algorithm, Algorithm::KeyedMd5PrefixSuffix);
    assert_eq!(keyed.replay_within, 10);
    assert_eq!(again.unwrap(), sa);

    assert_eq!(snap.counters.requests, 2, "{snap:?}");
    assert_eq!(snap.counters.cache_hits, 1);
    assert_eq!(snap.counters.accepts, 2);
    assert_eq!(snap.counters.dropped(), 0);
    let homes: Vec<Ipv4Addr> = snap.cache.iter().map(|c| c.home_address).collect();
    assert_eq!(homes, vec![MN_HMAC, MN_KEYED_MD5]);
    assert!(snap.cache.iter().all(|c| c.server == SERVER));
    assert!(snap.cache[0].age < Duration::from_secs(5));
    assert!(lab.log().contains("Login OK"), "{}", lab.log());
}

#[test]
fn decimal_spis_no_sa_and_a_malformed_sa() {
    let lab = Lab::start();
    let mut cfg = config(&[(SERVER, SECRET)]);
    cfg.spi_radix = SpiRadix::Decimal;
    let (dec, no_sa, bad) = lab.in_client(move || async move {
        let h = spawn(cfg, bind()).await.unwrap();
        (
            h.lookup(MN_HMAC).await,
            h.lookup(MN_NO_SA).await,
            h.lookup(MN_BAD_SA).await,
        )
    });
    assert_eq!(dec.unwrap().spi, 256);
    assert_eq!(no_sa, Err(RadiusError::NoSa));
    assert!(
        matches!(bad, Err(RadiusError::Malformed(MalformedAnswer::AvPair(_)))),
        "{bad:?}"
    );
}

#[test]
fn rejected_mobile_nodes_get_reject() {
    let lab = Lab::start();
    let cfg = config(&[(SERVER, SECRET)]);
    let mut wrong_password = config(&[(SERVER, SECRET)]);
    wrong_password.password = b"not-cisco".to_vec();
    let (rejected, unknown, wrong_pw, snap) = lab.in_client(move || async move {
        let h = spawn(cfg, bind()).await.unwrap();
        let rejected = h.lookup(MN_REJECTED).await;
        let unknown = h.lookup(MN_UNKNOWN).await;
        let h2 = spawn(wrong_password, bind()).await.unwrap();
        let wrong_pw = h2.lookup(MN_HMAC).await;
        (rejected, unknown, wrong_pw, h.snapshot().await.unwrap())
    });
    assert_eq!(rejected, Err(RadiusError::Reject), "{}", lab.log());
    assert_eq!(unknown, Err(RadiusError::Reject));
    assert_eq!(wrong_pw, Err(RadiusError::Reject));
    assert_eq!(snap.counters.rejects, 2);
    assert!(snap.cache.is_empty());
}

#[test]
fn a_wrong_shared_secret_is_never_accepted() {
    let lab = Lab::start();
    // Without a Message-Authenticator FreeRADIUS reads the request, fails
    // the password (it unhides it with its own secret) and answers with a
    // reject signed with its secret: our client drops it as forged and
    // counts it, then times out.
    let mut no_ma = config(&[(SERVER, "not-the-secret")]);
    no_ma.message_authenticator = false;
    // With one, FreeRADIUS drops our request itself (the HMAC fails).
    let with_ma = config(&[(SERVER, "not-the-secret")]);
    let (r1, s1, r2, s2) = lab.in_client(move || async move {
        let h1 = spawn(no_ma, bind()).await.unwrap();
        let r1 = h1.lookup(MN_HMAC).await;
        let h2 = spawn(with_ma, bind()).await.unwrap();
        let r2 = h2.lookup(MN_HMAC).await;
        (
            r1,
            h1.snapshot().await.unwrap(),
            r2,
            h2.snapshot().await.unwrap(),
        )
    });
    assert_eq!(r1, Err(RadiusError::Timeout));
    // First try and one retransmission: two answers, both dropped.
    assert_eq!(
        s1.counters.dropped_bad_authenticator,
        2,
        "{s1:?}\n{}",
        lab.log()
    );
    assert_eq!(s1.counters.accepts + s1.counters.rejects, 0);
    assert_eq!(r2, Err(RadiusError::Timeout));
    assert_eq!(s2.counters.accepts + s2.counters.rejects, 0);
    assert!(s1.cache.is_empty() && s2.cache.is_empty());
}

#[test]
fn a_dead_first_server_fails_over_to_the_second() {
    let lab = Lab::start();
    let cfg = config(&[(DEAD_SERVER, SECRET), (SERVER, SECRET)]);
    let (r, snap, took) = lab.in_client(move || async move {
        let h = spawn(cfg, bind()).await.unwrap();
        let t0 = std::time::Instant::now();
        let r = h.lookup(MN_HMAC).await;
        (r, h.snapshot().await.unwrap(), t0.elapsed())
    });
    let sa = r.unwrap_or_else(|e| panic!("{e}\n{}", lab.log()));
    assert_eq!(sa.key, KEY);
    assert_eq!(snap.counters.failovers, 1);
    assert_eq!(snap.counters.retransmissions, 1);
    assert_eq!(snap.cache[0].server, SERVER, "the SA records its source");
    // Two waits of 300 ms at the dead server before the second is asked.
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn nothing_is_left_behind() {
    let names;
    {
        let lab = Lab::start();
        names = [lab.server.name().to_string(), lab.client.name().to_string()];
        assert_eq!(pmip_netns::list(&names[0]), vec![names[0].clone()]);
    }
    for n in names {
        assert!(pmip_netns::list(&n).is_empty(), "{n} removed");
    }
}
