//! Is the broker there? What a client reports about its link.

use std::time::Instant;

/// The client's view of the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Not connected yet (nothing registered, or still connecting).
    Connecting,
    /// Heartbeats arrive from the broker run `epoch`.
    Connected {
        /// The broker run.
        epoch: u64,
    },
    /// Heartbeats stopped: the broker is gone or unreachable. Treat the
    /// clock state as unknown (see docs/GUARANTEES.md), not as unchanged.
    Lost {
        /// When the client noticed.
        since: Instant,
    },
}

impl Status {
    /// Is the broker known to be there?
    pub fn is_connected(&self) -> bool {
        matches!(self, Status::Connected { .. })
    }
}

/// Counters a client keeps about its own deliveries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Events delivered live to callbacks and streams.
    pub delivered: u64,
    /// Holes in the broker's sequence numbers (lost events), each repaired
    /// from the query endpoint.
    pub gaps: u64,
    /// Broker restarts seen (a new epoch), each resynchronized.
    pub restarts: u64,
    /// Events delivered as [`proto::Delivery::Repaired`].
    pub repaired: u64,
    /// Times a callback fell so far behind that its queue overflowed.
    pub overflows: u64,
    /// Callback panics caught.
    pub panics: u64,
    /// Frames from the broker that could not be decoded.
    pub bad_frames: u64,
}
