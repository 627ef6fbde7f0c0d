//! Commands answered by the running switch through its control socket:
//! `switch probe NUMBER` (OPTIONS down the number's registered flow) and
//! `switch route NUMBER` (where a call for the number would go now).

use super::{DataDir, ask};
use anyhow::{Result, bail};

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
