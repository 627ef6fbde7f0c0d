"""System calls per thread over a window (`perf stat` on the syscalls:sys_enter_*
tracepoints): counts that the machine's load does not move, unlike CPU time,
so two relays measured at the same packet rate compare even on a busy host."""

import os
import subprocess
import time

from proc_counts import stop_perf

PERF = ["perf", "stat", "-x,", "--per-thread", "-e", "syscalls:sys_enter_*"]


class SyscallWindow:
    """`perf stat` attached to `pid` from now until `done()`; None from
    `done()` when perf is missing or refused (not root, no tracefs)."""

    def __init__(self, pid, out):
        self.out, self.t0 = out, time.time()
        try:
            self.proc = subprocess.Popen(PERF + ["-p", str(pid), "-o", out],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError:
            self.proc = None

    def done(self, threads=None):
        """{"seconds", "by_kind": {syscall: count}} summed over the threads
        whose name is in `threads` (all when None)."""
        if self.proc is None:
            return None
        wall = time.time() - self.t0
        if not stop_perf(self.proc):
            return None
        by_kind = parse(self.out, threads)
        try:
            os.unlink(self.out)
        except OSError:
            pass
        return {"seconds": round(wall, 3), "by_kind": by_kind} if by_kind else None


def parse(path, threads):
    """Counts per syscall from perf's CSV (`comm-tid,count,,event,...`)."""
    by_kind = {}
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return {}
    for line in lines:
        f = line.split(",")
        if len(f) < 4 or not f[1].isdigit() or not f[3].startswith("syscalls:sys_enter_"):
            continue
        comm = f[0].rsplit("-", 1)[0]
        if threads is not None and comm not in threads:
            continue
        kind = f[3][len("syscalls:sys_enter_"):]
        by_kind[kind] = by_kind.get(kind, 0) + int(f[1])
    return {k: v for k, v in by_kind.items() if v > 0}


def per_packet(window, pps):
    """Syscalls per relayed packet by kind (and "all"), given the packets/s
    relayed over the same window; kinds under 0.01 per packet are left out."""
    if not window or not pps:
        return None
    packets = pps * window["seconds"]
    res = {k: round(v / packets, 3) for k, v in sorted(window["by_kind"].items(), key=lambda kv: -kv[1])
           if v / packets >= 0.01}
    res["all"] = round(sum(window["by_kind"].values()) / packets, 3)
    return res
