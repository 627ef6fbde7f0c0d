//! The provisioning and inspection subcommands. `main.rs` only parses and
//! dispatches; each command's handler lives here.

pub(crate) mod calls;
pub(crate) mod probe;
pub(crate) mod registrations;
pub(crate) mod subscriber;
mod table;

use std::path::PathBuf;
use switch::defaults::DEFAULT_DATA_DIR;

/// `--data-dir`, shared by every command that opens the store.
#[derive(clap::Args, Debug)]
pub(crate) struct DataDir {
    /// Directory holding the switch's state (switch.db).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,
}
