//! The ptp-broker daemon as a library: the `ptp-broker` binary and the tests
//! both call [`Server::bind`] then [`Server::run`] (or [`run`]).
//!
//! Layout: [`config`] reads and validates the configuration; [`shared`]
//! holds the state every source writes to (validation, stamping, latest
//! state, the PUB queue); [`table`] is the state table (bounded in entries
//! and bytes, paged by sequence number); [`policy`] decides what synthetic emits may do;
//! [`fanout`] is our ZMTP PUB socket; [`pull`] is the ZeroMQ PULL source;
//! [`publish`] the PUB sink with heartbeats; [`query`] the current-state
//! endpoint; [`stats`] the counters; [`http`] is the HTTP source the
//! upstream POSTs events to (secret callback, allow-list, its own accept
//! loop with timeouts and a connection cap); [`server`] binds everything
//! and runs it until shutdown; [`upstream`] follows a real PTP source
//! (subscription manager, REST calls, Kubernetes discovery and port-forward).
#![deny(missing_docs)]

pub mod config;
pub mod fanout;
pub mod http;
pub mod policy;
pub mod publish;
pub mod pull;
pub mod query;
pub mod server;
pub mod shared;
pub mod stats;
pub mod table;
pub mod upstream;

pub use config::Config;
pub use server::{Ready, Server, StartError, run};
pub use shared::Broker;

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
