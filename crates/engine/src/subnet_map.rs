//! The subnet map table (the Aironet documentation's "Subnet Map
//! Exchange"; docs/subnet-map-exchange.md): home agent addresses with
//! their subnet masks; a visiting client's home agent is found by longest
//! match on its address.

use core::net::Ipv4Addr;

/// One entry: the home agent and the mask of the subnet it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubnetEntry {
    pub home_agent: Ipv4Addr,
    pub prefix_len: u8,
}

impl SubnetEntry {
    pub fn mask(&self) -> u32 {
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix_len.min(32))
        }
    }
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & self.mask() == u32::from(self.home_agent) & self.mask()
    }
    /// The mask in dotted form, as the Aironet documentation's table shows it.
    pub fn mask_addr(&self) -> Ipv4Addr {
        self.mask().into()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubnetMap {
    entries: Vec<SubnetEntry>,
}

impl SubnetMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the entry of `home_agent`.
    pub fn insert(&mut self, e: SubnetEntry) {
        self.entries.retain(|x| x.home_agent != e.home_agent);
        self.entries.push(e);
        self.entries.sort();
    }

    pub fn remove(&mut self, home_agent: Ipv4Addr) -> bool {
        let before = self.entries.len();
        self.entries.retain(|x| x.home_agent != home_agent);
        before != self.entries.len()
    }

    /// Longest-prefix match: the home agent serving `addr`.
    pub fn lookup(&self, addr: Ipv4Addr) -> Option<SubnetEntry> {
        self.entries
            .iter()
            .filter(|e| e.contains(addr))
            .max_by_key(|e| e.prefix_len)
            .copied()
    }

    pub fn entries(&self) -> &[SubnetEntry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(ha: &str, len: u8) -> SubnetEntry {
        SubnetEntry {
            home_agent: ha.parse().unwrap(),
            prefix_len: len,
        }
    }

    #[test]
    fn documented_table_longest_match() {
        // Table 15-1 of the Aironet documentation.
        let mut m = SubnetMap::new();
        m.insert(e("10.10.10.1", 24));
        m.insert(e("10.10.4.2", 24));
        m.insert(e("10.3.4.4", 29));
        m.insert(e("10.12.1.1", 16));
        assert_eq!(
            m.lookup("10.10.10.77".parse().unwrap()),
            Some(e("10.10.10.1", 24))
        );
        assert_eq!(
            m.lookup("10.3.4.6".parse().unwrap()),
            Some(e("10.3.4.4", 29))
        );
        assert_eq!(m.lookup("10.3.4.9".parse().unwrap()), None);
        assert_eq!(
            m.lookup("10.12.200.3".parse().unwrap()),
            Some(e("10.12.1.1", 16))
        );
        m.insert(e("10.12.7.1", 24));
        assert_eq!(
            m.lookup("10.12.7.3".parse().unwrap()),
            Some(e("10.12.7.1", 24)),
            "longest wins"
        );
        assert_eq!(
            e("10.3.4.4", 29).mask_addr(),
            Ipv4Addr::new(255, 255, 255, 248)
        );
        assert!(m.remove("10.12.7.1".parse().unwrap()));
        assert_eq!(
            m.lookup("10.12.7.3".parse().unwrap()),
            Some(e("10.12.1.1", 16))
        );
    }
}
