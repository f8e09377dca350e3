//! The foreign agent's side of the data plane with real packets: a
//! tunnelled packet from the home agent is decapsulated and delivered to
//! the visitor's link-layer address without ARP (RFC 5944 4.2.2); the
//! visitor is an unmodified host that only has its home address.

use pmip_netns::{Netns, unique_name};
use pmip_platform::dataplane::{DataPlane, Delivery};
use pmip_platform::netlink::Netlink;
use pmip_platform::packet::PacketSocket;
use pmip_platform::tun::Tun;
use pmip_wire::tunnel::Encapsulation;
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

const HA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const FA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const HOME: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn mac_of(ns: &Netns, dev: &str) -> [u8; 6] {
    let out = ns
        .exec_ok("cat", &[&format!("/sys/class/net/{dev}/address")])
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut mac = [0u8; 6];
    for (m, part) in mac.iter_mut().zip(text.trim().split(':')) {
        *m = u8::from_str_radix(part, 16).unwrap();
    }
    mac
}

#[test]
fn tunnelled_packet_reaches_the_visitor_by_its_mac() {
    let ha = Netns::new(&unique_name("pmipt-ha")).unwrap();
    let fa = Netns::new(&unique_name("pmipt-fa")).unwrap();
    let mn = Netns::new(&unique_name("pmipt-mn")).unwrap();
    ha.veth_to("h0", &fa, "f0").unwrap();
    ha.addr("h0", "192.0.2.1/24").unwrap();
    fa.addr("f0", "192.0.2.2/24").unwrap();
    fa.veth_to("f1", &mn, "m0").unwrap();
    fa.addr("f1", "198.51.100.1/24").unwrap();
    // The visitor keeps its home address and knows nothing else.
    mn.addr("m0", "10.1.0.50/24").unwrap();
    let mn_mac = mac_of(&mn, "m0");

    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let fa_thread = fa
        .thread(move || {
            rt().block_on(async move {
                let nl = Netlink::new().unwrap();
                let tun = Arc::new(Tun::create("pmip0").unwrap());
                let idx = nl.link_index("pmip0").await.unwrap();
                nl.link_up(idx).await.unwrap();
                let f1 = nl.link_index("f1").await.unwrap();
                let dp = DataPlane::new();
                dp.add_visitor(
                    HOME,
                    FA,
                    HA,
                    Delivery::Link {
                        ifindex: f1,
                        mac: mn_mac,
                    },
                    None::<Encapsulation>,
                );
                let link = Arc::new(PacketSocket::new().unwrap());
                let task = tokio::spawn(dp.clone().run(tun, Some(link)));
                tokio::task::spawn_blocking(move || stop_rx.recv_timeout(Duration::from_secs(10)))
                    .await
                    .unwrap()
                    .ok();
                task.abort();
                dp.counters
                    .decapsulated
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
        })
        .unwrap();

    let mn_thread = mn
        .thread(|| {
            let s = UdpSocket::bind((HOME, 7)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut b = [0u8; 64];
            let (n, from) = s
                .recv_from(&mut b)
                .expect("the visitor receives the datagram");
            (b[..n].to_vec(), from)
        })
        .unwrap();

    std::thread::sleep(Duration::from_millis(200));
    ha.run(|| {
        rt().block_on(async {
            let nl = Netlink::new().unwrap();
            let tun = Arc::new(Tun::create("pmip0").unwrap());
            let idx = nl.link_index("pmip0").await.unwrap();
            nl.link_up(idx).await.unwrap();
            nl.add_route(HOME, 32, None, Some(idx)).await.unwrap();
            let dp = DataPlane::new();
            dp.add_binding_tunnel(HOME, HA, FA, Encapsulation::IpInIp, false);
            let task = tokio::spawn(dp.clone().run(tun, None));
            let tx = UdpSocket::bind((HA, 5555)).unwrap();
            for _ in 0..3 {
                tx.send_to(b"hello visitor", (HOME, 7)).unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            task.abort();
        })
    })
    .unwrap();

    let (data, from) = mn_thread.join().unwrap().unwrap();
    stop_tx.send(()).unwrap();
    let decapsulated = fa_thread.join().unwrap().unwrap();
    assert_eq!(data, b"hello visitor");
    assert_eq!(from.ip(), std::net::IpAddr::V4(HA));
    assert!(decapsulated >= 1);
    // The visitor never had to answer ARP for its home address: the FA
    // sent straight to its MAC and its neighbour table has no entry.
    let neigh = fa.ip(&["neigh", "show", "10.1.0.50"]).unwrap();
    assert!(String::from_utf8_lossy(&neigh.stdout).trim().is_empty());
}
