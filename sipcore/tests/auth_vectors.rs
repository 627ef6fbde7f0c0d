//! Published and cross-checked digest vectors.
//!
//! RFC 7616 §3.9.1 and RFC 2617 §3.5 values are from the RFCs. The
//! SHA-512-256, `-sess`, `auth-int` and no-qop values were computed
//! independently with Python's `hashlib` (OpenSSL) from the same inputs.
//! (RFC 7616 §3.9.2's SHA-512-256 example is not used: its printed
//! response does not match its own inputs.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sipcore::ToStatus;
use sipcore::auth::{Algorithm, Credentials, DigestInput, DigestRequest, DigestServer, Qop, Secret, ServerConfig, ha1, request_digest};

const USER: &str = "Mufasa";
const REALM: &str = "http-auth@example.org";
const PASSWORD: &str = "Circle of Life";
const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const URI: &str = "/dir/index.html";

fn rfc7616(algorithm: Algorithm, secret: Secret<'_>, qop: Option<Qop>, body: &[u8]) -> String {
    request_digest(&DigestInput {
        algorithm,
        username: USER,
        realm: REALM,
        secret,
        nonce: NONCE,
        cnonce: Some(CNONCE),
        nc: Some(1),
        qop,
        request: DigestRequest::new("GET", URI).with_body(body),
    })
    .unwrap()
}

#[test]
fn rfc7616_md5() {
    let r = rfc7616(Algorithm::Md5, Secret::Password(PASSWORD), Some(Qop::Auth), b"");
    assert_eq!(r, "8ca523f5e9506fed4657c9700eebdbec");
}

#[test]
fn rfc7616_sha256() {
    let r = rfc7616(Algorithm::Sha256, Secret::Password(PASSWORD), Some(Qop::Auth), b"");
    assert_eq!(r, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

#[test]
fn rfc7616_with_precomputed_ha1_matches_password() {
    for (alg, expected_ha1) in [
        (Algorithm::Md5, "3d78807defe7de2157e2b0b6573a855f"),
        (Algorithm::Sha256, "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"),
        (Algorithm::Sha512_256, "fb174f5c3c7802721517cae13b98e2b8dae2e0118cb705d94ee29946319204ce"),
    ] {
        let h = ha1(alg, USER, REALM, PASSWORD);
        assert_eq!(h, expected_ha1);
        assert_eq!(rfc7616(alg, Secret::Ha1(&h), Some(Qop::Auth), b""), rfc7616(alg, Secret::Password(PASSWORD), Some(Qop::Auth), b""));
        // Uppercase stored HA1 is folded, not rejected.
        assert_eq!(
            rfc7616(alg, Secret::Ha1(&h.to_uppercase()), Some(Qop::Auth), b""),
            rfc7616(alg, Secret::Password(PASSWORD), Some(Qop::Auth), b"")
        );
    }
}

#[test]
fn cross_checked_vectors() {
    let cases: &[(Algorithm, Option<Qop>, &[u8], &str)] = &[
        (Algorithm::Sha512_256, Some(Qop::Auth), b"", "430d05014cecc49cab6fbe03176d41a1da86cbfe24a16580e22aaad928d960d0"),
        (Algorithm::Sha512_256Sess, Some(Qop::Auth), b"", "3f2a34f923c38b0fb26dce2fdfc2ce326c23cecf86fbb1444f3e51fbbc2cb92e"),
        (Algorithm::Sha256Sess, Some(Qop::Auth), b"", "2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7"),
        (Algorithm::Md5Sess, Some(Qop::Auth), b"", "e783283f46242139c486a698fec7211d"),
        (Algorithm::Md5, Some(Qop::AuthInt), b"v=0\r\n", "d1b8e2ac3f6782372de4bf3d8735b406"),
        (Algorithm::Sha256, Some(Qop::AuthInt), b"v=0\r\n", "385d2de062660ced11876f42d9497c69cacf5caaf3d951dd424aee9f7157d563"),
        (Algorithm::Sha512_256, Some(Qop::AuthInt), b"v=0\r\n", "5e69357dfa951887c95e88aae45b1f7f834aeba94f85648b86d532e82afdb589"),
        (Algorithm::Md5, None, b"", "7b2cc3b30e75b4777ea31027084363fd"),
        (Algorithm::Sha256, None, b"", "a1306b0595a6c7fe96c448631fb5cfbd5107bd1fe1da729d978dd7446b812363"),
        (Algorithm::Sha512_256, None, b"", "93e9122020ea0624d2ca801426d5bfbeb93d10ff4cc24cb410af3920fa4730e7"),
    ];
    for &(alg, qop, body, expected) in cases {
        assert_eq!(rfc7616(alg, Secret::Password(PASSWORD), qop, body), expected, "{alg} {qop:?}");
    }
    // The -sess step also applies to a stored (non-session) HA1.
    let h = ha1(Algorithm::Sha512_256Sess, USER, REALM, PASSWORD);
    assert_eq!(
        rfc7616(Algorithm::Sha512_256Sess, Secret::Ha1(&h), Some(Qop::Auth), b""),
        "3f2a34f923c38b0fb26dce2fdfc2ce326c23cecf86fbb1444f3e51fbbc2cb92e"
    );
}

#[test]
fn rfc2617_example() {
    let r = request_digest(&DigestInput {
        algorithm: Algorithm::Md5,
        username: "Mufasa",
        realm: "testrealm@host.com",
        secret: Secret::Password("Circle Of Life"),
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        cnonce: Some("0a4f113b"),
        nc: Some(1),
        qop: Some(Qop::Auth),
        request: DigestRequest::new("GET", "/dir/index.html"),
    })
    .unwrap();
    assert_eq!(r, "6629fae49393a05397450978507c4ef1");
}

#[test]
fn rfc2617_authorization_header_parses() {
    let header = r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#
        .replace('\n', "");
    let c = Credentials::parse(&header).unwrap();
    assert_eq!(c.username, "Mufasa");
    assert_eq!(c.nc, Some(1));
    assert_eq!(c.qop, Some(Qop::Auth));
    assert_eq!(c.cnonce.as_deref(), Some("0a4f113b"));
    assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
    assert_eq!(c.opaque.as_deref(), Some("5ccc069c403ebaf9f0171e9517f40e41"));
}

#[test]
fn rfc7616_authorization_header_parses_and_recomputes() {
    let header = "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", \
        uri=\"/dir/index.html\", algorithm=SHA-256, \
        nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
        cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
        response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", \
        opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    let c = Credentials::parse(header).unwrap();
    assert_eq!(c.algorithm, Some(Algorithm::Sha256));
    let r = request_digest(&DigestInput {
        algorithm: c.effective_algorithm(),
        username: &c.username,
        realm: &c.realm,
        secret: Secret::Password(PASSWORD),
        nonce: &c.nonce,
        cnonce: c.cnonce.as_deref(),
        nc: c.nc,
        qop: c.qop,
        request: DigestRequest::new("GET", &c.uri),
    })
    .unwrap();
    assert_eq!(r, c.response);
}

#[test]
fn rfc7616_nonce_is_not_ours() {
    // A foreign nonce (the RFC's) must be rejected as forged, not crash.
    let mut server = DigestServer::new(ServerConfig::new(REALM, b"k".to_vec()));
    let c = Credentials::parse(
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
         algorithm=MD5, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
         cnonce=\"x\", qop=auth, response=\"8ca523f5e9506fed4657c9700eebdbec\"",
    )
    .unwrap();
    let req = DigestRequest::new("GET", URI);
    let err = server.verify(0, &req, None, &c, Some(Secret::Password(PASSWORD))).unwrap_err();
    assert_eq!(err, sipcore::auth::AuthError::BadNonce);
    assert_eq!(err.status().as_u16(), 401);
}

#[test]
fn algorithm_tokens() {
    for (tok, alg) in [
        ("MD5", Algorithm::Md5),
        ("md5-SESS", Algorithm::Md5Sess),
        ("SHA-256", Algorithm::Sha256),
        ("sha-256-sess", Algorithm::Sha256Sess),
        ("SHA-512-256", Algorithm::Sha512_256),
        ("SHA-512-256-sess", Algorithm::Sha512_256Sess),
    ] {
        assert_eq!(tok.parse::<Algorithm>().unwrap(), alg);
        assert!(alg.name().eq_ignore_ascii_case(tok));
    }
    assert!("SHA-512".parse::<Algorithm>().is_err());
}
