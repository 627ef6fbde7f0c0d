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
orchestrator (processes by PID, sampling, SIPp, ladder, table) are in
benchlib.py, shared with calls_bench.py; the reg step and the held run
themselves are benchlib's reg_step and held_once, shared with cluster_bench.py.  Differences: ports are our own (Kamailio
BENCH_KAM_PORT, switch BENCH_SWITCH_PORT) and `held` uses the digest scenario
for both servers (the switch always authenticates); see ../README.md.

Every process is started here as a child, tracked by PID and stopped by PID
(also on SIGINT/SIGTERM).  Every SIPp run is bounded by -m, -timeout and a
subprocess timeout.
"""

import os
import sys
import time

import benchlib as B
import proc_counts
from benchlib import both, env, fnum, ladder, log, ratio, summarize, tree

OUT = B.OUT
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(OUT, "results.json"))

CFG = {
    "runs": env("BENCH_RUNS", 3),
    "targets": [t for t in env("BENCH_TARGETS", "switch,kamailio").split(",") if t],
    "kam_port": env("BENCH_KAM_PORT", 25060),
    "switch_port": env("BENCH_SWITCH_PORT", 25070),
    "switch_bin": env("BENCH_SWITCH_BIN", os.path.join(B.REPO, "target", "release", "switch")),
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
    # reg and held (BENCH_REG_*, BENCH_HELD_*)
    **B.reg_knobs("500,1000,2000,4000,6000,8000,10000,12000,14000,16000"),
    # ref: fixed rates measured on their own (not the ladder's steps), with
    # per-REGISTER syscalls and context switches (perf stat) beside the CPU
    "ref_rates": ladder("BENCH_REF_RATES", "1000,4000"),
    # the switch's [store] sqlite_synchronous for every run ("" = its default,
    # normal); "off" shows what the commits cost (not durable: see README)
    "switch_sqlite_synchronous": env("BENCH_SWITCH_SQLITE_SYNCHRONOUS", ""),
}
for _t in ("switch", "kamailio"):
    CFG[f"reg_ladder_{_t}"] = ladder(f"BENCH_REG_LADDER_{_t.upper()}", ",".join(map(str, CFG["reg_ladder"])))
ONLY = [x for x in env("BENCH_ONLY", "reg,ref,held").split(",") if x]


# ----------------------------------------------------------------------------
# reg: REGISTER/s with digest over persistent TCP flows (benchlib.reg_step)
# ----------------------------------------------------------------------------
def measure_reg(servers):
    n = CFG["reg_users"]
    csv = os.path.join(OUT, "users.csv")

    def step(t, run, r):
        # fresh server for every step: an overloaded step must not
        # leave queued work to the next one
        server = servers[t]
        server.start(f"reg{run}-r{r}")
        try:
            res = B.reg_step([(server, csv, n)], f"{t}-reg{run}", r, CFG["reg_step_s"], CFG["p99_slo_ms"])
        finally:
            server.stop()
        res["server_log_problem_lines"] = server.log_problems()
        return res

    runs = B.ladder_runs(
        servers, CFG["targets"], CFG["runs"],
        lambda t, run: log(f"[reg] {t}: REGISTER/s, digest, {n} TCP flows, run {run}"),
        step, lambda t: CFG[f"reg_ladder_{t}"], CFG["refine_steps"])
    return {t: B.reg_summary(rs, n, CFG["reg_ref_rate"]) for t, rs in runs.items()}


def count_window(server):
    """reg_step's window hook: syscalls and context switches of `server`'s
    processes over the window, and the window itself (for its REGOKs)."""
    def start():
        cwin = proc_counts.CountWindow(tree(server.name))
        began = time.time()

        def finish():
            return {"counts": cwin.done(), "window": [began, time.time()]}
        return finish
    return start


def measure_ref(servers):
    """Each fixed rate once per run and target, on a fresh server: CPU and
    the load-independent counts per REGISTER at the same offered load."""
    n = CFG["reg_users"]
    csv = os.path.join(OUT, "users.csv")
    steps = {t: [] for t in servers}
    for run in range(1, CFG["runs"] + 1):
        for t in B.order(CFG["targets"], run):
            for rate in CFG["ref_rates"]:
                log(f"[ref] {t}: fixed {rate} REGISTER/s, digest, {n} TCP flows, run {run}")
                server = servers[t]
                server.start(f"ref{run}-r{rate}")
                try:
                    res = B.reg_step([(server, csv, n)], f"{t}-ref{run}", rate, CFG["reg_step_s"], CFG["p99_slo_ms"],
                                     window=count_window(server))
                finally:
                    server.stop()
                if res.get("counts"):
                    res["per_register"] = proc_counts.per_op(res["counts"], res.get("registrations_in_window") or 0)
                    log("    per REGISTER: " + proc_counts.fmt(res["per_register"]))
                res["run"] = run
                steps[t].append(res)
    out = {}
    for t, ss in steps.items():
        out[t] = {"rates": CFG["ref_rates"], "steps": ss}
        for rate in CFG["ref_rates"]:
            at = [s for s in ss if s["rate"] == rate]
            out[t][f"cpu_pct_at_{rate}"] = summarize([s.get("server_cpu_pct") for s in at])
            out[t][f"pass_at_{rate}"] = sum(1 for s in at if s["pass"])
            for k in ("syscalls", "cs", "cpu_us"):
                out[t][f"{k}_per_reg_at_{rate}"] = summarize(
                    [((s.get("per_register") or {}).get("total") or {}).get(k) for s in at])
    return out


# ----------------------------------------------------------------------------
# held: idle registered flows, memory per flow
# ----------------------------------------------------------------------------
def measure_held(servers):
    csv = os.path.join(OUT, "users.csv")
    runs = {t: [] for t in servers}
    for run in range(1, CFG["runs"] + 1):
        for t in B.order(CFG["targets"], run):
            log(f"[held] {t}: {CFG['held_users']} registered TCP flows held idle, run {run}")
            runs[t].append(B.held_once(servers[t], run, CFG["held_users"], CFG["held_rate"], CFG["held_hold_s"], csv))
    return {t: B.held_summary(rs, CFG["held_users"]) for t, rs in runs.items()}


# ----------------------------------------------------------------------------
# table
# ----------------------------------------------------------------------------
def table(res):
    """metric | switch | kamailio | ratio, medians of the runs."""
    rows = []
    reg, held = res.get("reg", {}), res.get("held", {})
    sw, ka = reg.get("switch", {}), reg.get("kamailio", {})

    if reg:
        s, k = both(reg, "max_sustained_reg_per_s")
        note = B.max_sustained_note(reg)
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
        s, _ = both(reg, "store_thread_cpu_pct_at_max")
        rows.append(("  switch 'store' (writer) thread CPU at that step [% of 1 core]", fnum(s), "-", ""))
        s, k = both(reg, "server_cpu_pct_at_ref_rate")
        rr = CFG["reg_ref_rate"]
        rows.append((f"  server CPU at fixed {rr}/s [% of 1 core]", fnum(s), fnum(k),
                     ratio(s, k) + "  (switch/kamailio, <1: switch cheaper)"))
    ref = res.get("ref", {})
    for rate in CFG["ref_rates"] if ref else ():
        s, k = both(ref, f"cpu_pct_at_{rate}")
        rows.append((f"fixed {rate} REGISTER/s: server CPU [% of 1 core]", fnum(s), fnum(k),
                     ratio(s, k) + "  (switch/kamailio, <1: switch cheaper)"))
        for key, what in (("syscalls", "syscalls"), ("cs", "context switches")):
            s, k = both(ref, f"{key}_per_reg_at_{rate}")
            rows.append((f"  {what} per REGISTER (perf stat)", fnum(s, 1), fnum(k, 1), ratio(s, k)))
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
    return B.render_table(hdr, rows)


def switch_store_args():
    """`--config` with [store] sqlite_synchronous when the knob is set."""
    mode = CFG["switch_sqlite_synchronous"]
    if not mode:
        return []
    path = os.path.join(OUT, "switch-store.toml")
    with open(path, "w") as f:
        f.write(f'[store]\nsqlite_synchronous = "{mode}"\n')
    return ["--config", path]


def versions():
    return B.host_versions({"kamailio": ["kamailio", "-v"], "switch": [CFG["switch_bin"], "--version"]})


def main():
    B.install_signal_handlers()
    B.require_free_ports([CFG["kam_port"], CFG["switch_port"]], "registrar bench")
    for d in ("logs", "sipp"):
        os.makedirs(os.path.join(OUT, d), exist_ok=True)
    n = max(CFG["reg_users"] if {"reg", "ref"} & set(ONLY) else 0, CFG["held_users"] if "held" in ONLY else 0)
    res = {"meta": {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": CFG, "only": ONLY,
                    "loadavg_at_start": os.getloadavg(), "host": versions()}}
    t_start = time.time()
    try:
        B.write_users_csv(os.path.join(OUT, "users.csv"), B.users(n))
        servers = {}
        if "kamailio" in CFG["targets"]:
            B.make_kamailio_db(B.users(n))
            servers["kamailio"] = B.Kamailio(CFG["kam_port"], CFG["kchildren"], CFG["ktcpchildren"], CFG["tcp_rd_buf"])
        if "switch" in CFG["targets"]:
            template, took = B.make_switch_store(CFG["switch_bin"], B.users(n))
            res["meta"]["switch_provisioning_s"] = took
            servers["switch"] = B.Switch(CFG["switch_bin"], CFG["switch_port"], template,
                                         CFG["switch_max_conns_per_ip"], CFG["switch_digest_algorithms"],
                                         log_level=env("BENCH_SWITCH_LOG", "warn"),
                                         extra_args=switch_store_args(),
                                         # e.g. "heaptrack -o FILE" to count allocations per REGISTER
                                         prefix=env("BENCH_SWITCH_PREFIX", "").split())
        B.run_measurements(res, (("reg", measure_reg), ("ref", measure_ref), ("held", measure_held)), servers, ONLY)
    finally:
        B.close_run(res, t_start, RESULTS)
    return B.report(res, table, RESULTS, OUT)


if __name__ == "__main__":
    sys.exit(main())
