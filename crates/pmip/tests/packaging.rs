//! What the Debian package is made of (the release build takes minutes;
//! `scripts/package` does it with cargo-deb; here the package is built
//! with dpkg-deb from the test build and unpacked into a clean root): every example
//! configuration parses and is the device it says, the systemd unit
//! template passes `systemd-analyze verify` and names flags `pmip run`
//! takes, `pmip man` writes a page for every command, and every asset in
//! `[package.metadata.deb]` points at a file that exists (or that
//! `scripts/package` builds).

mod common;

use common::PMIP;
use pmip_config::{AapAddress, Config};
use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn workspace() -> PathBuf {
    crate_dir().join("../..")
}

/// The files in `dir` whose names match `pattern` (at most one `*`).
fn glob(dir: &Path, pattern: &str) -> Vec<PathBuf> {
    let (prefix, suffix) = pattern.split_once('*').unwrap_or((pattern, ""));
    let exact = !pattern.contains('*');
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            p.is_file()
                && if exact {
                    name == pattern
                } else {
                    name.len() >= prefix.len() + suffix.len()
                        && name.starts_with(prefix)
                        && name.ends_with(suffix)
                }
        })
        .collect();
    found.sort();
    found
}

fn example(name: &str) -> Config {
    let path = workspace().join("examples").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    Config::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_example_configuration_parses() {
    let all = glob(&workspace().join("examples"), "*.conf");
    assert!(all.len() >= 4, "{all:?}");
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap();
        let c = Config::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(c.hostname.is_some(), "{}: a hostname", path.display());
    }

    let ha = example("home-agent-router.conf");
    assert!(ha.mobile.home_agent.is_some() && !ha.mobile.hosts.is_empty());
    let fa = example("foreign-agent-router.conf");
    assert!(fa.mobile.foreign_agent.is_some());
    assert!(fa.mobile.home_agent.is_none(), "a foreign agent only");
    let bvi = |c: &Config| {
        c.interfaces
            .iter()
            .find(|i| i.name == "BVI1")
            .and_then(|i| i.address.as_ref())
            .map(|a| a.address)
            .expect("BVI1 has the AP's address")
    };
    let aap = example("aap.conf");
    let ap = example("access-point.conf");
    for c in [&aap, &ap] {
        assert!(c.proxy_mobile.enabled);
        assert!(c.proxy_mobile.aap_key.is_some(), "the exchange is keyed");
        assert_eq!(c.proxy_mobile.aaps, aap.proxy_mobile.aaps, "one AAP list");
    }
    // An AP is an AAP exactly when its own address is in its list.
    assert!(aap.proxy_mobile.aaps.contains(&AapAddress::Addr(bvi(&aap))));
    assert!(!ap.proxy_mobile.aaps.contains(&AapAddress::Addr(bvi(&ap))));
}

fn unit_text() -> String {
    std::fs::read_to_string(workspace().join("packaging/pmip@.service")).unwrap()
}

/// The unit's `KEY=VALUE` lines.
fn directive<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn systemd_unit_template() {
    let unit = unit_text();
    let exec = directive(&unit, "ExecStart");
    assert_eq!(
        exec,
        [
            "/usr/sbin/pmip run /etc/pmip/%i.conf --control /run/pmip/%i.sock --state /var/lib/pmip/%i.state"
        ]
    );
    assert_eq!(directive(&unit, "RuntimeDirectory"), ["pmip"]);
    assert_eq!(directive(&unit, "StateDirectory"), ["pmip"]);
    // Instances share /run/pmip.
    assert_eq!(directive(&unit, "RuntimeDirectoryPreserve"), ["yes"]);
    let caps = directive(&unit, "CapabilityBoundingSet").join(" ");
    for cap in ["CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_NET_BIND_SERVICE"] {
        assert!(caps.contains(cap), "{cap} kept: {caps}");
    }
    assert_eq!(directive(&unit, "DeviceAllow"), ["/dev/net/tun rw"]);

    // The flags are `pmip run`'s: with a missing file the daemon refuses
    // the configuration (its own one-line reason), not the command line.
    let dir = common::temp("unit");
    std::fs::create_dir_all(&dir).unwrap();
    let args: Vec<String> = exec[0]
        .split_whitespace()
        .skip(1)
        .map(|a| {
            a.replace("/etc/pmip/", &format!("{}/", dir.display()))
                .replace("/run/pmip/", &format!("{}/", dir.display()))
                .replace("/var/lib/pmip/", &format!("{}/", dir.display()))
                .replace("%i", "absent")
        })
        .collect();
    let out = Command::new(PMIP).args(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("pmip: ") && stderr.contains("absent.conf"),
        "{stderr}"
    );

    // systemd's own check, on an instance whose ExecStart is this build
    // (verify wants the program to exist). scripts/deps installs it: the
    // test fails, not skips, without it.
    let v = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .expect("systemd-analyze (Debian package systemd; scripts/deps installs it)");
    assert!(v.status.success());
    let instance = dir.join("pmip@example.service");
    std::fs::write(&instance, unit.replace("/usr/sbin/pmip", PMIP)).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&instance)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Other units of the machine may draw warnings; ours may not.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("pmip@example.service"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{stderr}");
    println!("systemd-analyze verify: clean");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn man_pages_for_every_command() {
    let dir = common::temp("man");
    let out = Command::new(PMIP).arg("man").arg(&dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pages: Vec<String> = glob(&dir, "*.1")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "pmip.1",
        "pmip-run.1",
        "pmip-exec.1",
        "pmip-console.1",
        "pmip-lab.1",
        "pmip-lab-up.1",
        "pmip-bench.1",
    ] {
        assert!(pages.iter().any(|p| p == want), "{want} in {pages:?}");
    }
    assert!(
        !pages
            .iter()
            .any(|p| p.contains("man") || p.contains("help")),
        "no page for the hidden `man` or for `help`: {pages:?}"
    );
    let run = std::fs::read_to_string(dir.join("pmip-run.1")).unwrap();
    assert!(
        run.contains(".TH pmip-run 1") && run.contains("state"),
        "{run}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn deb_assets_exist() {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(crate_dir().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pkg = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "pmip")
        .unwrap();
    let deb = &pkg["metadata"]["deb"];
    assert!(deb["maintainer"].is_string() && deb["extended-description"].is_string());
    let assets = deb["assets"].as_array().expect("an assets list");
    let mut dests = Vec::new();
    for a in assets {
        let [src, dest, mode] = [0, 1, 2].map(|i| a[i].as_str().unwrap().to_owned());
        dests.push(dest.clone());
        assert!(mode == "644" || mode == "755", "{src}: mode {mode}");
        if src == "target/release/pmip" {
            // Built by cargo-deb's build: the crate's binary.
            assert!(
                pkg["targets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["name"] == "pmip" && t["kind"][0] == "bin")
            );
            assert_eq!(mode, "755");
            continue;
        }
        if let Some(rest) = src.strip_prefix("target/release/man/") {
            // Written by `pmip man` in scripts/package.
            let script = std::fs::read_to_string(workspace().join("scripts/package")).unwrap();
            assert!(script.contains("release/man") && script.contains(" man "));
            assert!(script.contains("gzip -9n"));
            assert_eq!(rest, "*.1.gz");
            continue;
        }
        let path = crate_dir().join(&src);
        let (dir, pattern) = (path.parent().unwrap(), path.file_name().unwrap());
        let found = glob(dir, &pattern.to_string_lossy());
        assert!(!found.is_empty(), "asset {src} matches no file");
    }
    for want in [
        "usr/sbin/",
        "usr/share/man/man1/",
        "usr/share/doc/pmip/examples/",
    ] {
        assert!(dests.iter().any(|d| d == want), "{want} in {dests:?}");
    }
    let units = deb["systemd-units"]["unit-scripts"].as_str().unwrap();
    assert!(crate_dir().join(units).join("pmip@.service").is_file());
    assert_eq!(deb["systemd-units"]["enable"], false);
    let scripts = crate_dir().join(deb["maintainer-scripts"].as_str().unwrap());
    for s in ["postinst", "postrm"] {
        let text = std::fs::read_to_string(scripts.join(s)).unwrap();
        // cargo-deb puts its own systemd snippets at the token.
        assert!(
            text.starts_with("#!/bin/sh") && text.contains("#DEBHELPER#"),
            "{s}"
        );
    }

    use std::os::unix::fs::PermissionsExt;
    let script = workspace().join("scripts/package");
    let m = std::fs::metadata(&script).unwrap().permissions().mode();
    assert!(m & 0o111 != 0, "scripts/package is executable");
}

/// The package itself, built from `[package.metadata.deb]` with dpkg-deb
/// (what cargo-deb does, without its minutes of release build: the binary
/// is this test build's), then unpacked into an empty root: every asset
/// is where the metadata says with its mode, the unit and the maintainer
/// scripts are in, and the installed binary runs.
#[test]
fn the_package_builds_and_unpacks_into_a_clean_root() {
    use std::os::unix::fs::PermissionsExt;
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(crate_dir().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pkg = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "pmip")
        .unwrap()
        .clone();
    let deb = &pkg["metadata"]["deb"];
    let work = common::temp("deb");
    let _ = std::fs::remove_dir_all(&work);
    let stage = work.join("stage");
    let man = work.join("man");
    std::fs::create_dir_all(&stage).unwrap();
    let o = Command::new(PMIP).arg("man").arg(&man).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for page in glob(&man, "*.1") {
        assert!(
            Command::new("gzip")
                .arg("-9n")
                .arg(&page)
                .status()
                .unwrap()
                .success()
        );
    }
    let mut installed = Vec::new();
    for a in deb["assets"].as_array().unwrap() {
        let [src, dest, mode] = [0, 1, 2].map(|i| a[i].as_str().unwrap().to_owned());
        let files = if src == "target/release/pmip" {
            vec![PathBuf::from(PMIP)]
        } else if src == "target/release/man/*.1.gz" {
            glob(&man, "*.1.gz")
        } else {
            let path = crate_dir().join(&src);
            glob(
                path.parent().unwrap(),
                &path.file_name().unwrap().to_string_lossy(),
            )
        };
        assert!(!files.is_empty(), "{src}");
        let dir = stage.join(&dest);
        std::fs::create_dir_all(&dir).unwrap();
        for f in files {
            let to = dir.join(f.file_name().unwrap());
            std::fs::copy(&f, &to).unwrap();
            let mode = u32::from_str_radix(&mode, 8).unwrap();
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
            installed.push((to.strip_prefix(&stage).unwrap().to_owned(), mode));
        }
    }
    let units = crate_dir().join(deb["systemd-units"]["unit-scripts"].as_str().unwrap());
    let unit_dir = stage.join("usr/lib/systemd/system");
    std::fs::create_dir_all(&unit_dir).unwrap();
    std::fs::copy(units.join("pmip@.service"), unit_dir.join("pmip@.service")).unwrap();
    installed.push(("usr/lib/systemd/system/pmip@.service".into(), 0o644));
    let control = stage.join("DEBIAN");
    std::fs::create_dir_all(&control).unwrap();
    let scripts = crate_dir().join(deb["maintainer-scripts"].as_str().unwrap());
    for s in ["postinst", "postrm"] {
        let text = std::fs::read_to_string(scripts.join(s))
            .unwrap()
            .replace("#DEBHELPER#", "");
        std::fs::write(control.join(s), text).unwrap();
        std::fs::set_permissions(control.join(s), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let arch = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .unwrap();
    let description: String = deb["extended-description"]
        .as_str()
        .unwrap()
        .lines()
        .map(|l| format!(" {l}\n"))
        .collect();
    std::fs::write(
        control.join("control"),
        format!(
            "Package: pmip\nVersion: {}-1\nArchitecture: {}\nMaintainer: {}\nSection: {}\nPriority: {}\n\
             Depends: iproute2\nDescription: {}\n{description}",
            pkg["version"].as_str().unwrap(),
            String::from_utf8_lossy(&arch.stdout).trim(),
            deb["maintainer"].as_str().unwrap(),
            deb["section"].as_str().unwrap(),
            deb["priority"].as_str().unwrap(),
            pkg["description"].as_str().unwrap_or("proxy Mobile IPv4"),
        ),
    )
    .unwrap();
    let file = work.join("pmip.deb");
    // No compression: the test binary carries its debug information.
    let o = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Znone", "--build"])
        .arg(&stage)
        .arg(&file)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let info = Command::new("dpkg-deb")
        .arg("-I")
        .arg(&file)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    assert!(
        info.contains("Package: pmip") && info.contains("postinst"),
        "{info}"
    );
    let root = work.join("root");
    let o = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&file)
        .arg(&root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (path, mode) in &installed {
        let m = std::fs::metadata(root.join(path))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode();
        assert_eq!(m & 0o777, *mode, "{}", path.display());
    }
    let v = Command::new(root.join("usr/sbin/pmip"))
        .arg("--version")
        .output()
        .unwrap();
    let v = String::from_utf8_lossy(&v.stdout).into_owned();
    assert!(v.starts_with("pmip "), "{v}");
    println!(
        "package: {} files unpacked into a clean root; the binary says {}",
        installed.len(),
        v.trim()
    );
    let _ = std::fs::remove_dir_all(&work);
}
