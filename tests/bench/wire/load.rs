//! The benchmark load: realistic O-RAN events numbered by the emitter, and
//! the per-subscriber tally that checks count and sequence.
//!
//! Every event carries two numbers. `n` is the emitter's own counter, written
//! into the CloudEvent `id` (a UUID-shaped string ending in `n` in hex), so it
//! survives every path unchanged and tells warm-up from measured events.
//! `seq` is `meta.seq`: stamped by the broker, or by the emitter itself when
//! the path (libzmq forwarder, NATS, direct HTTP) has no one to stamp it.

use proto::{Content, Event};
use serde::{Deserialize, Serialize};

/// The event with emitter number `n` and sequence `seq` (0 = unstamped): a
/// PTP lock-state change with its offset, as the O-RAN API pushes it.
pub fn bench_event(n: u64, seq: u64) -> Event {
    let offset = (n % 17) as i64 - 8;
    let content = Content::State {
        state: catalog::SyncState::Locked,
        offset: Some(offset),
        resource: Some("/cluster/node/bench-node-0/ens1f0/master".to_owned()),
    };
    let mut event = Event::synthetic(catalog::PTP_LOCK_STATE.into(), content);
    event.id = event_id(n);
    event.meta.seq = seq;
    event
}

/// What the emitter sends, made without building each event anew: the
/// events of [`bench_event`] (one per offset it cycles through) kept and
/// renumbered, their time refreshed once per batch, at most once a
/// millisecond ([`Maker::refresh`]).
/// Building each from scratch made the emitter draw a random UUID (a
/// `getrandom` call) that the number then replaced, and allocate every
/// string: a third of the emitter's CPU, the same for every system, on a
/// machine the emitter shares with them.
pub struct Maker {
    kept: Vec<Event>,
    time: String,
    refreshed: std::time::Instant,
    body: Vec<u8>,
}

/// How many different offsets [`bench_event`] cycles through.
const OFFSETS: u64 = 17;

impl Default for Maker {
    fn default() -> Maker {
        Maker::new()
    }
}

impl Maker {
    /// A maker whose events carry the time of now.
    pub fn new() -> Maker {
        let kept: Vec<Event> = (0..OFFSETS).map(|n| bench_event(n, 0)).collect();
        Maker {
            time: kept[0].time.clone(),
            refreshed: std::time::Instant::now(),
            kept,
            body: Vec::with_capacity(512),
        }
    }

    /// The events made from now on carry the time of now, to the
    /// millisecond: a refresh within a millisecond of the last one keeps
    /// its time (a batch can be a handful of events at a high rate).
    pub fn refresh(&mut self) {
        if self.refreshed.elapsed() >= std::time::Duration::from_millis(1) {
            self.time = bench_event(0, 0).time;
            self.refreshed = std::time::Instant::now();
        }
    }

    /// [`bench_event`]`(n, seq)`, with the time of the last refresh.
    pub fn event(&mut self, n: u64, seq: u64) -> &Event {
        use std::fmt::Write as _;
        let event = &mut self.kept[(n % OFFSETS) as usize];
        event.id.clear();
        let _ = write!(event.id, "{ID_PREFIX}{n:012x}");
        event.meta.seq = seq;
        event.time.clone_from(&self.time);
        event
    }

    /// The body frame of [`Maker::event`]`(n, seq)`.
    pub fn body(&mut self, n: u64, seq: u64) -> anyhow::Result<&[u8]> {
        self.event(n, seq);
        let event = &self.kept[(n % OFFSETS) as usize];
        self.body.clear();
        proto::frame::write_event(event, &mut self.body)?;
        Ok(&self.body)
    }
}

/// The topic (and NATS subject) every bench event is published on.
pub fn topic() -> &'static str {
    catalog::PTP_LOCK_STATE.oran_type()
}

/// Bytes one bench event takes on a ZeroMQ PUB connection: the topic and
/// body frames with their ZMTP 3 headers (flags, then a 1-byte size up to
/// 255 or an 8-byte one). The record size of the loopback probe.
pub fn pub_message_len() -> Option<usize> {
    let frames = proto::frame::encode_event(&bench_event(1 << 20, 1 << 20)).ok()?;
    let frame = |len: usize| 1 + if len > 255 { 8 } else { 1 } + len;
    Some(frame(frames.topic.len()) + frame(frames.body.len()))
}

/// Fill `record` (at least 8 bytes) as the loopback probe's record `n`:
/// `n` little-endian, then the bytes it already holds.
pub fn probe_record(record: &mut [u8], n: u64) {
    record[..8].copy_from_slice(&n.to_le_bytes());
}

/// The `n` of a loopback probe record.
pub fn probe_n(record: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(record.get(..8)?.try_into().ok()?))
}

/// A UUID v4-shaped id that encodes `n`.
pub fn event_id(n: u64) -> String {
    format!("{ID_PREFIX}{n:012x}")
}

/// What every [`event_id`] starts with.
const ID_PREFIX: &str = "00000000-0000-4000-8000-";

/// The `n` an [`event_id`] encodes.
pub fn n_from_id(id: &str) -> Option<u64> {
    let hex = id.strip_prefix(ID_PREFIX)?;
    u64::from_str_radix(hex, 16).ok()
}

/// Read `(n, seq)` from a MessagePack body without decoding the rest: the
/// cheap check used where thousands of sockets must keep up. It relies on the
/// key bytes being unambiguous: `0xa2 "id"` and `0xa3 "seq"` are fixstr
/// headers, which never occur inside the ASCII strings of an event.
pub fn scan_body(body: &[u8]) -> Option<(u64, u64)> {
    let at = find(body, b"\xa2id")? + 3;
    let (id, _) = read_str(&body[at..])?;
    let n = n_from_id(std::str::from_utf8(id).ok()?)?;
    let at = find(body, b"\xa3seq")? + 4;
    let seq = read_uint(&body[at..])?;
    Some((n, seq))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn read_str(b: &[u8]) -> Option<(&[u8], usize)> {
    let (len, head) = match *b.first()? {
        h @ 0xa0..=0xbf => (usize::from(h & 0x1f), 1),
        0xd9 => (usize::from(*b.get(1)?), 2),
        _ => return None,
    };
    Some((b.get(head..head + len)?, head + len))
}

fn read_uint(b: &[u8]) -> Option<u64> {
    let be = |len: usize| -> Option<u64> {
        let bytes = b.get(1..1 + len)?;
        Some(bytes.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    };
    match *b.first()? {
        v @ 0x00..=0x7f => Some(u64::from(v)),
        0xcc => be(1),
        0xcd => be(2),
        0xce => be(4),
        0xcf => be(8),
        _ => None,
    }
}

/// How a subscriber checks what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Decode and validate the whole event with `proto`.
    Full,
    /// Read only `n` and `seq` ([`scan_body`]).
    Seq,
}

impl std::str::FromStr for Verify {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(Verify::Full),
            "seq" => Ok(Verify::Seq),
            other => Err(format!("--verify {other:?}: expected full or seq")),
        }
    }
}

/// Reads `(n, seq)` from the ZeroMQ/NATS messages of one subscriber,
/// checking as much as its [`Verify`] says. With [`Verify::Full`] each event
/// is decoded as the client's I/O thread decodes it: into the event decoded
/// before (`proto::frame::decode_event_into`: its strings and values reused,
/// validation included), and with `proto::frame::decode`, which accepts or
/// refuses exactly the same, for any message not in that common shape. So a
/// raw SUB with `--verify full` is a one-thread subscriber that decodes
/// every event once, with no hand-off and no bookkeeping.
pub struct FrameCheck {
    verify: Verify,
    spent: Event,
}

impl FrameCheck {
    pub fn new(verify: Verify) -> FrameCheck {
        FrameCheck {
            verify,
            spent: bench_event(0, 0),
        }
    }

    /// `(n, seq)` of one message, `None` if it is not a valid bench event.
    pub fn check(&mut self, topic: &[u8], body: &[u8]) -> Option<(u64, u64)> {
        const MAX: usize = proto::frame::DEFAULT_MAX_BODY;
        match self.verify {
            Verify::Seq => scan_body(body),
            Verify::Full if proto::frame::decode_event_into(topic, body, MAX, &mut self.spent) => {
                Some((n_from_id(&self.spent.id)?, self.spent.meta.seq))
            }
            Verify::Full => match proto::frame::decode(topic, body, MAX) {
                Ok(proto::Message::Event(e)) => Some((n_from_id(&e.id)?, e.meta.seq)),
                _ => None,
            },
        }
    }
}

/// Read `(n, seq)` from a CloudEvent JSON body: POSTed to a webhook, a
/// NATS payload of the broker's NATS sink, or (re-serialized) the `params`
/// of a JSON-RPC call. The event is parsed in full with `proto`; `seq` is
/// the extension attribute the bench emitter or the broker adds (the
/// upstream itself sends none). With `stamps`, the body must carry all
/// three of the broker's extension attributes: `epoch` (not 0), `seq` and
/// `origin`.
pub fn check_json(body: &[u8], stamps: bool) -> Option<(u64, u64)> {
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    check_parsed(body, &doc, stamps)
}

/// [`check_json`] of a document already parsed (a JSON-RPC call's `params`).
pub fn check_value(doc: &serde_json::Value, stamps: bool) -> Option<(u64, u64)> {
    let body = serde_json::to_vec(doc).ok()?;
    check_parsed(&body, doc, stamps)
}

fn check_parsed(body: &[u8], doc: &serde_json::Value, stamps: bool) -> Option<(u64, u64)> {
    let events = proto::cloudevent::parse_structured(body).ok()?;
    let [event] = events.as_slice() else {
        return None;
    };
    let n = n_from_id(&event.id)?;
    let seq = doc.get("seq").map(serde_json::Value::as_u64);
    if stamps {
        let epoch = doc.get("epoch").and_then(serde_json::Value::as_u64);
        let origin = doc.get("origin").and_then(serde_json::Value::as_str);
        if !matches!(epoch, Some(1..)) || !matches!(origin, Some("upstream" | "synthetic")) {
            return None;
        }
        return Some((n, seq??));
    }
    match seq {
        Some(seq) => Some((n, seq?)),
        None => Some((n, n)),
    }
}

/// [`check_json`] without parsing, for the throughput trials of the sinks:
/// `n` from the `id` string, `seq` (and with `stamps`, a non-zero `epoch`
/// and an `origin`) read by a byte scan of compact JSON as serde_json
/// writes it. The event's `id` is the only `"id":"` (a JSON-RPC request's
/// own `id` is a number), and `seq`, `epoch`, `origin` occur only as the
/// extension attributes.
pub fn scan_json(body: &[u8], stamps: bool) -> Option<(u64, u64)> {
    let at = find(body, b"\"id\":\"")? + 6;
    let len = body.get(at..)?.iter().position(|&b| b == b'"')?;
    let n = n_from_id(std::str::from_utf8(&body[at..at + len]).ok()?)?;
    let seq = json_uint(body, b"\"seq\":");
    if stamps {
        let epoch = json_uint(body, b"\"epoch\":")?;
        find(body, b"\"origin\":\"")?;
        return (epoch != 0).then_some((n, seq?));
    }
    Some((n, seq.unwrap_or(n)))
}

/// The unsigned integer right after `key` in `body`, if `key` is there.
pub fn json_uint(body: &[u8], key: &[u8]) -> Option<u64> {
    let at = find(body, key)? + key.len();
    let digits = body
        .get(at..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&body[at..at + digits])
        .ok()?
        .parse()
        .ok()
}

/// What one subscriber socket saw.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Every `n` received, in order (for the measured-range count).
    pub ns: Vec<u32>,
    /// Receive time per event, only when latency is measured.
    pub times: Option<Vec<u64>>,
    /// Last `seq` seen (0 before the first event).
    pub last_seq: u64,
    /// Times `seq` was not the previous one plus one.
    pub seq_gaps: u64,
    /// Times `n` was not the previous one plus one.
    pub n_gaps: u64,
    /// Messages that failed the check.
    pub bad: u64,
    /// Wall time of the last event, ns.
    pub last_ns: u64,
}

impl Tally {
    /// A tally that also keeps receive times when `times`.
    pub fn new(times: bool) -> Tally {
        Tally {
            times: times.then(Vec::new),
            ..Tally::default()
        }
    }

    /// Count one message; `checked` is what [`FrameCheck::check`] returned.
    /// The receive time is taken here, after the check.
    pub fn record(&mut self, checked: Option<(u64, u64)>) {
        self.record_at(checked, super::now_ns());
    }

    /// [`Tally::record`] with a receive time taken by the caller (once per
    /// read of many records, in the loopback probe).
    pub fn record_at(&mut self, checked: Option<(u64, u64)>, now: u64) {
        let Some((n, seq)) = checked else {
            self.bad += 1;
            return;
        };
        if let Some(&prev) = self.ns.last() {
            if n != u64::from(prev) + 1 {
                self.n_gaps += 1;
            }
            if seq != self.last_seq + 1 {
                self.seq_gaps += 1;
            }
        }
        self.ns.push(n as u32);
        self.last_seq = seq;
        self.last_ns = now;
        if let Some(times) = &mut self.times {
            times.push(now);
        }
    }

    /// The largest `n` seen so far.
    pub fn last_n(&self) -> u64 {
        self.ns.last().map_or(0, |&n| u64::from(n))
    }

    /// The report for the measured range `first..=last`.
    pub fn report(&self, first: u64, last: u64) -> SocketReport {
        let in_range = |n: &&u32| (first..=last).contains(&u64::from(**n));
        let received = self.ns.iter().filter(in_range).count() as u64;
        let times = self.times.as_ref().map(|times| {
            self.ns
                .iter()
                .zip(times)
                .filter(|(n, _)| (first..=last).contains(&u64::from(**n)))
                .map(|(&n, &t)| (u64::from(n), t))
                .collect()
        });
        SocketReport {
            received,
            expected: last + 1 - first,
            seq_gaps: self.seq_gaps,
            n_gaps: self.n_gaps,
            bad: self.bad,
            last_ns: self.last_ns,
            times,
            switches: context_switches("self").ok(),
        }
    }
}

/// One subscriber socket's result, one JSON line per process (a list).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SocketReport {
    /// Events of the measured range received.
    pub received: u64,
    /// Events in the measured range.
    pub expected: u64,
    /// Sequence holes seen (any hole is a lost or reordered event).
    pub seq_gaps: u64,
    /// Emitter-number holes seen.
    pub n_gaps: u64,
    /// Messages that failed verification.
    pub bad: u64,
    /// Wall time of the last event, ns since the epoch.
    pub last_ns: u64,
    /// `(n, receive time ns)` of the measured range, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<Vec<(u64, u64)>>,
    /// Context switches of the whole subscriber process (all its threads)
    /// since it started, read as it reports; the same number in each of
    /// its sockets' reports. None from a subscriber that does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switches: Option<u64>,
}

/// Context switches, voluntary and not, of every thread of process `pid`
/// (a number, or `self`): `/proc/PID/task/*/status`. Each is a time the
/// thread went off the CPU: mostly, for a subscriber, a wait for the next
/// event and the wake-up that ends it.
pub fn context_switches(pid: &str) -> std::io::Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        // A thread that ended meanwhile is not counted.
        let Ok(status) = std::fs::read_to_string(task?.path().join("status")) else {
            continue;
        };
        total += status
            .lines()
            .filter_map(|l| {
                l.strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
            })
            .filter_map(|v| v.trim().parse::<u64>().ok())
            .sum::<u64>();
    }
    Ok(total)
}

impl SocketReport {
    /// Everything in the range arrived, in order, intact.
    pub fn lossless(&self) -> bool {
        self.received == self.expected && self.seq_gaps == 0 && self.n_gaps == 0 && self.bad == 0
    }
}

/// What an emitter prints when it is done.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmitReport {
    /// First measured `n`.
    pub first: u64,
    /// Last measured `n`.
    pub last: u64,
    /// When the first measured event was sent, ns since the epoch.
    pub start_ns: u64,
    /// When the last one had been handed to the socket (ZeroMQ: queued by
    /// `send`; NATS and the probe: written out of the emitter's buffer;
    /// HTTP: queued to the posters), ns since the epoch. The same rule for
    /// every system: taken before any wait for the peer (NATS PING/PONG,
    /// HTTP answers), so a backlog in the system shows as lag, never as a
    /// slower emitter.
    pub end_ns: u64,
    /// Send time per measured event (HTTP mode), in `n` order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_ns: Option<Vec<u64>>,
    /// Failed sends (HTTP: answers other than 204).
    pub errors: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_reads_what_proto_wrote() {
        for (n, seq) in [(1, 0), (77, 77), (300, 70_000), (1 << 40, u64::MAX)] {
            let frames = proto::frame::encode_event(&bench_event(n, seq)).unwrap();
            assert_eq!(scan_body(&frames.body), Some((n, seq)));
            let mut full = FrameCheck::new(Verify::Full);
            for _ in 0..2 {
                // Decoded fresh, then into the event decoded before.
                assert_eq!(full.check(&frames.topic, &frames.body), Some((n, seq)));
            }
            assert_eq!(
                FrameCheck::new(Verify::Seq).check(&frames.topic, &frames.body),
                Some((n, seq))
            );
        }
        // An invalid event after a good one: refused, not read from what
        // the good one left in the reused event.
        let mut full = FrameCheck::new(Verify::Full);
        let good = proto::frame::encode_event(&bench_event(5, 5)).unwrap();
        assert_eq!(full.check(&good.topic, &good.body), Some((5, 5)));
        let mut bad = bench_event(6, 6);
        bad.time = "yesterday".to_owned();
        let bad = proto::frame::encode_event(&bad).unwrap();
        assert_eq!(full.check(&bad.topic, &bad.body), None);
        assert_eq!(full.check(&good.topic, &good.body), Some((5, 5)));
    }

    /// The maker's events are bench_event's, but for the time, which is
    /// that of its last refresh; its bodies are what encode_event writes.
    #[test]
    fn the_maker_makes_bench_events() {
        let mut maker = Maker::new();
        for (n, seq) in [
            (1, 0),
            (16, 3),
            (17, 17),
            (300, 70_000),
            (1 << 40, u64::MAX),
        ] {
            let mut want = bench_event(n, seq);
            let body = maker.body(n, seq).unwrap().to_vec();
            let got = maker.event(n, seq).clone();
            want.time.clone_from(&got.time);
            assert_eq!(got, want, "event {n}");
            assert_eq!(
                body,
                proto::frame::encode_event(&want).unwrap().body,
                "body {n}"
            );
            assert_eq!(scan_body(&body), Some((n, seq)));
        }
        let before = maker.event(1, 1).time.clone();
        std::thread::sleep(std::time::Duration::from_millis(2));
        maker.refresh();
        assert_ne!(maker.event(1, 1).time, before, "refreshed");
    }

    #[test]
    fn json_checks_read_the_stamps() {
        let mut event = bench_event(42, 7);
        let plain = serde_json::to_vec(&proto::cloudevent::to_json(&event, false)).unwrap();
        assert_eq!(check_json(&plain, false), Some((42, 42)), "no seq: n");
        assert_eq!(check_json(&plain, true), None, "no stamps");
        event.meta.epoch = 99;
        let doc = proto::cloudevent::to_json(&event, true);
        let stamped = serde_json::to_vec(&doc).unwrap();
        assert_eq!(check_json(&stamped, true), Some((42, 7)));
        assert_eq!(check_value(&doc, true), Some((42, 7)));
        assert_eq!(check_json(b"{}", false), None);
        assert_eq!(scan_json(&plain, false), Some((42, 42)));
        assert_eq!(scan_json(&plain, true), None);
        assert_eq!(scan_json(&stamped, true), Some((42, 7)));
        let call = serde_json::to_vec(&serde_json::json!({
            "jsonrpc": "2.0", "id": 31, "method": topic(), "params": doc,
        }))
        .unwrap();
        assert_eq!(scan_json(&call, true), Some((42, 7)));
        assert_eq!(json_uint(&call, b"\"id\":"), Some(31));
    }

    #[test]
    fn tally_counts_holes() {
        let mut t = Tally::new(false);
        for (n, seq) in [(5, 1), (6, 2), (8, 3), (9, 5)] {
            t.record(Some((n, seq)));
        }
        t.record(None);
        let r = t.report(6, 9);
        assert_eq!((r.received, r.expected), (3, 4));
        assert_eq!((r.n_gaps, r.seq_gaps, r.bad), (1, 1, 1));
        assert!(!r.lossless());
    }
}
