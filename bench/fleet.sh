#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench`, fleet part: propagation latency of decisions to 3 hosts and the agent's
# CPU. A redis-server on a unix socket, three hosts (a namespace each, sluice attached to
# a veth of its own, nothing sent anywhere) with an agent each; fleet_flood publishes
# FLEET_DECISIONS block decisions at FLEET_RATE a second. Each agent measures, per
# decision, the time from its stream id (Redis's clock when it was published) to its
# being in the maps; the script prints their p50 and p99, and each agent's CPU time over
# the run as a share of one core. Needs root.
#
#   FLEET_DECISIONS=N  decisions published (default 10000)
#   FLEET_RATE=N       a second (default 1000)
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
case $BUILD in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
SLUICE="$BUILD/sluice"
FLOOD="$BUILD/tests/tools/fleet_flood"
N=${FLEET_DECISIONS:-10000}
RATE=${FLEET_RATE:-1000}
TMP=$(mktemp -d)
SOCK="$TMP/redis.sock"
FLEET="bench$$"
pids=()

cleanup() {
	local h
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	[ -s "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null
	for h in 1 2 3; do
		ip netns del "fb-h$h-$$" 2>/dev/null
		rm -rf "/sys/fs/bpf/sluice-fleetbench-$h-$$"
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }
wait_until() { # SECONDS COMMAND...
	local deadline=$(($(now_ms) + $1 * 1000))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}
status() { "$SLUICE" fleet status -j --redis "unix:$SOCK" --fleet "$FLEET"; }
all_applied() { [ "$(status | jq "[.hosts[] | select(.applied >= $N)] | length")" = 3 ]; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

command -v redis-server >/dev/null || { echo "fleet bench: redis-server missing (scripts/deps.sh)" >&2; exit 1; }
redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --daemonize yes \
	--pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log" || exit 1
wait_until 5 redis-cli -s "$SOCK" ping || exit 1
for h in 1 2 3; do
	ns="fb-h$h-$$"
	pin="/sys/fs/bpf/sluice-fleetbench-$h-$$"
	ip netns add "$ns" &&
		ip link add "fba$h$$" netns "$ns" type veth peer name "fbb$h$$" netns "$ns" &&
		nsenter --net="/run/netns/$ns" ip link set "fba$h$$" up &&
		nsenter --net="/run/netns/$ns" ip link set "fbb$h$$" up &&
		nsenter --net="/run/netns/$ns" "$SLUICE" --pin-path "$pin" attach "fba$h$$" || exit 1
	mkdir -p "$TMP/state$h"
	"$SLUICE" --pin-path "$pin" agent --redis "unix:$SOCK" --fleet "$FLEET" --host "h$h" \
		--state-dir "$TMP/state$h" 2>"$TMP/agent$h.log" &
	pids+=($!)
done
wait_until 10 sh -c "[ \"\$('$SLUICE' fleet status -j --redis 'unix:$SOCK' --fleet '$FLEET' | jq '.hosts | length')\" = 3 ]" ||
	{ echo "fleet bench: the agents did not report" >&2; exit 1; }

declare -a t0
for i in 0 1 2; do t0[i]=$(cpu_ticks "${pids[i]}"); done
start=$(now_ms)
"$FLOOD" "unix:$SOCK" "$FLEET" "$N" "$RATE" >"$TMP/flood.json" || exit 1
wait_until 60 all_applied || { echo "fleet bench: not every decision applied in 60 s" >&2; exit 1; }
elapsed=$(($(now_ms) - start))
hz=$(getconf CLK_TCK)
# One more heartbeat, so the figures cover every decision.
sleep 1.1
status >"$TMP/status.json"
printf '\nfleet: %s decisions at %s/s (published in %s s), 3 hosts\n' "$N" "$RATE" \
	"$(jq -r .seconds "$TMP/flood.json")"
printf '%-6s %10s %10s %10s %12s\n' host "p50 ms" "p99 ms" applied "agent CPU"
for i in 0 1 2; do
	ticks=$(($(cpu_ticks "${pids[i]}") - t0[i]))
	jq -r --arg h "h$((i + 1))" --arg cpu "$(awk -v t="$ticks" -v hz="$hz" -v ms="$elapsed" \
		'BEGIN { printf "%.1f%%", 100 * t / hz / (ms / 1000) }')" \
		'.hosts[] | select(.host == $h) |
		"\(.host)     \(.latency_p50_ms)\t\(.latency_p99_ms)\t\(.applied)\t\($cpu)"' \
		"$TMP/status.json" | awk -F'\t' '{ printf "%-6s %10s %10s %10s %12s\n", substr($1, 1, 2), substr($1, 8), $2, $3, $4 }'
done
