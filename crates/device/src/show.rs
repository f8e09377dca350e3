//! `show ip mobile ...` in IOS layout, and the same data as JSON.

use pmip_engine::binding::Binding;
use pmip_engine::foreign_agent::{ForeignAgent, Visitor};
use pmip_engine::home_agent::{Counters, HomeAgent};
use pmip_engine::time::Instant;
use pmip_wire::registration::ReplyCode;
use pmip_wire::tunnel::Encapsulation;
use serde_json::json;
use std::fmt::Write;
use std::time::Duration;

fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// IOS prints the flags of a binding as `SBDMGVT` letters, upper case when
/// set (`show ip mobile binding`).
fn flags(b: &Binding) -> String {
    let f = |set: bool, c: char| if set { c.to_ascii_uppercase() } else { c };
    let gre = matches!(b.encapsulation, Encapsulation::Gre { .. });
    [
        f(b.simultaneous, 's'),
        f(b.broadcast, 'b'),
        f(b.decapsulation_by_mn, 'd'),
        'm',
        f(gre, 'g'),
        'v',
        f(b.reverse_tunnel, 't'),
    ]
    .iter()
    .collect()
}

fn ident(i: u64) -> String {
    format!("{:08X}.{:08X}", i >> 32, i & 0xffff_ffff)
}

fn encapsulation(e: &Encapsulation) -> &'static str {
    match e {
        Encapsulation::IpInIp => "IP-in-IP",
        Encapsulation::Gre { .. } => "GRE",
    }
}

pub fn bindings(ha: &HomeAgent, now: Instant, json: bool) -> String {
    let mut list: Vec<&Binding> = ha.bindings().iter().collect();
    list.sort_by_key(|b| (u32::from(b.home_address), u32::from(b.care_of_address)));
    if json {
        let items: Vec<_> = list
            .iter()
            .map(|b| {
                json!({
                    "home_address": b.home_address.to_string(),
                    "care_of_address": b.care_of_address.to_string(),
                    "source": b.source.ip().to_string(),
                    "home_agent": b.home_agent.to_string(),
                    "lifetime_granted": b.lifetime,
                    "lifetime_remaining": b.remaining(now).as_secs(),
                    "flags": flags(b),
                    "identification": ident(b.identification),
                    "encapsulation": encapsulation(&b.encapsulation),
                    "reverse_tunnel": b.reverse_tunnel,
                })
            })
            .collect();
        return json!({ "total": list.len(), "bindings": items }).to_string();
    }
    let mut s = String::from("Mobility Binding List:\n");
    let _ = writeln!(s, "Total {}", list.len());
    for b in list {
        let _ = writeln!(s, "{}:", b.home_address);
        let _ = writeln!(
            s,
            "    Care-of Addr {}, Src Addr {},",
            b.care_of_address,
            b.source.ip()
        );
        let _ = writeln!(
            s,
            "    Lifetime granted {} ({}), remaining {}",
            hms(Duration::from_secs(u64::from(b.lifetime))),
            b.lifetime,
            hms(b.remaining(now))
        );
        let _ = writeln!(
            s,
            "    Flags {}, Identification {},",
            flags(b),
            ident(b.identification)
        );
        let _ = writeln!(
            s,
            "    Tunnel pmip0 src {} dest {}{}, {}",
            b.home_agent,
            b.care_of_address,
            if b.reverse_tunnel {
                " reverse-allowed"
            } else {
                ""
            },
            encapsulation(&b.encapsulation)
        );
    }
    s
}

fn denied(c: &Counters, code: ReplyCode) -> u64 {
    c.denied.get(&u8::from(code)).copied().unwrap_or(0)
}

/// `show ip mobile traffic`: the home agent and foreign agent parts.
pub fn traffic(
    ha: Option<&HomeAgent>,
    fa: Option<&ForeignAgent>,
    tunnel: Option<&pmip_platform::dataplane::Counters>,
    json: bool,
) -> String {
    use std::sync::atomic::Ordering::Relaxed;
    if json {
        let mut v = serde_json::Map::new();
        if let Some(t) = tunnel {
            v.insert(
                "tunnel".into(),
                json!({
                    "encapsulated_packets": t.encapsulated.load(Relaxed),
                    "encapsulated_bytes": t.encapsulated_bytes.load(Relaxed),
                    "decapsulated_packets": t.decapsulated.load(Relaxed),
                    "decapsulated_bytes": t.decapsulated_bytes.load(Relaxed),
                    "no_tunnel_packets": t.no_tunnel.load(Relaxed),
                    "bad_tunnel_packets": t.bad_tunnel_packet.load(Relaxed),
                    "refused_source_packets": t.refused_source.load(Relaxed),
                    "ttl_exceeded_packets": t.ttl_exceeded.load(Relaxed),
                    "send_errors": t.send_errors.load(Relaxed),
                }),
            );
        }
        if let Some(ha) = ha
            && let Ok(serde_json::Value::Object(m)) = serde_json::from_str(&ha_traffic(ha, true))
        {
            v.extend(m);
        }
        if let Some(fa) = fa {
            v.insert("foreign_agent".into(), fa_traffic_json(&fa.counters));
        }
        return serde_json::Value::Object(v).to_string();
    }
    let mut s = String::new();
    if let Some(ha) = ha {
        s.push_str(&ha_traffic(ha, false));
    } else {
        s.push_str("IP Mobility traffic:\n");
    }
    if let Some(t) = tunnel {
        let _ = writeln!(s, "Tunnel (pmip0):");
        let _ = writeln!(
            s,
            "    Encapsulated {} packets, {} bytes; decapsulated {} packets, {} bytes",
            t.encapsulated.load(Relaxed),
            t.encapsulated_bytes.load(Relaxed),
            t.decapsulated.load(Relaxed),
            t.decapsulated_bytes.load(Relaxed)
        );
        let _ = writeln!(
            s,
            "    Dropped: {} without a tunnel, {} bad tunnel packets, {} from a refused source, {} TTL exceeded, {} send errors",
            t.no_tunnel.load(Relaxed),
            t.bad_tunnel_packet.load(Relaxed),
            t.refused_source.load(Relaxed),
            t.ttl_exceeded.load(Relaxed),
            t.send_errors.load(Relaxed)
        );
    }
    if let Some(fa) = fa {
        let c = &fa.counters;
        let _ = writeln!(s, "Advertisements:");
        let _ = writeln!(s, "    Solicitations received {}", c.solicitations);
        let _ = writeln!(s, "    Advertisements sent {}", c.advertisements);
        let _ = writeln!(s, "Foreign Agent Registrations:");
        let _ = writeln!(s, "    Request in {}, Forwarded {}", c.requests, c.relayed);
        let _ = writeln!(
            s,
            "    Replies in {}, Accepted {}",
            c.replies, c.replies_accepted
        );
        let _ = writeln!(
            s,
            "    Timeouts {}, Visitors expired {}",
            c.timeouts, c.expired
        );
        let mut denied: Vec<_> = c.denied.iter().collect();
        denied.sort();
        let total: u64 = c.denied.values().sum();
        let _ = writeln!(s, "    Denied {total}");
        for (code, n) in denied {
            let _ = writeln!(s, "      {} {n}", ReplyCode::from(*code));
        }
        let _ = writeln!(
            s,
            "    Binding updates received {}, acknowledges sent {}",
            c.bind_updates, c.bind_acks_sent
        );
        if !c.dropped.is_empty() {
            let _ = writeln!(s, "    Ignored:");
            let mut reasons: Vec<_> = c.dropped.iter().collect();
            reasons.sort();
            for (r, n) in reasons {
                let _ = writeln!(s, "      {r} {n}");
            }
        }
    }
    s
}

fn fa_traffic_json(c: &pmip_engine::foreign_agent::Counters) -> serde_json::Value {
    let denied: serde_json::Map<String, serde_json::Value> = c
        .denied
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let dropped: serde_json::Map<String, serde_json::Value> = c
        .dropped
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "solicitations": c.solicitations,
        "advertisements": c.advertisements,
        "requests": c.requests,
        "relayed": c.relayed,
        "replies": c.replies,
        "replies_accepted": c.replies_accepted,
        "timeouts": c.timeouts,
        "expired": c.expired,
        "denied_by_code": denied,
        "ignored_by_reason": dropped,
        "binding_updates": c.bind_updates,
        "binding_acks_sent": c.bind_acks_sent,
    })
}

fn mac(m: &[u8; 6]) -> String {
    // IOS writes MAC addresses as three dotted groups.
    format!(
        "{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// `show ip mobile visitor` in IOS layout.
pub fn visitors(fa: &ForeignAgent, now: Instant, json: bool) -> String {
    let mut list: Vec<&Visitor> = fa.visitors().collect();
    list.sort_by_key(|v| u32::from(v.home_address));
    let coa = fa.config().care_of_address;
    if json {
        let items: Vec<_> = list
            .iter()
            .map(|v| {
                json!({
                    "home_address": v.home_address.to_string(),
                    "interface": v.interface,
                    "mac": mac(&v.mac),
                    "home_agent": v.home_agent.to_string(),
                    "udp_src_port": v.port,
                    "identification": ident(v.identification),
                    "lifetime_granted": v.lifetime,
                    "lifetime_remaining": v.expires.saturating_since(now).as_secs(),
                    "encapsulation": encapsulation(&v.encapsulation),
                    "reverse_tunnel": v.reverse_tunnel,
                })
            })
            .collect();
        return json!({ "total": list.len(), "visitors": items }).to_string();
    }
    let mut s = String::from("Mobility Visitor List:\n");
    let _ = writeln!(s, "Total {}", list.len());
    for v in list {
        let _ = writeln!(s, "{}:", v.home_address);
        let _ = writeln!(s, "    Interface {}, MAC addr {}", v.interface, mac(&v.mac));
        let _ = writeln!(
            s,
            "    IP src {}, dest {}, UDP src port {}",
            v.home_address, coa, v.port
        );
        let _ = writeln!(
            s,
            "    HA addr {}, Identification {}",
            v.home_agent,
            ident(v.identification)
        );
        let _ = writeln!(
            s,
            "    Lifetime {} ({}) Remaining {}",
            hms(Duration::from_secs(u64::from(v.lifetime))),
            v.lifetime,
            hms(v.expires.saturating_since(now))
        );
        let _ = writeln!(
            s,
            "    Tunnel pmip0 src {}, dest {}{}, {}",
            coa,
            v.home_agent,
            if v.reverse_tunnel {
                ", reverse-allowed"
            } else {
                ""
            },
            encapsulation(&v.encapsulation)
        );
    }
    s
}

fn ha_traffic(ha: &HomeAgent, json: bool) -> String {
    let c = &ha.counters;
    let total_denied: u64 = c.denied.values().sum();
    let ignored: u64 = c.dropped.values().sum();
    if json {
        let by_code: serde_json::Map<String, serde_json::Value> = c
            .denied
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let dropped: serde_json::Map<String, serde_json::Value> = c
            .dropped
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        return json!({
            "home_agent": {
                "requests": c.requests,
                "accepted": c.accepted,
                "deregistrations": c.deregistrations,
                "denied": total_denied,
                "denied_by_code": by_code,
                "ignored": ignored,
                "ignored_by_reason": dropped,
                "expired": c.expired,
                "binding_updates_sent": c.bind_updates_sent,
                "binding_acks_received": c.bind_acks_received,
            }
        })
        .to_string();
    }
    let mut s = String::from("IP Mobility traffic:\nHome Agent Registrations:\n");
    let _ = writeln!(
        s,
        "    Requests {}, Deregister {}",
        c.requests, c.deregistrations
    );
    let _ = writeln!(s, "    Accepted {}, Expired {}", c.accepted, c.expired);
    let _ = writeln!(s, "    Denied {total_denied}, Ignored {ignored}");
    let _ = writeln!(
        s,
        "    Unspecified {}, Unknown HA {}",
        denied(c, ReplyCode::UnspecifiedHa),
        denied(c, ReplyCode::UnknownHomeAgentAddress)
    );
    let _ = writeln!(
        s,
        "    Administrative prohibited {}, No resource {}",
        denied(c, ReplyCode::AdministrativelyProhibitedHa),
        denied(c, ReplyCode::InsufficientResourcesHa)
    );
    let _ = writeln!(
        s,
        "    Authentication failed MN {}, FA {}",
        denied(c, ReplyCode::MobileNodeFailedAuthenticationHa),
        denied(c, ReplyCode::ForeignAgentFailedAuthentication)
    );
    let _ = writeln!(
        s,
        "    Bad identification {}, Bad request form {}",
        denied(c, ReplyCode::IdentificationMismatch),
        denied(c, ReplyCode::PoorlyFormedRequest)
    );
    let _ = writeln!(
        s,
        "    Unavailable encap {}, reverse tunnel {}",
        denied(c, ReplyCode::EncapsulationUnavailableHa),
        denied(c, ReplyCode::ReverseTunnelUnavailableHa)
    );
    let _ = writeln!(
        s,
        "    Binding updates sent {}, acknowledges received {}",
        c.bind_updates_sent, c.bind_acks_received
    );
    if !c.dropped.is_empty() {
        let _ = writeln!(s, "Ignored:");
        let mut reasons: Vec<_> = c.dropped.iter().collect();
        reasons.sort();
        for (r, n) in reasons {
            let _ = writeln!(s, "    {r} {n}");
        }
    }
    s
}

/// An association fetched from the AAA server: home address, SPI, the
/// RADIUS server it came from, its age.
pub type AaaSa = (
    std::net::Ipv4Addr,
    u32,
    std::net::SocketAddrV4,
    std::time::Duration,
);

/// A runtime's fetched associations (SPI, server, when) as rows for the
/// `secure` shows, by home address.
pub fn aaa_list(
    fetched: &std::collections::HashMap<
        std::net::Ipv4Addr,
        (u32, std::net::SocketAddrV4, std::time::Instant),
    >,
) -> Vec<AaaSa> {
    let mut v: Vec<AaaSa> = fetched
        .iter()
        .map(|(home, (spi, server, at))| (*home, *spi, *server, at.elapsed()))
        .collect();
    v.sort_by_key(|a| u32::from(a.0));
    v
}

/// "RADIUS 198.51.100.10:1812", or just "RADIUS" when the association was
/// not cached (IOS `aaa` without `load-sa`).
fn radius_source(server: &std::net::SocketAddrV4) -> String {
    if server.ip().is_unspecified() {
        "RADIUS".into()
    } else {
        format!("RADIUS {server}")
    }
}

pub fn secure_hosts(config: &pmip_config::Config, aaa: &[AaaSa], json: bool) -> String {
    let entries: Vec<_> = config
        .mobile
        .secure
        .iter()
        .filter(|e| e.peer == pmip_config::SaPeer::Host)
        .collect();
    if json {
        let items: Vec<_> = entries
            .iter()
            .map(|e| {
                json!({
                    "low": e.range.low.to_string(),
                    "high": e.range.high.to_string(),
                    "spi": format!("{:X}", e.sa.spi),
                    "algorithm": format!("{:?}", e.sa.algorithm),
                    "replay": format!("{:?}", e.sa.replay),
                    "source": "local",
                })
            })
            .collect();
        let fetched: Vec<_> = aaa
            .iter()
            .map(|(home, spi, server, age)| {
                json!({
                    "home_address": home.to_string(),
                    "spi": format!("{spi:X}"),
                    "source": radius_source(server).to_lowercase(),
                    "age_seconds": age.as_secs(),
                })
            })
            .collect();
        return json!({ "hosts": items, "aaa": fetched }).to_string();
    }
    let mut s = String::from("Security Associations (algorithm,mode,replay protection,key):\n");
    for e in entries {
        let (alg, mode) = match e.sa.algorithm {
            pmip_config::Algorithm::KeyedMd5PrefixSuffix => ("MD5", "Prefix-suffix"),
            pmip_config::Algorithm::HmacMd5 => ("HMAC-MD5", "-"),
        };
        let pmip_config::Replay::Timestamp { within } = e.sa.replay;
        let _ = writeln!(
            s,
            "{}{}:",
            e.range.low,
            if e.range.low == e.range.high {
                String::new()
            } else {
                format!(" - {}", e.range.high)
            }
        );
        let _ = writeln!(
            s,
            "    SPI {:X},  {alg}, {mode}, Timestamp +/- {within},",
            e.sa.spi
        );
        let _ = writeln!(s, "    Key {}", pmip_config::KEY_MASK);
    }
    if !aaa.is_empty() {
        s.push_str("Security Associations from the AAA server:\n");
        for (home, spi, server, age) in aaa {
            let _ = writeln!(
                s,
                "{home}:\n    SPI {spi:X}, from {}, {} s ago, Key {}",
                radius_source(server),
                age.as_secs(),
                pmip_config::KEY_MASK
            );
        }
    }
    s
}

/// `show ip proxy-mobile`: the AP's proxy Mobile IP status.
pub fn proxy_status(
    config: &pmip_config::Config,
    ap: &pmip_engine::proxy_ap::ProxyAp,
    json: bool,
) -> String {
    let p = &config.proxy_mobile;
    let state = if !p.enabled {
        "disabled"
    } else if p.paused {
        "paused"
    } else {
        "enabled"
    };
    let aaps: Vec<String> = p.aaps.iter().map(|a| a.to_string()).collect();
    let fa = ap.foreign_agent();
    let ha = ap.own_home_agent();
    let c = &ap.counters;
    if json {
        return json!({
            "state": state,
            "aaps": aaps,
            "home_agent": ha.map(|h| json!({"address": h.home_agent.to_string(), "mask": h.mask_addr().to_string()})),
            "foreign_agent": fa.map(|f| json!({
                "address": f.address.to_string(),
                "care_of_address": f.care_of_address.to_string(),
                "registration_lifetime": f.registration_lifetime,
                "reverse_tunnel": f.reverse_tunnel,
                "gre": f.gre,
            })),
            "subnet_map": ap.subnet_map().entries().iter().map(|e| json!({"home_agent": e.home_agent.to_string(), "mask": e.mask_addr().to_string()})).collect::<Vec<_>>(),
            "statistics": {
                "registrations_sent": c.registrations_sent,
                "reregistrations": c.reregistrations,
                "deregistrations": c.deregistrations,
                "accepted": c.accepted,
                "retransmissions": c.retransmissions,
                "resyncs": c.resyncs,
                "denied_by_code": c.denied.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "handoff_latency_ms": {
                    "buckets": pmip_engine::proxy_ap::HANDOFF_BUCKETS_MS.iter().map(|b| json!(b)).chain([json!("+Inf")]).zip(c.handoff_latency.counts.iter()).map(|(b, n)| json!([b, n])).collect::<Vec<_>>(),
                    "sum_ms": c.handoff_latency.sum_us as f64 / 1e3,
                    "count": c.handoff_latency.count,
                },
            },
        })
        .to_string();
    }
    let mut s = format!("Proxy Mobile IP: {state}\n");
    let _ = writeln!(
        s,
        "AAPs: {}",
        if aaps.is_empty() {
            "none".to_owned()
        } else {
            aaps.join(" ")
        }
    );
    match ha {
        Some(h) => {
            let _ = writeln!(
                s,
                "Home agent of this subnet: {} mask {}",
                h.home_agent,
                h.mask_addr()
            );
        }
        None => {
            let _ = writeln!(s, "Home agent of this subnet: not heard");
        }
    }
    match fa {
        Some(f) => {
            let _ = writeln!(
                s,
                "Foreign agent: {} care-of {}, lifetime {}, services{}{}",
                f.address,
                f.care_of_address,
                f.registration_lifetime,
                if f.reverse_tunnel {
                    " reverse-tunnel"
                } else {
                    ""
                },
                if f.gre { " GRE" } else { "" }
            );
        }
        None => {
            let _ = writeln!(s, "Foreign agent: not heard");
        }
    }
    let _ = writeln!(s, "Subnet map:");
    for e in ap.subnet_map().entries() {
        let _ = writeln!(s, "    {:<15} {}", e.home_agent, e.mask_addr());
    }
    let _ = writeln!(
        s,
        "Statistics: registrations sent {}, re-registrations {}, deregistrations {}, accepted {}, retransmissions {}, resyncs {}",
        c.registrations_sent,
        c.reregistrations,
        c.deregistrations,
        c.accepted,
        c.retransmissions,
        c.resyncs
    );
    let mut denied: Vec<_> = c.denied.iter().collect();
    denied.sort();
    for (code, n) in denied {
        let _ = writeln!(s, "    denied {} {n}", ReplyCode::from(*code));
    }
    s
}

/// `show ip proxy-mobile visitor`: the stations and what the AP does for them.
pub fn proxy_visitors(ap: &pmip_engine::proxy_ap::ProxyAp, now: Instant, json: bool) -> String {
    use pmip_engine::proxy_ap::State;
    let mut list: Vec<_> = ap.stations().collect();
    list.sort_by_key(|s| s.mac);
    let state = |st: &State| -> (String, Option<u64>) {
        match st {
            State::Learning => ("learning address".into(), None),
            State::Home => ("at home".into(), None),
            State::NotProxied(r) => (format!("not proxied ({r:?})"), None),
            State::WaitingForAgent => ("waiting for an agent".into(), None),
            State::FetchingSa => ("fetching its association from RADIUS".into(), None),
            State::Registering { tries, .. } => (format!("registering (try {})", tries + 1), None),
            State::Registered { expires, .. } => (
                "registered".into(),
                Some(expires.saturating_since(now).as_secs()),
            ),
            State::BackingOff { code, .. } => (format!("denied {code}, backing off"), None),
        }
    };
    let coa = ap.foreign_agent().map(|f| f.care_of_address);
    if json {
        let items: Vec<_> = list
            .iter()
            .map(|s| {
                let (st, left) = state(&s.state);
                json!({
                    "mac": mac(&s.mac),
                    "ssid": s.ssid,
                    "address": s.address.map(|a| a.to_string()),
                    "home_agent": s.home_agent.map(|a| a.to_string()),
                    "care_of_address": coa.map(|a| a.to_string()),
                    "state": st,
                    "lifetime_remaining": left,
                    "associated_ms_ago": now.saturating_since(s.associated_at).as_millis() as u64,
                    "registration_rtt_ms": s.registration_rtt.map(|d| d.as_secs_f64() * 1e3),
                    "registered_after_ms": s.registered_after.map(|d| d.as_secs_f64() * 1e3),
                })
            })
            .collect();
        return json!({ "total": list.len(), "visitors": items }).to_string();
    }
    let mut s = String::from("Proxy Mobile IP visitors:\n");
    let _ = writeln!(s, "Total {}", list.len());
    for v in list {
        let (st, left) = state(&v.state);
        let _ = writeln!(
            s,
            "{} ssid {}: address {}, home agent {}, care-of {}, {}{}",
            mac(&v.mac),
            v.ssid,
            v.address.map_or("-".into(), |a| a.to_string()),
            v.home_agent.map_or("-".into(), |a| a.to_string()),
            coa.map_or("-".into(), |a| a.to_string()),
            st,
            left.map_or(String::new(), |l| format!(", {l} s left"))
        );
        if let Some(rtt) = v.registration_rtt {
            let _ = writeln!(
                s,
                "    last registration round trip {:.1} ms{}",
                rtt.as_secs_f64() * 1e3,
                v.registered_after.map_or(String::new(), |d| format!(
                    ", registered {:.0} ms after association",
                    d.as_secs_f64() * 1e3
                ))
            );
        }
    }
    s
}

/// `show ip proxy-mobile secure`: the SA bindings (seed 001's SA Binding
/// page), keys masked.
pub fn proxy_secure(config: &pmip_config::Config, aaa: &[AaaSa], json: bool) -> String {
    let nodes = &config.proxy_mobile.nodes;
    if json {
        let items: Vec<_> = nodes
            .iter()
            .map(|n| {
                json!({
                    "start": n.range.low.to_string(),
                    "end": n.range.high.to_string(),
                    "spi": format!("{:X}", n.sa.spi),
                    "algorithm": format!("{:?}", n.sa.algorithm),
                    "key": pmip_config::KEY_MASK,
                    "source": "local",
                })
            })
            .collect();
        let fetched: Vec<_> = aaa
            .iter()
            .map(|(home, spi, server, age)| {
                json!({
                    "start": home.to_string(),
                    "end": home.to_string(),
                    "spi": format!("{spi:X}"),
                    "key": pmip_config::KEY_MASK,
                    "source": radius_source(server).to_lowercase(),
                    "age_seconds": age.as_secs(),
                })
            })
            .collect();
        return json!({ "sa_bindings": items, "aaa": fetched }).to_string();
    }
    let mut s = String::from("Proxy Mobile IP security associations:\n");
    for n in nodes {
        let alg = match n.sa.algorithm {
            pmip_config::Algorithm::KeyedMd5PrefixSuffix => "MD5 prefix-suffix",
            pmip_config::Algorithm::HmacMd5 => "HMAC-MD5",
        };
        let _ = writeln!(
            s,
            "    {} - {}  SPI {:X}  {alg}  key {}",
            n.range.low,
            n.range.high,
            n.sa.spi,
            pmip_config::KEY_MASK
        );
    }
    for (home, spi, server, age) in aaa {
        let _ = writeln!(
            s,
            "    {home}  SPI {spi:X}  from {}, {} s ago  key {}",
            radius_source(server),
            age.as_secs(),
            pmip_config::KEY_MASK
        );
    }
    s
}
