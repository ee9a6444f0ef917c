//! Resources the simulator publishes and how subscription addresses name
//! them. Pure functions; table-tested below.

use crate::config::Flavor;

/// One published resource (REFERENCE §4). The order of [`Resource::ALL`] is
/// the order used when several resources are reported together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// PTP lock state of the port, with the offset.
    PtpLockState,
    /// Clock class announced by the clock.
    PtpClockClass,
    /// OS clock (`CLOCK_REALTIME`) state, with the offset.
    OsClockSyncState,
    /// Overall sync state: the worse of PTP and OS clock.
    SyncState,
    /// GNSS receiver state.
    GnssSyncStatus,
    /// SyncE lock state.
    SynceLockState,
    /// SyncE clock quality levels.
    SynceClockQuality,
}

impl Resource {
    /// Every resource, in reporting order.
    pub const ALL: [Resource; 7] = [
        Resource::PtpLockState,
        Resource::PtpClockClass,
        Resource::OsClockSyncState,
        Resource::SyncState,
        Resource::GnssSyncStatus,
        Resource::SynceLockState,
        Resource::SynceClockQuality,
    ];

    /// The resource path, also the CloudEvent `source`.
    pub fn path(self) -> &'static str {
        match self {
            Resource::PtpLockState => "/sync/ptp-status/lock-state",
            Resource::PtpClockClass => "/sync/ptp-status/clock-class",
            Resource::OsClockSyncState => "/sync/sync-status/os-clock-sync-state",
            Resource::SyncState => "/sync/sync-status/sync-state",
            Resource::GnssSyncStatus => "/sync/gnss-status/gnss-sync-status",
            Resource::SynceLockState => "/sync/synce-status/lock-state",
            Resource::SynceClockQuality => "/sync/synce-status/clock-quality",
        }
    }

    /// The CloudEvent `type`.
    pub fn event_type(self) -> &'static str {
        match self {
            Resource::PtpLockState => "event.sync.ptp-status.ptp-state-change",
            Resource::PtpClockClass => "event.sync.ptp-status.ptp-clock-class-change",
            Resource::OsClockSyncState => "event.sync.sync-status.os-clock-sync-state-change",
            Resource::SyncState => "event.sync.sync-status.synchronization-state-change",
            Resource::GnssSyncStatus => "event.sync.gnss-status.gnss-state-change",
            Resource::SynceLockState => "event.sync.synce-status.synce-state-change",
            Resource::SynceClockQuality => "event.sync.synce-status.synce-clock-quality-change",
        }
    }

    /// The resource whose path is exactly `path`.
    pub fn from_path(path: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.path() == path)
    }
}

/// What a valid ResourceAddress selects: a resource path (`/sync/...`) that
/// is one resource's path or, for StarlingX, a segment prefix of several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    path: String,
}

impl Target {
    /// Whether events of `resource` go to a subscription with this target.
    pub fn covers(&self, resource: Resource) -> bool {
        is_segment_prefix(&self.path, resource.path())
    }

    /// The covered resources, in reporting order.
    pub fn resources(&self) -> Vec<Resource> {
        Resource::ALL
            .into_iter()
            .filter(|r| self.covers(*r))
            .collect()
    }

    /// StarlingX conflict rule: one path equal to or a prefix of the other.
    pub fn overlaps(&self, other: &Target) -> bool {
        is_segment_prefix(&self.path, &other.path) || is_segment_prefix(&other.path, &self.path)
    }
}

/// `prefix` equals `path` or is a prefix of it ending at a `/`.
fn is_segment_prefix(prefix: &str, path: &str) -> bool {
    path == prefix || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

/// Resolve a ResourceAddress for `flavor` on `node`; `None` means unknown (404).
///
/// Red Hat: exactly `/cluster/node/<node><resource path>`.
/// StarlingX: `[/<cluster>/<node>[/<instance>]]/sync[/...]` where node is
/// `.`, `*` or `node`. Because HTTP clients drop `.` path segments, a
/// CurrentState URL may arrive as `/<node>/sync/...` or `/sync/...`; those
/// forms are accepted too.
pub fn parse_address(flavor: Flavor, node: &str, address: &str) -> Option<Target> {
    match flavor {
        Flavor::RedHat => {
            let rest = address.strip_prefix("/cluster/node/")?.strip_prefix(node)?;
            Resource::from_path(rest).map(|r| Target {
                path: r.path().to_string(),
            })
        }
        Flavor::StarlingX => parse_starlingx(node, address),
    }
}

fn parse_starlingx(node: &str, address: &str) -> Option<Target> {
    let trimmed = address.strip_prefix('/')?.trim_end_matches('/');
    let segments: Vec<&str> = trimmed.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return None;
    }
    let sync_at = segments.iter().position(|s| *s == "sync")?;
    let node_ok = |s: &str| s == "." || s == "*" || s == node;
    let scope_ok = match &segments[..sync_at] {
        [] => true,
        [n] => node_ok(n),
        [_, n] | [_, n, _] => node_ok(n),
        _ => false,
    };
    if !scope_ok {
        return None;
    }
    let path = format!("/{}", segments[sync_at..].join("/"));
    let target = Target { path };
    (!target.resources().is_empty()).then_some(target)
}

/// The address a Red Hat publisher advertises for `resource` on `node`.
pub fn redhat_address(node: &str, resource: Resource) -> String {
    format!("/cluster/node/{node}{}", resource.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(flavor: Flavor, address: &str) -> Option<Vec<&'static str>> {
        parse_address(flavor, "node1", address)
            .map(|t| t.resources().into_iter().map(Resource::path).collect())
    }

    #[test]
    fn redhat_addresses_are_exact() {
        let lock = Some(vec!["/sync/ptp-status/lock-state"]);
        let table: &[(&str, Option<Vec<&str>>)] = &[
            ("/cluster/node/node1/sync/ptp-status/lock-state", lock),
            ("/cluster/node/node2/sync/ptp-status/lock-state", None),
            ("/cluster/node/node1/sync/ptp-status", None),
            ("/cluster/node/node1/sync", None),
            ("/cluster/node/node1x/sync/ptp-status/lock-state", None),
            ("/sync/ptp-status/lock-state", None),
            ("/cluster/node/node1/sync/ptp-status/nope", None),
        ];
        for (address, want) in table {
            assert_eq!(&paths(Flavor::RedHat, address), want, "{address}");
        }
    }

    #[test]
    fn starlingx_addresses_allow_prefixes_and_dot() {
        let x = Flavor::StarlingX;
        assert_eq!(paths(x, "/./node1/sync").map(|p| p.len()), Some(7));
        assert_eq!(paths(x, "/sync").map(|p| p.len()), Some(7));
        assert_eq!(paths(x, "/././sync/").map(|p| p.len()), Some(7));
        assert_eq!(
            paths(x, "/./node1/sync/ptp-status"),
            Some(vec![
                "/sync/ptp-status/lock-state",
                "/sync/ptp-status/clock-class"
            ])
        );
        assert_eq!(
            paths(x, "/./*/sync/sync-status/sync-state"),
            Some(vec!["/sync/sync-status/sync-state"])
        );
        assert_eq!(
            paths(x, "/node1/sync/sync-status/sync-state"),
            Some(vec!["/sync/sync-status/sync-state"])
        );
        assert_eq!(
            paths(x, "/c/node1/ptp-inst1/sync/ptp-status/lock-state").map(|p| p.len()),
            Some(1)
        );
        assert_eq!(paths(x, "/./node2/sync"), None);
        assert_eq!(paths(x, "/./node1/sync/ptp-stat"), None);
        assert_eq!(paths(x, "/./node1/sync/ptp-status/lock-state/x"), None);
        assert_eq!(paths(x, "/./node1/nosync"), None);
        assert_eq!(paths(x, "relative/sync"), None);
        assert_eq!(paths(x, "/.//sync"), None);
    }

    #[test]
    fn overlap_is_by_whole_segments() {
        let t = |a: &str| parse_address(Flavor::StarlingX, "node1", a).expect(a);
        assert!(t("/sync").overlaps(&t("/sync/ptp-status/lock-state")));
        assert!(t("/sync/ptp-status/lock-state").overlaps(&t("/sync/ptp-status")));
        assert!(!t("/sync/ptp-status").overlaps(&t("/sync/sync-status")));
        assert!(!t("/sync/ptp-status/lock-state").overlaps(&t("/sync/synce-status/lock-state")));
    }
}
