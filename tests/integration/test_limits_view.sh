#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# sluice limits: the keys each limit holds state for, how full, and the fullest, against
# traffic of known counts from a few sources. Rates of 1/m keep every count exact, and each
# key in its quarter, for the minute the test may take.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }
check "attach" sl attach "$SRV_IF"

cat >"$TMP/policy" <<POLICY
rule add watch udp dport 6100 limit src/32 rate 1/m burst 10 action monitor
rule add cap udp dport 6200 limit src/32 rate 1/m burst 4 action drop
rule add quiet udp dport 6300 limit src/32 rate 1/m burst 4 action drop
POLICY
check "restore the policy" sl restore "$TMP/policy"

# watch: one source past its burst, two within it, and one seen once (on probation).
udp_send "$CLI_IP" "$SRV_IP" 6100 15
udp_send 198.18.0.3 "$SRV_IP" 6100 4
udp_send "$CLI_IP6" "$SRV_IP6" 6100 6
udp_send 198.18.0.130 "$SRV_IP" 6100 1
udp_send "$CLI_IP" "$SRV_IP" 6200 6
expect_soon "watch: the 5 past the burst are counted as monitor" 5 rule_count "$SRV_IF" watch monitor
expect_soon "watch: 21 pass" 21 rule_count "$SRV_IF" watch pass
expect_soon "cap: 2 dropped" 2 rule_count "$SRV_IF" cap drop

check "limits -j" eval 'sl -j limits >"$TMP/all.json"'
lim() { jq -c --arg r "$1" ".limits[] | select(.rule == \$r) | $2" "$TMP/all.json"; }
expect_eq "every limit of the policy, in order" "$(jq -c '[.limits[] | [.rule, .limit]]' "$TMP/all.json")" \
	'[["watch",0],["cap",0],["quiet",0]]'
expect_eq "a limit's spec and action" "$(lim watch '[.spec, .action, .unit]')" \
	'["src/32 src6/64 rate 1/m burst 10","monitor","packets"]'
expect_eq "watch: 3 keys with state, all in slots; the one-packet source is on probation" \
	"$(lim watch '[.keys, .in_slots, .in_lru]')" '[3,3,0]'
expect_eq "watch: how full" "$(lim watch '.histogram')" \
	'{"0-25%":0,"25-50%":1,"50-75%":1,"75-100%":0,"over":1}'
expect_eq "watch: the fullest first, with what each has left" \
	"$(lim watch '[.top[] | [.source, .tokens, .over, .in]]')" \
	'[["198.18.0.2",0,true,"slot"],["fd00:5::/64",4,false,"slot"],["198.18.0.3",6,false,"slot"]]'
expect_eq "watch: the source past its burst has used all of it" \
	"$(lim watch '.top[0].used >= 0.9')" true
expect_eq "cap: its source is over" "$(lim cap '[.keys, .top[0].source, .top[0].tokens, .histogram.over]')" \
	'[1,"198.18.0.2",0,1]'
expect_eq "quiet: no key holds state" "$(lim quiet '[.keys, .top]')" '[0,[]]'

expect_eq "RULE keeps that rule's limits only" \
	"$(sl -j limits cap | jq -c '[.limits[] | [.rule, .keys]]')" '[["cap",1]]'
expect_eq "--top N keeps the N fullest" \
	"$(sl -j limits watch --top 1 | jq -c '[.limits[0].keys, [.limits[0].top[].source]]')" \
	'[3,["198.18.0.2"]]'
sl limits watch >"$TMP/watch.txt"
grep -qxF "rule watch limit 0: src/32 src6/64 rate 1/m burst 10, action monitor" "$TMP/watch.txt" &&
	grep -qE '^    198\.18\.0\.2 +[0-9.]+% +0  over$' "$TMP/watch.txt" &&
	ok "the text form names the limit and marks the source over" ||
	not_ok "the text form names the limit and marks the source over: $(cat "$TMP/watch.txt")"

expect_exit "an unknown rule is a usage error" 2 sl limits nope
sl limits nope 2>"$TMP/err"
expect_eq "... with one clear line" "$(cat "$TMP/err")" \
	'sluice: limits: rule "nope": no such rule in the live policy'
expect_exit "-j: an unknown rule is a usage error" 2 sl -j limits nope
expect_eq "-j: ... as one JSON error on stdout, nothing on stderr" \
	"$(jq -r .error "$TMP/out") [$(cat "$TMP/err")]" \
	'limits: rule "nope": no such rule in the live policy []'
expect_exit "--top 0 is a usage error" 2 sl limits --top 0
expect_eq "... named in one line" "$(head -n 1 "$TMP/err")" \
	'sluice: limits: --top: expected a count from 1 to 10000, got "0"'
expect_exit "limits --help exits 0" 0 sl limits --help
expect_eq "... with the usage on stdout" "$(head -n 1 "$TMP/out")" "Usage: sluice limits [RULE] [--top N]"
finish
