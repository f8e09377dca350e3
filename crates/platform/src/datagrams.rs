//! UDP datagrams in batches: many read with one recvmmsg(2), many sent
//! with one sendmmsg(2). A home agent under a burst of registrations
//! reads tens of requests and answers them in one turn; a system call
//! per datagram each way was a third of its loop's time.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::RawFd;

/// Most datagrams one call moves.
pub const BATCH: usize = 32;

/// Largest datagram a batch slot holds. Nothing we speak on these ports
/// comes near it (registrations, the subnet map exchange's chunks of at
/// most 1400 bytes, DHCP); a longer one arrives cut short, and the node
/// refuses it as malformed.
pub const SLOT: usize = 4096;

/// Datagrams read from one socket by one recvmmsg(2), handed out in
/// order.
pub struct Received {
    slots: Box<[[u8; SLOT]]>,
    lens: [usize; BATCH],
    from: [SocketAddrV4; BATCH],
    count: usize,
    next: usize,
}

impl Default for Received {
    fn default() -> Self {
        Received {
            slots: vec![[0u8; SLOT]; BATCH].into_boxed_slice(),
            lens: [0; BATCH],
            from: [SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0); BATCH],
            count: 0,
            next: 0,
        }
    }
}

impl Received {
    /// The next datagram read and not yet handed out, copied into `buf`
    /// (cut to its length): its sender and length.
    pub fn take(&mut self, buf: &mut [u8]) -> Option<(SocketAddrV4, usize)> {
        if self.next >= self.count {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let n = self.lens[i].min(buf.len());
        buf[..n].copy_from_slice(&self.slots[i][..n]);
        Some((self.from[i], n))
    }

    /// Reads what the socket has queued (up to [`BATCH`]) with one
    /// recvmmsg(2), without blocking; WouldBlock when nothing is.
    /// Datagrams not yet taken are forgotten, so take them all first.
    pub fn fill(&mut self, fd: RawFd) -> io::Result<usize> {
        self.count = 0;
        self.next = 0;
        // SAFETY: iovec, mmsghdr and sockaddr_in are plain C data; zeroed
        // is a valid start.
        let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut names: [libc::sockaddr_in; BATCH] = unsafe { std::mem::zeroed() };
        for (((v, m), slot), name) in iov
            .iter_mut()
            .zip(msgs.iter_mut())
            .zip(self.slots.iter_mut())
            .zip(names.iter_mut())
        {
            v.iov_base = slot.as_mut_ptr().cast();
            v.iov_len = SLOT;
            m.msg_hdr.msg_iov = v;
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_name = (name as *mut libc::sockaddr_in).cast();
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        }
        // SAFETY: each header points at one iovec over a live, writable
        // slot and at a live sockaddr_in of the size given.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut kept = 0;
        for i in 0..(r as usize).min(BATCH) {
            // Only IPv4 senders (the sockets are IPv4).
            if i32::from(names[i].sin_family) != libc::AF_INET {
                continue;
            }
            let from = SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(names[i].sin_addr.s_addr)),
                u16::from_be(names[i].sin_port),
            );
            if kept != i {
                self.slots.swap(kept, i);
            }
            self.lens[kept] = (msgs[i].msg_len as usize).min(SLOT);
            self.from[kept] = from;
            kept += 1;
        }
        self.count = kept;
        Ok(kept)
    }
}

/// Sends the first (at most [`BATCH`]) of `msgs`, each to its address,
/// with one sendmmsg(2) ([`crate::raw::send_many`]), without blocking.
/// Returns how many went out, from the first on; an error means the first
/// did not (WouldBlock: the socket buffer is full).
pub fn send(fd: RawFd, msgs: &[(SocketAddrV4, &[u8])]) -> io::Result<usize> {
    let msgs: Vec<(&[u8], libc::sockaddr_in)> = msgs
        .iter()
        .take(BATCH)
        .map(|(to, payload)| (*payload, crate::raw::sockaddr_v4(*to)))
        .collect();
    crate::raw::send_many(fd, &msgs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_batch_each_way_keeps_order_senders_and_lengths() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let SocketAddr4(to) = SocketAddr4::of(&a);
        let payloads: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; usize::from(i) + 1]).collect();
        // 40 datagrams from two senders: more than one batch.
        let mut sent = 0;
        while sent < payloads.len() {
            let from = if sent % 2 == 0 { &b } else { &c };
            let msgs = [(to, &payloads[sent][..])];
            sent += send(from.as_raw_fd(), &msgs).unwrap();
        }
        let mut r = Received::default();
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while got.len() < payloads.len() {
            match r.fill(a.as_raw_fd()) {
                Ok(_) => {
                    while let Some((from, n)) = r.take(&mut buf) {
                        got.push((from, buf[..n].to_vec()));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(e) => panic!("{e}"),
            }
        }
        for (i, (from, p)) in got.iter().enumerate() {
            assert_eq!(p, &payloads[i]);
            let sender = if i % 2 == 0 { &b } else { &c };
            assert_eq!(*from, SocketAddr4::of(sender).0);
        }
        // Nothing left: WouldBlock, and nothing handed out.
        assert_eq!(
            r.fill(a.as_raw_fd()).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert!(r.take(&mut buf).is_none());
    }

    #[test]
    fn a_datagram_longer_than_a_slot_arrives_cut_to_the_slot() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let big = vec![7u8; SLOT + 100];
        b.send_to(&big, a.local_addr().unwrap()).unwrap();
        b.send_to(b"next", a.local_addr().unwrap()).unwrap();
        let mut r = Received::default();
        let mut buf = vec![0u8; 65536];
        let mut lens = Vec::new();
        while lens.len() < 2 {
            if r.fill(a.as_raw_fd()).is_ok() {
                while let Some((_, n)) = r.take(&mut buf) {
                    lens.push(n);
                }
            }
        }
        assert_eq!(lens, [SLOT, 4]);
    }

    struct SocketAddr4(SocketAddrV4);
    impl SocketAddr4 {
        fn of(s: &std::net::UdpSocket) -> SocketAddr4 {
            match s.local_addr().unwrap() {
                std::net::SocketAddr::V4(a) => SocketAddr4(a),
                std::net::SocketAddr::V6(_) => unreachable!(),
            }
        }
    }
}
