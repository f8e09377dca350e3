//! The connection limits and timeouts against a real loopback socket,
//! with short durations. Clients take their own source addresses from
//! 127.0.0.0/8 (all local on Linux) to stand for different hosts.

use super::*;
use axum::body::Bytes;
use axum::routing::{get, post};
use std::collections::VecDeque;
use std::net::Ipv4Addr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

struct Server {
    addr: SocketAddr,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn config(per_source: usize, total: usize, header_ms: u64, idle_ms: u64) -> WebConfig {
    WebConfig {
        max_connections_per_source: per_source,
        max_connections: total,
        header_timeout: Duration::from_millis(header_ms),
        idle_timeout: Duration::from_millis(idle_ms),
        ..WebConfig::default()
    }
}

fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/echo", post(|b: Bytes| async move { b.len().to_string() }))
}

async fn start_on(listener: impl Accept + 'static, addr: SocketAddr, c: WebConfig) -> Server {
    let (keep, rx) = watch::channel(c);
    let counters = Arc::new(Counters::default());
    let task = tokio::spawn({
        let counters = counters.clone();
        async move {
            let _keep = keep;
            serve(listener, router(), rx, counters).await
        }
    });
    Server {
        addr,
        counters,
        task,
    }
}

async fn start(c: WebConfig) -> Server {
    let listener = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    let addr = listener.local_addr().unwrap();
    start_on(listener, addr, c).await
}

/// A connection from 127.0.0.`host`.
async fn connect(s: &Server, host: u8) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, host), 0)))
        .unwrap();
    sock.connect(s.addr).await.unwrap()
}

/// Whether the server closed the connection within `wait` (end of
/// stream or a reset); false if it is still open then.
async fn closed_within(c: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(wait, c.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // An answer to a request sent earlier: read on.
            Ok(Ok(_)) => {}
        }
    }
}

/// GET / on `c`, kept alive; the answer's body.
async fn get_root(c: &mut TcpStream) -> String {
    c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while !got.ends_with(b"ok") {
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Waits until the server counts `n` open connections.
async fn open_becomes(s: &Server, n: u64) {
    let t = Instant::now();
    while s.counters.snapshot().open != n {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "open stays {:?}, not {n}",
            s.counters.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

const A_WHILE: Duration = Duration::from_millis(200);

#[tokio::test]
async fn one_address_gets_its_share_and_the_next_is_reset_at_once() {
    let s = start(config(3, 100, 10_000, 10_000)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = connect(&s, 1).await;
        assert!(get_root(&mut c).await.starts_with("HTTP/1.1 200"));
        held.push(c);
    }
    let mut extra = connect(&s, 1).await;
    let t = Instant::now();
    assert!(closed_within(&mut extra, Duration::from_secs(2)).await);
    assert!(t.elapsed() < Duration::from_secs(1), "at once");
    // Another address is served meanwhile.
    let mut other = connect(&s, 2).await;
    assert!(get_root(&mut other).await.starts_with("HTTP/1.1 200"));
    for c in &mut held {
        assert!(!closed_within(c, A_WHILE).await, "the first three stay");
    }
    let st = s.counters.snapshot();
    assert_eq!(
        (
            st.refused_per_source,
            st.refused_total,
            st.open,
            st.accepted
        ),
        (1, 0, 4, 4)
    );
    // One closes: the address may open another.
    drop(held.pop());
    open_becomes(&s, 3).await;
    let mut again = connect(&s, 1).await;
    assert!(get_root(&mut again).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn when_full_a_newcomer_takes_the_busiest_addresses_oldest_connection() {
    let s = start(config(3, 4, 10_000, 10_000)).await;
    let mut a = Vec::new();
    for _ in 0..3 {
        a.push(connect(&s, 1).await);
    }
    let mut b = vec![connect(&s, 2).await];
    open_becomes(&s, 4).await;
    // Full. 127.0.0.3 holds nothing, 127.0.0.1 three: its oldest goes.
    let mut c = connect(&s, 3).await;
    assert!(closed_within(&mut a[0], Duration::from_secs(2)).await);
    assert!(get_root(&mut c).await.starts_with("HTTP/1.1 200"));
    assert!(!closed_within(&mut a[1], A_WHILE).await);
    // 127.0.0.2 (one) against 127.0.0.1 (two): the busier gives way.
    b.push(connect(&s, 2).await);
    assert!(closed_within(&mut a[1], Duration::from_secs(2)).await);
    assert!(get_root(&mut b[1]).await.starts_with("HTTP/1.1 200"));
    // Now 127.0.0.2 is the busiest (two): a new address takes its oldest.
    let mut d = connect(&s, 4).await;
    assert!(closed_within(&mut b[0], Duration::from_secs(2)).await);
    assert!(get_root(&mut d).await.starts_with("HTTP/1.1 200"));
    // Everybody holds one: a second from any of them is refused.
    let mut e = connect(&s, 4).await;
    assert!(closed_within(&mut e, Duration::from_secs(2)).await);
    for c in [&mut a[2], &mut b[1], &mut c, &mut d] {
        assert!(!closed_within(c, A_WHILE).await, "the survivors stay");
    }
    let st = s.counters.snapshot();
    assert_eq!(
        (st.evicted, st.refused_total, st.refused_per_source, st.open),
        (3, 1, 0, 4)
    );
}

#[tokio::test]
async fn a_request_head_must_arrive_in_time() {
    let header = Duration::from_millis(300);
    let s = start(config(10, 100, 300, 10_000)).await;
    // Silent from the start.
    let mut silent = connect(&s, 1).await;
    let t = Instant::now();
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await);
    let took = t.elapsed();
    assert!(took >= header - Duration::from_millis(50), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    // A head sent a byte every 50 ms (slowloris): never complete in time.
    let mut slow = connect(&s, 2).await;
    let t = Instant::now();
    let head =
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut cut = false;
    for b in head {
        if slow.write_all(&[*b]).await.is_err() {
            cut = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if t.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    assert!(cut || closed_within(&mut slow, Duration::from_secs(1)).await);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Kept alive after an answer, then silent: closed as well.
    let mut kept = connect(&s, 3).await;
    assert!(get_root(&mut kept).await.starts_with("HTTP/1.1 200"));
    let t = Instant::now();
    assert!(closed_within(&mut kept, Duration::from_secs(3)).await);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let st = s.counters.snapshot();
    assert_eq!(st.header_timeouts, 3, "{st:?}");
    open_becomes(&s, 0).await;
}

#[tokio::test]
async fn a_stalled_body_ends_its_connection() {
    let s = start(config(10, 100, 5_000, 300)).await;
    let mut c = connect(&s, 1).await;
    c.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    let t = Instant::now();
    assert!(closed_within(&mut c, Duration::from_secs(3)).await);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    // A whole body is answered.
    let mut ok = connect(&s, 2).await;
    ok.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = ok.read(&mut buf).await.unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("\r\n\r\n3"),
        "{answer}"
    );
    let st = s.counters.snapshot();
    assert_eq!((st.idle_timeouts, st.header_timeouts), (1, 0), "{st:?}");
}

/// A listener whose first accepts fail as a process out of descriptors
/// (or with a connection's own error) would see them.
struct Failing {
    errors: VecDeque<io::Error>,
    inner: TcpListener,
}

impl Accept for Failing {
    async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        match self.errors.pop_front() {
            Some(e) => Err(e),
            None => self.inner.accept().await,
        }
    }
}

#[tokio::test]
async fn accept_errors_pause_the_loop_but_never_end_it() {
    let inner = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).unwrap();
    let addr = inner.local_addr().unwrap();
    let errors = [
        io::Error::from_raw_os_error(libc::EMFILE),
        io::Error::from(io::ErrorKind::ConnectionAborted),
        io::Error::from_raw_os_error(libc::ENFILE),
        io::Error::from_raw_os_error(libc::EPROTO),
        io::Error::from_raw_os_error(libc::EMFILE),
    ];
    let t = Instant::now();
    let s = start_on(
        Failing {
            errors: errors.into(),
            inner,
        },
        addr,
        config(10, 100, 5_000, 5_000),
    )
    .await;
    let mut c = connect(&s, 1).await;
    assert!(get_root(&mut c).await.starts_with("HTTP/1.1 200"));
    let took = t.elapsed();
    // Three pauses (EMFILE, ENFILE, EMFILE); a connection's own errors
    // (ECONNABORTED, EPROTO) are passed over at once.
    assert!(took >= ACCEPT_PAUSE * 3, "{took:?}");
    assert!(took < ACCEPT_PAUSE * 3 + Duration::from_secs(2), "{took:?}");
    assert_eq!(s.counters.snapshot().accept_errors, 3);
}

#[tokio::test]
async fn dropping_the_server_closes_every_connection() {
    let s = start(config(10, 100, 10_000, 10_000)).await;
    let mut c = connect(&s, 1).await;
    assert!(get_root(&mut c).await.starts_with("HTTP/1.1 200"));
    let addr = s.addr;
    drop(s);
    assert!(closed_within(&mut c, Duration::from_secs(2)).await);
    // The port is free again at once.
    tokio::time::sleep(Duration::from_millis(50)).await;
    bind(addr).unwrap();
}

#[test]
fn a_burst_is_logged_once_then_summed_up_when_quiet() {
    let counters = Counters::default();
    let mut b = Burst::default();
    let t0 = Instant::now();
    assert!(b.ends().is_none());
    assert!(b.note(t0, &counters), "the first is logged");
    counters.refused_total.fetch_add(1, Relaxed);
    for i in 1..100u32 {
        assert!(!b.note(t0 + Duration::from_millis(i.into()), &counters));
        counters.refused_total.fetch_add(1, Relaxed);
    }
    let last = t0 + Duration::from_millis(99);
    assert_eq!(b.ends(), Some(last + QUIET));
    assert!(b.over(last + QUIET / 2).is_none(), "still going");
    let (took, before, n) = b.over(last + QUIET).unwrap();
    assert_eq!(
        (took, before.refused_total, n),
        (Duration::from_millis(99), 0, 100)
    );
    assert!(b.ends().is_none() && b.over(last + QUIET * 2).is_none());
    assert!(b.note(last + QUIET * 3, &counters), "a new burst");
}

#[tokio::test]
async fn an_oversized_head_is_refused() {
    let s = start(config(10, 100, 5_000, 5_000)).await;
    let mut c = connect(&s, 1).await;
    let head = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(MAX_HEAD + 1024)
    );
    // The server may stop reading before all of it is written.
    let _ = c.write_all(head.as_bytes()).await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut got)).await;
    let answer = String::from_utf8_lossy(&got);
    // 431, unless the reset of the bytes the server did not read reached
    // the client first: never served either way.
    assert!(
        answer.starts_with("HTTP/1.1 431") || answer.is_empty(),
        "{answer}"
    );
}
