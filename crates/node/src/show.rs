//! `show` text in IOS layout, rendered from the snapshot's views (the
//! `--json` form is the same views serialised).

use crate::snapshot::*;
use pmip_wire::registration::ReplyCode;
use std::fmt::Write;

fn hms(secs: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

fn code_name(code: &str) -> String {
    code.parse::<u8>()
        .map(|c| ReplyCode::from(c).to_string())
        .unwrap_or_else(|_| code.to_owned())
}

/// `show version`.
pub fn version(v: &Version) -> String {
    let up = v.uptime_seconds;
    format!(
        "pmip {}, proxy Mobile IPv4\n{} uptime is {}h {}m {}s\nRoles: {}\n",
        v.version,
        v.hostname,
        up / 3600,
        up / 60 % 60,
        up % 60,
        if v.roles.is_empty() {
            "none".into()
        } else {
            v.roles.join(", ")
        }
    )
}

/// `show ip mobile binding`.
pub fn bindings(b: &Bindings) -> String {
    let mut s = String::from("Mobility Binding List:\n");
    let _ = writeln!(s, "Total {}", b.total);
    for b in &b.bindings {
        let _ = writeln!(s, "{}:", b.home_address);
        let _ = writeln!(
            s,
            "    Care-of Addr {}, Src Addr {},",
            b.care_of_address, b.source
        );
        let _ = writeln!(
            s,
            "    Lifetime granted {} ({}), remaining {}",
            hms(u64::from(b.lifetime_granted)),
            b.lifetime_granted,
            hms(b.lifetime_remaining)
        );
        let _ = writeln!(
            s,
            "    Flags {}, Identification {},",
            b.flags, b.identification
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
            b.encapsulation
        );
    }
    s
}

/// `show ip mobile visitor`.
pub fn visitors(v: &Visitors) -> String {
    let coa = v.care_of_address;
    let mut s = String::from("Mobility Visitor List:\n");
    let _ = writeln!(s, "Total {}", v.total);
    for v in &v.visitors {
        let _ = writeln!(s, "{}:", v.home_address);
        let _ = writeln!(s, "    Interface {}, MAC addr {}", v.interface, v.mac);
        let _ = writeln!(
            s,
            "    IP src {}, dest {}, UDP src port {}",
            v.home_address, coa, v.udp_src_port
        );
        let _ = writeln!(
            s,
            "    HA addr {}, Identification {}",
            v.home_agent, v.identification
        );
        let _ = writeln!(
            s,
            "    Lifetime {} ({}) Remaining {}",
            hms(u64::from(v.lifetime_granted)),
            v.lifetime_granted,
            hms(v.lifetime_remaining)
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
            v.encapsulation
        );
    }
    s
}

/// `show ip mobile traffic`: the home agent, tunnel and foreign agent
/// parts.
pub fn traffic(t: &Traffic) -> String {
    let mut s = String::from("IP Mobility traffic:\n");
    if let Some(c) = &t.home_agent {
        s.push_str("Home Agent Registrations:\n");
        let _ = writeln!(
            s,
            "    Requests {}, Deregister {}",
            c.requests, c.deregistrations
        );
        let _ = writeln!(s, "    Accepted {}, Expired {}", c.accepted, c.expired);
        let _ = writeln!(s, "    Denied {}, Ignored {}", c.denied, c.ignored);
        let d = |code| c.denied_with(code);
        let _ = writeln!(
            s,
            "    Unspecified {}, Unknown HA {}",
            d(ReplyCode::UnspecifiedHa),
            d(ReplyCode::UnknownHomeAgentAddress)
        );
        let _ = writeln!(
            s,
            "    Administrative prohibited {}, No resource {}",
            d(ReplyCode::AdministrativelyProhibitedHa),
            d(ReplyCode::InsufficientResourcesHa)
        );
        let _ = writeln!(
            s,
            "    Authentication failed MN {}, FA {}",
            d(ReplyCode::MobileNodeFailedAuthenticationHa),
            d(ReplyCode::ForeignAgentFailedAuthentication)
        );
        let _ = writeln!(
            s,
            "    Bad identification {}, Bad request form {}",
            d(ReplyCode::IdentificationMismatch),
            d(ReplyCode::PoorlyFormedRequest)
        );
        let _ = writeln!(
            s,
            "    Unavailable encap {}, reverse tunnel {}",
            d(ReplyCode::EncapsulationUnavailableHa),
            d(ReplyCode::ReverseTunnelUnavailableHa)
        );
        let _ = writeln!(
            s,
            "    Binding updates sent {}, acknowledges received {}",
            c.binding_updates_sent, c.binding_acks_received
        );
        if !c.ignored_by_reason.is_empty() {
            let _ = writeln!(s, "Ignored:");
            for (r, n) in &c.ignored_by_reason {
                let _ = writeln!(s, "    {r} {n}");
            }
        }
    }
    if let Some(t) = &t.tunnel {
        let _ = writeln!(s, "Tunnel (pmip0):");
        let _ = writeln!(
            s,
            "    Encapsulated {} packets, {} bytes; decapsulated {} packets, {} bytes",
            t.encapsulated_packets,
            t.encapsulated_bytes,
            t.decapsulated_packets,
            t.decapsulated_bytes
        );
        let _ = writeln!(
            s,
            "    Dropped: {} without a tunnel, {} bad tunnel packets, {} from a refused source, {} TTL exceeded, {} send errors",
            t.no_tunnel_packets,
            t.bad_tunnel_packets,
            t.refused_source_packets,
            t.ttl_exceeded_packets,
            t.send_errors
        );
    }
    if let Some(c) = &t.foreign_agent {
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
        let total: u64 = c.denied_by_code.values().sum();
        let _ = writeln!(
            s,
            "    Denied {total} ({} from visitors over their pending limit)",
            c.over_pending_limit
        );
        for (code, n) in sorted_codes(&c.denied_by_code) {
            let _ = writeln!(s, "      {} {n}", code_name(code));
        }
        let _ = writeln!(
            s,
            "    Binding updates received {}, acknowledges sent {}",
            c.binding_updates, c.binding_acks_sent
        );
        if !c.ignored_by_reason.is_empty() {
            let _ = writeln!(s, "    Ignored:");
            for (r, n) in &c.ignored_by_reason {
                let _ = writeln!(s, "      {r} {n}");
            }
        }
    }
    s
}

/// Reply codes in numeric order (the map's keys are decimal text).
fn sorted_codes(m: &std::collections::BTreeMap<String, u64>) -> Vec<(&String, &u64)> {
    let mut v: Vec<_> = m.iter().collect();
    v.sort_by_key(|(k, _)| k.parse::<u16>().unwrap_or(u16::MAX));
    v
}

/// "RADIUS 198.51.100.10:1812" from the view's lower-case source.
fn radius_source(source: &str) -> String {
    match source.strip_prefix("radius") {
        Some(rest) => format!("RADIUS{rest}"),
        None => source.to_owned(),
    }
}

/// `show ip mobile secure`.
pub fn secure_hosts(v: &SecureHosts) -> String {
    let mut s = String::from("Security Associations (algorithm,mode,replay protection,key):\n");
    for e in &v.hosts {
        let (alg, mode) = if e.algorithm == "HmacMd5" {
            ("HMAC-MD5", "-")
        } else {
            ("MD5", "Prefix-suffix")
        };
        let _ = writeln!(
            s,
            "{}{}:",
            e.low,
            if e.low == e.high {
                String::new()
            } else {
                format!(" - {}", e.high)
            }
        );
        let _ = writeln!(
            s,
            "    SPI {},  {alg}, {mode}, Timestamp +/- {},",
            e.spi, e.replay_window
        );
        let _ = writeln!(s, "    Key {}", pmip_config::KEY_MASK);
    }
    if !v.aaa.is_empty() {
        s.push_str("Security Associations from the AAA server:\n");
        for a in &v.aaa {
            let _ = writeln!(
                s,
                "{}:\n    SPI {}, from {}, {} s ago, Key {}",
                a.home_address,
                a.spi,
                radius_source(&a.source),
                a.age_seconds,
                pmip_config::KEY_MASK
            );
        }
    }
    s
}

/// `show ip proxy-mobile`.
pub fn proxy_status(p: &ProxyStatus) -> String {
    let mut s = match &p.inactive {
        Some(why) => format!("Proxy Mobile IP: {}, inactive: {why}\n", p.state),
        None => format!("Proxy Mobile IP: {}\n", p.state),
    };
    let _ = writeln!(
        s,
        "AAPs: {}",
        if p.aaps.is_empty() {
            "none".to_owned()
        } else {
            p.aaps.join(" ")
        }
    );
    match &p.home_agent {
        Some(h) => {
            let _ = writeln!(
                s,
                "Home agent of this subnet: {} mask {}",
                h.address, h.mask
            );
        }
        None => {
            let _ = writeln!(s, "Home agent of this subnet: not heard");
        }
    }
    match &p.foreign_agent {
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
    for e in &p.subnet_map {
        let _ = writeln!(s, "    {:<15} {}", e.home_agent, e.mask);
    }
    let c = &p.statistics;
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
    let _ = writeln!(
        s,
        "Stations queried for their address {}, answered {}",
        c.stations_queried, c.queries_answered
    );
    for (code, n) in sorted_codes(&c.denied_by_code) {
        let _ = writeln!(s, "    denied {} {n}", code_name(code));
    }
    s
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or("-".into(), |a| a.to_string())
}

/// `show ip proxy-mobile visitor`.
pub fn proxy_visitors(v: &ProxyVisitors) -> String {
    let mut s = String::from("Proxy Mobile IP visitors:\n");
    let _ = writeln!(s, "Total {}", v.total);
    for v in &v.visitors {
        let _ = writeln!(
            s,
            "{} ssid {}: address {}, home agent {}, care-of {}, {}{}",
            v.mac,
            v.ssid,
            or_dash(v.address),
            or_dash(v.home_agent),
            or_dash(v.care_of_address),
            v.state,
            v.lifetime_remaining
                .map_or(String::new(), |l| format!(", {l} s left"))
        );
        if let Some(rtt) = v.registration_rtt_ms {
            let _ = writeln!(
                s,
                "    last registration round trip {rtt:.1} ms{}",
                v.registered_after_ms.map_or(String::new(), |d| format!(
                    ", registered {d:.0} ms after association"
                ))
            );
        }
    }
    s
}

/// `show ip proxy-mobile secure`: the SA bindings, keys masked.
pub fn proxy_secure(v: &ProxySecure) -> String {
    let mut s = String::from("Proxy Mobile IP security associations:\n");
    for n in &v.sa_bindings {
        let alg = if n.algorithm.as_deref() == Some("HmacMd5") {
            "HMAC-MD5"
        } else {
            "MD5 prefix-suffix"
        };
        let _ = writeln!(
            s,
            "    {} - {}  SPI {}  {alg}  key {}",
            n.start, n.end, n.spi, n.key
        );
    }
    for a in &v.aaa {
        let _ = writeln!(
            s,
            "    {}  SPI {}  from {}, {} s ago  key {}",
            a.start,
            a.spi,
            radius_source(&a.source),
            a.age_seconds.unwrap_or(0),
            a.key
        );
    }
    s
}

/// `show ip proxy-mobile subnet-table`: home agent, mask, where each
/// entry came from and its age.
pub fn subnet_table(t: &SubnetTable) -> String {
    let mut s = String::new();
    match (t.exchange.as_str(), &t.off_reason) {
        ("AAP", _) => {
            let _ = writeln!(
                s,
                "Subnet map table (this AP is an AAP; {} APs joined)",
                t.members.as_ref().map_or(0, Vec::len)
            );
        }
        ("AP", _) => {
            let _ = writeln!(s, "Subnet map table (from AAP {})", or_dash(t.current_aap));
        }
        (_, Some(r)) => {
            let _ = writeln!(s, "Subnet map table (exchange off: {r})");
        }
        _ => s.push_str("Subnet map table\n"),
    }
    let _ = writeln!(
        s,
        "{:<16} {:<16} {:<24} Age",
        "Home Agent", "Mask", "Source"
    );
    for r in &t.entries {
        let _ = writeln!(
            s,
            "{:<16} {:<16} {:<24} {}",
            r.home_agent.to_string(),
            r.mask.to_string(),
            r.source,
            r.age_seconds.map_or("-".into(), hms)
        );
    }
    let _ = writeln!(s, "Total {}", t.entries.len());
    if let Some(c) = &t.counters {
        let _ = writeln!(
            s,
            "Messages: {} sent, {} received; dropped: {} failing authentication, {} replayed, {} malformed; {} retransmissions, {} failovers, {} home agent probes",
            c.sent,
            c.received,
            c.bad_auth,
            c.replayed,
            c.malformed,
            c.retransmissions,
            c.failovers,
            c.probes_sent
        );
        station_counters(&mut s, c);
    }
    let _ = writeln!(s, "In use by the AP: {} entries", t.in_use);
    if t.unauthenticated {
        let _ = writeln!(
            s,
            "Unauthenticated: no `ip proxy-mobile aap key`; tables are taken only from the configured AAPs, joins only from APs inside the subnets they report ({} refused). Add `ip proxy-mobile aap key ascii KEY` on every AP to authenticate the exchange.",
            t.refused
        );
    }
    s
}

fn station_counters(s: &mut String, c: &ExchangeCounters) {
    let _ = writeln!(
        s,
        "Stations: {} in the campus table; entries {} sent, {} received, {} taken; dropped: {} over the rate limit; {} aged out, {} evicted",
        c.stations,
        c.stations_sent,
        c.stations_received,
        c.stations_accepted,
        c.stations_rate_limited,
        c.stations_expired,
        c.stations_evicted
    );
}

/// `show ip proxy-mobile station-table`: each station some AP of the
/// campus saw, its address, that AP and how long ago.
pub fn station_table(t: &StationTable) -> String {
    let mut s = String::new();
    match (t.exchange.as_str(), &t.off_reason) {
        ("AAP", _) => s.push_str("Campus station table (this AP is an AAP)\n"),
        ("AP", _) => {
            let _ = writeln!(
                s,
                "Campus station table (from AAP {})",
                or_dash(t.current_aap)
            );
        }
        (_, Some(r)) => {
            let _ = writeln!(s, "Campus station table (exchange off: {r})");
        }
        _ => s.push_str("Campus station table\n"),
    }
    let _ = writeln!(
        s,
        "{:<16} {:<16} {:<22} Age",
        "MAC", "Address", "Seen by AP"
    );
    for r in &t.stations {
        let ap = if r.here {
            format!("{} (here)", r.ap)
        } else {
            r.ap.to_string()
        };
        let _ = writeln!(
            s,
            "{:<16} {:<16} {:<22} {}",
            r.mac,
            r.address.to_string(),
            ap,
            hms(r.age_seconds)
        );
    }
    let _ = writeln!(s, "Total {}", t.stations.len());
    if let Some(c) = &t.counters {
        station_counters(&mut s, c);
    }
    s
}

fn on_off(b: bool) -> &'static str {
    if b { "enabled" } else { "disabled" }
}

/// `show ip mobile globals`.
pub fn globals(g: &Globals) -> String {
    let mut s = String::from("IP Mobility global information:\n");
    if let Some(h) = &g.home_agent {
        s.push_str("Home Agent\n");
        let _ = writeln!(
            s,
            "    Registration lifetime: {} ({} secs)",
            hms(u64::from(h.registration_lifetime)),
            h.registration_lifetime
        );
        let _ = writeln!(s, "    Broadcast {}", on_off(h.broadcast));
        match h.replay_protection_seconds {
            Some(t) => {
                let _ = writeln!(s, "    Replay protection time: {t} secs");
            }
            None => s.push_str("    Replay protection time: -none-\n"),
        }
        let _ = writeln!(s, "    Reverse tunnel {}", on_off(h.reverse_tunnel));
        let _ = writeln!(
            s,
            "    Simultaneous bindings: up to {}",
            h.simultaneous_bindings
        );
        let _ = writeln!(s, "    Binding update {}", h.binding_update);
        let _ = writeln!(
            s,
            "    {} host range{}, {} with local security associations, {} from AAA; {} foreign agent peer{}",
            h.host_ranges,
            plural(h.host_ranges),
            h.host_security_associations,
            h.aaa_host_ranges,
            h.foreign_agent_security_associations,
            plural(h.foreign_agent_security_associations)
        );
        let _ = writeln!(s, "    Bindings: {}", h.bindings);
        s.push_str("    Home networks\n");
        for n in &h.home_networks {
            let _ = writeln!(
                s,
                "        {}/{} on {}",
                n.address, n.prefix_len, n.interface
            );
        }
    }
    if let Some(f) = &g.foreign_agent {
        s.push_str("Foreign Agent\n");
        let _ = writeln!(
            s,
            "    Pending registrations expire after {} secs (at most {} pending)",
            f.pending_timeout_seconds, f.max_pending
        );
        s.push_str("    Care-of addresses advertised\n");
        for c in &f.care_of_addresses {
            let _ = writeln!(
                s,
                "        {} ({}) - {}",
                if c.interface.is_empty() {
                    "-"
                } else {
                    &c.interface
                },
                c.address,
                if c.up { "up" } else { "down" }
            );
        }
        let _ = writeln!(s, "    Binding update {}", on_off(f.binding_update));
        let _ = writeln!(
            s,
            "    {} home agent peer{}, {} visitor security association{}",
            f.home_agent_security_associations,
            plural(f.home_agent_security_associations),
            f.visitor_security_associations,
            plural(f.visitor_security_associations)
        );
        let _ = writeln!(s, "    Visitors: {}, pending: {}", f.visitors, f.pending);
        s.push_str("    Mobility Agent\n");
        let _ = writeln!(
            s,
            "        {} interface{} providing service",
            f.interfaces_providing_service,
            plural(f.interfaces_providing_service)
        );
        let _ = writeln!(s, "        Encapsulations supported: {}", f.encapsulations);
    }
    s
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn secs(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}", ms / 1000)
    } else {
        format!("{:.3}", ms as f64 / 1000.0)
    }
}

/// `show ip mobile interface`.
pub fn interfaces(v: &MobileInterfaces) -> String {
    let mut s = String::from("IP Mobility interface information:\n");
    for i in &v.interfaces {
        let _ = writeln!(s, "Interface {}:", i.name);
        let _ = writeln!(s, "    Address {}/{}", i.address, i.prefix_len);
        if i.irdp {
            let _ = writeln!(
                s,
                "    IRDP enabled, advertisements every {} to {} secs, holdtime {} secs, to {}, preference {}",
                secs(i.min_advert_interval_ms),
                secs(i.max_advert_interval_ms),
                i.holdtime,
                if i.advertise_multicast {
                    "224.0.0.1"
                } else {
                    "255.255.255.255"
                },
                i.preference
            );
        } else {
            s.push_str("    IRDP disabled\n");
        }
        let _ = writeln!(
            s,
            "    Prefix Length {}",
            if i.prefix_length_advertised {
                "advertised"
            } else {
                "not advertised"
            }
        );
        let _ = writeln!(s, "    Lifetime is {} seconds", i.registration_lifetime);
        let _ = writeln!(s, "    Home Agent {}", on_off(i.home_agent));
        if i.foreign_agent {
            let _ = writeln!(
                s,
                "    Foreign Agent enabled, {} visitor{}{}",
                i.visitors,
                plural(i.visitors),
                i.visitor_limit
                    .map_or(String::new(), |l| format!(" (limit {l})"))
            );
            let _ = writeln!(
                s,
                "    Registration {}",
                if i.registration_required {
                    "required"
                } else {
                    "not required"
                }
            );
            if let Some(acl) = &i.home_access {
                let _ = writeln!(s, "    Home agent access list {acl}");
            }
            let _ = writeln!(
                s,
                "    Reverse tunnel {}",
                match (i.reverse_tunnel, i.reverse_tunnel_mandatory) {
                    (true, true) => "mandatory",
                    (true, false) => "enabled",
                    _ => "disabled",
                }
            );
        } else {
            s.push_str("    Foreign Agent disabled\n");
        }
    }
    s
}

fn when(ago: Option<u64>) -> String {
    ago.map_or("-never-".into(), |a| format!("{} ago", hms(a)))
}

/// `show ip mobile host [ADDR]`.
pub fn hosts(v: &MobileHosts) -> String {
    let mut s = String::new();
    for h in &v.hosts {
        let _ = writeln!(s, "{}:", h.home_address);
        let _ = writeln!(
            s,
            "    Allowed lifetime {} ({}/{})",
            hms(u64::from(h.allowed_lifetime)),
            h.allowed_lifetime,
            h.lifetime_source
        );
        let _ = writeln!(
            s,
            "    Roaming status {}, Home link on {}",
            if h.registered {
                format!(
                    "-Registered- (care-of {})",
                    h.care_of_addresses
                        .iter()
                        .map(|a| a.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                "-Unregistered-".into()
            },
            if h.interface.is_empty() {
                "-"
            } else {
                &h.interface
            }
        );
        let _ = writeln!(
            s,
            "    Accepted {}, Last time {}",
            h.accepted,
            when(h.last_accepted_seconds_ago)
        );
        let _ = writeln!(
            s,
            "    Denied {}, Last time {}",
            h.denied,
            when(h.last_denied_seconds_ago)
        );
        match h.last_code {
            Some(c) => {
                let _ = writeln!(
                    s,
                    "    Last code '{}', {}",
                    ReplyCode::from(c),
                    when(h.last_code_seconds_ago)
                );
            }
            None => s.push_str("    Last code '-never- (0)'\n"),
        }
        let _ = writeln!(s, "    Total violations {}", h.violations);
    }
    s
}

/// `show ip mobile tunnel`.
pub fn tunnels(v: &MobileTunnels) -> String {
    let mut s = String::from("Mobile Tunnels:\n");
    let _ = writeln!(s, "Total mobile ip tunnels {}", v.total);
    for t in &v.tunnels {
        let _ = writeln!(s, "{}:", t.device);
        let _ = writeln!(s, "    src {}, dest {}", t.source, t.destination);
        let _ = writeln!(
            s,
            "    encap {}, mode {}, tunnel-users {}",
            t.encapsulation,
            if t.reverse_tunnel {
                "reverse-allowed"
            } else {
                "forward-only"
            },
            t.users.len()
        );
        let _ = writeln!(
            s,
            "    {} created, users {}",
            t.created_by,
            t.users
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(c) = &v.traffic {
        let _ = writeln!(
            s,
            "{} (all tunnels): {} packets output, {} bytes; {} packets input, {} bytes; {} drops",
            v.tunnels.first().map_or("pmip0", |t| t.device.as_str()),
            c.encapsulated_packets,
            c.encapsulated_bytes,
            c.decapsulated_packets,
            c.decapsulated_bytes,
            c.no_tunnel_packets
                + c.bad_tunnel_packets
                + c.refused_source_packets
                + c.ttl_exceeded_packets
                + c.send_errors
        );
    }
    s
}

/// `show ip mobile violation`: the log, newest first, after the totals.
pub fn violations(v: &Violations) -> String {
    let mut s = String::from("Security Violation Log:\n");
    let _ = writeln!(
        s,
        "Total violations {} (the last {} kept)",
        v.total,
        v.recent.len()
    );
    for (r, n) in &v.by_reason {
        let _ = writeln!(s, "    {r} {n}");
    }
    for (title, who) in [
        ("Mobile Hosts:", "mobile host"),
        ("Foreign Agents:", "foreign agent"),
        ("Home Agents:", "home agent"),
    ] {
        let rows: Vec<&ViolationView> = v
            .recent
            .iter()
            .rev()
            .filter(|x| x.violator == who)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(s, "{title}");
        for x in rows {
            let subject = if who == "mobile host" {
                x.home_address
            } else {
                x.source
            };
            let _ = writeln!(s, "{subject}:");
            let _ = writeln!(
                s,
                "    Time {} ({} ago), seen by the {}, from {}",
                x.time,
                hms(x.seconds_ago),
                x.agent,
                x.source
            );
            let _ = writeln!(
                s,
                "    MN {}, SPI {}, Identification {}",
                x.home_address, x.spi, x.identification
            );
            let code = if x.code == 0 {
                "none (dropped)".to_owned()
            } else {
                ReplyCode::from(x.code).to_string()
            };
            let _ = writeln!(
                s,
                "    Error Code: {code}, Reason: {} ({})",
                x.reason, x.reason_number
            );
        }
    }
    s
}

/// `show ip mobile binding summary`.
pub fn binding_summary(b: &BindingSummary) -> String {
    format!(
        "Mobility Binding List:\nTotal {}\n    Home addresses {}, care-of addresses {}\n    Reverse tunnels {}, GRE {}\n",
        b.total, b.home_addresses, b.care_of_addresses, b.reverse_tunnel, b.gre
    )
}

/// `show ip mobile visitor pending`.
pub fn pending(p: &PendingVisitors) -> String {
    let mut s = String::from("Mobility Pending List:\n");
    let _ = writeln!(s, "Total {}", p.total);
    for v in &p.pending {
        let _ = writeln!(s, "{}:", v.home_address);
        let _ = writeln!(s, "    Interface {}, MAC addr {}", v.interface, v.mac);
        let _ = writeln!(
            s,
            "    IP src {}, dest {}, UDP src port {}",
            v.home_address, p.care_of_address, v.udp_src_port
        );
        let _ = writeln!(
            s,
            "    HA addr {}, Identification {}",
            v.home_agent, v.identification
        );
        let _ = writeln!(
            s,
            "    Lifetime {} ({}) Remaining {}",
            hms(u64::from(v.lifetime_requested)),
            v.lifetime_requested,
            hms(v.remaining_seconds)
        );
        let _ = writeln!(
            s,
            "    {}{}",
            v.encapsulation,
            if v.reverse_tunnel {
                ", reverse tunnel"
            } else {
                ""
            }
        );
    }
    s
}
