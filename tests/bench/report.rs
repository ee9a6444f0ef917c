//! The results as markdown: the tables, the goals of issue 5 next to what
//! was measured, and the machine. `--write` puts the same text into
//! docs/BENCHMARKS.md between two marker comments.
//!
//! Layout: this file holds [`Results`], the helpers and scenario 3;
//! `fanout` renders scenario 1, `latency` scenario 2, `sinks` scenario 4,
//! `goals` the goals table — every number in it computed from the rows.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

mod fanout;
mod goals;
mod latency;
mod sinks;

use crate::decode_cost::DecodeCost;
use crate::fanout::{Fanout, Loopback};
use crate::latency::Latency;
use crate::scenarios::Scale;
use crate::search::Trial;
use crate::sinks::{SinkRate, WebhookFanout};

/// Everything one run measured.
#[derive(Default)]
pub struct Results {
    /// Scenario 1: one row per contender and K, and the loopback probe per K.
    pub fanout: Vec<Fanout>,
    pub loopback: Vec<Loopback>,
    /// What decoding one bench event costs (scenario 1's client bound).
    pub decode: Option<DecodeCost>,
    /// The libzmq forwarder's I/O threads (ZMQ_IO_THREADS).
    pub forwarder_io_threads: usize,
    /// The smoke's tiny sizes: the goals are shown, not judged.
    pub smoke: bool,
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

/// `a − b` in ms, with its sign.
fn signed_ms(a: Duration, b: Duration) -> String {
    format!("{:+.3}", (a.as_secs_f64() - b.as_secs_f64()) * 1e3)
}

/// The distinct K values of some rows, in order.
fn distinct_ks(ks: impl IntoIterator<Item = usize>) -> Vec<usize> {
    let mut ks: Vec<usize> = ks.into_iter().collect();
    ks.sort_unstable();
    ks.dedup();
    ks
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
        md.push_str(&self.fanout_section());
        md.push_str(&self.latency_section());
        md.push_str(&self.scale_section());
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

    /// Scenario 3.
    fn scale_section(&self) -> String {
        let mut md = String::new();
        if self.scale.is_empty() {
            return md;
        }
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
        md
    }

    /// True when every measured run was lossless and nothing failed. The
    /// throughput search fails trials on purpose, so only fixed-rate trials
    /// (the smoke) count.
    pub fn correct(&self, fixed_rate: bool) -> bool {
        self.errors.is_empty()
            && self.latency.iter().all(|l| l.ok)
            && self.loopback.iter().all(|l| l.runs.iter().all(|r| r.ok))
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
pub fn write_into(path: &std::path::Path, body: &str) -> anyhow::Result<()> {
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
