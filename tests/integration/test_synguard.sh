#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# SYN guards with real TCP: an HTTP server behind `guard tcp dport 8080 always` serves
# curl over IPv4 and IPv6 through cookie SYN-ACKs sent with XDP_TX (a second IPv4 one
# with a cookie from the raw helper, the listener looked up at most once a second); the connections
# have window scaling, SACK and timestamps, and both ends agree on the scale; a forged
# ACK is dropped and counted; a `syn` limit counts proven handshakes exactly; a resting
# guard leaves SYNs to the stack; tcp_syncookies 0 is refused.
. "$(dirname "$0")/lib.sh"
require_root
CLIENT="$(dirname "$0")/synguard_client.py"
PORT=8080
GEN="${BUILD:-build}/tests/tools/trafficgen"
case $GEN in /*) ;; *) GEN="$(cd "$(dirname "$0")/../.." && pwd)/$GEN" ;; esac
if [ ! -x "$GEN" ]; then
	echo "ok 1 - $TEST_NAME # SKIP $GEN not built"
	echo "1..1"
	exit 0
fi
setup_netns || { not_ok "set up namespaces"; finish; }
# Cookies from bpf_tcp_gen_syncookie before the SYN queue fills, and options in them.
in_srv sysctl -qw net.ipv4.tcp_syncookies=2 net.ipv4.tcp_timestamps=2
# A veth takes the frames its peer sends with XDP_TX only while it runs XDP itself: with
# GRO on instead, the server's end counts them sent (xdp_tx) but the client never sees them.
check "XDP_PASS on the client's veth" in_cli "$GEN" xdp "$CLI_IF" pass
check "attach natively" sl attach "$SRV_IF" --mode native

head -c 1048576 /dev/urandom >"$TMP/file"
bg "$SRV" python3 -m http.server --bind :: --directory "$TMP" "$PORT" >/dev/null 2>&1
listening() { in_srv ss -Hltn "sport = :$PORT" | grep -q .; }
wait_until 10 listening || not_ok "the HTTP server listens"

printf 'guard tcp dport %s always\n' "$PORT" >"$TMP/always.conf"
check "restore a guard" sl restore "$TMP/always.conf"
expect_eq "dump prints the guard back" "$(sl dump | grep '^guard')" "guard tcp dport $PORT always"
expect_eq "and dump -j" "$(sl -j dump | jq -c .guards)" "[\"guard tcp dport $PORT always\"]"
expect_eq "status shows the host's settings" \
	"$(sl -j status | jq -c '.syn_guard.host | [.tcp_syncookies, .tcp_timestamps, .options]')" \
	'[2,2,true]'

guard() { sl -j status | jq -r ".syn_guard.guards[0].$1"; }
# The sluice_guardlst map of the program on the server's veth (bpf/guard.h), and when CPU 0
# last looked up the listener for an IPv4 destination (here only $SRV_IP): curl runs on
# CPU 0, and a veth runs XDP on the sender's CPU.
lst_id=
for id in $(bpftool -j prog show id "$(in_srv ip -j link show "$SRV_IF" | jq -r '.[0].xdp.prog.id')" |
	jq -r '.map_ids[]'); do
	[ "$(bpftool -j map show id "$id" | jq -r .name)" = sluice_guardlst ] && lst_id=$id
done
looked_up() {
	bpftool -j map dump id "$lst_id" | jq -r '[.[].formatted.values[] | select(.cpu == 0) |
		.value | select(.family == 4 and .kind == 1) | .checked_ns] | max // 0'
}
fetch_file() {
	in_cli taskset -c 0 curl -sS -g --max-time 10 -o "$TMP/got" -w '%{http_code}' \
		"http://$1:$PORT/file" && cmp -s "$TMP/file" "$TMP/got"
}
check "IPv4: curl fetches 1 MiB through the guard" fetch_file "$SRV_IP"
first=$(looked_up)
check "IPv6: curl fetches 1 MiB through the guard" fetch_file "[$SRV_IP6]"
# Within the second after the lookup: a cookie from the raw helper, which the stack takes.
check "IPv4 again: curl fetches 1 MiB through the guard" fetch_file "$SRV_IP"
again=$(looked_up)
expect_eq "a listener lookup at most once a second" \
	"$([ "$first" != 0 ] && { [ "$again" = "$first" ] || [ $((again - first)) -ge 1000000000 ]; } && echo yes)" yes
expect_eq "three SYNs answered with cookies" "$(guard answered)" 3
expect_eq "three cookies validated" "$(guard validated)" 3
expect_eq "no SYN reached the stack" "$(guard passed)" 0
expect_eq "stats count the answers under verdict cookie" "$(verdict_count "$SRV_IF" cookie)" 3

# The options of a connection made from a cookie, seen from both ends (ss does not show
# timestamps and SACK on this kernel; TCP_INFO does).
printf 'guard tcp dport %s always\nguard tcp dport %s always\n' "$PORT" $((PORT + 1)) >"$TMP/two.conf"
check "restore two guards" sl restore "$TMP/two.conf"
bg "$SRV" python3 "$CLIENT" serve $((PORT + 1)) >"$TMP/srv.info"
listening1() { in_srv ss -Hltn "sport = :$((PORT + 1))" | grep -q .; }
wait_until 10 listening1 || diag "the second server does not listen"
mkfifo "$TMP/hold"
in_cli python3 "$CLIENT" hold "$SRV_IP" $((PORT + 1)) <"$TMP/hold" >"$TMP/cli.info" &
bg_pids+=($!)
exec 9>"$TMP/hold"
wait_until 5 grep -q ts= "$TMP/srv.info" || diag "no connection accepted"
wait_until 5 grep -q ts= "$TMP/cli.info" || diag "no connection made"
wscale=$(sl -j status | jq -r .syn_guard.host.wscale)
cli_rcv=$(grep -o 'rcv_wscale=[0-9]*' "$TMP/cli.info" | cut -d= -f2)
# The server's from the cookie: the client's scale, SACK and timestamps out of its TSval.
expect_eq "server: timestamps, SACK, both scales" "$(cat "$TMP/srv.info")" \
	"ts=1 sack=1 snd_wscale=${cli_rcv:-none} rcv_wscale=$wscale"
expect_eq "client: timestamps, SACK, sends with the server's scale" \
	"$(grep -o 'ts=[0-9] sack=[0-9] snd_wscale=[0-9]*' "$TMP/cli.info")" \
	"ts=1 sack=1 snd_wscale=$wscale"
expect_eq "the second guard answered it" "$(sl -j status | jq -r .syn_guard.guards[1].validated)" 1
exec 9>&-

# A spoofed flood, a new source every SYN: all answered in XDP, none reaches the stack
# (with tcp_syncookies 2 the stack would answer each that did with a cookie of its own).
stack_cookies() { in_srv nstat -az TcpExtSyncookiesSent | awk '$1 == "TcpExtSyncookiesSent" { print $2 }'; }
answered=$(guard answered)
cookies=$(stack_cookies)
srv_mac=$(in_srv ip -j link show "$SRV_IF" | jq -r ".[0].address")
check "send 10000 SYNs from 10000 sources" in_cli "$GEN" send --dev "$CLI_IF" --syn \
	--src 198.19.0.0 --keys 10000 --packets 10000 --dst "$SRV_IP" --dport "$PORT" \
	--dst-mac "$srv_mac" --cpu 0
expect_soon "all 10000 answered with cookies" $((answered + 10000)) guard answered
expect_eq "none reached the stack" "$(stack_cookies)" "$cookies"

# A made-up cookie dies in XDP.
refused=$(guard refused)
check "send a forged ACK" in_cli python3 "$CLIENT" forge "$CLI_IP" "$SRV_IP" "$PORT"
expect_soon "the forged ACK is refused" $((refused + 1)) guard refused
expect_soon "and dropped under reason guard" 1 drop_count "$SRV_IF" guard

# While engaged, a syn limit counts handshakes a source completed, not SYNs.
cat >"$TMP/limit.conf" <<POLICY
guard tcp dport $PORT always
rule add synlim tcp dport $PORT syn limit src/32 rate 1/h burst 5
POLICY
check "restore the guard with a syn limit" sl restore "$TMP/limit.conf"
expect_eq "10 fetches from one source: 5 served" \
	"$(in_cli python3 "$CLIENT" fetch "$SRV_IP" "$PORT" 10)" 5
expect_eq "the limit admitted exactly 5 handshakes" "$(rule_count "$SRV_IF" synlim pass)" 5

# Below its threshold a guard rests: the stack gets the SYN.
printf 'guard tcp dport %s above 1000000/s\n' "$PORT" >"$TMP/above.conf"
check "restore a guard above 1000000/s" sl restore "$TMP/above.conf"
expect_eq "a changed guard's counters start afresh" "$(guard answered)/$(guard validated)" 0/0
answered=$(guard answered)
passed=$(guard passed)
check "IPv4: curl through a resting guard" fetch_file "$SRV_IP"
expect_eq "a resting guard passes the SYN" "$(guard passed)" $((passed + 1))
expect_eq "and answers none" "$(guard answered)" "$answered"
expect_eq "it stays resting" "$(guard engaged)" false

# The exporter shows the same (on the server namespace's loopback: a fixed port is safe).
bg "$SRV" "$SLUICE" --pin-path "$PIN" exporter --collect 0 --listen 127.0.0.1:9751
scrape() { in_srv curl -sf --max-time 2 -o "$TMP/metrics" http://127.0.0.1:9751/metrics; }
wait_until 10 scrape || diag "no scrape"
series() { awk -v s="$1{port=\"$PORT\",dst=\"\"}" '$1 == s { print $2 }' "$TMP/metrics"; }
expect_eq "metrics: the guard rests, passed and answered as status says" \
	"$(series sluice_guard_engaged) $(series sluice_guard_syns_passed_total) $(series sluice_guard_syns_answered_total)" \
	"0 $(guard passed) $(guard answered)"

# Pressure: a flood from new sources for 0.4 s, three windows of 134 ms, engages a guard
# above 1000/s at the first SYN of a window after a full one.
printf 'guard tcp dport %s above 1000/s\n' "$PORT" >"$TMP/above1k.conf"
check "restore a guard above 1000/s" sl restore "$TMP/above1k.conf"
flood() {
	in_cli "$GEN" send --dev "$CLI_IF" --syn --src 198.19.0.0 --keys 65536 --seconds 0.4 \
		--dst "$SRV_IP" --dport "$PORT" --dst-mac "$srv_mac" --cpu 0 >/dev/null &&
		[ "$(guard engaged)" = true ]
}
check "a flood of SYNs above 1000/s engages it" wait_until 10 flood
expect_eq "engaged once" "$(guard engagements)" 1
bg "$SRV" "$SLUICE" --pin-path "$PIN" -j events >"$TMP/events" 2>/dev/null
engaged_event() {
	jq -e 'select(.reason == "guard" and .verdict == "cookie" and .dport == '"$PORT"' and .sampled >= 1000)' \
		"$TMP/events" >/dev/null
}
check "an event says it engaged, at 1000 SYN/s or more" wait_until 5 engaged_event

in_srv sysctl -qw net.ipv4.tcp_syncookies=0
expect_exit "restore refuses a guard where tcp_syncookies is 0" 1 sl restore "$TMP/always.conf"
expect_eq "and says why" "$(grep -c 'tcp_syncookies is 0' "$TMP/err")" 1
finish
