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
    // SAFETY: on success `name` holds a NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    // /sys/class/net shows the namespace that mounted sysfs, which for
    // `ip netns exec` is the device's own.
    let text = std::fs::read_to_string(format!("/sys/class/net/{name}/address"))?;
    let mut mac = [0u8; 6];
    let mut parts = text.trim().split(':');
    for m in &mut mac {
        let part = parts
            .next()
            .ok_or_else(|| io::Error::other("short MAC address"))?;
        *m = u8::from_str_radix(part, 16).map_err(io::Error::other)?;
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
