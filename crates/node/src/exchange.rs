//! The subnet map exchange on an AP (docs/subnet-map-exchange.md): the
//! engine, the home agent liveness probes it asks for and the answers to
//! them, what the AP reports as its own home agent, and the campus station
//! table shared with the AP ([`StationShare`]).

use crate::{EXCHANGE_PORT, Mac, Output, PROBE_PORT, REGISTRATION_PORT, Transmit, packets};
use pmip_config::Config;
use pmip_engine::subnet_exchange::{Action, StationInfo, SubnetExchange};
use pmip_engine::subnet_map::{SubnetEntry, SubnetMap};
use pmip_engine::time::{Instant, Now};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// While its address stays the same, a station goes to the exchange again
/// at most this often: `remember` sees every frame of it, the exchange
/// needs only news (and sends even those in batches).
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// Sightings waiting for the exchange (it takes them at once; this bounds
/// a flood of new MACs between two of its turns).
const MAX_PENDING: usize = 4096;
/// Addresses of the campus table an arriving station is asked about, at
/// most (the most recent sightings first).
pub(crate) const CAMPUS_QUERY_ADDRESSES: usize = 256;

/// The campus station table between the AP and the exchange
/// (docs/subnet-map-exchange.md, section 16): the stations the AP sees on
/// its own link go to the exchange, which reports them to the AAP; what
/// the exchange learns of stations other APs saw comes back here for the
/// AP to look addresses up in. Kept apart from the AP's own `known`
/// table, which always wins.
#[derive(Clone, Default)]
pub(crate) struct StationShare(Arc<Mutex<Shared>>);

#[derive(Default)]
struct Shared {
    /// An exchange runs and takes what the AP sees.
    listening: bool,
    /// Seen on the AP's own link, for the exchange's next turn.
    pending: BTreeMap<Mac, Ipv4Addr>,
    pending_since: Option<Instant>,
    /// What last went to the exchange, per station.
    reported: BTreeMap<Mac, (Ipv4Addr, Instant)>,
    /// The campus table less what this AP saw itself: the address and
    /// when the entry ages out.
    campus: BTreeMap<Mac, (Ipv4Addr, Instant)>,
    /// The same by expiry: the most recent sightings last.
    recency: BTreeSet<(Instant, Mac)>,
}

impl StationShare {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // Nothing panics while holding it; a poisoned lock still holds
        // consistent maps.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The AP saw `mac` use `address` on its own link.
    pub fn seen(&self, now: Instant, mac: Mac, address: Ipv4Addr) {
        let mut s = self.lock();
        if !s.listening {
            return;
        }
        let fresh = s
            .reported
            .get(&mac)
            .is_none_or(|(a, t)| *a != address || now.saturating_since(*t) >= REPORT_EVERY);
        if !fresh || (s.pending.len() >= MAX_PENDING && !s.pending.contains_key(&mac)) {
            return;
        }
        s.reported.insert(mac, (address, now));
        if s.reported.len() > MAX_PENDING {
            // Only the last second's reports still hold anything back.
            s.reported
                .retain(|_, (_, t)| now.saturating_since(*t) < REPORT_EVERY);
        }
        s.pending.insert(mac, address);
        s.pending_since.get_or_insert(now);
    }

    /// The address of a station some other AP of the campus saw.
    pub fn campus_address(&self, mac: &Mac) -> Option<Ipv4Addr> {
        self.lock().campus.get(mac).map(|(a, _)| *a)
    }

    /// Stations other APs saw, the most recent first, at most `limit`.
    pub fn recent(&self, limit: usize) -> Vec<(Mac, Ipv4Addr)> {
        let s = self.lock();
        s.recency
            .iter()
            .rev()
            .filter_map(|(_, m)| s.campus.get(m).map(|(a, _)| (*m, *a)))
            .take(limit)
            .collect()
    }

    /// When the exchange should take the pending sightings (at once).
    fn due(&self) -> Option<Instant> {
        self.lock().pending_since
    }

    fn take_pending(&self) -> BTreeMap<Mac, Ipv4Addr> {
        let mut s = self.lock();
        s.pending_since = None;
        std::mem::take(&mut s.pending)
    }

    /// The exchange's table changed: this AP's own sightings stay out.
    fn apply(&self, own: Ipv4Addr, changes: Vec<(Mac, Option<StationInfo>)>) {
        let mut s = self.lock();
        for (mac, info) in changes {
            if let Some((_, expires)) = s.campus.remove(&mac) {
                s.recency.remove(&(expires, mac));
            }
            if let Some(i) = info.filter(|i| i.ap != own) {
                s.campus.insert(mac, (i.address, i.expires));
                s.recency.insert((i.expires, mac));
            }
        }
    }
}

pub(crate) struct Running {
    pub engine: SubnetExchange,
    own: Ipv4Addr,
    /// No `ip proxy-mobile aap key`: senders are checked by address.
    pub unauthenticated: bool,
    aaps: Vec<Ipv4Addr>,
    /// Datagrams refused by that check.
    pub refused: u64,
    /// Probes in flight: the subnet asked about (home agent, prefix).
    probing: BTreeMap<Ipv4Addr, u8>,
    /// What was last reported as our own home agent.
    reported: Option<SubnetEntry>,
    /// Actions produced between two carry-outs.
    actions: Vec<Action>,
    /// The campus station table shared with the AP.
    stations: Option<StationShare>,
}

impl Running {
    /// Whom an unauthenticated exchange listens to: the configured AAPs;
    /// and, at an AAP, an AP inside one of the subnets it reports in its
    /// Join, or inside a subnet of the table already. Whatever does not
    /// parse goes on to the engine, which counts it.
    fn admits(&self, from: Ipv4Addr, payload: &[u8]) -> bool {
        use pmip_wire::subnet_exchange::{Message, Repr};
        if self.aaps.contains(&from) {
            return true;
        }
        if !self.engine.is_aap() {
            return false;
        }
        let Ok(repr) = Repr::parse_authenticated(payload, crate::config::UNAUTHENTICATED_KEY)
        else {
            return true;
        };
        let inside = |ha: Ipv4Addr, prefix_len: u8| {
            SubnetEntry {
                home_agent: ha,
                prefix_len,
            }
            .contains(from)
        };
        if let Message::Join { subnets, .. } = &repr.message
            && subnets.iter().any(|s| inside(s.home_agent, s.prefix_len))
        {
            return true;
        }
        self.engine
            .entries()
            .iter()
            .any(|e| inside(e.home_agent, e.prefix_len))
    }
}

/// The exchange, or why it is off.
pub(crate) enum Exchange {
    On(Box<Running>),
    Off(String),
}

impl Exchange {
    pub fn off(reason: &str) -> Exchange {
        Exchange::Off(reason.to_owned())
    }

    /// Starts the exchange when the configuration has AAPs and a key;
    /// `stations` is the AP's side of the campus station table.
    pub fn start(
        config: &Config,
        own: Ipv4Addr,
        now: Now,
        stations: Option<StationShare>,
    ) -> Exchange {
        match crate::config::subnet_exchange(config, own) {
            Ok(cfg) => {
                let unauthenticated = config.proxy_mobile.aap_key.is_none();
                if unauthenticated {
                    tracing::warn!(
                        "no `ip proxy-mobile aap key`: the subnet map exchange runs unauthenticated, taking tables only from the configured AAPs and joins only from APs inside the subnets they report; add `ip proxy-mobile aap key ascii KEY` on every AP to authenticate it"
                    );
                }
                let aaps = cfg.aaps.clone();
                if let Some(s) = &stations {
                    s.lock().listening = true;
                }
                let mut engine = SubnetExchange::new(cfg);
                let mut actions = Vec::new();
                engine.start(now, &mut actions);
                tracing::info!(
                    aap = engine.is_aap(),
                    current = ?engine.current_aap(),
                    "subnet map exchange started"
                );
                Exchange::On(Box::new(Running {
                    engine,
                    own,
                    unauthenticated,
                    aaps,
                    refused: 0,
                    probing: BTreeMap::new(),
                    reported: None,
                    actions,
                    stations,
                }))
            }
            Err(reason) => {
                if !config.proxy_mobile.aaps.is_empty() {
                    tracing::warn!("{reason}");
                }
                Exchange::Off(reason)
            }
        }
    }

    pub fn running(&self) -> Option<&Running> {
        match self {
            Exchange::On(r) => Some(r),
            Exchange::Off(_) => None,
        }
    }

    pub fn off_reason(&self) -> Option<&str> {
        match self {
            Exchange::On(_) => None,
            Exchange::Off(r) => Some(r),
        }
    }

    pub fn own_address(&self) -> Option<Ipv4Addr> {
        self.running().map(|r| r.own)
    }

    pub fn table(&self) -> SubnetMap {
        self.running().map(|r| r.engine.table()).unwrap_or_default()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let r = self.running()?;
        let pending = r.stations.as_ref().and_then(StationShare::due);
        [r.engine.poll_timeout(), pending]
            .into_iter()
            .flatten()
            .min()
    }

    /// The engine's timers, and the stations the AP saw since the last
    /// turn.
    pub fn handle_timeout(&mut self, now: Now) {
        if let Exchange::On(r) = self {
            if let Some(s) = &r.stations {
                for (mac, address) in s.take_pending() {
                    r.engine.station_seen(now, mac, address, &mut r.actions);
                }
            }
            if r.engine.poll_timeout().is_some_and(|t| t <= now.instant) {
                r.engine.handle_timeout(now, &mut r.actions);
            }
        }
    }

    pub fn datagram(&mut self, now: Now, from: Ipv4Addr, payload: &[u8]) {
        if let Exchange::On(r) = self {
            if r.unauthenticated && !r.admits(from, payload) {
                r.refused += 1;
                if r.refused == 1 {
                    tracing::warn!(%from, "unauthenticated subnet map exchange: a datagram from neither a configured AAP nor an AP of the campus's subnets refused (counted from now on)");
                }
                return;
            }
            r.engine.receive(now, from, payload, &mut r.actions);
        }
    }

    /// Something answered a liveness probe: any reply counts, a denial
    /// included ("if the home agent responds"). It comes from the home
    /// agent's unicast address or another agent on that subnet: either
    /// shows it alive.
    pub fn probe_reply(&mut self, now: Now, from: Ipv4Addr) {
        let Exchange::On(r) = self else {
            return;
        };
        let answered: Vec<Ipv4Addr> = r
            .probing
            .iter()
            .filter(|(ha, len)| {
                SubnetEntry {
                    home_agent: **ha,
                    prefix_len: **len,
                }
                .contains(from)
            })
            .map(|(ha, _)| *ha)
            .collect();
        for ha in answered {
            r.probing.remove(&ha);
            tracing::info!(home_agent = %ha, %from, "home agent answered the liveness probe");
            r.engine.probe_answered(now, ha, &mut r.actions);
        }
    }

    /// Tells the engine our own subnet's home agent when it is first
    /// heard or changes; true when that produced something to do.
    pub fn own_home_agent(&mut self, now: Now, entry: Option<SubnetEntry>) -> bool {
        let Exchange::On(r) = self else {
            return false;
        };
        if entry == r.reported {
            return false;
        }
        r.reported = entry;
        let list: Vec<SubnetEntry> = entry.into_iter().collect();
        r.engine.report_own(now, &list, &mut r.actions);
        !r.actions.is_empty()
    }

    /// `refresh ip proxy-mobile subnet-table`.
    pub fn refresh(&mut self, now: Now) -> Result<(), String> {
        match self {
            Exchange::On(r) => {
                r.engine.refresh(now, &mut r.actions);
                Ok(())
            }
            Exchange::Off(reason) => Err(reason.clone()),
        }
    }

    /// `clear ip proxy-mobile subnet-table`.
    pub fn clear(&mut self, now: Now) -> Result<(), String> {
        match self {
            Exchange::On(r) => {
                r.engine.clear(now, &mut r.actions);
                Ok(())
            }
            Exchange::Off(reason) => Err(reason.clone()),
        }
    }

    /// Turns the engine's actions into outputs; true when the table
    /// changed.
    pub fn carry_out(&mut self, now: Now, out: &mut VecDeque<Output>) -> bool {
        let Exchange::On(r) = self else {
            return false;
        };
        let mut changed = false;
        for a in std::mem::take(&mut r.actions) {
            match a {
                Action::Send { to, datagram } => out.push_back(Output::Transmit(Transmit::Udp {
                    local: SocketAddrV4::new(r.own, EXCHANGE_PORT),
                    remote: SocketAddrV4::new(to, EXCHANGE_PORT),
                    payload: datagram,
                })),
                Action::ProbeHomeAgent {
                    home_agent,
                    broadcast,
                } => {
                    let prefix_len = r
                        .engine
                        .entries()
                        .iter()
                        .find(|e| e.home_agent == home_agent)
                        .map_or(24, |e| e.prefix_len);
                    r.probing.insert(home_agent, prefix_len);
                    tracing::info!(%home_agent, %broadcast, "probing a home agent no AP is left behind");
                    out.push_back(Output::Transmit(Transmit::Udp {
                        local: SocketAddrV4::new(r.own, PROBE_PORT),
                        remote: SocketAddrV4::new(broadcast, REGISTRATION_PORT),
                        payload: packets::probe_request(broadcast, now),
                    }));
                }
                Action::TableChanged => changed = true,
            }
        }
        if let Some(s) = &r.stations {
            let changes = r.engine.take_station_changes(now.instant);
            if !changes.is_empty() {
                s.apply(r.own, changes);
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmip_engine::subnet_exchange::StationInfo;

    fn info(mac: Mac, address: [u8; 4], ap: [u8; 4], expires: u64) -> (Mac, Option<StationInfo>) {
        (
            mac,
            Some(StationInfo {
                mac,
                address: address.into(),
                ap: ap.into(),
                age: Duration::ZERO,
                expires: Instant::from_secs(expires),
            }),
        )
    }

    #[test]
    fn the_share_reports_news_and_keeps_the_campus_apart() {
        let own = Ipv4Addr::new(10, 1, 0, 2);
        let ap = StationShare::default();
        let exchange = ap.clone();
        let (a, b) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        // Nobody listens (no exchange runs): nothing is kept.
        ap.seen(Instant::from_secs(1), a, Ipv4Addr::new(10, 1, 0, 50));
        assert_eq!(exchange.due(), None);
        exchange.lock().listening = true;
        let t = Instant::from_secs(2);
        ap.seen(t, a, Ipv4Addr::new(10, 1, 0, 50));
        ap.seen(
            t + Duration::from_millis(300),
            a,
            Ipv4Addr::new(10, 1, 0, 50),
        );
        assert_eq!(exchange.due(), Some(t));
        assert_eq!(exchange.take_pending().len(), 1);
        assert_eq!(exchange.due(), None);
        // The same again within a second is no news; a new address is,
        // and so is the same after a second.
        ap.seen(
            t + Duration::from_millis(600),
            a,
            Ipv4Addr::new(10, 1, 0, 50),
        );
        assert_eq!(exchange.due(), None);
        ap.seen(
            t + Duration::from_millis(700),
            a,
            Ipv4Addr::new(10, 1, 0, 51),
        );
        ap.seen(
            t + Duration::from_millis(2000),
            a,
            Ipv4Addr::new(10, 1, 0, 51),
        );
        assert_eq!(
            exchange.take_pending().into_iter().collect::<Vec<_>>(),
            vec![(a, Ipv4Addr::new(10, 1, 0, 51))]
        );
        // What this AP saw itself stays out of the campus view; others'
        // sightings come most recent first; a removal removes.
        exchange.apply(
            own,
            vec![
                info(a, [10, 1, 0, 51], [10, 1, 0, 2], 100),
                info(b, [10, 3, 0, 60], [10, 3, 0, 2], 90),
            ],
        );
        assert_eq!(ap.campus_address(&a), None);
        assert_eq!(ap.campus_address(&b), Some(Ipv4Addr::new(10, 3, 0, 60)));
        exchange.apply(own, vec![info(a, [10, 1, 0, 51], [10, 2, 0, 2], 120)]);
        assert_eq!(
            ap.recent(10),
            vec![
                (a, Ipv4Addr::new(10, 1, 0, 51)),
                (b, Ipv4Addr::new(10, 3, 0, 60))
            ]
        );
        assert_eq!(ap.recent(1).len(), 1);
        exchange.apply(own, vec![(b, None)]);
        assert_eq!(ap.campus_address(&b), None);
        assert_eq!(ap.recent(10).len(), 1);
    }
}
