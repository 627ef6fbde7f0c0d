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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::SwitchConfig;
    use crate::store::Store;

    fn pragma(store: &Store) -> i64 {
        store.conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap()
    }

    #[test]
    fn the_config_sets_the_connection_pragma_normal_unless_told() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(pragma(&store), 1, "NORMAL by default");
        for (text, mode, value) in [("off", Synchronous::Off, 0), ("full", Synchronous::Full, 2), ("normal", Synchronous::Normal, 1)] {
            let c: SwitchConfig = toml::from_str(&format!("[store]\nsqlite_synchronous = \"{text}\"\n")).unwrap();
            assert_eq!(c.store.sqlite_synchronous, mode);
            store.set_synchronous(mode).unwrap();
            assert_eq!(pragma(&store), value, "{text}");
        }
        assert_eq!(SwitchConfig::default().store.sqlite_synchronous, Synchronous::Normal);
        assert!(toml::from_str::<SwitchConfig>("[store]\nsqlite_synchronous = \"extra\"\n").is_err());
    }
}
