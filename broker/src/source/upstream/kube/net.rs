//! Addresses: the callback IP the daemon can reach, and the Service URL.
//!
//! The daemon runs with `hostNetwork: true` and POSTs events to the callback
//! URL we register, so the callback must carry an IP of this host that the
//! node can route to. The address the kernel would use towards the API server
//! is such an IP (the ptp-events-listener does the same).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use super::{KubeError, KubeSettings};

/// The local IP the kernel would use to reach `target`. A UDP "connect" only
/// picks a route and a source address: no packet is sent.
pub fn outbound_ip(target: SocketAddr) -> std::io::Result<IpAddr> {
    let any: IpAddr = match target {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind((any, 0))?;
    socket.connect(target)?;
    Ok(socket.local_addr()?.ip())
}

/// The API server's address from a client configuration's `cluster_url`
/// (see [`super::load_config`]), to feed [`outbound_ip`]. Host names are
/// resolved; the port defaults to 443 for https and 80 for http.
pub async fn api_server_addr(cluster_url: &http::Uri) -> Result<SocketAddr, KubeError> {
    let host = cluster_url
        .host()
        .ok_or_else(|| KubeError::ApiServerUrl(cluster_url.to_string()))?;
    // `Uri::host` keeps the brackets of an IPv6 literal; the resolver does not want them.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = cluster_url
        .port_u16()
        .unwrap_or(match cluster_url.scheme_str() {
            Some("http") => 80,
            _ => 443,
        });
    let resolve_error = |source| KubeError::ResolveApiServer {
        host: format!("{host}:{port}"),
        source,
    };
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| resolve_error(Some(e)))?;
    addrs.next().ok_or_else(|| resolve_error(None))
}

/// The in-cluster URL of the daemon's per-node Service, for a broker that
/// runs inside the cluster and needs no port-forward.
pub fn service_url(settings: &KubeSettings, node: &str) -> String {
    format!(
        "http://ptp-event-publisher-service-{node}.{namespace}.svc.cluster.local:{port}",
        namespace = settings.namespace,
        port = settings.api_port,
    )
}
