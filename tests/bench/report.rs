//! The results as markdown: the tables, the goals of issue 5 next to what
//! was measured, and the machine. `--write` puts the same text into
//! docs/BENCHMARKS.md between two marker comments.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

mod sinks;

use crate::peers::System;
use crate::scenarios::{Fanout, Latency, Scale};
use crate::search::Trial;
use crate::sinks::{SinkRate, WebhookFanout};

/// Everything one run measured.
#[derive(Default)]
pub struct Results {
    pub fanout: Vec<Fanout>,
    pub latency: Vec<Latency>,
    pub scale: Vec<Scale>,
    /// Scenario 4: webhook fan-out (broker, direct) and the rate per sink.
    pub webhooks: Vec<WebhookFanout>,
    pub sink_rates: Vec<SinkRate>,
    /// Failures that stopped a scenario (not measurements).
    pub errors: Vec<String>,
    /// Parts skipped because what they measure does not exist yet.
    pub not_run: Vec<String>,
}

const START: &str = "<!-- bench:results:start -->";
const END: &str = "<!-- bench:results:end -->";

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".to_owned()
    }
}

/// A search's trials: `rate verdict, …`.
fn trace(trials: &[Trial]) -> String {
    let trace: Vec<String> = trials
        .iter()
        .map(|t| {
            let verdict = if t.ok { "ok" } else { t.why.as_str() };
            format!("{:.0} {verdict}", t.rate)
        })
        .collect();
    trace.join(", ")
}

/// Machine, date and command, for the record.
pub fn machine(command: &str) -> String {
    let run = |program: &str, args: &[&str]| -> String {
        Command::new(program)
            .args(args)
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .unwrap_or_default()
    };
    let lscpu = run("lscpu", &[]);
    let model = lscpu
        .lines()
        .find_map(|l| l.strip_prefix("Model name:"))
        .map_or("unknown", str::trim)
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    let date = run("date", &["-u", "+%Y-%m-%d"]);
    let kernel = run("uname", &["-r"]);
    format!(
        "- Machine: {model}, {cores} cores, {:.0} GB RAM, Linux {}\n- Date: {}\n- Command: `{command}`\n",
        mem_kb as f64 / (1024.0 * 1024.0),
        kernel.trim(),
        date.trim()
    )
}

impl Results {
    /// The markdown report.
    pub fn markdown(&self, command: &str) -> String {
        let mut md = String::new();
        md.push_str(&machine(command));
        if !self.fanout.is_empty() {
            md.push_str(
                "\n### 1. Fan-out throughput (emitter → system → K subscriber processes)\n\n\
                 | K | system | max zero-loss rate (ev/s) | delivered (ev/s) | broker / this | stopped by |\n\
                 |---|---|---:|---:|---:|---|\n",
            );
            for f in &self.fanout {
                let broker = self
                    .fanout
                    .iter()
                    .find(|b| b.k == f.k && b.system == System::Broker)
                    .map_or(0.0, |b| b.rate);
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.0} | {:.0} | {} | {} |",
                    f.k,
                    f.system.name(),
                    f.rate,
                    f.delivered(),
                    if f.system == System::Broker {
                        "–".to_owned()
                    } else {
                        ratio(broker, f.rate)
                    },
                    f.limit
                );
            }
        }
        if self.fanout.iter().any(|f| f.trials.len() > 1) {
            md.push_str("\nSearch trace (each trial a fresh run):\n\n");
            for f in &self.fanout {
                let _ = writeln!(md, "- K={} {}: {}", f.k, f.system.name(), trace(&f.trials));
            }
        }
        if !self.latency.is_empty() {
            md.push_str(
                "\n### 2. End-to-end latency (upstream HTTP POST → event in every one of K processes)\n\n\
                 | path | K | events @ rate | p50 (ms) | p99 (ms) | max (ms) | lost |\n\
                 |---|---:|---:|---:|---:|---:|---:|\n",
            );
            for l in &self.latency {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} @ {:.0}/s | {} | {} | {} | {} |",
                    l.path,
                    l.k,
                    l.events,
                    l.rate,
                    ms(l.p50),
                    ms(l.p99),
                    ms(l.max),
                    l.lost
                );
            }
            if let [broker, direct] = self.latency.as_slice() {
                let _ = writeln!(
                    md,
                    "\nDirect / broker: p50 {}, p99 {}.",
                    ratio(direct.p50.as_secs_f64(), broker.p50.as_secs_f64()),
                    ratio(direct.p99.as_secs_f64(), broker.p99.as_secs_f64())
                );
            }
        }
        if !self.scale.is_empty() {
            md.push_str(
                "\n### 3. Scale and cost\n\n\
                 | system | start → ready (ms) | idle RSS (MB) | subscriber sockets | rate (ev/s) | RSS loaded (MB) | CPU (% of one core) | lost |\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|\n",
            );
            for s in &self.scale {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {:.0} | {} | {:.1} | {} |",
                    s.system.name(),
                    ms(s.startup),
                    mb(s.idle_rss),
                    s.sockets,
                    s.rate,
                    mb(s.loaded_rss),
                    s.cpu_share * 100.0,
                    s.lost
                );
            }
        }
        md.push_str(&self.sinks());
        md.push_str(&self.goals());
        if !self.not_run.is_empty() {
            md.push_str("\n### Not run\n\n");
            for n in &self.not_run {
                let _ = writeln!(md, "- {n}");
            }
        }
        if !self.errors.is_empty() {
            md.push_str("\n### Failures\n\n");
            for e in &self.errors {
                let _ = writeln!(md, "- {e}");
            }
        }
        md
    }

    /// Issue 5's goals beside the measurements. Recorded, never asserted.
    fn goals(&self) -> String {
        let mut md = String::from(
            "\n### Goals (recorded, not asserted)\n\n| goal | measured | met |\n|---|---|---|\n",
        );
        let rate = |s: System, k: usize| {
            self.fanout
                .iter()
                .find(|f| f.system == s && f.k == k)
                .map(|f| f.rate)
        };
        let yes = |b: bool| if b { "yes" } else { "no" };
        for peer in [System::Libzmq, System::Nats] {
            if let (Some(b), Some(p)) = (rate(System::Broker, 8), rate(peer, 8)) {
                let _ = writeln!(
                    md,
                    "| fan-out K=8 ≥ 1.0× {} | {} | {} |",
                    peer.name(),
                    ratio(b, p),
                    yes(p > 0.0 && b >= p)
                );
            }
        }
        if let [broker, direct] = self.latency.as_slice() {
            let _ = writeln!(
                md,
                "| latency p99 ≤ 1 ms, K={} | {} ms | {} |",
                broker.k,
                ms(broker.p99),
                yes(broker.p99 <= Duration::from_millis(1))
            );
            let _ = writeln!(
                md,
                "| p99 ≥ 10× lower than direct HTTP | {} | {} |",
                ratio(direct.p99.as_secs_f64(), broker.p99.as_secs_f64()),
                yes(direct.p99.as_secs_f64() >= 10.0 * broker.p99.as_secs_f64())
            );
        }
        if let Some(s) = self.scale.iter().find(|s| s.system == System::Broker) {
            let _ = writeln!(
                md,
                "| idle RSS ≤ 20 MB | {} MB | {} |",
                mb(s.idle_rss),
                yes(s.idle_rss <= 20 << 20)
            );
            let _ = writeln!(
                md,
                "| RSS ≤ 150 MB with {} subscribers | {} MB | {} |",
                s.sockets,
                mb(s.loaded_rss),
                yes(s.loaded_rss <= 150 << 20)
            );
        }
        // Nothing measured that a goal is about (e.g. `--scenarios 4`).
        if md.ends_with("|---|---|---|\n") {
            return String::new();
        }
        md
    }

    /// True when every measured run was lossless and nothing failed. The
    /// throughput search fails trials on purpose, so only fixed-rate trials
    /// (the smoke) count.
    pub fn correct(&self, fixed_rate: bool) -> bool {
        self.errors.is_empty()
            && self.latency.iter().all(|l| l.ok)
            && self.scale.iter().all(|s| s.ok)
            && self.webhooks.iter().all(|w| w.ok)
            && (!fixed_rate
                || (self.fanout.iter().all(|f| f.trials.iter().all(|t| t.ok))
                    && self
                        .sink_rates
                        .iter()
                        .all(|r| r.found.trials.iter().all(|t| t.ok))))
    }
}

/// Replace the marked region of `path` with `body`.
pub fn write_into(path: &Path, body: &str) -> anyhow::Result<()> {
    let doc = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let (before, rest) = doc
        .split_once(START)
        .with_context(|| format!("{} has no {START}", path.display()))?;
    let (_, after) = rest
        .split_once(END)
        .with_context(|| format!("{} has no {END}", path.display()))?;
    let doc = format!("{before}{START}\n{body}{END}{after}");
    std::fs::write(path, doc).with_context(|| format!("write {}", path.display()))
}
