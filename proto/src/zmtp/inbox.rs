//! A receive buffer that hands out whole commands and messages as slices
//! of itself: the one reader of ZMTP traffic after the handshake, for the
//! broker's PULL and the client's SUB.
//!
//! The caller reads the socket into [`Inbox::buffer`] and then takes
//! everything complete with [`Inbox::next_message`] (or [`Inbox::next_item`]): one read can carry a burst,
//! and nothing is copied or allocated per frame. Sizes are checked from
//! each frame's header, before its data is awaited: a frame over the
//! frame limit, or a message whose frames (plus [`FRAME_COST`] each) pass
//! the message limit, is an error the moment its header is seen, so the
//! buffer never holds more than one message's limit and a read.

use super::parse_header;

/// Frames of one message that [`Parts`] keeps; a message may have more
/// (within the message limit), [`Parts::count`] says how many.
pub const MAX_PARTS: usize = 8;

/// What each frame costs against the message limit besides its data, so
/// that a stream of empty frames flagged "more" is bounded too.
pub const FRAME_COST: usize = 64;

/// One item of traffic.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A command (PING, SUBSCRIBE, ERROR…): its name and its data.
    Command {
        /// The command's name, e.g. `b"PING"`.
        name: &'a [u8],
        /// What follows the name.
        data: &'a [u8],
    },
    /// A whole message.
    Message(Parts<'a>),
}

/// The frames of a message: the first [`MAX_PARTS`] of them, and how many
/// there were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    parts: [&'a [u8]; MAX_PARTS],
    count: usize,
}

impl<'a> Parts<'a> {
    /// The frames kept (all of them unless [`count`](Parts::count) is over
    /// [`MAX_PARTS`]).
    pub fn as_slice(&self) -> &[&'a [u8]] {
        &self.parts[..self.count.min(MAX_PARTS)]
    }

    /// How many frames the message had.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// The receive buffer of one connection.
#[derive(Debug)]
pub struct Inbox {
    buf: Vec<u8>,
    /// Bytes before this are taken.
    start: usize,
    max_frame: usize,
    max_message: usize,
    chunk: usize,
}

impl Inbox {
    /// An empty inbox for frames of at most `max_frame` bytes and messages
    /// of at most `max_message` (data plus [`FRAME_COST`] per frame); each
    /// read gets at least `chunk` bytes of room (the buffer is allocated on
    /// the first read).
    pub fn new(max_frame: usize, max_message: usize, chunk: usize) -> Inbox {
        Inbox {
            buf: Vec::new(),
            start: 0,
            max_frame,
            max_message: max_message.max(max_frame),
            chunk: chunk.max(64),
        }
    }

    /// The buffer to read into (its spare capacity): the bytes already
    /// taken are let go first, and there is room for at least a chunk, or
    /// for the rest of the frame being read if that is larger.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let want = self.shortfall();
        let spare = self.buf.capacity() - self.buf.len();
        let need = want.max(self.chunk);
        if spare < need / 4 || spare < want {
            self.buf.reserve(need);
        }
        &mut self.buf
    }

    /// The bytes still missing of the first incomplete frame (0 if unknown).
    fn shortfall(&self) -> usize {
        let mut pos = 0;
        while let Ok(Some(h)) = parse_header(&self.buf[pos..], self.max_frame) {
            if self.buf.len() - pos < h.len() {
                return h.len() - (self.buf.len() - pos);
            }
            pos += h.len();
        }
        0
    }

    /// Bytes received and not yet taken.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole command or message, `Ok(None)` until one is there.
    /// An error means the peer broke the protocol (or a limit) and the
    /// connection must end; the inbox is not usable after it.
    pub fn next_item(&mut self) -> Result<Option<Incoming<'_>>, &'static str> {
        Ok(self.scan()?.map(|item| self.view(item)))
    }

    /// The next whole message, `Ok(None)` until one is there; commands
    /// before it go to `command` (name, data), whose error ends the read
    /// as [`next_item`](Inbox::next_item)'s do.
    pub fn next_message(
        &mut self,
        mut command: impl FnMut(&[u8], &[u8]) -> Result<(), &'static str>,
    ) -> Result<Option<Parts<'_>>, &'static str> {
        loop {
            match self.scan()? {
                None => return Ok(None),
                Some(item @ Item::Message { .. }) => {
                    return match self.view(item) {
                        Incoming::Message(parts) => Ok(Some(parts)),
                        Incoming::Command { .. } => unreachable!("a message item"),
                    };
                }
                Some(item) => {
                    if let Incoming::Command { name, data } = self.view(item) {
                        command(name, data)?;
                    }
                }
            }
        }
    }

    /// Find the next whole item and take it: where its pieces are.
    fn scan(&mut self) -> Result<Option<Item>, &'static str> {
        let data = &self.buf[self.start..];
        let mut ranges = [(0usize, 0usize); MAX_PARTS];
        let mut count = 0;
        let mut cost = 0usize;
        let mut pos = 0;
        loop {
            let Some(h) = parse_header(&data[pos..], self.max_frame)? else {
                return Ok(None);
            };
            if h.command() {
                if count > 0 {
                    return Err("command inside a message");
                }
                if data.len() < h.len() {
                    return Ok(None);
                }
                let body = &data[h.header..h.len()];
                let (&len, rest) = body.split_first().ok_or("malformed command")?;
                let len = usize::from(len);
                if rest.len() < len {
                    return Err("malformed command");
                }
                let at = self.start + h.header + 1;
                self.start += h.len();
                return Ok(Some(Item::Command {
                    name: (at, at + len),
                    data: (at + len, self.start),
                }));
            }
            cost = cost.saturating_add(h.size + FRAME_COST);
            if cost > self.max_message {
                return Err("message too long");
            }
            if data.len() < pos + h.len() {
                return Ok(None);
            }
            if count < MAX_PARTS {
                let at = self.start + pos;
                ranges[count] = (at + h.header, at + h.len());
            }
            count += 1;
            pos += h.len();
            if !h.more() {
                break;
            }
        }
        self.start += pos;
        Ok(Some(Item::Message { ranges, count }))
    }

    /// An item's pieces as slices of the buffer.
    fn view(&self, item: Item) -> Incoming<'_> {
        let buf = &self.buf[..];
        match item {
            Item::Command { name, data } => Incoming::Command {
                name: &buf[name.0..name.1],
                data: &buf[data.0..data.1],
            },
            Item::Message { ranges, count } => {
                let mut parts = [&buf[..0]; MAX_PARTS];
                for (part, &(from, to)) in parts.iter_mut().zip(&ranges[..count.min(MAX_PARTS)]) {
                    *part = &buf[from..to];
                }
                Incoming::Message(Parts { parts, count })
            }
        }
    }
}

/// Where a taken item's pieces are in the buffer (start, end).
#[derive(Debug, Clone, Copy)]
enum Item {
    Command {
        name: (usize, usize),
        data: (usize, usize),
    },
    Message {
        ranges: [(usize, usize); MAX_PARTS],
        count: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::super::{COMMAND, MORE, encode, put_frame};
    use super::*;

    /// Feed `wire` into `inbox` `step` bytes at a time, collecting every
    /// item as owned frames.
    fn feed(
        inbox: &mut Inbox,
        wire: &[u8],
        step: usize,
    ) -> Result<Vec<Vec<Vec<u8>>>, &'static str> {
        let mut out = Vec::new();
        for chunk in wire.chunks(step) {
            inbox.buffer().extend_from_slice(chunk);
            while let Some(item) = inbox.next_item()? {
                out.push(match item {
                    Incoming::Command { name, data } => {
                        vec![b"!".to_vec(), name.to_vec(), data.to_vec()]
                    }
                    Incoming::Message(parts) => {
                        let mut frames: Vec<Vec<u8>> =
                            parts.as_slice().iter().map(|p| p.to_vec()).collect();
                        if parts.count() > MAX_PARTS {
                            frames.push(format!("+{}", parts.count()).into_bytes());
                        }
                        frames
                    }
                });
            }
        }
        Ok(out)
    }

    #[test]
    fn messages_and_commands_come_whole_at_any_split() {
        let mut wire = Vec::new();
        wire.extend(encode(b"topic", &[7u8; 300]));
        put_frame(&mut wire, COMMAND, b"\x04PING\x00\x0actx");
        wire.extend(encode(b"t", b""));
        for _ in 0..9 {
            put_frame(&mut wire, MORE, b"m");
        }
        put_frame(&mut wire, 0, b"end");
        let want = vec![
            vec![b"topic".to_vec(), vec![7u8; 300]],
            vec![b"!".to_vec(), b"PING".to_vec(), b"\x00\x0actx".to_vec()],
            vec![b"t".to_vec(), vec![]],
            [vec![b"m".to_vec(); MAX_PARTS], vec![b"+10".to_vec()]].concat(),
        ];
        for step in [1, 2, 3, 7, 64, wire.len()] {
            let mut inbox = Inbox::new(1000, 2000, 16);
            assert_eq!(feed(&mut inbox, &wire, step).unwrap(), want, "step {step}");
            assert_eq!(inbox.pending(), 0);
        }
    }

    #[test]
    fn limits_are_enforced_from_the_headers() {
        // A frame over the limit: refused from its 9-byte header alone.
        let mut inbox = Inbox::new(100, 200, 16);
        let mut wire = vec![0x02];
        wire.extend(1_000_000u64.to_be_bytes());
        assert_eq!(feed(&mut inbox, &wire, 9), Err("frame larger than allowed"));
        // Frames flagged "more" forever: refused once the message limit is passed,
        // with at most that much buffered.
        let mut inbox = Inbox::new(100, 1000, 16);
        let mut wire = Vec::new();
        for _ in 0..100 {
            put_frame(&mut wire, MORE, &[b'x'; 50]);
        }
        assert_eq!(feed(&mut inbox, &wire, 13), Err("message too long"));
        assert!(inbox.pending() <= 1000);
        // Empty frames cost too.
        let mut inbox = Inbox::new(100, 1000, 16);
        let wire: Vec<u8> = std::iter::repeat_n([MORE, 0], 100).flatten().collect();
        assert_eq!(feed(&mut inbox, &wire, 5), Err("message too long"));
        // A command between a message's frames, reserved bits, a nameless command.
        for wire in [
            vec![MORE, 1, b'a', COMMAND, 1, 0],
            vec![0x10, 0],
            vec![COMMAND, 0],
            vec![COMMAND, 2, 5, b'x'],
        ] {
            let mut inbox = Inbox::new(100, 1000, 16);
            assert!(feed(&mut inbox, &wire, 1).is_err(), "{wire:?}");
        }
    }

    #[test]
    fn next_message_hands_commands_to_its_handler_and_stops_on_its_error() {
        let mut wire = Vec::new();
        put_frame(&mut wire, COMMAND, b"\x04PING\x00\x01a");
        wire.extend(encode(b"t", b"x"));
        put_frame(&mut wire, COMMAND, b"\x05ERROR\x03bad");
        wire.extend(encode(b"u", b"y"));
        let mut inbox = Inbox::new(100, 1000, 16);
        inbox.buffer().extend_from_slice(&wire);
        let mut seen = Vec::new();
        let mut handler = |name: &[u8], data: &[u8]| {
            seen.push((name.to_vec(), data.to_vec()));
            if name == b"ERROR" {
                Err("peer sent ERROR")
            } else {
                Ok(())
            }
        };
        let first = inbox.next_message(&mut handler).unwrap().unwrap();
        assert_eq!(first.as_slice(), &[&b"t"[..], &b"x"[..]]);
        assert_eq!(inbox.next_message(&mut handler), Err("peer sent ERROR"));
        assert_eq!(
            seen,
            [
                (b"PING".to_vec(), b"\x00\x01a".to_vec()),
                (b"ERROR".to_vec(), b"\x03bad".to_vec())
            ]
        );
    }

    #[test]
    fn the_buffer_makes_room_for_a_long_frame_and_lets_go_of_taken_bytes() {
        let mut inbox = Inbox::new(100_000, 200_000, 64);
        let wire = encode(b"t", &[1u8; 50_000]);
        inbox.buffer().extend_from_slice(&wire[..20]);
        assert_eq!(inbox.next_item(), Ok(None));
        assert!(
            inbox.buffer().capacity() >= 50_000,
            "room for the whole frame"
        );
        inbox.buffer().extend_from_slice(&wire[20..]);
        assert!(matches!(inbox.next_item(), Ok(Some(Incoming::Message(p))) if p.count() == 2));
        assert_eq!(inbox.pending(), 0);
        assert!(inbox.buffer().is_empty());
    }
}
