//! The few interface facts the fast path needs, from libc (in the
//! calling thread's network namespace).

use std::collections::BTreeSet;
use std::ffi::{CStr, CString};
use std::io;

/// Ethernet interfaces (not loopback) that have an IPv4 address: the
/// links a home or foreign agent routes on.
pub fn ethernet_interfaces_with_ipv4() -> io::Result<Vec<String>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut ethernet = BTreeSet::new();
    let mut addressed = BTreeSet::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        if ifa.ifa_flags & libc::IFF_LOOPBACK as libc::c_uint != 0 {
            continue;
        }
        // SAFETY: a NUL-terminated name owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ifa_addr is non-null and starts with the family.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        match family {
            libc::AF_INET => {
                addressed.insert(name);
            }
            libc::AF_PACKET => {
                // SAFETY: an AF_PACKET entry's address is a sockaddr_ll.
                let ll = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_ll) };
                if ll.sll_hatype == libc::ARPHRD_ETHER {
                    ethernet.insert(name);
                }
            }
            _ => {}
        }
    }
    // SAFETY: the list from getifaddrs, freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(ethernet.intersection(&addressed).cloned().collect())
}

pub fn ifindex(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: a NUL-terminated name.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

/// Removes a clsact qdisc we added (kernels without tcx).
pub fn remove_clsact(name: &str) {
    let _ = std::process::Command::new("tc")
        .args(["qdisc", "del", "dev", name, "clsact"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}
