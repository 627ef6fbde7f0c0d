#!/usr/bin/env python3
"""Cluster benchmark (issue 14 item 7): switch nodes on Redis against one
switch on SQLite, SIPp-driven, loopback (127.0.0.0/8) only.  Invoked by
../cluster.sh.

  reg     REGISTER/s with digest over TCP, registrar.sh's `reg` method
          (benchlib.reg_step: BENCH_REG_USERS flows, open-loop ladder, same
          pass criteria, fresh nodes per step) for every setup of
          BENCH_SETUPS: `sqlite:1` (one node, its SQLite file), `server:N`
          (N nodes on one redis-server), `cluster:N` (N nodes on a Redis
          Cluster of 3 masters + 3 replicas, as tests/src/redis.rs builds
          it).  With N nodes the users are split in N ranges, one SIPp per
          node, each offering its share of the rate; the rate is the sum.
          At BENCH_REG_REF_RATE: Redis commands per registration (INFO
          commandstats of the masters over the steady window / registrations
          in it) and the CPU of the switch nodes and of Redis.
  held    registrar.sh's `held` method (benchlib.held_once) on a SQLite node
          and on a node of BENCH_HELD_REDIS: PSS per held flow, and Redis
          used_memory per registered number (masters; the replicas hold a
          copy each).
  xnode   two nodes on BENCH_XNODE_REDIS; a SIPp callee registered on node
          B; two SIPp callers at once, BENCH_XNODE_CALLS calls each at
          BENCH_XNODE_RATE/s: one INVITEs node A (forwarded to B: cross-node),
          one INVITEs node B (same node).  Set-up time INVITE -> 200 OK of
          every call (SIPp -trace_msg timestamps); added p99 = cross p99 - same p99.
          Also Redis commands per second of two idle nodes (leases,
          provisioning checks).

Subscribers are provisioned once per store (SQLite template copied per
start; Redis `switch subscriber import --redis`, used_memory per subscriber
measured there); between steps the RL records and node keys are removed from
Redis, so every step starts as a fresh SQLite data dir does.  Every process is
a child tracked by PID and stopped by PID (also on SIGINT/SIGTERM); every SIPp
run is bounded by -m, -timeout and a subprocess timeout.
"""

import os
import statistics
import sys
import time

import benchlib as B
import redislib as R
from benchlib import env, fnum, log, med, summarize

OUT = B.OUT
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(OUT, "results.json"))
CALLEE = ("callee", "pwcallee")
KINDS = {"sqlite": "SQLite", "server": "one redis-server", "cluster": "Redis Cluster 3+3"}


def setups(spec):
    out = []
    for item in spec.replace(" ", ",").split(","):
        if not item:
            continue
        kind, _, n = item.partition(":")
        if kind not in KINDS or not n.isdigit() or not 1 <= int(n) <= 3 or (kind == "sqlite" and n != "1"):
            raise SystemExit(f"BENCH_SETUPS: bad {item!r} (sqlite:1, server:1-3, cluster:1-3)")
        out.append((kind, int(n)))
    return out


CFG = {
    "runs": env("BENCH_RUNS", 1),
    "setups": setups(env("BENCH_SETUPS", "sqlite:1,server:1,cluster:1,cluster:2,cluster:3")),
    "switch_port": env("BENCH_SWITCH_PORT", 25300),       # node i: + 10 * (i - 1)
    "redis_port": env("BENCH_REDIS_PORT", 25330),         # the single server
    "cluster_port": env("BENCH_CLUSTER_PORT", 25331),     # six servers from here
    "cluster_bus_port": env("BENCH_CLUSTER_BUS_PORT", 25341),
    "relay_port": env("BENCH_RELAY_PORT", 26000),         # node i: 1000 ports from + 1000 * (i - 1)
    "wait_replicas": env("BENCH_REDIS_WAIT_REPLICAS", 1),  # [store] wait_replicas on the Cluster
    "switch_bin": env("BENCH_SWITCH_BIN", os.path.join(B.REPO, "target", "release", "switch")),
    "switch_digest_algorithms": env("BENCH_SWITCH_DIGEST_ALGORITHMS", "md5"),
    "switch_max_conns_per_ip": env("BENCH_SWITCH_MAX_CONNS_PER_IP", 16384),
    "switch_log": env("BENCH_SWITCH_LOG", "warn"),
    # reg and held (BENCH_REG_*, BENCH_HELD_*, as registrar.sh; the ladder
    # starts at 1,000: every setup passes 500 even on a loaded machine)
    **B.reg_knobs("1000,2000,4000,6000,8000,10000,12000,14000,16000"),
    "held_redis": env("BENCH_HELD_REDIS", "cluster"),
    # xnode
    "xnode_calls": env("BENCH_XNODE_CALLS", 1000),
    "xnode_rate": env("BENCH_XNODE_RATE", 50),
    "xnode_hold_ms": env("BENCH_XNODE_HOLD_MS", 200),
    "xnode_redis": env("BENCH_XNODE_REDIS", "cluster"),
    "xnode_idle_s": env("BENCH_XNODE_IDLE_S", 3.0),
    # the reg ladders take no new step after this many seconds from the
    # start (held and xnode still run: ~2 min), so a full run fits 12 min
    "reg_deadline_s": env("BENCH_REG_DEADLINE_S", 540),
}
ONLY = [x for x in env("BENCH_ONLY", "reg,held,xnode").split(",") if x]
for _k in ("held_redis", "xnode_redis"):
    if CFG[_k] not in ("server", "cluster"):
        raise SystemExit(f"BENCH_{_k.upper()} must be server or cluster")
if CFG["reg_ref_rate"] not in CFG["reg_ladder"]:
    raise SystemExit("BENCH_REG_REF_RATE must be a rung of BENCH_REG_LADDER")

DEPLOY = {}      # kind -> redislib.Single / Cluster, started once
PROVISION = {}   # kind -> used_memory per subscriber etc.
RES_SUBSCRIBERS = [0]   # how many subscribers every store holds
T_START = [time.time()]


def node_port(i):
    return CFG["switch_port"] + 10 * (i - 1)


def relay_range(i):
    lo = CFG["relay_port"] + 1000 * (i - 1)
    return lo, lo + 999


def node_config(kind, i):
    """The node's --config: relay ports of its own, every SIPp source address
    a trusted peer (the callers' INVITEs are not challenged, as in
    calls.sh), and on the Cluster `[store] wait_replicas`."""
    lo, hi = relay_range(i)
    peers = [f"127.0.0.{B.SRC_FIRST + j}" for j in range(B.SRC_COUNT)]
    path = os.path.join(OUT, f"switch-{kind}-{i}.toml")
    with open(path, "w") as f:
        f.write("# written by scripts/bench/lib/cluster_bench.py\n"
                f"relay_address = \"{B.HOST}\"\n\n[calls]\nrelay_ports = \"{lo}-{hi}\"\n"
                "trusted_peers = [" + ", ".join(f'"{p}"' for p in peers) + "]\n")
        if kind == "cluster":
            f.write(f"\n[store]\nwait_replicas = {CFG['wait_replicas']}\n")
    return path


def make_node(kind, i, log_level=None, template="switch-template"):
    """Node i of a setup: on SQLite (a copy of the provisioned `template`), or
    on the `kind` Redis with --node-id node-i and its own --node-address."""
    port = node_port(i)
    extra = ["--config", node_config(kind, i)]
    store, template = [], os.path.join(OUT, template)
    if kind != "sqlite":
        store, template = ["--redis", DEPLOY[kind].url], None
        extra += ["--node-id", f"node-{i}", "--node-address", f"tcp:{B.HOST}:{port}",
                  "--cluster-secret-file", os.path.join(OUT, "cluster.secret")]
    return B.Switch(CFG["switch_bin"], port, template, CFG["switch_max_conns_per_ip"],
                    CFG["switch_digest_algorithms"], extra_args=extra, log_level=log_level or CFG["switch_log"],
                    name=f"switch-{i}", store_args=store)


def start_nodes(kind, n, tag, log_level=None):
    if kind != "sqlite":
        R.clear_bindings(DEPLOY[kind])
    nodes = []
    try:
        for i in range(1, n + 1):
            nodes.append(make_node(kind, i, log_level))
            nodes[-1].start(tag)
        if kind != "sqlite":
            # each node's lease is in Redis (other nodes can forward to it)
            deadline = time.time() + 20
            while not all(R.key_exists(DEPLOY[kind], f"sw:{{node:node-{i}}}:lease") for i in range(1, n + 1)):
                if time.time() > deadline:
                    raise RuntimeError(f"{kind}: node leases not in Redis after 20 s")
                time.sleep(0.1)
    except BaseException:
        stop_nodes(nodes)
        raise
    return nodes


def stop_nodes(nodes):
    for nd in nodes[::-1]:
        nd.stop()


def setup_name(setup):
    kind, n = setup
    return f"{kind}:{n}"


def setup_label(setup):
    kind, n = setup
    return f"{KINDS[kind]}, {n} node{'s' if n > 1 else ''}"


def redis_window(dep):
    """reg_step's window hook: Redis commands (masters) and Redis CPU over
    the steady window."""
    def begin():
        masters = dep.masters()
        # each sample asks the masters in turn: its time is the middle of that
        ta = time.time()
        before = R.commandstats(masters)
        t0 = (ta + time.time()) / 2
        win = B.CpuWindow([s.name for s in dep.servers])

        def end():
            tb = time.time()
            cmds = R.commands_between(before, R.commandstats(masters))
            t1 = (tb + time.time()) / 2
            cpu = win.done()
            return {"redis_commands": cmds, "window": [t0, t1],
                    "redis_cpu_pct": round(sum(cpu.get(s.name + "_cpu_pct") or 0 for s in dep.servers), 1)}
        return end
    return begin


# ----------------------------------------------------------------------------
# reg
# ----------------------------------------------------------------------------
def user_parts(n_nodes):
    """The reg users split in `n_nodes` ranges, one injection file each."""
    pairs = B.users(CFG["reg_users"])
    parts, size = [], -(-len(pairs) // n_nodes)
    for i in range(n_nodes):
        chunk = pairs[i * size:(i + 1) * size]
        csv = os.path.join(OUT, f"users-{n_nodes}-{i + 1}.csv")
        B.write_users_csv(csv, chunk)
        parts.append((csv, len(chunk)))
    return parts


def measure_reg(_):
    by_name = {setup_name(s): s for s in CFG["setups"]}
    parts = {n: user_parts(n) for n in {n for _, n in CFG["setups"]}}

    def step(t, run, rate):
        kind, n = by_name[t]
        if time.time() > T_START[0] + CFG["reg_deadline_s"]:
            log(f"  {t} {rate}/s: not run, past BENCH_REG_DEADLINE_S ({CFG['reg_deadline_s']} s)")
            return {"rate": rate, "pass": False, "skipped": "deadline"}
        nodes = start_nodes(kind, n, f"reg{run}-{kind}{n}-r{rate}")
        try:
            res = B.reg_step([(nd, csv, k) for nd, (csv, k) in zip(nodes, parts[n])], f"{kind}{n}-reg{run}", rate,
                             CFG["reg_step_s"], CFG["p99_slo_ms"], redis_window(DEPLOY[kind]) if kind != "sqlite" else None)
        finally:
            stop_nodes(nodes)
        res["server_log_problem_lines"] = sum(nd.log_problems() or 0 for nd in nodes)
        if "redis_commands" in res:
            regs = res["registrations_in_window"]
            res["redis_ops_per_reg"] = round(sum(res["redis_commands"].values()) / regs, 2) if regs else None
            res["redis_sent_per_reg"] = (round(sum(R.sent_by_clients(res["redis_commands"]).values()) / regs, 2)
                                         if regs else None)
            log(f"    Redis: {res['redis_ops_per_reg']} commands per registration, {res['redis_sent_per_reg']} sent "
                f"by the switch "
                f"({', '.join(f'{k} {v}' for k, v in sorted(res['redis_commands'].items()))}), "
                f"Redis CPU {res['redis_cpu_pct']}%")
        return res

    runs = B.ladder_runs(
        by_name, list(by_name), CFG["runs"],
        lambda t, run: log(f"[reg] {setup_label(by_name[t])}: REGISTER/s, digest, {CFG['reg_users']} TCP flows, run {run}"),
        step, lambda t: CFG["reg_ladder"], CFG["refine_steps"])
    out = {}
    for t, rs in runs.items():
        out[t] = B.reg_summary(rs, CFG["reg_users"], CFG["reg_ref_rate"])
        out[t]["runs_cut_by_deadline"] = sum(1 for r in rs if any(st.get("skipped") for st in r["steps"]))
        out[t]["redis_ops_per_reg_at_ref_rate"] = B.at_rate(rs, CFG["reg_ref_rate"], "redis_ops_per_reg")
        out[t]["redis_sent_per_reg_at_ref_rate"] = B.at_rate(rs, CFG["reg_ref_rate"], "redis_sent_per_reg")
        out[t]["redis_cpu_pct_at_ref_rate"] = B.at_rate(rs, CFG["reg_ref_rate"], "redis_cpu_pct")
        out[t]["redis_cpu_pct_at_max"] = B.summarize_best([r["max_pass"] for r in rs], "redis_cpu_pct")
        ref = [s for r in rs for s in r["steps"] if s["rate"] == CFG["reg_ref_rate"] and "redis_commands" in s]
        if ref:
            regs = ref[-1]["registrations_in_window"]
            out[t]["redis_commands_per_reg_at_ref_rate"] = {
                k: round(v / regs, 3) for k, v in sorted(ref[-1]["redis_commands"].items())} if regs else None
    return out


# ----------------------------------------------------------------------------
# held
# ----------------------------------------------------------------------------
MEM_SAMPLE = 200   # numbers whose keys MEMORY USAGE measures


def key_sizes(dep, kind_of_key, count):
    """Mean MEMORY USAGE of `sw:{N}:<kind_of_key>` over the first `count` users."""
    sizes = [v for v in R.memory_usage(dep, [f"sw:{{{u}}}:{kind_of_key}" for u, _ in B.users(count)]) if v]
    return round(statistics.mean(sizes)) if sizes else None


def redis_memory_probe(dep):
    """held_once's probe: Redis memory (masters: used_memory and
    used_memory_dataset; all servers: used_memory) before SIPp and mid-hold,
    per held flow (each one registered number); MEMORY USAGE of RL records;
    the commands the first registrations of all those numbers cost."""
    def begin():
        m0, d0, a0 = R.used_memory(dep.masters()), R.used_memory(dep.masters(), "used_memory_dataset"), \
            R.used_memory(dep.servers)
        c0 = R.commandstats(dep.masters())

        def mid(flows):
            m1, d1, a1 = R.used_memory(dep.masters()), R.used_memory(dep.masters(), "used_memory_dataset"), \
                R.used_memory(dep.servers)
            cmds = R.commands_between(c0, R.commandstats(dep.masters()))

            def per(x):
                return round(x / flows) if flows else None
            r = {"redis_used_memory_masters": [m0, m1], "redis_dataset_masters": [d0, d1],
                 "redis_used_memory_all": [a0, a1],
                 "redis_bytes_per_registration": per(m1 - m0), "redis_dataset_bytes_per_registration": per(d1 - d0),
                 "redis_bytes_per_registration_all": per(a1 - a0),
                 "redis_rl_key_bytes": key_sizes(dep, "rl", min(MEM_SAMPLE, flows or 0)),
                 "redis_commands_first_registration": cmds}
            if flows:
                r["redis_ops_per_first_registration"] = round(sum(cmds.values()) / flows, 2)
                r["redis_sent_per_first_registration"] = round(sum(R.sent_by_clients(cmds).values()) / flows, 2)
            log(f"    Redis per registered number: used_memory {r['redis_bytes_per_registration']} B (masters), "
                f"{r['redis_bytes_per_registration_all']} B (all servers), dataset {r['redis_dataset_bytes_per_registration']} B, "
                f"MEMORY USAGE of an RL record {r['redis_rl_key_bytes']} B; "
                f"{r.get('redis_ops_per_first_registration')} commands ({r.get('redis_sent_per_first_registration')} sent) "
                f"per first registration")
            return r
        return mid
    return begin


def idle_pss_kb(template):
    """PSS of a fresh, idle SQLite node on a copy of `template`, 1 s after
    it answers SIP (as held_once's baseline)."""
    node = make_node("sqlite", 1, template=template)
    node.start("idle")
    try:
        time.sleep(1.0)
        return B.mem_kb(B.tree(node.name))["pss_kb"]
    finally:
        node.stop()


def measure_held(_):
    csv = os.path.join(OUT, "users-held.csv")
    B.write_users_csv(csv, B.users(CFG["held_users"]))
    targets = ["sqlite", CFG["held_redis"]]
    runs = {t: [] for t in targets}
    # every node holds every subscriber in memory: an idle node with one
    # subscriber against the held run's idle baseline with all of them
    B.make_switch_store(CFG["switch_bin"], [CALLEE], template="switch-template-1")
    pss_one = idle_pss_kb("switch-template-1")
    for run in range(1, CFG["runs"] + 1):
        for t in B.order(targets, run):
            log(f"[held] {KINDS[t]}, 1 node: {CFG['held_users']} registered TCP flows held idle, run {run}")
            if t != "sqlite":
                R.clear_bindings(DEPLOY[t])
            node = make_node(t, 1)
            probe = redis_memory_probe(DEPLOY[t]) if t != "sqlite" else None
            runs[t].append(B.held_once(node, run, CFG["held_users"], CFG["held_rate"], CFG["held_hold_s"], csv, probe))
    out = {t: B.held_summary(rs, CFG["held_users"]) for t, rs in runs.items()}
    for t in targets:
        out[t]["server_start_s"] = summarize([r.get("server_start_s") for r in runs[t]])
    subs = RES_SUBSCRIBERS[0]
    base = med(out["sqlite"]["pss_kb_baseline"])
    out["node_pss_kb_one_subscriber"] = pss_one
    out["node_pss_bytes_per_subscriber"] = round((base - pss_one) * 1024.0 / (subs - 1)) if base and subs > 1 else None
    log(f"  idle SQLite node: PSS {pss_one} kB with 1 subscriber, {base} kB with {subs}: "
        f"{out['node_pss_bytes_per_subscriber']} B per subscriber held in the node")
    for t in targets[1:]:
        for k in ("redis_bytes_per_registration", "redis_bytes_per_registration_all",
                  "redis_dataset_bytes_per_registration", "redis_rl_key_bytes",
                  "redis_ops_per_first_registration", "redis_sent_per_first_registration"):
            out[t][k] = summarize([r.get(k) for r in runs[t]])
    return out


# ----------------------------------------------------------------------------
# xnode: cross-node vs same-node INVITE set-up time
# ----------------------------------------------------------------------------
def setup_times(msg_file):
    """INVITE -> 180 and INVITE -> 200 (ms) of every call in a SIPp
    -trace_msg file, from its microsecond timestamps (SIPp's own -trace_rtt
    counts in whole milliseconds of a 4 ms clock here: too coarse for a 5 ms
    target).  Each entry: a dashed line with the time, a sent/received line,
    the message; paired by Call-ID."""
    sent, got = {}, {"180": {}, "200": {}}
    stamp = direction = first = None
    try:
        f = open(msg_file, errors="replace")
    except OSError:
        return {"180": [], "200": []}
    with f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("-----") and line.count(":") >= 2:
                d, t = line.split()[-2:]
                stamp = time.mktime(time.strptime(d + " " + t.split(".")[0], "%Y-%m-%d %H:%M:%S")) + float("0." + t.split(".")[1])
                direction = first = None
            elif stamp is not None and direction is None and "message" in line:
                direction = "sent" if " sent" in line else "received"
            elif direction and first is None and line.strip():
                first = line.strip()
            elif direction and first and line.lower().startswith("call-id:"):
                cid = line.split(":", 1)[1].strip()
                if direction == "sent" and first.startswith("INVITE "):
                    sent.setdefault(cid, stamp)
                elif direction == "received" and first.split()[1:2] in (["180"], ["200"]):
                    got[first.split()[1]].setdefault(cid, stamp)
                direction = None
    return {code: [round((t - sent[c]) * 1000.0, 3) for c, t in by.items() if c in sent and t >= sent[c]]
            for code, by in got.items()}


def quantile(vals, q):
    if not vals:
        return None
    s = sorted(vals)
    return s[min(len(s) - 1, int(q * len(s)))]


def measure_xnode(_):
    kind = CFG["xnode_redis"]
    dep = DEPLOY[kind]
    log(f"[xnode] {KINDS[kind]}, 2 nodes: callee on node B, callers INVITE node A (cross) and node B (same) at once")
    # info on the call-routing module: one line per call says where it went
    nodes = start_nodes(kind, 2, "xnode", log_level=f"{CFG['switch_log']},switch::core::admit=info")
    a, b = nodes
    try:
        masters = dep.masters()
        c0 = R.commandstats(masters)
        time.sleep(CFG["xnode_idle_s"])
        idle = R.commands_between(c0, R.commandstats(masters))
        idle_rate = round(sum(idle.values()) / CFG["xnode_idle_s"] / 2, 2)
        log(f"  two idle nodes: {idle_rate} Redis commands per node per second ({idle})")
        B.start_callee(b.port, B.next_tag("xnode-callee"), CALLEE, media_port=6200)
        n, rate, hold = CFG["xnode_calls"], CFG["xnode_rate"], CFG["xnode_hold_ms"]
        timeout = n / rate + hold / 1000.0 + 60
        callers = {}
        for path, node in (("cross", a), ("same", b)):
            tag = B.next_tag(f"xnode-{path}")
            extra = ["-s", CALLEE[0], "-r", str(rate), "-rp", "1000", "-m", str(n), "-l", str(max(100, rate * 5)),
                     "-d", str(hold), "-mp", "6300" if path == "cross" else "6400",
                     "-trace_msg", "-message_file", os.path.join(OUT, "sipp", tag + ".msg")]
            argv, base = B.sipp_argv(tag, node.port, "uac_call_setup.xml", extra, timeout, transport="t1")
            callers[path] = (tag, base, B.spawn("sipp-" + tag, argv, base + ".out"))
        for path, (tag, base, p) in callers.items():
            B.wait_proc("sipp-" + tag, timeout + 10)
        forwarded = B.log_lines(a.logfile, r"callee's flow is on another node")
        out = {"calls_per_path": n, "rate_per_path": rate, "hold_ms": hold, "forwarded_by_a": forwarded,
               "idle_redis_commands_per_node_per_s": idle_rate, "idle_redis_commands": idle}
        for path, (tag, base, p) in callers.items():
            st = B.sipp_stats(base)
            times = setup_times(base + ".msg")
            v, r = times["200"], times["180"]
            out[path] = {"samples": len(v), "successful": st.get("successful"), "failed": st.get("failed"),
                         "p50_ms": quantile(v, 0.50), "p99_ms": quantile(v, 0.99), "max_ms": max(v) if v else None,
                         "mean_ms": round(statistics.mean(v), 3) if v else None,
                         "ringing_p50_ms": quantile(r, 0.50), "ringing_p99_ms": quantile(r, 0.99),
                         "sipp_errors": B.sipp_errors(base)[1]}
            log(f"  {path}: {out[path]['successful']} ok, {out[path]['failed']} failed, {len(v)} samples, "
                f"INVITE->200 p50 {out[path]['p50_ms']} p99 {out[path]['p99_ms']} max {out[path]['max_ms']} ms, "
                f"INVITE->180 p50 {out[path]['ringing_p50_ms']} p99 {out[path]['ringing_p99_ms']} ms")
        for key in ("p99", "p50", "ringing_p99"):
            c, s_ = out["cross"][key + "_ms"], out["same"][key + "_ms"]
            out[f"added_{key}_ms"] = round(c - s_, 3) if c is not None and s_ is not None else None
        log(f"  node A forwarded {forwarded} calls to node B; added p99 {out['added_p99_ms']} ms")
    finally:
        B.stop("callee")
        stop_nodes(nodes)
    return out


# ----------------------------------------------------------------------------
# table
# ----------------------------------------------------------------------------
def table(res):
    """One row per figure: metric | value | target."""
    rows = []
    reg, held, xn = res.get("reg", {}), res.get("held", {}), res.get("xnode", {})
    base = med(reg.get("sqlite:1", {}).get("max_sustained_reg_per_s"))
    rr = CFG["reg_ref_rate"]
    if reg:
        rows.append((f"REGISTER/s, digest, TCP, {CFG['reg_users']} flows: max sustained (sum over nodes)", "", ""))
        for setup in CFG["setups"]:
            d = reg.get(setup_name(setup), {})
            v = med(d.get("max_sustained_reg_per_s"))
            capped = " (ladder top: lower bound)" if d.get("runs_where_ladder_never_failed") else ""
            capped += " (cut by BENCH_REG_DEADLINE_S: lower bound)" if d.get("runs_cut_by_deadline") else ""
            target = ""
            if setup[0] != "sqlite" and setup[1] == 1:
                r = v / base if v is not None and base else None
                target = (f">= 0.8x SQLite: {r:.2f}x " + ("MET" if r >= 0.8 else "NOT MET")) if r is not None else ">= 0.8x SQLite: n/a"
            elif setup[0] != "sqlite" and v is not None and base:
                target = f"{v / base:.2f}x SQLite"
            rows.append((f"  {setup_label(setup)}{capped}", fnum(v), target))
            rows.append((f"    p99 bucket at that step [ms, <=] / switch CPU [% of 1 core, all nodes]",
                         f"{fnum(med(d.get('reg_time_p99_le_ms_at_max')))} / {fnum(med(d.get('server_cpu_pct_at_max')))}", ""))
            if setup[0] != "sqlite":
                rows.append((f"    Redis CPU at that step [% of 1 core, all servers]",
                             fnum(med(d.get("redis_cpu_pct_at_max"))), ""))
        rows.append((f"at a fixed {rr} REGISTER/s: switch CPU (all nodes) / Redis CPU [% of 1 core]", "", ""))
        for setup in CFG["setups"]:
            d = reg.get(setup_name(setup), {})
            rc = med(d.get("redis_cpu_pct_at_ref_rate"))
            rows.append((f"  {setup_label(setup)}",
                         fnum(med(d.get("server_cpu_pct_at_ref_rate"))) + (f" / {fnum(rc)}" if rc is not None else ""), ""))
        rows.append((f"Redis commands per registration at {rr}/s (masters, INFO commandstats): "
                     "executed (sent by the switch)", "", ""))
        for setup in CFG["setups"]:
            d = reg.get(setup_name(setup), {})
            if setup[0] != "sqlite":
                per = d.get("redis_commands_per_reg_at_ref_rate") or {}
                rows.append((f"  {setup_label(setup)}", f"{fnum(med(d.get('redis_ops_per_reg_at_ref_rate')), 2)} "
                             f"({fnum(med(d.get('redis_sent_per_reg_at_ref_rate')), 2)})",
                             ", ".join(f"{k} {v:.2f}" for k, v in per.items() if v >= 0.01)))
    for kind, p in PROVISION.items():
        rows.append((f"Redis per provisioned subscriber [bytes] ({KINDS[kind]}): used_memory / dataset "
                     "(masters) / MEMORY USAGE of its hash",
                     f"{fnum(p.get('bytes_per_subscriber'))} / {fnum(p.get('dataset_bytes_per_subscriber'))} / "
                     f"{fnum(p.get('sub_key_bytes'))}", f"{p['subscribers']} imported"))
    if held:
        rows.append((f"held idle registered TCP flows: PSS per held flow [bytes] ({CFG['held_users']} flows)", "", ""))
        kinds_held = {t: d for t, d in held.items() if t in KINDS}
        for t, d in kinds_held.items():
            rows.append((f"  {KINDS[t]}, 1 node ({fnum(med(d.get('flows_held')))} flows held)",
                         fnum(med(d.get("pss_bytes_per_flow"))), ""))
        rows.append(("  idle node's PSS per subscriber it holds [bytes] (SQLite node, 1 vs "
                     f"{fnum(res.get('subscribers'))} provisioned)", fnum(held.get("node_pss_bytes_per_subscriber")), ""))
        rows.append((f"node start until SIP is answered [s] ({fnum(res.get('subscribers'))} subscribers, no bindings)",
                     "", ""))
        for t, d in kinds_held.items():
            rows.append((f"  {KINDS[t]}", fnum(med(d.get("server_start_s")), 2), ""))
        for t, d in kinds_held.items():
            if "redis_bytes_per_registration" in d:
                rows.append((f"Redis per registered number [bytes] ({KINDS[t]}): used_memory masters / all servers "
                             "/ dataset / MEMORY USAGE of its RL record",
                             f"{fnum(med(d['redis_bytes_per_registration']))} / "
                             f"{fnum(med(d['redis_bytes_per_registration_all']))} / "
                             f"{fnum(med(d['redis_dataset_bytes_per_registration']))} / "
                             f"{fnum(med(d['redis_rl_key_bytes']))}", ""))
                rows.append((f"Redis commands per first registration ({KINDS[t]}): executed (sent by the switch)",
                             f"{fnum(med(d['redis_ops_per_first_registration']), 2)} "
                             f"({fnum(med(d['redis_sent_per_first_registration']), 2)})", ""))
    if xn:
        rows.append((f"INVITE -> 200 set-up, {xn['calls_per_path']} calls per path at {xn['rate_per_path']}/s each, "
                     f"both at once ({KINDS[CFG['xnode_redis']]})", "", ""))
        for path, what in (("same", "same node (caller and callee on node B)"),
                           ("cross", f"cross node (caller on A, forwarded {xn.get('forwarded_by_a')}x to B)")):
            d = xn.get(path, {})
            rows.append((f"  {what}: p50 / p99 / max [ms]",
                         f"{fnum(d.get('p50_ms'), 2)} / {fnum(d.get('p99_ms'), 2)} / {fnum(d.get('max_ms'), 1)}",
                         f"{d.get('successful')} ok, {d.get('failed')} failed"))
        a = xn.get("added_p99_ms")
        rows.append(("  added by the cross-node hop: p99 [ms] (p50; INVITE -> 180 p99)",
                     f"{fnum(a, 2)} ({fnum(xn.get('added_p50_ms'), 2)}; {fnum(xn.get('added_ringing_p99_ms'), 2)})",
                     "<= 5 ms: " + ("n/a" if a is None else "MET" if a <= 5 else "NOT MET")))
        rows.append(("Redis commands per idle node per second (lease, provisioning check)",
                     fnum(xn.get("idle_redis_commands_per_node_per_s"), 1), ""))
    hdr = (f"metric ({'median of %d runs' % CFG['runs'] if CFG['runs'] > 1 else '1 run'})", "value", "target / detail")
    return B.render_table(hdr, rows) if rows else "(nothing measured)"


# ----------------------------------------------------------------------------
def provision(kinds, pairs):
    """SQLite template, and each Redis deployment once (used_memory per subscriber)."""
    if "sqlite" in kinds:
        B.make_switch_store(CFG["switch_bin"], pairs)
    for kind in kinds - {"sqlite"}:
        dep = DEPLOY[kind]
        m0, d0 = R.used_memory(dep.masters()), R.used_memory(dep.masters(), "used_memory_dataset")
        _, took = B.make_switch_store(CFG["switch_bin"], pairs, ["--redis", dep.url], template=f"import-{kind}")
        m1, d1 = R.used_memory(dep.masters()), R.used_memory(dep.masters(), "used_memory_dataset")
        PROVISION[kind] = {"subscribers": len(pairs), "import_s": took, "used_memory_masters": [m0, m1],
                           "dataset_masters": [d0, d1],
                           "bytes_per_subscriber": round((m1 - m0) / len(pairs)),
                           "dataset_bytes_per_subscriber": round((d1 - d0) / len(pairs)),
                           "sub_key_bytes": key_sizes(dep, "sub", min(MEM_SAMPLE, len(pairs)))}
        log(f"  {KINDS[kind]}: used_memory {PROVISION[kind]['bytes_per_subscriber']} B per subscriber (masters), "
            f"dataset {PROVISION[kind]['dataset_bytes_per_subscriber']} B, MEMORY USAGE of a subscriber hash "
            f"{PROVISION[kind]['sub_key_bytes']} B")


def with_redis(measure, pairs):
    """`measure` with every Redis deployment up: one that failed stops every
    process (benchlib.run_measurements), so the next one starts Redis again
    and provisions it anew rather than failing too."""
    def run(arg):
        for kind, dep in DEPLOY.items():
            if not all(s.name in B.PROCS for s in dep.servers):
                log(f"starting {KINDS[kind]} again after a failed measurement")
                dep.stop()
                dep.start()
                provision({kind}, pairs)
        return measure(arg)
    return run


def main():
    B.install_signal_handlers()
    kinds = {k for k, _ in CFG["setups"]} if "reg" in ONLY else set()
    if "held" in ONLY:
        kinds |= {"sqlite", CFG["held_redis"]}
    if "xnode" in ONLY:
        kinds.add(CFG["xnode_redis"])
    nmax = max([n for _, n in CFG["setups"]] + [2])
    ports = [node_port(i) for i in range(1, nmax + 1)]
    if "server" in kinds:
        DEPLOY["server"] = R.Single(CFG["redis_port"])
        ports += DEPLOY["server"].ports()
    if "cluster" in kinds:
        DEPLOY["cluster"] = R.Cluster(CFG["cluster_port"], CFG["cluster_bus_port"])
        ports += DEPLOY["cluster"].ports()
    B.require_free_ports(ports, "cluster bench")
    for i in range(1, nmax + 1):
        lo, hi = relay_range(i)
        if B.busy_range(lo, hi):
            raise SystemExit(f"cluster bench: sockets already bound in relay range {lo}-{hi} (BENCH_RELAY_PORT)")
    for d in ("logs", "sipp", "redis"):
        os.makedirs(os.path.join(OUT, d), exist_ok=True)
    with open(os.path.join(OUT, "cluster.secret"), "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    res = {"meta": {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": CFG, "only": ONLY,
                    "loadavg_at_start": os.getloadavg(),
                    "host": B.host_versions({"switch": [CFG["switch_bin"], "--version"],
                                             "redis": ["redis-server", "--version"]})}}
    t_start = T_START[0] = time.time()
    try:
        for dep in DEPLOY.values():
            log(f"starting {KINDS[dep.kind]} ({dep.url})")
            dep.start()
        n = max(CFG["reg_users"] if "reg" in ONLY else 0, CFG["held_users"] if "held" in ONLY else 0)
        pairs = B.users(n) + [CALLEE]
        provision(kinds, pairs)
        res["provisioning"], res["subscribers"] = PROVISION, n + 1
        RES_SUBSCRIBERS[0] = n + 1
        measures = (("reg", measure_reg), ("held", measure_held), ("xnode", measure_xnode))
        B.run_measurements(res, [(k, with_redis(fn, pairs)) for k, fn in measures], None, ONLY)
    finally:
        B.close_run(res, t_start, RESULTS)
    return B.report(res, table, RESULTS, OUT)


if __name__ == "__main__":
    sys.exit(main())
