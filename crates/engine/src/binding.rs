//! Mobility bindings (RFC 5944 section 3.8.1): what a home agent keeps for
//! each registered mobile node, with lifetime expiry in O(log n).

use crate::time::Instant;
use core::net::{Ipv4Addr, SocketAddrV4};
use core::time::Duration;
use pmip_wire::tunnel::Encapsulation;
use std::collections::{BTreeMap, BTreeSet};

/// One mobility binding: a home address reachable at a care-of address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub home_address: Ipv4Addr,
    pub care_of_address: Ipv4Addr,
    /// The home agent address the registration named.
    pub home_agent: Ipv4Addr,
    /// Where the request came from (the foreign agent, or a mobile node
    /// with a co-located care-of address); replies and Binding Updates to
    /// the previous foreign agent go there.
    pub source: SocketAddrV4,
    /// Lifetime granted in the reply, in seconds.
    pub lifetime: u16,
    pub registered: Instant,
    pub expires: Instant,
    /// Identification of the request that created or last renewed it.
    pub identification: u64,
    /// Registration flags S, B, D (RFC 5944 3.3) as requested.
    pub simultaneous: bool,
    pub broadcast: bool,
    pub decapsulation_by_mn: bool,
    /// How the home agent tunnels to the care-of address.
    pub encapsulation: Encapsulation,
    /// Reverse tunnel granted (RFC 3024, the T bit).
    pub reverse_tunnel: bool,
}

impl Binding {
    /// Seconds of lifetime left at `now`, rounded down.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.expires.saturating_since(now)
    }
}

/// What [`BindingTable::upsert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upsert {
    /// A new care-of address for this home address.
    Added,
    /// Same home and care-of address: lifetime and identification renewed.
    Renewed,
    /// Without simultaneous bindings, the new care-of address replaced
    /// these bindings (RFC 5944 3.8.1: the previous care-of addresses go).
    Replaced(Vec<Binding>),
}

/// All bindings of a home agent, keyed by home address, with an ordered
/// expiry index so the next timer and the expired set are cheap to find.
#[derive(Debug, Default, Clone)]
pub struct BindingTable {
    by_home: BTreeMap<Ipv4Addr, Vec<Binding>>,
    expiry: BTreeSet<(Instant, Ipv4Addr, Ipv4Addr)>,
    count: usize,
}

impl BindingTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of bindings (a home address with two simultaneous care-of
    /// addresses counts twice).
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Number of home addresses with at least one binding.
    pub fn homes(&self) -> usize {
        self.by_home.len()
    }

    /// The bindings of one home address.
    pub fn get(&self, home: Ipv4Addr) -> &[Binding] {
        self.by_home.get(&home).map_or(&[], Vec::as_slice)
    }

    /// Every binding, by home address (then in registration order).
    pub fn iter(&self) -> impl Iterator<Item = &Binding> {
        self.by_home.values().flatten()
    }

    /// Adds or renews `binding`. With `simultaneous` false every other
    /// care-of address of the home address is dropped; with it true the
    /// binding is kept beside them, up to `max_simultaneous` (the oldest
    /// beyond that are dropped and returned).
    pub fn upsert(
        &mut self,
        binding: Binding,
        simultaneous: bool,
        max_simultaneous: usize,
    ) -> Upsert {
        let (home, coa, expires) = (
            binding.home_address,
            binding.care_of_address,
            binding.expires,
        );
        let list = self.by_home.entry(home).or_default();
        let existed = match list.iter_mut().find(|b| b.care_of_address == coa) {
            Some(existing) => {
                self.expiry.remove(&(existing.expires, home, coa));
                *existing = binding;
                true
            }
            None => {
                list.push(binding);
                self.count += 1;
                false
            }
        };
        self.expiry.insert((expires, home, coa));
        let keep = if simultaneous {
            max_simultaneous.max(1)
        } else {
            1
        };
        let mut removed = Vec::new();
        while list.len() > keep {
            // The oldest other care-of address goes first.
            let Some(idx) = list
                .iter()
                .enumerate()
                .filter(|(_, b)| b.care_of_address != coa)
                .min_by_key(|(_, b)| b.registered)
                .map(|(i, _)| i)
            else {
                break;
            };
            let old = list.remove(idx);
            self.expiry
                .remove(&(old.expires, home, old.care_of_address));
            self.count -= 1;
            removed.push(old);
        }
        if !removed.is_empty() {
            Upsert::Replaced(removed)
        } else if existed {
            Upsert::Renewed
        } else {
            Upsert::Added
        }
    }

    /// Removes one binding.
    pub fn remove(&mut self, home: Ipv4Addr, coa: Ipv4Addr) -> Option<Binding> {
        let list = self.by_home.get_mut(&home)?;
        let idx = list.iter().position(|b| b.care_of_address == coa)?;
        let b = list.remove(idx);
        if list.is_empty() {
            self.by_home.remove(&home);
        }
        self.expiry.remove(&(b.expires, home, coa));
        self.count -= 1;
        Some(b)
    }

    /// Removes every binding of a home address (deregistration of all
    /// care-of addresses, RFC 5944 3.6.1.2).
    pub fn remove_all(&mut self, home: Ipv4Addr) -> Vec<Binding> {
        let list = self.by_home.remove(&home).unwrap_or_default();
        for b in &list {
            self.expiry.remove(&(b.expires, home, b.care_of_address));
        }
        self.count -= list.len();
        list
    }

    /// When the next binding expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.expiry.first().map(|&(t, _, _)| t)
    }

    /// Removes and returns the bindings whose lifetime has run out.
    pub fn expire(&mut self, now: Instant) -> Vec<Binding> {
        let mut out = Vec::new();
        while let Some(&(t, home, coa)) = self.expiry.first() {
            if t > now {
                break;
            }
            self.expiry.pop_first();
            if let Some(list) = self.by_home.get_mut(&home)
                && let Some(idx) = list
                    .iter()
                    .position(|b| b.care_of_address == coa && b.expires == t)
            {
                out.push(list.remove(idx));
                self.count -= 1;
                if list.is_empty() {
                    self.by_home.remove(&home);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);
    const HA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);

    fn b(coa: [u8; 4], at: u64, lifetime: u16) -> Binding {
        Binding {
            home_address: HOME,
            care_of_address: coa.into(),
            home_agent: HA,
            source: SocketAddrV4::new(coa.into(), 434),
            lifetime,
            registered: Instant::from_secs(at),
            expires: Instant::from_secs(at + u64::from(lifetime)),
            identification: at,
            simultaneous: false,
            broadcast: false,
            decapsulation_by_mn: false,
            encapsulation: Encapsulation::IpInIp,
            reverse_tunnel: false,
        }
    }

    #[test]
    fn add_renew_replace_expire() {
        let mut t = BindingTable::new();
        assert_eq!(t.upsert(b([10, 2, 0, 1], 0, 100), false, 5), Upsert::Added);
        assert_eq!(
            t.upsert(b([10, 2, 0, 1], 50, 100), false, 5),
            Upsert::Renewed
        );
        assert_eq!(t.next_expiry(), Some(Instant::from_secs(150)));
        match t.upsert(b([10, 3, 0, 1], 60, 100), false, 5) {
            Upsert::Replaced(old) => assert_eq!(old[0].care_of_address, Ipv4Addr::new(10, 2, 0, 1)),
            other => panic!("{other:?}"),
        }
        assert_eq!(t.len(), 1);
        assert_eq!(t.next_expiry(), Some(Instant::from_secs(160)));
        assert!(t.expire(Instant::from_secs(159)).is_empty());
        assert_eq!(t.expire(Instant::from_secs(160)).len(), 1);
        assert!(t.is_empty());
        assert_eq!(t.next_expiry(), None);
    }

    #[test]
    fn simultaneous_bindings_keep_up_to_the_limit() {
        let mut t = BindingTable::new();
        for i in 0..3u8 {
            assert_eq!(
                t.upsert(b([10, 2, 0, i], u64::from(i), 100), true, 2),
                if i < 2 {
                    Upsert::Added
                } else {
                    Upsert::Replaced(vec![b([10, 2, 0, 0], 0, 100)])
                }
            );
        }
        assert_eq!(t.get(HOME).len(), 2);
        assert_eq!(t.remove_all(HOME).len(), 2);
        assert!(t.is_empty());
        assert_eq!(t.next_expiry(), None);
    }

    #[test]
    fn remove_one() {
        let mut t = BindingTable::new();
        t.upsert(b([10, 2, 0, 1], 0, 100), true, 5);
        t.upsert(b([10, 2, 0, 2], 0, 100), true, 5);
        assert!(t.remove(HOME, Ipv4Addr::new(10, 2, 0, 1)).is_some());
        assert!(t.remove(HOME, Ipv4Addr::new(10, 2, 0, 1)).is_none());
        assert_eq!(t.len(), 1);
        assert_eq!(t.expire(Instant::from_secs(1000)).len(), 1);
    }
}
