"""Load-independent counts over a window for a set of processes (issue 17):
syscalls by kind, context switches and CPU time, per thread name, from
`perf stat` (kernel tracepoints and software events, so they work in a VM
without hardware counters). A busy machine changes how long things take,
not how many syscalls or wakeups a REGISTER costs; divide by the work done
in the same window for a per-operation figure.

    w = CountWindow(pids); ...; counts = w.done()   # {"total": {...}, "threads": {name: {...}}}
"""

import os
import re
import signal
import subprocess
import tempfile

# The syscalls a request path can spend; everything else is in "other".
SYSCALLS = ("read", "recvfrom", "write", "writev", "sendto", "sendmsg", "epoll_wait", "epoll_pwait", "futex",
            "fcntl", "pwrite64", "pread64", "fsync", "fdatasync", "accept4", "sched_yield", "madvise", "mmap",
            "munmap")
EVENTS = ["raw_syscalls:sys_enter", "context-switches", "task-clock"] + [f"syscalls:sys_enter_{s}" for s in SYSCALLS]


def thread_names(pids):
    names = {}
    for pid in pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    names[tid] = f.read().strip()
        except OSError:
            pass
    return names


def short(event):
    return {"raw_syscalls:sys_enter": "syscalls", "context-switches": "cs", "task-clock": "cpu_ms"}.get(
        event, event.replace("syscalls:sys_enter_", ""))


class CountWindow:
    """`perf stat --per-thread` attached to `pids` from now until `done()`."""

    def __init__(self, pids):
        self.pids = [str(p) for p in pids]
        self.names = thread_names(self.pids)
        self.out = tempfile.NamedTemporaryFile(prefix="perf-stat-", suffix=".csv", delete=False).name
        self.proc = subprocess.Popen(
            ["perf", "stat", "--per-thread", "-x", ",", "-o", self.out, "-e", ",".join(EVENTS),
             "-p", ",".join(self.pids)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def done(self):
        stop_perf(self.proc)
        self.names.update(thread_names(self.pids))
        with open(self.out) as f:
            text = f.read()
        os.unlink(self.out)
        return parse(text, self.names)


def stop_perf(proc):
    """Stops a `perf stat` child, which writes its counts on SIGINT; True when it
    did so in time (it is killed otherwise, its file then incomplete)."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def parse(text, names):
    """perf's per-thread CSV: `comm-tid,value,unit,event,...`; threads grouped by name."""
    threads, total = {}, {}
    for line in text.splitlines():
        cols = line.split(",")
        if len(cols) < 4 or line.startswith("#"):
            continue
        m = re.match(r"^(.*)-(\d+)$", cols[0].strip())
        if not m:
            continue
        try:
            value = float(cols[1])
        except ValueError:
            continue
        name = names.get(m.group(2), m.group(1))
        # one tokio runtime's workers are one pool: their sum is the figure
        name = re.sub(r"[-\d]+$", "", name) or name
        key = short(cols[3].strip())
        threads.setdefault(name, {}).setdefault(key, 0.0)
        threads[name][key] += value
        total[key] = total.get(key, 0.0) + value
    return {"total": total, "threads": threads}


def per_op(counts, ops):
    """Every count divided by `ops` (2 decimals); CPU as microseconds per op."""
    if not ops:
        return None

    def div(d):
        return {("cpu_us" if k == "cpu_ms" else k): round(v * (1000.0 if k == "cpu_ms" else 1.0) / ops, 2)
                for k, v in sorted(d.items()) if v}

    return {"total": div(counts["total"]), "threads": {n: div(d) for n, d in sorted(counts["threads"].items())}}


def fmt(per):
    """One log line: the totals, then each thread's syscalls and context switches."""
    t = per["total"]
    head = " ".join(f"{k}={t[k]}" for k in ("syscalls", "cs", "cpu_us") if k in t)
    kinds = " ".join(f"{k}={v}" for k, v in t.items() if k not in ("syscalls", "cs", "cpu_us") and v >= 0.05)
    threads = "; ".join(f"{n}: sys={d.get('syscalls', 0)} cs={d.get('cs', 0)}" for n, d in per["threads"].items())
    return f"{head} | {kinds} | {threads}"
