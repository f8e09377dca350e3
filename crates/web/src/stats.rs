//! The Statistics page's history: counters sampled every few seconds, and
//! a small SVG chart of registrations and handoffs per interval, drawn on
//! the server (no JavaScript).

use pmip_node::snapshot::{ProxyStatus, Traffic};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

/// Cumulative counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// Registrations sent (AP) or requests received (home + foreign agent).
    pub registrations: u64,
    /// Handoffs completed (the AP's handoff latency count); 0 elsewhere.
    pub handoffs: u64,
}

impl Sample {
    /// From `show ip proxy-mobile` and `show ip mobile traffic`.
    pub fn from_views(proxy: Option<&ProxyStatus>, traffic: Option<&Traffic>) -> Option<Sample> {
        let mut s = Sample::default();
        if let Some(p) = proxy {
            let st = &p.statistics;
            s.registrations += st.registrations_sent + st.reregistrations;
            s.handoffs += st.handoff_latency_ms.count;
        }
        if let Some(t) = traffic {
            s.registrations += t.home_agent.as_ref().map_or(0, |h| h.requests);
            s.registrations += t.foreign_agent.as_ref().map_or(0, |f| f.requests);
        }
        (proxy.is_some() || traffic.is_some()).then_some(s)
    }
}

/// The last `capacity` samples, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    samples: VecDeque<Sample>,
    capacity: usize,
}

impl History {
    pub fn new(capacity: usize) -> History {
        History {
            samples: VecDeque::with_capacity(capacity),
            capacity: capacity.max(2),
        }
    }

    pub fn push(&mut self, s: Sample) {
        if self.samples.len() == self.capacity {
            self.samples.pop_front();
        }
        self.samples.push_back(s);
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Events per interval: (registrations, handoffs) between each pair of
    /// samples. A counter that went down (counters cleared, daemon
    /// restarted) counts from zero.
    pub fn deltas(&self) -> Vec<(u64, u64)> {
        let d = |a: u64, b: u64| if b >= a { b - a } else { b };
        self.samples
            .iter()
            .zip(self.samples.iter().skip(1))
            .map(|(a, b)| {
                (
                    d(a.registrations, b.registrations),
                    d(a.handoffs, b.handoffs),
                )
            })
            .collect()
    }
}

/// A round upper bound for the y axis: 1, 2, 5, 10, 20, 50, ...
fn nice_max(v: u64) -> u64 {
    let mut m = 1;
    loop {
        for f in [1, 2, 5] {
            if v <= m * f {
                return m * f;
            }
        }
        m *= 10;
    }
}

fn ago(secs: u64) -> String {
    if secs == 0 {
        "now".into()
    } else if secs < 120 {
        format!("-{secs}s")
    } else {
        format!("-{}m", secs / 60)
    }
}

/// The chart: one line per series, the newest interval at the right.
pub fn chart_svg(history: &History, interval: Duration) -> String {
    const W: f64 = 640.0;
    const H: f64 = 240.0;
    const L: f64 = 48.0;
    const R: f64 = 624.0;
    const T: f64 = 16.0;
    const B: f64 = 180.0;
    let deltas = history.deltas();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-labelledby="chart-title"><title id="chart-title">Registrations and handoffs per {} s interval</title>"#,
        interval.as_secs()
    );
    let _ = write!(
        s,
        r##"<rect x="{L}" y="{T}" width="{}" height="{}" fill="#fafafa" stroke="#bbb"/>"##,
        R - L,
        B - T
    );
    if deltas.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="13">collecting samples (one every {} s)</text></svg>"#,
            (L + R) / 2.0,
            (T + B) / 2.0,
            interval.as_secs()
        );
        return s;
    }
    let top = nice_max(deltas.iter().map(|d| d.0.max(d.1)).max().unwrap_or(0));
    let y = |v: u64| B - (B - T) * v as f64 / top as f64;
    // Width of the whole window, so a young history starts at the right.
    let slots = (history.capacity - 1).max(1);
    let x = |i: usize| R - (R - L) * (deltas.len() - 1 - i) as f64 / slots as f64;
    let mut ticks = vec![0, top / 2, top];
    ticks.dedup();
    for v in ticks {
        let _ = write!(
            s,
            r##"<line x1="{L}" x2="{R}" y1="{yy:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" font-size="11">{v}</text>"##,
            L - 4.0,
            y(v) + 4.0,
            yy = y(v)
        );
    }
    let window = interval.as_secs() * slots as u64;
    for k in 0..=4u64 {
        let secs = window * k / 4;
        let xx = R - (R - L) * k as f64 / 4.0;
        let _ = write!(
            s,
            r#"<text x="{xx:.1}" y="{}" text-anchor="middle" font-size="11">{}</text>"#,
            B + 14.0,
            ago(secs)
        );
    }
    for (series, color, label, ly) in [
        (0, "#1f6fb2", "registrations", 0.0),
        (1, "#d9661f", "handoffs", 14.0),
    ] {
        let points: Vec<String> = deltas
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let v = if series == 0 { d.0 } else { d.1 };
                format!("{:.1},{:.1}", x(i), y(v))
            })
            .collect();
        let _ = write!(
            s,
            r#"<polyline class="series-{label}" fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let _ = write!(
            s,
            r#"<rect x="{}" y="{}" width="10" height="10" fill="{color}"/><text x="{}" y="{}" font-size="12">{label}</text>"#,
            L + 8.0,
            B + 24.0 + ly,
            L + 22.0,
            B + 33.0 + ly
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmip_node::snapshot::{ForeignAgentTraffic, HomeAgentTraffic};
    use serde_json::json;

    #[test]
    fn samples_from_ap_and_router_views() {
        let mut ap: ProxyStatus = serde_json::from_value(json!({
            "state": "enabled", "aaps": [], "home_agent": null, "foreign_agent": null,
            "subnet_map": [],
            "statistics": {"registrations_sent": 0, "reregistrations": 0, "deregistrations": 0,
                "accepted": 0, "retransmissions": 0, "resyncs": 0, "denied_by_code": {},
                "handoff_latency_ms": {"buckets": [], "sum_ms": 0.0, "count": 0}}}))
        .unwrap();
        ap.statistics.registrations_sent = 4;
        ap.statistics.reregistrations = 2;
        ap.statistics.handoff_latency_ms.count = 3;
        assert_eq!(
            Sample::from_views(Some(&ap), None),
            Some(Sample {
                registrations: 6,
                handoffs: 3
            })
        );
        let tr = Traffic {
            home_agent: Some(HomeAgentTraffic {
                requests: 5,
                ..HomeAgentTraffic::default()
            }),
            foreign_agent: Some(ForeignAgentTraffic {
                requests: 7,
                ..ForeignAgentTraffic::default()
            }),
            tunnel: None,
        };
        assert_eq!(
            Sample::from_views(None, Some(&tr)),
            Some(Sample {
                registrations: 12,
                handoffs: 0
            })
        );
        assert_eq!(Sample::from_views(None, None), None);
    }

    #[test]
    fn history_is_bounded_and_deltas_survive_a_reset() {
        let mut h = History::new(3);
        for (r, o) in [(0, 0), (5, 1), (7, 1), (2, 0)] {
            h.push(Sample {
                registrations: r,
                handoffs: o,
            });
        }
        assert_eq!(h.len(), 3);
        assert_eq!(h.deltas(), [(2, 0), (2, 0)], "5->7, then reset to 2");
    }

    #[test]
    fn chart_is_svg_with_both_series() {
        let mut h = History::new(10);
        let empty = chart_svg(&h, Duration::from_secs(5));
        assert!(empty.contains("collecting samples"));
        for i in 0..5 {
            h.push(Sample {
                registrations: i * 3,
                handoffs: i,
            });
        }
        let svg = chart_svg(&h, Duration::from_secs(5));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("series-registrations") && svg.contains("series-handoffs"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // Four intervals of 3 registrations: y axis tops out at 5.
        assert!(svg.contains(">5</text>"), "{svg}");
        assert!(svg.contains("-45s"), "window of 9 intervals of 5 s: {svg}");
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(101), 200);
    }
}
