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

use crate::raw::RawSocket;
use crate::tun::Tun;
use pmip_wire::ipv4::{self, protocol};
use pmip_wire::tunnel::{self, Encapsulation, Encapsulator};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
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
        self.tables
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_destination
            .len()
    }

    /// Encapsulates one packet read from the TUN device at
    /// `buf[HEADROOM..HEADROOM + len]` and sends it. Returns how many
    /// tunnel packets went out.
    async fn outbound(&self, buf: &mut [u8], len: usize, sender: &RawSocket) -> usize {
        let (src, dst) = {
            let Ok(p) = ipv4::Packet::new_checked(&buf[HEADROOM..HEADROOM + len]) else {
                self.counters
                    .bad_tunnel_packet
                    .fetch_add(1, Ordering::Relaxed);
                return 0;
            };
            (p.src_addr(), p.dst_addr())
        };
        // Encapsulate under the lock, send after releasing it. The last
        // (usually only) tunnel encapsulates in place; copies are made
        // only for simultaneous bindings.
        let mut copies: Vec<(Ipv4Addr, Vec<u8>)> = Vec::new();
        let mut in_place = None;
        {
            let mut t = self.write();
            let Tables {
                by_destination,
                by_source,
                ..
            } = &mut *t;
            let encs: Vec<&mut Encapsulator> = match by_destination.get_mut(&dst) {
                Some(list) => list.iter_mut().collect(),
                None => by_source.get_mut(&src).into_iter().collect(),
            };
            if encs.is_empty() {
                self.counters.no_tunnel.fetch_add(1, Ordering::Relaxed);
                return 0;
            }
            let n = encs.len();
            for (i, enc) in encs.into_iter().enumerate() {
                let result = if i + 1 == n {
                    enc.encapsulate(buf, HEADROOM, len, true)
                        .map(|r| in_place = Some((enc.remote, r)))
                } else {
                    let mut copy = buf[..HEADROOM + len].to_vec();
                    enc.encapsulate(&mut copy, HEADROOM, len, true)
                        .map(|r| copies.push((enc.remote, copy[r].to_vec())))
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
        let mut sent = 0;
        let last = in_place.map(|(remote, r)| (remote, &buf[r]));
        for (remote, pkt) in copies.iter().map(|(r, p)| (*r, &p[..])).chain(last) {
            match sender.send_to(pkt, remote).await {
                Ok(_) => {
                    sent += 1;
                    self.counters.encapsulated.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .encapsulated_bytes
                        .fetch_add(pkt.len() as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    self.counters.send_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(error = %e, %remote, "tunnel send failed");
                }
            }
        }
        sent
    }

    /// Decapsulates one tunnel packet and decides where it goes, or None
    /// (counted) when no rule accepts it.
    fn inbound(&self, pkt: &[u8]) -> Option<(std::ops::Range<usize>, Delivery)> {
        let d = match tunnel::decapsulate(pkt) {
            Ok(d) => d,
            Err(_) => {
                self.counters
                    .bad_tunnel_packet
                    .fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        let t = self.tables.read().unwrap_or_else(|e| e.into_inner());
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

    /// Runs the data plane until an I/O error on the TUN device. Spawn it
    /// as a task; drop the task to stop it.
    pub async fn run(
        self,
        tun: Arc<Tun>,
        link: Option<Arc<crate::packet::PacketSocket>>,
    ) -> std::io::Result<()> {
        let sender = Arc::new(RawSocket::sender()?);
        let ipip = RawSocket::receiver(protocol::IPIP)?;
        let gre = RawSocket::receiver(protocol::GRE)?;
        let inbound = |rx: RawSocket| {
            let dp = self.clone();
            let tun = tun.clone();
            let link = link.clone();
            async move {
                let mut buf = vec![0u8; MAX_PACKET];
                loop {
                    let n = rx.recv(&mut buf).await?;
                    let Some((inner, delivery)) = dp.inbound(&buf[..n]) else {
                        continue;
                    };
                    let res = match (&delivery, &link) {
                        (Delivery::Kernel, _) => tun.send(&buf[inner]).await.map(drop),
                        (Delivery::Link { ifindex, mac }, Some(l)) => {
                            l.send_ipv4(*ifindex, *mac, &buf[inner]).await
                        }
                        (Delivery::Link { .. }, None) => Ok(()),
                    };
                    if res.is_err() {
                        dp.counters.send_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                #[allow(unreachable_code)]
                Ok::<(), std::io::Error>(())
            }
        };
        let ipip_task = tokio::spawn(inbound(ipip));
        let gre_task = tokio::spawn(inbound(gre));
        let mut buf = vec![0u8; HEADROOM + MAX_PACKET];
        let result = loop {
            let n = match tun.recv(&mut buf[HEADROOM..]).await {
                Ok(n) => n,
                Err(e) => break Err(e),
            };
            self.outbound(&mut buf, n, &sender).await;
        };
        ipip_task.abort();
        gre_task.abort();
        result
    }
}
