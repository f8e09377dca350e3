//! The fast path alone (no daemon) between network namespaces this test
//! creates and removes: a correspondent, a home agent, a foreign agent and
//! a mobile node away from home. Nothing else routes the home address, so
//! whatever reaches the mobile node went through the BPF program. Skipped,
//! with the reason printed, only where the kernel refuses BPF programs.

use pmip_fastpath::{Error, FastPath, Mode, Options, Tunnel, Visitor};
use pmip_netns::{Netns, unique_name};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::Duration;

const CN: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const HA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const COA: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const HOME: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);

struct Lab {
    cn: Netns,
    ha: Netns,
    fa: Netns,
    mn: Netns,
    _home_link: Netns,
}

fn lab() -> Lab {
    let l = Lab {
        cn: Netns::new(&unique_name("pmipf-cn")).unwrap(),
        ha: Netns::new(&unique_name("pmipf-ha")).unwrap(),
        fa: Netns::new(&unique_name("pmipf-fa")).unwrap(),
        mn: Netns::new(&unique_name("pmipf-mn")).unwrap(),
        _home_link: Netns::new(&unique_name("pmipf-hl")).unwrap(),
    };
    l.cn.veth_to("c0", &l.ha, "hc").unwrap();
    l.cn.addr("c0", "203.0.113.10/24").unwrap();
    l.cn.ip(&["route", "add", "default", "via", "203.0.113.1"])
        .unwrap();
    l.ha.addr("hc", "203.0.113.1/24").unwrap();
    l.ha.veth_to("FastEthernet0", &l._home_link, "h0").unwrap();
    l.ha.addr("FastEthernet0", "10.1.0.1/24").unwrap();
    l.ha.veth_to("eth1", &l.fa, "eth1").unwrap();
    l.ha.addr("eth1", "192.0.2.1/24").unwrap();
    l.fa.addr("eth1", "192.0.2.2/24").unwrap();
    l.ha.ip(&["route", "add", "198.51.100.0/24", "via", "192.0.2.2"])
        .unwrap();
    l.fa.veth_to("FastEthernet0", &l.mn, "m0").unwrap();
    l.fa.addr("FastEthernet0", "198.51.100.1/24").unwrap();
    l.fa.ip(&["route", "add", "203.0.113.0/24", "via", "192.0.2.1"])
        .unwrap();
    l.fa.ip(&["route", "add", "10.1.0.0/24", "via", "192.0.2.1"])
        .unwrap();
    l.mn.away_from_home("m0", "10.1.0.50", "198.51.100.1")
        .unwrap();
    // The home address is routed nowhere but through the fast path: the
    // home link's own /24 route is taken out.
    l.ha.ip(&["route", "del", "10.1.0.0/24", "dev", "FastEthernet0"])
        .unwrap();
    l.ha.ip(&["route", "add", "10.1.0.1/32", "dev", "FastEthernet0"])
        .unwrap();
    // Like the daemon's TUN device: what the fast path passes is routed
    // into a link with room for the tunnel header, so a packet too big
    // with DF set gets "fragmentation needed" (RFC 2003 5.1) from the
    // kernel; the link leads nowhere.
    l.ha.veth_to("pmip0", &l._home_link, "t0").unwrap();
    l.ha.ip(&["link", "set", "pmip0", "mtu", "1468"]).unwrap();
    l.ha.ip(&["route", "add", "10.1.0.50/32", "dev", "pmip0"])
        .unwrap();
    for ns in [&l.ha, &l.fa] {
        ns.sysctl("net.ipv4.ip_forward=1").unwrap();
        ns.sysctl("net.ipv4.conf.all.rp_filter=0").unwrap();
        ns.sysctl("net.ipv4.conf.default.rp_filter=0").unwrap();
    }
    l
}

fn load(ns: &Netns, interfaces: &[&str]) -> Result<FastPath, Error> {
    let interfaces: Vec<String> = interfaces.iter().map(|s| s.to_string()).collect();
    ns.run(move || {
        FastPath::load(&Options {
            interfaces: Some(interfaces),
            tun: None,
        })
    })
    .unwrap()
}

/// Loads on both agents, or None (printed) where the kernel refuses BPF.
fn agents(l: &Lab) -> Option<(FastPath, FastPath)> {
    match (
        load(&l.ha, &["hc", "eth1", "FastEthernet0"]),
        load(&l.fa, &["eth1", "FastEthernet0"]),
    ) {
        (Ok(h), Ok(f)) => Some((h, f)),
        (Err(e), _) | (_, Err(e)) if e.is_refused() || matches!(e, Error::NotBuilt(_)) => {
            println!("skipped: the fast path cannot run here: {e}");
            None
        }
        (Err(e), _) | (_, Err(e)) => panic!("fast path did not load: {e}"),
    }
}

fn ifindex(ns: &Netns, dev: &str) -> u32 {
    let out = ns
        .exec_ok("cat", &[&format!("/sys/class/net/{dev}/ifindex")])
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn ping(l: &Lab, extra: &[&str]) -> bool {
    let mut args = vec!["-c", "3", "-i", "0.2", "-W", "1"];
    args.extend_from_slice(extra);
    args.push("10.1.0.50");
    l.cn.exec("ping", &args).unwrap().status.success()
}

/// Sends `len` bytes from the correspondent to the mobile node over TCP
/// and gets them echoed back as a count; returns what arrived.
fn tcp(l: &Lab, len: usize) -> usize {
    let server =
        l.mn.thread(|| {
            let listener = TcpListener::bind((HOME, 5001)).unwrap();
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut total = 0usize;
            let mut buf = vec![0u8; 65536];
            loop {
                match s.read(&mut buf) {
                    Ok(0) => break,
                    Err(e) => {
                        println!("server read after {total} bytes: {e}");
                        break;
                    }
                    Ok(n) => total += n,
                }
            }
            s.write_all(&(total as u64).to_be_bytes()).unwrap();
            total
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let sent =
        l.cn.run(move || {
            let mut s =
                TcpStream::connect_timeout(&(HOME, 5001).into(), Duration::from_secs(5)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
            let chunk = vec![0x5au8; 65536];
            let mut left = len;
            while left > 0 {
                let n = left.min(chunk.len());
                if s.write_all(&chunk[..n]).is_err() {
                    break;
                }
                left -= n;
            }
            let _ = s.shutdown(std::net::Shutdown::Write);
            let mut b = [0u8; 8];
            if s.read_exact(&mut b).is_err() {
                return 0;
            }
            u64::from_be_bytes(b) as usize
        })
        .unwrap();
    assert_eq!(server.join().unwrap().unwrap(), sent);
    sent
}

fn enter(l: &Lab, ha: &mut FastPath, fa: &mut FastPath, mode: Mode, reverse: bool) {
    ha.bind(
        HOME,
        Tunnel {
            local: HA,
            care_of: COA,
            mode,
            reverse,
        },
    )
    .unwrap();
    fa.add_visitor(
        HOME,
        Visitor {
            care_of: COA,
            home_agent: HA,
            ifindex: ifindex(&l.fa, "FastEthernet0"),
            mac: l.mn.mac("m0").unwrap(),
            reverse: reverse.then_some(mode),
        },
    )
    .unwrap();
}

#[test]
fn every_tunnel_mode_carries_ping_and_tcp() {
    for (mode, reverse) in [
        (Mode::IpInIp, false),
        (Mode::Gre, false),
        (Mode::IpInIp, true),
        (Mode::Gre, true),
    ] {
        let l = lab();
        let Some((mut ha, mut fa)) = agents(&l) else {
            return;
        };
        // Not entered yet: nothing reaches the mobile node.
        assert!(!ping(&l, &[]), "{mode:?}: reachable without a binding");
        enter(&l, &mut ha, &mut fa, mode, reverse);
        assert!(ha.is_bound(HOME) && fa.has_visitor(HOME));
        let (h0, f0) = (ha.counters().unwrap(), fa.counters().unwrap());
        assert!(ping(&l, &[]), "{mode:?} reverse {reverse}: ping");
        let bytes = tcp(&l, 4 << 20);
        assert_eq!(bytes, 4 << 20);
        let (h, f) = (
            ha.counters().unwrap().since(&h0),
            fa.counters().unwrap().since(&f0),
        );
        println!("{mode:?} reverse {reverse}: home agent {h:?}, foreign agent {f:?}");
        assert!(h.encapsulated_packets >= 3, "{h:?}");
        assert!(h.encapsulated_bytes >= 4 << 20, "{h:?}");
        assert!(f.decapsulated_packets >= 3, "{f:?}");
        assert!(f.decapsulated_bytes >= 4 << 20, "{f:?}");
        if reverse {
            assert!(f.encapsulated_packets >= 3, "{f:?}");
            assert!(h.decapsulated_packets >= 3, "{h:?}");
        } else {
            assert_eq!(f.encapsulated_packets, 0, "{f:?}");
            assert_eq!(h.decapsulated_packets, 0, "{h:?}");
        }
        assert_eq!(h.dropped_malformed + f.dropped_malformed, 0);

        // Unbound: the map entry goes and the traffic stops.
        ha.unbind(HOME).unwrap();
        assert!(!ha.is_bound(HOME));
        assert!(!ping(&l, &[]), "{mode:?}: reachable after unbind");
        fa.remove_visitor(HOME).unwrap();
        assert!(!fa.has_visitor(HOME));
    }
}

#[test]
fn what_the_fast_path_cannot_do_is_passed_and_malformed_is_dropped() {
    let l = lab();
    let Some((mut ha, mut fa)) = agents(&l) else {
        return;
    };
    enter(&l, &mut ha, &mut fa, Mode::IpInIp, true);
    let before = ha.counters().unwrap();
    // TTL 1 (the kernel answers time exceeded) and a 1500-byte packet
    // with DF set that is too big once encapsulated: both passed.
    assert!(!ping(&l, &["-t", "1", "-c", "1"]));
    assert!(!ping(&l, &["-s", "1472", "-M", "do", "-c", "1"]));
    let passed = ha.counters().unwrap().since(&before);
    assert!(passed.passed >= 2, "{passed:?}");
    assert_eq!(passed.encapsulated_packets, 0, "{passed:?}");

    // Malformed tunnel packets from the care-of address: a non-IPv4
    // payload, an inner length beyond the packet, a truncated inner
    // header, GRE carrying something else than IPv4.
    let inner_v6 = {
        let mut p = inner(HOME, CN, 28);
        p[0] = 0x65;
        p
    };
    let long = {
        let mut p = inner(HOME, CN, 28);
        p[2..4].copy_from_slice(&400u16.to_be_bytes());
        p
    };
    let short = inner(HOME, CN, 28)[..10].to_vec();
    let mut gre_other = vec![0x00, 0x00, 0x86, 0xdd];
    gre_other.extend(inner(HOME, CN, 28));
    let sent =
        l.fa.run(move || {
            send_raw(4, COA, HA, &inner_v6)
                + send_raw(4, COA, HA, &long)
                + send_raw(4, COA, HA, &short)
                + send_raw(47, COA, HA, &gre_other)
        })
        .unwrap();
    assert_eq!(sent, 4);
    std::thread::sleep(Duration::from_millis(200));
    let dropped = ha.counters().unwrap().since(&before);
    assert_eq!(dropped.dropped_malformed, 4, "{dropped:?}");
}

#[test]
fn dropping_the_handle_detaches_the_program() {
    let l = lab();
    let Some((ha, fa)) = agents(&l) else {
        return;
    };
    let attached = |ns: &Netns, dev: &'static str| {
        ns.run(move || {
            aya::programs::SchedClassifier::query_tcx(dev, aya::programs::tc::TcAttachType::Ingress)
                .map(|(_, progs)| progs.len())
                .unwrap_or(0)
        })
        .unwrap()
    };
    assert_eq!(ha.attachment(), pmip_fastpath::Attachment::Tcx);
    assert_eq!(attached(&l.ha, "hc"), 1);
    assert_eq!(attached(&l.fa, "FastEthernet0"), 1);
    drop(ha);
    drop(fa);
    assert_eq!(attached(&l.ha, "hc"), 0);
    assert_eq!(attached(&l.ha, "eth1"), 0);
    assert_eq!(attached(&l.fa, "FastEthernet0"), 0);
}

/// A home agent with more bindings than the first tables held (65 536),
/// and a foreign agent with as many visitors: every one is in the maps,
/// and the tunnel of the first still carries traffic.
#[test]
fn the_maps_hold_hundreds_of_thousands_of_bindings() {
    const MANY: u32 = 200_000;
    let l = lab();
    let Some((mut ha, mut fa)) = agents(&l) else {
        return;
    };
    enter(&l, &mut ha, &mut fa, Mode::IpInIp, false);
    let fa_index = ifindex(&l.fa, "FastEthernet0");
    let started = std::time::Instant::now();
    for i in 1..MANY {
        let home = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 64, 0, 0)) + i);
        // Many care-of addresses as well: the peers map grows with them.
        let care_of = Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + i);
        let tunnel = Tunnel {
            local: HA,
            care_of,
            mode: Mode::IpInIp,
            reverse: false,
        };
        ha.bind(home, tunnel)
            .unwrap_or_else(|e| panic!("binding {i}: {e}"));
        let visitor = Visitor {
            care_of: COA,
            home_agent: HA,
            ifindex: fa_index,
            mac: [2, 0, 0, 0, 0, 1],
            reverse: None,
        };
        fa.add_visitor(home, visitor)
            .unwrap_or_else(|e| panic!("visitor {i}: {e}"));
    }
    println!(
        "{MANY} bindings and visitors entered in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let last = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 64, 0, 0)) + MANY - 1);
    assert!(ha.is_bound(last) && ha.is_bound(HOME));
    assert!(fa.has_visitor(last) && fa.has_visitor(HOME));
    assert!(ping(&l, &[]), "the first binding's tunnel stopped carrying");
}

/// An IPv4/UDP packet of `len` bytes from `src` to `dst` (checksum left
/// zero: it never gets that far).
fn inner(src: Ipv4Addr, dst: Ipv4Addr, len: u16) -> Vec<u8> {
    let mut p = vec![0u8; usize::from(len)];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    p
}

/// Sends `payload` in an IPv4 packet of protocol `proto` from `src` to
/// `dst` on a raw socket; 1 when sent.
fn send_raw(proto: u8, src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> usize {
    let mut pkt = inner(src, dst, 20 + payload.len() as u16);
    pkt.truncate(20);
    pkt[9] = proto;
    pkt.extend_from_slice(payload);
    // SAFETY: a raw socket for this one packet, closed below.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW);
        assert!(fd >= 0);
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(dst.octets()),
            },
            sin_zero: [0; 8],
        };
        let n = libc::sendto(
            fd,
            pkt.as_ptr().cast(),
            pkt.len(),
            0,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        libc::close(fd);
        usize::from(n == pkt.len() as isize)
    }
}

#[test]
fn interfaces_addressed_later_are_covered() {
    let a = Netns::new(&unique_name("pmipf-la")).unwrap();
    let b = Netns::new(&unique_name("pmipf-lb")).unwrap();
    a.veth_to("eth0", &b, "eth0").unwrap();
    a.addr("eth0", "192.0.2.1/24").unwrap();
    let fast = match a.run(|| FastPath::load(&Options::default())).unwrap() {
        Ok(f) => f,
        Err(e) if e.is_refused() || matches!(e, Error::NotBuilt(_)) => {
            println!("skipped: the fast path cannot run here: {e}");
            return;
        }
        Err(e) => panic!("fast path did not load: {e}"),
    };
    assert_eq!(fast.interfaces(), ["eth0"]);
    let attached = |ns: &Netns, dev: &'static str| {
        ns.run(move || {
            aya::programs::SchedClassifier::query_tcx(dev, aya::programs::tc::TcAttachType::Ingress)
                .map(|(_, progs)| progs.len())
                .unwrap_or(0)
        })
        .unwrap()
    };
    // In the namespace, as the daemon's thread is.
    let cover = |fast: FastPath| {
        a.run(move || {
            let mut fast = fast;
            let added = fast.cover_new_interfaces();
            (fast, added)
        })
        .unwrap()
    };
    // An interface without an address is not ours; once addressed it is.
    a.veth_to("eth1", &b, "eth1").unwrap();
    let (fast, added) = cover(fast);
    assert!(added.is_empty(), "{added:?}");
    a.addr("eth1", "198.51.100.1/24").unwrap();
    let (fast, added) = cover(fast);
    assert_eq!(added, ["eth1"]);
    assert_eq!(attached(&a, "eth1"), 1);
    // Once only; made again under the same name, it is attached again.
    a.ip(&["link", "del", "eth1"]).unwrap();
    a.veth_to("eth1", &b, "eth1").unwrap();
    a.addr("eth1", "198.51.100.1/24").unwrap();
    let (fast, added) = cover(fast);
    assert_eq!(added, ["eth1"]);
    assert_eq!(attached(&a, "eth1"), 1);
    assert_eq!(attached(&a, "eth0"), 1);
    let (_fast, again) = cover(fast);
    assert!(again.is_empty(), "{again:?}");
}
