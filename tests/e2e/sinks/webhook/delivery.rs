//! Webhook delivery: structured and binary CloudEvents, in order with every
//! attribute, filters, and the current state first for a new subscription.

use serde_json::Value;

use crate::peers::webhook::{Received, Reply, Webhook};
use crate::sinks::*;

/// The bodies of these requests, as JSON.
fn bodies(requests: &[Received]) -> Vec<Value> {
    requests.iter().map(Received::json).collect()
}

#[test]
fn structured_events_arrive_in_order_with_every_attribute() {
    let node = Node::start("wh-structured", &[]);
    let broker = &node.broker;
    let hook = Webhook::always(Reply::status(204));
    let id = subscribe(
        broker,
        &hook.url("/ptp/events"),
        &["--type", "OS_CLOCK_SYNC"],
    );
    let sent = emit_os(broker, 6);

    let got = hook.wait_for(sent.len());
    for r in &got {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/ptp/events");
        let ct = r.header("content-type").unwrap_or_default();
        assert!(
            ct.starts_with("application/cloudevents+json"),
            "structured mode's Content-Type: {:?}",
            r.header_map()
        );
    }
    let events = bodies(&got);
    for (event, want) in events.iter().zip(&sent) {
        assert_cloud_event(event, want, broker.endpoints.epoch);
    }
    assert_eq!(ids(&events), emitted_ids(&sent), "in emission order");
    assert_seq_increases(&events);
    // The offset went along as the second value.
    assert_eq!(events[5]["data"]["values"][1]["value"], "5");

    let stats = wait_sink_stat(broker, &id, "delivered", 6);
    assert_eq!(stats.get("retried"), Some(&0), "{stats:?}");
    assert_eq!(stats.get("failed"), Some(&0), "{stats:?}");
    assert_eq!(stats.get("queue_depth"), Some(&0), "{stats:?}");
    assert_eq!(hook.count(), 6, "each event once");
}

#[test]
fn binary_mode_puts_attributes_in_ce_headers_and_data_in_the_body() {
    let node = Node::start("wh-binary", &[]);
    let broker = &node.broker;
    let hook = Webhook::always(Reply::status(200));
    let id = subscribe(
        broker,
        &hook.url("/bin"),
        &["--type", "OS_CLOCK_SYNC", "--mode", "binary"],
    );
    let sent = emit_os(broker, 3);
    let got = hook.wait_for(3);
    let epoch = broker.endpoints.epoch.to_string();
    let mut seqs = Vec::new();
    for (r, want) in got.iter().zip(&sent) {
        let h = r.header_map();
        assert_eq!(r.header("ce-specversion"), Some("1.0"), "{h:?}");
        assert_eq!(r.header("ce-id"), Some(want.id.as_str()), "{h:?}");
        assert_eq!(r.header("ce-type"), Some(OS), "{h:?}");
        assert!(
            r.header("ce-source").is_some_and(|s| !s.is_empty()),
            "{h:?}"
        );
        assert!(r.header("ce-time").is_some(), "{h:?}");
        assert_eq!(r.header("ce-epoch"), Some(epoch.as_str()), "{h:?}");
        assert_eq!(r.header("ce-origin"), Some("synthetic"), "{h:?}");
        let seq: u64 = r
            .header("ce-seq")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("ce-seq: {h:?}"));
        assert_eq!(seq, want.seq, "{h:?}");
        seqs.push(seq);
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{h:?}"
        );
        // The body is the data object alone.
        let body = r.json();
        assert_eq!(body["values"][0]["value"], want.value.as_str(), "{body}");
        assert!(body["version"].is_string(), "{body}");
        assert!(body.get("specversion").is_none(), "{body}");
        assert!(body.get("id").is_none(), "{body}");
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    wait_sink_stat(broker, &id, "delivered", 3);
}

#[test]
fn filters_deliver_only_what_matches() {
    let node = Node::start("wh-filters", &[]);
    let broker = &node.broker;
    let by_type = Webhook::always(Reply::status(204));
    let by_resource = Webhook::always(Reply::status(204));
    let by_both = Webhook::always(Reply::status(204));
    let exact_types = Webhook::always(Reply::status(204));
    let everything = Webhook::always(Reply::status(204));
    subscribe(broker, &everything.url("/all"), &[]);
    subscribe(
        broker,
        &by_type.url("/t"),
        &["--type", "event.sync.ptp-status.*"],
    );
    subscribe(
        broker,
        &by_resource.url("/r"),
        &["--resource", "/cluster/node/n1/*"],
    );
    subscribe(
        broker,
        &by_both.url("/tr"),
        &[
            "--type",
            "event.sync.ptp-status.*",
            "--resource",
            "/cluster/node/n1/*",
        ],
    );
    subscribe(
        broker,
        &exact_types.url("/x"),
        &["--type", "OS_CLOCK_SYNC", "--type", CLOCK_CLASS],
    );

    let n1_ptp = "/cluster/node/n1/ens1f0/master";
    let n2_ptp = "/cluster/node/n2/ens1f0/master";
    let n1_os = "/cluster/node/n1/sync/sync-status/os-clock-sync-state";
    let n2_os = "/cluster/node/n2/sync/sync-status/os-clock-sync-state";
    let n1_gnss = "/cluster/node/n1/ens2f0/gnss";
    let e1 = emit(broker, "PTP_LOCK_STATE", "LOCKED", &["--resource", n1_ptp]);
    let e2 = emit(
        broker,
        "PTP_LOCK_STATE",
        "HOLDOVER",
        &["--resource", n2_ptp],
    );
    let e3 = emit(broker, "OS_CLOCK_SYNC", "FREERUN", &["--resource", n1_os]);
    let e4 = emit(broker, "OS_CLOCK_SYNC", "LOCKED", &["--resource", n2_os]);
    let e5 = emit(
        broker,
        "GNSS_SYNC_STATUS",
        "SYNCHRONIZED",
        &["--resource", n1_gnss],
    );
    // Matches every filter: once it is there, everything before it is decided.
    let last = emit(broker, "PTP_CLOCK_CLASS", "6", &["--resource", n1_ptp]);

    let want =
        |events: &[&Emitted]| -> Vec<String> { events.iter().map(|e| e.id.clone()).collect() };
    for (hook, name, expected) in [
        (&by_type, "types ptp-status.*", want(&[&e1, &e2, &last])),
        (
            &by_resource,
            "resources n1/*",
            want(&[&e1, &e3, &e5, &last]),
        ),
        (&by_both, "both", want(&[&e1, &last])),
        (&exact_types, "exact types", want(&[&e3, &e4, &last])),
        // No heartbeats or other broker-internal messages.
        (
            &everything,
            "no filter",
            want(&[&e1, &e2, &e3, &e4, &e5, &last]),
        ),
    ] {
        let got = hook.wait_until(&format!("{name}: the last event"), |r| {
            r.iter().any(|r| r.json()["id"] == last.id.as_str())
        });
        let events = bodies(&got);
        assert_eq!(
            ids(&events),
            expected,
            "{name}: got {:#?}",
            crate::peers::webhook::summary(&got)
        );
        assert_seq_increases(&events);
    }
    let types: Vec<Value> = bodies(&by_type.requests())
        .into_iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(types, [PTP, PTP, CLOCK_CLASS]);
    let types: Vec<Value> = bodies(&everything.requests())
        .into_iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(types, [PTP, PTP, OS, OS, GNSS, CLOCK_CLASS]);
}

#[test]
fn a_new_subscription_gets_the_current_state_first() {
    let node = Node::start("wh-initial", &[]);
    let broker = &node.broker;
    let r1 = "/cluster/node/n1/sync/sync-status/os-clock-sync-state";
    let r2 = "/cluster/node/n2/sync/sync-status/os-clock-sync-state";
    let _old = emit(broker, "OS_CLOCK_SYNC", "HOLDOVER", &["--resource", r1]);
    let on_r2 = emit(broker, "OS_CLOCK_SYNC", "LOCKED", &["--resource", r2]);
    let on_r1 = emit(broker, "OS_CLOCK_SYNC", "FREERUN", &["--resource", r1]);
    // Another type, not matched.
    emit(broker, "PTP_LOCK_STATE", "LOCKED", &[]);

    let hook = Webhook::always(Reply::status(204));
    let id = subscribe(broker, &hook.url("/late"), &["--type", "OS_CLOCK_SYNC"]);
    let initial = hook.wait_for(2);
    let events = bodies(&initial);
    // The current state of each resource, in sequence order; not the
    // replaced HOLDOVER of r1.
    assert_eq!(
        ids(&events),
        [on_r2.id.clone(), on_r1.id.clone()],
        "{:#?}",
        crate::peers::webhook::summary(&initial)
    );
    assert_cloud_event(&events[0], &on_r2, broker.endpoints.epoch);
    assert_cloud_event(&events[1], &on_r1, broker.endpoints.epoch);

    // Then every change.
    let live = emit(broker, "OS_CLOCK_SYNC", "HOLDOVER", &["--resource", r2]);
    let got = hook.wait_for(3);
    let events = bodies(&got);
    assert_cloud_event(&events[2], &live, broker.endpoints.epoch);
    assert_seq_increases(&events);
    wait_sink_stat(broker, &id, "delivered", 3);
    assert_eq!(hook.count(), 3);
}
