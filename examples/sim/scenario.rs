//! The simulated clock and the scenario that drives it. Pure: callers turn
//! the returned list of changed resources into events.

use crate::config::ScenarioName;
use crate::resource::Resource;

/// Every state value the upstream implementations are known to send (REFERENCE §4).
pub const KNOWN_STATES: [&str; 13] = [
    "ACQUIRING-SYNC",
    "ANTENNA-DISCONNECTED",
    "ANTENNA-SHORT-CIRCUIT",
    "BOOTING",
    "FAILURE-MULTIPATH",
    "FAILURE-NOFIX",
    "FAILURE-LOW-SNR",
    "FAILURE-PLL",
    "FREERUN",
    "HOLDOVER",
    "LOCKED",
    "SYNCHRONIZED",
    "UNLOCKED",
];

/// Current value of every published resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClockState {
    /// PTP port lock state (`<iface>/master`).
    pub ptp_state: String,
    /// PTP offset from master, ns.
    pub ptp_offset: i64,
    /// Clock class.
    pub clock_class: u8,
    /// OS clock state (`CLOCK_REALTIME`).
    pub os_state: String,
    /// OS clock offset, ns.
    pub os_offset: i64,
    /// Overall sync state.
    pub sync_state: String,
    /// GNSS state.
    pub gnss_state: String,
    /// GNSS offset, ns.
    pub gnss_offset: i64,
    /// GNSS fix type (0 no fix … 3 3D fix … 5 time only).
    pub gps_fix: u8,
    /// SyncE lock state.
    pub synce_state: String,
    /// SyncE quality level.
    pub synce_ql: u8,
    /// SyncE extended quality level.
    pub synce_ext_ql: u8,
}

impl ClockState {
    /// A node that has been locked for a while.
    pub fn locked() -> ClockState {
        ClockState {
            ptp_state: "LOCKED".into(),
            ptp_offset: -3,
            clock_class: 6,
            os_state: "LOCKED".into(),
            os_offset: 5,
            sync_state: "LOCKED".into(),
            gnss_state: "LOCKED".into(),
            gnss_offset: 1,
            gps_fix: 3,
            synce_state: "LOCKED".into(),
            synce_ql: 2,
            synce_ext_ql: 32,
        }
    }
}

/// How bad a state is for the overall sync state: LOCKED < HOLDOVER < anything else.
fn badness(state: &str) -> u8 {
    match state {
        "LOCKED" => 0,
        "HOLDOVER" => 1,
        _ => 2,
    }
}

/// The worse of two states (FREERUN > HOLDOVER > LOCKED).
pub fn worst<'a>(a: &'a str, b: &'a str) -> &'a str {
    if badness(b) > badness(a) { b } else { a }
}

/// One scenario step: the PTP and OS clock values it sets; clock class is
/// set too and sync-state is derived.
#[derive(Clone, Debug)]
pub struct Step {
    ptp_state: &'static str,
    ptp_offset: i64,
    clock_class: u8,
    os_state: &'static str,
    os_offset: i64,
}

/// A looping list of steps.
#[derive(Clone, Debug)]
pub struct Scenario {
    steps: Vec<Step>,
}

impl Scenario {
    /// The named scenario; it starts from [`ClockState::locked`].
    pub fn new(name: ScenarioName) -> Scenario {
        let step = |ptp_state, ptp_offset, clock_class, os_state, os_offset| Step {
            ptp_state,
            ptp_offset,
            clock_class,
            os_state,
            os_offset,
        };
        match name {
            ScenarioName::Default => Scenario {
                steps: vec![
                    step("HOLDOVER", 215, 7, "HOLDOVER", 231),
                    step("FREERUN", 99874, 248, "FREERUN", 100102),
                    step("LOCKED", -3, 6, "LOCKED", 5),
                ],
            },
        }
    }

    /// Apply step `index` (modulo the length) to `state`; returns the
    /// resources whose values changed, in the order lock-state, clock-class,
    /// os-clock, sync-state.
    pub fn apply(&self, index: usize, state: &mut ClockState) -> Vec<Resource> {
        let Some(step) = self.steps.get(index % self.steps.len().max(1)) else {
            return Vec::new();
        };
        let before = state.clone();
        state.ptp_state = step.ptp_state.to_string();
        state.ptp_offset = step.ptp_offset;
        state.clock_class = step.clock_class;
        state.os_state = step.os_state.to_string();
        state.os_offset = step.os_offset;
        state.sync_state = worst(step.ptp_state, step.os_state).to_string();
        let mut changed = Vec::new();
        if (&before.ptp_state, before.ptp_offset) != (&state.ptp_state, state.ptp_offset) {
            changed.push(Resource::PtpLockState);
        }
        if before.clock_class != state.clock_class {
            changed.push(Resource::PtpClockClass);
        }
        if (&before.os_state, before.os_offset) != (&state.os_state, state.os_offset) {
            changed.push(Resource::OsClockSyncState);
        }
        if before.sync_state != state.sync_state {
            changed.push(Resource::SyncState);
        }
        changed
    }
}

/// Why a `/sim/state` request was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// The value is not a known state name.
    #[error("unknown state {0:?}; expected one of {KNOWN_STATES:?}")]
    UnknownState(String),
    /// The value should have been a number in range.
    #[error("value {0:?} is not a number from 0 to 255")]
    NotANumber(String),
}

/// Set one resource's value (and offset where it has one) by hand.
/// Other resources, including the derived sync-state, are left alone.
pub fn set(
    state: &mut ClockState,
    resource: Resource,
    value: &str,
    offset: Option<i64>,
) -> Result<(), SetError> {
    let known = || {
        KNOWN_STATES
            .contains(&value)
            .then(|| value.to_string())
            .ok_or_else(|| SetError::UnknownState(value.to_string()))
    };
    let number = || {
        value
            .parse::<u8>()
            .map_err(|_| SetError::NotANumber(value.to_string()))
    };
    match resource {
        Resource::PtpLockState => {
            state.ptp_state = known()?;
            state.ptp_offset = offset.unwrap_or(state.ptp_offset);
        }
        Resource::OsClockSyncState => {
            state.os_state = known()?;
            state.os_offset = offset.unwrap_or(state.os_offset);
        }
        Resource::GnssSyncStatus => {
            state.gnss_state = known()?;
            state.gnss_offset = offset.unwrap_or(state.gnss_offset);
        }
        Resource::SyncState => state.sync_state = known()?,
        Resource::SynceLockState => state.synce_state = known()?,
        Resource::PtpClockClass => state.clock_class = number()?,
        Resource::SynceClockQuality => state.synce_ql = number()?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scenario_cycles_and_reports_changes_in_order() {
        let scenario = Scenario::new(ScenarioName::Default);
        let mut state = ClockState::locked();
        let all = vec![
            Resource::PtpLockState,
            Resource::PtpClockClass,
            Resource::OsClockSyncState,
            Resource::SyncState,
        ];
        let mut seen = Vec::new();
        for index in 0..6 {
            assert_eq!(scenario.apply(index, &mut state), all);
            seen.push((
                state.ptp_state.clone(),
                state.clock_class,
                state.sync_state.clone(),
            ));
        }
        let names: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "HOLDOVER", "FREERUN", "LOCKED", "HOLDOVER", "FREERUN", "LOCKED"
            ]
        );
        assert_eq!(seen[0].1, 7);
        assert_eq!(seen[1].1, 248);
        assert_eq!(seen[2].1, 6);
        assert_eq!(state, ClockState::locked());
    }

    #[test]
    fn unchanged_values_emit_nothing() {
        let scenario = Scenario::new(ScenarioName::Default);
        let mut state = ClockState::locked();
        assert!(scenario.apply(2, &mut state).is_empty());
    }

    #[test]
    fn worst_orders_states() {
        assert_eq!(worst("LOCKED", "HOLDOVER"), "HOLDOVER");
        assert_eq!(worst("FREERUN", "HOLDOVER"), "FREERUN");
        assert_eq!(worst("LOCKED", "LOCKED"), "LOCKED");
    }

    #[test]
    fn set_validates_values() {
        let mut s = ClockState::locked();
        assert_eq!(
            set(&mut s, Resource::PtpLockState, "HOLDOVER", Some(9)),
            Ok(())
        );
        assert_eq!((s.ptp_state.as_str(), s.ptp_offset), ("HOLDOVER", 9));
        assert!(set(&mut s, Resource::PtpLockState, "holdover", None).is_err());
        assert_eq!(set(&mut s, Resource::PtpClockClass, "248", None), Ok(()));
        assert_eq!(s.clock_class, 248);
        assert!(set(&mut s, Resource::PtpClockClass, "999", None).is_err());
    }
}
