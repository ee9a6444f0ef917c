//! The subscriptions: those of the config file and those added at run time,
//! each with its outbox (fed by the core) and its sink task. Run-time ones
//! are written to `<state_dir>/subscriptions.json` before they are
//! answered, atomically (temporary file, fsync, rename, fsync of the
//! directory), so a `kill -9` at any moment leaves the old list or the new.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use proto::subscription::{Declared, Listed, Spec};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::core::outbox::Outbox;
use crate::core::shared::Broker;
use crate::sink::spec::{Subscription, Target, check_id};
use crate::sink::{jsonrpc, nats, webhook};

mod api;

pub use crate::sink::spec::MAX_SUBSCRIPTIONS;
/// The file in the state directory.
pub const FILE: &str = "subscriptions.json";

/// The file's contents.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    version: u32,
    subscriptions: Vec<Spec>,
}

/// Handle to the subscriptions (cheap to clone).
#[derive(Clone)]
pub struct Subscriptions {
    inner: Arc<Inner>,
}

struct Inner {
    broker: Broker,
    state_dir: PathBuf,
    node: String,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Set by [`Subscriptions::start`]: the parent of every task's token.
    running: Mutex<Option<CancellationToken>>,
    /// Webhook tasks that gave up (`drop_after`) send their id here.
    gave_up: mpsc::UnboundedSender<String>,
    gave_up_rx: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
    /// Where the ids of API subscriptions that gave up go (the API drops
    /// the consumer); unset: they are only stopped.
    api_gave_up: Mutex<Option<mpsc::UnboundedSender<String>>>,
}

struct Entry {
    sub: Subscription,
    outbox: Arc<Outbox>,
    cancel: Option<CancellationToken>,
}

impl Subscriptions {
    /// The config's subscriptions and the state directory's, checked, not
    /// started yet. A state file that cannot be read is an error: starting
    /// without subscriptions someone relies on would be silent loss.
    /// `declared` are the config file's ([`crate::sink::spec::declared`]),
    /// `node` fills `{node}` in NATS subjects.
    pub fn load(
        broker: Broker,
        state_dir: &Path,
        node: String,
        declared: Vec<Subscription>,
    ) -> Result<Subscriptions, String> {
        let state_dir = state_dir.to_path_buf();
        let mut entries = BTreeMap::new();
        let add = |entries: &mut BTreeMap<String, Entry>, sub: Subscription| {
            let id = sub.spec.id.clone().unwrap_or_default();
            let outbox = Outbox::new(id.clone(), sub.filter.clone(), sub.queue);
            entries.insert(
                id,
                Entry {
                    sub,
                    outbox,
                    cancel: None,
                },
            );
        };
        for sub in declared {
            add(&mut entries, sub);
        }
        let path = state_dir.join(FILE);
        let saved = read_saved::<Saved>(&path)?.map_or_else(Vec::new, |s| s.subscriptions);
        let mut runtime = Vec::new();
        for spec in saved {
            let sub = Subscription::parse(spec, Declared::Runtime, &node)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            runtime.push(sub);
        }
        for sub in runtime {
            let id = sub.spec.id.clone().unwrap_or_default();
            if entries.contains_key(&id) {
                return Err(format!(
                    "{}: subscription {id} is also declared in the config file",
                    path.display()
                ));
            }
            add(&mut entries, sub);
        }
        let (gave_up, gave_up_rx) = mpsc::unbounded_channel();
        Ok(Subscriptions {
            inner: Arc::new(Inner {
                broker,
                state_dir,
                node,
                entries: Mutex::new(entries),
                running: Mutex::new(None),
                gave_up,
                gave_up_rx: Mutex::new(Some(gave_up_rx)),
                api_gave_up: Mutex::new(None),
            }),
        })
    }

    /// Start every sink task; they stop when `shutdown` is cancelled.
    pub fn start(&self, shutdown: &CancellationToken) {
        *self.running() = Some(shutdown.clone());
        let mut entries = self.entries();
        for entry in entries.values_mut() {
            // The API's are attached already and started by the API.
            if entry.sub.declared != Declared::Api {
                entry.cancel = Some(self.spawn(&entry.sub, &entry.outbox, shutdown));
            }
        }
        drop(entries);
        let taken = self
            .inner
            .gave_up_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut gave_up) = taken {
            let this = self.clone();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    let id = tokio::select! {
                        _ = stop.cancelled() => return,
                        id = gave_up.recv() => match id { Some(id) => id, None => return },
                    };
                    this.gave_up(&id);
                }
            });
        }
    }

    fn spawn(
        &self,
        sub: &Subscription,
        outbox: &Arc<Outbox>,
        parent: &CancellationToken,
    ) -> CancellationToken {
        self.inner.broker.attach(Arc::clone(outbox));
        self.spawn_attached(sub, outbox, parent)
    }

    /// Start the task of an outbox the core already feeds.
    fn spawn_attached(
        &self,
        sub: &Subscription,
        outbox: &Arc<Outbox>,
        parent: &CancellationToken,
    ) -> CancellationToken {
        let cancel = parent.child_token();
        let broker = self.inner.broker.clone();
        let outbox = Arc::clone(outbox);
        tracing::info!(
            id = outbox.id(),
            uri = %sub.spec.uri,
            declared = sub.declared.as_str(),
            "subscription active"
        );
        let c = cancel.clone();
        match sub.target.clone() {
            Target::Webhook(cfg) => {
                let gave_up = self.inner.gave_up.clone();
                let id = outbox.id().to_owned();
                tokio::spawn(async move {
                    if webhook::run(cfg, outbox, broker, c).await == webhook::Ended::GaveUp {
                        let _ = gave_up.send(id);
                    }
                })
            }
            Target::JsonRpc(cfg) => tokio::spawn(jsonrpc::run(cfg, outbox, broker, c)),
            Target::Nats(cfg) => tokio::spawn(nats::run(cfg, outbox, broker, c)),
        };
        cancel
    }

    /// Add a run-time subscription: checked, written to the state
    /// directory, then started. Returns it as listed.
    pub fn subscribe(&self, mut spec: Spec) -> Result<Listed, String> {
        let mut entries = self.entries();
        if entries.len() >= MAX_SUBSCRIPTIONS {
            return Err(format!("already {MAX_SUBSCRIPTIONS} subscriptions"));
        }
        let generated = spec.id.is_none();
        let id = match &spec.id {
            Some(id) => id.clone(),
            None => {
                let id = loop {
                    let id = format!("s-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
                    if !entries.contains_key(&id) {
                        break id;
                    }
                };
                spec.id = Some(id.clone());
                id
            }
        };
        check_id(&id)?;
        if entries.contains_key(&id) {
            return Err(format!("subscription {id} exists"));
        }
        let sub = Subscription::parse(spec, Declared::Runtime, &self.inner.node).map_err(|e| {
            // An id the user never saw only clutters the reason.
            let prefix = format!("subscription {id}: ");
            match e.strip_prefix(&prefix) {
                Some(reason) if generated => reason.to_owned(),
                _ => e,
            }
        })?;
        let mut runtime: Vec<Spec> = runtime_specs(&entries);
        runtime.push(sub.spec.clone());
        self.save(&runtime)?;
        let outbox = Outbox::new(id.clone(), sub.filter.clone(), sub.queue);
        let cancel = self
            .running()
            .clone()
            .map(|parent| self.spawn(&sub, &outbox, &parent));
        let listed = Listed {
            declared: sub.declared,
            subscription: sub.spec.clone(),
        };
        entries.insert(
            id,
            Entry {
                sub,
                outbox,
                cancel,
            },
        );
        Ok(listed)
    }

    /// Remove a run-time subscription; its queue is dropped.
    pub fn unsubscribe(&self, id: &str) -> Result<Listed, String> {
        let mut entries = self.entries();
        let Some(entry) = entries.get(id) else {
            return Err(format!("no subscription {id:?}"));
        };
        match entry.sub.declared {
            Declared::Config => {
                return Err(format!(
                    "subscription {id} is declared in the config file; remove it there and restart"
                ));
            }
            Declared::Api => {
                return Err(format!(
                    "subscription {id} belongs to an O-RAN API consumer; DELETE it through the API"
                ));
            }
            Declared::Runtime => {}
        }
        let runtime: Vec<Spec> = runtime_specs(&entries)
            .into_iter()
            .filter(|s| s.id.as_deref() != Some(id))
            .collect();
        self.save(&runtime)?;
        let entry = entries.remove(id).expect("checked above");
        self.inner.broker.detach(id);
        if let Some(cancel) = &entry.cancel {
            cancel.cancel();
        }
        tracing::info!(id, "subscription removed");
        Ok(Listed {
            declared: entry.sub.declared,
            subscription: entry.sub.spec,
        })
    }

    /// Every subscription, by id.
    pub fn list(&self) -> Vec<Listed> {
        self.entries()
            .values()
            .map(|e| Listed {
                declared: e.sub.declared,
                subscription: e.sub.spec.clone(),
            })
            .collect()
    }

    /// Add `sink.ID.NAME` for every subscription's counters to `counters`.
    pub fn counters(&self, counters: &mut BTreeMap<String, u64>) {
        use std::sync::atomic::Ordering::Relaxed;
        for (id, e) in self.entries().iter() {
            let c = &e.outbox.counters;
            for (name, value) in [
                ("delivered", c.delivered.load(Relaxed)),
                ("retried", c.retried.load(Relaxed)),
                ("failed", c.failed.load(Relaxed)),
                ("dropped", c.dropped.load(Relaxed)),
                ("dead_lettered", c.dead_lettered.load(Relaxed)),
                ("queue_depth", e.outbox.depth() as u64),
            ] {
                counters.insert(format!("sink.{id}.{name}"), value);
            }
        }
    }

    fn save(&self, runtime: &[Spec]) -> Result<(), String> {
        let saved = Saved {
            version: 1,
            subscriptions: runtime.to_vec(),
        };
        let bytes = serde_json::to_vec_pretty(&saved).map_err(|e| e.to_string())?;
        write_atomically(&self.inner.state_dir, FILE, &bytes).map_err(|e| {
            format!(
                "cannot save the subscriptions in {}: {e} (set state_dir / --state-dir)",
                self.inner.state_dir.display()
            )
        })
    }

    fn entries(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.inner.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn running(&self) -> MutexGuard<'_, Option<CancellationToken>> {
        self.inner.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn runtime_specs(entries: &BTreeMap<String, Entry>) -> Vec<Spec> {
    entries
        .values()
        .filter(|e| e.sub.declared == Declared::Runtime)
        .map(|e| e.sub.spec.clone())
        .collect()
}

/// Read a JSON file of the state directory: `None` if there is none, an
/// error naming the file if it cannot be read or parsed (starting without
/// what someone relies on would be silent loss).
pub fn read_saved<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e} (fix or remove the file)", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Write `dir/name` so that a crash leaves the old file or the new one.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests;
