//! The device's handle on the fast path: one per process, loaded in the
//! background on first use so no registration waits for the verifier,
//! fed the same binding and visitor changes as the user-space data plane,
//! and folding its counters into the caller's every quarter second (when
//! it also attaches to interfaces addressed since it loaded).
//!
//! The fast path only ever holds what it can carry alone: a home address
//! with simultaneous bindings (RFC 5944 3.6.1.3, a copy to each care-of
//! address) or a GRE tunnel with a key or sequence numbers (RFC 2890) is
//! left to user space, which keeps every tunnel as before.

use crate::{Counters, Error, FastPath, Mode, Options, Tunnel, Visitor};
use pmip_wire::tunnel::Encapsulation;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// How often the counters are folded into the sink.
const FOLD_EVERY: Duration = Duration::from_millis(250);

/// Where the fast path stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Not started (no binding or visitor yet), or stopped.
    Idle,
    Loading,
    /// Attached to these interfaces.
    On {
        interfaces: Vec<String>,
    },
    /// Not available; the user-space path carries everything.
    Off {
        reason: String,
    },
}

type Sink = Box<dyn Fn(&Counters) + Send>;

enum State {
    Idle,
    Loading,
    On(Box<FastPath>),
    Off(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Wanted {
    local: Ipv4Addr,
    mode: Option<Mode>,
    reverse: bool,
}

struct Inner {
    state: State,
    /// Bumped by every start and stop: a loader or folder of an older
    /// generation ends.
    generation: u64,
    sink: Option<Sink>,
    /// Totals already handed to the sink.
    folded: Counters,
    /// Every binding the home agent holds: by home address, its care-of
    /// addresses (nearly always one; a list of one costs a fraction of a
    /// map's node, and there may be 100 000 of them).
    bindings: BTreeMap<Ipv4Addr, Vec<(Ipv4Addr, Wanted)>>,
    visitors: BTreeMap<Ipv4Addr, Visitor>,
    refusals: Refusals,
}

/// Map changes the kernel refused (a full table, memory): each leaves its
/// binding or visitor with user space, which carries it as before. One
/// warning says so, then at most one every [`WARN_EVERY`] with the count
/// since, not one line per registration of a flood.
#[derive(Default)]
struct Refusals {
    since_warning: u64,
    warned: Option<std::time::Instant>,
}

/// How often refused map changes are logged at most.
const WARN_EVERY: Duration = Duration::from_secs(10);

impl Refusals {
    fn refused(&mut self, what: &str, home: Ipv4Addr, e: &Error) {
        self.since_warning += 1;
        if self.warned.is_some_and(|t| t.elapsed() < WARN_EVERY) {
            return;
        }
        tracing::warn!(
            %home,
            error = %e,
            refused = self.since_warning,
            "fast path {what} not changed; the user-space path carries it (refusals since the last warning counted)"
        );
        self.since_warning = 0;
        self.warned = Some(std::time::Instant::now());
    }
}

/// The process's fast path (see the module documentation).
pub struct Hook {
    inner: Mutex<Inner>,
    wake: Condvar,
}

/// The process-wide hook.
pub fn hook() -> &'static Hook {
    static HOOK: OnceLock<Hook> = OnceLock::new();
    HOOK.get_or_init(|| Hook {
        inner: Mutex::new(Inner {
            state: State::Idle,
            generation: 0,
            sink: None,
            folded: Counters::default(),
            bindings: BTreeMap::new(),
            visitors: BTreeMap::new(),
            refusals: Refusals::default(),
        }),
        wake: Condvar::new(),
    })
}

impl Hook {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts loading the fast path unless it is started already (or
    /// turned off); `tun` is the user-space data plane's TUN device and
    /// `sink` receives what the counters moved since it last did.
    pub fn start(
        &'static self,
        tun: &str,
        sink: impl Fn(&Counters) + Send + 'static,
    ) -> &'static Hook {
        let mut inner = self.lock();
        if !matches!(inner.state, State::Idle) {
            return self;
        }
        inner.generation += 1;
        inner.sink = Some(Box::new(sink));
        inner.folded = Counters::default();
        if let Some(value) = crate::disabled_by_env() {
            let e = Error::Disabled(value);
            tracing::info!(
                "eBPF fast path off: {e}; the user-space data plane carries tunnel traffic"
            );
            inner.state = State::Off(e.to_string());
            return self;
        }
        if let Err(why) = crate::built() {
            let e = Error::NotBuilt(why);
            tracing::warn!(
                "eBPF fast path not loaded: {e}; the user-space data plane carries tunnel traffic"
            );
            inner.state = State::Off(e.to_string());
            return self;
        }
        inner.state = State::Loading;
        let generation = inner.generation;
        let options = Options {
            interfaces: None,
            tun: Some(tun.to_owned()),
        };
        drop(inner);
        let spawned = std::thread::Builder::new()
            .name("pmip-fastpath".into())
            .spawn(move || self.run(generation, options));
        if let Err(e) = spawned {
            let mut inner = self.lock();
            tracing::warn!(error = %e, "eBPF fast path not loaded: no thread; the user-space data plane carries tunnel traffic");
            inner.state = State::Off(e.to_string());
        }
        self
    }

    /// The loader, then the counter folder, of one generation.
    fn run(&self, generation: u64, options: Options) {
        let loaded = FastPath::load(&options);
        let mut inner = self.lock();
        if inner.generation != generation {
            return; // stopped meanwhile; `loaded` drops and detaches
        }
        match loaded {
            Ok(fast) => {
                tracing::info!(
                    interfaces = ?fast.interfaces(),
                    attachment = ?fast.attachment(),
                    program = fast.program_id().unwrap_or(0),
                    "eBPF fast path on"
                );
                inner.state = State::On(Box::new(fast));
                let homes: Vec<Ipv4Addr> = inner.bindings.keys().copied().collect();
                for home in homes {
                    sync_binding(&mut inner, home);
                }
                let visitors: Vec<Ipv4Addr> = inner.visitors.keys().copied().collect();
                for home in visitors {
                    sync_visitor(&mut inner, home);
                }
            }
            Err(e) => {
                tracing::warn!(
                    "eBPF fast path not loaded: {e}; the user-space data plane carries tunnel traffic"
                );
                inner.state = State::Off(e.to_string());
                return;
            }
        }
        loop {
            inner = self
                .wake
                .wait_timeout(inner, FOLD_EVERY)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            if inner.generation != generation {
                return;
            }
            let State::On(fast) = &mut inner.state else {
                return;
            };
            // An interface addressed since (DHCP, a configuration change)
            // is covered within a tick.
            let added = fast.cover_new_interfaces();
            if !added.is_empty() {
                tracing::info!(interfaces = ?added, "eBPF fast path attached to interfaces addressed since it loaded");
            }
            fold(&mut inner);
        }
    }

    pub fn status(&self) -> Status {
        match &self.lock().state {
            State::Idle => Status::Idle,
            State::Loading => Status::Loading,
            State::On(f) => Status::On {
                interfaces: f.interfaces().to_vec(),
            },
            State::Off(reason) => Status::Off {
                reason: reason.clone(),
            },
        }
    }

    /// The fast path's counters (None unless it is on).
    pub fn counters(&self) -> Option<Counters> {
        match &self.lock().state {
            State::On(f) => f.counters().ok(),
            _ => None,
        }
    }

    /// Home agent: a binding of `home` to `care_of` is up (a new one or
    /// a re-registration changing its tunnel).
    pub fn binding_up(
        &self,
        home: Ipv4Addr,
        local: Ipv4Addr,
        care_of: Ipv4Addr,
        encapsulation: Encapsulation,
        reverse: bool,
    ) {
        let wanted = Wanted {
            local,
            mode: Mode::from_encapsulation(encapsulation),
            reverse,
        };
        let mut inner = self.lock();
        let list = inner.bindings.entry(home).or_default();
        match list.iter_mut().find(|(c, _)| *c == care_of) {
            Some((_, w)) => *w = wanted,
            None => list.push((care_of, wanted)),
        }
        sync_binding(&mut inner, home);
    }

    /// Home agent: the binding of `home` to `care_of` ended.
    pub fn binding_down(&self, home: Ipv4Addr, care_of: Ipv4Addr) {
        let mut inner = self.lock();
        if let Some(list) = inner.bindings.get_mut(&home) {
            list.retain(|(c, _)| *c != care_of);
            if list.is_empty() {
                inner.bindings.remove(&home);
            }
        }
        sync_binding(&mut inner, home);
    }

    /// Foreign agent: visitor `home` is up; `reverse` is its reverse
    /// tunnel's encapsulation when it asked for one.
    pub fn visitor_up(
        &self,
        home: Ipv4Addr,
        care_of: Ipv4Addr,
        home_agent: Ipv4Addr,
        link: (u32, [u8; 6]),
        reverse: Option<Encapsulation>,
    ) {
        let mut inner = self.lock();
        inner.visitors.insert(
            home,
            Visitor {
                care_of,
                home_agent,
                ifindex: link.0,
                mac: link.1,
                // An encapsulation the fast path lacks: the kernel's
                // source rule takes the visitor's packets to user space.
                reverse: reverse.and_then(Mode::from_encapsulation),
            },
        );
        sync_visitor(&mut inner, home);
    }

    pub fn visitor_down(&self, home: Ipv4Addr) {
        let mut inner = self.lock();
        inner.visitors.remove(&home);
        sync_visitor(&mut inner, home);
    }

    /// Detaches the program and frees its maps (the router stops); a
    /// later `start` loads it again.
    pub fn stop(&self) {
        let mut inner = self.lock();
        fold(&mut inner);
        inner.generation += 1;
        inner.bindings.clear();
        inner.visitors.clear();
        inner.sink = None;
        let was = std::mem::replace(&mut inner.state, State::Idle);
        drop(inner);
        self.wake.notify_all();
        if let State::On(fast) = was {
            drop(fast);
            tracing::info!("eBPF fast path detached");
        }
    }
}

/// Gives the sink what the counters moved since the last fold.
fn fold(inner: &mut Inner) {
    let State::On(fast) = &inner.state else {
        return;
    };
    let Ok(now) = fast.counters() else { return };
    let delta = now.since(&inner.folded);
    inner.folded = now;
    if delta != Counters::default()
        && let Some(sink) = &inner.sink
    {
        sink(&delta);
    }
}

/// The tunnel the fast path carries for a home address with these
/// bindings (care-of address, what it asked for): only a single binding
/// whose encapsulation the program speaks. Simultaneous bindings want a
/// copy to each care-of address (RFC 5944 3.6.1.3), GRE with a key or
/// sequence numbers RFC 2890's handling: user space does both.
fn carried_alone(bindings: &[(Ipv4Addr, Wanted)]) -> Option<Tunnel> {
    match bindings {
        [(care_of, w)] => w.mode.map(|mode| Tunnel {
            local: w.local,
            care_of: *care_of,
            mode,
            reverse: w.reverse,
        }),
        _ => None,
    }
}

/// Puts `home`'s binding in the program's map when the fast path can
/// carry it alone, and takes it out otherwise.
fn sync_binding(inner: &mut Inner, home: Ipv4Addr) {
    let want = inner.bindings.get(&home).and_then(|l| carried_alone(l));
    let State::On(fast) = &mut inner.state else {
        return;
    };
    if fast.binding(home) == want {
        return;
    }
    let result = match want {
        Some(t) => fast.bind(home, t),
        None => fast.unbind(home),
    };
    if let Err(e) = result {
        // The user-space path still holds the binding and carries it.
        let _ = fast.unbind(home);
        inner.refusals.refused("binding", home, &e);
    }
}

fn sync_visitor(inner: &mut Inner, home: Ipv4Addr) {
    let want = inner.visitors.get(&home).copied();
    let State::On(fast) = &mut inner.state else {
        return;
    };
    if fast.visitor(home) == want {
        return;
    }
    let result = match want {
        Some(v) => fast.add_visitor(home, v),
        None => fast.remove_visitor(home),
    };
    if let Err(e) = result {
        let _ = fast.remove_visitor(home);
        inner.refusals.refused("visitor", home, &e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HA: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const COA1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
    const COA2: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

    fn wanted(e: Encapsulation, reverse: bool) -> Wanted {
        Wanted {
            local: HA,
            mode: Mode::from_encapsulation(e),
            reverse,
        }
    }

    #[test]
    fn only_a_single_binding_the_program_speaks_is_carried_alone() {
        let ipip = wanted(Encapsulation::IpInIp, true);
        assert_eq!(
            carried_alone(&[(COA1, ipip)]),
            Some(Tunnel {
                local: HA,
                care_of: COA1,
                mode: Mode::IpInIp,
                reverse: true,
            })
        );
        let gre = wanted(
            Encapsulation::Gre {
                key: None,
                sequence: false,
            },
            false,
        );
        assert_eq!(
            carried_alone(&[(COA2, gre)]).map(|t| t.mode),
            Some(Mode::Gre)
        );
        // Simultaneous bindings: a copy to each care-of address.
        assert_eq!(carried_alone(&[(COA1, ipip), (COA2, ipip)]), None);
        // GRE with a key (RFC 2890): user space.
        let keyed = wanted(
            Encapsulation::Gre {
                key: Some(7),
                sequence: false,
            },
            false,
        );
        assert_eq!(carried_alone(&[(COA1, keyed)]), None);
        assert_eq!(carried_alone(&[]), None);
    }
}
