//! The demo's plot: TCP throughput over time in 100 ms bins, each roam a
//! dashed line, and a strip of the ping replies below (gaps are the
//! outages). Plain SVG, written by hand: a chart crate would pull in a
//! font stack for one line chart.

use std::fmt::Write as _;

const W: f64 = 960.0;
const H: f64 = 420.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const PLOT_H: f64 = 280.0;
const STRIP_Y: f64 = TOP + PLOT_H + 40.0;

/// `samples`: (unix time, bytes received); `roams`: (unix time, label);
/// `replies`: (unix time, seq) of the ping.
pub fn throughput_svg(
    samples: &[(f64, u64)],
    start: f64,
    end: f64,
    roams: &[(f64, String)],
    replies: &[(f64, u32)],
) -> String {
    let span = (end - start).max(0.1);
    let bin = 0.1;
    let n = (span / bin).ceil() as usize;
    let mut bins = vec![0u64; n.max(1)];
    for (t, b) in samples {
        if *t >= start && *t < end {
            let i = (((t - start) / bin) as usize).min(bins.len() - 1);
            bins[i] += b;
        }
    }
    let mbit: Vec<f64> = bins.iter().map(|b| *b as f64 * 8.0 / bin / 1e6).collect();
    let peak = mbit.iter().copied().fold(1.0, f64::max);
    let top = nice_ceiling(peak);
    let x = |t: f64| LEFT + (t / span) * (W - LEFT - RIGHT);
    let y = |v: f64| TOP + PLOT_H - v / top * PLOT_H;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="22" font-size="15">TCP throughput at the roaming client (100 ms bins), roams dashed; ping replies below</text>"#
    );
    // Axes and grid.
    for k in 0..=5 {
        let v = top * f64::from(k) / 5.0;
        let yy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v:.0}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">Mbit/s</text>"#,
        TOP + PLOT_H / 2.0,
        TOP + PLOT_H / 2.0
    );
    let step = if span > 60.0 {
        10.0
    } else if span > 20.0 {
        5.0
    } else {
        1.0
    };
    let mut t = 0.0;
    while t <= span {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{t:.0}</text>"#,
            x(t),
            TOP + PLOT_H + 16.0
        );
        t += step;
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">seconds</text>"#,
        W - RIGHT,
        TOP + PLOT_H + 30.0
    );
    // Throughput.
    let mut path = String::new();
    for (i, v) in mbit.iter().enumerate() {
        let _ = write!(
            path,
            "{}{:.1},{:.1} ",
            if i == 0 { "M" } else { "L" },
            x((i as f64 + 0.5) * bin),
            y(*v)
        );
    }
    let _ = writeln!(
        s,
        r##"<path d="{path}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>"##
    );
    // Roams.
    for (at, label) in roams {
        let xx = x(at - start);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#d62728" stroke-dasharray="5,4"/><text x="{:.1}" y="{:.1}" fill="#d62728">{}</text>"##,
            STRIP_Y + 14.0,
            xx + 4.0,
            TOP + 12.0,
            escape(label)
        );
    }
    // Ping strip.
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="end">ping</text>"#,
        LEFT - 6.0,
        STRIP_Y + 10.0
    );
    // Runs of replies (no gap over 20 ms) as bars: the gaps are the outages.
    let mut times: Vec<f64> = replies
        .iter()
        .map(|r| r.0)
        .filter(|t| *t >= start && *t < end)
        .collect();
    times.sort_by(f64::total_cmp);
    let mut runs: Vec<(f64, f64)> = Vec::new();
    for t in times {
        match runs.last_mut() {
            Some(run) if t - run.1 <= 0.02 => run.1 = t,
            _ => runs.push((t, t)),
        }
    }
    for (a, b) in runs {
        let (xa, xb) = (x(a - start), x(b - start));
        let _ = writeln!(
            s,
            r##"<rect x="{xa:.1}" y="{STRIP_Y}" width="{:.1}" height="14" fill="#2ca02c"/>"##,
            (xb - xa).max(0.8)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn nice_ceiling(v: f64) -> f64 {
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * mag >= v {
            return m * mag;
        }
    }
    10.0 * mag
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_bins_and_roams() {
        let samples: Vec<(f64, u64)> = (0..50)
            .map(|i| (100.05 + f64::from(i) * 0.1, 100_000))
            .collect();
        let svg = throughput_svg(
            &samples,
            100.0,
            105.0,
            &[(102.0, "ap1 -> ap2".into())],
            &[(101.0, 1)],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("ap1 -&gt; ap2"));
        assert!(svg.contains("stroke-dasharray"));
        // 100 000 bytes in each 100 ms bin is 8 Mbit/s: the axis tops at 10.
        assert!(svg.contains(">10</text>"), "{svg}");
        assert_eq!(nice_ceiling(8.0), 10.0);
        assert_eq!(nice_ceiling(41.0), 50.0);
    }
}
