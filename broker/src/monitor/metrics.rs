//! `/metrics`: everything `ptp-broker stats` counts, the sync state of
//! every resource, the upstream, the PUB subscribers and the sinks, in the
//! Prometheus text format (docs/OPERATIONS.md lists every metric).
//!
//! Each scrape builds its families from the broker's live numbers (a fresh
//! registry, nothing cached), so a value is never older than the scrape.

use std::collections::BTreeMap;

use catalog::SyncState;
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{Encoder, GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

use super::Monitor;
use super::views::counters;
use crate::core::stats;

/// Metric names start with this.
const PREFIX: &str = "ptp_broker_";

/// The number `ptp_broker_sync_state` gives a state. FREERUN, LOCKED and
/// HOLDOVER are 0, 1 and 2 as in the ptp-operator's
/// `openshift_ptp_clock_state`; the others follow. Never renumbered.
pub fn state_number(state: SyncState) -> i64 {
    match state {
        SyncState::Freerun => 0,
        SyncState::Locked => 1,
        SyncState::Holdover => 2,
        SyncState::Synchronized => 3,
        SyncState::AcquiringSync => 4,
        SyncState::Unlocked => 5,
        SyncState::Booting => 6,
        SyncState::Unknown => 7,
        SyncState::AntennaDisconnected => 8,
        SyncState::AntennaShortCircuit => 9,
        SyncState::FailureMultipath => 10,
        SyncState::FailureNofix => 11,
        SyncState::FailureLowSnr => 12,
        SyncState::FailurePll => 13,
        // A state added to the catalog later is not silently LOCKED.
        _ => 99,
    }
}

/// The whole exposition.
pub fn render(monitor: &Monitor) -> String {
    let families = match families(monitor) {
        Ok(families) => families,
        // Only a programming error (a bad name or a label count) gets here.
        Err(e) => return format!("# metrics unavailable: {e}\n"),
    };
    let mut out = Vec::with_capacity(16 * 1024);
    if let Err(e) = TextEncoder::new().encode(&families, &mut out) {
        return format!("# metrics unavailable: {e}\n");
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn help(text: &str) -> String {
    // One line: the doc comment's lines joined.
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn gauge(registry: &Registry, name: &str, help: &str, value: f64) -> prometheus::Result<()> {
    let g = prometheus::Gauge::with_opts(Opts::new(format!("{PREFIX}{name}"), help))?;
    g.set(value);
    registry.register(Box::new(g))
}

fn families(monitor: &Monitor) -> prometheus::Result<Vec<MetricFamily>> {
    let registry = Registry::new();
    let broker = &monitor.broker;
    let health = broker.health();

    let info = IntGaugeVec::new(
        Opts::new(
            format!("{PREFIX}info"),
            "The broker: version, node and this run's epoch (always 1).",
        ),
        &["version", "node", "epoch"],
    )?;
    info.with_label_values(&[
        env!("CARGO_PKG_VERSION"),
        monitor.node.as_str(),
        &broker.epoch().to_string(),
    ])
    .set(1);
    registry.register(Box::new(info))?;
    gauge(
        &registry,
        "uptime_seconds",
        "Seconds since the broker started.",
        health.uptime().as_secs_f64(),
    )?;
    gauge(
        &registry,
        "ready",
        "1 when /readyz answers 200 (every socket bound; a followed upstream reached, subscribed, seeded and fresh).",
        f64::from(u8::from(monitor.not_ready().is_empty())),
    )?;
    gauge(
        &registry,
        "seq",
        "Sequence number of the latest accepted event.",
        broker.seq() as f64,
    )?;

    // Every counter of `stats`, with its documentation as help.
    let all = counters(monitor);
    for (name, doc) in stats::HELP {
        let value = all.get(*name).copied().unwrap_or_default();
        if stats::GAUGES.contains(name) {
            gauge(&registry, name, &help(doc), value as f64)?;
        } else {
            let c = prometheus::IntCounter::with_opts(Opts::new(
                format!("{PREFIX}{name}_total"),
                help(doc),
            ))?;
            c.inc_by(value);
            registry.register(Box::new(c))?;
        }
    }
    gauge(
        &registry,
        "state_entries",
        "Rows in the state table (type, resource address).",
        all.get("state_entries").copied().unwrap_or_default() as f64,
    )?;
    gauge(
        &registry,
        "state_bytes",
        "Bytes the state table's rows are charged.",
        all.get("state_bytes").copied().unwrap_or_default() as f64,
    )?;

    upstream(&registry, monitor)?;
    resources(&registry, monitor)?;
    subscribers(&registry, monitor)?;
    sinks(&registry, &all)?;
    registry.register(Box::new(health.publish_latency.clone()))?;
    Ok(registry.gather())
}

fn upstream(registry: &Registry, monitor: &Monitor) -> prometheus::Result<()> {
    let view = monitor.broker.health().upstream();
    let flag = |b: bool| f64::from(u8::from(b));
    gauge(
        registry,
        "upstream_followed",
        "1 when an upstream O-RAN event API is followed.",
        flag(view.followed),
    )?;
    gauge(
        registry,
        "upstream_connected",
        "1 when the subscription manager's last pass reached the upstream.",
        flag(view.connected),
    )?;
    gauge(
        registry,
        "upstream_subscriptions",
        "Upstream subscriptions held now (0 while the upstream is unreachable).",
        view.subscribed as f64,
    )?;
    gauge(
        registry,
        "upstream_subscriptions_wanted",
        "Upstream resources to subscribe to (those it does not offer left out).",
        view.wanted as f64,
    )?;
    gauge(
        registry,
        "upstream_seeded",
        "Subscribed resources whose CurrentState was read since subscribing or since the upstream came back.",
        view.seeded as f64,
    )?;
    if let Some(t) = view.last_push {
        gauge(
            registry,
            "upstream_last_push_age_seconds",
            "Seconds since the upstream last pushed an event that was taken (absent: never).",
            t.elapsed().as_secs_f64(),
        )?;
    }
    if let Some(t) = view.last_contact {
        gauge(
            registry,
            "upstream_last_contact_age_seconds",
            "Seconds since the upstream last answered a pass or pushed (absent: never).",
            t.elapsed().as_secs_f64(),
        )?;
    }
    Ok(())
}

/// One series per (type, resource) of the O-RAN types in the state table.
fn resources(registry: &Registry, monitor: &Monitor) -> prometheus::Result<()> {
    let labels = &["type", "resource"];
    let state = IntGaugeVec::new(
        Opts::new(
            format!("{PREFIX}sync_state"),
            "Sync state of each resource: 0 FREERUN, 1 LOCKED, 2 HOLDOVER, 3 SYNCHRONIZED, 4 ACQUIRING-SYNC, 5 UNLOCKED, 6 BOOTING, 7 UNKNOWN, 8 ANTENNA-DISCONNECTED, 9 ANTENNA-SHORT-CIRCUIT, 10 FAILURE-MULTIPATH, 11 FAILURE-NOFIX, 12 FAILURE-LOW-SNR, 13 FAILURE-PLL (docs/OPERATIONS.md).",
        ),
        labels,
    )?;
    let badness = IntGaugeVec::new(
        Opts::new(
            format!("{PREFIX}sync_badness"),
            "How far each resource is from synchronized: 0 LOCKED or SYNCHRONIZED, 1 HOLDOVER, 2 any other state. Alert on > 0.",
        ),
        labels,
    )?;
    let offset = GaugeVec::new(
        Opts::new(
            format!("{PREFIX}offset_seconds"),
            "The offset a state event carried, in seconds (the event says ns; Prometheus wants base units).",
        ),
        labels,
    )?;
    let clock_class = GaugeVec::new(
        Opts::new(
            format!("{PREFIX}clock_class"),
            "PTP clock class of each resource (6 locked, 7 holdover in spec, 248 free running…).",
        ),
        labels,
    )?;
    let value = GaugeVec::new(
        Opts::new(
            format!("{PREFIX}metric_value"),
            "The number an event of another metric type carried (SyncE clock quality…).",
        ),
        labels,
    )?;
    let age = GaugeVec::new(
        Opts::new(
            format!("{PREFIX}state_age_seconds"),
            "Seconds since this broker took each resource's latest event.",
        ),
        labels,
    )?;
    monitor.broker.each_row(|entry| {
        let Some(event) = entry.event() else { return };
        if event.event_type.oran().is_none() {
            return;
        }
        let values = [event.event_type.as_str(), event.resource_address()];
        age.with_label_values(&values)
            .set(entry.received.elapsed().as_secs_f64());
        match event.state() {
            Some(s) => {
                state.with_label_values(&values).set(state_number(s));
                badness
                    .with_label_values(&values)
                    .set(i64::from(s.badness()));
                if let Some(ns) = event.metric() {
                    offset.with_label_values(&values).set(ns * 1e-9);
                }
            }
            None => {
                if let Some(number) = event.metric() {
                    let family =
                        if event.event_type.as_str() == catalog::PTP_CLOCK_CLASS.oran_type() {
                            &clock_class
                        } else {
                            &value
                        };
                    family.with_label_values(&values).set(number);
                }
            }
        }
    });
    for family in [
        Box::new(state) as Box<dyn Collector>,
        Box::new(badness),
        Box::new(offset),
        Box::new(clock_class),
        Box::new(value),
        Box::new(age),
    ] {
        registry.register(family)?;
    }
    Ok(())
}

fn subscribers(registry: &Registry, monitor: &Monitor) -> prometheus::Result<()> {
    let connections = monitor.publisher.connections();
    gauge(
        registry,
        "subscribers",
        "PUB subscriber connections now.",
        connections.len() as f64,
    )?;
    gauge(
        registry,
        "subscriber_queue_capacity",
        "Messages one PUB subscriber may have queued before it loses some.",
        monitor.publisher.queue_capacity() as f64,
    )?;
    let depth = IntGaugeVec::new(
        Opts::new(
            format!("{PREFIX}subscriber_queue_depth"),
            "Messages queued for each PUB subscriber connection.",
        ),
        &["peer"],
    )?;
    let dropped = IntCounterVec::new(
        Opts::new(
            format!("{PREFIX}subscriber_dropped_total"),
            "Messages dropped for each PUB subscriber connection because its queue was full.",
        ),
        &["peer"],
    )?;
    for c in &connections {
        depth
            .with_label_values(&[c.peer.as_str()])
            .set(i64::try_from(c.queue_depth).unwrap_or(i64::MAX));
        dropped
            .with_label_values(&[c.peer.as_str()])
            .inc_by(c.dropped);
    }
    registry.register(Box::new(depth))?;
    registry.register(Box::new(dropped))
}

/// The `sink.ID.NAME` counters as one family per NAME, labelled by id.
fn sinks(registry: &Registry, all: &BTreeMap<String, u64>) -> prometheus::Result<()> {
    const NAMES: [(&str, &str); 6] = [
        (
            "delivered",
            "Events each sink subscription's destination took.",
        ),
        (
            "retried",
            "Attempts after a first one failed, per sink subscription.",
        ),
        (
            "failed",
            "Events that finally failed, per sink subscription.",
        ),
        (
            "dropped",
            "Events dropped from each sink subscription's queue (the newest state of their resource is still delivered).",
        ),
        (
            "dead_lettered",
            "Failed events handed to each sink subscription's dead-letter destination.",
        ),
        ("queue_depth", "Events queued for each sink subscription."),
    ];
    for (name, doc) in NAMES {
        let rows = all.iter().filter_map(|(key, value)| {
            let (id, counter) = key.strip_prefix("sink.")?.rsplit_once('.')?;
            (counter == name).then_some((id, *value))
        });
        if name == "queue_depth" {
            let family =
                IntGaugeVec::new(Opts::new(format!("{PREFIX}sink_queue_depth"), doc), &["id"])?;
            for (id, value) in rows {
                family
                    .with_label_values(&[id])
                    .set(i64::try_from(value).unwrap_or(i64::MAX));
            }
            registry.register(Box::new(family))?;
        } else {
            let family = IntCounterVec::new(
                Opts::new(format!("{PREFIX}sink_{name}_total"), doc),
                &["id"],
            )?;
            for (id, value) in rows {
                family.with_label_values(&[id]).inc_by(value);
            }
            registry.register(Box::new(family))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_its_own_number() {
        let mut seen = std::collections::HashSet::new();
        for state in SyncState::ALL {
            let n = state_number(*state);
            assert_ne!(n, 99, "{state} has no number");
            assert!(seen.insert(n), "{state} shares {n}");
        }
        assert_eq!(state_number(SyncState::Freerun), 0);
        assert_eq!(state_number(SyncState::Locked), 1);
        assert_eq!(state_number(SyncState::Holdover), 2);
    }

    #[test]
    fn docs_operations_lists_every_state_number() {
        let doc = include_str!("../../../docs/OPERATIONS.md");
        for state in SyncState::ALL {
            let row = format!("| {state} | {} |", state_number(*state));
            assert!(doc.contains(&row), "docs/OPERATIONS.md lacks {row:?}");
        }
    }
}
