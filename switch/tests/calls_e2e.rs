//! Calls through the real `switch` binary on 127.0.0.1: a caller on UDP, a
//! callee registered over TCP (its INVITE comes down that flow), RTP through the
//! relay both ways on plain UDP sockets, and the call record read back with
//! `switch calls --json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::calls::*;
use common::{Config, wait_for};
use serde_json::Value;
use sipcore::{HeaderName, Message, Method};
use std::net::{SocketAddr, UdpSocket};

#[test]
fn basic_call_with_digest_rtp_both_ways_bye_and_record() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&Config::default().relay("127.0.0.1").calls("ring_time = 20"));
    let mut callee = Callee::register(&sw, "1002", "pw1002");
    let mut caller = Caller::new(&sw, "1001", "1002");
    caller.invite_with_digest("pw1001");

    let inv = callee.request(Method::Invite);
    assert!(inv.uri.starts_with("sip:1002@"), "Request-URI is the registered Contact: {}", inv.uri);
    assert_ne!(inv.headers.call_id().unwrap(), caller.call_id, "the callee leg is a dialog of its own");
    let to_callee = media_of(&inv.body);
    assert_eq!(to_callee.ip().to_string(), "127.0.0.1", "SDP names the relay");
    assert_ne!(to_callee.port(), caller.rtp.local_addr().unwrap().port());
    callee.answer(&inv, 180, false);
    caller.phone.response(180, Method::Invite);
    callee.answer(&inv, 200, true);
    let ok = caller.phone.response(200, Method::Invite);
    let to_caller = media_of(&ok.body);
    assert_ne!(to_caller, to_callee, "each leg has its own relay port");
    caller.to = Some(ok.headers.get(&HeaderName::To).unwrap().to_owned());
    caller.in_dialog(Method::Ack);
    let ack = callee.request(Method::Ack);
    assert_eq!(ack.headers.call_id().unwrap(), inv.headers.call_id().unwrap());

    // The callee's first packet opens (latches) its leg; then media flows both ways.
    let got = rtp_flows(&callee.rtp, to_callee, &caller.rtp, 0xca11ee);
    assert!(got > 0, "callee -> caller RTP through the relay");
    let got = rtp_flows(&caller.rtp, to_caller, &callee.rtp, 0xca11e4);
    assert!(got > 0, "caller -> callee RTP through the relay");

    caller.in_dialog(Method::Bye);
    let bye = callee.request(Method::Bye);
    callee.answer(&bye, 200, false);
    caller.phone.response(200, Method::Bye);

    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!(rec["caller"], "1001");
    assert_eq!(rec["callee"], "1002");
    assert_eq!(rec["route"], "flow");
    assert_eq!(rec["status"], 200);
    assert_eq!(rec["end_reason"], "caller_bye");
    assert!(rec["ringing_at"].as_u64().unwrap() >= rec["invite_at"].as_u64().unwrap());
    assert!(rec["answer_at"].as_u64().unwrap() <= rec["end_at"].as_u64().unwrap());
    assert!(rec["caller_media"]["packets_in"].as_u64().unwrap() > 0, "{rec}");
    assert!(rec["callee_media"]["packets_in"].as_u64().unwrap() > 0, "{rec}");
    let active = lab.cli(&["calls", "--active", "--json"]);
    assert_eq!(serde_json::from_slice::<Value>(&active.stdout).unwrap(), Value::Array(vec![]));
    let table = String::from_utf8(lab.cli(&["calls"]).stdout).unwrap();
    assert!(table.contains("caller_bye") && table.contains("CALLEE-RTP"), "{table}");
}

/// Issue 12 item 7 through the real switch: a host that is not the caller's
/// sprays the caller's relay ports (RTP and RTCP) before and after the caller's
/// first packet and never gets a packet relayed or one back; STUN keep-alives
/// from the caller are answered; the call record counts both, per leg.
#[test]
fn an_intruder_on_the_relay_ports_gets_nothing_and_stun_keepalives_are_answered() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&trusted());
    let (mut caller, mut callee, _, inv) = offered(&sw);
    let (to_callee, to_caller) = pick_up(&mut caller, &mut callee, &inv);
    let rtcp_of = |a: SocketAddr| SocketAddr::new(a.ip(), a.port() + 1);
    let report = [0x80, 201, 0, 1, 0, 0, 0x06, 0x66];
    let mallory = UdpSocket::bind("127.0.0.66:0").unwrap();
    mallory.send_to(&rtp_packet(1, 0x666), to_caller).unwrap();
    mallory.send_to(&report, rtcp_of(to_caller)).unwrap();
    // rtp_flows checks every packet relayed is the sender's (by SSRC): none of the intruder's.
    assert!(rtp_flows(&caller.rtp, to_caller, &callee.rtp, 0xca11e4) > 0);
    assert!(rtp_flows(&callee.rtp, to_callee, &caller.rtp, 0xca11ee) > 0);
    mallory.send_to(&rtp_packet(2, 0x666), to_caller).unwrap();
    mallory.send_to(&report, rtcp_of(to_caller)).unwrap();
    // A keep-alive from the caller's RTP socket to both of its relay ports: each
    // answered from that port with the caller's address (and, being later on the
    // same socket, each proves the intruder's packet before it was handled).
    let mine = caller.rtp.local_addr().unwrap();
    caller.rtp.set_read_timeout(Some(WAIT)).unwrap();
    for (i, port) in [to_caller, rtcp_of(to_caller)].into_iter().enumerate() {
        let txid = [i as u8 + 1; 12];
        let mut request = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        request.extend_from_slice(&txid);
        caller.rtp.send_to(&request, port).unwrap();
        let mut expected = [0u8; media::stun::MAX_ANSWER];
        let n = media::stun::write_binding_success(&txid, mine, false, &mut expected);
        let mut buf = [0u8; 2048];
        let answer = loop {
            let (got, from) = caller.rtp.recv_from(&mut buf).expect("a STUN answer");
            // Late RTP from the callee's burst may come first.
            if buf[0] >> 6 == 0 {
                break (buf[..got].to_vec(), from);
            }
        };
        assert_eq!(answer, (expected[..n].to_vec(), port));
    }
    mallory.set_read_timeout(Some(std::time::Duration::from_millis(200))).unwrap();
    assert!(mallory.recv_from(&mut [0u8; 2048]).is_err(), "nothing ever goes to the intruder");
    caller.in_dialog(Method::Bye);
    let bye = callee.request(Method::Bye);
    callee.answer(&bye, 200, false);
    let rec = ended_record(&lab, &caller.call_id);
    let (from_caller, from_callee) = (&rec["caller_media"], &rec["callee_media"]);
    assert_eq!((from_caller["foreign"].as_u64(), from_caller["stun"].as_u64()), (Some(4), Some(2)), "{rec}");
    assert_eq!(from_caller["dropped"].as_u64(), Some(4), "a keep-alive is not a drop: {rec}");
    assert_eq!((from_callee["foreign"].as_u64(), from_callee["stun"].as_u64()), (Some(0), Some(0)), "{rec}");
}

#[test]
fn cancel_while_ringing_reaches_the_callee_and_the_caller_gets_487() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&trusted());
    let (mut caller, mut callee, invite, inv) = offered(&sw);
    callee.answer(&inv, 180, false);
    caller.phone.response(180, Method::Invite);
    caller.cancel(&invite);
    caller.phone.response(200, Method::Cancel);
    let terminated = caller.phone.response(487, Method::Invite);
    caller.ack_non_2xx(&invite, &terminated);
    let cancel = callee.request(Method::Cancel);
    assert_eq!(cancel.headers.top_via().unwrap().branch(), inv.headers.top_via().unwrap().branch());
    callee.answer(&cancel, 200, false);
    callee.answer(&inv, 487, false);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!(rec["status"], 487);
    assert_eq!(rec["end_reason"], "cancelled");
}

#[test]
fn busy_callee_486_reaches_the_caller() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&trusted());
    let (mut caller, mut callee, invite, inv) = offered(&sw);
    callee.answer(&inv, 486, false);
    let busy = caller.phone.response(486, Method::Invite);
    caller.ack_non_2xx(&invite, &busy);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!((rec["status"].as_u64(), rec["end_reason"].as_str()), (Some(486), Some("busy")));
}

#[test]
fn no_flow_and_no_home_is_480_and_unknown_number_404() {
    let lab = lab_with(&[("1001", None), ("1004", None)]);
    let sw = lab.start(&trusted());
    let mut caller = Caller::new(&sw, "1001", "1004");
    let invite = caller.invite(None);
    let r = caller.phone.response(480, Method::Invite);
    caller.ack_non_2xx(&invite, &r);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!((rec["route"].as_str(), rec["route_reason"].as_str()), (Some("none"), Some("not_registered")));
    let mut stranger = Caller::new(&sw, "1001", "5555");
    stranger.invite(None);
    stranger.phone.response(404, Method::Invite);
}

#[test]
fn no_media_for_media_timeout_hangs_up_both_legs_with_a_reason() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&trusted().calls("media_timeout = 1"));
    let (mut caller, mut callee, _) = answered(&sw);
    let bye = callee.request(Method::Bye);
    assert_eq!(bye.headers.get(&HeaderName::Reason), Some("SIP;cause=408;text=\"media timeout\""));
    callee.answer(&bye, 200, false);
    let bye = caller.phone.request(Method::Bye);
    assert_eq!(bye.headers.get(&HeaderName::Reason), Some("SIP;cause=408;text=\"media timeout\""));
    assert_eq!(bye.headers.call_id().unwrap(), caller.call_id);
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!(rec["end_reason"], "media_timeout");
}

#[test]
fn hold_by_reinvite_from_the_callee_reaches_the_caller_rewritten() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&trusted());
    let (mut caller, mut callee, inv) = answered(&sw);
    // The callee puts the call on hold: a re-INVITE in its dialog, a=sendonly.
    let hold = sdp(callee.rtp.local_addr().unwrap().port(), "callee").replace("o=callee 1 1", "o=callee 1 2") + "a=sendonly\r\n";
    callee.reinvite(&sw, &inv, 1, &hold);
    let reinvite = caller.phone.request(Method::Invite);
    assert_eq!(reinvite.headers.call_id().unwrap(), caller.call_id, "in the caller's dialog");
    let body = std::str::from_utf8(&reinvite.body).unwrap();
    assert!(body.contains("a=sendonly") && body.contains("c=IN IP4 127.0.0.1"), "{body}");
    assert!(body.contains("o=callee 1 2 "), "o= version moved on: {body}");
    caller.phone.send(&Message::Response(answer(
        &reinvite,
        200,
        &caller.tag,
        "sip:1001@127.0.0.1",
        Some(sdp(caller.rtp.local_addr().unwrap().port(), "caller")),
    )));
    let ack = caller.phone.request(Method::Ack);
    assert_eq!(ack.headers.cseq().unwrap().seq, reinvite.headers.cseq().unwrap().seq);
    let ok = match callee.message() {
        Message::Response(r) => r,
        Message::Request(r) => panic!("expected the 200 for the re-INVITE, got {}", r.method),
    };
    assert_eq!(ok.status, 200);
    assert_eq!(media_of(&ok.body), media_of(&inv.body), "the callee keeps sending to its relay port");
}

#[test]
fn calls_in_progress_are_closed_on_stop_and_after_kill_9() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let mut sw = lab.start(&trusted());
    let (caller, _callee, _) = answered(&sw);
    wait_for(WAIT, "the answered call to be stored", || {
        let c = lab.calls();
        if c.iter().any(|c| c["call_id"] == caller.call_id.as_str() && !c["answer_at"].is_null()) { Ok(()) } else { Err(format!("{c:?}")) }
    });
    assert!(sw.terminate().success());
    assert_eq!(ended_record(&lab, &caller.call_id)["end_reason"], "switch_stopped");

    let mut sw = lab.start(&trusted());
    let (caller, _callee, _) = answered(&sw);
    wait_for(WAIT, "the answered call to be stored", || {
        let c = lab.calls();
        if c.iter().any(|c| c["call_id"] == caller.call_id.as_str() && !c["answer_at"].is_null()) { Ok(()) } else { Err(format!("{c:?}")) }
    });
    sw.kill9();
    let active = lab.cli(&["calls", "--active", "--json"]);
    assert_ne!(serde_json::from_slice::<Value>(&active.stdout).unwrap(), Value::Array(vec![]), "killed mid-call");
    let _sw = lab.start(&trusted());
    assert_eq!(ended_record(&lab, &caller.call_id)["end_reason"], "switch_restarted");
}

#[test]
fn a_registered_agent_calls_over_its_tcp_flow_and_the_callee_hangs_up() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    // No relay_address: the relay binds the wildcard and SDP names the address the caller reached.
    let sw = lab.start(&Config::default());
    let mut callee = Callee::register(&sw, "1002", "pw1002");
    let mut caller = Caller::registered_tcp(&sw, "1001", "1002");
    caller.invite_with_digest("pw1001");
    let inv = callee.request(Method::Invite);
    callee.answer(&inv, 200, true);
    let ok = caller.phone.response(200, Method::Invite);
    assert!(ok.headers.get(&HeaderName::Contact).unwrap().contains(";transport=tcp"), "Contact for the TCP flow");
    let to_caller = media_of(&ok.body);
    caller.to = Some(ok.headers.get(&HeaderName::To).unwrap().to_owned());
    caller.in_dialog(Method::Ack);
    let ack = callee.request(Method::Ack);
    let to_callee = media_of(&inv.body);
    assert!(rtp_flows(&caller.rtp, to_caller, &callee.rtp, 7) > 0);
    assert!(rtp_flows(&callee.rtp, to_callee, &caller.rtp, 8) > 0);
    // The callee hangs up: BYE in its dialog; the caller gets one down its TCP flow.
    let m = format!(
        "BYE {target} SIP/2.0\r\nVia: SIP/2.0/TCP {me};branch=z9hG4bK{b}\r\nMax-Forwards: 70\r\nFrom: {from};tag={tag}\r\nTo: {to}\r\n\
         Call-ID: {cid}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        target = inv.headers.get(&HeaderName::Contact).unwrap().trim_matches(['<', '>']),
        me = common::Link::local(&callee.tcp),
        b = hex(),
        from = inv.headers.get(&HeaderName::To).unwrap(),
        tag = callee.tag,
        to = ack.headers.get(&HeaderName::From).unwrap(),
        cid = inv.headers.call_id().unwrap(),
    );
    common::Link::send(&mut callee.tcp, m.as_bytes());
    let bye = caller.phone.request(Method::Bye);
    assert_eq!(bye.headers.call_id().unwrap(), caller.call_id);
    caller.phone.send(&Message::Response(answer(&bye, 200, &caller.tag, "sip:1001@127.0.0.1", None)));
    let rec = ended_record(&lab, &caller.call_id);
    assert_eq!(rec["end_reason"], "callee_bye");
    assert!(rec["caller_media"]["packets_in"].as_u64().unwrap() > 0);
}

#[test]
fn a_callee_that_roams_mid_call_is_followed_to_its_new_flow_and_address() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    let sw = lab.start(&trusted());
    let (mut caller, mut callee, inv) = answered(&sw);
    // Its public address changes: new flow from 127.0.0.2, registered again, then a
    // re-INVITE with its (new) bearer address from there.
    callee.roam(&sw, std::net::Ipv4Addr::new(127, 0, 0, 2), "1002", "pw1002");
    let moved =
        sdp(callee.rtp.local_addr().unwrap().port(), "callee").replace("o=callee 1 1", "o=callee 1 2").replace("127.0.0.1", "127.0.0.2");
    callee.reinvite(&sw, &inv, 2, &moved);
    let reinvite = caller.phone.request(Method::Invite);
    let answer_sdp = sdp(caller.rtp.local_addr().unwrap().port(), "caller");
    caller.phone.send(&Message::Response(answer(&reinvite, 200, &caller.tag, "sip:1001@127.0.0.1", Some(answer_sdp))));
    let ok = match callee.message() {
        Message::Response(r) => r,
        Message::Request(r) => panic!("expected the 200 for the re-INVITE, got {}", r.method),
    };
    assert_eq!(ok.status, 200, "the answer comes down the new flow");
    // Media from the new address is relayed (the leg latched to 127.0.0.2).
    assert!(rtp_flows(&callee.rtp, media_of(&inv.body), &caller.rtp, 0x20a3) > 0, "RTP from the roamed address");
    // The caller hangs up: the BYE reaches the callee down its new flow.
    caller.in_dialog(Method::Bye);
    let bye = callee.request(Method::Bye);
    callee.answer(&bye, 200, false);
    caller.phone.response(200, Method::Bye);
}

#[test]
fn a_relay_out_of_ports_answers_503() {
    let lab = lab_with(&[("1001", None), ("1002", None)]);
    // Room for one call: two RTP/RTCP pairs, the first four ports of the switch's reserved block.
    let sw = lab.start(&trusted().relay_port_count(4));
    assert_eq!(sw.relay_ports(), format!("{}-{}", sw.port_block().port(0), sw.port_block().port(3)));
    let (_caller, _callee, _) = answered(&sw);
    let mut second = Caller::new(&sw, "1001", "1002");
    let invite = second.invite(None);
    let r = second.phone.response(503, Method::Invite);
    assert!(r.reason.contains("relay"), "{}", r.reason);
    second.ack_non_2xx(&invite, &r);
    assert_eq!(ended_record(&lab, &second.call_id)["end_reason"], "no_relay_ports");
}
