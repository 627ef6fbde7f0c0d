#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::*;
use crate::direction::Direction;

/// An SRTP offer with a second (video) stream, a T.38 stream and attributes nobody models.
const OFFER: &str = "v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 10.1.0.2\r\n\
s=-\r\n\
c=IN IP4 10.1.0.2\r\n\
t=0 0\r\n\
a=X-vendor-thing:42 ; odd  spacing\r\n\
m=audio 40000 RTP/SAVP 0 8 101\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r\n\
a=rtcp:40001 IN IP4 10.1.0.2\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=sendrecv\r\n\
m=video 40002 RTP/AVP 96\r\n\
a=rtpmap:96 H264/90000\r\n\
m=image 40004 udptl t38\r\n\
c=IN IP4 10.1.0.9\r\n\
a=T38FaxVersion:0\r\n";

fn relay() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))
}

#[test]
fn inspect_reads_origin_connection_and_media() {
    let info = inspect(OFFER.as_bytes()).unwrap();
    assert_eq!(info.origin_version, Some(2_890_844_526));
    assert_eq!(info.session_connection, Some(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 2))));
    assert_eq!(info.media.len(), 3);
    let audio = &info.media[0];
    assert_eq!((audio.kind.as_str(), audio.port, audio.proto.as_str()), ("audio", 40000, "RTP/SAVP"));
    assert_eq!(audio.payload_types, vec![0, 8, 101]);
    assert_eq!(audio.rtcp_port, Some(40001));
    assert!(!audio.rtcp_mux);
    assert_eq!(audio.connection, info.session_connection);
    assert_eq!(info.media[1].payload_types, vec![96]);
    let image = &info.media[2];
    assert_eq!((image.kind.as_str(), image.proto.as_str()), ("image", "udptl"));
    assert!(image.payload_types.is_empty(), "t38 is not a payload type");
    assert_eq!(image.connection, Some(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 9))), "media c= wins over session c=");
}

#[test]
fn rewrite_changes_only_c_m_rtcp_and_origin_and_keeps_crypto_and_unknown_attributes() {
    let rw = Rewrite { address: relay(), ports: vec![Some(30000), Some(30002), None], origin_version: 2_890_844_527 };
    let out = rewrite(OFFER.as_bytes(), &rw).unwrap();
    let expected = OFFER
        .replace("2890844526 2890844526", "2890844526 2890844527")
        .replace("c=IN IP4 10.1.0.2\r\n", "c=IN IP4 203.0.113.7\r\n")
        .replace("m=audio 40000", "m=audio 30000")
        .replace("a=rtcp:40001 IN IP4 10.1.0.2", "a=rtcp:30001 IN IP4 203.0.113.7")
        .replace("m=video 40002", "m=video 30002");
    assert_eq!(std::str::from_utf8(&out).unwrap(), expected);
    // What the far end reads back is what the switch meant.
    let info = inspect(&out).unwrap();
    assert_eq!(info.media[0].connection, Some(relay()));
    assert_eq!(info.media[2].port, 40004, "the untouched m-line keeps its port");
    assert_eq!(info.media[2].connection, Some(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 9))));
}

#[test]
fn lf_line_endings_and_missing_final_ending_are_preserved() {
    let body = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\na=ptime:20";
    let out = rewrite(body.as_bytes(), &Rewrite { address: relay(), ports: vec![Some(5000)], origin_version: 2 }).unwrap();
    assert_eq!(&out[..], b"v=0\no=- 1 2 IN IP4 10.0.0.1\ns=-\nc=IN IP4 203.0.113.7\nt=0 0\nm=audio 5000 RTP/AVP 0\na=ptime:20");
}

#[test]
fn trailing_blank_line_is_kept() {
    let body = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n\r\n";
    let out = rewrite(body.as_bytes(), &Rewrite { address: relay(), ports: vec![None], origin_version: 1 }).unwrap();
    assert!(out.ends_with(b"m=audio 4000 RTP/AVP 0\r\nc=IN IP4 10.0.0.1\r\n\r\n"), "{out:?}");
}

#[test]
fn ipv6_connection_is_read_and_written() {
    let body = "v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP6 2001:db8::1\r\n";
    let info = inspect(body.as_bytes()).unwrap();
    assert_eq!(info.media[0].connection, Some(IpAddr::V6("2001:db8::1".parse().unwrap())));
    let v6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x99));
    let out = rewrite(body.as_bytes(), &Rewrite { address: v6, ports: vec![Some(6000)], origin_version: 9 }).unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "v=0\r\no=- 1 9 IN IP6 2001:db8::1\r\ns=-\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\nc=IN IP6 2001:db8::99\r\n"
    );
    // An IPv4 relay address on an IPv6 body writes IP4.
    let out = rewrite(body.as_bytes(), &Rewrite { address: relay(), ports: vec![Some(6000)], origin_version: 9 }).unwrap();
    assert!(std::str::from_utf8(&out).unwrap().contains("c=IN IP4 203.0.113.7\r\n"));
}

#[test]
fn rtcp_mux_on_the_rtp_port_stays_on_the_rtp_port() {
    let body =
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:4000\r\na=rtcp-mux\r\n";
    let info = inspect(body.as_bytes()).unwrap();
    assert!(info.media[0].rtcp_mux);
    assert_eq!(info.media[0].rtcp_port, Some(4000));
    let out = rewrite(body.as_bytes(), &Rewrite { address: relay(), ports: vec![Some(7000)], origin_version: 2 }).unwrap();
    assert!(std::str::from_utf8(&out).unwrap().contains("a=rtcp:7000\r\na=rtcp-mux\r\n"));
}

#[test]
fn direction_and_setup_default_from_session_level() {
    let body = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\na=setup:actpass\r\n\
m=audio 4000 TCP/RTP/AVP 0\r\na=setup:active\r\nm=audio 4002 RTP/AVP 8\r\na=inactive\r\nm=audio 0 RTP/AVP 0\r\n";
    let info = inspect(body.as_bytes()).unwrap();
    assert_eq!(info.media[0].direction, Direction::SendOnly);
    assert_eq!(info.media[0].setup.as_deref(), Some("active"));
    assert_eq!(info.media[0].proto, "TCP/RTP/AVP");
    assert_eq!(info.media[1].direction, Direction::Inactive);
    assert_eq!(info.media[1].setup.as_deref(), Some("actpass"));
    assert_eq!(info.media[2].port, 0);
    let plain = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert_eq!(inspect(plain.as_bytes()).unwrap().media[0].direction, Direction::SendRecv);
}

#[test]
fn untouched_section_that_used_the_session_address_keeps_it() {
    let body = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 96\r\ni=cam\r\nb=AS:512\r\na=rtpmap:96 H264/90000\r\n";
    let out = rewrite(body.as_bytes(), &Rewrite { address: relay(), ports: vec![Some(5000), None], origin_version: 2 }).unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "v=0\r\no=- 1 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n\
m=audio 5000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 96\r\ni=cam\r\nc=IN IP4 10.0.0.1\r\nb=AS:512\r\na=rtpmap:96 H264/90000\r\n"
    );
    let info = inspect(&out).unwrap();
    assert_eq!(info.media[1].connection, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
}

#[test]
fn the_session_address_copied_into_an_untouched_section_loses_its_padding() {
    // A phone could pad the session c= and list many sections: each copy must stay one short line.
    let body = "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN    IP6        ff15::101/3\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 96\r\nm=video 4004 RTP/AVP 96";
    let out = rewrite(body.as_bytes(), &Rewrite { address: relay(), ports: vec![Some(5000), None, None], origin_version: 2 }).unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "v=0\r\no=- 1 2 IN IP6 ::1\r\ns=-\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n\
m=audio 5000 RTP/AVP 0\r\nm=video 4002 RTP/AVP 96\r\nc=IN IP6 ff15::101/3\r\nm=video 4004 RTP/AVP 96\r\nc=IN IP6 ff15::101/3"
    );
    let multicast = IpAddr::V6("ff15::101".parse().unwrap());
    assert_eq!(
        inspect(&out).unwrap().media.iter().map(|m| m.connection).collect::<Vec<_>>(),
        [Some(relay()), Some(multicast), Some(multicast)]
    );
}

#[test]
fn port_count_suffix_and_multicast_ttl_are_dropped_when_rewritten() {
    let body = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000/2 RTP/AVP 0\r\nc=IN IP4 224.2.1.1/127\r\n";
    let info = inspect(body.as_bytes()).unwrap();
    assert_eq!(info.media[0].port, 4000);
    let out = rewrite(body.as_bytes(), &Rewrite { address: relay(), ports: vec![Some(5000)], origin_version: 2 }).unwrap();
    assert!(std::str::from_utf8(&out).unwrap().ends_with("m=audio 5000 RTP/AVP 0\r\nc=IN IP4 203.0.113.7\r\n"));
}

#[test]
fn malformed_bodies_are_rejected_with_the_line() {
    let base = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let bad = [
        ("", 1),
        ("v=1\r\n", 1),
        ("s=-\r\nv=0\r\n", 1),
        ("v=0\r\nthis is not sdp\r\n", 2),
        ("v=0\r\nV=0\r\n", 2),
        ("v=0\r\no=- 1 x IN IP4 10.0.0.1\r\n", 2),
        ("v=0\r\no=- 1 1 IN IP4\r\n", 2),
        ("v=0\r\nc=IN IP4 example.com\r\n", 2),
        ("v=0\r\nc=IN IP4 2001:db8::1\r\n", 2),
        ("v=0\r\nc=IN IP6 10.0.0.1\r\n", 2),
        ("v=0\r\nc=ATM NSAP 47.0005\r\n", 2),
        ("v=0\r\nc=IN IP6 2001:db8::1/3YYYY\r\n", 2),
        ("v=0\r\nc=IN IP6 ff15::101/3/1\r\n", 2),
        ("v=0\r\nc=IN IP4 224.2.1.1/127/2/1\r\n", 2),
        ("v=0\r\nc=IN IP4 224.2.1.1/\r\n", 2),
        ("v=0\r\nm=audio 70000 RTP/AVP 0\r\n", 2),
        ("v=0\r\nm=audio 4000 RTP/AVP\r\n", 2),
        ("v=0\r\nm=audio 4000 RTP/AVP 200\r\n", 2),
        ("v=0\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:abc\r\n", 3),
        ("v=0\r\ns=a\rb\r\n", 2),
        ("v=0\r\ns=a\0b\r\n", 2),
        ("v=0\r\n\r\ns=-\r\n", 2),
        ("v=0\r\nm=audio 4000 RTP/AVP 0\r\no=- 1 1 IN IP4 10.0.0.1\r\n", 3),
        ("v=0\r\nc=IN IP4 10.0.0.1\r\nc=IN IP4 10.0.0.2\r\n", 3),
    ];
    for (body, line) in bad {
        match inspect(body.as_bytes()) {
            Err(SdpError::Line { line: l, .. }) => assert_eq!(l, line, "{body:?}"),
            other => panic!("{body:?} gave {other:?}"),
        }
        assert!(rewrite(body.as_bytes(), &Rewrite { address: relay(), ports: vec![], origin_version: 1 }).is_err());
    }
    assert!(inspect(base.as_bytes()).is_ok());
    let big = format!("{base}{}", "a=x-pad:0123456789abcdef\r\n".repeat(3000));
    assert!(matches!(inspect(big.as_bytes()), Err(SdpError::TooLarge(_))));
    assert_eq!(
        rewrite(base.as_bytes(), &Rewrite { address: relay(), ports: vec![None, None], origin_version: 1 }),
        Err(SdpError::PortCount { given: 2, found: 1 })
    );
    let no_c = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert_eq!(
        rewrite(no_c.as_bytes(), &Rewrite { address: relay(), ports: vec![Some(1)], origin_version: 1 }),
        Err(SdpError::NoConnection(1))
    );
    assert_eq!(sipcore::ToStatus::status(&SdpError::NoConnection(1)), 488);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = inspect(&body);
        let _ = rewrite(&body, &Rewrite { address: relay(), ports: vec![Some(1000)], origin_version: 3 });
    }

    #[test]
    fn mutated_offers_never_panic_and_rewrite_keeps_inspect_consistent(
        byte in any::<u8>(), at in 0..OFFER.len(), ports in proptest::collection::vec(proptest::option::of(any::<u16>()), 3)
    ) {
        let mut body = OFFER.as_bytes().to_vec();
        body[at] = byte;
        let rw = Rewrite { address: relay(), ports: ports.clone(), origin_version: 77 };
        if let (Ok(before), Ok(out)) = (inspect(&body), rewrite(&body, &rw)) {
            let after = inspect(&out).expect("a rewritten body is still SDP");
            prop_assert_eq!(after.media.len(), before.media.len());
            for ((m, b), p) in after.media.iter().zip(&before.media).zip(&ports) {
                match p {
                    Some(p) => { prop_assert_eq!(m.port, *p); prop_assert_eq!(m.connection, Some(relay())); }
                    None => { prop_assert_eq!(m.port, b.port); prop_assert_eq!(m.connection, b.connection); }
                }
            }
        }
    }
}
