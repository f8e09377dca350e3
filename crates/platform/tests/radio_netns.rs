//! The emulated radio with real links: the AP's BVI1 bridge with its
//! wired port, a station port found by its alias, the station's frames
//! seen on its port, and an ARP answer with another MAC (the foreign
//! agent's) that the unmodified station believes.

use pmip_netns::{Netns, unique_name};
use pmip_platform::netlink::Netlink;
use pmip_platform::packet::RawLink;
use pmip_wire::arp;
use pmip_wire::ethernet::{self, EthernetAddress};
use std::net::Ipv4Addr;
use std::time::Duration;

const FA_MAC: [u8; 6] = [0x02, 0xfa, 0, 0, 0, 1];

#[test]
fn bridge_station_port_and_arp_answer() {
    let ap = Netns::new(&unique_name("pmipt-ap")).unwrap();
    let wired = Netns::new(&unique_name("pmipt-wd")).unwrap();
    let sta = Netns::new(&unique_name("pmipt-st")).unwrap();
    ap.veth_to("FastEthernet0", &wired, "w0").unwrap();
    ap.veth_to("sta1", &sta, "wlan0").unwrap();
    // The station keeps its home address; its gateway is at home.
    sta.addr("wlan0", "10.1.0.50/24").unwrap();
    sta.ip(&["route", "add", "default", "via", "10.1.0.1"])
        .unwrap();

    // The station tries to reach its gateway (ARP requests every second).
    let sta_name = sta.name().to_owned();
    let pinger = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        std::process::Command::new("ip")
            .args([
                "netns", "exec", &sta_name, "ping", "-c", "3", "-i", "0.5", "-W", "1", "10.1.0.1",
            ])
            .output()
    });
    let (ports, frames_seen) = ap
        .run(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let nl = Netlink::new().unwrap();
                    let bvi = nl
                        .create_bridge("BVI1", Some("FastEthernet0"))
                        .await
                        .unwrap();
                    assert!(
                        nl.station_ports(bvi).await.unwrap().is_empty(),
                        "no station yet"
                    );
                    // The station associates: its port joins BVI1 with an alias.
                    let out = std::process::Command::new("ip")
                        .args([
                            "link",
                            "set",
                            "sta1",
                            "master",
                            "BVI1",
                            "alias",
                            "Dot11Radio0 ssid=tsunami",
                        ])
                        .output()
                        .unwrap();
                    assert!(out.status.success());
                    let ports = nl.station_ports(bvi).await.unwrap();
                    let port = ports[0].clone();
                    // Watch the station's frames; answer its ARP for the home
                    // gateway with the foreign agent's MAC.
                    let link = RawLink::open(port.ifindex).unwrap();
                    let mut buf = vec![0u8; 2048];
                    let mut seen = 0;
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                    while let Ok(Ok(n)) =
                        tokio::time::timeout_at(deadline, link.recv(&mut buf)).await
                    {
                        seen += 1;
                        let f = ethernet::Frame::new_unchecked(&buf[..n]);
                        if f.ethertype() != ethernet::ethertype::ARP {
                            continue;
                        }
                        let Ok(req) = arp::Repr::parse(&arp::Packet::new_unchecked(f.payload()))
                        else {
                            continue;
                        };
                        if req.operation != arp::Operation::Request
                            || req.target_protocol_addr != Ipv4Addr::new(10, 1, 0, 1)
                        {
                            continue;
                        }
                        let reply = arp::proxy_reply(&req, EthernetAddress(FA_MAC));
                        let mut frame = vec![0u8; ethernet::HEADER_LEN + arp::PACKET_LEN];
                        ethernet::Repr {
                            dst_addr: req.sender_hardware_addr,
                            src_addr: EthernetAddress(FA_MAC),
                            ethertype: ethernet::ethertype::ARP,
                        }
                        .emit(&mut frame);
                        reply.emit(&mut frame[ethernet::HEADER_LEN..]);
                        link.send(&frame).await.unwrap();
                        break;
                    }
                    nl.remove_all().await;
                    (ports, seen)
                })
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let _ = pinger.join();
    assert_eq!(ports.len(), 1);
    assert_eq!(
        (ports[0].radio.as_str(), ports[0].ssid.as_str()),
        ("Dot11Radio0", "tsunami")
    );
    assert!(frames_seen >= 1);
    let neigh = String::from_utf8(sta.ip(&["neigh", "show", "10.1.0.1"]).unwrap().stdout).unwrap();
    assert!(
        neigh.contains("02:fa:00:00:00:01"),
        "the station believes the answer: {neigh}"
    );
    // The bridge and its station port outlive the cleanup: they are the
    // radio's, and a restarted daemon finds its stations on them.
    assert!(ap.ip(&["link", "show", "BVI1"]).is_ok());
}
