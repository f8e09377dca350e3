//! The AP's own address by DHCP (`interface BVI1` / `ip address dhcp`).
//!
//! The node runs the DHCP client engine (RFC 2131) on BVI1 once it knows
//! the bridge's MAC. Its datagrams go out as ordinary UDP transmits from
//! `0.0.0.0:68` (the driver sends them on BVI1), and what arrives on port
//! 68 comes back as datagrams. A lease sets the AP's own address and
//! prefix and starts the subnet map exchange with that address (or starts
//! it again when the address changed); a lost lease clears them and stops
//! the exchange. The driver reads [`Node::dhcp_lease`] to put the address
//! and the default route on BVI1.

use crate::{Node, Output, Transmit};
use pmip_config::Config;
use pmip_engine::dhcp_client::{self, Action, ClientConfig, Destination, DhcpClient, Lease};
use pmip_engine::time::Now;
use serde::Serialize;
use std::net::{Ipv4Addr, SocketAddrV4};

pub use dhcp_client::{CLIENT_PORT, SERVER_PORT};

/// The exchange's state while BVI1 has no lease yet.
pub const WAITING: &str = "BVI1 has no address yet: waiting for its DHCP lease";

/// The local address the node's DHCP datagrams are sent from and arrive
/// on: the driver's socket on BVI1, port 68.
pub const LOCAL: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, CLIENT_PORT);

/// Whether the configuration takes the AP's address by DHCP.
pub fn configured(config: &Config) -> bool {
    config.is_proxy_ap()
        && config
            .interface(crate::config::BRIDGE)
            .is_some_and(|i| i.dhcp)
}

/// The node's DHCP client and the MAC it runs with.
pub(crate) struct Dhcp {
    client: DhcpClient,
}

/// The lease, as `show dhcp lease` and `--json` give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseView {
    pub interface: String,
    /// RFC 2131 state: INIT, SELECTING, REQUESTING, BOUND, RENEWING,
    /// REBINDING.
    pub state: &'static str,
    pub address: Option<Ipv4Addr>,
    pub prefix_len: Option<u8>,
    /// The gateway in effect: `ip default-gateway` if configured, else
    /// the lease's router option.
    pub gateway: Option<Ipv4Addr>,
    /// The lease's router option.
    pub router: Option<Ipv4Addr>,
    pub server: Option<Ipv4Addr>,
    /// Seconds granted, `None` for an infinite lease or no lease.
    pub lease_secs: Option<u64>,
    pub remaining_secs: Option<u64>,
    pub renew_in_secs: Option<u64>,
    pub rebind_in_secs: Option<u64>,
    pub discovers: u64,
    pub requests: u64,
    pub offers: u64,
    pub acks: u64,
    pub naks: u64,
    pub malformed: u64,
    pub foreign: u64,
    pub unexpected: u64,
    pub leases_acquired: u64,
    pub leases_lost: u64,
}

/// What the driver puts on BVI1 for the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Installed {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// The default route's gateway: the router option, unless `ip
    /// default-gateway` is configured (the driver installs that one).
    pub router: Option<Ipv4Addr>,
}

fn secs(d: std::time::Duration) -> u64 {
    d.as_secs()
}

impl Node {
    /// The configuration as the AP and the exchange see it: BVI1 holds
    /// the leased address.
    pub(crate) fn lease_config(&self, config: &Config) -> Config {
        let mut c = config.clone();
        if let Some(l) = self.dhcp.as_ref().and_then(|d| d.client.lease())
            && let Some(i) = c
                .interfaces
                .iter_mut()
                .find(|i| i.name == crate::config::BRIDGE && i.dhcp)
        {
            i.address = Some(pmip_config::InterfaceAddress {
                address: l.address,
                mask: Ipv4Addr::from(
                    u32::MAX
                        .checked_shl(32 - u32::from(l.prefix_len))
                        .unwrap_or(0),
                ),
            });
        }
        c
    }

    /// After the bridge's MAC is known, or a `configure`: the client
    /// starts when `ip address dhcp` is on BVI1 and stops (the lease
    /// given up, the address cleared) when it is not any more.
    pub(crate) fn dhcp_follow(&mut self, now: Now, bridge_mac: Option<crate::Mac>) {
        let wanted = configured(&self.config);
        match (&mut self.dhcp, wanted) {
            (Some(_), false) => {
                let actions = self
                    .dhcp
                    .as_mut()
                    .map(|d| d.client.stop())
                    .unwrap_or_default();
                self.dhcp = None;
                self.dhcp_actions(now, actions);
                if self.ap.is_some() {
                    self.restart_exchange(now);
                }
            }
            (None, true) => {
                let Some(mac) = bridge_mac.or(self.dhcp_mac) else {
                    // Started when the bridge's MAC arrives.
                    return;
                };
                let mut client = DhcpClient::new(ClientConfig {
                    mac,
                    hostname: self.config.hostname.clone(),
                    // Different per device and per start (RFC 2131 4.1:
                    // xids chosen so that they differ between clients).
                    seed: u64::from_be_bytes([
                        0, 0, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
                    ]) ^ (now.unix.as_nanos() as u64),
                });
                let actions = client.start(now.instant);
                self.dhcp = Some(Dhcp { client });
                self.dhcp_actions(now, actions);
            }
            _ => {}
        }
        if let Some(mac) = bridge_mac {
            self.dhcp_mac = Some(mac);
        }
    }

    /// A datagram on port 68.
    pub(crate) fn dhcp_datagram(&mut self, now: Now, payload: &[u8]) {
        let Some(d) = &mut self.dhcp else {
            return self.drop_input("DHCP reply without `ip address dhcp`");
        };
        let actions = d.client.handle(now.instant, payload);
        self.dhcp_actions(now, actions);
    }

    pub(crate) fn dhcp_poll_timeout(&self) -> Option<pmip_engine::time::Instant> {
        self.dhcp.as_ref().and_then(|d| d.client.poll_timeout())
    }

    pub(crate) fn dhcp_timeout(&mut self, now: Now) {
        if let Some(d) = &mut self.dhcp
            && d.client.poll_timeout().is_some_and(|t| t <= now.instant)
        {
            let actions = d.client.handle_timeout(now.instant);
            self.dhcp_actions(now, actions);
        }
    }

    fn dhcp_actions(&mut self, now: Now, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send { to, payload } => {
                    let remote = match to {
                        Destination::Broadcast => Ipv4Addr::BROADCAST,
                        Destination::Unicast(a) => a,
                    };
                    self.out.push_back(Output::Transmit(Transmit::Udp {
                        local: LOCAL,
                        remote: SocketAddrV4::new(remote, SERVER_PORT),
                        payload,
                    }));
                }
                Action::Acquired(l) => {
                    tracing::info!(
                        address = %l.address,
                        prefix_len = l.prefix_len,
                        router = ?l.router,
                        server = %l.server,
                        lease = ?l.lease_time,
                        "BVI1: DHCP lease acquired"
                    );
                    self.own_address_changed(now);
                }
                Action::Lost {
                    address,
                    prefix_len,
                } => {
                    tracing::warn!(%address, prefix_len, "BVI1: DHCP lease lost");
                    // The client no longer holds it: `lease_config` gives
                    // BVI1 no address now.
                    self.own_address_changed(now);
                }
            }
        }
    }

    /// The AP's own address changed with the lease: the AP engine takes
    /// it, and the exchange starts again with it (or stops without one).
    fn own_address_changed(&mut self, now: Now) {
        let effective = self.lease_config(&self.config);
        if let Some(ap) = &mut self.ap {
            ap.set_config(now, &effective, self.exchange.table(), &mut self.out);
            self.restart_exchange(now);
        }
    }

    /// Starts the subnet map exchange again with the AP's own address
    /// (joins its AAP, which hands it the table), telling it our home
    /// agent again; off while a DHCP lease is awaited.
    pub(crate) fn restart_exchange(&mut self, now: Now) {
        let Some(ap) = &self.ap else { return };
        let own = ap.engine.config().own_address;
        if own.is_unspecified() && configured(&self.config) {
            self.exchange = crate::exchange::Exchange::off(WAITING);
            return;
        }
        let home_agent = ap.engine.own_home_agent();
        self.exchange =
            crate::exchange::Exchange::start(&self.config, own, now, Some(ap.stations.clone()));
        tracing::info!(%own, "subnet map exchange (re)started");
        self.exchange.own_home_agent(now, home_agent);
        self.exchange_turn(now);
    }

    /// The lease on BVI1 to install, if any.
    pub fn dhcp_lease(&self) -> Option<Installed> {
        let l = self.dhcp.as_ref()?.client.lease()?;
        Some(Installed {
            address: l.address,
            prefix_len: l.prefix_len,
            router: l.router,
        })
    }

    /// `show dhcp lease`: `None` without `ip address dhcp`.
    pub fn dhcp_view(&self, now: pmip_engine::time::Instant) -> Option<LeaseView> {
        let d = self.dhcp.as_ref()?;
        let l: Option<&Lease> = d.client.lease();
        let s = d.client.stats();
        Some(LeaseView {
            interface: crate::config::BRIDGE.into(),
            state: d.client.state().name(),
            address: l.map(|l| l.address),
            prefix_len: l.map(|l| l.prefix_len),
            gateway: self.config.default_gateway.or(l.and_then(|l| l.router)),
            router: l.and_then(|l| l.router),
            server: l.map(|l| l.server),
            lease_secs: l.and_then(|l| l.lease_time).map(secs),
            remaining_secs: l.and_then(|l| l.remaining(now)).map(secs),
            renew_in_secs: l
                .and_then(|l| l.renew_at)
                .map(|t| secs(t.saturating_since(now))),
            rebind_in_secs: l
                .and_then(|l| l.rebind_at)
                .map(|t| secs(t.saturating_since(now))),
            discovers: s.discovers,
            requests: s.requests,
            offers: s.offers,
            acks: s.acks,
            naks: s.naks,
            malformed: s.malformed,
            foreign: s.foreign,
            unexpected: s.unexpected,
            leases_acquired: s.leases_acquired,
            leases_lost: s.leases_lost,
        })
    }

    /// `show dhcp lease`, text or JSON.
    pub(crate) fn show_dhcp_lease(
        &self,
        now: pmip_engine::time::Instant,
        json: bool,
    ) -> Result<String, String> {
        let v = self
            .dhcp_view(now)
            .ok_or("% BVI1 does not take its address by DHCP (interface BVI1; ip address dhcp)")?;
        if json {
            return Ok(serde_json::to_string(&v).unwrap_or_default());
        }
        Ok(lease_text(&v))
    }
}

fn hms(s: u64) -> String {
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The text of `show dhcp lease` (IOS's layout, abridged).
pub fn lease_text(v: &LeaseView) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let opt = |a: Option<Ipv4Addr>| a.map_or("none".to_string(), |a| a.to_string());
    let _ = writeln!(s, "Interface {}: address by DHCP", v.interface);
    match (v.address, v.prefix_len) {
        (Some(a), Some(p)) => {
            let mask = Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0));
            let _ = writeln!(
                s,
                "Temp IP addr: {a}  for peer on Interface: {}",
                v.interface
            );
            let _ = writeln!(s, "Temp  sub net mask: {mask}");
        }
        _ => {
            let _ = writeln!(s, "Interface {}: no lease", v.interface);
        }
    }
    let _ = writeln!(
        s,
        "   DHCP Lease server: {}, state: {}",
        opt(v.server),
        v.state
    );
    match v.lease_secs {
        Some(l) => {
            let _ = writeln!(
                s,
                "   Lease: {l} secs,  Renewal: {} secs,  Rebind: {} secs, Remaining: {}",
                v.renew_in_secs.unwrap_or(0),
                v.rebind_in_secs.unwrap_or(0),
                hms(v.remaining_secs.unwrap_or(0))
            );
        }
        None if v.address.is_some() => {
            let _ = writeln!(s, "   Lease: infinite");
        }
        None => {}
    }
    let _ = writeln!(s, "   Temp default-gateway addr: {}", opt(v.gateway));
    let _ = writeln!(
        s,
        "   Sent: {} discover, {} request; received: {} offer, {} ack, {} nak",
        v.discovers, v.requests, v.offers, v.acks, v.naks
    );
    let _ = writeln!(
        s,
        "   Ignored: {} malformed, {} for another client, {} unexpected; leases: {} acquired, {} lost",
        v.malformed, v.foreign, v.unexpected, v.leases_acquired, v.leases_lost
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Input, LinkEvent};
    use dhcp_client::dhcproto::v4::{DhcpOption, Message, MessageType, Opcode};
    use dhcp_client::dhcproto::{Decodable, Encodable};
    use std::time::Duration;

    const CONFIG: &str = "hostname ap9
interface FastEthernet0
 ip proxy-mobile
interface Dot11Radio0
 ip proxy-mobile
 ssid tsunami
  ip proxy-mobile
interface BVI1
 ip address dhcp
 ip proxy-mobile
ip proxy-mobile enable
ip proxy-mobile aap 10.9.0.2
ip proxy-mobile aap key ascii k
";
    const MAC: crate::Mac = [2, 0, 0, 0, 0, 9];
    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
    const LEASED: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 77);

    fn dhcp_sent(node: &mut Node) -> Vec<(SocketAddrV4, Message)> {
        let mut v = Vec::new();
        while let Some(o) = node.poll_output() {
            if let Output::Transmit(Transmit::Udp {
                local,
                remote,
                payload,
            }) = o
                && local == LOCAL
            {
                v.push((remote, Message::from_bytes(&payload).unwrap()));
            }
        }
        v
    }

    fn reply(req: &Message, ty: MessageType) -> Vec<u8> {
        let z = Ipv4Addr::UNSPECIFIED;
        let mut m = Message::new_with_id(req.xid(), z, LEASED, SERVER, z, &req.chaddr()[..6]);
        m.set_opcode(Opcode::BootReply);
        let o = m.opts_mut();
        o.insert(DhcpOption::MessageType(ty));
        o.insert(DhcpOption::ServerIdentifier(SERVER));
        o.insert(DhcpOption::AddressLeaseTime(120));
        o.insert(DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)));
        o.insert(DhcpOption::Router(vec![SERVER]));
        m.to_vec().unwrap()
    }

    fn input(node: &mut Node, now: Now, payload: &[u8]) {
        node.handle(
            now,
            Input::Datagram {
                local: LOCAL,
                remote: SocketAddrV4::new(SERVER, SERVER_PORT),
                payload,
            },
        );
    }

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    /// The lease gives the AP its address, the exchange starts with it,
    /// and the expiry takes both away again.
    #[test]
    fn lease_sets_the_own_address_and_starts_the_exchange() {
        let config = Config::parse(CONFIG).unwrap();
        assert!(configured(&config));
        let mut now = Now::new(
            pmip_engine::time::Instant::ZERO,
            Duration::from_secs(1_700_000_000),
        );
        let mut node = Node::new(config, now);
        // Nothing on the exchange's ports before the lease.
        assert!(node.udp_sockets().is_empty(), "{:?}", node.udp_sockets());
        assert_eq!(node.exchange.off_reason(), Some(WAITING));
        dhcp_sent(&mut node);
        node.handle(now, Input::Link(LinkEvent::Bridge { mac: MAC }));
        let sent = dhcp_sent(&mut node);
        assert_eq!(sent.len(), 1);
        let (to, discover) = &sent[0];
        assert_eq!(*to, SocketAddrV4::new(Ipv4Addr::BROADCAST, SERVER_PORT));
        assert_eq!(&discover.chaddr()[..6], &MAC);
        now = now.advance(Duration::from_millis(5));
        input(&mut node, now, &reply(discover, MessageType::Offer));
        let request = dhcp_sent(&mut node).remove(0).1;
        assert_eq!(request.opts().msg_type(), Some(MessageType::Request));
        input(&mut node, now, &reply(&request, MessageType::Ack));
        assert_eq!(
            node.dhcp_lease(),
            Some(Installed {
                address: LEASED,
                prefix_len: 24,
                router: Some(SERVER)
            })
        );
        assert_eq!(node.exchange.own_address(), Some(LEASED));
        assert!(
            node.udp_sockets()
                .contains(&SocketAddrV4::new(LEASED, crate::EXCHANGE_PORT))
        );
        assert_eq!(
            node.ap.as_ref().unwrap().engine.config().own_address,
            LEASED
        );
        // The exchange joins its AAP from the leased address.
        let mut joined = false;
        while let Some(o) = node.poll_output() {
            if let Output::Transmit(Transmit::Udp { local, remote, .. }) = o
                && local == SocketAddrV4::new(LEASED, crate::EXCHANGE_PORT)
                && *remote.ip() == Ipv4Addr::new(10, 9, 0, 2)
            {
                joined = true;
            }
        }
        assert!(joined);
        // show dhcp lease, abbreviated, and as JSON.
        let text = node.exec(now, &words("sh dhcp lea"), false).unwrap();
        assert!(text.contains("Temp IP addr: 10.9.0.77"), "{text}");
        assert!(text.contains("address by DHCP"), "{text}");
        assert!(text.contains("Lease: 120 secs"), "{text}");
        assert!(text.contains("default-gateway addr: 10.9.0.1"), "{text}");
        let json = node.exec(now, &words("show dhcp lease"), true).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["address"], "10.9.0.77");
        assert_eq!(v["state"], "BOUND");
        assert_eq!(v["remaining_secs"], 120);
        // The running configuration still says dhcp, not the lease.
        assert!(
            node.config()
                .running_config(false)
                .contains(" ip address dhcp\n")
        );
        // A configure that changes nothing about the address keeps it.
        node.exec(
            now,
            &words("configure ip proxy-mobile tunnel reverse"),
            false,
        )
        .unwrap();
        assert_eq!(node.exchange.own_address(), Some(LEASED));
        assert_eq!(
            node.ap.as_ref().unwrap().engine.config().own_address,
            LEASED
        );
        // Renewal at T1 (60 s) unicast to the server.
        now = now.advance(Duration::from_secs(60));
        node.handle_timeout(now);
        let (to, renew) = dhcp_sent(&mut node).remove(0);
        assert_eq!(to, SocketAddrV4::new(SERVER, SERVER_PORT));
        assert_eq!(renew.ciaddr(), LEASED);
        // Nobody answers: at the end of the lease the address is gone.
        for _ in 0..20 {
            let Some(t) = node.poll_timeout() else { break };
            now = Now::new(t, now.unix);
            node.handle_timeout(now);
            if node.dhcp_lease().is_none() {
                break;
            }
        }
        assert_eq!(node.dhcp_lease(), None);
        assert_eq!(node.exchange.off_reason(), Some(WAITING));
        assert!(node.udp_sockets().is_empty());
        assert_eq!(
            node.ap.as_ref().unwrap().engine.config().own_address,
            Ipv4Addr::UNSPECIFIED
        );
        // `no ip address dhcp`: the client stops.
        node.exec(
            now,
            &words("configure interface BVI1; no ip address dhcp"),
            false,
        )
        .unwrap();
        assert!(node.exec(now, &words("show dhcp lease"), false).is_err());
    }
}
