//! Lists of address-range entries (`ip mobile host`, `ip mobile secure`,
//! `ip proxy-mobile secure node`) kept in configuration order with an index
//! by range, so that the parser's overlap check and replacement of an
//! existing entry cost O(log n) per line: a home agent may carry 100 000
//! security associations and loading them must stay linear.

use crate::AddrRange;
use std::collections::BTreeMap;
use std::ops::Deref;

/// An entry of a [`RangeList`]: its range, and the class its range is
/// unique within (ranges of different classes may overlap, e.g. `ip mobile
/// secure host` and `ip mobile secure visitor` for the same addresses).
pub trait Ranged {
    fn range(&self) -> AddrRange;
    fn class(&self) -> u8 {
        0
    }
}

/// Entries in the order they were configured, ranges of one class never
/// overlapping. Reads like a slice.
#[derive(Debug, Clone)]
pub struct RangeList<T> {
    entries: Vec<T>,
    /// (class, low) → (high, position in `entries`).
    index: BTreeMap<(u8, u32), (u32, usize)>,
}

impl<T> Default for RangeList<T> {
    fn default() -> Self {
        RangeList {
            entries: Vec::new(),
            index: BTreeMap::new(),
        }
    }
}

impl<T: PartialEq> PartialEq for RangeList<T> {
    fn eq(&self, other: &Self) -> bool {
        // The index is derived from the entries.
        self.entries == other.entries
    }
}

impl<T: Eq> Eq for RangeList<T> {}

impl<T> Deref for RangeList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.entries
    }
}

impl<'a, T> IntoIterator for &'a RangeList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

impl<T: Ranged> FromIterator<T> for RangeList<T> {
    /// Later entries replace earlier ones of the same range; an entry
    /// overlapping an earlier one of another range is left out.
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut list = RangeList::default();
        for e in iter {
            let _ = list.upsert(e);
        }
        list
    }
}

impl<T: Ranged> RangeList<T> {
    /// The entry of `class` that shares an address with `range` without
    /// being exactly `range`. Ranges of a class are disjoint, so only the
    /// entry starting last at or before `range.high` can overlap.
    pub fn overlapping(&self, class: u8, range: AddrRange) -> Option<&T> {
        let (_, &(high, at)) = self
            .index
            .range((class, 0)..=(class, u32::from(range.high)))
            .next_back()?;
        let found = &self.entries[at];
        (high >= u32::from(range.low) && found.range() != range).then_some(found)
    }

    /// The entry of `class` whose range holds `addr`.
    pub fn containing(&self, class: u8, addr: std::net::Ipv4Addr) -> Option<&T> {
        let (_, &(high, at)) = self
            .index
            .range((class, 0)..=(class, u32::from(addr)))
            .next_back()?;
        (high >= u32::from(addr)).then(|| &self.entries[at])
    }

    /// Replaces the entry of the same class and range, or appends `entry`.
    /// Refuses (returning it) an entry overlapping another range.
    pub fn upsert(&mut self, entry: T) -> Result<(), T> {
        let (class, range) = (entry.class(), entry.range());
        if self.overlapping(class, range).is_some() {
            return Err(entry);
        }
        let key = (class, u32::from(range.low));
        match self.index.get(&key) {
            Some(&(_, at)) => self.entries[at] = entry,
            None => {
                self.index
                    .insert(key, (u32::from(range.high), self.entries.len()));
                self.entries.push(entry);
            }
        }
        Ok(())
    }

    /// Removes the entry of `class` with exactly `range`, if any. Linear
    /// (positions after it shift), which `no` lines can afford.
    pub fn remove(&mut self, class: u8, range: AddrRange) {
        let before = self.entries.len();
        self.entries
            .retain(|e| !(e.class() == class && e.range() == range));
        if self.entries.len() != before {
            self.reindex();
        }
    }

    fn reindex(&mut self) {
        self.index = self
            .entries
            .iter()
            .enumerate()
            .map(|(at, e)| {
                let r = e.range();
                ((e.class(), u32::from(r.low)), (u32::from(r.high), at))
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[derive(Debug, PartialEq, Eq)]
    struct E(u8, u32, u32, &'static str);
    impl Ranged for E {
        fn range(&self) -> AddrRange {
            AddrRange {
                low: Ipv4Addr::from(self.1),
                high: Ipv4Addr::from(self.2),
            }
        }
        fn class(&self) -> u8 {
            self.0
        }
    }
    fn r(low: u32, high: u32) -> AddrRange {
        AddrRange {
            low: Ipv4Addr::from(low),
            high: Ipv4Addr::from(high),
        }
    }

    #[test]
    fn overlap_replace_remove_and_classes() {
        let mut l = RangeList::default();
        l.upsert(E(0, 10, 20, "a")).unwrap();
        l.upsert(E(0, 30, 30, "b")).unwrap();
        l.upsert(E(1, 15, 35, "other class")).unwrap();
        assert!(l.upsert(E(0, 20, 25, "x")).is_err(), "touches a's high end");
        assert!(l.upsert(E(0, 5, 10, "x")).is_err(), "touches a's low end");
        assert!(l.upsert(E(0, 0, 100, "x")).is_err(), "covers both");
        assert!(l.upsert(E(0, 12, 13, "x")).is_err(), "inside a");
        l.upsert(E(0, 21, 29, "between")).unwrap();
        l.upsert(E(0, 10, 20, "a2")).unwrap();
        let names: Vec<_> = l.iter().map(|e| e.3).collect();
        assert_eq!(names, ["a2", "b", "other class", "between"], "order kept");
        assert_eq!(l.containing(0, Ipv4Addr::from(30)).unwrap().3, "b");
        assert_eq!(
            l.containing(1, Ipv4Addr::from(30)).unwrap().3,
            "other class"
        );
        assert!(l.containing(0, Ipv4Addr::from(31)).is_none());
        assert!(l.containing(0, Ipv4Addr::from(9)).is_none());
        l.remove(0, r(10, 20));
        assert!(l.containing(0, Ipv4Addr::from(15)).is_none());
        assert_eq!(l.containing(0, Ipv4Addr::from(25)).unwrap().3, "between");
        l.upsert(E(0, 0, 9, "low")).unwrap();
        assert_eq!(l.len(), 4);
    }
}
