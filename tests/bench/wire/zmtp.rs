//! Minimal ZeroMQ peers for the bench, written on `proto::zmtp` instead of
//! the zeromq crate, so the ZeroMQ side of the bench is as lean as its
//! NATS side (`nats.rs`): ZMTP 3.0, NULL mechanism, one socket, one buffer.
//!
//! The zeromq crate's PUSH and SUB route every message through their own
//! queues, tasks and owned frames: measured on this machine, 1.8 µs of
//! emitter CPU and 0.9 µs of subscriber CPU per event, against 1.15 and
//! 0.5 µs for the hand-written NATS client on the same load. On two cores
//! that difference is charged to the ZeroMQ systems (the broker and the
//! libzmq forwarder alike), not to what is compared.
//!
//! - [`Push`] connects, handshakes, and writes each message's two frames
//!   into a 64 KiB buffer that [`Push::flush`] hands to the socket, as the
//!   NATS client buffers its PUBs. It reads nothing after the handshake: a
//!   PULL never sends anything but the handshake.
//! - [`Sub`] connects, handshakes, subscribes with a 3.0 subscription
//!   message, reads into one buffer ([`proto::zmtp::Inbox`], the reader of
//!   the broker's PULL and of the client) and hands out each message as
//!   slices of it; a PING is answered.

use std::io::{self, BufWriter, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use proto::zmtp::{self, Inbox, Parts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Largest frame and message a [`Sub`] takes (the broker's own limits are
/// far under this).
const MAX_FRAME: usize = 1 << 20;

/// Largest READY command a [`Push`] reads.
const MAX_READY: usize = 4096;

/// `tcp://host:port` as `host:port`.
fn address(endpoint: &str) -> io::Result<&str> {
    endpoint
        .strip_prefix("tcp://")
        .ok_or_else(|| bad(format!("{endpoint:?} is not tcp://host:port")))
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Check a peer's READY command body: it must announce `want`.
fn check_ready(body: &[u8], want: &[u8]) -> io::Result<()> {
    let theirs = zmtp::ready_socket_type(body).map_err(bad)?;
    if !theirs.eq_ignore_ascii_case(want) {
        return Err(bad(format!(
            "peer is a {}, not a {}",
            String::from_utf8_lossy(theirs),
            String::from_utf8_lossy(want)
        )));
    }
    Ok(())
}

/// A PUSH connection to a PULL endpoint.
pub struct Push {
    writer: BufWriter<TcpStream>,
}

impl Push {
    /// Connect to `endpoint` (`tcp://host:port`) and handshake.
    pub fn connect(endpoint: &str) -> io::Result<Push> {
        let mut stream = TcpStream::connect(address(endpoint)?)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(HANDSHAKE))?;
        stream.write_all(&zmtp::greeting(0))?;
        stream.write_all(&zmtp::ready(b"PUSH"))?;
        let mut greeting = [0u8; 64];
        stream.read_exact(&mut greeting)?;
        zmtp::check_greeting(&greeting).map_err(bad)?;
        // The peer's READY: one command frame, its header short or long.
        let mut head = [0u8; 9];
        stream.read_exact(&mut head[..2])?;
        let header = match zmtp::parse_header(&head[..2], MAX_READY).map_err(bad)? {
            Some(header) => header,
            None => {
                stream.read_exact(&mut head[2..])?;
                zmtp::parse_header(&head, MAX_READY)
                    .map_err(bad)?
                    .ok_or_else(|| bad("truncated frame header"))?
            }
        };
        if !header.command() {
            return Err(bad("expected a READY command"));
        }
        let mut body = vec![0; header.size];
        stream.read_exact(&mut body)?;
        check_ready(&body, b"PULL")?;
        Ok(Push {
            writer: BufWriter::with_capacity(64 * 1024, stream),
        })
    }

    /// Queue the message `[topic, body]` (written on [`Push::flush`] or
    /// when the buffer fills).
    pub fn send(&mut self, topic: &[u8], body: &[u8]) -> io::Result<()> {
        self.writer
            .write_all(&zmtp::frame_header(zmtp::MORE, topic.len()))?;
        self.writer.write_all(topic)?;
        self.writer.write_all(&zmtp::frame_header(0, body.len()))?;
        self.writer.write_all(body)
    }

    /// Hand what is buffered to the socket.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// A SUB connection to a PUB endpoint.
pub struct Sub {
    stream: tokio::net::TcpStream,
    inbox: Inbox,
    /// PONGs to send before the next read.
    pongs: Vec<u8>,
}

impl Sub {
    /// Connect to `endpoint` (`tcp://host:port`), handshake and subscribe
    /// to the messages whose topic starts with `prefix`.
    pub async fn connect(endpoint: &str, prefix: &[u8]) -> io::Result<Sub> {
        let connect = async {
            let mut stream = tokio::net::TcpStream::connect(address(endpoint)?).await?;
            stream.set_nodelay(true)?;
            stream.write_all(&zmtp::greeting(0)).await?;
            stream.write_all(&zmtp::ready(b"SUB")).await?;
            let mut greeting = [0u8; 64];
            stream.read_exact(&mut greeting).await?;
            zmtp::check_greeting(&greeting).map_err(bad)?;
            let mut sub = Sub {
                stream,
                inbox: Inbox::new(MAX_FRAME, 2 * MAX_FRAME, 64 * 1024),
                pongs: Vec::new(),
            };
            loop {
                let ready = match sub.inbox.next_item().map_err(bad)? {
                    Some(zmtp::Incoming::Command { name, data }) => {
                        Some(zmtp::socket_type(name, data).map(<[u8]>::to_vec))
                    }
                    Some(zmtp::Incoming::Message(_)) => {
                        return Err(bad("a message before READY"));
                    }
                    None => None,
                };
                match ready {
                    Some(Ok(kind)) if kind.eq_ignore_ascii_case(b"PUB") => break,
                    Some(Ok(kind)) => {
                        return Err(bad(format!(
                            "peer is a {}, not a PUB",
                            String::from_utf8_lossy(&kind)
                        )));
                    }
                    Some(Err(reason)) => return Err(bad(reason)),
                    None => {
                        if sub.fill().await? == 0 {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                    }
                }
            }
            // A 3.0 subscription: a message of one frame, 1 then the prefix.
            let mut subscribe = vec![1];
            subscribe.extend_from_slice(prefix);
            let mut frame = Vec::with_capacity(subscribe.len() + 9);
            zmtp::put_frame(&mut frame, 0, &subscribe);
            sub.stream.write_all(&frame).await?;
            Ok(sub)
        };
        tokio::time::timeout(HANDSHAKE, connect)
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
    }

    /// Send the PONGs owed (call before [`Sub::fill`]).
    pub async fn answer(&mut self) -> io::Result<()> {
        if !self.pongs.is_empty() {
            self.stream.write_all(&self.pongs).await?;
            self.pongs.clear();
        }
        Ok(())
    }

    /// Read what the socket has into the buffer: the number of bytes, 0 at
    /// the end of the stream. Cancel safe.
    pub async fn fill(&mut self) -> io::Result<usize> {
        self.stream.read_buf(self.inbox.buffer()).await
    }

    /// The next whole message in the buffer, if there is one; commands
    /// before it are handled here (a PING is answered by [`Sub::answer`]).
    pub fn next(&mut self) -> io::Result<Option<Parts<'_>>> {
        let pongs = &mut self.pongs;
        self.inbox
            .next_message(|name, data| match name {
                b"PING" => {
                    pongs.extend_from_slice(&zmtp::pong(data));
                    Ok(())
                }
                b"ERROR" => Err("the publisher sent ERROR"),
                _ => Ok(()),
            })
            .map_err(bad)
    }
}
