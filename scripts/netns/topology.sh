#!/usr/bin/env bash
# A phone behind a NAT/firewall it does not control, and a "public" switch host,
# built from network namespaces. Everything exists only inside the namespaces
# this script makes; nothing is routed off the machine.
#
#   NAME-ph  (phone)   eth0 10.1.0.2/24  --  in0  10.1.0.1/24   NAME-nat (NAT + firewall)
#   NAME-nat           out0 198.51.100.2/24 -- eth0 198.51.100.1/24  NAME-sw (switch)
#
# The NAT masquerades the phone behind out0's address and its firewall drops
# every new inbound connection (only replies to what the phone opened get in).
# The switch host routes 10.1.0.0/24 to the NAT, so a direct connection to the
# phone reaches the firewall and dies there, as on the real Internet.
#
# Usage:
#   topology.sh up NAME           build it (NAME: up to 8 characters, unique per test)
#   topology.sh readdress NAME IP give the NAT a new public address (198.51.100.x) and
#                                 flush its connection tracking: the phone "roams"
#   topology.sh down NAME         remove everything NAME made (safe to repeat)
# Needs root, iproute2, iptables and conntrack.
set -euo pipefail

cmd=${1:-}; name=${2:-}
[ -n "$cmd" ] && [ -n "$name" ] || { sed -n '2,20p' "$0" >&2; exit 2; }
[ "${#name}" -le 8 ] || { echo "topology.sh: NAME must be at most 8 characters" >&2; exit 2; }
ph="$name-ph"; nat="$name-nat"; sw="$name-sw"
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

down() {
    for ns in "$ph" "$nat" "$sw"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
}

up() {
    down
    for ns in "$ph" "$nat" "$sw"; do ip netns add "$ns"; in_ns "$ns" ip link set lo up; done
    ip link add eth0 netns "$ph" type veth peer name in0 netns "$nat"
    ip link add out0 netns "$nat" type veth peer name eth0 netns "$sw"
    in_ns "$ph" ip addr add 10.1.0.2/24 dev eth0
    in_ns "$ph" ip link set eth0 up
    in_ns "$ph" ip route add default via 10.1.0.1
    in_ns "$nat" ip addr add 10.1.0.1/24 dev in0
    in_ns "$nat" ip addr add 198.51.100.2/24 dev out0
    in_ns "$nat" ip link set in0 up
    in_ns "$nat" ip link set out0 up
    in_ns "$nat" sysctl -qw net.ipv4.ip_forward=1
    # Readdressing adds the new address before dropping the old one; without this
    # the kernel drops the secondary (new) address along with the primary.
    in_ns "$nat" sysctl -qw net.ipv4.conf.out0.promote_secondaries=1
    in_ns "$sw" ip addr add 198.51.100.1/24 dev eth0
    in_ns "$sw" ip link set eth0 up
    in_ns "$sw" ip route add 10.1.0.0/24 via 198.51.100.2
    # The NAT: masquerade outbound, let replies back in, drop every new inbound connection.
    in_ns "$nat" iptables -t nat -A POSTROUTING -o out0 -j MASQUERADE
    in_ns "$nat" iptables -P FORWARD DROP
    in_ns "$nat" iptables -A FORWARD -i in0 -o out0 -j ACCEPT
    in_ns "$nat" iptables -A FORWARD -i out0 -o in0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    in_ns "$nat" iptables -P INPUT DROP
    in_ns "$nat" iptables -A INPUT -i lo -j ACCEPT
    in_ns "$nat" iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    in_ns "$nat" iptables -A INPUT -i in0 -j ACCEPT
}

readdress() {
    local new=${3:?readdress needs the new public IP (198.51.100.x)}
    local old
    old=$(in_ns "$nat" ip -4 -o addr show dev out0 | awk '{print $4}' | cut -d/ -f1)
    in_ns "$nat" ip addr add "$new/24" dev out0
    in_ns "$nat" ip addr del "$old/24" dev out0
    in_ns "$nat" conntrack -F >/dev/null 2>&1 || true
    in_ns "$sw" ip route replace 10.1.0.0/24 via "$new"
    echo "$old -> $new"
}

case "$cmd" in
    up) up ;;
    down) down ;;
    readdress) readdress "$@" ;;
    *) echo "topology.sh: unknown command $cmd (up, readdress, down)" >&2; exit 2 ;;
esac
