//! The ptp-broker daemon as a library: the `ptp-broker` binary and the tests
//! both call [`Server::bind`] then [`Server::run`] (or [`run`]).
//!
//! Layout: [`config`] reads and validates the configuration; [`shared`]
//! holds the state every source writes to (stamping, latest state, the PUB
//! queue); [`fanout`] is our ZMTP PUB socket; [`pull`] is the ZeroMQ PULL source; [`publish`] the PUB sink with
//! heartbeats; [`query`] the current-state endpoint; [`stats`] the counters;
//! [`server`] binds everything and runs it until shutdown; [`upstream`]
//! follows a real PTP source (Kubernetes discovery and port-forward).
#![deny(missing_docs)]

pub mod config;
pub mod fanout;
pub mod publish;
pub mod pull;
pub mod query;
pub mod server;
pub mod shared;
pub mod stats;
pub mod upstream;

pub use config::Config;
pub use server::{Ready, Server, StartError, run};
pub use shared::Broker;
