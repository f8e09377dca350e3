//! UDP port 434 sockets: one per local unicast address we answer on and
//! one per subnet-directed broadcast address we listen to, so the daemon
//! knows which address a request was sent to (RFC 5944 3.8.3.1 treats a
//! request to the broadcast address differently) without IP_PKTINFO.

use socket2::{Domain, Protocol, Socket, Type};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

pub const PORT: u16 = 434;

/// A datagram that arrived: from whom, to which of our addresses.
#[derive(Debug)]
pub struct Datagram {
    pub src: SocketAddrV4,
    pub dst: Ipv4Addr,
    pub payload: Vec<u8>,
}

pub(crate) fn bind(addr: Ipv4Addr, port: u16) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_broadcast(true)?;
    s.set_nonblocking(true)?;
    s.bind(&SocketAddrV4::new(addr, port).into())?;
    UdpSocket::from_std(s.into())
}

/// The sockets of one device and the channel their datagrams arrive on.
pub struct Port434 {
    unicast: HashMap<Ipv4Addr, Arc<UdpSocket>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Port434 {
    /// Binds `unicast` and `broadcast` addresses; datagrams go to `tx`.
    pub fn open(
        unicast: &[Ipv4Addr],
        broadcast: &[Ipv4Addr],
        port: u16,
        tx: mpsc::Sender<Datagram>,
    ) -> io::Result<Port434> {
        let mut p = Port434 {
            unicast: HashMap::new(),
            tasks: Vec::new(),
        };
        for &a in unicast {
            let s = Arc::new(bind(a, port)?);
            p.unicast.insert(a, s.clone());
            p.tasks.push(tokio::spawn(receive(s, a, tx.clone())));
        }
        for &b in broadcast {
            let s = Arc::new(bind(b, port)?);
            p.tasks.push(tokio::spawn(receive(s, b, tx.clone())));
        }
        Ok(p)
    }

    /// Sends from our unicast address `from`.
    pub async fn send(&self, from: Ipv4Addr, to: SocketAddrV4, payload: &[u8]) -> io::Result<()> {
        let s = self.unicast.get(&from).ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("no socket on {from}"))
        })?;
        s.send_to(payload, to).await.map(drop)
    }
}

impl Drop for Port434 {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn receive(sock: Arc<UdpSocket>, dst: Ipv4Addr, tx: mpsc::Sender<Datagram>) {
    let mut buf = vec![0u8; 65536];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, SocketAddr::V4(src))) => {
                if tx
                    .send(Datagram {
                        src,
                        dst,
                        payload: buf[..n].to_vec(),
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, %dst, "receive error on port 434");
            }
        }
    }
}
