//! Just enough HTTP/1.1 for the latency scenario, the same code on both
//! sides of both systems compared: a keep-alive POST client (the upstream
//! pushing events) and a webhook server that answers 204 (what an O-RAN
//! subscriber runs). Bodies are framed by Content-Length only.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Read one request or response head and its body. `None` at a clean EOF.
/// Returns the first line and the body.
pub async fn read_message<R>(reader: &mut BufReader<R>) -> io::Result<Option<(String, Vec<u8>)>>
where
    R: tokio::io::AsyncRead + Unpin,
{
    let mut first = String::new();
    if reader.read_line(&mut first).await? == 0 {
        return Ok(None);
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value
                .trim()
                .parse()
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(Some((first.trim_end().to_owned(), body)))
}

/// A keep-alive connection that POSTs JSON to one URL.
pub struct Poster {
    stream: BufReader<TcpStream>,
    host: String,
    path: String,
}

impl Poster {
    /// Connect to `url` (`http://host:port/path`).
    pub async fn connect(url: &str) -> io::Result<Poster> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "only http:// URLs"))?;
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let stream = TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        Ok(Poster {
            stream: BufReader::new(stream),
            host: host.to_owned(),
            path: format!("/{path}"),
        })
    }

    /// POST `body` and return the status code.
    pub async fn post(&mut self, body: &[u8]) -> io::Result<u16> {
        let head = format!(
            "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.path,
            self.host,
            body.len()
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        self.stream.get_mut().write_all(&request).await?;
        let (status, _) = read_message(&mut self.stream)
            .await?
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        status
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, status))
    }
}

/// The answer a webhook gives to every event.
pub const NO_CONTENT: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
