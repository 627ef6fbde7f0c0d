//! The NAT topology of `scripts/netns/topology.sh`, owned by a guard that tears
//! it down (and so ends every process left inside it) even when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/netns/topology.sh")
}

fn probe_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/netns/probe.py")
}

/// True when this process may make network namespaces (root with iproute2,
/// iptables and conntrack installed, as `scripts/test.sh` arranges).
pub fn available() -> Result<(), String> {
    let root = Command::new("id").arg("-u").output().map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&root.stdout).trim() != "0" {
        return Err("needs root".into());
    }
    for tool in ["ip", "iptables", "conntrack"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().map_err(|e| e.to_string())?;
        if !found.status.success() {
            return Err(format!("{tool} is not installed (scripts/test.sh installs it)"));
        }
    }
    Ok(())
}

/// Phones behind NATs and a public switch host: site 1 is `NAME-ph` behind
/// `NAME-nat`, site K > 1 is `NAME-phK` behind `NAME-natK`, the switch `NAME-sw`.
pub struct Topology {
    pub name: String,
}

/// The switch host's address on the "public" side.
pub const SWITCH_IP: &str = "198.51.100.1";
/// The NAT's first public address.
pub const NAT_IP: &str = "198.51.100.2";
/// The phone's private address.
pub const PHONE_IP: &str = "10.1.0.2";

impl Topology {
    /// Builds it; `name` must be unique among concurrently running tests and at
    /// most 8 characters.
    pub fn up(name: &str) -> Self {
        Self::up_sites(name, 1)
    }

    /// Builds it with `sites` NAT'd sites.
    pub fn up_sites(name: &str, sites: u8) -> Self {
        let t = Topology { name: name.to_owned() };
        t.run(&["up", &sites.to_string()]);
        t
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("bash");
        cmd.arg(script()).arg(args.first().copied().unwrap_or("")).arg(&self.name).args(args.iter().skip(1));
        let out = cmd.output().unwrap_or_else(|e| panic!("topology.sh: {e}"));
        assert!(out.status.success(), "topology.sh {args:?} {}: {}", self.name, String::from_utf8_lossy(&out.stderr));
        out
    }

    /// Runs `up` again: a no-op when the topology already has that shape.
    pub fn ensure_up(&self, sites: u8) -> String {
        String::from_utf8_lossy(&self.run(&["up", &sites.to_string()]).stdout).into_owned()
    }

    /// Gives site 1's NAT a new public address and flushes its connection tracking.
    pub fn readdress(&self, ip: &str) {
        self.readdress_site(ip, 1);
    }

    /// Gives a site's NAT a new public address (use 198.51.100.100 and up) and
    /// flushes its connection tracking.
    pub fn readdress_site(&self, ip: &str, site: u8) {
        self.run(&["readdress", ip, &site.to_string()]);
    }

    /// Gives a site's phone a new private address (10.K.0.3 and up): its
    /// connections from the old one die with it.
    pub fn renumber_site(&self, ip: &str, site: u8) {
        self.run(&["renumber", ip, &site.to_string()]);
    }

    /// Flushes a site NAT's connection tracking: every mapping is lost.
    pub fn flush(&self, site: u8) {
        self.run(&["flush", &site.to_string()]);
    }

    /// Silently drops every packet of the site phone's flows from local `port`.
    pub fn blackhole(&self, port: u16, site: u8) {
        self.run(&["blackhole", &port.to_string(), &site.to_string()]);
    }

    /// Drops all UDP through a site's NAT.
    pub fn block_udp(&self, site: u8) {
        self.run(&["block-udp", &site.to_string()]);
    }

    /// Undoes `blackhole` and `block_udp` at a site.
    pub fn restore(&self, site: u8) {
        self.run(&["restore", &site.to_string()]);
    }

    /// The private address of a site's phone.
    pub fn phone_ip(site: u8) -> String {
        format!("10.{site}.0.2")
    }

    /// The first public address of a site's NAT.
    pub fn nat_ip(site: u8) -> String {
        format!("198.51.100.{}", u16::from(site) + 1)
    }

    /// The namespace of a host: "sw", or "ph"/"nat" for site 1, "phK"/"natK" for site K.
    pub fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.name)
    }

    /// `scripts/netns/probe.py ARGS` inside `host`'s namespace (not yet started).
    pub fn probe(&self, host: &str, args: &[&str]) -> Command {
        let mut cmd = self.command(host, Path::new("python3"));
        cmd.arg(probe_script()).args(args);
        cmd
    }

    /// True when `probe.py ARGS` succeeds inside `host`'s namespace.
    pub fn probe_ok(&self, host: &str, args: &[&str]) -> bool {
        self.probe(host, args).stdout(std::process::Stdio::null()).status().is_ok_and(|s| s.success())
    }

    /// `topology.sh status`.
    pub fn status(&self) -> String {
        String::from_utf8_lossy(&self.run(&["status"]).stdout).into_owned()
    }

    /// A command run inside `host`'s namespace.
    pub fn command(&self, host: &str, program: &Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(host)]).arg(program);
        cmd
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script()).arg("down").arg(&self.name).output();
    }
}
