#!/usr/bin/env bash
# Phones behind NATs/firewalls they do not control, and a "public" switch host,
# built from network namespaces. Everything exists only inside the namespaces
# this script makes; nothing is routed off the machine.
#
#   site 1: NAME-ph  eth0 10.1.0.2/24 -- in0 10.1.0.1/24  NAME-nat  out0 198.51.100.2/24 --+
#   site K: NAME-phK eth0 10.K.0.2/24 -- in0 10.K.0.1/24  NAME-natK out0 198.51.100.(K+1) --+-- br0 198.51.100.1/24 NAME-sw
#
# Each NAT masquerades its phone behind out0's address and its firewall drops
# every new inbound connection (only replies to what the phone opened get in).
# The switch host routes each 10.K.0.0/24 to that site's NAT, so a direct
# connection to a phone reaches the firewall and dies there, as on the Internet.
#
# Usage (SITE defaults to 1):
#   topology.sh up NAME [SITES]            build NAME with SITES sites (default 1); a no-op when
#                                          exactly that is already up (NAME: at most 8 characters)
#   topology.sh down NAME                  remove everything NAME made (safe to repeat; ends every
#                                          process left inside its namespaces)
#   topology.sh status NAME                sites, addresses, firewall overrides, conntrack counts
#   topology.sh readdress NAME IP [SITE]   give the site's NAT a new public address (198.51.100.x;
#                                          pick .100 and up) and flush its conntrack: the phone "roams"
#   topology.sh renumber NAME IP [SITE]    give the site's phone a new private address (10.K.0.x; pick .3
#                                          and up), as a new DHCP lease or another network would: its
#                                          connections from the old address die with it
#   topology.sh flush NAME [SITE]          flush the site NAT's conntrack (mappings lost, address kept)
#   topology.sh blackhole NAME PORT [SITE] silently drop (no RST, no ICMP) every packet of the phone's
#                                          flows from local port PORT, both ways
#   topology.sh block-udp NAME [SITE]      drop all UDP through the site's NAT (bearer must use TCP)
#   topology.sh restore NAME [SITE]        undo blackhole/block-udp at the site
# Needs root, iproute2, iptables and conntrack.
set -euo pipefail

usage() { sed -n '2,30p' "$0" >&2; exit 2; }
cmd=${1:-}; name=${2:-}
[ -n "$cmd" ] && [ -n "$name" ] || usage
[[ "$name" =~ ^[a-z0-9]{1,8}$ ]] || { echo "topology.sh: NAME must be 1-8 characters of a-z, 0-9" >&2; exit 2; }
sw="$name-sw"
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# Site 1 keeps the short names the first tests used.
suffix() { [ "$1" = 1 ] && echo "" || echo "$1"; }
ph_ns() { echo "$name-ph$(suffix "$1")"; }
nat_ns() { echo "$name-nat$(suffix "$1")"; }
site_arg() {
    local s=${1:-1}
    [[ "$s" =~ ^[1-9][0-9]?$ ]] || { echo "topology.sh: SITE must be 1..99, got '$s'" >&2; exit 2; }
    ip netns list | grep -qw "^$(nat_ns "$s")" || { echo "topology.sh: $name has no site $s (run up first)" >&2; exit 1; }
    echo "$s"
}
# The namespaces of NAME, whatever number of sites it has.
all_ns() { ip netns list | awk '{print $1}' | grep -E "^$name-(sw|ph[0-9]*|nat[0-9]*)$" || true; }

down() {
    for ns in $(all_ns); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
}

add_site() {
    local k=$1 ph nat
    ph=$(ph_ns "$k"); nat=$(nat_ns "$k")
    for ns in "$ph" "$nat"; do ip netns add "$ns"; in_ns "$ns" ip link set lo up; done
    ip link add eth0 netns "$ph" type veth peer name in0 netns "$nat"
    ip link add out0 netns "$nat" type veth peer name "e$k" netns "$sw"
    in_ns "$sw" ip link set "e$k" master br0
    in_ns "$sw" ip link set "e$k" up
    in_ns "$ph" ip addr add "10.$k.0.2/24" dev eth0
    in_ns "$ph" ip link set eth0 up
    in_ns "$ph" ip route add default via "10.$k.0.1"
    # Renumbering adds the new address before dropping the old one (keeps the routes).
    in_ns "$ph" sysctl -qw net.ipv4.conf.eth0.promote_secondaries=1
    in_ns "$nat" ip addr add "10.$k.0.1/24" dev in0
    in_ns "$nat" ip addr add "198.51.100.$((k + 1))/24" dev out0
    in_ns "$nat" ip link set in0 up
    in_ns "$nat" ip link set out0 up
    in_ns "$nat" sysctl -qw net.ipv4.ip_forward=1
    # Readdressing adds the new address before dropping the old one; without this
    # the kernel drops the secondary (new) address along with the primary.
    in_ns "$nat" sysctl -qw net.ipv4.conf.out0.promote_secondaries=1
    in_ns "$sw" ip route add "10.$k.0.0/24" via "198.51.100.$((k + 1))"
    # The NAT: masquerade outbound, let replies back in, drop every new inbound
    # connection. SITECTL (first in FORWARD) holds the test's overrides.
    in_ns "$nat" iptables -t nat -A POSTROUTING -o out0 -j MASQUERADE
    in_ns "$nat" iptables -N SITECTL
    in_ns "$nat" iptables -P FORWARD DROP
    in_ns "$nat" iptables -A FORWARD -j SITECTL
    in_ns "$nat" iptables -A FORWARD -i in0 -o out0 -j ACCEPT
    in_ns "$nat" iptables -A FORWARD -i out0 -o in0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    in_ns "$nat" iptables -P INPUT DROP
    in_ns "$nat" iptables -A INPUT -i lo -j ACCEPT
    in_ns "$nat" iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    in_ns "$nat" iptables -A INPUT -i in0 -j ACCEPT
}

up() {
    local sites=${3:-1}
    [[ "$sites" =~ ^[1-9][0-9]?$ ]] || { echo "topology.sh: SITES must be 1..99, got '$sites'" >&2; exit 2; }
    local want have
    want=$( (echo "$sw"; for k in $(seq 1 "$sites"); do ph_ns "$k"; nat_ns "$k"; done) | sort)
    have=$(all_ns | sort)
    if [ "$want" = "$have" ]; then echo "$name is already up with $sites site(s)"; return; fi
    down
    ip netns add "$sw"
    in_ns "$sw" ip link set lo up
    in_ns "$sw" ip link add br0 type bridge
    in_ns "$sw" ip addr add 198.51.100.1/24 dev br0
    in_ns "$sw" ip link set br0 up
    for k in $(seq 1 "$sites"); do add_site "$k"; done
}

readdress() {
    local new=${3:?readdress needs the new public IP (198.51.100.x)} k nat old
    k=$(site_arg "${4:-1}"); nat=$(nat_ns "$k")
    old=$(in_ns "$nat" ip -4 -o addr show dev out0 | awk '{print $4}' | cut -d/ -f1 | head -1)
    in_ns "$nat" ip addr add "$new/24" dev out0
    in_ns "$nat" ip addr del "$old/24" dev out0
    in_ns "$nat" conntrack -F >/dev/null 2>&1 || true
    in_ns "$sw" ip route replace "10.$k.0.0/24" via "$new"
    echo "$old -> $new"
}

renumber() {
    local new=${3:?renumber needs the new private IP of the phone (10.K.0.x)} k ph old
    k=$(site_arg "${4:-1}"); ph=$(ph_ns "$k")
    [[ "$new" =~ ^10\.$k\.0\.([3-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-4])$ ]] || {
        echo "topology.sh: the phone's address must be 10.$k.0.3 to 10.$k.0.254, got '$new'" >&2; exit 2; }
    old=$(in_ns "$ph" ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 | head -1)
    in_ns "$ph" ip addr add "$new/24" dev eth0
    in_ns "$ph" ip addr del "$old/24" dev eth0
    echo "$old -> $new"
}

flush() {
    local k; k=$(site_arg "${3:-1}")
    in_ns "$(nat_ns "$k")" conntrack -F >/dev/null 2>&1 || true
}

blackhole() {
    local port=${3:?blackhole needs the phone-side local PORT} k nat
    [[ "$port" =~ ^[0-9]+$ ]] || { echo "topology.sh: PORT must be a number" >&2; exit 2; }
    k=$(site_arg "${4:-1}"); nat=$(nat_ns "$k")
    # FORWARD sees the phone's private address in both directions (after
    # un-NAT on the way in), so two rules catch the flow whatever its mapping.
    for p in tcp udp; do
        in_ns "$nat" iptables -A SITECTL -p "$p" -s "10.$k.0.2" --sport "$port" -j DROP
        in_ns "$nat" iptables -A SITECTL -p "$p" -d "10.$k.0.2" --dport "$port" -j DROP
    done
}

block_udp() {
    local k; k=$(site_arg "${3:-1}")
    in_ns "$(nat_ns "$k")" iptables -A SITECTL -p udp -j DROP
}

restore() {
    local k; k=$(site_arg "${3:-1}")
    in_ns "$(nat_ns "$k")" iptables -F SITECTL
}

status() {
    local nss; nss=$(all_ns)
    [ -n "$nss" ] || { echo "$name is down"; return 1; }
    echo "switch $sw 198.51.100.1"
    for nat in $(echo "$nss" | grep -E -- "-nat[0-9]*$" | sort -V); do
        local k=${nat##*-nat}; k=${k:-1}
        local pub rules conns priv
        pub=$(in_ns "$nat" ip -4 -o addr show dev out0 | awk '{print $4}' | cut -d/ -f1 | paste -sd, -)
        priv=$(in_ns "$(ph_ns "$k")" ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 | paste -sd, -)
        rules=$(in_ns "$nat" iptables -S SITECTL | grep -c -- '^-A' || true)
        conns=$(in_ns "$nat" conntrack -C 2>/dev/null || echo "?")
        echo "site $k phone $(ph_ns "$k") $priv nat $nat public $pub overrides $rules conntrack $conns"
    done
}

case "$cmd" in
    up) up "$@" ;;
    down) down ;;
    status) status ;;
    readdress) readdress "$@" ;;
    renumber) renumber "$@" ;;
    flush) flush "$@" ;;
    blackhole) blackhole "$@" ;;
    block-udp) block_udp "$@" ;;
    restore) restore "$@" ;;
    *) echo "topology.sh: unknown command $cmd" >&2; usage ;;
esac
