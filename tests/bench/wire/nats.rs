//! A minimal blocking client of the NATS text protocol: CONNECT, PUB, SUB,
//! MSG, PING/PONG. Written by hand (about 200 lines) instead of using
//! `async-nats` so both ends of the bench speak the protocol with the same
//! kind of code as the ZeroMQ helpers: one socket, one buffer, no extra
//! runtime, no hidden queues that would blur what is measured.
//!
//! The reader is as lean as the ZeroMQ SUB's: the socket's read timeout is
//! set once, at connect; bytes read are never thrown away (a read that
//! times out in the middle of a line or a payload keeps what it has, and
//! the next call goes on from there); a MSG is parsed in place and handed
//! out as slices of the read buffer, with no allocation per message.

use std::io::{self, BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long one read waits: the longest a [`Nats::next_within`] can
/// overrun its timeout, and how often [`Nats::round_trip`] looks at its
/// deadline.
const READ_TIMEOUT: Duration = Duration::from_millis(20);

/// How long [`Nats::round_trip`] waits for the PONG.
const ROUND_TRIP_LIMIT: Duration = Duration::from_secs(60);

/// One connection to nats-server.
pub struct Nats {
    stream: TcpStream,
    writer: BufWriter<TcpStream>,
    /// Bytes read and not yet consumed are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// What [`Nats::next_within`] read. A message borrows the read buffer
/// until the next call.
pub enum Incoming<'a> {
    /// A message on a subscription.
    Msg {
        /// Its subject.
        subject: &'a [u8],
        /// Its payload.
        payload: &'a [u8],
    },
    /// The server answered our PING.
    Pong,
    /// Nothing complete arrived in time.
    Idle,
}

/// What one complete protocol item in the buffer is (offsets into `buf`).
enum Parsed {
    Msg {
        subject: (usize, usize),
        payload: (usize, usize),
    },
    Pong,
    /// PING, +OK, INFO: handled or ignored, nothing to return.
    Other,
}

impl Nats {
    /// Connect to `addr` (`host:port`), read INFO, send CONNECT.
    pub fn connect(addr: &str) -> io::Result<Nats> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        // The one timeout of this socket; never changed afterwards.
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        let mut nats = Nats {
            writer: BufWriter::with_capacity(64 * 1024, stream.try_clone()?),
            stream,
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
        };
        let deadline = Instant::now() + ROUND_TRIP_LIMIT;
        let info = loop {
            if let Some(line_end) = nats.line_end() {
                let line = nats.buf[nats.start..line_end].to_vec();
                nats.start = line_end + 2;
                break line;
            }
            if Instant::now() >= deadline {
                return Err(io::ErrorKind::TimedOut.into());
            }
            nats.fill()?;
        };
        if !info.starts_with(b"INFO ") {
            return Err(bad(format!(
                "expected INFO, got {:?}",
                String::from_utf8_lossy(&info)
            )));
        }
        nats.writer
            .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"bench\"}\r\n")?;
        Ok(nats)
    }

    /// Subscribe to `subject` and wait until the server has it in effect
    /// (a PING answered after the SUB).
    pub fn subscribe(&mut self, subject: &str, sid: u32) -> io::Result<()> {
        write!(self.writer, "SUB {subject} {sid}\r\n")?;
        self.round_trip()
    }

    /// Queue one message (sent on [`Nats::flush`] or when the buffer fills).
    pub fn publish(&mut self, subject: &str, payload: &[u8]) -> io::Result<()> {
        write!(self.writer, "PUB {subject} {}\r\n", payload.len())?;
        self.writer.write_all(payload)?;
        self.writer.write_all(b"\r\n")
    }

    /// Hand what is buffered to the socket.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// PING and wait for PONG: everything sent before has been processed.
    /// Messages arriving meanwhile are skipped; server PINGs are answered.
    pub fn round_trip(&mut self) -> io::Result<()> {
        self.writer.write_all(b"PING\r\n")?;
        self.writer.flush()?;
        let deadline = Instant::now() + ROUND_TRIP_LIMIT;
        while Instant::now() < deadline {
            if let Incoming::Pong = self.next_within(READ_TIMEOUT)? {
                return Ok(());
            }
        }
        Err(io::Error::new(io::ErrorKind::TimedOut, "no PONG"))
    }

    /// The next message or PONG, waiting about `timeout` for one (at most
    /// one [`READ_TIMEOUT`] more).
    pub fn next_within(&mut self, timeout: Duration) -> io::Result<Incoming<'_>> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.parse()? {
                Some(Parsed::Msg { subject, payload }) => {
                    return Ok(Incoming::Msg {
                        subject: &self.buf[subject.0..subject.1],
                        payload: &self.buf[payload.0..payload.1],
                    });
                }
                Some(Parsed::Pong) => return Ok(Incoming::Pong),
                Some(Parsed::Other) => continue,
                None => {}
            }
            if !self.fill()? && Instant::now() >= deadline {
                return Ok(Incoming::Idle);
            }
        }
    }

    /// Take one complete item off the buffer, if there is one. An
    /// incomplete item stays where it is, for after the next [`Nats::fill`].
    fn parse(&mut self) -> io::Result<Option<Parsed>> {
        let Some(line_end) = self.line_end() else {
            return Ok(None);
        };
        let line = &self.buf[self.start..line_end];
        let after_line = line_end + 2;
        if let Some(args) = line.strip_prefix(b"MSG ") {
            // MSG <subject> <sid> [reply-to] <#bytes>
            let args_at = self.start + 4;
            let subject_len = args.iter().position(|&b| b == b' ').unwrap_or(args.len());
            let size_at = args.iter().rposition(|&b| b == b' ').map_or(0, |i| i + 1);
            let size = parse_size(&args[size_at..])
                .ok_or_else(|| bad(format!("bad MSG line {:?}", String::from_utf8_lossy(line))))?;
            if subject_len == 0 || size_at == 0 {
                return Err(bad(format!(
                    "bad MSG line {:?}",
                    String::from_utf8_lossy(line)
                )));
            }
            if self.end < after_line + size + 2 {
                return Ok(None);
            }
            self.start = after_line + size + 2;
            return Ok(Some(Parsed::Msg {
                subject: (args_at, args_at + subject_len),
                payload: (after_line, after_line + size),
            }));
        }
        let parsed = if line == b"PING" {
            self.writer.write_all(b"PONG\r\n")?;
            self.writer.flush()?;
            Parsed::Other
        } else if line == b"PONG" {
            Parsed::Pong
        } else if line.starts_with(b"-ERR") {
            return Err(bad(String::from_utf8_lossy(line).into_owned()));
        } else {
            // +OK and INFO updates carry nothing we need.
            Parsed::Other
        };
        self.start = after_line;
        Ok(Some(parsed))
    }

    /// Where the `\r\n` of the first buffered line is, if it is complete.
    fn line_end(&self) -> Option<usize> {
        self.buf[self.start..self.end]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|i| self.start + i)
    }

    /// One read into the free end of the buffer (moving what is left to
    /// the front, or growing the buffer for a payload larger than it).
    /// `false` when the read timed out with nothing new.
    fn fill(&mut self) -> io::Result<bool> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            } else {
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        match self.stream.read(&mut self.buf[self.end..]) {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                self.end += n;
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

/// A decimal byte count.
fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    digits.iter().try_fold(0usize, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + usize::from(d - b'0'))
    })
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A fake server that writes `chunks` with pauses longer than the read
    /// timeout, splitting lines and payloads: nothing may be lost.
    #[test]
    fn partial_lines_survive_read_timeouts() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let chunks: [&[u8]; 6] = [
                b"INFO {}\r\nPI",
                b"NG\r\nMSG a.b 1 5\r",
                b"\nhel",
                b"lo\r\nMSG c 1 r 0\r\n\r\n+OK\r\nMSG d 2 3\r\nx y",
                b"\r\nPO",
                b"NG\r\n",
            ];
            for chunk in chunks {
                s.write_all(chunk).unwrap();
                std::thread::sleep(READ_TIMEOUT * 3);
            }
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
            sink
        });
        let mut nats = Nats::connect(&addr).unwrap();
        let mut got = Vec::new();
        while got.len() < 4 {
            match nats.next_within(READ_TIMEOUT).unwrap() {
                Incoming::Msg { subject, payload } => got.push(format!(
                    "{} {}",
                    String::from_utf8_lossy(subject),
                    String::from_utf8_lossy(payload)
                )),
                Incoming::Pong => got.push("PONG".to_owned()),
                Incoming::Idle => {}
            }
        }
        assert_eq!(got, ["a.b hello", "c ", "d x y", "PONG"]);
        drop(nats);
        let sent = server.join().unwrap();
        assert!(sent.ends_with(b"PONG\r\n"), "the server's PING answered");
    }
}
