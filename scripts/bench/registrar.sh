#!/usr/bin/env bash
# Registrar benchmark: our switch side by side with Kamailio 5.6 (the anchors'
# `reg` digest and `held` methods, plus `ref`: fixed rates), SIPp-driven, loopback (127.0.0.0/8) only.
#
#   scripts/bench/registrar.sh                       # full: 3 runs, ~17 min on 2 idle cores
#   BENCH_ONLY=ref scripts/bench/registrar.sh        # fixed 1,000 and 4,000 REGISTER/s only, with
#                                                    # syscalls and context switches per REGISTER
#   BENCH_ONLY=ref BENCH_TARGETS=switch BENCH_SWITCH_SQLITE_SYNCHRONOUS=off \
#     scripts/bench/registrar.sh                     # the same with commits never fsynced (not durable)
#   BENCH_RUNS=1 BENCH_REG_LADDER=1000,2000 BENCH_REG_STEP_S=3 \
#     BENCH_HELD_USERS=500 BENCH_HELD_HOLD_S=8 scripts/bench/registrar.sh   # smoke, ~1 min
#
# Installs what is missing (Debian: kamailio kamailio-sqlite-modules
# sip-tester), builds the switch (release) unless BENCH_SWITCH_BIN is given,
# raises ulimit -n (set-up shared in lib/common.sh), then runs
# lib/registrar_bench.py, which refuses to start if its ports are taken,
# starts every server and SIPp as a child, tracks each by PID and stops it by
# PID (also on Ctrl-C or failure), prints the table and writes $BENCH_RESULTS.  Knobs: see scripts/bench/README.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export BENCH_OUT="${BENCH_OUT:-${TMPDIR:-/tmp}/bench-registrar-out}"
export BENCH_RESULTS="${BENCH_RESULTS:-$BENCH_OUT/results.json}"
export BENCH_KAM_PORT="${BENCH_KAM_PORT:-25060}"
export BENCH_SWITCH_PORT="${BENCH_SWITCH_PORT:-25070}"

BENCH_NAME=registrar.sh
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"

bench_install kamailio:kamailio kamcmd:kamailio \
    /usr/lib/x86_64-linux-gnu/kamailio/modules/db_sqlite.so:kamailio-sqlite-modules \
    sipp:sip-tester python3:python3 perf:linux-perf
bench_switch_bin
# one descriptor per TCP flow in SIPp and in each server
bench_ulimit $(( ${BENCH_HELD_USERS:-5000} + 500 ))
bench_fresh_out
# the orchestrator refuses to start when BENCH_KAM_PORT / BENCH_SWITCH_PORT are taken.
# exec: Python is then this process; it stops every child it started by PID on
# exit, on failure and on SIGINT/SIGTERM.
exec python3 "$HERE/lib/registrar_bench.py"
