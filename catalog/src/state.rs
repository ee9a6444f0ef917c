//! Sync state values, parsed in any case, written in O-RAN all caps.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

macro_rules! states {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// A synchronization state value as carried in `enumeration` values.
        ///
        /// Parsing ignores case and treats `_` like `-` (older producers sent
        /// `Locked`, `acquiring_sync`…); [`Display`](fmt::Display) always
        /// writes the O-RAN all-caps spelling (O-RAN.WG6 v03.00).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum SyncState {
            $($(#[$doc])* $variant,)*
        }

        impl SyncState {
            /// Every state, in alphabetical order.
            pub const ALL: &'static [SyncState] = &[$(SyncState::$variant,)*];

            /// The O-RAN spelling.
            pub const fn as_str(self) -> &'static str {
                match self { $(SyncState::$variant => $text,)* }
            }
        }
    };
}

states! {
    /// Acquiring synchronization.
    AcquiringSync = "ACQUIRING-SYNC",
    /// GNSS antenna disconnected.
    AntennaDisconnected = "ANTENNA-DISCONNECTED",
    /// GNSS antenna short circuit.
    AntennaShortCircuit = "ANTENNA-SHORT-CIRCUIT",
    /// Receiver booting.
    Booting = "BOOTING",
    /// GNSS multipath failure.
    FailureMultipath = "FAILURE-MULTIPATH",
    /// GNSS has no fix.
    FailureNofix = "FAILURE-NOFIX",
    /// GNSS signal-to-noise too low.
    FailureLowSnr = "FAILURE-LOW-SNR",
    /// PLL failure.
    FailurePll = "FAILURE-PLL",
    /// Free running: not synchronized to any reference.
    Freerun = "FREERUN",
    /// Holdover: reference lost, still within (or drifting out of) spec.
    Holdover = "HOLDOVER",
    /// Locked to the reference.
    Locked = "LOCKED",
    /// Synchronized (GNSS).
    Synchronized = "SYNCHRONIZED",
    /// The source itself does not know (StarlingX reports SyncE lock state
    /// `UNKNOWN` while it starts).
    Unknown = "UNKNOWN",
    /// Unlocked.
    Unlocked = "UNLOCKED",
}

/// A string that is not a known sync state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sync state {0:?} (expected one of LOCKED, HOLDOVER, FREERUN, …)")]
pub struct ParseStateError(pub String);

impl FromStr for SyncState {
    type Err = ParseStateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        SyncState::ALL
            .iter()
            .copied()
            .find(|state| {
                let canon = state.as_str().as_bytes();
                canon.len() == wanted.len()
                    && canon.iter().zip(wanted.bytes()).all(|(&c, w)| {
                        let w = if w == b'_' { b'-' } else { w };
                        c == w.to_ascii_uppercase()
                    })
            })
            .ok_or_else(|| ParseStateError(s.to_owned()))
    }
}

impl fmt::Display for SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SyncState {
    /// How far from synchronized: 0 for LOCKED and SYNCHRONIZED, 1 for
    /// HOLDOVER, 2 for FREERUN and every other state. An unknown or failing
    /// state never ranks better than FREERUN: silence is not LOCKED.
    pub const fn badness(self) -> u8 {
        match self {
            SyncState::Locked | SyncState::Synchronized => 0,
            SyncState::Holdover => 1,
            _ => 2,
        }
    }

    /// The worse of two states (FREERUN > HOLDOVER > LOCKED), as the O-RAN
    /// sync-state is the worst of the PTP lock state and the OS clock state.
    /// On a tie the first argument is returned.
    pub fn worst(self, other: SyncState) -> SyncState {
        match other.badness().cmp(&self.badness()) {
            Ordering::Greater => other,
            _ => self,
        }
    }

    /// The worst of many states, or `None` for none.
    pub fn worst_of(states: impl IntoIterator<Item = SyncState>) -> Option<SyncState> {
        states.into_iter().reduce(SyncState::worst)
    }
}

impl serde::Serialize for SyncState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for SyncState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_in_any_case() {
        assert_eq!(SyncState::ALL.len(), 14);
        for &s in SyncState::ALL {
            let text = s.as_str();
            assert_eq!(text, text.to_uppercase());
            assert_eq!(text.parse::<SyncState>().unwrap(), s);
            assert_eq!(text.to_lowercase().parse::<SyncState>().unwrap(), s);
            assert_eq!(text.replace('-', "_").parse::<SyncState>().unwrap(), s);
            assert_eq!(s.to_string(), text);
        }
        assert_eq!(
            "Holdover".parse::<SyncState>().unwrap(),
            SyncState::Holdover
        );
        assert_eq!(" locked ".parse::<SyncState>().unwrap(), SyncState::Locked);
    }

    #[test]
    fn unknown_states_are_errors() {
        for s in ["", "LOCK", "LOCKEDX", "free run", "ACQUIRING SYNC"] {
            assert!(s.parse::<SyncState>().is_err(), "{s:?}");
        }
    }

    #[test]
    fn worst_of_orders_freerun_over_holdover_over_locked() {
        use SyncState::*;
        assert_eq!(Locked.worst(Holdover), Holdover);
        assert_eq!(Holdover.worst(Locked), Holdover);
        assert_eq!(Holdover.worst(Freerun), Freerun);
        assert_eq!(Freerun.worst(Locked), Freerun);
        assert_eq!(Locked.worst(Locked), Locked);
        assert_eq!(Locked.worst(FailureNofix), FailureNofix);
        assert_eq!(
            SyncState::worst_of([Locked, Holdover, Locked]),
            Some(Holdover)
        );
        assert_eq!(SyncState::worst_of([]), None);
    }
}
