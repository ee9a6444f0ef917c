//! One request to the broker's query endpoint.
//!
//! A fresh REQ socket per request: the zeromq crate's REQ does not reconnect
//! and would wait forever for a broker that died mid-request, so a request
//! owns its socket and its deadline, and leaves nothing behind.

use std::time::Duration;

use proto::query::{self, Reply, Request};
use zeromq::{ReqSocket, Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage};

use crate::Error;

/// Send `request` to `endpoint` and read the reply within `timeout`.
pub async fn request(endpoint: &str, request: &Request, timeout: Duration) -> Result<Reply, Error> {
    let unavailable = |reason: String| Error::Unavailable {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let exchange = async {
        let mut options = SocketOptions::default();
        options.connect_timeout(timeout);
        let mut socket = ReqSocket::with_options(options);
        socket
            .connect(endpoint)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        socket
            .send(ZmqMessage::from(query::encode_request(request)))
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let message = socket
            .recv()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let body = message.into_vec().pop().unwrap_or_default();
        let reply = query::decode_reply(&body).map_err(|e| Error::Protocol(e.to_string()))?;
        match reply.error {
            Some(e) => Err(Error::Refused(e)),
            None => Ok(reply),
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(unavailable(format!("no answer within {timeout:?}"))),
    }
}
