//! Where events go. The PUB socket ([`publish`], over our ZMTP fan-out
//! [`fanout`]) takes every event. Every other sink serves one subscription
//! ([`registry`], checked by [`spec`]) from its own queue
//! ([`crate::core::outbox`]) in its own task: [`webhook`] (knative's
//! dispatcher), [`jsonrpc`] (OpenSIPS event_stream), [`nats`]; [`retry`]
//! is the backoff they share. docs/SINKS.md is the user's view.

pub mod fanout;
pub mod jsonrpc;
pub mod nats;
pub mod publish;
pub mod registry;
pub mod retry;
pub mod spec;
pub mod webhook;

use std::time::Instant;

/// Logs a sink's failures at most once per second, with how many were not
/// logged in between.
#[derive(Debug)]
pub struct FailLog {
    id: String,
    last: Option<Instant>,
    suppressed: u64,
}

impl FailLog {
    /// A log for the subscription `id`.
    pub fn new(id: &str) -> FailLog {
        FailLog {
            id: id.to_owned(),
            last: None,
            suppressed: 0,
        }
    }

    /// Log `what` now, or count it for the next line.
    pub fn fail(&mut self, what: &dyn std::fmt::Display) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t).as_secs() < 1)
        {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(sink = %self.id, suppressed = self.suppressed, "delivery failed: {what}");
        self.last = Some(now);
        self.suppressed = 0;
    }

    /// Say how many were not logged, if any (when the sink stops).
    pub fn flush(&mut self) {
        if self.suppressed > 0 {
            tracing::warn!(sink = %self.id, "{} more delivery failures not logged", self.suppressed);
            self.suppressed = 0;
        }
    }
}
