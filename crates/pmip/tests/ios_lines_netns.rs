//! The configuration lines IOS has and pmip once accepted and ignored,
//! on a running foreign agent with real packets: each works or is
//! refused. `ip irdp multicast` and `ip irdp preference N` change where
//! the agent advertisements go and the preference they carry, `ip mobile
//! prefix-length` the Prefix-Lengths extension (all three also when
//! changed at run time); `ip mobile foreign-service home-access ACL`
//! with a standard access list denies a visitor's request for a home
//! agent the list denies (65) and relays one it permits; `ip mobile
//! home-agent broadcast` and named access lists (`ip access-list
//! standard NAME`) are refused with their reason, at start and at run
//! time.

use pmip_netns::{Netns, unique_name};
use pmip_wire::icmp::{AdvertisementExtension, Packet, Repr};
use pmip_wire::registration::{ReplyCode, RequestFlags};
use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::exec_ok as exec;

const FA: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const HOME: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);
/// The home agent the access list denies.
const DENIED_HA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
/// One it permits (a socket in the core namespace stands in for it).
const PERMITTED_HA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 2);

const FA_CONFIG: &str = "hostname fa9
interface FastEthernet0
 ip address 198.51.100.1 255.255.255.0
 ip irdp
 ip irdp multicast
 ip irdp preference 7
 ip irdp maxadvertinterval 4
 ip irdp minadvertinterval 3
 ip irdp holdtime 12
 ip mobile foreign-service home-access 10
interface eth1
 ip address 192.0.2.2 255.255.255.252
ip route 10.1.0.0 255.255.255.0 192.0.2.1
access-list 10 remark the campus home agents, not the old one
access-list 10 deny host 10.1.0.1
access-list 10 permit 10.1.0.0 0.0.0.255
router mobile
ip mobile foreign-agent care-of FastEthernet0
";

/// One agent advertisement as the visited link saw it.
#[derive(Debug)]
struct Heard {
    to: Ipv4Addr,
    routers: Vec<(Ipv4Addr, i32)>,
    prefix_lengths: Option<Vec<u8>>,
}

/// The next advertisement from the agent that `ok` accepts, within 10 s
/// (advertisements go out every 3-4 s); those it does not are skipped
/// (sent before a change took effect).
fn advertisement(mn: &Netns, ok: fn(&Heard) -> bool) -> Heard {
    mn.run(move || {
        let s = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::RAW,
            Some(socket2::Protocol::ICMPV4),
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let s: std::net::UdpSocket = s.into();
        let t = Instant::now();
        let mut skipped = Vec::new();
        let mut buf = [0u8; 1500];
        while t.elapsed() < Duration::from_secs(10) {
            let Ok(n) = s.recv(&mut buf) else { continue };
            // The IPv4 header, then the ICMP message.
            let ihl = usize::from(buf[0] & 0x0f) * 4;
            let (src, to) = (
                Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]),
                Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19]),
            );
            let Ok(p) = Packet::new_checked(&buf[ihl..n]) else {
                continue;
            };
            let Ok(Repr::Advertisement(a)) = Repr::parse(&p) else {
                continue;
            };
            if src != FA {
                continue;
            }
            let heard = Heard {
                to,
                routers: a.routers.iter().copied().collect(),
                prefix_lengths: a.extensions.iter().find_map(|e| match e {
                    AdvertisementExtension::PrefixLengths(p) => Some(p.to_vec()),
                    _ => None,
                }),
            };
            if ok(&heard) {
                return heard;
            }
            skipped.push(heard);
        }
        panic!("no such advertisement within 10 s; heard {skipped:?}")
    })
    .unwrap()
}

#[test]
fn formerly_ignored_lines_work_or_are_refused() {
    let mut fa = Netns::new(&unique_name("pmipt-il-fa")).unwrap();
    let mn = Netns::new(&unique_name("pmipt-il-mn")).unwrap();
    let core = Netns::new(&unique_name("pmipt-il-co")).unwrap();
    fa.veth_to("FastEthernet0", &mn, "m0").unwrap();
    fa.veth_to("eth1", &core, "p1").unwrap();
    mn.away_from_home("m0", "10.1.0.50", "198.51.100.1")
        .unwrap();
    core.addr("p1", "192.0.2.1/30").unwrap();
    core.addr("p1", "10.1.0.2/24").unwrap();
    let (control, _) = common::start(&mut fa, "fa9", FA_CONFIG);

    // `ip irdp multicast`, `ip irdp preference 7`, the Prefix-Lengths
    // extension by default.
    let a = advertisement(&mn, |_| true);
    assert_eq!(a.to, Ipv4Addr::new(224, 0, 0, 1), "{a:?}");
    assert_eq!(a.routers, [(FA, 7)], "{a:?}");
    assert_eq!(a.prefix_lengths, Some(vec![24]), "{a:?}");
    let shown = exec(&control, &["show", "ip", "mobile", "interface"]);
    println!("{shown}");

    // Changed at run time: to the limited broadcast, preference -3, no
    // Prefix-Lengths extension (all in one `configure`, so the first
    // advertisement to the broadcast has all three).
    exec(
        &control,
        &[
            "configure",
            "interface FastEthernet0; no ip irdp multicast; ip irdp preference -3; no ip mobile prefix-length",
        ],
    );
    let a = advertisement(&mn, |h| h.to == Ipv4Addr::BROADCAST);
    assert_eq!(a.routers, [(FA, -3)], "{a:?}");
    assert_eq!(a.prefix_lengths, None, "{a:?}");
    let running = exec(&control, &["show", "running-config"]);
    assert!(
        running.contains(" ip irdp preference -3\n")
            && running.contains(" no ip mobile prefix-length\n")
            && !running.contains("ip irdp multicast"),
        "{running}"
    );
    // And back.
    exec(
        &control,
        &[
            "configure",
            "interface FastEthernet0; ip irdp multicast; ip mobile prefix-length",
        ],
    );
    let a = advertisement(&mn, |h| h.to == Ipv4Addr::new(224, 0, 0, 1));
    assert_eq!((a.routers[0].1, a.prefix_lengths), (-3, Some(vec![24])));

    // `home-access 10`: a request for the home agent the list denies is
    // refused by the foreign agent itself with 65.
    let denied = mn
        .run(|| {
            common::ask(
                HOME,
                FA,
                &common::request(HOME, DENIED_HA, FA, 300, RequestFlags::default()),
            )
        })
        .unwrap();
    assert_eq!(denied, ReplyCode::AdministrativelyProhibitedFa);
    // One the list permits is relayed to that home agent.
    let ha = core
        .thread(|| {
            let s = UdpSocket::bind((PERMITTED_HA, 434)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 1500];
            let (n, from) = s.recv_from(&mut buf).expect("the relayed request");
            (buf[..n].to_vec(), from)
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    mn.run(|| {
        let s = UdpSocket::bind((HOME, 434)).unwrap();
        let req = common::request(HOME, PERMITTED_HA, FA, 300, RequestFlags::default());
        s.send_to(&req, (FA, 434)).unwrap();
    })
    .unwrap();
    let (relayed, from) = ha.join().unwrap().unwrap();
    // From the care-of address.
    assert_eq!(from.ip(), std::net::IpAddr::V4(FA));
    assert_eq!(relayed[0], 1, "a registration request");
    assert_eq!(&relayed[4..8], &HOME.octets(), "for the visitor");
    let pending = exec(&control, &["sh", "ip", "mob", "visitor", "pending"]);
    println!("{pending}");
    assert!(
        pending.contains("10.1.0.50") && pending.contains("10.1.0.2"),
        "{pending}"
    );
    let v: serde_json::Value = serde_json::from_str(&exec(
        &control,
        &["--json", "show", "ip", "mobile", "traffic"],
    ))
    .unwrap();
    assert_eq!(v["foreign_agent"]["denied_by_code"]["65"], 1, "{v}");

    // Refused at run time, the running configuration unchanged.
    let before = exec(&control, &["show", "running-config"]);
    for (line, why) in [
        (
            "router mobile; ip mobile home-agent broadcast",
            "forwards no broadcasts",
        ),
        (
            "ip access-list standard campus",
            "named access lists (`ip access-list`) are not supported",
        ),
    ] {
        let (ok, _, err) = common::exec(&control, &["configure", line]);
        assert!(!ok && err.contains(why), "{line}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert_eq!(exec(&control, &["show", "running-config"]), before);

    // Refused at start: the daemon exits 2 with the line and the reason.
    for (line, at, why) in [
        (
            "router mobile\nip mobile home-agent broadcast\n",
            "line 3",
            "forwards no broadcasts",
        ),
        (
            "ip access-list standard campus\n permit 10.1.0.0 0.0.0.255\n",
            "line 2",
            "named access lists",
        ),
    ] {
        let cfg = common::temp("refused.cfg");
        std::fs::write(&cfg, format!("hostname x\n{line}")).unwrap();
        let out = Command::new(common::PMIP)
            .arg("run")
            .arg(&cfg)
            .arg("--control")
            .arg(common::temp("refused.sock"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{line}: {stderr}");
        assert!(
            stderr.starts_with("pmip: ") && stderr.contains(at) && stderr.contains(why),
            "{line}: {stderr}"
        );
    }
}
