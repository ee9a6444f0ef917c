//! `ptp-broker`: the node's PTP event broker, and tools for a terminal.
//!
//! This file only parses flags and calls the library; see `broker::run`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use broker::Config;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

mod logging;
mod tools;

/// The node's PTP event broker: holds the O-RAN sync state and fans every
/// event out over ZeroMQ to local processes.
///
/// With no subcommand it runs the broker. Configuration: built-in defaults,
/// then the TOML file given with --config, then PTP_BROKER_* environment
/// variables (nested keys with "__", e.g. PTP_BROKER_HTTP__LISTEN), then
/// these flags. `ptp-broker config` prints the result.
///
/// To follow a real PTP source give --upstream URL (or --kube): the broker
/// serves the HTTP receiver (--http), subscribes to every O-RAN resource with
/// a callback that carries a new secret every run (only the upstream's
/// pushes to it are taken), keeps the subscriptions alive, and deletes them
/// when it stops. Synthetic emits of the O-RAN types are then refused
/// (--emit-policy). docs/UPSTREAM.md has the details.
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
    /// HTTP receiver address the upstream POSTs events to [default: 0.0.0.0:8989]; served
    /// only when following an upstream (which gets a secret callback under /event) or with
    /// --http-open (key: http.listen).
    #[arg(long, value_name = "ADDR", conflicts_with = "no_http")]
    http: Option<String>,
    /// Do not serve the HTTP receiver (key: http.enabled = false).
    #[arg(long)]
    no_http: bool,
    /// With no upstream: accept pushes on POST /event from anyone in http.allow, as the
    /// upstream's truth (the seed's plain receiver, for an upstream subscribed by hand).
    /// Anyone who reaches the port can then set the clock state (key: http.open).
    #[arg(long, conflicts_with = "no_http")]
    http_open: bool,
    /// What synthetic emits may do: allow, protect-upstream (refuse the O-RAN types), deny,
    /// or auto (protect-upstream when following an upstream, else allow) [default: auto]
    /// (key: emit_policy).
    #[arg(long, value_name = "POLICY", value_parser = ["auto", "allow", "protect-upstream", "deny"])]
    emit_policy: Option<String>,
    /// Subscribe to this O-RAN event API, e.g.
    /// http://127.0.0.1:9043/api/ocloudNotifications/v2; without a version in
    /// the path the known prefixes are probed (key: upstream.url).
    #[arg(long, value_name = "URL", conflicts_with = "kube")]
    upstream: Option<String>,
    /// API version of the upstream: v1, v2 or auto [default: auto] (key: upstream.api).
    #[arg(long, value_name = "VERSION", value_parser = ["v1", "v2", "auto"])]
    api: Option<String>,
    /// Node name in resource addresses [default: kube.node_name, then NODE_NAME, then the
    /// hostname] (key: upstream.node).
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// Resource address form: redhat or starlingx [default: redhat] (key: upstream.flavor).
    #[arg(long, value_name = "FLAVOR", value_parser = ["redhat", "starlingx"])]
    flavor: Option<String>,
    /// EndpointUri to register [default: http://IP:<http port><http path>, IP being the
    /// --http address if it names one, else this host's address towards the upstream
    /// (with --kube: towards the API server)] (key: upstream.callback).
    #[arg(long, value_name = "URL")]
    callback: Option<String>,
    /// Find the linuxptp-daemon pod of this node through Kubernetes and subscribe to it
    /// through a port-forward (key: kube.enabled; kube.mode = "service" skips the port-forward).
    #[arg(long)]
    kube: bool,
    /// Namespace of the daemon pods [default: openshift-ptp] (key: kube.namespace).
    #[arg(long, value_name = "NAMESPACE")]
    kube_namespace: Option<String>,
    /// Label selector of the daemon pods [default: app=linuxptp-daemon] (key: kube.label_selector).
    #[arg(long, value_name = "SELECTOR")]
    kube_selector: Option<String>,
    /// O-RAN v2 REST API for local consumers [default: 127.0.0.1:9043], under
    /// /api/ocloudNotifications/v2 and /ocloudNotifications/v2 (key: api.listen).
    #[arg(long, value_name = "ADDR", conflicts_with = "no_api")]
    api_listen: Option<String>,
    /// Do not serve the O-RAN v2 API (key: api.enabled = false).
    #[arg(long)]
    no_api: bool,
    /// Monitor listener: /metrics, /healthz, /readyz, /varz, /connz and the live page /ui
    /// [default: 127.0.0.1:9091] (key: monitor.listen). docs/OPERATIONS.md.
    #[arg(long, value_name = "ADDR", conflicts_with = "no_monitor")]
    monitor: Option<String>,
    /// Do not serve the monitor listener (key: monitor.enabled = false).
    #[arg(long)]
    no_monitor: bool,
    /// Log line format: text, or json (one object a line) [default: text] (key: log_format).
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["text", "json"])]
    log_format: Option<String>,
    /// Directory for state that survives restarts: the run-time subscriptions
    /// [default: /var/lib/ptp-broker for root, else $XDG_STATE_HOME/ptp-broker or
    /// ~/.local/state/ptp-broker] (key: state_dir).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<String>,
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
    /// Print the broker's counters (accepted, rejected, dropped…), per sink too.
    Stats,
    /// Add a sink subscription to a running broker (webhook, JSON-RPC, NATS; docs/SINKS.md).
    /// It is kept in the state directory across restarts. Prints its id.
    Subscribe(Box<tools::subscriptions::SubscribeArgs>),
    /// Remove a subscription added with `subscribe`.
    Unsubscribe {
        /// The subscription's id.
        #[arg(value_name = "ID")]
        id: String,
    },
    /// List the subscriptions: id, where declared, URI, filter.
    Subscriptions(tools::subscriptions::ListArgs),
    /// Print a shell completion script, e.g.
    /// `ptp-broker completions bash > /etc/bash_completion.d/ptp-broker`.
    Completions {
        /// The shell.
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `ptp-broker man > ptp-broker.1`.
    Man,
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
        set("http.listen", &self.http);
        set("http.enabled", &self.no_http.then(|| "false".to_owned()));
        set("http.open", &self.http_open.then(|| "true".to_owned()));
        set("emit_policy", &self.emit_policy);
        set("upstream.url", &self.upstream);
        set("upstream.api", &self.api);
        set("upstream.node", &self.node);
        set("upstream.flavor", &self.flavor);
        set("upstream.callback", &self.callback);
        set("kube.enabled", &self.kube.then(|| "true".to_owned()));
        set("kube.namespace", &self.kube_namespace);
        set("kube.label_selector", &self.kube_selector);
        set("state_dir", &self.state_dir);
        set("api.listen", &self.api_listen);
        set("api.enabled", &self.no_api.then(|| "false".to_owned()));
        set("monitor.listen", &self.monitor);
        set(
            "monitor.enabled",
            &self.no_monitor.then(|| "false".to_owned()),
        );
        set("log_format", &self.log_format);
        Config::load(self.config.as_deref(), std::env::vars(), &overrides).context("configuration")
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return refuse_arguments(e),
    };
    match run(cli) {
        Ok(code) => code,
        // `ptp-broker state --json | head -1`: the reader is gone, which is
        // what it wanted; not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ptp-broker: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

/// Print clap's error, with a hint when a flag of the broker itself was
/// given after a subcommand (`ptp-broker watch --http …`).
fn refuse_arguments(e: clap::Error) -> ExitCode {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let _ = e.print();
    if e.kind() == ErrorKind::UnknownArgument
        && let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg)
    {
        let name = arg
            .trim_start_matches('-')
            .split('=')
            .next()
            .unwrap_or_default();
        let top = Cli::command();
        if top.get_arguments().any(|a| a.get_long() == Some(name)) {
            eprintln!(
                "\nhint: --{name} is a flag of the broker itself: give it before the subcommand (ptp-broker --{name} … SUBCOMMAND); the terminal tools only take the endpoint, --config and --log flags"
            );
        }
    }
    // 0 for --help and --version, 2 for a usage error.
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}

/// Was stdout closed under us?
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, each said once: the config
/// crate's errors repeat their cause in their own message.
fn one_line(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain().map(|c| c.to_string()) {
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    // Generated from the definitions above, before any configuration is read.
    match &cli.command {
        Some(Command::Completions { shell }) => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "ptp-broker", &mut out);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Man) => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            std::io::Write::write_all(&mut std::io::stdout().lock(), &out)?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let config = cli.settings.load()?;
    // The terminal tools print what they were asked for; the zeromq
    // crate's reconnect warnings are noise there (they say why themselves).
    let zeromq = if cli.command.is_some() {
        "error"
    } else {
        "warn"
    };
    logging::init(&config.log, config.log_format, zeromq)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match cli.command {
        None => runtime.block_on(serve(config)),
        Some(Command::Config) => {
            use std::io::Write;
            let mut toml = config.to_toml();
            if !toml.ends_with('\n') {
                toml.push('\n');
            }
            std::io::stdout().lock().write_all(toml.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        // `--emit` alone used to be ignored: the emit went to the default
        // query endpoint and waited there.
        Some(Command::Emit(_))
            if cli.settings.emit.is_some()
                && cli.settings.query.is_none()
                && config.query == broker::config::DEFAULT_QUERY =>
        {
            anyhow::bail!(
                "`ptp-broker emit` is confirmed: it goes through the query endpoint, here the default {}, and waits for the broker's sequence number; --emit names the PULL endpoint of fire-and-forget emitters. Give the broker's --query (PTP_BROKER_QUERY) instead",
                config.query
            )
        }
        Some(Command::Emit(args)) => runtime.block_on(tools::emit(&config, args)),
        Some(Command::Watch(args)) => runtime.block_on(tools::watch(&config, args)),
        Some(Command::State(args)) => runtime.block_on(tools::state(&config, args)),
        Some(Command::Stats) => runtime.block_on(tools::stats(&config)),
        Some(Command::Subscribe(args)) => {
            runtime.block_on(tools::subscriptions::subscribe(&config, *args))
        }
        Some(Command::Unsubscribe { id }) => {
            runtime.block_on(tools::subscriptions::unsubscribe(&config, id))
        }
        Some(Command::Subscriptions(args)) => {
            runtime.block_on(tools::subscriptions::list(&config, args))
        }
        Some(Command::Completions { .. } | Command::Man) => Ok(ExitCode::SUCCESS),
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{SignalKind, signal};
    let shutdown = CancellationToken::new();
    // Installed before anything is bound or announced: a SIGINT right after
    // the ready line must stop the broker cleanly, not kill it.
    let term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::spawn(cancel_on_signal(term, int, shutdown.clone()));
    let server = broker::Server::bind(config).await?;
    // One line on stdout, for scripts and tests that started us with port 0.
    println!("{}", server.ready());
    tracing::info!("{}", server.ready());
    server.run(shutdown).await;
    tracing::info!("ptp-broker stopped");
    Ok(ExitCode::SUCCESS)
}

/// SIGINT or SIGTERM starts a clean shutdown.
async fn cancel_on_signal(
    mut term: tokio::signal::unix::Signal,
    mut int: tokio::signal::unix::Signal,
    shutdown: CancellationToken,
) {
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    shutdown.cancel();
}
