//! A blocking HTTP/1.1 client on `std::net::TcpStream`, as small as an
//! O-RAN consumer's: one request per connection (`Connection: close`), a
//! `Content-Length` body, the answer read to its `Content-Length`, its
//! chunked end, or EOF. Paths are sent exactly as given (StarlingX
//! addresses hold `.` and `*` segments that a URL library would rewrite).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use serde_json::Value;

use crate::util::DEADLINE;

/// One answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the whole answer had arrived.
    pub at: Instant,
}

impl Response {
    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the answer if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {self}"))
    }
}

impl std::fmt::Display for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} {:?}", self.status, self.text())
    }
}

pub fn get(addr: &str, path: &str) -> Response {
    request(addr, "GET", path, None)
}

pub fn delete(addr: &str, path: &str) -> Response {
    request(addr, "DELETE", path, None)
}

pub fn post_json(addr: &str, path: &str, body: &Value) -> Response {
    request(addr, "POST", path, Some(body.to_string().as_bytes()))
}

/// POST these bytes as they are (for bodies that are not JSON).
pub fn post_raw(addr: &str, path: &str, body: &[u8]) -> Response {
    request(addr, "POST", path, Some(body))
}

/// One request to `addr` (`host:port`) on a fresh connection.
pub fn request(addr: &str, method: &str, path: &str, body: Option<&[u8]>) -> Response {
    let mut stream =
        TcpStream::connect(addr).unwrap_or_else(|e| panic!("connecting to the API {addr}: {e}"));
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: oran-e2e-consumer\r\n\
         Accept: application/json\r\nConnection: close\r\n"
    );
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body.unwrap_or_default());
    stream
        .write_all(&out)
        .unwrap_or_else(|e| panic!("{method} {path}: writing: {e}"));

    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(response) = parse(&raw, method, false) {
            return response;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "{method} {path}: reading the answer: {e}; got {:?}",
                String::from_utf8_lossy(&raw)
            ),
        }
    }
    parse(&raw, method, true).unwrap_or_else(|| {
        panic!(
            "{method} {path}: incomplete answer {:?}",
            String::from_utf8_lossy(&raw)
        )
    })
}

/// The answer in `raw`, once complete (`eof`: nothing more will come).
fn parse(raw: &[u8], method: &str, eof: bool) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let no_body = method == "HEAD" || status == 204 || status == 304 || status < 200;
    let body = if no_body {
        Vec::new()
    } else if find("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = find("content-length").and_then(|l| l.parse::<usize>().ok()) {
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Response {
        status,
        headers,
        body,
        at: Instant::now(),
    })
}

/// A chunked body, once its last chunk arrived.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        if rest.len() < size + 2 {
            return None;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[test]
fn the_client_reads_length_chunked_and_empty_answers() {
    let r = parse(
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}",
        "POST",
        false,
    )
    .unwrap();
    assert_eq!((r.status, r.text().as_str()), (201, "{}"));
    assert!(
        parse(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
            "GET",
            false
        )
        .is_none()
    );
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n";
    assert_eq!(parse(chunked, "GET", false).unwrap().text(), "OK");
    let r = parse(b"HTTP/1.1 204 No Content\r\n\r\n", "DELETE", false).unwrap();
    assert_eq!((r.status, r.body.len()), (204, 0));
    assert!(parse(b"HTTP/1.1 200 OK\r\n\r\nOK", "GET", false).is_none());
    assert_eq!(
        parse(b"HTTP/1.1 200 OK\r\n\r\nOK", "GET", true)
            .unwrap()
            .text(),
        "OK"
    );
}
