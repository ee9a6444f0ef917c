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

#[path = "subscriptions.rs"]
mod subscriptions;
use crate::scenario::{self, ClockState, Scenario, SetError};
pub use subscriptions::{SubscribeError, SubscriptionInfo};

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

/// Body of a CurrentState answer.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum CurrentState {
    /// The address names one resource: its event.
    One(CloudEvent),
    /// A StarlingX address covering several resources: events keyed by resource path.
    Many(std::collections::BTreeMap<String, CloudEvent>),
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

impl Sim {
    /// Build the handle; `bound` is the address actually listened on.
    pub fn new(
        config: Config,
        bound: std::net::SocketAddr,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Sim, SimError> {
        // Built together with the broker, reqwest has TLS and needs a provider.
        let _ = rustls::crypto::ring::default_provider().install_default();
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

    /// Count a finished delivery.
    pub fn count(&self, outcome: &Outcome) {
        let mut state = self.state();
        match outcome {
            Outcome::Accepted(_) => state.stats.delivered = state.stats.delivered.saturating_add(1),
            Outcome::Rejected(_) | Outcome::Unreachable(_) => {
                state.stats.failed = state.stats.failed.saturating_add(1)
            }
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

    /// The current-state answer for `address`; `None` is 404.
    pub fn current_state(&self, address: &str) -> Option<CurrentState> {
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
        let mut events: Vec<(Resource, CloudEvent)> = target
            .resources()
            .into_iter()
            .map(|r| (r, self.event(r, &state.clock)))
            .collect();
        if events.len() == 1 {
            return events.pop().map(|(_, event)| CurrentState::One(event));
        }
        let by_path = events.into_iter().map(|(r, e)| (r.path().to_string(), e));
        Some(CurrentState::Many(by_path.collect()))
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
