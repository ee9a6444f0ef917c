//! The rate search of the throughput scenarios: a trial is one run at a
//! fixed rate on freshly started processes, judged by [`verdict`]; a
//! [`Search`] finds the highest rate that passes.
//!
//! A [`Search`] is a state machine — it says which rate to try next and
//! takes the verdict — so the driver can run the searches of several
//! systems side by side, one trial of each in turn (scenario 1), and any
//! drift of the machine lands on all of them alike. [`search`] runs one
//! on its own (scenario 4's sinks).

use std::time::Duration;

use crate::harness::Outcome;

/// One throughput trial's verdict.
#[derive(Debug, Clone)]
pub struct Trial {
    pub rate: f64,
    pub ok: bool,
    /// Why not ok: `loss`, `emitter`, `lag`, or an error.
    pub why: String,
    /// What the trial's processes spent (a trial that ran to its reports).
    pub cost: Option<Cost>,
}

/// CPU time per measured event of each role in one trial, from `go` until
/// every subscriber had reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// The system under test, µs per event.
    pub system_us: f64,
    /// The emitter, µs per event.
    pub emitter_us: f64,
    /// One subscriber process, µs per event it received (all of them,
    /// divided by K).
    pub subscriber_us: f64,
    /// Context switches of one subscriber process (all its threads) per
    /// event it received, the same way; None if a subscriber did not say.
    pub subscriber_switches: Option<f64>,
}

impl Cost {
    /// CPU the whole trial spends per event with `k` subscriber processes.
    pub fn total_us(&self, k: usize) -> f64 {
        self.system_us + self.emitter_us + k as f64 * self.subscriber_us
    }
}

/// A throughput trial's verdict from its outcome. The rules, checked in
/// this order for every system, and `why` names the first that failed:
///
/// 1. loss: every subscriber got every event, in order, intact;
/// 2. emitter: the emitter reached 95% of `rate` (its end time is taken
///    when the last event was handed to the socket, for every system, so
///    this judges the load generator, never a backlog in the system);
/// 3. lag: the last event arrived within 0.2 s + `secs`/10 of the last
///    send, so a rate that only fills a queue does not count as sustained.
pub fn verdict(outcome: &Outcome, rate: f64, secs: f64) -> (bool, String) {
    let lag_limit = Duration::from_secs_f64(0.2 + secs / 10.0);
    if !outcome.lossless() {
        (false, format!("loss ({} lost)", outcome.lost()))
    } else if outcome.achieved_rate() < rate * 0.95 {
        (false, format!("emitter ({:.0}/s)", outcome.achieved_rate()))
    } else if outcome.lag() > lag_limit {
        (false, format!("lag ({} ms)", outcome.lag().as_millis()))
    } else {
        (true, String::new())
    }
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct Found {
    /// Highest rate that passed (0 if none).
    pub rate: f64,
    /// What stopped the search above `rate`.
    pub limit: String,
    pub trials: Vec<Trial>,
}

/// Trials one search may use.
const BUDGET: usize = 10;

/// Where a search is.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// The smoke: one trial at this rate.
    Fixed(f64),
    /// Doubling from the start until a trial fails.
    Up(f64),
    /// Even the start failed: a quarter, and so on down to 50/s.
    Down(f64),
    /// Bisecting between the last pass and the first failure.
    Bisect,
    Done,
}

/// The highest rate at which a system passes.
///
/// Doubling from `start` until a trial fails, then bisecting between the
/// last pass and the first failure until they are within 10% (at most 10
/// trials). If even `start` fails, a quarter of it and so on down to 50/s.
/// With `fixed`, one trial at that rate only (the smoke).
#[derive(Debug, Clone)]
pub struct Search {
    phase: Phase,
    /// Highest rate that passed, 0 if none yet.
    good: f64,
    /// Lowest rate that failed above `good`, and why.
    bad: Option<(f64, String)>,
    trials: Vec<Trial>,
    /// One trial at a fixed rate (the smoke).
    fixed: bool,
}

impl Search {
    pub fn new(fixed: Option<f64>, start: f64) -> Search {
        Search {
            phase: fixed.map_or(Phase::Up(start), Phase::Fixed),
            good: 0.0,
            bad: None,
            trials: Vec::new(),
            fixed: fixed.is_some(),
        }
    }

    /// The rate of the next trial; `None` once the search is over.
    pub fn next_rate(&self) -> Option<f64> {
        match self.phase {
            Phase::Fixed(r) | Phase::Up(r) | Phase::Down(r) => Some(r),
            Phase::Bisect => {
                let hi = self.bad.as_ref().map_or(self.good * 2.0, |(r, _)| *r);
                Some(((self.good + hi) / 2.0 / 100.0).round() * 100.0)
            }
            Phase::Done => None,
        }
    }

    /// Take the verdict of the trial at [`Search::next_rate`].
    pub fn record(&mut self, trial: Trial) {
        let (rate, ok) = (trial.rate, trial.ok);
        if !ok {
            self.bad = Some((rate, trial.why.clone()));
        }
        self.trials.push(trial);
        self.phase = match self.phase {
            Phase::Fixed(_) => {
                if ok {
                    self.good = rate;
                }
                Phase::Done
            }
            Phase::Up(_) if ok => {
                self.good = rate;
                Phase::Up(rate * 2.0)
            }
            Phase::Up(_) if self.good == 0.0 => Phase::Down(rate / 4.0),
            Phase::Up(_) => Phase::Bisect,
            Phase::Down(_) if ok => {
                self.good = rate;
                Phase::Bisect
            }
            Phase::Down(_) => Phase::Down(rate / 4.0),
            Phase::Bisect => {
                if ok {
                    self.good = rate;
                }
                Phase::Bisect
            }
            Phase::Done => Phase::Done,
        };
        let close = |good: f64, bad: &Option<(f64, String)>| {
            bad.as_ref().is_none_or(|(hi, _)| hi / good <= 1.1)
        };
        let over = self.trials.len() >= BUDGET
            || matches!(self.phase, Phase::Down(r) if r < 50.0)
            || (matches!(self.phase, Phase::Bisect) && close(self.good, &self.bad));
        if over {
            self.phase = Phase::Done;
        }
    }

    /// Whether no more trials are wanted.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// The result so far (final once [`Search::is_done`]).
    pub fn found(&self) -> Found {
        let limit = match &self.bad {
            Some((r, why)) => format!("{why} at {r:.0}/s"),
            None if self.fixed => "one trial at a fixed rate (smoke)".to_owned(),
            None => "not reached (trial budget)".to_owned(),
        };
        Found {
            rate: self.good,
            limit,
            trials: self.trials.clone(),
        }
    }
}

/// One search on its own: `run` is called for each rate in turn.
pub fn search(fixed: Option<f64>, start: f64, mut run: impl FnMut(f64) -> Trial) -> Found {
    let mut s = Search::new(fixed, start);
    while let Some(rate) = s.next_rate() {
        s.record(run(rate));
    }
    s.found()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A system that passes below `limit`.
    fn trace(fixed: Option<f64>, start: f64, limit: f64) -> (Vec<f64>, Found) {
        let found = search(fixed, start, |rate| Trial {
            rate,
            ok: rate < limit,
            why: "lag".into(),
            cost: None,
        });
        (found.trials.iter().map(|t| t.rate).collect(), found)
    }

    #[test]
    fn doubles_then_bisects_to_within_ten_percent() {
        let (rates, found) = trace(None, 1000.0, 5000.0);
        assert_eq!(
            rates,
            [
                1000.0, 2000.0, 4000.0, 8000.0, 6000.0, 5000.0, 4500.0, 4800.0
            ]
        );
        assert_eq!(found.rate, 4800.0);
        assert_eq!(found.limit, "lag at 5000/s");
    }

    #[test]
    fn searches_down_when_the_start_fails() {
        let (rates, found) = trace(None, 16000.0, 1500.0);
        assert_eq!(
            rates,
            [
                16000.0, 4000.0, 1000.0, 2500.0, 1800.0, 1400.0, 1600.0, 1500.0
            ]
        );
        assert_eq!(found.rate, 1400.0);
    }

    #[test]
    fn stops_at_the_budget_and_at_fifty() {
        let (rates, found) = trace(None, 1000.0, f64::INFINITY);
        assert_eq!(rates.len(), BUDGET);
        assert_eq!(found.limit, "not reached (trial budget)");
        let (rates, found) = trace(None, 1000.0, 0.0);
        assert_eq!(rates, [1000.0, 250.0, 62.5]);
        assert_eq!(found.rate, 0.0);
    }

    #[test]
    fn fixed_is_one_trial() {
        let (rates, found) = trace(Some(300.0), 1000.0, 0.0);
        assert_eq!((rates.as_slice(), found.rate), ([300.0].as_slice(), 0.0));
        assert_eq!(found.limit, "lag at 300/s");
    }
}
