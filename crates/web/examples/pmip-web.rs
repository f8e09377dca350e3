//! The web pages of a running device, served by a separate process that
//! talks to the daemon's control socket (as `pmip exec` does). Until the
//! daemon serves them itself, and for a management process of your own:
//!
//! ```sh
//! cargo run --example pmip-web -- --control /run/pmip/ap1.sock [--listen 0.0.0.0:8080]
//! ```
//!
//! Run it in the device's network namespace. Users and the port come from
//! the device's own `ip http` and `username` lines, read again every 5 s.

use pmip_config::Config;
use pmip_web::{ControlSocketDevice, Device, WebConfig};
use std::net::SocketAddr;
use std::time::Duration;

async fn device_config(device: &ControlSocketDevice) -> Result<Config, String> {
    let out = device
        .exec(
            vec!["show".into(), "running-config".into(), "keys".into()],
            true,
        )
        .await?;
    let v: serde_json::Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    let text = v["running_config"].as_str().ok_or("no running_config")?;
    Config::parse(text).map_err(|e| e.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut control, mut listen) = (None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--control" => control = args.next(),
            "--listen" => listen = args.next().and_then(|l| l.parse::<SocketAddr>().ok()),
            _ => {
                eprintln!("usage: pmip-web --control PATH [--listen ADDR:PORT]");
                std::process::exit(2);
            }
        }
    }
    let Some(control) = control else {
        eprintln!("usage: pmip-web --control PATH [--listen ADDR:PORT]");
        std::process::exit(2);
    };
    let device = ControlSocketDevice::new(control);
    let config = match device_config(&device).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pmip-web: {e}");
            std::process::exit(1);
        }
    };
    let Some(addr) = listen.or_else(|| pmip_web::listen_addr(&config)) else {
        eprintln!("pmip-web: the device has no `ip http server` (or give --listen)");
        std::process::exit(1);
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("pmip-web: {addr}: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("pmip-web: serving on http://{addr}");
    let (tx, rx) = tokio::sync::watch::channel(WebConfig::from_config(&config));
    let watcher = device.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            if let Ok(c) = device_config(&watcher).await {
                let new = WebConfig::from_config(&c);
                tx.send_if_modified(|old| {
                    let changed = old.users != new.users;
                    if changed {
                        *old = new;
                    }
                    changed
                });
            }
        }
    });
    if let Err(e) = pmip_web::serve_watched(listener, rx, device).await {
        eprintln!("pmip-web: {e}");
        std::process::exit(1);
    }
}
