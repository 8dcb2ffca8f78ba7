#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Counters never go back: a rule slot taken over by a new rule keeps the interface and
# reason totals, and the new rule's own counts start from zero.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }
check "attach" sl attach "$SRV_IF"

check "a rule that drops after a burst of 2" \
	sl rule add a udp dport 5353 limit src/32 rate 1/h burst 2 action drop
udp_send "$CLI_IP" "$SRV_IP" 5353 10
expect_eq "rule a: 2 passed" "$(rule_count "$SRV_IF" a pass)" 2
expect_eq "rule a: 8 dropped" "$(rule_count "$SRV_IF" a drop)" 8
pass_before=$(verdict_count "$SRV_IF" pass)
drop_before=$(verdict_count "$SRV_IF" drop)
limit_before=$(drop_count "$SRV_IF" ratelimit)
metric_before=$(in_srv "$SLUICE" --pin-path "$PIN" -j stats | jq '[.interfaces[].drops.ratelimit.packets] | add')

check "rule del a" sl rule del a
check "rule add b takes a's slot" sl rule add b udp dport 6000 action drop
expect_eq "rule b starts from zero" "$(rule_count "$SRV_IF" b drop)" 0
# Passes may grow meanwhile (IPv6 neighbour and router traffic on the link); never shrink.
pass_after=$(verdict_count "$SRV_IF" pass)
[ "$pass_after" -ge "$pass_before" ] && ok "interface passes did not go back ($pass_before, then $pass_after)" ||
	not_ok "interface passes did not go back ($pass_before, then $pass_after)"
expect_eq "interface drops did not go back" "$(verdict_count "$SRV_IF" drop)" "$drop_before"
expect_eq "ratelimit drops did not go back" "$(drop_count "$SRV_IF" ratelimit)" "$limit_before"

udp_send "$CLI_IP" "$SRV_IP" 6000 3
expect_eq "rule b counts its own drops only" "$(rule_count "$SRV_IF" b drop)" 3
expect_eq "interface drops went on from where they were" "$(verdict_count "$SRV_IF" drop)" \
	$((drop_before + 3))

# A restore that replaces every rule: the totals stay, the new rules start afresh.
printf 'rule add c udp dport 7000 action drop\n' >"$TMP/policy"
check "restore with new rules only" sl restore "$TMP/policy"
expect_eq "after the restore, interface drops did not go back" \
	"$(verdict_count "$SRV_IF" drop)" $((drop_before + 3))
expect_eq "rule c starts from zero" "$(rule_count "$SRV_IF" c drop)" 0
expect_eq "the reason totals add up across the churn" \
	"$(in_srv "$SLUICE" --pin-path "$PIN" -j stats | jq '[.interfaces[].drops.ratelimit.packets] | add')" \
	"$metric_before"
finish
