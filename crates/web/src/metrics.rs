//! `/metrics`: the show commands' JSON in Prometheus text exposition
//! format (version 0.0.4). Counters end in `_total`; the handoff latency
//! is a histogram in seconds with cumulative buckets. Sections whose show
//! command the device refuses (a role it does not play) are left out.

use serde_json::Value;
use std::collections::HashSet;
use std::fmt::Write as _;

/// The JSON answers of the show commands /metrics reads (`None`: the
/// device refused the command, e.g. a router asked for the AP's status).
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub version: Option<Value>,
    pub binding: Option<Value>,
    pub visitor: Option<Value>,
    pub traffic: Option<Value>,
    pub proxy: Option<Value>,
    pub proxy_visitor: Option<Value>,
    pub subnet_table: Option<Value>,
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

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
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

    /// `obj[field]` as a counter `name`, when present.
    fn counter(&mut self, obj: &Value, field: &str, name: &str, help: &str) {
        if let Some(v) = obj.get(field).and_then(Value::as_f64) {
            self.one(name, "counter", help, v);
        }
    }

    /// Replies by code: the accepted count as code 0, then each denial.
    fn by_code(&mut self, name: &str, help: &str, accepted: Option<f64>, denied: Option<&Value>) {
        self.family(name, "counter", help);
        if let Some(a) = accepted {
            self.sample(name, &[("code", "0")], a);
        }
        if let Some(Value::Object(m)) = denied {
            for (code, n) in m {
                if let Some(n) = n.as_f64() {
                    self.sample(name, &[("code", code)], n);
                }
            }
        }
    }

    fn by_label(&mut self, name: &str, help: &str, label: &str, map: Option<&Value>) {
        if let Some(Value::Object(m)) = map {
            self.family(name, "counter", help);
            for (k, n) in m {
                if let Some(n) = n.as_f64() {
                    self.sample(name, &[(label, k)], n);
                }
            }
        }
    }
}

fn total(v: Option<&Value>) -> Option<f64> {
    v?.get("total")?.as_f64()
}

/// Renders the exposition text.
pub fn render(s: &Snapshot) -> String {
    let mut o = Out {
        text: String::new(),
        declared: HashSet::new(),
    };
    o.one(
        "pmip_up",
        "gauge",
        "Whether the device answered show version.",
        if s.version.is_some() { 1.0 } else { 0.0 },
    );
    if let Some(v) = &s.version {
        let roles: Vec<&str> = v
            .get("roles")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        o.family("pmip_info", "gauge", "The device: host name and version.");
        o.sample(
            "pmip_info",
            &[
                (
                    "hostname",
                    v.get("hostname").and_then(Value::as_str).unwrap_or(""),
                ),
                (
                    "version",
                    v.get("version").and_then(Value::as_str).unwrap_or(""),
                ),
            ],
            1.0,
        );
        o.family(
            "pmip_role",
            "gauge",
            "The roles the device plays, one series each.",
        );
        for r in roles {
            o.sample("pmip_role", &[("role", r)], 1.0);
        }
        if let Some(u) = v.get("uptime_seconds").and_then(Value::as_f64) {
            o.one(
                "pmip_uptime_seconds",
                "gauge",
                "Seconds since the daemon started.",
                u,
            );
        }
    }
    if let Some(n) = total(s.binding.as_ref()) {
        o.one(
            "pmip_ha_bindings",
            "gauge",
            "Mobility bindings on the home agent.",
            n,
        );
    }
    if let Some(n) = total(s.visitor.as_ref()) {
        o.one(
            "pmip_fa_visitors",
            "gauge",
            "Visitors on the foreign agent.",
            n,
        );
    }
    if let Some(t) = &s.traffic {
        if let Some(ha) = t.get("home_agent") {
            for (f, help) in [
                (
                    "requests",
                    "Registration requests received by the home agent.",
                ),
                ("accepted", "Registrations the home agent accepted."),
                (
                    "deregistrations",
                    "Deregistrations the home agent accepted.",
                ),
                ("denied", "Registrations the home agent denied."),
                (
                    "ignored",
                    "Requests the home agent dropped without a reply.",
                ),
                ("expired", "Bindings that expired."),
                (
                    "binding_updates_sent",
                    "Binding Updates sent to previous foreign agents.",
                ),
                ("binding_acks_received", "Binding Acknowledges received."),
            ] {
                o.counter(ha, f, &format!("pmip_ha_{f}_total"), help);
            }
            o.by_code(
                "pmip_ha_registration_replies_total",
                "Home agent registration replies by reply code (0: accepted).",
                ha.get("accepted").and_then(Value::as_f64),
                ha.get("denied_by_code"),
            );
            o.by_label(
                "pmip_ha_ignored_by_reason_total",
                "Requests the home agent dropped, by reason.",
                "reason",
                ha.get("ignored_by_reason"),
            );
        }
        if let Some(fa) = t.get("foreign_agent") {
            for (f, help) in [
                ("solicitations", "Agent solicitations received."),
                ("advertisements", "Agent advertisements sent."),
                (
                    "requests",
                    "Registration requests received from mobile nodes.",
                ),
                ("relayed", "Requests relayed to home agents."),
                ("replies", "Replies received from home agents."),
                ("replies_accepted", "Replies that accepted a registration."),
                ("timeouts", "Pending registrations that timed out."),
                ("expired", "Visitors that expired."),
                ("binding_updates", "Binding Updates received."),
                ("binding_acks_sent", "Binding Acknowledges sent."),
            ] {
                o.counter(fa, f, &format!("pmip_fa_{f}_total"), help);
            }
            o.by_code(
                "pmip_fa_registration_replies_total",
                "Foreign agent registration replies by reply code (0: accepted).",
                fa.get("replies_accepted").and_then(Value::as_f64),
                fa.get("denied_by_code"),
            );
            o.by_label(
                "pmip_fa_ignored_by_reason_total",
                "Messages the foreign agent dropped, by reason.",
                "reason",
                fa.get("ignored_by_reason"),
            );
        }
        // Tunnel counters, when the device reports them (any numeric
        // field of a `tunnel` or `data_plane` object).
        for key in ["tunnel", "data_plane", "dataplane"] {
            if let Some(Value::Object(m)) = t.get(key) {
                for (f, v) in m {
                    let Some(n) = v.as_f64() else { continue };
                    let f = sanitize(f);
                    if f.ends_with("bytes") || f.ends_with("packets") || f.ends_with("_total") {
                        let name = format!("pmip_tunnel_{}_total", f.trim_end_matches("_total"));
                        o.one(&name, "counter", "Tunnel data plane counter.", n);
                    } else {
                        o.one(
                            &format!("pmip_tunnel_{f}"),
                            "gauge",
                            "Tunnel data plane value.",
                            n,
                        );
                    }
                }
            }
        }
    }
    if let Some(p) = &s.proxy {
        let state = p.get("state").and_then(Value::as_str).unwrap_or("");
        o.family(
            "pmip_ap_state",
            "gauge",
            "Proxy Mobile IP state of the access point (1 for the current one).",
        );
        for st in ["enabled", "paused", "disabled"] {
            o.sample(
                "pmip_ap_state",
                &[("state", st)],
                if st == state { 1.0 } else { 0.0 },
            );
        }
        o.one(
            "pmip_ap_foreign_agent_heard",
            "gauge",
            "Whether the access point has heard a foreign agent.",
            if p.get("foreign_agent").is_some_and(|f| !f.is_null()) {
                1.0
            } else {
                0.0
            },
        );
        if let Some(m) = p.get("subnet_map").and_then(Value::as_array) {
            o.one(
                "pmip_ap_subnet_map_entries",
                "gauge",
                "Entries of the subnet map in use.",
                m.len() as f64,
            );
        }
        if let Some(st) = p.get("statistics") {
            for (f, help) in [
                (
                    "registrations_sent",
                    "Registrations sent on behalf of visiting clients.",
                ),
                (
                    "reregistrations",
                    "Re-registrations before the lifetime ended.",
                ),
                (
                    "deregistrations",
                    "Deregistrations when a client came home.",
                ),
                ("accepted", "Registrations accepted."),
                ("retransmissions", "Registration requests sent again."),
                ("resyncs", "Identification resynchronisations (code 133)."),
            ] {
                o.counter(st, f, &format!("pmip_ap_{f}_total"), help);
            }
            o.by_code(
                "pmip_ap_registration_replies_total",
                "Replies the access point received, by reply code (0: accepted).",
                st.get("accepted").and_then(Value::as_f64),
                st.get("denied_by_code"),
            );
            if let Some(h) = st.get("handoff_latency_ms") {
                handoff_histogram(&mut o, h);
            }
        }
    }
    if let Some(v) = &s.proxy_visitor {
        if let Some(n) = total(Some(v)) {
            o.one(
                "pmip_ap_visitors",
                "gauge",
                "Stations the access point knows.",
                n,
            );
        }
        if let Some(list) = v.get("visitors").and_then(Value::as_array) {
            let registered = list
                .iter()
                .filter(|s| s.get("state").and_then(Value::as_str) == Some("registered"))
                .count();
            o.one(
                "pmip_ap_visitors_registered",
                "gauge",
                "Visiting stations registered with their home agent.",
                registered as f64,
            );
        }
    }
    if let Some(t) = &s.subnet_table {
        if let Some(e) = t.get("entries").and_then(Value::as_array) {
            o.one(
                "pmip_subnet_table_entries",
                "gauge",
                "Entries of the subnet map table.",
                e.len() as f64,
            );
        }
        if let Some(Value::Object(c)) = t.get("counters") {
            for (f, v) in c {
                if let Some(n) = v.as_f64() {
                    let f = sanitize(f);
                    o.one(
                        &format!("pmip_subnet_exchange_{f}_total"),
                        "counter",
                        "Subnet map exchange counter.",
                        n,
                    );
                }
            }
        }
    }
    o.text
}

/// `{buckets: [[upper_ms, n], ..., ["+Inf", n]], sum_ms, count}` with
/// per-bucket counts, as a Prometheus histogram in seconds.
fn handoff_histogram(o: &mut Out, h: &Value) {
    const NAME: &str = "pmip_ap_handoff_latency_seconds";
    let Some(buckets) = h.get("buckets").and_then(Value::as_array) else {
        return;
    };
    o.family(
        NAME,
        "histogram",
        "Time from a station's association to its accepted registration.",
    );
    let mut cumulative = 0.0;
    let mut saw_inf = false;
    for b in buckets {
        let (Some(upper), Some(n)) = (b.get(0), b.get(1).and_then(Value::as_f64)) else {
            continue;
        };
        cumulative += n;
        let le = match upper {
            Value::String(s) if s == "+Inf" => {
                saw_inf = true;
                "+Inf".to_string()
            }
            v => match v.as_f64() {
                Some(ms) => number(ms / 1e3),
                None => continue,
            },
        };
        o.sample(&format!("{NAME}_bucket"), &[("le", &le)], cumulative);
    }
    let count = h.get("count").and_then(Value::as_f64).unwrap_or(cumulative);
    if !saw_inf {
        o.sample(&format!("{NAME}_bucket"), &[("le", "+Inf")], count);
    }
    let sum = h.get("sum_ms").and_then(Value::as_f64).unwrap_or(0.0) / 1e3;
    o.sample(&format!("{NAME}_sum"), &[], sum);
    o.sample(&format!("{NAME}_count"), &[], count);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The JSON a real AP answered (captured from the lab, ap2 after one
    /// roam) and a real router's traffic.
    pub(crate) fn ap_snapshot() -> Snapshot {
        Snapshot {
            version: Some(
                json!({"hostname":"ap2","roles":["proxy Mobile IP access point"],"uptime_seconds":3,"version":"0.1.0"}),
            ),
            proxy: Some(
                json!({"aaps":["10.1.0.2","10.2.0.2"],"foreign_agent":{"address":"10.2.0.1","care_of_address":"10.2.0.1","gre":true,"registration_lifetime":36000,"reverse_tunnel":false},"home_agent":{"address":"10.2.0.1","mask":"255.255.255.0"},"state":"enabled","statistics":{"accepted":3,"denied_by_code":{"133":1},"deregistrations":0,"handoff_latency_ms":{"buckets":[[5,0],[10,1],[20,0],[50,2],[100,0],[200,0],[500,0],[1000,0],[5000,0],["+Inf",1]],"count":4,"sum_ms":10139.5},"registrations_sent":4,"reregistrations":0,"resyncs":1,"retransmissions":0},"subnet_map":[{"home_agent":"10.1.0.1","mask":"255.255.255.0"},{"home_agent":"10.2.0.1","mask":"255.255.255.0"}]}),
            ),
            proxy_visitor: Some(
                json!({"total":1,"visitors":[{"address":"10.1.0.50","state":"registered"}]}),
            ),
            ..Snapshot::default()
        }
    }

    fn router_snapshot() -> Snapshot {
        Snapshot {
            version: Some(
                json!({"hostname":"r1","roles":["home agent","foreign agent"],"uptime_seconds":30,"version":"0.1.0"}),
            ),
            binding: Some(json!({"bindings":[],"total":2})),
            visitor: Some(json!({"total":1,"visitors":[]})),
            traffic: Some(
                json!({"foreign_agent":{"advertisements":5,"binding_acks_sent":0,"binding_updates":0,"denied_by_code":{"70":2},"expired":0,"ignored_by_reason":{"bad mfae":1},"relayed":3,"replies":3,"replies_accepted":3,"requests":5,"solicitations":1,"timeouts":0},"home_agent":{"accepted":4,"binding_acks_received":0,"binding_updates_sent":0,"denied":1,"denied_by_code":{"131":1},"deregistrations":1,"expired":0,"ignored":0,"ignored_by_reason":{},"requests":5},"tunnel":{"encapsulated_packets":10,"encapsulated_bytes":1500,"peers":2}}),
            ),
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
        assert_eq!(value(&s, "pmip_tunnel_peers", None), 2.0);
        assert_eq!(value(&s, "pmip_role", Some(("role", "home agent"))), 1.0);
        assert_eq!(value(&s, "pmip_role", Some(("role", "foreign agent"))), 1.0);
    }

    #[test]
    fn labels_are_escaped_and_down_device_reports_up_0() {
        let snap = Snapshot {
            version: Some(json!({"hostname":"a\"b\\c","roles":[],"version":"x"})),
            ..Snapshot::default()
        };
        let text = render(&snap);
        assert!(text.contains(r#"hostname="a\"b\\c""#), "{text}");
        parse(&text);
        let down = render(&Snapshot::default());
        assert_eq!(value(&parse(&down), "pmip_up", None), 0.0);
    }
}
