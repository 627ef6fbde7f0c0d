"""Redis for cluster_bench.py: one `redis-server`, or a Redis Cluster of six
(three masters, a replica each) joined by `redis-cli --cluster create`, the
same shape as the tests' helper (tests/src/redis.rs: no persistence,
`cluster-node-timeout 2000`, bus ports given with `cluster-port`).  Every
server is a child started with benchlib.spawn and stopped by PID; loopback
only.  Also what the benchmark reads from Redis: command counts (`INFO
commandstats`), `used_memory`, and the removal of the bindings and node keys
a step left (`sw:{...}:rl`, `sw:{node:...}:*`) so each step starts with the
subscribers only, as a fresh SQLite data dir does.
"""

import os
import re
import shutil
import subprocess
import time

import benchlib as B

START_S = 30


class Server:
    """One redis-server on 127.0.0.1:port in a directory of its own."""

    def __init__(self, port, extra=()):
        self.port = port
        self.name = f"redis-{port}"
        self.dir = os.path.join(B.OUT, "redis", str(port))
        self.extra = list(extra)

    def start(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        argv = ["redis-server", "--port", str(self.port), "--bind", B.HOST, "--dir", self.dir,
                "--save", "", "--appendonly", "no", "--daemonize", "no"] + self.extra
        p = B.spawn(self.name, argv, os.path.join(B.OUT, "logs", self.name + ".log"))
        deadline = time.time() + START_S
        while self.cli("PING") != "PONG":
            if p.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{self.name} did not come up, see logs/{self.name}.log")
            time.sleep(0.1)

    def cli(self, *args, stdin=None):
        """`redis-cli -p PORT ARGS...`: its trimmed stdout ('' when it failed)."""
        try:
            r = subprocess.run(["redis-cli", "-h", B.HOST, "-p", str(self.port)] + list(args), input=stdin,
                               capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return r.stdout.strip() if r.returncode == 0 else ""

    def info(self, section):
        """INFO SECTION as {field: value}."""
        out = {}
        for line in self.cli("INFO", section).splitlines():
            k, sep, v = line.strip().partition(":")
            if sep:
                out[k] = v
        return out

    def is_master(self):
        return self.info("replication").get("role") == "master"


class Single:
    """One redis-server: the `redis://` deployment."""
    kind = "server"

    def __init__(self, port):
        self.servers = [Server(port)]
        self.url = f"redis://{B.HOST}:{port}"

    def ports(self):
        return [s.port for s in self.servers]

    def start(self):
        self.servers[0].start()

    def stop(self):
        for s in self.servers:
            B.stop(s.name)

    def masters(self):
        return self.servers


class Cluster:
    """Six cluster-enabled servers, three masters with a replica each: the
    `redis-cluster://` deployment (every master a seed)."""
    kind = "cluster"

    def __init__(self, first_port, first_bus_port):
        self.servers = [Server(first_port + i, ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                                "--cluster-node-timeout", "2000",
                                                "--cluster-port", str(first_bus_port + i)]) for i in range(6)]
        self.url = "redis-cluster://" + ",".join(f"{B.HOST}:{s.port}" for s in self.servers[:3])

    def ports(self):
        return [s.port for s in self.servers] + [int(s.extra[-1]) for s in self.servers]

    def start(self):
        for s in self.servers:
            s.start()
        addrs = [f"{B.HOST}:{s.port}" for s in self.servers]
        r = subprocess.run(["redis-cli", "--cluster", "create"] + addrs + ["--cluster-replicas", "1", "--cluster-yes"],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or "[OK] All 16384 slots covered" not in r.stdout:
            raise RuntimeError(f"redis-cli --cluster create failed: {r.stdout[-500:]} {r.stderr[-500:]}")
        deadline = time.time() + START_S
        for s in self.servers:
            while "cluster_state:ok" not in s.cli("CLUSTER", "INFO") or (
                    not s.is_master() and s.info("replication").get("master_link_status") != "up"):
                if time.time() > deadline:
                    raise RuntimeError(f"Redis Cluster not ok / replica not in sync on port {s.port}")
                time.sleep(0.2)

    def stop(self):
        for s in self.servers[::-1]:
            B.stop(s.name)

    def masters(self):
        return [s for s in self.servers if s.is_master()]


# What INFO commandstats counts besides the commands clients send: those the
# switch's Lua scripts run (the RL record's PUT script in
# switch/src/store/redis/records.rs: EXISTS, HGET, DEL, HSET, PEXPIREAT), and
# the replicas' REPLCONF ACKs (asked for by each WAIT).  On the REGISTER path
# nothing else sends these, so "sent" = the rest.
SCRIPT_INNER = {"exists", "hget", "del", "hset", "pexpireat"}
REPLICATION = {"replconf"}


def sent_by_clients(cmds):
    """Of commands_between(), those a client sent (round trips)."""
    return {k: v for k, v in cmds.items() if k not in SCRIPT_INNER | REPLICATION}


def commandstats(servers):
    """{command: calls} summed over `servers` (INFO commandstats)."""
    out = {}
    for s in servers:
        for line in s.cli("INFO", "commandstats").splitlines():
            m = re.match(r"cmdstat_([^:]+):calls=(\d+)", line.strip())
            if m:
                out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
    return out


def commands_between(before, after):
    """Commands run between two commandstats() samples, without the INFO
    calls that took the samples."""
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return {k: v for k, v in d.items() if v > 0 and k != "info"}


def used_memory(servers, field="used_memory"):
    """INFO memory's `field` (bytes) summed over `servers`: used_memory, or
    used_memory_dataset (without client and replication buffers, which move
    by as much as a few hundred numbers' records)."""
    return sum(int(s.info("memory").get(field, 0)) for s in servers)


def memory_usage(deployment, keys):
    """MEMORY USAGE of each of `keys` (bytes, None for a missing key), asked
    through one `redis-cli -c` (it follows a Cluster's redirections)."""
    out = deployment.masters()[0].cli("-c", stdin="".join(f"MEMORY USAGE {k}\n" for k in keys))
    return [int(x) if x.strip().isdigit() else None for x in out.splitlines()]


def clear_bindings(deployment):
    """Removes every RL record and per-node key (call records, leases) from
    each master, one key at a time (a Cluster refuses cross-slot
    multi-key commands); subscribers stay.  Returns how many went."""
    n = 0
    for s in deployment.masters():
        keys = []
        for pattern in ("sw:*:rl", "sw:{node:*"):
            keys += [k for k in s.cli("--scan", "--pattern", pattern).splitlines() if k]
        if keys:
            s.cli(stdin="".join(f"UNLINK {k}\n" for k in keys))
            n += len(keys)
    return n


def key_exists(deployment, key):
    """True when `key` exists (asked of every master: no slot arithmetic here)."""
    return any(s.cli("EXISTS", key) == "1" for s in deployment.masters())
