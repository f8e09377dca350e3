//! The tunnel data plane with real packets between two namespaces: a
//! "home agent" namespace running our TUN + raw-socket data plane and a
//! "care-of" namespace that receives with a plain raw socket.

use pmip_netns::{Netns, unique_name};
use pmip_platform::dataplane::DataPlane;
use pmip_platform::netlink::Netlink;
use pmip_platform::raw::RawSocket;
use pmip_platform::tun::Tun;
use pmip_wire::ipv4::{self, protocol};
use pmip_wire::tunnel::{self, Encapsulation, Encapsulator};
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

const HA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const COA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const HOME: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs the home agent side: TUN, host route, data plane; sends one UDP
/// datagram to the home address; then waits for a reverse-tunnelled one.
fn home_agent(encapsulation: Encapsulation, ready: mpsc::Sender<()>) -> (u64, Vec<u8>) {
    rt().block_on(async move {
        let nl = Netlink::new().unwrap();
        let tun = Arc::new(Tun::create("pmip0").unwrap());
        let idx = nl.link_index("pmip0").await.unwrap();
        nl.link_up(idx).await.unwrap();
        nl.add_route(HOME, 32, None, Some(idx)).await.unwrap();
        let dp = DataPlane::new();
        dp.add_binding_tunnel(HOME, HA, COA, encapsulation, true);
        let task = tokio::spawn(dp.clone().run(tun, None));
        // A correspondent on the home agent itself answers on port 9000.
        let cn = UdpSocket::bind((HA, 9000)).unwrap();
        cn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind((HA, 0)).unwrap();
        tx.send_to(b"to the mobile node", (HOME, 7)).unwrap();
        ready.send(()).unwrap();
        // The reverse-tunnelled datagram comes out of the TUN device and
        // the kernel delivers it to our socket.
        let got = tokio::task::spawn_blocking(move || {
            let mut b = [0u8; 64];
            let (n, from) = cn.recv_from(&mut b).expect("reverse-tunnelled datagram");
            assert_eq!(from.ip(), std::net::IpAddr::V4(HOME));
            b[..n].to_vec()
        })
        .await
        .unwrap();
        let enc = dp
            .counters
            .encapsulated
            .load(std::sync::atomic::Ordering::Relaxed);
        task.abort();
        nl.remove_all().await;
        (enc, got)
    })
}

fn care_of(encapsulation: Encapsulation) -> Vec<u8> {
    let proto = match encapsulation {
        Encapsulation::IpInIp => protocol::IPIP,
        Encapsulation::Gre { .. } => protocol::GRE,
    };
    rt().block_on(async move {
        let rx = RawSocket::receiver(proto).unwrap();
        let mut buf = vec![0u8; 2048];
        let n = tokio::time::timeout(Duration::from_secs(5), rx.recv(&mut buf))
            .await
            .expect("a tunnel packet within 5 s")
            .unwrap();
        let d = tunnel::decapsulate(&buf[..n]).unwrap();
        assert_eq!((d.outer_src, d.outer_dst), (HA, COA));
        assert_eq!(d.inner_dst, HOME);
        assert_eq!(d.encapsulation, encapsulation);
        let inner = buf[d.inner.clone()].to_vec();

        // Answer through the reverse tunnel: home address to the HA.
        let payload = b"from the mobile node";
        let udp_len = 8 + payload.len();
        let ip = ipv4::Repr::new(HOME, HA, protocol::UDP, 64, udp_len);
        let room = encapsulation.overhead();
        let mut pkt = vec![0u8; room + ip.buffer_len()];
        {
            let mut p = ipv4::Packet::new_unchecked(&mut pkt[room..]);
            ip.emit(&mut p);
            let u = pmip_wire::udp::Repr {
                src_port: 7,
                dst_port: 9000,
                payload_len: payload.len(),
            };
            let body = p.payload_mut();
            body[8..].copy_from_slice(payload);
            u.emit(&mut pmip_wire::udp::Packet::new_unchecked(body), HOME, HA);
        }
        let len = pkt.len() - room;
        let r = Encapsulator::new(COA, HA, encapsulation)
            .encapsulate(&mut pkt, room, len, false)
            .unwrap();
        RawSocket::sender()
            .unwrap()
            .send_to(&pkt[r], HA)
            .await
            .unwrap();
        inner
    })
}

fn round_trip(encapsulation: Encapsulation) {
    let ha = Netns::new(&unique_name("pmipt-ha")).unwrap();
    let coa = Netns::new(&unique_name("pmipt-co")).unwrap();
    ha.veth_to("h0", &coa, "c0").unwrap();
    ha.addr("h0", "192.0.2.1/24").unwrap();
    coa.addr("c0", "192.0.2.2/24").unwrap();

    let (ready_tx, ready_rx) = mpsc::channel();
    // The care-of side must listen before the home agent sends.
    let coa_thread = coa.thread(move || care_of(encapsulation)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (enc, reverse) = ha.run(move || home_agent(encapsulation, ready_tx)).unwrap();
    ready_rx.recv().unwrap();
    let inner = coa_thread.join().unwrap().unwrap();
    let p = ipv4::Packet::new_checked(&inner[..]).unwrap();
    assert_eq!(p.src_addr(), HA);
    assert_eq!(p.protocol(), protocol::UDP);
    assert!(inner.ends_with(b"to the mobile node"));
    assert_eq!(reverse, b"from the mobile node");
    assert_eq!(enc, 1);
}

#[test]
fn ip_in_ip_both_ways() {
    round_trip(Encapsulation::IpInIp);
}

#[test]
fn gre_with_key_both_ways() {
    round_trip(Encapsulation::Gre {
        key: Some(7),
        sequence: false,
    });
}
