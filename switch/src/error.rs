//! The switch library's one error type. Module-level detail enums (the
//! store's [`StoreError`]) ride along as variant payloads; the binary turns
//! any of them into one line on stderr.

use crate::store::StoreError;

/// What can go wrong in the switch library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A setting that cannot work; the text names it and says why.
    #[error("{0}")]
    Config(String),
    /// A self-check found two indexes that disagree (tests and debug
    /// assertions); the text says which.
    #[error("invariant broken: {0}")]
    Invariant(String),
}

/// The switch library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
