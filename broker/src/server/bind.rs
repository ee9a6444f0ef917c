//! Binding every endpoint with an error that says what to do, stale ipc
//! files, and the ipc files' mode and group.

use std::io;
use std::path::Path;

use tokio::net::TcpListener;
use zeromq::{Socket, ZmqError};

use super::StartError;
use crate::config::Config;
use crate::core::shared::Broker;
use crate::sink::fanout::Publisher;
use crate::sink::registry::Subscriptions;
use crate::source::http;
use crate::source::pull::Pull;

/// Give every ipc socket file `ipc_mode` and `ipc_group`, right after the
/// bind: the umask must not decide who may emit on a shared host.
pub(super) fn secure_ipc(config: &Config) -> Result<(), StartError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = config
        .ipc_mode()
        .map_err(|e| StartError::Config(e.to_string()))?;
    let gid = config
        .ipc_gid()
        .map_err(|e| StartError::Config(e.to_string()))?;
    for (role, endpoint) in [
        ("emit", &config.emit),
        ("pub", &config.publish),
        ("query", &config.query),
    ] {
        let Some(path) = endpoint.strip_prefix("ipc://") else {
            continue;
        };
        let fail = |what: &str, e: io::Error| StartError::Bind {
            role,
            endpoint: endpoint.clone(),
            reason: format!("cannot {what} the socket file: {e}"),
        };
        if let Some(gid) = gid {
            std::os::unix::fs::chown(path, None, Some(gid)).map_err(|e| fail("chown", e))?;
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| fail("chmod", e))?;
    }
    Ok(())
}

/// Bind with a message that says what to do about the usual failures.
pub(super) async fn bind<S: Socket>(
    socket: &mut S,
    role: &'static str,
    endpoint: &str,
) -> Result<String, StartError> {
    let fail = |reason: String| StartError::Bind {
        role,
        endpoint: endpoint.to_owned(),
        reason,
    };
    if let Some(path) = endpoint.strip_prefix("ipc://") {
        remove_stale_ipc(Path::new(path)).map_err(|e| fail(e.to_string()))?;
    }
    match socket.bind(endpoint).await {
        Ok(bound) => Ok(bound.to_string()),
        Err(ZmqError::Network(e)) => Err(bind_failed(role, endpoint, e)),
        Err(e) => Err(fail(e.to_string())),
    }
}

/// Bind the HTTP receiver, with the same kind of message as the sockets.
pub(super) async fn bind_http(listen: &str) -> Result<TcpListener, StartError> {
    http::bind(listen).await.map_err(|e| StartError::Bind {
        role: "http",
        endpoint: listen.to_owned(),
        reason: if e.kind() == io::ErrorKind::AddrInUse {
            "address already in use (is another ptp-broker or the upstream's consumer on it?)"
                .to_owned()
        } else {
            e.to_string()
        },
    })
}

/// Bind the monitor's listener (`None`: disabled).
pub(super) async fn bind_monitor(config: &Config) -> Result<Option<TcpListener>, StartError> {
    if !config.monitor.enabled {
        return Ok(None);
    }
    let listen = &config.monitor.listen;
    crate::source::http::bind(listen)
        .await
        .map(Some)
        .map_err(|e| StartError::Bind {
            role: "monitor",
            endpoint: listen.clone(),
            reason: if e.kind() == io::ErrorKind::AddrInUse {
                "address already in use (is another ptp-broker running? set monitor.listen / --monitor, or --no-monitor)"
                    .to_owned()
            } else {
                e.to_string()
            },
        })
}

/// Bind the O-RAN v2 API's listener and load its consumers (`None`:
/// disabled).
pub(super) async fn bind_api(
    config: &Config,
    broker: &Broker,
    subscriptions: &Subscriptions,
) -> Result<Option<(TcpListener, std::sync::Arc<crate::api::Api>)>, StartError> {
    if !config.api.enabled {
        return Ok(None);
    }
    let listener = bind_http(&config.api.listen).await.map_err(|e| match e {
        StartError::Bind {
            endpoint, reason, ..
        } => StartError::Bind {
            role: "api",
            endpoint,
            reason,
        },
        other => other,
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| StartError::Config(e.to_string()))?;
    let consumers = crate::api::consumers::Consumers::load(
        config.api.clone(),
        config.api.flavor.unwrap_or(config.upstream.flavor),
        config.node_name(),
        std::path::PathBuf::from(&config.state_dir),
        subscriptions.clone(),
    )
    .map_err(StartError::Subscriptions)?;
    let api = crate::api::Api::new(
        broker.clone(),
        consumers,
        &config.api,
        config.node_name(),
        local,
    )
    .map_err(StartError::Config)?;
    Ok(Some((listener, std::sync::Arc::new(api))))
}

/// Bind the PUB endpoint, with the same messages as [`bind`].
pub(super) async fn bind_pub(
    endpoint: &str,
    queue: usize,
    max_connections: usize,
) -> Result<(Publisher, String), StartError> {
    let bound = Publisher::bind_with(endpoint, queue, max_connections).await;
    bound.map_err(|e| bind_failed("pub", endpoint, e))
}

/// Bind the PULL endpoint, with the same messages as [`bind`].
pub(super) async fn bind_pull(
    endpoint: &str,
    max_connections: usize,
) -> Result<(Pull, String), StartError> {
    let bound = Pull::bind(endpoint, max_connections).await;
    bound.map_err(|e| bind_failed("emit", endpoint, e))
}

/// The error of a failed bind of one of our own sockets.
fn bind_failed(role: &'static str, endpoint: &str, e: io::Error) -> StartError {
    StartError::Bind {
        role,
        endpoint: endpoint.to_owned(),
        reason: if e.kind() == io::ErrorKind::AddrInUse {
            "address already in use (is another ptp-broker running?)".to_owned()
        } else {
            e.to_string()
        },
    }
}

/// An ipc socket file left by a broker that was killed refuses the bind.
/// Remove it, but only if nobody answers on it: a live broker keeps its file.
pub(crate) fn remove_stale_ipc(path: &Path) -> io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "address already in use (another ptp-broker answers on it)",
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path),
        Err(_) => Ok(()),
    }
}

/// While it lives, the process umask is the complement of `ipc_mode`, so
/// an ipc socket file is created with that mode (or stricter), never
/// briefly open to everyone; the old umask comes back on drop. Only set
/// when an endpoint is ipc.
pub(super) struct IpcUmask(Option<libc::mode_t>);

impl IpcUmask {
    pub(super) fn set(config: &Config) -> Result<IpcUmask, StartError> {
        let any_ipc = [&config.emit, &config.publish, &config.query]
            .iter()
            .any(|e| e.starts_with("ipc://"));
        if !any_ipc {
            return Ok(IpcUmask(None));
        }
        let mode = config
            .ipc_mode()
            .map_err(|e| StartError::Config(e.to_string()))?;
        let mask = (!mode & 0o777) as libc::mode_t;
        // SAFETY: umask(2) cannot fail and touches no memory; it only sets
        // the process's file-creation mask.
        let old = unsafe { libc::umask(mask) };
        Ok(IpcUmask(Some(old)))
    }
}

impl Drop for IpcUmask {
    fn drop(&mut self) {
        if let Some(old) = self.0 {
            // SAFETY: as above.
            unsafe { libc::umask(old) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current_umask() -> libc::mode_t {
        // SAFETY: as above; set and put back at once.
        unsafe {
            let m = libc::umask(0o022);
            libc::umask(m);
            m
        }
    }

    #[test]
    fn the_umask_is_the_ipc_modes_complement_only_while_binding() {
        let before = current_umask();
        let config = Config {
            emit: "ipc:///tmp/x".into(),
            ipc_mode: "0640".into(),
            ..Config::default()
        };
        let guard = IpcUmask::set(&config).unwrap();
        assert_eq!(current_umask(), 0o137);
        drop(guard);
        assert_eq!(current_umask(), before);
        // No ipc endpoint: untouched.
        let _none = IpcUmask::set(&Config::default()).unwrap();
        assert_eq!(current_umask(), before);
    }
}
