//! Is the broker there? What a client reports about its link.

use std::time::Instant;

/// The client's view of the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Not connected yet (nothing registered, or still connecting).
    Connecting,
    /// Heartbeats arrive from the broker run `epoch`: the first connection,
    /// or a reconnection to the same run (nothing was lost that the client
    /// did not repair).
    Connected {
        /// The broker run.
        epoch: u64,
    },
    /// Connected to a new run of the broker: it restarted (also when the
    /// outage was too short for [`Status::Lost`]). The client resynchronized
    /// from the new run's state, and every resource that run does not hold
    /// was delivered as [`proto::Delivery::Unknown`].
    Restarted {
        /// The run seen before.
        previous: u64,
        /// The run now.
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
        matches!(self, Status::Connected { .. } | Status::Restarted { .. })
    }

    /// The broker run connected to, if any.
    pub fn epoch(&self) -> Option<u64> {
        match *self {
            Status::Connected { epoch } | Status::Restarted { epoch, .. } => Some(epoch),
            _ => None,
        }
    }
}

impl std::fmt::Display for Status {
    /// One line for terminals and logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Status::Connecting => f.write_str("connecting"),
            Status::Connected { epoch } => write!(f, "connected (broker run {epoch})"),
            Status::Restarted { previous, epoch } => write!(
                f,
                "broker restarted (run {previous} replaced by {epoch}); state resynchronized"
            ),
            Status::Lost { since } => write!(
                f,
                "lost: no heartbeat for {:.1} s; treat the clock state as unknown",
                since.elapsed().as_secs_f64()
            ),
        }
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
    /// "State unknown" deliveries ([`proto::Delivery::Unknown`]).
    pub unknown: u64,
    /// Events delivered as [`proto::Delivery::Repaired`].
    pub repaired: u64,
    /// Times a callback fell so far behind that its queue overflowed. The
    /// registration then skips live events until it is caught up from the
    /// client's copy of the current state, delivered as
    /// [`proto::Delivery::Repaired`] (counted in `repaired`).
    pub overflows: u64,
    /// Live events a registration was not given because its queue had
    /// overflowed (each resource's latest state still reaches it, Repaired).
    pub skipped: u64,
    /// Callback panics caught.
    pub panics: u64,
    /// Frames from the broker that could not be decoded.
    pub bad_frames: u64,
}
