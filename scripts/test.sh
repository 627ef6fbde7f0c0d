#!/usr/bin/env bash
# Runs every test of the workspace, installing what the tests need first.
# Usage: scripts/test.sh [extra cargo test args] [-- test binary args]
# Safe to run repeatedly: installs only what is missing. Needs root (or sudo)
# for the Debian packages on a fresh machine; run as root, it also runs the
# tests that need root (ignored otherwise, and it says so).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the end-to-end tests drive (command -> package).
declare -A NEED=(
    [sipp]=sip-tester
    [baresip]=baresip-core
    [iptables]=iptables
    [conntrack]=conntrack
    [ip]=iproute2
    [python3]=python3
    [sysctl]=procps
    [kill]=procps
    # coturn's STUN client, asked against the switch's STUN (switch/tests/stun_e2e.rs).
    [turnutils_stunclient]=coturn
    # cargo-afl builds AFL++ from source when it installs (scripts/fuzz.sh).
    [make]=make
    [cc]=gcc
    # The DNS tests ask the embedded server with both common clients.
    [kdig]=knot-dnsutils
    [dig]=bind9-dnsutils
    # Push mode UPDATEs a real Knot DNS primary (switch/tests/dns_push.rs).
    [knotd]=knot
    # The store on Redis: real servers and a 6-process Cluster (tests/src/redis.rs).
    [redis-server]=redis-server
    [redis-cli]=redis-tools
    # The admin listener's /metrics is checked by promtool (switch/tests/admin.rs).
    [promtool]=prometheus
    # HEP tracing: sngrep's HEP listener decodes the switch's packets and
    # tshark reads its capture back (switch/tests/hep.rs).
    [sngrep]=sngrep
    [tshark]=tshark
    # The package: built by cargo-deb (installed below), whose `$auto` Depends
    # runs dpkg-shlibdeps and --strip runs strip; read with dpkg-deb and readelf,
    # its unit checked by systemd-analyze, whose man-page check runs man
    # (switch/tests/package.rs).
    [dpkg-deb]=dpkg
    [dpkg-shlibdeps]=dpkg-dev
    [strip]=binutils
    [readelf]=binutils
    [systemd-analyze]=systemd
    [man]=man-db
    # The live web view is checked in a real browser (tests/tests/web_view.rs).
    [chromium]=chromium
    # valgrind: the C example softphone runs under it (agent/ffi/tests/softphone.rs)
    # and the CPU regression guard counts instructions with callgrind (scripts/bench/check.sh).
    [valgrind]=valgrind
)

missing=()
for cmd in "${!NEED[@]}"; do
    # type -P: a program on PATH, not a shell builtin (the tests run `kill` as a program).
    type -P "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}")
done
if ((${#missing[@]})); then
    echo "test.sh: installing ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The SIPVicious tools (svwar, svcrack) the enumeration and guessing tests
# attack the switch with: PyPI `sipvicious`, for the python3 on PATH.
if ! python3 -c 'import sipvicious.svwar, sipvicious.svcrack' 2>/dev/null; then
    echo "test.sh: installing sipvicious (pip)" >&2
    if ! python3 -m pip --version >/dev/null 2>&1; then
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
    fi
    # A Debian python refuses packages outside its own (PEP 668) unless told.
    python3 -m pip install -q sipvicious 2>/dev/null || python3 -m pip install -q --break-system-packages sipvicious
fi

# Playwright for Python, which drives that chromium (tests/tests/web_view.rs,
# scripts/web/view_test.py), in a venv under the target dir: the PyPI package
# brings its driver; the browser is Debian's, so nothing else is downloaded.
WEB_VENV="${CARGO_TARGET_DIR:-target}/web-venv"
if ! "$WEB_VENV/bin/python3" -c 'import playwright.sync_api' 2>/dev/null; then
    echo "test.sh: installing playwright (pip, into $WEB_VENV)" >&2
    if ! python3 -m venv "$WEB_VENV" 2>/dev/null; then
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        python3 -m venv "$WEB_VENV"
    fi
    "$WEB_VENV/bin/python3" -m pip install -q playwright
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "test.sh: cargo not found; install Rust (rustup) first" >&2
    exit 1
fi

# cargo-deb builds the Debian package (scripts/package/deb.sh, tested by
# switch/tests/package.rs): from crates.io, once (about 1.5 min of CPU to build).
if ! cargo deb --version >/dev/null 2>&1; then
    echo "test.sh: installing cargo-deb (cargo install)" >&2
    cargo install --locked --quiet cargo-deb
fi

echo "test.sh: set-up took ${SECONDS}s" >&2

# Runs "$@" and says how long it took: CI has a time budget, and this is where it goes.
timed() {
    local started=$SECONDS
    "$@"
    echo "test.sh: $* took $((SECONDS - started))s" >&2
}

# Test processes open many sockets (per-flow tests, connection caps).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The agent library as an embedder builds it: no CLI dependencies, and the
# portable fallback (no netlink, no timerfd) builds and passes its tests.
if cargo tree -p agent -e normal --locked | grep -E ' (clap|tracing-subscriber) v'; then
    echo "test.sh: the agent library depends on the CLI crates above" >&2
    exit 1
fi
# Instructions per INVITE parse and per digest registration against the
# figures committed in scripts/bench/baseline.json: fails on a rise > 10 %.
# Counts, not times, so load cannot fail it (or hide a rise); it runs first and
# alone all the same, so that its own time (a target: under 3 minutes, build
# included) is what this log shows.
timed scripts/bench/check.sh

# The fuzz targets' AFL++ build (optimised and instrumented, about 4.5 min on
# its own) shares nothing with the builds below, which leave a core idle in
# their serial stretches (the largest crates, linking): it runs beside them,
# its output held until they are done. Its own process group, so that a
# failure here stops it too. Installs cargo-afl (which builds AFL++) when missing.
afl_log=$(mktemp)
setsid scripts/fuzz.sh build >"$afl_log" 2>&1 &
afl_pid=$!
# The group, or the process itself if it has not yet made its group (setsid is its first step).
trap 'kill -- "-$afl_pid" 2>/dev/null || kill "$afl_pid" 2>/dev/null || true; rm -f "$afl_log"' EXIT

# The agent's tests start the real switch, so its binary is built first (a
# fresh clone has none; the workspace run below would build it too late).
timed cargo build -p switch --bins --locked -q
# Every test binary, built beside the AFL++ build; only builds overlap it,
# never a test that measures time.
timed cargo test --workspace --locked --no-run -q

started=$SECONDS
afl_status=0
wait "$afl_pid" || afl_status=$?
cat "$afl_log" >&2
# Reaped: its group id is no longer ours to signal.
trap 'rm -f "$afl_log"' EXIT
if ((afl_status)); then
    echo "test.sh: scripts/fuzz.sh build failed (exit $afl_status)" >&2
    exit 1
fi
echo "test.sh: the AFL++ build, beside those, finished $((SECONDS - started))s after them" >&2

timed cargo test -p agent --no-default-features --locked -q

# Every fuzz target under AFL++ for 4 s (54 s for all eleven together), so a
# parser change that crashes or hangs on hostile input fails here. The long
# campaigns are recorded in fuzz/README.md; `cargo test` below replays the
# corpus and saved crashes.
timed scripts/fuzz.sh smoke 54

# Tests that need root (network namespaces, iptables, raw sockets) are
# #[ignore = "needs root: ..."], so a plain `cargo test` passes for anyone;
# as root this runs them too.
args=("$@")
if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: not root: the tests that need root (network namespaces, raw sockets) are skipped; run as root to include them" >&2
else
    case " $* " in
        *" -- "*) args+=(--include-ignored) ;;
        *) args+=(-- --include-ignored) ;;
    esac
fi
timed cargo test --workspace --locked "${args[@]}"
echo "test.sh: all done in $((SECONDS / 60)) min $((SECONDS % 60)) s" >&2
