//! `pmip run`: one device process. Reads the configuration, applies it to
//! the namespace's interfaces, runs the roles it enables, serves the
//! control socket, and removes everything it installed on exit.

use crate::control::{self, ControlSocket, Request, Response};
use crate::home_agent::{self, BindingInstaller};
use crate::interfaces;
use crate::show;
use crate::udp::{Datagram, PORT, Port434};
use pmip_config::{Config, Mode};
use pmip_engine::home_agent::{Action, HomeAgent};
use pmip_engine::time::{Instant, Now};
use pmip_platform::dataplane::DataPlane;
use pmip_platform::netlink::Netlink;
use pmip_platform::packet::PacketSocket;
use pmip_platform::tun::Tun;
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

/// The home agent role while it runs.
pub struct HaRuntime {
    pub engine: HomeAgent,
    port: Port434,
    /// Binding changes go to the installer task in order; the engine
    /// loop answers the next registration meanwhile.
    installs: mpsc::UnboundedSender<(Action, Option<tokio::sync::oneshot::Sender<()>>)>,
    installer_task: tokio::task::JoinHandle<()>,
    dataplane_task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for HaRuntime {
    fn drop(&mut self) {
        self.dataplane_task.abort();
        self.installer_task.abort();
    }
}

/// What one running device holds.
pub struct Device {
    pub config: Config,
    pub netlink: Arc<Netlink>,
    pub clock: Clock,
    pub home_agent: Option<HaRuntime>,
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
            ["show", "ip", "mobile", "binding"] => self
                .ha()
                .map(|ha| show::bindings(&ha.engine, self.clock.now().instant, json)),
            ["show", "ip", "mobile", "traffic"] => {
                self.ha().map(|ha| show::traffic(&ha.engine, json))
            }
            ["show", "ip", "mobile", "secure", "host"] | ["show", "ip", "mobile", "secure"] => {
                Ok(show::secure_hosts(&self.config, json))
            }
            _ => Err(format!("% Invalid input: \"{}\"", words.join(" "))),
        }
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
        Ok(String::new())
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
        home_agent: None,
    };

    let result = serve(&mut device, &control_path).await;
    device.home_agent = None;
    device.netlink.remove_all().await;
    tracing::info!(host = %hostname, "stopped; everything installed was removed");
    result
}

/// Starts the home agent: TUN device and data plane, port 434 sockets on
/// each home network's address and broadcast address.
async fn start_home_agent(
    device: &Device,
    tx: mpsc::Sender<Datagram>,
) -> Result<HaRuntime, DaemonError> {
    let cfg = home_agent::engine_config(&device.config);
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
    let unicast: Vec<_> = cfg.networks.iter().map(|n| n.address).collect();
    let broadcast: Vec<_> = cfg.networks.iter().map(|n| n.broadcast()).collect();
    if cfg.networks.is_empty() {
        tracing::warn!(
            "home agent has no home network: add `ip mobile host LOW HIGH interface IF` with an addressed interface"
        );
    }
    let port = Port434::open(&unicast, &broadcast, PORT, tx)?;
    tracing::info!(networks = ?unicast, "home agent listening on UDP 434");
    let installer = BindingInstaller {
        netlink: device.netlink.clone(),
        dataplane,
        tun_index,
        arp,
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
    Ok(HaRuntime {
        engine: HomeAgent::new(cfg),
        port,
        installs,
        installer_task,
        dataplane_task,
    })
}

/// Binding changes go to the installer queue in order. Replies do not
/// wait for them, except after a home address's last binding ends: its
/// host route must be gone before the reply, or the reply to a node that
/// came home would be tunnelled to where it was.
async fn apply_actions(ha: &mut HaRuntime, actions: Vec<Action>) {
    let mut wait = Vec::new();
    for a in actions {
        match &a {
            Action::Send { from, to, payload } => {
                for done in wait.drain(..) {
                    let _ = done.await;
                }
                if let Err(e) = ha.port.send(*from, *to, payload).await {
                    tracing::warn!(%to, error = %e, "could not send");
                }
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
    interfaces::apply(&device.netlink, &device.config, &[]).await?;
    let (tx, mut rx) = mpsc::channel::<Datagram>(1024);
    if device.config.is_home_agent() {
        device.home_agent = Some(start_home_agent(device, tx.clone()).await?);
    }
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    // The control socket opens last: once it answers, the device is ready.
    let control = ControlSocket::bind(control_path)
        .await
        .map_err(|e| DaemonError::Control {
            path: control_path.display().to_string(),
            source: e,
        })?;
    tracing::info!(control = %control_path.display(), "ready");
    loop {
        let deadline = device
            .home_agent
            .as_ref()
            .and_then(|ha| ha.engine.poll_timeout())
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
                    apply_actions(ha, out).await;
                }
            }
            Some(d) = rx.recv() => {
                let now = device.clock.now();
                if let Some(ha) = &mut device.home_agent {
                    let mut out = Vec::new();
                    ha.engine.handle_datagram(now, d.src, d.dst, &d.payload, &mut out);
                    apply_actions(ha, out).await;
                }
            }
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
            }
        }
    }
}
