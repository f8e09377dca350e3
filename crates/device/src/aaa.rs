//! The RADIUS clients that fetch mobility security associations for the
//! home agent (`ip mobile host ... aaa`) and the proxy AP (associations
//! not configured locally), RFC 2865 through pmip-radius.

use pmip_config::Config;
use pmip_engine::security::SecurityAssociation;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use crate::daemon::RoleKey;

/// Starts the RADIUS client of each role that asks for one; a role whose
/// client cannot start keeps the reason (its lookups fail with it).
pub(crate) fn start(
    config: &Config,
    radius: &mut BTreeMap<RoleKey, Result<pmip_radius::RadiusHandle, String>>,
) {
    if config.is_home_agent() && config.mobile.hosts.iter().any(|h| h.aaa.is_some()) {
        let ha = pmip_node::config::home_agent(config);
        let nas_ip = ha
            .networks
            .first()
            .map_or(Ipv4Addr::UNSPECIFIED, |n| n.address);
        // The client's cache follows `aaa` / `aaa load-sa` like the engine's.
        let client = start_radius(config, nas_ip, Some(ha.aaa_cache_lifetime));
        if let Err(e) = &client {
            tracing::warn!("hosts ask for AAA associations but {e}");
        }
        radius.insert(RoleKey::HomeAgent, client);
    }
    if config.is_proxy_ap() {
        let ap = pmip_node::config::proxy_ap(config);
        if ap.aaa {
            let client = start_radius(config, ap.own_address, None);
            if let Err(e) = &client {
                tracing::warn!("associations from RADIUS asked for, but {e}");
            }
            radius.insert(RoleKey::AccessPoint, client);
        }
    }
}

/// `home`'s association from RADIUS and the server it came from
/// (unspecified when it was not cached, IOS `aaa` without `load-sa`).
pub(crate) async fn fetch_sa(
    radius: pmip_radius::RadiusHandle,
    home: Ipv4Addr,
) -> Result<(SecurityAssociation, SocketAddrV4), String> {
    let sa = radius.lookup(home).await.map_err(|e| e.to_string())?;
    let server = radius
        .source(home)
        .await
        .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    Ok((sa.to_security_association(), server))
}

/// The RADIUS client of a device whose configuration asks for it
/// (`aaa new-model`, `aaa authorization ipmobile ... group radius`,
/// `radius-server host ...`), or why there is none.
fn start_radius(
    config: &Config,
    nas_ip: Ipv4Addr,
    cache_lifetime: Option<std::time::Duration>,
) -> Result<pmip_radius::RadiusHandle, String> {
    if !config.aaa.radius_for_ipmobile() {
        return Err("no RADIUS for ipmobile (aaa new-model; aaa authorization ipmobile default group radius; radius-server host ...)".into());
    }
    let mut cfg =
        pmip_radius::ClientConfig::from_aaa(&config.aaa, nas_ip).map_err(|e| e.to_string())?;
    if let Some(l) = cache_lifetime {
        cfg.cache_lifetime = l;
    }
    let socket = pmip_platform::link::any_udp_socket().map_err(|e| e.to_string())?;
    pmip_radius::spawn_with_socket(cfg, socket).map_err(|e| e.to_string())
}
