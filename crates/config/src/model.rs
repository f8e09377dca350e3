//! The typed configuration: what the parser builds and the printer prints.
//!
//! Every field holds the value as configured; where IOS has a default the
//! field either holds the resolved value (documented on the field) or is an
//! `Option` with an accessor that applies the default, so that printing a
//! configuration and parsing it again gives an equal [`Config`].

use crate::ranges::{RangeList, Ranged};
use std::net::Ipv4Addr;

/// IOS default maximum registration lifetime a home agent grants, seconds
/// (IOS `ip mobile home-agent lifetime`, "default 36000").
pub const DEFAULT_HA_LIFETIME: u32 = 36_000;
/// IOS default timestamp tolerance of a security association, seconds
/// (`replay timestamp [within N]`, default 7).
pub const DEFAULT_REPLAY_WITHIN: u32 = 7;
/// IOS default lifetime a foreign agent advertises, seconds (IOS `ip mobile
/// registration-lifetime`, default 36000).
pub const DEFAULT_REGISTRATION_LIFETIME: u32 = 36_000;
/// IOS default time a foreign agent keeps a pending registration without a
/// reply, seconds (IOS `ip mobile foreign-agent reg-wait`, default 15).
pub const DEFAULT_REG_WAIT: u32 = 15;
/// RFC 1256 / IOS default `ip irdp maxadvertinterval`, seconds.
pub const DEFAULT_IRDP_MAX_ADVERT: u32 = 600;
/// IOS default RADIUS authentication port (`radius-server host ... auth-port`).
pub const DEFAULT_RADIUS_AUTH_PORT: u16 = 1645;
/// IOS default RADIUS accounting port (`radius-server host ... acct-port`).
pub const DEFAULT_RADIUS_ACCT_PORT: u16 = 1646;
/// IOS default `radius-server timeout`, seconds.
pub const DEFAULT_RADIUS_TIMEOUT: u32 = 5;
/// IOS default `radius-server retransmit`, attempts.
pub const DEFAULT_RADIUS_RETRANSMIT: u32 = 3;

/// A whole device configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `hostname NAME`; `None` until configured (IOS prints `Router` or `ap`).
    pub hostname: Option<String>,
    /// Interfaces in the order they were first named.
    pub interfaces: Vec<Interface>,
    /// `ip route ...` lines, in order.
    pub routes: Vec<StaticRoute>,
    /// `ip default-gateway A` (an AP's gateway, the Aironet documentation guidelines).
    pub default_gateway: Option<Ipv4Addr>,
    /// `router mobile` and the `ip mobile ...` global commands.
    pub mobile: MobileIp,
    /// The AP's global `ip proxy-mobile ...` commands (per-interface and
    /// per-SSID enables live on [`Interface`] and [`Ssid`]).
    pub proxy_mobile: ProxyMobile,
    /// `aaa ...` and `radius-server ...`.
    pub aaa: Aaa,
    /// `ip http ...`: the web pages and monitoring endpoints.
    pub http: Http,
    /// `username ...` lines, in order; names are unique.
    pub usernames: Vec<Username>,
    /// Standard IP access lists (`access-list N ...`), by increasing
    /// number, as IOS prints them.
    pub access_lists: Vec<AccessList>,
}

/// One `interface NAME` block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    /// Normalised name (see [`crate::normalize_interface_name`]).
    pub name: String,
    /// `description TEXT`.
    pub description: Option<String>,
    /// `ip address A M`.
    pub address: Option<InterfaceAddress>,
    /// `ip address A M secondary`, in order.
    pub secondary: Vec<InterfaceAddress>,
    /// `ip address dhcp`: the address (and, without `ip default-gateway`,
    /// the gateway) comes from a DHCP lease (RFC 2131). Only on BVI1, the
    /// access point's own address; never with `address` set.
    pub dhcp: bool,
    /// `shutdown` (true) / `no shutdown` (false, the default here).
    pub shutdown: bool,
    /// `ip irdp ...` (RFC 1256 router discovery; carries the mobility
    /// agent advertisement extension of RFC 5944 2.1).
    pub irdp: Irdp,
    /// `ip mobile foreign-service ...`: this interface offers foreign-agent
    /// service (RFC 5944 3.7).
    pub foreign_service: Option<ForeignService>,
    /// `ip mobile registration-lifetime N`; see
    /// [`Interface::registration_lifetime`].
    pub registration_lifetime: Option<u32>,
    /// `ip mobile prefix-length` (`Some(true)`) or `no ip mobile
    /// prefix-length` (`Some(false)`): the Prefix-Lengths extension
    /// (RFC 5944 2.1.2) in agent advertisements; see
    /// [`Interface::prefix_length`].
    pub prefix_length: Option<bool>,
    /// `ip proxy-mobile` on the interface (the Aironet documentation, steps 6, 9, 14).
    pub proxy_mobile: bool,
    /// `station-role ...` (Dot11Radio only); `None` is the default, root.
    pub station_role: Option<StationRole>,
    /// `ssid NAME` sub-blocks (Dot11Radio only), in order.
    pub ssids: Vec<Ssid>,
}

impl Interface {
    /// A new interface with nothing configured.
    pub fn new(name: impl Into<String>) -> Self {
        Interface {
            name: name.into(),
            ..Interface::default()
        }
    }

    /// Whether this is a radio interface (`Dot11Radio0`, `Dot11Radio1`),
    /// the only kind that takes `ssid` and `station-role`.
    pub fn is_radio(&self) -> bool {
        is_radio_name(&self.name)
    }

    /// The lifetime this interface's foreign agent advertises and accepts:
    /// `ip mobile registration-lifetime`, or IOS's default 36000 s.
    pub fn registration_lifetime(&self) -> u32 {
        self.registration_lifetime
            .unwrap_or(DEFAULT_REGISTRATION_LIFETIME)
    }

    /// Whether agent advertisements carry the Prefix-Lengths extension.
    /// IOS leaves it out unless told; pmip adds it unless told not to
    /// (`no ip mobile prefix-length`), because its access points learn
    /// their home agent's subnet from it.
    pub fn prefix_length(&self) -> bool {
        self.prefix_length.unwrap_or(true)
    }

    /// The station role in effect (IOS default: root).
    pub fn station_role(&self) -> StationRole {
        self.station_role.unwrap_or(StationRole::Root)
    }

    /// The SSID named `name` (case-sensitive, as 802.11 SSIDs are).
    pub fn ssid(&self, name: &str) -> Option<&Ssid> {
        self.ssids.iter().find(|s| s.name == name)
    }

    /// Every address of the interface, primary first.
    pub fn addresses(&self) -> impl Iterator<Item = &InterfaceAddress> {
        self.address.iter().chain(self.secondary.iter())
    }
}

pub(crate) fn is_radio_name(name: &str) -> bool {
    name.starts_with("Dot11Radio")
}

/// An interface address with its dotted mask, as `ip address A M` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InterfaceAddress {
    pub address: Ipv4Addr,
    pub mask: Ipv4Addr,
}

impl InterfaceAddress {
    /// Prefix length of the mask (the parser only admits contiguous masks).
    pub fn prefix_len(&self) -> u8 {
        u32::from(self.mask).leading_ones() as u8
    }

    /// The network address.
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) & u32::from(self.mask))
    }

    /// The directed broadcast address of the subnet.
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) | !u32::from(self.mask))
    }

    /// Whether `addr` is on this subnet.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & u32::from(self.mask) == u32::from(self.network())
    }
}

/// ICMP router discovery settings of one interface (IOS `ip irdp`).
///
/// Defaults are those of RFC 1256 section 4.1 and IOS: maxadvertinterval
/// 600 s, minadvertinterval 0.75 × max (450 s), holdtime 3 × max (1800 s).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Irdp {
    /// `ip irdp`: send router advertisements on this interface.
    pub enabled: bool,
    /// `ip irdp multicast`: advertise to 224.0.0.1 instead of the IOS
    /// default 255.255.255.255 (RFC 1256 4.1, AdvertisementAddress).
    pub multicast: bool,
    /// `ip irdp preference N`: the preference level of the router address
    /// advertised (RFC 1256 4.1, PreferenceLevel).
    pub preference: Option<i32>,
    /// `ip irdp maxadvertinterval N` as configured.
    pub max_advert_interval: Option<u32>,
    /// `ip irdp minadvertinterval N` as configured.
    pub min_advert_interval: Option<u32>,
    /// `ip irdp holdtime N` as configured.
    pub holdtime: Option<u32>,
}

impl Irdp {
    /// Maximum interval between advertisements in effect (default 600 s).
    pub fn max_advert_interval(&self) -> u32 {
        self.max_advert_interval.unwrap_or(DEFAULT_IRDP_MAX_ADVERT)
    }

    /// Minimum interval in effect (default 0.75 × max, so 450 s).
    pub fn min_advert_interval(&self) -> u32 {
        self.min_advert_interval
            .unwrap_or(self.max_advert_interval() * 3 / 4)
    }

    /// Advertisement lifetime in effect (default 3 × max, so 1800 s).
    pub fn holdtime(&self) -> u32 {
        self.holdtime.unwrap_or(self.max_advert_interval() * 3)
    }

    /// Preference level in effect (default 0).
    pub fn preference(&self) -> i32 {
        self.preference.unwrap_or(0)
    }
}

/// `ip mobile foreign-service [home-access ACL] [limit N]
/// [registration-required] [reverse-tunnel [mandatory]]` (IOS Mobile IP
/// command reference; reverse tunnelling per RFC 3024).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForeignService {
    /// `home-access ACL`: the standard access list of the home agents a
    /// visitor may register with through this interface (a number, or a
    /// name, which names no list here); see [`Config::home_access`].
    pub home_access: Option<String>,
    /// `limit N`: most visitors at once.
    pub limit: Option<u32>,
    /// `registration-required`: the R bit of the advertisement.
    pub registration_required: bool,
    /// `reverse-tunnel`: the T bit of the advertisement (RFC 3024).
    pub reverse_tunnel: bool,
    /// `reverse-tunnel mandatory`: refuse visitors that do not ask for it.
    pub reverse_tunnel_mandatory: bool,
}

/// `station-role ...` of a radio (Aironet). pmip's radio (the emulated
/// one, or hostapd) serves stations as a root access point whatever the
/// role; another role keeps proxy Mobile IP off, as on an Aironet AP, and
/// [`Config::warnings`] says the rest is not done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StationRole {
    /// `station-role root` (also `root access-point`, `root ap-only`): the
    /// default, an AP on the wired LAN.
    Root,
    /// `station-role repeater`.
    Repeater,
    /// `station-role non-root`.
    NonRoot,
    /// `station-role workgroup-bridge`.
    WorkgroupBridge,
}

impl StationRole {
    /// The IOS keyword(s).
    pub fn keyword(self) -> &'static str {
        match self {
            StationRole::Root => "root",
            StationRole::Repeater => "repeater",
            StationRole::NonRoot => "non-root",
            StationRole::WorkgroupBridge => "workgroup-bridge",
        }
    }
}

/// One `ssid NAME` block in a radio interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ssid {
    pub name: String,
    /// `ip proxy-mobile` inside the SSID (the Aironet documentation, step 11).
    pub proxy_mobile: bool,
    /// `vlan N` inside the SSID. The parser refuses it (pmip's AP bridges
    /// every SSID into BVI1 untagged); never set together with
    /// `proxy_mobile` (the Aironet documentation: "Proxy Mobile IP does
    /// not support VLANs").
    pub vlan: Option<u16>,
}

/// `ip route PREFIX MASK {NEXTHOP | INTERFACE [NEXTHOP]}` (an
/// administrative distance is refused: the kernel's table has no
/// floating routes to choose between).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    pub prefix: Ipv4Addr,
    pub mask: Ipv4Addr,
    /// Outgoing interface, when given (normalised name).
    pub interface: Option<String>,
    /// Next hop, when given. At least one of `interface` and `next_hop`.
    pub next_hop: Option<Ipv4Addr>,
}

impl StaticRoute {
    /// Prefix length of the mask.
    pub fn prefix_len(&self) -> u8 {
        u32::from(self.mask).leading_ones() as u8
    }
}

/// An inclusive address range `LOW [HIGH]` as IOS writes it; a single
/// address has `low == high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddrRange {
    pub low: Ipv4Addr,
    pub high: Ipv4Addr,
}

impl AddrRange {
    /// The range holding one address.
    pub fn single(addr: Ipv4Addr) -> Self {
        AddrRange {
            low: addr,
            high: addr,
        }
    }

    /// Whether `addr` is in the range.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.low <= addr && addr <= self.high
    }

    /// Whether the two ranges share an address.
    pub fn overlaps(&self, other: &AddrRange) -> bool {
        self.low <= other.high && other.low <= self.high
    }

    /// Number of addresses in the range.
    pub fn len(&self) -> u64 {
        u64::from(u32::from(self.high)) - u64::from(u32::from(self.low)) + 1
    }

    /// Never true: a range holds at least one address.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl std::fmt::Display for AddrRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{} {}", self.low, self.high)
        }
    }
}

/// Authentication algorithm of a mobility security association.
///
/// IOS default and the Aironet documentation: keyed MD5 in prefix+suffix mode; HMAC-MD5 on
/// request (RFC 5944 3.5.1). The wire crate has its own enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// `algorithm md5 mode prefix-suffix` (the default).
    #[default]
    KeyedMd5PrefixSuffix,
    /// `algorithm hmac-md5`.
    HmacMd5,
}

/// Replay protection of a mobility security association.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Replay {
    /// `replay timestamp [within N]`: identification is a timestamp that
    /// must lie within `within` seconds of ours (RFC 5944 5.7; IOS default
    /// 7 s).
    Timestamp { within: u32 },
}

impl Default for Replay {
    fn default() -> Self {
        Replay::Timestamp {
            within: DEFAULT_REPLAY_WITHIN,
        }
    }
}

/// How the key was written, kept so the printed configuration uses the
/// same form (an AP's `key ascii` must stay ascii: its `key hex` takes
/// exactly 32 digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFormat {
    Hex,
    Ascii,
}

/// A mobility security association (RFC 5944 1.6, 3.5).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecurityAssociation {
    /// Security parameter index (configured in hexadecimal, as IOS does).
    pub spi: u32,
    /// The raw key: decoded bytes for `key hex`, the characters' bytes for
    /// `key ascii`.
    pub key: Vec<u8>,
    /// How the key was written.
    pub key_format: KeyFormat,
    pub algorithm: Algorithm,
    pub replay: Replay,
}

impl std::fmt::Debug for SecurityAssociation {
    /// Never shows the key (it ends up in logs otherwise).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityAssociation")
            .field("spi", &format_args!("{:x}", self.spi))
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .field("key_format", &self.key_format)
            .field("algorithm", &self.algorithm)
            .field("replay", &self.replay)
            .finish()
    }
}

/// Whom an `ip mobile secure ...` association is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SaPeer {
    /// `ip mobile secure host`: mobile nodes served by this home agent
    /// (MHAE).
    Host,
    /// `ip mobile secure visitor`: mobile nodes visiting this foreign agent
    /// (MFAE).
    Visitor,
    /// `ip mobile secure home-agent`: home agents this foreign agent talks
    /// to (FHAE).
    HomeAgent,
    /// `ip mobile secure foreign-agent`: foreign agents this home agent
    /// talks to (FHAE).
    ForeignAgent,
}

impl SaPeer {
    /// The IOS keyword after `ip mobile secure`.
    pub fn keyword(self) -> &'static str {
        match self {
            SaPeer::Host => "host",
            SaPeer::Visitor => "visitor",
            SaPeer::HomeAgent => "home-agent",
            SaPeer::ForeignAgent => "foreign-agent",
        }
    }
}

impl Ranged for SecureEntry {
    fn range(&self) -> AddrRange {
        self.range
    }
    /// Ranges are unique per peer kind.
    fn class(&self) -> u8 {
        self.peer as u8
    }
}

impl Ranged for MobileHost {
    fn range(&self) -> AddrRange {
        self.range
    }
}

impl Ranged for SecureNode {
    fn range(&self) -> AddrRange {
        self.range
    }
}

/// One `ip mobile secure PEER LOW [HIGH] spi ...` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecureEntry {
    pub peer: SaPeer,
    pub range: AddrRange,
    pub sa: SecurityAssociation,
}

/// `router mobile` and the global `ip mobile ...` commands of a router.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MobileIp {
    /// `router mobile`: Mobile IP runs on this router (IOS needs it for
    /// home- and foreign-agent service).
    pub router_mobile: bool,
    /// `ip mobile home-agent ...`.
    pub home_agent: Option<HomeAgent>,
    /// `ip mobile host ...`, in order; ranges never overlap.
    pub hosts: RangeList<MobileHost>,
    /// `ip mobile secure ...`, in order; ranges of one peer kind never
    /// overlap.
    pub secure: RangeList<SecureEntry>,
    /// `ip mobile foreign-agent ...`.
    pub foreign_agent: Option<ForeignAgent>,
    /// `ip mobile bindupdate` (hidden IOS command, the Aironet documentation note): send
    /// (home agent) / accept (foreign agent) Binding Updates.
    pub bindupdate: bool,
    /// `ip mobile bindupdate ack` (the Aironet documentation note): ask for / send Binding
    /// Acknowledges.
    pub bindupdate_ack: bool,
}

impl MobileIp {
    /// The association of `peer` kind whose range holds `addr`.
    pub fn sa(&self, peer: SaPeer, addr: Ipv4Addr) -> Option<&SecurityAssociation> {
        self.secure.containing(peer as u8, addr).map(|e| &e.sa)
    }

    /// The `ip mobile host` range holding `addr`.
    pub fn host(&self, addr: Ipv4Addr) -> Option<&MobileHost> {
        self.hosts.containing(0, addr)
    }
}

/// `ip mobile home-agent [lifetime N] [reverse-tunnel-off]`. Re-entering
/// the line replaces every option. IOS's `broadcast` and `replay N` are
/// refused: this home agent forwards no broadcasts (RFC 5944 4.3), and the
/// timestamp window is each security association's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeAgent {
    /// Longest lifetime granted, seconds (IOS default 36000).
    pub lifetime: u32,
    /// `reverse-tunnel-off`: refuse reverse tunnels (RFC 3024 code 137).
    pub reverse_tunnel_off: bool,
}

impl Default for HomeAgent {
    fn default() -> Self {
        HomeAgent {
            lifetime: DEFAULT_HA_LIFETIME,
            reverse_tunnel_off: false,
        }
    }
}

/// `ip mobile host LOW [HIGH] {interface IF | aaa ...} [aaa [load-sa
/// [permanent]]] [lifetime N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MobileHost {
    pub range: AddrRange,
    /// Home interface (normalised). May be absent only when `aaa` is set
    /// (names `ip mobile host LOW [HIGH] aaa`).
    pub interface: Option<String>,
    /// `aaa`: fetch the hosts' security associations from RADIUS.
    pub aaa: Option<AaaLoad>,
    /// `lifetime N`: per-host lifetime limit (overrides the home agent's).
    pub lifetime: Option<u32>,
}

/// How an `ip mobile host ... aaa` association is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AaaLoad {
    /// `aaa`: ask the server at every registration.
    OnDemand,
    /// `aaa load-sa`: keep the association once fetched (cached).
    LoadSa,
    /// `aaa load-sa permanent`: keep it until cleared.
    LoadSaPermanent,
}

/// `ip mobile foreign-agent [care-of IF] [reg-wait N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignAgent {
    /// The care-of interface: at most one (the parser refuses a second),
    /// whose primary address is the care-of address advertised and
    /// registered.
    pub care_of: Vec<String>,
    /// Seconds a pending registration waits for a reply (IOS default 15;
    /// RFC 5944 3.7.1 leaves it to the agent).
    pub reg_wait: u32,
}

impl Default for ForeignAgent {
    fn default() -> Self {
        ForeignAgent {
            care_of: Vec::new(),
            reg_wait: DEFAULT_REG_WAIT,
        }
    }
}

/// The AP's global proxy Mobile IP settings (the Aironet documentation, "Configuring Proxy
/// Mobile IP on Your Access Point").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyMobile {
    /// `ip proxy-mobile enable` (disabled by default, the Aironet documentation).
    pub enabled: bool,
    /// `ip proxy-mobile pause`: stopped, configuration kept.
    pub paused: bool,
    /// `ip proxy-mobile aap A [B] [C]`: authoritative APs, at most three,
    /// by address or host name (the Aironet documentation guidelines).
    pub aaps: Vec<AapAddress>,
    /// `ip proxy-mobile aap key {ascii|hex} KEY`: the key every AP and AAP
    /// shares to authenticate the subnet map exchange (a pmip addition:
    /// the original protocol was never published; docs/subnet-map-exchange.md).
    pub aap_key: Option<(Vec<u8>, KeyFormat)>,
    /// `ip proxy-mobile secure node ...`, in order, ranges never overlap.
    pub nodes: RangeList<SecureNode>,
    /// `ip proxy-mobile tunnel gre`: ask for GRE instead of IP-in-IP.
    pub tunnel_gre: bool,
    /// `ip proxy-mobile tunnel reverse`: ask for a reverse tunnel.
    pub tunnel_reverse: bool,
    /// `ip proxy-mobile subnet-map HA MASK`: subnet map entries given by
    /// the operator (a pmip addition: the Aironet documentation's AP learns the table from
    /// its AAP; static entries serve where no AAP does and are kept when
    /// the learnt table changes).
    pub subnet_map: Vec<(Ipv4Addr, Ipv4Addr)>,
}

impl ProxyMobile {
    /// The association for visiting client `addr`.
    pub fn node_sa(&self, addr: Ipv4Addr) -> Option<&SecurityAssociation> {
        self.nodes.containing(0, addr).map(|n| &n.sa)
    }

    /// Whether proxy Mobile IP is enabled and not paused.
    pub fn active(&self) -> bool {
        self.enabled && !self.paused
    }
}

/// An authoritative AP, by address or by host name (the Aironet documentation: "use the
/// access point host names to specify the AAPs" when they use DHCP).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AapAddress {
    Addr(Ipv4Addr),
    Name(String),
}

impl std::fmt::Display for AapAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AapAddress::Addr(a) => write!(f, "{a}"),
            AapAddress::Name(n) => f.write_str(n),
        }
    }
}

/// One `ip proxy-mobile secure node START [END] spi N key ...` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecureNode {
    pub range: AddrRange,
    pub sa: SecurityAssociation,
}

/// `aaa ...` / `radius-server ...`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Aaa {
    /// `aaa new-model`.
    pub new_model: bool,
    /// `aaa authorization ipmobile {default | radius} [group NAME]`.
    pub authorization_ipmobile: Option<AaaAuthorization>,
    /// `radius-server host ...`, tried in order.
    pub radius_servers: Vec<RadiusServer>,
    /// `radius-server timeout N`; see [`Aaa::radius_timeout`].
    pub radius_timeout: Option<u32>,
    /// `radius-server retransmit N`; see [`Aaa::radius_retransmit`].
    pub radius_retransmit: Option<u32>,
    /// `radius-server key SECRET`: shared secret for servers without one.
    pub radius_key: Option<String>,
}

impl std::fmt::Debug for Aaa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aaa")
            .field("new_model", &self.new_model)
            .field("authorization_ipmobile", &self.authorization_ipmobile)
            .field("radius_servers", &self.radius_servers)
            .field("radius_timeout", &self.radius_timeout)
            .field("radius_retransmit", &self.radius_retransmit)
            .field("radius_key", &self.radius_key.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

impl Aaa {
    /// Seconds to wait for a RADIUS answer (IOS default 5).
    pub fn radius_timeout(&self) -> u32 {
        self.radius_timeout.unwrap_or(DEFAULT_RADIUS_TIMEOUT)
    }

    /// Times a RADIUS request is resent (IOS default 3).
    pub fn radius_retransmit(&self) -> u32 {
        self.radius_retransmit.unwrap_or(DEFAULT_RADIUS_RETRANSMIT)
    }

    /// Whether mobility security associations may come from RADIUS:
    /// `aaa new-model` and `aaa authorization ipmobile` and a server.
    pub fn radius_for_ipmobile(&self) -> bool {
        self.new_model && self.authorization_ipmobile.is_some() && !self.radius_servers.is_empty()
    }

    /// The shared secret for `server`: its own key, else `radius-server key`.
    pub fn key_for<'a>(&'a self, server: &'a RadiusServer) -> Option<&'a str> {
        server.key.as_deref().or(self.radius_key.as_deref())
    }
}

/// `aaa authorization ipmobile {default | radius} [group NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AaaAuthorization {
    /// The method list name: `default` or `radius`.
    pub list: String,
    /// `group NAME` (usually `radius`).
    pub group: Option<String>,
}

/// `radius-server host A [auth-port N] [acct-port N] [timeout N]
/// [retransmit N] [key SECRET]`.
#[derive(Clone, PartialEq, Eq)]
pub struct RadiusServer {
    pub address: Ipv4Addr,
    /// Authentication port (IOS default 1645; FreeRADIUS listens on 1812).
    pub auth_port: u16,
    /// Accounting port (IOS default 1646).
    pub acct_port: u16,
    /// Per-server timeout, seconds.
    pub timeout: Option<u32>,
    /// Per-server retransmit count.
    pub retransmit: Option<u32>,
    /// Shared secret (the rest of the line after `key`, as IOS reads it).
    pub key: Option<String>,
}

impl std::fmt::Debug for RadiusServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RadiusServer")
            .field("address", &self.address)
            .field("auth_port", &self.auth_port)
            .field("acct_port", &self.acct_port)
            .field("timeout", &self.timeout)
            .field("retransmit", &self.retransmit)
            .field("key", &self.key.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// IOS default `ip http port`.
pub const DEFAULT_HTTP_PORT: u16 = 80;

/// `ip http server`, `ip http port N`, `ip http authentication local`
/// (IOS HTTP server commands). HTTPS (`ip http secure-server`)
/// is not offered: the parser refuses it with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Http {
    /// `ip http server`: serve the web pages, `/api/...` and `/metrics`.
    pub server: bool,
    /// `ip http port N`; see [`Http::port`].
    pub port: Option<u16>,
    /// `ip http authentication local`: log in with the `username` lines.
    /// Without it nobody can log in (IOS would use the enable password,
    /// which pmip does not have).
    pub authentication_local: bool,
}

impl Http {
    /// The TCP port in effect (IOS default 80).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_HTTP_PORT)
    }
}

/// IOS privilege level of a `username` line without `privilege N`. IOS
/// itself defaults to 1; pmip has no other way to make an administrator,
/// so an unqualified user is one (documented in the README).
pub const DEFAULT_PRIVILEGE: u8 = 15;

/// `username NAME [privilege N] {password 0 TEXT | secret 0 TEXT |
/// secret 9 HASH}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Username {
    pub name: String,
    /// `privilege N` (0-15); see [`Username::privilege`]. Below 15 the web
    /// pages are read-only for this user.
    pub privilege: Option<u8>,
    pub credential: Credential,
}

/// How a user's password is kept.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// `password 0 TEXT`: kept in clear (IOS type 0), masked when shown.
    Password(String),
    /// `secret`: an IOS type 9 hash, `$9$SALT$HASH` (scrypt, N=16384,
    /// r=1, p=1, 14-character salt, 32-byte key in the crypt base64
    /// alphabet), so hashes from a Cisco device load here and back.
    Secret(String),
}

impl std::fmt::Debug for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Username")
            .field("name", &self.name)
            .field("privilege", &self.privilege)
            .field(
                "credential",
                &match self.credential {
                    Credential::Password(_) => "password <hidden>",
                    Credential::Secret(_) => "secret <hidden>",
                },
            )
            .finish()
    }
}

impl Username {
    /// The privilege level in effect ([`DEFAULT_PRIVILEGE`] when unset).
    pub fn privilege(&self) -> u8 {
        self.privilege.unwrap_or(DEFAULT_PRIVILEGE)
    }

    /// Whether `password` is this user's, compared in constant time. A
    /// `secret` costs one scrypt (16 MiB, tens of milliseconds): callers
    /// facing the network should limit how many run at once.
    pub fn verify(&self, password: &str) -> bool {
        use subtle::ConstantTimeEq;
        match &self.credential {
            Credential::Password(p) => bool::from(p.as_bytes().ct_eq(password.as_bytes())),
            Credential::Secret(hash) => match secret::salt_of(hash) {
                Some(salt) => {
                    let again = secret::type9_with_salt(password, salt);
                    bool::from(again.as_bytes().ct_eq(hash.as_bytes()))
                }
                None => false,
            },
        }
    }
}

impl Credential {
    /// A `secret` for `password`: its type 9 hash with a fresh random salt.
    pub fn secret(password: &str) -> Credential {
        Credential::Secret(secret::type9(password))
    }
}

/// The IOS type 9 hash of `password` with the given 14-character salt
/// (for known-answer checks; [`Credential::secret`] picks the salt).
/// `None` when the salt is not 14 characters of the crypt alphabet.
pub fn type9_hash_with_salt(password: &str, salt: &str) -> Option<String> {
    secret::valid_salt(salt).then(|| secret::type9_with_salt(password, salt))
}

/// IOS type 9 secrets (scrypt). The format is Cisco's, so hashes move
/// between IOS devices and pmip: `$9$` + 14 salt characters + `$` + the
/// 32-byte scrypt output in base64 written with the crypt alphabet.
pub(crate) mod secret {
    const ALPHABET: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const SALT_LEN: usize = 14;
    /// 32 bytes in base64 without padding.
    const HASH_LEN: usize = 43;

    /// Standard base64 bit order, crypt alphabet, no padding (what IOS
    /// writes; not the little-endian order of crypt(3)).
    fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }

    pub(crate) fn valid_salt(salt: &str) -> bool {
        salt.len() == SALT_LEN && salt.bytes().all(|b| ALPHABET.contains(&b))
    }

    /// Whether `text` is a well-formed type 9 hash.
    pub(crate) fn well_formed(text: &str) -> bool {
        salt_of(text).is_some()
    }

    /// The salt of a well-formed `$9$SALT$HASH`.
    pub(crate) fn salt_of(text: &str) -> Option<&str> {
        let rest = text.strip_prefix("$9$")?;
        let (salt, hash) = rest.split_once('$')?;
        (valid_salt(salt) && hash.len() == HASH_LEN && hash.bytes().all(|b| ALPHABET.contains(&b)))
            .then_some(salt)
    }

    pub(crate) fn type9_with_salt(password: &str, salt: &str) -> String {
        // Cisco's parameters: N = 2^14, r = 1, p = 1, 32 bytes.
        let params = scrypt::Params::new(14, 1, 1, 32).expect("valid scrypt parameters");
        let mut key = [0u8; 32];
        scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut key)
            .expect("32 bytes is a valid scrypt output length");
        format!("$9${salt}${}", encode(&key))
    }

    pub(crate) fn type9(password: &str) -> String {
        let mut random = [0u8; SALT_LEN];
        getrandom::fill(&mut random).expect("the kernel's random source");
        let salt: String = random
            .iter()
            .map(|b| ALPHABET[usize::from(b & 63)] as char)
            .collect();
        type9_with_salt(password, &salt)
    }
}

/// Whether `n` numbers a standard IP access list (IOS: 1-99, and the
/// expanded range 1300-1999).
pub fn is_standard_acl_number(n: u32) -> bool {
    (1..=99).contains(&n) || (1300..=1999).contains(&n)
}

/// A standard IP access list: the `access-list N {permit | deny | remark}
/// ...` lines of one number, in order. An address is matched against the
/// entries in order, the first match decides, and an address no entry
/// matches is denied (IOS's implicit `deny any` at the end).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessList {
    /// 1-99 or 1300-1999.
    pub number: u16,
    /// The entries in order; never empty (`no access-list N` removes
    /// the whole list).
    pub entries: Vec<AclEntry>,
}

/// One line of an [`AccessList`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclEntry {
    Permit(AclSource),
    Deny(AclSource),
    /// `remark TEXT`: a comment, matching nothing.
    Remark(String),
}

/// The addresses an entry matches: an address and wildcard bits (a set
/// bit matches either value). Normalised as IOS does: the address has no
/// bit where the wildcard has one, so `10.1.1.1 0.0.0.255` is kept as
/// `10.1.1.0 0.0.0.255`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AclSource {
    pub address: Ipv4Addr,
    pub wildcard: Ipv4Addr,
}

impl AclSource {
    /// `any`: every address.
    pub const ANY: AclSource = AclSource {
        address: Ipv4Addr::UNSPECIFIED,
        wildcard: Ipv4Addr::BROADCAST,
    };

    /// `A WILDCARD`, normalised.
    pub fn new(address: Ipv4Addr, wildcard: Ipv4Addr) -> AclSource {
        AclSource {
            address: Ipv4Addr::from(u32::from(address) & !u32::from(wildcard)),
            wildcard,
        }
    }

    /// `host A` (or `A` alone): that address only.
    pub fn host(address: Ipv4Addr) -> AclSource {
        AclSource::new(address, Ipv4Addr::UNSPECIFIED)
    }

    /// Whether `addr` is one of the addresses matched.
    pub fn matches(&self, addr: Ipv4Addr) -> bool {
        let care = !u32::from(self.wildcard);
        u32::from(addr) & care == u32::from(self.address)
    }
}

impl std::fmt::Display for AclSource {
    /// As IOS prints a standard entry's source: `any`, the address alone
    /// for a host, else the address and the wildcard bits.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if *self == AclSource::ANY {
            f.write_str("any")
        } else if self.wildcard.is_unspecified() {
            write!(f, "{}", self.address)
        } else {
            write!(f, "{} {}", self.address, self.wildcard)
        }
    }
}

impl std::fmt::Display for AclEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AclEntry::Permit(s) => write!(f, "permit {s}"),
            AclEntry::Deny(s) => write!(f, "deny {s}"),
            AclEntry::Remark(t) => write!(f, "remark {t}"),
        }
    }
}

impl AccessList {
    /// Whether the list permits `addr`: the first permit or deny entry
    /// matching it decides; none matching denies.
    pub fn permits(&self, addr: Ipv4Addr) -> bool {
        self.entries
            .iter()
            .find_map(|e| match e {
                AclEntry::Permit(s) if s.matches(addr) => Some(true),
                AclEntry::Deny(s) if s.matches(addr) => Some(false),
                _ => None,
            })
            .unwrap_or(false)
    }

    /// Whether the list has a permit or deny entry (a list of remarks
    /// only matches nothing, and IOS treats it as no list).
    pub fn has_rules(&self) -> bool {
        self.entries
            .iter()
            .any(|e| !matches!(e, AclEntry::Remark(_)))
    }
}

impl Config {
    /// The standard access list called `name` (its number), if configured.
    pub fn access_list(&self, name: &str) -> Option<&AccessList> {
        let n: u16 = name.parse().ok()?;
        self.access_lists.iter().find(|l| l.number == n)
    }

    /// The access list `ip mobile foreign-service home-access` names on
    /// `interface`, when it restricts anything: `None` when the interface
    /// has no home-access, or names a list that does not exist or has no
    /// permit or deny entry (IOS then permits every home agent;
    /// [`Config::warnings`] says so).
    pub fn home_access(&self, interface: &Interface) -> Option<&AccessList> {
        let name = interface.foreign_service.as_ref()?.home_access.as_deref()?;
        self.access_list(name).filter(|l| l.has_rules())
    }
}

impl Config {
    /// The `username` line for `name` (names are case-sensitive, as in IOS).
    pub fn username(&self, name: &str) -> Option<&Username> {
        self.usernames.iter().find(|u| u.name == name)
    }
}

impl Config {
    /// The interface called `name` (any accepted spelling, e.g. `fa0`).
    pub fn interface(&self, name: &str) -> Option<&Interface> {
        let words: Vec<&str> = name.split_whitespace().collect();
        let canonical = crate::ifname::normalize(&words).ok()?;
        self.interfaces.iter().find(|i| i.name == canonical)
    }

    /// Whether this device is a home agent: `router mobile` and
    /// `ip mobile home-agent`.
    pub fn is_home_agent(&self) -> bool {
        self.mobile.router_mobile && self.mobile.home_agent.is_some()
    }

    /// Whether this device is a foreign agent: `router mobile`,
    /// `ip mobile foreign-agent` and at least one interface with
    /// `ip mobile foreign-service`.
    pub fn is_foreign_agent(&self) -> bool {
        self.mobile.router_mobile
            && self.mobile.foreign_agent.is_some()
            && self.interfaces.iter().any(|i| i.foreign_service.is_some())
    }

    /// Whether this device is a proxy Mobile IP access point
    /// (`ip proxy-mobile enable`, paused or not).
    pub fn is_proxy_ap(&self) -> bool {
        self.proxy_mobile.enabled
    }

    /// Things that parse but a device will likely refuse or regret, one
    /// sentence each (the parser accepts lines in any order, so these are
    /// whole-configuration checks, not line errors).
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let m = &self.mobile;
        if !m.router_mobile && m.home_agent.is_some() {
            w.push("`ip mobile home-agent` has no effect without `router mobile`".to_string());
        }
        if !m.router_mobile && m.foreign_agent.is_some() {
            w.push("`ip mobile foreign-agent` has no effect without `router mobile`".to_string());
        }
        if m.foreign_agent.is_some() && !self.interfaces.iter().any(|i| i.foreign_service.is_some())
        {
            w.push(
                "`ip mobile foreign-agent` but no interface has `ip mobile foreign-service`"
                    .to_string(),
            );
        }
        let missing = |name: &str| !self.interfaces.iter().any(|i| i.name == name);
        for h in &m.hosts {
            if let Some(i) = h.interface.as_deref().filter(|i| missing(i)) {
                w.push(format!(
                    "`ip mobile host {}` names interface {i}, which is not configured",
                    h.range
                ));
            } else if let Some(i) = h
                .interface
                .as_deref()
                .and_then(|i| self.interface(i))
                .filter(|i| i.address.is_none())
            {
                w.push(format!(
                    "`ip mobile host {}` names interface {}, which has no `ip address`: no home network there",
                    h.range, i.name
                ));
            }
        }
        let peers = |p: SaPeer| m.secure.iter().any(|e| e.peer == p);
        if m.home_agent.is_none()
            && (!m.hosts.is_empty() || peers(SaPeer::Host) || peers(SaPeer::ForeignAgent))
        {
            w.push("`ip mobile host` and `ip mobile secure host|foreign-agent` have no effect without `ip mobile home-agent`".to_string());
        }
        if m.foreign_agent.is_none() && (peers(SaPeer::Visitor) || peers(SaPeer::HomeAgent)) {
            w.push("`ip mobile secure visitor|home-agent` have no effect without `ip mobile foreign-agent`".to_string());
        }
        if let Some(fa) = &m.foreign_agent {
            for c in &fa.care_of {
                if missing(c) {
                    w.push(format!("care-of interface {c} is not configured"));
                } else if self.interface(c).is_some_and(|i| i.address.is_none()) {
                    w.push(format!("care-of interface {c} has no `ip address`"));
                }
            }
        }
        if let Some(fa) = &m.foreign_agent
            && fa.care_of.is_empty()
        {
            w.push("`ip mobile foreign-agent` without `care-of INTERFACE`: there is no care-of address to advertise".to_string());
        }
        let foreign_agent = self.is_foreign_agent();
        for i in &self.interfaces {
            if i.foreign_service.is_some() && !i.irdp.enabled {
                w.push(format!("{}: `ip mobile foreign-service` without `ip irdp` sends no agent advertisements", i.name));
            }
            if i.foreign_service.is_some() && i.address.is_none() {
                w.push(format!(
                    "{}: `ip mobile foreign-service` without `ip address` offers no foreign agent service",
                    i.name
                ));
            }
            let home_link = m
                .hosts
                .iter()
                .any(|h| h.interface.as_deref() == Some(&i.name));
            if i.foreign_service.is_some() && i.prefix_length == Some(false) && home_link {
                w.push(format!(
                    "{}: `no ip mobile prefix-length`: the access points on this home link cannot learn \
                     their home agent's subnet from its advertisements (RFC 5944 2.1.2)",
                    i.name
                ));
            }
            if i.foreign_service.is_some() && !foreign_agent {
                w.push(format!(
                    "{}: `ip mobile foreign-service` needs `router mobile` and `ip mobile foreign-agent` to serve visitors",
                    i.name
                ));
            }
            // Advertisements come from the foreign agent only (pmip sends
            // none for a router that is not one).
            if i.foreign_service.is_none() {
                if i.irdp.enabled {
                    w.push(format!("{}: `ip irdp` without `ip mobile foreign-service` sends no advertisements (pmip advertises as a foreign agent only)", i.name));
                }
                if i.registration_lifetime.is_some() {
                    w.push(format!("{}: `ip mobile registration-lifetime` has no effect without `ip mobile foreign-service`", i.name));
                }
                if i.prefix_length.is_some() {
                    w.push(format!("{}: `ip mobile prefix-length` has no effect without `ip mobile foreign-service`", i.name));
                }
            }
            if let Some(acl) = i
                .foreign_service
                .as_ref()
                .and_then(|f| f.home_access.as_deref())
            {
                match self.access_list(acl) {
                    None => w.push(format!(
                        "{}: home-access {acl}: no such access list, so every home agent is permitted (as IOS does)",
                        i.name
                    )),
                    Some(l) if !l.has_rules() => w.push(format!(
                        "{}: home-access {acl}: the list has no permit or deny entry, so every home agent is permitted (as IOS does)",
                        i.name
                    )),
                    Some(_) => {}
                }
            }
            if i.station_role() != StationRole::Root {
                w.push(format!(
                    "{}: `station-role {}`: pmip's radio serves stations as a root access point whatever the role; \
                     the role only keeps proxy Mobile IP off (the Aironet documentation)",
                    i.name,
                    i.station_role().keyword()
                ));
            }
            if !crate::ifname::is_linux_name(&i.name) {
                w.push(format!(
                    "{}: not a valid Linux interface name (at most 15 characters, no '/')",
                    i.name
                ));
            }
        }
        let p = &self.proxy_mobile;
        if !p.enabled && *p != ProxyMobile::default() {
            w.push(
                "`ip proxy-mobile ...` lines have no effect without `ip proxy-mobile enable`"
                    .to_string(),
            );
        }
        for a in &p.aaps {
            if let AapAddress::Name(n) = a {
                w.push(format!("`ip proxy-mobile aap {n}`: host names are not resolved (no DNS here), so the exchange uses only the AAPs given by address"));
            }
        }
        for r in &self.aaa.radius_servers {
            if r.acct_port != DEFAULT_RADIUS_ACCT_PORT {
                w.push(format!(
                    "radius-server host {}: `acct-port` has no effect: pmip sends no RADIUS accounting",
                    r.address
                ));
            }
        }
        if p.enabled {
            // With `ip address dhcp` the lease's router option is the gateway.
            let dhcp = self.interfaces.iter().any(|i| i.dhcp);
            if self.default_gateway.is_none() && !dhcp {
                w.push(
                    "proxy Mobile IP needs a gateway: `ip default-gateway A` (the Aironet documentation guidelines)"
                        .to_string(),
                );
            }
            if p.aaps.is_empty() {
                w.push(
                    "proxy Mobile IP needs an authoritative AP: `ip proxy-mobile aap A` (the Aironet documentation)"
                        .to_string(),
                );
            } else if p.aaps.len() == 1 {
                w.push("only one AAP: if it fails the subnet map is lost; configure at least two (the Aironet documentation)".to_string());
            }
            if !self
                .interfaces
                .iter()
                .any(|i| i.ssids.iter().any(|s| s.proxy_mobile))
            {
                w.push(
                    "no SSID has `ip proxy-mobile`: no client will be served (the Aironet documentation)"
                        .to_string(),
                );
            }
            if p.nodes.is_empty() && !self.aaa.radius_for_ipmobile() {
                w.push("no `ip proxy-mobile secure node` and no RADIUS: no client can register (the Aironet documentation)".to_string());
            }
        }
        if self.http.server && !self.http.authentication_local {
            w.push("`ip http server` without `ip http authentication local`: nobody can log in to the web pages".to_string());
        } else if self.http.server && self.usernames.is_empty() {
            w.push("`ip http server` but no `username NAME secret 0 TEXT`: nobody can log in to the web pages".to_string());
        }
        if (self.aaa.authorization_ipmobile.is_some() || m.hosts.iter().any(|h| h.aaa.is_some()))
            && !self.aaa.radius_for_ipmobile()
        {
            w.push("RADIUS for Mobile IP needs `aaa new-model`, `aaa authorization ipmobile default group radius` and a `radius-server host`".to_string());
        }
        w
    }
}
