//! Whole configurations: the Aironet documentation's walkthrough verbatim, a home agent, a
//! foreign agent, both roles in one router, an access point, and the round
//! trip through `running_config`.

use std::net::Ipv4Addr;

use pmip_config::*;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

const WALKTHROUGH: &str = include_str!("data/aironet_walkthrough.txt");
const WALKTHROUGH_PROMPTS: &str = include_str!("data/aironet_walkthrough_with_prompts.txt");
const HA: &str = include_str!("data/ha.cfg");
const FA: &str = include_str!("data/fa.cfg");
const AP: &str = include_str!("data/ap.cfg");

/// Parses, prints with keys shown, parses again: equal configurations,
/// and printing is a fixed point.
fn round_trip(c: &Config) {
    let text = c.running_config(true);
    let again = Config::parse(&text).unwrap_or_else(|e| panic!("{e}\n--- printed:\n{text}"));
    assert_eq!(&again, c, "printed:\n{text}");
    assert_eq!(again.running_config(true), text);
}

fn check_walkthrough(c: &Config) {
    let p = &c.proxy_mobile;
    assert!(p.enabled && !p.paused);
    assert_eq!(
        p.aaps,
        vec![
            AapAddress::Addr(ip("192.168.15.22")),
            AapAddress::Addr(ip("192.168.15.24")),
            AapAddress::Addr(ip("192.168.15.28")),
        ]
    );
    assert_eq!(p.nodes.len(), 1);
    let node = &p.nodes[0];
    assert_eq!(
        node.range,
        AddrRange {
            low: ip("10.91.7.151"),
            high: ip("10.91.7.176")
        }
    );
    assert_eq!(node.sa.spi, 0x102);
    assert_eq!(node.sa.key, b"0987654".to_vec());
    assert_eq!(node.sa.key_format, KeyFormat::Ascii);
    assert_eq!(node.sa.algorithm, Algorithm::KeyedMd5PrefixSuffix);
    assert_eq!(node.sa.replay, Replay::Timestamp { within: 7 });
    assert!(p.node_sa(ip("10.91.7.151")).is_some());
    assert!(p.node_sa(ip("10.91.7.176")).is_some());
    assert!(p.node_sa(ip("10.91.7.177")).is_none());

    let names: Vec<&str> = c.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["FastEthernet0", "Dot11Radio0", "BVI1"]);
    assert!(c.interfaces.iter().all(|i| i.proxy_mobile));
    let radio = c.interface("dot11radio 0").unwrap();
    assert_eq!(radio.ssids.len(), 1);
    assert_eq!(radio.ssids[0].name, "tsunami");
    assert!(radio.ssids[0].proxy_mobile);
    assert_eq!(radio.ssids[0].vlan, None);
    assert!(c.is_proxy_ap() && !c.is_home_agent() && !c.is_foreign_agent());
}

#[test]
fn walkthrough_verbatim() {
    let c = Config::parse(WALKTHROUGH).unwrap();
    check_walkthrough(&c);
    round_trip(&c);
}

#[test]
fn walkthrough_with_prompts() {
    let c = Config::parse(WALKTHROUGH_PROMPTS).unwrap();
    check_walkthrough(&c);
    assert_eq!(c, Config::parse(WALKTHROUGH).unwrap());
}

#[test]
fn walkthrough_modes_follow_the_prompts() {
    // Each prompt of the Aironet walkthrough names the mode the line before
    // it left.
    let mut c = Config::default();
    let mut mode = Mode::Global;
    let lines: Vec<&str> = WALKTHROUGH_PROMPTS.lines().collect();
    for pair in lines.windows(2) {
        let cmd = pair[0].split_once(' ').unwrap().1;
        c.apply_line(&mut mode, cmd).unwrap();
        let mut next_prompt = pair[1].split_once(' ').unwrap().0;
        if mode == Mode::Interface("BVI1".into()) && cmd == "ip proxy-mobile" {
            // The walkthrough's last prompt, `(config-if-ssid)` in BVI1, is a typo.
            next_prompt = "ap1200(config-if)#";
        }
        assert_eq!(mode.prompt("ap1200"), next_prompt, "after {cmd:?}");
    }
}

#[test]
fn walkthrough_printed() {
    let c = Config::parse(WALKTHROUGH).unwrap();
    let shown = c.running_config(true);
    assert!(
        shown.contains(
            "ip proxy-mobile secure node 10.91.7.151 10.91.7.176 spi 102 key ascii 0987654\n"
        ),
        "{shown}"
    );
    assert!(shown.contains("ip proxy-mobile aap 192.168.15.22 192.168.15.24 192.168.15.28\n"));
    assert!(shown.contains(
        "interface Dot11Radio0\n ip proxy-mobile\n ssid tsunami\n  ip proxy-mobile\n!\n"
    ));
    let masked = c.running_config(false);
    assert!(masked.contains("spi 102 key ascii ********\n"), "{masked}");
    assert!(!masked.contains("0987654"));
    assert_eq!(format!("{c}"), masked);
}

#[test]
fn home_agent() {
    let c = Config::parse(HA).unwrap();
    assert_eq!(c.hostname.as_deref(), Some("ha1"));
    assert!(c.is_home_agent() && !c.is_foreign_agent() && !c.is_proxy_ap());
    let fa0 = c.interface("fa0").unwrap();
    assert_eq!(fa0.description.as_deref(), Some("home link"));
    assert_eq!(
        fa0.address,
        Some(InterfaceAddress {
            address: ip("10.91.7.1"),
            mask: ip("255.255.255.0")
        })
    );
    assert!(fa0.irdp.enabled);
    assert_eq!(fa0.irdp.max_advert_interval(), 10);
    assert_eq!(fa0.irdp.min_advert_interval(), 7);
    assert_eq!(fa0.irdp.holdtime(), 30);
    let ha = c.mobile.home_agent.as_ref().unwrap();
    assert_eq!((ha.lifetime, ha.reverse_tunnel_off), (600, true));
    let host = c.mobile.host(ip("10.91.7.150")).unwrap();
    assert_eq!(host.interface.as_deref(), Some("FastEthernet0"));
    let sa = c.mobile.sa(SaPeer::Host, ip("10.91.7.150")).unwrap();
    assert_eq!(sa.spi, 0x100);
    assert_eq!(sa.key, (0..16).map(|i| i * 0x11).collect::<Vec<u8>>());
    assert_eq!(sa.algorithm, Algorithm::HmacMd5);
    let sa2 = c.mobile.sa(SaPeer::Host, ip("10.91.7.200")).unwrap();
    assert_eq!((sa2.spi, sa2.key.as_slice()), (0x101, &b"secret"[..]));
    assert_eq!(sa2.algorithm, Algorithm::KeyedMd5PrefixSuffix);
    assert!(c.mobile.sa(SaPeer::ForeignAgent, ip("192.0.2.2")).is_some());
    assert!(c.mobile.sa(SaPeer::Host, ip("192.0.2.2")).is_none());
    assert!(c.mobile.bindupdate && c.mobile.bindupdate_ack);
    assert_eq!(
        c.routes,
        vec![StaticRoute {
            prefix: ip("198.51.100.0"),
            mask: ip("255.255.255.0"),
            interface: None,
            next_hop: Some(ip("192.0.2.2")),
        }]
    );
    // A home agent that is no foreign agent sends no advertisements.
    assert_eq!(
        c.warnings(),
        [
            "FastEthernet0: `ip irdp` without `ip mobile foreign-service` sends no advertisements \
          (pmip advertises as a foreign agent only)"
        ]
    );
    round_trip(&c);
    let masked = c.running_config(false);
    assert!(masked.contains(
        "ip mobile secure host 10.91.7.100 10.91.7.199 spi 100 key hex ******** algorithm hmac-md5 replay timestamp within 7\n"
    ), "{masked}");
    assert!(!masked.contains("00112233"));
}

#[test]
fn foreign_agent() {
    let c = Config::parse(FA).unwrap();
    assert!(c.is_foreign_agent() && !c.is_home_agent());
    let fa0 = c.interface("FastEthernet0").unwrap();
    assert_eq!(fa0.irdp.min_advert_interval(), 5);
    assert_eq!(fa0.irdp.holdtime(), 30);
    assert_eq!(fa0.registration_lifetime(), 600);
    assert_eq!(fa0.prefix_length, Some(true));
    assert!(fa0.prefix_length());
    let fs = fa0.foreign_service.as_ref().unwrap();
    assert!(fs.registration_required && fs.reverse_tunnel && !fs.reverse_tunnel_mandatory);
    assert_eq!(fs.home_access.as_deref(), Some("10"));
    let acl = c.home_access(fa0).unwrap();
    assert_eq!(acl.number, 10);
    assert_eq!(acl.entries.len(), 3);
    assert!(!acl.permits(ip("192.0.2.9")), "the deny comes first");
    assert!(acl.permits(ip("192.0.2.1")));
    assert!(!acl.permits(ip("192.0.3.1")), "implicit deny at the end");
    let fa = c.mobile.foreign_agent.as_ref().unwrap();
    assert_eq!(fa.care_of, vec!["FastEthernet0".to_string()]);
    assert_eq!(fa.reg_wait, 20);
    assert!(c.mobile.sa(SaPeer::HomeAgent, ip("192.0.2.1")).is_some());
    assert_eq!(
        c.mobile.sa(SaPeer::Visitor, ip("10.91.7.120")).unwrap().key,
        b"visitors".to_vec()
    );
    assert_eq!(c.interface("eth1").unwrap().registration_lifetime(), 36000);
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    round_trip(&c);
}

#[test]
fn both_roles_in_one_router() {
    let text = "hostname hafa\n\
        interface FastEthernet0\n ip address 10.1.0.1 255.255.255.0\n ip irdp\n\
        ip mobile foreign-service reverse-tunnel\n\
        interface FastEthernet1\n ip address 10.2.0.1 255.255.255.0\n\
        router mobile\n\
        ip mobile home-agent\n\
        ip mobile host 10.2.0.10 10.2.0.50 interface fa1\n\
        ip mobile secure host 10.2.0.10 10.2.0.50 spi 1000 key hex 0123456789abcdef0123456789abcdef\n\
        ip mobile foreign-agent care-of fastethernet 0\n\
        ip mobile secure visitor 10.9.0.1 10.9.0.9 spi 1001 key ascii v\n";
    let c = Config::parse(text).unwrap();
    assert!(c.is_home_agent() && c.is_foreign_agent());
    let ha = c.mobile.home_agent.as_ref().unwrap();
    assert_eq!((ha.lifetime, ha.reverse_tunnel_off), (36000, false));
    assert_eq!(c.mobile.foreign_agent.as_ref().unwrap().reg_wait, 15);
    assert_eq!(
        c.mobile.hosts[0].interface.as_deref(),
        Some("FastEthernet1")
    );
    assert_eq!(c.mobile.secure.len(), 2);
    round_trip(&c);
}

#[test]
fn access_point() {
    let c = Config::parse(AP).unwrap();
    assert!(c.is_proxy_ap());
    assert_eq!(c.default_gateway, Some(ip("198.51.100.1")));
    assert_eq!(c.proxy_mobile.aaps[1], AapAddress::Name("aap2".into()));
    let sa = c.proxy_mobile.node_sa(ip("10.91.8.1")).unwrap();
    assert_eq!(sa.spi, 0x1f0);
    assert_eq!(sa.key, (0u8..16).collect::<Vec<u8>>());
    assert_eq!(sa.algorithm, Algorithm::HmacMd5);
    assert!(c.proxy_mobile.tunnel_gre && c.proxy_mobile.tunnel_reverse);
    let radio = c.interface("Dot11Radio0").unwrap();
    assert_eq!(radio.station_role, Some(StationRole::Root));
    assert_eq!(radio.ssid("guests").unwrap().vlan, None);
    assert!(!radio.ssid("guests").unwrap().proxy_mobile);
    let a = &c.aaa;
    assert!(a.new_model && a.radius_for_ipmobile());
    assert_eq!(a.radius_servers.len(), 2);
    assert_eq!(a.radius_servers[0].auth_port, 1812);
    assert_eq!(a.radius_servers[0].acct_port, 1813);
    assert_eq!(
        a.radius_servers[0].key.as_deref(),
        Some("s3cret with spaces")
    );
    assert_eq!(a.radius_servers[1].auth_port, 1645);
    assert_eq!(a.radius_timeout(), 3);
    assert_eq!(a.radius_retransmit(), 2);
    assert_eq!(
        c.warnings(),
        [
            "`ip proxy-mobile aap aap2`: host names are not resolved (no DNS here), so the exchange \
             uses only the AAPs given by address",
            "radius-server host 198.51.100.5: `acct-port` has no effect: pmip sends no RADIUS accounting",
        ]
    );
    round_trip(&c);
    let masked = c.running_config(false);
    assert!(!masked.contains("s3cret"), "{masked}");
    assert!(
        masked
            .contains("radius-server host 198.51.100.5 auth-port 1812 acct-port 1813 key ********")
    );
}

#[test]
fn all_configs_together_round_trip() {
    // Every command family in one configuration.
    let text = format!("{HA}\n{FA}\n{AP}");
    let (c, errors) = Config::parse_all(&text);
    // The FA's `ip mobile secure home-agent 192.0.2.1` and the HA's
    // interfaces coexist; nothing in the three overlaps except hostname.
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(c.hostname.as_deref(), Some("ap1"));
    round_trip(&c);
}

#[test]
fn running_config_layout() {
    let c = Config::parse(HA).unwrap();
    let text = c.running_config(true);
    let expected = "\
hostname ha1
!
interface FastEthernet0
 description home link
 ip address 10.91.7.1 255.255.255.0
 ip irdp
 ip irdp maxadvertinterval 10
!
interface eth1
 description routed core
 ip address 192.0.2.1 255.255.255.252
!
router mobile
!
ip route 198.51.100.0 255.255.255.0 192.0.2.2
ip mobile home-agent lifetime 600 reverse-tunnel-off
ip mobile host 10.91.7.100 10.91.7.199 interface FastEthernet0
ip mobile secure host 10.91.7.100 10.91.7.199 spi 100 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5 replay timestamp within 7
ip mobile secure host 10.91.7.200 spi 101 key ascii secret algorithm md5 mode prefix-suffix replay timestamp within 7
ip mobile secure foreign-agent 192.0.2.2 spi 200 key hex 0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f algorithm md5 mode prefix-suffix replay timestamp within 7
ip mobile bindupdate
ip mobile bindupdate ack
end
";
    assert_eq!(text, expected);
}

#[test]
fn masked_running_config_does_not_load() {
    let c = Config::parse(AP).unwrap();
    let err = Config::parse(&c.running_config(false)).unwrap_err();
    assert!(err.reason.contains("the key is masked"), "{err}");
}

#[test]
fn warnings_name_what_a_device_needs() {
    let c = Config::parse(WALKTHROUGH).unwrap();
    let w = c.warnings().join("\n");
    assert!(w.contains("ip default-gateway"), "{w}");
    let c =
        Config::parse("ip mobile home-agent\nip mobile host 10.0.0.1 interface eth9\n").unwrap();
    let w = c.warnings().join("\n");
    assert!(w.contains("without `router mobile`"), "{w}");
    assert!(w.contains("eth9, which is not configured"), "{w}");
    let c = Config::parse("interface GigabitEthernet0/1\n").unwrap();
    assert!(c.warnings()[0].contains("not a valid Linux interface name"));
}

/// Lines that parse but do nothing in the configuration around them are
/// named, so none is ignored in silence.
#[test]
fn warnings_name_lines_without_effect() {
    let c = Config::parse(
        "interface fa0\n ip irdp\n ip mobile registration-lifetime 600\n ip mobile prefix-length\n\
         interface fa1\n ip irdp\n ip mobile foreign-service\n\
         interface fa2\n\
         router mobile\n\
         ip mobile foreign-agent\n\
         ip mobile host 10.9.0.1 interface fa2\n\
         ip mobile secure visitor 10.9.0.1 spi 100 key ascii k\n\
         ip proxy-mobile secure node 10.9.0.1 spi 100 key ascii k\n",
    )
    .unwrap();
    let w = c.warnings().join("\n");
    for expected in [
        "FastEthernet0: `ip irdp` without `ip mobile foreign-service` sends no advertisements",
        "FastEthernet0: `ip mobile registration-lifetime` has no effect without `ip mobile foreign-service`",
        "FastEthernet0: `ip mobile prefix-length` has no effect without `ip mobile foreign-service`",
        "FastEthernet1: `ip mobile foreign-service` without `ip address` offers no foreign agent service",
        "`ip mobile foreign-agent` without `care-of INTERFACE`",
        "`ip mobile host 10.9.0.1` names interface FastEthernet2, which has no `ip address`",
        "`ip mobile host` and `ip mobile secure host|foreign-agent` have no effect without `ip mobile home-agent`",
        "`ip proxy-mobile ...` lines have no effect without `ip proxy-mobile enable`",
    ] {
        assert!(w.contains(expected), "lacks {expected:?}:\n{w}");
    }
    let c = Config::parse(
        "interface fa1\n ip address 10.0.0.1 255.0.0.0\n ip irdp\n ip mobile foreign-service\n",
    )
    .unwrap();
    assert_eq!(
        c.warnings(),
        [
            "FastEthernet1: `ip mobile foreign-service` needs `router mobile` and `ip mobile foreign-agent` to serve visitors"
        ]
    );
    let c = Config::parse(
        "interface fa0\n ip address 10.1.0.1 255.255.255.0\n ip irdp\n ip mobile foreign-service\n \
         no ip mobile prefix-length\nrouter mobile\nip mobile home-agent\nip mobile foreign-agent care-of fa0\n\
         ip mobile host 10.1.0.10 10.1.0.99 interface fa0\n",
    )
    .unwrap();
    assert_eq!(
        c.warnings(),
        [
            "FastEthernet0: `no ip mobile prefix-length`: the access points on this home link cannot learn \
          their home agent's subnet from its advertisements (RFC 5944 2.1.2)"
        ]
    );
    let c = Config::parse("ip mobile secure home-agent 10.0.0.1 spi 100 key ascii k\n").unwrap();
    assert!(
        c.warnings()[0].contains(
            "`ip mobile secure visitor|home-agent` have no effect without `ip mobile foreign-agent`"
        ),
        "{:?}",
        c.warnings()
    );
}

/// A home agent with 100 000 `ip mobile secure host` lines and an AP with
/// 100 000 `ip proxy-mobile secure node` lines: each line's overlap check
/// is a lookup in an index, so loading stays linear (printed, not timed
/// by an assertion), and the last line still meets every earlier one.
#[test]
fn a_hundred_thousand_security_associations_load_in_linear_time() {
    const N: u32 = 100_000;
    let addr = |i: u32| Ipv4Addr::from(u32::from(ip("10.1.1.0")) + i);
    let key = "key hex 0123456789abcdef0123456789abcdef";
    let mut ha = String::from("hostname r1\nrouter mobile\nip mobile home-agent\n");
    let mut ap = String::from("hostname ap1\n");
    for i in 0..N {
        ha.push_str(&format!(
            "ip mobile secure host {} spi 100 {key}\n",
            addr(i)
        ));
        ap.push_str(&format!(
            "ip proxy-mobile secure node {} spi 100 {key}\n",
            addr(i)
        ));
    }
    for (name, text, peer_line) in [
        ("ip mobile secure host", &ha, "ip mobile secure host"),
        (
            "ip proxy-mobile secure node",
            &ap,
            "ip proxy-mobile secure node",
        ),
    ] {
        let start = std::time::Instant::now();
        let mut c = Config::parse(text).unwrap();
        let took = start.elapsed();
        println!("{N} `{name}` lines parsed in {took:?}");
        // Overlaps with the first, a middle and the last entry are refused.
        for low in [0, N / 2, N - 1] {
            let line = format!("{peer_line} {} {} spi 101 {key}", addr(low), addr(low + 1));
            let e = c
                .apply_line(&mut Mode::Global, &line)
                .expect_err("an overlapping range is refused");
            assert!(e.to_string().contains("overlaps"), "{e}");
        }
        // A range beyond the last entry is taken.
        c.apply_line(
            &mut Mode::Global,
            &format!("{peer_line} {} {} spi 102 {key}", addr(N), addr(N + 9)),
        )
        .unwrap();
    }
    let ha = Config::parse(&ha).unwrap();
    assert_eq!(ha.mobile.secure.len(), N as usize);
    let sa = ha.mobile.sa(SaPeer::Host, addr(N / 3)).unwrap();
    assert_eq!(sa.spi, 0x100, "IOS gives the SPI in hexadecimal");
    assert!(ha.mobile.sa(SaPeer::Host, addr(N)).is_none());
    assert!(ha.mobile.sa(SaPeer::Visitor, addr(0)).is_none());
    let ap = Config::parse(&ap).unwrap();
    assert!(ap.proxy_mobile.node_sa(addr(N - 1)).is_some());
}

/// `ip address dhcp` on BVI1, as Aironet APs ship: printed in place of a
/// static address, round-trips, and a static address replaces it (and
/// the other way round), as in IOS.
#[test]
fn bvi1_address_by_dhcp() {
    let text = AP.replace(
        " ip address 198.51.100.10 255.255.255.0\n",
        " ip address dhcp\n",
    );
    assert_ne!(text, AP, "the AP example's BVI1 address moved");
    let c = Config::parse(&text).unwrap();
    let bvi = c.interface("BVI1").unwrap();
    assert!(bvi.dhcp && bvi.address.is_none());
    let printed = c.running_config(true);
    assert!(
        printed.contains("interface BVI1\n ip address dhcp\n"),
        "{printed}"
    );
    round_trip(&c);
    // With DHCP the lease's router option is the gateway: no warning
    // asks for `ip default-gateway`.
    let no_gw = text.replace("ip default-gateway 198.51.100.1\n", "");
    let c2 = Config::parse(&no_gw).unwrap();
    assert!(c2.default_gateway.is_none());
    assert!(
        !c2.warnings()
            .iter()
            .any(|w| w.contains("ip default-gateway")),
        "{:?}",
        c2.warnings()
    );
    round_trip(&c2);
    // A static address replaces DHCP and DHCP replaces a static address.
    let mut c3 = c.clone();
    let mut mode = Mode::Global;
    c3.apply_line(&mut mode, "interface bvi1").unwrap();
    c3.apply_line(&mut mode, "ip address 10.0.0.2 255.255.255.0")
        .unwrap();
    let bvi = c3.interface("BVI1").unwrap();
    assert!(!bvi.dhcp && bvi.address.is_some());
    c3.apply_line(&mut mode, "ip address dhcp").unwrap();
    let bvi = c3.interface("BVI1").unwrap();
    assert!(bvi.dhcp && bvi.address.is_none());
    assert_eq!(c3, c);
    c3.apply_line(&mut mode, "no ip address dhcp").unwrap();
    assert!(!c3.interface("BVI1").unwrap().dhcp);
    c3.apply_line(&mut mode, "ip address dhcp").unwrap();
    c3.apply_line(&mut mode, "no ip address").unwrap();
    assert!(!c3.interface("BVI1").unwrap().dhcp);
}
