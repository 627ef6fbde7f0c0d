//! The same store tests on every backend: the SQLite file, one real
//! `redis-server` and a real six-process Redis Cluster. Each backend runs
//! every body in turn on one fixture (a Cluster takes seconds to build),
//! emptied between bodies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sipcore::transport::TransportKind;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switch::cdr::{Cdr, LegCounters};
use switch::record::{RlRecord, RlState, UnixTime};
use switch::store::{Backend, NewSubscriber, RecordChange, RedisStore, StoreError, StoreTarget, SubscriberUpdate};
use tests::redis::{RedisCluster, RedisServer};
use tests::wait_for;

mod common;

use common::store::{full_1001, loaded, mac};

/// Where a body's stores come from.
enum Fixture {
    Sqlite(tempfile::TempDir),
    Redis(RedisServer),
    Cluster(RedisCluster),
}

impl Fixture {
    fn target(&self) -> StoreTarget {
        match self {
            Fixture::Sqlite(dir) => StoreTarget::Dir(dir.path().to_path_buf()),
            Fixture::Redis(r) => StoreTarget::Redis(r.url().parse().unwrap()),
            Fixture::Cluster(c) => StoreTarget::Redis(c.url().parse().unwrap()),
        }
    }

    /// A new connection, writing as `node`.
    fn open_as(&self, node: &str) -> Backend {
        Backend::open(&self.target(), Some(node)).unwrap()
    }

    fn open(&self) -> Backend {
        self.open_as("n1")
    }

    /// Everything stored goes.
    fn reset(&mut self) {
        match self {
            Fixture::Sqlite(dir) => *dir = tempfile::tempdir().unwrap(),
            Fixture::Redis(r) => assert_eq!(r.cli(&["FLUSHALL"]).unwrap(), "OK"),
            Fixture::Cluster(c) => {
                for n in &c.nodes {
                    // Replicas refuse (READONLY) and follow their master.
                    let _ = n.cli(&["FLUSHALL"]);
                }
            }
        }
    }

    fn is_redis(&self) -> bool {
        !matches!(self, Fixture::Sqlite(_))
    }
}

type Body = fn(&Fixture);

const BODIES: &[(&str, Body)] = &[
    ("provision_update_remove_list", provision_update_remove_list),
    ("invalid_input_is_refused", invalid_input_is_refused),
    ("records_write_read_expire", records_write_read_expire),
    ("call_records", call_records),
    ("reopening_keeps_everything", reopening_keeps_everything),
    ("a_batch_writes_all_but_the_unprovisioned", a_batch_writes_all_but_the_unprovisioned),
];

fn run_all(mut fixture: Fixture) {
    for (name, body) in BODIES {
        fixture.reset();
        eprintln!("-- {name}");
        body(&fixture);
    }
}

#[test]
fn on_sqlite() {
    run_all(Fixture::Sqlite(tempfile::tempdir().unwrap()));
}

#[test]
fn on_one_redis_server() {
    run_all(Fixture::Redis(RedisServer::start()));
}

#[test]
fn on_a_redis_cluster() {
    run_all(Fixture::Cluster(RedisCluster::start()));
}

/// A Redis server restarted under a connected store (AOF on): the data is
/// there, and the store reconnects by itself; at most the first command after
/// the restart fails, as a Redis error, never with wrong data.
#[test]
fn a_restarted_redis_server_keeps_everything_and_the_store_reconnects() {
    let mut redis = RedisServer::start_persistent();
    let target = StoreTarget::Redis(redis.url().parse().unwrap());
    let store = Backend::open(&target, Some("n1")).unwrap();
    let sub = store.add_subscriber(NewSubscriber::new("1001", "pw", "switch.local")).unwrap();
    let rec = record("1001", now() + 600);
    store.put_record(&rec).unwrap();
    redis.restart();
    let first = store.subscribers();
    assert!(matches!(&first, Ok(v) if *v == [sub.clone()]) || matches!(&first, Err(StoreError::Redis(_))), "{first:?}");
    assert_eq!(store.subscribers().unwrap(), [sub]);
    assert_eq!(store.records().unwrap(), [rec]);
}

/// A Cluster cannot put a number's keys and the index in one transaction: an
/// add cut short between the two (here: the index entry taken away by hand)
/// leaves a subscriber no listing finds, until adding it again, refused as
/// existing, indexes it.
#[test]
fn an_add_cut_short_is_healed_by_the_next_add() {
    let redis = RedisServer::start();
    let store = Backend::open(&StoreTarget::Redis(redis.url().parse().unwrap()), None).unwrap();
    let sub = store.add_subscriber(NewSubscriber::new("1001", "pw", "switch.local")).unwrap();
    assert_eq!(redis.cli(&["SREM", "sw:{subscribers}:index", "1001"]).unwrap(), "1");
    assert!(store.subscribers().unwrap().is_empty());
    assert!(matches!(store.add_subscriber(NewSubscriber::new("1001", "other", "switch.local")), Err(StoreError::Exists(_))));
    assert_eq!(store.subscribers().unwrap(), [sub], "indexed again, with its first credentials");
}

/// The round trips of a batch on one server: the whole batch in one
/// pipeline (fewer socket reads than records; one each before), each record
/// still its own script, and one `WAIT` for the lot (one per record before).
/// The first batch meets a script cache without the scripts (`NOSCRIPT`):
/// it loads them and goes through.
#[test]
fn a_batch_on_one_redis_server_is_one_pipeline_and_one_wait() {
    let master = RedisServer::start();
    let _replica = RedisServer::start_replica_of(&master);
    let mut store = RedisStore::open(&master.url().parse().unwrap(), Some("n1")).unwrap();
    store.set_wait_replicas(1);
    let batch = provisioned_batch(&store, 40);
    let changes: Vec<RecordChange<'_>> = batch.iter().map(RecordChange::Put).collect();
    assert_eq!(master.cli(&["SCRIPT", "FLUSH"]).unwrap(), "OK");
    assert!(store.write_records(&changes).unwrap().iter().all(|o| matches!(o, Ok(true))), "after NOSCRIPT");

    assert_eq!(master.cli(&["CONFIG", "RESETSTAT"]).unwrap(), "OK");
    let reads = stat(&master, "stats", "total_reads_processed");
    let outcomes = store.write_records(&changes).unwrap();
    assert!(outcomes.iter().all(|o| matches!(o, Ok(true))), "{outcomes:?}");
    assert_eq!(calls(&master, "evalsha"), 40, "one script per record");
    assert_eq!(calls(&master, "wait"), 1, "one WAIT per batch");
    // The second INFO's own read counts too; a pipeline of ~25 kB may come in a few reads.
    let read = stat(&master, "stats", "total_reads_processed") - reads;
    assert!(read < 20, "{read} socket reads for 40 records: not pipelined");
}

/// On a Cluster: each master gets its records' scripts and exactly one
/// `WAIT` (none for a master the batch did not touch).
#[test]
fn a_batch_on_a_redis_cluster_waits_once_per_master_touched() {
    let cluster = RedisCluster::start();
    let mut store = RedisStore::open(&cluster.url().parse().unwrap(), Some("n1")).unwrap();
    store.set_wait_replicas(1);
    let batch = provisioned_batch(&store, 30);
    let changes: Vec<RecordChange<'_>> = batch.iter().map(RecordChange::Put).collect();
    assert!(store.write_records(&changes).unwrap().iter().all(|o| matches!(o, Ok(true))), "scripts loaded");
    let masters: Vec<&RedisServer> = cluster.nodes.iter().filter(|n| !n.is_replica()).collect();
    for m in &masters {
        assert_eq!(m.cli(&["CONFIG", "RESETSTAT"]).unwrap(), "OK");
    }
    let outcomes = store.write_records(&changes).unwrap();
    assert!(outcomes.iter().all(|o| matches!(o, Ok(true))), "{outcomes:?}");
    let evalsha: Vec<u64> = masters.iter().map(|m| calls(m, "evalsha")).collect();
    let waits: Vec<u64> = masters.iter().map(|m| calls(m, "wait")).collect();
    assert_eq!(evalsha.iter().sum::<u64>(), 30, "{evalsha:?}");
    let touched: Vec<u64> = evalsha.iter().map(|&n| u64::from(n > 0)).collect();
    assert_eq!(waits, touched, "one WAIT per master written to (scripts per master: {evalsha:?})");
    assert!(touched.iter().sum::<u64>() > 1, "30 numbers spread over several masters: {evalsha:?}");
}

/// Provisions `n` numbers (2001...) and returns a record for each.
fn provisioned_batch(store: &RedisStore, n: u16) -> Vec<RlRecord> {
    (0..n)
        .map(|i| {
            let number = (2001 + i).to_string();
            store.add_subscriber(NewSubscriber::new(&number, "pw", "switch.local")).unwrap();
            record(&number, now() + 600)
        })
        .collect()
}

/// `calls=` of `cmdstat_<command>` in `INFO commandstats` (0 when never run).
fn calls(server: &RedisServer, command: &str) -> u64 {
    let info = server.cli(&["INFO", "commandstats"]).unwrap();
    let line = info.lines().find(|l| l.starts_with(&format!("cmdstat_{command}:")));
    line.and_then(|l| l.split([':', ',']).find_map(|f| f.strip_prefix("calls="))).map_or(0, |n| n.parse().unwrap())
}

/// A numeric field of `INFO section`.
fn stat(server: &RedisServer, section: &str, field: &str) -> u64 {
    let info = server.cli(&["INFO", section]).unwrap();
    let value = info.lines().find_map(|l| l.strip_prefix(&format!("{field}:")));
    value.unwrap_or_else(|| panic!("no {field} in {info}")).trim().parse().unwrap()
}

fn now() -> UnixTime {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A record as stored and read back (no runtime-only fields).
fn record(number: &str, expires_at: UnixTime) -> RlRecord {
    loaded(common::store::record(number, expires_at))
}

fn numbers(store: &Backend) -> Vec<String> {
    store.subscribers().unwrap().into_iter().map(|s| s.number).collect()
}

fn provision_update_remove_list(f: &Fixture) {
    let store = f.open();
    assert_eq!(store.subscriber("1001").unwrap(), None);
    let v0 = store.subscribers_version().unwrap();
    let added = store.add_subscriber(full_1001()).unwrap();
    assert_eq!(store.subscriber("1001").unwrap(), Some(added.clone()));
    assert_ne!(store.subscribers_version().unwrap(), v0, "a change moves the version");
    let err = store.add_subscriber(NewSubscriber::new("1001", "other", "switch.local")).unwrap_err();
    assert!(matches!(&err, StoreError::Exists(n) if n == "1001"), "{err:?}");
    store.add_subscriber(NewSubscriber::new("1000", "pw", "switch.local")).unwrap();
    assert_eq!(numbers(&store), ["1000", "1001"], "ordered by number");

    let upd = SubscriberUpdate { mac: Some(None), home: Some(None), ..Default::default() };
    let after = store.update_subscriber("1001", upd).unwrap();
    assert_eq!((after.mac, after.home.as_deref(), &after.ha1_md5), (None, None, &added.ha1_md5));
    let upd = SubscriberUpdate { password: Some("third".into()), realm: Some("example.net".into()), ..Default::default() };
    let after = store.update_subscriber("1001", upd).unwrap();
    assert_eq!(after.ha1_sha256, sipcore::auth::ha1(sipcore::auth::Algorithm::Sha256, "1001", "example.net", "third"));
    assert_eq!(store.subscriber("1001").unwrap(), Some(after.clone()));
    // Another connection (the CLI beside a running switch) sees it.
    assert_eq!(f.open_as("n2").subscriber("1001").unwrap(), Some(after));
    let v1 = store.subscribers_version().unwrap();

    store.remove_subscriber("1001").unwrap();
    assert!(store.subscribers_version().unwrap() != v1);
    assert_eq!(store.subscriber("1001").unwrap(), None);
    assert!(matches!(store.remove_subscriber("1001"), Err(StoreError::NotFound(_))));
    assert!(matches!(
        store.update_subscriber("1001", SubscriberUpdate { mac: Some(None), ..Default::default() }),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(numbers(&store), ["1000"]);
}

fn invalid<T>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Invalid(_)))
}

fn invalid_input_is_refused(f: &Fixture) {
    let store = f.open();
    for bad in ["", "10 01", "1001@x", "{1001}", "a/b"] {
        assert!(invalid(store.add_subscriber(NewSubscriber::new(bad, "pw", "r"))), "number {bad:?}");
    }
    assert!(invalid(store.add_subscriber(NewSubscriber::new("2000", "", "r"))), "empty password");
    assert!(invalid(store.add_subscriber(NewSubscriber::new("2000", "pw", "a\"b"))), "realm");
    assert!(invalid(store.add_subscriber(NewSubscriber { home: Some("mailto:x@y"), ..NewSubscriber::new("2000", "pw", "r") })), "home");
    assert_eq!(store.subscriber("2000").unwrap(), None, "nothing half-written");
    store.add_subscriber(NewSubscriber::new("1001", "pw", "switch.local")).unwrap();
    let err = store.update_subscriber("1001", SubscriberUpdate { realm: Some("other".into()), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("needs a new password"), "{err}");
    assert!(invalid(store.put_record(&RlRecord { expires_at: u64::MAX, ..record("1001", now()) })));
    let bad = Cdr { call_id: "c2".into(), route: "sideways".into(), ..Cdr::default() };
    assert!(invalid(store.put_cdr(&bad)), "the route is checked");
}

fn records_write_read_expire(f: &Fixture) {
    let store = f.open();
    let t = now();
    let err = store.put_record(&record("1001", t + 3600)).unwrap_err();
    assert!(matches!(&err, StoreError::NotFound(n) if n == "1001"), "a record needs a provisioned number: {err:?}");
    for n in ["1001", "1002", "1003"] {
        store.add_subscriber(NewSubscriber::new(n, "pw", "switch.local")).unwrap();
    }
    let r1 = record("1001", t + 3600);
    let r2 = record("1002", t + 3600);
    store.put_record(&r1).unwrap();
    store.put_record(&r2).unwrap();
    assert_eq!(store.records().unwrap(), [r1.clone(), r2.clone()]);
    assert_eq!(store.record("1002").unwrap(), Some(r2.clone()));
    assert_eq!(store.record("1003").unwrap(), None);
    let node = f.is_redis().then(|| "n1".to_owned());
    assert_eq!(store.records_with_nodes().unwrap(), [(r1.clone(), node.clone()), (r2.clone(), node.clone())], "the node is recorded");

    // Upsert: every field replaced, optional ones cleared.
    let r1b = RlRecord {
        mac: None,
        private_ip: None,
        public_ip_claimed: None,
        bearer_port: None,
        instance: None,
        reg_id: None,
        user_agent: None,
        behind_nat: false,
        outbound: false,
        transport: TransportKind::Udp,
        state: RlState::Conflict,
        ..record("1001", t + 7200)
    };
    f.open_as("n2").put_record(&r1b).unwrap();
    let node2 = f.is_redis().then(|| "n2".to_owned());
    assert_eq!(store.records_with_nodes().unwrap(), [(r1b.clone(), node2), (r2.clone(), node.clone())], "the last writer holds the flow");
    let own = if f.is_redis() { vec![r2.clone()] } else { vec![r1b.clone(), r2.clone()] };
    assert_eq!(store.own_records().unwrap(), own, "a restarted node restores only its own bindings");
    if f.is_redis() {
        assert!(!store.delete_record("1001").unwrap(), "n1 never deletes the binding n2 holds now");
        store.put_record(&RlRecord { state: RlState::SignallingDropped, ..r1.clone() }).unwrap();
        assert_eq!(store.record("1001").unwrap(), Some(r1b.clone()), "nor marks its flow dropped");
        store.put_record(&r1b).unwrap();
        let held = store.records_with_nodes().unwrap().into_iter().find(|(r, _)| &*r.number == "1001");
        assert_eq!(held, Some((r1b.clone(), Some("n1".into()))), "a REGISTER takes it over");
    }

    // The switch's own expiry: expires_at <= now goes.
    let r3 = RlRecord { state: RlState::SignallingDropped, ..record("1003", t + 3) };
    store.put_record(&r3).unwrap();
    assert!(store.purge_expired(t + 2).unwrap() == 0);
    store.purge_expired(t + 3).unwrap();
    assert_eq!(store.records().unwrap(), [r1b.clone(), r2.clone()]);
    assert_eq!(store.subscribers().unwrap().len(), 3, "purging keeps subscribers");

    // Redis's own: a record whose time is up goes by itself.
    if f.is_redis() {
        store.put_record(&record("1003", now() + 1)).unwrap();
        assert!(store.record("1003").unwrap().is_some());
        wait_for(Duration::from_secs(10), "redis to expire 1003's record", || match store.record("1003").unwrap() {
            None => Ok(()),
            Some(r) => Err(format!("still there, expires_at {}", r.expires_at)),
        });
    }

    assert!(store.delete_record("1001").unwrap());
    assert!(!store.delete_record("1001").unwrap());
    store.remove_subscriber("1002").unwrap();
    assert!(store.records().unwrap().is_empty(), "removing a subscriber removes its record");
}

/// A batch with an unprovisioned number in it: that change alone is
/// `NotFound`, every other one is made; a delete says whether there was a
/// record.
fn a_batch_writes_all_but_the_unprovisioned(f: &Fixture) {
    let store = f.open();
    let t = now();
    for n in ["1001", "1002", "1003"] {
        store.add_subscriber(NewSubscriber::new(n, "pw", "switch.local")).unwrap();
    }
    let (r1, r3) = (record("1001", t + 600), record("1003", t + 600));
    store.put_record(&r3).unwrap();
    let stranger = record("1999", t + 600);
    let changes = [RecordChange::Put(&r1), RecordChange::Put(&stranger), RecordChange::Delete("1002"), RecordChange::Delete("1003")];
    let outcomes = store.write_records(&changes).unwrap();
    assert!(matches!(outcomes.as_slice(), [Ok(true), Err(StoreError::NotFound(n)), Ok(false), Ok(true)] if n == "1999"), "{outcomes:?}");
    assert_eq!(store.records().unwrap(), [r1]);
    assert!(store.write_records(&[]).unwrap().is_empty());
}

fn call_records(f: &Fixture) {
    let store = f.open();
    // A call as the B2BUA records it: opened at the INVITE, then answered and ended.
    let mut rec = Cdr::new("c1@x".into(), "1001".into(), "1002".into(), "flow", 1_800_000_000_123);
    rec.callee_call_id = Some("c1-callee@switch".into());
    store.put_cdr(&rec).unwrap();
    assert_eq!(store.cdrs(true).unwrap(), [rec.clone()]);
    rec.ringing_at = Some(1_800_000_000_400);
    rec.answer_at = Some(1_800_000_001_000);
    store.put_cdr(&rec).unwrap();
    assert_eq!(store.cdrs(true).unwrap(), [rec.clone()], "updated in place, still active");
    (rec.end_at, rec.status, rec.end_reason) = (Some(1_800_000_009_000), Some(200), Some("callee_bye".into()));
    rec.callee_media = Some(LegCounters { packets_in: 7, bytes_in: 1204, ..LegCounters::default() });
    store.put_cdr(&rec).unwrap();
    assert!(store.cdrs(true).unwrap().is_empty(), "ended calls are not active");
    assert_eq!(store.cdrs(false).unwrap(), [rec.clone()]);
    assert_eq!(store.cdr("c1@x").unwrap(), Some(rec.clone()));
    let open =
        Cdr { call_id: "c3".into(), caller: "1003".into(), callee: "1001".into(), route: "flow".into(), invite_at: 5, ..Cdr::default() };
    store.put_cdr(&open).unwrap();
    // Another node's open call is its own to end.
    let other = Cdr { call_id: "c4".into(), route: "flow".into(), invite_at: 7, ..Cdr::default() };
    f.open_as("n2").put_cdr(&other).unwrap();
    let expected_open = if f.is_redis() { 1 } else { 2 };
    assert_eq!(store.end_open_cdrs(9, "switch_restarted").unwrap(), expected_open);
    let closed = store.cdr("c3").unwrap().unwrap();
    assert_eq!((closed.end_at, closed.end_reason.as_deref()), (Some(9), Some("switch_restarted")));
    let listed: Vec<(String, Option<String>)> = store.cdrs_with_nodes(false).unwrap().into_iter().map(|(c, n)| (c.call_id, n)).collect();
    let on = |n: &str| f.is_redis().then(|| n.to_owned());
    assert_eq!(listed, [("c3".to_owned(), on("n1")), ("c4".to_owned(), on("n2")), ("c1@x".to_owned(), on("n1"))], "oldest first");
}

fn reopening_keeps_everything(f: &Fixture) {
    let t = now();
    let (sub, rec, cdr) = {
        let store = f.open();
        let sub = store
            .add_subscriber(NewSubscriber { mac: Some(mac("02:42:ac:11:00:02")), ..NewSubscriber::new("1001", "pw", "switch.local") })
            .unwrap();
        let rec = record("1001", t + 600);
        store.put_record(&rec).unwrap();
        let cdr = Cdr { call_id: "k1".into(), route: "none".into(), invite_at: 1, ..Cdr::default() };
        store.put_cdr(&cdr).unwrap();
        (sub, rec, cdr)
    };
    let store = f.open();
    assert_eq!(store.subscribers().unwrap(), [sub]);
    assert_eq!(store.records().unwrap(), [rec]);
    assert_eq!(store.cdrs(false).unwrap(), [cdr]);
}
