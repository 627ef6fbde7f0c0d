#!/usr/bin/env bash
# Recovery-time table (issue 6): runs the real-NAT scenarios RUNS times
# (default 3) and prints min / median / max of every RECOVERY figure they
# report. Needs root (network namespaces), like the tests themselves.
#
# Usage: scripts/roaming/recovery.sh [RUNS]
#   RECOVERY_TESTS  test targets of the `tests` crate to run (default: "roaming nat_roaming")
#   RECOVERY_OUT    where the raw lines go (default: /tmp/recovery-out)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "recovery.sh: RUNS must be a positive number" >&2; exit 2; }
out=${RECOVERY_OUT:-/tmp/recovery-out}
mkdir -p "$out"
: >"$out/recovery.txt"
targets=()
for t in ${RECOVERY_TESTS:-roaming nat_roaming}; do targets+=(--test "$t"); done
cargo build -q --workspace --bins
for i in $(seq 1 "$runs"); do
    echo "run $i/$runs ..." >&2
    {
        cargo test -q -p tests "${targets[@]}" -- --nocapture 2>&1
        # The event-driven path: a local address change (netlink) to the new REGISTER.
        cargo test -q -p agent --test loopback_switch a_local_address_change -- --nocapture 2>&1
    } | tee "$out/run-$i.log" | grep -o 'RECOVERY metric=[^ ]* seconds=[0-9.]*' >>"$out/recovery.txt" || true
    if grep -q 'FAILED\|panicked' "$out/run-$i.log"; then
        echo "recovery.sh: run $i had failures, see $out/run-$i.log" >&2
    fi
done
python3 - "$out/recovery.txt" <<'PY'
import re, statistics, sys
figs = {}
for line in open(sys.argv[1]):
    m = re.match(r"RECOVERY metric=(\S+) seconds=([0-9.]+)", line)
    if m:
        figs.setdefault(m.group(1), []).append(float(m.group(2)))
print("| path | runs | min s | median s | max s |")
print("| --- | --- | --- | --- | --- |")
for k in sorted(figs):
    v = figs[k]
    print(f"| {k} | {len(v)} | {min(v):.1f} | {statistics.median(v):.1f} | {max(v):.1f} |")
PY
