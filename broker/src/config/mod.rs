//! The broker's configuration: built-in defaults < TOML file < environment
//! `PTP_BROKER_*` < command-line flags, read once at start-up and validated
//! there, so a mistake fails the start, not the run.
//!
//! The endpoint keys are `emit`, `pub` and `query` so that the same
//! environment (`PTP_BROKER_EMIT`, `PTP_BROKER_PUB`, `PTP_BROKER_QUERY`)
//! configures the broker and every client on the node.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::core::policy::EmitPolicy;
use crate::source::http::Cidr;
use crate::source::upstream::{KubeConfig, UpstreamConfig};

mod check;
pub use check::check_endpoint;
use check::resolve_group;

/// Default PULL endpoint clients emit to (LEAP's `emit_addr`).
pub const DEFAULT_EMIT: &str = "tcp://127.0.0.1:9000";
/// Default PUB endpoint clients subscribe to (LEAP's `reg_addr`).
pub const DEFAULT_PUB: &str = "tcp://127.0.0.1:9001";
/// Default query endpoint (current state, sync markers, counters).
pub const DEFAULT_QUERY: &str = "tcp://127.0.0.1:9002";
/// Default HTTP receiver address: every interface, because the upstream
/// daemon posts from the host network to the node's IP. It is bound only
/// when there is something to receive (an upstream followed, or `http.open`).
pub const DEFAULT_HTTP_LISTEN: &str = "0.0.0.0:8989";

/// Everything the broker reads at start-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// ZeroMQ PULL endpoint that receives events from `client::emit` (tcp:// or ipc://).
    pub emit: String,
    /// ZeroMQ PUB endpoint that publishes every accepted event and the heartbeats.
    #[serde(rename = "pub")]
    pub publish: String,
    /// ZeroMQ ROUTER endpoint that answers current-state, sync and stats queries.
    pub query: String,
    /// Heartbeat interval on PUB, in milliseconds.
    pub heartbeat_ms: u64,
    /// Largest event body accepted from any source, in bytes.
    pub max_body: usize,
    /// Events the PUB sink may hold before it drops (and counts) the newest.
    pub publish_queue: usize,
    /// Messages each PUB subscriber may have queued before the broker drops
    /// (and counts) for that subscriber alone; it sees a seq gap and repairs.
    pub subscriber_queue: usize,
    /// Most PUB connections served at once (subscribed or handshaking);
    /// more are closed as soon as they are accepted, and counted.
    pub max_subscribers: usize,
    /// Most PULL (emit) connections served at once; more are closed as
    /// soon as they are accepted, and counted.
    pub max_emitters: usize,
    /// The state table's bounds.
    pub state: StateConfig,
    /// The HTTP receiver for upstream pushes.
    pub http: HttpConfig,
    /// The O-RAN v2 REST API for local consumers (docs/ORAN-API.md).
    pub api: crate::api::ApiConfig,
    /// Metrics, health, readiness and the live page (docs/OPERATIONS.md).
    pub monitor: crate::monitor::MonitorConfig,
    /// The O-RAN event API to subscribe to (none by default).
    pub upstream: UpstreamConfig,
    /// Find the upstream through Kubernetes (`--kube`).
    pub kube: KubeConfig,
    /// What synthetic events (client::emit, `ptp-broker emit`, PULL) may do:
    /// `allow`, `protect-upstream` (refuse the O-RAN types, which the
    /// upstream owns; application types pass), `deny`, or `auto`
    /// (`protect-upstream` when following an upstream, else `allow`).
    pub emit_policy: EmitPolicy,
    /// File mode of every `ipc://` socket the broker binds, in octal
    /// (`"0660"`: owner and group may emit, subscribe and query; others not).
    pub ipc_mode: String,
    /// Group of every `ipc://` socket (a name from /etc/group or a number);
    /// unset: the broker's own group.
    pub ipc_group: Option<String>,
    /// Log filter (`error`, `warn`, `info`, `debug`, or a tracing filter). `RUST_LOG` wins.
    pub log: String,
    /// Log line format: `text` (for a terminal) or `json` (one object a line).
    pub log_format: LogFormat,
    /// Where run-time state that must survive a restart is kept (the
    /// subscriptions added with `ptp-broker subscribe`). Default:
    /// `/var/lib/ptp-broker` for root, else `$XDG_STATE_HOME/ptp-broker` or
    /// `~/.local/state/ptp-broker`. Created when first written.
    pub state_dir: String,
    /// Sink subscriptions declared here (`[[subscription]]`, docs/SINKS.md):
    /// checked at start, not removable at run time.
    pub subscription: Vec<proto::subscription::Spec>,
}

/// The default `state_dir` for the user running the broker.
pub fn default_state_dir() -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        return "/var/lib/ptp-broker".to_owned();
    }
    let var = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
    if let Some(state) = var("XDG_STATE_HOME") {
        return format!("{state}/ptp-broker");
    }
    match var("HOME") {
        Some(home) => format!("{home}/.local/state/ptp-broker"),
        None => "/var/lib/ptp-broker".to_owned(),
    }
}

/// How much the state table (the latest event per type and resource) may
/// hold. An emitter inventing resource addresses fills it; then new
/// resources are refused and the known ones still update.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// Most (type, resource address) pairs.
    pub max_entries: usize,
    /// Most bytes the entries may take, counted as their encoded size plus
    /// a fixed overhead per entry (docs/RELIABILITY.md).
    pub max_bytes: usize,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            max_entries: crate::core::table::DEFAULT_MAX_ENTRIES,
            max_bytes: crate::core::table::DEFAULT_MAX_BYTES,
        }
    }
}

/// The HTTP receiver the upstream POSTs events to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Serve the receiver when there is something to receive: an upstream
    /// to follow, or `open`. `false`: never (the upstream then needs
    /// `upstream.callback` pointing at another receiver).
    pub enabled: bool,
    /// Address to listen on.
    pub listen: String,
    /// Path under which events are POSTed. Upstream pushes are accepted
    /// only on `<path>/<secret>`, the callback registered with the upstream,
    /// with a new 128-bit secret every run.
    pub path: String,
    /// Also accept pushes on `<path>` itself, from anyone `allow` lets in,
    /// as origin upstream: the plain receiver of the seed, for an upstream
    /// subscribed by hand. Only without an upstream to follow. Off by
    /// default: whoever reaches the port could set the node's clock state.
    pub open: bool,
    /// Source networks the receiver answers at all, as CIDRs
    /// (`["10.0.0.0/8", "fd00::/8"]`). Empty: any.
    pub allow: Vec<String>,
    /// A request's headers must arrive within this many ms, and a
    /// keep-alive connection idle that long is closed.
    pub header_timeout_ms: u64,
    /// A request's whole body must arrive within this many ms (else 408).
    pub body_timeout_ms: u64,
    /// Most connections served at once; more are closed at once and counted.
    pub max_connections: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            emit: DEFAULT_EMIT.to_owned(),
            publish: DEFAULT_PUB.to_owned(),
            query: DEFAULT_QUERY.to_owned(),
            heartbeat_ms: 1000,
            max_body: proto::frame::DEFAULT_MAX_BODY,
            publish_queue: 65_536,
            subscriber_queue: crate::sink::fanout::DEFAULT_QUEUE_CAPACITY,
            max_subscribers: crate::sink::fanout::DEFAULT_MAX_CONNECTIONS,
            max_emitters: crate::source::pull::DEFAULT_MAX_CONNECTIONS,
            state: StateConfig::default(),
            http: HttpConfig::default(),
            api: crate::api::ApiConfig::default(),
            monitor: crate::monitor::MonitorConfig::default(),
            upstream: UpstreamConfig::default(),
            kube: KubeConfig::default(),
            emit_policy: EmitPolicy::Auto,
            ipc_mode: "0660".to_owned(),
            ipc_group: None,
            log: "info".to_owned(),
            log_format: LogFormat::Text,
            state_dir: default_state_dir(),
            subscription: Vec::new(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: true,
            listen: DEFAULT_HTTP_LISTEN.to_owned(),
            path: "/event".to_owned(),
            open: false,
            allow: Vec::new(),
            header_timeout_ms: 10_000,
            body_timeout_ms: 10_000,
            max_connections: 256,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (colour only on a terminal).
    Text,
    /// One JSON object a line: timestamp, level, target, fields.
    Json,
}

/// The config crate says "for key `http.listen` in the environment": name
/// the variable the user set, `PTP_BROKER_HTTP__LISTEN`.
fn name_the_variable(e: config::ConfigError) -> ConfigError {
    let text = e.to_string();
    let key = text
        .strip_suffix(" in the environment")
        .and_then(|t| t.rsplit_once("for key `"))
        .and_then(|(reason, key)| Some((reason.trim_end(), key.strip_suffix('`')?)));
    match key {
        Some((reason, key)) => ConfigError::Environment {
            variable: format!("PTP_BROKER_{}", key.to_uppercase().replace('.', "__")),
            reason: format!("{reason} for key {key}"),
        },
        None => ConfigError::Load(e),
    }
}

/// A configuration that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file, environment or flags could not be read or merged.
    #[error("{0}")]
    Load(#[from] config::ConfigError),
    /// An environment variable has a value its key does not take.
    #[error("{variable}: {reason}")]
    Environment {
        /// The variable, e.g. `PTP_BROKER_HEARTBEAT_MS`.
        variable: String,
        /// What the config crate said.
        reason: String,
    },
    /// A value is out of range or malformed.
    #[error("invalid {key}: {reason}")]
    Invalid {
        /// The key, as written in the TOML file.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl Config {
    /// Merge the layers: defaults, then `file` (TOML) if given, then the
    /// `PTP_BROKER_*` environment (nested keys with `__`, e.g.
    /// `PTP_BROKER_HTTP__LISTEN`), then `overrides` (key, value) from flags.
    /// Unknown keys in any layer are an error.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &[(&str, String)],
    ) -> Result<Config, ConfigError> {
        let defaults = config::Config::try_from(&Config::default())?;
        let mut builder = config::Config::builder().add_source(defaults);
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
        }
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("PTP_BROKER_"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("PTP_BROKER")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("http.allow")
                .with_list_parse_key("api.allow")
                .source(Some(env)),
        );
        for (key, value) in overrides {
            builder = builder.set_override(*key, value.as_str())?;
        }
        let config: Config = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(name_the_variable)?;
        config.validate()?;
        Ok(config)
    }

    /// The node name `{node}` stands for in NATS subjects: `upstream.node`,
    /// `kube.node_name`, `NODE_NAME`, the host name.
    pub fn node_name(&self) -> String {
        self.upstream
            .node
            .clone()
            .or_else(|| self.kube.node_name.clone())
            .filter(|n| !n.is_empty())
            .or_else(|| std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty()))
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty())
            })
            .unwrap_or_else(|| "unknown".to_owned())
    }

    /// Is an upstream followed (`upstream.url` or `kube.enabled`)?
    pub fn following(&self) -> bool {
        self.upstream.url.is_some() || self.kube.enabled
    }

    /// Is the HTTP receiver bound: enabled, and something to receive?
    pub fn serves_http(&self) -> bool {
        self.http.enabled && (self.following() || self.http.open)
    }

    /// The emit policy in force (`auto` resolved).
    pub fn effective_emit_policy(&self) -> EmitPolicy {
        self.emit_policy.resolve(self.following())
    }

    /// `ipc_mode`, parsed: permission bits only.
    pub fn ipc_mode(&self) -> Result<u32, ConfigError> {
        u32::from_str_radix(self.ipc_mode.trim_start_matches("0o"), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| ConfigError::Invalid {
                key: "ipc_mode",
                reason: format!(
                    "{:?} is not an octal file mode such as \"0660\"",
                    self.ipc_mode
                ),
            })
    }

    /// `ipc_group` as a gid (`None`: unset).
    pub fn ipc_gid(&self) -> Result<Option<u32>, ConfigError> {
        self.ipc_group
            .as_deref()
            .map(resolve_group)
            .transpose()
            .map_err(|reason| ConfigError::Invalid {
                key: "ipc_group",
                reason,
            })
    }

    /// `http.allow`, parsed.
    pub fn allow(&self) -> Result<Vec<Cidr>, ConfigError> {
        self.http
            .allow
            .iter()
            .map(|c| Cidr::parse(c))
            .collect::<Result<_, _>>()
            .map_err(|reason| ConfigError::Invalid {
                key: "http.allow",
                reason,
            })
    }

    /// The heartbeat interval.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.heartbeat_ms)
    }

    /// The effective configuration as TOML, for `ptp-broker config`.
    /// Unset optional keys are listed as comments, so every key shows.
    pub fn to_toml(&self) -> String {
        let printed =
            toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print: {e}\n"));
        let up = &self.upstream;
        let kube = &self.kube;
        let unset: [(&str, bool, &str); 5] = [
            (
                "[upstream]",
                up.url.is_none(),
                "# url = \"http://HOST:9043/api/ocloudNotifications/v2\"  (unset: no upstream)",
            ),
            (
                "[upstream]",
                up.node.is_none(),
                "# node = \"NAME\"  (unset: kube.node_name, NODE_NAME, hostname)",
            ),
            (
                "[upstream]",
                up.callback.is_none(),
                "# callback = \"http://IP:PORT/event\"  (unset: this host's IP towards the upstream)",
            ),
            (
                "[kube]",
                kube.node_name.is_none(),
                "# node_name = \"NAME\"  (unset: NODE_NAME, hostname)",
            ),
            (
                "[kube]",
                kube.kubeconfig.is_none(),
                "# kubeconfig = \"FILE\"  (unset: KUBECONFIG, ~/.kube/config, in-cluster)",
            ),
        ];
        let mut out = String::with_capacity(printed.len() + 512);
        for line in printed.lines() {
            out.push_str(line);
            // An empty list means "all" for these keys: say so.
            match line {
                "resources = []" => out.push_str("  # empty: every O-RAN resource"),
                "allow = []" => out.push_str("  # empty: any source address"),
                "types = []" => out.push_str("  # empty: every type"),
                _ => {}
            }
            out.push('\n');
            for (section, is_unset, hint) in unset {
                if line == section && is_unset {
                    out.push_str(hint);
                    out.push('\n');
                }
            }
            if line == "[api]" && self.api.flavor.is_none() {
                // The flavour in force: upstream.flavor's.
                let flavor = match self.upstream.flavor {
                    crate::source::upstream::Flavor::Redhat => "redhat",
                    crate::source::upstream::Flavor::Starlingx => "starlingx",
                };
                out.push_str(&format!(
                    "# flavor = \"{flavor}\"  (unset: upstream.flavor)\n"
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
