//! `switch registrations`: the RL records, where each registered number is,
//! and the numbers locked against password guessing (asked of the running
//! switch: a lock lives in its memory only). The listing itself is
//! [`switch::admin::view::Registrations`], which the admin API serves too.

use super::table;
use super::{DataDir, StoreArgs, ask};
use anyhow::{Context, Result};
use std::time::SystemTime;
use switch::abuse::NumberLock;
use switch::admin::view::{LockView, LockedView, RecordView, Registrations};

#[derive(clap::Args, Debug)]
pub(crate) struct RegistrationsArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

fn lock_cell(l: &LockView) -> String {
    format!("{}s (lock {}, {} failures)", l.seconds_left, l.level, l.failures)
}

fn record_row(v: &RecordView<'_>, nodes: bool) -> Vec<String> {
    let mut row = vec![v.number.to_owned()];
    if nodes {
        row.push(table::opt(v.node));
    }
    row.extend([
        v.state.to_owned(),
        v.observed.clone(),
        v.transport.to_owned(),
        table::opt(v.private_ip.as_deref()),
        table::opt(v.public_ip.as_deref()),
        if v.behind_nat { "yes" } else { "no" }.to_owned(),
        table::opt(v.mac.as_deref()),
        table::opt(v.bearer_port),
        table::opt(v.user_agent),
        if v.time_left == 0 { "expired".to_owned() } else { format!("{}s", v.time_left) },
        table::opt(v.lock.as_ref().map(lock_cell)),
    ]);
    row
}

fn locked_row(l: &LockedView<'_>, nodes: bool) -> Vec<String> {
    let mut row = vec![l.number.to_owned()];
    if nodes {
        row.push("-".to_owned());
    }
    row.push(l.state.to_owned());
    row.extend(std::iter::repeat_n("-".to_owned(), 9));
    row.push(lock_cell(&l.lock));
    row
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
    let listing = Registrations::new(&records, &locks, now);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&listing.to_json().context("encoding JSON")?).context("encoding JSON")?);
    } else {
        let rows: Vec<Vec<String>> =
            listing.records.iter().map(|v| record_row(v, nodes)).chain(listing.locked.iter().map(|l| locked_row(l, nodes))).collect();
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
