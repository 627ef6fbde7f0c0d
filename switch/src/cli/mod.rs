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
use switch::store::{Backend, StoreTarget};

/// `--data-dir`, shared by every command that opens the store.
#[derive(clap::Args, Debug)]
pub(crate) struct DataDir {
    /// Directory holding the switch's state (switch.db).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,
}

/// Where a command finds the store: the SQLite file in `--data-dir`, or Redis
/// with `--redis` (the same URL as `switch run --redis`).
#[derive(clap::Args, Debug)]
pub(crate) struct StoreArgs {
    #[command(flatten)]
    pub(crate) dir: DataDir,
    /// Use Redis instead of the SQLite file: redis://[:PASSWORD@]HOST:PORT or
    /// redis-cluster://HOST:PORT,HOST:PORT,...
    #[arg(long, value_name = "URL")]
    pub(crate) redis: Option<String>,
}

impl StoreArgs {
    fn target(&self) -> Result<StoreTarget> {
        Ok(match &self.redis {
            Some(url) => StoreTarget::Redis(url.parse()?),
            None => StoreTarget::Dir(self.dir.data_dir.clone()),
        })
    }

    /// Opens the store, creating the SQLite file if missing (provisioning).
    pub(crate) fn open(&self) -> Result<Backend> {
        let target = self.target()?;
        Backend::open(&target, None).with_context(|| format!("opening the store at {target}"))
    }

    /// Opens the store; an SQLite file must exist already.
    pub(crate) fn open_existing(&self) -> Result<Backend> {
        let target = self.target()?;
        Backend::open_existing(&target, None).with_context(|| format!("opening the store at {target}"))
    }
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
