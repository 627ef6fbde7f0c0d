//! Processes a test starts: ended by their id when the test ends either way,
//! and their stdout read line by line with deadlines.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process this test started; killed and reaped on drop.
pub struct Proc(pub Child);

impl Proc {
    /// Spawns `cmd`, panicking with the program name when it cannot start.
    pub fn spawn(cmd: &mut Command) -> Self {
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
        Proc(child)
    }

    /// Sends SIGTERM (a clean stop) to this process only.
    pub fn terminate(&self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
    }

    /// Waits up to `within` for the process to exit on its own.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGSTOP / SIGCONT: freeze the process without ending it.
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill").args([&format!("-{sig}"), &self.0.id().to_string()]).status();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The stdout of a process, line by line.
pub struct Lines {
    rx: mpsc::Receiver<String>,
    /// Every line read so far, for failure messages.
    pub seen: Vec<String>,
}

impl Lines {
    /// Spawns `cmd` with stdout piped and follows it.
    pub fn spawn(cmd: &mut Command) -> (Proc, Lines) {
        let mut proc = Proc::spawn(cmd.stdout(Stdio::piped()));
        let lines = Lines::follow(&mut proc.0);
        (proc, lines)
    }

    /// Follows the piped stdout of `child`.
    pub fn follow(child: &mut Child) -> Lines {
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Lines { rx, seen: Vec::new() }
    }

    /// The next line containing every one of `needles`, read within `within`;
    /// panics with everything the process said when none comes.
    pub fn wait(&mut self, needles: &[&str], within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if needles.iter().all(|n| line.contains(n)) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {needles:?} within {within:?}; the process said:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Everything the process said, once it has been quiet for `quiet` (a
    /// failure message's account of the other side).
    pub fn said(&mut self, quiet: Duration) -> String {
        while let Ok(line) = self.rx.recv_timeout(quiet) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}
