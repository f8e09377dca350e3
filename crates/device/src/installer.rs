//! Kernel and data-plane state for the node's installs: a binding's
//! tunnel, host route, proxy ARP and gratuitous ARP on the home link
//! (RFC 5944 4.6); a visitor's delivery by MAC and reverse-tunnel rule
//! (RFC 3024).

use pmip_engine::foreign_agent::Visitor;
use pmip_node::Install;
use pmip_platform::dataplane::{DataPlane, Delivery};
use pmip_platform::netlink::{BatchOp, Netlink};
use pmip_platform::packet::RawLink;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// Name of the TUN device the home agent routes mobile nodes into.
pub const TUNNEL_DEVICE: &str = "pmip0";

/// Routing table whose default route is the TUN device: source rules put
/// reverse-tunnelled visitors' packets there (RFC 3024).
pub const REVERSE_TUNNEL_TABLE: u32 = 4340;

/// Most installs the installer takes from its queue at once: their host
/// routes go to the kernel together (docs/architecture.md, "Installs at
/// scale").
pub const INSTALL_BATCH: usize = 1024;

/// Installs waiting at most: the loop waits for room (and stops reading
/// registrations meanwhile) rather than queue without bound or drop one.
pub const INSTALL_QUEUE: usize = 4 * INSTALL_BATCH;

/// Mobile nodes coming home probed at once (each probe holds a socket for
/// up to a second); the others wait their turn.
const RETURN_PROBES: usize = 64;

/// A home link as the installer needs it, looked up once: its index, its
/// MAC (gratuitous ARP, proxy ARP replies) and the home addresses it
/// answers ARP for.
struct HomeLink {
    index: u32,
    mac: [u8; 6],
    bound: Arc<Mutex<HashSet<Ipv4Addr>>>,
    responder: tokio::task::JoinHandle<()>,
}

impl Drop for HomeLink {
    fn drop(&mut self) {
        self.responder.abort();
    }
}

/// What the binding installer's queue carries: an install, and a signal
/// for when it (and everything before it) is done; `None` only asks for
/// the signal.
pub type Queued = (Option<Install>, Option<tokio::sync::oneshot::Sender<()>>);

/// The binding installer on a thread of its own: it takes what waits in
/// the queue together (one netlink batch for all its host routes) and
/// blocks in the kernel's route work there, not on a runtime thread and
/// without a hop to the blocking pool for every batch. It runs on the
/// caller's runtime (its sockets and timers); dropping it stops it after
/// the batch in hand.
pub struct InstallerThread {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InstallerThread {
    pub fn spawn(
        mut installer: BindingInstaller,
        mut queue: tokio::sync::mpsc::Receiver<Queued>,
    ) -> std::io::Result<InstallerThread> {
        let runtime = tokio::runtime::Handle::current();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("pmip-install".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut taken = Vec::with_capacity(INSTALL_BATCH);
                    let mut installs = Vec::with_capacity(INSTALL_BATCH);
                    let mut done = Vec::new();
                    loop {
                        tokio::select! {
                            biased;
                            _ = &mut stopped => break,
                            n = queue.recv_many(&mut taken, INSTALL_BATCH) => {
                                if n == 0 {
                                    break;
                                }
                            }
                        }
                        for (i, d) in taken.drain(..) {
                            installs.extend(i);
                            done.extend(d);
                        }
                        installer.apply_batch(&installs).await;
                        installs.clear();
                        for d in done.drain(..) {
                            let _ = d.send(());
                        }
                    }
                });
            })?;
        Ok(InstallerThread {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for InstallerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Applies the engine's binding actions to the kernel (their tunnels:
/// [`tunnel_up`], [`tunnel_down`]).
pub struct BindingInstaller {
    netlink: Arc<Netlink>,
    tun_index: u32,
    arp: Arc<pmip_platform::packet::PacketSocket>,
    links: HashMap<String, HomeLink>,
    return_probes: Arc<tokio::sync::Semaphore>,
}

/// What one install of a batch asks of the kernel and the home link.
enum Step {
    Up {
        home: Ipv4Addr,
        link: String,
    },
    Down {
        home: Ipv4Addr,
        home_agent: Ipv4Addr,
        link: String,
    },
}

impl BindingInstaller {
    pub fn new(
        netlink: Arc<Netlink>,
        tun_index: u32,
        arp: Arc<pmip_platform::packet::PacketSocket>,
    ) -> BindingInstaller {
        BindingInstaller {
            netlink,
            tun_index,
            arp,
            links: HashMap::new(),
            return_probes: Arc::new(tokio::sync::Semaphore::new(RETURN_PROBES)),
        }
    }

    /// Carries out `installs` in order (their tunnels were changed by
    /// [`tunnel_up`]/[`tunnel_down`] already): every host route of the
    /// batch in one netlink batch, then proxy ARP and the gratuitous ARPs
    /// of the home addresses now routed into the tunnel (RFC 5944 4.6).
    pub async fn apply_batch(&mut self, installs: &[Install]) {
        let mut steps = Vec::new();
        for install in installs {
            // Their tunnels are in already (`tunnel_up`, before the reply
            // left); what is left is the kernel's part.
            match install {
                Install::BindingUp {
                    binding,
                    interface,
                    first: true,
                } => steps.push(Step::Up {
                    home: binding.home_address,
                    link: interface.clone(),
                }),
                Install::BindingDown {
                    binding,
                    interface,
                    last: true,
                } => steps.push(Step::Down {
                    home: binding.home_address,
                    home_agent: binding.home_agent,
                    link: interface.clone(),
                }),
                _ => {}
            }
        }
        if steps.is_empty() {
            return;
        }
        for step in &steps {
            let (Step::Up { link, .. } | Step::Down { link, .. }) = step;
            self.home_link(link).await;
        }
        // Proxy ARP stops before the route goes, so the home agent never
        // answers for an address it no longer routes.
        for step in &steps {
            if let Step::Down { home, link, .. } = step
                && let Some(l) = self.links.get(link)
            {
                lock(&l.bound).remove(home);
            }
        }
        let route = |dst| (dst, 32, None, Some(self.tun_index));
        let ops: Vec<BatchOp> = steps
            .iter()
            .map(|step| match step {
                Step::Up { home, .. } => {
                    let (dst, prefix_len, gateway, oif) = route(*home);
                    BatchOp::ReplaceRoute {
                        dst,
                        prefix_len,
                        gateway,
                        oif,
                    }
                }
                Step::Down { home, .. } => {
                    let (dst, prefix_len, gateway, oif) = route(*home);
                    BatchOp::DeleteRoute {
                        dst,
                        prefix_len,
                        gateway,
                        oif,
                    }
                }
            })
            .collect();
        // The kernel's work (about 10 µs a route) on this thread of its
        // own (see `spawn`), not on the runtime's.
        let results = self.netlink.apply_batch(&ops);
        // In order: a home address bound, unbound and bound again in one
        // batch ends up answered for.
        let mut announce: Vec<(u32, [u8; 6], Ipv4Addr)> = Vec::new();
        for (step, result) in steps.iter().zip(&results) {
            match step {
                Step::Up { home, link } => {
                    if let Err(e) = result {
                        tracing::error!(%home, error = %e, "could not route the home address into the tunnel");
                        continue;
                    }
                    if let Some(l) = self.links.get(link) {
                        lock(&l.bound).insert(*home);
                        announce.push((l.index, l.mac, *home));
                    }
                }
                Step::Down {
                    home,
                    home_agent,
                    link,
                } => {
                    if let Some(l) = self.links.get(link) {
                        lock(&l.bound).remove(home);
                        self.announce_return(l.index, l.mac, *home_agent, *home);
                    }
                }
            }
        }
        // RFC 5944 4.6: hosts on the home link learn at once that each
        // home address is now reached through our link-layer address
        // (request and reply forms, as some hosts accept only one); all
        // of the batch's announcements in sendmmsg batches.
        let mut frames = Vec::with_capacity(announce.len() * 2);
        for (index, mac, home) in announce {
            let still_bound = self
                .links
                .values()
                .any(|l| l.index == index && lock(&l.bound).contains(&home));
            if still_bound {
                frames.extend(pmip_wire::arp::gratuitous(mac.into(), home).map(|f| (index, f)));
            }
        }
        let frames: Vec<(u32, [u8; 6], &[u8])> = frames
            .iter()
            .map(|(index, f)| (*index, [0xff; 6], &f[..]))
            .collect();
        let refused = self.arp.send_arps(&frames).await;
        if refused > 0 {
            tracing::debug!(refused, "gratuitous ARPs not sent");
        }
    }

    /// The home link named `name`, looked up on first use (index, MAC,
    /// its proxy ARP responder). One that cannot be found is logged and
    /// looked up again next time.
    async fn home_link(&mut self, name: &str) {
        if self.links.contains_key(name) {
            return;
        }
        let found = match self.netlink.link_index(name).await {
            Ok(index) => pmip_platform::link::mac_of_index(index)
                .map(|mac| (index, mac))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let (index, mac) = match found {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(interface = %name, error = %e, "home interface missing");
                return;
            }
        };
        let bound = Arc::new(Mutex::new(HashSet::new()));
        let responder = match RawLink::open_filtered(index, Some(&ARP_REQUESTS)) {
            Ok(socket) => tokio::spawn(proxy_arp(socket, mac, bound.clone())),
            Err(e) => {
                tracing::error!(interface = %name, error = %e, "cannot answer ARP for mobile nodes away from home");
                tokio::spawn(async {})
            }
        };
        self.links.insert(
            name.to_owned(),
            HomeLink {
                index,
                mac,
                bound,
                responder,
            },
        );
    }

    /// The binding ended: hosts on the home link still map the home
    /// address to our MAC. If the node answers ARP on the home link (it
    /// came home), announce its own MAC with a gratuitous ARP on its
    /// behalf (RFC 5944 4.6 asks the node to; an unmodified client does
    /// not). Runs on its own task so the probe does not hold up installs;
    /// a mass of them waits for its turn rather than open a socket each.
    fn announce_return(&self, ifindex: u32, our_mac: [u8; 6], our_ip: Ipv4Addr, home: Ipv4Addr) {
        let arp = self.arp.clone();
        let probes = self.return_probes.clone();
        tokio::spawn(async move {
            let Ok(_turn) = probes.acquire().await else {
                return;
            };
            let found = pmip_platform::packet::arp_resolve(
                ifindex,
                our_mac,
                our_ip,
                home,
                std::time::Duration::from_secs(1),
            )
            .await;
            if let Ok(Some(mac)) = found {
                let frames = pmip_wire::arp::gratuitous(mac.into(), home);
                let frames: Vec<(u32, [u8; 6], &[u8])> = frames
                    .iter()
                    .map(|f| (ifindex, [0xff; 6], &f[..]))
                    .collect();
                arp.send_arps(&frames).await;
                tracing::info!(%home, "mobile node is home; announced its own link-layer address");
            }
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// ARP requests only (classic BPF over the Ethernet frame), and none
/// we sent ourselves (our own gratuitous ARPs are requests too): everything
/// else on the home link stays in the kernel.
static ARP_REQUESTS: [libc::sock_filter; 8] = [
    libc::sock_filter {
        code: 0x30,
        jt: 0,
        jf: 0,
        k: SKF_AD_PKTTYPE,
    }, // A = the frame's packet type
    libc::sock_filter {
        code: 0x15,
        jt: 5,
        jf: 0,
        k: libc::PACKET_OUTGOING as u32,
    }, // sent from this host -> drop
    libc::sock_filter {
        code: 0x28,
        jt: 0,
        jf: 0,
        k: 12,
    }, // A = ethertype
    libc::sock_filter {
        code: 0x15,
        jt: 0,
        jf: 3,
        k: 0x0806,
    }, // not ARP -> drop
    libc::sock_filter {
        code: 0x28,
        jt: 0,
        jf: 0,
        k: 20,
    }, // A = operation
    libc::sock_filter {
        code: 0x15,
        jt: 0,
        jf: 1,
        k: 1,
    }, // not a request -> drop
    libc::sock_filter {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: 0x40000,
    }, // accept
    libc::sock_filter {
        code: 0x06,
        jt: 0,
        jf: 0,
        k: 0,
    }, // drop
];

/// The classic BPF ancillary load of a frame's packet type
/// (SKF_AD_OFF + SKF_AD_PKTTYPE, linux/filter.h).
const SKF_AD_PKTTYPE: u32 = (-0x1000i32 + 4) as u32;

/// The home agent's proxy ARP on one home link (RFC 5944 4.6): answers
/// requests for the home addresses of mobile nodes away from home with
/// the link's own MAC.
///
/// Not the kernel's: a proxy neighbour entry per home address costs the
/// kernel O(n) to add (its proxy table is a 16-bucket hash: 100 000
/// entries took 44 s), and the `proxy_arp` sysctl answers for every
/// address routed out of another interface, the default route's whole
/// world included, not only the bound home addresses (docs/architecture.md,
/// "Proxy ARP"). Like the kernel's proxy ARP it answers neither probes
/// (sender 0.0.0.0, RFC 5227) nor announcements (sender = target).
async fn proxy_arp(socket: RawLink, mac: [u8; 6], bound: Arc<Mutex<HashSet<Ipv4Addr>>>) {
    use pmip_wire::arp::{Operation, Packet, Repr};
    use pmip_wire::ethernet::EthernetAddress;
    let mut buf = [0u8; 1514];
    loop {
        let n = match socket.recv(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!(error = %e, "proxy ARP: read failed; resting");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(arp) = buf.get(14..n) else { continue };
        let Ok(req) = Repr::parse(&Packet::new_unchecked(arp)) else {
            continue;
        };
        if req.operation != Operation::Request
            || req.sender_protocol_addr.is_unspecified()
            || req.sender_protocol_addr == req.target_protocol_addr
            || req.sender_hardware_addr.0 == mac
            || !lock(&bound).contains(&req.target_protocol_addr)
        {
            continue;
        }
        let reply = Repr {
            operation: Operation::Reply,
            sender_hardware_addr: EthernetAddress(mac),
            sender_protocol_addr: req.target_protocol_addr,
            target_hardware_addr: req.sender_hardware_addr,
            target_protocol_addr: req.sender_protocol_addr,
        };
        let mut frame = [0u8; 14 + pmip_wire::arp::PACKET_LEN];
        frame[..6].copy_from_slice(&req.sender_hardware_addr.0);
        frame[6..12].copy_from_slice(&mac);
        frame[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        reply.emit(&mut frame[14..]);
        if let Err(e) = socket.send(&frame).await {
            tracing::debug!(error = %e, "proxy ARP reply not sent");
        }
    }
}

/// Installs and removes visitors in the data plane and the kernel.
pub struct VisitorInstaller {
    pub netlink: Arc<Netlink>,
    pub dataplane: DataPlane,
    pub care_of_address: Ipv4Addr,
    pub ifindex: BTreeMap<String, u32>,
}

impl VisitorInstaller {
    pub async fn up(&self, v: &Visitor) {
        let Some(&ifindex) = self.ifindex.get(&v.interface) else {
            return;
        };
        self.dataplane.add_visitor(
            v.home_address,
            self.care_of_address,
            v.home_agent,
            Delivery::Link {
                ifindex,
                mac: v.mac,
            },
            v.reverse_tunnel.then_some(v.encapsulation),
        );
        fast_path(&self.dataplane).visitor_up(
            v.home_address,
            self.care_of_address,
            v.home_agent,
            (ifindex, v.mac),
            v.reverse_tunnel.then_some(v.encapsulation),
        );
        if v.reverse_tunnel {
            if let Err(e) = self
                .netlink
                .add_source_rule(v.home_address, REVERSE_TUNNEL_TABLE)
                .await
            {
                tracing::error!(home = %v.home_address, error = %e, "could not route the visitor into the reverse tunnel");
            }
        } else {
            let _ = self
                .netlink
                .del_source_rule(v.home_address, REVERSE_TUNNEL_TABLE)
                .await;
        }
        tracing::info!(home = %v.home_address, ha = %v.home_agent, "visitor registered");
    }

    pub async fn down(&self, v: &Visitor) {
        pmip_fastpath::hook().visitor_down(v.home_address);
        self.dataplane.remove_visitor(v.home_address);
        if v.reverse_tunnel {
            let _ = self
                .netlink
                .del_source_rule(v.home_address, REVERSE_TUNNEL_TABLE)
                .await;
        }
        tracing::info!(home = %v.home_address, "visitor removed");
    }
}

/// The eBPF fast path (docs/fast-path.md): loaded in the background when
/// the router starts (see [`preload_fast_path`]) unless PMIP_FASTPATH=off
/// (`pmip run --no-fastpath`); the user-space data plane stays underneath
/// for what it cannot carry. Its counters are folded into the data
/// plane's, so `show ip mobile traffic` counts both paths.
fn fast_path(dataplane: &DataPlane) -> &'static pmip_fastpath::Hook {
    let c = dataplane.counters.clone();
    pmip_fastpath::hook().start(TUNNEL_DEVICE, move |d| {
        use std::sync::atomic::Ordering::Relaxed;
        c.encapsulated.fetch_add(d.encapsulated_packets, Relaxed);
        c.encapsulated_bytes
            .fetch_add(d.encapsulated_bytes, Relaxed);
        c.decapsulated.fetch_add(d.decapsulated_packets, Relaxed);
        c.decapsulated_bytes
            .fetch_add(d.decapsulated_bytes, Relaxed);
        c.bad_tunnel_packet.fetch_add(d.dropped_malformed, Relaxed);
    })
}

/// The router stops: the fast path's program and maps go with it.
impl Drop for BindingInstaller {
    fn drop(&mut self) {
        pmip_fastpath::hook().stop();
    }
}

impl Drop for VisitorInstaller {
    fn drop(&mut self) {
        pmip_fastpath::hook().stop();
    }
}

/// Starts loading the fast path as the router starts, not with its first
/// binding or visitor: the verifier and the attachments take tens of
/// milliseconds of CPU, which the first registration would otherwise wait
/// behind (a 10-14 ms registration round trip on a 2-core machine).
pub fn preload_fast_path(dataplane: &DataPlane) {
    fast_path(dataplane);
}

/// A binding's tunnel in the user-space data plane and the fast path's
/// map: a hash-map insert and a BPF map update (microseconds), made on the
/// loop before the registration reply leaves, so the first packet after
/// the reply is tunnelled (by the fast path, which needs no route; the
/// host route into the TUN device follows on the installer's batch).
pub fn tunnel_up(dataplane: &DataPlane, binding: &pmip_engine::binding::Binding) {
    dataplane.add_binding_tunnel(
        binding.home_address,
        binding.home_agent,
        binding.care_of_address,
        binding.encapsulation,
        binding.reverse_tunnel,
    );
    fast_path(dataplane).binding_up(
        binding.home_address,
        binding.home_agent,
        binding.care_of_address,
        binding.encapsulation,
        binding.reverse_tunnel,
    );
}

/// The binding's tunnel goes, in the order the node decided it.
pub fn tunnel_down(dataplane: &DataPlane, binding: &pmip_engine::binding::Binding) {
    pmip_fastpath::hook().binding_down(binding.home_address, binding.care_of_address);
    dataplane.remove_binding_tunnel(binding.home_address, binding.care_of_address);
}
