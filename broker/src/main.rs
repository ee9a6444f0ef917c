//! `ptp-broker`: the node's PTP event broker, and tools for a terminal.
//!
//! This file only parses flags and calls the library; see `broker::run`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use broker::Config;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

mod tools;

/// The node's PTP event broker: holds the O-RAN sync state and fans every
/// event out over ZeroMQ to local processes.
///
/// With no subcommand it runs the broker. Configuration: built-in defaults,
/// then the TOML file given with --config, then PTP_BROKER_* environment
/// variables (nested keys with "__", e.g. PTP_BROKER_HTTP__LISTEN), then
/// these flags. `ptp-broker config` prints the result.
#[derive(Debug, Parser)]
#[command(name = "ptp-broker", version, about, long_about)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Flags that set configuration keys; also read by the terminal tools, which
/// find the broker at the same endpoints.
#[derive(Debug, clap::Args)]
struct Settings {
    /// TOML configuration file.
    #[arg(long, short = 'c', global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// PULL endpoint for emitted events [default: tcp://127.0.0.1:9000] (key: emit).
    #[arg(long, global = true, value_name = "ENDPOINT")]
    emit: Option<String>,
    /// PUB endpoint clients subscribe to [default: tcp://127.0.0.1:9001] (key: pub).
    #[arg(
        long = "pub",
        alias = "publish",
        global = true,
        value_name = "ENDPOINT"
    )]
    publish: Option<String>,
    /// Query endpoint for current state [default: tcp://127.0.0.1:9002] (key: query).
    #[arg(long, global = true, value_name = "ENDPOINT")]
    query: Option<String>,
    /// Heartbeat interval in ms [default: 1000] (key: heartbeat_ms).
    #[arg(long, value_name = "MS")]
    heartbeat_ms: Option<u64>,
    /// Log filter: error, warn, info, debug [default: info] (key: log). RUST_LOG wins.
    #[arg(long, global = true, value_name = "FILTER")]
    log: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the effective configuration (all layers merged) as TOML.
    Config,
    /// Emit one synthetic event to a running broker.
    Emit(tools::EmitArgs),
    /// Print events as they are published, one per line.
    Watch(tools::WatchArgs),
    /// Print the broker's current state table.
    State(tools::StateArgs),
    /// Print the broker's counters (accepted, rejected, dropped…).
    Stats,
}

impl Settings {
    fn load(&self) -> anyhow::Result<Config> {
        let mut overrides: Vec<(&str, String)> = Vec::new();
        let mut set = |key, value: &Option<String>| {
            if let Some(v) = value {
                overrides.push((key, v.clone()));
            }
        };
        set("emit", &self.emit);
        set("pub", &self.publish);
        set("query", &self.query);
        set("log", &self.log);
        set("heartbeat_ms", &self.heartbeat_ms.map(|v| v.to_string()));
        Config::load(self.config.as_deref(), std::env::vars(), &overrides).context("configuration")
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ptp-broker: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.settings.load()?;
    init_logging(&config.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match cli.command {
        None => runtime.block_on(serve(config)),
        Some(Command::Config) => {
            print!("{}", config.to_toml());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Emit(args)) => runtime.block_on(tools::emit(&config, args)),
        Some(Command::Watch(args)) => runtime.block_on(tools::watch(&config, args)),
        Some(Command::State(args)) => runtime.block_on(tools::state(&config, args)),
        Some(Command::Stats) => runtime.block_on(tools::stats(&config)),
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    let server = broker::Server::bind(config).await?;
    // One line on stdout, for scripts and tests that started us with port 0.
    println!("{}", server.ready());
    tracing::info!("{}", server.ready());
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    server.run(shutdown).await;
    tracing::info!("ptp-broker stopped");
    Ok(ExitCode::SUCCESS)
}

/// SIGINT or SIGTERM starts a clean shutdown.
async fn cancel_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    shutdown.cancel();
}

fn init_logging(filter: &str) {
    use std::io::IsTerminal;
    // The zeromq crate logs every peer connect/disconnect at info.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(format!("zeromq=warn,{filter}")))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
