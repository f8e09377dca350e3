//! `pmip run`: one device process. Reads the configuration, applies it to
//! the namespace's interfaces, runs the roles it enables, serves the
//! control socket, and removes everything it installed on exit.

use crate::control::{self, ControlSocket, Request, Response};
use crate::foreign_agent::{self as fa_glue, VisitorInstaller};
use crate::home_agent::{self, BindingInstaller};
use crate::interfaces;
use crate::proxy_ap::{ApEvent, ApRuntime};
use crate::show;
use crate::udp::{Datagram, PORT, Port434};
use pmip_config::{Config, Mode};
use pmip_engine::foreign_agent::{self as fa, ForeignAgent, FromVisitor};
use pmip_engine::home_agent::{Action, HomeAgent};
use pmip_engine::time::{Instant, Now};
use pmip_platform::dataplane::DataPlane;
use pmip_platform::netlink::Netlink;
use pmip_platform::packet::PacketSocket;
use pmip_platform::tun::Tun;
use pmip_platform::visited_link::{LinkPacket, VisitedLink};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{path}: {source}")]
    ReadConfig {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Config {
        path: String,
        source: pmip_config::ConfigError,
    },
    #[error("{0}")]
    Apply(#[from] interfaces::ApplyError),
    #[error("netlink: {0}")]
    Netlink(#[from] pmip_platform::netlink::NetlinkError),
    #[error("control socket {path}: {source}")]
    Control {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The engines' clocks: monotonic time since the daemon started, and the
/// time of day for Mobile IP identification timestamps.
#[derive(Clone, Copy)]
pub struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            origin: std::time::Instant::now(),
        }
    }
    pub fn now(&self) -> Now {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Now::new(Instant::from_duration(self.origin.elapsed()), unix)
    }
    pub fn at(&self, t: Instant) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.origin + t.since_origin())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// What the mobility roles share: the TUN device and its data plane, the
/// packet socket, and the port 434 sockets.
pub struct Shared {
    dataplane: DataPlane,
    arp: Arc<PacketSocket>,
    port: Port434,
    tun_index: u32,
    dataplane_task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.dataplane_task.abort();
    }
}

/// The home agent role while it runs.
pub struct HaRuntime {
    pub engine: HomeAgent,
    /// Binding changes go to the installer task in order; the engine
    /// loop answers the next registration meanwhile.
    installs: mpsc::UnboundedSender<(Action, Option<tokio::sync::oneshot::Sender<()>>)>,
    installer_task: tokio::task::JoinHandle<()>,
    /// The RADIUS client for `ip mobile host ... aaa` (issue 9).
    pub radius: Option<pmip_radius::RadiusHandle>,
    /// Why there is none although hosts ask for AAA.
    pub radius_off: Option<String>,
    /// Associations fetched from RADIUS: SPI, server, when.
    pub aaa_sas: HashMap<Ipv4Addr, (u32, std::net::SocketAddrV4, std::time::Instant)>,
    events: mpsc::Sender<Event>,
}

impl Drop for HaRuntime {
    fn drop(&mut self) {
        self.installer_task.abort();
    }
}

/// The foreign agent role while it runs.
pub struct FaRuntime {
    pub engine: ForeignAgent,
    installer: VisitorInstaller,
    link_tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Link-layer addresses of hosts that solicited, to answer them.
    solicitors: HashMap<Ipv4Addr, [u8; 6]>,
}

impl Drop for FaRuntime {
    fn drop(&mut self) {
        for t in &self.link_tasks {
            t.abort();
        }
    }
}

/// What arrives for the engines.
pub enum Event {
    Udp(Datagram),
    /// The RADIUS server's answer for a home agent's `FetchSa`.
    SaResult {
        home: Ipv4Addr,
        result: Result<
            (
                pmip_engine::security::SecurityAssociation,
                std::net::SocketAddrV4,
            ),
            String,
        >,
    },
    Exchange(crate::subnet_exchange::ExchangeEvent),
    Ap(ApEvent),
    Link {
        interface: String,
        packet: LinkPacket,
    },
}

/// What one running device holds.
pub struct Device {
    pub config: Config,
    pub netlink: Arc<Netlink>,
    pub clock: Clock,
    pub shared: Option<Shared>,
    pub home_agent: Option<HaRuntime>,
    pub foreign_agent: Option<FaRuntime>,
    pub access_point: Option<ApRuntime>,
    /// Actions of the AP engine produced outside the main loop (by
    /// `configure`), carried out on its next turn.
    pub pending_ap_actions: Vec<pmip_engine::proxy_ap::Action>,
    /// The subnet map exchange (AP with `ip proxy-mobile aap` and a key).
    pub exchange: Option<crate::subnet_exchange::ExchangeRuntime>,
    /// Why the exchange is off, for `show ip proxy-mobile subnet-table`.
    pub exchange_off: Option<String>,
    pub pending_exchange_actions: Vec<pmip_engine::subnet_exchange::Action>,
    /// The same for the home agent and foreign agent (`clear ...`).
    pub pending_ha_actions: Vec<Action>,
    pub pending_fa_actions: Vec<fa::Action>,
}

impl Device {
    /// Runs one EXEC command. Errors are one line, IOS style.
    pub fn exec(&mut self, words: &[String], json: bool) -> Result<String, String> {
        let w: Vec<&str> = words.iter().map(String::as_str).collect();
        match w.as_slice() {
            ["show", "running-config"] | ["show", "run"] => Ok(self.running_config(false, json)),
            // The operator asks for the keys explicitly (secrets rule).
            ["show", "running-config", "keys"] => Ok(self.running_config(true, json)),
            ["configure", rest @ ..] if !rest.is_empty() => self.configure(&rest.join(" ")),
            ["show", "version"] => Ok(self.version(json)),
            ["show", "ip", "proxy-mobile", "subnet-table"] => match &self.access_point {
                Some(ap) => Ok(crate::subnet_exchange::show(
                    self.exchange.as_ref(),
                    self.exchange_off.as_deref(),
                    &crate::proxy_ap::static_subnet_map(&self.config),
                    self.clock.now().instant,
                    json,
                )
                 + &if json {
                    String::new()
                } else {
                    format!("In use by the AP: {} entries\n", ap.engine.subnet_map().entries().len())
                }),
                None => Err("% Proxy Mobile IP is not enabled (ip proxy-mobile enable)".into()),
            },
            // The seeds' Subnet Table page: "click Refresh if the subnet
            // table displayed appears out of date" (seed 001).
            ["refresh", "ip", "proxy-mobile", "subnet-table"] => match &mut self.exchange {
                Some(x) => {
                    x.engine.refresh(self.clock.now(), &mut self.pending_exchange_actions);
                    Ok("Asking the AAP for the subnet map table\n".into())
                }
                None => Err(format!(
                    "% Subnet map exchange is off: {}",
                    self.exchange_off.as_deref().unwrap_or("not an AP")
                )),
            },
            // Seed 001: "To rebuild the subnet table, ... clear the subnet
            // map table"; the AAP then sends it again.
            ["clear", "ip", "proxy-mobile", "subnet-table"] => match &mut self.exchange {
                Some(x) => {
                    x.engine.clear(self.clock.now(), &mut self.pending_exchange_actions);
                    Ok("Subnet map table cleared; rebuilding it from the AAP\n".into())
                }
                None => Err(format!(
                    "% Subnet map exchange is off: {}",
                    self.exchange_off.as_deref().unwrap_or("not an AP")
                )),
            },
            ["clear", "ip", "mobile", "binding", rest @ ..] => {
                let which = clear_target(rest)?;
                let ha = self.home_agent.as_mut().ok_or_else(|| {
                    "% Mobile IP home agent is not enabled (router mobile; ip mobile home-agent)"
                        .to_owned()
                })?;
                let n = ha.engine.clear_bindings(which, &mut self.pending_ha_actions);
                Ok(format!("{n} mobility binding{} cleared\n", if n == 1 { "" } else { "s" }))
            }
            ["clear", "ip", "mobile", "visitor", rest @ ..] => {
                let which = clear_target(rest)?;
                let f = self.foreign_agent.as_mut().ok_or_else(|| {
                    "% Mobile IP foreign agent is not enabled".to_owned()
                })?;
                let n = f.engine.clear_visitors(which, &mut self.pending_fa_actions);
                Ok(format!("{n} visitor{} cleared\n", if n == 1 { "" } else { "s" }))
            }
            ["show", "ip", "mobile", "binding"] => self
                .ha()
                .map(|ha| show::bindings(&ha.engine, self.clock.now().instant, json)),
            ["show", "ip", "mobile", "traffic"] => {
                if self.home_agent.is_none() && self.foreign_agent.is_none() {
                    return Err("% Mobile IP is not enabled".into());
                }
                Ok(show::traffic(
                    self.home_agent.as_ref().map(|h| &h.engine),
                    self.foreign_agent.as_ref().map(|f| &f.engine),
                    self.shared.as_ref().map(|sh| &*sh.dataplane.counters),
                    json,
                ))
            }
            ["show", "ip", "proxy-mobile"] => match &self.access_point {
                Some(ap) => Ok(show::proxy_status(&self.config, &ap.engine, json)),
                None => Err("% Proxy Mobile IP is not enabled (ip proxy-mobile enable)".into()),
            },
            ["show", "ip", "proxy-mobile", "secure"] | ["show", "ip", "proxy-mobile", "sa-binding"] => {
                let aaa = self
                    .access_point
                    .as_ref()
                    .map(|ap| show::aaa_list(&ap.aaa_sas))
                    .unwrap_or_default();
                Ok(show::proxy_secure(&self.config, &aaa, json))
            }
            ["show", "ip", "proxy-mobile", "visitor"] | ["show", "ip", "proxy-mobile", "visitors"] => {
                match &self.access_point {
                    Some(ap) => Ok(show::proxy_visitors(&ap.engine, self.clock.now().instant, json)),
                    None => Err("% Proxy Mobile IP is not enabled (ip proxy-mobile enable)".into()),
                }
            }
            ["show", "ip", "mobile", "visitor"] => match &self.foreign_agent {
                Some(f) => Ok(show::visitors(&f.engine, self.clock.now().instant, json)),
                None => Err("% Mobile IP foreign agent is not enabled (router mobile; ip mobile foreign-agent; ip mobile foreign-service)".into()),
            },
            ["show", "ip", "mobile", "secure", "host"] | ["show", "ip", "mobile", "secure"] => {
                let aaa = self
                    .home_agent
                    .as_ref()
                    .map(|ha| show::aaa_list(&ha.aaa_sas))
                    .unwrap_or_default();
                Ok(show::secure_hosts(&self.config, &aaa, json))
            }
            _ => Err(format!("% Invalid input: \"{}\"", words.join(" "))),
        }
    }

    /// `show version`: what runs here and for how long.
    fn version(&self, json: bool) -> String {
        let uptime = self.clock.origin.elapsed().as_secs();
        let mut roles = Vec::new();
        if self.home_agent.is_some() {
            roles.push("home agent");
        }
        if self.foreign_agent.is_some() {
            roles.push("foreign agent");
        }
        if self.access_point.is_some() {
            roles.push("proxy Mobile IP access point");
        }
        let host = self
            .config
            .hostname
            .clone()
            .unwrap_or_else(|| "Router".into());
        if json {
            return serde_json::json!({
                "version": env!("CARGO_PKG_VERSION"),
                "hostname": host,
                "uptime_seconds": uptime,
                "roles": roles,
            })
            .to_string();
        }
        format!(
            "pmip {}, proxy Mobile IPv4\n{host} uptime is {}h {}m {}s\nRoles: {}\n",
            env!("CARGO_PKG_VERSION"),
            uptime / 3600,
            uptime / 60 % 60,
            uptime % 60,
            if roles.is_empty() {
                "none".into()
            } else {
                roles.join(", ")
            }
        )
    }

    fn ha(&self) -> Result<&HaRuntime, String> {
        self.home_agent.as_ref().ok_or_else(|| {
            "% Mobile IP home agent is not enabled (router mobile; ip mobile home-agent)".to_owned()
        })
    }

    fn running_config(&self, keys: bool, json: bool) -> String {
        let text = self.config.running_config(keys);
        if json {
            serde_json::json!({ "running_config": text }).to_string()
        } else {
            text
        }
    }

    /// `configure LINE[; LINE...]`: applies lines as `configure terminal`
    /// would, starting in global mode. All or nothing: a refused line
    /// leaves the running configuration as it was.
    fn configure(&mut self, text: &str) -> Result<String, String> {
        let mut candidate = self.config.clone();
        let mut mode = Mode::Global;
        for (i, line) in text.split([';', '\n']).enumerate() {
            candidate
                .apply_line_numbered(&mut mode, line, i + 1)
                .map_err(|e| e.to_string())?;
        }
        self.config = candidate;
        if let Some(ha) = &mut self.home_agent {
            ha.engine
                .set_config(home_agent::engine_config(&self.config));
        }
        if let Some(f) = &mut self.foreign_agent {
            f.engine
                .set_config(crate::foreign_agent::engine_config(&self.config));
        }
        if let Some(ap) = &mut self.access_point {
            // Pause, SSIDs, SAs and tunnel options take effect at once;
            // stations are decided again (seed 004: pause keeps the
            // configuration and stops proxying).
            let now = self.clock.now();
            ap.engine.set_config(
                now,
                crate::proxy_ap::engine_config(&self.config),
                &mut self.pending_ap_actions,
            );
            let map = crate::proxy_ap::static_subnet_map(&self.config);
            if ap.engine.subnet_map() != &map {
                ap.engine
                    .set_subnet_map(now, map, &mut self.pending_ap_actions);
            }
        }
        Ok(String::new())
    }
}

/// The optional address after `clear ip mobile binding|visitor`: one
/// home address, or every entry with nothing or `all`.
fn clear_target(rest: &[&str]) -> Result<Option<Ipv4Addr>, String> {
    match rest {
        [] | ["all"] => Ok(None),
        [a] => a
            .parse()
            .map(Some)
            .map_err(|_| format!("% Invalid input: \"{a}\" (expected a home address or `all`)")),
        _ => Err("% Invalid input: expected `all` or one home address".into()),
    }
}

/// Carries out what EXEC commands and configuration changes asked of the
/// engines (they run outside the engines' turns).
async fn apply_pending(device: &mut Device) {
    let ha_actions = std::mem::take(&mut device.pending_ha_actions);
    if let (Some(ha), Some(shared)) = (&mut device.home_agent, &device.shared)
        && !ha_actions.is_empty()
    {
        apply_actions(ha, shared, ha_actions).await;
    }
    let fa_actions = std::mem::take(&mut device.pending_fa_actions);
    if let (Some(f), Some(shared)) = (&mut device.foreign_agent, &device.shared)
        && !fa_actions.is_empty()
    {
        apply_fa_actions(f, shared, fa_actions).await;
    }
    let ap_actions = std::mem::take(&mut device.pending_ap_actions);
    if let Some(ap) = &mut device.access_point
        && !ap_actions.is_empty()
    {
        ap.apply(ap_actions).await;
    }
    let x_actions = std::mem::take(&mut device.pending_exchange_actions);
    if !x_actions.is_empty() {
        exchange_turn(device, x_actions).await;
    }
}

/// After an EXEC command from the control socket or a web page: carry out
/// what it asked of the engines, and let the web server see changed users
/// or `ip http` lines (sessions of removed users end).
async fn after_exec(
    device: &mut Device,
    words: &[String],
    web_config: Option<&tokio::sync::watch::Sender<pmip_web::WebConfig>>,
) {
    apply_pending(device).await;
    if words.first().is_some_and(|w| w == "configure")
        && let Some(tx) = web_config
    {
        tx.send_replace(pmip_web::WebConfig::from_config(&device.config));
    }
}

/// Carries out the exchange's actions; a changed table goes to the proxy
/// AP engine (merged with the static `subnet-map` lines).
async fn exchange_turn(device: &mut Device, actions: Vec<pmip_engine::subnet_exchange::Action>) {
    let now = device.clock.now();
    let Some(x) = &mut device.exchange else {
        return;
    };
    if x.apply(now, actions).await
        && let Some(ap) = &mut device.access_point
    {
        let map = crate::subnet_exchange::merged_map(
            x.engine.table(),
            &crate::proxy_ap::static_subnet_map(&device.config),
        );
        tracing::info!(entries = map.entries().len(), "subnet map table changed");
        let mut out = Vec::new();
        ap.engine.set_subnet_map(now, map, &mut out);
        ap.apply(out).await;
    }
}

/// After the AP heard agents: report its own home agent to the exchange
/// when it is new or changed.
async fn report_own_home_agent(device: &mut Device) {
    let now = device.clock.now();
    let (Some(x), Some(ap)) = (&mut device.exchange, &device.access_point) else {
        return;
    };
    let mut out = Vec::new();
    x.own_home_agent(now, ap.engine.own_home_agent(), &mut out);
    if !out.is_empty() {
        exchange_turn(device, out).await;
    }
}

/// Reads and parses a configuration file; a refused line names its number.
pub fn load(path: &Path) -> Result<Config, DaemonError> {
    let text = std::fs::read_to_string(path).map_err(|e| DaemonError::ReadConfig {
        path: path.display().to_string(),
        source: e,
    })?;
    Config::parse(&text).map_err(|e| DaemonError::Config {
        path: path.display().to_string(),
        source: e,
    })
}

/// Runs the device until SIGINT or SIGTERM.
pub async fn run(config_path: &Path, control_path: Option<PathBuf>) -> Result<(), DaemonError> {
    let config = load(config_path)?;
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    let hostname = config.hostname.clone().unwrap_or_else(|| "pmip".to_owned());
    let control_path = control_path.unwrap_or_else(|| control::default_path(&hostname));
    let netlink = Arc::new(Netlink::new()?);
    let mut device = Device {
        config,
        netlink,
        clock: Clock::new(),
        shared: None,
        home_agent: None,
        foreign_agent: None,
        access_point: None,
        pending_ap_actions: Vec::new(),
        pending_ha_actions: Vec::new(),
        pending_fa_actions: Vec::new(),
        exchange: None,
        exchange_off: None,
        pending_exchange_actions: Vec::new(),
    };

    let result = serve(&mut device, &control_path).await;
    device.home_agent = None;
    device.foreign_agent = None;
    device.access_point = None;
    device.shared = None;
    device.netlink.remove_all().await;
    tracing::info!(host = %hostname, "stopped; everything installed was removed");
    result
}

/// Starts what the roles share: the TUN device and data plane, the
/// packet socket, and port 434 on the home networks' unicast and
/// broadcast addresses and the care-of address.
async fn start_shared(device: &Device, tx: mpsc::Sender<Event>) -> Result<Shared, DaemonError> {
    let nl = &device.netlink;
    // A router forwards; proxy ARP for bound home addresses needs it on.
    pmip_platform::netlink::set_sysctl("net/ipv4/ip_forward", "1")?;
    let tun = Arc::new(Tun::create(home_agent::TUNNEL_DEVICE)?);
    let tun_index = nl.link_index(home_agent::TUNNEL_DEVICE).await?;
    // Room for the largest tunnel header on a 1500-byte path.
    nl.set_mtu(tun_index, 1500 - pmip_platform::dataplane::HEADROOM as u32)
        .await?;
    nl.link_up(tun_index).await?;
    let arp = Arc::new(PacketSocket::new()?);
    let dataplane = DataPlane::new();
    let dataplane_task = tokio::spawn(dataplane.clone().run(tun, Some(arp.clone())));
    let mut unicast = Vec::new();
    let mut broadcast = Vec::new();
    if device.config.is_home_agent() {
        let cfg = home_agent::engine_config(&device.config);
        if cfg.networks.is_empty() {
            tracing::warn!(
                "home agent has no home network: add `ip mobile host LOW HIGH interface IF` with an addressed interface"
            );
        }
        unicast.extend(cfg.networks.iter().map(|n| n.address));
        broadcast.extend(cfg.networks.iter().map(|n| n.broadcast()));
    }
    if device.config.is_foreign_agent() {
        let coa = fa_glue::engine_config(&device.config).care_of_address;
        if !coa.is_unspecified() && !unicast.contains(&coa) {
            unicast.push(coa);
        }
    }
    let (utx, mut urx) = mpsc::channel::<Datagram>(1024);
    let port = Port434::open(&unicast, &broadcast, PORT, utx)?;
    tokio::spawn(async move {
        while let Some(d) = urx.recv().await {
            if tx.send(Event::Udp(d)).await.is_err() {
                return;
            }
        }
    });
    tracing::info!(addresses = ?unicast, "listening on UDP 434");
    Ok(Shared {
        dataplane,
        arp,
        port,
        tun_index,
        dataplane_task,
    })
}

/// `home`'s association from RADIUS and the server it came from
/// (unspecified when it was not cached, IOS `aaa` without `load-sa`), or
/// why there is none; for the home agent's and the AP's `FetchSa` alike.
pub async fn fetch_sa(
    radius: Option<pmip_radius::RadiusHandle>,
    off_reason: Option<String>,
    home: Ipv4Addr,
) -> Result<
    (
        pmip_engine::security::SecurityAssociation,
        std::net::SocketAddrV4,
    ),
    String,
> {
    let Some(radius) = radius else {
        return Err(off_reason.unwrap_or_else(|| "no RADIUS client".into()));
    };
    let sa = radius.lookup(home).await.map_err(|e| e.to_string())?;
    let server = radius
        .source(home)
        .await
        .unwrap_or(std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    Ok((sa.to_security_association(), server))
}

/// The RADIUS client of a device whose configuration asks for it
/// (`aaa new-model`, `aaa authorization ipmobile ... group radius`,
/// `radius-server host ...`), or why there is none.
pub fn start_radius(
    config: &Config,
    nas_ip: Ipv4Addr,
    cache_lifetime: Option<std::time::Duration>,
) -> Result<pmip_radius::RadiusHandle, String> {
    if !config.aaa.radius_for_ipmobile() {
        return Err("no RADIUS for ipmobile (aaa new-model; aaa authorization ipmobile default group radius; radius-server host ...)".into());
    }
    let mut cfg =
        pmip_radius::ClientConfig::from_aaa(&config.aaa, nas_ip).map_err(|e| e.to_string())?;
    if let Some(l) = cache_lifetime {
        cfg.cache_lifetime = l;
    }
    let socket =
        std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(|e| e.to_string())?;
    socket.set_nonblocking(true).map_err(|e| e.to_string())?;
    let socket = tokio::net::UdpSocket::from_std(socket).map_err(|e| e.to_string())?;
    pmip_radius::spawn_with_socket(cfg, socket).map_err(|e| e.to_string())
}

fn start_home_agent(device: &Device, shared: &Shared, events: mpsc::Sender<Event>) -> HaRuntime {
    let installer = BindingInstaller {
        netlink: device.netlink.clone(),
        dataplane: shared.dataplane.clone(),
        tun_index: shared.tun_index,
        arp: shared.arp.clone(),
    };
    let (installs, mut queue) =
        mpsc::unbounded_channel::<(Action, Option<tokio::sync::oneshot::Sender<()>>)>();
    let installer_task = tokio::spawn(async move {
        while let Some((a, done)) = queue.recv().await {
            installer.apply(&a).await;
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
    });
    let engine = HomeAgent::new(home_agent::engine_config(&device.config));
    let wants_aaa = device.config.mobile.hosts.iter().any(|h| h.aaa.is_some());
    let nas_ip = engine
        .config()
        .networks
        .first()
        .map_or(Ipv4Addr::UNSPECIFIED, |n| n.address);
    // The client's cache follows `aaa` / `aaa load-sa` like the engine's.
    let cache_lifetime = Some(engine.config().aaa_cache_lifetime);
    let (radius, radius_off) = if wants_aaa {
        match start_radius(&device.config, nas_ip, cache_lifetime) {
            Ok(h) => (Some(h), None),
            Err(e) => {
                tracing::warn!("hosts ask for AAA associations but {e}");
                (None, Some(e))
            }
        }
    } else {
        (None, None)
    };
    HaRuntime {
        engine,
        installs,
        installer_task,
        radius,
        radius_off,
        aaa_sas: HashMap::new(),
        events,
    }
}

/// Starts the foreign agent: a packet socket on each foreign-service
/// interface, the reverse-tunnel routing table, relaxed reverse-path
/// filtering (visitors' packets carry home addresses from elsewhere).
async fn start_foreign_agent(
    device: &Device,
    shared: &Shared,
    tx: mpsc::Sender<Event>,
) -> Result<FaRuntime, DaemonError> {
    let cfg = fa_glue::engine_config(&device.config);
    if cfg.care_of_address.is_unspecified() {
        tracing::warn!(
            "foreign agent has no care-of address: add `ip mobile foreign-agent care-of INTERFACE`"
        );
    }
    let nl = &device.netlink;
    for key in ["all", "default"] {
        pmip_platform::netlink::set_sysctl(&format!("net/ipv4/conf/{key}/rp_filter"), "0")?;
    }
    nl.add_table_default(shared.tun_index, fa_glue::REVERSE_TUNNEL_TABLE)
        .await?;
    let mut ifindex = HashMap::new();
    let mut link_tasks = Vec::new();
    for intf in &cfg.interfaces {
        let idx = nl.link_index(&intf.name).await?;
        let _ = pmip_platform::netlink::set_sysctl(
            &format!("net/ipv4/conf/{}/rp_filter", intf.name),
            "0",
        );
        ifindex.insert(intf.name.clone(), idx);
        let link = VisitedLink::open(idx)?;
        let tx = tx.clone();
        let name = intf.name.clone();
        link_tasks.push(tokio::spawn(async move {
            while let Ok(packet) = link.recv().await {
                if tx
                    .send(Event::Link {
                        interface: name.clone(),
                        packet,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }));
    }
    tracing::info!(interfaces = ?ifindex.keys().collect::<Vec<_>>(), coa = %cfg.care_of_address, "foreign agent serving");
    Ok(FaRuntime {
        installer: VisitorInstaller {
            netlink: device.netlink.clone(),
            dataplane: shared.dataplane.clone(),
            care_of_address: cfg.care_of_address,
            ifindex,
        },
        engine: ForeignAgent::new(cfg),
        link_tasks,
        solicitors: HashMap::new(),
    })
}

async fn apply_fa_actions(f: &mut FaRuntime, shared: &Shared, actions: Vec<fa::Action>) {
    for a in actions {
        match a {
            fa::Action::SendToVisitor {
                interface,
                mac,
                from,
                to,
                payload,
            } => {
                let Some(&idx) = f.installer.ifindex.get(&interface) else {
                    continue;
                };
                let pkt = fa_glue::udp_packet(from, to, &payload);
                if let Err(e) = shared.arp.send_ipv4(idx, mac, &pkt).await {
                    tracing::warn!(%to, error = %e, "could not send to the visitor");
                }
            }
            fa::Action::SendToNetwork { from, to, payload } => {
                if let Err(e) = shared.port.send(from, to, &payload).await {
                    tracing::warn!(%to, error = %e, "could not send");
                }
            }
            fa::Action::Advertise {
                interface,
                from,
                to,
                payload,
            } => {
                let Some(&idx) = f.installer.ifindex.get(&interface) else {
                    continue;
                };
                let pkt = fa_glue::icmp_packet(from, to, &payload);
                let mac = fa_glue::link_destination(to, &f.solicitors);
                if let Err(e) = shared.arp.send_ipv4(idx, mac, &pkt).await {
                    tracing::debug!(error = %e, "advertisement not sent");
                }
            }
            fa::Action::VisitorUp(v) => f.installer.up(&v).await,
            fa::Action::VisitorDown(v) => f.installer.down(&v).await,
        }
    }
}

/// A packet from a visited link: a registration request or a solicitation.
async fn visited_link_packet(device: &mut Device, interface: &str, packet: LinkPacket) {
    let now = device.clock.now();
    let (Some(f), Some(shared)) = (&mut device.foreign_agent, &device.shared) else {
        return;
    };
    let Ok(ip) = pmip_wire::ipv4::Packet::new_checked(&packet.packet[..]) else {
        return;
    };
    let (src, proto) = (ip.src_addr(), ip.protocol());
    let mut out = Vec::new();
    match proto {
        pmip_wire::ipv4::protocol::UDP => {
            let Ok(u) = pmip_wire::udp::Packet::new_checked(ip.payload()) else {
                return;
            };
            f.engine.handle_from_visitor(
                now,
                FromVisitor {
                    interface,
                    mac: packet.mac,
                    src: SocketAddrV4::new(src, u.src_port()),
                    payload: u.payload(),
                },
                &mut out,
            );
        }
        pmip_wire::ipv4::protocol::ICMP => {
            if !src.is_unspecified() {
                f.solicitors.insert(src, packet.mac);
            }
            f.engine.handle_solicitation(now, interface, src, &mut out);
        }
        _ => return,
    }
    apply_fa_actions(f, shared, out).await;
}

/// Binding changes go to the installer queue in order. Replies do not
/// wait for them, except after a home address's last binding ends: its
/// host route must be gone before the reply, or the reply to a node that
/// came home would be tunnelled to where it was.
async fn apply_actions(ha: &mut HaRuntime, shared: &Shared, actions: Vec<Action>) {
    let mut wait = Vec::new();
    for a in actions {
        match &a {
            Action::Send { from, to, payload } => {
                for done in wait.drain(..) {
                    let _ = done.await;
                }
                if let Err(e) = shared.port.send(*from, *to, payload).await {
                    tracing::warn!(%to, error = %e, "could not send");
                }
            }
            Action::FetchSa { home } => {
                let (home, events, radius) = (*home, ha.events.clone(), ha.radius.clone());
                let off = ha.radius_off.clone();
                tokio::spawn(async move {
                    let result = fetch_sa(radius, off, home).await;
                    let _ = events.send(Event::SaResult { home, result }).await;
                });
            }
            Action::BindingDown { last: true, .. } => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let _ = ha.installs.send((a, Some(tx)));
                wait.push(rx);
            }
            _ => {
                let _ = ha.installs.send((a, None));
            }
        }
    }
}

async fn serve(device: &mut Device, control_path: &Path) -> Result<(), DaemonError> {
    if device.config.is_proxy_ap() && device.config.default_gateway.is_none() {
        return Err(DaemonError::Io(std::io::Error::other(
            "an access point with proxy Mobile IP needs a gateway: add `ip default-gateway ADDRESS` (seed 004 guidelines)",
        )));
    }
    let bridge = if device.config.is_proxy_ap() {
        Some(ApRuntime::create_bridge(&device.netlink).await?)
    } else {
        None
    };
    interfaces::apply(&device.netlink, &device.config, &[]).await?;
    let (tx, mut rx) = mpsc::channel::<Event>(1024);
    let (ap_tx, mut ap_rx) = mpsc::channel::<ApEvent>(1024);
    if let Some(bridge) = bridge {
        let now = device.clock.now();
        let (ap, out) =
            ApRuntime::start(&device.config, &device.netlink, bridge, ap_tx.clone(), now).await?;
        let own = ap.engine.config().own_address;
        device.access_point = Some(ap);
        device.pending_ap_actions.extend(out);
        // The subnet map exchange (seed 004), when AAPs and a key are set.
        match crate::subnet_exchange::engine_config(&device.config, own) {
            Ok(cfg) => {
                let (xtx, mut xrx) = mpsc::channel(1024);
                let mut out = Vec::new();
                let x = crate::subnet_exchange::ExchangeRuntime::start(cfg, xtx, now, &mut out)?;
                device.exchange = Some(x);
                device.pending_exchange_actions.extend(out);
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Some(e) = xrx.recv().await {
                        if tx.send(Event::Exchange(e)).await.is_err() {
                            return;
                        }
                    }
                });
            }
            Err(reason) => {
                if !device.config.proxy_mobile.aaps.is_empty() {
                    tracing::warn!("{reason}");
                }
                device.exchange_off = Some(reason);
            }
        }
        // Associations are noticed from link events; the poll below is the
        // safety net.
        let links_tx = ap_tx.clone();
        pmip_platform::radio::watch_links(move |event| {
            let ev = match event {
                pmip_platform::radio::LinkEvent::StationPort { controller, port } => {
                    ApEvent::PortAttached { controller, port }
                }
                pmip_platform::radio::LinkEvent::Other => ApEvent::LinksChanged,
            };
            links_tx.try_send(ev).is_ok() || !links_tx.is_closed()
        })?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(e) = ap_rx.recv().await {
                if tx.send(Event::Ap(e)).await.is_err() {
                    return;
                }
            }
        });
    }
    let mut port_poll = tokio::time::interval(std::time::Duration::from_secs(1));
    if device.config.is_home_agent() || device.config.is_foreign_agent() {
        let shared = start_shared(device, tx.clone()).await?;
        if device.config.is_home_agent() {
            device.home_agent = Some(start_home_agent(device, &shared, tx.clone()));
        }
        if device.config.is_foreign_agent() {
            device.foreign_agent = Some(start_foreign_agent(device, &shared, tx.clone()).await?);
        }
        device.shared = Some(shared);
    }
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    // The web pages, /api and /metrics (`ip http server`, issue 10): they
    // run EXEC commands through a channel this loop answers, like the
    // control socket.
    let (web_config_tx, mut web_rx) = match pmip_web::listen_addr(&device.config) {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                DaemonError::Io(std::io::Error::other(format!(
                    "ip http server on {addr}: {e}"
                )))
            })?;
            let (handle, rx) = pmip_web::ChannelDevice::new(64);
            let (cfg_tx, cfg_rx) =
                tokio::sync::watch::channel(pmip_web::WebConfig::from_config(&device.config));
            tokio::spawn(async move {
                if let Err(e) = pmip_web::serve_watched(listener, cfg_rx, handle).await {
                    tracing::warn!(error = %e, "web server stopped");
                }
            });
            tracing::info!(%addr, "web pages served");
            (Some(cfg_tx), Some(rx))
        }
        None => (None, None),
    };
    // The control socket opens last: once it answers, the device is ready.
    let control = ControlSocket::bind(control_path)
        .await
        .map_err(|e| DaemonError::Control {
            path: control_path.display().to_string(),
            source: e,
        })?;
    tracing::info!(control = %control_path.display(), "ready");
    // The engines' start-up actions (the AP's first agent solicitation).
    apply_pending(device).await;
    loop {
        let ha_deadline = device
            .home_agent
            .as_ref()
            .and_then(|ha| ha.engine.poll_timeout());
        let fa_deadline = device
            .foreign_agent
            .as_ref()
            .and_then(|f| f.engine.poll_timeout());
        let x_deadline = device
            .exchange
            .as_ref()
            .and_then(|x| x.engine.poll_timeout());
        let deadline = [ha_deadline, fa_deadline, x_deadline]
            .into_iter()
            .flatten()
            .min()
            .map(|t| device.clock.at(t));
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = timer => {
                let now = device.clock.now();
                if let Some(ha) = &mut device.home_agent {
                    let mut out = Vec::new();
                    ha.engine.handle_timeout(now, &mut out);
                    if let Some(shared) = &device.shared {
                        apply_actions(ha, shared, out).await;
                    }
                }
                if let (Some(f), Some(shared)) = (&mut device.foreign_agent, &device.shared) {
                    let mut out = Vec::new();
                    f.engine.handle_timeout(now, &mut out);
                    apply_fa_actions(f, shared, out).await;
                }
                if let Some(ap) = &mut device.access_point {
                    let mut out = Vec::new();
                    ap.engine.handle_timeout(now, &mut out);
                    ap.apply(out).await;
                }
                if let Some(x) = &mut device.exchange
                    && x.engine.poll_timeout().is_some_and(|t| t <= now.instant)
                {
                    let mut out = Vec::new();
                    x.engine.handle_timeout(now, &mut out);
                    exchange_turn(device, out).await;
                }
            }
            _ = port_poll.tick(), if device.access_point.is_some() => {
                let now = device.clock.now();
                if let Some(ap) = &mut device.access_point
                    && let Ok(ports) = device.netlink.station_ports(ap.bridge).await
                {
                    let mut out = Vec::new();
                    for port in ap.sync_ports(now, ports, &ap_tx, &mut out) {
                        ap.greet(port).await;
                    }
                    ap.apply(out).await;
                }
            }
            Some(ev) = rx.recv() => match ev {
                Event::Udp(d) => {
                    let now = device.clock.now();
                    let kind = d.payload.first().copied();
                    // Replies and Binding Updates are for the foreign agent;
                    // requests and acknowledges for the home agent. Requests
                    // from visitors reach the foreign agent through the
                    // visited link's packet socket instead.
                    // A request sent to our care-of address that names
                    // another home agent came from a visitor: the foreign
                    // agent has it from the visited link already.
                    let names_us = d.payload.get(8..12).is_some_and(|h| Ipv4Addr::new(h[0], h[1], h[2], h[3]) == d.dst);
                    let visitor_request = kind == Some(1)
                        && device.foreign_agent.as_ref().is_some_and(|f| f.engine.config().care_of_address == d.dst)
                        && !names_us;
                    if visitor_request {
                        continue;
                    }
                    let for_fa = matches!(kind, Some(3) | Some(18)) || device.home_agent.is_none();
                    if for_fa {
                        if let (Some(f), Some(shared)) = (&mut device.foreign_agent, &device.shared)
                            && kind != Some(1)
                        {
                            let mut out = Vec::new();
                            f.engine.handle_from_network(now, d.src, &d.payload, &mut out);
                            apply_fa_actions(f, shared, out).await;
                        }
                    } else if let (Some(ha), Some(shared)) = (&mut device.home_agent, &device.shared) {
                        let mut out = Vec::new();
                        ha.engine.handle_datagram(now, d.src, d.dst, &d.payload, &mut out);
                        apply_actions(ha, shared, out).await;
                    }
                }
                Event::Link { interface, packet } => visited_link_packet(device, &interface, packet).await,
                Event::SaResult { home, result } => {
                    let now = device.clock.now();
                    if let (Some(ha), Some(shared)) = (&mut device.home_agent, &device.shared) {
                        let result = result.map(|(sa, server)| {
                            ha.aaa_sas.insert(home, (sa.spi, server, std::time::Instant::now()));
                            sa
                        });
                        let mut out = Vec::new();
                        ha.engine.sa_result(now, home, result, &mut out);
                        apply_actions(ha, shared, out).await;
                    }
                }
                Event::Exchange(e) => {
                    let now = device.clock.now();
                    if let Some(x) = &mut device.exchange {
                        let mut out = Vec::new();
                        x.event(now, e, &mut out);
                        exchange_turn(device, out).await;
                    }
                }
                Event::Ap(e) => {
                    let now = device.clock.now();
                    let mut wired = false;
                    if let Some(ap) = &mut device.access_point {
                        let mut out = Vec::new();
                        match e {
                            ApEvent::Station { ifindex, frame } => ap.station_frame(now, ifindex, &frame, &mut out).await,
                            ApEvent::Wired { frame } => {
                                ap.wired_frame(now, &frame, &mut out);
                                wired = true;
                            }
                            ApEvent::SaResult { home, result } => {
                                let result = result.map(|(sa, server)| {
                                    ap.aaa_sas.insert(home, (sa.spi, server, std::time::Instant::now()));
                                    sa
                                });
                                ap.engine.sa_result(now, home, result, &mut out);
                            }
                            ApEvent::PortAttached { controller, port } => {
                                if controller == ap.bridge
                                    && let Some(index) = ap.add_port(port, &ap_tx)
                                {
                                    ap.greet(index).await;
                                }
                            }
                            ApEvent::LinksChanged => {
                                if let Ok(ports) = device.netlink.station_ports(ap.bridge).await {
                                    for port in ap.sync_ports(now, ports, &ap_tx, &mut out) {
                                        ap.greet(port).await;
                                    }
                                }
                            }
                        }
                        ap.apply(out).await;
                    }
                    if wired {
                        report_own_home_agent(device).await;
                    }
                }
            },
            _ = int.recv() => return Ok(()),
            req = control.next() => {
                let (Request { words, json }, mut stream) = req?;
                let resp = match device.exec(&words, json) {
                    Ok(out) => Response::output(out),
                    Err(e) => Response::error(e),
                };
                if let Err(e) = control::respond(&mut stream, &resp).await {
                    tracing::debug!(error = %e, "control client went away");
                }
                after_exec(device, &words, web_config_tx.as_ref()).await;
            }
            Some((words, json, reply)) = async {
                match &mut web_rx {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let _ = reply.send(device.exec(&words, json));
                after_exec(device, &words, web_config_tx.as_ref()).await;
            }
        }
    }
}
