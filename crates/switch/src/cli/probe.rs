//! `switch probe NUMBER`: asks the running switch (through its control socket)
//! to send an OPTIONS down the number's registered flow, and prints the outcome.

use super::DataDir;
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub(crate) struct ProbeArgs {
    /// The registered number to reach.
    number: String,
    #[command(flatten)]
    dir: DataDir,
}

/// Prints the switch's answer; fails (exit 1) when the phone was not reached.
pub(crate) fn run(args: ProbeArgs) -> Result<()> {
    let path = switch::control::socket_path(&args.dir.data_dir);
    let mut stream = UnixStream::connect(&path)
        .with_context(|| format!("no running switch at {} (is `switch run` using this --data-dir?)", path.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(format!("probe {}\n", args.number).as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).context("reading the switch's answer")?;
    let line = line.trim_end();
    println!("{line}");
    if !line.starts_with("reachable") {
        bail!("{} not reached", args.number);
    }
    Ok(())
}
