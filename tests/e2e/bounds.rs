//! The state table's bounds, through a real broker: a table of several
//! reply pages is read whole by `current`, `ptp-broker state` and
//! `register`; a full table refuses new resources and still updates known
//! ones.

use client::{Client, ClientConfig};
use proto::Content;

use crate::util::{Broker, Probe};

fn client_for(broker: &Broker) -> Client {
    let e = &broker.endpoints;
    Client::new(ClientConfig::with_endpoints(&e.emit, &e.publish, &e.query)).expect("client")
}

const FILL: &str = "com.example.bounds.fill";

fn fill_type() -> catalog::EventType {
    catalog::EventType::new(FILL).expect("type")
}

/// Emit `n` events of `FILL` to distinct resources of about 450 bytes each;
/// how many the broker refused.
fn fill(client: &Client, from: usize, n: usize) -> usize {
    let pad = "p".repeat(440);
    (from..from + n)
        .filter(|i| {
            let content = Content::parse("1", Some(format!("/fill/{i}/{pad}"))).expect("content");
            client.emit(fill_type(), content).is_err()
        })
        .count()
}

#[test]
fn a_table_of_several_pages_is_read_whole() {
    let _heavy = crate::util::heavy();
    let broker = Broker::start(&[]);
    let client = client_for(&broker);
    // About 4 MB of events: at least four 1 MiB pages.
    let n = 8000;
    assert_eq!(fill(&client, 0, n), 0, "nothing refused");
    // One more update to an early resource, so the pages hold a row that
    // moved since it was first written.
    let pad = "p".repeat(440);
    client
        .emit(
            fill_type(),
            Content::parse("2", Some(format!("/fill/0/{pad}"))).unwrap(),
        )
        .expect("update");

    let current = client.current(fill_type()).expect("current");
    assert_eq!(current.len(), n);
    assert!(current.windows(2).all(|w| w[0].meta.seq < w[1].meta.seq));
    let updated = current.last().expect("events");
    assert_eq!(
        updated.data.values[0].value, "2",
        "the update is the latest"
    );

    let out = broker.tool(&["state", "--json", FILL]);
    assert!(out.status.success(), "{out:?}");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(FILL))
        .count();
    assert_eq!(lines, n, "ptp-broker state prints every entry");

    // A registration gets every resource once: as much as its callback
    // queue holds as the initial state, before `register` returns, the
    // rest caught up from the client's copy as soon as the queue drains.
    let mut probe = Probe::start(&broker.endpoints, &[FILL], &[]);
    let initial = probe
        .events()
        .iter()
        .filter(|v| v["delivery"] == "initial")
        .count();
    assert!(initial >= 1000, "{initial} initial deliveries");
    while probe.events().len() < n {
        let from = probe.seen.len();
        probe.wait_for_after(from, "every resource", |v| v["kind"] == "event");
        probe.drain();
    }
    let resources: std::collections::HashSet<&str> = probe
        .events()
        .iter()
        .filter_map(|v| v["resource"].as_str())
        .collect();
    assert_eq!(resources.len(), n, "every resource, none twice");
    probe.drain();
    assert_eq!(probe.events().len(), n, "no more than one each");
}

#[test]
fn a_full_table_refuses_new_resources_and_keeps_updating_known_ones() {
    let dir = std::env::temp_dir().join(format!("ptp-broker-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("broker.toml");
    std::fs::write(&file, "[state]\nmax_entries = 800\n").expect("config");
    let broker = Broker::start(&["--config", file.to_str().expect("path")]);
    let client = client_for(&broker);
    // Synthetic events get 7/8 of the entries.
    assert_eq!(fill(&client, 0, 800), 100);
    let err = client
        .emit(
            fill_type(),
            Content::parse("1", Some("/fill/new".into())).unwrap(),
        )
        .expect_err("a new resource is refused");
    assert!(err.to_string().contains("state table full"), "{err}");
    let pad = "p".repeat(440);
    client
        .emit(
            fill_type(),
            Content::parse("7", Some(format!("/fill/3/{pad}"))).unwrap(),
        )
        .expect("a known resource still updates");
    let stats = broker.stats();
    assert_eq!(stats["rejected_state_full"], 101, "{stats:?}");
    assert_eq!(stats["state_entries"], 700, "{stats:?}");
    assert!(stats["state_bytes"] > 700 * 450, "{stats:?}");
    std::fs::remove_dir_all(&dir).ok();
}
