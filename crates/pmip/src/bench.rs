//! `pmip bench tunnel`: TCP throughput (iperf3) from a correspondent to a
//! mobile node away from home, through our user-space home agent tunnel
//! and foreign agent delivery, next to the same iperf3 through plain
//! kernel routing over the same namespaces' shape, in the same run.
//!
//! Topology (every piece in a namespace this command creates and removes):
//!
//! ```text
//!  cn 203.0.113.10 ── 203.0.113.1 ha 192.0.2.1 ── 192.0.2.2 fa 198.51.100.1 ── mn 10.1.0.50
//!                     (home agent: tunnel)         (foreign agent: deliver)     (away from home)
//! ```

use pmip_netns::{Netns, unique_name};
use pmip_platform::dataplane::{DataPlane, Delivery};
use pmip_platform::netlink::Netlink;
use pmip_platform::packet::PacketSocket;
use pmip_platform::tun::Tun;
use pmip_wire::tunnel::Encapsulation;
use std::io;
use std::net::Ipv4Addr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

const HA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const FA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const MN: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);

struct Campus {
    cn: Netns,
    ha: Netns,
    fa: Netns,
    mn: Netns,
}

fn build() -> io::Result<Campus> {
    let c = Campus {
        cn: Netns::new(&unique_name("pmipb-cn"))?,
        ha: Netns::new(&unique_name("pmipb-ha"))?,
        fa: Netns::new(&unique_name("pmipb-fa"))?,
        mn: Netns::new(&unique_name("pmipb-mn"))?,
    };
    c.cn.veth_to("c0", &c.ha, "hc")?;
    c.cn.addr("c0", "203.0.113.10/24")?;
    c.cn.ip(&["route", "add", "default", "via", "203.0.113.1"])?;
    c.ha.addr("hc", "203.0.113.1/24")?;
    c.ha.veth_to("h0", &c.fa, "f0")?;
    c.ha.addr("h0", "192.0.2.1/24")?;
    c.fa.addr("f0", "192.0.2.2/24")?;
    c.fa.veth_to("f1", &c.mn, "m0")?;
    c.fa.addr("f1", "198.51.100.1/24")?;
    c.fa.ip(&["route", "add", "203.0.113.0/24", "via", "192.0.2.1"])?;
    // The mobile node keeps its home address and nothing else; the foreign
    // agent answers its ARP for off-link destinations (proxy_arp), as the
    // proxy AP will arrange on a real visited link.
    c.mn.addr("m0", "10.1.0.50/32")?;
    c.mn.ip(&["route", "add", "default", "dev", "m0"])?;
    for ns in [&c.ha, &c.fa] {
        ns.sysctl("net.ipv4.ip_forward=1")?;
        ns.sysctl("net.ipv4.conf.all.rp_filter=0")?;
        ns.sysctl("net.ipv4.conf.default.rp_filter=0")?;
    }
    c.fa.sysctl("net.ipv4.conf.f1.rp_filter=0")?;
    c.fa.sysctl("net.ipv4.conf.f1.proxy_arp=1")?;
    Ok(c)
}

fn mac_of(ns: &Netns, dev: &str) -> io::Result<[u8; 6]> {
    let out = ns.exec_ok("cat", &[&format!("/sys/class/net/{dev}/address")])?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut mac = [0u8; 6];
    for (m, part) in mac.iter_mut().zip(text.trim().split(':')) {
        *m = u8::from_str_radix(part, 16).map_err(io::Error::other)?;
    }
    Ok(mac)
}

/// iperf3 from cn to mn; returns received bits per second.
fn iperf(c: &mut Campus, seconds: u32) -> io::Result<f64> {
    c.mn.spawn(
        "iperf3",
        &["-s", "-1", "-B", "10.1.0.50"],
        Stdio::null(),
        Stdio::null(),
    )?;
    std::thread::sleep(Duration::from_millis(300));
    let secs = seconds.to_string();
    let out =
        c.cn.exec_ok("iperf3", &["-c", "10.1.0.50", "-t", &secs, "-J"])?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(io::Error::other)?;
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .ok_or_else(|| io::Error::other("iperf3 printed no throughput"))
}

fn rt() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs the home agent and foreign agent data planes in their namespaces
/// until `stop` is dropped.
type Stop = Vec<mpsc::Sender<()>>;
type Threads = Vec<std::thread::JoinHandle<io::Result<io::Result<()>>>>;

fn start_tunnel(c: &Campus, enc: Encapsulation) -> io::Result<(Stop, Threads)> {
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (stop_tx2, stop_rx2) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
    let mn_mac = mac_of(&c.mn, "m0")?;
    let ready_fa = ready_tx.clone();
    let fa = c.fa.thread(move || -> io::Result<()> {
        rt()?.block_on(async move {
            let setup = async {
                let nl = Netlink::new().map_err(io::Error::other)?;
                let tun = Arc::new(Tun::create("pmip0")?);
                let idx = nl.link_index("pmip0").await.map_err(io::Error::other)?;
                nl.link_up(idx).await.map_err(io::Error::other)?;
                let f1 = nl.link_index("f1").await.map_err(io::Error::other)?;
                let dp = DataPlane::new();
                dp.add_visitor(
                    MN,
                    FA,
                    HA,
                    Delivery::Link {
                        ifindex: f1,
                        mac: mn_mac,
                    },
                    None,
                );
                let link = Arc::new(PacketSocket::new()?);
                Ok::<_, io::Error>(tokio::spawn(dp.run(tun, Some(link))))
            };
            let task = match setup.await {
                Ok(t) => {
                    let _ = ready_fa.send(Ok(()));
                    t
                }
                Err(e) => {
                    let _ = ready_fa.send(Err(io::Error::new(e.kind(), e.to_string())));
                    return Err(e);
                }
            };
            let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
            task.abort();
            Ok(())
        })
    })?;
    let ha = c.ha.thread(move || -> io::Result<()> {
        rt()?.block_on(async move {
            let setup = async {
                let nl = Netlink::new().map_err(io::Error::other)?;
                let tun = Arc::new(Tun::create("pmip0")?);
                let idx = nl.link_index("pmip0").await.map_err(io::Error::other)?;
                // Path MTU: the tunnel header must fit in the 1500-byte links.
                nl.set_mtu(idx, 1500 - enc.overhead() as u32)
                    .await
                    .map_err(io::Error::other)?;
                nl.link_up(idx).await.map_err(io::Error::other)?;
                nl.add_route(MN, 32, None, Some(idx))
                    .await
                    .map_err(io::Error::other)?;
                let dp = DataPlane::new();
                dp.add_binding_tunnel(MN, HA, FA, enc, false);
                Ok::<_, io::Error>(tokio::spawn(dp.run(tun, None)))
            };
            let task = match setup.await {
                Ok(t) => {
                    let _ = ready_tx.send(Ok(()));
                    t
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                    return Err(e);
                }
            };
            let _ = tokio::task::spawn_blocking(move || stop_rx2.recv()).await;
            task.abort();
            Ok(())
        })
    })?;
    for _ in 0..2 {
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| io::Error::other("data plane did not start"))??;
    }
    Ok((vec![stop_tx, stop_tx2], vec![fa, ha]))
}

pub fn tunnel(seconds: u32) -> io::Result<()> {
    println!(
        "pmip bench tunnel: iperf3 TCP, {seconds} s per run, correspondent -> mobile node away from home"
    );
    let mut baseline = build()?;
    // Plain kernel routing along the same path.
    baseline
        .ha
        .ip(&["route", "add", "10.1.0.50/32", "via", "192.0.2.2"])?;
    baseline
        .fa
        .ip(&["route", "add", "10.1.0.50/32", "dev", "f1"])?;
    let kernel = iperf(&mut baseline, seconds)?;
    drop(baseline);
    println!("  kernel-routed path          {:>8.0} Mbit/s", kernel / 1e6);

    let mut rows = Vec::new();
    for (label, enc) in [
        ("pmip IP-in-IP tunnel", Encapsulation::IpInIp),
        (
            "pmip GRE tunnel (key)",
            Encapsulation::Gre {
                key: Some(1),
                sequence: false,
            },
        ),
    ] {
        let mut campus = build()?;
        let (stop, threads) = start_tunnel(&campus, enc)?;
        let r = iperf(&mut campus, seconds);
        drop(stop);
        for t in threads {
            let _ = t.join();
        }
        drop(campus);
        let bps = r?;
        println!(
            "  {label:<27} {:>8.0} Mbit/s   {:.2} of kernel",
            bps / 1e6,
            bps / kernel
        );
        rows.push((label, bps));
    }
    Ok(())
}
