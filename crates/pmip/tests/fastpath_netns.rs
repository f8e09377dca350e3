//! The eBPF fast path under the daemons (docs/fast-path.md): a home
//! agent and a foreign agent in namespaces this test creates and removes,
//! a correspondent on the home link and a mobile node away on the foreign
//! agent's link. For IP-in-IP, GRE and both with the reverse tunnel
//! (RFC 2003, RFC 2784, RFC 3024): ping and a TCP transfer go through,
//! the program's per-CPU counters moved, deregistration takes the map
//! entries out and the traffic stops, and the daemons' exit (clean or
//! kill -9) leaves no program attached. Skipped, with the reason printed,
//! only where the kernel refuses BPF programs.

use pmip_netns::{Netns, unique_name};
use pmip_wire::registration::{ReplyCode, RequestFlags};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod common;

const HA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);
const CN: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 9);
const HOME: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);
const FA: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

const HA_CONFIG: &str = "hostname ha1
interface FastEthernet0
 ip address 10.1.0.1 255.255.255.0
interface eth1
 ip address 192.0.2.1 255.255.255.252
ip route 198.51.100.0 255.255.255.0 192.0.2.2
router mobile
ip mobile home-agent lifetime 600
ip mobile host 10.1.0.10 10.1.0.99 interface FastEthernet0
ip mobile secure host 10.1.0.10 10.1.0.99 spi 100 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5
ip mobile secure foreign-agent 198.51.100.1 spi 200 key ascii fa-secret algorithm hmac-md5
";

const FA_CONFIG: &str = "hostname fa1
interface FastEthernet0
 ip address 198.51.100.1 255.255.255.0
 ip irdp
 ip mobile foreign-service reverse-tunnel
 ip mobile registration-lifetime 600
interface eth1
 ip address 192.0.2.2 255.255.255.252
ip route 10.1.0.0 255.255.255.0 192.0.2.1
router mobile
ip mobile foreign-agent care-of FastEthernet0
ip mobile secure home-agent 10.1.0.1 spi 200 key ascii fa-secret algorithm hmac-md5
";

/// Correspondent (home link) — home agent — foreign agent — mobile node.
struct Campus {
    cn: Netns,
    ha: Netns,
    fa: Netns,
    mn: Netns,
}

fn campus(tag: &str) -> Campus {
    let c = Campus {
        cn: Netns::new(&unique_name(&format!("pmipt-{tag}cn"))).unwrap(),
        ha: Netns::new(&unique_name(&format!("pmipt-{tag}ha"))).unwrap(),
        fa: Netns::new(&unique_name(&format!("pmipt-{tag}fa"))).unwrap(),
        mn: Netns::new(&unique_name(&format!("pmipt-{tag}mn"))).unwrap(),
    };
    c.ha.veth_to("FastEthernet0", &c.cn, "c0").unwrap();
    c.cn.addr("c0", "10.1.0.9/24").unwrap();
    c.cn.ip(&["route", "add", "default", "via", "10.1.0.1"])
        .unwrap();
    c.ha.veth_to("eth1", &c.fa, "eth1").unwrap();
    c.fa.veth_to("FastEthernet0", &c.mn, "m0").unwrap();
    // An unmodified host that keeps its home address; the foreign agent
    // is its router on the visited link (RFC 5944 4.2.2).
    c.mn.away_from_home("m0", "10.1.0.50", "198.51.100.1")
        .unwrap();
    c
}

/// The mobile node registers (or with lifetime 0 deregisters) through
/// the foreign agent.
fn register(mn: &Netns, lifetime: u16, flags: RequestFlags) -> ReplyCode {
    mn.run(move || common::ask(HOME, FA, &common::request(HOME, HA, FA, lifetime, flags)))
        .unwrap()
}

/// Waits for the daemon logging to `log` to say the fast path is on;
/// Err(reason) when it says it is not.
fn fast_path_on(log: &Path) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("eBPF fast path on") {
            return Ok(());
        }
        if let Some(line) = text
            .lines()
            .find(|l| l.contains("eBPF fast path not loaded") || l.contains("eBPF fast path off"))
        {
            return Err(line.to_owned());
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the fast path neither came on nor said why:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The reason to skip: the kernel refuses BPF programs here (not a fault
/// of ours, which fails the test).
fn refused(reason: &str) -> bool {
    [
        "Operation not permitted",
        "Function not implemented",
        "Permission denied",
    ]
    .iter()
    .any(|r| reason.contains(r))
}

fn ping(c: &Campus, count: &str) -> bool {
    c.cn.exec("ping", &["-c", count, "-i", "0.2", "-W", "1", "10.1.0.50"])
        .unwrap()
        .status
        .success()
}

/// `len` bytes from the correspondent to the mobile node over TCP; the
/// mobile node answers with the count it received.
fn tcp_transfer(c: &Campus, len: usize) -> usize {
    let server =
        c.mn.thread(|| {
            let listener = TcpListener::bind((HOME, 5001)).unwrap();
            let (mut s, peer) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut total = 0usize;
            let mut buf = vec![0u8; 65536];
            while let Ok(n @ 1..) = s.read(&mut buf) {
                total += n;
            }
            let _ = s.write_all(&(total as u64).to_be_bytes());
            (total, peer)
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let answered =
        c.cn.run(move || {
            let mut s =
                TcpStream::connect_timeout(&(HOME, 5001).into(), Duration::from_secs(5)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
            let chunk = vec![0xa5u8; 65536];
            let mut left = len;
            while left > 0 {
                let n = left.min(chunk.len());
                if s.write_all(&chunk[..n]).is_err() {
                    break;
                }
                left -= n;
            }
            let _ = s.shutdown(std::net::Shutdown::Write);
            let mut b = [0u8; 8];
            s.read_exact(&mut b)
                .map_or(0, |_| u64::from_be_bytes(b) as usize)
        })
        .unwrap();
    let (received, peer) = server.join().unwrap().unwrap();
    assert_eq!(peer.ip(), std::net::IpAddr::V4(CN));
    assert_eq!(received, answered);
    received
}

/// The interfaces of `ns` with our program attached at ingress, and the
/// program ids: tcx links (BPF_PROG_QUERY) and, for kernels without tcx,
/// cls_bpf filters as `tc filter show` lists them.
fn attached(ns: &Netns, devs: &[&'static str]) -> Vec<(String, u32)> {
    let mut found = Vec::new();
    for &dev in devs {
        let ids = ns.run(move || bpf::tcx_ingress(dev)).unwrap();
        found.extend(ids.into_iter().map(|id| (dev.to_owned(), id)));
        let out = ns
            .exec("tc", &["filter", "show", "dev", dev, "ingress"])
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("pmip_tunnel") {
            found.push((dev.to_owned(), 0));
        }
    }
    found
}

/// The fast path's state in one daemon, read from the kernel through
/// the program attached to `dev`.
struct Program {
    id: u32,
    maps: Vec<(String, u32)>,
}

impl Program {
    fn of(ns: &Netns, dev: &'static str) -> Program {
        let ids = ns.run(move || bpf::tcx_ingress(dev)).unwrap();
        assert_eq!(ids.len(), 1, "one program on {dev}: {ids:?}");
        let maps = bpf::prog_maps(ids[0]).unwrap();
        Program { id: ids[0], maps }
    }

    fn map(&self, name: &str) -> u32 {
        self.maps
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no map {name} in {:?}", self.maps))
            .1
    }

    /// Counter `index` (encapsulated, encapsulated bytes, decapsulated,
    /// decapsulated bytes, malformed, passed) summed over the CPUs.
    fn counter(&self, index: u32) -> u64 {
        bpf::percpu_sum(self.map("pmip_counters"), index).unwrap()
    }

    fn has(&self, map: &str, home: Ipv4Addr) -> bool {
        bpf::has_key(self.map(map), &home.octets()).unwrap()
    }
}

const ENCAPSULATED: u32 = 0;
const DECAPSULATED: u32 = 2;
const MALFORMED: u32 = 4;

/// One tunnel mode end to end; false when skipped.
fn through_the_fast_path(tag: &str, flags: RequestFlags) -> bool {
    let mut c = campus(tag);
    let (ha_ctl, ha_pid) = common::start(&mut c.ha, &format!("{tag}-ha"), HA_CONFIG);
    let (fa_ctl, fa_pid) = common::start(&mut c.fa, &format!("{tag}-fa"), FA_CONFIG);
    let logs: Vec<PathBuf> = ["ha", "fa"]
        .iter()
        .map(|d| common::temp(&format!("{tag}-{d}.log")))
        .collect();
    assert_eq!(register(&c.mn, 300, flags), ReplyCode::Accepted);
    // The fast path loads with the first binding (visitor).
    for log in &logs {
        if let Err(reason) = fast_path_on(log) {
            if refused(&reason) {
                println!("skipped: the kernel refuses BPF programs here: {reason}");
                return false;
            }
            panic!("the fast path did not load: {reason}");
        }
    }
    let ha = Program::of(&c.ha, "FastEthernet0");
    let fa = Program::of(&c.fa, "FastEthernet0");
    // One program per daemon, on every routed interface.
    assert_eq!(Program::of(&c.ha, "eth1").id, ha.id);
    assert_eq!(Program::of(&c.fa, "eth1").id, fa.id);
    assert!(ha.has("pmip_bindings", HOME), "{flags:?}");
    assert!(fa.has("pmip_visitors", HOME), "{flags:?}");

    let (ha0, fa0) = (ha.counter(ENCAPSULATED), fa.counter(DECAPSULATED));
    let (fa_rev0, ha_rev0) = (fa.counter(ENCAPSULATED), ha.counter(DECAPSULATED));
    assert!(ping(&c, "3"), "{flags:?}: ping through the fast path");
    assert_eq!(tcp_transfer(&c, 8 << 20), 8 << 20, "{flags:?}");
    let moved = |p: &Program, i: u32, before: u64| p.counter(i) - before;
    // Three echo requests and thousands of TCP segments each way.
    assert!(moved(&ha, ENCAPSULATED, ha0) >= 1000, "{flags:?}");
    assert!(moved(&fa, DECAPSULATED, fa0) >= 1000, "{flags:?}");
    if flags.reverse_tunnel {
        // The echo replies and the ACKs came back through the reverse
        // tunnel (RFC 3024).
        assert!(moved(&fa, ENCAPSULATED, fa_rev0) >= 3, "{flags:?}");
        assert!(moved(&ha, DECAPSULATED, ha_rev0) >= 3, "{flags:?}");
    } else {
        assert_eq!(moved(&fa, ENCAPSULATED, fa_rev0), 0, "{flags:?}");
        assert_eq!(moved(&ha, DECAPSULATED, ha_rev0), 0, "{flags:?}");
    }
    assert_eq!(ha.counter(MALFORMED) + fa.counter(MALFORMED), 0);
    // The fast path's counters are in `show ip mobile traffic` too (folded
    // in four times a second).
    let start = Instant::now();
    loop {
        let traffic = common::exec_ok(&ha_ctl, &["show", "ip", "mobile", "traffic"]);
        let encapsulated: u64 = traffic
            .split("Encapsulated ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if encapsulated >= 1000 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "{traffic}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Deregistration: both map entries go and nothing reaches the mobile
    // node any more.
    assert_eq!(register(&c.mn, 0, flags), ReplyCode::Accepted);
    assert!(common::exec_ok(&fa_ctl, &["show", "ip", "mobile", "visitor"]).contains("Total 0"));
    let start = Instant::now();
    while ha.has("pmip_bindings", HOME) || fa.has("pmip_visitors", HOME) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "map entries left after deregistration"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = ha.counter(ENCAPSULATED);
    assert!(!ping(&c, "2"), "{flags:?}: reachable after deregistration");
    assert_eq!(ha.counter(ENCAPSULATED), before);

    // A clean exit at the home agent, kill -9 at the foreign agent: no
    // program is left on any interface, and the programs are gone.
    common::stop(ha_pid, libc::SIGTERM);
    common::stop(fa_pid, libc::SIGKILL);
    let devs = ["FastEthernet0", "eth1"];
    let start = Instant::now();
    loop {
        let left: Vec<_> = attached(&c.ha, &devs)
            .into_iter()
            .chain(attached(&c.fa, &devs))
            .collect();
        if left.is_empty() && !bpf::prog_exists(ha.id) && !bpf::prog_exists(fa.id) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "left attached after the daemons exited: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(&logs[0]).unwrap();
    assert!(log.contains("eBPF fast path detached"), "{log}");
    true
}

#[test]
fn ip_in_ip_through_the_fast_path() {
    through_the_fast_path("fpi", RequestFlags::default());
}

#[test]
fn gre_through_the_fast_path() {
    through_the_fast_path(
        "fpg",
        RequestFlags {
            gre: true,
            ..Default::default()
        },
    );
}

#[test]
fn reverse_tunnel_ip_in_ip_through_the_fast_path() {
    through_the_fast_path(
        "fpr",
        RequestFlags {
            reverse_tunnel: true,
            ..Default::default()
        },
    );
}

#[test]
fn reverse_tunnel_gre_through_the_fast_path() {
    through_the_fast_path(
        "fprg",
        RequestFlags {
            reverse_tunnel: true,
            gre: true,
            ..Default::default()
        },
    );
}

/// `pmip run --no-fastpath`: no program anywhere, and the user-space
/// path still carries the tunnel, ping and TCP.
#[test]
fn no_fastpath_keeps_the_user_space_path() {
    let mut c = campus("fpn");
    let mut daemons = Vec::new();
    for (ns, name, config) in [
        (&mut c.ha, "fpn-ha", HA_CONFIG),
        (&mut c.fa, "fpn-fa", FA_CONFIG),
    ] {
        let cfg = common::temp(&format!("{name}.cfg"));
        std::fs::write(&cfg, config).unwrap();
        let control = common::temp(&format!("{name}.sock"));
        let log = common::temp(&format!("{name}.log"));
        ns.spawn(
            common::PMIP,
            &[
                "run",
                cfg.to_str().unwrap(),
                "--control",
                control.to_str().unwrap(),
                "--no-fastpath",
            ],
            std::process::Stdio::null(),
            std::fs::File::create(&log).unwrap().into(),
        )
        .unwrap();
        common::wait_for(&control, &log);
        daemons.push(log);
    }
    assert_eq!(
        register(
            &c.mn,
            300,
            RequestFlags {
                reverse_tunnel: true,
                ..Default::default()
            }
        ),
        ReplyCode::Accepted
    );
    for log in &daemons {
        let reason = fast_path_on(log).expect_err("the fast path is off");
        assert!(reason.contains("PMIP_FASTPATH=off"), "{reason}");
    }
    assert!(ping(&c, "3"), "user-space tunnel");
    // TCP through the user-space path: the home agent's TUN device takes
    // the correspondent's 64 KiB packets whole and the daemon cuts them
    // into segments; a wrong checksum or sequence number would stall it.
    assert_eq!(tcp_transfer(&c, 8 << 20), 8 << 20, "user-space tunnel TCP");
    let devs = ["FastEthernet0", "eth1"];
    assert!(attached(&c.ha, &devs).is_empty());
    assert!(attached(&c.fa, &devs).is_empty());
}

/// Just enough of the bpf(2) system call to look at what a daemon
/// attached (this test process loads nothing).
mod bpf {
    use std::io;

    const MAP_LOOKUP_ELEM: i32 = 1;
    const PROG_GET_FD_BY_ID: i32 = 13;
    const MAP_GET_FD_BY_ID: i32 = 14;
    const OBJ_GET_INFO_BY_FD: i32 = 15;
    const PROG_QUERY: i32 = 16;
    const TCX_INGRESS: u32 = 46;

    /// union bpf_attr, as words; every command here fits.
    type Attr = [u64; 16];

    fn call(cmd: i32, attr: &mut Attr) -> io::Result<i64> {
        // SAFETY: bpf(2) with an attribute buffer larger than any of the
        // commands used reads, zeroed where not set.
        let r = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                cmd,
                attr.as_mut_ptr(),
                std::mem::size_of::<Attr>(),
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }

    fn set32(attr: &mut Attr, offset: usize, v: u32) {
        let w = &mut attr[offset / 8];
        let shift = (offset % 8) * 8;
        *w = (*w & !(0xffff_ffffu64 << shift)) | (u64::from(v) << shift);
    }

    fn get32(attr: &Attr, offset: usize) -> u32 {
        (attr[offset / 8] >> ((offset % 8) * 8)) as u32
    }

    struct Fd(i32);
    impl Drop for Fd {
        fn drop(&mut self) {
            // SAFETY: a descriptor bpf(2) returned to us.
            unsafe { libc::close(self.0) };
        }
    }

    /// Program ids attached at tcx ingress of `dev` (in the calling
    /// thread's namespace); none when the kernel has no tcx.
    pub fn tcx_ingress(dev: &str) -> Vec<u32> {
        let name = std::ffi::CString::new(dev).unwrap();
        // SAFETY: a NUL-terminated name.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert!(ifindex != 0, "no interface {dev}");
        let mut ids = [0u32; 16];
        let mut attr: Attr = [0; 16];
        set32(&mut attr, 0, ifindex);
        set32(&mut attr, 4, TCX_INGRESS);
        attr[2] = ids.as_mut_ptr() as u64;
        set32(&mut attr, 24, ids.len() as u32);
        match call(PROG_QUERY, &mut attr) {
            Ok(_) => ids[..get32(&attr, 24) as usize].to_vec(),
            Err(_) => Vec::new(),
        }
    }

    fn prog_fd(id: u32) -> io::Result<Fd> {
        let mut attr: Attr = [0; 16];
        set32(&mut attr, 0, id);
        call(PROG_GET_FD_BY_ID, &mut attr).map(|fd| Fd(fd as i32))
    }

    pub fn prog_exists(id: u32) -> bool {
        prog_fd(id).is_ok()
    }

    /// The maps of program `id`, with their names.
    pub fn prog_maps(id: u32) -> io::Result<Vec<(String, u32)>> {
        let fd = prog_fd(id)?;
        let mut ids = [0u32; 16];
        // struct bpf_prog_info, in 32-bit words: nr_map_ids at offset
        // 52, the map_ids pointer at 56.
        let mut info = [0u32; 64];
        info[13] = ids.len() as u32;
        let ptr = (ids.as_mut_ptr() as u64).to_ne_bytes();
        info[14] = u32::from_ne_bytes(ptr[..4].try_into().unwrap());
        info[15] = u32::from_ne_bytes(ptr[4..].try_into().unwrap());
        obj_info(&fd, &mut info)?;
        let mut maps = Vec::new();
        for &map in &ids[..(info[13] as usize).min(ids.len())] {
            // struct bpf_map_info: the name at offset 24, 16 bytes.
            let mut minfo = [0u32; 64];
            obj_info(&map_fd(map)?, &mut minfo)?;
            let bytes: Vec<u8> = minfo[6..10].iter().flat_map(|w| w.to_ne_bytes()).collect();
            let name = String::from_utf8_lossy(&bytes)
                .trim_end_matches('\0')
                .to_owned();
            maps.push((name, map));
        }
        Ok(maps)
    }

    fn obj_info(fd: &Fd, info: &mut [u32; 64]) -> io::Result<()> {
        let mut attr: Attr = [0; 16];
        set32(&mut attr, 0, fd.0 as u32);
        set32(&mut attr, 4, std::mem::size_of_val(info) as u32);
        attr[1] = info.as_mut_ptr() as u64;
        call(OBJ_GET_INFO_BY_FD, &mut attr).map(drop)
    }

    fn map_fd(id: u32) -> io::Result<Fd> {
        let mut attr: Attr = [0; 16];
        set32(&mut attr, 0, id);
        call(MAP_GET_FD_BY_ID, &mut attr).map(|fd| Fd(fd as i32))
    }

    fn lookup(map: u32, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
        let fd = map_fd(map)?;
        let mut attr: Attr = [0; 16];
        set32(&mut attr, 0, fd.0 as u32);
        attr[1] = key.as_ptr() as u64;
        attr[2] = value.as_mut_ptr() as u64;
        match call(MAP_LOOKUP_ELEM, &mut attr) {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Whether hash map `map` holds `key` (values up to 64 bytes).
    pub fn has_key(map: u32, key: &[u8]) -> io::Result<bool> {
        lookup(map, key, &mut [0u8; 64])
    }

    /// The CPUs the kernel may run on: per-CPU values come one for each.
    fn possible_cpus() -> usize {
        let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
        text.trim()
            .split(',')
            .map(|r| match r.split_once('-') {
                Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
                None => 1,
            })
            .sum()
    }

    /// Entry `index` of a per-CPU array of u64, summed over the CPUs.
    pub fn percpu_sum(map: u32, index: u32) -> io::Result<u64> {
        let mut values = vec![0u8; 8 * possible_cpus()];
        lookup(map, &index.to_ne_bytes(), &mut values)?;
        Ok(values
            .chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
            .sum())
    }
}
