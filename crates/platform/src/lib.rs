//! Linux I/O for pmip (docs/architecture.md): the only crate that knows it
//! runs on Linux. Netlink for routes, addresses and proxy ARP; TUN devices
//! and raw sockets for the user-space tunnel data plane (this kernel has
//! no ipip/gre modules).

pub mod config_file;
pub mod datagrams;
pub mod dataplane;
pub mod hostapd;
pub mod isolation;
pub mod link;
pub mod netlink;
pub mod packet;
pub mod radio;
pub mod raw;
pub mod state;
pub mod tun;
pub mod visited_link;

use std::os::fd::AsRawFd;
use tokio::io::unix::AsyncFd;

/// Registers an owned descriptor with the tokio reactor.
fn register<T: AsRawFd + OwnedDescriptor>(inner: T) -> std::io::Result<AsyncFd<T>> {
    // SAFETY: `T` owns its descriptor (socket2::Socket, OwnedFd), so it
    // stays open and the same for as long as the AsyncFd holds it.
    unsafe { AsyncFd::register(inner).map_err(Into::into) }
}

/// Types that own exactly one descriptor for their whole life.
trait OwnedDescriptor {}
impl OwnedDescriptor for socket2::Socket {}
impl OwnedDescriptor for std::os::fd::OwnedFd {}
