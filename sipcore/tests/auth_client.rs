//! Client side: challenge selection, nonce counting, cnonce handling.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sipcore::auth::{Algorithm, AuthError, Challenge, DigestClient, DigestRequest, Qop, Secret, parse_challenge};

/// The RFC 7616 §3.9.1 challenges, as a server sends them: SHA-256 first.
const RFC7616_CHALLENGES: [&str; 2] = [
    r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
    r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
];

fn rfc_challenges() -> Vec<Challenge<'static>> {
    RFC7616_CHALLENGES.iter().map(|s| parse_challenge(s).unwrap()).collect()
}

fn rfc_client() -> DigestClient {
    DigestClient::new().with_cnonce_source(|| "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ".to_owned())
}

#[test]
fn reproduces_rfc7616_authorization() {
    let req = DigestRequest::new("GET", "/dir/index.html");
    let creds = rfc_client().respond(&rfc_challenges(), "Mufasa", Secret::Password("Circle of Life"), &req).unwrap();
    assert_eq!(
        creds.to_string(),
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", \
         nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", uri=\"/dir/index.html\", \
         response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", \
         algorithm=SHA-256, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", \
         opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\", qop=auth, nc=00000001"
    );

    let md5_only = rfc_client().with_algorithms(&[Algorithm::Md5]);
    let mut md5_only = md5_only;
    let creds = md5_only.respond(&rfc_challenges(), "Mufasa", Secret::Password("Circle of Life"), &req).unwrap();
    assert_eq!(creds.response, "8ca523f5e9506fed4657c9700eebdbec");
    assert_eq!(creds.algorithm, Some(Algorithm::Md5));
}

#[test]
fn picks_strongest_supported_regardless_of_order() {
    let mk = |alg: &str| parse_challenge(&format!("Digest realm=r, nonce=n, qop=\"auth\", algorithm={alg}")).unwrap().into_owned();
    let challenges = vec![mk("MD5"), mk("SHA-512-256-sess"), mk("SHA-256"), mk("SHA-512-256")];
    let client = DigestClient::new();
    // Equal strength: the server's order breaks the tie.
    assert_eq!(client.select(&challenges).unwrap().algorithm, Some(Algorithm::Sha512_256Sess));
    let client = DigestClient::new().with_algorithms(&[Algorithm::Md5, Algorithm::Sha256]);
    assert_eq!(client.select(&challenges).unwrap().algorithm, Some(Algorithm::Sha256));
    let mut client = DigestClient::new().with_algorithms(&[Algorithm::Md5Sess]);
    assert!(client.select(&challenges).is_none());
    assert_eq!(
        client.respond(&challenges, "u", Secret::Password("p"), &DigestRequest::new("REGISTER", "sip:r")),
        Err(AuthError::NoSupportedChallenge)
    );
    assert!(matches!(
        client.authorize(&challenges[0], "u", Secret::Password("p"), &DigestRequest::new("REGISTER", "sip:r")),
        Err(AuthError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn nc_counts_per_nonce_and_cnonce_is_kept_per_nonce() {
    let mut n = 0;
    let mut client = DigestClient::new().with_cnonce_source(move || {
        n += 1;
        format!("cn{n}")
    });
    let a = parse_challenge(r#"Digest realm="r", nonce="A", qop="auth""#).unwrap();
    let b = parse_challenge(r#"Digest realm="r", nonce="B", qop="auth""#).unwrap();
    let other = parse_challenge(r#"Digest realm="other", nonce="A", qop="auth""#).unwrap();
    let req = DigestRequest::new("REGISTER", "sip:r");
    let pw = Secret::Password("p");
    let mut go = |c: &Challenge<'_>| {
        let cr = client.authorize(c, "u", pw, &req).unwrap();
        (cr.nc.unwrap(), cr.cnonce.unwrap().into_owned())
    };
    assert_eq!(go(&a), (1, "cn1".into()));
    assert_eq!(go(&a), (2, "cn1".into()));
    assert_eq!(go(&other), (1, "cn2".into()));
    assert_eq!(go(&a), (3, "cn1".into()));
    assert_eq!(go(&b), (1, "cn3".into()));
    assert_eq!(go(&b), (2, "cn3".into()));
}

#[test]
fn qop_choice_and_rfc2069() {
    let req = DigestRequest::new("INVITE", "sip:bob@b").with_body(b"sdp");
    let both = parse_challenge(r#"Digest realm="r", nonce="n", qop="auth,auth-int""#).unwrap();
    let int_only = parse_challenge(r#"Digest realm="r", nonce="n2", qop="auth-int""#).unwrap();
    let none = parse_challenge(r#"Digest realm="r", nonce="n3""#).unwrap();
    let pw = Secret::Password("p");
    let mut c = DigestClient::new();
    assert_eq!(c.authorize(&both, "u", pw, &req).unwrap().qop, Some(Qop::Auth));
    assert_eq!(c.authorize(&int_only, "u", pw, &req).unwrap().qop, Some(Qop::AuthInt));
    let old = c.authorize(&none, "u", pw, &req).unwrap();
    assert_eq!((old.qop, old.nc, old.cnonce), (None, None, None));
    assert_eq!(old.algorithm, None, "algorithm echoed only if the server sent it");
    let mut c = DigestClient::new().prefer_auth_int(true);
    assert_eq!(c.authorize(&both, "u", pw, &req).unwrap().qop, Some(Qop::AuthInt));

    // MD5-sess without qop still needs and sends a cnonce.
    let sess = parse_challenge(r#"Digest realm="r", nonce="n4", algorithm=MD5-sess"#).unwrap();
    let cr = c.authorize(&sess, "u", pw, &req).unwrap();
    assert!(cr.cnonce.is_some() && cr.nc.is_none());
}

#[test]
fn client_with_wrong_length_ha1_fails_cleanly() {
    let ch = parse_challenge(r#"Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256"#).unwrap();
    let md5_ha1 = "3d78807defe7de2157e2b0b6573a855f";
    let err = DigestClient::new().authorize(&ch, "u", Secret::Ha1(md5_ha1), &DigestRequest::new("REGISTER", "sip:r")).unwrap_err();
    assert_eq!(err, AuthError::InvalidHa1);
    assert_eq!(format!("{:?}", Secret::Password("hunter2")), "Password(..)");
}
