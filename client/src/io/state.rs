//! Taking the broker's state in: the initial state of a new registration,
//! repairs after a loss or a restart (and what is unknown since), and
//! catching up a registration whose callback queue was full.

use std::sync::Arc;

use catalog::EventType;
use proto::query::Reply;
use proto::{Delivery, Event};

use super::{Internal, Io};
use crate::registry::{Offer, RegistrationId};
use crate::{Error, query};

impl Io {
    pub(super) fn on_initial(&mut self, id: RegistrationId, result: Result<Reply, Error>) {
        let Some(index) = self.pending.iter().position(|p| p.registration.id == id) else {
            return;
        };
        let reply = match result {
            Ok(reply) if Some(reply.epoch) == self.epoch => reply,
            Ok(_) => {
                // The broker restarted between the marker and the query: ask
                // again once the stream shows the new run.
                self.pending[index].requested = false;
                return;
            }
            Err(e) => {
                let p = self.pending.swap_remove(index);
                let _ = p.reply.send(Err(e));
                return;
            }
        };
        let mut p = self.pending.swap_remove(index);
        let event_type = p.registration.event_type.clone();
        // The broker follows an upstream that has not reported this type:
        // say so rather than say nothing (silence is not LOCKED).
        let unknown = reply.events.iter().all(|e| e.event_type != event_type)
            && reply.unknown.iter().any(|t| *t == event_type.as_str());
        for event in reply.events.into_iter().map(Arc::new) {
            if p.registration.offer(&event, Delivery::Initial) == Offer::Full {
                p.registration.lagged = true;
            }
            self.remember(event);
        }
        if unknown {
            let resource = event_type
                .oran()
                .map_or_else(|| format!("/{event_type}"), |o| o.resource().to_owned());
            let event = Arc::new(Event::unknown(
                event_type,
                &resource,
                reply.epoch,
                reply.seq,
            ));
            if p.registration.offer(&event, Delivery::Unknown) == Offer::Sent {
                self.shared.bump(|c| &c.unknown);
            }
        }
        for event in p.buffer.drain(..).filter(|e| e.meta.seq > reply.seq) {
            if !p.registration.lagged && p.registration.offer(&event, Delivery::Live) == Offer::Full
            {
                p.registration.lagged = true;
            }
        }
        let id = p.registration.id;
        // `register` returns once the callback has run for the initial state.
        let reply = p.reply;
        p.registration.after_queued(Box::new(move || {
            let _ = reply.send(Ok(id));
        }));
        self.active
            .entry(p.registration.event_type.clone())
            .or_default()
            .push(p.registration);
    }

    pub(super) fn on_repaired(&mut self, result: Result<Reply, Error>) {
        self.repair_in_flight = false;
        let reply = match result {
            Ok(reply) if Some(reply.epoch) == self.epoch => reply,
            Ok(_) => {
                self.repair_wanted = true;
                return;
            }
            Err(e) => {
                tracing::warn!("repair query failed, will retry: {e}");
                self.repair_wanted = true;
                return;
            }
        };
        // What the broker holds now, by type and resource: whatever a
        // registration had a state for and the broker no longer holds (a
        // new run that has not heard of it yet) is unknown, and is said so.
        let holds: std::collections::HashSet<(EventType, String)> = reply
            .events
            .iter()
            .map(|e| (e.event_type.clone(), e.resource_address().to_owned()))
            .collect();
        for event in reply.events.into_iter().map(Arc::new) {
            if let Some(list) = self.active.get_mut(&event.event_type) {
                for r in list.iter_mut().filter(|r| !r.lagged) {
                    match r.offer(&event, Delivery::Repaired) {
                        Offer::Sent => self.shared.bump(|c| &c.repaired),
                        Offer::Full => r.lagged = true,
                        Offer::Seen | Offer::Closed => {}
                    }
                }
            }
            self.remember(event);
        }
        let mut told = Vec::new();
        for (event_type, list) in self.active.iter_mut() {
            for r in list.iter_mut().filter(|r| !r.lagged) {
                let gone = r
                    .unknown_resources(|res| holds.contains(&(event_type.clone(), res.to_owned())));
                for resource in gone {
                    let event = Arc::new(Event::unknown(
                        event_type.clone(),
                        &resource,
                        reply.epoch,
                        reply.seq,
                    ));
                    match r.offer(&event, Delivery::Unknown) {
                        Offer::Sent => told.push(event),
                        Offer::Full => r.lagged = true,
                        Offer::Seen | Offer::Closed => {}
                    }
                }
            }
        }
        for event in told {
            self.shared.bump(|c| &c.unknown);
            self.remember(event);
        }
        if self.repair_wanted {
            self.request_repair();
        }
    }

    /// Give every lagging registration the cached state it has not seen.
    pub(super) fn catch_up_lagged(&mut self) {
        let cache = &self.cache;
        for (event_type, list) in self.active.iter_mut() {
            for r in list.iter_mut().filter(|r| r.lagged) {
                let mut missing: Vec<&Arc<Event>> = cache
                    .get(event_type)
                    .into_iter()
                    .flat_map(|rows| rows.values())
                    .filter(|e| r.is_new(e))
                    .collect();
                missing.sort_by_key(|e| e.meta.seq);
                r.lagged = false;
                for e in missing {
                    let delivery = match e.is_unknown() {
                        true => Delivery::Unknown,
                        false => Delivery::Repaired,
                    };
                    match r.offer(e, delivery) {
                        Offer::Sent => self.shared.bump(|c| &c.repaired),
                        Offer::Full => {
                            r.lagged = true;
                            break;
                        }
                        Offer::Seen | Offer::Closed => {}
                    }
                }
            }
        }
    }

    pub(super) fn request_initials(&mut self) {
        if !self.synced {
            return;
        }
        let mut requests = Vec::new();
        for p in self.pending.iter_mut().filter(|p| !p.requested) {
            p.requested = true;
            requests.push((p.registration.id, p.registration.event_type.to_string()));
        }
        for (id, event_type) in requests {
            self.spawn_state(vec![event_type], move |result| {
                Internal::Initial(id, result)
            });
        }
    }

    pub(super) fn request_repair(&mut self) {
        if self.active.is_empty() {
            return;
        }
        if self.repair_in_flight {
            self.repair_wanted = true;
            return;
        }
        self.repair_in_flight = true;
        self.repair_wanted = false;
        let types = self.active.keys().map(ToString::to_string).collect();
        self.spawn_state(types, Internal::Repaired);
    }

    /// Read the whole state of `types`, page by page (`query::state`).
    pub(super) fn spawn_state(
        &self,
        types: Vec<String>,
        wrap: impl FnOnce(Result<Reply, Error>) -> Internal + Send + 'static,
    ) {
        let endpoint = self.config.query.clone();
        let timeout = self.config.timeout;
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = query::state(&endpoint, types, String::new(), timeout).await;
            let _ = tx.send(wrap(result));
        });
    }
}
