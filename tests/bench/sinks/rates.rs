//! Scenario 4, events/s into one destination: the highest zero-loss rate
//! from the emitter through the broker into one JSON-RPC receiver
//! (notification and `--sync`) or one NATS subscriber behind nats-server.

use anyhow::Context;

use super::{broker_view, subscribe};
use crate::harness::{Emitter, Load, Probe, SubKind, Subscribers, run_load_with};
use crate::peers::{Env, System};
use crate::scenarios::Sizes;
use crate::search::{Found, Trial, search, verdict};
use crate::wire;

/// The subject template of the NATS subscription.
const NATS_SUBJECT: &str = "bench.{type}";

/// One sink of the rate measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// `tcp:ADDR`: JSON-RPC notifications.
    JsonRpc,
    /// `tcp:ADDR --sync`: requests, each answered before the next.
    JsonRpcSync,
    /// `nats://ADDR --subject bench.{type}`: core NATS through nats-server.
    Nats,
}

impl Sink {
    pub const ALL: [Sink; 3] = [Sink::JsonRpc, Sink::JsonRpcSync, Sink::Nats];

    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Sink::JsonRpc => "JSON-RPC, notification",
            Sink::JsonRpcSync => "JSON-RPC, --sync",
            Sink::Nats => "NATS (nats-server)",
        }
    }

    /// The subscription, as given to `ptp-broker subscribe`.
    pub fn subscription(self) -> &'static str {
        match self {
            Sink::JsonRpc => "tcp:ADDR",
            Sink::JsonRpcSync => "tcp:ADDR --sync",
            Sink::Nats => "nats://ADDR --subject bench.{type}",
        }
    }
}

/// Scenario 4's rate measurement for one sink.
#[derive(Debug, Clone)]
pub struct SinkRate {
    pub sink: Sink,
    /// Seconds per trial, whether a trial's timing counted (not in the
    /// smoke), and how the subscriber checked events.
    pub secs: f64,
    pub timed: bool,
    pub verify: &'static str,
    pub found: Found,
    /// At the highest passing rate: the broker's CPU (1.0 = one core) and
    /// the measured events received per second, from the first send to the
    /// last receipt.
    pub cpu_share: Option<f64>,
    pub delivered_rate: Option<f64>,
}

/// One trial into `sink` at `rate`: fresh nats-server (for NATS), fresh
/// broker, one subscriber, the subscription, `trial_secs` of events. Also
/// the broker's CPU share and the delivered rate. Judged as a throughput
/// trial ([`verdict`]); in the smoke (a fixed rate) on correctness alone,
/// never on timing: every event, in order, and the broker's counters.
fn sink_trial(
    env: &Env,
    sizes: &Sizes,
    sink: Sink,
    rate: f64,
) -> anyhow::Result<(Trial, f64, f64)> {
    let (secs, timed) = (sizes.trial_secs, sizes.fixed_rate.is_none());
    let nats = match sink {
        Sink::Nats => Some(System::Nats.start(env, "sink")?),
        Sink::JsonRpc | Sink::JsonRpcSync => None,
    };
    let broker = System::Broker.start(env, "sink")?;
    let query = broker.query.clone().context("no query endpoint")?;
    let subject = NATS_SUBJECT.replace("{type}", wire::load::topic());
    let (subscribers, mut sub_args) = match &nats {
        Some(nats) => (
            Subscribers::Connect {
                kind: SubKind::Nats,
                connect: nats.subscribe.clone(),
            },
            vec!["--subject", &subject, "--payload", "json"],
        ),
        None => (Subscribers::JsonRpc, Vec::new()),
    };
    sub_args.push("--stamps");
    if sink == Sink::JsonRpcSync {
        sub_args.push("--sync");
    }
    let load = Load {
        subscribers,
        emitter: Emitter::Send {
            mode: "zmq",
            connect: broker.emit.clone(),
        },
        procs: 1,
        sockets_per_proc: 1,
        sub_args: sub_args.into_iter().map(str::to_owned).collect(),
        rate,
        count: ((rate * secs) as u64).max(1),
        verify: sizes.sink_verify,
        times: false,
        stamp_seq: false,
        drain_ms: 500,
        probe: Probe::UntilDelivered(broker.proc.pid()),
    };
    let mut ids = Vec::new();
    let outcome = run_load_with(env, &load, |listening| {
        let id = match (sink, &nats) {
            (Sink::Nats, Some(nats)) => subscribe(
                env,
                &query,
                &format!("nats://{}", nats.subscribe),
                &["--subject", NATS_SUBJECT],
            )?,
            _ => {
                let addr = listening.first().context("no JSON-RPC receiver address")?;
                let sync: &[&str] = if sink == Sink::JsonRpcSync {
                    &["--sync"]
                } else {
                    &[]
                };
                subscribe(env, &query, &format!("tcp:{addr}"), sync)?
            }
        };
        ids.push(id);
        Ok(())
    })?;
    let (ok, why) = match (timed, outcome.lossless()) {
        (true, _) => verdict(&outcome, rate, secs),
        (false, true) => (true, String::new()),
        (false, false) => (false, format!("loss ({} lost)", outcome.lost())),
    };
    let (_, problem) = broker_view(env, &broker, &ids, &outcome)?;
    // The broker's own count says why events are missing; a mismatch on a
    // run the subscriber found complete is a failure of its own.
    let (ok, why) = match problem {
        Some(p) if ok => (false, format!("counters ({p})")),
        Some(p) if !outcome.lossless() => (false, format!("loss ({} lost; {p})", outcome.lost())),
        _ => (ok, why),
    };
    let cpu = outcome.cpu.unwrap_or_default().as_secs_f64() / outcome.wall.as_secs_f64();
    let trial = Trial {
        rate,
        ok,
        why,
        cost: None,
    };
    Ok((trial, cpu, outcome.delivered_per_sec()))
}

/// Scenario 4's rate measurement for `sink`: the highest rate at which the
/// subscriber got every event, in order, and the broker counted every one
/// delivered and none dropped or failed.
pub fn rate(env: &Env, sizes: &Sizes, sink: Sink) -> SinkRate {
    let mut costs = Vec::new();
    let found = search(sizes.fixed_rate, 4_000.0, |rate| {
        let trial = match sink_trial(env, sizes, sink, rate) {
            Ok((trial, cpu, delivered)) => {
                costs.push((rate, cpu, delivered));
                trial
            }
            Err(e) => Trial {
                rate,
                ok: false,
                why: format!("error: {e:#}"),
                cost: None,
            },
        };
        eprintln!(
            "  {} rate={rate:.0}/s: {}",
            sink.name(),
            if trial.ok { "ok" } else { &trial.why }
        );
        trial
    });
    let best = costs
        .iter()
        .find(|(r, ..)| *r == found.rate && found.rate > 0.0);
    SinkRate {
        sink,
        secs: sizes.trial_secs,
        timed: sizes.fixed_rate.is_none(),
        verify: sizes.sink_verify,
        cpu_share: best.map(|&(_, cpu, _)| cpu),
        delivered_rate: best.map(|&(.., d)| d),
        found,
    }
}
