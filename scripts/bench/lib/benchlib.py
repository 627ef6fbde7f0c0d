"""Shared pieces of the SIPp-driven benchmarks in scripts/bench (registrar_bench.py,
calls_bench.py): process bookkeeping by PID, /proc sampling, SIPp argv and
statistics, the rate-ladder search, summaries, the table printer, port checks,
and the two servers' start/stop (Kamailio, our switch).

Everything here is loopback only (127.0.0.0/8).  Every process a benchmark
starts goes through `spawn` and is stopped by PID with `stop` / `stop_all`
(also on SIGINT/SIGTERM once `install_signal_handlers` ran): never by name.

Pieces were first copied from the anchors harness (shared/anchors/lib/
anchor_bench.py) into registrar_bench.py; they live here now so each
benchmark holds only its own method.
"""

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # scripts/bench
REPO = os.path.dirname(os.path.dirname(ROOT))
CONF = os.path.join(ROOT, "conf")
SCN = os.path.join(ROOT, "scenarios")
OUT = os.environ.get("BENCH_OUT", "/tmp/bench-out")

HOST = "127.0.0.1"          # servers listen here (loopback only)
PRIV_IP = "127.0.0.2"       # the NATed UAs' advertised, unreachable address
PRIV_PORT = "5999"          # (nothing listens there)
DOMAIN = "127.0.0.1"        # SIP domain and digest realm of both servers
KAM_MODDIR = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
CLK = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------
# knobs
# ----------------------------------------------------------------------------
def env(name, default):
    v = os.environ.get(name)
    if v is None or v == "":
        return default
    if isinstance(default, int):
        return int(v)
    if isinstance(default, float):
        return float(v)
    return v


def ladder(name, default):
    return [int(x) for x in env(name, default).replace(" ", ",").split(",") if x]


# ----------------------------------------------------------------------------
# process bookkeeping (by PID only)
# ----------------------------------------------------------------------------
PROCS = {}   # name -> (Popen, file handle)


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def all_ppids():
    m = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            ppid = int(s[s.rindex(")") + 2:].split()[1])
            m.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError):
            pass
    return m


def descendants(pid):
    m = all_ppids()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in m.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        return st[st.rindex(")") + 2] != "Z"
    except OSError:
        return False


def spawn(name, argv, logfile, env_extra=None):
    fh = open(logfile, "ab")
    fh.write(("\n### " + " ".join(argv) + "\n").encode())
    fh.flush()
    e = dict(os.environ)
    if env_extra:
        e.update(env_extra)
    p = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, cwd=OUT, env=e)
    PROCS[name] = (p, fh)
    return p


def stop(name, grace=10.0):
    """SIGTERM the process, SIGKILL it after `grace`; then make sure every
    descendant it had (Kamailio's workers) is gone too.  By PID only."""
    if name not in PROCS:
        return
    p, fh = PROCS.pop(name)
    kids = descendants(p.pid)
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log(f"  {name} (pid {p.pid}) ignored SIGTERM for {grace:.0f}s: SIGKILL")
            p.kill()
            p.wait(timeout=5)
    deadline = time.time() + 3
    for k in kids:
        while alive(k) and time.time() < deadline:
            time.sleep(0.05)
        if alive(k):
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
    fh.close()


def stop_all():
    for name in list(PROCS.keys())[::-1]:
        stop(name)


def wait_proc(name, timeout):
    """Wait for a spawned process to end by itself (bounded), then stop it
    (a no-op when it ended).  Returns its exit code or None."""
    p = PROCS[name][0]
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"  {name} overran {timeout:.0f}s; stopping it")
    stop(name)
    return p.returncode


def _sig(signum, frame):
    # ignore further signals while stopping (Ctrl-C twice, or INT then TERM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log(f"signal {signum}: stopping everything")
    stop_all()
    sys.exit(130)


def install_signal_handlers():
    signal.signal(signal.SIGINT, _sig)
    signal.signal(signal.SIGTERM, _sig)


# ----------------------------------------------------------------------------
# ports
# ----------------------------------------------------------------------------
def busy_ports(ports, host=HOST):
    """Of `ports` (TCP or UDP), those something already listens on at `host`
    or on a wildcard address."""
    r = subprocess.run(["ss", "-Hltnu"], capture_output=True, text=True, timeout=10)
    busy = set()
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        addr, _, port = f[4].rpartition(":")
        if port.isdigit() and int(port) in ports and addr in (host, "0.0.0.0", "*", "[::]"):
            busy.add(int(port))
    return sorted(busy)


def require_free_ports(ports, what):
    busy = busy_ports(set(ports))
    if busy:
        raise SystemExit(f"{what}: ports busy: {busy} (change the BENCH_*_PORT knobs)")


def busy_range(lo, hi, host=HOST):
    """Listening TCP / bound UDP sockets in [lo, hi] on `host` (a relay's media
    port range; connections from the ephemeral range do not count)."""
    r = subprocess.run(["ss", "-Hltnu"], capture_output=True, text=True, timeout=10)
    n = 0
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) < 5:
            continue
        addr, _, port = f[4].rpartition(":")
        if port.isdigit() and lo <= int(port) <= hi and addr in (host, "0.0.0.0", "*", "[::]"):
            n += 1
    return n


# ----------------------------------------------------------------------------
# /proc sampling
# ----------------------------------------------------------------------------
def cpu_ticks(pids):
    t = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
            fields = s[s.rindex(")") + 2:].split()
            t += int(fields[11]) + int(fields[12])     # utime + stime (all threads)
        except (OSError, ValueError, IndexError):
            pass
    return t


def mem_kb(pids):
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return {"rss_kb": rss, "pss_kb": pss, "nproc": len(pids)}


def tree(name):
    p = PROCS[name][0]
    return [p.pid] + descendants(p.pid)


def host_ticks():
    """CPU ticks of every task on the host (the anchors found /proc/stat's idle
    counter unreliable on this VM under SIP load)."""
    t = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    s = f.read()
                fl = s[s.rindex(")") + 2:].split()
                t += int(fl[11]) + int(fl[12])
            except (OSError, ValueError, IndexError):
                pass
    return t


def stat_busy_idle():
    """(busy, idle) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v[:8]) - idle, idle


class CpuWindow:
    """CPU seconds of process trees over a wall-clock window, and how busy the
    whole host was (100 % = all cores)."""

    def __init__(self, names):
        self.names = [n for n in names if n in PROCS]
        self.pids = {n: tree(n) for n in self.names}
        self.t0 = time.time()
        self.h0 = host_ticks()
        self.s0 = stat_busy_idle()
        self.c0 = {n: cpu_ticks(self.pids[n]) for n in self.names}

    def done(self):
        wall = time.time() - self.t0
        busy = (host_ticks() - self.h0) / CLK
        b1, i1 = stat_busy_idle()
        db, di = b1 - self.s0[0], i1 - self.s0[1]
        # host_busy_pct: sum over live tasks (the anchors' measure; processes
        # that exit during the window are missing, so it can even go negative
        # while other builds run); host_busy_stat_pct: /proc/stat
        res = {"wall_s": round(wall, 2),
               "host_busy_pct": round(100.0 * busy / (wall * os.cpu_count()), 1) if wall > 0 else None,
               "host_busy_stat_pct": round(100.0 * db / (db + di), 1) if db + di > 0 else None}
        for n in self.names:
            c = (cpu_ticks(self.pids[n]) - self.c0[n]) / CLK
            res[n + "_cpu_s"] = round(c, 2)
            res[n + "_cpu_pct"] = round(100.0 * c / wall, 1) if wall > 0 else None
        return res


def thread_times(pid):
    """Per thread name: (on-CPU ns, run-queue wait ns) from schedstat."""
    out = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    comm = f.read().strip()
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    on, wait = [int(x) for x in f.read().split()[:2]]
            except (OSError, ValueError):
                continue
            a = out.setdefault(comm, [0, 0, 0])
            a[0] += on
            a[1] += wait
            a[2] += 1
    except OSError:
        pass
    return out


class ThreadWindow:
    """CPU and run-queue wait per thread name of one process over a window,
    in % of one core: shows whether one thread is the limit, and how much the
    threads waited for a CPU."""

    def __init__(self, pid):
        self.pid, self.t0, self.a = pid, time.time(), thread_times(pid)

    def done(self):
        wall = time.time() - self.t0
        b = thread_times(self.pid)
        res = {}
        for comm, (on, wait, n) in b.items():
            on0, wait0, _ = self.a.get(comm, (0, 0, 0))
            res[comm] = {"threads": n, "cpu_pct": round(100.0 * (on - on0) / 1e9 / wall, 1),
                         "runq_wait_pct": round(100.0 * (wait - wait0) / 1e9 / wall, 1)}
        return res


def fmt_threads(threads):
    return ", ".join(f"{k}x{v['threads']} {v['cpu_pct']:.0f}/{v['runq_wait_pct']:.0f}"
                     for k, v in sorted(threads.items()))


def sleep_until(t):
    d = t - time.time()
    if d > 0:
        time.sleep(d)


def established(port):
    """Established server-side TCP connections on 127.0.0.1:port, counted the
    same way for both servers (ss, netlink: a consistent snapshot, unlike
    reading /proc/net/tcp while it changes)."""
    try:
        r = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return sum(1 for line in r.stdout.splitlines() if line.strip()) if r.returncode == 0 else None


def sip_options_ok(port, timeout=1.0):
    """One OPTIONS over UDP; True when a 200 comes back (both servers answer
    OPTIONS to themselves with 200)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((HOST, 0))
        lp = s.getsockname()[1]
        msg = (f"OPTIONS sip:{HOST}:{port} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {HOST}:{lp};branch=z9hG4bK-probe{int(time.time() * 1e6)};rport\r\n"
               f"Max-Forwards: 70\r\nFrom: <sip:probe@{HOST}>;tag=p{lp}\r\nTo: <sip:{HOST}:{port}>\r\n"
               f"Call-ID: probe-{lp}-{time.time()}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
        s.settimeout(timeout)
        s.sendto(msg.encode(), (HOST, port))
        data, _ = s.recvfrom(65535)
        return data.startswith(b"SIP/2.0 200")
    except OSError:
        return False
    finally:
        s.close()


def wait_sip_up(name, port, logfile, secs=20):
    """Waits until `name` answers OPTIONS on `port`; returns when it first did."""
    p = PROCS[name][0]
    deadline = time.time() + secs
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"{name} exited rc={p.returncode}, see {logfile}")
        # short: an OPTIONS sent before the socket is bound is simply lost
        if sip_options_ok(port, 0.1):
            up = time.time()
            time.sleep(0.5)
            return up
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not come up")


def log_lines(path, pattern):
    try:
        with open(path, errors="replace") as f:
            return sum(1 for line in f if re.search(pattern, line))
    except OSError:
        return None


# ----------------------------------------------------------------------------
# servers
# ----------------------------------------------------------------------------
class Kamailio:
    """Kamailio 5.6 with the anchors' config (conf/kamailio.cfg) and flags,
    on its own port; `defines` adds -A flags (WITH_RTPENGINE, RTPE_SOCK=...)."""
    name = "kamailio"

    def __init__(self, port, kchildren=4, ktcpchildren=4, tcp_rd_buf=16384, defines=()):
        self.port = port
        self.kchildren, self.ktcpchildren, self.tcp_rd_buf = kchildren, ktcpchildren, tcp_rd_buf
        self.defines = list(defines)
        self.run_dir = os.path.join(OUT, "run-kamailio")
        self.logfile = None

    def kamcmd(self, *args, timeout=10):
        r = subprocess.run(["kamcmd", "-s", f"unix:{self.run_dir}/kamailio_ctl"] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        return r.stdout

    def start(self, tag):
        shutil.rmtree(self.run_dir, ignore_errors=True)
        os.makedirs(self.run_dir)
        # the anchors' flags, on our port
        argv = ["kamailio", "-f", os.path.join(CONF, "kamailio.cfg"), "-DD", "-E",
                "-m", "512", "-M", "16", "-Y", self.run_dir, "-L", KAM_MODDIR,
                "-P", os.path.join(self.run_dir, "kamailio.pid"),
                "-A", f"KCHILDREN={self.kchildren}",
                "-A", f"KTCPCHILDREN={self.ktcpchildren}",
                "-A", f"TCP_RD_BUF={self.tcp_rd_buf}",
                "-A", f"SIPPORT={self.port}",
                "-A", "WITH_AUTH", "-A", f'DBURL="sqlite://{OUT}/kamailio-subscriber.db"']
        for d in self.defines:
            argv += ["-A", d]
        self.logfile = os.path.join(OUT, "logs", f"kamailio-{tag}.log")
        spawn(self.name, argv, self.logfile)
        wait_sip_up(self.name, self.port, self.logfile)

    def stop(self):
        stop(self.name)

    def contacts(self):
        out = self.kamcmd("stats.get_statistics", "usrloc:")
        m = re.search(r"^usrloc:location_contacts\s*=\s*(\d+)", out, re.M)
        return int(m.group(1)) if m else None

    def tcp_conns(self):
        m = re.search(r"opened_connections:\s*(\d+)", self.kamcmd("core.tcp_info"))
        return int(m.group(1)) if m else None

    def log_problems(self):
        return log_lines(self.logfile, r"\b(ERROR|CRITICAL|ALERT|BUG)\b")


class Switch:
    """Our switch (`switch run`), a fresh copy of a provisioned data dir per
    start (an empty one without `template`); `extra_args` are appended to
    `switch run` (a --config for calls), `prefix` goes before the binary
    (`taskset -c 0` for dns.sh), `store_args` name the store for `run` and
    the CLI alike (`--redis URL`; none: the SQLite file in the data dir).
    `name` is its process name here (several nodes: switch-1, switch-2...)."""

    def __init__(self, binary, port, template, max_conns_per_ip=16384, digest_algorithms="md5",
                 extra_args=(), log_level="warn", prefix=(), name="switch", store_args=()):
        self.bin, self.port, self.template = binary, port, template
        self.prefix = list(prefix)
        self.max_conns_per_ip, self.digest_algorithms = max_conns_per_ip, digest_algorithms
        self.extra_args = list(extra_args)
        self.store_args = list(store_args)
        self.log_level = log_level
        self.name = name
        self.data_dir = os.path.join(OUT, "run-" + name)
        self.logfile = None

    def start(self, tag):
        # fresh state for every start: the provisioned store, no RL records
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.template:
            shutil.copytree(self.template, self.data_dir)
        else:
            os.makedirs(self.data_dir)
        argv = self.prefix + [self.bin, "run",
                "--listen", f"tcp:{HOST}:{self.port}", "--listen", f"udp:{HOST}:{self.port}",
                "--data-dir", self.data_dir, "--domain", DOMAIN,
                "--max-connections-per-ip", str(self.max_conns_per_ip)] + self.store_args
        if self.digest_algorithms:
            argv += ["--digest-algorithms", self.digest_algorithms]
        argv += self.extra_args
        self.logfile = os.path.join(OUT, "logs", f"{self.name}-{tag}.log")
        t0 = time.time()
        spawn(self.name, argv, self.logfile, env_extra={"RUST_LOG": self.log_level})
        # start-up reads the store (subscribers, bindings): seconds until SIP is answered
        self.start_s = wait_sip_up(self.name, self.port, self.logfile) - t0

    def stop(self):
        stop(self.name)

    def cli_json(self, *args):
        r = subprocess.run([self.bin] + list(args) + ["--json", "--data-dir", self.data_dir] + self.store_args,
                           capture_output=True, text=True, timeout=30, env={**os.environ, "RUST_LOG": "error"})
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    def contacts(self):
        recs = self.cli_json("registrations")
        if not isinstance(recs, list):
            return None
        states = {}
        for x in recs:
            if isinstance(x, dict):
                states[x.get("state")] = states.get(x.get("state"), 0) + 1
        if set(states) - {"registered"}:
            log(f"  switch RL record states: {states}")
        return states.get("registered", 0)

    def log_problems(self):
        return log_lines(self.logfile, r"\b(WARN|ERROR)\b")


# ----------------------------------------------------------------------------
# provisioning: the same users for both (realm 127.0.0.1)
# ----------------------------------------------------------------------------
def users(n):
    return [(f"u{i:05d}", f"pw{i:05d}") for i in range(1, n + 1)]


def write_users_csv(path, pairs):
    """SIPp injection file: USER;DOMAIN;PASSWORD."""
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for u, pw in pairs:
            f.write(f"{u};{DOMAIN};{pw}\n")


def make_kamailio_db(pairs):
    path = os.path.join(OUT, "kamailio-subscriber.db")
    if os.path.exists(path):
        os.unlink(path)
    c = sqlite3.connect(path)
    for sql in ("standard-create.sql", "auth_db-create.sql"):
        with open(f"/usr/share/kamailio/db_sqlite/{sql}") as f:
            c.executescript(f.read())
    c.executemany("INSERT INTO subscriber(username, domain, password) VALUES (?,?,?)",
                  [(u, DOMAIN, pw) for u, pw in pairs])
    c.commit()
    c.close()
    return path


def make_switch_store(binary, pairs, store_args=(), template="switch-template"):
    """Provisions the switch's own store through its CLI: one
    `switch subscriber import` of a number;password file, into the data dir
    OUT/`template` (SQLite) or into the store `store_args` names (`--redis URL`)."""
    d = os.path.join(OUT, template)
    shutil.rmtree(d, ignore_errors=True)
    csv = os.path.join(OUT, "switch-subscribers.csv")
    with open(csv, "w") as f:
        for u, pw in pairs:
            f.write(f"{u};{pw}\n")
    t0 = time.time()
    r = subprocess.run([binary, "subscriber", "import", csv, "--realm", DOMAIN, "--data-dir", d] + list(store_args),
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"switch subscriber import failed: {r.stderr.strip()}")
    took = time.time() - t0
    where = " ".join(store_args) or "the switch store"
    log(f"provisioned {len(pairs)} subscribers into {where} in {took:.1f}s ({r.stdout.strip()})")
    return d, round(took, 2)


# ----------------------------------------------------------------------------
# SIPp
# ----------------------------------------------------------------------------
SIPP_N = [0]
# Every SIPp run binds a fresh loopback source address (127.0.0.10-249): each
# run leaves thousands of client sockets in TIME_WAIT, and bind(port 0) on the
# same address then gets very slow (anchors' caveat).
SRC_FIRST, SRC_COUNT = 10, 240
_SRC = [int(time.time() // 60) * 37 % SRC_COUNT]


def next_src_ip():
    _SRC[0] = (_SRC[0] + 1) % SRC_COUNT
    return f"127.0.0.{SRC_FIRST + _SRC[0]}"


def next_tag(label):
    SIPP_N[0] += 1
    return f"{label}-{SIPP_N[0]}"


def sipp_argv(tag, port, scenario, extra, timeout_s, transport="tn", errlog=True, recv_timeout_ms=5000,
              src_ip=None):
    """SIPp command line against HOST:port, bounded by SIPp's own -timeout,
    with stats/log/error files under OUT/sipp/<tag>.*; returns (argv, base)."""
    base = os.path.join(OUT, "sipp", tag)
    argv = ["sipp", f"{HOST}:{port}", "-sf", os.path.join(SCN, scenario),
            "-i", src_ip or next_src_ip(), "-p", "0", "-t", transport, "-nostdin",
            "-max_socket", "15000", "-recv_timeout", str(recv_timeout_ms),
            "-timeout", f"{int(timeout_s)}s",
            "-key", "priv_ip", PRIV_IP, "-key", "priv_port", PRIV_PORT,
            "-trace_stat", "-stf", base + ".stat.csv", "-fd", "1",
            "-trace_logs", "-log_file", base + ".log"]
    if errlog:
        argv += ["-trace_err", "-error_file", base + ".err"]
    return argv + extra, base


def sipp_stats(base):
    try:
        with open(base + ".stat.csv") as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
    except OSError:
        return {}
    if len(lines) < 2:
        return {}
    hdr = lines[0].split(";")
    rows = [dict(zip(hdr, l.split(";"))) for l in lines[1:]]
    last = rows[-1]

    def num(r, k):
        try:
            return float(r.get(k, "0") or 0)
        except ValueError:
            return 0.0
    buckets = []
    for k in hdr:
        m = re.match(r"ResponseTimeRepartition1_<(\d+)$", k)
        if m:
            buckets.append((int(m.group(1)), int(num(last, k))))
        elif k.startswith("ResponseTimeRepartition1_>="):
            buckets.append((float("inf"), int(num(last, k))))
    total = sum(c for _, c in buckets)

    def pct_le(q):
        if not total:
            return None
        acc = 0
        for ub, c in buckets:
            acc += c
            if acc >= q * total:
                return ub if ub != float("inf") else None
        return None

    def hms(v):
        try:
            h, m_, s_, us = [int(x) for x in v.split(":")]
            return round(((h * 60 + m_) * 60 + s_) * 1000 + us / 1000.0, 3)
        except (ValueError, AttributeError):
            return None
    return {
        "rtd_samples": total,
        "rtd_mean_ms": hms(last.get("ResponseTime1(C)")),
        "rtd_p50_le_ms": pct_le(0.50),
        "rtd_p99_le_ms": pct_le(0.99),
        "successful": int(num(last, "SuccessfulCall(C)")),
        "failed": int(num(last, "FailedCall(C)")),
        "created": int(num(last, "TotalCallCreated")),
        "max_current_calls": max((int(num(r, "CurrentCall")) for r in rows), default=0),
    }


def sipp_ticks(base, marker):
    ticks = []
    try:
        with open(base + ".log") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[1] == marker:
                    try:
                        ticks.append(int(parts[0]))
                    except ValueError:
                        pass
    except OSError:
        pass
    return ticks


def sipp_errors(base, limit=3):
    """Watchdog trips and the first few distinct error lines SIPp logged."""
    try:
        with open(base + ".err", errors="replace") as f:
            s = f.read()
    except OSError:
        return 0, []
    firsts = []
    for line in s.splitlines():
        line = line.strip()
        if (line and not line.startswith("-") and line not in firsts and "watchdog" not in line
                and line != "The following events occurred:"):
            firsts.append(line[:200])
        if len(firsts) >= limit:
            break
    return s.count("watchdog timer"), firsts


def rate_in_window(ticks, lo_ms, hi_ms):
    n = sum(1 for t in ticks if lo_ms <= t < hi_ms)
    span = (hi_ms - lo_ms) / 1000.0
    return n / span if span > 0 else 0.0


def passes(fail_pct, achieved, rate, st, p99_slo_ms):
    """The anchors' pass criteria: < 1 % failed, >= 95 % of the offered rate
    achieved, SIPp's p99 response-time bucket within the SLO."""
    return (fail_pct < 1.0 and achieved >= 0.95 * rate and st.get("successful", 0) > 0
            and st.get("rtd_p99_le_ms") is not None and st["rtd_p99_le_ms"] <= p99_slo_ms)


# ----------------------------------------------------------------------------
# the registration methods (registrar.sh, cluster.sh): reg, held, a callee
# ----------------------------------------------------------------------------
REG_SCENARIO = "reg_tcp_auth.xml"


def reg_knobs(ladder_default):
    """The `reg` and `held` knobs (BENCH_REG_*, BENCH_HELD_*), the same in
    registrar.sh and cluster.sh but for the ladder's default."""
    return {
        "reg_users": env("BENCH_REG_USERS", 2000),
        "reg_step_s": env("BENCH_REG_STEP_S", 8.0),
        "reg_ladder": ladder("BENCH_REG_LADDER", ladder_default),
        "refine_steps": env("BENCH_REFINE_STEPS", 2),
        "p99_slo_ms": env("BENCH_P99_SLO_MS", 200),
        "reg_ref_rate": env("BENCH_REG_REF_RATE", 1000),
        "held_users": env("BENCH_HELD_USERS", 5000),
        "held_rate": env("BENCH_HELD_RATE", 1000),
        "held_hold_s": env("BENCH_HELD_HOLD_S", 15.0),
    }


def reg_step(parts, label, rate, step_s, p99_slo_ms, window=None):
    """One step of the `reg` method: `rate` REGISTER/s with digest, open loop,
    split over `parts` = [(server, users_csv, n_users), ...], one SIPp per
    part, each offering its share (rate * n / total) over its own persistent
    TCP flows, all with the same per-user period.  CPU, memory and
    connections are sampled in the steady window (after every user
    connected, `step_s` seconds); `window()` is called at its start and
    returns a function called at its end, whose dict joins the result (Redis
    command counts); when that dict has "window": [start, end] (Unix times),
    the registrations completed between them are counted too.  The step passes when, summed over the parts, < 1 %
    failed and >= 95 % of `rate` was achieved, and every SIPp's p99
    registration-time bucket is <= `p99_slo_ms`."""
    D = step_s
    total = sum(n for _, _, n in parts)
    period_ms = int(round(total * 1000.0 / rate))   # per-user refresh interval
    ramp = period_ms / 1000.0                        # all users connected after this
    t0 = time.time()
    end_at = t0 + ramp + D
    runs = []
    for i, (server, csv, n) in enumerate(parts):
        tag = next_tag(f"{label}-r{rate}" + (f"-p{i + 1}" if len(parts) > 1 else ""))
        extra = ["-inf", csv, "-m", str(n), "-r", f"{rate * n / total:.3f}", "-rp", "1000",
                 "-l", str(n + 10), "-d", "0", "-nd",
                 "-set", "end_at", f"{end_at:.3f}", "-set", "period_ms", str(period_ms)]
        timeout = ramp * 2 + D + 30
        argv, base = sipp_argv(tag, server.port, REG_SCENARIO, extra, timeout)
        sname = "sipp-" + tag
        runs.append((server, sname, base, spawn(sname, argv, base + ".out"), timeout))
    names = [s.name for s, _, _, _, _ in runs]
    sipps = [sn for _, sn, _, _, _ in runs]
    sleep_until(t0 + ramp + 0.3)
    win = CpuWindow(names + sipps)
    first = runs[0][0]
    twin = ThreadWindow(PROCS[first.name][0].pid) if isinstance(first, Switch) else None
    finish = window() if window else None
    sleep_until(t0 + ramp + D * 0.5)
    mems = [mem_kb(tree(n)) for n in names]
    mem = {k: sum(m[k] for m in mems) for k in mems[0]}
    conns = [established(s.port) for s, _, _, _, _ in runs]
    conns = None if None in conns else sum(conns)
    if finish:
        # each user's flow closes right after its last registration, which
        # comes within one period before end_at: the hook's window ends
        # before those closes (their writes are no registrations)
        sleep_until(max(t0 + ramp + 0.8, end_at - period_ms / 1000.0 - 0.1))
        extra_res = finish()
    else:
        extra_res = {}
    sleep_until(t0 + ramp + D - 0.2)
    cpu = win.done()
    threads = twin.done() if twin else None
    ticks, failed, sts, errs, trips = [], 0, [], [], 0
    for server, sname, base, p, timeout in runs:
        try:
            p.wait(timeout=timeout + 10)
        except subprocess.TimeoutExpired:
            log(f"  {sname} overran; stopping")
        stop(sname)
        st = sipp_stats(base)
        sts.append(st)
        ticks += sipp_ticks(base, "REGOK")
        failed += st.get("failed", 0)
        t, e = sipp_errors(base)
        trips += t
        errs += e
    achieved = rate_in_window(ticks, (ramp + 0.3) * 1000, (ramp + D - 0.2) * 1000)
    if "window" in extra_res:
        # SIPp's clock ticks count from its start, a few ms after t0: the same shift at both ends
        w0, w1 = ((t - t0) * 1000 for t in extra_res["window"])
        extra_res["registrations_in_window"] = sum(1 for t in ticks if w0 <= t < w1)
    fail_pct = 100.0 * failed / max(1, len(ticks) + failed)
    p99s = [st.get("rtd_p99_le_ms") for st in sts]
    samples = sum(st.get("rtd_samples") or 0 for st in sts)
    mean = (sum((st.get("rtd_mean_ms") or 0) * (st.get("rtd_samples") or 0) for st in sts) / samples
            if samples else None)
    p99 = None if None in p99s else max(p99s)
    ok = all(passes(fail_pct, achieved, rate, {**st, "rtd_p99_le_ms": p99}, p99_slo_ms) for st in sts)
    res = {"rate": rate, "achieved_reg_per_s": round(achieved, 1), "registers_ok": len(ticks),
           "failed": failed, "fail_pct": round(fail_pct, 3), "pass": ok,
           "server_tcp_conns": conns, "server_mem": mem,
           "reg_time_mean_ms": round(mean, 3) if mean is not None else None,
           "reg_time_p50_le_ms": max((st.get("rtd_p50_le_ms") or 0) for st in sts) if sts else None,
           "reg_time_p99_le_ms": p99,
           "sipp_watchdog_trips": trips, "sipp_errors": errs[:3],
           "wall_s": cpu["wall_s"], "host_busy_pct": cpu["host_busy_pct"],
           "host_busy_stat_pct": cpu["host_busy_stat_pct"],
           "server_cpu_pct": round(sum(cpu.get(n + "_cpu_pct") or 0 for n in names), 1),
           "sipp_cpu_pct": round(sum(cpu.get(n + "_cpu_pct") or 0 for n in sipps), 1),
           "server_threads": threads, "loadavg_1m": round(os.getloadavg()[0], 2), **extra_res}
    if len(names) > 1:
        res["node_cpu_pct"] = {n: cpu.get(n + "_cpu_pct") for n in names}
    log(f"  {label} offered {rate}/s -> {achieved:.0f}/s ok={len(ticks)} failed={failed} conns={conns} "
        f"cpu={res['server_cpu_pct']}% sipp={res['sipp_cpu_pct']}% host={res['host_busy_stat_pct']}% "
        f"pss={mem['pss_kb']}kB t_reg mean={res['reg_time_mean_ms']}ms p99<={p99}ms "
        f"{'PASS' if ok else 'FAIL'}" + (f" sipp-err: {errs[0]}" if errs else ""))
    if threads:
        log("    threads (cpu/runq-wait % of a core): " + fmt_threads(threads))
    return res


def reg_summary(rs, n, ref_rate):
    """The `reg` figures of one server's (or setup's) ladder runs: medians of
    the best (max passing) step of each run, and the CPU at `ref_rate`."""
    best = [r["max_pass"] for r in rs]
    return {
        "users": n, "transport": "tcp, one persistent connection per user",
        "auth": "digest (401 + authenticated REGISTER per registration)",
        "max_sustained_reg_per_s": summarize([b["rate"] if b else None for b in best]),
        "runs_where_ladder_never_failed": sum(1 for r in rs if r["ladder_exhausted"]),
        "achieved_at_max_reg_per_s": summarize_best(best, "achieved_reg_per_s"),
        "reg_time_mean_ms_at_max": summarize_best(best, "reg_time_mean_ms"),
        "reg_time_p99_le_ms_at_max": summarize_best(best, "reg_time_p99_le_ms"),
        "server_cpu_pct_at_max": summarize_best(best, "server_cpu_pct"),
        "sipp_cpu_pct_at_max": summarize_best(best, "sipp_cpu_pct"),
        "host_busy_pct_at_max": summarize_best(best, "host_busy_stat_pct"),
        "server_pss_kb_at_max": summarize([b["server_mem"]["pss_kb"] if b else None for b in best]),
        # the switch's store writer is one thread ("store"): near 100 % = it is the limit
        "store_thread_cpu_pct_at_max": summarize([
            ((b.get("server_threads") or {}).get("store") or {}).get("cpu_pct") if b else None for b in best]),
        "ref_rate": ref_rate,
        "server_cpu_pct_at_ref_rate": at_rate(rs, ref_rate, "server_cpu_pct"),
        "runs": rs,
    }


def held_once(server, run, n, rate, hold_s, users_csv, probe=None):
    """The `held` method: `n` users register (digest) at `rate`/s over their
    own TCP flows and keep them idle for `hold_s`; the server's PSS/RSS on
    the fresh idle server and mid-hold, per flow = delta / established
    server-side connections.  `probe()` is called before SIPp starts and
    returns a function called mid-hold with the established connections,
    whose dict joins the result (Redis memory)."""
    # the mid-hold sample (ramp + 2 + hold/2) must come before the first
    # users' hold ends (ramp + hold)
    if hold_s < 6:
        log(f"  BENCH_HELD_HOLD_S={hold_s} is too short to sample inside the hold; using 6")
        hold_s = 6.0
    server.start(f"held{run}")
    try:
        time.sleep(1.0)
        base_mem = mem_kb(tree(server.name))
        finish = probe() if probe else None
        ramp = n / float(rate)
        hold_ms = int((ramp + hold_s) * 1000)
        tag = next_tag(f"{server.name}-held{run}")
        extra = ["-inf", users_csv, "-m", str(n), "-r", str(rate), "-l", str(n + 10),
                 "-d", str(hold_ms), "-nd", "-set", "end_at", "0", "-set", "period_ms", "1"]
        timeout = ramp + hold_ms / 1000.0 + 30
        argv, base = sipp_argv(tag, server.port, REG_SCENARIO, extra, timeout)
        sname = "sipp-" + tag
        t0 = time.time()
        p = spawn(sname, argv, base + ".out")
        sleep_until(t0 + ramp + 2.0)
        win = CpuWindow([server.name])
        sleep_until(t0 + ramp + 2.0 + hold_s * 0.5)
        held_mem = mem_kb(tree(server.name))
        conns = established(server.port)
        extra_res = finish(conns) if finish else {}   # before the listing below, which reads the store
        contacts = server.contacts()
        sleep_until(t0 + ramp + hold_s - 0.5)
        cpu = win.done()
        try:
            p.wait(timeout=timeout + 10)
        except subprocess.TimeoutExpired:
            pass
        stop(sname)
        time.sleep(1.5)
        after_mem = mem_kb(tree(server.name))
        conns_after = established(server.port)
        st = sipp_stats(base)
        regok = len(sipp_ticks(base, "REGOK"))
        trips, errs = sipp_errors(base)
    finally:
        server.stop()
    nconn = conns or 0
    r = {"run": run, "registered_ok": regok, "sipp_failed": st.get("failed"), "sipp_errors": errs,
         "server_tcp_conns_held": conns, "registered_contacts": contacts,
         "mem_baseline": base_mem, "mem_held": held_mem, "mem_after_close": after_mem,
         "server_tcp_conns_after_close": conns_after,
         "pss_bytes_per_flow": round((held_mem["pss_kb"] - base_mem["pss_kb"]) * 1024.0 / nconn) if nconn else None,
         "rss_bytes_per_flow": round((held_mem["rss_kb"] - base_mem["rss_kb"]) * 1024.0 / nconn) if nconn else None,
         "idle_cpu_pct_while_held": cpu.get(server.name + "_cpu_pct"),
         "server_start_s": round(getattr(server, "start_s", 0), 2) or None,
         "server_log_problem_lines": server.log_problems(), **extra_res}
    log(f"  {server.name} held {conns} conns, contacts {contacts}, registered {regok}; "
        f"PSS {base_mem['pss_kb']} -> {held_mem['pss_kb']} kB ({r['pss_bytes_per_flow']} B/flow), "
        f"RSS {base_mem['rss_kb']} -> {held_mem['rss_kb']} kB ({r['rss_bytes_per_flow']} B/flow), "
        f"idle cpu {r['idle_cpu_pct_while_held']}%" + (f" sipp-err: {errs[0]}" if errs else ""))
    return r


def held_summary(rs, n):
    """The `held` figures of one server's runs (medians)."""
    return {
        "flows_target": n,
        "flows_held": summarize([r["server_tcp_conns_held"] for r in rs]),
        "registered_contacts": summarize([r["registered_contacts"] for r in rs]),
        "pss_bytes_per_flow": summarize([r["pss_bytes_per_flow"] for r in rs]),
        "rss_bytes_per_flow": summarize([r["rss_bytes_per_flow"] for r in rs]),
        "pss_kb_baseline": summarize([r["mem_baseline"]["pss_kb"] for r in rs]),
        "pss_kb_held": summarize([r["mem_held"]["pss_kb"] for r in rs]),
        "rss_kb_baseline": summarize([r["mem_baseline"]["rss_kb"] for r in rs]),
        "rss_kb_held": summarize([r["mem_held"]["rss_kb"] for r in rs]),
        "idle_cpu_pct_while_held": summarize([r["idle_cpu_pct_while_held"] for r in rs]),
        "runs": rs,
    }


def start_callee(port, tag, callee, sdp_ip=None, media_port=6000, life_s=900, name="callee"):
    """A SIPp callee (digest, TCP) registered as `callee` = (number, password)
    that answers every INVITE coming down its flow (reg_tcp_auth.xml +
    -oocsf uas_answer_ooc.xml, 180 then 200) and echoes RTP (-rtp_echo on
    `media_port`); its SDP names `sdp_ip` (default: the unreachable
    PRIV_IP, the far-end NAT model; "flow": its own source address).  Returns its SIPp file base once it
    registered."""
    csv = os.path.join(OUT, f"{name}.csv")
    write_users_csv(csv, [callee])
    extra = ["-inf", csv, "-m", "1", "-r", "1", "-d", str(life_s * 1000), "-nd",
             "-set", "end_at", "0", "-set", "period_ms", "1",
             "-oocsf", os.path.join(SCN, "uas_answer_ooc.xml"),
             "-s", callee[0], "-mp", str(media_port), "-l", "100000", "-rtp_echo"]
    src = next_src_ip()
    extra += ["-key", "sdp_ip", src if sdp_ip == "flow" else (sdp_ip or PRIV_IP)]
    # the answering scenario waits for the BYE for the whole call hold time
    argv, base = sipp_argv(tag, port, REG_SCENARIO, extra, life_s + 30, errlog=False,
                           recv_timeout_ms=60000, src_ip=src)
    p = spawn(name, argv, base + ".out")
    deadline = time.time() + 10
    while time.time() < deadline:
        if sipp_ticks(base, "REGOK"):
            return base
        if p.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"callee SIPp did not register, see {base}.out")


# ----------------------------------------------------------------------------
# summaries and the ladder search
# ----------------------------------------------------------------------------
def summarize(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return {"min": None, "median": None, "max": None, "values": values}
    return {"min": min(vals), "median": statistics.median(vals), "max": max(vals), "values": values}


def summarize_best(best, key):
    """summarize() of one key over the best (max passing) step of each run."""
    return summarize([b.get(key) if b else None for b in best])


def at_rate(runs, rate, key):
    vals = []
    for r in runs:
        v = None
        for st in r["steps"]:
            if st["rate"] == rate:
                v = st.get(key)
        vals.append(v)
    return summarize(vals)


def nice(x):
    if x >= 1000:
        return int(round(x / 250.0) * 250)
    if x >= 100:
        return int(round(x / 10.0) * 10)
    return int(round(x))


def find_max(step_fn, rates, refine):
    """Walk the ladder until a step fails, then bisect between the last passing
    and the first failing rate (`refine` extra steps)."""
    steps, best, fail = [], None, None

    def take(rate):
        nonlocal best, fail
        s = step_fn(rate)
        steps.append(s)
        if s["pass"]:
            best = s
        else:
            fail = s
        return s["pass"]

    for r in rates:
        if not take(r):
            break
    for _ in range(refine):
        if not fail:
            break
        lo = best["rate"] if best else 0
        hi = fail["rate"]
        mid = nice((lo + hi) / 2.0)
        if mid <= lo or mid >= hi or (lo and (hi - lo) / lo < 0.08):
            break
        take(mid)
    return best, steps, (fail is None)


def order(targets, run):
    """Targets in A/B order on odd runs, B/A on even ones."""
    t = list(targets)
    return t if run % 2 else t[::-1]


def ladder_runs(keys, targets, n_runs, announce, step_for, ladder_for, refine):
    """`n_runs` interleaved runs (`order`) of `find_max` for every target in
    `keys`; `step_for(t, run, rate)` measures one rate on a fresh server.
    Returns {target: [{"run", "max_pass", "ladder_exhausted", "steps"}]}."""
    runs = {t: [] for t in keys}
    for run in range(1, n_runs + 1):
        for t in order(targets, run):
            announce(t, run)
            best, steps, capped = find_max(lambda r: step_for(t, run, r), ladder_for(t), refine)
            runs[t].append({"run": run, "max_pass": best, "ladder_exhausted": capped, "steps": steps})
    return runs


# ----------------------------------------------------------------------------
# table
# ----------------------------------------------------------------------------
def med(s):
    return s.get("median") if isinstance(s, dict) else None


def fnum(v, nd=0, scale=1.0):
    if v is None:
        return "n/a"
    return f"{v * scale:,.{nd}f}"


def ratio(a, b, nd=2):
    if a is None or b in (None, 0):
        return "n/a"
    return f"{a / b:.{nd}f}"


def render_table(header, rows):
    """Rows of equal-length string tuples as a '|' table (markdown-compatible)."""
    w = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    lines = [" | ".join(header[i].ljust(w[i]) for i in range(len(header))),
             "-|-".join("-" * w[i] for i in range(len(header)))]
    lines += [" | ".join(r[i].ljust(w[i]) for i in range(len(header))) for r in rows]
    return "\n".join(l.rstrip() for l in lines)


def first_line(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
        return (r.stdout + r.stderr).strip().splitlines()[0].strip()
    except Exception:
        return None


def host_versions(extra_cmds):
    """Versions of the tools (name -> argv) plus git HEAD, kernel and CPU."""
    git = None
    try:
        git = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
    except Exception:
        pass
    out = {k: first_line(v) for k, v in extra_cmds.items()}
    out.update({
        "sipp": first_line(["sipp", "-v"]),
        "git": git,
        "kernel": os.uname().release,
        "cpus": os.cpu_count(),
        "cpu_model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), None),
        "mem_total_kb": int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))),
    })
    return out


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


def run_measurements(res, measures, subject, only):
    """Runs every (key, fn) of `measures` that `only` selects as res[key] = fn(subject);
    one that fails is recorded in res["errors"] and the others still run."""
    for key, fn in measures:
        if key not in only:
            continue
        try:
            res[key] = fn(subject)
        except Exception as e:          # record it and go on with the next one
            log(f"!! {key} failed: {e!r}")
            res.setdefault("errors", {})[key] = repr(e)
            stop_all()


def close_run(res, t_start, results_path):
    """Stops every process the run started and writes its JSON (call from `finally`)."""
    stop_all()
    res["meta"]["duration_s"] = round(time.time() - t_start, 1)
    res["meta"]["loadavg_at_end"] = os.getloadavg()
    write_json(results_path, res)


def report(res, table, results_path, out_dir):
    """Prints the run's header, its table and where the files are; the exit status."""
    print()
    la = res["meta"]["loadavg_at_start"]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, load average at start {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, "
          f"{res['meta']['duration_s']:.0f} s")
    print(table(res))
    if res.get("errors"):
        print("errors: " + repr(res["errors"]))
    print(f"\nresults: {results_path}\nlogs:    {out_dir}")
    return 1 if res.get("errors") else 0


def both(d, key):
    """The medians of `key` for the switch and for the incumbent in one measurement's results."""
    return med(d.get("switch", {}).get(key)), med(d.get("kamailio", {}).get(key))


def max_sustained_note(d):
    """The suffix that says which stacks never failed the ladder (their maximum is a lower bound)."""
    capped = [t for t in ("switch", "kamailio") if d.get(t, {}).get("runs_where_ladder_never_failed")]
    return f" (ladder top reached by {','.join(capped)}: lower bound)" if capped else ""
