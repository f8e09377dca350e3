//! `pmip bench tunnel`: TCP throughput (iperf3) from a correspondent to a
//! mobile node away from home, through the `pmip` home agent and foreign
//! agent daemons (HA tunnel, FA delivery), each mode once with the eBPF
//! fast path and once with user space only (`--no-fastpath`), next to the
//! same iperf3 over the same namespaces with plain kernel routing, in the
//! same run.
//!
//! Topology (every piece in a namespace this command creates and removes):
//!
//! ```text
//!  cn 203.0.113.10 ── 203.0.113.1 ha 192.0.2.1 ── 192.0.2.2 fa 198.51.100.1 ── mn 10.1.0.50
//!                     (home agent: tunnel)         (foreign agent: deliver)     (away from home)
//! ```

use pmip_netns::{Netns, unique_name};
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

struct Campus {
    cn: Netns,
    ha: Netns,
    fa: Netns,
    mn: Netns,
    _home_link: Netns,
    dir: PathBuf,
}

impl Drop for Campus {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn build() -> io::Result<Campus> {
    let c = Campus {
        cn: Netns::new(&unique_name("pmipb-cn"))?,
        ha: Netns::new(&unique_name("pmipb-ha"))?,
        fa: Netns::new(&unique_name("pmipb-fa"))?,
        mn: Netns::new(&unique_name("pmipb-mn"))?,
        _home_link: Netns::new(&unique_name("pmipb-hl"))?,
        dir: std::env::temp_dir().join(unique_name("pmip-bench-tunnel")),
    };
    std::fs::create_dir_all(&c.dir)?;
    c.cn.veth_to("c0", &c.ha, "hc")?;
    c.cn.addr("c0", "203.0.113.10/24")?;
    c.cn.ip(&["route", "add", "default", "via", "203.0.113.1"])?;
    c.ha.addr("hc", "203.0.113.1/24")?;
    c.ha.veth_to("FastEthernet0", &c._home_link, "h0")?;
    c.ha.addr("FastEthernet0", "10.1.0.1/24")?;
    c.ha.veth_to("eth1", &c.fa, "eth1")?;
    c.ha.addr("eth1", "192.0.2.1/24")?;
    c.fa.addr("eth1", "192.0.2.2/24")?;
    c.ha.ip(&["route", "add", "198.51.100.0/24", "via", "192.0.2.2"])?;
    c.fa.veth_to("FastEthernet0", &c.mn, "m0")?;
    c.fa.addr("FastEthernet0", "198.51.100.1/24")?;
    c.fa.ip(&["route", "add", "203.0.113.0/24", "via", "192.0.2.1"])?;
    c.fa.ip(&["route", "add", "10.1.0.0/24", "via", "192.0.2.1"])?;
    // The mobile node keeps its home address; the foreign agent is its
    // router on the visited link (RFC 5944 4.2.2).
    c.mn.away_from_home("m0", "10.1.0.50", "198.51.100.1")?;
    for ns in [&c.ha, &c.fa] {
        ns.sysctl("net.ipv4.ip_forward=1")?;
        ns.sysctl("net.ipv4.conf.all.rp_filter=0")?;
        ns.sysctl("net.ipv4.conf.default.rp_filter=0")?;
    }
    Ok(c)
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

const HA_CONFIG: &str = "hostname benchha
interface FastEthernet0
 ip address 10.1.0.1 255.255.255.0
router mobile
ip mobile home-agent lifetime 3600
ip mobile host 10.1.0.10 10.1.0.99 interface FastEthernet0
ip mobile secure host 10.1.0.10 10.1.0.99 spi 100 key hex 30313233343536373839616263646566 algorithm hmac-md5
";

const FA_CONFIG: &str = "hostname benchfa
interface FastEthernet0
 ip address 198.51.100.1 255.255.255.0
 ip irdp
 ip mobile foreign-service reverse-tunnel
router mobile
ip mobile foreign-agent care-of FastEthernet0
";

/// Starts `pmip run` in `ns` with `config`; returns its control socket
/// and process id once it is ready.
fn run_daemon(ns: &mut Netns, dir: &Path, name: &str, config: &str) -> io::Result<(PathBuf, u32)> {
    run_daemon_with(ns, dir, name, config, &[], Stdio::null())
}

/// [`run_daemon`] with more arguments to `pmip run` and its log going to
/// `stderr`.
fn run_daemon_with(
    ns: &mut Netns,
    dir: &Path,
    name: &str,
    config: &str,
    extra: &[&str],
    stderr: Stdio,
) -> io::Result<(PathBuf, u32)> {
    let cfg = dir.join(format!("{name}.cfg"));
    std::fs::write(&cfg, config)?;
    let control = dir.join(format!("{name}.sock"));
    let me = std::env::current_exe()?;
    let mut args = vec![
        "run",
        cfg.to_str().unwrap_or_default(),
        "--control",
        control.to_str().unwrap_or_default(),
    ];
    args.extend_from_slice(extra);
    let pid = ns.spawn(me.to_str().unwrap_or("pmip"), &args, Stdio::null(), stderr)?;
    let start = std::time::Instant::now();
    while !control.exists() {
        if start.elapsed() > Duration::from_secs(10) {
            return Err(io::Error::other(format!("{name} did not start")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((control, pid))
}

/// The mobile node registers through the foreign agent (as the proxy AP
/// will on its behalf).
fn register_via_fa(gre: bool, reverse: bool) -> io::Result<u8> {
    use pmip_wire::auth::Algorithm;
    use pmip_wire::extension::{self, Extensions, kind};
    use pmip_wire::identification::Identification;
    use pmip_wire::registration::{RequestFlags, RequestRepr};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut m = RequestRepr {
        flags: RequestFlags {
            gre,
            reverse_tunnel: reverse,
            ..Default::default()
        },
        lifetime: 3600,
        home_address: Ipv4Addr::new(10, 1, 0, 50),
        home_agent: Ipv4Addr::new(10, 1, 0, 1),
        care_of_address: Ipv4Addr::new(198, 51, 100, 1),
        identification: Identification::from_unix(now),
        extensions: Extensions::new(),
    }
    .to_vec();
    extension::append_authentication(
        &mut m,
        kind::MOBILE_HOME_AUTH,
        0x100,
        Algorithm::HmacMd5,
        b"0123456789abcdef",
    );
    let s = std::net::UdpSocket::bind((Ipv4Addr::new(10, 1, 0, 50), 434))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.send_to(&m, (Ipv4Addr::new(198, 51, 100, 1), 434))?;
    let mut b = [0u8; 256];
    let n = s.recv(&mut b)?;
    if n < 2 {
        return Err(io::Error::other("short registration reply"));
    }
    Ok(b[1])
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
        .ip(&["route", "add", "10.1.0.50/32", "dev", "FastEthernet0"])?;
    let kernel = iperf(&mut baseline, seconds)?;
    drop(baseline);
    println!(
        "  {:<28} {:>6.0} Mbit/s",
        "kernel-routed path",
        kernel / 1e6
    );

    println!(
        "  {:<28} {:>29}   {:>29}",
        "pmip HA+FA", "eBPF fast path", "user space (--no-fastpath)"
    );
    for (label, gre, reverse) in [
        ("IP-in-IP", false, false),
        ("GRE", true, false),
        ("IP-in-IP, reverse tunnel", false, true),
    ] {
        let fast = tunnel_run(gre, reverse, true, seconds, kernel)?;
        let user = tunnel_run(gre, reverse, false, seconds, kernel)?;
        println!("  {label:<28} {fast:>29}   {user:>29}");
    }
    Ok(())
}

/// One `pmip bench tunnel` figure: iperf3 through the home agent and
/// foreign agent daemons, with the eBPF fast path or with user space
/// only, as "N Mbit/s  R of kernel" (or why the fast path did not run).
fn tunnel_run(
    gre: bool,
    reverse: bool,
    fast: bool,
    seconds: u32,
    kernel: f64,
) -> io::Result<String> {
    let mut campus = build()?;
    let dir = campus.dir.clone();
    let extra: &[&str] = if fast { &[] } else { &["--no-fastpath"] };
    let mut logs = Vec::new();
    for (name, config) in [("ha", HA_CONFIG), ("fa", FA_CONFIG)] {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)?;
        let ns = if name == "ha" {
            &mut campus.ha
        } else {
            &mut campus.fa
        };
        run_daemon_with(ns, &dir, name, config, extra, Stdio::from(file))?;
        logs.push(log);
    }
    let code = campus.mn.run(move || register_via_fa(gre, reverse))??;
    if code != 0 {
        return Err(io::Error::other(format!(
            "registration refused with code {code}"
        )));
    }
    if fast {
        // The fast path loads with the first binding or visitor: measure
        // once both agents say it is on.
        let start = std::time::Instant::now();
        loop {
            let texts: Vec<String> = logs
                .iter()
                .map(|l| std::fs::read_to_string(l).unwrap_or_default())
                .collect();
            if texts.iter().all(|t| t.contains("eBPF fast path on")) {
                break;
            }
            if let Some(line) = texts.iter().flat_map(|t| t.lines()).find(|l| {
                l.contains("eBPF fast path not loaded") || l.contains("eBPF fast path off")
            }) {
                let why = line.split("eBPF fast path").nth(1).unwrap_or(line);
                return Ok(format!("n/a ({})", why.trim_start_matches([':', ' '])));
            }
            if start.elapsed() > Duration::from_secs(10) {
                return Ok("n/a (fast path did not come on)".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let bps = iperf(&mut campus, seconds)?;
    drop(campus);
    Ok(format!(
        "{:>6.0} Mbit/s {:>5.2} of kernel",
        bps / 1e6,
        bps / kernel
    ))
}

/// The home agent daemon's registration rate: `count` Registration
/// Requests (distinct home addresses, HMAC-MD5) from a co-located
/// care-of address, `window` outstanding at a time, next to a bare UDP
/// echo over the same path with the same window. Also the daemon's
/// resident memory before and after holding `count` bindings.
pub fn home_agent(count: u32, window: u32) -> io::Result<()> {
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
    let (control, pid) = run_daemon(
        &mut ha,
        &dir,
        "ha",
        "hostname benchha\n\
         interface FastEthernet0\n ip address 10.16.0.1 255.240.0.0\n\
         interface eth1\n ip address 192.0.2.1 255.255.255.0\n\
         router mobile\n\
         ip mobile home-agent lifetime 3600\n\
         ip mobile host 10.16.0.2 10.31.255.254 interface FastEthernet0\n\
         ip mobile secure host 10.16.0.2 10.31.255.254 spi 100 key hex 30313233343536373839616263646566 algorithm hmac-md5\n",
    )?;
    let rss_before = rss_kib(pid)?;

    // Baseline: a bare UDP echo in the home agent's namespace.
    let echo = ha.thread(|| -> io::Result<Duration> {
        let started = own_cpu();
        let s = std::net::UdpSocket::bind((Ipv4Addr::new(192, 0, 2, 1), 7777))?;
        // As large as the daemon's registration port's.
        let _ = socket2::SockRef::from(&s).set_recv_buffer_size(4 << 20);
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        let mut b = [0u8; 2048];
        while let Ok((n, from)) = s.recv_from(&mut b) {
            s.send_to(&b[..n], from)?;
        }
        Ok(own_cpu().saturating_sub(started))
    })?;
    std::thread::sleep(Duration::from_millis(100));
    // Both runs send registrations made before the clock starts: the
    // client's own work (HMAC-MD5 for each request) is not the daemon's,
    // and the echo carries datagrams of the same length. Those for the
    // daemon are made just before it is sent them, so their timestamps
    // are fresh (RFC 5944 5.7: a home agent refuses stale ones).
    let requests = move || -> Vec<Vec<u8>> {
        let base = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        (0..count)
            .map(|i| bench_request(i, PMIP_HA, COA, base, &key))
            .collect()
    };
    let (echo_time, _, echoed, echo_client) = mn.run(move || {
        drive(
            std::net::SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 7777),
            &requests(),
            window,
            |_| true,
        )
    })??;
    let echo_server = echo
        .join()
        .map_err(|_| io::Error::other("echo thread panicked"))???;

    let registrations = requests();
    let daemon_before = threads_cpu(pid)?;
    let first_sent = std::time::Instant::now();
    let (reg_time, replies, accepted, reg_client) = mn.run(move || {
        drive(
            std::net::SocketAddrV4::new(PMIP_HA, 434),
            &registrations,
            window,
            |reply| reply.len() > 1 && reply[0] == 3 && reply[1] == 0,
        )
    })??;
    // Installed: every accepted binding's host route into the tunnel is
    // in the kernel (proxy ARP and the gratuitous ARP follow each batch of
    // routes at once). Polled at a pace that leaves the CPU to the daemon
    // (a dump of 100 000 routes is itself tens of milliseconds).
    let routes = |ha: &Netns| -> io::Result<u64> {
        let out = ha.ip(&["-4", "route", "show", "dev", "pmip0"])?;
        Ok(out.stdout.iter().filter(|b| **b == b'\n').count() as u64)
    };
    let mut routed = routes(&ha)?;
    while routed < u64::from(accepted) && first_sent.elapsed() < INSTALL_WAIT {
        std::thread::sleep(Duration::from_millis(100));
        routed = routes(&ha)?;
    }
    let install_time = first_sent.elapsed();
    let daemon_cpu: Vec<(String, Duration)> = threads_cpu(pid)?
        .into_iter()
        .map(|(name, t)| {
            let before = daemon_before.get(&name).copied().unwrap_or_default();
            (name, t.saturating_sub(before))
        })
        .collect();
    let rss_after = rss_kib(pid)?;
    let me = std::env::current_exe()?;
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
    // A clean stop removes every route (and the rest of the ledger).
    let stopping = std::time::Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    while std::fs::read_to_string(format!("/proc/{pid}/status"))
        .is_ok_and(|s| !s.contains("State:\tZ"))
        && stopping.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stop_time = stopping.elapsed();
    let left = routes(&ha).unwrap_or(0);
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
        "  installed (host route into pmip0, proxy ARP, gratuitous ARP)  {routed} of {accepted} bindings {:.2} s after the first registration was sent, {}{}",
        install_time.as_secs_f64(),
        // Counting starts once the client stops waiting for answers: 3 s
        // after the last one when some were lost.
        if replies < count {
            format!(
                "{} answers lost (the count began 3 s after the last reply)",
                count - replies
            )
        } else {
            format!(
                "{:.2} s after the last reply",
                install_time.saturating_sub(reg_time).as_secs_f64()
            )
        },
        if routed < u64::from(accepted) {
            " (gave up waiting)"
        } else {
            ""
        }
    );
    // Where the time goes, per datagram: the echo's two threads next to
    // the daemon's (from the first registration sent until the last
    // binding was installed) and the same client's.
    let per = |t: Duration, n: u32| t.as_secs_f64() * 1e6 / f64::from(n.max(1));
    let mut busiest = daemon_cpu.clone();
    busiest.sort_by_key(|b| std::cmp::Reverse(b.1));
    let daemon_total: Duration = daemon_cpu.iter().map(|(_, t)| *t).sum();
    println!(
        "  CPU per echoed datagram: server {:.1} µs, client {:.1} µs",
        per(echo_server, echoed),
        per(echo_client, echoed)
    );
    println!(
        "  CPU per registration: daemon {:.1} µs ({}), client {:.1} µs",
        per(daemon_total, accepted),
        busiest
            .iter()
            .filter(|(_, t)| per(*t, accepted) >= 0.1)
            .map(|(name, t)| format!("{name} {:.1}", per(*t, accepted)))
            .collect::<Vec<_>>()
            .join(", "),
        per(reg_client, accepted)
    );
    // With both cores busy all the time, registrations could reach this
    // share of the echo's rate and no more. How busy they were says
    // whether that bound applied: one request at a time leaves them idle
    // most of the time, and then wake-ups set both rates.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let busy =
        |cpu: Duration, wall: Duration| 100.0 * cpu.as_secs_f64() / (cores * wall.as_secs_f64());
    println!(
        "  cores busy: {:.0} % during the echo, {:.0} % from the first registration to the last install; busy all the time, they would allow registrations at most {:.2} of echo at these costs",
        busy(echo_server + echo_client, echo_time),
        busy(daemon_total + reg_client, install_time),
        per(echo_server + echo_client, echoed) / per(daemon_total + reg_client, accepted)
    );
    println!(
        "  clean stop with {held} bindings: {:.2} s, {left} routes left",
        stop_time.as_secs_f64()
    );
    println!(
        "  daemon memory: {rss_before} KiB idle, {rss_after} KiB with {held} bindings ({:.0} bytes per binding)",
        (rss_after.saturating_sub(rss_before) as f64 * 1024.0) / held.max(1) as f64
    );
    Ok(())
}

/// How long `pmip bench ha` waits for every binding to be installed.
const INSTALL_WAIT: Duration = Duration::from_secs(300);

/// CPU time a thread has run, from its `schedstat` file (the
/// scheduler's count, in nanoseconds, is the first field).
fn run_time(schedstat: &Path) -> Option<Duration> {
    let text = std::fs::read_to_string(schedstat).ok()?;
    let ns = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// CPU time the calling thread has run.
fn own_cpu() -> Duration {
    run_time(Path::new("/proc/thread-self/schedstat")).unwrap_or_default()
}

/// CPU time each of `pid`'s threads has run, summed by thread name (the
/// daemon names its threads: pmip-install, pmip-state, ...; its loop runs
/// on a tokio-rt-worker).
fn threads_cpu(pid: u32) -> io::Result<std::collections::BTreeMap<String, Duration>> {
    let mut by_name = std::collections::BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let dir = task?.path();
        // A thread gone meanwhile is simply not counted.
        let (Ok(name), Some(t)) = (
            std::fs::read_to_string(dir.join("comm")),
            run_time(&dir.join("schedstat")),
        ) else {
            continue;
        };
        *by_name
            .entry(name.trim().to_owned())
            .or_insert(Duration::ZERO) += t;
    }
    Ok(by_name)
}

fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS"))
}

/// The `i`-th benchmark registration: home address 10.16.0.2 + `i`,
/// decapsulation by the mobile node, HMAC-MD5 with SPI 0x100.
fn bench_request(i: u32, ha: Ipv4Addr, coa: Ipv4Addr, base: Duration, key: &[u8]) -> Vec<u8> {
    use pmip_wire::auth::Algorithm;
    use pmip_wire::extension::{self, Extensions, kind};
    use pmip_wire::identification::Identification;
    use pmip_wire::registration::{RequestFlags, RequestRepr};
    let mut m = RequestRepr {
        flags: RequestFlags {
            decapsulation_by_mn: true,
            ..Default::default()
        },
        lifetime: 3600,
        home_address: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 16, 0, 2)) + i),
        home_agent: ha,
        care_of_address: coa,
        identification: Identification::from_unix(base),
        extensions: Extensions::new(),
    }
    .to_vec();
    extension::append_authentication(
        &mut m,
        kind::MOBILE_HOME_AUTH,
        0x100,
        Algorithm::HmacMd5,
        key,
    );
    m
}

/// Sends `datagrams`, at most `window` unanswered, and counts answers
/// and the ones `good` accepts. Returns the time from first send to last
/// answer, the answers, the good ones, and the CPU time the client took.
/// The datagrams are made beforehand, so the client's time goes to
/// sending and receiving only.
///
/// One thread in a closed loop: it sleeps in `recv` while the window is
/// full and sends the next datagram for each answer, so the client
/// leaves the CPU to the server it measures (a spinning sender took a
/// core of the two from the home agent's threads but not from the
/// single-threaded echo).
fn drive(
    to: std::net::SocketAddrV4,
    datagrams: &[Vec<u8>],
    window: u32,
    good: impl Fn(&[u8]) -> bool,
) -> io::Result<(Duration, u32, u32, Duration)> {
    let count = u32::try_from(datagrams.len()).unwrap_or(u32::MAX);
    let datagram = |i: u32| &datagrams[i as usize];
    let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
    // Room for a window of answers sent together (sendmmsg): with the
    // default buffer some of 200 were dropped here, not by the server.
    let _ = socket2::SockRef::from(&s).set_recv_buffer_size(4 << 20);
    // A lost datagram or answer: after this long without one, the next
    // request goes anyway (the window gives one back).
    const LOSS: Duration = Duration::from_millis(200);
    // After the last send: how long answers are waited for.
    const LAST: Duration = Duration::from_secs(3);
    s.set_read_timeout(Some(LOSS))?;
    let mut b = [0u8; 2048];
    let (mut sent, mut answered, mut good_count) = (0u32, 0u32, 0u32);
    let start = std::time::Instant::now();
    let cpu = own_cpu();
    let mut last = start;
    while sent < count.min(window.max(1)) {
        s.send_to(datagram(sent), to)?;
        sent += 1;
    }
    while answered < count {
        match s.recv(&mut b) {
            Ok(n) => {
                answered += 1;
                if good(&b[..n]) {
                    good_count += 1;
                }
                last = std::time::Instant::now();
                if sent < count {
                    s.send_to(datagram(sent), to)?;
                    sent += 1;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if sent < count {
                    s.send_to(datagram(sent), to)?;
                    sent += 1;
                } else if last.elapsed() >= LAST {
                    break;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok((
        last.duration_since(start),
        answered,
        good_count,
        own_cpu().saturating_sub(cpu),
    ))
}

/// Registrations/s when every association comes from RADIUS:
/// a stock FreeRADIUS in its own namespace behind the home agent daemon.
/// Each mode registers `count` distinct home addresses once (every one a
/// RADIUS round trip), then re-registers them all: with `ip mobile host
/// ... aaa` every re-registration asks the server again, with `aaa
/// load-sa` it is answered from the cache. A locally configured SA is
/// the baseline.
pub fn aaa(count: u32, window: u32) -> io::Result<()> {
    use pmip_radius::freeradius::BINARY;
    const HA: Ipv4Addr = Ipv4Addr::new(10, 16, 0, 1);
    const COA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const RADIUS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
    const SECRET: &str = "bench-radius";
    const KEY_HEX: &str = "30313233343536373839616263646566";
    if !Path::new(BINARY).exists() {
        return Err(io::Error::other(format!(
            "{BINARY} is missing: run scripts/deps (apt-get install freeradius)"
        )));
    }
    println!(
        "pmip bench aaa: {count} home addresses registered, then re-registered; {window} outstanding; SAs (HMAC-MD5) from FreeRADIUS"
    );
    let radius = {
        let mut ns = Netns::new(&unique_name("pmipb-rad"))?;
        // The server's address, on loopback: each home agent reaches it
        // over a link of its own.
        ns.ip(&["addr", "add", &format!("{RADIUS}/32"), "dev", "lo"])?;
        let dir = std::env::temp_dir().join(unique_name("pmip-bench-radius"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("radiusd.conf"),
            pmip_radius::freeradius::radiusd_conf(
                &dir,
                std::net::SocketAddrV4::new(RADIUS, 1812),
                "0.0.0.0/0",
                SECRET,
            ),
        )?;
        // One entry for every user: the same SA for each home address.
        std::fs::write(
            dir.join("users"),
            format!(
                "DEFAULT Cleartext-Password := \"cisco\"\n        Cisco-AVPair = \"mobileip:spi#0=spi 100 key hex {KEY_HEX} algorithm hmac-md5 replay timestamp within 7\"\n"
            ),
        )?;
        let log_path = dir.join("freeradius.log");
        let log = std::fs::File::create(&log_path)?;
        ns.spawn(
            BINARY,
            &["-f", "-l", "stdout", "-d", dir.to_str().unwrap_or_default()],
            Stdio::from(log.try_clone()?),
            Stdio::from(log),
        )?;
        (ns, dir, log_path)
    };
    let results = (|| -> io::Result<Vec<(String, f64, f64)>> {
        let mut results = Vec::new();
        for (mode, host_tail, secure) in [
            ("local SA (baseline)", "", true),
            ("aaa: every registration asks RADIUS", " aaa", false),
            ("aaa load-sa: cached after the first", " aaa load-sa", false),
        ] {
            let mut ha = Netns::new(&unique_name("pmipb-ha"))?;
            let mn = Netns::new(&unique_name("pmipb-mn"))?;
            let home = Netns::new(&unique_name("pmipb-hl"))?;
            ha.veth_to("FastEthernet0", &home, "h0")?;
            ha.veth_to("eth1", &mn, "m0")?;
            // Link k to the server's namespace: 10.99.k.1 here, .2 there.
            let k = results.len();
            let link = format!("r{k}");
            ha.veth_to("eth2", &radius.0, &link)?;
            radius.0.addr(&link, &format!("10.99.{k}.2/24"))?;
            mn.addr("m0", "192.0.2.2/24")?;
            mn.ip(&["route", "add", "10.16.0.0/12", "via", "192.0.2.1"])?;
            let ha_addr = format!("10.99.{k}.1");
            let server_end = format!("10.99.{k}.2");
            let dir = std::env::temp_dir().join(unique_name("pmip-bench-aaa"));
            std::fs::create_dir_all(&dir)?;
            let config = format!(
                "hostname benchaaa\n\
                 interface FastEthernet0\n ip address 10.16.0.1 255.240.0.0\n\
                 interface eth1\n ip address 192.0.2.1 255.255.255.0\n\
                 interface eth2\n ip address {ha_addr} 255.255.255.0\n\
                 ip route {RADIUS} 255.255.255.255 {server_end}\n\
                 router mobile\n\
                 ip mobile home-agent lifetime 3600\n\
                 ip mobile host 10.16.0.2 10.31.255.254 interface FastEthernet0{host_tail}\n{}\
                 aaa new-model\n\
                 aaa authorization ipmobile default group radius\n\
                 radius-server host {RADIUS} auth-port 1812 key {SECRET}\n",
                if secure {
                    format!(
                        "ip mobile secure host 10.16.0.2 10.31.255.254 spi 100 key hex {KEY_HEX} algorithm hmac-md5\n"
                    )
                } else {
                    String::new()
                }
            );
            let _ = run_daemon(&mut ha, &dir, "ha", &config)?;
            wait_radius_ready(&radius.2)?;
            let key: [u8; 16] = *b"0123456789abcdef";
            let mut rates = Vec::new();
            for round in 0..2u64 {
                let (time, _, accepted, _) = mn.run(move || {
                    let base = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        + Duration::from_secs(round);
                    let requests: Vec<Vec<u8>> = (0..count)
                        .map(|i| bench_request(i, HA, COA, base, &key))
                        .collect();
                    drive(
                        std::net::SocketAddrV4::new(HA, 434),
                        &requests,
                        window,
                        |reply| reply.len() > 1 && reply[0] == 3 && reply[1] == 0,
                    )
                })??;
                if accepted < count {
                    println!("  ({mode}: only {accepted} of {count} accepted in round {round})");
                }
                rates.push(f64::from(accepted) / time.as_secs_f64());
                // A second apart, so re-registrations carry a newer
                // timestamp.
                std::thread::sleep(Duration::from_millis(1100));
            }
            drop(ha);
            let _ = std::fs::remove_dir_all(&dir);
            results.push((mode.to_owned(), rates[0], rates[1]));
        }
        Ok(results)
    })();
    let (ns, dir, _) = radius;
    drop(ns);
    let _ = std::fs::remove_dir_all(&dir);
    let results = results?;
    println!(
        "  {:<40} {:>16} {:>18}",
        "mode", "first (/s)", "re-register (/s)"
    );
    for (mode, first, again) in &results {
        println!("  {mode:<40} {first:>16.0} {again:>18.0}");
    }
    Ok(())
}

fn wait_radius_ready(log: &Path) -> io::Result<()> {
    let start = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(pmip_radius::freeradius::READY) {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(20) {
            return Err(io::Error::other(format!(
                "FreeRADIUS did not start:\n{text}"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `pmip bench handoff`: the product's share of a handoff (association
/// event → registration accepted, or the binding gone at home) for a
/// receive-only client under a downstream TCP transfer and a 5 ms echo
/// stream, `roams` roams home → foreign → foreign → home ... on four
/// campuses: the exchange keyed (IP-in-IP), and the Aironet walkthrough's
/// AP configuration as printed (no exchange key) with IP-in-IP, GRE and a
/// reverse tunnel. Each is `pmip lab demo` on its own campus; printed
/// apart: the emulated radio's port move before each handoff, which a
/// real radio does not have.
pub fn handoff(roams: u32) -> io::Result<()> {
    const SUBNETS: &str = "subnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24 aap\nsubnet 3 10.3.0.0/24\n\
                           client c2 home 1 10.1.0.51 receive-only\n";
    let campuses = [
        ("exchange keyed, IP-in-IP", "tunnel ipip\n"),
        (
            "walkthrough AP config, IP-in-IP",
            "aap-key none\ntunnel ipip\n",
        ),
        ("walkthrough AP config, GRE", "aap-key none\ntunnel gre\n"),
        (
            "walkthrough AP config, reverse tunnel",
            "aap-key none\ntunnel ipip\nreverse-tunnel on\n",
        ),
    ];
    println!(
        "pmip bench handoff: a receive-only client, {roams} roams per campus under TCP from the correspondent and a 5 ms echo"
    );
    println!(
        "  {:<40} {:>14} {:>12} {:>16} {:>9}  TCP",
        "campus", "product share", "(min-max)", "port move (emu)", "outage"
    );
    let me = std::env::current_exe()?;
    for (k, (label, extra)) in campuses.iter().enumerate() {
        let name = format!("pmb{}x{k}", std::process::id() % 100_000);
        let dir = std::env::temp_dir().join(unique_name("pmip-bench-handoff"));
        std::fs::create_dir_all(&dir)?;
        let topology = dir.join("input.topology");
        std::fs::write(&topology, format!("name {name}\n{SUBNETS}{extra}"))?;
        let out = std::process::Command::new(&me)
            .arg("lab")
            .arg("demo")
            .arg(&topology)
            .arg("--dir")
            .arg(dir.join("lab"))
            .args(["--client", "c2", "--roams", &roams.to_string()])
            .args(["--dwell", "1", "--rate", "10"])
            .stdin(Stdio::null())
            .output();
        let _ = std::fs::remove_dir_all(&dir);
        let out = out?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "{label}: the demo failed: {}{}",
                text,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let rows = demo_rows(&text);
        let median = |mut v: Vec<f64>| -> f64 {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        let share: Vec<f64> = rows.iter().map(|r| r.product_share).collect();
        let (lo, hi) = share.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        });
        println!(
            "  {:<40} {:>11.1} ms {:>5.1}-{:<4.1} ms {:>13.1} ms {:>6.0} ms  {}",
            label,
            median(share),
            lo,
            hi,
            median(rows.iter().map(|r| r.port_move).collect()),
            median(rows.iter().map(|r| r.outage).collect()),
            if text.contains("no reset") {
                "kept"
            } else {
                "LOST"
            }
        );
    }
    Ok(())
}

/// One roam of the demo's table.
struct DemoRow {
    port_move: f64,
    product_share: f64,
    outage: f64,
}

/// The roams of `pmip lab demo`'s table: `ap1 -> ap2  28.4 ms  31 ms
/// 33 ms  4.6 ms  1.6 ms  38 ms  3`, or for a roam home `ap3 -> ap1
/// 22.6 ms  -  25 ms  2.9 ms  (home)  25 ms  2` (port move, first frame,
/// registered, product share, registration round trip, outage).
fn demo_rows(text: &str) -> Vec<DemoRow> {
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() < 4 || words[1] != "->" || !words[0].starts_with("ap") {
                return None;
            }
            let ms: Vec<f64> = words
                .windows(2)
                .filter(|w| w[1] == "ms")
                .filter_map(|w| w[0].parse().ok())
                .collect();
            let home = words.contains(&"(home)");
            let share = if home { 2 } else { 3 };
            Some(DemoRow {
                port_move: *ms.first()?,
                product_share: *ms.get(share)?,
                outage: *ms.last()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_table_is_read_for_roams_away_and_home() {
        let text = "roam            port move   first frame   registered   product share   registration rtt   outage    pings lost\n\
ap1 -> ap2        28.4 ms         31 ms        33 ms          4.6 ms             1.6 ms       38 ms   3\n\
ap3 -> ap1        22.6 ms             -        25 ms          2.9 ms             (home)       25 ms   2\n\
median over 2 roams: outage 31 ms\n";
        let rows = demo_rows(text);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].port_move, rows[0].product_share, rows[0].outage),
            (28.4, 4.6, 38.0)
        );
        assert_eq!(
            (rows[1].port_move, rows[1].product_share, rows[1].outage),
            (22.6, 2.9, 25.0)
        );
    }

    /// The CPU figures count a named thread's own work, and a sleeping
    /// thread's next to nothing.
    #[test]
    fn thread_cpu_is_counted_by_thread_name() {
        let spin = |d: Duration| {
            let t = std::time::Instant::now();
            let mut x = 0u64;
            while t.elapsed() < d {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        };
        let spinner = std::thread::Builder::new()
            .name("pmipt-spinner".into())
            .spawn(move || {
                let before = own_cpu();
                spin(Duration::from_millis(60));
                let spun = own_cpu() - before;
                let before = own_cpu();
                std::thread::sleep(Duration::from_millis(60));
                (spun, own_cpu() - before, threads_cpu(std::process::id()))
            })
            .unwrap();
        let (spun, slept, threads) = spinner.join().unwrap();
        // A loaded machine may take the CPU away part of the time.
        assert!(spun >= Duration::from_millis(20), "{spun:?}");
        assert!(slept < Duration::from_millis(10), "{slept:?}");
        let counted = threads.unwrap()["pmipt-spinner"];
        assert!(counted >= spun, "{counted:?} < {spun:?}");
    }
}
