//! The Kubernetes RBAC that `--kube` needs: exactly what this module asks
//! the API server for, so that a Role can grant that and nothing more.
//!
//! `deploy/kubernetes/role.yaml` grants [`RBAC_RULES`] (a test in
//! `broker/tests/deploy.rs` compares them), and a unit test here records
//! every request the broker sends to a fake API server and checks that the
//! verbs the API server would authorize them as are exactly these.

/// One rule of a Role: `verbs` on `resource` (with its subresource, as RBAC
/// writes it: `pods/portforward`) in the API group `api_group` (`""` is the
/// core group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RbacRule {
    /// API group; `""` is the core group (`/api/v1`).
    pub api_group: &'static str,
    /// Resource, `resource/subresource` for a subresource.
    pub resource: &'static str,
    /// Verbs, sorted.
    pub verbs: &'static [&'static str],
}

/// What `--kube` (`kube.mode = "port-forward"`) needs, all of it in the
/// daemon's namespace (`kube.namespace`), so a namespaced Role there is
/// enough; no cluster-scoped resource is read:
///
/// - `list` `pods`: [`super::find_daemon_pod`] lists the daemon pods with a
///   label and a field selector, at start and whenever a forward fails. It
///   neither gets a pod by name nor watches.
/// - `get` and `create` `pods/portforward`: [`super::PortForward`] opens one
///   forward per local connection with a WebSocket upgrade, an HTTP GET,
///   which the API server authorizes as `get`; since Kubernetes 1.35
///   (`AuthorizePodWebsocketUpgradeCreatePermission`, on by default) it also
///   requires `create` on the subresource for such upgrades, as SPDY
///   clients (POST) always did.
///
/// `kube.mode = "service"` sends no request to the API server at all (it
/// only reads the client configuration to pick the callback address).
pub const RBAC_RULES: &[RbacRule] = &[
    RbacRule {
        api_group: "",
        resource: "pods",
        verbs: &["list"],
    },
    RbacRule {
        api_group: "",
        resource: "pods/portforward",
        verbs: &["create", "get"],
    },
];
