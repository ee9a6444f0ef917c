//! Reading a push: the body within its size limit, its media type, and its
//! events into the broker.

use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use proto::Origin;
use proto::cloudevent;
use warp::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;

use super::{Receiver, Refusal, STRUCTURED, no_content};
use crate::core::shared::AcceptError;

impl Receiver {
    /// The whole body, refused with 413 as soon as it passes `max_body`
    /// (before reading anything when Content-Length says so, while reading
    /// for a chunked body).
    pub(super) async fn read_body<S, B>(
        &self,
        headers: &HeaderMap,
        mut body: S,
    ) -> Result<Bytes, Refusal>
    where
        S: Stream<Item = Result<B, warp::Error>> + Unpin,
        B: Buf,
    {
        let too_large = || {
            Refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body larger than {} bytes", self.options.max_body),
            )
        };
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.options.max_body as u64) {
            return Err(too_large());
        }
        let mut buffer = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let mut chunk = chunk.map_err(|e| {
                Refusal(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the body: {e}"),
                )
            })?;
            if buffer.len() + chunk.remaining() > self.options.max_body {
                return Err(too_large());
            }
            while chunk.has_remaining() {
                let part = chunk.chunk();
                let n = part.len();
                buffer.extend_from_slice(part);
                chunk.advance(n);
            }
        }
        Ok(buffer.freeze())
    }

    /// Parse and store the events of one POST.
    pub(super) fn receive(&self, headers: &HeaderMap, body: &Bytes) -> Result<Response, Refusal> {
        let bad = |e: &dyn std::fmt::Display| Refusal(StatusCode::BAD_REQUEST, e.to_string());
        let events = if headers.contains_key("ce-specversion") {
            // Binary mode: attributes in ce-* headers, the body is `data`.
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            vec![cloudevent::parse_binary(header, body).map_err(|e| bad(&e))?]
        } else if body.is_empty() {
            // The v1 API checks a new endpoint with an empty POST.
            return Ok(no_content());
        } else {
            check_media_type(headers)?;
            cloudevent::parse_structured(body).map_err(|e| bad(&e))?
        };
        // The upstream speaks O-RAN only; application types come over ZeroMQ.
        if let Some(other) = events.iter().find(|e| e.event_type.oran().is_none()) {
            return Err(bad(&format_args!(
                "unknown event type {:?}: this receiver takes the O-RAN event.sync.* types; emit application events over ZeroMQ",
                other.event_type.as_str()
            )));
        }
        let count = events.len() as u64;
        match self.broker.accept_all(events, Origin::Upstream) {
            Ok(_) => {
                self.broker.health().pushed();
                self.broker
                    .stats()
                    .accepted_http
                    .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
                Ok(no_content())
            }
            Err(e @ AcceptError::StateFull(_)) => {
                Err(Refusal(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
            }
            Err(e) => Err(bad(&e)),
        }
    }
}

/// Structured mode needs a JSON media type; a missing Content-Type is taken
/// as JSON (the body must still parse), anything else is 415.
fn check_media_type(headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let media = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if STRUCTURED.contains(&media.as_str()) {
        return Ok(());
    }
    Err(Refusal(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        format!(
            "unsupported media type {:?}; send {} or binary mode (ce-* headers)",
            String::from_utf8_lossy(value.as_bytes()),
            STRUCTURED.join(", ")
        ),
    ))
}
