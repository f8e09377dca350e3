//! `pmip run`: one device process, a driver around one
//! [`pmip_node::Node`]. It reads the configuration, applies it to the
//! namespace's interfaces, opens the sockets the node asks for, runs one
//! event loop that feeds the node its inputs and carries out its outputs,
//! serves the control socket and the web pages, and removes everything it
//! installed on exit.

use crate::control::{self, ControlSocket};
use crate::installer::{
    BindingInstaller, INSTALL_QUEUE, REVERSE_TUNNEL_TABLE, TUNNEL_DEVICE, VisitorInstaller,
};
use crate::interfaces;
use crate::io::Io;
use pmip_config::Config;
use pmip_engine::time::{Instant, Now};
use pmip_node::config::{BRIDGE, WIRED};
use pmip_node::{
    Input, Install, Link, LinkEvent, Node, Output, Role, SaLookup, StationPort, Transmit,
};
use pmip_platform::dataplane::DataPlane;
use pmip_platform::netlink::Netlink;
use pmip_platform::packet::{PacketSocket, RawLink};
use pmip_platform::tun::Tun;
use pmip_platform::visited_link::VisitedLink;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{path}: {source}")]
    ReadConfig {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Config {
        path: String,
        source: pmip_config::ConfigError,
    },
    #[error("{0}")]
    Apply(#[from] interfaces::ApplyError),
    #[error("netlink: {0}")]
    Netlink(#[from] pmip_platform::netlink::NetlinkError),
    #[error("control socket {path}: {source}")]
    Control {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The node's clocks: monotonic time since the daemon started, and the
/// time of day for Mobile IP identification timestamps.
#[derive(Clone, Copy)]
pub struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            origin: std::time::Instant::now(),
        }
    }
    pub fn now(&self) -> Now {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Now::new(Instant::from_duration(self.origin.elapsed()), unix)
    }
    pub fn at(&self, t: Instant) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.origin + t.since_origin())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Most inputs read from the sockets in one turn of the loop. Everything
/// a turn changes is kept in one durable commit before its replies leave,
/// so the commit's fsync is shared by up to this many registrations
/// (docs/architecture.md, "Registrations and the durable commit").
const BATCH: usize = 1024;

/// Receive buffer of the registration sockets: room for a full turn of
/// requests (and more) waiting while a commit's fsync is in flight.
const UDP_RECEIVE_BUFFER: usize = 4 << 20;

/// What arrives from tasks off the hot path: RADIUS answers and link
/// events.
enum Event {
    Sa {
        role: Role,
        home: Ipv4Addr,
        result: SaLookup,
    },
    Link(LinkEvent),
    /// Something changed on the links: list the bridge's ports again.
    LinksChanged,
    /// A listing of the bridge's ports, made while associations had
    /// reached `epoch`.
    Ports {
        epoch: u64,
        ports: Option<LinkEvent>,
    },
}

/// The bridge's ports are listed (a netlink dump, a millisecond or more)
/// on a task of their own, one listing at a time: a roam brings a burst of
/// link events, and a listing in the loop held the registration reply that
/// arrived meanwhile.
#[derive(Default)]
struct PortListing {
    running: bool,
    again: bool,
    /// Associations seen: a listing begun before one may not know its
    /// port, so its result gives way to a new listing.
    epoch: u64,
}

/// The tunnel data plane and the kernel installs of the router roles.
struct Router {
    dataplane: DataPlane,
    dataplane_task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Binding installs go to their own task in order, which takes them
    /// in batches; the loop answers the next registration meanwhile. The
    /// queue is bounded: when it is full the loop waits for room (and
    /// reads no more registrations), so no install is ever dropped and
    /// memory stays bounded however fast registrations come.
    /// `None` only asks for the done signal (every install before it is
    /// done).
    bindings: mpsc::Sender<crate::installer::Queued>,
    /// Stopped (after the batch in hand) when the router goes.
    _installer: crate::installer::InstallerThread,
    visitors: VisitorInstaller,
}

impl Drop for Router {
    fn drop(&mut self) {
        self.dataplane_task.abort();
    }
}

/// One running device: the node and everything it is driven with.
struct Driver {
    node: Node,
    io: Io,
    clock: Clock,
    netlink: Arc<Netlink>,
    router: Option<Router>,
    bridge: Option<u32>,
    events: mpsc::Sender<Event>,
    /// RADIUS clients for the home agent's and the AP's lookups, or why
    /// there is none.
    radius: BTreeMap<RoleKey, Result<pmip_radius::RadiusHandle, String>>,
    /// Installs a transmit must wait for (a home address's last binding
    /// removed before the reply to the node that came home).
    wait: Vec<oneshot::Receiver<()>>,
    /// The configuration file the device runs from (`write memory`).
    config_path: PathBuf,
    /// Outputs taken out of order while answering a command, carried out
    /// next.
    held: std::collections::VecDeque<Output>,
    /// Station ports that could not be watched yet, and how often.
    watch_retries: BTreeMap<u32, u32>,
    listing: PortListing,
    /// Visitor isolation requests, carried out in order off the loop.
    isolation: std::sync::mpsc::Sender<crate::isolation::Request>,
    /// What survives a restart (the home agent's bindings and replay
    /// state, the foreign agent's visitors, the kernel ledger), committed
    /// before the replies that depend on it leave.
    state: Option<pmip_platform::state::StateStore>,
    /// The DHCP lease's address and route on BVI1 (`ip address dhcp`).
    dhcp: crate::dhcp::LeaseOnLink,
    /// Where the debug trace goes besides the log: the control socket's
    /// following clients (`pmip debug`), once it is open.
    debug: Option<tokio::sync::broadcast::Sender<Arc<str>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum RoleKey {
    HomeAgent,
    AccessPoint,
}

fn key(role: Role) -> RoleKey {
    match role {
        Role::HomeAgent => RoleKey::HomeAgent,
        Role::AccessPoint => RoleKey::AccessPoint,
    }
}

impl Driver {
    /// Carries out everything the node asked for, in order.
    async fn drive(&mut self) {
        loop {
            self.debug_lines();
            // Everything the turn changed is kept in one commit before the
            // first of its replies leaves (one commit per batch of
            // registrations, not per registration).
            let mut outputs: Vec<Output> = self.held.drain(..).collect();
            while let Some(o) = self.node.poll_output() {
                outputs.push(o);
            }
            crate::dhcp::follow(
                &mut self.dhcp,
                &self.node,
                &self.netlink,
                &mut self.io,
                self.bridge,
            )
            .await;
            // Polling made the outputs' trace lines.
            self.debug_lines();
            if outputs.is_empty() {
                return;
            }
            let now = self.clock.now();
            for o in &outputs {
                if let Output::Install(i) = o {
                    self.keep(i, now);
                }
            }
            self.commit_state();
            // Datagrams go out together (sendmmsg), in order with the
            // rest: those waiting are sent before any other output but a
            // binding's or visitor's install, which may come before an
            // earlier reply as well (a reply only has to follow its own).
            let mut datagrams = Vec::new();
            for o in outputs {
                match o {
                    Output::Transmit(Transmit::Udp {
                        local,
                        remote,
                        payload,
                    }) => datagrams.push((local, remote, payload)),
                    Output::Install(
                        i @ (Install::BindingUp { .. }
                        | Install::BindingRenewed { .. }
                        | Install::BindingDown { .. }
                        | Install::VisitorUp(_)
                        | Install::VisitorRenewed(_)
                        | Install::VisitorDown(_)),
                    ) => self.install(i).await,
                    other => {
                        self.send_datagrams(&mut datagrams).await;
                        self.apply(other).await;
                    }
                }
            }
            self.send_datagrams(&mut datagrams).await;
            self.commit_state();
        }
    }

    /// Sends `datagrams` (local, remote, payload), each run from one
    /// local address in sendmmsg batches, and empties it.
    async fn send_datagrams(&mut self, datagrams: &mut Vec<(SocketAddrV4, SocketAddrV4, Vec<u8>)>) {
        if datagrams.is_empty() {
            return;
        }
        // A reply may only leave once what it confirms is kept.
        self.commit_state();
        for done in self.wait.drain(..) {
            let _ = done.await;
        }
        for run in datagrams.chunk_by(|a, b| a.0 == b.0) {
            let msgs: Vec<(SocketAddrV4, &[u8])> =
                run.iter().map(|(_, to, p)| (*to, &p[..])).collect();
            self.io.send_udp(run[0].0, &msgs).await;
        }
        datagrams.clear();
    }

    /// The node's debug trace (`debug ip mobile`, ...): to the log, and
    /// to every client following it; a send never waits.
    fn debug_lines(&mut self) {
        while let Some(line) = self.node.poll_debug() {
            tracing::info!(target: "debug", "{line}");
            if let Some(tx) = &self.debug {
                let _ = tx.send(Arc::from(line));
            }
        }
    }

    /// Records what a restart must find again.
    fn keep(&mut self, i: &Install, now: Now) {
        let Some(s) = &mut self.state else { return };
        match i {
            Install::BindingUp { binding, .. } | Install::BindingRenewed { binding } => {
                s.binding_up(binding, now)
            }
            Install::BindingDown { binding, .. } => {
                s.binding_down(binding, self.node.last_identification(binding.home_address))
            }
            Install::VisitorUp(v) | Install::VisitorRenewed(v) => s.visitor_up(v, now),
            Install::StationKnown { mac, address } => s.station_known(*mac, *address, now),
            Install::VisitorDown(v) => s.visitor_down(v),
            _ => {}
        }
    }

    /// Commits what changed since the last commit (one transaction for
    /// everything one turn changed).
    fn commit_state(&mut self) {
        let Some(s) = &mut self.state else { return };
        // What reached the kernel since: the next run removes it if this
        // one dies without doing so.
        for (added, item) in self.netlink.take_journal() {
            s.ledger(added, &item);
        }
        if s.is_dirty()
            && let Err(e) = s.commit()
        {
            tracing::error!(error = %e, "could not save the state kept across restarts");
        }
    }

    async fn apply(&mut self, output: Output) {
        match output {
            Output::Transmit(t) => self.transmit(t).await,
            Output::Install(i) => self.install(i).await,
            Output::FetchSa { role, home } => {
                let radius = self.radius.get(&key(role)).cloned();
                let events = self.events.clone();
                tokio::spawn(async move {
                    let result = match radius {
                        Some(Ok(h)) => crate::aaa::fetch_sa(h, home).await,
                        Some(Err(reason)) => Err(reason),
                        None => Err("no RADIUS client".into()),
                    };
                    let _ = events.send(Event::Sa { role, home, result }).await;
                });
            }
            Output::WatchPort { ifindex, name } => match RawLink::open(ifindex) {
                Ok(link) => {
                    self.watch_retries.remove(&ifindex);
                    self.io.stations.insert(ifindex, link);
                }
                Err(e) => {
                    // A port seen in the middle of its move (its index not
                    // settled yet): forget it, and list the bridge's ports
                    // again soon (20 ms, doubling for a port that keeps
                    // failing) rather than at the once-a-second listing:
                    // a station bouncing between two APs would otherwise
                    // wait up to a second.
                    tracing::debug!(port = %name, error = %e, "cannot watch station port yet");
                    let now = self.clock.now();
                    self.node
                        .handle(now, Input::Link(LinkEvent::Disassociated { ifindex }));
                    let tries = self.watch_retries.entry(ifindex).or_insert(0);
                    let wait = std::time::Duration::from_millis(20 << (*tries).min(5));
                    *tries += 1;
                    if self.watch_retries.len() > 1024 {
                        self.watch_retries.clear();
                    }
                    let events = self.events.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(wait).await;
                        let _ = events.send(Event::LinksChanged).await;
                    });
                }
            },
            Output::NarrowPort { ifindex } => {
                if let Some(link) = self.io.stations.get(&ifindex)
                    && let Err(e) = link.set_filter(&pmip_platform::packet::STATION_CONTROL)
                {
                    tracing::warn!(ifindex, error = %e, "cannot narrow the station port's filter");
                }
            }
            Output::UnwatchPort { ifindex } => {
                self.io.stations.remove(&ifindex);
            }
            // Saved while answering the command (see `exec`).
            Output::SaveConfig { .. } => {}
        }
    }

    async fn transmit(&mut self, t: Transmit) {
        match t {
            Transmit::Udp {
                local,
                remote,
                payload,
            } => {
                self.send_datagrams(&mut vec![(local, remote, payload)])
                    .await
            }
            Transmit::Packet {
                interface,
                mac,
                packet,
            } => {
                let (Some(ifindex), Some(sock)) =
                    (self.io.visited_index(&interface), &self.io.packet)
                else {
                    return;
                };
                if let Err(e) = sock.send_ipv4(ifindex, mac, &packet).await {
                    tracing::debug!(%interface, error = %e, "could not send on the visited link");
                }
            }
            Transmit::Frame { link, frame } => {
                let socket = match link {
                    Link::Wired => self.io.wired.as_ref(),
                    Link::Station(i) => self.io.stations.get(&i),
                };
                if let Some(s) = socket
                    && let Err(e) = s.send(&frame).await
                {
                    tracing::debug!(?link, error = %e, "frame not sent");
                }
            }
        }
    }

    async fn install(&mut self, i: Install) {
        match i {
            Install::BindingRenewed { .. }
            | Install::VisitorRenewed(_)
            | Install::StationKnown { .. } => {}
            Install::BindingUp { ref binding, .. } => {
                let Some(r) = &self.router else { return };
                crate::installer::tunnel_up(&r.dataplane, binding);
                let _ = r.bindings.send((Some(i), None)).await;
            }
            Install::BindingDown {
                ref binding, last, ..
            } => {
                let Some(r) = &self.router else { return };
                crate::installer::tunnel_down(&r.dataplane, binding);
                if last {
                    let (tx, rx) = oneshot::channel();
                    let _ = r.bindings.send((Some(i), Some(tx))).await;
                    self.wait.push(rx);
                } else {
                    let _ = r.bindings.send((Some(i), None)).await;
                }
            }
            Install::VisitorUp(v) => {
                if let Some(r) = &self.router {
                    r.visitors.up(&v).await;
                }
            }
            Install::VisitorDown(v) => {
                if let Some(r) = &self.router {
                    r.visitors.down(&v).await;
                }
            }
            Install::IsolateStation {
                port,
                mac,
                own_port,
            } => {
                let _ = self.isolation.send(crate::isolation::Request::Isolate {
                    port,
                    mac,
                    own_port,
                });
            }
            Install::ReleaseStation { port, mac } => {
                let _ = self
                    .isolation
                    .send(crate::isolation::Request::Release { port, mac });
            }
        }
    }

    /// Lists the bridge's ports on a task (see [`PortListing`]).
    fn list_ports(&mut self) {
        let Some(bridge) = self.bridge else { return };
        if self.listing.running {
            self.listing.again = true;
            return;
        }
        self.listing.running = true;
        let (netlink, events, epoch) = (
            self.netlink.clone(),
            self.events.clone(),
            self.listing.epoch,
        );
        tokio::spawn(async move {
            let ports = list_ports(&netlink, bridge).await;
            let _ = events.send(Event::Ports { epoch, ports }).await;
        });
    }

    /// A listing's result: handed to the node unless an association came
    /// after it began (then it is made again).
    async fn ports_listed(&mut self, epoch: u64, ports: Option<LinkEvent>) {
        self.listing.running = false;
        if epoch != self.listing.epoch {
            self.listing.again = true;
        } else if let Some(e) = ports {
            self.handle(Input::Link(e)).await;
        }
        if std::mem::take(&mut self.listing.again) {
            self.list_ports();
        }
    }

    /// One input, then everything it caused.
    async fn handle(&mut self, input: Input<'_>) {
        self.node.handle(self.clock.now(), input);
        self.drive().await;
    }

    /// One operator command, from the control socket or a web page.
    fn exec(&mut self, words: &[String], json: bool) -> Result<String, String> {
        if let Some(r) = &self.router {
            self.node
                .set_tunnel_traffic(tunnel_traffic(&r.dataplane.counters));
        }
        let answer = self.node.exec(self.clock.now(), words, json)?;
        // A save is written before the answer, so the answer says whether
        // it worked; everything else waits for the loop.
        let mut saved = None;
        while let Some(o) = self.node.poll_output() {
            match o {
                Output::SaveConfig { text } => {
                    let result = pmip_platform::config_file::write_config(&self.config_path, &text);
                    saved = Some(self.node.saved(text, result));
                }
                other => self.held.push_back(other),
            }
        }
        match saved {
            Some(r) => r.map(|ok| answer + &ok),
            None => Ok(answer),
        }
    }
}

fn tunnel_traffic(c: &pmip_platform::dataplane::Counters) -> pmip_node::snapshot::TunnelTraffic {
    use std::sync::atomic::Ordering::Relaxed;
    pmip_node::snapshot::TunnelTraffic {
        encapsulated_packets: c.encapsulated.load(Relaxed),
        encapsulated_bytes: c.encapsulated_bytes.load(Relaxed),
        decapsulated_packets: c.decapsulated.load(Relaxed),
        decapsulated_bytes: c.decapsulated_bytes.load(Relaxed),
        no_tunnel_packets: c.no_tunnel.load(Relaxed),
        bad_tunnel_packets: c.bad_tunnel_packet.load(Relaxed),
        refused_source_packets: c.refused_source.load(Relaxed),
        ttl_exceeded_packets: c.ttl_exceeded.load(Relaxed),
        send_errors: c.send_errors.load(Relaxed),
    }
}

/// Reads and parses a configuration file; a refused line names its number.
/// A refused file, or one that is not a configuration at all (too large,
/// not text) is reported with what is wrong and where.
pub fn load(path: &Path) -> Result<Config, DaemonError> {
    use std::io::Read;
    let shown = path.display().to_string();
    let read_error = |e| DaemonError::ReadConfig {
        path: shown.clone(),
        source: e,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes))
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(read_error(std::io::Error::other(format!(
            "larger than {} MiB: not a device configuration",
            MAX_CONFIG_BYTES >> 20
        ))));
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        read_error(std::io::Error::other(format!(
            "line {line}: not UTF-8 text (byte {} of the line)",
            e.valid_up_to()
                - bytes[..e.valid_up_to()]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |p| p + 1)
                + 1
        )))
    })?;
    Config::parse(text).map_err(|e| DaemonError::Config {
        path: shown.clone(),
        source: e,
    })
}

/// The largest configuration file read (a router's with every SA of a
/// large campus is far below it).
const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Runs the device until SIGINT or SIGTERM.
pub async fn run(config_path: &Path, control_path: Option<PathBuf>) -> Result<(), DaemonError> {
    run_with_state(config_path, control_path, None).await
}

/// Runs the device with its state database at `state_path` (default:
/// beside the control socket, `NAME.state`).
pub async fn run_with_state(
    config_path: &Path,
    control_path: Option<PathBuf>,
    state_path: Option<PathBuf>,
) -> Result<(), DaemonError> {
    run_with(
        config_path,
        RunOptions {
            control: control_path,
            state: state_path,
            ..RunOptions::default()
        },
    )
    .await
}

/// How `pmip run` was asked to run the device.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The control socket (default `/run/pmip/<hostname>.sock`).
    pub control: Option<PathBuf>,
    /// The state database (default beside the control socket).
    pub state: Option<PathBuf>,
    /// hostapd control sockets, one per radio interface the AP's
    /// stations associate on (docs/deployment.md); none: the emulated
    /// radio (docs/radio.md).
    pub hostapd: Vec<PathBuf>,
    /// Every reply waits until the state it depends on is on the disk,
    /// not only in the state log (docs/architecture.md, "State kept across
    /// restarts").
    pub state_sync: bool,
}

/// Runs the device as `options` say, until SIGINT or SIGTERM.
pub async fn run_with(config_path: &Path, options: RunOptions) -> Result<(), DaemonError> {
    let RunOptions {
        control: control_path,
        state: state_path,
        hostapd,
        state_sync,
    } = options;
    let config = load(config_path)?;
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    let hostname = config.hostname.clone().unwrap_or_else(|| "pmip".to_owned());
    let control_path = control_path.unwrap_or_else(|| control::default_path(&hostname));
    let netlink = Arc::new(Netlink::new()?);
    // Beside a given control socket (the lab, tests); a device on the
    // default socket keeps it where a reboot does not lose it.
    let state_path = state_path.unwrap_or_else(|| {
        if control_path == control::default_path(&hostname) {
            PathBuf::from(format!("/var/lib/pmip/{hostname}.state"))
        } else {
            control_path.with_extension("state")
        }
    });
    let result = serve(
        config,
        config_path,
        netlink.clone(),
        &control_path,
        &state_path,
        &hostapd,
        state_sync,
    )
    .await;
    netlink.remove_all().await;
    // The ledger is empty now; so is its saved copy.
    if let Ok(mut store) = pmip_platform::state::StateStore::open(&state_path) {
        for (added, item) in netlink.take_journal() {
            store.ledger(added, &item);
        }
        if let Err(e) = store.commit() {
            tracing::warn!(error = %e, "could not save the emptied kernel ledger");
        }
    }
    tracing::info!(host = %hostname, "stopped; everything installed was removed");
    result
}

/// Starts the router roles' data plane: forwarding on, the TUN device,
/// the packet socket, the binding installer, and for a foreign agent the
/// reverse-tunnel table and relaxed reverse-path filtering (visitors'
/// packets carry home addresses from elsewhere).
async fn start_router(
    node: &Node,
    netlink: &Arc<Netlink>,
    io: &mut Io,
) -> Result<Router, DaemonError> {
    // A router forwards; proxy ARP for bound home addresses needs it on.
    pmip_platform::netlink::set_sysctl("net/ipv4/ip_forward", "1")?;
    // After a crash the kernel may still be tearing the old device down
    // (EBUSY) for a moment: wait for it rather than fail.
    let mut tries = 0;
    let tun = loop {
        match Tun::create(TUNNEL_DEVICE) {
            Ok(t) => break Arc::new(t),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 50 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    let tun_index = netlink.link_index(TUNNEL_DEVICE).await?;
    netlink.routes_die_with(tun_index);
    // Room for the largest tunnel header on a 1500-byte path.
    netlink
        .set_mtu(tun_index, 1500 - pmip_platform::dataplane::HEADROOM as u32)
        .await?;
    netlink.link_up(tun_index).await?;
    let packet = Arc::new(PacketSocket::new()?);
    io.packet = Some(packet.clone());
    let dataplane = DataPlane::new();
    let dataplane_task = tokio::spawn(dataplane.clone().run(tun, Some(packet.clone())));
    crate::installer::preload_fast_path(&dataplane);
    let installer = BindingInstaller::new(netlink.clone(), tun_index, packet);
    let (bindings, queue) = mpsc::channel::<crate::installer::Queued>(INSTALL_QUEUE);
    let installer_task = crate::installer::InstallerThread::spawn(installer, queue)?;
    let mut ifindex = BTreeMap::new();
    let visited = node.visited_interfaces();
    if node.config().is_foreign_agent() {
        for key in ["all", "default"] {
            pmip_platform::netlink::set_sysctl(&format!("net/ipv4/conf/{key}/rp_filter"), "0")?;
        }
        netlink
            .add_table_default(tun_index, REVERSE_TUNNEL_TABLE)
            .await?;
        for name in &visited {
            let idx = netlink.link_index(name).await?;
            let _ =
                pmip_platform::netlink::set_sysctl(&format!("net/ipv4/conf/{name}/rp_filter"), "0");
            ifindex.insert(name.clone(), idx);
            io.visited
                .push((name.clone(), idx, VisitedLink::open(idx)?));
        }
        let coa = pmip_node::config::foreign_agent(node.config()).care_of_address;
        if coa.is_unspecified() {
            tracing::warn!(
                "foreign agent has no care-of address: add `ip mobile foreign-agent care-of INTERFACE`"
            );
        }
        tracing::info!(interfaces = ?visited, %coa, "foreign agent serving");
    }
    Ok(Router {
        visitors: VisitorInstaller {
            netlink: netlink.clone(),
            dataplane: dataplane.clone(),
            care_of_address: pmip_node::config::foreign_agent(node.config()).care_of_address,
            ifindex,
        },
        dataplane,
        dataplane_task,
        bindings,
        _installer: installer_task,
    })
}

/// The AP's radio side: the wired port's socket (agent advertisements
/// and registration replies only; the clients' traffic is bridged by the
/// kernel), the bridge's MAC, and link events for associations.
async fn start_radio(
    driver: &mut Driver,
    bridge: u32,
    events: mpsc::Sender<Event>,
) -> Result<(), DaemonError> {
    let wired_index = driver.netlink.link_index(WIRED).await?;
    driver.io.wired = Some(RawLink::open_filtered(
        wired_index,
        Some(&pmip_platform::packet::WIRED_CONTROL),
    )?);
    let mac = pmip_platform::link::mac_of_index(bridge)?;
    driver.handle(Input::Link(LinkEvent::Bridge { mac })).await;
    // Associations are noticed from link events at once; the loop's
    // periodic listing of the ports is the safety net.
    pmip_platform::radio::watch_links(move |event| {
        let ev = match event {
            pmip_platform::radio::LinkEvent::StationPort { controller, port }
                if controller == bridge =>
            {
                Event::Link(LinkEvent::Associated(station_port(port)))
            }
            _ => Event::LinksChanged,
        };
        events.try_send(ev).is_ok() || !events.is_closed()
    })?;
    Ok(())
}

/// A hostapd radio: its interface (named like the control socket) joins
/// the bridge, and its associations reach the loop as link events.
async fn follow_hostapd(
    netlink: &Netlink,
    bridge: u32,
    socket: &Path,
    events: mpsc::Sender<Event>,
) -> Result<(), DaemonError> {
    let name = socket
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| {
            DaemonError::Io(std::io::Error::other(format!(
                "--hostapd {}: not a hostapd control socket path (ctrl_interface/INTERFACE)",
                socket.display()
            )))
        })?
        .to_owned();
    let ifindex = netlink.link_index(&name).await.map_err(|e| {
        DaemonError::Io(std::io::Error::other(format!(
            "--hostapd {}: radio interface {name}: {e}",
            socket.display()
        )))
    })?;
    netlink.enslave(ifindex, bridge).await?;
    let socket = socket.to_owned();
    tokio::spawn(crate::hostapd::follow(socket, ifindex, name, move |ev| {
        let events = events.clone();
        async move { events.send(Event::Link(ev)).await.is_ok() }
    }));
    Ok(())
}

fn station_port(p: pmip_platform::radio::StationPort) -> StationPort {
    StationPort {
        ifindex: p.ifindex,
        name: p.name,
        radio: p.radio,
        ssid: p.ssid,
    }
}

/// The bridge's station ports now, as a link event for the node.
async fn list_ports(netlink: &Netlink, bridge: u32) -> Option<LinkEvent> {
    let ports = netlink.station_ports(bridge).await.ok()?;
    Some(LinkEvent::StationPorts(
        ports.into_iter().map(station_port).collect(),
    ))
}

async fn serve(
    config: Config,
    config_path: &Path,
    netlink: Arc<Netlink>,
    control_path: &Path,
    state_path: &Path,
    hostapd: &[PathBuf],
    state_sync: bool,
) -> Result<(), DaemonError> {
    // With `ip address dhcp` the lease's router option is the gateway.
    if config.is_proxy_ap()
        && config.default_gateway.is_none()
        && !pmip_node::dhcp::configured(&config)
    {
        return Err(DaemonError::Io(std::io::Error::other(
            "an access point with proxy Mobile IP needs a gateway: add `ip default-gateway ADDRESS`",
        )));
    }
    // What the previous run kept: the kernel ledger first, so what this
    // run installs again is known to be ours.
    let clock = Clock::new();
    let (store, kept) = match pmip_platform::state::StateStore::open(state_path) {
        Ok(mut store) => {
            store.set_flush_each_commit(state_sync);
            let kept = store.load(clock.now()).unwrap_or_else(|e| {
                tracing::error!(error = %e, "saved state unreadable; starting empty");
                Default::default()
            });
            (Some(store), kept)
        }
        // Two daemons for one device would undo each other's installs.
        Err(e @ pmip_platform::state::OpenError::InUse(_)) => {
            return Err(DaemonError::Io(std::io::Error::other(e.to_string())));
        }
        Err(e) => {
            tracing::error!(error = %e, "no state database; bindings, visitors and the kernel ledger will not survive a restart");
            (None, Default::default())
        }
    };
    netlink.inherit(kept.ledger);
    // BVI1 exists before the interfaces are configured, so its address
    // lands on the bridge.
    let bridge = if config.is_proxy_ap() {
        Some(netlink.create_bridge(BRIDGE, Some(WIRED)).await?)
    } else {
        None
    };
    interfaces::apply(&netlink, &config, &[]).await?;
    let node = Node::new(config, clock.now());
    let (events, mut event_rx) = mpsc::channel::<Event>(1024);
    let mut driver = Driver {
        node,
        io: Io::default(),
        clock,
        netlink: netlink.clone(),
        router: None,
        bridge,
        events: events.clone(),
        radius: BTreeMap::new(),
        wait: Vec::new(),
        config_path: config_path.to_owned(),
        held: Default::default(),
        isolation: crate::isolation::worker(bridge.is_some()),
        watch_retries: BTreeMap::new(),
        listing: PortListing::default(),
        state: None,
        debug: None,
        dhcp: Default::default(),
    };
    if let Ok(text) = std::fs::read_to_string(config_path) {
        driver.node.set_startup_config(text);
    }
    let config = driver.node.config().clone();
    if config.is_home_agent() || config.is_foreign_agent() {
        driver.router = Some(start_router(&driver.node, &netlink, &mut driver.io).await?);
        if config.is_home_agent() && pmip_node::config::home_agent(&config).networks.is_empty() {
            tracing::warn!(
                "home agent has no home network: add `ip mobile host LOW HIGH interface IF` with an addressed interface"
            );
        }
    }
    for local in driver.node.udp_sockets() {
        let socket = pmip_platform::link::udp_socket(local)?;
        // Beyond the system's maximum when root may; best effort, the
        // default still works at a lower rate.
        pmip_platform::raw::set_buffer(
            &socket,
            libc::SO_RCVBUFFORCE,
            libc::SO_RCVBUF,
            UDP_RECEIVE_BUFFER,
        );
        driver.io.udp.push((local, socket));
    }
    crate::dhcp::open(&driver.node, &mut driver.io)?;
    tracing::info!(addresses = ?driver.node.udp_sockets(), "listening on UDP");
    // The device resumes where it stopped: the home agent's bindings
    // (with what is left of their lifetimes) and replay state, the foreign
    // agent's visitors, their routes, tunnels, proxy ARP and delivery
    // installed again; then what the previous run installed and this one
    // did not take back is removed.
    driver.state = store;
    if let Some(store) = &driver.state {
        let now = driver.clock.now();
        if !kept.bindings.is_empty() || !kept.visitors.is_empty() {
            tracing::info!(
                bindings = kept.bindings.len(),
                visitors = kept.visitors.len(),
                path = %store.path().display(),
                "resuming the state kept from before the restart"
            );
        }
        if config.is_home_agent() {
            driver
                .node
                .restore_home_agent(now, kept.bindings, kept.replay);
        }
        if config.is_foreign_agent() {
            driver.node.restore_foreign_agent(now, kept.visitors);
        }
        if config.is_proxy_ap() {
            driver.node.restore_access_point(now, kept.stations);
        }
    }
    driver.drive().await;
    if let Some(r) = &driver.router {
        let (tx, rx) = oneshot::channel();
        let _ = r.bindings.send((None, Some(tx))).await;
        let _ = rx.await;
    }
    if let Some(s) = &mut driver.state {
        s.forget_stations_older_than(std::time::Duration::from_secs(3600), driver.clock.now());
    }
    let swept = netlink.sweep_inherited().await;
    if swept > 0 {
        tracing::info!(
            entries = swept,
            "removed what the previous run left installed"
        );
    }
    driver.commit_state();
    crate::aaa::start(&config, &mut driver.radius);
    if let Some(bridge) = bridge {
        start_radio(&mut driver, bridge, events.clone()).await?;
        for socket in hostapd {
            follow_hostapd(&driver.netlink, bridge, socket, events.clone()).await?;
        }
    }
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    // Operator commands from the control socket and the web pages reach
    // this loop through one channel; their clients are served on tasks of
    // their own, so a slow one never holds the loop.
    let (commands, mut command_rx) = mpsc::channel::<control::ExecRequest>(64);
    // The web pages, /api and /metrics (`ip http server`), started,
    // moved or stopped as the `ip http` lines change. A port that cannot
    // be listened on stops the start, like any other bad line.
    let mut web = Web::new(commands.clone(), raise_open_files_limit());
    web.follow(&config)
        .await
        .map_err(|e| DaemonError::Io(std::io::Error::other(e)))?;
    // The control socket opens last: once it answers, the device is ready.
    let control =
        Arc::new(
            ControlSocket::bind(control_path)
                .await
                .map_err(|e| DaemonError::Control {
                    path: control_path.display().to_string(),
                    source: e,
                })?,
        );
    driver.debug = Some(control.debug_sender());
    let control_task = {
        let control = control.clone();
        tokio::spawn(async move { control.serve(commands).await })
    };
    let _stop_control = AbortOnDrop(control_task);
    // Gone as soon as the loop ends, not when the runtime drops the task.
    let _socket_file = RemoveOnDrop(control_path.to_owned());
    tracing::info!(control = %control_path.display(), "ready");
    // What the node decided at start (the AP's first solicitation, the
    // exchange's join).
    driver.drive().await;
    let mut port_poll = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut buf = vec![0u8; 65536];
    loop {
        let deadline = [
            driver.node.poll_timeout().map(|t| driver.clock.at(t)),
            driver.io.next_wake(),
        ]
        .into_iter()
        .flatten()
        .min();
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let io = &mut driver.io;
        tokio::select! {
            arrived = std::future::poll_fn(|cx| io.poll_recv(cx, &mut buf)) => {
                let now = driver.clock.now();
                driver.node.handle(now, arrived.input(&driver.io, &buf));
                // What else is waiting already is taken in the same turn
                // (up to a batch), so its work is carried out together.
                {
                    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                    for _ in 1..BATCH {
                        match driver.io.poll_recv(&mut cx, &mut buf) {
                            std::task::Poll::Ready(more) => {
                                let now = driver.clock.now();
                                driver.node.handle(now, more.input(&driver.io, &buf));
                            }
                            std::task::Poll::Pending => break,
                        }
                    }
                }
                driver.drive().await;
            }
            _ = driver.netlink.journal_changed() => driver.commit_state(),
            _ = timer => {
                driver.io.wake(tokio::time::Instant::now());
                driver.node.handle_timeout(driver.clock.now());
                driver.drive().await;
            }
            Some(ev) = event_rx.recv() => match ev {
                Event::Sa { role, home, result } => {
                    driver.handle(Input::SaResult { role, home, result }).await;
                }
                Event::Link(e) => {
                    driver.listing.epoch += 1;
                    driver.handle(Input::Link(e)).await;
                }
                Event::LinksChanged => driver.list_ports(),
                Event::Ports { epoch, ports } => driver.ports_listed(epoch, ports).await,
            },
            _ = port_poll.tick(), if driver.bridge.is_some() => driver.list_ports(),
            Some((words, json, reply)) = command_rx.recv() => {
                let answer = after_exec(&mut driver, &words, json, &mut web).await;
                let _ = reply.send(answer);
                driver.drive().await;
            }
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        }
    }
}

/// Runs an EXEC command and lets the web server follow what it changed
/// (any command: `configure` may be abbreviated): started, moved or
/// stopped with the `ip http` lines, changed users seen at once
/// (sessions of removed users end). A port that cannot be listened on
/// leaves the server as it was; the answer of the command that asked for
/// it says why, the log says it once, and every later command tries
/// again quietly. What the command asked of the roles is carried out
/// after the answer (`Driver::drive`).
async fn after_exec(
    driver: &mut Driver,
    words: &[String],
    json: bool,
    web: &mut Web,
) -> Result<String, String> {
    let before = pmip_web::listen_addr(driver.node.config());
    let mut answer = driver.exec(words, json);
    if let Ok(text) = &mut answer {
        match web.follow(driver.node.config()).await {
            Ok(()) => web.failed = None,
            Err(why) => {
                if web.failed.as_deref() != Some(why.as_str()) {
                    tracing::warn!("{why}");
                    web.failed = Some(why.clone());
                }
                if pmip_web::listen_addr(driver.node.config()) != before && !json {
                    text.push_str(&format!("% {why}\n"));
                }
            }
        }
    }
    answer
}

/// The web server as the configuration asks for it.
struct Web {
    /// Where its pages' EXEC commands go (the loop's command channel).
    commands: mpsc::Sender<control::ExecRequest>,
    /// Its users and limits, followed by a running server.
    config: tokio::sync::watch::Sender<pmip_web::WebConfig>,
    /// Where it listens, and its task (dropping the task's future closes
    /// the listener and every connection).
    running: Option<(std::net::SocketAddr, tokio::task::JoinHandle<()>)>,
    /// Connections at once, in all: the default, or half the descriptors
    /// this process may open when that is less (the rest stay for the
    /// device's own sockets and the control socket's clients).
    max_connections: usize,
    /// Why the server is not where the configuration wants it, as last
    /// logged.
    failed: Option<String>,
}

impl Web {
    fn new(commands: mpsc::Sender<control::ExecRequest>, open_files: u64) -> Web {
        let max_connections = pmip_web::MAX_CONNECTIONS
            .min(usize::try_from(open_files / 2).unwrap_or(usize::MAX))
            .max(1);
        if max_connections < pmip_web::MAX_CONNECTIONS {
            tracing::warn!(
                open_files,
                max_connections,
                "few descriptors may be open: the web server takes fewer connections"
            );
        }
        let (config, _) = tokio::sync::watch::channel(pmip_web::WebConfig::default());
        Web {
            commands,
            config,
            running: None,
            max_connections,
            failed: None,
        }
    }

    /// Serves as `config` says: the new users and limits to a running
    /// server, and a start, a move or a stop when the `ip http` lines
    /// changed. The new port is bound before the old one is closed, so a
    /// port that cannot be had leaves the server as it was (the error
    /// says so; the next command tries again).
    async fn follow(&mut self, config: &pmip_config::Config) -> Result<(), String> {
        let new = pmip_web::WebConfig {
            max_connections: self.max_connections,
            ..pmip_web::WebConfig::from_config(config)
        };
        self.config.send_if_modified(|c| {
            let changed = *c != new;
            *c = new;
            changed
        });
        let want = pmip_web::listen_addr(config);
        let have = self.running.as_ref().map(|(addr, _)| *addr);
        if want == have {
            return Ok(());
        }
        let listener = match want {
            Some(addr) => Some((
                addr,
                pmip_web::bind(addr).map_err(|e| {
                    let now = match have {
                        Some(old) => format!("the pages stay on {old}"),
                        None => "the web server stays off".to_string(),
                    };
                    format!("ip http server: cannot listen on {addr} ({e}); {now}")
                })?,
            )),
            None => None,
        };
        if let Some((addr, task)) = self.running.take() {
            task.abort();
            // Once it is done, the old port and its connections are closed.
            let _ = task.await;
            tracing::info!(%addr, "web pages no longer served");
        }
        if let Some((addr, listener)) = listener {
            let device = pmip_web::ChannelDevice(self.commands.clone());
            let rx = self.config.subscribe();
            let task = tokio::spawn(async move {
                if let Err(e) = pmip_web::serve_watched(listener, rx, device).await {
                    tracing::warn!(error = %e, "web server stopped");
                }
            });
            tracing::info!(%addr, "web pages served");
            self.running = Some((addr, task));
        }
        Ok(())
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        if let Some((_, task)) = &self.running {
            task.abort();
        }
    }
}

/// Raises this process's soft limit on open descriptors to its hard
/// limit (the web server's connections come on top of the device's own
/// sockets, and the usual soft limit is 1024); the soft limit in force.
fn raise_open_files_limit() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open descriptor limit");
            return 1024;
        }
    };
    if soft >= hard {
        return soft;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => {
            tracing::info!(from = soft, to = hard, "open descriptor limit raised");
            hard
        }
        Err(e) => {
            tracing::warn!(error = %e, soft, hard, "cannot raise the open descriptor limit");
            soft
        }
    }
}

/// Aborts a task when the daemon's loop ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Removes the control socket's file when the daemon's loop ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
