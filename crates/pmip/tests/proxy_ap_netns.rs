//! The proxy Mobile IP access point with real packets: two
//! subnets, each with a `pmip` router (home agent + foreign agent) and a
//! `pmip` AP; an unmodified client with a static home address talks TCP
//! and ICMP with a correspondent behind its home router, roams to the
//! foreign AP (the AP registers in its name) and back home (the AP
//! deregisters it); the TCP connection survives both moves. Prints the
//! outage and packets lost at each handoff.

mod common;

use common::exec_ok as exec;
use pmip_netns::{Netns, unique_name};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

fn router(
    name: &str,
    subnet: u8,
    core: &str,
    peer_subnet: u8,
    peer_core: &str,
    extra: &str,
) -> String {
    format!(
        "hostname {name}
interface FastEthernet0
 ip address 10.{subnet}.0.1 255.255.255.0
 ip irdp
 ip irdp maxadvertinterval 4
 ip irdp minadvertinterval 3
 ip irdp holdtime 12
 ip mobile foreign-service
interface eth1
 ip address {core} 255.255.255.252
{extra}ip route 10.{peer_subnet}.0.0 255.255.255.0 {peer_core}
router mobile
ip mobile home-agent lifetime 600
ip mobile host 10.{subnet}.0.10 10.{subnet}.0.99 interface FastEthernet0
ip mobile secure host 10.{subnet}.0.10 10.{subnet}.0.99 spi 100 key ascii 0987654
ip mobile foreign-agent care-of FastEthernet0
"
    )
}

fn access_point(name: &str, subnet: u8) -> String {
    format!(
        "hostname {name}
interface FastEthernet0
 ip proxy-mobile
interface Dot11Radio0
 ip proxy-mobile
 ssid tsunami
  ip proxy-mobile
interface BVI1
 ip address 10.{subnet}.0.2 255.255.255.0
 ip proxy-mobile
ip default-gateway 10.{subnet}.0.1
ip proxy-mobile enable
ip proxy-mobile aap 10.{subnet}.0.2
ip proxy-mobile secure node 10.1.0.10 10.1.0.99 spi 100 key ascii 0987654
ip proxy-mobile secure node 10.2.0.10 10.2.0.99 spi 100 key ascii 0987654
ip proxy-mobile subnet-map 10.1.0.1 255.255.255.0
ip proxy-mobile subnet-map 10.2.0.1 255.255.255.0
"
    )
}

/// What the station (behind `ap`'s bridge) receives on UDP port 9999
/// when the AP sends it a broadcast, a datagram from port 434 (as a
/// registration reply) and a plain unicast, over a host route to its MAC
/// made for the occasion.
fn station_hears(ap: &Netns, sta: &Netns) -> Vec<String> {
    let mac = String::from_utf8(
        sta.exec_ok("cat", &["/sys/class/net/wlan0/address"])
            .unwrap()
            .stdout,
    )
    .unwrap();
    ap.ip(&["route", "replace", "10.1.0.50/32", "dev", "BVI1"])
        .unwrap();
    ap.ip(&[
        "neigh",
        "replace",
        "10.1.0.50",
        "lladdr",
        mac.trim(),
        "dev",
        "BVI1",
    ])
    .unwrap();
    let receiver = sta
        .thread(|| {
            let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 9999)).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut got = Vec::new();
            let mut b = [0u8; 32];
            while let Ok((n, _)) = s.recv_from(&mut b) {
                got.push(String::from_utf8_lossy(&b[..n]).into_owned());
            }
            got.sort();
            got
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    ap.run(|| {
        let ours = Ipv4Addr::new(10, 2, 0, 2);
        let station = (Ipv4Addr::new(10, 1, 0, 50), 9999);
        let reply = std::net::UdpSocket::bind((ours, 434)).unwrap();
        reply.send_to(b"reply", station).unwrap();
        let b = std::net::UdpSocket::bind((ours, 0)).unwrap();
        b.set_broadcast(true).unwrap();
        b.send_to(b"broadcast", (Ipv4Addr::BROADCAST, 9999))
            .unwrap();
        b.send_to(b"unicast", station).unwrap();
    })
    .unwrap();
    let heard = receiver.join().unwrap().unwrap();
    let _ = ap.ip(&["neigh", "del", "10.1.0.50", "dev", "BVI1"]);
    let _ = ap.ip(&["route", "del", "10.1.0.50/32", "dev", "BVI1"]);
    heard
}

/// Moves the station's port to `ap`'s bridge: a (re)association.
fn associate(from: Option<&Netns>, ap: &Netns) {
    if let Some(old) = from {
        old.ip(&["link", "set", "sta1", "netns", ap.name()])
            .unwrap();
    }
    ap.ip(&[
        "link",
        "set",
        "sta1",
        "master",
        "BVI1",
        "alias",
        "Dot11Radio0 ssid=tsunami",
        "up",
    ])
    .unwrap();
}

/// A UDP probe from the client to an echo on the correspondent every
/// 10 ms for `secs`: how many were sent, how many came back, and the
/// longest gap between two answers (the outage). Send errors (the link
/// is down while the station moves) count as sent and lost.
fn probe(
    sta: &Netns,
    cn: &Netns,
    port: u16,
    secs: u64,
) -> std::thread::JoinHandle<(u32, u32, Duration)> {
    let echo = cn
        .thread(move || {
            let s = std::net::UdpSocket::bind((Ipv4Addr::new(203, 0, 113, 10), port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(secs + 2)))
                .unwrap();
            let mut b = [0u8; 16];
            while let Ok((n, from)) = s.recv_from(&mut b) {
                let _ = s.send_to(&b[..n], from);
            }
        })
        .unwrap();
    let prober = sta
        .thread(move || {
            let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
            s.set_nonblocking(true).unwrap();
            let start = Instant::now();
            let (mut sent, mut got) = (0u32, 0u32);
            let mut last = start;
            let mut gap = Duration::ZERO;
            let mut b = [0u8; 16];
            while start.elapsed() < Duration::from_secs(secs) {
                let _ = s.send_to(&sent.to_be_bytes(), (Ipv4Addr::new(203, 0, 113, 10), port));
                sent += 1;
                let tick = Instant::now();
                while tick.elapsed() < Duration::from_millis(10) {
                    if s.recv(&mut b).is_ok() {
                        got += 1;
                        gap = gap.max(last.elapsed());
                        last = Instant::now();
                    } else {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            }
            (sent, got, gap.max(last.elapsed().min(Duration::ZERO)))
        })
        .unwrap();
    std::thread::spawn(move || {
        let r = prober.join().unwrap().unwrap();
        let _ = echo.join();
        r
    })
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn client_roams_away_and_home_keeping_its_tcp_connection() {
    let cn = Netns::new(&unique_name("pmipt-pcn")).unwrap();
    let mut ra = Netns::new(&unique_name("pmipt-pra")).unwrap();
    let mut rb = Netns::new(&unique_name("pmipt-prb")).unwrap();
    let mut apa = Netns::new(&unique_name("pmipt-paa")).unwrap();
    let mut apb = Netns::new(&unique_name("pmipt-pab")).unwrap();
    let sta = Netns::new(&unique_name("pmipt-pst")).unwrap();
    ra.veth_to("eth1", &rb, "eth1").unwrap();
    ra.veth_to("eth2", &cn, "c0").unwrap();
    cn.addr("c0", "203.0.113.10/24").unwrap();
    cn.ip(&["route", "add", "default", "via", "203.0.113.1"])
        .unwrap();
    ra.veth_to("FastEthernet0", &apa, "FastEthernet0").unwrap();
    rb.veth_to("FastEthernet0", &apb, "FastEthernet0").unwrap();
    // The unmodified client: static home address, home gateway.
    sta.veth_to("wlan0", &apa, "sta1").unwrap();
    sta.addr("wlan0", "10.1.0.50/24").unwrap();
    sta.ip(&["route", "add", "default", "via", "10.1.0.1"])
        .unwrap();

    let (ra_ctl, _) = common::start(
        &mut ra,
        "ra",
        &router(
            "ra",
            1,
            "192.0.2.1",
            2,
            "192.0.2.2",
            "interface eth2\n ip address 203.0.113.1 255.255.255.0\n",
        ),
    );
    let (_rb_ctl, _) = common::start(
        &mut rb,
        "rb",
        &router(
            "rb",
            2,
            "192.0.2.2",
            1,
            "192.0.2.1",
            "ip route 203.0.113.0 255.255.255.0 192.0.2.1\n",
        ),
    );
    let (apa_ctl, _) = common::start(&mut apa, "apa", &access_point("apa", 1));
    let (apb_ctl, _) = common::start(&mut apb, "apb", &access_point("apb", 2));

    // At home: the station associates to its home AP.
    associate(None, &apa);
    sta.exec_ok("ping", &["-c", "2", "-W", "2", "203.0.113.10"])
        .unwrap();
    wait_for("the home AP to see the client at home", || {
        exec(&apa_ctl, &["show", "ip", "proxy-mobile", "visitor"]).contains("at home")
    });

    // A TCP conversation the client keeps across both moves.
    let server = cn
        .thread(|| {
            let l = TcpListener::bind((Ipv4Addr::new(203, 0, 113, 10), 5001)).unwrap();
            let (mut s, peer) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut total = 0;
            let mut b = [0u8; 4];
            for _ in 0..3 {
                s.read_exact(&mut b).unwrap();
                total += 1;
                s.write_all(b"ack!").unwrap();
            }
            (total, peer)
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let client = sta
        .thread(move || {
            let mut s = TcpStream::connect_timeout(
                &(Ipv4Addr::new(203, 0, 113, 10), 5001).into(),
                Duration::from_secs(5),
            )
            .unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut b = [0u8; 4];
            for _ in 0..3 {
                go_rx.recv().unwrap();
                s.write_all(b"data").unwrap();
                s.read_exact(&mut b).unwrap();
                assert_eq!(&b, b"ack!");
            }
            s.local_addr().unwrap()
        })
        .unwrap();
    go_tx.send(()).unwrap();

    // Away: the port moves to the foreign AP's bridge while the client
    // probes the correspondent every 10 ms (the AP learns its address
    // from those frames).
    let pings = probe(&sta, &cn, 7001, 5);
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    associate(Some(&apa), &apb);
    let start = Instant::now();
    while !exec(&apb_ctl, &["show", "ip", "proxy-mobile", "visitor"]).contains("registered") {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the foreign AP did not register the client:\n{}\n{}\n{}",
            exec(&apb_ctl, &["show", "ip", "proxy-mobile", "visitor"]),
            exec(&apb_ctl, &["show", "ip", "proxy-mobile"]),
            std::fs::read_to_string(common::temp("apb.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let registered_after = t.elapsed();
    let (sent, received, outage) = pings.join().unwrap();
    println!(
        "handoff home -> foreign: registered {} ms after association; outage {} ms, {} of {sent} probes lost",
        registered_after.as_millis(),
        outage.as_millis(),
        sent - received
    );
    let binding = exec(&ra_ctl, &["show", "ip", "mobile", "binding"]);
    assert!(binding.contains("Care-of Addr 10.2.0.1"), "{binding}");
    // The visitor's port drops broadcasts and registration replies; plain
    // unicast passes.
    let mut heard = Vec::new();
    for _ in 0..20 {
        heard = station_hears(&apb, &sta);
        if heard == ["unicast"] {
            break;
        }
    }
    assert_eq!(heard, ["unicast"], "the visitor is isolated");
    sta.exec_ok("ping", &["-c", "2", "-W", "2", "203.0.113.10"])
        .unwrap();
    cn.exec_ok("ping", &["-c", "2", "-W", "2", "10.1.0.50"])
        .unwrap();
    go_tx.send(()).unwrap();

    // Home again.
    let pings = probe(&sta, &cn, 7002, 4);
    std::thread::sleep(Duration::from_millis(500));
    associate(Some(&apb), &apa);
    wait_for("the home agent to drop the binding", || {
        exec(&ra_ctl, &["show", "ip", "mobile", "binding"]).contains("Total 0")
    });
    let (sent, received, outage) = pings.join().unwrap();
    println!(
        "handoff foreign -> home: outage {} ms, {} of {sent} probes lost",
        outage.as_millis(),
        sent - received
    );
    sta.exec_ok("ping", &["-c", "2", "-W", "2", "203.0.113.10"])
        .unwrap();
    go_tx.send(()).unwrap();

    let local = client.join().unwrap().unwrap();
    let (exchanges, peer) = server.join().unwrap().unwrap();
    assert_eq!(
        exchanges, 3,
        "the TCP connection carried data at home, away and home again"
    );
    assert_eq!(peer, local, "one and the same connection");
    let sas = exec(&apb_ctl, &["show", "ip", "proxy-mobile", "secure"]);
    assert!(
        sas.contains("10.1.0.10 - 10.1.0.99") && !sas.contains("0987654"),
        "keys masked: {sas}"
    );
    let status = exec(&apb_ctl, &["show", "ip", "proxy-mobile"]);
    assert!(
        status.contains("Foreign agent: 10.2.0.1 care-of 10.2.0.1"),
        "{status}"
    );
}
