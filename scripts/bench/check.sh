#!/usr/bin/env bash
# Regression guard on CPU cost (issue 17 item 8): instruction counts, which do
# not move with the machine's load, of
#   parse_invite  one sipcore::parse of the typical INVITE (sipcore/benches/invite.sip;
#                 scripts/bench/loops/src/bin/parse_loop.rs)
#   register      the switch's work for one digest registration (REGISTER, 401,
#                 REGISTER with Authorization, 200 OK; scripts/bench/loops/src/bin/register_loop.rs)
# measured under callgrind and compared with scripts/bench/baseline.json.
# Fails (exit 1) when either rose more than 10 %.
#
# Usage: scripts/bench/check.sh            # measure and compare
#        scripts/bench/check.sh --update   # measure and rewrite baseline.json
#
# Each figure is a difference of two runs, (Ir(2n) - Ir(n)) / n, so start-up
# (SQLite opening its file, the first statement preparation, allocator
# warm-up) cancels out. Needs valgrind; builds both loops in the `callgrind`
# profile (Cargo.toml: release without debug info, and the crates the loops never
# run unoptimised).
set -euo pipefail
cd "$(dirname "$0")/../.."
BASELINE=scripts/bench/baseline.json
LIMIT_PCT=10
update=0
case "${1:-}" in
    --update) update=1 ;;
    "") ;;
    *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac
command -v valgrind >/dev/null || { echo "check.sh: valgrind is needed (apt-get install valgrind)" >&2; exit 2; }

cargo build --profile callgrind --locked -q -p bench-loops --bins
bin=${CARGO_TARGET_DIR:-target}/callgrind
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Instructions callgrind counted (only inside --toggle-collect's function when given).
instructions() {
    local file="$out/cg.$RANDOM"
    valgrind --tool=callgrind --callgrind-out-file="$file" "$@" >/dev/null 2>"$file.log" \
        || { cat "$file.log" >&2; echo "check.sh: $* failed under valgrind" >&2; exit 1; }
    awk '/^(summary|totals):/ { print $2; exit }' "$file"
}

# parse_loop parses 7 batches of N (timing each, a few calls per batch).
parse_n=1000
p1=$(N=$parse_n instructions "$bin/parse_loop" INVITE)
p2=$(N=$((2 * parse_n)) instructions "$bin/parse_loop" INVITE)
parse_invite=$(((p2 - p1) / (7 * parse_n)))

reg_n=500
collect=(--toggle-collect='*register_loop*server*')
r1=$(instructions "${collect[@]}" "$bin/register_loop" $reg_n)
r2=$(instructions "${collect[@]}" "$bin/register_loop" $((2 * reg_n)))
register=$(((r2 - r1) / reg_n))

echo "parse_invite: $parse_invite instructions per parse"
echo "register:     $register instructions per registration (2 requests, digest, SQLite commit)"

if ((update)); then
    printf '{\n  "parse_invite": %d,\n  "register": %d\n}\n' "$parse_invite" "$register" >"$BASELINE"
    echo "check.sh: wrote $BASELINE"
    exit 0
fi

fail=0
for name in parse_invite register; do
    now=${!name}
    base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$BASELINE" "$name")
    pct=$(python3 -c 'import sys; b,n=map(int,sys.argv[1:]); print(f"{100*(n-b)/b:+.1f}")' "$base" "$now")
    if ((now * 100 > base * (100 + LIMIT_PCT))); then
        echo "check.sh: FAIL $name: $now instructions, baseline $base ($pct %, limit +$LIMIT_PCT %)" >&2
        fail=1
    elif ((now * 100 < base * (100 - LIMIT_PCT))); then
        echo "check.sh: ok $name: $now vs $base ($pct %): cheaper; record it with --update"
    else
        echo "check.sh: ok $name: $now vs $base ($pct %)"
    fi
done
exit $fail
