//! Call records: upserted by the store thread as a call moves on, listed by `switch calls`.

use super::error::{Result, StoreError};
use super::{Store, time_from_sql, time_to_sql};
use crate::cdr::{Cdr, LegCounters};
use rusqlite::{OptionalExtension, Row, params};

fn opt_time(what: &str, t: Option<u64>) -> Result<Option<i64>> {
    t.map(|t| time_to_sql(what, t)).transpose()
}

fn counters_to_sql(c: Option<&LegCounters>) -> Result<Option<String>> {
    c.map(|c| serde_json::to_string(c).map_err(|e| StoreError::Invalid(format!("media counters: {e}")))).transpose()
}

fn counters_from_sql(s: Option<String>) -> Result<Option<LegCounters>> {
    s.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("media counters: {e}")))).transpose()
}

/// A row as read: the record, its four times and two counter blobs still raw.
type RawRow = (Cdr, [Option<i64>; 4], [Option<String>; 2]);

fn from_row(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    let rec = Cdr {
        call_id: r.get(0)?,
        callee_call_id: r.get(1)?,
        caller: r.get(2)?,
        callee: r.get(3)?,
        route: r.get(4)?,
        route_reason: r.get(5)?,
        status: r.get::<_, Option<u16>>(11)?,
        end_reason: r.get(12)?,
        ..Cdr::default()
    };
    Ok((rec, [r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?], [r.get(10)?, r.get(13)?]))
}

const COLUMNS: &str = "call_id, callee_call_id, caller, callee, route, route_reason, invite_at, ringing_at, answer_at, end_at, \
                       caller_media, status, end_reason, callee_media";

impl Store {
    /// Inserts or replaces the record of `rec.call_id`.
    pub fn put_cdr(&self, rec: &Cdr) -> Result<()> {
        super::validate::cdr(rec)?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "INSERT OR REPLACE INTO calls ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ))?;
        stmt.execute(params![
            rec.call_id,
            rec.callee_call_id,
            rec.caller,
            rec.callee,
            rec.route,
            rec.route_reason,
            time_to_sql("invite_at", rec.invite_at)?,
            opt_time("ringing_at", rec.ringing_at)?,
            opt_time("answer_at", rec.answer_at)?,
            opt_time("end_at", rec.end_at)?,
            counters_to_sql(rec.caller_media.as_ref())?,
            rec.status,
            rec.end_reason,
            counters_to_sql(rec.callee_media.as_ref())?,
        ])?;
        Ok(())
    }

    /// Closes the records of calls that were in progress when the switch
    /// stopped or died (a restarted switch has none of their state): they end
    /// `at` with `reason`. Returns how many.
    pub fn end_open_cdrs(&self, at: u64, reason: &str) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached("UPDATE calls SET end_at = ?1, end_reason = ?2 WHERE end_at IS NULL")?;
        Ok(stmt.execute(params![time_to_sql("end_at", at)?, reason])?)
    }

    /// The record of one call (by the caller's Call-ID).
    pub fn cdr(&self, call_id: &str) -> Result<Option<Cdr>> {
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM calls WHERE call_id = ?1"))?;
        stmt.query_row([call_id], from_row).optional()?.map(finish).transpose()
    }

    /// Call records, oldest first; only calls not yet ended when `active_only`.
    pub fn cdrs(&self, active_only: bool) -> Result<Vec<Cdr>> {
        let filter = if active_only { "WHERE end_at IS NULL" } else { "" };
        let mut stmt = self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM calls {filter} ORDER BY invite_at, call_id"))?;
        let rows = stmt.query_map([], from_row)?;
        rows.map(|r| finish(r?)).collect()
    }
}

fn finish((mut rec, times, media): RawRow) -> Result<Cdr> {
    let t = |what: &str, v: Option<i64>| v.map(|v| time_from_sql(what, v)).transpose();
    rec.invite_at = t("invite_at", times[0])?.unwrap_or(0);
    rec.ringing_at = t("ringing_at", times[1])?;
    rec.answer_at = t("answer_at", times[2])?;
    rec.end_at = t("end_at", times[3])?;
    let [caller, callee] = media;
    rec.caller_media = counters_from_sql(caller)?;
    rec.callee_media = counters_from_sql(callee)?;
    Ok(rec)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_call_record_is_upserted_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.schema_version().unwrap() >= 3, "the calls table (v3) is there");
        let mut rec = Cdr {
            call_id: "c1@x".into(),
            caller: "1001".into(),
            callee: "1002".into(),
            route: "home".into(),
            route_reason: Some("ttl_expired".into()),
            invite_at: 1_800_000_000_123,
            ..Cdr::default()
        };
        store.put_cdr(&rec).unwrap();
        assert_eq!(store.cdrs(true).unwrap(), [rec.clone()]);
        rec.answer_at = Some(1_800_000_001_000);
        rec.end_at = Some(1_800_000_009_000);
        rec.status = Some(200);
        rec.end_reason = Some("caller_bye".into());
        rec.caller_media =
            Some(LegCounters { packets_in: 50, bytes_in: 8600, latched: Some(([127, 0, 0, 1], 4000).into()), ..LegCounters::default() });
        store.put_cdr(&rec).unwrap();
        assert!(store.cdrs(true).unwrap().is_empty(), "ended calls are not active");
        assert_eq!(store.cdrs(false).unwrap(), [rec.clone()]);
        assert_eq!(store.cdr("c1@x").unwrap(), Some(rec));
        let open = Cdr { call_id: "c3".into(), route: "flow".into(), invite_at: 5, ..Cdr::default() };
        store.put_cdr(&open).unwrap();
        assert_eq!(store.end_open_cdrs(9, "switch_restarted").unwrap(), 1);
        let closed = store.cdr("c3").unwrap().unwrap();
        assert_eq!((closed.end_at, closed.end_reason.as_deref()), (Some(9), Some("switch_restarted")));
        let bad = Cdr { call_id: "c2".into(), route: "sideways".into(), ..Cdr::default() };
        assert!(store.put_cdr(&bad).is_err(), "the schema checks the route");
    }
}
