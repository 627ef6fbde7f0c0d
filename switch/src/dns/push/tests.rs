//! Push mode's sans-IO parts on virtual time: the queue (coalescing, its
//! bound, back-off, one event per link change), the UPDATE messages and the
//! TSIG round trip with a server played by hickory's response signer, and
//! `[dns.update]`'s checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::config::UpdateSettings;
use super::failure::Failure;
use super::message::{Answer, chunks, pushed, read_answer, sign, update};
use super::queue::{BATCH, LinkEvent, Output, PushQueue, backoff};
use crate::dns::LocationView;
use crate::dns::fixture::{self, name};
use crate::location::{Cause, Change};
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode, UpdateMessage};
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, TsigError};
use hickory_proto::rr::{DNSClass, RData, RecordType, TSigResponseContext, TSigner};
use std::time::{Duration, Instant};

#[test]
fn the_view_marks_exactly_the_numbers_whose_records_may_change() {
    let t0 = Instant::now();
    let (_, view) = world(t0);
    let sink = super::PushSink::new(started(16));
    view.watch(sink.clone()).unwrap();
    assert!(view.watch(sink.clone()).is_err(), "one pusher per view");
    let taken = || match sink.with(|q| q.poll_output(t0)) {
        Some(Output::Push(numbers)) => {
            sink.with(|q| q.handle_result(t0, Ok(())));
            numbers
        }
        other => panic!("{other:?}"),
    };
    view.apply(&Change::Removed { record: fixture::record("1001", t0, 600), cause: Cause::Unregistered });
    view.apply(&Change::Upserted { record: fixture::record("1002", t0, 600), cause: Cause::Registered });
    assert_eq!(taken(), ["1001", "1002"]);
    // A new snapshot: 1001's home goes, 1002 is deprovisioned, 1003 is new; 1004 would be unchanged.
    view.provision(&[fixture::subscriber("1001", None), fixture::subscriber("1003", Some(fixture::HOME))].into_iter().collect());
    let mut marked = taken();
    marked.sort();
    assert_eq!(marked, ["1001", "1002", "1003"]);
    view.provision(&[fixture::subscriber("1001", None), fixture::subscriber("1003", Some(fixture::HOME))].into_iter().collect());
    assert_eq!(sink.with(|q| q.poll_output(t0)), None, "nothing changed, nothing marked");
}

/// A queue past its start-up resynchronisation (of nothing).
fn started(cap: usize) -> PushQueue {
    let mut q = PushQueue::new(cap);
    assert_eq!(q.poll_output(Instant::now()), Some(Output::Resync), "a start resynchronises first");
    q.handle_resync(Vec::new());
    q
}

#[test]
fn a_flapping_number_takes_one_slot_and_is_pushed_once_per_batch() {
    let t0 = Instant::now();
    let mut q = started(4);
    for _ in 0..1000 {
        q.mark("1001");
        q.mark("1002");
    }
    assert_eq!(q.waiting(), 2);
    assert_eq!(q.poll_output(t0), Some(Output::Push(vec!["1001".into(), "1002".into()])));
    // In flight: nothing more leaves, marks wait.
    q.mark("1001");
    assert_eq!(q.poll_output(t0), None);
    q.handle_result(t0, Ok(()));
    assert_eq!(q.poll_output(t0), Some(Output::Push(vec!["1001".into()])), "marked again while in flight: pushed again");
}

#[test]
fn a_full_queue_asks_for_a_resynchronisation_instead_of_growing_or_blocking() {
    let t0 = Instant::now();
    let mut q = started(3);
    for n in ["1", "2", "3", "4", "5"] {
        q.mark(n);
    }
    assert_eq!(q.waiting(), 3, "bounded");
    assert!(q.resyncing(), "the marks it could not keep are covered by a resynchronisation");
    assert_eq!(q.poll_event(), Some(LinkEvent::QueueFull { cap: 3 }), "said once, not dropped silently");
    assert_eq!(q.poll_event(), None);
    assert_eq!(q.poll_output(t0), Some(Output::Resync));
    q.handle_resync((1..=40).map(|i| i.to_string()));
    // Marked numbers first, then the provisioned ones, BATCH at a time, each once.
    let mut pushed = Vec::new();
    while let Some(Output::Push(batch)) = q.poll_output(t0) {
        assert!(batch.len() <= BATCH);
        pushed.extend(batch);
        q.handle_result(t0, Ok(()));
    }
    assert_eq!(&pushed[..3], ["1", "2", "3"]);
    assert_eq!(pushed.len(), 3 + 40, "a number marked and resynchronised is pushed in both passes");
    assert!(!q.resyncing());
}

#[test]
fn failures_back_off_exponentially_to_30_s_and_the_batch_is_kept() {
    assert_eq!(
        (1..=8).map(backoff).collect::<Vec<_>>(),
        [1, 2, 4, 8, 16, 30, 30, 30].map(Duration::from_secs),
        "1 s doubling, capped at 30 s"
    );
    let t0 = Instant::now();
    let mut q = started(16);
    q.mark("1001");
    let mut t = t0;
    for wait in [1, 2, 4, 8, 16, 30, 30] {
        assert_eq!(q.poll_output(t), Some(Output::Push(vec!["1001".into()])));
        q.handle_result(t, Err(Failure::Timeout(Duration::from_secs(2))));
        let retry = t + Duration::from_secs(wait);
        assert_eq!(q.poll_timeout(), Some(retry));
        assert_eq!(q.poll_output(retry - Duration::from_millis(1)), None, "nothing before the back-off ends");
        t = retry;
    }
    // Recovery: what is pending goes, the back-off resets.
    q.mark("1002");
    assert_eq!(q.poll_output(t), Some(Output::Push(vec!["1001".into(), "1002".into()])));
    q.handle_result(t, Ok(()));
    assert_eq!(q.poll_timeout(), None);
    q.mark("1003");
    assert_eq!(q.poll_output(t), Some(Output::Push(vec!["1003".into()])), "no back-off left after a success");
    q.handle_result(t, Err(Failure::Io("connection refused".into())));
    assert_eq!(q.poll_timeout(), Some(t + Duration::from_secs(1)), "a new run of failures starts at 1 s");
}

#[test]
fn the_link_changes_state_once_per_change_not_once_per_failed_update() {
    let t0 = Instant::now();
    let mut q = started(16);
    let mut t = t0;
    let notauth = Failure::rcode(ResponseCode::NotAuth, Some(&TsigError::BadSig));
    let mut events = Vec::new();
    let mut round = |q: &mut PushQueue, result: Result<(), Failure>| {
        q.mark("1001");
        t += Duration::from_secs(60);
        assert!(matches!(q.poll_output(t), Some(Output::Push(_))));
        q.handle_result(t, result);
        while let Some(e) = q.poll_event() {
            events.push(e);
        }
    };
    round(&mut q, Ok(()));
    round(&mut q, Ok(()));
    for _ in 0..5 {
        round(&mut q, Err(Failure::Timeout(Duration::from_secs(2))));
    }
    for _ in 0..3 {
        round(&mut q, Err(notauth.clone()));
    }
    round(&mut q, Ok(()));
    round(&mut q, Ok(()));
    assert_eq!(
        events,
        [
            LinkEvent::Up { after_failures: 0 },
            LinkEvent::Failing(Failure::Timeout(Duration::from_secs(2))),
            LinkEvent::Failing(notauth.clone()),
            LinkEvent::Up { after_failures: 8 },
        ]
    );
    assert_eq!(q.link(), "up");
    assert_eq!(notauth.to_string(), "refused: NOTAUTH (TSIG BADSIG) — check [dns.update.tsig_key]");
}

fn key(secret: &[u8]) -> TSigner {
    TSigner::new(secret.to_vec(), TsigAlgorithm::HmacSha256, name("switch-key."), 300).unwrap()
}

/// The fixture's world pushed under `example.net.`: 1001 live with a home, 1002 nothing.
fn world(t0: Instant) -> (crate::dns::DnsConfig, LocationView) {
    let mut cfg = fixture::cfg();
    cfg.zone = name("example.net.");
    cfg.enum_suffix = name("e164.example.net.");
    let view = LocationView::new();
    view.provision(&[fixture::subscriber("1001", Some(fixture::HOME)), fixture::subscriber("1002", None)].into_iter().collect());
    view.apply(&Change::Upserted { record: fixture::record("1001", t0, 600), cause: Cause::Registered });
    (cfg, view)
}

#[test]
fn an_update_replaces_each_rrset_with_what_records_for_says_at_max_ttl() {
    let t0 = Instant::now();
    let (cfg, view) = world(t0);
    let live = pushed(&cfg, "1001", view.get("1001").as_ref(), t0 + Duration::from_secs(5));
    assert_eq!(live.naptr.len(), 2, "live and home");
    assert!(live.naptr.iter().chain(&live.rl).all(|r| r.ttl == 30), "max_ttl, not the seconds left");
    let none = pushed(&cfg, "1002", view.get("1002").as_ref(), t0);
    let gone = pushed(&cfg, "1009", None, t0);
    assert!(none.naptr.is_empty() && none.rl.is_none() && gone.naptr.is_empty() && gone.rl.is_none());

    let m = update(7, &name("example.net."), &[live, none]);
    assert_eq!(
        (m.id, m.op_code, m.queries[0].name().to_string(), m.queries[0].query_type()),
        (7, OpCode::Update, "example.net.".into(), RecordType::SOA)
    );
    let updates: Vec<(String, DNSClass, RecordType)> =
        m.updates().iter().map(|r| (r.name.to_string(), r.dns_class, r.record_type())).collect();
    let enum_1001 = "1.0.0.1.e164.example.net.".to_owned();
    let rl_1001 = "1001._rl.example.net.".to_owned();
    assert_eq!(
        updates,
        [
            (enum_1001.clone(), DNSClass::ANY, RecordType::NAPTR),
            (enum_1001.clone(), DNSClass::IN, RecordType::NAPTR),
            (enum_1001, DNSClass::IN, RecordType::NAPTR),
            (rl_1001.clone(), DNSClass::ANY, RecordType::TXT),
            (rl_1001, DNSClass::IN, RecordType::TXT),
            ("2.0.0.1.e164.example.net.".into(), DNSClass::ANY, RecordType::NAPTR),
            ("1002._rl.example.net.".into(), DNSClass::ANY, RecordType::TXT),
        ],
        "delete each RRset, then add: one atomic replacement per number"
    );
    assert!(matches!(m.updates()[0].data, RData::Update0(RecordType::NAPTR)) && m.updates()[0].ttl == 0);
    // A name outside the update zone is never sent.
    let outside = update(8, &name("other.net."), &[pushed(&cfg, "1001", view.get("1001").as_ref(), t0)]);
    assert!(outside.updates().is_empty());
}

#[test]
fn a_batch_too_big_for_one_update_is_cut_whole_numbers_at_a_time() {
    let t0 = Instant::now();
    let (cfg, view) = world(t0);
    let one = pushed(&cfg, "1001", view.get("1001").as_ref(), t0);
    let records = vec![one; 32];
    let zone = name("example.net.");
    let single = update(0, &zone, &records[..1]).to_vec().unwrap().len();
    assert_eq!(chunks(&zone, &records, usize::MAX).unwrap().len(), 1);
    let cut = chunks(&zone, &records, single * 5).unwrap();
    assert_eq!(cut.iter().map(|c| c.len()).collect::<Vec<_>>(), [4; 8], "halved until each fits");
    assert!(cut.iter().all(|c| update(0, &zone, c).to_vec().unwrap().len() <= single * 5));
    assert_eq!(chunks(&zone, &records[..1], 10).unwrap().len(), 1, "one number goes whole");
}

/// The server's side: reads the signed UPDATE with `server_key` and answers
/// `rcode`, signed (or, for a bad key, unsigned with the TSIG error).
fn answer(request: &[u8], server_key: &TSigner, rcode: ResponseCode, now: u64) -> Vec<u8> {
    let req = Message::from_vec(request).unwrap();
    let mut resp = Message::new(req.id, MessageType::Response, OpCode::Update);
    resp.metadata.response_code = rcode;
    resp.add_queries(req.queries.clone());
    let signature = match server_key.verify_message_byte(request, None, true) {
        Ok((mac, _, _)) => TSigResponseContext::new(req.id, now, server_key.clone(), mac, None).sign(&resp.to_vec().unwrap()).unwrap(),
        Err(_) => {
            resp.metadata.response_code = ResponseCode::NotAuth;
            TSigResponseContext::bad_signature(req.id, now, server_key.clone()).sign(&resp.to_vec().unwrap()).unwrap()
        }
    };
    resp.set_signature(signature);
    resp.to_vec().unwrap()
}

#[test]
fn a_signed_update_is_accepted_by_the_key_and_only_a_verified_noerror_is_success() {
    let t0 = Instant::now();
    let (cfg, view) = world(t0);
    let records = [pushed(&cfg, "1001", view.get("1001").as_ref(), t0)];
    let now = 1_800_000_000;
    let ours = key(b"0123456789abcdef0123456789abcdef");
    let send = || sign(update(42, &cfg.zone, &records), &ours, now).unwrap();

    // The right key: NOERROR, signed: done.
    let (req, mut verifier) = send();
    assert_eq!(read_answer(&answer(&req, &ours, ResponseCode::NoError, now), 42, &mut verifier), Ok(Answer::Done));
    // Another message's answer is not ours.
    let (_, mut verifier) = send();
    let other = answer(&sign(update(43, &cfg.zone, &records), &ours, now).unwrap().0, &ours, ResponseCode::NoError, now);
    assert_eq!(read_answer(&other, 42, &mut verifier), Ok(Answer::NotOurs));
    // A signed SERVFAIL / REFUSED: failures, with their RCODE.
    for rcode in [ResponseCode::ServFail, ResponseCode::Refused] {
        let (req, mut verifier) = send();
        assert_eq!(read_answer(&answer(&req, &ours, rcode, now), 42, &mut verifier), Err(Failure::rcode(rcode, None)));
    }
    // The server has another secret under the name: NOTAUTH, BADSIG, unsigned.
    let (req, mut verifier) = send();
    let theirs = key(b"another secret, the server's own");
    let refused = read_answer(&answer(&req, &theirs, ResponseCode::NoError, now), 42, &mut verifier).unwrap_err();
    assert_eq!(refused.to_string(), "refused: NOTAUTH (TSIG BADSIG) — check [dns.update.tsig_key]");
    // A NOERROR whose MAC does not verify (a forger without the key) is not success.
    let (req, mut verifier) = send();
    let mut forged = answer(&req, &ours, ResponseCode::NoError, now);
    // The last byte of the MAC: before original ID, error and other length (2 + 2 + 2).
    let mac_end = forged.len() - 7;
    forged[mac_end] ^= 0x01;
    assert!(matches!(read_answer(&forged, 42, &mut verifier), Err(Failure::BadAnswer(_))), "a bad MAC");
    // An unsigned NOERROR is not success either.
    let mut unsigned = Message::new(42, MessageType::Response, OpCode::Update);
    unsigned.metadata.response_code = ResponseCode::NoError;
    let (_, mut verifier) = send();
    assert!(matches!(read_answer(&unsigned.to_vec().unwrap(), 42, &mut verifier), Err(Failure::BadAnswer(_))));
}

#[test]
fn the_documented_shape_parses_and_names_outside_the_update_zone_stop_the_start() {
    let text = "[dns]\nzone = \"example.net.\"\nenum_suffix = \"e164.example.net.\"\n\
                [dns.update]\nserver = \"192.0.2.53:53\"\nzone = \"example.net.\"\n\
                [dns.update.tsig_key]\nname = \"switch-key.\"\nalgorithm = \"hmac-sha256\"\nsecret_env = \"SWITCH_TSIG_SECRET\"\n";
    let c: crate::config::SwitchConfig = toml::from_str(text).unwrap();
    c.validate().unwrap();
    assert!(crate::config::SwitchConfig::default().push().unwrap().is_none(), "off unless set");
    // The default ENUM suffix, e164.arpa., is not inside example.net.
    let outside: crate::config::SwitchConfig = toml::from_str(&text.replace("enum_suffix = \"e164.example.net.\"\n", "")).unwrap();
    let e = outside.validate().unwrap_err().to_string();
    assert!(e.contains("dns.update") && e.contains("example.net.") && e.contains("e164.arpa.") && e.contains("ENUM"), "{e}");
    assert!(
        toml::from_str::<crate::config::SwitchConfig>(&text.replace("[dns.update.tsig_key]", "colour = 1\n[dns.update.tsig_key]")).is_err()
    );
}

fn settings(toml_text: &str) -> UpdateSettings {
    toml::from_str(toml_text).unwrap()
}

#[test]
fn the_update_section_is_checked_and_the_secret_never_shown() {
    let suffix = name("e164.example.net.");
    let zone = name("example.net.");
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("tsig.secret");
    std::fs::write(&secret, "  c2VjcmV0LXNlY3JldC1zZWNyZXQ=\n").unwrap();
    let good = format!(
        "server = \"127.0.0.1:5353\"\nzone = \"Example.NET\"\n[tsig_key]\nname = \"switch-key\"\nsecret_file = \"{}\"\n",
        secret.display()
    );
    let cfg = settings(&good).resolve(&suffix, &zone).unwrap();
    assert_eq!((cfg.server.to_string(), cfg.zone.to_string()), ("127.0.0.1:5353".into(), "example.net.".into()));
    assert_eq!(cfg.key.key(), b"secret-secret-secret");
    let shown = format!("{cfg:?}");
    assert!(shown.contains("switch-key.") && !shown.contains("c2Vj") && !shown.contains("secret-secret"), "{shown}");

    let err = |text: &str, suffix: &str, zone: &str| settings(text).resolve(&name(suffix), &name(zone)).unwrap_err().to_string();
    let e = err(&good, "e164.arpa.", "example.net.");
    assert!(e.contains("example.net.") && e.contains("e164.arpa.") && e.contains("ENUM"), "{e}");
    let e = err(&good, "e164.example.net.", "switch.local.");
    assert!(e.contains("switch.local.") && e.contains("RL TXT"), "{e}");
    let e = err(&good.replace("[tsig_key]\n", "[tsig_key]\nalgorithm = \"hmac-md5\"\n"), "e164.example.net.", "example.net.");
    assert!(e.contains("hmac-md5") && e.contains("supported: hmac-sha256"), "{e}");
    let e = err(&good.replace("127.0.0.1:5353", "dns.example.net"), "e164.example.net.", "example.net.");
    assert!(e.contains("server"), "{e}");
    let both = good.replace("secret_file", "secret_env = \"X\"\nsecret_file");
    assert!(err(&both, "e164.example.net.", "example.net.").contains("exactly one"));
    std::fs::write(&secret, "not base64 at all: hunter2!").unwrap();
    let e = err(&good, "e164.example.net.", "example.net.");
    assert!(e.contains("not a base64 secret") && !e.contains("hunter2"), "{e}");
    // From the environment: a variable that is not set is named.
    let env =
        "server = \"[::1]:53\"\nzone = \"example.net.\"\n[tsig_key]\nname = \"k.\"\nsecret_env = \"SWITCH_TEST_NO_SUCH_SECRET_9F3\"\n";
    let e = settings(env).resolve(&suffix, &zone).unwrap_err().to_string();
    assert!(e.contains("secret_env SWITCH_TEST_NO_SUCH_SECRET_9F3"), "{e}");
}
