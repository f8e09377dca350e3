//! Our own link-layer addresses and UDP sockets bound the way the
//! daemon needs them.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};

/// The MAC address of interface `ifindex` in this namespace.
pub fn mac_of_index(ifindex: u32) -> io::Result<[u8; 6]> {
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: if_indextoname writes at most IF_NAMESIZE bytes into `name`.
    let p = unsafe { libc::if_indextoname(ifindex, name.as_mut_ptr()) };
    if p.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SIOCGIFHWADDR asks the socket's network namespace, which is the
    // calling thread's (sysfs would show the namespace that mounted it).
    // SAFETY: plain socket(2); the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor we own.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; zeroed is a valid start.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    req.ifr_name = name;
    // SAFETY: SIOCGIFHWADDR reads the name and writes ifr_hwaddr of an
    // ifreq, which `req` is.
    let r = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            libc::SIOCGIFHWADDR as _,
            &mut req,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: after SIOCGIFHWADDR the union holds ifr_hwaddr.
    let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (m, d) in mac.iter_mut().zip(data) {
        *m = d as u8;
    }
    Ok(mac)
}

/// A non-blocking UDP socket on `addr:port` that may send to broadcast
/// addresses. One socket per local address (unicast or subnet-directed
/// broadcast) tells the receiver which address a datagram was sent to
/// without IP_PKTINFO (RFC 5944 3.8.3.1 treats a request to the
/// broadcast address differently).
pub fn udp_socket(addr: SocketAddrV4) -> io::Result<tokio::net::UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_broadcast(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(s.into())
}

/// `udp_socket` on an unspecified address and ephemeral port.
pub fn any_udp_socket() -> io::Result<tokio::net::UdpSocket> {
    udp_socket(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
}
