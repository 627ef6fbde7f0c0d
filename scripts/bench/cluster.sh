#!/usr/bin/env bash
# Cluster benchmark (issue 14 item 7): switch nodes sharing one Redis against
# one switch on SQLite, SIPp-driven, loopback (127.0.0.0/8) only.  Method and
# figures: scripts/bench/CLUSTER.md; the capacity model built on them: SCALING.md.
#
#   scripts/bench/cluster.sh        # full: 1 run, every setup, held and xnode (~10-12 min)
#   BENCH_REG_USERS=500 BENCH_REG_LADDER=500,1000,2000 BENCH_REG_STEP_S=3 BENCH_REFINE_STEPS=0 \
#     BENCH_REG_REF_RATE=500 BENCH_SETUPS=sqlite:1,cluster:1,cluster:2 BENCH_HELD_USERS=500 \
#     BENCH_HELD_HOLD_S=6 BENCH_XNODE_CALLS=200 BENCH_XNODE_RATE=40 scripts/bench/cluster.sh   # smoke, ~2 min
#   BENCH_ONLY=xnode scripts/bench/cluster.sh    # one measurement only (reg,held,xnode)
#
#   reg    REGISTER/s with digest over TCP, registrar.sh's method (SIPp
#          scenarios/reg_tcp_auth.xml, BENCH_REG_USERS flows, open-loop ladder,
#          a step passes with < 1 % failed, >= 95 % of the rate achieved and
#          p99 <= BENCH_P99_SLO_MS; fresh nodes per step) for each setup of
#          BENCH_SETUPS: sqlite:1 (one node, SQLite), server:N (N nodes on one
#          redis-server), cluster:N (N nodes on a Redis Cluster of 3 masters
#          + 3 replicas, as tests/src/redis.rs builds it, [store]
#          wait_replicas = BENCH_REDIS_WAIT_REPLICAS).  N nodes: users split in
#          N ranges, one SIPp per node, the rate is the sum.  At
#          BENCH_REG_REF_RATE: Redis commands per registration (INFO
#          commandstats of the masters over the steady window), CPU of the
#          nodes and of Redis.  Target: a Redis node >= 0.8x the SQLite node.
#   held   BENCH_HELD_USERS registered TCP flows held idle on a SQLite node
#          and on a node of BENCH_HELD_REDIS: PSS per held flow, Redis
#          used_memory per registered number (also per provisioned subscriber).
#   xnode  two nodes on BENCH_XNODE_REDIS, a SIPp callee registered on node B;
#          two SIPp callers at the same time, BENCH_XNODE_CALLS calls each at
#          BENCH_XNODE_RATE/s, one through node A (forwarded to B), one
#          through node B: INVITE -> 200 set-up time of every call (SIPp
#          -trace_msg timestamps), p50/p99; target: cross-node adds <= 5 ms at p99.
#
# Installs what is missing (Debian: redis-server redis-tools sip-tester; root
# or sudo), builds the switch (release) unless BENCH_SWITCH_BIN names one,
# raises ulimit -n, then runs lib/cluster_bench.py, which refuses to start if
# one of its ports is taken, starts Redis, the switch nodes and SIPp as its
# children, tracks each by PID and stops it by PID (also on Ctrl-C or
# failure), prints the table and writes $BENCH_RESULTS.
#
# Knobs (environment; defaults in brackets), all described in scripts/bench/CLUSTER.md:
#   BENCH_RUNS [1]  BENCH_ONLY [reg,held,xnode]
#   BENCH_SETUPS [sqlite:1,server:1,cluster:1,cluster:2,cluster:3]
#   BENCH_REG_USERS [2000]  BENCH_REG_LADDER [1000,2000,4000,6000,...,16000]
#   BENCH_REG_STEP_S [8]  BENCH_REFINE_STEPS [2]  BENCH_P99_SLO_MS [200]  BENCH_REG_REF_RATE [1000]
#   BENCH_HELD_USERS [5000]  BENCH_HELD_RATE [1000]  BENCH_HELD_HOLD_S [15]  BENCH_HELD_REDIS [cluster]
#   BENCH_XNODE_CALLS [1000]  BENCH_XNODE_RATE [50]  BENCH_XNODE_HOLD_MS [200]  BENCH_XNODE_REDIS [cluster]
#   BENCH_XNODE_IDLE_S [3]  BENCH_REDIS_WAIT_REPLICAS [1]
#   BENCH_REG_DEADLINE_S [540; no new reg step after it, held and xnode still run: the run stays under 12 min]
#   BENCH_SWITCH_PORT [25300; node i +10(i-1)]  BENCH_REDIS_PORT [25330]
#   BENCH_CLUSTER_PORT [25331-25336]  BENCH_CLUSTER_BUS_PORT [25341-25346]
#   BENCH_RELAY_PORT [26000; node i: 1000 ports from +1000(i-1)]
#   BENCH_SWITCH_BIN  BENCH_SWITCH_LOG [warn]  BENCH_OUT [/tmp/bench-cluster-out]  BENCH_RESULTS
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export BENCH_OUT="${BENCH_OUT:-${TMPDIR:-/tmp}/bench-cluster-out}"
export BENCH_RESULTS="${BENCH_RESULTS:-$BENCH_OUT/results.json}"
BENCH_NAME=cluster.sh
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
bench_help "$@"

bench_install redis-server:redis-server redis-cli:redis-tools sipp:sip-tester python3:python3
bench_switch_bin
# one descriptor per TCP flow in SIPp and in each node
bench_ulimit $(( ${BENCH_HELD_USERS:-5000} + ${BENCH_REG_USERS:-2000} + 500 ))
bench_fresh_out
# exec: Python is then this process; it stops every child it started by PID on
# exit, on failure and on SIGINT/SIGTERM.
exec python3 "$HERE/lib/cluster_bench.py"
