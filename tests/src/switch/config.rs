//! What a test's switch is started with: its listeners (port 0 unless a test
//! needs a fixed address in a namespace of its own), and the TOML sections.

use std::path::{Path, PathBuf};

/// The switch's config file, built up by a test. The default listens on TCP
/// and UDP on 127.0.0.1 port 0, with JSON logs at `info`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--listen` specs (`tcp:IP:PORT`, `udp:...`, `tls:...`).
    pub listen: Vec<String>,
    /// `[stun] listen` specs (`udp:IP:PORT`): STUN listeners apart from SIP.
    pub stun: Vec<String>,
    pub relay_address: Option<String>,
    /// `domain` (unset: the switch's default, switch.local).
    pub domain: Option<String>,
    /// `relay_ports`; unset: the first `relay_port_count` ports of the switch's own reserved block.
    pub relay_ports: Option<String>,
    pub relay_port_count: u16,
    /// PEM certificate and key for `tls:` listeners.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `key = value` lines for `[registrar]`, `[abuse]`, `[limits]`, `[calls]` and `[server]`.
    pub registrar: Vec<String>,
    pub abuse: Vec<String>,
    pub limits: Vec<String>,
    pub calls: Vec<String>,
    pub server: Vec<String>,
    /// `key = value` lines for `[dns]` (its `listen` too: DNS is off without it).
    pub dns: Vec<String>,
    /// `key = value` lines for `[admin]` (`listen = [...]`: the admin listener is off without it).
    pub admin: Vec<String>,
    /// `key = value` lines for `[hep]` (`collector = "udp:IP:PORT"`: tracing is off without it).
    pub hep: Vec<String>,
    /// `key = value` lines for `[store]` (`redis = "redis://..."`, `node_id = "..."`).
    pub store: Vec<String>,
    /// `key = value` lines for `[cluster]` (`secret_file`, `node_address`).
    pub cluster: Vec<String>,
    /// `key = value` lines for `[push]` (`gateway = "https://..."`: push is off without it).
    pub push: Vec<String>,
    /// `RUST_LOG` for the switch.
    pub log_filter: String,
    /// `--log-format json` (the default here, so tests read events as fields) or text.
    pub json_log: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: vec!["tcp:127.0.0.1:0".into(), "udp:127.0.0.1:0".into()],
            stun: Vec::new(),
            relay_address: None,
            domain: None,
            relay_ports: None,
            relay_port_count: crate::ports::PortBlock::LEN,
            tls: None,
            registrar: Vec::new(),
            abuse: Vec::new(),
            limits: Vec::new(),
            calls: Vec::new(),
            server: Vec::new(),
            dns: Vec::new(),
            admin: Vec::new(),
            hep: Vec::new(),
            store: Vec::new(),
            cluster: Vec::new(),
            push: Vec::new(),
            log_filter: "info".into(),
            json_log: true,
        }
    }
}

impl Config {
    /// Listeners instead of the default pair.
    pub fn listen(mut self, specs: &[&str]) -> Self {
        self.listen = specs.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// STUN listeners (`udp:IP:PORT`, port 0 as a rule) beside the SIP ones.
    pub fn stun(mut self, specs: &[&str]) -> Self {
        self.stun = specs.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// TCP and UDP on the wildcard address (0.0.0.0), port 0.
    pub fn listen_any(self) -> Self {
        self.listen(&["tcp:0.0.0.0:0", "udp:0.0.0.0:0"])
    }

    /// TLS only, on 127.0.0.1 port 0, with this certificate and key.
    pub fn tls(mut self, cert: &Path, key: &Path) -> Self {
        self.tls = Some((cert.to_path_buf(), key.to_path_buf()));
        self.listen(&["tls:127.0.0.1:0"])
    }

    pub fn relay(mut self, ip: &str) -> Self {
        self.relay_address = Some(ip.to_owned());
        self
    }

    /// A relay range of its own (in a namespace of the test's own).
    pub fn domain(mut self, domain: &str) -> Self {
        self.domain = Some(domain.to_owned());
        self
    }

    pub fn relay_ports(mut self, spec: &str) -> Self {
        self.relay_ports = Some(spec.to_owned());
        self
    }

    /// Only the first `count` ports of the switch's reserved block (a range to exhaust).
    pub fn relay_port_count(mut self, count: u16) -> Self {
        self.relay_port_count = count;
        self
    }

    pub fn registrar(mut self, line: &str) -> Self {
        self.registrar.push(line.to_owned());
        self
    }

    pub fn abuse(mut self, line: &str) -> Self {
        self.abuse.push(line.to_owned());
        self
    }

    pub fn limits(mut self, line: &str) -> Self {
        self.limits.push(line.to_owned());
        self
    }

    pub fn calls(mut self, line: &str) -> Self {
        self.calls.push(line.to_owned());
        self
    }

    pub fn server(mut self, line: &str) -> Self {
        self.server.push(line.to_owned());
        self
    }

    pub fn dns(mut self, line: &str) -> Self {
        self.dns.push(line.to_owned());
        self
    }

    /// A `[admin]` line, e.g. `listen = ["tcp:127.0.0.1:0"]` (reported as an `admin` listener).
    pub fn admin(mut self, line: &str) -> Self {
        self.admin.push(line.to_owned());
        self
    }

    /// A `[hep]` line, e.g. `collector = "udp:127.0.0.1:9060"`.
    pub fn hep(mut self, line: &str) -> Self {
        self.hep.push(line.to_owned());
        self
    }

    /// A `[push]` line, e.g. `gateway = "https://127.0.0.1:8443/push"`.
    pub fn push(mut self, line: &str) -> Self {
        self.push.push(line.to_owned());
        self
    }

    /// `RUST_LOG` (default `info`), e.g. `info,switch=debug`.
    pub fn log_filter(mut self, filter: &str) -> Self {
        self.log_filter = filter.to_owned();
        self
    }

    /// The store in Redis at `url`, this switch writing as `node`, with the
    /// cluster secret every test switch of this process shares.
    pub fn redis(mut self, url: &str, node: &str) -> Self {
        self.store = vec![format!("redis = {}", toml_string(url)), format!("node_id = {}", toml_string(node))];
        self.cluster = vec![format!("secret_file = {}", toml_string(&cluster_secret().display().to_string()))];
        self
    }

    /// Text logs, as an operator reads them.
    pub fn text_log(mut self) -> Self {
        self.json_log = false;
        self
    }

    /// The TOML text; `relay_block` is the `FIRST-LAST` used when no range is set.
    pub(crate) fn toml(&self, data: &Path, relay_block: &str) -> String {
        let list = self.listen.iter().map(|l| toml_string(l)).collect::<Vec<_>>().join(", ");
        let mut t = format!("listen = [{list}]\ndata_dir = {}\n", toml_string(&data.display().to_string()));
        if let Some(ip) = &self.relay_address {
            t.push_str(&format!("relay_address = {}\n", toml_string(ip)));
        }
        if let Some(domain) = &self.domain {
            t.push_str(&format!("domain = {}\n", toml_string(domain)));
        }
        if let Some((cert, key)) = &self.tls {
            t.push_str(&format!(
                "tls_cert = {}\ntls_key = {}\n",
                toml_string(&cert.display().to_string()),
                toml_string(&key.display().to_string())
            ));
        }
        let relay = format!("relay_ports = {}", toml_string(self.relay_ports.as_deref().unwrap_or(relay_block)));
        let stun = format!("listen = [{}]", self.stun.iter().map(|l| toml_string(l)).collect::<Vec<_>>().join(", "));
        let sections = [
            ("registrar", &self.registrar),
            ("abuse", &self.abuse),
            ("limits", &self.limits),
            ("calls", &self.calls),
            ("server", &self.server),
            ("dns", &self.dns),
            ("admin", &self.admin),
            ("hep", &self.hep),
            ("store", &self.store),
            ("cluster", &self.cluster),
            ("push", &self.push),
            ("stun", &Vec::new()),
        ];
        for (section, lines) in sections {
            t.push_str(&format!("[{section}]\n"));
            let own = match section {
                "calls" => Some(&relay),
                "stun" => Some(&stun),
                _ => None,
            };
            for l in lines.iter().chain(own) {
                t.push_str(l);
                t.push('\n');
            }
        }
        t
    }
}

/// The file holding the cluster secret of this test process's switches
/// (one per process, so nodes started by one test agree), written once.
pub fn cluster_secret() -> PathBuf {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("switch-test-cluster-{}.secret", std::process::id()));
        let secret: String = (0..32).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect();
        std::fs::write(&path, format!("{secret}\n")).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    })
    .clone()
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
