#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# One-entry edits SIGKILLed at random points while 1M prefixes are listed: each kill leaves
# the entry listed or not, the data path drops the client exactly when `block list` lists
# it, the list keeps its million, and the next command works. The edits themselves take
# milliseconds however much is listed.
# FAULT_SEED=N repeats a run's kill delays; FAULT_KILLS=N kills of each kind (default 30).
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }

seed=${FAULT_SEED:-$(((RANDOM ^ $$) % 32768))}
RANDOM=$seed
kills=${FAULT_KILLS:-30}
listed=1000000
client=198.18.0.3
diag "seed $seed (FAULT_SEED=$seed repeats the delays), $kills kills of each kind"

check "attach" sl attach "$SRV_IF"
# A million /32s in 20.0.0.0/12, none of them the client.
python3 -c '
import sys
n = int(sys.argv[1])
sys.stdout.write("".join("20.%d.%d.%d\n" % (i >> 16, (i >> 8) & 255, i & 255) for i in range(n)))
' "$listed" >"$TMP/feed"
check "import 1M prefixes" sl block import "$TMP/feed"

# Is the client listed, by `block list`, and does the data path drop its datagram?
client_listed() { sl block list | grep -cxE "block add ${client//./\\.}(/32)?"; }
client_dropped() {
	local before after
	before=$(drop_count "$SRV_IF" blocklist)
	udp_send "$client" "$SRV_IP" 9000 1
	after=$(drop_count "$SRV_IF" blocklist)
	echo $((after - before))
}
block_entries() { sl -j status | jq '.maps[] | select(.name == "sluice_block") | .entries'; }

ms_edit=0
for verb in add del; do
	ms=$(timed_ms block "$verb" "$client") && [ "$ms" -gt "$ms_edit" ] && ms_edit=$ms
done
diag "block add/del of one prefix with 1M listed: up to $ms_edit ms (nsenter included)"
[ "$ms_edit" -le 200 ] && ok "one-entry edits with 1M listed take well under a second" ||
	not_ok "one-entry edits with 1M listed take well under a second ($ms_edit ms)"

agree=0 hit=0 next=0 whole=0
for i in $(seq "$kills"); do
	[ $((i % 2)) = 1 ] && verb=add || verb=del
	ms=$(rand_ms $((ms_edit * 12 / 10)))
	killed_after "$ms" block "$verb" "$client" && hit=$((hit + 1))
	l=$(client_listed)
	d=$(client_dropped)
	if [ "$l" = "$d" ]; then
		agree=$((agree + 1))
	else
		[ $((i - agree)) -le 3 ] && diag "block $verb killed after $ms ms: listed $l, dropped $d"
	fi
	n=$(block_entries)
	[ "$n" = $((listed + l)) ] && whole=$((whole + 1)) ||
		diag "block $verb killed after $ms ms: $n entries, want $((listed + l))"
	sl block del "$client" >/dev/null 2>&1
	sl block add 192.0.2.77 2>>"$TMP/next" && sl block del 192.0.2.77 2>>"$TMP/next" &&
		next=$((next + 1))
done
diag "block edits: $hit of $kills kills hit a running edit"
expect_eq "after every killed edit the data path agrees with block list" "$agree" "$kills"
expect_eq "after every killed edit the list holds its million, plus the entry if listed" \
	"$whole" "$kills"
expect_eq "the next write succeeded after every kill" "$next" "$kills"

# Rule edits beside the million: the rule is there or not, and dump says which.
agree=0 next=0
for i in $(seq "$kills"); do
	ms=$(rand_ms $((ms_edit * 12 / 10)))
	if [ $((i % 2)) = 1 ]; then
		killed_after "$ms" rule add edit udp dport 9000 action drop
	else
		killed_after "$ms" rule del edit
	fi
	rules=$(sl -j rule list | jq -c '[.[].name]')
	dropped=$(($(drop_count "$SRV_IF" acl)))
	udp_send "$CLI_IP" "$SRV_IP" 9000 1
	dropped=$(($(drop_count "$SRV_IF" acl) - dropped))
	{ [ "$rules" = '["edit"]' ] && [ "$dropped" = 1 ]; } ||
		{ [ "$rules" = '[]' ] && [ "$dropped" = 0 ]; } && agree=$((agree + 1)) ||
		diag "rule edit killed after $ms ms: rules $rules, dropped $dropped"
	sl rule del edit >/dev/null 2>&1
	[ "$(block_entries)" = "$listed" ] && next=$((next + 1))
done
expect_eq "after every killed rule edit the data path agrees with dump" "$agree" "$kills"
expect_eq "after every killed rule edit the list still holds its million" "$next" "$kills"
check "detach" sl detach "$SRV_IF"
finish
