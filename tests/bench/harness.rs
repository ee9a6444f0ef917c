//! The one load procedure every scenario runs ([`run_load`]): start the
//! subscriber processes, wait until they are ready, start the emitter, warm
//! up until every socket has an event, send the measured batch, collect
//! every report. And what is read from its [`Outcome`]: loss, rates, lag
//! and latencies.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::peers::Env;
use crate::procs::{self, Proc};
use crate::wire;
use crate::wire::load::{EmitReport, SocketReport};

/// How the subscribers listen.
#[derive(Debug, Clone)]
pub enum Subscribers {
    /// Subscriber processes of `kind`, connecting to `connect`.
    Connect { kind: SubKind, connect: String },
    /// HTTP webhooks, one per process; the emitter (or the broker) POSTs to each.
    Webhooks,
    /// JSON-RPC receivers, one per process; the broker connects to each.
    JsonRpc,
    /// The loopback probe's raw TCP receivers, one per process; the
    /// emitter connects to each and writes `record_size`-byte records.
    Probe { record_size: usize },
}

/// Which program subscribes, and how.
#[derive(Debug, Clone)]
pub enum SubKind {
    /// `bench-sub --mode zmq`: ZeroMQ SUB sockets in Rust on `proto::zmtp`.
    Zmq,
    /// `bench-sub --mode nats`.
    Nats,
    /// `zmq-sub` (zmq_sub.c): C SUB sockets on the system libzmq, the
    /// latency floor; checks `--verify seq` only.
    CZmq,
    /// `bench-client`: `client::register` callbacks; the client needs the
    /// broker's query endpoint too.
    Client { query: String },
}

impl SubKind {
    /// Name in tables: what receives in the subscriber processes.
    pub fn label(&self) -> &'static str {
        match self {
            SubKind::Zmq => "SUB (Rust, proto::zmtp)",
            SubKind::Nats => "NATS client",
            SubKind::CZmq => "SUB (C libzmq)",
            SubKind::Client { .. } => "client::register",
        }
    }
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
    /// Raw TCP records to every probe receiver ([`Subscribers::Probe`]).
    ToProbes,
}

/// One load run.
#[derive(Debug, Clone)]
pub struct Load {
    pub subscribers: Subscribers,
    pub emitter: Emitter,
    pub procs: usize,
    pub sockets_per_proc: usize,
    /// More options for every `bench-sub`.
    pub sub_args: Vec<String>,
    /// Measured events per second; infinite: unpaced (the probe).
    pub rate: f64,
    pub count: u64,
    pub verify: &'static str,
    pub times: bool,
    pub stamp_seq: bool,
    pub drain_ms: u64,
    /// Process whose RSS and CPU are sampled during the measured batch.
    pub probe: Probe,
}

/// Which process [`run_load`] samples, from `go` until the emitter's report
/// (for an HTTP emitter, every POST answered) unless said otherwise.
#[derive(Debug, Clone, Copy)]
pub enum Probe {
    None,
    /// A process started before the load (the system under test).
    Process(u32),
    /// The same, sampled until every subscriber has reported: what the
    /// process still had queued when the emitter was done is counted.
    UntilDelivered(u32),
    /// The load's own emitter.
    Emitter,
}

/// What one load run measured.
#[derive(Debug)]
pub struct Outcome {
    pub sockets: Vec<SocketReport>,
    pub emit: EmitReport,
    /// Peak RSS and CPU time of the probed process over the measured
    /// batch, and the batch's wall time (from `go` to the end of sampling).
    pub peak_rss: Option<u64>,
    pub cpu: Option<Duration>,
    pub wall: Duration,
    /// CPU time of the emitter, and of all subscriber processes together,
    /// from `go` until every subscriber had reported.
    pub emitter_cpu: Duration,
    pub subscribers_cpu: Duration,
    /// Context switches of all subscriber processes together over the same
    /// span (None if one did not say).
    pub subscriber_switches: Option<u64>,
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

    /// Measured events received over all sockets, per second from the
    /// first send to the last receipt.
    pub fn delivered_per_sec(&self) -> f64 {
        let received: u64 = self.sockets.iter().map(|s| s.received).sum();
        let last = self.sockets.iter().map(|s| s.last_ns).max().unwrap_or(0);
        let secs = last.saturating_sub(self.emit.start_ns) as f64 / 1e9;
        if secs > 0.0 {
            received as f64 / secs
        } else {
            0.0
        }
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
    run_load_with(env, load, |_| Ok(()))
}

/// [`run_load`], calling `setup` once every subscriber is ready and before
/// the emitter starts, with the addresses the listening subscribers
/// (webhooks, JSON-RPC receivers) bound, in process order.
pub fn run_load_with(
    env: &Env,
    load: &Load,
    setup: impl FnOnce(&[String]) -> anyhow::Result<()>,
) -> anyhow::Result<Outcome> {
    let start_deadline = Instant::now() + Duration::from_secs(60);
    let mut subs = Vec::with_capacity(load.procs);
    for i in 0..load.procs {
        let mut command = subscriber_command(env, &load.subscribers);
        command
            .args(&load.sub_args)
            .args(["--sockets", &load.sockets_per_proc.to_string()])
            .args(["--verify", load.verify])
            .args(["--drain-ms", &load.drain_ms.to_string()]);
        if load.times {
            command.arg("--times");
        }
        subs.push(Proc::spawn(&format!("sub-{i}"), command, &env.logs)?);
    }
    let (mut webhooks, mut listening, mut probes) = (Vec::new(), Vec::new(), Vec::new());
    for sub in &mut subs {
        let line = sub.expect("ready", start_deadline)?;
        if let Some(addr) = procs::field(&line, "http") {
            webhooks.push(format!("http://{addr}/"));
        }
        if let Some(addr) = procs::field(&line, "tcp") {
            probes.push(addr.to_owned());
        }
        if let Some(addr) = procs::field(&line, "http").or(procs::field(&line, "jsonrpc")) {
            listening.push(addr.to_owned());
        }
    }
    setup(&listening)?;

    let mut command = env.command("bench-emit");
    match &load.emitter {
        Emitter::Send { mode, connect } => command.args(["--mode", mode, "--connect", connect]),
        Emitter::Post(url) => command.args(["--mode", "http", "--connect", url]),
        Emitter::PostToWebhooks => {
            command.args(["--mode", "http", "--connect", &webhooks.join(",")])
        }
        Emitter::ToProbes => command.args(["--mode", "tcp", "--connect", &probes.join(",")]),
    };
    if let Subscribers::Probe { record_size } = &load.subscribers {
        command.args(["--record-size", &record_size.to_string()]);
    }
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

    let mut sampler = match load.probe {
        Probe::None => None,
        Probe::Process(pid) | Probe::UntilDelivered(pid) => Some(Sampler::start(pid)),
        Probe::Emitter => Some(Sampler::start(emitter.pid())),
    };
    let cpu_of = |procs: &[&Proc]| -> Duration {
        procs
            .iter()
            .map(|p| procs::cpu_time(p.pid()).unwrap_or_default())
            .sum()
    };
    let emitter_at_go = cpu_of(&[&emitter]);
    let subscribers_at_go = cpu_of(&subs.iter().collect::<Vec<_>>());
    let switches_at_go: Option<u64> = subs
        .iter()
        .map(|p| crate::wire::load::context_switches(&p.pid().to_string()).ok())
        .sum();
    let begun = Instant::now();
    let stop = |sampler: &mut Option<Sampler>| {
        let sampled = sampler.take().map(Sampler::stop);
        (sampled.map(|s| s.0), sampled.map(|s| s.1), begun.elapsed())
    };
    emitter.tell("go")?;
    let send_secs = load.count as f64 / load.rate;
    let emit_deadline = Instant::now() + Duration::from_secs_f64(send_secs * 3.0 + 30.0);
    let emit: EmitReport =
        serde_json::from_str(&emitter.expect("{", emit_deadline)?).context("emitter report")?;
    let until_delivered = matches!(load.probe, Probe::UntilDelivered(_));
    let sampled = (!until_delivered).then(|| stop(&mut sampler));
    let range = format!("range {} {}", emit.first, emit.last);
    for sub in &mut subs {
        sub.tell(&range)?;
    }
    let report_deadline = Instant::now() + Duration::from_secs(60);
    let mut sockets = Vec::new();
    // Each process says its own total as it reports (its threads are all
    // still there then), once per socket.
    let mut switches_at_end = Some(0u64);
    for sub in &mut subs {
        let line = sub.expect("[", report_deadline)?;
        let reports: Vec<SocketReport> =
            serde_json::from_str(&line).with_context(|| format!("{} report", sub.name))?;
        let own = reports.first().and_then(|r| r.switches);
        switches_at_end = switches_at_end.zip(own).map(|(a, b)| a + b);
        sockets.extend(reports);
    }
    let subscriber_switches = switches_at_end
        .zip(switches_at_go)
        .map(|(end, go)| end.saturating_sub(go));
    let (peak_rss, cpu, wall) = sampled.unwrap_or_else(|| stop(&mut sampler));
    // A subscriber that has reported may have exited: its counters stay
    // readable until it is reaped, when this load's processes are dropped.
    let emitter_cpu = cpu_of(&[&emitter]).saturating_sub(emitter_at_go);
    let subscribers_cpu =
        cpu_of(&subs.iter().collect::<Vec<_>>()).saturating_sub(subscribers_at_go);
    Ok(Outcome {
        sockets,
        emit,
        peak_rss,
        cpu,
        wall,
        emitter_cpu,
        subscribers_cpu,
        subscriber_switches,
    })
}

/// The command of one subscriber process (its options but the common ones).
fn subscriber_command(env: &Env, subscribers: &Subscribers) -> Command {
    let bench_sub = |mode: &str, connect: &str| {
        let mut command = env.command("bench-sub");
        command.args(["--mode", mode, "--connect", connect]);
        command
    };
    match subscribers {
        Subscribers::Connect { kind, connect } => match kind {
            SubKind::Zmq => bench_sub("zmq", connect),
            SubKind::Nats => bench_sub("nats", connect),
            SubKind::CZmq => {
                let mut command = Command::new(&env.c_sub);
                command.args(["--connect", connect, "--topic", wire::load::topic()]);
                command
            }
            SubKind::Client { query } => {
                // The application's way: endpoints from the environment.
                let mut command = env.command("bench-client");
                command
                    .env("PTP_BROKER_PUB", connect)
                    .env("PTP_BROKER_QUERY", query)
                    .env("RUST_LOG", "warn");
                command
            }
        },
        Subscribers::Webhooks => bench_sub("http", "127.0.0.1:0"),
        Subscribers::JsonRpc => bench_sub("jsonrpc", "127.0.0.1:0"),
        Subscribers::Probe { record_size } => {
            let mut command = bench_sub("tcp", "127.0.0.1:0");
            command.args(["--record-size", &record_size.to_string()]);
            command
        }
    }
}

/// Samples a process's RSS every 50 ms in a thread, and its CPU time at
/// start and stop.
struct Sampler {
    pid: u32,
    cpu_at_start: Duration,
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
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
            thread: Some(thread),
        }
    }

    fn stop(mut self) -> (u64, Duration) {
        let cpu = procs::cpu_time(self.pid).unwrap_or_default();
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        (
            self.peak.load(Ordering::Acquire),
            cpu.saturating_sub(self.cpu_at_start),
        )
    }
}

impl Drop for Sampler {
    /// A load that failed while sampling must not leave the thread running.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// For each measured event that reached every socket, from its send to the
/// moment the last socket had it (needs `times` in the load).
pub fn until_last(outcome: &Outcome) -> anyhow::Result<Vec<Duration>> {
    let sent = outcome
        .emit
        .sent_ns
        .as_ref()
        .context("emitter kept no send times")?;
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
    Ok(sent
        .iter()
        .zip(&last_seen)
        .zip(&seen_by)
        .filter(|(_, count)| **count == outcome.sockets.len())
        .map(|((&s, &r), _)| Duration::from_nanos(r.saturating_sub(s)))
        .collect())
}

/// From send to receipt, for every delivery of a measured event to a socket.
pub fn each_delivery(outcome: &Outcome) -> anyhow::Result<Vec<Duration>> {
    let sent = outcome
        .emit
        .sent_ns
        .as_ref()
        .context("emitter kept no send times")?;
    let mut out = Vec::new();
    for socket in &outcome.sockets {
        for &(n, t) in socket.times.iter().flatten() {
            let i = n.checked_sub(outcome.emit.first).map(|i| i as usize);
            if let Some(&s) = i.and_then(|i| sent.get(i)) {
                out.push(Duration::from_nanos(t.saturating_sub(s)));
            }
        }
    }
    Ok(out)
}

/// The `q` quantile (0..=1) of sorted, non-empty `values`.
pub fn quantile(values: &[Duration], q: f64) -> Duration {
    values[((values.len() - 1) as f64 * q).round() as usize]
}
