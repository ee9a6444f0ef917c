//! The query endpoint: a ROUTER that answers current-state, sync and stats
//! requests (protocol in `proto::query` and docs/PROTOCOL.md).
//!
//! ROUTER rather than REP: REP must answer each request before reading the
//! next, so one client that vanished mid-request would wedge it. ROUTER
//! keeps every client's envelope and answers each independently; a reply
//! that cannot be written in a second is dropped, not waited for.

use std::time::Duration;

use proto::query::{self, Reply, Request, Selector};
use tokio_util::sync::CancellationToken;
use zeromq::{RouterSocket, SocketRecv, SocketSend, ZmqMessage};

use crate::core::shared::Broker;
use crate::core::stats::{self, RejectLog};
use crate::sink::fanout::Watcher;
use crate::sink::registry::Subscriptions;

/// Longest sync token accepted.
const MAX_TOKEN: usize = 256;

/// How long a reply may wait for a slow client. Short: replies are
/// written one after another, and a client that gave up (its request timed
/// out, its socket is gone) must not hold up the next ones — after a
/// broker restart fifty clients asking at once was enough for a 1 s wait
/// per dead peer to starve the live ones into timeouts of their own.
const REPLY_TIMEOUT: Duration = Duration::from_millis(100);

/// Answer until `shutdown`.
pub async fn run(
    mut socket: RouterSocket,
    broker: Broker,
    subscriptions: Subscriptions,
    publisher: Watcher,
    shutdown: CancellationToken,
) {
    let mut log = RejectLog::new("query");
    loop {
        let received = tokio::select! {
            _ = shutdown.cancelled() => break,
            received = socket.recv() => received,
        };
        let Ok(message) = received else { continue };
        // [identity, (empty delimiter from REQ)?, request]
        let mut frames = message.into_vec();
        if frames.len() < 2 {
            stats::bump(&broker.stats().rejected_query);
            log.reject(&"request without a body frame");
            continue;
        }
        let body = frames.pop().unwrap_or_default();
        let reply = match query::decode_request(&body) {
            Ok(request) => answer(&broker, &subscriptions, &publisher, request),
            Err(e) => Reply {
                error: Some(format!("bad request: {e}")),
                ..Reply::default()
            },
        };
        if reply.error.is_some() {
            stats::bump(&broker.stats().rejected_query);
            log.reject(&reply.error.as_deref().unwrap_or_default());
        } else {
            stats::bump(&broker.stats().queries);
        }
        frames.push(query::encode_reply(&reply).into());
        let Ok(out) = ZmqMessage::try_from(frames) else {
            continue;
        };
        match tokio::time::timeout(REPLY_TIMEOUT, socket.send(out)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!("query reply not sent: {e}"),
            Err(_) => tracing::debug!("query reply dropped: client not reading"),
        }
    }
}

fn answer(
    broker: &Broker,
    subscriptions: &Subscriptions,
    publisher: &Watcher,
    request: Request,
) -> Reply {
    let current = |seq, events| Reply {
        epoch: broker.epoch(),
        seq,
        events,
        ..Reply::default()
    };
    let refuse = |error: String| Reply {
        error: Some(error),
        epoch: broker.epoch(),
        ..Reply::default()
    };
    match request {
        Request::State {
            types,
            prefix,
            after,
        } => match Selector::new(&types, &prefix) {
            Ok(selector) => {
                let page = broker.state_page(&selector, after);
                Reply {
                    unknown: page.unknown.iter().map(ToString::to_string).collect(),
                    more: page.more,
                    ..current(page.seq, page.events)
                }
            }
            Err(e) => refuse(e.to_string()),
        },
        Request::Sync { token } if token.len() > MAX_TOKEN => {
            refuse(format!("sync token over {MAX_TOKEN} bytes"))
        }
        Request::Sync { token } => match broker.publish_marker(token) {
            Ok(seq) => current(seq, Vec::new()),
            Err(e) => refuse(format!("{e}, retry")),
        },
        Request::Emit { event } => {
            let accepted = event.into_event().map_err(|e| e.to_string()).and_then(|e| {
                broker
                    .accept(e, proto::Origin::Synthetic)
                    .map_err(|e| e.to_string())
            });
            match accepted {
                Ok(seq) => {
                    stats::bump(&broker.stats().accepted_emit);
                    current(seq, Vec::new())
                }
                Err(reason) => {
                    stats::bump(&broker.stats().rejected_emit);
                    refuse(format!("event refused: {reason}"))
                }
            }
        }
        Request::Stats => {
            let mut counters = broker.stats().snapshot();
            let (entries, bytes) = broker.table_size();
            counters.insert("state_entries".to_owned(), entries as u64);
            counters.insert("state_bytes".to_owned(), bytes as u64);
            subscriptions.counters(&mut counters);
            Reply {
                counters,
                connections: publisher.connections(),
                ..current(broker.seq(), Vec::new())
            }
        }
        Request::Subscribe { subscription } => match subscriptions.subscribe(*subscription) {
            Ok(listed) => Reply {
                subscriptions: vec![listed],
                ..current(broker.seq(), Vec::new())
            },
            Err(e) => refuse(format!("subscription refused: {e}")),
        },
        Request::Unsubscribe { id } => match subscriptions.unsubscribe(&id) {
            Ok(listed) => Reply {
                subscriptions: vec![listed],
                ..current(broker.seq(), Vec::new())
            },
            Err(e) => refuse(e),
        },
        Request::Subscriptions => Reply {
            subscriptions: subscriptions.list(),
            ..current(broker.seq(), Vec::new())
        },
        _ => refuse("unsupported op".to_owned()),
    }
}
