//! REGISTER → a call down the phone's flow → the flow falls silent → the next
//! call goes home, each at its exact instant.

use super::*;
use crate::location::Cause;
use crate::record::RlState;
use sipcore::Method;

#[test]
fn a_call_goes_down_the_flow_until_it_falls_silent_then_home() {
    let mut lab = Lab::new();

    // The phone registers at t = 10 s. The 200 OK waits for the record's commit.
    lab.hold_commits = true;
    let registered = lab.at(10, 0);
    lab.send_register(registered, 600);
    let out = lab.take();
    assert!(sent(&out).is_empty(), "no 200 OK before the record is committed: {out:#?}");
    let stored = changes(&out);
    assert!(matches!(&stored[..], [(t, Change::Upserted { record, cause: Cause::Registered })]
        if *t == registered && record.expires_at == registered + Duration::from_secs(600)));
    let ticket = lab.held.pop().expect("a commit asked for");
    lab.core.handle_committed(registered, ticket);
    lab.hold_commits = false;
    lab.drain();
    let ok = only_response(&lab.take(), 200);
    assert_eq!(header(&ok, &HeaderName::FlowTimer), "30");
    assert_eq!(header(&ok, &HeaderName::Require), "outbound");

    // Dead at the last sign of life + Flow-Timer + grace.
    let silence = Duration::from_secs(u64::from(FLOW_TIMER + GRACE));
    assert_eq!(lab.core.table().flow_deadline(&phone_flow()), Some(registered + silence));

    // t = 15 s: a call for 1001 goes down the phone's own flow.
    lab.invite(lab.at(15, 0), 1);
    let out = lab.take();
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 1, "{out:#?}");
    let (_, flow, invite) = &invites[0];
    assert_eq!(*flow, phone_flow(), "down the registered flow");
    assert_eq!(&*invite.uri, "sip:1001@10.1.0.2:5060;transport=tcp;ob", "to the registered Contact");
    assert!(out.iter().any(|(_, o)| matches!(o, Output::Cdr(c) if c.route == "flow" && c.invite_at == lab.at(15, 0))));
    // The phone is busy: the gateway hears 486 and the call is over.
    let mut busy = Response::to_request(invite, 486);
    busy.headers.set(HeaderName::To, format!("{};tag=ph9", invite.headers.get(&HeaderName::To).unwrap()));
    lab.deliver_message(lab.at(16, 0), phone_flow(), Message::Response(busy));
    let out = lab.take();
    assert_eq!(only_response(&out, 486).status, 486);
    assert!(out.iter().any(|(t, o)| matches!(o, Output::CallEnded { cdr, .. } if cdr.end_at == Some(*t) && *t == lab.at(16, 0))));

    // t = 30 s: a keep-alive ping is life on the flow; the deadline moves to 70 s.
    let ping = lab.at(30, 0);
    lab.transport(ping, TransportEvent::Ping { flow: phone_flow() });
    assert_eq!(lab.core.table().flow_deadline(&phone_flow()), Some(ping + silence));
    let route = |lab: &mut Lab, t: Instant| {
        lab.advance_to(t);
        lab.core.handle_route(t, ControlId(1), "1001");
        lab.drain();
        lab.take().into_iter().find_map(|(_, o)| if let Output::ControlReply { line, .. } = o { Some(line) } else { None }).unwrap()
    };
    lab.advance_to(ping + silence - Duration::from_millis(1));
    assert!(changes(&lab.take()).is_empty(), "alive a millisecond before");
    assert_eq!(route(&mut lab, ping + silence - Duration::from_millis(1)), "route 1001 flow observed=198.51.100.7:40000 transport=tcp");

    // Then silence. At exactly 70 s the flow is dead: closed, the record
    // signalling-dropped; not a millisecond earlier.
    lab.advance_to(ping + silence);
    let out = lab.take();
    let dead = changes(&out);
    assert_eq!(dead.len(), 2, "{dead:#?}");
    assert!(matches!(&dead[0], (t, Change::Upserted { record, cause: Cause::FlowSilent })
        if *t == ping + silence && record.state == RlState::SignallingDropped && record.flow_id.is_none()));
    assert!(matches!(&dead[1], (t, Change::CloseFlow { flow, cause: Cause::FlowSilent }) if *t == ping + silence && *flow == phone_flow()));
    assert_eq!(route(&mut lab, ping + silence), format!("route 1001 home reason=signalling_dropped uri={HOME}"));

    // t = 71 s: the next call goes home, over UDP to the provisioned address.
    lab.invite(lab.at(71, 0), 2);
    let out = lab.take();
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 1, "{out:#?}");
    let (t, flow, invite) = &invites[0];
    assert_eq!(*t, lab.at(71, 0));
    assert_eq!((flow.id, flow.transport, flow.remote), (FlowId(1), TransportKind::Udp, addr("192.0.2.50:5060")));
    assert_eq!(&*invite.uri, HOME);
    assert!(out.iter().any(|(_, o)| matches!(o, Output::Cdr(c)
        if c.route == "home" && c.route_reason.as_deref() == Some("signalling_dropped"))));
}
