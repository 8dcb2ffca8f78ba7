#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The SYN guard under a spoofed SYN flood (a new source every packet, trafficgen --syn on
# CPU 0, where XDP runs too; the stack behind it on CPU 1): SYN-ACKs sent per second by the
# guard against a bare XDP_TX of the same frames, and what a real client on CPU 1 gets (requests served, p99) with no flood, with the
# flood and the kernel's SYN cookies alone, and with the flood and the guard. Prints a
# table and JSON (to $1 if given). Needs root; runs in namespaces it makes and removes.
#
#   BENCH_SECONDS=N   seconds per measurement (default 5)
#
#   sg-gen-PID: veth sggPID, the generator (XDP_DROP takes the SYN-ACKs)
#   sg-dut-PID: veth sgdPID 198.18.0.1 (flood), sgsPID 198.18.1.1 (client); the server
#   sg-cli-PID: veth sgcPID 198.18.1.2, the real client (XDP_PASS, so it gets XDP_TX frames)
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
case $BUILD in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
SLUICE="$BUILD/sluice"
GEN="$BUILD/tests/tools/trafficgen"
CLIENT="$ROOT/tests/integration/synguard_client.py"
SECS=${BENCH_SECONDS:-5}
OUT=${1:-}
PORT=8080
G="sg-gen-$$" D="sg-dut-$$" C="sg-cli-$$"
GIF="sgg$$" DIF="sgd$$" SIF="sgs$$" CIF="sgc$$"
PIN="/sys/fs/bpf/sluice-sgbench-$$"
TMP=$(mktemp -d)
server=

log() { echo "bench_synguard: $*" >&2; }
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$G" 2>/dev/null
	ip netns del "$D" 2>/dev/null
	ip netns del "$C" 2>/dev/null
	rm -rf "$PIN" "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
in_g() { nsenter --net="/run/netns/$G" "$@"; }
in_d() { nsenter --net="/run/netns/$D" "$@"; }
in_c() { nsenter --net="/run/netns/$C" "$@"; }
sl() { in_d "$SLUICE" --pin-path "$PIN" "$@"; }

for ns in "$G" "$D" "$C"; do ip netns add "$ns" || exit 1; done
ip link add "$GIF" netns "$G" type veth peer name "$DIF" netns "$D" || exit 1
ip link add "$CIF" netns "$C" type veth peer name "$SIF" netns "$D" || exit 1
for ns in "$G" "$D" "$C"; do ip -n "$ns" link set lo up; done
ip -n "$D" addr add 198.18.0.1/24 dev "$DIF"
ip -n "$G" addr add 198.18.0.2/24 dev "$GIF"
ip -n "$D" addr add 198.18.1.1/24 dev "$SIF"
ip -n "$C" addr add 198.18.1.2/24 dev "$CIF"
for l in "$G $GIF" "$D $DIF" "$D $SIF" "$C $CIF"; do
	set -- $l
	ip -n "$1" link set "$2" up
done
# The stack's own SYN-ACKs to the spoofed sources go out towards the generator too.
gen_mac=$(ip -n "$G" -j link show "$GIF" | jq -r '.[0].address')
dut_mac=$(ip -n "$D" -j link show "$DIF" | jq -r '.[0].address')
ip -n "$D" neigh add 198.18.0.2 lladdr "$gen_mac" dev "$DIF" nud permanent
ip -n "$D" route add 198.19.0.0/16 via 198.18.0.2
in_d sysctl -qw net.ipv4.tcp_syncookies=2 net.ipv4.tcp_timestamps=2
# XDP runs on the generator's CPU 0; what it passes goes to the stack on CPU 1 (RPS), with
# the server and the client, as on a host whose NIC queue and stack CPUs differ.
ip netns exec "$D" sh -c "echo 2 >/sys/class/net/$DIF/queues/rx-0/rps_cpus" || exit 1
in_g "$GEN" xdp "$GIF" drop || exit 1
in_c "$GEN" xdp "$CIF" pass || exit 1

in_d taskset -c 1 python3 -m http.server --bind 0.0.0.0 "$PORT" >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do
	in_d ss -Hltn "sport = :$PORT" | grep -q . && break
	sleep 0.1
done

xdp_tx() { in_d ethtool -S "$DIF" | awk '$1 == "rx_queue_0_xdp_tx:" { print $2 }'; }
# flood SECONDS: SYNs from a new source each, 65536 sources, on CPU 0; prints frames sent.
flood() {
	in_g "$GEN" send --dev "$GIF" --syn --src 198.19.0.0 --keys 65536 --dst 198.18.0.1 \
		--dport "$PORT" --dst-mac "$dut_mac" --cpu 0 --seconds "$1" | awk '{ print $2 }'
}
# synack_rate: SYN-ACKs per second out of the DUT's flood veth while the flood runs.
synack_rate() {
	local x0 sent
	x0=$(xdp_tx)
	sent=$(flood "$SECS")
	echo "$(( ($(xdp_tx) - x0) / SECS )) $((sent / SECS))"
}
# client: the real client's requests during SECS seconds, with or without the flood.
client() {
	local f=
	if [ "$1" = flood ]; then
		flood $((SECS + 2)) >/dev/null &
		f=$!
		sleep 1
	fi
	in_c taskset -c 1 python3 "$CLIENT" measure 198.18.1.1 "$PORT" "$SECS"
	[ -n "$f" ] && wait "$f"
}

log "bare XDP_TX on the same frames"
in_d "$GEN" xdp "$DIF" tx || exit 1
read -r bare_tx bare_sent <<<"$(synack_rate)"
in_d "$GEN" xdp "$DIF" off

sl attach "$DIF" --mode native >/dev/null || exit 1
sl attach "$SIF" --mode native >/dev/null || exit 1
log "client without a flood"
base=$(client none)
log "client under the flood, kernel SYN cookies alone"
printf 'rule add nothing udp dport 9 action drop\n' >"$TMP/none.conf"
sl restore "$TMP/none.conf" >/dev/null || exit 1
stack_synrecv0=$(in_d nstat -az TcpExtSyncookiesSent | awk 'NR > 1 && /Syncookies/ { print $2 }')
nog=$(client flood)
printf 'guard tcp dport %s always\n' "$PORT" >"$TMP/guard.conf"
sl restore "$TMP/guard.conf" >/dev/null || exit 1
log "SYN-ACKs from the guard"
read -r guard_tx guard_sent <<<"$(synack_rate)"
cookies0=$(in_d nstat -az TcpExtSyncookiesSent | awk 'NR > 1 && /Syncookies/ { print $2 }')
log "client under the flood, guard engaged"
withg=$(client flood)
cookies1=$(in_d nstat -az TcpExtSyncookiesSent | awk 'NR > 1 && /Syncookies/ { print $2 }')
status=$(sl -j status | jq -c '.syn_guard.guards[0]')

jq -n --argjson secs "$SECS" --argjson bare_tx "$bare_tx" --argjson bare_sent "$bare_sent" \
	--argjson guard_tx "$guard_tx" --argjson guard_sent "$guard_sent" \
	--argjson base "$base" --argjson nog "$nog" --argjson withg "$withg" \
	--argjson stack_cookies $((cookies1 - cookies0)) \
	--argjson stack_cookies_noguard $((cookies0 - stack_synrecv0)) --argjson guard "$status" \
	'{seconds: $secs, synack_per_s: {bare_xdp_tx: $bare_tx, guard: $guard_tx},
	  flood_sent_per_s: {bare_xdp_tx: $bare_sent, guard: $guard_sent},
	  client: {no_flood: $base, flood_kernel_cookies: $nog, flood_guard: $withg},
	  stack_syncookies_sent: {flood_kernel_cookies: $stack_cookies_noguard, flood_guard: $stack_cookies},
	  guard: $guard}' >"$TMP/out.json"
jq -r '"| | SYN-ACKs/s | flood SYN/s sent |",
	"|---|---|---|",
	"| bare XDP_TX of the same frames | \(.synack_per_s.bare_xdp_tx) | \(.flood_sent_per_s.bare_xdp_tx) |",
	"| sluice guard (cookie SYN-ACK) | \(.synack_per_s.guard) | \(.flood_sent_per_s.guard) |",
	"",
	"| real client | requests | served | p99 ms | SYN cookies sent by the stack |",
	"|---|---|---|---|---|",
	"| no flood | \(.client.no_flood.requests) | \(.client.no_flood.served) | \(.client.no_flood.p99_ms) | |",
	"| flood, kernel SYN cookies alone | \(.client.flood_kernel_cookies.requests) | \(.client.flood_kernel_cookies.served) | \(.client.flood_kernel_cookies.p99_ms) | \(.stack_syncookies_sent.flood_kernel_cookies) |",
	"| flood, guard always | \(.client.flood_guard.requests) | \(.client.flood_guard.served) | \(.client.flood_guard.p99_ms) | \(.stack_syncookies_sent.flood_guard) |"' \
	"$TMP/out.json"
[ -n "$OUT" ] && cp "$TMP/out.json" "$OUT"
exit 0
