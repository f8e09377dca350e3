//! The home agent daemon with real packets: a test-built mobile
//! node on a co-located care-of address registers with `pmip run`; an
//! unmodified correspondent on the home link pings the home address and
//! the packets come out IP-in-IP (then GRE) at the care-of address; a
//! reverse-tunnelled datagram reaches the correspondent; deregistration
//! stops the tunnel and removes what the daemon installed.

use pmip_netns::{Netns, unique_name};
use pmip_platform::raw::RawSocket;
use pmip_wire::ipv4::{self, protocol};
use pmip_wire::registration::{ReplyCode, RequestFlags};
use pmip_wire::tunnel::{self, Encapsulation, Encapsulator};
use std::net::{Ipv4Addr, UdpSocket};
use std::time::{Duration, Instant};

mod common;

use common::{exec_ok as exec, mac, stop};
const HA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const CN: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 9);
const HOME: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);
const COA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

const CONFIG: &str = "hostname ha1
interface FastEthernet0
 ip address 10.1.0.1 255.255.255.0
interface eth1
 ip address 192.0.2.1 255.255.255.0
router mobile
ip mobile home-agent lifetime 600
ip mobile host 10.1.0.10 10.1.0.99 interface FastEthernet0
ip mobile secure host 10.1.0.10 10.1.0.99 spi 100 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5
";

/// The mobile node's registration from its co-located care-of address.
fn register(lifetime: u16, flags: RequestFlags) -> ReplyCode {
    register_from(
        COA,
        COA,
        lifetime,
        RequestFlags {
            decapsulation_by_mn: true,
            ..flags
        },
    )
}

/// A registration sent from `src` naming care-of address `coa`.
fn register_from(src: Ipv4Addr, coa: Ipv4Addr, lifetime: u16, flags: RequestFlags) -> ReplyCode {
    common::ask(src, HA, &common::request(HOME, HA, coa, lifetime, flags))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Waits for one tunnel packet of `proto` carrying an ICMP echo to the
/// home address; returns how it was encapsulated.
fn catch_tunnelled_ping(proto: u8, wait: Duration) -> Option<Encapsulation> {
    rt().block_on(async move {
        let rx = RawSocket::receiver(proto).unwrap();
        let mut buf = vec![0u8; 2048];
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let n = match tokio::time::timeout_at(deadline, rx.recv(&mut buf)).await {
                Ok(Ok(n)) => n,
                _ => return None,
            };
            let Ok(d) = tunnel::decapsulate(&buf[..n]) else {
                continue;
            };
            let inner = ipv4::Packet::new_checked(&buf[d.inner.clone()]).unwrap();
            if d.outer_src == HA
                && d.outer_dst == COA
                && inner.dst_addr() == HOME
                && inner.protocol() == protocol::ICMP
            {
                return Some(d.encapsulation);
            }
        }
    })
}

/// Sends one UDP datagram from the home address to the correspondent
/// through the reverse tunnel.
fn reverse_tunnel_datagram(payload: &[u8]) {
    rt().block_on(async {
        let ip = ipv4::Repr::new(HOME, CN, protocol::UDP, 64, 8 + payload.len());
        let room = Encapsulation::IpInIp.overhead();
        let mut pkt = vec![0u8; room + ip.buffer_len()];
        {
            let mut p = ipv4::Packet::new_unchecked(&mut pkt[room..]);
            ip.emit(&mut p);
            let body = p.payload_mut();
            body[8..].copy_from_slice(payload);
            pmip_wire::udp::Repr {
                src_port: 4000,
                dst_port: 5000,
                payload_len: payload.len(),
            }
            .emit(&mut pmip_wire::udp::Packet::new_unchecked(body), HOME, CN);
        }
        let len = pkt.len() - room;
        let r = Encapsulator::new(COA, HA, Encapsulation::IpInIp)
            .encapsulate(&mut pkt, room, len, false)
            .unwrap();
        pmip_platform::raw::RawSocket::sender()
            .unwrap()
            .send_to(&pkt[r], HA)
            .await
            .unwrap();
    })
}

/// The home agent's namespace, a correspondent on its home link
/// (10.1.0.9) and the mobile node's at a co-located care-of address
/// (192.0.2.2) behind it.
fn home_link(ha: &str, cn: &str, mn: &str) -> (Netns, Netns, Netns) {
    let ha = Netns::new(&unique_name(ha)).unwrap();
    let cn = Netns::new(&unique_name(cn)).unwrap();
    let mn = Netns::new(&unique_name(mn)).unwrap();
    ha.veth_to("FastEthernet0", &cn, "c0").unwrap();
    cn.addr("c0", "10.1.0.9/24").unwrap();
    ha.veth_to("eth1", &mn, "m0").unwrap();
    mn.addr("m0", "192.0.2.2/24").unwrap();
    mn.ip(&["route", "add", "10.1.0.0/24", "via", "192.0.2.1"])
        .unwrap();
    (ha, cn, mn)
}

#[test]
fn registration_tunnel_reverse_tunnel_and_deregistration() {
    let (mut ha, cn, mn) = home_link("pmipt-ha", "pmipt-cn", "pmipt-mn");
    // The correspondent still has the mobile node's old MAC cached.
    cn.ip(&[
        "neigh",
        "replace",
        "10.1.0.50",
        "lladdr",
        "02:00:00:00:00:99",
        "dev",
        "c0",
        "nud",
        "stale",
    ])
    .unwrap();

    let (control, _) = common::start(&mut ha, "ha1", CONFIG);

    // 1. Register (IP-in-IP, reverse tunnel allowed).
    let code = mn
        .run(|| {
            register(
                300,
                RequestFlags {
                    reverse_tunnel: true,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(code, ReplyCode::Accepted);
    let bindings = exec(&control, &["show", "ip", "mobile", "binding"]);
    assert!(
        bindings.contains("10.1.0.50:") && bindings.contains("Care-of Addr 192.0.2.2"),
        "{bindings}"
    );
    assert!(bindings.contains("Total 1"), "{bindings}");

    // Gratuitous ARP moved the correspondent's cache to the home agent
    // (installs run on their own task: wait for it, up to 5 s).
    let ha_mac = mac(&ha, "FastEthernet0");
    let start = Instant::now();
    loop {
        let neigh =
            String::from_utf8(cn.ip(&["neigh", "show", "10.1.0.50"]).unwrap().stdout).unwrap();
        if neigh.contains(&ha_mac) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "gratuitous ARP: {neigh}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // 2. The correspondent pings the home address: out IP-in-IP at the CoA.
    let catcher = mn
        .thread(|| catch_tunnelled_ping(protocol::IPIP, Duration::from_secs(5)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let _ = cn.exec("ping", &["-c", "3", "-i", "0.2", "-W", "1", "10.1.0.50"]);
    assert_eq!(
        catcher.join().unwrap().unwrap(),
        Some(Encapsulation::IpInIp)
    );

    // 3. Reverse tunnel: a datagram from the home address reaches the CN.
    let listener = cn
        .thread(|| {
            let s = UdpSocket::bind((CN, 5000)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut b = [0u8; 64];
            s.recv_from(&mut b).map(|(n, from)| (b[..n].to_vec(), from))
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    mn.run(|| reverse_tunnel_datagram(b"reverse")).unwrap();
    let (data, from) = listener
        .join()
        .unwrap()
        .unwrap()
        .expect("reverse-tunnelled datagram at the correspondent");
    assert_eq!(data, b"reverse");
    assert_eq!(from.ip(), std::net::IpAddr::V4(HOME));

    // 4. Re-register asking for GRE: pings now come out in GRE.
    let code = mn
        .run(|| {
            register(
                300,
                RequestFlags {
                    gre: true,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(code, ReplyCode::Accepted);
    let catcher = mn
        .thread(|| catch_tunnelled_ping(protocol::GRE, Duration::from_secs(5)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let _ = cn.exec("ping", &["-c", "3", "-i", "0.2", "-W", "1", "10.1.0.50"]);
    assert!(matches!(
        catcher.join().unwrap().unwrap(),
        Some(Encapsulation::Gre { .. })
    ));

    // 5. Deregister: no more tunnel, route and proxy entry gone.
    let code = mn.run(|| register(0, RequestFlags::default())).unwrap();
    assert_eq!(code, ReplyCode::Accepted);
    let catcher = mn
        .thread(|| catch_tunnelled_ping(protocol::GRE, Duration::from_secs(2)))
        .unwrap();
    let _ = cn.exec("ping", &["-c", "2", "-i", "0.2", "-W", "1", "10.1.0.50"]);
    assert_eq!(
        catcher.join().unwrap().unwrap(),
        None,
        "nothing tunnelled after deregistration"
    );
    let routes = String::from_utf8(ha.ip(&["route"]).unwrap().stdout).unwrap();
    assert!(!routes.contains("10.1.0.50"), "{routes}");
    // Nor does the home agent answer ARP for the address any more.
    assert!(
        !arp_answered_by(&cn, "c0", "10.1.0.50", &mac(&ha, "FastEthernet0")),
        "proxy ARP after deregistration"
    );

    let traffic = exec(&control, &["show", "ip", "mobile", "traffic"]);
    assert!(traffic.contains("Accepted 3"), "{traffic}");
    assert!(traffic.contains("Deregister 1"), "{traffic}");
    // The data plane's counters: the pings above went through the tunnel.
    let packets: u64 = traffic
        .split("Encapsulated ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(packets >= 3, "{traffic}");

    // 6. `clear ip mobile binding`: the operator ends a binding; its route
    // and proxy entry go as on deregistration.
    let code = mn.run(|| register(300, RequestFlags::default())).unwrap();
    assert_eq!(code, ReplyCode::Accepted);
    wait_until("the binding's route", || {
        String::from_utf8(ha.ip(&["route"]).unwrap().stdout)
            .unwrap()
            .contains("10.1.0.50")
    });
    let out = exec(&control, &["clear", "ip", "mobile", "binding", "10.1.0.50"]);
    assert!(out.contains("1 mobility binding cleared"), "{out}");
    assert!(exec(&control, &["show", "ip", "mobile", "binding"]).contains("Total 0"));
    wait_until("the route to go", || {
        !String::from_utf8(ha.ip(&["route"]).unwrap().stdout)
            .unwrap()
            .contains("10.1.0.50")
    });
    let (ok, _, err) = common::exec(&control, &["clear", "ip", "mobile", "binding", "nonsense"]);
    assert!(!ok && err.contains("Invalid input"), "{err}");
}

/// Whether `ns` resolves `addr` on `dev` to `mac` now (its cache
/// flushed first, so an ARP request goes out).
fn arp_answered_by(ns: &Netns, dev: &str, addr: &str, mac: &str) -> bool {
    ns.ip(&["neigh", "flush", "dev", dev]).unwrap();
    let _ = ns.exec("ping", &["-c", "1", "-W", "1", addr]);
    String::from_utf8(ns.ip(&["neigh", "show", addr]).unwrap().stdout)
        .unwrap()
        .contains(mac)
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn garbage_flood_leaves_registrations_served() {
    let mut ha = Netns::new(&unique_name("pmipt-hg")).unwrap();
    let cn = Netns::new(&unique_name("pmipt-cg")).unwrap();
    let mn = Netns::new(&unique_name("pmipt-mg")).unwrap();
    ha.veth_to("FastEthernet0", &cn, "c0").unwrap();
    ha.veth_to("eth1", &mn, "m0").unwrap();
    mn.addr("m0", "192.0.2.2/24").unwrap();
    mn.ip(&["route", "add", "10.1.0.0/24", "via", "192.0.2.1"])
        .unwrap();
    let (control, _) = common::start(&mut ha, "hg", CONFIG);
    mn.run(|| {
        let s = UdpSocket::bind((COA, 0)).unwrap();
        let mut x: u32 = 12345;
        for i in 0..5000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let len = (x % 120) as usize;
            let mut b: Vec<u8> = (0..len)
                .map(|j| (x.wrapping_mul(j as u32 + 1) >> 8) as u8)
                .collect();
            if i % 2 == 0 && !b.is_empty() {
                b[0] = 1; // looks like a registration request
            }
            let _ = s.send_to(&b, (HA, 434));
        }
    })
    .unwrap();
    let code = mn.run(|| register(300, RequestFlags::default())).unwrap();
    assert_eq!(
        code,
        ReplyCode::Accepted,
        "a valid registration is served after the flood"
    );
    let traffic = exec(&control, &["--json", "show", "ip", "mobile", "traffic"]);
    let v: serde_json::Value = serde_json::from_str(&traffic).unwrap();
    assert_eq!(v["home_agent"]["accepted"], 1);
    assert!(
        v["home_agent"]["requests"].as_u64().unwrap() > 100,
        "{traffic}"
    );
}

/// The client comes home (RFC 5944 4.6): the home link is a real bridge
/// with the home agent, an unmodified correspondent and, once back, the
/// client. Deregistering from home removes the tunnel, the reply reaches
/// the client on the home link, and a gratuitous ARP on the client's
/// behalf moves the correspondent's cache from the home agent's MAC back
/// to the client's own.
#[test]
fn client_returns_home() {
    let mut ha = Netns::new(&unique_name("pmipt-hh")).unwrap();
    let sw = Netns::new(&unique_name("pmipt-sw")).unwrap();
    let cn = Netns::new(&unique_name("pmipt-ch")).unwrap();
    let away = Netns::new(&unique_name("pmipt-aw")).unwrap();
    let home = Netns::new(&unique_name("pmipt-ho")).unwrap();
    sw.ip(&["link", "add", "br0", "type", "bridge"]).unwrap();
    sw.ip(&["link", "set", "br0", "up"]).unwrap();
    for (ns, dev, port) in [
        (&ha, "FastEthernet0", "pha"),
        (&cn, "c0", "pcn"),
        (&home, "m1", "pmn"),
    ] {
        ns.veth_to(dev, &sw, port).unwrap();
        sw.ip(&["link", "set", port, "master", "br0"]).unwrap();
    }
    cn.addr("c0", "10.1.0.9/24").unwrap();
    ha.veth_to("eth1", &away, "m0").unwrap();
    away.addr("m0", "192.0.2.2/24").unwrap();
    away.ip(&["route", "add", "10.1.0.0/24", "via", "192.0.2.1"])
        .unwrap();

    let (control, _) = common::start(&mut ha, "hh", CONFIG);
    // Away: registered through its co-located care-of address.
    assert_eq!(
        away.run(|| register(300, RequestFlags::default())).unwrap(),
        ReplyCode::Accepted
    );
    // The correspondent talks to the client: the home agent proxy-ARPs.
    let _ = cn.exec("ping", &["-c", "2", "-W", "2", "10.1.0.50"]);
    let ha_mac = mac(&ha, "FastEthernet0");
    let neigh = String::from_utf8(cn.ip(&["neigh", "show", "10.1.0.50"]).unwrap().stdout).unwrap();
    assert!(
        neigh.contains(&ha_mac),
        "while away, the home agent answers for the client: {neigh}"
    );

    // Home again: the client has its address on the home link and
    // deregisters all bindings (care-of address = home address).
    home.addr("m1", "10.1.0.50/24").unwrap();
    let code = home
        .run(|| register_from(HOME, HOME, 0, RequestFlags::default()))
        .unwrap();
    assert_eq!(
        code,
        ReplyCode::Accepted,
        "the reply reached the client at home, not the old tunnel"
    );
    let client_mac = mac(&home, "m1");
    let start = Instant::now();
    loop {
        let neigh =
            String::from_utf8(cn.ip(&["neigh", "show", "10.1.0.50"]).unwrap().stdout).unwrap();
        if neigh.contains(&client_mac) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "gratuitous ARP for the client never came: {neigh}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // And traffic flows directly on the home link.
    cn.exec_ok("ping", &["-c", "1", "-W", "2", "10.1.0.50"])
        .unwrap();
    let bindings = exec(&control, &["show", "ip", "mobile", "binding"]);
    assert!(bindings.contains("Total 0"), "{bindings}");
}

/// A home agent restarted — cleanly, then with kill -9 — resumes where
/// it stopped: the binding is there with what was left of its lifetime,
/// the correspondent's pings come out of the tunnel again at once, and a
/// registration request captured before the restart is refused as a
/// replay after it.
#[test]
fn a_restarted_home_agent_keeps_its_bindings_and_replay_state() {
    let (mut ha, cn, mn) = home_link("pmipt-hr", "pmipt-hc", "pmipt-hm");

    let (control, pid) = common::start(&mut ha, "hr", CONFIG);
    let captured = common::request(
        HOME,
        HA,
        COA,
        600,
        RequestFlags {
            decapsulation_by_mn: true,
            ..Default::default()
        },
    );
    let msg = captured.clone();
    let code = mn.run(move || common::ask(COA, HA, &msg)).unwrap();
    assert_eq!(code, ReplyCode::Accepted);

    let mut pid = pid;
    for (how, signal) in [("clean stop", libc::SIGTERM), ("kill -9", libc::SIGKILL)] {
        stop(pid, signal);
        let t = Instant::now();
        let (control2, restarted) = common::start(&mut ha, "hr", CONFIG);
        assert_eq!(control2, control);
        pid = restarted;
        // After kill -9 the old socket file is still there until the new
        // daemon replaces it: wait until one answers.
        while !common::exec(&control, &["show", "version"]).0 {
            assert!(t.elapsed() < Duration::from_secs(10), "{how}: no daemon");
            std::thread::sleep(Duration::from_millis(20));
        }
        let b = exec(&control, &["show", "ip", "mobile", "binding"]);
        assert!(
            b.contains("Total 1") && b.contains("Care-of Addr 192.0.2.2"),
            "{how}: {b}"
        );
        assert!(
            !b.contains("remaining 00:10:00"),
            "{how}: the lifetime kept running: {b}"
        );
        println!(
            "{how}: the restarted home agent answered with its binding {:?} after it was started again",
            t.elapsed()
        );
        // The tunnel is back: pings to the home address come out at the
        // care-of address.
        let catcher = mn
            .thread(|| catch_tunnelled_ping(protocol::IPIP, Duration::from_secs(5)))
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let _ = cn.exec("ping", &["-c", "3", "-i", "0.2", "-W", "1", "10.1.0.50"]);
        assert_eq!(
            catcher.join().unwrap().unwrap(),
            Some(Encapsulation::IpInIp),
            "{how}"
        );
        // The captured request replayed after the restart is refused.
        let msg = captured.clone();
        let code = mn.run(move || common::ask(COA, HA, &msg)).unwrap();
        assert_eq!(code, ReplyCode::IdentificationMismatch, "{how}: a replay");
    }
}

/// kill -9 leaves the interface addresses in the kernel (proxy ARP is
/// the daemon's own and stops with it; the routes die with the tunnel
/// device). The next run reads the ledger the killed one saved: what it
/// installs again is its own (removed at its clean stop), and what it does
/// not (an address no longer configured) is removed at once.
#[test]
fn after_kill_9_the_next_run_takes_back_or_removes_what_the_last_one_installed() {
    let (mut ha, cn, mn) = home_link("pmipt-hk", "pmipt-hkc", "pmipt-hkm");
    let (control, pid) = common::start(&mut ha, "hk", CONFIG);
    let code = mn.run(|| register(600, RequestFlags::default())).unwrap();
    assert_eq!(code, ReplyCode::Accepted);
    let out = |ha: &Netns, args: &[&str]| {
        String::from_utf8_lossy(&ha.ip(args).unwrap().stdout).into_owned()
    };
    let addrs = |ha: &Netns| out(ha, &["-4", "-o", "addr", "show"]);
    let ha_mac = mac(&ha, "FastEthernet0");
    wait_until("proxy ARP for the bound home address", || {
        arp_answered_by(&cn, "c0", "10.1.0.50", &ha_mac)
    });
    stop(pid, libc::SIGKILL);
    assert!(
        addrs(&ha).contains("10.1.0.1/24") && addrs(&ha).contains("192.0.2.1/24"),
        "kill -9 leaves the kernel state behind"
    );
    assert!(
        !arp_answered_by(&cn, "c0", "10.1.0.50", &ha_mac),
        "nobody answers for a home address nobody routes"
    );
    // The next run no longer serves 10.1.0.50 (its binding is not
    // resumed) and has another address on eth1: the one the killed run
    // left there is removed.
    let narrower = CONFIG
        .replace(
            "ip mobile host 10.1.0.10 10.1.0.99",
            "ip mobile host 10.1.0.60 10.1.0.99",
        )
        .replace(
            "ip mobile secure host 10.1.0.10 10.1.0.99",
            "ip mobile secure host 10.1.0.60 10.1.0.99",
        )
        .replace(
            "ip address 192.0.2.1 255.255.255.0",
            "ip address 198.51.100.1 255.255.255.0",
        );
    let (control2, pid) = common::start(&mut ha, "hk", &narrower);
    assert_eq!(control2, control);
    wait_until("the stale address to go", || {
        !addrs(&ha).contains("192.0.2.1/24")
    });
    assert!(addrs(&ha).contains("198.51.100.1/24"), "{}", addrs(&ha));
    let b = exec(&control, &["show", "ip", "mobile", "binding"]);
    assert!(b.contains("Total 0"), "{b}");
    assert!(!arp_answered_by(&cn, "c0", "10.1.0.50", &ha_mac));
    // Its addresses are its own again: a clean stop removes them, as it
    // does after a run that was never killed.
    assert!(addrs(&ha).contains("10.1.0.1/24"));
    stop(pid, libc::SIGTERM);
    assert!(
        !addrs(&ha).contains("10.1.0.1/24"),
        "the address taken back is removed at the clean stop: {}",
        addrs(&ha)
    );
    let routes = out(&ha, &["-4", "route", "show", "table", "all"]);
    assert!(!routes.contains("10.1.0.50"), "{routes}");
}

/// A burst of 5 000 registrations (distinct home addresses): every
/// binding's host route reaches the kernel within seconds (installs go in
/// netlink batches through a bounded queue, none dropped), the home agent
/// answers ARP for a bound address, and a clean stop removes every route
/// at once.
#[test]
fn a_burst_of_5000_registrations_is_all_installed_and_all_removed_at_stop() {
    const COUNT: u32 = 5000;
    let (mut ha, cn, mn) = home_link("pmipt-hb", "pmipt-hbc", "pmipt-hbm");
    let config = CONFIG
        .replace(
            "ip address 10.1.0.1 255.255.255.0",
            "ip address 10.1.0.1 255.255.0.0",
        )
        .replace("10.1.0.10 10.1.0.99", "10.1.1.0 10.1.40.255");
    mn.ip(&["route", "replace", "10.1.0.0/16", "via", "192.0.2.1"])
        .unwrap();
    cn.ip(&["route", "add", "10.1.0.0/16", "dev", "c0"])
        .unwrap();
    let (control, pid) = common::start(&mut ha, "hb", &config);
    let home = |i: u32| Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 1, 1, 0)) + i);
    let accepted = mn
        .run(move || {
            let s = UdpSocket::bind((COA, 434)).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut answered = std::collections::BTreeSet::new();
            let mut buf = [0u8; 512];
            // In windows of 200, each request asked again until answered.
            for _round in 0..5 {
                let missing: Vec<u32> = (0..COUNT).filter(|i| !answered.contains(i)).collect();
                for window in missing.chunks(200) {
                    for &i in window {
                        let msg = common::request(
                            home(i),
                            HA,
                            COA,
                            600,
                            RequestFlags {
                                decapsulation_by_mn: true,
                                ..Default::default()
                            },
                        );
                        s.send_to(&msg, (HA, 434)).unwrap();
                    }
                    while let Ok(n) = s.recv(&mut buf) {
                        // Reply: type 3, code, lifetime, home address at 4.
                        if n >= 8 && buf[0] == 3 && buf[1] == 0 {
                            let h = Ipv4Addr::new(buf[4], buf[5], buf[6], buf[7]);
                            answered.insert(u32::from(h) - u32::from(home(0)));
                        }
                        if window.iter().all(|i| answered.contains(i)) {
                            break;
                        }
                    }
                }
            }
            answered.len() as u32
        })
        .unwrap();
    assert_eq!(accepted, COUNT, "every registration accepted");
    // Once the daemon is gone so is pmip0, and `ip` fails: no routes.
    let routes = |ha: &Netns| {
        ha.ip(&["-4", "route", "show", "dev", "pmip0"])
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().count() as u32)
            .unwrap_or(0)
    };
    let t = Instant::now();
    while routes(&ha) < COUNT {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{} of {COUNT} routes installed",
            routes(&ha)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let b = exec(&control, &["show", "ip", "mobile", "binding", "summary"]);
    assert!(b.contains("5000"), "{b}");
    assert!(
        arp_answered_by(&cn, "c0", "10.1.20.7", &mac(&ha, "FastEthernet0")),
        "proxy ARP for a bound home address"
    );
    let t = Instant::now();
    stop(pid, libc::SIGTERM);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "a clean stop with {COUNT} bindings took {:?}",
        t.elapsed()
    );
    assert_eq!(routes(&ha), 0, "every route removed at the stop");
    let all = String::from_utf8_lossy(
        &ha.ip(&["-4", "route", "show", "table", "all"])
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(!all.contains("10.1.20.7"), "{all}");
}
