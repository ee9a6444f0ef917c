//! Scenario 1, fan-out throughput: the highest zero-loss rate from one
//! emitter through each system to K subscriber processes, and the loopback
//! probe beside them.
//!
//! The contenders' searches run side by side, one trial of each in turn:
//! ptp-broker (raw SUB), the libzmq forwarder, nats-server, ptp-broker to
//! raw SUBs that decode each event, ptp-broker through `client::register`,
//! then ptp-broker again with its next rate,
//! and so on until every search is over. While the searches double they
//! try the same rate one after another; afterwards each goes on with its
//! own. A drift of the machine (another job, a thermal change) so lands on
//! every system alike instead of on whichever was measured last. The
//! loopback probe runs between rounds, spread over the same time.

use crate::harness::{Emitter, Load, Probe, SubKind, Subscribers, run_load};
use crate::peers::{Env, System};
use crate::scenarios::{Sizes, fanout_load, raw_subscriber};
use std::time::Duration;

use crate::search::{Cost, Search, Trial, verdict};
use crate::wire;

/// What is measured: a system with its own subscribers, or the broker
/// with subscribers that receive through the client library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contender {
    /// The system and subscribers speaking its own protocol directly
    /// (`--verify seq`: they find `n` and `seq`, decode nothing).
    Raw(System),
    /// ptp-broker and raw SUBs that decode and validate each event as the
    /// client's I/O thread does (`--verify full`), on one thread: what a
    /// client with no hand-off and no bookkeeping would reach.
    Decoding,
    /// ptp-broker, and `bench-client` processes: `client::register`.
    Client,
}

impl Contender {
    /// Every contender, in the order of one round.
    pub const ALL: [Contender; 5] = [
        Contender::Raw(System::Broker),
        Contender::Raw(System::Libzmq),
        Contender::Raw(System::Nats),
        Contender::Decoding,
        Contender::Client,
    ];

    /// The system under test.
    pub fn system(self) -> System {
        match self {
            Contender::Raw(system) => system,
            Contender::Decoding | Contender::Client => System::Broker,
        }
    }

    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Contender::Raw(system) => system.name(),
            Contender::Decoding => "ptp-broker, SUB decoding each event",
            Contender::Client => "ptp-broker, client::register",
        }
    }

    /// What receives in the subscriber processes, in tables.
    pub fn subscribers(self) -> &'static str {
        match self {
            Contender::Decoding => "SUB (Rust, proto::zmtp) + decode_event_into",
            other => subscriber_kind(other, "").label(),
        }
    }

    /// How much the subscribers check (`bench-sub --verify`).
    fn verify(self) -> &'static str {
        match self {
            Contender::Decoding => "full",
            Contender::Raw(_) | Contender::Client => "seq",
        }
    }
}

/// Result of the fan-out search for one contender and K.
#[derive(Debug, Clone)]
pub struct Fanout {
    pub contender: Contender,
    /// What receives in the subscriber processes.
    pub subscribers: &'static str,
    pub k: usize,
    /// Highest rate that passed (0 if none).
    pub rate: f64,
    /// What stopped the search above `rate`.
    pub limit: String,
    pub trials: Vec<Trial>,
}

impl Fanout {
    /// Events delivered per second over all subscribers.
    pub fn delivered(&self) -> f64 {
        self.rate * self.k as f64
    }
}

/// The loopback probe at one K: one `bench-emit --mode tcp` writing
/// fixed-size records (one PUB message's size each) to K `bench-sub --mode
/// tcp` receivers through a 64 KiB buffer per connection, unpaced.
#[derive(Debug, Clone)]
pub struct Loopback {
    pub k: usize,
    /// Bytes per record.
    pub record_size: usize,
    pub runs: Vec<LoopbackRun>,
}

/// One run of the probe.
#[derive(Debug, Clone)]
pub struct LoopbackRun {
    /// Records received over all receivers, per second from the first send
    /// to the last receipt (0 if the run failed).
    pub deliveries: f64,
    pub ok: bool,
    /// Why not ok.
    pub why: String,
}

impl Loopback {
    /// The highest deliveries/s of a lossless run: the limit the machine
    /// showed (the systems' rates are highest passing rates too).
    pub fn best(&self) -> Option<f64> {
        self.runs
            .iter()
            .filter(|r| r.ok)
            .map(|r| r.deliveries)
            .max_by(f64::total_cmp)
    }
}

/// Loopback probe runs at most every this many rounds of the searches.
const PROBE_EVERY: usize = 3;

/// Scenario 1 at one K: every contender's search, interleaved trial by
/// trial, and the loopback probe between rounds.
pub fn fanout(env: &Env, sizes: &Sizes, k: usize) -> (Vec<Fanout>, Loopback) {
    let start = match k {
        1 => 16_000.0,
        2..=8 => 8_000.0,
        _ => 1_000.0,
    };
    let mut searches: Vec<(Contender, Search)> = Contender::ALL
        .iter()
        .map(|&c| (c, Search::new(sizes.fixed_rate, start)))
        .collect();
    let record_size = wire::load::pub_message_len().unwrap_or(512);
    let mut loopback = Loopback {
        k,
        record_size,
        runs: Vec::new(),
    };
    let mut round = 0;
    while searches.iter().any(|(_, s)| !s.is_done()) {
        for (contender, search) in &mut searches {
            if let Some(rate) = search.next_rate() {
                search.record(trial(env, *contender, k, rate, sizes.trial_secs));
            }
        }
        if round % PROBE_EVERY == 0 && loopback.runs.len() < sizes.loopback_runs {
            loopback.runs.push(probe(env, sizes, k, record_size));
        }
        round += 1;
    }
    // The budget of the probe is kept even when the searches end early.
    while loopback.runs.len() < sizes.loopback_runs {
        loopback.runs.push(probe(env, sizes, k, record_size));
    }
    let rows = searches
        .into_iter()
        .map(|(contender, search)| {
            let found = search.found();
            Fanout {
                contender,
                subscribers: contender.subscribers(),
                k,
                rate: found.rate,
                limit: found.limit,
                trials: found.trials,
            }
        })
        .collect();
    (rows, loopback)
}

/// How `contender`'s subscribers receive (`query`: the broker's query
/// endpoint, which the client needs).
fn subscriber_kind(contender: Contender, query: &str) -> SubKind {
    match contender {
        Contender::Raw(system) => raw_subscriber(system),
        Contender::Decoding => SubKind::Zmq,
        Contender::Client => SubKind::Client {
            query: query.to_owned(),
        },
    }
}

/// One trial at `rate` on a freshly started system.
fn trial(env: &Env, contender: Contender, k: usize, rate: f64, secs: f64) -> Trial {
    let system = contender.system();
    let verdict = (|| -> anyhow::Result<(bool, String, Cost)> {
        let running = system.start(env, "fanout")?;
        let query = running.query.clone().unwrap_or_default();
        let mut load = fanout_load(
            system,
            subscriber_kind(contender, &query),
            &running,
            k,
            rate,
            secs,
        );
        load.verify = contender.verify();
        // The system's CPU until the last subscriber has its events.
        load.probe = Probe::UntilDelivered(running.proc.pid());
        let outcome = run_load(env, &load)?;
        let (ok, why) = verdict(&outcome, rate, secs);
        let per_event = |cpu: Duration| cpu.as_secs_f64() * 1e6 / load.count as f64;
        let cost = Cost {
            system_us: per_event(outcome.cpu.unwrap_or_default()),
            emitter_us: per_event(outcome.emitter_cpu),
            subscriber_us: per_event(outcome.subscribers_cpu) / k as f64,
            subscriber_switches: outcome
                .subscriber_switches
                .map(|n| n as f64 / load.count as f64 / k as f64),
        };
        Ok((ok, why, cost))
    })();
    let (ok, why, cost) = match verdict {
        Ok((ok, why, cost)) => (ok, why, Some(cost)),
        Err(e) => (false, format!("error: {e:#}"), None),
    };
    eprintln!(
        "  {} K={k} rate={rate:.0}/s: {}",
        contender.name(),
        if ok { "ok" } else { &why }
    );
    Trial {
        rate,
        ok,
        why,
        cost,
    }
}

/// One run of the loopback probe: lossless, and how fast.
fn probe(env: &Env, sizes: &Sizes, k: usize, record_size: usize) -> LoopbackRun {
    let load = Load {
        subscribers: Subscribers::Probe { record_size },
        emitter: Emitter::ToProbes,
        procs: k,
        sockets_per_proc: 1,
        sub_args: Vec::new(),
        rate: f64::INFINITY,
        count: (sizes.loopback_deliveries / k as u64).max(1),
        verify: "seq",
        times: false,
        stamp_seq: false,
        drain_ms: 500,
        probe: Probe::None,
    };
    let run = match run_load(env, &load) {
        Ok(outcome) if outcome.lossless() => LoopbackRun {
            deliveries: outcome.delivered_per_sec(),
            ok: true,
            why: String::new(),
        },
        Ok(outcome) => LoopbackRun {
            deliveries: 0.0,
            ok: false,
            why: format!("loss ({} lost)", outcome.lost()),
        },
        Err(e) => LoopbackRun {
            deliveries: 0.0,
            ok: false,
            why: format!("error: {e:#}"),
        },
    };
    eprintln!(
        "  loopback probe K={k}: {}",
        if run.ok {
            format!("{:.0} deliveries/s", run.deliveries)
        } else {
            run.why.clone()
        }
    );
    run
}
