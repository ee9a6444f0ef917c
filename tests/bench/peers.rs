//! The three fan-out systems compared, started the same way: spawn, wait
//! for the ready line, read the endpoints from it. The emitter and the
//! subscribers are the same processes for all three; only the `--mode`
//! (ZeroMQ or NATS) and who stamps `seq` differ. [`Env`] also builds the
//! two C programs on the system libzmq: the forwarder and the SUB of the
//! latency floor.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::procs::{Proc, field};

/// Where the bench finds its programs and puts its logs.
pub struct Env {
    /// target/<profile>/: the bench, its helpers, ptp-broker.
    pub bin_dir: PathBuf,
    /// Stderr of every child, one file per name.
    pub logs: PathBuf,
    /// The compiled libzmq forwarder.
    pub forwarder: PathBuf,
    /// Its ZMQ_IO_THREADS: the core count, as many as the broker's
    /// workers (a multi-threaded tokio runtime, one worker per core).
    pub forwarder_io_threads: usize,
    /// The compiled C libzmq SUB (`zmq_sub.c`) of the latency floor.
    pub c_sub: PathBuf,
    /// Whether this ptp-broker has the HTTP receiver (`--http`).
    pub broker_http: bool,
    /// Whether this ptp-broker has sink subscriptions (`subscribe`,
    /// `--state-dir`).
    pub broker_sinks: bool,
}

impl Env {
    /// Locate programs next to the running bench and compile the forwarder.
    pub fn new() -> anyhow::Result<Env> {
        let exe = std::env::current_exe()?;
        let bin_dir = exe.parent().context("exe dir")?.to_path_buf();
        let logs = bin_dir.join("bench-logs");
        std::fs::create_dir_all(&logs)?;
        let forwarder = compile_c(&bin_dir, "zmq_forwarder.c", "zmq-forwarder")?;
        let c_sub = compile_c(&bin_dir, "zmq_sub.c", "zmq-sub")?;
        let forwarder_io_threads = std::thread::available_parallelism().map_or(1, usize::from);
        for needed in ["ptp-broker", "bench-sub", "bench-emit", "bench-client"] {
            if !bin_dir.join(needed).exists() {
                bail!(
                    "{needed} not found in {}; build with cargo build --release -p broker -p ptp-broker-tests",
                    bin_dir.display()
                );
            }
        }
        // The HTTP receiver is newer than the broker itself; ask its --help.
        let help = Command::new(bin_dir.join("ptp-broker"))
            .arg("--help")
            .output()?;
        let help = String::from_utf8_lossy(&help.stdout);
        let broker_http = help.contains("--http");
        let broker_sinks = help.contains("--state-dir") && help.contains("subscribe");
        Ok(Env {
            bin_dir,
            logs,
            forwarder,
            forwarder_io_threads,
            c_sub,
            broker_http,
            broker_sinks,
        })
    }

    /// A command for a program in the bin dir.
    pub fn command(&self, program: &str) -> Command {
        Command::new(self.bin_dir.join(program))
    }
}

/// Compile `tests/bench/<source>` against the system libzmq into
/// `bin_dir/<name>`: `cc -O2 -o NAME SOURCE -lzmq`.
fn compile_c(bin_dir: &Path, source: &str, name: &str) -> anyhow::Result<PathBuf> {
    let out = bin_dir.join(name);
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("bench")
        .join(source);
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(&source)
        .arg("-lzmq")
        .status()
        .context("run cc (is a C compiler installed?)")?;
    if !status.success() {
        bail!(
            "cc {} -lzmq failed; run tests/bench/install-deps.sh",
            source.display()
        );
    }
    Ok(out)
}

/// A fan-out system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    /// ptp-broker: PULL in, validate, stamp, cache, PUB out.
    Broker,
    /// `zmq_proxy` PULL -> PUB in C on the system libzmq.
    Libzmq,
    /// nats-server, publish and subscribe on one subject.
    Nats,
}

/// A started system.
pub struct Running {
    /// The process; killed when this is dropped.
    pub proc: Proc,
    /// Where the emitter sends (ZeroMQ endpoint or NATS `host:port`).
    pub emit: String,
    /// Where subscribers connect.
    pub subscribe: String,
    /// The broker's HTTP receiver, `host:port`.
    pub http: Option<String>,
    /// The broker's query endpoint (stats, subscriptions).
    pub query: Option<String>,
    /// From spawn to the ready line.
    pub startup: Duration,
}

impl System {
    /// All three, the broker first.
    pub const ALL: [System; 3] = [System::Broker, System::Libzmq, System::Nats];

    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            System::Broker => "ptp-broker",
            System::Libzmq => "libzmq forwarder",
            System::Nats => "nats-server",
        }
    }

    /// `--mode` of bench-sub and bench-emit.
    pub fn mode(self) -> &'static str {
        match self {
            System::Broker | System::Libzmq => "zmq",
            System::Nats => "nats",
        }
    }

    /// Whether the emitter must stamp `seq` itself (nobody else does).
    pub fn emitter_stamps_seq(self) -> bool {
        self != System::Broker
    }

    /// Start it and wait until it is ready.
    pub fn start(self, env: &Env, tag: &str) -> anyhow::Result<Running> {
        let name = format!("{}-{tag}", self.mode_name());
        let begun = Instant::now();
        let deadline = begun + Duration::from_secs(20);
        match self {
            System::Broker => {
                let mut command = env.command("ptp-broker");
                command
                    .args(["--emit", "tcp://127.0.0.1:0"])
                    .args(["--publish", "tcp://127.0.0.1:0"])
                    .args(["--query", "tcp://127.0.0.1:0"])
                    .env("PTP_BROKER_API__LISTEN", "127.0.0.1:0")
                    .env("PTP_BROKER_MONITOR__LISTEN", "127.0.0.1:0")
                    .env("RUST_LOG", "warn");
                if env.broker_http {
                    // The bench plays an upstream subscribed by hand: the
                    // receiver's open mode, on loopback only.
                    command
                        .args(["--http", "127.0.0.1:0"])
                        .env("PTP_BROKER_HTTP__OPEN", "true");
                }
                if env.broker_sinks {
                    // An empty state directory of its own: no subscription
                    // of an earlier run (or of this user's brokers) comes back.
                    let state = env.logs.join("state").join(&name);
                    match std::fs::remove_dir_all(&state) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(e).context(format!("clear {}", state.display()));
                        }
                        _ => {}
                    }
                    command.arg("--state-dir").arg(&state);
                }
                let mut proc = Proc::spawn(&name, command, &env.logs)?;
                let line = proc.expect("ptp-broker ready", deadline)?;
                let startup = begun.elapsed();
                Ok(Running {
                    emit: field(&line, "emit").context("emit=")?.to_owned(),
                    subscribe: field(&line, "publish")
                        .or_else(|| field(&line, "pub"))
                        .context("publish=")?
                        .to_owned(),
                    http: field(&line, "http").map(str::to_owned),
                    query: field(&line, "query").map(str::to_owned),
                    proc,
                    startup,
                })
            }
            System::Libzmq => {
                let mut command = Command::new(&env.forwarder);
                command.args(["--io-threads", &env.forwarder_io_threads.to_string()]);
                let mut proc = Proc::spawn(&name, command, &env.logs)?;
                let line = proc.expect("zmq-forwarder ready", deadline)?;
                let startup = begun.elapsed();
                let threads = field(&line, "io_threads").and_then(|t| t.parse::<usize>().ok());
                if threads != Some(env.forwarder_io_threads) {
                    bail!(
                        "zmq-forwarder runs {threads:?} I/O threads, not {}",
                        env.forwarder_io_threads
                    );
                }
                Ok(Running {
                    emit: field(&line, "emit").context("emit=")?.to_owned(),
                    subscribe: field(&line, "publish").context("publish=")?.to_owned(),
                    http: None,
                    query: None,
                    proc,
                    startup,
                })
            }
            System::Nats => {
                let mut command = Command::new("nats-server");
                // Random port; the log (to stdout) says which and when ready.
                command.args(["-a", "127.0.0.1", "-p", "-1", "-l", "/dev/stdout"]);
                let mut proc = Proc::spawn(&name, command, &env.logs)?;
                let line =
                    proc.expect_containing("Listening for client connections on ", deadline)?;
                let addr = line
                    .rsplit_once("connections on ")
                    .map(|(_, a)| a.trim().to_owned())
                    .context("nats address")?;
                proc.expect_containing("Server is ready", deadline)?;
                let startup = begun.elapsed();
                Ok(Running {
                    emit: addr.clone(),
                    subscribe: addr,
                    http: None,
                    query: None,
                    proc,
                    startup,
                })
            }
        }
    }

    fn mode_name(self) -> &'static str {
        match self {
            System::Broker => "broker",
            System::Libzmq => "forwarder",
            System::Nats => "nats",
        }
    }
}
