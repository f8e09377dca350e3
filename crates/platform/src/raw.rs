//! Raw IPv4 sockets: one per tunnel protocol to receive encapsulated
//! packets addressed to us (IP-in-IP and GRE, outer header included), and
//! one with IP_HDRINCL to send packets whose IPv4 header we built.

use crate::register;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use tokio::io::unix::AsyncFd;

/// Socket buffer of the data plane's sockets: a few thousand full-size
/// packets.
pub(crate) const BUFFER_BYTES: usize = 8 << 20;

/// Sets an int-valued socket option (the options socket2 does not name).
pub fn set_int_option(
    s: impl AsFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: setsockopt reads one c_int from a valid pointer, on a
    // descriptor the caller holds open.
    let r = unsafe {
        libc::setsockopt(
            s.as_fd().as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Sets a socket buffer size to `bytes`, beyond net.core.[rw]mem_max with
/// the FORCE option when we may (CAP_NET_ADMIN), else as far as the limit
/// allows. A smaller buffer only costs throughput, so failure is ignored.
pub fn set_buffer(s: impl AsFd, force: libc::c_int, plain: libc::c_int, bytes: usize) {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    let fd = s.as_fd();
    for opt in [force, plain] {
        if set_int_option(fd, libc::SOL_SOCKET, opt, value).is_ok() {
            return;
        }
    }
}

/// A raw IPv4 socket for one IP protocol.
pub struct RawSocket {
    fd: AsyncFd<Socket>,
}

/// A raw socket receiving every packet of `protocol`, not registered with
/// tokio (see [`RawSocket::receiver`]).
pub(crate) fn receiver_socket(protocol: u8) -> io::Result<Socket> {
    let s = Socket::new(
        Domain::IPV4,
        Type::RAW,
        Some(Protocol::from(i32::from(protocol))),
    )?;
    s.set_nonblocking(true)?;
    // A raw socket's queue is the only buffer between the kernel and a
    // data plane that is busy sending: at the default (~200 KiB) a TCP
    // burst overflows it and every drop costs the sender a
    // retransmission.
    set_buffer(&s, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, BUFFER_BYTES);
    Ok(s)
}

/// An IP_HDRINCL raw socket, not registered with tokio (see
/// [`RawSocket::sender`]).
pub(crate) fn sender_socket() -> io::Result<Socket> {
    let s = Socket::new(
        Domain::IPV4,
        Type::RAW,
        Some(Protocol::from(libc::IPPROTO_RAW)),
    )?;
    s.set_nonblocking(true)?;
    set_buffer(&s, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, BUFFER_BYTES);
    Ok(s)
}

impl RawSocket {
    /// Receives every packet of `protocol` (e.g. 4 for IP-in-IP, 47 for
    /// GRE) that reaches this host, whole IPv4 header included.
    pub fn receiver(protocol: u8) -> io::Result<RawSocket> {
        Ok(RawSocket {
            fd: register(receiver_socket(protocol)?)?,
        })
    }

    /// Sends complete IPv4 packets (IPPROTO_RAW implies IP_HDRINCL): the
    /// kernel routes on our header's destination and fills in nothing but
    /// the total length and checksum when zero.
    pub fn sender() -> io::Result<RawSocket> {
        Ok(RawSocket {
            fd: register(sender_socket()?)?,
        })
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

/// Most messages one [`recv_many`] or [`send_many`] call moves.
pub(crate) const MAX_BATCH: usize = 64;

/// Receives up to `bufs.len()` (at most [`MAX_BATCH`]) datagrams with one
/// recvmmsg(2), each into its own buffer, without blocking; their lengths
/// go to `lens`. WouldBlock when none is queued.
pub(crate) fn recv_many(fd: RawFd, bufs: &mut [Vec<u8>], lens: &mut [usize]) -> io::Result<usize> {
    let n = bufs.len().min(lens.len()).min(MAX_BATCH);
    // SAFETY: iovec and mmsghdr are plain C data; zeroed is a valid start.
    let mut iov: [libc::iovec; MAX_BATCH] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    for ((v, m), b) in iov
        .iter_mut()
        .zip(msgs.iter_mut())
        .zip(bufs.iter_mut())
        .take(n)
    {
        v.iov_base = b.as_mut_ptr().cast();
        v.iov_len = b.len();
        m.msg_hdr.msg_iov = v;
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: the first `n` headers each point at one iovec describing a
    // live, writable buffer; no addresses or control data are asked for.
    let r = unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    let r = (r as usize).min(n);
    for ((len, m), b) in lens.iter_mut().zip(&msgs).zip(bufs.iter()).take(r) {
        *len = (m.msg_len as usize).min(b.len());
    }
    Ok(r)
}

/// A C socket address that sendmmsg(2) may be given as it is.
///
/// # Safety
/// Implementors are `#[repr(C)]` socket address structures whose whole
/// size is the address length.
pub(crate) unsafe trait SocketAddress {}
// SAFETY: C socket address structures.
unsafe impl SocketAddress for libc::sockaddr_in {}
// SAFETY: as above.
unsafe impl SocketAddress for libc::sockaddr_ll {}

/// The socket address of an IPv4 host (port 0, as raw sockets take it).
pub(crate) fn sockaddr_in(addr: Ipv4Addr) -> libc::sockaddr_in {
    sockaddr_v4(SocketAddrV4::new(addr, 0))
}

/// The C socket address of `addr`.
pub(crate) fn sockaddr_v4(addr: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain data; zeroed is a valid start.
    let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
    sin.sin_port = addr.port().to_be();
    sin
}

/// Sends the first (at most [`MAX_BATCH`]) of `msgs`, each to its
/// address, with one sendmmsg(2), without blocking. Returns how many went
/// out, from the first on; an error means the first did not (WouldBlock:
/// the socket buffer is full).
pub(crate) fn send_many<A: SocketAddress>(fd: RawFd, msgs: &[(&[u8], A)]) -> io::Result<usize> {
    let n = msgs.len().min(MAX_BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: iovec and mmsghdr are plain C data; zeroed is a valid start.
    let mut iov: [libc::iovec; MAX_BATCH] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
    for ((v, h), (pkt, addr)) in iov.iter_mut().zip(hdrs.iter_mut()).zip(msgs).take(n) {
        v.iov_base = pkt.as_ptr() as *mut libc::c_void;
        v.iov_len = pkt.len();
        h.msg_hdr.msg_iov = v;
        h.msg_hdr.msg_iovlen = 1;
        h.msg_hdr.msg_name = (addr as *const A) as *mut libc::c_void;
        h.msg_hdr.msg_namelen = std::mem::size_of::<A>() as libc::socklen_t;
    }
    // SAFETY: the first `n` headers point at live buffers and addresses
    // that the kernel only reads (sendmmsg writes just msg_len).
    let r = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), n as libc::c_uint, libc::MSG_DONTWAIT) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok((r as usize).min(n))
    }
}
