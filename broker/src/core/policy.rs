//! The emit policy: what synthetic events (`client::emit`, `ptp-broker
//! emit`, PULL frames) may do. A broker that follows an upstream must not
//! let a test or a stray tool overwrite the upstream's truth.

use std::fmt;

use catalog::EventType;
use proto::Event;
use serde::{Deserialize, Serialize};

/// The `emit_policy` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmitPolicy {
    /// `allow` without an upstream (development, tests), `protect-upstream`
    /// when following one.
    #[default]
    Auto,
    /// Every synthetic event is accepted.
    Allow,
    /// Synthetic events of the O-RAN types (`event.sync.*`) are refused: the
    /// upstream owns them. Application types are accepted.
    ProtectUpstream,
    /// Every synthetic event is refused.
    Deny,
}

/// A synthetic event the policy refuses; `Display` is the caller's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

impl EmitPolicy {
    /// The policy in force: `Auto` decided by whether an upstream is followed.
    pub fn resolve(self, following: bool) -> EmitPolicy {
        match (self, following) {
            (EmitPolicy::Auto, true) => EmitPolicy::ProtectUpstream,
            (EmitPolicy::Auto, false) => EmitPolicy::Allow,
            (other, _) => other,
        }
    }

    /// May a synthetic `event` be accepted?
    pub fn check(self, event: &Event) -> Result<(), Refused> {
        self.check_type(&event.event_type)
    }

    /// [`EmitPolicy::check`] for a synthetic event of this type.
    pub fn check_type(self, event_type: &EventType) -> Result<(), Refused> {
        match self {
            EmitPolicy::Allow | EmitPolicy::Auto => Ok(()),
            EmitPolicy::ProtectUpstream if event_type.oran().is_none() => Ok(()),
            EmitPolicy::ProtectUpstream => Err(Refused(format!(
                "synthetic {event_type} events are refused: this broker follows an upstream, which owns the O-RAN event.sync.* types (emit_policy = protect-upstream; application types may be emitted)"
            ))),
            EmitPolicy::Deny => Err(Refused(
                "synthetic events are refused (emit_policy = deny)".to_owned(),
            )),
        }
    }

    /// The key's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            EmitPolicy::Auto => "auto",
            EmitPolicy::Allow => "allow",
            EmitPolicy::ProtectUpstream => "protect-upstream",
            EmitPolicy::Deny => "deny",
        }
    }
}

impl fmt::Display for EmitPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_protects_the_upstream_only_when_following_one() {
        let oran = Event::synthetic(catalog::PTP_LOCK_STATE.into(), "LOCKED".parse().unwrap());
        let app = Event::synthetic(
            catalog::EventType::new("com.example.radio").unwrap(),
            "1".parse().unwrap(),
        );
        let free = EmitPolicy::Auto.resolve(false);
        assert_eq!(free, EmitPolicy::Allow);
        assert!(free.check(&oran).is_ok());
        let following = EmitPolicy::Auto.resolve(true);
        assert_eq!(following, EmitPolicy::ProtectUpstream);
        let err = following.check(&oran).unwrap_err().to_string();
        assert!(err.contains("owns the O-RAN"), "{err}");
        assert!(following.check(&app).is_ok());
        assert!(EmitPolicy::Deny.resolve(false).check(&app).is_err());
        assert_eq!(EmitPolicy::Allow.resolve(true), EmitPolicy::Allow);
    }
}
