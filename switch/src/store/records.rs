//! RL records: one per registered number, written on every REGISTER so that a
//! restarted switch still knows where each number was (with `flow_id` and
//! `local` unset: the flow died with the process, calls go home until the
//! phone registers again).

use super::error::{Result, StoreError, extended_code};
use super::{Store, time_from_sql, time_to_sql};
use crate::record::{RlRecord, RlState, UnixTime, transport_from_name, transport_name};
use rusqlite::Row;
use sipcore::transport::TransportKind;
use std::net::SocketAddr;
use std::str::FromStr;

/// The stored columns, in `from_row` order. A macro so statements are
/// `concat!`ed at compile time: `prepare_cached` gets a `&'static str`, no
/// per-call formatting.
macro_rules! columns {
    () => {
        "number, mac, private_ip, public_ip_claimed, observed, behind_nat, bearer_port, transport, \
         instance, reg_id, call_id, contact, user_agent, registered_at, expires_at, state, outbound"
    };
}

const UPSERT: &str = concat!(
    "INSERT INTO registrations (",
    columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
     ON CONFLICT (number) DO UPDATE SET
         mac = excluded.mac, private_ip = excluded.private_ip,
         public_ip_claimed = excluded.public_ip_claimed, observed = excluded.observed,
         behind_nat = excluded.behind_nat, bearer_port = excluded.bearer_port,
         transport = excluded.transport, instance = excluded.instance, reg_id = excluded.reg_id,
         call_id = excluded.call_id, contact = excluded.contact, user_agent = excluded.user_agent,
         registered_at = excluded.registered_at, expires_at = excluded.expires_at,
         state = excluded.state, outbound = excluded.outbound"
);
const SELECT_ONE: &str = concat!("SELECT ", columns!(), " FROM registrations WHERE number = ?1");
const SELECT_ALL: &str = concat!("SELECT ", columns!(), " FROM registrations ORDER BY number");

fn state_from_name(s: &str) -> Option<RlState> {
    [RlState::Registered, RlState::SignallingDropped, RlState::Conflict].into_iter().find(|st| st.as_str() == s)
}

/// Parses an optional text column, naming the record and column on failure.
pub(super) fn parse_opt<T: FromStr>(number: &str, column: &str, text: Option<String>) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    text.map(|t| t.parse::<T>().map_err(|e| StoreError::Corrupt(format!("record {number}: {column} {t:?}: {e}")))).transpose()
}

/// The observed address, transport and state columns read back (both backends store them as text).
pub(super) fn parse_required(number: &str, observed: &str, transport: &str, state: &str) -> Result<(SocketAddr, TransportKind, RlState)> {
    let observed = observed.parse().map_err(|e| StoreError::Corrupt(format!("record {number}: observed {observed:?}: {e}")))?;
    let transport =
        transport_from_name(transport).ok_or_else(|| StoreError::Corrupt(format!("record {number}: transport {transport:?}")))?;
    let state = state_from_name(state).ok_or_else(|| StoreError::Corrupt(format!("record {number}: state {state:?}")))?;
    Ok((observed, transport, state))
}

fn from_row(row: &Row<'_>) -> Result<RlRecord> {
    let number: String = row.get(0)?;
    let (observed, transport, state) =
        parse_required(&number, &row.get::<_, String>(4)?, &row.get::<_, String>(7)?, &row.get::<_, String>(15)?)?;
    Ok(RlRecord {
        mac: parse_opt(&number, "mac", row.get(1)?)?,
        private_ip: parse_opt(&number, "private_ip", row.get(2)?)?,
        public_ip_claimed: parse_opt(&number, "public_ip_claimed", row.get(3)?)?,
        observed,
        behind_nat: row.get(5)?,
        bearer_port: row.get(6)?,
        transport,
        flow_id: None,
        local: None,
        instance: row.get(8)?,
        reg_id: row.get(9)?,
        call_id: row.get(10)?,
        contact: row.get(11)?,
        user_agent: row.get(12)?,
        registered_at: time_from_sql("registered_at", row.get(13)?)?,
        expires_at: time_from_sql("expires_at", row.get(14)?)?,
        state,
        outbound: row.get(16)?,
        number: number.into(),
    })
}

impl Store {
    /// Inserts or replaces the RL record for `record.number` (everything but
    /// `flow_id` and `local`). The number must be provisioned
    /// ([`StoreError::NotFound`] otherwise). One cached statement, one
    /// autocommit transaction: it runs on every REGISTER.
    pub fn put_record(&self, record: &RlRecord) -> Result<()> {
        let registered_at = time_to_sql("registered_at", record.registered_at)?;
        let expires_at = time_to_sql("expires_at", record.expires_at)?;
        let mut stmt = self.conn.prepare_cached(UPSERT)?;
        let result = stmt.execute(rusqlite::params![
            record.number,
            record.mac.map(|m| m.to_string()),
            record.private_ip.map(|ip| ip.to_string()),
            record.public_ip_claimed.map(|ip| ip.to_string()),
            record.observed.to_string(),
            record.behind_nat,
            record.bearer_port,
            transport_name(record.transport),
            record.instance,
            record.reg_id,
            record.call_id,
            record.contact,
            record.user_agent,
            registered_at,
            expires_at,
            record.state.as_str(),
            record.outbound,
        ]);
        match result {
            Ok(_) => Ok(()),
            Err(e) if extended_code(&e) == Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => {
                Err(StoreError::NotFound(record.number.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the RL record for `number`; false if there was none.
    pub fn delete_record(&self, number: &str) -> Result<bool> {
        let mut stmt = self.conn.prepare_cached("DELETE FROM registrations WHERE number = ?1")?;
        Ok(stmt.execute([number])? > 0)
    }

    /// The RL record for `number`, if any (with `flow_id`/`local` unset).
    pub fn record(&self, number: &str) -> Result<Option<RlRecord>> {
        let mut stmt = self.conn.prepare_cached(SELECT_ONE)?;
        let mut rows = stmt.query([number])?;
        rows.next()?.map(from_row).transpose()
    }

    /// Every RL record ordered by number, with `flow_id` and `local` unset.
    pub fn records(&self) -> Result<Vec<RlRecord>> {
        let mut stmt = self.conn.prepare_cached(SELECT_ALL)?;
        let rows = stmt.query_and_then([], from_row)?;
        rows.collect()
    }

    /// Deletes the records whose TTL has run out (`expires_at <= now`, i.e.
    /// `time_left(now) == 0`) and returns how many went.
    pub fn purge_expired(&self, now: UnixTime) -> Result<usize> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached("DELETE FROM registrations WHERE expires_at <= ?1")?;
        Ok(stmt.execute([now])?)
    }
}
