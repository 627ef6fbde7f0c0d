#!/usr/bin/env python3
"""Where the memory of held idle TCP flows goes (issue 17 item 3): PSS of a
switch holding N flows, split into what a bare connection costs and what a
registration on it adds. Sizes, not times: a loaded machine gives the same answer.

Provisions N numbers, starts the switch on 127.0.0.1:PORT, and measures its
PSS (/proc/PID/smaps_rollup) three times:
  fresh      listening, nothing connected;
  connected  N TCP connections, each having sent one OPTIONS (answered), idle:
             the transport's connection, its task, what a finished
             transaction leaves;
  registered the same N connections after REGISTER → 401 → REGISTER with
             digest (MD5) → 200 on each: the binding and the digest state.
Per flow = the difference ÷ N. With --malloc-stats, glibc's malloc_stats()
(arenas: system bytes vs in use) is printed into the switch's log through gdb
at each point. With --heaptrack FILE the switch runs under heaptrack and is
killed (SIGKILL) while the flows are held, so what heaptrack calls "leaked"
is what was live then; it is printed by allocation site (the deepest switch or
sipcore frame of each stack and the call below it), in bytes per flow. Those
figures include the fresh switch's own (the subscriber snapshot, the DNS view:
per provisioned number, not per flow), and are requested sizes: malloc adds
8-16 bytes per block.

    scripts/bench/lib/held_memory.py target/release/switch [--flows 2000] [--heaptrack /tmp/h.zst]
"""
import argparse
import collections
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from idle_flows import REALM, provisioned_switch, read_response, register, stop_switch  # noqa: E402


def pss_kb(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    raise RuntimeError("no Pss in smaps_rollup")


def regions_kb(pid):
    """PSS by kind of mapping: the heap, anonymous mappings (other malloc
    arenas, thread stacks, big allocations), the binary and libraries."""
    out, kind = {}, "?"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if len(head) >= 5 and "-" in head[0] and ":" in head[3]:
                path = head[5] if len(head) > 5 else ""
                kind = "[heap]" if path == "[heap]" else ("anon" if path == "" else
                                                          ("[stack]" if path == "[stack]" else "files"))
            elif head and head[0] == "Pss:":
                out[kind] = out.get(kind, 0) + int(head[1])
    return out


def switch_pid(proc, binary):
    """The switch itself: the child process, or under heaptrack its descendant."""
    exe = os.path.realpath(binary)
    deadline = time.time() + 30
    while time.time() < deadline:
        todo = [proc.pid]
        while todo:
            p = todo.pop()
            try:
                if os.path.realpath(f"/proc/{p}/exe") == exe:
                    return p
                with open(f"/proc/{p}/task/{p}/children") as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
        time.sleep(0.1)
    raise RuntimeError("switch process not found")


def options(sock, port, i):
    sock.sendall((f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.2:5999;branch=z9hG4bKo{i};rport\r\n"
                  f"Max-Forwards: 70\r\nFrom: <sip:probe@{REALM}>;tag=o{i}\r\nTo: <sip:127.0.0.1:{port}>\r\n"
                  f"Call-ID: o{i}@127.0.0.2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode())
    head, _ = read_response(sock, b"")
    if " 200 " not in head.split("\r\n")[0]:
        raise RuntimeError(f"OPTIONS {i}: {head.splitlines()[0]}")


OURS = re.compile(r"(^|[ <])(switch|sipcore)::")


def live_by_site(data, n, top=30):
    """heaptrack's "leaked" bytes (live at the kill) by allocation site, per flow."""
    folded = data + ".folded"
    subprocess.run(["heaptrack_print", "--flamegraph-cost-type", "leaked", "-F", folded, data],
                   check=True, capture_output=True, timeout=600)
    stacks = []
    with open(folded) as f:
        for line in f:
            stack, _, cost = line.rstrip().rpartition(" ")
            stacks.append(([fr.rsplit(" (", 1)[0] for fr in stack.split(";")], int(cost)))
    names = sorted({fr for frames, _ in stacks for fr in frames})
    plain = subprocess.run(["c++filt", "--format=rust"], input="\n".join(names), capture_output=True,
                           text=True).stdout.split("\n")
    legacy = {"$LT$": "<", "$GT$": ">", "$u20$": " ", "$C$": ",", "$u7b$": "{", "$u7d$": "}", "..": "::"}

    def tidy(name):
        name = re.sub(r"::h[0-9a-f]{16}$", "", name)
        for k, v in legacy.items():
            name = name.replace(k, v)
        return name
    demangled = {m: tidy(d) for m, d in zip(names, plain)}
    sites = collections.Counter()
    for frames, cost in stacks:
        frames = [demangled.get(fr, fr) for fr in frames]
        ours = [i for i, fr in enumerate(frames) if OURS.search(fr)]
        if ours:
            i = ours[-1]
            below = frames[i + 1] if i + 1 < len(frames) else ""
            sites[f"{frames[i]}  ->  {below[:80]}"] += cost
        else:
            sites["(outside switch/sipcore frames)"] += cost
    os.remove(folded)
    print(f"live heap at the kill, by allocation site: {sum(sites.values()) / n:.0f} B per flow in all")
    for site, cost in sites.most_common(top):
        print(f"{cost / n:8.0f} B/flow  {site[:200]}")


def settle(pid, label, malloc_stats):
    """Lets the switch finish what the last request started, then measures."""
    time.sleep(2)
    if malloc_stats:
        subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "call (void)malloc_stats()"],
                       capture_output=True, timeout=120)
    pss = pss_kb(pid)
    print(f"{label:<11} PSS {pss:>7} kB  {regions_kb(pid)}", flush=True)
    return pss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("switch")
    ap.add_argument("--flows", type=int, default=2000)
    ap.add_argument("--port", type=int, default=25091)
    ap.add_argument("--heaptrack", metavar="FILE", help="run under heaptrack, output FILE (.zst)")
    ap.add_argument("--malloc-stats", action="store_true", help="glibc malloc_stats() into the log via gdb")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (switch log)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2 * args.flows + 500)), hard))
    work = tempfile.mkdtemp(prefix="held-memory-")
    proc = None
    socks = []
    try:
        prefix = ["heaptrack", "-o", args.heaptrack.removesuffix(".zst")] if args.heaptrack else []
        proc, users = provisioned_switch(args.switch, work, args.flows, args.port, prefix)
        pid = switch_pid(proc, args.switch)
        fresh = settle(pid, "fresh", args.malloc_stats)
        for i in range(args.flows):
            s = socket.create_connection(("127.0.0.1", args.port), timeout=30)
            options(s, args.port, i)
            socks.append(s)
        connected = settle(pid, "connected", args.malloc_stats)
        for s, (user, password) in zip(socks, users):
            register(s, args.port, user, password, s.getsockname()[1])
        registered = settle(pid, "registered", args.malloc_stats)
        n = len(socks)
        conn = (connected - fresh) * 1024 / n
        reg = (registered - connected) * 1024 / n
        print(f"per flow, {n} flows: connection {conn:.0f} B + registration {reg:.0f} B = {conn + reg:.0f} B PSS")
        if args.heaptrack:
            os.kill(pid, signal.SIGKILL)
            proc.wait(timeout=300)
            live_by_site(args.heaptrack, n)
        if args.keep:
            print(f"work dir kept: {work}")
    finally:
        for s in socks:
            s.close()
        stop_switch(proc)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
