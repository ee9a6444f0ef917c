//! Run the upstream O-RAN v2 notification API simulator. See docs/SIMULATOR.md.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use upstream_sim::{Config, Flavor, ScenarioName};

/// Simulates the O-RAN O-Cloud Notification v2 REST API of Red Hat
/// cloud-event-proxy or StarlingX, pushing PTP events from a scenario to
/// subscribers. Control it under /sim (POST /sim/step, POST /sim/state,
/// GET /sim/subscriptions, GET /sim/stats).
#[derive(Parser, Debug)]
#[command(name = "upstream-sim", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port (the ready line shows it).
    #[arg(long, default_value = "127.0.0.1:9043")]
    listen: SocketAddr,
    /// Upstream to imitate: redhat (/api/ocloudNotifications/v2,
    /// /cluster/node/<node>/sync/...) or starlingx (/ocloudNotifications/v2,
    /// /{cluster}/{node}/sync/... with "." for this node).
    #[arg(long, value_enum, default_value_t = FlavorArg::Redhat)]
    flavor: FlavorArg,
    /// Node name used in resource addresses.
    #[arg(long, default_value = "node1")]
    node: String,
    /// Play one scenario step every N milliseconds, looping; 0 plays steps
    /// only on POST /sim/step.
    #[arg(long, default_value_t = 0, value_name = "N")]
    interval_ms: u64,
    /// Scenario to play: default = LOCKED → HOLDOVER → FREERUN → LOCKED.
    #[arg(long, value_enum, default_value_t = ScenarioArg::Default)]
    scenario: ScenarioArg,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FlavorArg {
    Redhat,
    Starlingx,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScenarioArg {
    Default,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: redirected logs stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .log_internal_errors(false)
        .init();
    let args = Args::parse();
    let mut config = Config::new(match args.flavor {
        FlavorArg::Redhat => Flavor::RedHat,
        FlavorArg::Starlingx => Flavor::StarlingX,
    });
    config.listen = args.listen;
    config.node = args.node;
    config.interval = (args.interval_ms > 0).then(|| Duration::from_millis(args.interval_ms));
    config.scenario = match args.scenario {
        ScenarioArg::Default => ScenarioName::Default,
    };
    upstream_sim::run(config, shutdown_signal())
        .await
        .context("upstream-sim failed")
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
