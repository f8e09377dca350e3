//! Visitor isolation at the access point (bpf/isolation.bpf.c): one tc
//! egress program, loaded once, attached to each port a visiting station
//! is reached through, and two maps keyed by the station's MAC and by the
//! port. Starting or stopping isolation is a map update (microseconds),
//! where `tc` processes cost milliseconds each.

use crate::{Error, chain, sys};
use aya::maps::{HashMap, MapData, PerCpuArray};
use aya::programs::tc::{SchedClassifier, SchedClassifierLinkId, TcAttachType};
use std::collections::BTreeMap;

/// Why the isolation object is missing, set by build.rs (empty when built).
const NOT_BUILT: &str = env!("PMIP_ISOLATION_NOT_BUILT");

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/isolation.bpf.o"));

const PROGRAM: &str = "pmip_isolate";

/// Indexes of `pmip_isolation_counters`.
const DROPPED_GROUP: u32 = 0;
const DROPPED_REPLIES: u32 = 1;

/// `struct station` in bpf/isolation.bpf.c.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct StationKey {
    mac: [u8; 6],
    pad: [u8; 2],
}

// SAFETY: plain old data with no padding the compiler adds (8 bytes of u8).
unsafe impl aya::Pod for StationKey {}

fn key(mac: [u8; 6]) -> StationKey {
    StationKey { mac, pad: [0; 2] }
}

/// Whether the isolation program was compiled into this binary; the
/// reason when not.
pub fn built() -> Result<(), &'static str> {
    crate::built_object(NOT_BUILT, OBJECT)
}

/// What the isolation program dropped since it was loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IsolationCounters {
    /// Broadcast and multicast frames kept from a visitor's own port.
    pub group_frames: u64,
    /// Registration replies (UDP from port 434) kept from a visitor.
    pub registration_replies: u64,
}

/// A port the program is attached to.
struct Attached {
    name: String,
    link: SchedClassifierLinkId,
    /// A clsact qdisc we added for it (kernels before tcx, or a station's
    /// own port).
    qdisc: bool,
    /// Attached as a tcx link, not a cls_bpf filter.
    tcx: bool,
}

/// The loaded program and its maps (see the module documentation).
/// Dropping it detaches the program from every port.
pub struct Isolation {
    stations: HashMap<MapData, StationKey, u8>,
    ports: HashMap<MapData, u32, u8>,
    counters: PerCpuArray<MapData, u64>,
    /// By interface index: a port removed and made again is a new one.
    attached: BTreeMap<u32, Attached>,
    /// Stations isolated on a port of their own: that port's index.
    own_ports: BTreeMap<[u8; 6], u32>,
    tcx: bool,
    // Last: dropped after the maps, it holds the program and its links.
    ebpf: aya::Ebpf,
}

impl Isolation {
    /// Loads the program (the verifier runs once, here) without attaching
    /// it anywhere yet.
    pub fn load() -> Result<Isolation, Error> {
        built().map_err(Error::NotBuilt)?;
        let mut ebpf = aya::EbpfLoader::new()
            .load(OBJECT)
            .map_err(|e| Error::Load(chain(&e)))?;
        let stations = crate::take_map(&mut ebpf, "pmip_isolated_stations")?;
        let ports = crate::take_map(&mut ebpf, "pmip_isolated_ports")?;
        let counters = crate::take_map(&mut ebpf, "pmip_isolation_counters")?;
        crate::classifier(&mut ebpf, PROGRAM)?
            .load()
            .map_err(|e| Error::Load(chain(&e)))?;
        let tcx = crate::tcx_available();
        Ok(Isolation {
            stations,
            ports,
            counters,
            attached: BTreeMap::new(),
            own_ports: BTreeMap::new(),
            tcx,
            ebpf,
        })
    }

    fn program(&mut self) -> Result<&mut SchedClassifier, Error> {
        crate::classifier(&mut self.ebpf, PROGRAM)
    }

    /// Attaches the program to `port`'s egress unless it is there already.
    /// Links of ports that no longer exist are let go on the way.
    ///
    /// A station's own port is attached as a cls_bpf filter on a clsact
    /// qdisc (by netlink), even where tcx links exist: the filter goes
    /// when the port moves to another network namespace (the emulated
    /// radio's roam), a tcx link stays on it, and our verdicts would
    /// follow the station to the next AP until we let go (about 10 ms in
    /// the lab: its broadcast queries dropped there). A radio shared by
    /// every station stays where it is and gets a tcx link.
    fn attach(&mut self, port: &str, own_port: bool) -> Result<u32, Error> {
        let index = sys::ifindex(port).ok_or_else(|| Error::Attach {
            interface: port.to_owned(),
            reason: "no such interface".into(),
        })?;
        let tcx = self.tcx && !own_port;
        match self.attached.remove(&index) {
            Some(a) if a.name == port && a.tcx == tcx => {
                self.attached.insert(index, a);
                return Ok(index);
            }
            // Attached the other way: the port changed role.
            Some(a) => {
                if let Ok(p) = self.program() {
                    let _ = p.detach(a.link);
                }
            }
            None => {}
        }
        let gone: Vec<u32> = self
            .attached
            .iter()
            .filter(|(i, a)| sys::ifindex(&a.name) != Some(**i))
            .map(|(i, _)| *i)
            .collect();
        for i in gone {
            if let Some(a) = self.attached.remove(&i)
                && let Ok(p) = self.program()
            {
                // The kernel already unlinked it with its interface.
                let _ = p.detach(a.link);
            }
        }
        let program = self.program()?;
        let (link, qdisc) = crate::attach_classifier(program, port, TcAttachType::Egress, tcx)?;
        self.attached.insert(
            index,
            Attached {
                name: port.to_owned(),
                link,
                qdisc,
                tcx,
            },
        );
        Ok(index)
    }

    /// Keeps registration replies from the station `mac` behind `port`;
    /// with `whole_port` (the port is the station's own), broadcasts and
    /// multicasts on the port too.
    pub fn isolate(&mut self, port: &str, mac: [u8; 6], whole_port: bool) -> Result<(), Error> {
        let index = self.attach(port, whole_port)?;
        self.stations
            .insert(key(mac), 1, 0)
            .map_err(|e| Error::Map {
                map: "pmip_isolated_stations",
                reason: chain(&e),
            })?;
        if whole_port {
            self.ports.insert(index, 1, 0).map_err(|e| Error::Map {
                map: "pmip_isolated_ports",
                reason: chain(&e),
            })?;
            self.own_ports.insert(mac, index);
        }
        Ok(())
    }

    /// Lets everything through to the station `mac` again. Its own port
    /// (if it had one) is let go whole: the program is detached from it,
    /// by its index, not its name, because the port may be gone from
    /// here already, and a station port that moved to another access
    /// point's namespace (the emulated radio's roam) would otherwise
    /// carry our program and our verdicts with it.
    pub fn release(&mut self, mac: [u8; 6]) -> Result<(), Error> {
        let _ = self.stations.remove(&key(mac));
        if let Some(index) = self.own_ports.remove(&mac) {
            let _ = self.ports.remove(&index);
            if !self.own_ports.values().any(|i| *i == index)
                && let Some(a) = self.attached.remove(&index)
            {
                if let Ok(p) = self.program() {
                    let _ = p.detach(a.link);
                }
                // Only the port we added it to, not a new one of its name.
                if a.qdisc && sys::ifindex(&a.name) == Some(index) {
                    sys::remove_clsact(&a.name);
                }
            }
        }
        Ok(())
    }

    /// Whether `mac` is isolated.
    pub fn is_isolated(&self, mac: [u8; 6]) -> bool {
        self.stations.get(&key(mac), 0).is_ok()
    }

    /// The ports the program is attached to.
    pub fn ports(&self) -> Vec<String> {
        self.attached.values().map(|a| a.name.clone()).collect()
    }

    /// What was dropped, summed over every CPU.
    pub fn counters(&self) -> Result<IsolationCounters, Error> {
        let read = |i: u32| crate::per_cpu_sum(&self.counters, "pmip_isolation_counters", i);
        Ok(IsolationCounters {
            group_frames: read(DROPPED_GROUP)?,
            registration_replies: read(DROPPED_REPLIES)?,
        })
    }
}

impl Drop for Isolation {
    fn drop(&mut self) {
        let attached = std::mem::take(&mut self.attached);
        let mut qdiscs = Vec::new();
        for (index, a) in attached {
            if let Ok(p) = self.program() {
                let _ = p.detach(a.link);
            }
            if a.qdisc && sys::ifindex(&a.name) == Some(index) {
                qdiscs.push(a.name);
            }
        }
        for q in &qdiscs {
            sys::remove_clsact(q);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn station_key_matches_the_program() {
        // struct station in bpf/isolation.bpf.c.
        assert_eq!(std::mem::size_of::<StationKey>(), 8);
    }
}
