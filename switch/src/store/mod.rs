//! The store: provisioned subscribers, RL records and call records. The
//! embedded default is one SQLite file, `<data-dir>/switch.db` ([`Store`]);
//! several switch nodes share one Redis server or Cluster instead
//! ([`RedisStore`], in `redis/`). [`Backend`] is the one interface over both
//! that the running switch and the CLI use.
//!
//! What follows is the SQLite side.
//!
//! The file is shared: a running switch and the provisioning CLI open it at the
//! same time. It runs in WAL mode (readers never block the writer) with
//! `synchronous=NORMAL`: a committed transaction is in the WAL before `commit`
//! returns, so it survives the process being killed (`kill -9`); only a power
//! cut can lose the last few (`[store] sqlite_synchronous`, [`Synchronous`]). Writers wait up to [`BUSY_TIMEOUT`] for the lock.
//!
//! The API is synchronous: the switch calls it from a blocking thread, never
//! from an async task. One [`Store`] holds one connection and caches its
//! prepared statements; it is `Send` but not `Sync`.

mod backend;
mod cdrs;
mod clock;
mod error;
mod page_cache;
mod records;
pub mod redis;
mod schema;
mod subscribers;
mod synchronous;
pub mod validate;

pub use self::redis::{RedisStore, RedisTarget};
pub use backend::{Backend, RecordChange, StoreTarget};
pub use clock::WallClock;
pub use error::{Result, StoreError};
pub use page_cache::PAGE_CACHE_KIB;
pub use subscribers::{NewSubscriber, SubscriberUpdate};
pub use synchronous::Synchronous;

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The database file inside the data directory.
pub const DB_FILE: &str = "switch.db";

/// How long a statement waits for another connection's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i64 = schema::LATEST;

/// Subscribers and RL records, persisted.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens `<dir>/switch.db`, creating the directory and the file if missing
    /// and migrating the schema to [`SCHEMA_VERSION`].
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
        let path = dir.join(DB_FILE);
        create_private(&path)?;
        Store::open_file(path)
    }

    /// Opens `<dir>/switch.db` only if it exists (for commands that only read
    /// or change what is there, so a mistyped `--data-dir` is an error rather
    /// than a new empty store).
    pub fn open_existing(dir: &Path) -> Result<Store> {
        let path = dir.join(DB_FILE);
        if !path.is_file() {
            return Err(StoreError::NoDatabase(path));
        }
        Store::open_file(path)
    }

    fn open_file(path: PathBuf) -> Result<Store> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&path, flags)?;
        // First, so that even switching to WAL waits for a concurrent opener.
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Invalid(format!("{}: cannot use WAL journal (got {mode})", path.display())));
        }
        conn.pragma_update(None, "synchronous", Synchronous::default().pragma())?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.set_prepared_statement_cache_capacity(32);
        schema::migrate(&mut conn, now_i64())?;
        let store = Store { conn, path };
        store.set_page_cache_kib(PAGE_CACHE_KIB)?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How this connection's commits reach the disk (see [`Synchronous`]).
    pub fn set_synchronous(&self, mode: Synchronous) -> Result<()> {
        Ok(self.conn.pragma_update(None, "synchronous", mode.pragma())?)
    }

    /// SQLite's `PRAGMA data_version`: it changes whenever *another*
    /// connection (the CLI, another process) commits to the file, and not for
    /// this connection's own writes. The running switch does not gate its
    /// provisioning check on it: its own store thread is such another
    /// connection, so under traffic it moves at every commit.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.conn.pragma_query_value(None, "data_version", |r| r.get(0))?)
    }

    /// The schema version recorded in the file.
    /// A counter that moves with every subscriber change (and only then).
    pub fn subscribers_version(&self) -> Result<i64> {
        let mut stmt = self.conn.prepare_cached("SELECT v FROM subscribers_version WHERE id = 1")?;
        Ok(stmt.query_row([], |r| r.get(0))?)
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))?)
    }
}

/// Creates the database file readable by its owner only (it holds HA1s, which
/// are password equivalents). SQLite gives the `-wal` and `-shm` files the
/// same mode. An existing file is left as it is.
fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Io { path: path.to_path_buf(), source }),
    }
}

/// Wall-clock seconds for `created_at`/`updated_at` bookkeeping.
fn now_i64() -> i64 {
    let secs = sipcore::auth::unix_seconds(SystemTime::now());
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// A [`crate::record::UnixTime`] as SQLite's INTEGER.
fn time_to_sql(what: &str, t: u64) -> Result<i64> {
    i64::try_from(t).map_err(|_| StoreError::Invalid(format!("{what} {t} is out of range")))
}

/// SQLite's INTEGER back as a time; a negative value is corruption.
fn time_from_sql(what: &str, t: i64) -> Result<u64> {
    u64::try_from(t).map_err(|_| StoreError::Corrupt(format!("{what} {t} is negative")))
}
