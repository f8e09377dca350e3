//! The devices' own IOS configurations, generated from the topology and
//! written next to it, so a user can read them and run the same device by
//! hand with `pmip run FILE`.

use crate::topology::{Subnet, SubnetMapSource, Topology, Tunnel};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// The RADIUS server of an `aaa radius` campus, behind the core router.
pub const RADIUS_SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
pub const RADIUS_CORE: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const RADIUS_SECRET: &str = "campus-radius";

/// IOS AAA lines: the SAs come from RADIUS (the Aironet documentation: "specified
/// externally on the RADIUS server").
fn aaa_lines(c: &mut String) {
    let _ = writeln!(c, "aaa new-model");
    let _ = writeln!(c, "aaa authorization ipmobile default group radius");
    let _ = writeln!(
        c,
        "radius-server host {RADIUS_SERVER} auth-port 1812 key {RADIUS_SECRET}"
    );
    let _ = writeln!(c, "radius-server timeout 2");
    let _ = writeln!(c, "radius-server retransmit 2");
}

/// FreeRADIUS's users file: every client with a static address gets its
/// SA as the Cisco-AVPair IOS reads (SPI in hex, as `ip mobile secure`).
pub fn radius_users(t: &Topology) -> String {
    let mut u = String::new();
    for c in t.clients.iter().filter(|c| !c.aaa_unknown) {
        let _ = writeln!(
            u,
            "{} Cleartext-Password := \"cisco\"\n        Cisco-AVPair = \"mobileip:spi#0=spi 100 key ascii {} algorithm md5 mode prefix-suffix replay timestamp within 7\"\n",
            c.address, t.key
        );
    }
    u.push_str("DEFAULT Auth-Type := Reject\n");
    u
}

/// The core-facing /30 of subnet number `k` (0-based position): the core
/// router's end and the subnet router's end.
pub fn core_link(k: usize) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(192, 0, 2, 0)) + 4 * k as u32;
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}

/// The subnet's router: home agent for its own clients, foreign agent for
/// visitors, advertising on its AP-facing interface.
pub fn router(t: &Topology, k: usize, s: &Subnet) -> String {
    let (core, own) = core_link(k);
    let (lo, hi) = s.host_range();
    let mut c = String::new();
    let _ = writeln!(c, "hostname {}", s.router());
    let _ = writeln!(c, "!");
    let _ = writeln!(c, "interface FastEthernet0");
    let _ = writeln!(c, " description to {} (the subnet's AP)", s.ap());
    let _ = writeln!(c, " ip address {} {}", s.router_address(), s.mask());
    // RFC 1256 lower bound for MaxAdvertisementInterval is 4 s; the AP
    // also solicits when it needs an agent, so this only bounds boot.
    let _ = writeln!(c, " ip irdp");
    let _ = writeln!(c, " ip irdp maxadvertinterval 4");
    let _ = writeln!(c, " ip irdp minadvertinterval 3");
    let _ = writeln!(c, " ip irdp holdtime 12");
    if t.reverse_tunnel {
        let _ = writeln!(c, " ip mobile foreign-service reverse-tunnel");
    } else {
        let _ = writeln!(c, " ip mobile foreign-service");
    }
    let _ = writeln!(c, "!");
    let _ = writeln!(c, "interface eth0");
    let _ = writeln!(c, " description to the core router");
    let _ = writeln!(c, " ip address {own} 255.255.255.252");
    let _ = writeln!(c, "!");
    let _ = writeln!(c, "ip route 0.0.0.0 0.0.0.0 {core}");
    let _ = writeln!(c, "router mobile");
    let _ = writeln!(c, "ip mobile home-agent lifetime 600");
    if t.radius {
        // `load-sa`: keep each association once fetched (IOS).
        let _ = writeln!(
            c,
            "ip mobile host {lo} {hi} interface FastEthernet0 aaa load-sa"
        );
        aaa_lines(&mut c);
    } else {
        let _ = writeln!(c, "ip mobile host {lo} {hi} interface FastEthernet0");
        let _ = writeln!(
            c,
            "ip mobile secure host {lo} {hi} spi 100 key ascii {}",
            t.key
        );
    }
    let _ = writeln!(c, "ip mobile foreign-agent care-of FastEthernet0");
    c
}

/// The subnet's access point: radio side bridged with the wired side in
/// BVI1, proxy Mobile IP on, the SAs of every client range.
pub fn access_point(t: &Topology, s: &Subnet) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "hostname {}", s.ap());
    let _ = writeln!(c, "!");
    let _ = writeln!(c, "interface FastEthernet0");
    let _ = writeln!(c, " ip proxy-mobile");
    let _ = writeln!(c, "interface Dot11Radio0");
    let _ = writeln!(c, " ip proxy-mobile");
    let _ = writeln!(c, " ssid {}", t.ssid);
    let _ = writeln!(c, "  ip proxy-mobile");
    let _ = writeln!(c, "interface BVI1");
    let _ = writeln!(c, " ip address {} {}", s.ap_address(), s.mask());
    let _ = writeln!(c, " ip proxy-mobile");
    let _ = writeln!(c, "!");
    let _ = writeln!(c, "ip default-gateway {}", s.router_address());
    let _ = writeln!(c, "ip proxy-mobile enable");
    let aaps: Vec<String> = t
        .subnets
        .iter()
        .filter(|s| s.aap)
        .map(|s| s.ap_address().to_string())
        .collect();
    if !aaps.is_empty() {
        let _ = writeln!(c, "ip proxy-mobile aap {}", aaps.join(" "));
        if let Some(key) = &t.aap_key {
            let _ = writeln!(c, "ip proxy-mobile aap key ascii {key}");
        }
    }
    match t.tunnel {
        Tunnel::Ipip => {}
        Tunnel::Gre => {
            let _ = writeln!(c, "ip proxy-mobile tunnel gre");
        }
    }
    if t.reverse_tunnel {
        let _ = writeln!(c, "ip proxy-mobile tunnel reverse");
    }
    if t.radius {
        aaa_lines(&mut c);
    } else {
        for n in &t.subnets {
            let (lo, hi) = n.host_range();
            let _ = writeln!(
                c,
                "ip proxy-mobile secure node {lo} {hi} spi 100 key ascii {}",
                t.key
            );
        }
    }
    if t.subnet_map == SubnetMapSource::Static {
        for n in &t.subnets {
            let _ = writeln!(
                c,
                "ip proxy-mobile subnet-map {} {}",
                n.router_address(),
                n.mask()
            );
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated files are valid configurations for the devices.
    #[test]
    fn generated_configs_parse() {
        for text in [
            crate::topology::DEFAULT.to_owned(),
            crate::topology::DEFAULT
                .replace("tunnel ipip", "tunnel gre")
                .replace("reverse-tunnel off", "reverse-tunnel on"),
        ] {
            let t = Topology::parse(&text).unwrap();
            for (k, s) in t.subnets.iter().enumerate() {
                let r = pmip_config::Config::parse(&router(&t, k, s)).unwrap();
                assert!(!r.mobile.hosts.is_empty());
                let a = pmip_config::Config::parse(&access_point(&t, s)).unwrap();
                assert!(a.proxy_mobile.enabled);
                assert_eq!(a.proxy_mobile.aaps.len(), 2);
            }
        }
    }
}
