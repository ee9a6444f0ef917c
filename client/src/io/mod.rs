//! The I/O actor: one task on the client's background thread that owns the
//! link to the broker and decides what every registration receives.
//!
//! It subscribes to the whole PUB stream (not per type), so the broker's
//! sequence numbers arrive without holes unless something was lost, and a
//! loss is always seen: as a hole between two events, or as a heartbeat that
//! announces a higher number than the last event. A loss, or a new epoch (the
//! broker restarted), is repaired with a current-state query; per-resource
//! marks in each registration keep repairs free of duplicates.
//!
//! Registering is a handshake, so that no event falls between the initial
//! state and the live stream: (1) the SUB socket is subscribed and a sync
//! marker requested on the query socket comes back on PUB — the subscription
//! is in effect; (2) the current state is queried, as of seq S; (3) live
//! events that arrived meanwhile are buffered and those after S follow the
//! initial state.
//!
//! The live path is short on purpose: the actor reads the SUB connection
//! itself (`sub`: ZMTP into one buffer, a burst per wake-up), decodes each
//! event once into an `Arc`, and offers that same `Arc` to every
//! registration's queue; counters are atomics and the status is only
//! written when it changes. One hand-off per event: to the callback thread.
//!
//! This file holds the actor; `live` the live stream; `sub` the SUB connection;
//! `session` the link to the broker (connecting, the sync marker, query
//! tasks); `state` the state taken in (initial state, repairs, unknown,
//! catching up); `pool` the spent events the next ones are decoded into.

use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog::EventType;
use proto::Event;
use proto::query::Reply;
use tokio::sync::{mpsc, oneshot};

use crate::registry::{Registration, RegistrationId};
use crate::{ClientConfig, Error, Map, Shared, Status};

mod live;
mod pool;
mod session;
mod state;
mod sub;

use pool::Pool;
use session::fill;
use sub::SubConn;

/// How often the actor checks liveness, deadlines and lagging callbacks.
const TICK: Duration = Duration::from_millis(100);
/// How long to wait for a sync marker before asking again.
const SYNC_RETRY: Duration = Duration::from_millis(250);
/// Pause between attempts to reach a broker that is not there.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);
/// Messages of a long burst decoded before the callbacks are first woken.
const FIRST_WAKE: usize = 32;
/// How many spent events the callback threads can hand back before the
/// I/O thread takes them. An event is allocated here, on the I/O thread;
/// freed on a callback thread, each of its strings would go through the
/// allocator's shared arena under its lock (glibc: the I/O thread's next
/// allocations missed their thread cache and the two threads met on the
/// arena lock, a third of the client's CPU at 200,000 events/s). Handed
/// back, they are freed where the next event is decoded. When full, the
/// callback thread frees the event itself.
pub(crate) const SPENT_QUEUE: usize = 1024;
/// Heartbeat interval assumed until the broker announces its own.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

/// What the public API asks of the actor.
pub(crate) enum Command {
    Register {
        registration: Registration,
        reply: oneshot::Sender<Result<RegistrationId, Error>>,
    },
    Unregister {
        event_type: EventType,
        id: Option<RegistrationId>,
        reply: oneshot::Sender<Result<usize, Error>>,
    },
}

/// What the actor's own helper tasks report back.
enum Internal {
    Connected(Result<SubConn, String>),
    SyncAnswered(Result<Reply, Error>),
    Initial(RegistrationId, Result<Reply, Error>),
    Repaired(Result<Reply, Error>),
}

/// A registration waiting for its initial state.
struct Pending {
    registration: Registration,
    reply: oneshot::Sender<Result<RegistrationId, Error>>,
    deadline: Instant,
    requested: bool,
    /// Live events of its type seen while waiting (bounded by the callback queue).
    buffer: Vec<Arc<Event>>,
}

pub(crate) struct Io {
    config: ClientConfig,
    shared: Arc<Shared>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    /// Events the callback threads are done with (see [`SPENT_QUEUE`]).
    spent: std::sync::mpsc::Receiver<Arc<Event>>,
    /// Spent events nobody holds, to decode the next ones into.
    pool: Pool,
    /// The SUB connection, while there is one.
    sub: Option<SubConn>,
    /// The epoch the status last set names (None: it names none).
    status_epoch: Option<u64>,
    connecting: bool,
    next_connect: Instant,
    synced: bool,
    sync_token: Option<(String, Instant)>,
    tokens: u64,
    epoch: Option<u64>,
    last_seq: u64,
    last_heard: Instant,
    interval: Duration,
    active: Map<EventType, Vec<Registration>>,
    pending: Vec<Pending>,
    /// Latest event per type and resource of the registered types, this
    /// run (nested, so that looking an event's row up allocates nothing).
    cache: Map<EventType, Map<String, Arc<Event>>>,
    repair_in_flight: bool,
    repair_wanted: bool,
}

impl Io {
    pub(crate) fn new(
        config: ClientConfig,
        shared: Arc<Shared>,
        spent: std::sync::mpsc::Receiver<Arc<Event>>,
    ) -> Io {
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        Io {
            config,
            shared,
            internal_tx,
            internal_rx,
            spent,
            pool: Pool::default(),
            sub: None,
            status_epoch: None,
            connecting: false,
            next_connect: Instant::now(),
            synced: false,
            sync_token: None,
            tokens: 0,
            epoch: None,
            last_seq: 0,
            last_heard: Instant::now(),
            interval: DEFAULT_INTERVAL,
            active: Map::default(),
            pending: Vec::new(),
            cache: Map::default(),
            repair_in_flight: false,
            repair_wanted: false,
        }
    }

    /// Run until every `Client` handle is dropped.
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
                Some(internal) = self.internal_rx.recv() => self.on_internal(internal),
                filled = fill(&mut self.sub) => match filled {
                    Ok(0) => {
                        tracing::debug!("the broker closed the PUB connection");
                        self.drop_session();
                    }
                    Ok(_) => self.drain_sub(),
                    Err(e) => {
                        tracing::debug!("PUB connection: {e}");
                        self.drop_session();
                    }
                },
                _ = ticker.tick() => self.on_tick(),
            }
            self.wake_callbacks();
            self.take_spent();
        }
        self.drop_session();
    }

    /// Take back every event the callback threads are done with.
    fn take_spent(&mut self) {
        while let Ok(spent) = self.spent.try_recv() {
            self.pool.give(spent);
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Register {
                registration,
                reply,
            } => {
                self.pending.push(Pending {
                    registration,
                    reply,
                    deadline: Instant::now() + self.config.timeout,
                    requested: false,
                    buffer: Vec::new(),
                });
                self.ensure_session();
                self.request_initials();
            }
            Command::Unregister {
                event_type,
                id,
                reply,
            } => {
                let removed = match self.active.get_mut(&event_type) {
                    Some(list) => {
                        let before = list.len();
                        list.retain(|r| id.is_some_and(|id| r.id != id));
                        before - list.len()
                    }
                    None => 0,
                };
                if self.active.get(&event_type).is_some_and(Vec::is_empty) {
                    self.active.remove(&event_type);
                    self.cache.remove(&event_type);
                }
                let result = match (id, removed) {
                    (Some(id), 0) => Err(Error::NotRegistered(id.get())),
                    _ => Ok(removed),
                };
                let _ = reply.send(result);
            }
        }
    }

    fn on_internal(&mut self, internal: Internal) {
        match internal {
            Internal::Connected(Ok(conn)) => {
                self.connecting = false;
                self.sub = Some(conn);
                self.last_heard = Instant::now();
                self.synced = false;
                self.start_sync();
            }
            Internal::Connected(Err(reason)) => {
                self.connecting = false;
                self.next_connect = Instant::now() + RECONNECT_PAUSE;
                tracing::debug!("cannot reach broker PUB {}: {reason}", self.config.publish);
            }
            Internal::SyncAnswered(Err(e)) => {
                tracing::debug!("sync request failed: {e}");
                // Ask again on a later tick.
                self.sync_token = None;
            }
            Internal::SyncAnswered(Ok(_)) => {}
            Internal::Initial(id, result) => self.on_initial(id, result),
            Internal::Repaired(result) => self.on_repaired(result),
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.pool.trim();
        let wanted = !self.active.is_empty() || !self.pending.is_empty();
        // Liveness: silence longer than N heartbeats means the broker is gone,
        // whether the connection is still open (a stopped broker, a network
        // partition) or was closed and cannot be made again (a dead broker).
        if (self.sub.is_some() || self.status_epoch.is_some())
            && now.duration_since(self.last_heard) > self.interval * self.config.heartbeat_misses
        {
            if !matches!(self.shared.status(), Status::Lost { .. }) {
                tracing::warn!(
                    "no heartbeat from the broker for {:?}: broker lost",
                    now.duration_since(self.last_heard)
                );
                self.set_status(Status::Lost { since: now });
            }
            self.drop_session();
        }
        if wanted {
            self.ensure_session();
        }
        if self.sub.is_some()
            && !self.synced
            && self
                .sync_token
                .as_ref()
                .is_none_or(|(_, at)| now.duration_since(*at) > SYNC_RETRY)
        {
            self.start_sync();
        }
        self.request_initials();
        for p in std::mem::take(&mut self.pending) {
            // Once the state query is out it has its own deadline, per page:
            // a large table read page by page is progress, not silence.
            if now >= p.deadline && !p.requested {
                // Say which side was silent: heartbeats come on PUB, the
                // sync marker is asked for on the query endpoint.
                let (endpoint, reason) = match self.epoch {
                    None => (
                        format!(
                            "{} (PUB) and {} (query)",
                            self.config.publish, self.config.query
                        ),
                        format!(
                            "no heartbeat and no answer within {:?}: is the broker running there?",
                            self.config.timeout
                        ),
                    ),
                    Some(_) => (
                        self.config.query.clone(),
                        format!(
                            "heartbeats arrive on PUB, but the query endpoint gave no state within {:?}",
                            self.config.timeout
                        ),
                    ),
                };
                let _ = p.reply.send(Err(Error::Unavailable { endpoint, reason }));
            } else {
                self.pending.push(p);
            }
        }
        self.catch_up_lagged();
        if self.repair_wanted && !self.repair_in_flight {
            self.request_repair();
        }
        for list in self.active.values_mut() {
            list.retain(|r| !r.is_closed());
        }
    }
}
