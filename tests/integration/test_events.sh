#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Sampled drop events under a flood: the ceiling holds, nothing goes uncounted,
# `events -j` is JSON lines, and `top -j` names the flooding source first.
. "$(dirname "$0")/lib.sh"
require_root
setup_netns || { not_ok "set up namespaces"; finish; }
check "attach" sl attach "$SRV_IF"

cat >"$TMP/policy" <<'POLICY'
set events period 10s sample 100 ceiling 50
block add 203.0.113.0/24
rule add flood udp dport 9999 limit global rate 1/h burst 1 action drop
POLICY
check "restore a policy with event settings" sl restore "$TMP/policy"
expect_eq "dump keeps the event settings" "$(sl dump | head -n 1)" "set events period 10s sample 100 ceiling 50"

bg "$SRV" "$SLUICE" --pin-path "$PIN" -j events >"$TMP/events" 2>"$TMP/events.err"
events_pid=${bg_pids[-1]}
sleep 0.5
udp_send "$CLI_IP" "$SRV_IP" 9999 3000
sleep 0.5
kill "$events_pid"
wait "$events_pid" 2>/dev/null

drops=$(rule_count "$SRV_IF" flood drop)
expect_eq "the flood was refused but for the burst" "$drops" 2999
lines=$(wc -l <"$TMP/events")
[ "$lines" -ge 1 ] && [ "$lines" -le 100 ] && ok "events within the ceiling of 50/s per CPU ($lines)" ||
	not_ok "events within the ceiling of 50/s per CPU ($lines)"
check "every event line is JSON" jq -e . "$TMP/events"
expect_eq "the first event is the key's first drop, unsampled" \
	"$(head -n 1 "$TMP/events" | jq -r '[.src, .reason, .rule, .verdict, .proto, (.dport|tostring), (.sampled|tostring)] | join(" ")')" \
	"$CLI_IP ratelimit flood drop udp 9999 1"
ev=$(sl -j stats | jq -c .events)
emitted=$(echo "$ev" | jq .emitted)
suppressed=$(echo "$ev" | jq .suppressed)
lost=$(echo "$ev" | jq .lost)
expect_eq "every drop is emitted, suppressed or lost" "$((emitted + suppressed + lost))" "$drops"
expect_eq "the reader got every emitted event" "$lines" "$emitted"

# top -j: the source sending most is named first.
bg "$SRV" "$SLUICE" --pin-path "$PIN" -j top --interval 1 >"$TMP/top" 2>"$TMP/top.err"
top_pid=${bg_pids[-1]}
sleep 0.3
udp_send 198.18.0.3 "$SRV_IP" 9999 2000
udp_send "$CLI_IP" "$SRV_IP" 9999 50
sleep 2.2
kill "$top_pid"
wait "$top_pid" 2>/dev/null
first=$(jq -r 'select(.top | length > 0) | .top[0].src' "$TMP/top" | head -n 1)
expect_eq "top -j names the flooding source first" "$first" 198.18.0.3
check "top -j snapshots are JSON" jq -e .drops_per_sec "$TMP/top"
check "detach" sl detach "$SRV_IF"
finish
