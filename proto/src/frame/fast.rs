//! A fast path for the one body every event frame carries: a MessagePack
//! map of the event's named fields, read straight from the bytes.
//!
//! rmp-serde walks the same map through serde's generic machinery, which
//! was half of a `client::register` process's CPU and a third of the
//! broker's ingest (docs/BENCHMARKS.md, profile). This reader takes only the
//! common, unambiguous shape: a map whose keys are the known field names,
//! each once, with strings, unsigned integers and the enum names as values,
//! and nothing after it. For anything else — an unknown or repeated key, an
//! array instead of a map, another integer encoding, bad UTF-8, a short
//! body — it answers `None`, and the caller decodes with rmp-serde, which
//! accepts or refuses exactly as it always did, with its own error message.
//! So this path can only be faster, never different: `fast_and_serde_agree`
//! below compares the two on every truncation and byte flip of an event,
//! and the properties in proto/tests/properties.rs (random events round
//! trip through frames; arbitrary bytes never panic) now run through it.

use super::WireEvent;
use crate::event::{Data, DataType, Origin, Value, ValueType};

/// The event in `body`, if it has the common shape; `None`: use rmp-serde.
pub(super) fn wire_event(body: &[u8]) -> Option<WireEvent> {
    let mut r = Reader { b: body, i: 0 };
    let event = r.event()?;
    // Whatever follows the map is for rmp-serde to judge.
    (r.i == body.len()).then_some(event)
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

/// Set `slot` unless it was set already (a repeated key: not our shape).
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.b.get(self.i)?;
        self.i += 1;
        Some(b)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.i.checked_add(n)?;
        let s = self.b.get(self.i..end)?;
        self.i = end;
        Some(s)
    }

    fn be(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        )
    }

    fn map_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x80..=0x8f => Some(usize::from(m & 0x0f)),
            0xde => usize::try_from(self.be(2)?).ok(),
            0xdf => usize::try_from(self.be(4)?).ok(),
            _ => None,
        }
    }

    fn array_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x90..=0x9f => Some(usize::from(m & 0x0f)),
            0xdc => usize::try_from(self.be(2)?).ok(),
            0xdd => usize::try_from(self.be(4)?).ok(),
            _ => None,
        }
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = match self.byte()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => usize::try_from(self.be(1)?).ok()?,
            0xda => usize::try_from(self.be(2)?).ok()?,
            0xdb => usize::try_from(self.be(4)?).ok()?,
            _ => return None,
        };
        std::str::from_utf8(self.take(len)?).ok()
    }

    fn uint(&mut self) -> Option<u64> {
        match self.byte()? {
            m @ 0x00..=0x7f => Some(u64::from(m)),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            _ => None,
        }
    }

    fn event(&mut self) -> Option<WireEvent> {
        let (mut event_type, mut id, mut source, mut time, mut specversion) =
            (None, None, None, None, None);
        let (mut data, mut epoch, mut seq, mut origin) = (None, None, None, None);
        for _ in 0..self.map_len()? {
            match self.str()? {
                "type" => once(&mut event_type, self.str()?)?,
                "id" => once(&mut id, self.str()?)?,
                "source" => once(&mut source, self.str()?)?,
                "time" => once(&mut time, self.str()?)?,
                "specversion" => once(&mut specversion, self.str()?)?,
                "data" => {
                    let d = self.data()?;
                    once(&mut data, d)?
                }
                "epoch" => once(&mut epoch, self.uint()?)?,
                "seq" => once(&mut seq, self.uint()?)?,
                "origin" => {
                    let o = match self.str()? {
                        "synthetic" => Origin::Synthetic,
                        "upstream" => Origin::Upstream,
                        _ => return None,
                    };
                    once(&mut origin, o)?
                }
                _ => return None,
            }
        }
        Some(WireEvent {
            event_type: event_type?.to_owned(),
            id: id?.to_owned(),
            source: source?.to_owned(),
            time: time?.to_owned(),
            specversion: specversion?.to_owned(),
            data: data?,
            epoch: epoch.unwrap_or_default(),
            seq: seq.unwrap_or_default(),
            origin: origin.unwrap_or_default(),
        })
    }

    fn data(&mut self) -> Option<Data> {
        let (mut version, mut values) = (None, None);
        for _ in 0..self.map_len()? {
            match self.str()? {
                "version" => once(&mut version, self.str()?)?,
                "values" => {
                    let n = self.array_len()?;
                    // Each value takes more than one byte: a length that
                    // the body cannot hold is not believed.
                    let mut list = Vec::with_capacity(n.min(self.b.len() - self.i));
                    for _ in 0..n {
                        list.push(self.value()?);
                    }
                    once(&mut values, list)?
                }
                _ => return None,
            }
        }
        Some(Data {
            version: version?.to_owned(),
            values: values?,
        })
    }

    fn value(&mut self) -> Option<Value> {
        let (mut address, mut data_type, mut value_type, mut value) = (None, None, None, None);
        for _ in 0..self.map_len()? {
            match self.str()? {
                "ResourceAddress" => once(&mut address, self.str()?)?,
                "data_type" => {
                    let t = match self.str()? {
                        "notification" => DataType::Notification,
                        "metric" => DataType::Metric,
                        _ => return None,
                    };
                    once(&mut data_type, t)?
                }
                "value_type" => {
                    let t = match self.str()? {
                        "enumeration" => ValueType::Enumeration,
                        "decimal64.3" => ValueType::Decimal64_3,
                        "metric" => ValueType::Metric,
                        "redfish-event" => ValueType::RedfishEvent,
                        _ => return None,
                    };
                    once(&mut value_type, t)?
                }
                "value" => once(&mut value, self.str()?)?,
                _ => return None,
            }
        }
        Some(Value {
            resource_address: address?.to_owned(),
            data_type: data_type?,
            value_type: value_type?,
            value: value?.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use crate::event::Content;

    fn serde(body: &[u8]) -> Option<WireEvent> {
        rmp_serde::from_slice(body).ok()
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
}
