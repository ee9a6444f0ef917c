//! Reaching the cloud-event-proxy inside the `linuxptp-daemon` pod through
//! the Kubernetes API (`--kube`).
//!
//! Layout:
//! - this file: [`KubeSettings`], [`KubeError`], [`connect`] and
//!   [`find_daemon_pod`] (which pod serves this node);
//! - `net`: [`outbound_ip`] and [`api_server_addr`], to pick the callback
//!   address the daemon (host network) can reach, and [`service_url`];
//! - `port_forward`: [`PortForward`], a local TCP port tunnelled to the pod
//!   through `pods/portforward`, re-aimed when the pod is replaced;
//! - `rbac`: [`RBAC_RULES`], the Role the above needs (deploy/kubernetes).
//!
//! ```no_run
//! # async fn demo() -> Result<(), broker::source::upstream::kube::KubeError> {
//! use broker::source::upstream::kube::{self, KubeSettings, PortForward};
//! let settings = KubeSettings::default();
//! let client = kube::connect(&settings).await?;
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! let forward = PortForward::start(client, settings, shutdown.clone()).await?;
//! println!("O-RAN API at http://{}/api/ocloudNotifications/v2", forward.local_addr());
//! # Ok(()) }
//! ```

mod net;
mod port_forward;
mod rbac;

#[cfg(test)]
mod fake_apiserver;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod wiring_tests;

use std::path::PathBuf;

use ::kube::api::{Api, ListParams};
use ::kube::config::{KubeConfigOptions, Kubeconfig};
use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};

pub use net::{api_server_addr, outbound_ip, service_url};
pub use port_forward::PortForward;
pub use rbac::{RBAC_RULES, RbacRule};

/// Where to find the linuxptp-daemon pod. The defaults are those of the Red
/// Hat ptp-operator.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubeSettings {
    /// Namespace of the linuxptp-daemon pods (`openshift-ptp`).
    pub namespace: String,
    /// Label selector of the daemon pods (`app=linuxptp-daemon`); there is
    /// one such pod per node.
    pub label_selector: String,
    /// Node whose daemon we talk to. `None` means this host: the `NODE_NAME`
    /// environment variable (set through the downward API when the broker
    /// runs in a pod), else the kernel hostname.
    pub node_name: Option<String>,
    /// Container port of cloud-event-proxy's O-RAN v2 API (9043).
    pub api_port: u16,
    /// Kubeconfig file to use. `None` infers the configuration the usual
    /// way: `KUBECONFIG`, `~/.kube/config`, then the in-cluster service
    /// account.
    pub kubeconfig: Option<PathBuf>,
}

impl Default for KubeSettings {
    fn default() -> Self {
        KubeSettings {
            namespace: "openshift-ptp".to_owned(),
            label_selector: "app=linuxptp-daemon".to_owned(),
            node_name: None,
            api_port: 9043,
            kubeconfig: None,
        }
    }
}

impl KubeSettings {
    /// The node to look for: `node_name`, else `NODE_NAME`, else the hostname.
    pub fn resolve_node_name(&self) -> Result<String, KubeError> {
        if let Some(node) = self.node_name.as_deref().filter(|n| !n.is_empty()) {
            return Ok(node.to_owned());
        }
        if let Some(node) = std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty()) {
            return Ok(node);
        }
        // Linux only, like the daemon we talk to; avoids a libc dependency.
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .ok_or(KubeError::UnknownNode)
    }
}

/// What can go wrong while talking to Kubernetes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeError {
    /// No kubeconfig, no in-cluster service account, or an unusable one.
    #[error("cannot find a Kubernetes configuration (KUBECONFIG, ~/.kube/config, in-cluster)")]
    InferConfig(#[source] ::kube::config::InferConfigError),
    /// The kubeconfig file named in the settings cannot be read or used.
    #[error("cannot use kubeconfig {path}")]
    Kubeconfig {
        /// The file from [`KubeSettings::kubeconfig`].
        path: PathBuf,
        /// Why it was rejected.
        #[source]
        source: ::kube::config::KubeconfigError,
    },
    /// The client could not be built from an otherwise valid configuration.
    #[error("cannot build the Kubernetes client")]
    Client(#[source] ::kube::Error),
    /// Neither `node_name`, `NODE_NAME` nor the hostname tell us the node.
    #[error("cannot tell which node this is: set node_name, NODE_NAME, or a hostname")]
    UnknownNode,
    /// Listing pods failed (API server unreachable, RBAC, ...).
    #[error("cannot list pods {selector} in namespace {namespace}")]
    ListPods {
        /// The label selector used.
        selector: String,
        /// The namespace searched.
        namespace: String,
        /// The API error.
        #[source]
        source: ::kube::Error,
    },
    /// The API answered, but no daemon pod runs on the node.
    #[error("no pod matching {selector} on node {node} in namespace {namespace}")]
    NoPod {
        /// The label selector used.
        selector: String,
        /// The node searched.
        node: String,
        /// The namespace searched.
        namespace: String,
    },
    /// The local listener of the port-forward could not be bound.
    #[error("cannot listen on 127.0.0.1 for the port-forward")]
    Bind(#[source] std::io::Error),
    /// Opening `pods/portforward` failed (pod gone, RBAC, no WebSocket).
    #[error("cannot port-forward to pod {pod} port {port}")]
    PortForward {
        /// The pod we tried.
        pod: String,
        /// The container port.
        port: u16,
        /// The API error.
        #[source]
        source: ::kube::Error,
    },
    /// The API server URL has no host part.
    #[error("the API server URL {0} has no host")]
    ApiServerUrl(String),
    /// The API server's host name does not resolve.
    #[error("cannot resolve the API server {host}")]
    ResolveApiServer {
        /// `host:port` as written in the configuration.
        host: String,
        /// The resolver's error, or `None` when it answered no address.
        #[source]
        source: Option<std::io::Error>,
    },
}

/// Loads the client configuration: the kubeconfig named in `settings`, or
/// the inferred one. Its `cluster_url` feeds [`api_server_addr`].
pub async fn load_config(settings: &KubeSettings) -> Result<::kube::Config, KubeError> {
    let Some(path) = &settings.kubeconfig else {
        return ::kube::Config::infer()
            .await
            .map_err(KubeError::InferConfig);
    };
    let kubeconfig_error = |source| KubeError::Kubeconfig {
        path: path.clone(),
        source,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
    ::kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(kubeconfig_error)
}

/// Builds a Kubernetes client from [`load_config`].
pub async fn connect(settings: &KubeSettings) -> Result<::kube::Client, KubeError> {
    let config = load_config(settings).await?;
    ::kube::Client::try_from(config).map_err(KubeError::Client)
}

/// Finds the daemon pod on this node (label selector plus the field selector
/// `spec.nodeName=<node>`). When several match, e.g. while a DaemonSet
/// rollout replaces the pod, a Running pod that is not being deleted wins,
/// then the newest.
pub async fn find_daemon_pod(
    client: &::kube::Client,
    settings: &KubeSettings,
) -> Result<String, KubeError> {
    let node = settings.resolve_node_name()?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &settings.namespace);
    let params = ListParams::default()
        .labels(&settings.label_selector)
        .fields(&format!("spec.nodeName={node}"));
    let list = pods
        .list(&params)
        .await
        .map_err(|source| KubeError::ListPods {
            selector: settings.label_selector.clone(),
            namespace: settings.namespace.clone(),
            source,
        })?;
    let best = list
        .items
        .iter()
        .filter_map(|pod| Some((preference(pod), pod.metadata.name.as_deref()?)))
        .max_by(|(a, _), (b, _)| a.cmp(b));
    match best {
        Some((_, name)) => {
            tracing::debug!(pod = name, node, "found the linuxptp-daemon pod");
            Ok(name.to_owned())
        }
        None => Err(KubeError::NoPod {
            selector: settings.label_selector.clone(),
            node,
            namespace: settings.namespace.clone(),
        }),
    }
}

/// Sort key of a candidate pod: greater is better.
fn preference(pod: &Pod) -> (bool, bool, Option<k8s_openapi::jiff::Timestamp>) {
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    let alive = pod.metadata.deletion_timestamp.is_none();
    let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
    (running, alive, created)
}

/// Displays an error with its sources, `outer: inner: root`, because log
/// lines show only `Display` and the root cause is what an operator needs.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}
