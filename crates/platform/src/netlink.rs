//! Routes, addresses, links and proxy-ARP entries through rtnetlink, with
//! a ledger of what we installed so it can all be removed on exit.
//!
//! The ledger is a set (adding or removing one entry is O(log n), however
//! many bindings are installed) and keeps a journal of its changes, which
//! the device writes to its state database: after a kill -9 the next run
//! knows what the previous one installed, takes back what it installs
//! again (an address already present is ours if the ledger says so) and
//! removes the rest ([`Netlink::inherit`], [`Netlink::sweep_inherited`]).
//!
//! Host routes come and go by the thousand on a busy home agent, so they
//! also have a batch path ([`Netlink::apply_batch`]): many requests in one
//! `sendmsg` on a socket of their own, the kernel acknowledging only
//! failures and the last request (docs/architecture.md, "Installs at
//! scale").

use futures_util::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage,
};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("no interface named {0}")]
    NoSuchLink(String),
    #[error("netlink: {0}")]
    Netlink(#[from] rtnetlink::Error),
    #[error("netlink socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Something installed in the kernel that must be undone on exit. The
/// variants are in the order removal takes them (rules and routes before
/// the addresses and links they may use).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Installed {
    /// `ip rule add from SRC/32 lookup T`.
    SourceRule {
        src: Ipv4Addr,
        table: u32,
    },
    Address {
        index: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
    },
    Route {
        dst: Ipv4Addr,
        prefix_len: u8,
        gateway: Option<Ipv4Addr>,
        oif: Option<u32>,
    },
    ProxyNeighbour {
        index: u32,
        addr: Ipv4Addr,
    },
    /// `ip route add default dev OIF table T`.
    TableDefault {
        oif: u32,
        table: u32,
    },
    /// A link we created: deleted on exit.
    Link {
        index: u32,
    },
}

impl Installed {
    /// A compact, stable byte form (the state database's key).
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(16);
        let opt = |v: &mut Vec<u8>, x: Option<u32>| {
            v.push(u8::from(x.is_some()));
            v.extend(x.unwrap_or(0).to_be_bytes());
        };
        match self {
            Installed::SourceRule { src, table } => {
                v.push(0);
                v.extend(src.octets());
                v.extend(table.to_be_bytes());
            }
            Installed::Route {
                dst,
                prefix_len,
                gateway,
                oif,
            } => {
                v.push(1);
                v.extend(dst.octets());
                v.push(*prefix_len);
                opt(&mut v, gateway.map(u32::from));
                opt(&mut v, *oif);
            }
            Installed::ProxyNeighbour { index, addr } => {
                v.push(2);
                v.extend(index.to_be_bytes());
                v.extend(addr.octets());
            }
            Installed::TableDefault { oif, table } => {
                v.push(3);
                v.extend(oif.to_be_bytes());
                v.extend(table.to_be_bytes());
            }
            Installed::Address {
                index,
                addr,
                prefix_len,
            } => {
                v.push(4);
                v.extend(index.to_be_bytes());
                v.extend(addr.octets());
                v.push(*prefix_len);
            }
            Installed::Link { index } => {
                v.push(5);
                v.extend(index.to_be_bytes());
            }
        }
        v
    }

    /// The entry [`Installed::encode`] wrote; `None` for anything else.
    pub fn decode(b: &[u8]) -> Option<Installed> {
        let u32_at = |at: usize| -> Option<u32> {
            Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
        };
        let ip_at = |at: usize| u32_at(at).map(Ipv4Addr::from);
        let opt_at = |at: usize| -> Option<Option<u32>> {
            match b.get(at)? {
                0 => Some(None),
                1 => Some(Some(u32_at(at + 1)?)),
                _ => None,
            }
        };
        let (item, len) = match *b.first()? {
            0 => (
                Installed::SourceRule {
                    src: ip_at(1)?,
                    table: u32_at(5)?,
                },
                9,
            ),
            1 => (
                Installed::Route {
                    dst: ip_at(1)?,
                    prefix_len: *b.get(5)?,
                    gateway: opt_at(6)?.map(Ipv4Addr::from),
                    oif: opt_at(11)?,
                },
                16,
            ),
            2 => (
                Installed::ProxyNeighbour {
                    index: u32_at(1)?,
                    addr: ip_at(5)?,
                },
                9,
            ),
            3 => (
                Installed::TableDefault {
                    oif: u32_at(1)?,
                    table: u32_at(5)?,
                },
                9,
            ),
            4 => (
                Installed::Address {
                    index: u32_at(1)?,
                    addr: ip_at(5)?,
                    prefix_len: *b.get(9)?,
                },
                10,
            ),
            5 => (Installed::Link { index: u32_at(1)? }, 5),
            _ => return None,
        };
        (b.len() == len).then_some(item)
    }
}

/// One request of [`Netlink::apply_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOp {
    /// `ip route replace DST/LEN [via GW] [dev OIF]`, recorded once the
    /// kernel took it.
    ReplaceRoute {
        dst: Ipv4Addr,
        prefix_len: u8,
        gateway: Option<Ipv4Addr>,
        oif: Option<u32>,
    },
    /// `ip route del ...`; a route already gone is not an error.
    DeleteRoute {
        dst: Ipv4Addr,
        prefix_len: u8,
        gateway: Option<Ipv4Addr>,
        oif: Option<u32>,
    },
    /// `ip neigh del proxy ADDR dev INDEX`; one already gone is not an
    /// error.
    DeleteProxy { index: u32, addr: Ipv4Addr },
}

impl BatchOp {
    /// The ledger entry the request adds or removes.
    fn item(&self) -> Installed {
        match *self {
            BatchOp::ReplaceRoute {
                dst,
                prefix_len,
                gateway,
                oif,
            }
            | BatchOp::DeleteRoute {
                dst,
                prefix_len,
                gateway,
                oif,
            } => Installed::Route {
                dst,
                prefix_len,
                gateway,
                oif,
            },
            BatchOp::DeleteProxy { index, addr } => Installed::ProxyNeighbour { index, addr },
        }
    }

    /// The removal of a ledger entry, for those the batch path removes.
    fn removal(item: &Installed) -> Option<BatchOp> {
        match *item {
            Installed::Route {
                dst,
                prefix_len,
                gateway,
                oif,
            } => Some(BatchOp::DeleteRoute {
                dst,
                prefix_len,
                gateway,
                oif,
            }),
            Installed::ProxyNeighbour { index, addr } => Some(BatchOp::DeleteProxy { index, addr }),
            _ => None,
        }
    }

    /// Appends the request as one netlink message with sequence `seq`.
    fn encode(&self, seq: u32, ack: bool, out: &mut Vec<u8>) {
        const RTM_NEWROUTE: u16 = 24;
        const RTM_DELROUTE: u16 = 25;
        const RTM_DELNEIGH: u16 = 29;
        const RTA_DST: u16 = 1;
        const RTA_OIF: u16 = 4;
        const RTA_GATEWAY: u16 = 5;
        const NDA_DST: u16 = 1;
        const NTF_PROXY: u8 = 0x08;
        let start = out.len();
        let mut flags = libc::NLM_F_REQUEST as u16;
        if ack {
            flags |= libc::NLM_F_ACK as u16;
        }
        let kind = match self {
            BatchOp::ReplaceRoute { .. } => {
                flags |= (libc::NLM_F_CREATE | libc::NLM_F_REPLACE) as u16;
                RTM_NEWROUTE
            }
            BatchOp::DeleteRoute { .. } => RTM_DELROUTE,
            BatchOp::DeleteProxy { .. } => RTM_DELNEIGH,
        };
        // struct nlmsghdr; its length is written at the end.
        out.extend(0u32.to_ne_bytes());
        out.extend(kind.to_ne_bytes());
        out.extend(flags.to_ne_bytes());
        out.extend(seq.to_ne_bytes());
        out.extend(0u32.to_ne_bytes());
        let attr = |out: &mut Vec<u8>, kind: u16, value: &[u8]| {
            out.extend((4 + value.len() as u16).to_ne_bytes());
            out.extend(kind.to_ne_bytes());
            out.extend(value);
        };
        match *self {
            BatchOp::ReplaceRoute {
                dst,
                prefix_len,
                gateway,
                oif,
            }
            | BatchOp::DeleteRoute {
                dst,
                prefix_len,
                gateway,
                oif,
            } => {
                // struct rtmsg as RouteMessageBuilder makes it (so a route
                // added either way is deleted either way): main table,
                // protocol static, scope universe, unicast.
                out.extend([libc::AF_INET as u8, prefix_len, 0, 0, 254, 4, 0, 1]);
                out.extend(0u32.to_ne_bytes());
                attr(out, RTA_DST, &dst.octets());
                if let Some(gw) = gateway {
                    attr(out, RTA_GATEWAY, &gw.octets());
                }
                if let Some(i) = oif {
                    attr(out, RTA_OIF, &i.to_ne_bytes());
                }
            }
            BatchOp::DeleteProxy { index, addr } => {
                // struct ndmsg: family, padding, ifindex, state, flags, type.
                out.extend([libc::AF_INET as u8, 0, 0, 0]);
                out.extend(index.to_ne_bytes());
                out.extend(0u16.to_ne_bytes());
                out.extend([NTF_PROXY, 0]);
                attr(out, NDA_DST, &addr.octets());
            }
        }
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_ne_bytes());
    }

    /// Whether the kernel's answer `errno` (positive) leaves the request
    /// done: a deletion of what is already gone is.
    fn done_despite(&self, errno: i32) -> bool {
        match self {
            BatchOp::ReplaceRoute { .. } => false,
            BatchOp::DeleteRoute { .. } => errno == libc::ESRCH,
            BatchOp::DeleteProxy { .. } => errno == libc::ENOENT || errno == libc::ESRCH,
        }
    }
}

/// Requests sent in one `sendmsg`: well under the socket's send buffer
/// (the kernel refuses a message larger than it), and few enough that
/// every failure's answer fits the receive buffer.
const BATCH_REQUESTS: usize = 1024;

/// A route netlink socket of its own for batches. The kernel handles a
/// request sent to it inside `sendmsg` itself, so once the send returns
/// every answer is queued: reading them never waits for more than the
/// kernel's own work.
struct Batcher {
    fd: std::os::fd::OwnedFd,
    seq: u32,
    out: Vec<u8>,
    answers: Vec<u8>,
}

impl Batcher {
    fn open() -> std::io::Result<Batcher> {
        use std::os::fd::{AsRawFd, FromRawFd};
        // SAFETY: plain socket(2); the descriptor is owned from here on.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        // Answers without the request copied in (only its header).
        let _ = crate::raw::set_int_option(&fd, libc::SOL_NETLINK, libc::NETLINK_CAP_ACK, 1);
        // Room for a whole batch of failures (each answer costs about a
        // kilobyte of buffer); lost answers are noticed (ENOBUFS) and the
        // batch is then redone one request at a time.
        crate::raw::set_buffer(&fd, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, 4 << 20);
        let timeout = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: a timeval of the right size on our socket. A kernel
        // that never answers must not hang the installs.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            );
        }
        // SAFETY: zeroed sockaddr_nl is the kernel's "any port" address.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: binding to a valid sockaddr_nl of its size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Batcher {
            fd,
            seq: 1,
            out: Vec::with_capacity(BATCH_REQUESTS * 64),
            answers: vec![0; 64 << 10],
        })
    }

    fn send(&self) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: zeroed sockaddr_nl addresses the kernel.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: sending from a valid buffer to a valid address.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                self.out.as_ptr().cast(),
                self.out.len(),
                0,
                (&kernel as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Runs `ops` (at most [`BATCH_REQUESTS`]) in one send; the result of
    /// each: `Ok` or the kernel's errno.
    fn run(&mut self, ops: &[BatchOp]) -> Vec<Result<(), i32>> {
        use std::os::fd::AsRawFd;
        let mut results = vec![Ok(()); ops.len()];
        let Some(last) = ops.len().checked_sub(1) else {
            return results;
        };
        let base = self.seq;
        self.seq = self.seq.wrapping_add(ops.len() as u32);
        self.out.clear();
        for (i, op) in ops.iter().enumerate() {
            // Only failures are answered, and the last request: its
            // answer says the kernel went through them all.
            op.encode(base.wrapping_add(i as u32), i == last, &mut self.out);
        }
        if let Err(e) = self.send() {
            let errno = e.raw_os_error().unwrap_or(libc::EIO);
            return vec![Err(errno); ops.len()];
        }
        loop {
            // SAFETY: receiving into our own buffer of its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    self.answers.as_mut_ptr().cast(),
                    self.answers.len(),
                    0,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    // Answers were lost: which requests failed is not
                    // known. Asking again one at a time is (replacing a
                    // route and deleting one are both idempotent).
                    Some(libc::ENOBUFS) => return self.one_by_one(ops),
                    errno => {
                        tracing::warn!(error = %e, "netlink batch: no answer from the kernel");
                        for r in &mut results {
                            if r.is_ok() {
                                *r = Err(errno.unwrap_or(libc::EIO));
                            }
                        }
                        return results;
                    }
                }
            }
            let mut at = 0usize;
            let got = &self.answers[..n as usize];
            let mut finished = false;
            while let Some(h) = got.get(at..at + 16) {
                let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
                let kind = u16::from_ne_bytes([h[4], h[5]]);
                let seq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
                if len < 16 {
                    break;
                }
                let index = seq.wrapping_sub(base) as usize;
                if kind == libc::NLMSG_ERROR as u16
                    && index < ops.len()
                    && let Some(e) = got.get(at + 16..at + 20)
                {
                    let errno = -i32::from_ne_bytes([e[0], e[1], e[2], e[3]]);
                    if errno != 0 && !ops[index].done_despite(errno) {
                        results[index] = Err(errno);
                    }
                    finished |= index == last;
                }
                at += (len + 3) & !3;
            }
            if finished {
                return results;
            }
        }
    }

    /// Each request on its own, acknowledged: after answers were lost.
    fn one_by_one(&mut self, ops: &[BatchOp]) -> Vec<Result<(), i32>> {
        ops.iter()
            .map(|op| self.run(std::slice::from_ref(op)).remove(0))
            .collect()
    }
}

/// What went through the connection: the entries installed now, the
/// changes not yet taken by [`Netlink::take_journal`], and what the
/// previous run left in the kernel (until swept).
#[derive(Default)]
struct Ledger {
    items: BTreeSet<Installed>,
    journal: Vec<(bool, Installed)>,
    inherited: BTreeSet<Installed>,
}

/// A netlink connection plus the ledger of what went through it.
pub struct Netlink {
    handle: Handle,
    /// The socket of [`Netlink::apply_batch`], opened with the connection
    /// so it lives in the same namespace whatever thread uses it later.
    batch: Mutex<Batcher>,
    ledger: Mutex<Ledger>,
    /// Woken when the journal has something to take.
    journal_changed: tokio::sync::Notify,
    /// A device that disappears with this process (a TUN device of ours,
    /// 0 for none): routes through it go with it, so the ledger does not
    /// keep them for a next run to remove.
    dies_with_us: std::sync::atomic::AtomicU32,
}

impl Netlink {
    /// Opens a route netlink socket in the current namespace; the
    /// connection task runs on the current tokio runtime.
    pub fn new() -> Result<Netlink, NetlinkError> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Netlink {
            handle,
            batch: Mutex::new(Batcher::open()?),
            ledger: Mutex::new(Ledger::default()),
            journal_changed: tokio::sync::Notify::new(),
            dies_with_us: std::sync::atomic::AtomicU32::new(0),
        })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Routes through `index` die with this process (a non-persistent
    /// TUN device: the kernel deletes the device when its last
    /// descriptor closes, kill -9 included, and every route through it):
    /// they are installed and removed as before, but not kept in the
    /// ledger, which at a hundred thousand bindings doubled what the
    /// state log wrote per registration.
    pub fn routes_die_with(&self, index: u32) {
        self.dies_with_us
            .store(index, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether `item` goes away by itself when this process does.
    fn dies_with_us(&self, item: &Installed) -> bool {
        let dev = self.dies_with_us.load(std::sync::atomic::Ordering::Relaxed);
        dev != 0 && matches!(item, Installed::Route { oif: Some(o), .. } if *o == dev)
    }

    fn record(&self, item: Installed) {
        if self.dies_with_us(&item) {
            return;
        }
        let mut l = self.ledger();
        l.inherited.remove(&item);
        if l.items.insert(item.clone()) {
            l.journal.push((true, item));
            self.journal_changed.notify_one();
        }
    }

    fn forget(&self, item: &Installed) {
        let mut l = self.ledger();
        let inherited = l.inherited.remove(item);
        if l.items.remove(item) || inherited {
            l.journal.push((false, item.clone()));
            self.journal_changed.notify_one();
        }
    }

    /// The ledger's changes since the last call: `(true, entry)` for an
    /// entry installed, `(false, entry)` for one removed.
    pub fn take_journal(&self) -> Vec<(bool, Installed)> {
        std::mem::take(&mut self.ledger().journal)
    }

    /// Resolves once the journal has changes to take.
    pub async fn journal_changed(&self) {
        self.journal_changed.notified().await
    }

    /// What the previous run's ledger held (read back from the state
    /// database): installing one of these again takes it back as ours,
    /// even where the kernel still had it; [`Netlink::sweep_inherited`]
    /// removes the others.
    pub fn inherit(&self, items: impl IntoIterator<Item = Installed>) {
        self.ledger().inherited = items.into_iter().collect();
    }

    /// Removes what the previous run installed and this one did not take
    /// back (a binding that expired while the daemon was down, a route
    /// through a tunnel device that died with it, an address no longer
    /// configured). Returns how many entries were removed.
    pub async fn sweep_inherited(&self) -> usize {
        let stale: Vec<Installed> = {
            let mut l = self.ledger();
            let stale = std::mem::take(&mut l.inherited);
            for item in &stale {
                l.journal.push((false, item.clone()));
            }
            stale.into_iter().collect()
        };
        // Much of it died with the old process (its tunnel device and the
        // routes through it): gone is as good as removed.
        for (item, e) in self.remove_items(&stale).await {
            tracing::debug!(?item, error = %e, "stale entry not removed");
        }
        if !stale.is_empty() {
            self.journal_changed.notify_one();
        }
        stale.len()
    }

    /// Carries out `ops` in order with a few system calls per thousand
    /// (see [`BATCH_REQUESTS`]), records the routes the kernel took and
    /// forgets what was removed. Blocking for the time the kernel takes
    /// (about 10 µs a route): callers on a runtime use `spawn_blocking`.
    /// Returns each request's result, in order: `Ok`, or the kernel's
    /// error.
    pub fn apply_batch(&self, ops: &[BatchOp]) -> Vec<Result<(), std::io::Error>> {
        let removed: Vec<Installed> = ops
            .iter()
            .filter(|op| !matches!(op, BatchOp::ReplaceRoute { .. }))
            .map(BatchOp::item)
            .collect();
        // Forgotten before the kernel is asked, as the single removals do:
        // an entry is never in the ledger once its removal may have begun.
        self.forget_many(&removed);
        let mut results = Vec::with_capacity(ops.len());
        {
            let mut b = self.batch.lock().unwrap_or_else(|e| e.into_inner());
            for chunk in ops.chunks(BATCH_REQUESTS) {
                results.extend(b.run(chunk));
            }
        }
        let added = ops
            .iter()
            .zip(&results)
            .filter(|(op, r)| matches!(op, BatchOp::ReplaceRoute { .. }) && r.is_ok())
            .map(|(op, _)| op.item());
        self.record_many(added);
        results
            .into_iter()
            .map(|r| r.map_err(std::io::Error::from_raw_os_error))
            .collect()
    }

    fn record_many(&self, items: impl Iterator<Item = Installed>) {
        let mut l = self.ledger();
        let mut changed = false;
        for item in items.filter(|i| !self.dies_with_us(i)) {
            l.inherited.remove(&item);
            if l.items.insert(item.clone()) {
                l.journal.push((true, item));
                changed = true;
            }
        }
        if changed {
            self.journal_changed.notify_one();
        }
    }

    fn forget_many(&self, items: &[Installed]) {
        if items.is_empty() {
            return;
        }
        let mut l = self.ledger();
        let mut changed = false;
        for item in items {
            let inherited = l.inherited.remove(item);
            if l.items.remove(item) || inherited {
                l.journal.push((false, item.clone()));
                changed = true;
            }
        }
        if changed {
            self.journal_changed.notify_one();
        }
    }

    /// Removes `items` (already out of the ledger) in their order: routes
    /// and proxy entries in batches, the rest one by one. Returns the
    /// entries that could not be removed, with why.
    async fn remove_items(&self, items: &[Installed]) -> Vec<(Installed, NetlinkError)> {
        let mut failed = Vec::new();
        let mut at = 0;
        while at < items.len() {
            let run: Vec<BatchOp> = items[at..].iter().map_while(BatchOp::removal).collect();
            if run.is_empty() {
                if let Err(e) = self.remove_item(&items[at]).await {
                    failed.push((items[at].clone(), e));
                }
                at += 1;
                continue;
            }
            for (op, r) in run.iter().zip(self.apply_batch(&run)) {
                if let Err(e) = r {
                    failed.push((op.item(), e.into()));
                }
            }
            at += run.len();
        }
        failed
    }

    /// Interface index of `name`.
    pub async fn link_index(&self, name: &str) -> Result<u32, NetlinkError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_owned())
            .execute();
        match links.try_next().await {
            Ok(Some(msg)) => Ok(msg.header.index),
            Ok(None) => Err(NetlinkError::NoSuchLink(name.to_owned())),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => {
                Err(NetlinkError::NoSuchLink(name.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Moves link `index` into the namespace open as `target_ns` and, in
    /// the same request, enslaves it to `controller` (an index in the
    /// target namespace: the kernel applies IFLA_MASTER after the move),
    /// sets its alias and brings it up. One message is what makes an
    /// emulated roam as short as a reassociation (docs/radio.md); `ip` would take two processes.
    pub async fn move_and_attach(
        &self,
        index: u32,
        target_ns: Option<std::os::fd::RawFd>,
        controller: u32,
        alias: &str,
    ) -> Result<(), NetlinkError> {
        let mut b = LinkUnspec::new_with_index(index)
            .controller(controller)
            .append_extra_attribute(rtnetlink::packet_route::link::LinkAttribute::IfAlias(
                alias.to_owned(),
            ))
            .up();
        if let Some(fd) = target_ns {
            b = b.setns_by_fd(fd);
        }
        self.handle.link().set(b.build()).execute().await?;
        Ok(())
    }

    pub async fn link_up(&self, index: u32) -> Result<(), NetlinkError> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await?;
        Ok(())
    }

    pub async fn set_mtu(&self, index: u32, mtu: u32) -> Result<(), NetlinkError> {
        self.handle
            .link()
            .set(LinkUnspec::new_with_index(index).mtu(mtu).build())
            .execute()
            .await?;
        Ok(())
    }

    /// Adds an address (like `ip addr add A/N dev IF`); an address already
    /// present is left alone and not recorded, so we never remove what
    /// the operator put there, unless the previous run's ledger says it
    /// was ours.
    pub async fn add_address(
        &self,
        index: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
    ) -> Result<(), NetlinkError> {
        match self
            .handle
            .address()
            .add(index, IpAddr::V4(addr), prefix_len)
            .execute()
            .await
        {
            Ok(()) => {
                self.record(Installed::Address {
                    index,
                    addr,
                    prefix_len,
                });
                Ok(())
            }
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => {
                let item = Installed::Address {
                    index,
                    addr,
                    prefix_len,
                };
                if self.ledger().inherited.contains(&item) {
                    self.record(item);
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Removes an address we added (`ip addr del A/N dev IF`); one
    /// already gone is not an error.
    pub async fn del_address(
        &self,
        index: u32,
        addr: Ipv4Addr,
        prefix_len: u8,
    ) -> Result<(), NetlinkError> {
        let item = Installed::Address {
            index,
            addr,
            prefix_len,
        };
        self.forget(&item);
        self.remove_item(&item).await
    }

    fn route_message(
        dst: Ipv4Addr,
        prefix_len: u8,
        gateway: Option<Ipv4Addr>,
        oif: Option<u32>,
    ) -> rtnetlink::packet_route::route::RouteMessage {
        let mut b = RouteMessageBuilder::<Ipv4Addr>::new().destination_prefix(dst, prefix_len);
        if let Some(gw) = gateway {
            b = b.gateway(gw);
        }
        if let Some(i) = oif {
            b = b.output_interface(i);
        }
        b.build()
    }

    /// Adds a route (replacing one to the same prefix), as `ip route
    /// replace` does, and records it.
    pub async fn add_route(
        &self,
        dst: Ipv4Addr,
        prefix_len: u8,
        gateway: Option<Ipv4Addr>,
        oif: Option<u32>,
    ) -> Result<(), NetlinkError> {
        let msg = Self::route_message(dst, prefix_len, gateway, oif);
        self.handle.route().add(msg).replace().execute().await?;
        let item = Installed::Route {
            dst,
            prefix_len,
            gateway,
            oif,
        };
        self.record(item);
        Ok(())
    }

    /// Removes a route we added; a route already gone is not an error.
    pub async fn del_route(
        &self,
        dst: Ipv4Addr,
        prefix_len: u8,
        gateway: Option<Ipv4Addr>,
        oif: Option<u32>,
    ) -> Result<(), NetlinkError> {
        let item = Installed::Route {
            dst,
            prefix_len,
            gateway,
            oif,
        };
        self.forget(&item);
        let msg = Self::route_message(dst, prefix_len, gateway, oif);
        match self.handle.route().del(msg).execute().await {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ESRCH => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn proxy_message(index: u32, addr: Ipv4Addr) -> NeighbourMessage {
        let mut m = NeighbourMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.ifindex = index;
        m.header.flags = NeighbourFlags::Proxy;
        m.attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(
                addr,
            )));
        m
    }

    /// Answers ARP for `addr` on the interface with our own address
    /// (`ip neigh add proxy A dev IF`): the home agent's proxy ARP for a
    /// mobile node away from home (RFC 5944 section 4.6).
    pub async fn add_proxy_neighbour(
        &self,
        index: u32,
        addr: Ipv4Addr,
    ) -> Result<(), NetlinkError> {
        match self
            .handle
            .neighbours()
            .add(index, IpAddr::V4(addr))
            .flags(NeighbourFlags::Proxy)
            .execute()
            .await
        {
            Ok(()) => {}
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => {}
            Err(e) => return Err(e.into()),
        }
        let item = Installed::ProxyNeighbour { index, addr };
        self.record(item);
        Ok(())
    }

    pub async fn del_proxy_neighbour(
        &self,
        index: u32,
        addr: Ipv4Addr,
    ) -> Result<(), NetlinkError> {
        self.forget(&Installed::ProxyNeighbour { index, addr });
        match self
            .handle
            .neighbours()
            .del(Self::proxy_message(index, addr))
            .execute()
            .await
        {
            Ok(()) => Ok(()),
            Err(rtnetlink::Error::NetlinkError(e))
                if e.raw_code() == -libc::ENOENT || e.raw_code() == -libc::ESRCH =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A default route out of `oif` in routing table `table`: where the
    /// foreign agent's reverse-tunnel rules send visitors' packets.
    pub async fn add_table_default(&self, oif: u32, table: u32) -> Result<(), NetlinkError> {
        let msg = RouteMessageBuilder::<Ipv4Addr>::new()
            .output_interface(oif)
            .table_id(table)
            .build();
        self.handle.route().add(msg).replace().execute().await?;
        let item = Installed::TableDefault { oif, table };
        self.record(item);
        Ok(())
    }

    fn source_rule(&self, src: Ipv4Addr, table: u32) -> rtnetlink::RuleAddRequest<Ipv4Addr> {
        self.handle
            .rule()
            .add()
            .v4()
            .source_prefix(src, 32)
            .table_id(table)
            .action(rtnetlink::packet_route::rule::RuleAction::ToTable)
    }

    /// Routes packets from `src` by table `table` (`ip rule add from SRC
    /// lookup T`): a visitor's packets into the reverse tunnel (RFC 3024).
    pub async fn add_source_rule(&self, src: Ipv4Addr, table: u32) -> Result<(), NetlinkError> {
        // The kernel accepts duplicate rules; add only when absent. One
        // already there is ours if the previous run's ledger says so.
        let item = Installed::SourceRule { src, table };
        if self.find_source_rule(src, table).await?.is_some() {
            if self.ledger().inherited.contains(&item) {
                self.record(item);
            }
            return Ok(());
        }
        match self.source_rule(src, table).execute().await {
            Ok(()) => {}
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => {}
            Err(e) => return Err(e.into()),
        }
        self.record(item);
        Ok(())
    }

    async fn find_source_rule(
        &self,
        src: Ipv4Addr,
        table: u32,
    ) -> Result<Option<rtnetlink::packet_route::rule::RuleMessage>, NetlinkError> {
        use rtnetlink::packet_route::rule::RuleAttribute;
        let mut rules = self.handle.rule().get(rtnetlink::IpVersion::V4).execute();
        while let Some(msg) = rules.try_next().await? {
            let from = msg
                .attributes
                .iter()
                .any(|a| matches!(a, RuleAttribute::Source(IpAddr::V4(x)) if *x == src));
            let in_table = msg
                .attributes
                .iter()
                .any(|a| matches!(a, RuleAttribute::Table(t) if *t == table))
                || u32::from(msg.header.table) == table;
            if from && in_table && msg.header.src_len == 32 {
                return Ok(Some(msg));
            }
        }
        Ok(None)
    }

    /// Removes every `from SRC/32 lookup T` rule, found in the kernel's
    /// rule dump and deleted as the kernel describes it.
    pub async fn del_source_rule(&self, src: Ipv4Addr, table: u32) -> Result<(), NetlinkError> {
        let item = Installed::SourceRule { src, table };
        // Only a rule we installed (this run or the last) is ours to
        // remove; asking the kernel for its rule list otherwise would cost
        // a dump on every visitor without a reverse tunnel.
        let ours = {
            let l = self.ledger();
            l.items.contains(&item) || l.inherited.contains(&item)
        };
        if !ours {
            return Ok(());
        }
        self.forget(&item);
        while let Some(msg) = self.find_source_rule(src, table).await? {
            self.handle.rule().del(msg).execute().await?;
        }
        Ok(())
    }

    /// What is installed now, in removal order.
    pub fn installed(&self) -> Vec<Installed> {
        self.ledger().items.iter().cloned().collect()
    }

    /// Removes everything recorded, rules and routes first; errors are
    /// logged and the rest is still removed.
    pub async fn remove_all(&self) {
        let items: Vec<Installed> = {
            let mut l = self.ledger();
            let items = std::mem::take(&mut l.items);
            for item in &items {
                l.journal.push((false, item.clone()));
            }
            items.into_iter().collect()
        };
        for (item, e) in self.remove_items(&items).await {
            tracing::warn!(?item, error = %e, "could not remove on cleanup");
        }
    }

    async fn remove_item(&self, item: &Installed) -> Result<(), NetlinkError> {
        match item {
            Installed::Route {
                dst,
                prefix_len,
                gateway,
                oif,
            } => self.del_route(*dst, *prefix_len, *gateway, *oif).await,
            Installed::ProxyNeighbour { index, addr } => {
                self.del_proxy_neighbour(*index, *addr).await
            }
            Installed::SourceRule { src, table } => self.del_source_rule(*src, *table).await,
            Installed::Link { index } => self
                .handle
                .link()
                .del(*index)
                .execute()
                .await
                .map_err(NetlinkError::from),
            Installed::TableDefault { oif, table } => {
                let msg = RouteMessageBuilder::<Ipv4Addr>::new()
                    .output_interface(*oif)
                    .table_id(*table)
                    .build();
                self.handle
                    .route()
                    .del(msg)
                    .execute()
                    .await
                    .map_err(NetlinkError::from)
            }
            Installed::Address {
                index,
                addr,
                prefix_len,
            } => {
                let mut req = self
                    .handle
                    .address()
                    .get()
                    .set_link_index_filter(*index)
                    .execute();
                let mut res = Ok(());
                while let Ok(Some(msg)) = req.try_next().await {
                    let hit = msg.attributes.iter().any(|a| {
                    matches!(a, rtnetlink::packet_route::address::AddressAttribute::Address(IpAddr::V4(x)) if x == addr)
                });
                    if hit && msg.header.prefix_len == *prefix_len {
                        res = self
                            .handle
                            .address()
                            .del(msg)
                            .execute()
                            .await
                            .map_err(NetlinkError::from);
                        break;
                    }
                }
                res
            }
        }
    }
}

/// Writes a sysctl under /proc/sys (e.g. `net/ipv4/ip_forward`).
pub fn set_sysctl(path: &str, value: &str) -> std::io::Result<()> {
    std::fs::write(format!("/proc/sys/{path}"), value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_entries_round_trip_through_their_byte_form() {
        let ip = Ipv4Addr::new;
        let items = [
            Installed::SourceRule {
                src: ip(10, 1, 0, 50),
                table: 4340,
            },
            Installed::Route {
                dst: ip(10, 1, 0, 50),
                prefix_len: 32,
                gateway: None,
                oif: Some(7),
            },
            Installed::Route {
                dst: ip(0, 0, 0, 0),
                prefix_len: 0,
                gateway: Some(ip(10, 2, 0, 254)),
                oif: None,
            },
            Installed::ProxyNeighbour {
                index: 3,
                addr: ip(10, 1, 0, 50),
            },
            Installed::TableDefault {
                oif: 9,
                table: 4340,
            },
            Installed::Address {
                index: 2,
                addr: ip(10, 1, 0, 1),
                prefix_len: 24,
            },
            Installed::Link { index: 12 },
        ];
        for item in &items {
            let bytes = item.encode();
            assert_eq!(Installed::decode(&bytes).as_ref(), Some(item));
            assert_eq!(Installed::decode(&bytes[..bytes.len() - 1]), None);
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(Installed::decode(&longer), None);
        }
        assert_eq!(Installed::decode(&[]), None);
        assert_eq!(Installed::decode(&[9, 0, 0, 0, 0]), None);
        // Removal order: rules and routes before addresses and links.
        let mut sorted = items.to_vec();
        sorted.sort();
        assert!(matches!(sorted[0], Installed::SourceRule { .. }));
        assert!(matches!(sorted[6], Installed::Link { .. }));
    }
}
