//! A message as the PUB socket sends it, built once per accepted event.

use std::ops::Range;

use bytes::Bytes;
use proto::Event;
use proto::frame::{self, Message};
use proto::zmtp::{self, MORE};

/// Bytes of a long frame header (flags and an 8-byte size).
const LONG_HEADER: usize = 9;

/// Unused capacity a message may keep; more is given back.
const SLACK: usize = 64;

/// One message in ZMTP wire bytes, the topic frame then the body frame:
/// written once, in one allocation, and shared — not copied — by the state
/// table and every subscriber's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wire {
    bytes: Bytes,
    topic: Range<usize>,
    body: Range<usize>,
}

impl Wire {
    /// The message of `topic` and `body`.
    pub fn new(topic: &[u8], body: &[u8]) -> Wire {
        Wire::write(topic, body.len(), |out| out.extend_from_slice(body))
    }

    /// The message of `topic` and the body `write` appends to the vector
    /// it is given (about `hint` bytes: what to reserve).
    pub fn write(topic: &[u8], hint: usize, write: impl FnOnce(&mut Vec<u8>)) -> Wire {
        let topic_header = zmtp::frame_header(MORE, topic.len());
        let head = topic_header.len() + topic.len();
        let mut out = Vec::with_capacity(head + LONG_HEADER + hint);
        out.extend_from_slice(&topic_header);
        out.extend_from_slice(topic);
        out.resize(head + LONG_HEADER, 0);
        write(&mut out);
        let header = zmtp::frame_header(0, out.len() - head - LONG_HEADER);
        // The body's header is written to end where the body starts; a
        // short one leaves a gap before it, which moving the topic frame
        // up closes.
        let start = LONG_HEADER - header.len();
        out[head + start..head + LONG_HEADER].copy_from_slice(&header);
        out.copy_within(0..head, start);
        // The state table keeps these bytes: a hint well over the body
        // would be held for as long as the row.
        if out.capacity() - out.len() > SLACK {
            out.shrink_to_fit();
        }
        let bytes = Bytes::from(out).slice(start..);
        let body = head + header.len()..bytes.len();
        Wire {
            bytes,
            topic: topic_header.len()..head,
            body,
        }
    }

    /// The whole message, as written to a subscriber.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The topic frame's data.
    pub fn topic(&self) -> &[u8] {
        &self.bytes[self.topic.clone()]
    }

    /// The body frame's data.
    pub fn body(&self) -> &[u8] {
        &self.bytes[self.body.clone()]
    }

    /// The event this message carries. `None` if it is not an event, or —
    /// a bug, so it is logged — the broker's own encoding does not decode.
    pub fn event(&self) -> Option<Event> {
        match frame::decode(self.topic(), self.body(), usize::MAX) {
            Ok(Message::Event(event)) => Some(event),
            Ok(_) => None,
            Err(error) => {
                tracing::error!(%error, "an event the broker encoded does not decode");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_are_the_two_frames_for_every_body_size() {
        for topic in [&b"t"[..], &[b'x'; 255][..], &[b'y'; 300][..]] {
            for len in [0, 1, 254, 255, 256, 1000, 70_000] {
                let body: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let wire = Wire::new(topic, &body);
                assert_eq!(&wire.bytes()[..], &zmtp::encode(topic, &body)[..], "{len}");
                assert_eq!(wire.topic(), topic);
                assert_eq!(wire.body(), &body[..]);
                // A body longer or shorter than the hint.
                let grown = Wire::write(topic, 3, |out| out.extend_from_slice(&body));
                assert_eq!(grown, wire);
            }
        }
    }
}
