//! ZMTP for the PUB server: the shared codec ([`proto::zmtp`]: greeting,
//! READY, frames) in the `Bytes` the subscriber queues hold, and an async
//! frame reader that refuses anything larger than a subscriber could
//! legitimately send.

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

pub use proto::zmtp::{check_greeting, command_name, ready_socket_type};

/// Our greeting: version 3.1, because we understand the 3.1
/// SUBSCRIBE/CANCEL commands; peers speaking 3.0 send subscriptions as
/// messages, also handled.
pub fn greeting() -> [u8; 64] {
    proto::zmtp::greeting(1)
}

/// Our READY command announcing `Socket-Type: PUB`.
pub fn ready_pub() -> Bytes {
    Bytes::from(proto::zmtp::ready(b"PUB"))
}

/// A PONG answering a PING command's data.
pub fn pong(ping: &[u8]) -> Bytes {
    Bytes::from(proto::zmtp::pong(ping))
}

/// The wire bytes of the two-frame message `[topic, body]`, encoded once
/// and then shared (by reference count) with every subscriber's queue.
pub fn encode(topic: &[u8], body: &[u8]) -> Bytes {
    Bytes::from(proto::zmtp::encode(topic, body))
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
    // The longest header: flags and an 8-byte size.
    let mut head = [0u8; 9];
    head[0] = r.read_u8().await?;
    let mut have = 1;
    let header = loop {
        match proto::zmtp::parse_header(&head[..have], max).map_err(ReadError::Protocol)? {
            Some(header) => break header,
            None => {
                head[have] = r.read_u8().await?;
                have += 1;
            }
        }
    };
    let mut body = vec![0; header.size];
    r.read_exact(&mut body).await?;
    Ok(Frame {
        command: header.command(),
        more: header.more(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_are_read_and_oversized_ones_refused() {
        let mut wire = proto::zmtp::encode(b"t", &[7u8; 300]);
        wire.extend_from_slice(&ready_pub());
        let mut r = &wire[..];
        let topic = read_frame(&mut r, 1000).await.unwrap();
        assert!(topic.more && !topic.command && topic.body == b"t");
        let body = read_frame(&mut r, 1000).await.unwrap();
        assert!(!body.more && body.body.len() == 300);
        let ready = read_frame(&mut r, 1000).await.unwrap();
        assert!(ready.command);
        assert_eq!(ready_socket_type(&ready.body), Ok(&b"PUB"[..]));
        let mut r = &wire[..];
        read_frame(&mut r, 1000).await.unwrap();
        assert!(matches!(
            read_frame(&mut r, 299).await,
            Err(ReadError::Protocol("frame larger than allowed"))
        ));
    }
}
