//! Never wrong about the clock: late joiners, gaps, broker restarts, many
//! clients. Each test runs real broker and client processes and injects the
//! fault for real (SIGKILL, a stalled callback, a broker queue that drops).

use std::collections::HashSet;

use serde_json::Value;

use crate::util::{Broker, Probe, free_port, wait_until};

/// Three endpoints on fixed free ports, so a restarted broker is found again.
fn fixed_ports() -> Vec<String> {
    let ports = [free_port(), free_port(), free_port()];
    vec![
        "--emit".into(),
        format!("tcp://127.0.0.1:{}", ports[0]),
        "--pub".into(),
        format!("tcp://127.0.0.1:{}", ports[1]),
        "--query".into(),
        format!("tcp://127.0.0.1:{}", ports[2]),
        "--heartbeat-ms".into(),
        "200".into(),
    ]
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// No registration was given the same event twice.
fn assert_no_duplicates(probe: &Probe) {
    let mut seen = HashSet::new();
    for e in probe.events() {
        let key = (e["reg"].as_u64(), e["id"].as_str().map(str::to_owned));
        assert!(seen.insert(key), "duplicate delivery {e}");
    }
}

fn last_value(probe: &Probe) -> Option<String> {
    probe
        .events()
        .last()
        .and_then(|e| e["value"].as_str())
        .map(str::to_owned)
}

#[test]
fn a_late_joiner_gets_the_current_state_first() {
    let broker = Broker::start(&[]);
    let out = broker.tool(&[
        "emit",
        "PTP_LOCK_STATE",
        "HOLDOVER",
        "--resource",
        "/cluster/node/n1/ens1f0/master",
    ]);
    assert!(out.status.success());
    let out = broker.tool(&[
        "emit",
        "PTP_LOCK_STATE",
        "LOCKED",
        "--resource",
        "/cluster/node/n1/ens2f0/master",
    ]);
    assert!(out.status.success());
    // Started after both events: `ready` comes only after the initial state.
    let mut late = Probe::start(&broker.endpoints, &["PTP_LOCK_STATE"], &[]);
    let events = late.events();
    assert_eq!(
        events.len(),
        2,
        "one initial event per resource: {events:?}"
    );
    assert!(events.iter().all(|e| e["delivery"] == "initial"));
    assert_eq!(events[0]["value"], "HOLDOVER");
    assert_eq!(events[1]["value"], "LOCKED");
    // Then live events follow, with no gap and no repeat.
    late.send("emit PTP_LOCK_STATE FREERUN /cluster/node/n1/ens1f0/master");
    let live = late.wait_for("live event", |v| v["delivery"] == "live");
    assert_eq!(live["value"], "FREERUN");
    assert_eq!(live["seq"], 3);
    assert_no_duplicates(&late);
    // And the O-RAN pull answers the same.
    let state = broker.tool(&["state", "PTP_LOCK_STATE"]);
    let text = String::from_utf8_lossy(&state.stdout);
    assert!(
        text.contains("FREERUN") && text.contains("LOCKED") && !text.contains("HOLDOVER"),
        "{text}"
    );
}

#[test]
fn a_killed_broker_is_reported_lost_then_regained_without_duplicates() {
    let args = fixed_ports();
    let mut broker = Broker::start_exact(&as_strs(&args));
    let first_epoch = broker.endpoints.epoch;
    let out = broker.tool(&["emit", "OS_CLOCK_SYNC", "LOCKED"]);
    assert!(out.status.success());
    let mut probes: Vec<Probe> = (0..3)
        .map(|_| Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC", "SYNC_STATE"], &[]))
        .collect();
    for p in &mut probes {
        p.wait_for("connected", |v| v["status"] == "connected");
        assert_eq!(p.events()[0]["delivery"], "initial");
    }

    broker.kill9();
    for p in &mut probes {
        p.wait_for("lost", |v| v["status"] == "lost");
    }
    // A new broker on the same endpoints, with a new state before any client is back.
    let broker = Broker::start_exact(&as_strs(&args));
    assert_ne!(broker.endpoints.epoch, first_epoch);
    let out = broker.tool(&["emit", "OS_CLOCK_SYNC", "FREERUN"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let epoch = broker.endpoints.epoch;
    for p in &mut probes {
        p.wait_for("regained: a restart, not a reconnect", |v| {
            v["status"] == "restarted" && v["epoch"] == epoch
        });
        p.wait_for("the state set while it was away", |v| {
            v["value"] == "FREERUN" && v["kind"] == "event"
        });
    }
    // Emits after the restart are delivered, live.
    probes[0].send("emit SYNC_STATE FREERUN");
    for p in &mut probes {
        let e = p.wait_for("emit after restart", |v| {
            v["type"] == catalog::SYNC_STATE.oran_type()
        });
        assert_eq!(e["delivery"], "live");
        assert_no_duplicates(p);
        assert_eq!(p.stats()["restarts"], 1);
    }
}

#[test]
fn a_stalled_callback_overflows_then_ends_on_the_current_state() {
    let _heavy = crate::util::heavy();
    let broker = Broker::start(&[]);
    // The callback blocks on its first live event until released, which
    // happens only after all 10000 events were emitted: the client's queue
    // (8192) overflows however fast or slow the machine is.
    let mut stalled = Probe::start(
        &broker.endpoints,
        &["OS_CLOCK_SYNC"],
        &["--stall-until-release"],
    );
    let mut emitter = Probe::start(&broker.endpoints, &[], &[]);
    let total = 10_000;
    for i in 0..total {
        let value = if i == total - 1 {
            "FREERUN"
        } else if i % 2 == 0 {
            "LOCKED"
        } else {
            "HOLDOVER"
        };
        emitter.send(&format!("emit OS_CLOCK_SYNC {value}"));
    }
    wait_until("all emits acknowledged", || {
        emitter.drain();
        emitter
            .seen
            .iter()
            .filter(|v| v["kind"] == "emitted")
            .count()
            == total
    });
    assert!(
        emitter
            .seen
            .iter()
            .all(|v| v["kind"] != "emitted" || v["ok"] == true)
    );
    stalled.send("release");
    let last_seq = total as u64;
    let last = stalled.wait_for("the final state", |v| v["seq"] == last_seq);
    assert_eq!(last["value"], "FREERUN");
    let stats = stalled.stats();
    assert!(stats["overflows"].as_u64() >= Some(1), "{stats}");
    assert!(
        stats["skipped"].as_u64() >= Some(1),
        "the skip is counted: {stats}"
    );
    assert!(
        stalled.events().iter().any(|e| e["delivery"] == "repaired"),
        "the skip is visible"
    );
    assert!(
        stalled.events().len() < total,
        "intermediate states were skipped"
    );
    assert_no_duplicates(&stalled);
    let seqs: Vec<u64> = stalled
        .events()
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order");
}

#[test]
fn events_dropped_by_the_broker_are_seen_as_a_gap_and_repaired() {
    let dir = std::env::temp_dir().join(format!("ptp-broker-gap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("tiny-queue.toml");
    // A PUB queue of one event: a burst makes the broker drop for PUB.
    std::fs::write(&config, "publish_queue = 1\nheartbeat_ms = 100\n").expect("write");
    let config = config.display().to_string();
    let broker = Broker::start(&["--config", &config]);
    let mut watcher = Probe::start(&broker.endpoints, &["PTP_CLOCK_CLASS"], &[]);
    let mut emitter = Probe::start(&broker.endpoints, &[], &[]);
    let mut sent = 0;
    while broker.stats()["dropped_publish"] == 0 {
        for _ in 0..500 {
            emitter.send("emit PTP_CLOCK_CLASS 7");
        }
        sent += 500;
        assert!(sent < 50_000, "the broker never dropped");
    }
    emitter.send("emit PTP_CLOCK_CLASS 6");
    wait_until("the final state", || {
        watcher.drain();
        last_value(&watcher).as_deref() == Some("6")
    });
    assert!(
        watcher.stats()["gaps"].as_u64() >= Some(1),
        "the gap was reported"
    );
    assert_no_duplicates(&watcher);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn fifty_client_processes_through_a_restart() {
    let _heavy = crate::util::heavy();
    let args = fixed_ports();
    let mut broker = Broker::start_exact(&as_strs(&args));
    let n = 50;
    let mut probes: Vec<Probe> = (0..n)
        .map(|_| Probe::spawn(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]))
        .collect();
    for p in &mut probes {
        p.wait_for("ready", |v| v["kind"] == "ready");
    }
    let out = broker.tool(&["emit", "OS_CLOCK_SYNC", "HOLDOVER"]);
    assert!(out.status.success());
    for p in &mut probes {
        p.wait_for("event before restart", |v| v["value"] == "HOLDOVER");
    }
    broker.kill9();
    for p in &mut probes {
        p.wait_for("lost", |v| v["status"] == "lost");
    }
    let broker = Broker::start_exact(&as_strs(&args));
    let epoch: Value = broker.endpoints.epoch.into();
    for p in &mut probes {
        p.wait_for("regained: a restart, not a reconnect", |v| {
            v["status"] == "restarted" && v["epoch"] == epoch
        });
        // The new run holds nothing: the dead run's HOLDOVER is not kept.
        p.wait_for("state unknown", |v| {
            v["delivery"] == "unknown" && v["epoch"] == epoch
        });
    }
    let out = broker.tool(&["emit", "OS_CLOCK_SYNC", "LOCKED"]);
    assert!(out.status.success());
    for p in &mut probes {
        p.wait_for("event after restart", |v| v["value"] == "LOCKED");
        assert_no_duplicates(p);
    }
}
