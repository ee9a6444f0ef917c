//! Section 4 of the report: the broker's sinks.

use std::fmt::Write as _;

use super::{Results, mb, ms, ratio, trace};

impl Results {
    /// Scenario 4, the broker's sinks.
    pub(super) fn sinks(&self) -> String {
        let mut md = String::new();
        if self.webhooks.is_empty() && self.sink_rates.is_empty() {
            return md;
        }
        md.push_str("\n### 4. Sinks (subscriptions added with `ptp-broker subscribe`)\n");
        if let Some(first) = self.webhooks.first() {
            let _ = write!(
                md,
                "\n**Webhook fan-out**: one event to {k} webhooks ({k} `bench-sub --mode http` \
                 processes), {events} events per system and rate, in {rounds} interleaved \
                 rounds (ptp-broker, direct, ptp-broker, …). ptp-broker: the emitter PUSHes, \
                 the broker's webhook sink POSTs the structured CloudEvent to {k} \
                 subscriptions. Direct: the emitter POSTs to the {k} itself, one keep-alive \
                 connection and queue per webhook. Latency from the send to the receipt: \
                 until the last of the {k} has it, and over every delivery. CPU and peak \
                 RSS: the process that POSTs, over the measured batches.\n\n\
                 | rate (ev/s) | system | delivered / expected | last of K: p50 (ms) | p99 (ms) \
                 | max (ms) | each: p50 (ms) | p99 (ms) | CPU of the POSTing process \
                 | its peak RSS (MB) |\n\
                 |---:|---|---:|---:|---:|---:|---:|---:|---|---:|\n",
                k = first.k,
                events = first.events,
                rounds = first.rounds,
            );
        }
        for w in &self.webhooks {
            let c = &w.cost;
            let _ = writeln!(
                md,
                "| {:.0} | {} | {} / {} | {} | {} | {} | {} | {} | {} {} ms ({:.1}% of one core) | {} |",
                w.rate,
                w.system,
                w.delivered,
                w.expected,
                ms(w.last_p50),
                ms(w.last_p99),
                ms(w.last_max),
                ms(w.each_p50),
                ms(w.each_p99),
                c.process,
                c.cpu.as_millis(),
                100.0 * c.cpu.as_secs_f64() / c.wall.as_secs_f64().max(1e-9),
                mb(c.peak_rss),
            );
        }
        md.push('\n');
        for pair in self.webhooks.chunks(2) {
            if let [broker, direct] = pair {
                let _ = write!(
                    md,
                    "- {:.0}/s: direct / broker, last of K: p50 {}, p99 {}.",
                    broker.rate,
                    ratio(direct.last_p50.as_secs_f64(), broker.last_p50.as_secs_f64()),
                    ratio(direct.last_p99.as_secs_f64(), broker.last_p99.as_secs_f64())
                );
            }
            for w in pair {
                if let Some(c) = &w.counters {
                    let _ = write!(
                        md,
                        " The broker's counters (`ptp-broker stats`, summed over the {} \
                         subscriptions and the rounds, warm-up included): delivered {}, \
                         retried {}, failed {}, dropped {}.",
                        w.k, c.delivered, c.retried, c.failed, c.dropped
                    );
                }
                if !w.problems.is_empty() {
                    let _ = write!(md, " **{}: {}.**", w.system, w.problems.join("; "));
                }
            }
            md.push('\n');
        }
        if let Some(first) = self.sink_rates.first() {
            let passes = if first.timed {
                format!(
                    "as in scenario 1 (every event, in order, the emitter at 95% of the \
                     rate, the last event within {:.2} s of the last send)",
                    0.2 + first.secs / 10.0
                )
            } else {
                "on correctness alone (every event, in order; the smoke)".to_owned()
            };
            let _ = write!(
                md,
                "\n**Events/s into one destination**: emitter → ptp-broker → one \
                 subscriber process. Each trial is a fresh start of everything (and \
                 nats-server for NATS) and {secs} s of events at a fixed rate; it passes \
                 {passes} and when the broker's counters say every event delivered, none \
                 dropped or failed. The subscriber checks `--verify {verify}`. The rate \
                 search is scenario 1's; delivered is measured events received per second \
                 from the first send to the last receipt, and the broker's CPU is over the \
                 trial, both at the highest passing rate.\n\n\
                 | sink | subscription | max zero-loss rate (ev/s) | delivered (ev/s) \
                 | broker CPU (% of one core) | stopped by |\n\
                 |---|---|---:|---:|---:|---|\n",
                secs = first.secs,
                verify = first.verify,
            );
            for r in &self.sink_rates {
                let _ = writeln!(
                    md,
                    "| {} | `{}` | {:.0} | {} | {} | {} |",
                    r.sink.name(),
                    r.sink.subscription(),
                    r.found.rate,
                    r.delivered_rate
                        .map_or("–".to_owned(), |d| format!("{d:.0}")),
                    r.cpu_share
                        .map_or("–".to_owned(), |c| format!("{:.1}", c * 100.0)),
                    r.found.limit
                );
            }
            if self.sink_rates.iter().any(|r| r.found.trials.len() > 1) {
                md.push_str("\nSearch trace (each trial a fresh run):\n\n");
                for r in &self.sink_rates {
                    let _ = writeln!(md, "- {}: {}", r.sink.name(), trace(&r.found.trials));
                }
            }
        }
        md
    }
}
