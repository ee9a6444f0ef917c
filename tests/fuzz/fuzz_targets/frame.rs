#![no_main]
//! A `[topic, body]` message as the emit endpoint and every subscriber read
//! it: input = topic length (one byte), topic, body. Whatever decodes must
//! survive the broker's checks without a panic, and an event that decodes
//! must encode and decode to itself. Decoding into a spent event (the
//! client's pool) gives what decode gives, or steps aside.

use libfuzzer_sys::fuzz_target;
use proto::frame::{self, Message};

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (topic, body) = rest.split_at(usize::from(n).min(rest.len()));
    let decoded = frame::decode(topic, body, frame::DEFAULT_MAX_BODY);
    let mut slot = proto::Event::unknown(catalog::PTP_LOCK_STATE.into(), "/spent/slot", 3, 9);
    if frame::decode_event_into(topic, body, frame::DEFAULT_MAX_BODY, &mut slot) {
        assert_eq!(decoded, Ok(Message::Event(slot)));
    }
    if let Ok(Message::Event(event)) = decoded {
        let mut normalized = event.clone();
        if proto::validate::normalize(&mut normalized).is_ok() {
            let _ = frame::validate(&normalized);
        }
        let frames = frame::encode_event(&event).expect("a decoded event encodes");
        let again = frame::decode(&frames.topic, &frames.body, usize::MAX).expect("and decodes");
        assert_eq!(again, Message::Event(event));
    }
});
