//! The node's sockets, polled by the driver loop itself: UDP sockets on
//! the addresses the node listens on, the foreign agent's visited links,
//! the AP's wired port and station ports. A datagram goes from the
//! socket straight into the node, with no task or channel between.
//!
//! A socket that fails (its link went down, a transient kernel error) is
//! rested for a moment rather than polled in a tight loop; nothing it
//! does ends the loop.

use pmip_node::{Input, Link, Mac};
use pmip_platform::datagrams::Received;
use pmip_platform::packet::{PacketSocket, RawLink};
use pmip_platform::visited_link::VisitedLink;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::SocketAddrV4;
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// How long a failing socket rests before it is read again.
const REST: Duration = Duration::from_millis(100);

/// Which socket something arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Udp(usize),
    Visited(usize),
    Wired,
    Station(u32),
}

/// What one poll read into the buffer.
pub enum Arrived {
    Udp {
        local: SocketAddrV4,
        remote: SocketAddrV4,
        len: usize,
    },
    Visited {
        index: usize,
        mac: Mac,
        len: usize,
    },
    Frame {
        link: Link,
        len: usize,
    },
}

impl Arrived {
    /// The input for the node, over the bytes read.
    pub fn input<'a>(&self, io: &'a Io, buf: &'a [u8]) -> Input<'a> {
        match *self {
            Arrived::Udp { local, remote, len } => Input::Datagram {
                local,
                remote,
                payload: &buf[..len],
            },
            Arrived::Visited { index, mac, len } => Input::VisitedPacket {
                interface: &io.visited[index].0,
                mac,
                packet: &buf[..len],
            },
            Arrived::Frame { link, len } => Input::Frame {
                link,
                frame: &buf[..len],
            },
        }
    }
}

#[derive(Default)]
pub struct Io {
    pub udp: Vec<(SocketAddrV4, UdpSocket)>,
    /// Visited links: interface name, index, socket.
    pub visited: Vec<(String, u32, VisitedLink)>,
    pub wired: Option<RawLink>,
    pub stations: BTreeMap<u32, RawLink>,
    /// Sends IPv4 packets to link-layer addresses (visitors,
    /// advertisements) and gratuitous ARP.
    pub packet: Option<std::sync::Arc<PacketSocket>>,
    resting: BTreeMap<Source, Instant>,
    /// When each socket last failed.
    last_error: BTreeMap<Source, Instant>,
    /// What each UDP socket's last recvmmsg(2) read and the node has not
    /// had yet, by local address.
    received: HashMap<SocketAddrV4, Received>,
    /// Where the next poll starts, so no busy socket starves the others.
    turn: usize,
}

impl Io {
    /// The earliest moment a resting socket may be read again.
    pub fn next_wake(&self) -> Option<Instant> {
        self.resting.values().min().copied()
    }

    /// Wakes the sockets whose rest is over.
    pub fn wake(&mut self, now: Instant) {
        self.resting.retain(|_, t| *t > now);
    }

    /// How many sockets there are to read.
    fn source_count(&self) -> usize {
        self.udp.len()
            + self.visited.len()
            + usize::from(self.wired.is_some())
            + self.stations.len()
    }

    /// The `i`th socket, in the order UDP, visited links, wired port,
    /// station ports (without building a list on every read).
    fn source(&self, mut i: usize) -> Option<Source> {
        if i < self.udp.len() {
            return Some(Source::Udp(i));
        }
        i -= self.udp.len();
        if i < self.visited.len() {
            return Some(Source::Visited(i));
        }
        i -= self.visited.len();
        if self.wired.is_some() {
            if i == 0 {
                return Some(Source::Wired);
            }
            i -= 1;
        }
        self.stations.keys().nth(i).map(|k| Source::Station(*k))
    }

    /// Reads one datagram, packet or frame from whichever socket has one.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Arrived> {
        let n = self.source_count();
        if n == 0 {
            return Poll::Pending;
        }
        self.turn = self.turn.wrapping_add(1);
        let start = self.turn % n;
        for k in 0..n {
            let Some(source) = self.source((start + k) % n) else {
                continue;
            };
            if self.resting.contains_key(&source) {
                continue;
            }
            match self.poll_one(cx, source, buf) {
                Poll::Ready(Ok(Some(a))) => return Poll::Ready(a),
                Poll::Ready(Ok(None)) | Poll::Pending => {}
                Poll::Ready(Err(e)) => {
                    let now = Instant::now();
                    // A link that went down reports ENETDOWN once, to the
                    // next call; the socket works again once the link is
                    // up (the kernel hooks it back), so a first report is
                    // no reason to rest it: a roam right after a link flap
                    // lost 100 ms to the rest. A socket that keeps failing
                    // rests.
                    let flap = e.raw_os_error() == Some(libc::ENETDOWN)
                        && self
                            .last_error
                            .get(&source)
                            .is_none_or(|t| now - *t > REST * 10);
                    if self.last_error.len() >= 1024 {
                        self.last_error.retain(|_, t| now - *t <= REST * 10);
                    }
                    self.last_error.insert(source, now);
                    if flap {
                        tracing::debug!(?source, "its link went down; reading on");
                    } else {
                        tracing::debug!(?source, error = %e, "socket error; resting it");
                        self.resting.insert(source, now + REST);
                    }
                }
            }
        }
        Poll::Pending
    }

    fn poll_one(
        &mut self,
        cx: &mut Context<'_>,
        source: Source,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<Arrived>>> {
        match source {
            Source::Udp(i) => {
                // Read in batches (recvmmsg), handed out one at a time.
                let (local, socket) = &self.udp[i];
                let batch = self.received.entry(*local).or_default();
                loop {
                    if let Some((remote, len)) = batch.take(buf) {
                        return Poll::Ready(Ok(Some(Arrived::Udp {
                            local: *local,
                            remote,
                            len,
                        })));
                    }
                    match socket.poll_recv_ready(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Ready(Ok(())) => {}
                    }
                    match socket.try_io(tokio::io::Interest::READABLE, || {
                        batch.fill(socket.as_raw_fd())
                    }) {
                        // WouldBlock cleared the readiness: the next
                        // poll_recv_ready registers the waker.
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
            }
            Source::Visited(i) => self.visited[i]
                .2
                .poll_recv_from(cx, buf)
                .map(|r| r.map(|(len, mac)| Some(Arrived::Visited { index: i, mac, len }))),
            Source::Wired => match &self.wired {
                Some(w) => w.poll_recv(cx, buf).map(|r| {
                    r.map(|len| {
                        Some(Arrived::Frame {
                            link: Link::Wired,
                            len,
                        })
                    })
                }),
                None => Poll::Pending,
            },
            Source::Station(ifindex) => match self.stations.get(&ifindex) {
                Some(s) => s.poll_recv(cx, buf).map(|r| {
                    r.map(|len| {
                        Some(Arrived::Frame {
                            link: Link::Station(ifindex),
                            len,
                        })
                    })
                }),
                None => Poll::Pending,
            },
        }
    }

    pub fn udp_socket(&self, local: SocketAddrV4) -> Option<&UdpSocket> {
        self.udp.iter().find(|(a, _)| *a == local).map(|(_, s)| s)
    }

    /// Sends datagrams from the socket on `local`, each to its address,
    /// in sendmmsg(2) batches, waiting while the socket buffer is full.
    /// One the kernel refuses (no route to its address) is logged and
    /// skipped.
    pub async fn send_udp(&self, local: SocketAddrV4, msgs: &[(SocketAddrV4, &[u8])]) {
        let Some(socket) = self.udp_socket(local) else {
            tracing::warn!(%local, "no socket to send from");
            return;
        };
        let mut i = 0;
        while i < msgs.len() {
            if let Err(e) = socket.writable().await {
                tracing::debug!(%local, error = %e, "could not send");
                return;
            }
            match socket.try_io(tokio::io::Interest::WRITABLE, || {
                pmip_platform::datagrams::send(socket.as_raw_fd(), &msgs[i..])
            }) {
                Ok(n) => i += n.max(1),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(%local, remote = %msgs[i].0, error = %e, "could not send");
                    i += 1;
                }
            }
        }
    }

    pub fn visited_index(&self, interface: &str) -> Option<u32> {
        self.visited
            .iter()
            .find(|(n, _, _)| n == interface)
            .map(|(_, i, _)| *i)
    }
}
