//! Server-side verification: round trips, expiry, forgery, replay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sipcore::ToStatus;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sipcore::auth::{
    Algorithm, AuthError, Challenge, Credentials, DigestClient, DigestRequest, DigestServer, Qop, QopOptions, Secret, ServerConfig, ha1,
    parse_challenge, parse_credentials, unix_seconds,
};

const REALM: &str = "example.com";
const USER: &str = "alice";
const PASSWORD: &str = "s3cret";
const URI: &str = "sip:example.com";
const T0: u64 = 1_700_000_000;

fn config() -> ServerConfig {
    let mut c = ServerConfig::new(REALM, b"0123456789abcdef0123456789abcdef".to_vec());
    c.nonce_lifetime = Duration::from_secs(60);
    c.algorithms = Algorithm::ALL.to_vec();
    c
}

fn register() -> DigestRequest<'static> {
    DigestRequest::new("REGISTER", URI)
}

/// Challenge for `alg` from `server`, sent over the wire and parsed back.
fn wire_challenge(server: &DigestServer, now: u64, alg: Algorithm) -> Challenge<'static> {
    let ch = server.challenge(now, None, false);
    let c = ch.into_iter().find(|c| c.algorithm == Some(alg)).unwrap();
    parse_challenge(&c.to_string()).unwrap().into_owned()
}

/// Client answer, sent over the wire and parsed back.
fn answer(client: &mut DigestClient, ch: &Challenge<'_>, secret: Secret<'_>, req: &DigestRequest<'_>) -> Credentials<'static> {
    let creds = client.authorize(ch, USER, secret, req).unwrap();
    parse_credentials(&creds.to_string()).unwrap().into_owned()
}

#[test]
fn round_trip_every_algorithm_with_password_and_ha1() {
    for alg in Algorithm::ALL {
        let mut server = DigestServer::new(config());
        let mut client = DigestClient::new();
        let ch = wire_challenge(&server, T0, alg);
        let stored = ha1(alg, USER, REALM, PASSWORD);

        let creds = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
        assert_eq!(creds.algorithm, Some(alg));
        let ok = server.verify(T0 + 1, &register(), None, &creds, Some(Secret::Ha1(&stored))).unwrap();
        assert_eq!(ok.username, USER);
        assert_eq!(ok.algorithm, alg);
        assert_eq!(ok.qop, Some(Qop::Auth));
        assert_eq!(ok.nc, Some(1));
        assert_eq!(ok.nonce_issued, T0);

        // Client holding only HA1, server holding the password.
        let creds = answer(&mut client, &ch, Secret::Ha1(&stored), &register());
        assert_eq!(creds.nc, Some(2));
        server.verify(T0 + 2, &register(), None, &creds, Some(Secret::Password(PASSWORD))).unwrap();
    }
}

#[test]
fn auth_int_covers_the_body() {
    let mut cfg = config();
    cfg.qop = QopOptions { auth: true, auth_int: true };
    let mut server = DigestServer::new(cfg);
    let mut client = DigestClient::new().prefer_auth_int(true);
    let ch = wire_challenge(&server, T0, Algorithm::Sha256);
    assert_eq!(ch.qop, QopOptions { auth: true, auth_int: true });
    let body = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n";
    let invite = DigestRequest::new("INVITE", URI).with_body(body);
    let creds = answer(&mut client, &ch, Secret::Password(PASSWORD), &invite);
    assert_eq!(creds.qop, Some(Qop::AuthInt));

    let tampered = DigestRequest::new("INVITE", URI).with_body(b"v=0\r\n");
    assert_eq!(server.verify(T0, &tampered, None, &creds, Some(Secret::Password(PASSWORD))), Err(AuthError::WrongResponse));
    let ok = server.verify(T0, &invite, None, &creds, Some(Secret::Password(PASSWORD))).unwrap();
    assert_eq!(ok.qop, Some(Qop::AuthInt));
}

#[test]
fn challenges_keep_the_configured_preference_order_with_qop_auth_and_one_nonce() {
    let mut cfg = config();
    cfg.algorithms = vec![Algorithm::Md5, Algorithm::Sha512_256, Algorithm::Sha256, Algorithm::Md5];
    let server = DigestServer::new(cfg);
    let ch = server.challenge_with_salt(T0, [7; 8], None, false);
    let algs: Vec<_> = ch.iter().map(|c| c.algorithm.unwrap()).collect();
    assert_eq!(algs, [Algorithm::Md5, Algorithm::Sha512_256, Algorithm::Sha256], "configured order kept, duplicate dropped");
    assert!(ch.iter().all(|c| c.nonce == ch[0].nonce && c.qop == QopOptions::AUTH && !c.stale));
    let printed = ch[0].to_string();
    assert_eq!(printed, format!("Digest realm=\"example.com\", nonce=\"{}\", algorithm=MD5, qop=\"auth\"", ch[0].nonce));
    // Deterministic given the salt; different salts give different nonces.
    assert_eq!(server.challenge_with_salt(T0, [7; 8], None, false), ch);
    assert_ne!(server.challenge_with_salt(T0, [8; 8], None, false)[0].nonce, ch[0].nonce);
    assert_ne!(server.challenge(T0, None, false)[0].nonce, server.challenge(T0, None, false)[0].nonce);
}

#[test]
fn nonce_goes_stale_exactly_at_lifetime() {
    let mut server = DigestServer::new(config());
    let mut client = DigestClient::new();
    let ch = wire_challenge(&server, T0, Algorithm::Sha256);
    let pw = Some(Secret::Password(PASSWORD));

    let c1 = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
    server.verify(T0 + 59, &register(), None, &c1, pw).unwrap();

    let c2 = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
    let err = server.verify(T0 + 60, &register(), None, &c2, pw).unwrap_err();
    assert_eq!(err, AuthError::StaleNonce);
    assert!(err.is_stale());
    assert_eq!((err.status().as_u16(), err.proxy_status().as_u16()), (401, 407));

    // A wrong password with a stale nonce must not be told "stale".
    let wrong = answer(&mut client, &ch, Secret::Password("guess"), &register());
    assert_eq!(server.verify(T0 + 60, &register(), None, &wrong, pw), Err(AuthError::WrongResponse));

    // Re-challenge carries stale=true; the client starts over at nc=1.
    let fresh = server.challenge(T0 + 60, None, true);
    assert!(fresh[0].to_string().contains("stale=true"));
    let fresh = parse_challenge(&fresh[0].to_string()).unwrap().into_owned();
    assert!(fresh.stale);
    let c3 = answer(&mut client, &fresh, Secret::Password(PASSWORD), &register());
    assert_eq!(c3.nc, Some(1));
    server.verify(T0 + 61, &register(), None, &c3, pw).unwrap();
}

#[test]
fn system_time_converts_to_unix_seconds() {
    let t = UNIX_EPOCH + Duration::from_secs(T0) + Duration::from_millis(999);
    assert_eq!(unix_seconds(t), T0);
    assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(5)), 0);
    assert!(unix_seconds(SystemTime::now()) > T0);
}

fn reencode_nonce(creds: &Credentials<'_>, edit: impl FnOnce(&mut Vec<u8>)) -> Credentials<'static> {
    let mut raw = URL_SAFE_NO_PAD.decode(creds.nonce.as_bytes()).unwrap();
    edit(&mut raw);
    let mut c = creds.clone().into_owned();
    c.nonce = URL_SAFE_NO_PAD.encode(raw).into();
    c
}

#[test]
fn forged_nonces_are_rejected() {
    let mut server = DigestServer::new(config());
    let mut client = DigestClient::new();
    let ch = wire_challenge(&server, T0, Algorithm::Sha256);
    let good = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
    let pw = Some(Secret::Password(PASSWORD));
    let verify = |server: &mut DigestServer, c: &Credentials<'_>| server.verify(T0 + 1, &register(), None, c, pw);

    // Tampered timestamp (pushed forward to dodge expiry): the MAC fails.
    let later = reencode_nonce(&good, |raw| raw[7] ^= 0x01);
    assert_eq!(verify(&mut server, &later), Err(AuthError::BadNonce));
    // Tampered MAC.
    let bad_mac = reencode_nonce(&good, |raw| *raw.last_mut().unwrap() ^= 0x80);
    assert_eq!(verify(&mut server, &bad_mac), Err(AuthError::BadNonce));
    // Truncated or extended, junk, empty.
    for junk in ["", "abc", "!!!!", &good.nonce[1..], &format!("{}A", good.nonce)] {
        let mut c = good.clone();
        c.nonce = junk.to_owned().into();
        assert_eq!(verify(&mut server, &c), Err(AuthError::BadNonce), "{junk:?}");
    }
    // Minted under another key.
    let other = DigestServer::new(ServerConfig { key: b"another key".to_vec(), ..config() });
    let foreign = wire_challenge(&other, T0, Algorithm::Sha256);
    let c = answer(&mut client, &foreign, Secret::Password(PASSWORD), &register());
    assert_eq!(verify(&mut server, &c), Err(AuthError::BadNonce));

    // Even a correctly-hashed response over a forged nonce is refused, and
    // the genuine one still works.
    assert_eq!(verify(&mut server, &good).unwrap().nc, Some(1));
}

#[test]
fn nonce_is_bound_to_the_flow() {
    let mut server = DigestServer::new(config());
    let mut client = DigestClient::new();
    let flow: &[u8] = b"udp:192.0.2.1:5060";
    let ch = server.challenge(T0, Some(flow), false).remove(0);
    let creds = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
    let pw = Some(Secret::Password(PASSWORD));
    assert_eq!(server.verify(T0, &register(), Some(b"udp:192.0.2.2:5060"), &creds, pw), Err(AuthError::BadNonce));
    assert_eq!(server.verify(T0, &register(), None, &creds, pw), Err(AuthError::BadNonce));
    server.verify(T0, &register(), Some(flow), &creds, pw).unwrap();
}

#[test]
fn nonce_count_replay_is_rejected_and_increase_accepted() {
    let mut server = DigestServer::new(config());
    let mut client = DigestClient::new();
    let ch = wire_challenge(&server, T0, Algorithm::Md5);
    let pw = Some(Secret::Password(PASSWORD));

    let c1 = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
    server.verify(T0, &register(), None, &c1, pw).unwrap();
    let replay = server.verify(T0 + 1, &register(), None, &c1, pw).unwrap_err();
    assert_eq!(replay, AuthError::Replay { nc: 1, last: 1 });
    assert_eq!(replay.status().as_u16(), 401);

    let c2 = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
    let _c3 = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
    let c4 = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
    assert_eq!(server.verify(T0 + 1, &register(), None, &c4, pw).unwrap().nc, Some(4));
    // Lower than the last accepted: replay, even though never seen before.
    assert_eq!(server.verify(T0 + 1, &register(), None, &c2, pw), Err(AuthError::Replay { nc: 2, last: 4 }));
    // A failed attempt does not burn the count for the legitimate client.
    let wrong = answer(&mut client, &ch, Secret::Password("nope"), &register());
    assert_eq!(wrong.nc, Some(5));
    assert_eq!(server.verify(T0 + 1, &register(), None, &wrong, pw), Err(AuthError::WrongResponse));
    let mut c5 = wrong.clone();
    c5.response = client_response_for(&ch, 5, &wrong).into();
    assert_eq!(server.verify(T0 + 1, &register(), None, &c5, pw).unwrap().nc, Some(5));
}

/// Recomputes a correct response for `creds`' nonce/cnonce at nonce-count `nc`.
fn client_response_for(ch: &Challenge<'_>, nc: u32, creds: &Credentials<'_>) -> String {
    sipcore::auth::request_digest(&sipcore::auth::DigestInput {
        algorithm: ch.effective_algorithm(),
        username: USER,
        realm: REALM,
        secret: Secret::Password(PASSWORD),
        nonce: &ch.nonce,
        cnonce: creds.cnonce.as_deref(),
        nc: Some(nc),
        qop: creds.qop,
        request: register(),
    })
    .unwrap()
}

#[test]
fn wrong_password_unknown_user_and_uri_mismatch() {
    let mut server = DigestServer::new(config());
    let mut client = DigestClient::new();
    let ch = wire_challenge(&server, T0, Algorithm::Sha256);
    let creds = answer(&mut client, &ch, Secret::Password("wrong"), &register());
    let err = server.verify(T0, &register(), None, &creds, Some(Secret::Password(PASSWORD))).unwrap_err();
    assert_eq!(err, AuthError::WrongResponse);
    assert_eq!(err.status().as_u16(), 403);

    let err = server.verify(T0, &register(), None, &creds, None).unwrap_err();
    assert_eq!((err.clone(), err.status().as_u16()), (AuthError::UnknownUser, 403));

    let good = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
    let other_uri = DigestRequest::new("REGISTER", "sip:other.example.com");
    let err = server.verify(T0, &other_uri, None, &good, Some(Secret::Password(PASSWORD))).unwrap_err();
    assert_eq!((err.clone(), err.status().as_u16()), (AuthError::UriMismatch, 400));

    // With the check off the digest-uri from the credentials is what counts.
    let mut lax = DigestServer::new(ServerConfig { check_uri: false, ..config() });
    let ch = wire_challenge(&lax, T0, Algorithm::Sha256);
    let good = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
    lax.verify(T0, &other_uri, None, &good, Some(Secret::Password(PASSWORD))).unwrap();
}

#[test]
fn realm_algorithm_and_param_policy() {
    let mut server = DigestServer::new(ServerConfig { algorithms: vec![Algorithm::Sha256], ..config() });
    let mut client = DigestClient::new();
    let pw = Some(Secret::Password(PASSWORD));
    let ch = wire_challenge(&server, T0, Algorithm::Sha256);
    let good = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());

    let mut c = good.clone();
    c.realm = "evil.com".into();
    let err = server.verify(T0, &register(), None, &c, pw).unwrap_err();
    assert_eq!((err.clone(), err.status().as_u16()), (AuthError::RealmMismatch("evil.com".into()), 401));

    let mut c = good.clone();
    c.algorithm = None; // MD5, not offered
    let err = server.verify(T0, &register(), None, &c, pw).unwrap_err();
    assert_eq!((err.clone(), err.status().as_u16()), (AuthError::UnsupportedAlgorithm("MD5".into()), 401));

    let mut c = good.clone();
    c.cnonce = None;
    assert_eq!(server.verify(T0, &register(), None, &c, pw), Err(AuthError::MissingParam("cnonce")));
    let mut c = good.clone();
    c.nc = None;
    let err = server.verify(T0, &register(), None, &c, pw).unwrap_err();
    assert_eq!((err.clone(), err.status().as_u16()), (AuthError::MissingParam("nc"), 400));

    let mut c = good.clone();
    c.qop = Some(Qop::AuthInt);
    assert_eq!(server.verify(T0, &register(), None, &c, pw), Err(AuthError::UnsupportedQop("auth-int".into())));

    let mut c = good.clone();
    c.qop = None;
    let err = server.verify(T0, &register(), None, &c, pw).unwrap_err();
    assert_eq!((err.clone(), err.status().as_u16()), (AuthError::QopRequired, 401));

    let err = server.verify(T0, &register(), None, &good, Some(Secret::Ha1("abcd"))).unwrap_err();
    assert_eq!((err.clone(), err.status().as_u16()), (AuthError::InvalidHa1, 500));

    server.verify(T0, &register(), None, &good, pw).unwrap();
}

#[test]
fn rfc2069_responses_only_when_allowed() {
    let mut cfg = config();
    cfg.qop = QopOptions::default();
    let mut strict = DigestServer::new(cfg.clone());
    let mut lax = DigestServer::new(ServerConfig { allow_no_qop: true, ..cfg });
    let mut client = DigestClient::new();
    let pw = Some(Secret::Password(PASSWORD));
    for server in [&mut strict, &mut lax] {
        let ch = wire_challenge(server, T0, Algorithm::Md5);
        assert!(!ch.to_string().contains("qop"));
        let creds = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
        assert_eq!((creds.qop, creds.nc, creds.cnonce.as_deref()), (None, None, None));
        let result = server.verify(T0, &register(), None, &creds, pw);
        if server.config().allow_no_qop {
            result.unwrap();
        } else {
            assert_eq!(result, Err(AuthError::QopRequired));
        }
    }
}

#[test]
fn userhash_with_stored_ha1() {
    let mut server = DigestServer::new(config());
    let mut client = DigestClient::new();
    let mut ch = wire_challenge(&server, T0, Algorithm::Sha256);
    ch.userhash = true;
    let creds = answer(&mut client, &ch, Secret::Password(PASSWORD), &register());
    assert!(creds.userhash);
    let hashed = Algorithm::Sha256.hash_hex(&[USER.as_bytes(), REALM.as_bytes()]);
    assert_eq!(creds.username, hashed);
    let stored = ha1(Algorithm::Sha256, USER, REALM, PASSWORD);
    let ok = server.verify(T0, &register(), None, &creds, Some(Secret::Ha1(&stored))).unwrap();
    assert_eq!(ok.username, hashed);
}

#[test]
fn status_mapping() {
    let cases = [
        (AuthError::Syntax { offset: 0, what: "x" }, 400),
        (AuthError::MissingParam("nonce"), 400),
        (AuthError::NotDigest { offset: 0 }, 401),
        (AuthError::BadNonce, 401),
        (AuthError::StaleNonce, 401),
        (AuthError::Replay { nc: 1, last: 1 }, 401),
        (AuthError::WrongResponse, 403),
        (AuthError::UnknownUser, 403),
    ];
    for (e, s) in cases {
        assert_eq!(e.status().as_u16(), s, "{e}");
        assert_eq!(e.proxy_status().as_u16(), if s == 401 { 407 } else { s });
        assert_eq!(e.is_stale(), e == AuthError::StaleNonce);
    }
}
