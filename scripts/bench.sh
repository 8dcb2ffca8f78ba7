#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench`: what sluice costs per packet (bench_prog: BPF_PROG_TEST_RUN against a bare
# XDP_DROP), what it delivers end to end against bare XDP and nftables on the same traffic
# (trafficgen into a veth), and what the controller's verbs take (a 1M-prefix import beside
# ipset restore and nft -f of the same prefixes). Prints tables, writes
# bench/results.json, puts the tables into bench/README.md and regenerates the top-level
# README's performance summary from them (scripts/bench_summary.py). Needs root.
#
#   BENCH_PARTS="prog e2e control synguard"  the parts to run (default: all four; synguard
#                                   is scripts/bench_synguard.sh, in namespaces of its own)
#   BENCH_QUICK=1                   3 runs, 2 s per end-to-end round, no 1M/10M scale points
#   BENCH_SECONDS=N                 seconds per end-to-end round (default 5)
#   BENCH_ROUNDS=N                  end-to-end rounds per scenario, median taken (default 3)
#   BENCH_SCENARIOS="bare sluice_limit ..."  only these end-to-end scenarios (default: all)
#
# Everything runs in two namespaces made here and removed on exit, joined by one veth:
#   sb-gen-PID: veth sbgPID, the generator      sb-dut-PID: veth sbdPID 198.18.0.1/24, the device under test
# Generated sources are 198.19.0.0/16 (IPv4) and fd00:1::/96 (IPv6); the frames carry a
# destination MAC that is not the DUT's, so whatever passes is dropped by the DUT's IP
# layer as not for this host and nothing is ever sent anywhere else.
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
case $BUILD in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
SLUICE="$BUILD/sluice"
GEN="$BUILD/tests/tools/trafficgen"
PROG="$BUILD/tests/tools/bench_prog"
PARTS=${BENCH_PARTS:-prog e2e control synguard}
QUICK=${BENCH_QUICK:-0}
SECONDS_PER_ROUND=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
PROG_RUNS=5
if [ "$QUICK" = 1 ]; then
	SECONDS_PER_ROUND=${BENCH_SECONDS:-2}
	PROG_RUNS=3
fi

GEN_NS="sb-gen-$$"
DUT_NS="sb-dut-$$"
GEN_IF="sbg$$"
DUT_IF="sbd$$"
DUT_IP=198.18.0.1
SRC_BASE=198.19.0.0
SRC_KEYS=65536
OTHER_MAC=02:00:00:00:00:99 # not the DUT's: passed frames die in its IP layer
PIN="/sys/fs/bpf/sluice-bench-$$"
TMP=$(mktemp -d)
RESULTS="$TMP/results.json"
exporter_pid=

log() { echo "bench: $*" >&2; }
die() {
	log "$*"
	exit 1
}

cleanup() {
	[ -n "$exporter_pid" ] && kill "$exporter_pid" 2>/dev/null
	[ -n "$events_reader" ] && kill "$events_reader" 2>/dev/null
	[ -n "$swapper" ] && kill "$swapper" 2>/dev/null
	ip netns del "$GEN_NS" 2>/dev/null
	ip netns del "$DUT_NS" 2>/dev/null
	rm -rf "$PIN" "$TMP"
}

in_gen() { nsenter --net="/run/netns/$GEN_NS" "$@"; }
in_dut() { nsenter --net="/run/netns/$DUT_NS" "$@"; }
sl() { in_dut "$SLUICE" --pin-path "$PIN" "$@"; }

# Seconds a command takes, to the millisecond; its output goes to $TMP/timed.out.
timed() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >"$TMP/timed.out" 2>&1 || {
		log "failed: $* ($(head -c 300 "$TMP/timed.out"))"
		return 1
	}
	t1=$(date +%s%N)
	awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f\n", d / 1e9 }'
}

# Adds KEY=JSON to the results document.
put_result() {
	jq --arg k "$1" --argjson v "$2" '.[$k] = $v' "$RESULTS" >"$TMP/r.tmp" && mv "$TMP/r.tmp" "$RESULTS"
}

# Deterministic prefix lists: gen_prefixes N4 N6 SEED prints `block add` lines of
# mixed lengths (IPv4 anywhere but 0/8, 10/8, 127/8 and 198.18/15; IPv6 in 2000::/3).
gen_prefixes() {
	python3 - "$@" <<'PY'
import ipaddress, random, sys
n4, n6, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
prefix = sys.argv[4] if len(sys.argv) > 4 else "block add "
r = random.Random(seed)
reserved = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "10.0.0.0/8", "127.0.0.0/8", "198.18.0.0/15")]
def plen4():
    x = r.randrange(100)
    return 32 if x < 70 else 24 if x < 90 else r.randint(21, 23) if x < 98 else r.randint(16, 20)
def plen6():
    x = r.randrange(100)
    return 128 if x < 40 else 64 if x < 80 else 56 if x < 90 else 48 if x < 98 else 32
seen = set()
out = []
while len(seen) < n4:
    net = ipaddress.ip_network((r.getrandbits(32), plen4()), strict=False)
    if net in seen or any(net.overlaps(x) for x in reserved):
        continue
    seen.add(net)
    out.append(f"{prefix}{net}")
seen6 = set()
while len(seen6) < n6:
    net = ipaddress.ip_network(((0x2 << 125) | r.getrandbits(125), plen6()), strict=False)
    if net in seen6:
        continue
    seen6.add(net)
    out.append(f"{prefix}{net}")
sys.stdout.write("\n".join(out) + ("\n" if out else ""))
PY
}

# The generated sources as `block add` lines: 198.19.0.0 .. 198.19.255.255.
gen_sources() {
	python3 -c 'import sys
for i in range(int(sys.argv[1])): print(f"block add 198.19.{i >> 8}.{i & 255}")' "$SRC_KEYS"
}

# The 16 rules of the end-to-end policy; the flood rules, last, limit the generated traffic.
RATE_PER_SEC=10
BURST=5
# The global cap behind the per-source limit (scenarios sluice_cap, sluice_cap_new).
CAP_RATE=100000
CAP_BURST=1000
e2e_rules() {
	e2e_background_rules
	cat <<EOF
rule add flood6 ip6 udp dport 9000 limit src6/128 rate $RATE_PER_SEC/s burst $BURST
rule add flood udp dport 9000 limit src/32 rate $RATE_PER_SEC/s burst $BURST
EOF
}
# The same 14 background rules with one flood rule for both families, whose packets must
# pass a per-source limit and then the global cap: 15 rules.
e2e_cap_rules() {
	e2e_background_rules
	echo "rule add flood udp dport 9000 limit src/32 src6/128 rate $RATE_PER_SEC/s burst $BURST" \
		"limit global rate $CAP_RATE/s burst $CAP_BURST"
}
# The 14 rules no generated packet matches, there to be checked and skipped.
e2e_background_rules() {
	cat <<EOF
rule add ssh tcp dport 22 syn limit src/32 rate 10/m burst 5 action ban 10m
rule add http tcp dport 80 syn limit src/32 rate 50/s burst 100
rule add https tcp dport 443 syn limit src/32 rate 50/s burst 100
rule add dns udp dport 53 limit src/32 rate 100/s burst 200 limit src/24 rate 1000/s burst 2000
rule add ntp udp dport 123 limit global rate 1000/s
rule add ping icmp limit src/32 rate 10/s burst 20
rule add admin tcp dport 8443 action drop
rule add mgmt tcp dport 9100-9200 action drop
rule add smtp tcp dport 25 syn limit src/24 rate 20/s
rule add quic udp dport 443 limit src/32 rate 1000/s burst 2000
rule add memcached udp dport 11211 action drop
rule add ssdp udp dport 1900 action drop
rule add v6udp ip6 udp dport 5000-5100 limit src6/64 rate 100/s
rule add game udp dport 27015 limit src/32 rate 200/s burst 400
EOF
}

setup_netns() {
	local ns
	ip netns add "$GEN_NS" && ip netns add "$DUT_NS" || return 1
	for ns in "$GEN_NS" "$DUT_NS"; do
		# No IPv6 autoconfiguration chatter on the link: the counts are the generator's alone.
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		ip -n "$ns" link set lo up
	done
	ip link add "$GEN_IF" netns "$GEN_NS" type veth peer name "$DUT_IF" netns "$DUT_NS" || return 1
	ip -n "$DUT_NS" addr add "$DUT_IP/24" dev "$DUT_IF"
	ip -n "$GEN_NS" link set "$GEN_IF" up
	ip -n "$DUT_NS" link set "$DUT_IF" up
}

rx_packets() { ip -n "$DUT_NS" -s -j link show dev "$DUT_IF" | jq '.[0].stats64.rx.packets'; }
xmit_errors() { in_gen ethtool -S "$GEN_IF" | awk '/tx_queue_0_xdp_xmit_errors/ { s += $2 } END { print s + 0 }'; }

# The end-to-end traffic, to UDP port 9000 from one CPU. TRAFFIC=v4: 64-byte frames from
# the 64k sources of 198.19.0.0/16 in turn. TRAFFIC=v6new: 66-byte frames (IPv6 + UDP needs
# 62 bytes before the FCS) from 16M sources of fd00:1::/104 in a scattered order, so that at
# the rates reached every packet comes from a source not seen for seconds: a new source to
# the limiter, whose buckets refill in 0.5 s and whose 1M slots cannot hold 16M keys.
TRAFFIC=v4
V6_SRC=fd00:1::
V6_KEYS=16777216
gen_send() {
	if [ "$TRAFFIC" = v6new ]; then
		in_gen "$GEN" send --dev "$GEN_IF" --src "$V6_SRC" --keys "$V6_KEYS" --scatter \
			--dst fd00:5::1 --dst-mac "$OTHER_MAC" --dport 9000 --cpu 0 "$@"
		return
	fi
	in_gen "$GEN" send --dev "$GEN_IF" --src "$SRC_BASE" --keys "$SRC_KEYS" --dst "$DUT_IP" \
		--dst-mac "$OTHER_MAC" --dport 9000 --cpu 0 "$@"
}

# e2e_rounds: WARMUP seconds of traffic, then ROUNDS rounds; prints a JSON array of rounds.
WARMUP=1
e2e_rounds() {
	local i rx0 rx1 er0 er1 out
	gen_send --seconds "$WARMUP" >/dev/null || return 1
	for i in $(seq "$ROUNDS"); do
		rx0=$(rx_packets)
		er0=$(xmit_errors)
		out=$(gen_send --seconds "$SECONDS_PER_ROUND" -j) || return 1
		rx1=$(rx_packets)
		er1=$(xmit_errors)
		jq -n --argjson g "$out" --argjson rx $((rx1 - rx0)) --argjson er $((er1 - er0)) \
			'$g + {received: $rx, xmit_errors: $er, delivered_mpps: ($rx / $g.seconds / 1e6)}'
	done | jq -s .
}

# Verdict counts of the sluice interface: {"pass": N, "drop": N, ...} packets, the drops by
# reason ("drop_blocklist": N, ...: what kind of drop it was), the event counters and, from
# the events the reader wrote, how many events each limit of a rule refused (a sample: the
# events are rate-limited, but they show which of a rule's limits does the refusing).
sluice_verdicts() {
	local ev='{}'
	[ -s "$TMP/events.jsonl" ] &&
		ev=$(jq -s 'map(select(.limit != null) | "events_limit\(.limit)") | group_by(.) |
			map({(.[0]): length}) | add // {}' "$TMP/events.jsonl")
	sl -j stats | jq --arg i "$DUT_IF" --argjson ev "$ev" '
		(.interfaces[] | select(.name == $i) | (.verdicts | map_values(.packets)) +
		 (.drops | map_values(.packets) | with_entries(.key = "drop_" + .key))) +
		((.events // {}) | with_entries(.key = "events_" + .key)) + $ev'
}
# Limiter keys sluice holds after a scenario: slots taken and live, LRU entries, probation.
# Where the limiter holds its keys, from `sluice -j status`.
sluice_keys() {
	sl -j status | jq '.limiter | {slots, slots_used, slots_live, buckets: .lru_keys,
		probation: .probation_live, tracked: (.slots_used + .lru_keys), new_keys}'
}
nft_counters() {
	in_dut nft -j list table netdev sbench |
		jq '[.nftables[] | select(.rule) | .rule | {(.comment): (.expr[] | select(.counter) | .counter.packets)}] | add'
}

# e2e_scenario NAME LABEL SETUP_FN VERDICT_FN TEARDOWN_FN [BASE [KEYS_FN]]: measures and
# records one scenario under the traffic in $TRAFFIC. BASE names the bare scenario of the
# same traffic its fraction is taken of; KEYS_FN reports the limiter state left behind.
declare -a E2E_NAMES=()
e2e_scenario() {
	local name=$1 label=$2 setup=$3 verdicts=$4 teardown=$5 base=${6:-bare} keys_fn=${7:-} v0 v1 rounds
	local t0 t1 keys=null
	case " ${BENCH_SCENARIOS:-$name} " in *" $name "*) ;; *) return 0 ;; esac
	log "end to end: $label"
	WARMUP=1
	t0=$(date +%s%N)
	if ! $setup; then
		log "$name: set-up failed"
		$teardown
		return 1
	fi
	t1=$(date +%s%N)
	v0=$($verdicts)
	rounds=$(e2e_rounds) || {
		$teardown
		return 1
	}
	v1=$($verdicts)
	[ -n "$keys_fn" ] && keys=$($keys_fn)
	$teardown
	E2E_NAMES+=("$name")
	jq -n --arg name "$name" --arg lbl "$label" --argjson r "$rounds" --argjson a "$v0" --argjson b "$v1" \
		--arg base "$base" --arg traffic "$TRAFFIC" --argjson keys "${keys:-null}" \
		--argjson setup "$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", d / 1e9 }')" '
		{name: $name, "label": $lbl, base: $base, traffic: $traffic, setup_s: $setup, rounds: $r,
		 limiter_keys: $keys,
		 delivered_mpps: ($r | map(.delivered_mpps) | sort | .[length / 2 | floor]),
		 offered_mpps: ($r | map(.mpps) | sort | .[length / 2 | floor]),
		 verdicts: ($b | with_entries(.value -= ($a[.key] // 0)) | with_entries(select(.value != 0)))}' \
		>"$TMP/e2e-$name.json"
}

bare_setup() { in_dut "$GEN" xdp "$DUT_IF" drop; }
bare_verdicts() { jq -n --argjson d "$(rx_packets)" '{drop: $d}'; }
xdp_off() { in_dut "$GEN" xdp "$DUT_IF" off 2>/dev/null; }

SLUICE_LOADED=0
sluice_attach() {
	[ "$SLUICE_LOADED" = 1 ] && return 0
	sl attach "$DUT_IF" --mode native || return 1
	SLUICE_LOADED=1
}
# A reader of the event ring, as a deployment that consumes events runs one.
events_reader=
reader_start() {
	[ -n "$events_reader" ] && return 0
	# nsenter execs sluice, so $! is the reader itself.
	nsenter --net="/run/netns/$DUT_NS" "$SLUICE" --pin-path "$PIN" -j events >>"$TMP/events.jsonl" 2>/dev/null &
	events_reader=$!
}
reader_stop() {
	[ -n "$events_reader" ] || return 0
	kill "$events_reader" 2>/dev/null
	wait "$events_reader" 2>/dev/null
	events_reader=
}
sluice_block_setup() {
	sluice_attach || return 1
	local t
	t=$(timed sl restore "$TMP/policy-block") || return 1
	CONTROL_RESTORE_BLOCK=$t
	reader_start
}
# The blocklist holds 198.19.0.0/16 alone, and then with 300k other prefixes around it.
sluice_net16_setup() {
	sluice_attach && sl restore "$TMP/policy-net16" && reader_start
}
sluice_net16_big_setup() {
	sluice_attach && sl restore "$TMP/policy-net16-big" && reader_start
}
# Whole-list swaps under that flood: restores alternate between two policies of 300k
# prefixes, both with the /16, for as long as the scenario runs. Every packet must still
# be dropped as blocklisted; the rate shows what the swaps (and their CPU) cost.
swapper=
sluice_swap_setup() {
	sluice_attach && sl restore "$TMP/policy-net16-big" && reader_start || return 1
	: >"$TMP/swaps"
	(
		while :; do
			for f in policy-net16-swap policy-net16-big; do
				sl restore "$TMP/$f" >/dev/null && echo "$f" >>"$TMP/swaps"
			done
		done
	) &
	swapper=$!
}
sluice_swap_stop() {
	kill "$swapper" 2>/dev/null
	wait "$swapper" 2>/dev/null
	swapper=
	sleep 2 # a restore the loop had started finishes before the next scenario's
}
sluice_swaps() { jq -n --argjson n "$(wc -l <"$TMP/swaps")" '{swaps: $n}'; }
# Per-source limit, then the global cap; both traffics run against the same policy.
sluice_cap_setup() {
	sluice_attach && sl restore "$TMP/policy-cap" && reader_start
}
# The same, with nobody reading events: the warm-up fills the event ring first.
sluice_unread_setup() {
	reader_stop
	WARMUP=10
}
sluice_limit_setup() {
	sluice_attach || return 1
	sl restore "$TMP/policy-limit" && reader_start
}
sluice_keep() { :; }
sluice_detach() {
	reader_stop
	sl detach "$DUT_IF"
	SLUICE_LOADED=0
}

nft_set_setup() {
	in_dut "$GEN" xdp "$DUT_IF" pass || return 1
	{
		echo "table netdev sbench {"
		echo "	set blk { type ipv4_addr; size 131072; elements = {"
		python3 -c 'import sys
n = int(sys.argv[1])
print(",\n".join(f"198.19.{i >> 8}.{i & 255}" for i in range(n)))' "$SRC_KEYS"
		echo "	} }"
		echo "	chain in { type filter hook ingress device \"$DUT_IF\" priority 0;"
		echo "		ip saddr @blk counter drop comment \"drop\""
		echo "		counter comment \"pass\"; }"
		echo "}"
	} >"$TMP/nft-set"
	in_dut nft -f "$TMP/nft-set"
}
nft_meter_setup() {
	in_dut "$GEN" xdp "$DUT_IF" pass || return 1
	cat >"$TMP/nft-meter" <<EOF
table netdev sbench {
	set m { type ipv4_addr; size 131072; flags dynamic,timeout; timeout 60s; }
	chain in { type filter hook ingress device "$DUT_IF" priority 0;
		udp dport 9000 update @m { ip saddr limit rate over $RATE_PER_SEC/second burst $BURST packets } counter drop comment "drop"
		counter comment "pass"; }
}
EOF
	in_dut nft -f "$TMP/nft-meter"
}
# An interval set holding 198.19.0.0/16 alone (the network form is what a /16 blocklist is
# in nftables), then the same with the 300k prefixes of the sluice_net16_big policy: IPv4 in
# one interval set, IPv6 in another. auto-merge, as the lists have prefixes inside others.
nft_net16_setup() { nft_prefix_sets "$TMP/prefixes-net16"; }
nft_net16_big_setup() { nft_prefix_sets "$TMP/prefixes-net16-big"; }
nft_prefix_sets() {
	in_dut "$GEN" xdp "$DUT_IF" pass || return 1
	{
		echo "table netdev sbench {"
		nft_interval_sets "$1"
		echo "	chain in { type filter hook ingress device \"$DUT_IF\" priority 0;"
		echo "		ip saddr @blk4 counter drop comment \"drop\""
		grep -q : "$1" && echo "		ip6 saddr @blk6 counter drop comment \"drop6\""
		echo "		counter comment \"pass\"; }"
		echo "}"
	} >"$TMP/nft-prefixes"
	in_dut nft -f "$TMP/nft-prefixes"
}
# The sets of nft_prefix_sets, for the prefixes of file $1: blk4, and blk6 if it has IPv6.
nft_interval_sets() {
	echo "	set blk4 { type ipv4_addr; flags interval; auto-merge; elements = {"
	grep -v : "$1" | sed '$!s/$/,/'
	echo "	} }"
	if grep -q : "$1"; then
		echo "	set blk6 { type ipv6_addr; flags interval; auto-merge; elements = {"
		grep : "$1" | sed '$!s/$/,/'
		echo "	} }"
	fi
}
# A meter per source, then the global cap in the same chain. Unlike sluice, the per-source
# meter has spent its token when the cap drops the packet. The IPv6 meter holds 1M sources
# for 1 s (a bucket of 10/s burst 5 is full again after 0.5 s); once it is full a new source
# cannot be added, the rule does not match, and only the cap limits that source.
nft_cap_setup() {
	in_dut "$GEN" xdp "$DUT_IF" pass || return 1
	cat >"$TMP/nft-cap" <<EOF
table netdev sbench {
	set m4 { type ipv4_addr; size 131072; flags dynamic,timeout; timeout 60s; }
	set m6 { type ipv6_addr; size 1048576; flags dynamic,timeout; timeout 1s; }
	chain in { type filter hook ingress device "$DUT_IF" priority 0;
		udp dport 9000 update @m4 { ip saddr limit rate over $RATE_PER_SEC/second burst $BURST packets } counter drop comment "source"
		udp dport 9000 update @m6 { ip6 saddr limit rate over $RATE_PER_SEC/second burst $BURST packets } counter drop comment "source6"
		udp dport 9000 limit rate over $CAP_RATE/second burst $CAP_BURST packets counter drop comment "cap"
		counter comment "pass"; }
}
EOF
	in_dut nft -f "$TMP/nft-cap"
}
nft_teardown() {
	in_dut nft delete table netdev sbench 2>/dev/null
	xdp_off
}

# The order of the table: each sluice scenario next to its nftables equivalent. The run
# order differs, so that sluice stays attached through all of its scenarios.
E2E_ORDER="bare bare6 sluice_block sluice_block_unread nft_set sluice_net16 nft_net16
	sluice_net16_big sluice_swap nft_net16_big sluice_limit nft_meter sluice_cap nft_cap sluice_cap_new nft_cap_new"

part_e2e() {
	local f t0
	t0=$(date +%s)
	log "end to end: writing policies (16 rules, 100k+100k or 200k+100k background block prefixes)"
	gen_prefixes 100000 100000 42 >"$TMP/background"
	gen_sources >"$TMP/sources"
	{
		e2e_rules
		cat "$TMP/background" "$TMP/sources"
	} >"$TMP/policy-block"
	{
		e2e_rules
		cat "$TMP/background"
	} >"$TMP/policy-limit"
	{
		e2e_cap_rules
		cat "$TMP/background"
	} >"$TMP/policy-cap"
	# gen_prefixes never covers 198.18.0.0/15 or fd00::/8: the /16 is the only entry that
	# matches the generated sources, which the drop_blocklist count shows.
	echo "$SRC_BASE/16" >"$TMP/prefixes-net16"
	{
		cat "$TMP/prefixes-net16"
		gen_prefixes 200000 100000 43 ""
	} >"$TMP/prefixes-net16-big"
	{
		cat "$TMP/prefixes-net16"
		gen_prefixes 200000 100000 44 ""
	} >"$TMP/prefixes-net16-swap"
	for f in net16 net16-big net16-swap; do
		{
			e2e_rules
			sed 's/^/block add /' "$TMP/prefixes-$f"
		} >"$TMP/policy-$f"
	done

	e2e_scenario bare "bare XDP_DROP" bare_setup bare_verdicts xdp_off
	TRAFFIC=v6new
	e2e_scenario bare6 "bare XDP_DROP, IPv6 traffic, a new source every packet" \
		bare_setup bare_verdicts xdp_off bare6
	TRAFFIC=v4
	e2e_scenario sluice_block "sluice, every source a /32 block entry among 200k prefixes" \
		sluice_block_setup sluice_verdicts sluice_keep
	e2e_scenario sluice_block_unread "sluice, the same, no events reader (ring full)" \
		sluice_unread_setup sluice_verdicts sluice_keep
	e2e_scenario sluice_net16 "sluice, blocklisted flood: the /16 alone in the blocklist" \
		sluice_net16_setup sluice_verdicts sluice_keep
	e2e_scenario sluice_net16_big "sluice, blocklisted flood: the /16 among 200k v4 + 100k v6 prefixes" \
		sluice_net16_big_setup sluice_verdicts sluice_keep
	e2e_scenario sluice_swap "sluice, the same flood while restores swap in other lists of 300k prefixes" \
		sluice_swap_setup sluice_verdicts sluice_swap_stop bare sluice_swaps
	e2e_scenario sluice_limit "sluice, limit flood: $RATE_PER_SEC/s burst $BURST per source" \
		sluice_limit_setup sluice_verdicts sluice_keep bare sluice_keys
	e2e_scenario sluice_cap "sluice, $RATE_PER_SEC/s burst $BURST per source, then $CAP_RATE/s burst $CAP_BURST global" \
		sluice_cap_setup sluice_verdicts sluice_keep bare sluice_keys
	TRAFFIC=v6new
	e2e_scenario sluice_cap_new "sluice, the same policy, a new IPv6 source every packet" \
		sluice_cap_setup sluice_verdicts sluice_detach bare6 sluice_keys
	TRAFFIC=v4
	e2e_scenario nft_set "XDP_PASS + nftables set of the 64k sources" \
		nft_set_setup nft_counters nft_teardown
	e2e_scenario nft_net16 "XDP_PASS + nftables interval set: the /16 alone" \
		nft_net16_setup nft_counters nft_teardown
	e2e_scenario nft_net16_big "XDP_PASS + nftables interval sets: the /16 among 200k v4 + 100k v6 prefixes" \
		nft_net16_big_setup nft_counters nft_teardown
	e2e_scenario nft_meter "XDP_PASS + nftables meter, $RATE_PER_SEC/s burst $BURST per source" \
		nft_meter_setup nft_counters nft_teardown
	e2e_scenario nft_cap "XDP_PASS + nftables meter, then a global limit $CAP_RATE/s burst $CAP_BURST" \
		nft_cap_setup nft_counters nft_teardown
	TRAFFIC=v6new
	e2e_scenario nft_cap_new "XDP_PASS + nftables, the same, a new IPv6 source every packet" \
		nft_cap_setup nft_counters nft_teardown bare6
	TRAFFIC=v4
	for f in $E2E_ORDER; do
		[ -f "$TMP/e2e-$f.json" ] && cat "$TMP/e2e-$f.json"
	done | jq -s \
		--argjson secs "$SECONDS_PER_ROUND" --argjson keys "$SRC_KEYS" --argjson rate "$RATE_PER_SEC" \
		--argjson burst "$BURST" --argjson cap "$CAP_RATE" --argjson capb "$CAP_BURST" \
		--argjson v6keys "$V6_KEYS" --argjson took $(($(date +%s) - t0)) --arg rb "${CONTROL_RESTORE_BLOCK:-}" '
		{seconds_per_round: $secs, sources: $keys, v6_sources: $v6keys, limit_rate: $rate, limit_burst: $burst,
		 cap_rate: $cap, cap_burst: $capb, frame_len: 60, generator_cpus: 1, part_seconds: $took,
		 restore_block_policy_s: (if $rb == "" then null else ($rb | tonumber) end),
		 scenarios: .}' >"$TMP/e2e.json"
	put_result e2e "$(cat "$TMP/e2e.json")"
}

# Control plane: the controller's verbs on big inputs, timed from the shell.
# One-entry edits with N entries listed: the median over 5 rounds of each verb's
# wall-clock seconds, as JSON. They touch a documentation prefix and a port no generated
# packet has.
edit_times() {
	local i ba=() bd=() ra=() rd=()
	for i in 1 2 3 4 5; do
		ba+=("$(timed sl block add 192.0.2.0/24)") || return 1
		bd+=("$(timed sl block del 192.0.2.0/24)") || return 1
		ra+=("$(timed sl rule add bench-edit udp dport 5999 limit src/32 rate 10/s burst 5)") || return 1
		rd+=("$(timed sl rule del bench-edit)") || return 1
	done
	jq -n --argjson n "$1" --arg ba "${ba[*]}" --arg bd "${bd[*]}" --arg ra "${ra[*]}" \
		--arg rd "${rd[*]}" '
		def median: split(" ") | map(tonumber) | sort | .[length / 2 | floor];
		{listed: $n, block_add_s: ($ba | median), block_del_s: ($bd | median),
		 rule_add_s: ($ra | median), rule_del_s: ($rd | median)}'
}

# Wall seconds and peak RSS (KiB) of a command run in the DUT's namespace, as JSON; its
# output is discarded.
timed_rss_cmd() {
	in_dut python3 -c '
import json, resource, subprocess, sys, time
t0 = time.monotonic()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
dt = time.monotonic() - t0
print(json.dumps({"s": round(dt, 3), "rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                  "rc": rc}))' "$@"
}
# The same of a sluice verb.
timed_rss() { timed_rss_cmd "$SLUICE" --pin-path "$PIN" "$@"; }

# The 1M prefixes of file $1 loaded by the peers, timed as timed_rss_cmd does, as JSON
# {ipset, nft}: `ipset restore` into two hash:net sets (inet and inet6), and `nft -f`
# into the interval sets of the end-to-end part. Each is removed again after.
peer_imports() {
	local ipset=null nft=null
	if command -v ipset >/dev/null; then
		{
			echo "create sbctl4 hash:net family inet maxelem 1048576"
			echo "create sbctl6 hash:net family inet6 maxelem 1048576"
			grep -v : "$1" | sed 's/^/add sbctl4 /'
			grep : "$1" | sed 's/^/add sbctl6 /'
		} >"$TMP/ipset-1m"
		ipset=$(timed_rss_cmd ipset restore -file "$TMP/ipset-1m") || ipset=null
		in_dut ipset destroy sbctl4 2>/dev/null
		in_dut ipset destroy sbctl6 2>/dev/null
	else
		log "ipset is not installed (scripts/deps.sh): no ipset row"
	fi
	{
		echo "table netdev sbctl {"
		nft_interval_sets "$1"
		echo "}"
	} >"$TMP/nft-1m"
	nft=$(timed_rss_cmd nft -f "$TMP/nft-1m") || nft=null
	in_dut nft delete table netdev sbctl 2>/dev/null
	rm -f "$TMP/ipset-1m" "$TMP/nft-1m"
	jq -n --argjson i "$ipset" --argjson n "$nft" '{ipset: $i, nft: $n}'
}

# Kernel memory of sluice's maps (pinned ones and the live lists' hashes), in MiB.
map_mib() {
	sl -j status | jq '.memory_bytes / 1048576 | . * 10 | round / 10'
}

part_control() {
	local t_import t_restore t_restore_big t_stats t_status t_scrape keys port=9911 i edits
	local mem_empty mem_1m reimport dump list dumpj peers
	sl attach "$DUT_IF" --mode native || return 1
	mem_empty=$(map_mib)
	log "control plane: restore of a 1,000-line policy"
	{
		e2e_rules
		gen_prefixes 492 492 9
	} >"$TMP/policy-1000"
	t_restore=$(timed sl restore "$TMP/policy-1000")
	edits=$(edit_times 984) || edits=null
	log "control plane: import of 1M prefixes"
	gen_prefixes 500000 500000 7 "" >"$TMP/import-1m"
	t_import=$(timed_rss block import "$TMP/import-1m")
	mem_1m=$(map_mib)
	log "control plane: reads of 1M entries, the same import again"
	dump=$(timed_rss dump)
	dumpj=$(timed_rss -j dump)
	list=$(timed_rss block list)
	reimport=$(timed_rss block import "$TMP/import-1m")
	log "control plane: the same 1M prefixes by ipset restore and nft -f"
	peers=$(peer_imports "$TMP/import-1m") || peers=null
	log "control plane: one-entry edits with 1M listed"
	edits="$(jq -n --argjson a "$edits" --argjson b "$(edit_times 1000984 || echo null)" '[$a, $b]')"
	log "control plane: the same restore, now replacing lists of 1M prefixes"
	t_restore_big=$(timed sl restore "$TMP/policy-1000")
	log "control plane: one-entry edits with 100k listed"
	gen_prefixes 50000 50000 11 "" >"$TMP/import-100k"
	timed sl block import "$TMP/import-100k" >/dev/null &&
		edits="$(jq -n --argjson a "$edits" --argjson b "$(edit_times 100984 || echo null)" '$a + [$b] | sort_by(.listed)')"
	log "control plane: 1M tracked keys from 1M IPv6 sources, then stats"
	in_gen "$GEN" send --dev "$GEN_IF" --src fd00:1:: --keys 1000000 --dst fd00:5::1 \
		--dst-mac "$OTHER_MAC" --dport 9000 --packets 2000000 >/dev/null
	t_stats=$(timed sl -j stats)
	t_status=$(timed sl -j status)
	# Keys live first in the slots array, which status reports as always full; count them.
	keys=$(sluice_keys) || keys=null
	t_scrape=null
	if "$SLUICE" help 2>&1 | grep -q exporter; then
		nsenter --net="/run/netns/$DUT_NS" "$SLUICE" --pin-path "$PIN" exporter \
			--listen "$DUT_IP:$port" >/dev/null 2>&1 &
		exporter_pid=$!
		for i in $(seq 50); do
			in_dut curl -s -o /dev/null "http://$DUT_IP:$port/metrics" && break
			sleep 0.1
		done
		t_scrape=$(timed in_dut curl -sf -o /dev/null "http://$DUT_IP:$port/metrics") || t_scrape=null
		kill "$exporter_pid" 2>/dev/null
		wait "$exporter_pid" 2>/dev/null
		exporter_pid=
	fi
	sl detach "$DUT_IF"
	put_result control "$(jq -n --argjson i "${t_import:-null}" --arg r "${t_restore:-}" --arg rb "${t_restore_big:-}" --arg s "${t_stats:-}" \
		--arg st "${t_status:-}" --argjson sc "${t_scrape:-null}" --argjson k "${keys:-null}" --argjson e "${edits:-null}" \
		--argjson ri "${reimport:-null}" --argjson d "${dump:-null}" --argjson dj "${dumpj:-null}" \
		--argjson l "${list:-null}" --argjson me "${mem_empty:-null}" --argjson m1 "${mem_1m:-null}" \
		--argjson pe "${peers:-null}" '
		def num: if . == "" then null else tonumber end;
		{import_1m_prefixes_s: $i.s, import_1m: $i, reimport_1m: $ri, dump_1m: $d, dump_json_1m: $dj,
		 ipset_restore_1m: $pe.ipset, nft_interval_sets_1m: $pe.nft,
		 block_list_1m: $l, map_mib_empty: $me, map_mib_1m: $m1,
		 restore_1000_lines_s: ($r | num),
		 restore_1000_lines_replacing_1m_s: ($rb | num),
		 stats_json_1m_keys_s: ($s | num), status_json_1m_keys_s: ($st | num),
		 scrape_1m_keys_s: $sc, tracked_keys: $k.tracked, limiter_keys: $k, edits: $e}')"
}

part_prog() {
	local args=(--runs "$PROG_RUNS")
	[ "$QUICK" = 1 ] && args+=(--quick)
	log "program cost: bench_prog ${args[*]} (a few minutes)"
	"$PROG" "${args[@]}" >"$TMP/prog.json" || log "bench_prog reported an error; keeping what it measured"
	jq -e . "$TMP/prog.json" >/dev/null || return 1
	put_result prog "$(cat "$TMP/prog.json")"
}

# ---- tables ----

fmt_tables() {
	jq -r '
	def f1: if . == null then "-" else (. * 10 | round / 10 | tostring) end;
	def f2: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
	def row: "| " + join(" | ") + " |";
	def peer: if .rc == 0 then (.s | f2) else "failed (exit \(.rc))" end;
	def fill: if . == null then "-" elif . < 0 then "off (an entry too short to spread)" else (. * 1000 | round / 10 | tostring) + "% of bits" end;
	def verdicts: if . == null then "-" else (to_entries | map("\(.key) \(.value)") | join(", ")) end;
	(if .prog.cost then
	 "### Program cost (BPF_PROG_TEST_RUN, repeat \(.prog.config.repeat), median of \(.prog.config.runs) runs)\n",
	 "Load: \(.prog.load.block_v4) + \(.prog.load.block_v6) block prefixes, \(.prog.load.allow_v4 + .prog.load.allow_v6) allow prefixes, \(.prog.load.rules) rules, \(.prog.load.tracked_keys) tracked keys, \(.prog.load.bans) bans. List filters set: allow \(.prog.load.allow_filter_fill | fill), block \(.prog.load.block_filter_fill | fill).\n",
	 "| scenario | ns/packet | bare XDP_DROP | ns over bare | verdict, counter |",
	 "|---|---:|---:|---:|---|",
	 (.prog.cost[] | [.label, (.ns | f1), (.bare_ns | f1), (.over_bare_ns | f1), "\(.retval // "-"), \(.path // .error // "-")"] | row),
	 "" else empty end),
	(if .prog.rotating then
	 "### Sources in turn, as on the wire (generator rewrite + tail call into sluice, repeat \(.prog.config.repeat))\n",
	 "The cost section repeats one packet, so every lookup hits warm cache lines. Here the generator program gives each packet the next of 64k sources (as the end-to-end traffic does) and tail-calls sluice; the first row is that wrapper around a bare XDP_DROP.\n",
	 "| case | ns/packet | ns over wrapped bare |", "|---|---:|---:|",
	 (.prog.rotating[] | [.label, (.ns | f1), (.over_wrapped_bare_ns | f1)] | row), "" else empty end),
	(if .prog.churn then
	 "### Churn (generator rewrite + tail call into sluice, repeat \(.prog.config.repeat))\n",
	 "| case | ns/packet | ns over wrapped bare |", "|---|---:|---:|",
	 (.prog.churn.cases[] | [.label, (.ns | f1), (.over_wrapped_bare_ns | f1)] | row),
	 "",
	 "Tracked keys (live state, 50 s into a 100 s burst) still holding it, in their slot or the LRU map (sample of 1 in 100): \(.prog.churn.tracked_surviving_before * 100 | f1)% before the flood, \(.prog.churn.tracked_surviving_after * 100 | f1)% after \(.prog.churn.flood_packets) new keys (1M slots, LRU of \(.prog.churn.buckets_max_entries)).\n"
	 else empty end),
	(if .prog.ablation then
	 "### Where the no-match path spends its time (same packet, policy cut down)\n",
	 "| step | ns/packet | ns over bare |", "|---|---:|---:|",
	 (.prog.ablation[] | [.name, (.ns | f1), (.over_bare_ns | f1)] | row), "" else empty end),
	(if .prog.micro then
	 "### Single operations (each in a program of its own, minus the bare program)\n",
	 "| operation | ns over bare |", "|---|---:|",
	 (.prog.micro[] | [.name, (.over_bare_ns | f1)] | row), "" else empty end),
	(if .prog.scale_lists then
	 "### Scale: blocklist size (half IPv4, half IPv6), ns over bare\n",
	 "| prefixes | blocklisted v4 | blocklisted v6 | no match v4 | trie lookup alone | trie memlock MiB | block filter |",
	 "|---:|---:|---:|---:|---:|---:|---:|",
	 (.prog.scale_lists[] | [(.prefixes | tostring), (.block_v4.over_bare_ns | f1), (.block_v6.over_bare_ns | f1),
	   (.nomatch.over_bare_ns | f1), (.lpm_hit.over_bare_ns | f1), (.trie_memlock / 1048576 | f1), (.block_filter_fill | fill)] | row), "" else empty end),
	(if .prog.scale_keys then
	 "### Scale: tracked keys, under-limit path through the generator wrapper, ns over wrapped bare\n",
	 "| tracked keys | max_entries | one key | all keys in turn | memlock bytes/entry | MemAvailable drop MiB |",
	 "|---:|---:|---:|---:|---:|---:|",
	 (.prog.scale_keys[] | [(.keys | tostring), (.max_entries | tostring), ((.one_key.ns - .wrap_bare.ns) | f1),
	   ((.all_keys.ns - .wrap_bare.ns) | f1), (.memlock_per_entry | f1), (.memavailable_drop_kb / 1024 | f1)] | row), "" else empty end),
	(if .prog.accuracy then
	 "### Limiter accuracy: \(.prog.accuracy.cpus) CPUs on one key, rate \(.prog.accuracy.rate)/s burst \(.prog.accuracy.burst)\n",
	 "Admitted \(.prog.accuracy.admitted) of \(.prog.accuracy.offered) in \(.prog.accuracy.seconds | f2) s; burst + rate x elapsed is \(.prog.accuracy.expected | round): error \(.prog.accuracy.error_pct | f2)%. Mid-run admitted rate over \(.prog.accuracy.mid_seconds | f2) s: \(.prog.accuracy.mid_rate | round)/s, error \(.prog.accuracy.mid_error_pct | f2)%. (Time the machine takes from both bench threads at once is time no packet is offered, and shows as a deficit.)\n"
	 else empty end),
	def keys: if . == null then "" elif .swaps then "; \(.swaps) whole-list swaps meanwhile" else "; limiter keys after: \(.slots_used) slots taken (\(.slots_live) live), \(.buckets) in the LRU map, \(.probation) on probation; new keys admitted \(.new_keys.admitted), promoted \(.new_keys.promoted), displaced \(.new_keys.displaced)" end;
	(if .e2e then
	 "### End to end: \(.e2e.frame_len + 4)-byte UDP frames from \(.e2e.sources) sources (IPv6 rows: 66-byte frames, \(.e2e.v6_sources // "-") sources in scattered order), one generator CPU, \(.e2e.seconds_per_round) s rounds (median)\n",
	 (if .e2e.part_seconds then "The end-to-end part took \(.e2e.part_seconds) s. \"vs bare\" is of the bare row with the same traffic; \"set-up s\" is attach (first sluice row) and restore, or `nft -f`.\n" else empty end),
	 "| device under test | delivered Mpps | vs bare | offered Mpps | set-up s | verdicts (packets) |",
	 "|---|---:|---:|---:|---:|---|",
	 ((.e2e.scenarios | map({(.name): .delivered_mpps}) | add) as $bare |
	  .e2e.scenarios[] | (.base // "bare") as $b | [.label, (.delivered_mpps | f2),
	   (if $bare[$b] then (.delivered_mpps / $bare[$b] * 100 | f1) + "%" else "-" end),
	   (.offered_mpps | f2), (.setup_s | f2), ((.verdicts | verdicts) + (.limiter_keys | keys))] | row), "" else empty end),
	(if .control then
	 "### Control plane\n",
	 "| operation | seconds | peak RSS MiB |", "|---|---:|---:|",
	 (["sluice block import, 1M prefixes", (.control.import_1m_prefixes_s | f2), (.control.import_1m.rss_kib / 1024 | f1)] | row),
	 (if .control.reimport_1m then (["sluice block import, the same 1M again", (.control.reimport_1m.s | f2), (.control.reimport_1m.rss_kib / 1024 | f1)] | row) else empty end),
	 (if .control.ipset_restore_1m then (["ipset restore, the same 1M (two hash:net sets, inet and inet6)", (.control.ipset_restore_1m | peer), (.control.ipset_restore_1m.rss_kib / 1024 | f1)] | row) else empty end),
	 (if .control.nft_interval_sets_1m then (["nft -f, the same 1M (two interval sets, auto-merge)", (.control.nft_interval_sets_1m | peer), (.control.nft_interval_sets_1m.rss_kib / 1024 | f1)] | row) else empty end),
	 (if .control.dump_1m then (["sluice dump, 1M listed", (.control.dump_1m.s | f2), (.control.dump_1m.rss_kib / 1024 | f1)] | row) else empty end),
	 (if .control.dump_json_1m then (["sluice -j dump, 1M listed", (.control.dump_json_1m.s | f2), (.control.dump_json_1m.rss_kib / 1024 | f1)] | row) else empty end),
	 (if .control.block_list_1m then (["sluice block list, 1M listed", (.control.block_list_1m.s | f2), (.control.block_list_1m.rss_kib / 1024 | f1)] | row) else empty end),
	 (["sluice restore, 1,000-line policy", (.control.restore_1000_lines_s | f2)] | row),
	 (["sluice restore, the same policy, replacing lists of 1M prefixes", (.control.restore_1000_lines_replacing_1m_s | f2)] | row),
	 (if .e2e.restore_block_policy_s then (["sluice restore, 16 rules + 265,536 block lines", (.e2e.restore_block_policy_s | f2)] | row) else empty end),
	 ((if .control.limiter_keys then .control.limiter_keys | "\(.tracked) tracked keys (\(.slots_used) in slots, \(.buckets) in the LRU map)"
	   else "~1M tracked keys (not counted)" end) as $k |
	  (["sluice -j stats, \($k)", (.control.stats_json_1m_keys_s | f2)] | row),
	  (["sluice -j status, \($k)", (.control.status_json_1m_keys_s | f2)] | row),
	  (["exporter scrape, \($k)", (.control.scrape_1m_keys_s | f2)] | row)), "",
	 (if .control.map_mib_empty then "Map memory (`sluice -j status` memory_bytes, the kernel'"'"'s memlock of every map): \(.control.map_mib_empty) MiB after attach with an empty policy, \(.control.map_mib_1m) MiB with 1M prefixes listed (+\(.control.map_mib_1m - .control.map_mib_empty | f1) MiB).\n" else empty end),
	 (if .control.edits then
	  "One-entry edits (median of 5, milliseconds of the whole command): `block add` and `block del` of 192.0.2.0/24, `rule add` and `rule del` of a one-limit rule.\n",
	  "| entries listed | block add | block del | rule add | rule del |", "|---:|---:|---:|---:|---:|",
	  (.control.edits[] | select(. != null) | [(.listed | tostring), (.block_add_s * 1000 | f1),
	   (.block_del_s * 1000 | f1), (.rule_add_s * 1000 | f1), (.rule_del_s * 1000 | f1)] | row), ""
	  else empty end)
	 else empty end),
	(if .synguard then
	 "### SYN guard: a spoofed SYN flood, a new source every SYN (scripts/bench_synguard.sh, \(.synguard.seconds) s each)\n",
	 "| | SYN-ACKs/s | flood SYN/s sent |", "|---|---:|---:|",
	 (["bare XDP_TX of the same frames", (.synguard.synack_per_s.bare_xdp_tx | tostring), (.synguard.flood_sent_per_s.bare_xdp_tx | tostring)] | row),
	 (["sluice guard (cookie SYN-ACK)", (.synguard.synack_per_s.guard | tostring), (.synguard.flood_sent_per_s.guard | tostring)] | row), "",
	 "| real client | requests | served | p99 ms | SYN cookies sent by the stack |", "|---|---:|---:|---:|---:|",
	 (["no flood", (.synguard.client.no_flood | .requests, .served, .p99_ms | tostring), "-"] | row),
	 (["flood, kernel SYN cookies alone", (.synguard.client.flood_kernel_cookies | .requests, .served, .p99_ms | tostring), (.synguard.stack_syncookies_sent.flood_kernel_cookies | tostring)] | row),
	 (["flood, guard always", (.synguard.client.flood_guard | .requests, .served, .p99_ms | tostring), (.synguard.stack_syncookies_sent.flood_guard | tostring)] | row), ""
	 else empty end),
	(if .prog.guard_ns_per_syn then
	 "Program cost of a SYN from a new source each (bench_prog, BPF_PROG_TEST_RUN, ns a SYN, median): the guard with its listener cached (raw cookie) and with a socket lookup every SYN (a listener that clamps its MSS), against a bare XDP_TX.\n",
	 "| family | bare XDP_TX | guard, raw cookie | guard, lookup every SYN |", "|---|---:|---:|---:|",
	 (.prog.guard_ns_per_syn | to_entries[] | [.key, (.value.bare_xdp_tx | f1), (.value.guard_raw | f1), (.value.guard_lookup | f1)] | row), ""
	 else empty end)
	' "$1"
}

main() {
	[ "$(id -u)" -eq 0 ] || die "needs root"
	for b in "$SLUICE" "$GEN" "$PROG"; do
		[ -x "$b" ] || die "$b missing: run make bench"
	done
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	awk '$1 > 0.5 { exit 1 }' /proc/loadavg ||
		log "load average $(cut -d' ' -f1 /proc/loadavg): other work on this machine will show in the figures"
	echo '{}' >"$RESULTS"
	put_result machine "$(jq -n --arg date "$(date -u '+%Y-%m-%d %H:%M UTC')" --arg cpus "$(nproc)" \
		--arg model "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
		--arg kernel "$(uname -r)" --arg commit "$(git rev-parse --short HEAD 2>/dev/null)" \
		--arg dirty "$(git status --porcelain --untracked-files=no -- bpf include 2>/dev/null | wc -l)" \
		--arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
		'{date: $date, cpus: ($cpus | tonumber), model: $model, kernel: $kernel, commit: $commit,
		  data_path_files_modified: ($dirty | tonumber), loadavg_at_start: $load}')"
	case " $PARTS " in *" prog "*) part_prog ;; esac
	if [[ " $PARTS " == *" e2e "* || " $PARTS " == *" control "* ]]; then
		setup_netns || die "cannot set up the namespaces"
		case " $PARTS " in *" e2e "*) part_e2e ;; esac
		case " $PARTS " in *" control "*) part_control ;; esac
	fi
	case " $PARTS " in *" synguard "*)
		BENCH_SECONDS=$SECONDS_PER_ROUND scripts/bench_synguard.sh "$TMP/synguard.json" >/dev/null &&
			put_result synguard "$(cat "$TMP/synguard.json")"
		;;
	esac

	put_result machine "$(jq --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" '.machine + {loadavg_at_end: $load}' "$RESULTS")"
	mkdir -p bench
	cp "$RESULTS" bench/results.json
	fmt_tables "$RESULTS" >"$TMP/tables.md"
	cat "$TMP/tables.md"
	write_readme "$TMP/tables.md"
	log "wrote bench/results.json and bench/README.md"
}

# bench/README.md: the fixed text, then the latest tables with the date, machine and kernel.
write_readme() {
	local m
	m=$(jq -r '.machine | "\(.date); \(.cpus) CPUs, \(.model); kernel \(.kernel); commit \(.commit)\(if .data_path_files_modified > 0 then " with uncommitted data-path changes" else "" end); load average \(.loadavg_at_start) at the start, \(.loadavg_at_end) at the end."' "$RESULTS")
	if [ -f bench/README.md ] && grep -q '^<!-- results -->' bench/README.md; then
		sed '/^<!-- results -->/,$d' bench/README.md >"$TMP/readme"
	else
		echo "# sluice benchmarks" >"$TMP/readme"
	fi
	{
		echo "<!-- results -->"
		echo "## Latest results"
		echo
		echo "$m"
		echo
		cat "$1"
	} >>"$TMP/readme"
	cp "$TMP/readme" bench/README.md
	# The top-level README's performance summary, from the same results.
	python3 scripts/bench_summary.py bench/results.json README.md ||
		log "could not update the summary in README.md"
}

main "$@"
