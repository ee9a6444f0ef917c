//! What can go wrong, said plainly.

/// A client operation that did not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The broker did not answer in time (not running, wrong endpoint, or
    /// restarting). Nothing was registered or emitted.
    #[error("broker unavailable at {endpoint}: {reason}")]
    Unavailable {
        /// The endpoint tried.
        endpoint: String,
        /// What happened.
        reason: String,
    },
    /// The broker answered with an error.
    #[error("broker refused: {0}")]
    Refused(String),
    /// The broker's answer could not be read.
    #[error("bad reply from broker: {0}")]
    Protocol(String),
    /// No registration with that id for that event type.
    #[error("no registration {0} for this event type")]
    NotRegistered(u64),
    /// The client's I/O thread is gone (it could not start, or panicked).
    #[error("client I/O thread is not running")]
    Closed,
}
