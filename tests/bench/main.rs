//! `bench`: the benchmark suite of issue 5. Runs ptp-broker, a libzmq
//! forwarder and nats-server (and direct HTTP fan-out for latency) over
//! loopback with the same emitter and the same subscriber processes, and
//! prints a markdown report. See docs/BENCHMARKS.md; run it through
//! `tests/bench/run.sh`, which installs the peers and builds everything.
//!
//! Layout: [`procs`] owns child processes (always killed, read with
//! deadlines, /proc sampling); [`peers`] starts each system under test;
//! [`harness`] is the load procedure, [`search`] the rate search;
//! [`scenarios`] are the first three scenarios, [`sinks`] the fourth (the
//! broker's webhook, JSON-RPC and NATS sinks); [`report`] renders markdown.
//! `bench-sub` and `bench-emit` (sub.rs with sub_listen.rs, emit.rs) are
//! the helper processes; [`wire`] is what they share with this driver.

mod harness;
mod peers;
mod procs;
mod report;
mod scenarios;
mod search;
mod sinks;
#[path = "wire/mod.rs"]
#[allow(dead_code)] // shared by three binaries; each uses a part
mod wire;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use peers::{Env, System};
use report::Results;
use scenarios::Sizes;

#[derive(Parser)]
#[command(about = "ptp-broker vs libzmq forwarder vs nats-server vs direct HTTP, and its sinks")]
struct Args {
    /// Tiny sizes for CI (seconds); exit non-zero on any loss or failure.
    #[arg(long)]
    smoke: bool,
    /// Also write the report into docs/BENCHMARKS.md.
    #[arg(long)]
    write: bool,
    /// Scenarios to run (1 fan-out, 2 latency, 3 scale, 4 sinks).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4")]
    scenarios: Vec<u8>,
    /// Fan-out K values, overriding the defaults.
    #[arg(long, value_delimiter = ',')]
    k: Vec<usize>,
    /// The command to record in the report.
    #[arg(long, default_value = "tests/bench/run.sh")]
    command: String,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<bool> {
    let args = Args::parse();
    let mut sizes = if args.smoke {
        Sizes::smoke()
    } else {
        Sizes::full()
    };
    if !args.k.is_empty() {
        sizes.fanout_k = args.k.clone();
    }
    let env = Env::new()?;
    let mut results = Results::default();

    if args.scenarios.contains(&1) {
        eprintln!("scenario 1: fan-out throughput");
        for &k in &sizes.fanout_k {
            for system in System::ALL {
                results
                    .fanout
                    .push(scenarios::fanout(&env, &sizes, system, k));
            }
        }
    }
    if args.scenarios.contains(&2) {
        eprintln!("scenario 2: end-to-end latency");
        let mut paths: Vec<fn(&Env, &Sizes) -> anyhow::Result<scenarios::Latency>> =
            vec![scenarios::latency_forwarder, scenarios::latency_direct];
        if env.broker_http {
            paths.insert(0, scenarios::latency_broker);
        } else {
            // Not a failure of the suite: the receiver is not written yet.
            results
                .not_run
                .push("latency via ptp-broker: this ptp-broker has no --http receiver".to_owned());
        }
        for latency in paths {
            match latency(&env, &sizes) {
                Ok(l) => results.latency.push(l),
                Err(e) => results.errors.push(format!("latency: {e:#}")),
            }
        }
    }
    if args.scenarios.contains(&3) {
        eprintln!("scenario 3: scale and cost");
        for system in System::ALL {
            match scenarios::scale(&env, &sizes, system) {
                Ok(s) => results.scale.push(s),
                Err(e) => results
                    .errors
                    .push(format!("scale {}: {e:#}", system.name())),
            }
        }
    }
    if args.scenarios.contains(&4) {
        eprintln!("scenario 4: sinks");
        if env.broker_sinks {
            for &rate in &sizes.sink_rates {
                match sinks::webhooks(&env, &sizes, rate) {
                    Ok(rows) => results.webhooks.extend(rows),
                    Err(e) => results.errors.push(format!("sinks, webhooks: {e:#}")),
                }
            }
            for sink in sinks::Sink::ALL {
                results.sink_rates.push(sinks::rate(&env, &sizes, sink));
            }
        } else {
            results.not_run.push(
                "sinks: this ptp-broker has no subscriptions (subscribe, --state-dir)".to_owned(),
            );
        }
    }

    let markdown = results.markdown(&args.command);
    println!("{markdown}");
    if args.write {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/BENCHMARKS.md");
        report::write_into(&doc, &markdown)?;
        eprintln!("wrote {}", doc.display());
    }
    let correct = results.correct(sizes.fixed_rate.is_some());
    if !correct {
        eprintln!("bench: loss or failure (see the report and target/<profile>/bench-logs/)");
    }
    Ok(correct || !args.smoke)
}
