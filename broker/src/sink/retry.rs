//! Retries as knative's dispatcher does them (`pkg/kncloudevents/retries.go`):
//! a count, a policy (exponential: delay × 2^n; linear: delay × (n+1)), a
//! base delay, and a cap on any one wait.

use std::time::Duration;

use proto::subscription::Spec;

/// How the wait grows between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// delay × 2^n before retry n+1.
    Exponential,
    /// delay × (n+1) before retry n+1.
    Linear,
}

/// A retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The growth.
    pub policy: Policy,
    /// The base delay.
    pub delay: Duration,
    /// No single wait is longer.
    pub max: Duration,
}

/// Default retries (webhook, JetStream).
pub const DEFAULT_RETRIES: u32 = 5;
/// Default base delay.
pub const DEFAULT_DELAY: Duration = Duration::from_millis(100);
/// Default cap on one wait.
pub const DEFAULT_MAX: Duration = Duration::from_secs(10);
/// Most retries accepted.
const MAX_RETRIES: u32 = 100;

impl Retry {
    /// The schedule a spec asks for, with the defaults for what it leaves out.
    pub fn from_spec(spec: &Spec) -> Result<Retry, String> {
        let policy = match spec.backoff.as_deref() {
            None | Some("exponential") => Policy::Exponential,
            Some("linear") => Policy::Linear,
            Some(other) => {
                return Err(format!(
                    "backoff {other:?}: expected \"exponential\" or \"linear\""
                ));
            }
        };
        let retries = spec.retry.unwrap_or(DEFAULT_RETRIES);
        if retries > MAX_RETRIES {
            return Err(format!("retry {retries}: at most {MAX_RETRIES}"));
        }
        let delay = spec
            .backoff_delay_ms
            .map_or(DEFAULT_DELAY, Duration::from_millis);
        let max = spec
            .backoff_max_ms
            .map_or(DEFAULT_MAX, Duration::from_millis);
        if delay > max {
            return Err(format!(
                "backoff_delay_ms {} is over backoff_max_ms {}",
                delay.as_millis(),
                max.as_millis()
            ));
        }
        Ok(Retry {
            retries,
            policy,
            delay,
            max,
        })
    }

    /// The wait before retry `n + 1` (n from 0).
    pub fn wait(&self, n: u32) -> Duration {
        let factor = match self.policy {
            Policy::Exponential => 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX),
            Policy::Linear => n.saturating_add(1),
        };
        self.delay.saturating_mul(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_by_policy_and_stop_at_the_cap() {
        let spec = Spec {
            backoff_delay_ms: Some(100),
            backoff_max_ms: Some(1000),
            ..Spec::default()
        };
        let r = Retry::from_spec(&spec).unwrap();
        let ms = |n| r.wait(n).as_millis();
        assert_eq!(
            [ms(0), ms(1), ms(2), ms(3), ms(4), ms(40)],
            [100, 200, 400, 800, 1000, 1000]
        );
        let linear = Retry::from_spec(&Spec {
            backoff: Some("linear".into()),
            ..spec
        })
        .unwrap();
        assert_eq!(linear.wait(0).as_millis(), 100);
        assert_eq!(linear.wait(2).as_millis(), 300);
        assert_eq!(r.retries, DEFAULT_RETRIES);
    }

    #[test]
    fn bad_schedules_are_refused() {
        for spec in [
            Spec {
                backoff: Some("fibonacci".into()),
                ..Spec::default()
            },
            Spec {
                retry: Some(1000),
                ..Spec::default()
            },
            Spec {
                backoff_delay_ms: Some(20_000),
                ..Spec::default()
            },
        ] {
            assert!(Retry::from_spec(&spec).is_err(), "{spec:?}");
        }
    }
}
