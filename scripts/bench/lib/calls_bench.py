#!/usr/bin/env python3
"""Calls benchmark: our switch (B2BUA + relay) side by side with Kamailio 5.6 +
rtpengine (userspace), driven by SIPp and lib/relay_probe.py, loopback
(127.0.0.0/8) only.  Invoked by ../calls.sh.

Two measurements, each for both stacks in one run, interleaved run by run
(A/B, then B/A, ...) so both see the same machine:

  calls  calls/s with RTP both ways (the anchors' measurement 3b): the callee
         is one SIPp registered (digest) over its own TCP connection from a
         NATed address, answering INVITEs that come down that connection
         (reg_tcp_auth.xml + -oocsf uas_answer_ooc.xml) and echoing RTP
         (-rtp_echo); the caller is one SIPp (uac_call_rtp.xml, one TCP
         connection) playing g711a.pcap (236 packets of 30 ms) after the ACK,
         calls held BENCH_CALLS_HOLD_MS (7600).  Open-loop rate ladder; a step
         passes with < 1 % failed calls, >= 95 % of the offered rate achieved
         and SIPp's p99 setup-time bucket (INVITE -> 200) <= BENCH_P99_SLO_MS.
         Max sustained = highest passing rate (ladder to the first failure,
         then BENCH_CALLS_REFINE_STEPS bisections).  Fresh stack and callee
         per step.  Also: concurrent calls at that rate (SIPp), RTP packets
         relayed per call (rtpengine totals; switch `calls --json` per-leg
         packets_out; 472 = nothing lost), CPU of each process.
  relay  relay transit and packets/s per core: both stacks run at once;
         relay_probe.py sets up BENCH_RELAY_STREAMS calls through each (SIP
         over TCP), then relay-transit (Rust) sends timestamped RTP (172-byte
         PCMA packets, 50/s each way per stream) through rtpengine, the
         switch's relay and straight over loopback, interleaved packet by
         packet, one clock: p50/p99/p99.9 of transit side by side and the
         switch/rtpengine ratio of each from the same run.  Relay CPU over the
         measurement (the switch's `relay` threads; rtpengine's process).
         BENCH_RELAY_REGISTER_RATE > 0 adds the contention case: SIPp
         refreshes registrations at that rate on each SIP server meanwhile.

Every process is started here as a child, tracked by PID and stopped by PID
(also on SIGINT/SIGTERM).  Every SIPp / probe run is bounded by a call count,
its own timeout and a subprocess timeout.
"""

import json
import os
import re
import subprocess
import sys
import time

import benchlib as B
from syscalls import SyscallWindow, per_packet
from benchlib import CpuWindow, both, env, fnum, ladder, log, med, mem_kb, ratio, sleep_until, spawn, stop, summarize, tree

OUT = B.OUT
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(OUT, "results.json"))
PCAP = "/usr/share/sip-tester/g711a.pcap"
PCAP_PACKETS = 236          # RTP packets in g711a.pcap (7.05 s, 30 ms each)
CALLEE = ("callee", "pwcallee")
PROBE_CALLER_IP, PROBE_CALLEE_IP = "127.0.0.5", "127.0.0.6"


def port_range(name, default):
    lo, hi = env(name, default).split("-")
    return int(lo), int(hi)


CFG = {
    "runs": env("BENCH_RUNS", 3),
    "targets": [t for t in env("BENCH_TARGETS", "switch,kamailio").split(",") if t],
    "kam_port": env("BENCH_KAM_PORT", 25060),
    "switch_port": env("BENCH_SWITCH_PORT", 25070),
    "rtpe_ng_port": env("BENCH_RTPE_NG_PORT", 25223),
    "rtpe_cli_port": env("BENCH_RTPE_CLI_PORT", 25224),
    "rtpe_ports": port_range("BENCH_RTPE_PORTS", "10000-14999"),
    "switch_relay_ports": port_range("BENCH_SWITCH_RELAY_PORTS", "15000-19999"),
    "switch_bin": env("BENCH_SWITCH_BIN", os.path.join(B.REPO, "target", "release", "switch")),
    "switch_digest_algorithms": env("BENCH_SWITCH_DIGEST_ALGORITHMS", "md5"),
    "switch_max_conns_per_ip": env("BENCH_SWITCH_MAX_CONNS_PER_IP", 16384),
    # extra TOML appended to the switch's --config (key names follow the switch)
    "switch_extra_toml": env("BENCH_SWITCH_EXTRA_TOML", ""),
    # as many forwarding threads as rtpengine's num-threads (conf/rtpengine.conf: 2), so
    # that on a shared CPU neither relay gets a larger share by having more threads
    "switch_relay_threads": env("BENCH_SWITCH_RELAY_THREADS", 2),
    "kchildren": env("BENCH_KCHILDREN", 4),
    "ktcpchildren": env("BENCH_KTCPCHILDREN", 4),
    "tcp_rd_buf": env("BENCH_TCP_RD_BUF", 16384),
    "p99_slo_ms": env("BENCH_P99_SLO_MS", 200),
    # calls
    "calls_ladder": ladder("BENCH_CALLS_LADDER", "25,50,75,100,125,150,200,250,300"),
    "calls_step_s": env("BENCH_CALLS_STEP_S", 8.0),
    "calls_hold_ms": env("BENCH_CALLS_HOLD_MS", 7600),
    "calls_refine_steps": env("BENCH_CALLS_REFINE_STEPS", 1),
    "calls_ref_rate": env("BENCH_CALLS_REF_RATE", 50),
    # relay
    "relay_streams": ladder("BENCH_RELAY_STREAMS", "50,150"),
    # >= 10^5 packets per relay and point: 50 streams x 100 pps x 20 s counted
    "relay_seconds": env("BENCH_RELAY_SECONDS", 21.0),
    # the contention case: REGISTER/s from SIPp on each SIP server during the relay measurement (0: off)
    "relay_register_rate": env("BENCH_RELAY_REGISTER_RATE", 0),
    # then each relay alone, flat out from one probe thread, this many seconds (0: no flood)
    "relay_flood_s": env("BENCH_RELAY_FLOOD_S", 5.0),
    "relay_register_users": env("BENCH_RELAY_REGISTER_USERS", 1000),
    # SCHED_FIFO priority of the probe (0: normal): its stamps then wait for no other process
    "transit_rt_priority": env("BENCH_TRANSIT_RT_PRIORITY", 10),
    "transit_bin": env("BENCH_TRANSIT_BIN", os.path.join(B.REPO, "target", "release", "relay-transit")),
    "relay_warmup_s": env("BENCH_RELAY_WARMUP_S", 1.0),
    # count each relay's system calls over the interleaved window (perf stat on the
    # syscalls tracepoints): per relayed packet, a figure the host's load does not move.
    # Off by default: the tracepoints cost each relay a little per call, CPU rows included
    "relay_syscalls": env("BENCH_RELAY_SYSCALLS", 0),
    # where the SIPp callee's SDP says its RTP goes: "private" = the unreachable
    # 127.0.0.2 (anchors' far-end NAT model: the relay must send to the flow's
    # source IP, since -rtp_echo never sends first); "flow" = the callee's own
    # reachable address (for a relay that only uses the SDP address)
    "callee_sdp": env("BENCH_CALLEE_SDP", "private"),
}
if CFG["callee_sdp"] not in ("private", "flow"):
    raise SystemExit("BENCH_CALLEE_SDP must be private or flow")
for _t in ("switch", "kamailio"):
    CFG[f"calls_ladder_{_t}"] = ladder(f"BENCH_CALLS_LADDER_{_t.upper()}", ",".join(map(str, CFG["calls_ladder"])))
ONLY = [x for x in env("BENCH_ONLY", "calls,relay").split(",") if x]
RTPE_CLI = ["rtpengine-ctl", "-ip", "127.0.0.1", "-port", str(CFG["rtpe_cli_port"])]


# ----------------------------------------------------------------------------
# the two stacks: same interface (start/stop, SIP port, processes, relay)
# ----------------------------------------------------------------------------
class KamailioRtpengine:
    name = "kamailio"
    label = "kamailio+rtpengine"
    relay = "rtpengine"

    def __init__(self):
        self.kam = B.Kamailio(CFG["kam_port"], CFG["kchildren"], CFG["ktcpchildren"], CFG["tcp_rd_buf"],
                              defines=["WITH_RTPENGINE", "WITH_PORTLESS_ALIAS", f'RTPE_SOCK="udp:127.0.0.1:{CFG["rtpe_ng_port"]}"'])
        self.port = self.kam.port
        self.procs = ["kamailio", "rtpengine"]
        self.caller_auth = None

    def start(self, tag):
        lo, hi = CFG["rtpe_ports"]
        argv = ["rtpengine", "--config-file", os.path.join(B.CONF, "rtpengine.conf"),
                "--listen-ng", f"127.0.0.1:{CFG['rtpe_ng_port']}", "--listen-cli", f"127.0.0.1:{CFG['rtpe_cli_port']}",
                "--port-min", str(lo), "--port-max", str(hi),
                "--foreground", "--log-stderr", "--pidfile", os.path.join(OUT, "rtpengine.pid")]
        p = spawn("rtpengine", argv, os.path.join(OUT, "logs", f"rtpengine-{tag}.log"))
        deadline = time.time() + 10
        while True:
            if p.poll() is not None:
                raise RuntimeError(f"rtpengine exited rc={p.returncode}, see logs/rtpengine-{tag}.log")
            r = subprocess.run(RTPE_CLI + ["list", "numsessions"], capture_output=True, text=True, timeout=5)
            if r.returncode == 0 and "session" in r.stdout.lower():
                break
            if time.time() > deadline:
                raise RuntimeError("rtpengine did not come up")
            time.sleep(0.2)
        self.kam.start(tag)

    def stop(self):
        self.kam.stop()
        stop("rtpengine")

    def totals(self):
        """Relayed packets so far (rtpengine counts each forwarded packet)."""
        r = subprocess.run(RTPE_CLI + ["list", "totals"], capture_output=True, text=True, timeout=5)
        m = re.search(r"Total relayed packets\s*:\s*(\d+)", r.stdout)
        e = re.search(r"Total relayed packet errors\s*:\s*(\d+)", r.stdout)
        return {"packets": int(m.group(1)) if m else None, "errors": int(e.group(1)) if e else None}

    def relayed_packets(self, t0, t1):
        if t0["packets"] is None or t1["packets"] is None:
            return None
        return t1["packets"] - t0["packets"]

    def sessions(self):
        r = subprocess.run(RTPE_CLI + ["list", "numsessions"], capture_output=True, text=True, timeout=5)
        m = re.search(r"Current sessions own:\s*(\d+)", r.stdout) or re.search(r"(\d+)", r.stdout)
        return int(m.group(1)) if m else None

    def log_problems(self):
        return self.kam.log_problems()

    def thread_window(self):
        return None      # rtpengine and Kamailio are measured per process

    def relay_cpu(self, cpu, threads):
        """rtpengine's CPU [% of a core] over the window."""
        return cpu.get("rtpengine_cpu_pct") if cpu else None

    def syscall_window(self, out):
        """rtpengine's system calls, every thread (as its CPU is the process's)."""
        return SyscallWindow(B.PROCS["rtpengine"][0].pid, out) if "rtpengine" in B.PROCS else None

    syscall_threads = None


def sum_key(obj, key):
    """Sum of every `key` value anywhere in a JSON document."""
    if isinstance(obj, dict):
        return sum((v if k == key and isinstance(v, (int, float)) else sum_key(v, key)) for k, v in obj.items())
    if isinstance(obj, list):
        return sum(sum_key(v, key) for v in obj)
    return 0


class SwitchStack:
    name = "switch"
    label = "switch"
    relay = "switch"

    def __init__(self, template):
        lo, hi = CFG["switch_relay_ports"]
        # SIPp callers bind 127.0.0.10-249 (a fresh one per run, TIME_WAIT) and
        # the probe's caller 127.0.0.5: all trusted peers, the equivalent of
        # Kamailio's config, which never challenges an INVITE.
        peers = [f"127.0.0.{B.SRC_FIRST + i}" for i in range(B.SRC_COUNT)] + [PROBE_CALLER_IP]
        self.config = os.path.join(OUT, "switch-calls.toml")
        with open(self.config, "w") as f:
            f.write("# written by scripts/bench/lib/calls_bench.py\n"
                    "relay_address = \"127.0.0.1\"\n\n[calls]\n"
                    f"relay_ports = \"{lo}-{hi}\"\n"
                    f"relay_threads = {CFG['switch_relay_threads']}\n"
                    "trusted_peers = [" + ", ".join(f'"{p}"' for p in peers) + "]\n")
            if CFG["switch_extra_toml"]:
                f.write(CFG["switch_extra_toml"].replace("\\n", "\n") + "\n")
        self.sw = B.Switch(CFG["switch_bin"], CFG["switch_port"], template, CFG["switch_max_conns_per_ip"],
                           CFG["switch_digest_algorithms"], extra_args=["--config", self.config],
                           log_level=env("BENCH_SWITCH_LOG", "warn"))
        self.port = self.sw.port
        self.procs = ["switch"]
        self.caller_auth = None

    def start(self, tag):
        self.sw.start(tag)

    def stop(self):
        self.sw.stop()

    def totals(self):
        return None     # per-call counters, read from the records after the step

    def relayed_packets(self, t0, t1):
        """packets_out summed over both legs of every call record (`switch
        calls --json`), the same count as rtpengine's relayed packets."""
        recs = self.sw.cli_json("calls")
        if recs is None:
            return None
        return sum_key(recs, "packets_out")

    def sessions(self):
        """Calls in progress: records without an end (`switch calls --json`)."""
        recs = self.sw.cli_json("calls")
        if not isinstance(recs, list):
            return None
        return sum(1 for r in recs if isinstance(r, dict) and r.get("end_at") is None)

    def log_problems(self):
        return self.sw.log_problems()

    def thread_window(self):
        """Per-thread CPU of the switch: which of its threads (SIP, relay)
        does the work, and whether they waited for a CPU."""
        return B.ThreadWindow(B.PROCS["switch"][0].pid) if "switch" in B.PROCS else None

    def relay_cpu(self, cpu, threads):
        """The relay threads' CPU (named `relay`; TCP legs and SIP are elsewhere),
        else the whole process's."""
        relay = (threads or {}).get("relay")
        if relay:
            return relay["cpu_pct"]
        return cpu.get("switch_cpu_pct") if cpu else None

    def syscall_window(self, out):
        """The switch's system calls; only its relay threads' are counted (as their CPU is)."""
        return SyscallWindow(B.PROCS["switch"][0].pid, out) if "switch" in B.PROCS else None

    syscall_threads = ("relay",)


# ----------------------------------------------------------------------------
# calls: calls/s with RTP both ways
# ----------------------------------------------------------------------------
def call_step(stack, label, rate):
    hold_ms = CFG["calls_hold_ms"]
    D = CFG["calls_step_s"]
    hold_s = hold_ms / 1000.0
    n = int(round(rate * (hold_s + D)))
    tag = B.next_tag(f"{label}-r{rate}")
    extra = ["-s", CALLEE[0], "-r", str(rate), "-rp", "1000", "-m", str(n),
             "-l", str(max(1000, int(rate * (hold_s + 10) * 3))), "-d", str(hold_ms),
             "-mp", "6100", "-key", "pcap", PCAP]
    timeout = hold_s + D + 60
    argv, base = B.sipp_argv(tag, stack.port, "uac_call_rtp.xml", extra, timeout, transport="t1")
    tot0 = stack.totals()
    sname = "sipp-" + tag
    t0 = time.time()
    p = spawn(sname, argv, base + ".out")
    # steady window: after the first calls end (concurrency plateau) until the
    # last call has been started
    w_lo, w_hi = hold_s + 0.5, hold_s + D - 0.2
    sleep_until(t0 + w_lo)
    win = CpuWindow(stack.procs + ["callee", sname])
    twin = stack.thread_window()
    sleep_until(t0 + (w_lo + w_hi) / 2)
    mem = {pn: mem_kb(tree(pn)) for pn in stack.procs if pn in B.PROCS}
    sessions = stack.sessions()
    sleep_until(t0 + w_hi)
    cpu = win.done()
    threads = twin.done() if twin else None
    try:
        p.wait(timeout=timeout + 10)
    except subprocess.TimeoutExpired:
        log(f"  sipp {tag} overran; stopping")
    stop(sname)
    time.sleep(0.5)                 # last BYEs through the relay's accounting
    tot1 = stack.totals()
    st = B.sipp_stats(base)
    ticks = B.sipp_ticks(base, "CALLOK")
    # CPS = calls completed per second in the window shifted by the hold time
    achieved = B.rate_in_window(ticks, (w_lo + hold_s) * 1000, (w_hi + hold_s) * 1000)
    failed = st.get("failed", 0)
    total = st.get("successful", 0) + failed
    fail_pct = 100.0 * failed / max(1, total)
    ok = B.passes(fail_pct, achieved, rate, st, CFG["p99_slo_ms"])
    trips, errs = B.sipp_errors(base)
    pk = stack.relayed_packets(tot0, tot1)
    res = {"rate": rate, "achieved_cps": round(achieved, 1), "calls_ok": st.get("successful"),
           "failed": failed, "fail_pct": round(fail_pct, 3), "pass": ok,
           "max_concurrent_calls": st.get("max_current_calls"), "relay_sessions_mid": sessions,
           "setup_time_mean_ms": st.get("rtd_mean_ms"), "setup_time_p50_le_ms": st.get("rtd_p50_le_ms"),
           "setup_time_p99_le_ms": st.get("rtd_p99_le_ms"), "mem": mem,
           "rtp_packets_relayed": pk,
           "rtp_packets_relayed_per_call": round(pk / max(1, total), 1) if pk is not None else None,
           "rtp_packets_expected_per_call": 2 * PCAP_PACKETS,
           "sipp_watchdog_trips": trips, "sipp_errors": errs,
           "wall_s": cpu["wall_s"], "host_busy_pct": cpu["host_busy_pct"],
           "host_busy_stat_pct": cpu["host_busy_stat_pct"],
           "caller_sipp_cpu_pct": cpu.get(sname + "_cpu_pct"), "callee_sipp_cpu_pct": cpu.get("callee_cpu_pct"),
           "server_threads": threads, "loadavg_1m": round(os.getloadavg()[0], 2)}
    for pn in stack.procs:
        res[pn + "_cpu_pct"] = cpu.get(pn + "_cpu_pct")
    res["server_cpu_pct"] = round(sum(cpu.get(pn + "_cpu_pct") or 0 for pn in stack.procs), 1)
    res["relay_cpu_pct"] = cpu.get(stack.relay + "_cpu_pct")
    per_proc = ", ".join(f"{pn} {cpu.get(pn + '_cpu_pct')}%" for pn in stack.procs)
    log(f"  {label} offered {rate} cps -> {achieved:.1f} cps ok={st.get('successful')} failed={failed} "
        f"maxconc={st.get('max_current_calls')} server_cpu={res['server_cpu_pct']}% ({per_proc}) "
        f"caller={res['caller_sipp_cpu_pct']}% callee={res['callee_sipp_cpu_pct']}% host={cpu['host_busy_stat_pct']}% "
        f"pk/call={res['rtp_packets_relayed_per_call']} t_setup mean={st.get('rtd_mean_ms')}ms "
        f"p99<={st.get('rtd_p99_le_ms')}ms {'PASS' if ok else 'FAIL'}" + (f" sipp-err: {errs[0]}" if errs else ""))
    if threads:
        log("    threads (cpu/runq-wait % of a core): " + B.fmt_threads(threads))
    return res


def measure_calls(stacks):
    def step(t, run, r):
        # fresh stack and callee for every step: an overloaded step must
        # not leave queued work (or sessions) to the next one
        stack = stacks[t]
        try:
            stack.start(f"calls{run}-r{r}")
            B.start_callee(stack.port, B.next_tag(f"{t}-calls{run}-r{r}-callee"), CALLEE,
                           sdp_ip="flow" if CFG["callee_sdp"] == "flow" else None)
            res = call_step(stack, f"{t}-calls{run}", r)
        finally:
            stop("callee")
            stack.stop()
        res["server_log_problem_lines"] = stack.log_problems()
        return res

    runs = B.ladder_runs(
        stacks, CFG["targets"], CFG["runs"],
        lambda t, run: log(f"[calls] {stacks[t].label}: calls/s with G.711 RTP both ways, run {run}"),
        step, lambda t: CFG[f"calls_ladder_{t}"], CFG["calls_refine_steps"])
    out = {}
    for t, rs in runs.items():
        best = [r["max_pass"] for r in rs]
        sb = lambda k: B.summarize_best(best, k)   # noqa: E731
        out[t] = {
            "hold_ms": CFG["calls_hold_ms"],
            "max_sustained_cps": summarize([b["rate"] if b else None for b in best]),
            "runs_where_ladder_never_failed": sum(1 for r in rs if r["ladder_exhausted"]),
            "achieved_cps_at_max": sb("achieved_cps"),
            "max_concurrent_calls_at_max": sb("max_concurrent_calls"),
            "setup_time_mean_ms_at_max": sb("setup_time_mean_ms"),
            "setup_time_p99_le_ms_at_max": sb("setup_time_p99_le_ms"),
            "rtp_packets_relayed_per_call_at_max": sb("rtp_packets_relayed_per_call"),
            "server_cpu_pct_at_max": sb("server_cpu_pct"),
            "relay_cpu_pct_at_max": sb("relay_cpu_pct"),
            "host_busy_pct_at_max": sb("host_busy_stat_pct"),
            "caller_sipp_cpu_pct_at_max": sb("caller_sipp_cpu_pct"),
            "ref_rate": CFG["calls_ref_rate"],
            "server_cpu_pct_at_ref_rate": B.at_rate(rs, CFG["calls_ref_rate"], "server_cpu_pct"),
            "relay_cpu_pct_at_ref_rate": B.at_rate(rs, CFG["calls_ref_rate"], "relay_cpu_pct"),
            "rtp_packets_relayed_per_call_at_ref_rate": B.at_rate(rs, CFG["calls_ref_rate"], "rtp_packets_relayed_per_call"),
            "runs": rs,
        }
    return out


# ----------------------------------------------------------------------------
# relay: packets/s and added latency, relay_probe.py
# ----------------------------------------------------------------------------
def wait_log_line(name, path, needle, secs):
    deadline = time.time() + secs
    p = B.PROCS[name][0]
    while time.time() < deadline:
        try:
            with open(path, errors="replace") as f:
                if needle in f.read():
                    return True
        except OSError:
            pass
        if p.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def register_load(stack, tag):
    """The contention case: SIPp refreshing BENCH_RELAY_REGISTER_USERS
    registrations (digest, own TCP flows) at BENCH_RELAY_REGISTER_RATE/s on
    `stack`'s SIP server for the whole relay measurement; None when off."""
    rate, n = CFG["relay_register_rate"], CFG["relay_register_users"]
    if rate <= 0:
        return None
    csv = os.path.join(OUT, "register-users.csv")
    B.write_users_csv(csv, B.users(n))
    period_ms = int(round(n * 1000.0 / rate))
    life_s = 600
    extra = ["-inf", csv, "-m", str(n), "-r", str(rate), "-rp", "1000", "-l", str(n + 10), "-d", "0", "-nd",
             "-set", "end_at", f"{time.time() + life_s:.3f}", "-set", "period_ms", str(period_ms)]
    argv, base = B.sipp_argv(tag, stack.port, "reg_tcp_auth.xml", extra, life_s + 30, errlog=False)
    name = f"regload-{stack.name}"
    spawn(name, argv, base + ".out")
    return name, base


def relay_once(stacks, run, streams):
    """One probe run through every stack at once (relay-transit interleaves the
    relays packet by packet), rtpengine's lane first: each switch ratio is
    switch / rtpengine."""
    order = [t for t in ("kamailio", "switch") if t in stacks]
    tag = B.next_tag(f"relay{run}-n{streams}")
    js = os.path.join(OUT, "probe", tag + ".json")
    logf = os.path.join(OUT, "probe", tag + ".out")
    secs, warm = CFG["relay_seconds"], CFG["relay_warmup_s"]
    timeout = secs + 120
    argv = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "relay_probe.py"),
            "--transit", CFG["transit_bin"], "--domain", B.DOMAIN,
            "--callee", f"{CALLEE[0]}:{CALLEE[1]}", "--callee-number", CALLEE[0],
            "--caller-ip", PROBE_CALLER_IP, "--callee-ip", PROBE_CALLEE_IP,
            "--streams", str(streams), "--seconds", str(secs), "--warmup", str(warm),
            "--timeout", str(int(timeout)), "--json", js, "--rt-priority", str(CFG["transit_rt_priority"]),
            "--flood", str(CFG["relay_flood_s"])]
    for t in order:
        argv += ["--server", f"{stacks[t].relay}={B.HOST}:{stacks[t].port}"]
        if stacks[t].caller_auth:
            argv += ["--caller-auth", f"{stacks[t].relay}={stacks[t].caller_auth}"]
    loads = []
    try:
        for t in order:
            stacks[t].start(f"relay{run}-n{streams}")
        loads = [x for x in (register_load(stacks[t], B.next_tag(f"{t}-regload{run}-n{streams}")) for t in order) if x]
        name = "probe-" + tag
        spawn(name, argv, logf)
        cpu, threads, syscalls = None, {}, {}
        if wait_log_line(name, logf, "PHASE relay start", timeout):
            win = CpuWindow([p for t in order for p in stacks[t].procs] + [name] + [n for n, _ in loads])
            twins = {t: stacks[t].thread_window() for t in order}
            swins = {t: stacks[t].syscall_window(os.path.join(OUT, f"perf-{tag}-{t}.csv")) for t in order} \
                if CFG["relay_syscalls"] else {}
            wait_log_line(name, logf, "PHASE relay end", secs + 30)
            cpu = win.done()
            threads = {t: w.done() for t, w in twins.items() if w}
            syscalls = {t: w.done(stacks[t].syscall_threads) for t, w in swins.items() if w}
        floods = {t: flood_window(stacks[t], name, logf) for t in order} if CFG["relay_flood_s"] > 0 else {}
        rc = B.wait_proc(name, timeout)
    finally:
        for n, _ in loads:
            stop(n)
        for t in order:
            stacks[t].stop()
    try:
        with open(js) as f:
            res = json.load(f)
    except (OSError, ValueError):
        raise RuntimeError(f"relay probe gave no result (rc={rc}), see {logf}")
    lanes = res["transit"]["lanes"]
    out = {"streams": streams, "rc": rc, "probe": res, "cpu": cpu, "server_threads": threads,
           "register_load": [{"stack": n, **B.sipp_stats(base)} for n, base in loads] if loads else None,
           "direct": lanes.get("direct")}
    for t in order:
        lane = lanes.get(stacks[t].relay, {})
        o = {k: lane.get(k) for k in ("pps_received", "loss_pct", "p50_us", "p99_us", "p999_us", "max_us",
                                      "p50_ratio", "p99_ratio", "p999_ratio")}
        relay_cpu = stacks[t].relay_cpu(cpu, threads.get(t))
        o["relay_cpu_pct"] = relay_cpu
        if relay_cpu and lane.get("pps_received"):
            # packets/s one fully busy core would relay at this load
            o["pps_per_core"] = round(lane["pps_received"] * 100.0 / relay_cpu)
        o["syscalls_per_packet"] = per_packet(syscalls.get(t), lane.get("pps_received"))
        o["syscalls_per_packet_all"] = (o["syscalls_per_packet"] or {}).get("all")
        if o["syscalls_per_packet"]:
            log(f"  {stacks[t].label} syscalls per relayed packet: " +
                ", ".join(f"{k} {v}" for k, v in o["syscalls_per_packet"].items()))
        f = res.get("flood", {}).get(stacks[t].relay)
        if f and floods.get(t):
            o["flood_received_pps"], o["flood_loss_pct"] = f["received_pps"], f["loss_pct"]
            o["flood_relay_cpu_pct"] = floods[t]
        out[t] = o
        if f:
            log(f"  {stacks[t].label} flooded: sent {f['sent_pps']} pps, relayed {f['received_pps']} pps, "
                f"loss {f['loss_pct']}%, relay cpu {floods.get(t)}%")
        log(f"  {stacks[t].label} {streams} streams: {o['pps_received']} pps, loss {o['loss_pct']}%, transit "
            f"p50/p99/p99.9 {o['p50_us']}/{o['p99_us']}/{o['p999_us']} us, relay cpu {relay_cpu}%")
    d = lanes.get("direct") or {}
    log(f"  direct loopback: transit p50/p99/p99.9 {d.get('p50_us')}/{d.get('p99_us')}/{d.get('p999_us')} us; "
        f"host {cpu.get('host_busy_stat_pct') if cpu else None}%")
    for t, th in threads.items():
        log(f"    {t} threads (cpu/runq-wait % of a core): " + B.fmt_threads(th))
    return out


def flood_window(stack, probe, logf):
    """The relay's CPU [% of a core] while relay-transit floods it alone."""
    secs = CFG["relay_flood_s"] + 30
    if not wait_log_line(probe, logf, f"PHASE flood-{stack.relay} start", secs):
        return None
    win, twin = CpuWindow(stack.procs), stack.thread_window()
    wait_log_line(probe, logf, f"PHASE flood-{stack.relay} end", secs)
    return stack.relay_cpu(win.done(), twin.done() if twin else None)


RELAY_KEYS = ("pps_received", "loss_pct", "p50_us", "p99_us", "p999_us", "p50_ratio", "p99_ratio", "p999_ratio",
              "relay_cpu_pct", "pps_per_core", "syscalls_per_packet_all",
              "flood_received_pps", "flood_loss_pct", "flood_relay_cpu_pct")


def measure_relay(stacks):
    runs = {n: [] for n in CFG["relay_streams"]}
    for run in range(1, CFG["runs"] + 1):
        for n in CFG["relay_streams"]:
            log(f"[relay] {', '.join(stacks[t].label for t in stacks)}, interleaved: {n} streams, run {run}")
            runs[n].append(relay_once(stacks, run, n))
    out = {}
    for t in stacks:
        out[t] = {str(n): {k: summarize([r.get(t, {}).get(k) for r in rs]) for k in RELAY_KEYS}
                  for n, rs in runs.items()}
    out["direct"] = {str(n): {k: summarize([(r.get("direct") or {}).get(k) for r in rs])
                              for k in ("p50_us", "p99_us", "p999_us")} for n, rs in runs.items()}
    out["runs"] = {str(n): rs for n, rs in runs.items()}
    return out


# ----------------------------------------------------------------------------
# table
# ----------------------------------------------------------------------------
def table(res):
    """metric | switch | kamailio+rtpengine | ratio, medians of the runs."""
    rows = []
    calls, relay = res.get("calls", {}), res.get("relay", {})

    if calls:
        s, k = both(calls, "max_sustained_cps")
        note = B.max_sustained_note(calls)
        rows.append((f"calls/s with G.711 RTP both ways, {CFG['calls_hold_ms']} ms calls: max sustained{note}",
                     fnum(s), fnum(k), ratio(s, k) + "  (switch/kamailio, >1: switch better)"))
        for key, what, nd in (("achieved_cps_at_max", "  achieved calls/s at that step", 1),
                              ("max_concurrent_calls_at_max", "  concurrent calls with RTP at that step (SIPp)", 0),
                              ("setup_time_mean_ms_at_max", "  setup time mean at that step [ms]", 1),
                              ("setup_time_p99_le_ms_at_max", "  setup time p99 bucket at that step [ms, <=]", 0),
                              ("rtp_packets_relayed_per_call_at_max", "  RTP packets relayed per call (472 = none lost)", 1),
                              ("server_cpu_pct_at_max", "  server CPU at that step [% of 1 core, all processes]", 0),
                              ("relay_cpu_pct_at_max", "  relay CPU at that step [% of 1 core] (switch: whole process)", 0),
                              ("host_busy_pct_at_max", "  host busy at that step [% of both cores]", 0)):
            s, k = both(calls, key)
            rows.append((what, fnum(s, nd), fnum(k, nd), ""))
        rr = CFG["calls_ref_rate"]
        s, k = both(calls, "server_cpu_pct_at_ref_rate")
        rows.append((f"  server CPU at fixed {rr} calls/s [% of 1 core]", fnum(s), fnum(k),
                     ratio(s, k) + "  (switch/kamailio, <1: switch cheaper)"))
        s, k = both(calls, "rtp_packets_relayed_per_call_at_ref_rate")
        rows.append((f"  RTP packets relayed per call at {rr} calls/s", fnum(s, 1), fnum(k, 1), ""))
    if relay:
        load = CFG["relay_register_rate"]
        cond = f", REGISTER load {load}/s on each SIP server" if load > 0 else ""
        for n in CFG["relay_streams"]:
            sw, ka = relay.get("switch", {}).get(str(n), {}), relay.get("kamailio", {}).get(str(n), {})
            dl = relay.get("direct", {}).get(str(n), {})

            def pair(key):
                return med(sw.get(key)), med(ka.get(key))
            s, k = pair("pps_received")
            rows.append((f"relay, {n} streams x 50 pps each way, interleaved{cond}: packets/s relayed",
                         fnum(s), fnum(k), ""))
            s, k = pair("loss_pct")
            rows.append(("  loss [%]", fnum(s, 3), fnum(k, 3), ""))
            for q, name in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
                s, k = pair(q + "_us")
                rows.append((f"  transit {name} [us] (direct loopback {fnum(med(dl.get(q + '_us')), 0)})",
                             fnum(s, 0), fnum(k, 0),
                             fnum(med(sw.get(q + "_ratio")), 2) + "  (switch/rtpengine, same packets' run; target <= 1)"))
            s, k = pair("relay_cpu_pct")
            rows.append(("  relay CPU [% of 1 core] (switch: its relay threads)", fnum(s), fnum(k), ""))
            s, k = pair("pps_per_core")
            rows.append(("  packets/s per core of relay CPU", fnum(s), fnum(k),
                         ratio(s, k) + "  (switch/rtpengine, target >= 2)"))
            if CFG["relay_syscalls"]:
                s, k = pair("syscalls_per_packet_all")
                rows.append(("  system calls per relayed packet (perf; by kind in the log and JSON)",
                             fnum(s, 2), fnum(k, 2), ratio(s, k)))
            if CFG["relay_flood_s"] > 0:
                s, k = pair("flood_received_pps")
                rows.append(("  flooded alone: packets/s relayed", fnum(s), fnum(k), ratio(s, k)))
                s, k = pair("flood_relay_cpu_pct")
                rows.append(("  flooded alone: relay CPU [% of 1 core] (~100: the relay is the limit)",
                             fnum(s), fnum(k), ""))
                s, k = pair("flood_loss_pct")
                rows.append(("  flooded alone: loss [%]", fnum(s, 2), fnum(k, 2), ""))
    hdr = ("metric (median of %d run(s))" % CFG["runs"], "switch", "kamailio+rtpengine", "ratio")
    return B.render_table(hdr, rows) if rows else "(nothing measured)"


def main():
    B.install_signal_handlers()
    B.require_free_ports([CFG["kam_port"], CFG["switch_port"], CFG["rtpe_ng_port"], CFG["rtpe_cli_port"]],
                         "calls bench")
    for lo, hi in (CFG["rtpe_ports"], CFG["switch_relay_ports"]):
        if B.busy_range(lo, hi):
            raise SystemExit(f"calls bench: sockets already bound in media range {lo}-{hi} (BENCH_*_PORTS)")
    for d in ("logs", "sipp", "probe"):
        os.makedirs(os.path.join(OUT, d), exist_ok=True)
    res = {"meta": {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": CFG, "only": ONLY,
                    "loadavg_at_start": os.getloadavg(),
                    "host": B.host_versions({"kamailio": ["kamailio", "-v"], "rtpengine": ["rtpengine", "--version"],
                                             "switch": [CFG["switch_bin"], "--version"]})}}
    t_start = time.time()
    try:
        stacks = {}
        # the REGISTER load's users, when the relay runs under contention
        subscribers = [CALLEE] + (B.users(CFG["relay_register_users"]) if CFG["relay_register_rate"] > 0 else [])
        if "kamailio" in CFG["targets"]:
            B.make_kamailio_db(subscribers)
            stacks["kamailio"] = KamailioRtpengine()
        if "switch" in CFG["targets"]:
            template, _ = B.make_switch_store(CFG["switch_bin"], subscribers)
            stacks["switch"] = SwitchStack(template)
        B.run_measurements(res, (("calls", measure_calls), ("relay", measure_relay)), stacks, ONLY)
    finally:
        B.close_run(res, t_start, RESULTS)
    return B.report(res, table, RESULTS, OUT)


if __name__ == "__main__":
    sys.exit(main())
