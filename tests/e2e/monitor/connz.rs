//! The PUB subscribers, as `/connz` and `ptp-broker stats` list them.

use super::get;
use crate::util::{Broker, Probe, wait_until};

#[test]
fn connz_and_stats_list_each_subscriber_with_its_subscriptions() {
    let broker = Broker::start(&[]);
    let empty = get(&broker, "/connz").json();
    assert_eq!(empty["num_connections"], 0, "{empty}");
    let _probe = Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]);
    wait_until("one connection", || {
        get(&broker, "/connz").json()["num_connections"] == 1
    });
    let connz = get(&broker, "/connz").json();
    let c = &connz["connections"][0];
    assert!(
        c["peer"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:")),
        "{connz}"
    );
    // The client library subscribes to everything ("") on its one SUB
    // socket and picks its types itself.
    assert_eq!(c["subscriptions"], serde_json::json!([""]), "{connz}");
    assert_eq!(c["dropped"], 0);
    assert!(c["queue_depth"].as_u64().is_some());
    // The same through the query socket.
    let out = broker.tool(&["stats"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let peer = c["peer"].as_str().unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.contains(peer))
        .unwrap_or_else(|| panic!("{peer} in `stats`:\n{text}"));
    assert!(line.contains("subscriptions=*"), "{line}");
    assert!(line.contains("dropped=0"), "{line}");
}
