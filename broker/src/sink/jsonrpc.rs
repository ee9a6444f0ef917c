//! The JSON-RPC sink: OpenSIPS `event_stream` (seed 004). Each event is a
//! JSON-RPC 2.0 call straight on one persistent TCP connection, one object
//! per event followed by `\n`: a notification (no `id`) by default, or in
//! sync mode a request with a unique integer `id` whose reply must come
//! within the timeout. `method` is the URI's `/method`, else the event
//! type; `params` is the CloudEvent as a named object, with the event type
//! under `event_param` when that is set.

use std::sync::Arc;
use std::time::Duration;

use proto::Event;
use proto::subscription::Spec;
use serde_json::Value as Json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::core::outbox::{Outbox, SinkCounters};
use crate::core::shared::Broker;
use crate::sink::FailLog;
use crate::sink::spec::only;

/// A JSON-RPC subscription's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonRpcConfig {
    /// `host:port` to connect to.
    pub address: String,
    /// The method called; `None`: the event type.
    pub method: Option<String>,
    /// Requests with ids that wait for the reply.
    pub sync: bool,
    /// Write + reply (sync), or the write alone.
    pub timeout: Duration,
    /// Name of the `params` member that holds the event type.
    pub event_param: Option<String>,
}

/// OpenSIPS' default timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Reconnect backoff: first wait and longest wait.
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
const RECONNECT_MAX: Duration = Duration::from_secs(10);
/// How long a connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Most bytes of replies buffered before the peer is taken for broken.
const MAX_REPLY: usize = 1 << 20;

impl JsonRpcConfig {
    /// Read `tcp:host:port[/method]` and the JSON-RPC options of `spec`.
    pub fn from_spec(spec: &Spec) -> Result<JsonRpcConfig, String> {
        only(spec, "JSON-RPC", &["sync", "timeout_ms", "event_param"])?;
        let bad = |why: &str| format!("uri {:?}: {why} (tcp:host:port[/method])", spec.uri);
        let rest = spec
            .uri
            .strip_prefix("tcp:")
            .ok_or_else(|| bad("not tcp:"))?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (address, method) = match rest.split_once('/') {
            Some((a, m)) => (a, Some(m)),
            None => (rest, None),
        };
        let (host, port) = address.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(bad("no host, or a port that is not 1-65535"));
        }
        if let Some(m) = method
            && (m.is_empty() || m.contains(|c: char| c.is_whitespace() || c.is_control()))
        {
            return Err(bad("the method must be a word"));
        }
        let timeout = spec
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, Duration::from_millis);
        if timeout.is_zero() {
            return Err("timeout_ms 0: must be at least 1".into());
        }
        if spec.event_param.as_deref().is_some_and(str::is_empty) {
            return Err("event_param: empty".into());
        }
        Ok(JsonRpcConfig {
            address: address.to_owned(),
            method: method.map(str::to_owned),
            sync: spec.sync.unwrap_or(false),
            timeout,
            event_param: spec.event_param.clone(),
        })
    }

    /// The JSON-RPC call for `event`, with `id` in sync mode.
    pub fn call(&self, event: &Event, id: Option<u64>) -> Vec<u8> {
        let mut params = proto::cloudevent::to_json(event, true);
        if let (Some(name), Json::Object(o)) = (&self.event_param, &mut params) {
            o.insert(name.clone(), event.event_type.as_str().into());
        }
        let method = self
            .method
            .clone()
            .unwrap_or_else(|| event.event_type.as_str().to_owned());
        let mut call = serde_json::json!({
            "jsonrpc": "2.0",
            "method": method,
            "params": params,
        });
        if let (Some(id), Json::Object(o)) = (id, &mut call) {
            o.insert("id".into(), id.into());
        }
        let mut bytes = serde_json::to_vec(&call).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// What became of one event.
enum Outcome {
    Delivered,
    Failed(String),
    /// The connection broke before the event was written: send it again.
    Resend,
}

/// Deliver until the outbox closes or `cancel`.
pub async fn run(
    config: JsonRpcConfig,
    outbox: Arc<Outbox>,
    broker: Broker,
    cancel: CancellationToken,
) {
    let mut log = FailLog::new(outbox.id());
    let mut conn: Option<Connection> = None;
    let mut wait = RECONNECT_FIRST;
    // Request ids: unique per run, exact in every JSON reader.
    let mut next_id = (uuid::Uuid::new_v4().as_u64_pair().0 >> 24).max(1);
    let counters = &outbox.counters;
    'events: loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => break,
            next = outbox.next(&broker) => match next {
                Some(e) => e,
                None => break,
            },
        };
        let id = config.sync.then(|| {
            next_id += 1;
            next_id
        });
        let call = config.call(&event, id);
        loop {
            let open = match &mut conn {
                Some(c) => c,
                None => {
                    let connected = tokio::select! {
                        _ = cancel.cancelled() => break 'events,
                        c = Connection::open(&config.address) => c,
                    };
                    match connected {
                        Ok(c) => {
                            wait = RECONNECT_FIRST;
                            conn.insert(c)
                        }
                        Err(e) => {
                            log.fail(&format_args!("cannot connect to {}: {e}", config.address));
                            tokio::select! {
                                _ = cancel.cancelled() => break 'events,
                                _ = tokio::time::sleep(wait) => {}
                            }
                            wait = (wait * 2).min(RECONNECT_MAX);
                            continue;
                        }
                    }
                }
            };
            let outcome = tokio::select! {
                _ = cancel.cancelled() => break 'events,
                o = open.send(&call, id, config.timeout) => o,
            };
            match outcome {
                Outcome::Delivered => SinkCounters::bump(&counters.delivered),
                Outcome::Resend => {
                    conn = None;
                    SinkCounters::bump(&counters.retried);
                    continue;
                }
                Outcome::Failed(reason) => {
                    SinkCounters::bump(&counters.failed);
                    log.fail(&format_args!(
                        "{} seq {} to tcp:{}: {reason}",
                        event.event_type, event.meta.seq, config.address
                    ));
                    // A late reply or half-written call must not confuse the
                    // next one: start over on a new connection.
                    conn = None;
                }
            }
            break;
        }
    }
    log.flush();
}

/// One open connection and the replies read from it.
struct Connection {
    stream: TcpStream,
    replies: Vec<u8>,
}

impl Connection {
    async fn open(address: &str) -> Result<Connection, String> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address))
            .await
            .map_err(|_| "connect timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        Ok(Connection {
            stream,
            replies: Vec::new(),
        })
    }

    /// Read what has arrived without waiting; `false` if the peer closed.
    fn poll_open(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.try_read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => {
                    if self.replies.len() + n > MAX_REPLY {
                        return false;
                    }
                    self.replies.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
    }

    async fn send(&mut self, call: &[u8], id: Option<u64>, timeout: Duration) -> Outcome {
        let deadline = Instant::now() + timeout;
        if !self.poll_open() {
            return Outcome::Resend;
        }
        if id.is_none() {
            // Replies to notifications are not expected; nothing waits on them.
            self.replies.clear();
        }
        match tokio::time::timeout_at(deadline, self.stream.write_all(call)).await {
            Err(_) => return Outcome::Failed("write timed out".into()),
            Ok(Err(e)) if self.replies.is_empty() => {
                tracing::debug!("JSON-RPC write failed: {e}");
                return Outcome::Resend;
            }
            Ok(Err(e)) => return Outcome::Failed(format!("write failed: {e}")),
            Ok(Ok(())) => {}
        }
        let Some(id) = id else {
            return Outcome::Delivered;
        };
        loop {
            match take_reply(&mut self.replies, id) {
                Ok(Some(reply)) => return reply,
                Ok(None) => {}
                Err(e) => return Outcome::Failed(e),
            }
            if self.replies.len() >= MAX_REPLY {
                return Outcome::Failed(format!("reply over {MAX_REPLY} bytes"));
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => return Outcome::Failed(format!("no reply within {timeout:?}")),
                Ok(Ok(0)) => return Outcome::Failed("connection closed before the reply".into()),
                Ok(Ok(n)) => self.replies.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => return Outcome::Failed(format!("read failed: {e}")),
            }
        }
    }
}

/// The reply to `id` among the complete values read so far (taken out of
/// `replies`); replies to other ids are skipped.
fn take_reply(replies: &mut Vec<u8>, id: u64) -> Result<Option<Outcome>, String> {
    {
        let mut stream = serde_json::Deserializer::from_slice(replies).into_iter::<Json>();
        let mut found = None;
        let mut used = 0;
        loop {
            match stream.next() {
                None => break,
                Some(Ok(value)) => {
                    used = stream.byte_offset();
                    if value.get("id").and_then(Json::as_u64) != Some(id) {
                        continue;
                    }
                    found = Some(if let Some(error) = value.get("error") {
                        Outcome::Failed(format!("error reply: {error}"))
                    } else if value.get("result").is_some() {
                        Outcome::Delivered
                    } else {
                        Outcome::Failed("reply without result or error".into())
                    });
                    break;
                }
                Some(Err(e)) if e.is_eof() => break,
                Some(Err(e)) => return Err(format!("reply is not JSON: {e}")),
            }
        }
        replies.drain(..used);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::Content;

    fn config(uri: &str) -> Result<JsonRpcConfig, String> {
        JsonRpcConfig::from_spec(&Spec {
            uri: uri.into(),
            ..Spec::default()
        })
    }

    #[test]
    fn the_uri_is_read_as_opensips_does() {
        let c = config("tcp:127.0.0.1:8080/block_ip").unwrap();
        assert_eq!(c.address, "127.0.0.1:8080");
        assert_eq!(c.method.as_deref(), Some("block_ip"));
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        assert!(!c.sync);
        assert_eq!(config("tcp:[::1]:8080").unwrap().address, "[::1]:8080");
        for bad in [
            "tcp:host",
            "tcp::80",
            "tcp:h:0",
            "tcp:h:99999",
            "tcp:h:1/a b",
            "tcp:h:1/",
        ] {
            assert!(config(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn calls_are_notifications_or_requests_with_the_event_as_params() {
        let mut c = config("tcp:h:1").unwrap();
        c.event_param = Some("ptp_event".into());
        let e = Event::synthetic(
            catalog::OS_CLOCK_SYNC.into(),
            Content::parse("LOCKED", None).unwrap(),
        );
        let note: Json = serde_json::from_slice(&c.call(&e, None)).unwrap();
        assert_eq!(note["jsonrpc"], "2.0");
        assert_eq!(note["method"], e.event_type.as_str());
        assert!(note.get("id").is_none());
        assert_eq!(note["params"]["ptp_event"], e.event_type.as_str());
        assert_eq!(note["params"]["data"]["values"][0]["value"], "LOCKED");
        let req: Json = serde_json::from_slice(&c.call(&e, Some(915243442))).unwrap();
        assert_eq!(req["id"], 915243442);
    }

    #[test]
    fn replies_are_matched_by_id() {
        let mut replies = br#"{"jsonrpc":"2.0","result":8,"id":1}{"jsonrpc":"2.0","error":{"code":-1,"message":"no"},"id":2} {"jsonrpc":"2.0","res"#.to_vec();
        assert!(matches!(
            take_reply(&mut replies, 2),
            Ok(Some(Outcome::Failed(_)))
        ));
        assert!(
            matches!(take_reply(&mut replies, 3), Ok(None)),
            "a partial value waits for more"
        );
        assert!(replies.starts_with(b" {"));
        let mut ok = br#"{"jsonrpc":"2.0","result":8,"id":915243442}"#.to_vec();
        assert!(matches!(
            take_reply(&mut ok, 915243442),
            Ok(Some(Outcome::Delivered))
        ));
        let mut garbage = b"}{".to_vec();
        assert!(take_reply(&mut garbage, 1).is_err());
    }
}
