//! `pmip run` and `pmip exec` as an operator uses them, in namespaces
//! the test creates: configuration applied to the Linux interfaces,
//! EXEC commands answered, bad lines refused with their number, and
//! everything removed when the daemon stops.

use pmip_netns::{Netns, unique_name};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{PMIP, exec, temp, wait_for};

#[test]
fn runs_a_router_config_and_cleans_up() {
    let mut r1 = Netns::new(&unique_name("pmipt-r1")).unwrap();
    let peer = Netns::new(&unique_name("pmipt-pe")).unwrap();
    r1.veth_to("eth1", &peer, "p1").unwrap();
    let cfg = temp("r1.cfg");
    std::fs::write(
        &cfg,
        "hostname r1\ninterface eth1\n ip address 10.9.0.1 255.255.255.0\nip route 10.8.0.0 255.255.0.0 10.9.0.2\n\
         ip mobile secure host 10.9.0.5 spi 100 key hex 00112233445566778899aabbccddeeff\n",
    )
    .unwrap();
    let control = temp("r1.sock");
    let pid = r1
        .spawn(
            PMIP,
            &[
                "run",
                cfg.to_str().unwrap(),
                "--control",
                control.to_str().unwrap(),
            ],
            Stdio::null(),
            Stdio::null(),
        )
        .unwrap();
    wait_for(&control, Path::new("/dev/null"));

    let addrs = String::from_utf8(r1.ip(&["-4", "addr", "show", "eth1"]).unwrap().stdout).unwrap();
    assert!(addrs.contains("10.9.0.1/24"), "{addrs}");
    let routes = String::from_utf8(r1.ip(&["route"]).unwrap().stdout).unwrap();
    assert!(routes.contains("10.8.0.0/16 via 10.9.0.2"), "{routes}");

    let (ok, out, _) = exec(&control, &["show", "running-config"]);
    assert!(ok);
    assert!(
        out.contains("interface eth1\n ip address 10.9.0.1 255.255.255.0"),
        "{out}"
    );
    assert!(
        !out.contains("00112233445566778899aabbccddeeff"),
        "keys masked: {out}"
    );
    let (_, out, _) = exec(&control, &["show", "running-config", "keys"]);
    assert!(
        out.contains("00112233445566778899aabbccddeeff"),
        "keys shown when asked"
    );
    let (_, out, _) = exec(&control, &["--json", "show", "running-config"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["running_config"]
            .as_str()
            .unwrap()
            .contains("hostname r1")
    );

    let (ok, _, _) = exec(&control, &["configure", "ip mobile bindupdate"]);
    assert!(ok);
    let (_, out, _) = exec(&control, &["show", "running-config"]);
    assert!(out.contains("ip mobile bindupdate"));
    let (ok, _, err) = exec(&control, &["configure", "ip mobile bogus"]);
    assert!(!ok);
    assert!(err.starts_with("pmip: line 1:"), "{err}");
    assert_eq!(err.lines().count(), 1, "one-line reason");
    let (ok, _, err) = exec(&control, &["show", "nonsense"]);
    assert!(!ok && err.contains("Invalid input"), "{err}");

    // SIGTERM: the daemon removes what it installed and its socket.
    // SAFETY: plain kill(2) of our child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let start = Instant::now();
    while control.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "daemon did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let addrs = String::from_utf8(r1.ip(&["-4", "addr", "show", "eth1"]).unwrap().stdout).unwrap();
    assert!(!addrs.contains("10.9.0.1"), "address removed: {addrs}");
    let routes = String::from_utf8(r1.ip(&["route"]).unwrap().stdout).unwrap();
    assert!(!routes.contains("10.8.0.0"), "route removed: {routes}");
    let _ = std::fs::remove_file(&cfg);
}

#[test]
fn refuses_a_bad_line_with_its_number() {
    let ns = Netns::new(&unique_name("pmipt-bad")).unwrap();
    let cfg = temp("bad.cfg");
    std::fs::write(
        &cfg,
        "hostname r2\nrouter mobile\nip mobile home-agent lifetime forever\n",
    )
    .unwrap();
    let out = ns
        .exec(
            PMIP,
            &[
                "run",
                cfg.to_str().unwrap(),
                "--control",
                temp("bad.sock").to_str().unwrap(),
            ],
        )
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3:"), "{err}");
    assert!(err.contains("lifetime"), "{err}");
    let _ = std::fs::remove_file(&cfg);
}

/// Configuration input that is not a configuration: an endless file, a
/// byte that is not UTF-8, a 10 MB line. Each is refused at once with the
/// line and a short reason, and the daemon exits with status 2.
#[test]
fn unreadable_configuration_input_is_refused_briefly() {
    let ns = Netns::new(&unique_name("pmipt-in")).unwrap();
    let run = |cfg: &std::path::Path| {
        let t = Instant::now();
        let out = ns
            .exec(
                PMIP,
                &[
                    "run",
                    cfg.to_str().unwrap(),
                    "--control",
                    temp("in.sock").to_str().unwrap(),
                ],
            )
            .unwrap();
        (out, t.elapsed())
    };
    let (out, took) = run(std::path::Path::new("/dev/zero"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("larger than 16 MiB"), "{err}");
    println!("/dev/zero refused in {took:?}");

    let cfg = temp("latin1.cfg");
    std::fs::write(&cfg, b"hostname r1\n!\ninterface eth\xe91\n").unwrap();
    let (out, _) = run(&cfg);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3: not UTF-8"), "{err}");

    let long = format!(
        "hostname r1\nip mobile home-agent lifetime {}\n",
        "9".repeat(10 << 20)
    );
    std::fs::write(&cfg, long).unwrap();
    let (out, _) = run(&cfg);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2:"), "{}", &err[..err.len().min(300)]);
    assert!(
        err.len() < 1000,
        "a long line is quoted only in part ({} bytes)",
        err.len()
    );
    let _ = std::fs::remove_file(&cfg);
}

#[test]
fn an_access_point_needs_a_gateway() {
    let ns = Netns::new(&unique_name("pmipt-gw")).unwrap();
    let cfg = temp("nogw.cfg");
    std::fs::write(&cfg, "hostname ap9\nip proxy-mobile enable\n").unwrap();
    let out = ns
        .exec(
            PMIP,
            &[
                "run",
                cfg.to_str().unwrap(),
                "--control",
                temp("nogw.sock").to_str().unwrap(),
            ],
        )
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ip default-gateway"));
    let _ = std::fs::remove_file(&cfg);
}

/// `write memory` makes the running configuration the file the device
/// starts from (the previous one kept as FILE.bak): after a restart the
/// change is there. A save that cannot be written says why and changes
/// nothing.
#[test]
fn write_memory_survives_a_restart() {
    let mut r1 = Netns::new(&unique_name("pmipt-wm")).unwrap();
    let peer = Netns::new(&unique_name("pmipt-wp")).unwrap();
    r1.veth_to("eth1", &peer, "p1").unwrap();
    let cfg = temp("wm.cfg");
    let original = "hostname r1\ninterface eth1\n ip address 10.9.0.1 255.255.255.0\n";
    std::fs::write(&cfg, original).unwrap();
    let control = temp("wm.sock");
    let stop = |pid: u32| {
        // SAFETY: SIGTERM to the daemon we started.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        let t = Instant::now();
        while control.exists() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let (_, pid) = common::start_file(&mut r1, "wm", &cfg);
    let (ok, out, _) = exec(&control, &["show", "startup-config"]);
    assert!(ok && out.contains("hostname r1"), "{out}");
    let (ok, _, _) = exec(
        &control,
        &[
            "conf",
            "ip mobile secure host 10.9.0.5 spi 100 key ascii s3cret; ip mobile bindupdate",
        ],
    );
    assert!(ok);
    let (ok, out, err) = exec(&control, &["wr", "mem"]);
    assert!(ok, "{err}");
    assert!(out.contains("[OK]"), "{out}");
    let (_, running, _) = exec(&control, &["show", "running-config", "keys"]);
    stop(pid);
    assert_eq!(
        std::fs::read_to_string(temp("wm.cfg.bak")).unwrap(),
        original,
        "previous version kept"
    );
    let saved = std::fs::read_to_string(&cfg).unwrap();
    assert!(saved.contains("s3cret"), "the file holds the keys it needs");

    let (_, pid) = common::start_file(&mut r1, "wm", &cfg);
    let (_, again, _) = exec(&control, &["show", "running-config", "keys"]);
    assert_eq!(again, running, "restarts into exactly the running state");
    let (_, shown, _) = exec(&control, &["sh", "startup"]);
    assert!(!shown.contains("s3cret"), "keys masked in show: {shown}");

    // A save that cannot be written: the file is replaced by a directory
    // the daemon cannot rename over.
    std::fs::rename(&cfg, temp("wm.cfg.moved")).unwrap();
    std::fs::create_dir(&cfg).unwrap();
    let (ok, _, err) = exec(&control, &["write", "memory"]);
    assert!(!ok);
    assert!(
        err.contains("Could not save") && err.lines().count() == 1,
        "{err}"
    );
    assert!(cfg.is_dir());
    stop(pid);
    std::fs::remove_dir(&cfg).unwrap();
    for f in ["wm.cfg.moved", "wm.cfg.bak"] {
        let _ = std::fs::remove_file(temp(f));
    }
}

/// 300 `pmip exec` processes started at once against one daemon all get
/// their answer (none fails with a broken pipe, a reset or a refused
/// connection), and the daemon answers the next one as before. Printed:
/// how long the 300 took.
#[test]
fn three_hundred_parallel_execs_are_all_answered() {
    let mut ns = Netns::new(&unique_name("pmipt-px")).unwrap();
    let peer = Netns::new(&unique_name("pmipt-pq")).unwrap();
    ns.veth_to("eth1", &peer, "p1").unwrap();
    let (control, pid) = common::start(
        &mut ns,
        "px",
        "hostname px\ninterface eth1\n ip address 10.9.0.1 255.255.255.0\nrouter mobile\n\
         ip mobile home-agent\nip mobile host 10.9.0.10 10.9.0.99 interface eth1\n",
    );
    let t = Instant::now();
    let children: Vec<_> = (0..300)
        .map(|i| {
            let words: &[&str] = if i % 2 == 0 {
                &["show", "running-config"]
            } else {
                &["show", "ip", "mobile", "binding"]
            };
            std::process::Command::new(PMIP)
                .arg("exec")
                .arg("--control")
                .arg(&control)
                .args(words)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut failures = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        if !out.status.success() || out.stdout.is_empty() {
            failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
        }
    }
    println!("300 parallel pmip exec answered in {:?}", t.elapsed());
    assert!(
        failures.is_empty(),
        "{} of 300 failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(exec(&control, &["show", "version"]).0);
    common::stop(pid, libc::SIGTERM);
}

/// `pmip exec` whose reader has gone (`pmip exec show ... | head -0`)
/// ends quietly: status 0, nothing on stderr.
#[test]
fn exec_into_a_closed_pipe_ends_quietly() {
    let mut ns = Netns::new(&unique_name("pmipt-cp")).unwrap();
    let (control, pid) = common::start(&mut ns, "cp", "hostname cp\n");
    let mut child = std::process::Command::new(PMIP)
        .arg("exec")
        .arg("--control")
        .arg(&control)
        .args(["show", "running-config"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes before anything is written.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::stop(pid, libc::SIGTERM);
}

/// A small tmpfs of the test's own, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: std::path::PathBuf, size: &str) -> Tmpfs {
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir)
    }

    fn remount(&self, how: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{how}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "remount {how}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A save onto a full disk or a read-only file system: `write memory`
/// fails with the system's reason in one line, the startup file and its
/// backup are as they were and no temporary file is left; once there is
/// room again the save goes through. The configuration lives on a small
/// tmpfs of the test's own.
#[test]
fn a_save_that_cannot_be_written_says_why_and_keeps_the_file() {
    let mut r1 = Netns::new(&unique_name("pmipt-wf")).unwrap();
    let peer = Netns::new(&unique_name("pmipt-wq")).unwrap();
    r1.veth_to("eth1", &peer, "p1").unwrap();
    let disk = Tmpfs::mount(temp("small-disk"), "64k");
    let cfg = disk.0.join("r1.cfg");
    let original = "hostname r1\ninterface eth1\n ip address 10.9.0.1 255.255.255.0\n";
    std::fs::write(&cfg, original).unwrap();
    std::fs::write(disk.0.join("r1.cfg.bak"), "hostname r0\n").unwrap();
    let (control, pid) = common::start_file(&mut r1, "wf", &cfg);
    let (ok, _, err) = exec(&control, &["conf", "ip mobile bindupdate"]);
    assert!(ok, "{err}");
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(&disk.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let unchanged = |what: &str| {
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original, "{what}");
        assert_eq!(
            std::fs::read_to_string(disk.0.join("r1.cfg.bak")).unwrap(),
            "hostname r0\n",
            "{what}"
        );
    };

    // Full: a file takes every block that is left.
    let filler = disk.0.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = [0u8; 4096];
        while f.write_all(&block).is_ok() {}
    }
    let (ok, _, err) = exec(&control, &["write", "memory"]);
    println!("full disk: {}", err.trim());
    assert!(!ok);
    assert!(
        err.contains("Could not save")
            && err.contains("No space left on device")
            && err.contains("r1.cfg")
            && err.lines().count() == 1,
        "{err}"
    );
    unchanged("full disk");
    assert_eq!(listing(), ["filler", "r1.cfg", "r1.cfg.bak"]);
    std::fs::remove_file(&filler).unwrap();

    // Read-only.
    disk.remount("ro");
    let (ok, _, err) = exec(&control, &["copy", "running-config", "startup-config"]);
    println!("read-only: {}", err.trim());
    assert!(!ok);
    assert!(
        err.contains("Read-only file system") && err.lines().count() == 1,
        "{err}"
    );
    unchanged("read-only");

    // Room again: saved, the previous file kept as the backup.
    disk.remount("rw");
    let (ok, out, err) = exec(&control, &["wr", "mem"]);
    assert!(ok && out.contains("[OK]"), "{out}{err}");
    assert!(
        std::fs::read_to_string(&cfg)
            .unwrap()
            .contains("ip mobile bindupdate")
    );
    assert_eq!(
        std::fs::read_to_string(disk.0.join("r1.cfg.bak")).unwrap(),
        original
    );
    assert_eq!(listing(), ["r1.cfg", "r1.cfg.bak"]);
    common::stop(pid, libc::SIGTERM);
}
