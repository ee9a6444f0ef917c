//! Following a real PTP source: the O-RAN event API the broker subscribes
//! to, how to reach it, and the configuration of both.
//!
//! Layout: this file holds the `[upstream]` and `[kube]` configuration
//! sections; [`manager`] keeps the subscriptions alive (subscribe, adopt,
//! verify, re-subscribe, delete at shutdown); [`rest`] speaks the v1 and v2
//! REST shapes; `address` builds and compares resource addresses; [`resolve`] turns the configuration into a URL and a callback
//! at start-up (with `--kube`, through [`kube`] discovery and port-forward).

mod address;
pub mod kube;
pub mod manager;
pub mod resolve;
pub mod rest;

use serde::{Deserialize, Serialize};

pub use manager::Manager;

/// The `[upstream]` section: which O-RAN event API to subscribe to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// Base URL of the API, prefix included, e.g.
    /// `http://127.0.0.1:9043/api/ocloudNotifications/v2`. A URL without a
    /// version in its path is probed for the known prefixes. Unset (and
    /// `kube.enabled` false): no upstream, local emitters only.
    pub url: Option<String>,
    /// `v2`, `v1` or `auto` (from the URL path, else by probing `/health`).
    pub api: ApiVersion,
    /// Node name in resource addresses. Unset: `kube.node_name`, then
    /// `NODE_NAME`, then this host's name.
    pub node: Option<String>,
    /// Resource address form: `redhat` (`/cluster/node/<node>/sync/...`) or
    /// `starlingx` (`/./<node>/sync/...`).
    pub flavor: Flavor,
    /// Resources to subscribe to, by resource path or constant name
    /// (`/sync/ptp-status/lock-state`, `PTP_LOCK_STATE`). Empty: all of them.
    pub resources: Vec<String>,
    /// The EndpointUri to register. Unset:
    /// `http://<outbound IP>:<http port><http.path>`, where the outbound IP is
    /// the local address the kernel uses towards the upstream (or the
    /// Kubernetes API server with `kube.enabled`), or the receiver's own IP
    /// when `http.listen` names one.
    pub callback: Option<String>,
    /// How often the upstream's health and our subscriptions are checked, ms.
    pub health_interval_ms: u64,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            url: None,
            api: ApiVersion::Auto,
            node: None,
            flavor: Flavor::Redhat,
            resources: Vec::new(),
            callback: None,
            health_interval_ms: 2000,
        }
    }
}

/// Which O-RAN REST API version the upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    /// Decide from the URL path, else by probing.
    Auto,
    /// O-RAN v1 (`resource`/`endpointUri` field names).
    V1,
    /// O-RAN v2 (`ResourceAddress`/`EndpointUri`).
    V2,
}

/// Whose resource address form to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// Red Hat cloud-event-proxy: `/cluster/node/<node>/sync/...`.
    Redhat,
    /// StarlingX ptp-notification: `/./<node>/sync/...`.
    Starlingx,
}

impl Flavor {
    /// The full resource address of `resource` (a path such as
    /// `/sync/ptp-status/lock-state`) on `node`.
    pub fn address(self, node: &str, resource: &str) -> String {
        match self {
            Flavor::Redhat => format!("/cluster/node/{node}{resource}"),
            Flavor::Starlingx => format!("/./{node}{resource}"),
        }
    }
}

/// The `[kube]` section: find the upstream through Kubernetes instead of
/// `upstream.url`. The fields after `mode` are those of
/// [`kube::KubeSettings`] (repeated here because a section that rejects
/// unknown keys cannot be flattened into another).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubeConfig {
    /// Discover the linuxptp-daemon pod of this node and subscribe to it.
    pub enabled: bool,
    /// `port-forward` (through the API server, works from anywhere) or
    /// `service` (the per-node Service URL; only inside the cluster).
    pub mode: KubeMode,
    /// Namespace of the daemon pods.
    pub namespace: String,
    /// Label selector of the daemon pods.
    pub label_selector: String,
    /// Node whose daemon to use; unset: `NODE_NAME`, then the hostname.
    pub node_name: Option<String>,
    /// Container port of the O-RAN v2 API.
    pub api_port: u16,
    /// Kubeconfig file; unset: `KUBECONFIG`, `~/.kube/config`, in-cluster.
    pub kubeconfig: Option<std::path::PathBuf>,
}

impl Default for KubeConfig {
    fn default() -> Self {
        let s = kube::KubeSettings::default();
        KubeConfig {
            enabled: false,
            mode: KubeMode::PortForward,
            namespace: s.namespace,
            label_selector: s.label_selector,
            node_name: s.node_name,
            api_port: s.api_port,
            kubeconfig: s.kubeconfig,
        }
    }
}

impl KubeConfig {
    /// The settings the [`kube`] module takes.
    pub fn settings(&self) -> kube::KubeSettings {
        kube::KubeSettings {
            namespace: self.namespace.clone(),
            label_selector: self.label_selector.clone(),
            node_name: self.node_name.clone(),
            api_port: self.api_port,
            kubeconfig: self.kubeconfig.clone(),
        }
    }
}

/// How `--kube` reaches the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KubeMode {
    /// A local port tunnelled through the API server's `pods/portforward`.
    PortForward,
    /// The in-cluster Service `ptp-event-publisher-service-<node>`.
    Service,
}
