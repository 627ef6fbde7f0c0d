//! CANCEL in both races, BYE in the early dialog, no answer, finals passed through.

use super::*;
#[test]
fn busy_and_other_finals_pass_to_the_caller() {
    for (status, reason) in [(486, "busy"), (603, "declined"), (404, "rejected"), (480, "unavailable")] {
        let mut lab = Lab::new();
        lab.offer();
        let out = lab.callee_says(status, None);
        let r = responses(&out);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].status, status);
        let rec = ended(&out).unwrap();
        assert_eq!((rec.status, rec.end_reason.as_deref()), (Some(status), Some(reason)));
        assert!(lab.core.is_empty());
    }
}

fn cancel_from_caller(lab: &mut Lab) -> Vec<CallAction> {
    let cancel = parse_req(
        "CANCEL sip:1002@switch.local SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKcaller1;rport\r\n\
         From: \"Alice\" <sip:1001@switch.local>;tag=alice1\r\nTo: <sip:1002@switch.local>\r\nCall-ID: call-a@10.0.0.5\r\n\
         CSeq: 10 CANCEL\r\nContent-Length: 0\r\n\r\n"
            .to_owned(),
    );
    let key = TransactionKey::server(&cancel).unwrap();
    let invite = TransactionKey::cancel_target(&cancel).unwrap();
    assert!(lab.core.handle_cancel(lab.now, &key, &cancel, Some(&invite)));
    lab.drain()
}

#[test]
fn cancel_after_ringing_cancels_the_callee_and_487s_the_caller() {
    let mut lab = Lab::new();
    lab.offer();
    lab.callee_says(180, None);
    let out = cancel_from_caller(&mut lab);
    let statuses: Vec<u16> = responses(&out).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 487], "200 to the CANCEL, 487 to the INVITE");
    let cancels = requests(&out, Method::Cancel);
    assert_eq!(cancels.len(), 1);
    let inv = &lab.callee_invite.as_ref().unwrap().1;
    assert_eq!(cancels[0].headers.top_via().unwrap().branch(), inv.headers.top_via().unwrap().branch(), "same branch as the INVITE");
    assert!(ended(&out).is_none(), "waits for the callee's 487");
    let out = lab.callee_says(487, None);
    assert!(responses(&out).is_empty(), "the caller already has its 487");
    let rec = ended(&out).unwrap();
    assert_eq!((rec.status, rec.end_reason.as_deref()), (Some(487), Some("cancelled")));
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut lab = Lab::new();
    lab.offer();
    let out = cancel_from_caller(&mut lab);
    assert!(requests(&out, Method::Cancel).is_empty(), "no CANCEL before a provisional (RFC 3261 §9.1)");
    let out = lab.callee_says(180, None);
    assert_eq!(requests(&out, Method::Cancel).len(), 1);
    assert!(responses(&out).is_empty(), "no 180 to a cancelled caller");
}

#[test]
fn a_200_crossing_the_cancel_is_acked_and_hung_up() {
    let mut lab = Lab::new();
    lab.offer();
    lab.callee_says(180, None);
    cancel_from_caller(&mut lab);
    let out = lab.callee_says(200, Some(CALLEE_SDP));
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    assert_eq!(requests(&out, Method::Bye).len(), 1);
    assert!(responses(&out).is_empty(), "the caller got 487, not this 200");
    let rec = ended(&out).unwrap();
    assert_eq!((rec.status, rec.end_reason.as_deref()), (Some(487), Some("cancelled")));
}

#[test]
fn no_answer_within_ring_time_is_408_and_cancel() {
    let mut lab = Lab::new();
    lab.offer();
    lab.callee_says(180, None);
    assert_eq!(lab.core.poll_timeout(), Some(lab.t0 + Duration::from_secs(30)));
    assert!(lab.advance(Duration::from_millis(29_999)).is_empty());
    let out = lab.advance(Duration::from_millis(1));
    assert_eq!(responses(&out)[0].status, 408);
    assert_eq!(requests(&out, Method::Cancel).len(), 1);
    let rec = ended(&lab.callee_says(487, None)).unwrap();
    assert_eq!(rec.end_reason.as_deref(), Some("no_answer"));
}

#[test]
fn bye_from_the_caller_in_the_early_dialog_cancels_the_callee() {
    let mut lab = Lab::new();
    lab.offer();
    let ringing = responses(&lab.callee_says(180, None)).remove(0);
    let tag = ringing.headers.to_addr().unwrap().tag().unwrap().to_owned();
    let bye = parse_req(format!(
        "BYE sip:switch@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKearly\r\nFrom: <sip:1001@switch.local>;tag=alice1\r\n\
         To: <sip:1002@switch.local>;tag={tag}\r\nCall-ID: call-a@10.0.0.5\r\nCSeq: 11 BYE\r\nContent-Length: 0\r\n\r\n"
    ));
    assert!(lab.core.handle_request(lab.now, &TransactionKey::server(&bye).unwrap(), caller_flow(), bye).is_ok());
    let out = lab.drain();
    let statuses: Vec<u16> = responses(&out).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 487]);
    assert_eq!(requests(&out, Method::Cancel).len(), 1);
    let rec = ended(&lab.callee_says(487, None)).unwrap();
    assert_eq!(rec.end_reason.as_deref(), Some("caller_bye"));
}
