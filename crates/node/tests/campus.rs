//! Whole-campus scenarios in virtual time: three subnets, each a router
//! (home agent and foreign agent) and an AP, two of them AAPs. A client
//! roams across all three subnets and home again, a registration is lost
//! on the way, an AAP fails; all in milliseconds of wall time.

mod support;

use pmip_wire::registration::TYPE_REQUEST;
use std::net::Ipv4Addr;
use std::time::Duration;
use support::*;

/// Boots a three-subnet campus and lets the exchange converge.
fn booted() -> Campus {
    let mut c = Campus::new(3);
    c.run_for(Duration::from_secs(10));
    c
}

fn subnet_table(c: &mut Campus, ap: &str) -> Vec<String> {
    let v = c.json(ap, "show ip proxy-mobile subnet-table");
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["home_agent"].as_str().unwrap().to_owned())
        .collect()
}

fn station_state(c: &mut Campus, ap: &str) -> String {
    let v = c.json(ap, "show ip proxy-mobile visitor");
    v["visitors"][0]["state"].as_str().unwrap_or("").to_owned()
}

#[test]
fn every_ap_learns_every_home_agent() {
    let mut c = booted();
    for k in 1..=3 {
        assert_eq!(
            subnet_table(&mut c, &ap_name(k)),
            ["10.1.0.1", "10.2.0.1", "10.3.0.1"],
            "ap{k}"
        );
        let v = c.json(&ap_name(k), "show ip proxy-mobile");
        assert_eq!(v["foreign_agent"]["address"], format!("10.{k}.0.1"));
        assert_eq!(v["home_agent"]["address"], format!("10.{k}.0.1"));
    }
    assert_eq!(
        c.json("ap1", "show ip proxy-mobile subnet-table")["exchange"],
        "AAP"
    );
    assert_eq!(
        c.json("ap3", "show ip proxy-mobile subnet-table")["current_aap"],
        "10.1.0.2"
    );
}

#[test]
fn a_client_roams_across_three_subnets_and_home() {
    let wall = std::time::Instant::now();
    let mut c = booted();
    let client = c.add_station(Ipv4Addr::new(10, 1, 0, 50));

    // At home: nothing to register.
    c.associate(client, "ap1");
    c.station_sends(client, router_address(1));
    c.run_for(Duration::from_secs(1));
    assert_eq!(station_state(&mut c, "ap1"), "at home");
    assert!(c.bindings("r1").is_empty());

    // To subnet 2: registered through r2's foreign agent.
    c.associate(client, "ap2");
    c.station_sends(client, router_address(1));
    c.run_for(Duration::from_secs(1));
    assert_eq!(
        c.bindings("r1"),
        [("10.1.0.50".to_owned(), "10.2.0.1".to_owned())]
    );
    assert_eq!(c.visitors("r2"), ["10.1.0.50"]);
    assert_eq!(station_state(&mut c, "ap2"), "registered");
    // The client's ARP entry for its gateway now names r2's MAC.
    let told = c.stations[client]
        .received
        .iter()
        .any(|f| f.len() >= 14 && f[12..14] == [0x08, 0x06] && f[6..12] == router_mac(2));
    assert!(
        told,
        "the AP told the client its gateway is the foreign agent"
    );

    // To subnet 3, the first registration request lost: retransmitted.
    let mut lost_one = false;
    c.lose = Some(Box::new(move |w| {
        let is_request = matches!(w, Wire::Lan { subnet: 3, frame, .. }
            if frame.len() > 42 && frame[23] == 17 && frame[42] == TYPE_REQUEST);
        if is_request && !lost_one {
            lost_one = true;
            return true;
        }
        false
    }));
    c.associate(client, "ap3");
    c.station_sends(client, router_address(1));
    c.run_for(Duration::from_millis(500));
    assert_eq!(
        c.bindings("r1")[0].1,
        "10.2.0.1",
        "the lost request changed nothing"
    );
    c.run_for(Duration::from_secs(2));
    c.lose = None;
    assert_eq!(c.lost, 1);
    assert_eq!(
        c.bindings("r1"),
        [("10.1.0.50".to_owned(), "10.3.0.1".to_owned())]
    );
    let stats = c.json("ap3", "show ip proxy-mobile");
    assert_eq!(stats["statistics"]["retransmissions"], 1);
    assert_eq!(c.visitors("r3"), ["10.1.0.50"]);
    // The old foreign agent heard of the move (Binding Update).
    c.run_for(Duration::from_secs(1));
    assert!(c.visitors("r2").is_empty(), "r2 forgot the visitor");

    // Home again: deregistered.
    c.associate(client, "ap1");
    c.station_sends(client, router_address(1));
    c.run_for(Duration::from_secs(1));
    assert!(c.bindings("r1").is_empty());
    assert_eq!(station_state(&mut c, "ap1"), "at home");

    // Re-registration keeps a binding alive past its lifetime.
    c.associate(client, "ap2");
    c.station_sends(client, router_address(1));
    c.run_for(Duration::from_secs(1200));
    assert_eq!(c.bindings("r1")[0].1, "10.2.0.1");
    let s = c.json("ap2", "show ip proxy-mobile");
    assert!(s["statistics"]["reregistrations"].as_u64().unwrap() >= 2);

    eprintln!(
        "{} s of campus time in {:?} of wall time",
        c.now.since_origin().as_secs(),
        wall.elapsed()
    );
}

#[test]
fn an_aap_fails_and_the_aps_fail_over() {
    let mut c = booted();
    let ap1 = c.index("ap1");
    c.devices[ap1].down = true;
    // Keepalives go unanswered; the next configured AAP takes over.
    c.run_for(Duration::from_secs(120));
    let t = c.json("ap3", "show ip proxy-mobile subnet-table");
    assert_eq!(t["current_aap"], "10.2.0.2");
    assert!(t["counters"]["failovers"].as_u64().unwrap() >= 1);
    // The table survived: visitors can still be proxied.
    assert_eq!(subnet_table(&mut c, "ap3").len(), 3);
    let client = c.add_station(Ipv4Addr::new(10, 2, 0, 60));
    c.associate(client, "ap3");
    c.station_sends(client, router_address(2));
    c.run_for(Duration::from_secs(1));
    assert_eq!(
        c.bindings("r2"),
        [("10.2.0.60".to_owned(), "10.3.0.1".to_owned())]
    );
}

/// `configure` on an AP keeps the subnet map it learnt from the AAPs.
#[test]
fn configure_keeps_the_learnt_subnet_map() {
    let mut c = booted();
    c.exec("ap3", "configure ip proxy-mobile tunnel reverse", false)
        .unwrap();
    let v = c.json("ap3", "show ip proxy-mobile");
    assert_eq!(v["subnet_map"].as_array().unwrap().len(), 3);
}

/// A new AAP list or key entered at run time takes effect at once: the
/// exchange starts again with it, joins the AAP now named and gets the
/// table from it; a key the AAPs do not share leaves the AP's exchange
/// refused (counted), and the right key brings it back.
#[test]
fn aap_list_and_key_changes_take_effect_at_run_time() {
    let mut c = booted();
    assert_eq!(
        c.json("ap3", "show ip proxy-mobile subnet-table")["current_aap"],
        "10.1.0.2"
    );
    c.exec("ap3", "configure ip proxy-mobile aap 10.2.0.2", false)
        .unwrap();
    c.run_for(Duration::from_secs(2));
    let t = c.json("ap3", "show ip proxy-mobile subnet-table");
    assert_eq!(t["current_aap"], "10.2.0.2", "{t}");
    assert_eq!(subnet_table(&mut c, "ap3").len(), 3);
    // A key the AAPs do not have: ap3's messages are refused.
    c.exec(
        "ap3",
        "configure ip proxy-mobile aap key ascii wrong-key",
        false,
    )
    .unwrap();
    c.run_for(Duration::from_secs(5));
    let refused = c.json("ap2", "show ip proxy-mobile subnet-table")["counters"]["bad_auth"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        refused > 0,
        "ap2 refused ap3's messages under the wrong key"
    );
    // The campus key again: joined and served.
    c.exec(
        "ap3",
        &format!("configure ip proxy-mobile aap key ascii {AAP_KEY}"),
        false,
    )
    .unwrap();
    c.run_for(Duration::from_secs(2));
    let client = c.add_station(Ipv4Addr::new(10, 1, 0, 61));
    c.associate(client, "ap3");
    c.run_for(Duration::from_secs(1));
    assert_eq!(
        c.bindings("r1"),
        [("10.1.0.61".to_owned(), "10.3.0.1".to_owned())]
    );
}

/// A client that only receives (a printer, a server, a phone waiting for
/// a call) never speaks first: the AP asks it for its address at
/// association and registers it, away and home again, without a frame
/// from it.
#[test]
fn a_client_that_only_receives_is_registered_at_association() {
    let mut c = booted();
    let client = c.add_station(Ipv4Addr::new(10, 1, 0, 77));
    c.associate(client, "ap2");
    let registered_after =
        c.run_until_done(Duration::from_millis(100), |c| !c.bindings("r1").is_empty());
    let after = registered_after.expect("registered without a frame of its own");
    eprintln!(
        "a station never seen before, associating at a foreign AP, was registered {after:?} after its association"
    );
    assert_eq!(
        c.bindings("r1"),
        [("10.1.0.77".to_owned(), "10.2.0.1".to_owned())]
    );
    let s = c.json("ap2", "show ip proxy-mobile");
    assert_eq!(s["statistics"]["stations_queried"], 1);
    assert_eq!(s["statistics"]["queries_answered"], 1);

    // Home again, still silent: deregistered.
    c.associate(client, "ap1");
    c.run_for(Duration::from_millis(100));
    assert!(c.bindings("r1").is_empty(), "deregistered at home");
    // Away again through an AP that has seen it: its address is asked
    // for first.
    c.associate(client, "ap2");
    c.run_for(Duration::from_millis(100));
    assert_eq!(c.bindings("r1")[0].1, "10.2.0.1");
}

/// On a radio many stations share (hostapd), the association names the
/// station's MAC: an AP that has seen the station registers it before it
/// sends anything, asking it only to confirm its address; a station the
/// AP has never seen is queried by unicast, never by broadcast to the
/// other stations of the radio.
#[test]
fn a_shared_radio_association_registers_a_known_station_at_once() {
    let mut c = booted();
    let client = c.add_station(Ipv4Addr::new(10, 1, 0, 78));
    let bystander = c.add_station(Ipv4Addr::new(10, 2, 0, 90));
    c.associate_radio(bystander, "ap2");
    c.run_for(Duration::from_millis(100));
    c.stations[bystander].received.clear();
    c.associate_radio(client, "ap2");
    let first = c.run_until_done(Duration::from_millis(100), |c| !c.bindings("r1").is_empty());
    let first = first.expect("an unknown station is found by unicast probes");
    let to_bystander = c.stations[bystander]
        .received
        .iter()
        .filter(|f| f[12..14] == [0x08, 0x06] && f[21] == 1)
        .count();
    assert_eq!(
        to_bystander, 0,
        "probes for another station went to the bystander"
    );
    // Home, then back: ap2 knows it now.
    c.associate_radio(client, "ap1");
    c.run_for(Duration::from_millis(100));
    assert!(c.bindings("r1").is_empty(), "deregistered at home");
    c.stations[client].received.clear();
    c.associate_radio(client, "ap2");
    // Registration leaves with the association itself: the request is
    // out before any frame of the station's (it sends none here).
    let again = c.run_until_done(Duration::from_millis(100), |c| !c.bindings("r1").is_empty());
    let again = again.expect("registered again");
    // ARP probes (RFC 5227: sender address zero), not the greeting's
    // gratuitous ARPs.
    let probes: Vec<_> = c.stations[client]
        .received
        .iter()
        .filter(|f| f[12..14] == [0x08, 0x06] && f[21] == 1 && f[28..32] == [0; 4])
        .collect();
    assert_eq!(probes.len(), 1, "one confirming probe");
    assert_eq!(&probes[0][..6], &c.stations[client].mac, "unicast");
    assert_eq!(&probes[0][38..42], &[10, 1, 0, 78], "for its known address");
    eprintln!(
        "shared radio: an unknown station registered {first:?} after its association, a known one {again:?}"
    );
    assert!(again <= first, "{again:?} vs {first:?}");
    c.disassociate(client);
    c.disassociate(bystander);
    let s = c.json("ap2", "show ip proxy-mobile visitor");
    assert_eq!(s["visitors"].as_array().map(Vec::len), Some(0), "{s}");
}

/// A restarted AP takes back the stations it had seen (the state kept
/// across restarts holds each StationKnown it asked to keep): a station
/// associating on its radio right after the restart is registered at the
/// association, with one confirming probe, as before the restart.
#[test]
fn a_restarted_ap_remembers_its_stations() {
    let mut c = booted();
    let client = c.add_station(Ipv4Addr::new(10, 1, 0, 79));
    c.associate_radio(client, "ap2");
    c.run_for(Duration::from_millis(100));
    assert_eq!(c.bindings("r1")[0].1, "10.2.0.1");
    c.associate_radio(client, "ap1");
    c.run_for(Duration::from_millis(100));
    assert!(c.bindings("r1").is_empty(), "home");
    // What ap2 asked to keep.
    let kept: Vec<_> = c
        .installs
        .iter()
        .filter(|(d, _)| d == "ap2")
        .filter_map(|(_, i)| match i {
            pmip_node::Install::StationKnown { mac, address } => {
                Some((*mac, *address, Duration::from_secs(1)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(kept.len(), 1, "one station, recorded once");
    // ap2 restarts from the same configuration and the kept state.
    let ap2 = c.restart("ap2");
    let at = c.at();
    c.devices[ap2].node.restore_access_point(at, kept);
    c.run_for(Duration::from_secs(3));
    c.stations[client].received.clear();
    c.associate_radio(client, "ap2");
    c.run_for(Duration::from_millis(50));
    assert_eq!(c.bindings("r1")[0].1, "10.2.0.1");
    let probes = c.stations[client]
        .received
        .iter()
        .filter(|f| f[12..14] == [0x08, 0x06] && f[21] == 1 && f[28..32] == [0; 4])
        .count();
    assert_eq!(probes, 1, "one probe, for the address it had");
}

/// The home AP is down while a client that only receives comes home;
/// the home agent keeps the binding. The AP starts with the station on
/// its radio before it has heard an advertisement or holds the subnet
/// map: the deregistration waits for the home agent to be known and then
/// goes, instead of being dropped (the binding would have held the
/// client's traffic away until its lifetime ran out).
#[test]
fn a_station_home_before_its_ap_knows_the_home_agent_is_deregistered_when_it_does() {
    let mut c = booted();
    let client = c.add_station(Ipv4Addr::new(10, 1, 0, 79));
    c.associate_radio(client, "ap2");
    c.run_for(Duration::from_millis(100));
    assert_eq!(c.bindings("r1")[0].1, "10.2.0.1");
    // ap1 goes down; the client comes home meanwhile.
    let ap1 = c.index("ap1");
    c.devices[ap1].down = true;
    c.associate_radio(client, "ap1");
    c.run_for(Duration::from_secs(1));
    assert_eq!(c.bindings("r1").len(), 1, "nobody told the home agent");
    // ap1 starts again, remembering the station, with it on its radio.
    let at = c.at();
    c.restart("ap1");
    c.devices[ap1].down = false;
    let station = c.stations[client].mac;
    c.devices[ap1].node.restore_access_point(
        at,
        vec![(station, Ipv4Addr::new(10, 1, 0, 79), Duration::from_secs(1))],
    );
    c.associate_radio(client, "ap1");
    let gone = c.run_until_done(Duration::from_millis(20_000), |c| {
        c.bindings("r1").is_empty()
    });
    let gone = gone.expect("the binding is withdrawn once the AP knows the home agent");
    eprintln!("binding withdrawn {gone:?} after the restarted home AP found the station");
    // The router advertises every 3-4 s; the exchange takes about as long.
    assert!(gone < Duration::from_secs(10), "{gone:?}");
}

/// A flood of associations of stations that never answer (300 ports at
/// once, more than the AP queries at a time) does not hold up a known
/// station that only receives: it is asked for the addresses of stations
/// seen before at once, and registered; on a shared radio a known MAC
/// needs no query slot at all. The flood's queries stay bounded.
#[test]
fn a_flood_of_associations_does_not_delay_a_known_station() {
    let mut c = booted();
    let known = c.add_station(Ipv4Addr::new(10, 1, 0, 80));
    let radio = c.add_station(Ipv4Addr::new(10, 1, 0, 81));
    // Both seen at ap2 once, then home.
    for s in [known, radio] {
        if s == known {
            c.associate(s, "ap2");
        } else {
            c.associate_radio(s, "ap2");
        }
        c.run_for(Duration::from_millis(100));
        c.associate(s, "ap1");
        c.run_for(Duration::from_millis(100));
    }
    assert!(c.bindings("r1").is_empty());
    // The flood: silent stations with addresses the AP never asks for.
    let flood: Vec<usize> = (0..300u32)
        .map(|i| c.add_station(Ipv4Addr::from(u32::from(Ipv4Addr::new(192, 168, 0, 0)) + i)))
        .collect();
    for &f in &flood {
        c.associate(f, "ap2");
    }
    for &f in &flood[..100] {
        c.associate_radio(f, "ap2");
    }
    c.associate(known, "ap2");
    c.associate_radio(radio, "ap2");
    let registered = c.run_until_done(Duration::from_millis(200), |c| c.bindings("r1").len() == 2);
    let after = registered.expect("both known stations registered behind the flood");
    eprintln!(
        "300 + 100 silent stations associating: two known stations registered {after:?} after their association"
    );
    assert!(after < Duration::from_millis(100), "{after:?}");
    let s = c.json("ap2", "show ip proxy-mobile");
    // At most 32 full queries run at a time: in these 100 ms only the
    // first ones (and those freed by the stations that moved to the radio)
    // were asked, not all 400.
    let queried = s["statistics"]["stations_queried"].as_u64().unwrap();
    assert!(queried < 200, "queries bounded at a time: {queried}");
}

/// A station that never answers is asked a bounded number of times.
#[test]
fn a_station_that_never_answers_is_asked_a_bounded_number_of_times() {
    let mut c = booted();
    // An address outside every range the AP would ask for.
    let client = c.add_station(Ipv4Addr::new(192, 168, 77, 7));
    c.associate(client, "ap2");
    c.run_for(Duration::from_secs(60));
    let probes = c.stations[client]
        .received
        .iter()
        .filter(|f| f.len() >= 14 && f[12..14] == [0x08, 0x06] && f[21] == 1)
        .count();
    assert!(probes > 0 && probes <= 7 * 512, "{probes} ARP requests");
    assert!(c.bindings("r1").is_empty());
}

/// A station registered at its association that then shows a Mobile IP
/// stack of its own (an agent solicitation) is left to it: the AP
/// withdraws its registration.
#[test]
fn a_station_that_shows_its_own_mobile_ip_stack_is_withdrawn() {
    let mut c = booted();
    let client = c.add_station(Ipv4Addr::new(10, 1, 0, 61));
    c.associate(client, "ap2");
    c.run_for(Duration::from_millis(50));
    assert_eq!(c.bindings("r1").len(), 1, "registered at association");
    c.station_solicits(client);
    c.run_for(Duration::from_millis(50));
    assert!(station_state(&mut c, "ap2").contains("MobileIpStack"));
    assert!(
        c.bindings("r1").is_empty(),
        "the AP's registration withdrawn"
    );
}

/// `ip proxy-mobile` is needed on the wired port, the radio and BVI1 as
/// well as on the SSID: without it on one of them the AP proxies nobody
/// and says why.
#[test]
fn ip_proxy_mobile_is_needed_on_every_interface() {
    let mut c = booted();
    c.exec("ap2", "configure interface BVI1; no ip proxy-mobile", false)
        .unwrap();
    let s = c.exec("ap2", "show ip proxy-mobile", false).unwrap();
    assert!(
        s.starts_with("Proxy Mobile IP: enabled, inactive: no `ip proxy-mobile` on BVI1"),
        "{s}"
    );
    let client = c.add_station(Ipv4Addr::new(10, 1, 0, 52));
    c.associate(client, "ap2");
    c.station_sends(client, router_address(1));
    c.run_for(Duration::from_secs(1));
    assert!(c.bindings("r1").is_empty());
    assert!(station_state(&mut c, "ap2").contains("Paused"));
    // Back on: the station is served at once.
    c.exec("ap2", "configure interface BVI1; ip proxy-mobile", false)
        .unwrap();
    c.run_for(Duration::from_millis(100));
    assert_eq!(c.bindings("r1").len(), 1);
}

/// A client of home subnet 1 visiting ap2 for 30 s, a visitor of r2.
fn visitor_at_ap2(c: &mut Campus) {
    let client = c.add_station(Ipv4Addr::new(10, 1, 0, 50));
    c.associate(client, "ap2");
    c.run_for(Duration::from_secs(30));
    assert_eq!(c.visitors("r2"), ["10.1.0.50"]);
}

/// A foreign agent that restarts has forgotten its visitors; its first
/// advertisement after the restart (sequence number back below 256) makes
/// the AP register them again at once, long before their lifetime ends.
#[test]
fn a_restarted_foreign_agent_gets_its_visitors_back() {
    let mut c = booted();
    visitor_at_ap2(&mut c);
    // r2 restarts: a new node from the same configuration.
    c.restart("r2");
    assert!(c.visitors("r2").is_empty());
    let back = c.run_until_done(Duration::from_millis(10_000), |c| {
        !c.visitors("r2").is_empty()
    });
    let back = back.expect("the visitor is back");
    eprintln!("visitor back at the restarted foreign agent after {back:?}");
    // Its first advertisement comes at boot: well under a second.
    assert!(back < Duration::from_secs(1), "{back:?}");
    assert_eq!(c.bindings("r1")[0].1, "10.2.0.1");
}

/// The foreign agent's advertisements stop for longer than their
/// lifetime (its link to the AP cut, the agent itself running on) and come
/// back: the AP re-registers its visitor at the first one (RFC 5944 2.4:
/// the agent may have lost its state meanwhile), not at the next renewal.
#[test]
fn advertisements_that_stop_and_come_back_bring_a_registration_at_once() {
    use std::cell::Cell;
    use std::rc::Rc;
    let mut c = booted();
    visitor_at_ap2(&mut c);
    let r2 = c.index("r2");
    // Subnet 2's LAN cut for 20 s, beyond the advertisements' 12 s
    // holdtime; then the registration requests the AP sends are counted.
    let cut = Rc::new(Cell::new(true));
    let requests = Rc::new(Cell::new(0u32));
    let (k, n) = (cut.clone(), requests.clone());
    c.lose = Some(Box::new(move |w| match w {
        Wire::Lan {
            subnet: 2,
            from,
            frame,
        } => {
            if k.get() {
                return true;
            }
            if *from != r2 && frame.len() > 42 && frame[23] == 17 && frame[42] == TYPE_REQUEST {
                n.set(n.get() + 1);
            }
            false
        }
        _ => false,
    }));
    c.run_for(Duration::from_secs(20));
    cut.set(false);
    let again = c.run_until_done(Duration::from_millis(10_000), |_| requests.get() > 0);
    let again = again.expect("the AP registers its visitor again");
    eprintln!("registration sent {again:?} after the foreign agent's advertisements came back");
    // The agent advertises every 3-4 s: the first one brings the
    // registration (the visitor's renewal would be minutes away).
    assert!(again <= Duration::from_secs(5), "{again:?}");
    c.run_for(Duration::from_millis(100));
    assert_eq!(c.visitors("r2"), ["10.1.0.50"]);
    assert_eq!(c.bindings("r1")[0].1, "10.2.0.1");
}

/// The APs configured exactly as the Aironet walkthrough prints it (no
/// exchange key): the exchange runs unauthenticated, every AP learns every
/// home agent and a visitor is served; a table from an address that is no
/// configured AAP is refused and counted, and the AP says how to add a key.
#[test]
fn the_walkthrough_configuration_without_a_key_works() {
    let mut c = Campus::with_aps(3, walkthrough_ap_config);
    c.run_for(Duration::from_secs(10));
    for k in 1..=3 {
        assert_eq!(subnet_table(&mut c, &ap_name(k)).len(), 3, "ap{k}");
    }
    let text = c
        .exec("ap3", "show ip proxy-mobile subnet-table", false)
        .unwrap();
    assert!(
        text.contains("Unauthenticated") && text.contains("aap key"),
        "{text}"
    );
    // A forged table from a host that is no AAP.
    let forged = {
        use pmip_wire::subnet_exchange::{Chunk, Entry, Message, Repr};
        let repr = Repr {
            sender: Ipv4Addr::new(10, 3, 0, 66),
            epoch: 1,
            sequence: 1,
            message: Message::Table {
                request: 5,
                chunk: Chunk { index: 0, count: 1 },
                entries: vec![Entry {
                    home_agent: Ipv4Addr::new(10, 66, 0, 1),
                    prefix_len: 8,
                    version: 99,
                    deleted: false,
                    aps: vec![],
                }],
            },
        };
        repr.to_vec(pmip_node::config::UNAUTHENTICATED_KEY).unwrap()
    };
    let now = c.at();
    c.node("ap3").handle(
        now,
        pmip_node::Input::Datagram {
            local: std::net::SocketAddrV4::new(ap_address(3), pmip_node::EXCHANGE_PORT),
            remote: std::net::SocketAddrV4::new(
                Ipv4Addr::new(10, 3, 0, 66),
                pmip_node::EXCHANGE_PORT,
            ),
            payload: &forged,
        },
    );
    let t = c.json("ap3", "show ip proxy-mobile subnet-table");
    assert_eq!(t["refused"], 1);
    assert_eq!(
        t["entries"].as_array().unwrap().len(),
        3,
        "the forged entry was not taken"
    );
    let client = c.add_station(Ipv4Addr::new(10, 1, 0, 55));
    c.associate(client, "ap3");
    c.run_for(Duration::from_millis(100));
    assert_eq!(c.bindings("r1")[0].1, "10.3.0.1");
}

/// The campus station table (docs/subnet-map-exchange.md, section 16): a
/// station ap1 sees is known at ap2 and ap3 within a second, so ap3
/// registers it at its association although nothing the station sends
/// reaches ap3, and an association at ap2 asks for its address first.
#[test]
fn a_station_seen_at_one_ap_is_known_at_every_ap_within_a_second() {
    let mut c = booted();
    let address = Ipv4Addr::new(10, 1, 0, 60);
    let client = c.add_station(address);
    c.associate(client, "ap1");
    c.station_sends(client, router_address(1));
    let knows = |c: &mut Campus, ap: &str| {
        let now = c.now;
        c.node(ap)
            .station_table_view(now)
            .expect("an AP")
            .stations
            .iter()
            .any(|s| s.address == address && s.ap == ap_address(1) && !s.here)
    };
    let took = c.run_until_done(Duration::from_millis(1000), |c| {
        knows(c, "ap2") && knows(c, "ap3")
    });
    let took = took.expect("ap2 and ap3 know the station within a second");
    eprintln!("a station seen at ap1 is in ap2's and ap3's campus table {took:?} later");
    let now = c.now;
    let here = c.node("ap1").station_table_view(now).unwrap();
    assert_eq!(here.exchange, "AAP");
    assert!(here.stations.iter().any(|s| s.address == address && s.here));
    let text = pmip_node::show::station_table(&c.node("ap3").station_table_view(now).unwrap());
    assert!(
        text.starts_with("Campus station table (from AAP 10.1.0.2)")
            && text.contains("0200.0099.0001   10.1.0.60        10.1.0.2")
            && text.contains("Total 1"),
        "{text}"
    );
    let counters = &c.json("ap3", "show ip proxy-mobile subnet-table")["counters"];
    assert_eq!(counters["stations"], 1, "{counters}");
    assert_eq!(counters["stations_accepted"], 1, "{counters}");

    // At ap3 it associates through the shared radio (its MAC named) and
    // nothing it sends arrives: its address comes from the campus table,
    // and it is registered at once.
    c.lose = Some(Box::new(|w| matches!(w, Wire::FromStation { .. })));
    c.associate_radio(client, "ap3");
    c.run_for(Duration::from_millis(20));
    assert_eq!(
        c.bindings("r1"),
        [("10.1.0.60".to_owned(), "10.3.0.1".to_owned())]
    );
    c.lose = None;

    // At ap2, which never saw it, a port of its own (no MAC until it
    // speaks): the first address asked for is the one the campus knows.
    c.stations[client].received.clear();
    c.associate(client, "ap2");
    c.run_for(Duration::from_millis(20));
    let first_probe = c.stations[client]
        .received
        .iter()
        .find(|f| f[12..14] == [0x08, 0x06] && f[21] == 1 && f[28..32] == [0; 4])
        .expect("ap2 asks the station for its address");
    assert_eq!(&first_probe[38..42], &address.octets());
    assert_eq!(
        c.bindings("r1"),
        [("10.1.0.60".to_owned(), "10.2.0.1".to_owned())]
    );
}

/// A station's port that moved to a new AP drops frames for some
/// milliseconds (the emulated radio's veth coming up): the first query
/// rounds are lost. The station's own first frame says it hears now: a
/// station the campus knows is registered at once, an unknown one is
/// asked again at once, neither waits for the 20 ms round.
#[test]
fn a_port_that_comes_up_late_is_served_at_the_stations_first_frame() {
    let mut c = booted();
    let seen = c.add_station(Ipv4Addr::new(10, 1, 0, 61));
    c.associate(seen, "ap1");
    c.station_sends(seen, router_address(1));
    c.run_for(Duration::from_secs(1));
    let unknown = c.add_station(Ipv4Addr::new(10, 1, 0, 62));

    for (station, what, within) in [
        (seen, "known to the campus", Duration::from_millis(3)),
        (unknown, "never seen", Duration::from_millis(6)),
    ] {
        let after = late_port(&mut c, station, Duration::from_millis(14), true);
        let after = after.expect("registered");
        eprintln!(
            "a station {what} whose port came up late was registered {after:?} after its first frame"
        );
        assert!(after <= within, "{what}: {after:?}");
    }
}

/// A station that sends nothing at all when its late port comes up is
/// still found within a few milliseconds: the likely addresses are asked
/// again between the full rounds.
#[test]
fn a_silent_station_behind_a_late_port_is_found_by_the_likely_rounds() {
    let mut c = booted();
    let seen = c.add_station(Ipv4Addr::new(10, 1, 0, 63));
    c.associate(seen, "ap1");
    c.station_sends(seen, router_address(1));
    c.run_for(Duration::from_secs(1));
    let after = late_port(&mut c, seen, Duration::from_millis(3), false);
    let after = after.expect("registered");
    eprintln!("a silent station whose port came up 3 ms late was registered {after:?} after that");
    assert!(after <= Duration::from_millis(4), "{after:?}");
}

/// Associates `station` with ap3 through a port that drops everything
/// for `late`; then, with `speaks`, the station sends a frame that says
/// nothing of its IPv4 address. How long after the port came up the
/// station's binding at r1 pointed to ap3's foreign agent (within 20 ms).
fn late_port(c: &mut Campus, station: usize, late: Duration, speaks: bool) -> Option<Duration> {
    let ready = std::rc::Rc::new(std::cell::Cell::new(false));
    let r = ready.clone();
    c.lose = Some(Box::new(move |w| {
        !r.get() && matches!(w, Wire::FromStation { .. })
    }));
    c.associate(station, "ap3");
    c.run_for(late);
    let address = c.stations[station].address.to_string();
    let registered = |c: &mut Campus| {
        c.bindings("r1")
            .iter()
            .any(|(h, coa)| *h == address && coa == "10.3.0.1")
    };
    assert!(!registered(c), "nothing heard from the station yet");
    ready.set(true);
    let t0 = c.now;
    if speaks {
        c.station_sends_ipv6(station);
    }
    let mut after = None;
    for _ in 0..80 {
        c.run_for(Duration::from_micros(250));
        if registered(c) {
            after = Some(c.now.saturating_since(t0));
            break;
        }
    }
    c.lose = None;
    after
}
