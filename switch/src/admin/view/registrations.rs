//! The registrations as listed: the RL facts of each record, seconds left,
//! the node holding it, and the numbers locked against password guessing.
//! One piece for `switch registrations` (records read from the store) and
//! `GET /api/registrations` (the live table of the running core).

use crate::abuse::NumberLock;
use crate::record::{RlRecord, UnixTime, transport_name};
use serde::Serialize;

/// A number's lock as listed.
#[derive(Debug, Serialize)]
pub struct LockView {
    /// Seconds until the lock ends.
    pub seconds_left: u64,
    /// Which lock this is (each one twice as long as the last).
    pub level: u32,
    /// Failed authentications counted for the number.
    pub failures: u64,
}

impl LockView {
    fn new(l: &NumberLock) -> Self {
        LockView { seconds_left: l.seconds_left, level: l.level, failures: l.failures }
    }
}

/// A locked number with no record (never registered, or not provisioned).
#[derive(Debug, Serialize)]
pub struct LockedView<'a> {
    pub number: &'a str,
    pub state: &'static str,
    pub lock: LockView,
}

/// One record as listed; `time_left` is seconds from `now`.
#[derive(Debug, Serialize)]
pub struct RecordView<'a> {
    pub number: &'a str,
    /// With Redis: the switch node holding the number's flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<&'a str>,
    pub state: &'static str,
    /// Set while the number is locked against password guessing.
    pub lock: Option<LockView>,
    /// Where the phone's flow comes from: its public address as seen.
    pub observed: String,
    pub transport: &'static str,
    pub private_ip: Option<String>,
    /// The public IP the phone claims (X-Public-IP); compare with `observed`.
    pub public_ip: Option<String>,
    pub behind_nat: bool,
    pub mac: Option<String>,
    pub bearer_port: Option<u16>,
    pub user_agent: Option<&'a str>,
    pub contact: &'a str,
    pub outbound: bool,
    pub registered_at: UnixTime,
    pub expires_at: UnixTime,
    pub time_left: u64,
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
}

/// Every record, then every locked number without one.
#[derive(Debug)]
pub struct Registrations<'a> {
    pub records: Vec<RecordView<'a>>,
    pub locked: Vec<LockedView<'a>>,
}

impl<'a> Registrations<'a> {
    /// The listing at Unix time `now` of `records` (each with the node that
    /// holds it, where there are nodes) and `locks`.
    pub fn new(records: &'a [(RlRecord, Option<String>)], locks: &'a [NumberLock], now: UnixTime) -> Self {
        let lock_of = |number: &str| locks.iter().find(|l| l.number == number);
        let views = records.iter().map(|(r, node)| RecordView::new(r, node.as_deref(), now, lock_of(&r.number))).collect();
        let locked = locks
            .iter()
            .filter(|l| !records.iter().any(|(r, _)| *r.number == *l.number))
            .map(|l| LockedView { number: &l.number, state: "absent", lock: LockView::new(l) })
            .collect();
        Registrations { records: views, locked }
    }

    /// One JSON array: the records, then the locked numbers.
    pub fn to_json(&self) -> serde_json::Result<serde_json::Value> {
        let mut all: Vec<serde_json::Value> = self.records.iter().map(serde_json::to_value).collect::<Result<_, _>>()?;
        for l in &self.locked {
            all.push(serde_json::to_value(l)?);
        }
        Ok(serde_json::Value::Array(all))
    }
}
