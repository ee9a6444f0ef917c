//! Scenario 2, end-to-end latency: from just before an event is sent
//! upstream of the system to the moment the *last* of K subscriber
//! processes has it, over several paths, at K = 1 and at a many-process K.
//!
//! The paths run in interleaved rounds (each path once per round, in the
//! order of [`Path::ALL`], the events split over the rounds), so drift of
//! the machine lands on every path alike; the quantiles are over all
//! rounds' events.

use std::time::Duration;

use anyhow::Context;

use crate::harness::{
    Emitter, Load, Outcome, Probe, SubKind, Subscribers, quantile, run_load, until_last,
};
use crate::peers::{Env, System};
use crate::scenarios::Sizes;

/// One way from the upstream to the subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// `POST /event` to the broker → its PUB → Rust SUB in `bench-sub`.
    BrokerSub,
    /// `POST /event` to the broker → its PUB → `client::register`
    /// callbacks in `bench-client`: what an application sees.
    BrokerClient,
    /// PUSH → the libzmq forwarder → Rust SUB (`bench-sub`), no HTTP.
    ForwarderSub,
    /// PUSH → the libzmq forwarder → C libzmq SUB (`zmq_sub.c`): no HTTP,
    /// no validation, no stamping, no Rust on the receiving side. What is
    /// left is the cost of waking K processes on this machine: the floor.
    Floor,
    /// The upstream's own model: the event POSTed to K webhooks, one per
    /// process, one keep-alive connection and queue each, concurrently.
    Direct,
}

impl Path {
    /// Every path, in the order of one round.
    pub const ALL: [Path; 5] = [
        Path::BrokerSub,
        Path::BrokerClient,
        Path::ForwarderSub,
        Path::Floor,
        Path::Direct,
    ];

    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Path::BrokerSub => "ptp-broker: POST /event → PUB → SUB",
            Path::BrokerClient => "ptp-broker: POST /event → PUB → client::register callback",
            Path::ForwarderSub => "libzmq forwarder: PUSH → PUB → SUB (Rust), no HTTP",
            Path::Floor => "floor: PUSH → libzmq forwarder → SUB (C libzmq), no HTTP",
            Path::Direct => "direct HTTP fan-out: POST to K webhooks",
        }
    }

    /// Whether it needs the broker's HTTP receiver.
    pub fn needs_broker_http(self) -> bool {
        matches!(self, Path::BrokerSub | Path::BrokerClient)
    }

    /// Which K it is measured at: the two broker paths at K = 1 too (the
    /// client's added latency), every path at the many-process K.
    fn ks(self, many: usize) -> Vec<usize> {
        match self {
            Path::BrokerSub | Path::BrokerClient if many != 1 => vec![1, many],
            _ => vec![many],
        }
    }
}

/// Scenario 2 for one path and K.
#[derive(Debug, Clone)]
pub struct Latency {
    pub path: Path,
    pub k: usize,
    pub rate: f64,
    /// Measured events over all rounds, in how many rounds.
    pub events: u64,
    pub rounds: u64,
    /// What receives in the subscriber processes.
    pub subscribers: &'static str,
    /// Until the last process had it: p50, p99, max.
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub lost: u64,
    pub ok: bool,
}

/// Scenario 2: every path the broker allows, in interleaved rounds. The
/// rows, and the failures (a round of a path that could not run).
pub fn latency(env: &Env, sizes: &Sizes) -> (Vec<Latency>, Vec<String>) {
    let runs: Vec<(Path, usize)> = Path::ALL
        .iter()
        .filter(|p| env.broker_http || !p.needs_broker_http())
        .flat_map(|&p| p.ks(sizes.latency_k).into_iter().map(move |k| (p, k)))
        .collect();
    let rounds = sizes.latency_rounds.max(1);
    let per_round = (sizes.latency_events / rounds).max(1);
    // Per run: every event's latency, events lost, every round lossless.
    let mut taken: Vec<(Vec<Duration>, u64, bool)> = vec![(Vec::new(), 0, true); runs.len()];
    let mut errors = Vec::new();
    for round in 1..=rounds {
        for (&(path, k), into) in runs.iter().zip(&mut taken) {
            match run(env, sizes, path, k, per_round) {
                Ok((outcome, latencies)) => {
                    into.0.extend(latencies);
                    into.1 += outcome.lost();
                    into.2 &= outcome.lossless();
                }
                Err(e) => {
                    into.2 = false;
                    errors.push(format!(
                        "latency, {} K={k}, round {round}: {e:#}",
                        path.name()
                    ));
                }
            }
        }
        eprintln!("  latency: round {round} done");
    }
    let rows = runs
        .iter()
        .zip(taken)
        .filter(|(_, (latencies, ..))| !latencies.is_empty())
        .map(|(&(path, k), (mut latencies, lost, ok))| {
            latencies.sort();
            let row = Latency {
                path,
                k,
                rate: sizes.latency_rate,
                events: per_round * rounds,
                rounds,
                subscribers: match path {
                    Path::Direct => "HTTP webhook",
                    _ => subscribers(path, "").label(),
                },
                p50: quantile(&latencies, 0.50),
                p99: quantile(&latencies, 0.99),
                max: quantile(&latencies, 1.0),
                lost,
                ok,
            };
            eprintln!(
                "  {} K={k}: p50 {:?} p99 {:?} max {:?} lost {lost}",
                path.name(),
                row.p50,
                row.p99,
                row.max
            );
            row
        })
        .collect();
    (rows, errors)
}

/// Who receives on a path that connects to a PUB (`query`: the broker's,
/// for the client). Direct HTTP has webhooks instead.
fn subscribers(path: Path, query: &str) -> SubKind {
    match path {
        Path::BrokerClient => SubKind::Client {
            query: query.to_owned(),
        },
        Path::Floor => SubKind::CZmq,
        Path::BrokerSub | Path::ForwarderSub | Path::Direct => SubKind::Zmq,
    }
}

/// One round of one path at K: fresh system, `count` events; the outcome
/// and, for every event that reached all K, its latency.
fn run(
    env: &Env,
    sizes: &Sizes,
    path: Path,
    k: usize,
    count: u64,
) -> anyhow::Result<(Outcome, Vec<Duration>)> {
    let base = Load {
        subscribers: Subscribers::Webhooks,
        emitter: Emitter::PostToWebhooks,
        procs: k,
        sockets_per_proc: 1,
        sub_args: Vec::new(),
        rate: sizes.latency_rate,
        count,
        verify: "full",
        times: true,
        stamp_seq: true,
        drain_ms: 1000,
        probe: Probe::None,
    };
    let system = match path {
        Path::BrokerSub | Path::BrokerClient => Some(System::Broker.start(env, "latency")?),
        Path::ForwarderSub | Path::Floor => Some(System::Libzmq.start(env, "latency")?),
        Path::Direct => None,
    };
    let load = match (&system, path) {
        (Some(broker), Path::BrokerSub | Path::BrokerClient) => {
            let http = broker
                .http
                .clone()
                .context("the broker's ready line has no http= (HTTP receiver missing)")?;
            let query = broker.query.clone().context("no query endpoint")?;
            Load {
                subscribers: Subscribers::Connect {
                    kind: subscribers(path, &query),
                    connect: broker.subscribe.clone(),
                },
                emitter: Emitter::Post(format!("http://{http}/event")),
                stamp_seq: false,
                ..base
            }
        }
        (Some(forwarder), Path::ForwarderSub | Path::Floor) => Load {
            subscribers: Subscribers::Connect {
                kind: subscribers(path, ""),
                connect: forwarder.subscribe.clone(),
            },
            emitter: Emitter::Send {
                mode: "zmq",
                connect: forwarder.emit.clone(),
            },
            // The C SUB has the byte scan only; the Rust SUB decodes.
            verify: if path == Path::Floor { "seq" } else { "full" },
            ..base
        },
        _ => base,
    };
    let outcome = run_load(env, &load)?;
    let latencies = until_last(&outcome)?;
    Ok((outcome, latencies))
}
