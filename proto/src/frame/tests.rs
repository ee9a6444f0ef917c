use super::*;
use crate::event::{Content, DataType, Value, ValueType};

fn fixed_event() -> Event {
    Event {
        event_type: catalog::OS_CLOCK_SYNC.into(),
        id: "id-1".into(),
        source: "/sync/sync-status/os-clock-sync-state".into(),
        time: "2024-08-28T14:50:57.327585316Z".into(),
        specversion: "1.0".into(),
        data: Data {
            version: "1.0".into(),
            values: vec![Value {
                resource_address: "/cluster/node/n1/CLOCK_REALTIME".into(),
                data_type: DataType::Notification,
                value_type: ValueType::Enumeration,
                value: "LOCKED".into(),
            }],
        },
        meta: Meta {
            epoch: 7,
            seq: 42,
            origin: Origin::Upstream,
        },
        delivery: Delivery::Live,
    }
}

#[test]
fn event_round_trips() {
    let e = fixed_event();
    let f = encode_event(&e).unwrap();
    assert_eq!(
        f.topic,
        b"event.sync.sync-status.os-clock-sync-state-change"
    );
    assert_eq!(
        decode(&f.topic, &f.body, DEFAULT_MAX_BODY),
        Ok(Message::Event(e))
    );
}

#[test]
fn body_is_a_map_with_named_fields() {
    let f = encode_event(&fixed_event()).unwrap();
    let v = rmpv::decode::read_value(&mut f.body.as_slice()).unwrap();
    let map = v.as_map().expect("body is a map");
    let keys: Vec<&str> = map.iter().map(|(k, _)| k.as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "type",
            "id",
            "source",
            "time",
            "specversion",
            "data",
            "epoch",
            "seq",
            "origin"
        ]
    );
    let field = |name: &str| {
        &map.iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .unwrap()
            .1
    };
    assert_eq!(field("origin").as_str(), Some("upstream"));
    assert_eq!(field("seq").as_u64(), Some(42));
    let value = &field("data").as_map().unwrap()[1].1.as_array().unwrap()[0];
    let vkeys: Vec<&str> = value
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str().unwrap())
        .collect();
    assert_eq!(
        vkeys,
        ["ResourceAddress", "data_type", "value_type", "value"]
    );
}

/// The exact bytes other-language clients are written against
/// (docs/PROTOCOL.md shows the same hex). Changing them breaks clients.
#[test]
fn golden_bytes() {
    let f = encode_event(&fixed_event()).unwrap();
    let hex: String = f.body.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, GOLDEN_EVENT_HEX);
    let hb = encode_heartbeat(&Heartbeat {
        epoch: 7,
        seq: 42,
        interval_ms: 1000,
    });
    assert_eq!(hb.topic, b"ptp-broker.heartbeat");
    let hex: String = hb.body.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, GOLDEN_HEARTBEAT_HEX);
}

const GOLDEN_EVENT_HEX: &str = "89a474797065d9316576656e742e73796e632e73796e632d7374617475732e6f732d636c6f636b2d73796e632d73746174652d6368616e6765a26964a469642d31a6736f75726365d9252f73796e632f73796e632d7374617475732f6f732d636c6f636b2d73796e632d7374617465a474696d65be323032342d30382d32385431343a35303a35372e3332373538353331365aab7370656376657273696f6ea3312e30a46461746182a776657273696f6ea3312e30a676616c7565739184af5265736f7572636541646472657373bf2f636c75737465722f6e6f64652f6e312f434c4f434b5f5245414c54494d45a9646174615f74797065ac6e6f74696669636174696f6eaa76616c75655f74797065ab656e756d65726174696f6ea576616c7565a64c4f434b4544a565706f636807a37365712aa66f726967696ea8757073747265616d";
const GOLDEN_HEARTBEAT_HEX: &str = "83a565706f636807a37365712aab696e74657276616c5f6d73cd03e8";

#[test]
fn emitted_events_need_no_stamps() {
    #[derive(Serialize)]
    struct Bare<'a> {
        #[serde(rename = "type")]
        t: &'a str,
        id: &'a str,
        source: &'a str,
        time: &'a str,
        specversion: &'a str,
        data: &'a Data,
    }
    let e = fixed_event();
    let body = rmp_serde::to_vec_named(&Bare {
        t: e.event_type.as_str(),
        id: &e.id,
        source: &e.source,
        time: &e.time,
        specversion: &e.specversion,
        data: &e.data,
    })
    .unwrap();
    let Ok(Message::Event(got)) = decode(e.event_type.as_str().as_bytes(), &body, DEFAULT_MAX_BODY)
    else {
        panic!("bare event did not decode");
    };
    assert_eq!(got.meta, Meta::default());
}

#[test]
fn heartbeat_and_sync_round_trip() {
    let hb = Heartbeat {
        epoch: 1,
        seq: 2,
        interval_ms: 1000,
    };
    let f = encode_heartbeat(&hb);
    assert_eq!(decode(&f.topic, &f.body, 100), Ok(Message::Heartbeat(hb)));
    let m = SyncMarker {
        token: "t".into(),
        epoch: 1,
        seq: 2,
    };
    let f = encode_sync(&m);
    assert_eq!(decode(&f.topic, &f.body, 100), Ok(Message::Sync(m)));
}

/// Into a reused event, or not at all: never an event decode would
/// not give, and the common shape always.
#[test]
fn decode_event_into_gives_what_decode_gives_or_steps_aside() {
    let good = encode_event(&fixed_event()).unwrap();
    let max = DEFAULT_MAX_BODY;
    let mut slot = Event::synthetic(
        catalog::OS_CLOCK_SYNC.into(),
        Content::parse("FREERUN", Some("/somewhere/else".into())).unwrap(),
    );
    assert!(decode_event_into(&good.topic, &good.body, max, &mut slot));
    assert_eq!(
        decode(&good.topic, &good.body, max).unwrap(),
        Message::Event(slot.clone())
    );
    let heartbeat = encode_heartbeat(&Heartbeat {
        epoch: 1,
        seq: 2,
        interval_ms: 1000,
    });
    assert!(!decode_event_into(
        &heartbeat.topic,
        &heartbeat.body,
        max,
        &mut slot
    ));
    assert!(!decode_event_into(
        &good.topic,
        &good.body,
        good.body.len() - 1,
        &mut slot
    ));
    for at in 0..good.body.len() {
        for flip in [0x01u8, 0x20, 0x80] {
            let mut body = good.body.clone();
            body[at] ^= flip;
            if decode_event_into(&good.topic, &body, max, &mut slot) {
                assert_eq!(
                    decode(&good.topic, &body, max).ok(),
                    Some(Message::Event(slot.clone())),
                    "byte {at} ^ {flip:#x}"
                );
            }
        }
    }
    let mut topic = good.topic.clone();
    topic[0] ^= 0x01;
    assert!(!decode_event_into(&topic, &good.body, max, &mut slot));
}

#[test]
fn bad_frames_give_typed_errors_never_panics() {
    let good = encode_event(&fixed_event()).unwrap();
    let other = encode_event(&Event::synthetic(
        catalog::PTP_LOCK_STATE.into(),
        Content::parse("LOCKED", None).unwrap(),
    ))
    .unwrap();
    let err = |t: &[u8], b: &[u8]| decode(t, b, 1024).unwrap_err();
    assert!(matches!(
        err(&good.topic, &vec![0; 2000]),
        DecodeError::TooLarge {
            len: 2000,
            max: 1024
        }
    ));
    assert!(matches!(
        err(b"\xff\xfe", &good.body),
        DecodeError::TopicNotUtf8
    ));
    assert!(matches!(
        err(b"NOT A TOPIC", &good.body),
        DecodeError::Topic(_)
    ));
    assert!(matches!(
        err(b"event.sync.x.unknown", &good.body),
        DecodeError::Topic(_)
    ));
    assert!(matches!(
        err(&other.topic, &good.body),
        DecodeError::TopicMismatch { .. }
    ));
    assert!(matches!(err(&good.topic, b""), DecodeError::Body(_)));
    assert!(matches!(
        err(&good.topic, b"\xc1garbage"),
        DecodeError::Body(_)
    ));
    assert!(matches!(
        err(b"ptp-broker.heartbeat", b"\x93\x01\x02\x03"),
        DecodeError::Body(_)
    ));
    // Every truncation of a good body is an error, not a panic.
    for n in 0..good.body.len() {
        assert!(
            decode(&good.topic, &good.body[..n], 1024).is_err(),
            "truncated at {n}"
        );
    }
    // A map claiming 4 billion entries must fail fast, not allocate.
    assert!(matches!(
        err(&good.topic, b"\xdf\xff\xff\xff\xff"),
        DecodeError::Body(_)
    ));
    assert!(matches!(
        decode_frames(&[b"a".as_slice()], 10),
        Err(DecodeError::FrameCount(1))
    ));
    assert!(matches!(
        decode_frames::<&[u8]>(&[b"a", b"b", b"c"], 10),
        Err(DecodeError::FrameCount(3))
    ));
}

#[test]
fn invalid_fields_are_rejected() {
    let mut e = fixed_event();
    e.time = "yesterday".into();
    let f = encode_event(&e).unwrap();
    assert!(matches!(
        decode(&f.topic, &f.body, DEFAULT_MAX_BODY),
        Err(DecodeError::Invalid(_))
    ));
    let mut e = fixed_event();
    e.data.values.clear();
    let f = encode_event(&e).unwrap();
    assert!(matches!(
        decode(&f.topic, &f.body, DEFAULT_MAX_BODY),
        Err(DecodeError::Invalid(_))
    ));
    let mut e = fixed_event();
    e.id.clear();
    let f = encode_event(&e).unwrap();
    assert!(matches!(
        decode(&f.topic, &f.body, DEFAULT_MAX_BODY),
        Err(DecodeError::Invalid(_))
    ));
}
