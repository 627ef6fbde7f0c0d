//! The embedded store: provisioning, RL records, validation, persistence,
//! sharing the file between connections and processes, and durability when
//! the writer is killed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use sipcore::auth::{Algorithm, ha1};
use sipcore::transport::TransportKind;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use switch::record::{RlRecord, RlState, UnixTime};
use switch::store::{DB_FILE, NewSubscriber, SCHEMA_VERSION, Store, StoreError, SubscriberUpdate};

mod common;

use common::store::{full_1001, loaded, mac, record};

const T0: UnixTime = 1_700_000_000;

fn add(store: &Store, number: &str) {
    store.add_subscriber(NewSubscriber::new(number, "pw", "switch.local")).unwrap();
}

/// Every byte of the database, its WAL and its shared-memory index.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        out.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn open_creates_the_directory_and_a_private_wal_database() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b");
    let store = Store::open(&dir).unwrap();
    assert_eq!(store.path(), dir.join(DB_FILE));
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(store.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "HA1s are password equivalents: owner-only file");
    let other = rusqlite::Connection::open(store.path()).unwrap();
    let journal: String = other.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(journal, "wal");
    // Opening again does not re-run the migration.
    drop(store);
    let store = Store::open(&dir).unwrap();
    let rows: i64 = other.query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, SCHEMA_VERSION);
    drop(store);
}

#[test]
fn open_existing_refuses_a_missing_database() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Store::open_existing(&tmp.path().join("nope")).unwrap_err();
    assert!(matches!(err, StoreError::NoDatabase(_)), "{err:?}");
    assert!(!tmp.path().join("nope").exists(), "nothing created");
    Store::open(tmp.path()).unwrap();
    Store::open_existing(tmp.path()).unwrap();
}

#[test]
fn a_database_from_a_newer_switch_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    drop(Store::open(tmp.path()).unwrap());
    let raw = rusqlite::Connection::open(tmp.path().join(DB_FILE)).unwrap();
    raw.execute("INSERT INTO schema_version (version, applied_at) VALUES (99, 0)", []).unwrap();
    let err = Store::open(tmp.path()).unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { found: 99, .. }), "{err:?}");
}

#[test]
fn add_get_update_remove() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    assert_eq!(store.subscriber("1001").unwrap(), None);

    let added = store.add_subscriber(full_1001()).unwrap();
    assert_eq!(added.number, "1001");
    assert_eq!(added.realm, "switch.local");
    assert_eq!(added.mac, Some(mac("02:42:ac:11:00:02")));
    assert_eq!(added.home.as_deref(), Some("sip:1001@home.example"));
    assert_eq!(store.subscriber("1001").unwrap(), Some(added.clone()));
    add(&store, "1000");
    let numbers: Vec<String> = store.subscribers().unwrap().into_iter().map(|s| s.number).collect();
    assert_eq!(numbers, ["1000", "1001"], "ordered by number");

    // Clearing MAC and home keeps the credentials.
    let upd = SubscriberUpdate { mac: Some(None), home: Some(None), ..Default::default() };
    let after = store.update_subscriber("1001", upd).unwrap();
    assert_eq!((after.mac, after.home.as_deref()), (None, None));
    assert_eq!(after.ha1_md5, added.ha1_md5);
    assert_eq!(store.subscriber("1001").unwrap(), Some(after.clone()));

    // New password, same realm: new HA1s.
    let upd = SubscriberUpdate { password: Some("other".into()), ..Default::default() };
    let after = store.update_subscriber("1001", upd).unwrap();
    assert_eq!(after.ha1_md5, ha1(Algorithm::Md5, "1001", "switch.local", "other"));
    // New realm with a new password.
    let upd = SubscriberUpdate {
        password: Some("third".into()),
        realm: Some("example.net".into()),
        mac: Some(Some(mac("02:00:00:00:00:01"))),
        home: Some(Some("tel:+15550100".into())),
    };
    let after = store.update_subscriber("1001", upd).unwrap();
    assert_eq!(after.realm, "example.net");
    assert_eq!(after.ha1_sha256, ha1(Algorithm::Sha256, "1001", "example.net", "third"));
    assert_eq!(after.mac, Some(mac("02:00:00:00:00:01")));
    assert_eq!(store.subscriber("1001").unwrap(), Some(after.clone()));
    // An empty update changes nothing.
    assert_eq!(store.update_subscriber("1001", SubscriberUpdate::default()).unwrap(), after);

    store.remove_subscriber("1001").unwrap();
    assert_eq!(store.subscriber("1001").unwrap(), None);
    assert!(matches!(store.remove_subscriber("1001"), Err(StoreError::NotFound(n)) if n == "1001"));
    assert_eq!(store.subscribers().unwrap().len(), 1);
}

#[test]
fn adding_a_number_twice_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let first = store.add_subscriber(NewSubscriber::new("1001", "a", "switch.local")).unwrap();
    let err = store.add_subscriber(NewSubscriber::new("1001", "b", "other")).unwrap_err();
    assert!(matches!(&err, StoreError::Exists(n) if n == "1001"), "{err:?}");
    assert_eq!(err.to_string(), "subscriber 1001 exists");
    assert_eq!(store.subscriber("1001").unwrap(), Some(first), "the first one is untouched");
}

#[test]
fn invalid_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let invalid = |r: Result<_, StoreError>| matches!(r, Err(StoreError::Invalid(_)));
    let long = "1".repeat(33);
    for bad in ["", long.as_str(), "10 01", "1001@x", "10:01", "n\u{e9}", "a/b", "1001;x"] {
        assert!(invalid(store.add_subscriber(NewSubscriber::new(bad, "pw", "r"))), "number {bad:?}");
    }
    let max = "9".repeat(32);
    for good in ["+15550100", "*98#", "alice.b_c-d", "A1", max.as_str()] {
        store.add_subscriber(NewSubscriber::new(good, "pw", "r")).unwrap();
    }
    assert!(invalid(store.add_subscriber(NewSubscriber::new("2000", "", "r"))), "empty password");
    for bad in ["", "a\"b", "a\\b", "a\nb"] {
        assert!(invalid(store.add_subscriber(NewSubscriber::new("2000", "pw", bad))), "realm {bad:?}");
    }
    for bad in ["", "1001", "http://example.com/", "sip:", "sip:a@b c", "mailto:x@y", "sip:1001@host:99999"] {
        assert!(invalid(store.add_subscriber(NewSubscriber { home: Some(bad), ..NewSubscriber::new("2000", "pw", "r") })), "home {bad:?}");
    }
    for (i, good) in ["sip:1001@home.example", "sips:1001@[2001:db8::1]:5061", "tel:+15550100"].iter().enumerate() {
        store.add_subscriber(NewSubscriber { home: Some(good), ..NewSubscriber::new(&format!("300{i}"), "pw", "r") }).unwrap();
    }
    assert_eq!(store.subscriber("2000").unwrap(), None, "nothing half-written");

    add(&store, "1001");
    let upd = |u: SubscriberUpdate| store.update_subscriber("1001", u);
    assert!(invalid(upd(SubscriberUpdate { password: Some(String::new()), ..Default::default() })));
    assert!(invalid(upd(SubscriberUpdate { home: Some(Some("nope".into())), ..Default::default() })));
    let err = upd(SubscriberUpdate { realm: Some("other".into()), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("needs a new password"), "{err}");
    // The same realm again is no change, so no password is needed.
    upd(SubscriberUpdate { realm: Some("switch.local".into()), ..Default::default() }).unwrap();
    assert!(matches!(
        store.update_subscriber("1999", SubscriberUpdate { mac: Some(None), ..Default::default() }),
        Err(StoreError::NotFound(_))
    ));
    let err = store.put_record(&RlRecord { expires_at: u64::MAX, ..record("1001", T0) }).unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
}

#[test]
fn ha1s_match_sipcore_and_no_password_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let (pw1, pw2) = ("Zebra-Quartz-9931", "Mango-Violet-4417");
    let s = store.add_subscriber(NewSubscriber::new("1001", pw1, "switch.local")).unwrap();
    assert_eq!(s.ha1_md5, ha1(Algorithm::Md5, "1001", "switch.local", pw1));
    assert_eq!(s.ha1_sha256, ha1(Algorithm::Sha256, "1001", "switch.local", pw1));
    assert_eq!(s.ha1_sha512_256, ha1(Algorithm::Sha512_256, "1001", "switch.local", pw1));
    assert_eq!((s.ha1_md5.len(), s.ha1_sha256.len(), s.ha1_sha512_256.len()), (32, 64, 64));
    assert_eq!(store.subscriber("1001").unwrap().unwrap(), s);
    store.update_subscriber("1001", SubscriberUpdate { password: Some(pw2.into()), ..Default::default() }).unwrap();

    // While open (data in the WAL) and after a clean close (checkpointed).
    for open in [true, false] {
        let bytes = all_bytes(tmp.path());
        assert!(contains(&bytes, &ha1(Algorithm::Md5, "1001", "switch.local", pw2)), "the scan sees stored text");
        assert!(!contains(&bytes, pw1), "first password stored (open={open})");
        assert!(!contains(&bytes, pw2), "second password stored (open={open})");
        if open {
            drop(Store::open(tmp.path()).unwrap());
        }
    }
    drop(store);
    let bytes = all_bytes(tmp.path());
    assert!(!contains(&bytes, pw1) && !contains(&bytes, pw2));
}

#[test]
fn records_upsert_load_and_purge() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    for n in ["1001", "1002", "1003"] {
        add(&store, n);
    }
    let r1 = record("1001", T0 + 3600);
    let r2 = record("1002", T0 + 60);
    store.put_record(&r1).unwrap();
    store.put_record(&r2).unwrap();
    assert_eq!(store.records().unwrap(), [loaded(r1.clone()), loaded(r2.clone())]);
    assert_eq!(store.record("1002").unwrap(), Some(loaded(r2.clone())));
    assert_eq!(store.record("1003").unwrap(), None);

    // Upsert: every field replaced, optional ones cleared.
    let r1b = RlRecord {
        mac: None,
        private_ip: None,
        public_ip_claimed: None,
        observed: "198.51.100.7:5060".parse().unwrap(),
        behind_nat: false,
        bearer_port: None,
        transport: TransportKind::Udp,
        flow_id: None,
        local: None,
        instance: None,
        reg_id: None,
        call_id: "standard-phone@x".into(),
        contact: "<sip:1001@198.51.100.7>".into(),
        user_agent: None,
        registered_at: T0 + 10,
        expires_at: T0 + 130,
        state: RlState::Conflict,
        outbound: false,
        number: "1001".into(),
    };
    store.put_record(&r1b).unwrap();
    let r3 = RlRecord { state: RlState::SignallingDropped, transport: TransportKind::Tcp, ..record("1003", T0) };
    store.put_record(&r3).unwrap();
    assert_eq!(store.records().unwrap(), [r1b.clone(), loaded(r2.clone()), loaded(r3.clone())]);

    // expires_at <= now goes; the rest stays.
    assert_eq!(store.purge_expired(T0 - 1).unwrap(), 0);
    assert_eq!(store.purge_expired(T0).unwrap(), 1, "r3 expires exactly now");
    assert_eq!(store.purge_expired(T0 + 60).unwrap(), 1, "r2");
    assert_eq!(store.records().unwrap(), [r1b]);
    assert_eq!(store.subscribers().unwrap().len(), 3, "purging keeps subscribers");

    assert!(store.delete_record("1001").unwrap());
    assert!(!store.delete_record("1001").unwrap());
    assert!(store.records().unwrap().is_empty());
}

#[test]
fn a_record_needs_a_provisioned_number() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let err = store.put_record(&record("1001", T0)).unwrap_err();
    assert!(matches!(&err, StoreError::NotFound(n) if n == "1001"), "{err:?}");
}

#[test]
fn removing_a_subscriber_removes_its_record() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    add(&store, "1001");
    add(&store, "1002");
    store.put_record(&record("1001", T0)).unwrap();
    store.put_record(&record("1002", T0)).unwrap();
    store.remove_subscriber("1001").unwrap();
    let left: Vec<Box<str>> = store.records().unwrap().into_iter().map(|r| r.number).collect();
    assert_eq!(left, [Box::from("1002")]);
}

#[test]
fn data_survives_reopening() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let s = store
        .add_subscriber(NewSubscriber { mac: Some(mac("02:42:ac:11:00:02")), ..NewSubscriber::new("1001", "pw", "switch.local") })
        .unwrap();
    store.put_record(&record("1001", T0)).unwrap();
    drop(store);
    let store = Store::open(tmp.path()).unwrap();
    assert_eq!(store.subscribers().unwrap(), [s]);
    assert_eq!(store.records().unwrap(), [loaded(record("1001", T0))]);
}

#[test]
fn a_store_never_closed_leaves_its_data_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let s = store.add_subscriber(NewSubscriber::new("1001", "pw", "switch.local")).unwrap();
    store.put_record(&record("1001", T0)).unwrap();
    // No close, no checkpoint: the commits are only in the WAL.
    std::mem::forget(store);
    let wal = tmp.path().join(format!("{DB_FILE}-wal"));
    assert!(std::fs::metadata(&wal).unwrap().len() > 0, "data is in the WAL");
    let store = Store::open(tmp.path()).unwrap();
    assert_eq!(store.subscribers().unwrap(), [s]);
    assert_eq!(store.records().unwrap(), [loaded(record("1001", T0))]);
}

#[test]
fn a_second_connection_sees_changes_and_data_version_moves() {
    let tmp = tempfile::tempdir().unwrap();
    let switch = Store::open(tmp.path()).unwrap();
    let cli = Store::open(tmp.path()).unwrap();
    let v0 = switch.data_version().unwrap();
    assert_eq!(switch.data_version().unwrap(), v0, "stable while nothing changes");
    cli.add_subscriber(NewSubscriber::new("1001", "pw", "switch.local")).unwrap();
    let v1 = switch.data_version().unwrap();
    assert_ne!(v1, v0, "another connection's commit moves it");
    assert!(switch.subscriber("1001").unwrap().is_some());
    // The switch's own writes do not move its own data_version...
    switch.put_record(&record("1001", T0)).unwrap();
    assert_eq!(switch.data_version().unwrap(), v1);
    // ...but the other side sees them.
    let c0 = cli.data_version().unwrap();
    switch.put_record(&record("1001", T0 + 1)).unwrap();
    assert_ne!(cli.data_version().unwrap(), c0);
    assert_eq!(cli.records().unwrap()[0].expires_at, T0 + 1);
    cli.remove_subscriber("1001").unwrap();
    assert_ne!(switch.data_version().unwrap(), v1);
    assert!(switch.records().unwrap().is_empty());
}

#[test]
fn concurrent_writers_wait_for_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    drop(Store::open(tmp.path()).unwrap());
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let dir = tmp.path().to_path_buf();
            std::thread::spawn(move || {
                let store = Store::open(&dir).unwrap();
                for i in 0..100 {
                    let n = format!("{w}{i:03}");
                    store.add_subscriber(NewSubscriber::new(&n, "pw", "switch.local")).unwrap();
                    store.put_record(&record(&n, T0)).unwrap();
                    let upd = SubscriberUpdate { password: Some("pw2".into()), ..Default::default() };
                    store.update_subscriber(&n, upd).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let store = Store::open(tmp.path()).unwrap();
    assert_eq!(store.subscribers().unwrap().len(), 200);
    assert_eq!(store.records().unwrap().len(), 200);
}

#[test]
fn a_corrupt_stored_value_is_reported_not_misread() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    add(&store, "1001");
    store.put_record(&record("1001", T0)).unwrap();
    let raw = rusqlite::Connection::open(store.path()).unwrap();
    raw.execute("UPDATE subscribers SET mac = 'zz'", []).unwrap();
    raw.execute("UPDATE registrations SET observed = 'nowhere'", []).unwrap();
    assert!(matches!(store.subscriber("1001"), Err(StoreError::Corrupt(_))));
    assert!(matches!(store.records(), Err(StoreError::Corrupt(_))));
}

/// A writer in another process, killed with SIGKILL right after its commits
/// returned: the data must be there when the file is opened again.
#[test]
fn commits_survive_kill_9_of_the_writer() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "killed_writer_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let committed = stdout.lines().map_while(Result::ok).any(|l| l.trim() == "committed");
    assert!(committed, "the child did not commit");
    child.kill().unwrap(); // SIGKILL on Unix: no destructors, no checkpoint
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "{status}");

    assert!(std::fs::metadata(tmp.path().join(format!("{DB_FILE}-wal"))).unwrap().len() > 0, "commits were in the WAL");
    let store = Store::open(tmp.path()).unwrap();
    let s = store.subscriber("2001").unwrap().expect("subscriber committed before the kill");
    assert_eq!(s.ha1_md5, ha1(Algorithm::Md5, "2001", "switch.local", "pw"));
    assert_eq!(store.records().unwrap(), [loaded(record("2001", T0))]);
}

const CHILD_DIR_ENV: &str = "SWITCH_STORE_TEST_CHILD_DIR";

/// The child of `commits_survive_kill_9_of_the_writer`: writes, says so, and
/// waits to be killed. Does nothing when run on its own.
#[test]
#[ignore = "helper process for commits_survive_kill_9_of_the_writer"]
fn killed_writer_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else { return };
    let store = Store::open(Path::new(&dir)).unwrap();
    store.add_subscriber(NewSubscriber::new("2001", "pw", "switch.local")).unwrap();
    store.put_record(&record("2001", T0)).unwrap();
    let mut out = std::io::stdout().lock();
    // libtest has already printed "test killed_writer_child ... " on this line.
    writeln!(out, "\ncommitted").unwrap();
    out.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("never killed");
}

/// The provisioning CLI is another process: what it commits, the switch's
/// store reads once it has exited.
#[test]
fn a_subscriber_added_by_the_cli_process_is_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let switch = Store::open(tmp.path()).unwrap();
    let v0 = switch.data_version().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switch"))
        .args(["subscriber", "add", "1001", "--password", "pw", "--mac", "02:42:ac:11:00:02", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(switch.data_version().unwrap(), v0);
    let s = switch.subscriber("1001").unwrap().unwrap();
    assert_eq!(s.ha1_sha512_256, ha1(Algorithm::Sha512_256, "1001", "switch.local", "pw"));
    assert_eq!(s.mac, Some(mac("02:42:ac:11:00:02")));
}

/// Not an assertion: prints what one REGISTER's write costs.
#[test]
fn put_record_timing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path()).unwrap();
    let numbers: Vec<String> = (0..100).map(|i| format!("1{i:03}")).collect();
    for n in &numbers {
        add(&store, n);
    }
    let mut records: Vec<RlRecord> = numbers.iter().map(|n| record(n, T0)).collect();
    const OPS: usize = 10_000;
    let start = Instant::now();
    for i in 0..OPS {
        let r = &mut records[i % numbers.len()];
        r.expires_at += 1;
        store.put_record(r).unwrap();
    }
    let elapsed = start.elapsed();
    println!(
        "put_record: {OPS} upserts in {elapsed:.2?}, {:.1} µs/op ({} build)",
        elapsed.as_secs_f64() * 1e6 / OPS as f64,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    assert_eq!(store.records().unwrap().len(), numbers.len());
}
