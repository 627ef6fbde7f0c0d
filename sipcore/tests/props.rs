//! Property tests: nothing panics on any input, and printing is the inverse of
//! parsing for generated messages (canonical and awkward wire forms) and for
//! the corpus.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic, unreachable_pub)]

mod common;

use bytes::Bytes;
use common::strategy::{Spec, scramble, spec};
use proptest::prelude::*;
use sipcore::{Message, parse};

/// Whatever parses prints to something that parses back to the same message.
fn reparses(m: &Message) {
    let again = parse(m.to_bytes()).unwrap_or_else(|e| panic!("printed message does not parse: {e}\n{m}"));
    assert_eq!(&again, m);
}

/// Small edits of corpus messages reach far deeper than random bytes do.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let files: Vec<Vec<u8>> = ["valid", "invalid"].iter().flat_map(|k| common::corpus(k)).map(|(_, b)| b).collect();
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| (0u8, i, vec![b])),
        (
            any::<prop::sample::Index>(),
            prop::sample::select(vec![
                &b"\r\n"[..],
                b" ",
                b"\t",
                b";",
                b",",
                b":",
                b"\"",
                b"\\",
                b"<",
                b">",
                b"[",
                b"]",
                b"@",
                b"%",
                b"\r\n ",
                b"\xff",
                b"\x00",
                b"=",
                b"?"
            ])
        )
            .prop_map(|(i, s)| (1u8, i, s.to_vec())),
        any::<prop::sample::Index>().prop_map(|i| (2u8, i, vec![])),
    ];
    (prop::sample::select(files), prop::collection::vec(edit, 1..6)).prop_map(|(mut f, edits)| {
        for (kind, at, bytes) in edits {
            let i = at.index(f.len() + 1);
            match kind {
                0 if i < f.len() => f[i] = bytes[0],
                1 => {
                    f.splice(i..i, bytes);
                }
                _ if i < f.len() => {
                    f.remove(i);
                }
                _ => {}
            }
        }
        f
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(m) = parse(Bytes::from(data)) {
            common::exercise_accessors(&m);
            reparses(&m);
        }
    }

    #[test]
    fn sip_shaped_bytes_never_panic(head in "[A-Za-z/ .:;,<>\"\\\\@\\[\\]0-9=\\r\\n\\t-]{0,300}", body in prop::collection::vec(any::<u8>(), 0..16)) {
        let mut raw = head.into_bytes();
        raw.extend_from_slice(b"\r\n\r\n");
        raw.extend_from_slice(&body);
        if let Ok(m) = parse(Bytes::from(raw)) {
            common::exercise_accessors(&m);
            reparses(&m);
        }
    }

    #[test]
    fn mutated_corpus_never_panics(raw in mutated()) {
        if let Ok(m) = parse(Bytes::from(raw)) {
            common::exercise_accessors(&m);
            reparses(&m);
        }
    }

    #[test]
    fn printing_then_parsing_gives_the_message_back(s in spec()) {
        let model = s.model();
        let wire = model.to_bytes();
        let parsed = parse(wire.clone()).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&wire)));
        prop_assert_eq!(&parsed, &model);
        common::exercise_accessors(&parsed);
    }

    #[test]
    fn awkward_but_equivalent_wire_forms_parse_to_the_same_message(s in spec(), choices in prop::collection::vec(any::<u8>(), 1..64)) {
        let wire = scramble(&s, &choices);
        let parsed = parse(Bytes::from(wire.clone())).unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&wire)));
        prop_assert_eq!(&parsed, &s.model());
    }
}

#[test]
fn corpus_print_parse_round_trip() {
    for (name, raw) in common::corpus("valid") {
        let first = parse(Bytes::from(raw)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let printed = first.to_bytes();
        let second = parse(printed.clone()).unwrap_or_else(|e| panic!("{name}: reprint does not parse: {e}"));
        assert_eq!(second, first, "{name}");
        // Printing is a fixed point from there on.
        assert_eq!(second.to_bytes(), printed, "{name}");
    }
}

/// The generators themselves produce what they claim: every spec's header
/// list holds the required headers once.
#[test]
fn generated_specs_are_well_formed() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..64 {
        let s: Spec = spec().new_tree(&mut runner).unwrap().current();
        for name in ["From", "To", "Call-ID", "CSeq", "Max-Forwards"] {
            assert_eq!(s.headers.iter().filter(|(n, _)| n == name).count(), 1, "{name}");
        }
    }
}
