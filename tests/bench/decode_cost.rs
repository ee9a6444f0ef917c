//! What decoding one bench event costs in this process: the part of a
//! `client::register` subscriber's CPU per event that a raw SUB, which
//! only scans `seq`, does not spend. With the cost table of scenario 1 it
//! bounds what any client that decodes and validates each event once can
//! reach next to a raw SUB ([`crate::report`], "what decoding costs").

use std::hint::black_box;
use std::time::Instant;

use crate::wire::load;

/// Nanoseconds per event, the fastest of [`BATCHES`] batches (the floor:
/// no process on a loaded machine decodes faster).
#[derive(Debug, Clone, Copy)]
pub struct DecodeCost {
    /// The body's bytes.
    pub body_bytes: usize,
    /// `proto::frame::view`: finding every field, nothing copied.
    pub view_ns: f64,
    /// `proto::frame::decode_event_into` into a spent event: the view,
    /// the copy into the event's strings, and validation — what the
    /// client's I/O thread does per event.
    pub decode_ns: f64,
}

const BATCHES: usize = 5;
const PER_BATCH: u32 = 200_000;

/// Time both on the bench's own event (as `bench-emit` sends it, stamped).
pub fn measure() -> anyhow::Result<DecodeCost> {
    let frames = proto::frame::encode_event(&load::bench_event(1 << 20, 1 << 20))?;
    let (topic, body) = (frames.topic.to_vec(), frames.body.to_vec());
    let mut into = load::bench_event(0, 0);
    anyhow::ensure!(
        proto::frame::decode_event_into(&topic, &body, body.len(), &mut into),
        "the bench event does not take the client's fast path"
    );
    let fastest = |f: &mut dyn FnMut() -> bool| -> f64 {
        (0..BATCHES)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..PER_BATCH {
                    black_box(f());
                }
                start.elapsed().as_nanos() as f64 / f64::from(PER_BATCH)
            })
            .fold(f64::INFINITY, f64::min)
    };
    let view_ns = fastest(&mut || proto::frame::view(black_box(&body)).is_some());
    let decode_ns = fastest(&mut || {
        proto::frame::decode_event_into(black_box(&topic), black_box(&body), body.len(), &mut into)
    });
    Ok(DecodeCost {
        body_bytes: body.len(),
        view_ns,
        decode_ns,
    })
}
