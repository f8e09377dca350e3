//! The subnet map exchange on a running AP (seed 004 "Subnet Map
//! Exchange"; the protocol is ours, docs/subnet-map-exchange.md): the
//! engine's UDP port, the home agent liveness probe, and the glue that
//! hands the learnt table to the proxy AP engine.

use pmip_config::{AapAddress, Config};
use pmip_engine::subnet_exchange::{Action, Source, SubnetExchange, SubnetExchangeConfig};
use pmip_engine::subnet_map::{SubnetEntry, SubnetMap};
use pmip_engine::time::{Instant, Now};
use pmip_wire::auth::Algorithm;
use pmip_wire::extension::{self, Extensions, kind};
use pmip_wire::identification::Identification;
use pmip_wire::registration::{RequestFlags, RequestRepr};
use serde_json::json;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// What the exchange's sockets deliver to the daemon loop.
#[derive(Debug)]
pub enum ExchangeEvent {
    /// A datagram on the exchange port.
    Datagram { from: Ipv4Addr, payload: Vec<u8> },
    /// Something answered a liveness probe (any reply counts, a denial
    /// included: seed 002 "if the home agent responds").
    ProbeReply { from: Ipv4Addr },
}

/// The exchange's configuration from the AP's, when it runs at all: it
/// needs `ip proxy-mobile aap` with addresses and `ip proxy-mobile aap
/// key` (every message is authenticated; there is no unauthenticated
/// mode). The reason otherwise, for the log and `show`.
pub fn engine_config(config: &Config, own: Ipv4Addr) -> Result<SubnetExchangeConfig, String> {
    let p = &config.proxy_mobile;
    let aaps: Vec<Ipv4Addr> = p
        .aaps
        .iter()
        .filter_map(|a| match a {
            AapAddress::Addr(a) => Some(*a),
            AapAddress::Name(_) => None,
        })
        .collect();
    if p.aaps.iter().any(|a| matches!(a, AapAddress::Name(_))) {
        tracing::warn!("AAPs given by host name are not resolved (no DNS here); use addresses");
    }
    if aaps.is_empty() {
        return Err("no AAP address configured (ip proxy-mobile aap A [B [C]])".into());
    }
    let Some((key, _)) = &p.aap_key else {
        return Err(
            "no AAP key: the subnet map exchange is off (ip proxy-mobile aap key ascii KEY)".into(),
        );
    };
    Ok(SubnetExchangeConfig {
        own_address: own,
        aaps,
        key: key.clone(),
        ..Default::default()
    })
}

/// The exchange while it runs.
pub struct ExchangeRuntime {
    pub engine: SubnetExchange,
    socket: Arc<UdpSocket>,
    probe: Arc<UdpSocket>,
    /// Probes in flight: the subnet asked about (home agent, prefix).
    probing: HashMap<Ipv4Addr, u8>,
    /// What was last reported as our own home agent.
    reported: Option<SubnetEntry>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ExchangeRuntime {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn receive_loop(
    socket: Arc<UdpSocket>,
    tx: mpsc::Sender<ExchangeEvent>,
    make: fn(Ipv4Addr, Vec<u8>) -> ExchangeEvent,
) {
    let mut buf = vec![0u8; 65536];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, SocketAddr::V4(from))) => {
                if tx.send(make(*from.ip(), buf[..n].to_vec())).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "subnet map exchange socket");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

impl ExchangeRuntime {
    /// Binds the exchange port on `own` (BVI1's address) and a probe
    /// socket, and starts the engine.
    pub fn start(
        config: SubnetExchangeConfig,
        tx: mpsc::Sender<ExchangeEvent>,
        now: Now,
        out: &mut Vec<Action>,
    ) -> std::io::Result<ExchangeRuntime> {
        let own = config.own_address;
        let socket = Arc::new(crate::udp::bind(own, pmip_wire::subnet_exchange::PORT)?);
        // Replies to probes come to the request's source port (RFC 5944
        // 3.4): an ephemeral port of our own keeps them apart.
        let probe = Arc::new(crate::udp::bind(own, 0)?);
        let tasks = vec![
            tokio::spawn(receive_loop(socket.clone(), tx.clone(), |from, payload| {
                ExchangeEvent::Datagram { from, payload }
            })),
            tokio::spawn(receive_loop(probe.clone(), tx, |from, _| {
                ExchangeEvent::ProbeReply { from }
            })),
        ];
        let mut engine = SubnetExchange::new(config);
        engine.start(now, out);
        tracing::info!(
            aap = engine.is_aap(),
            current = ?engine.current_aap(),
            "subnet map exchange started"
        );
        Ok(ExchangeRuntime {
            engine,
            socket,
            probe,
            probing: HashMap::new(),
            reported: None,
            tasks,
        })
    }

    /// Tells the engine our own subnet's home agent when it is first
    /// heard or changes (seed 004: "it obtains its own home agent
    /// information using the agent discovery mechanism").
    pub fn own_home_agent(&mut self, now: Now, entry: Option<SubnetEntry>, out: &mut Vec<Action>) {
        if entry != self.reported {
            self.reported = entry;
            let list: Vec<SubnetEntry> = entry.into_iter().collect();
            self.engine.report_own(now, &list, out);
        }
    }

    pub fn event(&mut self, now: Now, e: ExchangeEvent, out: &mut Vec<Action>) {
        match e {
            ExchangeEvent::Datagram { from, payload } => {
                self.engine.receive(now, from, &payload, out)
            }
            ExchangeEvent::ProbeReply { from } => {
                // The reply comes from the home agent's unicast address,
                // or another agent on that subnet: either shows it alive.
                let answered: Vec<Ipv4Addr> = self
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
                    self.probing.remove(&ha);
                    tracing::info!(home_agent = %ha, %from, "home agent answered the liveness probe");
                    self.engine.probe_answered(now, ha, out);
                }
            }
        }
    }

    /// Carries out the engine's actions; true when the table changed.
    pub async fn apply(&mut self, now: Now, actions: Vec<Action>) -> bool {
        let mut changed = false;
        for a in actions {
            match a {
                Action::Send { to, datagram } => {
                    let dst = SocketAddrV4::new(to, pmip_wire::subnet_exchange::PORT);
                    if let Err(e) = self.socket.send_to(&datagram, dst).await {
                        tracing::debug!(%to, error = %e, "subnet map exchange send");
                    }
                }
                Action::ProbeHomeAgent {
                    home_agent,
                    broadcast,
                } => {
                    let prefix_len = self
                        .engine
                        .entries()
                        .iter()
                        .find(|e| e.home_agent == home_agent)
                        .map_or(24, |e| e.prefix_len);
                    self.probing.insert(home_agent, prefix_len);
                    let msg = probe_request(broadcast, now);
                    tracing::info!(%home_agent, %broadcast, "probing a home agent no AP is left behind");
                    if let Err(e) = self
                        .probe
                        .send_to(&msg, SocketAddrV4::new(broadcast, 434))
                        .await
                    {
                        tracing::debug!(%broadcast, error = %e, "liveness probe send");
                    }
                }
                Action::TableChanged => changed = true,
            }
        }
        changed
    }
}

/// The liveness probe (seed 002: "a deregistration packet on behalf of
/// the broadcast address of the home agent subnet"): a deregistration of
/// the subnet's broadcast address, sent to that broadcast, with an MHAE
/// whose SPI no home agent has (SPI 0 is reserved, RFC 5944 1.6). A home
/// agent answers it with a denial (131, or 136 for a request to the
/// broadcast address): any answer shows it alive.
pub fn probe_request(broadcast: Ipv4Addr, now: Now) -> Vec<u8> {
    let mut msg = RequestRepr {
        flags: RequestFlags::default(),
        lifetime: 0,
        home_address: broadcast,
        home_agent: broadcast,
        care_of_address: broadcast,
        identification: Identification::from_unix(now.unix),
        extensions: Extensions::new(),
    }
    .to_vec();
    extension::append_authentication(
        &mut msg,
        kind::MOBILE_HOME_AUTH,
        0,
        Algorithm::HmacMd5,
        &[0; 16],
    );
    msg
}

/// The AP's subnet map: the learnt table, then the operator's static
/// `ip proxy-mobile subnet-map` entries over it.
pub fn merged_map(learnt: SubnetMap, static_map: &SubnetMap) -> SubnetMap {
    let mut m = learnt;
    for e in static_map.entries() {
        m.insert(*e);
    }
    m
}

fn hms(secs: u64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// One row of the table: home agent, mask, source, age (s), APs behind.
type Row = (Ipv4Addr, Ipv4Addr, String, Option<u64>, Vec<Ipv4Addr>);

/// `show ip proxy-mobile subnet-table`: the seeds' Subnet Table page
/// (home agent, mask) with where each entry came from and its age.
pub fn show(
    exchange: Option<&ExchangeRuntime>,
    off_reason: Option<&str>,
    static_map: &SubnetMap,
    now: Instant,
    json: bool,
) -> String {
    let mut rows: Vec<Row> = Vec::new();
    if let Some(x) = exchange {
        for e in x.engine.entries() {
            let entry = SubnetEntry {
                home_agent: e.home_agent,
                prefix_len: e.prefix_len,
            };
            let source = match e.source {
                Source::Own => "own (agent discovery)".to_owned(),
                Source::Aap(a) => format!("AAP {a}"),
                Source::Local => "this AAP".to_owned(),
            };
            rows.push((
                e.home_agent,
                entry.mask_addr(),
                source,
                Some(now.saturating_since(e.changed).as_secs()),
                e.aps,
            ));
        }
    }
    for e in static_map.entries() {
        rows.retain(|r| r.0 != e.home_agent);
        rows.push((
            e.home_agent,
            e.mask_addr(),
            "static".into(),
            None,
            Vec::new(),
        ));
    }
    rows.sort_by_key(|r| u32::from(r.0));
    let (role, current) = match exchange {
        Some(x) => (
            if x.engine.is_aap() { "AAP" } else { "AP" },
            x.engine.current_aap(),
        ),
        None => ("off", None),
    };
    if json {
        let c = exchange.map(|x| x.engine.counters().clone());
        return json!({
            "exchange": role,
            "off_reason": off_reason,
            "current_aap": current.map(|a| a.to_string()),
            "members": exchange.map(|x| x.engine.members().iter().map(|a| a.to_string()).collect::<Vec<_>>()),
            "entries": rows.iter().map(|(ha, mask, src, age, aps)| json!({
                "home_agent": ha.to_string(),
                "mask": mask.to_string(),
                "source": src,
                "age_seconds": age,
                "aps": aps.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "counters": c.map(|c| json!({
                "sent": c.sent,
                "received": c.received,
                "bad_auth": c.bad_auth,
                "replayed": c.replayed,
                "malformed": c.malformed,
                "retransmissions": c.retransmissions,
                "failovers": c.failovers,
                "probes_sent": c.probes_sent,
            })),
        })
        .to_string();
    }
    let mut s = String::new();
    match (exchange, off_reason) {
        (Some(x), _) if x.engine.is_aap() => {
            let _ = writeln!(
                s,
                "Subnet map table (this AP is an AAP; {} APs joined)",
                x.engine.members().len()
            );
        }
        (Some(_), _) => {
            let _ = writeln!(
                s,
                "Subnet map table (from AAP {})",
                current.map_or("-".into(), |a| a.to_string())
            );
        }
        (None, Some(r)) => {
            let _ = writeln!(s, "Subnet map table (exchange off: {r})");
        }
        (None, None) => s.push_str("Subnet map table\n"),
    }
    let _ = writeln!(
        s,
        "{:<16} {:<16} {:<24} Age",
        "Home Agent", "Mask", "Source"
    );
    for (ha, mask, src, age, _) in &rows {
        let _ = writeln!(
            s,
            "{:<16} {:<16} {:<24} {}",
            ha.to_string(),
            mask.to_string(),
            src,
            age.map_or("-".into(), hms)
        );
    }
    let _ = writeln!(s, "Total {}", rows.len());
    if let Some(x) = exchange {
        let c = x.engine.counters();
        let _ = writeln!(
            s,
            "Messages: {} sent, {} received; dropped: {} failing authentication, {} replayed, {} malformed; {} retransmissions, {} failovers, {} home agent probes",
            c.sent,
            c.received,
            c.bad_auth,
            c.replayed,
            c.malformed,
            c.retransmissions,
            c.failovers,
            c.probes_sent
        );
    }
    s
}
