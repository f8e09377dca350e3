//! `pmip lab demo`: a client holds a TCP transfer and a ping with the
//! correspondent while it roams home -> foreign -> another foreign ->
//! home; the timeline shows each association, registration, outage and
//! the mobility tables, and a plot shows throughput over time.

use crate::campus::{self, Error, Lab};
use crate::plot;
use crate::topology::ClientKind;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub struct Options {
    /// Roams to make (home -> every foreign AP in turn -> home, repeated).
    pub roams: usize,
    /// Time spent on each AP.
    pub dwell: Duration,
    /// Rate of the TCP transfer from the correspondent, Mbit/s.
    pub rate_mbit: u32,
    /// The client to roam (default: the first with a static address).
    pub client: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            roams: 3,
            dwell: Duration::from_secs(4),
            rate_mbit: 40,
            client: None,
        }
    }
}

/// One roam as measured.
#[derive(Debug, Clone)]
pub struct Roam {
    pub from: String,
    pub to: String,
    pub home: bool,
    /// Unix time of the association (the port's move).
    pub at: f64,
    /// How long moving the radio port took (the station is off the air).
    pub moved_ms: f64,
    /// From the start of the move to the station's first frame at the new
    /// AP (the AP's association).
    pub first_frame_ms: Option<f64>,
    /// From the start of the move until the AP's registration was accepted
    /// (or, going home, until the home agent dropped the binding).
    pub completed_after_ms: Option<f64>,
    /// The AP's registration round trip (AP -> FA -> HA -> FA -> AP).
    pub registration_rtt_ms: Option<f64>,
    /// The product's share of the handoff: from the end of the port's
    /// move (the association event) to the accepted registration (or the
    /// binding gone, at home). The move itself is the emulation's cost.
    pub product_ms: Option<f64>,
    /// Longest time without a ping reply around the roam.
    pub outage_ms: f64,
    pub pings_lost: u32,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub roams: Vec<Roam>,
    pub tcp_bytes: u64,
    pub tcp_error: Option<String>,
    pub plot: std::path::PathBuf,
}

impl Report {
    pub fn median_outage_ms(&self) -> Option<f64> {
        median(self.roams.iter().map(|r| r.outage_ms).collect())
    }
    pub fn median_product_ms(&self) -> Option<f64> {
        median(self.roams.iter().filter_map(|r| r.product_ms).collect())
    }
    pub fn median_lost(&self) -> Option<f64> {
        median(self.roams.iter().map(|r| f64::from(r.pings_lost)).collect())
    }
    /// Every roam completed and the TCP connection survived.
    pub fn ok(&self) -> bool {
        self.tcp_error.is_none() && self.roams.iter().all(|r| r.completed_after_ms.is_some())
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

fn wait(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Result<Duration, Error> {
    let start = Instant::now();
    while !ok() {
        if start.elapsed() > limit {
            return Err(format!(
                "timed out after {} s waiting for {what}",
                limit.as_secs()
            ));
        }
        // Fine-grained: the home agent's binding gone is seen by this
        // poll, so its period adds to the figure the demo prints.
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(start.elapsed())
}

/// The client's record in an AP's `show ip proxy-mobile visitor`.
fn visitor(lab: &Lab, ap: &str, address: Ipv4Addr) -> Option<serde_json::Value> {
    let v = lab
        .exec_json(ap, &["show", "ip", "proxy-mobile", "visitor"])
        .ok()?;
    v["visitors"]
        .as_array()?
        .iter()
        .find(|x| x["address"].as_str() == Some(&address.to_string()))
        .cloned()
}

fn bindings_of(lab: &Lab, router: &str, address: Ipv4Addr) -> usize {
    lab.exec_json(router, &["show", "ip", "mobile", "binding"])
        .ok()
        .and_then(|v| {
            Some(
                v["bindings"]
                    .as_array()?
                    .iter()
                    .filter(|b| b["home_address"].as_str() == Some(&address.to_string()))
                    .count(),
            )
        })
        .unwrap_or(0)
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("            {l}\n")).collect()
}

/// The ping's replies: (unix receive time, icmp_seq).
type Replies = Arc<Mutex<Vec<(f64, u32)>>>;

/// Runs the demo on a lab that is up; writes the timeline to `out` as it
/// goes.
pub fn run(lab: &Lab, opts: &Options, out: &mut dyn Write) -> Result<Report, Error> {
    let t = &lab.topology;
    let client = match &opts.client {
        Some(name) => t
            .client(name)
            .ok_or_else(|| format!("no client {name} in the lab"))?,
        None => t
            .clients
            .iter()
            .find(|c| c.kind == ClientKind::Static && !c.receive_only)
            .or_else(|| t.clients.iter().find(|c| c.kind == ClientKind::Static))
            .ok_or("the topology has no client with a static address to roam")?,
    }
    .clone();
    let home = t.subnet(client.home).expect("topology checked").clone();
    let cn = t.correspondent;
    let client_ns = lab.ns(&client.name);
    let cn_ns = lab.ns("cn");

    // Every AP must know its foreign agent (and the subnet map) first.
    for s in &t.subnets {
        let ap = s.ap();
        wait(
            &format!("{ap} to hear its foreign agent and learn the subnet map"),
            Duration::from_secs(20),
            || {
                lab.exec_json(&ap, &["show", "ip", "proxy-mobile"])
                    .map(|v| {
                        !v["foreign_agent"].is_null()
                            && v["subnet_map"].as_array().map_or(0, Vec::len) >= t.subnets.len()
                    })
                    .unwrap_or(false)
            },
        )?;
    }
    // The client at home: its first packets let the AP learn its address.
    campus::attach(lab, &client.name, &home.ap())?;
    // A receive-only client never speaks first: the correspondent reaches
    // it (the AP asks it for its address at association).
    let (ping_ns, ping_to) = if client.receive_only {
        (cn_ns.clone(), client.address)
    } else {
        (client_ns.clone(), cn)
    };
    wait(
        "the client and the correspondent to reach each other from home",
        Duration::from_secs(20),
        || {
            Command::new("ip")
                .args([
                    "netns", "exec", &ping_ns, "ping", "-c", "1", "-W", "1", "-n",
                ])
                .arg(ping_to.to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        },
    )?;
    wait(
        "the home AP to see the client at home",
        Duration::from_secs(10),
        || {
            visitor(lab, &home.ap(), client.address)
                .is_some_and(|v| v["state"].as_str() == Some("at home"))
        },
    )?;

    let start = unix_now();
    let rel = |at: f64| at - start;
    let _ = writeln!(
        out,
        "pmip lab demo: campus {} ({} subnets, {} AAPs, {}{}), client {} {} at home on {}, correspondent {cn}",
        t.name,
        t.subnets.len(),
        t.subnets.iter().filter(|s| s.aap).count(),
        match t.tunnel {
            crate::topology::Tunnel::Ipip => "IP-in-IP",
            crate::topology::Tunnel::Gre => "GRE",
        },
        if t.reverse_tunnel {
            ", reverse tunnel"
        } else {
            ""
        },
        client.name,
        client.address,
        home.ap()
    );
    let _ = writeln!(
        out,
        "lab directory {} (configurations, logs)",
        lab.dir.display()
    );
    let _ = writeln!(out, "    time  event");

    // A TCP transfer from the correspondent to the client, paced.
    let stop = Arc::new(AtomicBool::new(false));
    let stop_server = Arc::new(AtomicBool::new(false));
    let received: Arc<Mutex<Vec<(f64, u64)>>> = Arc::default();
    let port = 5001;
    let rate = u64::from(opts.rate_mbit.max(1)) * 1_000_000 / 8;
    // The correspondent sends; a talking client opens the connection, a
    // receive-only one is called by the correspondent.
    let (listen_ns, listen_at, connect_ns) = if client.receive_only {
        (client_ns.clone(), client.address, cn_ns.clone())
    } else {
        (cn_ns.clone(), cn, client_ns.clone())
    };
    let sends = move |mut s: TcpStream, stop: Arc<AtomicBool>| -> Result<u64, String> {
        let chunk = vec![0x5au8; (rate / 500) as usize];
        let begin = Instant::now();
        let mut sent = 0u64;
        while !stop.load(Ordering::Relaxed) {
            // Pace: never ahead of rate x elapsed.
            let due = (begin.elapsed().as_secs_f64() * rate as f64) as u64;
            if sent >= due {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            s.write_all(&chunk).map_err(|e| format!("send: {e}"))?;
            sent += chunk.len() as u64;
        }
        Ok(sent)
    };
    let receives = {
        let received = received.clone();
        move |mut s: TcpStream, stop: Arc<AtomicBool>| -> Result<u64, String> {
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0u64;
            while !stop.load(Ordering::Relaxed) {
                match s.read(&mut buf) {
                    Ok(0) => return Err("the correspondent closed the connection".into()),
                    Ok(n) => {
                        total += n as u64;
                        received.lock().unwrap().push((unix_now(), n as u64));
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(e) => return Err(format!("receive: {e}")),
                }
            }
            Ok(total)
        }
    };
    let receive_only = client.receive_only;
    let listener = {
        let (stop, stop_server) = (stop.clone(), stop_server.clone());
        let receives = receives.clone();
        pmip_netns::thread_in(&listen_ns, move || -> Result<u64, String> {
            let l = TcpListener::bind((listen_at, port)).map_err(|e| e.to_string())?;
            let (s, _) = l.accept().map_err(|e| e.to_string())?;
            if receive_only {
                receives(s, stop)
            } else {
                sends(s, stop_server)
            }
        })
        .map_err(|e| e.to_string())?
    };
    std::thread::sleep(Duration::from_millis(100));
    let connector = {
        let (stop, stop_server) = (stop.clone(), stop_server.clone());
        pmip_netns::thread_in(&connect_ns, move || -> Result<u64, String> {
            let s = TcpStream::connect_timeout(&(listen_at, port).into(), Duration::from_secs(5))
                .map_err(|e| format!("connect: {e}"))?;
            if receive_only {
                sends(s, stop_server)
            } else {
                receives(s, stop)
            }
        })
        .map_err(|e| e.to_string())?
    };
    let (server, reader) = if receive_only {
        (connector, listener)
    } else {
        (listener, connector)
    };
    // A ping every 2 ms (for the outage's resolution; every 5 ms from the
    // correspondent to a receive-only client), timestamps from ping
    // itself (-D).
    let interval = if client.receive_only {
        "0.005"
    } else {
        "0.002"
    };
    let mut ping = Command::new("ip")
        .args([
            "netns", "exec", &ping_ns, "ping", "-D", "-n", "-i", interval,
        ])
        .arg(ping_to.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("ping: {e}"))?;
    let replies: Replies = Arc::default();
    let ping_reader = {
        let stdout = ping.stdout.take().expect("piped");
        let replies = replies.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(reply) = ping_reply(&line) {
                    replies.lock().unwrap().push(reply);
                }
            }
        })
    };
    let _ = writeln!(
        out,
        "{:>7.2}s  TCP transfer {cn} -> {}:{port} at {} Mbit/s and a ping every {} ms {} start{}",
        rel(unix_now()),
        client.address,
        opts.rate_mbit,
        if client.receive_only { 5 } else { 2 },
        if client.receive_only {
            "from the correspondent"
        } else {
            "from the client"
        },
        if client.receive_only {
            " (the client only answers)"
        } else {
            ""
        }
    );
    std::thread::sleep(opts.dwell);

    // The roams: every foreign AP in turn, then home; repeated.
    let mut order: Vec<String> = t
        .subnets
        .iter()
        .filter(|s| s.id != home.id)
        .map(|s| s.ap())
        .collect();
    order.push(home.ap());
    let mut roams = Vec::new();
    let mut current = home.ap();
    let mut failure = None;
    for i in 0..opts.roams {
        let target = order[i % order.len()].clone();
        let to_home = target == home.ap();
        let at = unix_now();
        let moved = campus::roam(lab, &client.name, &target)?;
        let assoc_at = Instant::now() - moved;
        let _ = writeln!(
            out,
            "{:>7.2}s  {} associates with {target} ({}); its port moved in {:.1} ms",
            rel(at),
            client.name,
            if to_home { "home" } else { "foreign subnet" },
            moved.as_secs_f64() * 1e3
        );
        let limit = Duration::from_secs(15);
        let mut record = Roam {
            from: current.clone(),
            to: target.clone(),
            home: to_home,
            at,
            moved_ms: moved.as_secs_f64() * 1e3,
            first_frame_ms: None,
            completed_after_ms: None,
            registration_rtt_ms: None,
            product_ms: None,
            outage_ms: 0.0,
            pings_lost: 0,
        };
        let done = if to_home {
            wait("the home agent to drop the binding", limit, || {
                bindings_of(lab, &home.router(), client.address) == 0
                    && visitor(lab, &target, client.address)
                        .is_some_and(|v| v["state"].as_str() == Some("at home"))
            })
            .map(|_| {
                let ms = assoc_at.elapsed().as_secs_f64() * 1e3;
                record.completed_after_ms = Some(ms);
                let _ = writeln!(
                    out,
                    "{:>7.2}s  {target} sees {} at home; {} deregistered it, binding gone {ms:.0} ms after association",
                    rel(unix_now()),
                    client.name,
                    home.router()
                );
            })
        } else {
            let mut v = None;
            let mut polled = 0.0;
            wait(&format!("{target} to register {}", client.name), limit, || {
                v = visitor(lab, &target, client.address)
                    .filter(|v| v["state"].as_str() == Some("registered"));
                polled = unix_now();
                v.is_some()
            })
            .map(|_| {
                let v = v.expect("registered");
                // The AP's own clock: when it saw the first frame, and the
                // registration it made from then on.
                let first_frame =
                    polled - v["associated_ms_ago"].as_f64().unwrap_or(0.0) / 1e3;
                record.first_frame_ms = Some((first_frame - at) * 1e3);
                record.registration_rtt_ms = v["registration_rtt_ms"].as_f64();
                record.completed_after_ms = v["registered_after_ms"]
                    .as_f64()
                    .map(|r| (first_frame + r / 1e3 - at) * 1e3);
                let _ = writeln!(
                    out,
                    "{:>7.2}s  {target} heard {} first {:.0} ms after the move; registered it with home agent {} via care-of {}: round trip {:.1} ms, accepted {:.0} ms after the move",
                    rel(unix_now()),
                    client.name,
                    record.first_frame_ms.unwrap_or(f64::NAN),
                    v["home_agent"].as_str().unwrap_or("?"),
                    v["care_of_address"].as_str().unwrap_or("?"),
                    record.registration_rtt_ms.unwrap_or(f64::NAN),
                    record.completed_after_ms.unwrap_or(f64::NAN),
                );
            })
        };
        record.product_ms = record
            .completed_after_ms
            .map(|c| (c - record.moved_ms).max(0.0));
        if let Err(e) = done {
            let _ = writeln!(out, "{:>7.2}s  FAILED: {e}", rel(unix_now()));
            failure = Some(e);
            roams.push(record);
            break;
        }
        // The tables at this step.
        if let Ok(b) = lab.exec(&home.router(), &["show", "ip", "mobile", "binding"], false) {
            let _ = write!(
                out,
                "          {}# show ip mobile binding\n{}",
                home.router(),
                indent(&b)
            );
        }
        let visited = t
            .subnets
            .iter()
            .find(|s| s.ap() == target)
            .expect("target is an AP");
        if !to_home
            && let Ok(v) = lab.exec(
                &visited.router(),
                &["show", "ip", "mobile", "visitor"],
                false,
            )
        {
            let _ = write!(
                out,
                "          {}# show ip mobile visitor\n{}",
                visited.router(),
                indent(&v)
            );
        }
        roams.push(record);
        current = target;
        let spent = assoc_at.elapsed();
        std::thread::sleep(opts.dwell.saturating_sub(spent));
    }

    // Stop the traffic and collect.
    let end = unix_now();
    // SAFETY: SIGINT to our own child (ping prints its summary and exits).
    unsafe { libc::kill(ping.id() as i32, libc::SIGINT) };
    let _ = ping.wait();
    let _ = ping_reader.join();
    stop.store(true, Ordering::Relaxed);
    // The reader stops first, so the correspondent's close is not taken
    // for a failure.
    let tcp = reader
        .join()
        .map_err(|_| "the TCP reader panicked".to_owned())?
        .map_err(|e| e.to_string())?;
    stop_server.store(true, Ordering::Relaxed);
    let _ = server.join();
    let (tcp_bytes, tcp_error) = match tcp {
        Ok(n) => (n, None),
        Err(e) => (
            received.lock().unwrap().iter().map(|(_, n)| n).sum(),
            Some(e),
        ),
    };

    // Outage and loss per roam from the ping replies.
    let replies = replies.lock().unwrap().clone();
    let n = roams.len();
    for i in 0..n {
        let from = roams[i].at - 0.2;
        let to = if i + 1 < n { roams[i + 1].at } else { end };
        let (outage, lost) = outage_in(&replies, from, to);
        roams[i].outage_ms = outage * 1e3;
        roams[i].pings_lost = lost;
    }

    let samples = received.lock().unwrap().clone();
    let plot_path = lab.dir.join("throughput.svg");
    let svg = plot::throughput_svg(
        &samples,
        start,
        end,
        &roams
            .iter()
            .map(|r| (r.at, format!("{} -> {}", r.from, r.to)))
            .collect::<Vec<_>>(),
        &replies,
    );
    std::fs::write(&plot_path, svg).map_err(|e| format!("{}: {e}", plot_path.display()))?;

    let report = Report {
        roams,
        tcp_bytes,
        tcp_error,
        plot: plot_path,
    };
    let _ = write!(out, "{}", summary(&report));
    if let Some(e) = failure {
        return Err(format!(
            "{e}\n(the lab's logs are in {})",
            lab.dir.display()
        ));
    }
    Ok(report)
}

/// One reply line of `ping -D`: its Unix time and sequence number
/// (`[1732512345.123456] 64 bytes from ...: icmp_seq=12 ttl=62 time=0.1
/// ms`); duplicates and other lines are none.
pub fn ping_reply(line: &str) -> Option<(f64, u32)> {
    if line.contains("DUP!") {
        return None;
    }
    let ts = line
        .strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .and_then(|x| x.parse::<f64>().ok())?;
    let seq = line
        .split("icmp_seq=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|x| x.parse::<u32>().ok())?;
    Some((ts, seq))
}

/// The longest time without a reply in [from, to), and how many pings
/// sent in that span got no reply.
fn outage_in(replies: &[(f64, u32)], from: f64, to: f64) -> (f64, u32) {
    let mut inside: Vec<(f64, u32)> = replies
        .iter()
        .copied()
        .filter(|(ts, _)| *ts >= from && *ts < to)
        .collect();
    inside.sort_by(|a, b| a.0.total_cmp(&b.0));
    if inside.len() < 2 {
        return ((to - from).max(0.0), 0);
    }
    let gap = inside
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .fold(0.0, f64::max);
    let mut seqs: Vec<u32> = inside.iter().map(|r| r.1).collect();
    seqs.sort_unstable();
    seqs.dedup();
    let span = seqs.last().unwrap() - seqs.first().unwrap() + 1;
    (gap, span - seqs.len() as u32)
}

pub fn summary(r: &Report) -> String {
    let mut s = String::from(
        "\nroam            port move   first frame   registered   product share   registration rtt   outage    pings lost\n",
    );
    for x in &r.roams {
        let _ = writeln!(
            s,
            "{:<15} {:>6.1} ms   {:>11}   {:>10}   {:>13}   {:>16}   {:>6.0} ms   {}",
            format!("{} -> {}", x.from, x.to),
            x.moved_ms,
            x.first_frame_ms
                .map_or("-".into(), |m| format!("{m:.0} ms")),
            x.completed_after_ms
                .map_or("failed".into(), |m| format!("{m:.0} ms")),
            x.product_ms.map_or("-".into(), |m| format!("{m:.1} ms")),
            x.registration_rtt_ms.map_or(
                if x.home { "(home)".into() } else { "-".into() },
                |m| format!("{m:.1} ms")
            ),
            x.outage_ms,
            x.pings_lost
        );
    }
    if let (Some(o), Some(l)) = (r.median_outage_ms(), r.median_lost()) {
        let _ = writeln!(
            s,
            "median over {} roams: outage {o:.0} ms, {l} pings lost",
            r.roams.len()
        );
    }
    if let Some(p) = r.median_product_ms() {
        let _ = writeln!(
            s,
            "median product share (association event -> registration accepted, or binding gone at home): {p:.1} ms; the port move before it is the emulated radio's cost"
        );
    }
    match &r.tcp_error {
        None => {
            let _ = writeln!(
                s,
                "TCP: {} bytes delivered on one connection across every roam, no reset",
                r.tcp_bytes
            );
        }
        Some(e) => {
            let _ = writeln!(s, "TCP: FAILED after {} bytes: {e}", r.tcp_bytes);
        }
    }
    let _ = writeln!(s, "plot: {}", r.plot.display());
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outage_and_loss_from_replies() {
        // Replies every 10 ms, seq 0..100, with 20..30 missing.
        let replies: Vec<(f64, u32)> = (0..100u32)
            .filter(|s| !(20..30).contains(s))
            .map(|s| (f64::from(s) * 0.01, s))
            .collect();
        let (gap, lost) = outage_in(&replies, 0.0, 1.0);
        assert!((gap - 0.11).abs() < 1e-9, "{gap}");
        assert_eq!(lost, 10);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
