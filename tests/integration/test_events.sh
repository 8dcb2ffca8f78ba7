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

# The ring keeps what the data path writes until a reader takes it, so the reader may start
# after the flood; it is stopped once it has printed every event emitted.
ev_count() { sl -j stats | jq -r ".events.$1"; }
lines_are_emitted() { [ "$(wc -l <"$TMP/events")" = "$(ev_count emitted)" ]; }
bg "$SRV" "$SLUICE" --pin-path "$PIN" -j events >"$TMP/events" 2>"$TMP/events.err"
events_pid=${bg_pids[-1]}
udp_send "$CLI_IP" "$SRV_IP" 9999 3000
wait_until 10 output_is 2999 rule_count "$SRV_IF" flood drop
check "the reader prints every emitted event" wait_until 10 lines_are_emitted

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

# SIGTERM drains the ring: events already in it when the signal comes are printed, and the
# exit status is 0. The reader is stopped (SIGSTOP) while they are made, so it has read none
# of them when SIGTERM comes; SIGCONT then lets it handle the signal.
kill -STOP "$events_pid"
check "the reader is stopped" wait_until 5 is_stopped "$events_pid"
udp_send 198.18.0.130 "$SRV_IP" 9999 1000
wait_until 10 output_is 3999 rule_count "$SRV_IF" flood drop
emitted_now=$(ev_count emitted)
[ "$emitted_now" -gt "$emitted" ] && ok "events were emitted while the reader was stopped" ||
	not_ok "events were emitted while the reader was stopped ($emitted, then $emitted_now)"
expect_eq "none of them printed yet" "$(wc -l <"$TMP/events")" "$lines"
kill -TERM "$events_pid"
kill -CONT "$events_pid"
wait "$events_pid"
expect_eq "events exits 0 on SIGTERM" "$?" 0
expect_eq "after SIGTERM the file holds every event emitted" "$(wc -l <"$TMP/events")" "$emitted_now"
expect_eq "... those made before the signal included" \
	"$(jq -r 'select(.src == "198.18.0.130") | .src' "$TMP/events" | wc -l)" "$((emitted_now - emitted))"
expect_eq "no event lost in the ring" "$(ev_count lost)" 0
expect_eq "nothing on standard error" "$(cat "$TMP/events.err")" ""

# SIGINT drains it too, in the text form; a new source's first drop is always reported.
in_cli ip addr add 198.18.0.5/24 dev "$CLI_IF"
bg "$SRV" "$SLUICE" --pin-path "$PIN" events >"$TMP/events.txt" 2>"$TMP/events.err"
events_pid=${bg_pids[-1]}
# Stopped only once it has opened the ring and set its handlers of SIGINT (2) and SIGTERM (15).
check "the text reader is ready" wait_until 10 catches "$events_pid" 2 15
kill -STOP "$events_pid"
wait_until 5 is_stopped "$events_pid"
before=$(ev_count emitted)
udp_send 198.18.0.5 "$SRV_IP" 9999 1
wait_until 10 output_is 4000 rule_count "$SRV_IF" flood drop
kill -INT "$events_pid"
kill -CONT "$events_pid"
wait "$events_pid"
expect_eq "events exits 0 on SIGINT" "$?" 0
expect_eq "after SIGINT the text lines hold the events made before it" \
	"$(wc -l <"$TMP/events.txt") $(($(ev_count emitted) - before))" "1 1"
grep -q " drop ratelimit rule flood limit 0 udp 198.18.0.5:[0-9]* > $SRV_IP:9999 len 74$" "$TMP/events.txt" &&
	ok "a text event line names rule, source and destination" ||
	not_ok "a text event line names rule, source and destination: $(head -n 2 "$TMP/events.txt")"

# top -j: the source sending most is named first.
# The ring holds the events until top reads them, so top may start after the traffic.
top_has_sources() { jq -e 'select(.top | length > 0)' "$TMP/top" | grep -q .; }
bg "$SRV" "$SLUICE" --pin-path "$PIN" -j top --interval 1 >"$TMP/top" 2>"$TMP/top.err"
top_pid=${bg_pids[-1]}
udp_send 198.18.0.3 "$SRV_IP" 9999 2000
udp_send "$CLI_IP" "$SRV_IP" 9999 50
check "top -j prints a snapshot with sources" wait_until 10 top_has_sources
kill "$top_pid"
wait "$top_pid" 2>/dev/null
first=$(jq -r 'select(.top | length > 0) | .top[0].src' "$TMP/top" | head -n 1)
expect_eq "top -j names the flooding source first" "$first" 198.18.0.3
check "top -j snapshots are JSON" jq -e .drops_per_sec "$TMP/top"
# A rule's counter slot out of range in the policy map, as a bad write could leave it: the
# reader must not index past its table of rule names. Slot 65 is the first past the 65 slots
# (64 rules and "no rule"). rules[0].stat_slot: the rules are the last 64 x 216 bytes of the
# policy (sizes asserted in include/sluice.h), stat_slot is byte 49 of a rule.
pol_slot=$(sl -j status | jq -r .policy.policy_slot)
vsize=$(bpftool -j map show pinned "$PIN/sluice_policy" | jq -r .bytes_value)
off=$((vsize - 64 * 216 + 49))
bpftool -j map lookup pinned "$PIN/sluice_policy" key "$pol_slot" 0 0 0 |
	jq -r --argjson off "$off" '.value | .[$off] = "0x41" | join(" ")' >"$TMP/policy.hex"
check "the live rule's counter slot set to 65" \
	bpftool map update pinned "$PIN/sluice_policy" key "$pol_slot" 0 0 0 value $(cat "$TMP/policy.hex")
in_cli ip addr add 198.18.0.6/24 dev "$CLI_IF"
bg "$SRV" "$SLUICE" --pin-path "$PIN" -j events >"$TMP/events.bad" 2>"$TMP/events.err"
events_pid=${bg_pids[-1]}
wait_until 10 catches "$events_pid" 2 15
udp_send 198.18.0.6 "$SRV_IP" 9999 2
one_line() { [ "$(wc -l <"$TMP/events.bad")" -ge 1 ]; }
check "an event of that rule is printed" wait_until 10 one_line
kill -TERM "$events_pid"
wait "$events_pid"
expect_eq "the reader exits 0" "$?" 0
expect_eq "the event names no rule, its slot being out of range" \
	"$(jq -r 'select(.src == "198.18.0.6") | "\(.rule)|\(.reason)"' "$TMP/events.bad" | head -n 1)" "|ratelimit"
expect_eq "nothing on standard error" "$(cat "$TMP/events.err")" ""

check "detach" sl detach "$SRV_IF"
finish
