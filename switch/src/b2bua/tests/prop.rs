//! Any order of events from the two parties and the clock: the core never
//! panics, and once the caller hangs up every call ends (no call, port or
//! timer is left behind).

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    /// The callee answers the current INVITE: status, and no SDP / good SDP / garbage.
    Callee(u16, u8),
    Cancel,
    Ack,
    FlowClosed,
    Wait(u16),
    MediaTimeout,
    TxError,
    TxTimeout,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (100u16..700, 0u8..3).prop_map(|(s, b)| Step::Callee(s, b)),
        1 => Just(Step::Cancel),
        1 => Just(Step::Ack),
        1 => Just(Step::FlowClosed),
        2 => (0u16..40_000).prop_map(Step::Wait),
        1 => Just(Step::MediaTimeout),
        1 => Just(Step::TxError),
        1 => Just(Step::TxTimeout),
    ]
}

fn cancel_quietly(lab: &mut Lab) {
    let invite = invite_from_caller(CALLER_SDP);
    let cancel = sipcore::transaction::cancel_for(&invite).unwrap();
    let key = TransactionKey::server(&cancel).unwrap();
    lab.core.handle_cancel(lab.now, &key, &cancel, Some(&lab.invite_key.clone()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn any_sequence_of_events_never_panics_and_every_call_ends(steps in vec(step(), 0..24), go_home in any::<bool>()) {
        let mut lab = Lab::new();
        if go_home {
            lab.fallback = Some(home_target());
        }
        lab.offer();
        let mut ok: Option<Response> = None;
        let mut tag: Option<String> = None;
        for s in steps {
            let out = match s {
                Step::Callee(status, b) => {
                    let sdp = match b { 0 => None, 1 => Some(CALLEE_SDP), _ => Some("v=0\r\nm=garbage\r\n") };
                    lab.callee_says(status, sdp)
                }
                Step::Cancel => {
                    cancel_quietly(&mut lab);
                    lab.drain()
                }
                Step::Ack => {
                    if let Some(r) = &ok {
                        lab.core.handle_ack(&ack_for(r));
                    }
                    lab.drain()
                }
                Step::FlowClosed => {
                    lab.core.handle_flow_closed(lab.now, FlowId(2));
                    lab.drain()
                }
                Step::Wait(ms) => lab.advance(Duration::from_millis(u64::from(ms))),
                Step::MediaTimeout => {
                    lab.core.handle_media_timeout(lab.now, MediaId(77));
                    lab.drain()
                }
                Step::TxError => {
                    lab.core.handle_client_event(lab.now, lab.callee_tx(), ClientEvent::TransportError);
                    lab.drain()
                }
                Step::TxTimeout => {
                    lab.core.handle_client_event(lab.now, lab.callee_tx(), ClientEvent::Timeout);
                    lab.drain()
                }
            };
            for r in responses(&out) {
                if let Some(t) = r.headers.to_addr().ok().and_then(|a| a.tag().map(str::to_owned)) {
                    tag = Some(t);
                }
                if (200..300).contains(&r.status) && r.headers.cseq().unwrap().method == Method::Invite {
                    ok = Some(r);
                }
            }
            // A failover sends a new INVITE: the callee now answers that one.
            if let Some(inv) = invite_to(&out) {
                lab.callee_invite = Some(inv);
            }
        }
        // The caller hangs up whatever the state: CANCEL, then BYE in its dialog.
        cancel_quietly(&mut lab);
        if let Some(t) = tag {
            let bye = parse_req(format!(
                "BYE sip:switch@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKpbye\r\nFrom: <sip:1001@switch.local>;tag=alice1\r\n\
                 To: <sip:1002@switch.local>;tag={t}\r\nCall-ID: call-a@10.0.0.5\r\nCSeq: 99 BYE\r\nContent-Length: 0\r\n\r\n"
            ));
            let _ = lab.core.handle_request(lab.now, &TransactionKey::server(&bye).unwrap(), caller_flow(), bye);
        }
        for _ in 0..100 {
            lab.advance(Duration::from_secs(1));
        }
        prop_assert!(lab.core.is_empty(), "a call outlived its caller");
        prop_assert_eq!(lab.core.poll_timeout(), None);
    }
}
