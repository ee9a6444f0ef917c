//! Subscriptions and their sinks (docs/SINKS.md), end to end: a real
//! broker, subscriptions made with the CLI or the config file, events
//! emitted with the CLI, and the real receivers of `crate::peers`.
//!
//! - `webhook`: CloudEvents structured and binary, knative's retries,
//!   Retry-After, dead letters, filters, the initial notification;
//! - `jsonrpc`: OpenSIPS `event_stream` framing, `event_param`, sync mode,
//!   timeouts, reconnects;
//! - `nats`: subjects, one server, JetStream, a cluster of three;
//! - `persistence`: run-time subscriptions survive `kill -9`, unsubscribe,
//!   config-declared subscriptions stay;
//! - `isolation`: a slow destination delays nothing but itself;
//! - `cli`: wrong URIs and options are refused with the reason.
//!
//! Every wait has a deadline; nothing sleeps to synchronize.

#![allow(dead_code)]

mod cli;
mod isolation;
mod jsonrpc;
mod nats;
mod persistence;
mod webhook;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::peers::TempDir;
use crate::util::{Broker, DEADLINE};

/// `OS_CLOCK_SYNC`'s type string.
pub const OS: &str = "event.sync.sync-status.os-clock-sync-state-change";
/// `PTP_LOCK_STATE`'s type string (LOCKED, HOLDOVER, FREERUN).
pub const PTP: &str = "event.sync.ptp-status.ptp-state-change";
/// `PTP_CLOCK_CLASS`'s type string.
pub const CLOCK_CLASS: &str = "event.sync.ptp-status.ptp-clock-class-change";
/// `GNSS_SYNC_STATUS`'s type string.
pub const GNSS: &str = "event.sync.gnss-status.gnss-state-change";

/// The sync states in turn, so consecutive events differ.
pub const STATES: [&str; 3] = ["LOCKED", "HOLDOVER", "FREERUN"];

/// A broker with its own state directory (removed on drop, after the broker).
pub struct Node {
    pub broker: Broker,
    pub state: TempDir,
}

impl Node {
    /// A broker with `--state-dir` in a fresh temp dir, plus `args`.
    pub fn start(name: &str, args: &[&str]) -> Node {
        let state = TempDir::new(name);
        let broker = start_in(&state, args);
        Node { broker, state }
    }

    /// kill -9 and start again with the same state dir and `args`.
    pub fn restart(&mut self, args: &[&str]) {
        self.broker.kill9();
        self.broker = start_in(&self.state, args);
    }
}

/// Start a broker whose `--state-dir` is `dir/state`.
pub fn start_in(dir: &TempDir, args: &[&str]) -> Broker {
    let state = dir.join("state");
    let mut full = vec!["--state-dir", state.as_str()];
    full.extend_from_slice(args);
    Broker::start(&full)
}

/// Run the tool; stdout on success, panics with stderr otherwise.
pub fn tool_ok(broker: &Broker, args: &[&str]) -> String {
    let out = broker.tool(args);
    assert!(
        out.status.success(),
        "ptp-broker {args:?} failed ({:?}): {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run the tool, expecting it to fail; its stderr (and stdout) as text.
pub fn tool_err(broker: &Broker, args: &[&str]) -> String {
    let out = broker.tool(args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !out.status.success(),
        "ptp-broker {args:?} should have failed, printed: {text}"
    );
    text
}

/// `subscribe URI ARGS…`: the new id (the one line on stdout).
pub fn subscribe(broker: &Broker, uri: &str, args: &[&str]) -> String {
    let mut full = vec!["subscribe", uri];
    full.extend_from_slice(args);
    let out = tool_ok(broker, &full);
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "subscribe prints one line, the id: {out:?}");
    let id = lines[0].trim().to_owned();
    assert!(
        !id.is_empty()
            && id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "a subscription id is [A-Za-z0-9_-]{{1,64}}: {id:?}"
    );
    id
}

/// `subscriptions --json`, one object per line.
pub fn subscriptions(broker: &Broker) -> Vec<Value> {
    tool_ok(broker, &["subscriptions", "--json"])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect()
}

/// The ids `subscriptions --json` lists, sorted.
pub fn subscription_ids(broker: &Broker) -> Vec<String> {
    let mut ids: Vec<String> = subscriptions(broker)
        .iter()
        .map(|s| s["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

/// An event as `emit` reported it.
#[derive(Debug, Clone)]
pub struct Emitted {
    pub event_type: String,
    pub id: String,
    pub seq: u64,
    pub value: String,
}

/// `emit TYPE VALUE ARGS…` (e.g. `--offset N`, `--resource R`).
pub fn emit(broker: &Broker, event_type: &str, value: &str, args: &[&str]) -> Emitted {
    let mut full = vec!["emit", event_type, value];
    full.extend_from_slice(args);
    let out = tool_ok(broker, &full);
    // "emitted <type> <id> as seq <n>"
    let words: Vec<&str> = out.split_whitespace().collect();
    match words.as_slice() {
        ["emitted", t, id, "as", "seq", n] => Emitted {
            event_type: (*t).to_owned(),
            id: (*id).to_owned(),
            seq: n.parse().expect("seq"),
            value: value.to_ascii_uppercase(),
        },
        _ => panic!("unexpected emit output {out:?}"),
    }
}

/// `n` OS_CLOCK_SYNC events, states in turn, offset `i` to tell them apart.
pub fn emit_os(broker: &Broker, n: usize) -> Vec<Emitted> {
    (0..n)
        .map(|i| {
            let offset = i.to_string();
            emit(
                broker,
                "OS_CLOCK_SYNC",
                STATES[i % 3],
                &["--offset", &offset],
            )
        })
        .collect()
}

/// One counter (0 when absent).
pub fn stat(broker: &Broker, key: &str) -> u64 {
    broker.stats().get(key).copied().unwrap_or(0)
}

/// The counters of one subscription, `sink.ID.` stripped.
pub fn sink_stats(broker: &Broker, id: &str) -> BTreeMap<String, u64> {
    let prefix = format!("sink.{id}.");
    broker
        .stats()
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_owned(), v)))
        .collect()
}

/// Wait until subscription `id`'s counter `name` is `want`; then its counters.
pub fn wait_sink_stat(broker: &Broker, id: &str, name: &str, want: u64) -> BTreeMap<String, u64> {
    let start = Instant::now();
    loop {
        let stats = sink_stats(broker, id);
        if stats.get(name).copied().unwrap_or(0) == want {
            return stats;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "sink.{id}.{name} never became {want}: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The CloudEvent a sink sent carries what docs/SINKS.md lists, and is the
/// event `want` of this broker run.
pub fn assert_cloud_event(event: &Value, want: &Emitted, epoch: u64) {
    let ctx = || format!("{want:?} vs {event:#}");
    assert_eq!(event["specversion"], "1.0", "{}", ctx());
    assert_eq!(event["id"], want.id.as_str(), "{}", ctx());
    assert_eq!(event["type"], want.event_type.as_str(), "{}", ctx());
    assert!(
        event["source"].as_str().is_some_and(|s| !s.is_empty()),
        "{}",
        ctx()
    );
    assert!(event["time"].is_string(), "{}", ctx());
    assert!(event["data"]["version"].is_string(), "{}", ctx());
    let first = &event["data"]["values"][0];
    assert_eq!(first["value"], want.value.as_str(), "{}", ctx());
    for key in ["ResourceAddress", "data_type", "value_type"] {
        assert!(first[key].is_string(), "values[0].{key}: {}", ctx());
    }
    assert_eq!(event["epoch"], epoch, "{}", ctx());
    // "position in that run": the seq the broker gave the event.
    assert_eq!(event["seq"], want.seq, "{}", ctx());
    assert_eq!(event["origin"], "synthetic", "{}", ctx());
}

/// `seq` strictly increases over these events (per destination).
pub fn assert_seq_increases(events: &[Value]) {
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(
        seqs.len(),
        events.len(),
        "every event has a seq: {events:#?}"
    );
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq strictly increases per destination: {seqs:?}"
    );
}

/// The ids of these events, in order.
pub fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub fn emitted_ids(events: &[Emitted]) -> Vec<String> {
    events.iter().map(|e| e.id.clone()).collect()
}
