//! Source rules and table routes through rtnetlink, and their removal.

use pmip_netns::{Netns, unique_name};
use pmip_platform::netlink::Netlink;
use std::net::Ipv4Addr;

#[test]
fn source_rule_added_and_removed() {
    let ns = Netns::new(&unique_name("pmipt-rul")).unwrap();
    let out = ns
        .run(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let nl = Netlink::new().unwrap();
                    let home = Ipv4Addr::new(10, 1, 0, 50);
                    nl.add_source_rule(home, 4340).await.unwrap();
                    nl.add_source_rule(home, 4340).await.unwrap();
                    let with = String::from_utf8(
                        std::process::Command::new("ip")
                            .args(["rule"])
                            .output()
                            .unwrap()
                            .stdout,
                    )
                    .unwrap();
                    nl.del_source_rule(home, 4340).await.unwrap();
                    let without = String::from_utf8(
                        std::process::Command::new("ip")
                            .args(["rule"])
                            .output()
                            .unwrap()
                            .stdout,
                    )
                    .unwrap();
                    (with, without)
                })
        })
        .unwrap();
    assert_eq!(
        out.0.matches("from 10.1.0.50 lookup 4340").count(),
        1,
        "added once: {}",
        out.0
    );
    assert!(!out.1.contains("10.1.0.50"), "{}", out.1);
}
