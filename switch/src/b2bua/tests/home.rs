//! Flow failure and no answer sending the call home; TCP home locations.

use super::*;
#[test]
fn callee_flow_failure_is_480_and_timeout_408() {
    let mut lab = Lab::new();
    lab.offer();
    lab.core.handle_client_event(lab.now, lab.callee_tx(), ClientEvent::TransportError);
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 480);
    assert!(ended(&out).is_some());
    let mut lab = Lab::new();
    lab.offer();
    lab.core.handle_client_event(lab.now, lab.callee_tx(), ClientEvent::Timeout);
    assert_eq!(responses(&lab.drain())[0].status, 408);
}

#[test]
fn no_answer_in_ring_time_goes_home_and_a_late_200_from_the_flow_is_hung_up() {
    let mut lab = Lab::new();
    lab.fallback = Some(home_target());
    lab.offer();
    let first = lab.callee_invite.clone().unwrap();
    lab.callee_says(180, None);
    let out = lab.advance(Duration::from_secs(30));
    assert!(responses(&out).is_empty(), "the caller keeps waiting");
    assert_eq!(requests(&out, Method::Cancel).len(), 1, "the flow leg is cancelled");
    let (tx, to_home) = invite_to(&out).expect("INVITE to home");
    assert_eq!(&*to_home.uri, "sip:1002@192.0.2.50");
    assert_ne!(to_home.headers.call_id().unwrap(), first.1.headers.call_id().unwrap(), "a new dialog");
    assert!(body(&to_home.body).contains("m=audio 20002 "), "same relay port for the callee leg");
    assert!(
        matches!(&out.iter().find(|o| matches!(o, CallAction::Output(Output::Cdr(_)))), Some(CallAction::Output(Output::Cdr(r))) if r.route == "home" && r.route_reason.as_deref() == Some("no_answer"))
    );
    // The flow leg's 200 crossed the CANCEL: ACK and BYE on that leg only.
    let late = response_to(&first.1, 200, Some(CALLEE_SDP), Some("bob1"));
    lab.core.handle_client_event(lab.now, first.0, ClientEvent::Response(late));
    let out = lab.drain();
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].headers.call_id().unwrap(), first.1.headers.call_id().unwrap());
    assert!(responses(&out).is_empty());
    // Home answers: the caller gets its 200.
    let ok = response_to(&to_home, 200, Some(CALLEE_SDP), Some("home1"));
    lab.core.handle_client_event(lab.now, tx, ClientEvent::Response(ok));
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 200);
    // The home has no flow of its own: its leg latches only to the host its SDP (CALLEE_SDP) names.
    let sdp_host: std::net::IpAddr = "10.1.0.2".parse().unwrap();
    assert!(out.iter().any(|o| matches!(o, CallAction::Output(Output::Media(MediaCommand::Update { side: Side::Callee, target, .. })) if target.latch_ip == Some(sdp_host))));
}

#[test]
fn a_failed_flow_goes_home_without_cancel() {
    let mut lab = Lab::new();
    lab.fallback = Some(home_target());
    lab.offer();
    lab.core.handle_flow_closed(lab.now, FlowId(2));
    let out = lab.drain();
    assert!(requests(&out, Method::Cancel).is_empty(), "nothing to cancel on a dead flow before any provisional");
    let (tx, _) = invite_to(&out).expect("INVITE to home");
    lab.core.handle_client_event(lab.now, tx, ClientEvent::Response(response_to(&invite_to(&out).unwrap().1, 486, None, Some("h"))));
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 486);
    let rec = ended(&out).unwrap();
    assert_eq!((rec.route.as_str(), rec.route_reason.as_deref()), ("home", Some("flow_failed")));
}

/// A call offered to a phone whose flow then closes, with a home location at
/// `sip:1002@192.0.2.60;transport=tcp` that needs a connection first.
fn falling_back_to_a_tcp_home() -> (Lab, std::net::SocketAddr) {
    let mut lab = Lab::new();
    let remote: std::net::SocketAddr = "192.0.2.60:5060".parse().unwrap();
    lab.fallback = Some(Target {
        flow: Flow { id: FlowId(0), transport: TransportKind::Tcp, local: remote, remote },
        local: remote,
        uri: "sip:1002@192.0.2.60;transport=tcp".into(),
        latch_ip: None,
        route: "home",
        reason: None,
        hop: None,
        connect: Some(Connect { host: "192.0.2.60".into(), port: 5060, transport: TransportKind::Tcp }),
    });
    lab.offer();
    lab.core.handle_flow_closed(lab.now, FlowId(2));
    (lab, remote)
}

#[test]
fn a_tcp_home_location_is_connected_before_the_offer() {
    let (mut lab, remote) = falling_back_to_a_tcp_home();
    let out = lab.drain();
    assert!(invite_to(&out).is_none(), "no INVITE before the connection is up");
    let call = out.iter().find_map(|o| {
        if let CallAction::Output(Output::Connect { call, to }) = o {
            assert_eq!((to.host.as_str(), to.port), ("192.0.2.60", 5060));
            Some(*call)
        } else {
            None
        }
    });
    let call = call.expect("Connect");
    let up = Flow { id: FlowId(9), transport: TransportKind::Tcp, local: "192.0.2.1:40001".parse().unwrap(), remote };
    lab.core.handle_connected(lab.now, call, Ok((up, up.local)));
    let out = lab.drain();
    let inv = out.iter().find_map(|o| match o {
        CallAction::Request { flow, request, .. } if request.method == Method::Invite => Some((*flow, request.clone())),
        _ => None,
    });
    let (flow, inv) = inv.expect("INVITE down the new flow");
    assert_eq!(flow.id, FlowId(9));
    assert!(inv.headers.get(&HeaderName::Via).unwrap().starts_with("SIP/2.0/TCP 192.0.2.1:40001;"));

    // A home that cannot be reached: 480.
    let (mut lab, remote) = falling_back_to_a_tcp_home();
    lab.drain();
    let refused = crate::ConnectError::Connect {
        remote,
        source: sipcore::transport::TransportError::Io(std::io::ErrorKind::ConnectionRefused.into()),
    };
    lab.core.handle_connected(lab.now, CallRef(1), Err(refused));
    let out = lab.drain();
    assert_eq!(responses(&out)[0].status, 480);
    assert_eq!(ended(&out).unwrap().end_reason.as_deref(), Some("home_unreachable"));
}
