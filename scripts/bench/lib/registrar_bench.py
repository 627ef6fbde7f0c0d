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
benchlib.py, shared with calls_bench.py.  Differences: ports are our own (Kamailio
BENCH_KAM_PORT, switch BENCH_SWITCH_PORT) and `held` uses the digest scenario
for both servers (the switch always authenticates); see ../README.md.

Every process is started here as a child, tracked by PID and stopped by PID
(also on SIGINT/SIGTERM).  Every SIPp run is bounded by -m, -timeout and a
subprocess timeout.
"""

import os
import subprocess
import sys
import time

import benchlib as B
import proc_counts
from benchlib import CpuWindow, ThreadWindow, both, env, fnum, ladder, log, mem_kb, ratio, sleep_until, spawn, stop, summarize, tree

OUT = B.OUT
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(OUT, "results.json"))
SCENARIO = "reg_tcp_auth.xml"

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
    # reg
    "reg_users": env("BENCH_REG_USERS", 2000),
    "reg_step_s": env("BENCH_REG_STEP_S", 8.0),
    "reg_ladder": ladder("BENCH_REG_LADDER", "500,1000,2000,4000,6000,8000,10000,12000,14000,16000"),
    "refine_steps": env("BENCH_REFINE_STEPS", 2),
    "p99_slo_ms": env("BENCH_P99_SLO_MS", 200),
    "reg_ref_rate": env("BENCH_REG_REF_RATE", 1000),
    # ref: fixed rates measured on their own (not the ladder's steps), with
    # per-REGISTER syscalls and context switches (perf stat) beside the CPU
    "ref_rates": ladder("BENCH_REF_RATES", "1000,4000"),
    # the switch's [store] sqlite_synchronous for every run ("" = its default,
    # normal); "off" shows what the commits cost (not durable: see README)
    "switch_sqlite_synchronous": env("BENCH_SWITCH_SQLITE_SYNCHRONOUS", ""),
    # held
    "held_users": env("BENCH_HELD_USERS", 5000),
    "held_rate": env("BENCH_HELD_RATE", 1000),
    "held_hold_s": env("BENCH_HELD_HOLD_S", 15.0),
}
for _t in ("switch", "kamailio"):
    CFG[f"reg_ladder_{_t}"] = ladder(f"BENCH_REG_LADDER_{_t.upper()}", ",".join(map(str, CFG["reg_ladder"])))
ONLY = [x for x in env("BENCH_ONLY", "reg,ref,held").split(",") if x]


def sipp_argv(tag, port, extra, timeout_s):
    return B.sipp_argv(tag, port, SCENARIO, extra, timeout_s)


# ----------------------------------------------------------------------------
# reg: REGISTER/s with digest over persistent TCP flows
# ----------------------------------------------------------------------------
def reg_step(server, label, rate, users_csv, n, counts=False):
    D = CFG["reg_step_s"]
    period_ms = int(round(n * 1000.0 / rate))   # per-user refresh interval
    ramp = period_ms / 1000.0                    # all users connected after this
    tag = B.next_tag(f"{label}-r{rate}")
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
    cwin = proc_counts.CountWindow(tree(server.name)) if counts else None
    twin = ThreadWindow(B.PROCS[server.name][0].pid) if server.name == "switch" else None
    sleep_until(t0 + ramp + D * 0.5)
    mem = mem_kb(tree(server.name))
    conns = B.established(server.port)
    sleep_until(t0 + ramp + D - 0.2)
    cpu = win.done()
    counted = cwin.done() if cwin else None
    threads = twin.done() if twin else None
    try:
        p.wait(timeout=timeout + 10)
    except subprocess.TimeoutExpired:
        log(f"  sipp {tag} overran; stopping")
    stop(sname)
    st = B.sipp_stats(base)
    ticks = B.sipp_ticks(base, "REGOK")
    achieved = B.rate_in_window(ticks, (ramp + 0.3) * 1000, (ramp + D - 0.2) * 1000)
    failed = st.get("failed", 0)
    fail_pct = 100.0 * failed / max(1, len(ticks) + failed)
    ok = B.passes(fail_pct, achieved, rate, st, CFG["p99_slo_ms"])
    trips, errs = B.sipp_errors(base)
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
    if counted:
        # the count window is the CPU window: REGOKs in it are the work done
        regs = sum(1 for t in ticks if (ramp + 0.3) * 1000 <= t < (ramp + D - 0.2) * 1000)
        res["registrations_in_window"] = regs
        res["per_register"] = proc_counts.per_op(counted, regs)
    log(f"  {label} offered {rate}/s -> {achieved:.0f}/s ok={len(ticks)} failed={failed} conns={conns} "
        f"cpu={res['server_cpu_pct']}% sipp={res['sipp_cpu_pct']}% host={res['host_busy_stat_pct']}% "
        f"pss={mem['pss_kb']}kB t_reg mean={st.get('rtd_mean_ms')}ms p99<={st.get('rtd_p99_le_ms')}ms "
        f"{'PASS' if ok else 'FAIL'}" + (f" sipp-err: {errs[0]}" if errs else ""))
    if threads:
        log("    threads (cpu/runq-wait % of a core): " + B.fmt_threads(threads))
    if res.get("per_register"):
        log("    per REGISTER: " + proc_counts.fmt(res["per_register"]))
    return res


def measure_reg(servers):
    n = CFG["reg_users"]
    csv = os.path.join(OUT, "users.csv")

    def step(t, run, r):
        # fresh server for every step: an overloaded step must not
        # leave queued work to the next one
        server = servers[t]
        server.start(f"reg{run}-r{r}")
        try:
            res = reg_step(server, f"{t}-reg{run}", r, csv, n)
        finally:
            server.stop()
        res["server_log_problem_lines"] = server.log_problems()
        return res

    runs = B.ladder_runs(
        servers, CFG["targets"], CFG["runs"],
        lambda t, run: log(f"[reg] {t}: REGISTER/s, digest, {n} TCP flows, run {run}"),
        step, lambda t: CFG[f"reg_ladder_{t}"], CFG["refine_steps"])
    out = {}
    for t, rs in runs.items():
        best = [r["max_pass"] for r in rs]
        out[t] = {
            "users": n, "transport": "tcp, one persistent connection per user",
            "auth": "digest (401 + authenticated REGISTER per registration)",
            "max_sustained_reg_per_s": summarize([b["rate"] if b else None for b in best]),
            "runs_where_ladder_never_failed": sum(1 for r in rs if r["ladder_exhausted"]),
            "achieved_at_max_reg_per_s": B.summarize_best(best, "achieved_reg_per_s"),
            "reg_time_mean_ms_at_max": B.summarize_best(best, "reg_time_mean_ms"),
            "reg_time_p99_le_ms_at_max": B.summarize_best(best, "reg_time_p99_le_ms"),
            "server_cpu_pct_at_max": B.summarize_best(best, "server_cpu_pct"),
            "sipp_cpu_pct_at_max": B.summarize_best(best, "sipp_cpu_pct"),
            "host_busy_pct_at_max": B.summarize_best(best, "host_busy_stat_pct"),
            "server_pss_kb_at_max": summarize([b["server_mem"]["pss_kb"] if b else None for b in best]),
            # the switch's store writer is one thread ("store"): near 100 % = it is the limit
            "store_thread_cpu_pct_at_max": summarize([
                ((b.get("server_threads") or {}).get("store") or {}).get("cpu_pct") if b else None for b in best]),
            "ref_rate": CFG["reg_ref_rate"],
            "server_cpu_pct_at_ref_rate": B.at_rate(rs, CFG["reg_ref_rate"], "server_cpu_pct"),
            "runs": rs,
        }
    return out


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
                servers[t].start(f"ref{run}-r{rate}")
                try:
                    res = reg_step(servers[t], f"{t}-ref{run}", rate, csv, n, counts=True)
                finally:
                    servers[t].stop()
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
        tag = B.next_tag(f"{server.name}-held{run}")
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
        conns = B.established(server.port)
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
        conns_after = B.established(server.port)
        st = B.sipp_stats(base)
        regok = len(B.sipp_ticks(base, "REGOK"))
        trips, errs = B.sipp_errors(base)
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
        for t in B.order(CFG["targets"], run):
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
