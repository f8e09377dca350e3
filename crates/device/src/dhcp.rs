//! The AP's address by DHCP on the Linux side (`interface BVI1` / `ip
//! address dhcp`): the client's socket, and the lease's address and
//! default route on BVI1.
//!
//! The node runs the client (`pmip_node::dhcp`); its datagrams are UDP
//! transmits from `0.0.0.0:68`, sent and received here on a socket bound
//! to BVI1. Before BVI1 has an address the kernel still delivers the
//! server's broadcast replies to it: the client asks for broadcast
//! replies (RFC 2131 4.1, the BROADCAST bit) and the socket is bound to
//! the device, so the limited broadcast arriving on BVI1 reaches port 68
//! (`dhcp_netns.rs` checks it against dnsmasq).

use crate::io::Io;
use pmip_node::Node;
use pmip_node::dhcp::{Installed, LOCAL};
use pmip_platform::netlink::Netlink;
use std::io;
use std::net::Ipv4Addr;

/// What the lease installed on BVI1.
#[derive(Debug, Default)]
pub(crate) struct LeaseOnLink {
    installed: Option<(Installed, Option<Ipv4Addr>)>,
}

/// UDP 0.0.0.0:68 bound to `interface`, broadcasts allowed.
pub(crate) fn socket(interface: &str) -> io::Result<tokio::net::UdpSocket> {
    use std::os::fd::AsRawFd;
    let s = std::net::UdpSocket::bind(LOCAL)?;
    s.set_broadcast(true)?;
    let name = interface.as_bytes();
    // SAFETY: the option value is a byte buffer of the given length that
    // outlives the call; the descriptor is the socket's own.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            name.as_ptr().cast(),
            name.len() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    s.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(s)
}

/// Opens the client's socket when the configuration asks for DHCP.
pub(crate) fn open(node: &Node, io: &mut Io) -> io::Result<()> {
    if pmip_node::dhcp::configured(node.config()) && io.udp_socket(LOCAL).is_none() {
        let s = socket(pmip_node::config::BRIDGE).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("DHCP client socket on {}: {e}", pmip_node::config::BRIDGE),
            )
        })?;
        io.udp.push((LOCAL, s));
    }
    Ok(())
}

/// Puts the node's lease on BVI1 (address, default route through the
/// configured gateway or the lease's router) or takes it off, and opens
/// or closes the node's sockets on the address. Called before the
/// node's outputs are carried out, so the exchange's first message leaves
/// from an address BVI1 holds.
pub(crate) async fn follow(
    state: &mut LeaseOnLink,
    node: &Node,
    netlink: &Netlink,
    io: &mut Io,
    bridge: Option<u32>,
) {
    let Some(index) = bridge else { return };
    // `ip address dhcp` may also come with a `configure`.
    if let Err(e) = open(node, io) {
        tracing::warn!(error = %e, "DHCP client has no socket");
    }
    let want = node.dhcp_lease();
    let gateway = want.and_then(|l| node.config().default_gateway.or(l.router));
    if state.installed == want.map(|l| (l, gateway)) {
        return;
    }
    if let Some((old, old_gw)) = state.installed.take() {
        if let Some(gw) = old_gw
            && let Err(e) = netlink
                .del_route(Ipv4Addr::UNSPECIFIED, 0, Some(gw), None)
                .await
        {
            tracing::warn!(gateway = %gw, error = %e, "could not remove the default route");
        }
        if want.map(|l| (l.address, l.prefix_len)) != Some((old.address, old.prefix_len)) {
            del_address(netlink, index, old.address, old.prefix_len).await;
        }
    }
    if let Some(l) = want {
        if let Err(e) = netlink.add_address(index, l.address, l.prefix_len).await {
            tracing::error!(address = %l.address, error = %e, "could not put the leased address on BVI1");
            return;
        }
        if let Some(gw) = gateway
            && let Err(e) = netlink
                .add_route(Ipv4Addr::UNSPECIFIED, 0, Some(gw), None)
                .await
        {
            tracing::warn!(gateway = %gw, error = %e, "could not add the default route");
        }
        tracing::info!(address = %l.address, prefix_len = l.prefix_len, gateway = ?gateway, "BVI1: leased address installed");
        state.installed = Some((l, gateway));
    }
    sync_sockets(node, io);
}

/// The node's UDP sockets follow its own address: those on an address
/// gone are closed, those on a new one opened (the client's own socket
/// stays).
fn sync_sockets(node: &Node, io: &mut Io) {
    let wanted = node.udp_sockets();
    io.udp.retain(|(a, _)| *a == LOCAL || wanted.contains(a));
    for a in wanted {
        if io.udp_socket(a).is_some() {
            continue;
        }
        match pmip_platform::link::udp_socket(a) {
            Ok(s) => io.udp.push((a, s)),
            Err(e) => tracing::warn!(address = %a, error = %e, "cannot listen on UDP"),
        }
    }
}

/// Removes the leased address from BVI1 (and from the kernel ledger).
async fn del_address(netlink: &Netlink, index: u32, address: Ipv4Addr, prefix_len: u8) {
    match netlink.del_address(index, address, prefix_len).await {
        Ok(()) => tracing::info!(%address, prefix_len, "BVI1: leased address removed"),
        Err(e) => tracing::warn!(%address, error = %e, "could not remove the leased address"),
    }
}
