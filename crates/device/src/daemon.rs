//! `pmip run`: one device process. Reads the configuration, applies it to
//! the namespace's interfaces, runs the roles it enables, serves the
//! control socket, and removes everything it installed on exit.

use crate::control::{self, ControlSocket, Request, Response};
use crate::interfaces;
use pmip_config::{Config, Mode};
use pmip_platform::netlink::Netlink;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};

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

/// What one running device holds.
pub struct Device {
    pub config: Config,
    pub netlink: Arc<Netlink>,
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
            _ => Err(format!("% Invalid input: \"{}\"", words.join(" "))),
        }
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
    let mut device = Device { config, netlink };

    let result = serve(&mut device, &control_path).await;
    device.netlink.remove_all().await;
    tracing::info!(host = %hostname, "stopped; everything installed was removed");
    result
}

async fn serve(device: &mut Device, control_path: &Path) -> Result<(), DaemonError> {
    interfaces::apply(&device.netlink, &device.config, &[]).await?;
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
        tokio::select! {
            _ = term.recv() => return Ok(()),
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
