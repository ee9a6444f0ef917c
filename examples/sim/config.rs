//! Validated simulator settings and the error type of the library.

use std::net::SocketAddr;
use std::time::Duration;

/// Which upstream implementation the simulator imitates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flavor {
    /// Red Hat `cloud-event-proxy` (OpenShift ptp-operator), prefix `/api/ocloudNotifications/v2`.
    RedHat,
    /// StarlingX `ptp-notification` sidecar, prefix `/ocloudNotifications/v2`.
    StarlingX,
}

impl Flavor {
    /// The URL path prefix of the v2 API for this flavour.
    pub fn prefix(self) -> &'static str {
        match self {
            Flavor::RedHat => "/api/ocloudNotifications/v2",
            Flavor::StarlingX => "/ocloudNotifications/v2",
        }
    }
}

/// The scenario played by `/sim/step` and by autoplay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScenarioName {
    /// LOCKED → HOLDOVER → FREERUN → LOCKED, looping.
    Default,
}

/// Everything the simulator needs to start; built by the binary from flags
/// or by tests directly.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to bind; port 0 picks a free port (see [`crate::BoundSim::local_addr`]).
    pub listen: SocketAddr,
    /// Which upstream to imitate.
    pub flavor: Flavor,
    /// Node name used in resource addresses.
    pub node: String,
    /// Network interface named in PTP value addresses (`<iface>/master`).
    pub interface: String,
    /// Autoplay period; `None` plays steps only through `POST /sim/step`.
    pub interval: Option<Duration>,
    /// Scenario to play.
    pub scenario: ScenarioName,
    /// Time limit of one delivery POST to a subscriber.
    pub delivery_timeout: Duration,
}

impl Config {
    /// Defaults matching the binary's flags: `127.0.0.1:9043`, Red Hat, `node1`, no autoplay.
    pub fn new(flavor: Flavor) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 9043)),
            flavor,
            node: "node1".to_string(),
            interface: "ens1f0".to_string(),
            interval: None,
            scenario: ScenarioName::Default,
            delivery_timeout: Duration::from_secs(2),
        }
    }
}

/// Why the simulator could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The node name cannot appear in a resource address.
    #[error("invalid node name {0:?}: must be non-empty and contain no '/'")]
    InvalidNode(String),
    /// The HTTP client used for deliveries could not be built.
    #[error("cannot build the delivery HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}
