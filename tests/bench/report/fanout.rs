//! Section 1 of the report: fan-out throughput and the loopback probe.

use std::fmt::Write as _;

use super::{Results, distinct_ks, ratio, trace};
use crate::fanout::{Contender, Fanout};
use crate::peers::System;
use crate::search::Cost;

impl Results {
    /// What each process of the highest passing trial spent per event, and
    /// how many events per second the machine's cores could carry at that
    /// cost: the measurement that says where a rate is bounded.
    fn cost_table(&self) -> String {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let mut md = format!(
            "\nCPU per event in the highest passing trial of each search, from /proc \
             (user + system time from `go` until every subscriber had reported, over \
             the measured events): the system under test, the emitter, and one \
             subscriber process (all of them divided by K). \"All\" is what one event \
             costs the machine with K subscribers. The machine has {cores} cores, {cores} s \
             of CPU per second: at these costs it carries at most {cores} s / all events \
             per second, and at most {cores} s / (emitter + K × subscriber) even if the \
             system under test cost nothing — the bench's own processes bound the rate \
             there. The subscriber's context switches per event (all its threads, \
             from /proc/PID/task/*/status, the same span) count how often it went off \
             the CPU and was woken again: one per event for a process that waits on its \
             socket for each one, more where a thread hands each event to another.\n\n\
             | K | system | rate (ev/s) | system µs | emitter µs | one subscriber µs | one subscriber: context switches per event | all µs (system + emitter + K × subscriber) | {cores} cores / all (ev/s) | {cores} cores / (emitter + K × subscriber) (ev/s) |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        );
        for f in &self.fanout {
            let Some(cost) = best_cost(f) else { continue };
            let total = cost.total_us(f.k);
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {:.2} | {:.0} | {:.0} |",
                f.k,
                f.contender.name(),
                f.rate,
                cost.system_us,
                cost.emitter_us,
                cost.subscriber_us,
                cost.subscriber_switches
                    .map_or_else(|| "–".to_owned(), |n| format!("{n:.2}")),
                total,
                cores as f64 * 1e6 / total,
                cores as f64 * 1e6 / (total - cost.system_us)
            );
        }
        md
    }

    /// What decoding costs, and what it bounds: a client that decodes and
    /// validates each event once spends at least a raw SUB's CPU per event
    /// plus that decode, so even with nothing else (no hand-off, no
    /// bookkeeping) the cores carry at most cores / (system + emitter +
    /// K × (raw SUB + decode)) events per second, with the broker's and the
    /// emitter's costs of the raw SUB's best trial.
    fn decode_bound(&self) -> String {
        // At a fixed rate (the smoke) there is no max rate to bound.
        let Some(d) = self.decode.filter(|_| !self.smoke) else {
            return String::new();
        };
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let decode_us = d.decode_ns / 1e3;
        let mut md = format!(
            "\nWhat decoding costs, measured in the bench process before the searches \
             (the fastest of 5 batches of 200,000 on the bench's {}-byte event): \
             `proto::frame::view` {:.0} ns, `proto::frame::decode_event_into` (the view, \
             the copy into a spent event, validation: what the client's I/O thread does \
             per event) {:.0} ns. A client that decodes and validates each event once, \
             with no hand-off and no bookkeeping, costs about one raw SUB subscriber plus \
             that; with the broker's and the emitter's costs of the raw SUB's best trial, \
             {cores} cores then carry about the rate below. It is an estimate: each cost \
             is of one trial, and the decode in a loaded process is not the tight loop's. The SUB \
             decoding each event is that subscriber, measured: a raw SUB that decodes \
             and validates each event as the client's I/O thread does, on its one \
             thread.\n\n\
             | K | one raw SUB µs | + decode µs | {cores} cores / (system + emitter + K × both) (ev/s) | that / raw SUB's max rate | SUB decoding each event / raw SUB, measured | client::register / raw SUB, measured |\n\
             |---|---:|---:|---:|---:|---:|---:|\n",
            d.body_bytes, d.view_ns, d.decode_ns
        );
        for k in distinct_ks(self.fanout.iter().map(|f| f.k)) {
            let Some(raw) = self.broker_fanout(k) else {
                continue;
            };
            let Some(cost) = best_cost(raw) else { continue };
            let bound = cores as f64 * 1e6
                / (cost.system_us + cost.emitter_us + k as f64 * (cost.subscriber_us + decode_us));
            let measured = |c: Contender| {
                self.fanout_of(c, k)
                    .map_or_else(|| "–".to_owned(), |c| ratio(c.rate, raw.rate))
            };
            let _ = writeln!(
                md,
                "| {k} | {:.2} | {:.2} | {:.0} | {} | {} | {} |",
                cost.subscriber_us,
                decode_us,
                bound,
                ratio(bound, raw.rate),
                measured(Contender::Decoding),
                measured(Contender::Client),
            );
        }
        md
    }

    /// The broker's row (raw SUB) of scenario 1 at `k`.
    pub(super) fn broker_fanout(&self, k: usize) -> Option<&Fanout> {
        self.fanout_of(Contender::Raw(System::Broker), k)
    }

    /// `contender`'s row of scenario 1 at `k`.
    pub(super) fn fanout_of(&self, contender: Contender, k: usize) -> Option<&Fanout> {
        self.fanout
            .iter()
            .find(|f| f.k == k && f.contender == contender)
    }

    /// Scenario 1: the searches and the loopback probe.
    pub(super) fn fanout_section(&self) -> String {
        let mut md = String::new();
        if self.fanout.is_empty() && self.loopback.is_empty() {
            return md;
        }
        let _ = write!(
            md,
            "\n### 1. Fan-out throughput (emitter → system → K subscriber processes)\n\n\
             The contenders' searches ran interleaved, one trial of each in turn \
             (ptp-broker, forwarder, nats-server, SUB decoding each event, client, \
             ptp-broker, …), the loopback \
             probe between rounds. The libzmq forwarder ran {} I/O threads \
             (ZMQ_IO_THREADS: the core count, as many as the broker's workers).\n\n\
             | K | system | subscribers receive with | max zero-loss rate (ev/s) | delivered (ev/s) | ptp-broker / this | stopped by |\n\
             |---|---|---|---:|---:|---:|---|\n",
            self.forwarder_io_threads
        );
        let fanout = self.fanout.iter().map(|f| f.k);
        for k in distinct_ks(fanout.chain(self.loopback.iter().map(|l| l.k))) {
            let broker = self.broker_fanout(k);
            for f in self.fanout.iter().filter(|f| f.k == k) {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {:.0} | {:.0} | {} | {} |",
                    f.k,
                    f.contender.name(),
                    f.subscribers,
                    f.rate,
                    f.delivered(),
                    match broker {
                        Some(b) if f.contender != b.contender => ratio(b.rate, f.rate),
                        _ => "–".to_owned(),
                    },
                    f.limit
                );
            }
            for l in self.loopback.iter().filter(|l| l.k == k) {
                let best = l.best();
                let _ = writeln!(
                    md,
                    "| {k} | loopback probe: 1 sender → {k} TCP {} | raw TCP, {} B records, \
                     64 KiB writes | – | {} | {} | best of {} unpaced runs |",
                    if k == 1 { "receiver" } else { "receivers" },
                    l.record_size,
                    best.map_or("–".to_owned(), |b| format!("{b:.0}")),
                    match (broker, best) {
                        (Some(b), Some(p)) => ratio(b.delivered(), p),
                        _ => "–".to_owned(),
                    },
                    l.runs.len(),
                );
            }
        }
        md.push_str(&self.cost_table());
        md.push_str(&self.decode_bound());
        md.push_str("\nSearch trace (each trial a fresh run):\n\n");
        for f in &self.fanout {
            let _ = writeln!(
                md,
                "- K={} {}: {}",
                f.k,
                f.contender.name(),
                trace(&f.trials)
            );
        }
        for l in &self.loopback {
            let runs: Vec<String> = l
                .runs
                .iter()
                .map(|r| {
                    if r.ok {
                        format!("{:.0}/s", r.deliveries)
                    } else {
                        r.why.clone()
                    }
                })
                .collect();
            let _ = writeln!(
                md,
                "- K={} loopback probe, deliveries/s per run: {}",
                l.k,
                runs.join(", ")
            );
        }
        md
    }
}

/// The costs of `f`'s highest passing trial.
fn best_cost(f: &Fanout) -> Option<Cost> {
    f.trials
        .iter()
        .filter(|t| t.ok && t.rate == f.rate)
        .find_map(|t| t.cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode_cost::DecodeCost;
    use crate::search::Trial;

    fn row(contender: Contender, k: usize, rate: f64, cost: Cost) -> Fanout {
        let trial = |rate, ok| Trial {
            rate,
            ok,
            why: String::new(),
            cost: Some(cost),
        };
        Fanout {
            contender,
            subscribers: "",
            k,
            rate,
            limit: String::new(),
            // A passing trial below the best: its cost is not the one used.
            trials: vec![trial(rate / 2.0, true), trial(rate, true)],
        }
    }

    #[test]
    fn the_decode_bound_adds_the_decode_to_the_raw_subscriber() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        let raw = Cost {
            system_us: 2.0,
            emitter_us: 1.0,
            subscriber_us: 0.5,
            subscriber_switches: None,
        };
        let results = Results {
            fanout: vec![
                row(Contender::Raw(System::Broker), 8, 100_000.0, raw),
                row(Contender::Decoding, 8, 90_000.0, raw),
                row(Contender::Client, 8, 40_000.0, raw),
            ],
            decode: Some(DecodeCost {
                body_bytes: 458,
                view_ns: 150.0,
                decode_ns: 500.0,
            }),
            ..Results::default()
        };
        // cores / (2 + 1 + 8 × (0.5 + 0.5)) µs.
        let bound = cores * 1e6 / 11.0;
        let md = results.decode_bound();
        let want = format!(
            "| 8 | 0.50 | 0.50 | {bound:.0} | {} | 0.90× | 0.40× |",
            ratio(bound, 100_000.0)
        );
        assert!(md.contains(&want), "{md}");
        assert!(md.contains("458-byte event"), "{md}");
        // The smoke runs at fixed rates: no max rate, no bound.
        let smoke = Results {
            smoke: true,
            ..results
        };
        assert_eq!(smoke.decode_bound(), "");
    }
}
