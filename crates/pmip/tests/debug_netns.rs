//! `debug ip mobile` on a running home agent: `pmip debug` follows the
//! trace over the control socket and prints each registration as it
//! comes; `undebug all` stops it. The daemon runs in a namespace the test
//! creates and removes.

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
    let mut ha = Netns::new(&unique_name("pmipt-dbg-ha")).unwrap();
    let cn = Netns::new(&unique_name("pmipt-dbg-cn")).unwrap();
    let mn = Netns::new(&unique_name("pmipt-dbg-mn")).unwrap();
    ha.veth_to("FastEthernet0", &cn, "c0").unwrap();
    cn.addr("c0", "10.1.0.9/24").unwrap();
    ha.veth_to("eth1", &mn, "m0").unwrap();
    mn.addr("m0", "192.0.2.2/24").unwrap();
    mn.ip(&["route", "add", "10.1.0.0/24", "via", "192.0.2.1"])
        .unwrap();
    let (control, _) = common::start(&mut ha, "dbg1", CONFIG);

    let on = exec(&control, &["debug", "ip", "mobile"]);
    assert_eq!(on, "Mobile IP debugging is on\n");
    assert!(exec(&control, &["show", "debugging"]).contains("Mobile IP debugging is on"));

    let mut child = Command::new(common::PMIP)
        .arg("debug")
        .arg("--control")
        .arg(&control)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _follower = Follower(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });

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
