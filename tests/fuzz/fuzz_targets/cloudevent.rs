#![no_main]
//! A structured-mode HTTP body (one CloudEvent, a batch, StarlingX's keyed
//! object, v1 or v2 names), then the value rules. An event that passes them
//! must come back the same through the broker's own v2 JSON.

use libfuzzer_sys::fuzz_target;
use proto::cloudevent;

fuzz_target!(|data: &[u8]| {
    let Ok(events) = cloudevent::parse_structured(data) else {
        return;
    };
    for mut event in events {
        if proto::validate::normalize(&mut event).is_err() {
            continue;
        }
        let json = serde_json::to_vec(&cloudevent::to_json(&event, false)).expect("JSON");
        let mut again = cloudevent::parse_structured(&json).expect("our JSON parses");
        assert_eq!(again.len(), 1);
        let mut back = again.remove(0);
        proto::validate::normalize(&mut back).expect("and passes the rules again");
        assert_eq!(back.event_type, event.event_type);
        assert_eq!(back.id, event.id);
        assert_eq!(back.data, event.data);
    }
});
