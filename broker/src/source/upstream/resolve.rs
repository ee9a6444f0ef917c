//! Start-up decisions about the upstream: its URL, our callback URL and the
//! node name. Done in `Server::bind`, so a wrong setting (no daemon pod, an
//! unresolvable host, RBAC) fails the start instead of a background task.

use std::net::{IpAddr, SocketAddr};

use tokio_util::sync::CancellationToken;

use super::KubeMode;
use super::kube::{self, KubeError, PortForward};
use crate::config::Config;

/// Prefix of the Red Hat v2 API behind the daemon's port.
const REDHAT_V2_PREFIX: &str = "/api/ocloudNotifications/v2";

/// Where the manager talks to and what it registers.
#[derive(Debug)]
pub struct Target {
    /// Base URL of the API (may still lack the prefix; see `Rest::detect`).
    pub url: String,
    /// EndpointUri of every subscription: `callback_base` + `/<secret>`.
    pub callback: String,
    /// The callback without this run's secret: a subscription whose
    /// EndpointUri is this, or this plus another secret, was made by an
    /// earlier run of this broker and is deleted.
    pub callback_base: String,
    /// Node name in resource addresses.
    pub node: String,
    /// Keeps the Kubernetes port-forward alive as long as the manager runs.
    pub forward: Option<PortForward>,
}

/// Why the upstream cannot be followed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// Discovery, port-forward or node name failed.
    #[error("{0}")]
    Kube(#[from] KubeError),
    /// No callback address could be chosen.
    #[error("cannot choose the callback address: {0}; set upstream.callback (--callback)")]
    Callback(String),
}

/// The target for `config`, or `None` when no upstream is configured.
/// `http` is the address the receiver is bound to; `secret` is appended to
/// the callback as its last path segment.
pub async fn resolve(
    config: &Config,
    http: Option<SocketAddr>,
    secret: &str,
) -> Result<Option<Target>, ResolveError> {
    let up = &config.upstream;
    if up.url.is_none() && !config.kube.enabled {
        return Ok(None);
    }
    let mut settings = config.kube.settings();
    if let Some(node) = &up.node {
        settings.node_name = Some(node.clone());
    }
    let node = settings.resolve_node_name()?;
    settings.node_name = Some(node.clone());
    let (url, towards, forward) = if let Some(url) = &up.url {
        (url.clone(), upstream_addr(url).await, None)
    } else {
        let kube_config = kube::load_config(&settings).await?;
        let api_server = kube::api_server_addr(&kube_config.cluster_url).await?;
        match config.kube.mode {
            KubeMode::Service => {
                let url = format!("{}{REDHAT_V2_PREFIX}", kube::service_url(&settings, &node));
                (url, Ok(api_server), None)
            }
            KubeMode::PortForward => {
                let client = ::kube::Client::try_from(kube_config).map_err(KubeError::Client)?;
                // The forward's own token: it stops when the manager drops it.
                let forward =
                    PortForward::start(client, settings, CancellationToken::new()).await?;
                let url = format!("http://{}{REDHAT_V2_PREFIX}", forward.local_addr());
                (url, Ok(api_server), Some(forward))
            }
        }
    };
    let callback_base = match &up.callback {
        Some(callback) => callback.trim_end_matches('/').to_owned(),
        None => default_callback(config, http, towards)?,
    };
    Ok(Some(Target {
        url,
        callback: format!("{callback_base}/{secret}"),
        callback_base,
        node,
        forward,
    }))
}

/// `http://<ip>:<port><path>` of our receiver: its own IP when bound to one,
/// else the IP the kernel uses towards `towards` (the upstream, or the API
/// server behind which the daemon runs on the host network).
fn default_callback(
    config: &Config,
    http: Option<SocketAddr>,
    towards: Result<SocketAddr, String>,
) -> Result<String, ResolveError> {
    let http = http.ok_or_else(|| ResolveError::Callback("the HTTP receiver is off".to_owned()))?;
    let ip = if http.ip().is_unspecified() {
        let target = towards.map_err(ResolveError::Callback)?;
        kube::outbound_ip(target)
            .map_err(|e| ResolveError::Callback(format!("no route to {target}: {e}")))?
    } else {
        http.ip()
    };
    let host = match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    Ok(format!("http://{host}:{}{}", http.port(), config.http.path))
}

/// The first address of the upstream URL's host, for the outbound-IP guess.
async fn upstream_addr(url: &str) -> Result<SocketAddr, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| format!("{url:?} has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(80);
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))
}
