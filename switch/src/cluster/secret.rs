//! The cluster secret (`[cluster] secret_file`): the key of the flow tokens
//! the nodes make for each other. Never printed.

use crate::Error;
use std::fmt;
use std::path::Path;

/// The fewest bytes a secret may have (128 bits).
pub const MIN_LEN: usize = 16;

/// The shared key. Its `Debug` shows nothing of it, so it cannot reach a log.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret of at least [`MIN_LEN`] bytes.
    pub fn new(bytes: Vec<u8>) -> Result<Secret, Error> {
        if bytes.len() < MIN_LEN {
            return Err(Error::Config(format!("the cluster secret must have at least {MIN_LEN} bytes")));
        }
        Ok(Secret(bytes))
    }

    /// The file's content without surrounding whitespace (a trailing newline
    /// from `echo` or an editor is not part of the key).
    pub fn read(path: &Path) -> Result<Secret, Error> {
        let text = std::fs::read(path).map_err(|e| Error::Config(format!("reading the cluster secret {}: {e}", path.display())))?;
        let trimmed = text.trim_ascii();
        Secret::new(trimmed.to_vec()).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}
