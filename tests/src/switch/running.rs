//! A running `switch run`: started on the ports it reports (`--bound-file`),
//! waited for until it says it runs, its log read as events; restartable on the
//! same ports; killed on drop, its log printed when the test failed.

use super::config::Config;
use super::log::LogEvent;
use crate::ports::PortBlock;
use crate::proc::Proc;
use std::io::{Read, Seek, SeekFrom};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a switch may take to start.
const START_WITHIN: Duration = Duration::from_secs(20);

/// A listener the switch reported: `tcp`, `udp` or `tls` (SIP), `stun` (a
/// `--stun` listener, UDP), `dns-udp` or `dns-tcp` (`--dns`), and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    pub transport: &'static str,
    pub addr: SocketAddr,
}

impl Listener {
    /// Where a client on this host reaches it: a wildcard listener on loopback.
    pub fn reach(&self) -> SocketAddr {
        match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::from((Ipv4Addr::LOCALHOST, self.addr.port())),
            IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::from((Ipv6Addr::LOCALHOST, self.addr.port())),
            _ => self.addr,
        }
    }
}

/// A `switch run` this test started; killed (SIGKILL) on drop unless stopped.
pub struct Switch {
    proc: Option<Proc>,
    /// `ip netns exec NS` or nothing.
    launcher: Vec<String>,
    bin: PathBuf,
    config: PathBuf,
    /// The log (stderr), kept across restarts.
    pub log: PathBuf,
    bound_file: PathBuf,
    log_filter: String,
    json_log: bool,
    /// Where it listens, as it said (the same after a restart).
    pub listeners: Vec<Listener>,
    /// Where this run's part of the log starts.
    run_from: u64,
    relay: PortBlock,
    relay_ports: String,
}

impl Switch {
    /// Writes `cfg` beside `data` (files named after `stem`) and starts the switch.
    pub(crate) fn launch(bin: &Path, data: &Path, stem: &Path, launcher: &[&str], cfg: &Config) -> Result<Switch, String> {
        let relay = PortBlock::reserve();
        let relay_ports = cfg.relay_ports.clone().unwrap_or_else(|| relay.spec(cfg.relay_port_count));
        let config = stem.with_extension("toml");
        std::fs::write(&config, cfg.toml(data, &relay_ports)).map_err(|e| format!("{}: {e}", config.display()))?;
        let mut sw = Switch {
            proc: None,
            launcher: launcher.iter().map(|s| (*s).to_owned()).collect(),
            bin: bin.to_path_buf(),
            config,
            log: stem.with_extension("log"),
            bound_file: stem.with_extension("bound"),
            log_filter: cfg.log_filter.clone(),
            json_log: cfg.json_log,
            listeners: Vec::new(),
            run_from: 0,
            relay,
            relay_ports,
        };
        sw.spawn()?;
        Ok(sw)
    }

    /// Starts it again after `kill9` or `terminate`: same config, same data, and
    /// the ports it had, which phones know it by.
    pub fn restart(&mut self) {
        assert!(self.proc.is_none(), "the switch is still running");
        self.spawn().unwrap_or_else(|log| panic!("{log}"));
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut cmd = match self.launcher.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        cmd.args(["run", "--config"]).arg(&self.config).arg("--bound-file").arg(&self.bound_file);
        cmd.args(["--log-format", if self.json_log { "json" } else { "text" }]);
        for l in &self.listeners {
            match l.transport {
                "stun" => cmd.arg("--stun").arg(format!("udp:{}", l.addr)),
                "dns-udp" => cmd.arg("--dns").arg(format!("udp:{}", l.addr)),
                "dns-tcp" => cmd.arg("--dns").arg(format!("tcp:{}", l.addr)),
                "admin" => cmd.arg("--admin").arg(format!("tcp:{}", l.addr)),
                sip => cmd.arg("--listen").arg(format!("{sip}:{}", l.addr)),
            };
        }
        cmd.env("RUST_LOG", &self.log_filter).env_remove("SWITCH_PASSWORD");
        let _ = std::fs::remove_file(&self.bound_file);
        let file =
            std::fs::OpenOptions::new().create(true).append(true).open(&self.log).map_err(|e| format!("{}: {e}", self.log.display()))?;
        self.run_from = file.metadata().map(|m| m.len()).unwrap_or(0);
        self.proc = Some(Proc::spawn(cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file)));
        self.wait_running()
    }

    /// Until the bound file is there and the log says "switch running" (its
    /// store is loaded and its control socket is up), or the switch exits.
    fn wait_running(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_WITHIN;
        loop {
            let log = self.run_log();
            if let Ok(bound) = std::fs::read_to_string(&self.bound_file)
                && log.lines().any(is_running_line)
            {
                self.listeners = parse_bound(&bound)?;
                return Ok(());
            }
            if let Some(status) = self.proc.as_mut().and_then(|p| p.0.try_wait().ok().flatten()) {
                self.proc = None;
                return Err(format!("switch exited at start ({status}):\n{log}"));
            }
            if Instant::now() >= deadline {
                return Err(format!("switch did not start within {START_WITHIN:?}:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Where to reach the listener of `transport` (`tcp`, `udp`, `tls`, `stun`).
    #[track_caller]
    pub fn listener(&self, transport: &str) -> SocketAddr {
        self.listeners
            .iter()
            .find(|l| l.transport == transport)
            .map(Listener::reach)
            .unwrap_or_else(|| panic!("the switch has no {transport} listener: {:?}", self.listeners))
    }

    /// Its stream listener (TCP, else TLS): where phones connect.
    #[track_caller]
    pub fn addr(&self) -> SocketAddr {
        self.stream().reach()
    }

    /// Its UDP listener.
    #[track_caller]
    pub fn udp_addr(&self) -> SocketAddr {
        self.listener("udp")
    }

    /// `tcp:IP:PORT` (or `tls:`) of its stream listener, as the agent's `--switch` takes it.
    #[track_caller]
    pub fn spec(&self) -> String {
        let l = self.stream();
        format!("{}:{}", l.transport, l.reach())
    }

    #[track_caller]
    fn stream(&self) -> Listener {
        *self
            .listeners
            .iter()
            .find(|l| matches!(l.transport, "tcp" | "tls"))
            .unwrap_or_else(|| panic!("the switch has no TCP or TLS listener: {:?}", self.listeners))
    }

    /// The relay's port range (`FIRST-LAST`).
    pub fn relay_ports(&self) -> &str {
        &self.relay_ports
    }

    /// The relay's reserved block (ports past the switch's range are the test's to use).
    pub fn port_block(&self) -> &PortBlock {
        &self.relay
    }

    /// The whole log so far (stderr), every run.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// This run's part of the log.
    fn run_log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log)
            && f.seek(SeekFrom::Start(self.run_from)).is_ok()
        {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// This run's log events so far.
    pub fn events(&self) -> Vec<LogEvent> {
        LogEvent::all(&self.run_log())
    }

    /// This run's events that `keep` accepts.
    pub fn events_where(&self, keep: impl Fn(&LogEvent) -> bool) -> Vec<LogEvent> {
        self.events().into_iter().filter(|e| keep(e)).collect()
    }

    /// Waits (bounded) for an event of this run that `want` accepts; returns it.
    #[track_caller]
    pub fn wait_event(&self, within: Duration, what: &str, want: impl Fn(&LogEvent) -> bool) -> LogEvent {
        crate::wait_for(within, what, || {
            self.events().into_iter().find(|e| want(e)).ok_or_else(|| "no such event in the log yet".to_owned())
        })
    }

    /// Waits for an event with `message` and these fields (compared as text).
    #[track_caller]
    pub fn wait_for_event(&self, message: &str, fields: &[(&str, &str)], within: Duration) -> LogEvent {
        self.wait_event(within, &format!("a log event {message:?} with {fields:?}"), |e| e.is(message, fields))
    }

    /// The SHA-256 fingerprint (`AB:CD:...`) of the certificate its `tls:`
    /// listeners serve, as this run logged it.
    #[track_caller]
    pub fn tls_fingerprint(&self) -> String {
        let event = self.wait_for_event("TLS certificate", &[], Duration::from_secs(5));
        event.text("fingerprint")
    }

    /// `kill -9`: no shutdown path runs.
    pub fn kill9(&mut self) {
        drop(self.proc.take().unwrap_or_else(|| panic!("switch not running")));
    }

    /// SIGTERM, then waits (bounded) for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut proc = self.proc.take().unwrap_or_else(|| panic!("switch not running"));
        proc.terminate();
        // Dropping `proc` on the panic kills what did not stop.
        proc.wait_exit(Duration::from_secs(10)).unwrap_or_else(|| panic!("switch did not stop on SIGTERM"))
    }

    /// The process id of this run (for signals).
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(|p| p.0.id())
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        // Stopped first, so the log printed below is complete.
        drop(self.proc.take());
        if std::thread::panicking() {
            eprintln!("---- switch log ({}) ----\n{}", self.log.display(), self.log_text());
        }
    }
}

/// "switch running", as a JSON event or a text line.
fn is_running_line(line: &str) -> bool {
    match LogEvent::parse(line) {
        Some(e) => e.message() == "switch running",
        None => line.contains(" switch running"),
    }
}

/// `listening tcp:127.0.0.1:PORT` lines (`listening stun:udp:IP:PORT` for a
/// STUN listener, `listening dns:udp:IP:PORT` and `dns:tcp:` for DNS,
/// `listening admin:tcp:IP:PORT` for the admin listener).
fn parse_bound(text: &str) -> Result<Vec<Listener>, String> {
    text.lines()
        .map(|line| {
            let spec = line.strip_prefix("listening ").ok_or_else(|| format!("bound file line {line:?}"))?;
            let prefixed = [("stun:udp:", "stun"), ("dns:udp:", "dns-udp"), ("dns:tcp:", "dns-tcp"), ("admin:tcp:", "admin")];
            let (kind, addr) = match prefixed.iter().find_map(|(p, kind)| spec.strip_prefix(p).map(|addr| (*kind, addr))) {
                Some(found) => found,
                None => spec.split_once(':').ok_or_else(|| format!("bound file line {line:?}"))?,
            };
            let transport = match kind {
                "tcp" => "tcp",
                "udp" => "udp",
                "tls" => "tls",
                "stun" => "stun",
                "dns-udp" => "dns-udp",
                "dns-tcp" => "dns-tcp",
                "admin" => "admin",
                other => return Err(format!("bound file: transport {other:?}")),
            };
            let addr = addr.parse().map_err(|e| format!("bound file line {line:?}: {e}"))?;
            Ok(Listener { transport, addr })
        })
        .collect()
}
