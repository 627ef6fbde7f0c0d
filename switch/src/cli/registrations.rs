//! `switch registrations`: the RL records, where each registered number is,
//! and the numbers locked against password guessing (asked of the running
//! switch: a lock lives in its memory only).

use super::table;
use super::{DataDir, StoreArgs, ask};
use anyhow::{Context, Result};
use std::time::SystemTime;
use switch::abuse::NumberLock;
use switch::record::{RlRecord, UnixTime, transport_name};

#[derive(clap::Args, Debug)]
pub(crate) struct RegistrationsArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// A number's lock as listed.
#[derive(serde::Serialize)]
struct LockView {
    /// Seconds until the lock ends.
    seconds_left: u64,
    /// Which lock this is (each one twice as long as the last).
    level: u32,
    /// Failed authentications counted for the number.
    failures: u64,
}

impl LockView {
    fn new(l: &NumberLock) -> Self {
        LockView { seconds_left: l.seconds_left, level: l.level, failures: l.failures }
    }

    fn cell(&self) -> String {
        format!("{}s (lock {}, {} failures)", self.seconds_left, self.level, self.failures)
    }
}

/// A locked number with no record (never registered, or not provisioned).
#[derive(serde::Serialize)]
struct LockedView<'a> {
    number: &'a str,
    state: &'static str,
    lock: LockView,
}

/// One record as listed; `time_left` is seconds from the wall clock now.
#[derive(serde::Serialize)]
struct RecordView<'a> {
    number: &'a str,
    /// With Redis: the switch node holding the number's flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<&'a str>,
    state: &'static str,
    /// Set while the number is locked against password guessing.
    lock: Option<LockView>,
    observed: String,
    transport: &'static str,
    private_ip: Option<String>,
    public_ip: Option<String>,
    behind_nat: bool,
    mac: Option<String>,
    bearer_port: Option<u16>,
    user_agent: Option<&'a str>,
    contact: &'a str,
    outbound: bool,
    registered_at: UnixTime,
    expires_at: UnixTime,
    time_left: u64,
}

impl<'a> RecordView<'a> {
    fn new(r: &'a RlRecord, node: Option<&'a str>, now: UnixTime, lock: Option<&NumberLock>) -> Self {
        RecordView {
            number: &r.number,
            node,
            state: r.state.as_str(),
            lock: lock.map(LockView::new),
            observed: r.observed.to_string(),
            transport: transport_name(r.transport),
            private_ip: r.private_ip.map(|ip| ip.to_string()),
            public_ip: r.public_ip_claimed.map(|ip| ip.to_string()),
            behind_nat: r.behind_nat,
            mac: r.mac.map(|m| m.to_string()),
            bearer_port: r.bearer_port,
            user_agent: r.user_agent.as_deref(),
            contact: &r.contact,
            outbound: r.outbound,
            registered_at: r.registered_at,
            expires_at: r.expires_at,
            time_left: r.time_left(now),
        }
    }

    fn row(&self, nodes: bool) -> Vec<String> {
        let mut row = vec![self.number.to_owned()];
        if nodes {
            row.push(table::opt(self.node));
        }
        row.extend([
            self.state.to_owned(),
            self.observed.clone(),
            self.transport.to_owned(),
            table::opt(self.private_ip.as_deref()),
            table::opt(self.public_ip.as_deref()),
            if self.behind_nat { "yes" } else { "no" }.to_owned(),
            table::opt(self.mac.as_deref()),
            table::opt(self.bearer_port),
            table::opt(self.user_agent),
            if self.time_left == 0 { "expired".to_owned() } else { format!("{}s", self.time_left) },
            table::opt(self.lock.as_ref().map(LockView::cell)),
        ]);
        row
    }
}

impl LockedView<'_> {
    fn row(&self, nodes: bool) -> Vec<String> {
        let mut row = vec![self.number.to_owned()];
        if nodes {
            row.push("-".to_owned());
        }
        row.push(self.state.to_owned());
        row.extend(std::iter::repeat_n("-".to_owned(), 9));
        row.push(self.lock.cell());
        row
    }
}

/// The running switch's locks; none when no switch runs on this data dir.
fn locks(dir: &DataDir) -> Vec<NumberLock> {
    ask(dir, "locks").ok().and_then(|line| serde_json::from_str(&line).ok()).unwrap_or_default()
}

pub(crate) fn run(a: RegistrationsArgs) -> Result<()> {
    let store = a.store.open_existing()?;
    let records = store.records_with_nodes()?;
    let nodes = store.is_redis();
    let locks = locks(&a.store.dir);
    let now = sipcore::auth::unix_seconds(SystemTime::now());
    let lock_of = |number: &str| locks.iter().find(|l| l.number == number);
    let views: Vec<RecordView<'_>> = records.iter().map(|(r, node)| RecordView::new(r, node.as_deref(), now, lock_of(&r.number))).collect();
    let locked: Vec<LockedView<'_>> = locks
        .iter()
        .filter(|l| !records.iter().any(|(r, _)| r.number == l.number))
        .map(|l| LockedView { number: &l.number, state: "absent", lock: LockView::new(l) })
        .collect();
    if a.json {
        let mut all = serde_json::to_value(&views).context("encoding JSON")?;
        if let serde_json::Value::Array(list) = &mut all {
            list.extend(locked.iter().map(serde_json::to_value).collect::<Result<Vec<_>, _>>().context("encoding JSON")?);
        }
        println!("{}", serde_json::to_string_pretty(&all).context("encoding JSON")?);
    } else {
        let rows: Vec<Vec<String>> = views.iter().map(|v| v.row(nodes)).chain(locked.iter().map(|l| l.row(nodes))).collect();
        let mut headers = vec!["NUMBER"];
        if nodes {
            headers.push("NODE");
        }
        headers.extend([
            "STATE",
            "OBSERVED",
            "TRANSPORT",
            "PRIVATE-IP",
            "PUBLIC-IP",
            "NAT",
            "MAC",
            "BEARER",
            "USER-AGENT",
            "TIME-LEFT",
            "LOCKED",
        ]);
        print!("{}", table::render(&headers, &rows));
    }
    Ok(())
}
