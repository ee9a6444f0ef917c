//! How the sinks' outboxes are fed: attached with the current state of
//! what they match, then offered every accepted event (in `accept_where`).

use std::sync::Arc;

use proto::Event;

use super::Broker;
use crate::core::outbox::Outbox;
use crate::core::table::Key;

impl Broker {
    /// Start feeding `outbox`: first the current state of what it matches,
    /// in seq order, then every accepted event it matches. An outbox of the
    /// same id is replaced (and closed).
    pub fn attach(&self, outbox: Arc<Outbox>) {
        self.attach_with(outbox, true);
    }

    /// [`Broker::attach`], but with `offer_state` false the current state
    /// is returned (in seq order) instead of queued: the caller delivers it
    /// itself (the O-RAN initial notification), and the outbox gets every
    /// event accepted after it.
    pub fn attach_with(&self, outbox: Arc<Outbox>, offer_state: bool) -> Vec<Event> {
        let mut state = self.lock();
        let current = state.table.matching(|t, r| outbox.matches(t, r));
        let returned = if offer_state {
            for event in current {
                let key = (
                    event.event_type.clone(),
                    event.resource_address().to_owned(),
                );
                outbox.offer(&key, &Arc::new(event));
            }
            Vec::new()
        } else {
            current
        };
        if let Some(old) = state.outboxes.iter().position(|o| o.id() == outbox.id()) {
            state.outboxes.swap_remove(old).close();
        }
        state.outboxes.push(outbox);
        returned
    }

    /// Stop feeding the outbox of this id, and close it.
    pub fn detach(&self, id: &str) {
        let mut state = self.lock();
        if let Some(at) = state.outboxes.iter().position(|o| o.id() == id) {
            state.outboxes.swap_remove(at).close();
        }
    }

    /// Visit every row of the state table, in seq order, under the
    /// core's lock: `visit` must be quick (the metrics read numbers).
    pub fn each_row(&self, visit: impl FnMut(&crate::core::table::Entry)) {
        self.lock().table.each(visit);
    }

    /// The latest event for a (type, resource address).
    pub fn latest(&self, key: &Key) -> Option<Event> {
        self.lock()
            .table
            .get(&key.0, &key.1)
            .and_then(crate::core::table::Entry::event)
    }
}
