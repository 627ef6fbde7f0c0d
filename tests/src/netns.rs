//! The NAT topology of `scripts/netns/topology.sh`, owned by a guard that tears
//! it down (and so ends every process left inside it) even when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/netns/topology.sh")
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

/// A phone behind a NAT and a public switch host, named `NAME-ph`, `NAME-nat`
/// and `NAME-sw`.
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
        let t = Topology { name: name.to_owned() };
        t.run(&["up"]);
        t
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("bash");
        cmd.arg(script()).arg(args.first().copied().unwrap_or("")).arg(&self.name).args(args.iter().skip(1));
        let out = cmd.output().unwrap_or_else(|e| panic!("topology.sh: {e}"));
        assert!(out.status.success(), "topology.sh {args:?} {}: {}", self.name, String::from_utf8_lossy(&out.stderr));
        out
    }

    /// Gives the NAT a new public address and flushes its connection tracking.
    pub fn readdress(&self, ip: &str) {
        self.run(&["readdress", ip]);
    }

    /// The namespace of a host: "ph", "nat" or "sw".
    pub fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.name)
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
