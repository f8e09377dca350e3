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
    /// Every keyword the parser tried, with the word position it tried it
    /// at: a line that fails is tried again with a word that is the
    /// unique prefix of a keyword tried at its position written out
    /// (`ip mob home-agent lif 300`, as IOS takes it).
    tried: std::cell::RefCell<Vec<(usize, &'static str)>>,
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
        Cur {
            text,
            words,
            i: 0,
            tried: Default::default(),
        }
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

    fn is(&self, kw: &'static str) -> bool {
        // Also past the last word: what may follow a line typed so far
        // (`?` and Tab in the console).
        self.tried.borrow_mut().push((self.i, kw));
        self.peek().is_some_and(|w| w.eq_ignore_ascii_case(kw))
    }

    fn eat(&mut self, kw: &'static str) -> bool {
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

    fn expect(&mut self, kw: &'static str, what: &str) -> Result<(), String> {
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

/// Most abbreviated keywords written out in one line.
const MAX_EXPANSIONS: usize = 12;

/// What a failed line's abbreviations give.
enum Expansion {
    /// The line with its first abbreviated keyword written out.
    Line(String),
    /// The first word that is not a keyword where keywords were tried
    /// prefixes several of them.
    Ambiguous(String, Vec<&'static str>),
    None,
}

/// IOS takes a keyword's unique prefix, in any case: the first word that
/// is no keyword tried at its position but the prefix of exactly one is
/// written out. A word that is itself a keyword tried there, or the prefix
/// of none (a name, an address, a number), stays as written.
fn expand_abbreviation(line: &str, tried: &[(usize, &'static str)]) -> Expansion {
    let words = Cur::new(line).words;
    for (i, &(offset, word)) in words.iter().enumerate() {
        let here: Vec<&'static str> = tried
            .iter()
            .filter(|(p, _)| *p == i)
            .map(|(_, k)| *k)
            .collect();
        if here.is_empty() || here.iter().any(|k| k.eq_ignore_ascii_case(word)) {
            continue;
        }
        let mut choices: Vec<&'static str> = here
            .into_iter()
            .filter(|k| {
                k.len() > word.len()
                    && k.as_bytes()[..word.len()].eq_ignore_ascii_case(word.as_bytes())
            })
            .collect();
        choices.sort_unstable();
        choices.dedup();
        match choices.as_slice() {
            [] => continue,
            [one] => {
                // Only that word changes; the rest keeps its spacing.
                let end = offset + word.len();
                return Expansion::Line(format!("{}{one}{}", &line[..offset], &line[end..]));
            }
            _ => return Expansion::Ambiguous(word.to_string(), choices),
        }
    }
    Expansion::None
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
        // As written; if it fails, again with an abbreviated keyword
        // written out (one at a time, left to right).
        let mut line = text.to_string();
        let mut expanded = 0;
        loop {
            let (result, tried) = self.try_line(mode, &line);
            let reason = match result {
                Ok(new_mode) => {
                    *mode = new_mode;
                    return Ok(());
                }
                Err(reason) => reason,
            };
            if expanded >= MAX_EXPANSIONS {
                return Err(err(reason));
            }
            match expand_abbreviation(&line, &tried) {
                Expansion::Line(l) => {
                    line = l;
                    expanded += 1;
                }
                Expansion::Ambiguous(word, choices) => {
                    return Err(err(format!(
                        "ambiguous: `{word}` could be {}",
                        choices.join(", ")
                    )));
                }
                Expansion::None => return Err(err(reason)),
            }
        }
    }

    /// The keywords that may follow `words` (abbreviated or not) in
    /// `mode`, sorted: configuration help for `?` and Tab. Empty where a
    /// value (a name, an address, a number) comes next, or the words
    /// already go wrong.
    pub fn keywords_after(mode: &Mode, words: &[&str]) -> Vec<&'static str> {
        let mut scratch = Config::default();
        scratch.ensure_mode(mode);
        // A word that is no keyword stands at the cursor, so the parser
        // tries every keyword that may come there (a line complete
        // without it would end before asking).
        let mut line = words.join(" ");
        line.push_str(if line.is_empty() { "\u{1}" } else { " \u{1}" });
        for _ in 0..=MAX_EXPANSIONS {
            let (_, tried) = scratch.try_line(mode, &line);
            let mut next: Vec<&'static str> = tried
                .iter()
                .filter(|(p, _)| *p == words.len())
                .map(|(_, k)| *k)
                .collect();
            if !next.is_empty() {
                next.sort_unstable();
                next.dedup();
                return next;
            }
            match expand_abbreviation(&line, &tried) {
                Expansion::Line(l) => line = l,
                _ => break,
            }
        }
        Vec::new()
    }

    /// One try of `text` in `mode` (and the modes above it): the mode it
    /// leaves, or why not; and the keywords tried.
    fn try_line(
        &mut self,
        mode: &Mode,
        text: &str,
    ) -> (Result<Mode, String>, Vec<(usize, &'static str)>) {
        let mut tried = Vec::new();
        let mut m = mode.clone();
        let words: Vec<&str> = text.split_whitespace().collect();
        loop {
            let mut c = Cur::new(text);
            let neg = c.eat("no");
            if neg && c.done() {
                return (Err("expected a command after `no`".to_string()), tried);
            }
            let step = match &m {
                Mode::Global => self.global(&mut c, neg),
                Mode::Interface(name) => self.interface_cmd(name.clone(), &mut c, neg),
                Mode::Ssid { interface, ssid } => {
                    self.ssid_cmd(interface.clone(), ssid.clone(), &mut c, neg)
                }
                Mode::RouterMobile => Err(Fail::NotHere),
            };
            tried.extend(c.tried.take());
            match step {
                Ok(new_mode) => return (Ok(new_mode), tried),
                Err(Fail::Bad(reason)) => return (Err(reason), tried),
                Err(Fail::NotHere) if m != Mode::Global => m = m.parent(),
                Err(Fail::NotHere) => {
                    let rest = if neg { &words[1..] } else { &words[..] };
                    let reason = if let Some(cmd) = interface_command(rest) {
                        format!("`{cmd}` is an interface command; enter `interface NAME` first")
                    } else if rest.first().is_some_and(|w| w.eq_ignore_ascii_case("vlan")) {
                        "`vlan` is an SSID command; enter `ssid NAME` in a Dot11Radio interface first".to_string()
                    } else {
                        "unknown command; expected hostname, interface, ip address, ip route, ip default-gateway, \
                         router mobile, ip mobile ..., ip irdp ..., ip proxy-mobile ..., ip http ..., username ..., access-list ..., aaa ... or radius-server ..."
                            .to_string()
                    };
                    return (Err(reason), tried);
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
}

mod global;
mod interface;
mod mobile;

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
