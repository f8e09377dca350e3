//! From configuration text to [`Config`]: one line at a time, in a mode,
//! the way IOS's `configure terminal` reads it.
//!
//! A line is tried in the current mode; a command the mode does not know
//! is tried in the parent mode, which then becomes current (IOS does the
//! same, which is why a running-config needs no `exit` lines). A command
//! the mode knows but whose arguments are wrong is refused at once.
//! A refused line changes nothing.

use std::net::Ipv4Addr;

use crate::error::ConfigError;
use crate::ifname;
use crate::model::*;

/// Where the next line is read, as the IOS prompt shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// `(config)#`.
    #[default]
    Global,
    /// `(config-if)#` after `interface NAME` (normalised name).
    Interface(String),
    /// `(config-if-ssid)#` after `ssid NAME` in a radio interface.
    Ssid { interface: String, ssid: String },
    /// `(config-router)#` after `router mobile`.
    RouterMobile,
}

impl Mode {
    /// The mode `exit` returns to.
    pub fn parent(&self) -> Mode {
        match self {
            Mode::Global | Mode::Interface(_) | Mode::RouterMobile => Mode::Global,
            Mode::Ssid { interface, .. } => Mode::Interface(interface.clone()),
        }
    }

    /// The part of the prompt in parentheses: `config`, `config-if`,
    /// `config-if-ssid`, `config-router`.
    pub fn prompt_suffix(&self) -> &'static str {
        match self {
            Mode::Global => "config",
            Mode::Interface(_) => "config-if",
            Mode::Ssid { .. } => "config-if-ssid",
            Mode::RouterMobile => "config-router",
        }
    }

    /// The whole prompt, e.g. `ap1200(config-if)#`.
    pub fn prompt(&self, hostname: &str) -> String {
        format!("{hostname}({})#", self.prompt_suffix())
    }
}

/// Why a mode did not take a line.
enum Fail {
    /// The mode has no such command: try the parent mode.
    NotHere,
    /// The mode has the command but the line is wrong.
    Bad(String),
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Bad(s)
    }
}

type Step = Result<Mode, Fail>;

/// The words of a line with their byte offsets, and a position.
struct Cur<'a> {
    text: &'a str,
    words: Vec<(usize, &'a str)>,
    i: usize,
}

impl<'a> Cur<'a> {
    fn new(text: &'a str) -> Self {
        let mut words = Vec::new();
        let mut start = None;
        for (i, ch) in text.char_indices() {
            if ch.is_whitespace() {
                if let Some(s) = start.take() {
                    words.push((s, &text[s..i]));
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            words.push((s, &text[s..]));
        }
        Cur { text, words, i: 0 }
    }

    fn peek(&self) -> Option<&'a str> {
        self.words.get(self.i).map(|w| w.1)
    }

    fn peek_at(&self, n: usize) -> Option<&'a str> {
        self.words.get(self.i + n).map(|w| w.1)
    }

    fn next(&mut self) -> Option<&'a str> {
        let w = self.peek();
        if w.is_some() {
            self.i += 1;
        }
        w
    }

    fn is(&self, kw: &str) -> bool {
        self.peek().is_some_and(|w| w.eq_ignore_ascii_case(kw))
    }

    fn eat(&mut self, kw: &str) -> bool {
        let yes = self.is(kw);
        if yes {
            self.i += 1;
        }
        yes
    }

    fn done(&self) -> bool {
        self.i >= self.words.len()
    }

    fn remaining(&self) -> &[(usize, &'a str)] {
        &self.words[self.i.min(self.words.len())..]
    }

    /// The raw text from the current word to the end of the line.
    fn rest(&self) -> &'a str {
        match self.words.get(self.i) {
            Some((off, _)) => self.text[*off..].trim_end(),
            None => "",
        }
    }

    fn skip_rest(&mut self) {
        self.i = self.words.len();
    }

    fn expect(&mut self, kw: &str, what: &str) -> Result<(), String> {
        if self.eat(kw) {
            Ok(())
        } else {
            Err(expected(what, self.peek()))
        }
    }

    fn end(&self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(w) => Err(format!("unexpected \"{w}\"; expected end of line")),
        }
    }

    /// Like `end` but naming what else could have come.
    fn end_or(&self, what: &str) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(w) => Err(format!(
                "unexpected \"{w}\"; expected {what} or end of line"
            )),
        }
    }

    fn ipv4(&mut self, what: &str) -> Result<Ipv4Addr, String> {
        match self.peek() {
            Some(w) => match w.parse::<Ipv4Addr>() {
                Ok(a) => {
                    self.i += 1;
                    Ok(a)
                }
                Err(_) => Err(expected(&format!("{what} (dotted IPv4 address)"), Some(w))),
            },
            None => Err(expected(&format!("{what} (dotted IPv4 address)"), None)),
        }
    }

    fn peek_ipv4(&self) -> Option<Ipv4Addr> {
        self.peek().and_then(|w| w.parse().ok())
    }

    /// A decimal number in `min..=max`; `what` names it in the message.
    fn num(&mut self, what: &str, min: u64, max: u64) -> Result<u64, String> {
        let desc = format!("a number for {what} ({min}-{max})");
        let w = self.peek().ok_or_else(|| expected(&desc, None))?;
        if w.is_empty() || !w.bytes().all(|b| b.is_ascii_digit()) {
            return Err(expected(&desc, Some(w)));
        }
        match w.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => {
                self.i += 1;
                Ok(n)
            }
            _ => Err(format!("{what} must be {min}-{max}, found {w}")),
        }
    }

    fn num_u32(&mut self, what: &str, min: u32, max: u32) -> Result<u32, String> {
        // The bounds fit in u32, so the result does too.
        self.num(what, u64::from(min), u64::from(max))
            .map(|n| n as u32)
    }

    /// An interface name of one or two words (`fa0`, `fastethernet 0`).
    fn ifname(&mut self) -> Result<String, String> {
        let words: Vec<&str> = self.remaining().iter().map(|w| w.1).collect();
        let n = ifname::name_len(&words);
        let name = ifname::normalize(&words[..n])?;
        self.i += n;
        Ok(name)
    }
}

fn expected(what: &str, found: Option<&str>) -> String {
    match found {
        Some(w) => format!("expected {what}, found \"{w}\""),
        None => format!("expected {what} at end of line"),
    }
}

/// `Some(rest)` when `text` starts with an IOS prompt such as `ap1200#` or
/// `ap1200(config-if)#`: pasted walkthroughs may keep them.
fn strip_prompt(text: &str) -> &str {
    let first_end = text.find(char::is_whitespace).unwrap_or(text.len());
    let first = &text[..first_end];
    let Some(body) = first.strip_suffix('#').or_else(|| first.strip_suffix('>')) else {
        return text;
    };
    let (name, mode) = match body.find('(') {
        Some(p) => (&body[..p], Some(&body[p..])),
        None => (body, None),
    };
    let name_ok = !name.is_empty()
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let mode_ok = match mode {
        None => true,
        Some(m) => {
            m.len() > 2
                && m.ends_with(')')
                && m[1..m.len() - 1]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        }
    };
    if name_ok && mode_ok {
        text[first_end..].trim_start()
    } else {
        text
    }
}

/// Hex SPI as IOS writes it (`spi 100` is SPI 256).
fn parse_spi(c: &mut Cur) -> Result<u32, String> {
    const WHAT: &str =
        "the SPI in hexadecimal as IOS writes it (100-FFFFFFFF; RFC 5944 reserves 0-FF)";
    let w = c.peek().ok_or_else(|| expected(WHAT, None))?;
    if w.is_empty() || w.len() > 8 || !w.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(expected(WHAT, Some(w)));
    }
    let spi = u32::from_str_radix(w, 16).map_err(|_| expected(WHAT, Some(w)))?;
    if spi < 0x100 {
        return Err(format!(
            "SPI {w} (hex) is reserved: RFC 5944 reserves SPIs 0-255 (0-FF); use 100 or more"
        ));
    }
    c.i += 1;
    Ok(spi)
}

/// Whose key rules apply to a security association line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyRules {
    /// `ip mobile secure`: hex with an even number of digits, up to 64
    /// bytes; ascii up to 64 characters.
    Router,
    /// `ip proxy-mobile secure node` (the Aironet documentation step 4): hex exactly 32
    /// digits; ascii at most 16 characters.
    AccessPoint,
}

const MASK: &str = "********";

fn parse_key(c: &mut Cur, rules: KeyRules) -> Result<(Vec<u8>, KeyFormat), String> {
    c.expect("key", "`key`")?;
    let format = if c.eat("hex") {
        KeyFormat::Hex
    } else if c.eat("ascii") {
        KeyFormat::Ascii
    } else {
        return Err(expected("`hex` or `ascii` after key", c.peek()));
    };
    let fname = if format == KeyFormat::Hex {
        "hex"
    } else {
        "ascii"
    };
    let Some(k) = c.next() else {
        return Err(expected(&format!("the key after key {fname}"), None));
    };
    if k == MASK {
        return Err(
            "the key is masked (********); copy the configuration from `show running-config` with keys shown"
                .to_string(),
        );
    }
    match format {
        KeyFormat::Hex => {
            if !k.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "key hex takes hexadecimal digits 0-9 a-f, found \"{k}\""
                ));
            }
            match rules {
                KeyRules::AccessPoint if k.len() != 32 => {
                    return Err(format!(
                        "key hex must be exactly 32 hexadecimal digits (a 128-bit key, the Aironet documentation), found {} digits",
                        k.len()
                    ));
                }
                KeyRules::Router if k.len() % 2 != 0 || k.len() > 128 => {
                    return Err(format!(
                        "key hex must be an even number of hexadecimal digits, at most 128, found {} digits",
                        k.len()
                    ));
                }
                _ => {}
            }
            let bytes = (0..k.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&k[i..i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| format!("key hex takes hexadecimal digits, found \"{k}\""))?;
            Ok((bytes, format))
        }
        KeyFormat::Ascii => {
            if !k.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "key ascii takes printable ASCII characters, found \"{k}\""
                ));
            }
            let max = if rules == KeyRules::AccessPoint {
                16
            } else {
                64
            };
            if k.len() > max {
                let why = if rules == KeyRules::AccessPoint {
                    " (the Aironet documentation: up to 16 characters)"
                } else {
                    ""
                };
                return Err(format!(
                    "key ascii must be 1 to {max} characters{why}, found {} characters",
                    k.len()
                ));
            }
            Ok((k.as_bytes().to_vec(), format))
        }
    }
}

/// `spi N key {hex|ascii} K [algorithm ...] [replay timestamp [within N]]`.
fn parse_sa(c: &mut Cur, rules: KeyRules) -> Result<SecurityAssociation, String> {
    if c.is("inbound-spi") || c.is("outbound-spi") {
        return Err(
            "inbound-spi/outbound-spi are not supported; use one bidirectional `spi`".to_string(),
        );
    }
    c.expect("spi", "`spi`")?;
    let spi = parse_spi(c)?;
    let (key, key_format) = parse_key(c, rules)?;
    let mut algorithm = Algorithm::default();
    let mut replay = Replay::default();
    while !c.done() {
        if c.eat("algorithm") {
            if c.eat("md5") {
                if c.eat("mode") {
                    c.expect("prefix-suffix", "`prefix-suffix` after mode")?;
                }
                algorithm = Algorithm::KeyedMd5PrefixSuffix;
            } else if c.eat("hmac-md5") {
                algorithm = Algorithm::HmacMd5;
            } else {
                return Err(expected(
                    "`md5 mode prefix-suffix` or `hmac-md5` after algorithm",
                    c.peek(),
                ));
            }
        } else if c.eat("replay") {
            if !c.eat("timestamp") {
                return Err(expected(
                    "`timestamp` after replay (the only replay protection IOS configures)",
                    c.peek(),
                ));
            }
            let mut within = DEFAULT_REPLAY_WITHIN;
            if c.eat("within") {
                within = c.num_u32("replay timestamp within (seconds)", 1, 65535)?;
            } else if c
                .peek()
                .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
            {
                within = c.num_u32("replay timestamp (seconds)", 1, 65535)?;
            }
            replay = Replay::Timestamp { within };
        } else {
            return Err(format!(
                "unexpected \"{}\"; expected `algorithm`, `replay timestamp` or end of line",
                c.peek().unwrap_or_default()
            ));
        }
    }
    Ok(SecurityAssociation {
        spi,
        key,
        key_format,
        algorithm,
        replay,
    })
}

/// `LOW [HIGH]`.
fn parse_range(c: &mut Cur, what: &str) -> Result<AddrRange, String> {
    let low = c.ipv4(what)?;
    let high = match c.peek_ipv4() {
        Some(h) => {
            c.i += 1;
            h
        }
        None => low,
    };
    if high < low {
        return Err(format!(
            "the end address {high} is below the start address {low}"
        ));
    }
    Ok(AddrRange { low, high })
}

fn contiguous(mask: Ipv4Addr) -> bool {
    let m = u32::from(mask);
    m.leading_ones() + m.trailing_zeros() == 32
}

fn parse_mask(c: &mut Cur) -> Result<Ipv4Addr, String> {
    let mask = c.ipv4("a subnet mask")?;
    if !contiguous(mask) {
        return Err(format!(
            "bad mask {mask}: the ones of a subnet mask must be contiguous (e.g. 255.255.255.0)"
        ));
    }
    Ok(mask)
}

fn valid_hostname(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// Whether `words` (after any `no`) is a command of interface mode; for
/// the message when it is given elsewhere.
fn interface_command(words: &[&str]) -> Option<String> {
    let lw: Vec<String> = words
        .iter()
        .take(3)
        .map(|w| w.to_ascii_lowercase())
        .collect();
    let l: Vec<&str> = lw.iter().map(String::as_str).collect();
    match l.as_slice() {
        ["shutdown", ..] | ["description", ..] | ["ssid", ..] | ["station-role", ..] => {
            Some(l[0].to_string())
        }
        ["ip", "address", ..] | ["ip", "irdp", ..] => Some(format!("ip {}", l[1])),
        [
            "ip",
            "mobile",
            "foreign-service" | "registration-lifetime" | "prefix-length",
            ..,
        ] => Some(format!("ip mobile {}", l[2])),
        ["ip", "proxy-mobile"] => Some("ip proxy-mobile".to_string()),
        _ => None,
    }
}

impl Config {
    /// Parses a whole configuration, stopping at the first refused line.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut mode = Mode::Global;
        for (n, line) in lines(text) {
            config.apply_line_numbered(&mut mode, line, n)?;
        }
        Ok(config)
    }

    /// Parses a whole configuration, skipping refused lines: the
    /// configuration of every accepted line, and an error for each refused
    /// one (in line order).
    pub fn parse_all(text: &str) -> (Config, Vec<ConfigError>) {
        let mut config = Config::default();
        let mut mode = Mode::Global;
        let mut errors = Vec::new();
        for (n, line) in lines(text) {
            if let Err(e) = config.apply_line_numbered(&mut mode, line, n) {
                errors.push(e);
            }
        }
        (config, errors)
    }

    /// Applies one line in `mode` (as `configure terminal` would), moving
    /// `mode` as the line asks. On error neither the configuration nor the
    /// mode changes, and the error says line 1.
    pub fn apply_line(&mut self, mode: &mut Mode, line: &str) -> Result<(), ConfigError> {
        self.apply_line_numbered(mode, line, 1)
    }

    /// [`Config::apply_line`] with the line number to report.
    ///
    /// A mode naming an interface or SSID the configuration lacks creates
    /// it first, as entering that mode would have.
    pub fn apply_line_numbered(
        &mut self,
        mode: &mut Mode,
        line: &str,
        number: usize,
    ) -> Result<(), ConfigError> {
        let text = strip_prompt(line.trim_start_matches('\u{feff}').trim());
        if text.is_empty() || text.starts_with('!') || text.starts_with('#') {
            return Ok(());
        }
        let err = |reason: String| ConfigError {
            line: number,
            text: text.to_string(),
            reason,
        };
        let c = Cur::new(text);
        let words: Vec<&str> = c.words.iter().map(|w| w.1).collect();
        // Commands of the configuration session itself (a pasted
        // walkthrough has them, the Aironet documentation steps 1, 15, 16).
        let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
        let l: Vec<&str> = lower.iter().map(String::as_str).collect();
        match l.as_slice() {
            ["end"] => {
                *mode = Mode::Global;
                return Ok(());
            }
            ["exit"] => {
                *mode = mode.parent();
                return Ok(());
            }
            ["configure"]
            | ["configure", "terminal"]
            | ["copy", "running-config", "startup-config"]
            | ["write"]
            | ["write", "memory"] => return Ok(()),
            _ => {}
        }
        self.ensure_mode(mode);
        let mut m = mode.clone();
        loop {
            let mut c = Cur::new(text);
            let neg = c.eat("no");
            if neg && c.done() {
                return Err(err("expected a command after `no`".to_string()));
            }
            let step = match &m {
                Mode::Global => self.global(&mut c, neg),
                Mode::Interface(name) => self.interface_cmd(name.clone(), &mut c, neg),
                Mode::Ssid { interface, ssid } => {
                    self.ssid_cmd(interface.clone(), ssid.clone(), &mut c, neg)
                }
                Mode::RouterMobile => Err(Fail::NotHere),
            };
            match step {
                Ok(new_mode) => {
                    *mode = new_mode;
                    return Ok(());
                }
                Err(Fail::Bad(reason)) => return Err(err(reason)),
                Err(Fail::NotHere) if m != Mode::Global => m = m.parent(),
                Err(Fail::NotHere) => {
                    let rest = if neg { &words[1..] } else { &words[..] };
                    let reason = if let Some(cmd) = interface_command(rest) {
                        format!("`{cmd}` is an interface command; enter `interface NAME` first")
                    } else if rest.first().is_some_and(|w| w.eq_ignore_ascii_case("vlan")) {
                        "`vlan` is an SSID command; enter `ssid NAME` in a Dot11Radio interface first".to_string()
                    } else {
                        "unknown command; expected hostname, interface, ip address, ip route, ip default-gateway, \
                         router mobile, ip mobile ..., ip irdp ..., ip proxy-mobile ..., ip http ..., username ..., aaa ... or radius-server ..."
                            .to_string()
                    };
                    return Err(err(reason));
                }
            }
        }
    }

    /// Creates the interface / SSID a mode names if missing.
    fn ensure_mode(&mut self, mode: &Mode) {
        let (ifname, ssid) = match mode {
            Mode::Interface(i) => (i, None),
            Mode::Ssid { interface, ssid } => (interface, Some(ssid)),
            _ => return,
        };
        let idx = self.iface_index_or_create(ifname);
        if let Some(s) = ssid {
            let iface = &mut self.interfaces[idx];
            if iface.ssid(s).is_none() {
                iface.ssids.push(Ssid {
                    name: s.clone(),
                    ..Ssid::default()
                });
            }
        }
    }

    fn iface_index_or_create(&mut self, name: &str) -> usize {
        match self.interfaces.iter().position(|i| i.name == name) {
            Some(i) => i,
            None => {
                self.interfaces.push(Interface::new(name));
                self.interfaces.len() - 1
            }
        }
    }

    fn iface_mut(&mut self, name: &str) -> &mut Interface {
        let idx = self.iface_index_or_create(name);
        &mut self.interfaces[idx]
    }

    /// A radio whose station role forbids proxy Mobile IP (the Aironet documentation: "You
    /// cannot enable proxy Mobile IP on repeater access points"; the Aironet documentation:
    /// "only if the device is not in repeater mode").
    fn non_root_radio(&self) -> Option<(&str, StationRole)> {
        self.interfaces
            .iter()
            .filter(|i| i.is_radio() && i.station_role() != StationRole::Root)
            .map(|i| (i.name.as_str(), i.station_role()))
            .next()
    }

    fn proxy_blocked(&self) -> Result<(), String> {
        match self.non_root_radio() {
            Some((name, role)) => Err(format!(
                "proxy Mobile IP works only on a root access point, and {name} is `station-role {}` \
                 (the Aironet documentation: not on repeater access points)",
                role.keyword()
            )),
            None => Ok(()),
        }
    }

    fn proxy_in_use(&self) -> bool {
        self.proxy_mobile.enabled
            || self
                .interfaces
                .iter()
                .any(|i| i.proxy_mobile || i.ssids.iter().any(|s| s.proxy_mobile))
    }

    // ----------------------------------------------------------------
    // Global configuration mode.

    fn global(&mut self, c: &mut Cur, neg: bool) -> Step {
        let here = Mode::Global;
        if c.eat("hostname") {
            if neg {
                self.hostname = None;
                return Ok(here);
            }
            let name = c.next().ok_or_else(|| expected("a host name", None))?;
            if !valid_hostname(name) {
                return Err(Fail::Bad(format!(
                    "expected a host name of letters, digits and hyphens, starting with a letter, \
                     at most 63 characters, found \"{name}\""
                )));
            }
            c.end()?;
            self.hostname = Some(name.to_string());
            return Ok(here);
        }
        if c.eat("interface") {
            // Every remaining word is the name (`fastethernet 0`).
            let words: Vec<&str> = c.remaining().iter().map(|w| w.1).collect();
            let name = ifname::normalize(&words)?;
            c.skip_rest();
            if neg {
                self.interfaces.retain(|i| i.name != name);
                return Ok(here);
            }
            self.iface_index_or_create(&name);
            return Ok(Mode::Interface(name));
        }
        if c.eat("router") {
            c.expect(
                "mobile",
                "`mobile` after router (the only routing process here)",
            )?;
            c.end()?;
            self.mobile.router_mobile = !neg;
            return Ok(if neg { here } else { Mode::RouterMobile });
        }
        if c.eat("aaa") {
            self.aaa_cmd(c, neg)?;
            return Ok(here);
        }
        if c.eat("radius-server") {
            self.radius_cmd(c, neg)?;
            return Ok(here);
        }
        if c.eat("username") {
            self.username_cmd(c, neg)?;
            return Ok(here);
        }
        if !c.eat("ip") {
            return Err(Fail::NotHere);
        }
        if c.eat("route") {
            self.route_cmd(c, neg)?;
            return Ok(here);
        }
        if c.eat("default-gateway") {
            if neg {
                self.default_gateway = None;
                return Ok(here);
            }
            let gw = c.ipv4("the gateway address")?;
            c.end()?;
            self.default_gateway = Some(gw);
            return Ok(here);
        }
        if c.eat("mobile") {
            self.ip_mobile_global(c, neg)?;
            return Ok(here);
        }
        if c.eat("proxy-mobile") {
            self.proxy_global(c, neg)?;
            return Ok(here);
        }
        if c.eat("http") {
            self.http_cmd(c, neg)?;
            return Ok(here);
        }
        Err(Fail::NotHere)
    }

    /// `ip http server | port N | authentication local` (IOS HTTP server
    /// commands). HTTPS is refused with the reason; its `no`
    /// forms are accepted, as IOS configurations often carry them.
    fn http_cmd(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        if c.eat("server") {
            c.end()?;
            self.http.server = !neg;
            return Ok(());
        }
        if c.eat("port") {
            self.http.port = if neg {
                c.skip_rest();
                None
            } else {
                let p = c.num("port", 1, 65535)? as u16;
                c.end()?;
                Some(p)
            };
            return Ok(());
        }
        if c.eat("authentication") {
            if neg {
                c.skip_rest();
                self.http.authentication_local = false;
                return Ok(());
            }
            if c.eat("local") {
                c.end()?;
                self.http.authentication_local = true;
                return Ok(());
            }
            return Err(Fail::Bad(expected(
                "`local` after ip http authentication (the `username` lines; enable and aaa are not supported)",
                c.peek(),
            )));
        }
        if c.is("secure-server")
            || c.is("secure-port")
            || c.is("secure-trustpoint")
            || c.is("secure-certificate")
            || c.is("secure-key")
        {
            if neg {
                c.skip_rest();
                return Ok(());
            }
            return Err(Fail::Bad(
                "HTTPS is not supported by pmip's web server; use `ip http server` on a management \
                 network, or put a TLS reverse proxy in front of it"
                    .into(),
            ));
        }
        Err(Fail::Bad(expected(
            "`server`, `port N` or `authentication local` after ip http",
            c.peek(),
        )))
    }

    /// `username NAME [privilege N] {password [0] TEXT | secret [0] TEXT |
    /// secret 9 HASH | algorithm-type scrypt secret TEXT}`. A clear-text
    /// secret is stored as its IOS type 9 (scrypt) hash; a password stays
    /// in clear and is masked when shown. The text is the rest of the
    /// line, as IOS reads it.
    fn username_cmd(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        let name = c
            .next()
            .ok_or_else(|| expected("a user name", None))?
            .to_string();
        if name.len() > 64 || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Fail::Bad(format!(
                "a user name is 1 to 64 printable characters without spaces, found \"{name}\""
            )));
        }
        if neg {
            c.skip_rest();
            self.usernames.retain(|u| u.name != name);
            return Ok(());
        }
        let mut privilege = None;
        if c.eat("privilege") {
            privilege = Some(c.num("privilege", 0, 15)? as u8);
        }
        let mut scrypt_asked = false;
        if c.eat("algorithm-type") {
            if !c.eat("scrypt") {
                return Err(Fail::Bad(expected(
                    "`scrypt` after algorithm-type (the only hash pmip computes)",
                    c.peek(),
                )));
            }
            scrypt_asked = true;
            if !c.is("secret") {
                return Err(Fail::Bad(expected(
                    "`secret` after algorithm-type scrypt",
                    c.peek(),
                )));
            }
        }
        let secret = if c.eat("secret") {
            true
        } else if c.eat("password") {
            false
        } else {
            return Err(Fail::Bad(expected(
                "`privilege N`, `password` or `secret` after the user name",
                c.peek(),
            )));
        };
        let what = if secret { "secret" } else { "password" };
        // An optional encryption type word, then the rest of the line.
        let typ = match c.peek() {
            Some(t @ ("0" | "5" | "7" | "8" | "9")) if c.peek_at(1).is_some() => {
                c.i += 1;
                t
            }
            _ => "0",
        };
        let text = c.rest();
        if text.is_empty() {
            return Err(Fail::Bad(expected(
                &format!("the {what} after {what}"),
                None,
            )));
        }
        if text == MASK {
            return Err(Fail::Bad(format!(
                "the {what} is masked (********); copy the configuration from `show running-config keys`"
            )));
        }
        c.skip_rest();
        let credential = match (secret, typ) {
            (_, "0") if secret || scrypt_asked => Credential::secret(text),
            (false, "0") => Credential::Password(text.to_string()),
            (true, "9") if !scrypt_asked => {
                if !crate::model::secret::well_formed(text) {
                    return Err(Fail::Bad(
                        "a type 9 secret is `$9$` + 14 salt characters + `$` + 43 hash characters \
                         (./0-9A-Za-z), as IOS prints it"
                            .into(),
                    ));
                }
                Credential::Secret(text.to_string())
            }
            (_, t) => {
                return Err(Fail::Bad(format!(
                    "{what} type {t} is not supported; give `secret 0 TEXT` (stored as a type 9 \
                     scrypt hash), `secret 9 HASH` or `password 0 TEXT`"
                )));
            }
        };
        let user = Username {
            name: name.clone(),
            privilege,
            credential,
        };
        match self.usernames.iter_mut().find(|u| u.name == name) {
            Some(u) => *u = user,
            None => self.usernames.push(user),
        }
        Ok(())
    }

    /// `ip route PREFIX MASK {NEXTHOP | IF [NEXTHOP]} [DISTANCE]`.
    fn route_cmd(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        let prefix = c.ipv4("the destination prefix")?;
        let mask = parse_mask(c)?;
        if u32::from(prefix) & !u32::from(mask) != 0 {
            return Err(Fail::Bad(format!(
                "inconsistent address and mask: {prefix} has bits outside {mask}"
            )));
        }
        if neg && c.done() {
            self.routes
                .retain(|r| !(r.prefix == prefix && r.mask == mask));
            return Ok(());
        }
        let (interface, next_hop) = match c.peek_ipv4() {
            Some(nh) => {
                c.i += 1;
                (None, Some(nh))
            }
            None => {
                if c.done() {
                    return Err(Fail::Bad(expected(
                        "a next-hop address or an interface",
                        None,
                    )));
                }
                if c.peek()
                    .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(Fail::Bad(expected(
                        "a next-hop address or an interface",
                        c.peek(),
                    )));
                }
                let ifname = c.ifname()?;
                let nh = c.peek_ipv4();
                if nh.is_some() {
                    c.i += 1;
                }
                (Some(ifname), nh)
            }
        };
        let distance = if c.done() {
            None
        } else {
            Some(c.num("administrative distance", 1, 255)? as u8)
        };
        c.end()?;
        let route = StaticRoute {
            prefix,
            mask,
            interface,
            next_hop,
            distance,
        };
        let same = |r: &StaticRoute| {
            r.prefix == route.prefix
                && r.mask == route.mask
                && r.interface == route.interface
                && r.next_hop == route.next_hop
        };
        if neg {
            self.routes.retain(|r| !same(r));
            return Ok(());
        }
        match self.routes.iter_mut().find(|r| same(r)) {
            Some(r) => *r = route,
            None => self.routes.push(route),
        }
        Ok(())
    }

    /// Global `ip mobile ...` (IOS Mobile IP command reference; issues 4
    /// and 5).
    fn ip_mobile_global(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        if c.eat("home-agent") {
            if neg {
                self.mobile.home_agent = None;
                return Ok(());
            }
            let mut ha = HomeAgent::default();
            while !c.done() {
                if c.eat("broadcast") {
                    ha.broadcast = true;
                } else if c.eat("lifetime") {
                    ha.lifetime = c.num_u32("lifetime (seconds)", 3, 65535)?;
                } else if c.eat("replay") {
                    ha.replay = c.num_u32("replay (seconds)", 1, 65535)?;
                } else if c.eat("reverse-tunnel-off") {
                    ha.reverse_tunnel_off = true;
                } else {
                    c.end_or("`broadcast`, `lifetime N`, `replay N`, `reverse-tunnel-off`")?;
                }
            }
            self.mobile.home_agent = Some(ha);
            return Ok(());
        }
        if c.eat("host") {
            let range = parse_range(c, "the first home address")?;
            if neg {
                self.mobile.hosts.retain(|h| h.range != range);
                return Ok(());
            }
            let mut host = MobileHost {
                range,
                interface: None,
                aaa: None,
                lifetime: None,
            };
            while !c.done() {
                if c.eat("interface") {
                    host.interface = Some(c.ifname()?);
                } else if c.eat("aaa") {
                    host.aaa = Some(if c.eat("load-sa") {
                        if c.eat("permanent") {
                            AaaLoad::LoadSaPermanent
                        } else {
                            AaaLoad::LoadSa
                        }
                    } else {
                        AaaLoad::OnDemand
                    });
                } else if c.eat("lifetime") {
                    host.lifetime = Some(c.num_u32("lifetime (seconds)", 3, 65535)?);
                } else if c.is("virtual-network") {
                    return Err(Fail::Bad(
                        "virtual-network is not supported; give the home interface with `interface NAME`".into(),
                    ));
                } else {
                    c.end_or("`interface NAME`, `aaa [load-sa [permanent]]`, `lifetime N`")?;
                }
            }
            if host.interface.is_none() && host.aaa.is_none() {
                return Err(Fail::Bad(expected(
                    "`interface NAME` (the home interface) or `aaa`",
                    None,
                )));
            }
            if let Some(o) = self
                .mobile
                .hosts
                .iter()
                .find(|h| h.range != range && h.range.overlaps(&range))
            {
                return Err(Fail::Bad(format!(
                    "overlaps `ip mobile host {}`; remove that one first with `no ip mobile host {}`",
                    o.range, o.range
                )));
            }
            match self.mobile.hosts.iter_mut().find(|h| h.range == range) {
                Some(h) => *h = host,
                None => self.mobile.hosts.push(host),
            }
            return Ok(());
        }
        if c.eat("secure") {
            let peer = if c.eat("host") {
                SaPeer::Host
            } else if c.eat("visitor") {
                SaPeer::Visitor
            } else if c.eat("home-agent") {
                SaPeer::HomeAgent
            } else if c.eat("foreign-agent") {
                SaPeer::ForeignAgent
            } else {
                return Err(Fail::Bad(expected(
                    "`host`, `visitor`, `home-agent` or `foreign-agent` after ip mobile secure",
                    c.peek(),
                )));
            };
            let range = parse_range(c, "an address")?;
            if neg {
                self.mobile
                    .secure
                    .retain(|e| !(e.peer == peer && e.range == range));
                return Ok(());
            }
            let sa = parse_sa(c, KeyRules::Router)?;
            if let Some(o) = self
                .mobile
                .secure
                .iter()
                .find(|e| e.peer == peer && e.range != range && e.range.overlaps(&range))
            {
                return Err(Fail::Bad(format!(
                    "overlaps the association for {}; remove it first with `no ip mobile secure {} {}`",
                    o.range,
                    peer.keyword(),
                    o.range
                )));
            }
            let entry = SecureEntry { peer, range, sa };
            match self
                .mobile
                .secure
                .iter_mut()
                .find(|e| e.peer == peer && e.range == range)
            {
                Some(e) => *e = entry,
                None => self.mobile.secure.push(entry),
            }
            return Ok(());
        }
        if c.eat("foreign-agent") {
            if neg {
                if c.done() {
                    self.mobile.foreign_agent = None;
                } else if c.eat("care-of") {
                    let name = c.ifname()?;
                    c.end()?;
                    if let Some(fa) = &mut self.mobile.foreign_agent {
                        fa.care_of.retain(|n| *n != name);
                    }
                } else if c.eat("reg-wait") {
                    if let Some(fa) = &mut self.mobile.foreign_agent {
                        fa.reg_wait = DEFAULT_REG_WAIT;
                    }
                    c.skip_rest();
                } else {
                    c.end_or("`care-of IF`, `reg-wait`")?;
                }
                return Ok(());
            }
            let mut care_of = Vec::new();
            let mut reg_wait = None;
            while !c.done() {
                if c.eat("care-of") {
                    care_of.push(c.ifname()?);
                } else if c.eat("reg-wait") {
                    reg_wait = Some(c.num_u32("reg-wait (seconds)", 5, 600)?);
                } else {
                    c.end_or("`care-of INTERFACE`, `reg-wait N`")?;
                }
            }
            let fa = self
                .mobile
                .foreign_agent
                .get_or_insert_with(ForeignAgent::default);
            for name in care_of {
                if !fa.care_of.contains(&name) {
                    fa.care_of.push(name);
                }
            }
            if let Some(w) = reg_wait {
                fa.reg_wait = w;
            }
            return Ok(());
        }
        if c.eat("bindupdate") {
            let ack = c.eat("ack");
            c.end_or("`ack`")?;
            if ack {
                self.mobile.bindupdate_ack = !neg;
            } else {
                self.mobile.bindupdate = !neg;
            }
            return Ok(());
        }
        if c.is("foreign-service") || c.is("registration-lifetime") || c.is("prefix-length") {
            return Err(Fail::NotHere);
        }
        Err(Fail::Bad(expected(
            "`home-agent`, `host`, `secure`, `foreign-agent` or `bindupdate` after ip mobile",
            c.peek(),
        )))
    }

    /// Global `ip proxy-mobile ...` (the Aironet documentation, steps 2-4 and "GRE
    /// Encapsulation", "Reverse Tunnels", pause).
    fn proxy_global(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        if c.done() {
            // Bare `ip proxy-mobile` is an interface / SSID command.
            return Err(Fail::NotHere);
        }
        if c.eat("enable") {
            c.end()?;
            if neg {
                // The Aironet documentation: "If you disable proxy Mobile IP on your
                // access point, the entire proxy Mobile IP configuration is
                // cleared", including SPIs and keys.
                self.proxy_mobile = ProxyMobile::default();
                for i in &mut self.interfaces {
                    i.proxy_mobile = false;
                    for s in &mut i.ssids {
                        s.proxy_mobile = false;
                    }
                }
            } else {
                self.proxy_blocked()?;
                self.proxy_mobile.enabled = true;
            }
            return Ok(());
        }
        if c.eat("aap") {
            if c.peek() == Some("key") {
                if neg {
                    self.proxy_mobile.aap_key = None;
                    c.skip_rest();
                    return Ok(());
                }
                let key = parse_key(c, KeyRules::Router).map_err(Fail::Bad)?;
                c.end()?;
                self.proxy_mobile.aap_key = Some(key);
                return Ok(());
            }
            if neg {
                self.proxy_mobile.aaps.clear();
                c.skip_rest();
                return Ok(());
            }
            let mut aaps = Vec::new();
            while let Some(w) = c.next() {
                let aap = match w.parse::<Ipv4Addr>() {
                    Ok(a) => AapAddress::Addr(a),
                    Err(_) if valid_hostname(w) => AapAddress::Name(w.to_string()),
                    Err(_) => {
                        return Err(Fail::Bad(expected(
                            "the address or host name of an authoritative access point",
                            Some(w),
                        )));
                    }
                };
                if aaps.contains(&aap) {
                    return Err(Fail::Bad(format!("AAP {w} is listed twice")));
                }
                aaps.push(aap);
            }
            if aaps.is_empty() {
                return Err(Fail::Bad(expected(
                    "the address of an authoritative access point",
                    None,
                )));
            }
            if aaps.len() > 3 {
                return Err(Fail::Bad(format!(
                    "at most three authoritative access points (the Aironet documentation: \"up to three AAPs\"), found {}",
                    aaps.len()
                )));
            }
            self.proxy_mobile.aaps = aaps;
            return Ok(());
        }
        if c.eat("secure") {
            c.expect("node", "`node` after ip proxy-mobile secure")?;
            let range = parse_range(c, "the first client address")?;
            if neg {
                self.proxy_mobile.nodes.retain(|n| n.range != range);
                return Ok(());
            }
            let sa = parse_sa(c, KeyRules::AccessPoint)?;
            if let Some(o) = self
                .proxy_mobile
                .nodes
                .iter()
                .find(|n| n.range != range && n.range.overlaps(&range))
            {
                return Err(Fail::Bad(format!(
                    "overlaps the association for {}; remove it first with `no ip proxy-mobile secure node {}`",
                    o.range, o.range
                )));
            }
            let node = SecureNode { range, sa };
            match self
                .proxy_mobile
                .nodes
                .iter_mut()
                .find(|n| n.range == range)
            {
                Some(n) => *n = node,
                None => self.proxy_mobile.nodes.push(node),
            }
            return Ok(());
        }
        if c.eat("tunnel") {
            if c.eat("gre") {
                c.end()?;
                self.proxy_mobile.tunnel_gre = !neg;
            } else if c.eat("reverse") {
                c.end()?;
                self.proxy_mobile.tunnel_reverse = !neg;
            } else {
                return Err(Fail::Bad(expected(
                    "`gre` or `reverse` after ip proxy-mobile tunnel",
                    c.peek(),
                )));
            }
            return Ok(());
        }
        if c.eat("pause") {
            c.end()?;
            self.proxy_mobile.paused = !neg;
            return Ok(());
        }
        if c.eat("subnet-map") {
            let ha = c.ipv4("the home agent address")?;
            let mask = parse_mask(c)?;
            c.end()?;
            self.proxy_mobile.subnet_map.retain(|(h, _)| *h != ha);
            if !neg {
                self.proxy_mobile.subnet_map.push((ha, mask));
            }
            return Ok(());
        }
        Err(Fail::Bad(expected(
            "`enable`, `aap`, `secure node`, `tunnel`, `pause` or `subnet-map` after ip proxy-mobile",
            c.peek(),
        )))
    }

    /// `aaa new-model`, `aaa authorization ipmobile ...` (IOS
    /// `aaa authorization ipmobile {[radius | tacacs+] | default} [group
    /// server-groupname]`).
    fn aaa_cmd(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        if c.eat("new-model") {
            c.end()?;
            self.aaa.new_model = !neg;
            return Ok(());
        }
        if c.eat("authorization") {
            c.expect(
                "ipmobile",
                "`ipmobile` (the only authorization here) after aaa authorization",
            )?;
            if neg {
                self.aaa.authorization_ipmobile = None;
                c.skip_rest();
                return Ok(());
            }
            let list = if c.eat("default") {
                "default"
            } else if c.eat("radius") {
                "radius"
            } else if c.is("tacacs+") {
                return Err(Fail::Bad("TACACS+ is not supported; use RADIUS".into()));
            } else {
                return Err(Fail::Bad(expected("`default` or `radius`", c.peek())));
            };
            let group = if c.eat("group") {
                let g = c
                    .next()
                    .ok_or_else(|| expected("a server group name after group", None))?;
                if !g.eq_ignore_ascii_case("radius") {
                    return Err(Fail::Bad(format!(
                        "only `group radius` is supported (the `radius-server host` list), found \"{g}\""
                    )));
                }
                Some("radius".to_string())
            } else {
                None
            };
            c.end()?;
            self.aaa.authorization_ipmobile = Some(AaaAuthorization {
                list: list.to_string(),
                group,
            });
            return Ok(());
        }
        Err(Fail::Bad(expected(
            "`new-model` or `authorization ipmobile` after aaa",
            c.peek(),
        )))
    }

    /// `radius-server host|timeout|retransmit|key` (IOS RADIUS
    /// commands, where `key` takes the rest of the line).
    fn radius_cmd(&mut self, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        if c.eat("host") {
            let address = c.ipv4("the RADIUS server address")?;
            if neg {
                self.aaa.radius_servers.retain(|s| s.address != address);
                c.skip_rest();
                return Ok(());
            }
            let mut server = RadiusServer {
                address,
                auth_port: DEFAULT_RADIUS_AUTH_PORT,
                acct_port: DEFAULT_RADIUS_ACCT_PORT,
                timeout: None,
                retransmit: None,
                key: None,
            };
            while !c.done() {
                if c.eat("auth-port") {
                    server.auth_port = c.num("auth-port", 1, 65535)? as u16;
                } else if c.eat("acct-port") {
                    server.acct_port = c.num("acct-port", 1, 65535)? as u16;
                } else if c.eat("timeout") {
                    server.timeout = Some(c.num_u32("timeout (seconds)", 1, 1000)?);
                } else if c.eat("retransmit") {
                    server.retransmit = Some(c.num_u32("retransmit", 0, 100)?);
                } else if c.eat("key") {
                    server.key = Some(radius_secret(c)?);
                } else {
                    c.end_or(
                        "`auth-port N`, `acct-port N`, `timeout N`, `retransmit N`, `key SECRET`",
                    )?;
                }
            }
            match self
                .aaa
                .radius_servers
                .iter_mut()
                .find(|s| s.address == address)
            {
                Some(s) => *s = server,
                None => self.aaa.radius_servers.push(server),
            }
            return Ok(());
        }
        if c.eat("timeout") {
            self.aaa.radius_timeout = if neg {
                c.skip_rest();
                None
            } else {
                let t = c.num_u32("timeout (seconds)", 1, 1000)?;
                c.end()?;
                Some(t)
            };
            return Ok(());
        }
        if c.eat("retransmit") {
            self.aaa.radius_retransmit = if neg {
                c.skip_rest();
                None
            } else {
                let t = c.num_u32("retransmit", 0, 100)?;
                c.end()?;
                Some(t)
            };
            return Ok(());
        }
        if c.eat("key") {
            self.aaa.radius_key = if neg {
                c.skip_rest();
                None
            } else {
                Some(radius_secret(c)?)
            };
            return Ok(());
        }
        Err(Fail::Bad(expected(
            "`host`, `timeout`, `retransmit` or `key` after radius-server",
            c.peek(),
        )))
    }

    // ----------------------------------------------------------------
    // Interface configuration mode.

    fn interface_cmd(&mut self, name: String, c: &mut Cur, neg: bool) -> Step {
        let here = Mode::Interface(name.clone());
        let radio = is_radio_name(&name);
        if c.eat("shutdown") {
            c.end()?;
            self.iface_mut(&name).shutdown = !neg;
            return Ok(here);
        }
        if c.eat("description") {
            let text = if neg {
                c.skip_rest();
                None
            } else {
                let t = c.rest();
                if t.is_empty() {
                    return Err(Fail::Bad(expected("the description text", None)));
                }
                c.skip_rest();
                Some(t.to_string())
            };
            self.iface_mut(&name).description = text;
            return Ok(here);
        }
        if c.eat("ssid") {
            if !radio {
                return Err(Fail::Bad(format!(
                    "`ssid` is only valid in a radio interface (Dot11Radio0 or Dot11Radio1), not {name}"
                )));
            }
            let ssid = c
                .next()
                .ok_or_else(|| expected("an SSID (1 to 32 characters)", None))?;
            if ssid.len() > 32 {
                return Err(Fail::Bad(format!(
                    "an SSID is 1 to 32 characters (IEEE 802.11), found {} characters",
                    ssid.len()
                )));
            }
            c.end()?;
            let iface = self.iface_mut(&name);
            if neg {
                iface.ssids.retain(|s| s.name != ssid);
                return Ok(here);
            }
            if iface.ssid(ssid).is_none() {
                iface.ssids.push(Ssid {
                    name: ssid.to_string(),
                    ..Ssid::default()
                });
            }
            return Ok(Mode::Ssid {
                interface: name,
                ssid: ssid.to_string(),
            });
        }
        if c.eat("station-role") {
            if !radio {
                return Err(Fail::Bad(format!(
                    "`station-role` is only valid in a radio interface (Dot11Radio0 or Dot11Radio1), not {name}"
                )));
            }
            if neg {
                c.skip_rest();
                self.iface_mut(&name).station_role = None;
                return Ok(here);
            }
            let role = if c.eat("root") {
                if !c.eat("access-point") {
                    c.eat("ap-only");
                }
                StationRole::Root
            } else if c.eat("repeater") {
                StationRole::Repeater
            } else if c.eat("non-root") {
                StationRole::NonRoot
            } else if c.eat("workgroup-bridge") {
                StationRole::WorkgroupBridge
            } else {
                return Err(Fail::Bad(expected(
                    "`root`, `repeater`, `non-root` or `workgroup-bridge` after station-role",
                    c.peek(),
                )));
            };
            c.end()?;
            if role != StationRole::Root && self.proxy_in_use() {
                return Err(Fail::Bad(format!(
                    "proxy Mobile IP is configured and works only on a root access point (the Aironet documentation: \
                     not on repeater access points); remove it with `no ip proxy-mobile enable` before \
                     `station-role {}`",
                    role.keyword()
                )));
            }
            self.iface_mut(&name).station_role = Some(role);
            return Ok(here);
        }
        if !c.eat("ip") {
            return Err(Fail::NotHere);
        }
        if c.eat("address") {
            self.ip_address_cmd(&name, c, neg)?;
            return Ok(here);
        }
        if c.eat("irdp") {
            self.irdp_cmd(&name, c, neg)?;
            return Ok(here);
        }
        if c.eat("proxy-mobile") {
            if !c.done() {
                return Err(Fail::NotHere);
            }
            if !neg {
                self.proxy_blocked()?;
            }
            self.iface_mut(&name).proxy_mobile = !neg;
            return Ok(here);
        }
        if c.eat("mobile") {
            if c.eat("foreign-service") {
                if neg {
                    c.skip_rest();
                    self.iface_mut(&name).foreign_service = None;
                    return Ok(here);
                }
                let mut fs = ForeignService::default();
                while !c.done() {
                    if c.eat("home-access") {
                        let acl = c
                            .next()
                            .ok_or_else(|| expected("an access list after home-access", None))?;
                        fs.home_access = Some(acl.to_string());
                    } else if c.eat("limit") {
                        fs.limit = Some(c.num_u32("limit (visitors)", 1, 1000)?);
                    } else if c.eat("registration-required") {
                        fs.registration_required = true;
                    } else if c.eat("reverse-tunnel") {
                        fs.reverse_tunnel = true;
                        if c.eat("mandatory") {
                            fs.reverse_tunnel_mandatory = true;
                        }
                    } else {
                        c.end_or(
                            "`home-access ACL`, `limit N`, `registration-required`, `reverse-tunnel [mandatory]`",
                        )?;
                    }
                }
                self.iface_mut(&name).foreign_service = Some(fs);
                return Ok(here);
            }
            if c.eat("registration-lifetime") {
                let v = if neg {
                    c.skip_rest();
                    None
                } else {
                    let v = c.num_u32("registration-lifetime (seconds)", 3, 65535)?;
                    c.end()?;
                    Some(v)
                };
                self.iface_mut(&name).registration_lifetime = v;
                return Ok(here);
            }
            if c.eat("prefix-length") {
                c.end()?;
                self.iface_mut(&name).prefix_length = !neg;
                return Ok(here);
            }
            return Err(Fail::NotHere);
        }
        Err(Fail::NotHere)
    }

    /// `ip address A M [secondary]`.
    fn ip_address_cmd(&mut self, name: &str, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        if c.is("dhcp") {
            return Err(Fail::Bad(
                "DHCP addressing is not supported; configure a static `ip address A M`".into(),
            ));
        }
        if neg && c.done() {
            let i = self.iface_mut(name);
            i.address = None;
            i.secondary.clear();
            return Ok(());
        }
        let address = c.ipv4("the interface address")?;
        let mask = parse_mask(c)?;
        let secondary = c.eat("secondary");
        c.end_or("`secondary`")?;
        let ia = InterfaceAddress { address, mask };
        if neg {
            let i = self.iface_mut(name);
            if secondary {
                i.secondary.retain(|a| *a != ia);
            } else {
                i.address = None;
                i.secondary.clear();
            }
            return Ok(());
        }
        if mask == Ipv4Addr::UNSPECIFIED {
            return Err(Fail::Bad(format!(
                "bad mask {mask} for an interface address"
            )));
        }
        if address.is_unspecified() || address.is_broadcast() || address.is_multicast() {
            return Err(Fail::Bad(format!(
                "{address} cannot be an interface address"
            )));
        }
        if ia.prefix_len() <= 30 {
            if address == ia.network() {
                return Err(Fail::Bad(format!(
                    "{address} is the network address of {}/{}; use a host address",
                    ia.network(),
                    ia.prefix_len()
                )));
            }
            if address == ia.broadcast() {
                return Err(Fail::Bad(format!(
                    "{address} is the broadcast address of {}/{}; use a host address",
                    ia.network(),
                    ia.prefix_len()
                )));
            }
        }
        let i = self.iface_mut(name);
        if secondary {
            if i.address.is_none() {
                return Err(Fail::Bad(
                    "configure the primary address before a secondary one".into(),
                ));
            }
            if i.address != Some(ia) && !i.secondary.contains(&ia) {
                i.secondary.push(ia);
            }
        } else {
            i.secondary.retain(|a| *a != ia);
            i.address = Some(ia);
        }
        Ok(())
    }

    /// `ip irdp [multicast | preference N | maxadvertinterval N |
    /// minadvertinterval N | holdtime N]` (IOS; ranges and defaults from
    /// RFC 1256 4.1: max 4-1800 default 600, min 3-max default 0.75 max,
    /// holdtime max-9000 default 3 max).
    fn irdp_cmd(&mut self, name: &str, c: &mut Cur, neg: bool) -> Result<(), Fail> {
        let cur = self.iface_mut(name).irdp.clone();
        let mut irdp = cur.clone();
        if c.done() {
            irdp.enabled = !neg;
        } else if c.eat("multicast") {
            c.end()?;
            irdp.multicast = !neg;
        } else if c.eat("preference") {
            if neg {
                c.skip_rest();
                irdp.preference = None;
            } else {
                let w = c
                    .next()
                    .ok_or_else(|| expected("a preference level (a signed number)", None))?;
                let p = w.parse::<i32>().map_err(|_| {
                    expected("a preference level (a signed 32-bit number)", Some(w))
                })?;
                c.end()?;
                irdp.preference = Some(p);
            }
        } else if c.eat("maxadvertinterval") {
            if neg {
                c.skip_rest();
                irdp.max_advert_interval = None;
            } else {
                let v = c.num_u32("maxadvertinterval (seconds)", 4, 1800)?;
                c.end()?;
                irdp.max_advert_interval = Some(v);
            }
        } else if c.eat("minadvertinterval") {
            if neg {
                c.skip_rest();
                irdp.min_advert_interval = None;
            } else {
                let v = c.num_u32("minadvertinterval (seconds)", 3, 1800)?;
                c.end()?;
                irdp.min_advert_interval = Some(v);
            }
        } else if c.eat("holdtime") {
            if neg {
                c.skip_rest();
                irdp.holdtime = None;
            } else {
                let v = c.num_u32("holdtime (seconds)", 4, 9000)?;
                c.end()?;
                irdp.holdtime = Some(v);
            }
        } else {
            return Err(Fail::Bad(expected(
                "`multicast`, `preference N`, `maxadvertinterval N`, `minadvertinterval N`, `holdtime N` \
                 or end of line after ip irdp",
                c.peek(),
            )));
        }
        // RFC 1256 4.1: MinAdvertisementInterval <= MaxAdvertisementInterval
        // <= AdvertisementLifetime.
        let (min, max, hold) = (
            irdp.min_advert_interval(),
            irdp.max_advert_interval(),
            irdp.holdtime(),
        );
        if min > max {
            return Err(Fail::Bad(format!(
                "minadvertinterval {min} would exceed maxadvertinterval {max} (RFC 1256: min <= max)"
            )));
        }
        if hold < max {
            return Err(Fail::Bad(format!(
                "holdtime {hold} would be below maxadvertinterval {max} (RFC 1256: holdtime >= max)"
            )));
        }
        self.iface_mut(name).irdp = irdp;
        Ok(())
    }

    // ----------------------------------------------------------------
    // SSID configuration mode (the Aironet documentation steps 10-11).

    fn ssid_cmd(&mut self, interface: String, ssid: String, c: &mut Cur, neg: bool) -> Step {
        let here = Mode::Ssid {
            interface: interface.clone(),
            ssid: ssid.clone(),
        };
        let cur = self
            .iface_mut(&interface)
            .ssid(&ssid)
            .cloned()
            .unwrap_or_else(|| Ssid {
                name: ssid.clone(),
                ..Ssid::default()
            });
        let mut new = cur;
        if c.is("ip")
            && c.peek_at(1)
                .is_some_and(|w| w.eq_ignore_ascii_case("proxy-mobile"))
            && c.peek_at(2).is_none()
        {
            c.i += 2;
            if !neg {
                if let Some(v) = new.vlan {
                    return Err(Fail::Bad(format!(
                        "SSID {ssid} has `vlan {v}`, and proxy Mobile IP is not supported on an SSID with a VLAN \
                         (the Aironet documentation); remove it with `no vlan` first"
                    )));
                }
                self.proxy_blocked()?;
            }
            new.proxy_mobile = !neg;
        } else if c.eat("vlan") {
            if neg {
                c.skip_rest();
                new.vlan = None;
            } else {
                let v = c.num("vlan", 1, 4094)? as u16;
                c.end()?;
                if new.proxy_mobile {
                    return Err(Fail::Bad(format!(
                        "SSID {ssid} has `ip proxy-mobile`, and proxy Mobile IP is not supported on an SSID with \
                         a VLAN (the Aironet documentation); remove it with `no ip proxy-mobile` first"
                    )));
                }
                new.vlan = Some(v);
            }
        } else {
            return Err(Fail::NotHere);
        }
        let iface = self.iface_mut(&interface);
        match iface.ssids.iter_mut().find(|s| s.name == ssid) {
            Some(s) => *s = new,
            None => iface.ssids.push(new),
        }
        Ok(here)
    }
}

/// The RADIUS shared secret: IOS reads the rest of the line, after an
/// optional type `0` (clear text); type 7 (encrypted) is not supported.
fn radius_secret(c: &mut Cur) -> Result<String, Fail> {
    if c.is("7") && c.peek_at(1).is_some() {
        return Err(Fail::Bad(
            "encrypted (type 7) keys are not supported; give the key in clear text".into(),
        ));
    }
    if c.is("0") && c.peek_at(1).is_some() {
        c.i += 1;
    }
    let k = c.rest();
    if k.is_empty() {
        return Err(Fail::Bad(expected("the shared secret after key", None)));
    }
    if k == MASK {
        return Err(Fail::Bad(
            "the key is masked (********); copy the configuration from `show running-config` with keys shown".into(),
        ));
    }
    c.skip_rest();
    Ok(k.to_string())
}

/// Numbered lines (1-based), splitting on `\n` and dropping a `\r`.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_stripped() {
        assert_eq!(
            strip_prompt("ap1200# configure terminal"),
            "configure terminal"
        );
        assert_eq!(
            strip_prompt("ap1200(config-if-ssid)# ip proxy-mobile"),
            "ip proxy-mobile"
        );
        assert_eq!(strip_prompt("Router>enable"), "Router>enable");
        assert_eq!(strip_prompt("Router> enable"), "enable");
        assert_eq!(strip_prompt("ip proxy-mobile"), "ip proxy-mobile");
        assert_eq!(strip_prompt("ap1200#"), "");
    }

    #[test]
    fn cursor_rest_keeps_inner_spacing() {
        let mut c = Cur::new("description  uplink to   core  ");
        c.next();
        assert_eq!(c.rest(), "uplink to   core");
    }
}
