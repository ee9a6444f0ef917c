//! The parts of ZMTP 3.x (rfc.zeromq.org 23/ZMTP, 37/ZMTP) that the
//! broker's PUB server and the client's SUB reader share: the greeting, the
//! NULL-mechanism READY command, frame encoding, and a frame parser that
//! works on a receive buffer and refuses sizes over a limit before anything
//! is allocated for them.
//!
//! Both ends are ours, but the format is the standard one: libzmq SUB
//! sockets subscribe to the broker, libzmq PUSH sockets emit to it, and the
//! client's reader could as well read a libzmq PUB.
//!
//! After the handshake, traffic is read through an [`Inbox`]: whole
//! commands and messages as slices of one receive buffer.

mod inbox;

pub use inbox::{FRAME_COST, Inbox, Incoming, MAX_PARTS, Parts};

/// Frame flag: more frames of this message follow.
pub const MORE: u8 = 0x01;
/// Frame flag: the size is 8 bytes (big-endian) instead of 1.
pub const LONG: u8 = 0x02;
/// Frame flag: a command, not a message frame.
pub const COMMAND: u8 = 0x04;

/// A greeting: signature, version 3.`minor`, mechanism NULL, as-server 0.
///
/// The broker says 3.1 because it understands the 3.1 SUBSCRIBE/CANCEL
/// commands; the client says 3.0 and subscribes with a 3.0 message, which
/// every 3.x publisher accepts.
pub fn greeting(minor: u8) -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xff;
    g[9] = 0x7f;
    g[10] = 3;
    g[11] = minor;
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

/// A READY command announcing `Socket-Type: socket_type`, as wire bytes.
pub fn ready(socket_type: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(24 + socket_type.len());
    body.push(5);
    body.extend_from_slice(b"READY");
    body.push(11);
    body.extend_from_slice(b"Socket-Type");
    // Socket types are a few letters.
    body.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    body.extend_from_slice(socket_type);
    let mut out = Vec::with_capacity(body.len() + 2);
    put_frame(&mut out, COMMAND, &body);
    out
}

/// The `Socket-Type` property of a READY command body, if it is one.
pub fn ready_socket_type(body: &[u8]) -> Result<&[u8], &'static str> {
    let (name, props) = command_name(body).ok_or("malformed command")?;
    socket_type(name, props)
}

/// The `Socket-Type` property of a command split into its name and data
/// (as [`Incoming::Command`] has it), if it is a READY.
pub fn socket_type<'a>(name: &[u8], mut props: &'a [u8]) -> Result<&'a [u8], &'static str> {
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

/// A PONG answering a PING command's data (TTL, then up to 16 bytes of
/// context), as wire bytes.
pub fn pong(ping: &[u8]) -> Vec<u8> {
    let context = ping.get(2..).unwrap_or_default();
    let context = &context[..context.len().min(16)];
    let mut body = Vec::with_capacity(5 + context.len());
    body.push(4);
    body.extend_from_slice(b"PONG");
    body.extend_from_slice(context);
    let mut out = Vec::with_capacity(body.len() + 2);
    put_frame(&mut out, COMMAND, &body);
    out
}

/// The wire bytes of the two-frame message `[topic, body]`.
pub fn encode(topic: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(topic.len() + body.len() + 18);
    put_frame(&mut out, MORE, topic);
    put_frame(&mut out, 0, body);
    out
}

/// Append one frame (flags, 1- or 8-byte size, data) to `out`.
pub fn put_frame(out: &mut Vec<u8>, flags: u8, data: &[u8]) {
    out.extend_from_slice(&frame_header(flags, data.len()));
    out.extend_from_slice(data);
}

/// The header of a frame of `len` bytes: flags and a 1-byte size up to
/// 255, flags with [`LONG`] and an 8-byte size above.
pub fn frame_header(flags: u8, len: usize) -> HeaderBytes {
    let mut bytes = [0; 9];
    match u8::try_from(len) {
        Ok(short) => {
            bytes[..2].copy_from_slice(&[flags, short]);
            HeaderBytes { bytes, len: 2 }
        }
        Err(_) => {
            bytes[0] = flags | LONG;
            bytes[1..].copy_from_slice(&(len as u64).to_be_bytes());
            HeaderBytes { bytes, len: 9 }
        }
    }
}

/// A frame header as [`frame_header`] writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderBytes {
    bytes: [u8; 9],
    len: usize,
}

impl std::ops::Deref for HeaderBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Where the next frame of a receive buffer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The flag byte ([`MORE`], [`LONG`], [`COMMAND`]).
    pub flags: u8,
    /// Bytes of flags and size before the data.
    pub header: usize,
    /// Bytes of data.
    pub size: usize,
}

impl FrameHeader {
    /// A command (READY, SUBSCRIBE, PING…) rather than message data.
    pub fn command(&self) -> bool {
        self.flags & COMMAND != 0
    }

    /// More frames of the same message follow.
    pub fn more(&self) -> bool {
        self.flags & MORE != 0
    }

    /// Header and data: what the frame takes of the buffer.
    pub fn len(&self) -> usize {
        self.header + self.size
    }

    /// A frame always has a header.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Read the header of the frame at the start of `buf`: `Ok(None)` while
/// the header is incomplete; an error for reserved flag bits, a command
/// with MORE, or a size over `max` (refused before the data is awaited).
/// The data itself may still be incomplete: see [`FrameHeader::len`].
pub fn parse_header(buf: &[u8], max: usize) -> Result<Option<FrameHeader>, &'static str> {
    let Some(&flags) = buf.first() else {
        return Ok(None);
    };
    if flags & !(MORE | LONG | COMMAND) != 0 {
        return Err("reserved frame flag bits set");
    }
    if flags & COMMAND != 0 && flags & MORE != 0 {
        return Err("command with MORE flag");
    }
    let (header, size) = if flags & LONG != 0 {
        let Some(size) = buf.get(1..9) else {
            return Ok(None);
        };
        let mut be = [0u8; 8];
        be.copy_from_slice(size);
        (9, u64::from_be_bytes(be))
    } else {
        let Some(&size) = buf.get(1) else {
            return Ok(None);
        };
        (2, u64::from(size))
    };
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| s <= max)
        .ok_or("frame larger than allowed")?;
    Ok(Some(FrameHeader {
        flags,
        header,
        size,
    }))
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
    fn headers_parse_incrementally_and_bad_ones_are_refused() {
        let wire = encode(b"t", &[9u8; 300]);
        assert_eq!(parse_header(&[], 1000), Ok(None));
        assert_eq!(parse_header(&wire[..1], 1000), Ok(None));
        let first = parse_header(&wire, 1000).unwrap().unwrap();
        assert!(first.more() && !first.command());
        assert_eq!((first.header, first.size), (2, 1));
        let rest = &wire[first.len()..];
        assert_eq!(parse_header(&rest[..5], 1000), Ok(None), "long size cut");
        let second = parse_header(rest, 1000).unwrap().unwrap();
        assert_eq!((second.header, second.size, second.more()), (9, 300, false));
        assert!(parse_header(rest, 299).is_err(), "over the limit");
        assert!(parse_header(&[0x08, 0], 10).is_err(), "reserved bit");
        assert!(parse_header(&[COMMAND | MORE, 0], 10).is_err());
        let huge = [LONG, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(parse_header(&huge, usize::MAX - 1).is_err());
    }

    #[test]
    fn ready_round_trips_and_garbage_is_refused() {
        let ready = ready(b"PUB");
        assert_eq!(ready_socket_type(&ready[2..]), Ok(&b"PUB"[..]));
        for junk in [
            &[][..],
            &[9],
            &[5, b'R', b'E'],
            &[5, b'R', b'E', b'A', b'D', b'Y', 200],
        ] {
            assert!(ready_socket_type(junk).is_err());
        }
        let mut g = greeting(1);
        assert!(check_greeting(&g).is_ok());
        g[12] = b'C';
        assert!(check_greeting(&g).is_err());
    }

    #[test]
    fn pong_carries_the_ping_context() {
        let wire = pong(&[0, 10, b'a', b'b']);
        assert_eq!(
            &wire[..],
            &[COMMAND, 7, 4, b'P', b'O', b'N', b'G', b'a', b'b']
        );
    }
}
