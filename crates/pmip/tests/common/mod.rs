//! What the daemon tests share: running `pmip run` in a namespace,
//! asking it EXEC commands, and a test mobile node's registration.

#![allow(dead_code)]

use pmip_netns::Netns;
use pmip_wire::auth::Algorithm;
use pmip_wire::extension::{self, Extensions, kind};
use pmip_wire::identification::Identification;
use pmip_wire::registration::{ReplyCode, ReplyPacket, ReplyRepr, RequestFlags, RequestRepr};
use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const PMIP: &str = env!("CARGO_BIN_EXE_pmip");

/// The key of `ip mobile secure host ... key hex 0011...eeff`.
pub const KEY: [u8; 16] = [
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
];

static TEMP_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Removes the test process's temporary directory when it exits.
extern "C" fn remove_temp_dir() {
    if let Some(d) = TEMP_DIR.get() {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// A path in this test process's own temporary directory, which is
/// removed when the process exits (tests leave /tmp as they found it).
pub fn temp(name: &str) -> PathBuf {
    TEMP_DIR
        .get_or_init(|| {
            let d = std::env::temp_dir().join(format!("pmip-test-{}", std::process::id()));
            std::fs::create_dir_all(&d).expect("temporary directory");
            // SAFETY: registers a plain function to run at exit.
            unsafe { libc::atexit(remove_temp_dir) };
            d
        })
        .join(name)
}

/// `pmip exec`: success, stdout, stderr.
pub fn exec(control: &Path, words: &[&str]) -> (bool, String, String) {
    let out = Command::new(PMIP)
        .arg("exec")
        .arg("--control")
        .arg(control)
        .args(words)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `pmip exec` that must succeed; its output.
pub fn exec_ok(control: &Path, words: &[&str]) -> String {
    let (ok, out, err) = exec(control, words);
    assert!(ok, "pmip exec {}: {err}", words.join(" "));
    out
}

/// Waits until the daemon opens its control socket (it is ready then).
pub fn wait_for(control: &Path, log: &Path) {
    let start = Instant::now();
    while !control.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "daemon did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `signal` to the daemon `pid` and waits until it is gone.
pub fn stop(pid: u32, signal: i32) {
    // SAFETY: a signal to the daemon this test started.
    unsafe { libc::kill(pid as i32, signal) };
    let t = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists()
        && t.elapsed() < Duration::from_secs(10)
    {
        // Reap it if it is our child (it is the namespace's).
        std::thread::sleep(Duration::from_millis(20));
        let mut status = 0;
        // SAFETY: waitpid on a pid we spawned; WNOHANG never blocks.
        unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) };
    }
}

/// Waits until a daemon answers on `control` (after kill -9 the old
/// socket file is there until the new daemon replaces it).
pub fn wait_answering(control: &Path) {
    let t = Instant::now();
    while !exec(control, &["show", "version"]).0 {
        assert!(t.elapsed() < Duration::from_secs(10), "no daemon answers");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `pmip run` with `config` in `ns`; returns the control socket
/// path and the daemon's pid once it is ready.
pub fn start(ns: &mut Netns, name: &str, config: &str) -> (PathBuf, u32) {
    let cfg = temp(&format!("{name}.cfg"));
    std::fs::write(&cfg, config).unwrap();
    start_file(ns, name, &cfg)
}

/// Runs `pmip run` on the configuration file `cfg` as it is (a device
/// restarted from what it saved).
pub fn start_file(ns: &mut Netns, name: &str, cfg: &Path) -> (PathBuf, u32) {
    let control = temp(&format!("{name}.sock"));
    let log = temp(&format!("{name}.log"));
    let pid = ns
        .spawn(
            PMIP,
            &[
                "run",
                cfg.to_str().unwrap(),
                "--control",
                control.to_str().unwrap(),
            ],
            Stdio::null(),
            std::fs::File::create(&log).unwrap().into(),
        )
        .unwrap();
    wait_for(&control, &log);
    (control, pid)
}

/// A registration request signed with `KEY` (HMAC-MD5, SPI 0x100), with
/// the time of day as identification.
pub fn request(
    home: Ipv4Addr,
    ha: Ipv4Addr,
    coa: Ipv4Addr,
    lifetime: u16,
    flags: RequestFlags,
) -> Vec<u8> {
    request_signed(home, ha, coa, lifetime, flags, &KEY)
}

/// The same request signed with `key` instead.
pub fn request_signed(
    home: Ipv4Addr,
    ha: Ipv4Addr,
    coa: Ipv4Addr,
    lifetime: u16,
    flags: RequestFlags,
    key: &[u8],
) -> Vec<u8> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let mut msg = RequestRepr {
        flags,
        lifetime,
        home_address: home,
        home_agent: ha,
        care_of_address: coa,
        identification: Identification::from_unix(now),
        extensions: Extensions::new(),
    }
    .to_vec();
    extension::append_authentication(
        &mut msg,
        kind::MOBILE_HOME_AUTH,
        0x100,
        Algorithm::HmacMd5,
        key,
    );
    msg
}

/// Sends `msg` from `src:434` to `to:434` and returns the reply's code,
/// checking it comes from `to` and, for home agent codes, that its MHAE
/// verifies.
pub fn ask(src: Ipv4Addr, to: Ipv4Addr, msg: &[u8]) -> ReplyCode {
    let s = UdpSocket::bind((src, 434)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(msg, (to, 434)).unwrap();
    let mut buf = [0u8; 512];
    let (n, from) = s.recv_from(&mut buf).expect("a registration reply");
    assert_eq!(from.ip(), std::net::IpAddr::V4(to));
    let r = ReplyRepr::parse(&ReplyPacket::new_checked(&buf[..n]).unwrap()).unwrap();
    if r.code.is_accepted() {
        let at = pmip_wire::registration::find_extension(
            &buf[..n],
            pmip_wire::registration::REPLY_LEN,
            kind::MOBILE_HOME_AUTH,
        )
        .expect("an accepting reply carries an MHAE");
        assert!(extension::verify_authentication(
            &buf[..n],
            at,
            Algorithm::HmacMd5,
            &KEY
        ));
    }
    r.code
}

/// The MAC address of `dev` in `ns`, as text.
pub fn mac(ns: &Netns, dev: &str) -> String {
    String::from_utf8(
        ns.exec_ok("cat", &[&format!("/sys/class/net/{dev}/address")])
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_owned()
}
