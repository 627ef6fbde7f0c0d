#!/usr/bin/env python3
"""Registrar benchmark: our switch side by side with Kamailio 5.6, driven by
SIPp, loopback (127.0.0.0/8) only.  Invoked by ../registrar.sh.

Two measurements, each for both servers in one run, interleaved run by run
(A/B, then B/A, ...) so both see the same machine:

  reg   REGISTER/s with digest auth over TCP: BENCH_REG_USERS (2000) numbers,
        each on its own persistent connection, open-loop rate ladder; a step
        passes with < 1 % failures, >= 95 % of the offered rate achieved and
        SIPp's p99 registration-time bucket <= BENCH_P99_SLO_MS (200).  The
        max sustained rate is the highest passing rate (ladder until the
        first failure, then bisect BENCH_REFINE_STEPS times).  Fresh server
        for every step.
  held  BENCH_HELD_USERS (5000) registered (digest) TCP flows held idle;
        server PSS/RSS before (fresh, idle) and while they are held;
        per flow = delta / established server-side connections.

Method, scenario and Kamailio flags are those of the anchors harness
(shared/anchors, `reg` digest and `held`); the generic pieces of its
orchestrator are copied here.  Differences: ports are our own (Kamailio
BENCH_KAM_PORT, switch BENCH_SWITCH_PORT) and `held` uses the digest scenario
for both servers (the switch always authenticates); see ../README.md.

Every process is started here as a child, tracked by PID and stopped by PID
(also on SIGINT/SIGTERM).  Every SIPp run is bounded by -m, -timeout and a
subprocess timeout.
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
OUT = os.environ.get("BENCH_OUT", "/tmp/bench-registrar-out")
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(OUT, "results.json"))

HOST = "127.0.0.1"          # servers listen here (loopback only)
PRIV_IP = "127.0.0.2"       # the NATed UAs' advertised, unreachable address
PRIV_PORT = "5999"          # (nothing listens there)
DOMAIN = "127.0.0.1"        # SIP domain and digest realm of both servers
KAM_MODDIR = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
CLK = os.sysconf("SC_CLK_TCK")
SCENARIO = "reg_tcp_auth.xml"


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


CFG = {
    "runs": env("BENCH_RUNS", 3),
    "targets": [t for t in env("BENCH_TARGETS", "switch,kamailio").split(",") if t],
    "kam_port": env("BENCH_KAM_PORT", 25060),
    "switch_port": env("BENCH_SWITCH_PORT", 25070),
    "switch_bin": env("BENCH_SWITCH_BIN", os.path.join(REPO, "target", "release", "switch")),
    # SIPp 3.6 answers only the first WWW-Authenticate and only MD5: with the
    # switch's default (SHA-256 first, then MD5) it aborts with
    # "createAuthHeader: authentication must use MD5 or AKAv1-MD5".
    "switch_digest_algorithms": env("BENCH_SWITCH_DIGEST_ALGORITHMS", "md5"),
    # all of one SIPp's flows come from one source IP; the switch caps
    # connections per IP (256 by default).  Kamailio: tcp_max_connections=16384.
    "switch_max_conns_per_ip": env("BENCH_SWITCH_MAX_CONNS_PER_IP", 16384),
    "kchildren": env("BENCH_KCHILDREN", 4),
    "ktcpchildren": env("BENCH_KTCPCHILDREN", 4),
    "tcp_rd_buf": env("BENCH_TCP_RD_BUF", 16384),
    # reg
    "reg_users": env("BENCH_REG_USERS", 2000),
    "reg_step_s": env("BENCH_REG_STEP_S", 8.0),
    "reg_ladder": ladder("BENCH_REG_LADDER", "500,1000,2000,4000,6000,8000,10000,12000,14000,16000"),
    "refine_steps": env("BENCH_REFINE_STEPS", 2),
    "p99_slo_ms": env("BENCH_P99_SLO_MS", 200),
    "reg_ref_rate": env("BENCH_REG_REF_RATE", 1000),
    # held
    "held_users": env("BENCH_HELD_USERS", 5000),
    "held_rate": env("BENCH_HELD_RATE", 1000),
    "held_hold_s": env("BENCH_HELD_HOLD_S", 15.0),
}
for _t in ("switch", "kamailio"):
    CFG[f"reg_ladder_{_t}"] = ladder(f"BENCH_REG_LADDER_{_t.upper()}", ",".join(map(str, CFG["reg_ladder"])))
ONLY = [x for x in env("BENCH_ONLY", "reg,held").split(",") if x]

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


def _sig(signum, frame):
    # ignore further signals while stopping (Ctrl-C twice, or INT then TERM)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log(f"signal {signum}: stopping everything")
    stop_all()
    sys.exit(130)


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
    in % of one core: shows whether one thread (the switch's `registrar`) is
    the limit, and how much the threads waited for a CPU."""

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
    name = "kamailio"

    def __init__(self):
        self.port = CFG["kam_port"]
        self.run_dir = os.path.join(OUT, "run-kamailio")
        self.logfile = None

    def kamcmd(self, *args, timeout=10):
        r = subprocess.run(["kamcmd", "-s", f"unix:{self.run_dir}/kamailio_ctl"] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        return r.stdout

    def start(self, tag):
        shutil.rmtree(self.run_dir, ignore_errors=True)
        os.makedirs(self.run_dir)
        # the anchors' `reg` digest flags, on our port
        argv = ["kamailio", "-f", os.path.join(CONF, "kamailio.cfg"), "-DD", "-E",
                "-m", "512", "-M", "16", "-Y", self.run_dir, "-L", KAM_MODDIR,
                "-P", os.path.join(self.run_dir, "kamailio.pid"),
                "-A", f"KCHILDREN={CFG['kchildren']}",
                "-A", f"KTCPCHILDREN={CFG['ktcpchildren']}",
                "-A", f"TCP_RD_BUF={CFG['tcp_rd_buf']}",
                "-A", f"SIPPORT={self.port}",
                "-A", "WITH_AUTH", "-A", f'DBURL="sqlite://{OUT}/kamailio-subscriber.db"']
        self.logfile = os.path.join(OUT, "logs", f"kamailio-{tag}.log")
        p = spawn(self.name, argv, self.logfile)
        deadline = time.time() + 20
        while time.time() < deadline:
            if p.poll() is not None:
                raise RuntimeError(f"kamailio exited rc={p.returncode}, see {self.logfile}")
            if sip_options_ok(self.port, 0.5):
                time.sleep(0.5)
                return
            time.sleep(0.2)
        raise RuntimeError("kamailio did not come up")

    def stop(self):
        stop(self.name)

    def contacts(self):
        out = self.kamcmd("stats.get_statistics", "usrloc:")
        m = re.search(r"^usrloc:location_contacts\s*=\s*(\d+)", out, re.M)
        return int(m.group(1)) if m else None

    def log_problems(self):
        return log_lines(self.logfile, r"\b(ERROR|CRITICAL|ALERT|BUG)\b")


class Switch:
    name = "switch"

    def __init__(self, template):
        self.port = CFG["switch_port"]
        self.template = template          # provisioned data dir, copied per start
        self.data_dir = os.path.join(OUT, "run-switch")
        self.logfile = None

    def start(self, tag):
        # fresh state for every start: the provisioned store, no RL records
        shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.copytree(self.template, self.data_dir)
        argv = [CFG["switch_bin"], "run",
                "--listen", f"tcp:{HOST}:{self.port}", "--listen", f"udp:{HOST}:{self.port}",
                "--data-dir", self.data_dir, "--domain", DOMAIN,
                "--max-connections-per-ip", str(CFG["switch_max_conns_per_ip"])]
        if CFG["switch_digest_algorithms"]:
            argv += ["--digest-algorithms", CFG["switch_digest_algorithms"]]
        self.logfile = os.path.join(OUT, "logs", f"switch-{tag}.log")
        p = spawn(self.name, argv, self.logfile, env_extra={"RUST_LOG": os.environ.get("BENCH_SWITCH_LOG", "warn")})
        deadline = time.time() + 20
        while time.time() < deadline:
            if p.poll() is not None:
                raise RuntimeError(f"switch exited rc={p.returncode}, see {self.logfile}")
            if sip_options_ok(self.port, 0.5):
                time.sleep(0.5)
                return
            time.sleep(0.2)
        raise RuntimeError("switch did not come up")

    def stop(self):
        stop(self.name)

    def contacts(self):
        r = subprocess.run([CFG["switch_bin"], "registrations", "--json", "--data-dir", self.data_dir],
                           capture_output=True, text=True, timeout=30, env={**os.environ, "RUST_LOG": "error"})
        try:
            states = {}
            for x in json.loads(r.stdout):
                states[x.get("state")] = states.get(x.get("state"), 0) + 1
        except (ValueError, AttributeError):
            return None
        if set(states) - {"registered"}:
            log(f"  switch RL record states: {states}")
        return states.get("registered", 0)

    def log_problems(self):
        return log_lines(self.logfile, r"\b(WARN|ERROR)\b")


# ----------------------------------------------------------------------------
# provisioning: the same users for both (u00001.., realm 127.0.0.1, pwNNNNN)
# ----------------------------------------------------------------------------
def users(n):
    return [(f"u{i:05d}", f"pw{i:05d}") for i in range(1, n + 1)]


def make_users_csv(n, path):
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for u, pw in users(n):
            f.write(f"{u};{DOMAIN};{pw}\n")


def make_kamailio_db(n):
    path = os.path.join(OUT, "kamailio-subscriber.db")
    if os.path.exists(path):
        os.unlink(path)
    c = sqlite3.connect(path)
    for sql in ("standard-create.sql", "auth_db-create.sql"):
        with open(f"/usr/share/kamailio/db_sqlite/{sql}") as f:
            c.executescript(f.read())
    c.executemany("INSERT INTO subscriber(username, domain, password) VALUES (?,?,?)",
                  [(u, DOMAIN, pw) for u, pw in users(n)])
    c.commit()
    c.close()


def make_switch_store(n):
    """Provisions the switch's own store through its CLI: one
    `switch subscriber import` of a number;password file."""
    d = os.path.join(OUT, "switch-template")
    shutil.rmtree(d, ignore_errors=True)
    csv = os.path.join(OUT, "switch-subscribers.csv")
    with open(csv, "w") as f:
        for u, pw in users(n):
            f.write(f"{u};{pw}\n")
    t0 = time.time()
    r = subprocess.run([CFG["switch_bin"], "subscriber", "import", csv, "--realm", DOMAIN, "--data-dir", d],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"switch subscriber import failed: {r.stderr.strip()}")
    took = time.time() - t0
    log(f"provisioned {n} subscribers into the switch store in {took:.1f}s ({r.stdout.strip()})")
    return d, round(took, 2)


# ----------------------------------------------------------------------------
# SIPp
# ----------------------------------------------------------------------------
SIPP_N = [0]
# Every SIPp run binds a fresh loopback source address (127.0.0.10-249): each
# run leaves thousands of client sockets in TIME_WAIT, and bind(port 0) on the
# same address then gets very slow (anchors' caveat).
_SRC = [int(time.time() // 60) * 37 % 240]


def next_src_ip():
    _SRC[0] = (_SRC[0] + 1) % 240
    return f"127.0.0.{10 + _SRC[0]}"


def sipp_argv(tag, port, extra, timeout_s):
    base = os.path.join(OUT, "sipp", tag)
    argv = ["sipp", f"{HOST}:{port}", "-sf", os.path.join(SCN, SCENARIO),
            "-i", next_src_ip(), "-p", "0", "-t", "tn", "-nostdin",
            "-max_socket", "15000", "-recv_timeout", "5000",
            "-timeout", f"{int(timeout_s)}s",
            "-key", "priv_ip", PRIV_IP, "-key", "priv_port", PRIV_PORT,
            "-trace_stat", "-stf", base + ".stat.csv", "-fd", "1",
            "-trace_logs", "-log_file", base + ".log",
            "-trace_err", "-error_file", base + ".err"]
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
        if line and not line.startswith("-") and line not in firsts and "watchdog" not in line:
            firsts.append(line[:200])
        if len(firsts) >= limit:
            break
    return s.count("watchdog timer"), firsts


def rate_in_window(ticks, lo_ms, hi_ms):
    n = sum(1 for t in ticks if lo_ms <= t < hi_ms)
    span = (hi_ms - lo_ms) / 1000.0
    return n / span if span > 0 else 0.0


# ----------------------------------------------------------------------------
# summaries
# ----------------------------------------------------------------------------
def summarize(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return {"min": None, "median": None, "max": None, "values": values}
    return {"min": min(vals), "median": statistics.median(vals), "max": max(vals), "values": values}


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
    for r in rates:
        s = step_fn(r)
        steps.append(s)
        if s["pass"]:
            best = s
        else:
            fail = s
            break
    for _ in range(refine):
        if not fail:
            break
        lo = best["rate"] if best else 0
        hi = fail["rate"]
        mid = nice((lo + hi) / 2.0)
        if mid <= lo or mid >= hi or (lo and (hi - lo) / lo < 0.08):
            break
        s = step_fn(mid)
        steps.append(s)
        if s["pass"]:
            best = s
        else:
            fail = s
    return best, steps, (fail is None)


def order(run):
    """Targets in A/B order on odd runs, B/A on even ones."""
    t = list(CFG["targets"])
    return t if run % 2 else t[::-1]


# ----------------------------------------------------------------------------
# reg: REGISTER/s with digest over persistent TCP flows
# ----------------------------------------------------------------------------
def reg_step(server, label, rate, users_csv, n):
    D = CFG["reg_step_s"]
    period_ms = int(round(n * 1000.0 / rate))   # per-user refresh interval
    ramp = period_ms / 1000.0                    # all users connected after this
    SIPP_N[0] += 1
    tag = f"{label}-r{rate}-{SIPP_N[0]}"
    t0 = time.time()
    end_at = t0 + ramp + D
    extra = ["-inf", users_csv, "-m", str(n), "-r", str(rate), "-rp", "1000",
             "-l", str(n + 10), "-d", "0", "-nd",
             "-set", "end_at", f"{end_at:.3f}", "-set", "period_ms", str(period_ms)]
    timeout = ramp * 2 + D + 30
    argv, base = sipp_argv(tag, server.port, extra, timeout)
    sname = "sipp-" + tag
    p = spawn(sname, argv, base + ".out")
    sleep_until(t0 + ramp + 0.3)
    win = CpuWindow([server.name, sname])
    twin = ThreadWindow(PROCS[server.name][0].pid) if server.name == "switch" else None
    sleep_until(t0 + ramp + D * 0.5)
    mem = mem_kb(tree(server.name))
    conns = established(server.port)
    sleep_until(t0 + ramp + D - 0.2)
    cpu = win.done()
    threads = twin.done() if twin else None
    try:
        p.wait(timeout=timeout + 10)
    except subprocess.TimeoutExpired:
        log(f"  sipp {tag} overran; stopping")
    stop(sname)
    st = sipp_stats(base)
    ticks = sipp_ticks(base, "REGOK")
    achieved = rate_in_window(ticks, (ramp + 0.3) * 1000, (ramp + D - 0.2) * 1000)
    failed = st.get("failed", 0)
    fail_pct = 100.0 * failed / max(1, len(ticks) + failed)
    ok = (fail_pct < 1.0 and achieved >= 0.95 * rate and st.get("successful", 0) > 0
          and st.get("rtd_p99_le_ms") is not None and st["rtd_p99_le_ms"] <= CFG["p99_slo_ms"])
    trips, errs = sipp_errors(base)
    res = {"rate": rate, "achieved_reg_per_s": round(achieved, 1), "registers_ok": len(ticks),
           "failed": failed, "fail_pct": round(fail_pct, 3), "pass": ok,
           "server_tcp_conns": conns, "server_mem": mem,
           "reg_time_mean_ms": st.get("rtd_mean_ms"), "reg_time_p50_le_ms": st.get("rtd_p50_le_ms"),
           "reg_time_p99_le_ms": st.get("rtd_p99_le_ms"),
           "sipp_watchdog_trips": trips, "sipp_errors": errs,
           "wall_s": cpu["wall_s"], "host_busy_pct": cpu["host_busy_pct"],
           "host_busy_stat_pct": cpu["host_busy_stat_pct"],
           "server_cpu_pct": cpu.get(server.name + "_cpu_pct"),
           "sipp_cpu_pct": cpu.get(sname + "_cpu_pct"),
           "server_threads": threads, "loadavg_1m": round(os.getloadavg()[0], 2)}
    log(f"  {label} offered {rate}/s -> {achieved:.0f}/s ok={len(ticks)} failed={failed} conns={conns} "
        f"cpu={res['server_cpu_pct']}% sipp={res['sipp_cpu_pct']}% host={res['host_busy_stat_pct']}% "
        f"pss={mem['pss_kb']}kB t_reg mean={st.get('rtd_mean_ms')}ms p99<={st.get('rtd_p99_le_ms')}ms "
        f"{'PASS' if ok else 'FAIL'}" + (f" sipp-err: {errs[0]}" if errs else ""))
    if threads:
        log("    threads (cpu/runq-wait % of a core): " + ", ".join(
            f"{k}x{v['threads']} {v['cpu_pct']:.0f}/{v['runq_wait_pct']:.0f}" for k, v in sorted(threads.items())))
    return res


def measure_reg(servers):
    n = CFG["reg_users"]
    csv = os.path.join(OUT, "users.csv")
    runs = {t: [] for t in servers}
    for run in range(1, CFG["runs"] + 1):
        for t in order(run):
            server = servers[t]
            log(f"[reg] {t}: REGISTER/s, digest, {n} TCP flows, run {run}")

            def step(r):
                # fresh server for every step: an overloaded step must not
                # leave queued work to the next one
                server.start(f"reg{run}-r{r}")
                try:
                    res = reg_step(server, f"{t}-reg{run}", r, csv, n)
                finally:
                    server.stop()
                res["server_log_problem_lines"] = server.log_problems()
                return res
            best, steps, capped = find_max(step, CFG[f"reg_ladder_{t}"], CFG["refine_steps"])
            runs[t].append({"run": run, "max_pass": best, "ladder_exhausted": capped, "steps": steps})
    out = {}
    for t, rs in runs.items():
        best = [r["max_pass"] for r in rs]
        out[t] = {
            "users": n, "transport": "tcp, one persistent connection per user",
            "auth": "digest (401 + authenticated REGISTER per registration)",
            "max_sustained_reg_per_s": summarize([b["rate"] if b else None for b in best]),
            "runs_where_ladder_never_failed": sum(1 for r in rs if r["ladder_exhausted"]),
            "achieved_at_max_reg_per_s": summarize([b["achieved_reg_per_s"] if b else None for b in best]),
            "reg_time_mean_ms_at_max": summarize([b.get("reg_time_mean_ms") if b else None for b in best]),
            "reg_time_p99_le_ms_at_max": summarize([b.get("reg_time_p99_le_ms") if b else None for b in best]),
            "server_cpu_pct_at_max": summarize([b.get("server_cpu_pct") if b else None for b in best]),
            "sipp_cpu_pct_at_max": summarize([b.get("sipp_cpu_pct") if b else None for b in best]),
            "host_busy_pct_at_max": summarize([b.get("host_busy_stat_pct") if b else None for b in best]),
            "server_pss_kb_at_max": summarize([b["server_mem"]["pss_kb"] if b else None for b in best]),
            # the switch's request loop is one thread ("registrar"): near 100 % = it is the limit
            "registrar_thread_cpu_pct_at_max": summarize([
                ((b.get("server_threads") or {}).get("registrar") or {}).get("cpu_pct") if b else None for b in best]),
            "ref_rate": CFG["reg_ref_rate"],
            "server_cpu_pct_at_ref_rate": at_rate(rs, CFG["reg_ref_rate"], "server_cpu_pct"),
            "runs": rs,
        }
    return out


# ----------------------------------------------------------------------------
# held: idle registered flows, memory per flow
# ----------------------------------------------------------------------------
def held_once(server, run):
    n = CFG["held_users"]
    rate = CFG["held_rate"]
    hold_s = CFG["held_hold_s"]
    csv = os.path.join(OUT, "users.csv")
    # the mid-hold sample (ramp + 2 + hold/2) must come before the first
    # users' hold ends (ramp + hold)
    if hold_s < 6:
        log(f"  BENCH_HELD_HOLD_S={hold_s} is too short to sample inside the hold; using 6")
        hold_s = 6.0
    server.start(f"held{run}")
    try:
        time.sleep(1.0)
        base_mem = mem_kb(tree(server.name))
        ramp = n / float(rate)
        hold_ms = int((ramp + hold_s) * 1000)
        SIPP_N[0] += 1
        tag = f"{server.name}-held{run}-{SIPP_N[0]}"
        extra = ["-inf", csv, "-m", str(n), "-r", str(rate), "-l", str(n + 10),
                 "-d", str(hold_ms), "-nd", "-set", "end_at", "0", "-set", "period_ms", "1"]
        timeout = ramp + hold_ms / 1000.0 + 30
        argv, base = sipp_argv(tag, server.port, extra, timeout)
        sname = "sipp-" + tag
        t0 = time.time()
        p = spawn(sname, argv, base + ".out")
        sleep_until(t0 + ramp + 2.0)
        win = CpuWindow([server.name])
        sleep_until(t0 + ramp + 2.0 + hold_s * 0.5)
        held_mem = mem_kb(tree(server.name))
        conns = established(server.port)
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
         "server_log_problem_lines": server.log_problems()}
    log(f"  {server.name} held {conns} conns, contacts {contacts}, registered {regok}; "
        f"PSS {base_mem['pss_kb']} -> {held_mem['pss_kb']} kB ({r['pss_bytes_per_flow']} B/flow), "
        f"RSS {base_mem['rss_kb']} -> {held_mem['rss_kb']} kB ({r['rss_bytes_per_flow']} B/flow), "
        f"idle cpu {r['idle_cpu_pct_while_held']}%" + (f" sipp-err: {errs[0]}" if errs else ""))
    return r


def measure_held(servers):
    runs = {t: [] for t in servers}
    for run in range(1, CFG["runs"] + 1):
        for t in order(run):
            log(f"[held] {t}: {CFG['held_users']} registered TCP flows held idle, run {run}")
            runs[t].append(held_once(servers[t], run))
    out = {}
    for t, rs in runs.items():
        out[t] = {
            "flows_target": CFG["held_users"],
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
    return out


# ----------------------------------------------------------------------------
# table
# ----------------------------------------------------------------------------
def med(s):
    return s.get("median") if s else None


def fnum(v, nd=0, scale=1.0):
    if v is None:
        return "n/a"
    return f"{v * scale:,.{nd}f}"


def ratio(a, b, nd=2):
    if a is None or b in (None, 0):
        return "n/a"
    return f"{a / b:.{nd}f}"


def table(res):
    """metric | switch | kamailio | ratio, medians of the runs."""
    rows = []
    reg, held = res.get("reg", {}), res.get("held", {})
    sw, ka = reg.get("switch", {}), reg.get("kamailio", {})

    def both(d, key):
        return med(d.get("switch", {}).get(key)), med(d.get("kamailio", {}).get(key))

    if reg:
        s, k = both(reg, "max_sustained_reg_per_s")
        capped = [t for t in ("switch", "kamailio") if reg.get(t, {}).get("runs_where_ladder_never_failed")]
        note = f" (ladder top reached by {','.join(capped)}: lower bound)" if capped else ""
        rows.append((f"REGISTER/s, digest, TCP, {sw.get('users') or ka.get('users')} flows: max sustained{note}",
                     fnum(s), fnum(k), ratio(s, k) + "  (switch/kamailio)"))
        s, k = both(reg, "achieved_at_max_reg_per_s")
        rows.append(("  achieved REGISTER/s at that step", fnum(s), fnum(k), ratio(s, k)))
        s, k = both(reg, "reg_time_mean_ms_at_max")
        rows.append(("  registration time mean at that step [ms]", fnum(s, 1), fnum(k, 1), ""))
        s, k = both(reg, "reg_time_p99_le_ms_at_max")
        rows.append(("  registration time p99 bucket at that step [ms, <=]", fnum(s), fnum(k), ""))
        s, k = both(reg, "server_cpu_pct_at_max")
        rows.append(("  server CPU at that step [% of 1 core]", fnum(s), fnum(k), ""))
        s, _ = both(reg, "registrar_thread_cpu_pct_at_max")
        rows.append(("  switch 'registrar' thread CPU at that step [% of 1 core]", fnum(s), "-", ""))
        s, k = both(reg, "server_cpu_pct_at_ref_rate")
        rr = CFG["reg_ref_rate"]
        rows.append((f"  server CPU at fixed {rr}/s [% of 1 core]", fnum(s), fnum(k),
                     ratio(s, k) + "  (switch/kamailio, <1: switch cheaper)"))
    if held:
        s, k = both(held, "flows_held")
        rows.append((f"held idle registered TCP flows (target {CFG['held_users']})", fnum(s), fnum(k), ""))
        s, k = both(held, "pss_bytes_per_flow")
        rows.append(("  PSS per held flow [bytes]", fnum(s), fnum(k),
                     ratio(k, s) + "  (kamailio/switch, >1: switch leaner)"))
        s, k = both(held, "rss_bytes_per_flow")
        rows.append(("  RSS per held flow [bytes] (Kamailio: summed over procs)", fnum(s), fnum(k),
                     ratio(k, s) + "  (kamailio/switch)"))
        sb, kb = both(held, "pss_kb_baseline")
        sh, kh = both(held, "pss_kb_held")
        rows.append(("  PSS idle -> flows held [MiB]",
                     f"{fnum(sb, 1, 1 / 1024)} -> {fnum(sh, 1, 1 / 1024)}",
                     f"{fnum(kb, 1, 1 / 1024)} -> {fnum(kh, 1, 1 / 1024)}", ""))
        s, k = both(held, "idle_cpu_pct_while_held")
        rows.append(("  CPU while flows idle [% of 1 core]", fnum(s, 1), fnum(k, 1), ""))
    hdr = ("metric (median of %d run(s))" % CFG["runs"], "switch", "kamailio", "ratio")
    w = [max(len(r[i]) for r in rows + [hdr]) for i in range(4)]
    lines = [" | ".join(hdr[i].ljust(w[i]) for i in range(4)),
             "-|-".join("-" * w[i] for i in range(4))]
    lines += [" | ".join(r[i].ljust(w[i]) for i in range(4)) for r in rows]
    return "\n".join(l.rstrip() for l in lines)


def versions():
    def first(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
            return (r.stdout + r.stderr).strip().splitlines()[0].strip()
        except Exception:
            return None
    git = None
    try:
        git = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
    except Exception:
        pass
    return {
        "kamailio": first(["kamailio", "-v"]),
        "sipp": first(["sipp", "-v"]),
        "switch": first([CFG["switch_bin"], "--version"]),
        "switch_git": git,
        "kernel": os.uname().release,
        "cpus": os.cpu_count(),
        "cpu_model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), None),
        "mem_total_kb": int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))),
    }


def main():
    signal.signal(signal.SIGINT, _sig)
    signal.signal(signal.SIGTERM, _sig)
    for d in ("logs", "sipp"):
        os.makedirs(os.path.join(OUT, d), exist_ok=True)
    n = max(CFG["reg_users"] if "reg" in ONLY else 0, CFG["held_users"] if "held" in ONLY else 0)
    res = {"meta": {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": CFG, "only": ONLY,
                    "loadavg_at_start": os.getloadavg(), "host": versions()}}
    t_start = time.time()
    try:
        make_users_csv(n, os.path.join(OUT, "users.csv"))
        servers = {}
        if "kamailio" in CFG["targets"]:
            make_kamailio_db(n)
            servers["kamailio"] = Kamailio()
        if "switch" in CFG["targets"]:
            template, took = make_switch_store(n)
            res["meta"]["switch_provisioning_s"] = took
            servers["switch"] = Switch(template)
        for key, fn in (("reg", measure_reg), ("held", measure_held)):
            if key not in ONLY:
                continue
            try:
                res[key] = fn(servers)
            except Exception as e:          # record it and go on with the next one
                log(f"!! {key} failed: {e!r}")
                res.setdefault("errors", {})[key] = repr(e)
                stop_all()
    finally:
        stop_all()
        res["meta"]["duration_s"] = round(time.time() - t_start, 1)
        res["meta"]["loadavg_at_end"] = os.getloadavg()
        with open(RESULTS, "w") as f:
            json.dump(res, f, indent=1)
    print()
    la = res["meta"]["loadavg_at_start"]
    print(f"{time.strftime('%Y-%m-%d')}, load average at start {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}, "
          f"{res['meta']['duration_s']:.0f} s")
    print(table(res))
    if res.get("errors"):
        print("errors: " + json.dumps(res["errors"]))
    print(f"\nresults: {RESULTS}\nlogs:    {OUT}")
    return 1 if res.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
