#![no_main]
//! Our PUB socket's side of ZMTP 3: the peer's greeting (first 64 bytes),
//! then frames as the connection reads them, with READY and PING commands
//! looked into as the handshake does.

use broker::sink::fanout::zmtp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (greeting, mut rest) = data.split_at(data.len().min(64));
    if let Ok(g) = <&[u8; 64]>::try_from(greeting) {
        let _ = zmtp::check_greeting(g);
    }
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
