//! AF_PACKET sockets: send a frame to a given link-layer address on a
//! given interface (delivery to a visitor without ARP, RFC 5944 4.2.2;
//! gratuitous ARP, RFC 5944 4.6).

use crate::register;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::os::fd::AsRawFd;
use tokio::io::unix::AsyncFd;

const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;

/// A cooked (SOCK_DGRAM) packet socket: the kernel writes the Ethernet
/// header from the address we give.
pub struct PacketSocket {
    fd: AsyncFd<Socket>,
}

impl PacketSocket {
    pub fn new() -> io::Result<PacketSocket> {
        let s = Socket::new(
            Domain::PACKET,
            Type::DGRAM,
            Some(Protocol::from(i32::from(ETH_P_IP.to_be()))),
        )?;
        s.set_nonblocking(true)?;
        // We only send; do not queue every IPv4 frame the host sees.
        s.set_recv_buffer_size(0)?;
        Ok(PacketSocket { fd: register(s)? })
    }

    async fn send(
        &self,
        ifindex: u32,
        mac: [u8; 6],
        ethertype: u16,
        payload: &[u8],
    ) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid start.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ethertype.to_be();
        sll.sll_ifindex = ifindex as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&mac);
        loop {
            let mut guard = self.fd.writable().await?;
            let r = guard.try_io(|s| {
                // SAFETY: valid buffer and sockaddr_ll of the given size.
                let n = unsafe {
                    libc::sendto(
                        s.get_ref().as_raw_fd(),
                        payload.as_ptr().cast(),
                        payload.len(),
                        0,
                        (&sll as *const libc::sockaddr_ll).cast(),
                        std::mem::size_of::<libc::sockaddr_ll>() as u32,
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
            match r {
                Ok(res) => return res,
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends an IPv4 packet to `mac` on interface `ifindex`.
    pub async fn send_ipv4(&self, ifindex: u32, mac: [u8; 6], packet: &[u8]) -> io::Result<()> {
        self.send(ifindex, mac, ETH_P_IP, packet).await
    }

    /// Sends an ARP packet (the 28-byte ARP body) to `mac`.
    pub async fn send_arp(&self, ifindex: u32, mac: [u8; 6], arp: &[u8]) -> io::Result<()> {
        self.send(ifindex, mac, ETH_P_ARP, arp).await
    }
}

/// Asks who has `target` on interface `ifindex` (an ARP request from
/// `our_mac`/`our_ip`) and returns the link-layer address that answers
/// within `wait`. The home agent uses it when a mobile node comes home,
/// to announce the node's own address again (RFC 5944 4.6).
pub async fn arp_resolve(
    ifindex: u32,
    our_mac: [u8; 6],
    our_ip: std::net::Ipv4Addr,
    target: std::net::Ipv4Addr,
    wait: std::time::Duration,
) -> io::Result<Option<[u8; 6]>> {
    use pmip_wire::arp;
    use pmip_wire::ethernet::EthernetAddress;
    let s = bound_socket(Type::DGRAM, ETH_P_ARP, ifindex, |_| Ok(()))?;
    let sock = PacketSocket { fd: register(s)? };
    let request = arp::Repr {
        operation: arp::Operation::Request,
        sender_hardware_addr: EthernetAddress(our_mac),
        sender_protocol_addr: our_ip,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target,
    };
    sock.send_arp(ifindex, [0xff; 6], &request.to_bytes())
        .await?;
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = [0u8; 128];
    loop {
        let read = recv_arrived(&sock.fd, &mut buf);
        let n = match tokio::time::timeout_at(deadline, read).await {
            Ok(r) => r?.0,
            Err(_) => return Ok(None),
        };
        if let Ok(reply) = arp::Repr::parse(&arp::Packet::new_unchecked(&buf[..n]))
            && reply.operation == arp::Operation::Reply
            && reply.sender_protocol_addr == target
        {
            return Ok(Some(reply.sender_hardware_addr.0));
        }
    }
}

const ETH_P_ALL: u16 = 0x0003;

/// A raw packet socket on one interface: whole Ethernet frames in and
/// out, any source MAC. The proxy AP uses it on a station's port (to see
/// the station's frames, and to answer its ARP with the foreign agent's
/// MAC) and on its wired port (to register in the station's name).
pub struct RawLink {
    fd: AsyncFd<Socket>,
    pub ifindex: u32,
}

impl RawLink {
    pub fn open(ifindex: u32) -> io::Result<RawLink> {
        let s = bound_socket(Type::RAW, ETH_P_ALL, ifindex, |_| Ok(()))?;
        Ok(RawLink {
            fd: register(s)?,
            ifindex,
        })
    }

    /// The next frame that arrived on the interface (frames we or the
    /// kernel sent out of it are skipped).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        recv_arrived(&self.fd, buf).await.map(|(n, _)| n)
    }

    /// Sends one whole Ethernet frame as it is.
    pub async fn send(&self, frame: &[u8]) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|s| {
                // SAFETY: sending from a valid buffer on a bound socket.
                let n = unsafe {
                    libc::send(
                        s.get_ref().as_raw_fd(),
                        frame.as_ptr().cast(),
                        frame.len(),
                        0,
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            }) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

/// A packet socket of `ty` (raw frames or cooked) for `ethertype`, bound
/// to interface `ifindex`, non-blocking. `prepare` runs before the bind
/// (to attach a filter, so nothing unfiltered is queued).
pub(crate) fn bound_socket(
    ty: Type,
    ethertype: u16,
    ifindex: u32,
    prepare: impl FnOnce(&Socket) -> io::Result<()>,
) -> io::Result<Socket> {
    let s = Socket::new(
        Domain::PACKET,
        ty,
        Some(Protocol::from(i32::from(ethertype.to_be()))),
    )?;
    prepare(&s)?;
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid start.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = ethertype.to_be();
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: binding with a valid sockaddr_ll of the right size.
    if unsafe {
        libc::bind(
            s.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Receives one packet that arrived on the interface (frames sent out of
/// it are skipped) and the link-layer address it came from.
pub(crate) async fn recv_arrived(
    fd: &AsyncFd<Socket>,
    buf: &mut [u8],
) -> io::Result<(usize, [u8; 6])> {
    loop {
        let mut guard = fd.readable().await?;
        // SAFETY: sockaddr_ll is plain data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let res = guard.try_io(|s| {
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: valid buffer and address out-parameters.
            let n = unsafe {
                libc::recvfrom(
                    s.get_ref().as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&mut sll as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match res {
            Ok(Ok(_)) if sll.sll_pkttype == libc::PACKET_OUTGOING => continue,
            Ok(Ok(n)) => {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&sll.sll_addr[..6]);
                return Ok((n, mac));
            }
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
}
