//! The HTTP routes: state shared by the handlers, access checks, and the
//! handlers themselves. Handlers never hold a lock across an `.await`.

use crate::auth::{self, Auth, Flash, LOGIN_COOKIE, SESSION_COOKIE, Session};
use crate::forms::{self, Form, SaRow};
use crate::metrics::{self, Snapshot};
use crate::pages::{self, Ctx};
use crate::server::{self, Accept, Counters};
use crate::stats::{History, Sample, chart_svg};
use crate::{Device, WebConfig};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;
use pmip_config::{Config, Username};
use pmip_node::snapshot::{ProxySecure, ProxyStatus, ProxyVisitors, SubnetTable, Version};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{Semaphore, watch};

/// The `/api/NAME` endpoints and the EXEC command each runs (JSON form).
pub const API: &[(&str, &str)] = &[
    ("version", "show version"),
    ("running-config", "show running-config"),
    ("proxy-mobile", "show ip proxy-mobile"),
    ("proxy-mobile/visitor", "show ip proxy-mobile visitor"),
    ("proxy-mobile/secure", "show ip proxy-mobile secure"),
    (
        "proxy-mobile/subnet-table",
        "show ip proxy-mobile subnet-table",
    ),
    ("mobile/binding", "show ip mobile binding"),
    ("mobile/visitor", "show ip mobile visitor"),
    ("mobile/traffic", "show ip mobile traffic"),
    ("mobile/secure", "show ip mobile secure"),
];

pub(crate) struct App<D> {
    device: D,
    config: watch::Receiver<WebConfig>,
    auth: Mutex<Auth>,
    history: Mutex<History>,
    /// Password checks running at once: a `secret` costs one scrypt
    /// (16 MiB), so a login flood must not run many in parallel.
    verify_slots: Semaphore,
    /// The server's counters, for /metrics.
    counters: Arc<Counters>,
}

type Shared<D> = Arc<App<D>>;

/// The largest request body read (the forms are a few hundred bytes):
/// with the connection limit, this bounds what requests can hold.
const MAX_BODY: usize = 64 * 1024;

impl<D: Device> App<D> {
    pub(crate) fn new(device: D, config: watch::Receiver<WebConfig>) -> Shared<D> {
        let history = History::new(config.borrow().history);
        Arc::new(App {
            device,
            config,
            auth: Mutex::new(Auth::default()),
            history: Mutex::new(history),
            verify_slots: Semaphore::new(2),
            counters: Arc::default(),
        })
    }
}

pub(crate) async fn run<D: Device>(
    listener: impl Accept,
    config: watch::Receiver<WebConfig>,
    device: D,
) -> io::Result<()> {
    serve_app(listener, App::new(device, config)).await;
    Ok(())
}

/// Serves `app` on `listener`; the sampler and the configuration watcher
/// live exactly as long as the server.
pub(crate) async fn serve_app<D: Device>(listener: impl Accept, app: Shared<D>) {
    let server = server::serve(
        listener,
        router(app.clone()),
        app.config.clone(),
        app.counters.clone(),
    );
    tokio::select! {
        () = server => {}
        () = sample(app.clone()) => {}
        () = follow_config(app) => std::future::pending().await,
    }
}

pub(crate) fn router<D: Device>(app: Shared<D>) -> Router {
    Router::new()
        .route("/", get(root::<D>))
        .route("/login", get(login_form::<D>).post(login::<D>))
        .route("/logout", post(logout::<D>))
        .route(
            "/services/proxy-mobile",
            get(services::<D>).post(services_post::<D>),
        )
        .route("/security/sa-binding", get(sa_binding::<D>))
        .route("/security/sa-binding/add", post(sa_add::<D>))
        .route("/security/sa-binding/delete", post(sa_delete::<D>))
        .route("/proxy-mobile/subnet-table", get(subnet_table::<D>))
        .route(
            "/proxy-mobile/subnet-table/refresh",
            post(subnet_refresh::<D>),
        )
        .route("/statistics", get(statistics::<D>))
        .route("/statistics/chart.svg", get(chart::<D>))
        .route("/running-config", get(running_config::<D>))
        .route("/running-config/save", post(save_config::<D>))
        .route("/api", get(api_index::<D>))
        .route("/api/{*name}", get(api::<D>))
        .route("/metrics", get(metrics_page::<D>))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// Samples the counters for the chart every `sample_interval`.
async fn sample<D: Device>(app: Shared<D>) {
    loop {
        let proxy: Option<ProxyStatus> = app.view(&["show", "ip", "proxy-mobile"]).await.ok();
        let traffic = app.view(&["show", "ip", "mobile", "traffic"]).await.ok();
        if let Some(s) = Sample::from_views(proxy.as_ref(), traffic.as_ref()) {
            app.history.lock().unwrap().push(s);
        }
        let every = app.config.borrow().sample_interval;
        tokio::time::sleep(every).await;
    }
}

/// Ends the sessions of users a new configuration removed.
async fn follow_config<D: Device>(app: Shared<D>) {
    let mut rx = app.config.clone();
    while rx.changed().await.is_ok() {
        let users = rx.borrow_and_update().users.clone();
        app.auth.lock().unwrap().retain_users(&users);
    }
}

impl<D: Device> App<D> {
    async fn exec(&self, words: &[&str], json: bool) -> Result<String, String> {
        self.device
            .exec(words.iter().map(|w| w.to_string()).collect(), json)
            .await
    }

    /// A show command's JSON answer, parsed into its view.
    async fn view<T: DeserializeOwned>(&self, words: &[&str]) -> Result<T, String> {
        let text = self.exec(words, true).await?;
        parse_view(words, &text)
    }

    /// `configure L1; L2; ...` as `pmip exec configure` runs it.
    async fn configure(&self, lines: &[String]) -> Result<(), String> {
        let mut words = vec!["configure".to_string()];
        words.push(lines.join("; "));
        self.device.exec(words, false).await.map(drop)
    }

    async fn hostname(&self) -> String {
        let configured = self.config.borrow().hostname.clone();
        if let Some(h) = configured {
            return h;
        }
        self.view::<Version>(&["show", "version"])
            .await
            .map(|v| v.hostname)
            .unwrap_or_else(|_| "pmip".into())
    }

    /// The running configuration (keys masked), parsed. Masked key lines
    /// are refused by the parser and skipped: the SA list comes from
    /// `show ip proxy-mobile secure` instead.
    async fn running(&self) -> Result<Config, String> {
        let v: RunningConfig = self.view(&["show", "running-config"]).await?;
        let text = v
            .running_config
            .ok_or("% no running_config in the answer")?;
        Ok(Config::parse_all(&text).0)
    }

    fn user(&self, name: &str) -> Option<Username> {
        self.config
            .borrow()
            .users
            .iter()
            .find(|u| u.name == name)
            .cloned()
    }

    /// Checks a password, at most two at once, in a blocking thread (a
    /// `secret` is an scrypt). Unknown users cost the same as known ones.
    async fn verify(&self, name: &str, password: &str) -> Option<Username> {
        let _slot = self.verify_slots.acquire().await.ok()?;
        self.counters.password_checks.fetch_add(1, Relaxed);
        let user = self.user(name);
        let password = password.to_string();
        tokio::task::spawn_blocking(move || {
            let decoy = Username {
                name: String::new(),
                privilege: None,
                credential: pmip_config::Credential::Secret(
                    "$9$2MJBozw/9R3UsU$2lFhcKvpghcyw8deP25GOfyZaagyUOGBymkryvOdfo6".into(),
                ),
            };
            match user {
                Some(u) if u.verify(&password) => Some(u),
                Some(_) => None,
                None => {
                    let _ = decoy.verify(&password);
                    None
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    /// The session named by the request's cookie.
    fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = cookie(headers, SESSION_COOKIE)?;
        let idle = self.config.borrow().session_idle;
        let mut auth = self.auth.lock().unwrap();
        let s = auth.session(&id, Instant::now(), idle)?.clone();
        Some((id, s))
    }

    fn set_flash(&self, id: &str, ok: bool, text: String) {
        let idle = self.config.borrow().session_idle;
        if let Some(s) = self.auth.lock().unwrap().session(id, Instant::now(), idle) {
            s.flash = Some(Flash { ok, text });
        }
    }

    fn take_flash(&self, id: &str) -> Option<Flash> {
        let idle = self.config.borrow().session_idle;
        self.auth
            .lock()
            .unwrap()
            .session(id, Instant::now(), idle)
            .and_then(|s| s.flash.take())
    }

    async fn ctx(&self, id: &str, s: &Session, nav: &'static str) -> Ctx {
        Ctx {
            hostname: self.hostname().await,
            user: s.user.clone(),
            csrf: s.csrf.clone(),
            can_configure: s.can_configure,
            flash: self.take_flash(id),
            refresh: None,
            nav,
        }
    }
}

/// A show command's JSON answer as its view. An answer that does not
/// parse is treated like a refusal (the page or metrics leave its section
/// out) and logged at debug.
fn parse_view<T: DeserializeOwned>(words: &[&str], text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| {
        tracing::debug!(command = %words.join(" "), error = %e, "unreadable show answer");
        format!("% unreadable answer from the device: {e}")
    })
}

/// `show running-config` in JSON.
#[derive(Deserialize)]
struct RunningConfig {
    #[serde(default)]
    running_config: Option<String>,
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| auth::cookie(h, name).map(str::to_owned))
}

/// Security headers on every HTML page: no framing, no sniffing, no
/// scripts at all (the pages have none), no caching of what they show.
fn html(status: StatusCode, markup: Markup) -> Response {
    let mut r = (status, Html(markup.into_string())).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn forbidden(text: &str) -> Response {
    html(StatusCode::FORBIDDEN, pages::refusal("Forbidden", text))
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A POST's common checks: a live session, the right CSRF token, and a
/// user who may configure. Anything else is 403 and changes nothing.
fn check_post<D: Device>(
    app: &App<D>,
    headers: &HeaderMap,
    form: &Form,
) -> Result<(String, Session), Box<Response>> {
    let Some((id, s)) = app.session(headers) else {
        return Err(Box::new(forbidden("No session: log in first.")));
    };
    match form.get("csrf") {
        Some(t) if auth::same(t, &s.csrf) => {}
        _ => {
            return Err(Box::new(forbidden(
                "The form's security token is missing or wrong; reload the page and try again.",
            )));
        }
    }
    if !s.can_configure {
        return Err(Box::new(forbidden(
            "This user may not change the configuration (privilege below 15).",
        )));
    }
    Ok((id, s))
}

async fn root<D: Device>(State(app): State<Shared<D>>, headers: HeaderMap) -> Response {
    if app.session(&headers).is_none() {
        return see_other("/login");
    }
    let version = app.view::<Version>(&["show", "version"]).await.ok();
    let ap = version.is_some_and(|v| v.roles.iter().any(|r| r.contains("access point")));
    see_other(if ap {
        "/services/proxy-mobile"
    } else {
        "/statistics"
    })
}

fn login_page(
    token: &str,
    hostname: &str,
    error: Option<&str>,
    no_users: bool,
    status: StatusCode,
) -> Response {
    let mut r = html(status, pages::login(hostname, token, error, no_users));
    let c = format!("{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; SameSite=Strict");
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn login_form<D: Device>(
    State(app): State<Shared<D>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if app.session(&headers).is_some() {
        return see_other("/");
    }
    let token = app
        .auth
        .lock()
        .unwrap()
        .new_login_token(peer.ip(), Instant::now());
    let no_users = app.config.borrow().users.is_empty();
    login_page(
        &token,
        &app.hostname().await,
        None,
        no_users,
        StatusCode::OK,
    )
}

async fn login<D: Device>(
    State(app): State<Shared<D>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let ip = peer.ip();
    let cookie_token = cookie(&headers, LOGIN_COOKIE);
    if !app
        .auth
        .lock()
        .unwrap()
        .take_login_token(cookie_token.as_deref(), form.get("token"))
    {
        return forbidden("The login form expired or was not ours; open the login page again.");
    }
    let hostname = app.hostname().await;
    let again = |error: &str, status| {
        let token = app.auth.lock().unwrap().new_login_token(ip, Instant::now());
        let no_users = app.config.borrow().users.is_empty();
        login_page(&token, &hostname, Some(error), no_users, status)
    };
    // Counted before the password is checked. Not `if let` on the guard:
    // `again` takes the lock too.
    let attempt = app.auth.lock().unwrap().begin_attempt(ip, Instant::now());
    if let Err(wait) = attempt {
        app.counters.logins_locked_out.fetch_add(1, Relaxed);
        return again(
            &format!("Too many failed logins from {ip}; try again in {wait} s."),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    match app
        .verify(form.text("username"), form.text("password"))
        .await
    {
        Some(user) => {
            let id = {
                let mut a = app.auth.lock().unwrap();
                a.succeeded(ip);
                a.login(&user, Instant::now())
            };
            tracing::info!(user = %user.name, %ip, "web login");
            let mut r = see_other("/");
            let c = format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict");
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        None => {
            tracing::warn!(%ip, "web login failed");
            let delay = app.config.borrow().failed_login_delay;
            tokio::time::sleep(delay).await;
            again("Wrong user name or password.", StatusCode::UNAUTHORIZED)
        }
    }
}

async fn logout<D: Device>(
    State(app): State<Shared<D>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let Some((id, s)) = app.session(&headers) else {
        return forbidden("No session: log in first.");
    };
    if !form.get("csrf").is_some_and(|t| auth::same(t, &s.csrf)) {
        return forbidden("The form's security token is missing or wrong.");
    }
    app.auth.lock().unwrap().logout(&id);
    let mut r = see_other("/login");
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("pmip_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// The logged-in session for a page, or a redirect to the login page.
macro_rules! session_or_login {
    ($app:expr, $headers:expr) => {
        match $app.session(&$headers) {
            Some(s) => s,
            None => return see_other("/login"),
        }
    };
}

async fn services<D: Device>(State(app): State<Shared<D>>, headers: HeaderMap) -> Response {
    let (id, s) = session_or_login!(app, headers);
    let ctx = app.ctx(&id, &s, "services").await;
    render_services(&app, ctx, StatusCode::OK).await
}

async fn render_services<D: Device>(app: &App<D>, ctx: Ctx, status: StatusCode) -> Response {
    let config = match app.running().await {
        Ok(c) => c,
        Err(e) => {
            return html(
                StatusCode::BAD_GATEWAY,
                pages::layout("Proxy Mobile IP", &ctx, pages::device_error(&e)),
            );
        }
    };
    let st = app
        .view::<ProxyStatus>(&["show", "ip", "proxy-mobile"])
        .await;
    let body = pages::services(&ctx, &config, st.as_ref().map_err(String::as_str));
    html(status, pages::layout("Proxy Mobile IP", &ctx, body))
}

async fn services_post<D: Device>(
    State(app): State<Shared<D>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let (id, _) = match check_post(&app, &headers, &form) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let lines: Vec<String> = match form.text("action") {
        "enable" => vec!["ip proxy-mobile enable".into()],
        "disable" => vec!["no ip proxy-mobile enable".into()],
        "pause" => vec!["ip proxy-mobile pause".into()],
        "resume" => vec!["no ip proxy-mobile pause".into()],
        "apply" => {
            let current = match app.running().await {
                Ok(c) => c,
                Err(e) => {
                    app.set_flash(&id, false, e);
                    return see_other("/services/proxy-mobile");
                }
            };
            match forms::services_apply(&form, &current) {
                Ok(l) => l,
                Err(e) => {
                    // A bad value: say which field, change nothing.
                    app.set_flash(&id, false, e.to_string());
                    return see_other("/services/proxy-mobile");
                }
            }
        }
        other => {
            app.set_flash(&id, false, format!("Unknown action \"{other}\"."));
            return see_other("/services/proxy-mobile");
        }
    };
    if lines.is_empty() {
        app.set_flash(&id, true, "Nothing to change.".into());
    } else {
        apply(&app, &id, &lines).await;
    }
    see_other("/services/proxy-mobile")
}

/// Runs `configure` and leaves the outcome for the next page: the lines
/// applied, or the device's refusal verbatim (keys masked).
async fn apply<D: Device>(app: &App<D>, id: &str, lines: &[String]) -> bool {
    match app.configure(lines).await {
        Ok(()) => {
            let shown: Vec<String> = lines.iter().map(|l| forms::redact_keys(l)).collect();
            app.set_flash(id, true, format!("Configured: {}", shown.join("; ")));
            true
        }
        Err(e) => {
            app.set_flash(id, false, forms::redact_keys(&e));
            false
        }
    }
}

async fn sa_rows<D: Device>(app: &App<D>) -> Result<Vec<SaRow>, String> {
    let v: ProxySecure = app.view(&["show", "ip", "proxy-mobile", "secure"]).await?;
    Ok(v.sa_bindings
        .into_iter()
        .map(|r| SaRow {
            start: r.start,
            end: r.end,
            spi: r.spi,
            algorithm: r.algorithm.unwrap_or_default(),
        })
        .collect())
}

fn algorithm_label(a: &str) -> String {
    match a {
        "KeyedMd5PrefixSuffix" => "MD5 prefix+suffix".into(),
        "HmacMd5" => "HMAC-MD5".into(),
        other => other.into(),
    }
}

async fn render_sa<D: Device>(
    app: &App<D>,
    ctx: Ctx,
    echo: Option<&Form>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (rows, notice) = match sa_rows(app).await {
        Ok(r) => (r, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let views: Vec<pages::SaView> = rows
        .iter()
        .map(|r| pages::SaView {
            start: r.start.to_string(),
            end: r.end.to_string(),
            spi: r.spi.clone(),
            algorithm: algorithm_label(&r.algorithm),
        })
        .collect();
    let error = error.map(str::to_owned).or(notice);
    let body = pages::sa_binding(&ctx, &views, echo, error.as_deref());
    html(status, pages::layout("SA Binding", &ctx, body))
}

async fn sa_binding<D: Device>(State(app): State<Shared<D>>, headers: HeaderMap) -> Response {
    let (id, s) = session_or_login!(app, headers);
    let ctx = app.ctx(&id, &s, "sa").await;
    render_sa(&app, ctx, None, None, StatusCode::OK).await
}

async fn sa_add<D: Device>(
    State(app): State<Shared<D>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let (id, s) = match check_post(&app, &headers, &form) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let existing = sa_rows(&app).await.unwrap_or_default();
    match forms::sa_add(&form, &existing) {
        Ok(line) => {
            if apply(&app, &id, &[line]).await {
                return see_other("/security/sa-binding");
            }
            // Refused by the device: keep what was typed (not the key).
            let ctx = app.ctx(&id, &s, "sa").await;
            let msg = ctx.flash.as_ref().map(|f| f.text.clone());
            let ctx = Ctx { flash: None, ..ctx };
            render_sa(
                &app,
                ctx,
                Some(&form),
                msg.as_deref(),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(e) => {
            let ctx = app.ctx(&id, &s, "sa").await;
            render_sa(
                &app,
                ctx,
                Some(&form),
                Some(&e.to_string()),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

async fn sa_delete<D: Device>(
    State(app): State<Shared<D>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let (id, _) = match check_post(&app, &headers, &form) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    match forms::sa_delete(&form) {
        Ok(line) => {
            apply(&app, &id, &[line]).await;
        }
        Err(e) => app.set_flash(&id, false, e.to_string()),
    }
    see_other("/security/sa-binding")
}

fn age(secs: Option<u64>) -> String {
    match secs {
        None => "-".into(),
        Some(s) => format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60),
    }
}

async fn subnet_table<D: Device>(State(app): State<Shared<D>>, headers: HeaderMap) -> Response {
    let (id, s) = session_or_login!(app, headers);
    let ctx = app.ctx(&id, &s, "subnet").await;
    let (rows, notice, summary) = match app
        .view::<SubnetTable>(&["show", "ip", "proxy-mobile", "subnet-table"])
        .await
    {
        Ok(t) => {
            let rows: Vec<pages::SubnetRow> = t
                .entries
                .iter()
                .map(|e| pages::SubnetRow {
                    home_agent: e.home_agent.to_string(),
                    mask: e.mask.to_string(),
                    source: e.source.clone(),
                    age: age(e.age_seconds),
                })
                .collect();
            let mut summary = match t.exchange.as_str() {
                "off" => "Subnet map exchange: off".to_string(),
                role => format!("Subnet map exchange: this device is an {role}"),
            };
            if let Some(r) = &t.off_reason {
                summary.push_str(&format!(" ({r})"));
            }
            if let Some(a) = t.current_aap {
                summary.push_str(&format!("; current AAP {a}"));
            }
            (rows, None, Some(summary))
        }
        Err(e) => {
            // Older devices lack the command: show the map in use.
            let rows: Vec<pages::SubnetRow> = app
                .view::<ProxyStatus>(&["show", "ip", "proxy-mobile"])
                .await
                .map(|p| {
                    p.subnet_map
                        .iter()
                        .map(|e| pages::SubnetRow {
                            home_agent: e.home_agent.to_string(),
                            mask: e.mask.to_string(),
                            source: "-".into(),
                            age: "-".into(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            (
                rows,
                Some(format!(
                    "show ip proxy-mobile subnet-table: {e} — showing the subnet map in use instead."
                )),
                None,
            )
        }
    };
    let body = pages::subnet_table(&ctx, &rows, notice.as_deref(), summary.as_deref());
    html(StatusCode::OK, pages::layout("Subnet Table", &ctx, body))
}

async fn subnet_refresh<D: Device>(
    State(app): State<Shared<D>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let words = ["refresh", "ip", "proxy-mobile", "subnet-table"];
    let shown = |text: &str| text.to_string();
    if let Some(refused) = run_button(&app, &headers, &body, &words, "Refreshed.", shown).await {
        return refused;
    }
    see_other("/proxy-mobile/subnet-table")
}

/// A button that runs one EXEC command (its form's CSRF token and the
/// user's privilege checked) and flashes the device's answer (`shown`
/// picks what of it), or `quiet` when it answered nothing; the refusal
/// when the form may not run it.
async fn run_button<D: Device>(
    app: &App<D>,
    headers: &HeaderMap,
    body: &Bytes,
    words: &[&str],
    quiet: &str,
    shown: impl Fn(&str) -> String,
) -> Option<Response> {
    let form = Form::parse(body);
    let (id, _) = match check_post(app, headers, &form) {
        Ok(x) => x,
        Err(r) => return Some(*r),
    };
    match app.exec(words, false).await {
        Ok(out) => {
            let text = out.trim();
            let flash = if text.is_empty() {
                quiet.to_string()
            } else {
                shown(text)
            };
            app.set_flash(&id, true, flash);
        }
        Err(e) => app.set_flash(&id, false, e),
    }
    None
}

fn chart_of<D: Device>(app: &App<D>) -> String {
    let interval = app.config.borrow().sample_interval;
    chart_svg(&app.history.lock().unwrap(), interval)
}

async fn statistics<D: Device>(State(app): State<Shared<D>>, headers: HeaderMap) -> Response {
    let (id, s) = session_or_login!(app, headers);
    let mut ctx = app.ctx(&id, &s, "stats").await;
    ctx.refresh = Some(10);
    let proxy: Option<ProxyStatus> = app.view(&["show", "ip", "proxy-mobile"]).await.ok();
    let proxy_visitors: Option<ProxyVisitors> = app
        .view(&["show", "ip", "proxy-mobile", "visitor"])
        .await
        .ok();
    let traffic = app.view(&["show", "ip", "mobile", "traffic"]).await.ok();
    let bindings = app.view(&["show", "ip", "mobile", "binding"]).await.ok();
    let visitors = app.view(&["show", "ip", "mobile", "visitor"]).await.ok();
    let view = pages::StatsView {
        proxy: proxy.as_ref(),
        proxy_visitors: proxy_visitors.as_ref(),
        traffic: traffic.as_ref(),
        bindings: bindings.as_ref(),
        visitors: visitors.as_ref(),
        chart: chart_of(&app),
        interval_secs: app.config.borrow().sample_interval.as_secs(),
    };
    html(
        StatusCode::OK,
        pages::layout("Statistics", &ctx, pages::statistics(&view)),
    )
}

async fn chart<D: Device>(State(app): State<Shared<D>>, headers: HeaderMap) -> Response {
    if app.session(&headers).is_none() {
        return forbidden("No session: log in first.");
    }
    ([(header::CONTENT_TYPE, "image/svg+xml")], chart_of(&app)).into_response()
}

async fn running_config<D: Device>(State(app): State<Shared<D>>, headers: HeaderMap) -> Response {
    let (id, s) = session_or_login!(app, headers);
    let ctx = app.ctx(&id, &s, "config").await;
    let text = match app.view::<RunningConfig>(&["show", "running-config"]).await {
        Ok(v) => v.running_config.unwrap_or_default(),
        Err(e) => e,
    };
    html(
        StatusCode::OK,
        pages::layout(
            "Running configuration",
            &ctx,
            pages::running_config(&ctx, &text),
        ),
    )
}

/// The Save button: `write memory`. A save that cannot be written says
/// why and leaves the previous file as it was.
async fn save_config<D: Device>(
    State(app): State<Shared<D>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // `write memory` answers "Building configuration..." then the verdict.
    let shown = |text: &str| text.lines().last().unwrap_or(text).to_string();
    let words = ["write", "memory"];
    if let Some(refused) = run_button(&app, &headers, &body, &words, "Saved.", shown).await {
        return refused;
    }
    see_other("/running-config")
}

/// `/api` and `/metrics`: a session, or HTTP basic authentication with
/// the same users (failures count toward the same lockout).
async fn api_allowed<D: Device>(
    app: &App<D>,
    headers: &HeaderMap,
    ip: IpAddr,
) -> Result<(), Box<Response>> {
    if app.session(headers).is_some() {
        return Ok(());
    }
    let unauthorized = |text: &str| {
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"pmip\", charset=\"UTF-8\"",
            )],
            text.to_string(),
        )
            .into_response()
            .into()
    };
    let Some((user, password)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::basic_credentials)
    else {
        return Err(unauthorized("log in, or use HTTP basic authentication\n"));
    };
    let attempt = app.auth.lock().unwrap().begin_attempt(ip, Instant::now());
    if let Err(wait) = attempt {
        app.counters.logins_locked_out.fetch_add(1, Relaxed);
        return Err((
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed logins; try again in {wait} s\n"),
        )
            .into_response()
            .into());
    }
    if app.verify(&user, &password).await.is_some() {
        app.auth.lock().unwrap().succeeded(ip);
        return Ok(());
    }
    let delay = app.config.borrow().failed_login_delay;
    tokio::time::sleep(delay).await;
    Err(unauthorized("wrong user name or password\n"))
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn api_index<D: Device>(
    State(app): State<Shared<D>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = api_allowed(&app, &headers, peer.ip()).await {
        return *r;
    }
    let list: BTreeMap<String, &str> = API.iter().map(|(n, c)| (format!("/api/{n}"), *c)).collect();
    json_response(
        StatusCode::OK,
        serde_json::to_string(&list).unwrap_or_default(),
    )
}

async fn api<D: Device>(
    State(app): State<Shared<D>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = api_allowed(&app, &headers, peer.ip()).await {
        return *r;
    }
    let Some((_, command)) = API.iter().find(|(n, _)| *n == name) else {
        return json_response(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": format!("no /api/{name}; see /api")}).to_string(),
        );
    };
    let words: Vec<&str> = command.split(' ').collect();
    match app.exec(&words, true).await {
        Ok(out) => json_response(StatusCode::OK, out),
        // The device refused (a role it does not play, an old daemon).
        Err(e) => json_response(
            StatusCode::CONFLICT,
            serde_json::json!({"error": e}).to_string(),
        ),
    }
}

async fn metrics_page<D: Device>(
    State(app): State<Shared<D>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = api_allowed(&app, &headers, peer.ip()).await {
        return *r;
    }
    let [
        version,
        binding,
        visitor,
        traffic,
        proxy,
        proxy_visitor,
        subnet_table,
    ] = metrics::COMMANDS;
    let snap = Snapshot {
        version: app.view(version).await.ok(),
        binding: app.view(binding).await.ok(),
        visitor: app.view(visitor).await.ok(),
        traffic: app.view(traffic).await.ok(),
        proxy: app.view(proxy).await.ok(),
        proxy_visitor: app.view(proxy_visitor).await.ok(),
        subnet_table: app.view(subnet_table).await.ok(),
        web: Some(app.counters.snapshot()),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(&snap),
    )
        .into_response()
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
