//! Calls that go to the callee's home location through the real `switch`: no
//! live flow (UDP home, TCP home), and a flow that drops or a callee that does
//! not answer within `ring_time` while the call is offered (issue 5 item 4).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::Tcp;
use common::calls::*;
use sipcore::{HeaderName, Message, Method};

#[test]
fn no_live_flow_goes_to_the_udp_home_location() {
    let home = UdpPhone::new("127.0.0.1:9".parse().unwrap());
    let home_uri = format!("sip:1003@{}", home.addr());
    let lab = lab_with(&[("1001", None), ("1003", Some(&home_uri))]);
    let sw = lab.start(&trusted());
    let mut caller = Caller::new(&sw, "1001", "1003");
    let invite = caller.invite(None);
    let inv = home.request(Method::Invite);
    assert_eq!(&*inv.uri, home_uri.as_str(), "the INVITE is addressed to the home URI");
    assert_eq!(media_of(&inv.body).ip().to_string(), "127.0.0.1");
    let home = UdpPhone { server: sw.udp_addr(), ..home };
    home.send(&Message::Response(answer(&inv, 486, "home1", &home_uri, None)));
    let busy = caller.phone.response(486, Method::Invite);
    caller.ack_non_2xx(&invite, &busy);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!(rec["route"], "home");
    assert_eq!(rec["route_reason"], "not_registered");
}

#[test]
fn ringing_past_ring_time_is_cancelled_and_the_call_goes_home() {
    let (lab, home, home_uri) = with_home();
    let sw = lab.start(&trusted().calls("ring_time = 1"));
    let mut callee = Callee::register(&sw, "1002", "pw1002");
    let mut caller = Caller::new(&sw, "1001", "1002");
    caller.invite(None);
    let inv = callee.request(Method::Invite);
    callee.answer(&inv, 180, false);
    caller.phone.response(180, Method::Invite);
    let cancel = callee.request(Method::Cancel);
    callee.answer(&cancel, 200, false);
    callee.answer(&inv, 487, false);
    let to_home = home.request(Method::Invite);
    assert_eq!(&*to_home.uri, home_uri.as_str());
    let home = UdpPhone { server: sw.udp_addr(), ..home };
    home.send(&Message::Response(answer(&to_home, 200, "home1", &home_uri, Some(sdp(40_000, "home")))));
    let ok = caller.phone.response(200, Method::Invite);
    assert_eq!(media_of(&ok.body).ip().to_string(), "127.0.0.1");
    home.request(Method::Ack);
    caller.to = Some(ok.headers.get(&HeaderName::To).unwrap().to_owned());
    caller.in_dialog(Method::Ack);
    caller.in_dialog(Method::Bye);
    let bye = home.request(Method::Bye);
    home.send(&Message::Response(answer(&bye, 200, "home1", &home_uri, None)));
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!((rec["route"].as_str(), rec["route_reason"].as_str()), (Some("home"), Some("no_answer")));
    assert_eq!(rec["status"], 200);
}

#[test]
fn a_callee_flow_that_drops_during_set_up_sends_the_call_home() {
    let (lab, home, home_uri) = with_home();
    let sw = lab.start(&trusted());
    let mut callee = Callee::register(&sw, "1002", "pw1002");
    let mut caller = Caller::new(&sw, "1001", "1002");
    let invite = caller.invite(None);
    callee.request(Method::Invite);
    callee.tcp.shutdown();
    let to_home = home.request(Method::Invite);
    assert_eq!(&*to_home.uri, home_uri.as_str());
    let home = UdpPhone { server: sw.udp_addr(), ..home };
    home.send(&Message::Response(answer(&to_home, 603, "home1", &home_uri, None)));
    let declined = caller.phone.response(603, Method::Invite);
    caller.ack_non_2xx(&invite, &declined);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!((rec["route"].as_str(), rec["route_reason"].as_str()), (Some("home"), Some("flow_failed")));
    assert_eq!(rec["end_reason"], "declined");
}

#[test]
fn a_tcp_home_location_gets_the_invite_on_a_connection_the_switch_opens() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let home_uri = format!("sip:1005@{};transport=tcp", listener.local_addr().unwrap());
    let lab = lab_with(&[("1001", None), ("1005", Some(&home_uri))]);
    let sw = lab.start(&trusted());
    let mut caller = Caller::new(&sw, "1001", "1005");
    let invite = caller.invite(None);
    listener.set_nonblocking(false).unwrap();
    let (stream, _) = listener.accept().unwrap();
    let mut home = Wire::Tcp(Box::new(Tcp::from_stream(stream)), sw.addr());
    let inv = home.request(Method::Invite);
    assert_eq!(&*inv.uri, home_uri.as_str());
    assert!(inv.headers.get(&HeaderName::Via).unwrap().starts_with("SIP/2.0/TCP 127.0.0.1:"));
    home.send(&Message::Response(answer(&inv, 486, "home5", &home_uri, None)));
    let busy = caller.phone.response(486, Method::Invite);
    caller.ack_non_2xx(&invite, &busy);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!((rec["route"].as_str(), rec["route_reason"].as_str()), (Some("home"), Some("not_registered")));
}

#[test]
fn a_home_location_by_host_name_is_resolved_without_blocking_the_switch() {
    let home = UdpPhone::new("127.0.0.1:9".parse().unwrap());
    let home_uri = format!("sip:1006@localhost:{}", home.addr().port());
    let lab = lab_with(&[("1001", None), ("1006", Some(&home_uri))]);
    let sw = lab.start(&trusted());
    let mut caller = Caller::new(&sw, "1001", "1006");
    let invite = caller.invite(None);
    let inv = home.request(Method::Invite);
    assert_eq!(&*inv.uri, home_uri.as_str());
    let home = UdpPhone { server: sw.udp_addr(), ..home };
    home.send(&Message::Response(answer(&inv, 486, "home6", &home_uri, None)));
    let busy = caller.phone.response(486, Method::Invite);
    caller.ack_non_2xx(&invite, &busy);
    // An unknown host: 480 with the reason.
    let lab2 = lab_with(&[("1001", None), ("1007", Some("sip:1007@no-such-host.invalid"))]);
    let sw2 = lab2.start(&trusted());
    let mut caller2 = Caller::new(&sw2, "1001", "1007");
    caller2.invite(None);
    let r = caller2.phone.response(480, Method::Invite);
    assert!(r.reason.contains("home location"), "{}", r.reason);
    assert_eq!(ended_record(&lab2, &caller2.call_id)["end_reason"], "home_unreachable");
}
