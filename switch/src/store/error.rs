//! The store's one error type.

use std::path::PathBuf;

/// What can go wrong reading or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused or failed (I/O, lock timeout, constraint, …).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The data directory or database file could not be created.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// `Store::open_existing` found no database file.
    #[error("no database at {} (nothing provisioned there yet)", .0.display())]
    NoDatabase(PathBuf),
    /// The number is not provisioned.
    #[error("no subscriber {0}")]
    NotFound(String),
    /// The number is already provisioned.
    #[error("subscriber {0} exists")]
    Exists(String),
    /// Input failed validation; the text says which and why.
    #[error("{0}")]
    Invalid(String),
    /// A stored value does not read back (edited by hand, or a newer writer).
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// Redis refused or failed (connection lost, timeout, cluster moved, …).
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis could not be reached when the store was opened. `target` is the
    /// configured URL with any password masked.
    #[error("cannot reach redis at {target}: {source}")]
    Unreachable { target: String, source: redis::RedisError },
    /// Written, but fewer Redis replicas than asked for (`[store]
    /// wait_replicas`) acknowledged it in time.
    #[error("{what}: {acked} of {wanted} redis replicas acknowledged the write in time")]
    NotReplicated { what: String, acked: u32, wanted: u32 },
    /// The file was migrated by a newer switch than this one.
    #[error("database schema v{found} is newer than this switch understands (v{supported})")]
    SchemaTooNew { found: i64, supported: i64 },
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The SQLite extended result code of a failed statement, if it was one.
pub(super) fn extended_code(e: &rusqlite::Error) -> Option<i32> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.extended_code),
        _ => None,
    }
}
