//! Stamping a received body instead of re-encoding its event.
//!
//! A body read by the fast path ([`View`]) that the broker takes as it is
//! (its values already in their one spelling) is published with the
//! broker's stamps by copying its other six pairs byte for byte and writing
//! `epoch`, `seq` and `origin` after them, the way [`super::encode_event`]
//! writes them (minimal-width unsigned integers, the origin's name). For a
//! body [`super::encode_event`] wrote, the result is byte for byte what it
//! writes for the stamped event (`stamping_equals_encoding_the_stamped_event`).

use super::fast::View;
use crate::event::Meta;

/// The stamps' keys, as MessagePack strings.
const EPOCH: &[u8] = b"\xa5epoch";
const SEQ: &[u8] = b"\xa3seq";
const ORIGIN: &[u8] = b"\xa6origin";

impl View<'_> {
    /// Bytes of the body [`View::write_stamped`] writes for `meta`.
    pub fn stamped_len(&self, meta: Meta) -> usize {
        let kept: usize = self.kept.iter().map(|(start, end)| end - start).sum();
        1 + kept
            + EPOCH.len()
            + uint_len(meta.epoch)
            + SEQ.len()
            + uint_len(meta.seq)
            + ORIGIN.len()
            + 1
            + meta.origin.as_str().len()
    }

    /// Append the body this view was read from, with `meta` as its stamps:
    /// a map of nine pairs, the six others as they came, then the stamps.
    pub fn write_stamped(&self, meta: Meta, out: &mut Vec<u8>) {
        out.push(0x89);
        for &(start, end) in &self.kept {
            out.extend_from_slice(&self.body[start..end]);
        }
        out.extend_from_slice(EPOCH);
        put_uint(out, meta.epoch);
        out.extend_from_slice(SEQ);
        put_uint(out, meta.seq);
        out.extend_from_slice(ORIGIN);
        let origin = meta.origin.as_str();
        // "synthetic" and "upstream" are fixstrs.
        out.push(0xa0 | origin.len() as u8);
        out.extend_from_slice(origin.as_bytes());
    }
}

/// Bytes of `n` in MessagePack's smallest unsigned form.
fn uint_len(n: u64) -> usize {
    match n {
        0..=0x7f => 1,
        0x80..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// `n` in MessagePack's smallest unsigned form, as rmp writes it.
fn put_uint(out: &mut Vec<u8>, n: u64) {
    match uint_len(n) {
        1 => out.push(n as u8),
        2 => out.extend_from_slice(&[0xcc, n as u8]),
        3 => {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        5 => {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
        _ => {
            out.push(0xcf);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use crate::event::{Content, Origin};
    use crate::frame::{Message, decode, encode_event, view};

    fn event(epoch: u64, seq: u64, origin: Origin) -> Event {
        let mut e = Event::synthetic(
            catalog::PTP_LOCK_STATE.into(),
            Content::parse("HOLDOVER", Some("/cluster/node/n1/ens1f0".into())).unwrap(),
        );
        e.meta = Meta { epoch, seq, origin };
        e
    }

    #[test]
    fn stamping_equals_encoding_the_stamped_event() {
        // Every width of every stamp, from an unstamped and a stamped body.
        let widths = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 0xffff_ffff];
        let widths = widths.into_iter().chain([1 << 32, (1 << 53) - 1, u64::MAX]);
        for received in [
            event(0, 0, Origin::Synthetic),
            event(9, 1 << 40, Origin::Upstream),
        ] {
            let body = encode_event(&received).unwrap().body;
            let view = view(&body).unwrap();
            for n in widths.clone() {
                for origin in [Origin::Synthetic, Origin::Upstream] {
                    let meta = Meta {
                        epoch: n,
                        seq: n ^ 0x55,
                        origin,
                    };
                    let mut stamped = received.clone();
                    stamped.meta = meta;
                    let mut out = Vec::new();
                    view.write_stamped(meta, &mut out);
                    assert_eq!(out, encode_event(&stamped).unwrap().body, "{meta:?}");
                    assert_eq!(out.len(), view.stamped_len(meta));
                }
            }
        }
    }

    #[test]
    fn a_body_in_another_order_keeps_its_order_and_reads_the_same() {
        let e = event(0, 0, Origin::Synthetic);
        let wire = crate::frame::WireEvent::from(&e);
        // Stamps first, then the pairs in reverse order.
        let value = rmp_serde::to_vec_named(&wire).unwrap();
        let decoded: rmpv::Value = rmpv::decode::read_value(&mut value.as_slice()).unwrap();
        let rmpv::Value::Map(mut pairs) = decoded else {
            panic!("a map")
        };
        pairs.reverse();
        let mut body = Vec::new();
        rmpv::encode::write_value(&mut body, &rmpv::Value::Map(pairs)).unwrap();
        let view = view(&body).unwrap();
        let meta = Meta {
            epoch: 7,
            seq: 300,
            origin: Origin::Synthetic,
        };
        let mut out = Vec::new();
        view.write_stamped(meta, &mut out);
        assert_eq!(out.len(), view.stamped_len(meta));
        let topic = e.event_type.as_str().as_bytes();
        let Ok(Message::Event(read)) = decode(topic, &out, usize::MAX) else {
            panic!("decodes")
        };
        let mut expected = e;
        expected.meta = meta;
        assert_eq!(read, expected);
    }
}
