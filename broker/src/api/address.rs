//! O-RAN ResourceAddresses as consumers send them: Red Hat
//! `/cluster/node/<node>/sync/...`, StarlingX `/./<node>[/<instance>]/sync/...`
//! (`.` this node, `*` every node), read into the event types they select.

use catalog::{EventType, OranEvent};

/// What an address selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The resource path from `/sync` on (`/sync`, `/sync/ptp-status`,
    /// `/sync/ptp-status/lock-state`), for the StarlingX overlap rule.
    pub path: String,
    /// The O-RAN events it covers (at least one).
    pub events: Vec<OranEvent>,
}

impl Selection {
    /// The event types selected.
    pub fn types(&self) -> Vec<EventType> {
        self.events.iter().map(|e| EventType::from(*e)).collect()
    }

    /// Does one of the two paths cover the other (equal, or a prefix at a
    /// segment boundary)?
    pub fn overlaps(&self, other: &Selection) -> bool {
        let covers = |a: &str, b: &str| {
            b == a || (b.starts_with(a) && b.as_bytes().get(a.len()) == Some(&b'/'))
        };
        covers(&self.path, &other.path) || covers(&other.path, &self.path)
    }
}

/// Why an address selects nothing: the API answers 404.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown(pub String);

/// Read `address` for this `node`.
pub fn parse(address: &str, node: &str) -> Result<Selection, Unknown> {
    let unknown = |why: &str| Unknown(format!("ResourceAddress {address:?}: {why}"));
    let trimmed = address.trim_end_matches('/');
    let at = trimmed
        .find("/sync")
        .filter(|&i| {
            let rest = &trimmed[i + "/sync".len()..];
            rest.is_empty() || rest.starts_with('/')
        })
        .ok_or_else(|| unknown("no /sync resource path in it"))?;
    let (prefix, path) = trimmed.split_at(at);
    let segments: Vec<&str> = prefix.split('/').skip(1).collect();
    let this = |s: &str| s == node || s == "." || s == "*";
    let ours = match segments.as_slice() {
        // Red Hat.
        ["cluster", "node", n] => *n == node,
        // StarlingX: cluster (`.` or a name), node, an optional instance;
        // HTTP clients drop `.` segments, so `/./n1/…` may come as `/n1/…`.
        [n] => this(n),
        [_, n] | [_, n, _] => this(n),
        [] => true,
        _ => false,
    };
    if !ours {
        return Err(unknown(&format!("not a resource of this node ({node})")));
    }
    let events: Vec<OranEvent> = catalog::ALL
        .into_iter()
        .filter(|e| {
            std::iter::once(e.resource())
                .chain(e.aliases().iter().copied().filter(|a| a.starts_with('/')))
                .any(|r| {
                    r == path
                        || (r.starts_with(path) && r.as_bytes().get(path.len()) == Some(&b'/'))
                })
        })
        .collect();
    if events.is_empty() {
        return Err(unknown("no such resource"));
    }
    Ok(Selection {
        path: path.to_owned(),
        events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_vendors_forms_select_their_types() {
        let rh = parse("/cluster/node/n1/sync/ptp-status/lock-state", "n1").unwrap();
        assert_eq!(rh.events, [catalog::PTP_LOCK_STATE]);
        let sx = parse("/./n1/sync/ptp-status/lock-state", "n1").unwrap();
        assert_eq!(sx.events, [catalog::PTP_LOCK_STATE]);
        let dropped_dots = parse("/n1/sync/ptp-status/lock-state", "n1").unwrap();
        assert_eq!(dropped_dots.events, [catalog::PTP_LOCK_STATE]);
        let dot = parse("/././sync/sync-status/os-clock-sync-state", "n1").unwrap();
        assert_eq!(dot.events, [catalog::OS_CLOCK_SYNC]);
        let inst = parse("/./n1/ptp-inst1/sync/ptp-status/clock-class", "n1").unwrap();
        assert_eq!(inst.events, [catalog::PTP_CLOCK_CLASS]);
        let all = parse("/./*/sync", "n1").unwrap();
        assert_eq!(all.events.len(), catalog::ALL.len());
        let ptp = parse("/cluster/node/n1/sync/ptp-status", "n1").unwrap();
        assert!(ptp.events.contains(&catalog::PTP_LOCK_STATE));
        assert!(ptp.events.contains(&catalog::PTP_CLOCK_CLASS));
        assert!(!ptp.events.contains(&catalog::OS_CLOCK_SYNC));
    }

    #[test]
    fn other_nodes_and_unknown_paths_select_nothing() {
        for bad in [
            "/cluster/node/n2/sync/ptp-status/lock-state",
            "/./n2/sync",
            "/cluster/node/n1/sync/nope",
            "/cluster/node/n1/sync/ptp-stat",
            "/cluster/node/n1",
            "/a/b/c/d/sync",
            "",
        ] {
            assert!(parse(bad, "n1").is_err(), "{bad}");
        }
    }

    #[test]
    fn starlingx_overlap_is_by_segment_prefix() {
        let sync = parse("/./n1/sync", "n1").unwrap();
        let lock = parse("/./n1/sync/ptp-status/lock-state", "n1").unwrap();
        let class = parse("/./n1/sync/ptp-status/clock-class", "n1").unwrap();
        assert!(sync.overlaps(&lock) && lock.overlaps(&sync));
        assert!(!lock.overlaps(&class));
    }
}
