//! A slow destination delays nothing but itself (docs/SINKS.md, "Isolation
//! and what is dropped when").

use std::time::{Duration, Instant};

use super::*;
use crate::peers::jsonrpc::{JsonRpc, Mode};
use crate::peers::webhook::{Reply, Webhook};
use crate::util::Probe;

/// "Within a few seconds": generous for 2 loaded cores.
const FEW_SECONDS: Duration = Duration::from_secs(8);

#[test]
fn a_slow_webhook_does_not_hold_up_the_others() {
    let node = Node::start("isolation", &[]);
    let broker = &node.broker;
    // 30 s rather than 10: "still on its first" must not depend on how fast
    // 2 loaded cores run the rest of the test.
    let slow = Webhook::always(Reply::status(204).after(Duration::from_secs(30)));
    let fast = Webhook::always(Reply::status(204));
    let rpc = JsonRpc::start(Mode::Notify);
    let slow_id = subscribe(
        broker,
        &slow.url("/slow"),
        // The request is not given up before the receiver answers.
        &["--type", "OS_CLOCK_SYNC", "--timeout-ms", "60000"],
    );
    let fast_id = subscribe(broker, &fast.url("/fast"), &["--type", "OS_CLOCK_SYNC"]);
    let rpc_id = subscribe(broker, &rpc.uri(None), &["--type", "OS_CLOCK_SYNC"]);
    let mut probe = Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]);

    let started = Instant::now();
    let sent = emit_os(broker, 20);
    let emitted_in = started.elapsed();
    let want = emitted_ids(&sent);

    let got = fast.wait_for_within(20, FEW_SECONDS);
    assert_eq!(ids(&got.iter().map(|r| r.json()).collect::<Vec<_>>()), want);
    let got = rpc.wait_until_within("all 20", FEW_SECONDS, |m| m.len() >= 20);
    assert_eq!(
        ids(&got.iter().map(|m| m.params().clone()).collect::<Vec<_>>()),
        want
    );
    for id in &want {
        probe.wait_for(&format!("event {id}"), |v| {
            v["kind"] == "event" && v["id"] == id.as_str()
        });
    }
    let all_in = started.elapsed();
    assert!(
        all_in < emitted_in + FEW_SECONDS,
        "the others got everything {:?} after the last emit",
        all_in - emitted_in
    );
    assert_eq!(slow.count(), 1, "the slow one is still on its first event");
    assert_eq!(slow.requests()[0].json()["id"], sent[0].id.as_str());

    let stats = broker.stats();
    let get = |k: String| stats.get(&k).copied().unwrap_or(0);
    assert_eq!(get(format!("sink.{fast_id}.delivered")), 20, "{stats:?}");
    assert_eq!(get(format!("sink.{rpc_id}.delivered")), 20, "{stats:?}");
    assert_eq!(get(format!("sink.{slow_id}.delivered")), 0, "{stats:?}");
    let depth = get(format!("sink.{slow_id}.queue_depth"));
    assert!(
        (19..=20).contains(&depth),
        "19 events wait behind the first: {stats:?}"
    );
    assert_eq!(get(format!("sink.{slow_id}.dropped")), 0, "{stats:?}");
}

/// Wait until subscription `id`'s counter `name` is at least `least`.
fn wait_at_least(broker: &Broker, id: &str, name: &str, least: u64) -> u64 {
    let start = Instant::now();
    loop {
        let stats = sink_stats(broker, id);
        let v = stats.get(name).copied().unwrap_or(0);
        if v >= least {
            return v;
        }
        assert!(
            start.elapsed() < crate::util::DEADLINE,
            "sink.{id}.{name} never reached {least}: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Five resources of PTP_LOCK_STATE, one event each, into a queue of 2
/// behind a held first request: the oldest queued ones are dropped and
/// their resources remembered. Returns, after the release, everything the
/// webhook got once each resource's latest state arrived (checked: each
/// once), with the held event and the four behind it.
fn remembered_resources(broker: &Broker) -> (Vec<serde_json::Value>, Emitted, Vec<Emitted>) {
    let many = Webhook::start(vec![Reply::status(204).held(), Reply::status(204)]);
    let many_id = subscribe(
        broker,
        &many.url("/many"),
        &["--type", "PTP_LOCK_STATE", "--queue", "2"],
    );
    let resource = |i: usize| format!("/cluster/node/n1/ens{i}f0/master");
    let held = emit(
        broker,
        "PTP_LOCK_STATE",
        "LOCKED",
        &["--resource", &resource(0)],
    );
    many.wait_for(1);
    let mut others = Vec::new();
    for i in 1..5 {
        others.push(emit(
            broker,
            "PTP_LOCK_STATE",
            STATES[i % 3],
            &["--resource", &resource(i)],
        ));
    }
    let dropped = wait_at_least(broker, &many_id, "dropped", 2);
    assert!(dropped <= 3, "{:?}", sink_stats(broker, &many_id));
    many.release();
    // Every resource's latest state arrives: the queued ones and those
    // whose dropped event was remembered.
    let got = many.wait_until("every resource's state", |r| {
        let seen: Vec<String> = r
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        others.iter().all(|e| seen.contains(&e.id))
    });
    let events: Vec<serde_json::Value> = got.iter().map(|r| r.json()).collect();
    assert_eq!(events[0]["id"], held.id.as_str());
    for (i, e) in others.iter().enumerate() {
        let n = events.iter().filter(|v| v["id"] == e.id.as_str()).count();
        assert_eq!(n, 1, "resource {} delivered once: {events:#?}", i + 1);
    }
    wait_sink_stat(broker, &many_id, "delivered", events.len() as u64);
    (events, held, others)
}

#[test]
fn a_full_queue_keeps_the_newest_state_of_every_resource() {
    let node = Node::start("queue-full", &[]);
    let broker = &node.broker;
    // The first request is held until released; the rest go at once.
    let same = Webhook::start(vec![Reply::status(204).held(), Reply::status(204)]);
    let same_id = subscribe(
        broker,
        &same.url("/same"),
        &["--type", "OS_CLOCK_SYNC", "--queue", "2"],
    );

    // One resource: newer states replace queued older ones.
    let first = emit(broker, "OS_CLOCK_SYNC", "LOCKED", &["--offset", "0"]);
    same.wait_for(1);
    let mut later = Vec::new();
    for i in 1..10 {
        let offset = i.to_string();
        later.push(emit(
            broker,
            "OS_CLOCK_SYNC",
            STATES[i % 3],
            &["--offset", &offset],
        ));
    }
    // 9 events into a queue of 2 behind the held one: 7 (or 8, if the one
    // in flight takes a place) are dropped, and counted.
    let dropped = wait_at_least(broker, &same_id, "dropped", 7);
    assert!(dropped <= 8, "{:?}", sink_stats(broker, &same_id));
    let depth = sink_stats(broker, &same_id)["queue_depth"];
    assert!(depth <= 2, "the queue holds at most 2: {depth}");

    same.release();
    let newest = later.last().unwrap().clone();
    let got = same.wait_until("the newest state", |r| {
        r.iter().any(|r| r.json()["id"] == newest.id.as_str())
    });
    let events: Vec<serde_json::Value> = got.iter().map(|r| r.json()).collect();
    assert_eq!(events[0]["id"], first.id.as_str());
    assert!(
        events.len() <= 4,
        "at most the held one, 2 queued and the remembered resource's state: {:#?}",
        crate::peers::webhook::summary(&got)
    );
    assert_eq!(
        events.last().unwrap()["data"]["values"][1]["value"],
        "9",
        "the newest state is the last delivered"
    );
    assert_seq_increases(&events);

    // Several resources: every one's latest state arrives, once.
    remembered_resources(broker);
}

/// docs/SINKS.md: "`seq` … per destination always increasing" — also when
/// a remembered resource's state is delivered after newer events.
#[test]
fn seq_increases_even_for_a_remembered_resources_state() {
    let node = Node::start("queue-seq", &[]);
    let (events, _, _) = remembered_resources(&node.broker);
    assert_seq_increases(&events);
}
