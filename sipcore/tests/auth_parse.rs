//! Header value parsing and printing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sipcore::ToStatus;
use std::borrow::Cow;

use proptest::prelude::*;
use sipcore::auth::{Algorithm, AuthError, AuthParam, Challenge, Credentials, Qop, QopOptions, parse_challenge, parse_credentials};

#[test]
fn challenge_basic_fields() {
    let c = parse_challenge(
        r#"Digest realm="atlanta.com", domain="sip:ss1.carrier.com", qop="auth,auth-int", nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5"#,
    )
    .unwrap();
    assert_eq!(c.realm, "atlanta.com");
    assert_eq!(c.domain.as_deref(), Some("sip:ss1.carrier.com"));
    assert_eq!(c.nonce, "f84f1cec41e6cbe5aea9c8e88d359");
    assert_eq!(c.opaque.as_deref(), Some(""));
    assert!(!c.stale);
    assert_eq!(c.algorithm, Some(Algorithm::Md5));
    assert_eq!(c.qop, QopOptions { auth: true, auth_int: true });
    assert!(matches!(c.realm, Cow::Borrowed(_)), "no escapes, no copy");
}

#[test]
fn challenge_stale_true_any_case_and_unknown_params_kept() {
    for s in ["true", "TRUE", "\"True\""] {
        let input = format!("Digest realm=r, nonce=n, stale={s}, charset=UTF-8, x-foo=\"a b\"");
        let c = parse_challenge(&input).unwrap();
        assert!(c.stale, "{s}");
        assert_eq!(
            c.extra,
            vec![
                AuthParam { name: "charset".into(), value: "UTF-8".into(), quoted: false },
                AuthParam { name: "x-foo".into(), value: "a b".into(), quoted: true },
            ]
        );
        assert_eq!(c.effective_algorithm(), Algorithm::Md5);
        assert!(c.qop.is_empty());
    }
}

#[test]
fn challenge_qop_ignores_unknown_options_but_not_all() {
    let c = parse_challenge(r#"Digest realm="r", nonce="n", qop=" auth-int , future ""#).unwrap();
    assert_eq!(c.qop, QopOptions { auth: false, auth_int: true });
    assert!(matches!(parse_challenge(r#"Digest realm="r", nonce="n", qop="future""#), Err(AuthError::UnsupportedQop(_))));
}

#[test]
fn challenge_unknown_algorithm_is_reported() {
    assert_eq!(
        parse_challenge(r#"Digest realm="r", nonce="n", algorithm=SHA-512"#),
        Err(AuthError::UnsupportedAlgorithm("SHA-512".into()))
    );
}

#[test]
fn challenge_prints_canonically() {
    let c = parse_challenge("digest  QOP=\"auth\" ,ALGORITHM = sha-256,NONCE=abc, Realm = \"a\\\"b\", stale=true, opaque=\"o\"").unwrap();
    assert_eq!(c.to_string(), r#"Digest realm="a\"b", nonce="abc", opaque="o", stale=true, algorithm=SHA-256, qop="auth""#);
    assert_eq!(parse_challenge(&c.to_string()).unwrap(), c);
}

const CREDS: &str = r#"Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", qop=auth, nc=0000000a, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

#[test]
fn credentials_basic_fields() {
    let c = parse_credentials(CREDS).unwrap();
    assert_eq!(c.username, "bob");
    assert_eq!(c.realm, "biloxi.com");
    assert_eq!(c.uri, "sip:bob@biloxi.com");
    assert_eq!(c.qop, Some(Qop::Auth));
    assert_eq!(c.nc, Some(10));
    assert_eq!(c.algorithm, None);
    assert_eq!(c.effective_algorithm(), Algorithm::Md5);
    assert!(c.extra.is_empty());
}

#[test]
fn credentials_any_order_uppercase_names_and_spaces_around_equals() {
    let c = parse_credentials(
        "Digest RESPONSE = \"00\" ,  Nc=FFFFFFFF,QOP=\"auth-int\",CNonce=c , URI=\"sip:a\", Nonce=n,REALM=r,UserName=\"u\", Algorithm=\"SHA-512-256-sess\"",
    )
    .unwrap();
    assert_eq!(c.username, "u");
    assert_eq!(c.realm, "r");
    assert_eq!(c.nonce, "n");
    assert_eq!(c.uri, "sip:a");
    assert_eq!(c.response, "00");
    assert_eq!(c.cnonce.as_deref(), Some("c"));
    assert_eq!(c.nc, Some(u32::MAX));
    assert_eq!(c.qop, Some(Qop::AuthInt));
    assert_eq!(c.algorithm, Some(Algorithm::Sha512_256Sess));
}

#[test]
fn credentials_escaped_quotes_and_backslashes() {
    let c = parse_credentials(r#"Digest username="a\"b\\c", realm="r", nonce="n", uri="u", response="x", cnonce="\q""#).unwrap();
    assert_eq!(c.username, "a\"b\\c");
    assert!(matches!(c.username, Cow::Owned(_)));
    assert_eq!(c.cnonce.as_deref(), Some("q"));
    assert!(matches!(c.realm, Cow::Borrowed(_)));
    let printed = c.to_string();
    assert!(printed.starts_with(r#"Digest username="a\"b\\c", "#), "{printed}");
    assert_eq!(parse_credentials(&printed).unwrap(), c);
}

#[test]
fn credentials_print_canonical() {
    let c = parse_credentials(CREDS).unwrap();
    assert_eq!(
        c.to_string(),
        r#"Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="sip:bob@biloxi.com", response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=0000000a"#
    );
}

#[test]
fn missing_closing_quote_reports_offset_of_opening_quote() {
    let s = r#"Digest username="bob, realm="r""#;
    // The quoted string `"bob, realm="` closes early, then `r` is junk.
    assert_eq!(parse_credentials(s), Err(AuthError::Syntax { offset: 29, what: "expected ',' between parameters" }));
    let s = r#"Digest realm="r", nonce="abc"#;
    let err = parse_challenge(s).unwrap_err();
    assert_eq!(err, AuthError::Syntax { offset: 24, what: "missing closing quote" });
    assert_eq!(&s[24..25], "\"");
    assert_eq!(err.to_string(), "malformed Digest header at byte 24: missing closing quote");
    assert_eq!(err.status().as_u16(), 400);
}

#[test]
fn malformed_inputs_are_errors_with_locations() {
    let cases: &[(&str, AuthError)] = &[
        ("", AuthError::Syntax { offset: 0, what: "expected auth scheme" }),
        ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", AuthError::NotDigest { offset: 0 }),
        ("Digest realm", AuthError::Syntax { offset: 12, what: "expected '=' after parameter name" }),
        ("Digest =x", AuthError::Syntax { offset: 7, what: "expected parameter name" }),
        ("Digest realm=\"a\", realm=\"b\", nonce=n", AuthError::DuplicateParam { name: "realm".into(), offset: 18 }),
        ("Digest Realm=a, REALM=b", AuthError::DuplicateParam { name: "REALM".into(), offset: 16 }),
        ("Digest nonce=n", AuthError::MissingParam("realm")),
        ("Digest realm=r", AuthError::MissingParam("nonce")),
    ];
    for (input, err) in cases {
        assert_eq!(&parse_challenge(input).unwrap_err(), err, "{input:?}");
    }
}

#[test]
fn nc_must_be_eight_hex_digits() {
    for bad in ["1", "0000001", "000000001", "0000000g", "\"\""] {
        let s = format!(r#"Digest username="u", realm="r", nonce="n", uri="u", response="x", nc={bad}"#);
        match parse_credentials(&s) {
            Err(AuthError::InvalidParam { name: "nc", offset, .. }) => {
                assert!(offset >= s.find("nc=").unwrap() + 3, "{bad}: {offset}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn credentials_missing_required_param() {
    assert_eq!(parse_credentials(r#"Digest username="u", realm="r", nonce="n", uri="u""#), Err(AuthError::MissingParam("response")));
}

#[test]
fn duplicate_unknown_param_rejected_and_count_bounded() {
    let dup = r#"Digest realm=r, nonce=n, foo=1, FOO=2"#;
    assert!(matches!(parse_challenge(dup), Err(AuthError::DuplicateParam { .. })));
    let many: String = (0..40).map(|i| format!(", p{i}=v")).collect();
    let s = format!("Digest realm=r, nonce=n{many}");
    assert!(matches!(parse_challenge(&s), Err(AuthError::Syntax { what: "too many parameters", .. })));
}

#[test]
fn line_breaks_inside_quotes_are_rejected() {
    assert!(parse_challenge("Digest realm=\"a\r\nb\", nonce=n").is_err());
}

fn cow() -> impl Strategy<Value = Cow<'static, str>> {
    // Anything printable as a quoted-string: CR and LF cannot be represented.
    "[^\r\n]{0,12}".prop_map(Cow::Owned)
}

fn extra() -> impl Strategy<Value = Vec<AuthParam<'static>>> {
    prop::collection::btree_map("x-[a-z0-9]{1,6}", (any::<bool>(), "[a-zA-Z0-9.~-]{1,6}", cow()), 0..3).prop_map(|m| {
        m.into_iter()
            .map(|(name, (quoted, tok, q))| AuthParam { name: Cow::Owned(name), value: if quoted { q } else { Cow::Owned(tok) }, quoted })
            .collect()
    })
}

fn algorithm() -> impl Strategy<Value = Option<Algorithm>> {
    prop::option::of(prop::sample::select(Algorithm::ALL.to_vec()))
}

fn credentials() -> impl Strategy<Value = Credentials<'static>> {
    (
        (cow(), cow(), cow(), cow(), cow()),
        (algorithm(), prop::option::of(cow()), prop::option::of(cow())),
        (prop::option::of(prop::sample::select(vec![Qop::Auth, Qop::AuthInt])), prop::option::of(any::<u32>()), any::<bool>(), extra()),
    )
        .prop_map(|((username, realm, nonce, uri, response), (algorithm, cnonce, opaque), (qop, nc, userhash, extra))| Credentials {
            username,
            realm,
            nonce,
            uri,
            response,
            algorithm,
            cnonce,
            opaque,
            qop,
            nc,
            userhash,
            extra,
        })
}

fn challenge() -> impl Strategy<Value = Challenge<'static>> {
    (
        (cow(), prop::option::of(cow()), cow(), prop::option::of(cow())),
        (any::<bool>(), algorithm(), any::<(bool, bool)>(), any::<bool>(), extra()),
    )
        .prop_map(|((realm, domain, nonce, opaque), (stale, algorithm, (auth, auth_int), userhash, extra))| Challenge {
            realm,
            domain,
            nonce,
            opaque,
            stale,
            algorithm,
            qop: QopOptions { auth, auth_int },
            userhash,
            extra,
        })
}

fn offset_of(e: &AuthError) -> Option<usize> {
    match e {
        AuthError::Syntax { offset, .. }
        | AuthError::NotDigest { offset }
        | AuthError::DuplicateParam { offset, .. }
        | AuthError::InvalidParam { offset, .. } => Some(*offset),
        _ => None,
    }
}

proptest! {
    #[test]
    fn parsers_never_panic(s in ".{0,200}") {
        let _ = parse_challenge(&s);
        let _ = parse_credentials(&s);
    }

    #[test]
    fn parsers_never_panic_on_digest_like_input(
        s in r#"[Dd]igest[ \t]{0,2}([a-zA-Z]{1,8}[ ]?=[ ]?("([^"\\]|\\.){0,8}"?|[a-z0-9/=]{0,8})[ ]?,?[ ]?){0,8}"#
    ) {
        for err in [parse_challenge(&s).err(), parse_credentials(&s).err()].into_iter().flatten() {
            prop_assert!(offset_of(&err).is_none_or(|o| o <= s.len()), "{err:?} in {s:?}");
        }
    }

    #[test]
    fn credentials_print_parse_round_trip(c in credentials()) {
        let printed = c.to_string();
        let parsed = parse_credentials(&printed).map_err(|e| TestCaseError::fail(format!("{e}: {printed}")))?;
        prop_assert_eq!(parsed, c);
    }

    #[test]
    fn challenge_print_parse_round_trip(c in challenge()) {
        let printed = c.to_string();
        let parsed = parse_challenge(&printed).map_err(|e| TestCaseError::fail(format!("{e}: {printed}")))?;
        prop_assert_eq!(parsed, c);
    }
}
