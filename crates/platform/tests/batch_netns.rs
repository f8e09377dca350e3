//! Host routes by the thousand through the batch path: all in the kernel
//! and the ledger, failures reported one by one in order, all removed.

use pmip_netns::{Netns, unique_name};
use pmip_platform::netlink::{BatchOp, Installed, Netlink};
use std::net::Ipv4Addr;

fn count_routes(dev: &str) -> usize {
    let out = std::process::Command::new("ip")
        .args(["-4", "route", "show", "dev", dev])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// Runs `f` to completion on a runtime of the calling thread (inside the
/// namespace it was entered in).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn five_thousand_host_routes_in_batches_then_removed() {
    let ns = Netns::new(&unique_name("pmipt-bat")).unwrap();
    ns.veth_to("v0", &ns, "v1").unwrap();
    ns.ip(&["link", "set", "v1", "up"]).unwrap();
    ns.ip(&["link", "set", "v0", "up"]).unwrap();
    let (with, ledger, results, after_remove, ledger_after) = ns
        .run(|| {
            block_on(async {
                let nl = Netlink::new().unwrap();
                let oif = nl.link_index("v0").await.unwrap();
                let route = |i: u32| BatchOp::ReplaceRoute {
                    dst: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 16, 0, 2)) + i),
                    prefix_len: 32,
                    gateway: None,
                    oif: Some(oif),
                };
                let mut ops: Vec<BatchOp> = (0..5000).map(route).collect();
                // A route through an interface that does not exist
                // fails on its own; the others are not affected.
                ops.insert(
                    1500,
                    BatchOp::ReplaceRoute {
                        dst: Ipv4Addr::new(10, 99, 0, 1),
                        prefix_len: 32,
                        gateway: None,
                        oif: Some(999_999),
                    },
                );
                // Removing what is not there is done.
                ops.push(BatchOp::DeleteRoute {
                    dst: Ipv4Addr::new(10, 98, 0, 1),
                    prefix_len: 32,
                    gateway: None,
                    oif: Some(oif),
                });
                let results: Vec<bool> = nl.apply_batch(&ops).iter().map(|r| r.is_ok()).collect();
                let with = count_routes("v0");
                let ledger = nl
                    .installed()
                    .iter()
                    .filter(|i| matches!(i, Installed::Route { .. }))
                    .count();
                nl.remove_all().await;
                (
                    with,
                    ledger,
                    results,
                    count_routes("v0"),
                    nl.installed().len(),
                )
            })
        })
        .unwrap();
    assert_eq!(results.len(), 5002);
    assert_eq!(
        results
            .iter()
            .enumerate()
            .filter(|(_, ok)| !**ok)
            .map(|(i, _)| i)
            .collect::<Vec<_>>(),
        vec![1500],
        "only the route through the missing interface failed"
    );
    assert_eq!(with, 5000, "every route in the kernel");
    assert_eq!(ledger, 5000, "and in the ledger");
    assert_eq!(after_remove, 0, "all removed at the end");
    assert_eq!(ledger_after, 0);
}

/// Routes through a TUN device of ours die with it (and with the
/// process): they are installed like any other but the ledger does not
/// keep them, so the state log does not either. Closing the device takes
/// them out of the kernel.
#[test]
fn routes_through_our_tun_device_are_not_kept_in_the_ledger() {
    let ns = Netns::new(&unique_name("pmipt-tunl")).unwrap();
    ns.veth_to("v0", &ns, "v1").unwrap();
    ns.ip(&["link", "set", "v0", "up"]).unwrap();
    let (through_tun, journal, kept, after_close) = ns
        .run(|| {
            block_on(async {
                let nl = Netlink::new().unwrap();
                let tun = pmip_platform::tun::Tun::create("pmip0").unwrap();
                let tun_index = nl.link_index("pmip0").await.unwrap();
                nl.link_up(tun_index).await.unwrap();
                nl.routes_die_with(tun_index);
                let v0 = nl.link_index("v0").await.unwrap();
                let route = |i: u32, oif| BatchOp::ReplaceRoute {
                    dst: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 16, 0, 2)) + i),
                    prefix_len: 32,
                    gateway: None,
                    oif: Some(oif),
                };
                let mut ops: Vec<BatchOp> = (0..100).map(|i| route(i, tun_index)).collect();
                ops.push(route(500, v0));
                assert!(nl.apply_batch(&ops).iter().all(|r| r.is_ok()));
                let through_tun = count_routes("pmip0");
                let journal = nl.take_journal();
                let kept = nl.installed();
                drop(tun);
                std::thread::sleep(std::time::Duration::from_millis(100));
                let left = std::process::Command::new("ip")
                    .args(["-4", "route", "show", "root", "10.16.0.0/16"])
                    .output()
                    .unwrap();
                let left = String::from_utf8_lossy(&left.stdout).lines().count();
                (through_tun, journal, kept, left)
            })
        })
        .unwrap();
    assert_eq!(
        through_tun, 100,
        "every route through the TUN device installed"
    );
    assert_eq!(
        journal.len(),
        1,
        "only the route through v0 journalled: {journal:?}"
    );
    assert_eq!(kept.len(), 1, "only the route through v0 kept: {kept:?}");
    assert_eq!(after_close, 1, "the routes through the device went with it");
}
