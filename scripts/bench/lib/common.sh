# shellcheck shell=bash
# Shared set-up of the bench entry points (registrar.sh, calls.sh, dns.sh, cluster.sh): sourced,
# never run.  Each function says what it does in one line; the orchestration
# itself (processes by PID, sampling, ladders) is in lib/benchlib.py.

# bench_help "$@" -- with -h/--help, prints the entry script's header comment
# (from line 2 to `set -euo`) and exits.
bench_help() {
    case "${1:-}" in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
}

# bench_install CMD:PACKAGE... -- apt-get install the packages whose command
# (or file, when CMD starts with /) is missing (Debian; root or sudo).
bench_install() {
    local missing=() spec cmd pkg
    for spec in "$@"; do
        cmd="${spec%%:*}" pkg="${spec#*:}"
        if [[ "$cmd" == /* ]]; then [ -e "$cmd" ] && continue
        else command -v "$cmd" >/dev/null 2>&1 && continue; fi
        missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    echo "$BENCH_NAME: installing ${missing[*]}" >&2
    local SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 $SUDO apt-get update -qq
    # policy-rc.d or not: the packaged services (kamailio, rtpengine-daemon)
    # are never used; each benchmark runs its own instances on its own ports.
    timeout 600 $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# bench_switch_bin -- sets BENCH_SWITCH_BIN (absolute), building the release
# switch when none is named.
bench_switch_bin() {
    if [ -z "${BENCH_SWITCH_BIN:-}" ]; then
        (cd "$REPO" && cargo build --release --locked -p switch)
        BENCH_SWITCH_BIN="$REPO/target/release/switch"
    fi
    [ -x "$BENCH_SWITCH_BIN" ] || { echo "$BENCH_NAME: no switch binary at $BENCH_SWITCH_BIN" >&2; exit 1; }
    BENCH_SWITCH_BIN="$(realpath "$BENCH_SWITCH_BIN")"   # children run in $BENCH_OUT
    export BENCH_SWITCH_BIN
}

# bench_ulimit NEED -- raises the open-file limit to 20000 (or the hard
# limit) and fails when that is below NEED.
bench_ulimit() {
    local hard want=20000
    hard="$(ulimit -Hn)"
    if [ "$hard" != "unlimited" ] && [ "$hard" -lt "$want" ]; then want="$hard"; fi
    ulimit -n "$want"
    if [ "$want" -lt "$1" ]; then
        echo "$BENCH_NAME: ulimit -n is $want, need $1" >&2
        exit 1
    fi
}

# bench_fresh_out -- recreates $BENCH_OUT and says where and how loaded.
bench_fresh_out() {
    rm -rf "$BENCH_OUT"
    mkdir -p "$BENCH_OUT"
    echo "$BENCH_NAME: $(date -Is), load average: $(cut -d' ' -f1-3 /proc/loadavg), out: $BENCH_OUT" >&2
}
