//! Properties of the parsers over random input: the fast layer under the
//! fuzzers (tests/fuzz), run by the normal suite so a regression shows in
//! CI. Random bytes never panic any parser; events built from the value
//! rules' own vocabulary round-trip through frames and JSON; the rules are
//! idempotent.

use catalog::{EventType, OranEvent};
use proptest::prelude::*;
use proto::{Content, Event, cloudevent, frame, query, validate};

/// An O-RAN event with a value its type allows (a state or a number), or
/// an application event with any short text.
fn event() -> impl Strategy<Value = Event> {
    let oran = (0..catalog::ALL.len(), any::<u16>(), "[a-z0-9]{1,12}").prop_map(|(i, n, nic)| {
        let kind: OranEvent = catalog::ALL[i];
        let states = validate::states(kind);
        let value = match states.get(usize::from(n) % states.len().max(1)) {
            Some(state) if !states.is_empty() => state.to_string(),
            _ => (n % 7).to_string(),
        };
        let resource = format!("/cluster/node/n1/{nic}");
        Event::synthetic(
            kind.into(),
            Content::parse(&value, Some(resource)).expect("a value of its type"),
        )
    });
    let app_value = prop_oneof![
        (0..catalog::SyncState::ALL.len()).prop_map(|i| catalog::SyncState::ALL[i].to_string()),
        "-?[0-9]{1,9}(\\.[0-9]{1,3})?",
    ];
    let app = ("[a-z]{1,8}", app_value, "/[a-z0-9/]{0,60}").prop_map(|(name, value, res)| {
        Event::synthetic(
            EventType::new(&format!("com.example.{name}")).expect("app type"),
            Content::parse(&value, Some(res)).expect("content"),
        )
    });
    prop_oneof![oran, app]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic_a_parser(topic in prop::collection::vec(any::<u8>(), 0..64),
                                         body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = frame::decode(&topic, &body, frame::DEFAULT_MAX_BODY);
        let _ = cloudevent::parse_structured(&body);
        let _ = cloudevent::parse_binary(|_| Some("1.0".to_owned()), &body);
        let _ = query::decode_request(&body);
        let _ = query::decode_reply(&body);
    }

    #[test]
    fn events_round_trip_through_frames(mut e in event(), seq in 1u64..1 << 40) {
        if validate::normalize(&mut e).is_err() {
            // Application values outside the rules (hidden characters…).
            return Ok(());
        }
        e.meta.seq = seq;
        e.meta.epoch = 7;
        let frames = frame::encode_event(&e).expect("encode");
        match frame::decode(&frames.topic, &frames.body, usize::MAX).expect("decode") {
            frame::Message::Event(back) => prop_assert_eq!(back, e),
            other => prop_assert!(false, "decoded as {:?}", other),
        }
    }

    #[test]
    fn events_round_trip_through_json_and_the_rules_are_idempotent(mut e in event()) {
        if validate::normalize(&mut e).is_err() {
            return Ok(());
        }
        let once = e.clone();
        validate::normalize(&mut e).expect("normalized passes again");
        prop_assert_eq!(&e, &once);
        let json = serde_json::to_vec(&cloudevent::to_json(&e, false)).expect("json");
        let mut back = cloudevent::parse_structured(&json).expect("our JSON parses");
        prop_assert_eq!(back.len(), 1);
        let mut back = back.remove(0);
        validate::normalize(&mut back).expect("and passes the rules");
        prop_assert_eq!(&back.event_type, &e.event_type);
        prop_assert_eq!(&back.data, &e.data);
        prop_assert_eq!(&back.id, &e.id);
    }
}
