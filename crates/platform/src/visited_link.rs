//! A foreign agent's view of a visited link: Registration Requests (UDP
//! port 434) and Agent Solicitations (ICMP type 10) received with the
//! sender's link-layer address, which the foreign agent needs to answer a
//! mobile node whose home address is not on this link (RFC 5944 3.7.1,
//! 4.2.2). A classic BPF filter keeps all other traffic out of user space.

use crate::packet::{attach_filter, bound_socket, poll_recv_arrived, recv_arrived};
use crate::register;
use socket2::{Socket, Type};
use std::io;
use tokio::io::unix::AsyncFd;

const ETH_P_IP: u16 = 0x0800;

/// Receive buffer of a visited link's socket (as the registration port's).
const RECEIVE_BUFFER: usize = 4 << 20;

/// `udp dst port 434 or icmp[0] == 10`, for a cooked socket whose data
/// starts at the IPv4 header. Unfragmented UDP only.
const FILTER: [libc::sock_filter; 13] = [
    bpf(0x30, 0, 0, 9),      // A = ip[9] (protocol)
    bpf(0x15, 0, 5, 17),     // UDP? else -> 7
    bpf(0x28, 0, 0, 6),      // A = ip[6:2] (flags, fragment offset)
    bpf(0x45, 8, 0, 0x1fff), // a fragment -> drop
    bpf(0xb1, 0, 0, 0),      // X = header length
    bpf(0x48, 0, 0, 2),      // A = udp dst port
    bpf(0x15, 4, 5, 434),    // 434 -> accept, else drop
    bpf(0x15, 0, 4, 1),      // ICMP? else drop
    bpf(0xb1, 0, 0, 0),      // X = header length
    bpf(0x50, 0, 0, 0),      // A = icmp type
    bpf(0x15, 0, 1, 10),     // router solicitation -> accept
    bpf(0x06, 0, 0, 0x40000),
    bpf(0x06, 0, 0, 0),
];

const fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// One received IPv4 packet and the MAC it came from.
#[derive(Debug, Clone)]
pub struct LinkPacket {
    pub mac: [u8; 6],
    pub packet: Vec<u8>,
}

pub struct VisitedLink {
    fd: AsyncFd<Socket>,
    pub ifindex: u32,
}

impl VisitedLink {
    pub fn open(ifindex: u32) -> io::Result<VisitedLink> {
        // The filter goes on before the bind, so nothing unfiltered queues.
        // A visitor's flood of requests queues here beside everybody
        // else's: a buffer like the registration port's keeps a burst from
        // crowding the others' requests out.
        let s = bound_socket(Type::DGRAM, ETH_P_IP, ifindex, |s| {
            crate::raw::set_buffer(s, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, RECEIVE_BUFFER);
            attach_filter(s, &FILTER)
        })?;
        Ok(VisitedLink {
            fd: register(s)?,
            ifindex,
        })
    }

    /// The next packet addressed to someone (not one we sent).
    pub async fn recv(&self) -> io::Result<LinkPacket> {
        let mut buf = vec![0u8; 65536];
        let (n, mac) = recv_arrived(&self.fd, &mut buf).await?;
        buf.truncate(n);
        Ok(LinkPacket { mac, packet: buf })
    }

    /// Polls for the next packet into `buf`: its length and the MAC it
    /// came from.
    pub fn poll_recv_from(
        &self,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<(usize, [u8; 6])>> {
        poll_recv_arrived(&self.fd, cx, buf)
    }
}
