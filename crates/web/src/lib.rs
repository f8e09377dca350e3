//! The device's web pages and monitoring endpoints.
//!
//! One HTTP server per device, started by the daemon when `ip http server`
//! is configured. It knows nothing of the daemon's insides: it runs EXEC
//! commands through a [`Device`] handle exactly as `pmip exec` does, reads
//! state from the JSON forms of the show commands (parsed into
//! `pmip_node::snapshot`'s typed views), and makes every change with
//! `configure LINE[; LINE]`, so a change made on a page shows in `show
//! running-config` like any other.
//!
//! * Pages (server-rendered HTML, no JavaScript): `/login`,
//!   `/services/proxy-mobile`, `/security/sa-binding`,
//!   `/proxy-mobile/subnet-table`, `/statistics`, `/running-config`.
//!   Log in with a `username` line (`ip http authentication local`). The
//!   session cookie is `HttpOnly; SameSite=Strict`; every form carries the
//!   session's CSRF token and every POST checks it (403 and no change
//!   otherwise). Failed logins wait a second and five of them lock the
//!   client address out for a minute. Users below privilege 15 see the
//!   pages read-only.
//! * `/api/...`: the show commands' JSON (see [`API`]), for scripts.
//! * `/metrics`: Prometheus text format ([`metrics`]).
//!
//! * Connections: at most 32 per client address and 1024 in all (the
//!   daemon lowers the total when its descriptor limit is small); a
//!   request's head must arrive within 10 s, and a read or write that
//!   makes no progress for 30 s ends its connection ([`server`] says
//!   how). Refusals are counted in `/metrics` and logged once per burst.
//!
//! `/api` and `/metrics` accept the session cookie or HTTP basic
//! authentication with the same users (a Prometheus scrape job uses
//! `basic_auth`; a privilege-1 user is enough). Both need authentication:
//! counters reveal who roams where. Without TLS, basic authentication and
//! the login form cross the network in clear: keep the port on a
//! management network.

mod app;
pub mod auth;
mod device;
pub mod forms;
pub mod metrics;
pub mod pages;
pub mod server;
pub mod stats;

pub use app::API;
pub use device::{ChannelDevice, ControlSocketDevice, Device, ExecRequest};
pub use server::{WebStats, bind};

use pmip_config::{Config, Username};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What the web server needs from the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct WebConfig {
    /// Who may log in (their passwords are checked with
    /// [`Username::verify`]); empty without `ip http authentication local`.
    pub users: Vec<Username>,
    /// How often the Statistics page's counters are sampled.
    pub sample_interval: Duration,
    /// How many samples the chart keeps.
    pub history: usize,
    /// A session unused this long is logged out.
    pub session_idle: Duration,
    /// How long a failed login waits before its answer.
    pub failed_login_delay: Duration,
    /// The device's host name for the login page (`None`: asked of the
    /// device with `show version`). Taken from the configuration, so an
    /// unauthenticated page costs the device nothing.
    pub hostname: Option<String>,
    /// A request's head must be complete this long after the server
    /// starts waiting for it (a new connection, or a kept-alive one after
    /// its last answer), so this is also how long an idle kept-alive
    /// connection stays open.
    pub header_timeout: Duration,
    /// A read or write that makes no progress for this long ends the
    /// connection (a body that stops coming, an answer nobody reads).
    pub idle_timeout: Duration,
    /// Connections open at once, in all. When it is reached, a client
    /// address holding fewer connections than the busiest one takes the
    /// busiest one's oldest connection; any other newcomer is refused.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_source: usize,
}

/// Connections open at once, in all, by default.
pub const MAX_CONNECTIONS: usize = 1024;
/// Connections open at once from one client address, by default: a few
/// browsers behind one NAT open six or so each.
pub const MAX_CONNECTIONS_PER_SOURCE: usize = 32;

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            users: Vec::new(),
            sample_interval: Duration::from_secs(5),
            history: 121,
            session_idle: Duration::from_secs(30 * 60),
            failed_login_delay: Duration::from_secs(1),
            hostname: None,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: MAX_CONNECTIONS,
            max_connections_per_source: MAX_CONNECTIONS_PER_SOURCE,
        }
    }
}

impl WebConfig {
    /// The users of a device configuration: its `username` lines when it
    /// has `ip http authentication local`, nobody otherwise.
    pub fn from_config(config: &Config) -> WebConfig {
        WebConfig {
            users: if config.http.authentication_local {
                config.usernames.clone()
            } else {
                Vec::new()
            },
            // As `show version` names a device without `hostname`.
            hostname: Some(config.hostname.clone().unwrap_or_else(|| "Router".into())),
            ..WebConfig::default()
        }
    }
}

/// Where the server should listen for `config`: every address on `ip
/// http port` (default 80), or `None` without `ip http server`.
pub fn listen_addr(config: &Config) -> Option<SocketAddr> {
    config
        .http
        .server
        .then(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, config.http.port())))
}

/// Serves the pages, `/api` and `/metrics` on `listener` until the future
/// is dropped; dropping it closes every connection too. Accept errors
/// never end it.
pub async fn serve<D: Device>(
    listener: TcpListener,
    config: WebConfig,
    device: D,
) -> io::Result<()> {
    let (_keep, rx) = watch::channel(config);
    serve_watched(listener, rx, device).await
}

/// [`serve`] with a configuration that can change while it runs (the
/// daemon sends a new [`WebConfig`] after `configure` touched `username`
/// or `ip http` lines); sessions of removed users end at once.
pub async fn serve_watched<D: Device>(
    listener: TcpListener,
    config: watch::Receiver<WebConfig>,
    device: D,
) -> io::Result<()> {
    app::run(listener, config, device).await
}
