//! The AP's associations from hostapd (`pmip run --hostapd SOCKET`,
//! docs/deployment.md): the radio interface hostapd serves is a port of
//! BVI1 that all its stations share; each `AP-STA-CONNECTED` /
//! `AP-STA-DISCONNECTED` becomes the node's association event, and the
//! station list is read again whenever hostapd is followed anew (at start,
//! after hostapd restarted), so no association is missed.

use pmip_node::{LinkEvent, StationPort};
use pmip_platform::hostapd::{Hostapd, HostapdEvent};
use std::path::PathBuf;
use std::time::Duration;

/// How often a quiet hostapd is asked whether it is still there (a
/// restarted hostapd has a new socket; ours would hear nothing more).
const PING_EVERY: Duration = Duration::from_secs(5);
/// The wait before following hostapd again after losing it.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Most stations read from hostapd's list (the node bounds them too).
const MAX_LISTED: usize = 2048;

/// Follows hostapd's control socket at `socket` for the radio port
/// `ifindex` named `name`, until `send` returns false (the daemon ends).
pub async fn follow<F: Future<Output = bool>>(
    socket: PathBuf,
    ifindex: u32,
    name: String,
    send: impl Fn(LinkEvent) -> F,
) {
    let mut warned = false;
    loop {
        match Hostapd::attach(&socket).await {
            Ok(h) => {
                warned = false;
                let ssid = match h.ssid().await {
                    Ok(Some(s)) => s,
                    _ => String::new(),
                };
                let port = StationPort {
                    ifindex,
                    name: name.clone(),
                    radio: name.clone(),
                    ssid: ssid.clone(),
                };
                let macs = h.stations(MAX_LISTED).await.unwrap_or_default();
                tracing::info!(
                    socket = %socket.display(),
                    radio = %name,
                    %ssid,
                    stations = macs.len(),
                    "following hostapd"
                );
                if !send(LinkEvent::RadioStations {
                    port: port.clone(),
                    macs,
                })
                .await
                {
                    return;
                }
                loop {
                    let event = tokio::select! {
                        e = h.next_event() => e,
                        _ = tokio::time::sleep(PING_EVERY) => {
                            match h.ask("PING").await {
                                Ok(a) if a.starts_with("PONG") => continue,
                                Ok(a) => Err(std::io::Error::other(format!("PING answered {a:?}"))),
                                Err(e) => Err(e),
                            }
                        }
                    };
                    let ev = match event {
                        Ok(HostapdEvent::Connected(mac)) => LinkEvent::RadioAssociated {
                            port: port.clone(),
                            mac,
                        },
                        Ok(HostapdEvent::Disconnected(mac)) => {
                            LinkEvent::RadioDisassociated { ifindex, mac }
                        }
                        Err(e) => {
                            tracing::warn!(socket = %socket.display(), error = %e, "lost hostapd; following it again");
                            break;
                        }
                    };
                    if !send(ev).await {
                        return;
                    }
                }
            }
            Err(e) => {
                if !warned {
                    tracing::warn!(socket = %socket.display(), error = %e, "cannot follow hostapd yet; trying again every second");
                    warned = true;
                }
            }
        }
        tokio::time::sleep(RETRY_AFTER).await;
    }
}
