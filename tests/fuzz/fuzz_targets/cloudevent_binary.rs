#![no_main]
//! A binary-mode HTTP request: `ce-*` headers (input: `name: value` lines
//! up to an empty line) and the `data` as the body, then the value rules.

use libfuzzer_sys::fuzz_target;
use proto::cloudevent;

fuzz_target!(|data: &[u8]| {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(data.len());
    let (head, body) = data.split_at(split);
    let body = body.get(2..).unwrap_or_default();
    let head = String::from_utf8_lossy(head);
    let headers: Vec<(String, String)> = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if let Ok(mut event) = cloudevent::parse_binary(header, body) {
        let _ = proto::validate::normalize(&mut event);
    }
});
