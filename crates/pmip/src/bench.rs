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

/// The home agent daemon's registration rate: `count` Registration
/// Requests (distinct home addresses, HMAC-MD5) from a co-located
/// care-of address, `window` outstanding at a time, next to a bare UDP
/// echo over the same path with the same window. Also the daemon's
/// resident memory before and after holding `count` bindings.
pub fn home_agent(count: u32, window: u32) -> io::Result<()> {
    use pmip_wire::auth::Algorithm;
    use pmip_wire::extension::{self, Extensions, kind};
    use pmip_wire::identification::Identification;
    use pmip_wire::registration::{RequestFlags, RequestRepr};

    const PMIP_HA: Ipv4Addr = Ipv4Addr::new(10, 16, 0, 1);
    const COA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    let key: [u8; 16] = *b"0123456789abcdef";
    println!(
        "pmip bench ha: {count} registrations (HMAC-MD5, distinct home addresses), {window} outstanding"
    );

    let mut ha = Netns::new(&unique_name("pmipb-ha"))?;
    let mn = Netns::new(&unique_name("pmipb-mn"))?;
    let home = Netns::new(&unique_name("pmipb-hl"))?;
    ha.veth_to("FastEthernet0", &home, "h0")?;
    ha.veth_to("eth1", &mn, "m0")?;
    mn.addr("m0", "192.0.2.2/24")?;
    mn.ip(&["route", "add", "10.16.0.0/12", "via", "192.0.2.1"])?;
    let dir = std::env::temp_dir().join(unique_name("pmip-bench-ha"));
    std::fs::create_dir_all(&dir)?;
    let cfg = dir.join("ha.cfg");
    std::fs::write(
        &cfg,
        "hostname benchha\n\
         interface FastEthernet0\n ip address 10.16.0.1 255.240.0.0\n\
         interface eth1\n ip address 192.0.2.1 255.255.255.0\n\
         router mobile\n\
         ip mobile home-agent lifetime 3600\n\
         ip mobile host 10.16.0.2 10.31.255.254 interface FastEthernet0\n\
         ip mobile secure host 10.16.0.2 10.31.255.254 spi 100 key hex 30313233343536373839616263646566 algorithm hmac-md5\n",
    )?;
    let control = dir.join("ha.sock");
    let me = std::env::current_exe()?;
    let me = me.to_str().unwrap_or("pmip");
    let pid = ha.spawn(
        me,
        &[
            "run",
            cfg.to_str().unwrap_or_default(),
            "--control",
            control.to_str().unwrap_or_default(),
        ],
        Stdio::null(),
        Stdio::null(),
    )?;
    let start = std::time::Instant::now();
    while !control.exists() {
        if start.elapsed() > Duration::from_secs(10) {
            return Err(io::Error::other("home agent did not start"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let rss_before = rss_kib(pid)?;

    // Baseline: a bare UDP echo in the home agent's namespace.
    let echo = ha.thread(|| -> io::Result<()> {
        let s = std::net::UdpSocket::bind((Ipv4Addr::new(192, 0, 2, 1), 7777))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        let mut b = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut b) {
            s.send_to(&b[..n], from)?;
        }
        Ok(())
    })?;
    std::thread::sleep(Duration::from_millis(100));
    let (echo_time, _, echoed) = mn.run(move || {
        drive(
            std::net::SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 7777),
            count,
            window,
            |i| i.to_be_bytes().repeat(16),
            |_| true,
        )
    })??;
    let _ = echo.join();

    let (reg_time, replies, accepted) = mn.run(move || {
        let base = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        drive(
            std::net::SocketAddrV4::new(PMIP_HA, 434),
            count,
            window,
            |i| {
                let home = Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 16, 0, 2)) + i);
                let mut m = RequestRepr {
                    flags: RequestFlags {
                        decapsulation_by_mn: true,
                        ..Default::default()
                    },
                    lifetime: 3600,
                    home_address: home,
                    home_agent: PMIP_HA,
                    care_of_address: COA,
                    identification: Identification::from_unix(base),
                    extensions: Extensions::new(),
                }
                .to_vec();
                extension::append_authentication(
                    &mut m,
                    kind::MOBILE_HOME_AUTH,
                    0x100,
                    Algorithm::HmacMd5,
                    &key,
                );
                m
            },
            |reply| reply.len() > 1 && reply[0] == 3 && reply[1] == 0,
        )
    })??;
    let rss_after = rss_kib(pid)?;
    let bindings = std::process::Command::new(me)
        .args([
            "exec",
            "--control",
            control.to_str().unwrap_or_default(),
            "--json",
            "show",
            "ip",
            "mobile",
            "binding",
        ])
        .output()?;
    let v: serde_json::Value = serde_json::from_slice(&bindings.stdout).unwrap_or_default();
    let held = v["total"].as_u64().unwrap_or(0);
    drop(ha);
    let _ = std::fs::remove_dir_all(&dir);

    let echo_rate = f64::from(echoed) / echo_time.as_secs_f64();
    let reg_rate = f64::from(accepted) / reg_time.as_secs_f64();
    println!("  bare UDP echo (same path)        {echo_rate:>10.0} /s  ({echoed} of {count})");
    println!(
        "  registrations accepted           {reg_rate:>10.0} /s  ({accepted} accepted, {replies} replies)   {:.2} of echo",
        reg_rate / echo_rate
    );
    println!(
        "  daemon memory: {rss_before} KiB idle, {rss_after} KiB with {held} bindings ({:.0} bytes per binding)",
        (rss_after.saturating_sub(rss_before) as f64 * 1024.0) / held.max(1) as f64
    );
    Ok(())
}

fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS"))
}

/// Sends `count` datagrams made by `make`, at most `window` unanswered,
/// and counts answers and the ones `good` accepts. Returns the time from
/// first send to last answer.
fn drive(
    to: std::net::SocketAddrV4,
    count: u32,
    window: u32,
    make: impl Fn(u32) -> Vec<u8>,
    good: impl Fn(&[u8]) -> bool + Send + 'static,
) -> io::Result<(Duration, u32, u32)> {
    use std::sync::atomic::{AtomicU32, Ordering};
    let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    let rx = s.try_clone()?;
    let answered = Arc::new(AtomicU32::new(0));
    let counter = answered.clone();
    let receiver = std::thread::spawn(move || {
        let mut b = [0u8; 2048];
        let mut good_count = 0u32;
        let mut last = std::time::Instant::now();
        while counter.load(Ordering::Relaxed) < count {
            match rx.recv(&mut b) {
                Ok(n) => {
                    if good(&b[..n]) {
                        good_count += 1;
                    }
                    counter.fetch_add(1, Ordering::Relaxed);
                    last = std::time::Instant::now();
                }
                Err(_) => break,
            }
        }
        (good_count, last)
    });
    let start = std::time::Instant::now();
    let mut retry_at = std::time::Instant::now() + Duration::from_secs(1);
    let mut i = 0;
    while i < count {
        if i - answered.load(Ordering::Relaxed).min(i) >= window {
            // Window full; if answers stopped (loss), let one more go.
            if std::time::Instant::now() < retry_at {
                std::thread::yield_now();
                continue;
            }
        }
        s.send_to(&make(i), to)?;
        i += 1;
        retry_at = std::time::Instant::now() + Duration::from_millis(200);
    }
    let (good_count, last) = receiver
        .join()
        .map_err(|_| io::Error::other("receiver panicked"))?;
    Ok((
        last.duration_since(start),
        answered.load(Ordering::Relaxed),
        good_count,
    ))
}
