//! The lab end to end, driven as a user drives it: `pmip lab up`, `roam`,
//! `status`, `down`, and `demo`. Each test builds its own
//! campus under a unique name and removes it, also when it fails.

mod common;

use common::PMIP;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn lab(args: &[&str]) -> Output {
    Command::new(PMIP).arg("lab").args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A lab of its own: a unique name and directory; `pmip lab down` on drop.
struct LabGuard {
    name: String,
    dir: PathBuf,
}

impl LabGuard {
    fn new(tag: &str) -> LabGuard {
        let name = format!("{tag}{}", std::process::id() % 1_000_000);
        let dir = common::temp(&format!("lab-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        LabGuard { name, dir }
    }
    fn dir(&self) -> &str {
        self.dir.to_str().unwrap()
    }
    fn prefix(&self) -> String {
        format!("pmiplab-{}-", self.name)
    }
    fn ns(&self, device: &str) -> String {
        format!("{}{device}", self.prefix())
    }
    fn topology(&self, body: &str) -> String {
        let p = self.dir.join("input.topology");
        std::fs::write(&p, format!("name {}\n{body}", self.name)).unwrap();
        p.to_str().unwrap().to_owned()
    }
    fn exec_json(&self, device: &str, words: &[&str]) -> serde_json::Value {
        let control = self.dir.join(format!("{device}.sock"));
        let o = Command::new(PMIP)
            .arg("exec")
            .arg("--control")
            .arg(&control)
            .arg("--json")
            .args(words)
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null)
    }
    fn in_ns(&self, device: &str, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(device), program])
            .args(args)
            .output()
            .unwrap()
    }
    /// Waits until ap2 has heard its foreign agent and holds the subnet
    /// map of a two-subnet campus.
    fn wait_for_ap2_ready(&self) {
        wait_for(
            "ap2 to hear its foreign agent and the subnet map",
            Duration::from_secs(20),
            || {
                let v = self.exec_json("ap2", &["show", "ip", "proxy-mobile"]);
                !v["foreign_agent"].is_null()
                    && v["subnet_map"].as_array().is_some_and(|m| m.len() == 2)
            },
        );
    }
    /// c1 (home on subnet 1) bound at r1 through r2, and r2's only visitor.
    fn c1_bound_through_r2(&self) -> bool {
        self.exec_json("r1", &["show", "ip", "mobile", "binding"])["bindings"][0]["care_of_address"]
            == "10.2.0.1"
            && self.exec_json("r2", &["show", "ip", "mobile", "visitor"])["total"] == 1
    }
    fn ping_ok(&self, device: &str, to: &str) -> bool {
        self.in_ns(device, "ping", &["-c", "1", "-W", "1", "-n", to])
            .status
            .success()
    }
}

impl Drop for LabGuard {
    fn drop(&mut self) {
        let _ = lab(&["down", "--dir", self.dir()]);
    }
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The root namespace's addresses, routes and rules: the lab must never
/// change them.
fn root_state() -> String {
    let mut s = String::new();
    for args in [
        &["-4", "addr", "show"][..],
        &["-4", "route", "show", "table", "all"][..],
        &["-4", "rule", "show"][..],
    ] {
        let o = Command::new("ip").args(args).output().unwrap();
        s.push_str(&String::from_utf8_lossy(&o.stdout));
    }
    s
}

/// Processes whose command line mentions `dir` (the lab's daemons).
fn processes_of(dir: &Path) -> Vec<String> {
    let needle = dir.to_str().unwrap();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) && !cmd.contains("lab down") {
                found.push(cmd);
            }
        }
    }
    found
}

fn visitor_state(l: &LabGuard, ap: &str, key: &str, value: &str) -> Option<String> {
    let v = l.exec_json(ap, &["show", "ip", "proxy-mobile", "visitor"]);
    v["visitors"].as_array()?.iter().find_map(|x| {
        (x[key].as_str() == Some(value)).then(|| x["state"].as_str().unwrap_or("").to_owned())
    })
}

#[test]
fn up_roam_status_down_and_nothing_left_behind() {
    let before = root_state();
    let l = LabGuard::new("u");
    let topo = l.topology(
        "subnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24 aap\nclient c1 home 1 10.1.0.50\n",
    );
    let o = lab(&["up", &topo, "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("is up"), "{}", text(&o));
    // The files a user reads and edits are there.
    for f in ["topology", "r1.cfg", "r2.cfg", "ap1.cfg", "ap2.cfg"] {
        assert!(l.dir.join(f).exists(), "{f} written");
    }
    let ap2_cfg = std::fs::read_to_string(l.dir.join("ap2.cfg")).unwrap();
    assert!(
        ap2_cfg.contains("ip proxy-mobile aap 10.1.0.2 10.2.0.2"),
        "{ap2_cfg}"
    );

    wait_for(
        "the AP to hear its foreign agent",
        Duration::from_secs(20),
        || !l.exec_json("ap2", &["show", "ip", "proxy-mobile"])["foreign_agent"].is_null(),
    );
    wait_for(
        "the client to reach the correspondent from home",
        Duration::from_secs(20),
        || l.ping_ok("c1", "203.0.113.10"),
    );
    let o = lab(&["status", "--dir", l.dir()]);
    let status = text(&o);
    assert!(o.status.success(), "{status}");
    for d in ["r1", "r2", "ap1", "ap2"] {
        assert!(
            status.contains(&format!("  {d:<6} running")),
            "{d} running:\n{status}"
        );
    }
    assert!(status.contains("client c1 (10.1.0.50) on ap1"), "{status}");

    let o = lab(&["roam", "c1", "ap2", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    wait_for(
        "ap2 to register the client",
        Duration::from_secs(15),
        || {
            // The AP learns the client's address from its traffic.
            let _ = l.ping_ok("c1", "203.0.113.10");
            visitor_state(&l, "ap2", "address", "10.1.0.50").as_deref() == Some("registered")
        },
    );
    assert!(l.ping_ok("c1", "203.0.113.10"));
    assert!(
        l.ping_ok("cn", "10.1.0.50"),
        "the correspondent reaches the home address"
    );
    let status = text(&lab(&["status", "--dir", l.dir()]));
    assert!(
        status.contains("client c1 (10.1.0.50) on ap2: registered"),
        "{status}"
    );
    assert!(
        status.contains("Care-of Addr 10.2.0.1"),
        "binding shown:\n{status}"
    );

    // Pause and resume on the AP (the Aironet documentation: the configuration stays, the
    // AP stops proxying; resumed, it registers the client again).
    let exec = |words: &[&str]| {
        Command::new(PMIP)
            .arg("exec")
            .arg("--control")
            .arg(l.dir.join("ap2.sock"))
            .args(words)
            .output()
            .unwrap()
    };
    assert!(
        exec(&["configure", "ip", "proxy-mobile", "pause"])
            .status
            .success()
    );
    wait_for("ap2 to stop proxying", Duration::from_secs(5), || {
        visitor_state(&l, "ap2", "address", "10.1.0.50").is_some_and(|s| s.contains("Paused"))
    });
    assert!(text(&exec(&["show", "running-config"])).contains("ip proxy-mobile pause"));
    assert!(
        exec(&["configure", "no", "ip", "proxy-mobile", "pause"])
            .status
            .success()
    );
    wait_for(
        "ap2 to register the client again",
        Duration::from_secs(10),
        || visitor_state(&l, "ap2", "address", "10.1.0.50").as_deref() == Some("registered"),
    );

    // Operator mistakes are refused with the reason.
    let o = lab(&["roam", "c1", "ap9", "--dir", l.dir()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no AP ap9"), "{}", text(&o));
    let o = lab(&["roam", "zz", "ap1", "--dir", l.dir()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no client zz"), "{}", text(&o));

    let o = lab(&["down", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("7 namespaces removed"), "{}", text(&o));
    assert!(pmip_netns::list(&l.prefix()).is_empty());
    assert!(
        processes_of(&l.dir).is_empty(),
        "{:?}",
        processes_of(&l.dir)
    );
    assert_eq!(root_state(), before, "the root namespace is untouched");
}

#[test]
fn a_half_built_lab_is_cleaned_and_a_bad_topology_names_its_line() {
    let l = LabGuard::new("h");
    // A bad topology: refused with the line, nothing built.
    let bad = l.topology("subnet 1 10.1.0.0/24\nsubnet 2 10.2.0.0/24\ntunnel carrier-pigeon\n");
    let o = lab(&["up", &bad, "--dir", l.dir()]);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("topology line 4") && text(&o).contains("tunnel ipip"),
        "{}",
        text(&o)
    );
    assert!(pmip_netns::list(&l.prefix()).is_empty());

    // What a crash leaves: namespaces with a process in one, a topology.
    let good = l.topology("subnet 1 10.1.0.0/24\nsubnet 2 10.2.0.0/24\n");
    std::fs::copy(&good, l.dir.join("topology")).unwrap();
    for d in ["core", "r1", "ap1"] {
        assert!(
            Command::new("ip")
                .args(["netns", "add", &l.ns(d)])
                .status()
                .unwrap()
                .success()
        );
    }
    let mut sleeper = Command::new("ip")
        .args(["netns", "exec", &l.ns("r1"), "sleep", "300"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let o = lab(&["down", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("3 namespaces removed"), "{}", text(&o));
    assert!(pmip_netns::list(&l.prefix()).is_empty());
    let status = sleeper.wait().unwrap();
    assert!(!status.success(), "the leftover process was stopped");
}

/// A client that only receives (its traffic comes from the correspondent:
/// a TCP transfer to it and an echo every 5 ms) roams home -> foreign ->
/// foreign -> home and keeps its connection: the AP asks it for its
/// address at each association instead of waiting for it to speak. The
/// AP configuration is the walkthrough's plus the exchange key.
#[test]
fn a_receive_only_client_roams_and_keeps_its_connection() {
    let l = LabGuard::new("r");
    let topo = l.topology(
        "subnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24 aap\nsubnet 3 10.3.0.0/24\nclient c1 home 1 10.1.0.50\nclient c2 home 1 10.1.0.51 receive-only\n",
    );
    let o = lab(&[
        "demo",
        &topo,
        "--dir",
        l.dir(),
        "--client",
        "c2",
        "--roams",
        "4",
        "--dwell",
        "2",
        "--rate",
        "10",
    ]);
    let out = text(&o);
    println!("{out}");
    assert!(o.status.success(), "{out}");
    assert!(out.contains("the client only answers"), "{out}");
    for roam in ["ap1 -> ap2", "ap2 -> ap3", "ap3 -> ap1", "ap1 -> ap2"] {
        assert!(out.contains(roam), "{roam}:\n{out}");
    }
    assert!(out.contains("no reset"), "{out}");
    assert!(out.contains("median product share"), "{out}");
    assert!(pmip_netns::list(&l.prefix()).is_empty());
}

/// The Aironet walkthrough's AP configuration as printed (no `ip
/// proxy-mobile aap key` line: the exchange runs unauthenticated) carries a
/// receive-only client through its roams with IP-in-IP, GRE, and a
/// reverse tunnel, keeping its connection.
#[test]
fn the_walkthrough_ap_configuration_without_a_key_roams_every_tunnel_mode() {
    for (tag, tunnel) in [
        ("wi", "tunnel ipip\nreverse-tunnel off\n"),
        ("wg", "tunnel gre\nreverse-tunnel off\n"),
        ("wr", "tunnel ipip\nreverse-tunnel on\n"),
    ] {
        let l = LabGuard::new(tag);
        let topo = l.topology(&format!(
            "subnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24 aap\nsubnet 3 10.3.0.0/24\n\
             client c2 home 1 10.1.0.51 receive-only\naap-key none\n{tunnel}"
        ));
        let o = lab(&[
            "demo",
            &topo,
            "--dir",
            l.dir(),
            "--client",
            "c2",
            "--roams",
            "3",
            "--dwell",
            "1",
            "--rate",
            "10",
        ]);
        let out = text(&o);
        println!("{tunnel}{out}");
        assert!(o.status.success(), "{tunnel}{out}");
        assert!(out.contains("no reset"), "{tunnel}{out}");
        assert!(out.contains("median product share"), "{tunnel}{out}");
        let cfg = std::fs::read_to_string(l.dir.join("ap2.cfg")).unwrap_or_default();
        assert!(!cfg.contains("aap key"), "{cfg}");
        assert!(pmip_netns::list(&l.prefix()).is_empty());
    }
}

#[test]
fn demo_on_a_gre_reverse_tunnel_campus() {
    let l = LabGuard::new("g");
    let topo = l.topology(
        "subnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24 aap\nsubnet 3 10.3.0.0/24\nclient c1 home 1 10.1.0.50\ntunnel gre\nreverse-tunnel on\n",
    );
    let o = lab(&[
        "demo",
        &topo,
        "--dir",
        l.dir(),
        "--roams",
        "3",
        "--dwell",
        "2",
        "--rate",
        "10",
    ]);
    let out = text(&o);
    println!("{out}");
    assert!(o.status.success(), "{out}");
    assert!(out.contains("GRE, reverse tunnel"), "{out}");
    for roam in ["ap1 -> ap2", "ap2 -> ap3", "ap3 -> ap1"] {
        assert!(out.contains(roam), "{roam}:\n{out}");
    }
    // The tables at each step: the binding is GRE, the visitor
    // reverse-tunnelled.
    assert!(
        out.contains("Tunnel pmip0 src 10.1.0.1 dest 10.2.0.1 reverse-allowed, GRE"),
        "{out}"
    );
    assert!(
        out.contains("Tunnel pmip0 src 10.1.0.1 dest 10.3.0.1 reverse-allowed, GRE"),
        "{out}"
    );
    assert!(out.contains("no reset"), "{out}");
    assert!(out.contains("median over 3 roams"), "{out}");
    let svg = std::fs::read_to_string(l.dir.join("throughput.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("ap2 -&gt; ap3"));
    // The demo took its lab down.
    assert!(pmip_netns::list(&l.prefix()).is_empty());
}

/// The Aironet documentation: clients that use DHCP or run their own Mobile IP are not
/// proxied; a static client on the same AP is.
#[test]
fn dhcp_and_mobile_ip_clients_are_not_proxied() {
    let l = LabGuard::new("d");
    let topo = l.topology(
        "subnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24\nclient c1 home 1 10.1.0.50\nclient d1 home 1 10.1.0.60 dhcp\nclient m1 home 1 10.1.0.61 mobile-ip\n",
    );
    let o = lab(&["up", &topo, "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    wait_for(
        "ap2 to hear its foreign agent",
        Duration::from_secs(20),
        || !l.exec_json("ap2", &["show", "ip", "proxy-mobile"])["foreign_agent"].is_null(),
    );
    for c in ["c1", "d1", "m1"] {
        let o = lab(&["roam", c, "ap2", "--dir", l.dir()]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let mac_of = |c: &str| -> String {
        let o = Command::new("ip")
            .args(["-n", &l.ns(c), "-j", "link", "show", "wlan0"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v[0]["address"].as_str().unwrap().to_owned()
    };
    let d1_mac = mac_of("d1");

    // d1's DHCP client: a DISCOVER from 0.0.0.0:68 to the broadcast.
    let discover = {
        let mut m = vec![0u8; 240];
        m[0] = 1; // BOOTREQUEST
        m[1] = 1; // Ethernet
        m[2] = 6;
        m[4..8].copy_from_slice(&0x5eed_1234u32.to_be_bytes());
        let mac: Vec<u8> = d1_mac
            .split(':')
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        m[28..34].copy_from_slice(&mac);
        m[236..240].copy_from_slice(&[99, 130, 83, 99]);
        m.extend_from_slice(&[53, 1, 1, 255]);
        m
    };
    pmip_netns::thread_in(&l.ns("d1"), move || {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        s.set_broadcast(true).unwrap();
        s.bind_device(Some(b"wlan0")).unwrap();
        s.bind(&std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68).into())
            .unwrap();
        for _ in 0..3 {
            s.send_to(
                &discover,
                &std::net::SocketAddrV4::new(Ipv4Addr::BROADCAST, 67).into(),
            )
            .unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .unwrap()
    .join()
    .unwrap()
    .unwrap();

    // m1's own Mobile IP stack: an agent solicitation first (RFC 5944
    // 2.4), then traffic.
    pmip_netns::thread_in(&l.ns("m1"), || {
        let s = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::RAW,
            Some(socket2::Protocol::ICMPV4),
        )
        .unwrap();
        s.set_broadcast(true).unwrap();
        s.bind_device(Some(b"wlan0")).unwrap();
        // Type 10, code 0, checksum of the 8 bytes, reserved.
        let sum = !(0x0a00u16);
        let msg = [10, 0, (sum >> 8) as u8, sum as u8, 0, 0, 0, 0];
        s.send_to(
            &msg,
            &std::net::SocketAddrV4::new(Ipv4Addr::BROADCAST, 0).into(),
        )
        .unwrap();
    })
    .unwrap()
    .join()
    .unwrap()
    .unwrap();
    let _ = l.ping_ok("m1", "203.0.113.10");

    wait_for(
        "ap2 to proxy the static client",
        Duration::from_secs(15),
        || {
            let _ = l.ping_ok("c1", "203.0.113.10");
            visitor_state(&l, "ap2", "address", "10.1.0.50").as_deref() == Some("registered")
        },
    );
    wait_for(
        "ap2 to see the DHCP client",
        Duration::from_secs(10),
        || {
            // IOS writes MACs as aabb.ccdd.eeff.
            let hex = d1_mac.replace(':', "");
            let ios = format!("{}.{}.{}", &hex[0..4], &hex[4..8], &hex[8..12]);
            visitor_state(&l, "ap2", "mac", &ios).is_some_and(|s| s.contains("not proxied (Dhcp)"))
        },
    );
    wait_for(
        "ap2 to see the Mobile IP client",
        Duration::from_secs(10),
        || {
            visitor_state(&l, "ap2", "address", "10.1.0.61")
                .is_some_and(|s| s.contains("not proxied (MobileIpStack)"))
        },
    );
    // Only the static client has a binding at its home agent: the AP
    // asks every arriving station for its address and may register one
    // before it shows a stack of its own, but withdraws that registration
    // as soon as it does.
    wait_for(
        "only the static client to be bound at r1",
        Duration::from_secs(5),
        || {
            let b = l.exec_json("r1", &["show", "ip", "mobile", "binding"]);
            let homes: Vec<String> = b["bindings"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|x| x["home_address"].as_str().map(str::to_owned))
                .collect();
            homes == ["10.1.0.50"]
        },
    );
    let stats = l.exec_json("ap2", &["show", "ip", "proxy-mobile"]);
    let st = &stats["statistics"];
    assert_eq!(
        st["registrations_sent"].as_u64().unwrap(),
        1 + st["deregistrations"].as_u64().unwrap(),
        "every registration but the static client's was withdrawn: {stats}"
    );
}

/// Ctrl-C in the middle of the demo tears the whole campus down.
#[test]
fn the_demo_cleans_up_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let l = LabGuard::new("i");
    let topo =
        l.topology("subnet 1 10.1.0.0/24\nsubnet 2 10.2.0.0/24\nclient c1 home 1 10.1.0.50\n");
    let mut demo = Command::new(PMIP)
        .args(["lab", "demo", &topo, "--dir", l.dir(), "--dwell", "30"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the traffic runs (the campus is complete).
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("TCP transfer"));
    assert!(started, "the demo started its traffic");
    assert!(!pmip_netns::list(&l.prefix()).is_empty());
    // SAFETY: SIGINT to our own child.
    unsafe { libc::kill(demo.id() as i32, libc::SIGINT) };
    let status = demo.wait().unwrap();
    assert_eq!(status.code(), Some(130), "exits as interrupted");
    assert!(
        pmip_netns::list(&l.prefix()).is_empty(),
        "{:?}",
        pmip_netns::list(&l.prefix())
    );
    assert!(
        processes_of(&l.dir).is_empty(),
        "{:?}",
        processes_of(&l.dir)
    );
}

fn subnet_table(l: &LabGuard, ap: &str) -> serde_json::Value {
    l.exec_json(ap, &["show", "ip", "proxy-mobile", "subnet-table"])
}

fn home_agents(v: &serde_json::Value) -> Vec<String> {
    let mut h: Vec<String> = v["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["home_agent"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    h.sort();
    h
}

/// On real daemons: three subnets, two AAPs; every AP learns all
/// three home agents; with the first AAP down, a rebooted AP still gets
/// the whole table from the second, and a client roams with it (no
/// subnet map in any AP's configuration).
#[test]
fn aaps_hand_out_the_subnet_map_and_survive_one_aap_down() {
    let l = LabGuard::new("a");
    let topo = l.topology(
        "subnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24 aap\nsubnet 3 10.3.0.0/24\nclient c1 home 1 10.1.0.50\nsubnet-map aap\n",
    );
    let o = lab(&["up", &topo, "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    for ap in ["ap1", "ap2", "ap3"] {
        let cfg = std::fs::read_to_string(l.dir.join(format!("{ap}.cfg"))).unwrap();
        assert!(
            !cfg.contains("subnet-map"),
            "learnt, not configured:\n{cfg}"
        );
    }
    let all = ["10.1.0.1", "10.2.0.1", "10.3.0.1"];
    for ap in ["ap1", "ap2", "ap3"] {
        wait_for(
            &format!("{ap} to hold every home agent"),
            Duration::from_secs(30),
            || home_agents(&subnet_table(&l, ap)) == all,
        );
    }
    let t3 = subnet_table(&l, "ap3");
    assert_eq!(t3["exchange"], "AP");
    assert_eq!(t3["current_aap"], "10.1.0.2");
    let t1 = subnet_table(&l, "ap1");
    assert_eq!(t1["exchange"], "AAP");

    // Forged, replayed-looking and malformed datagrams at an AAP: dropped
    // and counted, the table unchanged.
    let before = subnet_table(&l, "ap2");
    pmip_netns::thread_in(&l.ns("cn"), || {
        let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let mut forged = vec![1u8, 3, 0, 0, 10, 9, 9, 9];
        forged.resize(28 + 12 + 32, 0);
        for _ in 0..20 {
            s.send_to(&forged, ("10.2.0.2", 4341)).unwrap();
            s.send_to(b"garbage", ("10.2.0.2", 4341)).unwrap();
        }
    })
    .unwrap()
    .join()
    .unwrap()
    .unwrap();
    wait_for(
        "the AAP to count the forgeries",
        Duration::from_secs(5),
        || {
            let c = &subnet_table(&l, "ap2")["counters"];
            c["bad_auth"].as_u64().unwrap_or(0) + c["malformed"].as_u64().unwrap_or(0) >= 40
        },
    );
    assert_eq!(home_agents(&subnet_table(&l, "ap2")), home_agents(&before));

    // The first AAP goes down; ap3 reboots: it fails over to the second
    // AAP and gets the whole table, ap1's home agent included.
    let o = lab(&["stop", "ap1", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = lab(&["stop", "ap3", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    let o = lab(&["start", "ap3", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    wait_for(
        "the rebooted ap3 to get the table from the second AAP",
        Duration::from_secs(40),
        || {
            let t = subnet_table(&l, "ap3");
            home_agents(&t) == all && t["current_aap"] == "10.2.0.2"
        },
    );

    // A client from subnet 1 roams to ap3, which finds its home agent in
    // the learnt table.
    let o = lab(&["roam", "c1", "ap3", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    wait_for(
        "ap3 to register the client",
        Duration::from_secs(15),
        || {
            let _ = l.ping_ok("c1", "203.0.113.10");
            visitor_state(&l, "ap3", "address", "10.1.0.50").as_deref() == Some("registered")
        },
    );
    assert!(l.ping_ok("cn", "10.1.0.50"));

    // Clear and refresh (the Aironet documentation): the table comes back from the AAP.
    let exec = |words: &[&str]| {
        Command::new(PMIP)
            .arg("exec")
            .arg("--control")
            .arg(l.dir.join("ap3.sock"))
            .args(words)
            .output()
            .unwrap()
    };
    let o = exec(&["clear", "ip", "proxy-mobile", "subnet-table"]);
    assert!(o.status.success(), "{}", text(&o));
    wait_for("ap3 to rebuild its table", Duration::from_secs(15), || {
        home_agents(&subnet_table(&l, "ap3")) == all
    });
    let o = exec(&["refresh", "ip", "proxy-mobile", "subnet-table"]);
    assert!(o.status.success(), "{}", text(&o));
    let shown = text(&exec(&["show", "ip", "proxy-mobile", "subnet-table"]));
    assert!(shown.contains("AAP 10.2.0.2"), "{shown}");
    assert!(
        !text(&exec(&["show", "running-config"])).contains("campus-aap"),
        "the AAP key is masked"
    );
}

/// On real daemons: no SA in any device's configuration; the home
/// agent and the APs fetch them from a stock FreeRADIUS; the client roams
/// away and home; a client the server rejects is denied (131) and never
/// bound.
#[test]
fn associations_from_freeradius_roam_without_local_sas() {
    let l = LabGuard::new("r");
    let topo = l.topology(
        "subnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24 aap\nclient c1 home 1 10.1.0.50\nclient c2 home 1 10.1.0.51 aaa-unknown\nsubnet-map aap\naaa radius\n",
    );
    let o = lab(&["up", &topo, "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    for dev in ["r1", "r2", "ap1", "ap2"] {
        let cfg = std::fs::read_to_string(l.dir.join(format!("{dev}.cfg"))).unwrap();
        assert!(!cfg.contains("secure"), "no local SA in {dev}:\n{cfg}");
        assert!(cfg.contains("aaa authorization ipmobile default group radius"));
    }
    // c2 is `aaa-unknown`: the server has no entry for it (it rejects).
    let users = std::fs::read_to_string(l.dir.join("radius/users")).unwrap();
    assert!(
        users.contains("10.1.0.50 ") && !users.contains("10.1.0.51"),
        "{users}"
    );

    wait_for(
        "the AP to hear its foreign agent",
        Duration::from_secs(20),
        || {
            let v = l.exec_json("ap2", &["show", "ip", "proxy-mobile"]);
            !v["foreign_agent"].is_null() && v["subnet_map"].as_array().map_or(0, Vec::len) == 2
        },
    );
    for c in ["c1", "c2"] {
        wait_for("the clients at home", Duration::from_secs(20), || {
            l.ping_ok(c, "203.0.113.10")
        });
        let o = lab(&["roam", c, "ap2", "--dir", l.dir()]);
        assert!(o.status.success(), "{}", text(&o));
    }
    wait_for(
        "ap2 to register c1 with an SA from RADIUS",
        Duration::from_secs(20),
        || {
            let _ = l.ping_ok("c1", "203.0.113.10");
            visitor_state(&l, "ap2", "address", "10.1.0.50").as_deref() == Some("registered")
        },
    );
    assert!(l.ping_ok("cn", "10.1.0.50"));
    let secure = l.exec_json("ap2", &["show", "ip", "proxy-mobile", "secure"]);
    let aaa = secure["aaa"].as_array().unwrap();
    assert!(
        aaa.iter().any(|s| s["start"] == "10.1.0.50"
            && s["source"] == "radius 198.51.100.10:1812"
            && s["key"] == "********"),
        "{secure}"
    );
    let ha = l.exec_json("r1", &["show", "ip", "mobile", "secure"]);
    assert!(
        ha["aaa"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["home_address"] == "10.1.0.50"),
        "{ha}"
    );
    // The rejected client: the AP could not get an SA; nothing bound.
    wait_for("ap2 to give up on c2", Duration::from_secs(20), || {
        let _ = l.ping_ok("c2", "203.0.113.10");
        visitor_state(&l, "ap2", "address", "10.1.0.51").is_some_and(|s| s.contains("denied"))
    });
    let b = l.exec_json("r1", &["show", "ip", "mobile", "binding"]);
    assert_eq!(b["total"], 1, "{b}");

    // Home again: ap1 fetches the SA to deregister; the binding goes.
    let o = lab(&["roam", "c1", "ap1", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    wait_for(
        "the home agent to drop c1's binding",
        Duration::from_secs(20),
        || {
            let _ = l.ping_ok("c1", "203.0.113.10");
            l.exec_json("r1", &["show", "ip", "mobile", "binding"])["total"] == 0
        },
    );
}

/// The correspondent pings `to` every 10 ms until dropped; the reply
/// times (Unix seconds) are collected.
struct EchoStream {
    child: std::process::Child,
    replies: std::sync::Arc<std::sync::Mutex<Vec<f64>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl EchoStream {
    fn start(l: &LabGuard, to: &str) -> EchoStream {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &l.ns("cn"),
                "ping",
                "-D",
                "-n",
                "-i",
                "0.01",
                to,
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let replies: std::sync::Arc<std::sync::Mutex<Vec<f64>>> = Default::default();
        let out = child.stdout.take().unwrap();
        let r = replies.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some((ts, _)) = pmip_lab::demo::ping_reply(&line) {
                    r.lock().unwrap().push(ts);
                }
            }
        });
        EchoStream {
            child,
            replies,
            reader: Some(reader),
        }
    }

    /// The longest time without a reply since `since` (Unix seconds),
    /// up to now.
    fn outage_since(&self, since: f64) -> Duration {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let mut t: Vec<f64> = self
            .replies
            .lock()
            .unwrap()
            .iter()
            .copied()
            .filter(|x| *x >= since)
            .collect();
        t.insert(0, since);
        t.push(now);
        let gap = t.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
        Duration::from_secs_f64(gap)
    }
}

impl Drop for EchoStream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Faults on a campus with a client roamed to a foreign subnet and the
/// correspondent pinging it every 10 ms: the home agent, the foreign agent
/// and the AP restarted cleanly and with kill -9, a link flap on the
/// foreign agent's and the AP's wired port. After each the binding and
/// the visitor are back and the echo stream flows; each fault's outage is
/// printed (not asserted as a timing).
#[test]
fn faults_restarts_and_link_flaps() {
    let before = root_state();
    let l = LabGuard::new("f");
    let topo = l.topology(
        "subnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24 aap\nclient c1 home 1 10.1.0.50\n",
    );
    let o = lab(&["up", &topo, "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    l.wait_for_ap2_ready();
    let o = lab(&["roam", "c1", "ap2", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    let bound = || l.c1_bound_through_r2();
    wait_for("c1 bound through r2", Duration::from_secs(10), bound);
    let echo = EchoStream::start(&l, "10.1.0.50");
    wait_for("the echo stream", Duration::from_secs(5), || {
        echo.outage_since(unix_now() - 0.5) < Duration::from_millis(100)
    });
    let mut table = Vec::new();
    let faults: &[(&str, &[&[&str]])] = &[
        (
            "home agent clean restart",
            &[&["stop", "r1"], &["start", "r1"]],
        ),
        (
            "home agent kill -9",
            &[&["stop", "r1", "--kill"], &["start", "r1"]],
        ),
        (
            "foreign agent clean restart",
            &[&["stop", "r2"], &["start", "r2"]],
        ),
        (
            "foreign agent kill -9",
            &[&["stop", "r2", "--kill"], &["start", "r2"]],
        ),
        ("AP clean restart", &[&["stop", "ap2"], &["start", "ap2"]]),
        (
            "AP kill -9",
            &[&["stop", "ap2", "--kill"], &["start", "ap2"]],
        ),
    ];
    for (name, steps) in faults {
        let at = unix_now();
        for step in *steps {
            let mut args: Vec<&str> = step.to_vec();
            args.extend(["--dir", l.dir()]);
            let o = lab(&args);
            assert!(o.status.success(), "{name}: {}", text(&o));
        }
        wait_for(
            &format!("{name}: binding and visitor back"),
            Duration::from_secs(20),
            bound,
        );
        wait_for(
            &format!("{name}: the echo stream back"),
            Duration::from_secs(20),
            || echo.outage_since(unix_now() - 0.3) < Duration::from_millis(100),
        );
        std::thread::sleep(Duration::from_millis(300));
        table.push((name.to_string(), echo.outage_since(at)));
    }
    for (device, port) in [("r2", "FastEthernet0"), ("ap2", "FastEthernet0")] {
        let name = format!("link flap on {device} {port}");
        let at = unix_now();
        l.in_ns(device, "ip", &["link", "set", port, "down"]);
        std::thread::sleep(Duration::from_millis(200));
        l.in_ns(device, "ip", &["link", "set", port, "up"]);
        wait_for(
            &format!("{name}: the echo stream back"),
            Duration::from_secs(20),
            || echo.outage_since(unix_now() - 0.3) < Duration::from_millis(100),
        );
        table.push((name.clone(), echo.outage_since(at)));
        // Registrations still go through the flapped links: a roam away
        // and back is served (its time is printed on its own line: a
        // bounce home and straight back).
        let t_roam = unix_now();
        for ap in ["ap1", "ap2"] {
            let o = lab(&["roam", "c1", ap, "--dir", l.dir()]);
            assert!(o.status.success(), "{}", text(&o));
            let _ = l.in_ns("c1", "ping", &["-c", "1", "-W", "1", "10.1.0.1"]);
        }
        let t = Instant::now();
        while !bound() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "{name}: not registered again through {device}:\n{}\n{}\n{}\n{}",
                l.exec_json("ap2", &["show", "ip", "proxy-mobile", "visitor"]),
                l.exec_json("ap2", &["show", "ip", "proxy-mobile"]),
                l.exec_json("r1", &["show", "ip", "mobile", "binding"]),
                std::fs::read_to_string(l.dir.join("ap2.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        table.push((
            "  then home and back through it".to_string(),
            echo.outage_since(t_roam),
        ));
    }
    // The home AP down while the client comes home: the home agent
    // keeps the binding until the AP, started again with the station on
    // its radio, knows its home agent and deregisters it.
    let name = "home AP down as the client comes home";
    let at = unix_now();
    for step in [
        &["stop", "ap1"][..],
        &["roam", "c1", "ap1"][..],
        &["start", "ap1"][..],
    ] {
        let mut args = step.to_vec();
        args.extend(["--dir", l.dir()]);
        let o = lab(&args);
        assert!(o.status.success(), "{name}: {}", text(&o));
    }
    wait_for(
        &format!("{name}: binding withdrawn"),
        Duration::from_secs(20),
        || l.exec_json("r1", &["show", "ip", "mobile", "binding"])["total"] == 0,
    );
    wait_for(
        &format!("{name}: the echo stream back"),
        Duration::from_secs(20),
        || echo.outage_since(unix_now() - 0.3) < Duration::from_millis(100),
    );
    table.push((name.to_string(), echo.outage_since(at)));
    println!("\nfault                              longest echo gap (10 ms stream)");
    for (name, gap) in &table {
        println!("{name:<38} {:>8.0} ms", gap.as_secs_f64() * 1e3);
    }
    drop(echo);
    let o = lab(&["down", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        pmip_netns::list(&l.prefix()).is_empty(),
        "nothing left behind"
    );
    assert!(
        processes_of(&l.dir).is_empty(),
        "no daemon left: {:?}",
        processes_of(&l.dir)
    );
    assert_eq!(root_state(), before, "the root namespace is untouched");
}

/// A hostile visitor on subnet 2 floods the foreign agent with 20 000
/// registration requests with bad authenticators, each for another home
/// address. Meanwhile a real client roams onto the same subnet: its
/// registration is served at once (the flood is bounded per visitor MAC,
/// so it cannot fill the pending list), the established client's traffic
/// keeps flowing, and the flood is counted. Times are printed.
#[test]
fn a_visitor_flooding_bad_requests_does_not_deny_the_others() {
    let l = LabGuard::new("v");
    let topo = l.topology(
        "subnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24 aap\n\
         client c1 home 1 10.1.0.50\nclient c2 home 1 10.1.0.51\n",
    );
    let o = lab(&["up", &topo, "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    l.wait_for_ap2_ready();
    // The hostile visitor is c2, roamed onto subnet 2; c1 is visiting
    // there too, under a 10 ms echo stream.
    for c in ["c1", "c2"] {
        let o = lab(&["roam", c, "ap2", "--dir", l.dir()]);
        assert!(o.status.success(), "{}", text(&o));
        let _ = l.in_ns(c, "ping", &["-c", "1", "-W", "1", "10.1.0.1"]);
    }
    let visitors = || l.exec_json("r2", &["show", "ip", "mobile", "visitor"])["total"].clone();
    wait_for("c1 and c2 visiting r2", Duration::from_secs(10), || {
        visitors() == 2
    });
    let echo = EchoStream::start(&l, "10.1.0.50");
    wait_for("the echo stream", Duration::from_secs(5), || {
        echo.outage_since(unix_now() - 0.5) < Duration::from_millis(100)
    });
    // c1 leaves for home; the flood starts; c1 comes back during it.
    let o = lab(&["roam", "c1", "ap1", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    let c1_bound_via = |coa: &str| {
        l.exec_json("r1", &["show", "ip", "mobile", "binding"])["bindings"]
            .as_array()
            .is_some_and(|b| {
                b.iter()
                    .any(|b| b["home_address"] == "10.1.0.50" && b["care_of_address"] == coa)
            })
    };
    wait_for("c1 home", Duration::from_secs(10), || {
        !c1_bound_via("10.2.0.1")
    });
    let flood_started = Instant::now();
    let flood = pmip_netns::thread_in(&l.ns("c2"), || {
        let s = std::net::UdpSocket::bind((Ipv4Addr::new(10, 1, 0, 51), 0)).unwrap();
        let mut sent = 0u32;
        for i in 0..20_000u32 {
            let home = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 1, 0, 0)) + 60 + (i % 190));
            let mut msg = common::request(
                home,
                Ipv4Addr::new(10, 1, 0, 1),
                Ipv4Addr::new(10, 2, 0, 1),
                600,
                Default::default(),
            );
            // A bad authenticator: the last byte of the MN-HA extension.
            *msg.last_mut().unwrap() ^= 0xff;
            if s.send_to(&msg, (Ipv4Addr::new(10, 2, 0, 1), 434)).is_ok() {
                sent += 1;
            }
        }
        sent
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let roam_at = unix_now();
    let roam_started = Instant::now();
    let o = lab(&["roam", "c1", "ap2", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    wait_for(
        "c1 registered through r2 during the flood",
        Duration::from_secs(10),
        || c1_bound_via("10.2.0.1"),
    );
    let registered = roam_started.elapsed();
    let sent = flood.join().unwrap().unwrap();
    let flood_took = flood_started.elapsed();
    wait_for("the echo stream back", Duration::from_secs(10), || {
        echo.outage_since(unix_now() - 0.3) < Duration::from_millis(100)
    });
    let outage = echo.outage_since(roam_at);
    let traffic = l.exec_json("r2", &["show", "ip", "mobile", "traffic"]);
    let fa = &traffic["foreign_agent"];
    println!(
        "flood: {sent} bad requests in {flood_took:?}; c1 registered {registered:?} after its roam; \
         longest echo gap {:.0} ms; foreign agent: {} requests, {} over the pending limit, denied {}",
        outage.as_secs_f64() * 1e3,
        fa["requests"],
        fa["over_pending_limit"],
        fa["denied_by_code"]
    );
    assert!(sent > 19_000, "the flood was sent");
    assert!(
        fa["over_pending_limit"].as_u64().unwrap_or(0) > 0,
        "the flood met the per-visitor bound: {fa}"
    );
    // c1 is visiting r2 again. (c2 spoke Mobile IP itself, so its AP
    // withdrew the registration it had made on c2's behalf.)
    let v = l.exec_json("r2", &["show", "ip", "mobile", "visitor"]);
    assert!(
        v["visitors"]
            .as_array()
            .is_some_and(|v| v.iter().any(|v| v["home_address"] == "10.1.0.50")),
        "{v}"
    );
    drop(echo);
    let o = lab(&["down", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        pmip_netns::list(&l.prefix()).is_empty(),
        "nothing left behind"
    );
}

/// 25 000 idle TCP connections to the visited AP's web port (`ip http
/// server` entered at run time), from 64 addresses of the correspondent,
/// while the correspondent pings the roamed client every 10 ms. The
/// client's traffic flows on (its longest echo gap is printed), the
/// binding and visitor stay, the AP answers its control socket, a roam
/// home and back during the flood is registered, and `no ip http server`
/// stops the server at run time. Nothing is left after `lab down`.
#[test]
fn a_web_flood_on_the_visited_ap_leaves_the_client_served() {
    use socket2::{Domain, SockAddr, Socket, Type};
    use std::os::fd::AsRawFd;
    const FLOOD: usize = 25_000;
    const SOURCES: u32 = 64;
    const BATCH: usize = 1000;
    let before = root_state();
    // This process holds the connections the AP keeps.
    // SAFETY: getrlimit/setrlimit on this process with a valid struct.
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
    }
    let l = LabGuard::new("w");
    let topo = l.topology(
        "subnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24 aap\nclient c1 home 1 10.1.0.50\n",
    );
    let o = lab(&["up", &topo, "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    l.wait_for_ap2_ready();
    let o = lab(&["roam", "c1", "ap2", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    let bound = || l.c1_bound_through_r2();
    wait_for("c1 bound through r2", Duration::from_secs(10), bound);
    let ap2 = l.dir.join("ap2.sock");
    common::exec_ok(&ap2, &["configure", "ip http server"]);
    let sources: Vec<Ipv4Addr> = (0..SOURCES)
        .map(|k| Ipv4Addr::new(203, 0, 113, 100 + k as u8))
        .collect();
    for a in &sources {
        let o = l.in_ns(
            "cn",
            "ip",
            &["addr", "add", &format!("{a}/24"), "dev", "eth0"],
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    let echo = EchoStream::start(&l, "10.1.0.50");
    wait_for("the echo stream", Duration::from_secs(5), || {
        echo.outage_since(unix_now() - 0.5) < Duration::from_millis(100)
    });
    let at = unix_now();
    let started = Instant::now();
    let flood = pmip_netns::thread_in(&l.ns("cn"), move || {
        let dst = SockAddr::from(std::net::SocketAddr::from((Ipv4Addr::new(10, 2, 0, 2), 80)));
        let open = |s: &Socket| {
            let mut b = [std::mem::MaybeUninit::<u8>::uninit(); 1];
            matches!(s.peek(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        };
        let (mut held, mut refused, mut failed) = (Vec::<Socket>::new(), 0usize, 0usize);
        for start in (0..FLOOD).step_by(BATCH) {
            let mut batch = Vec::new();
            for i in start..(start + BATCH).min(FLOOD) {
                let src = sources[i * SOURCES as usize / FLOOD];
                let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
                s.set_nonblocking(true).unwrap();
                s.bind(&std::net::SocketAddr::from((src, 0)).into())
                    .unwrap();
                match s.connect(&dst) {
                    Ok(()) => batch.push(s),
                    Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => batch.push(s),
                    Err(_) => failed += 1,
                }
            }
            let mut fds: Vec<libc::pollfd> = batch
                .iter()
                .map(|s| libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                })
                .collect();
            let t = Instant::now();
            while !fds.is_empty() && t.elapsed() < Duration::from_secs(3) {
                // SAFETY: poll over descriptors this thread owns.
                unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
                fds.retain(|f| f.revents == 0);
            }
            let n = held.len();
            held.retain(open);
            refused += n - held.len();
            for s in batch {
                match s.take_error() {
                    Ok(None) if s.peer_addr().is_ok() => held.push(s),
                    Ok(Some(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => refused += 1,
                    _ => failed += 1,
                }
            }
        }
        std::thread::sleep(Duration::from_millis(500));
        let n = held.len();
        held.retain(open);
        refused += n - held.len();
        (held, refused, failed)
    })
    .unwrap();
    // A roam home and back while the flood comes in.
    std::thread::sleep(Duration::from_millis(500));
    let roam_at = Instant::now();
    for ap in ["ap1", "ap2"] {
        let o = lab(&["roam", "c1", ap, "--dir", l.dir()]);
        assert!(o.status.success(), "{}", text(&o));
    }
    wait_for(
        "c1 registered again through r2 during the flood",
        Duration::from_secs(20),
        bound,
    );
    let registered = roam_at.elapsed();
    let (held, refused, failed) = flood.join().unwrap().unwrap();
    let flood_took = started.elapsed();
    let t = Instant::now();
    let (ok, _, err) = common::exec(&ap2, &["show", "ip", "proxy-mobile"]);
    assert!(ok, "ap2 answers during the flood: {err}");
    let exec_took = t.elapsed();
    assert!(bound(), "binding and visitor as before");
    wait_for("the echo stream", Duration::from_secs(10), || {
        echo.outage_since(unix_now() - 0.3) < Duration::from_millis(100)
    });
    let gap = echo.outage_since(at);
    println!(
        "web flood on ap2: {FLOOD} connections from {SOURCES} addresses in {flood_took:?}: \
         {} held, {refused} reset, {failed} failed; longest echo gap {:.0} ms (including a roam \
         home and back, registered again {registered:?} after it started); pmip exec answered in {exec_took:?}",
        held.len(),
        gap.as_secs_f64() * 1e3
    );
    assert!(
        held.len() <= 1024,
        "{} connections held past the server's limit",
        held.len()
    );
    assert!(refused > 0, "the flood met the server's limits");
    // `no ip http server` at run time closes the port (open until then).
    drop(held);
    let port_open = || {
        l.in_ns("cn", "bash", &["-c", "exec 3<>/dev/tcp/10.2.0.2/80"])
            .status
            .success()
    };
    wait_for(
        "the web port taking a connection",
        Duration::from_secs(5),
        port_open,
    );
    common::exec_ok(&ap2, &["configure", "no ip http server"]);
    wait_for("the web port closed", Duration::from_secs(5), || {
        !port_open()
    });
    drop(echo);
    let o = lab(&["down", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        pmip_netns::list(&l.prefix()).is_empty(),
        "nothing left behind"
    );
    assert!(
        processes_of(&l.dir).is_empty(),
        "{:?}",
        processes_of(&l.dir)
    );
    assert_eq!(root_state(), before, "the root namespace is untouched");
}

/// Processes a test started itself, stopped (SIGTERM, then waited for)
/// even when the test fails.
struct Children(Vec<std::process::Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            // SAFETY: a signal to a child this test spawned.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        }
        for c in &mut self.0 {
            let t = Instant::now();
            while c.try_wait().ok().flatten().is_none() {
                if t.elapsed() > Duration::from_secs(5) {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// A real Linux AP's association source: hostapd (driver `wired`, 802.1X
/// with its internal EAP server) on each AP's radio interface
/// `Dot11Radio0`, and `pmip run --hostapd`; the station is an unmodified
/// host running wpa_supplicant. hostapd's AP-STA-CONNECTED drives the
/// registration at the foreign AP, the deregistration when the station
/// associates at home, and an immediate registration when it comes back
/// to an AP that knows it. The station never sends a packet of its own.
#[test]
fn hostapd_associations_drive_registration_and_deregistration() {
    for tool in ["hostapd", "wpa_supplicant", "wpa_cli"] {
        assert!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .unwrap()
                .status
                .success(),
            "{tool} is missing: scripts/deps installs it"
        );
    }
    let l = LabGuard::new("h");
    let topo = l.topology(
        "subnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24 aap\nclient c1 home 1 10.1.0.50\n",
    );
    let o = lab(&["up", &topo, "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
    let mut children = Children(Vec::new());
    let station = pmip_netns::Netns::new(&pmip_netns::unique_name("pmipt-hsta")).unwrap();
    let run = l.dir.join("hostapd");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("eap_users"), "\"station1\" MD5 \"secret1\"\n").unwrap();
    let mac = "02:00:00:aa:00:60";
    station.sysctl("net.ipv4.conf.all.arp_ignore=1").unwrap();
    for (k, ap) in [(1, "ap1"), (2, "ap2")] {
        let o = lab(&["stop", ap, "--dir", l.dir()]);
        assert!(o.status.success(), "{}", text(&o));
        // The radio: Dot11Radio0 on the AP, wlanK at the station (one
        // link per AP, the same station MAC on both).
        let wlan = format!("wlan{k}");
        let ok = Command::new("ip")
            .args([
                "link",
                "add",
                "Dot11Radio0",
                "netns",
                &l.ns(ap),
                "type",
                "veth",
            ])
            .args(["peer", "name", &wlan, "netns", station.name()])
            .status()
            .unwrap();
        assert!(ok.success());
        station.ip(&["link", "set", &wlan, "address", mac]).unwrap();
        let ctrl = run.join(ap);
        let conf = run.join(format!("{ap}.conf"));
        std::fs::write(
            &conf,
            format!(
                "interface=Dot11Radio0\ndriver=wired\nssid=tsunami\nieee8021x=1\neap_server=1\n\
                 eap_user_file={}\nctrl_interface={}\n",
                run.join("eap_users").display(),
                ctrl.display()
            ),
        )
        .unwrap();
        l.in_ns(ap, "ip", &["link", "set", "Dot11Radio0", "up"]);
        children.0.push(
            Command::new("ip")
                .args(["netns", "exec", &l.ns(ap), "hostapd"])
                .arg(&conf)
                .stdout(std::fs::File::create(run.join(format!("{ap}.hostapd.log"))).unwrap())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
        let socket = ctrl.join("Dot11Radio0");
        wait_for("hostapd's control socket", Duration::from_secs(10), || {
            socket.exists()
        });
        let control = l.dir.join(format!("{ap}.sock"));
        children.0.push(
            Command::new("ip")
                .args(["netns", "exec", &l.ns(ap), PMIP, "run"])
                .arg(l.dir.join(format!("{ap}.cfg")))
                .arg("--control")
                .arg(&control)
                .arg("--hostapd")
                .arg(&socket)
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(l.dir.join(format!("{ap}.hostapd-run.log"))).unwrap())
                .spawn()
                .unwrap(),
        );
        wait_for(
            &format!("{ap} running with hostapd"),
            Duration::from_secs(10),
            || control.exists(),
        );
    }
    l.wait_for_ap2_ready();
    std::fs::write(
        run.join("wpa.conf"),
        format!(
            "ctrl_interface={}\nap_scan=0\nnetwork={{\n key_mgmt=IEEE8021X\n eap=MD5\n \
             identity=\"station1\"\n password=\"secret1\"\n eapol_flags=0\n}}\n",
            run.join("wpa").display()
        ),
    )
    .unwrap();
    let bound_via = |coa: &str| {
        l.exec_json("r1", &["show", "ip", "mobile", "binding"])["bindings"]
            .as_array()
            .is_some_and(|b| {
                b.iter()
                    .any(|b| b["home_address"] == "10.1.0.60" && b["care_of_address"] == coa)
            })
    };
    // The running wpa_supplicant and its interface.
    let mut supplicant: Option<(std::process::Child, &str)> = None;
    let associate = |wlan: &'static str, supplicant: &mut Option<(std::process::Child, &str)>| {
        if let Some((mut s, old)) = supplicant.take() {
            // Leaving: an explicit logoff (hostapd's AP-STA-DISCONNECTED),
            // then the supplicant ends (SIGTERM: it removes its socket).
            let _ = station.exec(
                "wpa_cli",
                &["-p", run.join("wpa").to_str().unwrap(), "-i", old, "logoff"],
            );
            std::thread::sleep(Duration::from_millis(200));
            // SAFETY: a signal to a child this test spawned.
            unsafe { libc::kill(s.id() as i32, libc::SIGTERM) };
            let _ = s.wait();
        }
        // The station's one address moves to the link of its new AP.
        // (Both links stay up: a station leaving an AP logs off, its
        // radio stays on. With arp_ignore it answers ARP only on the link
        // that has the address.)
        for other in ["wlan1", "wlan2"] {
            let _ = station.ip(&["addr", "flush", "dev", other]);
            let _ = station.ip(&["link", "set", other, "up"]);
        }
        station.addr(wlan, "10.1.0.60/24").unwrap();
        station
            .ip(&["route", "replace", "default", "via", "10.1.0.1"])
            .unwrap();
        let t = Instant::now();
        *supplicant = Some((
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    station.name(),
                    "wpa_supplicant",
                    "-D",
                    "wired",
                    "-i",
                    wlan,
                    "-c",
                ])
                .arg(run.join("wpa.conf"))
                .stdout(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(run.join("wpa.log"))
                        .unwrap(),
                )
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
            wlan,
        ));
        // EAPOL-Start again every second (not every 30 s): hostapd
        // ignores a station for a few seconds after its logoff, and a
        // station back within that time would otherwise wait half a
        // minute to authenticate.
        let wpa = run.join("wpa");
        let set = |k: &str, v: &str| {
            station
                .exec(
                    "wpa_cli",
                    &["-p", wpa.to_str().unwrap(), "-i", wlan, "set", k, v],
                )
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("OK"))
        };
        let t0 = Instant::now();
        while !(set("EAPOL::startPeriod", "1") && set("EAPOL::maxStart", "60")) {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "wpa_supplicant has no control socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        t
    };
    // Away: associates at ap2 (foreign).
    let t = associate("wlan2", &mut supplicant);
    wait_for("registration through r2", Duration::from_secs(10), || {
        bound_via("10.2.0.1")
    });
    let first = t.elapsed();
    assert!(
        l.ping_ok("cn", "10.1.0.60"),
        "the correspondent reaches the station away"
    );
    // Home: associates at ap1, which deregisters it.
    let t = associate("wlan1", &mut supplicant);
    wait_for("deregistration at home", Duration::from_secs(10), || {
        l.exec_json("r1", &["show", "ip", "mobile", "binding"])["total"] == 0
    });
    let home = t.elapsed();
    assert!(
        l.ping_ok("cn", "10.1.0.60"),
        "the correspondent reaches the station at home"
    );
    // Away again, to an AP that knows it: registered at the association.
    // hostapd's 802.1X takes a few seconds to authenticate a station
    // again after its logoff (EAP retransmission back-off).
    let t = associate("wlan2", &mut supplicant);
    while !bound_via("10.2.0.1") {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "not registered again through r2:\n{}\n{}\n{}\n{}",
            std::fs::read_to_string(run.join("wpa.log")).unwrap_or_default(),
            std::fs::read_to_string(run.join("ap2.hostapd.log")).unwrap_or_default(),
            std::fs::read_to_string(l.dir.join("ap2.hostapd-run.log")).unwrap_or_default(),
            l.exec_json("ap2", &["show", "ip", "proxy-mobile", "visitor"])
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let again = t.elapsed();
    println!(
        "hostapd: from starting wpa_supplicant (802.1X EAP-MD5) to the binding: away {first:?}, \
         home (deregistered) {home:?}, away again to an AP that knows the station {again:?}"
    );
    if let Some((mut s, _)) = supplicant.take() {
        let _ = s.kill();
        let _ = s.wait();
    }
    let log = std::fs::read_to_string(l.dir.join("ap2.hostapd-run.log")).unwrap_or_default();
    assert!(log.contains("following hostapd"), "{log}");
    drop(children);
    let o = lab(&["down", "--dir", l.dir()]);
    assert!(o.status.success(), "{}", text(&o));
}
