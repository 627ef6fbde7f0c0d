//! The provisioning and inspection subcommands. `main.rs` only parses and
//! dispatches; each command's handler lives here.

pub(crate) mod calls;
pub(crate) mod probe;
pub(crate) mod registrations;
pub(crate) mod subscriber;
mod table;

use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;
use switch::defaults::DEFAULT_DATA_DIR;

/// `--data-dir`, shared by every command that opens the store.
#[derive(clap::Args, Debug)]
pub(crate) struct DataDir {
    /// Directory holding the switch's state (switch.db).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,
}

/// Sends one command line to the running switch (its control socket) and
/// returns its one-line answer.
pub(crate) fn ask(dir: &DataDir, command: &str) -> Result<String> {
    let path = switch::control::socket_path(&dir.data_dir);
    let mut stream = UnixStream::connect(&path)
        .with_context(|| format!("no running switch at {} (is `switch run` using this --data-dir?)", path.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(format!("{command}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).context("reading the switch's answer")?;
    Ok(line.trim_end().to_owned())
}
