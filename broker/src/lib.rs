//! The ptp-broker daemon as a library: the `ptp-broker` binary and the tests
//! both call [`Server::bind`] then [`Server::run`] (or [`run`]).
//!
//! Layout: the data flows sources → core → sinks, one folder each.
//! [`config`] reads and validates the configuration. [`source`]: our ZMTP
//! PULL socket (`pull`), the HTTP receiver the upstream POSTs events to
//! (`http`: secret callback, allow-list, its own accept loop with timeouts
//! and a connection cap), the query socket (`query`: confirmed emits, and
//! state, stats and subscription requests) and the upstream follower
//! (`upstream`: subscription manager, REST calls, Kubernetes discovery and
//! port-forward). [`core`]: validation and stamping (`shared`), the state
//! table (`table`, bounded in entries and bytes, paged by sequence number),
//! the counters (`stats`), what synthetic emits may do (`policy`), and each
//! subscription's `filter` and bounded queue (`outbox`).
//! [`sink`]: the PUB socket (`publish` over our ZMTP fan-out `fanout`), and
//! one task per subscription (`registry`, checked by `spec`): `webhook`,
//! `jsonrpc`, `nats`, with the backoff they share (`retry`).
//! [`api`] is the O-RAN v2 REST API for local consumers: a front for
//! webhook subscriptions in the registry and for the state table.
//! [`monitor`] serves what operators read: metrics, health, readiness,
//! the subscribers and the live page; it only reads.
//! [`server`] binds everything and runs it until shutdown; `net` is the
//! accept loop our PULL and PUB sockets share. A sink never
//! calls into a source; sources hand events only to the core, and the
//! query socket reaches the sinks only to add and remove subscriptions.
#![deny(missing_docs)]

pub mod api;
pub mod config;
pub mod core;
pub mod monitor;
pub(crate) mod net;
pub mod server;
pub mod sink;
pub mod source;

pub use crate::core::shared::Broker;
pub use config::Config;
pub use server::{Ready, Server, StartError, run};

/// Install the TLS provider (ring) reqwest needs before a client is built;
/// idempotent. Every reqwest client of the broker is built after this.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An error and its causes on one line: top-level messages such as
/// reqwest's "error sending request" or an io error hide the reason.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
