//! Every accepted command and its `no` form, and the mode rules.

use std::net::Ipv4Addr;

use pmip_config::*;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn parse(text: &str) -> Config {
    Config::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

/// Applies `lines` one by one from global mode; returns config and mode.
fn session(lines: &[&str]) -> (Config, Mode) {
    let mut c = Config::default();
    let mut mode = Mode::Global;
    for l in lines {
        c.apply_line(&mut mode, l).unwrap_or_else(|e| panic!("{e}"));
    }
    (c, mode)
}

// ---------------------------------------------------------------- modes

#[test]
fn exit_end_and_interface_switch() {
    let (_, m) = session(&["interface dot11radio 0", "ssid a"]);
    assert_eq!(
        m,
        Mode::Ssid {
            interface: "Dot11Radio0".into(),
            ssid: "a".into()
        }
    );
    let (_, m) = session(&["interface dot11radio 0", "ssid a", "exit"]);
    assert_eq!(m, Mode::Interface("Dot11Radio0".into()));
    let (_, m) = session(&["interface dot11radio 0", "ssid a", "exit", "exit"]);
    assert_eq!(m, Mode::Global);
    let (_, m) = session(&["interface dot11radio 0", "ssid a", "end"]);
    assert_eq!(m, Mode::Global);
    let (_, m) = session(&["interface dot11radio 0", "ssid a", "interface bvi 1"]);
    assert_eq!(m, Mode::Interface("BVI1".into()));
    let (_, m) = session(&["router mobile"]);
    assert_eq!(m, Mode::RouterMobile);
    let (_, m) = session(&["router mobile", "exit"]);
    assert_eq!(m, Mode::Global);
    let (_, m) = session(&["exit"]);
    assert_eq!(m, Mode::Global);
}

#[test]
fn prompts() {
    assert_eq!(Mode::Global.prompt("r1"), "r1(config)#");
    assert_eq!(Mode::Interface("fa0".into()).prompt("r1"), "r1(config-if)#");
    assert_eq!(
        Mode::Ssid {
            interface: "Dot11Radio0".into(),
            ssid: "x".into()
        }
        .prompt("ap"),
        "ap(config-if-ssid)#"
    );
    assert_eq!(Mode::RouterMobile.prompt("r1"), "r1(config-router)#");
}

#[test]
fn global_commands_fall_through_from_sub_modes() {
    // No exit lines: IOS tries the parent mode for a command the current
    // mode does not have, and stays there.
    let (c, m) = session(&[
        "interface fa0",
        "ip address 10.0.0.2 255.255.255.0",
        "ip default-gateway 10.0.0.1",
    ]);
    assert_eq!(m, Mode::Global);
    assert_eq!(c.default_gateway, Some(ip("10.0.0.1")));
    let (c, m) = session(&[
        "interface do0",
        "ssid a",
        "ip proxy-mobile",
        "ip proxy-mobile enable",
    ]);
    assert_eq!(m, Mode::Global);
    assert!(c.proxy_mobile.enabled);
    // An interface command after an SSID goes to the interface.
    let (c, m) = session(&["interface do0", "ssid a", "station-role root"]);
    assert_eq!(m, Mode::Interface("Dot11Radio0".into()));
    assert_eq!(c.interfaces[0].station_role, Some(StationRole::Root));
    let (c, m) = session(&["router mobile", "ip mobile home-agent"]);
    assert_eq!(m, Mode::Global);
    assert!(c.is_home_agent());
}

#[test]
fn session_commands_do_nothing() {
    let c = parse(
        "configure terminal\nconfigure\nend\nexit\ncopy running-config startup-config\nwrite\nwrite memory\n",
    );
    assert_eq!(c, Config::default());
}

#[test]
fn comments_blank_lines_indentation_case() {
    let c = parse(
        "! a\n# b\n\n   \n\tHOSTNAME Ap-1\n   INTERFACE FastEthernet0\n      IP PROXY-MOBILE\n",
    );
    assert_eq!(c.hostname.as_deref(), Some("Ap-1"));
    assert!(c.interfaces[0].proxy_mobile);
    // `!` later in a line is data, not a comment.
    let c = parse("interface fa0\n description uplink! # not a comment\n");
    assert_eq!(
        c.interfaces[0].description.as_deref(),
        Some("uplink! # not a comment")
    );
}

#[test]
fn byte_order_mark_is_ignored() {
    let c = parse("\u{feff}hostname ap\n");
    assert_eq!(c.hostname.as_deref(), Some("ap"));
}

#[test]
fn stale_mode_creates_its_interface() {
    let mut c = Config::default();
    let mut mode = Mode::Ssid {
        interface: "Dot11Radio1".into(),
        ssid: "s".into(),
    };
    c.apply_line(&mut mode, "ip proxy-mobile").unwrap();
    assert!(c.interface("do1").unwrap().ssid("s").unwrap().proxy_mobile);
}

// ---------------------------------------------------------------- common

#[test]
fn hostname_and_no() {
    let (c, _) = session(&["hostname ap1200"]);
    assert_eq!(c.hostname.as_deref(), Some("ap1200"));
    let (c, _) = session(&["hostname ap1200", "no hostname"]);
    assert_eq!(c.hostname, None);
}

#[test]
fn interface_spellings_share_one_interface() {
    let c =
        parse("interface fastethernet 0\ninterface FastEthernet0\ninterface fa0\ninterface FA 0\n");
    assert_eq!(c.interfaces.len(), 1);
    assert_eq!(c.interfaces[0].name, "FastEthernet0");
    let c = parse("interface eth0\ninterface veth-x\ninterface gigabitethernet0/1\n");
    let names: Vec<&str> = c.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["eth0", "veth-x", "GigabitEthernet0/1"]);
    assert_eq!(normalize_interface_name("bvi 1").unwrap(), "BVI1");
}

#[test]
fn no_interface_removes_it() {
    let c = parse("interface bvi1\nip proxy-mobile\nno interface bvi 1\n");
    assert!(c.interfaces.is_empty());
}

#[test]
fn ip_address_primary_secondary_and_no() {
    let c = parse(
        "interface fa0\nip address 10.0.0.2 255.255.255.0\nip address 10.1.0.2 255.255.0.0 secondary\n\
         ip address 10.0.0.3 255.255.255.0\n",
    );
    let i = &c.interfaces[0];
    assert_eq!(i.address.unwrap().address, ip("10.0.0.3"));
    assert_eq!(i.address.unwrap().prefix_len(), 24);
    assert_eq!(i.address.unwrap().network(), ip("10.0.0.0"));
    assert_eq!(i.address.unwrap().broadcast(), ip("10.0.0.255"));
    assert!(i.address.unwrap().contains(ip("10.0.0.77")));
    assert_eq!(i.secondary.len(), 1);
    assert_eq!(i.addresses().count(), 2);
    let c2 = parse(
        "interface fa0\nip address 10.0.0.2 255.255.255.0\nip address 10.1.0.2 255.255.0.0 secondary\nno ip address 10.1.0.2 255.255.0.0 secondary\n",
    );
    assert!(c2.interfaces[0].secondary.is_empty());
    assert!(c2.interfaces[0].address.is_some());
    let c3 = parse("interface fa0\nip address 10.0.0.2 255.255.255.0\nno ip address\n");
    assert!(c3.interfaces[0].address.is_none());
    // /31 and /32 have no network or broadcast address to refuse.
    parse(
        "interface lo0\nip address 10.9.9.9 255.255.255.255\ninterface eth1\nip address 10.0.0.0 255.255.255.254\n",
    );
}

#[test]
fn shutdown_and_description() {
    let c = parse("interface fa0\nshutdown\ndescription to the   core\n");
    assert!(c.interfaces[0].shutdown);
    assert_eq!(
        c.interfaces[0].description.as_deref(),
        Some("to the   core")
    );
    let c = parse("interface fa0\nshutdown\nno shutdown\ndescription x\nno description\n");
    assert!(!c.interfaces[0].shutdown);
    assert_eq!(c.interfaces[0].description, None);
}

#[test]
fn ip_route_forms_and_no() {
    let c = parse(
        "ip route 0.0.0.0 0.0.0.0 10.0.0.1\n\
         ip route 10.2.0.0 255.255.0.0 fastethernet 0\n\
         ip route 10.3.0.0 255.255.0.0 eth1 10.0.0.9\n\
         ip route 10.4.0.0 255.255.0.0 10.0.0.1\n\
         ip route 10.4.0.0 255.255.0.0 10.0.0.1\n",
    );
    assert_eq!(c.routes.len(), 4, "the same route again replaces");
    assert_eq!(c.routes[0].prefix_len(), 0);
    assert_eq!(c.routes[1].interface.as_deref(), Some("FastEthernet0"));
    assert_eq!(c.routes[1].next_hop, None);
    assert_eq!(c.routes[2].interface.as_deref(), Some("eth1"));
    assert_eq!(c.routes[2].next_hop, Some(ip("10.0.0.9")));
    let c2 = parse(
        "ip route 10.4.0.0 255.255.0.0 10.0.0.1\nip route 10.4.0.0 255.255.0.0 10.0.0.2\nno ip route 10.4.0.0 255.255.0.0 10.0.0.1\n",
    );
    assert_eq!(c2.routes.len(), 1);
    assert_eq!(c2.routes[0].next_hop, Some(ip("10.0.0.2")));
    let c3 = parse(
        "ip route 10.4.0.0 255.255.0.0 10.0.0.1\nip route 10.4.0.0 255.255.0.0 10.0.0.2\nno ip route 10.4.0.0 255.255.0.0\n",
    );
    assert!(c3.routes.is_empty());
}

#[test]
fn default_gateway_and_no() {
    assert_eq!(
        parse("ip default-gateway 10.0.0.1").default_gateway,
        Some(ip("10.0.0.1"))
    );
    assert_eq!(
        parse("ip default-gateway 10.0.0.1\nno ip default-gateway").default_gateway,
        None
    );
}

// ---------------------------------------------------------------- home agent

#[test]
fn router_mobile_and_no() {
    assert!(parse("router mobile").mobile.router_mobile);
    assert!(
        !parse("router mobile\nno router mobile")
            .mobile
            .router_mobile
    );
}

#[test]
fn home_agent_defaults_options_and_no() {
    let ha = parse("ip mobile home-agent").mobile.home_agent.unwrap();
    assert_eq!(ha, HomeAgent::default());
    assert_eq!((ha.lifetime, ha.reverse_tunnel_off), (36000, false));
    let ha = parse("ip mobile home-agent lifetime 100 reverse-tunnel-off")
        .mobile
        .home_agent
        .unwrap();
    assert_eq!((ha.lifetime, ha.reverse_tunnel_off), (100, true));
    // Re-entering replaces every option, as a whole line.
    let ha = parse("ip mobile home-agent lifetime 100\nip mobile home-agent reverse-tunnel-off")
        .mobile
        .home_agent
        .unwrap();
    assert_eq!((ha.lifetime, ha.reverse_tunnel_off), (36000, true));
    assert!(
        parse("ip mobile home-agent\nno ip mobile home-agent")
            .mobile
            .home_agent
            .is_none()
    );
}

#[test]
fn mobile_host_forms_and_no() {
    let c = parse(
        "ip mobile host 10.0.0.10 10.0.0.20 interface fastethernet 0 lifetime 600\n\
         ip mobile host 10.0.0.30 aaa\n\
         ip mobile host 10.0.0.31 interface eth0 aaa load-sa\n\
         ip mobile host 10.0.0.32 aaa load-sa permanent\n",
    );
    let h = &c.mobile.hosts;
    assert_eq!(h.len(), 4);
    assert_eq!(h[0].interface.as_deref(), Some("FastEthernet0"));
    assert_eq!(h[0].lifetime, Some(600));
    assert_eq!(h[0].range.len(), 11);
    assert_eq!(
        (h[1].interface.as_deref(), h[1].aaa),
        (None, Some(AaaLoad::OnDemand))
    );
    assert_eq!(h[2].aaa, Some(AaaLoad::LoadSa));
    assert_eq!(h[3].aaa, Some(AaaLoad::LoadSaPermanent));
    assert_eq!(
        c.mobile.host(ip("10.0.0.15")).unwrap().range.low,
        ip("10.0.0.10")
    );
    assert!(c.mobile.host(ip("10.0.0.21")).is_none());
    let c = parse("ip mobile host 10.0.0.1 interface fa0\nip mobile host 10.0.0.1 interface fa1\n");
    assert_eq!(c.mobile.hosts.len(), 1, "same range replaces");
    assert_eq!(
        c.mobile.hosts[0].interface.as_deref(),
        Some("FastEthernet1")
    );
    let c = parse(
        "ip mobile host 10.0.0.1 10.0.0.5 interface fa0\nno ip mobile host 10.0.0.1 10.0.0.5 interface fa0\n",
    );
    assert!(c.mobile.hosts.is_empty());
}

#[test]
fn secure_host_defaults_and_spellings() {
    let c =
        parse("ip mobile secure host 10.0.0.1 spi 100 key hex 00112233445566778899AABBCCDDEEFF");
    let sa = c.mobile.sa(SaPeer::Host, ip("10.0.0.1")).unwrap();
    assert_eq!(sa.spi, 256);
    assert_eq!(sa.key[15], 0xff);
    assert_eq!(sa.key_format, KeyFormat::Hex);
    assert_eq!(sa.algorithm, Algorithm::KeyedMd5PrefixSuffix);
    assert_eq!(sa.replay, Replay::Timestamp { within: 7 });
    for (tail, alg, within) in [
        (
            "algorithm md5 mode prefix-suffix",
            Algorithm::KeyedMd5PrefixSuffix,
            7,
        ),
        ("algorithm md5", Algorithm::KeyedMd5PrefixSuffix, 7),
        ("algorithm hmac-md5", Algorithm::HmacMd5, 7),
        ("replay timestamp", Algorithm::KeyedMd5PrefixSuffix, 7),
        (
            "replay timestamp within 30",
            Algorithm::KeyedMd5PrefixSuffix,
            30,
        ),
        ("replay timestamp 12", Algorithm::KeyedMd5PrefixSuffix, 12),
        (
            "replay timestamp within 3 algorithm hmac-md5",
            Algorithm::HmacMd5,
            3,
        ),
        (
            "ALGORITHM HMAC-MD5 REPLAY TIMESTAMP WITHIN 5",
            Algorithm::HmacMd5,
            5,
        ),
    ] {
        let c = parse(&format!(
            "ip mobile secure host 10.0.0.1 10.0.0.3 spi FFFFFFFF key ascii Key {tail}"
        ));
        let sa = c.mobile.sa(SaPeer::Host, ip("10.0.0.2")).unwrap();
        assert_eq!(sa.spi, u32::MAX);
        assert_eq!(sa.key, b"Key".to_vec(), "case of keys is kept");
        assert_eq!(sa.algorithm, alg, "{tail}");
        assert_eq!(sa.replay, Replay::Timestamp { within }, "{tail}");
    }
}

#[test]
fn secure_peers_are_separate_tables() {
    let c = parse(
        "ip mobile secure host 10.0.0.1 spi 100 key ascii a\n\
         ip mobile secure visitor 10.0.0.1 spi 101 key ascii b\n\
         ip mobile secure home-agent 10.0.0.1 spi 102 key ascii c\n\
         ip mobile secure foreign-agent 10.0.0.1 spi 103 key ascii d\n",
    );
    let a = ip("10.0.0.1");
    assert_eq!(c.mobile.sa(SaPeer::Host, a).unwrap().spi, 0x100);
    assert_eq!(c.mobile.sa(SaPeer::Visitor, a).unwrap().spi, 0x101);
    assert_eq!(c.mobile.sa(SaPeer::HomeAgent, a).unwrap().spi, 0x102);
    assert_eq!(c.mobile.sa(SaPeer::ForeignAgent, a).unwrap().spi, 0x103);
    let c = parse(
        "ip mobile secure host 10.0.0.1 spi 100 key ascii a\n\
         ip mobile secure host 10.0.0.1 spi 200 key ascii b\n\
         ip mobile secure visitor 10.0.0.1 spi 101 key ascii b\n\
         no ip mobile secure visitor 10.0.0.1\n",
    );
    assert_eq!(c.mobile.secure.len(), 1, "same range replaces; no removes");
    assert_eq!(c.mobile.secure[0].sa.spi, 0x200);
}

#[test]
fn sa_debug_hides_the_key() {
    let c = parse("ip mobile secure host 10.0.0.1 spi 100 key ascii topsecret");
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("topsecret"), "{dbg}");
    assert!(dbg.contains("<9 bytes>"), "{dbg}");
}

#[test]
fn bindupdate_and_no() {
    let c = parse("ip mobile bindupdate\nip mobile bindupdate ack");
    assert!(c.mobile.bindupdate && c.mobile.bindupdate_ack);
    let c = parse("ip mobile bindupdate\nip mobile bindupdate ack\nno ip mobile bindupdate ack");
    assert!(c.mobile.bindupdate && !c.mobile.bindupdate_ack);
    let c = parse("ip mobile bindupdate\nno ip mobile bindupdate");
    assert!(!c.mobile.bindupdate);
}

// ---------------------------------------------------------------- foreign agent

#[test]
fn foreign_agent_forms_and_no() {
    let c = parse("ip mobile foreign-agent");
    assert_eq!(c.mobile.foreign_agent, Some(ForeignAgent::default()));
    assert_eq!(c.mobile.foreign_agent.unwrap().reg_wait, 15);
    let c = parse(
        "ip mobile foreign-agent care-of fastethernet 0\nip mobile foreign-agent reg-wait 30\n\
         ip mobile foreign-agent care-of fa0 reg-wait 30\n",
    );
    let fa = c.mobile.foreign_agent.clone().unwrap();
    assert_eq!(fa.care_of, ["FastEthernet0"], "the same one again");
    assert_eq!(fa.reg_wait, 30);
    let mut c2 = c.clone();
    let mut m = Mode::Global;
    c2.apply_line(&mut m, "no ip mobile foreign-agent care-of fa0")
        .unwrap();
    c2.apply_line(&mut m, "no ip mobile foreign-agent reg-wait")
        .unwrap();
    let fa = c2.mobile.foreign_agent.clone().unwrap();
    assert_eq!((fa.care_of.len(), fa.reg_wait), (0, 15));
    // With the first removed, another interface may be the care-of one.
    c2.apply_line(&mut m, "ip mobile foreign-agent care-of eth1")
        .unwrap();
    assert_eq!(c2.mobile.foreign_agent.as_ref().unwrap().care_of, ["eth1"]);
    c2.apply_line(&mut m, "no ip mobile foreign-agent").unwrap();
    assert!(c2.mobile.foreign_agent.is_none());
}

#[test]
fn irdp_defaults_values_and_no() {
    let c = parse("interface fa0\nip irdp\n");
    let irdp = &c.interfaces[0].irdp;
    assert!(irdp.enabled && !irdp.multicast);
    // RFC 1256 / IOS defaults.
    assert_eq!(
        (
            irdp.max_advert_interval(),
            irdp.min_advert_interval(),
            irdp.holdtime(),
            irdp.preference()
        ),
        (600, 450, 1800, 0)
    );
    let c = parse(
        "interface fa0\nip irdp\nip irdp multicast\nip irdp preference -5\nip irdp maxadvertinterval 40\n\
         ip irdp minadvertinterval 20\nip irdp holdtime 100\n",
    );
    let irdp = &c.interfaces[0].irdp;
    assert!(irdp.multicast);
    assert_eq!(
        (
            irdp.max_advert_interval(),
            irdp.min_advert_interval(),
            irdp.holdtime(),
            irdp.preference()
        ),
        (40, 20, 100, -5)
    );
    // Only max given: min and holdtime follow it.
    let c = parse("interface fa0\nip irdp maxadvertinterval 4\n");
    let irdp = &c.interfaces[0].irdp;
    assert_eq!((irdp.min_advert_interval(), irdp.holdtime()), (3, 12));
    let c = parse(
        "interface fa0\nip irdp\nip irdp multicast\nip irdp preference 1\nip irdp maxadvertinterval 40\n\
         ip irdp minadvertinterval 20\nip irdp holdtime 100\nno ip irdp holdtime\nno ip irdp minadvertinterval\n\
         no ip irdp maxadvertinterval\nno ip irdp preference\nno ip irdp multicast\nno ip irdp\n",
    );
    assert_eq!(c.interfaces[0].irdp, Irdp::default());
}

#[test]
fn foreign_service_registration_lifetime_prefix_length_and_no() {
    let c = parse(
        "interface fa0\nip mobile foreign-service home-access 10 limit 50 registration-required reverse-tunnel mandatory\n\
         ip mobile registration-lifetime 3\nip mobile prefix-length\n",
    );
    let i = &c.interfaces[0];
    assert_eq!(
        i.foreign_service,
        Some(ForeignService {
            home_access: Some("10".into()),
            limit: Some(50),
            registration_required: true,
            reverse_tunnel: true,
            reverse_tunnel_mandatory: true,
        })
    );
    assert_eq!(i.registration_lifetime(), 3);
    assert_eq!(i.prefix_length, Some(true));
    let c = parse(
        "interface fa0\nip mobile foreign-service\nip mobile registration-lifetime 30\nip mobile prefix-length\n\
         no ip mobile foreign-service\nno ip mobile registration-lifetime\nno ip mobile prefix-length\n",
    );
    let i = &c.interfaces[0];
    assert_eq!(i.foreign_service, None);
    assert_eq!(i.registration_lifetime(), 36000);
    assert_eq!(i.prefix_length, Some(false));
    assert!(!i.prefix_length());
    // pmip advertises the prefix lengths unless told not to.
    let i = &parse("interface fa0\nip mobile foreign-service\n").interfaces[0];
    assert_eq!((i.prefix_length, i.prefix_length()), (None, true));
    assert_eq!(
        parse("interface fa0\nip mobile foreign-service\n").interfaces[0].foreign_service,
        Some(ForeignService::default())
    );
}

// ---------------------------------------------------------------- access point

#[test]
fn proxy_enable_pause_and_resume() {
    let c = parse("ip proxy-mobile enable\nip proxy-mobile pause\n");
    assert!(c.proxy_mobile.enabled && c.proxy_mobile.paused && !c.proxy_mobile.active());
    let c = parse("ip proxy-mobile enable\nip proxy-mobile pause\nno ip proxy-mobile pause\n");
    assert!(c.proxy_mobile.active());
}

#[test]
fn pause_keeps_the_configuration_disable_clears_it() {
    let base = include_str!("data/ap.cfg");
    let paused = parse(&format!("{base}\nip proxy-mobile pause\n"));
    let mut expected = parse(base);
    expected.proxy_mobile.paused = true;
    assert_eq!(paused, expected, "pause keeps everything");

    // The Aironet documentation: disabling clears the entire proxy Mobile IP
    // configuration, SPIs and keys included.
    let off = parse(&format!("{base}\nno ip proxy-mobile enable\n"));
    assert_eq!(off.proxy_mobile, ProxyMobile::default());
    assert!(off.interfaces.iter().all(|i| !i.proxy_mobile));
    assert!(
        off.interfaces
            .iter()
            .all(|i| i.ssids.iter().all(|s| !s.proxy_mobile))
    );
    // Everything that is not proxy Mobile IP stays.
    assert_eq!(off.default_gateway, expected.default_gateway);
    assert_eq!(
        off.interface("bvi1").unwrap().address,
        expected.interface("bvi1").unwrap().address
    );
    assert!(off.interface("do0").unwrap().ssid("guests").is_some());
    assert_eq!(off.aaa, expected.aaa);
    assert!(!off.running_config(true).contains("proxy-mobile"));
}

#[test]
fn aap_forms_and_no() {
    let c = parse("ip proxy-mobile aap 10.0.0.1");
    assert_eq!(c.proxy_mobile.aaps, [AapAddress::Addr(ip("10.0.0.1"))]);
    let c = parse("ip proxy-mobile aap ap-a ap-b 10.0.0.3\nip proxy-mobile aap 10.0.0.9");
    assert_eq!(
        c.proxy_mobile.aaps,
        [AapAddress::Addr(ip("10.0.0.9"))],
        "re-entering replaces"
    );
    let c = parse("ip proxy-mobile aap ap-a ap-b 10.0.0.3");
    assert_eq!(c.proxy_mobile.aaps[0], AapAddress::Name("ap-a".into()));
    assert_eq!(c.proxy_mobile.aaps[0].to_string(), "ap-a");
    let c = parse("ip proxy-mobile aap ap-a\nno ip proxy-mobile aap");
    assert!(c.proxy_mobile.aaps.is_empty());
}

#[test]
fn aap_key_masked_unless_asked() {
    let c =
        parse("ip proxy-mobile aap 10.0.0.1 10.0.0.2\nip proxy-mobile aap key ascii campus-secret");
    assert_eq!(c.proxy_mobile.aaps.len(), 2, "the key line keeps the list");
    let (key, _) = c.proxy_mobile.aap_key.clone().unwrap();
    assert_eq!(key, b"campus-secret".to_vec());
    let shown = c.running_config(false);
    assert!(
        shown.contains("ip proxy-mobile aap key ascii ********"),
        "{shown}"
    );
    assert!(!shown.contains("campus-secret"));
    let keys = c.running_config(true);
    assert!(
        keys.contains("ip proxy-mobile aap key ascii campus-secret"),
        "{keys}"
    );
    assert_eq!(parse(&keys).proxy_mobile.aap_key, c.proxy_mobile.aap_key);
    let c = parse("ip proxy-mobile aap key hex 00112233445566778899aabbccddeeff");
    assert_eq!(c.proxy_mobile.aap_key.as_ref().unwrap().0.len(), 16);
    assert!(
        c.running_config(true)
            .contains("aap key hex 00112233445566778899aabbccddeeff")
    );
    let c = parse("ip proxy-mobile aap key ascii k\nno ip proxy-mobile aap key");
    assert!(c.proxy_mobile.aap_key.is_none());
    let e = pmip_config::Config::parse("ip proxy-mobile aap key ascii ********").unwrap_err();
    assert!(e.to_string().contains("masked"), "{e}");
    let e = pmip_config::Config::parse("ip proxy-mobile aap key hex 123").unwrap_err();
    assert_eq!(e.line, 1);
}

#[test]
fn secure_node_forms_and_no() {
    let c = parse(
        "ip proxy-mobile secure node 10.0.0.1 spi 100 key hex 0123456789abcdef0123456789ABCDEF\n\
         ip proxy-mobile secure node 10.0.1.1 10.0.1.9 spi 101 key ascii 1234567890123456\n\
         ip proxy-mobile secure node 10.0.2.1 spi 102 key ascii k algorithm hmac-md5 replay timestamp within 9\n",
    );
    let n = &c.proxy_mobile.nodes;
    assert_eq!(n.len(), 3);
    assert_eq!(n[0].sa.key.len(), 16);
    assert_eq!(n[0].sa.key[0], 0x01);
    assert_eq!(n[1].sa.key, b"1234567890123456".to_vec());
    assert_eq!(n[2].sa.algorithm, Algorithm::HmacMd5);
    assert_eq!(n[2].sa.replay, Replay::Timestamp { within: 9 });
    assert_eq!(c.proxy_mobile.node_sa(ip("10.0.1.5")).unwrap().spi, 0x101);
    // One character is enough (the Aironet documentation: "no minimum length").
    parse("ip proxy-mobile secure node 10.0.0.1 spi 100 key ascii x");
    let c = parse(
        "ip proxy-mobile secure node 10.0.0.1 10.0.0.9 spi 100 key ascii k\nno ip proxy-mobile secure node 10.0.0.1 10.0.0.9\n",
    );
    assert!(c.proxy_mobile.nodes.is_empty());
}

#[test]
fn tunnel_options_and_no() {
    let c = parse("ip proxy-mobile tunnel gre\nip proxy-mobile tunnel reverse\n");
    assert!(c.proxy_mobile.tunnel_gre && c.proxy_mobile.tunnel_reverse);
    let c = parse(
        "ip proxy-mobile tunnel gre\nip proxy-mobile tunnel reverse\nno ip proxy-mobile tunnel gre\nno ip proxy-mobile tunnel reverse\n",
    );
    assert!(!c.proxy_mobile.tunnel_gre && !c.proxy_mobile.tunnel_reverse);
}

#[test]
fn per_interface_and_ssid_proxy_and_no() {
    let c = parse(
        "interface fa0\nip proxy-mobile\ninterface do0\nip proxy-mobile\nssid a\nip proxy-mobile\n\
         interface bvi1\nip proxy-mobile\n",
    );
    assert!(c.interfaces.iter().all(|i| i.proxy_mobile));
    let c = parse(
        "interface fa0\nip proxy-mobile\nno ip proxy-mobile\ninterface do0\nssid a\nip proxy-mobile\nno ip proxy-mobile\n",
    );
    assert!(!c.interfaces[0].proxy_mobile);
    assert!(!c.interfaces[1].ssids[0].proxy_mobile);
}

#[test]
fn ssids_and_no() {
    // `vlan` is refused (refusals.rs); `no vlan` is the state anyway.
    let c = parse("interface do0\nssid a\nno vlan\nip proxy-mobile\n");
    assert!(c.interfaces[0].ssids[0].proxy_mobile);
    assert_eq!(c.interfaces[0].ssids[0].vlan, None);
    let c = parse("interface do0\nssid a\nssid b\nexit\nno ssid a\n");
    let names: Vec<&str> = c.interfaces[0]
        .ssids
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["b"]);
    // SSIDs are case-sensitive; a second `ssid a` re-enters the first.
    let c = parse("interface do0\nssid a\nip proxy-mobile\nexit\nssid A\nexit\nssid a\n");
    assert_eq!(c.interfaces[0].ssids.len(), 2);
    assert!(c.interfaces[0].ssid("a").unwrap().proxy_mobile);
    assert!(!c.interfaces[0].ssid("A").unwrap().proxy_mobile);
}

#[test]
fn station_role_forms_and_no() {
    for (line, role) in [
        ("station-role root", StationRole::Root),
        ("station-role root access-point", StationRole::Root),
        ("station-role root ap-only", StationRole::Root),
        ("station-role repeater", StationRole::Repeater),
        ("station-role non-root", StationRole::NonRoot),
        (
            "station-role workgroup-bridge",
            StationRole::WorkgroupBridge,
        ),
    ] {
        let c = parse(&format!("interface dot11radio 1\n{line}\n"));
        assert_eq!(c.interfaces[0].station_role, Some(role), "{line}");
    }
    let c = parse("interface do0\nstation-role repeater\nno station-role\nip proxy-mobile\n");
    assert_eq!(c.interfaces[0].station_role(), StationRole::Root);
    // Root is fine with proxy Mobile IP.
    parse("ip proxy-mobile enable\ninterface do0\nstation-role root\n");
    // After `no ip proxy-mobile enable` a radio may become a repeater.
    parse(
        "ip proxy-mobile enable\ninterface do0\nip proxy-mobile\nexit\nno ip proxy-mobile enable\ninterface do0\nstation-role repeater\n",
    );
    // The radio still serves stations as a root AP: said, not ignored.
    let c = parse("interface do0\nstation-role repeater\n");
    assert_eq!(
        c.warnings(),
        [
            "Dot11Radio0: `station-role repeater`: pmip's radio serves stations as a root access point \
          whatever the role; the role only keeps proxy Mobile IP off (the Aironet documentation)"
        ]
    );
    assert!(
        parse("interface do0\nstation-role root\n")
            .warnings()
            .is_empty()
    );
}

// ---------------------------------------------------------------- access lists

#[test]
fn access_list_forms_evaluation_and_no() {
    let c = parse(
        "access-list 1300 permit any\n\
         access-list 10 remark   home agents of   the campus\n\
         access-list 10 deny host 10.1.0.9\n\
         access-list 10 permit 10.1.7.77 0.0.255.255\n\
         access-list 10 deny 10.2.0.0 0.0.0.255\n\
         access-list 10 permit 10.2.0.0 0.0.255.255\n\
         access-list 99 deny 10.3.0.1\n",
    );
    // By number, as IOS keeps them; entries in the order given.
    let numbers: Vec<u16> = c.access_lists.iter().map(|l| l.number).collect();
    assert_eq!(numbers, [10, 99, 1300]);
    let l = c.access_list("10").unwrap();
    assert_eq!(
        l.entries,
        [
            AclEntry::Remark("home agents of   the campus".into()),
            AclEntry::Deny(AclSource::host(ip("10.1.0.9"))),
            // Normalised: no address bit under a wildcard bit.
            AclEntry::Permit(AclSource {
                address: ip("10.1.0.0"),
                wildcard: ip("0.0.255.255")
            }),
            AclEntry::Deny(AclSource::new(ip("10.2.0.0"), ip("0.0.0.255"))),
            AclEntry::Permit(AclSource::new(ip("10.2.0.0"), ip("0.0.255.255"))),
        ]
    );
    // First match wins; nothing matching is denied.
    for (addr, permitted) in [
        ("10.1.0.9", false),
        ("10.1.0.1", true),
        ("10.1.255.255", true),
        ("10.2.0.1", false),
        ("10.2.1.1", true),
        ("10.3.0.1", false),
        ("192.0.2.1", false),
    ] {
        assert_eq!(l.permits(ip(addr)), permitted, "{addr}");
    }
    assert!(c.access_list("1300").unwrap().permits(ip("192.0.2.1")));
    assert!(!c.access_list("99").unwrap().permits(ip("10.3.0.1")));
    assert!(!c.access_list("99").unwrap().permits(ip("10.3.0.2")));
    assert!(c.access_list("11").is_none() && c.access_list("campus").is_none());
    // Printed by number, host entries as the address alone (IOS).
    let text = c.running_config(false);
    assert!(
        text.contains(
            "access-list 10 remark home agents of   the campus\n\
             access-list 10 deny 10.1.0.9\n\
             access-list 10 permit 10.1.0.0 0.0.255.255\n\
             access-list 10 deny 10.2.0.0 0.0.0.255\n\
             access-list 10 permit 10.2.0.0 0.0.255.255\n\
             access-list 99 deny 10.3.0.1\n\
             access-list 1300 permit any\nend\n"
        ),
        "{text}"
    );
    assert_eq!(parse(&text), c);
    // `no access-list N` removes the whole list; others stay.
    let (c, _) = session(&[
        "access-list 5 permit any",
        "access-list 6 deny any",
        "no access-list 5",
    ]);
    assert_eq!(c.access_lists.len(), 1);
    assert_eq!(c.access_lists[0].number, 6);
    // A remark-only list matches nothing and restricts nothing.
    let c = parse("access-list 7 remark nothing yet\n");
    let l = c.access_list("7").unwrap();
    assert!(!l.has_rules() && !l.permits(ip("10.0.0.1")));
}

#[test]
fn home_access_names_a_list() {
    let c = parse(
        "interface fa0\nip address 10.1.0.1 255.255.255.0\nip mobile foreign-service home-access 10\n\
         interface fa1\nip mobile foreign-service home-access campus-agents limit 3\n\
         interface fa2\nip mobile foreign-service home-access 11\n\
         interface fa3\nip mobile foreign-service home-access 12\n\
         interface fa4\nip mobile foreign-service\n\
         access-list 10 permit 10.1.0.1\naccess-list 12 remark only a remark\n",
    );
    let fa0 = c.interface("fa0").unwrap();
    assert!(c.home_access(fa0).unwrap().permits(ip("10.1.0.1")));
    for name in ["fa1", "fa2", "fa3", "fa4"] {
        assert!(
            c.home_access(c.interface(name).unwrap()).is_none(),
            "{name}: no list that restricts anything"
        );
    }
    assert_eq!(
        c.interface("fa1")
            .unwrap()
            .foreign_service
            .as_ref()
            .unwrap()
            .limit,
        Some(3)
    );
    // A list that does not exist (or has no entry) permits every home
    // agent, as IOS does, and the configuration says so.
    let w = c.warnings().join("\n");
    assert!(w.contains("FastEthernet1: home-access campus-agents: no such access list, so every home agent is permitted"), "{w}");
    assert!(
        w.contains("FastEthernet2: home-access 11: no such access list"),
        "{w}"
    );
    assert!(
        w.contains("FastEthernet3: home-access 12: the list has no permit or deny entry"),
        "{w}"
    );
    assert!(!w.contains("FastEthernet0: home-access"), "{w}");
}

// ---------------------------------------------------------------- RADIUS

#[test]
fn aaa_and_radius_forms_and_no() {
    let c = parse(
        "aaa new-model\naaa authorization ipmobile default group radius\n\
         radius-server host 10.0.0.5 key 0 plain secret\n\
         radius-server host 10.0.0.6 auth-port 1812 acct-port 1813 timeout 2 retransmit 1 key k2\n\
         radius-server host 10.0.0.7\n\
         radius-server key global key\nradius-server timeout 10\nradius-server retransmit 0\n",
    );
    let a = &c.aaa;
    assert!(a.new_model && a.radius_for_ipmobile());
    assert_eq!(
        a.authorization_ipmobile,
        Some(AaaAuthorization {
            list: "default".into(),
            group: Some("radius".into())
        })
    );
    assert_eq!(a.radius_servers[0].key.as_deref(), Some("plain secret"));
    let s = &a.radius_servers[1];
    assert_eq!(
        (s.auth_port, s.acct_port, s.timeout, s.retransmit),
        (1812, 1813, Some(2), Some(1))
    );
    assert_eq!(a.key_for(&a.radius_servers[2]), Some("global key"));
    assert_eq!(a.key_for(&a.radius_servers[1]), Some("k2"));
    assert_eq!((a.radius_timeout(), a.radius_retransmit()), (10, 0));
    assert!(!format!("{a:?}").contains("secret"));
    let c = parse("aaa authorization ipmobile radius");
    assert_eq!(c.aaa.authorization_ipmobile.unwrap().group, None);
    let c = parse(
        "aaa new-model\naaa authorization ipmobile default group radius\nradius-server host 10.0.0.5 key k\n\
         radius-server key g\nradius-server timeout 10\nradius-server retransmit 1\n\
         no aaa new-model\nno aaa authorization ipmobile default group radius\nno radius-server host 10.0.0.5\n\
         no radius-server key\nno radius-server timeout\nno radius-server retransmit\n",
    );
    assert_eq!(c.aaa, Aaa::default());
    assert_eq!((c.aaa.radius_timeout(), c.aaa.radius_retransmit()), (5, 3));
}

#[test]
fn radius_host_reentered_replaces() {
    let c = parse(
        "radius-server host 10.0.0.5 key a\nradius-server host 10.0.0.5 auth-port 1812 key b\n",
    );
    assert_eq!(c.aaa.radius_servers.len(), 1);
    assert_eq!(c.aaa.radius_servers[0].key.as_deref(), Some("b"));
}

#[test]
fn static_subnet_map_entries() {
    let mut c = pmip_config::Config::parse(
        "ip proxy-mobile enable\nip proxy-mobile subnet-map 10.1.0.1 255.255.255.0\nip proxy-mobile subnet-map 10.2.0.1 255.255.0.0\n",
    )
    .unwrap();
    assert_eq!(
        c.proxy_mobile.subnet_map,
        vec![
            (
                "10.1.0.1".parse().unwrap(),
                "255.255.255.0".parse().unwrap()
            ),
            ("10.2.0.1".parse().unwrap(), "255.255.0.0".parse().unwrap())
        ]
    );
    assert!(
        c.running_config(false)
            .contains("ip proxy-mobile subnet-map 10.2.0.1 255.255.0.0")
    );
    let mut mode = pmip_config::Mode::Global;
    c.apply_line(
        &mut mode,
        "no ip proxy-mobile subnet-map 10.1.0.1 255.255.255.0",
    )
    .unwrap();
    assert_eq!(c.proxy_mobile.subnet_map.len(), 1);
    let e = c
        .apply_line(&mut mode, "ip proxy-mobile subnet-map 10.1.0.1 255.0.255.0")
        .unwrap_err();
    assert!(e.to_string().contains("contiguous"), "{e}");
    let e = c
        .apply_line(&mut mode, "ip proxy-mobile subnet-map 10.1.0.1")
        .unwrap_err();
    assert!(e.to_string().contains("subnet mask"), "{e}");
    // `no ip proxy-mobile enable` clears it with the rest.
    c.apply_line(&mut mode, "no ip proxy-mobile enable")
        .unwrap();
    assert!(c.proxy_mobile.subnet_map.is_empty());
}
