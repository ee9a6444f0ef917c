//! The API's consumers: their subscriptions, kept in
//! `<state_dir>/oran-subscriptions.json`, each served by a webhook sink in
//! the registry (mode `oran`), and the rules of `POST /subscriptions`:
//! duplicates by flavour, the per-endpoint bound, the initial notification.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use proto::Event;
use proto::subscription::Spec;
use serde::{Deserialize, Serialize};

use crate::api::address::{self, Selection};
use crate::api::{ApiConfig, Flavor};
use crate::sink::registry::{Subscriptions, read_saved, write_atomically};

/// The file in the state directory.
pub const FILE: &str = "oran-subscriptions.json";

/// One consumer subscription, in the v2 JSON names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OranSubscription {
    /// Its id (a UUID).
    #[serde(rename = "SubscriptionId")]
    pub id: String,
    /// As the consumer wrote it.
    #[serde(rename = "ResourceAddress")]
    pub resource_address: String,
    /// Where pushes go.
    #[serde(rename = "EndpointUri")]
    pub endpoint_uri: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    version: u32,
    subscriptions: Vec<OranSubscription>,
}

/// Why `POST /subscriptions` failed: the status and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub u16, pub String);

/// The consumers.
pub struct Consumers {
    config: ApiConfig,
    /// The flavour in force (`api.flavor`, else `upstream.flavor`).
    flavor: Flavor,
    node: String,
    state_dir: PathBuf,
    registry: Subscriptions,
    list: Mutex<Vec<OranSubscription>>,
    http: reqwest::Client,
    /// One subscription is made at a time (its initial notification
    /// included), so the duplicate and bound checks hold.
    creating: tokio::sync::Mutex<()>,
}

impl Consumers {
    /// Read the saved subscriptions and add them to the registry (each gets
    /// the current state first once the registry starts, then changes).
    pub fn load(
        config: ApiConfig,
        flavor: Flavor,
        node: String,
        state_dir: PathBuf,
        registry: Subscriptions,
    ) -> Result<Consumers, String> {
        let path = state_dir.join(FILE);
        let saved = read_saved::<Saved>(&path)?.map_or_else(Vec::new, |s| s.subscriptions);
        let http = crate::sink::webhook::client(None)?;
        let consumers = Consumers {
            config,
            flavor,
            node,
            state_dir,
            registry,
            list: Mutex::new(Vec::new()),
            http,
            creating: tokio::sync::Mutex::new(()),
        };
        for sub in saved {
            let selection = address::parse(&sub.resource_address, &consumers.node)
                .map_err(|e| format!("{}: {}", path.display(), e.0))?;
            consumers
                .registry
                .add_api(consumers.spec(&sub, &selection), true)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            consumers.lock().push(sub);
        }
        Ok(consumers)
    }

    /// The flavour in force.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// Start the saved subscriptions' tasks (after the registry started).
    pub fn start(&self) {
        for sub in self.lock().iter() {
            self.registry.start_one(&sub.id);
        }
    }

    /// The webhook subscription that serves `sub`.
    fn spec(&self, sub: &OranSubscription, selection: &Selection) -> Spec {
        Spec {
            id: Some(sub.id.clone()),
            uri: sub.endpoint_uri.clone(),
            types: selection
                .types()
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            mode: Some("oran".into()),
            timeout_ms: Some(self.config.timeout_ms),
            accept: Some(match self.flavor {
                Flavor::Redhat => "204".into(),
                Flavor::Starlingx => "2xx".into(),
            }),
            drop_after: Some(self.config.drop_after_failures),
            ..Spec::default()
        }
    }

    /// Every subscription.
    pub fn list(&self) -> Vec<OranSubscription> {
        self.lock().clone()
    }

    /// One subscription.
    pub fn get(&self, id: &str) -> Option<OranSubscription> {
        self.lock().iter().find(|s| s.id == id).cloned()
    }

    /// `POST /subscriptions`, after the body was read and checked for its
    /// two fields: 404, 409, 400 or the new subscription.
    pub async fn create(
        &self,
        resource_address: String,
        endpoint_uri: String,
    ) -> Result<OranSubscription, Refused> {
        let _one_at_a_time = self.creating.lock().await;
        let selection =
            address::parse(&resource_address, &self.node).map_err(|e| Refused(404, e.0))?;
        {
            let list = self.lock();
            let same_endpoint = list.iter().filter(|s| s.endpoint_uri == endpoint_uri);
            let mut count = 0;
            for existing in same_endpoint {
                count += 1;
                let duplicate = match self.flavor {
                    Flavor::Redhat => {
                        normalize(&existing.resource_address) == normalize(&resource_address)
                    }
                    Flavor::Starlingx => address::parse(&existing.resource_address, &self.node)
                        .is_ok_and(|other| other.overlaps(&selection)),
                };
                if duplicate {
                    return Err(Refused(
                        409,
                        format!(
                            "subscription {} already has this EndpointUri and ResourceAddress",
                            existing.id
                        ),
                    ));
                }
            }
            if count >= self.config.max_per_endpoint {
                return Err(Refused(
                    400,
                    format!(
                        "EndpointUri already has {} subscriptions (api.max_per_endpoint)",
                        self.config.max_per_endpoint
                    ),
                ));
            }
        }
        let sub = OranSubscription {
            id: uuid::Uuid::new_v4().to_string(),
            resource_address,
            endpoint_uri,
        };
        // Fed from now on; the current state comes back to be sent here.
        let current = self
            .registry
            .add_api(self.spec(&sub, &selection), false)
            .map_err(|e| Refused(400, e))?;
        if current.is_empty() {
            self.registry.remove(&sub.id);
            return Err(Refused(
                404,
                format!(
                    "no current state yet for {} (the broker has not heard of it)",
                    sub.resource_address
                ),
            ));
        }
        for event in &current {
            if let Err(why) = self.initial_notification(&sub.endpoint_uri, event).await {
                self.registry.remove(&sub.id);
                return Err(Refused(
                    400,
                    format!("initial notification to {}: {why}", sub.endpoint_uri),
                ));
            }
        }
        // Read, save and replace the list under its lock, so that a DELETE
        // meanwhile is not undone.
        {
            let mut list = self.lock();
            let mut all = list.clone();
            all.push(sub.clone());
            if let Err(e) = self.save(&all) {
                drop(list);
                self.registry.remove(&sub.id);
                return Err(Refused(500, e));
            }
            *list = all;
        }
        self.registry.start_one(&sub.id);
        Ok(sub)
    }

    /// Red Hat: one try, 204 only; StarlingX: any 2xx, up to 3 tries.
    async fn initial_notification(&self, endpoint: &str, event: &Event) -> Result<(), String> {
        let body = serde_json::to_vec(&proto::cloudevent::to_json(event, false))
            .map_err(|e| e.to_string())?;
        let tries = match self.flavor {
            Flavor::Redhat => 1,
            Flavor::Starlingx => 3,
        };
        let mut why = String::new();
        for _ in 0..tries {
            let sent = self
                .http
                .post(endpoint)
                .timeout(Duration::from_millis(self.config.timeout_ms))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) => {
                    let status = r.status();
                    let ok = match self.flavor {
                        Flavor::Redhat => status.as_u16() == 204,
                        Flavor::Starlingx => status.is_success(),
                    };
                    if ok {
                        return Ok(());
                    }
                    why = format!(
                        "answered {} (expected {})",
                        status.as_u16(),
                        match self.flavor {
                            Flavor::Redhat => "204",
                            Flavor::Starlingx => "2xx",
                        }
                    );
                }
                Err(e) => why = crate::error_chain(&e),
            }
        }
        Err(why)
    }

    /// Remove one; false if unknown.
    pub fn delete(&self, id: &str) -> Result<bool, String> {
        {
            let mut list = self.lock();
            let mut all = list.clone();
            all.retain(|s| s.id != id);
            if all.len() == list.len() {
                return Ok(false);
            }
            self.save(&all)?;
            *list = all;
        }
        self.registry.remove(id);
        Ok(true)
    }

    /// Remove every subscription.
    pub fn delete_all(&self) -> Result<(), String> {
        let gone = {
            let mut list = self.lock();
            self.save(&[])?;
            std::mem::take(&mut *list)
        };
        for sub in gone {
            self.registry.remove(&sub.id);
        }
        Ok(())
    }

    /// The consumer of subscription `id` failed too often: every
    /// subscription with its EndpointUri goes (cloud-event-proxy deletes all
    /// of a client's). Returns how many.
    pub fn drop_consumer_of(&self, id: &str) -> usize {
        let Some(endpoint) = self.get(id).map(|s| s.endpoint_uri) else {
            self.registry.remove(id);
            return 0;
        };
        let ids: Vec<String> = self
            .list()
            .into_iter()
            .filter(|s| s.endpoint_uri == endpoint)
            .map(|s| s.id)
            .collect();
        for id in &ids {
            if let Err(e) = self.delete(id) {
                tracing::warn!(id, "cannot remove the dropped consumer's subscription: {e}");
            }
        }
        tracing::warn!(
            endpoint,
            subscriptions = ids.len(),
            "O-RAN consumer dropped after {} failed deliveries in a row",
            self.config.drop_after_failures
        );
        ids.len()
    }

    fn save(&self, all: &[OranSubscription]) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(&Saved {
            version: 1,
            subscriptions: all.to_vec(),
        })
        .map_err(|e| e.to_string())?;
        write_atomically(&self.state_dir, FILE, &bytes).map_err(|e| {
            format!(
                "cannot save the subscriptions in {}: {e}",
                self.state_dir.display()
            )
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<OranSubscription>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Addresses compare without `.` segments (clients drop them) and a
/// trailing slash.
fn normalize(address: &str) -> String {
    address.replace("/./", "/").trim_end_matches('/').to_owned()
}
