//! The service endpoints (REFERENCE.md §2, §7): `GET /health` answers 200
//! `OK`, `GET /publishers` an array with one entry per O-RAN resource of
//! this node, under both base paths whatever the flavour.

use super::*;

#[test]
fn health_is_ok_under_both_base_paths_in_both_flavours() {
    for flavor in [Flavor::RedHat, Flavor::StarlingX] {
        let api = Api::start(&format!("health-{}", flavor.name()), flavor, "");
        for base in [Flavor::RedHat.base(), Flavor::StarlingX.base()] {
            let r = http::get(&api.addr(), &format!("{base}/health"));
            assert_eq!(r.status, 200, "{} {base}/health: {r}", flavor.name());
            assert_eq!(r.text().trim(), "OK", "{} {base}/health", flavor.name());
        }
        let r = http::get(&api.addr(), &format!("{}/no-such-endpoint", api.base()));
        assert_eq!(r.status, 404, "an unknown path: {r}");
    }
}

#[test]
fn publishers_lists_this_nodes_resources() {
    let api = Api::start("publishers", Flavor::RedHat, "");
    api.emit_lock("LOCKED", 0);
    for base in [Flavor::RedHat.base(), Flavor::StarlingX.base()] {
        let r = http::get(&api.addr(), &format!("{base}/publishers"));
        assert_eq!(r.status, 200, "{base}/publishers: {r}");
        let publishers = r.json();
        let list = publishers
            .as_array()
            .unwrap_or_else(|| panic!("{base}/publishers is an array: {publishers:#}"));
        assert!(!list.is_empty(), "{publishers:#}");
        let node_prefix = api.address("/sync");
        let addresses: Vec<&str> = list
            .iter()
            .map(|p| {
                p["ResourceAddress"]
                    .as_str()
                    .unwrap_or_else(|| panic!("a publisher names its ResourceAddress: {p:#}"))
            })
            .collect();
        assert!(
            addresses.iter().all(|a| a.starts_with(&node_prefix)),
            "every publisher is of this node: {addresses:?}"
        );
        let lock = api.address(LOCK);
        assert!(
            addresses.contains(&lock.as_str()),
            "the lock state is published: {addresses:?}"
        );
        let mut unique = addresses.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), addresses.len(), "one entry per resource");
    }
}
