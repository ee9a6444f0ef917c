//! `GET /ui/events`: the live page's server-sent events.
//!
//! A stream is one more subscription of the core: an [`Outbox`] that takes
//! every event, attached with the current state first, so the page gets
//! the same guarantee as every sink (seq order; when it falls behind, the
//! newest state of each resource still arrives) from the same mechanism.
//! Messages: `reset` (clear the table; sent first), `status` (the broker
//! and its upstream, at once and every second), `event` (one event, the
//! `watch --json` shape).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::StatusCode;
use hyper::body::Frame;
use tokio::sync::mpsc;

use super::{Answer, MAX_STREAMS, Monitor, TEXT, answer, views};
use crate::core::filter::Filter;
use crate::core::outbox::Outbox;

/// Events one page may have queued before the oldest give way.
const QUEUE: usize = 1024;
/// How often the status is sent.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// One server-sent event.
fn message(name: &str, data: &serde_json::Value) -> Bytes {
    // serde_json writes no raw newline, so the data is one `data:` line.
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// Holds a stream's place in [`MAX_STREAMS`].
struct Place(Arc<Monitor>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(super) fn stream(monitor: &Arc<Monitor>) -> Answer {
    let taken = monitor.streams.fetch_add(1, Ordering::AcqRel);
    let place = Place(Arc::clone(monitor));
    if taken >= MAX_STREAMS {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            format!("{MAX_STREAMS} live pages are open already\n"),
        );
    }
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Sink subscription ids are [A-Za-z0-9_-]: this one cannot collide.
    let id = format!("monitor:ui/{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let filter = Filter::parse(&[], &[]).unwrap_or_else(|_| unreachable!("no patterns"));
    let outbox = Outbox::new(id, filter, QUEUE);
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(feed(place, outbox, tx));
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        let bytes = rx.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(bytes)), rx))
    });
    let mut response = hyper::Response::new(StreamBody::new(frames).boxed());
    let headers = response.headers_mut();
    for (name, value) in [
        (hyper::header::CONTENT_TYPE, "text/event-stream"),
        (hyper::header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, hyper::header::HeaderValue::from_static(value));
    }
    response
}

/// Write the stream until the page goes or the broker stops. A page that
/// reads slowly holds the writes back, and its outbox keeps the newest
/// state of each resource meanwhile, as for every sink.
async fn feed(place: Place, outbox: Arc<Outbox>, tx: mpsc::Sender<Bytes>) {
    let monitor = &place.0;
    let broker = &monitor.broker;
    // EventSource reconnects after 2 s when the broker restarts; `reset`
    // makes the page drop what it showed of the run before.
    let hello = format!(
        "retry: 2000\n\n{}",
        String::from_utf8_lossy(&message("reset", &serde_json::json!({})))
    );
    let first = [
        Bytes::from(hello),
        message("status", &views::status(monitor)),
    ];
    for bytes in first {
        if tx.send(bytes).await.is_err() {
            return;
        }
    }
    broker.attach(Arc::clone(&outbox));
    let mut ticker = tokio::time::interval(STATUS_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        let next = tokio::select! {
            _ = monitor.shutdown.cancelled() => break,
            _ = tx.closed() => break,
            _ = ticker.tick() => message("status", &views::status(monitor)),
            event = outbox.next(broker) => match event {
                Some(event) => message("event", &proto::cloudevent::to_json(&event, true)),
                None => break,
            },
        };
        let sent = tokio::select! {
            _ = monitor.shutdown.cancelled() => break,
            sent = tx.send(next) => sent,
        };
        if sent.is_err() {
            break;
        }
    }
    broker.detach(outbox.id());
}
