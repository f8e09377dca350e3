//! TUN devices: the kernel routes a mobile node's packets into one (a host
//! route per binding) and we read them, encapsulate them and send them on
//! a raw socket. Our own code, because this kernel has no ipip/gre
//! modules; the device itself is one ioctl on /dev/net/tun, so no crate.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
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

/// A TUN device carrying bare IPv4 packets (no packet-information header).
/// Not registered with tokio: the data plane's own threads poll it, and a
/// registration would wake the runtime for every packet queued.
pub struct Tun {
    fd: OwnedFd,
    name: String,
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
            flags: IFF_TUN | IFF_NO_PI,
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

    /// Reads one packet into `buf` without blocking, returning its length
    /// (WouldBlock when none is queued).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: reading into a valid, writable buffer of buf.len() bytes.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// Writes one packet without blocking; the kernel then routes it as
    /// if it arrived on this interface.
    pub fn try_send(&self, packet: &[u8]) -> io::Result<usize> {
        // SAFETY: writing from a valid buffer of packet.len() bytes.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
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
