//! The registry's side of the O-RAN v2 API and of `drop_after`: webhook
//! tasks that gave up, and API subscriptions that are added, started and
//! removed by the API itself.

use std::sync::Arc;

use proto::subscription::{Declared, Spec};
use tokio::sync::mpsc;

use super::{Entry, MAX_SUBSCRIPTIONS, Subscriptions};
use crate::core::outbox::Outbox;
use crate::sink::spec::Subscription;

impl Subscriptions {
    /// A webhook that gave up: a run-time subscription is removed (and so
    /// saved); an API one is handed to the API, which drops the consumer.
    pub(super) fn gave_up(&self, id: &str) {
        let declared = self.entries().get(id).map(|e| e.sub.declared);
        match declared {
            Some(Declared::Runtime) => {
                if let Err(e) = self.unsubscribe(id) {
                    tracing::warn!(id, "cannot remove the subscription that gave up: {e}");
                }
            }
            Some(Declared::Api) => {
                let api = self
                    .inner
                    .api_gave_up
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                match api {
                    Some(api) => {
                        let _ = api.send(id.to_owned());
                    }
                    None => {
                        self.remove(id);
                    }
                }
            }
            // Config subscriptions stay (edit the file); gone ones are gone.
            Some(Declared::Config) | None => {}
        }
    }

    /// Send the ids of API subscriptions whose consumer gave up to `to`.
    pub fn on_api_gave_up(&self, to: mpsc::UnboundedSender<String>) {
        *self
            .inner
            .api_gave_up
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(to);
    }

    /// Add an API subscription (its id set, checked here) without starting
    /// it: its outbox takes every event from now on, and the current state
    /// of what it matches is returned for the caller to deliver first.
    /// [`Subscriptions::start_one`] then starts it, [`Subscriptions::remove`]
    /// takes it back.
    pub fn add_api(&self, spec: Spec, offer_state: bool) -> Result<Vec<proto::Event>, String> {
        let mut entries = self.entries();
        if entries.len() >= MAX_SUBSCRIPTIONS {
            return Err(format!("already {MAX_SUBSCRIPTIONS} subscriptions"));
        }
        let id = spec.id.clone().unwrap_or_default();
        if entries.contains_key(&id) {
            return Err(format!("subscription {id} exists"));
        }
        let sub = Subscription::parse(spec, Declared::Api, &self.inner.node)?;
        let outbox = Outbox::new(id.clone(), sub.filter.clone(), sub.queue);
        let current = self
            .inner
            .broker
            .attach_with(Arc::clone(&outbox), offer_state);
        entries.insert(
            id,
            Entry {
                sub,
                outbox,
                cancel: None,
            },
        );
        Ok(current)
    }

    /// Start the task of a subscription added with [`Subscriptions::add_api`].
    pub fn start_one(&self, id: &str) {
        let parent = self.running().clone();
        let mut entries = self.entries();
        if let (Some(entry), Some(parent)) = (entries.get_mut(id), parent)
            && entry.cancel.is_none()
        {
            let cancel = self.spawn_attached(&entry.sub, &entry.outbox, &parent);
            entry.cancel = Some(cancel);
        }
    }

    /// Stop and forget a subscription, whatever declared it (the API's
    /// own removal; nothing is saved here). Returns whether it existed.
    pub fn remove(&self, id: &str) -> bool {
        let Some(entry) = self.entries().remove(id) else {
            return false;
        };
        self.inner.broker.detach(id);
        if let Some(cancel) = &entry.cancel {
            cancel.cancel();
        }
        true
    }

    /// The counters of one subscription: delivered, failed.
    pub fn delivered_failed(&self, id: &str) -> Option<(u64, u64)> {
        use std::sync::atomic::Ordering::Relaxed;
        self.entries().get(id).map(|e| {
            (
                e.outbox.counters.delivered.load(Relaxed),
                e.outbox.counters.failed.load(Relaxed),
            )
        })
    }
}
