//! The server against a fake of the device handle: a configuration it
//! really parses and changes, and a log of every command it ran, so a test
//! can tell that a refused request changed nothing.

use crate::{Device, WebConfig, serve};
use pmip_config::{Config, Credential, Mode, Username};
use pmip_node::snapshot::{
    Bound, ForeignAgentHeard, Histogram, ProxySecure, ProxyStatistics, ProxyStatus, ProxyVisitors,
    SaBinding, SubnetRow, SubnetTable, SubnetTableRow, Version,
};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone)]
struct Fake {
    config: Arc<Mutex<Config>>,
    log: Arc<Mutex<Vec<String>>>,
    /// Whether `show ip proxy-mobile subnet-table` exists.
    subnet_table: bool,
    /// Commands whose JSON answer does not parse into its view.
    garbled: Vec<&'static str>,
}

const AP: &str = "\
hostname ap9
interface FastEthernet0
 ip proxy-mobile
interface Dot11Radio0
 ip proxy-mobile
 ssid tsunami
  ip proxy-mobile
interface BVI1
 ip address 10.2.0.2 255.255.255.0
 ip proxy-mobile
ip default-gateway 10.2.0.1
ip proxy-mobile enable
ip proxy-mobile aap 10.1.0.2 10.2.0.2
ip proxy-mobile secure node 10.1.0.10 10.1.0.250 spi 100 key ascii topsecret
ip proxy-mobile subnet-map 10.1.0.1 255.255.255.0
";

impl Fake {
    fn new(subnet_table: bool) -> Fake {
        Fake {
            config: Arc::new(Mutex::new(Config::parse(AP).unwrap())),
            log: Arc::new(Mutex::new(Vec::new())),
            subnet_table,
            garbled: Vec::new(),
        }
    }

    fn configures(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("configure"))
            .cloned()
            .collect()
    }

    fn running(&self) -> String {
        self.config.lock().unwrap().running_config(false)
    }

    fn answer(&self, words: &[String]) -> Result<String, String> {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        let mut c = self.config.lock().unwrap();
        match w.as_slice() {
            ["configure", rest @ ..] => {
                let mut candidate = c.clone();
                let mut mode = Mode::Global;
                for (i, line) in rest.join(" ").split(';').enumerate() {
                    candidate
                        .apply_line_numbered(&mut mode, line, i + 1)
                        .map_err(|e| e.to_string())?;
                }
                *c = candidate;
                Ok(String::new())
            }
            ["show", "version"] => Ok(to_json(&Version {
                hostname: c.hostname.clone().unwrap_or_default(),
                roles: vec!["proxy Mobile IP access point".into()],
                uptime_seconds: 5,
                version: "0.1.0".into(),
            })),
            ["show", "running-config"] => {
                Ok(json!({"running_config": c.running_config(false)}).to_string())
            }
            ["show", "ip", "proxy-mobile"] => {
                let p = &c.proxy_mobile;
                if !p.enabled {
                    return Err("% Proxy Mobile IP is not enabled (ip proxy-mobile enable)".into());
                }
                Ok(to_json(&ProxyStatus {
                    inactive: None,
                    state: if p.paused { "paused" } else { "enabled" }.into(),
                    aaps: p.aaps.iter().map(|a| a.to_string()).collect(),
                    foreign_agent: Some(ForeignAgentHeard {
                        address: "10.2.0.1".parse().unwrap(),
                        care_of_address: "10.2.0.1".parse().unwrap(),
                        gre: true,
                        registration_lifetime: 600,
                        reverse_tunnel: false,
                    }),
                    home_agent: None,
                    subnet_map: p
                        .subnet_map
                        .iter()
                        .map(|(h, m)| SubnetRow {
                            home_agent: *h,
                            mask: *m,
                        })
                        .collect(),
                    statistics: ProxyStatistics {
                        registrations_sent: 2,
                        accepted: 2,
                        handoff_latency_ms: Histogram {
                            buckets: vec![
                                (Bound::Ms(5), 0),
                                (Bound::Ms(50), 2),
                                (Bound::Inf("+Inf".into()), 0),
                            ],
                            sum_ms: 60.0,
                            count: 2,
                        },
                        ..no_statistics()
                    },
                }))
            }
            ["show", "ip", "proxy-mobile", "visitor"] => Ok(to_json(&ProxyVisitors {
                total: 0,
                visitors: Vec::new(),
            })),
            ["show", "ip", "proxy-mobile", "secure"] => Ok(to_json(&ProxySecure {
                sa_bindings: c
                    .proxy_mobile
                    .nodes
                    .iter()
                    .map(|n| SaBinding {
                        start: n.range.low,
                        end: n.range.high,
                        spi: format!("{:X}", n.sa.spi),
                        algorithm: Some(format!("{:?}", n.sa.algorithm)),
                        key: "********".into(),
                        source: "local".into(),
                        age_seconds: None,
                    })
                    .collect(),
                aaa: Vec::new(),
            })),
            ["show", "ip", "proxy-mobile", "subnet-table"] if self.subnet_table => {
                Ok(to_json(&SubnetTable {
                    exchange: "AP".into(),
                    off_reason: None,
                    current_aap: Some("10.1.0.2".parse().unwrap()),
                    members: None,
                    entries: vec![SubnetTableRow {
                        home_agent: "10.1.0.1".parse().unwrap(),
                        mask: "255.255.255.0".parse().unwrap(),
                        source: "AAP 10.1.0.2".into(),
                        age_seconds: Some(75),
                        aps: Vec::new(),
                    }],
                    counters: None,
                    in_use: 1,
                    unauthenticated: false,
                    refused: 0,
                }))
            }
            // What the node answers; the daemon writes the file.
            ["write", "memory"] => Ok("Building configuration...\n[OK]\n".into()),
            ["refresh", "ip", "proxy-mobile", "subnet-table"] if self.subnet_table => {
                Ok("Asking the AAP for the subnet map table\n".into())
            }
            _ => Err(format!("% Invalid input: \"{}\"", words.join(" "))),
        }
    }
}

/// An AP's statistics before anything happened (the optional counters
/// take their defaults).
fn no_statistics() -> ProxyStatistics {
    serde_json::from_value(json!({"registrations_sent": 0, "reregistrations": 0,
        "deregistrations": 0, "accepted": 0, "retransmissions": 0, "resyncs": 0,
        "denied_by_code": {}, "handoff_latency_ms": {"buckets": [], "sum_ms": 0.0, "count": 0}}))
    .unwrap()
}

/// A view as the device's `--json` answer.
fn to_json<T: serde::Serialize>(view: &T) -> String {
    serde_json::to_string(view).unwrap()
}

impl Device for Fake {
    async fn exec(&self, words: Vec<String>, _json: bool) -> Result<String, String> {
        let line = words.join(" ");
        self.log.lock().unwrap().push(line.clone());
        let answer = self.answer(&words)?;
        if self.garbled.contains(&line.as_str()) {
            return Ok(r#"{"total": "many", "hostname": 7}"#.into());
        }
        Ok(answer)
    }
}

fn users() -> Vec<Username> {
    vec![
        Username {
            name: "admin".into(),
            privilege: None,
            credential: Credential::Password("letmein".into()),
        },
        Username {
            name: "viewer".into(),
            privilege: Some(1),
            credential: Credential::Password("look".into()),
        },
    ]
}

struct Server {
    base: String,
    fake: Fake,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_with(fake: Fake) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = WebConfig {
        users: users(),
        sample_interval: Duration::from_millis(50),
        failed_login_delay: Duration::from_millis(20),
        ..WebConfig::default()
    };
    let task = tokio::spawn(serve(listener, config, fake.clone()));
    Server { base, fake, task }
}

async fn start() -> Server {
    start_with(Fake::new(true)).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The value of `name="NAME" value="..."` in a page.
fn field(page: &str, name: &str) -> String {
    let pat = format!(r#"name="{name}" value=""#);
    let at = page
        .find(&pat)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + pat.len();
    page[at..at + page[at..].find('"').unwrap()].to_string()
}

async fn get(c: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let r = c.get(url).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn post(c: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let r = c.post(url).form(form).send().await.unwrap();
    let status = r.status();
    let loc = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    (status, loc.unwrap_or(text))
}

/// Logs in; returns the client (holding the session cookie) and the CSRF
/// token of the pages.
async fn login(s: &Server, user: &str, password: &str) -> (reqwest::Client, String) {
    let c = client();
    let (_, page) = get(&c, &format!("{}/login", s.base)).await;
    let token = field(&page, "token");
    let r = c
        .post(format!("{}/login", s.base))
        .form(&[
            ("token", token.as_str()),
            ("username", user),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "login as {user}");
    let cookie = r
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("pmip_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let (_, page) = get(&c, &format!("{}/security/sa-binding", s.base)).await;
    let csrf = field(&page, "csrf");
    (c, csrf)
}

#[tokio::test]
async fn login_wrong_password_is_refused_and_right_one_works() {
    let s = start().await;
    let c = client();
    // Pages send a stranger to the login page.
    let r = c
        .get(format!("{}/services/proxy-mobile", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login");
    let (_, page) = get(&c, &format!("{}/login", s.base)).await;
    let token = field(&page, "token");
    let t0 = std::time::Instant::now();
    let r = c
        .post(format!("{}/login", s.base))
        .form(&[
            ("token", token.as_str()),
            ("username", "admin"),
            ("password", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        t0.elapsed() >= Duration::from_millis(20),
        "failed logins are delayed"
    );
    assert!(
        r.headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("pmip_session="))
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("Wrong user name or password."));
    // The refused form's token is used up; the new page has a new one.
    let again = c
        .post(format!("{}/login", s.base))
        .form(&[
            ("token", token.as_str()),
            ("username", "admin"),
            ("password", "letmein"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::FORBIDDEN, "a used login token");
    drop(again);
    let (c, csrf) = login(&s, "admin", "letmein").await;
    assert_eq!(csrf.len(), 64);
    let (st, page) = get(&c, &format!("{}/services/proxy-mobile", s.base)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains(r#"id="pmip-state">enabled"#), "{page}");
    // Logging out ends the session.
    let (st, _) = post(&c, &format!("{}/logout", s.base), &[("csrf", &csrf)]).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (st, _) = get(&c, &format!("{}/statistics", s.base)).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_without_the_form_token_is_refused() {
    let s = start().await;
    let (st, _) = post(
        &client(),
        &format!("{}/login", s.base),
        &[("username", "admin"), ("password", "letmein")],
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn repeated_failures_lock_the_address_out() {
    let s = start().await;
    let c = client();
    for i in 0..crate::auth::MAX_FAILURES {
        let (_, page) = get(&c, &format!("{}/login", s.base)).await;
        let token = field(&page, "token");
        let (st, _) = post(
            &c,
            &format!("{}/login", s.base),
            &[("token", &token), ("username", "admin"), ("password", "no")],
        )
        .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let (_, page) = get(&c, &format!("{}/login", s.base)).await;
    let token = field(&page, "token");
    let (st, page) = post(
        &c,
        &format!("{}/login", s.base),
        &[
            ("token", &token),
            ("username", "admin"),
            ("password", "letmein"),
        ],
    )
    .await;
    assert_eq!(
        st,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(page.contains("Too many failed logins"), "{page}");
}

#[tokio::test]
async fn posts_without_session_or_with_a_bad_token_change_nothing() {
    let s = start().await;
    let before = s.fake.running();
    let stranger = client();
    let (st, _) = post(
        &stranger,
        &format!("{}/services/proxy-mobile", s.base),
        &[("action", "pause"), ("csrf", "x")],
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (c, csrf) = login(&s, "admin", "letmein").await;
    for bad in ["", "0", &csrf[..63]] {
        let (st, _) = post(
            &c,
            &format!("{}/services/proxy-mobile", s.base),
            &[("action", "pause"), ("csrf", bad)],
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "token {bad:?}");
    }
    let (st, _) = post(
        &c,
        &format!("{}/security/sa-binding/delete", s.base),
        &[("start", "10.1.0.10"), ("end", "10.1.0.250")],
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "no token at all");
    let (st, _) = post(
        &c,
        &format!("{}/proxy-mobile/subnet-table/refresh", s.base),
        &[("csrf", "nope")],
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(s.fake.configures().is_empty());
    assert!(
        !s.fake
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("refresh"))
    );
    assert_eq!(s.fake.running(), before);
    // A read-only user has a token but may not change anything.
    let (v, vcsrf) = login(&s, "viewer", "look").await;
    let (_, page) = get(&v, &format!("{}/services/proxy-mobile", s.base)).await;
    assert!(page.contains("(read-only)"));
    let (st, _) = post(
        &v,
        &format!("{}/services/proxy-mobile", s.base),
        &[("action", "pause"), ("csrf", &vcsrf)],
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(s.fake.configures().is_empty());
}

#[tokio::test]
async fn pause_resume_and_settings_go_through_configure() {
    let s = start().await;
    let (c, csrf) = login(&s, "admin", "letmein").await;
    let url = format!("{}/services/proxy-mobile", s.base);
    let (st, loc) = post(&c, &url, &[("action", "pause"), ("csrf", &csrf)]).await;
    assert_eq!(
        (st, loc.as_str()),
        (StatusCode::SEE_OTHER, "/services/proxy-mobile")
    );
    assert!(s.fake.running().contains("ip proxy-mobile pause\n"));
    let (_, page) = get(&c, &url).await;
    assert!(page.contains("Configured: ip proxy-mobile pause"), "{page}");
    assert!(page.contains(r#"id="pmip-state">paused"#));
    assert!(page.contains(r#"id="resume""#));
    post(&c, &url, &[("action", "resume"), ("csrf", &csrf)]).await;
    assert!(!s.fake.running().contains("pause"));
    // Settings: GRE on, BVI1 off, a third AAP.
    let form = [
        ("action", "apply"),
        ("csrf", csrf.as_str()),
        ("aap1", "10.1.0.2"),
        ("aap2", "10.2.0.2"),
        ("aap3", "10.3.0.2"),
        ("tunnel_gre", "on"),
        ("if", "FastEthernet0"),
        ("if", "Dot11Radio0"),
        ("ssid", "Dot11Radio0 tsunami"),
    ];
    post(&c, &url, &form).await;
    let run = s.fake.running();
    assert!(
        run.contains("ip proxy-mobile aap 10.1.0.2 10.2.0.2 10.3.0.2\n"),
        "{run}"
    );
    assert!(run.contains("ip proxy-mobile tunnel gre\n"));
    assert!(
        !run.contains("interface BVI1\n ip address 10.2.0.2 255.255.255.0\n ip proxy-mobile"),
        "{run}"
    );
    assert_eq!(
        s.fake.configures().last().unwrap(),
        "configure ip proxy-mobile aap 10.1.0.2 10.2.0.2 10.3.0.2; ip proxy-mobile tunnel gre; interface BVI1; no ip proxy-mobile; exit"
    );
    // The same form again changes nothing.
    let n = s.fake.configures().len();
    post(&c, &url, &form).await;
    assert_eq!(s.fake.configures().len(), n);
    let (_, page) = get(&c, &url).await;
    assert!(page.contains("Nothing to change."));
}

#[tokio::test]
async fn bad_values_name_the_field_and_change_nothing() {
    let s = start().await;
    let (c, csrf) = login(&s, "admin", "letmein").await;
    let before = s.fake.running();
    post(
        &c,
        &format!("{}/services/proxy-mobile", s.base),
        &[("action", "apply"), ("csrf", &csrf), ("aap1", "10.1.0.999")],
    )
    .await;
    let (_, page) = get(&c, &format!("{}/services/proxy-mobile", s.base)).await;
    assert!(
        page.contains("AAP 1: &quot;10.1.0.999&quot; is not an IPv4 address or a host name"),
        "{page}"
    );
    let (st, page) = post(
        &c,
        &format!("{}/security/sa-binding/add", s.base),
        &[
            ("csrf", &csrf),
            ("start", "10.5.0.1"),
            ("spi", "42"),
            ("key_type", "ascii"),
            ("key", "sekrit"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(page.contains("SPI: 42 is reserved"), "{page}");
    assert!(page.contains(r#"value="10.5.0.1""#), "typed values kept");
    assert!(!page.contains("sekrit"), "the key is never sent back");
    assert!(s.fake.configures().is_empty());
    assert_eq!(s.fake.running(), before);
}

#[tokio::test]
async fn sa_add_and_delete_and_device_refusals_verbatim_without_keys() {
    let s = start().await;
    let (c, csrf) = login(&s, "admin", "letmein").await;
    let add = format!("{}/security/sa-binding/add", s.base);
    let (st, loc) = post(
        &c,
        &add,
        &[
            ("csrf", &csrf),
            ("start", "10.91.7.151"),
            ("end", "10.91.7.176"),
            ("spi", "102"),
            ("key_type", "ascii"),
            ("key", "0987654"),
            ("algorithm", "hmac-md5"),
        ],
    )
    .await;
    assert_eq!(
        (st, loc.as_str()),
        (StatusCode::SEE_OTHER, "/security/sa-binding")
    );
    assert!(s.fake.running().contains("ip proxy-mobile secure node 10.91.7.151 10.91.7.176 spi 102 key ascii ******** algorithm hmac-md5"));
    let (_, page) = get(&c, &format!("{}/security/sa-binding", s.base)).await;
    assert!(
        page.contains(
            "<td>10.91.7.151</td><td>10.91.7.176</td><td>102</td><td>HMAC-MD5</td><td>********</td>"
        ),
        "{page}"
    );
    assert!(
        !page.contains("0987654") && !page.contains("topsecret"),
        "keys never on a page"
    );
    // A refusal only the device can make (a repeater radio cannot have
    // proxy Mobile IP) is shown verbatim.
    *s.fake.config.lock().unwrap() =
        Config::parse("hostname ap9\ninterface Dot11Radio0\n station-role repeater\n").unwrap();
    let (_, page) = get(&c, &format!("{}/services/proxy-mobile", s.base)).await;
    assert!(page.contains(r#"id="enable""#), "{page}");
    post(
        &c,
        &format!("{}/services/proxy-mobile", s.base),
        &[("action", "enable"), ("csrf", &csrf)],
    )
    .await;
    let (_, page) = get(&c, &format!("{}/services/proxy-mobile", s.base)).await;
    assert!(
        page.contains("line 1: &quot;ip proxy-mobile enable&quot;"),
        "verbatim: {page}"
    );
    assert!(page.contains("repeater"), "{page}");
    // Delete.
    *s.fake.config.lock().unwrap() = Config::parse(AP).unwrap();
    post(
        &c,
        &format!("{}/security/sa-binding/delete", s.base),
        &[
            ("csrf", &csrf),
            ("start", "10.1.0.10"),
            ("end", "10.1.0.250"),
        ],
    )
    .await;
    assert!(!s.fake.running().contains("secure node"));
    assert_eq!(
        s.fake.configures().last().unwrap(),
        "configure no ip proxy-mobile secure node 10.1.0.10 10.1.0.250"
    );
}

#[tokio::test]
async fn subnet_table_and_refresh() {
    let s = start().await;
    let (c, csrf) = login(&s, "admin", "letmein").await;
    let (_, page) = get(&c, &format!("{}/proxy-mobile/subnet-table", s.base)).await;
    assert!(
        page.contains(
            "<td>10.1.0.1</td><td>255.255.255.0</td><td>AAP 10.1.0.2</td><td>00:01:15</td>"
        ),
        "{page}"
    );
    assert!(page.contains("current AAP 10.1.0.2"));
    post(
        &c,
        &format!("{}/proxy-mobile/subnet-table/refresh", s.base),
        &[("csrf", &csrf)],
    )
    .await;
    let (_, page) = get(&c, &format!("{}/proxy-mobile/subnet-table", s.base)).await;
    assert!(
        page.contains("Asking the AAP for the subnet map table"),
        "{page}"
    );
}

/// The Save button runs `write memory` (CSRF checked, privilege 15) and
/// says what the device answered.
#[tokio::test]
async fn save_writes_memory() {
    let s = start().await;
    let (c, csrf) = login(&s, "admin", "letmein").await;
    let (_, page) = get(&c, &format!("{}/running-config", s.base)).await;
    assert!(page.contains(r#"id="save""#), "{page}");
    let (st, _) = post(
        &c,
        &format!("{}/running-config/save", s.base),
        &[("csrf", "wrong")],
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(
        !s.fake
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l == "write memory")
    );
    post(
        &c,
        &format!("{}/running-config/save", s.base),
        &[("csrf", &csrf)],
    )
    .await;
    assert!(
        s.fake
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l == "write memory")
    );
    let (_, page) = get(&c, &format!("{}/running-config", s.base)).await;
    assert!(page.contains("[OK]"), "{page}");
}

#[tokio::test]
async fn subnet_table_falls_back_while_the_command_is_missing() {
    let s = start_with(Fake::new(false)).await;
    let (c, csrf) = login(&s, "admin", "letmein").await;
    let (_, page) = get(&c, &format!("{}/proxy-mobile/subnet-table", s.base)).await;
    assert!(
        page.contains("% Invalid input: &quot;show ip proxy-mobile subnet-table&quot;"),
        "{page}"
    );
    assert!(
        page.contains("<td>10.1.0.1</td><td>255.255.255.0</td><td>-</td><td>-</td>"),
        "{page}"
    );
    post(
        &c,
        &format!("{}/proxy-mobile/subnet-table/refresh", s.base),
        &[("csrf", &csrf)],
    )
    .await;
    let (_, page) = get(&c, &format!("{}/proxy-mobile/subnet-table", s.base)).await;
    assert!(
        page.contains("% Invalid input: &quot;refresh ip proxy-mobile subnet-table&quot;"),
        "{page}"
    );
}

#[tokio::test]
async fn statistics_page_has_counters_and_a_chart() {
    let s = start().await;
    let (c, _) = login(&s, "admin", "letmein").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (st, page) = get(&c, &format!("{}/statistics", s.base)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains(r#"<meta http-equiv="refresh" content="10">"#));
    assert!(
        page.contains("<th>Registrations sent</th><td>2</td>"),
        "{page}"
    );
    assert!(
        page.contains("<svg") && page.contains("series-handoffs"),
        "{page}"
    );
    assert!(page.contains(", mean 30.0 ms"));
    let (st, svg) = get(&c, &format!("{}/statistics/chart.svg", s.base)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(svg.starts_with("<svg"));
}

#[tokio::test]
async fn api_and_metrics_need_a_login_or_basic_auth() {
    let s = start().await;
    let anon = client();
    let r = anon
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let r = anon
        .get(format!("{}/api/proxy-mobile", s.base))
        .basic_auth("viewer", Some("bad"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A privilege-1 user may read.
    let r = anon
        .get(format!("{}/api/proxy-mobile", s.base))
        .basic_auth("viewer", Some("look"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["state"], "enabled");
    let r = anon
        .get(format!("{}/api/mobile/binding", s.base))
        .basic_auth("viewer", Some("look"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CONFLICT,
        "a role the device does not play"
    );
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"].as_str().unwrap().contains("Invalid input"));
    let r = anon
        .get(format!("{}/api/nope", s.base))
        .basic_auth("viewer", Some("look"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = anon
        .get(format!("{}/api", s.base))
        .basic_auth("viewer", Some("look"))
        .send()
        .await
        .unwrap();
    let index: serde_json::Value = r.json().await.unwrap();
    assert_eq!(index["/api/mobile/traffic"], "show ip mobile traffic");
    // The running configuration through the API keeps keys masked.
    let (c, _) = login(&s, "admin", "letmein").await;
    let (st, run) = get(&c, &format!("{}/api/running-config", s.base)).await;
    assert_eq!(st, StatusCode::OK, "a session works too");
    assert!(run.contains("key ascii ********") && !run.contains("topsecret"));
    let r = anon
        .get(format!("{}/metrics", s.base))
        .basic_auth("admin", Some("letmein"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    assert!(
        scrape
            .samples
            .iter()
            .any(|m| m.metric == "pmip_ap_handoff_latency_seconds")
    );
    assert!(
        scrape
            .samples
            .iter()
            .any(|m| m.metric == "pmip_subnet_table_entries")
    );
}

#[tokio::test]
async fn an_unreadable_answer_is_left_out_like_a_refusal() {
    let mut fake = Fake::new(true);
    fake.garbled = vec![
        "show version",
        "show ip proxy-mobile visitor",
        "show ip proxy-mobile subnet-table",
    ];
    let s = start_with(fake).await;
    let (c, _) = login(&s, "admin", "letmein").await;
    let r = c.get(format!("{}/", s.base)).send().await.unwrap();
    assert_eq!(r.headers()["location"], "/statistics", "roles unknown");
    let (st, page) = get(&c, &format!("{}/statistics", s.base)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("<title>Statistics — pmip</title>"), "{page}");
    assert!(
        page.contains("<th>Registrations sent</th><td>2</td>"),
        "{page}"
    );
    assert!(!page.contains(r#"id="ap-visitors""#), "{page}");
    let (st, page) = get(&c, &format!("{}/proxy-mobile/subnet-table", s.base)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        page.contains("% unreadable answer from the device"),
        "{page}"
    );
    assert!(
        page.contains("<td>10.1.0.1</td><td>255.255.255.0</td><td>-</td><td>-</td>"),
        "{page}"
    );
    let (st, text) = get(&c, &format!("{}/metrics", s.base)).await;
    assert_eq!(st, StatusCode::OK);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let has = |name: &str| scrape.samples.iter().any(|m| m.metric == name);
    assert!(has("pmip_ap_registrations_sent_total"), "{text}");
    assert!(!has("pmip_ap_visitors") && !has("pmip_info"), "{text}");
    assert!(text.contains("pmip_up 0\n"), "{text}");
    // /api passes the device's answer through as it is.
    let (st, body) = get(&c, &format!("{}/api/proxy-mobile/visitor", s.base)).await;
    assert_eq!(
        (st, body.as_str()),
        (StatusCode::OK, r#"{"total": "many", "hostname": 7}"#)
    );
}

#[tokio::test]
async fn removing_a_user_ends_their_sessions() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::watch::channel(WebConfig {
        users: users(),
        ..WebConfig::default()
    });
    let task = tokio::spawn(crate::serve_watched(listener, rx, Fake::new(true)));
    let s = Server {
        base,
        fake: Fake::new(true),
        task,
    };
    let (c, _) = login(&s, "viewer", "look").await;
    assert_eq!(
        get(&c, &format!("{}/statistics", s.base)).await.0,
        StatusCode::OK
    );
    tx.send(WebConfig {
        users: users().into_iter().filter(|u| u.name != "viewer").collect(),
        ..WebConfig::default()
    })
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        get(&c, &format!("{}/statistics", s.base)).await.0,
        StatusCode::SEE_OTHER
    );
}

/// A burst of wrong passwords sent in parallel from one address: each
/// attempt counts when it starts, so only the first five are checked and
/// the rest are refused unchecked, even though none has finished (and
/// been delayed) when the others arrive.
#[tokio::test]
async fn a_parallel_burst_of_wrong_logins_gets_five_password_checks() {
    const BURST: usize = 50;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (_keep, rx) = tokio::sync::watch::channel(WebConfig {
        users: users(),
        failed_login_delay: Duration::from_millis(200),
        // Every attempt reaches the login handler.
        max_connections_per_source: 2 * BURST,
        ..WebConfig::default()
    });
    let app = super::App::new(Fake::new(true), rx);
    struct Stop(tokio::task::JoinHandle<()>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let _stop = Stop(tokio::spawn(super::serve_app(listener, app.clone())));
    // Fifty login forms first, each with its own token and cookie,
    // fetched from other loopback addresses (one address holds at most
    // sixteen pending forms).
    let plain = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let mut forms = Vec::new();
    for i in 0..BURST {
        let from = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 2 + (i / 10) as u8]))
            .build()
            .unwrap();
        let (_, page) = get(&from, &format!("{base}/login")).await;
        forms.push(field(&page, "token"));
    }
    let attempts = forms.into_iter().map(|token| {
        let url = format!("{base}/login");
        tokio::spawn(async move {
            // A connection of its own each: all fifty at once.
            let c = reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap();
            c.post(url)
                .header("cookie", format!("pmip_login={token}"))
                .form(&[
                    ("token", token.as_str()),
                    ("username", "admin"),
                    ("password", "guess"),
                ])
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    let mut unauthorized = 0;
    let mut locked = 0;
    for a in attempts.collect::<Vec<_>>() {
        match a.await.unwrap() {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => locked += 1,
            other => panic!("unexpected {other}"),
        }
    }
    let stats = app.counters.snapshot();
    println!(
        "{BURST} parallel wrong logins: {} password checks, {unauthorized} refused after a check, {locked} locked out unchecked",
        stats.password_checks
    );
    assert!(stats.password_checks <= 5, "{stats:?}");
    assert_eq!(unauthorized, stats.password_checks as usize);
    assert_eq!(locked, BURST - unauthorized);
    assert_eq!(stats.logins_locked_out, locked as u64);
    // Basic authentication from that address is locked out too, unchecked.
    let r = plain
        .get(format!("{base}/metrics"))
        .basic_auth("admin", Some("letmein"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        app.counters.snapshot().password_checks,
        stats.password_checks
    );
}

#[tokio::test]
async fn an_oversized_body_is_refused_unread() {
    let s = start().await;
    let r = client()
        .post(format!("{}/login", s.base))
        .body(vec![b'a'; 100 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
