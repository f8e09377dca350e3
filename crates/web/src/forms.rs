//! Form bodies and their validation: every value is checked here, before
//! anything reaches `configure`, and a bad one is refused with the name of
//! its field. The rules are the configuration parser's (crates/config), so
//! a value accepted here is one `configure` accepts.

use pmip_config::{Config, KEY_MASK};
use std::net::Ipv4Addr;

/// An `application/x-www-form-urlencoded` body, keys in order, repeated
/// keys kept (checkbox lists).
#[derive(Debug, Default, Clone)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    }

    /// The first value, or "" when absent.
    pub fn text(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// A refused form value: the field's label as the page shows it, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn bad(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

fn ipv4(field: &'static str, text: &str) -> Result<Ipv4Addr, FieldError> {
    if text.is_empty() {
        return Err(bad(
            field,
            "required: a dotted IPv4 address such as 10.1.0.10",
        ));
    }
    text.parse()
        .map_err(|_| bad(field, format!("\"{text}\" is not a dotted IPv4 address")))
}

/// One SA binding as the page lists it (from `show ip proxy-mobile secure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaRow {
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
    pub spi: String,
    pub algorithm: String,
}

/// The address range words IOS writes: one address, or start and end.
fn range_words(start: Ipv4Addr, end: Ipv4Addr) -> String {
    if start == end {
        start.to_string()
    } else {
        format!("{start} {end}")
    }
}

/// The SA Binding page's "add" form: `ip proxy-mobile secure node START
/// [END] spi SPI key {ascii|hex} KEY [algorithm hmac-md5]` (hex keys are
/// exactly 32 digits, ascii keys at most 16 characters).
pub fn sa_add(form: &Form, existing: &[SaRow]) -> Result<String, FieldError> {
    let start = ipv4("Start address", form.text("start"))?;
    let end = match form.text("end") {
        "" => start,
        t => ipv4("End address", t)?,
    };
    if end < start {
        return Err(bad(
            "End address",
            format!("{end} is below the start address {start}"),
        ));
    }
    let spi = form.text("spi");
    if spi.is_empty() || spi.len() > 8 || !spi.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(
            "SPI",
            "hexadecimal as IOS writes it, 100 to FFFFFFFF (e.g. 102)",
        ));
    }
    let spi_value = u32::from_str_radix(spi, 16).map_err(|_| bad("SPI", "not hexadecimal"))?;
    if spi_value < 0x100 {
        return Err(bad(
            "SPI",
            format!("{spi} is reserved: RFC 5944 reserves 0-FF; use 100 or more"),
        ));
    }
    let key = form.text("key");
    let kind = match form.text("key_type") {
        "ascii" => "ascii",
        "hex" => "hex",
        other => {
            return Err(bad(
                "Key type",
                format!("\"{other}\" is neither ascii nor hex"),
            ));
        }
    };
    if key.is_empty() {
        return Err(bad("Key", "required"));
    }
    if key == KEY_MASK {
        return Err(bad("Key", "give the key itself, not the mask"));
    }
    if kind == "hex" {
        if key.len() != 32 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(
                "Key",
                format!(
                    "a hex key is exactly 32 hexadecimal digits (128 bits), found {} characters",
                    key.len()
                ),
            ));
        }
    } else if key.len() > 16 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "Key",
            "an ascii key is 1 to 16 printable characters without spaces",
        ));
    }
    let algorithm = match form.text("algorithm") {
        "" | "md5" => "",
        "hmac-md5" => " algorithm hmac-md5",
        other => {
            return Err(bad(
                "Algorithm",
                format!("\"{other}\" is neither md5 nor hmac-md5"),
            ));
        }
    };
    if let Some(o) = existing
        .iter()
        .find(|r| !(r.start == start && r.end == end) && r.start <= end && start <= r.end)
    {
        return Err(bad(
            "Start address",
            format!(
                "{} overlaps the binding for {}; delete that one first",
                range_words(start, end),
                range_words(o.start, o.end)
            ),
        ));
    }
    Ok(format!(
        "ip proxy-mobile secure node {} spi {spi} key {kind} {key}{algorithm}",
        range_words(start, end)
    ))
}

/// The SA Binding page's "delete" button.
pub fn sa_delete(form: &Form) -> Result<String, FieldError> {
    let start = ipv4("Start address", form.text("start"))?;
    let end = match form.text("end") {
        "" => start,
        t => ipv4("End address", t)?,
    };
    Ok(format!(
        "no ip proxy-mobile secure node {}",
        range_words(start, end)
    ))
}

/// A host name as the parser takes it (AAPs may be named).
fn hostname_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

const AAP_FIELDS: [(&str, &str); 3] = [("aap1", "AAP 1"), ("aap2", "AAP 2"), ("aap3", "AAP 3")];

/// The Services > Proxy Mobile IP settings form: AAPs, tunnel options, and
/// which interfaces and SSIDs have `ip proxy-mobile`. Returns only the
/// lines that change something (empty: nothing to do).
pub fn services_apply(form: &Form, current: &Config) -> Result<Vec<String>, FieldError> {
    let mut aaps: Vec<&str> = Vec::new();
    for (name, label) in AAP_FIELDS {
        let v = form.text(name);
        if v.is_empty() {
            continue;
        }
        if v.parse::<Ipv4Addr>().is_err() && !hostname_ok(v) {
            return Err(bad(
                label,
                format!("\"{v}\" is not an IPv4 address or a host name"),
            ));
        }
        if aaps.contains(&v) {
            return Err(bad(label, format!("{v} is listed twice")));
        }
        aaps.push(v);
    }
    let p = &current.proxy_mobile;
    let mut lines = Vec::new();
    let now_aaps: Vec<String> = p.aaps.iter().map(|a| a.to_string()).collect();
    if now_aaps != aaps {
        if aaps.is_empty() {
            lines.push("no ip proxy-mobile aap".to_string());
        } else {
            lines.push(format!("ip proxy-mobile aap {}", aaps.join(" ")));
        }
    }
    for (field, on, now) in [
        ("tunnel_gre", "ip proxy-mobile tunnel gre", p.tunnel_gre),
        (
            "tunnel_reverse",
            "ip proxy-mobile tunnel reverse",
            p.tunnel_reverse,
        ),
    ] {
        let want = form.has(field);
        if want != now {
            lines.push(if want {
                on.to_string()
            } else {
                format!("no {on}")
            });
        }
    }
    for name in form.all("if") {
        if current.interfaces.iter().all(|i| i.name != name) {
            return Err(bad("Interfaces", format!("unknown interface \"{name}\"")));
        }
    }
    for v in form.all("ssid") {
        let known = v.split_once(' ').is_some_and(|(i, s)| {
            current
                .interfaces
                .iter()
                .any(|x| x.name == i && x.ssid(s).is_some())
        });
        if !known {
            return Err(bad("SSIDs", format!("unknown SSID \"{v}\"")));
        }
    }
    let mut block = Vec::new();
    for i in &current.interfaces {
        let mut here = Vec::new();
        let want = form.all("if").any(|n| n == i.name);
        if want != i.proxy_mobile {
            here.push(
                if want {
                    "ip proxy-mobile"
                } else {
                    "no ip proxy-mobile"
                }
                .to_string(),
            );
        }
        for s in &i.ssids {
            let key = format!("{} {}", i.name, s.name);
            let want = form.all("ssid").any(|v| v == key);
            if want != s.proxy_mobile {
                here.push(format!("ssid {}", s.name));
                here.push(
                    if want {
                        "ip proxy-mobile"
                    } else {
                        "no ip proxy-mobile"
                    }
                    .to_string(),
                );
                here.push("exit".to_string());
            }
        }
        if !here.is_empty() {
            block.push(format!("interface {}", i.name));
            block.extend(here);
            block.push("exit".to_string());
        }
    }
    lines.extend(block);
    Ok(lines)
}

/// Masks the key of any `key ascii K` / `key hex K` in `text` (a refusal
/// from `configure` quotes the whole line, key included).
pub fn redact_keys(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let after_key = i >= 2 && words[i - 2] == "key" && matches!(words[i - 1], "ascii" | "hex");
        if after_key && !w.is_empty() {
            // Keep the punctuation that closes the quoted line.
            let body = w.trim_end_matches(['"', ',', ';', '\'']);
            let tail = &w[body.len()..];
            out.push(format!("{KEY_MASK}{tail}"));
        } else {
            out.push((*w).to_string());
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn sa(pairs: &[(&str, &str)]) -> Result<String, FieldError> {
        sa_add(&form(pairs), &[])
    }

    #[test]
    fn urlencoded_bodies() {
        let f = Form::parse(b"a=1&if=FastEthernet0&if=BVI1&ssid=Dot11Radio0+tsunami&k=%20x%26y");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.all("if").collect::<Vec<_>>(), ["FastEthernet0", "BVI1"]);
        assert_eq!(f.get("ssid"), Some("Dot11Radio0 tsunami"));
        assert_eq!(f.get("k"), Some("x&y"));
        assert!(!f.has("b"));
    }

    #[test]
    fn sa_add_builds_the_walkthrough_line() {
        let line = sa(&[
            ("start", "10.91.7.151"),
            ("end", "10.91.7.176"),
            ("spi", "102"),
            ("key_type", "ascii"),
            ("key", "0987654"),
            ("algorithm", "md5"),
        ])
        .unwrap();
        assert_eq!(
            line,
            "ip proxy-mobile secure node 10.91.7.151 10.91.7.176 spi 102 key ascii 0987654"
        );
        let line = sa(&[
            ("start", "10.1.0.9"),
            ("spi", "1ff"),
            ("key_type", "hex"),
            ("key", "00112233445566778899aabbccddeeff"),
            ("algorithm", "hmac-md5"),
        ])
        .unwrap();
        assert_eq!(
            line,
            "ip proxy-mobile secure node 10.1.0.9 spi 1ff key hex 00112233445566778899aabbccddeeff algorithm hmac-md5"
        );
        // Whatever we build, the configuration parser takes.
        let mut c = Config::default();
        let mut mode = pmip_config::Mode::Global;
        c.apply_line(&mut mode, &line).unwrap();
        assert_eq!(c.proxy_mobile.nodes.len(), 1);
    }

    #[test]
    fn sa_add_names_the_bad_field() {
        let ok = [
            ("start", "10.1.0.1"),
            ("end", "10.1.0.9"),
            ("spi", "100"),
            ("key_type", "ascii"),
            ("key", "k"),
        ];
        let with = |k: &str, v: &str| {
            let mut p: Vec<(&str, &str)> = ok.iter().copied().filter(|(n, _)| *n != k).collect();
            p.push((k, v));
            sa(&p).unwrap_err()
        };
        assert_eq!(with("start", "").field, "Start address");
        assert_eq!(with("start", "10.1.0").field, "Start address");
        assert_eq!(with("end", "10.0.0.1").field, "End address");
        assert!(with("end", "10.0.0.1").message.contains("below"));
        assert_eq!(with("spi", "ff").field, "SPI");
        assert!(with("spi", "ff").message.contains("reserved"));
        assert_eq!(with("spi", "xyz").field, "SPI");
        assert_eq!(with("spi", "123456789").field, "SPI");
        assert_eq!(with("key", "").field, "Key");
        assert_eq!(with("key", "seventeen-chars-x").field, "Key");
        assert_eq!(with("key", "two words").field, "Key");
        assert_eq!(with("key", KEY_MASK).field, "Key");
        assert_eq!(with("key_type", "base64").field, "Key type");
        assert_eq!(with("algorithm", "sha1").field, "Algorithm");
        let mut hex = ok.to_vec();
        hex.retain(|(k, _)| *k != "key_type" && *k != "key");
        hex.push(("key_type", "hex"));
        hex.push(("key", "0011"));
        assert!(sa(&hex).unwrap_err().message.contains("32 hexadecimal"));
        // The error never repeats the key.
        assert!(
            !with("key", "seventeen-chars-x")
                .to_string()
                .contains("seventeen")
        );
    }

    #[test]
    fn sa_add_refuses_overlaps_but_replaces_the_same_range() {
        let existing = [SaRow {
            start: "10.1.0.10".parse().unwrap(),
            end: "10.1.0.20".parse().unwrap(),
            spi: "100".into(),
            algorithm: "KeyedMd5PrefixSuffix".into(),
        }];
        let f = |s: &str, e: &str| {
            sa_add(
                &form(&[
                    ("start", s),
                    ("end", e),
                    ("spi", "100"),
                    ("key_type", "ascii"),
                    ("key", "k"),
                ]),
                &existing,
            )
        };
        let e = f("10.1.0.15", "10.1.0.30").unwrap_err();
        assert_eq!(e.field, "Start address");
        assert!(e.message.contains("10.1.0.10 10.1.0.20"), "{e}");
        assert!(f("10.1.0.10", "10.1.0.20").is_ok(), "same range: replaced");
        assert!(f("10.1.0.21", "10.1.0.30").is_ok());
    }

    #[test]
    fn sa_delete_line() {
        assert_eq!(
            sa_delete(&form(&[("start", "10.1.0.1"), ("end", "10.1.0.1")])).unwrap(),
            "no ip proxy-mobile secure node 10.1.0.1"
        );
        assert_eq!(
            sa_delete(&form(&[("start", "x")])).unwrap_err().field,
            "Start address"
        );
    }

    const AP: &str = "\
interface FastEthernet0
 ip proxy-mobile
interface Dot11Radio0
 ip proxy-mobile
 ssid tsunami
  ip proxy-mobile
 ssid guest
interface BVI1
 ip address 10.2.0.2 255.255.255.0
ip proxy-mobile enable
ip proxy-mobile aap 10.1.0.2 10.2.0.2
";

    #[test]
    fn services_apply_emits_only_changes_and_they_parse() {
        let c = Config::parse(AP).unwrap();
        let same = form(&[
            ("aap1", "10.1.0.2"),
            ("aap2", "10.2.0.2"),
            ("if", "FastEthernet0"),
            ("if", "Dot11Radio0"),
            ("ssid", "Dot11Radio0 tsunami"),
        ]);
        assert!(services_apply(&same, &c).unwrap().is_empty());
        let changed = form(&[
            ("aap1", "10.1.0.2"),
            ("aap3", "aap-three"),
            ("tunnel_gre", "on"),
            ("if", "FastEthernet0"),
            ("if", "Dot11Radio0"),
            ("if", "BVI1"),
            ("ssid", "Dot11Radio0 guest"),
        ]);
        let lines = services_apply(&changed, &c).unwrap();
        assert_eq!(
            lines,
            [
                "ip proxy-mobile aap 10.1.0.2 aap-three",
                "ip proxy-mobile tunnel gre",
                "interface Dot11Radio0",
                "ssid tsunami",
                "no ip proxy-mobile",
                "exit",
                "ssid guest",
                "ip proxy-mobile",
                "exit",
                "exit",
                "interface BVI1",
                "ip proxy-mobile",
                "exit",
            ]
        );
        // Applied as `configure` would (one mode across the lines).
        let mut c2 = c.clone();
        let mut mode = pmip_config::Mode::Global;
        for l in &lines {
            c2.apply_line(&mut mode, l).unwrap();
        }
        assert!(c2.proxy_mobile.tunnel_gre);
        assert!(c2.interface("BVI1").unwrap().proxy_mobile);
        let radio = c2.interface("Dot11Radio0").unwrap();
        assert!(!radio.ssid("tsunami").unwrap().proxy_mobile);
        assert!(radio.ssid("guest").unwrap().proxy_mobile);
        assert!(
            services_apply(&changed, &c2).unwrap().is_empty(),
            "idempotent"
        );
        // No AAPs at all: the `no` form.
        let none = form(&[
            ("if", "FastEthernet0"),
            ("if", "Dot11Radio0"),
            ("ssid", "Dot11Radio0 tsunami"),
        ]);
        assert_eq!(
            services_apply(&none, &c).unwrap(),
            ["no ip proxy-mobile aap"]
        );
    }

    #[test]
    fn services_apply_names_the_bad_field() {
        let c = Config::parse(AP).unwrap();
        let e = services_apply(&form(&[("aap2", "10.1.0.300")]), &c).unwrap_err();
        assert_eq!(e.field, "AAP 2");
        let e = services_apply(&form(&[("aap1", "a b")]), &c).unwrap_err();
        assert_eq!(e.field, "AAP 1");
        let e =
            services_apply(&form(&[("aap1", "10.1.0.2"), ("aap3", "10.1.0.2")]), &c).unwrap_err();
        assert_eq!(e.field, "AAP 3");
        let e = services_apply(&form(&[("if", "eth9")]), &c).unwrap_err();
        assert_eq!(e.field, "Interfaces");
        let e = services_apply(&form(&[("ssid", "Dot11Radio0 nope")]), &c).unwrap_err();
        assert_eq!(e.field, "SSIDs");
    }

    #[test]
    fn keys_are_redacted_from_refusals() {
        let msg =
            "line 1: \"ip proxy-mobile secure node 10.1.0.1 spi 100 key ascii hunter2\" — overlaps";
        let r = redact_keys(msg);
        assert!(!r.contains("hunter2"), "{r}");
        assert!(r.contains("key ascii ********\""), "{r}");
        assert_eq!(redact_keys("no key here"), "no key here");
        let r = redact_keys("key hex 00112233445566778899aabbccddeeff, then");
        assert_eq!(r, "key hex ********, then");
    }
}
