//! Keeping a visiting client's port quiet (the Aironet documentation: "Guest client
//! devices do not receive broadcast and multicast packets"; keep
//! registration replies away from the client): a classic BPF program on
//! the port's egress drops broadcast and multicast frames and UDP from
//! port 434. This kernel has cls_bpf but no u32/flower classifiers or
//! gact actions, so the program decides itself (direct action: 2 drops,
//! 0 passes). The fallback of the eBPF program keyed by MAC
//! (`pmip_fastpath::isolation`), used where that one cannot load; installed
//! with iproute2's `tc` (rtnetlink has no cls_bpf builder).

use std::io;
use std::process::Command;

/// `ether[0] & 1 != 0` or (IPv4, UDP, not a fragment, source port 434).
const BYTECODE: &str = "13,48 0 0 0,69 10 0 1,40 0 0 12,21 0 7 2048,48 0 0 23,21 0 5 17,40 0 0 20,69 3 0 8191,177 0 0 14,72 0 0 14,21 1 0 434,6 0 0 0,6 0 0 2";

fn tc(args: &[&str]) -> io::Result<()> {
    let out = Command::new("tc").args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "tc {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Starts dropping broadcast, multicast and registration replies towards
/// the station behind port `ifname`.
pub fn isolate(ifname: &str) -> io::Result<()> {
    let _ = tc(&["qdisc", "del", "dev", ifname, "clsact"]);
    tc(&["qdisc", "add", "dev", ifname, "clsact"])?;
    tc(&[
        "filter", "add", "dev", ifname, "egress", "bpf", "da", "bytecode", BYTECODE,
    ])
}

/// Lets everything through to the station again.
pub fn release(ifname: &str) -> io::Result<()> {
    tc(&["qdisc", "del", "dev", ifname, "clsact"])
}
