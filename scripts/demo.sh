#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The sluice demo: two network namespaces joined by a veth pair, sluice on the
# server side with an example policy, a real HTTP server, and three clients:
# a well-behaved one, a greedy one over its limit, and one from a blocklisted network.
# Everything it creates is removed on exit, Ctrl-C included: the namespaces, the pins,
# and every process it started (those still in a namespace are ended before it goes).
set -u
BUILD=${BUILD:-build}
SLUICE="$(cd "$(dirname "$0")/.." && pwd)/$BUILD/sluice"
SRV=sluice-demo-srv
CLI=sluice-demo-cli
PIN=/sys/fs/bpf/sluice-demo
WWW=$(mktemp -d)
server_pid=

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces and XDP): sudo make demo" >&2
	exit 1
fi

# Ends every process still in namespace $1 and waits for it: deleting a namespace does not,
# and a server left in it lives on, unreachable (the HTTP server once did).
end_processes_in() {
	local pids pid
	pids=$(ip netns pids "$1" 2>/dev/null)
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086 # one word per pid
	kill $pids 2>/dev/null
	for pid in $pids; do
		# A process that ignores SIGTERM gets SIGKILL after about two seconds.
		for _ in $(seq 20); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	done
}

remove_namespaces() {
	nsenter --net=/run/netns/$SRV "$SLUICE" --pin-path $PIN detach veth-srv 2>/dev/null
	end_processes_in $SRV
	end_processes_in $CLI
	ip netns del $SRV 2>/dev/null
	ip netns del $CLI 2>/dev/null
	rm -rf $PIN
}

cleanup() {
	trap '' INT TERM # a second Ctrl-C does not cut the cleanup short
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	remove_namespaces
	rm -rf "$WWW"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted, cleaning up"; exit 130' INT TERM

in_srv() { nsenter --net=/run/netns/$SRV "$@"; }
in_cli() { nsenter --net=/run/netns/$CLI "$@"; }
sl() { in_srv "$SLUICE" --pin-path $PIN "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

remove_namespaces # left over by a demo that was killed hard
say "Two namespaces joined by a veth pair"
ip netns add $SRV && ip netns add $CLI || exit 1
ip link add veth-srv netns $SRV type veth peer name veth-cli netns $CLI || exit 1
in_srv ip addr add 192.0.2.1/24 dev veth-srv
in_srv ip link set veth-srv up
in_srv ip link set lo up
in_srv ip route add 203.0.113.0/24 dev veth-srv
in_cli ip addr add 192.0.2.10/24 dev veth-cli
in_cli ip addr add 192.0.2.20/24 dev veth-cli
in_cli ip addr add 203.0.113.7/24 dev veth-cli
in_cli ip link set veth-cli up
in_cli ip route add 192.0.2.1/32 dev veth-cli src 192.0.2.10 2>/dev/null
echo "server 192.0.2.1 (namespace $SRV); clients 192.0.2.10, 192.0.2.20, 203.0.113.7 ($CLI)"

say "An HTTP server on 192.0.2.1:80"
echo "hello from behind sluice" >"$WWW/index.html"
# nsenter execs python, so $! is the server itself (through the in_srv function it was a
# subshell, and killing that left the server running).
nsenter --net=/run/netns/$SRV python3 -m http.server 80 --bind 192.0.2.1 --directory "$WWW" \
	>/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 50); do
	in_cli curl -s -o /dev/null --max-time 1 --interface 192.0.2.10 http://192.0.2.1/ && break
	sleep 0.1
done

say "sluice attach veth-srv, and restore the example policy"
sl attach veth-srv || exit 1
POLICY=$(cat <<'POLICY'
# Abusive network: dropped whatever it sends.
block add 203.0.113.0/24 comment "demo: abusive network"
# New HTTP connections: 2 a second per client, bursts of 5.
rule add http-conns tcp dport 80 syn limit src/32 src6/64 rate 2/s burst 5 action drop
POLICY
)
echo "$POLICY"
echo "$POLICY" | sl restore - || exit 1
sl status

fetch() { in_cli curl -s -o /dev/null -w '%{http_code}' --interface "$1" --connect-timeout 0.3 --max-time 2 http://192.0.2.1/; }
run_client() {
	local name=$1 src=$2 count=$3 pause=$4 served=0 refused=0
	for _ in $(seq "$count"); do
		if [ "$(fetch "$src")" = 200 ]; then served=$((served + 1)); else refused=$((refused + 1)); fi
		sleep "$pause"
	done
	printf '%-32s %2d requests: %2d served, %2d refused\n' "$name ($src)" "$count" "$served" "$refused"
}

say "Three clients"
run_client "well-behaved, 1 request/s" 192.0.2.10 5 1
run_client "greedy, 20 requests at once" 192.0.2.20 20 0
run_client "blocklisted network" 203.0.113.7 3 0

say "sluice stats"
sl stats
say "drops by reason, as JSON (sluice -j stats)"
sl -j stats | python3 -c 'import json,sys; d=json.load(sys.stdin)["interfaces"][0]["drops"]; print({k: v["packets"] for k, v in d.items()})'
say "done; cleaning up"
