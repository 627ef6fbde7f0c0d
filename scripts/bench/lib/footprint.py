#!/usr/bin/env python3
"""Helpers for scripts/bench/footprint.sh (standard library only).

  footprint.py ports N                  N loopback ports free for both TCP and UDP
  footprint.py wait-tcp PORT SECS       wait until 127.0.0.1:PORT accepts TCP
  footprint.py registered SWITCH DATA_DIR SECS NUMBER...
                                        wait until `switch registrations --json`
                                        shows every NUMBER registered over TCP;
                                        prints the records as JSON
  footprint.py sample NAME=PID...       one /proc sample of each process, JSON
  footprint.py report START END REGS META OUT
                                        table on stdout, everything to OUT (JSON)
"""
import json
import os
import socket
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_ports(n):
    """Ports the kernel hands out for TCP that are also free for UDP."""
    ports, held = [], []
    while len(ports) < n:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            u.close()
            held.append(t)
            continue
        held += [t, u]
        ports.append(port)
    for s in held:
        s.close()
    return ports


def wait_tcp(port, secs):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def registrations(switch, data_dir):
    out = subprocess.run([switch, "registrations", "--json", "--data-dir", data_dir],
                         capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        return []
    return json.loads(out.stdout or "[]")


def wait_registered(switch, data_dir, secs, numbers):
    deadline = time.monotonic() + secs
    recs = []
    while time.monotonic() < deadline:
        recs = registrations(switch, data_dir)
        ok = {r["number"] for r in recs if r.get("state") == "registered" and r.get("transport") == "tcp"}
        if all(n in ok for n in numbers):
            return True, recs
        time.sleep(0.2)
    return False, recs


def read(path):
    with open(path) as f:
        return f.read()


def sample(pid):
    """Memory and CPU of one process, from /proc."""
    s = {"pid": pid, "t_mono": time.monotonic(), "t_wall": time.time()}
    status = {}
    for line in read(f"/proc/{pid}/status").splitlines():
        k, _, v = line.partition(":")
        status[k] = v.strip()
    s["rss_kb"] = int(status["VmRSS"].split()[0])
    s["threads"] = int(status["Threads"])
    roll = {}
    for line in read(f"/proc/{pid}/smaps_rollup").splitlines()[1:]:
        k, _, v = line.partition(":")
        if v.strip().endswith("kB"):
            roll[k] = int(v.split()[0])
    s["pss_kb"] = roll.get("Pss", 0)
    s["private_kb"] = roll.get("Private_Clean", 0) + roll.get("Private_Dirty", 0)
    # /proc/PID/stat: fields after the ")" closing comm; utime, stime are
    # fields 14 and 15 (1-based), in clock ticks, and include dead threads.
    f = read(f"/proc/{pid}/stat").rpartition(")")[2].split()
    s["utime_ticks"], s["stime_ticks"] = int(f[11]), int(f[12])
    s["cpu_s"] = (s["utime_ticks"] + s["stime_ticks"]) / CLK_TCK
    # The same at ns resolution (live threads only) and how often they ran.
    ns = switches = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            ns += int(read(f"/proc/{pid}/task/{tid}/schedstat").split()[0])
            for line in read(f"/proc/{pid}/task/{tid}/status").splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    switches += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    s["cpu_ns_sched"] = ns
    s["ctxt_switches"] = switches
    return s


def fmt_ratio(a, b):
    if b == 0:
        return "-" if a == 0 else "inf"
    return f"{a / b:.2f}"


def report(start, end, regs, meta, out):
    procs = ["agent", "baresip"]
    win = {p: end[p]["t_mono"] - start[p]["t_mono"] for p in procs}
    res = {"meta": meta, "registrations": regs, "start": start, "end": end, "metrics": {}}
    rows = [  # (key, label, value(p), format)
        ("rss_kb", "RSS end of window [KiB]", lambda p: end[p]["rss_kb"], "{:.0f}"),
        ("pss_kb", "PSS end of window [KiB]", lambda p: end[p]["pss_kb"], "{:.0f}"),
        ("private_kb", "private (clean+dirty) [KiB]", lambda p: end[p]["private_kb"], "{:.0f}"),
        ("rss_growth_kb", "RSS growth over window [KiB]", lambda p: end[p]["rss_kb"] - start[p]["rss_kb"], "{:.0f}"),
        ("cpu_s_window", "CPU s in window (utime+stime, 10 ms ticks)", lambda p: end[p]["cpu_s"] - start[p]["cpu_s"], "{:.2f}"),
        ("cpu_ms_window_sched", "CPU ms in window (schedstat, ns res.)", lambda p: (end[p]["cpu_ns_sched"] - start[p]["cpu_ns_sched"]) / 1e6, "{:.3f}"),
        ("cpu_s_total", "CPU s since start (utime+stime)", lambda p: end[p]["cpu_s"], "{:.2f}"),
        ("cpu_ms_total_sched", "CPU ms since start (schedstat)", lambda p: end[p]["cpu_ns_sched"] / 1e6, "{:.3f}"),
        ("wakeups_window", "context switches in window", lambda p: end[p]["ctxt_switches"] - start[p]["ctxt_switches"], "{:.0f}"),
        ("threads", "threads", lambda p: end[p]["threads"], "{:.0f}"),
    ]
    table = [("metric", "agent", "baresip", "ratio")]
    for key, label, val, f in rows:
        a, b = val("agent"), val("baresip")
        res["metrics"][key] = {"agent": a, "baresip": b, "ratio": (a / b) if b else None}
        table.append((label, f.format(a), f.format(b), fmt_ratio(a, b)))
    m = res["metrics"]
    res["verdict"] = {
        "pss_below_baresip": m["pss_kb"]["agent"] < m["pss_kb"]["baresip"],
        "rss_below_baresip": m["rss_kb"]["agent"] < m["rss_kb"]["baresip"],
        # utime+stime count 10 ms ticks and usually read 0 for both when idle;
        # schedstat (ns) tells the two apart
        "cpu_ticks_window_not_above_baresip": m["cpu_s_window"]["agent"] <= m["cpu_s_window"]["baresip"],
        "cpu_ns_window_below_baresip": m["cpu_ms_window_sched"]["agent"] < m["cpu_ms_window_sched"]["baresip"],
    }
    res["window_s"] = win
    w = [max(len(r[i]) for r in table) for i in range(4)]
    print(f"idle window {win['agent']:.1f} s, {meta.get('date')}, load average {meta.get('loadavg')}")
    print("| " + " | ".join(table[0][i].ljust(w[i]) for i in range(4)) + " |")
    print("|" + "|".join("-" * (w[i] + 2) for i in range(4)) + "|")
    for r in table[1:]:
        print("| " + r[0].ljust(w[0]) + " | " + " | ".join(r[i].rjust(w[i]) for i in range(1, 4)) + " |")
    print("ratio = agent / baresip;", ", ".join(f"{k}={v}" for k, v in res["verdict"].items()))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(res, fh, indent=1)
    print(f"JSON: {out}")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "ports":
        print(" ".join(map(str, free_ports(int(argv[2])))))
    elif cmd == "wait-tcp":
        return 0 if wait_tcp(int(argv[2]), float(argv[3])) else 1
    elif cmd == "registered":
        ok, recs = wait_registered(argv[2], argv[3], float(argv[4]), argv[5:])
        print(json.dumps(recs))
        return 0 if ok else 1
    elif cmd == "sample":
        out = {}
        for arg in argv[2:]:
            name, _, pid = arg.partition("=")
            out[name] = sample(int(pid))
        print(json.dumps(out))
    elif cmd == "report":
        load = lambda p: json.loads(read(p))
        report(load(argv[2]), load(argv[3]), load(argv[4]), load(argv[5]), argv[6])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
