#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make fleet-demo`: a redis-server, three hosts (each a server namespace with its own
# sluice and agent, and a client namespace joined to it by a veth pair), and one client
# that a rule bans on host 1: hosts 2 and 3 then drop it too. Ends with `sluice fleet
# status`. Everything it creates is removed on exit, Ctrl-C included.
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SLUICE="$ROOT/$BUILD/sluice"
TMP=$(mktemp -d)
SOCK="$TMP/redis.sock"
export SLUICE_REDIS="unix:$SOCK" SLUICE_FLEET=demo SLUICE_HOST=operator
agents=()

if [ "$(id -u)" -ne 0 ]; then
	echo "fleet demo: needs root (network namespaces and XDP): sudo make fleet-demo" >&2
	exit 1
fi
command -v redis-server >/dev/null ||
	{ echo "fleet demo: redis-server is missing: make check-deps" >&2; exit 1; }

cleanup() {
	local h
	for pid in "${agents[@]}"; do
		kill "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	[ -s "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null
	for h in 1 2 3; do
		ip netns del "sluice-fleet-srv$h" 2>/dev/null
		ip netns del "sluice-fleet-cli$h" 2>/dev/null
		rm -rf "/sys/fs/bpf/sluice-fleet-demo$h"
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
	printf '$ %s\n' "$*"
	"$@"
}
on() {
	local h=$1
	shift
	nsenter --net="/run/netns/sluice-fleet-srv$h" "$SLUICE" --pin-path "/sys/fs/bpf/sluice-fleet-demo$h" "$@"
}
send() { # send HOST COUNT: UDP datagrams from the client to port 5353 of HOST
	nsenter --net="/run/netns/sluice-fleet-cli$1" python3 "$ROOT/tests/integration/udp_send.py" \
		198.18.0.2 198.18.0.1 5353 "$2"
}
# Polls for a condition, for at most 5 s.
soon() {
	for _ in $(seq 50); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
banned_on() { [ "$(on "$1" -j ban list | jq length)" -ge 1 ]; }

step "a Redis server on $SOCK"
redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --daemonize yes \
	--pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log" || exit 1
soon redis-cli -s "$SOCK" ping || exit 1

for h in 1 2 3; do
	step "host $h: sluice on its veth, a rule that bans, and an agent"
	ip netns add "sluice-fleet-srv$h" && ip netns add "sluice-fleet-cli$h" || exit 1
	ip link add "sfd-s$h" netns "sluice-fleet-srv$h" type veth peer name "sfd-c$h" \
		netns "sluice-fleet-cli$h" || exit 1
	nsenter --net="/run/netns/sluice-fleet-srv$h" sh -c \
		"ip link set lo up && ip addr add 198.18.0.1/24 dev sfd-s$h && ip link set sfd-s$h up"
	nsenter --net="/run/netns/sluice-fleet-cli$h" sh -c \
		"ip link set lo up && ip addr add 198.18.0.2/24 dev sfd-c$h && ip link set sfd-c$h up"
	run on "$h" attach "sfd-s$h" || exit 1
	run on "$h" rule add dns udp dport 5353 limit src/32 rate 1/h burst 3 action ban 10m || exit 1
	mkdir -p "$TMP/state$h"
	"$SLUICE" --pin-path "/sys/fs/bpf/sluice-fleet-demo$h" agent --host "edge-$h" \
		--state-dir "$TMP/state$h" &
	agents+=($!)
done
soon sh -c "[ \"\$('$SLUICE' fleet status -j | jq '.hosts | length')\" = 3 ]" ||
	{ echo "fleet demo: the agents did not report" >&2; exit 1; }

step "the client sends 4 datagrams to host 1: the 4th is over the rule's burst, a ban"
send 1 4
soon banned_on 1 && run on 1 ban list
step "host 1's agent published the ban; hosts 2 and 3 applied it"
for h in 2 3; do
	soon banned_on "$h" && run on "$h" ban list
done
step "the client sends 5 datagrams to hosts 2 and 3, which never saw it before"
for h in 2 3; do
	send "$h" 5
	sleep 0.3 # only for the counters to be read after the veth's NAPI poll
	printf 'host %s drops as banned: %s\n' "$h" \
		"$(on "$h" -j stats | jq '[.interfaces[].drops.ban.packets] | add')"
done

step "a block for the whole fleet"
run "$SLUICE" fleet block add 203.0.113.0/24 ttl 1h comment scanners
soon sh -c "nsenter --net=/run/netns/sluice-fleet-srv3 '$SLUICE' --pin-path /sys/fs/bpf/sluice-fleet-demo3 block list | grep -q 203.0.113"
run on 3 block list

step "the fleet"
sleep 1.1 # a heartbeat after the last decision
run "$SLUICE" fleet status
