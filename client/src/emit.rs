//! The emitter: one task that owns the PUSH socket.
//!
//! The zeromq crate's PUSH does not reconnect, and refuses to send with no
//! peer. So a failed send drops the socket, connects a new one, and tries
//! once more; only then does the caller get an error. `Ok` means the event
//! was handed to a live connection to the broker.

use std::time::Duration;

use proto::Frames;
use tokio::sync::{mpsc, oneshot};
use zeromq::{PushSocket, Socket, SocketOptions, SocketSend, ZmqMessage};

use crate::Error;

/// One event to send, and where to say how it went.
pub(crate) struct EmitJob {
    pub(crate) frames: Frames,
    pub(crate) reply: oneshot::Sender<Result<(), Error>>,
}

/// Send jobs in order until every sender is gone.
pub(crate) async fn run(mut jobs: mpsc::Receiver<EmitJob>, endpoint: String, timeout: Duration) {
    let mut socket: Option<PushSocket> = None;
    while let Some(job) = jobs.recv().await {
        let message = to_message(job.frames);
        let result = send(&mut socket, &message, &endpoint, timeout).await;
        // The caller may have given up waiting; nothing to do then.
        let _ = job.reply.send(result);
    }
}

fn to_message(frames: Frames) -> ZmqMessage {
    let mut message = ZmqMessage::from(frames.topic);
    message.push_back(frames.body.into());
    message
}

async fn send(
    socket: &mut Option<PushSocket>,
    message: &ZmqMessage,
    endpoint: &str,
    timeout: Duration,
) -> Result<(), Error> {
    let mut reason = String::new();
    for _attempt in 0..2 {
        if socket.is_none() {
            match connect(endpoint, timeout).await {
                Ok(s) => *socket = Some(s),
                Err(e) => {
                    reason = e;
                    continue;
                }
            }
        }
        let Some(s) = socket.as_mut() else { continue };
        match tokio::time::timeout(timeout, s.send(message.clone())).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => reason = e.to_string(),
            Err(_) => reason = format!("send did not complete within {timeout:?}"),
        }
        // The connection is dead (the broker restarted or went away): rebuild.
        *socket = None;
    }
    Err(Error::Unavailable {
        endpoint: endpoint.to_owned(),
        reason,
    })
}

async fn connect(endpoint: &str, timeout: Duration) -> Result<PushSocket, String> {
    let mut options = SocketOptions::default();
    options.connect_timeout(timeout);
    let mut socket = PushSocket::with_options(options);
    match tokio::time::timeout(timeout, socket.connect(endpoint)).await {
        Ok(Ok(())) => Ok(socket),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no connection within {timeout:?}")),
    }
}
