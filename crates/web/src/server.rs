//! The connections: accepted, limited, timed out and counted, so that
//! nobody who reaches the web port can hold the device's sockets, memory
//! or attention.
//!
//! `axum::serve` has no timeouts and no connection limits, so each
//! connection is driven here with hyper's own HTTP/1 server
//! (`hyper::server::conn::http1`, the pages need nothing newer):
//!
//! * its `header_read_timeout` (with hyper-util's Tokio timer) bounds the
//!   time from when the server starts waiting for a request — a new
//!   connection, or a kept-alive one after its last answer — until the
//!   request's head is complete. That ends slow-header (slowloris)
//!   clients and idle kept-alive connections alike;
//! * `tokio-io-timeout` on the socket ends a connection whose read or
//!   write makes no progress for the idle timeout (a body that stops
//!   coming, a client that stops reading its answer);
//! * at most `max_connections_per_source` connections per client address
//!   and `max_connections` in all. A connection over a limit is reset at
//!   once (no TIME_WAIT kept for it), except that when the total is
//!   reached a newcomer from an address holding fewer connections than
//!   the busiest address takes the oldest connection of that address: a
//!   flood from a few addresses cannot keep another address out.
//!
//! Refusals are counted (`/metrics`) and logged once per burst: the first
//! with its reason, then one line summing the burst up once it has been
//! quiet for a second. An accept error never ends the server: one that is
//! not a single connection's own (EMFILE, ENFILE, ENOBUFS, ...) pauses the
//! loop for [`ACCEPT_PAUSE`] and is logged the same way.

use crate::WebConfig;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How long the accept loop rests after an accept error that is not one
/// connection's own: such a condition (out of descriptors or buffers)
/// lasts a moment, and retrying at once would spin on it.
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// A burst of refusals or accept errors is summed up once this long has
/// passed without another.
const QUIET: Duration = Duration::from_secs(1);
/// The listen backlog: room for a burst while the loop catches up.
const BACKLOG: i32 = 4096;
/// The largest request head (start line and headers) read: a browser's,
/// cookies included, is a few KiB. Larger ones are answered 431.
pub const MAX_HEAD: usize = 32 * 1024;
/// What a connection buffers (request head, queued answer), roughly:
/// with the connection limit, this bounds the server's memory.
const MAX_BUF: usize = 64 * 1024;

/// A listening socket for the web server on `addr`: address reuse (a
/// restarted or moved server binds again at once) and a backlog for a
/// burst of connections.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    TcpListener::from_std(s.into())
}

/// The web server's own counters (`/metrics`, `pmip_web_*`).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    open: AtomicU64,
    accepted: AtomicU64,
    refused_per_source: AtomicU64,
    refused_total: AtomicU64,
    evicted: AtomicU64,
    header_timeouts: AtomicU64,
    idle_timeouts: AtomicU64,
    accept_errors: AtomicU64,
    pub(crate) password_checks: AtomicU64,
    pub(crate) logins_locked_out: AtomicU64,
}

/// A copy of the web server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WebStats {
    /// Connections open now.
    pub open: u64,
    pub accepted: u64,
    /// Reset at once: the client address already held its share.
    pub refused_per_source: u64,
    /// Reset at once: the server held `max_connections`.
    pub refused_total: u64,
    /// Closed to make room for an address holding fewer connections.
    pub evicted: u64,
    /// Closed because a request's head did not arrive in time (this
    /// includes kept-alive connections left idle).
    pub header_timeouts: u64,
    /// Closed because a read or write made no progress in time.
    pub idle_timeouts: u64,
    /// Accept errors that were not one connection's own (EMFILE, ...).
    pub accept_errors: u64,
    /// Passwords checked (logins and basic authentication).
    pub password_checks: u64,
    /// Login attempts refused unchecked: the address was locked out.
    pub logins_locked_out: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> WebStats {
        WebStats {
            open: self.open.load(Relaxed),
            accepted: self.accepted.load(Relaxed),
            refused_per_source: self.refused_per_source.load(Relaxed),
            refused_total: self.refused_total.load(Relaxed),
            evicted: self.evicted.load(Relaxed),
            header_timeouts: self.header_timeouts.load(Relaxed),
            idle_timeouts: self.idle_timeouts.load(Relaxed),
            accept_errors: self.accept_errors.load(Relaxed),
            password_checks: self.password_checks.load(Relaxed),
            logins_locked_out: self.logins_locked_out.load(Relaxed),
        }
    }
}

/// Why a connection was not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    PerSource,
    Total,
}

/// The open connections by client address, each with the way to close
/// it early, oldest first.
#[derive(Default)]
struct Table {
    inner: Mutex<Inner>,
    counters: Arc<Counters>,
}

#[derive(Default)]
struct Inner {
    sources: HashMap<IpAddr, BTreeMap<u64, oneshot::Sender<()>>>,
    open: usize,
    next: u64,
}

/// Keeps a connection's place in the [`Table`]; gives it up on drop.
struct Place {
    table: Arc<Table>,
    ip: IpAddr,
    id: u64,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut guard = self.table.lock();
        let t = &mut *guard;
        if let Some(conns) = t.sources.get_mut(&self.ip) {
            // Already gone when it was closed to make room.
            if conns.remove(&self.id).is_some() {
                t.open -= 1;
            }
            if conns.is_empty() {
                t.sources.remove(&self.ip);
            }
        }
        self.table.counters.open.store(t.open as u64, Relaxed);
    }
}

/// An admitted connection: its place, the signal that closes it early,
/// and the address that made room for it, if one had to.
struct Admitted {
    place: Place,
    close: oneshot::Receiver<()>,
    evicted: Option<IpAddr>,
}

impl Table {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding it; a poisoned table is still
        // consistent, so the server goes on.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        per_source: usize,
        total: usize,
    ) -> Result<Admitted, Refusal> {
        let mut guard = self.lock();
        let t = &mut *guard;
        let mine = t.sources.get(&ip).map_or(0, BTreeMap::len);
        if mine >= per_source {
            return Err(Refusal::PerSource);
        }
        let mut evicted = None;
        if t.open >= total {
            let busiest = t
                .sources
                .iter()
                .max_by_key(|(_, c)| c.len())
                .map(|(ip, c)| (*ip, c.len()));
            let Some((victim, _)) = busiest.filter(|(_, n)| *n > mine) else {
                return Err(Refusal::Total);
            };
            if let Some(conns) = t.sources.get_mut(&victim)
                && let Some((_, close)) = conns.pop_first()
            {
                let _ = close.send(());
                if conns.is_empty() {
                    t.sources.remove(&victim);
                }
                t.open -= 1;
                evicted = Some(victim);
            }
        }
        let id = t.next;
        t.next += 1;
        let (tx, close) = oneshot::channel();
        t.sources.entry(ip).or_default().insert(id, tx);
        t.open += 1;
        self.counters.open.store(t.open as u64, Relaxed);
        Ok(Admitted {
            place: Place {
                table: self.clone(),
                ip,
                id,
            },
            close,
            evicted,
        })
    }
}

/// Where connections come from: a listening socket, or in tests one that
/// fails on purpose.
pub(crate) trait Accept: Send {
    fn accept(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send;
}

impl Accept for TcpListener {
    async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
        TcpListener::accept(self).await
    }
}

/// An accept error that belongs to the one connection being accepted
/// (it was reset or failed before we took it): take the next at once.
fn one_connections_error(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    ) {
        return true;
    }
    // accept(2): pending network errors of the new socket are passed on.
    const PASSED_ON: [i32; 8] = [
        libc::ENETDOWN,
        libc::EPROTO,
        libc::ENOPROTOOPT,
        libc::EHOSTDOWN,
        libc::ENONET,
        libc::EHOSTUNREACH,
        libc::EOPNOTSUPP,
        libc::ENETUNREACH,
    ];
    e.raw_os_error().is_some_and(|n| PASSED_ON.contains(&n))
}

/// A run of events logged once: the first as it happens, the rest summed
/// up when the run has been quiet for [`QUIET`].
#[derive(Default)]
struct Burst {
    /// When it started, the counters just before it, and how many events.
    started: Option<(Instant, WebStats, u64)>,
    last: Option<Instant>,
}

impl Burst {
    /// Notes an event (call before counting it); true for the first of a
    /// burst, which the caller logs.
    fn note(&mut self, now: Instant, counters: &Counters) -> bool {
        self.last = Some(now);
        match &mut self.started {
            Some((_, _, n)) => {
                *n += 1;
                false
            }
            None => {
                self.started = Some((now, counters.snapshot(), 1));
                true
            }
        }
    }

    /// When the burst will be over, if one is running.
    fn ends(&self) -> Option<Instant> {
        self.started.and(self.last).map(|l| l + QUIET)
    }

    /// The burst, once it is over: how long it lasted, the counters
    /// before it, and how many events it had.
    fn over(&mut self, now: Instant) -> Option<(Duration, WebStats, u64)> {
        let end = self.ends()?;
        if now < end {
            return None;
        }
        let (t0, before, n) = self.started.take()?;
        Some((self.last.unwrap_or(t0).duration_since(t0), before, n))
    }
}

/// Accepts connections on `listener` and serves `router` on each until
/// the future is dropped, which closes every connection too.
pub(crate) async fn serve(
    mut listener: impl Accept,
    router: Router,
    config: watch::Receiver<WebConfig>,
    counters: Arc<Counters>,
) {
    let table = Arc::new(Table {
        inner: Mutex::default(),
        counters: counters.clone(),
    });
    // Dropped with this future: every connection ends with the server.
    let mut conns = JoinSet::new();
    let mut refusals = Burst::default();
    let mut errors = Burst::default();
    loop {
        let quiet = [refusals.ends(), errors.ends()].into_iter().flatten().min();
        let summary = async {
            match quiet {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let c = config.borrow().clone_limits();
                    let ip = canonical(peer.ip());
                    match table.admit(ip, c.per_source, c.total) {
                        Ok(a) => {
                            if let Some(victim) = a.evicted {
                                if refusals.note(Instant::now(), &counters) {
                                    tracing::warn!(
                                        %ip, %victim, limit = c.total,
                                        "web: connection limit reached; closed the oldest connection of the address holding the most to let a new address in (further refusals are counted, summed up when the burst ends)"
                                    );
                                }
                                counters.evicted.fetch_add(1, Relaxed);
                            }
                            counters.accepted.fetch_add(1, Relaxed);
                            conns.spawn(connection(stream, peer, router.clone(), c, a));
                        }
                        Err(reason) => {
                            let first = refusals.note(Instant::now(), &counters);
                            let (counter, why, limit) = match reason {
                                Refusal::PerSource => (&counters.refused_per_source, "its address holds the most connections allowed from one address", c.per_source),
                                Refusal::Total => (&counters.refused_total, "the server holds the most connections allowed", c.total),
                            };
                            counter.fetch_add(1, Relaxed);
                            refuse(stream);
                            if first {
                                tracing::warn!(
                                    %ip, limit,
                                    "web: connection refused: {why} (further refusals are counted, summed up when the burst ends)"
                                );
                            }
                        }
                    }
                }
                Err(e) if one_connections_error(&e) => {
                    tracing::debug!(error = %e, "web: a connection failed before it was accepted");
                }
                Err(e) => {
                    if errors.note(Instant::now(), &counters) {
                        tracing::warn!(
                            error = %e,
                            "web: cannot accept connections; retrying every {} ms (further errors are counted, summed up when they stop)",
                            ACCEPT_PAUSE.as_millis()
                        );
                    }
                    counters.accept_errors.fetch_add(1, Relaxed);
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                }
            },
            Some(_) = conns.join_next() => {}
            () = summary => {
                let now = Instant::now();
                let after = counters.snapshot();
                if let Some((took, before, n)) = refusals.over(now)
                    && n > 1
                {
                    tracing::warn!(
                        refused_per_source = after.refused_per_source - before.refused_per_source,
                        refused_total = after.refused_total - before.refused_total,
                        evicted = after.evicted - before.evicted,
                        open = after.open,
                        seconds = took.as_secs_f64(),
                        "web: burst of refused connections over"
                    );
                }
                if let Some((took, before, n)) = errors.over(now)
                    && n > 1
                {
                    tracing::warn!(
                        errors = after.accept_errors - before.accept_errors,
                        seconds = took.as_secs_f64(),
                        "web: accept errors stopped"
                    );
                }
            }
        }
    }
}

/// The limits in force, read once per connection.
#[derive(Clone, Copy)]
struct Limits {
    per_source: usize,
    total: usize,
    header: Duration,
    idle: Duration,
}

impl WebConfig {
    fn clone_limits(&self) -> Limits {
        Limits {
            per_source: self.max_connections_per_source,
            total: self.max_connections,
            header: self.header_timeout,
            idle: self.idle_timeout,
        }
    }
}

/// An IPv4 client seen through an IPv6 socket counts as its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Closes a refused connection with a reset: the client learns at once,
/// and no TIME_WAIT state is kept for it.
fn refuse(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// Serves one connection until it ends, times out, or is closed to make
/// room for another.
async fn connection(stream: TcpStream, peer: SocketAddr, router: Router, c: Limits, a: Admitted) {
    let Admitted {
        place, mut close, ..
    } = a;
    let counters = place.table.counters.clone();
    let _ = stream.set_nodelay(true);
    let mut io = tokio_io_timeout::TimeoutStream::new(stream);
    io.set_read_timeout(Some(c.idle));
    io.set_write_timeout(Some(c.idle));
    let timed_out = Arc::new(AtomicBool::new(false));
    let io = TokioIo::new(NoteTimeout {
        inner: Box::pin(io),
        timed_out: timed_out.clone(),
    });
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // What axum's `into_make_service_with_connect_info` would insert.
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move { tower_service::Service::call(&mut router, req).await }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(c.header)
        .max_header_size(MAX_HEAD)
        .max_buf_size(MAX_BUF)
        .serve_connection(io, service);
    tokio::select! {
        r = conn => match r {
            // hyper hands a body's read error to the handler and may end
            // the connection without one: the socket's own note decides.
            _ if timed_out.load(Relaxed) => {
                counters.idle_timeouts.fetch_add(1, Relaxed);
            }
            Err(e) if e.is_timeout() => {
                counters.header_timeouts.fetch_add(1, Relaxed);
            }
            Err(e) => tracing::debug!(%peer, error = %e, "web: connection ended with an error"),
            Ok(()) => {}
        },
        // Closed to make room for another address: dropping it closes it.
        _ = &mut close => {}
    }
    drop(place);
}

/// A socket that notes when a read or write of it timed out.
struct NoteTimeout<S> {
    inner: S,
    timed_out: Arc<AtomicBool>,
}

impl<S> NoteTimeout<S> {
    fn note<T>(&self, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(e)) = &r
            && e.kind() == io::ErrorKind::TimedOut
        {
            self.timed_out.store(true, Relaxed);
        }
        r
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for NoteTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.note(r)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for NoteTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(r)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.note(r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.note(r)
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
