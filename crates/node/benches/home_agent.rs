//! The home agent node alone (sans-IO): registrations (distinct home
//! addresses, HMAC-MD5) handed to `Node::handle` as datagrams and every
//! output polled, as the daemon's loop does, without sockets, kernel or
//! disk. What `pmip bench ha` measures through the daemon is this plus
//! the I/O; the difference is the daemon's share.
//!
//! `cargo bench -p pmip-node --bench home_agent`

use pmip_config::Config;
use pmip_engine::time::{Instant, Now};
use pmip_node::{Input, Install, Node, Output};
use pmip_wire::auth::Algorithm;
use pmip_wire::extension::{self, Extensions, kind};
use pmip_wire::identification::Identification;
use pmip_wire::registration::{RequestFlags, RequestRepr};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant as WallClock};

const HA: Ipv4Addr = Ipv4Addr::new(10, 16, 0, 1);
const COA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const COUNT: u32 = 100_000;
const KEY: &[u8; 16] = b"0123456789abcdef";

fn request(i: u32, unix: Duration) -> Vec<u8> {
    let mut m = RequestRepr {
        flags: RequestFlags {
            decapsulation_by_mn: true,
            ..Default::default()
        },
        lifetime: 3600,
        home_address: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 16, 0, 2)) + i),
        home_agent: HA,
        care_of_address: COA,
        identification: Identification::from_unix(unix),
        extensions: Extensions::new(),
    }
    .to_vec();
    extension::append_authentication(
        &mut m,
        kind::MOBILE_HOME_AUTH,
        0x100,
        Algorithm::HmacMd5,
        KEY,
    );
    m
}

fn main() {
    let config = Config::parse(
        "hostname benchha\n\
         interface FastEthernet0\n ip address 10.16.0.1 255.240.0.0\n\
         interface eth1\n ip address 192.0.2.1 255.255.255.0\n\
         router mobile\n\
         ip mobile home-agent lifetime 3600\n\
         ip mobile host 10.16.0.2 10.31.255.254 interface FastEthernet0\n\
         ip mobile secure host 10.16.0.2 10.31.255.254 spi 100 key hex 30313233343536373839616263646566 algorithm hmac-md5\n",
    )
    .expect("bench configuration");
    let unix = Duration::from_secs(1_800_000_000);
    let now = Now::new(Instant::ZERO, unix);
    let requests: Vec<Vec<u8>> = (0..COUNT).map(|i| request(i, unix)).collect();
    for round in 0..3 {
        let mut node = Node::new(config.clone(), now);
        while node.poll_output().is_some() {}
        let local = SocketAddrV4::new(HA, 434);
        let remote = SocketAddrV4::new(COA, 50_000);
        let (mut outputs, mut bound) = (0u64, 0u32);
        let start = WallClock::now();
        for r in &requests {
            node.handle(
                now,
                Input::Datagram {
                    local,
                    remote,
                    payload: r,
                },
            );
            while let Some(o) = node.poll_output() {
                outputs += 1;
                if matches!(o, Output::Install(Install::BindingUp { .. })) {
                    bound += 1;
                }
            }
        }
        let took = start.elapsed();
        assert_eq!(bound, COUNT, "every registration accepted");
        println!(
            "round {round}: {COUNT} registrations in {:.3} s: {:.0} /s, {:.2} µs each ({outputs} outputs, {bound} bindings)",
            took.as_secs_f64(),
            f64::from(COUNT) / took.as_secs_f64(),
            took.as_secs_f64() * 1e6 / f64::from(COUNT),
        );
    }
}
