//! Resource addresses as the subscription manager builds and compares them.

use super::ApiVersion;

/// The resource path for `api`: v1 named the clock-class resource differently.
pub fn resource_path(resource: catalog::OranEvent, api: ApiVersion) -> &'static str {
    if api == ApiVersion::V1 {
        if let Some(old) = resource.aliases().iter().find(|a| a.starts_with('/')) {
            return old;
        }
    }
    resource.resource()
}

/// HTTP clients drop `.` segments, so the upstream may store or echo the
/// StarlingX `/./node/...` form either way; compare without them.
pub fn normalize(address: &str) -> String {
    address.replace("/./", "/").trim_end_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_flavors_build_their_address_form() {
        use crate::source::upstream::Flavor;
        let path = resource_path(catalog::PTP_LOCK_STATE, ApiVersion::V2);
        assert_eq!(
            Flavor::Redhat.address("n1", path),
            "/cluster/node/n1/sync/ptp-status/lock-state"
        );
        assert_eq!(
            Flavor::Starlingx.address("controller-0", path),
            "/./controller-0/sync/ptp-status/lock-state"
        );
    }

    #[test]
    fn addresses_compare_without_dot_segments() {
        assert_eq!(
            normalize("/./n1/sync/ptp-status/lock-state"),
            normalize("/n1/sync/ptp-status/lock-state")
        );
    }

    #[test]
    fn v1_uses_the_old_clock_class_path() {
        assert_eq!(
            resource_path(catalog::PTP_CLOCK_CLASS, ApiVersion::V1),
            "/sync/ptp-status/ptp-clock-class-change"
        );
        assert_eq!(
            resource_path(catalog::PTP_CLOCK_CLASS, ApiVersion::V2),
            "/sync/ptp-status/clock-class"
        );
    }
}
