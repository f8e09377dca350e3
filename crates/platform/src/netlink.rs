//! Routes, addresses, links and proxy-ARP entries through rtnetlink, with
//! a ledger of what we installed so it can all be removed on exit.

use futures_util::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage,
};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};
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

/// Something installed in the kernel that must be undone on exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
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
    /// A link we created (the AP's bridge): deleted on exit.
    Link {
        index: u32,
    },
    /// `ip rule add from SRC/32 lookup T`.
    SourceRule {
        src: Ipv4Addr,
        table: u32,
    },
}

/// A netlink connection plus the ledger of what went through it.
pub struct Netlink {
    handle: Handle,
    ledger: Mutex<Vec<Installed>>,
}

impl Netlink {
    /// Opens a route netlink socket in the current namespace; the
    /// connection task runs on the current tokio runtime.
    pub fn new() -> Result<Netlink, NetlinkError> {
        let (conn, handle, _) = rtnetlink::new_connection()?;
        tokio::spawn(conn);
        Ok(Netlink {
            handle,
            ledger: Mutex::new(Vec::new()),
        })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    fn record(&self, item: Installed) {
        self.ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(item);
    }

    fn forget(&self, item: &Installed) {
        self.ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|i| i != item);
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
    /// the operator put there.
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
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => Ok(()),
            Err(e) => Err(e.into()),
        }
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
        self.forget(&item);
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
        self.forget(&item);
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
        self.forget(&item);
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
        // The kernel accepts duplicate rules; add only when absent.
        if self.find_source_rule(src, table).await?.is_some() {
            return Ok(());
        }
        match self.source_rule(src, table).execute().await {
            Ok(()) => {}
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::EEXIST => {}
            Err(e) => return Err(e.into()),
        }
        let item = Installed::SourceRule { src, table };
        self.forget(&item);
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
        self.forget(&Installed::SourceRule { src, table });
        while let Some(msg) = self.find_source_rule(src, table).await? {
            self.handle.rule().del(msg).execute().await?;
        }
        Ok(())
    }

    /// What is installed now, oldest first.
    pub fn installed(&self) -> Vec<Installed> {
        self.ledger
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Removes everything recorded, newest first; errors are logged and
    /// the rest is still removed.
    pub async fn remove_all(&self) {
        let items: Vec<Installed> =
            std::mem::take(&mut *self.ledger.lock().unwrap_or_else(|e| e.into_inner()));
        for item in items.into_iter().rev() {
            let result = match &item {
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
            };
            if let Err(e) = result {
                tracing::warn!(?item, error = %e, "could not remove on cleanup");
            }
        }
    }
}

/// Writes a sysctl under /proc/sys (e.g. `net/ipv4/ip_forward`).
pub fn set_sysctl(path: &str, value: &str) -> std::io::Result<()> {
    std::fs::write(format!("/proc/sys/{path}"), value)
}
