//! A node of a cluster on virtual time: an INVITE for a number with no live
//! flow here waits for the store's look-up, goes to the node holding the flow
//! with a flow token bound to its Call-ID, or home when none does; a CANCEL
//! while it waits ends it; a forwarded INVITE is taken on its token (no
//! digest), refused with 403 on a bad one, and answered 430 when the flow is
//! gone here.

use super::*;
use crate::cluster::token::{self, Claim};
use crate::cluster::{ClusterConfig, RemoteBinding, Secret};
use crate::core::LookupId;
use crate::store::WallClock;
use sipcore::Method;

/// Unix time at the lab's t0.
const T0_UNIX: u64 = 1_800_000_000;

fn secret() -> Secret {
    Secret::new(b"core-test-cluster-secret-0123456".to_vec()).unwrap()
}

/// A lab whose core is node `node` of a cluster.
fn node(name: &str) -> Lab {
    let mut lab = Lab::new();
    let mut cfg = config(FLOW_TIMER);
    cfg.cluster = Some(ClusterConfig { node: name.into(), secret: secret(), clock: WallClock::new(lab.t0, T0_UNIX * 1000) });
    let t0 = lab.t0;
    lab.core = Core::new(t0, cfg, vec![subscriber()].into_iter().collect(), Vec::new(), StdRng::seed_from_u64(11));
    lab.drain();
    lab.take();
    lab
}

/// The look-up the core asked for, for `number`.
fn lookup(out: &[(Instant, Output)], number: &str) -> LookupId {
    let ids: Vec<LookupId> = out
        .iter()
        .filter_map(|(_, o)| match o {
            Output::FindBinding { id, number: n } if n == number => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 1, "one look-up for {number}: {out:#?}");
    ids[0]
}

fn node_b() -> RemoteBinding {
    RemoteBinding { node: "node-b".into(), address: addr("10.0.0.2:5070") }
}

#[test]
fn a_call_for_a_number_registered_elsewhere_goes_to_that_node_with_a_token() {
    let mut lab = node("node-a");
    lab.invite(lab.at(1, 0), 1);
    let out = lab.take();
    let id = lookup(&out, "1001");
    assert!(sent(&out).iter().all(|(_, _, m)| !matches!(m, Message::Response(r) if r.status >= 200)), "waits: {out:#?}");

    let answered = lab.at(1, 2);
    lab.now = answered;
    lab.core.handle_binding(answered, id, Some(node_b()));
    lab.drain();
    let out = lab.take();
    let (call, to) = out
        .iter()
        .find_map(|(_, o)| match o {
            Output::Connect { call, to } => Some((*call, to.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("a connection to node-b: {out:#?}"));
    assert_eq!((to.host.as_str(), to.port, to.transport), ("10.0.0.2", 5070, TransportKind::Tcp));
    let cdr = out.iter().find_map(|(_, o)| match o {
        Output::Cdr(c) => Some(c.clone()),
        _ => None,
    });
    assert_eq!(cdr.and_then(|c| c.route_reason), Some("via_node:node-b".into()), "the record says which node carries the callee leg");

    let to_b = Flow { id: FlowId(9), transport: TransportKind::Tcp, local: addr("10.0.0.1:41000"), remote: addr("10.0.0.2:5070") };
    lab.core.handle_connected(answered, call, Ok((to_b, to_b.local)));
    lab.drain();
    let out = lab.take();
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 1, "{out:#?}");
    let (_, flow, inv) = &invites[0];
    assert_eq!(*flow, to_b, "down the connection to node-b");
    assert_eq!(inv.uri, "sip:1001@10.0.0.2:5070;transport=tcp");
    let route = inv.headers.get(&HeaderName::Route).unwrap();
    assert!(route.starts_with("<sip:ft1.") && route.ends_with("@10.0.0.2:5070;transport=tcp;lr>"), "{route}");
    let tok = token::of(inv).unwrap();
    let call_id = inv.headers.call_id().unwrap();
    assert_eq!(token::verify(&secret(), &tok, "node-b", "1001", call_id, T0_UNIX + 1).as_deref(), Ok("node-a"));
    assert!(token::verify(&secret(), &tok, "node-b", "1001", call_id, T0_UNIX + 1 + token::LIFETIME + 1).is_err(), "it expires");
}

#[test]
fn no_binding_elsewhere_goes_home_and_a_cancel_while_looking_ends_the_call() {
    let mut lab = node("node-a");
    lab.invite(lab.at(1, 0), 1);
    let id = lookup(&lab.take(), "1001");
    lab.core.handle_binding(lab.at(1, 1), id, None);
    lab.drain();
    let out = lab.take();
    assert!(out.iter().any(|(_, o)| matches!(o, Output::Connect { .. }) || matches!(o, Output::Transmit(_))), "home: {out:#?}");
    assert_eq!(lab.core.calls(), 1);

    lab.invite(lab.at(2, 0), 2);
    let id = lookup(&lab.take(), "1001");
    let cancel = "CANCEL sip:1001@switch.test SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKgw2;rport\nMax-Forwards: 70\n\
                  From: <sip:5550100@gw.example>;tag=gw2\nTo: <sip:1001@switch.test>\nCall-ID: call-2@gw.example\nCSeq: 1 CANCEL\nContent-Length: 0\n\n";
    lab.deliver(lab.at(2, 1), gateway_flow(), cancel);
    let out = lab.take();
    only_response(&out, 200);
    only_response(&out, 487);
    lab.core.handle_binding(lab.at(2, 2), id, Some(node_b()));
    lab.drain();
    assert!(lab.take().is_empty(), "the cancelled INVITE is gone");
    assert_eq!(lab.core.calls(), 1, "only the first call");
}

/// An INVITE for 1001 from node-a's address (not a trusted peer) with `route`.
fn forwarded(lab: &mut Lab, t: Instant, n: u32, route: Option<String>) -> Vec<(Instant, Output)> {
    let from_a = Flow { id: FlowId(7), transport: TransportKind::Tcp, local: addr("192.0.2.1:5060"), remote: addr("10.0.0.1:41000") };
    let call_id = format!("hop-{n}@switch.test");
    let route = route.map(|r| format!("Route: {r}\n")).unwrap_or_default();
    let sdp = "v=0\r\no=a 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n";
    let text = format!(
        "INVITE sip:1001@192.0.2.1:5060;transport=tcp SIP/2.0\nVia: SIP/2.0/TCP 10.0.0.1:41000;branch=z9hG4bKhop{n};rport\nMax-Forwards: 69\n\
         From: <sip:7001@{REALM}>;tag=a{n}\nTo: <sip:1001@{REALM}>\nCall-ID: {call_id}\nCSeq: 1 INVITE\n{route}\
         Contact: <sip:switch@10.0.0.1:41000;transport=tcp>\nContent-Type: application/sdp\nContent-Length: {}\n\n{sdp}",
        sdp.len()
    )
    .replace("\r\n", "\n");
    lab.deliver(t, from_a, &text);
    lab.take()
}

fn token_for(secret: &Secret, to: &str, n: u32) -> String {
    let call_id = format!("hop-{n}@switch.test");
    let tok = token::make(secret, &Claim { from: "node-a", to, number: "1001", call_id: &call_id }, T0_UNIX + 10);
    format!("<sip:{tok}@192.0.2.1:5060;transport=tcp;lr>")
}

#[test]
fn a_forwarded_invite_is_taken_on_its_token_refused_on_a_bad_one_and_430_without_the_flow() {
    let mut lab = node("node-b");
    let t = lab.at(10, 0);
    // No flow for 1001 here: a valid token gets 430, and no look-up (one hop only).
    let out = forwarded(&mut lab, t, 1, Some(token_for(&secret(), "node-b", 1)));
    only_response(&out, 430);
    assert!(!out.iter().any(|(_, o)| matches!(o, Output::FindBinding { .. })), "{out:#?}");

    // Forged, for another node, expired: 403.
    let forged = Secret::new(b"another-secret-entirely-01234567".to_vec()).unwrap();
    only_response(&forwarded(&mut lab, t, 2, Some(token_for(&forged, "node-b", 2))), 403);
    only_response(&forwarded(&mut lab, t, 3, Some(token_for(&secret(), "node-c", 3))), 403);
    let late = lab.at(10 + token::LIFETIME + 1, 0);
    only_response(&forwarded(&mut lab, late, 4, Some(token_for(&secret(), "node-b", 4))), 403);
    // None: a stranger, challenged.
    only_response(&forwarded(&mut lab, late, 5, None), 407);

    // The phone registers here: a valid token now rings it, no digest asked.
    let t = lab.at(50, 0);
    lab.register(t, 600);
    lab.take();
    let call_id = "hop-6@switch.test";
    let tok = token::make(&secret(), &Claim { from: "node-a", to: "node-b", number: "1001", call_id }, T0_UNIX + 50);
    let out = forwarded(&mut lab, t, 6, Some(format!("<sip:{tok}@192.0.2.1:5060;transport=tcp;lr>")));
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 1, "{out:#?}");
    assert_eq!(invites[0].1, phone_flow(), "down the phone's flow");
    assert!(invites[0].2.headers.get(&HeaderName::Route).is_none());
}

#[test]
fn look_ups_are_bounded_past_them_a_call_goes_home_at_once() {
    let mut lab = node("node-a");
    let max = crate::core::admit::MAX_LOOKUPS as u32;
    for n in 0..max {
        lab.invite(lab.at(1, 0), n);
    }
    let asked = lab.take().iter().filter(|(_, o)| matches!(o, Output::FindBinding { .. })).count();
    assert_eq!(asked, max as usize);
    lab.invite(lab.at(1, 0), max);
    let out = lab.take();
    assert!(!out.iter().any(|(_, o)| matches!(o, Output::FindBinding { .. })), "no look-up past the bound");
    assert_eq!(lab.core.calls(), 1, "home at once");
}
