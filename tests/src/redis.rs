//! Real Redis for the tests: one `redis-server` (and a replica of it), or a Redis Cluster of six
//! (three masters, three replicas) built with `redis-cli --cluster create`.
//! Each server runs in a directory of its own, on ports from a [`PortBlock`]
//! (a Cluster's bus ports too, through `cluster-port`, so nothing lands on
//! port+10000), and is stopped by its PID when the value is dropped, a
//! failing test included.

use crate::ports::PortBlock;
use crate::proc::Proc;
use crate::wait_for;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long a server or a Cluster may take to come up.
const START: Duration = Duration::from_secs(30);

/// Where a Cluster's bus ports start within its block.
const BUS_OFFSET: u16 = 50;

/// One `redis-server` process.
pub struct RedisServer {
    proc: Option<Proc>,
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    /// The block, when this server owns it (a Cluster's nodes share the Cluster's).
    _ports: Option<PortBlock>,
    _tmp: Option<tempfile::TempDir>,
}

impl RedisServer {
    /// A server with no persistence, on a port of its own.
    pub fn start() -> Self {
        Self::start_with(&["--save", "", "--appendonly", "no"])
    }

    /// A server that keeps its data across [`RedisServer::restart`] (AOF,
    /// fsync on every write).
    pub fn start_persistent() -> Self {
        Self::start_with(&["--save", "", "--appendonly", "yes", "--appendfsync", "always"])
    }

    /// A replica of `master` (`--replicaof`), on a port of its own, once its
    /// first sync is done.
    pub fn start_replica_of(master: &RedisServer) -> Self {
        let port = master.port.to_string();
        let replica = Self::start_with(&["--save", "", "--appendonly", "no", "--replicaof", "127.0.0.1", &port]);
        replica.wait_in_sync();
        replica
    }

    fn start_with(extra: &[&str]) -> Self {
        let ports = PortBlock::reserve();
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mut server = Self::spawn(ports.port(0), tmp.path(), extra);
        server._ports = Some(ports);
        server._tmp = Some(tmp);
        server
    }

    /// Starts `redis-server` on 127.0.0.1:`port` in `dir` and waits for PONG.
    fn spawn(port: u16, dir: &Path, extra: &[&str]) -> Self {
        let mut args: Vec<String> = ["--port", &port.to_string(), "--bind", "127.0.0.1", "--dir"].map(str::to_owned).into();
        args.push(dir.display().to_string());
        args.extend(["--logfile".to_owned(), "redis.log".to_owned(), "--daemonize".to_owned(), "no".to_owned()]);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let mut server = RedisServer { proc: None, port, dir: dir.to_path_buf(), args, _ports: None, _tmp: None };
        server.launch();
        server
    }

    fn launch(&mut self) {
        let proc = Proc::spawn(Command::new("redis-server").args(&self.args).stdin(Stdio::null()).stdout(Stdio::null()));
        self.proc = Some(proc);
        wait_for(START, &format!("redis-server on port {} to answer", self.port), || match self.cli(&["PING"]) {
            Ok(pong) if pong == "PONG" => Ok(()),
            Ok(other) => Err(other),
            Err(e) => Err(format!("{e}; log: {}", self.log())),
        });
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(|p| p.0.id())
    }

    /// Sends `sig` (`STOP`, `CONT`, ...) to this server's process only.
    pub fn signal(&self, sig: &str) {
        if let Some(p) = &self.proc {
            p.signal(sig);
        }
    }

    /// True when the server is a replica (`ROLE` says `slave`).
    pub fn is_replica(&self) -> bool {
        self.cli(&["ROLE"]).is_ok_and(|r| r.starts_with("slave"))
    }

    /// Waits until this replica's link to its master is up: it counts (for
    /// `WAIT`, for a failover) once its first sync is done.
    pub fn wait_in_sync(&self) {
        wait_for(START, &format!("the replica on port {} to be in sync", self.port), || {
            let info = self.cli(&["INFO", "replication"])?;
            if info.contains("master_link_status:up") { Ok(()) } else { Err(info) }
        });
    }

    /// `redis-cli -p PORT ARGS...`: its trimmed stdout, or why it failed.
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("redis-cli: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && !stdout.starts_with("Could not connect") {
            Ok(stdout)
        } else {
            Err(format!("{stdout} {}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// Stops the server cleanly (SIGTERM, which writes its AOF) and starts it
    /// again on the same port and directory.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Starts a [`RedisServer::stop`]ped server again, same port and directory.
    pub fn start_again(&mut self) {
        assert!(self.proc.is_none(), "redis-server on port {} is still running", self.port);
        self.launch();
    }

    /// SIGTERM, then waits for the exit (SIGKILL on drop if it hangs).
    pub fn stop(&mut self) {
        if let Some(mut proc) = self.proc.take() {
            proc.terminate();
            let _ = proc.wait_exit(START);
        }
    }

    /// SIGKILL (`kill -9`): no goodbye to its clients or its Cluster.
    pub fn kill9(&mut self) {
        // Dropping the process kills it by its PID and reaps it.
        drop(self.proc.take());
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }
}

/// A Redis Cluster: three masters and a replica of each, on loopback.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
    _ports: PortBlock,
    _tmp: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts six `cluster-enabled` servers (`cluster-node-timeout 2000`),
    /// joins them with `redis-cli --cluster create ... --cluster-replicas 1`
    /// and waits until every node says `cluster_state:ok` and every replica
    /// has synced with its master.
    pub fn start() -> Self {
        let ports = PortBlock::reserve();
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let nodes: Vec<RedisServer> = (0..6)
            .map(|i| {
                let dir = tmp.path().join(format!("node{i}"));
                std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
                let bus = ports.port(BUS_OFFSET + i).to_string();
                let extra = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"];
                let mut args: Vec<&str> = extra.to_vec();
                args.extend(["--cluster-port", &bus, "--save", "", "--appendonly", "no"]);
                RedisServer::spawn(ports.port(i), &dir, &args)
            })
            .collect();
        let addrs: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("redis-cli --cluster create: {e}"));
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success() && said.contains("[OK] All 16384 slots covered"), "redis-cli --cluster create failed: {said}");
        let cluster = RedisCluster { nodes, _ports: ports, _tmp: tmp };
        for node in &cluster.nodes {
            wait_for(START, &format!("cluster_state:ok on port {}", node.port), || {
                let info = node.cli(&["CLUSTER", "INFO"])?;
                if info.contains("cluster_state:ok") { Ok(()) } else { Err(info) }
            });
            if node.is_replica() {
                node.wait_in_sync();
            }
        }
        cluster
    }

    /// `redis-cluster://` with every master as a seed.
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self.nodes.iter().take(3).map(|n| format!("127.0.0.1:{}", n.port)).collect();
        format!("redis-cluster://{}", seeds.join(","))
    }
}
