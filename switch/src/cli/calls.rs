//! `switch calls`: the call records (CDRs), oldest first.

use super::StoreArgs;
use super::table;
use anyhow::{Context, Result};
use switch::admin::view::CallView;
use switch::cdr::{Cdr, LegCounters};

#[derive(clap::Args, Debug)]
pub(crate) struct CallsArgs {
    /// Only calls still in progress.
    #[arg(long)]
    active: bool,
    /// Print a JSON array (every field, media counters included) instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Milliseconds as `+1.234s` after the INVITE, for the table.
fn after(start: u64, t: Option<u64>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| format!("+{:.3}s", t.saturating_sub(start) as f64 / 1000.0))
}

fn packets(m: Option<&LegCounters>) -> String {
    m.map_or_else(|| "-".to_owned(), |m| format!("{}/{}", m.packets_in, m.packets_out))
}

fn row(c: &Cdr, node: Option<&str>) -> Vec<String> {
    let route = match &c.route_reason {
        Some(r) => format!("{} ({r})", c.route),
        None => c.route.clone(),
    };
    let mut row = vec![c.call_id.clone()];
    if let Some(node) = node {
        row.push(node.to_owned());
    }
    row.extend([
        c.caller.clone(),
        c.callee.clone(),
        route,
        c.invite_at.to_string(),
        after(c.invite_at, c.ringing_at),
        after(c.invite_at, c.answer_at),
        after(c.invite_at, c.end_at),
        table::opt(c.status),
        table::opt(c.end_reason.as_deref()),
        packets(c.caller_media.as_ref()),
        packets(c.callee_media.as_ref()),
    ]);
    row
}

pub(crate) fn run(a: CallsArgs) -> Result<()> {
    let store = a.store.open_existing()?;
    let calls = store.cdrs_with_nodes(a.active)?;
    if a.json {
        let views: Vec<CallView<'_>> = calls.iter().map(|(call, node)| CallView { call, node: node.as_deref() }).collect();
        println!("{}", serde_json::to_string_pretty(&views).context("encoding JSON")?);
    } else {
        let rows: Vec<Vec<String>> = calls.iter().map(|(c, node)| row(c, node.as_deref())).collect();
        let mut headers = vec!["CALL-ID"];
        if store.is_redis() {
            headers.push("NODE");
        }
        headers.extend([
            "CALLER",
            "CALLEE",
            "ROUTE",
            "INVITE-MS",
            "RINGING",
            "ANSWER",
            "END",
            "STATUS",
            "REASON",
            "CALLER-RTP",
            "CALLEE-RTP",
        ]);
        print!("{}", table::render(&headers, &rows));
    }
    Ok(())
}
