//! The lab's topology file: one statement per line, `#` starts a comment.
//! It is ours (no device reads it); the devices get their own IOS
//! configurations, generated from it by [`crate::configs`].
//!
//! ```text
//! name campus                     # namespaces are pmiplab-campus-*
//! correspondent 203.0.113.10/24   # the host behind the core router
//! subnet 1 10.1.0.0/24 aap        # router r1 (HA + FA) and AP ap1; ap1 is an AAP
//! subnet 2 10.2.0.0/24 aap
//! subnet 3 10.3.0.0/24
//! client c1 home 1 10.1.0.50      # an unmodified host with a static address
//! client c2 home 1 10.1.0.60 dhcp # a host that uses DHCP (the AP must not proxy it)
//! tunnel ipip                     # ipip | gre
//! reverse-tunnel off              # on | off
//! ssid tsunami
//! key 0987654                     # the mobility SA key of every client (ASCII)
//! aap-key campus-aap              # the subnet map exchange key of every AP
//!                                 # (`none`: the Aironet walkthrough verbatim,
//!                                 # no key line, the exchange unauthenticated)
//! subnet-map aap                  # aap | static
//! aaa radius                      # SAs from a FreeRADIUS server, none in the devices
//! ```

use std::fmt::Write as _;
use std::net::Ipv4Addr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("topology line {line}: {message}")]
pub struct TopologyError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tunnel {
    Ipip,
    Gre,
}

/// How the APs learn the subnet map: from `ip proxy-mobile subnet-map`
/// lines written into each AP's configuration, or from the AAPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubnetMapSource {
    Static,
    Aap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// Static home address, no Mobile IP software: the AP proxies it.
    Static,
    /// Asks DHCP for its address (the Aironet documentation: not proxied).
    Dhcp,
    /// Runs its own Mobile IP stack (the Aironet documentation: not proxied).
    MobileIp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub id: u8,
    pub network: Ipv4Addr,
    pub prefix_len: u8,
    pub aap: bool,
}

impl Subnet {
    fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + n)
    }
    /// The router: home agent and foreign agent of the subnet.
    pub fn router_address(&self) -> Ipv4Addr {
        self.host(1)
    }
    pub fn ap_address(&self) -> Ipv4Addr {
        self.host(2)
    }
    pub fn mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::MAX << (32 - self.prefix_len))
    }
    pub fn size(&self) -> u32 {
        1 << (32 - self.prefix_len)
    }
    /// The home addresses the home agent serves: .10 up to .250 (or the
    /// last host of a smaller subnet).
    pub fn host_range(&self) -> (Ipv4Addr, Ipv4Addr) {
        (self.host(10), self.host((self.size() - 2).min(250)))
    }
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & u32::from(self.mask()) == u32::from(self.network)
    }
    pub fn router(&self) -> String {
        format!("r{}", self.id)
    }
    pub fn ap(&self) -> String {
        format!("ap{}", self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub name: String,
    pub home: u8,
    pub address: Ipv4Addr,
    pub kind: ClientKind,
    /// `aaa-unknown`: the RADIUS server has no entry for it (a device
    /// the campus does not know; its registrations must be refused).
    pub aaa_unknown: bool,
    /// `receive-only`: it never speaks first (a printer, a server, a phone
    /// waiting for a call); the demo's traffic comes from the
    /// correspondent and the client only answers.
    pub receive_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub name: String,
    pub correspondent: Ipv4Addr,
    pub correspondent_prefix_len: u8,
    pub subnets: Vec<Subnet>,
    pub clients: Vec<Client>,
    pub tunnel: Tunnel,
    pub reverse_tunnel: bool,
    pub ssid: String,
    pub key: String,
    /// `None`: no `ip proxy-mobile aap key` line (the walkthrough as
    /// printed).
    pub aap_key: Option<String>,
    pub subnet_map: SubnetMapSource,
    /// `aaa radius`: a FreeRADIUS server behind the core holds every
    /// client's SA; no device has one in its configuration.
    pub radius: bool,
}

/// The campus `pmip lab up` builds when no topology file is given.
pub const DEFAULT: &str =
    "# pmip lab topology (see `pmip lab --help`); edit and run `pmip lab up FILE`.
name campus
correspondent 203.0.113.10/24
subnet 1 10.1.0.0/24 aap
subnet 2 10.2.0.0/24 aap
subnet 3 10.3.0.0/24
client c1 home 1 10.1.0.50
client c2 home 1 10.1.0.51 receive-only
tunnel ipip
reverse-tunnel off
ssid tsunami
key 0987654
aap-key campus-aap
subnet-map aap
";

fn cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (a, l) = s.split_once('/')?;
    let a: Ipv4Addr = a.parse().ok()?;
    let l: u8 = l.parse().ok()?;
    (1..=30).contains(&l).then_some((a, l))
}

/// A name the kernel accepts as an interface name (the client's port on
/// the AP carries it) and that is safe in a namespace name.
fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 12
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

impl Topology {
    pub fn default_campus() -> Topology {
        Topology::parse(DEFAULT).expect("the default topology parses")
    }

    pub fn parse(text: &str) -> Result<Topology, TopologyError> {
        let mut t = Topology {
            name: "campus".into(),
            correspondent: Ipv4Addr::new(203, 0, 113, 10),
            correspondent_prefix_len: 24,
            subnets: Vec::new(),
            clients: Vec::new(),
            tunnel: Tunnel::Ipip,
            reverse_tunnel: false,
            ssid: "tsunami".into(),
            key: "0987654".into(),
            aap_key: Some("campus-aap".into()),
            subnet_map: SubnetMapSource::Static,
            radius: false,
        };
        // Clients are checked against subnets after the whole file is read
        // (a client may come before its subnet); keep their line numbers.
        let mut client_lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let err = |message: String| TopologyError { line, message };
            let words: Vec<&str> = raw
                .split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect();
            match words.as_slice() {
                [] => {}
                ["name", n] if valid_name(n) => t.name = (*n).into(),
                ["name", ..] => {
                    return Err(err(
                        "expected `name NAME` (letters, digits, '-', up to 12)".into()
                    ));
                }
                ["correspondent", c] => {
                    let (a, l) = cidr(c).ok_or_else(|| {
                        err("expected `correspondent A.B.C.D/LEN` (LEN 1-30)".into())
                    })?;
                    t.correspondent = a;
                    t.correspondent_prefix_len = l;
                }
                ["subnet", id, net, rest @ ..] => {
                    let id: u8 = id
                        .parse()
                        .ok()
                        .filter(|n| (1..=60).contains(n))
                        .ok_or_else(|| err(format!("subnet number `{id}`: expected 1-60")))?;
                    let (network, prefix_len) =
                        cidr(net).filter(|(_, l)| *l <= 26).ok_or_else(|| {
                            err(format!(
                                "subnet `{net}`: expected A.B.C.D/LEN with LEN 1-26"
                            ))
                        })?;
                    let aap = match rest {
                        [] => false,
                        ["aap"] => true,
                        _ => return Err(err("expected nothing or `aap` after the subnet".into())),
                    };
                    let s = Subnet {
                        id,
                        network,
                        prefix_len,
                        aap,
                    };
                    if u32::from(network) & !u32::from(s.mask()) != 0 {
                        return Err(err(format!(
                            "subnet `{net}`: host bits set (the network is {}/{prefix_len})",
                            Ipv4Addr::from(u32::from(network) & u32::from(s.mask()))
                        )));
                    }
                    if t.subnets.iter().any(|x| x.id == id) {
                        return Err(err(format!("subnet {id} is defined twice")));
                    }
                    if let Some(x) = t
                        .subnets
                        .iter()
                        .find(|x| x.contains(network) || s.contains(x.network))
                    {
                        return Err(err(format!("subnet `{net}` overlaps subnet {}", x.id)));
                    }
                    t.subnets.push(s);
                }
                ["client", name, "home", id, addr, rest @ ..] => {
                    if !valid_name(name) {
                        return Err(err(format!(
                            "client name `{name}`: letters, digits, '-', up to 12, starting with a letter"
                        )));
                    }
                    let home: u8 = id.parse().map_err(|_| {
                        err(format!("client home `{id}`: expected a subnet number"))
                    })?;
                    let address: Ipv4Addr = addr
                        .parse()
                        .map_err(|_| err(format!("client address `{addr}`: expected A.B.C.D")))?;
                    let (kind, aaa_unknown, receive_only) = match rest {
                        [] => (ClientKind::Static, false, false),
                        ["dhcp"] => (ClientKind::Dhcp, false, false),
                        ["mobile-ip"] => (ClientKind::MobileIp, false, false),
                        ["aaa-unknown"] => (ClientKind::Static, true, false),
                        ["receive-only"] => (ClientKind::Static, false, true),
                        _ => {
                            return Err(err(
                                "expected nothing, `dhcp`, `mobile-ip`, `aaa-unknown` or `receive-only` after the client address"
                                    .into(),
                            ));
                        }
                    };
                    if t.clients.iter().any(|c| c.name == *name) {
                        return Err(err(format!("client {name} is defined twice")));
                    }
                    t.clients.push(Client {
                        name: (*name).into(),
                        home,
                        address,
                        kind,
                        aaa_unknown,
                        receive_only,
                    });
                    client_lines.push(line);
                }
                ["tunnel", "ipip"] => t.tunnel = Tunnel::Ipip,
                ["tunnel", "gre"] => t.tunnel = Tunnel::Gre,
                ["tunnel", ..] => return Err(err("expected `tunnel ipip` or `tunnel gre`".into())),
                ["reverse-tunnel", "on"] => t.reverse_tunnel = true,
                ["reverse-tunnel", "off"] => t.reverse_tunnel = false,
                ["reverse-tunnel", ..] => {
                    return Err(err(
                        "expected `reverse-tunnel on` or `reverse-tunnel off`".into()
                    ));
                }
                ["ssid", s] if s.len() <= 32 && s.chars().all(|c| c.is_ascii_graphic()) => {
                    t.ssid = (*s).into()
                }
                ["ssid", ..] => {
                    return Err(err(
                        "expected `ssid NAME` (1-32 printable characters)".into()
                    ));
                }
                ["aap-key", "none"] => t.aap_key = None,
                ["aap-key", k] if k.len() <= 64 => t.aap_key = Some((*k).into()),
                ["aap-key", ..] => {
                    return Err(err(
                        "expected `aap-key ASCII` (up to 64 characters) or `aap-key none`".into(),
                    ));
                }
                ["key", k] if k.len() <= 64 => t.key = (*k).into(),
                ["key", ..] => {
                    return Err(err("expected `key ASCII` (up to 64 characters)".into()));
                }
                ["aaa", "radius"] => t.radius = true,
                ["aaa", "local"] => t.radius = false,
                ["aaa", ..] => return Err(err("expected `aaa radius` or `aaa local`".into())),
                ["subnet-map", "static"] => t.subnet_map = SubnetMapSource::Static,
                ["subnet-map", "aap"] => t.subnet_map = SubnetMapSource::Aap,
                ["subnet-map", ..] => {
                    return Err(err(
                        "expected `subnet-map static` or `subnet-map aap`".into()
                    ));
                }
                [other, ..] => {
                    return Err(err(format!(
                        "unknown statement `{other}`: expected name, correspondent, subnet, client, tunnel, reverse-tunnel, ssid, key, aap-key, subnet-map or aaa"
                    )));
                }
            }
        }
        let end = text.lines().count().max(1);
        if t.subnets.len() < 2 {
            return Err(TopologyError {
                line: end,
                message: "a campus needs at least two `subnet` lines (a client must have somewhere to roam)".into(),
            });
        }
        if t.subnets.iter().filter(|s| s.aap).count() > 3 {
            return Err(TopologyError {
                line: end,
                message: "at most three subnets can be `aap` (the Aironet documentation)".into(),
            });
        }
        if t.subnet_map == SubnetMapSource::Aap && !t.subnets.iter().any(|s| s.aap) {
            return Err(TopologyError {
                line: end,
                message: "`subnet-map aap` needs at least one subnet marked `aap`".into(),
            });
        }
        for (c, line) in t.clients.iter().zip(client_lines) {
            let err = |message: String| TopologyError { line, message };
            let Some(s) = t.subnets.iter().find(|s| s.id == c.home) else {
                return Err(err(format!("client {}: no subnet {}", c.name, c.home)));
            };
            let (lo, hi) = s.host_range();
            if !(lo..=hi).contains(&c.address) {
                return Err(err(format!(
                    "client {}: address {} is not in subnet {}'s home address range {lo} - {hi}",
                    c.name, c.address, s.id
                )));
            }
        }
        if t.subnets.iter().any(|s| {
            let c = t.correspondent;
            s.contains(c)
        }) {
            return Err(TopologyError {
                line: end,
                message: "the correspondent's address is inside a subnet".into(),
            });
        }
        Ok(t)
    }

    /// The file text of this topology (what `pmip lab up` writes).
    pub fn to_text(&self) -> String {
        let mut s = String::from("# pmip lab topology; edit and run `pmip lab up FILE`.\n");
        let _ = writeln!(s, "name {}", self.name);
        let _ = writeln!(
            s,
            "correspondent {}/{}",
            self.correspondent, self.correspondent_prefix_len
        );
        for n in &self.subnets {
            let _ = writeln!(
                s,
                "subnet {} {}/{}{}",
                n.id,
                n.network,
                n.prefix_len,
                if n.aap { " aap" } else { "" }
            );
        }
        for c in &self.clients {
            let kind = match (c.kind, c.aaa_unknown) {
                _ if c.receive_only => " receive-only",
                (_, true) => " aaa-unknown",
                (ClientKind::Static, false) => "",
                (ClientKind::Dhcp, false) => " dhcp",
                (ClientKind::MobileIp, false) => " mobile-ip",
            };
            let _ = writeln!(s, "client {} home {} {}{kind}", c.name, c.home, c.address);
        }
        let _ = writeln!(
            s,
            "tunnel {}",
            match self.tunnel {
                Tunnel::Ipip => "ipip",
                Tunnel::Gre => "gre",
            }
        );
        let _ = writeln!(
            s,
            "reverse-tunnel {}",
            if self.reverse_tunnel { "on" } else { "off" }
        );
        let _ = writeln!(s, "ssid {}", self.ssid);
        let _ = writeln!(s, "key {}", self.key);
        let _ = writeln!(s, "aap-key {}", self.aap_key.as_deref().unwrap_or("none"));
        let _ = writeln!(
            s,
            "subnet-map {}",
            match self.subnet_map {
                SubnetMapSource::Static => "static",
                SubnetMapSource::Aap => "aap",
            }
        );
        if self.radius {
            s.push_str("aaa radius\n");
        }
        s
    }

    pub fn subnet(&self, id: u8) -> Option<&Subnet> {
        self.subnets.iter().find(|s| s.id == id)
    }

    pub fn client(&self, name: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.name == name)
    }

    /// The namespace prefix of this lab; `pmip lab down` removes every
    /// namespace that starts with it.
    pub fn prefix(&self) -> String {
        format!("pmiplab-{}-", self.name)
    }

    /// The namespace prefix named by a topology text even when the rest of
    /// it does not parse (so `pmip lab down` can clean any lab it wrote).
    pub fn prefix_of_text(text: &str) -> Option<String> {
        text.lines().find_map(|l| {
            match l
                .split('#')
                .next()?
                .split_whitespace()
                .collect::<Vec<_>>()
                .as_slice()
            {
                ["name", n] if valid_name(n) => Some(format!("pmiplab-{n}-")),
                _ => None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_round_trips() {
        let t = Topology::default_campus();
        assert_eq!(t.subnets.len(), 3);
        assert_eq!(t.subnets.iter().filter(|s| s.aap).count(), 2);
        assert_eq!(Topology::parse(&t.to_text()).unwrap(), t);
        let s = t.subnet(2).unwrap();
        assert_eq!(s.router_address(), Ipv4Addr::new(10, 2, 0, 1));
        assert_eq!(s.ap_address(), Ipv4Addr::new(10, 2, 0, 2));
        assert_eq!(s.mask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(
            s.host_range(),
            (Ipv4Addr::new(10, 2, 0, 10), Ipv4Addr::new(10, 2, 0, 250))
        );
    }

    fn line_of(text: &str) -> (usize, String) {
        let e = Topology::parse(text).unwrap_err();
        (e.line, e.message)
    }

    #[test]
    fn errors_name_the_line() {
        let base = "subnet 1 10.1.0.0/24\nsubnet 2 10.2.0.0/24\n";
        assert_eq!(line_of(&format!("{base}tunnel udp\n")).0, 3);
        assert_eq!(line_of(&format!("{base}\n\nfoo bar\n")).0, 5);
        let (l, m) = line_of(&format!("{base}subnet 3 10.1.0.0/16\n"));
        assert_eq!(l, 3);
        assert!(m.contains("overlaps"), "{m}");
        let (l, m) = line_of(&format!("{base}subnet 3 10.3.0.1/24\n"));
        assert_eq!(l, 3);
        assert!(m.contains("host bits"), "{m}");
        let (l, m) = line_of(&format!("client c1 home 1 10.2.0.50\n{base}"));
        assert_eq!(l, 1);
        assert!(m.contains("home address range"), "{m}");
        let (l, m) = line_of(&format!("{base}client c1 home 7 10.1.0.50\n"));
        assert_eq!(l, 3);
        assert!(m.contains("no subnet 7"), "{m}");
        assert_eq!(line_of("subnet 1 10.1.0.0/24\n").0, 1);
        assert_eq!(
            line_of(&format!(
                "{base}client this-name-is-too-long home 1 10.1.0.50\n"
            ))
            .0,
            3
        );
        assert_eq!(line_of(&format!("{base}subnet 1 10.9.0.0/24\n")).0, 3);
        assert_eq!(line_of(&format!("{base}reverse-tunnel maybe\n")).0, 3);
        assert_eq!(line_of(&format!("{base}subnet-map aap\n")).0, 3);
    }

    #[test]
    fn comments_and_client_kinds() {
        let t = Topology::parse(
            "# a lab\nname t1 # short\nsubnet 1 10.1.0.0/24 aap\nsubnet 2 10.2.0.0/24\nclient a home 1 10.1.0.50\nclient b home 2 10.2.0.60 dhcp\nclient m home 2 10.2.0.61 mobile-ip\ntunnel gre\nreverse-tunnel on\nsubnet-map aap\n",
        )
        .unwrap();
        assert_eq!(t.name, "t1");
        assert_eq!(t.prefix(), "pmiplab-t1-");
        assert_eq!(t.tunnel, Tunnel::Gre);
        assert!(t.reverse_tunnel);
        assert_eq!(t.client("b").unwrap().kind, ClientKind::Dhcp);
        assert_eq!(t.client("m").unwrap().kind, ClientKind::MobileIp);
        assert_eq!(Topology::parse(&t.to_text()).unwrap(), t);
    }

    #[test]
    fn a_broken_file_still_names_its_lab() {
        let text = "name broken1\nsubnet 1 10.1.0.0/24\nthis line is wrong\n";
        assert!(Topology::parse(text).is_err());
        assert_eq!(
            Topology::prefix_of_text(text).as_deref(),
            Some("pmiplab-broken1-")
        );
        assert_eq!(Topology::prefix_of_text("subnet 1 10.1.0.0/24\n"), None);
    }
}
