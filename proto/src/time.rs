//! Timestamps: always RFC 3339 in UTC on the way out, whatever came in.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, as RFC 3339 with nanoseconds (the Red Hat spelling).
pub(crate) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Parse an upstream `time` into RFC 3339 UTC.
///
/// Besides RFC 3339 this reads StarlingX's spelling, where the fraction
/// follows the seconds with no dot: `2022-08-12T19:20:54896244Z` is
/// 19:20:54.896244.
pub(crate) fn normalize(input: &str) -> Option<String> {
    let parsed = DateTime::parse_from_rfc3339(input)
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(&insert_missing_dot(input)?).ok())?;
    Some(
        parsed
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::AutoSi, true),
    )
}

/// Would [`normalize`] read `input`? The same parse, without writing the
/// normalized string (the check every frame passes through).
pub(crate) fn is_valid(input: &str) -> bool {
    DateTime::parse_from_rfc3339(input).is_ok()
        || insert_missing_dot(input)
            .is_some_and(|fixed| DateTime::parse_from_rfc3339(&fixed).is_ok())
}

/// `…T19:20:54896244Z` → `…T19:20:54.896244Z`; `None` when there is nothing to fix.
fn insert_missing_dot(input: &str) -> Option<String> {
    let t = input.find('T')?;
    // HH:MM:SS starts right after 'T'; the seconds are bytes t+7..t+9.
    let seconds_end = t + 9;
    let rest = input.get(seconds_end..)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || input.as_bytes().get(t + 3) != Some(&b':') {
        return None;
    }
    Some(format!("{}.{}", &input[..seconds_end], rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_vendors_and_writes_rfc3339_utc() {
        let cases = [
            (
                "2024-08-28T14:50:57.327585316Z",
                "2024-08-28T14:50:57.327585316Z",
            ),
            ("2022-08-12T19:20:54896244Z", "2022-08-12T19:20:54.896244Z"),
            ("2022-09-09T15:57:40078935Z", "2022-09-09T15:57:40.078935Z"),
            ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
            ("2024-01-01T02:00:00+02:00", "2024-01-01T00:00:00Z"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).as_deref(), Some(want), "{input}");
            assert!(is_valid(input), "{input}");
        }
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-01-01T00:00:00",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
            assert!(!is_valid(bad), "{bad}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for input in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-01-01",
            "T",
            "2024-01-01T1",
        ] {
            assert_eq!(normalize(input), None, "{input}");
        }
    }

    #[test]
    fn now_round_trips() {
        let n = now();
        assert_eq!(normalize(&n).map(|s| s.len() > 20), Some(true));
    }
}
