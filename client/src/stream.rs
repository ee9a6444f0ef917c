//! The async face: a registration as a `Stream` of events.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use proto::Event;
use tokio::sync::mpsc;

use crate::RegistrationId;

/// Events of one type, as a `futures::Stream`. The first items are the
/// current state ([`proto::Delivery::Initial`]); dropping the stream ends
/// the registration.
pub struct EventStream {
    pub(crate) id: RegistrationId,
    pub(crate) rx: mpsc::Receiver<Arc<Event>>,
}

impl EventStream {
    /// The registration behind this stream.
    pub fn id(&self) -> RegistrationId {
        self.id
    }

    /// The next event; `None` once the client is shut down.
    pub async fn next_event(&mut self) -> Option<Event> {
        self.rx.recv().await.map(Arc::unwrap_or_clone)
    }
}

impl futures::Stream for EventStream {
    type Item = Event;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.rx.poll_recv(cx).map(|e| e.map(Arc::unwrap_or_clone))
    }
}
