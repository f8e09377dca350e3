//! Configuration lines as IOS takes them: every keyword by a unique
//! prefix, in any case. An abbreviation that fits several keywords is
//! refused as ambiguous, naming them; names, addresses and numbers stay
//! as written.

use pmip_config::Config;

const FULL: &str = "hostname r1
interface FastEthernet0
 ip address 10.1.0.1 255.255.255.0
 ip irdp
 ip irdp preference 3
 ip mobile foreign-service
router mobile
ip mobile home-agent lifetime 300
ip mobile host 10.1.0.50 10.1.0.99 interface FastEthernet0
ip mobile secure host 10.1.0.50 10.1.0.99 spi 100 key ascii secret-key algorithm hmac-md5
";

const ABBREVIATED: &str = "host r1
INT FastEthernet0
 ip add 10.1.0.1 255.255.255.0
 ip irdp
 ip irdp pref 3
 ip mob foreign-s
router mob
ip mob home-agent lif 300
ip mob hos 10.1.0.50 10.1.0.99 int FastEthernet0
ip mob sec host 10.1.0.50 10.1.0.99 spi 100 key ascii secret-key alg hmac-md5
";

#[test]
fn abbreviated_keywords_configure_what_the_full_ones_do() {
    let full = Config::parse(FULL).expect("the full configuration");
    let short = Config::parse(ABBREVIATED).expect("the abbreviated configuration");
    assert_eq!(short, full);
    assert_eq!(short.running_config(true), full.running_config(true));
}

#[test]
fn an_abbreviation_of_several_keywords_is_refused_naming_them() {
    let e = Config::parse("router mobile\nip mobile h 10.1.0.50 10.1.0.99\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(
        e.reason.contains("ambiguous")
            && e.reason.contains("home-agent")
            && e.reason.contains("host"),
        "{}",
        e.reason
    );
}

#[test]
fn a_line_that_is_wrong_still_says_why() {
    // Written out, `lif` is `lifetime`, and the lifetime is out of range.
    let e = Config::parse("router mobile\nip mob home-agent lif 0x\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(!e.reason.is_empty());
    // Nothing to write out: the reason is the parser's own.
    let e = Config::parse("frobnicate now\n").unwrap_err();
    assert!(e.reason.contains("unknown command"), "{}", e.reason);
}

#[test]
fn the_keywords_that_may_follow_a_line_typed_so_far() {
    use pmip_config::Mode;
    let after = |mode: &Mode, line: &str| {
        Config::keywords_after(mode, &line.split_whitespace().collect::<Vec<_>>())
    };
    let g = Mode::Global;
    let ip_mobile = after(&g, "ip mobile");
    for k in [
        "home-agent",
        "host",
        "secure",
        "foreign-agent",
        "bindupdate",
    ] {
        assert!(ip_mobile.contains(&k), "{k} in {ip_mobile:?}");
    }
    // Abbreviated words before the cursor count as written out.
    assert_eq!(after(&g, "ip mob"), ip_mobile);
    assert!(after(&g, "ip mob home-agent").contains(&"lifetime"));
    assert!(after(&g, "").contains(&"interface"));
    assert!(after(&g, "").contains(&"hostname"));
    // An interface's own commands in interface mode.
    let fa0 = Mode::Interface("FastEthernet0".into());
    assert!(after(&fa0, "ip irdp").contains(&"preference"));
    // A value comes next: no keyword.
    assert!(after(&g, "hostname").is_empty());
}
