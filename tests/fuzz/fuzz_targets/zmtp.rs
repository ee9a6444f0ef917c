#![no_main]
//! Our side of ZMTP 3: the peer's greeting (first 64 bytes), then frames
//! as the PUB socket's connection reads them, with READY and PING commands
//! looked into as the handshake does; and the same bytes through the
//! inbox the PULL socket and the client read with
//! (`proto::zmtp::Inbox`), arriving in reads of a size the input picks,
//! which must never hold more than a message's limit and a read.

use broker::sink::fanout::zmtp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (greeting, mut rest) = data.split_at(data.len().min(64));
    if let Ok(g) = <&[u8; 64]>::try_from(greeting) {
        let _ = zmtp::check_greeting(g);
    }
    inbox(rest);
    futures::executor::block_on(async {
        while let Ok(frame) = zmtp::read_frame(&mut rest, 64 * 1024).await {
            if !frame.command {
                continue;
            }
            let _ = zmtp::ready_socket_type(&frame.body);
            if let Some((name, ping)) = zmtp::command_name(&frame.body)
                && name == b"PING"
            {
                let _ = zmtp::pong(ping);
            }
        }
    });
});

fn inbox(data: &[u8]) {
    use proto::zmtp::{Inbox, Incoming};
    const FRAME: usize = 4096;
    const MESSAGE: usize = 2 * FRAME;
    let Some((&step, data)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut inbox = Inbox::new(FRAME, MESSAGE, 64);
    for chunk in data.chunks(step) {
        inbox.buffer().extend_from_slice(chunk);
        assert!(
            inbox.pending() <= MESSAGE + FRAME + step,
            "{}",
            inbox.pending()
        );
        loop {
            match inbox.next_item() {
                Ok(Some(Incoming::Command { name, data })) => {
                    let _ = proto::zmtp::socket_type(name, data);
                }
                Ok(Some(Incoming::Message(parts))) => {
                    assert!(parts.as_slice().len() <= parts.count());
                    let _ = proto::frame::decode_frames(parts.as_slice(), FRAME);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}
