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
block add 198.18.0.7
block add 198.18.0.8
block add fd00:5::3
rule add flood udp dport 9999 limit global rate 1/h burst 1 action drop
rule add mon udp dport 7777 action monitor
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

# Text events: an IPv6 address with a port is bracketed; a blocklisted UDP packet's event
# carries its ports; times are UTC to the millisecond.
in_cli ip addr add 198.18.0.7/24 dev "$CLI_IF"
in_cli ip addr add 198.18.0.8/24 dev "$CLI_IF"
# fd00:5::3 is blocked, its neighbour solicitations too: the client is told the server's MAC.
srv_mac=$(in_srv ip -j link show dev "$SRV_IF" | jq -r ".[0].address")
in_cli ip -6 neigh replace "$SRV_IP6" lladdr "$srv_mac" dev "$CLI_IF" nud permanent
has_lines() { [ "$(wc -l <"$1")" -ge "$2" ]; }
bg "$SRV" "$SLUICE" --pin-path "$PIN" events >"$TMP/ev.txt" 2>"$TMP/events.err"
events_pid=${bg_pids[-1]}
check "the text reader is ready" wait_until 10 catches "$events_pid" 2 15
udp_send fd00:5::3 "$SRV_IP6" 5353 1
udp_send 198.18.0.7 "$SRV_IP" 5354 1
check "two events printed" wait_until 10 has_lines "$TMP/ev.txt" 2
kill -TERM "$events_pid"
wait "$events_pid"
stamp='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
expect_eq "an IPv6 event writes [address]:port" \
	"$(grep -cE "^$stamp $SRV_IF drop blocklist udp \[fd00:5::3\]:[0-9]+ > \[fd00:5::1\]:5353 len [0-9]+$" "$TMP/ev.txt")" 1
expect_eq "a blocklisted IPv4 UDP packet's event shows its ports" \
	"$(grep -cE "^$stamp $SRV_IF drop blocklist udp 198\.18\.0\.7:[0-9]+ > $SRV_IP:5354 len [0-9]+$" "$TMP/ev.txt")" 1
[ "$(wc -l <"$TMP/ev.txt")" = 2 ] || diag "events: $(cat "$TMP/ev.txt")"

# JSON events: the same, and the time is the wall clock's (within 2 s of it).
bg "$SRV" "$SLUICE" --pin-path "$PIN" -j events >"$TMP/ev.json" 2>"$TMP/events.err"
events_pid=${bg_pids[-1]}
check "the JSON reader is ready" wait_until 10 catches "$events_pid" 2 15
sent_ms=$(now_ms)
udp_send 198.18.0.8 "$SRV_IP" 5355 1
check "an event printed" wait_until 10 has_lines "$TMP/ev.json" 1
kill -TERM "$events_pid"
wait "$events_pid"
expect_eq "the blocklist event carries proto and ports" \
	"$(jq -r '[.reason, .proto, (.dport|tostring), (.sport > 0|tostring)] | join(" ")' "$TMP/ev.json")" \
	"blocklist udp 5355 true"
ev_time=$(jq -r .time "$TMP/ev.json")
expect_eq "the event time is UTC to the millisecond" \
	"$(echo "$ev_time" | grep -cE "^$stamp$")" 1
ev_ms=$(date -u -d "$ev_time" +%s%3N)
[ $((ev_ms - sent_ms)) -gt -2000 ] && [ $((ev_ms - sent_ms)) -lt 2000 ] &&
	ok "the event time is the wall-clock time of the drop" ||
	not_ok "the event time is the wall-clock time of the drop ($ev_time, sent at $sent_ms ms)"

# top counts only drops and bans, from the moment it starts: drops made before it (their
# events wait in the ring) and monitored packets are not in its snapshots.
in_cli ip addr add 198.18.0.9/24 dev "$CLI_IF"
in_cli ip addr add 198.18.0.10/24 dev "$CLI_IF"
flood_before=$(rule_count "$SRV_IF" flood drop)
emitted_before=$(ev_count emitted)
udp_send 198.18.0.9 "$SRV_IP" 9999 200
check "the drops before top are counted" \
	wait_until 10 output_is $((flood_before + 200)) rule_count "$SRV_IF" flood drop
[ "$(ev_count emitted)" -gt "$emitted_before" ] &&
	ok "their events wait in the ring (no reader runs)" ||
	not_ok "their events wait in the ring (no reader runs)"
bg "$SRV" "$SLUICE" --pin-path "$PIN" -j top --interval 500ms >"$TMP/top2" 2>"$TMP/top.err"
top_pid=${bg_pids[-1]}
check "top has its baseline" wait_until 10 catches "$top_pid" 2 15
mon_before=$(rule_count "$SRV_IF" mon monitor)
udp_send 198.18.0.3 "$SRV_IP" 7777 50
check "the monitored packets are counted" \
	wait_until 10 output_is $((mon_before + 50)) rule_count "$SRV_IF" mon monitor
n=$(wc -l <"$TMP/top2")
check "two more snapshots after them" wait_until 10 has_lines "$TMP/top2" $((n + 2))
expect_eq "no snapshot counts a drop (the monitored packets pass)" \
	"$(jq -s 'map(.drops_per_sec) | add' "$TMP/top2")" 0
expect_eq "no snapshot names the source dropped before top started" \
	"$(jq -r '.top[].src' "$TMP/top2" | grep -c 198.18.0.9)" 0
expect_eq "no snapshot names the monitored source" \
	"$(jq -r '.top[].src' "$TMP/top2" | grep -c 198.18.0.3)" 0
expect_eq "no snapshot names any source" "$(jq -r '.top[].src' "$TMP/top2" | wc -l)" 0
udp_send 198.18.0.10 "$SRV_IP" 9999 5
names_10() { jq -r '.top[].src' "$TMP/top2" | grep -qx 198.18.0.10; }
check "a drop made while top runs is named" wait_until 10 names_10
kill "$top_pid"
wait "$top_pid" 2>/dev/null
# The last snapshot, written when top is stopped, is cut short.
expect_eq "--interval 500ms: every full snapshot is about 0.5 s" \
	"$(jq -s '.[:-1] | all(.[]; .interval_sec >= 0.45 and .interval_sec < 0.9)' "$TMP/top2")" true
expect_eq "top -j numbers are short (3 decimals at most)" \
	"$(grep -cE '[0-9]\.[0-9]{4,}' "$TMP/top2")" 0

# Text top into a file: plain blocks, no terminal escapes.
top_blocks() { [ "$(grep -c '^sluice top' "$TMP/top.txt")" -ge 2 ]; }
bg "$SRV" "$SLUICE" --pin-path "$PIN" top --interval 100ms >"$TMP/top.txt" 2>"$TMP/top.err"
top_pid=${bg_pids[-1]}
check "text top writes two snapshots" wait_until 10 top_blocks
kill "$top_pid"
wait "$top_pid" 2>/dev/null
expect_eq "text top writes no escape codes when not on a terminal" "$(grep -c $'\033' "$TMP/top.txt")" 0
expect_eq "... its header names the interval" "$(grep -m1 -o 'every [0-9.]*s' "$TMP/top.txt")" "every 0.1s"

# stats --watch takes a duration, its -j rates are short; bare seconds still work.
two_docs() { [ "$(wc -l <"$1")" -ge 2 ]; }
bg "$SRV" "$SLUICE" --pin-path "$PIN" -j stats --watch 300ms >"$TMP/watch" 2>"$TMP/watch.err"
watch_pid=${bg_pids[-1]}
udp_send 198.18.0.10 "$SRV_IP" 9999 7
check "stats --watch 300ms writes two documents" wait_until 10 two_docs "$TMP/watch"
kill "$watch_pid"
wait "$watch_pid" 2>/dev/null
expect_eq "--watch 300ms: the interval is about 0.3 s" \
	"$(sed -n 2p "$TMP/watch" | jq '.interval_sec >= 0.25 and .interval_sec < 0.6')" true
expect_eq "stats -j rates are short (3 decimals at most)" \
	"$(grep -cE '[0-9]\.[0-9]{4,}' "$TMP/watch")" 0
check "stats -j --watch has rates" jq -e 'select(.interval_sec) | .interfaces[0].verdicts.drop.packets_per_sec' "$TMP/watch"
bg "$SRV" "$SLUICE" --pin-path "$PIN" -j stats --watch 1 >"$TMP/watch1" 2>"$TMP/watch.err"
watch_pid=${bg_pids[-1]}
check "stats --watch 1 (bare seconds) writes two documents" wait_until 10 two_docs "$TMP/watch1"
kill "$watch_pid"
wait "$watch_pid" 2>/dev/null

# The interval options: the same grammar, and errors that list every unit.
for o in "stats --watch 100ms to 1d" "top --interval 100ms to 1h"; do
	set -- $o
	expect_exit "$1 $2 2x3: exit 2" 2 sl "$1" "$2" 2x3
	expect_eq "... the error lists every unit" "$(cat "$TMP/err")" \
		"sluice: $1: $2: expected seconds or a duration (units d, h, m, s, ms, us or ns) from $3 to $5, got \"2x3\""
done
expect_exit "top --interval 50ms (under 100ms): exit 2" 2 sl top --interval 50ms
expect_exit "stats --watch 2d (over 1d): exit 2" 2 sl stats --watch 2d
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
