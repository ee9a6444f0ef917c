//! Pushing events to subscribers. One worker task per EndpointUri drains a
//! FIFO queue, so deliveries to one endpoint are sequential and in order,
//! and a slow endpoint delays only itself.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::config::Flavor;
use crate::event::CloudEvent;
use crate::sim::Sim;

/// Red Hat drops an endpoint's subscriptions after this many failures in a row.
pub const REDHAT_MAX_FAILURES: u32 = 10;

/// StarlingX tries the initial notification this many times.
const STARLINGX_INITIAL_TRIES: u32 = 3;

/// Pause between StarlingX initial notification tries.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Why an event is being sent; the acceptance rules differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Current state sent while a subscription is being created.
    Initial,
    /// A state change sent to existing subscriptions.
    Change,
}

/// One event to POST to the worker's endpoint.
pub struct Job {
    /// The event, shared by every endpoint it goes to.
    pub event: Arc<CloudEvent>,
    /// Decides retries and what counts as accepted.
    pub purpose: Purpose,
    /// Told the outcome once the attempt is over.
    pub done: oneshot::Sender<Outcome>,
}

/// What became of one delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered with an accepted status.
    Accepted(u16),
    /// The endpoint answered with a status the flavour does not accept.
    Rejected(u16),
    /// No answer: connection refused, timeout, DNS…
    Unreachable(String),
    /// Not sent: the endpoint had no subscription left when its turn came.
    Skipped,
}

impl Outcome {
    /// Whether the flavour counts this as a successful delivery.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Accepted(_))
    }
}

/// Whether `status` is accepted: Red Hat wants exactly 204 for the initial
/// notification, otherwise any 2xx will do.
fn accepts(flavor: Flavor, purpose: Purpose, status: u16) -> bool {
    match (flavor, purpose) {
        (Flavor::RedHat, Purpose::Initial) => status == 204,
        _ => (200..300).contains(&status),
    }
}

/// Start the worker for `endpoint`; it ends when the sender is dropped or
/// the simulator shuts down.
pub fn spawn_worker(sim: Sim, endpoint: String) -> mpsc::UnboundedSender<Job> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(worker(sim, endpoint, rx));
    tx
}

async fn worker(sim: Sim, endpoint: String, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut shutdown = sim.shutdown_signal();
    let mut failures_in_a_row = 0u32;
    loop {
        let job = tokio::select! {
            job = jobs.recv() => match job {
                Some(job) => job,
                None => return,
            },
            _ = shutdown.changed() => return,
        };
        let outcome = if job.purpose == Purpose::Change && !sim.has_subscriptions(&endpoint) {
            Outcome::Skipped
        } else {
            attempt(&sim, &endpoint, &job).await
        };
        sim.count(&outcome);
        if job.purpose == Purpose::Change {
            match outcome {
                Outcome::Accepted(_) => failures_in_a_row = 0,
                Outcome::Skipped => {}
                Outcome::Rejected(_) | Outcome::Unreachable(_) => {
                    failures_in_a_row = failures_in_a_row.saturating_add(1)
                }
            }
            if sim.flavor() == Flavor::RedHat && failures_in_a_row >= REDHAT_MAX_FAILURES {
                let removed = sim.remove_endpoint(&endpoint);
                tracing::warn!(%endpoint, removed, "{REDHAT_MAX_FAILURES} failed deliveries in a row: subscriptions deleted");
                failures_in_a_row = 0;
            }
        }
        // The requester may have given up (client went away); nothing to do then.
        let _ = job.done.send(outcome);
    }
}

/// POST the job's event, retrying a StarlingX initial notification.
async fn attempt(sim: &Sim, endpoint: &str, job: &Job) -> Outcome {
    let flavor = sim.flavor();
    let tries = match (flavor, job.purpose) {
        (Flavor::StarlingX, Purpose::Initial) => STARLINGX_INITIAL_TRIES,
        _ => 1,
    };
    let mut outcome = Outcome::Skipped;
    for attempt in 1..=tries {
        outcome = post(sim.http(), endpoint, &job.event).await;
        outcome = match outcome {
            Outcome::Accepted(status) if !accepts(flavor, job.purpose, status) => {
                Outcome::Rejected(status)
            }
            other => other,
        };
        tracing::debug!(%endpoint, attempt, ?outcome, source = %job.event.source, "delivery");
        if outcome.is_accepted() {
            break;
        }
        if attempt < tries {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
    outcome
}

/// One POST with a JSON body; any 2xx is `Accepted` here, the caller
/// narrows it per flavour.
async fn post(http: &reqwest::Client, endpoint: &str, event: &CloudEvent) -> Outcome {
    match http.post(endpoint).json(event).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            if response.status().is_success() {
                Outcome::Accepted(status)
            } else {
                Outcome::Rejected(status)
            }
        }
        Err(error) => Outcome::Unreachable(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acceptance_rules() {
        assert!(accepts(Flavor::RedHat, Purpose::Initial, 204));
        assert!(!accepts(Flavor::RedHat, Purpose::Initial, 200));
        assert!(accepts(Flavor::RedHat, Purpose::Change, 200));
        assert!(accepts(Flavor::StarlingX, Purpose::Initial, 200));
        assert!(!accepts(Flavor::StarlingX, Purpose::Initial, 302));
        assert!(!accepts(Flavor::StarlingX, Purpose::Change, 500));
    }
}
