//! `bench`: the benchmark suite of issue 5. Runs ptp-broker, a libzmq
//! forwarder and nats-server (and direct HTTP fan-out for latency) over
//! loopback with the same emitter and the same subscriber processes, and
//! prints a markdown report. See docs/BENCHMARKS.md; run it through
//! `tests/bench/run.sh`, which installs the peers and builds everything.
//!
//! Layout: [`procs`] owns child processes (always killed, read with
//! deadlines, /proc sampling); [`peers`] starts each system under test and
//! builds the C programs (libzmq forwarder, C SUB); [`harness`] is the
//! load procedure, [`search`] the rate search; [`fanout`] is scenario 1
//! (searches interleaved trial by trial, and the loopback probe),
//! [`decode_cost`] what decoding an event costs (the client's bound in
//! scenario 1), [`latency`] scenario 2 (paths in interleaved rounds), [`scenarios`] the
//! sizes and scenario 3, [`sinks`] the fourth (the broker's webhook,
//! JSON-RPC and NATS sinks); [`report`] renders markdown and the goals.
//! `bench-sub`, `bench-emit` and `bench-client` (sub.rs with sub_listen.rs
//! and sub_probe.rs, emit.rs, client_sub.rs) are the helper processes;
//! [`wire`] is what they share with this driver.

mod decode_cost;
mod fanout;
mod harness;
mod latency;
mod peers;
mod procs;
mod report;
mod scenarios;
mod search;
mod sinks;
#[path = "wire/mod.rs"]
#[allow(dead_code)] // shared by four binaries; each uses a part
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
    let mut results = Results {
        forwarder_io_threads: env.forwarder_io_threads,
        smoke: args.smoke,
        ..Results::default()
    };

    if args.scenarios.contains(&1) {
        eprintln!("scenario 1: fan-out throughput");
        match decode_cost::measure() {
            Ok(cost) => results.decode = Some(cost),
            Err(e) => results.errors.push(format!("decode cost: {e:#}")),
        }
        for &k in &sizes.fanout_k {
            let (rows, loopback) = fanout::fanout(&env, &sizes, k);
            results.fanout.extend(rows);
            results.loopback.push(loopback);
        }
    }
    if args.scenarios.contains(&2) {
        eprintln!("scenario 2: end-to-end latency");
        if !env.broker_http {
            // Not a failure of the suite: the receiver is not written yet.
            results
                .not_run
                .push("latency via ptp-broker: this ptp-broker has no --http receiver".to_owned());
        }
        let (rows, errors) = latency::latency(&env, &sizes);
        results.latency = rows;
        results.errors.extend(errors);
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
