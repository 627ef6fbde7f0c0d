#!/usr/bin/env bash
# Footprint benchmark: an idle registered `agent` beside baresip (Debian
# package), both registered over TCP to one `switch` on loopback.  Samples
# each process's RSS, PSS and CPU time at the start and end of an idle window
# and prints `metric | agent | baresip | ratio` (ratio = agent / baresip).
#
#   scripts/bench/footprint.sh                   # 60 s window, ~65 s in all
#   FOOTPRINT_WINDOW_S=10 scripts/bench/footprint.sh
#
# Knobs (environment):
#   FOOTPRINT_WINDOW_S   idle window in seconds (60)
#   FOOTPRINT_SETTLE_S   pause between "both registered" and the first sample (2)
#   FOOTPRINT_JSON       where the JSON goes (target/bench/footprint.json)
#   FOOTPRINT_KEEP=1     keep the temp dir (logs, switch.db, baresip config)
#   FOOTPRINT_BARESIP_OUTBOUND=1  baresip registers with RFC 5626 outbound
#                        (sipnat=outbound) and so sends CRLF keep-alives at the
#                        switch's Flow-Timer, as the agent does (default: the
#                        anchors' config, no keep-alives)
#   SWITCH_BIN, AGENT_BIN  binaries (default target/release/{switch,agent},
#                        built with `cargo build --release -p switch -p agent-cli`
#                        when missing)
#
# Every process it starts is tracked by PID and stopped by PID on exit,
# failure or Ctrl-C.  Each wait is bounded; baresip also runs with `-t`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LIB="$ROOT/scripts/bench/lib/footprint.py"
WINDOW="${FOOTPRINT_WINDOW_S:-60}"
SETTLE="${FOOTPRINT_SETTLE_S:-2}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
JSON_OUT="${FOOTPRINT_JSON:-$TARGET_DIR/bench/footprint.json}"
SWITCH_BIN="${SWITCH_BIN:-$TARGET_DIR/release/switch}"
AGENT_BIN="${AGENT_BIN:-$TARGET_DIR/release/agent}"
REG_TIMEOUT_S=15

say() { echo "footprint: $*" >&2; }
die() { say "$*"; exit 1; }
[[ "$WINDOW" =~ ^[0-9]+$ ]] && ((WINDOW > 0)) || die "FOOTPRINT_WINDOW_S must be a positive integer"

# --- what it needs -----------------------------------------------------------
command -v python3 >/dev/null 2>&1 || die "python3 missing (apt-get install python3)"
if ! command -v baresip >/dev/null 2>&1; then
    say "installing baresip-core"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 $SUDO apt-get update -qq
    timeout 300 $SUDO apt-get install -y -qq --no-install-recommends baresip-core >/dev/null
fi
[ -f /usr/lib/baresip/modules/g711.so ] || die "baresip's g711 module is missing (/usr/lib/baresip/modules)"
if [ ! -x "$SWITCH_BIN" ] || [ ! -x "$AGENT_BIN" ]; then
    say "building switch and agent (release)"
    (cd "$ROOT" && cargo build --release -p switch -p agent-cli)
fi

# --- processes, tracked by PID -------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/footprint.XXXXXX")"
declare -A PIDS=()
SLEEP_PID=""

stop_pid() { # name: SIGTERM, up to 5 s grace, then SIGKILL
    local name="$1" pid="${PIDS[$1]:-}" i
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            say "$name ($pid) ignored SIGTERM; killing"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    unset "PIDS[$name]"
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$SLEEP_PID" ] && kill "$SLEEP_PID" 2>/dev/null || true
    # the UAs first (they unregister), the switch last
    stop_pid agent
    stop_pid baresip
    stop_pid switch
    if [ "$rc" -ne 0 ] || [ "${FOOTPRINT_KEEP:-0}" = 1 ]; then
        say "logs kept in $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

alive() { kill -0 "${PIDS[$1]}" 2>/dev/null || die "$1 exited early; see $TMP/$1.log"; }

# --- the switch ------------------------------------------------------------------
read -r SIP_PORT BARESIP_PORT < <(python3 "$LIB" ports 2)
DATA="$TMP/switch-data"
AGENT_NUM=1001 AGENT_PW="pw-agent-$RANDOM"
BARE_NUM=1002 BARE_PW="pw-bare-$RANDOM"
"$SWITCH_BIN" subscriber add "$AGENT_NUM" --password "$AGENT_PW" --data-dir "$DATA" >/dev/null
"$SWITCH_BIN" subscriber add "$BARE_NUM" --password "$BARE_PW" --data-dir "$DATA" >/dev/null
# baresip 1.0 (libre) gives up (ENOSYS) on a 401 that also lists a non-MD5
# challenge, and the switch offers MD5 and SHA-256 by default: MD5 only here.
printf '[registrar]\ndigest_algorithms = ["MD5"]\n' >"$TMP/switch.toml"
"$SWITCH_BIN" run --config "$TMP/switch.toml" --listen "tcp:127.0.0.1:$SIP_PORT" --listen "udp:127.0.0.1:$SIP_PORT" \
    --data-dir "$DATA" >"$TMP/switch.log" 2>&1 </dev/null &
PIDS[switch]=$!
python3 "$LIB" wait-tcp "$SIP_PORT" 10 || die "switch not listening on 127.0.0.1:$SIP_PORT; see $TMP/switch.log"
say "switch pid ${PIDS[switch]} on tcp/udp 127.0.0.1:$SIP_PORT, data $DATA"

# --- baresip: the anchors' headless config (shared/anchors/conf/baresip) --------
BCONF="$TMP/baresip"
mkdir -p "$BCONF"
cat >"$BCONF/config" <<EOF
# minimal headless baresip 1.0 config (no audio/video devices, no UI):
# SIP signalling + G.711 only, loopback only
poll_method		epoll
sip_listen		127.0.0.1:$BARESIP_PORT
net_interface		127.0.0.1
dns_server		127.0.0.1:53
audio_player		none,none
audio_source		none,none
audio_alert		none,none
audio_srate		8000
audio_channels		1
rtp_ports		20000-20100
module_path		/usr/lib/baresip/modules
module			g711.so
module_app		account.so
EOF
# FOOTPRINT_BARESIP_OUTBOUND=1: baresip uses RFC 5626 outbound (sipnat=outbound,
# reg-id/+sip.instance) and so keeps its flow alive with CRLF pings at the
# switch's Flow-Timer, as the agent does: the like-for-like comparison.
BARE_PARAMS="auth_pass=$BARE_PW;regint=3600"
if [ "${FOOTPRINT_BARESIP_OUTBOUND:-0}" = 1 ]; then
    BARE_PARAMS="$BARE_PARAMS;sipnat=outbound;outbound=\"sip:127.0.0.1:$SIP_PORT;transport=tcp\""
    # outbound needs a +sip.instance: the uuid module writes one at start-up
    echo "module_tmp		uuid.so" >>"$BCONF/config"
fi
echo "<sip:$BARE_NUM@127.0.0.1:$SIP_PORT;transport=tcp>;$BARE_PARAMS" >"$BCONF/accounts"
: >"$BCONF/contacts"
chmod 600 "$BCONF/accounts"

# --- the two UAs -----------------------------------------------------------------
AGENT_PASSWORD="$AGENT_PW" "$AGENT_BIN" --switch "tcp:127.0.0.1:$SIP_PORT" --number "$AGENT_NUM" listen \
    >"$TMP/agent.out" 2>"$TMP/agent.log" </dev/null &
PIDS[agent]=$!
baresip -f "$BCONF" -t $((WINDOW + SETTLE + REG_TIMEOUT_S + 60)) >"$TMP/baresip.log" 2>&1 </dev/null &
PIDS[baresip]=$!
say "agent pid ${PIDS[agent]}, baresip pid ${PIDS[baresip]}"

for i in $(seq $((REG_TIMEOUT_S * 10))); do
    grep -q '^registered ' "$TMP/agent.out" && break
    alive agent
    sleep 0.1
done
grep -q '^registered ' "$TMP/agent.out" || die "agent printed no 'registered' within ${REG_TIMEOUT_S}s; see $TMP/agent.out"
python3 "$LIB" registered "$SWITCH_BIN" "$DATA" "$REG_TIMEOUT_S" "$AGENT_NUM" "$BARE_NUM" >"$TMP/regs-start.json" ||
    die "not both registered over TCP: $(cat "$TMP/regs-start.json"); see $TMP/baresip.log"
alive agent; alive baresip; alive switch
say "both registered over TCP ($(grep '^registered ' "$TMP/agent.out" | head -1))"

# --- the idle window ---------------------------------------------------------------
sleep "$SETTLE"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$LIB" sample agent="${PIDS[agent]}" baresip="${PIDS[baresip]}" >"$TMP/start.json"
say "idle window ${WINDOW}s (load average $LOAD_START)"
sleep "$WINDOW" &
SLEEP_PID=$!
wait "$SLEEP_PID"
SLEEP_PID=""
alive agent; alive baresip
python3 "$LIB" sample agent="${PIDS[agent]}" baresip="${PIDS[baresip]}" >"$TMP/end.json"
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$LIB" registered "$SWITCH_BIN" "$DATA" 2 "$AGENT_NUM" "$BARE_NUM" >"$TMP/regs-end.json" ||
    die "a UA lost its registration during the window: $(cat "$TMP/regs-end.json")"

# --- report --------------------------------------------------------------------------
python3 - "$TMP" <<EOF
import json, platform, subprocess, sys
tmp = sys.argv[1]
def run(*a):
    try:
        return subprocess.run(a, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return None
meta = {
    "date": run("date", "-u", "+%Y-%m-%dT%H:%M:%SZ"),
    "loadavg": "$LOAD_START -> $LOAD_END",
    "window_s": $WINDOW, "settle_s": $SETTLE,
    "kernel": platform.release(), "cpus": int(run("nproc") or 0),
    "cpu_model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), None),
    "baresip": (run("baresip", "-h") or "").split("\n")[0] or None,
    "baresip_pkg": run("dpkg-query", "-W", "-f", "\${Version}", "baresip-core"),
    "commit": run("git", "-C", "$ROOT", "describe", "--always", "--dirty"),
    "agent_bin": "$AGENT_BIN", "switch_bin": "$SWITCH_BIN",
    "agent_registered_line": open(f"{tmp}/agent.out").readline().strip(),
}
json.dump({"start": json.load(open(f"{tmp}/regs-start.json")), "end": json.load(open(f"{tmp}/regs-end.json"))},
          open(f"{tmp}/regs.json", "w"))
json.dump(meta, open(f"{tmp}/meta.json", "w"))
EOF
python3 "$LIB" report "$TMP/start.json" "$TMP/end.json" "$TMP/regs.json" "$TMP/meta.json" "$JSON_OUT"
