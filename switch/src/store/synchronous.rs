//! How hard a SQLite commit pushes to the disk (`[store] sqlite_synchronous`).
//! The store runs in WAL mode, where SQLite's `synchronous` setting decides
//! when the WAL is fsynced; what each choice promises about a registration
//! the switch has answered 200 OK:
//!
//! - `normal` (the default): the commit is written to the WAL (in the page
//!   cache) before the 200 OK; the WAL is fsynced at each checkpoint. A
//!   killed or crashed switch loses nothing acknowledged; a power cut or
//!   kernel crash can lose the registrations since the last checkpoint.
//! - `full`: the WAL is also fsynced at every commit (one fsync per group
//!   commit, whatever its size): nothing acknowledged is lost to a power cut.
//! - `off`: SQLite never fsyncs. For measuring what fsyncs cost, not for
//!   service: a power cut can corrupt the file.

use serde::Deserialize;

/// SQLite's `PRAGMA synchronous` for the switch's connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// Never fsync (benchmarks only).
    Off,
    /// fsync the WAL at checkpoints.
    #[default]
    Normal,
    /// fsync the WAL at every commit.
    Full,
}

impl Synchronous {
    /// The pragma's value.
    pub fn pragma(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}
