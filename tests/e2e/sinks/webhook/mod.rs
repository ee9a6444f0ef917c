//! The webhook sink: CloudEvents over HTTP with knative's dispatcher
//! semantics (docs/SINKS.md, "Webhook sink"; REFERENCE.md §9).
//!
//! - `delivery`: structured and binary mode, order and every attribute,
//!   filters, the current state first for a new subscription;
//! - `retries`: which statuses are retried, Retry-After, backoff and its
//!   cap, no answer and timeouts, dead letters.

mod delivery;
mod retries;
