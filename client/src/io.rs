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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog::EventType;
use proto::frame::{self, DecodeError, Message};
use proto::query::{Reply, Request};
use proto::{Delivery, Event};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use zeromq::{Socket, SocketOptions, SocketRecv, SubSocket};

use crate::registry::{Offer, Registration, RegistrationId};
use crate::{ClientConfig, Error, Shared, Status, query};

/// How often the actor checks liveness, deadlines and lagging callbacks.
const TICK: Duration = Duration::from_millis(100);
/// How long to wait for a sync marker before asking again.
const SYNC_RETRY: Duration = Duration::from_millis(250);
/// Pause between attempts to reach a broker that is not there.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);
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
    Connected(Result<SubSocket, String>),
    SyncAnswered(Result<Reply, Error>),
    Initial(RegistrationId, Result<Reply, Error>),
    Repaired(Result<Reply, Error>),
}

/// What the reader task forwards from the SUB socket.
enum FromSub {
    Message(Message),
    Bad(DecodeError),
}

/// A registration waiting for its initial state.
struct Pending {
    registration: Registration,
    reply: oneshot::Sender<Result<RegistrationId, Error>>,
    deadline: Instant,
    requested: bool,
    /// Live events of its type seen while waiting (bounded by the callback queue).
    buffer: Vec<Event>,
}

pub(crate) struct Io {
    config: ClientConfig,
    shared: Arc<Shared>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    /// The reader task and its output, while a SUB socket exists.
    reader: Option<(JoinHandle<()>, mpsc::Receiver<FromSub>)>,
    connecting: bool,
    next_connect: Instant,
    synced: bool,
    sync_token: Option<(String, Instant)>,
    tokens: u64,
    epoch: Option<u64>,
    last_seq: u64,
    last_heard: Instant,
    interval: Duration,
    active: HashMap<EventType, Vec<Registration>>,
    pending: Vec<Pending>,
    /// Latest event per (type, resource) of the registered types, this run.
    cache: HashMap<(EventType, String), Event>,
    repair_in_flight: bool,
    repair_wanted: bool,
}

impl Io {
    pub(crate) fn new(config: ClientConfig, shared: Arc<Shared>) -> Io {
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        Io {
            config,
            shared,
            internal_tx,
            internal_rx,
            reader: None,
            connecting: false,
            next_connect: Instant::now(),
            synced: false,
            sync_token: None,
            tokens: 0,
            epoch: None,
            last_seq: 0,
            last_heard: Instant::now(),
            interval: DEFAULT_INTERVAL,
            active: HashMap::new(),
            pending: Vec::new(),
            cache: HashMap::new(),
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
                from_sub = next_from_sub(&mut self.reader) => match from_sub {
                    Some(FromSub::Message(message)) => self.on_message(message),
                    Some(FromSub::Bad(e)) => {
                        self.shared.count(|s| s.bad_frames += 1);
                        tracing::warn!("undecodable frame from broker: {e}");
                    }
                    None => self.drop_session(),
                },
                _ = ticker.tick() => self.on_tick(),
            }
        }
        self.drop_session();
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
                    self.cache.retain(|(t, _), _| *t != event_type);
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
            Internal::Connected(Ok(socket)) => {
                self.connecting = false;
                let (tx, rx) = mpsc::channel(4096);
                let handle = tokio::spawn(read(socket, tx));
                self.reader = Some((handle, rx));
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

    fn on_message(&mut self, message: Message) {
        self.last_heard = Instant::now();
        let (epoch, announced) = match &message {
            Message::Heartbeat(h) => (h.epoch, Some(h.seq)),
            Message::Sync(m) => (m.epoch, Some(m.seq)),
            Message::Event(e) => (e.meta.epoch, None),
            _ => return,
        };
        let baseline = announced.unwrap_or_else(|| match &message {
            Message::Event(e) => e.meta.seq.saturating_sub(1),
            _ => 0,
        });
        match self.epoch {
            None => {
                self.epoch = Some(epoch);
                self.last_seq = baseline;
            }
            Some(known) if known != epoch => {
                tracing::info!(
                    old = known,
                    new = epoch,
                    "broker restarted; resynchronizing"
                );
                self.shared.count(|s| s.restarts += 1);
                self.epoch = Some(epoch);
                self.last_seq = baseline;
                self.cache.clear();
                // Also when the outage was too short to be Lost: a restart
                // is news for the application, and so is what it forgot.
                self.shared.set_status(Status::Restarted {
                    previous: known,
                    epoch,
                });
                self.request_repair();
            }
            Some(_) => {}
        }
        if self.shared.status().epoch() != Some(epoch) {
            self.shared.set_status(Status::Connected { epoch });
        }
        match message {
            Message::Heartbeat(h) => {
                self.interval = Duration::from_millis(h.interval_ms.clamp(10, 60_000));
                self.check_announced(h.seq);
            }
            Message::Sync(m) => {
                self.check_announced(m.seq);
                if self.sync_token.as_ref().is_some_and(|(t, _)| *t == m.token) {
                    self.synced = true;
                    self.sync_token = None;
                    self.request_initials();
                }
            }
            Message::Event(e) => {
                if e.meta.seq <= self.last_seq {
                    return;
                }
                if e.meta.seq > self.last_seq + 1 {
                    self.note_gap(self.last_seq, e.meta.seq);
                }
                self.last_seq = e.meta.seq;
                self.deliver_live(e);
            }
            _ => {}
        }
    }

    /// A heartbeat or marker says events up to `seq` were published.
    fn check_announced(&mut self, seq: u64) {
        if seq > self.last_seq {
            self.note_gap(self.last_seq, seq + 1);
            self.last_seq = seq;
        }
    }

    fn note_gap(&mut self, last: u64, next: u64) {
        tracing::warn!(
            "missed events {}..{}; repairing from current state",
            last + 1,
            next - 1
        );
        self.shared.count(|s| s.gaps += 1);
        self.request_repair();
    }

    fn deliver_live(&mut self, event: Event) {
        let watched = self.active.contains_key(&event.event_type)
            || self
                .pending
                .iter()
                .any(|p| p.registration.event_type == event.event_type);
        if !watched {
            return;
        }
        let capacity = self.config.callback_queue;
        for p in self
            .pending
            .iter_mut()
            .filter(|p| p.registration.event_type == event.event_type)
        {
            if p.buffer.len() < capacity {
                p.buffer.push(event.clone());
            } else {
                // Caught up from the cache once active.
                p.registration.lagged = true;
            }
        }
        if let Some(list) = self.active.get_mut(&event.event_type) {
            for r in list.iter_mut().filter(|r| !r.lagged) {
                match r.offer(&event, Delivery::Live) {
                    Offer::Sent => self.shared.count(|s| s.delivered += 1),
                    Offer::Full => {
                        r.lagged = true;
                        self.shared.count(|s| s.overflows += 1);
                        tracing::warn!(
                            registration = r.id.get(),
                            "callback queue full; it will skip to the current state"
                        );
                    }
                    Offer::Seen | Offer::Closed => {}
                }
            }
        }
        self.remember(event);
    }

    /// Keep `event` as the latest of its resource if it is newer.
    fn remember(&mut self, event: Event) {
        let key = (
            event.event_type.clone(),
            event.resource_address().to_owned(),
        );
        let newer = self
            .cache
            .get(&key)
            .is_none_or(|old| old.meta.epoch != event.meta.epoch || old.meta.seq < event.meta.seq);
        if newer {
            self.cache.insert(key, event);
        }
    }

    fn on_initial(&mut self, id: RegistrationId, result: Result<Reply, Error>) {
        let Some(index) = self.pending.iter().position(|p| p.registration.id == id) else {
            return;
        };
        let reply = match result {
            Ok(reply) if Some(reply.epoch) == self.epoch => reply,
            Ok(_) => {
                // The broker restarted between the marker and the query: ask
                // again once the stream shows the new run.
                self.pending[index].requested = false;
                return;
            }
            Err(e) => {
                let p = self.pending.swap_remove(index);
                let _ = p.reply.send(Err(e));
                return;
            }
        };
        let mut p = self.pending.swap_remove(index);
        let event_type = p.registration.event_type.clone();
        // The broker follows an upstream that has not reported this type:
        // say so rather than say nothing (silence is not LOCKED).
        let unknown = reply.events.iter().all(|e| e.event_type != event_type)
            && reply.unknown.iter().any(|t| *t == event_type.as_str());
        for event in reply.events {
            if p.registration.offer(&event, Delivery::Initial) == Offer::Full {
                p.registration.lagged = true;
            }
            self.remember(event);
        }
        if unknown {
            let resource = event_type
                .oran()
                .map_or_else(|| format!("/{event_type}"), |o| o.resource().to_owned());
            let event = Event::unknown(event_type, &resource, reply.epoch, reply.seq);
            if p.registration.offer(&event, Delivery::Unknown) == Offer::Sent {
                self.shared.count(|s| s.unknown += 1);
            }
        }
        for event in p.buffer.drain(..).filter(|e| e.meta.seq > reply.seq) {
            if !p.registration.lagged && p.registration.offer(&event, Delivery::Live) == Offer::Full
            {
                p.registration.lagged = true;
            }
        }
        let id = p.registration.id;
        // `register` returns once the callback has run for the initial state.
        let reply = p.reply;
        p.registration.after_queued(Box::new(move || {
            let _ = reply.send(Ok(id));
        }));
        self.active
            .entry(p.registration.event_type.clone())
            .or_default()
            .push(p.registration);
    }

    fn on_repaired(&mut self, result: Result<Reply, Error>) {
        self.repair_in_flight = false;
        let reply = match result {
            Ok(reply) if Some(reply.epoch) == self.epoch => reply,
            Ok(_) => {
                self.repair_wanted = true;
                return;
            }
            Err(e) => {
                tracing::warn!("repair query failed, will retry: {e}");
                self.repair_wanted = true;
                return;
            }
        };
        // What the broker holds now, by type and resource: whatever a
        // registration had a state for and the broker no longer holds (a
        // new run that has not heard of it yet) is unknown, and is said so.
        let holds: std::collections::HashSet<(EventType, String)> = reply
            .events
            .iter()
            .map(|e| (e.event_type.clone(), e.resource_address().to_owned()))
            .collect();
        for event in reply.events {
            if let Some(list) = self.active.get_mut(&event.event_type) {
                for r in list.iter_mut().filter(|r| !r.lagged) {
                    match r.offer(&event, Delivery::Repaired) {
                        Offer::Sent => self.shared.count(|s| s.repaired += 1),
                        Offer::Full => r.lagged = true,
                        Offer::Seen | Offer::Closed => {}
                    }
                }
            }
            self.remember(event);
        }
        let mut told = Vec::new();
        for (event_type, list) in self.active.iter_mut() {
            for r in list.iter_mut().filter(|r| !r.lagged) {
                let gone = r
                    .unknown_resources(|res| holds.contains(&(event_type.clone(), res.to_owned())));
                for resource in gone {
                    let event =
                        Event::unknown(event_type.clone(), &resource, reply.epoch, reply.seq);
                    match r.offer(&event, Delivery::Unknown) {
                        Offer::Sent => told.push(event),
                        Offer::Full => r.lagged = true,
                        Offer::Seen | Offer::Closed => {}
                    }
                }
            }
        }
        for event in told {
            self.shared.count(|s| s.unknown += 1);
            self.remember(event);
        }
        if self.repair_wanted {
            self.request_repair();
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        let wanted = !self.active.is_empty() || !self.pending.is_empty();
        // Liveness: silence longer than N heartbeats means the broker is gone.
        if self.reader.is_some()
            && now.duration_since(self.last_heard) > self.interval * self.config.heartbeat_misses
        {
            if !matches!(self.shared.status(), Status::Lost { .. }) {
                tracing::warn!(
                    "no heartbeat from the broker for {:?}: broker lost",
                    now.duration_since(self.last_heard)
                );
                self.shared.set_status(Status::Lost { since: now });
            }
            self.drop_session();
        }
        if wanted {
            self.ensure_session();
        }
        if self.reader.is_some()
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
            if now >= p.deadline {
                let _ = p.reply.send(Err(Error::Unavailable {
                    endpoint: self.config.publish.clone(),
                    reason: format!(
                        "no current state from the broker within {:?}",
                        self.config.timeout
                    ),
                }));
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

    /// Give every lagging registration the cached state it has not seen.
    fn catch_up_lagged(&mut self) {
        let cache = &self.cache;
        for (event_type, list) in self.active.iter_mut() {
            for r in list.iter_mut().filter(|r| r.lagged) {
                let mut missing: Vec<&Event> = cache
                    .iter()
                    .filter(|((t, _), e)| t == event_type && r.is_new(e))
                    .map(|(_, e)| e)
                    .collect();
                missing.sort_by_key(|e| e.meta.seq);
                r.lagged = false;
                for e in missing {
                    let delivery = match e.is_unknown() {
                        true => Delivery::Unknown,
                        false => Delivery::Repaired,
                    };
                    match r.offer(e, delivery) {
                        Offer::Sent => self.shared.count(|s| s.repaired += 1),
                        Offer::Full => {
                            r.lagged = true;
                            break;
                        }
                        Offer::Seen | Offer::Closed => {}
                    }
                }
            }
        }
    }

    fn ensure_session(&mut self) {
        if self.reader.is_some() || self.connecting || Instant::now() < self.next_connect {
            return;
        }
        self.connecting = true;
        let endpoint = self.config.publish.clone();
        let timeout = self.config.timeout;
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(Internal::Connected(connect_sub(&endpoint, timeout).await));
        });
    }

    fn drop_session(&mut self) {
        if let Some((handle, _)) = self.reader.take() {
            handle.abort();
        }
        self.synced = false;
        self.sync_token = None;
        self.next_connect = Instant::now() + RECONNECT_PAUSE;
    }

    fn start_sync(&mut self) {
        self.tokens += 1;
        let token = format!(
            "{}-{}-{}",
            std::process::id(),
            self.tokens,
            self.shared.nonce
        );
        self.sync_token = Some((token.clone(), Instant::now()));
        self.spawn_query(Request::Sync { token }, Internal::SyncAnswered);
    }

    fn request_initials(&mut self) {
        if !self.synced {
            return;
        }
        let mut requests = Vec::new();
        for p in self.pending.iter_mut().filter(|p| !p.requested) {
            p.requested = true;
            requests.push((p.registration.id, p.registration.event_type.to_string()));
        }
        for (id, event_type) in requests {
            self.spawn_state(vec![event_type], move |result| {
                Internal::Initial(id, result)
            });
        }
    }

    fn request_repair(&mut self) {
        if self.active.is_empty() {
            return;
        }
        if self.repair_in_flight {
            self.repair_wanted = true;
            return;
        }
        self.repair_in_flight = true;
        self.repair_wanted = false;
        let types = self.active.keys().map(ToString::to_string).collect();
        self.spawn_state(types, Internal::Repaired);
    }

    /// Read the whole state of `types`, page by page (`query::state`).
    fn spawn_state(
        &self,
        types: Vec<String>,
        wrap: impl FnOnce(Result<Reply, Error>) -> Internal + Send + 'static,
    ) {
        let endpoint = self.config.query.clone();
        let timeout = self.config.timeout;
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = query::state(&endpoint, types, String::new(), timeout).await;
            let _ = tx.send(wrap(result));
        });
    }

    fn spawn_query(
        &self,
        request: Request,
        wrap: impl FnOnce(Result<Reply, Error>) -> Internal + Send + 'static,
    ) {
        let endpoint = self.config.query.clone();
        let timeout = self.config.timeout;
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let result = query::request(&endpoint, &request, timeout).await;
            let _ = tx.send(wrap(result));
        });
    }
}

/// The next item from the reader, or never if there is no reader.
async fn next_from_sub(
    reader: &mut Option<(JoinHandle<()>, mpsc::Receiver<FromSub>)>,
) -> Option<FromSub> {
    match reader {
        Some((_, rx)) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn connect_sub(endpoint: &str, timeout: Duration) -> Result<SubSocket, String> {
    let mut options = SocketOptions::default();
    options.connect_timeout(timeout);
    let mut socket = SubSocket::with_options(options);
    // Everything: a single contiguous sequence is what makes loss visible.
    socket.subscribe("").await.map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, socket.connect(endpoint)).await {
        Ok(Ok(())) => Ok(socket),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no connection within {timeout:?}")),
    }
}

/// Decode everything the SUB socket receives, in order. A full channel makes
/// this wait, so the backlog stays in the socket and the broker's queue for
/// us, where overflow shows up as a gap rather than unbounded memory.
async fn read(mut socket: SubSocket, tx: mpsc::Sender<FromSub>) {
    loop {
        match socket.recv().await {
            Ok(message) => {
                let item = match frame::decode_frames(&message.into_vec(), proto::query::MAX_REPLY)
                {
                    Ok(m) => FromSub::Message(m),
                    Err(e) => FromSub::Bad(e),
                };
                if tx.send(item).await.is_err() {
                    return;
                }
            }
            // The socket reconnects on its own; the heartbeat watchdog
            // decides when the broker is really gone.
            Err(e) => {
                tracing::debug!("SUB receive error: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
