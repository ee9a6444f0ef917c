//! What a subscription matches: event types and resource addresses, each
//! exact or a prefix ending in `*`; an empty list matches everything.

use catalog::EventType;
use proto::Event;

/// Longest pattern accepted.
const MAX_PATTERN: usize = 512;
/// Most patterns per list.
const MAX_PATTERNS: usize = 64;

/// One entry of a filter list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    fn matches(&self, s: &str) -> bool {
        match self {
            Pattern::Exact(e) => e == s,
            Pattern::Prefix(p) => s.starts_with(p.as_str()),
        }
    }
}

/// A subscription's filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    types: Vec<Pattern>,
    resources: Vec<Pattern>,
}

impl Filter {
    /// Read the lists as written. A type is a constant name (`OS_CLOCK_SYNC`)
    /// or a type string; with a trailing `*` it is a prefix of type strings.
    pub fn parse(types: &[String], resources: &[String]) -> Result<Filter, String> {
        for (what, list) in [("types", types), ("resources", resources)] {
            if list.len() > MAX_PATTERNS {
                return Err(format!("{what}: more than {MAX_PATTERNS} entries"));
            }
            if let Some(long) = list.iter().find(|p| p.len() > MAX_PATTERN) {
                let start: String = long.chars().take(32).collect();
                return Err(format!("{what}: {start:?}… is over {MAX_PATTERN} bytes"));
            }
        }
        let types = types
            .iter()
            .map(|t| match t.strip_suffix('*') {
                Some(prefix) if !prefix.contains('*') => Ok(Pattern::Prefix(prefix.to_owned())),
                _ if t.contains('*') => Err(format!(
                    "type {t:?}: `*` may only end a pattern (event.sync.ptp-status.*)"
                )),
                _ => EventType::new(t)
                    .map(|t| Pattern::Exact(t.as_str().to_owned()))
                    .map_err(|e| format!("type {t:?}: {e}")),
            })
            .collect::<Result<_, _>>()?;
        let resources = resources
            .iter()
            .map(|r| match r.strip_suffix('*') {
                Some(prefix) if !prefix.contains('*') => Ok(Pattern::Prefix(prefix.to_owned())),
                _ if r.contains('*') => Err(format!(
                    "resource {r:?}: `*` may only end a pattern (/cluster/node/n1/*)"
                )),
                _ if r.is_empty() || r.chars().any(char::is_control) => {
                    Err(format!("resource {r:?}: not an address"))
                }
                _ => Ok(Pattern::Exact(r.clone())),
            })
            .collect::<Result<_, _>>()?;
        Ok(Filter { types, resources })
    }

    /// Does the filter take events of this type about this resource?
    pub fn matches(&self, event_type: &EventType, resource: &str) -> bool {
        (self.types.is_empty() || self.types.iter().any(|p| p.matches(event_type.as_str())))
            && (self.resources.is_empty() || self.resources.iter().any(|p| p.matches(resource)))
    }

    /// [`Filter::matches`] for an event.
    pub fn matches_event(&self, event: &Event) -> bool {
        self.matches(&event.event_type, event.resource_address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> EventType {
        EventType::new(s).unwrap()
    }

    #[test]
    fn types_match_exactly_or_by_prefix_and_resources_likewise() {
        let f = Filter::parse(
            &["event.sync.ptp-status.*".into(), "OS_CLOCK_SYNC".into()],
            &["/cluster/node/n1/*".into()],
        )
        .unwrap();
        let ptp = t("event.sync.ptp-status.ptp-state-change");
        let os: EventType = catalog::OS_CLOCK_SYNC.into();
        let synce = t("event.sync.synce-status.synce-state-change");
        assert!(f.matches(&ptp, "/cluster/node/n1/sync/ptp-status/lock-state"));
        assert!(f.matches(&os, "/cluster/node/n1/sync/sync-status/os-clock-sync-state"));
        assert!(!f.matches(&synce, "/cluster/node/n1/x"));
        assert!(!f.matches(&ptp, "/cluster/node/n2/sync/ptp-status/lock-state"));
        let all = Filter::parse(&[], &[]).unwrap();
        assert!(all.matches(&synce, "/anything"));
        let exact = Filter::parse(&[], &["/a/b".into()]).unwrap();
        assert!(exact.matches(&synce, "/a/b") && !exact.matches(&synce, "/a/bc"));
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        for (types, resources) in [
            (vec!["a*b".to_owned()], vec![]),
            (vec!["Not A Type".to_owned()], vec![]),
            (vec![], vec!["/a*/b".to_owned()]),
            (vec![], vec![String::new()]),
            (vec!["x".repeat(600)], vec![]),
            (vec!["é".repeat(300)], vec![]),
            (vec!["OS_CLOCK_SYNC".to_owned(); 65], vec![]),
        ] {
            assert!(
                Filter::parse(&types, &resources).is_err(),
                "{types:?} {resources:?}"
            );
        }
    }
}
