//! JetStream through its API subjects: create a stream, count and read
//! its stored messages.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::protocol::parse_header_block;
use super::{NatsClient, StoredMsg};
use crate::peers::base64_decode;
use crate::util::DEADLINE;

impl NatsClient {
    /// A JetStream API call, retried while JetStream is not up yet (no
    /// responders, no answer). Returns the JSON answer.
    pub fn js_api(&self, subject: &str, body: &Value) -> Value {
        let payload = body.to_string();
        let start = Instant::now();
        loop {
            match self.request(subject, payload.as_bytes(), Duration::from_secs(2)) {
                Some(m) if m.status_code().is_none() && !m.payload.is_empty() => return m.json(),
                other => {
                    assert!(
                        start.elapsed() < DEADLINE,
                        "JetStream API {subject} did not answer: {other:?}"
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// Create a memory stream `name` over `subjects`.
    pub fn create_stream(&self, name: &str, subjects: &[&str]) -> Value {
        let answer = self.js_api(
            &format!("$JS.API.STREAM.CREATE.{name}"),
            &json!({
                "name": name,
                "subjects": subjects,
                "storage": "memory",
                "retention": "limits",
                "discard": "old",
                "num_replicas": 1,
            }),
        );
        assert!(
            answer.get("error").is_none(),
            "creating stream {name}: {answer}"
        );
        answer
    }

    /// The stream's message count.
    pub fn stream_messages(&self, name: &str) -> u64 {
        let info = self.js_api(&format!("$JS.API.STREAM.INFO.{name}"), &json!({}));
        assert!(info.get("error").is_none(), "stream info {name}: {info}");
        info["state"]["messages"]
            .as_u64()
            .unwrap_or_else(|| panic!("no message count in {info}"))
    }

    /// Stored message `seq` of stream `name`.
    pub fn stream_get(&self, name: &str, seq: u64) -> StoredMsg {
        let answer = self.js_api(
            &format!("$JS.API.STREAM.MSG.GET.{name}"),
            &json!({ "seq": seq }),
        );
        assert!(
            answer.get("error").is_none(),
            "get {seq} of {name}: {answer}"
        );
        let m = &answer["message"];
        let data = base64_decode(m["data"].as_str().unwrap_or_default()).expect("data base64");
        let headers = match m["hdrs"].as_str() {
            Some(h) => parse_header_block(&base64_decode(h).expect("hdrs base64")).1,
            None => Vec::new(),
        };
        StoredMsg {
            subject: m["subject"].as_str().unwrap_or_default().to_owned(),
            seq: m["seq"].as_u64().unwrap_or_default(),
            headers,
            data,
        }
    }
}
