#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The bench's traffic generator: exact frame counts, and the key space it promises (every
# source the same number of times), read back through sluice's per-source limits.
. "$(dirname "$0")/lib.sh"
require_root
GEN="${BUILD:-build}/tests/tools/trafficgen"
case $GEN in /*) ;; *) GEN="$(cd "$(dirname "$0")/../.." && pwd)/$GEN" ;; esac
if [ ! -x "$GEN" ]; then
	echo "ok 1 - $TEST_NAME # SKIP $GEN not built"
	echo "1..1"
	exit 0
fi
setup_netns || { not_ok "set up namespaces"; finish; }
# veth only takes XDP_TX frames from its peer when the receiving end runs XDP.
check "attach natively" sl attach "$SRV_IF" --mode native

cat >"$TMP/policy" <<POLICY
rule add seq udp dport 9001 limit src/32 rate 1/h burst 3
rule add seq2 udp dport 9004 limit src/32 rate 1/h burst 3
rule add scatter udp dport 9002 limit src/32 rate 1/h burst 2
rule add v6 ip6 udp dport 9003 limit src6/128 rate 1/h burst 4
POLICY
check "restore the policy" sl restore "$TMP/policy"

xmit() { in_cli ethtool -S "$CLI_IF" | awk -v k="tx_queue_0_xdp_$1:" '$1 == k { print $2 }'; }
OTHER_MAC=02:00:00:00:00:99 # not the server's: what passes dies in its IP layer

# send ARGS...: frames to the server, not for its MAC, from a key space.
send() {
	in_cli "$GEN" send --dev "$CLI_IF" --dst-mac "$OTHER_MAC" --cpu 0 "$@" >"$TMP/gen.out" 2>&1
}

# The peer refuses frames only when its receive ring is full, which a stall of the host
# in the middle of the run can cause (seen once in 18 runs). Then the same send runs once
# more, on a rule of its own so its limiter state starts fresh; a generator that always
# overruns the peer fails both times.
for rule in seq seq2; do
	port=9001
	[ "$rule" = seq2 ] && port=9004
	x0=$(xmit xmit)
	e0=$(xmit xmit_errors)
	send --src 198.18.1.0 --keys 100 --packets 1000 --dst "$SRV_IP" --dport "$port"
	sent=$?
	refused=$(($(xmit xmit_errors) - e0))
	[ "$sent" -eq 0 ] || break
	[ "$refused" -eq 0 ] && break
	echo "# $rule: the peer refused $refused of 1000 frames; sending again"
done
expect_eq "send 1000 frames from 100 IPv4 sources" "$sent" 0
expect_eq "the generator reports 1000 frames" "$(awk '{ print $2 }' "$TMP/gen.out")" 1000
expect_eq "1000 frames left the client's veth" "$(($(xmit xmit) - x0))" 1000
expect_eq "none refused by the peer" "$refused" 0
# Each source sent 10 frames; its burst of 3 passes, the other 7 drop.
expect_eq "100 sources x burst 3 passed" "$(rule_count "$SRV_IF" "$rule" pass)" 300
expect_eq "the other 700 dropped" "$(rule_count "$SRV_IF" "$rule" drop)" 700

check "send 1280 frames from 128 scattered sources" send --src 198.18.2.0 --keys 128 --scatter \
	--packets 1280 --dst "$SRV_IP" --dport 9002
expect_eq "scattered: every source seen, 128 x burst 2 passed" "$(rule_count "$SRV_IF" scatter pass)" 256
expect_eq "scattered: 1024 dropped" "$(rule_count "$SRV_IF" scatter drop)" 1024

check "send 500 frames from 50 IPv6 sources" send --src fd00:5::100 --keys 50 --packets 500 \
	--dst "$SRV_IP6" --dport 9003
expect_eq "IPv6: 50 sources x burst 4 passed" "$(rule_count "$SRV_IF" v6 pass)" 200
expect_eq "IPv6: 300 dropped" "$(rule_count "$SRV_IF" v6 drop)" 300
expect_eq "no frame was malformed" "$(drop_count "$SRV_IF" malformed)" 0
finish
