#!/usr/bin/env bash
# Calls benchmark: our switch (B2BUA + RTP relay) side by side with Kamailio
# 5.6 + rtpengine 10.5 (Debian packages, userspace relay), in one run,
# loopback (127.0.0.0/8) only.  Method: scripts/bench/CALLS.md.
#
#   scripts/bench/calls.sh                     # full: 3 runs each, interleaved (~16 min on this 2-core VM)
#   BENCH_RUNS=1 BENCH_CALLS_LADDER=25,50 BENCH_CALLS_STEP_S=4 BENCH_CALLS_REFINE_STEPS=0 \
#     BENCH_RELAY_STREAMS=20 BENCH_RELAY_SECONDS=5 scripts/bench/calls.sh     # smoke, ~2 min
#   BENCH_TARGETS=kamailio scripts/bench/calls.sh   # one stack only
#   BENCH_ONLY=relay scripts/bench/calls.sh         # one measurement only (calls,relay)
#   BENCH_ONLY=relay BENCH_RUNS=1 scripts/bench/calls.sh   # the relay part alone, ~2 min (+ builds)
#   BENCH_ONLY=relay BENCH_RUNS=1 BENCH_RELAY_REGISTER_RATE=500 scripts/bench/calls.sh  # under REGISTER load
#
#   calls  calls/s with G.711 RTP both ways, SIPp-driven: callee registered over
#          its own TCP flow answering down it with -rtp_echo, caller playing
#          g711a.pcap; open-loop rate ladder, pass = < 1 % failed, >= 95 % of the
#          offered rate, p99 setup <= BENCH_P99_SLO_MS; concurrent calls, relayed
#          packets per call, CPU.
#   relay  transit p50/p99/p99.9 through rtpengine and the switch's relay in
#          one run, interleaved packet by packet (lib/relay_probe.py sets the
#          calls up, scripts/bench/transit's relay-transit sends and times the
#          packets: Rust, one clock), with straight loopback as a third lane;
#          relay CPU and packets/s per core; then each relay flooded alone
#          (BENCH_RELAY_FLOOD_S).  BENCH_RELAY_REGISTER_RATE > 0:
#          the same SIPp REGISTER load on both SIP servers meanwhile.
#
# Installs what is missing (Debian: kamailio kamailio-sqlite-modules
# rtpengine-daemon rtpengine-utils sip-tester; root or sudo), builds the
# switch (release) unless BENCH_SWITCH_BIN names one (only when the switch is
# a target), raises ulimit -n, then runs lib/calls_bench.py, which refuses to
# start if one of its ports is taken, starts every server, SIPp and probe as
# its child, tracks each by PID and stops it by PID (also on Ctrl-C or
# failure), prints the table and writes $BENCH_RESULTS.  Must run as root:
# SIPp's pcap player uses a raw socket.
#
# Knobs (environment; defaults in brackets), all listed in scripts/bench/README.md:
#   BENCH_RUNS [3]  BENCH_TARGETS [switch,kamailio]  BENCH_ONLY [calls,relay]
#   BENCH_CALLS_LADDER [25,50,75,100,125,150,200,250,300] (_SWITCH/_KAMAILIO override)
#   BENCH_CALLS_STEP_S [8]  BENCH_CALLS_HOLD_MS [7600]  BENCH_CALLS_REFINE_STEPS [1]
#   BENCH_CALLS_REF_RATE [50]  BENCH_P99_SLO_MS [200]
#   BENCH_RELAY_STREAMS [50,150]  BENCH_RELAY_SECONDS [21]  BENCH_RELAY_WARMUP_S [1]
#   BENCH_RELAY_REGISTER_RATE [0]  BENCH_RELAY_REGISTER_USERS [1000]  BENCH_TRANSIT_BIN
#   BENCH_TRANSIT_RT_PRIORITY [10]  BENCH_RELAY_FLOOD_S [5]  BENCH_RELAY_SYSCALLS [0]
#   BENCH_KAM_PORT [25060]  BENCH_SWITCH_PORT [25070]  BENCH_RTPE_NG_PORT [25223]
#   BENCH_RTPE_CLI_PORT [25224]  BENCH_RTPE_PORTS [10000-14999]
#   BENCH_SWITCH_RELAY_PORTS [15000-19999]  BENCH_SWITCH_BIN  BENCH_SWITCH_LOG [warn]
#   BENCH_SWITCH_EXTRA_TOML  BENCH_SWITCH_RELAY_THREADS [2]  BENCH_OUT [/tmp/bench-calls-out]  BENCH_RESULTS
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export BENCH_OUT="${BENCH_OUT:-${TMPDIR:-/tmp}/bench-calls-out}"
export BENCH_RESULTS="${BENCH_RESULTS:-$BENCH_OUT/results.json}"
BENCH_NAME=calls.sh
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
bench_help "$@"

[ "$(id -u)" -eq 0 ] || { echo "calls.sh: run as root (SIPp's pcap audio player needs a raw socket)" >&2; exit 1; }
bench_install kamailio:kamailio kamcmd:kamailio \
    /usr/lib/x86_64-linux-gnu/kamailio/modules/db_sqlite.so:kamailio-sqlite-modules \
    rtpengine:rtpengine-daemon rtpengine-ctl:rtpengine-utils sipp:sip-tester python3:python3
[ -f /usr/share/sip-tester/g711a.pcap ] || { echo "calls.sh: /usr/share/sip-tester/g711a.pcap missing" >&2; exit 1; }
case ",${BENCH_TARGETS:-switch,kamailio}," in *,switch,*) bench_switch_bin ;; esac
case ",${BENCH_ONLY:-calls,relay}," in *,relay,*)
    if [ -z "${BENCH_TRANSIT_BIN:-}" ]; then
        (cd "$REPO" && cargo build --release --locked -p relay-transit)
        BENCH_TRANSIT_BIN="$REPO/target/release/relay-transit"
    fi
    export BENCH_TRANSIT_BIN="$(realpath "$BENCH_TRANSIT_BIN")" ;;
esac
# descriptors: SIPp's pcap player holds a socket per call in flight
bench_ulimit 4096
bench_fresh_out
exec python3 "$HERE/lib/calls_bench.py"
