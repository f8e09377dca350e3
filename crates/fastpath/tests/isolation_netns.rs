//! The access point's visitor isolation program with real frames, between
//! an AP namespace and a station namespace this test creates and removes.
//! Skipped, with the reason printed, only where the kernel refuses BPF.

use pmip_fastpath::Error;
use pmip_fastpath::isolation::Isolation;
use pmip_netns::{Netns, unique_name};
use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

const AP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
const STATION: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 50);

/// What the station receives on UDP port 9999 while the AP sends a
/// registration reply (from port 434), a broadcast and a plain unicast.
fn received(ap: &Netns, sta: &Netns) -> Vec<String> {
    let receiver = sta
        .thread(|| {
            let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 9999)).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(600)))
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
        let reply = UdpSocket::bind((AP, 434)).unwrap();
        reply.send_to(b"reply", (STATION, 9999)).unwrap();
        let b = UdpSocket::bind((AP, 0)).unwrap();
        b.set_broadcast(true).unwrap();
        b.send_to(b"broadcast", (Ipv4Addr::new(10, 9, 0, 255), 9999))
            .unwrap();
        b.send_to(b"unicast", (STATION, 9999)).unwrap();
    })
    .unwrap();
    receiver.join().unwrap().unwrap()
}

#[test]
fn a_visitor_gets_neither_registration_replies_nor_group_frames_on_its_own_port() {
    let ap = Netns::new(&unique_name("pmipt-bap")).unwrap();
    let sta = Netns::new(&unique_name("pmipt-bst")).unwrap();
    ap.veth_to("sta1", &sta, "wlan0").unwrap();
    ap.addr("sta1", "10.9.0.1/24").unwrap();
    sta.addr("wlan0", "10.9.0.50/24").unwrap();
    ap.exec_ok("ping", &["-c", "1", "-W", "2", "10.9.0.50"])
        .unwrap();
    let station = sta.mac("wlan0").unwrap();

    let mut iso = match ap.run(Isolation::load).unwrap() {
        Ok(i) => i,
        Err(e) if e.is_refused() || matches!(e, Error::NotBuilt(_)) => {
            println!("skipped: the isolation program cannot run here: {e}");
            return;
        }
        Err(e) => panic!("isolation program did not load: {e}"),
    };
    assert_eq!(received(&ap, &sta), ["broadcast", "reply", "unicast"]);

    // Its own port: only plain unicast reaches it.
    let mut iso = ap
        .run(move || {
            iso.isolate("sta1", station, true).unwrap();
            iso
        })
        .unwrap();
    assert!(iso.is_isolated(station));
    assert_eq!(iso.ports(), ["sta1"]);
    assert_eq!(received(&ap, &sta), ["unicast"]);
    let c = iso.counters().unwrap();
    // The broadcast, and whatever IPv6 multicast the port sent meanwhile.
    assert!(c.group_frames >= 1, "{c:?}");
    assert_eq!(c.registration_replies, 1);

    // Released from its own port: the program lets go of the port.
    iso = ap
        .run(move || {
            iso.release(station).unwrap();
            iso
        })
        .unwrap();
    assert!(iso.ports().is_empty(), "its own port is let go");
    assert_eq!(received(&ap, &sta), ["broadcast", "reply", "unicast"]);

    // A radio shared with other stations: group frames must pass.
    iso = ap
        .run(move || {
            iso.isolate("sta1", station, false).unwrap();
            iso
        })
        .unwrap();
    assert_eq!(received(&ap, &sta), ["broadcast", "unicast"]);

    // Released: everything passes again.
    iso = ap
        .run(move || {
            iso.release(station).unwrap();
            iso
        })
        .unwrap();
    assert!(!iso.is_isolated(station));
    assert_eq!(received(&ap, &sta), ["broadcast", "reply", "unicast"]);

    // A port that moves to another namespace (the emulated radio's roam)
    // while its station is isolated keeps nothing of ours, even before we
    // let go of it.
    let elsewhere = Netns::new(&unique_name("pmipt-bel")).unwrap();
    let mut iso = ap
        .run(move || {
            iso.isolate("sta1", station, true).unwrap();
            iso
        })
        .unwrap();
    ap.ip(&["link", "set", "sta1", "netns", elsewhere.name()])
        .unwrap();
    elsewhere.ip(&["link", "set", "sta1", "up"]).unwrap();
    elsewhere.addr("sta1", "10.9.0.1/24").unwrap();
    assert_eq!(
        received(&elsewhere, &sta),
        ["broadcast", "reply", "unicast"],
        "the moved port carries no verdict of ours"
    );
    iso = ap
        .run(move || {
            iso.release(station).unwrap();
            iso
        })
        .unwrap();
    assert!(iso.ports().is_empty());
    elsewhere
        .ip(&["link", "set", "sta1", "netns", ap.name()])
        .unwrap();
    ap.ip(&["link", "set", "sta1", "up"]).unwrap();
    ap.addr("sta1", "10.9.0.1/24").unwrap();

    // A port removed and made again (the station reassociated) is
    // attached anew; the old link is let go.
    ap.ip(&["link", "del", "sta1"]).unwrap();
    ap.veth_to("sta1", &sta, "wlan0").unwrap();
    ap.addr("sta1", "10.9.0.1/24").unwrap();
    sta.addr("wlan0", "10.9.0.50/24").unwrap();
    let station = sta.mac("wlan0").unwrap();
    ap.exec_ok("ping", &["-c", "1", "-W", "2", "10.9.0.50"])
        .unwrap();
    let iso = ap
        .run(move || {
            iso.isolate("sta1", station, true).unwrap();
            iso
        })
        .unwrap();
    assert_eq!(received(&ap, &sta), ["unicast"]);

    // Dropping the handle detaches the program.
    ap.run(move || drop(iso)).unwrap();
    assert_eq!(received(&ap, &sta), ["broadcast", "reply", "unicast"]);
}
