//! The home agent role on Linux: the engine's actions become UDP replies,
//! tunnels in the data plane, host routes into the TUN device, proxy ARP
//! entries and gratuitous ARP on the home link.

use pmip_config::{Config, SaPeer};
use pmip_engine::home_agent::{Action, BindUpdatePolicy, HomeAgentConfig, HomeNetwork, MobileHost};
use pmip_engine::host_range::HostRanges;
use pmip_engine::security::SecurityAssociation;
use pmip_platform::dataplane::DataPlane;
use pmip_platform::netlink::Netlink;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Name of the TUN device the home agent routes mobile nodes into.
pub const TUNNEL_DEVICE: &str = "pmip0";

/// Maps the wire crate's algorithm from the configuration's.
pub fn algorithm(a: pmip_config::Algorithm) -> pmip_wire::auth::Algorithm {
    match a {
        pmip_config::Algorithm::KeyedMd5PrefixSuffix => {
            pmip_wire::auth::Algorithm::KeyedMd5PrefixSuffix
        }
        pmip_config::Algorithm::HmacMd5 => pmip_wire::auth::Algorithm::HmacMd5,
    }
}

pub fn security_association(sa: &pmip_config::SecurityAssociation) -> SecurityAssociation {
    let pmip_config::Replay::Timestamp { within } = sa.replay;
    SecurityAssociation {
        spi: sa.spi,
        key: sa.key.clone(),
        algorithm: algorithm(sa.algorithm),
        replay_window: Duration::from_secs(u64::from(within)),
    }
}

/// The engine's configuration from the device configuration.
pub fn engine_config(config: &Config) -> HomeAgentConfig {
    let ha = config.mobile.home_agent.clone().unwrap_or_default();
    let mut hosts = HostRanges::new();
    for h in &config.mobile.hosts {
        let _ = hosts.insert(
            h.range.low,
            h.range.high,
            MobileHost {
                interface: h.interface.clone().unwrap_or_default(),
                lifetime: h.lifetime.map(|l| l.min(u32::from(u16::MAX)) as u16),
            },
        );
    }
    let mut aaa_hosts = HostRanges::new();
    for h in config.mobile.hosts.iter().filter(|h| h.aaa.is_some()) {
        let _ = aaa_hosts.insert(h.range.low, h.range.high, ());
    }
    let mut host_sas = HostRanges::new();
    let mut foreign_agent_sas = HashMap::new();
    for e in &config.mobile.secure {
        match e.peer {
            SaPeer::Host => {
                let _ = host_sas.insert(e.range.low, e.range.high, security_association(&e.sa));
            }
            SaPeer::ForeignAgent => {
                let (lo, hi) = (u32::from(e.range.low), u32::from(e.range.high));
                for a in lo..=hi.min(lo.saturating_add(1023)) {
                    foreign_agent_sas.insert(Ipv4Addr::from(a), security_association(&e.sa));
                }
            }
            _ => {}
        }
    }
    // Home networks: the interfaces named by `ip mobile host ... interface`.
    let mut networks = Vec::new();
    for h in &config.mobile.hosts {
        let Some(name) = &h.interface else { continue };
        if let Some(intf) = config.interface(name)
            && let Some(a) = &intf.address
            && !networks
                .iter()
                .any(|n: &HomeNetwork| n.interface == intf.name)
        {
            networks.push(HomeNetwork {
                interface: intf.name.clone(),
                address: a.address,
                prefix_len: a.prefix_len(),
            });
        }
    }
    HomeAgentConfig {
        networks,
        max_lifetime: ha.lifetime.min(u32::from(u16::MAX)) as u16,
        hosts,
        host_sas,
        foreign_agent_sas,
        reverse_tunnel: !ha.reverse_tunnel_off,
        max_simultaneous: 5,
        bind_update: config.mobile.bindupdate.then_some(BindUpdatePolicy {
            ack: config.mobile.bindupdate_ack,
            retry_interval: Duration::from_secs(1),
            retries: 3,
        }),
        aaa_hosts,
        // IOS: `aaa` asks at every registration; `aaa load-sa` keeps the
        // association (10 minutes here), `permanent` until cleared.
        aaa_cache_lifetime: config
            .mobile
            .hosts
            .iter()
            .filter_map(|h| h.aaa)
            .map(|a| match a {
                pmip_config::AaaLoad::OnDemand => Duration::ZERO,
                pmip_config::AaaLoad::LoadSa => Duration::from_secs(600),
                pmip_config::AaaLoad::LoadSaPermanent => Duration::from_secs(100 * 365 * 86400),
            })
            .max()
            .unwrap_or_default(),
    }
}

/// Applies the engine's binding actions to the kernel and the data plane.
pub struct BindingInstaller {
    pub netlink: std::sync::Arc<Netlink>,
    pub dataplane: DataPlane,
    pub tun_index: u32,
    pub arp: std::sync::Arc<pmip_platform::packet::PacketSocket>,
}

impl BindingInstaller {
    pub async fn apply(&self, action: &Action) {
        match action {
            // Sends and association fetches never reach the installer.
            Action::FetchSa { .. } => {}
            Action::BindingUp {
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
            Action::BindingDown {
                binding,
                interface,
                last,
            } => {
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
            Action::Send { .. } => {}
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
            let Ok(our_mac) = crate::linkaddr::mac_of_index(ifindex) else {
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
        let Ok(mac) = crate::linkaddr::mac_of_index(ifindex) else {
            return;
        };
        for frame in pmip_wire::arp::gratuitous(mac.into(), home) {
            if let Err(e) = self.arp.send_arp(ifindex, [0xff; 6], &frame).await {
                tracing::debug!(error = %e, "gratuitous ARP not sent");
            }
        }
    }
}
