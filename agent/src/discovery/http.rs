//! A tiny HTTP/1.1 client: one GET with `Connection: close`, for a firewall's
//! status page (the patent's "HTTP GET() query to the HTTPD service"). The
//! answer is bounded in size and time and read defensively: status line,
//! Content-Length or chunked framing, nothing else is trusted.

use crate::Error;
use base64::Engine;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response accepted (head and body).
pub(crate) const MAX_RESPONSE: usize = 512 * 1024;
/// Largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// An `http://[user:pass@]host[:port][/path]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    /// Name or address (IPv6 without brackets).
    pub host: String,
    /// 80 unless given.
    pub port: u16,
    /// Path and query, `/` at least.
    pub path: String,
    /// `user:password` for Basic authentication, as most firewalls want.
    pub userinfo: Option<String>,
}

fn bad(url: &str, why: &str) -> Error {
    Error::Config(format!("URL {url:?}: {why} (only http://host[:port]/path)"))
}

impl Url {
    /// Parses an `http://` URL (HTTPS is not spoken here).
    pub(crate) fn parse(s: &str) -> Result<Url, Error> {
        let rest = s.strip_prefix("http://").ok_or_else(|| bad(s, "not http://"))?;
        if rest.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(bad(s, "white space or control characters"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (rest.get(..i).unwrap_or(""), rest.get(i..).unwrap_or("/")),
            None => (rest, "/"),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_owned()), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
            let (h, after) = inner.split_once(']').ok_or_else(|| bad(s, "unterminated IPv6 reference"))?;
            (h, after.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(bad(s, "no host"));
        }
        let port = match port {
            None => 80,
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad(s, "bad port"))?,
        };
        Ok(Url { host: host.to_owned(), port, path: path.to_owned(), userinfo })
    }

    fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == 80 { host } else { format!("{host}:{}", self.port) }
    }
}

/// GETs `url` and returns the body of a 200 answer as text.
pub(crate) async fn get(url: &Url, timeout: Duration) -> Result<String, Error> {
    tokio::time::timeout(timeout, fetch(url))
        .await
        .map_err(|_| Error::Discovery(format!("http://{}{}: no answer within {timeout:?}", url.host_header(), url.path)))?
}

async fn fetch(url: &Url) -> Result<String, Error> {
    let mut stream = TcpStream::connect((url.host.as_str(), url.port)).await?;
    let mut request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: roamswitch-agent\r\nAccept: text/html, text/plain, */*\r\nConnection: close\r\n",
        url.path,
        url.host_header()
    );
    if let Some(u) = &url.userinfo {
        request.push_str(&format!("Authorization: Basic {}\r\n", base64::engine::general_purpose::STANDARD.encode(u)));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        if raw.len() + n > MAX_RESPONSE {
            return Err(Error::Discovery(format!("HTTP answer larger than {MAX_RESPONSE} bytes")));
        }
        raw.extend_from_slice(chunk.get(..n).unwrap_or_default());
        // With Content-Length or chunks we can stop once it is all here (or
        // the status says no), even if the server keeps the connection open.
        if let Some(body) = complete(&raw, false)? {
            return Ok(body);
        }
    }
    match complete(&raw, true)? {
        Some(body) => Ok(body),
        None => Err(Error::Discovery("HTTP answer cut short".into())),
    }
}

/// Reads a whole response: `Ok(None)` while more bytes are needed (framing
/// by Content-Length, chunks, or for neither the close: `eof`), the body of a
/// 200, or an error.
pub(crate) fn complete(raw: &[u8], eof: bool) -> Result<Option<String>, Error> {
    let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        if raw.len() > MAX_HEAD {
            return Err(Error::Discovery("HTTP head too long".into()));
        }
        return Ok(None);
    };
    let head = String::from_utf8_lossy(raw.get(..head_end).unwrap_or_default()).into_owned();
    let body = raw.get(head_end + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let (version, status) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") {
        return Err(Error::Discovery(format!("not an HTTP/1.x answer: {:.60}", status_line)));
    }
    if status != "200" {
        return Err(Error::Discovery(format!("HTTP status {:.60}", status_line)));
    }
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.trim().eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| Error::Discovery("bad Content-Length".into()))?);
        } else if name.trim().eq_ignore_ascii_case("transfer-encoding") && value.to_ascii_lowercase().contains("chunked") {
            chunked = true;
        }
    }
    let body = if chunked {
        match dechunk(body)? {
            Some(b) => b,
            None => return Ok(None),
        }
    } else if let Some(n) = length {
        match body.get(..n) {
            Some(b) => b.to_vec(),
            None => return Ok(None),
        }
    } else {
        // Delimited by the close: only whole once the caller saw EOF.
        if !eof {
            return Ok(None);
        }
        body.to_vec()
    };
    Ok(Some(String::from_utf8_lossy(&body).into_owned()))
}

/// Undoes chunked transfer coding (RFC 9112 §7.1); `None` until the last chunk.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
        let size_line = String::from_utf8_lossy(rest.get(..eol).unwrap_or_default()).into_owned();
        let size_hex = size_line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| Error::Discovery("bad chunk size".into()))?;
        if size > MAX_RESPONSE {
            return Err(Error::Discovery("chunk too large".into()));
        }
        let data_at = eol + 2;
        if size == 0 {
            return Ok(Some(out));
        }
        let Some(data) = rest.get(data_at..data_at + size) else { return Ok(None) };
        out.extend_from_slice(data);
        rest = match rest.get(data_at + size + 2..) {
            Some(r) => r,
            None => return Ok(None),
        };
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://admin:pw@192.168.1.1:8080/status.html?x=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str(), u.userinfo.as_deref()),
            ("192.168.1.1", 8080, "/status.html?x=1", Some("admin:pw"))
        );
        assert_eq!(Url::parse("http://[::1]").unwrap().host_header(), "[::1]");
        assert_eq!(Url::parse("http://fw").unwrap().path, "/");
        for bad in ["https://fw/", "http://", "http://fw:0/", "http://fw/a b", "ftp://x"] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn framing() {
        assert_eq!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more", false).unwrap().as_deref(), Some("hello"));
        assert_eq!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello", false).unwrap(), None);
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWAN \r\nb;ext=1\r\n203.0.113.9\r\n0\r\n\r\n";
        assert_eq!(complete(chunked, false).unwrap().as_deref(), Some("WAN 203.0.113.9"));
        assert_eq!(complete(&chunked[..60], false).unwrap(), None);
        assert!(complete(b"HTTP/1.1 404 Not Found\r\n\r\n", false).is_err());
        assert!(complete(b"SIP/2.0 200 OK\r\n\r\n", false).is_err());
        assert!(complete(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false).is_err());
        assert!(complete(&vec![b'a'; MAX_HEAD + 1], false).is_err());
        // Close-delimited bodies are only whole at EOF.
        assert_eq!(complete(b"HTTP/1.0 200 OK\r\n\r\nbody", false).unwrap(), None);
        assert_eq!(complete(b"HTTP/1.0 200 OK\r\n\r\nbody", true).unwrap().as_deref(), Some("body"));
    }
}
