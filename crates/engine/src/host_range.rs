//! Address ranges `LOW [HIGH]` as IOS configures them (`ip mobile host`,
//! `ip mobile secure host`, `ip proxy-mobile secure node`), with a lookup
//! from one address to the range that holds it.

use core::net::Ipv4Addr;
use std::collections::BTreeMap;

/// A table of non-overlapping inclusive address ranges, each with a value.
/// Lookup is O(log n): the range starting at or below the address is the
/// only candidate.
#[derive(Debug, Clone)]
pub struct HostRanges<T> {
    by_low: BTreeMap<u32, (u32, T)>,
}

impl<T> Default for HostRanges<T> {
    fn default() -> Self {
        HostRanges {
            by_low: BTreeMap::new(),
        }
    }
}

/// Inserting a range that overlaps one already present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("range {low}-{high} overlaps {other_low}-{other_high}")]
pub struct Overlap {
    pub low: Ipv4Addr,
    pub high: Ipv4Addr,
    pub other_low: Ipv4Addr,
    pub other_high: Ipv4Addr,
}

impl<T> HostRanges<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `low..=high` (swapped if given backwards). A range equal to an
    /// existing one replaces its value, as re-entering an IOS line does;
    /// a partial overlap is refused.
    pub fn insert(&mut self, low: Ipv4Addr, high: Ipv4Addr, value: T) -> Result<(), Overlap> {
        let (mut l, mut h) = (u32::from(low), u32::from(high));
        if l > h {
            core::mem::swap(&mut l, &mut h);
        }
        if let Some((&ol, (oh, _))) = self.by_low.range(..=h).next_back()
            && *oh >= l
            && !(ol == l && *oh == h)
        {
            return Err(Overlap {
                low: l.into(),
                high: h.into(),
                other_low: ol.into(),
                other_high: (*oh).into(),
            });
        }
        self.by_low.insert(l, (h, value));
        Ok(())
    }

    /// The range holding `addr` and its value.
    pub fn get(&self, addr: Ipv4Addr) -> Option<(Ipv4Addr, Ipv4Addr, &T)> {
        let a = u32::from(addr);
        let (&l, (h, v)) = self.by_low.range(..=a).next_back()?;
        (a <= *h).then(|| (l.into(), (*h).into(), v))
    }

    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.get(addr).is_some()
    }

    /// Removes the range that starts at `low`.
    pub fn remove(&mut self, low: Ipv4Addr) -> Option<T> {
        self.by_low.remove(&u32::from(low)).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (Ipv4Addr, Ipv4Addr, &T)> {
        self.by_low
            .iter()
            .map(|(&l, (h, v))| (l.into(), (*h).into(), v))
    }

    pub fn len(&self) -> usize {
        self.by_low.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_low.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn lookup_and_overlap() {
        let mut r = HostRanges::new();
        r.insert(a("10.91.7.151"), a("10.91.7.176"), 102).unwrap();
        r.insert(a("10.1.0.9"), a("10.1.0.9"), 7).unwrap();
        assert_eq!(r.get(a("10.91.7.160")).map(|x| *x.2), Some(102));
        assert_eq!(r.get(a("10.91.7.151")).map(|x| *x.2), Some(102));
        assert_eq!(r.get(a("10.91.7.176")).map(|x| *x.2), Some(102));
        assert_eq!(r.get(a("10.91.7.177")), None);
        assert_eq!(r.get(a("10.91.7.150")), None);
        assert_eq!(r.get(a("10.1.0.9")).map(|x| *x.2), Some(7));
        assert!(r.insert(a("10.91.7.170"), a("10.91.7.200"), 1).is_err());
        assert!(r.insert(a("10.91.7.100"), a("10.91.7.151"), 1).is_err());
        r.insert(a("10.91.7.176"), a("10.91.7.151"), 103).unwrap();
        assert_eq!(
            r.get(a("10.91.7.160")).map(|x| *x.2),
            Some(103),
            "same range replaces"
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r.remove(a("10.1.0.9")), Some(7));
        assert!(!r.contains(a("10.1.0.9")));
    }

    proptest! {
        #[test]
        fn agrees_with_a_linear_scan(ranges in prop::collection::vec((any::<u32>(), 0u32..1000), 0..20),
                                     probes in prop::collection::vec(any::<u32>(), 0..50)) {
            let mut r = HostRanges::new();
            let mut kept = Vec::new();
            for (i, (l, len)) in ranges.into_iter().enumerate() {
                let h = l.saturating_add(len);
                if r.insert(l.into(), h.into(), i).is_ok() {
                    kept.retain(|&(kl, _, _)| kl != l);
                    kept.push((l, h, i));
                }
            }
            for p in probes.into_iter().chain(kept.iter().map(|k| k.0)) {
                let want = kept.iter().find(|&&(l, h, _)| l <= p && p <= h).map(|k| k.2);
                prop_assert_eq!(r.get(p.into()).map(|x| *x.2), want);
            }
        }
    }
}
