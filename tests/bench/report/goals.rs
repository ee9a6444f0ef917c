//! The goals of issues 5 and 14 beside what this run measured. Every measured
//! value and every ratio is computed here from the rows of this one run
//! (whose contenders ran interleaved); only the targets are written by
//! hand, in [`goals`](Results::goals). Recorded, never asserted: a goal not
//! met is a finding, not a failure of the bench.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Results, distinct_ks, mb, ms};
use crate::fanout::Contender;
use crate::latency::Path;
use crate::peers::System;

/// What a goal asks of its measured value.
#[derive(Clone, Copy)]
enum Target {
    /// A ratio of at least this.
    RatioAtLeast(f64),
    /// A ratio of at most this.
    RatioAtMost(f64),
    /// A duration of at most this.
    AtMost(Duration),
    /// Bytes, at most.
    BytesAtMost(u64),
}

impl Target {
    fn text(self) -> String {
        match self {
            Target::RatioAtLeast(r) => format!("≥ {r:.2}×"),
            Target::RatioAtMost(r) => format!("≤ {r:.2}×"),
            Target::AtMost(d) => format!("≤ {} ms", ms(d)),
            Target::BytesAtMost(b) => format!("≤ {} MB", mb(b)),
        }
    }
}

/// One row: the goal, its target, and what was measured (`None`: not in
/// this run, and why).
struct Goal {
    what: String,
    target: Target,
    measured: Result<Measured, String>,
}

/// A measured value and how it was computed.
struct Measured {
    /// The value a target is checked against (a ratio, seconds, bytes).
    value: f64,
    /// As shown, with its inputs.
    shown: String,
}

impl Goal {
    /// `a / b`, both from the run, shown with their unit.
    fn ratio(what: String, target: Target, a: Option<f64>, b: Option<f64>, unit: &str) -> Goal {
        let measured = match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => Ok(Measured {
                value: a / b,
                shown: format!("{:.2}× ({a:.0} / {b:.0} {unit})", a / b),
            }),
            (Some(_), Some(_)) => Err("the reference measured 0".to_owned()),
            _ => Err("not measured in this run".to_owned()),
        };
        Goal {
            what,
            target,
            measured,
        }
    }

    /// `a / b` of two latencies.
    fn latency_ratio(
        what: String,
        target: Target,
        a: Option<Duration>,
        b: Option<Duration>,
    ) -> Goal {
        let measured = match (a, b) {
            (Some(a), Some(b)) if !b.is_zero() => Ok(Measured {
                value: a.as_secs_f64() / b.as_secs_f64(),
                shown: format!(
                    "{:.2}× ({} / {} ms)",
                    a.as_secs_f64() / b.as_secs_f64(),
                    ms(a),
                    ms(b)
                ),
            }),
            (Some(_), Some(_)) => Err("the reference measured 0".to_owned()),
            _ => Err("not measured in this run".to_owned()),
        };
        Goal {
            what,
            target,
            measured,
        }
    }

    fn met(&self) -> Option<bool> {
        let v = self.measured.as_ref().ok()?.value;
        Some(match self.target {
            Target::RatioAtLeast(r) => v >= r,
            Target::RatioAtMost(r) => v <= r,
            Target::AtMost(d) => v <= d.as_secs_f64(),
            Target::BytesAtMost(b) => v <= b as f64,
        })
    }
}

impl Results {
    /// The goals table.
    pub(super) fn goals(&self) -> String {
        let rate = |c: Contender, k: usize| self.fanout_of(c, k).map(|f| f.rate);
        let broker = Contender::Raw(System::Broker);
        let nats = Contender::Raw(System::Nats);
        let forwarder = Contender::Raw(System::Libzmq);
        let p50 = |p: Path, k: usize| self.latency_of(p, k).map(|l| l.p50);
        let p99 = |p: Path, k: usize| self.latency_of(p, k).map(|l| l.p99);
        // The many-process K of the latency scenario: its largest.
        let many = self.latency.iter().map(|l| l.k).max().unwrap_or(64);
        let mut goals = vec![
            Goal::ratio(
                "fan-out K=1: ptp-broker / nats-server, max zero-loss rate".to_owned(),
                Target::RatioAtLeast(1.0),
                rate(broker, 1),
                rate(nats, 1),
                "ev/s",
            ),
            Goal::ratio(
                format!(
                    "fan-out K=8: ptp-broker / libzmq forwarder ({} I/O threads)",
                    self.forwarder_io_threads
                ),
                Target::RatioAtLeast(1.3),
                rate(broker, 8),
                rate(forwarder, 8),
                "ev/s",
            ),
            Goal::ratio(
                "fan-out K=8: ptp-broker / nats-server".to_owned(),
                Target::RatioAtLeast(1.0),
                rate(broker, 8),
                rate(nats, 8),
                "ev/s",
            ),
            Goal::ratio(
                "deliveries/s K=8: ptp-broker / loopback probe".to_owned(),
                Target::RatioAtLeast(0.5),
                self.broker_fanout(8).map(|f| f.delivered()),
                self.loopback
                    .iter()
                    .find(|l| l.k == 8)
                    .and_then(|l| l.best()),
                "deliveries/s",
            ),
        ];
        let ks = distinct_ks(self.fanout.iter().map(|f| f.k));
        for k in if ks.is_empty() { vec![8] } else { ks } {
            goals.push(Goal::ratio(
                format!(
                    "client::register / raw SUB (which scans seq, decodes nothing), max zero-loss rate, K={k}"
                ),
                Target::RatioAtLeast(0.8),
                rate(Contender::Client, k),
                rate(broker, k),
                "ev/s",
            ));
        }
        let added = match (p50(Path::BrokerClient, 1), p50(Path::BrokerSub, 1)) {
            (Some(c), Some(s)) => {
                let added = c.as_secs_f64() - s.as_secs_f64();
                Ok(Measured {
                    value: added,
                    shown: format!("{:+.3} ms ({} − {} ms)", added * 1e3, ms(c), ms(s)),
                })
            }
            _ => Err("not measured in this run".to_owned()),
        };
        goals.push(Goal {
            what: "client p50 added latency, K=1: POST→callback minus POST→SUB".to_owned(),
            target: Target::AtMost(Duration::from_micros(20)),
            measured: added,
        });
        goals.push(Goal::latency_ratio(
            format!("POST→callback p99, K={many}: ptp-broker (client::register) / C libzmq floor"),
            Target::RatioAtMost(1.1),
            p99(Path::BrokerClient, many),
            p99(Path::Floor, many),
        ));
        goals.push(Goal {
            what: format!("latency p99, K={many}: POST→SUB through ptp-broker"),
            target: Target::AtMost(Duration::from_millis(1)),
            measured: p99(Path::BrokerSub, many)
                .map(|p| Measured {
                    value: p.as_secs_f64(),
                    shown: format!("{} ms", ms(p)),
                })
                .ok_or_else(|| "not measured in this run".to_owned()),
        });
        goals.push(Goal::latency_ratio(
            format!("latency p99, K={many}: direct HTTP fan-out / ptp-broker SUB"),
            Target::RatioAtLeast(10.0),
            p99(Path::Direct, many),
            p99(Path::BrokerSub, many),
        ));
        let scale = self.scale.iter().find(|s| s.system == System::Broker);
        goals.push(Goal {
            what: "idle RSS of ptp-broker".to_owned(),
            target: Target::BytesAtMost(20 << 20),
            measured: scale
                .map(|s| Measured {
                    value: s.idle_rss as f64,
                    shown: format!("{} MB", mb(s.idle_rss)),
                })
                .ok_or_else(|| "not measured in this run".to_owned()),
        });
        goals.push(Goal {
            what: format!(
                "RSS of ptp-broker with {} subscribers",
                scale.map_or(1000, |s| s.sockets)
            ),
            target: Target::BytesAtMost(30 << 20),
            measured: scale
                .map(|s| Measured {
                    value: s.loaded_rss as f64,
                    shown: format!("{} MB (peak, at {:.0} ev/s)", mb(s.loaded_rss), s.rate),
                })
                .ok_or_else(|| "not measured in this run".to_owned()),
        });
        // Nothing measured that a goal is about (e.g. `--scenarios 4`).
        if goals.iter().all(|g| g.measured.is_err()) {
            return String::new();
        }
        let mut md = String::from(
            "\n### Goals (recorded, not asserted)\n\n\
             Every measured value and ratio is computed from the tables above (one run, \
             contenders interleaved); only the goals are fixed.\n\n\
             | goal | target | measured | met |\n|---|---|---|---|\n",
        );
        for g in &goals {
            let (shown, met) = match &g.measured {
                // Timing at the smoke's sizes means nothing: shown only.
                Ok(m) if self.smoke => (m.shown.clone(), "not judged (smoke)"),
                Ok(m) if g.met() == Some(true) => (m.shown.clone(), "met"),
                Ok(m) => (m.shown.clone(), "not met"),
                Err(why) => (why.clone(), "–"),
            };
            let _ = writeln!(md, "| {} | {} | {shown} | {met} |", g.what, g.target.text());
        }
        md
    }
}
