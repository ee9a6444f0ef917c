//! The PULL path into the core: an event received as its two frames, taken
//! as it came when it already is what the broker publishes.
//!
//! Decoding a body into an owned [`Event`] allocates every string, and
//! encoding it again walks it through serde: most of the broker's CPU per
//! event (docs/BENCHMARKS.md, profile). A body in the fast shape whose type
//! is its topic and whose values are in their one spelling
//! ([`proto::validate::is_canonical`]) needs neither: it is checked where it
//! lies and published with the broker's stamps spliced in
//! ([`proto::frame::View::write_stamped`]). Anything else takes the owned
//! path, which refuses with the reason or normalizes. The two paths give the
//! same answers, counters and published bytes
//! (`both_paths_agree_on_every_event`).

use std::time::Instant;

use catalog::EventType;
use proto::frame::{self, Message};
use proto::{Meta, Origin};

use super::{AcceptError, Broker};
use crate::core::stats;
use crate::core::wire::Wire;

impl Broker {
    /// Accept one event received as its two frames (PULL): as
    /// [`Broker::accept`] after decoding them, except that a body that is
    /// already what the broker publishes — the fast shape, its type the
    /// topic, its values in their one spelling — is stamped as it came
    /// instead of decoded and encoded again. `received` is when it was
    /// read: one clock reading for every message of a read, not one each
    /// (the row's receive time, and where the publish latency starts).
    /// Returns its sequence number.
    pub fn accept_frames(
        &self,
        topic: &[u8],
        body: &[u8],
        max_body: usize,
        origin: Origin,
        received: Instant,
    ) -> Result<u64, AcceptError> {
        if let Some(accepted) = self.accept_as_received(topic, body, max_body, origin, received) {
            return accepted;
        }
        match frame::decode(topic, body, max_body)? {
            Message::Event(event) => self.accept(event, origin),
            _ => Err(AcceptError::OwnTopic),
        }
    }

    /// [`Broker::accept_frames`] for a body that can be published as it
    /// came, stamped; `None`: decode it and take the owned path, which
    /// refuses with the reason, or normalizes.
    fn accept_as_received(
        &self,
        topic: &[u8],
        body: &[u8],
        max_body: usize,
        origin: Origin,
        received: Instant,
    ) -> Option<Result<u64, AcceptError>> {
        if body.len() > max_body {
            return None;
        }
        let topic = std::str::from_utf8(topic).ok()?;
        let view = frame::view(body)?;
        let event_type = EventType::from_wire(topic).ok()?;
        let as_published = view.event_type == topic && event_type.as_str() == topic;
        let allowed = !event_type.is_broker_internal()
            && (origin != Origin::Synthetic || self.shared.policy.check_type(&event_type).is_ok());
        if !(as_published && allowed && proto::validate::is_canonical(&event_type, &view)) {
            return None;
        }
        let resource = view.resource_address();
        let mut guard = self.lock();
        let state = &mut *guard;
        let meta = Meta {
            epoch: self.shared.epoch,
            seq: state.seq + 1,
            origin,
        };
        let size = view.stamped_len(meta);
        if let Err(full) = state.table.admit([(&event_type, resource, size)], origin) {
            stats::bump(&self.shared.stats.rejected_state_full);
            return Some(Err(full.into()));
        }
        let wire = Wire::write(topic.as_bytes(), size, |out| view.write_stamped(meta, out));
        state.seq = meta.seq;
        self.store(state, &event_type, resource, wire, None, meta.seq, received);
        Some(Ok(meta.seq))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;
    use proto::query::Selector;
    use proto::{Content, DataType, Event, ValueType};
    use tokio::sync::mpsc;

    use super::*;
    use crate::core::filter::Filter;
    use crate::core::outbox::Outbox;
    use crate::core::policy::EmitPolicy;
    use crate::core::shared::Outgoing;
    use crate::core::table::Limits;

    const EPOCH: u64 = 42;

    fn broker(policy: EmitPolicy) -> (Broker, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(16);
        (Broker::build(EPOCH, tx, policy, Limits::default()), rx)
    }

    fn lock_state(value: &str) -> Event {
        Event::synthetic(
            catalog::PTP_LOCK_STATE.into(),
            Content::parse(value, Some("/cluster/node/n1/ens1f0/master".into())).unwrap(),
        )
    }

    fn all() -> Selector {
        Selector::new(&[], "").unwrap()
    }

    #[test]
    fn a_canonical_body_is_published_as_it_came_with_the_stamps() {
        let (b, mut rx) = broker(EmitPolicy::Allow);
        let e = lock_state("LOCKED");
        let f = frame::encode_event(&e).unwrap();
        let max = frame::DEFAULT_MAX_BODY;
        // This body takes the stamping path, not the owned one.
        let taken = b.accept_as_received(&f.topic, &f.body, max, Origin::Synthetic, Instant::now());
        assert_eq!(taken, Some(Ok(1)));
        let mut stamped = e.clone();
        stamped.meta = Meta {
            epoch: EPOCH,
            seq: 1,
            origin: Origin::Synthetic,
        };
        let published = rx.try_recv().unwrap();
        assert_eq!(published.seq, 1);
        let expected = frame::encode_event(&stamped).unwrap();
        assert_eq!(
            &published.wire.bytes()[..],
            &proto::zmtp::encode(&expected.topic, &expected.body)[..]
        );
        assert_eq!(b.snapshot(&all()).events, [stamped]);
        // The same resource again updates its row.
        let f = frame::encode_event(&lock_state("FREERUN")).unwrap();
        assert_eq!(
            b.accept_frames(&f.topic, &f.body, max, Origin::Synthetic, Instant::now()),
            Ok(2)
        );
        let events = b.snapshot(&all()).events;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data.values[0].value, "FREERUN");
        assert_eq!(b.table_size().0, 1);
    }

    #[test]
    fn a_body_to_normalize_or_refuse_takes_the_owned_path() {
        let (b, mut rx) = broker(EmitPolicy::Allow);
        let max = frame::DEFAULT_MAX_BODY;
        let mut lower = lock_state("LOCKED");
        lower.data.values[0].value = "holdover".into();
        let f = frame::encode_event(&lower).unwrap();
        assert_eq!(
            b.accept_as_received(&f.topic, &f.body, max, Origin::Synthetic, Instant::now()),
            None
        );
        assert_eq!(
            b.accept_frames(&f.topic, &f.body, max, Origin::Synthetic, Instant::now()),
            Ok(1)
        );
        let published = rx.try_recv().unwrap().wire.event().unwrap();
        assert_eq!(published.data.values[0].value, "HOLDOVER");
        // The topic an alias of the body's type.
        let f = frame::encode_event(&lock_state("LOCKED")).unwrap();
        let alias = catalog::PTP_LOCK_STATE.name().as_bytes();
        assert_eq!(
            b.accept_as_received(alias, &f.body, max, Origin::Synthetic, Instant::now()),
            None
        );
        assert_eq!(
            b.accept_frames(alias, &f.body, max, Origin::Synthetic, Instant::now()),
            Ok(2)
        );
        // Refusals say why, as the owned path does.
        let mut wobbly = lock_state("LOCKED");
        wobbly.data.values[0].value = "WOBBLY".into();
        let f = frame::encode_event(&wobbly).unwrap();
        let err = b.accept_frames(&f.topic, &f.body, max, Origin::Synthetic, Instant::now());
        assert!(matches!(err, Err(AcceptError::Value(_))), "{err:?}");
        let heartbeat = frame::encode_heartbeat(&frame::Heartbeat {
            epoch: 1,
            seq: 1,
            interval_ms: 1000,
        });
        let err = b.accept_frames(
            &heartbeat.topic,
            &heartbeat.body,
            max,
            Origin::Synthetic,
            Instant::now(),
        );
        assert_eq!(err, Err(AcceptError::OwnTopic));
        let f = frame::encode_event(&lock_state("LOCKED")).unwrap();
        let err = b.accept_frames(&f.topic, &f.body, 100, Origin::Synthetic, Instant::now());
        assert!(
            matches!(
                err,
                Err(AcceptError::Invalid(frame::DecodeError::TooLarge { .. }))
            ),
            "{err:?}"
        );
        assert_eq!(b.seq(), 2);
    }

    #[tokio::test]
    async fn an_outbox_gets_the_stamped_event_decoded() {
        let (b, _rx) = broker(EmitPolicy::Allow);
        let outbox = Outbox::new("t".into(), Filter::default(), 4);
        b.attach(Arc::clone(&outbox));
        let f = frame::encode_event(&lock_state("LOCKED")).unwrap();
        let max = frame::DEFAULT_MAX_BODY;
        let taken = b.accept_as_received(&f.topic, &f.body, max, Origin::Synthetic, Instant::now());
        assert_eq!(taken, Some(Ok(1)));
        let got = outbox.next(&b).await.unwrap();
        assert_eq!(got.meta.seq, 1);
        assert_eq!(got.meta.epoch, EPOCH);
        assert_eq!(got.data.values[0].value, "LOCKED");
    }

    /// An event of a type, a value and a value type the rules treat
    /// differently, sent on a topic that may not be its type.
    fn case() -> impl Strategy<Value = (Event, String, usize)> {
        let kinds = prop_oneof![
            4 => Just(EventType::from(catalog::PTP_LOCK_STATE)),
            1 => Just(EventType::from(catalog::SYNCE_LOCK_STATE)),
            1 => Just(EventType::from(catalog::PTP_CLOCK_CLASS)),
            1 => Just(EventType::from(catalog::GNSS_SYNC_STATUS)),
            1 => Just(EventType::new("com.example.radio").unwrap()),
        ];
        let values = prop_oneof![
            6 => Just("LOCKED"),
            1 => Just("locked"),
            1 => Just("WOBBLY"),
            1 => Just("UNKNOWN"),
            1 => Just("6"),
            1 => Just("248.0"),
            1 => Just(" 7"),
            1 => Just("-8"),
            1 => Just("a\u{202e}b"),
            1 => Just(""),
        ];
        let value_types = prop_oneof![
            4 => Just(ValueType::Enumeration),
            1 => Just(ValueType::Decimal64_3),
            1 => Just(ValueType::Metric),
        ];
        let topics = prop_oneof![
            4 => Just(None),
            1 => Just(Some(catalog::PTP_LOCK_STATE.name())),
            1 => Just(Some(catalog::HEARTBEAT.as_str())),
            1 => Just(Some("event.sync.sync-status.os-clock-sync-state-change")),
        ];
        let ids = prop_oneof![4 => Just("a"), 1 => Just("")];
        let max_body = prop_oneof![4 => Just(frame::DEFAULT_MAX_BODY), 1 => Just(100)];
        (kinds, values, value_types, topics, ids, max_body).prop_map(
            |(kind, value, value_type, topic, id, max_body)| {
                let mut e = Event::synthetic(kind, Content::parse("1", None).unwrap());
                e.id = id.to_owned();
                e.data.values[0].value = value.to_owned();
                e.data.values[0].value_type = value_type;
                e.data.values[0].data_type = match value_type {
                    ValueType::Enumeration => DataType::Notification,
                    _ => DataType::Metric,
                };
                let topic = topic.map_or_else(|| e.event_type.to_string(), str::to_owned);
                (e, topic, max_body)
            },
        )
    }

    fn policy() -> impl Strategy<Value = EmitPolicy> {
        prop_oneof![
            3 => Just(EmitPolicy::Allow),
            1 => Just(EmitPolicy::ProtectUpstream),
            1 => Just(EmitPolicy::Deny),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Taking the frames as they came, or decoding them and taking the
        /// owned event, gives the same answer, the same counters, the same
        /// published bytes and the same state.
        #[test]
        fn both_paths_agree_on_every_event(
            (e, topic, max) in case(),
            policy in policy(),
            upstream in any::<bool>(),
            before in any::<bool>(),
            claimed in (any::<u64>(), any::<u64>(), any::<bool>()),
        ) {
            let origin = if upstream { Origin::Upstream } else { Origin::Synthetic };
            // Stamps the emitter claims (upstream origin, any seq): never kept.
            let mut e = e;
            e.meta = Meta {
                epoch: claimed.0,
                seq: claimed.1,
                origin: if claimed.2 { Origin::Upstream } else { Origin::Synthetic },
            };
            let body = frame::encode_event(&e).unwrap().body;
            let (framed, mut framed_rx) = broker(policy);
            let (owned, mut owned_rx) = broker(policy);
            if before {
                // A row of the same key to update.
                let held = lock_state("HOLDOVER");
                for b in [&framed, &owned] {
                    b.accept(held.clone(), Origin::Upstream).unwrap();
                }
            }
            let by_frames = framed.accept_frames(topic.as_bytes(), &body, max, origin, Instant::now());
            let by_owned = match frame::decode(topic.as_bytes(), &body, max) {
                Ok(Message::Event(event)) => owned.accept(event, origin),
                Ok(_) => Err(AcceptError::OwnTopic),
                Err(e) => Err(e.into()),
            };
            prop_assert_eq!(&by_frames, &by_owned);
            if let Ok(seq) = by_frames {
                let held = framed.latest(&(e.event_type.clone(), e.resource_address().to_owned()));
                let meta = held.map(|h| h.meta);
                prop_assert_eq!(meta, Some(Meta { epoch: EPOCH, seq, origin }));
            }
            prop_assert_eq!(framed.stats().snapshot(), owned.stats().snapshot());
            prop_assert_eq!(framed.snapshot(&all()), owned.snapshot(&all()));
            loop {
                match (framed_rx.try_recv(), owned_rx.try_recv()) {
                    (Ok(a), Ok(b)) => {
                        prop_assert_eq!(a.seq, b.seq);
                        prop_assert_eq!(a.wire.bytes(), b.wire.bytes());
                    }
                    (Err(_), Err(_)) => break,
                    (a, b) => prop_assert!(false, "{:?} against {:?}", a.map(|o| o.seq), b.map(|o| o.seq)),
                }
            }
        }
    }
}
