use super::*;
use sipcore::ToStatus;

fn local(transport: BearerTransport) -> LocalMedia {
    LocalMedia {
        address: "10.1.0.2".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
        port: 40000,
        transport,
        session_id: 42,
        version: 7,
        srtp: None,
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// What SIPp's stock uac scenario sends (with its [media_ip] etc. filled in).
const SIPP_OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// Shaped like baresip's offer: several codecs, dynamic PTs, rtcp-mux, media-level c=, a video line.
const BARESIP_OFFER: &str = "v=0\r\no=- 1516985283 3127386386 IN IP4 192.168.1.20\r\ns=-\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\n\
m=audio 10086 RTP/AVP 96 9 8 0 101\r\nc=IN IP4 192.168.1.21\r\nb=AS:96\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 stereo=1;sprop-stereo=1\r\n\
a=rtpmap:9 G722/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n\
a=rtcp-mux\r\na=ssrc:3021934245 cname:b3a5e5b7-1a9b\r\na=sendrecv\r\na=label:1\r\na=x-unknown-thing:yes\r\n\
m=video 10088 RTP/AVP 100\r\na=rtpmap:100 H264/90000\r\n";

#[test]
fn offer_has_our_codecs_and_parses_back() -> Result<(), EndpointError> {
    let text = build_offer(&local(BearerTransport::Udp));
    for line in [
        "o=- 42 7 IN IP4 10.1.0.2",
        "c=IN IP4 10.1.0.2",
        "m=audio 40000 RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
    ] {
        assert!(text.contains(&format!("{line}\r\n")), "missing {line:?} in\n{text}");
    }
    assert!(!text.contains("setup"));
    // Our own offer read as an answer gives back what we offered.
    let n = negotiated(&text, None)?;
    assert_eq!(
        n,
        Negotiated {
            remote: addr("10.1.0.2:40000"),
            codec: Codec::Pcmu,
            dtmf_pt: Some(101),
            transport: BearerTransport::Udp,
            direction: Direction::SendRecv,
            srtp: None,
        }
    );
    Ok(())
}

#[test]
fn tcp_offer_is_rfc4571_active_new() -> Result<(), EndpointError> {
    let text = build_offer(&local(BearerTransport::Tcp));
    assert!(text.contains("m=audio 40000 TCP/RTP/AVP 0 8 101\r\n"), "{text}");
    assert!(text.contains("a=setup:active\r\n"));
    assert!(text.contains("a=connection:new\r\n"));
    assert_eq!(negotiated(&text, None)?.transport, BearerTransport::Tcp);
    Ok(())
}

#[test]
fn answers_sipp_offer_with_pcmu_and_no_dtmf() -> Result<(), EndpointError> {
    let (text, n) = answer(SIPP_OFFER, &local(BearerTransport::Udp))?;
    assert_eq!(n.remote, addr("127.0.0.1:6000"));
    assert_eq!((n.codec, n.dtmf_pt, n.direction), (Codec::Pcmu, None, Direction::SendRecv));
    assert!(text.contains("m=audio 40000 RTP/AVP 0\r\n"), "{text}");
    assert!(!text.contains("telephone-event"));
    assert_eq!(negotiated(&text, None)?.codec, Codec::Pcmu);
    Ok(())
}

#[test]
fn answers_baresip_offer_in_its_codec_order() -> Result<(), EndpointError> {
    let (text, n) = answer(BARESIP_OFFER, &local(BearerTransport::Udp))?;
    // opus and G722 are skipped; PCMA comes before PCMU in the offer.
    assert_eq!(n.codec, Codec::Pcma);
    assert_eq!(n.dtmf_pt, Some(101));
    // The media-level c= wins over the session-level one.
    assert_eq!(n.remote, addr("192.168.1.21:10086"));
    assert!(text.contains("m=audio 40000 RTP/AVP 8 101\r\n"), "{text}");
    // The video stream is refused, in place.
    assert!(text.ends_with("m=video 0 RTP/AVP 100\r\n"), "{text}");
    Ok(())
}

#[test]
fn hold_offers_are_mirrored() -> Result<(), EndpointError> {
    for (offered, answered) in [("sendonly", "recvonly"), ("inactive", "inactive"), ("recvonly", "sendonly"), ("sendrecv", "sendrecv")] {
        let offer = format!("{SIPP_OFFER}a={offered}\r\n");
        let (text, n) = answer(&offer, &local(BearerTransport::Udp))?;
        assert!(text.contains(&format!("a={answered}\r\n")), "{offered}: {text}");
        assert_eq!(mirror(n.direction), negotiated(&text, None)?.direction);
    }
    // Session-level direction applies when the section has none.
    let offer = SIPP_OFFER.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
    assert_eq!(answer(&offer, &local(BearerTransport::Udp))?.1.direction, Direction::SendOnly);
    // RFC 2543 hold: c=0.0.0.0.
    let offer = SIPP_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
    assert_eq!(answer(&offer, &local(BearerTransport::Udp))?.1.direction, Direction::Inactive);
    Ok(())
}

#[test]
fn answer_with_sendonly_means_we_are_held() -> Result<(), EndpointError> {
    let ans = "v=0\r\no=switch 1 2 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n\
m=audio 20000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n";
    let n = negotiated(ans, None)?;
    assert_eq!(n.direction, Direction::SendOnly);
    assert_eq!((n.codec, n.dtmf_pt, n.remote), (Codec::Pcma, Some(101), addr("203.0.113.5:20000")));
    Ok(())
}

#[test]
fn no_common_codec_is_488() {
    let offer = BARESIP_OFFER.replace("96 9 8 0 101", "96 9 101");
    let e = answer(&offer, &local(BearerTransport::Udp)).err();
    assert!(matches!(e, Some(EndpointError::NoCommonCodec)), "{e:?}");
    assert_eq!(e.map(|e| e.status().as_u16()), Some(488));
    // A rejected stream in an answer.
    let rejected = SIPP_OFFER.replace("m=audio 6000", "m=audio 0");
    assert!(matches!(negotiated(&rejected, None), Err(EndpointError::NoCommonCodec)));
    // SRTP when we have no key, garbage, oversized: 488-class SDP errors, never panics.
    let srtp = SIPP_OFFER.replace("RTP/AVP", "RTP/SAVP") + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + LINPHONE_KEY + "\r\n";
    for bad in [srtp.as_str(), "", "hello", "v=0\r\nm=audio x y z\r\n", &"a".repeat(MAX_SDP_BYTES + 1)] {
        let e = answer(bad, &local(BearerTransport::Udp)).err();
        assert_eq!(e.map(|e| e.status().as_u16()), Some(488), "{bad:.40}");
    }
}

#[test]
fn tcp_offer_from_switch_is_answered_active() -> Result<(), EndpointError> {
    let offer = "v=0\r\no=switch 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\n\
m=audio 20000 TCP/RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=setup:passive\r\na=connection:new\r\n";
    let (text, n) = answer(offer, &local(BearerTransport::Udp))?;
    assert_eq!((n.transport, n.remote), (BearerTransport::Tcp, addr("203.0.113.5:20000")));
    assert!(text.contains("m=audio 40000 TCP/RTP/AVP 0 101\r\n") && text.contains("a=setup:active\r\n"), "{text}");
    // Through the switch the offer's a=setup is the far caller's (active, like us):
    // the relay listens regardless, so we still connect.
    let active = offer.replace("setup:passive", "setup:active");
    let (text, n) = answer(&active, &local(BearerTransport::Udp))?;
    assert_eq!(n.transport, BearerTransport::Tcp);
    assert!(text.contains("a=setup:active\r\n"));
    Ok(())
}

#[test]
fn ipv6_offer_round_trips() -> Result<(), EndpointError> {
    let v6 = LocalMedia { address: "2001:db8::7".parse().unwrap_or(IpAddr::from([0u16; 8])), ..local(BearerTransport::Udp) };
    let text = build_offer(&v6);
    assert!(text.contains("c=IN IP6 2001:db8::7\r\n"), "{text}");
    assert_eq!(negotiated(&text, None)?.remote, addr("[2001:db8::7]:40000"));
    Ok(())
}

/// Mutated offers (bytes replaced by SDP-ish characters, lines dropped or
/// repeated) give answers or errors, never a panic.
#[test]
fn mutated_offers_never_panic() {
    const ALPHABET: &[u8] = b"0123456789 =:/-.aAmcvostIPN\r\n";
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let (mut ok, mut err) = (0, 0);
    for _ in 0..3000 {
        let mut lines: Vec<String> = BARESIP_OFFER.split("\r\n").map(str::to_owned).collect();
        for _ in 0..1 + next(3) {
            let i = next(lines.len());
            match next(3) {
                0 => {
                    lines.remove(i);
                }
                1 => {
                    let l = lines.get(i).cloned().unwrap_or_default();
                    lines.insert(i, l);
                }
                _ => {
                    if let Some(l) = lines.get_mut(i).filter(|l| !l.is_empty()) {
                        let mut b = l.clone().into_bytes();
                        let at = next(b.len());
                        if let Some(c) = b.get_mut(at) {
                            *c = ALPHABET.get(next(ALPHABET.len())).copied().unwrap_or(b'0');
                        }
                        *l = String::from_utf8_lossy(&b).into_owned();
                    }
                }
            }
        }
        match answer(&lines.join("\r\n"), &local(BearerTransport::Udp)) {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
    }
    // Both outcomes happen: the mutations are neither all fatal nor all harmless.
    assert!(ok > 100 && err > 100, "{ok} ok, {err} errors");
}

const LINPHONE_KEY: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

fn key(b: u8) -> MasterKey {
    MasterKey::new([b; crate::srtp::MASTER_LEN])
}

fn with_key(transport: BearerTransport, b: u8) -> LocalMedia {
    LocalMedia { srtp: Some(key(b)), ..local(transport) }
}

/// Shaped like Linphone's SRTP offer (RTP/SAVP, several crypto lines, the 32-bit tag first).
const SAVP_OFFER: &str = "v=0\r\no=linphone 1 2 IN IP4 192.168.1.20\r\ns=-\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\n\
m=audio 7078 RTP/SAVP 96 8 0 101\r\na=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n\
a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:QdCxtmRCwc/8Vq1AMtFGUO5L8Uxu1q5rO9Uw3TdZ/sXgGA5IxmQYTffcC/RBkw==\r\n\
a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^31\r\n\
a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n";

#[test]
fn an_srtp_offer_is_savp_with_one_crypto_line_and_reads_back() -> Result<(), EndpointError> {
    let text = build_offer(&with_key(BearerTransport::Udp, 7));
    assert!(text.contains("m=audio 40000 RTP/SAVP 0 8 101\r\n"), "{text}");
    let line = format!("a=crypto:{}\r\n", CryptoAttribute { tag: 1, suite: SrtpSuite::AesCm128HmacSha1_80, key: key(7) }.value());
    assert!(text.contains(&line), "{text}");
    assert_eq!(text.matches("a=crypto:").count(), 1);
    let n = negotiated(&text, Some(&key(7)))?;
    assert_eq!(n.srtp, Some(SrtpKeys { suite: SrtpSuite::AesCm128HmacSha1_80, local: key(7), remote: key(7) }));
    // TCP: RFC 4571 framing of SRTP.
    let tcp = build_offer(&with_key(BearerTransport::Tcp, 7));
    assert!(tcp.contains("m=audio 40000 TCP/RTP/SAVP 0 8 101\r\n") && tcp.contains("a=setup:active\r\n"), "{tcp}");
    assert_eq!(negotiated(&tcp, Some(&key(7)))?.transport, BearerTransport::Tcp);
    // Without a key, plain as before.
    assert!(!build_offer(&local(BearerTransport::Udp)).contains("crypto"));
    Ok(())
}

#[test]
fn a_savp_offer_is_answered_with_its_first_usable_line_and_our_key() -> Result<(), EndpointError> {
    let (text, n) = answer(SAVP_OFFER, &with_key(BearerTransport::Udp, 9))?;
    // The AES-256 line is skipped; the 32-bit-tag line comes first among the rest.
    assert!(text.contains("m=audio 40000 RTP/SAVP 8 101\r\n"), "{text}");
    let ours = CryptoAttribute { tag: 2, suite: SrtpSuite::AesCm128HmacSha1_32, key: key(9) };
    assert!(text.contains(&format!("a=crypto:{}\r\n", ours.value())), "same tag and suite, our key: {text}");
    assert_eq!(text.matches("a=crypto:").count(), 1);
    let theirs = CryptoAttribute::parse(&format!("2 AES_CM_128_HMAC_SHA1_32 inline:{LINPHONE_KEY}")).map(|c| c.key);
    assert_eq!(n.srtp, Some(SrtpKeys { suite: SrtpSuite::AesCm128HmacSha1_32, local: key(9), remote: theirs.unwrap_or(key(0)) }));
    assert_eq!((n.codec, n.remote), (Codec::Pcma, addr("192.168.1.20:7078")));
    Ok(())
}

#[test]
fn srtp_we_cannot_do_is_refused_and_plain_offers_stay_plain() -> Result<(), EndpointError> {
    // No key of ours, or no line we can honour: 488.
    let only_mki = SAVP_OFFER.replace("|2^31", "|2^31|1:4").replace("a=crypto:3 AES_CM_128_HMAC_SHA1_80", "a=crypto:3 F8_128_HMAC_SHA1_80");
    for (offer, local) in [(SAVP_OFFER, local(BearerTransport::Udp)), (only_mki.as_str(), with_key(BearerTransport::Udp, 9))] {
        let e = answer(offer, &local).err();
        assert!(matches!(&e, Some(EndpointError::Sdp(why)) if why.contains("SRTP")), "{e:?}");
        assert_eq!(e.map(|e| e.status().as_u16()), Some(488));
    }
    // RTP/AVP with crypto lines (best-effort SDES) is answered in plain RTP, keys ignored.
    let best_effort = SAVP_OFFER.replace("RTP/SAVP", "RTP/AVP");
    let (text, n) = answer(&best_effort, &with_key(BearerTransport::Udp, 9))?;
    assert!(text.contains("m=audio 40000 RTP/AVP 8 101\r\n") && !text.contains("crypto"), "{text}");
    assert_eq!(n.srtp, None);
    // A plain stream after a SAVP one we cannot take is chosen instead.
    let two = format!(
        "{}m=audio 7080 RTP/AVP 0\r\n",
        SAVP_OFFER
            .replace("a=crypto:2 AES_CM_128_HMAC_SHA1_32", "a=crypto:2 F8_128_HMAC_SHA1_80")
            .replace("a=crypto:3 AES_CM_128_HMAC_SHA1_80", "a=crypto:3 F8_128_HMAC_SHA1_80")
    );
    let (text, n) = answer(&two, &with_key(BearerTransport::Udp, 9))?;
    assert!(text.contains("m=audio 0 RTP/SAVP 96 8 0 101\r\nm=audio 40000 RTP/AVP 0\r\n"), "{text}");
    assert_eq!((n.remote.port(), n.srtp), (7080, None));
    Ok(())
}

#[test]
fn answers_to_our_srtp_offer_are_read_strictly() -> Result<(), EndpointError> {
    let offer = build_offer(&with_key(BearerTransport::Udp, 7));
    let relay = with_key(BearerTransport::Udp, 8);
    let (ans, _) = answer(&offer, &relay)?;
    assert_eq!(negotiated(&ans, Some(&key(7)))?.srtp, Some(SrtpKeys { suite: OFFER_SUITE, local: key(7), remote: key(8) }));
    // A plain answer to our SRTP offer (a peer that ignores SAVP) reads as plain: the caller's policy decides.
    let plain = ans.replace("RTP/SAVP", "RTP/AVP").lines().filter(|l| !l.starts_with("a=crypto")).collect::<Vec<_>>().join("\r\n");
    assert_eq!(negotiated(&plain, Some(&key(7)))?.srtp, None);
    // SAVP without the matching line, or SAVP to a plain offer: errors (488-class).
    let wrong_tag = ans.replace("a=crypto:1 ", "a=crypto:2 ");
    let wrong_suite = ans.replace("_SHA1_80", "_SHA1_32");
    for (bad, offered) in [(wrong_tag.as_str(), Some(key(7))), (wrong_suite.as_str(), Some(key(7))), (ans.as_str(), None)] {
        let e = negotiated(bad, offered.as_ref()).err();
        assert_eq!(e.map(|e| e.status().as_u16()), Some(488), "{bad}");
    }
    Ok(())
}
