//! Golden files for every `show` command, text and JSON, on each kind of
//! device: a scenario's inputs (the simulated campus of `support`, a
//! client roamed from subnet 1 to subnet 2) and the expected outputs as
//! files under `tests/golden/DEVICE/`.
//!
//! After a deliberate change of a show's layout, rewrite them with
//!
//! ```text
//! PMIP_UPDATE_GOLDEN=1 cargo test -p pmip-node --test golden
//! ```
//!
//! and review the diff like any other change.

mod support;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;
use support::*;

const COMMANDS: [&str; 19] = [
    "show version",
    "show running-config",
    "show ip mobile binding",
    "show ip mobile binding summary",
    "show ip mobile visitor",
    "show ip mobile visitor pending",
    "show ip mobile traffic",
    "show ip mobile secure",
    "show ip mobile globals",
    "show ip mobile interface",
    "show ip mobile host",
    "show ip mobile host 10.1.0.50",
    "show ip mobile tunnel",
    "show ip mobile violation",
    "show ip proxy-mobile",
    "show ip proxy-mobile visitor",
    "show ip proxy-mobile secure",
    "show ip proxy-mobile subnet-table",
    "show ip proxy-mobile station-table",
];

/// The scenario: the campus boots, a client roams from home (subnet 1) to
/// subnet 2 and registers, garbage and a forged request reach r1.
fn scenario() -> Campus {
    let mut c = Campus::new(3);
    c.run_for(Duration::from_secs(10));
    let client = c.add_station(Ipv4Addr::new(10, 1, 0, 50));
    c.associate(client, "ap1");
    c.station_sends(client, router_address(1));
    c.run_for(Duration::from_secs(1));
    c.associate(client, "ap2");
    c.station_sends(client, router_address(1));
    c.run_for(Duration::from_secs(5));
    // A request too short to read, and one whose authenticator is wrong.
    let now = c.at();
    let from = std::net::SocketAddrV4::new(Ipv4Addr::new(10, 9, 9, 9), 434);
    let r1 = std::net::SocketAddrV4::new(router_address(1), 434);
    for payload in [&[1u8, 0, 0][..], &forged_request()[..]] {
        c.node("r1").handle(
            now,
            pmip_node::Input::Datagram {
                local: r1,
                remote: from,
                payload,
            },
        );
    }
    c.run_for(Duration::from_secs(1));
    c
}

/// A registration for 10.1.0.51 naming an SPI r1 has no association
/// under.
fn forged_request() -> Vec<u8> {
    signed_request(100, b"not-the-key")
}

/// A registration for 10.1.0.51 with the SPI of its association
/// (`spi 100` is hexadecimal) and `key`.
fn signed_request(spi: u32, key: &[u8]) -> Vec<u8> {
    use pmip_wire::auth::Algorithm;
    use pmip_wire::extension::{self, Extensions, kind};
    use pmip_wire::identification::Identification;
    use pmip_wire::registration::{RequestFlags, RequestRepr};
    let mut msg = RequestRepr {
        flags: RequestFlags::default(),
        lifetime: 600,
        home_address: Ipv4Addr::new(10, 1, 0, 51),
        home_agent: router_address(1),
        care_of_address: Ipv4Addr::new(10, 9, 9, 9),
        identification: Identification::from_unix(UNIX_START + Duration::from_secs(16)),
        extensions: Extensions::new(),
    }
    .to_vec();
    extension::append_authentication(
        &mut msg,
        kind::MOBILE_HOME_AUTH,
        spi,
        Algorithm::KeyedMd5PrefixSuffix,
        key,
    );
    msg
}

fn output(c: &mut Campus, device: &str, command: &str, json: bool) -> String {
    match c.exec(device, command, json) {
        Ok(out) if json => {
            let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
            serde_json::to_string_pretty(&v).expect("JSON") + "\n"
        }
        Ok(out) => out,
        Err(e) => format!("{e}\n"),
    }
}

#[test]
fn every_show_command_matches_its_golden_file() {
    let update = std::env::var_os("PMIP_UPDATE_GOLDEN").is_some();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut c = scenario();
    let mut mismatches = Vec::new();
    for device in ["r1", "r2", "ap1", "ap2"] {
        for command in COMMANDS {
            for json in [false, true] {
                let got = output(&mut c, device, command, json);
                let file = root.join(device).join(format!(
                    "{}.{}",
                    command.replace(' ', "_"),
                    if json { "json" } else { "txt" }
                ));
                if update {
                    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                    std::fs::write(&file, &got).unwrap();
                    continue;
                }
                let want = std::fs::read_to_string(&file).unwrap_or_else(|e| {
                    panic!("{}: {e} (PMIP_UPDATE_GOLDEN=1 writes it)", file.display())
                });
                if got != want {
                    mismatches.push(format!(
                        "{}:\n--- expected\n{want}--- got\n{got}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} outputs differ from their golden files (PMIP_UPDATE_GOLDEN=1 rewrites them):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// The JSON form is the same data as the text: every view parses back
/// into its typed snapshot struct (the web pages and /metrics read it
/// that way).
#[test]
fn json_views_parse_back_into_the_snapshot_types() {
    use pmip_node::snapshot::*;
    let mut c = scenario();
    let snapshot = {
        let now = c.at().instant;
        c.node("ap2").snapshot(now)
    };
    let text = serde_json::to_string(&snapshot).unwrap();
    let back: Snapshot = serde_json::from_str(&text).unwrap();
    assert_eq!(back, snapshot);
    let v: ProxyVisitors =
        serde_json::from_str(&c.exec("ap2", "show ip proxy-mobile visitor", true).unwrap())
            .unwrap();
    assert_eq!(v.visitors[0].state, "registered");
    let b: Bindings =
        serde_json::from_str(&c.exec("r1", "show ip mobile binding", true).unwrap()).unwrap();
    assert_eq!(b.bindings[0].care_of_address, Ipv4Addr::new(10, 2, 0, 1));
    let t: Traffic =
        serde_json::from_str(&c.exec("r2", "show ip mobile traffic", true).unwrap()).unwrap();
    assert_eq!(t.foreign_agent.unwrap().replies_accepted, 1);
    let s: SubnetTable = serde_json::from_str(
        &c.exec("ap1", "show ip proxy-mobile subnet-table", true)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(s.entries.len(), 3);
}

/// IOS habits: abbreviated, any-case keywords give the same answer, and
/// `?` lists what may follow.
#[test]
fn abbreviated_commands_answer_like_the_full_ones() {
    let mut c = scenario();
    let full = c.exec("r1", "show ip mobile binding", false).unwrap();
    assert_eq!(c.exec("r1", "sh ip mob bind", false).unwrap(), full);
    assert_eq!(c.exec("r1", "SH IP MOB BI", false).unwrap(), full);
    assert!(
        c.exec("ap2", "sh ip prox ?", false)
            .unwrap()
            .contains("subnet-table")
    );
    let e = c.exec("ap2", "sh ip prox s", false).unwrap_err();
    assert!(e.starts_with("% Ambiguous"), "{e}");
}

fn send_to_r1(c: &mut Campus, payload: &[u8]) {
    let now = c.at();
    c.node("r1").handle(
        now,
        pmip_node::Input::Datagram {
            local: std::net::SocketAddrV4::new(router_address(1), 434),
            remote: std::net::SocketAddrV4::new(Ipv4Addr::new(10, 9, 9, 8), 434),
            payload,
        },
    );
}

/// A request under the right SPI with the wrong key is denied with 131
/// and logged as a bad authenticator (MIP-MIB reason 2), after the bad
/// SPI of the scenario.
#[test]
fn a_bad_authenticator_is_in_the_violation_log() {
    let mut c = scenario();
    send_to_r1(&mut c, &signed_request(0x100, b"wrong-key"));
    c.run_for(Duration::from_secs(1));
    let text = c.exec("r1", "show ip mobile violation", false).unwrap();
    assert!(text.contains("Total violations 2"), "{text}");
    assert!(
        text.contains("from 10.9.9.8") && text.contains("Reason: Bad authenticator (2)"),
        "{text}"
    );
    assert!(text.contains("SPI 100,"), "{text}");
    let v: pmip_node::snapshot::Violations =
        serde_json::from_str(&c.exec("r1", "sh ip mob viol", true).unwrap()).unwrap();
    let last = v.recent.last().unwrap();
    assert_eq!(
        (last.reason.as_str(), last.code, last.home_address),
        ("Bad authenticator", 131, Ipv4Addr::new(10, 1, 0, 51))
    );
    assert_eq!(v.by_reason["Bad SPI"], 1);
    // The foreign agent's log has nothing of it.
    let r2 = c.exec("r2", "show ip mobile violation", false).unwrap();
    assert!(r2.contains("Total violations 0"), "{r2}");
}

/// `show ip mobile host ADDR`: the last reply code and the counts.
#[test]
fn the_host_shows_its_last_reply_code() {
    let mut c = scenario();
    let text = c.exec("r1", "sh ip mob host 10.1.0.50", false).unwrap();
    assert!(text.starts_with("10.1.0.50:\n"), "{text}");
    assert!(
        text.contains("Last code '0 (registration accepted)'"),
        "{text}"
    );
    assert!(text.contains("-Registered- (care-of 10.2.0.1)"), "{text}");
    let denied = c.exec("r1", "sh ip mob host 10.1.0.51", false).unwrap();
    assert!(
        denied.contains("Denied 1,") && denied.contains("Last code '131 ("),
        "{denied}"
    );
    // A host that is not configured has nothing to show; bad input is
    // one line.
    assert_eq!(c.exec("r1", "sh ip mob host 10.7.0.1", false).unwrap(), "");
    let e = c.exec("r1", "sh ip mob host nonsense", false).unwrap_err();
    assert!(e.starts_with("% Invalid input"), "{e}");
}

/// `clear ip mobile traffic` zeroes what `show ip mobile traffic` counts.
#[test]
fn clear_ip_mobile_traffic_zeroes_the_counters() {
    use pmip_node::snapshot::Traffic;
    let mut c = scenario();
    let t: Traffic =
        serde_json::from_str(&c.exec("r1", "show ip mobile traffic", true).unwrap()).unwrap();
    assert!(t.home_agent.as_ref().unwrap().requests > 0);
    c.node("r1")
        .set_tunnel_traffic(pmip_node::snapshot::TunnelTraffic {
            encapsulated_packets: 10,
            ..Default::default()
        });
    assert_eq!(c.exec("r1", "clear ip mobile traffic", false).unwrap(), "");
    c.node("r1")
        .set_tunnel_traffic(pmip_node::snapshot::TunnelTraffic {
            encapsulated_packets: 13,
            ..Default::default()
        });
    let t: Traffic =
        serde_json::from_str(&c.exec("r1", "show ip mobile traffic", true).unwrap()).unwrap();
    assert_eq!(t.home_agent.unwrap(), Default::default());
    assert_eq!(t.foreign_agent.unwrap(), Default::default());
    assert_eq!(t.tunnel.unwrap().encapsulated_packets, 3);
    // The violation log is not traffic: it stays.
    let v = c.exec("r1", "show ip mobile violation", false).unwrap();
    assert!(v.contains("Total violations 1"), "{v}");
    assert!(c.exec("ap1", "clear ip mobile traffic", false).is_err());
}

fn debug_lines(c: &mut Campus, device: &str) -> Vec<String> {
    std::iter::from_fn(|| c.node(device).poll_debug()).collect()
}

/// `debug ip mobile` traces each registration at the home and foreign
/// agents, `debug ip mobile advertise` the advertisements, `debug ip
/// proxy-mobile` the AP's station decisions; `undebug all` stops them.
#[test]
fn debug_traces_registrations_until_undebug_all() {
    let mut c = scenario();
    assert_eq!(c.exec("r1", "show debugging", false).unwrap(), "");
    assert_eq!(
        c.exec("r1", "deb ip mob", false).unwrap(),
        "Mobile IP debugging is on\n"
    );
    c.exec("r3", "debug ip mobile", false).unwrap();
    c.exec("r3", "debug ip mobile advertise", false).unwrap();
    c.exec("ap3", "debug ip proxy-mobile", false).unwrap();
    let shown = c.exec("r3", "show debugging", false).unwrap();
    assert!(
        shown.contains("Mobile IP debugging is on")
            && shown.contains("Mobile IP agent advertisement debugging is on"),
        "{shown}"
    );
    // The client roams on to subnet 3.
    let client = 0;
    c.associate(client, "ap3");
    c.station_sends(client, router_address(1));
    c.run_for(Duration::from_secs(5));
    let r1 = debug_lines(&mut c, "r1").join("\n");
    assert!(
        r1.contains("MobileIP: HA received registration for MN 10.1.0.50 from 10.3.0.1 using COA 10.3.0.1 HA 10.1.0.1 lifetime"),
        "{r1}"
    );
    assert!(
        r1.contains("HA accepts registration for MN 10.1.0.50: 0 (registration accepted)"),
        "{r1}"
    );
    assert!(
        r1.contains("Mobility binding for MN 10.1.0.50 created: care-of 10.3.0.1"),
        "{r1}"
    );
    let r3 = debug_lines(&mut c, "r3").join("\n");
    assert!(
        r3.contains("FA received registration for MN 10.1.0.50 on FastEthernet0"),
        "{r3}"
    );
    assert!(
        r3.contains("MN 10.1.0.50 - FA relayed registration to HA 10.1.0.1"),
        "{r3}"
    );
    assert!(
        r3.contains("Visitor for MN 10.1.0.50 created on FastEthernet0"),
        "{r3}"
    );
    assert!(
        r3.contains("Agent advertisement sent out FastEthernet0"),
        "{r3}"
    );
    let ap3 = debug_lines(&mut c, "ap3").join("\n");
    assert!(
        ap3.contains("PROXY_MIP: station") && ap3.contains("registered"),
        "{ap3}"
    );
    // Off: nothing more.
    assert_eq!(
        c.exec("r1", "undebug all", false).unwrap(),
        "All possible debugging has been turned off\n"
    );
    c.exec("r3", "no debug all", false).unwrap();
    c.associate(client, "ap2");
    c.station_sends(client, router_address(1));
    c.run_for(Duration::from_secs(5));
    assert_eq!(debug_lines(&mut c, "r1"), Vec::<String>::new());
    assert_eq!(debug_lines(&mut c, "r3"), Vec::<String>::new());
    assert_eq!(c.exec("r1", "show debugging", false).unwrap(), "");
}

/// A flood of requests cannot flood the trace: at most 200 lines a
/// second, then one line counting the rest.
#[test]
fn debug_lines_are_rate_limited() {
    let mut c = scenario();
    c.exec("r1", "debug ip mobile", false).unwrap();
    for _ in 0..1000 {
        send_to_r1(&mut c, &signed_request(0x100, b"wrong-key"));
    }
    while c.node("r1").poll_output().is_some() {}
    let first = debug_lines(&mut c, "r1");
    assert_eq!(first.len(), 200, "{first:?}");
    c.run_for(Duration::from_secs(2));
    send_to_r1(&mut c, &signed_request(0x100, b"wrong-key"));
    let next = debug_lines(&mut c, "r1");
    assert!(next[0].ends_with("debug lines suppressed"), "{next:?}");
    // Only addresses are taken after `host`; bad ones are refused.
    assert!(c.exec("r1", "debug ip mobile host x", false).is_err());
    c.exec("r1", "debug ip mobile host 10.1.0.77", false)
        .unwrap();
    assert!(
        c.exec("r1", "show debugging", false)
            .unwrap()
            .contains("Mobile IP host 10.1.0.77 debugging is on")
    );
}

/// `debug ip mobile host ACL`: only the hosts the standard access list
/// permits, as the list is after each `configure`.
#[test]
fn debug_host_follows_an_access_list() {
    let mut c = scenario();
    c.exec(
        "r1",
        "configure access-list 10 permit host 10.1.0.50",
        false,
    )
    .unwrap();
    assert_eq!(
        c.exec("r1", "debug ip mobile host 10", false).unwrap(),
        "Mobile IP host debugging is on\n"
    );
    assert!(
        c.exec("r1", "show debugging", false)
            .unwrap()
            .contains("Mobile IP host access list 10 debugging is on")
    );
    send_to_r1(&mut c, &signed_request(0x100, b"wrong-key"));
    while c.node("r1").poll_output().is_some() {}
    assert_eq!(debug_lines(&mut c, "r1"), Vec::<String>::new());
    c.exec(
        "r1",
        "configure access-list 10 permit host 10.1.0.51",
        false,
    )
    .unwrap();
    send_to_r1(&mut c, &signed_request(0x100, b"wrong-key"));
    while c.node("r1").poll_output().is_some() {}
    let lines = debug_lines(&mut c, "r1").join("\n");
    assert!(
        lines.contains("HA received registration for MN 10.1.0.51")
            && lines.contains("HA denies registration for MN 10.1.0.51: 131"),
        "{lines}"
    );
    assert!(c.exec("r1", "debug ip mobile host 150", false).is_err());
}
