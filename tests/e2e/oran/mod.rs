//! The O-RAN v2 notification API the broker serves to local consumers
//! (docs/ORAN-API.md), tested from the upstream references (REFERENCE.md
//! §2, §3, §7; the StarlingX API definition v2; redhat-cne/rest-api
//! `v2/routes.go`), against a real broker and consumers that run their own
//! HTTP servers, as the upstreams' example consumers do.
//!
//! - `http`: the consumer's blocking HTTP/1.1 client for the API calls;
//! - `consumer`: a consumer: its push server, subscribe, CurrentState, delete;
//! - `format`: what an upstream push and a CurrentState answer look like;
//! - `flow`: the whole consumer flow, Red Hat and StarlingX;
//! - `initial`: the initial notification rules of each flavour;
//! - `errors`: 400, 404 and 409 as the upstreams answer them;
//! - `service`: `/health`, `/publishers`, both base paths;
//! - `dropping`: a consumer that keeps failing loses its subscriptions;
//! - `persistence`: subscriptions survive `kill -9`;
//! - `scale`: a hundred consumers get every event in order.
//!
//! Every wait polls with a deadline; nothing sleeps to synchronize.

#![allow(dead_code)]

mod consumer;
mod dropping;
mod errors;
mod flow;
mod format;
pub mod http;
mod initial;
mod persistence;
mod scale;
mod service;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::peers::TempDir;
use crate::util::Broker;

pub use consumer::{Consumer, Subscription};
pub use http::Response;

/// `PTP_LOCK_STATE`'s type string.
pub const LOCK_TYPE: &str = "event.sync.ptp-status.ptp-state-change";
/// `PTP_CLOCK_CLASS`'s type string.
pub const CLASS_TYPE: &str = "event.sync.ptp-status.ptp-clock-class-change";
/// The lock state's resource path (and its events' `source`).
pub const LOCK: &str = "/sync/ptp-status/lock-state";
/// The clock class's resource path.
pub const CLASS: &str = "/sync/ptp-status/clock-class";

/// Which upstream the API imitates (`api.flavor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    RedHat,
    StarlingX,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::RedHat => "redhat",
            Flavor::StarlingX => "starlingx",
        }
    }

    /// The upstream's base path (both are served whatever the flavour).
    pub fn base(self) -> &'static str {
        match self {
            Flavor::RedHat => "/api/ocloudNotifications/v2",
            Flavor::StarlingX => "/ocloudNotifications/v2",
        }
    }

    /// A node name of the kind each upstream's documentation uses.
    pub fn node(self) -> &'static str {
        match self {
            Flavor::RedHat => "worker-0",
            Flavor::StarlingX => "controller-0",
        }
    }

    /// The ResourceAddress of `resource` (`/sync…`) on `node`.
    pub fn address_on(self, node: &str, resource: &str) -> String {
        match self {
            Flavor::RedHat => format!("/cluster/node/{node}{resource}"),
            Flavor::StarlingX => format!("/./{node}{resource}"),
        }
    }

    /// The `ResourceAddress` inside an emitted lock-state value, as the
    /// upstream writes it (REFERENCE.md §3; the StarlingX pull examples).
    pub fn value_address(self, node: &str) -> String {
        match self {
            Flavor::RedHat => format!("/cluster/node/{node}/ens1f0/master"),
            Flavor::StarlingX => format!("/./{node}/ptp-inst1/sync/ptp-status/lock-state"),
        }
    }
}

/// A broker serving the API in one flavour, with its own state directory
/// and config file (removed on drop, after the broker).
pub struct Api {
    pub broker: Broker,
    pub flavor: Flavor,
    pub dir: TempDir,
    /// `--node`: the `<node>` of every address.
    pub node: String,
    /// Everything but `--state-dir`, again for a restart.
    args: Vec<String>,
}

impl Api {
    /// A broker with `[api] flavor = …` plus `extra` lines of `[api]`.
    pub fn start(name: &str, flavor: Flavor, extra: &str) -> Api {
        Api::start_full(name, flavor, extra, &[])
    }

    /// As [`Api::start`], with more command-line `args`.
    pub fn start_full(name: &str, flavor: Flavor, extra: &str, args: &[&str]) -> Api {
        let dir = TempDir::new(&format!("oran-{name}"));
        let config = dir.join("broker.toml");
        std::fs::write(
            &config,
            format!("[api]\nflavor = \"{}\"\n{extra}\n", flavor.name()),
        )
        .expect("writing the config");
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        args.extend(["--config".to_owned(), config]);
        Api::launch(dir, flavor, args)
    }

    /// A broker with no `[api]` section, started with `args` (for the defaults).
    pub fn start_with_args(name: &str, flavor: Flavor, args: &[&str]) -> Api {
        let dir = TempDir::new(&format!("oran-{name}"));
        Api::launch(dir, flavor, args.iter().map(|a| a.to_string()).collect())
    }

    fn launch(dir: TempDir, flavor: Flavor, mut args: Vec<String>) -> Api {
        let node = flavor.node().to_owned();
        args.extend(["--node".to_owned(), node.clone()]);
        let broker = start_broker(&dir, &args);
        Api {
            broker,
            flavor,
            dir,
            node,
            args,
        }
    }

    /// `kill -9`, then start again with the same state dir and arguments.
    pub fn restart(&mut self) {
        self.broker.kill9();
        self.broker = start_broker(&self.dir, &self.args);
    }

    /// The API's `host:port` (the ready line's `api=`).
    pub fn addr(&self) -> String {
        self.broker
            .endpoints
            .api
            .clone()
            .expect("the ready line names the API (api=ADDR)")
    }

    pub fn base(&self) -> &'static str {
        self.flavor.base()
    }

    /// The ResourceAddress of `resource` (`/sync…`) on this node.
    pub fn address(&self, resource: &str) -> String {
        self.flavor.address_on(&self.node, resource)
    }

    /// `GET base + path`.
    pub fn get(&self, path: &str) -> Response {
        http::get(&self.addr(), &format!("{}{path}", self.base()))
    }

    /// `DELETE base + path`.
    pub fn delete(&self, path: &str) -> Response {
        http::delete(&self.addr(), &format!("{}{path}", self.base()))
    }

    /// `POST base/subscriptions` with this body.
    pub fn post_subscription(&self, body: &Value) -> Response {
        http::post_json(
            &self.addr(),
            &format!("{}/subscriptions", self.base()),
            body,
        )
    }

    /// `POST base/subscriptions` with these bytes (not necessarily JSON).
    pub fn post_subscription_raw(&self, body: &[u8]) -> Response {
        http::post_raw(
            &self.addr(),
            &format!("{}/subscriptions", self.base()),
            body,
        )
    }

    /// `POST {"ResourceAddress", "EndpointUri"}`.
    pub fn subscribe(&self, address: &str, endpoint: &str) -> Response {
        self.post_subscription(&json!({"ResourceAddress": address, "EndpointUri": endpoint}))
    }

    /// `GET base/subscriptions`: 200 and an array.
    pub fn subscriptions(&self) -> Vec<Value> {
        let r = self.get("/subscriptions");
        assert_eq!(r.status, 200, "GET /subscriptions: {r}");
        match r.json() {
            Value::Array(subs) => subs,
            other => panic!("GET /subscriptions is not an array: {other:#}"),
        }
    }

    /// The SubscriptionIds `GET /subscriptions` lists, sorted.
    pub fn subscription_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .subscriptions()
            .iter()
            .map(|s| s["SubscriptionId"].as_str().unwrap_or_default().to_owned())
            .collect();
        ids.sort();
        ids
    }

    /// `GET base{address}/CurrentState`.
    pub fn current_state(&self, address: &str) -> Response {
        self.get(&format!("{address}/CurrentState"))
    }

    /// `emit TYPE VALUE ARGS…` through the CLI.
    pub fn emit(&self, event_type: &str, value: &str, args: &[&str]) -> crate::sinks::Emitted {
        crate::sinks::emit(&self.broker, event_type, value, args)
    }

    /// A lock-state event at this flavour's value address, `offset` telling
    /// it apart.
    pub fn emit_lock(&self, state: &str, offset: i64) -> crate::sinks::Emitted {
        let resource = self.flavor.value_address(&self.node);
        let offset = offset.to_string();
        self.emit(
            "PTP_LOCK_STATE",
            state,
            &["--resource", &resource, "--offset", &offset],
        )
    }

    /// A clock-class event.
    pub fn emit_class(&self, class: u32) -> crate::sinks::Emitted {
        self.emit("PTP_CLOCK_CLASS", &class.to_string(), &[])
    }

    /// One counter of `ptp-broker stats` (0 when absent).
    pub fn stat(&self, key: &str) -> u64 {
        self.broker.stats().get(key).copied().unwrap_or(0)
    }

    /// Poll until `condition` holds, for at most `bound`.
    pub fn wait(&self, what: &str, bound: Duration, mut condition: impl FnMut() -> bool) {
        poll(what, bound, &mut condition);
    }
}

fn start_broker(dir: &TempDir, args: &[String]) -> Broker {
    let state = dir.join("state");
    let mut full = vec!["--state-dir", state.as_str()];
    full.extend(args.iter().map(String::as_str));
    Broker::start(&full)
}

/// Poll `condition` every 50 ms until it holds; fail after `bound`.
pub fn poll(what: &str, bound: Duration, condition: &mut dyn FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < bound,
            "timed out after {bound:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The sync states in turn, so consecutive events differ.
pub const STATES: [&str; 3] = ["LOCKED", "HOLDOVER", "FREERUN"];
