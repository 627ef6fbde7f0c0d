#!/usr/bin/env bash
# Registrar benchmark: our switch side by side with Kamailio 5.6 (the anchors'
# `reg` digest and `held` methods), SIPp-driven, loopback (127.0.0.0/8) only.
#
#   scripts/bench/registrar.sh                       # full: 3 runs, ~15 min on 2 idle cores
#   BENCH_RUNS=1 BENCH_REG_LADDER=1000,2000 BENCH_REG_STEP_S=3 \
#     BENCH_HELD_USERS=500 BENCH_HELD_HOLD_S=8 scripts/bench/registrar.sh   # smoke, ~1 min
#
# Installs what is missing (Debian: kamailio kamailio-sqlite-modules
# sip-tester), builds the switch (release) unless BENCH_SWITCH_BIN is given,
# raises ulimit -n, refuses to start if its ports are taken, then runs
# lib/registrar_bench.py, which starts every server and SIPp as a child, tracks
# each by PID and stops it by PID (also on Ctrl-C or failure), prints the table
# and writes $BENCH_RESULTS.  Knobs: see scripts/bench/README.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export BENCH_OUT="${BENCH_OUT:-${TMPDIR:-/tmp}/bench-registrar-out}"
export BENCH_RESULTS="${BENCH_RESULTS:-$BENCH_OUT/results.json}"
export BENCH_KAM_PORT="${BENCH_KAM_PORT:-25060}"
export BENCH_SWITCH_PORT="${BENCH_SWITCH_PORT:-25070}"

# --- packages -----------------------------------------------------------------
missing=()
command -v kamailio >/dev/null 2>&1 && command -v kamcmd >/dev/null 2>&1 || missing+=(kamailio)
[ -f /usr/lib/x86_64-linux-gnu/kamailio/modules/db_sqlite.so ] || missing+=(kamailio-sqlite-modules)
command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ((${#missing[@]})); then
    echo "registrar.sh: installing ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian enables the packaged kamailio service on install; this benchmark runs
# its own instance on its own port and never touches the service.

# --- the switch -------------------------------------------------------------------
if [ -z "${BENCH_SWITCH_BIN:-}" ]; then
    (cd "$REPO" && cargo build --release --locked -p switch)
    export BENCH_SWITCH_BIN="$REPO/target/release/switch"
fi
[ -x "$BENCH_SWITCH_BIN" ] || { echo "registrar.sh: no switch binary at $BENCH_SWITCH_BIN" >&2; exit 1; }
export BENCH_SWITCH_BIN="$(realpath "$BENCH_SWITCH_BIN")"   # children run in $BENCH_OUT

# --- ports ------------------------------------------------------------------------
for p in "$BENCH_KAM_PORT" "$BENCH_SWITCH_PORT"; do
    case "$p" in ''|*[!0-9]*) echo "registrar.sh: bad port '$p'" >&2; exit 1 ;; esac
done
busy="$(ss -Hltnu 2>/dev/null | awk '{print $5}' |
        grep -E "^(127\.0\.0\.1|0\.0\.0\.0|\*|\[::\]):($BENCH_KAM_PORT|$BENCH_SWITCH_PORT)\$" || true)"
if [ -n "$busy" ]; then
    echo "registrar.sh: ports busy (set BENCH_KAM_PORT / BENCH_SWITCH_PORT): $busy" >&2
    exit 1
fi

# --- file descriptors: one per TCP flow in SIPp and in each server -----------------
hard="$(ulimit -Hn)"
want=20000
if [ "$hard" != "unlimited" ] && [ "$hard" -lt "$want" ]; then want="$hard"; fi
ulimit -n "$want"
need=$(( ${BENCH_HELD_USERS:-5000} + 500 ))
if [ "$want" -lt "$need" ]; then
    echo "registrar.sh: ulimit -n is $want, need $need for BENCH_HELD_USERS" >&2
    exit 1
fi

rm -rf "$BENCH_OUT"
mkdir -p "$BENCH_OUT"
echo "registrar.sh: $(date -Is), load average: $(cut -d' ' -f1-3 /proc/loadavg), out: $BENCH_OUT" >&2
# exec: Python is then this process; it stops every child it started by PID on
# exit, on failure and on SIGINT/SIGTERM.
exec python3 "$HERE/lib/registrar_bench.py"
