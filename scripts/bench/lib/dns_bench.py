#!/usr/bin/env python3
"""DNS benchmark: the switch's embedded DNS server against knotd serving the
same records from a static zone, and registration -> visible in DNS.
Loopback only.  Invoked by ../dns.sh (which says what it measures; method
and figures in ../DNS.md).

  qps      dnsperf NAPTR queries/s: BENCH_DNS_NUMBERS (10,000) numbers
           registered over SIP/TCP with digest (SIPp, the registrar bench's
           scenario, connections held open) so every one has its live NAPTR;
           knotd serves the same NAPTRs (same owner, rdata, TTL) from a zone
           file.  One query list for both: every ENUM name plus
           BENCH_DNS_NX_PCT (10) % of names nobody has (NXDOMAIN), shuffled.
           The server is pinned to CPU BENCH_SERVER_CPU (0), dnsperf (and
           SIPp, idle) to BENCH_CLIENT_CPU (1); knotd runs one UDP worker.
           BENCH_RUNS (3) runs, switch and knotd interleaved (A/B, B/A, ...),
           medians.
  visible  lib/dns_visible.py: BENCH_VISIBLE_COUNT (1000) more numbers
           register one at a time; per number the time from the
           authenticated REGISTER's send (and from its 200 OK) until the
           embedded server's answer carries the live NAPTR.
  push     the same tool against a second knotd that a second switch feeds
           with RFC 2136 UPDATEs (TSIG): registration -> visible in Knot.

Every process is a child started through benchlib.spawn and stopped by PID
(also on SIGINT/SIGTERM); every run is bounded.
"""

import base64
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import benchlib as B
from benchlib import CpuWindow, env, fnum, log, ratio, spawn, summarize

OUT = B.OUT
LIB = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(OUT, "results.json"))
SUFFIX = "e164.arpa."
TTL = 30   # the switch's default [dns] max_ttl; a live NAPTR's TTL is at most this

CFG = {
    "runs": env("BENCH_RUNS", 3),
    "numbers": env("BENCH_DNS_NUMBERS", 10000),
    "nx_pct": env("BENCH_DNS_NX_PCT", 10.0),
    "seconds": env("BENCH_DNS_SECONDS", 20),
    "clients": env("BENCH_DNS_CLIENTS", 8),
    "outstanding": env("BENCH_DNS_OUTSTANDING", 200),
    "visible_count": env("BENCH_VISIBLE_COUNT", 1000),
    "visible_poll_ms": env("BENCH_VISIBLE_POLL_MS", 1.0),
    "reg_rate": env("BENCH_DNS_REG_RATE", 1000),
    "server_cpu": env("BENCH_SERVER_CPU", "0"),
    "autogroup_nice": env("BENCH_AUTOGROUP_NICE", -10),
    "rt_prio": env("BENCH_RT_PRIO", 10),
    "client_cpu": env("BENCH_CLIENT_CPU", "1"),
    "switch_port": env("BENCH_SWITCH_PORT", 25080),
    "switch_dns_port": env("BENCH_SWITCH_DNS_PORT", 25081),
    "knot_port": env("BENCH_KNOT_PORT", 25082),
    "push_switch_port": env("BENCH_PUSH_SWITCH_PORT", 25083),
    "push_knot_port": env("BENCH_PUSH_KNOT_PORT", 25084),
    "switch_bin": env("BENCH_SWITCH_BIN", os.path.join(B.REPO, "target", "release", "switch")),
    "target_ratio": 0.5,
    "target_visible_p99_ms": 50.0,
    "target_push_p99_ms": 500.0,
}
ONLY = [x for x in env("BENCH_ONLY", "qps,visible,push").split(",") if x]
BULK_FIRST, PROBE_FIRST, PUSH_FIRST, NX_FIRST = 55500001, 55600001, 55800001, 57700001
# Push mode wants one update zone holding the ENUM suffix and the RL zone.
PUSH_ZONE = "bench.test."
PUSH_SUFFIX = "e164." + PUSH_ZONE


def pin(cpu, rt=False):
    """argv prefix: pinned to `cpu`, in a session (and so a scheduler autogroup)
    of its own; with `rt` and BENCH_RT_PRIO > 0, SCHED_FIFO at that priority."""
    prio = CFG["rt_prio"] if rt else 0
    return ["taskset", "-c", str(cpu), "setsid"] + (["chrt", "-f", str(prio)] if prio > 0 else [])


def boost(name):
    """Gives the autogroup of a process we started the nice BENCH_AUTOGROUP_NICE.
    With autogroups on (sched_autogroup_enabled), a process's own nice only
    counts inside its session: the fuzzers' nice 19 does not make them yield to
    a benchmark in another session, and each takes a fair share of a core.
    Both servers, dnsperf and the probe get the same boost."""
    try:
        with open(f"/proc/{B.PROCS[name][0].pid}/autogroup", "w") as f:
            f.write(str(CFG["autogroup_nice"]))
    except OSError as e:
        log(f"  {name}: autogroup nice not set ({e}); figures will move with the machine's load")


# ----------------------------------------------------------------------------
# numbers, query list, zone
# ----------------------------------------------------------------------------
def numbers(first, n):
    return [(str(first + i), f"pw{first + i}") for i in range(n)]


def enum_name(number):
    return ".".join(reversed(number)) + "." + SUFFIX


def live_regexp(number):
    return f"!^.*$!sip:{number}@{B.DOMAIN}!"


def write_queries(path, bulk):
    """Every bulk number's ENUM name and nx_pct % of names nobody has, shuffled (seeded)."""
    nx = round(len(bulk) * CFG["nx_pct"] / (100.0 - CFG["nx_pct"]))
    lines = [f"{enum_name(n)} NAPTR" for n, _ in bulk] + [f"{enum_name(n)} NAPTR" for n, _ in numbers(NX_FIRST, nx)]
    random.Random(13).shuffle(lines)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return nx


def write_zone(path, bulk):
    """knotd's zone: the records the switch answers for each bulk number while it is registered."""
    with open(path, "w") as f:
        f.write(f"$ORIGIN {SUFFIX}\n$TTL {TTL}\n"
                f"@ SOA sip.bench.test. hostmaster.bench.test. 1 3600 600 86400 {TTL}\n@ NS sip.bench.test.\n")
        for n, _ in bulk:
            f.write(f'{enum_name(n)} NAPTR 10 10 "u" "E2U+sip" "{live_regexp(n)}" .\n')


def write_users(path, pairs):
    with open(path, "w") as f:
        f.writelines(f"{n};{pw}\n" for n, pw in pairs)


# ----------------------------------------------------------------------------
# servers
# ----------------------------------------------------------------------------
def dig_status(port, name, rtype="NAPTR"):
    r = subprocess.run(["kdig", f"@{B.HOST}", "-p", str(port), name, rtype, "+notcp", "+timeout=1", "+retry=0"],
                       capture_output=True, text=True, timeout=10)
    m = re.search(r"status: (\w+)", r.stdout)
    return (m.group(1) if m else None), r.stdout


class Knot:
    """knotd 3.x on its own port, one UDP worker, pinned to `cpu`. `extra_conf`
    goes before the zone section (the push measurement's `key:` and `acl:`);
    `zone_conf` replaces the default zone section (a static e164.arpa. from
    the file given to start) with its own (a dynamic zone that takes UPDATEs)."""
    name = "knotd"

    def __init__(self, port, cpu, extra_conf="", zone_conf=None, name="knotd", apex=SUFFIX):
        self.port, self.cpu, self.extra_conf, self.zone_conf = port, cpu, extra_conf, zone_conf
        self.name, self.apex = name, apex
        self.dir = os.path.join(OUT, f"run-{name}")
        self.logfile = None

    def start(self, tag, zone_file=None):
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "knot.conf")
        zone = self.zone_conf or f"""zone:
  - domain: {SUFFIX}
    file: "{zone_file}"
    journal-content: none
    zonefile-sync: -1
"""
        with open(conf, "w") as f:
            f.write(f"""server:
    rundir: "{self.dir}"
    listen: {B.HOST}@{self.port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "{self.dir}"
{self.extra_conf}{zone}""")
        self.logfile = os.path.join(OUT, "logs", f"{self.name}-{tag}.log")
        spawn(self.name, pin(self.cpu, rt=True) + ["knotd", "-c", conf], self.logfile)
        boost(self.name)
        wait_dns(self.name, self.port, self.apex, "SOA")

    def stop(self):
        B.stop(self.name)


def wait_dns(name, port, qname, rtype, secs=30):
    p = B.PROCS[name][0]
    deadline = time.time() + secs
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"{name} exited rc={p.returncode}")
        if dig_status(port, qname, rtype)[0] == "NOERROR":
            return
        time.sleep(0.2)
    raise RuntimeError(f"{name}: no DNS answer on port {port}")


def register_bulk(switch, bulk):
    """SIPp registers every bulk number (digest, one TCP flow each, held open
    until stopped); returns the SIPp process name once all are registered."""
    csv = os.path.join(OUT, "bulk-users.csv")
    B.write_users_csv(csv, bulk)
    n, rate = len(bulk), CFG["reg_rate"]
    hold_ms = 4 * 3600 * 1000          # stopped by PID long before
    tag = B.next_tag("bulk-reg")
    extra = ["-inf", csv, "-m", str(n), "-r", str(rate), "-l", str(n + 10), "-d", str(hold_ms), "-nd",
             "-set", "end_at", "0", "-set", "period_ms", "1"]
    argv, base = B.sipp_argv(tag, switch.port, "reg_tcp_auth.xml", extra, hold_ms / 1000 + 60)
    sname = "sipp-" + tag
    spawn(sname, pin(CFG["client_cpu"]) + argv, base + ".out")
    t0 = time.time()
    deadline = t0 + n / rate + 60
    ok = 0
    while time.time() < deadline:
        ok = len(B.sipp_ticks(base, "REGOK"))
        if ok >= n:
            break
        if B.PROCS[sname][0].poll() is not None:
            raise RuntimeError(f"SIPp ended early, see {base}.out / {base}.err")
        time.sleep(0.5)
    took = time.time() - t0
    log(f"  {ok}/{n} numbers registered over TCP in {took:.1f}s; switch sees {switch.contacts()} registered")
    if ok < n:
        raise RuntimeError(f"only {ok}/{n} registrations succeeded, see {base}.err")
    # SIPp's timer loop over 10,000 paused calls costs ~15 % of a core on the
    # client CPU: stop it (its connections stay open, the registrations live)
    # and let it go on again only to end it (resume_sipp).
    os.kill(B.PROCS[sname][0].pid, signal.SIGSTOP)
    # every bulk number now has its live NAPTR (checked on a sample)
    for number, _ in random.Random(7).sample(bulk, min(20, n)):
        status, text = dig_status(CFG["switch_dns_port"], enum_name(number))
        if status != "NOERROR" or live_regexp(number) not in text.replace("\\", ""):
            raise RuntimeError(f"{number}: no live NAPTR after registering:\n{text}")
    return sname, round(took, 1)


def resume_sipp(sname):
    """SIGCONT the paused SIPp so that stopping it (SIGTERM) is quick."""
    if sname in B.PROCS:
        try:
            os.kill(B.PROCS[sname][0].pid, signal.SIGCONT)
        except OSError:
            pass


# ----------------------------------------------------------------------------
# qps: dnsperf
# ----------------------------------------------------------------------------
def dnsperf_stats(path):
    with open(path, errors="replace") as f:
        s = f.read()

    def grab(pattern, cast=float):
        m = re.search(pattern, s)
        return cast(m.group(1)) if m else None
    return {"sent": grab(r"Queries sent:\s+(\d+)", int),
            "completed": grab(r"Queries completed:\s+(\d+)", int),
            "lost_pct": grab(r"Queries lost:\s+\d+ \(([\d.]+)%\)"),
            "qps": grab(r"Queries per second:\s+([\d.]+)"),
            "avg_latency_ms": (grab(r"Average Latency \(s\):\s+([\d.]+)") or 0) * 1000,
            "max_latency_ms": (grab(r"Average Latency \(s\):.*max ([\d.]+)\)") or 0) * 1000,
            "latency_stddev_ms": (grab(r"Latency StdDev \(s\):\s+([\d.]+)") or 0) * 1000,
            "rcodes": grab(r"Response codes:\s+(.*)", str),
            "avg_response_bytes": grab(r"Average packet size:.*response (\d+)", int)}


def dnsperf_run(target, port, server_proc, qfile, run, idle_procs):
    L = CFG["seconds"]
    tag = f"dnsperf-{target}-{run}"
    out = os.path.join(OUT, "logs", tag + ".txt")
    argv = pin(CFG["client_cpu"], rt=True) + ["dnsperf", "-s", B.HOST, "-p", str(port), "-d", qfile,
                                     "-c", str(CFG["clients"]), "-q", str(CFG["outstanding"]),
                                     "-l", str(L), "-t", "2"]
    spawn(tag, argv, out)
    boost(tag)
    time.sleep(1.0)
    win = CpuWindow([server_proc, tag] + idle_procs)
    time.sleep(max(0.5, L - 2.0))
    cpu = win.done()
    B.wait_proc(tag, L + 30)
    st = dnsperf_stats(out)
    st.update({"server_cpu_pct": cpu.get(server_proc + "_cpu_pct"), "dnsperf_cpu_pct": cpu.get(tag + "_cpu_pct"),
               "idle_clients_cpu_pct": sum(cpu.get(p + "_cpu_pct") or 0 for p in idle_procs),
               "host_busy_pct": cpu["host_busy_stat_pct"], "loadavg_1m": round(os.getloadavg()[0], 2)})
    log(f"  {target} run {run}: {fnum(st['qps'])} q/s, avg {fnum(st['avg_latency_ms'], 3)} ms, "
        f"max {fnum(st['max_latency_ms'], 1)} ms, lost {st['lost_pct']}%, server cpu {st['server_cpu_pct']}%, "
        f"dnsperf cpu {st['dnsperf_cpu_pct']}%, host {st['host_busy_pct']}%, rcodes: {st['rcodes']}")
    return st


def measure_qps(ctx):
    qfile = ctx["queries"]
    ports = {"switch": CFG["switch_dns_port"], "knotd": CFG["knot_port"]}
    runs = {t: [] for t in ports}
    for run in range(1, CFG["runs"] + 1):
        for t in B.order(["switch", "knotd"], run):
            runs[t].append(dnsperf_run(t, ports[t], t, qfile, run, ctx["idle_procs"]))
    out = {}
    for t, rs in runs.items():
        out[t] = {k: summarize([r.get(k) for r in rs])
                  for k in ("qps", "avg_latency_ms", "max_latency_ms", "lost_pct", "server_cpu_pct",
                            "dnsperf_cpu_pct", "idle_clients_cpu_pct", "host_busy_pct", "avg_response_bytes")}
        out[t]["runs"] = rs
    return out


# ----------------------------------------------------------------------------
# visible: registration -> visible in DNS
# ----------------------------------------------------------------------------
def ms_triple(q):
    """p50/p99/max of a quantiles_us dict, in ms."""
    return "/".join(fnum((q or {}).get(k), 2, 1e-3) for k in ("p50_us", "p99_us", "max_us"))


def visible_run(label, dns_port, users_file, count, sip_port=None, suffix=SUFFIX):
    """lib/dns_visible.py against a switch's SIP port (the measured one by
    default), polling DNS at 127.0.0.1:dns_port for names under `suffix`;
    returns its JSON summary (samples dropped)."""
    out = os.path.join(OUT, f"visible-{label}.json")
    tag = f"dns-visible-{label}"
    argv = pin(CFG["client_cpu"]) + [
        sys.executable, os.path.join(LIB, "dns_visible.py"), "--sip", f"{B.HOST}:{sip_port or CFG['switch_port']}",
        "--dns", f"{B.HOST}:{dns_port}", "--users", users_file, "--count", str(count), "--enum-suffix", suffix,
        "--domain", B.DOMAIN, "--local-ip", B.next_src_ip(), "--poll-ms", str(CFG["visible_poll_ms"]),
        "--timeout", str(60 + count * 6), "--json", out]
    spawn(tag, argv, os.path.join(OUT, "logs", tag + ".txt"))
    boost(tag)
    rc = B.wait_proc(tag, 90 + count * 6)
    res = json.load(open(out)) if os.path.exists(out) else {"error": f"dns_visible rc={rc}, no JSON"}
    res.pop("samples", None)
    res["rc"] = rc
    log(f"  {label}: {res.get('visible')}/{res.get('count')} visible; p50/p99/max [ms] from the REGISTER's send "
        f"{ms_triple(res.get('send_to_visible'))}, from its 200 OK {ms_triple(res.get('ok_to_visible'))}")
    return res


def measure_visible(ctx):
    return visible_run("embedded", CFG["switch_dns_port"], ctx["probe_users"], CFG["visible_count"])


# ----------------------------------------------------------------------------
# push: registration -> visible in Knot (RFC 2136 push)
# ----------------------------------------------------------------------------
def measure_push_visible(ctx):
    """A second switch (fresh copy of the provisioned store, its own SIP
    port, no DNS listener) pushes into a second knotd (TSIG key, update ACL,
    a zone holding only SOA/NS/A at start); the same probe polls that knotd.
    knotd is pinned to the client CPU: the operator's DNS is another box."""
    d = os.path.join(OUT, "run-knotd-push")
    os.makedirs(d, exist_ok=True)
    secret = base64.b64encode(os.urandom(32)).decode()
    secret_file = os.path.join(OUT, "tsig.secret")
    with open(secret_file, "w") as f:
        f.write(secret + "\n")
    zone_file = os.path.join(d, PUSH_ZONE + "zone")
    with open(zone_file, "w") as f:
        f.write(f"$ORIGIN {PUSH_ZONE}\n$TTL 3600\n@ SOA ns.{PUSH_ZONE} hostmaster.{PUSH_ZONE} 1 3600 600 86400 30\n"
                f"@ NS ns.{PUSH_ZONE}\nns A {B.HOST}\n")
    knot = Knot(CFG["push_knot_port"], CFG["client_cpu"], name="knotd-push", apex=PUSH_ZONE,
                extra_conf=("key:\n  - id: switch-key.\n    algorithm: hmac-sha256\n    secret: " + secret + "\n"
                            "acl:\n  - id: switch-update\n    key: switch-key.\n    action: update\n"),
                # no zonefile-sync: updates go to the journal only, not a zone file rewrite each time
                zone_conf=(f'zone:\n  - domain: {PUSH_ZONE}\n    file: "{zone_file}"\n    acl: switch-update\n'
                           "    zonefile-sync: -1\n"))
    knot.start("push")
    conf = os.path.join(OUT, "switch-push.toml")
    with open(conf, "w") as f:
        f.write(f'[dns]\nzone = "{PUSH_ZONE}"\nenum_suffix = "{PUSH_SUFFIX}"\n'
                f'[dns.update]\nserver = "{B.HOST}:{CFG["push_knot_port"]}"\nzone = "{PUSH_ZONE}"\n'
                f'[dns.update.tsig_key]\nname = "switch-key."\nalgorithm = "hmac-sha256"\nsecret_file = "{secret_file}"\n')
    switch = B.Switch(CFG["switch_bin"], CFG["push_switch_port"], ctx["template"], extra_args=["--config", conf],
                      log_level=env("BENCH_SWITCH_LOG", "warn"), prefix=pin(CFG["server_cpu"], rt=True),
                      name="switch-push")
    switch.start("push")
    boost(switch.name)
    # At start the switch resynchronises every provisioned number into the
    # zone; one number registered and seen first waits that out.
    warm = visible_run("push-warmup", CFG["push_knot_port"], ctx["push_warmup"], 1, CFG["push_switch_port"], PUSH_SUFFIX)
    res = visible_run("push", CFG["push_knot_port"], ctx["push_users"], CFG["visible_count"], CFG["push_switch_port"],
                      PUSH_SUFFIX)
    res["warmup_send_to_visible"] = warm.get("send_to_visible")
    res["switch_log_problem_lines"] = switch.log_problems()
    switch.stop()
    knot.stop()
    return res


# ----------------------------------------------------------------------------
# table
# ----------------------------------------------------------------------------
def verdict(ok):
    return "PASS" if ok else "FAIL"


def table(res):
    rows = []
    q = res.get("qps")
    if q:
        s, k = (B.med(q[t]["qps"]) for t in ("switch", "knotd"))
        ok = s is not None and k and s / k >= CFG["target_ratio"]
        rows.append((f"NAPTR queries/s, {CFG['numbers']:,} registered numbers + {CFG['nx_pct']:g} % NXDOMAIN",
                     fnum(s), fnum(k), f"{ratio(s, k)}  target >= {CFG['target_ratio']}: {verdict(ok)}"))
        for key, label, nd in (("avg_latency_ms", "  average latency [ms] (dnsperf)", 3),
                               ("max_latency_ms", "  max latency [ms] (dnsperf)", 1),
                               ("lost_pct", "  lost [%]", 2),
                               ("server_cpu_pct", "  server CPU [% of its one pinned core]", 0),
                               ("dnsperf_cpu_pct", "  dnsperf CPU [% of 1 core]", 0),
                               ("avg_response_bytes", "  average response [bytes]", 0)):
            s, k = (B.med(q[t][key]) for t in ("switch", "knotd"))
            rows.append((label, fnum(s, nd), fnum(k, nd), ""))
    v = res.get("visible")
    if v and v.get("send_to_visible"):
        sv, ov = v["send_to_visible"], v["ok_to_visible"]
        p99 = sv.get("p99_us")
        ok = p99 is not None and p99 / 1000.0 <= CFG["target_visible_p99_ms"] and not v.get("not_visible")
        rows.append((f"registration -> visible in DNS, {v.get('count')} numbers, p50/p99/max [ms]", "", "", ""))
        rows.append(("  from the authenticated REGISTER's send (embedded)", ms_triple(sv), "-",
                     f"target p99 <= {CFG['target_visible_p99_ms']:g} ms: {verdict(ok)}"
                     + (f" ({v['not_visible']} never visible)" if v.get("not_visible") else "")))
        rows.append(("  from its 200 OK (embedded; < 0: before the 200 arrived)", ms_triple(ov), "-", ""))
    p = res.get("push")
    if p and p.get("send_to_visible"):
        sv, ov = p["send_to_visible"], p["ok_to_visible"]
        p99 = sv.get("p99_us")
        ok = p99 is not None and p99 / 1000.0 <= CFG["target_push_p99_ms"] and not p.get("not_visible")
        rows.append((f"registration -> visible in Knot (RFC 2136 push), {p.get('count')} numbers, p50/p99/max [ms]",
                     "", "", ""))
        rows.append(("  from the authenticated REGISTER's send", ms_triple(sv), "-",
                     f"target p99 <= {CFG['target_push_p99_ms']:g} ms: {verdict(ok)}"
                     + (f" ({p['not_visible']} never visible)" if p.get("not_visible") else "")))
        rows.append(("  from its 200 OK", ms_triple(ov), "-", ""))
    hdr = (f"metric (median of {CFG['runs']} run(s))", "switch", "knotd", "ratio / target")
    return B.render_table(hdr, rows)


def main():
    B.install_signal_handlers()
    B.require_free_ports([CFG["switch_port"], CFG["switch_dns_port"], CFG["knot_port"], CFG["push_switch_port"],
                          CFG["push_knot_port"]], "dns bench")
    for d in ("logs", "sipp"):
        os.makedirs(os.path.join(OUT, d), exist_ok=True)
    res = {"meta": {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": CFG, "only": ONLY,
                    "loadavg_at_start": os.getloadavg(), "autogroups": open("/proc/sys/kernel/sched_autogroup_enabled").read().strip(),
                    "host": B.host_versions({"knotd": ["knotd", "-V"], "dnsperf": ["dpkg-query", "-W", "dnsperf"],
                                             "switch": [CFG["switch_bin"], "--version"]})}}
    t_start = time.time()
    try:
        bulk = numbers(BULK_FIRST, CFG["numbers"])
        probe = numbers(PROBE_FIRST, CFG["visible_count"])
        push = numbers(PUSH_FIRST, CFG["visible_count"] + 1)
        ctx = {"queries": os.path.join(OUT, "queries.txt"), "probe_users": os.path.join(OUT, "probe-users.csv"),
               "push_warmup": os.path.join(OUT, "push-warmup.csv"), "push_users": os.path.join(OUT, "push-users.csv"),
               "zone": os.path.join(OUT, "e164.arpa.zone"), "idle_procs": []}
        res["meta"]["nx_queries"] = write_queries(ctx["queries"], bulk)
        write_zone(ctx["zone"], bulk)
        write_users(ctx["probe_users"], probe)
        write_users(ctx["push_warmup"], push[:1])
        write_users(ctx["push_users"], push[1:])
        template, took = B.make_switch_store(CFG["switch_bin"], bulk + probe + push)
        ctx["template"] = template
        res["meta"]["switch_provisioning_s"] = took
        switch = B.Switch(CFG["switch_bin"], CFG["switch_port"], template,
                          extra_args=["--dns", f"udp:{B.HOST}:{CFG['switch_dns_port']}"],
                          log_level=env("BENCH_SWITCH_LOG", "warn"), prefix=pin(CFG["server_cpu"], rt=True))
        switch.start("dns")
        boost(switch.name)
        sipp, res["meta"]["bulk_registration_s"] = register_bulk(switch, bulk)
        ctx["idle_procs"] = [sipp]
        if "qps" in ONLY:
            Knot(CFG["knot_port"], CFG["server_cpu"]).start("static", ctx["zone"])
        B.run_measurements(res, (("qps", measure_qps), ("visible", measure_visible),
                                 ("push", measure_push_visible)), ctx, ONLY)
        res["meta"]["switch_log_problem_lines"] = switch.log_problems()
    finally:
        for name in list(B.PROCS):
            if name.startswith("sipp-"):
                resume_sipp(name)
        B.close_run(res, t_start, RESULTS)
    return B.report(res, table, RESULTS, OUT)


if __name__ == "__main__":
    sys.exit(main())
