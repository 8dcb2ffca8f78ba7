#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The fleet: three hosts (lib.sh's pair and two more, each server namespace with its own
# sluice instance and a client namespace), an agent each in the root namespace (the agents
# reach the maps by pin path), a redis-server of the test's own on a unix socket.
. "$(dirname "$0")/lib.sh"
require_root

if ! command -v redis-server >/dev/null; then
	echo "ok 1 - $TEST_NAME # SKIP redis-server not installed (scripts/deps.sh installs it)"
	echo "1..1"
	exit 0
fi

# The hosts' management paths are what the test sets, not the session's.
export -n SSH_CONNECTION SLUICE_MANAGEMENT
FLEET="t$$"
SOCK="$TMP/redis.sock"
REDIS="unix:$SOCK"
SRV2="flt-srv2-$$" CLI2="flt-cli2-$$" SRV3="flt-srv3-$$" CLI3="flt-cli3-$$"
PIN2="$PIN-2" PIN3="$PIN-3"
declare -A agent_pid

fleet_cleanup() {
	local pid h
	if [ "$tap_fail" != 0 ]; then
		for h in 1 2 3; do
			[ -f "$TMP/agent$h.log" ] && tail -n 20 "$TMP/agent$h.log" | sed "s/^/# agent $h: /"
		done
	fi
	for pid in "${agent_pid[@]}"; do
		kill "$pid" 2>/dev/null
	done
	[ -s "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null
	ip netns del "$SRV2" 2>/dev/null
	ip netns del "$CLI2" 2>/dev/null
	ip netns del "$SRV3" 2>/dev/null
	ip netns del "$CLI3" 2>/dev/null
	rm -rf "$PIN2" "$PIN3"
	cleanup
}

setup_netns || exit 1
trap fleet_cleanup EXIT

# Hosts 2 and 3: the same addresses as host 1's pair, in namespaces of their own.
pair() {
	local srv=$1 cli=$2 n=$3
	ip netns add "$srv" && ip netns add "$cli" &&
		ip link add "fls$n$$" netns "$srv" type veth peer name "flc$n$$" netns "$cli" &&
		nsenter --net="/run/netns/$srv" sh -c "ip link set lo up &&
			ip addr add $SRV_IP/24 dev fls$n$$ && ip link set fls$n$$ up" &&
		nsenter --net="/run/netns/$cli" sh -c "ip link set lo up &&
			ip addr add $CLI_IP/24 dev flc$n$$ && ip addr add 198.18.0.3/24 dev flc$n$$ &&
			ip link set flc$n$$ up"
}
pair "$SRV2" "$CLI2" 2 || exit 1
pair "$SRV3" "$CLI3" 3 || exit 1

# on HOST COMMAND...: sluice on host 1, 2 or 3.
on() {
	local h=$1
	shift
	case $h in
	1) sl "$@" ;;
	2) nsenter --net="/run/netns/$SRV2" "$SLUICE" --pin-path "$PIN2" "$@" ;;
	3) nsenter --net="/run/netns/$SRV3" "$SLUICE" --pin-path "$PIN3" "$@" ;;
	esac
}
pin_of() { case $1 in 1) echo "$PIN" ;; 2) echo "$PIN2" ;; 3) echo "$PIN3" ;; esac; }
iface() { case $1 in 1) echo "$SRV_IF" ;; *) echo "fls$1$$" ;; esac; }
cli_ns() { case $1 in 1) echo "$CLI" ;; 2) echo "$CLI2" ;; 3) echo "$CLI3" ;; esac; }
send() { # send HOST SRC COUNT: UDP datagrams to port 5353 of HOST
	nsenter --net="/run/netns/$(cli_ns "$1")" python3 "$(dirname "$0")/udp_send.py" \
		"$2" "$SRV_IP" 5353 "$3"
}
# The fleet verbs take their Redis, fleet and origin from the environment.
export SLUICE_REDIS="$REDIS" SLUICE_FLEET="$FLEET" SLUICE_HOST=tester
fleet() { "$SLUICE" fleet "$@"; }
send_port() { # send_port HOST PORT COUNT: UDP datagrams from the first client
	nsenter --net="/run/netns/$(cli_ns "$1")" python3 "$(dirname "$0")/udp_send.py" \
		"$CLI_IP" "$SRV_IP" "$2" "$3"
}
drop_count_on() {
	on "$1" -j stats | jq -r --arg i "$(iface "$1")" \
		'.interfaces[] | select(.name == $i) | .drops.ban.packets'
}
rcli() { redis-cli -s "$SOCK" "$@"; }

redis_start() {
	redis-server --port 0 --unixsocket "$SOCK" --save '' --appendonly no --dir "$TMP" \
		--daemonize yes --pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log" &&
		wait_until 5 rcli ping
}

# agent_start HOST [VAR=VALUE...]: the agent of HOST, with VARs in its environment.
agent_start() {
	local h=$1
	shift
	mkdir -p "$TMP/state$h"
	env "$@" "$SLUICE" -v --pin-path "$(pin_of "$h")" agent --redis "$REDIS" --fleet "$FLEET" \
		--host "h$h" --state-dir "$TMP/state$h" \
		>>"$TMP/agent$h.log" 2>&1 &
	agent_pid[$h]=$!
}

agent_kill() {
	kill -KILL "${agent_pid[$1]}"
	{ wait "${agent_pid[$1]}"; } 2>/dev/null # without bash's "Killed" line
}

# The fields of host H in fleet status -j.
host_field() { fleet status -j | jq -r --arg h "h$1" ".hosts[] | select(.host == \$h) | .$2"; }
# Entries of LIST on host H for PREFIX, as KIND list prints them.
listed() { on "$1" -j "$2" list | jq -r --arg p "$3" '.[] | select(.prefix == $p) | .comment'; }
banned() { on "$1" -j ban list | jq -r --arg p "$2" '[.[] | select(.prefix == $p)] | length'; }
all_listed() { # all_listed LIST PREFIX COMMENT: on every host
	local h
	for h in 1 2 3; do
		[ "$(listed "$h" "$1" "$2")" = "$3" ] || return 1
	done
}
none_listed() {
	local h
	for h in 1 2 3; do
		[ -z "$(listed "$h" "$1" "$2")" ] || return 1
	done
}

check "redis-server on a unix socket" redis_start
for h in 1 2 3; do
	check "attach host $h" on "$h" attach "$(iface "$h")"
	# Hosts 2 and 3 have another rule first: a ban counts under the rule of its name.
	[ "$h" = 1 ] || on "$h" rule add first udp dport 9 action drop
	check "policy of host $h" on "$h" rule add dns udp dport 5353 limit src/32 rate 1/h burst 3 \
		action ban 1h
	agent_start "$h"
done
hosts_seen() { fleet status -j | jq '.hosts | length'; }
check "three agents report" wait_until 10 output_is 3 hosts_seen

# ---- fleet block add and del ----
check "fleet block add" fleet block add 203.0.113.0/24 ttl 1h comment scanners
check "the block reaches every host" wait_until 5 all_listed block 203.0.113.0/24 "@tester scanners"
expect_eq "it is in the set fleet" "$(on 2 -j block list | jq -c '.[] | select(.prefix == "203.0.113.0/24") | .sets')" '["fleet"]'
check "fleet block del" fleet block del 203.0.113.0/24
check "the deletion reaches every host" wait_until 5 none_listed block 203.0.113.0/24
expect_exit "fleet block add with Redis unreachable fails" 1 \
	"$SLUICE" fleet block add --redis "unix:$TMP/none.sock" 192.0.2.1
expect_eq "... saying why" "$(cat "$TMP/err")" \
	"sluice: fleet block add: connect to unix:$TMP/none.sock: No such file or directory"

# ---- a ban made by a rule on host 1 ----
send 1 "$CLI_IP" 4
check "host 1 bans the client" wait_until 5 output_is 1 banned 1 "$CLI_IP"
check "the ban reaches host 2" wait_until 5 output_is 1 banned 2 "$CLI_IP"
check "the ban reaches host 3" wait_until 5 output_is 1 banned 3 "$CLI_IP"
expect_eq "the ban carries its rule" "$(rcli xrange "sluice:{$FLEET}:decisions" - + | grep -c '^rule dns$')" 1
for h in 2 3; do
	expect_eq "host $h counts the ban under its own rule dns" \
		"$(on "$h" -j ban list | jq -r '.[0].rule')" dns
	send "$h" "$CLI_IP" 5
	expect_soon "host $h drops the client as banned" 5 drop_count_on "$h"
done

# ---- an agent killed and restarted resumes from its cursor ----
agent_kill 3
check "a block while agent 3 is down" fleet block add 198.51.100.0/24 ttl 1h
agent_start 3
check "agent 3 applies it after its restart" wait_until 5 output_is "@tester" listed 3 block 198.51.100.0/24
check "agent 3 reports again" wait_until 5 output_is 1 host_field 3 applied
expect_eq "it applied only that decision: it resumed from its cursor" "$(host_field 3 applied)" 1
expect_eq "it published nothing: the ban it had applied is not echoed" "$(host_field 3 published)" 0

# ---- Redis stopped: a ban made meanwhile waits in the outbox ----
failed=$(grep -c "agent: connect to $REDIS" "$TMP/agent2.log")
rcli shutdown save >/dev/null 2>&1
down_at=$(date +%s)
check "Redis is down" wait_until 5 sh -c "! redis-cli -s '$SOCK' ping"
send 2 198.18.0.3 4
check "host 2 bans the second client" wait_until 5 output_is 1 banned 2 198.18.0.3
check "agent 2 keeps the ban in its outbox" wait_until 5 output_is 1 sh -c \
	"wc -l < '$TMP/state2/agent-$FLEET.outbox'"
# Down until agent 2 has failed to connect 8 times: its backoff then reached its 5 s cap
# (about 7 s of outage in all).
check "agent 2 backs off while Redis is down" wait_until 30 sh -c \
	"[ \$(grep -c 'agent: connect to $REDIS' '$TMP/agent2.log') -ge $((failed + 8)) ]"
# An outage of 30 s in all, as a maintenance window or a partition would be: the
# agents keep enforcing, and their backoff stays at its cap.
outage=$((down_at + 30 - $(date +%s)))
[ "$outage" -gt 0 ] && sleep "$outage"
check "Redis restarts after 30 s" redis_start
check "the ban reaches host 1 after the restart" wait_until 15 output_is 1 banned 1 198.18.0.3
check "and host 3" wait_until 5 output_is 1 banned 3 198.18.0.3
check "the outbox is emptied" wait_until 5 output_is 0 sh -c \
	"wc -l < '$TMP/state2/agent-$FLEET.outbox'"
before=$(drop_count_on 1)
send 1 198.18.0.3 2
expect_soon "host 1 drops it as banned" $((before + 2)) drop_count_on 1

# ---- the stream trimmed past a stopped agent's cursor ----
agent_kill 3
for n in 10 11 12; do
	fleet block add "198.51.100.$n" ttl 1h comment "trimmed $n" >/dev/null
done
fleet block del 198.51.100.0/24 >/dev/null
rcli xtrim "sluice:{$FLEET}:decisions" maxlen 0 >/dev/null
agent_start 3
check "agent 3 resyncs from the snapshot" wait_until 5 all_listed block 198.51.100.12 "@tester trimmed 12"
expect_eq "its log says so" "$(grep -c 'resynced 5 decisions from the snapshot' "$TMP/agent3.log")" 1
for n in 10 11; do
	expect_eq "198.51.100.$n on host 3" "$(listed 3 block "198.51.100.$n")" "@tester trimmed $n"
done
expect_eq "the block deleted while it was away is gone" "$(listed 3 block 198.51.100.0/24)" ""
expect_eq "the ban of host 1 is there once" "$(banned 3 "$CLI_IP")" 1
check "a decision after the resync arrives" fleet block add 192.0.2.0/24 ttl 1h
check "... on every host" wait_until 5 all_listed block 192.0.2.0/24 "@tester"

# ---- status ----
has_latency() { [ "$(host_field "$1" latency_samples)" != null ]; }
for h in 1 2 3; do
	expect_eq "host $h has no outbox" "$(host_field "$h" outbox)" 0
	# The heartbeat after the last decision carries its latency.
	wait_until 5 has_latency "$h"
	p99=$(host_field "$h" latency_p99_ms)
	check "host $h propagation p99 ${p99} ms under 1 s" test "${p99:-9999}" -lt 1000
done
expect_eq "fleet status lists three hosts" "$(fleet status | grep -c '^h[123] ')" 3

# ---- fleet ban del ----
check "fleet ban del" fleet ban del "$CLI_IP"
for h in 1 2 3; do
	check "the ban is lifted on host $h" wait_until 5 output_is 0 banned "$h" "$CLI_IP"
done

# ---- fleet-wide limits: whole on each host, charged what the others admitted ----
passed_on() {
	on "$1" -j stats | jq -r --arg i "$(iface "$1")" --arg r "$2" \
		'.interfaces[] | select(.name == $i) | .rules[] | select(.name == $r) | .verdicts.pass.packets'
}
seen_on() { # packets of rule RULE on host H, passed or dropped
	on "$1" -j stats | jq -r --arg i "$(iface "$1")" --arg r "$2" \
		'.interfaces[] | select(.name == $i) | .rules[] | select(.name == $r) |
		.verdicts.pass.packets + .verdicts.drop.packets'
}
# The agent's latest word on its fleet-wide limits: exchanging usage or split.
exchanging() { grep 'fleet-wide limits: ' "$TMP/agent$1.log" | tail -n 1 | grep -q 'usage exchanged'; }
for h in 1 2 3; do
	check "agent $h exchanges the usage of fleet-wide limits" wait_until 5 exchanging "$h"
	on "$h" rule add fl udp dport 6000 limit src/32 rate 1/h burst 30 fleet action drop
	on "$h" rule add whole udp dport 6001 limit src/32 rate 1/h burst 30 action drop
done
expect_eq "dump keeps the word fleet" "$(on 1 dump | grep -c 'rule add fl .* burst 30 fleet action drop')" 1
# The client reaches host 1 first: it gets the whole burst there, and once host 1's
# agent has published it, none on the other hosts.
send_port 1 6000 40
expect_soon "host 1 admits the whole fleet-wide burst" 30 passed_on 1 fl
over_on() { # over_on HOST RULE: the client's key under RULE has no token left on HOST
	on "$1" -j limits "$2" | jq -e --arg s "$CLI_IP" \
		'.limits[0].top[] | select((.source | split("/")[0]) == $s) | .over' >/dev/null
}
for h in 2 3; do
	check "host $h is charged the burst host 1 admitted" wait_until 5 over_on "$h" fl
done
for h in 2 3; do
	send_port "$h" 6000 40
	send_port "$h" 6001 40
done
send_port 1 6001 40
for h in 1 2 3; do
	expect_soon "host $h saw its datagrams to the fleet-wide limit" 40 seen_on "$h" fl
	expect_soon "host $h admits the whole burst of the other" 30 passed_on "$h" whole
done
for h in 2 3; do
	expect_eq "host $h admits none of the fleet-wide burst" "$(passed_on "$h" fl)" 0
done

# Over time, rate 30/s burst 30 fleet: a client paced for 4 s is admitted rate x t +
# burst in all wherever it goes, within 10% plus one exchange interval of the rate
# (what the hosts admit before they hear of each other; 250 ms, 7.5 datagrams).
paced() { # paced HOST PORT COUNT RATE: prints the seconds from the first to the last
	nsenter --net="/run/netns/$(cli_ns "$1")" python3 -c '
import socket, sys, time
port, count, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[4], 0))
t0 = time.monotonic()
for i in range(count):
    delay = t0 + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    s.sendto(b"x" * 32, (sys.argv[5], port))
print("%.3f" % (time.monotonic() - t0))
' "$2" "$3" "$4" "$CLI_IP" "$SRV_IP"
}
fleet_rule() { # fleet_rule NAME PORT: rate 30/s burst 30 fleet on every host
	local h
	for h in 1 2 3; do
		on "$h" rule add "$1" udp dport "$2" limit src/32 rate 30/s burst 30 fleet action drop
	done
}
# fleet_run NAME PORT RATE1 RATE2 RATE3 [SHARE]: a paced client of 4 s at RATEn/s to
# host n (0: none) under rule NAME; sets admitted, and want: rate x t + burst, over
# SHARE (1 unless given).
fleet_run() {
	local name=$1 port=$2 h pids=() rates=("$3" "$4" "$5") seconds=0 share=${6:-1}
	for h in 1 2 3; do
		[ "${rates[h - 1]}" = 0 ] && continue
		paced "$h" "$port" $((4 * rates[h - 1])) "${rates[h - 1]}" >"$TMP/$name$h" &
		pids+=($!)
	done
	wait "${pids[@]}"
	admitted=0
	for h in 1 2 3; do
		[ "${rates[h - 1]}" = 0 ] && continue
		expect_soon "$name: host $h saw the $((4 * rates[h - 1])) paced datagrams" \
			$((4 * rates[h - 1])) seen_on "$h" "$name"
		admitted=$((admitted + $(passed_on "$h" "$name")))
		seconds=$(awk -v a="$seconds" -v b="$(cat "$TMP/$name$h")" 'BEGIN { print (b > a ? b : a) }')
	done
	want=$(awk -v t="$seconds" -v n="$share" 'BEGIN { printf "%d", (30 * t + 30) / n }')
	diag "fleet-wide rate 30/s burst 30$([ "$share" = 1 ] || echo ", split in $share"), $3/$4/$5 per s to hosts 1/2/3 for ${seconds} s: $admitted admitted, $want expected ($(awk -v a="$admitted" -v w="$want" 'BEGIN { printf "%+.1f%%", 100 * (a - w) / w }'))"
}
within10() { awk -v a="$admitted" -v w="$want" 'BEGIN { exit !(a >= 0.9 * w && a <= 1.1 * w) }'; }
within10_lag() {
	awk -v a="$admitted" -v w="$want" 'BEGIN { exit !(a >= 0.9 * w - 7.5 && a <= 1.1 * w + 7.5) }'
}
fleet_rule even 6002
fleet_run even 6002 40 40 40
check "spread evenly: within 10% of rate x t + burst, plus an exchange" within10_lag
fleet_rule one 6003
fleet_run one 6003 90 0 0
check "host 1 only: within 10% of rate x t + burst (a split would give a third)" within10
fleet_rule uneven 6004
fleet_run uneven 6004 63 18 9
check "spread 70/20/10: within 10% of rate x t + burst, plus an exchange" within10_lag

# The agents' CPU since they started, fleet-wide limits exchanged for the last part.
for h in 1 2 3; do
	diag "agent $h: $(awk -v hz="$(getconf CLK_TCK)" -v up="$(cut -d' ' -f1 /proc/uptime)" \
		'{ printf "%.1f%% of a core over %.0f s", 100 * ($14 + $15) / hz / (up - $22 / hz), up - $22 / hz }' \
		"/proc/${agent_pid[$h]}/stat")"
done

# Redis away: each host enforces its share, rate / 3 and burst / 3 (hosts last seen).
splits() { grep -c 'fleet-wide limits split among 3 hosts' "$TMP/agent$1.log"; }
wholes() { grep -c 'fleet-wide limits whole$' "$TMP/agent$1.log"; }
fleet_rule away 6005
declare -A splits_before wholes_before
for h in 1 2 3; do
	splits_before[$h]=$(splits "$h") wholes_before[$h]=$(wholes "$h")
done
rcli shutdown save >/dev/null 2>&1
for h in 1 2 3; do
	check "without Redis, agent $h splits the fleet-wide limits in three" wait_until 5 sh -c \
		"[ \$(grep -c 'fleet-wide limits split among 3 hosts' '$TMP/agent$h.log') -gt ${splits_before[$h]} ]"
done
fleet_run away 6005 90 0 0 3
check "host 1 alone gets rate/3 x t + burst/3, within 10%" within10
check "Redis restarts" redis_start
for h in 1 2 3; do
	check "agent $h enforces them whole again" wait_until 15 sh -c \
		"[ \$(grep -c 'fleet-wide limits whole\$' '$TMP/agent$h.log') -gt ${wholes_before[$h]} ]"
done

# ---- the fleet's policy ----
cat >"$TMP/v1.conf" <<'EOF2'
rule add dns udp dport 5353 limit src/32 rate 1/h burst 3 action ban 1h
rule add web tcp dport 80 limit src/32 rate 10/s action drop
EOF2
expect_eq "fleet push" "$(fleet push "$TMP/v1.conf")" "$TMP/v1.conf: fleet $FLEET policy version 1"
has_rule() { on "$1" -j rule list | jq -e --arg r "$2" '.[] | select(.name == $r)'; }
for h in 1 2 3; do
	check "host $h applies policy v1" wait_until 5 has_rule "$h" web
	check "... and reports v1" wait_until 5 output_is 1 host_field "$h" policy_version
done
expect_eq "the digest reported is the live one" "$(host_field 1 policy_digest)" \
	"$(on 1 -j status | jq -r .policy.digest)"
expect_eq "the bans stay" "$(banned 1 198.18.0.3)" 1
printf 'block add 192.0.2.0/24\n' >"$TMP/lists.conf"
expect_exit "a policy with list entries is refused" 2 "$SLUICE" fleet push "$TMP/lists.conf"
agent_kill 2
agent_start 2 SLUICE_MANAGEMENT=198.18.0.3
cat >"$TMP/v2.conf" <<'EOF2'
rule add dns udp dport 5353 limit src/32 rate 1/h burst 3 action ban 1h
rule add nossh tcp dport 22 action drop
EOF2
check "fleet push v2" fleet push "$TMP/v2.conf"
check "host 1 applies v2" wait_until 5 has_rule 1 nossh
check "host 3 applies v2" wait_until 5 has_rule 3 nossh
check "host 2 refuses it: it would cut off its management path" wait_until 5 output_is \
	"policy v2 refused: it would cut off this host's management path" host_field 2 error
expect_eq "host 2 keeps v1" "$(host_field 2 policy_version)" 1
expect_eq "... and its rules" "$(on 2 -j rule list | jq -r '[.[].name] | join(" ")')" "dns web"
check "a fleet block of host 2's management address" fleet block add 198.18.0.3 ttl 1h
check "host 1 applies it" wait_until 5 output_is "@tester" listed 1 block 198.18.0.3
check "host 3 applies it" wait_until 5 output_is "@tester" listed 3 block 198.18.0.3
check "host 2 refuses it" wait_until 5 output_is \
	"block 198.18.0.3 from tester refused: it would cut off the management path" host_field 2 error
expect_eq "... and does not list it" "$(listed 2 block 198.18.0.3)" ""
expect_eq "fleet status shows the versions" \
	"$(fleet status | awk '$1 ~ /^h[123]$/ { print $1, $8 }' | sort | tr '\n' ' ')" "h1 v2 h2 v1 h3 v2 "

# ---- the exporter's sluice_fleet_* metrics, from agent 1's status file ----
bg "$SRV" "$SLUICE" --pin-path "$PIN" exporter --listen "$SRV_IP:9741" --fleet-state "$TMP/state1"
metric() {
	in_srv curl -sf --max-time 1 "http://$SRV_IP:9741/metrics" |
		awk -v s="$1{fleet=\"$FLEET\"}" '$1 == s { print $2 }'
}
check "the exporter serves sluice_fleet_redis_up 1" wait_until 5 output_is 1 metric sluice_fleet_redis_up
check "sluice_fleet_hosts_seen 3" wait_until 5 output_is 3 metric sluice_fleet_hosts_seen
expect_eq "sluice_fleet_decisions_published_total: host 1's ban" \
	"$(metric sluice_fleet_decisions_published_total)" 1
expect_eq "sluice_fleet_decisions_queued" "$(metric sluice_fleet_decisions_queued)" 0
expect_eq "sluice_fleet_policy_version" "$(metric sluice_fleet_policy_version)" 2
rcli shutdown nosave >/dev/null 2>&1
check "with Redis gone, sluice_fleet_redis_up 0" wait_until 5 output_is 0 metric sluice_fleet_redis_up
finish
