//! `debug ip mobile` on a running home agent: `pmip debug` follows the
//! trace over the control socket and prints each registration as it
//! comes; `undebug all` stops it; a flood of requests with the trace on
//! is rate-limited and cannot stall the daemon. A request with a bad
//! authenticator is in `show ip mobile violation`. The daemons run in
//! namespaces the tests create and remove.

use pmip_netns::{Netns, unique_name};
use pmip_wire::registration::{ReplyCode, RequestFlags};
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

use common::exec_ok as exec;

const HA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const HOME: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);
const COA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

const CONFIG: &str = "hostname dbg1
interface FastEthernet0
 ip address 10.1.0.1 255.255.255.0
interface eth1
 ip address 192.0.2.1 255.255.255.0
router mobile
ip mobile home-agent lifetime 600
ip mobile host 10.1.0.10 10.1.0.99 interface FastEthernet0
ip mobile secure host 10.1.0.10 10.1.0.99 spi 100 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5
";

/// `pmip debug`, killed when the test ends however it ends.
struct Follower(Child);

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `pmip debug` following the daemon at `control`, its standard output
/// piped.
fn follow(control: &std::path::Path) -> Child {
    Command::new(common::PMIP)
        .arg("debug")
        .arg("--control")
        .arg(control)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The lines of `follower`'s standard output, read on a thread of their
/// own; it is killed when the returned guard drops.
fn lines(mut follower: Child) -> (Follower, mpsc::Receiver<String>) {
    let stdout = follower.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (Follower(follower), rx)
}

/// Registers the mobile node from its co-located care-of address.
fn register(mn: &Netns) -> ReplyCode {
    mn.run(|| {
        common::ask(
            COA,
            HA,
            &common::request(
                HOME,
                HA,
                COA,
                300,
                RequestFlags {
                    decapsulation_by_mn: true,
                    ..Default::default()
                },
            ),
        )
    })
    .unwrap()
}

/// Lines from `rx` until one contains `want` (returned), or `None`
/// after `wait`.
fn line_with(rx: &mpsc::Receiver<String>, want: &str, wait: Duration) -> Option<String> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(want) => return Some(l),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

#[test]
fn debug_ip_mobile_streams_registrations_until_undebug_all() {
    let (_ha, _cn, mn, control) = home_agent("dbg1");

    let on = exec(&control, &["debug", "ip", "mobile"]);
    assert_eq!(on, "Mobile IP debugging is on\n");
    assert!(exec(&control, &["show", "debugging"]).contains("Mobile IP debugging is on"));

    let (_follower, rx) = lines(follow(&control));

    // The follower subscribes once its request is read: register until
    // its first line shows (at most a few tries).
    let t = Instant::now();
    let received = loop {
        assert_eq!(register(&mn), ReplyCode::Accepted);
        if let Some(l) = line_with(
            &rx,
            "HA received registration for MN 10.1.0.50",
            Duration::from_millis(500),
        ) {
            break l;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no trace line reached pmip debug"
        );
    };
    println!("{received}");
    assert!(
        received.contains("using COA 192.0.2.2 HA 10.1.0.1 lifetime 300 options sbDmgvt"),
        "{received}"
    );
    let accepted = line_with(
        &rx,
        "HA accepts registration for MN 10.1.0.50",
        Duration::from_secs(5),
    )
    .expect("the reply's line");
    println!("{accepted}");
    assert!(
        accepted.contains("reply sent to 192.0.2.2:434"),
        "{accepted}"
    );

    // Off: registrations go on, the trace stays quiet.
    assert_eq!(
        exec(&control, &["undebug", "all"]),
        "All possible debugging has been turned off\n"
    );
    assert_eq!(exec(&control, &["show", "debugging"]), "");
    while rx.try_recv().is_ok() {}
    assert_eq!(register(&mn), ReplyCode::Accepted);
    assert_eq!(
        line_with(&rx, "MobileIP", Duration::from_secs(1)),
        None,
        "a trace line after undebug all"
    );
    // The registrations were counted all along.
    let host = exec(&control, &["show", "ip", "mobile", "host", "10.1.0.50"]);
    assert!(
        host.contains("Last code '0 (registration accepted)'"),
        "{host}"
    );
}

/// A request for `HOME` signed with a key that is not the association's.
fn forged_request() -> Vec<u8> {
    common::request_signed(
        HOME,
        HA,
        COA,
        300,
        RequestFlags {
            decapsulation_by_mn: true,
            ..Default::default()
        },
        b"not-the-key-of-the-association",
    )
}

/// Home agent, correspondent and mobile node namespaces; the home agent
/// runs `CONFIG` with its control socket named `name`.
fn home_agent(name: &str) -> (Netns, Netns, Netns, std::path::PathBuf) {
    let mut ha = Netns::new(&unique_name("pmipt-dbg-ha")).unwrap();
    let cn = Netns::new(&unique_name("pmipt-dbg-cn")).unwrap();
    let mn = Netns::new(&unique_name("pmipt-dbg-mn")).unwrap();
    ha.veth_to("FastEthernet0", &cn, "c0").unwrap();
    cn.addr("c0", "10.1.0.9/24").unwrap();
    ha.veth_to("eth1", &mn, "m0").unwrap();
    mn.addr("m0", "192.0.2.2/24").unwrap();
    mn.ip(&["route", "add", "10.1.0.0/24", "via", "192.0.2.1"])
        .unwrap();
    let (control, _) = common::start(&mut ha, name, CONFIG);
    (ha, cn, mn, control)
}

/// A request whose authenticator does not verify is denied 131 and is
/// in `show ip mobile violation` (time, source, home address, SPI,
/// reason), by reason in `--json`; `show ip mobile host` gives its last
/// reply code.
#[test]
fn a_bad_authenticator_request_is_in_the_violation_log() {
    let (_ha, _cn, mn, control) = home_agent("viol1");
    let before = exec(&control, &["sh", "ip", "mob", "viol"]);
    assert!(before.contains("Total violations 0"), "{before}");

    let code = mn.run(|| common::ask(COA, HA, &forged_request())).unwrap();
    assert_eq!(code, ReplyCode::MobileNodeFailedAuthenticationHa);

    let text = exec(&control, &["show", "ip", "mobile", "violation"]);
    println!("{text}");
    assert!(text.starts_with("Security Violation Log:\n"), "{text}");
    assert!(text.contains("Total violations 1"), "{text}");
    assert!(text.contains("    Bad authenticator 1\n"), "{text}");
    assert!(
        text.contains("10.1.0.50:\n    Time ")
            && text.contains("seen by the home agent, from 192.0.2.2")
            && text.contains("MN 10.1.0.50, SPI 100, Identification ")
            && text.contains(
                "Error Code: 131 (mobile node failed authentication (home agent)), Reason: Bad authenticator (2)"
            ),
        "{text}"
    );
    let v: serde_json::Value = serde_json::from_str(&exec(
        &control,
        &["--json", "show", "ip", "mobile", "violation"],
    ))
    .unwrap();
    assert_eq!(v["by_reason"]["Bad authenticator"], 1, "{v}");
    let last = &v["recent"][0];
    assert_eq!(
        (
            last["reason"].as_str(),
            &last["code"],
            last["home_address"].as_str(),
            &last["spi"],
            last["source"].as_str()
        ),
        (
            Some("Bad authenticator"),
            &serde_json::json!(131),
            Some("10.1.0.50"),
            &serde_json::json!("100"),
            Some("192.0.2.2")
        ),
        "{v}"
    );
    let host = exec(&control, &["sh", "ip", "mob", "host", "10.1.0.50"]);
    assert!(
        host.contains("Denied 1,")
            && host.contains("Last code '131 (mobile node failed authentication (home agent))'")
            && host.contains("Total violations 1"),
        "{host}"
    );
}

/// A flood of requests with `debug ip mobile` on and two followers, one
/// that reads and one stopped (SIGSTOP, never reading): the trace keeps
/// to 200 lines a second and then says how many it left out, the log
/// likewise, and a registration sent while the flood is processed is
/// answered at once. Printed: the flood's rate, the lines traced, the
/// registration's round trip.
#[test]
fn a_request_flood_with_debug_on_cannot_stall_the_daemon() {
    const FLOOD: usize = 30_000;
    let (_ha, _cn, mn, control) = home_agent("flood1");
    exec(&control, &["debug", "ip", "mobile"]);
    let (_reading, rx) = lines(follow(&control));
    let stopped = follow(&control);
    let stopped_pid = stopped.id();
    let _stopped = Follower(stopped);
    // Both followers are subscribed once a registration's line reaches
    // the reading one (they asked at the same time).
    let t = Instant::now();
    loop {
        assert_eq!(register(&mn), ReplyCode::Accepted);
        if line_with(&rx, "HA accepts", Duration::from_millis(500)).is_some() {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no trace line");
    }
    // SAFETY: stops the `pmip debug` this test started.
    unsafe { libc::kill(stopped_pid as i32, libc::SIGSTOP) };
    std::thread::sleep(Duration::from_millis(1100));
    while rx.try_recv().is_ok() {}

    let forged = forged_request();
    let flood = mn
        .thread(move || {
            let s = std::net::UdpSocket::bind((COA, 0)).unwrap();
            let t = Instant::now();
            for _ in 0..FLOOD {
                let _ = s.send_to(&forged, (HA, 434));
            }
            t.elapsed()
        })
        .unwrap();
    let sent_in = flood.join().unwrap().unwrap();
    // A mobile node retransmits an unanswered request (RFC 5944 3.6.3):
    // here every 500 ms, as a datagram may be lost in the flood.
    let t = Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let code = mn
            .run(|| {
                let s = std::net::UdpSocket::bind((COA, 434)).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
                let req = common::request(
                    HOME,
                    HA,
                    COA,
                    300,
                    RequestFlags {
                        decapsulation_by_mn: true,
                        ..Default::default()
                    },
                );
                s.send_to(&req, (HA, 434)).unwrap();
                let mut buf = [0u8; 512];
                // Replies to the flood's requests go to the flood's port.
                s.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
            })
            .unwrap();
        if let Some(reply) = code {
            let r = pmip_wire::registration::ReplyRepr::parse(
                &pmip_wire::registration::ReplyPacket::new_checked(&reply[..]).unwrap(),
            )
            .unwrap();
            assert_eq!(r.code, ReplyCode::Accepted);
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no answer in {tries} tries: {}",
            exec(&control, &["show", "ip", "mobile", "traffic"])
        );
    }
    let rtt = t.elapsed();
    // How long the daemon took to work through what reached it.
    let mut last = serde_json::Value::Null;
    let drained = loop {
        let v: serde_json::Value = serde_json::from_str(&exec(
            &control,
            &["--json", "show", "ip", "mobile", "traffic"],
        ))
        .unwrap();
        if v["home_agent"]["requests"] == last {
            break t.elapsed();
        }
        last = v["home_agent"]["requests"].clone();
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "{FLOOD} forged requests sent in {sent_in:?}; a registration right after answered in {rtt:?} ({tries} tries); \
         {last} requests worked through (the rest lost in the socket's buffer) within {drained:?}"
    );
    assert!(rtt < Duration::from_secs(2), "{rtt:?}");

    // A line a second later carries the count of those left out.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(register(&mn), ReplyCode::Accepted);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut lines = Vec::new();
    let mut suppressed = 0u64;
    while suppressed == 0 {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("a `debug lines suppressed` line");
        let Ok(l) = rx.recv_timeout(left) else {
            panic!("no `debug lines suppressed` line in {} lines", lines.len())
        };
        if let Some(n) = l
            .split_once(": ... ")
            .and_then(|(_, r)| r.strip_suffix(" debug lines suppressed"))
        {
            suppressed = n.parse().unwrap();
        }
        lines.push(l);
    }
    // The flood took a few seconds at most: 200 lines for each of them.
    let secs = (sent_in.as_secs() + rtt.as_secs() + 4) as usize;
    println!(
        "{} trace lines during the flood, then `... {suppressed} debug lines suppressed`",
        lines.len()
    );
    assert!(lines.len() <= 200 * secs, "{} lines", lines.len());
    assert!(suppressed > 1000, "{suppressed}");
    // The log has the same bound.
    let log = std::fs::read_to_string(common::temp("flood1.log")).unwrap();
    let traced = log.matches("MobileIP:").count();
    assert!(
        traced <= 200 * (secs + 4),
        "{traced} trace lines in the log"
    );
    assert!(log.contains("debug lines suppressed"));
    // The device answers its operator as before.
    assert!(exec(&control, &["show", "debugging"]).contains("Mobile IP debugging is on"));
    // SAFETY: lets the stopped follower go (it is killed on drop).
    unsafe { libc::kill(stopped_pid as i32, libc::SIGCONT) };
}
