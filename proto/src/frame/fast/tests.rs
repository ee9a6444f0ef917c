use super::*;
use crate::Event;
use crate::event::Content;

fn serde(body: &[u8]) -> Option<WireEvent> {
    let direct = view(body).map(|v| format!("{:?}", v.to_event()));
    let via_wire = view(body).map(|v| format!("{:?}", v.to_wire().into_event()));
    assert_eq!(direct, via_wire, "View::to_event is to_wire().into_event()");
    if let Some(v) = view(body) {
        // Into a slot holding another event with more values.
        let mut slot = dirty_slot();
        let filled = v.fill(&mut slot).map(|()| slot);
        assert_eq!(
            filled.ok(),
            v.to_event().ok(),
            "View::fill gives View::to_event's event"
        );
    }
    rmp_serde::from_slice(body).ok()
}

/// A spent event as the client would reuse it: another type, longer
/// strings, more values.
fn dirty_slot() -> Event {
    let mut e = Event::synthetic(
        catalog::OS_CLOCK_SYNC.into(),
        Content::parse(
            "FREERUN",
            Some("/cluster/node/other/very/long/address".into()),
        )
        .unwrap(),
    );
    let extra = e.data.values[0].clone();
    e.data.values.extend([extra.clone(), extra.clone(), extra]);
    e.id = "x".repeat(100);
    e.meta.seq = 9;
    e.delivery = Delivery::Repaired;
    e
}

fn sample() -> Event {
    let mut e = Event::synthetic(
        catalog::PTP_LOCK_STATE.into(),
        Content::parse("HOLDOVER", Some("/cluster/node/n1/ens1f0".into())).unwrap(),
    );
    e.meta.epoch = 1 << 40;
    e.meta.seq = 70_000;
    e
}

/// Whatever the bytes, the fast path gives rmp-serde's answer or none.
#[test]
fn fast_and_serde_agree() {
    let body = super::super::encode_event(&sample()).unwrap().body;
    assert_eq!(wire_event(&body), serde(&body));
    assert!(
        wire_event(&body).is_some(),
        "the broker's own encoding is the fast shape"
    );
    // Every truncation, and every single-byte change.
    for cut in 0..body.len() {
        let fast = wire_event(&body[..cut]);
        assert!(fast.is_none() || fast == serde(&body[..cut]), "cut {cut}");
    }
    for at in 0..body.len() {
        for flip in [0x01u8, 0x10, 0x80, 0xff] {
            let mut bad = body.clone();
            bad[at] ^= flip;
            if let Some(fast) = wire_event(&bad) {
                assert_eq!(Some(fast), serde(&bad), "byte {at} ^ {flip:#x}");
            }
        }
    }
}

#[test]
fn a_view_reads_every_value_however_many() {
    for n in 0..=INLINE + 3 {
        let mut e = sample();
        let v = e.data.values[0].clone();
        e.data.values = (0..n)
            .map(|i| Value {
                resource_address: format!("/r/{i}"),
                value: format!("{i}"),
                ..v.clone()
            })
            .collect();
        let body = super::super::encode_event(&e).unwrap().body;
        let view = view(&body).unwrap();
        assert_eq!(view.value_count(), n);
        let read: Vec<Value> = view.values().map(ValueView::to_value).collect();
        assert_eq!(read, e.data.values, "{n} values");
        assert_eq!(view.resource_address(), e.resource_address());
        assert_eq!(wire_event(&body), serde(&body));
    }
}

#[test]
fn other_shapes_go_to_serde() {
    let event = sample();
    let wire = WireEvent::from(&event);
    // Positional (an array), and trailing bytes.
    let positional = rmp_serde::to_vec(&wire).unwrap();
    assert_eq!(wire_event(&positional), None);
    let mut trailing = rmp_serde::to_vec_named(&wire).unwrap();
    trailing.push(0xc0);
    assert_eq!(wire_event(&trailing), None);
    // An unknown key, or one twice.
    let doc = |extra: Option<(&str, rmpv::Value)>| {
        let value = rmpv::Value::Map(vec![
            ("ResourceAddress".into(), "/r".into()),
            ("data_type".into(), "notification".into()),
            ("value_type".into(), "enumeration".into()),
            ("value".into(), "LOCKED".into()),
        ]);
        let mut entries: Vec<(rmpv::Value, rmpv::Value)> = vec![
            ("type".into(), catalog::OS_CLOCK_SYNC.oran_type().into()),
            ("id".into(), "a".into()),
            ("source".into(), "/s".into()),
            ("time".into(), "2024-01-01T00:00:00Z".into()),
            ("specversion".into(), "1.0".into()),
            (
                "data".into(),
                rmpv::Value::Map(vec![
                    ("version".into(), "1.0".into()),
                    ("values".into(), rmpv::Value::Array(vec![value])),
                ]),
            ),
        ];
        if let Some((key, value)) = extra {
            entries.push((key.into(), value));
        }
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &rmpv::Value::Map(entries)).unwrap();
        out
    };
    let plain = doc(None);
    assert!(wire_event(&plain).is_some());
    assert_eq!(wire_event(&plain), serde(&plain));
    let extra = doc(Some(("extra", 1.into())));
    assert_eq!(wire_event(&extra), None);
    assert!(serde(&extra).is_some(), "serde ignores it; we defer");
    let twice = doc(Some(("id", "again".into())));
    assert_eq!(wire_event(&twice), None);
    let signed = doc(Some(("seq", rmpv::Value::from(-1))));
    assert_eq!(wire_event(&signed), None);
    // No stamps: defaults, as serde.
    let bare = rmp_serde::to_vec_named(&serde_json::json!({
        "type": catalog::OS_CLOCK_SYNC.oran_type(), "id": "a", "source": "/s",
        "time": "2024-01-01T00:00:00Z", "specversion": "1.0",
        "data": {"version": "1.0", "values": [{"ResourceAddress": "/r",
            "data_type": "notification", "value_type": "enumeration", "value": "LOCKED"}]},
    }))
    .unwrap();
    assert_eq!(wire_event(&bare), serde(&bare));
    assert_eq!(wire_event(&bare).map(|w| w.seq), Some(0));
}

/// A body without one of the keys every event has is not the fast shape
/// (rmp-serde refuses it: a missing field), whichever key it is; without a
/// stamp it is, with the stamp's default.
#[test]
fn a_missing_key_is_not_the_fast_shape() {
    let body = super::super::encode_event(&sample()).unwrap().body;
    let rmpv::Value::Map(entries) = rmpv::decode::read_value(&mut &body[..]).unwrap() else {
        panic!("an event body is a map");
    };
    let encode = |entries: Vec<(rmpv::Value, rmpv::Value)>| {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &rmpv::Value::Map(entries)).unwrap();
        out
    };
    for (i, (key, _)) in entries.iter().enumerate() {
        let key = key.as_str().unwrap();
        let mut less = entries.clone();
        less.remove(i);
        let body = encode(less);
        match key {
            "epoch" | "seq" | "origin" => {
                assert!(wire_event(&body).is_some(), "without {key}");
                assert_eq!(wire_event(&body), serde(&body), "without {key}");
            }
            _ => {
                assert_eq!(wire_event(&body), None, "without {key}");
                assert_eq!(serde(&body), None, "rmp-serde refuses it without {key}");
            }
        }
    }
    // The same inside `data`.
    let at = entries
        .iter()
        .position(|(k, _)| k.as_str() == Some("data"))
        .unwrap();
    let rmpv::Value::Map(data) = &entries[at].1 else {
        panic!("data is a map");
    };
    for i in 0..data.len() {
        let mut less = data.clone();
        less.remove(i);
        let mut outer = entries.clone();
        outer[at].1 = rmpv::Value::Map(less);
        let body = encode(outer);
        assert_eq!(wire_event(&body), None, "without data.{}", data[i].0);
        assert_eq!(
            serde(&body),
            None,
            "rmp-serde refuses it without data.{}",
            data[i].0
        );
    }
}
