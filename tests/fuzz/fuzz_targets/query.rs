#![no_main]
//! A query request as the broker reads it, and a reply as a client reads
//! it. A request that decodes must encode and decode to itself.

use libfuzzer_sys::fuzz_target;
use proto::query;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = query::decode_request(data) {
        let again = query::decode_request(&query::encode_request(&request));
        assert_eq!(again.as_ref(), Ok(&request));
    }
    if let Ok(reply) = query::decode_reply(data) {
        let _ = query::decode_reply(&query::encode_reply(&reply)).expect("our reply decodes");
    }
});
