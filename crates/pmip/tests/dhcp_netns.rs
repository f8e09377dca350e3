//! An AP that takes its own address by DHCP (`interface BVI1` / `ip
//! address dhcp`, as Aironet APs ship), with dnsmasq as the server in a
//! router namespace on the AP's wired side: the lease puts the address
//! and the default route on BVI1, `show dhcp lease` reports it, the
//! subnet map exchange runs with it (the AP is its own AAP), the lease is
//! renewed at T1, a NAK takes the address away and a new lease gives
//! another, and a stopped daemon removes the address and route.

mod common;

use common::exec_ok as exec;
use pmip_netns::{Netns, unique_name};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

const LEASED: &str = "10.77.0.2";

/// dnsmasq's leases and log files, removed when the test ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ap_config() -> String {
    format!(
        "hostname apd
interface FastEthernet0
 ip proxy-mobile
interface Dot11Radio0
 ip proxy-mobile
 ssid tsunami
  ip proxy-mobile
interface BVI1
 ip address dhcp
 ip proxy-mobile
ip proxy-mobile enable
ip proxy-mobile aap {LEASED}
ip proxy-mobile aap key ascii campus-aap
ip proxy-mobile secure node 10.77.0.100 10.77.0.199 spi 100 key ascii 0987654
"
    )
}

/// dnsmasq on the router's side only, in the foreground (its pid is the
/// namespace guard's child, killed when the guard drops): no DNS, one
/// address to give (so the AP's address and its AAP line are known in
/// advance), the shortest lease dnsmasq grants (2 minutes) with T1 at 5 s
/// so the renewal happens within the test (T2 stays in order: 5 < 100 <
/// 120), no ping check before the offer (the time to lease is the
/// client's own). Returns its pid once it is ready.
fn dnsmasq(router: &mut Netns, dir: &std::path::Path, address: &str, log: &std::path::Path) -> u32 {
    let before = std::fs::read_to_string(log).unwrap_or_default().len();
    let pid = router
        .spawn(
            "dnsmasq",
            &[
                "--no-daemon",
                "--conf-file=/dev/null",
                "--port=0",
                "--interface=FastEthernet0",
                "--except-interface=lo",
                "--bind-interfaces",
                "--user=root",
                "--group=root",
                "--dhcp-authoritative",
                "--no-ping",
                &format!("--dhcp-range={address},{address},255.255.255.0,2m"),
                "--dhcp-option=option:router,10.77.0.1",
                "--dhcp-option=option:T1,5",
                "--dhcp-option=option:T2,100",
                &format!(
                    "--dhcp-leasefile={}",
                    dir.join(format!("leases-{address}")).display()
                ),
                "--log-dhcp",
                &format!("--log-facility={}", log.display()),
            ],
            Stdio::null(),
            Stdio::null(),
        )
        .unwrap();
    let t = Instant::now();
    while !std::fs::read_to_string(log).unwrap_or_default()[before..]
        .contains("sockets bound exclusively")
    {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "dnsmasq did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    pid
}

fn lease(control: &std::path::Path) -> serde_json::Value {
    let json = common::exec_ok(control, &["--json", "show", "dhcp", "lease"]);
    serde_json::from_str(&json).unwrap()
}

fn addresses(ns: &Netns) -> String {
    let out = ns.ip(&["-4", "addr", "show", "dev", "BVI1"]).unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn default_route(ns: &Netns) -> String {
    let out = ns.ip(&["-4", "route", "show", "default"]).unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ap_takes_its_address_by_dhcp_renews_it_starts_over_after_a_nak_and_removes_it_at_stop() {
    let mut router = Netns::new(&unique_name("pmipt-dhr")).unwrap();
    let mut ap = Netns::new(&unique_name("pmipt-dha")).unwrap();
    router
        .veth_to("FastEthernet0", &ap, "FastEthernet0")
        .unwrap();
    router.addr("FastEthernet0", "10.77.0.1/24").unwrap();

    // dnsmasq's leases and log in a directory removed at the end.
    let dir = TempDir(common::temp("dnsmasq"));
    std::fs::create_dir_all(&dir.0).unwrap();
    let log = dir.0.join("dnsmasq.log");
    let first = dnsmasq(&mut router, &dir.0, "10.77.0.2", &log);
    let started = Instant::now();
    let (control, pid) = common::start(&mut ap, "apd", &ap_config());
    // Time to lease: from the daemon's start to BOUND.
    let mut v = lease(&control);
    while v["state"] != "BOUND" {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no lease: {v}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
        v = lease(&control);
    }
    let to_lease = started.elapsed();
    println!(
        "time to lease: {} ms (daemon start to BOUND)",
        to_lease.as_millis()
    );
    assert_eq!(v["address"], LEASED);
    assert_eq!(v["prefix_len"], 24);
    assert_eq!(v["gateway"], "10.77.0.1");
    assert_eq!(v["server"], "10.77.0.1");
    assert_eq!(v["lease_secs"], 120);
    assert_eq!(v["malformed"], 0);
    // The address and the default route are on BVI1.
    let t = Instant::now();
    while !addresses(&ap).contains(&format!("{LEASED}/24")) {
        assert!(t.elapsed() < Duration::from_secs(5), "{}", addresses(&ap));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        default_route(&ap).contains("via 10.77.0.1"),
        "{}",
        default_route(&ap)
    );
    let text = exec(&control, &["show", "dhcp", "lease"]);
    println!("{text}");
    assert!(text.contains(&format!("Temp IP addr: {LEASED}")), "{text}");
    assert!(text.contains("address by DHCP"), "{text}");
    // The running configuration keeps `ip address dhcp`.
    let rc = exec(&control, &["show", "running-config"]);
    assert!(rc.contains("interface BVI1\n ip address dhcp\n"), "{rc}");
    // The exchange runs with the leased address: the AP is its own AAP.
    let t = Instant::now();
    loop {
        let st = exec(&control, &["show", "ip", "proxy-mobile", "subnet-table"]);
        if st.contains("this AP is an AAP") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "{st}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The router reaches the AP at its leased address.
    let ping = router
        .exec("ping", &["-c", "2", "-W", "2", LEASED])
        .unwrap();
    if !ping.status.success() {
        let n = router.ip(&["neigh"]).unwrap();
        let a = ap.ip(&["-d", "link", "show"]).unwrap();
        panic!(
            "ping: {}\nneigh: {}\nap links: {}",
            String::from_utf8_lossy(&ping.stdout),
            String::from_utf8_lossy(&n.stdout),
            String::from_utf8_lossy(&a.stdout)
        );
    }

    // Renewal at T1 (5 s after the request), unicast to dnsmasq.
    let t = Instant::now();
    loop {
        let v = lease(&control);
        if v["acks"].as_u64() >= Some(2) {
            assert_eq!(v["state"], "BOUND");
            assert_eq!(v["address"], LEASED);
            assert_eq!(v["leases_acquired"], 1, "a renewal is no new lease");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(15), "no renewal: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logged.contains("DHCPACK"), "{logged}");

    // The server changes its mind (restarted with another address,
    // authoritative): the next renewal is refused (NAK), the address
    // comes off BVI1 and the client starts over with the new one.
    common::stop(first, libc::SIGTERM);
    dnsmasq(&mut router, &dir.0, "10.77.0.3", &log);
    let t = Instant::now();
    loop {
        let v = lease(&control);
        if v["address"] == "10.77.0.3" && v["state"] == "BOUND" {
            assert!(v["naks"].as_u64() >= Some(1), "{v}");
            assert!(v["leases_lost"].as_u64() >= Some(1), "{v}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "no new lease: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let t = Instant::now();
    while addresses(&ap).contains(&format!("{LEASED}/24"))
        || !addresses(&ap).contains("10.77.0.3/24")
    {
        assert!(t.elapsed() < Duration::from_secs(5), "{}", addresses(&ap));
        std::thread::sleep(Duration::from_millis(20));
    }
    // The exchange started again with the new address: now an AP of
    // the AAP at the old one.
    let st = exec(&control, &["show", "ip", "proxy-mobile", "subnet-table"]);
    assert!(st.contains(&format!("from AAP {LEASED}")), "{st}");

    // A stopped daemon takes the address and the route away.
    common::stop(pid, libc::SIGTERM);
    assert!(!addresses(&ap).contains("10.77.0."), "{}", addresses(&ap));
    assert!(
        !default_route(&ap).contains("10.77.0.1"),
        "{}",
        default_route(&ap)
    );
    drop(dir);
}
