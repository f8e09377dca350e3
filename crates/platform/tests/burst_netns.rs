//! Bursts through the user-space data plane, which reads, receives and
//! sends in batches: every packet of a burst comes out of the tunnel
//! whole, once and in order (GRE sequence numbers follow the packets),
//! its UDP checksum intact, and every one is counted once, both ways.

use pmip_netns::{Netns, unique_name};
use pmip_platform::dataplane::DataPlane;
use pmip_platform::netlink::Netlink;
use pmip_platform::raw::RawSocket;
use pmip_platform::tun::Tun;
use pmip_wire::ipv4::{self, protocol};
use pmip_wire::tunnel::{self, Encapsulation, Encapsulator};
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const HA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const COA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const HOME: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);
const BURST: u32 = 2000;
const PAYLOAD: usize = 1000;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Datagram `i` of a burst: its index, then filler that depends on it.
fn payload(i: u32) -> Vec<u8> {
    let mut p = i.to_be_bytes().to_vec();
    p.extend((0..PAYLOAD - 4).map(|k| (k as u32 ^ i) as u8));
    p
}

/// A socket buffer large enough for a whole burst (as root, past
/// rmem_max), so the test measures the data plane, not the receiver.
fn big_receive_buffer(fd: i32) {
    let bytes: libc::c_int = 16 << 20;
    // SAFETY: setsockopt reads one c_int from a valid pointer.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

struct HomeAgentSaw {
    encapsulated: u64,
    decapsulated: u64,
    send_errors: u64,
    /// Indexes of the reverse-tunnelled datagrams, in arrival order.
    reverse: Vec<u32>,
}

/// The home agent: sends a burst to the home address (into the tunnel),
/// then receives the burst the care-of side reverse-tunnels back.
fn home_agent(
    encapsulation: Encapsulation,
    ready: mpsc::Sender<()>,
    reverse_sent: mpsc::Receiver<()>,
) -> HomeAgentSaw {
    rt().block_on(async move {
        let nl = Netlink::new().unwrap();
        let tun = Arc::new(Tun::create("pmip0").unwrap());
        let idx = nl.link_index("pmip0").await.unwrap();
        nl.link_up(idx).await.unwrap();
        nl.add_route(HOME, 32, None, Some(idx)).await.unwrap();
        let dp = DataPlane::new();
        dp.add_binding_tunnel(HOME, HA, COA, encapsulation, true);
        let task = tokio::spawn(dp.clone().run(tun, None));
        let cn = UdpSocket::bind((HA, 9000)).unwrap();
        big_receive_buffer(cn.as_raw_fd());
        cn.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let tx = UdpSocket::bind((HA, 0)).unwrap();
        for i in 0..BURST {
            tx.send_to(&payload(i), (HOME, 7)).unwrap();
        }
        ready.send(()).unwrap();
        let reverse = tokio::task::spawn_blocking(move || {
            reverse_sent.recv().unwrap();
            let mut got = Vec::new();
            let mut b = vec![0u8; 2048];
            let deadline = Instant::now() + Duration::from_secs(5);
            while got.len() < BURST as usize && Instant::now() < deadline {
                if let Ok((n, _)) = cn.recv_from(&mut b) {
                    assert_eq!(n, PAYLOAD, "a reverse datagram arrived whole");
                    let i = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    assert_eq!(&b[..n], &payload(i)[..]);
                    got.push(i);
                }
            }
            got
        })
        .await
        .unwrap();
        // The counters move before the packets leave; they are settled.
        let saw = HomeAgentSaw {
            encapsulated: dp.counters.encapsulated.load(Relaxed),
            decapsulated: dp.counters.decapsulated.load(Relaxed),
            send_errors: dp.counters.send_errors.load(Relaxed),
            reverse,
        };
        task.abort();
        let _ = task.await;
        nl.remove_all().await;
        saw
    })
}

/// The care-of side: receives the burst from the tunnel (index and GRE
/// sequence of each, in arrival order), then tunnels a burst back.
fn care_of(
    encapsulation: Encapsulation,
    listening: mpsc::Sender<()>,
    reverse_sent: mpsc::Sender<()>,
) -> Vec<(u32, Option<u32>)> {
    let proto = match encapsulation {
        Encapsulation::IpInIp => protocol::IPIP,
        Encapsulation::Gre { .. } => protocol::GRE,
    };
    rt().block_on(async move {
        let rx = RawSocket::receiver(proto).unwrap();
        listening.send(()).unwrap();
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while got.len() < BURST as usize {
            let Ok(n) = tokio::time::timeout(Duration::from_secs(5), rx.recv(&mut buf)).await
            else {
                break;
            };
            let n = n.unwrap();
            let d = tunnel::decapsulate(&buf[..n]).unwrap();
            assert_eq!((d.outer_src, d.outer_dst, d.inner_dst), (HA, COA, HOME));
            let inner = ipv4::Packet::new_checked(&buf[d.inner.clone()]).unwrap();
            let udp = inner.payload();
            assert_eq!(udp.len(), 8 + PAYLOAD, "a tunnelled datagram arrived whole");
            // Only the TTL changed inside: the UDP checksum still holds.
            let pseudo = pmip_wire::checksum::pseudo_header(
                inner.src_addr().octets(),
                HOME.octets(),
                protocol::UDP,
                udp.len() as u16,
            );
            assert_eq!(
                pmip_wire::checksum::combine(&[pseudo, pmip_wire::checksum::sum(udp)]),
                0xffff,
                "UDP checksum"
            );
            let i = u32::from_be_bytes([udp[8], udp[9], udp[10], udp[11]]);
            assert_eq!(&udp[8..], &payload(i)[..]);
            got.push((i, d.gre_sequence));
        }

        // The burst back, reverse-tunnelled from the home address.
        let sender = RawSocket::sender().unwrap();
        let mut enc = Encapsulator::new(COA, HA, encapsulation);
        for i in 0..BURST {
            let body = payload(i);
            let ip = ipv4::Repr::new(HOME, HA, protocol::UDP, 64, 8 + body.len());
            let room = encapsulation.overhead();
            let mut pkt = vec![0u8; room + ip.buffer_len()];
            {
                let mut p = ipv4::Packet::new_unchecked(&mut pkt[room..]);
                ip.emit(&mut p);
                let u = pmip_wire::udp::Repr {
                    src_port: 7,
                    dst_port: 9000,
                    payload_len: body.len(),
                };
                let b = p.payload_mut();
                b[8..].copy_from_slice(&body);
                u.emit(&mut pmip_wire::udp::Packet::new_unchecked(b), HOME, HA);
            }
            let len = pkt.len() - room;
            let r = enc.encapsulate(&mut pkt, room, len, false).unwrap();
            sender.send_to(&pkt[r], HA).await.unwrap();
        }
        reverse_sent.send(()).unwrap();
        got
    })
}

fn burst(encapsulation: Encapsulation) {
    let ha = Netns::new(&unique_name("pmipt-ha")).unwrap();
    let coa = Netns::new(&unique_name("pmipt-co")).unwrap();
    ha.veth_to("h0", &coa, "c0").unwrap();
    ha.addr("h0", "192.0.2.1/24").unwrap();
    coa.addr("c0", "192.0.2.2/24").unwrap();

    let (listening_tx, listening_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (sent_tx, sent_rx) = mpsc::channel();
    let coa_thread = coa
        .thread(move || care_of(encapsulation, listening_tx, sent_tx))
        .unwrap();
    listening_rx.recv().unwrap();
    let saw = ha
        .run(move || home_agent(encapsulation, ready_tx, sent_rx))
        .unwrap();
    ready_rx.recv().unwrap();
    let forward = coa_thread.join().unwrap().unwrap();

    let indexes: Vec<u32> = forward.iter().map(|(i, _)| *i).collect();
    assert_eq!(
        indexes,
        (0..BURST).collect::<Vec<_>>(),
        "every datagram tunnelled once, in order"
    );
    if let Encapsulation::Gre { sequence: true, .. } = encapsulation {
        let sequences: Vec<Option<u32>> = forward.iter().map(|(_, s)| *s).collect();
        assert_eq!(
            sequences,
            (0..BURST).map(Some).collect::<Vec<_>>(),
            "GRE sequence numbers follow the packets (RFC 2890 2.2)"
        );
    }
    let mut reverse = saw.reverse.clone();
    reverse.sort_unstable();
    assert_eq!(
        reverse,
        (0..BURST).collect::<Vec<_>>(),
        "every reverse-tunnelled datagram delivered once"
    );
    assert_eq!(saw.encapsulated, u64::from(BURST));
    assert_eq!(saw.decapsulated, u64::from(BURST));
    assert_eq!(saw.send_errors, 0);
}

#[test]
fn ip_in_ip_burst_both_ways() {
    burst(Encapsulation::IpInIp);
}

#[test]
fn gre_burst_with_sequence_numbers_both_ways() {
    burst(Encapsulation::Gre {
        key: Some(7),
        sequence: true,
    });
}
