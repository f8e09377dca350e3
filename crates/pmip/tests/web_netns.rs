//! The device's web server with a real daemon in namespaces this test
//! creates (and removes, with every process in them, when a guard drops,
//! also on failure): `ip http` lines changed with `configure` start,
//! move and stop it; a flood of idle connections leaves the device
//! working. The HTTP client is a few lines over std's sockets: a request
//! with `Connection: close`, the answer read to its end.

mod common;

use common::{PMIP, exec_ok, temp, wait_for};
use pmip_netns::{Netns, unique_name};
use socket2::{Domain, SockAddr, Socket, Type};
use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// An HTTP answer: status, headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    /// The value `name=VALUE` of the answer's Set-Cookie headers.
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, v)| {
                let first = v.split(';').next()?;
                let (k, v) = first.split_once('=')?;
                (k == name).then(|| v.to_string())
            })
    }

    /// The value of a form's hidden field `name`.
    fn field(&self, name: &str) -> Option<String> {
        let pat = format!(r#"name="{name}" value=""#);
        let at = self.body.find(&pat)? + pat.len();
        Some(self.body[at..at + self.body[at..].find('"')?].to_string())
    }
}

/// One request from `src` (any local address when `None`) to `dst`, in
/// the calling thread's namespace.
fn http(
    src: Option<Ipv4Addr>,
    dst: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<Answer> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    if let Some(src) = src {
        s.bind(&SocketAddr::from((src, 0)).into())?;
    }
    s.connect_timeout(&dst.into(), Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut s = std::net::TcpStream::from(s);
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {dst}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_string(),
    })
}

/// Logs in from `src` on the login form; the session cookie.
fn login(src: Option<Ipv4Addr>, dst: SocketAddr, user: &str, password: &str) -> String {
    let form = http(src, dst, "GET", "/login", &[], "").expect("the login page");
    assert_eq!(form.status, 200, "{}", form.body);
    let token = form.field("token").expect("a login token");
    let cookie = format!("pmip_login={}", form.cookie("pmip_login").unwrap());
    let answer = http(
        src,
        dst,
        "POST",
        "/login",
        &[("Cookie", &cookie)],
        &format!("token={token}&username={user}&password={password}"),
    )
    .expect("the login answer");
    assert_eq!(answer.status, 303, "logged in: {}", answer.body);
    answer.cookie("pmip_session").expect("a session cookie")
}

/// The HTTP status of GET /login on `port` inside `ns` (`None`: nothing
/// listens there).
fn login_page(ns: &Netns, port: u16) -> Option<(u16, String)> {
    ns.run(move || {
        http(
            None,
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            "GET",
            "/login",
            &[],
            "",
        )
        .ok()
        .map(|a| (a.status, a.body))
    })
    .unwrap()
}

/// `ip http server`, `ip http port` and `no ip http server` entered with
/// `configure` start, move and stop the daemon's web server; a port that
/// someone else holds leaves it where it was, and the answer says why.
#[test]
fn ip_http_server_starts_moves_and_stops_at_run_time() {
    let mut ns = Netns::new(&unique_name("pmipt-wh")).unwrap();
    let (control, pid) = common::start(
        &mut ns,
        "wh",
        "hostname wh\nip http authentication local\nusername admin password 0 pw\n",
    );
    assert!(login_page(&ns, 80).is_none(), "no web server at first");

    exec_ok(
        &control,
        &["configure", "ip http server; ip http port 8081"],
    );
    let (status, page) = login_page(&ns, 8081).expect("started on 8081");
    assert_eq!(status, 200);
    assert!(page.contains("Log in — wh"), "{page}");
    assert!(login_page(&ns, 80).is_none());

    // `configure` abbreviated, as IOS allows.
    exec_ok(&control, &["conf", "ip http port 8082"]);
    assert!(login_page(&ns, 8081).is_none(), "the old port is closed");
    assert_eq!(login_page(&ns, 8082).map(|a| a.0), Some(200), "moved");

    // A port someone else holds: the pages stay where they are.
    let blocker = ns
        .run(|| std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 8083)).unwrap())
        .unwrap();
    let out = exec_ok(&control, &["configure", "ip http port 8083"]);
    assert!(
        out.contains("cannot listen on 0.0.0.0:8083") && out.contains("stay on 0.0.0.0:8082"),
        "{out}"
    );
    assert_eq!(login_page(&ns, 8082).map(|a| a.0), Some(200));
    // Later commands try again quietly: said once in the log, and only
    // in the answer of the command that asked for the port.
    let out = exec_ok(&control, &["show", "version"]);
    assert!(!out.contains("cannot listen"), "{out}");
    let log = std::fs::read_to_string(temp("wh.log")).unwrap();
    assert_eq!(
        log.matches("cannot listen on 0.0.0.0:8083").count(),
        1,
        "{log}"
    );
    // Once it is free, the next command moves the server there.
    drop(blocker);
    exec_ok(&control, &["show", "version"]);
    assert_eq!(login_page(&ns, 8083).map(|a| a.0), Some(200));
    assert!(login_page(&ns, 8082).is_none());

    exec_ok(&control, &["configure", "no ip http server"]);
    assert!(login_page(&ns, 8083).is_none(), "stopped");
    exec_ok(&control, &["configure", "ip http server"]);
    assert_eq!(login_page(&ns, 8083).map(|a| a.0), Some(200), "again");
    assert!(running(pid), "the daemon runs on");
}

/// Whether process `pid` is alive (not gone, not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().chars().next())
        })
        .flatten()
        .is_some_and(|state| state != 'Z' && state != 'X')
}

/// Raises this process's soft descriptor limit to its hard one; the
/// hard limit.
fn raise_open_files() -> u64 {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
        l.rlim_cur = l.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &l);
    }
    l.rlim_max
}

const FLOOD: usize = 25_000;
/// Client addresses the flood comes from, one after the other (390 or so
/// connections each): 64 of them, more than the server's total limit
/// divided by its per-address limit (1024 / 32), so both limits are
/// reached, and the later addresses take the places of the earlier ones.
const FLOODERS: u8 = 64;
const BATCH: usize = 1000;
const AP_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const OPERATOR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const PORT: u16 = 8080;
const PASSWORD: &str = "flood-test-secret";

/// The `k`th flooding address.
fn flooder(k: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 0, 100 + k)
}

/// The address the `i`th connection of the flood comes from.
fn source_of(i: usize) -> Ipv4Addr {
    flooder((i * FLOODERS as usize / FLOOD) as u8)
}

/// What became of the flood's connections, seen from the client.
#[derive(Debug, Default)]
struct Seen {
    /// Connected (the kernel completed the handshake).
    connected: usize,
    /// Closed or reset by the server (refused, or closed later to make
    /// room for another address).
    closed: usize,
    /// Never connected (no answer to the SYN in time, or an error).
    failed: usize,
}

/// Waits until every socket of `batch` has connected or failed, or
/// `wait` has passed.
fn settle(batch: &[Socket], wait: Duration) {
    let mut fds: Vec<libc::pollfd> = batch
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        })
        .collect();
    let t = Instant::now();
    while !fds.is_empty() && t.elapsed() < wait {
        // SAFETY: poll over descriptors this thread owns.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 100) };
        fds.retain(|f| f.revents == 0);
        for f in &mut fds {
            f.revents = 0;
        }
    }
}

/// Whether a connected socket is still open (the server sent nothing,
/// so a peek finds no data, no end and no reset).
fn still_open(s: &Socket) -> bool {
    let mut buf = [MaybeUninit::<u8>::uninit(); 1];
    matches!(s.peek(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// Opens `FLOOD` connections to the AP's web port from the flooders'
/// addresses, a batch at a time, sending nothing. A connection the
/// server closed is closed here too (a flooder gains nothing by keeping
/// it, and this process may hold fewer descriptors than the flood);
/// those it keeps open stay open. The server's verdict on a batch is read
/// while the next one connects.
fn open_flood(dst: SocketAddr) -> (Vec<Socket>, Seen) {
    let mut seen = Seen::default();
    let mut held: Vec<Socket> = Vec::new();
    let judge = |held: &mut Vec<Socket>, seen: &mut Seen| {
        let before = held.len();
        held.retain(still_open);
        seen.closed += before - held.len();
    };
    let dst = SockAddr::from(dst);
    for start in (0..FLOOD).step_by(BATCH) {
        let mut batch = Vec::with_capacity(BATCH);
        for i in start..(start + BATCH).min(FLOOD) {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            s.set_nonblocking(true).unwrap();
            s.bind(&SocketAddr::from((source_of(i), 0)).into()).unwrap();
            match s.connect(&dst) {
                Ok(()) => batch.push(s),
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => batch.push(s),
                Err(_) => seen.failed += 1,
            }
        }
        settle(&batch, Duration::from_secs(3));
        judge(&mut held, &mut seen);
        for s in batch {
            match s.take_error() {
                Ok(None) if s.peer_addr().is_ok() => {
                    seen.connected += 1;
                    held.push(s);
                }
                // Connected, then reset by the server already.
                Ok(Some(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    seen.connected += 1;
                    seen.closed += 1;
                }
                _ => seen.failed += 1,
            }
        }
    }
    // The last batch's verdict, once the daemon has taken every
    // connection waiting in its accept queue (those look open here).
    let t = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let before = held.len();
        judge(&mut held, &mut seen);
        if held.len() == before || t.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    (held, seen)
}

/// A sample of /metrics.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// 25 000 idle connections to an AP's web port from 64 addresses: the
/// daemon keeps at most 32 per address and 1024 in all, resets the rest
/// at once, and meanwhile answers on its control socket, lets an
/// operator log in from another address, and runs on. The daemon starts
/// with a soft descriptor limit of 1024 and raises it to the hard one.
#[test]
fn a_flood_of_idle_connections_leaves_the_device_working() {
    let hard = raise_open_files();
    let mut ap = Netns::new(&unique_name("pmipt-wf")).unwrap();
    let client = Netns::new(&unique_name("pmipt-wc")).unwrap();
    ap.veth_to("FastEthernet0", &client, "eth0").unwrap();
    client.addr("eth0", &format!("{OPERATOR}/24")).unwrap();
    for i in 0..FLOODERS {
        client.addr("eth0", &format!("{}/24", flooder(i))).unwrap();
    }
    let cfg = temp("wf.cfg");
    std::fs::write(
        &cfg,
        format!(
            "hostname wf
interface FastEthernet0
 ip proxy-mobile
interface BVI1
 ip address {AP_ADDR} 255.255.255.0
 ip proxy-mobile
ip default-gateway 10.77.0.254
ip proxy-mobile enable
ip http server
ip http port {PORT}
ip http authentication local
username admin secret 0 {PASSWORD}
"
        ),
    )
    .unwrap();
    let control = temp("wf.sock");
    let log = temp("wf.log");
    // A soft limit of 1024 under a high hard one, as a service manager
    // would start it: the daemon raises its own.
    let pid = ap
        .spawn(
            "prlimit",
            &[
                &format!("--nofile=1024:{hard}"),
                PMIP,
                "run",
                cfg.to_str().unwrap(),
                "--control",
                control.to_str().unwrap(),
            ],
            Stdio::null(),
            std::fs::File::create(&log).unwrap().into(),
        )
        .unwrap();
    wait_for(&control, &log);
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let nofile = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .to_string();
    println!("daemon: {nofile}");
    assert!(
        nofile.split_whitespace().nth(3) == Some(&hard.to_string()),
        "soft limit raised to the hard one: {nofile}"
    );
    let dst = SocketAddr::from((AP_ADDR, PORT));
    // The operator's address answers before the flood.
    client
        .run(move || login(Some(OPERATOR), dst, "admin", PASSWORD))
        .unwrap();

    // The control socket asked every 50 ms while the flood comes in.
    let flooding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let asker = {
        let (control, flooding) = (control.clone(), flooding.clone());
        std::thread::spawn(move || {
            let mut slowest = Duration::ZERO;
            let mut asked = 0;
            while flooding.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                exec_ok(&control, &["show", "version"]);
                slowest = slowest.max(t.elapsed());
                asked += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            (asked, slowest)
        })
    };
    let t = Instant::now();
    let (held, seen) = client.run(move || open_flood(dst)).unwrap();
    let opened = t.elapsed();
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    let (asked, slowest) = asker.join().expect("the control socket answered");
    println!(
        "while the flood came in, pmip exec show version answered {asked} times, the slowest in {slowest:.2?}"
    );
    println!(
        "{FLOOD} connections from {FLOODERS} addresses in {opened:.2?}: {} connected, {} closed by the daemon, {} held open by it, {} never connected",
        seen.connected,
        seen.closed,
        held.len(),
        seen.failed
    );

    // The device works: the control socket, a login from another
    // address, the daemon itself.
    let t = Instant::now();
    let version = exec_ok(&control, &["show", "version"]);
    let exec_took = t.elapsed();
    assert!(version.contains("wf"), "{version}");
    let t = Instant::now();
    let session = client
        .run(move || login(Some(OPERATOR), dst, "admin", PASSWORD))
        .unwrap();
    let login_took = t.elapsed();
    let metrics = client
        .run(move || {
            http(
                Some(OPERATOR),
                dst,
                "GET",
                "/metrics",
                &[("Cookie", &format!("pmip_session={session}"))],
                "",
            )
            .unwrap()
        })
        .unwrap();
    assert_eq!(metrics.status, 200);
    let m = |name| metric(&metrics.body, name);
    let refused_source = m("pmip_web_connections_refused_total{limit=\"per_source\"}");
    let refused_total = m("pmip_web_connections_refused_total{limit=\"total\"}");
    let evicted = m("pmip_web_connections_evicted_total");
    let accepted = m("pmip_web_connections_accepted_total");
    let open = m("pmip_web_connections_open");
    println!(
        "daemon's count: {accepted} accepted ({evicted} of them later closed to let another address in), {refused_source} refused (per address), {refused_total} refused (total), {open} open",
    );
    println!(
        "with the flood's connections held: pmip exec show version answered in {exec_took:.2?}, the operator logged in from {OPERATOR} in {login_took:.2?}"
    );
    assert!(running(pid), "the daemon runs on");
    assert!(open <= 1024, "{open} open");
    assert!(held.len() <= 1024, "{} held", held.len());
    assert!(
        refused_source > 0 && refused_total + evicted > 0,
        "both limits reached"
    );
    assert!(
        accepted + refused_source + refused_total >= (FLOOD - seen.failed) as u64,
        "every connection that arrived was accepted or refused"
    );
    let still = held.iter().filter(|s| still_open(s)).count();
    println!("after the checks {still} of the flood's connections were still open");
    drop(held);
    // And after it.
    exec_ok(&control, &["show", "version"]);
    assert!(running(pid));
    // The burst's summary comes once it has been quiet for a second.
    std::thread::sleep(Duration::from_millis(1500));
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        log_text.contains("web: burst of refused connections over"),
        "{log_text}"
    );
    let refusal_lines = log_text.matches("web: connection refused").count()
        + log_text.matches("web: connection limit reached").count();
    println!("refusals logged in {refusal_lines} line(s):");
    for l in log_text.lines().filter(|l| l.contains("web: ")) {
        println!("  {l}");
    }
    // A burst ends after a quiet second: at most one per batch of the
    // flood even on a slow machine, not one per connection.
    assert!(
        refusal_lines <= FLOOD / BATCH,
        "logged once per burst, not per connection:\n{log_text}"
    );
}
