//! Offer, answer, ACK, BYE, records, media timeout, refusals (503, 488).

use super::*;
#[test]
fn the_offer_reaches_the_callee_rewritten_to_the_relay() {
    let mut lab = Lab::new();
    let out = lab.offer();
    let (_, inv) = lab.callee_invite.clone().unwrap();
    assert_eq!(&*inv.uri, "sip:1002@10.1.0.2:5999;transport=tcp;ob", "Request-URI = the registered Contact");
    let sdp = body(&inv.body);
    assert!(sdp.contains("c=IN IP4 192.0.2.1\r\n") && sdp.contains("m=audio 20002 RTP/AVP 0 101\r\n"), "{sdp}");
    assert!(sdp.contains("a=rtpmap:101 telephone-event/8000\r\n"), "other lines pass through");
    assert!(sdp.contains("o=alice 100 7 IN IP4"), "first SDP on the leg keeps the sender's version: {sdp}");
    assert_ne!(inv.headers.call_id().unwrap(), "call-a@10.0.0.5", "an independent dialog");
    assert_eq!(inv.headers.cseq().unwrap().seq, 1);
    assert_eq!(inv.headers.get(&HeaderName::Contact), Some("<sip:switch@192.0.2.1:5060;transport=tcp>"));
    assert_eq!(inv.headers.max_forwards().unwrap(), Some(69));
    let caller_leg = out.iter().find_map(|o| match o {
        CallAction::Output(Output::Media(MediaCommand::Update { media: MediaId(77), side: Side::Caller, target })) => Some(*target),
        _ => None,
    });
    assert_eq!(
        caller_leg,
        Some(LegMedia { send_to: Some("10.0.0.5:4000".parse().unwrap()), latch_ip: Some("203.0.113.5".parse().unwrap()), tcp: false }),
        "caller leg: its SDP address, latched to its observed IP"
    );
}

#[test]
fn ringing_answer_ack_and_bye_from_the_caller() {
    let mut lab = Lab::new();
    lab.offer();
    lab.now += Duration::from_millis(300);
    let out = lab.callee_says(180, None);
    let ringing = responses(&out);
    assert_eq!(ringing.len(), 1);
    assert_eq!(ringing[0].status, 180);
    let caller_tag = ringing[0].headers.to_addr().unwrap().tag().unwrap().to_owned();
    assert!(matches!(&out[0], CallAction::Output(Output::Cdr(r)) if r.ringing_at == Some(lab.t0 + Duration::from_millis(300))));
    lab.now += Duration::from_secs(2);
    let out = lab.callee_says(200, Some(CALLEE_SDP));
    let acks = requests(&out, Method::Ack);
    assert_eq!(acks.len(), 1, "the callee's 2xx is ACKed on its leg");
    assert_eq!(acks[0].headers.cseq().unwrap().seq, 1);
    assert!(acks[0].headers.get(&HeaderName::To).unwrap().contains("tag=bob1"));
    assert_eq!(&*acks[0].uri, "sip:bob@10.1.0.2:5999;transport=tcp", "ACK to the callee's Contact");
    assert!(out.iter().any(|o| matches!(o, CallAction::Output(Output::Media(MediaCommand::ArmTimeout { media: MediaId(77) })))));
    assert!(
        out.iter().any(
            |o| matches!(o, CallAction::Output(Output::Media(MediaCommand::Update { media: MediaId(77), side: Side::Callee, target }))
        if target.send_to == Some("198.51.100.2:40002".parse().unwrap()) && target.latch_ip == Some("198.51.100.2".parse().unwrap()))
        ),
        "a callee on its flow: the SDP's port at the flow's address (SIP-source-address), latched to that address"
    );
    let ok = responses(&out).into_iter().next().unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.to_addr().unwrap().tag(), Some(caller_tag.as_str()), "same tag as the 180");
    assert!(body(&ok.body).contains("m=audio 20000 RTP/AVP 0\r\n") && body(&ok.body).contains("c=IN IP4 192.0.2.1"));
    // No ACK yet on UDP: the 2xx goes again after T1, then 2*T1.
    let again = lab.advance(Duration::from_millis(500));
    assert_eq!(responses(&again).len(), 1);
    assert!(lab.advance(Duration::from_millis(999)).is_empty());
    assert_eq!(responses(&lab.advance(Duration::from_millis(1))).len(), 1, "2*T1 later");
    lab.core.handle_ack(&ack_for(&ok));
    assert!(lab.advance(Duration::from_secs(10)).is_empty(), "ACK stops the retransmissions");
    // BYE from the caller: 200 to it, BYE to the callee, record closed.
    let bye = parse_req(format!(
        "BYE sip:switch@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKbye1\r\nFrom: <sip:1001@switch.local>;tag=alice1\r\n\
         To: <sip:1002@switch.local>;tag={caller_tag}\r\nCall-ID: call-a@10.0.0.5\r\nCSeq: 11 BYE\r\nContent-Length: 0\r\n\r\n"
    ));
    let key = TransactionKey::server(&bye).unwrap();
    assert!(lab.core.handle_request(lab.now, &key, caller_flow(), bye).is_ok());
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 200);
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].headers.cseq().unwrap().seq, 2, "the callee leg's own CSeq space");
    let rec = ended(&out).unwrap();
    assert_eq!(rec.end_reason.as_deref(), Some("caller_bye"));
    assert_eq!(rec.status, Some(200));
    assert_eq!(rec.answer_at, Some(lab.t0 + Duration::from_millis(2_300)));
    assert!(lab.core.is_empty());
    let _ = lab.t0;
}

#[test]
fn bye_from_the_callee_ends_both_legs() {
    let mut lab = Lab::new();
    let ok = lab.established();
    let callee_call_id = lab.callee_invite.as_ref().unwrap().1.headers.call_id().unwrap().to_owned();
    let ours = lab.callee_invite.as_ref().unwrap().1.headers.from_addr().unwrap().tag().unwrap().to_owned();
    let bye = parse_req(format!(
        "BYE sip:switch@192.0.2.1:5060;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 10.1.0.2:5999;branch=z9hG4bKbye2\r\nFrom: <sip:1002@switch.local>;tag=bob1\r\n\
         To: <sip:1001@switch.local>;tag={ours}\r\nCall-ID: {callee_call_id}\r\nCSeq: 5 BYE\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&bye).unwrap(), callee_flow(), bye).is_ok());
    let out = lab.drain();
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].headers.call_id().unwrap(), "call-a@10.0.0.5");
    assert_eq!(&*byes[0].uri, "sip:1001@10.0.0.5:5062", "to the caller's Contact");
    assert_eq!(byes[0].headers.to_addr().unwrap().tag(), Some("alice1"));
    assert_eq!(byes[0].headers.from_addr().unwrap().tag(), ok.headers.to_addr().unwrap().tag());
    assert_eq!(ended(&out).unwrap().end_reason.as_deref(), Some("callee_bye"));
}

#[test]
fn no_relay_ports_is_503_and_bad_sdp_488() {
    let mut lab = Lab::new();
    let invite = invite_from_caller(CALLER_SDP);
    let new = |request: Request| NewCall {
        key: TransactionKey::server(&request).unwrap(),
        flow: caller_flow(),
        local: "192.0.2.1:5060".parse().unwrap(),
        request,
        caller: "1001".into(),
        callee: "1002".into(),
        target: Target {
            flow: callee_flow(),
            local: "192.0.2.1:5060".parse().unwrap(),
            uri: "sip:1002@10.1.0.2".into(),
            latch_ip: None,
            route: "home",
            reason: Some("not_registered".into()),
            hop: None,
            connect: None,
        },
        relay_ip: Some(RELAY.parse().unwrap()),
        fallback: None,
    };
    lab.core.handle_invite(lab.now, new(invite.clone()));
    lab.drain();
    lab.core.handle_media_opened(lab.now, CallRef(1), Err(MediaOpenError::NoPorts));
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 503);
    assert_eq!(ended(&out).unwrap().end_reason.as_deref(), Some("no_relay_ports"));

    lab.core.handle_invite(lab.now, new(invite_from_caller("v=0\r\nthis is not sdp\r\n")));
    lab.drain();
    lab.core.handle_media_opened(lab.now, CallRef(2), Ok(MediaPorts { id: MediaId(9), caller_rtp: 20000, callee_rtp: 20002 }));
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 488);
    assert!(matches!(ended(&out), Some(r) if r.route == "home" && r.route_reason.as_deref() == Some("not_registered")));
    assert!(out.iter().any(|o| matches!(o, CallAction::Output(Output::CallEnded { media: Some(MediaId(9)), .. }))), "the ports are freed");
}

#[test]
fn media_timeout_hangs_up_both_legs_with_a_reason() {
    let mut lab = Lab::new();
    lab.established();
    lab.now += Duration::from_secs(60);
    lab.core.handle_media_timeout(lab.now, MediaId(77));
    let out = lab.drain();
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 2);
    for b in &byes {
        assert_eq!(b.headers.get(&HeaderName::Reason), Some("SIP;cause=408;text=\"media timeout\""));
    }
    let rec = ended(&out).unwrap();
    assert_eq!(rec.end_reason.as_deref(), Some("media_timeout"));
    assert_eq!(rec.end_at, Some(lab.t0 + Duration::from_secs(60)));
}

#[test]
fn no_ack_for_the_2xx_hangs_up_after_64_t1() {
    let mut lab = Lab::new();
    lab.offer();
    lab.callee_says(200, Some(CALLEE_SDP));
    let mut resent = 0;
    for _ in 0..200 {
        let out = lab.advance(Duration::from_millis(250));
        resent += responses(&out).len();
        if let Some(rec) = ended(&out) {
            assert_eq!(rec.end_reason.as_deref(), Some("no_ack"));
            assert_eq!(requests(&out, Method::Bye).len(), 2);
            assert_eq!(lab.now - lab.t0, Duration::from_secs(32));
            assert!(resent >= 9, "retransmitted {resent} times");
            return;
        }
    }
    panic!("the call never ended");
}

#[test]
fn late_offer_the_callee_offers_in_its_2xx_and_the_caller_answers_in_its_ack() {
    let mut lab = Lab::new();
    let mut invite = invite_from_caller("");
    invite.body = Bytes::new();
    invite.headers.remove(&HeaderName::ContentType);
    invite.headers.set(HeaderName::ContentLength, "0");
    let new = NewCall {
        key: lab.invite_key.clone(),
        flow: caller_flow(),
        local: "192.0.2.1:5060".parse().unwrap(),
        request: invite,
        caller: "1001".into(),
        callee: "1002".into(),
        target: Target {
            flow: callee_flow(),
            local: "192.0.2.1:5060".parse().unwrap(),
            uri: "sip:1002@10.1.0.2:5999;transport=tcp".into(),
            latch_ip: None,
            route: "flow",
            reason: None,
            hop: None,
            connect: None,
        },
        relay_ip: Some(RELAY.parse().unwrap()),
        fallback: None,
    };
    lab.core.handle_invite(lab.now, new);
    lab.drain();
    lab.core.handle_media_opened(lab.now, CallRef(1), Ok(MediaPorts { id: MediaId(5), caller_rtp: 20000, callee_rtp: 20002 }));
    let out = lab.drain();
    let (tx, inv) = invite_to(&out).expect("INVITE to the callee");
    assert!(inv.body.is_empty(), "no offer to forward");
    // The callee's 2xx carries the offer: relayed to the caller, no ACK yet.
    lab.core.handle_client_event(lab.now, tx, ClientEvent::Response(response_to(&inv, 200, Some(CALLEE_SDP), Some("bob1"))));
    let out = lab.drain();
    assert!(requests(&out, Method::Ack).is_empty(), "the ACK must carry the caller's answer");
    let ok = responses(&out).remove(0);
    assert!(body(&ok.body).contains("m=audio 20000 "), "{}", body(&ok.body));
    // A retransmitted 2xx meanwhile changes nothing.
    lab.core.handle_client_event(lab.now, tx, ClientEvent::Response(response_to(&inv, 200, Some(CALLEE_SDP), Some("bob1"))));
    assert!(lab.drain().is_empty());
    // The caller's ACK brings the answer: the callee's ACK carries it, rewritten.
    let mut ack = ack_for(&ok);
    ack.headers.set(HeaderName::ContentType, "application/sdp");
    ack.headers.set(HeaderName::ContentLength, CALLER_SDP.len().to_string());
    ack.body = Bytes::from_static(CALLER_SDP.as_bytes());
    lab.core.handle_ack(&ack);
    let out = lab.drain();
    let acks = requests(&out, Method::Ack);
    assert_eq!(acks.len(), 1);
    assert!(body(&acks[0].body).contains("m=audio 20002 ") && body(&acks[0].body).contains("c=IN IP4 192.0.2.1"));
    assert!(out.iter().any(
        |o| matches!(o, CallAction::Output(Output::Media(MediaCommand::Update { side: Side::Caller, target, .. })) if target.send_to == Some("10.0.0.5:4000".parse().unwrap()))
    ));
}

#[test]
fn without_a_relay_address_each_leg_s_sdp_names_the_address_that_leg_reaches() {
    let mut lab = Lab::new();
    let new = NewCall {
        key: lab.invite_key.clone(),
        flow: caller_flow(),
        local: "192.0.2.1:5060".parse().unwrap(),
        request: invite_from_caller(CALLER_SDP),
        caller: "1001".into(),
        callee: "1002".into(),
        target: Target {
            flow: callee_flow(),
            local: "198.18.0.1:5060".parse().unwrap(),
            uri: "sip:1002@10.1.0.2:5999;transport=tcp".into(),
            latch_ip: None,
            route: "flow",
            reason: None,
            hop: None,
            connect: None,
        },
        relay_ip: None,
        fallback: None,
    };
    lab.core.handle_invite(lab.now, new);
    lab.drain();
    lab.core.handle_media_opened(lab.now, CallRef(1), Ok(MediaPorts { id: MediaId(5), caller_rtp: 20000, callee_rtp: 20002 }));
    let (tx, inv) = invite_to(&lab.drain()).unwrap();
    assert!(body(&inv.body).contains("c=IN IP4 198.18.0.1\r\n"), "{}", body(&inv.body));
    lab.core.handle_client_event(lab.now, tx, ClientEvent::Response(response_to(&inv, 200, Some(CALLEE_SDP), Some("bob1"))));
    let ok = responses(&lab.drain()).remove(0);
    assert!(body(&ok.body).contains("c=IN IP4 192.0.2.1\r\n"), "{}", body(&ok.body));
}

#[test]
fn early_media_183_with_sdp_reaches_the_caller_rewritten_and_points_the_relay_at_the_callee() {
    let mut lab = Lab::new();
    lab.offer();
    let out = lab.callee_says(183, Some(CALLEE_SDP));
    let early = responses(&out);
    assert_eq!(early.len(), 1, "{out:?}");
    assert_eq!(early[0].status, 183);
    let sdp = body(&early[0].body);
    assert!(sdp.contains("c=IN IP4 192.0.2.1") && sdp.contains("m=audio 20000 RTP/AVP 0"), "the caller's leg of the relay: {sdp}");
    assert!(
        out.iter()
            .any(|o| matches!(o, CallAction::Output(Output::Media(MediaCommand::Update { media: MediaId(77), side: Side::Callee, .. })))),
        "early media flows through the relay before the answer: {out:?}"
    );
    assert!(requests(&out, Method::Ack).is_empty(), "no ACK for a provisional");
}
