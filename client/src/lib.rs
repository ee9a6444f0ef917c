//! Register callbacks for the node's PTP sync events, and emit events, through
//! the node's `ptp-broker`.
//!
//! ```no_run
//! use proto::Event;
//!
//! // Runs on the client's own thread for every OS clock event: first the
//! // current state (marked Delivery::Initial), then each change.
//! let id = client::register(catalog::OS_CLOCK_SYNC, |event: &Event| {
//!     println!("OS clock is now {:?}", event.state());
//! })?;
//!
//! // Tests and tools inject synthetic events.
//! client::emit(catalog::OS_CLOCK_SYNC, "HOLDOVER".parse()?)?;
//!
//! // Is the broker there? (Silence is not LOCKED.)
//! println!("{:?}", client::status());
//! client::unregister(catalog::OS_CLOCK_SYNC, id)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The free functions use one default [`Client`], started on first use with
//! endpoints from `PTP_BROKER_EMIT`, `PTP_BROKER_PUB`, `PTP_BROKER_QUERY` or
//! the defaults. Build a [`Client`] yourself for other endpoints, and use
//! [`Client::subscribe`] for an async `Stream` of events.
//!
//! Layout: [`config`] says where the broker is; `io` is the actor on the
//! client's background thread that reads the PUB stream (its own ZMTP
//! reader), tracks epoch, sequence and heartbeats, and repairs gaps;
//! `registry` holds each registration's queue and what it has seen; `emit`
//! sends emits over the query endpoint;
//! `query` makes one request to the query endpoint; [`stream`] is the async
//! face; [`status`] the link state and counters.
#![deny(missing_docs)]

pub mod config;
mod emit;
mod error;
mod io;
mod query;
mod registry;
pub mod status;
pub mod stream;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc as std_mpsc};

use catalog::EventType;
use proto::query::Request;
use proto::{Content, Event};
use tokio::sync::{mpsc, oneshot};

pub use catalog;
pub use config::ClientConfig;
pub use error::Error;
pub use proto;
pub use registry::RegistrationId;
pub use status::{ClientStats, Status};
pub use stream::EventStream;

/// The maps the live path looks every event up in (by type, by resource
/// address), four lookups per event: foldhash, seeded per process, instead
/// of SipHash (hashing fell from 4.5% to 1.1% of the client's samples at
/// 300,000 events/s). Their keys come from the local broker, which has
/// validated and bounded them, and the seed is not visible outside.
pub(crate) type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// What [`Client::current_state`] returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CurrentState {
    /// The latest event per (type, resource), by sequence number.
    pub events: Vec<Event>,
    /// Types the broker follows an upstream for but holds no state of yet.
    pub unknown: Vec<EventType>,
}

/// A connection to one broker. Cheap to clone; all clones share one
/// background thread, which ends when the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    config: ClientConfig,
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<io::Command>,
    emits: mpsc::Sender<emit::EmitJob>,
    /// Runs queries for `current` on the I/O thread.
    handle: tokio::runtime::Handle,
}

/// State the actor and the callers both read.
pub(crate) struct Shared {
    status: Mutex<Status>,
    counters: Counters,
    next_id: AtomicU64,
    /// Makes sync tokens unique across clients in one process.
    nonce: u64,
    status_tx: Mutex<std_mpsc::Sender<StatusMsg>>,
    /// Where callback threads put the events they are done with, so that
    /// the I/O thread, which allocated them, also frees them (see
    /// [`io::SPENT_QUEUE`]).
    pub(crate) spent: std_mpsc::SyncSender<Arc<Event>>,
}

pub(crate) enum StatusMsg {
    Watch(Box<dyn Fn(Status) + Send>),
    Changed(Status),
}

/// [`ClientStats`] as the actor and the callback threads count them: one
/// atomic add, no lock, on the per-event path.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) delivered: AtomicU64,
    pub(crate) gaps: AtomicU64,
    pub(crate) restarts: AtomicU64,
    pub(crate) unknown: AtomicU64,
    pub(crate) repaired: AtomicU64,
    pub(crate) overflows: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) panics: AtomicU64,
    pub(crate) bad_frames: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ClientStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientStats {
            delivered: get(&self.delivered),
            gaps: get(&self.gaps),
            restarts: get(&self.restarts),
            unknown: get(&self.unknown),
            repaired: get(&self.repaired),
            overflows: get(&self.overflows),
            skipped: get(&self.skipped),
            panics: get(&self.panics),
            bad_frames: get(&self.bad_frames),
        }
    }
}

impl Shared {
    /// The state, with the receiving ends of its status channel (for the
    /// status thread) and of its spent events (for the I/O actor).
    #[allow(clippy::type_complexity)]
    pub(crate) fn new() -> (
        Arc<Shared>,
        std_mpsc::Receiver<StatusMsg>,
        std_mpsc::Receiver<Arc<Event>>,
    ) {
        static NONCE: AtomicU64 = AtomicU64::new(0);
        let (status_tx, status_rx) = std_mpsc::channel();
        let (spent, spent_rx) = std_mpsc::sync_channel(io::SPENT_QUEUE);
        let shared = Arc::new(Shared {
            status: Mutex::new(Status::Connecting),
            counters: Counters::default(),
            next_id: AtomicU64::new(1),
            nonce: NONCE.fetch_add(1, Ordering::Relaxed),
            status_tx: Mutex::new(status_tx),
            spent,
        });
        (shared, status_rx, spent_rx)
    }

    /// Add one to the counter `f` picks.
    pub(crate) fn bump(&self, f: impl FnOnce(&Counters) -> &AtomicU64) {
        f(&self.counters).fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn status(&self) -> Status {
        *self.status.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_status(&self, status: Status) {
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = status;
        let _ = self
            .status_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(StatusMsg::Changed(status));
    }
}

impl Client {
    /// Start a client (its background thread) for `config`. Nothing is
    /// connected until the first register, emit or query.
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        let (shared, status_rx, spent_rx) = Shared::new();
        spawn_status_thread(status_rx)?;
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (emits, emit_rx) = mpsc::channel(1024);
        let (handle_tx, handle_rx) = std_mpsc::channel();
        let io = io::Io::new(config.clone(), shared.clone(), spent_rx);
        let (emit_endpoint, timeout) = (config.query.clone(), config.timeout);
        std::thread::Builder::new()
            .name("ptp-broker-client".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!("client runtime: {e}");
                        return;
                    }
                };
                let _ = handle_tx.send(runtime.handle().clone());
                runtime.spawn(emit::run(emit_rx, emit_endpoint, timeout));
                runtime.block_on(io.run(command_rx));
            })
            .map_err(|_| Error::Closed)?;
        let handle = handle_rx.recv().map_err(|_| Error::Closed)?;
        Ok(Client {
            config,
            shared,
            commands,
            emits,
            handle,
        })
    }

    /// This client's settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Call `callback` for every event of `event_type`, on a thread of its own.
    ///
    /// Returns once the registration is in effect: the callback has run for
    /// the current state of that type (if the broker has one, marked
    /// [`proto::Delivery::Initial`]) and will see every later event. An event
    /// emitted after this returns is not missed. Errors if the broker does not
    /// answer within the configured timeout; nothing stays registered then.
    pub fn register<F>(
        &self,
        event_type: impl Into<EventType>,
        callback: F,
    ) -> Result<RegistrationId, Error>
    where
        F: Fn(&Event) + Send + 'static,
    {
        let id = self.next_id();
        let registration = registry::Registration::with_callback(
            id,
            event_type.into(),
            Box::new(callback),
            self.config.callback_queue,
            self.shared.clone(),
        )
        .map_err(|_| Error::Closed)?;
        self.wait(|reply| io::Command::Register {
            registration,
            reply,
        })
    }

    /// Stop calling the callback registered as `id` for `event_type`.
    pub fn unregister(
        &self,
        event_type: impl Into<EventType>,
        id: RegistrationId,
    ) -> Result<(), Error> {
        let event_type = event_type.into();
        self.wait(|reply| io::Command::Unregister {
            event_type,
            id: Some(id),
            reply,
        })
        .map(|_| ())
    }

    /// Remove every registration of `event_type`; returns how many there were.
    pub fn unregister_all(&self, event_type: impl Into<EventType>) -> Result<usize, Error> {
        let event_type = event_type.into();
        self.wait(|reply| io::Command::Unregister {
            event_type,
            id: None,
            reply,
        })
    }

    /// Emit a synthetic event of `event_type` with `content` (e.g.
    /// `"HOLDOVER".parse()?`) and wait until the broker has it.
    ///
    /// `Ok(seq)`: the broker accepted the event as sequence number `seq`
    /// and is publishing it. `Err`: it was not accepted, and the error says
    /// why (refused as invalid, or the broker unreachable — after a broker
    /// restart the next emit reconnects by itself).
    pub fn emit(&self, event_type: impl Into<EventType>, content: Content) -> Result<u64, Error> {
        self.emit_event(&Event::synthetic(event_type.into(), content))
    }

    /// Emit a fully built event (its stamps are ignored: the broker stamps).
    pub fn emit_event(&self, event: &Event) -> Result<u64, Error> {
        let (reply, rx) = oneshot::channel();
        let job = emit::EmitJob {
            event: event.into(),
            reply,
        };
        futures::executor::block_on(self.emits.send(job)).map_err(|_| Error::Closed)?;
        futures::executor::block_on(rx).map_err(|_| Error::Closed)?
    }

    /// [`Client::emit_event`], from async code.
    pub async fn emit_async(&self, event: &Event) -> Result<u64, Error> {
        let (reply, rx) = oneshot::channel();
        let job = emit::EmitJob {
            event: event.into(),
            reply,
        };
        self.emits.send(job).await.map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// The broker's current state of `event_type`: the latest event per
    /// resource (the O-RAN "pull"). Empty if the broker has none.
    pub fn current(&self, event_type: impl Into<EventType>) -> Result<Vec<Event>, Error> {
        self.state(vec![event_type.into().to_string()], String::new())
            .map(|reply| reply.events)
    }

    /// The current state of every type (or of the types starting with `prefix`).
    pub fn current_all(&self, prefix: &str) -> Result<Vec<Event>, Error> {
        self.state(Vec::new(), prefix.to_owned())
            .map(|reply| reply.events)
    }

    /// The broker's state table for `types` (all types when empty): the
    /// latest event per resource, and the types whose state is unknown (the
    /// broker follows an upstream that has not reported them yet).
    pub fn current_state(&self, types: &[EventType]) -> Result<CurrentState, Error> {
        let reply = self.state(
            types.iter().map(ToString::to_string).collect(),
            String::new(),
        )?;
        Ok(CurrentState {
            events: reply.events,
            unknown: reply
                .unknown
                .iter()
                .filter_map(|t| EventType::new(t).ok())
                .collect(),
        })
    }

    /// The broker's counters.
    pub fn broker_stats(&self) -> Result<std::collections::BTreeMap<String, u64>, Error> {
        self.query(Request::Stats).map(|reply| reply.counters)
    }

    /// The broker's PUB subscriber connections (peer, subscriptions,
    /// queue depth, drops), as `ptp-broker stats` lists them.
    pub fn broker_connections(&self) -> Result<Vec<proto::query::Connection>, Error> {
        self.query(Request::Stats).map(|reply| reply.connections)
    }

    /// The whole state selected, read page by page.
    fn state(&self, types: Vec<String>, prefix: String) -> Result<proto::query::Reply, Error> {
        let (endpoint, timeout) = (self.config.query.clone(), self.config.timeout);
        let task = self
            .handle
            .spawn(async move { query::state(&endpoint, types, prefix, timeout).await });
        futures::executor::block_on(task).map_err(|_| Error::Closed)?
    }

    fn query(&self, request: Request) -> Result<proto::query::Reply, Error> {
        let (endpoint, timeout) = (self.config.query.clone(), self.config.timeout);
        let task = self
            .handle
            .spawn(async move { query::request(&endpoint, &request, timeout).await });
        futures::executor::block_on(task).map_err(|_| Error::Closed)?
    }

    /// An async stream of the events of `event_type`, starting with the
    /// current state. Same guarantees as [`Client::register`].
    pub async fn subscribe(&self, event_type: impl Into<EventType>) -> Result<EventStream, Error> {
        let id = self.next_id();
        let (tx, rx) = mpsc::channel(self.config.callback_queue);
        let registration = registry::Registration::with_stream(id, event_type.into(), tx);
        let (reply, reply_rx) = oneshot::channel();
        self.commands
            .send(io::Command::Register {
                registration,
                reply,
            })
            .map_err(|_| Error::Closed)?;
        let id = reply_rx.await.map_err(|_| Error::Closed)??;
        Ok(EventStream { id, rx })
    }

    /// The link to the broker, as of the last heartbeat check.
    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// Call `callback` (on a status thread) whenever the status changes:
    /// `Lost` when heartbeats stop, `Connected` when they return or a
    /// restarted broker is found.
    pub fn on_status<F: Fn(Status) + Send + 'static>(&self, callback: F) {
        let _ = self
            .shared
            .status_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(StatusMsg::Watch(Box::new(callback)));
    }

    /// This client's delivery counters (gaps, restarts, repairs…).
    pub fn stats(&self) -> ClientStats {
        self.shared.counters.snapshot()
    }

    fn next_id(&self) -> RegistrationId {
        RegistrationId(self.shared.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn wait<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> io::Command,
    ) -> Result<T, Error> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(command(reply))
            .map_err(|_| Error::Closed)?;
        futures::executor::block_on(rx).map_err(|_| Error::Closed)?
    }
}

fn spawn_status_thread(rx: std_mpsc::Receiver<StatusMsg>) -> Result<(), Error> {
    std::thread::Builder::new()
        .name("ptp-broker-status".to_owned())
        .spawn(move || {
            let mut watchers: Vec<Box<dyn Fn(Status) + Send>> = Vec::new();
            for msg in rx {
                match msg {
                    StatusMsg::Watch(w) => watchers.push(w),
                    StatusMsg::Changed(status) => {
                        for w in &watchers {
                            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w(status)))
                                .is_err()
                            {
                                tracing::error!("status callback panicked");
                            }
                        }
                    }
                }
            }
        })
        .map(|_| ())
        .map_err(|_| Error::Closed)
}

/// Send one request to the query socket at `endpoint` and read its reply
/// within `timeout`; a refusal is [`Error::Refused`] with the broker's
/// reason. The requests are in docs/PROTOCOL.md (`ptp-broker subscribe`
/// and friends use this).
pub async fn request(
    endpoint: &str,
    request: &proto::query::Request,
    timeout: std::time::Duration,
) -> Result<proto::query::Reply, Error> {
    query::request(endpoint, request, timeout).await
}

/// The client the free functions use, started on first use from the environment.
pub fn default_client() -> Result<&'static Client, Error> {
    static DEFAULT: OnceLock<Client> = OnceLock::new();
    if let Some(c) = DEFAULT.get() {
        return Ok(c);
    }
    let client = Client::new(ClientConfig::from_env())?;
    Ok(DEFAULT.get_or_init(|| client))
}

/// [`Client::register`] on the default client.
pub fn register<F>(event_type: impl Into<EventType>, callback: F) -> Result<RegistrationId, Error>
where
    F: Fn(&Event) + Send + 'static,
{
    default_client()?.register(event_type, callback)
}

/// [`Client::unregister`] on the default client.
pub fn unregister(event_type: impl Into<EventType>, id: RegistrationId) -> Result<(), Error> {
    default_client()?.unregister(event_type, id)
}

/// [`Client::emit`] on the default client.
pub fn emit(event_type: impl Into<EventType>, content: Content) -> Result<u64, Error> {
    default_client()?.emit(event_type, content)
}

/// [`Client::current`] on the default client.
pub fn current(event_type: impl Into<EventType>) -> Result<Vec<Event>, Error> {
    default_client()?.current(event_type)
}

/// [`Client::status`] of the default client.
pub fn status() -> Status {
    default_client().map_or(Status::Connecting, Client::status)
}

/// [`Client::on_status`] on the default client.
pub fn on_status<F: Fn(Status) + Send + 'static>(callback: F) -> Result<(), Error> {
    default_client()?.on_status(callback);
    Ok(())
}
