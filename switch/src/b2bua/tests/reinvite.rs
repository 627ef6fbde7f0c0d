//! re-INVITE from either side, OPTIONS in a dialog, requests for no dialog.

use super::*;
#[test]
fn reinvite_from_the_callee_is_relayed_with_a_new_version() {
    let mut lab = Lab::new();
    let ok = lab.established();
    assert!(body(&ok.body).contains("o=bob 200 3 "), "first SDP to the caller keeps the callee's version");
    let callee_call_id = lab.callee_invite.as_ref().unwrap().1.headers.call_id().unwrap().to_owned();
    let ours = lab.callee_invite.as_ref().unwrap().1.headers.from_addr().unwrap().tag().unwrap().to_owned();
    let reinvite = parse_req(format!(
        "INVITE sip:switch@192.0.2.1:5060;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 10.1.0.2:5999;branch=z9hG4bKre1\r\nFrom: <sip:1002@switch.local>;tag=bob1\r\n\
         To: <sip:1001@switch.local>;tag={ours}\r\nCall-ID: {callee_call_id}\r\nCSeq: 6 INVITE\r\nContact: <sip:bob@10.1.0.2:5999;transport=tcp>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{HOLD_SDP}",
        HOLD_SDP.len()
    ));
    let key = TransactionKey::server(&reinvite).unwrap();
    assert!(lab.core.handle_request(lab.now, &key, callee_flow(), reinvite.clone()).is_ok());
    let out = lab.drain();
    let sent = out.iter().find_map(|o| match o {
        CallAction::Request { tx, request, .. } if request.method == Method::Invite => Some((*tx, request.clone())),
        _ => None,
    });
    let (tx, to_caller) = sent.expect("re-INVITE to the caller");
    assert_eq!(to_caller.headers.call_id().unwrap(), "call-a@10.0.0.5");
    assert_eq!(to_caller.headers.cseq().unwrap().seq, 1, "the caller leg's first request from us");
    let sdp = body(&to_caller.body);
    assert!(sdp.contains("o=bob 200 4 ") && sdp.contains("a=sendonly") && sdp.contains("m=audio 20000 "), "{sdp}");
    // A second re-INVITE while this one is pending: 491.
    let mut again = reinvite.clone();
    again.headers.set(HeaderName::Via, "SIP/2.0/TCP 10.1.0.2:5999;branch=z9hG4bKre2");
    again.headers.set(HeaderName::CSeq, "7 INVITE");
    lab.core.handle_request(lab.now, &TransactionKey::server(&again).unwrap(), callee_flow(), again).unwrap();
    assert_eq!(responses(&lab.drain())[0].status, 491);
    // The caller answers: ACK on its leg, 200 with the caller's (rewritten) answer to the callee.
    let answer = CALLER_SDP.replace("o=alice 100 7", "o=alice 100 8").replace("m=audio 4000", "m=audio 4002");
    let resp = response_to(&to_caller, 200, Some(&answer), Some("alice1"));
    lab.core.handle_client_event(lab.now, tx, ClientEvent::Response(resp));
    let out = lab.drain();
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    assert!(out.iter().any(
        |o| matches!(o, CallAction::Output(Output::Media(MediaCommand::Update { side: Side::Caller, target, .. })) if target.send_to == Some("10.0.0.5:4002".parse().unwrap()))
    ));
    let r = responses(&out);
    assert_eq!(r[0].status, 200);
    assert!(body(&r[0].body).contains("o=alice 100 8 ") && body(&r[0].body).contains("m=audio 20002 "), "{}", body(&r[0].body));
    // The caller's 2xx again (our ACK lost on UDP): ACKed again, nothing else.
    let again = response_to(&to_caller, 200, Some(&answer), Some("alice1"));
    lab.core.handle_client_event(lab.now, tx, ClientEvent::Response(again));
    let out = lab.drain();
    assert_eq!(out.len(), 1);
    assert_eq!(requests(&out, Method::Ack).len(), 1);
}

#[test]
fn reinvite_from_the_caller_reaches_the_callee_with_its_own_version() {
    let mut lab = Lab::new();
    let ok = lab.established();
    let tag = ok.headers.to_addr().unwrap().tag().unwrap().to_owned();
    let resume = CALLER_SDP.replace("o=alice 100 7", "o=alice 100 9").replace("m=audio 4000", "m=audio 4100");
    let reinvite = parse_req(format!(
        "INVITE sip:switch@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKre9\r\nFrom: <sip:1001@switch.local>;tag=alice1\r\n\
         To: <sip:1002@switch.local>;tag={tag}\r\nCall-ID: call-a@10.0.0.5\r\nCSeq: 11 INVITE\r\nContact: <sip:1001@10.0.0.5:5062>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{resume}",
        resume.len()
    ));
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&reinvite).unwrap(), caller_flow(), reinvite).is_ok());
    let out = lab.drain();
    assert!(out.iter().any(
        |o| matches!(o, CallAction::Output(Output::Media(MediaCommand::Update { side: Side::Caller, target, .. })) if target.send_to == Some("10.0.0.5:4100".parse().unwrap()))
    ));
    let (_, to_callee) = invite_to(&out).expect("re-INVITE to the callee");
    assert_eq!(to_callee.headers.cseq().unwrap().seq, 2, "after the INVITE (1) on the callee leg");
    assert_eq!(&*to_callee.uri, "sip:bob@10.1.0.2:5999;transport=tcp", "to the callee's Contact");
    let sdp = body(&to_callee.body);
    assert!(sdp.contains("o=alice 100 8 ") && sdp.contains("m=audio 20002 "), "the callee leg's version moves by one: {sdp}");
    // The callee accepts; the 200 to the UDP caller goes again after T1 until the caller's ACK.
    let (tx, _) = invite_to(&out).unwrap();
    lab.core.handle_client_event(lab.now, tx, ClientEvent::Response(response_to(&to_callee, 200, Some(CALLEE_SDP), Some("bob1"))));
    let out = lab.drain();
    assert_eq!(requests(&out, Method::Ack).len(), 1, "ACK on the callee leg");
    let ok = responses(&out).remove(0);
    assert_eq!(ok.status, 200);
    assert_eq!(responses(&lab.advance(Duration::from_millis(500))).len(), 1, "retransmitted");
    let mut ack = ack_for(&ok);
    ack.headers.set(HeaderName::CSeq, "11 ACK");
    lab.core.handle_ack(&ack);
    assert!(lab.advance(Duration::from_secs(40)).is_empty(), "the ACK stopped it, and the call goes on");
    assert_eq!(lab.core.len(), 1);
}

#[test]
fn options_in_dialog_and_unknown_dialogs() {
    let mut lab = Lab::new();
    let ok = lab.established();
    let tag = ok.headers.to_addr().unwrap().tag().unwrap().to_owned();
    let options = parse_req(format!(
        "OPTIONS sip:switch@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKopt\r\nFrom: <sip:1001@switch.local>;tag=alice1\r\n\
         To: <sip:1002@switch.local>;tag={tag}\r\nCall-ID: call-a@10.0.0.5\r\nCSeq: 12 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&options).unwrap(), caller_flow(), options.clone()).is_ok());
    assert_eq!(responses(&lab.drain())[0].status, 200);
    let mut wrong = options.clone();
    wrong.headers.set(HeaderName::To, "<sip:1002@switch.local>;tag=nope");
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&wrong).unwrap(), caller_flow(), wrong).is_ok());
    assert_eq!(responses(&lab.drain())[0].status, 481);
    let mut stranger = options;
    stranger.headers.set(HeaderName::CallId, "unknown@x");
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&stranger).unwrap(), caller_flow(), stranger).is_err());
}

#[test]
fn a_callee_that_roams_to_a_new_flow_is_followed_there() {
    let mut lab = Lab::new();
    let ok = lab.established();
    let callee_call_id = lab.callee_invite.as_ref().unwrap().1.headers.call_id().unwrap().to_owned();
    let ours = lab.callee_invite.as_ref().unwrap().1.headers.from_addr().unwrap().tag().unwrap().to_owned();
    // The agent's public address changed: it reconnected and re-INVITEs from the new flow.
    let roamed = Flow {
        id: FlowId(42),
        transport: TransportKind::Tcp,
        local: "192.0.2.1:5060".parse().unwrap(),
        remote: "198.51.100.77:41000".parse().unwrap(),
    };
    let reinvite = parse_req(format!(
        "INVITE sip:switch@192.0.2.1:5060;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 10.1.0.2:5999;branch=z9hG4bKroam\r\nFrom: <sip:1002@switch.local>;tag=bob1\r\n\
         To: <sip:1001@switch.local>;tag={ours}\r\nCall-ID: {callee_call_id}\r\nCSeq: 7 INVITE\r\nContact: <sip:bob@10.1.0.2:5999;transport=tcp>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{CALLEE_SDP}",
        CALLEE_SDP.len()
    ));
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&reinvite).unwrap(), roamed, reinvite).is_ok());
    let out = lab.drain();
    assert!(
        out.iter().any(|o| matches!(o, CallAction::Output(Output::Media(MediaCommand::Update { side: Side::Callee, target, .. })) if target.latch_ip == Some("198.51.100.77".parse().unwrap()))),
        "the callee's relay leg latches to the new address"
    );
    let (tx, to_caller) = invite_to(&out).unwrap();
    lab.core.handle_client_event(lab.now, tx, ClientEvent::Response(response_to(&to_caller, 200, Some(CALLER_SDP), Some("alice1"))));
    lab.drain();
    // The caller hangs up: the BYE to the callee goes down the new flow.
    let tag = ok.headers.to_addr().unwrap().tag().unwrap().to_owned();
    let bye = parse_req(format!(
        "BYE sip:switch@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKbyer\r\nFrom: <sip:1001@switch.local>;tag=alice1\r\n\
         To: <sip:1002@switch.local>;tag={tag}\r\nCall-ID: call-a@10.0.0.5\r\nCSeq: 12 BYE\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&bye).unwrap(), caller_flow(), bye).is_ok());
    let out = lab.drain();
    let sent = out.iter().find_map(|o| match o {
        CallAction::Request { flow, request, .. } if request.method == Method::Bye => Some(*flow),
        _ => None,
    });
    assert_eq!(sent.map(|f| f.id), Some(FlowId(42)));
}
