//! The client's SUB side of the broker's PUB: a ZMTP 3.0 subscriber read
//! straight into one receive buffer by the I/O actor itself.
//!
//! A general ZeroMQ SUB socket (the `zeromq` crate) hands every message
//! through its own queue, locks and allocations before the actor sees it;
//! this reader is the whole path. The actor polls [`SubConn::fill`] (cancel
//! safe: a read that loses a `select!` has read nothing) and then takes
//! every complete message out of the buffer with [`SubConn::next`]: one
//! wake-up can carry a burst, each message's frames are slices of the
//! buffer, not copies. The only hand-off left per event is to the callback
//! thread.
//!
//! It speaks plain ZMTP 3.0 with the NULL mechanism, subscribes to
//! everything with a 3.0 subscription message, and answers PING with PONG,
//! so any 3.x publisher (libzmq's too) would do. A connection that ends or
//! breaks the protocol ends the session; the actor reconnects.

use std::time::Duration;

use proto::zmtp::{self, Inbox, Incoming, Parts};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Room made for each read at least (a frame larger than that gets room
/// for all of it).
const READ_CHUNK: usize = 64 * 1024;
/// A message has two frames; anything past this is a broken peer.
const MAX_FRAMES: usize = 8;

type Reader = Box<dyn AsyncRead + Send + Unpin>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// What [`SubConn::next`] found in the buffer.
#[derive(Debug)]
pub(crate) enum Next<'a> {
    /// A whole message: its frames, slices of the receive buffer.
    Message(Parts<'a>),
    /// The peer broke the protocol: the session must end.
    Broken(&'static str),
}

/// One subscribed connection to a PUB endpoint.
pub(crate) struct SubConn {
    read: Reader,
    inbox: Inbox,
    /// Writes PONGs; ends with the connection (started after the handshake).
    pongs: mpsc::Sender<Vec<u8>>,
    writer: Option<JoinHandle<()>>,
}

impl Drop for SubConn {
    fn drop(&mut self) {
        if let Some(writer) = &self.writer {
            writer.abort();
        }
    }
}

impl SubConn {
    /// Connect to `endpoint` (`tcp://host:port` or `ipc:///path`), do the
    /// handshake and subscribe to everything, all within `timeout`.
    /// Messages over `max` bytes are a protocol error.
    pub(crate) async fn connect(
        endpoint: &str,
        timeout: Duration,
        max: usize,
    ) -> Result<SubConn, String> {
        match tokio::time::timeout(timeout, Self::open(endpoint, max)).await {
            Ok(result) => result,
            Err(_) => Err(format!("no connection within {timeout:?}")),
        }
    }

    async fn open(endpoint: &str, max: usize) -> Result<SubConn, String> {
        let (mut read, mut write): (Reader, Writer) =
            if let Some(address) = endpoint.strip_prefix("tcp://") {
                let stream = tokio::net::TcpStream::connect(address)
                    .await
                    .map_err(|e| e.to_string())?;
                // Heartbeats and single events must not wait for Nagle.
                let _ = stream.set_nodelay(true);
                let (r, w) = stream.into_split();
                (Box::new(r), Box::new(w))
            } else if let Some(path) = endpoint.strip_prefix("ipc://") {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|e| e.to_string())?;
                let (r, w) = stream.into_split();
                (Box::new(r), Box::new(w))
            } else {
                return Err(format!(
                    "{endpoint}: not a tcp:// or ipc:// endpoint (the broker's PUB serves those)"
                ));
            };
        let io = |e: std::io::Error| e.to_string();
        write.write_all(&zmtp::greeting(0)).await.map_err(io)?;
        let mut greeting = [0u8; 64];
        read.read_exact(&mut greeting).await.map_err(io)?;
        zmtp::check_greeting(&greeting).map_err(str::to_owned)?;
        write.write_all(&zmtp::ready(b"SUB")).await.map_err(io)?;
        let (pongs, mut rx) = mpsc::channel::<Vec<u8>>(4);
        let mut conn = SubConn {
            read,
            // A message is its frames' data, plus the inbox's cost per frame.
            inbox: Inbox::new(max, max + MAX_FRAMES * zmtp::FRAME_COST, READ_CHUNK),
            pongs,
            writer: None,
        };
        // The peer's READY: the first frame, a command naming a publisher.
        loop {
            match conn.inbox.next_item().map_err(str::to_owned)? {
                Some(Incoming::Command { name, data }) => {
                    match zmtp::socket_type(name, data).map_err(str::to_owned)? {
                        b"PUB" | b"XPUB" => break,
                        other => {
                            return Err(format!(
                                "the peer is a {} socket, not PUB",
                                String::from_utf8_lossy(other)
                            ));
                        }
                    }
                }
                Some(Incoming::Message(_)) => {
                    return Err("expected READY, got a message".to_owned());
                }
                None => {
                    if conn.fill().await.map_err(io)? == 0 {
                        return Err("connection closed during the handshake".to_owned());
                    }
                }
            }
        }
        // Subscribe to everything: a 3.0 subscription message, [1].
        let mut subscribe = Vec::with_capacity(3);
        zmtp::put_frame(&mut subscribe, 0, &[1]);
        write.write_all(&subscribe).await.map_err(io)?;
        conn.writer = Some(tokio::spawn(async move {
            while let Some(pong) = rx.recv().await {
                if write.write_all(&pong).await.is_err() {
                    return;
                }
            }
        }));
        Ok(conn)
    }

    /// Read what the socket has into the buffer: the number of bytes, 0 at
    /// the end of the stream. Cancel safe.
    pub(crate) async fn fill(&mut self) -> std::io::Result<usize> {
        self.read.read_buf(self.inbox.buffer()).await
    }

    /// The next complete message in the buffer, if there is one. Commands
    /// are handled here (PING is answered), not returned.
    pub(crate) fn next(&mut self) -> Option<Next<'_>> {
        let pongs = &self.pongs;
        let found = self.inbox.next_message(|name, data| match name {
            b"PING" => {
                // Best effort: a full queue means a PONG is on its way.
                let _ = pongs.try_send(zmtp::pong(data));
                Ok(())
            }
            b"ERROR" => Err("the publisher sent ERROR"),
            _ => Ok(()),
        });
        match found {
            Ok(None) => None,
            Err(reason) => Some(Next::Broken(reason)),
            Ok(Some(parts)) if parts.count() > MAX_FRAMES => Some(Next::Broken("message too long")),
            Ok(Some(parts)) => Some(Next::Message(parts)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use zeromq::{Socket, SocketSend, ZmqMessage};

    const DEADLINE: Duration = Duration::from_secs(10);

    /// Read until a whole message is there.
    async fn message(conn: &mut SubConn) -> Vec<Vec<u8>> {
        tokio::time::timeout(DEADLINE, async {
            loop {
                match conn.next() {
                    Some(Next::Message(parts)) => {
                        return parts.as_slice().iter().map(|p| p.to_vec()).collect();
                    }
                    Some(Next::Broken(reason)) => panic!("broken: {reason}"),
                    None => assert!(conn.fill().await.unwrap() > 0, "closed"),
                }
            }
        })
        .await
        .expect("a message in time")
    }

    /// Another implementation's PUB (the zeromq crate's) is read as it
    /// sends: the subscription takes effect, multipart messages keep their
    /// frames, a body over 255 bytes (long frame) arrives whole.
    #[tokio::test]
    async fn reads_a_zeromq_pub() {
        let mut publisher = zeromq::PubSocket::new();
        let endpoint = publisher.bind("tcp://127.0.0.1:0").await.unwrap();
        let mut conn = SubConn::connect(&endpoint.to_string(), DEADLINE, 1 << 20)
            .await
            .unwrap();
        let long = vec![b'x'; 1000];
        // The subscription reaches the PUB asynchronously: send until one arrives.
        let first = tokio::time::timeout(DEADLINE, async {
            loop {
                let mut m = ZmqMessage::from("topic");
                m.push_back(Bytes::from(long.clone()));
                publisher.send(m).await.unwrap();
                tokio::select! {
                    frames = message(&mut conn) => return frames,
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
            }
        })
        .await
        .expect("subscribed in time");
        assert_eq!(first.len(), 2);
        assert_eq!(&first[0][..], b"topic");
        assert_eq!(first[1], long);
        let mut m = ZmqMessage::from("t2");
        m.push_back(Bytes::from_static(b"short"));
        publisher.send(m).await.unwrap();
        loop {
            let frames = message(&mut conn).await;
            if &frames[0][..] == b"t2" {
                assert_eq!(&frames[1][..], b"short");
                break;
            }
        }
    }

    /// A hand-written publisher: PING is answered with PONG carrying its
    /// context, a frame over the limit breaks the session, and a non-PUB
    /// peer is refused at the handshake.
    #[tokio::test]
    async fn ping_is_answered_and_oversized_frames_end_the_session() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("tcp://{}", listener.local_addr().unwrap());
        let peer = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(&zmtp::greeting(1)).await.unwrap();
            let mut g = [0u8; 64];
            s.read_exact(&mut g).await.unwrap();
            zmtp::check_greeting(&g).unwrap();
            s.write_all(&zmtp::ready(b"PUB")).await.unwrap();
            // READY (SUB), then the subscription [1].
            let mut got = vec![0u8; zmtp::ready(b"SUB").len() + 3];
            s.read_exact(&mut got).await.unwrap();
            assert_eq!(&got[got.len() - 3..], &[0, 1, 1]);
            let mut ping = Vec::new();
            zmtp::put_frame(&mut ping, zmtp::COMMAND, b"\x04PING\x00\x0actx");
            s.write_all(&ping).await.unwrap();
            let mut pong = vec![0u8; zmtp::pong(b"\x00\x0actx").len()];
            s.read_exact(&mut pong).await.unwrap();
            assert_eq!(pong, zmtp::pong(b"\x00\x0actx"));
            s.write_all(&zmtp::encode(b"t", &[0u8; 200])).await.unwrap();
            s
        });
        let mut conn = SubConn::connect(&endpoint, DEADLINE, 100).await.unwrap();
        let broken = tokio::time::timeout(DEADLINE, async {
            loop {
                match conn.next() {
                    Some(Next::Broken(reason)) => return reason,
                    Some(Next::Message(m)) => panic!("unexpected {m:?}"),
                    None => assert!(conn.fill().await.unwrap() > 0, "closed"),
                }
            }
        })
        .await
        .expect("an answer in time");
        assert_eq!(broken, "frame larger than allowed");
        drop(peer.await.unwrap());

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("tcp://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(&zmtp::greeting(1)).await.unwrap();
            s.write_all(&zmtp::ready(b"REP")).await.unwrap();
            tokio::time::sleep(DEADLINE).await;
        });
        let refused = SubConn::connect(&endpoint, DEADLINE, 100).await.err();
        assert_eq!(
            refused.as_deref(),
            Some("the peer is a REP socket, not PUB")
        );
        assert!(
            SubConn::connect("udp://x", DEADLINE, 100)
                .await
                .err()
                .unwrap()
                .contains("not a tcp:// or ipc://")
        );
    }
}
