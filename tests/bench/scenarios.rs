//! The sizes of a run, the fan-out load every throughput scenario shares,
//! and scenario 3 (scale and cost). Scenario 1 is `fanout.rs`, 2
//! `latency.rs`, 4 `sinks.rs`; each runs the same way for every system:
//! start the system, start the subscriber processes, warm up until every
//! socket has an event, send a measured batch, collect every report
//! ([`run_load`], `harness.rs`); the scenarios only choose its parameters
//! and read its outcome.

use std::time::Duration;

use crate::harness::{Emitter, Load, Probe, SubKind, Subscribers, run_load};
use crate::peers::{Env, Running, System};

/// Sizes of one bench run: full, or the CI smoke.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Subscriber processes for the fan-out scenario.
    pub fanout_k: Vec<usize>,
    /// Seconds of measured load per throughput trial.
    pub trial_secs: f64,
    /// `None`: search for the highest zero-loss rate; `Some(r)`: one trial at r.
    pub fixed_rate: Option<f64>,
    /// Loopback probe of scenario 1: runs per K (spread over the rounds of
    /// the searches), and records delivered per run, over all receivers.
    pub loopback_runs: usize,
    pub loopback_deliveries: u64,
    /// Subscriber processes in the latency scenario (its many-process K;
    /// K = 1 is always measured too).
    pub latency_k: usize,
    /// Events per path in the latency scenario, their rate, and the
    /// interleaved rounds they are split into.
    pub latency_events: u64,
    pub latency_rate: f64,
    pub latency_rounds: u64,
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
    /// The full suite (10–30 minutes on 2 cores).
    pub fn full() -> Sizes {
        Sizes {
            fanout_k: vec![1, 8, 64],
            trial_secs: 2.0,
            fixed_rate: None,
            loopback_runs: 3,
            loopback_deliveries: 8_000_000,
            latency_k: 64,
            // 4,000: a p99 of the 40 slowest (of 10 with 1,000). The p99
            // rows still move run to run: docs/BENCHMARKS.md, the reading.
            latency_events: 4000,
            latency_rate: 200.0,
            latency_rounds: 4,
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
            loopback_runs: 1,
            loopback_deliveries: 100_000,
            latency_k: 4,
            latency_events: 100,
            latency_rate: 200.0,
            latency_rounds: 2,
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

/// How subscribers of `system` receive by default: its own protocol.
pub fn raw_subscriber(system: System) -> SubKind {
    match system {
        System::Broker | System::Libzmq => SubKind::Zmq,
        System::Nats => SubKind::Nats,
    }
}

/// The load that goes through `running` (a started `system`) to `procs`
/// subscriber processes of `kind`.
pub fn fanout_load(
    system: System,
    kind: SubKind,
    running: &Running,
    procs: usize,
    rate: f64,
    secs: f64,
) -> Load {
    Load {
        subscribers: Subscribers::Connect {
            kind,
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
        raw_subscriber(system),
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
