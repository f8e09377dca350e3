//! TUN devices: the kernel routes a mobile node's packets into one (a host
//! route per binding) and we read them, encapsulate them and send them on
//! a raw socket. Our own code, because this kernel has no ipip/gre
//! modules; the device itself is two ioctls on /dev/net/tun (and readv/
//! writev with a virtio network header), so no crate.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUN_F_CSUM: libc::c_uint = 0x01;
const TUN_F_TSO4: libc::c_uint = 0x02;
/// `struct virtio_net_hdr` (without the buffer count): what precedes
/// every packet read from or written to the device, and every frame sent
/// on a packet socket with PACKET_VNET_HDR.
pub(crate) const VNET_HDR_LEN: usize = 10;
const VNET_HDR_F_NEEDS_CSUM: u8 = 1;
const VNET_HDR_GSO_NONE: u8 = 0;
const VNET_HDR_GSO_TCPV4: u8 = 1;
const SIOCSIFTXQLEN: libc::c_ulong = 0x8943;
/// Packets the kernel queues for us to read before it drops (the
/// default is 500): a TCP window arriving between two of our reads fits
/// instead of being dropped and retransmitted.
const TX_QUEUE_LEN: libc::c_int = 4096;

#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// `struct ifreq` with its union as an int (ifr_qlen).
#[repr(C)]
struct IfReqInt {
    name: [libc::c_char; libc::IFNAMSIZ],
    value: libc::c_int,
    _pad: [u8; 20],
}

/// A TUN device carrying IPv4 packets, each behind a virtio network
/// header (no packet-information header). The device offers checksum
/// and TCP segmentation offload, so the kernel hands over a TCP flow's
/// 64 KiB packets whole, one read each, instead of cutting them into
/// MTU-sized packets first; [`Offload`] says what is left to do.
/// Not registered with tokio: the data plane's own threads poll it, and a
/// registration would wake the runtime for every packet queued.
pub struct Tun {
    fd: OwnedFd,
    name: String,
}

/// What a packet read from the device still needs before it is on the
/// wire, from its virtio network header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offload {
    /// Nothing: the packet is complete.
    None,
    /// Its checksum to finish (`pmip_wire::offload::finish_checksum`).
    Checksum { start: usize, offset: usize },
    /// A TCP packet to cut into segments of at most `mss` payload bytes
    /// (`pmip_wire::offload::TcpSegments`), each with its checksums.
    Tcp { mss: usize },
    /// Something offered to no device of ours (UDP segmentation, IPv6):
    /// dropped.
    Unsupported,
}

/// The virtio network header of a frame carrying a TCP/IPv4 packet of
/// several segments behind a `link_header_len`-byte link header
/// (`header_len` bytes of IPv4 and TCP headers), to be cut at `mss` with
/// its TCP checksum finished, in the host's byte order as a legacy
/// header is.
pub(crate) fn tcp_segmentation_header(
    link_header_len: usize,
    header_len: usize,
    mss: usize,
) -> [u8; VNET_HDR_LEN] {
    /// Where TCP's checksum lies in its header.
    const TCP_CHECKSUM_OFFSET: usize = 16;
    let word = |v: usize| (v as u16).to_ne_bytes();
    let mut h = [0u8; VNET_HDR_LEN];
    h[0] = VNET_HDR_F_NEEDS_CSUM;
    h[1] = VNET_HDR_GSO_TCPV4;
    h[2..4].copy_from_slice(&word(link_header_len + header_len));
    h[4..6].copy_from_slice(&word(mss));
    h[6..8].copy_from_slice(&word(link_header_len + pmip_wire::ipv4::HEADER_LEN));
    h[8..10].copy_from_slice(&word(TCP_CHECKSUM_OFFSET));
    h
}

impl Offload {
    fn from_header(h: &[u8; VNET_HDR_LEN]) -> Offload {
        // A legacy virtio header is in the host's byte order.
        let word = |i: usize| usize::from(u16::from_ne_bytes([h[i], h[i + 1]]));
        let (flags, gso_type) = (h[0], h[1] & 0x7f);
        match gso_type {
            VNET_HDR_GSO_TCPV4 => Offload::Tcp { mss: word(4) },
            VNET_HDR_GSO_NONE if flags & VNET_HDR_F_NEEDS_CSUM != 0 => Offload::Checksum {
                start: word(6),
                offset: word(8),
            },
            VNET_HDR_GSO_NONE => Offload::None,
            _ => Offload::Unsupported,
        }
    }
}

impl Tun {
    /// Creates (or attaches to) the TUN device `name`. It disappears when
    /// the last descriptor closes, so nothing is left behind on exit.
    pub fn create(name: &str) -> io::Result<Tun> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bad interface name",
            ));
        }
        // SAFETY: plain open(2) of a fixed path.
        let raw = unsafe {
            libc::open(
                c"/dev/net/tun".as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut req = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: IFF_TUN | IFF_NO_PI | IFF_VNET_HDR,
            _pad: [0; 22],
        };
        for (d, s) in req.name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        // SAFETY: TUNSETIFF reads and writes an ifreq, which `req` is.
        if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF as _, &mut req) } < 0 {
            return Err(io::Error::last_os_error());
        }
        set_tx_queue_len(&req.name, TX_QUEUE_LEN);
        // Best effort: without offloads the kernel segments and checksums
        // before the device, as for any device without them.
        // SAFETY: TUNSETOFFLOAD takes the flags as its argument.
        if unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD as _, TUN_F_CSUM | TUN_F_TSO4) } < 0 {
            tracing::debug!(error = %io::Error::last_os_error(), "TUN offloads not taken");
        }
        Ok(Tun {
            fd,
            name: name.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The descriptor (non-blocking), for the data plane's threads to
    /// poll.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Reads one packet into `buf` without blocking, returning what it
    /// still needs and its length (WouldBlock when none is queued).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<(Offload, usize)> {
        let mut header = [0u8; VNET_HDR_LEN];
        let iov = [
            libc::iovec {
                iov_base: header.as_mut_ptr().cast(),
                iov_len: VNET_HDR_LEN,
            },
            libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            },
        ];
        // SAFETY: both iovecs describe valid, writable buffers.
        let n = unsafe { libc::readv(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let len = (n as usize).saturating_sub(VNET_HDR_LEN);
        Ok((Offload::from_header(&header), len))
    }

    /// Writes one complete packet without blocking; the kernel then
    /// routes it as if it arrived on this interface.
    pub fn try_send(&self, packet: &[u8]) -> io::Result<usize> {
        let header = [0u8; VNET_HDR_LEN];
        let iov = [
            libc::iovec {
                iov_base: header.as_ptr() as *mut _,
                iov_len: VNET_HDR_LEN,
            },
            libc::iovec {
                iov_base: packet.as_ptr() as *mut _,
                iov_len: packet.len(),
            },
        ];
        // SAFETY: both iovecs describe valid buffers, only read from.
        let n = unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok((n as usize).saturating_sub(VNET_HDR_LEN))
        }
    }
}

/// Sets the interface's transmit queue length, which for a TUN device is
/// how many packets wait for our read. Best effort: a short queue only
/// costs throughput.
fn set_tx_queue_len(name: &[libc::c_char; libc::IFNAMSIZ], len: libc::c_int) {
    // SAFETY: plain socket(2); the descriptor is closed below.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return;
    }
    // SAFETY: `s` is a fresh descriptor we own.
    let s = unsafe { OwnedFd::from_raw_fd(s) };
    let mut req = IfReqInt {
        name: *name,
        value: len,
        _pad: [0; 20],
    };
    // SAFETY: SIOCSIFTXQLEN reads an ifreq with ifr_qlen, which `req` is.
    let r = unsafe { libc::ioctl(s.as_raw_fd(), SIOCSIFTXQLEN as _, &mut req) };
    if r < 0 {
        tracing::debug!(error = %io::Error::last_os_error(), "TUN queue length unchanged");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header we write for a coalesced TCP frame reads back, with the
    /// parser of the headers the kernel writes, as segmentation at its
    /// MSS: one layout and one byte order for both directions.
    #[test]
    fn a_segmentation_header_reads_back_as_written() {
        let h = tcp_segmentation_header(14, 52, 1448);
        assert_eq!(Offload::from_header(&h), Offload::Tcp { mss: 1448 });
        assert_eq!(h[0], VNET_HDR_F_NEEDS_CSUM);
        let word = |i: usize| u16::from_ne_bytes([h[i], h[i + 1]]);
        // Headers to the payload, checksum start and offset from the frame.
        assert_eq!((word(2), word(6), word(8)), (66, 34, 16));
        assert_eq!(
            Offload::from_header(&[0; VNET_HDR_LEN]),
            Offload::None,
            "a plain frame's header"
        );
    }
}
