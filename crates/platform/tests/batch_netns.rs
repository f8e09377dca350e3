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

#[test]
fn five_thousand_host_routes_in_batches_then_removed() {
    let ns = Netns::new(&unique_name("pmipt-bat")).unwrap();
    ns.veth_to("v0", &ns, "v1").unwrap();
    ns.ip(&["link", "set", "v1", "up"]).unwrap();
    ns.ip(&["link", "set", "v0", "up"]).unwrap();
    let (with, ledger, results, after_remove, ledger_after) = ns
        .run(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
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
                    let results: Vec<bool> =
                        nl.apply_batch(&ops).iter().map(|r| r.is_ok()).collect();
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
