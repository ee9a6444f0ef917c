//! Validation: what serde cannot check, checked once at start-up so that a
//! mistake fails the start, not the run.

use std::net::SocketAddr;

use super::{Config, ConfigError};

impl Config {
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
        if self.state_dir.is_empty() {
            return Err(ConfigError::Invalid {
                key: "state_dir",
                reason: "empty: a directory for run-time subscriptions is needed".to_owned(),
            });
        }
        crate::sink::spec::declared(&self.subscription, &self.node_name()).map_err(|reason| {
            ConfigError::Invalid {
                key: "subscription",
                reason,
            }
        })?;
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
        if !(1..=1_000_000).contains(&self.max_subscribers) {
            return Err(ConfigError::Invalid {
                key: "max_subscribers",
                reason: format!("{} is outside 1..=1000000", self.max_subscribers),
            });
        }
        if !(1..=1_000_000).contains(&self.max_emitters) {
            return Err(ConfigError::Invalid {
                key: "max_emitters",
                reason: format!("{} is outside 1..=1000000", self.max_emitters),
            });
        }
        if !(1..=10_000_000).contains(&self.state.max_entries) {
            return Err(ConfigError::Invalid {
                key: "state.max_entries",
                reason: format!("{} is outside 1..=10000000", self.state.max_entries),
            });
        }
        if !(1 << 20..=1 << 40).contains(&self.state.max_bytes) {
            return Err(ConfigError::Invalid {
                key: "state.max_bytes",
                reason: format!(
                    "{} is outside 1048576..=1099511627776 (1 MiB to 1 TiB)",
                    self.state.max_bytes
                ),
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
        self.validate_api()?;
        self.validate_monitor()?;
        self.validate_upstream()
    }

    /// The `[api]` section.
    fn validate_api(&self) -> Result<(), ConfigError> {
        let api = &self.api;
        let invalid = |key, reason: String| Err(ConfigError::Invalid { key, reason });
        if api.enabled && api.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid(
                "api.listen",
                format!("{:?} is not IP:PORT (e.g. 127.0.0.1:9043)", api.listen),
            );
        }
        if let Err(reason) = api.networks() {
            return invalid("api.allow", reason);
        }
        if !(1..=1024).contains(&api.max_per_endpoint) {
            return invalid(
                "api.max_per_endpoint",
                format!("{} is outside 1..=1024", api.max_per_endpoint),
            );
        }
        if api.drop_after_failures == 0 {
            return invalid("api.drop_after_failures", "must be at least 1".to_owned());
        }
        if !(1..=60_000).contains(&api.timeout_ms) {
            return invalid(
                "api.timeout_ms",
                format!("{} is outside 1..=60000", api.timeout_ms),
            );
        }
        Ok(())
    }

    /// The `[monitor]` section.
    fn validate_monitor(&self) -> Result<(), ConfigError> {
        let monitor = &self.monitor;
        let invalid = |key, reason: String| Err(ConfigError::Invalid { key, reason });
        if monitor.enabled && monitor.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid(
                "monitor.listen",
                format!("{:?} is not IP:PORT (e.g. 127.0.0.1:9091)", monitor.listen),
            );
        }
        if !(100..=3_600_000).contains(&monitor.stale_after_ms) {
            return invalid(
                "monitor.stale_after_ms",
                format!("{} is outside 100..=3600000", monitor.stale_after_ms),
            );
        }
        Ok(())
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
}

/// A group name (looked up in /etc/group) or a numeric gid.
pub(super) fn resolve_group(group: &str) -> Result<u32, String> {
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
