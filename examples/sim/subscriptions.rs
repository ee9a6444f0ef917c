//! Subscription bookkeeping of [`Sim`]: create (with the initial
//! notification), list, get, delete, and the Red Hat publisher list.

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::{Sim, Subscription};
use crate::config::Flavor;
use crate::delivery::{Job, Outcome, Purpose};
use crate::resource::{Resource, parse_address, redhat_address};
use std::sync::Arc;

/// The v2 subscription resource, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionInfo {
    /// The address subscribed to, as given.
    #[serde(rename = "ResourceAddress")]
    pub resource_address: String,
    /// The callback URL.
    #[serde(rename = "EndpointUri")]
    pub endpoint_uri: String,
    /// Server-assigned UUID.
    #[serde(rename = "SubscriptionId")]
    pub subscription_id: String,
    /// URL of this subscription resource.
    #[serde(rename = "UriLocation")]
    pub uri_location: String,
}

/// Why a subscription was not created.
#[derive(Debug, PartialEq, Eq)]
pub enum SubscribeError {
    /// No such resource (404).
    UnknownResource,
    /// Same subscription already exists (409).
    Duplicate,
    /// The initial notification was not accepted (400).
    InitialNotification(Outcome),
}

/// Removes a not-yet-active subscription when dropped (see `Sim::subscribe`).
struct PendingGuard<'a> {
    sim: &'a Sim,
    id: &'a str,
    armed: bool,
}

impl PendingGuard<'_> {
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut state = self.sim.state();
        state.subscriptions.retain(|s| s.active || s.id != self.id);
    }
}

impl Sim {
    fn info(&self, s: &Subscription) -> SubscriptionInfo {
        SubscriptionInfo {
            resource_address: s.address.clone(),
            endpoint_uri: s.endpoint.clone(),
            subscription_id: s.id.clone(),
            uri_location: format!("{}/subscriptions/{}", self.shared.base_url, s.id),
        }
    }

    /// Create a subscription: check it, send the initial notification(s),
    /// and keep it only if the endpoint accepted them.
    pub async fn subscribe(
        &self,
        address: &str,
        endpoint: &str,
    ) -> Result<SubscriptionInfo, SubscribeError> {
        let flavor = self.flavor();
        let target =
            parse_address(flavor, self.node(), address).ok_or(SubscribeError::UnknownResource)?;
        let id = uuid::Uuid::new_v4().to_string();
        let mut pending = Vec::new();
        {
            let mut state = self.state();
            let duplicate = state.subscriptions.iter().any(|s| {
                s.endpoint == endpoint
                    && match flavor {
                        Flavor::RedHat => s.address == address,
                        Flavor::StarlingX => s.target.overlaps(&target),
                    }
            });
            if duplicate {
                return Err(SubscribeError::Duplicate);
            }
            for resource in target.resources() {
                let event = Arc::new(self.event(resource, &state.clock));
                let (done, outcome) = oneshot::channel();
                let purpose = Purpose::Initial;
                self.enqueue(
                    &mut state,
                    endpoint,
                    Job {
                        event,
                        purpose,
                        done,
                    },
                );
                pending.push(outcome);
            }
            state.subscriptions.push(Subscription {
                id: id.clone(),
                address: address.to_string(),
                endpoint: endpoint.to_string(),
                target,
                active: false,
            });
        }
        // If the client hangs up, this future is dropped mid-way; the guard
        // then removes the pending entry so it cannot cause 409s forever.
        let mut guard = PendingGuard {
            sim: self,
            id: &id,
            armed: true,
        };
        let mut failure = None;
        for outcome in pending {
            let outcome = outcome.await.unwrap_or(Outcome::Skipped);
            if !outcome.is_accepted() && failure.is_none() {
                failure = Some(outcome);
            }
        }
        // From here on no `.await`: the code below activates or removes it.
        guard.disarm();
        let mut state = self.state();
        let index = state.subscriptions.iter().position(|s| s.id == id);
        match (failure, index) {
            (None, Some(index)) => {
                state.subscriptions[index].active = true;
                Ok(self.info(&state.subscriptions[index]))
            }
            (failure, index) => {
                if let Some(index) = index {
                    state.subscriptions.remove(index);
                }
                Err(SubscribeError::InitialNotification(
                    failure.unwrap_or(Outcome::Skipped),
                ))
            }
        }
    }

    /// Red Hat `GET /publishers`: one entry per resource this node publishes.
    pub fn publishers(&self) -> Vec<SubscriptionInfo> {
        let ids = self.shared.publisher_ids.iter();
        Resource::ALL
            .iter()
            .zip(ids)
            .map(|(resource, id)| SubscriptionInfo {
                resource_address: redhat_address(self.node(), *resource),
                endpoint_uri: format!("{}/dummy", self.shared.base_url),
                subscription_id: id.clone(),
                uri_location: format!("{}/publishers/{id}", self.shared.base_url),
            })
            .collect()
    }

    /// Active subscriptions in creation order.
    pub fn list(&self) -> Vec<SubscriptionInfo> {
        let state = self.state();
        let active = state.subscriptions.iter().filter(|s| s.active);
        active.map(|s| self.info(s)).collect()
    }

    /// One active subscription.
    pub fn get(&self, id: &str) -> Option<SubscriptionInfo> {
        let state = self.state();
        let found = state.subscriptions.iter().find(|s| s.active && s.id == id);
        found.map(|s| self.info(s))
    }

    /// Delete one subscription; false if there was none.
    pub fn delete(&self, id: &str) -> bool {
        let mut state = self.state();
        let before = state.subscriptions.len();
        state.subscriptions.retain(|s| !(s.active && s.id == id));
        state.subscriptions.len() != before
    }

    /// Delete every active subscription.
    pub fn delete_all(&self) {
        self.state().subscriptions.retain(|s| !s.active);
    }

    /// Delete every active subscription of `endpoint`; returns how many.
    pub fn remove_endpoint(&self, endpoint: &str) -> usize {
        let mut state = self.state();
        let before = state.subscriptions.len();
        state
            .subscriptions
            .retain(|s| !(s.active && s.endpoint == endpoint));
        before - state.subscriptions.len()
    }

    /// Whether `endpoint` still has an active subscription.
    pub fn has_subscriptions(&self, endpoint: &str) -> bool {
        let state = self.state();
        state
            .subscriptions
            .iter()
            .any(|s| s.active && s.endpoint == endpoint)
    }
}
