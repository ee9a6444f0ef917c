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
    fn events_round_trip_through_frames(
        mut e in event(),
        seq in 1u64..1 << 40,
        mut spent in event(),
    ) {
        if validate::normalize(&mut e).is_err() {
            // Application values outside the rules (hidden characters…).
            return Ok(());
        }
        e.meta.seq = seq;
        e.meta.epoch = 7;
        let frames = frame::encode_event(&e).expect("encode");
        match frame::decode(&frames.topic, &frames.body, usize::MAX).expect("decode") {
            frame::Message::Event(back) => prop_assert_eq!(&back, &e),
            other => prop_assert!(false, "decoded as {:?}", other),
        }
        // The same into a spent event (the client's path): the same event.
        prop_assert!(frame::decode_event_into(&frames.topic, &frames.body, usize::MAX, &mut spent));
        prop_assert_eq!(spent, e);
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

/// An event of any type with fields drawn from what the value rules treat
/// differently: states in any case, numbers in other spellings, hidden
/// characters, empty and overlong strings, wrong value types, bad times.
fn awkward_event() -> impl Strategy<Value = Event> {
    let text = prop_oneof![
        Just(String::new()),
        Just("LOCKED".to_owned()),
        Just("locked".to_owned()),
        Just("Holdover".to_owned()),
        Just("UNKNOWN".to_owned()),
        Just("SYNCHRONIZED".to_owned()),
        Just("6".to_owned()),
        Just("248.0".to_owned()),
        Just(" 7".to_owned()),
        Just("-8".to_owned()),
        Just("+3".to_owned()),
        Just("1e3".to_owned()),
        Just("{\"a\":1}".to_owned()),
        Just("a\u{202e}b".to_owned()),
        Just("x".repeat(70)),
        Just("é".to_owned()),
        "[a-z0-9./-]{1,12}",
    ];
    let value_type = prop_oneof![
        Just(proto::ValueType::Enumeration),
        Just(proto::ValueType::Decimal64_3),
        Just(proto::ValueType::Metric),
        Just(proto::ValueType::RedfishEvent),
    ];
    let data_type = prop_oneof![
        Just(proto::DataType::Notification),
        Just(proto::DataType::Metric),
    ];
    let value = (
        prop_oneof![
            Just("/cluster/node/n1/ens1f0/master".to_owned()),
            Just("/x/gpsFix".to_owned()),
            Just(String::new()),
            Just("/a\nb".to_owned()),
        ],
        data_type,
        value_type,
        text.clone(),
    )
        .prop_map(
            |(resource_address, data_type, value_type, value)| proto::Value {
                resource_address,
                data_type,
                value_type,
                value,
            },
        );
    let kind = prop_oneof![
        (0..catalog::ALL.len()).prop_map(|i| EventType::from(catalog::ALL[i])),
        Just(EventType::new("com.example.radio").expect("app type")),
    ];
    let id = prop_oneof![
        Just("a".to_owned()),
        Just(String::new()),
        Just("i\u{200b}d".to_owned())
    ];
    let time = prop_oneof![
        Just("2026-12-03T10:00:00.123Z".to_owned()),
        Just("yesterday".to_owned()),
    ];
    let spec = prop_oneof![
        Just("1.0".to_owned()),
        Just("0.3".to_owned()),
        Just("2".to_owned())
    ];
    (kind, id, time, spec, prop::collection::vec(value, 0..7)).prop_map(
        |(event_type, id, time, specversion, values)| {
            let mut e = Event::synthetic(event_type, Content::parse("1", None).expect("content"));
            e.id = id;
            e.time = time;
            e.specversion = specversion;
            e.data.values = values;
            e
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// The broker publishes a received body as it came (stamped) exactly
    /// when the owned path would take the event and change nothing.
    #[test]
    fn a_body_is_canonical_exactly_when_the_rules_change_nothing(e in awkward_event()) {
        let mut normalized = e.clone();
        let owned = validate::normalize(&mut normalized).is_ok()
            && frame::validate(&e).is_ok()
            && normalized == e;
        let frames = frame::encode_event(&e).expect("encode");
        let view = frame::view(&frames.body).expect("our encoding is the fast shape");
        prop_assert_eq!(validate::is_canonical(&e.event_type, &view), owned, "{:?}", e);
    }
}
