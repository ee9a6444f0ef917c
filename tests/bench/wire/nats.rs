//! A minimal blocking client of the NATS text protocol: CONNECT, PUB, SUB,
//! MSG, PING/PONG. Written by hand (about 100 lines) instead of using
//! `async-nats` so both ends of the bench speak the protocol with the same
//! kind of code as the ZeroMQ helpers: one socket, one buffer, no extra
//! runtime, no hidden queues that would blur what is measured.

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One connection to nats-server.
pub struct Nats {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
}

/// What [`Nats::next`] read.
pub enum Incoming {
    /// A message on a subscription.
    Msg {
        /// Its subject.
        subject: String,
        /// Its payload.
        payload: Vec<u8>,
    },
    /// The server answered our PING.
    Pong,
    /// The read timed out; nothing arrived.
    Idle,
}

impl Nats {
    /// Connect to `addr` (`host:port`), read INFO, send CONNECT.
    pub fn connect(addr: &str) -> io::Result<Nats> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let mut nats = Nats {
            reader: BufReader::with_capacity(256 * 1024, stream.try_clone()?),
            writer: BufWriter::with_capacity(64 * 1024, stream),
        };
        let info = nats.line()?;
        if !info.starts_with("INFO ") {
            return Err(bad(format!("expected INFO, got {info:?}")));
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

    /// Send what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// PING and wait for PONG: everything sent before has been processed.
    /// Server PINGs are answered on the way.
    pub fn round_trip(&mut self) -> io::Result<()> {
        self.writer.write_all(b"PING\r\n")?;
        self.writer.flush()?;
        self.reader.get_ref().set_read_timeout(None)?;
        loop {
            if let Incoming::Pong = self.next()? {
                return Ok(());
            }
        }
    }

    /// Wait at most `timeout` for the next message.
    pub fn next_within(&mut self, timeout: Duration) -> io::Result<Incoming> {
        if self.reader.buffer().is_empty() {
            self.reader.get_ref().set_read_timeout(Some(timeout))?;
        }
        match self.next() {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(Incoming::Idle)
            }
            other => other,
        }
    }

    fn next(&mut self) -> io::Result<Incoming> {
        loop {
            let line = self.line()?;
            if let Some(args) = line.strip_prefix("MSG ") {
                // MSG <subject> <sid> [reply-to] <#bytes>
                let parts: Vec<&str> = args.split(' ').collect();
                let (Some(subject), Some(size)) = (parts.first(), parts.last()) else {
                    return Err(bad(format!("bad MSG line {line:?}")));
                };
                let size: usize = size
                    .parse()
                    .map_err(|_| bad(format!("bad size {line:?}")))?;
                let subject = (*subject).to_owned();
                self.reader.get_ref().set_read_timeout(None)?;
                let mut payload = vec![0; size + 2];
                self.reader.read_exact(&mut payload)?;
                payload.truncate(size);
                return Ok(Incoming::Msg { subject, payload });
            } else if line == "PING" {
                self.writer.write_all(b"PONG\r\n")?;
                self.writer.flush()?;
            } else if line == "PONG" {
                return Ok(Incoming::Pong);
            } else if line.starts_with("-ERR") {
                return Err(bad(line));
            }
            // +OK and INFO updates carry nothing we need.
        }
    }

    fn line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(line.trim_end().to_owned())
    }
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}
