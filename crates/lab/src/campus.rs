//! Building and tearing down the campus: namespaces, links, the core
//! router and correspondent (plain Linux), the `pmip` daemons, and the
//! clients' radio ports (docs/radio.md).
//!
//! Everything the lab makes lives in namespaces named `pmiplab-NAME-*`;
//! the root namespace's addresses and routes are never touched, and
//! `down` needs nothing but those names, so it also cleans a lab that a
//! crash left half-built.

use crate::configs;
use crate::topology::{ClientKind, Topology};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub type Error = String;

/// The directory `pmip lab up` writes to when given none.
pub const DEFAULT_DIR: &str = "/tmp/pmip-lab";

fn run(cmd: &mut Command) -> Result<Output, Error> {
    let what = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ip(args: &[&str]) -> Result<Output, Error> {
    run(Command::new("ip").args(args))
}

/// `ip -n NS ARGS`.
fn ipn(ns: &str, args: &[&str]) -> Result<Output, Error> {
    let mut full = vec!["-n", ns];
    full.extend_from_slice(args);
    ip(&full)
}

fn sysctl(ns: &str, kv: &str) -> Result<(), Error> {
    run(Command::new("ip").args(["netns", "exec", ns, "sysctl", "-q", "-w", kv])).map(drop)
}

/// A lab on disk: its directory and the topology in it.
#[derive(Debug, Clone)]
pub struct Lab {
    pub dir: PathBuf,
    pub topology: Topology,
}

impl Lab {
    /// The lab whose topology is in `dir` (after `pmip lab up`).
    pub fn open(dir: &Path) -> Result<Lab, Error> {
        let path = dir.join("topology");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "no lab in {} ({}: {e}); run `pmip lab up` first",
                dir.display(),
                path.display()
            )
        })?;
        let topology = Topology::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Lab {
            dir: dir.to_owned(),
            topology,
        })
    }

    /// The namespace of a device or client (`core`, `cn`, `r1`, `ap1`, `c1`).
    pub fn ns(&self, device: &str) -> String {
        format!("{}{device}", self.topology.prefix())
    }

    pub fn control(&self, device: &str) -> PathBuf {
        self.dir.join(format!("{device}.sock"))
    }

    pub fn log(&self, device: &str) -> PathBuf {
        self.dir.join(format!("{device}.log"))
    }

    /// The `pmip` devices: every router and every AP.
    pub fn devices(&self) -> Vec<String> {
        let mut v = Vec::new();
        for s in &self.topology.subnets {
            v.push(s.router());
            v.push(s.ap());
        }
        v
    }

    /// Runs one EXEC command on a device through its control socket.
    pub fn exec(&self, device: &str, words: &[&str], json: bool) -> Result<String, Error> {
        let req = pmip_device::control::Request {
            words: words.iter().map(|w| (*w).to_owned()).collect(),
            json,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let path = self.control(device);
        match rt.block_on(pmip_device::control::call(&path, &req)) {
            Ok(r) if r.ok => Ok(r.output.unwrap_or_default()),
            Ok(r) => Err(format!(
                "{device}: {}: {}",
                words.join(" "),
                r.error.unwrap_or_default()
            )),
            Err(e) => Err(format!("{device}: {e}")),
        }
    }

    pub fn exec_json(&self, device: &str, words: &[&str]) -> Result<serde_json::Value, Error> {
        let text = self.exec(device, words, true)?;
        serde_json::from_str(&text).map_err(|e| format!("{device}: {}: {e}", words.join(" ")))
    }

    /// Which AP the client's radio port is on now, if any.
    pub fn associated_ap(&self, client: &str) -> Option<String> {
        self.topology
            .subnets
            .iter()
            .map(|s| s.ap())
            .find(|ap| ipn(&self.ns(ap), &["link", "show", "dev", client]).is_ok())
    }
}

/// Writes the topology and the devices' configurations into `dir`.
/// With `keep_configs`, a configuration file already there (edited by the
/// user) is used as it is.
pub fn write_files(dir: &Path, t: &Topology, keep_configs: bool) -> Result<Lab, Error> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let write = |name: &str, text: &str, keep: bool| -> Result<(), Error> {
        let p = dir.join(name);
        if keep && p.exists() {
            return Ok(());
        }
        std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))
    };
    write("topology", &t.to_text(), false)?;
    // A new campus: nothing a device kept from an earlier one (a binding
    // for a client that was away when that campus went down) may come
    // back into it.
    for s in &t.subnets {
        remove_state(dir, &s.router());
        remove_state(dir, &s.ap());
    }
    for (k, s) in t.subnets.iter().enumerate() {
        write(
            &format!("{}.cfg", s.router()),
            &configs::router(t, k, s),
            keep_configs,
        )?;
        write(
            &format!("{}.cfg", s.ap()),
            &configs::access_point(t, s),
            keep_configs,
        )?;
    }
    Ok(Lab {
        dir: dir.to_owned(),
        topology: t.clone(),
    })
}

/// Builds the campus and starts its devices; on failure tears down what
/// it built. Each client starts associated with its home AP.
pub fn up(lab: &Lab, pmip: &Path) -> Result<(), Error> {
    // A lab of the same name left by a crash goes first.
    down_prefix(&lab.topology.prefix());
    build(lab, pmip).inspect_err(|_| {
        down_prefix(&lab.topology.prefix());
    })
}

fn build(lab: &Lab, pmip: &Path) -> Result<(), Error> {
    let t = &lab.topology;
    let add = |dev: &str| -> Result<String, Error> {
        let ns = lab.ns(dev);
        ip(&["netns", "add", &ns])?;
        ipn(&ns, &["link", "set", "lo", "up"])?;
        Ok(ns)
    };
    let veth = |a_ns: &str, a: &str, b_ns: &str, b: &str| -> Result<(), Error> {
        ip(&[
            "link", "add", a, "netns", a_ns, "type", "veth", "peer", "name", b, "netns", b_ns,
        ])?;
        ipn(a_ns, &["link", "set", a, "up"])?;
        ipn(b_ns, &["link", "set", b, "up"])?;
        Ok(())
    };
    // The core router and the correspondent: plain Linux.
    let core = add("core")?;
    let cn = add("cn")?;
    sysctl(&core, "net.ipv4.ip_forward=1")?;
    veth(&core, "cn", &cn, "eth0")?;
    let cn_gw = std::net::Ipv4Addr::from(
        u32::from(t.correspondent) & (u32::MAX << (32 - t.correspondent_prefix_len)) | 1,
    );
    ipn(
        &core,
        &[
            "addr",
            "add",
            &format!("{cn_gw}/{}", t.correspondent_prefix_len),
            "dev",
            "cn",
        ],
    )?;
    ipn(
        &cn,
        &[
            "addr",
            "add",
            &format!("{}/{}", t.correspondent, t.correspondent_prefix_len),
            "dev",
            "eth0",
        ],
    )?;
    ipn(&cn, &["route", "add", "default", "via", &cn_gw.to_string()])?;
    for (k, s) in t.subnets.iter().enumerate() {
        let r = add(&s.router())?;
        let ap = add(&s.ap())?;
        sysctl(&r, "net.ipv4.ip_forward=1")?;
        let (core_end, _) = configs::core_link(k);
        veth(&core, &s.router(), &r, "eth0")?;
        ipn(
            &core,
            &["addr", "add", &format!("{core_end}/30"), "dev", &s.router()],
        )?;
        let (_, router_end) = configs::core_link(k);
        ipn(
            &core,
            &[
                "route",
                "add",
                &format!("{}/{}", s.network, s.prefix_len),
                "via",
                &router_end.to_string(),
            ],
        )?;
        veth(&r, "FastEthernet0", &ap, "FastEthernet0")?;
    }
    // Clients: their own namespace, a static address and gateway, and a
    // radio port (the veth peer, named after the client) on the home AP.
    for c in &t.clients {
        let home = t
            .subnet(c.home)
            .ok_or_else(|| format!("client {}: no subnet {}", c.name, c.home))?;
        let ns = add(&c.name)?;
        ip(&[
            "link",
            "add",
            "wlan0",
            "netns",
            &ns,
            "type",
            "veth",
            "peer",
            "name",
            &c.name,
            "netns",
            &lab.ns(&home.ap()),
        ])?;
        ipn(&ns, &["link", "set", "wlan0", "up"])?;
        if c.kind != ClientKind::Dhcp {
            ipn(
                &ns,
                &[
                    "addr",
                    "add",
                    &format!("{}/{}", c.address, home.prefix_len),
                    "dev",
                    "wlan0",
                ],
            )?;
            ipn(
                &ns,
                &[
                    "route",
                    "add",
                    "default",
                    "via",
                    &home.router_address().to_string(),
                ],
            )?;
        }
    }
    if t.radius {
        start_radius(lab, &core)?;
    }
    // The devices.
    for s in &t.subnets {
        start_device(lab, pmip, &s.router())?;
    }
    for s in &t.subnets {
        start_device(lab, pmip, &s.ap())?;
    }
    for c in &t.clients {
        let home = t.subnet(c.home).expect("checked above");
        attach(lab, &c.name, &home.ap())?;
    }
    Ok(())
}

/// A stock FreeRADIUS behind the core router (`aaa radius`): its own
/// namespace, a configuration written into the lab directory, every
/// client's SA in its users file.
fn start_radius(lab: &Lab, core: &str) -> Result<(), Error> {
    use pmip_radius::freeradius::BINARY;
    if !Path::new(BINARY).exists() {
        return Err(format!(
            "`aaa radius` needs FreeRADIUS ({BINARY}): run scripts/deps or apt-get install freeradius"
        ));
    }
    let ns = lab.ns("radius");
    ip(&["netns", "add", &ns])?;
    ipn(&ns, &["link", "set", "lo", "up"])?;
    ip(&[
        "link", "add", "radius", "netns", core, "type", "veth", "peer", "name", "eth0", "netns",
        &ns,
    ])?;
    ipn(core, &["link", "set", "radius", "up"])?;
    ipn(&ns, &["link", "set", "eth0", "up"])?;
    ipn(
        core,
        &[
            "addr",
            "add",
            &format!("{}/24", configs::RADIUS_CORE),
            "dev",
            "radius",
        ],
    )?;
    ipn(
        &ns,
        &[
            "addr",
            "add",
            &format!("{}/24", configs::RADIUS_SERVER),
            "dev",
            "eth0",
        ],
    )?;
    ipn(
        &ns,
        &[
            "route",
            "add",
            "default",
            "via",
            &configs::RADIUS_CORE.to_string(),
        ],
    )?;
    let dir = lab.dir.join("radius");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let conf = pmip_radius::freeradius::radiusd_conf(
        &dir,
        std::net::SocketAddrV4::new(configs::RADIUS_SERVER, 1812),
        "0.0.0.0/0",
        configs::RADIUS_SECRET,
    );
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{}: {e}", dir.display()))
    };
    write("radiusd.conf", &conf)?;
    write("users", &configs::radius_users(&lab.topology))?;
    let log_path = lab.log("radius");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    use std::os::unix::process::CommandExt;
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns, BINARY, "-f", "-l", "stdout", "-d"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("freeradius: {e}"))?;
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains(pmip_radius::freeradius::READY) {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("FreeRADIUS exited ({status}):\n{text}"));
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            return Err(format!("FreeRADIUS did not start within 20 s:\n{text}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `pmip lab stop DEVICE`: stops one device's daemon (SIGTERM, so it
/// removes what it installed), leaving its namespace and links.
pub fn stop(lab: &Lab, device: &str) -> Result<(), Error> {
    signal_device(lab, device, libc::SIGTERM)
}

/// `pmip lab stop --kill DEVICE`: kills one device's daemon (SIGKILL: a
/// crash; what it installed stays for the restarted daemon to find).
pub fn kill(lab: &Lab, device: &str) -> Result<(), Error> {
    signal_device(lab, device, libc::SIGKILL)
}

fn signal_device(lab: &Lab, device: &str, signal: i32) -> Result<(), Error> {
    if !lab.devices().iter().any(|d| d == device) {
        return Err(format!(
            "no device {device} in the lab ({})",
            lab.devices().join(", ")
        ));
    }
    let pids: Vec<i32> = ip(&["netns", "pids", &lab.ns(device)])?
        .stdout
        .split(|b| b.is_ascii_whitespace())
        .filter_map(|p| std::str::from_utf8(p).ok()?.parse().ok())
        .collect();
    if pids.is_empty() {
        return Err(format!("{device} is not running"));
    }
    for pid in &pids {
        // SAFETY: plain kill(2) on a process in the lab's namespace.
        unsafe { libc::kill(*pid, signal) };
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        let left = ip(&["netns", "pids", &lab.ns(device)])
            .map(|o| !o.stdout.iter().all(u8::is_ascii_whitespace))
            .unwrap_or(false);
        if !left {
            let _ = std::fs::remove_file(lab.control(device));
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("{device} did not stop within 5 s"))
}

/// `pmip lab start DEVICE`: starts a stopped device again (a reboot).
pub fn start(lab: &Lab, pmip: &Path, device: &str) -> Result<(), Error> {
    if !lab.devices().iter().any(|d| d == device) {
        return Err(format!(
            "no device {device} in the lab ({})",
            lab.devices().join(", ")
        ));
    }
    if lab.exec(device, &["show", "version"], false).is_ok() {
        return Err(format!("{device} is running already"));
    }
    start_device(lab, pmip, device)
}

/// Starts `pmip run` for `device` in its namespace, detached (it outlives
/// `pmip lab up`), and waits for its control socket.
fn start_device(lab: &Lab, pmip: &Path, device: &str) -> Result<(), Error> {
    let control = lab.control(device);
    let _ = std::fs::remove_file(&control);
    let log = std::fs::File::create(lab.log(device)).map_err(|e| e.to_string())?;
    let cfg = lab.dir.join(format!("{device}.cfg"));
    use std::os::unix::process::CommandExt;
    let mut child = Command::new("ip")
        .args(["netns", "exec", &lab.ns(device)])
        .arg(pmip)
        .arg("run")
        .arg(&cfg)
        .arg("--control")
        .arg(&control)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        // Its own process group: a Ctrl-C at the terminal reaches the
        // lab command, which tears down in order.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("{device}: {e}"))?;
    let _ = std::fs::write(
        lab.dir.join(format!("{device}.pid")),
        child.id().to_string(),
    );
    let start = Instant::now();
    while !control.exists() {
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let log = std::fs::read_to_string(lab.log(device)).unwrap_or_default();
            return Err(format!(
                "{device} did not start within 15 s; its log ({}):\n{log}",
                lab.log(device).display()
            ));
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(lab.log(device)).unwrap_or_default();
            return Err(format!("{device} exited ({status}); its log:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Runs `f` with a netlink connection inside namespace `ns`.
fn netlink_in<R: Send + 'static>(
    ns: &str,
    f: impl AsyncFnOnce(&pmip_platform::netlink::Netlink) -> Result<R, String> + Send + 'static,
) -> Result<R, Error> {
    let ns_name = ns.to_owned();
    pmip_netns::thread_in(ns, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async move {
            let nl = pmip_platform::netlink::Netlink::new().map_err(|e| e.to_string())?;
            f(&nl).await
        })
    })
    .map_err(|e| format!("{ns_name}: {e}"))?
    .join()
    .map_err(|_| format!("{ns_name}: netlink thread panicked"))?
    .map_err(|e| format!("{ns_name}: {e}"))?
    .map_err(|e| format!("{ns_name}: {e}"))
}

/// Associates `client` with `ap`: its radio port moves to the AP's
/// namespace (if elsewhere) and joins BVI1 with the radio alias, in one
/// netlink request.
pub fn attach(lab: &Lab, client: &str, ap: &str) -> Result<(), Error> {
    let ap_ns = lab.ns(ap);
    let Some(old) = lab.associated_ap(client) else {
        return Err(format!("client {client}: its radio port is on no AP"));
    };
    let bridge = netlink_in(&ap_ns, async |nl| {
        nl.link_index("BVI1").await.map_err(|e| e.to_string())
    })?;
    let alias = format!("Dot11Radio0 ssid={}", lab.topology.ssid);
    let target = if old != ap {
        Some(
            std::fs::File::open(format!("/run/netns/{ap_ns}"))
                .map_err(|e| format!("{ap_ns}: {e}"))?,
        )
    } else {
        None
    };
    let port = client.to_owned();
    netlink_in(&lab.ns(&old), async move |nl| {
        use std::os::fd::AsRawFd;
        let index = nl.link_index(&port).await.map_err(|e| e.to_string())?;
        nl.move_and_attach(
            index,
            target.as_ref().map(|f| f.as_raw_fd()),
            bridge,
            &alias,
        )
        .await
        .map_err(|e| e.to_string())
    })
}

/// Roams `client` to `ap`; the time the move took.
pub fn roam(lab: &Lab, client: &str, ap: &str) -> Result<Duration, Error> {
    if lab.topology.client(client).is_none() {
        return Err(format!(
            "no client {client} in the lab (clients: {})",
            lab.topology
                .clients
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !lab.topology.subnets.iter().any(|s| s.ap() == ap) {
        return Err(format!(
            "no AP {ap} in the lab (APs: {})",
            lab.topology
                .subnets
                .iter()
                .map(|s| s.ap())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let t = Instant::now();
    attach(lab, client, ap)?;
    Ok(t.elapsed())
}

/// Kills every process in the lab's namespaces and deletes them; the
/// devices remove their own routes and addresses on SIGTERM, but the
/// namespaces going away takes everything with them in any case.
pub fn down(lab: &Lab) -> Vec<String> {
    let removed = down_prefix(&lab.topology.prefix());
    for d in lab.devices() {
        let _ = std::fs::remove_file(lab.control(&d));
        let _ = std::fs::remove_file(lab.dir.join(format!("{d}.pid")));
        remove_state(&lab.dir, &d);
    }
    removed
}

/// Removes what `device` kept across restarts in `dir` (its state
/// database, the database's log segments, one moved aside as corrupt):
/// `lab stop`/`lab start` keep it, a campus taken down does not.
fn remove_state(dir: &Path, device: &str) {
    let prefix = format!("{device}.state");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Tears down every namespace whose name starts with `prefix`; the names
/// removed.
pub fn down_prefix(prefix: &str) -> Vec<String> {
    let names = pmip_netns::list(prefix);
    let pids_of = |ns: &str| -> Vec<i32> {
        ip(&["netns", "pids", ns])
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    // SIGTERM first so the daemons close cleanly, then SIGKILL.
    let mut any = false;
    for ns in &names {
        for pid in pids_of(ns) {
            // SAFETY: plain kill(2) on a process in our lab's namespace.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            any = true;
        }
    }
    if any {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3)
            && names.iter().any(|ns| !pids_of(ns).is_empty())
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for ns in &names {
        for pid in pids_of(ns) {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = ip(&["netns", "del", ns]);
    }
    names
}

/// `pmip lab status`: the devices, where each client is, and the mobility
/// tables of the routers.
pub fn status(lab: &Lab) -> String {
    use std::fmt::Write as _;
    let t = &lab.topology;
    let mut s = String::new();
    let _ = writeln!(s, "lab {} in {}", t.name, lab.dir.display());
    let present = pmip_netns::list(&t.prefix());
    for d in lab.devices() {
        let state = if !present.contains(&lab.ns(&d)) {
            "no namespace".to_owned()
        } else {
            match lab.exec(&d, &["show", "version"], false) {
                Ok(_) => "running".to_owned(),
                Err(e) => format!("not answering ({e})"),
            }
        };
        let _ = writeln!(s, "  {d:<6} {state}");
    }
    for c in &t.clients {
        match lab.associated_ap(&c.name) {
            Some(ap) => {
                let what = lab
                    .exec_json(&ap, &["show", "ip", "proxy-mobile", "visitor"])
                    .ok()
                    .and_then(|v| {
                        v["visitors"].as_array()?.iter().find_map(|x| {
                            (x["address"].as_str() == Some(&c.address.to_string()))
                                .then(|| x["state"].as_str().unwrap_or("").to_owned())
                        })
                    })
                    .unwrap_or_else(|| "associated, not seen yet".into());
                let _ = writeln!(s, "  client {} ({}) on {ap}: {what}", c.name, c.address);
            }
            None => {
                let _ = writeln!(s, "  client {} ({}): not associated", c.name, c.address);
            }
        }
    }
    for n in &t.subnets {
        for words in [
            &["show", "ip", "mobile", "binding"][..],
            &["show", "ip", "mobile", "visitor"][..],
        ] {
            if let Ok(out) = lab.exec(&n.router(), words, false) {
                let _ = writeln!(s, "{} # {}", n.router(), words.join(" "));
                s.push_str(&out);
            }
        }
    }
    s
}
