//! The subscription manager: keeps one subscription per wanted resource
//! alive on the upstream, seeds the state from CurrentState, and deletes the
//! subscriptions at shutdown.
//!
//! It is one loop that "reconciles" every `health_interval_ms`: health
//! check, list the upstream's subscriptions, adopt the ones with our
//! callback, create the missing ones. The same pass therefore handles the
//! first start, an upstream that was down, an upstream restarted with its
//! subscriptions forgotten, Red Hat's deletion after 10 failed deliveries,
//! and a broker restarted with the same callback (it adopts instead of
//! creating duplicates). After a failed pass it retries with capped
//! exponential backoff. Status changes are logged once, attempts only at
//! debug level.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::address::resource_path;
use super::kube::PortForward;
use super::resolve::Target;
use super::rest::{Rest, RestError, Subscribed, http_client};
use super::{ApiVersion, UpstreamConfig};
use crate::core::shared::Broker;
use crate::core::stats;
use catalog::EventType;

mod cleanup;

/// First retry delay after a failure.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
/// Longest retry delay: an upstream back after a restart is followed again
/// within this (plus one pass).
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Time allowed to delete our subscriptions at shutdown.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(2);

/// One resource we want to be subscribed to.
#[derive(Debug)]
struct Wanted {
    /// The O-RAN resource.
    resource: catalog::OranEvent,
    /// Full resource address, e.g. `/cluster/node/n1/sync/ptp-status/lock-state`.
    address: String,
    /// Our subscription's id once created or adopted.
    id: Option<String>,
    /// The upstream answered 404 to the subscribe: it does not offer this
    /// resource. Not asked again until the upstream comes back from down.
    unsupported: bool,
    /// Its CurrentState was read since it was subscribed or since the
    /// upstream came back (pushes may have been lost while it was away).
    seeded: bool,
}

/// Is the upstream being followed? Logged on change only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Starting,
    Up,
    Down,
}

/// Keeps the subscriptions of one broker on one upstream.
pub struct Manager {
    broker: Broker,
    http: reqwest::Client,
    url: String,
    api: ApiVersion,
    flavor: super::Flavor,
    node: String,
    /// Our EndpointUri, this run's secret included: never logged.
    callback: String,
    /// The EndpointUri without the secret (see [`Target::callback_base`]).
    callback_base: String,
    wanted: Vec<Wanted>,
    interval: Duration,
    /// Set once the API has been found (see [`Rest::detect`]).
    rest: Option<Rest>,
    /// The current pass reached the upstream and listed its subscriptions.
    reached: bool,
    /// Keeps the port-forward open while the manager runs.
    _forward: Option<PortForward>,
}

impl Manager {
    /// A manager for `target`, subscribing to the resources of `config`.
    pub fn new(
        config: &UpstreamConfig,
        target: Target,
        broker: Broker,
    ) -> Result<Manager, RestError> {
        let resources: Vec<catalog::OranEvent> = if config.resources.is_empty() {
            catalog::ALL.to_vec()
        } else {
            // Validated in `Config::validate`; an unknown name cannot get here.
            config
                .resources
                .iter()
                .filter_map(|r| catalog::lookup(r))
                .collect()
        };
        let api = config.api;
        let wanted = resources
            .into_iter()
            .map(|r| Wanted {
                resource: r,
                address: config.flavor.address(&target.node, resource_path(r, api)),
                id: None,
                unsupported: false,
                seeded: false,
            })
            .collect();
        Ok(Manager {
            broker,
            http: http_client()?,
            url: target.url,
            api,
            flavor: config.flavor,
            node: target.node,
            callback: target.callback,
            callback_base: target.callback_base,
            wanted,
            interval: Duration::from_millis(config.health_interval_ms),
            rest: None,
            reached: false,
            _forward: target.forward,
        })
    }

    /// The EndpointUri this manager registers.
    pub fn callback(&self) -> &str {
        &self.callback
    }

    /// The EndpointUri as it may be logged: the secret left out.
    fn shown_callback(&self) -> String {
        format!("{}/<secret>", self.callback_base)
    }

    /// Tell the broker which types the upstream should report: until it
    /// does, their state is unknown.
    fn expect_wanted(&self) {
        let mut types: Vec<EventType> = self
            .wanted
            .iter()
            .filter(|w| !w.unsupported)
            .map(|w| w.resource.into())
            .collect();
        types.dedup();
        self.broker.expect_upstream(types);
    }

    /// Follow the upstream until `shutdown`, then delete our subscriptions.
    pub async fn run(mut self, shutdown: CancellationToken) {
        tracing::info!(url = %self.url, callback = %self.shown_callback(), resources = self.wanted.len(), "following upstream");
        self.expect_wanted();
        self.show(false);
        let mut status = Status::Starting;
        let mut backoff = BACKOFF_MIN;
        loop {
            self.reached = false;
            let pass = tokio::select! {
                _ = shutdown.cancelled() => break,
                pass = self.reconcile() => pass,
            };
            let wait = match pass {
                Ok(()) => {
                    if status != Status::Up {
                        tracing::info!(
                            url = self.rest.as_ref().map(Rest::base).unwrap_or(&self.url),
                            subscribed = self.subscribed(),
                            "upstream followed"
                        );
                    }
                    status = Status::Up;
                    backoff = BACKOFF_MIN;
                    self.interval
                }
                Err(e) => {
                    stats::bump(&self.broker.stats().upstream_errors);
                    if !self.reached {
                        // Unreachable: nothing it holds is known to work,
                        // and pushes may be lost until it is back, when
                        // every resource is read again.
                        for w in &mut self.wanted {
                            w.seeded = false;
                        }
                        self.show(false);
                    }
                    if status != Status::Down {
                        tracing::warn!("upstream not followed, retrying with backoff: {e}");
                        // Anything may have changed by the time it is back.
                        for w in &mut self.wanted {
                            w.unsupported = false;
                        }
                        self.expect_wanted();
                    } else {
                        tracing::debug!("upstream still not followed: {e}");
                    }
                    status = Status::Down;
                    let wait = backoff;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    wait
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.unsubscribe_all().await;
    }

    /// One pass: find the API, check health, make our subscriptions match
    /// what we want.
    async fn reconcile(&mut self) -> Result<(), RestError> {
        let rest = match &self.rest {
            Some(rest) => {
                rest.health().await?;
                rest.clone()
            }
            None => {
                let rest = Rest::detect(self.http.clone(), &self.url, self.api).await?;
                tracing::info!(base = rest.base(), api = ?rest.api(), "upstream API found");
                // Auto-detection may have found v1, whose paths differ.
                for w in &mut self.wanted {
                    w.address = self
                        .flavor
                        .address(&self.node, resource_path(w.resource, rest.api()));
                }
                self.rest = Some(rest.clone());
                rest
            }
        };
        let mut listed = rest.list().await?;
        let mut lost = 0;
        // A refusal of one resource (say a 400 because the initial
        // notification failed) must not keep the others unsubscribed; an
        // unreachable upstream ends the pass at once.
        let mut refused = None;
        for i in 0..self.wanted.len() {
            if self.wanted[i].unsupported {
                continue;
            }
            if let Some(found) = self.find(&listed, i) {
                self.adopt(&rest, i, found.id).await;
                continue;
            }
            if self.wanted[i].id.take().is_some() {
                lost += 1;
            }
            let address = self.wanted[i].address.clone();
            let answer = match rest.subscribe(&address, &self.callback).await {
                Ok(answer) => answer,
                Err(e @ RestError::Status { .. }) => {
                    refused = Some(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            match answer {
                Subscribed::Created(sub) => {
                    tracing::debug!(resource = %address, id = %sub.id, "subscribed");
                    self.adopt(&rest, i, sub.id).await;
                }
                Subscribed::Conflict => {
                    // Ours from an earlier run (or a race with the list):
                    // adopt it rather than fail or duplicate.
                    listed = rest.list().await?;
                    let found = self.find(&listed, i).ok_or_else(|| RestError::Body {
                        what: format!("POST /subscriptions {address}"),
                        reason: "409 but no subscription with our EndpointUri covers it".to_owned(),
                    })?;
                    tracing::info!(resource = %address, id = %found.id, "adopted existing subscription (409)");
                    self.adopt(&rest, i, found.id).await;
                }
                Subscribed::UnknownResource => {
                    tracing::warn!(resource = %address, "upstream does not offer this resource (404); not subscribed");
                    self.wanted[i].unsupported = true;
                    self.broker.not_offered(&self.wanted[i].resource.into());
                }
            }
        }
        self.delete_duplicates(&rest, &listed).await;
        if lost > 0 {
            tracing::warn!(
                lost,
                "upstream had forgotten our subscriptions (restarted, or deleted them); re-subscribed"
            );
            self.broker
                .stats()
                .upstream_resubscribes
                .fetch_add(lost, std::sync::atomic::Ordering::Relaxed);
        }
        self.reached = true;
        self.show(true);
        refused.map_or(Ok(()), Err)
    }

    /// Record `id` for resource `i`; a new id, or one not seeded since the
    /// upstream came back, means state to read.
    async fn adopt(&mut self, rest: &Rest, i: usize, id: String) {
        if self.wanted[i].id.as_deref() == Some(id.as_str()) && self.wanted[i].seeded {
            return;
        }
        self.wanted[i].id = Some(id);
        let address = self.wanted[i].address.clone();
        self.wanted[i].seeded = self.seed(rest, &address).await;
    }

    /// What the upstream is to us now, for `stats`, `/metrics` and `/readyz`.
    /// `reached`: this pass reached it; else nothing is held.
    fn show(&self, reached: bool) {
        let offered = || self.wanted.iter().filter(|w| !w.unsupported);
        let wanted = offered().count() as u64;
        let subscribed = match reached {
            true => offered().filter(|w| w.id.is_some()).count() as u64,
            false => 0,
        };
        let seeded = match reached {
            true => offered().filter(|w| w.id.is_some() && w.seeded).count() as u64,
            false => 0,
        };
        let url = self
            .rest
            .as_ref()
            .map_or(self.url.as_str(), Rest::base)
            .to_owned();
        self.broker.health().update_upstream(|u| {
            u.followed = true;
            u.url = url;
            u.connected = reached;
            u.wanted = wanted;
            u.subscribed = subscribed;
            u.seeded = seeded;
            if reached {
                u.last_contact = Some(std::time::Instant::now());
            }
        });
        self.broker
            .stats()
            .upstream_subscribed
            .store(subscribed, std::sync::atomic::Ordering::Relaxed);
    }

    /// Take the resource's current state into the broker: every answer is
    /// news unless the broker holds the same, or a push arrived after we
    /// asked. Returns whether it was read and taken.
    async fn seed(&self, rest: &Rest, address: &str) -> bool {
        let asked_at = std::time::Instant::now();
        let events = match rest.current_state(address).await {
            Ok(events) => events,
            Err(e) => {
                // Not fatal: the next push brings the state anyway.
                stats::bump(&self.broker.stats().upstream_errors);
                tracing::debug!("cannot seed {address}: {e}");
                return false;
            }
        };
        match self.broker.seed(events, asked_at) {
            Ok(count) => {
                self.broker
                    .stats()
                    .accepted_upstream_pull
                    .fetch_add(count as u64, std::sync::atomic::Ordering::Relaxed);
                true
            }
            Err(e) => {
                stats::bump(&self.broker.stats().upstream_errors);
                tracing::warn!("CurrentState of {address} refused: {e}");
                false
            }
        }
    }

    fn subscribed(&self) -> usize {
        self.wanted.iter().filter(|w| w.id.is_some()).count()
    }
}
