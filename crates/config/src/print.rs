//! From [`Config`] back to IOS text (`show running-config`).
//!
//! The layout follows IOS: `hostname`, global `aaa`, one block per
//! interface separated by `!`, then `router mobile`, routes, `ip mobile`
//! and `ip proxy-mobile` lines, `ip http`, access lists, RADIUS servers,
//! `end`. Every line is one
//! the parser accepts, in an order it accepts, so printing with keys shown
//! and parsing again gives an equal configuration.

use std::fmt::Write as _;

use crate::model::*;

/// What a hidden key prints as (the parser refuses it with a clear
/// reason, so a masked configuration cannot be loaded by mistake).
pub const KEY_MASK: &str = "********";

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// `spi N key hex K ...` as a line tail. `full` prints the algorithm and
/// replay even when they are the defaults (IOS does for `ip mobile
/// secure`); otherwise only when they differ (the terse form the Aironet
/// documentation uses for the AP's `ip proxy-mobile secure` lines).
fn sa_tail(sa: &SecurityAssociation, show_keys: bool, full: bool) -> String {
    let (format, key) = match sa.key_format {
        KeyFormat::Hex => (
            "hex",
            if show_keys {
                hex(&sa.key)
            } else {
                KEY_MASK.to_string()
            },
        ),
        KeyFormat::Ascii => (
            "ascii",
            if show_keys {
                String::from_utf8_lossy(&sa.key).into_owned()
            } else {
                KEY_MASK.to_string()
            },
        ),
    };
    let mut s = format!("spi {:x} key {format} {key}", sa.spi);
    if full || sa.algorithm != Algorithm::default() {
        s.push_str(match sa.algorithm {
            Algorithm::KeyedMd5PrefixSuffix => " algorithm md5 mode prefix-suffix",
            Algorithm::HmacMd5 => " algorithm hmac-md5",
        });
    }
    if full || sa.replay != Replay::default() {
        let Replay::Timestamp { within } = sa.replay;
        let _ = write!(s, " replay timestamp within {within}");
    }
    s
}

impl Config {
    /// The configuration as IOS `show running-config` prints it. Keys and
    /// RADIUS secrets print as `********` unless `show_keys`.
    pub fn running_config(&self, show_keys: bool) -> String {
        let mut out = String::new();
        let mut line = |s: &str| {
            out.push_str(s);
            out.push('\n');
        };
        if let Some(h) = &self.hostname {
            line(&format!("hostname {h}"));
            line("!");
        }
        if self.aaa.new_model {
            line("aaa new-model");
            line("!");
        }
        for u in &self.usernames {
            let privilege = u
                .privilege
                .map_or(String::new(), |p| format!(" privilege {p}"));
            // Hashes are masked too: a type 9 hash can be attacked offline.
            let (kind, text) = match (&u.credential, show_keys) {
                (Credential::Password(p), true) => ("password 0", p.as_str()),
                (Credential::Password(_), false) => ("password 0", KEY_MASK),
                (Credential::Secret(h), true) => ("secret 9", h.as_str()),
                (Credential::Secret(_), false) => ("secret 9", KEY_MASK),
            };
            line(&format!("username {}{privilege} {kind} {text}", u.name));
        }
        if !self.usernames.is_empty() {
            line("!");
        }
        for i in &self.interfaces {
            line(&format!("interface {}", i.name));
            if let Some(d) = &i.description {
                line(&format!(" description {d}"));
            }
            if let Some(a) = &i.address {
                line(&format!(" ip address {} {}", a.address, a.mask));
            }
            if i.dhcp {
                line(" ip address dhcp");
            }
            for a in &i.secondary {
                line(&format!(" ip address {} {} secondary", a.address, a.mask));
            }
            let irdp = &i.irdp;
            if irdp.enabled {
                line(" ip irdp");
            }
            if irdp.multicast {
                line(" ip irdp multicast");
            }
            if let Some(p) = irdp.preference {
                line(&format!(" ip irdp preference {p}"));
            }
            // max before min and holdtime: each line is checked against
            // the values in effect when it is read.
            if let Some(v) = irdp.max_advert_interval {
                line(&format!(" ip irdp maxadvertinterval {v}"));
            }
            if let Some(v) = irdp.min_advert_interval {
                line(&format!(" ip irdp minadvertinterval {v}"));
            }
            if let Some(v) = irdp.holdtime {
                line(&format!(" ip irdp holdtime {v}"));
            }
            if let Some(fs) = &i.foreign_service {
                let mut s = String::from(" ip mobile foreign-service");
                if let Some(acl) = &fs.home_access {
                    let _ = write!(s, " home-access {acl}");
                }
                if let Some(n) = fs.limit {
                    let _ = write!(s, " limit {n}");
                }
                if fs.registration_required {
                    s.push_str(" registration-required");
                }
                if fs.reverse_tunnel {
                    s.push_str(" reverse-tunnel");
                    if fs.reverse_tunnel_mandatory {
                        s.push_str(" mandatory");
                    }
                }
                line(&s);
            }
            if let Some(v) = i.registration_lifetime {
                line(&format!(" ip mobile registration-lifetime {v}"));
            }
            match i.prefix_length {
                Some(true) => line(" ip mobile prefix-length"),
                Some(false) => line(" no ip mobile prefix-length"),
                None => {}
            }
            if let Some(role) = i.station_role {
                line(&format!(" station-role {}", role.keyword()));
            }
            if i.proxy_mobile {
                line(" ip proxy-mobile");
            }
            if i.shutdown {
                line(" shutdown");
            }
            // SSIDs last: after `ssid NAME` the parser is in SSID mode.
            for s in &i.ssids {
                line(&format!(" ssid {}", s.name));
                if let Some(v) = s.vlan {
                    line(&format!("  vlan {v}"));
                }
                if s.proxy_mobile {
                    line("  ip proxy-mobile");
                }
            }
            line("!");
        }
        let m = &self.mobile;
        if m.router_mobile {
            line("router mobile");
            line("!");
        }
        if let Some(gw) = self.default_gateway {
            line(&format!("ip default-gateway {gw}"));
        }
        for r in &self.routes {
            let mut s = format!("ip route {} {}", r.prefix, r.mask);
            if let Some(i) = &r.interface {
                let _ = write!(s, " {i}");
            }
            if let Some(nh) = r.next_hop {
                let _ = write!(s, " {nh}");
            }
            line(&s);
        }
        if let Some(ha) = &m.home_agent {
            let mut s = String::from("ip mobile home-agent");
            if ha.lifetime != DEFAULT_HA_LIFETIME {
                let _ = write!(s, " lifetime {}", ha.lifetime);
            }
            if ha.reverse_tunnel_off {
                s.push_str(" reverse-tunnel-off");
            }
            line(&s);
        }
        for h in &m.hosts {
            let mut s = format!("ip mobile host {}", h.range);
            if let Some(i) = &h.interface {
                let _ = write!(s, " interface {i}");
            }
            match h.aaa {
                None => {}
                Some(AaaLoad::OnDemand) => s.push_str(" aaa"),
                Some(AaaLoad::LoadSa) => s.push_str(" aaa load-sa"),
                Some(AaaLoad::LoadSaPermanent) => s.push_str(" aaa load-sa permanent"),
            }
            if let Some(l) = h.lifetime {
                let _ = write!(s, " lifetime {l}");
            }
            line(&s);
        }
        for e in &m.secure {
            line(&format!(
                "ip mobile secure {} {} {}",
                e.peer.keyword(),
                e.range,
                sa_tail(&e.sa, show_keys, true)
            ));
        }
        if let Some(fa) = &m.foreign_agent {
            if fa.care_of.is_empty() && fa.reg_wait == DEFAULT_REG_WAIT {
                line("ip mobile foreign-agent");
            }
            for c in &fa.care_of {
                line(&format!("ip mobile foreign-agent care-of {c}"));
            }
            if fa.reg_wait != DEFAULT_REG_WAIT {
                line(&format!("ip mobile foreign-agent reg-wait {}", fa.reg_wait));
            }
        }
        if m.bindupdate {
            line("ip mobile bindupdate");
        }
        if m.bindupdate_ack {
            line("ip mobile bindupdate ack");
        }
        let p = &self.proxy_mobile;
        if p.enabled {
            line("ip proxy-mobile enable");
        }
        if !p.aaps.is_empty() {
            let list: Vec<String> = p.aaps.iter().map(|a| a.to_string()).collect();
            line(&format!("ip proxy-mobile aap {}", list.join(" ")));
        }
        if let Some((key, format)) = &p.aap_key {
            let (kw, text) = match (format, show_keys) {
                (KeyFormat::Hex, false) => ("hex", KEY_MASK.to_string()),
                (KeyFormat::Ascii, false) => ("ascii", KEY_MASK.to_string()),
                (KeyFormat::Hex, true) => ("hex", hex(key)),
                (KeyFormat::Ascii, true) => ("ascii", String::from_utf8_lossy(key).into_owned()),
            };
            line(&format!("ip proxy-mobile aap key {kw} {text}"));
        }
        for n in &p.nodes {
            line(&format!(
                "ip proxy-mobile secure node {} {}",
                n.range,
                sa_tail(&n.sa, show_keys, false)
            ));
        }
        if p.tunnel_gre {
            line("ip proxy-mobile tunnel gre");
        }
        if p.tunnel_reverse {
            line("ip proxy-mobile tunnel reverse");
        }
        for (ha, mask) in &p.subnet_map {
            line(&format!("ip proxy-mobile subnet-map {ha} {mask}"));
        }
        if p.paused {
            line("ip proxy-mobile pause");
        }
        let h = &self.http;
        if h.server {
            line("ip http server");
        }
        if let Some(port) = h.port {
            line(&format!("ip http port {port}"));
        }
        if h.authentication_local {
            line("ip http authentication local");
        }
        // Numbered lists by number, each entry on its own line, as IOS
        // prints them.
        for l in &self.access_lists {
            for e in &l.entries {
                line(&format!("access-list {} {e}", l.number));
            }
        }
        let a = &self.aaa;
        if let Some(auth) = &a.authorization_ipmobile {
            let mut s = format!("aaa authorization ipmobile {}", auth.list);
            if let Some(g) = &auth.group {
                let _ = write!(s, " group {g}");
            }
            line(&s);
        }
        let secret = |k: &str| {
            // The parser reads a leading `0` or `7` word as the key type.
            let mut words = k.split_whitespace();
            let typed = matches!(words.next(), Some("0" | "7")) && words.next().is_some();
            if !show_keys {
                KEY_MASK.to_string()
            } else if typed {
                format!("0 {k}")
            } else {
                k.to_string()
            }
        };
        for r in &a.radius_servers {
            let mut s = format!("radius-server host {}", r.address);
            if r.auth_port != DEFAULT_RADIUS_AUTH_PORT {
                let _ = write!(s, " auth-port {}", r.auth_port);
            }
            if r.acct_port != DEFAULT_RADIUS_ACCT_PORT {
                let _ = write!(s, " acct-port {}", r.acct_port);
            }
            if let Some(t) = r.timeout {
                let _ = write!(s, " timeout {t}");
            }
            if let Some(t) = r.retransmit {
                let _ = write!(s, " retransmit {t}");
            }
            if let Some(k) = &r.key {
                let _ = write!(s, " key {}", secret(k));
            }
            line(&s);
        }
        if let Some(t) = a.radius_timeout {
            line(&format!("radius-server timeout {t}"));
        }
        if let Some(t) = a.radius_retransmit {
            line(&format!("radius-server retransmit {t}"));
        }
        if let Some(k) = &a.radius_key {
            line(&format!("radius-server key {}", secret(k)));
        }
        line("end");
        out
    }
}

impl std::fmt::Display for Config {
    /// The running-config with keys masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.running_config(false))
    }
}
