//! The user-space tunnel data plane.
//!
//! Outbound: the kernel routes packets into our TUN device (a host route
//! per mobile node on the home agent; a source route per visitor for the
//! foreign agent's reverse tunnel); we find the tunnel by the inner
//! destination (home agent) or source (reverse tunnel), encapsulate in
//! place and send on one IP_HDRINCL raw socket.
//!
//! Inbound: raw IP-in-IP and GRE sockets receive tunnel packets addressed
//! to us; we decapsulate and either hand the inner packet back to the
//! kernel through the TUN device (the home agent forwarding a reverse-
//! tunnelled packet to its correspondent) or deliver it straight onto a
//! visitor's link to its link-layer address (the foreign agent, RFC 5944
//! section 4.2.2: no ARP for a home address on the visited link).

use crate::tun::{Offload, Tun};
use crate::{packet, raw};
use pmip_wire::ipv4::{self, protocol};
use pmip_wire::offload;
use pmip_wire::tunnel::{self, Encapsulation, Encapsulator};
use socket2::Socket;
use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Room in front of every packet read from the TUN device for the
/// largest outer header (IPv4 + GRE with key and sequence number).
pub const HEADROOM: usize = 32;
const MAX_PACKET: usize = 65535;

/// Where a decapsulated packet goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Back to the kernel through the TUN device, to be routed normally.
    Kernel,
    /// Onto a link, to this link-layer address (a visitor).
    Link { ifindex: u32, mac: [u8; 6] },
}

/// Which tunnel packets we accept and what we do with them.
#[derive(Debug, Clone)]
pub struct InboundRule {
    /// The tunnel's far end must be this address.
    pub outer_src: Ipv4Addr,
    pub delivery: Delivery,
}

/// Counters of the data plane, readable while it runs.
#[derive(Debug, Default)]
pub struct Counters {
    pub encapsulated: AtomicU64,
    /// Bytes of the encapsulated packets sent (outer headers included).
    pub encapsulated_bytes: AtomicU64,
    pub decapsulated: AtomicU64,
    /// Bytes of the inner packets delivered after decapsulation.
    pub decapsulated_bytes: AtomicU64,
    pub no_tunnel: AtomicU64,
    pub bad_tunnel_packet: AtomicU64,
    pub refused_source: AtomicU64,
    pub ttl_exceeded: AtomicU64,
    pub send_errors: AtomicU64,
}

#[derive(Default)]
struct Tables {
    /// Home agent: inner destination (home address) to the tunnels to its
    /// care-of addresses (more than one with simultaneous bindings).
    by_destination: HashMap<Ipv4Addr, Vec<Encapsulator>>,
    /// Foreign agent reverse tunnel: inner source (visitor) to the tunnel
    /// to its home agent (RFC 3024).
    by_source: HashMap<Ipv4Addr, Encapsulator>,
    /// Home agent: a reverse-tunnelled packet from this home address is
    /// accepted from these care-of addresses.
    inbound_by_source: HashMap<Ipv4Addr, Vec<InboundRule>>,
    /// Foreign agent: a tunnelled packet to this visitor is accepted from
    /// its home agent and delivered on its link.
    inbound_by_destination: HashMap<Ipv4Addr, InboundRule>,
}

/// Handle to the running data plane: change its tables, read counters.
#[derive(Clone)]
pub struct DataPlane {
    tables: Arc<RwLock<Tables>>,
    pub counters: Arc<Counters>,
}

impl Default for DataPlane {
    fn default() -> Self {
        Self::new()
    }
}

impl DataPlane {
    pub fn new() -> DataPlane {
        DataPlane {
            tables: Arc::new(RwLock::new(Tables::default())),
            counters: Arc::new(Counters::default()),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Home agent: tunnel packets for `home` to `care_of` (replacing any
    /// tunnel to the same care-of address). With `reverse`, also accept
    /// reverse-tunnelled packets from `home` arriving from `care_of`.
    pub fn add_binding_tunnel(
        &self,
        home: Ipv4Addr,
        local: Ipv4Addr,
        care_of: Ipv4Addr,
        encapsulation: Encapsulation,
        reverse: bool,
    ) {
        let mut t = self.write();
        let list = t.by_destination.entry(home).or_default();
        list.retain(|e| e.remote != care_of);
        list.push(Encapsulator::new(local, care_of, encapsulation));
        let rules = t.inbound_by_source.entry(home).or_default();
        rules.retain(|r| r.outer_src != care_of);
        if reverse {
            rules.push(InboundRule {
                outer_src: care_of,
                delivery: Delivery::Kernel,
            });
        }
        if rules.is_empty() {
            t.inbound_by_source.remove(&home);
        }
    }

    /// Home agent: stop tunnelling `home` to `care_of`.
    pub fn remove_binding_tunnel(&self, home: Ipv4Addr, care_of: Ipv4Addr) {
        let mut t = self.write();
        if let Some(list) = t.by_destination.get_mut(&home) {
            list.retain(|e| e.remote != care_of);
            if list.is_empty() {
                t.by_destination.remove(&home);
            }
        }
        if let Some(rules) = t.inbound_by_source.get_mut(&home) {
            rules.retain(|r| r.outer_src != care_of);
            if rules.is_empty() {
                t.inbound_by_source.remove(&home);
            }
        }
    }

    /// Foreign agent: accept tunnelled packets for `visitor` from
    /// `home_agent` and deliver them per `delivery`; with `reverse`,
    /// tunnel the visitor's own packets back to the home agent.
    pub fn add_visitor(
        &self,
        visitor: Ipv4Addr,
        local: Ipv4Addr,
        home_agent: Ipv4Addr,
        delivery: Delivery,
        reverse: Option<Encapsulation>,
    ) {
        let mut t = self.write();
        t.inbound_by_destination.insert(
            visitor,
            InboundRule {
                outer_src: home_agent,
                delivery,
            },
        );
        match reverse {
            Some(enc) => {
                t.by_source
                    .insert(visitor, Encapsulator::new(local, home_agent, enc));
            }
            None => {
                t.by_source.remove(&visitor);
            }
        }
    }

    pub fn remove_visitor(&self, visitor: Ipv4Addr) {
        let mut t = self.write();
        t.inbound_by_destination.remove(&visitor);
        t.by_source.remove(&visitor);
    }

    /// Number of home addresses with a forward tunnel.
    pub fn tunnels(&self) -> usize {
        self.read().by_destination.len()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Encapsulates a batch of packets read from the TUN device (each at
    /// `slots[i][HEADROOM..HEADROOM + lens[i]]`) and sends the tunnel
    /// packets, counting each.
    fn outbound(
        &self,
        slots: &mut [Vec<u8>],
        lens: &[usize],
        sender: RawFd,
        stop: &Stop,
        scratch: &mut Vec<Vec<u8>>,
    ) {
        // Where each tunnel packet lies: (remote, slot or copy, range).
        let mut plan: Vec<(Ipv4Addr, Source, Range<usize>)> = Vec::with_capacity(slots.len());
        scratch.clear();
        {
            // One lock for the whole batch: encapsulating needs the
            // tunnels mutably (outer identification, GRE sequence).
            let mut t = self.write();
            let Tables {
                by_destination,
                by_source,
                ..
            } = &mut *t;
            for (i, (buf, &len)) in slots.iter_mut().zip(lens).enumerate() {
                let Some(end) = HEADROOM.checked_add(len).filter(|&e| e <= buf.len()) else {
                    self.counters
                        .bad_tunnel_packet
                        .fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let (src, dst) = {
                    let Ok(p) = ipv4::Packet::new_checked(&buf[HEADROOM..end]) else {
                        self.counters
                            .bad_tunnel_packet
                            .fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    (p.src_addr(), p.dst_addr())
                };
                let encs: &mut [Encapsulator] = match by_destination.get_mut(&dst) {
                    Some(list) => list,
                    None => match by_source.get_mut(&src) {
                        Some(e) => std::slice::from_mut(e),
                        None => &mut [],
                    },
                };
                if encs.is_empty() {
                    self.counters.no_tunnel.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                // The last (usually only) tunnel encapsulates in place;
                // copies are made only for simultaneous bindings (RFC
                // 5944 3.6.1.3), and go out first, as they always have.
                let n = encs.len();
                for (k, enc) in encs.iter_mut().enumerate() {
                    let result = if k + 1 == n {
                        enc.encapsulate(buf, HEADROOM, len, true)
                            .map(|r| plan.push((enc.remote, Source::Slot(i), r)))
                    } else {
                        let mut copy = buf[..end].to_vec();
                        enc.encapsulate(&mut copy, HEADROOM, len, true).map(|r| {
                            plan.push((enc.remote, Source::Copy(scratch.len()), r));
                            scratch.push(copy);
                        })
                    };
                    match result {
                        Ok(()) => {}
                        Err(pmip_wire::Error::TtlExceeded) => {
                            self.counters.ttl_exceeded.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            self.counters
                                .bad_tunnel_packet
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
        let msgs: Vec<(&[u8], libc::sockaddr_in)> = plan
            .iter()
            .map(|(remote, source, r)| {
                let buf = match source {
                    Source::Slot(i) => &slots[*i],
                    Source::Copy(j) => &scratch[*j],
                };
                (&buf[r.clone()], raw::sockaddr_in(*remote))
            })
            .collect();
        send_all(sender, &msgs, stop, |pkt, result| match result {
            Ok(()) => {
                self.counters.encapsulated.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .encapsulated_bytes
                    .fetch_add(pkt.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                self.counters.send_errors.fetch_add(1, Ordering::Relaxed);
                let remote = ipv4::Packet::new_checked(pkt).map(|p| p.dst_addr());
                tracing::debug!(error = %e, ?remote, "tunnel send failed");
            }
        });
    }

    /// Decapsulates one tunnel packet and decides where it goes, or None
    /// (counted) when no rule accepts it.
    fn inbound(&self, t: &Tables, pkt: &[u8]) -> Option<(Range<usize>, Delivery)> {
        let d = match tunnel::decapsulate(pkt) {
            Ok(d) => d,
            Err(_) => {
                self.counters
                    .bad_tunnel_packet
                    .fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        let rule = t
            .inbound_by_destination
            .get(&d.inner_dst)
            .filter(|r| r.outer_src == d.outer_src)
            .or_else(|| {
                t.inbound_by_source
                    .get(&d.inner_src)
                    .and_then(|rules| rules.iter().find(|r| r.outer_src == d.outer_src))
            });
        match rule {
            Some(r) => {
                self.counters.decapsulated.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .decapsulated_bytes
                    .fetch_add(d.inner.len() as u64, Ordering::Relaxed);
                Some((d.inner, r.delivery.clone()))
            }
            None => {
                // RFC 3024 section 4.2.2 / RFC 2003 section 4: a tunnel
                // packet that matches no binding is dropped.
                self.counters.refused_source.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Decapsulates a batch of tunnel packets received on a raw socket
    /// and delivers the inner packets: to the kernel through the TUN
    /// device, or onto a visitor's link.
    fn deliver(
        &self,
        slots: &[Vec<u8>],
        lens: &[usize],
        tun: &Tun,
        link: Option<&mut LinkSender>,
        stop: &Stop,
    ) {
        let mut kernel: Vec<&[u8]> = Vec::new();
        let mut frames: Vec<(&[u8], libc::sockaddr_ll)> = Vec::new();
        {
            let t = self.read();
            for (buf, &len) in slots.iter().zip(lens) {
                let pkt = &buf[..len.min(buf.len())];
                let Some((inner, delivery)) = self.inbound(&t, pkt) else {
                    continue;
                };
                match (delivery, link.is_some()) {
                    (Delivery::Kernel, _) => kernel.push(&pkt[inner]),
                    (Delivery::Link { ifindex, mac }, true) => {
                        frames.push((&pkt[inner], packet::sockaddr_ll_ipv4(ifindex, mac)));
                    }
                    (Delivery::Link { .. }, false) => {}
                }
            }
        }
        for pkt in kernel {
            loop {
                match tun.try_send(pkt) {
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if !stop.wait(&[(tun.raw_fd(), libc::POLLOUT)]) {
                            return;
                        }
                    }
                    Err(_) => {
                        self.counters.send_errors.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
        if let Some(link) = link {
            link.send(&frames, stop, &self.counters);
        }
    }

    /// Reads the TUN device until it is empty, a batch at a time, then
    /// sleeps in poll(2) until it is readable again, so a busy device
    /// costs one system call per packet read and one per batch sent. A
    /// TCP packet the kernel handed over whole (up to 64 KiB, see
    /// [`Tun`]) is cut into its segments here and sent with them.
    fn outbound_loop(&self, tun: &Tun, sender: &Socket, stop: &Stop) -> io::Result<()> {
        let mut slots: Vec<Vec<u8>> = (0..BATCH)
            .map(|_| vec![0u8; HEADROOM + MAX_PACKET])
            .collect();
        let mut lens = [0usize; BATCH];
        let mut segments = Segments::default();
        let mut scratch = Vec::new();
        // A packet the device handed over that we cannot finish.
        let bad = || {
            self.counters
                .bad_tunnel_packet
                .fetch_add(1, Ordering::Relaxed);
        };
        let mut send = |slots: &mut [Vec<u8>], lens: &[usize]| {
            self.outbound(slots, lens, sender.as_raw_fd(), stop, &mut scratch)
        };
        loop {
            let mut n = 0;
            let mut empty = false;
            while n < BATCH {
                match tun.try_recv(&mut slots[n][HEADROOM..]) {
                    Ok((offload, len)) => {
                        let packet = &mut slots[n][HEADROOM..HEADROOM + len];
                        match offload {
                            Offload::None => {}
                            Offload::Checksum { start, offset } => {
                                if offload::finish_checksum(packet, start, offset).is_err() {
                                    bad();
                                    continue;
                                }
                            }
                            Offload::Tcp { mss } => {
                                // In order: what was read before it goes
                                // first.
                                if n > 0 {
                                    send(&mut slots[..n], &lens[..n]);
                                    slots.swap(0, n);
                                    n = 0;
                                }
                                let packet = &slots[0][HEADROOM..HEADROOM + len];
                                match offload::TcpSegments::new(packet, mss) {
                                    Ok(cut) => {
                                        let mut i = 0;
                                        while i < cut.count() {
                                            let k = segments.fill(&cut, i);
                                            send(&mut segments.slots[..k], &segments.lens[..k]);
                                            i += k;
                                        }
                                    }
                                    Err(_) => {
                                        bad();
                                    }
                                }
                                continue;
                            }
                            Offload::Unsupported => {
                                bad();
                                continue;
                            }
                        }
                        lens[n] = len;
                        n += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        empty = true;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if n > 0 {
                send(&mut slots[..n], &lens[..n]);
            }
            if stop.stopped() || (empty && !stop.wait(&[(tun.raw_fd(), libc::POLLIN)])) {
                return Ok(());
            }
        }
    }

    /// Receives tunnel packets on both raw sockets, a batch per system
    /// call, until both are empty, then sleeps in poll(2).
    fn inbound_loop(
        &self,
        receivers: &[Socket; 2],
        tun: &Tun,
        mut link: Option<LinkSender>,
        stop: &Stop,
    ) -> io::Result<()> {
        let mut slots: Vec<Vec<u8>> = (0..BATCH).map(|_| vec![0u8; MAX_PACKET]).collect();
        let mut lens = [0usize; BATCH];
        let polled = receivers.each_ref().map(|r| (r.as_raw_fd(), libc::POLLIN));
        loop {
            let mut more = false;
            for rx in receivers {
                match raw::recv_many(rx.as_raw_fd(), &mut slots, &mut lens) {
                    Ok(n) => {
                        more |= n == BATCH;
                        self.deliver(&slots[..n], &lens[..n], tun, link.as_mut(), stop);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) => {}
                    Err(e) => return Err(e),
                }
            }
            if stop.stopped() || (!more && !stop.wait(&polled)) {
                return Ok(());
            }
        }
    }

    /// Runs the data plane until an I/O error on the TUN device. Spawn it
    /// as a task; drop the task to stop it.
    ///
    /// The packets themselves are moved by two threads of their own
    /// (tunnel packets out, tunnel packets in) with blocking poll(2) and
    /// batched system calls: a tokio task per direction cost a runtime
    /// wakeup and two system calls per packet.
    pub async fn run(
        self,
        tun: Arc<Tun>,
        link: Option<Arc<crate::packet::PacketSocket>>,
    ) -> io::Result<()> {
        let sender = raw::sender_socket()?;
        let receivers = [
            raw::receiver_socket(protocol::IPIP)?,
            raw::receiver_socket(protocol::GRE)?,
        ];
        // Frames for visitors go out on a packet socket of our own: the
        // one given is registered with tokio for the daemon's other
        // sends, and each frame it freed would wake the runtime.
        let deliver = match link {
            Some(_) => Some(LinkSender::new()?),
            None => None,
        };
        let stop = Arc::new(Stop::new()?);
        let mut threads = Threads {
            stop: stop.clone(),
            handles: Vec::new(),
        };
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        {
            let (dp, tun, stop) = (self.clone(), tun.clone(), stop.clone());
            threads.handles.push(
                std::thread::Builder::new()
                    .name("pmip-tunnel-out".into())
                    .spawn(move || {
                        let _ = done_tx.send(dp.outbound_loop(&tun, &sender, &stop));
                    })?,
            );
        }
        {
            let (dp, stop) = (self.clone(), stop.clone());
            threads.handles.push(
                std::thread::Builder::new()
                    .name("pmip-tunnel-in".into())
                    .spawn(move || {
                        if let Err(e) = dp.inbound_loop(&receivers, &tun, deliver, &stop) {
                            tracing::warn!(error = %e, "tunnel receive stopped");
                        }
                    })?,
            );
        }
        let result = done_rx
            .await
            .unwrap_or_else(|_| Err(io::Error::other("tunnel data plane thread ended")));
        drop(threads);
        result
    }
}

/// Packets moved per system call (recvmmsg, sendmmsg) and read from the
/// TUN device before they are sent.
const BATCH: usize = 32;
const _: () = assert!(BATCH <= raw::MAX_BATCH);

/// Buffers for the segments of a TCP packet the TUN device handed over
/// whole, each with room for the tunnel header in front, reused.
#[derive(Default)]
struct Segments {
    slots: Vec<Vec<u8>>,
    lens: Vec<usize>,
}

impl Segments {
    /// Writes segments `from..` of `cut`, as many as one send batch
    /// takes, and returns how many.
    fn fill(&mut self, cut: &offload::TcpSegments<'_>, from: usize) -> usize {
        let k = (cut.count() - from).min(BATCH);
        self.slots.resize_with(k.max(self.slots.len()), Vec::new);
        self.lens.resize(self.slots.len(), 0);
        for j in 0..k {
            let len = cut.len(from + j);
            let slot = &mut self.slots[j];
            if slot.len() < HEADROOM + len {
                slot.resize(HEADROOM + len, 0);
            }
            // The length was asked of `cut` itself: the write fits.
            self.lens[j] = cut.write(from + j, &mut slot[HEADROOM..]).unwrap_or(0);
        }
        k
    }
}

/// The tunnel-in thread's sender of decapsulated packets onto visitors'
/// links. Where the kernel takes virtio network headers on packet
/// sockets, consecutive segments of one TCP flow in a batch go out as one
/// frame (`pmip_wire::offload::coalesce_tcp`, as GRO would have made of
/// them), which the kernel or the NIC cuts again for the link: one send
/// and one pass through the visitor's stack per run instead of per
/// segment. Elsewhere each packet is its own frame on a cooked socket.
pub(crate) enum LinkSender {
    Offload {
        socket: Socket,
        /// Our MAC on each visited link, the frames' source.
        macs: HashMap<u32, [u8; 6]>,
        /// The batch's frames, one after the other, reused.
        frames: Vec<u8>,
        /// A coalesced packet being built, reused.
        run: Vec<u8>,
    },
    Cooked(Socket),
}

const ETHERNET_HEADER_LEN: usize = 14;

impl LinkSender {
    fn new() -> io::Result<LinkSender> {
        Ok(match packet::offload_sender_socket() {
            Ok(socket) => LinkSender::Offload {
                socket,
                macs: HashMap::new(),
                frames: Vec::new(),
                run: Vec::new(),
            },
            Err(e) => {
                tracing::debug!(error = %e, "no offload on packet sockets; one frame per packet to visitors");
                LinkSender::Cooked(packet::sender_socket()?)
            }
        })
    }

    /// Sends `packets` (each an IPv4 packet and its link address), in
    /// order, counting failures.
    fn send(&mut self, packets: &[(&[u8], libc::sockaddr_ll)], stop: &Stop, counters: &Counters) {
        let count = |_: &[u8], result: io::Result<()>| {
            if result.is_err() {
                counters.send_errors.fetch_add(1, Ordering::Relaxed);
            }
        };
        let (socket, macs, frames, run) = match self {
            LinkSender::Cooked(socket) => {
                send_all(socket.as_raw_fd(), packets, stop, count);
                return;
            }
            LinkSender::Offload {
                socket,
                macs,
                frames,
                run,
            } => (socket, macs, frames, run),
        };
        frames.clear();
        let mut spans: Vec<(Range<usize>, libc::sockaddr_ll)> = Vec::with_capacity(packets.len());
        // Each run of packets to one visitor: its frames' addresses once,
        // then as many frames as coalescing leaves.
        let same_visitor = |a: &(&[u8], libc::sockaddr_ll), b: &(&[u8], libc::sockaddr_ll)| {
            a.1.sll_ifindex == b.1.sll_ifindex && a.1.sll_addr == b.1.sll_addr
        };
        for group in packets.chunk_by(same_visitor) {
            let to = group[0].1;
            let ifindex = to.sll_ifindex as u32;
            let ours = match macs.get(&ifindex) {
                Some(m) => *m,
                None => match crate::link::mac_of_index(ifindex) {
                    Ok(m) => *macs.entry(ifindex).or_insert(m),
                    Err(_) => {
                        counters
                            .send_errors
                            .fetch_add(group.len() as u64, Ordering::Relaxed);
                        continue;
                    }
                },
            };
            let views: Vec<&[u8]> = group.iter().map(|(p, _)| *p).collect();
            let mut i = 0;
            while i < views.len() {
                let start = frames.len();
                let (header, body, taken) = match offload::coalesce_tcp(&views[i..], run) {
                    Some(c) => (
                        crate::tun::tcp_segmentation_header(
                            ETHERNET_HEADER_LEN,
                            c.header_len,
                            c.mss,
                        ),
                        &run[..],
                        c.segments,
                    ),
                    None => ([0u8; crate::tun::VNET_HDR_LEN], views[i], 1),
                };
                frames.extend_from_slice(&header);
                frames.extend_from_slice(&to.sll_addr[..6]);
                frames.extend_from_slice(&ours);
                frames.extend_from_slice(&0x0800u16.to_be_bytes());
                frames.extend_from_slice(body);
                spans.push((start..frames.len(), to));
                i += taken;
            }
        }
        let msgs: Vec<(&[u8], libc::sockaddr_ll)> =
            spans.into_iter().map(|(r, to)| (&frames[r], to)).collect();
        send_all(socket.as_raw_fd(), &msgs, stop, count);
    }
}

/// Where an outbound tunnel packet lies.
enum Source {
    /// Encapsulated in place, in the slot it was read into.
    Slot(usize),
    /// A copy for another simultaneous binding.
    Copy(usize),
}

/// Sends every message, each to its address, a batch per sendmmsg(2),
/// waiting while the socket buffer is full; `done` learns the fate of
/// each, in order. A message the kernel refuses is counted by `done` and
/// skipped. Gives up (the rest unsent) when the data plane stops.
fn send_all<A: raw::SocketAddress>(
    fd: RawFd,
    msgs: &[(&[u8], A)],
    stop: &Stop,
    mut done: impl FnMut(&[u8], io::Result<()>),
) {
    let mut i = 0;
    while let Some(rest) = msgs.get(i..).filter(|r| !r.is_empty()) {
        match raw::send_many(fd, rest) {
            Ok(n) if n > 0 => {
                for (pkt, _) in &rest[..n] {
                    done(pkt, Ok(()));
                }
                i += n;
            }
            Ok(_) => {
                done(rest[0].0, Err(io::Error::other("nothing sent")));
                i += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if !stop.wait(&[(fd, libc::POLLOUT)]) {
                    return;
                }
            }
            Err(e) => {
                done(rest[0].0, Err(e));
                i += 1;
            }
        }
    }
}

/// Tells the data plane's threads to stop: a flag, and an eventfd that
/// wakes them from poll(2).
struct Stop {
    event: OwnedFd,
    stopped: AtomicBool,
}

impl Stop {
    fn new() -> io::Result<Stop> {
        // SAFETY: plain eventfd(2).
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Stop {
            // SAFETY: `fd` is a fresh descriptor we own.
            event: unsafe { OwnedFd::from_raw_fd(fd) },
            stopped: AtomicBool::new(false),
        })
    }

    fn signal(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let one = 1u64;
        // SAFETY: writing 8 bytes from a valid u64 to our eventfd.
        unsafe {
            libc::write(
                self.event.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Sleeps until one of `fds` is ready for its events or the data
    /// plane stops; false when it stopped.
    fn wait(&self, fds: &[(RawFd, libc::c_short)]) -> bool {
        let mut polled = [libc::pollfd {
            fd: -1,
            events: 0,
            revents: 0,
        }; 4];
        polled[0] = libc::pollfd {
            fd: self.event.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let n = 1 + fds.len().min(polled.len() - 1);
        for (p, &(fd, events)) in polled[1..].iter_mut().zip(fds) {
            p.fd = fd;
            p.events = events;
        }
        loop {
            if self.stopped() {
                return false;
            }
            // SAFETY: `polled` holds `n` initialised pollfd entries.
            let r = unsafe { libc::poll(polled.as_mut_ptr(), n as libc::nfds_t, -1) };
            if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if r < 0 {
                // Cannot happen with valid arguments; do not spin.
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            return !self.stopped();
        }
    }
}

/// The data plane's threads: stopped and joined when the task running
/// [`DataPlane::run`] ends or is dropped (aborted), so the TUN device and
/// sockets are closed by then.
struct Threads {
    stop: Arc<Stop>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Threads {
    fn drop(&mut self) {
        self.stop.signal();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}
