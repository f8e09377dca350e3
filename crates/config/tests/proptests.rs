//! Property tests: no input panics the parser, and whatever configuration
//! the accepted lines of any input build prints (keys shown) to text that
//! parses back to the same configuration.

use proptest::prelude::*;

use pmip_config::{Config, Mode};

/// Words the grammar uses, so random mixtures reach deep into it.
const WORDS: &[&str] = &[
    "no",
    "ip",
    "mobile",
    "proxy-mobile",
    "interface",
    "hostname",
    "router",
    "home-agent",
    "foreign-agent",
    "host",
    "secure",
    "visitor",
    "spi",
    "key",
    "hex",
    "ascii",
    "algorithm",
    "md5",
    "mode",
    "prefix-suffix",
    "hmac-md5",
    "replay",
    "timestamp",
    "within",
    "lifetime",
    "broadcast",
    "care-of",
    "reg-wait",
    "foreign-service",
    "reverse-tunnel",
    "registration-required",
    "registration-lifetime",
    "irdp",
    "maxadvertinterval",
    "minadvertinterval",
    "holdtime",
    "enable",
    "aap",
    "node",
    "tunnel",
    "gre",
    "reverse",
    "pause",
    "ssid",
    "vlan",
    "station-role",
    "repeater",
    "root",
    "exit",
    "end",
    "bindupdate",
    "ack",
    "address",
    "route",
    "default-gateway",
    "shutdown",
    "description",
    "aaa",
    "new-model",
    "radius-server",
    "auth-port",
    "key",
    "fastethernet",
    "0",
    "1",
    "dot11radio",
    "bvi1",
    "fa0",
    "eth0",
    "10.0.0.1",
    "10.0.0.5",
    "255.255.255.0",
    "100",
    "102",
    "36000",
    "!",
    "#",
    "secondary",
    "tsunami",
    "********",
    "7",
    "ff",
    "00112233445566778899aabbccddeeff",
    "0987654",
    "configure",
    "terminal",
    "ap1200(config)#",
    "multicast",
    "access-list",
    "permit",
    "deny",
    "any",
    "home-access",
    "prefix-length",
    "preference",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_string),
        1 => "[ -~]{0,12}",
        1 => any::<String>(),
        1 => (0u32..70000).prop_map(|n| n.to_string()),
        1 => (0u8..4, 0u8..12).prop_map(|(a, b)| format!("10.0.{a}.{b}")),
    ]
}

/// A line of random grammar words.
fn soup_line() -> impl Strategy<Value = String> {
    (proptest::collection::vec(word(), 0..9), "[ \t]{0,3}")
        .prop_map(|(w, indent)| format!("{indent}{}", w.join(" ")))
}

fn addr() -> impl Strategy<Value = String> {
    (0u8..3, 0u8..30).prop_map(|(a, b)| format!("10.0.{a}.{b}"))
}

fn range() -> impl Strategy<Value = String> {
    (addr(), proptest::option::of(addr())).prop_map(|(l, h)| match h {
        Some(h) => format!("{l} {h}"),
        None => l,
    })
}

fn sa_tail() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("100".to_string()),
            Just("ff".to_string()),
            (0x100u32..0x400).prop_map(|s| format!("{s:x}"))
        ],
        prop_oneof![
            Just("hex 00112233445566778899aabbccddeeff".to_string()),
            Just("hex 0011".to_string()),
            "[!-~]{1,18}".prop_map(|k| format!("ascii {k}")),
        ],
        prop_oneof![
            Just(""),
            Just(" algorithm hmac-md5"),
            Just(" algorithm md5 mode prefix-suffix"),
            Just(" replay timestamp within 9"),
            Just(" algorithm hmac-md5 replay timestamp 3"),
        ],
    )
        .prop_map(|(spi, key, opt)| format!("spi {spi} key {key}{opt}"))
}

fn ifname() -> impl Strategy<Value = String> {
    proptest::sample::select(
        &[
            "fastethernet 0",
            "fa1",
            "dot11radio 0",
            "Dot11Radio1",
            "bvi1",
            "eth0",
            "veth-x",
            "GigabitEthernet0/1",
        ][..],
    )
    .prop_map(str::to_string)
}

/// A mostly well-formed line of any command, with random arguments.
fn command_line() -> impl Strategy<Value = String> {
    let no = prop_oneof![4 => Just(""), 1 => Just("no ")];
    let cmd = prop_oneof![
        "[a-zA-Z][a-zA-Z0-9-]{0,8}".prop_map(|h| format!("hostname {h}")),
        ifname().prop_map(|i| format!("interface {i}")),
        Just("router mobile".to_string()),
        Just("exit".to_string()),
        Just("end".to_string()),
        (
            addr(),
            prop_oneof![
                Just("255.255.255.0"),
                Just("255.255.0.0"),
                Just("255.255.255.255")
            ],
            any::<bool>()
        )
            .prop_map(|(a, m, s)| format!(
                "ip address {a} {m}{}",
                if s { " secondary" } else { "" }
            )),
        Just("shutdown".to_string()),
        "[ -~]{1,20}".prop_map(|d| format!("description {d}")),
        (
            addr(),
            prop_oneof![Just("255.255.255.0"), Just("0.0.0.0")],
            prop_oneof![addr(), ifname()],
            proptest::option::of(1u16..300)
        )
            .prop_map(|(p, m, t, d)| format!(
                "ip route {p} {m} {t}{}",
                d.map(|d| format!(" {d}")).unwrap_or_default()
            )),
        addr().prop_map(|a| format!("ip default-gateway {a}")),
        (
            proptest::option::of(1u32..70000),
            proptest::option::of(0u32..300),
            any::<bool>()
        )
            .prop_map(|(l, r, b)| {
                let mut s = "ip mobile home-agent".to_string();
                if let Some(l) = l {
                    s += &format!(" lifetime {l}");
                }
                if let Some(r) = r {
                    s += &format!(" replay {r}");
                }
                if b {
                    s += " broadcast";
                }
                s
            }),
        (
            range(),
            prop_oneof![
                ifname().prop_map(|i| format!(" interface {i}")),
                Just(" aaa".into()),
                Just(" aaa load-sa permanent".into()),
                Just(String::new())
            ],
            proptest::option::of(1u32..70000)
        )
            .prop_map(|(r, i, l)| format!(
                "ip mobile host {r}{i}{}",
                l.map(|l| format!(" lifetime {l}")).unwrap_or_default()
            )),
        (
            proptest::sample::select(&["host", "visitor", "home-agent", "foreign-agent"][..]),
            range(),
            sa_tail()
        )
            .prop_map(|(p, r, t)| format!("ip mobile secure {p} {r} {t}")),
        (range(), sa_tail()).prop_map(|(r, t)| format!("ip proxy-mobile secure node {r} {t}")),
        ifname().prop_map(|i| format!("ip mobile foreign-agent care-of {i}")),
        (1u32..700).prop_map(|n| format!("ip mobile foreign-agent reg-wait {n}")),
        Just("ip mobile foreign-agent".to_string()),
        Just("ip mobile bindupdate".to_string()),
        Just("ip mobile bindupdate ack".to_string()),
        (1u32..70000).prop_map(|n| format!("ip mobile registration-lifetime {n}")),
        Just("ip mobile prefix-length".to_string()),
        proptest::sample::select(
            &[
                "",
                " registration-required",
                " reverse-tunnel",
                " reverse-tunnel mandatory",
                " home-access 7 limit 3",
                " home-access campus",
                " home-access 1300 reverse-tunnel"
            ][..]
        )
        .prop_map(|o| format!("ip mobile foreign-service{o}")),
        Just("ip irdp".to_string()),
        Just("ip irdp multicast".to_string()),
        (-3i32..3).prop_map(|p| format!("ip irdp preference {p}")),
        (
            proptest::sample::select(&["maxadvertinterval", "minadvertinterval", "holdtime"][..]),
            2u32..2500
        )
            .prop_map(|(k, v)| format!("ip irdp {k} {v}")),
        Just("ip proxy-mobile".to_string()),
        Just("ip proxy-mobile enable".to_string()),
        Just("ip proxy-mobile pause".to_string()),
        Just("ip proxy-mobile tunnel gre".to_string()),
        Just("ip proxy-mobile tunnel reverse".to_string()),
        proptest::collection::vec(prop_oneof![addr(), "[a-z][a-z0-9]{0,5}"], 0..5)
            .prop_map(|a| format!("ip proxy-mobile aap {}", a.join(" "))),
        "[!-~]{1,10}".prop_map(|s| format!("ssid {s}")),
        (0u32..5000).prop_map(|v| format!("vlan {v}")),
        proptest::sample::select(&["root", "repeater", "non-root", "root ap-only"][..])
            .prop_map(|r| format!("station-role {r}")),
        (
            proptest::sample::select(&[1u32, 10, 99, 100, 1300, 1999, 2000][..]),
            prop_oneof![
                Just("permit any".to_string()),
                Just("remark a  b".to_string()),
                Just("deny any log".to_string()),
                addr().prop_map(|a| format!("deny host {a}")),
                addr().prop_map(|a| format!("permit {a}")),
                (addr(), addr()).prop_map(|(a, w)| format!("permit {a} {w}")),
            ]
        )
            .prop_map(|(n, e)| format!("access-list {n} {e}")),
        Just("access-list 10".to_string()),
        Just("ip access-list standard x".to_string()),
        Just("aaa new-model".to_string()),
        Just("aaa authorization ipmobile default group radius".to_string()),
        (addr(), proptest::option::of(1u32..70000), "[ -~]{0,12}").prop_map(|(a, p, k)| {
            format!(
                "radius-server host {a}{} key {k}",
                p.map(|p| format!(" auth-port {p}")).unwrap_or_default()
            )
        }),
        "[ -~]{0,12}".prop_map(|k| format!("radius-server key {k}")),
        (0u32..2000).prop_map(|t| format!("radius-server timeout {t}")),
    ];
    (no, cmd, "[ ]{0,2}").prop_map(|(n, c, indent)| format!("{indent}{n}{c}"))
}

/// Lines, and `interface` blocks whose lines are mostly interface or
/// SSID commands.
fn config_text() -> impl Strategy<Value = String> {
    let block = prop_oneof![
        6 => command_line(),
        1 => soup_line(),
        3 => (ifname(), proptest::collection::vec(command_line(), 0..8))
            .prop_map(|(i, lines)| format!("interface {i}\n{}", lines.join("\n"))),
    ];
    proptest::collection::vec(block, 0..25).prop_map(|l| l.join("\n"))
}

fn round_trips(c: &Config) -> Result<(), TestCaseError> {
    let text = c.running_config(true);
    let again = Config::parse(&text)
        .map_err(|e| TestCaseError::fail(format!("{e}\n--- printed:\n{text}")))?;
    prop_assert_eq!(&again, c, "printed:\n{}", text);
    prop_assert_eq!(again.running_config(true), text);
    // The masked form never panics either, and hides ascii keys.
    let _ = c.running_config(false);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = Config::parse(&text);
        let (c, _) = Config::parse_all(&text);
        round_trips(&c)?;
    }

    #[test]
    fn arbitrary_lines_in_every_mode_never_panic(line in any::<String>(), mode in 0u8..4) {
        let mut c = Config::parse(include_str!("data/ap.cfg")).unwrap();
        let mut m = match mode {
            0 => Mode::Global,
            1 => Mode::Interface("Dot11Radio0".into()),
            2 => Mode::Ssid { interface: "Dot11Radio0".into(), ssid: "tsunami".into() },
            _ => Mode::RouterMobile,
        };
        let before = c.clone();
        if c.apply_line(&mut m, &line).is_err() {
            prop_assert_eq!(&c, &before);
        }
    }

    #[test]
    fn grammar_word_soup_never_panics_and_round_trips(lines in proptest::collection::vec(soup_line(), 0..30)) {
        let (c, _) = Config::parse_all(&lines.join("\n"));
        round_trips(&c)?;
    }

    #[test]
    fn random_command_mixtures_round_trip(text in config_text()) {
        let (c, errors) = Config::parse_all(&text);
        // parse stops exactly at parse_all's first error.
        match Config::parse(&text) {
            Ok(p) => { prop_assert!(errors.is_empty()); prop_assert_eq!(&p, &c); }
            Err(e) => prop_assert_eq!(Some(&e), errors.first()),
        }
        round_trips(&c)?;
    }
}
