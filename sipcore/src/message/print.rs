//! The printer: canonical header names, one header per line, body byte-exact.
//! It writes what the model holds and adds nothing (Content-Length included),
//! so `parse(print(m)) == m` for any message whose Content-Length is right.

use super::{Headers, Message, Request, Response};
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

fn headers_len(h: &Headers) -> usize {
    h.iter().map(|h| h.name.as_str().len() + h.value.len() + 4).sum()
}

fn put_headers(h: &Headers, dst: &mut BytesMut) {
    for h in h {
        dst.put_slice(h.name.as_str().as_bytes());
        dst.put_slice(b": ");
        dst.put_slice(h.value.as_bytes());
        dst.put_slice(b"\r\n");
    }
    dst.put_slice(b"\r\n");
}

impl Request {
    /// Appends the wire form to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(self.method.as_str().len() + self.uri.len() + 12 + headers_len(&self.headers) + 2 + self.body.len());
        dst.put_slice(self.method.as_str().as_bytes());
        dst.put_u8(b' ');
        dst.put_slice(self.uri.as_bytes());
        dst.put_slice(b" SIP/2.0\r\n");
        put_headers(&self.headers, dst);
        dst.put_slice(&self.body);
    }
}

impl Response {
    /// Appends the wire form to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.reserve(13 + self.reason.len() + 2 + headers_len(&self.headers) + 2 + self.body.len());
        dst.put_slice(b"SIP/2.0 ");
        let code = self.status.min(999);
        dst.put_slice(&[b'0' + (code / 100) as u8, b'0' + (code / 10 % 10) as u8, b'0' + (code % 10) as u8]);
        dst.put_u8(b' ');
        dst.put_slice(self.reason.as_bytes());
        dst.put_slice(b"\r\n");
        put_headers(&self.headers, dst);
        dst.put_slice(&self.body);
    }
}

impl Message {
    /// Appends the wire form to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        match self {
            Message::Request(r) => r.encode(dst),
            Message::Response(r) => r.encode(dst),
        }
    }

    /// The wire form as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::new();
        self.encode(&mut b);
        b.freeze()
    }
}

fn display(f: &mut fmt::Formatter<'_>, encode: impl FnOnce(&mut BytesMut)) -> fmt::Result {
    let mut b = BytesMut::new();
    encode(&mut b);
    f.write_str(&String::from_utf8_lossy(&b))
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(f, |b| self.encode(b))
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(f, |b| self.encode(b))
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display(f, |b| self.encode(b))
    }
}
