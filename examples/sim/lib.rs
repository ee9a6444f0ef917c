//! A stand-in for the upstream O-RAN O-Cloud Notification **v2** REST API,
//! in the Red Hat `cloud-event-proxy` or the StarlingX flavour, that plays a
//! scenario of PTP events. Application developers run it instead of a PTP
//! cluster; the end-to-end tests run it as the foreign system the broker
//! talks to. It shares no code with the broker on purpose.
//!
//! ```no_run
//! # async fn demo() -> Result<(), upstream_sim::SimError> {
//! let mut config = upstream_sim::Config::new(upstream_sim::Flavor::RedHat);
//! config.listen = "127.0.0.1:0".parse().expect("literal address");
//! upstream_sim::run(config, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! Layout:
//! - `config`: validated settings and the error type.
//! - `resource`: the published resources and ResourceAddress parsing/matching.
//! - `scenario`: the simulated clock state and the scenario steps.
//! - `event`: the CloudEvent JSON shape of each flavour.
//! - `sim`: the shared state handle (clock, counters, publishing); its
//!   `subscriptions` part creates, lists and deletes subscriptions.
//! - `delivery`: one ordered delivery queue per callback endpoint.
//! - `api`: the v2 REST API; `control`: the `/sim` control API.
//! - `server`: binding, routing, autoplay, shutdown.
#![deny(missing_docs)]

mod api;
mod config;
mod control;
mod delivery;
mod event;
mod reply;
mod resource;
mod scenario;
mod server;
mod sim;

pub use config::{Config, Flavor, ScenarioName, SimError};
pub use delivery::{Outcome, REDHAT_MAX_FAILURES};
pub use event::{CloudEvent, EventData, EventValue};
pub use resource::Resource;
pub use server::{BoundSim, bind, run};
pub use sim::{Stats, SubscriptionInfo};
