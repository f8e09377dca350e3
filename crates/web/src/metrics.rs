//! `/metrics`: the show commands' typed views in Prometheus text exposition
//! format (version 0.0.4). Counters end in `_total`; the handoff latency
//! is a histogram in seconds with cumulative buckets. Sections whose show
//! command the device refuses (a role it does not play) are left out.

use pmip_node::snapshot::{
    Bindings, Bound, Histogram, ProxyStatus, ProxyVisitors, SubnetTable, Traffic, Version, Visitors,
};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

/// The show commands /metrics reads, each as its view (`None`: the device
/// refused the command, e.g. a router asked for the AP's status, or its
/// answer did not parse).
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub version: Option<Version>,
    pub binding: Option<Bindings>,
    pub visitor: Option<Visitors>,
    pub traffic: Option<Traffic>,
    pub proxy: Option<ProxyStatus>,
    pub proxy_visitor: Option<ProxyVisitors>,
    pub subnet_table: Option<SubnetTable>,
    /// The web server's own counters (connections, logins).
    pub web: Option<crate::WebStats>,
}

/// The exec words of each part of a [`Snapshot`], in field order.
pub const COMMANDS: [&[&str]; 7] = [
    &["show", "version"],
    &["show", "ip", "mobile", "binding"],
    &["show", "ip", "mobile", "visitor"],
    &["show", "ip", "mobile", "traffic"],
    &["show", "ip", "proxy-mobile"],
    &["show", "ip", "proxy-mobile", "visitor"],
    &["show", "ip", "proxy-mobile", "subnet-table"],
];

struct Out {
    text: String,
    declared: HashSet<String>,
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        if self.declared.insert(name.to_string()) {
            let _ = writeln!(self.text, "# HELP {name} {help}");
            let _ = writeln!(self.text, "# TYPE {name} {kind}");
        }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape_label(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", number(value));
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.one(name, "counter", help, value as f64);
    }

    fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.one(name, "gauge", help, value);
    }

    /// Replies by code: the accepted count as code 0, then each denial.
    fn by_code(&mut self, name: &str, help: &str, accepted: u64, denied: &BTreeMap<String, u64>) {
        self.family(name, "counter", help);
        self.sample(name, &[("code", "0")], accepted as f64);
        for (code, n) in denied {
            self.sample(name, &[("code", code)], *n as f64);
        }
    }

    fn by_label(&mut self, name: &str, help: &str, label: &str, map: &BTreeMap<String, u64>) {
        self.family(name, "counter", help);
        for (k, n) in map {
            self.sample(name, &[(label, k)], *n as f64);
        }
    }
}

/// Renders the exposition text.
pub fn render(s: &Snapshot) -> String {
    let mut o = Out {
        text: String::new(),
        declared: HashSet::new(),
    };
    o.gauge(
        "pmip_up",
        "Whether the device answered show version.",
        if s.version.is_some() { 1.0 } else { 0.0 },
    );
    if let Some(v) = &s.version {
        o.family("pmip_info", "gauge", "The device: host name and version.");
        o.sample(
            "pmip_info",
            &[("hostname", &v.hostname), ("version", &v.version)],
            1.0,
        );
        o.family(
            "pmip_role",
            "gauge",
            "The roles the device plays, one series each.",
        );
        for r in &v.roles {
            o.sample("pmip_role", &[("role", r)], 1.0);
        }
        o.gauge(
            "pmip_uptime_seconds",
            "Seconds since the daemon started.",
            v.uptime_seconds as f64,
        );
    }
    if let Some(b) = &s.binding {
        o.gauge(
            "pmip_ha_bindings",
            "Mobility bindings on the home agent.",
            b.total as f64,
        );
    }
    if let Some(v) = &s.visitor {
        o.gauge(
            "pmip_fa_visitors",
            "Visitors on the foreign agent.",
            v.total as f64,
        );
    }
    if let Some(t) = &s.traffic {
        traffic(&mut o, t);
    }
    if let Some(p) = &s.proxy {
        proxy(&mut o, p);
    }
    if let Some(v) = &s.proxy_visitor {
        o.gauge(
            "pmip_ap_visitors",
            "Stations the access point knows.",
            v.total as f64,
        );
        let registered = v
            .visitors
            .iter()
            .filter(|s| s.state == "registered")
            .count();
        o.gauge(
            "pmip_ap_visitors_registered",
            "Visiting stations registered with their home agent.",
            registered as f64,
        );
    }
    if let Some(t) = &s.subnet_table {
        o.gauge(
            "pmip_subnet_table_entries",
            "Entries of the subnet map table.",
            t.entries.len() as f64,
        );
        if let Some(c) = &t.counters {
            for (f, n) in [
                ("bad_auth", c.bad_auth),
                ("failovers", c.failovers),
                ("malformed", c.malformed),
                ("probes_sent", c.probes_sent),
                ("received", c.received),
                ("replayed", c.replayed),
                ("retransmissions", c.retransmissions),
                ("sent", c.sent),
            ] {
                o.counter(
                    &format!("pmip_subnet_exchange_{f}_total"),
                    "Subnet map exchange counter.",
                    n,
                );
            }
        }
    }
    if let Some(w) = &s.web {
        web(&mut o, w);
    }
    o.text
}

/// The web server's connections and logins.
fn web(o: &mut Out, w: &crate::WebStats) {
    o.gauge(
        "pmip_web_connections_open",
        "Web connections open now.",
        w.open as f64,
    );
    o.counter(
        "pmip_web_connections_accepted_total",
        "Web connections accepted.",
        w.accepted,
    );
    let name = "pmip_web_connections_refused_total";
    o.family(
        name,
        "counter",
        "Web connections reset at once: the client address held its share (per_source) or the server held its most (total).",
    );
    o.sample(
        name,
        &[("limit", "per_source")],
        w.refused_per_source as f64,
    );
    o.sample(name, &[("limit", "total")], w.refused_total as f64);
    o.counter(
        "pmip_web_connections_evicted_total",
        "Web connections closed to let in an address holding fewer.",
        w.evicted,
    );
    let name = "pmip_web_connections_timed_out_total";
    o.family(
        name,
        "counter",
        "Web connections closed by a timeout: a request head not complete in time, idle kept-alive ones included (header), or no progress reading or writing (idle).",
    );
    o.sample(name, &[("timeout", "header")], w.header_timeouts as f64);
    o.sample(name, &[("timeout", "idle")], w.idle_timeouts as f64);
    o.counter(
        "pmip_web_accept_errors_total",
        "Errors accepting web connections (EMFILE, ENFILE, ...), each followed by a short pause.",
        w.accept_errors,
    );
    o.counter(
        "pmip_web_password_checks_total",
        "Passwords checked (logins and basic authentication).",
        w.password_checks,
    );
    o.counter(
        "pmip_web_logins_locked_out_total",
        "Login attempts refused unchecked: too many from the address.",
        w.logins_locked_out,
    );
}

/// `show ip mobile traffic`: the home agent, foreign agent and tunnel
/// parts the device reports.
fn traffic(o: &mut Out, t: &Traffic) {
    if let Some(ha) = &t.home_agent {
        for (f, n, help) in [
            (
                "requests",
                ha.requests,
                "Registration requests received by the home agent.",
            ),
            (
                "accepted",
                ha.accepted,
                "Registrations the home agent accepted.",
            ),
            (
                "deregistrations",
                ha.deregistrations,
                "Deregistrations the home agent accepted.",
            ),
            ("denied", ha.denied, "Registrations the home agent denied."),
            (
                "ignored",
                ha.ignored,
                "Requests the home agent dropped without a reply.",
            ),
            ("expired", ha.expired, "Bindings that expired."),
            (
                "binding_updates_sent",
                ha.binding_updates_sent,
                "Binding Updates sent to previous foreign agents.",
            ),
            (
                "binding_acks_received",
                ha.binding_acks_received,
                "Binding Acknowledges received.",
            ),
        ] {
            o.counter(&format!("pmip_ha_{f}_total"), help, n);
        }
        o.by_code(
            "pmip_ha_registration_replies_total",
            "Home agent registration replies by reply code (0: accepted).",
            ha.accepted,
            &ha.denied_by_code,
        );
        o.by_label(
            "pmip_ha_ignored_by_reason_total",
            "Requests the home agent dropped, by reason.",
            "reason",
            &ha.ignored_by_reason,
        );
    }
    if let Some(fa) = &t.foreign_agent {
        for (f, n, help) in [
            (
                "solicitations",
                fa.solicitations,
                "Agent solicitations received.",
            ),
            (
                "advertisements",
                fa.advertisements,
                "Agent advertisements sent.",
            ),
            (
                "requests",
                fa.requests,
                "Registration requests received from mobile nodes.",
            ),
            ("relayed", fa.relayed, "Requests relayed to home agents."),
            ("replies", fa.replies, "Replies received from home agents."),
            (
                "replies_accepted",
                fa.replies_accepted,
                "Replies that accepted a registration.",
            ),
            (
                "timeouts",
                fa.timeouts,
                "Pending registrations that timed out.",
            ),
            ("expired", fa.expired, "Visitors that expired."),
            (
                "binding_updates",
                fa.binding_updates,
                "Binding Updates received.",
            ),
            (
                "binding_acks_sent",
                fa.binding_acks_sent,
                "Binding Acknowledges sent.",
            ),
        ] {
            o.counter(&format!("pmip_fa_{f}_total"), help, n);
        }
        o.by_code(
            "pmip_fa_registration_replies_total",
            "Foreign agent registration replies by reply code (0: accepted).",
            fa.replies_accepted,
            &fa.denied_by_code,
        );
        o.by_label(
            "pmip_fa_ignored_by_reason_total",
            "Messages the foreign agent dropped, by reason.",
            "reason",
            &fa.ignored_by_reason,
        );
    }
    // The tunnel's data-plane counters, in field-name order: byte and
    // packet counts are counters, anything else a gauge.
    if let Some(tu) = &t.tunnel {
        for (f, n) in [
            ("bad_tunnel_packets", tu.bad_tunnel_packets),
            ("decapsulated_bytes", tu.decapsulated_bytes),
            ("decapsulated_packets", tu.decapsulated_packets),
            ("encapsulated_bytes", tu.encapsulated_bytes),
            ("encapsulated_packets", tu.encapsulated_packets),
            ("no_tunnel_packets", tu.no_tunnel_packets),
            ("refused_source_packets", tu.refused_source_packets),
            ("send_errors", tu.send_errors),
            ("ttl_exceeded_packets", tu.ttl_exceeded_packets),
        ] {
            if f.ends_with("bytes") || f.ends_with("packets") {
                o.counter(
                    &format!("pmip_tunnel_{f}_total"),
                    "Tunnel data plane counter.",
                    n,
                );
            } else {
                o.gauge(
                    &format!("pmip_tunnel_{f}"),
                    "Tunnel data plane value.",
                    n as f64,
                );
            }
        }
    }
}

/// `show ip proxy-mobile`: the access point's state and statistics.
fn proxy(o: &mut Out, p: &ProxyStatus) {
    o.family(
        "pmip_ap_state",
        "gauge",
        "Proxy Mobile IP state of the access point (1 for the current one).",
    );
    for st in ["enabled", "paused", "disabled"] {
        o.sample(
            "pmip_ap_state",
            &[("state", st)],
            if st == p.state { 1.0 } else { 0.0 },
        );
    }
    o.gauge(
        "pmip_ap_foreign_agent_heard",
        "Whether the access point has heard a foreign agent.",
        if p.foreign_agent.is_some() { 1.0 } else { 0.0 },
    );
    o.gauge(
        "pmip_ap_subnet_map_entries",
        "Entries of the subnet map in use.",
        p.subnet_map.len() as f64,
    );
    let st = &p.statistics;
    for (f, n, help) in [
        (
            "registrations_sent",
            st.registrations_sent,
            "Registrations sent on behalf of visiting clients.",
        ),
        (
            "reregistrations",
            st.reregistrations,
            "Re-registrations before the lifetime ended.",
        ),
        (
            "deregistrations",
            st.deregistrations,
            "Deregistrations when a client came home.",
        ),
        ("accepted", st.accepted, "Registrations accepted."),
        (
            "retransmissions",
            st.retransmissions,
            "Registration requests sent again.",
        ),
        (
            "resyncs",
            st.resyncs,
            "Identification resynchronisations (code 133).",
        ),
    ] {
        o.counter(&format!("pmip_ap_{f}_total"), help, n);
    }
    o.by_code(
        "pmip_ap_registration_replies_total",
        "Replies the access point received, by reply code (0: accepted).",
        st.accepted,
        &st.denied_by_code,
    );
    handoff_histogram(o, &st.handoff_latency_ms);
}

/// Per-bucket counts with upper bounds in ms (the last `+Inf`), as a
/// Prometheus histogram in seconds with cumulative buckets.
fn handoff_histogram(o: &mut Out, h: &Histogram) {
    const NAME: &str = "pmip_ap_handoff_latency_seconds";
    o.family(
        NAME,
        "histogram",
        "Time from a station's association to its accepted registration.",
    );
    let mut cumulative = 0.0;
    let mut saw_inf = false;
    for (upper, n) in &h.buckets {
        cumulative += *n as f64;
        let le = match upper {
            Bound::Inf(s) if s == "+Inf" => {
                saw_inf = true;
                "+Inf".to_string()
            }
            Bound::Inf(_) => continue,
            Bound::Ms(ms) => number(*ms as f64 / 1e3),
        };
        o.sample(&format!("{NAME}_bucket"), &[("le", &le)], cumulative);
    }
    let count = h.count as f64;
    if !saw_inf {
        o.sample(&format!("{NAME}_bucket"), &[("le", "+Inf")], count);
    }
    o.sample(&format!("{NAME}_sum"), &[], h.sum_ms / 1e3);
    o.sample(&format!("{NAME}_count"), &[], count);
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmip_node::snapshot::{HomeAgentTraffic, TunnelTraffic};
    use serde_json::json;

    fn view<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    /// The JSON a real AP answered (captured from the lab, ap2 after one
    /// roam) and a real router's traffic.
    pub(crate) fn ap_snapshot() -> Snapshot {
        Snapshot {
            version: Some(view(
                json!({"hostname":"ap2","roles":["proxy Mobile IP access point"],"uptime_seconds":3,"version":"0.1.0"}),
            )),
            proxy: Some(view(
                json!({"aaps":["10.1.0.2","10.2.0.2"],"foreign_agent":{"address":"10.2.0.1","care_of_address":"10.2.0.1","gre":true,"registration_lifetime":36000,"reverse_tunnel":false},"home_agent":{"address":"10.2.0.1","mask":"255.255.255.0"},"state":"enabled","statistics":{"accepted":3,"denied_by_code":{"133":1},"deregistrations":0,"handoff_latency_ms":{"buckets":[[5,0],[10,1],[20,0],[50,2],[100,0],[200,0],[500,0],[1000,0],[5000,0],["+Inf",1]],"count":4,"sum_ms":10139.5},"registrations_sent":4,"reregistrations":0,"resyncs":1,"retransmissions":0},"subnet_map":[{"home_agent":"10.1.0.1","mask":"255.255.255.0"},{"home_agent":"10.2.0.1","mask":"255.255.255.0"}]}),
            )),
            proxy_visitor: Some(view(
                json!({"total":1,"visitors":[{"address":"10.1.0.50","associated_ms_ago":6000,"care_of_address":"10.2.0.1","home_agent":"10.1.0.1","lifetime_remaining":594,"mac":"0200.0099.0001","registered_after_ms":4.0,"registration_rtt_ms":4.0,"ssid":"campus","state":"registered"}]}),
            )),
            ..Snapshot::default()
        }
    }

    fn router_snapshot() -> Snapshot {
        Snapshot {
            version: Some(view(
                json!({"hostname":"r1","roles":["home agent","foreign agent"],"uptime_seconds":30,"version":"0.1.0"}),
            )),
            binding: Some(view(json!({"bindings":[],"total":2}))),
            visitor: Some(view(
                json!({"care_of_address":"10.1.0.1","total":1,"visitors":[]}),
            )),
            traffic: Some(Traffic {
                tunnel: Some(TunnelTraffic {
                    encapsulated_packets: 10,
                    encapsulated_bytes: 1500,
                    send_errors: 2,
                    ..TunnelTraffic::default()
                }),
                home_agent: Some(HomeAgentTraffic {
                    requests: 5,
                    accepted: 4,
                    deregistrations: 1,
                    denied: 1,
                    denied_by_code: [("131".to_string(), 1)].into(),
                    ..HomeAgentTraffic::default()
                }),
                foreign_agent: Some(view(
                    json!({"advertisements":5,"binding_acks_sent":0,"binding_updates":0,"denied_by_code":{"70":2},"expired":0,"ignored_by_reason":{"bad mfae":1},"relayed":3,"replies":3,"replies_accepted":3,"requests":5,"solicitations":1,"timeouts":0}),
                )),
            }),
            ..Snapshot::default()
        }
    }

    fn parse(text: &str) -> prometheus_parse::Scrape {
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
    }

    fn value(s: &prometheus_parse::Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
        let m = s
            .samples
            .iter()
            .find(|m| m.metric == name && label.is_none_or(|(k, v)| m.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("{name} {label:?} missing"));
        match &m.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn ap_metrics_parse_with_a_cumulative_histogram() {
        let text = render(&ap_snapshot());
        let s = parse(&text);
        assert_eq!(value(&s, "pmip_up", None), 1.0);
        assert_eq!(value(&s, "pmip_ap_registrations_sent_total", None), 4.0);
        assert_eq!(
            value(
                &s,
                "pmip_ap_registration_replies_total",
                Some(("code", "0"))
            ),
            3.0
        );
        assert_eq!(
            value(
                &s,
                "pmip_ap_registration_replies_total",
                Some(("code", "133"))
            ),
            1.0
        );
        assert_eq!(value(&s, "pmip_ap_state", Some(("state", "enabled"))), 1.0);
        assert_eq!(value(&s, "pmip_ap_state", Some(("state", "paused"))), 0.0);
        assert_eq!(value(&s, "pmip_ap_visitors_registered", None), 1.0);
        assert_eq!(value(&s, "pmip_ap_subnet_map_entries", None), 2.0);
        let h = s
            .samples
            .iter()
            .find(|m| m.metric == "pmip_ap_handoff_latency_seconds")
            .expect("histogram");
        let prometheus_parse::Value::Histogram(buckets) = &h.value else {
            panic!("{:?}", h.value)
        };
        let got: Vec<(f64, f64)> = buckets.iter().map(|b| (b.less_than, b.count)).collect();
        assert_eq!(got[0], (0.005, 0.0));
        assert_eq!(got[1], (0.01, 1.0));
        assert_eq!(got[3], (0.05, 3.0), "cumulative");
        assert_eq!(got.last().unwrap(), &(f64::INFINITY, 4.0));
        assert!(got.windows(2).all(|w| w[0].1 <= w[1].1), "monotonic");
        assert!(
            text.contains("pmip_ap_handoff_latency_seconds_sum 10.1395\n"),
            "{text}"
        );
        assert!(text.contains("pmip_ap_handoff_latency_seconds_count 4\n"));
        assert!(!text.contains("pmip_ha_"), "no router sections on an AP");
    }

    #[test]
    fn router_metrics_by_code_and_tunnel_counters() {
        let s = parse(&render(&router_snapshot()));
        assert_eq!(value(&s, "pmip_ha_bindings", None), 2.0);
        assert_eq!(value(&s, "pmip_fa_visitors", None), 1.0);
        assert_eq!(
            value(
                &s,
                "pmip_ha_registration_replies_total",
                Some(("code", "0"))
            ),
            4.0
        );
        assert_eq!(
            value(
                &s,
                "pmip_ha_registration_replies_total",
                Some(("code", "131"))
            ),
            1.0
        );
        assert_eq!(
            value(
                &s,
                "pmip_fa_registration_replies_total",
                Some(("code", "70"))
            ),
            2.0
        );
        assert_eq!(
            value(
                &s,
                "pmip_fa_ignored_by_reason_total",
                Some(("reason", "bad mfae"))
            ),
            1.0
        );
        assert_eq!(
            value(&s, "pmip_tunnel_encapsulated_bytes_total", None),
            1500.0
        );
        assert_eq!(value(&s, "pmip_tunnel_send_errors", None), 2.0);
        assert_eq!(value(&s, "pmip_role", Some(("role", "home agent"))), 1.0);
        assert_eq!(value(&s, "pmip_role", Some(("role", "foreign agent"))), 1.0);
    }

    #[test]
    fn labels_are_escaped_and_down_device_reports_up_0() {
        let snap = Snapshot {
            version: Some(Version {
                hostname: "a\"b\\c".into(),
                roles: Vec::new(),
                uptime_seconds: 0,
                version: "x".into(),
            }),
            ..Snapshot::default()
        };
        let text = render(&snap);
        assert!(text.contains(r#"hostname="a\"b\\c""#), "{text}");
        parse(&text);
        let down = render(&Snapshot::default());
        assert_eq!(value(&parse(&down), "pmip_up", None), 0.0);
    }

    #[test]
    fn web_server_counters_render() {
        let s = parse(&render(&Snapshot {
            web: Some(crate::WebStats {
                open: 7,
                accepted: 100,
                refused_per_source: 40,
                refused_total: 3,
                evicted: 2,
                header_timeouts: 5,
                idle_timeouts: 1,
                accept_errors: 4,
                password_checks: 6,
                logins_locked_out: 45,
            }),
            ..Snapshot::default()
        }));
        assert_eq!(value(&s, "pmip_web_connections_open", None), 7.0);
        assert_eq!(
            value(
                &s,
                "pmip_web_connections_refused_total",
                Some(("limit", "per_source"))
            ),
            40.0
        );
        assert_eq!(
            value(
                &s,
                "pmip_web_connections_timed_out_total",
                Some(("timeout", "idle"))
            ),
            1.0
        );
        assert_eq!(value(&s, "pmip_web_logins_locked_out_total", None), 45.0);
    }

    /// A show answer as its view; `None` for a refusal.
    fn golden<T: serde::de::DeserializeOwned>(device: &str, words: &[&str]) -> Option<T> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../node/tests/golden")
            .join(device)
            .join(format!("{}.json", words.join("_")));
        let text = std::fs::read_to_string(&path).unwrap();
        if text.starts_with('%') {
            return None;
        }
        Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    #[test]
    fn the_nodes_golden_answers_render() {
        for device in ["r1", "r2", "ap1", "ap2"] {
            let [v, b, vi, t, p, pv, st] = COMMANDS;
            let snap = Snapshot {
                version: golden(device, v),
                binding: golden(device, b),
                visitor: golden(device, vi),
                traffic: golden(device, t),
                proxy: golden(device, p),
                proxy_visitor: golden(device, pv),
                subnet_table: golden(device, st),
                web: None,
            };
            let s = parse(&render(&snap));
            assert_eq!(value(&s, "pmip_up", None), 1.0, "{device}");
            if device.starts_with('r') {
                assert!(snap.traffic.is_some() && snap.proxy.is_none(), "{device}");
                value(&s, "pmip_ha_bindings", None);
                value(
                    &s,
                    "pmip_fa_registration_replies_total",
                    Some(("code", "0")),
                );
            } else {
                assert!(snap.proxy.is_some() && snap.binding.is_none(), "{device}");
                value(&s, "pmip_ap_registrations_sent_total", None);
                value(&s, "pmip_subnet_table_entries", None);
            }
        }
        let s = parse(&render(&Snapshot {
            binding: golden("r1", COMMANDS[1]),
            traffic: golden("r1", COMMANDS[3]),
            ..Snapshot::default()
        }));
        assert_eq!(value(&s, "pmip_ha_bindings", None), 1.0);
        assert_eq!(
            value(
                &s,
                "pmip_ha_registration_replies_total",
                Some(("code", "131"))
            ),
            1.0
        );
        let s = parse(&render(&Snapshot {
            proxy_visitor: golden("ap2", COMMANDS[5]),
            subnet_table: golden("ap2", COMMANDS[6]),
            ..Snapshot::default()
        }));
        assert_eq!(value(&s, "pmip_ap_visitors_registered", None), 1.0);
        assert_eq!(value(&s, "pmip_subnet_table_entries", None), 3.0);
        // The golden scenario's exchange traffic at ap2, the campus
        // station table's message included.
        assert_eq!(value(&s, "pmip_subnet_exchange_received_total", None), 8.0);
    }
}
