//! Raw IPv4 sockets: one per tunnel protocol to receive encapsulated
//! packets addressed to us (IP-in-IP and GRE, outer header included), and
//! one with IP_HDRINCL to send packets whose IPv4 header we built.

use crate::register;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use tokio::io::unix::AsyncFd;

/// Socket buffer of the data plane's sockets: a few thousand full-size
/// packets.
pub(crate) const BUFFER_BYTES: usize = 8 << 20;

/// Sets a socket buffer size to `bytes`, beyond net.core.[rw]mem_max with
/// the FORCE option when we may (CAP_NET_ADMIN), else as far as the limit
/// allows. A smaller buffer only costs throughput, so failure is ignored.
pub(crate) fn set_buffer(s: &Socket, force: libc::c_int, plain: libc::c_int, bytes: usize) {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for opt in [force, plain] {
        // SAFETY: setsockopt reads one c_int from a valid pointer.
        let r = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&value as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            return;
        }
    }
}

/// A raw IPv4 socket for one IP protocol.
pub struct RawSocket {
    fd: AsyncFd<Socket>,
}

impl RawSocket {
    /// Receives every packet of `protocol` (e.g. 4 for IP-in-IP, 47 for
    /// GRE) that reaches this host, whole IPv4 header included.
    pub fn receiver(protocol: u8) -> io::Result<RawSocket> {
        let s = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(i32::from(protocol))),
        )?;
        s.set_nonblocking(true)?;
        // A raw socket's queue is the only buffer between the kernel and
        // a data plane that is busy sending: at the default (~200 KiB) a
        // TCP burst overflows it and every drop costs the sender a
        // retransmission.
        set_buffer(&s, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, BUFFER_BYTES);
        Ok(RawSocket { fd: register(s)? })
    }

    /// Sends complete IPv4 packets (IPPROTO_RAW implies IP_HDRINCL): the
    /// kernel routes on our header's destination and fills in nothing but
    /// the total length and checksum when zero.
    pub fn sender() -> io::Result<RawSocket> {
        let s = Socket::new(
            Domain::IPV4,
            Type::RAW,
            Some(Protocol::from(libc::IPPROTO_RAW)),
        )?;
        s.set_nonblocking(true)?;
        set_buffer(&s, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, BUFFER_BYTES);
        Ok(RawSocket { fd: register(s)? })
    }

    /// Binds to an interface so only its packets are seen/sent.
    pub fn bind_device(&self, ifname: &str) -> io::Result<()> {
        self.fd.get_ref().bind_device(Some(ifname.as_bytes()))
    }

    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|s| {
                // SAFETY: MaybeUninit<u8> has the layout of u8 and recv only writes.
                let b = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
                s.get_ref().recv(b)
            }) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends one complete IPv4 packet to `dst` (its header's destination).
    pub async fn send_to(&self, packet: &[u8], dst: Ipv4Addr) -> io::Result<usize> {
        let addr = SockAddr::from(SocketAddrV4::new(dst, 0));
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|s| s.get_ref().send_to(packet, &addr)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    pub fn raw_fd(&self) -> i32 {
        self.fd.get_ref().as_raw_fd()
    }
}
