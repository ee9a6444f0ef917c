//! A consumer as the upstreams' example consumers are written: it runs its
//! own HTTP server for the pushes (a scripted [`Webhook`]), subscribes with
//! `POST /subscriptions`, answers the initial notification, reads
//! CurrentState, receives pushes and deletes its subscription.

use std::time::Duration;

use serde_json::Value;

use super::{Api, Response};
use crate::peers::webhook::{Received, Reply, Webhook};
use crate::util::DEADLINE;

/// The callback path of the StarlingX examples.
pub const CALLBACK: &str = "/v2/resource_status/ptp";

/// One consumer and its push server.
pub struct Consumer {
    hook: Webhook,
    path: String,
}

/// A subscription as the API answered it (201).
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub uri_location: String,
    pub address: String,
    pub endpoint: String,
    /// The whole 201 body.
    pub body: Value,
    /// The initial notifications, all of which had arrived when the 201 did.
    pub initial: Vec<Received>,
}

impl Consumer {
    /// A consumer whose server answers request `k` with `script[k]`, the
    /// last repeating (the initial notification is request 0).
    pub fn new(script: Vec<Reply>) -> Consumer {
        Consumer::on_path(script, CALLBACK)
    }

    /// A consumer answering every request with `status`.
    pub fn answering(status: u16) -> Consumer {
        Consumer::new(vec![Reply::status(status)])
    }

    pub fn on_path(script: Vec<Reply>, path: &str) -> Consumer {
        Consumer {
            hook: Webhook::start(script),
            path: path.to_owned(),
        }
    }

    /// Its `EndpointUri`.
    pub fn endpoint(&self) -> String {
        self.hook.url(&self.path)
    }

    pub fn hook(&self) -> &Webhook {
        &self.hook
    }

    /// New answers from the next request on.
    pub fn answer_with(&self, script: Vec<Reply>) {
        self.hook.set_script(script);
    }

    /// Every request its server got.
    pub fn requests(&self) -> Vec<Received> {
        self.hook.requests()
    }

    pub fn count(&self) -> usize {
        self.hook.count()
    }

    /// The bodies received so far, as JSON.
    pub fn events(&self) -> Vec<Value> {
        self.requests().iter().map(Received::json).collect()
    }

    /// Wait until `n` requests arrived; their bodies.
    pub fn wait_events(&self, n: usize) -> Vec<Value> {
        self.wait_events_within(n, DEADLINE)
    }

    pub fn wait_events_within(&self, n: usize, bound: Duration) -> Vec<Value> {
        self.hook
            .wait_for_within(n, bound)
            .iter()
            .map(Received::json)
            .collect()
    }

    /// `POST /subscriptions` for `address`, as it is answered.
    pub fn subscribe(&self, api: &Api, address: &str) -> Response {
        api.subscribe(address, &self.endpoint())
    }

    /// Subscribe, expecting 201 with the fields of the StarlingX and Red Hat
    /// references and at least one initial notification that had arrived
    /// (and been answered) before the 201.
    pub fn subscribe_ok(&self, api: &Api, address: &str) -> Subscription {
        let before = self.count();
        let r = self.subscribe(api, address);
        // Read at once: a notification made after the 201 is not initial.
        let at_answer = self.requests();
        assert_eq!(r.status, 201, "POST /subscriptions {address}: {r}");
        let initial: Vec<Received> = at_answer[before..].to_vec();
        assert!(
            !initial.is_empty(),
            "no initial notification had arrived when POST {address} answered {r}"
        );
        for n in &initial {
            assert_eq!(n.method, "POST", "the initial notification is a POST");
            assert_eq!(
                n.path, self.path,
                "the initial notification goes to EndpointUri"
            );
            assert!(n.at <= r.at);
        }
        let sub = subscription(&r.json(), api.base());
        assert_eq!(sub.address, address, "201 ResourceAddress: {:#}", sub.body);
        assert_eq!(
            sub.endpoint,
            self.endpoint(),
            "201 EndpointUri: {:#}",
            sub.body
        );
        Subscription { initial, ..sub }
    }

    /// `DELETE /subscriptions/{id}`.
    pub fn unsubscribe(&self, api: &Api, sub: &Subscription) -> Response {
        api.delete(&format!("/subscriptions/{}", sub.id))
    }
}

/// A subscription object of the API (201, GET): the four fields of the
/// references, a UUID id, and a UriLocation that names it.
pub fn subscription(body: &Value, base: &str) -> Subscription {
    let field = |name: &str| {
        body[name]
            .as_str()
            .unwrap_or_else(|| panic!("subscription without {name}: {body:#}"))
            .to_owned()
    };
    let id = field("SubscriptionId");
    assert!(
        is_uuid(&id),
        "SubscriptionId is a UUID (csapi:UUID): {id:?}"
    );
    let uri_location = field("UriLocation");
    let tail = format!("{base}/subscriptions/{id}");
    assert!(
        uri_location.starts_with("http://") && uri_location.ends_with(&tail),
        "UriLocation is http://HOST:PORT{tail}: {uri_location:?}"
    );
    Subscription {
        id,
        uri_location,
        address: field("ResourceAddress"),
        endpoint: field("EndpointUri"),
        body: body.clone(),
        initial: Vec::new(),
    }
}

/// 8-4-4-4-12 hex digits.
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The path of a UriLocation (`http://host:port/path` → `/path`).
pub fn location_path(uri: &str) -> &str {
    let rest = uri.strip_prefix("http://").unwrap_or(uri);
    rest.find('/').map_or("/", |i| &rest[i..])
}

#[test]
fn uuids_and_locations_are_read_as_the_references_write_them() {
    assert!(is_uuid("704f21a0-19a3-11ed-854c-8a6cf180560d"));
    assert!(!is_uuid("704f21a0-19a3-11ed-854c"));
    assert!(!is_uuid("x04f21a0-19a3-11ed-854c-8a6cf180560d"));
    assert_eq!(
        location_path("http://127.0.0.1:8080/ocloudNotifications/v2/subscriptions/1"),
        "/ocloudNotifications/v2/subscriptions/1"
    );
}
