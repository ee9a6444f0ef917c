//! The emitter: one task that sends events to the broker's query endpoint
//! and waits for the sequence number the broker gives them.
//!
//! Why not PUSH: the zeromq crate's PUSH hands a message to a background
//! writer and has no linger or flush, so a process that emits and exits can
//! lose its last event, and a PUSH whose broker restarted fails without
//! reconnecting. A confirmed request answers the only question that matters
//! — does the broker have it? — with the seq, or with the reason it does not.
//! The socket is kept between emits and rebuilt after any failure, so a
//! restarted broker is found again on the next emit. (Fire-and-forget PUSH to
//! the PULL endpoint stays available to any ZeroMQ client: docs/PROTOCOL.md.)

use std::time::Duration;

use proto::frame::WireEvent;
use proto::query::{self, Request};
use tokio::sync::{mpsc, oneshot};
use zeromq::{ReqSocket, SocketRecv, SocketSend, ZmqMessage};

use crate::Error;
use crate::query::connect_req as connect;

/// One event to send, and where to say how it went.
pub(crate) struct EmitJob {
    pub(crate) event: WireEvent,
    pub(crate) reply: oneshot::Sender<Result<u64, Error>>,
}

/// Send jobs in order until every sender is gone.
pub(crate) async fn run(mut jobs: mpsc::Receiver<EmitJob>, endpoint: String, timeout: Duration) {
    let mut socket: Option<ReqSocket> = None;
    while let Some(job) = jobs.recv().await {
        let request = query::encode_request(&Request::Emit {
            event: Box::new(job.event),
        });
        let result = send(&mut socket, request, &endpoint, timeout).await;
        // The caller may have given up waiting; nothing to do then.
        let _ = job.reply.send(result);
    }
}

async fn send(
    socket: &mut Option<ReqSocket>,
    request: Vec<u8>,
    endpoint: &str,
    timeout: Duration,
) -> Result<u64, Error> {
    let unavailable = |reason: String| Error::Unavailable {
        endpoint: endpoint.to_owned(),
        reason,
    };
    // Up to two tries, but only while the request has certainly not been
    // sent: retrying after that could emit the event twice.
    let mut last = String::new();
    for _attempt in 0..2 {
        let s = match socket {
            Some(s) => s,
            None => match connect(endpoint, timeout).await {
                Ok(s) => socket.insert(s),
                Err(e) => {
                    last = e;
                    continue;
                }
            },
        };
        if let Err(e) = s.send(ZmqMessage::from(request.clone())).await {
            last = e.to_string();
            *socket = None;
            continue;
        }
        let answer = tokio::time::timeout(timeout, s.recv()).await;
        let message = match answer {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => {
                *socket = None;
                return Err(unavailable(format!(
                    "{e}; the broker may or may not have the event"
                )));
            }
            Err(_) => {
                *socket = None;
                return Err(unavailable(format!(
                    "no answer within {timeout:?}; the broker may or may not have the event"
                )));
            }
        };
        let body = message.into_vec().pop().unwrap_or_default();
        let reply = query::decode_reply(&body).map_err(|e| Error::Protocol(e.to_string()))?;
        return match reply.error {
            Some(e) => Err(Error::Refused(e)),
            None => Ok(reply.seq),
        };
    }
    Err(unavailable(last))
}
