//! The SIPVicious tools (PyPI `sipvicious`; `scripts/test.sh` installs it) as
//! an attacker runs them against a test's switch: `svwar` scans a number
//! range, `svcrack` guesses a number's password. Each runs from a chosen
//! loopback source address through `scripts/sipvicious/from_source.py` (the
//! tools' own `-b` never reaches their socket), is stopped with SIGINT at its
//! deadline (it then prints what it found, as after Ctrl-C) and is killed if
//! the test ends first. `svcrack -d -` reads its words from stdin, one at a
//! time as [`Scan::feed`] writes them: several of them, one per source, then
//! guess in whatever order a test feeds them.

use crate::proc::Proc;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Which tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Svwar,
    Svcrack,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Svwar => "svwar",
            Tool::Svcrack => "svcrack",
        }
    }
}

/// What a finished run said.
#[derive(Debug)]
pub struct Run {
    /// `None` when it had to be killed.
    pub status: Option<ExitStatus>,
    /// Its results table, when it found something.
    pub stdout: String,
    /// Its log.
    pub stderr: String,
}

impl Run {
    /// Both outputs, for failure messages.
    pub fn said(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

/// How a [`Scan`] runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Stopped (SIGINT) after this long.
    pub within: Duration,
    /// How long it waits for stragglers once it has sent everything (svcrack:
    /// 10 s); also how long it waits for the first answer.
    pub socket_timeout: Option<Duration>,
    /// Its stdin is a pipe for [`Scan::feed`] (with `-d -`).
    pub words_on_stdin: bool,
}

impl Options {
    pub fn within(within: Duration) -> Self {
        Options { within, socket_timeout: None, words_on_stdin: false }
    }
}

/// One tool running.
pub struct Scan {
    proc: Proc,
    stdin: Option<ChildStdin>,
    dir: tempfile::TempDir,
    deadline: Instant,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/sipvicious/from_source.py")
}

/// Panics with what to do when the tools are missing.
pub fn require() {
    let ok = Command::new("python3").args(["-c", "import sipvicious.svwar, sipvicious.svcrack"]).status().is_ok_and(|s| s.success());
    assert!(ok, "the SIPVicious tools are missing: pip install sipvicious (scripts/test.sh does)");
}

impl Scan {
    /// Starts `tool ARGS` from `source`.
    pub fn start(tool: Tool, source: Ipv4Addr, args: &[&str], opts: Options) -> Scan {
        require();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temp dir: {e}"));
        let file = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut cmd = Command::new("python3");
        cmd.arg(script()).arg(source.to_string()).arg(tool.name()).args(args);
        if let Some(t) = opts.socket_timeout {
            cmd.env("SV_SOCKET_TIMEOUT", format!("{:.3}", t.as_secs_f64()));
        }
        let stdin = if opts.words_on_stdin { Stdio::piped() } else { Stdio::null() };
        cmd.stdin(stdin).stdout(file("stdout")).stderr(file("stderr")).current_dir(dir.path());
        let mut proc = Proc::spawn(&mut cmd);
        let stdin = proc.0.stdin.take();
        Scan { proc, stdin, dir, deadline: Instant::now() + opts.within }
    }

    /// Gives it its next word (see [`Options::words_on_stdin`]).
    #[track_caller]
    pub fn feed(&mut self, word: &str) {
        let stdin = self.stdin.as_mut().unwrap_or_else(|| panic!("this scan reads no words from stdin"));
        if let Err(e) = writeln!(stdin, "{word}").and_then(|()| stdin.flush()) {
            panic!("feeding {word:?}: {e} (the tool ended early? {})", self.read("stderr"));
        }
    }

    /// Ends its word list (EOF): it sends what it has, waits for stragglers
    /// and ends. Close every scan's list before finishing any, so they wind
    /// down together.
    pub fn close_words(&mut self) {
        drop(self.stdin.take());
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Closes its word list and waits for it to end, or stops it at its
    /// deadline; what it said.
    pub fn finish(mut self) -> Run {
        self.close_words();
        let mut status = self.proc.wait_exit(self.deadline.saturating_duration_since(Instant::now()));
        if status.is_none() {
            self.proc.signal("INT");
            status = self.proc.wait_exit(Duration::from_secs(5));
        }
        Run { status, stdout: self.read("stdout"), stderr: self.read("stderr") }
    }
}

/// Runs `tool ARGS` from `source` to its end, or for `within` at most.
pub fn run(tool: Tool, source: Ipv4Addr, args: &[&str], within: Duration) -> Run {
    Scan::start(tool, source, args, Options::within(within)).finish()
}
