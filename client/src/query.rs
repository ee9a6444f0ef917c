//! Requests to the broker's query endpoint.
//!
//! A fresh REQ socket per request (or per paged state query): the zeromq
//! crate's REQ does not reconnect and would wait forever for a broker that
//! died mid-request, so a request owns its socket and its deadline, and
//! leaves nothing behind.

use std::collections::HashMap;
use std::time::Duration;

use catalog::EventType;
use proto::query::{self, Reply, Request};
use zeromq::{ReqSocket, Socket, SocketOptions, SocketRecv, SocketSend, ZmqMessage};

use crate::Error;

/// Most pages one state query reads. A table at its largest fits in far
/// fewer; only a table changing faster than it is read could need more,
/// and then the query fails rather than chase it forever.
const MAX_PAGES: usize = 4096;

/// Send `request` to `endpoint` and read the reply within `timeout`.
pub async fn request(endpoint: &str, request: &Request, timeout: Duration) -> Result<Reply, Error> {
    let mut socket = connect(endpoint, timeout).await?;
    exchange(&mut socket, endpoint, request, timeout).await
}

/// The broker's whole state of the selected types (all when both are
/// empty), read page by page on one socket, each page within `timeout`.
///
/// Pages after a seq cursor together hold the table exactly as of the last
/// page's `seq` (docs/PROTOCOL.md): an entry updated between pages shows up
/// again on a later page, and the highest seq per (type, resource) wins.
/// The reply has every event by seq, and `seq` and `unknown` of the last
/// page. If the broker restarted in between, the reading starts over.
pub async fn state(
    endpoint: &str,
    types: Vec<String>,
    prefix: String,
    timeout: Duration,
) -> Result<Reply, Error> {
    let mut socket = connect(endpoint, timeout).await?;
    let mut latest: HashMap<(EventType, String), proto::Event> = HashMap::new();
    let mut epoch = None;
    let mut after = 0;
    for _ in 0..MAX_PAGES {
        let request = Request::State {
            types: types.clone(),
            prefix: prefix.clone(),
            after,
        };
        let page = exchange(&mut socket, endpoint, &request, timeout).await?;
        if epoch.is_some_and(|e| e != page.epoch) {
            // A new broker run: what was read belongs to the old one.
            latest.clear();
            after = 0;
            epoch = Some(page.epoch);
            continue;
        }
        epoch = Some(page.epoch);
        let more = page.more;
        if let Some(last) = page.events.last() {
            after = last.meta.seq;
        } else if more {
            return Err(Error::Protocol(
                "a state page with no events said more follow".to_owned(),
            ));
        }
        for event in page.events {
            let key = (
                event.event_type.clone(),
                event.resource_address().to_owned(),
            );
            match latest.get(&key) {
                Some(held) if held.meta.seq >= event.meta.seq => {}
                _ => {
                    latest.insert(key, event);
                }
            }
        }
        if !more {
            let mut events: Vec<_> = latest.into_values().collect();
            events.sort_by_key(|e| e.meta.seq);
            return Ok(Reply {
                events,
                more: false,
                ..page
            });
        }
    }
    Err(Error::Unavailable {
        endpoint: endpoint.to_owned(),
        reason: format!("state still changing after {MAX_PAGES} pages"),
    })
}

async fn connect(endpoint: &str, timeout: Duration) -> Result<ReqSocket, Error> {
    connect_req(endpoint, timeout)
        .await
        .map_err(|reason| unavailable(endpoint, reason))
}

/// A REQ socket connected to `endpoint` within `timeout` (also the emit
/// path's), or why not.
pub(crate) async fn connect_req(endpoint: &str, timeout: Duration) -> Result<ReqSocket, String> {
    let mut options = SocketOptions::default();
    options.connect_timeout(timeout);
    let mut socket = ReqSocket::with_options(options);
    match tokio::time::timeout(timeout, socket.connect(endpoint)).await {
        Ok(Ok(())) => Ok(socket),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no connection within {timeout:?}")),
    }
}

async fn exchange(
    socket: &mut ReqSocket,
    endpoint: &str,
    request: &Request,
    timeout: Duration,
) -> Result<Reply, Error> {
    let exchange = async {
        socket
            .send(ZmqMessage::from(query::encode_request(request)))
            .await
            .map_err(|e| unavailable(endpoint, e.to_string()))?;
        let message = socket
            .recv()
            .await
            .map_err(|e| unavailable(endpoint, e.to_string()))?;
        let body = message.into_vec().pop().unwrap_or_default();
        let reply = query::decode_reply(&body).map_err(|e| Error::Protocol(e.to_string()))?;
        match reply.error {
            Some(e) => Err(Error::Refused(e)),
            None => Ok(reply),
        }
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(result) => result,
        Err(_) => Err(unavailable(
            endpoint,
            format!("no answer within {timeout:?}"),
        )),
    }
}

fn unavailable(endpoint: &str, reason: String) -> Error {
    Error::Unavailable {
        endpoint: endpoint.to_owned(),
        reason,
    }
}
