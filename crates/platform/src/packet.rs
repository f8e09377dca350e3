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

/// A send-only cooked packet socket, not registered with tokio (the
/// data plane's delivery thread sends on one of its own).
pub(crate) fn sender_socket() -> io::Result<Socket> {
    send_only(Type::DGRAM)
}

/// A non-blocking packet socket of `kind` with a large send buffer that
/// only sends: protocol 0 (each send names its ethertype), so no receive
/// hook is registered and the kernel does not clone every frame the host
/// sees to this socket only to drop it.
fn send_only(kind: Type) -> io::Result<Socket> {
    let s = Socket::new(Domain::PACKET, kind, Some(Protocol::from(0)))?;
    s.set_nonblocking(true)?;
    crate::raw::set_buffer(
        &s,
        libc::SO_SNDBUFFORCE,
        libc::SO_SNDBUF,
        crate::raw::BUFFER_BYTES,
    );
    Ok(s)
}

/// `setsockopt(SOL_PACKET, PACKET_VNET_HDR)`: every frame sent begins
/// with a virtio network header.
const PACKET_VNET_HDR: libc::c_int = 15;

/// A send-only raw packet socket whose frames each begin with a virtio
/// network header (checksum and segmentation offload, as a TUN device's,
/// `crate::tun`), then the Ethernet header: for frames that carry
/// several TCP segments coalesced into one, which the kernel (or the
/// NIC) cuts again where the link needs it.
pub(crate) fn offload_sender_socket() -> io::Result<Socket> {
    let s = send_only(Type::RAW)?;
    crate::raw::set_int_option(&s, libc::SOL_PACKET, PACKET_VNET_HDR, 1)?;
    Ok(s)
}

/// The address of a frame to `mac` on interface `ifindex` carrying
/// `ethertype`.
pub(crate) fn sockaddr_ll(ifindex: u32, mac: [u8; 6], ethertype: u16) -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid start.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = ethertype.to_be();
    sll.sll_ifindex = ifindex as i32;
    sll.sll_halen = 6;
    sll.sll_addr[..6].copy_from_slice(&mac);
    sll
}

/// An IPv4 frame's address (see [`sockaddr_ll`]).
pub(crate) fn sockaddr_ll_ipv4(ifindex: u32, mac: [u8; 6]) -> libc::sockaddr_ll {
    sockaddr_ll(ifindex, mac, ETH_P_IP)
}

impl PacketSocket {
    pub fn new() -> io::Result<PacketSocket> {
        Ok(PacketSocket {
            fd: register(sender_socket()?)?,
        })
    }

    async fn send(
        &self,
        ifindex: u32,
        mac: [u8; 6],
        ethertype: u16,
        payload: &[u8],
    ) -> io::Result<()> {
        let sll = sockaddr_ll(ifindex, mac, ethertype);
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

    /// Sends ARP packets, each `(ifindex, mac, body)`, a batch per
    /// sendmmsg(2) (a burst of bindings announces thousands of home
    /// addresses at once). Returns how many the kernel refused.
    pub async fn send_arps(&self, frames: &[(u32, [u8; 6], &[u8])]) -> usize {
        let msgs: Vec<(&[u8], libc::sockaddr_ll)> = frames
            .iter()
            .map(|(ifindex, mac, body)| (*body, sockaddr_ll(*ifindex, *mac, ETH_P_ARP)))
            .collect();
        let mut refused = 0;
        let mut i = 0;
        while i < msgs.len() {
            let Ok(mut guard) = self.fd.writable().await else {
                return refused + msgs.len() - i;
            };
            match guard.try_io(|s| crate::raw::send_many(s.get_ref().as_raw_fd(), &msgs[i..])) {
                Ok(Ok(n)) => i += n.max(1),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                // The first of the rest cannot go (no such link, ...):
                // skip it, keep the others.
                Ok(Err(_)) => {
                    refused += 1;
                    i += 1;
                }
                Err(_would_block) => {}
            }
        }
        refused
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
    /// Every frame on the interface.
    pub fn open(ifindex: u32) -> io::Result<RawLink> {
        Self::open_filtered(ifindex, None)
    }

    /// Only the frames `filter` (classic BPF over the whole Ethernet
    /// frame) accepts; it is attached before the bind, so nothing
    /// unfiltered is queued.
    pub fn open_filtered(
        ifindex: u32,
        filter: Option<&'static [libc::sock_filter]>,
    ) -> io::Result<RawLink> {
        let s = bound_socket(Type::RAW, ETH_P_ALL, ifindex, |s| match filter {
            Some(f) => attach_filter(s, f),
            None => Ok(()),
        })?;
        Ok(RawLink {
            fd: register(s)?,
            ifindex,
        })
    }

    /// Replaces the socket's filter (SO_ATTACH_FILTER swaps atomically).
    pub fn set_filter(&self, filter: &'static [libc::sock_filter]) -> io::Result<()> {
        attach_filter(self.fd.get_ref(), filter)
    }

    /// The next frame that arrived on the interface (frames we or the
    /// kernel sent out of it are skipped).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        recv_arrived(&self.fd, buf).await.map(|(n, _)| n)
    }

    /// Polls for the next frame that arrived on the interface.
    pub fn poll_recv(
        &self,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<usize>> {
        poll_recv_arrived(&self.fd, cx, buf).map(|r| r.map(|(n, _)| n))
    }

    /// Sends one whole Ethernet frame as it is.
    pub async fn send(&self, frame: &[u8]) -> io::Result<()> {
        // A link that went down and up again leaves its ENETDOWN pending
        // on the socket, and the next send reports it instead of sending:
        // after a link flap the first frame (an AP's registration request)
        // was lost. Once reported, the error is gone: send again.
        let mut stale_error_seen = false;
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
                Ok(Err(e)) if e.raw_os_error() == Some(libc::ENETDOWN) && !stale_error_seen => {
                    stale_error_seen = true;
                }
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

const fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// What the AP needs from a station whose address it knows: ARP, DHCP
/// (UDP to 67) and its own Mobile IP (UDP to 434, ICMP type 10 agent
/// solicitation). Everything else the station sends is bridged by the
/// kernel and never copied to user space. Raw frames, Ethernet header
/// first; unfragmented UDP only.
pub const STATION_CONTROL: [libc::sock_filter; 17] = [
    bpf(0x28, 0, 0, 12),      // 0: A = ethertype
    bpf(0x15, 13, 0, 0x0806), // 1: ARP -> accept
    bpf(0x15, 0, 13, 0x0800), // 2: not IPv4 -> drop
    bpf(0x30, 0, 0, 23),      // 3: A = ip protocol
    bpf(0x15, 0, 6, 17),      // 4: not UDP -> 11
    bpf(0x28, 0, 0, 20),      // 5: A = flags, fragment offset
    bpf(0x45, 9, 0, 0x1fff),  // 6: a fragment -> drop
    bpf(0xb1, 0, 0, 14),      // 7: X = ip header length
    bpf(0x48, 0, 0, 16),      // 8: A = udp dst port
    bpf(0x15, 5, 0, 67),      // 9: DHCP -> accept
    bpf(0x15, 4, 5, 434),     // 10: Mobile IP -> accept, else drop
    bpf(0x15, 0, 4, 1),       // 11: not ICMP -> drop
    bpf(0xb1, 0, 0, 14),      // 12: X = ip header length
    bpf(0x50, 0, 0, 14),      // 13: A = icmp type
    bpf(0x15, 0, 1, 10),      // 14: agent solicitation -> accept, else drop
    bpf(0x06, 0, 0, 0x40000), // 15: accept
    bpf(0x06, 0, 0, 0),       // 16: drop
];

/// What the AP needs from its wired port: agent advertisements (ICMP
/// type 9) and registration replies (UDP from port 434).
pub const WIRED_CONTROL: [libc::sock_filter; 15] = [
    bpf(0x28, 0, 0, 12),      // 0: A = ethertype
    bpf(0x15, 0, 12, 0x0800), // 1: not IPv4 -> drop
    bpf(0x30, 0, 0, 23),      // 2: A = ip protocol
    bpf(0x15, 0, 5, 17),      // 3: not UDP -> 9
    bpf(0x28, 0, 0, 20),      // 4: A = flags, fragment offset
    bpf(0x45, 8, 0, 0x1fff),  // 5: a fragment -> drop
    bpf(0xb1, 0, 0, 14),      // 6: X = ip header length
    bpf(0x48, 0, 0, 14),      // 7: A = udp src port
    bpf(0x15, 4, 5, 434),     // 8: from 434 -> accept, else drop
    bpf(0x15, 0, 4, 1),       // 9: not ICMP -> drop
    bpf(0xb1, 0, 0, 14),      // 10: X = ip header length
    bpf(0x50, 0, 0, 14),      // 11: A = icmp type
    bpf(0x15, 0, 1, 9),       // 12: advertisement -> accept, else drop
    bpf(0x06, 0, 0, 0x40000), // 13: accept
    bpf(0x06, 0, 0, 0),       // 14: drop
];

/// Attaches (or replaces) a classic BPF program on a socket.
pub(crate) fn attach_filter(s: &Socket, filter: &[libc::sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: attaching a valid classic BPF program of filter.len() insns;
    // the kernel copies it.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as u32,
        )
    };
    if r != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
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
    // Protocol 0 at creation: no packet hook is registered until the bind
    // names the protocol and the interface. Created with the protocol, the
    // socket would be hooked on every interface first, and the bind would
    // have to unhook it with synchronize_net() (a full RCU grace period,
    // ~10 ms here), which an AP pays on every association.
    let s = Socket::new(Domain::PACKET, ty, Some(Protocol::from(0)))?;
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

/// Polls for one packet that arrived on the interface (frames sent out
/// of it are skipped) and the link-layer address it came from; for a
/// driver loop that polls all its sockets itself.
pub(crate) fn poll_recv_arrived(
    fd: &AsyncFd<Socket>,
    cx: &mut std::task::Context<'_>,
    buf: &mut [u8],
) -> std::task::Poll<io::Result<(usize, [u8; 6])>> {
    use std::task::Poll;
    loop {
        let mut guard = match fd.poll_read_ready(cx) {
            Poll::Ready(Ok(g)) => g,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
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
                return Poll::Ready(Ok((n, mac)));
            }
            Ok(Err(e)) => return Poll::Ready(Err(e)),
            Err(_would_block) => continue,
        }
    }
}

/// Receives one packet that arrived on the interface (frames sent out of
/// it are skipped) and the link-layer address it came from.
pub(crate) async fn recv_arrived(
    fd: &AsyncFd<Socket>,
    buf: &mut [u8],
) -> io::Result<(usize, [u8; 6])> {
    std::future::poll_fn(|cx| poll_recv_arrived(fd, cx, buf)).await
}
