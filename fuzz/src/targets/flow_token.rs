//! The inter-node flow token (`switch::cluster::token`): what a node reads
//! from the topmost `Route` of an INVITE that claims to come from another
//! node of its cluster, before anything else is checked. Byte 0 picks how the
//! rest is used:
//! - `0`: as the token text;
//! - `1`: written over a valid token from offset `rest[0]` (tokens one edit
//!   away from a good one);
//! - `2`: as the `Route` header value of an INVITE, found by `token::of`.
//!
//! Beyond "no panic": exactly one text verifies, the token made with the
//! secret for that claim (no other spelling, no forgery), and `of` finds only
//! a URI user part with the token prefix.

use bytes::Bytes;
use sipcore::Message;
use switch::cluster::Secret;
use switch::cluster::token::{self, Claim, PREFIX};

const CLAIM: Claim<'static> = Claim { from: "node-a", to: "node-b", number: "7002", call_id: "c1@switch" };
const T0: u64 = 1_800_000_000;

fn secret() -> Secret {
    Secret::new(b"fuzz-cluster-secret-0123456789ab".to_vec()).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let secret = secret();
    let good = token::make(&secret, &CLAIM, T0);
    match mode % 3 {
        0 => check(&secret, &good, &String::from_utf8_lossy(rest)),
        1 => {
            let Some((&at, patch)) = rest.split_first() else { return };
            let mut bytes = good.clone().into_bytes();
            for (i, b) in patch.iter().enumerate() {
                let i = usize::from(at) + i;
                match bytes.get_mut(i) {
                    Some(slot) => *slot = *b,
                    None => bytes.push(*b),
                }
            }
            check(&secret, &good, &String::from_utf8_lossy(&bytes));
        }
        _ => {
            let Ok(route) = std::str::from_utf8(rest) else { return };
            let text = format!(
                "INVITE sip:7002@10.0.0.2 SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKf\r\nRoute: {route}\r\n\
                 From: <sip:7001@d>;tag=a\r\nTo: <sip:7002@d>\r\nCall-ID: c1@switch\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
            );
            let Ok(Message::Request(req)) = sipcore::parse(Bytes::from(text)) else { return };
            if let Some(found) = token::of(&req) {
                assert!(found.starts_with(PREFIX), "of() found {found:?}");
                check(&secret, &good, &found);
            }
        }
    }
}

fn check(secret: &Secret, good: &str, text: &str) {
    match token::verify(secret, text, CLAIM.to, CLAIM.number, CLAIM.call_id, T0) {
        Ok(from) => {
            assert_eq!(text, good, "a token other than the one made verified");
            assert_eq!(from, CLAIM.from);
        }
        Err(e) => assert_ne!(text, good, "the good token was refused: {e}"),
    }
}
