//! Scenario 4, webhook fan-out: one event to K webhooks, through the
//! broker's webhook sink (A) and POSTed by the emitter itself (B, what the
//! upstream does today), the same events at the same rate in interleaved
//! rounds.

use std::time::Duration;

use anyhow::Context;

use super::{Counters, broker_view, subscribe};
use crate::harness::{
    Emitter, Load, Outcome, Probe, Subscribers, each_delivery, quantile, run_load, run_load_with,
    until_last,
};
use crate::peers::{Env, System};
use crate::scenarios::Sizes;

/// Webhook fan-out, one row per system.
#[derive(Debug, Clone)]
pub struct WebhookFanout {
    pub system: String,
    /// Webhooks (one `bench-sub` process each).
    pub k: usize,
    /// Measured events over all rounds, and their rate.
    pub events: u64,
    pub rate: f64,
    pub rounds: u64,
    /// Deliveries of measured events received, and expected (events × K).
    pub delivered: u64,
    pub expected: u64,
    /// From the send to the moment the last of the K webhooks had it.
    pub last_p50: Duration,
    pub last_p99: Duration,
    pub last_max: Duration,
    /// From the send to each webhook's receipt, every delivery.
    pub each_p50: Duration,
    pub each_p99: Duration,
    /// What the process that POSTs spent: the broker (A), the emitter (B).
    pub cost: Cost,
    /// The broker's counters, summed over the subscriptions and the rounds
    /// (A only).
    pub counters: Option<Counters>,
    /// Lossless, in order, every answer 204, counters as expected.
    pub ok: bool,
    /// What was not as expected.
    pub problems: Vec<String>,
}

/// What one process spent over the measured batches.
#[derive(Debug, Clone)]
pub struct Cost {
    /// `ptp-broker` or `bench-emit`.
    pub process: &'static str,
    /// CPU time (user + system).
    pub cpu: Duration,
    /// Their wall time: from `go` to the last POST answered (B) or to every
    /// webhook's last event (A, the broker's backlog included).
    pub wall: Duration,
    /// Highest RSS sampled.
    pub peak_rss: u64,
}

/// What one round of one system gave.
#[derive(Default)]
struct Rounds {
    delivered: u64,
    expected: u64,
    last: Vec<Duration>,
    each: Vec<Duration>,
    cpu: Duration,
    wall: Duration,
    peak_rss: u64,
    counters: Option<Counters>,
    problems: Vec<String>,
}

impl Rounds {
    fn add(&mut self, outcome: &Outcome) -> anyhow::Result<()> {
        for s in &outcome.sockets {
            self.delivered += s.received.min(s.expected);
            self.expected += s.expected;
        }
        if !outcome.lossless() {
            let bad: u64 = outcome.sockets.iter().map(|s| s.bad).sum();
            let gaps: u64 = outcome.sockets.iter().map(|s| s.seq_gaps + s.n_gaps).sum();
            self.problems.push(format!(
                "{} lost, {gaps} gaps, {bad} bad, {} HTTP errors",
                outcome.lost(),
                outcome.emit.errors
            ));
        }
        self.last.extend(until_last(outcome)?);
        self.each.extend(each_delivery(outcome)?);
        self.cpu += outcome.cpu.unwrap_or_default();
        self.wall += outcome.wall;
        self.peak_rss = self.peak_rss.max(outcome.peak_rss.unwrap_or(0));
        Ok(())
    }

    fn row(
        mut self,
        system: String,
        process: &'static str,
        sizes: &Sizes,
        rate: f64,
        per_round: u64,
    ) -> WebhookFanout {
        self.last.sort();
        self.each.sort();
        let q = |v: &[Duration], q: f64| {
            if v.is_empty() {
                Duration::ZERO
            } else {
                quantile(v, q)
            }
        };
        if self.last.is_empty() {
            self.problems
                .push("no event reached every webhook".to_owned());
        }
        WebhookFanout {
            system,
            k: sizes.sink_webhooks,
            events: per_round * sizes.sink_rounds,
            rate,
            rounds: sizes.sink_rounds,
            delivered: self.delivered,
            expected: self.expected,
            last_p50: q(&self.last, 0.50),
            last_p99: q(&self.last, 0.99),
            last_max: q(&self.last, 1.0),
            each_p50: q(&self.each, 0.50),
            each_p99: q(&self.each, 0.99),
            cost: Cost {
                process,
                cpu: self.cpu,
                wall: self.wall,
                peak_rss: self.peak_rss,
            },
            counters: self.counters,
            ok: self.problems.is_empty(),
            problems: self.problems,
        }
    }
}

/// The load of one round, for either system: B, the emitter POSTs every
/// event to the K webhooks (one keep-alive connection and queue each).
fn webhook_load(sizes: &Sizes, rate: f64, count: u64) -> Load {
    Load {
        subscribers: Subscribers::Webhooks,
        emitter: Emitter::PostToWebhooks,
        procs: sizes.sink_webhooks,
        sockets_per_proc: 1,
        sub_args: Vec::new(),
        rate,
        count,
        verify: "full",
        times: true,
        stamp_seq: true,
        drain_ms: 1000,
        probe: Probe::Emitter,
    }
}

/// System A, one round: emitter PUSH → broker → K webhook subscriptions.
fn round_broker(env: &Env, load: Load, into: &mut Rounds) -> anyhow::Result<()> {
    let broker = System::Broker.start(env, "webhooks")?;
    let query = broker.query.clone().context("no query endpoint")?;
    let load = Load {
        emitter: Emitter::Send {
            mode: "zmq",
            connect: broker.emit.clone(),
        },
        // The broker's own stamps, not the emitter's.
        sub_args: vec!["--stamps".to_owned()],
        stamp_seq: false,
        probe: Probe::UntilDelivered(broker.proc.pid()),
        ..load
    };
    let mut ids = Vec::new();
    let outcome = run_load_with(env, &load, |webhooks| {
        for addr in webhooks {
            ids.push(subscribe(env, &query, &format!("http://{addr}/"), &[])?);
        }
        Ok(())
    })?;
    into.add(&outcome)?;
    let (counters, problem) = broker_view(env, &broker, &ids, &outcome)?;
    into.counters.get_or_insert_default().add(counters);
    into.problems.extend(problem);
    Ok(())
}

/// Webhook fan-out at `rate`: the broker's webhook sink (A) and direct
/// HTTP fan-out (B), the same events at the same rate, in rounds A, B, A, B.
pub fn webhooks(env: &Env, sizes: &Sizes, rate: f64) -> anyhow::Result<Vec<WebhookFanout>> {
    let per_round = (sizes.sink_events / sizes.sink_rounds.max(1)).max(1);
    let load = webhook_load(sizes, rate, per_round);
    let (mut a, mut b) = (Rounds::default(), Rounds::default());
    for round in 1..=sizes.sink_rounds.max(1) {
        round_broker(env, load.clone(), &mut a)
            .with_context(|| format!("ptp-broker → webhooks at {rate}/s, round {round}"))?;
        run_load(env, &load)
            .and_then(|outcome| b.add(&outcome))
            .with_context(|| format!("direct HTTP fan-out at {rate}/s, round {round}"))?;
        eprintln!("  webhooks at {rate}/s: round {round} done");
    }
    let k = sizes.sink_webhooks;
    let rows = vec![
        a.row(
            format!("ptp-broker → {k} webhooks"),
            "ptp-broker",
            sizes,
            rate,
            per_round,
        ),
        b.row(
            format!("direct HTTP fan-out (emitter → {k} webhooks)"),
            "bench-emit",
            sizes,
            rate,
            per_round,
        ),
    ];
    for r in &rows {
        eprintln!(
            "  {}: {}/{} delivered, last of {k}: p50 {:?} p99 {:?} max {:?}{}",
            r.system,
            r.delivered,
            r.expected,
            r.last_p50,
            r.last_p99,
            r.last_max,
            if r.ok {
                String::new()
            } else {
                format!(" ({})", r.problems.join("; "))
            }
        );
    }
    Ok(rows)
}
