//! A stock FreeRADIUS in a network namespace, for the tests and the
//! benchmark: a complete minimal configuration written to a temporary
//! directory, `freeradius -f -d DIR` started inside a namespace of its
//! own, and a second namespace for the client joined to it by a veth.
//! Everything (process, namespaces, directory) goes when the guard drops.
//! Nothing runs or listens in the root namespace.

#![allow(dead_code)] // each user takes what it needs

use core::net::{Ipv4Addr, SocketAddrV4};
use pmip_netns::{Netns, unique_name};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

pub const BINARY: &str = pmip_radius::freeradius::BINARY;
pub const SECRET: &str = "pmip-shared-secret";
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 2);
/// Where FreeRADIUS listens.
pub const SERVER: SocketAddrV4 = SocketAddrV4::new(SERVER_IP, 1812);
/// Same host, nothing listening: a dead server.
pub const DEAD_SERVER: SocketAddrV4 = SocketAddrV4::new(SERVER_IP, 1813);

/// Mobile nodes the users file knows.
pub const MN_HMAC: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 50);
pub const MN_KEYED_MD5: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 51);
pub const MN_NO_SA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 60);
pub const MN_BAD_SA: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 61);
pub const MN_REJECTED: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 66);
pub const MN_UNKNOWN: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 99);

pub fn installed() -> bool {
    Path::new(BINARY).exists()
}

/// Fails (never skips) when FreeRADIUS is missing.
pub fn require_installed() {
    assert!(
        installed(),
        "{BINARY} is missing: install FreeRADIUS with scripts/deps (or apt-get install -y freeradius)"
    );
}

/// `radiusd.conf`: the crate's own minimal configuration, answering the
/// client namespace only.
pub fn radiusd_conf(dir: &Path) -> String {
    pmip_radius::freeradius::radiusd_conf(dir, SERVER, &format!("{CLIENT_IP}/32"), SECRET)
}

/// The users file: the password IOS sends (`cisco`) and the SA as a
/// Cisco-AVPair reply item.
pub fn users() -> String {
    format!(
        r#"{MN_HMAC} Cleartext-Password := "cisco"
        Cisco-AVPair = "mobileip:spi#0=spi 256 key hex 00112233445566778899aabbccddeeff algorithm hmac-md5 replay timestamp within 7"

{MN_KEYED_MD5} Cleartext-Password := "cisco"
        Cisco-AVPair = "mobileip:spi#0=spi 100 key ascii mn-key-51 algorithm md5 mode prefix-suffix replay timestamp within 10"

{MN_NO_SA} Cleartext-Password := "cisco"
        Reply-Message = "accepted, but no SA here"

{MN_BAD_SA} Cleartext-Password := "cisco"
        Cisco-AVPair = "mobileip:spi#0=spi 100 key hex 0011zz algorithm hmac-md5"

{MN_REJECTED} Auth-Type := Reject
        Reply-Message = "not a mobile node"

DEFAULT Auth-Type := Reject
"#
    )
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("pmip-radius-{tag}"));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// FreeRADIUS in namespace `server`, reachable over a veth from namespace
/// `client`.
pub struct Lab {
    // Field order is drop order: namespaces (and the server in one) first.
    pub server: Netns,
    pub client: Netns,
    pub dir: TempDir,
}

impl Lab {
    pub fn start() -> Lab {
        Lab::start_with_users("")
    }

    /// Like [`Lab::start`] with `extra` entries at the head of the users
    /// file (the benchmark's many mobile nodes).
    pub fn start_with_users(extra: &str) -> Lab {
        require_installed();
        let server_name = unique_name("pmipt-rs");
        let mut server = Netns::new(&server_name).unwrap();
        let client = Netns::new(&unique_name("pmipt-rc")).unwrap();
        server.veth_to("rs0", &client, "rc0").unwrap();
        server.addr("rs0", &format!("{SERVER_IP}/24")).unwrap();
        client.addr("rc0", &format!("{CLIENT_IP}/24")).unwrap();

        let dir = TempDir::new(&server_name);
        std::fs::write(dir.0.join("radiusd.conf"), radiusd_conf(&dir.0)).unwrap();
        std::fs::write(dir.0.join("users"), format!("{extra}{}", users())).unwrap();
        let log_path = dir.0.join("freeradius.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let dir_arg = dir.0.display().to_string();
        server
            .spawn(
                BINARY,
                &["-f", "-d", &dir_arg, "-l", "stdout"],
                Stdio::from(log.try_clone().unwrap()),
                Stdio::from(log),
            )
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if text.contains("Ready to process requests") {
                break;
            }
            if text.contains("Exiting") || text.contains("Failed") || Instant::now() > deadline {
                panic!("FreeRADIUS did not start:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Lab {
            server,
            client,
            dir,
        }
    }

    /// What FreeRADIUS has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("freeradius.log")).unwrap_or_default()
    }

    /// Runs `f` on a tokio runtime on a thread inside the client
    /// namespace (sockets it opens live there).
    pub fn in_client<R, F, Fut>(&self, f: F) -> R
    where
        R: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = R>,
    {
        self.client
            .run(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(f())
            })
            .unwrap()
    }
}
