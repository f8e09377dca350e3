//! Every refusal reason: one test each, asserting the line number and the
//! message. A refused line also leaves the configuration unchanged (checked
//! for every case by `refuse`).

use pmip_config::{Config, ConfigError, Mode};

/// Parses `text`; the line `line` must be refused with a reason containing
/// `reason`. Also checks that applying the lines before it and then the
/// refused line leaves the configuration and the mode as they were.
fn refuse(text: &str, line: usize, reason: &str) {
    let err: ConfigError = match Config::parse(text) {
        Ok(c) => panic!("accepted:\n{text}\n=> {c:?}"),
        Err(e) => e,
    };
    assert_eq!(err.line, line, "{err}");
    assert!(
        err.reason.contains(reason),
        "reason {:?} lacks {reason:?}",
        err.reason
    );
    let shown = err.to_string();
    assert!(shown.starts_with(&format!("line {line}: \"")), "{shown}");
    assert!(shown.contains("\" — "), "{shown}");
    // Atomicity: the failing line changes neither config nor mode.
    let mut c = Config::default();
    let mut mode = Mode::Global;
    let lines: Vec<&str> = text.lines().collect();
    for l in &lines[..line - 1] {
        c.apply_line(&mut mode, l).unwrap();
    }
    let (before, before_mode) = (c.clone(), mode.clone());
    assert!(c.apply_line(&mut mode, lines[line - 1]).is_err());
    assert_eq!(c, before, "a refused line changed the configuration");
    assert_eq!(mode, before_mode, "a refused line changed the mode");
}

macro_rules! refusals {
    ($($name:ident: $text:expr, $line:expr, $reason:expr;)*) => {
        $(
            #[test]
            fn $name() {
                refuse($text, $line, $reason);
            }
        )*
    };
}

refusals! {
    // --- the error format's own example (line 7, the SPI as IOS numbers
    // SPIs, in hexadecimal)
    spi_not_a_number:
        "hostname ha\n\n!\n\n\n\nip mobile secure host 10.0.0.1 spi x key ascii k", 7,
        "expected the SPI in hexadecimal as IOS writes it (100-FFFFFFFF; RFC 5944 reserves 0-FF), found \"x\"";

    // --- generic
    no_alone: "no", 1, "expected a command after `no`";
    unknown_command: "hostname a\nfrobnicate", 2, "unknown command";
    abbreviation_of_two_keywords: "ip mob ho 10.0.0.1", 1, "ambiguous: `ho` could be home-agent, host";
    no_keyword_after_ip_mobile: "ip mobile hme", 1, "expected `home-agent`, `host`, `secure`, `foreign-agent` or `bindupdate` after ip mobile, found \"hme\"";
    interface_command_in_global: "ip irdp", 1, "`ip irdp` is an interface command; enter `interface NAME` first";
    registration_lifetime_in_global: "ip mobile registration-lifetime 600", 1, "`ip mobile registration-lifetime` is an interface command";
    proxy_mobile_bare_in_global: "ip proxy-mobile", 1, "`ip proxy-mobile` is an interface command";
    vlan_in_global: "vlan 10", 1, "`vlan` is an SSID command";
    vlan_in_interface: "interface fa0\nvlan 10", 2, "`vlan` is an SSID command";
    ssid_command_leaks_after_exit: "interface do0\nssid a\nexit\nexit\nvlan 3", 5, "`vlan` is an SSID command";
    router_mobile_has_no_subcommands: "router mobile\nip address 10.0.0.1 255.0.0.0", 2, "is an interface command";

    // --- hostname
    hostname_missing: "hostname", 1, "expected a host name at end of line";
    hostname_invalid: "hostname 1ap", 1, "expected a host name of letters, digits and hyphens";
    hostname_slash: "hostname a/b", 1, "expected a host name of letters";
    hostname_trailing: "hostname ap extra", 1, "unexpected \"extra\"; expected end of line";

    // --- interface names
    interface_missing: "interface", 1, "expected an interface name";
    interface_no_number: "interface fastethernet", 1, "expected an interface number after FastEthernet";
    interface_bad_number: "interface fa x", 1, "expected an interface number after \"fa\", found \"x\"";
    interface_three_words: "interface fast ethernet 0", 1, "expected one interface name";
    interface_bad_type: "interface 9x 0", 1, "expected an interface type such as FastEthernet";

    // --- router
    router_not_mobile: "router ospf 1", 1, "expected `mobile` after router";
    router_mobile_trailing: "router mobile now", 1, "expected end of line";

    // --- ip route / default-gateway
    route_bad_prefix: "ip route 10.0.0 255.0.0.0 10.0.0.1", 1, "expected the destination prefix (dotted IPv4 address), found \"10.0.0\"";
    route_mask_not_contiguous: "ip route 10.0.0.0 255.0.255.0 10.0.0.1", 1, "bad mask 255.0.255.0";
    route_host_bits: "ip route 10.0.0.1 255.0.0.0 10.0.0.1", 1, "inconsistent address and mask: 10.0.0.1 has bits outside 255.0.0.0";
    route_no_target: "ip route 10.0.0.0 255.0.0.0", 1, "expected a next-hop address or an interface at end of line";
    route_numeric_target: "ip route 10.0.0.0 255.0.0.0 5", 1, "expected a next-hop address or an interface, found \"5\"";
    route_distance: "ip route 10.0.0.0 255.0.0.0 10.1.1.1 5", 1, "an administrative distance is not supported (static routes go into the kernel's table as they are); remove it";
    route_distance_after_interface: "ip route 10.0.0.0 255.0.0.0 eth1 200", 1, "an administrative distance is not supported";
    route_trailing: "ip route 10.0.0.0 255.0.0.0 10.1.1.1 x", 1, "unexpected \"x\"; expected end of line";
    gateway_bad: "ip default-gateway gw", 1, "expected the gateway address (dotted IPv4 address), found \"gw\"";

    // --- ip mobile home-agent
    ha_lifetime_not_number: "ip mobile home-agent lifetime x", 1, "expected a number for lifetime (seconds) (3-65535), found \"x\"";
    ha_lifetime_range: "ip mobile home-agent lifetime 2", 1, "lifetime (seconds) must be 3-65535, found 2";
    ha_broadcast: "router mobile\nip mobile home-agent lifetime 600 broadcast", 2, "`broadcast` is not supported: this home agent forwards no broadcasts to mobile nodes (RFC 5944 4.3); remove it";
    ha_replay: "ip mobile home-agent replay 10", 1, "`replay` is not supported on ip mobile home-agent: the timestamp window is each security association's, `replay timestamp within N` on `ip mobile secure host` (RFC 5944 5.7)";
    ha_unknown_option: "ip mobile home-agent standby", 1, "unexpected \"standby\"; expected `lifetime N`, `reverse-tunnel-off` or end of line";

    // --- ip mobile host
    host_needs_interface: "ip mobile host 10.0.0.1", 1, "expected `interface NAME` (the home interface) or `aaa` at end of line";
    host_bad_address: "ip mobile host ten interface fa0", 1, "expected the first home address (dotted IPv4 address), found \"ten\"";
    host_backwards: "ip mobile host 10.0.0.9 10.0.0.1 interface fa0", 1, "the end address 10.0.0.1 is below the start address 10.0.0.9";
    host_virtual_network: "ip mobile host 10.0.0.1 virtual-network 10.0.0.0 255.0.0.0", 1, "virtual-network is not supported";
    host_unknown_option: "ip mobile host 10.0.0.1 interface fa0 care-of-access a", 1, "expected `interface NAME`, `aaa [load-sa [permanent]]`, `lifetime N` or end of line";
    host_overlap: "ip mobile host 10.0.0.1 10.0.0.9 interface fa0\nip mobile host 10.0.0.5 10.0.0.20 interface fa0", 2, "overlaps `ip mobile host 10.0.0.1 10.0.0.9`";
    host_interface_missing: "ip mobile host 10.0.0.1 interface", 1, "expected an interface name";

    // --- security associations (routers)
    secure_bad_peer: "ip mobile secure mn-aaa 10.0.0.1 spi 100 key ascii k", 1, "expected `host`, `visitor`, `home-agent` or `foreign-agent` after ip mobile secure";
    secure_no_spi: "ip mobile secure host 10.0.0.1 key ascii k", 1, "expected `spi`, found \"key\"";
    secure_spi_missing: "ip mobile secure host 10.0.0.1 spi", 1, "expected the SPI in hexadecimal as IOS writes it (100-FFFFFFFF; RFC 5944 reserves 0-FF) at end of line";
    secure_spi_reserved: "ip mobile secure host 10.0.0.1 spi ff key ascii k", 1, "SPI ff (hex) is reserved: RFC 5944 reserves SPIs 0-255";
    secure_spi_too_long: "ip mobile secure host 10.0.0.1 spi 100000000 key ascii k", 1, "expected the SPI in hexadecimal";
    secure_inbound_spi: "ip mobile secure host 10.0.0.1 inbound-spi 100 outbound-spi 101 key ascii k", 1, "inbound-spi/outbound-spi are not supported";
    secure_no_key: "ip mobile secure host 10.0.0.1 spi 100", 1, "expected `key` at end of line";
    secure_key_format: "ip mobile secure host 10.0.0.1 spi 100 key plain k", 1, "expected `hex` or `ascii` after key, found \"plain\"";
    secure_key_missing: "ip mobile secure host 10.0.0.1 spi 100 key hex", 1, "expected the key after key hex at end of line";
    secure_key_masked: "ip mobile secure host 10.0.0.1 spi 100 key hex ********", 1, "the key is masked";
    secure_key_not_hex: "ip mobile secure host 10.0.0.1 spi 100 key hex 00zz", 1, "key hex takes hexadecimal digits 0-9 a-f, found \"00zz\"";
    secure_key_odd: "ip mobile secure host 10.0.0.1 spi 100 key hex 001", 1, "key hex must be an even number of hexadecimal digits, at most 128, found 3 digits";
    secure_key_ascii_long: "ip mobile secure host 10.0.0.1 spi 100 key ascii aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1, "key ascii must be 1 to 64 characters, found 65 characters";
    secure_key_not_ascii: "ip mobile secure host 10.0.0.1 spi 100 key ascii clé", 1, "key ascii takes printable ASCII characters";
    secure_algorithm_bad: "ip mobile secure host 10.0.0.1 spi 100 key ascii k algorithm sha1", 1, "expected `md5 mode prefix-suffix` or `hmac-md5` after algorithm, found \"sha1\"";
    secure_mode_bad: "ip mobile secure host 10.0.0.1 spi 100 key ascii k algorithm md5 mode suffix", 1, "expected `prefix-suffix` after mode, found \"suffix\"";
    secure_replay_bad: "ip mobile secure host 10.0.0.1 spi 100 key ascii k replay nonce", 1, "expected `timestamp` after replay";
    secure_replay_within_bad: "ip mobile secure host 10.0.0.1 spi 100 key ascii k replay timestamp within 0", 1, "replay timestamp within (seconds) must be 1-65535, found 0";
    secure_trailing: "ip mobile secure host 10.0.0.1 spi 100 key ascii k extra", 1, "unexpected \"extra\"; expected `algorithm`, `replay timestamp` or end of line";
    secure_home_agent_range_too_wide: "ip mobile secure home-agent 10.0.0.0 10.0.4.0 spi 100 key ascii k", 1, "an `ip mobile secure home-agent` range covers at most 1024 addresses, found 1025";
    secure_foreign_agent_range_too_wide: "ip mobile secure foreign-agent 10.0.0.0 10.255.255.255 spi 100 key ascii k", 1, "an `ip mobile secure foreign-agent` range covers at most 1024 addresses, found 16777216";
    secure_overlap: "ip mobile secure host 10.0.0.1 10.0.0.9 spi 100 key ascii k\nip mobile secure host 10.0.0.9 spi 101 key ascii k", 2, "overlaps the association for 10.0.0.1 10.0.0.9; remove it first with `no ip mobile secure host 10.0.0.1 10.0.0.9`";

    // --- foreign agent
    fa_reg_wait_range: "ip mobile foreign-agent reg-wait 1", 1, "reg-wait (seconds) must be 5-600, found 1";
    fa_unknown: "ip mobile foreign-agent carry", 1, "unexpected \"carry\"; expected `care-of INTERFACE`, `reg-wait N` or end of line";
    fa_care_of_missing: "ip mobile foreign-agent care-of", 1, "expected an interface name";
    fa_second_care_of: "ip mobile foreign-agent care-of fa0\nip mobile foreign-agent care-of eth1", 2, "one care-of interface is supported, and FastEthernet0 is it; remove it first with `no ip mobile foreign-agent care-of FastEthernet0`";
    fa_two_care_of_in_a_line: "ip mobile foreign-agent care-of fa0 care-of eth1", 1, "one care-of interface is supported; this line names FastEthernet0 and eth1";
    bindupdate_trailing: "ip mobile bindupdate acknowledge", 1, "unexpected \"acknowledge\"; expected `ack` or end of line";

    // --- proxy Mobile IP, global
    proxy_enable_on_repeater: "interface dot11radio 0\nstation-role repeater\nexit\nip proxy-mobile enable", 4, "proxy Mobile IP works only on a root access point, and Dot11Radio0 is `station-role repeater`";
    proxy_unknown: "ip proxy-mobile start", 1, "expected `enable`, `aap`, `secure node`, `tunnel`, `pause` or `subnet-map` after ip proxy-mobile, found \"start\"";
    proxy_enable_trailing: "ip proxy-mobile enable now", 1, "unexpected \"now\"; expected end of line";
    aap_none: "ip proxy-mobile aap", 1, "expected the address of an authoritative access point at end of line";
    aap_bad: "ip proxy-mobile aap 10.0.0.1 -x", 1, "expected the address or host name of an authoritative access point, found \"-x\"";
    aap_four: "ip proxy-mobile aap 10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4", 1, "at most three authoritative access points (the Aironet documentation: \"up to three AAPs\"), found 4";
    aap_twice: "ip proxy-mobile aap 10.0.0.1 10.0.0.1", 1, "AAP 10.0.0.1 is listed twice";
    node_missing_keyword: "ip proxy-mobile secure 10.0.0.1 spi 100 key ascii k", 1, "expected `node` after ip proxy-mobile secure, found \"10.0.0.1\"";
    node_hex_short: "ip proxy-mobile secure node 10.0.0.1 spi 100 key hex 0011", 1, "key hex must be exactly 32 hexadecimal digits (a 128-bit key, the Aironet documentation), found 4 digits";
    node_hex_long: "ip proxy-mobile secure node 10.0.0.1 spi 100 key hex 00112233445566778899aabbccddeeff00", 1, "found 34 digits";
    node_ascii_long: "ip proxy-mobile secure node 10.0.0.1 spi 100 key ascii 12345678901234567", 1, "key ascii must be 1 to 16 characters (the Aironet documentation: up to 16 characters), found 17 characters";
    node_spi_reserved: "ip proxy-mobile secure node 10.0.0.1 spi 0 key ascii k", 1, "SPI 0 (hex) is reserved";
    node_overlap: "ip proxy-mobile secure node 10.0.0.1 10.0.0.5 spi 100 key ascii k\nip proxy-mobile secure node 10.0.0.5 10.0.0.8 spi 100 key ascii k", 2, "overlaps the association for 10.0.0.1 10.0.0.5; remove it first with `no ip proxy-mobile secure node 10.0.0.1 10.0.0.5`";
    node_backwards: "ip proxy-mobile secure node 10.0.0.5 10.0.0.1 spi 100 key ascii k", 1, "the end address 10.0.0.1 is below the start address 10.0.0.5";
    tunnel_bad: "ip proxy-mobile tunnel ipip", 1, "expected `gre` or `reverse` after ip proxy-mobile tunnel, found \"ipip\"";
    pause_trailing: "ip proxy-mobile pause 5", 1, "unexpected \"5\"; expected end of line";

    // --- interface mode
    ssid_not_radio: "interface fa0\nssid tsunami", 2, "`ssid` is only valid in a radio interface (Dot11Radio0 or Dot11Radio1), not FastEthernet0";
    ssid_missing: "interface do0\nssid", 2, "expected an SSID (1 to 32 characters) at end of line";
    ssid_too_long: "interface do0\nssid abcdefghijklmnopqrstuvwxyz0123456", 2, "an SSID is 1 to 32 characters (IEEE 802.11), found 33 characters";
    station_role_not_radio: "interface bvi1\nstation-role root", 2, "`station-role` is only valid in a radio interface";
    station_role_bad: "interface do0\nstation-role master", 2, "expected `root`, `repeater`, `non-root` or `workgroup-bridge` after station-role, found \"master\"";
    station_role_repeater_with_proxy: "ip proxy-mobile enable\ninterface do0\nstation-role repeater", 3, "proxy Mobile IP is configured and works only on a root access point";
    station_role_repeater_with_ssid_proxy: "interface do0\nssid a\nip proxy-mobile\nexit\nstation-role repeater", 5, "proxy Mobile IP is configured";
    interface_proxy_on_repeater: "interface do1\nstation-role repeater\ninterface fa0\nip proxy-mobile", 4, "Dot11Radio1 is `station-role repeater`";
    address_dhcp_not_bvi: "interface fa0\nip address dhcp", 2, "`ip address dhcp` is supported on BVI1 (the access point's own address) only, not FastEthernet0";
    address_dhcp_trailing: "interface bvi1\nip address dhcp client-id fa0", 2, "unexpected \"client-id\"; expected end of line";
    address_dhcp_with_foreign_service: "interface bvi1\nip mobile foreign-service\nip address dhcp", 3, "BVI1 has `ip mobile foreign-service`, and a foreign agent needs a static address";
    foreign_service_on_dhcp: "interface bvi1\nip address dhcp\nip mobile foreign-service", 3, "BVI1 takes its address by DHCP, and a foreign agent needs a static address";
    secondary_on_dhcp: "interface bvi1\nip address dhcp\nip address 10.0.0.1 255.0.0.0 secondary", 3, "BVI1 takes its address by DHCP; a secondary address needs a static primary one";
    address_bad_mask: "interface bvi1\nip address 10.0.0.1 255.255.0.255", 2, "bad mask 255.255.0.255";
    address_missing_mask: "interface bvi1\nip address 10.0.0.1", 2, "expected a subnet mask (dotted IPv4 address) at end of line";
    address_zero_mask: "interface bvi1\nip address 10.0.0.1 0.0.0.0", 2, "bad mask 0.0.0.0 for an interface address";
    address_network: "interface bvi1\nip address 10.0.0.0 255.255.255.0", 2, "10.0.0.0 is the network address of 10.0.0.0/24";
    address_broadcast: "interface bvi1\nip address 10.0.0.255 255.255.255.0", 2, "10.0.0.255 is the broadcast address of 10.0.0.0/24";
    address_unspecified: "interface bvi1\nip address 0.0.0.0 255.255.255.0", 2, "0.0.0.0 cannot be an interface address";
    address_secondary_first: "interface bvi1\nip address 10.0.0.1 255.255.255.0 secondary", 2, "configure the primary address before a secondary one";
    address_trailing: "interface bvi1\nip address 10.0.0.1 255.255.255.0 primary", 2, "unexpected \"primary\"; expected `secondary` or end of line";
    description_empty: "interface fa0\ndescription", 2, "expected the description text at end of line";
    shutdown_trailing: "interface fa0\nshutdown now", 2, "unexpected \"now\"; expected end of line";
    irdp_unknown: "interface fa0\nip irdp address 10.0.0.1", 2, "expected `multicast`, `preference N`, `maxadvertinterval N`, `minadvertinterval N`, `holdtime N` or end of line after ip irdp, found \"address\"";
    irdp_max_range: "interface fa0\nip irdp maxadvertinterval 3", 2, "maxadvertinterval (seconds) must be 4-1800, found 3";
    irdp_min_range: "interface fa0\nip irdp minadvertinterval 2", 2, "minadvertinterval (seconds) must be 3-1800, found 2";
    irdp_holdtime_range: "interface fa0\nip irdp holdtime 9001", 2, "holdtime (seconds) must be 4-9000, found 9001";
    irdp_min_above_max: "interface fa0\nip irdp maxadvertinterval 100\nip irdp minadvertinterval 200", 3, "minadvertinterval 200 would exceed maxadvertinterval 100 (RFC 1256: min <= max)";
    irdp_min_above_default_max: "interface fa0\nip irdp minadvertinterval 700", 2, "minadvertinterval 700 would exceed maxadvertinterval 600";
    irdp_holdtime_below_max: "interface fa0\nip irdp holdtime 100", 2, "holdtime 100 would be below maxadvertinterval 600 (RFC 1256: holdtime >= max)";
    irdp_max_above_holdtime: "interface fa0\nip irdp holdtime 700\nip irdp maxadvertinterval 800", 3, "holdtime 700 would be below maxadvertinterval 800";
    irdp_no_max_breaks_min: "interface fa0\nip irdp maxadvertinterval 1000\nip irdp minadvertinterval 700\nno ip irdp maxadvertinterval", 4, "minadvertinterval 700 would exceed maxadvertinterval 600";
    irdp_preference_bad: "interface fa0\nip irdp preference high", 2, "expected a preference level (a signed 32-bit number), found \"high\"";
    foreign_service_unknown: "interface fa0\nip mobile foreign-service gre", 2, "expected `home-access ACL`, `limit N`, `registration-required`, `reverse-tunnel [mandatory]` or end of line";
    foreign_service_limit: "interface fa0\nip mobile foreign-service limit 0", 2, "limit (visitors) must be 1-1000, found 0";
    foreign_service_acl_missing: "interface fa0\nip mobile foreign-service home-access", 2, "expected a standard access list number (1-99, 1300-1999) or name after home-access at end of line";
    foreign_service_acl_extended: "interface fa0\nip mobile foreign-service home-access 101", 2, "home-access takes a standard access list (1-99, 1300-1999), found 101";
    foreign_service_acl_zero: "interface fa0\nip mobile foreign-service limit 5 home-access 0", 2, "home-access takes a standard access list (1-99, 1300-1999), found 0";
    foreign_service_acl_bad_name: "interface fa0\nip mobile foreign-service home-access 1x", 2, "expected a standard access list number (1-99, 1300-1999) or name after home-access, found \"1x\"";
    registration_lifetime_range: "interface fa0\nip mobile registration-lifetime 70000", 2, "registration-lifetime (seconds) must be 3-65535, found 70000";
    prefix_length_trailing: "interface fa0\nip mobile prefix-length 24", 2, "unexpected \"24\"; expected end of line";

    // --- SSID mode
    ssid_vlan: "interface do0\nssid guests\nvlan 10", 3, "VLANs are not supported: pmip's AP bridges every SSID into BVI1 untagged, so the stations of SSID guests would not be on VLAN 10; remove the line";
    ssid_vlan_with_proxy: "interface do0\nssid tsunami\nip proxy-mobile\nvlan 10", 4, "SSID tsunami has `ip proxy-mobile`, and proxy Mobile IP is not supported on an SSID with a VLAN (the Aironet documentation)";
    ssid_proxy_on_repeater: "interface do0\nstation-role repeater\nssid a\nip proxy-mobile", 4, "Dot11Radio0 is `station-role repeater`";
    ssid_vlan_range: "interface do0\nssid tsunami\nvlan 4095", 3, "vlan must be 1-4094, found 4095";


    // --- access lists
    acl_number_missing: "access-list", 1, "expected a standard access list number (1-99, 1300-1999) at end of line";
    acl_number_bad: "access-list ten permit any", 1, "expected a standard access list number (1-99, 1300-1999), found \"ten\"";
    acl_zero: "access-list 0 permit any", 1, "access list 0 is not a standard IP access list; use 1-99 or 1300-1999";
    acl_extended: "access-list 101 permit ip any any", 1, "access list 101 would be an extended list, which is not supported; use a standard list (1-99, 1300-1999)";
    acl_expanded_extended: "access-list 2000 permit ip any any", 1, "access list 2000 would be an extended list";
    acl_other_kind: "access-list 700 permit 0000.0c00.0000 0000.00ff.ffff", 1, "access list 700 is not a standard IP access list";
    acl_huge_number: "access-list 99999999999999999999999 permit any", 1, "is not a standard IP access list";
    acl_action_missing: "access-list 10", 1, "expected `permit`, `deny` or `remark` after the access list number at end of line";
    acl_action_bad: "access-list 10 allow any", 1, "expected `permit`, `deny` or `remark` after the access list number, found \"allow\"";
    acl_source_missing: "access-list 10 permit", 1, "expected a source address (A [WILDCARD]), `host A` or `any` at end of line";
    acl_source_bad: "access-list 10 deny 10.0.0", 1, "expected a source address (A [WILDCARD]), `host A` or `any`, found \"10.0.0\"";
    acl_host_missing: "access-list 10 permit host", 1, "expected the host address after host (dotted IPv4 address) at end of line";
    acl_log: "access-list 10 permit 10.0.0.0 0.0.0.255 log", 1, "`log` is not supported: pmip logs no access list matches; remove it";
    acl_trailing: "access-list 10 permit any 10.0.0.1", 1, "unexpected \"10.0.0.1\"; expected end of line";
    acl_three_addresses: "access-list 10 permit 10.0.0.0 0.0.0.255 10.0.0.1", 1, "unexpected \"10.0.0.1\"; expected end of line";
    acl_remark_empty: "access-list 10 remark", 1, "expected the remark text at end of line";
    acl_remark_long: "access-list 10 remark aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1, "a remark is at most 100 characters (IOS), found 101";
    acl_no_entry: "access-list 10 permit any\nno access-list 10 permit any", 2, "`no access-list 10 ...` removes the whole list in IOS, not one entry; give `no access-list 10` to remove it";
    acl_named: "ip access-list standard campus", 1, "named access lists (`ip access-list`) are not supported; use a numbered standard list, `access-list N {permit | deny} ...` with N 1-99 or 1300-1999";
    acl_named_no: "no ip access-list extended campus", 1, "named access lists (`ip access-list`) are not supported";
    acl_in_interface: "interface fa0\nip access-list standard 10", 2, "named access lists (`ip access-list`) are not supported";

    // --- AAA / RADIUS
    aaa_unknown: "aaa authentication login default local", 1, "expected `new-model` or `authorization ipmobile` after aaa, found \"authentication\"";
    aaa_authorization_other: "aaa authorization network default group radius", 1, "expected `ipmobile` (the only authorization here) after aaa authorization, found \"network\"";
    aaa_tacacs: "aaa authorization ipmobile tacacs+", 1, "TACACS+ is not supported";
    aaa_list_bad: "aaa authorization ipmobile local", 1, "expected `default` or `radius`, found \"local\"";
    aaa_group_other: "aaa authorization ipmobile default group tacacs", 1, "only `group radius` is supported";
    aaa_group_missing: "aaa authorization ipmobile default group", 1, "expected a server group name after group at end of line";
    radius_unknown: "radius-server deadtime 5", 1, "expected `host`, `timeout`, `retransmit` or `key` after radius-server, found \"deadtime\"";
    radius_host_bad: "radius-server host radius1", 1, "expected the RADIUS server address (dotted IPv4 address), found \"radius1\"";
    radius_port_range: "radius-server host 10.0.0.5 auth-port 70000 key k", 1, "auth-port must be 1-65535, found 70000";
    radius_option_bad: "radius-server host 10.0.0.5 priority 1", 1, "expected `auth-port N`, `acct-port N`, `timeout N`, `retransmit N`, `key SECRET` or end of line";
    radius_key_missing: "radius-server host 10.0.0.5 key", 1, "expected the shared secret after key at end of line";
    radius_key_type7: "radius-server key 7 0822455D0A16", 1, "encrypted (type 7) keys are not supported";
    radius_key_masked: "radius-server host 10.0.0.5 key ********", 1, "the key is masked";
    radius_timeout_range: "radius-server timeout 0", 1, "timeout (seconds) must be 1-1000, found 0";
    radius_retransmit_bad: "radius-server retransmit many", 1, "expected a number for retransmit (0-100), found \"many\"";
}

#[test]
fn error_display_format() {
    let err = Config::parse("hostname ha\nip mobile secure host 10.0.0.1 spi x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 2: \"ip mobile secure host 10.0.0.1 spi x\" — expected the SPI in hexadecimal as IOS writes it \
         (100-FFFFFFFF; RFC 5944 reserves 0-FF), found \"x\""
    );
}

#[test]
fn parse_all_collects_every_error_and_keeps_the_rest() {
    let text = "hostname ap\nip proxy-mobile aap\ninterface do0\nssid a\nvlan 9000\nip proxy-mobile\nbogus\n";
    let (c, errors) = Config::parse_all(text);
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 5, 7]);
    assert_eq!(c.hostname.as_deref(), Some("ap"));
    assert!(c.interface("do0").unwrap().ssid("a").unwrap().proxy_mobile);
    // parse stops at the first.
    assert_eq!(Config::parse(text).unwrap_err().line, 2);
}

#[test]
fn line_numbers_count_comments_and_blank_lines() {
    let text = "! comment\n\n# other comment\n   \nhostname ok\n  ! indented comment\nno";
    assert_eq!(Config::parse(text).unwrap_err().line, 7);
    let crlf = "hostname a\r\n\r\nbogus\r\n";
    let e = Config::parse(crlf).unwrap_err();
    assert_eq!((e.line, e.text.as_str()), (3, "bogus"));
}

#[test]
fn apply_line_reports_line_one() {
    let mut c = Config::default();
    let mut mode = Mode::Global;
    let e = c.apply_line(&mut mode, "ip proxy-mobile aap").unwrap_err();
    assert_eq!(e.line, 1);
    let e = c
        .apply_line_numbered(&mut mode, "ip proxy-mobile aap", 42)
        .unwrap_err();
    assert_eq!(e.line, 42);
}

#[test]
fn a_masked_key_named_as_such_even_in_ascii() {
    refuse(
        "ip proxy-mobile secure node 10.0.0.1 spi 100 key ascii ********",
        1,
        "the key is masked",
    );
}
