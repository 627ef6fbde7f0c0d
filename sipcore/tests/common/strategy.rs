//! proptest strategies for whole SIP messages: a [`Spec`] is the model (what a
//! correct parser must produce) plus what is needed to print it canonically
//! (`Message::to_bytes`) or in an equivalent but awkward wire form ([`scramble`]:
//! compact and odd-case names, white space around colons, folded lines).

use bytes::Bytes;
use proptest::prelude::*;
use proptest::sample::select;
use sipcore::{HeaderName, Headers, Message, Method, Request, Response};
use std::net::{Ipv4Addr, Ipv6Addr};

/// What the generators may draw from.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// IPv6 hosts in URIs, Via sent-by and `received`.
    pub ipv6: bool,
    /// Extension method tokens besides the methods we know.
    pub ext_methods: bool,
}

impl Mix {
    pub const ALL: Mix = Mix { ipv6: true, ext_methods: true };
}

/// Methods we know plus extension tokens (any token, including lower case).
pub fn method(mix: Mix) -> BoxedStrategy<String> {
    let known = select(vec![
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "REGISTER",
        "OPTIONS",
        "INFO",
        "PRACK",
        "UPDATE",
        "SUBSCRIBE",
        "NOTIFY",
        "PUBLISH",
        "REFER",
        "MESSAGE",
    ])
    .prop_map(str::to_owned);
    if mix.ext_methods { prop_oneof![known, "[A-Za-z0-9!%*_+`'~.-]{1,12}"].boxed() } else { known.boxed() }
}

pub fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9!%*_+`'~.-]{0,10}"
}

fn domain() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", 1..4).prop_map(|l| l.join("."))
}

/// A host: domain, IPv4 or bracketed IPv6.
pub fn host(mix: Mix) -> BoxedStrategy<String> {
    let v4 = prop_oneof![domain(), any::<Ipv4Addr>().prop_map(|a| a.to_string())];
    if mix.ipv6 { prop_oneof![2 => v4, 1 => any::<Ipv6Addr>().prop_map(|a| format!("[{a}]"))].boxed() } else { v4.boxed() }
}

fn hostport(mix: Mix) -> impl Strategy<Value = String> {
    (host(mix), proptest::option::of(1u16..)).prop_map(|(h, p)| match p {
        Some(p) => format!("{h}:{p}"),
        None => h,
    })
}

fn user() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![4 => "[A-Za-z0-9_.!~*'()-]", 1 => "%[0-9A-F]{2}", 1 => "[&=+$,;?/]"], 1..12)
        .prop_map(|v| v.concat())
}

fn uri_param() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["transport=tcp", "transport=udp", "transport=tls", "lr", "ob", "user=phone", "maddr=192.0.2.1"])
            .prop_map(str::to_owned),
        (token(), proptest::option::of(token())).prop_map(|(n, v)| match v {
            Some(v) => format!("{n}={v}"),
            None => n,
        }),
    ]
}

/// A sip:, sips: or tel: URI (no `?headers`: those are not allowed everywhere).
pub fn uri(mix: Mix) -> impl Strategy<Value = String> {
    let sip =
        (select(vec!["sip", "sips", "SIP"]), proptest::option::of(user()), hostport(mix), proptest::collection::vec(uri_param(), 0..3))
            .prop_map(|(s, u, hp, params)| {
                let user = u.map(|u| format!("{u}@")).unwrap_or_default();
                let params: String = params.iter().map(|p| format!(";{p}")).collect();
                format!("{s}:{user}{hp}{params}")
            });
    let tel = ("\\+?[0-9]{1,4}(-[0-9]{2,4}){0,3}", proptest::option::of(domain()))
        .prop_map(|(n, ctx)| format!("tel:{n}{}", ctx.map(|c| format!(";phone-context={c}")).unwrap_or_default()));
    prop_oneof![4 => sip, 1 => tel]
}

/// A display name: tokens, or a quoted string with escapes and UTF-8.
fn display() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(token(), 1..3).prop_map(|t| t.join(" ")),
        "[ a-zA-Z0-9\"\\\\,;<>@:äß→]{0,16}".prop_map(|s| sipcore::text::quote(&s)),
    ]
}

/// `[display] <uri> ;params` with the given header params.
fn name_addr(mix: Mix, params: impl Strategy<Value = Vec<String>>) -> impl Strategy<Value = String> {
    (proptest::option::of(display()), uri(mix), params, any::<bool>()).prop_map(|(d, u, params, space)| {
        let params: String = params.iter().map(|p| format!(";{p}")).collect();
        match d {
            Some(d) => format!("{d}{}<{u}>{params}", if space { " " } else { "" }),
            None => format!("<{u}>{params}"),
        }
    })
}

fn contact(mix: Mix) -> impl Strategy<Value = String> {
    let param = prop_oneof![
        (0u32..100_000).prop_map(|n| format!("expires={n}")),
        "0\\.[0-9]{1,3}".prop_map(|q| format!("q={q}")),
        "[0-9a-f]{8}".prop_map(|u| format!("+sip.instance=\"<urn:uuid:{u}-0000-1000-8000-000a95a0e128>\"")),
        (1u32..10).prop_map(|n| format!("reg-id={n}")),
        "[ a-z,;\"\\\\]{0,12}".prop_map(|s| format!("description={}", sipcore::text::quote(&s))),
    ];
    name_addr(mix, proptest::collection::vec(param, 0..4))
}

fn via(mix: Mix) -> impl Strategy<Value = String> {
    let received = if mix.ipv6 {
        prop_oneof![any::<Ipv4Addr>().prop_map(|a| a.to_string()), any::<Ipv6Addr>().prop_map(|a| format!("[{a}]"))].boxed()
    } else {
        any::<Ipv4Addr>().prop_map(|a| a.to_string()).boxed()
    };
    let param = prop_oneof![
        Just("rport".to_owned()),
        (1u16..).prop_map(|p| format!("rport={p}")),
        received.prop_map(|a| format!("received={a}")),
        Just("keep".to_owned()),
    ];
    (select(vec!["UDP", "TCP", "TLS", "SCTP", "WS", "WSS"]), hostport(mix), token(), proptest::collection::vec(param, 0..3)).prop_map(
        |(t, hp, b, params)| {
            let params: String = params.iter().map(|p| format!(";{p}")).collect();
            format!("SIP/2.0/{t} {hp};branch=z9hG4bK{b}{params}")
        },
    )
}

fn list(item: impl Strategy<Value = String>, n: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(item, n).prop_map(|v| v.join(", "))
}

/// Free text for headers we do not interpret: quoted strings (with escapes),
/// commas, semicolons, UTF-8; no CR/LF, no leading or trailing white space.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => "[A-Za-z0-9 ,;=/:@<>()\\[\\]{}?!#$%&*+.'`~^|_-]{1,8}",
            1 => "[ a-z\"\\\\,]{0,8}".prop_map(|s| sipcore::text::quote(&s)),
            1 => "[äöüß日本語→]{1,3}",
        ],
        0..4,
    )
    .prop_map(|v| v.concat().trim_matches([' ', '\t']).to_owned())
}

/// An extension header name that is not one we know.
fn ext_name() -> impl Strategy<Value = String> {
    "[Xx]-[A-Za-z0-9!%*_+`'~.-]{1,10}".prop_filter("not a known header", |n| HeaderName::from(n.as_str()).is_other())
}

/// Optional headers, any number, any order, repeats allowed.
fn extra(mix: Mix) -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        list(contact(mix), 1..3).prop_map(|v| ("Contact".to_owned(), v)),
        Just(("Contact".to_owned(), "*".to_owned())),
        list(name_addr(mix, Just(vec!["lr".to_owned()])), 1..3).prop_map(|v| ("Route".to_owned(), v)),
        list(name_addr(mix, Just(vec![])), 1..3).prop_map(|v| ("Record-Route".to_owned(), v)),
        list(name_addr(mix, Just(vec![])), 1..3).prop_map(|v| ("Path".to_owned(), v)),
        via(mix).prop_map(|v| ("Via".to_owned(), v)),
        list(token(), 0..4).prop_map(|v| ("Supported".to_owned(), v)),
        list(token(), 1..4).prop_map(|v| ("Require".to_owned(), v)),
        list(method(mix), 0..4).prop_map(|v| ("Allow".to_owned(), v)),
        any::<u32>().prop_map(|n| ("Expires".to_owned(), n.to_string())),
        (0u32..100).prop_map(|n| ("Flow-Timer".to_owned(), n.to_string())),
        text().prop_map(|v| ("Subject".to_owned(), v)),
        text().prop_map(|v| ("User-Agent".to_owned(), v)),
        any::<[u8; 6]>().prop_map(|m| ("X-MAC".to_owned(), m.map(|b| format!("{b:02x}")).join(":"))),
        any::<Ipv4Addr>().prop_map(|a| ("X-Private-IP".to_owned(), a.to_string())),
        any::<Ipv6Addr>().prop_map(|a| ("X-Public-IP".to_owned(), a.to_string())),
        (1u16..).prop_map(|p| ("X-Bearer-Port".to_owned(), p.to_string())),
        (token(), token()).prop_map(|(t, s)| ("Content-Type".to_owned(), format!("{t}/{s}"))),
        (ext_name(), text()),
        (ext_name(), text()),
    ]
}

/// A message model and how to print it.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `Ok((method, uri))` for a request, `Err((status, reason))` for a response.
    pub start: Result<(String, String), (u16, String)>,
    /// Header lines in order; Content-Length is among them when `with_length`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub fn spec() -> impl Strategy<Value = Spec> {
    spec_with(Mix::ALL)
}

/// Messages drawn from `mix`.
pub fn spec_with(mix: Mix) -> impl Strategy<Value = Spec> {
    let start = prop_oneof![
        3 => (method(mix), uri(mix)).prop_map(Ok),
        1 => (100u16..700, "[ -~]{0,20}").prop_map(Err),
    ];
    let required = (
        proptest::collection::vec(via(mix), 1..3),
        name_addr(mix, Just(vec!["tag=1928301774".to_owned()])),
        name_addr(mix, Just(vec![])),
        "[A-Za-z0-9.!%*_+`'~-]{1,16}(@[a-z0-9.]{1,12})?",
        0u32..(1 << 31),
        0u8..=255,
    );
    let body = prop_oneof![Just(vec![]), proptest::collection::vec(any::<u8>(), 0..96)];
    (start, method(mix), required, proptest::collection::vec(extra(mix), 0..8), body, any::<bool>(), any::<u64>()).prop_map(
        |(start, resp_method, (vias, from, to, call_id, seq, mf), extras, body, with_length, seed)| {
            let method = match &start {
                Ok((m, _)) => m.clone(),
                Err(_) => resp_method,
            };
            let mut headers: Vec<(String, String)> = vias.into_iter().map(|v| ("Via".to_owned(), v)).collect();
            headers.push(("From".to_owned(), from));
            headers.push(("To".to_owned(), to));
            headers.push(("Call-ID".to_owned(), call_id));
            headers.push(("CSeq".to_owned(), format!("{seq} {method}")));
            headers.push(("Max-Forwards".to_owned(), mf.to_string()));
            if with_length || body.is_empty() {
                headers.push(("Content-Length".to_owned(), body.len().to_string()));
            }
            // Scatter the optional headers among the required ones, deterministically.
            let mut rng = seed;
            for h in extras {
                rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let at = (rng >> 33) as usize % (headers.len() + 1);
                headers.insert(at, h);
            }
            Spec { start, headers, body }
        },
    )
}

impl Spec {
    /// The message a correct parser produces from either printing.
    pub fn model(&self) -> Message {
        let mut headers = Headers::new();
        for (n, v) in &self.headers {
            headers.push(HeaderName::from(n.as_str()), v.as_str());
        }
        let body = Bytes::from(self.body.clone());
        match &self.start {
            Ok((m, u)) => {
                Message::Request(Request { method: Method::from_token(m).expect("token"), uri: u.as_str().into(), headers, body })
            }
            Err((status, reason)) => Message::Response(Response { status: *status, reason: reason.as_str().into(), headers, body }),
        }
    }
}

/// The compact form of a known header name, if it has one.
pub fn compact(name: &HeaderName) -> Option<char> {
    ('a'..='z').find(|c| HeaderName::from(c.to_string().as_str()) == *name && !name.is_other())
}

/// Prints `spec` in an equivalent but awkward form, steered by `choices`:
/// compact or odd-case names, white space around the colon, folded values,
/// a lower-case SIP-Version, leading CRLFs.
pub fn scramble(spec: &Spec, choices: &[u8]) -> Vec<u8> {
    let mut c = choices.iter().copied().cycle();
    let mut next = move || c.next().unwrap_or(0);
    let mut out = Vec::new();
    for _ in 0..next() % 3 {
        out.extend_from_slice(b"\r\n");
    }
    let version = if next() % 2 == 0 { "SIP/2.0" } else { "sip/2.0" };
    match &spec.start {
        Ok((m, u)) => out.extend_from_slice(format!("{m} {u} {version}\r\n").as_bytes()),
        Err((s, r)) => out.extend_from_slice(format!("{version} {s:03} {r}\r\n").as_bytes()),
    }
    for (name, value) in &spec.headers {
        let known = HeaderName::from(name.as_str());
        let spelled = match (compact(&known), next() % 3) {
            (Some(c), 0) => c.to_string(),
            _ => name.chars().map(|ch| if next() % 2 == 0 { ch.to_ascii_uppercase() } else { ch.to_ascii_lowercase() }).collect(),
        };
        out.extend_from_slice(spelled.as_bytes());
        out.extend_from_slice([" ", "", "\t", "  "][usize::from(next() % 4)].as_bytes());
        out.push(b':');
        out.extend_from_slice(["", " ", "  ", "\t"][usize::from(next() % 4)].as_bytes());
        // Fold at single spaces between non-blank characters: unfolding joins with one SP.
        let b = value.as_bytes();
        for (i, &ch) in b.iter().enumerate() {
            let single = ch == b' '
                && i > 0
                && b.get(i - 1).is_some_and(|p| !p.is_ascii_whitespace())
                && b.get(i + 1).is_some_and(|n| !n.is_ascii_whitespace());
            if single && next() % 3 == 0 {
                out.extend_from_slice(["\r\n ", "\r\n\t", "\r\n   "][usize::from(next() % 3)].as_bytes());
            } else {
                out.push(ch);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&spec.body);
    out
}
