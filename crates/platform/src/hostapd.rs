//! Following hostapd, the association source of a real Linux access
//! point (docs/radio.md, docs/deployment.md): its control interface is a
//! Unix datagram socket per radio interface (`ctrl_interface` in
//! hostapd.conf, the socket named after the interface). A client socket
//! that sent `ATTACH` receives the events (`<3>AP-STA-CONNECTED MAC`,
//! `<3>AP-STA-DISCONNECTED MAC`); commands (`STA-FIRST`, `STA-NEXT MAC`,
//! `GET_CONFIG`, `PING`) are asked on a second socket so their answers
//! never mix with events, as hostapd_cli does.
//!
//! Written here rather than taken from a crate: the protocol is a handful
//! of text lines, and the crates that speak it are unmaintained or tied
//! to wpa_supplicant.
//!
//! Our sockets are bound in the abstract namespace: nothing is left in
//! the file system, whatever way the daemon ends.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::net::UnixDatagram;

/// What hostapd reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostapdEvent {
    /// A station completed its association (and 802.1X, when used).
    Connected([u8; 6]),
    /// A station left (deauthenticated, logged off, timed out).
    Disconnected([u8; 6]),
}

/// An event line (`<3>AP-STA-CONNECTED 02:00:00:00:00:01 ...`), or `None`
/// for the many events that are not about associations.
pub fn parse_event(line: &str) -> Option<HostapdEvent> {
    // The level prefix `<N>` is optional: events relayed by hostapd_cli
    // and some builds come without it.
    let body = match line.strip_prefix('<') {
        Some(rest) => rest.split_once('>')?.1,
        None => line,
    };
    let mut words = body.split_whitespace();
    let kind = words.next()?;
    let mac = parse_mac(words.next()?)?;
    match kind {
        "AP-STA-CONNECTED" => Some(HostapdEvent::Connected(mac)),
        "AP-STA-DISCONNECTED" => Some(HostapdEvent::Disconnected(mac)),
        _ => None,
    }
}

/// `02:00:5e:10:00:01` (any case).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// The `key=value` lines of an answer such as `GET_CONFIG`'s.
pub fn value_of<'a>(answer: &'a str, key: &str) -> Option<&'a str> {
    answer
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

/// How long a command waits for hostapd's answer.
const ANSWER_WAIT: Duration = Duration::from_secs(2);
/// hostapd's own limit for one control message.
const MAX_MESSAGE: usize = 4096;

/// One radio interface's control socket, attached for events.
pub struct Hostapd {
    path: PathBuf,
    commands: UnixDatagram,
    events: UnixDatagram,
}

fn client_socket(server: &Path) -> io::Result<UnixDatagram> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "pmip-hostapd-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    let s = std::os::unix::net::UnixDatagram::bind_addr(&addr)?;
    s.connect(server)?;
    s.set_nonblocking(true)?;
    UnixDatagram::from_std(s)
}

impl Hostapd {
    /// Connects to hostapd's control socket at `path` (for example
    /// `/var/run/hostapd/Dot11Radio0`) and attaches for its events.
    pub async fn attach(path: &Path) -> io::Result<Hostapd> {
        let h = Hostapd {
            path: path.to_owned(),
            commands: client_socket(path)?,
            events: client_socket(path)?,
        };
        let ok = ask_on(&h.events, "ATTACH").await?;
        if !ok.starts_with("OK") {
            return Err(io::Error::other(format!(
                "{}: ATTACH answered {ok:?}",
                path.display()
            )));
        }
        Ok(h)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One command and its answer.
    pub async fn ask(&self, command: &str) -> io::Result<String> {
        ask_on(&self.commands, command).await
    }

    /// The stations associated now (`STA-FIRST` / `STA-NEXT`), at most
    /// `limit` of them.
    pub async fn stations(&self, limit: usize) -> io::Result<Vec<[u8; 6]>> {
        let mut out = Vec::new();
        let mut answer = self.ask("STA-FIRST").await?;
        while out.len() < limit {
            let Some(mac) = answer.lines().next().and_then(parse_mac) else {
                break;
            };
            out.push(mac);
            let m = mac.map(|b| format!("{b:02x}")).join(":");
            answer = self.ask(&format!("STA-NEXT {m}")).await?;
        }
        Ok(out)
    }

    /// The SSID the radio serves (`GET_CONFIG`), if it says.
    pub async fn ssid(&self) -> io::Result<Option<String>> {
        let c = self.ask("GET_CONFIG").await?;
        Ok(value_of(&c, "ssid").map(str::to_owned))
    }

    /// The next association event; other events are skipped.
    pub async fn next_event(&self) -> io::Result<HostapdEvent> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        loop {
            let n = self.events.recv(&mut buf).await?;
            if let Some(e) = std::str::from_utf8(&buf[..n]).ok().and_then(parse_event) {
                return Ok(e);
            }
        }
    }
}

async fn ask_on(s: &UnixDatagram, command: &str) -> io::Result<String> {
    s.send(command.as_bytes()).await?;
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let n = tokio::time::timeout(ANSWER_WAIT, s.recv(&mut buf))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "hostapd did not answer"))??;
        // An event that slipped in before the answer (on the attached
        // socket) is not the answer.
        if buf.first() == Some(&b'<') {
            continue;
        }
        return Ok(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn association_events_and_nothing_else() {
        let m = [0x46, 0x4e, 0x68, 0x04, 0x53, 0x4d];
        assert_eq!(
            parse_event("<3>AP-STA-CONNECTED 46:4e:68:04:53:4d"),
            Some(HostapdEvent::Connected(m))
        );
        assert_eq!(
            parse_event("<3>AP-STA-DISCONNECTED 46:4E:68:04:53:4D"),
            Some(HostapdEvent::Disconnected(m))
        );
        assert_eq!(
            parse_event("AP-STA-CONNECTED 46:4e:68:04:53:4d p2p_dev_addr=00:00:00:00:00:00"),
            Some(HostapdEvent::Connected(m))
        );
        for other in [
            "<3>CTRL-EVENT-EAP-STARTED 46:4e:68:04:53:4d",
            "<3>AP-ENABLED ",
            "<3>AP-STA-CONNECTED",
            "<3>AP-STA-CONNECTED 46:4e:68:04:53",
            "<3>AP-STA-CONNECTED 46:4e:68:04:53:4d:00",
            "<3>AP-STA-CONNECTED 4g:4e:68:04:53:4d",
            "<3",
            "",
        ] {
            assert_eq!(parse_event(other), None, "{other:?}");
        }
        let config = "bssid=02:00:00:00:01:00\nssid=campus\nkey_mgmt=WPA-EAP\n";
        assert_eq!(value_of(config, "ssid"), Some("campus"));
        assert_eq!(value_of(config, "ss"), None);
    }
}
