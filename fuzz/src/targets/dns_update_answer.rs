//! Push mode's reading of the answer to an UPDATE, `switch::dns::push::message::read_answer`
//! (hickory's message reader and TSIG check under it), for a fixed signed UPDATE.
//! Who sends it: the configured primary, or anyone who can send datagrams to
//! the pusher's socket (a forged source address is enough over UDP).
//!
//! Input layout: byte 0 picks the mode; the rest is the answer.
//! - bit 0 clear: the bytes as they came. Beyond "no panic": never success,
//!   since no input made without the key carries a MAC that verifies.
//! - bit 0 set: the bytes read as a message, then signed as the primary would
//!   (the key, the request's MAC; bit 1 picks the key: ours or another), so the
//!   fuzzer reaches the paths behind a valid MAC. Then: success exactly when it
//!   is an answer to our ID, not truncated, signed with our key and NOERROR.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, TSigResponseContext, TSigner};
use std::sync::OnceLock;
use switch::dns::push::message::{Answer, read_answer, sign, update};

const ID: u16 = 0x4242;
/// The UPDATE's signing time (Unix seconds); the answers are signed at the same time.
const T: u64 = 1_800_000_000;

fn key(secret: &[u8]) -> Option<TSigner> {
    TSigner::new(secret.to_vec(), TsigAlgorithm::HmacSha256, Name::from_ascii("switch-key.").ok()?, 300).ok()
}

/// Our key, another, and our signed request's bytes.
fn world() -> &'static Option<(TSigner, TSigner, Vec<u8>)> {
    static W: OnceLock<Option<(TSigner, TSigner, Vec<u8>)>> = OnceLock::new();
    W.get_or_init(|| {
        let ours = key(b"the key knot and the switch share")?;
        let theirs = key(b"a key knot has never seen at all")?;
        let zone = Name::from_ascii("example.net.").ok()?;
        let (request, _) = sign(update(ID, &zone, &[]), &ours, T).ok()?;
        Some((ours, theirs, request))
    })
}

/// Runs one input (see the module docs).
pub fn run(input: &[u8]) {
    let Some((&pick, answer)) = input.split_first() else { return };
    let Some((ours, theirs, request)) = world() else { panic!("the fixed UPDATE cannot be signed") };
    // A fresh verifier per input: it is the state of one exchange.
    let zone = Name::from_ascii("example.net.").unwrap_or_else(|_| Name::root());
    let Ok((_, mut verifier)) = sign(update(ID, &zone, &[]), ours, T) else { panic!("the fixed UPDATE cannot be signed") };
    if pick & 1 == 0 {
        let result = read_answer(answer, ID, &mut verifier);
        assert_ne!(result, Ok(Answer::Done), "success without the key");
        return;
    }
    let Ok(mut m) = Message::from_vec(answer) else { return };
    let signer = if pick & 2 == 0 { ours } else { theirs };
    let Ok((mac, _, _)) = ours.verify_message_byte(request, None, true) else { panic!("our own UPDATE does not verify") };
    m.take_signature();
    let Ok(unsigned) = m.to_vec() else { return };
    let Ok(signature) = TSigResponseContext::new(m.metadata.id, T, signer.clone(), mac, None).sign(&unsigned) else { return };
    m.set_signature(signature);
    let Ok(bytes) = m.to_vec() else { return };
    let result = read_answer(&bytes, ID, &mut verifier);
    let ours_and_good = m.metadata.id == ID
        && m.metadata.message_type == MessageType::Response
        && !m.metadata.truncation
        && pick & 2 == 0
        && m.metadata.response_code == ResponseCode::NoError;
    assert_eq!(result == Ok(Answer::Done), ours_and_good, "{result:?} for {:?}", m.metadata);
}
