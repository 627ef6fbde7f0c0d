//! The command line.

use std::net::IpAddr;
use std::time::Duration;

/// 20 ms of G.711 at 8 kHz.
pub(crate) const PERIOD: Duration = Duration::from_millis(20);

pub(crate) struct Args {
    pub(crate) lanes: Vec<String>,
    pub(crate) streams: usize,
    pub(crate) seconds: Duration,
    pub(crate) warmup: Duration,
    pub(crate) caller_ip: IpAddr,
    pub(crate) callee_ip: IpAddr,
    /// After the interleaved run, each relay lane alone flat out for this long (zero: no flood).
    pub(crate) flood: Duration,
}

impl Args {
    pub(crate) fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut args = Args {
            lanes: Vec::new(),
            streams: 50,
            seconds: Duration::from_secs(20),
            warmup: Duration::from_secs(1),
            caller_ip: IpAddr::from([127, 0, 0, 5]),
            callee_ip: IpAddr::from([127, 0, 0, 6]),
            flood: Duration::ZERO,
        };
        while let Some(flag) = argv.next() {
            let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
            match flag.as_str() {
                "--lanes" => args.lanes = value.split(',').filter(|l| !l.is_empty()).map(str::to_owned).collect(),
                "--streams" => args.streams = value.parse().map_err(|e| bad(&e))?,
                "--seconds" => args.seconds = Duration::try_from_secs_f64(value.parse().map_err(|e| bad(&e))?).map_err(|e| bad(&e))?,
                "--warmup" => args.warmup = Duration::try_from_secs_f64(value.parse().map_err(|e| bad(&e))?).map_err(|e| bad(&e))?,
                "--caller-ip" => args.caller_ip = value.parse().map_err(|e| bad(&e))?,
                "--callee-ip" => args.callee_ip = value.parse().map_err(|e| bad(&e))?,
                "--flood" => args.flood = Duration::try_from_secs_f64(value.parse().map_err(|e| bad(&e))?).map_err(|e| bad(&e))?,
                _ => return Err(format!("unknown argument {flag}")),
            }
        }
        if args.lanes.is_empty()
            || args.lanes.len() > 16
            || !(1..=4096).contains(&args.streams)
            || args.warmup >= args.seconds
            || args.flood > Duration::from_secs(60)
        {
            return Err("need --lanes (1..16), --streams 1..4096, --warmup < --seconds, --flood <= 60".into());
        }
        Ok(args)
    }

    /// Packets one lane sends in the counted part of the run (both directions), to size the buffers.
    pub(crate) fn expected_per_lane(&self) -> usize {
        let periods = (self.seconds - self.warmup).as_secs_f64() / PERIOD.as_secs_f64();
        (periods.ceil() as usize + 1) * self.streams * 2
    }
}
