//! `switch registrations`: the RL records, where each registered number is.

use super::DataDir;
use super::table;
use anyhow::{Context, Result};
use std::time::SystemTime;
use switch::record::{RlRecord, UnixTime, transport_name};
use switch::store::Store;

#[derive(clap::Args, Debug)]
pub(crate) struct RegistrationsArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    dir: DataDir,
}

/// One record as listed; `time_left` is seconds from the wall clock now.
#[derive(serde::Serialize)]
struct RecordView<'a> {
    number: &'a str,
    state: &'static str,
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
    fn new(r: &'a RlRecord, now: UnixTime) -> Self {
        RecordView {
            number: &r.number,
            state: r.state.as_str(),
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

    fn row(&self) -> Vec<String> {
        vec![
            self.number.to_owned(),
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
        ]
    }
}

pub(crate) fn run(a: RegistrationsArgs) -> Result<()> {
    let store = Store::open_existing(&a.dir.data_dir)?;
    let records = store.records()?;
    let now = sipcore::auth::unix_seconds(SystemTime::now());
    let views: Vec<RecordView<'_>> = records.iter().map(|r| RecordView::new(r, now)).collect();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&views).context("encoding JSON")?);
    } else {
        let rows: Vec<Vec<String>> = views.iter().map(RecordView::row).collect();
        let headers =
            ["NUMBER", "STATE", "OBSERVED", "TRANSPORT", "PRIVATE-IP", "PUBLIC-IP", "NAT", "MAC", "BEARER", "USER-AGENT", "TIME-LEFT"];
        print!("{}", table::render(&headers, &rows));
    }
    Ok(())
}
