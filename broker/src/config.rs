//! The broker's configuration: built-in defaults < TOML file < environment
//! `PTP_BROKER_*` < command-line flags, read once at start-up and validated
//! there, so a mistake fails the start, not the run.
//!
//! The endpoint keys are `emit`, `pub` and `query` so that the same
//! environment (`PTP_BROKER_EMIT`, `PTP_BROKER_PUB`, `PTP_BROKER_QUERY`)
//! configures the broker and every client on the node.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::http::Cidr;
use crate::policy::EmitPolicy;
use crate::upstream::{KubeConfig, UpstreamConfig};

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
    /// The HTTP receiver for upstream pushes.
    pub http: HttpConfig,
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
            subscriber_queue: crate::fanout::DEFAULT_QUEUE_CAPACITY,
            http: HttpConfig::default(),
            upstream: UpstreamConfig::default(),
            kube: KubeConfig::default(),
            emit_policy: EmitPolicy::Auto,
            ipc_mode: "0660".to_owned(),
            ipc_group: None,
            log: "info".to_owned(),
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

/// A configuration that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file, environment or flags could not be read or merged.
    #[error("{0}")]
    Load(#[from] config::ConfigError),
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
                .source(Some(env)),
        );
        for (key, value) in overrides {
            builder = builder.set_override(*key, value.as_str())?;
        }
        let config: Config = builder.build()?.try_deserialize()?;
        config.validate()?;
        Ok(config)
    }

    /// Check what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, endpoint) in [
            ("emit", &self.emit),
            ("pub", &self.publish),
            ("query", &self.query),
        ] {
            check_endpoint(endpoint).map_err(|reason| ConfigError::Invalid { key, reason })?;
        }
        let endpoints = [&self.emit, &self.publish, &self.query];
        for (i, a) in endpoints.iter().enumerate() {
            // Port 0 asks the kernel for a free port, so equal ":0" entries differ once bound.
            if !a.ends_with(":0") && endpoints[i + 1..].contains(a) {
                return Err(ConfigError::Invalid {
                    key: "emit",
                    reason: format!("{a:?} is used twice: emit, pub and query must differ"),
                });
            }
        }
        if !(10..=60_000).contains(&self.heartbeat_ms) {
            return Err(ConfigError::Invalid {
                key: "heartbeat_ms",
                reason: format!("{} is outside 10..=60000", self.heartbeat_ms),
            });
        }
        if !(512..=16 * 1024 * 1024).contains(&self.max_body) {
            return Err(ConfigError::Invalid {
                key: "max_body",
                reason: format!("{} is outside 512..=16777216 bytes", self.max_body),
            });
        }
        if !(1..=1_000_000).contains(&self.subscriber_queue) {
            return Err(ConfigError::Invalid {
                key: "subscriber_queue",
                reason: format!("{} is outside 1..=1000000", self.subscriber_queue),
            });
        }
        if self.publish_queue == 0 {
            return Err(ConfigError::Invalid {
                key: "publish_queue",
                reason: "must be at least 1".to_owned(),
            });
        }
        if self.http.enabled {
            self.http
                .listen
                .parse::<SocketAddr>()
                .map_err(|e| ConfigError::Invalid {
                    key: "http.listen",
                    reason: format!("{:?}: {e} (want IP:PORT)", self.http.listen),
                })?;
            let path = &self.http.path;
            if !path.starts_with('/') || path.len() < 2 || path.ends_with('/') {
                return Err(ConfigError::Invalid {
                    key: "http.path",
                    reason: format!(
                        "{path:?} must start with '/', name something and not end with '/'"
                    ),
                });
            }
        }
        self.allow()?;
        for (key, ms) in [
            ("http.header_timeout_ms", self.http.header_timeout_ms),
            ("http.body_timeout_ms", self.http.body_timeout_ms),
        ] {
            if !(100..=600_000).contains(&ms) {
                return Err(ConfigError::Invalid {
                    key,
                    reason: format!("{ms} is outside 100..=600000"),
                });
            }
        }
        if !(1..=100_000).contains(&self.http.max_connections) {
            return Err(ConfigError::Invalid {
                key: "http.max_connections",
                reason: format!("{} is outside 1..=100000", self.http.max_connections),
            });
        }
        self.ipc_mode()?;
        if let Some(group) = &self.ipc_group {
            resolve_group(group).map_err(|reason| ConfigError::Invalid {
                key: "ipc_group",
                reason,
            })?;
        }
        if self.http.open && self.following() {
            return Err(ConfigError::Invalid {
                key: "http.open",
                reason: "an upstream is followed: its pushes come on the secret callback, and an open path would let anyone overwrite them".to_owned(),
            });
        }
        self.validate_upstream()
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

    /// The `[upstream]` and `[kube]` sections.
    fn validate_upstream(&self) -> Result<(), ConfigError> {
        let up = &self.upstream;
        let invalid = |key, reason: String| Err(ConfigError::Invalid { key, reason });
        if let Some(url) = &up.url {
            check_http_url(url).map_err(|reason| ConfigError::Invalid {
                key: "upstream.url",
                reason,
            })?;
            if self.kube.enabled {
                return invalid(
                    "upstream.url",
                    "set either upstream.url or kube.enabled, not both".to_owned(),
                );
            }
        }
        if let Some(callback) = &up.callback {
            check_http_url(callback).map_err(|reason| ConfigError::Invalid {
                key: "upstream.callback",
                reason,
            })?;
        }
        let following = self.following();
        if following && !self.http.enabled && up.callback.is_none() {
            return invalid(
                "upstream.callback",
                "the upstream needs somewhere to POST events: enable http or set upstream.callback"
                    .to_owned(),
            );
        }
        if let Some(node) = &up.node
            && (node.is_empty() || node.contains('/'))
        {
            return invalid("upstream.node", format!("{node:?} is not a node name"));
        }
        for r in &up.resources {
            if catalog::lookup(r).is_none() {
                return invalid(
                    "upstream.resources",
                    format!("{r:?} is not an O-RAN resource path or event name"),
                );
            }
        }
        if !(100..=60_000).contains(&up.health_interval_ms) {
            return invalid(
                "upstream.health_interval_ms",
                format!("{} is outside 100..=60000", up.health_interval_ms),
            );
        }
        Ok(())
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
            out.push('\n');
            for (section, is_unset, hint) in unset {
                if line == section && is_unset {
                    out.push_str(hint);
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// A group name (looked up in /etc/group) or a numeric gid.
fn resolve_group(group: &str) -> Result<u32, String> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    let groups = std::fs::read_to_string("/etc/group")
        .map_err(|e| format!("cannot read /etc/group to find {group:?}: {e}"))?;
    groups
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            Some((f.next()?, f.nth(1)?))
        })
        .find(|(name, _)| *name == group)
        .and_then(|(_, gid)| gid.parse().ok())
        .ok_or_else(|| format!("no group {group:?} in /etc/group"))
}

/// An absolute `http://` or `https://` URL with a host.
fn check_http_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("{url:?} is not an http:// or https:// URL"));
    }
    Ok(())
}

/// `tcp://HOST:PORT` or `ipc://PATH`, nothing else (the zeromq crate has no inproc).
pub fn check_endpoint(endpoint: &str) -> Result<(), String> {
    if let Some(rest) = endpoint.strip_prefix("tcp://") {
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("{endpoint:?} has no port (want tcp://HOST:PORT)"))?;
        if host.is_empty() {
            return Err(format!("{endpoint:?} has no host (want tcp://HOST:PORT)"));
        }
        port.parse::<u16>()
            .map_err(|_| format!("{endpoint:?} has a bad port {port:?}"))?;
        return Ok(());
    }
    if let Some(path) = endpoint.strip_prefix("ipc://") {
        if path.is_empty() {
            return Err(format!(
                "{endpoint:?} has no path (want ipc:///path/to/socket)"
            ));
        }
        // The zeromq crate has no wildcard ipc paths (it would panic at bind).
        if path.contains('*') {
            return Err(format!(
                "{endpoint:?}: wildcard ipc paths are not supported; name the socket file"
            ));
        }
        return Ok(());
    }
    Err(format!("{endpoint:?} is not tcp://HOST:PORT or ipc://PATH"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_input_gives_the_design_defaults() {
        let c = Config::load(None, env(&[]), &[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.emit, "tcp://127.0.0.1:9000");
        assert_eq!(c.publish, "tcp://127.0.0.1:9001");
        assert_eq!(c.query, "tcp://127.0.0.1:9002");
        assert_eq!(c.http.listen, "0.0.0.0:8989");
        assert_eq!(c.http.path, "/event");
        assert!(!c.http.open && c.http.allow.is_empty());
        assert!(
            !c.serves_http(),
            "no upstream, not open: nothing listens on the network"
        );
        assert_eq!(c.effective_emit_policy(), EmitPolicy::Allow);
    }

    #[test]
    fn following_an_upstream_serves_http_and_protects_its_types() {
        let url = (
            "upstream.url",
            "http://127.0.0.1:9043/api/ocloudNotifications/v2".to_owned(),
        );
        let c = Config::load(None, env(&[]), std::slice::from_ref(&url)).unwrap();
        assert!(c.serves_http());
        assert_eq!(c.effective_emit_policy(), EmitPolicy::ProtectUpstream);
        let c = Config::load(
            None,
            env(&[]),
            &[url.clone(), ("emit_policy", "allow".into())],
        )
        .unwrap();
        assert_eq!(c.effective_emit_policy(), EmitPolicy::Allow);
        let c = Config::load(None, env(&[("PTP_BROKER_EMIT_POLICY", "deny")]), &[]).unwrap();
        assert_eq!(c.effective_emit_policy(), EmitPolicy::Deny);
        let err = Config::load(None, env(&[]), &[url, ("http.open", "true".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("http.open"), "{err}");
        let c = Config::load(None, env(&[("PTP_BROKER_HTTP__OPEN", "true")]), &[]).unwrap();
        assert!(c.serves_http());
        let err = Config::load(None, env(&[]), &[("emit_policy", "sometimes".into())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("sometimes"), "{err}");
    }

    #[test]
    fn ipc_mode_and_group_are_checked() {
        let c = Config::load(None, env(&[]), &[]).unwrap();
        assert_eq!(c.ipc_mode().unwrap(), 0o660);
        let c = Config::load(
            None,
            env(&[]),
            &[("ipc_mode", "0600".into()), ("ipc_group", "0".into())],
        )
        .unwrap();
        assert_eq!(
            (c.ipc_mode().unwrap(), c.ipc_gid().unwrap()),
            (0o600, Some(0))
        );
        for (key, value) in [
            ("ipc_mode", "rw-rw----"),
            ("ipc_mode", "01777"),
            ("ipc_group", "no-such-group-here"),
        ] {
            let err = Config::load(None, env(&[]), &[(key, value.into())])
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn the_allow_list_takes_cidrs_only() {
        let dir =
            std::env::temp_dir().join(format!("ptp-broker-config-allow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("allow.toml");
        std::fs::write(&file, "[http]\nallow = [\"10.0.0.0/8\", \"::1\"]\n").unwrap();
        let c = Config::load(Some(&file), env(&[]), &[]).unwrap();
        assert_eq!(c.allow().unwrap().len(), 2);
        let c = Config::load(
            None,
            env(&[("PTP_BROKER_HTTP__ALLOW", "10.0.0.0/8,192.168.1.0/24")]),
            &[],
        )
        .unwrap();
        assert_eq!(c.http.allow, ["10.0.0.0/8", "192.168.1.0/24"]);
        std::fs::write(&file, "[http]\nallow = [\"10.0.0.0/40\"]\n").unwrap();
        let err = Config::load(Some(&file), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("http.allow"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn layers_apply_in_order_file_env_flags() {
        let dir = std::env::temp_dir().join(format!("ptp-broker-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("broker.toml");
        std::fs::write(
            &file,
            "emit = \"ipc:///tmp/e\"\npub = \"tcp://127.0.0.1:7001\"\nheartbeat_ms = 500\n[http]\npath = \"/x\"\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&file),
            env(&[
                ("PTP_BROKER_PUB", "tcp://127.0.0.1:7002"),
                ("PTP_BROKER_HTTP__PATH", "/y"),
                ("OTHER", "1"),
            ]),
            &[("heartbeat_ms", "250".into())],
        )
        .unwrap();
        assert_eq!(c.emit, "ipc:///tmp/e");
        assert_eq!(c.publish, "tcp://127.0.0.1:7002");
        assert_eq!(c.http.path, "/y");
        assert_eq!(c.heartbeat_ms, 250);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let dir =
            std::env::temp_dir().join(format!("ptp-broker-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.toml");
        std::fs::write(&file, "emitt = \"tcp://127.0.0.1:1\"\n").unwrap();
        let err = Config::load(Some(&file), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("emitt"), "{err}");
        let err = Config::load(None, env(&[("PTP_BROKER_BOGUS", "1")]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
        for (key, value, want) in [
            ("emit", "udp://x:1", "not tcp://"),
            ("pub", "tcp://127.0.0.1", "no port"),
            ("query", "ipc://", "no path"),
            ("emit", "ipc://*", "wildcard"),
            ("heartbeat_ms", "0", "outside"),
            ("http.listen", "nowhere", "IP:PORT"),
        ] {
            let err = Config::load(None, env(&[]), &[(key, value.into())])
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{key}={value}: {err}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn upstream_and_kube_keys_layer_like_the_others() {
        use crate::upstream::{ApiVersion, Flavor, KubeMode};
        let c = Config::load(None, env(&[]), &[]).unwrap();
        assert_eq!(c.upstream.url, None);
        assert_eq!(c.upstream.api, ApiVersion::Auto);
        assert_eq!(c.upstream.flavor, Flavor::Redhat);
        assert_eq!(c.upstream.health_interval_ms, 2000);
        assert!(!c.kube.enabled);
        assert_eq!(c.kube.mode, KubeMode::PortForward);
        assert_eq!(c.kube.namespace, "openshift-ptp");
        let c = Config::load(
            None,
            env(&[
                ("PTP_BROKER_UPSTREAM__HEALTH_INTERVAL_MS", "250"),
                ("PTP_BROKER_KUBE__NAMESPACE", "ptp"),
            ]),
            &[
                (
                    "upstream.url",
                    "http://127.0.0.1:9043/api/ocloudNotifications/v2".into(),
                ),
                ("upstream.api", "v1".into()),
                ("upstream.node", "n1".into()),
                ("upstream.flavor", "starlingx".into()),
                ("upstream.callback", "http://10.0.0.1:8989/event".into()),
                ("http.listen", "127.0.0.1:0".into()),
            ],
        )
        .unwrap();
        assert_eq!(c.upstream.api, ApiVersion::V1);
        assert_eq!(c.upstream.flavor, Flavor::Starlingx);
        assert_eq!(c.upstream.node.as_deref(), Some("n1"));
        assert_eq!(c.upstream.health_interval_ms, 250);
        assert_eq!(c.kube.namespace, "ptp");
        let c = Config::load(
            None,
            env(&[]),
            &[
                ("kube.enabled", "true".into()),
                ("kube.mode", "service".into()),
            ],
        )
        .unwrap();
        assert_eq!(c.kube.mode, KubeMode::Service);
        let c = Config::load(None, env(&[]), &[("http.enabled", "false".into())]).unwrap();
        assert!(!c.http.enabled);
    }

    #[test]
    fn bad_upstream_settings_are_errors() {
        let url = ("upstream.url", "http://127.0.0.1:1/v2".to_owned());
        for (overrides, want) in [
            (vec![("upstream.url", "ftp://x/".to_owned())], "not an http"),
            (vec![("upstream.url", "nowhere".to_owned())], "upstream.url"),
            (vec![url.clone(), ("upstream.api", "v3".to_owned())], "v3"),
            (
                vec![url.clone(), ("upstream.flavor", "suse".to_owned())],
                "suse",
            ),
            (
                vec![url.clone(), ("upstream.callback", "x".to_owned())],
                "upstream.callback",
            ),
            (
                vec![url.clone(), ("upstream.node", "a/b".to_owned())],
                "node name",
            ),
            (
                vec![url.clone(), ("upstream.health_interval_ms", "1".to_owned())],
                "outside",
            ),
            (
                vec![url.clone(), ("kube.enabled", "true".to_owned())],
                "not both",
            ),
            (
                vec![url.clone(), ("http.enabled", "false".to_owned())],
                "somewhere to POST",
            ),
            (vec![("kube.mode", "tunnel".to_owned())], "tunnel"),
            (vec![("upstream.bogus", "1".to_owned())], "bogus"),
            (vec![("kube.bogus", "1".to_owned())], "bogus"),
        ] {
            let err = Config::load(None, env(&[]), &overrides)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{overrides:?}: {err}");
        }
        let dir = std::env::temp_dir().join(format!("ptp-broker-config-up-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.toml");
        std::fs::write(
            &file,
            "[upstream]\nresources = [\"/sync/nothing\"]\nurl = \"http://h/v2\"\n",
        )
        .unwrap();
        let err = Config::load(Some(&file), env(&[]), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("/sync/nothing"), "{err}");
        std::fs::write(
            &file,
            "[upstream]\nresources = [\"PTP_LOCK_STATE\", \"/sync/sync-status/sync-state\"]\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), env(&[]), &[]).unwrap();
        assert_eq!(c.upstream.resources.len(), 2);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn printed_config_reads_back() {
        let c = Config::default();
        let printed = c.to_toml();
        assert!(
            printed.contains("pub = \"tcp://127.0.0.1:9001\""),
            "{printed}"
        );
        let back: Config = toml::from_str(&printed).unwrap();
        assert_eq!(back, c);
    }
}
