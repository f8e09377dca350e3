//! A state database damaged between two runs (truncated by a full disk,
//! bytes overwritten): opening it never panics and never refuses to
//! start; what cannot be read is moved aside and the device starts empty.

use pmip_engine::binding::Binding;
use pmip_engine::time::{Instant, Now};
use pmip_platform::state::StateStore;
use pmip_wire::tunnel::Encapsulation;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn now() -> Now {
    Now::new(Instant::from_secs(100), Duration::from_secs(1_800_000_000))
}

fn binding(i: u32) -> Binding {
    let home = Ipv4Addr::from(0x0a01_0000 + i);
    let coa = Ipv4Addr::new(10, 2, 0, 1);
    Binding {
        home_address: home,
        care_of_address: coa,
        home_agent: Ipv4Addr::new(10, 1, 0, 1),
        source: SocketAddrV4::new(coa, 434),
        lifetime: 600,
        registered: Instant::from_secs(90),
        expires: Instant::from_secs(690),
        identification: 0xeeb0_fac0_0000_0000 + u64::from(i),
        simultaneous: false,
        broadcast: false,
        decapsulation_by_mn: false,
        encapsulation: Encapsulation::IpInIp,
        reverse_tunnel: false,
    }
}

/// A fresh directory, removed when dropped (also when a check fails).
struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(name: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("pmip-damage-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

/// A database a clean run left: `n` bindings, the log folded in.
fn saved(path: &Path, n: u32) -> Vec<u8> {
    {
        let mut s = StateStore::open(path).unwrap();
        for i in 0..n {
            s.binding_up(&binding(i), now());
        }
        s.commit().unwrap();
    }
    std::fs::read(path).unwrap()
}

fn aside(d: &Path) -> usize {
    std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .count()
}

/// Opens a damaged copy: it must open, its state must load (all of it, or
/// none after the file was moved aside), and it must take new state.
fn opens(d: &Path, bytes: &[u8], what: &str) {
    let path = d.join("r1.state");
    for e in std::fs::read_dir(d).unwrap().filter_map(|e| e.ok()) {
        std::fs::remove_file(e.path()).unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    let mut s = StateStore::open(&path).unwrap_or_else(|e| panic!("{what}: refused: {e}"));
    let kept = s
        .load(now())
        .unwrap_or_else(|e| panic!("{what}: opened but unreadable: {e}"));
    let n = kept.bindings.len();
    eprintln!("{what}: {n} bindings kept, {} moved aside", aside(d));
    s.binding_up(&binding(9999), now());
    s.commit()
        .unwrap_or_else(|e| panic!("{what}: takes no new state: {e}"));
    drop(s);
    let s = StateStore::open(&path).unwrap();
    let again = s.load(now()).unwrap();
    assert!(
        again
            .bindings
            .iter()
            .any(|b| b.home_address == binding(9999).home_address),
        "{what}: the new binding survives a reopen"
    );
}

#[test]
fn a_truncated_database_starts_empty_or_whole() {
    let d = dir("truncated");
    let d = &d.0;
    let good = saved(&d.join("r1.state"), 2000);
    let len = good.len();
    for cut in [0, 1, 16, 512, 4096, len / 3, len / 2, len - 4096, len - 1] {
        opens(d, &good[..cut], &format!("truncated to {cut} of {len}"));
    }
}

/// Known gap: redb trusts the pages it reads and panics on a damaged one
/// (`unreachable!` in its B-tree cursor, release builds too), so a file
/// whose header is intact but whose data pages were overwritten crashes
/// the load. `Database::check_integrity` after the open detects every
/// case below; `StateStore::open` should call it and move the file aside
/// when it fails.
#[test]
fn an_overwritten_database_starts_empty_or_whole() {
    let d = dir("overwritten");
    let d = &d.0;
    let good = saved(&d.join("r1.state"), 2000);
    let len = good.len();
    for at in [0, 8, 64, 512, 4096, len / 3, len / 2, len - 4096] {
        let mut bad = good.clone();
        for b in &mut bad[at..(at + 512).min(len)] {
            *b ^= 0x5a;
        }
        opens(d, &bad, &format!("512 bytes overwritten at {at} of {len}"));
    }
}
