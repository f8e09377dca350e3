//! Our own link-layer addresses, read from sysfs by interface index.

use std::io;

/// The MAC address of interface `ifindex` in this namespace.
pub fn mac_of_index(ifindex: u32) -> io::Result<[u8; 6]> {
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: if_indextoname writes at most IF_NAMESIZE bytes into `name`.
    let p = unsafe { libc::if_indextoname(ifindex, name.as_mut_ptr()) };
    if p.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success `name` holds a NUL-terminated string.
    let name = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    // /sys/class/net shows the namespace that mounted sysfs, which for
    // `ip netns exec` is the device's own.
    let text = std::fs::read_to_string(format!("/sys/class/net/{name}/address"))?;
    let mut mac = [0u8; 6];
    let mut parts = text.trim().split(':');
    for m in &mut mac {
        let part = parts
            .next()
            .ok_or_else(|| io::Error::other("short MAC address"))?;
        *m = u8::from_str_radix(part, 16).map_err(io::Error::other)?;
    }
    Ok(mac)
}
