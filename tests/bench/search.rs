//! The rate search of the throughput scenarios: a trial is one run at a
//! fixed rate on freshly started processes, judged by [`verdict`];
//! [`search`] finds the highest rate that passes.

use std::time::Duration;

use crate::harness::Outcome;

/// One throughput trial's verdict.
#[derive(Debug, Clone)]
pub struct Trial {
    pub rate: f64,
    pub ok: bool,
    /// Why not ok: `loss`, `lag`, `emitter`, or an error.
    pub why: String,
}

/// A throughput trial's verdict from its outcome: every subscriber got
/// every event in order, the emitter reached 95% of `rate`, and the last
/// event arrived within 0.2 s + `secs`/10 of the last send (so a rate that
/// only fills a queue does not count as sustained). `why` names the first
/// that failed.
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

/// What [`search`] found.
#[derive(Debug, Clone)]
pub struct Found {
    /// Highest rate that passed (0 if none).
    pub rate: f64,
    /// What stopped the search above `rate`.
    pub limit: String,
    pub trials: Vec<Trial>,
}

/// The highest rate at which `run` passes.
///
/// Doubling from `start` until a trial fails, then bisecting between the
/// last pass and the first failure until they are within 10% (at most 10
/// trials). If even `start` fails, a quarter of it and so on down to 50/s.
/// With `fixed`, one trial at that rate only (the smoke).
pub fn search(fixed: Option<f64>, start: f64, mut run: impl FnMut(f64) -> Trial) -> Found {
    let mut trials = Vec::new();
    let mut run = |rate: f64, trials: &mut Vec<Trial>| {
        let t = run(rate);
        trials.push(t.clone());
        t
    };
    if let Some(rate) = fixed {
        let t = run(rate, &mut trials);
        return Found {
            rate: if t.ok { rate } else { 0.0 },
            limit: t.why,
            trials,
        };
    }
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
    Found {
        rate: good,
        limit: bad.map_or_else(
            || "not reached (trial budget)".to_owned(),
            |(r, why)| format!("{why} at {r:.0}/s"),
        ),
        trials,
    }
}
