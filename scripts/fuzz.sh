#!/usr/bin/env bash
# The fuzz targets (fuzz/, see fuzz/README.md) under AFL++ through cargo-afl, on stable Rust.
#
#   scripts/fuzz.sh install           cargo-afl and its AFL++ build, when missing (needs make and a C compiler)
#   scripts/fuzz.sh build             the instrumented fuzz-afl binary (target/afl/)
#   scripts/fuzz.sh smoke [SECONDS]   every target for SECONDS in all (default 48); fails on a crash or a hang
#   scripts/fuzz.sh run TARGET EXECS  one long campaign until EXECS executions in all (nice 19, its autogroups too), output in
#                                     target/fuzz/long/; an unfinished one (stopped by Ctrl-C, a reboot) resumes
#   scripts/fuzz.sh lane TARGET EXECS a second lane for TARGET's campaign (a core of its own): the lanes share their
#                                     finds and their executions add up; each stops at EXECS of its own, so stop
#                                     both once `stats` shows the campaign's total there
#   scripts/fuzz.sh stats TARGET      the long campaign's figures, its lanes' summed
#   scripts/fuzz.sh row TARGET...     the same as rows of fuzz/README.md's long-run table
#   scripts/fuzz.sh seed TARGET...    rebuild fuzz/corpus/TARGET from the seeds (scripts/fuzz/seeds.py), minimised
#   scripts/fuzz.sh cmin TARGET       fold the long campaign's queue into fuzz/corpus/TARGET, minimised
#
# Nothing here changes the host: AFL++'s checks for a CPU governor, a core_pattern
# and a free core are answered with environment variables, so it runs in a
# container, as root, without a terminal (CI).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(sip_message sip_stream digest sdp_rewrite rtp_packet rtp_stream stun dns dns_update_answer flow_token push)
BIN=target/afl/debug/fuzz-afl
WORK=${FUZZ_WORK:-target/fuzz} # FUZZ_WORK: campaigns run from another checkout

export AFL_SKIP_CPUFREQ=1                       # no cpufreq governor to set in a container
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1  # core_pattern may pipe to a handler we must not change
export AFL_TRY_AFFINITY=1                       # pin to a free core when there is one (twice the speed), run anyway
export AFL_NO_UI=1                              # no terminal in CI
export AFL_QUIET=1

dict() {
    case "$1" in
        sip_message | sip_stream) echo fuzz/dict/sip.dict ;;
        digest) echo fuzz/dict/digest.dict ;;
        sdp_rewrite) echo fuzz/dict/sdp.dict ;;
    esac
}

check_target() {
    local t
    for t in "${TARGETS[@]}"; do [ "$t" = "$1" ] && return 0; done
    echo "fuzz.sh: no target '$1' (targets: ${TARGETS[*]})" >&2
    exit 2
}

install() {
    if ! cargo afl --version >/dev/null 2>&1; then
        echo "fuzz.sh: installing cargo-afl (builds AFL++)" >&2
        cargo install cargo-afl --version '~0.18' --locked --quiet # the afl crate in Cargo.lock is 0.18
    fi
    # The AFL++ runtime is built per rustc version: after a toolchain update it is missing.
    local out
    if ! out=$(cargo afl config --build 2>&1) && ! grep -q "already built" <<<"$out"; then
        echo "$out" >&2
        exit 1
    fi
}

build() {
    install
    # Line tables only, not cargo-afl's full debug info: a crash's backtrace still names file and line,
    # and the optimised, instrumented build takes 275 s instead of 338 s from a clean clone.
    CARGO_PROFILE_DEV_DEBUG=line-tables-only cargo afl build --locked --quiet -p fuzz --features afl --bin fuzz-afl --target-dir target/afl
}

# afl-fuzz for target $1 with extra arguments; output in $WORK/$2/$1, lane $LANE (default: AFL++'s own
# "default"). $BIN unless $RUN_BIN names another copy.
afl() {
    local t=$1 kind=$2
    shift 2
    local out=$WORK/$kind/$t input=fuzz/corpus/$t lane=${LANE:-default}
    if [ -n "${RESUME:-}" ] && [ -f "$out/$lane/fuzzer_stats" ]; then
        # AFL++ resumes from the queue and keeps counting (execs_done, run_time) where it stopped.
        input=-
        export AFL_AUTORESUME=1
    elif [ "$lane" = default ]; then
        rm -rf "$out" "$out".*log
    fi
    mkdir -p "$(dirname "$out")"
    # AFL++ runs a lane named by neither -M nor -S as `-S default`: every lane takes the others' finds.
    [ "$lane" = default ] || set -- -S "$lane" "$@"
    local d
    d=$(dict "$t")
    local g
    g=$(max_len "$t")
    # Without a terminal AFL++ logs a line per queue entry it fuzzes: hundreds of MB in a long campaign.
    local status=0
    # cargo-afl puts -c0 (CmpLog on the target binary itself) first; without the LLVM plugins (nightly) the
    # binary records no comparisons, so that stage only spends executions (a quarter of a long campaign's
    # time): `-c -` turns it off again.
    ${NICE:-} cargo afl fuzz -c - -i "$input" -o "$out" ${d:+-x "$d"} ${g:+-G "$g"} "$@" -- "${RUN_BIN:-$BIN}" "$t" 2>&1 |
        { grep -v 'Fuzzing test case' || true; } >>"$out${LANE:+.$LANE}.log" || status=$?
    return "$status"
}

# The longest input AFL++ may make for target $1 (its -G), where the default (1 MiB) only slows it down.
max_len() {
    case "$1" in
        # Streams: an input's cost grows with its length (every read, frame and message is handled twice), and
        # a campaign's queue drifts towards long ones: rtp_stream's first campaign, with no limit, averaged
        # 2,600 executions/s over 5.2 hours, a tenth of the others' rate; sip_stream's ran at 22,000/s for 11
        # minutes, then at 3,700/s, its newest inputs 90-120 KB. 32 KiB is twice the relay
        # decoder's buffer (4 frames of 4,096 bytes and their lengths), so the stream still wraps it.
        rtp_stream) echo 32768 ;;
        # At 32 KiB too, sip_stream fell to 2,300/s within 20 minutes. 8 KiB holds two messages at the
        # largest limit the target gives its framer (4,192 bytes), dozens at the smallest (128).
        sip_stream) echo 8192 ;;
    esac
}

# Fails when the campaign of $1 in $WORK/$2 saved a crash or a hang (in any lane), copying the inputs to $WORK/found/.
findings() {
    local t=$1 kind=$2 f n=0
    for f in "$WORK/$kind/$t"/*/crashes/id:* "$WORK/$kind/$t"/*/hangs/id:*; do
        [ -e "$f" ] || continue
        mkdir -p "$WORK/found/$t"
        cp "$f" "$WORK/found/$t/$(basename "$(dirname "$(dirname "$f")")")-$(basename "$f")"
        n=$((n + 1))
    done
    if ((n)); then
        echo "fuzz.sh: $t: $n crashing or hanging input(s), copied to $WORK/found/$t/" >&2
        return 1
    fi
}

smoke() {
    local total=${1:-48} each failed=0 t started
    each=$((total / ${#TARGETS[@]}))
    build
    started=$SECONDS
    for t in "${TARGETS[@]}"; do
        if ! afl "$t" smoke -V "$each"; then
            echo "fuzz.sh: afl-fuzz failed on $t; its log:" >&2
            tail -n 30 "$WORK/smoke/$t.log" >&2
            failed=1
            continue
        fi
        local execs
        execs=$(awk -F' *: *' '$1 == "execs_done" { print $2 }' "$WORK/smoke/$t/default/fuzzer_stats")
        echo "fuzz.sh: $t: ${each}s, $execs executions"
        findings "$t" smoke || failed=1
    done
    echo "fuzz.sh: smoke run of ${#TARGETS[@]} targets took $((SECONDS - started))s"
    return "$failed"
}

# Every 10 s, nice 19 for the scheduler autogroup of each process running the binary $1. The kernel shares
# the CPU between autogroups (one per session, on by default) before it looks at nice values, and afl-fuzz's
# fork server starts the target in a session of its own: with `nice 19` alone the target, which does nearly
# all the work, competes with builds and test runs as an equal. (afl-fuzz itself stays in the caller's
# session, whose autogroup is left alone.)
yield_cpu() {
    local p
    while true; do
        for p in $(pgrep -f -- "^$1"); do
            { echo 19 >"/proc/$p/autogroup"; } 2>/dev/null || true # gone since pgrep saw it: nothing to do
        done
        sleep 10
    done
}

run() {
    check_target "$1"
    build
    # A copy of its own, so that rebuilding during a campaign of hours does not swap the binary under it.
    local lane=${LANE:-default}
    local bin=$WORK/long/$1.$lane.bin
    mkdir -p "$WORK/long"
    cp "$BIN" "$bin"
    yield_cpu "$bin" &
    local yielder=$!
    # shellcheck disable=SC2064 # the pid now: the variable is local to run
    trap "kill $yielder 2>/dev/null || true" EXIT
    NICE="nice -n 19" RESUME=1 RUN_BIN="$bin" afl "$1" long -E "$2"
    kill "$yielder" 2>/dev/null || true
    rm -f "$bin"
    stats "$1"
    findings "$1" long
}

lane() {
    check_target "$1"
    [ -f "$WORK/long/$1/default/fuzzer_stats" ] || {
        echo "fuzz.sh: no campaign of $1 to help (scripts/fuzz.sh run $1 EXECS first)" >&2
        exit 2
    }
    LANE=helper run "$@"
}

# The campaign of $1 as one: executions, crashes and hangs summed over its lanes, run time and start of
# the first lane ("default"), queue and edges of the lane with most. Prints `key: value` lines.
campaign() {
    awk -F' *: *' -v first="$WORK/long/$1/default/fuzzer_stats" '
        FILENAME == first && $1 ~ /^(start_time|last_update|run_time|total_edges|stability|bitmap_cvg)$/ { v[$1] = $2 }
        $1 ~ /^(execs_done|saved_crashes|saved_hangs)$/ { v[$1] += $2 }
        # Lanes import the finds of the others: a queue or an edge count is no sum.
        $1 ~ /^(corpus_count|edges_found)$/ && $2 > v[$1] { v[$1] = $2 }
        FNR == 1 { lanes++ }
        END {
            v["lanes"] = lanes
            v["execs_per_sec"] = v["run_time"] ? int(v["execs_done"] / v["run_time"]) : 0
            n = split("lanes start_time last_update run_time execs_done execs_per_sec corpus_count bitmap_cvg edges_found total_edges saved_crashes saved_hangs stability", k, " ")
            for (i = 1; i <= n; i++) print k[i] ": " v[k[i]]
        }' "$WORK/long/$1"/*/fuzzer_stats
}

stats() {
    check_target "$1"
    campaign "$1"
}

row() {
    local t
    for t in "$@"; do
        check_target "$t"
        campaign "$t" | awk -F': ' -v t="$t" '{ v[$1] = $2 }
            END {
                state = v["execs_done"] >= 100000000 ? "done" : "unfinished"
                if (v["lanes"] > 1) state = state " (" v["lanes"] " lanes)"
                printf "| `%s` | %s | %s | %.1f h | %d | %d / %d | %d | %d | %s |\n", t,
                    strftime("%Y-%m-%d", v["start_time"], 1), v["execs_done"], v["run_time"] / 3600,
                    v["execs_per_sec"], v["edges_found"], v["total_edges"], v["saved_crashes"], v["saved_hangs"], state
            }'
    done
}

# AFL++'s programs as cargo-afl built them for this rustc.
afl_bin() {
    local rustc dir
    rustc=$(rustc -vV | awk '/^release:/ { r = $2 } /^commit-hash:/ { h = substr($2, 1, 7) } END { print "rustc-" r "-" h }')
    dir=$(ls -d "${XDG_DATA_HOME:-$HOME/.local/share}/afl.rs/$rustc"/afl.rs-*/afl/bin | sort -V | tail -n 1)
    [ -x "$dir/afl-cmin.bash" ] || { echo "fuzz.sh: no AFL++ build for $rustc (scripts/fuzz.sh install)" >&2; exit 1; }
    echo "$dir"
}

# Minimises the inputs in the given directories into fuzz/corpus/$1.
minimise() {
    local t=$1 all=$WORK/cmin-in/$1
    shift
    rm -rf "$all" "$WORK/cmin-out/$t"
    mkdir -p "$all" "$WORK/cmin-out"
    # Inputs up to 8 KiB only: the long ones a campaign grows add hit counts, not edges,
    # and the corpus is committed.
    local d
    for d in "$@"; do find "$d" -maxdepth 1 -type f -size -8k -exec cp {} "$all"/ \; 2>/dev/null || true; done
    # afl-cmin.bash, not `cargo afl cmin`: AFL++ 4.40c's Python afl-cmin keeps no file
    # from a persistent-mode Rust target ("0 unique tuples"). -e: one file per edge, hit counts aside.
    PATH="$(afl_bin):$PATH" afl-cmin.bash -e -i "$all" -o "$WORK/cmin-out/$t" -- "$BIN" "$t" >"$WORK/cmin-$t.log" 2>&1
    rm -rf "fuzz/corpus/$t"
    mkdir -p "fuzz/corpus/$t"
    # Names from the content: stable across runs, and no AFL++ metadata in the repository.
    local f
    for f in "$WORK/cmin-out/$t"/*; do
        cp "$f" "fuzz/corpus/$t/$(sha1sum "$f" | cut -c1-16)"
    done
    rm -rf "$all" "$WORK/cmin-out/$t"
    echo "fuzz.sh: $t: $(ls "fuzz/corpus/$t" | wc -l) corpus files"
}

seed() {
    build
    rm -rf "$WORK/seeds"
    python3 scripts/fuzz/seeds.py "$WORK/seeds"
    local t
    for t in "$@"; do
        check_target "$t"
        minimise "$t" "$WORK/seeds/$t"
    done
}

cmin() {
    check_target "$1"
    build
    minimise "$1" "fuzz/corpus/$1" "$WORK/long/$1"/*/queue
}

cmd=${1:-}
shift || true
case "$cmd" in
    install | build | smoke | run | lane | stats | row | seed | cmin) "$cmd" "$@" ;;
    *)
        sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
