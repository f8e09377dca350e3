//! The visiting client's port filter with real frames: broadcasts and
//! UDP from port 434 stop at the port, other unicast passes.

use pmip_netns::{Netns, unique_name};
use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

#[test]
fn broadcasts_and_registration_replies_stop_at_the_port() {
    let ap = Netns::new(&unique_name("pmipt-iap")).unwrap();
    let sta = Netns::new(&unique_name("pmipt-ist")).unwrap();
    ap.veth_to("sta1", &sta, "wlan0").unwrap();
    ap.addr("sta1", "10.9.0.1/24").unwrap();
    sta.addr("wlan0", "10.9.0.50/24").unwrap();
    ap.exec_ok("ping", &["-c", "1", "-W", "2", "10.9.0.50"])
        .unwrap();
    ap.run(|| pmip_platform::isolation::isolate("sta1").unwrap())
        .unwrap();

    let receiver = sta
        .thread(|| {
            let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 9999)).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(800)))
                .unwrap();
            let mut got = Vec::new();
            let mut b = [0u8; 32];
            while let Ok((n, _)) = s.recv_from(&mut b) {
                got.push(b[..n].to_vec());
            }
            got
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    ap.run(|| {
        let reply = UdpSocket::bind((Ipv4Addr::new(10, 9, 0, 1), 434)).unwrap();
        reply
            .send_to(b"from 434", (Ipv4Addr::new(10, 9, 0, 50), 9999))
            .unwrap();
        let b = UdpSocket::bind((Ipv4Addr::new(10, 9, 0, 1), 0)).unwrap();
        b.set_broadcast(true).unwrap();
        b.send_to(b"broadcast", (Ipv4Addr::new(10, 9, 0, 255), 9999))
            .unwrap();
        b.send_to(b"unicast", (Ipv4Addr::new(10, 9, 0, 50), 9999))
            .unwrap();
    })
    .unwrap();
    let got = receiver.join().unwrap().unwrap();
    assert_eq!(
        got,
        vec![b"unicast".to_vec()],
        "only plain unicast reaches the visitor"
    );

    ap.run(|| pmip_platform::isolation::release("sta1").unwrap())
        .unwrap();
    let receiver = sta
        .thread(|| {
            let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 9999)).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(800)))
                .unwrap();
            let mut b = [0u8; 32];
            s.recv_from(&mut b).map(|(n, _)| b[..n].to_vec()).ok()
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    ap.run(|| {
        let b = UdpSocket::bind((Ipv4Addr::new(10, 9, 0, 1), 0)).unwrap();
        b.set_broadcast(true).unwrap();
        b.send_to(b"broadcast", (Ipv4Addr::new(10, 9, 0, 255), 9999))
            .unwrap();
    })
    .unwrap();
    assert_eq!(
        receiver.join().unwrap().unwrap(),
        Some(b"broadcast".to_vec()),
        "released: broadcasts pass again"
    );
}
