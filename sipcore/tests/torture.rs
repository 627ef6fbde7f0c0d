//! The torture corpus (`tests/corpus`, see its README.md): every valid file
//! parses to the values its table entry asserts, every invalid file is rejected
//! with an error that says where, and nothing panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, unreachable_pub)]

mod common;
#[path = "torture/invalid.rs"]
mod invalid;
#[path = "torture/valid.rs"]
mod valid;

use bytes::Bytes;
use sipcore::headers::{Contact, NameAddr, Via};
use sipcore::{HeaderName, Host, Message, Request, Response, Uri};
use std::collections::BTreeSet;

pub fn req(m: &Message) -> &Request {
    match m {
        Message::Request(r) => r,
        Message::Response(_) => panic!("expected a request"),
    }
}

pub fn resp(m: &Message) -> &Response {
    match m {
        Message::Response(r) => r,
        Message::Request(_) => panic!("expected a response"),
    }
}

pub fn ruri(m: &Message) -> Uri<'_> {
    req(m).uri().unwrap()
}

/// The first line of `name`.
pub fn val<'m>(m: &'m Message, name: &str) -> &'m str {
    m.headers().get(&HeaderName::from(name)).unwrap_or_else(|| panic!("no {name}"))
}

/// Every comma-separated element of `name`, across its lines.
pub fn vals<'m>(m: &'m Message, name: &str) -> Vec<&'m str> {
    let name = HeaderName::from(name);
    m.headers().iter().filter(|h| *h.name == name).flat_map(|h| sipcore::text::split_top_level(h.value, b',').map(|(_, p)| p)).collect()
}

/// Every line of `name`.
pub fn lines<'m>(m: &'m Message, name: &str) -> Vec<&'m str> {
    let name = HeaderName::from(name);
    m.headers().iter().filter(|h| *h.name == name).map(|h| h.value).collect()
}

/// Header names in order, canonical for known ones and as sent for others.
pub fn names(m: &Message) -> Vec<&str> {
    m.headers().iter().map(|h| h.name.as_str()).collect()
}

pub fn host(s: &str) -> Host<'_> {
    Host::parse(s).unwrap()
}

/// (transport, host, port, branch) of every Via element.
pub fn vias(m: &Message) -> Vec<(String, String, Option<u16>, Option<String>)> {
    m.headers()
        .vias()
        .map(|v| {
            let v: Via<'_> = v.unwrap();
            (v.transport.to_owned(), v.host.to_string(), v.port, v.branch().map(str::to_owned))
        })
        .collect()
}

pub fn contacts(m: &Message) -> Vec<NameAddr<'_>> {
    m.headers()
        .contacts()
        .map(|c| match c.unwrap() {
            Contact::Binding(b) => b,
            Contact::Wildcard => panic!("unexpected *"),
        })
        .collect()
}

pub fn route(m: &Message, name: &str) -> Vec<String> {
    let name = HeaderName::from(name);
    m.headers().values(&name).map(|v| NameAddr::parse(v).unwrap().uri.as_str().to_owned()).collect()
}

#[test]
fn every_valid_file_parses_to_its_values() {
    let files = common::corpus("valid");
    let table: BTreeSet<&str> = valid::TABLE.iter().map(|(n, _)| *n).collect();
    let on_disk: BTreeSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(on_disk, table, "valid files and table entries differ");
    for (name, check) in valid::TABLE {
        let raw = common::file("valid", name);
        let msg = sipcore::parse(Bytes::from(raw)).unwrap_or_else(|e| panic!("{name}: {e}"));
        common::exercise_accessors(&msg);
        check(&msg);
    }
    assert!(files.len() >= 30, "only {} valid files", files.len());
}

#[test]
fn every_invalid_file_is_rejected_where_it_is_wrong() {
    let files = common::corpus("invalid");
    let table: BTreeSet<&str> = invalid::TABLE.iter().map(|e| e.file).collect();
    let on_disk: BTreeSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(on_disk, table, "invalid files and table entries differ");
    for e in invalid::TABLE {
        invalid::check(e, &common::file("invalid", e.file));
    }
    assert!(files.len() >= 20, "only {} invalid files", files.len());
}

/// Every prefix of every corpus file (a datagram cut short) parses or fails
/// cleanly, and the typed accessors survive whatever parsed.
#[test]
fn truncations_never_panic() {
    for kind in ["valid", "invalid"] {
        for (_, raw) in common::corpus(kind) {
            for cut in 0..raw.len() {
                if let Ok(m) = sipcore::parse(Bytes::copy_from_slice(&raw[..cut])) {
                    common::exercise_accessors(&m);
                }
            }
        }
    }
}
