//! Applies a configuration's interface addresses, static routes and
//! default gateway to the Linux interfaces of the same names
//! (docs/operator-interface.md); everything goes through the netlink
//! ledger, so it is removed on exit.

use pmip_config::Config;
use pmip_platform::netlink::{Netlink, NetlinkError};
use std::net::Ipv4Addr;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("interface {0}: no such interface in this network namespace")]
    MissingInterface(String),
    #[error("interface {name}: {source}")]
    Interface { name: String, source: NetlinkError },
    #[error("ip route {dst}/{len}: {source}")]
    Route {
        dst: Ipv4Addr,
        len: u8,
        source: NetlinkError,
    },
}

/// Brings each configured interface up with its addresses (unless
/// `shutdown`), then installs `ip route` and `ip default-gateway`.
/// Interfaces the device creates itself (the AP's BVI1) are skipped when
/// `created` names them.
pub async fn apply(nl: &Netlink, config: &Config, created: &[&str]) -> Result<(), ApplyError> {
    for intf in &config.interfaces {
        if created.iter().any(|c| c.eq_ignore_ascii_case(&intf.name)) {
            continue;
        }
        let has_config = intf.address.is_some() || !intf.secondary.is_empty() || intf.shutdown;
        let index = match nl.link_index(&intf.name).await {
            Ok(i) => i,
            Err(NetlinkError::NoSuchLink(_)) if !has_config => continue,
            Err(NetlinkError::NoSuchLink(n)) => return Err(ApplyError::MissingInterface(n)),
            Err(e) => {
                return Err(ApplyError::Interface {
                    name: intf.name.clone(),
                    source: e,
                });
            }
        };
        for a in intf.addresses() {
            nl.add_address(index, a.address, a.prefix_len())
                .await
                .map_err(|e| ApplyError::Interface {
                    name: intf.name.clone(),
                    source: e,
                })?;
        }
        if !intf.shutdown {
            nl.link_up(index).await.map_err(|e| ApplyError::Interface {
                name: intf.name.clone(),
                source: e,
            })?;
        }
    }
    for r in &config.routes {
        let oif = match &r.interface {
            Some(name) => Some(
                nl.link_index(name)
                    .await
                    .map_err(|_| ApplyError::MissingInterface(name.clone()))?,
            ),
            None => None,
        };
        nl.add_route(r.prefix, r.prefix_len(), r.next_hop, oif)
            .await
            .map_err(|e| ApplyError::Route {
                dst: r.prefix,
                len: r.prefix_len(),
                source: e,
            })?;
    }
    // With `ip address dhcp` the gateway is not reachable before the
    // lease: the DHCP glue installs the default route with the address.
    let dhcp = config.interfaces.iter().any(|i| i.dhcp);
    if let Some(gw) = config.default_gateway.filter(|_| !dhcp) {
        nl.add_route(Ipv4Addr::UNSPECIFIED, 0, Some(gw), None)
            .await
            .map_err(|e| ApplyError::Route {
                dst: Ipv4Addr::UNSPECIFIED,
                len: 0,
                source: e,
            })?;
    }
    Ok(())
}
