//! Scenario 4: the broker's sinks (docs/SINKS.md), subscribed at run time
//! with `ptp-broker subscribe` as a user would, and checked against what
//! the broker counts (`ptp-broker stats`: `sink.ID.delivered`, `dropped`,
//! `failed`).
//!
//! - [`webhooks()`]: one event to K webhooks (`bench-sub --mode http`), the
//!   broker's webhook sink against the upstream's own model (the emitter
//!   POSTs to all K itself), in interleaved rounds A, B, A, B so that drift
//!   of the machine does not land on one system.
//! - [`rate`]: the highest zero-loss rate into one JSON-RPC receiver
//!   (notification and `--sync`) and into one NATS subscriber behind
//!   nats-server, with the rate search of scenario 1.
//!
//! This file holds what both use: the broker's CLI and its counters.

mod rates;
mod webhooks;

use std::collections::BTreeMap;

use anyhow::{Context, bail};

pub use rates::{Sink, SinkRate, rate};
pub use webhooks::{WebhookFanout, webhooks};

use crate::harness::Outcome;
use crate::peers::{Env, Running};
use crate::wire;

/// A subscription's counters, or their sum.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    pub delivered: u64,
    pub retried: u64,
    pub failed: u64,
    pub dropped: u64,
}

impl Counters {
    fn add(&mut self, other: Counters) {
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.failed += other.failed;
        self.dropped += other.dropped;
    }
}

/// `ptp-broker --query Q subscribe URI --type T EXTRA...`: the new id.
fn subscribe(env: &Env, query: &str, uri: &str, extra: &[&str]) -> anyhow::Result<String> {
    let out = env
        .command("ptp-broker")
        .args(["--query", query, "--log", "warn", "subscribe", uri])
        .args(["--type", wire::load::topic()])
        .args(extra)
        .output()
        .context("run ptp-broker subscribe")?;
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || id.is_empty() || id.contains(char::is_whitespace) {
        bail!(
            "ptp-broker subscribe {uri}: {}{}",
            String::from_utf8_lossy(&out.stderr).trim(),
            id
        );
    }
    Ok(id)
}

/// `ptp-broker --query Q stats`: every counter. Asked up to three times:
/// a busy machine may keep the query from being answered in time once.
fn stats(env: &Env, query: &str) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut attempts = 0;
    let out = loop {
        attempts += 1;
        let out = env
            .command("ptp-broker")
            .args(["--query", query, "--log", "warn", "stats"])
            .output()
            .context("run ptp-broker stats")?;
        if out.status.success() {
            break out;
        }
        if attempts == 3 {
            bail!("ptp-broker stats: {}", String::from_utf8_lossy(&out.stderr));
        }
    };
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((name.to_owned(), value.trim().parse().ok()?))
        })
        .collect())
}

/// The counters of subscription `id`.
fn counters(stats: &BTreeMap<String, u64>, id: &str) -> anyhow::Result<Counters> {
    let get = |name: &str| {
        let key = format!("sink.{id}.{name}");
        stats
            .get(&key)
            .copied()
            .with_context(|| format!("stats has no {key}"))
    };
    Ok(Counters {
        delivered: get("delivered")?,
        retried: get("retried")?,
        failed: get("failed")?,
        dropped: get("dropped")?,
    })
}

/// The broker's view of a run whose emitter numbered its events
/// 1..=`last` (warm-up and measured): the counters of the subscriptions
/// `ids`, summed, and what is off — every event should be delivered to
/// every subscription, none dropped or failed. Retries are not a loss.
fn broker_view(
    env: &Env,
    broker: &Running,
    ids: &[String],
    outcome: &Outcome,
) -> anyhow::Result<(Counters, Option<String>)> {
    let query = broker.query.as_deref().context("no query endpoint")?;
    let stats = stats(env, query)?;
    let mut sum = Counters::default();
    for id in ids {
        sum.add(counters(&stats, id)?);
    }
    let expected = outcome.emit.last * ids.len() as u64;
    let problem = if sum.dropped > 0 {
        Some(format!("broker: {} dropped, queue full", sum.dropped))
    } else if sum.failed > 0 {
        Some(format!("broker: {} failed", sum.failed))
    } else if sum.delivered != expected {
        Some(format!("broker: delivered {} of {expected}", sum.delivered))
    } else {
        None
    };
    Ok((sum, problem))
}
