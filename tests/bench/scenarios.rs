//! The three scenarios of issue 5, each run the same way for every system:
//! start the system, start the subscriber processes, warm up until every
//! socket has an event, send a measured batch, collect every report.
//!
//! [`run_load`] is that one procedure; the scenarios only choose its
//! parameters and read its [`Outcome`]. [`search`] is the rate search of
//! scenario 1 (and of scenario 4's sinks, `sinks.rs`).

use std::time::Duration;

use anyhow::{Context, bail};

use crate::harness::{Emitter, Load, Outcome, Probe, Subscribers, quantile, run_load, until_last};
use crate::peers::{Env, Running, System};
use crate::search::{Trial, search, verdict};

/// Sizes of one bench run: full, or the CI smoke.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Subscriber processes for the fan-out scenario.
    pub fanout_k: Vec<usize>,
    /// Seconds of measured load per throughput trial.
    pub trial_secs: f64,
    /// `None`: search for the highest zero-loss rate; `Some(r)`: one trial at r.
    pub fixed_rate: Option<f64>,
    /// Subscriber processes in the latency scenario.
    pub latency_k: usize,
    /// Events in the latency scenario, and their rate.
    pub latency_events: u64,
    pub latency_rate: f64,
    /// Scale scenario: processes × sockets each, events/s, seconds.
    pub scale_procs: usize,
    pub scale_sockets_per_proc: usize,
    pub scale_rate: f64,
    pub scale_secs: f64,
    /// Sinks scenario: webhooks of the fan-out, its events per system and
    /// the rates (each a measurement), in how many interleaved rounds.
    pub sink_webhooks: usize,
    pub sink_events: u64,
    pub sink_rates: Vec<f64>,
    pub sink_rounds: u64,
    /// How the one subscriber of a sink's rate trial checks events (`seq`:
    /// a byte scan of id, seq and stamps; `full`: parsed with `proto`).
    pub sink_verify: &'static str,
}

impl Sizes {
    /// The full suite (about 10 minutes on 2 cores).
    pub fn full() -> Sizes {
        Sizes {
            fanout_k: vec![1, 8, 64],
            trial_secs: 2.0,
            fixed_rate: None,
            latency_k: 64,
            latency_events: 1000,
            latency_rate: 200.0,
            scale_procs: 10,
            scale_sockets_per_proc: 100,
            scale_rate: 1000.0,
            scale_secs: 5.0,
            sink_webhooks: 64,
            sink_events: 1000,
            sink_rates: vec![100.0, 200.0],
            sink_rounds: 2,
            sink_verify: "seq",
        }
    }

    /// The CI smoke: seconds, correctness only.
    pub fn smoke() -> Sizes {
        Sizes {
            fanout_k: vec![1, 4],
            trial_secs: 0.5,
            fixed_rate: Some(1000.0),
            latency_k: 4,
            latency_events: 100,
            latency_rate: 200.0,
            scale_procs: 2,
            scale_sockets_per_proc: 25,
            scale_rate: 1000.0,
            scale_secs: 1.0,
            sink_webhooks: 4,
            sink_events: 100,
            sink_rates: vec![200.0],
            sink_rounds: 2,
            sink_verify: "full",
        }
    }
}

/// The load that goes through `running` with `procs` subscriber processes.
fn fanout_load(system: System, running: &Running, procs: usize, rate: f64, secs: f64) -> Load {
    Load {
        subscribers: Subscribers::Connect {
            mode: system.mode(),
            connect: running.subscribe.clone(),
        },
        emitter: Emitter::Send {
            mode: system.mode(),
            connect: running.emit.clone(),
        },
        procs,
        sockets_per_proc: 1,
        sub_args: Vec::new(),
        rate,
        count: ((rate * secs) as u64).max(1),
        verify: "seq",
        times: false,
        stamp_seq: system.emitter_stamps_seq(),
        drain_ms: 500,
        probe: Probe::None,
    }
}

// ---------------------------------------------------------------- scenario 1

/// Result of the fan-out scenario for one system and K.
#[derive(Debug, Clone)]
pub struct Fanout {
    pub system: System,
    pub k: usize,
    /// Highest rate that passed (0 if none).
    pub rate: f64,
    /// What stopped the search above `rate`.
    pub limit: String,
    pub trials: Vec<Trial>,
}

impl Fanout {
    /// Events delivered per second over all subscribers.
    pub fn delivered(&self) -> f64 {
        self.rate * self.k as f64
    }
}

/// Run one trial at `rate` on a freshly started system.
fn trial(env: &Env, system: System, k: usize, rate: f64, secs: f64) -> Trial {
    let verdict = (|| -> anyhow::Result<(bool, String)> {
        let running = system.start(env, "fanout")?;
        let outcome = run_load(env, &fanout_load(system, &running, k, rate, secs))?;
        Ok(verdict(&outcome, rate, secs))
    })();
    let (ok, why) = verdict.unwrap_or_else(|e| (false, format!("error: {e:#}")));
    eprintln!(
        "  {} K={k} rate={rate:.0}/s: {}",
        system.name(),
        if ok { "ok" } else { &why }
    );
    Trial { rate, ok, why }
}

/// Scenario 1 for one system and K: the highest zero-loss rate ([`search`]).
pub fn fanout(env: &Env, sizes: &Sizes, system: System, k: usize) -> Fanout {
    let start = match k {
        1 => 16_000.0,
        2..=8 => 8_000.0,
        _ => 1_000.0,
    };
    let found = search(sizes.fixed_rate, start, |rate| {
        trial(env, system, k, rate, sizes.trial_secs)
    });
    Fanout {
        system,
        k,
        rate: found.rate,
        limit: found.limit,
        trials: found.trials,
    }
}

// ---------------------------------------------------------------- scenario 2

/// Scenario 2 for one path: upstream HTTP POST to delivery in all processes.
#[derive(Debug, Clone)]
pub struct Latency {
    pub path: &'static str,
    pub k: usize,
    pub rate: f64,
    pub events: u64,
    /// Until the last process had it: p50, p99, max.
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub lost: u64,
    pub ok: bool,
}

/// Broker path: POST to the broker's `/event`, subscribers on its PUB.
pub fn latency_broker(env: &Env, sizes: &Sizes) -> anyhow::Result<Latency> {
    let running = System::Broker.start(env, "latency")?;
    let http = running
        .http
        .clone()
        .context("the broker's ready line has no http= (HTTP receiver missing)")?;
    let load = Load {
        subscribers: Subscribers::Connect {
            mode: "zmq",
            connect: running.subscribe.clone(),
        },
        emitter: Emitter::Post(format!("http://{http}/event")),
        ..latency_load(sizes)
    };
    latency_from(
        "ptp-broker (POST /event -> PUB)",
        sizes,
        &run_load(env, &load)?,
    )
}

/// The floor: the same 64 subscriber processes behind a libzmq forwarder
/// (PUSH -> PUB in C), no HTTP, no validation, no stamping. What is left is
/// the cost of waking 64 processes on this machine.
pub fn latency_forwarder(env: &Env, sizes: &Sizes) -> anyhow::Result<Latency> {
    let running = System::Libzmq.start(env, "latency")?;
    let load = Load {
        subscribers: Subscribers::Connect {
            mode: "zmq",
            connect: running.subscribe.clone(),
        },
        emitter: Emitter::Send {
            mode: "zmq",
            connect: running.emit.clone(),
        },
        stamp_seq: true,
        ..latency_load(sizes)
    };
    latency_from(
        "libzmq forwarder (PUSH -> PUB), no HTTP",
        sizes,
        &run_load(env, &load)?,
    )
}

/// Upstream model: the same event POSTed to one webhook per process.
pub fn latency_direct(env: &Env, sizes: &Sizes) -> anyhow::Result<Latency> {
    let load = Load {
        subscribers: Subscribers::Webhooks,
        emitter: Emitter::PostToWebhooks,
        stamp_seq: true,
        ..latency_load(sizes)
    };
    latency_from("direct HTTP fan-out", sizes, &run_load(env, &load)?)
}

fn latency_load(sizes: &Sizes) -> Load {
    Load {
        subscribers: Subscribers::Webhooks,
        emitter: Emitter::PostToWebhooks,
        procs: sizes.latency_k,
        sockets_per_proc: 1,
        sub_args: Vec::new(),
        rate: sizes.latency_rate,
        count: sizes.latency_events,
        verify: "full",
        times: true,
        stamp_seq: false,
        drain_ms: 1000,
        probe: Probe::None,
    }
}

fn latency_from(path: &'static str, sizes: &Sizes, outcome: &Outcome) -> anyhow::Result<Latency> {
    let mut latencies = until_last(outcome)?;
    if latencies.is_empty() {
        bail!("{path}: no event reached every subscriber");
    }
    latencies.sort();
    let lat = Latency {
        path,
        k: sizes.latency_k,
        rate: sizes.latency_rate,
        events: sizes.latency_events,
        p50: quantile(&latencies, 0.50),
        p99: quantile(&latencies, 0.99),
        max: quantile(&latencies, 1.0),
        lost: outcome.lost(),
        ok: outcome.lossless(),
    };
    eprintln!(
        "  {path}: p50 {:?} p99 {:?} max {:?} lost {}",
        lat.p50, lat.p99, lat.max, lat.lost
    );
    Ok(lat)
}

// ---------------------------------------------------------------- scenario 3

/// Scenario 3 for one system.
#[derive(Debug, Clone)]
pub struct Scale {
    pub system: System,
    pub startup: Duration,
    pub idle_rss: u64,
    pub sockets: usize,
    pub rate: f64,
    pub loaded_rss: u64,
    /// CPU time / wall time over the measured batch (1.0 = one core).
    pub cpu_share: f64,
    pub lost: u64,
    pub ok: bool,
}

/// Start, idle RSS, then many subscriber sockets at a steady rate.
pub fn scale(env: &Env, sizes: &Sizes, system: System) -> anyhow::Result<Scale> {
    let running = system.start(env, "scale")?;
    // Idle means idle for a moment, not the first instant after the ready
    // line; this wait is part of the measurement, not a synchronisation.
    std::thread::sleep(Duration::from_millis(500));
    let idle_rss = running.proc.rss_bytes()?;
    let mut load = fanout_load(
        system,
        &running,
        sizes.scale_procs,
        sizes.scale_rate,
        sizes.scale_secs,
    );
    load.sockets_per_proc = sizes.scale_sockets_per_proc;
    load.drain_ms = 1000;
    load.probe = Probe::Process(running.proc.pid());
    let outcome = run_load(env, &load)?;
    let scale = Scale {
        system,
        startup: running.startup,
        idle_rss,
        sockets: sizes.scale_procs * sizes.scale_sockets_per_proc,
        rate: sizes.scale_rate,
        loaded_rss: outcome.peak_rss.unwrap_or(0),
        cpu_share: outcome.cpu.unwrap_or_default().as_secs_f64() / outcome.wall.as_secs_f64(),
        lost: outcome.lost(),
        ok: outcome.lossless(),
    };
    eprintln!(
        "  {}: ready in {:?}, idle {} kB, {} kB and {:.1}% CPU with {} sockets, lost {}",
        system.name(),
        scale.startup,
        scale.idle_rss / 1024,
        scale.loaded_rss / 1024,
        scale.cpu_share * 100.0,
        scale.sockets,
        scale.lost
    );
    Ok(scale)
}
