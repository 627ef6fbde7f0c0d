//! The provisioning CLI, run as the real binary against a temporary data dir:
//! `switch subscriber add|set|remove|list` and `switch registrations`, their
//! output (table and JSON, never credentials), error lines and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};
use switch::record::{RlRecord, RlState};
use switch::store::{NewSubscriber, Store};

const PW: &str = "Zebra-Quartz-9931";

/// Runs `switch ARGS --data-dir DIR` without SWITCH_PASSWORD in its environment.
fn switch(dir: &Path, args: &[&str]) -> Output {
    switch_env(dir, args, None)
}

fn switch_env(dir: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switch"));
    cmd.args(args).arg("--data-dir").arg(dir).env_remove("SWITCH_PASSWORD").env_remove("RUST_LOG");
    if let Some(pw) = password {
        cmd.env("SWITCH_PASSWORD", pw);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[track_caller]
fn ok(o: Output) -> String {
    assert!(o.status.success(), "exit {:?}, stderr: {}", o.status.code(), stderr(&o));
    assert_eq!(stderr(&o), "", "nothing on stderr when all is well");
    stdout(&o)
}

/// A failure: exit 1, nothing on stdout, exactly one line on stderr containing `msg`.
#[track_caller]
fn fails(o: Output, msg: &str) {
    assert_eq!(o.status.code(), Some(1), "stdout: {} stderr: {}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.contains(msg), "{err:?} should say {msg:?}");
}

fn list_json(dir: &Path) -> Value {
    serde_json::from_str(&ok(switch(dir, &["subscriber", "list", "--json"]))).unwrap()
}

#[test]
fn add_list_set_remove() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out =
        ok(switch(&dir, &["subscriber", "add", "1001", "--password", PW, "--mac", "02:42:AC:11:00:02", "--home", "sip:1001@home.example"]));
    assert_eq!(out, "added 1001 (realm switch.local)\n");
    assert!(dir.join("switch.db").is_file(), "data dir and db created");
    ok(switch(&dir, &["subscriber", "add", "+15550100", "--password", "x", "--realm", "example.net"]));

    let table = ok(switch(&dir, &["subscriber", "list"]));
    let expected = [
        "NUMBER     REALM         MAC                HOME",
        "+15550100  example.net   -                  -",
        "1001       switch.local  02:42:ac:11:00:02  sip:1001@home.example",
    ];
    assert_eq!(table.lines().collect::<Vec<_>>(), expected, "{table}");
    let listed = list_json(&dir);
    assert_eq!(
        listed,
        json!([
            {"number": "+15550100", "realm": "example.net", "mac": null, "home": null},
            {"number": "1001", "realm": "switch.local", "mac": "02:42:ac:11:00:02", "home": "sip:1001@home.example"},
        ])
    );
    let text = listed.to_string();
    assert!(!text.contains("ha1") && !text.contains(PW), "no credentials in listings");

    ok(switch(&dir, &["subscriber", "set", "1001", "--no-mac", "--home", "tel:+15550199"]));
    assert_eq!(list_json(&dir)[1], json!({"number": "1001", "realm": "switch.local", "mac": null, "home": "tel:+15550199"}));
    ok(switch(&dir, &["subscriber", "set", "1001", "--mac", "02-00-00-00-00-01", "--no-home"]));
    assert_eq!(list_json(&dir)[1], json!({"number": "1001", "realm": "switch.local", "mac": "02:00:00:00:00:01", "home": null}));
    let out = ok(switch(&dir, &["subscriber", "set", "1001", "--password", "new", "--realm", "example.org"]));
    assert_eq!(out, "updated 1001\n");
    assert_eq!(list_json(&dir)[1]["realm"], "example.org");
    let store = Store::open(&dir).unwrap();
    let sub = store.subscriber("1001").unwrap().unwrap();
    assert_eq!(sub.ha1_md5, sipcore::auth::ha1(sipcore::auth::Algorithm::Md5, "1001", "example.org", "new"));
    drop(store);

    assert_eq!(ok(switch(&dir, &["subscriber", "remove", "1001"])), "removed 1001\n");
    assert_eq!(list_json(&dir).as_array().unwrap().len(), 1);
    fails(switch(&dir, &["subscriber", "remove", "1001"]), "no subscriber 1001");
}

#[test]
fn the_password_may_come_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(switch_env(dir, &["subscriber", "add", "1001"], Some(PW)));
    let ha1 = |pw: &str| sipcore::auth::ha1(sipcore::auth::Algorithm::Sha256, "1001", "switch.local", pw);
    assert_eq!(Store::open(dir).unwrap().subscriber("1001").unwrap().unwrap().ha1_sha256, ha1(PW));
    // --password wins over the environment.
    ok(switch_env(dir, &["subscriber", "add", "1002", "--password", "flag"], Some(PW)));
    let s = Store::open(dir).unwrap().subscriber("1002").unwrap().unwrap();
    assert_eq!(s.ha1_md5, sipcore::auth::ha1(sipcore::auth::Algorithm::Md5, "1002", "switch.local", "flag"));
    // `set` never picks it up by accident, only with --password-env.
    fails(switch_env(dir, &["subscriber", "set", "1001"], Some("other")), "nothing to change");
    ok(switch_env(dir, &["subscriber", "set", "1001", "--password-env"], Some("other")));
    assert_eq!(Store::open(dir).unwrap().subscriber("1001").unwrap().unwrap().ha1_sha256, ha1("other"));
    fails(switch(dir, &["subscriber", "set", "1001", "--password-env"]), "SWITCH_PASSWORD");
}

#[test]
fn errors_are_one_line_and_exit_non_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fails(switch(dir, &["subscriber", "list"]), "no database at");
    fails(switch(dir, &["registrations"]), "no database at");
    fails(switch(dir, &["subscriber", "add", "1001"]), "no password: give --password PW or set SWITCH_PASSWORD");
    ok(switch(dir, &["subscriber", "add", "1001", "--password", "pw"]));
    fails(switch(dir, &["subscriber", "add", "1001", "--password", "pw"]), "subscriber 1001 exists");
    fails(switch(dir, &["subscriber", "add", "1002", "--password", "pw", "--mac", "02:42:zz:11:00:02"]), "bad MAC \"02:42:zz:11:00:02\"");
    fails(switch(dir, &["subscriber", "add", "1002", "--password", "pw", "--home", "http://example.com/"]), "bad home URI");
    fails(switch(dir, &["subscriber", "add", "10 02", "--password", "pw"]), "bad number");
    fails(switch(dir, &["subscriber", "add", "1002", "--password", ""]), "password is empty");
    fails(switch(dir, &["subscriber", "set", "1002", "--mac", "02:42:ac:11:00:02"]), "no subscriber 1002");
    fails(switch(dir, &["subscriber", "set", "1001", "--realm", "other"]), "needs a new password");
    fails(switch(dir, &["subscriber", "set", "1001", "--mac", "nope"]), "bad MAC");
    fails(switch(dir, &["subscriber", "set", "1001"]), "nothing to change");
    fails(switch(dir, &["subscriber", "remove", "1002"]), "no subscriber 1002");
    // Nothing half-done by the failures.
    assert_eq!(list_json(dir), json!([{"number": "1001", "realm": "switch.local", "mac": null, "home": null}]));
    // Usage errors are clap's (exit 2).
    let o = switch(dir, &["subscriber", "set", "1001", "--mac", "02:42:ac:11:00:02", "--no-mac"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = switch(dir, &["subscriber", "add"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn registrations_lists_rl_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let store = Store::open(dir).unwrap();
    for n in ["1001", "1002", "1003"] {
        store.add_subscriber(NewSubscriber::new(n, "pw", "switch.local")).unwrap();
    }
    store
        .put_record(&RlRecord {
            number: "1001".into(),
            mac: Some("02:42:ac:11:00:02".parse().unwrap()),
            private_ip: Some("10.1.0.2".parse().unwrap()),
            public_ip_claimed: Some("198.51.100.2".parse().unwrap()),
            observed: "198.51.100.2:40123".parse().unwrap(),
            behind_nat: true,
            bearer_port: Some(40000),
            transport: sipcore::transport::TransportKind::Tcp,
            flow_id: None,
            local: None,
            instance: Some("<urn:uuid:00000000-0000-0000-0000-000000000001>".into()),
            reg_id: Some(1),
            call_id: "c1".into(),
            contact: "<sip:1001@10.1.0.2:5060;transport=tcp;ob>".into(),
            user_agent: Some("agent/0.1 \u{1b}[31m".into()),
            registered_at: now,
            expires_at: now + 3600,
            state: RlState::Registered,
            outbound: true,
        })
        .unwrap();
    store
        .put_record(&RlRecord {
            number: "1002".into(),
            mac: None,
            private_ip: None,
            public_ip_claimed: None,
            observed: "[2001:db8::5]:5060".parse().unwrap(),
            behind_nat: false,
            bearer_port: None,
            transport: sipcore::transport::TransportKind::Udp,
            flow_id: None,
            local: None,
            instance: None,
            reg_id: None,
            call_id: "c2".into(),
            contact: "<sip:1002@[2001:db8::5]>".into(),
            user_agent: None,
            registered_at: now - 7200,
            expires_at: now - 3600,
            state: RlState::SignallingDropped,
            outbound: false,
        })
        .unwrap();
    drop(store);

    let v: Value = serde_json::from_str(&ok(switch(dir, &["registrations", "--json"]))).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let r = &rows[0];
    assert_eq!(r["number"], "1001");
    assert_eq!(r["state"], "registered");
    assert_eq!(r["observed"], "198.51.100.2:40123");
    assert_eq!(r["transport"], "tcp");
    assert_eq!(r["private_ip"], "10.1.0.2");
    assert_eq!(r["public_ip"], "198.51.100.2");
    assert_eq!(r["behind_nat"], true);
    assert_eq!(r["mac"], "02:42:ac:11:00:02");
    assert_eq!(r["bearer_port"], 40000);
    assert_eq!(r["user_agent"], "agent/0.1 \u{1b}[31m");
    assert_eq!(r["expires_at"], now + 3600);
    let left = r["time_left"].as_u64().unwrap();
    assert!((3590..=3600).contains(&left), "time left from the wall clock: {left}");
    assert_eq!(r["lock"], Value::Null, "not locked (no switch runs on this data dir)");
    let r = &rows[1];
    assert_eq!((r["number"].as_str(), r["state"].as_str()), (Some("1002"), Some("signalling_dropped")));
    assert_eq!(r["observed"], "[2001:db8::5]:5060");
    assert_eq!((&r["mac"], &r["private_ip"], &r["bearer_port"]), (&Value::Null, &Value::Null, &Value::Null));
    assert_eq!(r["time_left"], 0, "past its TTL");

    let table = ok(switch(dir, &["registrations"]));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    for word in
        ["NUMBER", "STATE", "OBSERVED", "TRANSPORT", "PRIVATE-IP", "PUBLIC-IP", "NAT", "MAC", "BEARER", "USER-AGENT", "TIME-LEFT", "LOCKED"]
    {
        assert!(lines[0].contains(word), "{word} in {}", lines[0]);
    }
    // Columns line up: each field starts where its header does.
    let col = |h: &str| lines[0].find(h).unwrap();
    assert_eq!(lines[1].find("registered"), Some(col("STATE")));
    assert_eq!(lines[2].find("signalling_dropped"), Some(col("STATE")));
    assert_eq!(lines[1].find("02:42:ac:11:00:02"), Some(col("MAC")));
    assert_eq!(lines[1].find("agent/0.1 ?[31m"), Some(col("USER-AGENT")), "control characters neutralised");
    assert!(lines[1].contains(" yes ") && lines[2].contains(" no "));
    let time_left = |line: &str| line[col("TIME-LEFT")..].split_whitespace().next().unwrap().to_owned();
    assert!(time_left(lines[1]).ends_with('s') && time_left(lines[2]) == "expired");
    assert!(lines[1].ends_with("  -") && lines[2].ends_with("  -"), "LOCKED: nothing (no switch runs on this data dir)");
    assert!(!table.contains('\u{1b}'));

    // Removing the subscriber removes its registration.
    ok(switch(dir, &["subscriber", "remove", "1001"]));
    let v: Value = serde_json::from_str(&ok(switch(dir, &["registrations", "--json"]))).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    // No registrations: the header only, and an empty JSON array.
    ok(switch(dir, &["subscriber", "remove", "1002"]));
    assert_eq!(ok(switch(dir, &["registrations", "--json"])).trim(), "[]");
    assert_eq!(ok(switch(dir, &["registrations"])).lines().count(), 1);
}

#[test]
fn import_is_all_or_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let file = tmp.path().join("subs.csv");
    std::fs::write(&file, "# number;password\n1001;pw;with;semicolons\r\n\n+15550100;x\nu00003;pw00003\n").unwrap();
    let out = ok(switch(&dir, &["subscriber", "import", file.to_str().unwrap(), "--realm", "example.net"]));
    assert_eq!(out, "imported 3 subscribers (realm example.net)\n");
    let numbers: Vec<Value> = list_json(&dir).as_array().unwrap().iter().map(|s| s["number"].clone()).collect();
    assert_eq!(numbers, [json!("+15550100"), json!("1001"), json!("u00003")]);
    let store = Store::open(&dir).unwrap();
    let sub = store.subscriber("1001").unwrap().unwrap();
    assert_eq!(sub.realm, "example.net");
    assert_eq!(sub.ha1_md5, sipcore::auth::ha1(sipcore::auth::Algorithm::Md5, "1001", "example.net", "pw;with;semicolons"));
    drop(store);

    // A bad line, or a number already there, imports nothing and names the line.
    std::fs::write(&file, "2001;a\n2002\n2003;c\n").unwrap();
    fails(switch(&dir, &["subscriber", "import", file.to_str().unwrap()]), "line 2: expected NUMBER;PASSWORD");
    std::fs::write(&file, "2001;a\n1001;b\n").unwrap();
    fails(switch(&dir, &["subscriber", "import", file.to_str().unwrap()]), "line 2: subscriber 1001 exists");
    std::fs::write(&file, "2001;a\n20 02;b\n").unwrap();
    fails(switch(&dir, &["subscriber", "import", file.to_str().unwrap()]), "line 2: bad number");
    assert_eq!(list_json(&dir).as_array().unwrap().len(), 3, "nothing of the failed imports stayed");
    fails(switch(&dir, &["subscriber", "import", tmp.path().join("missing").to_str().unwrap()]), "reading");
}

#[test]
fn the_commands_read_the_config_file_of_switch_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("from-config");
    let config = tmp.path().join("switch.toml");
    std::fs::write(&config, format!("domain = \"cfg.example.net\"\ndata_dir = {:?}\n", data.display().to_string())).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_switch"))
        .args(["subscriber", "add", "1001", "--password", PW, "--config"])
        .arg(&config)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(ok(out), "added 1001 (realm cfg.example.net)\n", "the domain of the config is the realm");
    assert_eq!(list_json(&data)[0]["realm"], "cfg.example.net", "the data_dir of the config is where it went");

    let bad =
        Command::new(env!("CARGO_BIN_EXE_switch")).args(["subscriber", "list", "--config", "/nonexistent/switch.toml"]).output().unwrap();
    fails(bad, "/nonexistent/switch.toml");
}
