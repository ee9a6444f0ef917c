//! Only the truth reaches a callback: forged pushes and bad values are
//! refused, synthetic emits follow the emit policy, every event says where it
//! came from, and a restarted broker never leaves a client with the dead
//! run's LOCKED.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

use crate::upstream::{SIM_RESOURCES, Sim, wait_subscribed};
use crate::util::{Broker, DEADLINE, Probe, free_port, wait_until};

/// POST `body` as JSON to `path` on `addr`; the status code.
fn post(addr: &str, path: &str, body: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).expect("connect to the receiver");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

const FORGED_LOCKED: &str = r#"{"specversion":"1.0","id":"f0f0f0f0-0000-4000-8000-000000000000","source":"/sync/ptp-status/lock-state","type":"event.sync.ptp-status.ptp-state-change","time":"2999-01-01T00:00:00Z","data":{"version":"1.0","values":[{"ResourceAddress":"/cluster/node/node1/ens1f0/master","data_type":"notification","value_type":"enumeration","value":"LOCKED"}]}}"#;

/// The state table as `ptp-broker state --json` prints it.
fn state(broker: &Broker) -> Vec<Value> {
    let out = broker.tool(&["state", "--json"]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn forged_pushes_are_refused_and_the_upstream_owns_its_types() {
    let sim = Sim::start(free_port(), "redhat");
    let broker = Broker::start(&["--upstream", &sim.url, "--node", "node1"]);
    wait_subscribed(&sim, &broker, SIM_RESOURCES);
    let http = broker.endpoints.http.clone().expect("receiver");
    let mut probe = Probe::start(&broker.endpoints, &["PTP_LOCK_STATE"], &[]);
    let before = state(&broker);

    // Anyone reaching the receiver: the seed's path, a guessed secret.
    assert_eq!(post(&http, "/event", FORGED_LOCKED), 403);
    assert_eq!(
        post(&http, &format!("/event/{}", "a".repeat(32)), FORGED_LOCKED),
        403
    );
    assert_eq!(state(&broker), before, "nothing changed");
    let stats = broker.stats();
    assert_eq!(stats["rejected_http_unauthorized"], 2, "{stats:?}");

    // A synthetic emit for what the upstream owns is refused, with the reason.
    let out = broker.tool(&["emit", "PTP_LOCK_STATE", "LOCKED"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("owns the O-RAN"), "{err}");
    probe.send("emit OS_CLOCK_SYNC FREERUN");
    let answer = probe.wait_for("the emit answer", |v| v["kind"] == "emitted");
    assert_eq!(answer["ok"], false);
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("emit_policy = protect-upstream")),
        "{answer}"
    );
    // An application type is the application's own.
    let out = broker.tool(&["emit", "com.example.radio.carrier", "1"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(broker.stats()["rejected_emit_policy"], 2);

    // The upstream's own pushes, on the secret callback, still arrive,
    // marked as the upstream's.
    let ids = sim.step();
    let (_, id) = ids
        .iter()
        .find(|(t, _)| t == "event.sync.ptp-status.ptp-state-change")
        .expect("a lock state event");
    let got = probe.wait_for("the pushed event", |v| v["id"] == id.as_str());
    assert_eq!(got["origin"], "upstream");
    assert!(
        state(&broker)
            .iter()
            .all(|e| e["origin"] == "upstream" || e["type"] == "com.example.radio.carrier")
    );
}

#[test]
fn bad_values_are_refused_on_emit_with_the_reason() {
    let broker = Broker::start(&[]);
    let mut probe = Probe::start(&broker.endpoints, &[], &[]);
    for (line, want) in [
        (
            "emit-value PTP_LOCK_STATE enumeration WOBBLY",
            "\"WOBBLY\" is not a PTP_LOCK_STATE state; allowed: LOCKED, HOLDOVER, FREERUN",
        ),
        (
            "emit-value PTP_LOCK_STATE enumeration sleepy",
            "is not a PTP_LOCK_STATE state",
        ),
        (
            "emit-value OS_CLOCK_SYNC enumeration 42",
            "\"42\" is not a OS_CLOCK_SYNC state",
        ),
        (
            "emit-value PTP_LOCK_STATE enumeration LOCKED\u{202e}",
            "U+202E",
        ),
        (
            "emit-value PTP_CLOCK_CLASS metric 999",
            "is not a clock class: an integer 0–255",
        ),
        (
            "emit-value PTP_CLOCK_CLASS enumeration LOCKED",
            "carries a number, not a state",
        ),
        (
            "emit-value GNSS_SYNC_STATUS enumeration HOLDOVER-ISH",
            "is not a GNSS_SYNC_STATUS state",
        ),
    ] {
        let from = probe.lines_seen();
        probe.send(line);
        let answer = probe.wait_for_after(from, line, |v| v["kind"] == "emitted");
        assert_eq!(answer["ok"], false, "{line}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(want), "{line}: want {want:?} in {error:?}");
    }
    // The CLI says the same.
    let out = broker.tool(&["emit", "PTP_CLOCK_CLASS", "999"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("clock class"));
    let stats = broker.stats();
    assert_eq!(stats["rejected_value"], 8, "{stats:?}");
    assert_eq!(stats["accepted_emit"], 0, "{stats:?}");
    // Any spelling of a known state is stored in O-RAN all caps.
    let from = probe.lines_seen();
    probe.send("emit-value PTP_LOCK_STATE enumeration holdover");
    let answer = probe.wait_for_after(from, "holdover", |v| v["kind"] == "emitted");
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(state(&broker)[0]["data"]["values"][0]["value"], "HOLDOVER");
}

#[test]
fn origin_is_visible_to_callbacks_and_in_watch() {
    let broker = Broker::start(&[]);
    let mut probe = Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]);
    let mut watch = std::process::Command::new(crate::util::binary("ptp-broker"))
        .args([
            "watch",
            "--json",
            "--pub",
            &broker.endpoints.publish,
            "--query",
            &broker.endpoints.query,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("watch");
    let stdout = watch.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Emit until watch (which subscribes in the background) shows one.
    let mut seen = None;
    let start = std::time::Instant::now();
    while seen.is_none() {
        assert!(start.elapsed() < DEADLINE, "watch printed nothing");
        let out = broker.tool(&["emit", "OS_CLOCK_SYNC", "HOLDOVER"]);
        assert!(out.status.success(), "{out:?}");
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(300)) {
            seen = serde_json::from_str::<Value>(&line).ok();
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(seen.expect("a line")["origin"], "synthetic");
    let got = probe.wait_for("a live event", |v| v["delivery"] == "live");
    assert_eq!(got["origin"], "synthetic");
    // The terminal form says it too.
    let out = broker.tool(&["state"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("[synthetic]"),
        "{out:?}"
    );
}

/// Restart `broker` on the same endpoints right away: an outage far shorter
/// than the clients' heartbeat timeout (3 heartbeats of 1 s).
fn restart_at_once(broker: &mut Broker) -> Broker {
    let e = broker.endpoints.clone();
    broker.kill9();
    Broker::start_exact(&["--emit", &e.emit, "--pub", &e.publish, "--query", &e.query])
}

#[test]
fn a_restart_leaves_no_stale_locked_and_is_reported() {
    let ports: Vec<String> = (0..3)
        .map(|_| format!("tcp://127.0.0.1:{}", free_port()))
        .collect();
    let mut broker = Broker::start_exact(&[
        "--emit", &ports[0], "--pub", &ports[1], "--query", &ports[2],
    ]);
    let out = broker.tool(&["emit", "PTP_LOCK_STATE", "LOCKED"]);
    assert!(out.status.success(), "{out:?}");
    let mut probe = Probe::start(&broker.endpoints, &["PTP_LOCK_STATE"], &[]);
    let initial = probe.wait_for("the initial LOCKED", |v| v["delivery"] == "initial");
    assert_eq!(initial["value"], "LOCKED");
    let first_epoch = broker.endpoints.epoch;

    let second = restart_at_once(&mut broker);
    // The short outage is reported as a restart...
    let status = probe.wait_for("the restart", |v| v["status"] == "restarted");
    assert_eq!(status["previous"], first_epoch);
    assert_eq!(status["epoch"], second.endpoints.epoch);
    // ...and the new run holds no lock state: the callback is told so.
    let unknown = probe.wait_for("state unknown", |v| v["delivery"] == "unknown");
    assert_eq!(unknown["type"], "event.sync.ptp-status.ptp-state-change");
    assert_eq!(unknown["resource"], "/sync/ptp-status/lock-state");
    assert_eq!(unknown["value"], Value::Null, "no value: not LOCKED");
    assert!(
        !probe
            .events()
            .iter()
            .any(|v| v["epoch"] == second.endpoints.epoch && v["value"] == "LOCKED"),
        "no LOCKED from the new run"
    );
    // A new state from the new run follows as usual.
    let out = second.tool(&["emit", "PTP_LOCK_STATE", "FREERUN"]);
    assert!(out.status.success(), "{out:?}");
    probe.wait_for("FREERUN after the restart", |v| {
        v["value"] == "FREERUN" && v["epoch"] == second.endpoints.epoch
    });
    probe.send("stats");
    let stats = probe.wait_for("stats", |v| v["kind"] == "stats");
    assert_eq!(stats["unknown"], 1, "{stats}");
    assert_eq!(stats["restarts"], 1, "{stats}");
}

#[test]
fn a_broker_following_an_upstream_says_what_it_does_not_know_yet() {
    // An upstream that is not there: the broker follows it, knows nothing.
    let url = format!(
        "http://127.0.0.1:{}/api/ocloudNotifications/v2",
        free_port()
    );
    let broker = Broker::start(&["--upstream", &url, "--node", "node1"]);
    let mut probe = Probe::start(&broker.endpoints, &["OS_CLOCK_SYNC"], &[]);
    let unknown = probe.wait_for("state unknown", |v| v["kind"] == "event");
    assert_eq!(unknown["delivery"], "unknown", "{unknown}");
    assert_eq!(unknown["resource"], "/sync/sync-status/os-clock-sync-state");
    let out = broker.tool(&["state"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("event.sync.sync-status.os-clock-sync-state-change UNKNOWN"),
        "{text}"
    );
    wait_until("the probe to stay registered", || probe.events().len() == 1);
}
