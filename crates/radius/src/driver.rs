//! Runs the [`RadiusClient`] engine over a real UDP socket with tokio, so
//! a daemon can `lookup(home).await`.
//!
//! One task owns the socket and the engine; [`RadiusHandle`]s (cheap to
//! clone) talk to it over a channel. The task stops when the last handle
//! is dropped.

use crate::client::{
    Action, CachedSa, ClientConfig, Counters, Lookup, RadiusClient, RadiusError, RequestId,
};
use crate::packet::MAX_LEN;
use crate::sa::Sa;
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use pmip_engine::time::Instant;
use std::collections::HashMap;
use std::io;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// A cached SA as [`RadiusHandle::snapshot`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntryView {
    pub home_address: Ipv4Addr,
    pub sa: Sa,
    /// The server it came from.
    pub server: SocketAddrV4,
    /// How long ago it arrived.
    pub age: Duration,
    pub expires_in: Duration,
}

impl From<CachedSa<'_>> for CacheEntryView {
    fn from(c: CachedSa<'_>) -> CacheEntryView {
        CacheEntryView {
            home_address: c.home_address,
            sa: c.sa.clone(),
            server: c.server,
            age: c.age,
            expires_in: c.expires_in,
        }
    }
}

/// The client's state for `show` commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub counters: Counters,
    /// Sorted by home address.
    pub cache: Vec<CacheEntryView>,
    /// Lookups under way.
    pub outstanding: usize,
}

enum Command {
    Lookup {
        home: Ipv4Addr,
        reply: oneshot::Sender<Result<Sa, RadiusError>>,
    },
    Snapshot {
        reply: oneshot::Sender<Snapshot>,
    },
    Source {
        home: Ipv4Addr,
        reply: oneshot::Sender<Option<SocketAddrV4>>,
    },
    Forget(Ipv4Addr),
    ClearCache,
}

/// Talks to the driver task. Clone it freely.
#[derive(Clone, Debug)]
pub struct RadiusHandle {
    tx: mpsc::UnboundedSender<Command>,
    local: SocketAddrV4,
}

impl RadiusHandle {
    /// `home`'s mobility security association: cached, or fetched from the
    /// servers. Concurrent lookups of one address share one request.
    pub async fn lookup(&self, home: Ipv4Addr) -> Result<Sa, RadiusError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Lookup { home, reply })
            .map_err(|_| RadiusError::Stopped)?;
        rx.await.unwrap_or(Err(RadiusError::Stopped))
    }

    /// Counters, cache (with each SA's source server and age) and
    /// outstanding lookups; `None` once the driver has stopped.
    pub async fn snapshot(&self) -> Option<Snapshot> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Snapshot { reply }).ok()?;
        rx.await.ok()
    }

    /// The server `home`'s cached SA came from (cheap, unlike a whole
    /// [`RadiusHandle::snapshot`]); `None` when it is not cached.
    pub async fn source(&self, home: Ipv4Addr) -> Option<SocketAddrV4> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Source { home, reply }).ok()?;
        rx.await.ok().flatten()
    }

    /// Forgets `home`'s cached SA: the next lookup asks a server.
    pub fn forget(&self, home: Ipv4Addr) {
        let _ = self.tx.send(Command::Forget(home));
    }

    /// Forgets every cached SA.
    pub fn clear_cache(&self) {
        let _ = self.tx.send(Command::ClearCache);
    }

    /// The local address requests leave from.
    pub fn local_addr(&self) -> SocketAddrV4 {
        self.local
    }
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e.to_string())
}

/// Binds a UDP socket to `bind` (port 0 for any) and starts the driver
/// task on the current tokio runtime.
pub async fn spawn(config: ClientConfig, bind: SocketAddrV4) -> io::Result<RadiusHandle> {
    config.validate().map_err(invalid)?;
    let socket = UdpSocket::bind(bind).await?;
    spawn_with_socket(config, socket)
}

/// Starts the driver task with a socket the caller made (bound where it
/// wants, in the namespace it wants). Must be called inside a tokio
/// runtime.
pub fn spawn_with_socket(config: ClientConfig, socket: UdpSocket) -> io::Result<RadiusHandle> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| io::Error::other(format!("getrandom: {e}")))?;
    let engine = RadiusClient::new(config, seed).map_err(invalid)?;
    let local = match socket.local_addr()? {
        std::net::SocketAddr::V4(a) => a,
        std::net::SocketAddr::V6(_) => return Err(invalid("RADIUS runs over IPv4 here")),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(run(engine, socket, rx));
    Ok(RadiusHandle { tx, local })
}

async fn run(
    mut engine: RadiusClient,
    socket: UdpSocket,
    mut rx: mpsc::UnboundedReceiver<Command>,
) {
    let origin = tokio::time::Instant::now();
    let now = || Instant::from_duration(origin.elapsed());
    let mut waiters: HashMap<RequestId, Vec<oneshot::Sender<Result<Sa, RadiusError>>>> =
        HashMap::new();
    let mut out = Vec::new();
    // One more than the largest packet, so an oversized datagram is seen
    // as such rather than silently cut to a valid-looking one.
    let mut buf = vec![0u8; MAX_LEN + 1];
    loop {
        let deadline = engine.poll_timeout().map(|t| origin + t.since_origin());
        tokio::select! {
            cmd = rx.recv() => match cmd {
                None => break,
                Some(Command::Lookup { home, reply }) => {
                    match engine.request(now(), home, &mut out) {
                        Lookup::Cached(sa) => {
                            let _ = reply.send(Ok(sa));
                        }
                        Lookup::Pending(id) => waiters.entry(id).or_default().push(reply),
                    }
                }
                Some(Command::Source { home, reply }) => {
                    let _ = reply.send(engine.cached(now(), home).map(|c| c.server));
                }
                Some(Command::Snapshot { reply }) => {
                    let t = now();
                    let mut cache: Vec<CacheEntryView> =
                        engine.cache(t).map(CacheEntryView::from).collect();
                    cache.sort_by_key(|c| c.home_address);
                    let _ = reply.send(Snapshot {
                        counters: engine.counters().clone(),
                        cache,
                        outstanding: engine.outstanding(),
                    });
                }
                Some(Command::Forget(home)) => {
                    engine.forget(home);
                }
                Some(Command::ClearCache) => engine.clear_cache(),
            },
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => engine.receive(now(), from, &buf[..n], &mut out),
                // ICMP errors reported on the socket and the like: the
                // request's own timer deals with a silent server.
                Err(e) => debug!("RADIUS socket receive: {e}"),
            },
            _ = sleep_until(deadline) => engine.handle_timeout(now(), &mut out),
        }
        for action in out.drain(..) {
            match action {
                Action::Send { to, datagram } => {
                    if let Err(e) = socket.send_to(&datagram, to).await {
                        warn!(%to, "RADIUS send failed: {e}");
                    }
                }
                Action::Done { id, result, .. } => {
                    for w in waiters.remove(&id).unwrap_or_default() {
                        let _ = w.send(result.clone());
                    }
                }
            }
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
