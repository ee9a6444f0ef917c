//! The three scenarios of issue 5, each run the same way for every system:
//! start the system, start the subscriber processes, warm up until every
//! socket has an event, send a measured batch, collect every report.
//!
//! [`run_load`] is that one procedure; the scenarios only choose its
//! parameters and read its [`Outcome`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::peers::{Env, Running, System};
use crate::procs::{self, Proc};
use crate::wire::load::{EmitReport, SocketReport};

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
        }
    }
}

/// How the subscribers listen.
#[derive(Debug, Clone)]
pub enum Subscribers {
    /// ZeroMQ SUB or NATS, connecting to `connect`.
    Connect { mode: &'static str, connect: String },
    /// HTTP webhooks, one per process; the emitter POSTs to each.
    Webhooks,
}

/// How the emitter sends.
#[derive(Debug, Clone)]
pub enum Emitter {
    /// PUSH/NATS publish (`mode`) to `connect`.
    Send { mode: &'static str, connect: String },
    /// HTTP POST of each event to one URL.
    Post(String),
    /// HTTP POST of each event to every webhook subscriber.
    PostToWebhooks,
}

/// One load run.
#[derive(Debug, Clone)]
pub struct Load {
    pub subscribers: Subscribers,
    pub emitter: Emitter,
    pub procs: usize,
    pub sockets_per_proc: usize,
    pub rate: f64,
    pub count: u64,
    pub verify: &'static str,
    pub times: bool,
    pub stamp_seq: bool,
    pub drain_ms: u64,
    /// Process whose RSS and CPU are sampled during the measured batch.
    pub probe: Option<u32>,
}

/// What one load run measured.
#[derive(Debug)]
pub struct Outcome {
    pub sockets: Vec<SocketReport>,
    pub emit: EmitReport,
    /// Peak RSS and CPU time of the probed process over the measured batch.
    pub peak_rss: Option<u64>,
    pub cpu: Option<Duration>,
    pub wall: Duration,
}

impl Outcome {
    /// Every socket got every measured event, in order, intact, and every
    /// HTTP delivery was answered 204.
    pub fn lossless(&self) -> bool {
        self.emit.errors == 0 && self.sockets.iter().all(SocketReport::lossless)
    }

    /// Measured events missing, summed over sockets.
    pub fn lost(&self) -> u64 {
        self.sockets
            .iter()
            .map(|s| s.expected - s.received.min(s.expected))
            .sum()
    }

    /// Rate the emitter achieved.
    pub fn achieved_rate(&self) -> f64 {
        let n = (self.emit.last + 1 - self.emit.first) as f64;
        let secs = (self.emit.end_ns.saturating_sub(self.emit.start_ns)) as f64 / 1e9;
        if secs > 0.0 { n / secs } else { f64::INFINITY }
    }

    /// How long after the emitter finished the last socket had the last event.
    pub fn lag(&self) -> Duration {
        let last = self.sockets.iter().map(|s| s.last_ns).max().unwrap_or(0);
        Duration::from_nanos(last.saturating_sub(self.emit.end_ns))
    }
}

/// Run one load: subscribers, emitter, warm-up, measured batch, reports.
/// Every process started here is killed when this returns.
pub fn run_load(env: &Env, load: &Load) -> anyhow::Result<Outcome> {
    let start_deadline = Instant::now() + Duration::from_secs(60);
    let mut subs = Vec::with_capacity(load.procs);
    for i in 0..load.procs {
        let mut command = env.command("bench-sub");
        match &load.subscribers {
            Subscribers::Connect { mode, connect } => {
                command.args(["--mode", mode, "--connect", connect]);
            }
            Subscribers::Webhooks => {
                command.args(["--mode", "http", "--connect", "127.0.0.1:0"]);
            }
        }
        command
            .args(["--sockets", &load.sockets_per_proc.to_string()])
            .args(["--verify", load.verify])
            .args(["--drain-ms", &load.drain_ms.to_string()]);
        if load.times {
            command.arg("--times");
        }
        subs.push(Proc::spawn(&format!("sub-{i}"), command, &env.logs)?);
    }
    let mut webhooks = Vec::new();
    for sub in &mut subs {
        let line = sub.expect("ready", start_deadline)?;
        if let Some(addr) = procs::field(&line, "http") {
            webhooks.push(format!("http://{addr}/"));
        }
    }

    let mut command = env.command("bench-emit");
    match &load.emitter {
        Emitter::Send { mode, connect } => command.args(["--mode", mode, "--connect", connect]),
        Emitter::Post(url) => command.args(["--mode", "http", "--connect", url]),
        Emitter::PostToWebhooks => {
            command.args(["--mode", "http", "--connect", &webhooks.join(",")])
        }
    };
    command
        .args(["--rate", &load.rate.to_string()])
        .args(["--count", &load.count.to_string()]);
    if load.stamp_seq {
        command.arg("--stamp-seq");
    }
    if load.times {
        command.arg("--times");
    }
    let mut emitter = Proc::spawn("emit", command, &env.logs)?;
    emitter.expect("ready", start_deadline)?;
    let warm_deadline = Instant::now() + Duration::from_secs(30);
    for sub in &mut subs {
        sub.expect("warm", warm_deadline)?;
    }

    let sampler = load.probe.map(Sampler::start);
    let begun = Instant::now();
    emitter.tell("go")?;
    let send_secs = load.count as f64 / load.rate;
    let emit_deadline = Instant::now() + Duration::from_secs_f64(send_secs * 3.0 + 30.0);
    let emit: EmitReport =
        serde_json::from_str(&emitter.expect("{", emit_deadline)?).context("emitter report")?;
    let (peak_rss, cpu) = match sampler {
        Some(s) => {
            let (rss, cpu) = s.stop();
            (Some(rss), Some(cpu))
        }
        None => (None, None),
    };
    let wall = begun.elapsed();
    let range = format!("range {} {}", emit.first, emit.last);
    for sub in &mut subs {
        sub.tell(&range)?;
    }
    let report_deadline = Instant::now() + Duration::from_secs(60);
    let mut sockets = Vec::new();
    for sub in &mut subs {
        let line = sub.expect("[", report_deadline)?;
        let reports: Vec<SocketReport> =
            serde_json::from_str(&line).with_context(|| format!("{} report", sub.name))?;
        sockets.extend(reports);
    }
    Ok(Outcome {
        sockets,
        emit,
        peak_rss,
        cpu,
        wall,
    })
}

/// Samples a process's RSS every 50 ms in a thread, and its CPU time at
/// start and stop.
struct Sampler {
    pid: u32,
    cpu_at_start: Duration,
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(procs::rss_bytes(pid).unwrap_or(0)));
        let (thread_stop, thread_peak) = (Arc::clone(&stop), Arc::clone(&peak));
        let thread = std::thread::spawn(move || {
            while !thread_stop.load(Ordering::Acquire) {
                if let Ok(rss) = procs::rss_bytes(pid) {
                    thread_peak.fetch_max(rss, Ordering::AcqRel);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Sampler {
            pid,
            cpu_at_start: procs::cpu_time(pid).unwrap_or_default(),
            stop,
            peak,
            thread,
        }
    }

    fn stop(self) -> (u64, Duration) {
        let cpu = procs::cpu_time(self.pid).unwrap_or_default();
        self.stop.store(true, Ordering::Release);
        let _ = self.thread.join();
        (
            self.peak.load(Ordering::Acquire),
            cpu.saturating_sub(self.cpu_at_start),
        )
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
        rate,
        count: ((rate * secs) as u64).max(1),
        verify: "seq",
        times: false,
        stamp_seq: system.emitter_stamps_seq(),
        drain_ms: 500,
        probe: None,
    }
}

// ---------------------------------------------------------------- scenario 1

/// One throughput trial's verdict.
#[derive(Debug, Clone)]
pub struct Trial {
    pub rate: f64,
    pub ok: bool,
    /// Why not ok: `loss`, `lag`, `emitter`, or an error.
    pub why: String,
}

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
        let lag_limit = Duration::from_secs_f64(0.2 + secs / 10.0);
        Ok(if !outcome.lossless() {
            (false, format!("loss ({} lost)", outcome.lost()))
        } else if outcome.achieved_rate() < rate * 0.95 {
            (false, format!("emitter ({:.0}/s)", outcome.achieved_rate()))
        } else if outcome.lag() > lag_limit {
            (false, format!("lag ({} ms)", outcome.lag().as_millis()))
        } else {
            (true, String::new())
        })
    })();
    let (ok, why) = verdict.unwrap_or_else(|e| (false, format!("error: {e:#}")));
    eprintln!(
        "  {} K={k} rate={rate:.0}/s: {}",
        system.name(),
        if ok { "ok" } else { &why }
    );
    Trial { rate, ok, why }
}

/// Scenario 1 for one system and K: the highest zero-loss rate.
///
/// Doubling from a start rate until a trial fails, then bisecting between
/// the last pass and the first failure until they are within 10% (at most
/// 10 trials). With `sizes.fixed_rate`, one trial only (the smoke).
pub fn fanout(env: &Env, sizes: &Sizes, system: System, k: usize) -> Fanout {
    let secs = sizes.trial_secs;
    let mut trials = Vec::new();
    let run = |rate: f64, trials: &mut Vec<Trial>| {
        let t = trial(env, system, k, rate, secs);
        trials.push(t.clone());
        t
    };
    if let Some(rate) = sizes.fixed_rate {
        let t = run(rate, &mut trials);
        return Fanout {
            system,
            k,
            rate: if t.ok { rate } else { 0.0 },
            limit: t.why,
            trials,
        };
    }
    let start = match k {
        1 => 16_000.0,
        2..=8 => 8_000.0,
        _ => 1_000.0,
    };
    let (mut good, mut bad) = (0.0f64, None::<(f64, String)>);
    let mut rate = start;
    while trials.len() < 10 {
        let t = run(rate, &mut trials);
        if t.ok {
            good = rate;
            rate *= 2.0;
        } else {
            bad = Some((rate, t.why));
            break;
        }
    }
    if good == 0.0
        && let Some((first_bad, _)) = bad.clone()
    {
        // Even the start failed: search down instead.
        let mut rate = first_bad / 4.0;
        while trials.len() < 10 && rate >= 50.0 {
            let t = run(rate, &mut trials);
            if t.ok {
                good = rate;
                break;
            }
            bad = Some((rate, t.why));
            rate /= 4.0;
        }
    }
    while let Some((hi, _)) = bad.clone() {
        if good == 0.0 || hi / good <= 1.1 || trials.len() >= 10 {
            break;
        }
        let mid = ((good + hi) / 2.0 / 100.0).round() * 100.0;
        let t = run(mid, &mut trials);
        if t.ok {
            good = mid;
        } else {
            bad = Some((mid, t.why));
        }
    }
    Fanout {
        system,
        k,
        rate: good,
        limit: bad.map_or_else(
            || "not reached (trial budget)".to_owned(),
            |(r, why)| format!("{why} at {r:.0}/s"),
        ),
        trials,
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
        rate: sizes.latency_rate,
        count: sizes.latency_events,
        verify: "full",
        times: true,
        stamp_seq: false,
        drain_ms: 1000,
        probe: None,
    }
}

fn latency_from(path: &'static str, sizes: &Sizes, outcome: &Outcome) -> anyhow::Result<Latency> {
    let sent = outcome
        .emit
        .sent_ns
        .as_ref()
        .context("emitter kept no send times")?;
    // For each event, the time the last process had it.
    let mut last_seen = vec![0u64; sent.len()];
    let mut seen_by = vec![0usize; sent.len()];
    for socket in &outcome.sockets {
        for &(n, t) in socket.times.iter().flatten() {
            let Some(i) = n.checked_sub(outcome.emit.first).map(|i| i as usize) else {
                continue;
            };
            if let (Some(last), Some(count)) = (last_seen.get_mut(i), seen_by.get_mut(i)) {
                *last = (*last).max(t);
                *count += 1;
            }
        }
    }
    let mut latencies: Vec<Duration> = sent
        .iter()
        .zip(&last_seen)
        .zip(&seen_by)
        .filter(|(_, count)| **count == outcome.sockets.len())
        .map(|((&s, &r), _)| Duration::from_nanos(r.saturating_sub(s)))
        .collect();
    if latencies.is_empty() {
        bail!("{path}: no event reached every subscriber");
    }
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let lat = Latency {
        path,
        k: sizes.latency_k,
        rate: sizes.latency_rate,
        events: sizes.latency_events,
        p50: pick(0.50),
        p99: pick(0.99),
        max: pick(1.0),
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
    load.probe = Some(running.proc.pid());
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
