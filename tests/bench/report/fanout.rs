//! Section 1 of the report: fan-out throughput and the loopback probe.

use std::fmt::Write as _;

use super::{Results, ratio, trace};
use crate::fanout::{Contender, Fanout};
use crate::peers::System;

impl Results {
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
             (ptp-broker, forwarder, nats-server, client, ptp-broker, …), the loopback \
             probe between rounds. The libzmq forwarder ran {} I/O threads \
             (ZMQ_IO_THREADS: the core count, as many as the broker's workers).\n\n\
             | K | system | subscribers receive with | max zero-loss rate (ev/s) | delivered (ev/s) | ptp-broker / this | stopped by |\n\
             |---|---|---|---:|---:|---:|---|\n",
            self.forwarder_io_threads
        );
        let mut ks: Vec<usize> = self.fanout.iter().map(|f| f.k).collect();
        ks.extend(self.loopback.iter().map(|l| l.k));
        ks.sort_unstable();
        ks.dedup();
        for k in ks {
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
