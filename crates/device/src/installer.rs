//! Kernel and data-plane state for the node's installs: a binding's
//! tunnel, host route, proxy ARP entry and gratuitous ARP on the home link
//! (RFC 5944 4.6); a visitor's delivery by MAC and reverse-tunnel rule
//! (RFC 3024).

use pmip_engine::foreign_agent::Visitor;
use pmip_node::Install;
use pmip_platform::dataplane::{DataPlane, Delivery};
use pmip_platform::netlink::Netlink;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Name of the TUN device the home agent routes mobile nodes into.
pub const TUNNEL_DEVICE: &str = "pmip0";

/// Routing table whose default route is the TUN device: source rules put
/// reverse-tunnelled visitors' packets there (RFC 3024).
pub const REVERSE_TUNNEL_TABLE: u32 = 4340;

/// Applies the engine's binding actions to the kernel and the data plane.
pub struct BindingInstaller {
    pub netlink: Arc<Netlink>,
    pub dataplane: DataPlane,
    pub tun_index: u32,
    pub arp: Arc<pmip_platform::packet::PacketSocket>,
}

impl BindingInstaller {
    pub async fn apply(&self, install: &Install) {
        match install {
            Install::BindingUp {
                binding,
                interface,
                first,
            } => {
                self.dataplane.add_binding_tunnel(
                    binding.home_address,
                    binding.home_agent,
                    binding.care_of_address,
                    binding.encapsulation,
                    binding.reverse_tunnel,
                );
                fast_path(&self.dataplane).binding_up(
                    binding.home_address,
                    binding.home_agent,
                    binding.care_of_address,
                    binding.encapsulation,
                    binding.reverse_tunnel,
                );
                if *first {
                    if let Err(e) = self
                        .netlink
                        .add_route(binding.home_address, 32, None, Some(self.tun_index))
                        .await
                    {
                        tracing::error!(home = %binding.home_address, error = %e, "could not route the home address into the tunnel");
                    }
                    match self.netlink.link_index(interface).await {
                        Ok(idx) => {
                            if let Err(e) = self
                                .netlink
                                .add_proxy_neighbour(idx, binding.home_address)
                                .await
                            {
                                tracing::error!(home = %binding.home_address, error = %e, "could not add proxy ARP");
                            }
                            self.gratuitous_arp(idx, binding.home_address).await;
                        }
                        Err(e) => tracing::error!(%interface, error = %e, "home interface missing"),
                    }
                }
            }
            Install::BindingDown {
                binding,
                interface,
                last,
            } => {
                pmip_fastpath::hook().binding_down(binding.home_address, binding.care_of_address);
                self.dataplane
                    .remove_binding_tunnel(binding.home_address, binding.care_of_address);
                if *last {
                    let _ = self
                        .netlink
                        .del_route(binding.home_address, 32, None, Some(self.tun_index))
                        .await;
                    if let Ok(idx) = self.netlink.link_index(interface).await {
                        let _ = self
                            .netlink
                            .del_proxy_neighbour(idx, binding.home_address)
                            .await;
                        self.announce_return(idx, binding.home_agent, binding.home_address);
                    }
                }
            }
            _ => {}
        }
    }

    /// The binding ended: hosts on the home link still map the home
    /// address to our MAC. If the node answers ARP on the home link (it
    /// came home), announce its own MAC with a gratuitous ARP on its
    /// behalf (RFC 5944 4.6 asks the node to; an unmodified client does
    /// not). Runs on its own task so the probe does not hold up installs.
    fn announce_return(&self, ifindex: u32, our_ip: Ipv4Addr, home: Ipv4Addr) {
        let arp = self.arp.clone();
        tokio::spawn(async move {
            let Ok(our_mac) = pmip_platform::link::mac_of_index(ifindex) else {
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
                for frame in pmip_wire::arp::gratuitous(mac.into(), home) {
                    let _ = arp.send_arp(ifindex, [0xff; 6], &frame).await;
                }
                tracing::info!(%home, "mobile node is home; announced its own link-layer address");
            }
        });
    }

    /// RFC 5944 4.6: announce that the home address is now reached through
    /// our link-layer address, so hosts on the home link update their ARP
    /// caches at once.
    async fn gratuitous_arp(&self, ifindex: u32, home: Ipv4Addr) {
        let Ok(mac) = pmip_platform::link::mac_of_index(ifindex) else {
            return;
        };
        for frame in pmip_wire::arp::gratuitous(mac.into(), home) {
            if let Err(e) = self.arp.send_arp(ifindex, [0xff; 6], &frame).await {
                tracing::debug!(error = %e, "gratuitous ARP not sent");
            }
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

/// The eBPF fast path (docs/fast-path.md): loaded in the background with
/// the first binding or visitor unless PMIP_FASTPATH=off (`pmip run
/// --no-fastpath`); the user-space data plane stays underneath for what it
/// cannot carry. Its counters are folded into the data plane's, so `show
/// ip mobile traffic` counts both paths.
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
