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
use switch::config::SwitchConfig;
use switch::defaults::{DEFAULT_DATA_DIR, DOMAIN_FILE, remembered_domain};
use switch::store::{Backend, StoreTarget};

/// `--data-dir` and `--config`, shared by every command that opens the store
/// or talks to the running switch.
#[derive(clap::Args, Debug)]
pub(crate) struct DataDir {
    /// Directory holding the switch's state (switch.db) [default: the config
    /// file's data_dir, else ./switch-data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The config file `switch run` reads: its data_dir, domain and [store]
    /// apply here too unless given as flags.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Where the switch these commands speak of lives, and the domain it serves.
pub(crate) struct Site {
    pub(crate) data_dir: PathBuf,
    /// The domain and where it was learnt (the config file, or the data dir's
    /// memory of the last `switch run`); `None` when neither says.
    pub(crate) domain: Option<(String, String)>,
    redis: Option<String>,
}

impl DataDir {
    pub(crate) fn site(&self) -> Result<Site> {
        let file = match &self.config {
            Some(path) => Some(SwitchConfig::from_file(path).with_context(|| format!("reading {}", path.display()))?),
            None => None,
        };
        let data_dir = match (&self.data_dir, &file) {
            (Some(dir), _) => dir.clone(),
            (None, Some(c)) => c.data_dir.clone(),
            (None, None) => PathBuf::from(DEFAULT_DATA_DIR),
        };
        let domain = match (&file, &self.config) {
            (Some(c), Some(path)) => Some((c.domain.clone(), path.display().to_string())),
            _ => remembered_domain(&data_dir).map(|d| (d, data_dir.join(DOMAIN_FILE).display().to_string())),
        };
        Ok(Site { data_dir, domain, redis: file.and_then(|c| c.store.redis) })
    }
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
        let site = self.dir.site()?;
        Ok(match self.redis.as_ref().or(site.redis.as_ref()) {
            Some(url) => StoreTarget::Redis(url.parse()?),
            None => StoreTarget::Dir(site.data_dir),
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
    let path = switch::control::socket_path(&dir.site()?.data_dir);
    let mut stream = UnixStream::connect(&path)
        .with_context(|| format!("no running switch at {} (is `switch run` using this --data-dir?)", path.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(format!("{command}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).context("reading the switch's answer")?;
    Ok(line.trim_end().to_owned())
}
