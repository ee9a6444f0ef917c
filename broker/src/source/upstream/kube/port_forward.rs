//! A local TCP port tunnelled to the daemon pod through `pods/portforward`.
//!
//! Every accepted connection gets its own port-forward WebSocket: the API
//! server's stream protocol (v4) cannot half-close a stream, so sharing one
//! WebSocket between HTTP connections would tie their lifetimes together.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use ::kube::api::{Api, Portforwarder};
use k8s_openapi::api::core::v1::Pod;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{ErrorChain, KubeError, KubeSettings, find_daemon_pod};

/// Binds `127.0.0.1:0` and forwards every accepted TCP connection to
/// `api_port` of the daemon pod through the API server's `pods/portforward`.
///
/// When opening a forward fails (pod restarted or replaced), the pod is
/// looked up again and the connection retried once against the new pod, so
/// the broker keeps working without a restart. Runs until the `shutdown`
/// token given to [`PortForward::start`] is cancelled or this handle is
/// dropped.
pub struct PortForward {
    /// Where local HTTP clients connect; fixed for the life of the forward.
    local_addr: SocketAddr,
    /// Shared with the accept loop so [`PortForward::pod_name`] can report
    /// the pod the tunnel currently aims at.
    target: Arc<Target>,
    /// Stops the accept loop when the handle is dropped, so a forgotten
    /// handle does not leave a listener running.
    _stop: DropGuard,
}

impl PortForward {
    /// Finds the daemon pod, binds the local port and starts accepting.
    /// Fails early (no pod, RBAC, API server unreachable) so a configuration
    /// mistake shows at start-up rather than on the first request.
    pub async fn start(
        client: ::kube::Client,
        settings: KubeSettings,
        shutdown: CancellationToken,
    ) -> Result<PortForward, KubeError> {
        let target = Arc::new(Target {
            pods: Api::namespaced(client.clone(), &settings.namespace),
            client,
            settings,
            current: Mutex::new(Current::default()),
        });
        target.resolve().await?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(KubeError::Bind)?;
        let local_addr = listener.local_addr().map_err(KubeError::Bind)?;
        let stop = shutdown.child_token();
        tracing::info!(%local_addr, pod = ?target.pod(), port = target.settings.api_port, "port-forward listening");
        tokio::spawn(accept_loop(listener, Arc::clone(&target), stop.clone()));
        Ok(PortForward {
            local_addr,
            target,
            _stop: stop.drop_guard(),
        })
    }

    /// The local address that leads to the pod's API port.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The pod the forward currently aims at, for logs and metrics; `None`
    /// while no daemon pod could be found.
    pub fn pod_name(&self) -> Option<String> {
        self.target.pod()
    }
}

impl std::fmt::Debug for PortForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortForward")
            .field("local_addr", &self.local_addr)
            .field("pod", &self.target.pod())
            .finish_non_exhaustive()
    }
}

/// What every connection needs to open its forward.
struct Target {
    /// Used to look the pod up again.
    client: ::kube::Client,
    /// Namespaced pod API used to open the forwards.
    pods: Api<Pod>,
    /// Namespace, selector, node and port of the daemon.
    settings: KubeSettings,
    /// The pod in use. A std mutex: it is held only to copy a name, never
    /// across an `.await`.
    current: Mutex<Current>,
}

/// The pod in use and whether it is still trusted.
#[derive(Default)]
struct Current {
    /// Last pod found; `None` when the last lookup found none.
    pod: Option<String>,
    /// The pod reported an error on a forward: look it up again before the
    /// next connection, in case it is being replaced.
    suspect: bool,
}

impl Target {
    fn current(&self) -> MutexGuard<'_, Current> {
        // A panic while holding this lock cannot leave a half-written name.
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn pod(&self) -> Option<String> {
        self.current().pod.clone()
    }

    fn mark_suspect(&self) {
        self.current().suspect = true;
    }

    /// Looks the daemon pod up and remembers it.
    async fn resolve(&self) -> Result<String, KubeError> {
        let found = find_daemon_pod(&self.client, &self.settings).await;
        let mut current = self.current();
        let previous = current.pod.take();
        current.suspect = false;
        if let Ok(pod) = &found {
            if previous.as_ref() != Some(pod) {
                tracing::info!(pod, previous = ?previous, "port-forward now targets this pod");
            }
            current.pod = Some(pod.clone());
        }
        found
    }

    /// Opens a forward to the current pod; if that fails, looks the pod up
    /// again and retries once, which covers a pod restarted or replaced.
    async fn open(&self) -> Result<(String, Portforwarder), KubeError> {
        let port = self.settings.api_port;
        let cached = {
            let current = self.current();
            current.pod.clone().filter(|_| !current.suspect)
        };
        if let Some(pod) = cached {
            match self.pods.portforward(&pod, &[port]).await {
                Ok(forwarder) => return Ok((pod, forwarder)),
                Err(error) => tracing::warn!(
                    pod,
                    error = %ErrorChain(&error),
                    "port-forward failed, looking for the daemon pod again"
                ),
            }
        }
        let pod = self.resolve().await?;
        match self.pods.portforward(&pod, &[port]).await {
            Ok(forwarder) => Ok((pod, forwarder)),
            Err(source) => Err(KubeError::PortForward { pod, port, source }),
        }
    }
}

/// Accepts local connections until `stop` is cancelled.
async fn accept_loop(listener: TcpListener, target: Arc<Target>, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                tracing::debug!(%peer, "forwarding a local connection");
                tokio::spawn(serve_connection(tcp, Arc::clone(&target), stop.clone()));
            }
            Err(error) => {
                tracing::warn!(error = %error, "port-forward accept failed");
                // Accept errors are mostly resource exhaustion (EMFILE):
                // pause instead of spinning on them.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    tracing::debug!("port-forward listener stopped");
}

/// Opens a forward for one local connection and relays it.
async fn serve_connection(tcp: TcpStream, target: Arc<Target>, stop: CancellationToken) {
    match target.open().await {
        Ok((pod, forwarder)) => relay(tcp, &target, &pod, forwarder, stop).await,
        // Dropping `tcp` closes the local connection: the HTTP client sees
        // the failure right away.
        Err(error) => {
            tracing::warn!(error = %ErrorChain(&error), "cannot forward a local connection")
        }
    }
}

/// Copies bytes both ways until both sides are done, the pod reports an
/// error for the port, or `stop` is cancelled.
async fn relay(
    mut tcp: TcpStream,
    target: &Target,
    pod: &str,
    mut forwarder: Portforwarder,
    stop: CancellationToken,
) {
    let port = target.settings.api_port;
    // Both are present: we asked for exactly this port and take them once.
    let (Some(mut upstream), Some(pod_error)) =
        (forwarder.take_stream(port), forwarder.take_error(port))
    else {
        forwarder.abort();
        return;
    };
    tokio::select! {
        copied = tokio::io::copy_bidirectional(&mut tcp, &mut upstream) => match copied {
            Ok((sent, received)) => tracing::debug!(pod, sent, received, "forwarded connection closed"),
            Err(error) => tracing::debug!(pod, error = %error, "forwarded connection broke"),
        },
        // `None` only means the forward ended; the copy then drains what is
        // left, so only a real message ends the relay here.
        Some(message) = pod_error => {
            tracing::warn!(pod, message, "the pod refused the forwarded connection");
            target.mark_suspect();
        }
        () = stop.cancelled() => tracing::debug!(pod, "forwarded connection cut by shutdown"),
    }
    // Everything the copy read has been written, so nothing is lost by
    // dropping the WebSocket instead of waiting for a polite close.
    forwarder.abort();
}
