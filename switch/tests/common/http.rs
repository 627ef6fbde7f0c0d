//! A minimal HTTP/1.1 client over a raw TCP socket, for the admin listener:
//! one request per connection, the status, the raw head and the body.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a request may take (a probe waits up to 5 s for its phone).
const WAIT: Duration = Duration::from_secs(15);

/// Where the switch's admin listener is reached.
pub fn admin_addr(sw: &super::Switch) -> SocketAddr {
    sw.listeners.iter().find(|l| l.transport == "admin").expect("an admin listener in the bound file").reach()
}

/// A response: status, head, body.
pub type Reply = (u16, String, String);

/// `METHOD PATH` with an optional bearer token and JSON body.
pub fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let body = body.unwrap_or("");
    let kind = if body.is_empty() { "" } else { "Content-Type: application/json\r\n" };
    write!(s, "{method} {path} HTTP/1.1\r\nHost: switch\r\n{auth}{kind}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP head in {text:?}"));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("status line of {head:?}"));
    (status, head.to_owned(), body.to_owned())
}

/// `GET PATH`.
pub fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Reply {
    request(addr, "GET", path, token, None)
}
