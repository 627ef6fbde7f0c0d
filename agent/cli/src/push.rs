//! `agent push-received`: how a push notification reaches a listening CLI
//! agent. The conventional Unix way to poke a long-lived process: its pid in
//! a file (`listen --pid-file`), SIGUSR1 to it, which `listen` turns into
//! `AgentHandle::push_received` (what an app calls when APNs/FCM wakes it).

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::{Path, PathBuf};

/// The pid file of a listening agent, removed when it stops.
pub(crate) struct PidFile(PathBuf);

impl PidFile {
    pub(crate) fn write(path: PathBuf) -> anyhow::Result<PidFile> {
        std::fs::write(&path, format!("{}\n", std::process::id())).with_context(|| format!("--pid-file {}", path.display()))?;
        Ok(PidFile(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Sends SIGUSR1 to the agent named by `pid_file`; the exit status.
pub(crate) fn notify(pid_file: &Path) -> u8 {
    match signal(pid_file) {
        Ok(pid) => {
            println!("push sent pid={pid}");
            0
        }
        Err(e) => {
            eprintln!("agent: push-received: {e:#}");
            1
        }
    }
}

fn signal(pid_file: &Path) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(pid_file).with_context(|| format!("reading {}", pid_file.display()))?;
    let pid: i32 = text.trim().parse().with_context(|| format!("{}: not a process id", pid_file.display()))?;
    // 0 and negatives name process groups: never what a pid file means.
    anyhow::ensure!(pid > 0, "{}: not a process id", pid_file.display());
    kill(Pid::from_raw(pid), Signal::SIGUSR1).with_context(|| format!("signalling process {pid}"))?;
    Ok(pid)
}
