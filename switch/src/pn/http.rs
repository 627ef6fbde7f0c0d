//! One HTTP/1.1 POST over TLS (tokio-rustls, the ring provider already in the
//! tree): the whole of what the switch asks of its push gateway. A client
//! crate would bring connection pools and redirects the switch does not want;
//! this writes one request, reads one status line from a bounded buffer, and
//! closes (`Connection: close`).

use super::settings::Gateway;
use std::fmt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes read while looking for the status line's end; a gateway that sends
/// more before it is no HTTP server.
const MAX_STATUS_LINE: usize = 1024;

/// Why a POST got no status.
#[derive(Debug)]
pub enum PostError {
    Connect(std::io::Error),
    Tls(std::io::Error),
    Io(std::io::Error),
    /// What came back was not an HTTP/1.x status line.
    NotHttp,
}

impl PostError {
    /// The metric label and log word.
    pub fn kind(&self) -> &'static str {
        match self {
            PostError::Connect(_) => "connect",
            PostError::Tls(_) => "tls",
            PostError::Io(_) => "io",
            PostError::NotHttp => "not_http",
        }
    }
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostError::Connect(e) => write!(f, "connect: {e}"),
            PostError::Tls(e) => write!(f, "TLS: {e}"),
            PostError::Io(e) => write!(f, "I/O: {e}"),
            PostError::NotHttp => f.write_str("the answer is not an HTTP/1.x status line"),
        }
    }
}

/// POSTs `body` (JSON) to the gateway; the status code it answered.
pub async fn post(gateway: &Gateway, body: &str) -> Result<u16, PostError> {
    let url = &gateway.url;
    let tcp = tokio::net::TcpStream::connect((url.host.as_str(), url.port)).await.map_err(PostError::Connect)?;
    let name = sipcore::transport::tls::server_name(&url.host).map_err(|e| PostError::Tls(std::io::Error::other(e.to_string())))?;
    let mut tls = tokio_rustls::TlsConnector::from(gateway.tls.clone()).connect(name, tcp).await.map_err(PostError::Tls)?;
    let request = request(gateway, body);
    tls.write_all(request.as_bytes()).await.map_err(PostError::Io)?;
    tls.flush().await.map_err(PostError::Io)?;
    let mut buf = Vec::with_capacity(128);
    let mut chunk = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") {
        if buf.len() >= MAX_STATUS_LINE {
            return Err(PostError::NotHttp);
        }
        let n = tls.read(&mut chunk).await.map_err(PostError::Io)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    // The rest of the answer is of no interest; closing is the gateway's cue.
    let _ = tls.shutdown().await;
    status(&buf).ok_or(PostError::NotHttp)
}

/// The request's bytes.
fn request(gateway: &Gateway, body: &str) -> String {
    let url = &gateway.url;
    let host = if url.host.contains(':') { format!("[{}]", url.host) } else { url.host.clone() };
    let auth = gateway.token.as_ref().map(|t| format!("Authorization: Bearer {}\r\n", t.as_str())).unwrap_or_default();
    format!(
        "POST {} HTTP/1.1\r\nHost: {host}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n{body}",
        url.path,
        url.port,
        body.len()
    )
}

/// The status code of `HTTP/1.x NNN ...` (a gateway's first line; the `push` fuzz target feeds it).
pub fn status(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    (code.len() == 3).then(|| code.parse::<u16>().ok()).flatten().filter(|c| (100..=599).contains(c))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status(b"HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(status(b"HTTP/1.0 503 Busy\r\nX: y\r\n"), Some(503));
        for bad in [&b"HTTP/2 200\r\n"[..], b"SIP/2.0 200 OK\r\n", b"HTTP/1.1 20 OK\r\n", b"HTTP/1.1 999 x\r\n", b"", b"\xff\xfe"] {
            assert_eq!(status(bad), None, "{bad:?}");
        }
    }
}
