//! The parts of ZMTP 3.x (rfc.zeromq.org 23/ZMTP, 37/ZMTP) a PUB server
//! needs: greeting, NULL-mechanism READY, frame encoding, and a frame reader
//! that refuses anything larger than a subscriber could legitimately send.

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Frame flag: more frames of this message follow.
const MORE: u8 = 0x01;
/// Frame flag: the size is 8 bytes (big-endian) instead of 1.
const LONG: u8 = 0x02;
/// Frame flag: a command, not a message frame.
const COMMAND: u8 = 0x04;

/// Our greeting: signature, version 3.1, mechanism NULL, as-server 0.
///
/// 3.1 rather than 3.0 because we understand the 3.1 SUBSCRIBE/CANCEL
/// commands; peers speaking 3.0 send subscriptions as messages, also handled.
pub fn greeting() -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = 3;
    g[11] = 1;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// Check a peer's greeting: ZMTP 3.x signature and the NULL mechanism
/// (the only one we speak; anything else could not complete the handshake).
pub fn check_greeting(g: &[u8; 64]) -> Result<(), &'static str> {
    if g[0] != 0xff || g[9] & 0x01 == 0 {
        return Err("not a ZMTP greeting");
    }
    if g[10] < 3 {
        return Err("ZMTP version before 3.0");
    }
    let mechanism = &g[12..32];
    if &mechanism[..4] != b"NULL" || mechanism[4..].iter().any(|&b| b != 0) {
        return Err("mechanism is not NULL");
    }
    Ok(())
}

/// Our READY command announcing `Socket-Type: PUB`.
pub fn ready_pub() -> Bytes {
    let mut body = BytesMut::new();
    body.put_u8(5);
    body.put_slice(b"READY");
    body.put_u8(11);
    body.put_slice(b"Socket-Type");
    body.put_u32(3);
    body.put_slice(b"PUB");
    let mut out = BytesMut::with_capacity(body.len() + 2);
    put_frame(&mut out, COMMAND, &body);
    out.freeze()
}

/// The `Socket-Type` property of a READY command body, if it is one.
pub fn ready_socket_type(body: &[u8]) -> Result<&[u8], &'static str> {
    let (name, mut props) = command_name(body).ok_or("malformed command")?;
    if name == b"ERROR" {
        return Err("peer sent ERROR");
    }
    if name != b"READY" {
        return Err("expected READY");
    }
    while let Some((&len, rest)) = props.split_first() {
        let len = usize::from(len);
        let key = rest.get(..len).ok_or("truncated property name")?;
        let rest = &rest[len..];
        let size = rest.get(..4).ok_or("truncated property size")?;
        let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]);
        let size = usize::try_from(size).map_err(|_| "property too large")?;
        let value = rest.get(4..4 + size).ok_or("truncated property value")?;
        if key.eq_ignore_ascii_case(b"Socket-Type") {
            return Ok(value);
        }
        props = &rest[4 + size..];
    }
    Err("READY without Socket-Type")
}

/// Split a command body into its name and the data after it.
pub fn command_name(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = body.split_first()?;
    let len = usize::from(len);
    Some((rest.get(..len)?, rest.get(len..)?))
}

/// A PONG answering a PING command's data (TTL, then up to 16 bytes of context).
pub fn pong(ping: &[u8]) -> Bytes {
    let context = ping.get(2..).unwrap_or_default();
    let context = &context[..context.len().min(16)];
    let mut body = BytesMut::with_capacity(5 + context.len());
    body.put_u8(4);
    body.put_slice(b"PONG");
    body.put_slice(context);
    let mut out = BytesMut::with_capacity(body.len() + 2);
    put_frame(&mut out, COMMAND, &body);
    out.freeze()
}

/// The wire bytes of the two-frame message `[topic, body]`, encoded once
/// and then shared (by reference count) with every subscriber's queue.
pub fn encode(topic: &[u8], body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(topic.len() + body.len() + 18);
    put_frame(&mut out, MORE, topic);
    put_frame(&mut out, 0, body);
    out.freeze()
}

fn put_frame(out: &mut BytesMut, flags: u8, data: &[u8]) {
    match u8::try_from(data.len()) {
        Ok(len) => {
            out.put_u8(flags);
            out.put_u8(len);
        }
        Err(_) => {
            out.put_u8(flags | LONG);
            out.put_u64(data.len() as u64);
        }
    }
    out.put_slice(data);
}

/// One frame as read from a peer.
#[derive(Debug)]
pub struct Frame {
    /// A command (READY, SUBSCRIBE, CANCEL, PING…) rather than message data.
    pub command: bool,
    /// More frames of the same message follow.
    pub more: bool,
    /// The frame's data.
    pub body: Vec<u8>,
}

/// Why reading a frame failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The connection failed or closed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer broke the protocol; it is disconnected.
    #[error("protocol error: {0}")]
    Protocol(&'static str),
}

/// Read one frame, refusing sizes over `max` before allocating for them.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> Result<Frame, ReadError> {
    let flags = r.read_u8().await?;
    if flags & !(MORE | LONG | COMMAND) != 0 {
        return Err(ReadError::Protocol("reserved frame flag bits set"));
    }
    let size = if flags & LONG != 0 {
        r.read_u64().await?
    } else {
        u64::from(r.read_u8().await?)
    };
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| s <= max)
        .ok_or(ReadError::Protocol("frame larger than allowed"))?;
    let mut body = vec![0; size];
    r.read_exact(&mut body).await?;
    let command = flags & COMMAND != 0;
    if command && flags & MORE != 0 {
        return Err(ReadError::Protocol("command with MORE flag"));
    }
    Ok(Frame {
        command,
        more: flags & MORE != 0,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_short_and_long_frames() {
        let wire = encode(b"t", b"xy");
        assert_eq!(&wire[..], &[1, 1, b't', 0, 2, b'x', b'y']);
        let body = vec![7u8; 300];
        let wire = encode(b"", &body);
        assert_eq!(&wire[..11], &[1, 0, 2, 0, 0, 0, 0, 0, 0, 1, 44]);
        assert_eq!(wire.len(), 11 + 300);
    }

    #[test]
    fn ready_round_trips_and_garbage_is_refused() {
        let ready = ready_pub();
        assert_eq!(ready_socket_type(&ready[2..]), Ok(&b"PUB"[..]));
        for junk in [
            &[][..],
            &[9],
            &[5, b'R', b'E'],
            &[5, b'R', b'E', b'A', b'D', b'Y', 200],
        ] {
            assert!(ready_socket_type(junk).is_err());
        }
        let mut g = greeting();
        assert!(check_greeting(&g).is_ok());
        g[12] = b'C';
        assert!(check_greeting(&g).is_err());
    }
}
