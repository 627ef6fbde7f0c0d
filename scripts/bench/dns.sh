#!/usr/bin/env bash
# DNS benchmark (issue 13 item 8): the switch's embedded DNS server against
# knotd (Knot DNS 3.2, Debian) serving the same NAPTR records from a static
# zone, same machine, same run; and registration -> visible in DNS.
# Loopback (127.0.0.0/8) only.  Method and figures: scripts/bench/DNS.md.
#
#   scripts/bench/dns.sh            # full: 10,000 numbers, 3 runs each interleaved, 20 s each (~4 min)
#   BENCH_RUNS=1 BENCH_DNS_NUMBERS=500 BENCH_DNS_SECONDS=3 BENCH_VISIBLE_COUNT=50 \
#     scripts/bench/dns.sh          # smoke, < 1 min (plus the build)
#   BENCH_ONLY=visible scripts/bench/dns.sh    # one measurement only (qps,visible,push)
#
#   qps      dnsperf NAPTR queries/s against each server; the switch has
#            BENCH_DNS_NUMBERS numbers registered over SIP/TCP with digest
#            (SIPp, connections held), knotd the same NAPTRs in a zone file;
#            one shuffled query list: every ENUM name plus BENCH_DNS_NX_PCT %
#            names nobody has (NXDOMAIN).  Same CPU budget: the server under
#            test is pinned to CPU BENCH_SERVER_CPU, dnsperf (and SIPp, paused)
#            to BENCH_CLIENT_CPU; knotd runs one UDP worker; both servers and
#            dnsperf run SCHED_FIFO BENCH_RT_PRIO (the machine's other work
#            cannot take their cores; the kernel still keeps 5 % for it).  Prints
#            queries/s, dnsperf's average/max latency, lost %, CPU, and the
#            ratio against the target (>= 0.5x knotd).
#   visible  lib/dns_visible.py: BENCH_VISIBLE_COUNT more numbers register one
#            at a time (digest, TCP); per number the time from the
#            authenticated REGISTER's send until the embedded server's NAPTR
#            answer carries sip:NUMBER@DOMAIN (polled over UDP, BENCH_VISIBLE_POLL_MS
#            pause); p50/p99/max, target p99 <= 50 ms.
#   push     registration -> visible in Knot: a second switch ([dns.update],
#            zone bench.test., TSIG hmac-sha256) pushes RFC 2136 UPDATEs into a
#            second knotd (update ACL, zone starting with SOA/NS only); the same
#            probe registers BENCH_VISIBLE_COUNT other numbers with it and polls
#            that knotd; p50/p99/max, target p99 <= 500 ms.
#
# Installs what is missing (Debian: dnsperf knot knot-dnsutils sip-tester;
# root or sudo), builds the switch (release) unless BENCH_SWITCH_BIN names one,
# raises ulimit -n, then runs lib/dns_bench.py, which refuses to start if one
# of its ports is taken, starts the switch, knotd, SIPp, dnsperf and the probe
# as its children, tracks each by PID and stops it by PID (also on Ctrl-C or
# failure), prints the table and writes $BENCH_RESULTS.
#
# Knobs (environment; defaults in brackets), all listed in scripts/bench/README.md:
#   BENCH_RUNS [3]  BENCH_ONLY [qps,visible,push]  BENCH_DNS_NUMBERS [10000]
#   BENCH_DNS_NX_PCT [10]  BENCH_DNS_SECONDS [20]  BENCH_DNS_CLIENTS [8]
#   BENCH_DNS_OUTSTANDING [200]  BENCH_DNS_REG_RATE [1000]
#   BENCH_VISIBLE_COUNT [1000]  BENCH_VISIBLE_POLL_MS [1]
#   BENCH_SERVER_CPU [0]  BENCH_CLIENT_CPU [1]  BENCH_RT_PRIO [10; 0: normal scheduling]
#   BENCH_AUTOGROUP_NICE [-10]
#   BENCH_SWITCH_PORT [25080]  BENCH_SWITCH_DNS_PORT [25081]  BENCH_KNOT_PORT [25082]
#   BENCH_PUSH_SWITCH_PORT [25083]  BENCH_PUSH_KNOT_PORT [25084]
#   BENCH_SWITCH_BIN  BENCH_SWITCH_LOG [warn]  BENCH_OUT [/tmp/bench-dns-out]  BENCH_RESULTS
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export BENCH_OUT="${BENCH_OUT:-${TMPDIR:-/tmp}/bench-dns-out}"
export BENCH_RESULTS="${BENCH_RESULTS:-$BENCH_OUT/results.json}"
BENCH_NAME=dns.sh
# shellcheck source=lib/common.sh
. "$HERE/lib/common.sh"
bench_help "$@"

bench_install dnsperf:dnsperf knotd:knot kdig:knot-dnsutils sipp:sip-tester taskset:util-linux python3:python3
[ "$(nproc)" -ge 2 ] || { echo "dns.sh: needs 2 CPUs (server on one, client on the other)" >&2; exit 1; }
bench_switch_bin
# one descriptor per registered TCP flow in SIPp and in the switch
bench_ulimit $(( ${BENCH_DNS_NUMBERS:-10000} + 2 * ${BENCH_VISIBLE_COUNT:-1000} + 500 ))
bench_fresh_out
# exec: Python is then this process; it stops every child it started by PID on
# exit, on failure and on SIGINT/SIGTERM.
exec python3 "$HERE/lib/dns_bench.py"
