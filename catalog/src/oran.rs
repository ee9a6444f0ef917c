//! The O-RAN O-Cloud Notification event kinds (REFERENCE.md §4).

use std::fmt;

/// One O-RAN sync event kind: its constant name, its CloudEvent `type`
/// string and the resource path it reports on.
///
/// These are plain `Copy` values so that `client::register(catalog::OS_CLOCK_SYNC, cb)`
/// reads like LEAP's `register(catalog.X, cb)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OranEvent {
    name: &'static str,
    oran_type: &'static str,
    resource: &'static str,
    /// Spellings older producers used for the same event (sdk-go, O-RAN v1).
    aliases: &'static [&'static str],
}

impl OranEvent {
    /// The constant's name, e.g. `OS_CLOCK_SYNC`.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The CloudEvent `type`, e.g. `event.sync.sync-status.os-clock-sync-state-change`.
    /// This is also the ZeroMQ topic the broker publishes it under.
    pub const fn oran_type(&self) -> &'static str {
        self.oran_type
    }

    /// The resource path relative to the node, e.g. `/sync/sync-status/os-clock-sync-state`.
    pub const fn resource(&self) -> &'static str {
        self.resource
    }

    /// Older spellings of the type or resource that still resolve to this event.
    pub const fn aliases(&self) -> &'static [&'static str] {
        self.aliases
    }

    /// Does `s` name this event (constant name in any case, type string,
    /// resource path, or an old spelling)?
    pub fn is_named_by(&self, s: &str) -> bool {
        self.name.eq_ignore_ascii_case(s)
            || self.oran_type == s
            || self.resource == s
            || self.aliases.contains(&s)
    }
}

impl fmt::Debug for OranEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name, self.oran_type)
    }
}

impl fmt::Display for OranEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.oran_type)
    }
}

/// Overall synchronization state of the node: the worst of PTP lock state and OS clock state.
pub const SYNC_STATE: OranEvent = OranEvent {
    name: "SYNC_STATE",
    oran_type: "event.sync.sync-status.synchronization-state-change",
    resource: "/sync/sync-status/sync-state",
    aliases: &[],
};

/// OS clock (CLOCK_REALTIME) synchronization state, with its offset.
pub const OS_CLOCK_SYNC: OranEvent = OranEvent {
    name: "OS_CLOCK_SYNC",
    oran_type: "event.sync.sync-status.os-clock-sync-state-change",
    resource: "/sync/sync-status/os-clock-sync-state",
    aliases: &[],
};

/// PTP lock state of an interface, with its offset.
pub const PTP_LOCK_STATE: OranEvent = OranEvent {
    name: "PTP_LOCK_STATE",
    oran_type: "event.sync.ptp-status.ptp-state-change",
    resource: "/sync/ptp-status/lock-state",
    aliases: &[],
};

/// PTP clock class (a metric: 6 locked, 7/52/187 PRC unlocked, 135/165 holdover, 248, 255).
pub const PTP_CLOCK_CLASS: OranEvent = OranEvent {
    name: "PTP_CLOCK_CLASS",
    oran_type: "event.sync.ptp-status.ptp-clock-class-change",
    resource: "/sync/ptp-status/clock-class",
    aliases: &["/sync/ptp-status/ptp-clock-class-change"],
};

/// GNSS receiver sync status, with offset and `gpsFix`.
pub const GNSS_SYNC_STATUS: OranEvent = OranEvent {
    name: "GNSS_SYNC_STATUS",
    oran_type: "event.sync.gnss-status.gnss-state-change",
    resource: "/sync/gnss-status/gnss-sync-status",
    aliases: &[],
};

/// SyncE lock state.
pub const SYNCE_LOCK_STATE: OranEvent = OranEvent {
    name: "SYNCE_LOCK_STATE",
    oran_type: "event.sync.synce-status.synce-state-change",
    resource: "/sync/synce-status/lock-state",
    aliases: &["event.sync.sync-status.synce-state-change"],
};

/// SyncE clock quality (`Ql`, `extQl`).
pub const SYNCE_CLOCK_QUALITY: OranEvent = OranEvent {
    name: "SYNCE_CLOCK_QUALITY",
    oran_type: "event.sync.synce-status.synce-clock-quality-change",
    resource: "/sync/synce-status/clock-quality",
    aliases: &["event.sync.synce-status.sync-clock-quality-change"],
};

/// SyncE lock state, extended form.
pub const SYNCE_LOCK_STATE_EXTENDED: OranEvent = OranEvent {
    name: "SYNCE_LOCK_STATE_EXTENDED",
    oran_type: "event.sync.synce-status.synce-state-change-extended",
    resource: "/sync/synce-status/lock-state-extended",
    aliases: &[],
};

/// Every O-RAN event kind, in the order of REFERENCE.md §4.
pub const ALL: [OranEvent; 8] = [
    SYNC_STATE,
    OS_CLOCK_SYNC,
    PTP_LOCK_STATE,
    PTP_CLOCK_CLASS,
    GNSS_SYNC_STATUS,
    SYNCE_LOCK_STATE,
    SYNCE_CLOCK_QUALITY,
    SYNCE_LOCK_STATE_EXTENDED,
];

/// Find an O-RAN event by constant name (any case), type string, resource
/// path, or an older spelling of either.
///
/// A full resource address such as `/cluster/node/n1/sync/ptp-status/lock-state`
/// is not a resource path; use [`lookup_address`] for those.
pub fn lookup(s: &str) -> Option<OranEvent> {
    // The type string itself, as every frame's topic carries it, first.
    // (By reference: `ALL.into_iter()` copies the whole array for each
    // lookup, and this runs for every event.)
    ALL.iter()
        .find(|e| e.oran_type == s)
        .or_else(|| ALL.iter().find(|e| e.is_named_by(s)))
        .copied()
}

/// Find the O-RAN event whose resource path ends a full resource address,
/// e.g. `/cluster/node/n1/sync/ptp-status/lock-state` (Red Hat) or
/// `/./controller-0/sync/ptp-status/clock-class` (StarlingX).
pub fn lookup_address(address: &str) -> Option<OranEvent> {
    ALL.iter()
        .find(|e| {
            std::iter::once(e.resource)
                .chain(e.aliases.iter().copied().filter(|a| a.starts_with('/')))
                .any(|r| address == r || (address.ends_with(r) && address.len() > r.len()))
        })
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_resolves_from_each_of_its_names() {
        for e in ALL {
            assert_eq!(lookup(e.name()), Some(e));
            assert_eq!(lookup(&e.name().to_lowercase()), Some(e));
            assert_eq!(lookup(e.oran_type()), Some(e));
            assert_eq!(lookup(e.resource()), Some(e));
            for alias in e.aliases() {
                assert_eq!(lookup(alias), Some(e), "alias {alias}");
            }
        }
    }

    #[test]
    fn old_sdk_go_spellings_resolve() {
        assert_eq!(
            lookup("event.sync.synce-status.sync-clock-quality-change"),
            Some(SYNCE_CLOCK_QUALITY)
        );
        assert_eq!(
            lookup("event.sync.sync-status.synce-state-change"),
            Some(SYNCE_LOCK_STATE)
        );
        assert_eq!(
            lookup("/sync/ptp-status/ptp-clock-class-change"),
            Some(PTP_CLOCK_CLASS)
        );
    }

    #[test]
    fn type_strings_and_resources_are_unique() {
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                assert_ne!(a.oran_type(), b.oran_type());
                assert_ne!(a.resource(), b.resource());
                assert_ne!(a.name(), b.name());
            }
        }
    }

    #[test]
    fn unknown_names_do_not_resolve() {
        for s in [
            "",
            "event.sync",
            "OS_CLOCK",
            "event.sync.synce-status.synce-state-change-x",
        ] {
            assert_eq!(lookup(s), None, "{s}");
        }
    }

    #[test]
    fn full_addresses_of_both_vendors_resolve() {
        let cases = [
            (
                "/cluster/node/n1/sync/ptp-status/lock-state",
                PTP_LOCK_STATE,
            ),
            (
                "/./controller-0/sync/ptp-status/clock-class",
                PTP_CLOCK_CLASS,
            ),
            ("/././sync/sync-status/sync-state", SYNC_STATE),
            (
                "/cluster/node/n1/sync/synce-status/lock-state-extended",
                SYNCE_LOCK_STATE_EXTENDED,
            ),
            (
                "/cluster/node/n1/sync/synce-status/lock-state",
                SYNCE_LOCK_STATE,
            ),
            (
                "/cluster/node/n1/sync/ptp-status/ptp-clock-class-change",
                PTP_CLOCK_CLASS,
            ),
        ];
        for (address, want) in cases {
            assert_eq!(lookup_address(address), Some(want), "{address}");
        }
        assert_eq!(lookup_address("/cluster/node/n1/sync"), None);
    }
}
