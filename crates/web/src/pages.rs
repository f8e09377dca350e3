//! The HTML pages, rendered on the server (maud escapes every value) from
//! the show commands' typed views: Services > Proxy Mobile IP, Security >
//! SA Binding, Proxy Mobile IP > Subnet Table, Statistics. Every form
//! carries the session's CSRF token; no page needs JavaScript.

use crate::auth::Flash;
use crate::forms::Form;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use pmip_config::Config;
use pmip_node::snapshot::{Bindings, Bound, ProxyStatus, ProxyVisitors, Traffic, Visitors};
use std::collections::BTreeMap;
use std::fmt::Display;

/// What every page needs besides its own data.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    pub hostname: String,
    pub user: String,
    pub csrf: String,
    pub can_configure: bool,
    /// A message from the previous action (after a redirect).
    pub flash: Option<Flash>,
    /// Seconds after which the browser reloads the page (Statistics).
    pub refresh: Option<u32>,
    /// Which navigation entry is current.
    pub nav: &'static str,
}

const STYLE: &str = "
body{font-family:DejaVu Sans,Arial,sans-serif;margin:0;color:#222;background:#fff}
header{background:#1d3f5e;color:#fff;padding:.6em 1em;display:flex;justify-content:space-between;align-items:center}
header h1{font-size:1.1em;margin:0}
header form{display:inline;margin:0}
nav{background:#e8eef4;padding:.4em 1em;border-bottom:1px solid #c5d3e0}
nav a{margin-right:1.2em;color:#1d3f5e;text-decoration:none}
nav a.here{font-weight:bold;text-decoration:underline}
main{padding:1em 1.5em;max-width:64em}
h2{font-size:1.15em;border-bottom:1px solid #ccc;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0 1em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.92em}
th{background:#f0f3f6}
.msg{padding:.5em .8em;margin:.5em 0;border-radius:3px}
.ok{background:#e3f4e1;border:1px solid #8bc48a}
.err{background:#fbe3e1;border:1px solid #d98b84}
.note{color:#555;font-size:.9em}
fieldset{border:1px solid #ccc;margin:.6em 0;padding:.5em .8em}
label{margin-right:1em}
input[type=text],input[type=password],select{padding:.2em;margin:.1em .3em .1em 0}
button{padding:.25em .9em;margin:.2em .3em .2em 0}
pre{background:#f6f6f6;border:1px solid #ddd;padding:.6em;overflow:auto}
";

fn nav_link(ctx: &Ctx, href: &str, key: &str, label: &str) -> Markup {
    html! { a href=(href) class=@if ctx.nav == key { "here" } { (label) } }
}

/// The frame around every logged-in page.
pub fn layout(title: &str, ctx: &Ctx, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                @if let Some(s) = ctx.refresh { meta http-equiv="refresh" content=(s); }
                title { (title) " — " (ctx.hostname) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { (ctx.hostname) " — " (title) }
                    span {
                        "Logged in as " strong { (ctx.user) }
                        @if !ctx.can_configure { " (read-only)" }
                        " "
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(ctx.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                nav {
                    (nav_link(ctx, "/services/proxy-mobile", "services", "Services > Proxy Mobile IP"))
                    (nav_link(ctx, "/security/sa-binding", "sa", "Security > SA Binding"))
                    (nav_link(ctx, "/proxy-mobile/subnet-table", "subnet", "Proxy Mobile IP > Subnet Table"))
                    (nav_link(ctx, "/statistics", "stats", "Statistics"))
                    (nav_link(ctx, "/running-config", "config", "Running configuration"))
                }
                main {
                    @if let Some(f) = &ctx.flash {
                        div class={ "msg " @if f.ok { "ok" } @else { "err" } } role="status" id="message" { (f.text) }
                    }
                    (body)
                }
            }
        }
    }
}

/// The login page.
pub fn login(hostname: &str, token: &str, error: Option<&str>, no_users: bool) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Log in — " (hostname) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header { h1 { (hostname) } }
                main {
                    h2 { "Log in" }
                    @if let Some(e) = error { div class="msg err" role="alert" id="message" { (e) } }
                    @if no_users {
                        p class="note" { "No local users: configure `ip http authentication local` and `username NAME secret 0 PASSWORD`." }
                    }
                    form method="post" action="/login" {
                        input type="hidden" name="token" value=(token);
                        p { label for="username" { "User name" } br; input type="text" id="username" name="username" autocomplete="username" autofocus; }
                        p { label for="password" { "Password" } br; input type="password" id="password" name="password" autocomplete="current-password"; }
                        button type="submit" id="login" { "Log in" }
                    }
                }
            }
        }
    }
}

/// A plain page for refusals (403 and the like).
pub fn refusal(title: &str, text: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (title) } style { (PreEscaped(STYLE)) } }
            body { main { h2 { (title) } div class="msg err" id="message" { (text) } p { a href="/login" { "Log in" } } } }
        }
    }
}

fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="csrf" value=(ctx.csrf); }
}

/// An optional address: empty when unknown.
fn or_empty<T: Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// An optional number: `-` when unknown.
fn or_dash<T: Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn disabled(ctx: &Ctx) -> Option<&'static str> {
    (!ctx.can_configure).then_some("disabled")
}

/// Services > Proxy Mobile IP. `status` is `show ip proxy-mobile` (its
/// refusal when proxy Mobile IP is off); `config` is the running
/// configuration as parsed from `show running-config`.
pub fn services(ctx: &Ctx, config: &Config, status: Result<&ProxyStatus, &str>) -> Markup {
    let p = &config.proxy_mobile;
    let state = if !p.enabled {
        "disabled"
    } else if p.paused {
        "paused"
    } else {
        "enabled"
    };
    let aap = |i: usize| p.aaps.get(i).map(|a| a.to_string()).unwrap_or_default();
    let dis = disabled(ctx);
    html! {
        h2 { "Proxy Mobile IP" }
        p { "Proxy Mobile IP is " strong id="pmip-state" { (state) } "." }
        form method="post" action="/services/proxy-mobile" {
            (csrf(ctx))
            @if !p.enabled {
                button type="submit" name="action" value="enable" id="enable" disabled=[dis] { "Enable" }
                span class="note" { " Only on a root access point (not in repeater mode)." }
            } @else {
                @if p.paused {
                    button type="submit" name="action" value="resume" id="resume" disabled=[dis] { "Resume" }
                } @else {
                    button type="submit" name="action" value="pause" id="pause" disabled=[dis] { "Pause" }
                }
                button type="submit" name="action" value="disable" id="disable" disabled=[dis] { "Disable" }
                p class="note" { "Pause stops proxying and keeps the configuration. Disable clears the entire proxy Mobile IP configuration, including the SPI and key entries." }
            }
        }
        @match status {
            Ok(st) => {
                table {
                    tr { th { "Foreign agent heard" } td {
                        @match &st.foreign_agent {
                            Some(f) => {
                                (f.address) ", care-of " (f.care_of_address)
                                ", lifetime " (f.registration_lifetime) " s"
                                @if f.gre { ", GRE" }
                                @if f.reverse_tunnel { ", reverse tunnel" }
                            }
                            None => { "none yet" }
                        }
                    } }
                    tr { th { "Home agent of this subnet" } td {
                        @match &st.home_agent {
                            Some(h) => { (h.address) " mask " (h.mask) }
                            None => { "not heard" }
                        }
                    } }
                }
            }
            Err(e) => { p class="note" { (e) } }
        }
        h2 { "Settings" }
        form method="post" action="/services/proxy-mobile" {
            (csrf(ctx))
            input type="hidden" name="action" value="apply";
            fieldset {
                legend { "Authoritative access points (up to three)" }
                @for (i, (name, label)) in [("aap1", "AAP 1"), ("aap2", "AAP 2"), ("aap3", "AAP 3")].iter().enumerate() {
                    label for=(name) { (label) }
                    input type="text" id=(name) name=(name) value=(aap(i)) size="16";
                }
            }
            fieldset {
                legend { "Tunnel" }
                label { input type="checkbox" name="tunnel_gre" id="tunnel_gre" checked[p.tunnel_gre]; " GRE encapsulation (instead of IP-in-IP)" }
                label { input type="checkbox" name="tunnel_reverse" id="tunnel_reverse" checked[p.tunnel_reverse]; " Reverse tunnel" }
            }
            fieldset {
                legend { "Interfaces with proxy Mobile IP" }
                @for i in &config.interfaces {
                    label { input type="checkbox" name="if" value=(i.name) checked[i.proxy_mobile]; " " (i.name) }
                }
            }
            fieldset {
                legend { "SSIDs with proxy Mobile IP" }
                @let ssids: Vec<_> = config.interfaces.iter().flat_map(|i| i.ssids.iter().map(move |s| (i, s))).collect();
                @if ssids.is_empty() { span class="note" { "No SSID is configured on a radio interface." } }
                @for (i, s) in ssids {
                    label {
                        input type="checkbox" name="ssid" value={ (i.name) " " (s.name) } checked[s.proxy_mobile] disabled[s.vlan.is_some()];
                        " " (s.name) " (" (i.name) ")"
                        @if let Some(v) = s.vlan { " — VLAN " (v) ", not supported with proxy Mobile IP" }
                    }
                }
            }
            button type="submit" id="apply" disabled=[dis] { "Apply" }
        }
    }
}

/// One row of the SA Binding list.
pub struct SaView {
    pub start: String,
    pub end: String,
    pub spi: String,
    pub algorithm: String,
}

/// Security > SA Binding: the list (keys masked), add and delete. `echo`
/// refills the add form after a refusal, key excepted.
pub fn sa_binding(ctx: &Ctx, rows: &[SaView], echo: Option<&Form>, error: Option<&str>) -> Markup {
    let v = |k: &str| echo.map(|f| f.text(k).to_string()).unwrap_or_default();
    let key_type = echo.map(|f| f.text("key_type")).unwrap_or("ascii");
    let algorithm = echo.map(|f| f.text("algorithm")).unwrap_or("md5");
    let dis = disabled(ctx);
    html! {
        h2 { "Security associations" }
        p class="note" { "A security association must be given for each mobile device, locally here or on the RADIUS server. Keys are never shown." }
        table id="sa-table" {
            tr { th { "Start address" } th { "End address" } th { "SPI" } th { "Algorithm" } th { "Key" } th {} }
            @if rows.is_empty() { tr { td colspan="6" { "No security association is configured." } } }
            @for r in rows {
                tr {
                    td { (r.start) } td { (r.end) } td { (r.spi) } td { (r.algorithm) } td { (pmip_config::KEY_MASK) }
                    td {
                        form method="post" action="/security/sa-binding/delete" {
                            (csrf(ctx))
                            input type="hidden" name="start" value=(r.start);
                            input type="hidden" name="end" value=(r.end);
                            button type="submit" disabled=[dis] { "Delete" }
                        }
                    }
                }
            }
        }
        h2 { "Add a security association" }
        @if let Some(e) = error { div class="msg err" role="alert" id="form-error" { (e) } }
        form method="post" action="/security/sa-binding/add" {
            (csrf(ctx))
            p {
                label for="start" { "Start address" } input type="text" id="start" name="start" value=(v("start")) size="15";
                label for="end" { "End address (for a range)" } input type="text" id="end" name="end" value=(v("end")) size="15";
            }
            p {
                label for="spi" { "SPI (hex, 100-FFFFFFFF)" } input type="text" id="spi" name="spi" value=(v("spi")) size="10";
                label for="algorithm" { "Algorithm" }
                select id="algorithm" name="algorithm" {
                    option value="md5" selected[algorithm != "hmac-md5"] { "MD5 prefix+suffix" }
                    option value="hmac-md5" selected[algorithm == "hmac-md5"] { "HMAC-MD5" }
                }
            }
            p {
                label for="key_type" { "Key type" }
                select id="key_type" name="key_type" {
                    option value="ascii" selected[key_type != "hex"] { "ASCII (up to 16 characters)" }
                    option value="hex" selected[key_type == "hex"] { "Hex (32 digits)" }
                }
                label for="key" { "Key" } input type="password" id="key" name="key" autocomplete="off" size="34";
            }
            button type="submit" id="add-sa" disabled=[dis] { "Add" }
        }
    }
}

/// One row of the subnet table.
pub struct SubnetRow {
    pub home_agent: String,
    pub mask: String,
    pub source: String,
    pub age: String,
}

/// Proxy Mobile IP > Subnet Table. `notice` explains a fallback (the
/// device lacks `show ip proxy-mobile subnet-table`) or the exchange state.
pub fn subnet_table(
    ctx: &Ctx,
    rows: &[SubnetRow],
    notice: Option<&str>,
    summary: Option<&str>,
) -> Markup {
    html! {
        h2 { "Subnet map table" }
        p class="note" { "The home agent and mask of every subnet; the access point looks up a visiting client's home agent here. Click Refresh if the table appears out of date." }
        @if let Some(s) = summary { p id="subnet-summary" { (s) } }
        @if let Some(n) = notice { div class="msg err" id="subnet-notice" { (n) } }
        table id="subnet-table" {
            tr { th { "Home Agent" } th { "Mask" } th { "Source" } th { "Age" } }
            @if rows.is_empty() { tr { td colspan="4" { "The table is empty." } } }
            @for r in rows { tr { td { (r.home_agent) } td { (r.mask) } td { (r.source) } td { (r.age) } } }
        }
        form method="post" action="/proxy-mobile/subnet-table/refresh" {
            (csrf(ctx))
            button type="submit" id="refresh" disabled=[disabled(ctx)] { "Refresh" }
        }
    }
}

fn counters_table(id: &str, rows: &[(&str, String)]) -> Markup {
    html! {
        table id=(id) {
            @for (k, v) in rows { tr { th { (k) } td { (v) } } }
        }
    }
}

fn by_code(m: &BTreeMap<String, u64>) -> Markup {
    html! {
        @if !m.is_empty() {
            table { tr { th { "Denied, reply code" } th { "Count" } }
                @for (code, n) in m { tr { td { (code) } td { (n) } } } }
        }
    }
}

/// What the Statistics page shows: the views of the show commands the
/// device answered (`None` for a refused one).
pub struct StatsView<'a> {
    pub proxy: Option<&'a ProxyStatus>,
    pub proxy_visitors: Option<&'a ProxyVisitors>,
    pub traffic: Option<&'a Traffic>,
    pub bindings: Option<&'a Bindings>,
    pub visitors: Option<&'a Visitors>,
    pub chart: String,
    pub interval_secs: u64,
}

pub fn statistics(v: &StatsView) -> Markup {
    html! {
        h2 { "Registrations and handoffs" }
        p class="note" { "Per " (v.interval_secs) " s interval, sampled by the web server; this page reloads every 10 s." }
        div id="chart" { (PreEscaped(&v.chart)) }
        @if let Some(p) = v.proxy {
            @let st = &p.statistics;
            h2 { "Proxy Mobile IP statistics" }
            (counters_table("ap-stats", &[
                ("State", p.state.clone()),
                ("Registrations sent", st.registrations_sent.to_string()),
                ("Re-registrations", st.reregistrations.to_string()),
                ("Deregistrations", st.deregistrations.to_string()),
                ("Accepted", st.accepted.to_string()),
                ("Retransmissions", st.retransmissions.to_string()),
                ("Identification resyncs (133)", st.resyncs.to_string()),
            ]))
            (by_code(&st.denied_by_code))
            @let h = &st.handoff_latency_ms;
            h3 { "Handoff latency (association to accepted registration)" }
            table id="handoff-latency" {
                tr { th { "Up to" } th { "Handoffs" } }
                @for (upper, n) in &h.buckets {
                    tr {
                        td { @match upper { Bound::Inf(t) => { (t) }, Bound::Ms(x) => { (x) " ms" } } }
                        td { (n) }
                    }
                }
                tr { th { "Total" } td { (h.count) @if h.count > 0 { ", mean " (format!("{:.1}", h.sum_ms / h.count as f64)) " ms" } } }
            }
        }
        @if let Some(pv) = v.proxy_visitors {
            @let list = &pv.visitors;
            h2 { "Stations" }
            table id="ap-visitors" {
                tr { th { "MAC" } th { "SSID" } th { "Address" } th { "Home agent" } th { "Care-of" } th { "State" } th { "Lifetime left" } th { "Registration RTT" } }
                @if list.is_empty() { tr { td colspan="8" { "No station is associated." } } }
                @for x in list {
                    tr {
                        td { (x.mac) } td { (x.ssid) } td { (or_empty(x.address)) } td { (or_empty(x.home_agent)) }
                        td { (or_empty(x.care_of_address)) } td { (x.state) } td { (or_dash(x.lifetime_remaining)) }
                        td { @if let Some(r) = x.registration_rtt_ms { (format!("{r:.1} ms")) } }
                    }
                }
            }
        }
        @if let Some(t) = v.traffic {
            @if let Some(ha) = &t.home_agent {
                h2 { "Home agent" }
                (counters_table("ha-stats", &[
                    ("Requests", ha.requests.to_string()),
                    ("Accepted", ha.accepted.to_string()),
                    ("Deregistrations", ha.deregistrations.to_string()),
                    ("Denied", ha.denied.to_string()),
                    ("Ignored", ha.ignored.to_string()),
                    ("Expired", ha.expired.to_string()),
                ]))
                (by_code(&ha.denied_by_code))
            }
            @if let Some(fa) = &t.foreign_agent {
                h2 { "Foreign agent" }
                (counters_table("fa-stats", &[
                    ("Solicitations received", fa.solicitations.to_string()),
                    ("Advertisements sent", fa.advertisements.to_string()),
                    ("Requests", fa.requests.to_string()),
                    ("Relayed", fa.relayed.to_string()),
                    ("Replies accepted", fa.replies_accepted.to_string()),
                    ("Timeouts", fa.timeouts.to_string()),
                ]))
                (by_code(&fa.denied_by_code))
            }
        }
        @if let Some(b) = v.bindings {
            @let list = &b.bindings;
            h2 { "Mobility bindings" }
            table id="bindings" {
                tr { th { "Home address" } th { "Care-of" } th { "Lifetime left" } th { "Encapsulation" } }
                @if list.is_empty() { tr { td colspan="4" { "None." } } }
                @for b in list { tr { td { (b.home_address) } td { (b.care_of_address) } td { (b.lifetime_remaining) } td { (b.encapsulation) } } }
            }
        }
        @if let Some(vis) = v.visitors {
            @let list = &vis.visitors;
            h2 { "Visitors" }
            table id="visitors" {
                tr { th { "Home address" } th { "Home agent" } th { "Lifetime left" } th { "Encapsulation" } }
                @if list.is_empty() { tr { td colspan="4" { "None." } } }
                @for b in list { tr { td { (b.home_address) } td { (b.home_agent) } td { (b.lifetime_remaining) } td { (b.encapsulation) } } }
            }
        }
    }
}

/// What the device answered instead of its configuration.
pub fn device_error(text: &str) -> Markup {
    html! {
        div class="msg err" id="device-error" { (text) }
    }
}

/// The running configuration, and Save: `write memory`, the running
/// configuration written to the file the device starts from.
pub fn running_config(ctx: &Ctx, text: &str) -> Markup {
    html! {
        h2 { "show running-config" }
        p class="note" { "Keys and passwords are masked. Save writes the running configuration to the file the device starts from (write memory); the previous file is kept as a backup." }
        form method="post" action="/running-config/save" {
            (csrf(ctx))
            button type="submit" id="save" disabled=[disabled(ctx)] { "Save" }
        }
        pre id="running-config" { (text) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx {
            hostname: "ap<1>".into(),
            user: "admin".into(),
            csrf: "TOKEN123".into(),
            can_configure: true,
            ..Ctx::default()
        }
    }

    #[test]
    fn every_form_carries_the_csrf_token_and_values_are_escaped() {
        let c = Config::parse(
            "interface Dot11Radio0\n ssid tsunami\n  ip proxy-mobile\nip proxy-mobile enable\nip proxy-mobile aap 10.1.0.2\n",
        )
        .unwrap();
        let page = layout(
            "Proxy Mobile IP",
            &ctx(),
            services(&ctx(), &c, Err("% <not> enabled")),
        )
        .into_string();
        let forms = page.matches("<form").count();
        assert!(forms >= 3, "{page}");
        assert_eq!(
            page.matches(r#"name="csrf" value="TOKEN123""#).count(),
            forms
        );
        assert!(page.contains("ap&lt;1&gt;") && !page.contains("ap<1>"));
        assert!(page.contains("% &lt;not&gt; enabled"));
        assert!(
            page.contains(r#"value="Dot11Radio0 tsunami" checked"#),
            "{page}"
        );
        assert!(page.contains(r#"id="pause""#));
    }

    #[test]
    fn read_only_users_get_disabled_buttons() {
        let mut cx = ctx();
        cx.can_configure = false;
        let page = sa_binding(&cx, &[], None, None).into_string();
        assert!(page.contains("disabled"), "{page}");
    }

    #[test]
    fn sa_page_masks_keys_and_never_echoes_the_key() {
        let rows = [SaView {
            start: "10.1.0.1".into(),
            end: "10.1.0.9".into(),
            spi: "100".into(),
            algorithm: "HMAC-MD5".into(),
        }];
        let echo = Form::parse(b"start=10.1.0.20&spi=zz&key_type=hex&key=SECRETKEY");
        let page = sa_binding(&ctx(), &rows, Some(&echo), Some("SPI: bad")).into_string();
        assert!(page.contains(pmip_config::KEY_MASK));
        assert!(!page.contains("SECRETKEY"));
        assert!(page.contains(r#"value="10.1.0.20""#));
        assert!(page.contains(r#"<option value="hex" selected"#), "{page}");
        assert!(page.contains("SPI: bad"));
    }

    #[test]
    fn login_page_has_the_token() {
        let page = login("ap1", "LT", Some("Wrong user name or password"), false).into_string();
        assert!(page.contains(r#"name="token" value="LT""#));
        assert!(page.contains("Wrong user name or password"));
    }
}
