//! The JSON the monitor serves: `/varz` (the broker, its upstream, every
//! counter), `/connz` (the PUB subscribers) and the live page's status.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::Monitor;
use crate::core::health::UpstreamView;

/// Every counter `ptp-broker stats` shows, by name: the core's, the state
/// table's size, and each sink subscription's.
pub fn counters(monitor: &Monitor) -> BTreeMap<String, u64> {
    let mut counters = monitor.broker.stats().snapshot();
    let (entries, bytes) = monitor.broker.table_size();
    counters.insert("state_entries".to_owned(), entries as u64);
    counters.insert("state_bytes".to_owned(), bytes as u64);
    monitor.subscriptions.counters(&mut counters);
    counters
}

fn upstream(view: &UpstreamView) -> Json {
    if !view.followed {
        return Json::Null;
    }
    let age = |t: Option<std::time::Instant>| t.map(|t| t.elapsed().as_secs_f64());
    json!({
        "url": view.url,
        "connected": view.connected,
        "wanted": view.wanted,
        "subscriptions": view.subscribed,
        "seeded": view.seeded,
        "last_contact_age_s": age(view.last_contact),
        "last_push_age_s": age(view.last_push),
    })
}

/// The live page's `status` message.
pub fn status(monitor: &Monitor) -> Json {
    let health = monitor.broker.health();
    let not_ready = monitor.not_ready();
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "node": monitor.node,
        "epoch": monitor.broker.epoch(),
        "seq": monitor.broker.seq(),
        "uptime_s": health.uptime().as_secs(),
        "ready": not_ready.is_empty(),
        "not_ready": not_ready,
        "subscribers": monitor.publisher.stats().subscribers,
        "upstream": upstream(&health.upstream()),
    })
}

/// `/varz`.
pub fn varz(monitor: &Monitor) -> Json {
    let mut out = status(monitor);
    if let Json::Object(o) = &mut out {
        o.insert("now".into(), json!(chrono::Utc::now().to_rfc3339()));
        o.insert(
            "max_subscribers".into(),
            json!(monitor.publisher.max_connections()),
        );
        o.insert(
            "subscriber_queue".into(),
            json!(monitor.publisher.queue_capacity()),
        );
        o.insert("counters".into(), json!(counters(monitor)));
    }
    out
}

/// The PUB socket's connections, as `stats` lists them.
pub fn connections(monitor: &Monitor) -> Vec<proto::query::Connection> {
    monitor.publisher.connections()
}

/// `/connz`.
pub fn connz(monitor: &Monitor) -> Json {
    let connections = connections(monitor);
    json!({
        "now": chrono::Utc::now().to_rfc3339(),
        "num_connections": connections.len(),
        "max_connections": monitor.publisher.max_connections(),
        "queue_capacity": monitor.publisher.queue_capacity(),
        "connections": connections,
    })
}
