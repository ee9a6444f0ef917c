//! Section 2 of the report: end-to-end latency per path, and the paths
//! compared.

use std::fmt::Write as _;

use super::{Results, distinct_ks, ms, ratio, signed_ms};
use crate::latency::{Latency, Path};

impl Results {
    /// The latency row of `path` at `k`.
    pub(super) fn latency_of(&self, path: Path, k: usize) -> Option<&Latency> {
        self.latency.iter().find(|l| l.path == path && l.k == k)
    }

    /// Scenario 2: the paths, and their differences and ratios.
    pub(super) fn latency_section(&self) -> String {
        let mut md = String::new();
        let Some(first) = self.latency.first() else {
            return md;
        };
        let _ = write!(
            md,
            "\n### 2. End-to-end latency (send upstream → event in the last of K processes)\n\n\
             {} events per path and K at {:.0}/s, in {} interleaved rounds (every path \
             once per round); quantiles over all rounds.\n\n\
             | path | subscribers receive with | K | p50 (ms) | p99 (ms) | max (ms) | lost |\n\
             |---|---|---:|---:|---:|---:|---:|\n",
            first.events, first.rate, first.rounds
        );
        for l in &self.latency {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                l.path.name(),
                l.subscribers,
                l.k,
                ms(l.p50),
                ms(l.p99),
                ms(l.max),
                l.lost
            );
        }
        md.push('\n');
        for k in distinct_ks(self.latency.iter().map(|l| l.k)) {
            let mut parts = Vec::new();
            if let (Some(c), Some(s)) = (
                self.latency_of(Path::BrokerClient, k),
                self.latency_of(Path::BrokerSub, k),
            ) {
                parts.push(format!(
                    "client::register − SUB: p50 {} ms, p99 {} ms",
                    signed_ms(c.p50, s.p50),
                    signed_ms(c.p99, s.p99)
                ));
            }
            for (a, b, what) in [
                (Path::BrokerSub, Path::Floor, "ptp-broker SUB / floor"),
                (
                    Path::BrokerClient,
                    Path::Floor,
                    "ptp-broker client::register / floor",
                ),
                (
                    Path::Direct,
                    Path::BrokerSub,
                    "direct HTTP / ptp-broker SUB",
                ),
            ] {
                if let (Some(a), Some(b)) = (self.latency_of(a, k), self.latency_of(b, k)) {
                    parts.push(format!(
                        "{what}: p50 {}, p99 {}",
                        ratio(a.p50.as_secs_f64(), b.p50.as_secs_f64()),
                        ratio(a.p99.as_secs_f64(), b.p99.as_secs_f64())
                    ));
                }
            }
            if !parts.is_empty() {
                let _ = writeln!(md, "- K={k}: {}.", parts.join("; "));
            }
        }
        md
    }
}
