//! The schema and its migrations. Each migration runs once, in order, inside
//! the transaction that records it in `schema_version`; never edit a released
//! one, append a new one.

use super::error::{Result, StoreError};
use rusqlite::{Connection, TransactionBehavior};

/// Migration `n` (1-based) is `MIGRATIONS[n - 1]`.
const MIGRATIONS: &[&str] = &[
    // v1: subscribers and their RL records. Timestamps are Unix seconds. The
    // registrations table holds every RlRecord field except the runtime-only
    // flow_id and local (a flow does not survive a restart).
    r#"
    CREATE TABLE subscribers (
        number          TEXT PRIMARY KEY NOT NULL,
        realm           TEXT NOT NULL,
        ha1_md5         TEXT NOT NULL,
        ha1_sha256      TEXT NOT NULL,
        ha1_sha512_256  TEXT NOT NULL,
        mac             TEXT,
        home            TEXT,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE registrations (
        number             TEXT PRIMARY KEY NOT NULL
                           REFERENCES subscribers(number) ON DELETE CASCADE ON UPDATE CASCADE,
        mac                TEXT,
        private_ip         TEXT,
        public_ip_claimed  TEXT,
        observed           TEXT NOT NULL,
        behind_nat         INTEGER NOT NULL CHECK (behind_nat IN (0, 1)),
        bearer_port        INTEGER CHECK (bearer_port BETWEEN 0 AND 65535),
        transport          TEXT NOT NULL CHECK (transport IN ('udp', 'tcp', 'tls')),
        instance           TEXT,
        reg_id             INTEGER CHECK (reg_id BETWEEN 0 AND 4294967295),
        call_id            TEXT NOT NULL,
        contact            TEXT NOT NULL,
        user_agent         TEXT,
        registered_at      INTEGER NOT NULL,
        expires_at         INTEGER NOT NULL,
        state              TEXT NOT NULL CHECK (state IN ('registered', 'signalling_dropped', 'conflict')),
        outbound           INTEGER NOT NULL CHECK (outbound IN (0, 1))
    ) STRICT, WITHOUT ROWID;

    CREATE INDEX registrations_by_expiry ON registrations(expires_at);
    "#,
    // v2: a counter that moves with every change to `subscribers` and nothing
    // else, so a running switch can tell provisioning changes from its own
    // record writes (which also move PRAGMA data_version) with one read.
    r#"
    CREATE TABLE subscribers_version (
        id  INTEGER PRIMARY KEY CHECK (id = 1),
        v   INTEGER NOT NULL
    ) STRICT;
    INSERT INTO subscribers_version (id, v) VALUES (1, 0);
    CREATE TRIGGER subscribers_ins AFTER INSERT ON subscribers BEGIN UPDATE subscribers_version SET v = v + 1; END;
    CREATE TRIGGER subscribers_upd AFTER UPDATE ON subscribers BEGIN UPDATE subscribers_version SET v = v + 1; END;
    CREATE TRIGGER subscribers_del AFTER DELETE ON subscribers BEGIN UPDATE subscribers_version SET v = v + 1; END;
    "#,
    // v3: call records (the B2BUA's CDRs), one row per call keyed by the
    // caller's Call-ID, updated as the call rings, is answered and ends. Times
    // are Unix milliseconds; the media counters are JSON (`LegCounters`) from
    // the relay when the call ends. Numbers are not foreign keys: a record
    // outlives a deprovisioned subscriber, and trusted peers call in with any.
    r#"
    CREATE TABLE calls (
        call_id         TEXT PRIMARY KEY NOT NULL,
        callee_call_id  TEXT,
        caller          TEXT NOT NULL,
        callee          TEXT NOT NULL,
        route           TEXT NOT NULL CHECK (route IN ('flow', 'home', 'none')),
        route_reason    TEXT,
        invite_at       INTEGER NOT NULL,
        ringing_at      INTEGER,
        answer_at       INTEGER,
        end_at          INTEGER,
        status          INTEGER CHECK (status BETWEEN 100 AND 699),
        end_reason      TEXT,
        caller_media    TEXT,
        callee_media    TEXT
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX calls_by_invite ON calls(invite_at);
    "#,
    // v4: the same registrations table with its two text CHECKs written as
    // comparisons. SQLite compiles `x IN (list of more than two constants)`
    // in a CHECK to an ephemeral b-tree built on every row written: four per
    // upsert (insert and update paths), 86k of the 114k instructions the
    // upsert cost on every REGISTER (callgrind, scripts/bench/README.md).
    // A CHECK cannot be altered in place, so the table is rebuilt.
    r#"
    CREATE TABLE registrations_v4 (
        number             TEXT PRIMARY KEY NOT NULL
                           REFERENCES subscribers(number) ON DELETE CASCADE ON UPDATE CASCADE,
        mac                TEXT,
        private_ip         TEXT,
        public_ip_claimed  TEXT,
        observed           TEXT NOT NULL,
        behind_nat         INTEGER NOT NULL CHECK (behind_nat IN (0, 1)),
        bearer_port        INTEGER CHECK (bearer_port BETWEEN 0 AND 65535),
        transport          TEXT NOT NULL CHECK (transport = 'udp' OR transport = 'tcp' OR transport = 'tls'),
        instance           TEXT,
        reg_id             INTEGER CHECK (reg_id BETWEEN 0 AND 4294967295),
        call_id            TEXT NOT NULL,
        contact            TEXT NOT NULL,
        user_agent         TEXT,
        registered_at      INTEGER NOT NULL,
        expires_at         INTEGER NOT NULL,
        state              TEXT NOT NULL CHECK (state = 'registered' OR state = 'signalling_dropped' OR state = 'conflict'),
        outbound           INTEGER NOT NULL CHECK (outbound IN (0, 1))
    ) STRICT, WITHOUT ROWID;

    INSERT INTO registrations_v4 SELECT * FROM registrations;
    DROP TABLE registrations;
    ALTER TABLE registrations_v4 RENAME TO registrations;
    CREATE INDEX registrations_by_expiry ON registrations(expires_at);
    "#,
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`LATEST`]. Safe to race: the check and the
/// migration run in one `BEGIN IMMEDIATE` transaction, so a second process
/// opening the same fresh file waits (busy timeout) and then finds it done.
pub(super) fn migrate(conn: &mut Connection, now: i64) -> Result<i64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version     INTEGER PRIMARY KEY NOT NULL,
             applied_at  INTEGER NOT NULL
         ) STRICT;",
    )?;
    let current: i64 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(StoreError::SchemaTooNew { found: current, supported: LATEST });
    }
    for (version, sql) in (1i64..).zip(MIGRATIONS.iter()).skip(usize::try_from(current).unwrap_or(0)) {
        tx.execute_batch(sql)?;
        tx.execute("INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)", (version, now))?;
        tracing::debug!(version, "applied store migration");
    }
    tx.commit()?;
    Ok(LATEST)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ROW: &str = "INSERT INTO registrations VALUES ('1001', NULL, NULL, NULL, '198.51.100.7:40000', 1, NULL, \
                       'tcp', NULL, NULL, 'c1', 'sip:1001@10.0.0.2', NULL, 1800000000, 1800003600, 'registered', 0)";

    /// v4 rebuilds `registrations`: rows written under v3 survive it, and
    /// the rewritten CHECKs refuse what the old ones refused.
    #[test]
    fn v4_keeps_the_records_and_their_checks() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        conn.execute_batch("CREATE TABLE schema_version (version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL) STRICT;")
            .unwrap();
        for (version, sql) in (1i64..).zip(MIGRATIONS.iter().take(3)) {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_version VALUES (?1, 0)", [version]).unwrap();
        }
        conn.execute(
            "INSERT INTO subscribers (number, realm, ha1_md5, ha1_sha256, ha1_sha512_256, created_at, updated_at) \
             VALUES ('1001', 'r', 'a', 'b', 'c', 0, 0)",
            [],
        )
        .unwrap();
        conn.execute(ROW, []).unwrap();

        assert_eq!(migrate(&mut conn, 0).unwrap(), LATEST);
        let kept: (String, String, String) =
            conn.query_row("SELECT number, transport, state FROM registrations", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
        assert_eq!(kept, ("1001".into(), "tcp".into(), "registered".into()));
        conn.execute("DELETE FROM registrations", []).unwrap();
        assert!(conn.execute(&ROW.replace("'tcp'", "'sctp'"), []).is_err(), "transport checked");
        assert!(conn.execute(&ROW.replace("'registered'", "'gone'"), []).is_err(), "state checked");
        assert!(conn.execute(&ROW.replace("'1001',", "'1002',"), []).is_err(), "still a foreign key");
        conn.execute(ROW, []).unwrap();
        conn.execute("DELETE FROM subscribers", []).unwrap();
        let left: i64 = conn.query_row("SELECT COUNT(*) FROM registrations", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0, "ON DELETE CASCADE still applies");
        let indexed: i64 =
            conn.query_row("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'registrations_by_expiry'", [], |r| r.get(0)).unwrap();
        assert_eq!(indexed, 1);
    }
}
