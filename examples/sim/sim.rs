//! The simulator's shared state: clock, subscriptions, delivery queues and
//! counters, behind one cheap `Clone` handle.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::{Config, Flavor, SimError};
use crate::delivery::{self, Job, Outcome, Purpose};
use crate::event::{self, CloudEvent};
use crate::resource::{Resource, Target, parse_address};
use crate::scenario::{self, ClockState, Scenario, SetError};

/// Handle to the simulator; clones share everything.
#[derive(Clone)]
pub struct Sim {
    shared: Arc<Shared>,
}

struct Shared {
    /// Flavour, node and the rest of the start-up settings.
    config: Config,
    /// `http://<bound addr><prefix>`, the base of every UriLocation.
    base_url: String,
    /// Steps played by `play_step`.
    scenario: Scenario,
    /// One client (connection pool) for all deliveries.
    http: reqwest::Client,
    /// Flips to `true` at shutdown so delivery workers stop.
    shutdown: watch::Receiver<bool>,
    /// Stable ids of the publisher entries, one per resource in `Resource::ALL` order.
    publisher_ids: Vec<String>,
    /// A std mutex: every critical section is short bookkeeping and never
    /// held across `.await`; holding it while enqueueing also fixes one
    /// global order of events across endpoints.
    state: Mutex<State>,
}

struct State {
    clock: ClockState,
    next_step: usize,
    /// In creation order, which is the order GET /subscriptions lists them.
    subscriptions: Vec<Subscription>,
    /// Queue of each endpoint's delivery worker.
    endpoints: HashMap<String, mpsc::UnboundedSender<Job>>,
    stats: Stats,
}

struct Subscription {
    id: String,
    address: String,
    endpoint: String,
    target: Target,
    /// False while the initial notification is in flight: it already
    /// counts for 409 but gets no events and is not listed.
    active: bool,
}

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

/// Delivery counters, shown by `GET /sim/stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Deliveries the endpoint accepted.
    pub delivered: u64,
    /// Deliveries refused or unanswered.
    pub failed: u64,
    /// Active subscriptions now.
    pub subscriptions: u64,
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
    /// Build the handle; `bound` is the address actually listened on.
    pub fn new(
        config: Config,
        bound: std::net::SocketAddr,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Sim, SimError> {
        let http = reqwest::Client::builder()
            .timeout(config.delivery_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Sim {
            shared: Arc::new(Shared {
                base_url: format!("http://{bound}{}", config.flavor.prefix()),
                scenario: Scenario::new(config.scenario),
                config,
                http,
                shutdown,
                publisher_ids: Resource::ALL
                    .iter()
                    .map(|_| uuid::Uuid::new_v4().to_string())
                    .collect(),
                state: Mutex::new(State {
                    clock: ClockState::locked(),
                    next_step: 0,
                    subscriptions: Vec::new(),
                    endpoints: HashMap::new(),
                    stats: Stats::default(),
                }),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the API down with it.
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The flavour being imitated.
    pub fn flavor(&self) -> Flavor {
        self.shared.config.flavor
    }

    /// The configured node name.
    pub fn node(&self) -> &str {
        &self.shared.config.node
    }

    /// `http://<addr><prefix>`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.shared.http
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shared.shutdown.clone()
    }

    fn info(&self, s: &Subscription) -> SubscriptionInfo {
        SubscriptionInfo {
            resource_address: s.address.clone(),
            endpoint_uri: s.endpoint.clone(),
            subscription_id: s.id.clone(),
            uri_location: format!("{}/subscriptions/{}", self.shared.base_url, s.id),
        }
    }

    fn event(&self, resource: Resource, clock: &ClockState) -> CloudEvent {
        let c = &self.shared.config;
        event::build(
            c.flavor,
            &c.node,
            &c.interface,
            resource,
            clock,
            chrono::Utc::now(),
        )
    }

    /// Queue `event` for `endpoint`, starting its worker if needed.
    fn enqueue(&self, state: &mut State, endpoint: &str, job: Job) {
        let queue = state
            .endpoints
            .entry(endpoint.to_string())
            .or_insert_with(|| delivery::spawn_worker(self.clone(), endpoint.to_string()));
        if let Err(mpsc::error::SendError(job)) = queue.send(job) {
            // The worker stopped (shutdown); the job's requester learns it was not sent.
            let _ = job.done.send(Outcome::Skipped);
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
                resource_address: crate::resource::redhat_address(self.node(), *resource),
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

    /// Count a finished delivery.
    pub fn count(&self, outcome: &Outcome) {
        let mut state = self.state();
        match outcome {
            Outcome::Accepted(_) => state.stats.delivered += 1,
            Outcome::Rejected(_) | Outcome::Unreachable(_) => state.stats.failed += 1,
            Outcome::Skipped => {}
        }
    }

    /// Counters plus the number of active subscriptions.
    pub fn stats(&self) -> Stats {
        let state = self.state();
        let subscriptions = state.subscriptions.iter().filter(|s| s.active).count();
        Stats {
            subscriptions: u64::try_from(subscriptions).unwrap_or(u64::MAX),
            ..state.stats
        }
    }

    /// The current-state answer for `address`: one event, or for a
    /// StarlingX address covering several resources an object keyed by
    /// resource path. `None` is 404.
    pub fn current_state(&self, address: &str) -> Option<serde_json::Value> {
        let target = parse_address(self.flavor(), self.node(), address)?;
        let state = self.state();
        if self.flavor() == Flavor::RedHat
            && !state
                .subscriptions
                .iter()
                .any(|s| s.active && s.address == address)
        {
            return None;
        }
        let events: Vec<(Resource, CloudEvent)> = target
            .resources()
            .into_iter()
            .map(|r| (r, self.event(r, &state.clock)))
            .collect();
        match events.as_slice() {
            [(_, one)] => serde_json::to_value(one).ok(),
            many => {
                let map = many.iter().filter_map(|(r, e)| {
                    Some((r.path().to_string(), serde_json::to_value(e).ok()?))
                });
                Some(serde_json::Value::Object(map.collect()))
            }
        }
    }

    /// Play the next scenario step; returns its events once every delivery
    /// attempt has finished.
    pub async fn play_step(&self) -> Vec<CloudEvent> {
        let (events, pending) = {
            let mut state = self.state();
            let index = state.next_step;
            state.next_step = index.wrapping_add(1);
            let changed = self.shared.scenario.apply(index, &mut state.clock);
            self.publish(&mut state, changed)
        };
        for outcome in pending {
            let _ = outcome.await;
        }
        events
    }

    /// Set one resource by hand and push its event (see [`scenario::set`]).
    pub async fn set_state(
        &self,
        resource: Resource,
        value: &str,
        offset: Option<i64>,
    ) -> Result<Vec<CloudEvent>, SetError> {
        let (events, pending) = {
            let mut state = self.state();
            scenario::set(&mut state.clock, resource, value, offset)?;
            self.publish(&mut state, vec![resource])
        };
        for outcome in pending {
            let _ = outcome.await;
        }
        Ok(events)
    }

    /// Build one event per resource and queue it for every matching
    /// subscription, in order.
    fn publish(
        &self,
        state: &mut State,
        resources: Vec<Resource>,
    ) -> (Vec<CloudEvent>, Vec<oneshot::Receiver<Outcome>>) {
        let mut events = Vec::new();
        let mut pending = Vec::new();
        for resource in resources {
            let event = Arc::new(self.event(resource, &state.clock));
            let endpoints: Vec<String> = state
                .subscriptions
                .iter()
                .filter(|s| s.active && s.target.covers(resource))
                .map(|s| s.endpoint.clone())
                .collect();
            for endpoint in endpoints {
                let (done, outcome) = oneshot::channel();
                let job = Job {
                    event: event.clone(),
                    purpose: Purpose::Change,
                    done,
                };
                self.enqueue(state, &endpoint, job);
                pending.push(outcome);
            }
            events.push(CloudEvent::clone(&event));
        }
        (events, pending)
    }
}
