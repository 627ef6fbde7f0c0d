//! Commands answered by the running switch through its control socket:
//! `switch probe NUMBER` (OPTIONS down the number's registered flow) and
//! `switch route NUMBER` (where a call for the number would go now).

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

#[derive(clap::Args, Debug)]
pub(crate) struct RouteArgs {
    /// The provisioned number.
    number: String,
    #[command(flatten)]
    dir: DataDir,
}

/// Sends one command line to the running switch and returns its one-line answer.
fn ask(dir: &DataDir, command: &str) -> Result<String> {
    let path = switch::control::socket_path(&dir.data_dir);
    let mut stream = UnixStream::connect(&path)
        .with_context(|| format!("no running switch at {} (is `switch run` using this --data-dir?)", path.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(format!("{command}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).context("reading the switch's answer")?;
    Ok(line.trim_end().to_owned())
}

/// Prints the switch's answer; fails (exit 1) when the phone was not reached.
pub(crate) fn run(args: ProbeArgs) -> Result<()> {
    let line = ask(&args.dir, &format!("probe {}", args.number))?;
    println!("{line}");
    if !line.starts_with("reachable") {
        bail!("{} not reached", args.number);
    }
    Ok(())
}

/// Prints `route NUMBER flow|home|unavailable|unknown ...`; fails only when the
/// switch could not be asked.
pub(crate) fn route(args: RouteArgs) -> Result<()> {
    let line = ask(&args.dir, &format!("route {}", args.number))?;
    if line.starts_with("error") {
        bail!("{line}");
    }
    println!("{line}");
    Ok(())
}
