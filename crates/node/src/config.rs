//! The engines' configurations, derived from the device's IOS
//! configuration (docs/operator-interface.md): what each role is told,
//! decided once here so the daemon never interprets configuration lines.

use pmip_config::{AapAddress, Config, SaPeer};
use pmip_engine::foreign_agent::{
    AccessEntry, AccessList, ForeignAgentConfig, ServiceInterface, ServiceOptions,
};
use pmip_engine::home_agent::{BindUpdatePolicy, HomeAgentConfig, HomeNetwork, MobileHost};
use pmip_engine::host_range::HostRanges;
use pmip_engine::proxy_ap::ProxyApConfig;
use pmip_engine::security::SecurityAssociation;
use pmip_engine::subnet_exchange::SubnetExchangeConfig;
use pmip_engine::subnet_map::{SubnetEntry, SubnetMap};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

/// The AP's bridge virtual interface (docs/radio.md).
pub const BRIDGE: &str = "BVI1";
/// The AP's wired port, enslaved to [`BRIDGE`].
pub const WIRED: &str = "FastEthernet0";

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

/// The home agent engine's configuration.
pub fn home_agent(config: &Config) -> HomeAgentConfig {
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

pub fn foreign_agent(config: &Config) -> ForeignAgentConfig {
    let fa = config.mobile.foreign_agent.clone().unwrap_or_default();
    let ha = home_agent(config);
    let care_of_address = fa
        .care_of
        .iter()
        .find_map(|n| {
            config
                .interface(n)
                .and_then(|i| i.address.as_ref())
                .map(|a| a.address)
        })
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let interfaces = config
        .interfaces
        .iter()
        .filter_map(|i| {
            let fs = i.foreign_service.as_ref()?;
            let a = i.address.as_ref()?;
            let irdp = &i.irdp;
            Some(ServiceInterface {
                name: i.name.clone(),
                address: a.address,
                prefix_len: a.prefix_len(),
                registration_lifetime: i.registration_lifetime().min(u32::from(u16::MAX)) as u16,
                registration_required: fs.registration_required,
                reverse_tunnel: fs.reverse_tunnel,
                reverse_tunnel_mandatory: fs.reverse_tunnel_mandatory,
                advertise: irdp.enabled,
                min_advert_interval: Duration::from_secs(u64::from(irdp.min_advert_interval())),
                max_advert_interval: Duration::from_secs(u64::from(irdp.max_advert_interval())),
                holdtime: irdp.holdtime().min(u32::from(u16::MAX)) as u16,
                home_agent: config.is_home_agent()
                    && ha.networks.iter().any(|n| n.interface == i.name),
                visitor_limit: fs.limit.map(|l| l as usize),
            })
        })
        .collect();
    // What each service interface advertises and whom its visitors may
    // register with (`ip irdp multicast|preference`, `ip mobile
    // prefix-length`, `home-access`).
    let options = config
        .interfaces
        .iter()
        .filter(|i| i.foreign_service.is_some())
        .map(|i| {
            let options = ServiceOptions {
                multicast: i.irdp.multicast,
                preference: i.irdp.preference(),
                prefix_lengths: i.prefix_length(),
                home_access: config.home_access(i).map(access_list),
            };
            (i.name.clone(), options)
        })
        .collect();
    let mut home_agent_sas = HashMap::new();
    let mut visitor_sas = HostRanges::new();
    for e in &config.mobile.secure {
        match e.peer {
            SaPeer::HomeAgent => {
                let (lo, hi) = (u32::from(e.range.low), u32::from(e.range.high));
                for a in lo..=hi.min(lo.saturating_add(1023)) {
                    home_agent_sas.insert(Ipv4Addr::from(a), security_association(&e.sa));
                }
            }
            SaPeer::Visitor => {
                let _ = visitor_sas.insert(e.range.low, e.range.high, security_association(&e.sa));
            }
            _ => {}
        }
    }
    ForeignAgentConfig {
        interfaces,
        care_of_address,
        reg_wait: Duration::from_secs(u64::from(fa.reg_wait)),
        home_agent_sas,
        visitor_sas,
        bind_update: config.mobile.bindupdate,
        max_pending: 4096,
        options,
    }
}

/// A standard access list as the foreign agent engine applies it (the
/// remarks left out; the order and the implicit deny kept).
fn access_list(list: &pmip_config::AccessList) -> AccessList {
    AccessList {
        entries: list
            .entries
            .iter()
            .filter_map(|e| {
                let (permit, source) = match e {
                    pmip_config::AclEntry::Permit(s) => (true, s),
                    pmip_config::AclEntry::Deny(s) => (false, s),
                    pmip_config::AclEntry::Remark(_) => return None,
                };
                Some(AccessEntry {
                    permit,
                    address: source.address,
                    wildcard: source.wildcard,
                })
            })
            .collect(),
    }
}

pub fn proxy_ap(config: &Config) -> ProxyApConfig {
    let bvi = config.interface(BRIDGE).and_then(|i| i.address);
    let mut nodes = HostRanges::new();
    for n in &config.proxy_mobile.nodes {
        let _ = nodes.insert(n.range.low, n.range.high, security_association(&n.sa));
    }
    // An SSID is proxied when its radio has `ip proxy-mobile` too.
    let proxy_ssids = config
        .interfaces
        .iter()
        .filter(|i| i.is_radio() && i.proxy_mobile)
        .flat_map(|i| i.ssids.iter())
        .filter(|s| s.proxy_mobile && s.vlan.is_none())
        .map(|s| s.name.clone())
        .collect();
    ProxyApConfig {
        own_address: bvi.map_or(Ipv4Addr::UNSPECIFIED, |a| a.address),
        own_prefix_len: bvi.map_or(32, |a| a.prefix_len()),
        paused: config.proxy_mobile.paused
            || !config.proxy_mobile.enabled
            || proxy_inactive(config).is_some(),
        proxy_ssids,
        nodes,
        tunnel_gre: config.proxy_mobile.tunnel_gre,
        tunnel_reverse: config.proxy_mobile.tunnel_reverse,
        aaa: config.aaa.radius_for_ipmobile(),
        ..Default::default()
    }
}

/// Why proxy Mobile IP, though enabled, does nothing: it must be on on
/// the wired port and the BVI as well as on a radio and its SSIDs (the
/// Aironet configuration enables it on every interface).
pub fn proxy_inactive(config: &Config) -> Option<String> {
    let missing: Vec<&str> = [WIRED, BRIDGE]
        .into_iter()
        .filter(|n| !config.interface(n).is_some_and(|i| i.proxy_mobile))
        .collect();
    if !missing.is_empty() {
        return Some(format!("no `ip proxy-mobile` on {}", missing.join(" and ")));
    }
    let radios = config.interfaces.iter().filter(|i| i.is_radio());
    if !radios.clone().any(|i| i.proxy_mobile) {
        return Some("no radio interface has `ip proxy-mobile`".into());
    }
    if !radios
        .filter(|i| i.proxy_mobile)
        .any(|i| i.ssids.iter().any(|s| s.proxy_mobile && s.vlan.is_none()))
    {
        return Some("no SSID of a proxy radio has `ip proxy-mobile`".into());
    }
    None
}

/// The subnet map from `ip proxy-mobile subnet-map` lines.
pub fn static_subnet_map(config: &Config) -> SubnetMap {
    let mut m = SubnetMap::new();
    for (ha, mask) in &config.proxy_mobile.subnet_map {
        m.insert(SubnetEntry {
            home_agent: *ha,
            prefix_len: u32::from(*mask).leading_ones() as u8,
        });
    }
    m
}

/// The exchange's configuration from the AP's, when it runs at all: it
/// needs `ip proxy-mobile aap` with addresses and `ip proxy-mobile aap
/// key` (every message is authenticated; there is no unauthenticated
/// mode). The reason otherwise, for the log and `show`.
pub fn subnet_exchange(config: &Config, own: Ipv4Addr) -> Result<SubnetExchangeConfig, String> {
    let p = &config.proxy_mobile;
    let aaps: Vec<Ipv4Addr> = p
        .aaps
        .iter()
        .filter_map(|a| match a {
            AapAddress::Addr(a) => Some(*a),
            AapAddress::Name(_) => None,
        })
        .collect();
    if p.aaps.iter().any(|a| matches!(a, AapAddress::Name(_))) {
        tracing::warn!("AAPs given by host name are not resolved (no DNS here); use addresses");
    }
    if aaps.is_empty() {
        return Err("no AAP address configured (ip proxy-mobile aap A [B [C]])".into());
    }
    // Without `ip proxy-mobile aap key` (the Aironet configuration has no
    // such line) the exchange still runs, under a well-known key that
    // only guards against corruption; the node then admits tables only
    // from the configured AAPs and joins only from APs inside the subnets
    // they report (docs/subnet-map-exchange.md).
    let key = match &p.aap_key {
        Some((key, _)) => key.clone(),
        None => UNAUTHENTICATED_KEY.to_vec(),
    };
    Ok(SubnetExchangeConfig {
        own_address: own,
        aaps,
        key,
        ..Default::default()
    })
}

/// The exchange's key when the operator configured none: public, so the
/// exchange is unauthenticated.
pub const UNAUTHENTICATED_KEY: &[u8] = b"pmip subnet map exchange, unauthenticated";

/// The AP's subnet map: the learnt table, then the operator's static
/// `ip proxy-mobile subnet-map` entries over it.
pub fn merged_map(learnt: SubnetMap, static_map: &SubnetMap) -> SubnetMap {
    let mut m = learnt;
    for e in static_map.entries() {
        m.insert(*e);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every interface line the foreign agent acts on reaches its engine:
    /// `ip irdp multicast|preference`, `no ip mobile prefix-length` and
    /// `home-access` with its list in order (remarks left out).
    #[test]
    fn service_options_from_the_configuration() {
        let config: Config =
            "interface FastEthernet0\n ip address 10.2.0.1 255.255.255.0\n ip irdp\n \
             ip irdp multicast\n ip irdp preference 5\n no ip mobile prefix-length\n \
             ip mobile foreign-service home-access 10\n\
             interface FastEthernet1\n ip address 10.3.0.1 255.255.255.0\n ip irdp\n \
             ip mobile foreign-service home-access 11\n\
             router mobile\nip mobile foreign-agent care-of FastEthernet0\n\
             access-list 10 remark campus home agents\naccess-list 10 deny 10.1.0.9\n\
             access-list 10 permit 10.1.0.0 0.0.255.255\n"
                .parse()
                .unwrap();
        let fa = foreign_agent(&config);
        let o = &fa.options["FastEthernet0"];
        assert!(o.multicast && !o.prefix_lengths);
        assert_eq!(o.preference, 5);
        let acl = o.home_access.as_ref().unwrap();
        assert_eq!(acl.entries.len(), 2);
        assert!(!acl.entries[0].permit && acl.entries[1].permit);
        assert!(acl.permits("10.1.0.1".parse().unwrap()));
        assert!(!acl.permits("10.1.0.9".parse().unwrap()));
        assert!(!acl.permits("10.2.0.1".parse().unwrap()));
        // List 11 does not exist: every home agent (IOS), with a warning.
        let o = &fa.options["FastEthernet1"];
        assert_eq!(o, &ServiceOptions::default());
        assert!(
            config
                .warnings()
                .iter()
                .any(|w| w.contains("home-access 11"))
        );
    }
}
