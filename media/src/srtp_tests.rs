#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

/// The key and salt of webrtc-rs's (and pion's) SRTP test vectors.
const VECTOR_KEY: [u8; MASTER_LEN] = [
    0x0d, 0xcd, 0x21, 0x3e, 0x4c, 0xbc, 0xf2, 0x8f, 0x01, 0x7f, 0x69, 0x94, 0x40, 0x1e, 0x28, 0x89, // key
    0x62, 0x77, 0x60, 0x38, 0xc0, 0x6d, 0xc9, 0x41, 0x9f, 0x6d, 0xd9, 0x43, 0x3e, 0x7c, // salt
];

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn keys(local: u8, remote: u8) -> SrtpKeys {
    SrtpKeys {
        suite: SrtpSuite::AesCm128HmacSha1_80,
        local: MasterKey::new([local; MASTER_LEN]),
        remote: MasterKey::new([remote; MASTER_LEN]),
    }
}

/// Two ends of one call: A sends with key 1 and B checks with it, and the other way round.
fn pair() -> (SrtpSession, SrtpSession) {
    (SrtpSession::new(&keys(1, 2)).unwrap(), SrtpSession::new(&keys(2, 1)).unwrap())
}

#[test]
fn crypto_lines_as_phones_write_them() {
    let line = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20";
    let a = CryptoAttribute::parse(line).unwrap();
    assert_eq!((a.tag, a.suite), (1, SrtpSuite::AesCm128HmacSha1_80));
    assert_eq!(a.value(), "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "the lifetime is not repeated");
    assert_eq!(CryptoAttribute::parse(&a.value()), Some(a.clone()));
    let short = CryptoAttribute::parse("2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR WSH=64").unwrap();
    assert_eq!((short.tag, short.suite, short.key), (2, SrtpSuite::AesCm128HmacSha1_32, a.key.clone()));
    assert_eq!(format!("{:?}", a.key), "MasterKey(..)", "no key material in logs");
}

#[test]
fn crypto_lines_the_agent_cannot_honour_are_refused() {
    let key = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
    for bad in [
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^20|1:32"), // MKI (RFC 4568's own example)
        format!("1 AES_256_CM_HMAC_SHA1_80 inline:{key}"),
        format!("1 F8_128_HMAC_SHA1_80 inline:{key}"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key};inline:{key}"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key} UNENCRYPTED_SRTCP"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key} KDR=24"),
        format!("0 AES_CM_128_HMAC_SHA1_80 inline:{key}"),
        format!("x AES_CM_128_HMAC_SHA1_80 inline:{key}"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{}", &key[..36]),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key}AAAA"),
        format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^x"),
        format!("1 AES_CM_128_HMAC_SHA1_80 {key}"),
        "1 AES_CM_128_HMAC_SHA1_80".to_owned(),
        String::new(),
    ] {
        assert_eq!(CryptoAttribute::parse(&bad), None, "{bad}");
    }
}

#[test]
fn the_keystream_matches_the_reference_vector() {
    // webrtc-rs/pion: sequence 5000, SSRC 0, payload 00..05 encrypts to 6d d3 7e d5 99 b7.
    let keys = SrtpKeys { suite: SrtpSuite::AesCm128HmacSha1_80, local: MasterKey::new(VECTOR_KEY), remote: MasterKey::new(VECTOR_KEY) };
    let mut s = SrtpSession::new(&keys).unwrap();
    let plain = rtp(5000, 0, &[0, 1, 2, 3, 4, 5]);
    let protected = s.protect_rtp(&plain).unwrap();
    assert_eq!(&protected[..12], &plain[..12], "the header stays in the clear");
    assert_eq!(&protected[12..18], &[0x6d, 0xd3, 0x7e, 0xd5, 0x99, 0xb7]);
    assert_eq!(protected.len(), plain.len() + 10);
    assert_eq!(s.unprotect_rtp(&protected).as_deref(), Some(&plain[..]));
}

#[test]
fn rtp_crosses_both_ways_and_tampering_replay_or_a_wrong_key_is_refused() {
    let (mut a, mut b) = pair();
    let frame = [0xd5u8; 160];
    for seq in 65_530..=65_535u16 {
        let sent = rtp(seq, 0xa, &frame);
        let wire = a.protect_rtp(&sent).unwrap();
        assert!(!wire.windows(16).any(|w| w == &frame[..16]), "no plaintext on the wire");
        assert_eq!(b.unprotect_rtp(&wire).as_deref(), Some(&sent[..]), "seq {seq}");
        let back = rtp(seq, 0xb, &frame);
        assert_eq!(a.unprotect_rtp(&b.protect_rtp(&back).unwrap()).as_deref(), Some(&back[..]));
    }
    // Across the sequence wrap (the rollover counter moves on).
    let wrapped = rtp(0, 0xa, &frame);
    let wire = a.protect_rtp(&wrapped).unwrap();
    assert_eq!(b.unprotect_rtp(&wire).as_deref(), Some(&wrapped[..]));
    assert_eq!(b.unprotect_rtp(&wire), None, "a replay");
    let mut tampered = a.protect_rtp(&rtp(1, 0xa, &frame)).unwrap().to_vec();
    tampered[20] ^= 1;
    assert_eq!(b.unprotect_rtp(&tampered), None, "a flipped payload bit");
    let (mut eve, _) = pair();
    let forged = SrtpSession::new(&keys(9, 9)).unwrap().protect_rtp(&rtp(2, 0xa, &frame)).unwrap();
    assert_eq!(b.unprotect_rtp(&forged), None, "another key");
    assert_eq!(eve.unprotect_rtp(&forged), None);
    // B's own packets are not ours to accept (B's key is not A's).
    let own = b.protect_rtp(&rtp(3, 0xb, &frame)).unwrap();
    assert_eq!(b.unprotect_rtp(&own), None);
}

#[test]
fn srtcp_crosses_and_an_unflagged_or_short_one_is_refused() {
    let (mut a, mut b) = pair();
    let report = [0x80, 201, 0, 1, 0, 0, 0, 0xa];
    let wire = a.protect_rtcp(&report).unwrap();
    assert_eq!(wire.len(), report.len() + SRTCP_TRAILER);
    assert_eq!(b.unprotect_rtcp(&wire).as_deref(), Some(&report[..]));
    assert_eq!(b.unprotect_rtcp(&wire), None, "a replay");
    // webrtc-srtp would hand back an SRTCP packet with the E flag clear unauthenticated.
    let mut unflagged = a.protect_rtcp(&report).unwrap().to_vec();
    unflagged[report.len()] &= 0x7f;
    assert_eq!(b.unprotect_rtcp(&unflagged), None);
    for n in 0..wire.len() {
        assert_eq!(b.unprotect_rtcp(&wire[..n]), None, "truncated to {n}");
    }
    assert_eq!(a.protect_rtcp(&report[..7]), None);
}

#[test]
fn hostile_packets_never_panic_and_never_grow_state() {
    let (mut a, mut b) = pair();
    // A header extension running past the packet (the `rtp` crate's parser panics on this one).
    let overrun = [0x90, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xbe, 0xde, 0, 1, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(b.unprotect_rtp(&overrun), None);
    assert_eq!(b.unprotect_rtp(&overrun[..15]), None);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..2000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 64) as usize;
        let mut junk: Vec<u8> = (0..len).map(|k| (x >> (k % 8 * 8)) as u8 ^ k as u8).collect();
        if let Some(first) = junk.first_mut() {
            *first = (*first & 0x3f) | 0x80;
        }
        if junk.len() > 11 {
            junk[8..12].copy_from_slice(&i.to_be_bytes());
        }
        assert_eq!(b.unprotect_rtp(&junk), None);
        assert_eq!(b.unprotect_rtcp(&junk), None);
    }
    assert!(b.inbound.is_empty(), "2000 forged SSRCs left no state");
    // Authenticated streams are kept, a few at most.
    for ssrc in 1..=6u32 {
        let sent = rtp(1, ssrc, &[1, 2, 3]);
        assert!(b.unprotect_rtp(&a.protect_rtp(&sent).unwrap()).is_some());
    }
    assert_eq!(b.inbound.len(), MAX_REMOTE_STREAMS);
    assert_eq!(b.inbound.first().map(|(s, _)| *s), Some(6));
}
