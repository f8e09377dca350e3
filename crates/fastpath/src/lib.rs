//! The eBPF fast path of the tunnel data plane (docs/fast-path.md).
//!
//! One tc ingress program (`bpf/fastpath.bpf.c`), attached to every
//! Ethernet interface with an IPv4 address in the current network
//! namespace, encapsulates and decapsulates IP-in-IP (RFC 2003) and GRE
//! (RFC 2784) in the kernel for the bindings and visitors entered here,
//! and leaves every other packet to the user-space data plane
//! (`pmip_platform::dataplane`), which stays in place underneath.
//!
//! [`FastPath`] is the handle: load and attach, enter and remove bindings
//! and visitors, read the per-CPU counters as totals. Dropping it detaches
//! the program and frees every map. The device uses the process-wide
//! [`Hook`] ([`hook()`]), which loads the fast path in the background on
//! first use and falls back to the user-space path when it cannot.

mod hook;
pub mod isolation;
mod sys;

pub use hook::{Hook, hook};

use aya::maps::{Array, HashMap, MapData, PerCpuArray};
use aya::programs::LinkOrder;
use aya::programs::tc::{self, SchedClassifier, TcAttachOptions, TcAttachType};
use pmip_wire::tunnel::Encapsulation;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Why the BPF object is missing, set by build.rs (empty when it was
/// built).
const NOT_BUILT: &str = env!("PMIP_FASTPATH_NOT_BUILT");

/// The compiled program; empty when build.rs could not compile it.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/fastpath.bpf.o"));

/// The program's name in the object (its function).
const PROGRAM: &str = "pmip_tunnel";

/// The environment variable that turns the fast path off
/// (`PMIP_FASTPATH=off`); `pmip run --no-fastpath` sets it.
pub const ENV: &str = "PMIP_FASTPATH";

/// Whether the fast path was compiled into this binary; the reason when
/// not.
pub fn built() -> Result<(), &'static str> {
    built_object(NOT_BUILT, OBJECT)
}

/// Whether a BPF object was compiled in: `not_built` is what build.rs
/// said when it could not (empty when it could).
fn built_object(not_built: &'static str, object: &[u8]) -> Result<(), &'static str> {
    if !not_built.is_empty() {
        Err(not_built)
    } else if object.is_empty() {
        Err("empty BPF object")
    } else {
        Ok(())
    }
}

/// Whether this kernel has tcx links (Linux 6.6 and later).
fn tcx_available() -> bool {
    aya::util::KernelVersion::current()
        .map(|v| v >= aya::util::KernelVersion::new(6, 6, 0))
        .unwrap_or(false)
}

/// The map `map` of a loaded object, taken out of it as a `T`.
fn take_map<T>(ebpf: &mut aya::Ebpf, map: &'static str) -> Result<T, Error>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let m = ebpf.take_map(map).ok_or(Error::Map {
        map,
        reason: "missing from the object".into(),
    })?;
    T::try_from(m).map_err(|e| Error::Map {
        map,
        reason: chain(&e),
    })
}

/// The classifier program `name` of a loaded object.
fn classifier<'a>(ebpf: &'a mut aya::Ebpf, name: &str) -> Result<&'a mut SchedClassifier, Error> {
    ebpf.program_mut(name)
        .ok_or_else(|| Error::Load(format!("no program {name} in the object")))?
        .try_into()
        .map_err(|e: aya::programs::ProgramError| Error::Load(chain(&e)))
}

/// Attaches `program` to `interface` at `hook`: a tcx link with `tcx`,
/// else a cls_bpf filter on the interface's clsact qdisc, which is added
/// when missing. Returns the link and whether the qdisc was added here.
fn attach_classifier(
    program: &mut SchedClassifier,
    interface: &str,
    hook: TcAttachType,
    tcx: bool,
) -> Result<(tc::SchedClassifierLinkId, bool), Error> {
    let mut qdisc = false;
    if !tcx {
        match tc::qdisc_add_clsact(interface) {
            Ok(()) => qdisc = true,
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => {
                return Err(Error::Attach {
                    interface: interface.to_owned(),
                    reason: format!("clsact qdisc: {e}"),
                });
            }
        }
    }
    let options = if tcx {
        TcAttachOptions::TcxOrder(LinkOrder::default())
    } else {
        TcAttachOptions::Netlink(tc::NlOptions::default())
    };
    match program.attach_with_options(interface, hook, options) {
        Ok(link) => Ok((link, qdisc)),
        Err(e) => {
            if qdisc {
                sys::remove_clsact(interface);
            }
            Err(Error::Attach {
                interface: interface.to_owned(),
                reason: chain(&e),
            })
        }
    }
}

/// `Some(value)` when the environment turns the fast path off.
pub fn disabled_by_env() -> Option<String> {
    let v = std::env::var(ENV).ok()?;
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "off" | "0" | "no" | "false" | "user" | "disable" | "disabled"
    )
    .then_some(v)
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("fast path not built: {0}")]
    NotBuilt(&'static str),
    #[error("fast path turned off ({ENV}={0})")]
    Disabled(String),
    #[error("the kernel refused the BPF program: {0}")]
    Load(String),
    #[error("could not attach to {interface}: {reason}")]
    Attach { interface: String, reason: String },
    #[error("no Ethernet interface with an IPv4 address to attach to")]
    NoInterface,
    #[error("BPF map {map}: {reason}")]
    Map { map: &'static str, reason: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The kernel (or this environment) does not allow BPF programs at
    /// all, as opposed to a fault of ours.
    pub fn is_refused(&self) -> bool {
        match self {
            Error::Load(r) | Error::Attach { reason: r, .. } => {
                r.contains("Operation not permitted")
                    || r.contains("Function not implemented")
                    || r.contains("Permission denied")
            }
            _ => false,
        }
    }
}

/// Entry `index` of the per-CPU counter array `map` (named `name`),
/// summed over every CPU.
fn per_cpu_sum(
    map: &PerCpuArray<MapData, u64>,
    name: &'static str,
    index: u32,
) -> Result<u64, Error> {
    let values = map.get(&index, 0).map_err(|e| Error::Map {
        map: name,
        reason: chain(&e),
    })?;
    Ok(values.iter().copied().fold(0u64, u64::wrapping_add))
}

/// An error and its sources on one line (aya nests the useful part).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// The tunnel encapsulations the fast path does itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// IP in IP (RFC 2003).
    IpInIp,
    /// GRE without checksum, key or sequence number (RFC 2784).
    Gre,
}

impl Mode {
    /// The fast path's mode for a tunnel, or None when user space must
    /// carry it (GRE with an RFC 2890 key or sequence numbers).
    pub fn from_encapsulation(e: Encapsulation) -> Option<Mode> {
        match e {
            Encapsulation::IpInIp => Some(Mode::IpInIp),
            Encapsulation::Gre {
                key: None,
                sequence: false,
            } => Some(Mode::Gre),
            Encapsulation::Gre { .. } => None,
        }
    }

    fn code(self) -> u8 {
        match self {
            Mode::IpInIp => 1,
            Mode::Gre => 2,
        }
    }
}

/// A home agent's tunnel for one home address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunnel {
    /// The home agent's address: the outer source.
    pub local: Ipv4Addr,
    pub care_of: Ipv4Addr,
    pub mode: Mode,
    /// Reverse-tunnelled packets from the home address are accepted from
    /// the care-of address (RFC 3024).
    pub reverse: bool,
}

/// A foreign agent's visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visitor {
    /// Our care-of address: the tunnel's end at this agent.
    pub care_of: Ipv4Addr,
    pub home_agent: Ipv4Addr,
    /// The visited link and the visitor's link-layer address on it.
    pub ifindex: u32,
    pub mac: [u8; 6],
    /// The reverse tunnel to the home agent (RFC 3024), if asked for.
    pub reverse: Option<Mode>,
}

/// The fast path's counters, summed over every CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets encapsulated (a GSO packet counts its segments).
    pub encapsulated_packets: u64,
    /// Their bytes, outer headers included.
    pub encapsulated_bytes: u64,
    pub decapsulated_packets: u64,
    /// Bytes of the inner packets delivered.
    pub decapsulated_bytes: u64,
    /// Tunnel packets from a known peer dropped as malformed.
    pub dropped_malformed: u64,
    /// Packets for a binding or visitor (or tunnel packets from a known
    /// peer) left to the kernel and user space.
    pub passed: u64,
}

impl Counters {
    pub fn packets(&self) -> u64 {
        self.encapsulated_packets + self.decapsulated_packets
    }

    pub fn bytes(&self) -> u64 {
        self.encapsulated_bytes + self.decapsulated_bytes
    }

    /// What moved since `earlier`.
    pub fn since(&self, earlier: &Counters) -> Counters {
        Counters {
            encapsulated_packets: self
                .encapsulated_packets
                .saturating_sub(earlier.encapsulated_packets),
            encapsulated_bytes: self
                .encapsulated_bytes
                .saturating_sub(earlier.encapsulated_bytes),
            decapsulated_packets: self
                .decapsulated_packets
                .saturating_sub(earlier.decapsulated_packets),
            decapsulated_bytes: self
                .decapsulated_bytes
                .saturating_sub(earlier.decapsulated_bytes),
            dropped_malformed: self
                .dropped_malformed
                .saturating_sub(earlier.dropped_malformed),
            passed: self.passed.saturating_sub(earlier.passed),
        }
    }
}

// The maps' keys and values, laid out as in bpf/fastpath.bpf.c.
// Addresses are kept in network byte order, as the packets carry them.

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct BindingValue {
    local: u32,
    care_of: u32,
    mode: u8,
    reverse: u8,
    pad: [u8; 2],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct VisitorValue {
    care_of: u32,
    home_agent: u32,
    ifindex: u32,
    mac: [u8; 6],
    our_mac: [u8; 6],
    reverse_mode: u8,
    pad: [u8; 3],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct PeerKey {
    remote: u32,
    local: u32,
}

// SAFETY: plain #[repr(C)] data with explicit padding fields, so every
// byte is initialised and any bit pattern is a valid value.
unsafe impl aya::Pod for BindingValue {}
// SAFETY: as above.
unsafe impl aya::Pod for VisitorValue {}
// SAFETY: as above.
unsafe impl aya::Pod for PeerKey {}

/// An address as the program reads it from a packet.
fn be(a: Ipv4Addr) -> u32 {
    u32::from_ne_bytes(a.octets())
}

/// Counter indices (enum counter in the program).
const ENCAP_PACKETS: u32 = 0;
const ENCAP_BYTES: u32 = 1;
const DECAP_PACKETS: u32 = 2;
const DECAP_BYTES: u32 = 3;
const MALFORMED: u32 = 4;
const PASSED: u32 = 5;
/// Config index of the TUN device (enum config in the program).
const CONFIG_TUN_IFINDEX: u32 = 0;

/// How the program is attached to an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attachment {
    /// A tcx link (Linux 6.6 and later): detached when its descriptor
    /// closes, even if the process is killed.
    Tcx,
    /// A cls_bpf filter on a clsact qdisc (older kernels).
    Clsact,
}

/// What to load the fast path onto.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Interfaces to attach to; by default every Ethernet interface with
    /// an IPv4 address in this network namespace.
    pub interfaces: Option<Vec<String>>,
    /// The user-space data plane's TUN device: routes into it are left to
    /// user space.
    pub tun: Option<String>,
}

/// The loaded and attached fast path. Dropping it detaches the program
/// from every interface and frees its maps.
pub struct FastPath {
    bindings: HashMap<MapData, u32, BindingValue>,
    visitors: HashMap<MapData, u32, VisitorValue>,
    peers: HashMap<MapData, PeerKey, u32>,
    counters: PerCpuArray<MapData, u64>,
    /// What is in the maps, and how many entries use each peer.
    installed_bindings: BTreeMap<Ipv4Addr, Tunnel>,
    installed_visitors: BTreeMap<Ipv4Addr, Visitor>,
    peer_refs: BTreeMap<PeerKey, u32>,
    interfaces: Vec<String>,
    /// The index each attached interface had (one deleted and made
    /// again under its name is a new interface).
    attached: BTreeMap<String, u32>,
    /// Attach to interfaces that get an IPv4 address later too (no
    /// explicit list was given).
    follow: bool,
    attachment: Attachment,
    /// clsact qdiscs we added (old kernels), removed again on drop.
    qdiscs_added: Vec<String>,
    // Last: dropped after the maps, it holds the program and its links.
    ebpf: aya::Ebpf,
}

impl FastPath {
    /// Loads the program and attaches it per `options`.
    pub fn load(options: &Options) -> Result<FastPath, Error> {
        built().map_err(Error::NotBuilt)?;
        let interfaces = match &options.interfaces {
            Some(list) => list.clone(),
            None => sys::ethernet_interfaces_with_ipv4()?,
        };
        if interfaces.is_empty() {
            return Err(Error::NoInterface);
        }
        let mut ebpf = aya::EbpfLoader::new()
            .load(OBJECT)
            .map_err(|e| Error::Load(chain(&e)))?;
        let bindings = take_map(&mut ebpf, "pmip_bindings")?;
        let visitors = take_map(&mut ebpf, "pmip_visitors")?;
        let peers = take_map(&mut ebpf, "pmip_peers")?;
        let counters = take_map(&mut ebpf, "pmip_counters")?;
        let mut config: Array<MapData, u32> = take_map(&mut ebpf, "pmip_config")?;
        if let Some(tun) = &options.tun {
            let index = sys::ifindex(tun).unwrap_or(0);
            config
                .set(CONFIG_TUN_IFINDEX, index, 0)
                .map_err(|e| Error::Map {
                    map: "pmip_config",
                    reason: chain(&e),
                })?;
        }
        classifier(&mut ebpf, PROGRAM)?
            .load()
            .map_err(|e| Error::Load(chain(&e)))?;
        let tcx = tcx_available();
        let mut fast = FastPath {
            bindings,
            visitors,
            peers,
            counters,
            installed_bindings: BTreeMap::new(),
            installed_visitors: BTreeMap::new(),
            peer_refs: BTreeMap::new(),
            interfaces: Vec::new(),
            attached: BTreeMap::new(),
            follow: options.interfaces.is_none(),
            attachment: if tcx {
                Attachment::Tcx
            } else {
                Attachment::Clsact
            },
            qdiscs_added: Vec::new(),
            ebpf,
        };
        for name in &interfaces {
            // Dropping `fast` on an error detaches what was attached.
            fast.attach(name)?;
        }
        Ok(fast)
    }

    /// Attaches the program to `name`'s ingress.
    fn attach(&mut self, name: &str) -> Result<(), Error> {
        let index = sys::ifindex(name).ok_or_else(|| Error::Attach {
            interface: name.to_owned(),
            reason: "no such interface".into(),
        })?;
        let tcx = self.attachment == Attachment::Tcx;
        let program = classifier(&mut self.ebpf, PROGRAM)?;
        let (_, qdisc) = attach_classifier(program, name, TcAttachType::Ingress, tcx)?;
        if qdisc {
            self.qdiscs_added.push(name.to_owned());
        }
        self.attached.insert(name.to_owned(), index);
        if !self.interfaces.iter().any(|i| i == name) {
            self.interfaces.push(name.to_owned());
        }
        Ok(())
    }

    /// Attaches to the Ethernet interfaces that have an IPv4 address now
    /// and did not when the fast path loaded (or were made again since),
    /// unless the interfaces were given. Returns the ones it attached to.
    pub fn cover_new_interfaces(&mut self) -> Vec<String> {
        if !self.follow {
            return Vec::new();
        }
        let Ok(now) = sys::ethernet_interfaces_with_ipv4() else {
            return Vec::new();
        };
        let mut added = Vec::new();
        for name in now {
            let index = sys::ifindex(&name);
            if index.is_none() || self.attached.get(&name).copied() == index {
                continue;
            }
            match self.attach(&name) {
                Ok(()) => added.push(name),
                Err(e) => tracing::warn!(interface = %name, error = %e, "fast path not attached"),
            }
        }
        added
    }

    /// The interfaces the program is attached to.
    pub fn interfaces(&self) -> &[String] {
        &self.interfaces
    }

    pub fn attachment(&self) -> Attachment {
        self.attachment
    }

    /// The kernel's id of the loaded program.
    pub fn program_id(&self) -> Option<u32> {
        let p: &SchedClassifier = self.ebpf.program(PROGRAM)?.try_into().ok()?;
        p.info().ok().map(|i| i.id())
    }

    /// Home agent: tunnel packets for `home` per `tunnel` (replacing what
    /// was there).
    pub fn bind(&mut self, home: Ipv4Addr, tunnel: Tunnel) -> Result<(), Error> {
        let value = BindingValue {
            local: be(tunnel.local),
            care_of: be(tunnel.care_of),
            mode: tunnel.mode.code(),
            reverse: u8::from(tunnel.reverse),
            pad: [0; 2],
        };
        let peer = PeerKey {
            remote: value.care_of,
            local: value.local,
        };
        self.add_peer(peer)?;
        if let Err(e) = self.bindings.insert(be(home), value, 0) {
            self.drop_peer(peer);
            return Err(Error::Map {
                map: "pmip_bindings",
                reason: chain(&e),
            });
        }
        if let Some(old) = self.installed_bindings.insert(home, tunnel) {
            self.drop_peer(PeerKey {
                remote: be(old.care_of),
                local: be(old.local),
            });
        }
        Ok(())
    }

    /// Home agent: no more fast path for `home`.
    pub fn unbind(&mut self, home: Ipv4Addr) -> Result<(), Error> {
        let Some(old) = self.installed_bindings.remove(&home) else {
            return Ok(());
        };
        let removed = self.bindings.remove(&be(home));
        self.drop_peer(PeerKey {
            remote: be(old.care_of),
            local: be(old.local),
        });
        removed.map_err(|e| Error::Map {
            map: "pmip_bindings",
            reason: chain(&e),
        })
    }

    /// The tunnel entered for `home`, if any.
    pub fn binding(&self, home: Ipv4Addr) -> Option<Tunnel> {
        self.installed_bindings.get(&home).copied()
    }

    /// The visitor entered as `home`, if any.
    pub fn visitor(&self, home: Ipv4Addr) -> Option<Visitor> {
        self.installed_visitors.get(&home).copied()
    }

    /// Whether the program's map holds a binding for `home`.
    pub fn is_bound(&self, home: Ipv4Addr) -> bool {
        self.bindings.get(&be(home), 0).is_ok()
    }

    /// Foreign agent: decapsulate tunnelled packets for `home` from its
    /// home agent and deliver them to its MAC; with `reverse`, tunnel its
    /// own packets to the home agent.
    pub fn add_visitor(&mut self, home: Ipv4Addr, v: Visitor) -> Result<(), Error> {
        let our_mac = pmip_platform::link::mac_of_index(v.ifindex)?;
        let value = VisitorValue {
            care_of: be(v.care_of),
            home_agent: be(v.home_agent),
            ifindex: v.ifindex,
            mac: v.mac,
            our_mac,
            reverse_mode: v.reverse.map_or(0, Mode::code),
            pad: [0; 3],
        };
        let peer = PeerKey {
            remote: value.home_agent,
            local: value.care_of,
        };
        self.add_peer(peer)?;
        if let Err(e) = self.visitors.insert(be(home), value, 0) {
            self.drop_peer(peer);
            return Err(Error::Map {
                map: "pmip_visitors",
                reason: chain(&e),
            });
        }
        if let Some(old) = self.installed_visitors.insert(home, v) {
            self.drop_peer(PeerKey {
                remote: be(old.home_agent),
                local: be(old.care_of),
            });
        }
        Ok(())
    }

    pub fn remove_visitor(&mut self, home: Ipv4Addr) -> Result<(), Error> {
        let Some(old) = self.installed_visitors.remove(&home) else {
            return Ok(());
        };
        let removed = self.visitors.remove(&be(home));
        self.drop_peer(PeerKey {
            remote: be(old.home_agent),
            local: be(old.care_of),
        });
        removed.map_err(|e| Error::Map {
            map: "pmip_visitors",
            reason: chain(&e),
        })
    }

    /// Whether the program's map holds a visitor `home`.
    pub fn has_visitor(&self, home: Ipv4Addr) -> bool {
        self.visitors.get(&be(home), 0).is_ok()
    }

    fn add_peer(&mut self, peer: PeerKey) -> Result<(), Error> {
        let refs = self.peer_refs.entry(peer).or_insert(0);
        if *refs == 0 {
            self.peers.insert(peer, 1, 0).map_err(|e| Error::Map {
                map: "pmip_peers",
                reason: chain(&e),
            })?;
        }
        *refs += 1;
        Ok(())
    }

    fn drop_peer(&mut self, peer: PeerKey) {
        if let Some(refs) = self.peer_refs.get_mut(&peer) {
            *refs -= 1;
            if *refs == 0 {
                self.peer_refs.remove(&peer);
                let _ = self.peers.remove(&peer);
            }
        }
    }

    /// The counters, summed over every CPU.
    pub fn counters(&self) -> Result<Counters, Error> {
        let read = |i: u32| per_cpu_sum(&self.counters, "pmip_counters", i);
        Ok(Counters {
            encapsulated_packets: read(ENCAP_PACKETS)?,
            encapsulated_bytes: read(ENCAP_BYTES)?,
            decapsulated_packets: read(DECAP_PACKETS)?,
            decapsulated_bytes: read(DECAP_BYTES)?,
            dropped_malformed: read(MALFORMED)?,
            passed: read(PASSED)?,
        })
    }
}

impl Drop for FastPath {
    fn drop(&mut self) {
        // aya detaches the program's links when the program drops (after
        // this); on old kernels the clsact qdiscs we added go too.
        if let Some(p) = self.ebpf.program_mut(PROGRAM)
            && let Ok(p) = <&mut SchedClassifier>::try_from(p)
        {
            let _ = p.unload();
        }
        for q in &self.qdiscs_added {
            sys::remove_clsact(q);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_program() {
        // struct binding, struct visitor and struct peer in
        // bpf/fastpath.bpf.c.
        assert_eq!(std::mem::size_of::<BindingValue>(), 12);
        assert_eq!(std::mem::size_of::<VisitorValue>(), 28);
        assert_eq!(std::mem::size_of::<PeerKey>(), 8);
        assert_eq!(
            be(Ipv4Addr::new(10, 1, 0, 50)).to_ne_bytes(),
            [10, 1, 0, 50]
        );
    }

    #[test]
    fn only_plain_gre_is_fast() {
        assert_eq!(
            Mode::from_encapsulation(Encapsulation::IpInIp),
            Some(Mode::IpInIp)
        );
        assert_eq!(
            Mode::from_encapsulation(Encapsulation::Gre {
                key: None,
                sequence: false
            }),
            Some(Mode::Gre)
        );
        assert_eq!(
            Mode::from_encapsulation(Encapsulation::Gre {
                key: Some(7),
                sequence: false
            }),
            None
        );
        assert_eq!(
            Mode::from_encapsulation(Encapsulation::Gre {
                key: None,
                sequence: true
            }),
            None
        );
    }

    #[test]
    fn counters_since() {
        let a = Counters {
            encapsulated_packets: 5,
            encapsulated_bytes: 500,
            passed: 1,
            ..Default::default()
        };
        let b = Counters {
            encapsulated_packets: 7,
            encapsulated_bytes: 800,
            decapsulated_packets: 2,
            passed: 1,
            ..Default::default()
        };
        let d = b.since(&a);
        assert_eq!(d.encapsulated_packets, 2);
        assert_eq!(d.encapsulated_bytes, 300);
        assert_eq!(d.decapsulated_packets, 2);
        assert_eq!(d.passed, 0);
        assert_eq!(b.packets(), 9);
    }
}
