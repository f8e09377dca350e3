//! The subnet map exchange on an AP (docs/subnet-map-exchange.md): the
//! engine, the home agent liveness probes it asks for and the answers to
//! them, and what the AP reports as its own home agent.

use crate::{EXCHANGE_PORT, Output, PROBE_PORT, REGISTRATION_PORT, Transmit, packets};
use pmip_config::Config;
use pmip_engine::subnet_exchange::{Action, SubnetExchange};
use pmip_engine::subnet_map::{SubnetEntry, SubnetMap};
use pmip_engine::time::{Instant, Now};
use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

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

    /// Starts the exchange when the configuration has AAPs and a key.
    pub fn start(config: &Config, own: Ipv4Addr, now: Now) -> Exchange {
        match crate::config::subnet_exchange(config, own) {
            Ok(cfg) => {
                let unauthenticated = config.proxy_mobile.aap_key.is_none();
                if unauthenticated {
                    tracing::warn!(
                        "no `ip proxy-mobile aap key`: the subnet map exchange runs unauthenticated, taking tables only from the configured AAPs and joins only from APs inside the subnets they report; add `ip proxy-mobile aap key ascii KEY` on every AP to authenticate it"
                    );
                }
                let aaps = cfg.aaps.clone();
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
        self.running().and_then(|r| r.engine.poll_timeout())
    }

    pub fn handle_timeout(&mut self, now: Now) {
        if let Exchange::On(r) = self {
            r.engine.handle_timeout(now, &mut r.actions);
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
        changed
    }
}
