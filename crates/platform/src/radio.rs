//! The emulated radio (docs/radio.md): the AP's bridge `BVI1` holds its wired port and one port per
//! associated station; a station's port carries the alias
//! `Dot11Radio0 ssid=NAME`. Associating is attaching such a port,
//! disassociating is its going away. A real deployment would take the
//! same events from hostapd; the engine does not care which.

use crate::netlink::{Netlink, NetlinkError};
use futures_util::TryStreamExt;
use rtnetlink::packet_route::link::LinkAttribute;
use rtnetlink::{LinkBridge, LinkUnspec};

/// One station port on the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationPort {
    pub ifindex: u32,
    pub name: String,
    /// The radio from the alias, e.g. `Dot11Radio0`.
    pub radio: String,
    pub ssid: String,
}

/// Reads `Dot11Radio0 ssid=NAME` (the radio, then `ssid=` and the SSID,
/// which may contain spaces).
pub fn parse_alias(alias: &str) -> Option<(String, String)> {
    let (radio, rest) = alias.trim().split_once(char::is_whitespace)?;
    if !radio.starts_with("Dot11Radio") {
        return None;
    }
    let ssid = rest.trim().strip_prefix("ssid=")?;
    (!ssid.is_empty()).then(|| (radio.to_owned(), ssid.to_owned()))
}

/// A link change seen on the netlink link group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// A link that is now a station port of bridge `controller` (the
    /// event itself carries master and alias: no dump needed, which is
    /// what makes a reassociation noticed in well under a millisecond).
    StationPort { controller: u32, port: StationPort },
    /// Anything else (a port gone, an address, a link without alias).
    Other,
}

/// What a link message says about a station port: its controller and
/// the port, if it carries a radio alias and has a controller.
fn station_port_of(msg: &rtnetlink::packet_route::link::LinkMessage) -> Option<(u32, StationPort)> {
    let mut controller = None;
    let mut alias = None;
    let mut name = String::new();
    for a in &msg.attributes {
        match a {
            LinkAttribute::Controller(c) => controller = Some(*c),
            LinkAttribute::IfAlias(s) => alias = Some(s.clone()),
            LinkAttribute::IfName(n) => name = n.clone(),
            _ => {}
        }
    }
    let (radio, ssid) = parse_alias(&alias?)?;
    Some((
        controller?,
        StationPort {
            ifindex: msg.header.index,
            name,
            radio,
            ssid,
        },
    ))
}

/// Calls back on every link change in this namespace (a port attached or
/// gone), so the AP notices an association at once rather than at the
/// next poll. The task ends when `notify` returns false.
pub fn watch_links(
    mut notify: impl FnMut(LinkEvent) -> bool + Send + 'static,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use rtnetlink::packet_core::NetlinkPayload;
    use rtnetlink::packet_route::RouteNetlinkMessage;
    let (conn, _handle, mut messages) =
        rtnetlink::new_multicast_connection(&[rtnetlink::MulticastGroup::Link])?;
    let conn_task = tokio::spawn(conn);
    Ok(tokio::spawn(async move {
        use futures_util::StreamExt;
        while let Some((msg, _)) = messages.next().await {
            let event = match &msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                    match station_port_of(link) {
                        Some((controller, port)) => LinkEvent::StationPort { controller, port },
                        None => LinkEvent::Other,
                    }
                }
                _ => LinkEvent::Other,
            };
            if !notify(event) {
                break;
            }
        }
        conn_task.abort();
    }))
}

impl Netlink {
    /// Creates the bridge `name` (up) and enslaves `wired`. An existing
    /// bridge is reused. The bridge is not recorded for removal: it and
    /// its station ports belong to the radio and outlive a restart of the
    /// daemon, which finds its stations on them again
    /// (docs/operator-interface.md).
    pub async fn create_bridge(
        &self,
        name: &str,
        wired: Option<&str>,
    ) -> Result<u32, NetlinkError> {
        let index = match self.link_index(name).await {
            Ok(i) => i,
            Err(NetlinkError::NoSuchLink(_)) => {
                self.handle()
                    .link()
                    .add(LinkBridge::new(name).build())
                    .execute()
                    .await?;
                self.link_index(name).await?
            }
            Err(e) => return Err(e),
        };
        self.link_up(index).await?;
        if let Some(w) = wired {
            let port = self.link_index(w).await?;
            self.handle()
                .link()
                .set(
                    LinkUnspec::new_with_index(port)
                        .controller(index)
                        .up()
                        .build(),
                )
                .execute()
                .await?;
        }
        Ok(index)
    }

    /// Makes `port` a port of `bridge` and brings it up (a hostapd radio
    /// interface: its stations' frames are bridged like the emulated
    /// radio's, docs/radio.md).
    pub async fn enslave(&self, port: u32, bridge: u32) -> Result<(), NetlinkError> {
        self.handle()
            .link()
            .set(
                LinkUnspec::new_with_index(port)
                    .controller(bridge)
                    .up()
                    .build(),
            )
            .execute()
            .await?;
        Ok(())
    }

    /// The station ports on `bridge`: ports whose alias names a radio
    /// and an SSID.
    pub async fn station_ports(&self, bridge: u32) -> Result<Vec<StationPort>, NetlinkError> {
        let mut out = Vec::new();
        let mut links = self.handle().link().get().execute();
        while let Some(msg) = links.try_next().await? {
            if let Some((controller, port)) = station_port_of(&msg)
                && controller == bridge
            {
                out.push(port);
            }
        }
        out.sort_by_key(|p| p.ifindex);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        assert_eq!(
            parse_alias("Dot11Radio0 ssid=tsunami"),
            Some(("Dot11Radio0".into(), "tsunami".into()))
        );
        assert_eq!(
            parse_alias("Dot11Radio1 ssid=guest net"),
            Some(("Dot11Radio1".into(), "guest net".into()))
        );
        assert_eq!(parse_alias("Dot11Radio0"), None);
        assert_eq!(parse_alias("Dot11Radio0 ssid="), None);
        assert_eq!(parse_alias("uplink ssid=x"), None);
        assert_eq!(parse_alias(""), None);
    }
}
